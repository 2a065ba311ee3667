#!/usr/bin/env python3
"""Smoke test of one benchmark binary: run it tiny, then check what its JSON claims.

Every iteration row must be either skipped with a reason ("skipped: ...") or valid, carry its
fault counts per event, and a valid row's counts must match what the rung claims. A binary that
exits non-zero, writes no JSON, or reports any other error fails the test.
"""
import argparse
import json
import os
import subprocess
import sys

REQUIRED_COUNTERS = ("minor_faults_per_event", "major_faults_per_event", "valid", "events")


def check(rows):
    problems, seen = [], 0
    for row in rows:
        if row.get("run_type") != "iteration":
            continue
        seen += 1
        name = row["name"]
        if row.get("error_occurred"):
            message = row.get("error_message", "")
            if message.startswith("skipped: "):
                print(f"  {name}: {message}")
                continue
            problems.append(f"{name}: error: {message}")
            continue
        missing = [c for c in REQUIRED_COUNTERS if c not in row]
        if missing:
            problems.append(f"{name}: missing counters {missing}")
            continue
        if row["valid"] != 1:
            problems.append(f"{name}: invalid: {row.get('label', '(no reason)')}")
            continue
        if row["events"] < 1:
            problems.append(f"{name}: no event was timed")
        print(f"  {name}: valid, {row['minor_faults_per_event']:.3f} minor / "
              f"{row['major_faults_per_event']:.3f} major faults per event, "
              f"{row['real_time']:.3f} {row['time_unit']} per event")
    if seen == 0:
        problems.append("no benchmark row in the output")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
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
        with open(args.out) as f:
            rows = json.load(f)["benchmarks"]
    except (OSError, ValueError, KeyError) as e:
        print(result.stdout)
        print(f"FAIL: no usable JSON in {args.out}: {e}")
        return 1
    problems = check(rows)
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
