#!/usr/bin/env python3
"""No forked process outlives a benchmark: after a normal run, after an injected crash right
after a fork, and after Ctrl-C (SIGINT to the benchmark alone, as a terminal would not send it
to a child in another session)."""
import os
import signal
import subprocess
import sys

from checklist import Checklist
import time


def descendants_alive(binary):
    """Processes still running this binary (parent or forked children)."""
    out = subprocess.run(["pgrep", "-f", binary], stdout=subprocess.PIPE, text=True).stdout
    return [int(p) for p in out.split() if int(p) != os.getpid()]


def wait_gone(binary, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not descendants_alive(binary):
            return True
        time.sleep(0.05)
    return False


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def main():
    binary = sys.argv[1]
    checks = Checklist()
    check = checks.check

    base = [binary, "--benchmark_min_time=0.002", "--benchmark_repetitions=1",
            "--benchmark_filter=cow_fault$|cow_fault/|cow_fault_child"]
    r = subprocess.run(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check("normal run exits 0", r.returncode == 0, f"(status {r.returncode})")
    check("no process left after a normal run", wait_gone(binary), str(descendants_alive(binary)))

    env = dict(os.environ, PAGELADDER_INJECT_CRASH="after_fork")
    r = subprocess.run(base, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check("injected crash after fork kills the benchmark", r.returncode != 0, f"(status {r.returncode})")
    check("no process left after the crash", wait_gone(binary), str(descendants_alive(binary)))

    proc = subprocess.Popen([binary, "--benchmark_min_time=5", "--benchmark_filter=cow_fault$|cow_fault/"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while not children_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    had_child = bool(children_of(proc.pid))
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    check("Ctrl-C arrived while a forked partner was alive", had_child)
    check("no process left after Ctrl-C", wait_gone(binary), str(descendants_alive(binary)))

    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
