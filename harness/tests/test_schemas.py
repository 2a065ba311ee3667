"""The documented formats hold: run.json against harness/schemas/run.schema.json (the fixture
runs, and every run collect.assemble writes), bad variants are rejected, and the repository's own
files point readers only at files a clone has."""
import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

import runs
from conftest import FIXTURES, fixture_text
from pageladder import SCHEMA_VERSION, collect

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "harness" / "schemas"
RUN_SCHEMA = SCHEMAS / "run.schema.json"


def validator():
    schema = json.loads(RUN_SCHEMA.read_text())
    return jsonschema.Draft202012Validator(schema)


def assert_valid(run):
    errors = sorted(validator().iter_errors(run), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def assert_invalid(run):
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(run)


# --- the schemas themselves ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["run.schema.json", "compare.schema.json"])
def test_schema_is_a_valid_draft_2020_12_schema_with_a_description(name):
    schema = json.loads((SCHEMAS / name).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["description"]


def test_run_schema_version_is_the_harness_schema_version():
    schema = json.loads(RUN_SCHEMA.read_text())
    assert schema["$defs"]["block"]["properties"]["schema_version"]["const"] == SCHEMA_VERSION


# --- good runs validate -------------------------------------------------------------------

FIXTURE_RUNS = ["kernel_a", "identical_twin", "kernel_b_minor_fault_10_percent_slower",
                "stlb_hit_at_another_page_count", "quick_run_file_rungs", "minor_fault_time_not_a_number",
                "other_machine", "minor_fault_invalid", "cow_fault_missing", "one_invocation_only"]


@pytest.mark.parametrize("name", FIXTURE_RUNS)
def test_fixture_run_validates(name):
    assert_valid(getattr(runs, name)())


def test_fixture_runs_include_an_invalid_rung_and_a_skipped_rung():
    """The fixture runs above exercise both branches of valid/why_invalid and a skip entry."""
    assert any(not r["valid"] for r in runs.minor_fault_invalid()["pageladder"]["ladder"])
    assert any(s.get("rung") == "cow_fault" for s in runs.cow_fault_missing()["pageladder"]["skipped"])


def test_assembled_run_validates_as_returned_and_as_written(assembled):
    run, run_dir = assembled
    assert_valid(run)
    assert_valid(json.loads((run_dir / "run.json").read_text()))


DEMAND_PAGING = {"size_bytes": 104857600, "page_size": 4096, "pages": 25600, "touch_minor_faults": 25601,
                 "touch_major_faults": 0,
                 "samples": [{"stage": "before malloc", "pages_touched": 0, "vm_size_kib": 2480, "vm_rss_kib": 1300,
                              "minor_faults": 90, "major_faults": 0},
                             {"stage": "after touching", "pages_touched": 25600, "vm_size_kib": 104884,
                              "vm_rss_kib": 103700, "minor_faults": 25691, "major_faults": 0}]}
MINOR = {"minor_fault": {"binary": "minor_fault_bench", "file": "minor_fault_bench.json", "seconds": 1.0,
                         "invocations": 5}}


def _binary_output(run_dir, fixture, as_file="minor_fault_bench.json"):
    (run_dir / as_file).write_text(fixture_text(fixture))


def _with_tlb(run_dir):
    shutil.copy(FIXTURES / "tlb_bench.json", run_dir / "tlb_bench.json")
    return {"tlb": {"binary": "tlb_bench", "file": "tlb_bench.json", "seconds": 2.0, "invocations": 1}, **MINOR}


# Each: (prepare(run_dir) -> outcomes, assemble keyword arguments). The run folder holds the
# valid minor_fault fixture to start with.
ASSEMBLE_CASES = {
    "minor_fault_only": (lambda d: MINOR, {}),
    "with_the_tlb_sweep": (_with_tlb, {}),
    "with_an_invalid_repetition": (
        lambda d: (_binary_output(d, "minor_fault_bench_invalid.json"), MINOR)[1], {}),
    "with_thp_skipped": (lambda d: (_binary_output(d, "minor_fault_bench_thp_skipped.json"), MINOR)[1], {}),
    "with_a_binary_not_built": (
        lambda d: {**MINOR, "cow_fault": {"binary": "cow_fault_bench", "file": "cow_fault_bench.json",
                                          "failed": "not built: build/benchmarks/cow_fault_bench does not exist"}},
        {}),
    "with_a_truncated_binary_json": (
        lambda d: ((d / "minor_fault_bench.json").write_text('{"context": {}, "benchmarks": ['), MINOR)[1], {}),
    "with_an_incomplete_binary": (
        lambda d: {"minor_fault": dict(MINOR["minor_fault"], incomplete="3 of 5 invocations: interrupted")}, {}),
    "with_skips_from_the_swap_phases": (
        lambda d: {**MINOR, "swap_in": {"binary": "swap_in_bench", "file": "swap_in_bench.json",
                                        "failed": "swap_in_bench exited with status 1 (zram phase)",
                                        "skipped": [{"rung": "swap_in_disk", "reason": "no swap file here"}],
                                        "swap_devices_used": []}},
        {"extra_skipped": [{"benchmark": "swap_in", "reason": "needs root"}]}),
    "with_the_demand_paging_experiment": (lambda d: MINOR, {"demand_paging": DEMAND_PAGING}),
    "with_the_demand_paging_experiment_failed": (
        lambda d: MINOR, {"demand_paging": {"failed": "not built: build/benchmarks/demand_paging does not exist"}}),
}


@pytest.mark.parametrize("case", list(ASSEMBLE_CASES))
def test_every_run_collect_assemble_writes_validates(run_dir, case):
    prepare, kwargs = ASSEMBLE_CASES[case]
    outcomes = prepare(run_dir)
    harness = {"quick": True, "invocations": 5, "repetitions": 3, "min_time": {"minor_fault": 0.02},
               "only": list(outcomes), "no_system_changes": True, "file_dir": None, "swap_dir": None,
               "tlb_pages": None, "benchmark_seconds": 1.0}
    run = collect.assemble(run_dir, outcomes, harness, **kwargs)
    assert_valid(run)
    assert_valid(json.loads((run_dir / "run.json").read_text()))


def test_assemble_cases_reach_the_optional_parts(run_dir, tmp_path):
    """The cases above do write a TLB sweep, the demand-paging experiment and an invalid rung."""
    outcomes = _with_tlb(run_dir)
    run = collect.assemble(run_dir, outcomes, {}, demand_paging=DEMAND_PAGING)
    assert run["pageladder"].get("demand_paging") == DEMAND_PAGING
    assert run["pageladder"]["derived"]["tlb"]["curves"]
    other = tmp_path / "20260101-000001-host-6.1.0"
    other.mkdir()
    _binary_output(other, "minor_fault_bench_invalid.json")
    invalid = collect.assemble(other, MINOR, {})
    assert any(not r["valid"] for r in invalid["pageladder"]["ladder"])


# --- bad runs are rejected ----------------------------------------------------------------

def _rung(run, rung_id="minor_fault"):
    return next(r for r in run["pageladder"]["ladder"] if r["id"] == rung_id)


def _row(run, rung_id="minor_fault"):
    """The row's description, its claims its own (the rung shares them when the ladder is rebuilt)."""
    row = run["pageladder"]["rows"][rung_id]
    row["claims"] = copy.deepcopy(row["claims"])
    return row


def _with_demand_paging(run):
    run["pageladder"]["demand_paging"] = copy.deepcopy(DEMAND_PAGING)
    return run["pageladder"]["demand_paging"]


def _with_tlb_curves(run):
    run["pageladder"]["derived"] = {"tlb": {
        "curves": {"4k": [{"pages": 16.0, "median_ns": 1.2, "lo_ns": 1.1, "hi_ns": 1.3, "valid": True}]},
        "reach": None, "huge_page_observation": None}}
    return run["pageladder"]["derived"]["tlb"]["curves"]["4k"][0]


def _tlb(run):
    return run["pageladder"]["derived"]["tlb"]


# The cases the contract makes plain, and the valid/why_invalid rule, each by name.
BAD = {
    "rung_valid_false_and_why_invalid_null": lambda r: _rung(r).update(valid=False, why_invalid=None),
    "rung_median_ns_a_string": lambda r: _rung(r).update(median_ns="812.0"),
    "pageladder_block_without_ladder": lambda r: r["pageladder"].pop("ladder"),
    "skipped_entry_without_reason": lambda r: r["pageladder"]["skipped"].append({"rung": "thp_fault"}),
    "rung_valid_true_with_a_reason": lambda r: _rung(r).update(why_invalid="2 faults per event"),
    "rung_valid_false_with_an_empty_reason": lambda r: _rung(r).update(valid=False, why_invalid=""),
    "rung_valid_a_string_with_a_reason": lambda r: _rung(r).update(valid="no", why_invalid="2 faults per event"),
    "schema_version_other_than_the_harness": lambda r: r["pageladder"].update(schema_version=99),
    "run_id_not_a_run_id": lambda r: r["pageladder"].update(run_id="latest"),
    "created_not_a_timestamp": lambda r: r["pageladder"].update(created="yesterday"),
    "benchmark_row_invocation_zero": lambda r: r["benchmarks"][0].update(pageladder_invocation=0),
    "row_time_unit_unknown": lambda r: _row(r).update(time_unit="fortnights"),
    "row_claim_lower_bound_a_string": lambda r: _row(r)["claims"].update(minor_faults_per_event=["0.99", 1.01]),
    "row_claim_upper_bound_a_string": lambda r: _row(r)["claims"].update(minor_faults_per_event=[0.99, "1.01"]),
    "row_claim_with_three_bounds": lambda r: _row(r)["claims"].update(minor_faults_per_event=[0.99, 1.01, 2]),
    "row_claim_with_one_bound": lambda r: _row(r)["claims"].update(minor_faults_per_event=[0.99]),
    "skipped_entry_naming_neither_rung_nor_benchmark": lambda r: r["pageladder"]["skipped"].append(
        {"reason": "no THP"}),
    "skipped_entry_with_an_unknown_key": lambda r: r["pageladder"]["skipped"].append(
        {"rung": "thp_fault", "reason": "no THP", "why": "no THP"}),
    "rung_samples_a_fraction": lambda r: _rung(r).update(samples=2.5),
    "rung_detail_a_string": lambda r: _rung(r).update(p50_ns="fast"),
    "rung_not_verified_entry_empty": lambda r: _rung(r).update(not_verified=[""]),
    "rung_not_verified_entry_a_number": lambda r: _rung(r).update(not_verified=[1]),
    "rung_count_a_string": lambda r: _rung(r)["counts"].update(minor_faults_per_event="1"),
    "rung_invocation_median_a_string": lambda r: _rung(r)["invocation_medians_ns"].append("812"),
    "rung_definition_value_a_string": lambda r: _rung(r)["definition"].update(pages="16"),
    "statistics_entry_not_text": lambda r: r["pageladder"].update(statistics={"median_ns": 1}),
    "demand_paging_without_any_sample": lambda r: _with_demand_paging(r).update(samples=[]),
    "tlb_curve_not_a_list": lambda r: (_with_tlb_curves(r), _tlb(r)["curves"].update({"4k": "text"})),
}


@pytest.mark.parametrize("change", list(BAD))
def test_schema_rejects(change):
    run = runs.kernel_a()
    assert_valid(run)
    BAD[change](run)
    assert_invalid(run)


def test_schema_rejects_a_run_that_is_not_an_object():
    assert_invalid([runs.kernel_a()])


def _skip(run):
    run["pageladder"]["skipped"].append({"rung": "thp_fault", "reason": "transparent huge pages are 'never'"})
    return run["pageladder"]["skipped"][-1]


def _benchmark_skip(run):
    run["pageladder"]["skipped"].append({"benchmark": "swap_in", "reason": "needs root"})
    return run["pageladder"]["skipped"][-1]


# Where in a run each object under test is (optional parts are added first, valid).
WHERE = {
    "run": lambda r: r,
    "benchmark_row": lambda r: r["benchmarks"][0],
    "block": lambda r: r["pageladder"],
    "kernel": lambda r: r["pageladder"]["kernel"],
    "binary": lambda r: r["pageladder"]["binaries"][0],
    "row": _row,
    "skip": _skip,
    "benchmark_skip": _benchmark_skip,
    "rung": _rung,
    "tlb_rung": lambda r: _rung(r, "tlb_hit"),
    "demand_paging": _with_demand_paging,
    "demand_paging_sample": lambda r: _with_demand_paging(r)["samples"][0],
    "derived": lambda r: (_with_tlb_curves(r), r["pageladder"]["derived"])[1],
    "tlb": lambda r: (_with_tlb_curves(r), _tlb(r))[1],
    "tlb_curve_point": _with_tlb_curves,
}
# Keys users and the harness's readers rely on: each must be there. The block's and the rung's
# are README.md's and the contract's, plus what compare, the charts and the rebuild from run.json
# read (family, event, claims, invocations, definition).
REQUIRED = {
    "run": ["context", "benchmarks", "pageladder"],
    "benchmark_row": ["name"],
    "block": ["schema_version", "run_id", "created", "machine", "kernel", "settings", "fingerprint", "harness",
              "binaries", "rows", "skipped", "ladder"],
    "kernel": ["release"],
    "binary": ["benchmark", "binary", "json", "seconds", "failed"],
    "row": ["id", "label", "family", "event", "claims", "time_unit", "rung", "benchmark", "file"],
    "skip": ["reason"],
    "rung": ["id", "label", "family", "event", "claims", "median_ns", "lo_ns", "hi_ns", "p99_ns", "samples",
             "valid", "why_invalid", "counts", "source", "invocations", "invocation_medians_ns", "definition"],
    "demand_paging": list(DEMAND_PAGING),
    "demand_paging_sample": list(DEMAND_PAGING["samples"][0]),
    "tlb": ["curves", "reach", "huge_page_observation"],
    "tlb_curve_point": ["pages", "median_ns", "lo_ns", "hi_ns", "valid"],
}
# Keys whose value has a type: each gets a value of another type in turn.
TYPED = {
    "run": ["context", "benchmarks", "pageladder"],
    "benchmark_row": ["name", "pageladder_invocation"],
    "block": REQUIRED["block"] + ["demand_paging", "derived", "statistics"],
    "kernel": ["release", "version", "cmdline"],
    "binary": REQUIRED["binary"] + ["invocations", "incomplete"],
    "row": REQUIRED["row"],
    "skip": ["rung", "reason"],
    "benchmark_skip": ["benchmark"],
    "rung": REQUIRED["rung"] + ["note", "not_verified", "mean_ns"],
    "tlb_rung": ["pages"],
    "demand_paging": REQUIRED["demand_paging"],
    "demand_paging_sample": REQUIRED["demand_paging_sample"],
    "derived": ["tlb"],
    "tlb": REQUIRED["tlb"],
    "tlb_curve_point": REQUIRED["tlb_curve_point"],
}
# Strings that name or explain something: never empty.
NON_EMPTY = {
    "benchmark_row": ["name"],
    "kernel": ["release"],
    "binary": ["benchmark", "binary"],
    "row": ["id", "label", "family", "benchmark", "file"],
    "skip": ["rung", "reason"],
    "benchmark_skip": ["benchmark"],
    "rung": ["id", "label", "family", "source"],
}
# Numbers below their least possible value.
TOO_SMALL = [
    ("binary", "seconds", -0.5), ("binary", "invocations", -1),
    ("rung", "median_ns", -1.0), ("rung", "lo_ns", -1.0), ("rung", "hi_ns", -1.0), ("rung", "p99_ns", -1.0),
    ("rung", "mean_ns", -1.0),
    ("rung", "samples", 0), ("rung", "invocations", 0), ("rung", "invocation_medians_ns", []),
    ("rung", "invocation_medians_ns", [-1.0]),
    ("demand_paging", "size_bytes", -1), ("demand_paging", "page_size", 0), ("demand_paging", "pages", -1),
]
# Each object of a list or map replaced by text.
NOT_AN_OBJECT = {
    "benchmark_row": lambda r: r["benchmarks"].__setitem__(0, "text"),
    "binary": lambda r: r["pageladder"]["binaries"].__setitem__(0, "text"),
    "row": lambda r: r["pageladder"]["rows"].__setitem__("minor_fault", "text"),
    "row_claim": lambda r: _row(r)["claims"].__setitem__("minor_faults_per_event", "text"),
    "skip": lambda r: r["pageladder"]["skipped"].append("text"),
    "rung": lambda r: r["pageladder"]["ladder"].__setitem__(0, "text"),
    "demand_paging_sample": lambda r: _with_demand_paging(r)["samples"].__setitem__(0, "text"),
    "tlb_curve_point": lambda r: (_with_tlb_curves(r), _tlb(r)["curves"]["4k"].__setitem__(0, "text")),
}


def _cases(table):
    return [pytest.param(where, key, id=f"{where}.{key}") for where, keys in table.items() for key in keys]


def _wrong_type(value):
    """A value of a type the key does not allow: not the type it has, nor null or a string (which
    some keys allow beside their type), nor an object where it has null."""
    if isinstance(value, (dict, list)):
        return "text"
    return ["wrong type"] if value is None else {"wrong": "type"}


OPTIONAL_VALID = {"demand_paging": DEMAND_PAGING, "derived": {"tlb": None}, "invocations": 5, "incomplete": None,
                  "note": "a note", "not_verified": [], "mean_ns": 800.0,
                  "statistics": {"median_ns": "median over every repetition"}}


@pytest.mark.parametrize("where, key", _cases(REQUIRED))
def test_schema_rejects_a_missing(where, key):
    run = runs.kernel_a()
    del WHERE[where](run)[key]
    assert_invalid(run)


@pytest.mark.parametrize("where, key", _cases(TYPED))
def test_schema_rejects_a_value_of_the_wrong_type(where, key):
    run = runs.kernel_a()
    target = WHERE[where](run)
    if key not in target:  # an optional key: added, valid, first
        target[key] = copy.deepcopy(OPTIONAL_VALID[key])
        assert_valid(run)
    target[key] = _wrong_type(target[key])
    assert_invalid(run)


@pytest.mark.parametrize("where, key", _cases(NON_EMPTY))
def test_schema_rejects_an_empty_string_for(where, key):
    run = runs.kernel_a()
    WHERE[where](run)[key] = ""
    assert_invalid(run)


@pytest.mark.parametrize("where, key, value", [pytest.param(*case, id=f"{case[0]}.{case[1]}={case[2]}")
                                               for case in TOO_SMALL])
def test_schema_rejects_a_number_too_small_for(where, key, value):
    run = runs.kernel_a()
    WHERE[where](run)[key] = value
    assert_invalid(run)


@pytest.mark.parametrize("where", list(NOT_AN_OBJECT))
def test_schema_rejects_text_in_place_of(where):
    run = runs.kernel_a()
    NOT_AN_OBJECT[where](run)
    assert_invalid(run)


@pytest.mark.parametrize("where", list(WHERE))
def test_each_place_under_test_is_valid_before_it_is_broken(where):
    """The cases above fail for what they change, not for the optional parts they add."""
    run = runs.kernel_a()
    WHERE[where](run)
    assert_valid(run)


# --- the repository points at nothing a clone lacks -----------------------------------------

# A path into the session's shared folder, which a user's clone does not have: relative
# (dot-dot slash shared), absolute (slash work slash shared), or a path starting at that folder.
# Spelled so that this file does not match itself.
OUTSIDE_REFERENCE = re.compile(r"(?:\.\./)+shared\b|/work/(?:shared)\b|(?<![\w./-])shared(?=/)")


def _tracked_files():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if listed.returncode != 0 or not listed.stdout:
        pytest.skip("not a git checkout: no tracked files to read")
    listed = listed.stdout
    return [name for name in listed.decode().split("\0") if name and name.split("/")[0] != "shared"]


def test_reference_pattern_finds_what_it_should():
    folder = "shar" + "ed"  # spelled in two so that this file does not match itself
    for text in (f"(../{folder}/CONTRACT.md)", f"see ../../{folder}/seed/x.txt", f"/work/{folder}/research",
                 f"`{folder}/CONTRACT.md`"):
        assert OUTSIDE_REFERENCE.search(text), text
    for text in ("the shared zero page", "a page shared with a live child", "MAP_SHARED", "std::shared_ptr",
                 "/usr/share/doc", "libfoo/shared/x"):
        assert not OUTSIDE_REFERENCE.search(text), text


def test_no_tracked_file_points_at_the_shared_folder():
    offenders = []
    for name in _tracked_files():
        path = REPO / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_REFERENCE.search(line):
                offenders.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not offenders, "files a clone has point at files it lacks:\n" + "\n".join(offenders)
