"""Runs the selected benchmark binaries as several fresh processes each, interleaved, with
progress and time left.

Why several processes: most of a rung's run-to-run variance lives between processes (physical
page placement and cache colouring, page-cache and device state, what the host does meanwhile),
not between the repetitions inside one process, which share all of that. Each binary therefore
runs as INVOCATIONS independent processes, in rounds (tlb, minor_fault, ..., then tlb again), so
a slow minute on the host spreads over every benchmark instead of landing on one; `compare`
takes its statistics at this level (Kalibera and Jones, "Rigorous Benchmarking in Reasonable
Time", ISMM 2013). Each invocation writes its own Google Benchmark JSON under invocations/ and
its console output under logs/; the JSON files are merged into <binary>.json, every row tagged
with its invocation.

How many: a full run stops invoking a row once its median is known well enough. From
MIN_INVOCATIONS on, each row's invocation medians give a 95% interval of the run's median (a t
interval on their logs); a row inside +-PRECISION is done, and later invocations of its binary
run only the rows not yet done (a --benchmark_filter), up to INVOCATIONS, where a noisy row
ends as precise as a fixed count of that many would leave it. A row that stops early stopped
because its invocations happened to agree: its recorded spread understates its noise a little
(report.md's Noise section and compare read that spread). A binary with no row left stops.
A quick run, a run told its count (--invocations, as an interleaved compare's rounds are) and
the phased benchmarks (swap_in, whose phases provision a device each) run every row that many
times (swap_in: INVOCATIONS).
"""
import functools
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pageladder import benchmark_json, rows


# Fresh processes per binary, and repetitions inside each (odd on purpose: Debian's Google
# Benchmark 1.7.1 computes the median aggregate wrongly for even counts).
INVOCATIONS = {"quick": 3, "full": 7}  # at most, and always for quick
MIN_INVOCATIONS = {"quick": 3, "full": 4}
PRECISION = 0.01  # a full run's row is done when its median is known within +-1% (95%)
REPETITIONS = {"quick": 3, "full": 3}
INVOCATION_DIR = "invocations"
LOG_DIR = "logs"  # each invocation's whole console output (docs/run-folder.md: results/<run-id>/logs/)


class Interrupted(Exception):
    pass


def mode_of(quick):
    return "quick" if quick else "full"


def command_for(benchmark, binary_path, out_path, quick, extra_args=(), repetitions=None,
                min_time=None):
    mode = 0 if quick else 1
    return [
        str(binary_path),
        f"--benchmark_out={out_path}",
        "--benchmark_out_format=json",
        f"--benchmark_repetitions={repetitions or REPETITIONS[mode_of(quick)]}",
        f"--benchmark_min_time={min_time or benchmark.min_time[mode]:g}",
        "--benchmark_display_aggregates_only=true",
        *(["--pageladder_quick"] if quick else []),
        *extra_args,
    ]


def _format_seconds(s):
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def merge_invocations(paths, out_path):
    """One binary's invocations merged into one file, each row tagged with its invocation's number."""
    return benchmark_json.merge(paths, out_path, tag_invocations=True)


class _Binary:
    """One benchmark's invocations: runs them one at a time and merges their JSON."""

    def __init__(self, bench, build_dir, run_dir, quick, extra_args, out, per_invocation_s, verbose=False,
                 pin_cpu=None, supporting_rows=True):
        self.bench, self.run_dir, self.quick, self.out = bench, Path(run_dir), quick, out
        self.verbose, self.pin_cpu = verbose, pin_cpu
        self.path = Path(build_dir) / "benchmarks" / bench.binary
        self.extra_args = list(extra_args)
        self.timeout = max(120.0, 10 * per_invocation_s)
        self.open_rows = None  # None: every row; else the rows whose median is not yet known well enough
        self.supporting_rows = supporting_rows  # False: the rungs only, from the first invocation on

    def rows_left(self, precision):
        """The rows asked for in the last invocation whose run median is not yet known within
        +-precision (a 95% t interval over the invocations' medians, on a log scale), or None
        when that cannot be told (the last invocation's JSON is unreadable: nothing is decided).
        A row skipped in every invocation is done (there is nothing to measure); one that
        failed in some invocations and not in others stays open."""
        from scipy.stats import t as student_t
        files = self.invocation_files()
        medians, errors, latest = {}, {}, set()
        for k, path in enumerate(files):
            try:
                _, found = benchmark_json.load(path)
            except ValueError:
                if k == len(files) - 1:
                    return None
                continue
            per_row, named = {}, set()
            for row in benchmark_json.iteration_rows(found):
                name = benchmark_json.strip_time_suffix(row.get("run_name", row["name"]))
                named.add(name)
                if row.get("error_occurred"):
                    errors[name] = errors.get(name, 0) + 1
                    continue
                time_ns = benchmark_json.row_ns(row)
                if time_ns > 0 and math.isfinite(time_ns):
                    per_row.setdefault(name, []).append(time_ns)
            for name, times in per_row.items():
                medians.setdefault(name, []).append(statistics.median(times))
            if k == len(files) - 1:
                latest = named
        left = []
        for name in sorted(latest):
            logs = [math.log(m) for m in medians.get(name, [])]
            if not logs and errors.get(name):
                continue  # skipped throughout
            if len(logs) < 2 or errors.get(name):
                left.append(name)
                continue
            half = float(student_t.isf(0.025, len(logs) - 1)) * statistics.stdev(logs) / math.sqrt(len(logs))
            if half > math.log1p(precision):
                left.append(name)
        return left

    def invoke(self, number, more_args=(), stem=None):
        """Invocation `number` (1-based) as a fresh process; returns its exit status."""
        stem = stem or self.bench.binary
        folder = self.run_dir / INVOCATION_DIR
        folder.mkdir(exist_ok=True)
        args = [*self.extra_args, *more_args, *self._later_filter(number)]
        cmd = command_for(self.bench, self.path, folder / f"{stem}.{number}.json", self.quick, args)
        (self.run_dir / LOG_DIR).mkdir(exist_ok=True)
        log = self.run_dir / LOG_DIR / f"{stem}.{number}.log"
        return run_streaming(cmd, timeout=self.timeout, out=self.out, log=log, verbose=self.verbose,
                             pin_cpu=self.pin_cpu)

    def _later_filter(self, number):
        """The rows left to run: after the first invocation of a binary whose supporting rows run
        once (the TLB sweep, which only draws its chart), its rungs; once some rows are known well
        enough (open_rows), only the others."""
        if self.open_rows is not None:
            return [f"--benchmark_filter={rows.run_filter(self.open_rows)}"]
        if (number == 1 and self.supporting_rows) or not self.bench.supporting_rows_once:
            return []
        try:
            flags = [*self.extra_args, *(["--pageladder_quick"] if self.quick else [])]
            described = rows.describe(self.path, flags)
            return [f"--benchmark_filter={rows.run_filter(rows.ids_where(described, rung=True))}"]
        except ValueError:
            return []  # it cannot say: every row runs again, which costs time, not validity

    def invocation_files(self, stem=None):
        pattern = re.compile(re.escape(stem or self.bench.binary) + r"\.(\d+)\.json")
        numbered = [(int(m.group(1)), p) for p in (self.run_dir / INVOCATION_DIR).iterdir()
                    if (m := pattern.fullmatch(p.name)) and p.stat().st_size > 0]
        return [p for _, p in sorted(numbered)]

    def run_all_invocations(self, count, more_args=(), out_name=None):
        """For phased benchmarks (swap_in): `count` invocations back to back, merged into
        out_name. Returns the first non-zero status, or 0; what completed before a failure or
        Ctrl-C is merged all the same."""
        stem = Path(out_name or self.bench.binary + ".json").stem
        status = 0
        try:
            for number in range(1, count + 1):
                status = self.invoke(number, more_args, stem)
                if status != 0:
                    break
        finally:
            if self.invocation_files(stem):
                merge_invocations(self.invocation_files(stem), self.run_dir / f"{stem}.json")
        return status


def run_all(selected, build_dir, run_dir, quick, extra_args=None, out=None, phased=None,
            invocations=None, verbose=False, pin_cpu=None, supporting_rows=True):
    """Runs each benchmark as fresh processes, in rounds: `invocations` of each, or (None) as
    the module's docstring says (a full run stops rows known within PRECISION); returns
    ({name: outcome}, interrupted) for collect.assemble.

    phased: {name: fn(bench, run_binary)} for benchmarks that run in several phases (swap_in);
    fn returns (failed reason or None, skipped entries, swap devices used) and writes
    <binary>.json itself, through run_binary(extra_args, out_name), which runs all invocations of
    one phase back to back (a phase provisions its swap device once). Phased benchmarks run
    after the rounds.

    pin_cpu: the CPU every benchmark process is pinned to (CPU=<n>), or None.

    supporting_rows: False runs a binary's rungs only, its supporting rows (the TLB sweep's
    points) not even in the first invocation (an interleaved compare's later rounds).

    A binary that is missing fails with the reason; one that crashes or times out is not invoked
    again and keeps the invocations it completed (incomplete), failing only if it completed none;
    the others still run. Ctrl-C stops the current binary and runs nothing more; what completed
    is kept the same way.
    """
    extra_args = extra_args or {}
    out = out or sys.stdout
    mode = 0 if quick else 1
    count = invocations or INVOCATIONS[mode_of(quick)]
    least = count if invocations else MIN_INVOCATIONS[mode_of(quick)]
    phased = phased or {}
    estimates = {b.name: b.expected_seconds[mode] for b in selected}
    outcomes = {b.name: {"binary": b.binary, "file": b.binary + ".json", "seconds": 0.0,
                         "invocations": 0} for b in selected}
    binaries = {}
    for bench in selected:
        binary = _Binary(bench, build_dir, run_dir, quick, extra_args.get(bench.name, ()), out,
                         estimates[bench.name] / count, verbose, pin_cpu, supporting_rows)
        if not binary.path.is_file():
            outcomes[bench.name]["failed"] = f"not built: {binary.path} does not exist"
            print(f"pageladder: {bench.name} skipped: {outcomes[bench.name]['failed']}", file=out, flush=True)
        else:
            binaries[bench.name] = binary
    plain = [b for b in selected if b.name in binaries and b.name not in phased]
    later = [b for b in selected if b.name in binaries and b.name in phased]
    left = {b.name: estimates[b.name] for b in selected if b.name in binaries}
    started = time.monotonic()
    interrupted = False
    done = set()  # plain binaries whose every row is known well enough

    def running():
        return [b for b in plain if b.name not in done and not outcomes[b.name].get("failed")
                and not outcomes[b.name].get("stopped")]

    def step(number, bench):
        """One invocation (number) of a plain binary, or every invocation of a phased one (None)."""
        nonlocal interrupted
        outcome = outcomes[bench.name]
        if interrupted:
            outcome["stopped"] = "interrupted (Ctrl-C)"
            return
        share = estimates[bench.name] / count if number else estimates[bench.name]
        if number is None:
            what = f"{bench.name} ({count} invocations per phase)"
        elif verbose:
            what = f"{bench.name} (invocation {number}, at most {count})"
        elif bench is running()[0]:
            what = f"round {number}/{count}: " + ", ".join(b.name for b in running())
        else:
            what = None
        if what:
            print(f"[{time.monotonic() - started:.0f} s] {what}; about {_format_seconds(sum(left.values()))} left",
                  file=out, flush=True)
        t0 = time.monotonic()
        binary = binaries[bench.name]
        try:
            if number is None:
                failed, skipped, swap_used = phased[bench.name](
                    bench, lambda more=(), out_name=None: binary.run_all_invocations(count, more, out_name))
                if failed:
                    outcome["failed"] = failed
                outcome["skipped"] = skipped
                outcome["swap_devices_used"] = swap_used
                outcome["invocations"] = count
            else:
                status = binary.invoke(number)
                if status != 0:
                    outcome["stopped"] = f"{bench.binary} exited with status {status} (invocation {number})"
                else:
                    outcome["invocations"] = number
        except subprocess.TimeoutExpired:
            outcome["stopped"] = f"{bench.binary} ran past its time limit and was stopped (invocation {number})"
        except (Interrupted, KeyboardInterrupt):
            outcome["stopped"] = f"{bench.binary} was interrupted (Ctrl-C)"
            interrupted = True
        outcome["seconds"] += time.monotonic() - t0
        left[bench.name] = max(0.0, left[bench.name] - share)
        for key in ("failed", "stopped"):
            if key in outcome:
                print(f"      {outcome[key]}", file=out, flush=True)

    for number in range(1, count + 1):
        if interrupted or not running():
            break
        for bench in running():
            step(number, bench)
        if number >= least and number < count and not invocations:
            for bench in running():
                still = binaries[bench.name].rows_left(PRECISION)
                if still is None:
                    continue  # the last invocation cannot be read: every row goes on
                if still:
                    binaries[bench.name].open_rows = still
                else:
                    done.add(bench.name)
                    left[bench.name] = 0.0
    for bench in later:
        step(None, bench)
    # What completed is kept: a binary stopped part-way is merged from the invocations it
    # finished (recorded as incomplete), and fails only when none finished.
    for bench in selected:
        outcome = outcomes[bench.name]
        stopped = outcome.pop("stopped", None)
        if bench.name in phased or bench.name not in binaries or outcome.get("failed"):
            if stopped:
                outcome["failed"] = stopped
            continue
        files = binaries[bench.name].invocation_files()
        if not files:
            outcome["failed"] = stopped or "not run: interrupted"
            continue
        merged = merge_invocations(files, Path(run_dir) / outcome["file"])
        if merged == 0:
            outcome["failed"] = stopped or "every invocation's JSON was cut short (the binary crashed)"
            continue
        outcome["invocations"] = merged
        if stopped or merged < len(files):
            outcome["incomplete"] = f"{merged} of {count} invocations: {stopped or 'a JSON cut short by a crash'}"
    print(f"pageladder: {_format_seconds(time.monotonic() - started)} of benchmarking", file=out, flush=True)
    return outcomes, interrupted


def _die_with_parent(pin_cpu=None):
    """In the child before exec: SIGTERM when the harness dies, even by SIGKILL, so a benchmark
    never goes on making system changes for a run that is gone (its handler undoes them); and
    pinned to pin_cpu (CPU=<n>) when one is given."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if pin_cpu is not None:
        os.sched_setaffinity(0, {pin_cpu})


_notices_shown = set()  # a notice every invocation prints (no PMU ...) is shown once a run


def run_streaming(cmd, timeout, out, log=None, verbose=False, env=None, pin_cpu=None):
    """Runs one invocation; its whole console output goes to `log`, and to `out` only our own
    notices (each once) and errors, or everything with `verbose` (V=1). pin_cpu: the CPU it is
    pinned to, or None (the anatomy pass pins the benchmark inside its command, not perf)."""
    # Its own session, so that stopping it also stops whatever it forked. Every library's symbols
    # bound at load (the binaries are linked so; Debian's libbenchmark and libfmt are not): a
    # lazy binding inside a counted region after a fork is a copy-on-write fault no event made.
    env = dict(os.environ if env is None else env, LD_BIND_NOW="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, start_new_session=True,
                            preexec_fn=functools.partial(_die_with_parent, pin_cpu), env=env)
    deadline = time.monotonic() + timeout
    log_file = open(log, "w") if log else None
    try:
        for line in proc.stdout:
            if log_file:
                log_file.write(line)
            notice = line.startswith("pageladder:") or ("rror" in line and "skipped: " not in line)
            if verbose or (notice and line not in _notices_shown):
                _notices_shown.add(line)
                print(f"      | {line.rstrip()}", file=out, flush=True)
            if time.monotonic() > deadline:
                _stop(proc)
                raise subprocess.TimeoutExpired(cmd, timeout)
        return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise
    except KeyboardInterrupt:
        _stop(proc, signal.SIGINT)
        raise Interrupted() from None
    finally:
        if log_file:
            log_file.close()


def _stop(proc, sig=signal.SIGTERM):
    """Stops the binary and anything it forked (it runs in its own session), then reaps it."""
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


DEMAND_PAGING_BINARY = "demand_paging"


def run_demand_paging(build_dir, run_dir):
    """The chapter's experiment: its JSON, or {"failed": reason}."""
    binary = Path(build_dir) / "benchmarks" / DEMAND_PAGING_BINARY
    if not binary.is_file():
        return {"failed": f"not built: {binary} does not exist"}
    out = Path(run_dir) / "demand_paging.json"
    r = subprocess.run([str(binary), f"--out={out}"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    if r.returncode != 0:
        return {"failed": f"demand_paging exited with status {r.returncode}: {r.stdout.strip()}"}
    try:
        return json.loads(out.read_text())
    except (OSError, ValueError) as e:
        return {"failed": f"demand_paging wrote no usable JSON: {e}"}
