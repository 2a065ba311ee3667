"""The fault anatomy pass (anatomy.py): the validity of its rows, what is written when the
machine cannot sample, anatomy.json's schema, and the anatomy in the report, the chart and a
comparison. Its parts are tested in test_anatomy_prerequisites.py, test_anatomy_perf.py,
test_anatomy_join.py and test_anatomy_phases.py."""
import json
from pathlib import Path

import jsonschema
import pytest

import runs
from pageladder import anatomy, anatomy_prerequisites, benchmark_json, collect, compare, compare_anatomy, compare_render, ladder, plot, report
from pageladder.anatomy_phases import OFF_CPU
from test_anatomy_join import tally_with

FIXTURES = Path(__file__).parent / "fixtures" / "anatomy"
COMPARE_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "compare.schema.json"


def described_rows():
    """Every row as the binaries of the base fixture run described them."""
    return runs.base()["pageladder"]["rows"]


def test_an_invalid_anatomy_row_shows_no_phases(tmp_path):
    anatomy_pass = anatomy.Pass(tmp_path, True, anatomy_prerequisites.sampling_counter(False), described=described_rows())
    anatomy_pass.tallies["minor_fault"] = tally_with({"zeroing": 500})
    anatomy_pass.tallies["thp_fault"] = tally_with({"zeroing": 500})
    anatomy_pass.outcomes = {"minor_fault": (False, "2.000 minor faults per event, expected 0.99-1.01"),
                             "thp_fault": (True, None)}
    rungs = {r["id"]: r for r in anatomy_pass.result()["rungs"]}
    assert rungs["minor_fault"]["phases"] is None and "2.000 minor" in rungs["minor_fault"]["why_invalid"]
    assert rungs["thp_fault"]["phases"][0]["phase"] == "zeroing"


def test_gb_rows_decide_validity(tmp_path):
    path = tmp_path / "minor_fault_bench.json"
    described = [{"id": i, "label": i, "family": "anonymous", "event": "one write", "claims": {}}
                 for i in ("minor_fault", "thp_fault", "minor_fault_read_then_write")]
    path.write_text(json.dumps({"context": {"pageladder_rows": json.dumps(described)}, "benchmarks": [
        {"run_name": "minor_fault/manual_time", "run_type": "iteration", "valid": 1, "label": ""},
        {"run_name": "undescribed/manual_time", "run_type": "iteration", "valid": 1, "label": ""},
        {"run_name": "thp_fault/manual_time", "run_type": "iteration", "valid": 0,
         "label": json.dumps({"invalid": ["not THP-backed"]})},
        {"run_name": "minor_fault_read_then_write/manual_time", "run_type": "iteration",
         "error_occurred": True, "error_message": "skipped: no THP"}]}))
    outcomes = anatomy._row_outcomes(*benchmark_json.load(path))
    assert outcomes["minor_fault"] == (True, None)
    assert outcomes["thp_fault"] == (False, "not THP-backed")
    assert outcomes["minor_fault_read_then_write"][0] is False
    assert outcomes["undescribed"] == (False, "the binary does not describe this row: its claims cannot be checked")


def test_a_pass_that_cannot_sample_writes_why_and_no_rungs(tmp_path):
    from pageladder import registry
    written = anatomy.run_pass(registry.BENCHMARKS, runs.fake_build(tmp_path / "build"), tmp_path, quick=True,
                               perf="/nonexistent/perf")
    assert anatomy.load(tmp_path) == written
    why = written["method"]["skipped"]
    assert written["rungs"] == [] and ("linux-perf" in why or "perf_event_paranoid" in why)
    # The benchmarks whose binaries describe fault rows (the anatomy ones), each with the reason.
    with_faults = {spec["benchmark"] for spec in described_rows().values() if spec.get("anatomy")}
    assert with_faults >= {"minor_fault", "cow_fault", "swap_in"} and "tlb" not in with_faults
    assert {s["benchmark"] for s in written["skipped"]} == with_faults
    assert {s["reason"] for s in written["skipped"]} == {why}
    assert report.anatomy_section(written, runs.kernel_a()["pageladder"])[0].startswith("Not measured")


def test_an_unreadable_anatomy_is_refused_and_a_missing_one_is_none(tmp_path):
    assert anatomy.load(tmp_path) is None
    (tmp_path / anatomy.FILE).write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        anatomy.load(tmp_path)


# --- report, chart, compare --------------------------------------------------------------------


def recorded_anatomy():
    """The anatomy of a real QUICK=1 ANATOMY=1 run on the development VM."""
    return aa_run(1)


def test_the_report_lists_each_rungs_phases():
    text = "\n".join(report.anatomy_section(recorded_anatomy(), runs.kernel_a()["pageladder"]))
    assert "- `minor_fault` (" in text and "exception entry and exit" in text
    assert "× the ladder's" in text


def test_the_chart_is_drawn(tmp_path):
    assert plot.draw_anatomy(recorded_anatomy(), runs.kernel_a(), str(tmp_path / "anatomy"))
    assert "minor_fault" in (tmp_path / "anatomy.svg").read_text()


def test_each_phases_time_per_event_is_stored_once_the_ladder_is_known(run_dir):
    """The pass runs before the ladder is built: assembling run.json adds each phase's time per
    event (its share of the ladder's median) to anatomy.json, null where the rung is not valid
    on the ladder."""
    anatomy.write(run_dir, recorded_anatomy())
    run = collect.assemble(run_dir, {"minor_fault": {"binary": "minor_fault_bench",
                                                     "file": "minor_fault_bench.json"}}, {})
    stored = {r["id"]: r for r in anatomy.load(run_dir)["rungs"]}
    medians = ladder.valid_medians(run["pageladder"])
    assert "minor_fault" in medians and "cow_fault" not in medians
    assert [p["ns"] for p in stored["minor_fault"]["phases"]] == pytest.approx(
        [p["share"] * medians["minor_fault"] for p in stored["minor_fault"]["phases"]])
    assert all(p["ns"] is None for p in stored["cow_fault"]["phases"])
    jsonschema.validate(anatomy.load(run_dir), json.loads(ANATOMY_SCHEMA.read_text()))


def test_the_report_reads_the_stored_time_and_computes_it_only_for_an_older_file(run_dir):
    anatomy.write(run_dir, recorded_anatomy())
    run = collect.assemble(run_dir, {"minor_fault": {"binary": "minor_fault_bench",
                                                     "file": "minor_fault_bench.json"}}, {})
    stored, block = anatomy.load(run_dir), run["pageladder"]
    # An anatomy.json from before the times were stored reads the same.
    assert report.anatomy_section(stored, block) == report.anatomy_section(recorded_anatomy(), block)
    largest = max(stored["rungs"][0]["phases"], key=lambda p: p["share"])
    largest["ns"] = 123_456.0
    assert f"{largest['phase']} {largest['share']:.0%}, 123 µs" in "\n".join(report.anatomy_section(stored, block))


def test_a_side_of_one_run_compares_the_time_its_anatomy_stores(tmp_path):
    """compare's time per phase is a side's mean share of the side's median: for a side of one
    run, the time stored when that run was assembled."""
    a, b = runs.kernel_a(), runs.identical_twin(1)
    stored = []
    for k, run in enumerate((a, b), 1):
        folder = tmp_path / str(k)
        folder.mkdir()
        anatomy.write(folder, aa_run(k))
        stored.append(anatomy.add_phase_times(folder, ladder.valid_medians(run["pageladder"])))
    changes = compare.compare([[a], [b]], [[stored[0]], [stored[1]]])["comparisons"][0]["anatomy"]
    assert changes
    for change in changes:
        for side, key in ((stored[0], "a_ns"), (stored[1], "b_ns")):
            rung = next(r for r in side["rungs"] if r["id"] == change["id"])
            ns = {p["phase"]: p["ns"] for p in rung["phases"]}
            assert all(p[key] == ns[p["phase"]] for p in change["phases"] if p["phase"] in ns)


def with_phase_moved(data, rung_id, phase, to_phase, amount):
    data = json.loads(json.dumps(data))
    rung = next(r for r in data["rungs"] if r["id"] == rung_id)
    shares = {p["phase"]: p for p in rung["phases"]}
    shares[phase]["share"] -= amount
    shares[to_phase]["share"] += amount
    return data


def recorded_twin():
    """The anatomy of an identical run, taken right after recorded_anatomy's."""
    return aa_run(2)


def anatomy_of(result, rung_id):
    return next(c for c in result["comparisons"][0]["anatomy"] if c["id"] == rung_id)


def test_with_one_anatomy_per_side_nothing_is_called_moved():
    result = compare.compare([[runs.kernel_a()], [runs.identical_twin(1)]],
                             [[recorded_anatomy()], [recorded_twin()]])
    changes = result["comparisons"][0]["anatomy"]
    assert changes and all(p["moved"] is None for c in changes for p in c["phases"])
    assert "untested" in compare_render.render_markdown(result)
    jsonschema.validate(compare.to_json(result), json.loads(COMPARE_SCHEMA.read_text()))


def test_two_identical_runs_per_side_move_no_phase():
    """Both sides hold the same two real, identical runs: their spread is in each side's error."""
    pair = [recorded_anatomy(), recorded_twin()]
    result = compare.compare([[runs.kernel_a(), runs.identical_twin(2)],
                              [runs.identical_twin(1), runs.identical_twin(3)]], [pair, pair[::-1]])
    changes = result["comparisons"][0]["anatomy"]
    assert changes and not any(p["moved"] for c in changes for p in c["phases"])
    jsonschema.validate(compare.to_json(result), json.loads(COMPARE_SCHEMA.read_text()))


def test_a_tenth_of_the_time_moved_between_phases_is_shown_moved():
    a = recorded_anatomy()
    b = with_phase_moved(a, "minor_fault", "exception entry and exit", "zeroing", 0.10)
    result = compare.compare([[runs.kernel_a(), runs.identical_twin(2)],
                              [runs.identical_twin(1), runs.identical_twin(3)]], [[a, a], [b, b]])
    moved = {p["phase"] for p in anatomy_of(result, "minor_fault")["phases"] if p["moved"]}
    assert moved == {"exception entry and exit", "zeroing"}
    assert "zeroing +" in compare_render.render_markdown(result)
    assert not any(p["moved"] for p in anatomy_of(result, "cow_fault")["phases"])
    jsonschema.validate(compare.to_json(result), json.loads(COMPARE_SCHEMA.read_text()))


def test_the_spread_between_a_sides_runs_keeps_a_noisy_phase_from_moving():
    """swap_in_disk_cluster was off-CPU for 64% of one recorded run and 72% of an identical
    one: a side made of both cannot call a 7-point change of it a move (on sampling error
    alone it would: off-CPU has none)."""
    a1, a2 = aa_run(1), aa_run(3)
    b1 = with_phase_moved(a1, "swap_in_disk_cluster", OFF_CPU, "I/O submission and completion", 0.07)
    b2 = with_phase_moved(a2, "swap_in_disk_cluster", OFF_CPU, "I/O submission and completion", 0.07)
    # Medians known precisely: only the anatomies' own error stands between a change and a move.
    rows = [{"id": "swap_in_disk_cluster", "verdict": "same", "a_median_ns": 10_000.0,
             "b_median_ns": 10_000.0, "ci_lo": 0.999, "ci_hi": 1.001}]
    change = compare_anatomy.anatomy_changes([a1, a2], [b1, b2], rows)[0]
    off_cpu = next(p for p in change["phases"] if p["phase"] == OFF_CPU)
    assert off_cpu["moved"] is False


def test_without_an_anatomy_on_one_side_there_is_no_anatomy_section():
    result = compare.compare([[runs.kernel_a()], [runs.identical_twin(1)]], [[recorded_anatomy()], [None]])
    assert result["comparisons"][0]["anatomy"] == []
    assert "fault anatomy" not in compare_render.render_markdown(result)


ANATOMY_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "anatomy.schema.json"


@pytest.mark.parametrize("fixture", [f"aa_identical_quick_run{k}.json" for k in range(1, 5)])
def test_recorded_anatomies_follow_the_schema(fixture):
    jsonschema.validate(json.loads((FIXTURES / fixture).read_text()), json.loads(ANATOMY_SCHEMA.read_text()))


def test_a_skipped_pass_and_a_split_rung_follow_the_schema(tmp_path):
    schema = json.loads(ANATOMY_SCHEMA.read_text())
    from pageladder import registry
    jsonschema.validate(anatomy.run_pass(registry.BENCHMARKS, runs.fake_build(tmp_path / "build"), tmp_path,
                                         quick=True, perf="/nonexistent/perf"), schema)
    anatomy_pass = anatomy.Pass(tmp_path, True, anatomy_prerequisites.sampling_counter(False), described=described_rows())
    anatomy_pass.tallies["minor_fault"] = tally_with({"zeroing": 500}, off_cpu_ns=10)
    anatomy_pass.outcomes = {"minor_fault": (True, None)}
    jsonschema.validate(anatomy_pass.result(), schema)


def test_a_pass_over_benchmarks_without_fault_rungs_writes_nothing(tmp_path):
    from pageladder import registry
    assert anatomy.run_pass([registry.BENCHMARK_BY_NAME["tlb"]], runs.fake_build(tmp_path / "build"), tmp_path,
                            quick=True) is None
    assert anatomy.load(tmp_path) is None


def synthetic_anatomy(shares_by_rung, stderr=0.01):
    return {"rungs": [{"id": rung, "valid": True, "phases": [
        {"phase": phase, "share": share, "share_stderr": stderr} for phase, share in shares.items()]}
        for rung, shares in shares_by_rung.items()]}


def test_one_middling_difference_among_many_phases_is_not_called_moved():
    """z = 3 (p = 0.003) for one rung of twenty: significant alone, not after adjusting
    for every phase tested."""
    rung_ids = [f"rung_{k}" for k in range(20)]
    base = {r: {"zeroing": 0.5, "copying": 0.5} for r in rung_ids}
    shifted = {**base, "rung_0": {"zeroing": 0.53, "copying": 0.47}}
    a = [synthetic_anatomy(base), synthetic_anatomy(base)]
    b = [synthetic_anatomy(shifted), synthetic_anatomy(shifted)]
    rows = [{"id": r, "verdict": "same", "a_median_ns": 1000.0, "b_median_ns": 1000.0} for r in rung_ids]
    change = compare_anatomy.anatomy_changes(a, b, rows)[0]
    assert {p["phase"]: p["moved"] for p in change["phases"]} == {"zeroing": False, "copying": False}
    # The same difference with ten times the samples behind it is a move.
    precise_a = [synthetic_anatomy(base, 0.001)] * 2
    precise_b = [synthetic_anatomy(shifted, 0.001)] * 2
    change = compare_anatomy.anatomy_changes(precise_a, precise_b, rows)[0]
    assert {p["phase"]: p["moved"] for p in change["phases"]} == {"zeroing": True, "copying": True}


def test_when_one_phase_grows_the_others_are_not_moved_though_their_shares_shrink():
    """Zeroing took 500 ns more; copying kept its 500 ns, its share falling from 50% to 33%."""
    a = [synthetic_anatomy({"rung_0": {"zeroing": 0.5, "copying": 0.5}}, 0.001)] * 2
    b = [synthetic_anatomy({"rung_0": {"zeroing": 2 / 3, "copying": 1 / 3}}, 0.001)] * 2
    rows = [{"id": "rung_0", "verdict": "slower", "a_median_ns": 1000.0, "b_median_ns": 1500.0,
             "ci_lo": 1.49, "ci_hi": 1.51}]
    phases = {p["phase"]: p for p in compare_anatomy.anatomy_changes(a, b, rows)[0]["phases"]}
    assert phases["zeroing"]["moved"] and phases["zeroing"]["delta_ns"] == pytest.approx(500)
    assert phases["copying"]["moved"] is False


def test_sides_sampled_differently_are_not_tested():
    a = synthetic_anatomy({"rung_0": {"zeroing": 0.5, "copying": 0.5}}, 0.001)
    b = json.loads(json.dumps(a))
    a["method"], b["method"] = {"counter": "cpu-clock", "sampling": "-c 200000"}, {"counter": "cycles", "sampling": "-F 5000"}
    rows = [{"id": "rung_0", "verdict": "same", "a_median_ns": 1000.0, "b_median_ns": 1000.0}]
    change = compare_anatomy.anatomy_changes([a, a], [b, b], rows)[0]
    assert "sampled differently" in change["why_untested"]
    assert all(p["moved"] is None for p in change["phases"])


def aa_run(k):
    """The anatomies of four identical QUICK=1 ANATOMY=1 runs, taken one after the other (their
    rungs on the base fixture run's ladder, each phase with its first top function only)."""
    return json.loads((FIXTURES / f"aa_identical_quick_run{k}.json").read_text())


@pytest.mark.parametrize("a_runs, b_runs", [((1, 2), (3, 4)), ((1, 3), (2, 4)), ((1, 4), (2, 3)),
                                            ((3, 4), (1, 2))])
def test_a_real_a_a_of_two_runs_per_side_moves_no_phase(a_runs, b_runs):
    """Four identical runs, split into two sides every way."""
    result = compare.compare([[runs.kernel_a(), runs.identical_twin(2)],
                              [runs.identical_twin(1), runs.identical_twin(3)]],
                             [[aa_run(k) for k in a_runs], [aa_run(k) for k in b_runs]])
    changes = result["comparisons"][0]["anatomy"]
    assert len(changes) >= 10
    assert not [(c["id"], p["phase"]) for c in changes for p in c["phases"] if p["moved"]]
    assert all(p["detectable_ns"] > 0 for c in changes for p in c["phases"])


def test_a_spread_known_from_two_runs_only_is_not_trusted_like_a_sampling_error():
    """Each side's two runs differ by 4 points, the sides by 10: z = 3.5, significant on a normal
    test, not on a t-test with the two degrees of freedom two runs per side give."""
    def side(*zeroing):
        return [synthetic_anatomy({"rung_0": {"zeroing": z, "copying": 1 - z}}, 0.001) for z in zeroing]
    rows = [{"id": "rung_0", "verdict": "same", "a_median_ns": 1000.0, "b_median_ns": 1000.0,
             "ci_lo": 0.999, "ci_hi": 1.001}]
    change = compare_anatomy.anatomy_changes(side(0.50, 0.54), side(0.60, 0.64), rows)[0]
    assert {p["phase"]: p["moved"] for p in change["phases"]} == {"zeroing": False, "copying": False}
    # Four runs per side that agree as closely do show it.
    change = compare_anatomy.anatomy_changes(side(0.50, 0.54, 0.50, 0.54), side(0.60, 0.64, 0.60, 0.64), rows)[0]
    assert {p["phase"]: p["moved"] for p in change["phases"]} == {"zeroing": True, "copying": True}
