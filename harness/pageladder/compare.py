"""Sides of runs set against each other: per rung, the ratio of medians with its 95% confidence
interval, a p-value adjusted over all rungs, and one verdict (faster, slower, same, undecided,
invalid, missing, not comparable); plus every setting that differs between the runs, so a kernel
comparison shows at once what else changed. The statistics are in stats.py; the JSON written
here (compare.json) is described by harness/schemas/compare.schema.json.

A side is one or more runs of the same configuration (`A="r1 r2" B="r3 r4"`); with
`RUNS="r1 r2 r3"` each run is a side and every side is compared with the first.
"""
import hashlib
import math
from pathlib import Path

import numpy as np

from pageladder import metadata, stats
from pageladder import rows as row_descriptions
from pageladder.benchmark_json import iteration_rows, times_by_invocation
from pageladder.units import format_ns

VERDICTS = ("faster", "slower", "same", "undecided", "invalid", "missing", "not comparable")
# Fewer invocations than this in a run leave its noise unknown: no verdict can be given.
MIN_INVOCATIONS = 3
SCHEMA_VERSION = 2  # 2: verdict undecided, same an equivalence test, drift and method per rung


def invocations(run, rung):
    """[invocation][repetition ns] of a rung in a run, from the rows its ladder entry names."""
    source = rung["source"].split(":", 1)[1]
    return times_by_invocation([r for r in iteration_rows(run["benchmarks"])
                                if r.get("run_name", r["name"]) == source and not r.get("error_occurred")])


def run_id(run):
    return run["pageladder"]["run_id"]


def _mode(run):
    return "quick" if (run["pageladder"].get("harness") or {}).get("quick") else "full"


def fingerprint_differences(runs):
    """[(field, [value per run])] for every fingerprint field that is not the same in all runs,
    plus how each run was made (quick or full; pinned to a CPU or not)."""
    prints = [dict(run["pageladder"].get("fingerprint") or {}, run_mode=_mode(run),
                   pinned_cpu=(run["pageladder"].get("harness") or {}).get("cpu")) for run in runs]
    fields = sorted(set().union(*prints))
    return [(f, [p.get(f) for p in prints]) for f in fields if len({repr(p.get(f)) for p in prints}) > 1]


def _entry(run, rung_id):
    return next((r for r in run["pageladder"]["ladder"] if r["id"] == rung_id), None)


def _skip_reason(run, rung_id):
    skip = next((s for s in run["pageladder"]["skipped"] if s.get("rung") == rung_id), None)
    return skip["reason"] if skip else "not measured"


def _side_state(side, rung_id):
    """('ok', entries) or (state, why) for one side's runs."""
    entries = [_entry(run, rung_id) for run in side]
    for run, entry in zip(side, entries):
        if entry is None:
            return "missing", f"{run_id(run)}: {_skip_reason(run, rung_id)}"
    for run, entry in zip(side, entries):
        if not entry["valid"]:
            return "invalid", f"{run_id(run)}: {entry['why_invalid']}"
    definitions = {repr(e.get("definition") or {}) for e in entries}
    if len(definitions) > 1:
        return "not comparable", "the runs of one side measured it differently: " + ", ".join(sorted(definitions))
    return "ok", entries


def emulation(run):
    return metadata.emulation(run["pageladder"].get("settings") or {})


def emulation_mismatch(a_side, b_side):
    """Why no faster/slower verdict can be given between these sides' times, or None: emulated
    times compare only with times emulated the same way."""
    a, b = {emulation(r) for r in a_side}, {emulation(r) for r in b_side}
    if len(a) == 1 and a == b:
        return None
    def said(side):
        return " and ".join(sorted(e or "hardware speed" for e in side))
    return f"emulated: A's times are {said(a)}, B's {said(b)}; only validity compares"


def _definition_text(definition):
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(definition.items())) or "–"


def _family(runs, rung_id):
    """The family its binary gave the rung (from any run that has it), else None."""
    for run in runs:
        described = (run["pageladder"].get("rows") or {}).get(rung_id) or _entry(run, rung_id) or {}
        if described.get("family"):
            return described["family"]
    return None


def _history_units(history, rung_id, definition):
    """[group][run][invocation][repetition ns] of a rung in earlier identical runs (history.py):
    the runs of each group where it was valid, measured the same way, with enough invocations."""
    found = []
    for group in history:
        runs = []
        for run in group:
            entry = _entry(run, rung_id)
            if entry and entry["valid"] and (entry.get("definition") or {}) == definition:
                units = invocations(run, entry)
                if len(units) >= MIN_INVOCATIONS and not stats.usable([units]):
                    runs.append(units)
        if len(runs) >= 2:
            found.append(runs)
    return found


def _pair_history(history, a_side, b_side):
    """The groups of earlier runs identical to a run of this pair (not another pair's sides)."""
    from pageladder.history import configuration
    wanted = {configuration(run) for run in a_side + b_side}
    return [group for group in history if configuration(group[0]) in wanted]


def compare_pair(a_side, b_side, rung_ids, history=(), calibration=(), equiv=stats.EQUIV):
    """Rows for one comparison (B against A): a dict per rung with the contract's fields.
    history: groups of earlier identical runs of these machines (history.groups), whose spread
    adds to what the sides' own repeated runs say about each rung's run-to-run variance.
    calibration: groups of identical runs of these machines in any configuration: what a rung's
    runs drift where neither the sides nor history show it (stats.drift_of). equiv: the margin
    of `same`."""
    history = _pair_history(history, a_side, b_side)
    rows, units, earlier, definitions = [], {}, {}, {}
    emulated = emulation_mismatch(a_side, b_side)
    for rung_id in rung_ids:
        row = {"id": rung_id, "a_median_ns": None, "b_median_ns": None, "ratio": None, "ci_lo": None,
               "ci_hi": None, "p_value": None, "p_adjusted": None, "noise": None, "detectable": None,
               "verdict": None, "why": None}
        a_state, a_info = _side_state(a_side, rung_id)
        b_state, b_info = _side_state(b_side, rung_id)
        for state in ("missing", "invalid", "not comparable"):
            if state in (a_state, b_state):
                row["verdict"] = state
                row["why"] = "; ".join(info for st, info in ((a_state, a_info), (b_state, b_info)) if st == state)
                break
        if row["verdict"] is None and emulated:
            row["verdict"], row["why"] = "not comparable", emulated
        if row["verdict"] is None:
            a_def, b_def = a_info[0].get("definition") or {}, b_info[0].get("definition") or {}
            a_units = [invocations(run, e) for run, e in zip(a_side, a_info)]
            b_units = [invocations(run, e) for run, e in zip(b_side, b_info)]
            fewest = min(len(u) for u in a_units + b_units)
            unusable = stats.usable(a_units) or stats.usable(b_units)
            if unusable:
                row["verdict"], row["why"] = "invalid", unusable
            elif a_def != b_def:
                row["verdict"] = "not comparable"
                row["why"] = f"measured differently: A at {_definition_text(a_def)}, B at {_definition_text(b_def)}"
            elif fewest < MIN_INVOCATIONS:
                row["verdict"] = "not comparable"
                row["why"] = (f"a run has only {fewest} invocation(s) of it: its noise is unknown "
                              f"(made by an older pageladder?)")
            else:
                units[rung_id] = (a_units, b_units)
                earlier[rung_id] = _history_units(history, rung_id, a_def)
                definitions[rung_id] = a_def
        rows.append(row)
    # The run-to-run variance of each rung, from the sides' repeated runs and earlier identical
    # runs, borrowed across every rung (stats.moderate); a rung with none gets a stated drift.
    runs = a_side + b_side
    moderated = stats.moderate({r: stats.run_variance(a, b, *earlier[r]) for r, (a, b) in units.items()},
                               {r: stats.invocation_floor(a, b) for r, (a, b) in units.items()})
    for row in rows:
        if row["id"] in earlier:
            row["history_runs"] = sum(len(group) for group in earlier[row["id"]])
    tested = [row for row in rows if row["id"] in units]
    for row in tested:
        rung_id = row["id"]
        drift = source = None
        if rung_id not in moderated:
            learned = stats.learned_drift({rung_id: _history_units(calibration, rung_id, definitions[rung_id])})
            drift, source = stats.drift_of(rung_id, _family(runs, rung_id), learned)
        row.update(stats.compare_sides(*units[rung_id], moderated=moderated.get(rung_id), drift=drift))
        row["drift_source"] = source
    for row, p in zip(tested, stats.adjust([r["p_value"] for r in tested])):
        row["p_adjusted"] = p
        row["verdict"] = stats.verdict(row, p, equiv)
        row["detectable"] = stats.detectable(row, len(tested))
        row["equiv"] = equiv
    return rows


# Most rungs moving the same way is the machine (its memory speed, its load), not the kernel:
# at least this share of the rungs tested, called faster (or slower) together.
COMMON_SHARE = 0.5


def _described(runs):
    """{rung id: description} over every run (the first description of each wins)."""
    described = {}
    for run in runs:
        for rung_id, spec in (run["pageladder"].get("rows") or {}).items():
            described.setdefault(rung_id, spec)
    return described


def common_shift(rows, runs):
    """The shift most of a comparison's rungs share, or None: {"direction", "ratio" (the median
    ratio of the rungs that moved that way), "rungs" (how many), "tested", "references" ({id:
    ratio} of the memory-speed references, rows.ids_where memory_reference), "memory_moved"
    (whether they moved the same way), "beyond" (rungs whose change goes past the shift by
    more than their noise band, their interval excluding it)}. Each rung also gets `net_ratio`,
    its ratio over the shift."""
    tested = [r for r in rows if r["ratio"] is not None and r["verdict"] in ("faster", "slower", "same")]
    references = set(row_descriptions.ids_where(_described(runs), memory_reference=True))
    for direction in ("faster", "slower"):
        together = [r for r in tested if r["verdict"] == direction and r["id"] not in references]
        others = [r for r in tested if r["id"] not in references]
        if len(others) < 4 or len(together) < COMMON_SHARE * len(others):
            continue
        shift = math.exp(float(np.median([math.log(r["ratio"]) for r in together])))
        refs = {r["id"]: r["ratio"] for r in tested if r["id"] in references}
        beyond = []
        for r in tested:
            r["net_ratio"] = r["ratio"] / shift
            outside = r["ci_hi"] < shift or r["ci_lo"] > shift
            if r["id"] not in references and outside and abs(math.log(r["net_ratio"])) > math.log1p(r["noise"]):
                beyond.append(r["id"])
        moved = [r for r in tested if r["id"] in references and r["verdict"] == direction]
        return {"direction": direction, "ratio": shift, "rungs": len(together), "tested": len(tested),
                "references": refs, "memory_moved": bool(moved) and len(moved) == len(refs), "beyond": beyond}
    return None


def common_shift_text(shift):
    """One paragraph on a common shift, for compare.md and the console."""
    if not shift:
        return ""
    change = f"{abs(shift['ratio'] - 1):.0%} {shift['direction']}"
    refs = ", ".join(f"`{i}` ×{ratio:.3f}" for i, ratio in shift["references"].items())
    if shift["memory_moved"]:
        cause = f"as did the memory-speed references ({refs}): the machine's memory speed moved, not only the kernel"
    elif refs:
        cause = (f"while the memory-speed references did not ({refs}): look for another cause common to "
                 "the whole run (the host's load, its CPU frequency)")
    else:
        cause = "(no memory-speed reference in these runs to tell the machine from the kernel)"
    beyond = ", ".join(f"`{i}`" for i in shift["beyond"]) or "none"
    return (f"**Most rungs moved together**: {shift['rungs']} of {shift['tested']} ran {change} in B "
            f"(median ×{shift['ratio']:.3f}), {cause}. Against that shift, the rungs that moved beyond "
            f"it: {beyond}.")


def _ordered_rung_ids(runs):
    ids = {r["id"] for run in runs for r in run["pageladder"]["ladder"]} | \
          {s.get("rung") for run in runs for s in run["pageladder"]["skipped"] if s.get("rung")}
    # Each row as a binary described it, a description with a ladder_rank preferred (a run of an
    # older pageladder has none: the order its ladder was saved in stands for it).
    described = {}
    for run in runs:
        for rung_id, spec in (run["pageladder"].get("rows") or {}).items():
            if rung_id not in described or ("ladder_rank" in spec and "ladder_rank" not in described[rung_id]):
                described[rung_id] = spec
    stored = [r["id"] for run in runs for r in run["pageladder"]["ladder"]]
    return row_descriptions.ordered(ids, described, stored=list(dict.fromkeys(stored)))


def _label(runs, rung_id):
    """The label its binary gave the rung (from any run that has it), else its id."""
    for run in runs:
        described = (run["pageladder"].get("rows") or {}).get(rung_id)
        if described:
            return described["label"]
    return next((r["label"] for run in runs for r in run["pageladder"]["ladder"] if r["id"] == rung_id), rung_id)


# A phase moved when its time per event (its share of the side's median) changed significantly
# (a t-test on the difference, Benjamini-Hochberg over every phase of every rung of the
# comparison, as the rungs' own verdicts) and by more than PHASE_FLOOR of A's median. Time, not
# share: when one phase grows, every other phase's share shrinks while its time stays. Shares vary between identical runs far beyond
# sampling error (on the development VM, cow_fault_thp's copying took 21% of one run's time and
# 10% of an identical one's: where the pages landed, what the cache held), so a side's error
# includes the spread between its runs, and that needs two or more anatomies per side: with one,
# the largest differences are shown, and nothing is called moved.
PHASE_FLOOR = 0.02
MIN_ANATOMIES_FOR_MOVES = 2


# Degrees of freedom of an error known to within sampling alone (thousands of samples).
_SAMPLING_DF = 1000.0


def _side_phases(anatomies, rung_id):
    """(n, {phase: (share, [(variance, degrees of freedom), ...])}) of one rung on one side: the
    mean share over the side's runs that have an anatomy of it, and the parts of its variance:
    sampling error (a phase a run did not see counts with the error of one sample there) and,
    with two or more runs, the spread between them, known to n - 1 degrees of freedom only;
    (0, None) when no run has one."""
    found = []
    for anatomy in anatomies or []:
        entry = next((r for r in (anatomy or {}).get("rungs", []) if r["id"] == rung_id), None)
        if entry and entry.get("valid") and entry.get("phases"):
            floor = 1.0 / max(1, entry.get("samples") or 1)
            found.append(({p["phase"]: (p["share"], p["share_stderr"]) for p in entry["phases"]}, floor))
    if not found:
        return 0, None
    n = len(found)
    result = {}
    for name in {name for f, _ in found for name in f}:
        shares = [f.get(name, (0.0, floor))[0] for f, floor in found]
        mean = sum(shares) / n
        sampling_var = sum(f.get(name, (0.0, floor))[1] ** 2 for f, floor in found) / n ** 2
        parts = [(sampling_var, _SAMPLING_DF)]
        if n > 1:
            parts.append((sum((x - mean) ** 2 for x in shares) / (n - 1) / n, n - 1.0))
        result[name] = (mean, parts)
    return n, result


def _method(anatomy):
    method = (anatomy or {}).get("method") or {}
    split = any(r.get("phases") for r in (anatomy or {}).get("rungs", []))
    return f"{method.get('counter')} {method.get('sampling', '')}".strip() if split else None


def anatomy_changes(a_anatomies, b_anatomies, rung_rows):
    """Per rung that both sides have an anatomy of: each phase's share and time per event on
    either side (anatomy.time_per_event: its mean share over the side's runs, of the side's
    median; for a side of one run, the "ns" its anatomy.json stores), the change, whether it moved (only with
    MIN_ANATOMIES_FOR_MOVES anatomies on each side; None otherwise), and the smallest change
    that would have been called moved. rung_rows: compare_pair's rows (medians, CI, verdicts).

    A phase moved when its change in time is significant on a t-test whose error is the sum of
    both sides' parts (sampling, spread between runs, the medians' CI), with Welch-Satterthwaite
    degrees of freedom (the spread between two runs is known to one degree of freedom only),
    after Benjamini-Hochberg over every phase of every rung, and larger than PHASE_FLOOR of A's
    median."""
    from scipy.stats import t as student_t

    from pageladder.anatomy import time_per_event
    from pageladder.anatomy_phases import PHASE_NAMES

    methods = {m for a in [*(a_anatomies or []), *(b_anatomies or [])] if (m := _method(a))}
    why_untested = (f"the sides were sampled differently ({' vs '.join(sorted(methods))})"
                    if len(methods) > 1 else None)
    changes, tests = [], []
    for row in rung_rows:
        (na, a), (nb, b) = _side_phases(a_anatomies, row["id"]), _side_phases(b_anatomies, row["id"])
        if a is None or b is None or row.get("a_median_ns") is None or row.get("b_median_ns") is None:
            continue
        testable = min(na, nb) >= MIN_ANATOMIES_FOR_MOVES and not why_untested
        # The medians' own uncertainty, from the rung's confidence interval of B/A: a phase's time
        # moves with its rung's median, which the rung's verdict has already judged.
        ci_lo, ci_hi = row.get("ci_lo"), row.get("ci_hi")
        ratio_sigma = (math.log(ci_hi / ci_lo) / (2 * 1.96)
                       if ci_lo and ci_hi and ci_lo > 0 and ci_hi >= ci_lo else 0.0)
        ma, mb = row["a_median_ns"], row["b_median_ns"]
        phases = []
        for name in PHASE_NAMES:
            if name not in a and name not in b:
                continue
            (sa, pa), (sb, pb) = a.get(name, (0.0, [])), b.get(name, (0.0, []))
            a_ns, b_ns = time_per_event(sa, ma), time_per_event(sb, mb)
            phase = {"phase": name, "a_share": sa, "b_share": sb, "a_ns": a_ns, "b_ns": b_ns,
                     "delta_ns": b_ns - a_ns, "moved": None, "detectable_ns": None}
            if testable:
                error, df = stats.welch([(v * ma * ma, d) for v, d in pa] + [(v * mb * mb, d) for v, d in pb]
                                        + [((b_ns * ratio_sigma) ** 2, _SAMPLING_DF)], _SAMPLING_DF)
                score = abs(b_ns - a_ns) / error if error > 0 else (math.inf if b_ns != a_ns else 0.0)
                tests.append((phase, float(2 * student_t.sf(score, df)), PHASE_FLOOR * ma, error, df))
            phases.append(phase)
        changes.append({"id": row["id"], "verdict": row["verdict"], "anatomies": [na, nb],
                        "a_median_ns": ma, "why_untested": why_untested, "phases": phases})
    if tests:
        # The smallest significant change: at the strictest of Benjamini-Hochberg's thresholds
        # (alpha over the number of tests), which the largest change must pass.
        strictest = stats.ALPHA / len(tests)
        for (phase, _, floor_ns, error, df), p in zip(tests, stats.adjust([t[1] for t in tests])):
            phase["moved"] = bool(p < stats.ALPHA and abs(phase["delta_ns"]) > floor_ns)
            phase["detectable_ns"] = max(float(student_t.isf(strictest / 2, df)) * error, floor_ns)
    return changes


def compare(sides, anatomies=None, history=(), calibration=(), equiv=stats.EQUIV):
    """The comparison as data. sides: [[run, ...], ...]; the first side is the baseline and
    every other side is compared with it. anatomies: the same shape, each run's anatomy.json
    (or None); with one on both sides, each comparison also says where the time moved.
    history: groups of earlier identical runs of these machines (history.groups); calibration:
    groups of identical runs of these machines in any configuration (history.groups with
    any_configuration), for the drift of rungs nothing else shows; equiv: the margin of same."""
    runs = [run for side in sides for run in side]
    ids = _ordered_rung_ids(runs)
    anatomies = anatomies or [[None] * len(side) for side in sides]
    comparisons = []
    for side, side_anatomies in zip(sides[1:], anatomies[1:]):
        rows = compare_pair(sides[0], side, ids, history, calibration, equiv)
        comparisons.append({"b": [run_id(r) for r in side], "rungs": rows,
                            "common_shift": common_shift(rows, sides[0] + side),
                            "anatomy": anatomy_changes(anatomies[0], side_anatomies, rows)})
    return {
        "schema_version": SCHEMA_VERSION,
        "sides": [[run_id(r) for r in side] for side in sides],
        "labels": {i: _label(runs, i) for i in ids},
        "differences": fingerprint_differences(runs),
        "comparisons": comparisons,
        "history": [run_id(r) for group in history for r in group],
        "equiv": equiv,
        "interleaved": None,
    }


def _finite(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def to_json(result):
    """compare.json (docs/names.md): the first comparison at the top, any further sides under
    `more` in the same shape."""
    def rungs(comparison):
        return [{"id": r["id"], "label": result["labels"][r["id"]],
                 **{k: _finite(r[k]) for k in ("a_median_ns", "b_median_ns", "ratio", "ci_lo", "ci_hi",
                                                "p_value", "p_adjusted", "noise", "detectable")},
                 "net_ratio": _finite(r.get("net_ratio")), "history_runs": r.get("history_runs", 0),
                 "method": r.get("method"), "drift": _finite(r.get("drift")), "drift_source": r.get("drift_source"),
                 "rounds": r.get("rounds"), "verdict": r["verdict"], "why": r["why"]} for r in comparison["rungs"]]

    sides = result["sides"]
    first, rest = result["comparisons"][0], result["comparisons"][1:]
    return {
        "schema_version": result["schema_version"],
        "runs": {"a": sides[0], "b": first["b"]},
        "method": {"statistic": "median over every repetition of a side",
                   "interleaved": bool(result.get("interleaved")),
                   "paired": bool(result.get("interleaved")),
                   "ci": ("95%, paired t over the rounds' log ratios" if result.get("interleaved") else
                          "95%: t on run medians with empirical-Bayes run variance where runs show it, else "
                          "hierarchical bootstrap over invocations plus a whole run's drift"),
                   "samples": stats.BOOTSTRAP_SAMPLES, "adjustment": "Benjamini-Hochberg", "alpha": stats.ALPHA,
                   "floor": stats.FLOOR, "equiv": result.get("equiv", stats.EQUIV),
                   "default_drift": stats.DEFAULT_DRIFT, "min_invocations": MIN_INVOCATIONS},
        "interleaved": result.get("interleaved"),
        "differing_settings": [{"setting": f, "values": v} for f, v in result["differences"]],
        "history": result.get("history", []),
        "common_shift": first.get("common_shift"),
        "rungs": rungs(first),
        "anatomy": first.get("anatomy") or [],
        "more": [{"b": c["b"], "common_shift": c.get("common_shift"), "rungs": rungs(c),
                  "anatomy": c.get("anatomy") or []} for c in rest],
    }


def slower_rungs(result):
    return [r["id"] for c in result["comparisons"] for r in c["rungs"] if r["verdict"] == "slower"]


def _side_name(ids):
    return " + ".join(f"`{i}`" for i in ids)


def _percent(x):
    return f"{100 * x:.1f}%"


def _verdict_text(row):
    v = row["verdict"]
    if v in ("faster", "slower"):
        return f"**{v}** (p={row['p_adjusted']:.3g})"
    if v == "same":
        return f"same (within ±{_percent(row.get('equiv', stats.EQUIV))})"
    if v == "undecided":
        # Beyond doubling, the figure says only that this comparison sees little of this rung.
        if row["detectable"] > 1:
            return "undecided (could detect only changes beyond ×2)"
        return f"undecided (could detect ±{_percent(row['detectable'])})"
    return f"{v}: {row['why']}"


def method_text(result):
    """How the verdicts were reached, one paragraph for compare.md."""
    equiv = _percent(result.get("equiv", stats.EQUIV))
    if result.get("interleaved"):
        how = ("The sides were measured **interleaved**: round after round, each side in turn in a "
               "balanced order (A B B A …), so what the host did meanwhile lands on both. Each ratio is "
               "the median of the rounds' medians, B over A; its 95% interval is a paired t-test on the "
               "rounds' log ratios, where a drift common to both sides cancels.")
    else:
        how = ("The sides were measured **apart**. Each ratio is the median over every repetition of the "
               "side, B over A. Where several runs a side, or earlier identical runs of these machines, show "
               "how far whole runs wander, its 95% interval is a t-test on run medians with each rung's run "
               "variance borrowed across every rung (empirical Bayes, following each rung's spread between "
               "invocations). Where nothing shows it (one run a side), the interval is the invocations' "
               "resampled spread plus a stated drift of a whole run for each side (learned from identical "
               "runs under the results folder, else the suite's default for that kind of rung): one run "
               "against one calls no change that such drift explains.")
    return (how + f" A change is **faster** or **slower** when it exceeds {_percent(stats.FLOOR)} with "
            f"significance after adjusting for testing every rung at once (Benjamini–Hochberg, "
            f"α = {stats.ALPHA}); **same** when the 90% interval lies within ±{equiv} (an equivalence test, "
            "a finding, not a failure to see); **undecided** otherwise, with the smallest change this "
            "comparison could have called with 80% power.")


def render_markdown(result):
    sides = result["sides"]
    lines = [f"# pageladder comparison: {' vs '.join(_side_name(s) for s in sides)}", ""]
    names = [f"side {chr(ord('A') + k)}" for k in range(len(sides))]
    settings = (result.get("interleaved") or {}).get("settings") or [None] * len(sides)
    for name, side, setting in zip(names, sides, settings):
        measured = f" (settings `{setting}`, measured here interleaved)" if setting else ""
        lines.append(f"- **{name}**: {_side_name(side)}{measured}")
    lines.append("")
    if result["differences"]:
        columns = [f"`{run}`" for side in sides for run in side]
        lines += ["**Settings that differ between the runs** (any of these can change the costs, not "
                  "only what you meant to compare):", "", "| setting | " + " | ".join(columns) + " |",
                  "|---|" + "---|" * len(columns)]
        for field, values in result["differences"]:
            lines.append(f"| {field} | " + " | ".join(f"`{v}`" for v in values) + " |")
    else:
        lines.append("The runs' recorded settings (CPU, microcode, kernel and command line, THP, "
                     "mitigations, virtualization, swap, page-cluster, timer) are identical.")
    lines += ["", method_text(result), ""]
    history = result.get("history") or []
    if history:
        lines += [f"**Run-to-run noise from {len(history)} earlier identical runs** of these machines (same "
                  "machine, settings, kernel and mode; found under the results folder): each rung's spread "
                  "between them enters its run-to-run variance, and the test is a t-test on run medians even "
                  "with one run per side (`HISTORY=0` leaves them out): " +
                  ", ".join(f"`{r}`" for r in history) + ".", ""]
    elif all(len(side) < 2 for side in sides) and not result.get("interleaved"):
        lines += ["**Run-to-run drift not observed**: one run per side and no earlier identical runs of these "
                  "machines under the results folder, so each rung's interval holds a stated drift of a whole "
                  "run and small changes stay undecided. To decide them, measure the sides interleaved "
                  "(`make compare SETTINGS=…` or `KERNELS=…`), run `make bench` two or three more times on each "
                  "machine (compare finds those runs), or compare several runs per side.", ""]
    for name, comparison in zip(names[1:], result["comparisons"]):
        if len(sides) > 2:
            lines += [f"## {name} against side A", ""]
        counts = {v: sum(r["verdict"] == v for r in comparison["rungs"]) for v in VERDICTS}
        if comparison.get("common_shift"):
            lines += [common_shift_text(comparison["common_shift"]), ""]
        lines += [", ".join(f"{n} {v}" for v, n in counts.items() if n) + ".", ""]
        lines += ["| rung | A | B | ratio B/A | 95% CI | verdict |", "|---|---:|---:|---:|---|---|"]
        for r in comparison["rungs"]:
            if r["ratio"] is None:
                lines.append(f"| `{r['id']}` | – | – | – | – | {_verdict_text(r)} |")
                continue
            lines.append(f"| `{r['id']}` | {format_ns(r['a_median_ns'])} | {format_ns(r['b_median_ns'])} | "
                         f"×{r['ratio']:.3f} | ×{r['ci_lo']:.3f} – ×{r['ci_hi']:.3f} | {_verdict_text(r)} |")
        lines.append("")
        lines += anatomy_markdown(comparison.get("anatomy"))
    return "\n".join(lines)


def anatomy_markdown(changes):
    """Where the time moved, per rung with an anatomy on both sides (ANATOMY=1 runs)."""
    if not changes:
        return []
    lines = ["### Where the time moved (fault anatomy)", "",
             "Each phase's time per event is its share of the side's median; the phases come from the "
             "separate sampling passes, not from the timed runs. A phase **moved** when its change in time "
             "is significant on a t-test whose error holds sampling, the spread between a side's runs "
             "and the medians' confidence interval (Welch–Satterthwaite degrees of freedom; "
             f"Benjamini–Hochberg over every phase, α = {stats.ALPHA}) and is larger than "
             f"{PHASE_FLOOR:.0%} of A's median. Shares vary between identical runs well beyond sampling "
             f"error, so with fewer than {MIN_ANATOMIES_FOR_MOVES} anatomies per side nothing is called "
             "moved (the largest differences are listed, untested), and with few runs per side only large "
             "moves can be seen: each rung says how large.", ""]
    for change in changes:
        if all(p["moved"] is None for p in change["phases"]):
            why = change.get("why_untested") or (f"{change['anatomies'][0]} and "
                                                 f"{change['anatomies'][1]} anatomies")
            largest = sorted(change["phases"], key=lambda p: -abs(p["delta_ns"]))[:3]
            lines.append(f"- `{change['id']}` ({change['verdict']}; untested, {why}): largest "
                         "differences " + "; ".join(_phase_change(p) for p in largest))
            continue
        moved = sorted((p for p in change["phases"] if p["moved"]), key=lambda p: -abs(p["delta_ns"]))
        largest = max(change["phases"], key=lambda p: p["a_share"])
        power = (f" (its largest phase, {largest['phase']}, could have been seen to move by "
                 f"±{largest['detectable_ns'] / change['a_median_ns']:.0%} of the median)")
        lines.append(f"- `{change['id']}` ({change['verdict']}): "
                     + ("; ".join(_phase_change(p) for p in moved) or "no phase moved" + power))
    lines.append("")
    return lines


def _phase_change(p):
    sign = "+" if p["delta_ns"] >= 0 else "−"
    return f"{p['phase']} {sign}{format_ns(abs(p['delta_ns']))} ({p['a_share']:.0%} → {p['b_share']:.0%})"


def output_name(sides):
    """compare-<idA>-vs-<idB>; a side of several runs is named by its first, how many more,
    and a short digest of all of them (two sides that share a first run differ). Run ids are
    plain names (collect.load_run checks them); a name too long for a folder keeps the first
    side and a digest of the rest."""
    def name(side):
        if len(side) == 1:
            return side[0]
        return f"{side[0]}+{len(side) - 1}-{hashlib.sha256(' '.join(side).encode()).hexdigest()[:6]}"
    full = "compare-" + "-vs-".join(name(s) for s in sides)
    if len(full) <= 200:
        return full
    rest = hashlib.sha256(" ".join(" ".join(s) for s in sides[1:]).encode()).hexdigest()[:10]
    return f"compare-{name(sides[0])[:120]}-vs-{len(sides) - 1}-sides-{rest}"
