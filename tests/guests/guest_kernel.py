#!/usr/bin/env python3
"""A guest on Debian 12's generic 6.1, as a user starts one, and its bad inputs.

- `make bench KERNEL=linux-image-amd64 QUICK=1 ONLY=...` hands back a run whose kernel is 6.1,
  which records its accelerator, and in which every row is valid or skipped (the rows that
  differed on 6.1: userfaultfd's fault class, cached file faults retried as major);
- a package apt does not know, a file that is not a kernel: one line each, a non-zero exit;
- a kernel that cannot boot (too little memory for it: a panic or a hang) fails with the console
  kept, within its boot time-out;
- after each, no qemu process and no staging folder is left.

Skips (77) where this machine has no qemu or no apt to fetch the kernel; CI installs them
(`make deps GUEST_DEPS=1` in .ci/run).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402
from common import fail, make  # noqa: E402
KERNEL = "linux-image-amd64"
ONLY = "minor_fault segv_fault uffd_fault file_fault"


def qemu_processes():
    out = subprocess.run(["pgrep", "-f", "qemu-system-x86_64"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def assert_nothing_left(results, before, what):
    left = [p for p in qemu_processes() if p not in before]
    if left:
        fail(f"{what}: qemu still running ({left})")
    staging = list(Path(results).glob(".guest-*"))
    if staging:
        fail(f"{what}: staging folder left behind: {staging}")


def guests(source, python, *args, timeout=300):
    env = dict(os.environ, PYTHONPATH=f"{source}/harness:{source}")
    return subprocess.run([python, "-m", "guests", *args], cwd=source, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def main():
    parser = common.checkout_arguments()
    a = parser.parse_args()
    if not shutil.which("qemu-system-x86_64") or not Path("/bin/busybox").exists():
        return common.skip("no qemu-system-x86_64 or static busybox (make deps GUEST_DEPS=1)")
    if not shutil.which("apt-get"):
        return common.skip("no apt-get to fetch Debian's kernel")
    before = qemu_processes()
    with tempfile.TemporaryDirectory(prefix="pageladder-guest-") as tmp:
        results = Path(tmp) / "results"

        bad = guests(a.source, a.python, "bench", "--kernel", "linux-image-0.0.0-no-such-kernel",
                     "--build-dir", a.build, "--results", str(results))
        if bad.returncode == 0 or "apt-get download failed" not in bad.stdout:
            fail("an unknown kernel package was not refused in one line", bad.stdout)
        notkernel = Path(tmp) / "vmlinuz-not-a-kernel"
        notkernel.write_text("text\n" * 200)
        bad = guests(a.source, a.python, "bench", "--kernel", str(notkernel), "--build-dir", a.build,
                     "--results", str(results))
        if bad.returncode == 0 or "not a kernel image" not in bad.stdout:
            fail("a file that is no kernel was not refused", bad.stdout)
        assert_nothing_left(results, before, "bad input")

        run = make(a.source, a.build, a.python, results, "bench", f"KERNEL={KERNEL}", "QUICK=1", f"ONLY={ONLY}",
                   timeout=900)
        if run.returncode != 0:
            fail(f"make bench KERNEL={KERNEL} exited {run.returncode}", run.stdout)
        assert_nothing_left(results, before, "the guest run")
        block = json.loads((results / "latest" / "run.json").read_text())["pageladder"]
        guest = block["settings"].get("guest") or {}
        if not block["kernel"]["release"].startswith("6.1."):
            fail(f"the run's kernel is {block['kernel']['release']}, not Debian 12's 6.1")
        if guest.get("accel") not in ("tcg", "kvm") or guest.get("cgroup") != "v2":
            fail(f"the run does not record its guest: {guest}")
        if block["settings"].get("cgroup_version") not in ("v2", 2, "2"):
            fail(f"the guest's cgroup is {block['settings'].get('cgroup_version')}, not v2")
        invalid = {r["id"]: r["why_invalid"] for r in block["ladder"] if not r["valid"]}
        if invalid:
            fail(f"invalid rows on 6.1: {invalid}", run.stdout)
        ids = {r["id"] for r in block["ladder"]}
        for rung in ("uffd_fault", "file_fault_cached_private", "minor_fault", "segv_fault"):
            if rung not in ids:
                fail(f"{rung} was not measured in the guest", run.stdout)
        if not (results / "latest" / "logs" / "guest-console.log").exists():
            fail("the guest's console log is not in the run's logs/")
        if not (results / "latest" / "ladder.svg").exists():
            fail("the host drew no chart for the guest's run")

        # Too little memory for the kernel: it panics or hangs before the guest's init.
        doomed = guests(a.source, a.python, "bench", "--kernel", KERNEL, "--build-dir", a.build,
                        "--results", str(results), "--memory-mib", "48", "--boot-timeout", "40",
                        "--", "--quick", "--only", "segv_fault")
        if doomed.returncode == 0 or "the guest's console" not in doomed.stdout:
            fail("a kernel that cannot boot was not reported with its console", doomed.stdout)
        if not list(results.glob("*-failed/logs/guest-console.log")):
            fail("the failed boot's console was not kept")
        assert_nothing_left(results, before, "the failed boot")
    print(f"ok: {KERNEL} in a {guest['accel']} guest: {len(ids)} rows valid; bad input refused; "
          f"a failed boot reported; nothing left behind")
    return 0


if __name__ == "__main__":
    sys.exit(main())
