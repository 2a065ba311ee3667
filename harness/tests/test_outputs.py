"""report.md and the ladder chart."""
import hashlib

import runs
from conftest import fixture_text

from pageladder import collect, plot, report
from pageladder.units import format_ns


def test_report_has_the_ladder_table_and_the_machine(assembled):
    run, _ = assembled
    text = report.render(run)
    assert "| `minor_fault` | first write to a private anonymous 4 KiB page (demand-zero fault) |" in text
    assert "## Machine" in text and run["pageladder"]["machine"]["cpu_model"] in text
    assert "Timer overhead per timed event" in text and "% of the `minor_fault` median" in text
    assert "zero page" in text


def test_report_marks_invalid_and_lists_skipped(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "minor_fault_bench.json").write_text(fixture_text("minor_fault_bench_invalid.json"))
    run = collect.assemble(d, {"minor_fault": {"binary": "minor_fault_bench", "file": "minor_fault_bench.json"},
                               "tlb": {"binary": "tlb_bench", "failed": "not built"}}, {})
    text = report.render(run)
    assert "**NO**: 2.000 minor faults per event" in text
    assert "- `tlb`: not built" in text
    minor = next(r for r in run["pageladder"]["ladder"] if r["id"] == "minor_fault")
    line = next(l for l in text.splitlines() if l.startswith("| `minor_fault` |"))
    assert "| — | — | — |" in line
    assert format_ns(minor["median_ns"]) not in line and format_ns(minor["lo_ns"]) not in line


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ladder_chart_is_drawn_and_deterministic(assembled, tmp_path):
    run, run_dir = assembled
    plot.draw_ladder(run, str(tmp_path / "a"))
    plot.draw_ladder(run, str(tmp_path / "b"))
    svg = (tmp_path / "a.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert _digest(tmp_path / "a.svg") == _digest(tmp_path / "b.svg")
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for text in ("minor_fault", "thp_fault", "microseconds", run["pageladder"]["run_id"]):
        assert text in svg


def test_chart_shows_invalid_and_skipped_rungs_without_a_value(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "minor_fault_bench.json").write_text(fixture_text("minor_fault_bench_invalid.json"))
    run = collect.assemble(d, {"minor_fault": {"binary": "minor_fault_bench", "file": "minor_fault_bench.json"},
                               "swap_in": {"binary": "swap_in_bench", "failed": "needs root"}}, {})
    plot.draw_ladder(run, str(tmp_path / "c"))
    svg = (tmp_path / "c.svg").read_text()
    assert "INVALID (no time shown): 2.000 minor faults per event" in svg
    assert "skipped: needs root" in svg
    minor = next(r for r in run["pageladder"]["ladder"] if r["id"] == "minor_fault")
    assert format_ns(minor["median_ns"]) not in svg  # the valid rungs' times are drawn, not this one
    assert format_ns(next(r for r in run["pageladder"]["ladder"] if r["id"] == "thp_fault")["median_ns"]) in svg


def test_plot_command_redraws_from_run_json_alone(assembled):
    from pageladder import cli
    _, run_dir = assembled
    for name in ("ladder.svg", "ladder.png", "report.md"):
        (run_dir / name).unlink(missing_ok=True)
    assert cli.main(["plot", str(run_dir)]) == 0
    for name in ("ladder.svg", "ladder.png", "report.md"):
        assert (run_dir / name).stat().st_size > 0


def test_plot_command_refuses_a_corrupt_run(tmp_path, capsys):
    from pageladder import cli
    (tmp_path / "run.json").write_text("{")
    assert cli.main(["plot", str(tmp_path)]) == 2
    assert "run.json: not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "ladder.svg").exists()


def test_the_report_never_prints_an_invalid_rungs_time_anywhere(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "minor_fault_bench.json").write_text(fixture_text("minor_fault_bench_invalid.json"))
    run = collect.assemble(d, {"minor_fault": {"binary": "minor_fault_bench", "file": "minor_fault_bench.json"}},
                           {"quick": True})
    run["pageladder"]["settings"]["timer_overhead_ns"] = 12.0
    minor = next(r for r in run["pageladder"]["ladder"] if r["id"] == "minor_fault")
    text = report.render(run)
    for key in ("median_ns", "lo_ns", "hi_ns"):
        assert format_ns(minor[key]) not in text, key
    assert "% of the `minor_fault` median" not in text  # the overhead line needs a valid rung


def test_the_skip_summary_says_what_to_do_where_something_can_be_done():
    block = {"skipped": [{"benchmark": "tlb", "reason": "tlb_sweep/hugetlb: no hugetlb pool: 0 free huge pages, 1 needed"},
                         {"rung": "swap_in_disk", "reason": "needs root (it creates a memory cgroup)"},
                         {"rung": "x", "reason": "something nobody can fix"}]}
    lines = report.skip_summary(block)
    assert "sysctl vm.nr_hugepages=N" in lines[0] and "run `make bench` as root" in lines[1]
    assert lines[2] == "- `x`: something nobody can fix"


def test_two_charts_the_headline_ladder_and_every_row_by_family(tmp_path):
    import runs
    run = runs.kernel_a()
    plot.draw_ladder(run, str(tmp_path / "ladder"))
    plot.draw_ladder_all(run, str(tmp_path / "all"))
    headline, every = (tmp_path / "ladder.svg").read_text(), (tmp_path / "all.svg").read_text()
    assert "minor_fault" in headline and "cow_fault_reuse" not in headline  # headline rungs only
    for rung in run["pageladder"]["ladder"]:
        assert rung["id"] in every
    assert "copy-on-write" in every and "anonymous memory" in every  # the family legend
    first = (tmp_path / "all.svg").read_bytes()
    plot.draw_ladder_all(run, str(tmp_path / "all"))
    assert (tmp_path / "all.svg").read_bytes() == first


def test_the_report_gives_each_rungs_noise_and_names_the_rungs_too_noisy_for_compare():
    run = runs.base()
    steady = next(r for r in run["pageladder"]["ladder"] if r["id"] == "minor_fault")
    noisy = next(r for r in run["pageladder"]["ladder"] if r["id"] == "cow_fault")
    steady["invocation_medians_ns"] = [1000.0, 1001.0, 999.0, 1000.5, 999.5]
    noisy["invocation_medians_ns"] = [1000.0, 1400.0, 800.0, 1200.0, 900.0]
    text = report.render(run)
    assert "## Noise" in text and "| `minor_fault` | 5 |" in text
    assert [i for i, _ in report.too_noisy(run["pageladder"])].count("cow_fault") == 1
    assert "minor_fault" not in [i for i, _ in report.too_noisy(run["pageladder"])]
    assert "Too noisy to see a 5% change" in text and "`cow_fault`" in text.split("Too noisy", 1)[1]


def test_a_docs_page_gets_every_label_whole_and_the_headline_ladder_only_headline_rows(tmp_path):
    run = runs.base()
    block = run["pageladder"]
    minor = next(r for r in block["ladder"] if r["id"] == "minor_fault")
    minor["label"] = ("first write to a private anonymous 4 KiB page, the demand-zero fault, told at "
                      "length so that no chart can show it on two short lines: its last word is endmark")
    block["skipped"].append({"benchmark": "tlb", "reason": "tlb_sweep/hugetlb: no hugetlb pool: 0 free huge "
                             "pages, 1 needed (vm.nr_hugepages) and a reason long enough to wrap twice over"})
    plot.draw_ladder(run, str(tmp_path / "ladder"))
    plot.draw_ladder_all(run, str(tmp_path / "ladder-all"))
    headline, every = (tmp_path / "ladder.svg").read_text(), (tmp_path / "ladder-all.svg").read_text()
    assert "…" not in headline and "…" not in every
    assert "endmark" in headline
    assert "tlb_sweep/hugetlb" not in headline and "tlb_sweep/hugetlb" in every


def _scaling_rung(rung_id, threads, p50, valid=True):
    return {"id": rung_id, "valid": valid, "threads": threads, "p50_ns": p50, "p99_ns": 4 * p50,
            "faults_per_s_per_thread": 1e9 / p50}


def test_scaling_curves_start_at_the_lone_thread_and_follow_the_thread_count():
    block = {"ladder": [_scaling_rung("fault_scaling_shared_vma_4", 4, 3000.0),
                        _scaling_rung("fault_scaling_1", 1, 1000.0),
                        _scaling_rung("fault_scaling_shared_vma_2", 2, 2000.0),
                        _scaling_rung("fault_scaling_processes_2", 2, 1100.0, valid=False),
                        {"id": "minor_fault", "valid": True}]}
    curves = plot.scaling_points(block)
    assert [p[0] for p in curves["shared_vma"]] == [1, 2, 4]
    assert [p[1] for p in curves["shared_vma"]] == [1000.0, 2000.0, 3000.0]
    assert [(p[0], p[4]) for p in curves["processes"]] == [(1, True), (2, False)]
    assert "own_vma" not in curves
    assert plot.scaling_points({"ladder": [{"id": "minor_fault", "valid": True}]}) == {}


def test_a_run_without_scaling_rungs_draws_no_scaling_chart(tmp_path):
    assert plot.draw_scaling(runs.base(), str(tmp_path / "scaling")) is False
    assert not (tmp_path / "scaling.svg").exists()


def test_the_console_shows_the_headline_and_each_invalid_rung_in_a_few_lines():
    from pageladder import report, rows as row_descriptions
    from runs import kernel_a, minor_fault_invalid
    for run in (kernel_a(), minor_fault_invalid()):
        block = run["pageladder"]
        lines = report.console_summary(block, "results/x/report.md")
        headline = row_descriptions.headline(block.get("rows") or {}, [r["id"] for r in block["ladder"]])
        assert len(lines) <= 40 and len(lines) < len(block["ladder"])
        assert all(any(line.strip().startswith(h + " ") for line in lines) for h in headline)
        invalid = [r["id"] for r in block["ladder"] if not r["valid"]]
        assert [line for line in lines if line.startswith("Invalid:")] == \
            [f"Invalid: `{i}`: {next(r['why_invalid'] for r in block['ladder'] if r['id'] == i)}" for i in invalid]
        assert lines[-1].endswith("results/x/report.md")


# --- the rung tables of the docs, from the binaries' descriptions (rows_doc.py) -------------------


def _described(rows):
    return {r["id"]: dict({"rung": True, "family": "anonymous", "time_unit": "us", "needs": ""}, **r) for r in rows}


def test_the_docs_table_is_the_binarys_rows_with_a_series_as_one_line(monkeypatch):
    from pageladder import registry, rows_doc
    bench = registry.BENCHMARK_BY_NAME["mthp"]
    described = _described([
        {"id": "mthp_fault_16k", "label": "first write to a fresh 16 KiB chunk", "series": "mthp_fault_<size>k",
         "series_label": "first write to a fresh <size> KiB chunk", "needs": "multi-size THP (6.8)"},
        {"id": "mthp_fault_32k", "label": "first write to a fresh 32 KiB chunk", "series": "mthp_fault_<size>k",
         "series_label": "first write to a fresh <size> KiB chunk", "needs": "multi-size THP (6.8)"},
        {"id": "tlb_sweep", "label": "a sweep point", "rung": False},
        {"id": "plain", "label": "a | pipe in a label"},
    ])
    lines = rows_doc.table(bench, described)
    assert lines[0] == "### `mthp` (`mthp_bench`)"
    body = [line for line in lines if line.startswith("| `")]
    assert body == ["| `mthp_fault_<size>k` | first write to a fresh <size> KiB chunk | anonymous | us | multi-size THP (6.8) |",
                    "| `plain` | a \\| pipe in a label | anonymous | us | — |"]


def test_a_doc_whose_tables_differ_from_the_binaries_fails_the_check_with_the_difference(tmp_path):
    from pageladder import rows_doc
    generated = f"{rows_doc.BEGIN}\n\n| `a` | one |\n{rows_doc.END}\n"
    doc = tmp_path / "rows.md"
    doc.write_text(f"# Rows\n\n{generated}\nafter\n")
    assert rows_doc.check(doc, generated) == (True, "")
    stale = generated.replace("one", "two")
    same, diff = rows_doc.check(doc, stale)
    assert not same and "-| `a` | one |" in diff and "+| `a` | two |" in diff
    rows_doc.rewrite(doc, stale)
    assert doc.read_text() == f"# Rows\n\n{stale}\nafter\n"
    (tmp_path / "bare.md").write_text("no markers")
    assert not rows_doc.check(tmp_path / "bare.md", generated)[0]
