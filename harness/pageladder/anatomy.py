"""Fault anatomy (`make bench ANATOMY=1`): where each fault rung's time goes, phase by phase.
This module is the pass and its file: it runs the fault binaries under perf, hands what they
left to the join, and writes and reads anatomy.json; the parts it is made of each have a module
of their own, so that each is read and tested alone:

  - anatomy_prerequisites.py: whether the machine can sample the kernel, and with which counter;
  - anatomy_perf.py: the `perf record` command line and `perf script`'s text read back;
  - anatomy_join.py: samples set against the events' windows, and the split into phases;
  - anatomy_phases.py: which kernel function belongs to which phase.

After the timed runs, and never during them (sampling interrupts perturb the events they time),
each fault binary runs once more under `perf record`, one repetition per row, with
PAGELADDER_ANATOMY_DIR set: every event then also writes its window, the CLOCK_MONOTONIC interval
between the two clock reads that time it (benchmarks/core/event_windows.hpp), and perf stamps its
samples with the same clock (`-k monotonic`). Only samples of the event's own process that fall
inside one of its windows count (anatomy_join.py); the shares of a rung's phases add up to 100%
of its events' wall time. The anatomy pass's events run under sampling, so its wall time per
event is higher than the ladder's; a phase's time per event is its share of the ladder's median,
stored in anatomy.json once the ladder is known (add_phase_times, when run.json is assembled:
the pass runs before it) and read from there by the report (phase_ns).
"""
import collections
import os
import shutil
import subprocess
import time
from pathlib import Path

from pageladder import benchmark_json, rows, runner, safe_io
from pageladder.anatomy_join import MIN_SAMPLES, RungTally, join, phases_of, read_windows
from pageladder.anatomy_perf import read_recording, record_command
from pageladder.anatomy_phases import COLOURS, PHASE_NAMES
from pageladder.anatomy_prerequisites import (CYCLES_FREQUENCY_HZ, AnatomySkipped, check_prerequisites,
                                              pmu_cycles_work, sampling_counter)

SCHEMA_VERSION = 1
FILE = "anatomy.json"
FOLDER = "anatomy"  # per binary: its Google Benchmark JSON, console log, folded stacks
# Each row runs one repetition of this many times its timed --benchmark_min_time: about two
# thirds of the timed runs' event time, enough samples at anatomy_prerequisites' rate.
MIN_TIME_FACTOR = 10
# A rung whose on-CPU time is more than this share unattributed (SampleWeights) gets a note.
UNATTRIBUTED_TOLERANCE = 0.10


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
            problems = benchmark_json.verdict(row, benchmark_json.spec_of(rung, specs)).problems
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
        return record_command(self.perf, self.counter, data_path, [*pin, *bench_cmd])

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
        period_ns = self.counter.get("period_ns") or 1e9 / CYCLES_FREQUENCY_HZ
        (tallies, unclaimed), warnings = read_recording(
            self.perf, data, work / "perf-script.err", lambda records: join(records, windows, period_ns))
        folded = []
        for rung, tally in tallies.items():
            self.tallies[rung].merge(tally)
            folded += [f"{rung};{stack} {n}" for stack, n in tally.stacks.most_common()]
        safe_io.write_text_atomically(self.folder / f"{stem}.folded", "\n".join(folded) + "\n")
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
    safe_io.write_json_atomically(path, anatomy)
    return path


def load(run_dir):
    """A run's anatomy, or None where it has none; raises ValueError for one that is unreadable."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        return None
    data = safe_io.load_json(path, "anatomy.json")  # a DataFileError is a ValueError
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: not an anatomy of schema {SCHEMA_VERSION}")
    rungs = data.get("rungs")
    if not isinstance(rungs, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), str)
                                              and isinstance(r.get("phases"), (list, type(None))) for r in rungs):
        raise ValueError(f"{path}: its 'rungs' are not a list of rungs with an id and phases")
    return data


def time_per_event(share, median_ns):
    """A phase's time per event: its share of the events' wall time in the anatomy pass, of the
    rung's median (a run's ladder median; in compare, a side's); None without a median."""
    return None if median_ns is None else share * median_ns


def phase_ns(phase, median_ns):
    """A phase's time per event as anatomy.json stores it ("ns"); for an anatomy.json written
    before it was stored, computed from median_ns, the rung's median on the run's ladder (None
    where the rung is not valid there)."""
    return phase["ns"] if "ns" in phase else time_per_event(phase["share"], median_ns)


def add_phase_times(run_dir, medians):
    """Stores each split phase's time per event ("ns") in run_dir's anatomy.json, given the
    ladder's medians ({rung id: median_ns} of its valid rungs; null for a rung not among them).
    The pass runs before the ladder is built, so this is done when run.json is assembled.
    Returns the anatomy, or None where the run has none, or one that cannot be read (rendering
    the run says why)."""
    try:
        anatomy = load(run_dir)
    except ValueError:
        return None
    if anatomy is None:
        return None
    for rung in anatomy.get("rungs") or []:
        for phase in rung.get("phases") or []:
            phase["ns"] = time_per_event(phase["share"], medians.get(rung["id"]))
    write(run_dir, anatomy)
    return anatomy
