"""benchmark_json: one rule for a row's verdict, the same in the ladder, the anatomy pass and the
smoke test."""
import importlib.util
import json
from pathlib import Path

import pytest

from pageladder import anatomy, benchmark_json, ladder

SPEC = {"id": "minor_fault", "label": "demand-zero fault", "family": "anonymous", "event": "one write",
        "claims": {"minor_faults_per_event": [0.99, 1.01], "major_faults_per_event": [0, 0],
                   "stlb_hits_per_event": [0.9, None]}}
NOT_VERIFIED = {"stlb_hits_per_event": "no PMU here"}


def _row(**changes):
    row = {"name": "minor_fault/manual_time", "run_name": "minor_fault/manual_time", "run_type": "iteration",
           "real_time": 250.0, "time_unit": "ns", "valid": 1, "events": 100,
           "minor_faults_per_event": 1.0, "major_faults_per_event": 0.0,
           "perf_minor_faults_per_event": 1.0, "perf_major_faults_per_event": 0.0,
           "label": json.dumps({"not_verified": NOT_VERIFIED})}
    row.update(changes)
    return row


def _check_smoke():
    path = Path(__file__).resolve().parents[2] / "tests" / "smoke" / "check_smoke.py"
    spec = importlib.util.spec_from_file_location("check_smoke", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_row_that_keeps_its_claims_has_no_problem_and_says_what_it_could_not_check():
    found = benchmark_json.verdict(_row(), SPEC)
    assert found.problems == []
    assert found.not_verified == NOT_VERIFIED


@pytest.mark.parametrize("changes, problem", [
    ({"valid": 0, "label": json.dumps({"invalid": ["the copy was not made"], "not_verified": NOT_VERIFIED})},
     "the copy was not made"),
    ({"valid": 0}, "the benchmark did not confirm what it measured"),
    ({"minor_faults_per_event": 1.2, "perf_minor_faults_per_event": 1.2},
     "harness check: 1.200 minor faults per event, expected 0.99-1.01"),
    ({"label": ""}, "harness check: the rows carry no stlb_hits_per_event to check the claim against"),
    ({"perf_minor_faults_per_event": 1.5},
     "harness check: getrusage counts 1.000 minor faults per event, perf 1.500"),
])
def test_each_problem_is_found_once_whoever_asks(changes, problem):
    row = _row(**changes)
    assert benchmark_json.verdict(row, SPEC).problems == [problem]
    # The anatomy pass calls the row invalid for the same reason ...
    valid, why = anatomy._row_outcomes({"pageladder_rows": json.dumps([SPEC])}, [row])["minor_fault"]
    assert (valid, why) == (False, problem)
    # ... the ladder too ...
    rung = ladder.build_rung(SPEC, [row], "minor_fault_bench.json")
    assert not rung["valid"] and problem.removeprefix("harness check: ") in rung["why_invalid"]
    # ... and the smoke test.
    assert _check_smoke().check([row], {"minor_fault": SPEC}) == [f"minor_fault/manual_time: invalid: {problem}"]


def test_the_smoke_test_finds_a_sweep_point_by_its_series():
    specs = {"tlb_sweep/4k": dict(SPEC, id="tlb_sweep/4k", claims={})}
    assert benchmark_json.spec_of("tlb_sweep/4k/pages:8/min_time:0.010", specs)["id"] == "tlb_sweep/4k"
    assert benchmark_json.spec_of("tlb_other/pages:8", specs) is None


def test_a_skip_is_told_from_a_failure():
    assert benchmark_json.skip_reason({"error_occurred": True, "error_message": "skipped: no THP"}) == "no THP"
    assert benchmark_json.skip_reason({"error_occurred": True, "error_message": "mmap failed"}) is None
    assert benchmark_json.skip_reason(_row()) is None


def test_a_file_cut_short_is_refused_with_its_name(tmp_path):
    cut = tmp_path / "minor_fault_bench.json"
    cut.write_text('{"context": {}, "benchmarks": [')
    with pytest.raises(ValueError, match="minor_fault_bench.json is not valid JSON"):
        benchmark_json.load(cut)


def test_a_smoke_run_whose_rows_all_skipped_is_a_skip_not_a_pass():
    smoke = _check_smoke()
    skipped = _row(error_occurred=True, error_message="skipped: needs root")
    assert smoke.nothing_measured([skipped, skipped])
    assert not smoke.nothing_measured([skipped, _row()])
    assert not smoke.nothing_measured([])
    assert smoke.check([skipped], {"minor_fault": SPEC}, allow_all_skipped=True) == []
    assert smoke.check([skipped], {"minor_fault": SPEC})  # without the flag: a failure


def test_a_claim_is_recomputed_from_the_raw_counts_and_a_summary_that_disagrees_is_invalid():
    agreeing = _row(minor_faults=1000, major_faults=0, events=1000)
    found = benchmark_json.verdict(agreeing, SPEC)
    assert found.problems == [] and set(found.rechecked) >= {"minor_faults_per_event", "major_faults_per_event"}
    # The binary's ratio says 1.000 per event, its own totals say 1.2: both figures, invalid.
    lying = _row(minor_faults=1200, major_faults=0, events=1000)
    problems = benchmark_json.verdict(lying, SPEC).problems
    assert any("the binary reports 1 minor faults per event, its raw counts (1200 faults in 1000 events) make 1.2"
               in p for p in problems), problems


def test_a_claim_judged_on_the_harnesss_own_figure_from_amount_and_over():
    spec = dict(SPEC, claims=dict(SPEC["claims"], folio_copies_per_write=[0, 1]))
    inside = _row(folio_copies_per_write=1.0, folio_copies_per_write_amount=8, folio_copies_per_write_over=8)
    assert "folio_copies_per_write" in benchmark_json.verdict(inside, spec).rechecked
    outside = _row(folio_copies_per_write=1.0, folio_copies_per_write_amount=16, folio_copies_per_write_over=8)
    assert any("its raw counts (16 over 8) make 2" in p for p in benchmark_json.verdict(outside, spec).problems)
