#!/usr/bin/env python3
"""Regenerates the checked-in fixture runs under fixtures/runs/ from one real run.json:
  python3 harness/tests/make_fixture_runs.py results/<run>/run.json
Sweep rows and aggregates are dropped to keep them small; each variant changes one thing."""
import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pageladder import ladder, registry  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "runs"


def rebuild(run):
    """Recomputes the ladder from the (edited) rows, as collect.assemble would."""
    by_benchmark = {}
    for row in run["benchmarks"]:
        rung = registry.rung_for_row(row.get("run_name", row["name"]))
        if rung:
            by_benchmark.setdefault(rung.benchmark, []).append(row)
    files = {b.name: b.binary + ".json" for b in registry.BENCHMARKS}
    rungs, skipped = ladder.build({name: {"file": files[name], "rows": rows} for name, rows in by_benchmark.items()})
    run["pageladder"]["ladder"] = rungs
    run["pageladder"]["skipped"] = skipped + [s for s in run["pageladder"]["skipped"] if "rung" not in s]


def save(name, run, text=None):
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "run.json").write_text(text if text is not None else json.dumps(run, indent=1) + "\n")


def rows_of(run, rung_id):
    return [r for r in run["benchmarks"] if registry.strip_time_suffix(r.get("run_name", "")) == rung_id]


def main(source):
    base = json.loads(Path(source).read_text())
    base["benchmarks"] = [r for r in base["benchmarks"] if r.get("run_type") == "iteration"
                          and registry.rung_for_row(r.get("run_name", r["name"]))]
    base["pageladder"]["run_id"] = "20260101-120000-lab1-6.18.0"
    base["pageladder"]["kernel"]["release"] = "6.18.0"
    base["pageladder"]["fingerprint"]["kernel_release"] = "6.18.0"
    base["pageladder"].pop("demand_paging", None)
    rebuild(base)
    save("kernel_a", base)

    b = copy.deepcopy(base)
    b["pageladder"]["run_id"] = "20260102-120000-lab1-6.19.0"
    b["pageladder"]["kernel"]["release"] = b["pageladder"]["fingerprint"]["kernel_release"] = "6.19.0"
    for r in rows_of(b, "minor_fault"):
        r["real_time"] *= 1.2
    rebuild(b)
    save("kernel_b", b)

    m = copy.deepcopy(base)
    m["pageladder"]["run_id"] = "20260103-120000-lab2-6.18.0"
    for where in (m["pageladder"]["machine"], m["pageladder"]["fingerprint"]):
        where["cpu_model"] = "Intel(R) Xeon(R) Platinum 8480+"
        where["microcode"] = "0x2b000590"
    save("machine_b", m)

    inv = copy.deepcopy(base)
    inv["pageladder"]["run_id"] = "20260104-120000-lab1-6.18.0"
    for r in rows_of(inv, "minor_fault"):
        r["valid"] = 0
        r["minor_faults_per_event"] = 2.0
        r["label"] = "invalid: 2.000 minor faults per event, expected 0.99-1.01"
    rebuild(inv)
    save("invalid_rung", inv)

    miss = copy.deepcopy(base)
    miss["pageladder"]["run_id"] = "20260105-120000-lab1-6.18.0"
    miss["benchmarks"] = [r for r in miss["benchmarks"] if r not in rows_of(miss, "cow_fault")]
    rebuild(miss)
    save("missing_rung", miss)

    save("corrupt", None, json.dumps(base)[:5000])
    wrong = copy.deepcopy(base)
    wrong["pageladder"]["schema_version"] = 99
    save("other_schema", wrong)


if __name__ == "__main__":
    main(sys.argv[1])
