import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_rows(name):
    return json.loads((FIXTURES / name).read_text())["benchmarks"]


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
