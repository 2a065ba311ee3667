"""Where a fault's time moved between two sides of a comparison: per rung that both sides have a
fault anatomy of (ANATOMY=1 runs), each phase's time per event on either side and whether it
moved. compare.py calls it for every comparison; compare_render.py writes it into compare.md."""
import math

from pageladder import stats
from pageladder.units import format_ns

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
