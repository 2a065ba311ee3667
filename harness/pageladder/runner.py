"""Runs the selected benchmark binaries one after another, with progress and time left."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pageladder import registry

# Odd on purpose: Debian's Google Benchmark 1.7.1 computes the median wrongly for even counts.
REPETITIONS = {"quick": 5, "full": 9}


class Interrupted(Exception):
    pass


def command_for(benchmark, binary_path, run_dir, quick, extra_args=(), out_name=None):
    mode = 0 if quick else 1
    return [
        str(binary_path),
        f"--benchmark_out={Path(run_dir) / (out_name or benchmark.binary + '.json')}",
        "--benchmark_out_format=json",
        f"--benchmark_repetitions={REPETITIONS['quick' if quick else 'full']}",
        f"--benchmark_min_time={benchmark.min_time[mode]}",
        "--benchmark_display_aggregates_only=true",
        *(["--pageladder_quick"] if quick else []),
        *extra_args,
    ]


def _format_seconds(s):
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def run_all(selected, build_dir, run_dir, quick, extra_args=None, out=None, phased=None):
    """Runs each benchmark; returns ({name: outcome}, interrupted) for collect.assemble.

    phased: {name: fn(bench, run_binary)} for benchmarks that run in several phases (swap_in);
    fn returns (failed reason or None, skipped entries) and writes <binary>.json itself.

    A binary that is missing, crashes or times out is recorded as failed with the reason; the
    others still run. Ctrl-C stops the current binary and the remaining ones are recorded as
    interrupted, so what already ran is kept.
    """
    extra_args = extra_args or {}
    out = out or sys.stdout
    mode = 0 if quick else 1
    estimates = {b.name: b.expected_seconds[mode] for b in selected}
    outcomes = {}
    started = time.monotonic()
    interrupted = False
    for index, bench in enumerate(selected, 1):
        if interrupted:
            outcomes[bench.name] = {"binary": bench.binary, "failed": "not run: interrupted"}
            continue
        left = sum(estimates[b.name] for b in selected[index - 1:])
        print(f"[{index}/{len(selected)}] {bench.name} ({bench.binary}): about "
              f"{_format_seconds(estimates[bench.name])}; about {_format_seconds(left)} left in all",
              file=out, flush=True)
        binary_path = Path(build_dir) / "benchmarks" / bench.binary
        if not binary_path.is_file():
            reason = f"not built: {binary_path} does not exist"
            print(f"      skipped: {reason}", file=out, flush=True)
            outcomes[bench.name] = {"binary": bench.binary, "failed": reason}
            continue
        t0 = time.monotonic()
        outcome = {"binary": bench.binary, "file": bench.binary + ".json"}

        def run_binary(more_args=(), out_name=None, bench=bench, binary_path=binary_path):
            cmd = command_for(bench, binary_path, run_dir, quick,
                              [*extra_args.get(bench.name, ()), *more_args], out_name)
            return _run_streaming(cmd, timeout=max(120.0, 10 * estimates[bench.name]), out=out)

        try:
            if phased and bench.name in phased:
                failed, skipped = phased[bench.name](bench, run_binary)
                if failed:
                    outcome["failed"] = failed
                outcome["skipped"] = skipped
            else:
                status = run_binary()
                if status != 0:
                    outcome["failed"] = f"{bench.binary} exited with status {status}"
        except subprocess.TimeoutExpired:
            outcome["failed"] = f"{bench.binary} ran past its time limit and was stopped"
        except Interrupted:
            outcome["failed"] = f"{bench.binary} was interrupted (Ctrl-C)"
            interrupted = True
        outcome["seconds"] = time.monotonic() - t0
        outcomes[bench.name] = outcome
        if "failed" in outcome:
            print(f"      {outcome['failed']}", file=out, flush=True)
        print(f"      done in {_format_seconds(outcome['seconds'])} "
              f"({_format_seconds(time.monotonic() - started)} so far)", file=out, flush=True)
    return outcomes, interrupted


def _die_with_parent():
    """In the child before exec: SIGTERM when the harness dies, even by SIGKILL, so a benchmark
    never goes on making system changes for a run that is gone (its handler undoes them)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _run_streaming(cmd, timeout, out):
    # Its own session, so that stopping it also stops whatever it forked.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, start_new_session=True, preexec_fn=_die_with_parent)
    deadline = time.monotonic() + timeout
    table_started = False
    try:
        for line in proc.stdout:
            # Google Benchmark prints its context first; the run's context is in run.json, so
            # only our own notices and the result table are shown while it runs.
            table_started = table_started or line.startswith("Benchmark ")
            if table_started or line.startswith("pageladder:") or "rror" in line:
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


def run_demand_paging(build_dir, run_dir):
    """The chapter's experiment: its JSON, or {"failed": reason}."""
    import json

    binary = Path(build_dir) / "benchmarks" / "demand_paging"
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
