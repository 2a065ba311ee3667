import json
import os
import math

import pytest

from pageladder import SCHEMA_VERSION, collect


def test_run_json_is_google_benchmark_plus_pageladder_block(assembled):
    run, run_dir = assembled
    on_disk = json.loads((run_dir / "run.json").read_text())
    assert on_disk["context"]["pageladder_timer"]
    assert len(on_disk["benchmarks"]) == 27
    block = on_disk["pageladder"]
    assert block["schema_version"] == SCHEMA_VERSION
    for key in ("machine", "kernel", "settings", "skipped", "ladder", "fingerprint"):
        assert key in block
    assert block["run_id"] == run_dir.name
    assert block["settings"]["timer"] == on_disk["context"]["pageladder_timer"]
    assert block["kernel"]["release"]


def test_run_json_is_strict_json_without_nan(assembled):
    _, run_dir = assembled
    text = (run_dir / "run.json").read_text()
    assert "NaN" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def test_strict_json_replaces_nan_and_infinity():
    assert collect.strict_json({"a": [math.nan, 1.0, math.inf]}) == {"a": [None, 1.0, None]}


def test_truncated_binary_json_skips_that_benchmark(run_dir):
    (run_dir / "minor_fault_bench.json").write_text('{"context": {}, "benchmarks": [')
    run = collect.assemble(run_dir, {"minor_fault": {"binary": "minor_fault_bench",
                                                     "file": "minor_fault_bench.json"}}, {})
    assert run["pageladder"]["ladder"] == []
    assert "not valid JSON" in run["pageladder"]["skipped"][0]["reason"]


def test_load_run_accepts_what_assemble_wrote(assembled):
    _, run_dir = assembled
    assert collect.load_run(run_dir)["pageladder"]["ladder"]


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "no such run folder"),
    (lambda d: d.mkdir(), "missing"),
    (lambda d: (d.mkdir(), (d / "run.json").write_text('{"pageladder": {')), "not valid JSON"),
    (lambda d: (d.mkdir(), (d / "run.json").write_text('{"benchmarks": []}')), "no 'pageladder' block"),
    (lambda d: (d.mkdir(), (d / "run.json").write_text('{"pageladder": {"schema_version": 99}}')),
     "schema_version 99"),
])
def test_load_run_names_the_file_and_the_problem(tmp_path, setup, message):
    d = tmp_path / "run"
    setup(d)
    with pytest.raises(collect.RunError, match=message):
        collect.load_run(d)


def _hostile(base, **changes):
    """A run.json like a real one, its pageladder block changed."""
    block = {"schema_version": SCHEMA_VERSION, "run_id": "20261201-120000-host-6.18", "machine": {},
             "kernel": {}, "settings": {}, "skipped": [], "ladder": []}
    block.update(changes)
    return json.dumps({"benchmarks": [], "pageladder": block})


@pytest.mark.parametrize("content, message", [
    (b'{"pageladder": "\xff\xfe"}', "not UTF-8"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    (b"[1, 2]", "not dict"),
    (_hostile(None, run_id="/../../escaped").encode(), "not a plain name"),
    (_hostile(None, run_id="a/../../b").encode(), "not a plain name"),
    (_hostile(None, run_id=["x"]).encode(), "'run_id' is not a JSON str"),
    (_hostile(None, kernel="6.1").encode(), "'kernel' is not a JSON dict"),
    (_hostile(None, ladder=[1, 2]).encode(), "not an object with an id"),
    (_hostile(None, skipped={"a": 1}).encode(), "'skipped' is not a JSON list"),
])
def test_a_hostile_run_json_is_one_line_naming_the_file(tmp_path, content, message):
    d = tmp_path / "run"
    d.mkdir()
    (d / "run.json").write_bytes(content)
    with pytest.raises(collect.RunError, match=message) as caught:
        collect.load_run(d)
    assert str(d / "run.json") in str(caught.value) and "\n" not in str(caught.value)


def test_a_run_json_that_is_a_symlink_or_a_fifo_is_not_read(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (tmp_path / "elsewhere.json").write_text(_hostile(None))
    (d / "run.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(collect.RunError, match="symbolic link"):
        collect.load_run(d)
    (d / "run.json").unlink()
    os.mkfifo(d / "run.json")
    with pytest.raises(collect.RunError):  # not a regular file: never blocks reading a FIFO
        collect.load_run(d)


def test_run_id_has_the_contract_shape():
    import re
    assert re.fullmatch(r"\d{8}-\d{6}-[^/]+-[^/]+", collect.run_id())


def test_a_kernel_release_with_a_slash_makes_a_plain_run_id(monkeypatch):
    monkeypatch.setattr(collect.platform, "release", lambda: "6.1/../../x y")
    rid = collect.run_id()
    assert "/" not in rid and " " not in rid
    from pageladder import safe_io
    assert safe_io.safe_name(rid) == rid


def test_run_json_benchmarks_are_clean_for_googles_tools(tmp_path):
    from conftest import fixture_text
    d = tmp_path / "r"
    d.mkdir()
    (d / "minor_fault_bench.json").write_text(fixture_text("minor_fault_bench_thp_skipped.json"))
    (d / "tlb_bench.json").write_text(fixture_text("tlb_bench.json"))
    run = collect.assemble(d, {"minor_fault": {"binary": "minor_fault_bench", "file": "minor_fault_bench.json"},
                               "tlb": {"binary": "tlb_bench", "file": "tlb_bench.json"}}, {})
    rows = run["benchmarks"]
    assert not [r for r in rows if r.get("error_occurred")]  # skipped rows live in `skipped` only
    assert {"rung": "thp_fault", "reason": "transparent huge pages are 'never' "
            "(/sys/kernel/mm/transparent_hugepage/enabled)"} in run["pageladder"]["skipped"]
    families = {}
    for r in rows:
        families.setdefault(r["family_index"], set()).add(r["run_name"].split("/")[0])
    assert all(len(names) == 1 for names in families.values()), families  # unique across binaries


def test_an_invocation_cut_short_by_a_crash_is_left_out_of_the_merge(tmp_path):
    """A binary that aborts mid-write (as on a kernel without THP once did) leaves a truncated
    JSON: the run goes on with the invocations that finished."""
    import json
    from pageladder import runner
    good = tmp_path / "segv_fault_bench.1.json"
    good.write_text(json.dumps({"context": {"host_name": "x"}, "benchmarks": [{"name": "segv_fault"}]}))
    cut = tmp_path / "segv_fault_bench.2.json"
    cut.write_text('{"context": {"host_name": "x"}, "benchmarks": [{"na')
    out = tmp_path / "segv_fault_bench.json"
    assert runner.merge_invocations([good, cut], out) == 1
    merged = json.loads(out.read_text())
    assert [r["pageladder_invocation"] for r in merged["benchmarks"]] == [1]
    assert merged["context"]["pageladder_unreadable_invocations"] == ["segv_fault_bench.2.json"]
    assert runner.merge_invocations([cut], out) == 0
