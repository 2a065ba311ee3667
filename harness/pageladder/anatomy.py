"""Fault anatomy (`make bench ANATOMY=1`): where each fault rung's time goes, phase by phase.

After the timed runs, and never during them (sampling interrupts perturb the events they time),
each fault binary runs once more under `perf record`, one repetition per row, with
PAGELADDER_ANATOMY_DIR set: every event then also writes its window, the CLOCK_MONOTONIC interval
between the two clock reads that time it (benchmarks/core/event_windows.hpp), and perf stamps its
samples with the same clock (`-k monotonic`). Only samples of the event's own process that fall
inside one of its windows count; arming, mapping, unmapping and checking a batch are dropped, and
how many were dropped is reported per rung.

Per rung, with W the events' summed wall time:
  - off-CPU: the part of W during which the event's thread was switched out (perf's
    context-switch records, `--switch-events`), split into waiting (for the device, for another
    thread) and preempted;
  - the rest, W - off-CPU, is on-CPU time, split over the phases of the event thread's samples
    (anatomy_phases.py: which function belongs to which phase), each sample weighted by the
    on-CPU time it stands for (SampleWeights); the time no sample stands for is spread in
    proportion;
  - the on-CPU time of the process's other threads inside a window (the userfaultfd handler,
    which works while the faulting thread waits), from their own switches, is split by their
    samples and taken out of the waiting.
The shares add up to 100% of W. The anatomy pass's events run under sampling, so its wall time
per event is higher than the ladder's; a phase's time per event in the report is its share of
the ladder's median.

Engine: Debian's perf (linux-perf) rather than perf_event_open in the suite. It already resolves
kernel symbols from /proc/kallsyms, follows forked children with their own buffers (cow_fault
and swap_in take their faults in children), records context switches and writes all of it as
stable text (`perf script`); doing that again in the suite would be a second, less tested perf.
The suite's own part is what perf cannot know: the events' windows.

Counter: the PMU's cycles where one exists (sampled by NMI, so samples land where the time is
spent); otherwise cpu-clock, an hrtimer, which cannot interrupt code that runs with interrupts
off: its samples land on the instruction that turns them back on (a spinlock's
`_raw_spin_unlock_irqrestore`, the end of the exception entry), so time spent with interrupts
off is credited to the phase of the function that re-enables them.
"""
import bisect
import collections
import json
import math
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from pageladder import benchmark_json, rows, runner
from pageladder.anatomy_phases import COLOURS, OFF_CPU, PHASE_NAMES, PREEMPTED, classify

SCHEMA_VERSION = 1
FILE = "anatomy.json"
FOLDER = "anatomy"  # per binary: its Google Benchmark JSON, console log, folded stacks
# Sampling rate. Every sample costs the sampled thread time: in a KVM guest about 20 µs (an
# hrtimer interrupt and its reprogramming exit to the hypervisor, plus the call-chain walk), so a
# 25 µs period made minor_fault 5x slower and a 100 µs one 25% slower. At 200 µs the events run
# about 10% slower than in the ladder; the report prints each rung's factor.
CPU_CLOCK_PERIOD_NS = 200_000
CYCLES_FREQUENCY_HZ = 5_000
# Each row runs one repetition of this many times its timed --benchmark_min_time: about two
# thirds of the timed runs' event time, enough samples at the rate above.
MIN_TIME_FACTOR = 10
# A rung whose on-CPU time is more than this share unattributed (SampleWeights) gets a note.
UNATTRIBUTED_TOLERANCE = 0.10
# Fewer samples of the event's thread inside a rung's windows than this and its phases are not
# split (each share carries its sampling error besides).
MIN_SAMPLES = 50
TOP_FUNCTIONS = 5
KERNEL_ADDRESS = 0xFFFF800000000000


class AnatomySkipped(Exception):
    """The machine cannot sample the kernel here (the reason is the message)."""


# --- what the machine allows ------------------------------------------------------------------

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


# --- reading what perf and the binaries wrote ---------------------------------------------------

_HEADER = re.compile(r"^\s*(\d+)/(\d+)\s+(\d+)\.(\d+):\s*(.*)$")
_FRAME = re.compile(r"^\s+([0-9a-f]+)\s+(\S+)")


def _ns(seconds, fraction):
    return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])


def parse_perf_script(lines):
    """Records of `perf script -F pid,tid,time,ip,sym --ns --show-switch-events`:
    ("sample", pid, tid, time_ns, kernel frames innermost first) and
    ("switch", pid, tid, time_ns, "out"|"out preempt"|"in")."""
    current = None
    for line in lines:
        header = _HEADER.match(line)
        if header:
            if current:
                yield current
                current = None
            pid, tid, t = int(header.group(1)), int(header.group(2)), _ns(header.group(3), header.group(4))
            rest = header.group(5)
            if rest.startswith("PERF_RECORD_SWITCH"):
                kind = "in" if " IN" in rest else "out preempt" if "preempt" in rest else "out"
                yield ("switch", pid, tid, t, kind)
            else:
                current = ("sample", pid, tid, t, [])
            continue
        frame = _FRAME.match(line) if current else None
        if frame and int(frame.group(1), 16) >= KERNEL_ADDRESS:
            current[4].append(frame.group(2))
    if current:
        yield current


class Windows:
    """One process's event windows (core/event_windows.hpp), sorted, with the rung of each."""

    def __init__(self):
        self.starts, self.ends, self.rungs = [], [], []

    def add(self, start, end, rung):
        self.starts.append(start)
        self.ends.append(end)
        self.rungs.append(rung)

    def sort(self):
        order = sorted(range(len(self.starts)), key=self.starts.__getitem__)
        self.starts = [self.starts[i] for i in order]
        self.ends = [self.ends[i] for i in order]
        self.rungs = [self.rungs[i] for i in order]
        # Spans: from each rung's first window to its last (samples between its windows that
        # fall outside them are its dropped ones).
        self.spans = {}
        for s, e, r in zip(self.starts, self.ends, self.rungs):
            lo, hi = self.spans.get(r, (s, e))
            self.spans[r] = (min(lo, s), max(hi, e))
        return self

    def rung_at(self, t):
        """The rung whose window holds time t, or None."""
        i = bisect.bisect_right(self.starts, t) - 1
        return self.rungs[i] if i >= 0 and t <= self.ends[i] else None

    def span_at(self, t):
        for rung, (lo, hi) in self.spans.items():
            if lo <= t <= hi:
                return rung
        return None

    def overlap(self, lo, hi, into):
        """Adds, per rung, how much of [lo, hi] the windows cover."""
        i = max(0, bisect.bisect_right(self.starts, lo) - 1)
        while i < len(self.starts) and self.starts[i] < hi:
            covered = min(hi, self.ends[i]) - max(lo, self.starts[i])
            if covered > 0:
                into[self.rungs[i]] += covered
            i += 1


def read_windows(folder):
    """{pid: Windows} from the windows.<pid>.txt files in folder; raises ValueError on a line
    in no known form."""
    result = {}
    for path in sorted(Path(folder).glob("windows.*.txt")):
        pid = int(path.name.split(".")[1])
        windows = result.setdefault(pid, Windows())
        rung = None
        text = path.read_text()
        lines = text.splitlines()
        if lines and not text.endswith("\n"):
            lines.pop()  # cut short (the process was killed while writing): that window is lost
        for number, line in enumerate(lines, 1):
            if line.startswith("row "):
                rung = line[4:].strip()
                continue
            parts = line.split()
            if len(parts) != 2 or rung is None or not all(p.isdigit() for p in parts):
                raise ValueError(f"{path.name}:{number}: not an event window: {line[:60]!r}")
            windows.add(int(parts[0]), int(parts[1]), rung)
    return {pid: w.sort() for pid, w in result.items()}


# --- the join ------------------------------------------------------------------------------

class RungTally:
    """What one rung gathered: samples by phase and function, windows, off-CPU time."""

    def __init__(self):
        self.events = 0
        self.wall_ns = 0
        self.off_cpu_ns = 0      # switched out, all of it
        self.preempted_ns = 0    # the part of it the thread was preempted, not waiting
        self.own_samples = collections.Counter()    # phase -> samples of the event's thread
        self.other_samples = collections.Counter()  # phase -> samples of the process's other threads
        # phase -> on-CPU ns the samples stand for (SampleWeights): own thread, other threads
        self.own_weight = collections.Counter()
        self.other_weight = collections.Counter()
        self.other_on_cpu_ns = 0  # the other threads' on-CPU time inside the windows (switches)
        self.functions = collections.defaultdict(collections.Counter)  # phase -> innermost kernel fn
        self.dropped = 0
        self.stacks = collections.Counter()        # folded kernel stack -> samples

    def merge(self, other):
        self.events += other.events
        self.wall_ns += other.wall_ns
        self.off_cpu_ns += other.off_cpu_ns
        self.preempted_ns += other.preempted_ns
        self.own_samples.update(other.own_samples)
        self.other_samples.update(other.other_samples)
        self.own_weight.update(other.own_weight)
        self.other_weight.update(other.other_weight)
        self.other_on_cpu_ns += other.other_on_cpu_ns
        for phase, fns in other.functions.items():
            self.functions[phase].update(fns)
        self.dropped += other.dropped
        self.stacks.update(other.stacks)


class SampleWeights:
    """The on-CPU time each sample stands for: its thread's on-CPU time since its previous sample
    or since it was last switched in, whichever is later. A timer sample is not one period of
    CPU time each: per-task cpu-clock restarts its timer whenever the thread is switched back in
    and fires again within a few µs (measured here: a median of 20 µs after each switch-in,
    against a 200 µs period), so a thread that blocks in every event gets an extra sample right
    after each wake-up (in finish_task_switch). Counting samples overweighted what runs there by
    25-38% of the on-CPU time of the rungs that block. The time between a thread's last sample
    and its switch-out has no sample of its own (perf's switch record carries no stack): it
    stands for no phase, and phases_of spreads it over all of them in proportion. A thread's
    first sample, and any gap beyond MAX_WEIGHT_PERIODS periods (sampling throttled), stand for
    one period."""

    MAX_WEIGHT_PERIODS = 3

    def __init__(self, period_ns):
        self.period_ns = period_ns
        self.since = {}    # (pid, tid) -> its previous sample or switch-in, whichever is later
        self.out_at = {}   # (pid, tid) -> when it was switched out, while it is

    def switched(self, key, t, out):
        if out:
            self.out_at[key] = t
        else:
            self.out_at.pop(key, None)
            self.since[key] = t

    def weight(self, key, t):
        since = self.since.get(key)
        self.since[key] = t
        on_cpu = t - since if since is not None else None
        if on_cpu is None or on_cpu < 0 or on_cpu > self.MAX_WEIGHT_PERIODS * self.period_ns:
            return self.period_ns
        return on_cpu


def join(records, windows, period_ns=CPU_CLOCK_PERIOD_NS):
    """({rung: RungTally}, samples of the processes outside every window and every rung's span).

    records: parse_perf_script's output; windows: read_windows's; period_ns: the sampling
    period, or its typical value (SampleWeights). A sample counts for a rung when its time falls
    inside a window of its own process; the off-CPU time of a window is the part of it during
    which the process's main thread (the one that times the events) was switched out."""
    weights = SampleWeights(period_ns)
    tallies = collections.defaultdict(RungTally)
    for pid, w in windows.items():
        for s, e, r in zip(w.starts, w.ends, w.rungs):
            tallies[r].events += 1
            tallies[r].wall_ns += e - s
    switched_out, other_in = {}, {}
    off_cpu, preempted, other_on_cpu = collections.Counter(), collections.Counter(), collections.Counter()
    unclaimed = 0
    for record in records:
        kind, pid, tid, t = record[:4]
        w = windows.get(pid)
        if kind == "switch":
            if w is None:
                continue
            weights.switched((pid, tid), t, record[4] != "in")
            if tid != pid:
                # Another thread of the process (the userfaultfd handler): its on-CPU time
                # inside the windows, from its own switches.
                if record[4] == "in":
                    other_in[(pid, tid)] = t
                elif (pid, tid) in other_in:
                    w.overlap(other_in.pop((pid, tid)), t, other_on_cpu)
                continue
            if record[4] in ("out", "out preempt"):
                switched_out[pid] = (t, record[4] == "out preempt")
            elif pid in switched_out:
                start, by_preemption = switched_out.pop(pid)
                w.overlap(start, t, off_cpu)
                if by_preemption:
                    w.overlap(start, t, preempted)
            continue
        if w is None:
            continue  # perf's own process, or one that timed nothing
        weight = weights.weight((pid, tid), t)
        rung = w.rung_at(t)
        if rung is None:
            spanned = w.span_at(t)
            if spanned is None:
                unclaimed += 1
            else:
                tallies[spanned].dropped += 1
            continue
        frames = record[4]
        phase, _ = classify(frames)
        tally = tallies[rung]
        (tally.own_samples if tid == pid else tally.other_samples)[phase] += 1
        (tally.own_weight if tid == pid else tally.other_weight)[phase] += weight
        tally.functions[phase][frames[0].split("+", 1)[0] if frames else "(user space)"] += 1
        tally.stacks[";".join(reversed([f.split("+", 1)[0] for f in frames])) or "(user space)"] += 1
    for rung, ns in off_cpu.items():
        tallies[rung].off_cpu_ns += ns
    for rung, ns in preempted.items():
        tallies[rung].preempted_ns += ns
    for rung, ns in other_on_cpu.items():
        tallies[rung].other_on_cpu_ns += ns
    return dict(tallies), unclaimed


def phases_of(tally):
    """[{phase, share, share_stderr, samples, top_functions}] of one rung, shares of its wall
    time adding up to 1; None when its thread left too few samples to split.

    The wall time is split three ways: the event thread's on-CPU time (the windows less its
    switched-out time), shared among the phases of its samples by their weights; the process's
    other threads' sampled time, taken out of the event thread's waiting; what is left of the
    waiting (off-CPU) and of its preemption."""
    own = sum(tally.own_samples.values())
    own_weight = sum(tally.own_weight.values())
    if own < MIN_SAMPLES or tally.wall_ns <= 0 or own_weight <= 0:
        return None
    on_cpu = max(0, tally.wall_ns - tally.off_cpu_ns)
    other = sum(tally.other_samples.values())
    # The process's other threads (the userfaultfd handler) work while the event's thread waits:
    # their time comes out of its waiting, not out of its preemption.
    waiting_ns = tally.off_cpu_ns - tally.preempted_ns
    other_weight = sum(tally.other_weight.values())
    # Their on-CPU time from their switches where there are any (what their samples stand for
    # misses each run-up to a switch-out, as for the event's thread), else from the samples.
    other_ns = min(waiting_ns, tally.other_on_cpu_ns or other_weight) if other_weight else 0.0
    ns_by_phase = collections.Counter()
    for phase, w in tally.own_weight.items():
        ns_by_phase[phase] += on_cpu * w / own_weight
    for phase, w in tally.other_weight.items():
        ns_by_phase[phase] += other_ns * w / other_weight
    ns_by_phase[OFF_CPU] += waiting_ns - other_ns
    ns_by_phase[PREEMPTED] += tally.preempted_ns
    total = sum(ns_by_phase.values())
    samples = own + other
    result = []
    for phase in PHASE_NAMES:
        ns = ns_by_phase.get(phase, 0.0)
        if ns <= 0:
            continue
        share = ns / total
        n = tally.own_samples.get(phase, 0) + tally.other_samples.get(phase, 0)
        fns = tally.functions.get(phase, collections.Counter())
        result.append({
            "phase": phase,
            "share": share,
            # Sampling error of a share (binomial), the sampled part only.
            "share_stderr": (math.sqrt(max(share * (1 - share), 0) / samples) if n else 0.0),
            "samples": n,
            "top_functions": [{"function": f, "share_of_phase": c / max(1, sum(fns.values()))}
                              for f, c in fns.most_common(TOP_FUNCTIONS)],
        })
    return result


# --- the pass ------------------------------------------------------------------------------

def described_rows(selected, build_dir, quick=False, extra_args=None):
    """({short name: {id: description}} of the selected benchmarks that have rows the anatomy
    pass takes (their binaries say which: `anatomy`), [{"benchmark", "reason"}] of those whose
    binary could not say (not built ...))."""
    chosen, unknown = {}, []
    for bench in selected:
        try:
            flags = [*(extra_args or {}).get(bench.name, ()), *(["--pageladder_quick"] if quick else [])]
            described = rows.describe(Path(build_dir) / "benchmarks" / bench.binary, flags)
        except ValueError as e:
            unknown.append({"benchmark": bench.name, "reason": str(e)})
            continue
        if rows.ids_where(described, anatomy=True):
            chosen[bench.name] = described
    return chosen, unknown


def _row_outcomes(context, repetitions):
    """{rung: (valid, why_invalid)} of an anatomy invocation's rows, by the ladder's own rule
    (benchmark_json.verdict): a rung the ladder would call invalid is invalid here too."""
    try:
        specs = benchmark_json.row_specs(context)
    except ValueError:
        specs = {}
    outcomes = {}
    for row in benchmark_json.iteration_rows(repetitions):
        rung = benchmark_json.rung_of(row)
        if row.get("error_occurred"):
            outcomes[rung] = (False, row.get("error_message", "error"))
            continue
        try:
            problems = benchmark_json.verdict(row, specs.get(rung)).problems
        except ValueError as e:
            problems = [str(e)]
        outcomes[rung] = (not problems, "; ".join(problems) or None)
    return outcomes


class Pass:
    """One anatomy pass over a run folder: runs binaries under perf and tallies their rungs."""

    def __init__(self, run_dir, quick, counter, perf="perf", out=None, verbose=False, pin_cpu=None,
                 described=None):
        self.run_dir, self.quick, self.counter, self.perf = Path(run_dir), quick, counter, perf
        self.pin_cpu = pin_cpu
        # {id: description} of every row of the binaries it runs: which ones it splits, in what order.
        self.described = described or {}
        self.folder = self.run_dir / FOLDER
        self.folder.mkdir(exist_ok=True)
        self.out, self.verbose = out, verbose
        self.tallies = collections.defaultdict(RungTally)
        self.outcomes = {}
        self.labels = {}
        self.binaries = []

    def command(self, bench, binary_path, stem, data_path, extra_args):
        mode = 0 if self.quick else 1
        bench_cmd = runner.command_for(bench, binary_path, self.folder / f"{stem}.json", self.quick,
                                       [f"--benchmark_filter={self._rung_filter()}", *extra_args],
                                       repetitions=1, min_time=MIN_TIME_FACTOR * bench.min_time[mode])
        # CPU=<n> pins the benchmark, not perf: perf draining its buffers on the benchmark's CPU
        # would preempt the events it samples.
        pin = ["taskset", "-c", str(self.pin_cpu)] if self.pin_cpu is not None else []
        return [self.perf, "record", "-q", *self.counter["args"], "-g", "--switch-events",
                "-k", "monotonic", "-o", str(data_path), "--", *pin, *bench_cmd]

    def _rung_filter(self):
        return rows.run_filter(rows.ids_where(self.described, anatomy=True))

    def run_binary(self, bench, binary_path, extra_args=(), stem=None, timeout=300):
        """Runs one binary (or one phase of it) under perf and tallies it; returns its status."""
        stem = stem or bench.binary
        work = self.folder / f"{stem}.work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        data = work / "perf.data"
        env = {**os.environ, "PAGELADDER_ANATOMY_DIR": str(work)}
        t0 = time.monotonic()
        entry = {"stem": stem}
        try:
            status = runner.run_streaming(self.command(bench, binary_path, stem, data, extra_args),
                                          timeout=timeout, out=self.out,
                                          log=self.folder / f"{stem}.log", verbose=self.verbose,
                                          env=env)
            if status == 0:
                entry.update(self._tally(stem, work, data))
            else:
                entry["failed"] = f"exited with status {status} under perf (log: {FOLDER}/{stem}.log)"
        except subprocess.TimeoutExpired:
            status, entry["failed"] = 124, "ran past its time limit under perf"
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            # What perf or the windows left cannot be read: this binary has no anatomy, the
            # others still get theirs.
            status, entry["failed"] = 1, f"its samples could not be joined: {e}"
        finally:
            shutil.rmtree(work, ignore_errors=True)
            entry["seconds"] = round(time.monotonic() - t0, 2)
            self.binaries.append(entry)
        return status

    def _tally(self, stem, work, data):
        """Joins one perf recording with its windows; returns what the run_binary entry records."""
        windows = read_windows(work)
        with open(work / "perf-script.err", "w+") as errors:
            script = subprocess.Popen([self.perf, "script", "-i", str(data), "-F", "pid,tid,time,ip,sym",
                                       "--ns", "--show-switch-events"], stdout=subprocess.PIPE,
                                      stderr=errors, text=True, errors="replace")
            tallies, unclaimed = join(parse_perf_script(script.stdout), windows,
                                      self.counter.get("period_ns") or 1e9 / CYCLES_FREQUENCY_HZ)
            if script.wait() != 0:
                errors.seek(0)
                raise ValueError(f"perf script exited {script.returncode}: {errors.read().strip()[:200]}")
            errors.seek(0)
            # perf says when its buffers overflowed: samples and switch records are then missing.
            warnings = [line.strip() for line in errors if "lost" in line.lower()]
        folded = []
        for rung, tally in tallies.items():
            self.tallies[rung].merge(tally)
            folded += [f"{rung};{stack} {n}" for stack, n in tally.stacks.most_common()]
        (self.folder / f"{stem}.folded").write_text("\n".join(folded) + "\n")
        gb_json = self.folder / f"{stem}.json"
        if gb_json.is_file():
            context, rows_of_json = benchmark_json.load(gb_json)
            self.outcomes.update(_row_outcomes(context, rows_of_json))
            try:
                specs = benchmark_json.row_specs(context)
                self.labels.update({r: spec.get("label") for r, spec in specs.items()})
            except ValueError:
                pass
        entry = {"rungs": sorted(tallies), "samples_outside_every_rung": unclaimed}
        if warnings:
            entry["perf_warnings"] = warnings[:5]
        return entry

    def result(self, engine="perf", skipped=()):
        labels = self.labels
        rungs = []
        for rung in rows.ordered(self.tallies, self.described):
            if not (self.described.get(rung) or {}).get("anatomy"):
                continue
            tally = self.tallies[rung]
            valid, why = self.outcomes.get(rung, (False, "the anatomy run left no result for it"))
            in_windows = sum(tally.own_samples.values()) + sum(tally.other_samples.values())
            entry = {
                "id": rung, "label": labels.get(rung), "valid": valid, "why_invalid": why,
                "events": tally.events,
                "wall_ns_per_event": tally.wall_ns / tally.events if tally.events else None,
                "off_cpu_ns_per_event": tally.off_cpu_ns / tally.events if tally.events else None,
                "samples": in_windows, "dropped_samples": tally.dropped,
                "dropped_share": tally.dropped / (tally.dropped + in_windows) if tally.dropped + in_windows else None,
                "phases": None, "why_not_split": None,
            }
            entry["notes"] = []
            own_weight = sum(tally.own_weight.values())
            on_cpu = tally.wall_ns - tally.off_cpu_ns
            if own_weight and on_cpu > 0:
                # The on-CPU time no sample stands for (the run-up to each switch-out) is spread
                # over the phases in proportion; the report says when that is much of it.
                entry["unattributed_on_cpu_share"] = max(0.0, 1 - own_weight / on_cpu)
                if entry["unattributed_on_cpu_share"] > UNATTRIBUTED_TOLERANCE:
                    entry["notes"].append(
                        f"{entry['unattributed_on_cpu_share']:.0%} of its on-CPU time ran between a "
                        f"sample and a switch-out (perf records no stack there) and is spread over "
                        f"its on-CPU phases in proportion")
            if valid:
                entry["phases"] = phases_of(tally)
                if entry["phases"] is None:
                    entry["why_not_split"] = (f"{sum(tally.own_samples.values())} samples inside its "
                                              f"windows, fewer than {MIN_SAMPLES}")
            rungs.append(entry)
        return {
            "schema_version": SCHEMA_VERSION,
            "method": {
                "engine": engine, "counter": self.counter["event"], "counter_note": self.counter["note"],
                "sampling": " ".join(self.counter["args"][2:]),
                "clock": "CLOCK_MONOTONIC (perf record -k monotonic; event windows from the event clock)",
                "kept": "samples of the event's process inside one of its event windows",
                "off_cpu": "window time with the event's thread switched out (perf --switch-events)",
                "min_samples": MIN_SAMPLES,
            },
            "phases": [{"name": p, "colour": COLOURS[p]} for p in PHASE_NAMES],
            "rungs": rungs,
            "binaries": self.binaries,
            "skipped": list(skipped),
        }


def run_pass(selected, build_dir, run_dir, quick, extra_args=None, phased=None, out=None,
             verbose=False, perf="perf", pin_cpu=None):
    """The anatomy pass over the selected benchmarks that hold fault rungs; writes anatomy.json
    and returns it. Where the machine cannot sample the kernel, anatomy.json says why and holds
    no rungs.

    phased: {name: fn(bench, run_binary)} as for runner.run_all (swap_in provisions a swap device
    per phase); its run_binary(extra_args, out_name) here runs that phase under perf."""
    extra_args, phased = extra_args or {}, phased or {}
    described_by_bench, unknown = described_rows(selected, build_dir, quick, extra_args)
    chosen = [b for b in selected if b.name in described_by_bench]
    described = {i: spec for specs in described_by_bench.values() for i, spec in specs.items()}
    if not chosen:
        print("pageladder: fault anatomy: none of the benchmarks run has fault rungs"
              + "".join(f"; {u['benchmark']}: {u['reason']}" for u in unknown), file=out, flush=True)
        return None
    max_rate_before = _max_sample_rate()
    try:
        version = check_prerequisites(perf)
    except AnatomySkipped as e:
        anatomy = Pass(run_dir, quick, sampling_counter(False), perf, out, verbose).result(
            skipped=[{"benchmark": b.name, "reason": str(e)} for b in chosen] + unknown)
        anatomy["method"]["skipped"] = str(e)
        print(f"pageladder: fault anatomy skipped: {e}", file=out, flush=True)
        write(run_dir, anatomy)
        return anatomy
    counter = sampling_counter(pmu_cycles_work(perf))
    anatomy_pass = Pass(run_dir, quick, counter, perf, out, verbose, pin_cpu, described)
    skipped = list(unknown)
    started = time.monotonic()
    try:
        _run_binaries(anatomy_pass, chosen, build_dir, extra_args, phased, counter, skipped, out)
    finally:
        note = _restore_max_sample_rate(max_rate_before)
    anatomy = anatomy_pass.result(engine=version, skipped=skipped)
    anatomy["seconds"] = round(time.monotonic() - started, 2)
    if note:
        anatomy["method"]["sample_rate_note"] = note
    write(run_dir, anatomy)
    split = sum(1 for r in anatomy["rungs"] if r["phases"])
    print(f"pageladder: fault anatomy of {split} rungs in {anatomy['seconds']:.0f} s "
          f"(anatomy.svg, report.md)", file=out, flush=True)
    return anatomy


def _run_binaries(anatomy_pass, chosen, build_dir, extra_args, phased, counter, skipped, out):
    """Runs each chosen benchmark under perf (swap_in through its phases); what fails is added
    to `skipped` with the reason, and the others still run."""
    for index, bench in enumerate(chosen, 1):
        print(f"[anatomy {index}/{len(chosen)}] {bench.name} under perf record ({counter['event']})",
              file=out, flush=True)
        path = Path(build_dir) / "benchmarks" / bench.binary
        if not path.is_file():
            skipped.append({"benchmark": bench.name, "reason": f"not built: {path} does not exist"})
            continue
        try:
            if bench.name in phased:
                failed, phase_skips, _ = phased[bench.name](
                    bench, lambda more=(), out_name=None: anatomy_pass.run_binary(
                        bench, path, [*extra_args.get(bench.name, ()), *more],
                        stem=Path(out_name).stem if out_name else None))
                skipped += phase_skips
            else:
                status = anatomy_pass.run_binary(bench, path, extra_args.get(bench.name, ()))
                failed = None if status == 0 else anatomy_pass.binaries[-1].get("failed")
        except (runner.Interrupted, KeyboardInterrupt):
            skipped.append({"benchmark": bench.name, "reason": "interrupted (Ctrl-C)"})
            break
        if failed:
            skipped.append({"benchmark": bench.name, "reason": failed})


_MAX_RATE = Path("/proc/sys/kernel/perf_event_max_sample_rate")


def _max_sample_rate():
    try:
        return int(_MAX_RATE.read_text())
    except (OSError, ValueError):
        return None


def _restore_max_sample_rate(before):
    """The kernel lowers perf_event_max_sample_rate by itself when sampling interrupts run long;
    the pass puts back the value it found (as root) and says so."""
    after = _max_sample_rate()
    if before is None or after is None or after >= before:
        return None
    try:
        _MAX_RATE.write_text(str(before))
        return (f"the kernel lowered perf_event_max_sample_rate from {before} to {after} during the "
                f"pass (sampling interrupts ran long); it was set back to {before}")
    except OSError:
        return (f"the kernel lowered perf_event_max_sample_rate from {before} to {after} during the "
                f"pass (sampling interrupts ran long); it could not be set back")


def write(run_dir, anatomy):
    path = Path(run_dir) / FILE
    path.write_text(json.dumps(anatomy, indent=1) + "\n")
    return path


def load(run_dir):
    """A run's anatomy, or None where it has none; raises ValueError for one that is unreadable."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: not JSON: {e}") from e
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: not an anatomy of schema {SCHEMA_VERSION}")
    return data
