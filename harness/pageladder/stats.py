"""The statistics behind `make compare`: one rung, two sides, a verdict that holds.

Where the variance lives decides what counts as a sample (Kalibera and Jones, "Rigorous
Benchmarking in Reasonable Time", ISMM 2013). The repetitions inside one process share its
physical pages, cache colouring and page-cache state, so they are not independent; fresh
processes (invocations, see runner.py) and whole runs are, and whole runs move together on a
shared host (its memory speed, its neighbours) by more than their invocations scatter. A side is
a list of runs, each a list of invocations, each the list of its repetitions' per-event times.

The estimate is the headline statistic itself, the median over every repetition of a side, and
the ratio is B's over A's. Its standard error (on a log scale) comes from one of three places:

- **interleaved rounds** (interleave.py): A and B measured minutes apart, round after round; each
  round's log ratio has the host's drift in both terms, so it cancels, and the rounds' ratios
  are judged by rank: a signed-rank test and a Hodges-Lehmann interval (`paired`), so a burst of
  load on one side's turn is one outlying round;
- **runs made apart, with their run-to-run variance observed** (several runs a side, or earlier
  identical runs of these machines: history.py): a t-test on the runs' log medians, each rung's
  run variance moderated by empirical Bayes across every rung of the comparison (Smyth, "Linear
  models and empirical Bayes methods for assessing differential expression in microarray
  experiments", 2004, with limma's trend: the prior's variance follows each rung's spread between
  invocations, so a noisy swap rung and a steady reference rung borrow differently), and never
  below what the invocations alone put on a run's median (`moderate`);
- **one run a side, nothing observed of the drift**: a hierarchical bootstrap over invocations
  gives the within-run part, and a stated drift of a whole run (`DEFAULT_DRIFT`, or what the
  identical runs under results/ showed of that rung, `drift_of`) is added for each side: one
  run against one never calls a change that such drift explains.

A verdict (`verdict`) is one of:
- **faster** / **slower**: the change is beyond the rung's floor (FLOOR: timer and host jitter)
  with significance, p-values adjusted over every rung (Benjamini-Hochberg, through statsmodels);
- **same**: an equivalence test (two one-sided tests: the 90% interval lies within +-equiv,
  EQUIV by default): a positive finding, not a failure to see;
- **undecided**: neither; `detectable` says the smallest change this comparison would have
  called with 80% power at the strictest Benjamini-Hochberg level.

Resampling uses a fixed seed, so the same runs give the same numbers (and byte-identical charts).
"""
import math

import numpy as np

ALPHA = 0.05
BOOTSTRAP_SAMPLES = 4000
FLOOR = 0.01  # timer and host jitter: a change under 1% is never a finding on its own
EQUIV = 0.05  # `same` means within +-5% unless EQUIV= says otherwise
SEED = 20130620
# What the variance borrowed across rungs is worth, in degrees of freedom, estimated from the
# comparison's rungs (stats._prior_dof); PRIOR_DOF where fewer than three rungs have a
# variance, and never more than MAX_PRIOR_DOF.
PRIOR_DOF = 4.0
MAX_PRIOR_DOF = 50.0
MIN_RUNGS_TO_BORROW = 5  # fewer rungs with a run variance: each keeps its own, unmoderated
POWER = 0.8
# How far a whole run's median wanders between identical runs beyond what its invocations say
# (a standard deviation on the log scale), where neither the sides nor results/ show it. Stated
# from four identical quick runs on a shared 2-vCPU VM (kernel 6.18): the storage and swap rungs
# moved 10-15% between runs, thp_fault x1.6 and hugetlb_fault x1.4, the other rungs' medians
# within 2-4% of each other. A rung id is looked up first, then its family.
DEFAULT_DRIFT = {"thp_fault": 0.25, "cow_fault_thp": 0.15, "hugetlb_fault": 0.15, "hugetlb_fault_1g": 0.15,
                 "swap": 0.08, "file": 0.08, "other": 0.03}


def _padded(side):
    """[run][invocation][repetition] -> (values, invocations per run), NaN-padded to a cube."""
    runs = [[np.asarray(inv, dtype=float) for inv in run if len(inv)] for run in side]
    runs = [run for run in runs if run]
    n_inv = max(len(run) for run in runs)
    n_rep = max(len(inv) for run in runs for inv in run)
    cube = np.full((len(runs), n_inv, n_rep), np.nan)
    for r, run in enumerate(runs):
        for i, inv in enumerate(run):
            cube[r, i, :len(inv)] = inv
    return cube, np.array([len(run) for run in runs])


def _bootstrap_medians(side, samples, rng):
    """Median of each hierarchical resample of one side: runs, then invocations in each run."""
    cube, counts = _padded(side)
    n_runs = len(counts)
    run_pick = rng.integers(0, n_runs, size=(samples, n_runs)) if n_runs > 1 else \
        np.zeros((samples, 1), dtype=int)
    per_run = counts[run_pick]                                     # (samples, runs)
    width = cube.shape[1]
    inv_pick = np.floor(rng.random((samples, n_runs, width)) * per_run[..., None]).astype(int)
    picked = cube[run_pick[..., None], inv_pick]                   # (samples, runs, width, reps)
    # A run contributes as many invocations as it has, as in the point estimate.
    picked[~(np.arange(width) < per_run[..., None])] = np.nan
    return np.nanmedian(picked.reshape(samples, -1), axis=1)


def pooled_median(side):
    return float(np.median(np.concatenate([np.asarray(inv, float) for run in side for inv in run])))


def run_variance(*sides):
    """(variance, degrees of freedom) of log run medians, pooled within the sides that have
    several runs; (nan, 0) when none has two."""
    squares, dof = 0.0, 0
    for side in sides:
        logs = np.log([pooled_median([run]) for run in side])
        if len(logs) >= 2:
            squares += float(np.sum((logs - logs.mean()) ** 2))
            dof += len(logs) - 1
    return (squares / dof, dof) if dof else (float("nan"), 0)


def _prior_dof(log_ratios, dofs):
    """limma's estimate of the prior's degrees of freedom (Smyth 2004, by moments): log(s^2 / s0^2)
    spreads by trigamma(d/2) from sampling alone and by trigamma(d0/2) more from how much the
    rungs' true variances differ; whatever spread is left over gives d0 (MAX_PRIOR_DOF where
    there is none)."""
    from scipy.optimize import brentq
    from scipy.special import polygamma

    if len(log_ratios) < 3:
        return PRIOR_DOF
    excess = float(np.var(log_ratios, ddof=1)) - float(np.mean([polygamma(1, d / 2) for d in dofs]))
    if excess <= float(polygamma(1, MAX_PRIOR_DOF / 2)):
        return MAX_PRIOR_DOF
    return 2 * brentq(lambda x: float(polygamma(1, x)) - excess, 1e-6, MAX_PRIOR_DOF / 2)


def moderate(variances, floors, floor_dofs=None):
    """Each rung's run variance moderated by empirical Bayes across every rung (see the module's
    docstring). variances: {rung: (variance of log run medians, dof)}; floors: {rung: what its
    invocations alone put on a run median's variance} (the covariate; NaN where unknown).
    Returns {rung: (moderated variance, dof + d0)} for rungs with dof > 0: the prior's variance
    for a rung follows a straight line in log(floor) fitted to the rungs' log variances (limma's
    trend; the mean where fewer than five rungs have both), d0 from how much the rungs' variances
    differ beyond sampling and that line (_prior_dof); never below the rung's floor, which, where
    it is the larger, comes with its own degrees of freedom (floor_dofs: {rung: the invocations'
    dof}), being known from the spread between invocations rather than between runs."""
    from scipy.special import digamma

    known = {r: (v, d) for r, (v, d) in variances.items() if d > 0 and math.isfinite(v) and v > 0}
    if len(known) < MIN_RUNGS_TO_BORROW:
        # Too few rungs to learn a prior from without a rung's own variance standing in for it.
        return {r: (max(v, floors[r]) if math.isfinite(floors.get(r, math.nan)) else v, d)
                for r, (v, d) in known.items()}
    # E[log s^2] = log sigma^2 + digamma(d/2) - log(d/2): each rung's log variance unbiased first.
    level = {r: math.log(v) - float(digamma(d / 2)) + math.log(d / 2) for r, (v, d) in known.items()}
    covariate = {r: math.log(floors[r]) for r in known if math.isfinite(floors.get(r, math.nan)) and floors[r] > 0}
    mean_level = float(np.mean(list(level.values())))
    xs = [covariate[r] for r in covariate]
    if len(xs) >= 5 and float(np.ptp(xs)) > 0:
        slope, intercept = np.polyfit(xs, [level[r] for r in covariate], 1)
        slope = min(max(float(slope), 0.0), 1.5)  # a variance that falls as the floor rises is noise
        intercept = float(np.mean([level[r] - slope * covariate[r] for r in covariate]))
        s0 = {r: math.exp(intercept + slope * covariate[r]) if r in covariate else math.exp(mean_level)
              for r in known}
    else:
        s0 = {r: math.exp(mean_level) for r in known}
    d0 = _prior_dof([math.log(known[r][0] / s0[r]) for r in known], [known[r][1] for r in known])
    result = {}
    for r, (v, d) in known.items():
        posterior = (d0 * s0[r] + d * v) / (d0 + d)
        floor = floors.get(r, math.nan)
        if math.isfinite(floor) and floor >= posterior:
            result[r] = (floor, max(d + d0, (floor_dofs or {}).get(r, 0)))
        else:
            result[r] = (posterior, d + d0)
    return result


def drift_of(rung_id, family, learned=None):
    """(standard deviation, source, degrees of freedom or None where stated) of a whole run's log
    median beyond its invocations, for a rung whose sides show none: what identical runs under
    results/ showed of it (learned: {rung: (sd, dof)}), else DEFAULT_DRIFT by rung id, then
    family."""
    if learned and rung_id in learned:
        return learned[rung_id][0], "learned", learned[rung_id][1]
    for key in (rung_id, family):
        if key in DEFAULT_DRIFT:
            return DEFAULT_DRIFT[key], "default", None
    return DEFAULT_DRIFT["other"], "default", None


def learned_drift(groups_units):
    """{rung: (sd, dof)} of the excess of run-to-run over invocation variance of each rung's log
    median, pooled over groups of identical runs ({rung: [[run][invocation][repetition]] per
    group}), with the degrees of freedom it is known to (compare_sides takes them into its t);
    rungs with fewer than two degrees of freedom in all are left out."""
    learned = {}
    for rung, groups in groups_units.items():
        variance, dof = run_variance(*groups)
        if dof < 2:
            continue
        per_run = min(len(run) for group in groups for run in group)
        floor = invocation_spread(*groups) ** 2 / per_run
        excess = variance - (floor if math.isfinite(floor) else 0.0)
        learned[rung] = (math.sqrt(max(excess, 0.0) + (FLOOR / 2) ** 2), dof)
    return learned


def invocation_floor(a, b):
    """The variance a run's log median has from the spread between its invocations alone."""
    per_run = min(len(run) for side in (a, b) for run in side)
    return invocation_spread(a, b) ** 2 / per_run


def invocation_spread(*sides):
    """Pooled standard deviation of log invocation medians about each run's own mean (NaN when no
    run has two invocations): the spread between a run's fresh processes, the run-to-run drift
    left out."""
    squares, dof = 0.0, 0
    for side in sides:
        for run in side:
            logs = np.log([float(np.median(inv)) for inv in run if len(inv)])
            if len(logs) >= 2:
                squares += float(np.sum((logs - logs.mean()) ** 2))
                dof += len(logs) - 1
    return math.sqrt(squares / dof) if dof else float("nan")


# A rung whose one-run-against-one band is wider than this is too noisy for the changes a kernel
# comparison looks for; the run's report says so and what to do about it.
USABLE_BAND = 0.05


def single_run_band(invocation_medians, tested):
    """The smallest change a comparison of this run with one identical run could call for a rung
    (detectable, among `tested` rungs) from its invocations' medians alone, before any drift
    between runs (NaN with fewer than two): the difference of two such runs' medians has sqrt(2)
    times one's error."""
    if len(invocation_medians) < 2:
        return float("nan")
    side = [[[float(m)] for m in invocation_medians]]
    error = math.sqrt(2) * invocation_spread(side) / math.sqrt(len(invocation_medians))
    return detectable({"error": error, "dof": None}, tested)


def usable(side):
    """Why a side's times cannot be compared (a time that is not finite and positive), or None."""
    for run in side:
        for inv in run:
            if not all(math.isfinite(t) and t > 0 for t in inv):
                return "a repetition's time is not a positive number"
    return None


def _estimate(log_ratio, error, dof, a_median, b_median, **more):
    """A rung's comparison: the ratio, its 95% interval, the p-value of a change beyond FLOOR."""
    from scipy.stats import norm, t as student_t

    quantile = float(student_t.isf(ALPHA / 2, dof)) if dof else float(norm.isf(ALPHA / 2))
    return {"a_median_ns": a_median, "b_median_ns": b_median, "ratio": math.exp(log_ratio),
            "ci_lo": math.exp(log_ratio - quantile * error), "ci_hi": math.exp(log_ratio + quantile * error),
            "p_value": p_beyond_floor(log_ratio, error, dof), "noise": FLOOR, "error": error, "dof": dof,
            "detectable": None, **more}


def p_beyond_floor(log_ratio, error, dof):
    """Two-sided p-value that the change is larger than FLOOR (the interval excludes +-FLOOR)."""
    from scipy.stats import norm, t as student_t

    excess = abs(log_ratio) - math.log1p(FLOOR)
    if excess <= 0:
        return 1.0
    if error == 0:
        return 0.0
    tail = student_t.sf(excess / error, dof) if dof else norm.sf(excess / error)
    return min(1.0, float(2 * tail))


def compare_sides(a, b, samples=BOOTSTRAP_SAMPLES, seed=SEED, moderated=None, drift=None, drift_dof=None):
    """Ratio B/A of the pooled medians, its CI, raw p-value and standard error, for runs made
    apart. a and b: [run][invocation][repetition ns], every time finite and positive (see
    usable). moderated: (variance, dof) of the rung's log run medians (moderate), where runs
    showed it; then a t-test on the runs' log medians. Otherwise the hierarchical bootstrap over
    invocations, plus drift (the sd of a whole run's log median, drift_of) for each side's runs,
    known to drift_dof degrees of freedom (None: stated, taken as exact).
    `detectable` is filled in by detectable() once the number of rungs tested is known."""
    a_median, b_median = pooled_median(a), pooled_median(b)
    log_ratio = math.log(b_median / a_median)
    if moderated:
        variance, dof = moderated
        error = math.sqrt(variance * (1 / len(a) + 1 / len(b)))
        return _estimate(log_ratio, error, dof, a_median, b_median, method="runs")
    rng = np.random.default_rng(seed)
    boot = np.log(_bootstrap_medians(b, samples, rng)) - np.log(_bootstrap_medians(a, samples, rng))
    lo, hi = np.quantile(boot, [ALPHA / 2, 1 - ALPHA / 2])
    within = float(hi - lo) / (2 * 1.959964)  # the interval's standard error, as a normal one's
    drift_part = (drift or 0.0) ** 2 * (1 / len(a) + 1 / len(b))
    if drift_dof:  # a learned drift, from a few runs: Welch-Satterthwaite's t, not the normal
        error, dof = welch([(within ** 2, 1000.0), (drift_part, float(drift_dof))], 1000.0)
    else:
        error, dof = math.sqrt(within ** 2 + drift_part), None
    return _estimate(log_ratio, error, dof, a_median, b_median, method="bootstrap", drift=drift)


def _signed_rank_counts(n):
    """How many of the 2^n sign patterns of ranks 1..n give each signed-rank sum W+ (0 to
    n(n+1)/2): its exact null distribution, without ties."""
    counts = [1]
    for k in range(1, n + 1):
        grown = counts + [0] * k
        for w, c in enumerate(counts):
            grown[w + k] += c
        counts = grown
    return counts


def _signed_rank_tail(values, upper):
    """P(W+ >= w) (upper) or P(W+ <= w) of the observed W+ of values, zeros dropped, tied
    ranks averaged; 1.0 when no value is left."""
    from scipy.stats import rankdata

    nonzero = [x for x in values if x != 0]
    if not nonzero:
        return 1.0
    ranks = rankdata([abs(x) for x in nonzero])
    w = float(sum(r for r, x in zip(ranks, nonzero) if x > 0))
    counts, total = _signed_rank_counts(len(nonzero)), 2.0 ** len(nonzero)
    if upper:
        return sum(counts[math.ceil(w):]) / total
    return sum(counts[:math.floor(w) + 1]) / total


def _walsh_interval(logs, level):
    """The Hodges-Lehmann interval of the median log ratio: the Walsh averages between the k-th
    smallest and the k-th largest, k the most the exact signed-rank distribution allows at
    `level` (two-sided); (-inf, inf) when there are too few rounds for it."""
    n = len(logs)
    walsh = sorted((logs[i] + logs[j]) / 2 for i in range(n) for j in range(i, n))
    counts, total = _signed_rank_counts(n), 2.0 ** n
    k, below = 0, 0.0
    while k < len(counts) and (below + counts[k]) / total <= level / 2:
        below += counts[k]
        k += 1
    if k == 0:
        return -math.inf, math.inf
    return walsh[k - 1], walsh[len(walsh) - k]


def paired(a_medians, b_medians, alpha=ALPHA):
    """The comparison of interleaved rounds: a_medians and b_medians, one per round (the
    round's median for each side, measured minutes apart). The rounds' log ratios are judged by
    rank (a burst of load that lands on one side's turn is one outlying round, not a shift):
    the estimate is their Hodges-Lehmann median, its 95% interval (and the 1 - 2 alpha one the
    equivalence test uses) from the exact signed-rank distribution, the p-value a signed-rank
    test of a change beyond FLOOR (the Wilcoxon test Pinpoint's pairwise mode uses). alpha: the
    level this look spends (interleave.py spends ALPHA over its looks), which the p-value is held
    to and the equivalence interval (1 - 2 alpha) is taken at; the interval shown is the 95% one.
    None with fewer than two rounds."""
    logs = [float(x) for x in np.log(np.asarray(b_medians, float)) - np.log(np.asarray(a_medians, float))]
    if len(logs) < 2:
        return None
    n = len(logs)
    walsh = [(logs[i] + logs[j]) / 2 for i in range(n) for j in range(i, n)]
    estimate = float(np.median(walsh))
    lo, hi = _walsh_interval(logs, ALPHA)  # shown: 95%; the verdicts use this look's alpha
    floor = math.log1p(FLOOR)
    p = min(1.0, 2 * min(_signed_rank_tail([x - floor for x in logs], upper=True),
                         _signed_rank_tail([x + floor for x in logs], upper=False)))
    error = (hi - lo) / (2 * 1.959964) if math.isfinite(hi - lo) else math.inf
    return {"a_median_ns": float(np.median(a_medians)), "b_median_ns": float(np.median(b_medians)),
            "ratio": math.exp(estimate), "ci_lo": math.exp(lo), "ci_hi": math.exp(hi), "p_value": p,
            "noise": FLOOR, "error": error, "dof": None, "detectable": None, "method": "paired", "rounds": n,
            "equivalence_interval": _walsh_interval(logs, 2 * alpha)}


def detectable(result, tested, alpha=ALPHA):
    """The smallest change (a fraction) the comparison would call with POWER, beyond FLOOR, at
    the strictest Benjamini-Hochberg level of `tested` rungs."""
    from scipy.stats import norm, t as student_t

    level = alpha / max(1, tested)
    if result.get("dof"):
        z = float(student_t.isf(level / 2, result["dof"]) + student_t.isf(1 - POWER, result["dof"]))
    else:
        z = float(norm.isf(level / 2) + norm.isf(1 - POWER))
    return math.expm1(math.log1p(FLOOR) + z * result["error"])


def equivalent(result, equiv=EQUIV):
    """Two one-sided tests at ALPHA: whether the 90% interval of the log ratio lies within
    +-log(1 + equiv); for paired rounds, their signed-rank interval at 1 - 2 alpha of the look
    (stats.paired's equivalence_interval)."""
    from scipy.stats import norm, t as student_t

    margin = math.log1p(equiv)
    if result.get("equivalence_interval"):  # paired rounds: their own distribution-free interval
        lo, hi = result["equivalence_interval"]
        return -margin < lo and hi < margin
    quantile = float(student_t.isf(ALPHA, result["dof"])) if result.get("dof") else float(norm.isf(ALPHA))
    return abs(math.log(result["ratio"])) + quantile * result["error"] < margin


def difference(control, row, samples=BOOTSTRAP_SAMPLES, seed=SEED):
    """(row median - control median, 95% interval low, high) in ns, one run each: [invocation]
    [repetition ns]; the interval from the same hierarchical bootstrap as compare's."""
    rng = np.random.default_rng(seed)
    boot = _bootstrap_medians([row], samples, rng) - _bootstrap_medians([control], samples, rng)
    lo, hi = np.quantile(boot, [ALPHA / 2, 1 - ALPHA / 2])
    return pooled_median([row]) - pooled_median([control]), float(lo), float(hi)


def welch(parts, df_when_none):
    """(standard error, Welch-Satterthwaite degrees of freedom) of a sum of variance parts, each
    (variance, its degrees of freedom); df_when_none when every part is 0. compare.py's phase
    test (a fault anatomy's phases) uses it."""
    total = sum(v for v, _ in parts)
    if total <= 0:
        return 0.0, df_when_none
    return math.sqrt(total), total ** 2 / sum(v * v / df for v, df in parts if v > 0)


def adjust(p_values):
    """Benjamini-Hochberg adjusted p-values, in the same order."""
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(p) for p in multipletests(p_values, alpha=ALPHA, method="fdr_bh")[1]]


def verdict(result, p_adjusted, equiv=EQUIV, alpha=ALPHA):
    """faster / slower when the change beyond FLOOR is significant after adjustment (at alpha);
    same when the equivalence test puts it within +-equiv; undecided otherwise."""
    if p_adjusted < alpha and abs(math.log(result["ratio"])) > math.log1p(FLOOR):
        return "slower" if result["ratio"] > 1 else "faster"
    if equivalent(result, equiv):
        return "same"
    return "undecided"
