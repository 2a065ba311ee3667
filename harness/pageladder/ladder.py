"""Turns Google Benchmark rows into ladder rungs and skip entries (../shared/CONTRACT.md).

Per rung: the median, min and max over repetitions of the cost of one event (each repetition's
real_time, one iteration being one event), pooled over the binary's invocations (fresh
processes, see runner.py); each invocation's own median, the level at which `compare` measures
noise; the median over repetitions of each repetition's p99 of individually timed events; the
fault counts per event; what defines the rung (`definition`: two runs whose definitions differ
measured different things); and validity. A rung is valid only if every repetition's binary
said so and the counts pass the registry's independent check.
"""
import statistics

from pageladder import registry

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
# Counters that define what a rung measured (the TLB rungs' page count): rows of two runs are
# comparable only when these agree.
DEFINITION_FIELDS = ("pages",)
INVOCATION_KEY = "pageladder_invocation"  # set by runner.merge_invocations
SKIP_PREFIX = "skipped: "
INVALID_PREFIX = "invalid: "


def row_ns(row):
    return float(row["real_time"]) * TIME_UNIT_NS[row.get("time_unit", "ns")]


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


def _split_label(label):
    """A row label is 'invalid: <reasons> | <notes>', '<notes>', or empty."""
    if not label:
        return None, None
    if label.startswith(INVALID_PREFIX):
        reason, _, notes = label[len(INVALID_PREFIX):].partition(" | ")
        return reason, notes or None
    return None, label


def _check_range(name, value, bounds):
    if bounds is None or value is None:
        return None
    lo, hi = bounds
    if lo <= value <= hi:
        return None
    want = f"{lo:g}" if lo == hi else (f"at least {lo:g}" if hi == float("inf") else f"{lo:g}-{hi:g}")
    return f"{value:.3f} {name} per event, expected {want}"


def invocation_medians(rows):
    """Each invocation's median of its repetitions, in invocation order (rows without an
    invocation tag count as one invocation)."""
    by_invocation = {}
    for r in rows:
        by_invocation.setdefault(r.get(INVOCATION_KEY, 1), []).append(row_ns(r))
    return [statistics.median(by_invocation[k]) for k in sorted(by_invocation)]


def build_rung(rung, rows, source_file):
    """One ladder entry from the iteration rows of one rung (all repetitions)."""
    times = [row_ns(r) for r in rows]
    reasons, notes = [], []
    for r in rows:
        reason, note = _split_label(r.get("label"))
        if r.get("valid") != 1:
            reasons.append(reason or "the benchmark did not confirm what it measured")
        if note:
            notes.append(note)
    counts = {k: _median_of(rows, k) for k in COUNT_FIELDS}
    counts = {k: v for k, v in counts.items() if v is not None}
    for check in (
        _check_range("minor faults", counts.get("minor_faults_per_event"), rung.minor_per_event),
        _check_range("major faults", counts.get("major_faults_per_event"), rung.major_per_event),
    ):
        if check:
            reasons.append(f"harness check: {check}")
    if "minor_faults_per_event" not in counts or "major_faults_per_event" not in counts:
        reasons.append("the row carries no fault counts")
    definition = {}
    for key in DEFINITION_FIELDS:
        values = sorted({float(r[key]) for r in rows if isinstance(r.get(key), (int, float))})
        if len(values) > 1:
            reasons.append(f"the invocations measured different {key}: "
                           + ", ".join(f"{v:g}" for v in values))
        elif values:
            definition[key] = values[0]
    unique_reasons = list(dict.fromkeys(reasons))
    p99s = [float(r["p99_ns"]) for r in rows if isinstance(r.get("p99_ns"), (int, float))]
    entry = {
        "id": rung.id,
        "label": rung.label,
        "category": rung.category,
        "median_ns": statistics.median(times),
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
    return entry


def skipped_series(groups, benchmark):
    """Rows outside the ladder (sweep points) skipped with a reason, one entry per series."""
    rung_rows = {r.row for r in registry.rungs_of(benchmark)}
    reasons = {}
    for run_name, rows in groups.items():
        message = rows[0].get("error_message", "") if rows[0].get("error_occurred") else ""
        if run_name in rung_rows or not message.startswith(SKIP_PREFIX):
            continue
        series = run_name.rsplit("/", 1)[0]
        reasons.setdefault(series, message[len(SKIP_PREFIX):])
    return [{"benchmark": benchmark, "reason": f"{series}: {reason}"} for series, reason in reasons.items()]


def build(results_by_benchmark, already_skipped=()):
    """results_by_benchmark: {short name: {"file": name, "rows": [...]} or {"failed": reason}}.

    Returns (ladder, skipped). Rungs of benchmarks not in the mapping are not mentioned.
    """
    ladder, skipped = [], []
    for name, result in results_by_benchmark.items():
        rungs = registry.rungs_of(name)
        if "failed" in result:
            skipped.append({"benchmark": name, "reason": result["failed"]})
            continue
        groups = group_by_run(result["rows"])
        skipped += skipped_series(groups, name)
        for rung in rungs:
            rows = groups.get(rung.row)
            if not rows and rung.id in already_skipped:
                continue
            if not rows:
                skipped.append({"rung": rung.id, "reason": f"{result['file']} has no row '{rung.row}'"})
                continue
            errors = [r for r in rows if r.get("error_occurred")]
            if errors:
                message = errors[0].get("error_message", "error")
                if message.startswith(SKIP_PREFIX):
                    skipped.append({"rung": rung.id, "reason": message[len(SKIP_PREFIX):]})
                else:
                    skipped.append({"rung": rung.id, "reason": f"the benchmark failed: {message}"})
                continue
            ladder.append(build_rung(rung, rows, result["file"]))
    order = {r.id: i for i, r in enumerate(registry.RUNGS)}
    ladder.sort(key=lambda e: order.get(e["id"], len(order)))
    return ladder, skipped
