import json
import statistics

import pytest
from conftest import fixture_result, fixture_rows

from pageladder import benchmark_json, ladder, registry


def build(name, bench="minor_fault"):
    return ladder.build({bench: fixture_result(name)})


def by_id(rungs):
    return {r["id"]: r for r in rungs}


def test_valid_run_gives_every_rung_with_contract_fields():
    rungs, skipped = build("minor_fault_bench.json")
    assert skipped == []
    assert set(by_id(rungs)) == {"minor_fault", "minor_fault_read_then_write", "thp_fault"}
    minor = by_id(rungs)["minor_fault"]
    rows = [r for r in fixture_rows("minor_fault_bench.json")
            if r["run_name"] == "minor_fault/manual_time" and r["run_type"] == "iteration"]
    times = [r["real_time"] * 1e3 for r in rows]  # the fixture is in µs
    assert minor["median_ns"] == pytest.approx(statistics.median(times))
    assert minor["lo_ns"] == pytest.approx(min(times))
    assert minor["hi_ns"] == pytest.approx(max(times))
    assert minor["p99_ns"] == pytest.approx(statistics.median(r["p99_ns"] for r in rows))
    assert minor["samples"] == 5
    assert minor["valid"] is True and minor["why_invalid"] is None
    assert minor["counts"]["minor_faults_per_event"] == pytest.approx(1.0)
    assert minor["counts"]["major_faults_per_event"] == 0
    assert minor["source"] == "minor_fault_bench.json:minor_fault/manual_time"


def test_aggregate_rows_are_not_counted_as_repetitions():
    rungs, _ = build("minor_fault_bench.json")
    assert all(r["samples"] == 5 for r in rungs)


def test_one_invalid_repetition_makes_the_rung_invalid_with_the_reason():
    rungs, _ = build("minor_fault_bench_invalid.json")
    minor = by_id(rungs)["minor_fault"]
    assert minor["valid"] is False
    assert "2.000 minor faults per event" in minor["why_invalid"]
    assert by_id(rungs)["thp_fault"]["valid"] is True


def test_harness_rechecks_counts_even_when_the_binary_says_valid():
    rows = fixture_rows("minor_fault_bench.json")
    for r in rows:
        if r["run_name"] == "thp_fault/manual_time":
            r["minor_faults_per_event"] = 512.0  # split into base pages, binary fooled
    rungs, _ = ladder.build({"minor_fault": fixture_result("minor_fault_bench.json", "x.json", rows)})
    thp = by_id(rungs)["thp_fault"]
    assert thp["valid"] is False
    assert "harness check" in thp["why_invalid"] and "512.000 minor faults" in thp["why_invalid"]


def test_rows_without_fault_counts_are_invalid():
    rows = fixture_rows("minor_fault_bench.json")
    for r in rows:
        r.pop("minor_faults_per_event", None)
    rungs, _ = ladder.build({"minor_fault": fixture_result("minor_fault_bench.json", "x.json", rows)})
    assert all(not r["valid"] for r in rungs)


def test_skipped_row_goes_to_skipped_with_its_reason_never_into_the_ladder():
    rungs, skipped = build("minor_fault_bench_thp_skipped.json")
    assert "thp_fault" not in by_id(rungs)
    assert skipped == [{"rung": "thp_fault",
                        "reason": "transparent huge pages are 'never' (/sys/kernel/mm/transparent_hugepage/enabled)"}]


def test_a_failed_binary_skips_its_benchmark():
    rungs, skipped = ladder.build({"minor_fault": {"failed": "minor_fault_bench exited with status 139"}})
    assert rungs == []
    assert skipped == [{"benchmark": "minor_fault", "reason": "minor_fault_bench exited with status 139"}]


def test_a_missing_row_is_reported_not_invented():
    rows = [r for r in fixture_rows("minor_fault_bench.json") if not r["run_name"].startswith("thp_fault")]
    rungs, skipped = ladder.build({"minor_fault": fixture_result("minor_fault_bench.json", "x.json", rows)})
    assert "thp_fault" not in by_id(rungs)
    assert skipped[0]["rung"] == "thp_fault" and "no row" in skipped[0]["reason"]


def test_other_errors_are_reported_as_failures():
    rows = fixture_rows("minor_fault_bench_thp_skipped.json")
    for r in rows:
        if r["run_name"].startswith("thp_fault"):
            r["error_message"] = "mmap: Cannot allocate memory"
    _, skipped = ladder.build({"minor_fault": fixture_result("minor_fault_bench.json", "x.json", rows)})
    assert skipped[0]["reason"] == "the benchmark failed: mmap: Cannot allocate memory"


def test_notes_travel_with_the_rung():
    rungs, _ = build("minor_fault_bench.json")
    assert "zero page" in by_id(rungs)["minor_fault_read_then_write"]["note"]


def test_every_contract_rung_its_binaries_describe_has_a_place_on_the_ladder_and_the_headline():
    import runs
    from pageladder import rows
    contract_ids = {"tlb_hit", "stlb_hit", "page_walk", "minor_fault", "thp_fault", "cow_fault",
                    "file_fault_cached", "file_fault_major", "swap_in_zram", "swap_in_disk",
                    "swap_in_zswap", "segv_fault", "tlb_shootdown", "uffd_fault"}
    described = runs.base()["pageladder"]["rows"]
    present = contract_ids & set(described)
    assert len(present) >= 10
    assert present <= set(rows.ids_where(described, headline=True))
    assert all(described[i]["ladder_rank"] > 0 for i in present)
    ranks = [described[i]["ladder_rank"] for i in rows.ids_where(described)]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    # The contract's binaries, and any added beside them.
    assert {b.binary for b in registry.BENCHMARKS} >= {
        "tlb_bench", "minor_fault_bench", "cow_fault_bench", "file_fault_bench", "swap_in_bench",
        "segv_fault_bench", "tlb_shootdown_bench", "uffd_fault_bench"}


def test_time_suffixes_are_stripped_for_matching():
    assert benchmark_json.strip_time_suffix("minor_fault/manual_time") == "minor_fault"
    assert benchmark_json.strip_time_suffix("tlb_hit/min_time:0.050") == "tlb_hit"
    assert benchmark_json.strip_time_suffix("tlb_sweep/4k/pages:8") == "tlb_sweep/4k/pages:8"


def test_labels_families_and_claims_come_from_the_binary():
    rungs, _ = build("minor_fault_bench.json")
    minor = by_id(rungs)["minor_fault"]
    spec = fixture_result("minor_fault_bench.json")["specs"]["minor_fault"]
    assert minor["label"] == spec["label"] and minor["family"] == "anonymous"
    assert minor["claims"] == {"minor_faults_per_event": [0.99, 1.01], "major_faults_per_event": [0, 0],
                               "thp_backed_fraction": [0, 0]}


def test_the_harness_checks_any_claim_the_binary_describes_on_the_counter_it_names():
    result = fixture_result("minor_fault_bench.json", "x.json")
    result["specs"]["minor_fault"]["claims"]["swap_ins_per_event"] = [0.99, None]
    for r in result["rows"]:
        r["swap_ins_per_event"] = 0.5
    rungs, _ = ladder.build({"minor_fault": result})
    minor = by_id(rungs)["minor_fault"]
    assert not minor["valid"]
    assert "harness check: 0.500 swap ins per event, expected at least 0.99" in minor["why_invalid"]
    assert by_id(rungs)["thp_fault"]["valid"]
    for r in result["rows"]:
        r.pop("swap_ins_per_event")
    minor = by_id(ladder.build({"minor_fault": result})[0])["minor_fault"]
    assert "no swap_ins_per_event to check the claim against" in minor["why_invalid"]


def test_a_binary_that_does_not_describe_its_rows_is_refused_by_name():
    with pytest.raises(ValueError, match="does not describe its rows"):
        benchmark_json.row_specs({"executable": "old_bench"})


def test_getrusage_and_perf_counts_must_agree():
    result = fixture_result("minor_fault_bench.json", "x.json")
    for r in result["rows"]:
        if r["run_name"].startswith("minor_fault/"):
            r["perf_minor_faults_per_event"] = 0.5  # perf saw half the faults getrusage did
    minor = by_id(ladder.build({"minor_fault": result})[0])["minor_fault"]
    assert not minor["valid"]
    assert "getrusage counts 1.000 minor faults per event, perf 0.500" in minor["why_invalid"]
    assert by_id(ladder.build({"minor_fault": fixture_result("minor_fault_bench.json")})[0])["minor_fault"]["valid"]


def test_every_rung_carries_the_headline_and_the_per_event_statistics():
    rungs, _ = build("minor_fault_bench.json")
    minor = by_id(rungs)["minor_fault"]
    rows = [r for r in fixture_rows("minor_fault_bench.json")
            if r["run_name"] == "minor_fault/manual_time" and r["run_type"] == "iteration"]
    assert minor["mean_ns"] == pytest.approx(statistics.fmean(r["real_time"] * 1e3 for r in rows))
    assert minor["p50_ns"] == pytest.approx(statistics.median(r["p50_ns"] for r in rows))
    assert set(ladder.STATISTICS) >= {"median_ns", "mean_ns", "p50_ns", "p99_ns"}


def test_no_two_rows_of_the_suite_share_a_label():
    import runs
    labels = [spec["label"] for spec in runs.base()["pageladder"]["rows"].values()]
    assert len(labels) == len(set(labels)) and len(labels) >= 20
    assert not any(label.lower().startswith("the same") for label in labels)


def test_a_claim_the_machine_cannot_check_is_not_verified_never_passed_or_failed():
    result = fixture_result("minor_fault_bench.json", "x.json")
    result["specs"]["minor_fault"]["claims"]["stlb_hits_per_event"] = [0.9, None]
    for r in result["rows"]:
        if r["run_name"].startswith("minor_fault/"):
            r["label"] = json.dumps({"not_verified": {"stlb_hits_per_event": "no hardware counter for it here (no PMU)"}})
    minor = by_id(ladder.build({"minor_fault": result})[0])["minor_fault"]
    assert minor["valid"] and minor["not_verified"] == ["stlb_hits_per_event: no hardware counter for it here (no PMU)"]
    for r in result["rows"]:  # without the binary's word, a missing counter fails the claim
        r["label"] = ""
    minor = by_id(ladder.build({"minor_fault": result})[0])["minor_fault"]
    assert not minor["valid"] and "no stlb_hits_per_event" in minor["why_invalid"]


def test_a_device_swap_row_served_from_zswap_is_invalid():
    import runs
    run = runs.base()
    for r in runs.rows_of(run, "swap_in_disk"):
        r["zswap_ins_per_event"], r["swap_ins_per_event"] = 1.0, 0.0  # decompressed, not read
    disk = by_id(runs.rebuild(run)["pageladder"]["ladder"])["swap_in_disk"]
    assert not disk["valid"]
    assert "1.000 zswap ins per event, expected 0" in disk["why_invalid"]
    assert by_id(runs.base()["pageladder"]["ladder"])["swap_in_disk"]["valid"]


def test_one_repetition_that_breaks_a_claim_is_enough_even_when_the_median_holds():
    result = fixture_result("minor_fault_bench.json", "x.json")
    first = next(r for r in result["rows"] if r["run_name"] == "thp_fault/manual_time")
    first["minor_faults_per_event"] = 512.0  # one repetition fell back to base pages
    thp = by_id(ladder.build({"minor_fault": result})[0])["thp_fault"]
    assert not thp["valid"]
    assert "512.000 minor faults per event, expected 0.99-1.01 (in 1 of 5 repetitions)" in thp["why_invalid"]


def test_a_label_that_is_not_a_json_status_is_refused_with_a_clear_reason():
    result = fixture_result("minor_fault_bench.json", "x.json")
    for r in result["rows"]:
        if r["run_name"].startswith("minor_fault/"):
            r["label"] = "invalid: 2.000 minor faults per event"  # an older binary's text label
    rungs, skipped = ladder.build({"minor_fault": result})
    assert "minor_fault" not in by_id(rungs)
    assert any(s.get("rung") == "minor_fault" and "not its JSON status" in s["reason"] for s in skipped)


def test_a_rung_whose_faults_only_getrusage_counted_says_so():
    result = fixture_result("minor_fault_bench.json", "x.json")
    for r in result["rows"]:
        r.pop("perf_minor_faults_per_event", None)
        r.pop("perf_major_faults_per_event", None)
    minor = by_id(ladder.build({"minor_fault": result})[0])["minor_fault"]
    assert minor["valid"] and "fault counts from getrusage alone" in minor["note"]
    assert "getrusage alone" not in by_id(build("minor_fault_bench.json")[0])["minor_fault"].get("note", "")


def test_a_run_made_before_rows_said_their_place_keeps_its_saved_order_headline_and_families():
    """run.json of an older pageladder: its rows carry no ladder_rank, headline or family_rank."""
    import runs
    from pageladder import compare, rows
    run = runs.base()
    saved = [r["id"] for r in run["pageladder"]["ladder"]]
    for spec in run["pageladder"]["rows"].values():
        for key in ("ladder_rank", "headline", "anatomy", "family_rank", "swap_device", "min_kernel"):
            spec.pop(key, None)
    described = run["pageladder"]["rows"]
    assert rows.ordered(reversed(saved), described, stored=saved) == saved
    assert rows.headline(described, stored=saved) == saved
    families = [r["family"] for r in run["pageladder"]["ladder"]]
    assert rows.families(described, stored=families) == list(dict.fromkeys(families))
    assert [i for i in compare._ordered_rung_ids([run]) if i in saved] == saved


def test_a_rung_with_a_control_reports_itself_minus_the_control_with_an_interval():
    rows = fixture_rows("minor_fault_bench.json")
    specs = fixture_result("minor_fault_bench.json")["specs"]
    specs["minor_fault_read_then_write"] = dict(specs["minor_fault_read_then_write"], control="minor_fault")
    rungs, _ = ladder.build({"minor_fault": {"file": "minor_fault_bench.json", "rows": rows, "specs": specs}})
    entries = {r["id"]: r for r in rungs}
    d = entries["minor_fault_read_then_write"]["minus_control"]
    assert d["control"] == "minor_fault"
    assert d["ns"] == pytest.approx(entries["minor_fault_read_then_write"]["median_ns"] - entries["minor_fault"]["median_ns"])
    assert d["ci_lo_ns"] <= d["ns"] <= d["ci_hi_ns"]
    assert "minus_control" not in entries["minor_fault"]
