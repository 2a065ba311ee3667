"""make compare of more than two sides: matrix.md, matrix.json and matrix.svg/png (a row per
rung, a column per side), and with ORDER=kernel the sides in kernel order and kernels.svg/png."""
import json
from pathlib import Path

import jsonschema

import runs
from pageladder import cli, matrix

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "matrix.schema.json"


def _write(tmp_path, name, run):
    return str(runs.write(run, tmp_path / name))


def _compare(tmp_path, *args):
    status = cli.main(["compare", *args, "--results", str(tmp_path / "out")])
    return status, next((tmp_path / "out").iterdir())


def test_kernels_sort_by_their_numbers_not_as_text():
    releases = ["6.19.0", "6.1.0-50-amd64", "6.12.3", "6.1.0-9-amd64"]
    assert sorted(releases, key=matrix.kernel_key) == ["6.1.0-9-amd64", "6.1.0-50-amd64", "6.12.3", "6.19.0"]


def test_three_sides_give_a_matrix_with_the_baseline_first_and_each_cell_its_verdict(tmp_path):
    a = _write(tmp_path, "a", runs.kernel_a())
    b = _write(tmp_path, "b", runs.kernel_b_minor_fault_50_percent_slower())
    c = _write(tmp_path, "c", runs.stlb_hit_at_another_page_count())
    status, out = _compare(tmp_path, "--runs", a, b, c)
    assert status == 0
    assert {p.name for p in out.iterdir()} >= {"matrix.md", "matrix.json", "matrix.svg", "matrix.png"}
    data = json.loads((out / "matrix.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert [s["name"] for s in data["sides"]] == ["6.18.0 (20260101-120000)", "6.19.0",
                                                  "6.18.0 (20260103-120000)"]
    rungs = {r["id"]: r for r in data["rungs"]}
    assert rungs["minor_fault"]["cells"][0]["verdict"] == "slower"
    assert rungs["minor_fault"]["baseline_ns"] > 0
    assert rungs["stlb_hit"]["cells"][1]["verdict"] == "not comparable"
    text = (out / "matrix.md").read_text()
    assert "**×1.500** slower" in text and "n/c" in text
    assert not (out / "kernels.svg").exists()   # only with ORDER=kernel


def test_order_kernel_puts_the_oldest_kernel_first_and_draws_the_headline_rungs_across_kernels(tmp_path):
    newest = _write(tmp_path, "new", runs.kernel_b_minor_fault_10_percent_slower())           # 6.19.0
    middle = _write(tmp_path, "mid", runs.kernel_a())                                        # 6.18.0
    oldest = _write(tmp_path, "old", runs.renamed(runs.identical_twin(3), "20260103-120000-lab1-6.1.0",
                                                  kernel="6.1.0-50-amd64"))
    status, out = _compare(tmp_path, "--runs", newest, middle, oldest, "--order", "kernel")
    assert status == 0
    data = json.loads((out / "matrix.json").read_text())
    assert [s["name"] for s in data["sides"]] == ["6.1.0-50-amd64", "6.18.0", "6.19.0"]
    assert (out / "kernels.svg").exists() and (out / "kernels.png").exists()


def test_order_kernel_across_an_emulated_guest_and_hardware_draws_no_kernel_chart_and_says_why(tmp_path, capsys):
    """A lab of this machine and a guest under TCG (make fleet): the guest's times are the
    emulator's, so no rung has a time both sides share and the kernel chart would mislead."""
    native = _write(tmp_path, "native", runs.kernel_a())                                      # 6.18.0
    newer = _write(tmp_path, "newer", runs.kernel_b_minor_fault_10_percent_slower())          # 6.19.0
    guest = _write(tmp_path, "guest", runs.renamed(runs.in_guest("tcg"), "20260103-120000-lab1-6.1.0",
                                                   kernel="6.1.0-50-amd64"))
    status, out = _compare(tmp_path, "--runs", native, newer, guest, "--order", "kernel")
    assert status == 0
    data = json.loads((out / "matrix.json").read_text())
    assert [s["name"] for s in data["sides"]][0] == "6.1.0-50-amd64"
    assert all(c["verdict"] in ("not comparable", "missing", "invalid") for r in data["rungs"] for c in r["cells"])
    assert (out / "matrix.svg").exists() and not (out / "kernels.svg").exists()
    said = capsys.readouterr().out
    assert "kernels.svg not drawn: no headline rung has a time comparable" in said and "emulated" in said


def test_two_sides_write_no_matrix(tmp_path):
    a = _write(tmp_path, "a", runs.kernel_a())
    b = _write(tmp_path, "b", runs.kernel_b_minor_fault_10_percent_slower())
    _, out = _compare(tmp_path, "--runs", a, b)
    assert not (out / "matrix.md").exists()
