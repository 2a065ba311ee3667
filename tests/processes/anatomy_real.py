#!/usr/bin/env python3
"""As root with perf: `make bench QUICK=1 ONLY="minor_fault segv_fault" ANATOMY=1` splits both
fault rungs into kernel phases (anatomy.json, anatomy.svg, the report's section), and leaves no
perf data, window files or changed sampling rate behind. Exits 77 (skipped) elsewhere."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402
from common import fail  # noqa: E402


def main():
    source, build, python = sys.argv[1:4]
    if os.geteuid() != 0:
        return common.needs_root("kernel call chains")
    if shutil.which("perf") is None or subprocess.run(["perf", "--version"], capture_output=True).returncode:
        return common.skip("perf (linux-perf) does not run here")
    rate = Path("/proc/sys/kernel/perf_event_max_sample_rate").read_text()
    with tempfile.TemporaryDirectory(prefix="pageladder-anatomy-") as tmp:
        results = Path(tmp) / "results"
        r = common.make(source, build, python, results, "bench", "QUICK=1", "ONLY=minor_fault segv_fault",
                        "ANATOMY=1")
        if r.returncode != 0:
            fail(f"make bench ANATOMY=1 exited {r.returncode}", r.stdout)
        run_dir = (results / "latest").resolve()
        anatomy = json.loads((run_dir / "anatomy.json").read_text())
        rungs = {rung["id"]: rung for rung in anatomy["rungs"]}
        for rung_id, phase in (("minor_fault", "exception entry and exit"), ("segv_fault", "signal delivery")):
            rung = rungs.get(rung_id)
            if not rung or not rung["valid"] or not rung["phases"]:
                fail(f"{rung_id} was not split into phases: {rung}", r.stdout)
            shares = {p["phase"]: p["share"] for p in rung["phases"]}
            if abs(sum(shares.values()) - 1) > 1e-6:
                fail(f"{rung_id}'s shares add up to {sum(shares.values())}")
            if shares.get(phase, 0) < 0.05:
                fail(f"{rung_id} spent {shares.get(phase, 0):.1%} in '{phase}': {shares}")
        for name in ("anatomy.svg", "anatomy.png", "anatomy/minor_fault_bench.folded"):
            if not (run_dir / name).is_file():
                fail(f"{name} is missing")
        if "## Fault anatomy" not in (run_dir / "report.md").read_text():
            fail("report.md has no 'Fault anatomy' section")
        left = [p.name for p in (run_dir / "anatomy").iterdir() if p.suffix == ".work" or "windows." in p.name
                or p.name.endswith(".data")]
        if left:
            fail(f"left behind in anatomy/: {left}")
    if Path("/proc/sys/kernel/perf_event_max_sample_rate").read_text() != rate:
        fail("kernel.perf_event_max_sample_rate was left changed")
    print("ok: minor_fault and segv_fault split into phases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
