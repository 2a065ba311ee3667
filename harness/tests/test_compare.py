"""make compare, compare.json, the exports and compare.py compatibility, on variants of the one
base fixture run (runs.py)."""
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import runs
from pageladder import cli, compare, compare_render, exits, export, plot, stats

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "compare.schema.json"


def rungs(result, k=0):
    return {r["id"]: r for r in result["comparisons"][k]["rungs"]}


def verdicts(result, k=0):
    return {i: r["verdict"] for i, r in rungs(result, k).items()}


CALLED = ("faster", "slower")


def called(result, k=0):
    return {i: v for i, v in verdicts(result, k).items() if v in CALLED}


def test_a_run_against_itself_calls_nothing_and_one_run_a_side_says_same_only_within_its_drift():
    run = runs.kernel_a()
    result = compare.compare([[run], [run]])
    assert called(result) == {}
    for r in rungs(result).values():
        assert r["ratio"] == pytest.approx(1.0)
        assert r["ci_lo"] <= 1.0 <= r["ci_hi"]
        assert r["method"] == "bootstrap" and r["drift"] >= 0.03 and r["drift_source"] == "default"
    # A whole run's stated drift (3% for minor_fault) keeps the 90% interval wider than +-5%:
    # one run against one cannot say same within 5%, and says so; within 15% it can.
    assert verdicts(result)["minor_fault"] == "undecided"
    assert verdicts(compare.compare([[run], [run]], equiv=0.15))["minor_fault"] == "same"
    assert result["differences"] == []


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_identical_runs_call_nothing(seed):
    result = compare.compare([[runs.kernel_a()], [runs.identical_twin(seed)]])
    assert called(result) == {}, verdicts(result)


def test_one_run_a_side_leaves_a_10_percent_change_undecided_and_calls_a_50_percent_one():
    small = rungs(compare.compare([[runs.kernel_a()], [runs.kernel_b_minor_fault_10_percent_slower()]]))
    assert small["minor_fault"]["verdict"] == "undecided"
    assert small["minor_fault"]["detectable"] > 0.10
    large = compare.compare([[runs.kernel_a()], [runs.kernel_b_minor_fault_50_percent_slower()]])
    assert called(large) == {"minor_fault": "slower"}


def test_a_10_percent_slower_rung_is_slower_and_only_that_rung():
    # Earlier steady runs of A's configuration show how far whole runs land: the rung's run
    # variance is known, and a 10% change stands out.
    result = compare.compare([[runs.kernel_a()], [runs.kernel_b_minor_fault_10_percent_slower()]],
                             history=runs.steady_history())
    assert called(result) == {"minor_fault": "slower"}
    minor = rungs(result)["minor_fault"]
    assert minor["ratio"] == pytest.approx(1.10, rel=1e-6)
    assert minor["ci_lo"] > 1.0 and minor["p_adjusted"] < stats.ALPHA
    assert [f for f, _ in result["differences"]] == ["kernel_release"]


def test_the_same_shift_the_other_way_is_faster():
    result = compare.compare([[runs.kernel_b_minor_fault_10_percent_slower()], [runs.kernel_a()]],
                             history=runs.steady_history())
    assert verdicts(result)["minor_fault"] == "faster"


def test_a_change_under_the_floor_is_never_slower_however_small_its_p():
    assert stats.verdict({"ratio": 1.005, "error": 0.001, "dof": None}, 1e-9) == "same"
    assert stats.verdict({"ratio": 1.05, "error": 0.01, "dof": None}, 1e-9) == "slower"
    # Not significant, and its 90% interval reaches past +-5%: undecided, not same.
    assert stats.verdict({"ratio": 1.05, "error": 0.01, "dof": None}, 0.2) == "undecided"
    assert stats.p_beyond_floor(math.log(1.009), 0.0001, None) == 1.0


def test_same_is_an_equivalence_test_not_a_failure_to_see():
    tight = {"ratio": 1.01, "error": 0.01, "dof": 30}
    loose = {"ratio": 1.01, "error": 0.05, "dof": 30}
    assert stats.verdict(tight, 0.9) == "same"
    assert stats.verdict(loose, 0.9) == "undecided"          # could be 10% either way
    assert stats.verdict(loose, 0.9, equiv=0.20) == "same"   # within +-20% it is
    assert not stats.equivalent({"ratio": 1.04, "error": 0.01, "dof": None}, 0.05)


def test_p_values_are_adjusted_for_testing_many_rungs():
    raw = [0.01] + [0.9] * 23
    assert stats.adjust(raw)[0] == pytest.approx(0.24)


def test_the_bootstrap_resamples_invocations_not_repetitions():
    # Thirty repetitions agree closely inside each invocation, the invocations do not: the
    # interval must be as wide as the invocations' spread. Resampling repetitions (pooled or
    # within each invocation) keeps every invocation's share and gives a narrow interval.
    def side(shift):
        return [[[base * shift + 0.01 * k for k in range(30)] for base in (100.0, 110.0, 90.0)]]
    r = stats.compare_sides(side(1.0), side(1.01))
    assert r["ci_hi"] - r["ci_lo"] > 0.1 and r["method"] == "bootstrap"


def test_verdicts_use_the_adjusted_p_values(monkeypatch):
    monkeypatch.setattr(stats, "adjust", lambda ps: [1.0] * len(ps))
    result = compare.compare([[runs.kernel_a()], [runs.kernel_b_minor_fault_10_percent_slower()]],
                             history=runs.steady_history())
    assert verdicts(result)["minor_fault"] == "undecided"
    assert rungs(result)["minor_fault"]["p_adjusted"] == 1.0


@pytest.mark.parametrize("shift", [0.02, 0.05, -0.05])
def test_a_whole_run_shift_within_the_drift_is_never_called_with_one_run_per_side(shift):
    # One run per side cannot tell a busy host from a kernel: the stated drift covers it.
    result = compare.compare([[runs.kernel_a()], [runs.whole_run_shifted(shift)]])
    assert called(result) == {}, verdicts(result)
    assert all(r["drift"] >= stats.DEFAULT_DRIFT["other"] for r in rungs(result).values())


def test_with_several_runs_per_side_the_noise_band_includes_the_spread_between_runs():
    steady = [runs.identical_twin(k) for k in (1, 2)]
    wobbly = [runs.identical_twin(3, run_shift=-0.04), runs.identical_twin(4, run_shift=0.04)]
    wobbly_rows = rungs(compare.compare([steady, wobbly]))
    steady_rows = rungs(compare.compare([steady, [runs.identical_twin(5), runs.identical_twin(6)]]))
    assert wobbly_rows["minor_fault"]["method"] == "runs"
    assert wobbly_rows["minor_fault"]["error"] > 1.5 * steady_rows["minor_fault"]["error"]


def test_a_time_that_is_not_positive_makes_the_rung_invalid_not_a_number():
    result = compare.compare([[runs.kernel_a()], [runs.minor_fault_time_not_a_number()]])
    minor = rungs(result)["minor_fault"]
    assert minor["verdict"] == "invalid" and minor["ratio"] is None
    assert "not a positive number" in minor["why"]


def test_file_rungs_of_a_quick_and_a_full_run_are_not_comparable():
    v = verdicts(compare.compare([[runs.kernel_a()], [runs.quick_run_file_rungs()]]))
    assert v["file_fault_major"] == v["file_fault_cached"] == "not comparable"
    assert v["minor_fault"] in ("same", "undecided")


def test_more_runs_per_side_narrow_what_can_be_detected():
    one = compare.compare([[runs.kernel_a()], [runs.identical_twin(1)]])
    three = compare.compare([[runs.kernel_a(), runs.identical_twin(5), runs.identical_twin(6)],
                             [runs.identical_twin(1), runs.identical_twin(2), runs.identical_twin(3)]])
    assert rungs(three)["minor_fault"]["detectable"] < rungs(one)["minor_fault"]["detectable"]
    assert called(three) == {}


def test_a_rung_measured_at_another_page_count_is_not_comparable():
    result = compare.compare([[runs.kernel_a()], [runs.stlb_hit_at_another_page_count()]])
    stlb = rungs(result)["stlb_hit"]
    assert stlb["verdict"] == "not comparable" and stlb["ratio"] is None
    assert "pages 256" in stlb["why"] and "pages 512" in stlb["why"]


def test_runs_without_invocations_are_not_comparable_rather_than_overconfident():
    result = compare.compare([[runs.kernel_a()], [runs.one_invocation_only()]])
    assert set(verdicts(result).values()) == {"not comparable"}


def test_two_machines_list_the_cpu_and_microcode():
    fields = dict(compare.compare([[runs.kernel_a()], [runs.other_machine()]])["differences"])
    assert fields["cpu_model"][1] == "Intel(R) Xeon(R) Platinum 8480+"
    assert "microcode" in fields


def test_invalid_and_missing_rungs_are_shown_as_such_never_as_numbers():
    result = compare.compare([[runs.kernel_a()], [runs.minor_fault_invalid()]])
    minor = rungs(result)["minor_fault"]
    assert minor["verdict"] == "invalid" and minor["ratio"] is None and minor["b_median_ns"] is None
    assert "2.000 minor faults per event" in minor["why"]
    assert "invalid: 20260105-120000-lab1-6.18.0: 2.000 minor faults" in compare_render.render_markdown(result)
    result = compare.compare([[runs.kernel_a()], [runs.cow_fault_missing()]])
    assert rungs(result)["cow_fault"]["verdict"] == "missing"


def _cli(tmp_path, *args):
    return cli.main(["compare", *args, "--results", str(tmp_path / "out")])


def _write(tmp_path, name, run):
    return str(runs.write(run, tmp_path / name))


def test_compare_json_follows_its_schema_and_the_contract(tmp_path):
    a = _write(tmp_path, "a", runs.kernel_a())
    b = _write(tmp_path, "b", runs.kernel_b_minor_fault_50_percent_slower())
    c = _write(tmp_path, "c", runs.stlb_hit_at_another_page_count())
    assert _cli(tmp_path, "--runs", a, b, c) == 0
    out = next((tmp_path / "out").iterdir())
    data = json.loads((out / "compare.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert data["runs"] == {"a": ["20260101-120000-lab1-6.18.0"], "b": ["20260102-120000-lab1-6.19.0"]}
    assert {r["id"]: r["verdict"] for r in data["rungs"]}["minor_fault"] == "slower"
    assert data["more"][0]["b"] == ["20260103-120000-lab1-6.18.0"]
    assert {"setting": "kernel_release", "values": ["6.18.0", "6.19.0", "6.18.0"]} in data["differing_settings"]
    for name in ("compare.md", "compare.svg", "compare.png"):
        assert (out / name).is_file()


def test_the_schema_rejects_a_number_for_an_invalid_rung():
    good = {"id": "x", "label": "x", "a_median_ns": None, "b_median_ns": None, "ratio": None, "ci_lo": None,
            "ci_hi": None, "p_value": None, "p_adjusted": None, "noise": None, "detectable": None,
            "verdict": "invalid", "why": "because"}
    schema = json.loads(SCHEMA.read_text())
    doc = {"schema_version": 2, "runs": {"a": ["r1"], "b": ["r2"]},
           "method": {"statistic": "s", "interleaved": False, "paired": False, "ci": "c", "samples": 1,
                      "adjustment": "a", "alpha": 0.05, "floor": 0.01, "equiv": 0.05, "default_drift": {},
                      "min_invocations": 3},
           "differing_settings": [], "rungs": [good], "more": []}
    jsonschema.validate(doc, schema)
    doc["rungs"] = [dict(good, ratio=1.2)]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_several_runs_per_side(tmp_path):
    a = [_write(tmp_path, f"a{k}", runs.identical_twin(k)) for k in (1, 2)]
    b = [_write(tmp_path, f"b{k}", runs.identical_twin(k)) for k in (3, 4)]
    assert _cli(tmp_path, "--side", " ".join(a), "--side", " ".join(b)) == 0
    out = next((tmp_path / "out").iterdir())
    assert out.name.startswith("compare-20260101-130100-lab1-6.18.0+1-")
    assert "-vs-20260101-130300-lab1-6.18.0+1-" in out.name
    data = json.loads((out / "compare.json").read_text())
    assert len(data["runs"]["a"]) == 2 and len(data["runs"]["b"]) == 2
    assert not {r["verdict"] for r in data["rungs"]} & set(CALLED)


def test_fail_on_slower_exits_3_only_when_a_rung_is_slower(tmp_path):
    a = _write(tmp_path, "a", runs.kernel_a())
    b = _write(tmp_path, "b", runs.kernel_b_minor_fault_50_percent_slower())
    assert _cli(tmp_path, "--side", a, "--side", b, "--fail-on-slower") == exits.EXIT_SLOWER == 3
    assert _cli(tmp_path, "--side", b, "--side", a, "--fail-on-slower") == 0   # faster is fine
    assert _cli(tmp_path, "--side", a, "--side", b) == 0                       # not asked to fail


def test_make_compare_passes_sides_and_fail_on_slower(tmp_path):
    # GNU make exits 2 whenever a recipe fails; it reports the harness's own status 3.
    a = _write(tmp_path, "a", runs.kernel_a())
    b = _write(tmp_path, "b", runs.kernel_b_minor_fault_50_percent_slower())
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(["make", "-s", "-C", str(root), "compare", f"A={a}", f"B={b}", "FAIL_ON_SLOWER=1",
                        f"RESULTS={tmp_path / 'out'}", f"PYTHON={sys.executable}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode != 0 and "Error 3" in r.stdout, r.stdout
    assert "slower: minor_fault" in r.stdout
    r = subprocess.run(["make", "-s", "-C", str(root), "compare", f"A={b}", f"B={a}", "FAIL_ON_SLOWER=1",
                        f"RESULTS={tmp_path / 'out'}", f"PYTHON={sys.executable}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout


def test_scripts_compare_keeps_the_exact_exit_status_for_ci_gates(tmp_path):
    a = _write(tmp_path, "a", runs.kernel_a())
    b = _write(tmp_path, "b", runs.kernel_b_minor_fault_50_percent_slower())
    script = Path(__file__).resolve().parents[2] / "scripts" / "compare"
    for first, second, status in ((a, b, 3), (b, a, 0)):
        r = subprocess.run([str(script), "--side", first, "--side", second, "--fail-on-slower",
                            "--results", str(tmp_path / "out")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        assert r.returncode == status, r.stdout


@pytest.mark.parametrize("bad, message", [
    ("corrupt", "not valid JSON"),
    ("other_schema", "schema_version 99"),
    ("nowhere", "no such run folder"),
])
def test_bad_runs_are_refused_naming_the_file_and_nothing_is_written(tmp_path, capsys, bad, message):
    good = _write(tmp_path, "good", runs.kernel_a())
    if bad == "corrupt":
        path = str(runs.write(None, tmp_path / bad, text=runs.corrupt_text()))
    elif bad == "other_schema":
        path = _write(tmp_path, bad, runs.other_schema())
    else:
        path = str(tmp_path / bad)
    assert _cli(tmp_path, "--side", good, "--side", path) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_compare_chart_is_byte_identical_across_draws(tmp_path):
    sides = [[runs.kernel_a()], [runs.kernel_b_minor_fault_10_percent_slower()]]
    result = compare.compare(sides)
    digest = []
    for stem in ("a", "b"):
        plot.draw_compare(result, [r for s in sides for r in s], str(tmp_path / stem))
        digest.append(hashlib.sha256((tmp_path / f"{stem}.svg").read_bytes()).hexdigest())
    assert digest[0] == digest[1]
    assert "kernel_release" in (tmp_path / "a.svg").read_text()


def test_exports_follow_their_formats_and_leave_out_invalid_rungs():
    run = runs.minor_fault_invalid()
    gab = export.github_action_benchmark(run)
    assert isinstance(gab, list) and gab
    for item in gab:
        assert set(item) >= {"name", "unit", "value"}
        assert isinstance(item["value"], float) and item["unit"] == "ns"
    assert "pageladder/minor_fault" not in {i["name"] for i in gab}
    bmf = export.bencher(run)
    for name, measures in bmf.items():
        latency = measures["latency"]
        assert latency["lower_value"] <= latency["value"] <= latency["upper_value"]
    assert "pageladder/minor_fault" not in bmf
    json.dumps(bmf), json.dumps(gab)


@pytest.mark.skipif(not Path("/usr/share/benchmark/compare.py").exists(), reason="libbenchmark-tools missing")
def test_googles_compare_py_reads_run_json(tmp_path):
    a = runs.write(runs.kernel_a(), tmp_path / "a") / "run.json"
    b = runs.write(runs.kernel_b_minor_fault_10_percent_slower(), tmp_path / "b") / "run.json"
    r = subprocess.run([sys.executable, "/usr/share/benchmark/compare.py", "benchmarks", str(a), str(b)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout
    assert "minor_fault/manual_time" in r.stdout


def test_ladder_csv_has_a_line_per_rung_and_no_number_for_an_invalid_one():
    import csv
    run = runs.minor_fault_invalid()
    lines = list(csv.DictReader(export.ladder_csv(run).splitlines()))
    assert [l["id"] for l in lines] == [r["id"] for r in run["pageladder"]["ladder"]]
    minor = next(l for l in lines if l["id"] == "minor_fault")
    assert minor["valid"] == "no" and minor["median_ns"] == minor["p99_ns"] == "" and "2.000 minor" in minor["why"]
    cow = next(l for l in lines if l["id"] == "cow_fault")
    assert cow["valid"] == "yes" and float(cow["median_ns"]) > 0


def test_emulated_times_are_not_comparable_with_hardware_speed_but_validity_still_is():
    native, emulated = runs.kernel_a(), runs.in_guest("tcg")
    emulated["pageladder"]["ladder"] = [dict(r, valid=False, why_invalid="broken claim")
                                        if r["id"] == "cow_fault" else r for r in emulated["pageladder"]["ladder"]]
    result = compare.compare([[native], [emulated]])
    v = verdicts(result)
    assert v.pop("cow_fault") == "invalid"
    assert set(v.values()) == {"not comparable"}
    assert "emulated" in rungs(result)["minor_fault"]["why"]
    assert "guest" in [f for f, _ in result["differences"]]


def test_two_runs_emulated_the_same_way_compare_normally():
    result = compare.compare([[runs.in_guest("tcg", seed=5)], [runs.in_guest("tcg", seed=6, run_shift=0.2)]])
    assert "slower" in verdicts(result).values()


def test_runs_emulated_differently_are_not_comparable():
    result = compare.compare([[runs.in_guest("tcg", cpus=2)], [runs.in_guest("tcg", cpus=4)]])
    assert set(verdicts(result).values()) == {"not comparable"}


def test_runs_emulated_on_different_hosts_are_not_comparable():
    """Under emulation the host's CPU makes the times; qemu's CPU looks alike everywhere."""
    result = compare.compare([[runs.in_guest("tcg", host_cpu="AMD EPYC 9R14")],
                              [runs.in_guest("tcg", seed=6, host_cpu="Intel Xeon 8488C")]])
    assert set(verdicts(result).values()) == {"not comparable"}


def test_a_kvm_guest_compares_with_the_machine_itself_as_a_differing_setting():
    result = compare.compare([[runs.kernel_a()], [runs.in_guest("kvm")]])
    assert "not comparable" not in verdicts(result).values()
    assert "guest" in [f for f, _ in result["differences"]]


def test_an_emulated_run_says_so_in_its_report_and_chart_footer():
    from pageladder import report
    run = runs.in_guest("tcg")
    text = report.render(run)
    assert "Times emulated" in text and "tcg, 2 CPUs, 4096 MiB" in text
    assert plot.footer_text(run["pageladder"]).startswith("TIMES EMULATED (tcg")
    assert not plot.footer_text(runs.kernel_a()["pageladder"]).startswith("TIMES EMULATED")


def test_welch_adds_variances_and_gives_satterthwaite_degrees_of_freedom():
    error, df = stats.welch([(1.0, 1.0), (1.0, 1000.0)], df_when_none=1000.0)
    assert error == pytest.approx(2 ** 0.5)
    assert df == pytest.approx(4.0 / (1.0 + 1.0 / 1000.0))  # one poorly known part drags it to ~4
    assert stats.welch([(0.0, 1.0)], df_when_none=1000.0) == (0.0, 1000.0)


def test_rungs_whose_variances_agree_borrow_much_and_unlike_ones_little():
    alike = {f"r{k}": (v, 2) for k, v in enumerate((4e-4, 5e-4, 6e-4, 5.5e-4, 4.5e-4, 5e-4))}
    alike["small"] = (3e-4, 2)
    moderated = stats.moderate(alike, {})
    assert moderated["small"][1] == 2 + stats.MAX_PRIOR_DOF       # as alike as sampling allows
    assert moderated["small"][0] > 4e-4                            # pulled up towards the rest
    unlike = {"a": (1e-6, 2), "b": (1e-2, 2), "c": (1e-5, 2), "d": (3e-2, 2), "e": (1e-4, 2)}
    loose = stats.moderate(unlike, {})
    assert loose["a"][1] < 2 + stats.PRIOR_DOF                     # little to borrow
    assert stats.moderate({"x": (float("nan"), 0)}, {}) == {}


def test_the_prior_follows_each_rungs_spread_between_invocations():
    # Run variances that track the invocations' floor (a noisy swap rung, a steady reference):
    # each rung borrows from the line through them, not from one pooled value.
    floors = {f"r{k}": f for k, f in enumerate((1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3))}
    variances = {r: (2 * f, 2) for r, f in floors.items()}
    moderated = stats.moderate(variances, floors)
    assert moderated["r0"][0] < 1e-4 < moderated["r5"][0]
    flat = stats.moderate(variances, {})
    assert flat["r0"][0] > moderated["r0"][0] and flat["r5"][0] < moderated["r5"][0]
    # Never below what the invocations alone put on a run's median.
    assert stats.moderate({"x": (1e-6, 2)}, {"x": 1e-4})["x"][0] == 1e-4


def test_with_two_runs_per_side_a_10_percent_change_is_mostly_found_and_nothing_else_is():
    # Eight comparisons of two twins against two, B's minor_fault 10% slower. Its detectable
    # change is stated at 80% power: most, not all, find it; no other rung is ever called.
    found, false_calls = 0, 0
    for first in range(1, 30, 4):
        a = [runs.identical_twin(k) for k in (first, first + 1)]
        b = [runs.identical_twin(k) for k in (first + 2, first + 3)]
        for run in b:
            for r in runs.rows_of(run, "minor_fault"):
                r["real_time"] *= 1.10
        v = verdicts(compare.compare([a, [runs.rebuild(run) for run in b]]))
        found += v.pop("minor_fault") == "slower"
        false_calls += sum(verdict in ("faster", "slower") for verdict in v.values())
    assert found >= 5 and false_calls == 0, (found, false_calls)


def test_detectable_is_stated_at_80_percent_power_after_the_adjustment():
    result = {"error": 0.01, "dof": None}
    one = stats.detectable(result, 1)
    many = stats.detectable(result, 30)
    assert one == pytest.approx(math.expm1(math.log1p(stats.FLOOR) + (1.959964 + 0.841621) * 0.01), rel=1e-4)
    assert many > one                      # testing thirty rungs asks more of each
    assert stats.detectable({"error": 0.0, "dof": None}, 30) == pytest.approx(stats.FLOOR)


def test_most_rungs_moving_together_is_said_first_and_what_moved_beyond_it_is_named():
    shifted = runs.whole_run_shifted(0.25)
    for r in runs.rows_of(shifted, "minor_fault"):
        r["real_time"] *= 1.25
    result = compare.compare([[runs.kernel_a()], [runs.rebuild(shifted)]])
    shift = result["comparisons"][0]["common_shift"]
    assert shift["direction"] == "slower" and shift["ratio"] == pytest.approx(1.25, rel=0.03)
    assert shift["beyond"] == ["minor_fault"]
    assert rungs(result)["minor_fault"]["net_ratio"] == pytest.approx(1.25, rel=0.03)
    text = compare_render.render_markdown(result)
    assert text.index("Most rungs moved together") < text.index("| rung |")
    assert "no memory-speed reference" in text
    jsonschema.validate(compare.to_json(result), json.loads(SCHEMA.read_text()))


def test_no_common_shift_between_identical_runs():
    result = compare.compare([[runs.kernel_a()], [runs.identical_twin(2)]])
    assert result["comparisons"][0]["common_shift"] is None
    assert "Most rungs moved together" not in compare_render.render_markdown(result)


# Earlier identical runs of the machine (history.py): the run-to-run spread one run per side
# cannot show.

def _wobbly_history():
    """Three identical runs of the machine a whole run apart by up to +-15%: a host that moves."""
    return [[runs.identical_twin(20 + k, run_shift=shift) for k, shift in enumerate((-0.15, 0.0, 0.15))]]


def test_with_one_run_a_side_a_whole_run_shift_is_called_only_where_earlier_runs_say_the_host_holds_still():
    a, b = runs.kernel_a(), runs.whole_run_shifted(0.12)
    without = verdicts(compare.compare([[a], [b]]))
    assert without["minor_fault"] == "undecided"  # the stated drift explains 12%
    calibrated = compare.compare([[a], [b]], history=_wobbly_history())
    assert called(calibrated) == {}, verdicts(calibrated)
    assert rungs(calibrated)["minor_fault"]["history_runs"] == 3
    assert len(calibrated["history"]) == 3
    steady = compare.compare([[a], [b]], history=runs.steady_history())
    assert verdicts(steady)["minor_fault"] == "slower"  # runs of this host never move 12%


def test_earlier_steady_runs_leave_one_run_a_side_far_more_sensitive_than_a_moving_host_does():
    steady = [[runs.identical_twin(30 + k) for k in range(4)]]
    a, b = runs.kernel_a(), runs.identical_twin(1)
    calm = compare.compare([[a], [b]], history=steady)
    moving = compare.compare([[a], [b]], history=_wobbly_history())
    assert called(calm) == {}
    assert rungs(calm)["minor_fault"]["detectable"] < rungs(moving)["minor_fault"]["detectable"] / 2
    # Steady runs say a run's median wanders no further than its invocations put it: the
    # variance is then known with the invocations' degrees of freedom, not the few runs'.
    assert rungs(calm)["minor_fault"]["dof"] > 6  # the moderated estimate alone: about 4


def test_history_finds_identical_runs_of_the_compared_machine_never_the_compared_runs(tmp_path):
    from pageladder import history
    a, b = runs.kernel_a(), runs.identical_twin(1)
    other_kernel = [runs.renamed(runs.identical_twin(k), f"20260110-12000{k}-lab1-6.19.0", kernel="6.19.0")
                    for k in (4, 5)]
    for run in (a, b, runs.identical_twin(2), runs.identical_twin(3), runs.other_machine(), *other_kernel):
        runs.write(run, tmp_path / run["pageladder"]["run_id"])
    (tmp_path / "latest").symlink_to(tmp_path / a["pageladder"]["run_id"])
    found = history.groups(tmp_path, [a, b])
    # The two other twins; not the other machine, nor two runs of a kernel no compared run has.
    assert [sorted(r["pageladder"]["run_id"] for r in g) for g in found] == [
        sorted(r["pageladder"]["run_id"] for r in (runs.identical_twin(2), runs.identical_twin(3)))]
    assert history.groups(tmp_path / "nowhere", [a]) == []


def test_a_detectable_change_beyond_doubling_is_said_in_words_not_as_thousands_of_percent():
    assert compare_render._verdict_text({"verdict": "undecided", "detectable": 55.7}) == \
        "undecided (could detect only changes beyond ×2)"
    assert "±5" in compare_render._verdict_text({"verdict": "undecided", "detectable": 0.05})
    assert compare_render._verdict_text({"verdict": "same", "equiv": 0.05}) == "same (within ±5.0%)"


# --- a run folder is data ----------------------------------------------------------------------


@pytest.mark.parametrize("hostile_id", ["/../../escaped", "a/../../../escaped", "..", "x\ny"],
                         ids=["absolute", "dot-dot", "parent", "newline"])
def test_a_run_id_that_would_lead_out_of_results_is_refused_and_nothing_is_written(tmp_path, capsys, hostile_id):
    good = _write(tmp_path, "good", runs.kernel_a())
    bad = _write(tmp_path, "bad", runs.renamed(runs.kernel_b_minor_fault_10_percent_slower(), hostile_id))
    assert _cli(tmp_path, "--side", good, "--side", bad) == 2
    assert "not a plain name" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "escaped").exists()
    assert not any(p.name.startswith("compare") for p in tmp_path.rglob("*"))


def test_a_comparison_made_again_gets_a_new_folder_and_the_first_is_kept(tmp_path):
    a = _write(tmp_path, "a", runs.kernel_a())
    b = _write(tmp_path, "b", runs.kernel_b_minor_fault_50_percent_slower())
    assert _cli(tmp_path, "--side", a, "--side", b) == 0
    first = [p for p in (tmp_path / "out").iterdir() if p.name.startswith("compare-")]
    (first[0] / "compare.md").write_text("the first comparison, annotated")
    assert _cli(tmp_path, "--side", a, "--side", b) == 0
    folders = sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith("compare-"))
    assert folders == [first[0].name, first[0].name + "-2"]
    assert (first[0] / "compare.md").read_text() == "the first comparison, annotated"


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"[" * 50000, b'{"pageladder": []}',
                                     b'{"pageladder": {"schema_version": 2, "run_id": ["x"]}}'],
                         ids=["not UTF-8", "nested", "block a list", "run_id a list"])
def test_a_hostile_run_json_under_results_is_left_out_of_history_with_a_notice(tmp_path, capsys, content):
    a = _write(tmp_path, "a", runs.kernel_a())
    b = _write(tmp_path, "b", runs.kernel_b_minor_fault_50_percent_slower())
    hostile = tmp_path / "out" / "20261201-000000-host-6.18"
    hostile.mkdir(parents=True)
    (hostile / "run.json").write_bytes(content)
    assert _cli(tmp_path, "--side", a, "--side", b) == 0  # the comparison is made all the same
    assert f"history leaves out {hostile / 'run.json'}" in capsys.readouterr().err


def test_a_host_that_moved_every_rung_and_the_memory_references_is_not_called_a_change():
    # A busy neighbour slowed a whole run by 50%: one run a side sees it in the references
    # (user-space zeroing, copying, loading), which no kernel change moves, and widens every
    # rung's interval by that much instead of calling everything slower.
    base = runs.with_memory_references(runs.kernel_a())
    busy = runs.with_memory_references(runs.whole_run_shifted(0.5))
    result = compare.compare([[base], [busy]])
    assert called(result) == {}, verdicts(result)
    assert {r["drift_source"] for r in rungs(result).values()} == {"references"}
    # A kernel change that leaves the references where they were is still called.
    slower = runs.with_memory_references(runs.kernel_b_minor_fault_50_percent_slower())
    assert called(compare.compare([[base], [slower]])) == {"minor_fault": "slower"}


def test_too_few_rungs_with_a_run_variance_borrow_nothing():
    # One or two rungs cannot teach a prior without their own variance standing in for it.
    alone = stats.moderate({"x": (4e-4, 1)}, {"x": 1e-5})
    assert alone == {"x": (4e-4, 1)}
    few = stats.moderate({"x": (4e-4, 2), "y": (1e-4, 2)}, {})
    assert few == {"x": (4e-4, 2), "y": (1e-4, 2)}


def test_a_drift_learned_from_few_runs_widens_the_interval_by_its_own_uncertainty():
    a, b = [[[100.0, 101.0], [99.0, 100.5], [100.2, 99.8]]], [[[103.0, 104.0], [102.0, 103.5], [103.2, 102.8]]]
    exact = stats.compare_sides(a, b, drift=0.02)
    rough = stats.compare_sides(a, b, drift=0.02, drift_dof=2)
    assert rough["dof"] is not None and rough["dof"] < 10
    assert rough["ci_hi"] > exact["ci_hi"] and rough["p_value"] > exact["p_value"]


def test_a_rung_without_history_learns_its_drift_from_identical_runs_of_another_configuration():
    a, b = runs.kernel_a(), runs.identical_twin(1)
    other = [[runs.renamed(runs.identical_twin(40 + k, run_shift=shift), f"20260110-12000{k}-lab1-6.19.0",
                           kernel="6.19.0") for k, shift in enumerate((-0.2, 0.0, 0.2))]]
    learned = rungs(compare.compare([[a], [b]], calibration=other))
    assert learned["minor_fault"]["drift_source"] == "learned"
    assert learned["minor_fault"]["drift"] > 0.1  # that configuration's runs moved 20% either way
    assert called(compare.compare([[a], [runs.whole_run_shifted(0.12)]], calibration=other)) == {}


def test_a_rung_whose_runs_agree_closer_than_its_invocations_is_known_as_well_as_its_invocations():
    variances = {f"r{k}": (v, 1) for k, v in enumerate((1e-2, 1e-4, 3e-2, 2e-3, 5e-3, 1e-5))}
    floors = dict({r: 1e-4 for r in variances}, r5=5e-2)  # r5's invocations scatter more than its runs
    moderated = stats.moderate(variances, floors, {r: 40 for r in variances})
    assert moderated["r5"] == (5e-2, 40)          # the floor, with the invocations' dof
    assert moderated["r2"][1] < 40                 # a rung whose runs wander keeps the runs' dof
