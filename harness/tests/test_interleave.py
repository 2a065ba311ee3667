"""make compare SETTINGS=...: the sides' settings, the knobs written and restored, and the rounds'
paired verdicts, on rounds made up here (no benchmark runs): a host whose every round drifts by
tens of percent, a side 10% slower on one rung, a rung invalid in one round, a budget spent."""
import math
import random
import types
from pathlib import Path

import pytest

import runs
from pageladder import inputs, interleave, registry, side_settings, stats, system

# --- the sides' settings --------------------------------------------------------------------------


def test_a_side_is_as_is_or_known_knobs_with_their_values():
    assert side_settings.parse("as-is") == {}
    assert side_settings.parse("thp=never,page_cluster=0,mthp_64k=always,cpu=1") == {
        "thp": "never", "page_cluster": "0", "mthp_64k": "always", "cpu": "1"}
    assert side_settings.files({"thp": "never", "cpu": "1"}) == [
        ("thp", "/sys/kernel/mm/transparent_hugepage/enabled", "never")]
    assert side_settings.pinned_cpu({"cpu": "1"}) == 1
    assert side_settings.knob("mthp_64k").path.endswith("/hugepages-64kB/enabled")


@pytest.mark.parametrize("text, message", [
    ("thp=sometimes", "one of always, madvise, never"),
    ("page_cluster=11", "from 0 to 10"),
    ("swappiness=-1", "whole number"),
    ("nr_hugepages=4", "unknown setting"),
    ("thp", "name=value"),
    ("thp=never,thp=always", "given twice"),
    ("thp=never;reboot", "one of always"),
])
def test_a_bad_side_is_refused_with_one_line(text, message):
    with pytest.raises(ValueError, match=message):
        side_settings.parse(text)


def test_settings_need_two_sides_and_make_checks_them_before_anything_runs():
    with pytest.raises(ValueError, match="two sides"):
        side_settings.parse_sides("thp=never")
    inputs.check("SETTINGS", "as-is thp=never")
    for name, value in (("SETTINGS", "as-is $(reboot)"), ("SETTINGS", "as-is"), ("EQUIV", "0"), ("EQUIV", "1"),
                        ("KERNELS", "linux-image-amd64"),
                        ("EQUIV", "5%"), ("EQUIV", "51"), ("BUDGET", "0"), ("BUDGET", "1e3")):
        with pytest.raises(inputs.InputError):
            inputs.check(name, value)
    inputs.check("EQUIV", "2.5")
    inputs.check("BUDGET", "30")
    inputs.check("KERNELS", "linux-image-amd64 linux-image-rt-amd64")
    with pytest.raises(inputs.InputError):
        inputs.check("KERNELS", "linux-image-amd64 $(reboot)")


def test_sides_that_change_the_system_need_root_and_a_knob_this_kernel_has(monkeypatch):
    sides = side_settings.parse_sides("as-is thp=never")
    assert "NO_SYSTEM_CHANGES" in interleave.check_sides(sides, no_system_changes=True)
    monkeypatch.setattr(system, "is_root", lambda: False)
    assert "needs root" in interleave.check_sides(sides, no_system_changes=False)
    monkeypatch.setattr(system, "is_root", lambda: True)
    missing = side_settings.parse_sides("as-is mthp_8192k=always")
    assert "not a setting of this kernel" in interleave.check_sides(missing, no_system_changes=False)
    assert interleave.check_sides(side_settings.parse_sides("as-is cpu=0"), no_system_changes=False) is None


# --- a knob is journaled, written, and written back -------------------------------------------------


def test_a_knob_is_written_for_the_side_and_written_back_after_it_even_on_an_error(tmp_path):
    knob = tmp_path / "enabled"
    knob.write_text("always [madvise] never\n")
    with pytest.raises(RuntimeError):
        with system.knob(knob, "never"):
            assert knob.read_text() == "never"
            assert [e["path"] for e in system.pending_changes()] == [str(knob)]
            raise RuntimeError("a round failed")
    assert knob.read_text() == "madvise"
    assert system.pending_changes() == []


def test_a_knob_left_by_a_killed_compare_is_restored_from_the_journal(tmp_path, monkeypatch):
    knob = tmp_path / "page-cluster"
    knob.write_text("3\n")
    changing = system.knob(knob, "0")
    changing.__enter__()  # killed inside the round: the with-block never exits
    assert knob.read_text() == "0"
    monkeypatch.setattr(system, "owner_alive", lambda entry: False)
    assert [e["kind"] for e in system.restore()] == ["sysctl"]
    assert knob.read_text() == "3"


def test_a_knob_that_already_holds_the_value_is_not_journaled(tmp_path):
    knob = tmp_path / "swappiness"
    knob.write_text("60\n")
    with system.knob(knob, "60"):
        assert system.pending_changes() == []


# --- rounds and their paired verdicts ---------------------------------------------------------------


def test_each_side_runs_first_as_often_as_last():
    assert [interleave.order_of_round(n, 2) for n in (1, 2, 3, 4)] == [[0, 1], [1, 0], [0, 1], [1, 0]]
    assert interleave.order_of_round(2, 3) == [2, 1, 0]


BASE = {r["id"]: r["median_ns"] for r in runs.base()["pageladder"]["ladder"] if r["valid"]}


def _rounds(count, seed=1, effect=None, round_drift=0.3, noise=0.01, invalid=None):
    """Rounds of two sides: every round the host moves both sides by up to +-round_drift (what
    separate runs see), each measurement by `noise` more; effect: {rung: fraction B is slower}."""
    rng = random.Random(seed)
    made = []
    for number in range(1, count + 1):
        host = math.exp(rng.uniform(-round_drift, round_drift))
        sides = []
        for side in (0, 1):
            medians = {}
            for rung, ns in BASE.items():
                change = 1 + (effect or {}).get(rung, 0.0) if side else 1.0
                medians[rung] = (ns * host * change * math.exp(rng.gauss(0, noise)), None)
            sides.append(medians)
        if invalid and number == invalid[1]:
            sides[1][invalid[0]] = (None, "2.000 minor faults per event, expected 0.99-1.01")
        made.append({"medians": sides})
    return made


def _verdicts(rows):
    return {rung: row["verdict"] for rung, row in rows.items()}


def test_a_host_drifting_30_percent_between_rounds_is_never_called_a_change():
    for seed in range(1, 6):
        rows = interleave.decide(_rounds(12, seed), 0, 1, sorted(BASE), 0.05, {})
        assert not {v for v in _verdicts(rows).values()} & {"faster", "slower"}, seed
        assert sum(v == "same" for v in _verdicts(rows).values()) > len(BASE) / 2


def test_a_10_percent_slower_rung_is_found_through_the_drift_and_nothing_else_is():
    rows = interleave.decide(_rounds(16, effect={"minor_fault": 0.10}), 0, 1, sorted(BASE), 0.05, {})
    called = {r: v for r, v in _verdicts(rows).items() if v in ("faster", "slower")}
    assert called == {"minor_fault": "slower"}
    assert rows["minor_fault"]["ratio"] == pytest.approx(1.10, rel=0.02)
    assert rows["minor_fault"]["method"] == "paired" and rows["minor_fault"]["rounds"] == 16


def test_a_burst_of_load_on_one_sides_turn_is_one_outlying_round_not_a_change():
    # Rounds where side A ran beside a test suite (50% slower on every rung), the rest quiet.
    def burst(count):
        made = _rounds(16, seed=4, round_drift=0.02, noise=0.005)
        for entry in made[:count]:
            entry["medians"][0] = {r: (v[0] * 1.5, None) for r, v in entry["medians"][0].items()}
        return _verdicts(interleave.decide(made, 0, 1, sorted(BASE), 0.05, {}))
    one, three = burst(1), burst(3)
    # By rank, one such round of sixteen still leaves most rungs decided the same; three leave
    # them undecided; neither calls a change (a mean of the ratios would be pulled by 3 to 8%).
    assert sum(v == "same" for v in one.values()) > len(BASE) / 2
    assert not {*one.values(), *three.values()} & {"faster", "slower"}


def test_fewer_than_the_minimum_rounds_decide_nothing():
    rows = interleave.decide(_rounds(interleave.MIN_ROUNDS - 1), 0, 1, sorted(BASE), 0.05, {})
    assert set(_verdicts(rows).values()) == {"undecided"}
    assert "rounds" in rows["minor_fault"]["why"]


def test_a_rung_invalid_in_one_round_is_invalid_with_its_reason():
    rows = interleave.decide(_rounds(5, invalid=("cow_fault", 2)), 0, 1, sorted(BASE), 0.05, {})
    assert rows["cow_fault"]["verdict"] == "invalid" and "minor faults per event" in rows["cow_fault"]["why"]


def test_a_verdict_once_reached_is_kept_at_later_looks_with_the_statistics_it_rested_on():
    earlier = {"verdict": "slower", "ratio": 1.2, "rounds": 8}
    rows = interleave.decide(_rounds(16), 0, 1, ["minor_fault", "cow_fault"], 0.05, {"minor_fault": earlier})
    assert rows["minor_fault"] is earlier                 # identical rounds would not say slower
    assert rows["cow_fault"]["verdict"] != "slower" and rows["cow_fault"]["rounds"] == 16


def test_paired_needs_two_rounds_and_cancels_what_both_sides_share():
    assert stats.paired([1.0], [1.1]) is None
    shared = stats.paired([100, 150, 80, 120, 90, 130], [110, 165, 88, 132, 99, 143])  # alpha 0.05
    assert shared["ratio"] == pytest.approx(1.10) and shared["ci_hi"] - shared["ci_lo"] < 1e-9
    assert math.isinf(stats.paired([1, 1], [1.1, 1.1])["ci_hi"])  # two rounds: no interval yet


def test_the_signed_rank_test_and_interval_are_the_exact_ones():
    from scipy.stats import wilcoxon
    logs = [0.031, 0.052, -0.004, 0.047, 0.018, 0.066, 0.029, 0.011]
    assert stats._signed_rank_tail(logs, upper=True) == pytest.approx(
        wilcoxon(logs, alternative="greater", method="exact").pvalue)
    assert stats._signed_rank_counts(3) == [1, 1, 1, 2, 1, 1, 1]
    # Five rounds: the 93.75% interval is the range of the Walsh averages.
    assert stats._walsh_interval([0.01, 0.02, -0.01, 0.0, 0.015], 0.1) == (-0.01, 0.02)


# --- the loop: rounds go on for what is undecided, within the budget ----------------------------------


class _FakeRounds:
    """Rounds made up from `made` (no benchmark runs): each side's runs are the base run."""

    def __init__(self, made, calls, stop_at=None):
        self.made, self.calls, self.stop_at, self.committed = made, calls, stop_at or {}, []

    def start(self, label, what):
        return types.SimpleNamespace(label=label, what=what)

    def run_round(self, side, number, selected):
        self.calls.append((number, side.label, [b.name for b in selected]))
        k = 0 if side.label.startswith("a") else 1
        _, benchmark_of = interleave.round_outcome(runs.base())
        names = {b.name for b in selected}
        medians = {r: v for r, v in self.made[number - 1]["medians"][k].items() if benchmark_of[r] in names}
        return medians, benchmark_of, self.stop_at.get(number)

    def commit(self, side):
        self.committed.append(side.label)

    def finish(self, side, rounds_run):
        return [runs.base()]


@pytest.fixture
def fake_rounds():
    calls = []

    def measure(made, budget_s=600.0, stop_at=None):
        sides = [("a:as-is", {}), ("b:thp=never", {"thp": "never"})]
        return interleave.measure(_FakeRounds(made, calls, stop_at), sides, registry.BENCHMARKS, budget_s, 0.05,
                                  out=open("/dev/null", "w"))
    return measure, calls


def test_rounds_stop_for_benchmarks_whose_rungs_are_decided(fake_rounds):
    measure, calls = fake_rounds
    made = _rounds(48, round_drift=0.2, noise=0.005)
    rng = random.Random(5)
    for entry in made:  # cow_fault alone wanders 30% between the sides: it stays undecided longer
        ns, _ = entry["medians"][1]["cow_fault"]
        entry["medians"][1]["cow_fault"] = (ns * math.exp(rng.gauss(0, 0.3)), None)
    loaded, record, rounds, last_look, stopped = measure(made)
    assert stopped is None and len(loaded) == 2
    assert [c[1] for c in calls[:4]] == ["a:as-is", "b:thp=never", "b:thp=never", "a:as-is"]  # A B, B A
    assert record["looks"][0] == interleave.LOOKS[0]   # no verdict before the first look
    assert rounds[-1]["benchmarks"] == ["cow_fault"]  # the decided benchmarks stopped at a look
    assert calls[-1][2] == ["cow_fault"]              # and ran only what was left towards the end
    assert record["rounds"][1]["order"] == ["B", "A"]
    assert not {row["verdict"] for row in last_look[1].values()} & {"faster", "slower"}


def test_a_spent_budget_stops_the_rounds_leaves_the_rest_undecided_and_is_still_written(fake_rounds):
    from pageladder import compare_render
    measure, calls = fake_rounds
    measured = measure(_rounds(30), budget_s=0.0)
    loaded, record, rounds, last_look, stopped = measured
    assert len(rounds) == 1 and record["looks"] == [1] and record["decided_at"][1] == {}
    assert {row["verdict"] for row in last_look[1].values()} == {"undecided"}
    result = interleave.paired_result(loaded, record, last_look, 0.05)
    assert {r["verdict"] for r in result["comparisons"][0]["rungs"]} <= {"undecided", "missing", "not comparable"}
    assert "undecided" in compare_render.render_markdown(result)


def test_a_round_interrupted_on_one_side_does_not_count(fake_rounds):
    measure, calls = fake_rounds
    loaded, record, rounds, last_look, stopped = measure(_rounds(30), stop_at={3: interleave.EXIT_STOPPED})
    assert stopped == interleave.EXIT_STOPPED and len(rounds) == 2 and len(record["rounds"]) == 2
    assert record["looks"] == [2]  # the last look, on the rounds every side finished, is recorded


def test_identical_sides_are_called_changed_in_at_most_5_percent_of_rungs_over_every_look(fake_rounds):
    # Sequential looks spend alpha between them: over forty A/A comparisons, each run to its
    # last look, the share of rungs ever called faster or slower stays within 5%, even when
    # one boot's (one round's) luck moves every rung of a side together.
    measure, _ = fake_rounds
    called = total = 0
    for seed in range(40):
        made = _rounds(48, seed=seed, round_drift=0.0, noise=0.02)
        rng = random.Random(1000 + seed)
        for entry in made:  # a side's luck this round, shared by all its rungs
            luck = math.exp(rng.gauss(0, 0.1))
            entry["medians"][1] = {r: (v[0] * luck, None) for r, v in entry["medians"][1].items()}
        _, _, _, last_look, _ = measure(made)
        rows = last_look[1]
        called += sum(row["verdict"] in ("faster", "slower") for row in rows.values())
        total += len(BASE)
    assert called / total <= 0.05, called / total


def test_the_comparison_is_written_paired_and_follows_the_schema(fake_rounds, tmp_path):
    import json

    import jsonschema

    from pageladder import compare, compare_render
    measure, _ = fake_rounds
    made = _rounds(16, effect={"minor_fault": 0.3})
    loaded, record, rounds, last_look, _ = measure(made)
    result = interleave.paired_result(loaded, record, last_look, 0.05)
    data = compare.to_json(result)
    schema = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "compare.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["method"]["interleaved"] and data["method"]["paired"]
    by_id = {r["id"]: r for r in data["rungs"]}
    assert by_id["minor_fault"]["verdict"] == "slower" and by_id["minor_fault"]["method"] == "paired"
    assert "interleaved" in compare_render.render_markdown(result)


def test_the_comparison_reports_the_last_look_and_adds_no_verdict_of_its_own():
    # At a look, r1 (all eight ratios 20% up: p = 2^-7) sits beside rungs that stay undecided;
    # Benjamini-Hochberg over every rung leaves it undecided. Recomputing the adjustment after
    # the look over fewer rungs would call it: the comparison must report the look's rows.
    from pageladder import interleave as il
    rounds = []
    for k in range(8):
        rounds.append({"medians": [{"r1": (100.0, None), "r2": (100.0, None), "r3": (100.0, None)},
                                   {"r1": (120.0, None), "r2": (100.0 * (1.3 if k % 2 else 0.75), None),
                                    "r3": (100.0 * (1.25 if k % 3 else 0.8), None)}]})
    look = il.decide(rounds, 0, 1, ["r1", "r2", "r3"], 0.05, {})
    assert look["r1"]["verdict"] != "slower" and look["r1"]["p_adjusted"] > il.ALPHA_PER_LOOK
    alone = il.decide(rounds, 0, 1, ["r1"], 0.05, {})
    assert alone["r1"]["verdict"] == "slower"  # what a second adjustment over fewer rungs would say


def test_a_rung_decided_at_a_look_keeps_its_verdict_when_later_rounds_do_not_run_it(fake_rounds):
    # Kernel sides hand back one run a round; a benchmark decided at a look is not in the later
    # rounds' runs, which compare alone would call missing.
    measure, _ = fake_rounds
    made = _rounds(48, round_drift=0.02, noise=0.005)
    rng = random.Random(9)
    for entry in made:
        ns, _ = entry["medians"][1]["cow_fault"]
        entry["medians"][1]["cow_fault"] = (ns * math.exp(rng.gauss(0, 0.3)), None)
    loaded, record, rounds, last_look, _ = measure(made)
    missing_later = runs.base()
    missing_later["pageladder"]["ladder"] = [r for r in missing_later["pageladder"]["ladder"] if r["id"] != "minor_fault"]
    result = interleave.paired_result([loaded[0], [runs.base(), missing_later]], record, last_look, 0.05)
    rows = {r["id"]: r for r in result["comparisons"][0]["rungs"]}
    assert rows["minor_fault"]["verdict"] == "same" and rows["minor_fault"]["method"] == "paired"
