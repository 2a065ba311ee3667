"""The statistical join of the anatomy pass: perf's records (anatomy_perf.py) set against the
events' windows (benchmarks/core/event_windows.hpp), tallied per rung, and each rung's wall time
split into phases (anatomy_phases.py names the phase of a call chain).

One job, kept apart from running anything so that it is tested on records and windows alone:
only samples of the event's own process that fall inside one of its windows count; arming,
mapping, unmapping and checking a batch are dropped, and how many were dropped is counted per
rung.

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
The shares add up to 100% of W.
"""
import bisect
import collections
import math
from pathlib import Path

from pageladder.anatomy_phases import OFF_CPU, PHASE_NAMES, PREEMPTED, classify
from pageladder.anatomy_prerequisites import CPU_CLOCK_PERIOD_NS

# Fewer samples of the event's thread inside a rung's windows than this and its phases are not
# split (each share carries its sampling error besides).
MIN_SAMPLES = 50
TOP_FUNCTIONS = 5


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
