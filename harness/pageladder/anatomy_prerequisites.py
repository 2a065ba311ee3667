"""Whether this machine lets the anatomy pass sample the kernel, and with which counter.

One job, checked once before any binary runs under perf: the pass needs kernel call chains
(root, or kernel.perf_event_paranoid <= 1), kernel symbols it may read (kernel.kptr_restrict),
and a perf that runs; where one is missing the pass is skipped with the reason (AnatomySkipped),
never run into a chart of unknown frames. Then the counter it samples with:

Counter: the PMU's cycles where one exists (sampled by NMI, so samples land where the time is
spent); otherwise cpu-clock, an hrtimer, which cannot interrupt code that runs with interrupts
off: its samples land on the instruction that turns them back on (a spinlock's
`_raw_spin_unlock_irqrestore`, the end of the exception entry), so time spent with interrupts
off is credited to the phase of the function that re-enables them.
"""
import os
import shutil
import subprocess
from pathlib import Path

# Sampling rate. Every sample costs the sampled thread time: in a KVM guest about 20 µs (an
# hrtimer interrupt and its reprogramming exit to the hypervisor, plus the call-chain walk), so a
# 25 µs period made minor_fault 5x slower and a 100 µs one 25% slower. At 200 µs the events run
# about 10% slower than in the ladder; the report prints each rung's factor.
CPU_CLOCK_PERIOD_NS = 200_000
CYCLES_FREQUENCY_HZ = 5_000


class AnatomySkipped(Exception):
    """The machine cannot sample the kernel here (the reason is the message)."""


def _read_int(path):
    try:
        return int(Path(path).read_text())
    except (OSError, ValueError):
        return None


def paranoid_level():
    return _read_int("/proc/sys/kernel/perf_event_paranoid")


def check_prerequisites(perf="perf", is_root=None, paranoid=None, kptr_restrict=None):
    """Raises AnatomySkipped with the reason when kernel call chains cannot be sampled."""
    is_root = os.geteuid() == 0 if is_root is None else is_root
    paranoid = paranoid_level() if paranoid is None else paranoid
    if not is_root and (paranoid is None or paranoid > 1):
        raise AnatomySkipped(f"sampling kernel call chains needs root or kernel.perf_event_paranoid "
                             f"<= 1 (it is {paranoid})")
    kptr = _read_int("/proc/sys/kernel/kptr_restrict") if kptr_restrict is None else kptr_restrict
    if not is_root and kptr:
        raise AnatomySkipped(f"kernel symbols are hidden from this user (kernel.kptr_restrict = {kptr}): "
                             f"every kernel frame would be unknown; run as root")
    if shutil.which(perf) is None:
        raise AnatomySkipped("perf is not installed (Debian's linux-perf; `make deps` installs it)")
    try:
        r = subprocess.run([perf, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AnatomySkipped(f"perf does not run: {e}") from e
    if r.returncode != 0:
        raise AnatomySkipped(f"perf does not run: {(r.stderr or r.stdout).strip()[:200]}")
    return r.stdout.strip()


def sampling_counter(pmu_cycles_work):
    """The perf arguments and description of the counter that samples (see the module's text)."""
    if pmu_cycles_work:
        return {"event": "cycles", "args": ["-e", "cycles", "-F", str(CYCLES_FREQUENCY_HZ)],
                "note": "PMU cycles, sampled by NMI: samples land where the time is spent"}
    return {"event": "cpu-clock", "args": ["-e", "cpu-clock", "-c", str(CPU_CLOCK_PERIOD_NS)],
            "period_ns": CPU_CLOCK_PERIOD_NS,
            "note": "cpu-clock (no PMU here): an hrtimer cannot interrupt code running with "
                    "interrupts off, so that time is credited to the phase of the function that "
                    "turns interrupts back on (often a spinlock release under LRU or memcg work)"}


def pmu_cycles_work(perf="perf"):
    try:
        r = subprocess.run([perf, "stat", "-x", ",", "-e", "cycles", "--", "true"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "<not supported>" not in r.stderr and "<not counted>" not in r.stderr
