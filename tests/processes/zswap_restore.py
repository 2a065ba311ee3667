#!/usr/bin/env python3
"""As root: swap_in_bench changes zswap only for the row that needs it (on for swap_in_zswap, off
for a device row on cgroup v1) and puts it back on a normal exit; SIGKILLed while the change is
in force, it leaves it to `pageladder restore`, which puts zswap back as found, from the journal.
A temporary swap file is provisioned for the test and removed after it. Exit 77 (skip) without
root, without zswap, or without room for the swap file.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

from checklist import Checklist

ZSWAP = "/sys/module/zswap/parameters/enabled"


def zswap():
    with open(ZSWAP) as f:
        return f.read().strip()


def page_cluster():
    with open("/proc/sys/vm/page-cluster") as f:
        return f.read().strip()


def main():
    if os.geteuid() != 0:
        print("skipped: needs root")
        return 77
    if not os.path.exists(ZSWAP):
        print("skipped: this kernel has no zswap")
        return 77
    source, build, python = sys.argv[1:4]
    sys.path.insert(0, os.path.join(source, "harness"))
    # This test's own journal, for binary and restore, in a folder of its own (a journal's folder
    # must be the user's alone: /tmp itself is refused).
    journal = os.path.join(tempfile.mkdtemp(prefix="pageladder-zswap-journal-"), "journal.jsonl")
    os.environ["PAGELADDER_JOURNAL"] = journal
    from pageladder import swap_devices, system

    found, cluster = zswap(), page_cluster()
    flipped = "N" if found == "Y" else "Y"
    # The row that changes zswap from how it was found: the zswap row turns it on; a device row
    # turns it off (on cgroup v1; on v2 it uses memory.zswap.max and changes nothing global).
    row = "^swap_in_zswap/" if found == "N" else "^swap_in_disk/"
    checks = Checklist()
    check = checks.check
    binary = os.path.join(build, "benchmarks", "swap_in_bench")
    try:
        with swap_devices.swap_file("/var/tmp", 128 << 20):
            command = [binary, f"--benchmark_filter={row}", "--benchmark_repetitions=1",
                       "--benchmark_min_time=0.01"]
            normal = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            check("a normal run exits 0 with the row valid", normal.returncode == 0 and "valid=1" in normal.stdout,
                  normal.stdout.strip()[-300:])
            check("a normal run puts zswap back as found", zswap() == found, f"{found} -> {zswap()}")
            if "skipped: " in normal.stdout and "valid=1" not in normal.stdout:
                print("skipped: the row skipped here (cgroup v2 changes no global switch?)")
                return 77
            run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and run.poll() is None and zswap() != flipped:
                time.sleep(0.005)
            check("the row changed zswap while it ran", zswap() == flipped)
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            check("SIGKILL left the change behind (so restore has work)", zswap() == flipped)
            restored = subprocess.run([python, "-m", "pageladder", "restore"], env=dict(os.environ),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            # The swap file is this test's own, journaled by this live process: restore leaves it
            # (exit 8, pending) and undoes the killed binary's changes.
            check("restore undoes the killed run's changes and leaves only this live test's swap file",
                  restored.returncode == 8 and [e["pid"] for e in system.pending_changes()] == [os.getpid()],
                  restored.stdout.strip())
            check("restore put zswap back as found", zswap() == found, f"{found} -> {zswap()}")
            check("restore put page-cluster back", page_cluster() == cluster, f"{cluster} -> {page_cluster()}")
    except system.SystemChangeError as e:
        print(f"skipped: {e}")
        return 77
    finally:
        if zswap() != found:  # never leave the machine changed, even when a check failed
            with open(ZSWAP, "w") as f:
                f.write(found)
        if os.path.exists(journal):
            os.unlink(journal)
        os.rmdir(os.path.dirname(journal))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
