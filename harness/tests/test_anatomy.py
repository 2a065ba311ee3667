"""The fault anatomy (anatomy.py, anatomy_phases.py): the phase table on recorded call chains,
perf's text, the join of samples with event windows, the shares, and what is written when the
machine cannot sample."""
import json
from pathlib import Path

import jsonschema
import pytest

import runs
from pageladder import anatomy, benchmark_json, compare, plot, report
from pageladder.anatomy_phases import OFF_CPU, PHASE_NAMES, classify

FIXTURES = Path(__file__).parent / "fixtures" / "anatomy"


def described_rows():
    """Every row as the binaries of the base fixture run described them."""
    return runs.base()["pageladder"]["rows"]
COMPARE_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "compare.schema.json"


def recorded_chains():
    cases = []
    for line in (FIXTURES / "recorded_chains.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        phase, chain = (part.strip() for part in line.split("|", 1))
        cases.append(pytest.param(phase, chain.split(";"), id=f"{phase}: {chain.split(';')[-1]}"))
    return cases


@pytest.mark.parametrize("phase, outermost_first", recorded_chains())
def test_the_table_gives_each_recorded_chain_its_phase(phase, outermost_first):
    assert classify(list(reversed(outermost_first)))[0] == phase


def test_a_chain_of_user_frames_only_is_user_space():
    assert classify([])[0] == "user space"


def test_every_phase_of_the_recorded_chains_is_in_the_table():
    assert {c.values[0] for c in recorded_chains()} <= set(PHASE_NAMES)


# --- perf's text -------------------------------------------------------------------------------

PERF_SCRIPT = """\
   4242/4242  100.000001000: 
\tffffffff82203249 _raw_spin_unlock_irqrestore
\tffffffff815a337b folio_batch_move_lru
\tffffffff821f525d exc_page_fault
\t    55d0c0de1234 main
\t    7fa0ae6f2ad7 [unknown]

   4242/4242  100.000002500: PERF_RECORD_SWITCH OUT preempt
   4242/4242  100.000003000: PERF_RECORD_SWITCH IN
   4242/4243  100.000004000: 
\t    55d0c0de1234 handler_loop

"""


def test_perf_script_gives_samples_with_kernel_frames_and_switches():
    records = list(anatomy.parse_perf_script(PERF_SCRIPT.splitlines(keepends=True)))
    assert records == [
        ("sample", 4242, 4242, 100_000_001_000,
         ["_raw_spin_unlock_irqrestore", "folio_batch_move_lru", "exc_page_fault"]),
        ("switch", 4242, 4242, 100_000_002_500, "out preempt"),
        ("switch", 4242, 4242, 100_000_003_000, "in"),
        ("sample", 4242, 4243, 100_000_004_000, []),
    ]


def test_windows_are_read_per_process_with_their_rung(tmp_path):
    (tmp_path / "windows.7.txt").write_text("row minor_fault\n10 20\n30 40\nrow thp_fault\n50 90\n")
    windows = anatomy.read_windows(tmp_path)[7]
    assert windows.rung_at(15) == "minor_fault" and windows.rung_at(25) is None
    assert windows.rung_at(90) == "thp_fault"


def test_a_window_file_in_another_form_is_refused(tmp_path):
    (tmp_path / "windows.7.txt").write_text("10 20\n")
    with pytest.raises(ValueError, match="windows.7.txt:1"):
        anatomy.read_windows(tmp_path)


# --- the join ----------------------------------------------------------------------------------

def windows_of(pid, *spans, rung="minor_fault"):
    w = anatomy.Windows()
    for start, end in spans:
        w.add(start, end, rung)
    return {pid: w.sort()}


def sample(t, frames=("clear_page_erms",), pid=1, tid=1):
    return ("sample", pid, tid, t, list(frames))


def test_a_sample_outside_every_window_is_dropped():
    windows = windows_of(1, (100, 200), (300, 400))
    records = [sample(150), sample(250), sample(350), sample(50), sample(150, pid=2, tid=2)]
    tallies, unclaimed = anatomy.join(records, windows)
    tally = tallies["minor_fault"]
    assert sum(tally.own_samples.values()) == 2      # at 150 and 350
    assert tally.dropped == 1                         # at 250: between the rung's windows
    assert unclaimed == 1                             # at 50: before anything was timed
    assert tally.events == 2 and tally.wall_ns == 200


def test_off_cpu_time_is_the_switched_out_part_of_the_windows():
    windows = windows_of(1, (100, 200), (300, 400))
    records = [("switch", 1, 1, 150, "out"), ("switch", 1, 1, 330, "in"),   # 50 + 30 inside windows
               ("switch", 1, 1, 500, "out"), ("switch", 1, 1, 600, "in"),   # outside every window
               ("switch", 1, 2, 110, "out"), ("switch", 1, 2, 190, "in")]   # another thread
    tallies, _ = anatomy.join(records, windows)
    assert tallies["minor_fault"].off_cpu_ns == 80


def test_each_sample_stands_for_its_threads_on_cpu_time_since_the_previous_one():
    """cpu-clock fires again a few µs after every switch-in: that sample stands for those µs,
    not for a whole period, nor for what ran before the switch-out (no sample stands for that)."""
    windows = windows_of(1, (0, 10_000_000))
    records = [sample(1_000_000, ("clear_page_erms",)),                      # first: one period
               sample(1_200_000, ("clear_page_erms",)),                      # 200 µs on-CPU
               ("switch", 1, 1, 1_250_000, "out"), ("switch", 1, 1, 1_900_000, "in"),
               sample(1_910_000, ("finish_task_switch.isra.0",)),            # 10 µs since the switch-in
               sample(2_110_000, ("clear_page_erms",))]                      # 200 µs
    tally = anatomy.join(records, windows, period_ns=200_000)[0]["minor_fault"]
    assert tally.own_weight == {"zeroing": 600_000, "scheduling": 10_000}
    assert tally.own_samples == {"zeroing": 3, "scheduling": 1}


def test_another_threads_on_cpu_time_inside_the_windows_comes_out_of_the_waiting():
    """The faulting thread waits 0-800 while the handler thread (tid 2) runs 100-400 of it."""
    windows = windows_of(1, (0, 1000))
    records = [("switch", 1, 1, 0, "out"), ("switch", 1, 2, 100, "in"),
               sample(300, ("userfaultfd_ioctl",), tid=2),
               ("switch", 1, 2, 400, "out"), ("switch", 1, 1, 800, "in")]
    tally = anatomy.join(records, windows, period_ns=200)[0]["minor_fault"]
    assert tally.other_on_cpu_ns == 300 and tally.off_cpu_ns == 800
    tally.own_samples["zeroing"], tally.own_weight["zeroing"] = anatomy.MIN_SAMPLES, 200
    shares = {p["phase"]: p["share"] for p in anatomy.phases_of(tally)}
    assert shares == pytest.approx({"zeroing": 0.2, "userfaultfd": 0.3, OFF_CPU: 0.5})


def test_preemption_is_told_apart_from_waiting():
    windows = windows_of(1, (0, 1000))
    records = [("switch", 1, 1, 100, "out"), ("switch", 1, 1, 300, "in"),
               ("switch", 1, 1, 500, "out preempt"), ("switch", 1, 1, 600, "in")]
    tally = anatomy.join(records, windows)[0]["minor_fault"]
    assert (tally.off_cpu_ns, tally.preempted_ns) == (300, 100)
    tally.own_samples["zeroing"] = anatomy.MIN_SAMPLES
    tally.own_weight["zeroing"] = 600
    shares = {p["phase"]: p["share"] for p in anatomy.phases_of(tally)}
    assert shares == pytest.approx({"zeroing": 0.7, OFF_CPU: 0.2, "preempted": 0.1})


def test_a_window_file_cut_short_loses_only_its_last_window(tmp_path):
    (tmp_path / "windows.7.txt").write_text("row minor_fault\n10 20\n30 4")
    windows = anatomy.read_windows(tmp_path)[7]
    assert windows.starts == [10] and windows.ends == [20]


def tally_with(own, other=None, wall_ns=1_000_000, off_cpu_ns=0, events=100, ns_per_sample=1250):
    tally = anatomy.RungTally()
    tally.events, tally.wall_ns, tally.off_cpu_ns = events, wall_ns, off_cpu_ns
    tally.own_samples.update(own)
    tally.other_samples.update(other or {})
    tally.own_weight.update({phase: n * ns_per_sample for phase, n in own.items()})
    tally.other_weight.update({phase: n * ns_per_sample for phase, n in (other or {}).items()})
    for phase, n in {**own, **(other or {})}.items():
        tally.functions[phase]["some_function"] += n
    return tally


def test_shares_add_up_to_one_with_off_cpu_and_other_threads():
    phases = anatomy.phases_of(tally_with({"zeroing": 300, "exception entry and exit": 100},
                                          {"userfaultfd": 50}, wall_ns=1_000_000, off_cpu_ns=500_000))
    assert sum(p["share"] for p in phases) == pytest.approx(1.0)
    shares = {p["phase"]: p["share"] for p in phases}
    # On-CPU half split 3:1; the handler thread's 50 samples, standing for 1250 ns each, take
    # 62.5 µs out of the off-CPU half.
    assert shares["zeroing"] == pytest.approx(0.375)
    assert shares["userfaultfd"] == pytest.approx(0.0625)
    assert shares[OFF_CPU] == pytest.approx(0.4375)
    assert [p["phase"] for p in phases] == [n for n in PHASE_NAMES if n in shares]


def test_too_few_samples_are_not_split():
    assert anatomy.phases_of(tally_with({"zeroing": anatomy.MIN_SAMPLES - 1})) is None


def test_an_invalid_anatomy_row_shows_no_phases(tmp_path):
    anatomy_pass = anatomy.Pass(tmp_path, True, anatomy.sampling_counter(False), described=described_rows())
    anatomy_pass.tallies["minor_fault"] = tally_with({"zeroing": 500})
    anatomy_pass.tallies["thp_fault"] = tally_with({"zeroing": 500})
    anatomy_pass.outcomes = {"minor_fault": (False, "2.000 minor faults per event, expected 0.99-1.01"),
                             "thp_fault": (True, None)}
    rungs = {r["id"]: r for r in anatomy_pass.result()["rungs"]}
    assert rungs["minor_fault"]["phases"] is None and "2.000 minor" in rungs["minor_fault"]["why_invalid"]
    assert rungs["thp_fault"]["phases"][0]["phase"] == "zeroing"


def test_gb_rows_decide_validity(tmp_path):
    path = tmp_path / "minor_fault_bench.json"
    path.write_text(json.dumps({"benchmarks": [
        {"run_name": "minor_fault/manual_time", "run_type": "iteration", "valid": 1, "label": ""},
        {"run_name": "thp_fault/manual_time", "run_type": "iteration", "valid": 0,
         "label": json.dumps({"invalid": ["not THP-backed"]})},
        {"run_name": "minor_fault_read_then_write/manual_time", "run_type": "iteration",
         "error_occurred": True, "error_message": "skipped: no THP"}]}))
    outcomes = anatomy._row_outcomes(*benchmark_json.load(path))
    assert outcomes["minor_fault"] == (True, None)
    assert outcomes["thp_fault"] == (False, "not THP-backed")
    assert outcomes["minor_fault_read_then_write"][0] is False


# --- what the machine allows -------------------------------------------------------------------

def test_without_root_and_a_strict_paranoid_level_it_is_skipped_with_the_reason():
    with pytest.raises(anatomy.AnatomySkipped, match="perf_event_paranoid <= 1 \\(it is 2\\)"):
        anatomy.check_prerequisites(is_root=False, paranoid=2)


def test_hidden_kernel_symbols_are_a_skip_not_a_chart_of_unknowns():
    with pytest.raises(anatomy.AnatomySkipped, match="kptr_restrict = 1"):
        anatomy.check_prerequisites(is_root=False, paranoid=1, kptr_restrict=1)


def test_without_perf_it_is_skipped_naming_the_package():
    with pytest.raises(anatomy.AnatomySkipped, match="linux-perf"):
        anatomy.check_prerequisites(perf="/nonexistent/perf", is_root=True, paranoid=2)


def test_the_pmu_samples_cycles_and_cpu_clock_says_what_it_costs():
    assert anatomy.sampling_counter(True)["event"] == "cycles"
    without = anatomy.sampling_counter(False)
    assert without["event"] == "cpu-clock" and "interrupts off" in without["note"]


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
    with pytest.raises(ValueError, match="not JSON"):
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
    assert "untested" in compare.render_markdown(result)
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
    assert "zeroing +" in compare.render_markdown(result)
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
    change = compare.anatomy_changes([a1, a2], [b1, b2], rows)[0]
    off_cpu = next(p for p in change["phases"] if p["phase"] == OFF_CPU)
    assert off_cpu["moved"] is False


def test_without_an_anatomy_on_one_side_there_is_no_anatomy_section():
    result = compare.compare([[runs.kernel_a()], [runs.identical_twin(1)]], [[recorded_anatomy()], [None]])
    assert result["comparisons"][0]["anatomy"] == []
    assert "fault anatomy" not in compare.render_markdown(result)


ANATOMY_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "anatomy.schema.json"


@pytest.mark.parametrize("fixture", [f"aa_identical_quick_run{k}.json" for k in range(1, 5)])
def test_recorded_anatomies_follow_the_schema(fixture):
    jsonschema.validate(json.loads((FIXTURES / fixture).read_text()), json.loads(ANATOMY_SCHEMA.read_text()))


def test_a_skipped_pass_and_a_split_rung_follow_the_schema(tmp_path):
    schema = json.loads(ANATOMY_SCHEMA.read_text())
    from pageladder import registry
    jsonschema.validate(anatomy.run_pass(registry.BENCHMARKS, runs.fake_build(tmp_path / "build"), tmp_path,
                                         quick=True, perf="/nonexistent/perf"), schema)
    anatomy_pass = anatomy.Pass(tmp_path, True, anatomy.sampling_counter(False), described=described_rows())
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
    change = compare.anatomy_changes(a, b, rows)[0]
    assert {p["phase"]: p["moved"] for p in change["phases"]} == {"zeroing": False, "copying": False}
    # The same difference with ten times the samples behind it is a move.
    precise_a = [synthetic_anatomy(base, 0.001)] * 2
    precise_b = [synthetic_anatomy(shifted, 0.001)] * 2
    change = compare.anatomy_changes(precise_a, precise_b, rows)[0]
    assert {p["phase"]: p["moved"] for p in change["phases"]} == {"zeroing": True, "copying": True}


def test_when_one_phase_grows_the_others_are_not_moved_though_their_shares_shrink():
    """Zeroing took 500 ns more; copying kept its 500 ns, its share falling from 50% to 33%."""
    a = [synthetic_anatomy({"rung_0": {"zeroing": 0.5, "copying": 0.5}}, 0.001)] * 2
    b = [synthetic_anatomy({"rung_0": {"zeroing": 2 / 3, "copying": 1 / 3}}, 0.001)] * 2
    rows = [{"id": "rung_0", "verdict": "slower", "a_median_ns": 1000.0, "b_median_ns": 1500.0,
             "ci_lo": 1.49, "ci_hi": 1.51}]
    phases = {p["phase"]: p for p in compare.anatomy_changes(a, b, rows)[0]["phases"]}
    assert phases["zeroing"]["moved"] and phases["zeroing"]["delta_ns"] == pytest.approx(500)
    assert phases["copying"]["moved"] is False


def test_sides_sampled_differently_are_not_tested():
    a = synthetic_anatomy({"rung_0": {"zeroing": 0.5, "copying": 0.5}}, 0.001)
    b = json.loads(json.dumps(a))
    a["method"], b["method"] = {"counter": "cpu-clock", "sampling": "-c 200000"}, {"counter": "cycles", "sampling": "-F 5000"}
    rows = [{"id": "rung_0", "verdict": "same", "a_median_ns": 1000.0, "b_median_ns": 1000.0}]
    change = compare.anatomy_changes([a, a], [b, b], rows)[0]
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


def test_real_perf_script_output_is_read():
    """An excerpt of `perf script -F pid,tid,time,ip,sym --ns --show-switch-events` (perf 6.1 on
    kernel 6.18): samples with kernel and user frames, user-only samples, switch records."""
    with open(FIXTURES / "perf_script_excerpt.txt") as f:
        records = list(anatomy.parse_perf_script(f))
    samples = [r for r in records if r[0] == "sample"]
    switches = [r for r in records if r[0] == "switch"]
    assert [s[4] for s in switches] == ["out preempt", "in"]
    assert switches[0][1:4] == (4226, 4226, 10116_508024101)
    assert samples[0][4][:2] == ["strnlen", "perf_event_mmap"]
    fault = next(s for s in samples if s[4] and s[4][0] == "clear_page_erms")
    assert fault[4][-1] == "asm_exc_page_fault"  # user frames (_int_malloc) are not kept
    assert classify(fault[4])[0] == "zeroing"
    assert sum(1 for s in samples if not s[4]) >= 3  # user-space samples (the clock reads)


def test_a_spread_known_from_two_runs_only_is_not_trusted_like_a_sampling_error():
    """Each side's two runs differ by 4 points, the sides by 10: z = 3.5, significant on a normal
    test, not on a t-test with the two degrees of freedom two runs per side give."""
    def side(*zeroing):
        return [synthetic_anatomy({"rung_0": {"zeroing": z, "copying": 1 - z}}, 0.001) for z in zeroing]
    rows = [{"id": "rung_0", "verdict": "same", "a_median_ns": 1000.0, "b_median_ns": 1000.0,
             "ci_lo": 0.999, "ci_hi": 1.001}]
    change = compare.anatomy_changes(side(0.50, 0.54), side(0.60, 0.64), rows)[0]
    assert {p["phase"]: p["moved"] for p in change["phases"]} == {"zeroing": False, "copying": False}
    # Four runs per side that agree as closely do show it.
    change = compare.anatomy_changes(side(0.50, 0.54, 0.50, 0.54), side(0.60, 0.64, 0.60, 0.64), rows)[0]
    assert {p["phase"]: p["moved"] for p in change["phases"]} == {"zeroing": True, "copying": True}
