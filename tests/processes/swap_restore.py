#!/usr/bin/env python3
"""As root: a make-bench run of swap_in killed with SIGKILL mid-run leaves swap, zram, a cgroup
or page-cluster behind only until `pageladder restore`, which undoes all of it; a second run
started while the first is live is refused with a clear message; and a run given SIGTERM while
its swap file (SWAP_DIR relative to its folder) is active undoes everything itself. Exit 77
(skip) if not root.
"""
import glob
import os
import signal
import subprocess
import sys

from checklist import Checklist
import tempfile
import time


def state():
    swaps = open("/proc/swaps").read().splitlines()[1:]
    zram = {p: open(p).read().strip() for p in glob.glob("/sys/block/zram*/disksize")}
    cgroups = [p for p in glob.glob("/sys/fs/cgroup/**/pageladder-*", recursive=True) if os.path.isdir(p)]
    files = glob.glob("/var/tmp/pageladder-swap-*")
    cluster = open("/proc/sys/vm/page-cluster").read().strip()
    return {"swaps": swaps, "zram": zram, "cgroups": cgroups, "files": files, "page_cluster": cluster}


def main():
    if os.geteuid() != 0:
        print("skipped: needs root")
        return 77
    source, build, python = sys.argv[1:4]
    env = dict(os.environ, PYTHONPATH=os.path.join(source, "harness"), MPLBACKEND="Agg")
    harness = [python, "-m", "pageladder"]
    before = state()
    checks = Checklist()
    check = checks.check

    with tempfile.TemporaryDirectory(prefix="pageladder-restore-") as results:
        run = subprocess.Popen(harness + ["bench", "--quick", "--only", "swap_in", "--build-dir", build,
                                          "--results", results],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        changed = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and run.poll() is None:
            now = state()
            if now["swaps"] != before["swaps"] and now["cgroups"]:
                changed = True
                break
            time.sleep(0.02)
        check("the run made system changes before it was killed", changed)

        second = subprocess.run(harness + ["bench", "--quick", "--only", "swap_in", "--build-dir", build,
                                           "--results", results],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check("a second concurrent run is refused (exit 7)", second.returncode == 7 and
              "another pageladder run" in second.stdout, second.stdout.strip()[-200:])

        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        # The benchmark binary (its own session) gets SIGTERM from PR_SET_PDEATHSIG and undoes
        # what it can; let it finish, so restore is not racing it and nothing outlives the test.
        binary = os.path.join(build, "benchmarks", "swap_in_bench")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and subprocess.run(
                ["pgrep", "-f", binary], stdout=subprocess.DEVNULL).returncode == 0:
            time.sleep(0.05)
        check("the benchmark died with its runner", subprocess.run(
            ["pgrep", "-f", binary], stdout=subprocess.DEVNULL).returncode != 0)
        left = state()
        check("SIGKILL left changes behind (so restore has work)", left != before)

        r = subprocess.run(harness + ["restore"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        check("restore exits 0", r.returncode == 0, r.stdout.strip())
        after = state()
        for key in before:
            check(f"restore put back {key}", after[key] == before[key], f"{before[key]} -> {after[key]}")

        # SIGTERM while the swap file is active, SWAP_DIR given relative to the run's folder
        # (resolved before it is journaled): the run undoes everything itself, no restore needed.
        run = subprocess.Popen(harness + ["bench", "--quick", "--only", "swap_in", "--build-dir", build,
                                          "--results", results, "--swap-dir", "tmp"],
                               cwd="/var", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
        deadline, swapping = time.monotonic() + 120, False
        while time.monotonic() < deadline and run.poll() is None:
            if any(line.startswith("/var/tmp/pageladder-swap-") for line in state()["swaps"]):
                swapping = True
                break
            time.sleep(0.02)
        check("the run swapped to a file in SWAP_DIR=tmp (relative to /var)", swapping,
              "" if swapping or run.poll() is None else run.stdout.read()[-600:])
        run.send_signal(signal.SIGTERM)
        check("SIGTERM ends the run as an interruption (exit 130)", run.wait(timeout=120) == 130)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and subprocess.run(
                ["pgrep", "-f", binary], stdout=subprocess.DEVNULL).returncode == 0:
            time.sleep(0.05)
        after = state()
        for key in before:
            check(f"SIGTERM mid-swap left {key} as it was", after[key] == before[key],
                  f"{before[key]} -> {after[key]}")
        r = subprocess.run(harness + ["restore"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        check("nothing was left for restore", r.returncode == 0 and "nothing to restore" in r.stdout, r.stdout.strip())
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
