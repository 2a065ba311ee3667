#!/usr/bin/env python3
"""As root: the settings a row switches for itself alone, an mTHP size's `enabled`
(mthp_bench) and the 2 MiB hugetlb pool (its `nr_hugepages`, minor_fault_bench's hugetlb_fault), stay
changed after a SIGKILL mid-row only until `pageladder restore`, which puts back what was found.
Each knob is tested where the kernel has it, the other where it lacks it said as a skip of that
part. Exit 77 (skip) if not root, or where the kernel has neither knob.
"""
import os
import signal
import subprocess
import sys
import time

from checklist import Checklist

MTHP = "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"
POOL = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"


def read(path):
    text = open(path).read().strip()
    return text[text.index("[") + 1:text.index("]")] if "[" in text else text


def killed_mid_row(binary, row, changed):
    """Starts one row for far longer than it needs, SIGKILLs it once `changed()` holds; whether it did."""
    proc = subprocess.Popen([binary, f"--benchmark_filter=^{row}", "--benchmark_min_time=60"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if changed():
            seen = True
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return seen


def main():
    if os.geteuid() != 0:
        print("skipped: needs root")
        return 77
    knobs = [k for k in (MTHP, POOL) if os.path.exists(k)]
    for missing in sorted({MTHP, POOL} - set(knobs)):
        print(f"part skipped: this kernel has no {missing}")
    if not knobs:
        return 77
    source, build, python = sys.argv[1:4]
    env = dict(os.environ, PYTHONPATH=os.path.join(source, "harness"), MPLBACKEND="Agg")
    before = {k: read(k) for k in knobs}
    checks = Checklist()
    check = checks.check
    benchmarks = os.path.join(build, "benchmarks")
    exercised = []  # the knobs a row changed before it was killed
    if MTHP in before and before[MTHP] in ("never", "inherit") and \
            killed_mid_row(os.path.join(benchmarks, "mthp_bench"), "mthp_fault_64k", lambda: read(MTHP) != before[MTHP]):
        exercised.append(MTHP)
    if POOL in before and killed_mid_row(os.path.join(benchmarks, "minor_fault_bench"), "hugetlb_fault",
                                         lambda: int(read(POOL)) > int(before[POOL])):
        exercised.append(POOL)
    for knob in sorted(set(knobs) - set(exercised)):
        print(f"part skipped: no row changed {knob} here (already on, no counters, or no pool needed)")
    if not exercised:
        return 77
    knobs = exercised
    before = {k: before[k] for k in knobs}
    left = {k: read(k) for k in knobs}
    check("SIGKILL left the changes behind (so restore has work)", left != before, str(left))
    r = subprocess.run([python, "-m", "pageladder", "restore"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    check("restore exits 0", r.returncode == 0, r.stdout.strip()[-300:])
    for path, value in before.items():
        check(f"restore put back {path}", read(path) == value, f"{value} -> {read(path)}")
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
