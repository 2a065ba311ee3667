#!/usr/bin/env python3
"""Regenerates the one checked-in base run, fixtures/runs/base/run.json, from a real run.json:
  /usr/bin/python3 harness/tests/make_fixture_runs.py results/<run>/run.json

Only the rungs' iteration rows are kept (no sweep points, no aggregates) with the fields the
harness reads (and cpu_time, which Google Benchmark's compare.py reads), so the file stays small;
without the sweep's rows, what was read off them (pageladder.derived) goes too. Every other
fixture run is a variant of this base, made in the test setup by runs.py, a few lines each.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pageladder import SCHEMA_VERSION, benchmark_json  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "runs" / "base"
KEEP = ("name", "run_name", "run_type", "real_time", "cpu_time", "time_unit", "label", "valid",
        "error_occurred", "error_message", "pageladder_invocation", "p99_ns", "minor_faults_per_event",
        "major_faults_per_event")


def _small(key, value):
    """Seven significant digits; of a row's status (its label), what the harness reads to
    decide: why it is invalid and what it could not verify (the notes are left out)."""
    if key == "label":
        status = {k: v for k, v in benchmark_json.row_status(value).items() if k in ("invalid", "not_verified")}
        return json.dumps(status) if status else ""
    return float(f"{value:.7g}") if isinstance(value, float) else value


def main(source):
    run = json.loads(Path(source).read_text())
    rungs = {i for i, spec in run["pageladder"]["rows"].items() if spec.get("rung", True)}
    claimed = {c for spec in run["pageladder"]["rows"].values()
               for c in (*spec.get("claims", {}), *spec.get("defined_by", []))}
    keep = (*KEEP, *sorted(claimed - set(KEEP)))
    run["benchmarks"] = [{k: _small(k, r[k]) for k in keep if k in r} for r in run["benchmarks"]
                         if r.get("run_type") == "iteration"
                         and benchmark_json.strip_time_suffix(r.get("run_name", r["name"])) in rungs]
    run["pageladder"]["rows"] = {i: spec for i, spec in run["pageladder"]["rows"].items() if i in rungs}
    block = run["pageladder"]
    block["schema_version"] = SCHEMA_VERSION
    block["run_id"] = "20260101-120000-lab1-6.18.0"
    block["kernel"]["release"] = block["fingerprint"]["kernel_release"] = "6.18.0"
    block.pop("demand_paging", None)
    block.pop("derived", None)
    block["skipped"] = [s for s in block["skipped"] if "rung" in s]
    block["ladder"] = []  # derived: runs.base() rebuilds it from the rows
    OUT.mkdir(parents=True, exist_ok=True)
    # One row per line: small diffs when it is regenerated, and readable.
    rows = ",\n".join(json.dumps(r) for r in run["benchmarks"])
    rest = json.dumps({k: v for k, v in run.items() if k != "benchmarks"}, indent=1)
    (OUT / "run.json").write_text(rest[:-2] + ',\n "benchmarks": [\n' + rows + "\n ]\n}\n")


if __name__ == "__main__":
    main(sys.argv[1])
