"""runner.py with fake benchmark binaries: invocations in rounds, rows tagged with their
invocation, and what completed kept when a binary fails or is stopped part-way."""
import json
import os
import stat
import sys

from pageladder import benchmark_json, registry, runner

# A stand-in for a Google Benchmark binary: writes one row per repetition to --benchmark_out,
# and exits with the status FAKE_FAIL_AT names for that invocation (its out file's number).
FAKE = """#!{python}
import json, os, sys
if "--pageladder_describe_rows" in sys.argv:  # the TLB binary's rows: its rungs, and the sweep
    print(json.dumps([{{"id": i, "rung": True}} for i in ("tlb_hit", "stlb_hit", "page_walk")]
                     + [{{"id": "tlb_sweep", "rung": False}}]))
    sys.exit(0)
out = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--benchmark_out="))
number = int(out.rsplit(".", 2)[1])
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(f"{{os.path.basename(sys.argv[0])}} {{number}} {{' '.join(a for a in sys.argv if 'filter' in a)}}\\n")
if str(number) == os.environ.get("FAKE_FAIL_AT"):
    sys.exit(1)
rows = [{{"name": "r/manual_time", "run_name": "r/manual_time", "run_type": "iteration",
          "repetition_index": k, "real_time": 1.0 + number, "time_unit": "us"}} for k in range(3)]
json.dump({{"context": {{"executable": sys.argv[0]}}, "benchmarks": rows}}, open(out, "w"))
"""


def fake_build(tmp_path, names):
    bench_dir = tmp_path / "build" / "benchmarks"
    bench_dir.mkdir(parents=True)
    for name in names:
        path = bench_dir / name
        path.write_text(FAKE.format(python=sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return tmp_path / "build"


def run(tmp_path, monkeypatch, fail_at=None, count=3):
    selected = [registry.BENCHMARK_BY_NAME[n] for n in ("tlb", "minor_fault")]
    build = fake_build(tmp_path, [b.binary for b in selected])
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    if fail_at:
        monkeypatch.setenv("FAKE_FAIL_AT", str(fail_at))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    outcomes, interrupted = runner.run_all(selected, build, run_dir, quick=True, out=open(os.devnull, "w"),
                                           invocations=count)
    calls = (tmp_path / "calls.log").read_text().splitlines()
    return outcomes, run_dir, calls


def test_invocations_run_in_rounds_and_rows_carry_their_invocation(tmp_path, monkeypatch):
    outcomes, run_dir, calls = run(tmp_path, monkeypatch)
    assert [c.split()[:2] for c in calls] == [["tlb_bench", "1"], ["minor_fault_bench", "1"],
                                              ["tlb_bench", "2"], ["minor_fault_bench", "2"],
                                              ["tlb_bench", "3"], ["minor_fault_bench", "3"]]
    # Only the TLB rungs run after the first invocation (the sweep runs once).
    assert "filter" not in calls[0] and "--benchmark_filter=^(" in calls[2]
    assert all(rung in calls[2] for rung in ("tlb_hit", "stlb_hit", "page_walk")) and "tlb_sweep" not in calls[2]
    merged = json.loads((run_dir / "minor_fault_bench.json").read_text())
    assert [r[benchmark_json.INVOCATION_KEY] for r in merged["benchmarks"]] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert {r["real_time"] for r in merged["benchmarks"] if r[benchmark_json.INVOCATION_KEY] == 2} == {3.0}
    assert outcomes["minor_fault"]["invocations"] == 3 and "failed" not in outcomes["minor_fault"]


def test_a_failure_part_way_keeps_what_completed_and_says_so(tmp_path, monkeypatch):
    outcomes, run_dir, calls = run(tmp_path, monkeypatch, fail_at=2)
    minor = outcomes["minor_fault"]
    assert "failed" not in minor and minor["invocations"] == 1
    assert minor["incomplete"].startswith("1 of 3 invocations: minor_fault_bench exited with status 1")
    assert [c.split()[:2] for c in calls].count(["minor_fault_bench", "3"]) == 0  # not invoked again
    merged = json.loads((run_dir / "minor_fault_bench.json").read_text())
    assert {r[benchmark_json.INVOCATION_KEY] for r in merged["benchmarks"]} == {1}


def test_a_binary_that_never_completes_fails(tmp_path, monkeypatch):
    outcomes, run_dir, _ = run(tmp_path, monkeypatch, fail_at=1)
    assert outcomes["minor_fault"]["failed"].startswith("minor_fault_bench exited with status 1")
    assert not (run_dir / "minor_fault_bench.json").exists()


# A binary with a steady row (the same time in every invocation) and, unless FAKE_ALL_STEADY,
# a noisy one (50% apart between invocations); it logs the filter each invocation got.
ADAPTIVE_FAKE = """#!{python}
import json, os, re, sys
out = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--benchmark_out="))
number = int(out.rsplit(".", 2)[1])
given = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--benchmark_filter=")), "")
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(f"{{os.path.basename(sys.argv[0])}} {{number}} {{given}}\\n")
times = {{"steady": 2.0, "noisy": 1.0 + 0.5 * (number % 2)}}
if os.environ.get("FAKE_ALL_STEADY"):
    times.pop("noisy")
rows = [{{"name": f"{{n}}/manual_time", "run_name": f"{{n}}/manual_time", "run_type": "iteration",
          "repetition_index": k, "real_time": t, "time_unit": "us"}}
        for n, t in times.items() if not given or re.search(given, n + "/manual_time") for k in range(3)]
json.dump({{"context": {{"executable": sys.argv[0]}}, "benchmarks": rows}}, open(out, "w"))
"""


def _adaptive_run(tmp_path, monkeypatch, all_steady=False, invocations=None):
    bench = registry.BENCHMARK_BY_NAME["segv_fault"]
    bench_dir = tmp_path / "build" / "benchmarks"
    bench_dir.mkdir(parents=True)
    (bench_dir / bench.binary).write_text(ADAPTIVE_FAKE.format(python=sys.executable))
    (bench_dir / bench.binary).chmod(0o755)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    if all_steady:
        monkeypatch.setenv("FAKE_ALL_STEADY", "1")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    outcomes, _ = runner.run_all([bench], tmp_path / "build", run_dir, quick=False, out=open(os.devnull, "w"),
                                 invocations=invocations)
    calls = [line.split(" ", 2) for line in (tmp_path / "calls.log").read_text().splitlines()]
    return outcomes["segv_fault"], calls, run_dir


def test_a_full_run_invokes_only_the_rows_not_yet_known_within_its_precision(tmp_path, monkeypatch):
    outcome, calls, run_dir = _adaptive_run(tmp_path, monkeypatch)
    least, most = runner.MIN_INVOCATIONS["full"], runner.INVOCATIONS["full"]
    assert [int(c[1]) for c in calls] == list(range(1, most + 1))
    assert all(c[2] == "" for c in calls[:least])                     # every row until the minimum
    assert all("noisy" in c[2] and "steady" not in c[2] for c in calls[least:])  # then the noisy one
    assert outcome["invocations"] == most
    rows = json.loads((run_dir / "segv_fault_bench.json").read_text())["benchmarks"]
    per_row = {name: {r[benchmark_json.INVOCATION_KEY] for r in rows if r["run_name"].startswith(name)}
               for name in ("steady", "noisy")}
    assert per_row == {"steady": set(range(1, least + 1)), "noisy": set(range(1, most + 1))}


def test_a_binary_whose_rows_are_all_known_stops_at_the_minimum(tmp_path, monkeypatch):
    outcome, calls, _ = _adaptive_run(tmp_path, monkeypatch, all_steady=True)
    assert len(calls) == runner.MIN_INVOCATIONS["full"] and outcome["invocations"] == len(calls)


def test_a_run_told_its_count_runs_every_row_that_often(tmp_path, monkeypatch):
    outcome, calls, _ = _adaptive_run(tmp_path, monkeypatch, all_steady=True, invocations=2)
    assert len(calls) == 2 and all(c[2] == "" for c in calls)


def _invocation_file(folder, number, rows):
    """invocations/segv_fault_bench.<number>.json with rows: [(name, time_us or None for a skip)]."""
    (folder / "invocations").mkdir(exist_ok=True)
    data = [{"name": f"{n}/manual_time", "run_name": f"{n}/manual_time", "run_type": "iteration",
             "repetition_index": 0, "real_time": t or 0, "time_unit": "us",
             **({"error_occurred": True, "error_message": "skipped: not here"} if t is None else {})}
            for n, t in rows]
    (folder / "invocations" / f"segv_fault_bench.{number}.json").write_text(
        json.dumps({"context": {}, "benchmarks": data}))


def test_rows_left_keeps_open_what_failed_now_and_then_and_decides_nothing_on_an_unreadable_file(tmp_path):
    bench = registry.BENCHMARK_BY_NAME["segv_fault"]
    binary = runner._Binary(bench, tmp_path, tmp_path, False, (), open(os.devnull, "w"), 1.0)
    for number in range(1, 5):
        _invocation_file(tmp_path, number, [("steady", 2.0), ("flaky", None if number == 4 else 3.0),
                                             ("never", None)])
    assert binary.rows_left(runner.PRECISION) == ["flaky"]  # steady is done, never has nothing to measure
    (tmp_path / "invocations" / "segv_fault_bench.5.json").write_text("{cut short")
    assert binary.rows_left(runner.PRECISION) is None


def test_without_supporting_rows_the_tlb_binary_runs_its_rungs_from_the_first_invocation(tmp_path, monkeypatch):
    selected = [registry.BENCHMARK_BY_NAME["tlb"]]
    build = fake_build(tmp_path, [b.binary for b in selected])
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    runner.run_all(selected, build, run_dir, quick=True, out=open(os.devnull, "w"), invocations=1,
                   supporting_rows=False)
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert len(calls) == 1 and "--benchmark_filter=^(" in calls[0] and "tlb_sweep" not in calls[0]
