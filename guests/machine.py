"""One qemu guest: its command line, the accelerator, the console, time-outs and cleanup.

The guest shares the host's root read-only over 9p (its Python, matplotlib and the checkout's
build/ are the host's own, so nothing is installed into it) and one staging folder read-write,
and has a disk of its own (ext4, for /var/tmp: file_fault's cold reads and the swap file need
real storage). KVM runs the guest where /dev/kvm can run a stock kernel; `kvm_pvm` (a
paravirtual KVM inside another VM) cannot, and a KVM guest that does not reach its init falls
back to software emulation (TCG), which runs the kernel's real code about 7x slower: valid for
what a row claims, emulated for what it costs. The run records which."""
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

STARTED = "pageladder-guest-started"
FAILED = "pageladder-guest-failed:"
PR_SET_PDEATHSIG = 1


class GuestError(Exception):
    """The guest could not run the command; the message says why in one line."""


@dataclass
class Shape:
    cpus: int
    memory_mib: int
    accel: str                  # "kvm" or "tcg"
    accel_reason: str = ""      # why this accelerator (KVM refused, asked for ...)
    cgroup: str = "v2"


def qemu_binary():
    found = shutil.which("qemu-system-x86_64")
    if found:
        return found
    raise GuestError("qemu-system-x86_64 is not installed (make deps KERNEL=... installs qemu-system-x86)")


def qemu_version(qemu):
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"version (\S+)", out)
    return found.group(1) if found else "unknown"


def kvm_verdict():
    """(usable, reason): whether to try KVM at all."""
    if Path("/sys/module/kvm_pvm").exists():
        return False, "/dev/kvm is kvm_pvm (paravirtual KVM), which cannot run a stock kernel"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
    except OSError as e:
        return False, f"/dev/kvm: {e.strerror}"
    return True, "/dev/kvm"


def command(qemu, shape, image, initrd, staging, disk, append, devices=()):
    """qemu's command line; `devices`: more of its arguments (a lab host's network card)."""
    accel = ["-accel", "kvm", "-cpu", "host"] if shape.accel == "kvm" else \
        ["-accel", "tcg,thread=multi", "-cpu", "max"]
    return [qemu, *accel, "-smp", str(shape.cpus), "-m", str(shape.memory_mib),
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
            "-monitor", "none", "-no-reboot",
            "-kernel", str(image), "-initrd", str(initrd), "-append", append,
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={staging},mount_tag=staging,security_model=none",
            "-drive", f"file={disk},format=raw,if=virtio,cache=unsafe", *devices]


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Reaper:
    """The process that undoes the guest if this one is killed (guests/reaper.py)."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "guests.reaper"], stdin=subprocess.PIPE,
                                        text=True, start_new_session=True,
                                        env=dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent)))

    def tell(self, word, value):
        self.process.stdin.write(f"{word} {value}\n")
        self.process.stdin.flush()

    def done(self):
        try:
            self.process.stdin.write("done\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait()


def boot(qemu, shape, image, initrd, staging, disk, append, console_log, reaper, boot_timeout,
         run_timeout, echo, devices=()):
    """Runs the guest to its end; returns the seconds it took to reach its init.
    echo(line) gets each console line after the guest's init started the command."""
    argv = command(qemu, shape, image, initrd, staging, disk, append, devices)
    started_at = time.monotonic()
    with open(console_log, "a") as log:  # a KVM attempt's console stays before the TCG one
        log.write("# " + " ".join(argv) + "\n")
        log.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        reaper.tell("pid", proc.pid)
        state = {"started": None, "failed": None}
        tail = deque(maxlen=20)

        def read():
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                log.write(line + "\n")
                log.flush()
                tail.append(line)
                if state["started"] is None and STARTED in line:
                    state["started"] = time.monotonic() - started_at
                elif line.startswith(FAILED):
                    state["failed"] = line[len(FAILED):].strip()
                elif state["started"] is not None:
                    echo(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            while proc.poll() is None:
                elapsed = time.monotonic() - started_at
                if state["started"] is None and elapsed > boot_timeout:
                    raise GuestError(f"the guest did not reach its init within {boot_timeout} s "
                                     f"(hung at boot?)")
                if run_timeout and elapsed > boot_timeout + run_timeout:
                    raise GuestError(f"the guest ran past its limit of {boot_timeout + run_timeout} s")
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            reaper.tell("unpid", proc.pid)  # reaped: its pid may be reused by another process
            reader.join(timeout=5)
    if state["failed"]:
        raise GuestError(f"the guest's init failed: {state['failed']}")
    if state["started"] is None:
        last = next((l for l in reversed(tail) if l.strip()), "nothing")
        panic = next((l for l in tail if "Kernel panic" in l), None)
        raise GuestError(f"the kernel stopped before the guest's init ran the command "
                         f"({'panic: ' + panic.strip() if panic else 'last console line: ' + last.strip()[:160]})")
    return state["started"]
