"""anatomy_join.py: the events' windows read back, the join of samples with them, and the
shares of each rung's phases."""
import pytest

from pageladder import anatomy_join
from pageladder.anatomy_phases import OFF_CPU, PHASE_NAMES


def test_windows_are_read_per_process_with_their_rung(tmp_path):
    (tmp_path / "windows.7.txt").write_text("row minor_fault\n10 20\n30 40\nrow thp_fault\n50 90\n")
    windows = anatomy_join.read_windows(tmp_path)[7]
    assert windows.rung_at(15) == "minor_fault" and windows.rung_at(25) is None
    assert windows.rung_at(90) == "thp_fault"


def test_a_window_file_in_another_form_is_refused(tmp_path):
    (tmp_path / "windows.7.txt").write_text("10 20\n")
    with pytest.raises(ValueError, match="windows.7.txt:1"):
        anatomy_join.read_windows(tmp_path)


def test_a_window_file_cut_short_loses_only_its_last_window(tmp_path):
    (tmp_path / "windows.7.txt").write_text("row minor_fault\n10 20\n30 4")
    windows = anatomy_join.read_windows(tmp_path)[7]
    assert windows.starts == [10] and windows.ends == [20]


# --- the join ----------------------------------------------------------------------------------


def windows_of(pid, *spans, rung="minor_fault"):
    w = anatomy_join.Windows()
    for start, end in spans:
        w.add(start, end, rung)
    return {pid: w.sort()}


def sample(t, frames=("clear_page_erms",), pid=1, tid=1):
    return ("sample", pid, tid, t, list(frames))


def test_a_sample_outside_every_window_is_dropped():
    windows = windows_of(1, (100, 200), (300, 400))
    records = [sample(150), sample(250), sample(350), sample(50), sample(150, pid=2, tid=2)]
    tallies, unclaimed = anatomy_join.join(records, windows)
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
    tallies, _ = anatomy_join.join(records, windows)
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
    tally = anatomy_join.join(records, windows, period_ns=200_000)[0]["minor_fault"]
    assert tally.own_weight == {"zeroing": 600_000, "scheduling": 10_000}
    assert tally.own_samples == {"zeroing": 3, "scheduling": 1}


def test_another_threads_on_cpu_time_inside_the_windows_comes_out_of_the_waiting():
    """The faulting thread waits 0-800 while the handler thread (tid 2) runs 100-400 of it."""
    windows = windows_of(1, (0, 1000))
    records = [("switch", 1, 1, 0, "out"), ("switch", 1, 2, 100, "in"),
               sample(300, ("userfaultfd_ioctl",), tid=2),
               ("switch", 1, 2, 400, "out"), ("switch", 1, 1, 800, "in")]
    tally = anatomy_join.join(records, windows, period_ns=200)[0]["minor_fault"]
    assert tally.other_on_cpu_ns == 300 and tally.off_cpu_ns == 800
    tally.own_samples["zeroing"], tally.own_weight["zeroing"] = anatomy_join.MIN_SAMPLES, 200
    shares = {p["phase"]: p["share"] for p in anatomy_join.phases_of(tally)}
    assert shares == pytest.approx({"zeroing": 0.2, "userfaultfd": 0.3, OFF_CPU: 0.5})


def test_preemption_is_told_apart_from_waiting():
    windows = windows_of(1, (0, 1000))
    records = [("switch", 1, 1, 100, "out"), ("switch", 1, 1, 300, "in"),
               ("switch", 1, 1, 500, "out preempt"), ("switch", 1, 1, 600, "in")]
    tally = anatomy_join.join(records, windows)[0]["minor_fault"]
    assert (tally.off_cpu_ns, tally.preempted_ns) == (300, 100)
    tally.own_samples["zeroing"] = anatomy_join.MIN_SAMPLES
    tally.own_weight["zeroing"] = 600
    shares = {p["phase"]: p["share"] for p in anatomy_join.phases_of(tally)}
    assert shares == pytest.approx({"zeroing": 0.7, OFF_CPU: 0.2, "preempted": 0.1})


def tally_with(own, other=None, wall_ns=1_000_000, off_cpu_ns=0, events=100, ns_per_sample=1250):
    tally = anatomy_join.RungTally()
    tally.events, tally.wall_ns, tally.off_cpu_ns = events, wall_ns, off_cpu_ns
    tally.own_samples.update(own)
    tally.other_samples.update(other or {})
    tally.own_weight.update({phase: n * ns_per_sample for phase, n in own.items()})
    tally.other_weight.update({phase: n * ns_per_sample for phase, n in (other or {}).items()})
    for phase, n in {**own, **(other or {})}.items():
        tally.functions[phase]["some_function"] += n
    return tally


def test_shares_add_up_to_one_with_off_cpu_and_other_threads():
    phases = anatomy_join.phases_of(tally_with({"zeroing": 300, "exception entry and exit": 100},
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
    assert anatomy_join.phases_of(tally_with({"zeroing": anatomy_join.MIN_SAMPLES - 1})) is None
