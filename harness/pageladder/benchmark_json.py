"""Google Benchmark's JSON as pageladder's binaries write it: the harness's one reader, merger
and checker of it (used by collect, ladder, compare, the sweep, the anatomy pass, swap_in's
phases and the smoke test).

A binary's file holds `context` (with `pageladder_rows`: the description of every row it can
register, benchmarks/core/rows.hpp) and `benchmarks` (one entry per repetition of a row). A
row's `label` is its status, one JSON object (benchmarks/core/event_run.hpp):
{"invalid": [why, ...], "notes": [...], "not_verified": {counter: why}}. A row skipped for want
of something carries `error_message` "skipped: <why>". Rows merged from several invocations
carry INVOCATION_KEY, the invocation's number (docs/names.md).
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pageladder import safe_io

TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
SKIP_PREFIX = "skipped: "                # benchmarks/core/event_run.cpp, skip()
ROWS_CONTEXT_KEY = "pageladder_rows"     # benchmarks/core/main.cpp
INVOCATION_KEY = "pageladder_invocation"
# getrusage and perf's software counters count the same faults; they must agree this closely.
COUNT_SOURCES_AGREE = 0.01

# Components Google Benchmark appends to a run name for how a row was run, not what it measures.
_RUN_SUFFIX = re.compile(r"/(manual_time|real_time|min_time:[0-9.]+|repeats:\d+|iterations:\d+)$")


def load(path):
    """(context, rows) of one Google Benchmark JSON file; raises ValueError if unusable."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from e
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON (truncated?): {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"{path} has no 'benchmarks' list")
    return data.get("context", {}), data["benchmarks"]


def merge(paths, out_path, tag_invocations=True):
    """One Google Benchmark JSON from several: the context is the first readable file's, the
    rows all files' in order. tag_invocations: the files are one binary's invocations
    (<stem>.<number>.json), each row is tagged with its number and the context says how many
    merged; otherwise (swap_in's phases, each already merged) rows and context stay as they
    are. The files are kept. Returns how many were merged: a file cut short by a crash (already
    reported as its binary's failure) is left out, and named in the context."""
    merged = {"context": {}, "benchmarks": []}
    unreadable = []
    for path in paths:
        try:
            context, rows = load(path)
        except ValueError:
            unreadable.append(Path(path).name)
            continue
        merged["context"] = merged["context"] or dict(context)
        number = int(Path(path).name.rsplit(".", 2)[1]) if tag_invocations else None
        merged["benchmarks"] += [{**row, INVOCATION_KEY: number} if tag_invocations else row for row in rows]
    if tag_invocations:
        merged["context"]["pageladder_invocations"] = len(paths) - len(unreadable)
    if unreadable:
        merged["context"]["pageladder_unreadable_invocations"] = unreadable
    safe_io.write_json_atomically(out_path, merged)
    return len(paths) - len(unreadable)


def row_specs(context):
    """{id: description} of a binary's rows, from its context; raises ValueError when the binary
    did not describe them."""
    text = (context or {}).get(ROWS_CONTEXT_KEY)
    if not text:
        raise ValueError("the binary does not describe its rows (built by an older pageladder? "
                         "`make build` builds it anew)")
    try:
        specs = json.loads(text)
    except ValueError as e:
        raise ValueError(f"the binary's row descriptions are not JSON: {e}") from e
    return {spec["id"]: spec for spec in specs}


def iteration_rows(rows):
    """The rows of repetitions (not Google Benchmark's aggregates)."""
    return [r for r in rows if r.get("run_type", "iteration") == "iteration"]


def strip_time_suffix(run_name):
    """A run name without what says how it ran: "minor_fault/manual_time" -> "minor_fault"."""
    while True:
        stripped = _RUN_SUFFIX.sub("", run_name)
        if stripped == run_name:
            return run_name
        run_name = stripped


def rung_of(row):
    """The id of the row a repetition belongs to (a sweep point keeps its point: "tlb_sweep/4k/pages:8")."""
    return strip_time_suffix(row.get("run_name", row.get("name", "")))


def spec_of(run_name, specs):
    """The description of a run name: its own, else its series' ("tlb_sweep/4k/pages:8" is
    described as "tlb_sweep/4k" or "tlb_sweep")."""
    name = strip_time_suffix(run_name)
    while name and name not in specs:
        name = name.rpartition("/")[0]
    return specs.get(name)


def row_ns(row):
    """One repetition's time per event, in ns."""
    return float(row["real_time"]) * TIME_UNIT_NS[row.get("time_unit", "ns")]


def times_by_invocation(rows):
    """[[ns of each repetition] of each invocation], in invocation order (rows without an
    invocation tag count as one invocation)."""
    by_invocation = {}
    for r in rows:
        by_invocation.setdefault(r.get(INVOCATION_KEY, 1), []).append(row_ns(r))
    return [by_invocation[k] for k in sorted(by_invocation)]


def skip_reason(row):
    """Why the row was skipped, or None for a row that ran (or failed)."""
    message = str(row.get("error_message", "")) if row.get("error_occurred") else ""
    return message[len(SKIP_PREFIX):] if message.startswith(SKIP_PREFIX) else None


def row_status(label):
    """A row's status from its label; an empty label is an empty status. Raises ValueError for a
    label in any other form (a binary from before this format)."""
    if not label:
        return {}
    try:
        status = json.loads(label)
    except ValueError:
        status = None
    if not isinstance(status, dict):
        raise ValueError(f"a row's label is not its JSON status (built by an older pageladder? "
                         f"`make build`): {label[:80]!r}")
    return status


def claim_bounds(claim):
    """[lo, hi] of a claim; JSON null on a side means unbounded there."""
    lo, hi = claim
    return (float("-inf") if lo is None else lo), (float("inf") if hi is None else hi)


def broken_claim(counter, value, claim):
    """Why `value` of `counter` breaks `claim`, or None where it holds."""
    lo, hi = claim_bounds(claim)
    if value is None:
        return f"the rows carry no {counter} to check the claim against"
    if lo <= value <= hi:
        return None
    want = f"{lo:g}" if lo == hi else (f"at least {lo:g}" if hi == float("inf") else f"{lo:g}-{hi:g}")
    return f"{value:.3f} {counter.replace('_', ' ')}, expected {want}"


def _number(row, key):
    value = row.get(key)
    return float(value) if isinstance(value, (int, float)) else None


def disagreeing_counts(counts):
    """Where getrusage's and perf's counts of the same faults (per event) differ by more than
    COUNT_SOURCES_AGREE: {fault class: why}; neither count can then be trusted."""
    reasons = {}
    for kind in ("minor", "major"):
        own, perf = counts.get(f"{kind}_faults_per_event"), counts.get(f"perf_{kind}_faults_per_event")
        if own is not None and perf is not None and abs(own - perf) > COUNT_SOURCES_AGREE * max(1.0, own):
            reasons[kind] = f"getrusage counts {own:.3f} {kind} faults per event, perf {perf:.3f}"
    return reasons


# Claims the harness recomputes from a row's raw counts rather than the binary's ratio: the fault
# classes from their totals over the events; any claim whose binary exported <counter>_amount and
# <counter>_over (core/event_run.cpp, EventRun::finish) from those two.
FAULT_TOTALS = {"minor_faults_per_event": ("minor_faults",), "major_faults_per_event": ("major_faults",),
                "faults_per_event": ("minor_faults", "major_faults")}
RECHECK_AGREE = 1e-6  # relative: the binary's ratio and the harness's differ only by rounding


def recheck(row, counter):
    """(the claim's value recomputed here from the row's raw counts, the words for them), or None
    where the row exports no raw counts for it."""
    amount, over = _number(row, f"{counter}_amount"), _number(row, f"{counter}_over")
    if amount is not None and over is not None and over > 0:
        return amount / over, f"{amount:g} over {over:g}"
    totals = [_number(row, key) for key in FAULT_TOTALS.get(counter, ())]
    events = _number(row, "events")
    if totals and all(t is not None for t in totals) and events is not None:
        return sum(totals) / max(events, 1.0), f"{sum(totals):g} faults in {events:g} events"
    return None


@dataclass
class Verdict:
    """The one rule for one repetition of a row that ran (verdict()). binary: what the binary
    said was wrong ("invalid" in its status, or valid != 1 with no reason); claims: {counter:
    why} for each claim of the row's description that the counters it exported break, checked
    here again; counts: {fault class: why} where getrusage's and perf's counts of the same faults
    disagree; not_verified: {counter:
    why} for claims this machine cannot check (the binary said why and exported no value);
    notes: what the binary wants the reader to know."""
    binary: list = field(default_factory=list)
    claims: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    not_verified: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    rechecked: list = field(default_factory=list)  # claims recomputed here from raw counts

    @property
    def problems(self):
        """Every problem once: a broken claim the binary already gave is not repeated."""
        again = [why for why in self.claims.values() if why not in self.binary]
        return self.binary + [f"harness check: {why}" for why in (*again, *self.counts.values())]


def verdict(row, spec):
    """The Verdict on one repetition of a row (`spec`: its description). Raises ValueError for a
    label that is not a status."""
    status = row_status(row.get("label"))
    found = Verdict(binary=list(status.get("invalid", [])), notes=list(status.get("notes", [])))
    if spec is None:
        found.binary.append("the binary does not describe this row: its claims cannot be checked")
    if row.get("valid") != 1 and not found.binary:
        found.binary.append("the benchmark did not confirm what it measured")
    unverifiable = status.get("not_verified", {})
    for counter, claim in (spec or {}).get("claims", {}).items():
        value = _number(row, counter)
        if value is None and counter in unverifiable:
            found.not_verified[counter] = unverifiable[counter]
            continue
        raw = recheck(row, counter)
        if raw is not None:
            found.rechecked.append(counter)
            own, words = raw
            if value is not None and abs(own - value) > RECHECK_AGREE * max(1.0, abs(value)):
                found.claims[counter] = (f"the binary reports {value:.6g} {counter.replace('_', ' ')}, its raw "
                                         f"counts ({words}) make {own:.6g}")
                continue
            value = own  # the claim judged on the harness's own figure
        broken = broken_claim(counter, value, claim)
        if broken:
            found.claims[counter] = broken
    found.counts = disagreeing_counts({k: _number(row, k) for k in (
        "minor_faults_per_event", "major_faults_per_event",
        "perf_minor_faults_per_event", "perf_major_faults_per_event")})
    return found
