#!/usr/bin/env python3
"""Smoke test of one benchmark binary: run it tiny, then check what its JSON claims.

Every iteration row must be either skipped with a reason ("skipped: ...") or valid, carry its
fault counts per event, and a valid row's counters must satisfy every claim the binary describes
for it (its context's "pageladder_rows", benchmarks/core/rows.hpp), by the harness's one rule
(harness/pageladder/benchmark_json.py, verdict).
A binary that exits non-zero, writes no JSON, describes no rows, or reports any other error
fails the test. One whose rows were all skipped measured nothing: it fails, or, for a binary
whose rows may all need what a machine lacks (--allow-all-skipped), it is reported to ctest as
skipped (77), never as passed.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "harness"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pageladder import benchmark_json  # noqa: E402  (the harness's one reader of this JSON)

from common import SKIP  # noqa: E402

REQUIRED_COUNTERS = ("minor_faults_per_event", "major_faults_per_event", "valid", "events")


def check(rows, specs, allow_all_skipped=False):
    """Problems of a binary's rows ({id: description} in specs), printing each row's outcome."""
    problems, seen, skipped = [], 0, 0
    for row in benchmark_json.iteration_rows(rows):
        seen += 1
        name = row["name"]
        if row.get("error_occurred"):
            reason = benchmark_json.skip_reason(row)
            if reason is None:
                problems.append(f"{name}: error: {row.get('error_message', '')}")
            else:
                skipped += 1
                print(f"  {name}: skipped: {reason}")
            continue
        missing = [c for c in REQUIRED_COUNTERS if c not in row]
        if missing:
            problems.append(f"{name}: missing counters {missing}")
            continue
        spec = benchmark_json.spec_of(row.get("run_name", name), specs)
        if spec is None:
            problems.append(f"{name}: the binary does not describe this row")
            continue
        try:
            found = benchmark_json.verdict(row, spec)
        except ValueError as e:
            problems.append(f"{name}: {e}")
            continue
        if found.problems:
            problems.append(f"{name}: invalid: {'; '.join(found.problems)}")
            continue
        if row["events"] < 1:
            problems.append(f"{name}: no event was timed")
        for counter in found.not_verified:
            print(f"  {name}: claim on {counter} not verified here (the binary says why)")
        print(f"  {name}: valid, {row['minor_faults_per_event']:.3f} minor / "
              f"{row['major_faults_per_event']:.3f} major faults per event, "
              f"{row['real_time']:.3f} {row['time_unit']} per event")
    if seen == 0:
        problems.append("no benchmark row in the output")
    elif skipped == seen and not allow_all_skipped:
        problems.append("every row was skipped: nothing was measured (a binary whose rows all "
                        "need something this machine lacks passes --allow-all-skipped)")
    return problems




def nothing_measured(rows):
    """Whether every iteration row skipped (and there was one)."""
    iterations = list(benchmark_json.iteration_rows(rows))
    return bool(iterations) and all(r.get("error_occurred") and benchmark_json.skip_reason(r) is not None
                                    for r in iterations)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--allow-all-skipped", action="store_true",
                        help="when every row skipped (rows that need root and swap), report a skip (77), not a failure")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    command = args.command + [f"--benchmark_out={args.out}", "--benchmark_out_format=json"]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        print(result.stdout)
        print(f"FAIL: exit status {result.returncode}")
        return 1
    try:
        context, rows = benchmark_json.load(args.out)
        specs = benchmark_json.row_specs(context)
    except ValueError as e:
        print(result.stdout)
        print(f"FAIL: no usable JSON in {args.out}: {e}")
        return 1
    problems = check(rows, specs, args.allow_all_skipped)
    for p in problems:
        print(f"FAIL: {p}")
    if problems:
        return 1
    if nothing_measured(rows):
        print("SKIP: every row skipped here (reasons above): nothing was measured")
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
