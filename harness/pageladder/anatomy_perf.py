"""perf, as the anatomy pass drives it: the `perf record` command line around a benchmark, and
`perf script`'s text read back as records (samples with their kernel frames, context switches).

One job: everything the pass says to perf or reads from it is here, so its flags and its text
format are written once. What the records mean for a rung is anatomy_join.py's.

Engine: Debian's perf (linux-perf) rather than perf_event_open in the suite. It already resolves
kernel symbols from /proc/kallsyms, follows forked children with their own buffers (cow_fault
and swap_in take their faults in children), records context switches and writes all of it as
stable text (`perf script`); doing that again in the suite would be a second, less tested perf.
The suite's own part is what perf cannot know: the events' windows.
"""
import re
import subprocess

KERNEL_ADDRESS = 0xFFFF800000000000
SCRIPT_FIELDS = "pid,tid,time,ip,sym"

_HEADER = re.compile(r"^\s*(\d+)/(\d+)\s+(\d+)\.(\d+):\s*(.*)$")
_FRAME = re.compile(r"^\s+([0-9a-f]+)\s+(\S+)")


def record_command(perf, counter, data_path, command):
    """`perf record` around a benchmark's command: the counter's sampling (anatomy_prerequisites'
    sampling_counter), call chains, context switches, and CLOCK_MONOTONIC time stamps, the
    clock of the events' windows."""
    return [perf, "record", "-q", *counter["args"], "-g", "--switch-events",
            "-k", "monotonic", "-o", str(data_path), "--", *command]


def read_recording(perf, data_path, errors_path, consume):
    """(consume's result, perf's warnings of lost records) of one recording: `perf script`'s
    records (parse_perf_script) are streamed into consume as perf writes them; raises ValueError
    when perf script fails. errors_path keeps perf script's stderr."""
    with open(errors_path, "w+") as errors:
        script = subprocess.Popen([perf, "script", "-i", str(data_path), "-F", SCRIPT_FIELDS,
                                   "--ns", "--show-switch-events"], stdout=subprocess.PIPE,
                                  stderr=errors, text=True, errors="replace")
        result = consume(parse_perf_script(script.stdout))
        if script.wait() != 0:
            errors.seek(0)
            raise ValueError(f"perf script exited {script.returncode}: {errors.read().strip()[:200]}")
        errors.seek(0)
        # perf says when its buffers overflowed: samples and switch records are then missing.
        warnings = [line.strip() for line in errors if "lost" in line.lower()]
    return result, warnings


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
