#!/usr/bin/env python3
"""Smoke test of one benchmark binary: run it tiny, then check what its JSON claims.

Every iteration row must be either skipped with a reason ("skipped: ...") or valid, carry its
fault counts per event, and a valid row's counters must satisfy every claim the binary describes
for it (its context's "pageladder_rows", benchmarks/core/rows.hpp), checked here on their own.
A binary that exits non-zero, writes no JSON, describes no rows, or reports any other error
fails the test.
"""
import argparse
import json
import os
import subprocess
import sys

REQUIRED_COUNTERS = ("minor_faults_per_event", "major_faults_per_event", "valid", "events")


def status(row):
    """The row's status, the JSON object its label carries (benchmarks/core/event_run.hpp)."""
    try:
        parsed = json.loads(row.get("label") or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def claims_by_row(context):
    """{row id: {counter: (lo, hi)}} from the binary's own descriptions (null = unbounded)."""
    described = json.loads(context.get("pageladder_rows") or "[]")
    return {d["id"]: {c: (float("-inf") if lo is None else lo, float("inf") if hi is None else hi)
                      for c, (lo, hi) in d.get("claims", {}).items()} for d in described}


def claims_for(name, claims):
    """The claims of a run name: its own id, or its series' ("tlb_sweep/4k/pages:8")."""
    base = name.split("/manual_time")[0].split("/min_time")[0]
    while base and base not in claims:
        base = base.rpartition("/")[0]
    return claims.get(base)


def check(rows, claims, allow_all_skipped=False):
    problems, seen, valid = [], 0, 0
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
            problems.append(f"{name}: invalid: {'; '.join(status(row).get('invalid', ['(no reason)']))}")
            continue
        if row["events"] < 1:
            problems.append(f"{name}: no event was timed")
        own = claims_for(name, claims)
        if own is None:
            problems.append(f"{name}: the binary does not describe this row")
        for counter, (lo, hi) in (own or {}).items():
            value = row.get(counter)
            if value is None and counter in status(row).get("not_verified", {}):
                print(f"  {name}: claim on {counter} not verified here (the binary says why)")
            elif value is None or not lo <= value <= hi:
                problems.append(f"{name}: {counter} = {value}, outside its claim [{lo}, {hi}]")
        valid += 1
        print(f"  {name}: valid, {row['minor_faults_per_event']:.3f} minor / "
              f"{row['major_faults_per_event']:.3f} major faults per event, "
              f"{row['real_time']:.3f} {row['time_unit']} per event")
    if seen == 0:
        problems.append("no benchmark row in the output")
    elif valid == 0 and not allow_all_skipped:
        problems.append("every row was skipped: nothing was measured (a binary whose rows all "
                        "need something this machine lacks passes --allow-all-skipped)")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--allow-all-skipped", action="store_true",
                        help="pass even when every row skipped (rows that need root and swap)")
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
            data = json.load(f)
        rows = data["benchmarks"]
        claims = claims_by_row(data.get("context", {}))
    except (OSError, ValueError, KeyError) as e:
        print(result.stdout)
        print(f"FAIL: no usable JSON in {args.out}: {e}")
        return 1
    problems = check(rows, claims, args.allow_all_skipped)
    if not claims:
        problems.append("the binary describes no rows (no pageladder_rows in its context)")
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
