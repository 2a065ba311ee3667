import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def private_run_dir(tmp_path, monkeypatch):
    """Every test gets its own run lock and journal: a real `make bench` running meanwhile (or
    one killed earlier) must neither block a test nor be undone by one."""
    from pageladder import system
    run_dir = tmp_path / "pageladder-run"
    monkeypatch.setattr(system, "RUN_DIR", run_dir)
    monkeypatch.setenv("PAGELADDER_RUN_DIR", str(run_dir))
    monkeypatch.setenv("PAGELADDER_JOURNAL", str(run_dir / "journal.jsonl"))


def _first_minor_fault_repetition_invalid(data):
    """The binary said one repetition of minor_fault took two faults per event: invalid."""
    row = next(r for r in data["benchmarks"] if r["run_name"] == "minor_fault/manual_time")
    row.update(valid=0, minor_faults_per_event=2.0,
               label=json.dumps({"invalid": ["2.000 minor faults per event, expected 0.99-1.01"]}))
    return data


def _thp_skipped(data):
    """A machine with THP 'never': every thp_fault row skipped with the reason."""
    for r in data["benchmarks"]:
        if r["run_name"].startswith("thp_fault"):
            r.update(error_occurred=True, iterations=0, real_time=0, cpu_time=0,
                     error_message="skipped: transparent huge pages are 'never' "
                                   "(/sys/kernel/mm/transparent_hugepage/enabled)")
            for key in ("minor_faults_per_event", "major_faults_per_event", "valid", "label"):
                r.pop(key, None)
    data["benchmarks"] = [r for r in data["benchmarks"]
                          if not (r["run_name"].startswith("thp_fault") and r["run_type"] != "iteration")]
    return data


# Binary outputs: minor_fault_bench.json and tlb_bench.json are real (build/benchmarks/
# minor_fault_bench --benchmark_repetitions=5 --benchmark_min_time=0.01; tlb_bench
# --pageladder_tlb_max_pages=512 --pageladder_quick --benchmark_repetitions=3
# --benchmark_min_time=0.002, iteration rows only), trimmed to what the harness reads: of the
# context, the pageladder settings and row descriptions; of each row, all but Google Benchmark's
# per_family_instance_index, repetitions, repetition_index, threads and iterations; of the TLB
# sweep, the points at 8, 32, 91, 128 (the L1 dTLB knee) and 512 pages. The others are variants
# of the first.
VARIANTS = {
    "minor_fault_bench_invalid.json": ("minor_fault_bench.json", _first_minor_fault_repetition_invalid),
    "minor_fault_bench_thp_skipped.json": ("minor_fault_bench.json", _thp_skipped),
}


def fixture_json(name):
    if name in VARIANTS:
        base, change = VARIANTS[name]
        return change(fixture_json(base))
    return json.loads((FIXTURES / name).read_text())


def fixture_text(name):
    return json.dumps(fixture_json(name), indent=1)


def fixture_rows(name):
    return fixture_json(name)["benchmarks"]


def fixture_specs(name):
    """The fixture binary's descriptions of its rows (its context's pageladder_rows)."""
    from pageladder import benchmark_json
    return benchmark_json.row_specs(fixture_json(name)["context"])


def fixture_result(name, file="minor_fault_bench.json", rows=None):
    """What collect hands ladder.build for one binary: its file, rows and row descriptions."""
    return {"file": file, "rows": fixture_rows(name) if rows is None else rows, "specs": fixture_specs(name)}


@pytest.fixture
def run_dir(tmp_path):
    """A run folder holding the valid minor_fault fixture as the binary's output."""
    d = tmp_path / "20260101-000000-host-6.1.0"
    d.mkdir()
    shutil.copy(FIXTURES / "minor_fault_bench.json", d / "minor_fault_bench.json")
    return d


@pytest.fixture
def assembled(run_dir):
    from pageladder import collect

    outcomes = {"minor_fault": {"binary": "minor_fault_bench", "file": "minor_fault_bench.json",
                                "seconds": 1.0}}
    return collect.assemble(run_dir, outcomes, {"quick": True, "repetitions": 5}), run_dir
