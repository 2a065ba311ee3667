#!/usr/bin/env python3
"""End-to-end: `make bench QUICK=1 ONLY=minor_fault RESULTS=<tmp>` writes what docs/names.md and docs/run-folder.md say.

Also: an unknown ONLY name exits 2 listing the valid names, and an unwritable RESULTS fails
before anything runs.
"""
import json
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402
from common import fail  # noqa: E402

RUNG_FIELDS = {"id", "label", "median_ns", "lo_ns", "hi_ns", "p99_ns", "samples", "valid",
               "why_invalid", "counts", "source"}


def make(args, source, build, python, results):
    return common.make(source, build, python, results, *args)


def main():
    parser = common.checkout_arguments()
    a = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pageladder-e2e-") as tmp:
        results = Path(tmp) / "results"
        r = make(["bench", "QUICK=1", "ONLY=minor_fault"], a.source, a.build, a.python, results)
        if r.returncode != 0:
            fail(f"make bench exited {r.returncode}", r.stdout)
        latest = results / "latest"
        if not latest.is_symlink():
            fail("results/latest is not a symlink", r.stdout)
        run_dir = latest.resolve()
        if not re.fullmatch(r"\d{8}-\d{6}-.+-.+", run_dir.name):
            fail(f"run folder name {run_dir.name} is not YYYYMMDD-HHMMSS-<host>-<kernel>")
        for name in ("minor_fault_bench.json", "run.json", "ladder.svg", "ladder.png", "report.md"):
            if not (run_dir / name).is_file() or (run_dir / name).stat().st_size == 0:
                fail(f"{name} missing or empty in {run_dir}", r.stdout)
        run = json.loads((run_dir / "run.json").read_text())
        if not isinstance(run.get("context"), dict) or not isinstance(run.get("benchmarks"), list):
            fail("run.json lacks Google Benchmark's context/benchmarks")
        block = run["pageladder"]
        for key in ("schema_version", "machine", "kernel", "settings", "skipped", "ladder"):
            if key not in block:
                fail(f"pageladder block lacks {key}")
        ids = {r["id"]: r for r in block["ladder"]}
        skipped = {s.get("rung") for s in block["skipped"]}
        if "minor_fault" not in ids:
            fail(f"no minor_fault rung: ladder {list(ids)}, skipped {block['skipped']}")
        if "thp_fault" not in ids and "thp_fault" not in skipped:
            fail("thp_fault is neither measured nor skipped")
        for rung in block["ladder"]:
            missing = RUNG_FIELDS - set(rung)
            if missing:
                fail(f"rung {rung['id']} lacks {sorted(missing)}")
            if rung["samples"] % 2 != 1:
                fail(f"rung {rung['id']} has an even repetition count")
        minor = ids["minor_fault"]
        if not minor["valid"]:
            fail(f"minor_fault invalid: {minor['why_invalid']}")
        if not 0.99 <= minor["counts"]["minor_faults_per_event"] <= 1.01:
            fail(f"minor_fault counts {minor['counts']}")
        if not minor["lo_ns"] <= minor["median_ns"] <= minor["hi_ns"]:
            fail("minor_fault median outside its min-max")
        if "<svg" not in (run_dir / "ladder.svg").read_text():
            fail("ladder.svg is not an SVG")
        if "minor_fault" not in (run_dir / "report.md").read_text():
            fail("report.md does not show minor_fault")
        print(f"ok: {run_dir.name}: minor_fault {minor['median_ns']:.0f} ns")

        r = make(["bench", "QUICK=1", "ONLY=no_such_bench"], a.source, a.build, a.python, results)
        if r.returncode == 0 or "valid names" not in r.stdout or "minor_fault" not in r.stdout:
            fail("an unknown ONLY name was not refused with the list of valid names", r.stdout)
        print("ok: unknown ONLY name refused")

        locked = Path(tmp) / "locked"
        locked.mkdir()
        os.chmod(locked, 0o500)
        target = locked / "results" if os.geteuid() != 0 else Path("/proc/pageladder-results")
        r = make(["bench", "QUICK=1", "ONLY=minor_fault"], a.source, a.build, a.python, target)
        if r.returncode == 0 or "not writable" not in r.stdout or "[1/" in r.stdout:
            fail("an unwritable RESULTS was not refused before running", r.stdout)
        print("ok: unwritable RESULTS refused before running")
    print("3 passed, 0 failed")


if __name__ == "__main__":
    main()
