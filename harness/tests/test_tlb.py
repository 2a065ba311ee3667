import shutil

from conftest import FIXTURES, fixture_result, fixture_rows

from pageladder import collect, ladder, plot, report, sweep


def tlb_run(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    shutil.copy(FIXTURES / "tlb_bench.json", d / "tlb_bench.json")
    return collect.assemble(d, {"tlb": {"binary": "tlb_bench", "file": "tlb_bench.json"}}, {}), d


def test_tlb_rungs_come_from_their_rows_with_zero_faults_and_the_reaches():
    rungs, skipped = ladder.build({"tlb": fixture_result("tlb_bench.json", "tlb_bench.json")})
    by_id = {r["id"]: r for r in rungs}
    measured_or_skipped = set(by_id) | {s.get("rung") for s in skipped}
    assert {"tlb_hit", "stlb_hit", "page_walk"} <= measured_or_skipped
    hit = by_id["tlb_hit"]
    assert hit["valid"], hit["why_invalid"]
    assert hit["counts"]["minor_faults_per_event"] == 0
    assert hit["p99_ns"] is None  # loads are timed in batches, not one by one
    assert hit["source"].startswith("tlb_bench.json:tlb_hit")
    assert "pages" in hit and "control_ns" in hit


def test_a_skipped_sweep_series_is_reported_once():
    result = fixture_result("tlb_bench.json", "tlb_bench.json")
    # The fixture machine has no hugetlb pool (one skipped row, three repetitions); add a THP
    # series skipped point by point, as a binary that registers every point would report it.
    skip = {"run_type": "iteration", "error_occurred": True, "error_message": "skipped: THP is 'never'"}
    result["rows"] = [r for r in result["rows"] if not r["run_name"].startswith("tlb_sweep/thp")]
    result["rows"] += [dict(skip, name=f"tlb_sweep/thp/pages:{n}", run_name=f"tlb_sweep/thp/pages:{n}")
                       for n in (8, 16, 32) for _ in range(3)]
    _, skipped = ladder.build({"tlb": result})
    assert [s["reason"] for s in skipped if "tlb_sweep/hugetlb" in s["reason"]] == [
        "tlb_sweep/hugetlb: no hugetlb pool: 0 free huge pages, 1 needed (vm.nr_hugepages)"]
    assert [s["reason"] for s in skipped if "tlb_sweep/thp" in s["reason"]] == ["tlb_sweep/thp: THP is 'never'"]


def test_sweep_series_are_sorted_by_pages_per_layout():
    curves = sweep.series(fixture_rows("tlb_bench.json"))
    assert {"4k", "control"} <= set(curves)
    pages = [p[0] for p in curves["4k"]]
    assert pages == sorted(pages) and pages[0] == 8
    assert all(lo <= med <= hi for _, med, lo, hi, _ in curves["4k"])


def test_sweep_chart_and_report_section(tmp_path):
    run, d = tlb_run(tmp_path)
    assert plot.draw_tlb_sweep(run, str(d / "tlb_sweep"))
    svg = (d / "tlb_sweep.svg").read_text()
    assert "4 KiB pages" in svg and "control" in svg
    text = report.render(run)
    assert "## TLB reach" in text and "L1 data TLB" in text


def test_no_sweep_rows_means_no_sweep_chart(assembled):
    run, d = assembled
    assert plot.draw_tlb_sweep(run, str(d / "tlb_sweep")) is False
