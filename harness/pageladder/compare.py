"""Sides of runs set against each other: per rung, the ratio of medians with its 95% confidence
interval, a p-value adjusted over all rungs, and one verdict (faster, slower, same, undecided,
invalid, missing, not comparable); plus every setting that differs between the runs, so a kernel
comparison shows at once what else changed. The statistics are in stats.py; the JSON written
here (compare.json) is described by harness/schemas/compare.schema.json; compare.md is written by
compare_render.py and where a fault's time moved (ANATOMY=1 runs) by compare_anatomy.py.

A side is one or more runs of the same configuration (`A="r1 r2" B="r3 r4"`); with
`RUNS="r1 r2 r3"` each run is a side and every side is compared with the first.
"""
import math

import numpy as np

from pageladder import fingerprint, stats
from pageladder import rows as row_descriptions
from pageladder.benchmark_json import iteration_rows, times_by_invocation
from pageladder.compare_anatomy import anatomy_changes

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
    return fingerprint.emulation(run["pageladder"].get("settings") or {})


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


def host_move(units, runs):
    """How far the machine itself moved between the sides, as the memory-speed references say
    (rows with memory_reference: zeroing, copying, loading in user space, no kernel path): the
    absolute median of their log ratios, where two or more were measured on both sides; else
    None. One run a side cannot see the host's drift, but these rows can: a busy neighbour or a
    slower host moves them with everything else, a kernel change does not."""
    references = set(row_descriptions.ids_where(_described(runs), memory_reference=True))
    logs = [math.log(stats.pooled_median(b) / stats.pooled_median(a)) for r, (a, b) in units.items() if r in references]
    return abs(float(np.median(logs))) if len(logs) >= 2 else None


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
                               {r: stats.invocation_floor(a, b) for r, (a, b) in units.items()},
                               {r: sum(len(run) - 1 for side in (a, b) for run in side) for r, (a, b) in units.items()})
    for row in rows:
        if row["id"] in earlier:
            row["history_runs"] = sum(len(group) for group in earlier[row["id"]])
    tested = [row for row in rows if row["id"] in units]
    moved = host_move(units, runs)
    for row in tested:
        rung_id = row["id"]
        drift = source = drift_dof = None
        if rung_id not in moderated:
            learned = stats.learned_drift({rung_id: _history_units(calibration, rung_id, definitions[rung_id])})
            drift, source, drift_dof = stats.drift_of(rung_id, _family(runs, rung_id), learned)
            if moved is not None and moved > drift:
                drift, source, drift_dof = moved, "references", None
        row.update(stats.compare_sides(*units[rung_id], moderated=moderated.get(rung_id), drift=drift,
                                       drift_dof=drift_dof))
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
                   "ci": ("95%, Hodges-Lehmann interval of the rounds' log ratios (exact signed-rank)"
                          if result.get("interleaved") else
                          "95%: t on run medians with empirical-Bayes run variance where runs show it, else "
                          "hierarchical bootstrap over invocations plus a whole run's drift"),
                   "samples": stats.BOOTSTRAP_SAMPLES, "adjustment": "Benjamini-Hochberg",
                   "alpha": (result.get("interleaved") or {}).get("alpha_per_look", stats.ALPHA),
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
