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
import statistics

from pageladder.benchmark_json import iteration_rows, row_ns, rung_of, skip_reason, times_by_invocation, verdict
from pageladder.rows import position as ladder_position

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
                 "cpuid_l1_dtlb_entries", "cpuid_l2_dtlb_entries", "threads", "faults_per_s_per_thread",
                 "least_other_faults_per_event", "folio_kb", "ns_per_4k", "thrown_away_batches",
                 "spinner_realtime")
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


def valid_medians(block):
    """{rung id: median_ns} of a run's valid rungs (what per-rung figures are read against)."""
    return {r["id"]: r["median_ns"] for r in block["ladder"] if r["valid"]}


def group_by_run(rows):
    groups = {}
    for row in iteration_rows(rows):
        groups.setdefault(rung_of(row), []).append(row)
    return groups


def _median_of(rows, key):
    values = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def invocation_medians(rows):
    """Each invocation's median of its repetitions, in invocation order (rows without an
    invocation tag count as one invocation)."""
    return [statistics.median(times) for times in times_by_invocation(rows)]


def build_rung(spec, rows, source_file):
    """One ladder entry from the iteration rows of one rung (all repetitions) and the binary's
    description of the row; its claims are checked again here against the exported counters."""
    times = [row_ns(r) for r in rows]
    reasons, notes, not_verified = [], [], {}
    broken = {}  # what a harness check found -> (first finding, repetitions it was found in)
    rechecked = None  # the claims recomputed here from raw counts in every repetition
    for r in rows:
        found = verdict(r, spec)
        rechecked = set(found.rechecked) if rechecked is None else rechecked & set(found.rechecked)
        reasons += ["; ".join(found.binary)] if found.binary else []
        notes += found.notes
        not_verified.update(found.not_verified)
        again = {counter: why for counter, why in found.claims.items() if why not in found.binary}
        for key, why in [*again.items(), *found.counts.items()]:
            first, n = broken.get(key, (why, 0))
            broken[key] = (first, n + 1)
    # Every claim, on every repetition: one repetition that broke it makes the rung invalid, as
    # it does in the binary.
    for first, n in broken.values():
        where = "" if n == len(rows) else f" (in {n} of {len(rows)} repetitions)"
        reasons.append(f"harness check: {first}{where}")
    counts = {k: _median_of(rows, k) for k in COUNT_FIELDS}
    counts = {k: v for k, v in counts.items() if v is not None}
    if "minor_faults_per_event" not in counts or "major_faults_per_event" not in counts:
        reasons.append("the row carries no fault counts")
    # Two independent counts of the same faults (getrusage and perf's software events) are
    # checked per repetition above; where perf's are missing (events timed in a child, no perf),
    # the rung says its counts rest on one source.
    if "minor_faults_per_event" in counts and "perf_minor_faults_per_event" not in counts:
        notes.append("fault counts from getrusage alone (no perf software counts for these events)")
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
        # The claims the harness recomputed from the row's raw counts (not the binary's ratio).
        "rechecked": sorted(rechecked or ()),
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
        reason = skip_reason(rows[0])
        spec = specs.get(run_name)
        if (spec and spec.get("rung", True)) or reason is None:
            continue
        # A point of a series ("tlb_sweep/thp/pages:64") stands for its series.
        series = run_name.rsplit("/", 1)[0] if "/pages:" in run_name else run_name
        reasons.setdefault(series, reason)
    return [{"benchmark": benchmark, "reason": f"{series}: {reason}"} for series, reason in reasons.items()]


def build(results_by_benchmark, already_skipped=()):
    """results_by_benchmark: {short name: {"file": name, "rows": [...], "specs": {id: spec}}
    or {"failed": reason}}.

    Returns (ladder, skipped). Rungs of benchmarks not in the mapping are not mentioned.
    """
    ladder, skipped, measured = [], [], {}
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
                reason = skip_reason(errors[0])
                if reason is None:
                    reason = f"the benchmark failed: {errors[0].get('error_message', 'error')}"
                skipped.append({"rung": spec["id"], "reason": reason})
                continue
            try:
                ladder.append(build_rung(spec, rows, result["file"]))
                measured[spec["id"]] = rows
            except ValueError as e:
                skipped.append({"rung": spec["id"], "reason": str(e)})
    described = {i: spec for result in results_by_benchmark.values() for i, spec in result.get("specs", {}).items()}
    add_minus_control(ladder, described, measured)
    ladder.sort(key=lambda e: ladder_position(described.get(e["id"]), e["id"]))
    return ladder, skipped


def add_minus_control(ladder, described, measured):
    """Each valid rung whose binary names a control (the same measurement without the
    mechanism: tlb_shootdown's ref_local_flush) gets `minus_control`: the rung's median minus
    the control's, with its 95% interval, when the control is valid in the run too. A derived
    value, computed once here, at collect time."""
    from pageladder import stats

    entries = {e["id"]: e for e in ladder}
    for entry in ladder:
        control = (described.get(entry["id"]) or {}).get("control")
        if not control or not entry["valid"] or not (entries.get(control) or {}).get("valid"):
            continue
        ns, lo, hi = stats.difference(times_by_invocation(measured[control]), times_by_invocation(measured[entry["id"]]))
        entry["minus_control"] = {"control": control, "ns": ns, "ci_lo_ns": lo, "ci_hi_ns": hi}
