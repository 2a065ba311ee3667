"""Turns Google Benchmark rows into ladder rungs and skip entries (run.json: harness/schemas/run.schema.json).

Per rung: the median, min and max over repetitions of the cost of one event (each repetition's
real_time, one iteration being one event), pooled over the binary's invocations (fresh
processes, see runner.py); each invocation's own median, the level at which `compare` measures
noise; the median over repetitions of each repetition's p99 of individually timed events; the
fault counts per event; what defines the rung (`definition`: two runs whose definitions differ
measured different things); and validity. A rung is valid only if every repetition's binary
said so and the claims it describes (benchmarks/core/rows.hpp) hold again here, on the
counters its rows exported.
"""
import json
import statistics

from pageladder import registry
from pageladder.rows import position as ladder_position

TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Counters copied into a rung's "counts", when present (medians over repetitions).
COUNT_FIELDS = (
    "minor_faults_per_event",
    "major_faults_per_event",
    "perf_minor_faults_per_event",
    "perf_major_faults_per_event",
    "cycles_per_event",
    "instructions_per_event",
    "stlb_hits_per_event",
    "dtlb_walks_per_event",
)
# Counters that describe a rung beyond its counts (medians over repetitions).
DETAIL_FIELDS = ("p50_ns", "timer_overhead_ns", "events", "cycles_per_event_estimated",
                 "pages", "control_ns", "translation_penalty_ns", "l1_dtlb_reach_pages",
                 "l1_dtlb_reach_next_pages", "stlb_reach_pages", "stlb_reach_next_pages",
                 "cpuid_l1_dtlb_entries", "cpuid_l2_dtlb_entries")
INVOCATION_KEY = "pageladder_invocation"  # the one definition; runner.merge_invocations sets it (docs/names.md)
# The headline statistic, said once: run.json records these words beside the numbers, and the
# report, the chart and the README use them.
STATISTICS = {
    "median_ns": "median over every repetition (of every invocation) of the repetition's mean time "
                 "per event",
    "lo_ns": "fastest repetition's mean time per event",
    "hi_ns": "slowest repetition's mean time per event",
    "mean_ns": "mean over every repetition of the repetition's mean time per event",
    "p50_ns": "median over repetitions of each repetition's median individually timed event",
    "p99_ns": "median over repetitions of each repetition's 99th percentile of individually timed "
              "events (null where events are timed in batches)",
}
# getrusage and perf's software counters count the same faults; they must agree this closely.
COUNT_SOURCES_AGREE = 0.01
SKIP_PREFIX = "skipped: "


def row_ns(row):
    return float(row["real_time"]) * TIME_UNIT_NS[row.get("time_unit", "ns")]


def valid_medians(block):
    """{rung id: median_ns} of a run's valid rungs (what per-rung figures are read against)."""
    return {r["id"]: r["median_ns"] for r in block["ladder"] if r["valid"]}


def iteration_rows(rows):
    return [r for r in rows if r.get("run_type", "iteration") == "iteration"]


def group_by_run(rows):
    groups = {}
    for row in iteration_rows(rows):
        groups.setdefault(registry.strip_time_suffix(row.get("run_name", row["name"])), []).append(row)
    return groups


def _median_of(rows, key):
    values = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def row_status(label):
    """A row's status from its label (benchmarks/core/event_run.hpp): {"invalid": [...],
    "notes": [...], "not_verified": {counter: why}}; an empty label is an empty status. Raises
    ValueError for a label in any other form (a binary from before this format)."""
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


ROWS_CONTEXT_KEY = "pageladder_rows"  # benchmarks/core/main.cpp


def row_specs(context):
    """{id: description} of a binary's rows, from its context (benchmarks/core/rows.hpp);
    raises ValueError when the binary did not describe them."""
    text = (context or {}).get(ROWS_CONTEXT_KEY)
    if not text:
        raise ValueError("the binary does not describe its rows (built by an older pageladder? "
                         "`make build` builds it anew)")
    try:
        specs = json.loads(text)
    except ValueError as e:
        raise ValueError(f"the binary's row descriptions are not JSON: {e}") from e
    return {spec["id"]: spec for spec in specs}


def _bounds(claim):
    """[lo, hi] of a claim; JSON null on a side means unbounded there."""
    lo, hi = claim
    return (float("-inf") if lo is None else lo), (float("inf") if hi is None else hi)


def _check_claim(counter, value, claim):
    lo, hi = _bounds(claim)
    if value is None:
        return f"the rows carry no {counter} to check the claim against"
    if lo <= value <= hi:
        return None
    want = f"{lo:g}" if lo == hi else (f"at least {lo:g}" if hi == float("inf") else f"{lo:g}-{hi:g}")
    return f"{value:.3f} {counter.replace('_', ' ')}, expected {want}"


def invocation_medians(rows):
    """Each invocation's median of its repetitions, in invocation order (rows without an
    invocation tag count as one invocation)."""
    by_invocation = {}
    for r in rows:
        by_invocation.setdefault(r.get(INVOCATION_KEY, 1), []).append(row_ns(r))
    return [statistics.median(by_invocation[k]) for k in sorted(by_invocation)]


def build_rung(spec, rows, source_file):
    """One ladder entry from the iteration rows of one rung (all repetitions) and the binary's
    description of the row; its claims are checked again here against the exported counters."""
    times = [row_ns(r) for r in rows]
    reasons, notes = [], []
    unverifiable = {}
    for r in rows:
        status = row_status(r.get("label"))
        if r.get("valid") != 1:
            reasons.append("; ".join(status.get("invalid", [])) or "the benchmark did not confirm what it measured")
        notes += status.get("notes", [])
        unverifiable.update(status.get("not_verified", {}))
    counts = {k: _median_of(rows, k) for k in COUNT_FIELDS}
    counts = {k: v for k, v in counts.items() if v is not None}
    # Every claim, on every repetition: one repetition that broke it makes the rung invalid,
    # as it does in the binary.
    not_verified = {}
    for counter, claim in spec.get("claims", {}).items():
        why = unverifiable.get(counter)
        if _median_of(rows, counter) is None and why:
            not_verified[counter] = why  # the binary said this machine cannot give the counter
            continue
        failures = [c for c in (_check_claim(counter, _median_of([r], counter), claim) for r in rows) if c]
        if failures:
            where = "" if len(failures) == len(rows) else f" (in {len(failures)} of {len(rows)} repetitions)"
            reasons.append(f"harness check: {failures[0]}{where}")
    if "minor_faults_per_event" not in counts or "major_faults_per_event" not in counts:
        reasons.append("the row carries no fault counts")
    # Two independent counts of the same faults: the process's getrusage and perf's software
    # events. Where both exist they must agree, or neither can be trusted; where perf's are
    # missing (events timed in a child, no perf), the rung says its counts rest on one source.
    if "minor_faults_per_event" in counts and "perf_minor_faults_per_event" not in counts:
        notes.append("fault counts from getrusage alone (no perf software counts for these events)")
    for kind in ("minor", "major"):
        own, perf = counts.get(f"{kind}_faults_per_event"), counts.get(f"perf_{kind}_faults_per_event")
        if own is not None and perf is not None and abs(own - perf) > COUNT_SOURCES_AGREE * max(1.0, own):
            reasons.append(f"harness check: getrusage counts {own:.3f} {kind} faults per event, "
                           f"perf {perf:.3f}")
    definition = {}
    for key in spec.get("defined_by", []):
        values = sorted({float(r[key]) for r in rows if isinstance(r.get(key), (int, float))})
        if len(values) > 1:
            reasons.append(f"the invocations measured different {key}: "
                           + ", ".join(f"{v:g}" for v in values))
        elif values:
            definition[key] = values[0]
    unique_reasons = list(dict.fromkeys(reasons))
    p99s = [float(r["p99_ns"]) for r in rows if isinstance(r.get("p99_ns"), (int, float))]
    entry = {
        "id": spec["id"],
        "label": spec["label"],
        "family": spec["family"],
        "event": spec.get("event"),
        "claims": spec.get("claims", {}),
        "median_ns": statistics.median(times),
        "mean_ns": statistics.fmean(times),
        "lo_ns": min(times),
        "hi_ns": max(times),
        "p99_ns": statistics.median(p99s) if p99s else None,
        "samples": len(times),
        "valid": not unique_reasons,
        "why_invalid": "; ".join(unique_reasons) if unique_reasons else None,
        "counts": counts,
        "source": f"{source_file}:{rows[0].get('run_name', rows[0]['name'])}",
        "invocations": len(invocation_medians(rows)),
        "invocation_medians_ns": invocation_medians(rows),
        "definition": definition,
    }
    for key in DETAIL_FIELDS:
        value = _median_of(rows, key)
        if value is not None:
            entry[key] = value
    if notes:
        entry["note"] = "; ".join(dict.fromkeys(notes))
    # Claims this machine could not check: shown as such, never as passed.
    entry["not_verified"] = [f"{counter}: {why}" for counter, why in not_verified.items()]
    return entry


def skipped_series(groups, specs, benchmark):
    """Supporting rows (sweep points) skipped with a reason, one entry per series."""
    reasons = {}
    for run_name, rows in groups.items():
        message = rows[0].get("error_message", "") if rows[0].get("error_occurred") else ""
        spec = specs.get(run_name)
        if (spec and spec.get("rung", True)) or not message.startswith(SKIP_PREFIX):
            continue
        # A point of a series ("tlb_sweep/thp/pages:64") stands for its series.
        series = run_name.rsplit("/", 1)[0] if "/pages:" in run_name else run_name
        reasons.setdefault(series, message[len(SKIP_PREFIX):])
    return [{"benchmark": benchmark, "reason": f"{series}: {reason}"} for series, reason in reasons.items()]


def build(results_by_benchmark, already_skipped=()):
    """results_by_benchmark: {short name: {"file": name, "rows": [...], "specs": {id: spec}}
    or {"failed": reason}}.

    Returns (ladder, skipped). Rungs of benchmarks not in the mapping are not mentioned.
    """
    ladder, skipped = [], []
    for name, result in results_by_benchmark.items():
        if "failed" in result:
            skipped.append({"benchmark": name, "reason": result["failed"]})
            continue
        specs = result["specs"]
        groups = group_by_run(result["rows"])
        skipped += skipped_series(groups, specs, name)
        for spec in specs.values():
            if not spec.get("rung", True):
                continue
            rows = groups.get(spec["id"])
            if not rows and spec["id"] in already_skipped:
                continue
            if not rows:
                skipped.append({"rung": spec["id"], "reason": f"{result['file']} has no row '{spec['id']}'"})
                continue
            errors = [r for r in rows if r.get("error_occurred")]
            if errors:
                message = errors[0].get("error_message", "error")
                if message.startswith(SKIP_PREFIX):
                    skipped.append({"rung": spec["id"], "reason": message[len(SKIP_PREFIX):]})
                else:
                    skipped.append({"rung": spec["id"], "reason": f"the benchmark failed: {message}"})
                continue
            try:
                ladder.append(build_rung(spec, rows, result["file"]))
            except ValueError as e:
                skipped.append({"rung": spec["id"], "reason": str(e)})
    described = {i: spec for result in results_by_benchmark.values() for i, spec in result.get("specs", {}).items()}
    ladder.sort(key=lambda e: ladder_position(described.get(e["id"]), e["id"]))
    return ladder, skipped
