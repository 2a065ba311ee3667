"""make compare, the exports and compare.py compatibility, on checked-in fixture runs."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES

from pageladder import cli, collect, compare, export, plot

RUNS = FIXTURES / "runs"


def load(name):
    return collect.load_run(RUNS / name)


def row(result, rung_id):
    return next(r for r in result["rows"] if r["id"] == rung_id)


def test_two_kernels_one_machine_finds_the_slower_fault_and_the_kernel_change():
    result = compare.compare([load("kernel_a"), load("kernel_b")])
    minor = row(result, "minor_fault")["cells"][1]
    assert minor["ratio"] == pytest.approx(1.2, rel=1e-6)
    assert minor["significant"] and minor["p_value"] < 0.05
    tlb = row(result, "tlb_hit")["cells"][1]
    assert tlb["ratio"] == pytest.approx(1.0) and not tlb["significant"]
    assert ("kernel_release", ["6.18.0", "6.19.0"]) in result["differences"]
    assert [f for f, _ in result["differences"]] == ["kernel_release"]


def test_a_run_against_itself_is_all_ones_and_nothing_significant():
    run = load("kernel_a")
    result = compare.compare([run, run])
    for r in result["rows"]:
        cell = r["cells"][1]
        if cell["state"] == "ok":
            assert cell["ratio"] == pytest.approx(1.0)
            assert not cell["significant"]
    assert result["differences"] == []


def test_two_machines_list_the_cpu_and_microcode():
    fields = dict(compare.compare([load("kernel_a"), load("machine_b")])["differences"])
    assert fields["cpu_model"][1] == "Intel(R) Xeon(R) Platinum 8480+"
    assert "microcode" in fields


def test_invalid_and_missing_rungs_are_shown_as_such_never_as_numbers():
    result = compare.compare([load("kernel_a"), load("invalid_rung")])
    cell = row(result, "minor_fault")["cells"][1]
    assert cell["state"] == "invalid" and cell["ratio"] is None
    text = compare.render_markdown(result, [load("kernel_a"), load("invalid_rung")])
    assert "**invalid** (2.000 minor faults per event" in text
    result = compare.compare([load("kernel_a"), load("missing_rung")])
    cell = row(result, "cow_fault")["cells"][1]
    assert cell["state"] == "missing" and cell["ratio"] is None
    assert "not measured (cow_fault_bench.json has no row" in compare.render_markdown(result, [load("kernel_a"), load("missing_rung")])


@pytest.mark.parametrize("bad, message", [("corrupt", "not valid JSON"),
                                          ("other_schema", "schema_version 99"),
                                          ("does_not_exist", "no such run folder")])
def test_bad_runs_are_refused_naming_the_file_and_nothing_is_written(tmp_path, capsys, bad, message):
    status = cli.main(["compare", str(RUNS / "kernel_a"), str(RUNS / bad), "--results", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and bad in err
    assert list(tmp_path.iterdir()) == []


def test_compare_command_writes_the_three_files(tmp_path):
    assert cli.main(["compare", str(RUNS / "kernel_a"), str(RUNS / "kernel_b"), "--results", str(tmp_path)]) == 0
    out = tmp_path / "compare-20260101-120000-lab1-6.18.0-vs-20260102-120000-lab1-6.19.0"
    for name in ("compare.md", "compare.svg", "compare.png"):
        assert (out / name).stat().st_size > 0
    assert "kernel_release" in (out / "compare.md").read_text()


def test_more_than_two_runs(tmp_path):
    assert cli.main(["compare", "--runs", str(RUNS / "kernel_a"), str(RUNS / "kernel_b"), str(RUNS / "machine_b"),
                     "--results", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("compare-*-vs-*-vs-*"))) == 1


def test_compare_chart_is_byte_identical_across_draws(tmp_path):
    runs = [load("kernel_a"), load("kernel_b")]
    result = compare.compare(runs)
    plot.draw_compare(result, runs, str(tmp_path / "a"))
    plot.draw_compare(result, runs, str(tmp_path / "b"))
    digest = [hashlib.sha256((tmp_path / f"{x}.svg").read_bytes()).hexdigest() for x in "ab"]
    assert digest[0] == digest[1]
    assert "kernel_release" in (tmp_path / "a.svg").read_text()


def test_exports_follow_their_formats_and_leave_out_invalid_rungs():
    run = load("invalid_rung")
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
def test_googles_compare_py_reads_run_json():
    r = subprocess.run([sys.executable, "/usr/share/benchmark/compare.py", "benchmarks",
                        str(RUNS / "kernel_a" / "run.json"), str(RUNS / "kernel_b" / "run.json")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout
    assert "minor_fault/manual_time" in r.stdout
