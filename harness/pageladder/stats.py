"""The statistics behind `make compare`: one rung, two sides, a verdict that holds.

Where the variance lives decides what counts as a sample (Kalibera and Jones, "Rigorous
Benchmarking in Reasonable Time", ISMM 2013). The repetitions inside one process share its
physical pages, cache colouring and page-cache state, so they are not independent; fresh
processes (invocations, see runner.py) and whole runs are. A side is therefore a list of runs,
each a list of invocations, each the list of its repetitions' per-event times:

- the estimate is the headline statistic itself, the median over every repetition of the side
  (one run per side: exactly the `median_ns` of its ladder), and the ratio is B's over A's;
- its 95% confidence interval comes from a hierarchical bootstrap that resamples runs, then
  invocations within each run, keeping each invocation's repetitions together, so the interval
  is as wide as the process-to-process and run-to-run spread, not the repetition spread;
- its p-value is the smallest two-sided level at which that interval would exclude 1, and the
  p-values of all rungs of one comparison are adjusted together (Benjamini-Hochberg, through
  statsmodels), because about two dozen rungs are tested at once;
- the noise band is where the median of an identical run lands: two standard deviations of a
  run's median, estimated from the spread between its invocations (sigma/sqrt(n)) and, where the
  sides have several runs, from the spread between the runs' medians (both pooled over the
  sides, on a log scale); never under a floor: SINGLE_RUN_FLOOR when a side has one run (whole
  runs move together by a few percent on a shared machine, and one run per side cannot see it),
  NOISE_FLOOR otherwise. A difference inside the band is never called faster or slower, however
  small its p-value;
- with several runs on both sides, the run-to-run variance of a rung is estimated from very few
  runs (two or three a side: two to four degrees of freedom), too loosely to use alone. It is
  borrowed across the rungs of the comparison, as genomics tools do for many features and few
  samples (Smyth, "Linear models and empirical Bayes methods for assessing differential
  expression in microarray experiments", 2004): each rung's variance is moderated towards the
  typical variance of its family's rungs (the median, scaled to a variance), with a weight in
  degrees of freedom estimated, as limma does, from how much the rungs' variances differ beyond
  what sampling explains (alike rungs borrow much, unlike ones little); and never below what the
  spread between invocations alone puts on a run's median. The p-value and interval then come from a t-test on the runs' log medians with that
  variance, and the noise band is two of its standard errors;
- `detectable` is the smallest change this comparison would call with 80% power, at the
  strictest level the Benjamini-Hochberg adjustment asks of the largest change (alpha over the
  number of rungs tested), and never under the noise band.

Resampling uses a fixed seed, so the same runs give the same numbers (and byte-identical charts).
"""
import math

import numpy as np

ALPHA = 0.05
BOOTSTRAP_SAMPLES = 4000
NOISE_FLOOR = 0.01  # timer and host jitter: 1% is never a finding on its own
# With one run on a side, a whole run's shift is unobservable. Four identical quick runs on a
# shared 2-core VM moved every fault rung together by up to 3.6% (minor_fault 801-830 ns).
SINGLE_RUN_FLOOR = 0.03
SIGMAS = 2.0  # the band is +-2 standard deviations: where about 95% of identical runs land
SEED = 20130620
# What the variance borrowed from a family's rungs is worth, in degrees of freedom, estimated
# from the comparison's rungs (stats._prior_dof); PRIOR_DOF where fewer than three rungs have
# a variance, and never more than MAX_PRIOR_DOF.
PRIOR_DOF = 4.0
MAX_PRIOR_DOF = 50.0
POWER = 0.8


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


def moderate(variances, groups):
    """Each rung's run variance moderated towards its group's (empirical Bayes, see the module's
    docstring). variances: {rung: (variance, dof)}; groups: {rung: group} (a family). Returns
    {rung: (moderated variance, dof + d0)} for rungs with dof > 0, d0 estimated from how much the
    rungs' variances differ beyond sampling (_prior_dof). A group of fewer than three such rungs
    borrows from every rung of the comparison."""
    from scipy.stats import chi2

    known = {r: (v, d) for r, (v, d) in variances.items() if d > 0 and math.isfinite(v) and v > 0}

    def prior(members):
        # The median of s^2 estimates sigma^2 * median(chi2_d) / d: scaled back to sigma^2.
        dof = float(np.median([known[r][1] for r in members]))
        return float(np.median([known[r][0] for r in members])) * dof / float(chi2.median(dof))

    everyone = prior(list(known)) if known else float("nan")
    by_group = {}
    for r in known:
        by_group.setdefault(groups.get(r), []).append(r)
    s0 = {r: prior(members) if len(members) >= 3 else everyone for members in by_group.values() for r in members}
    d0 = _prior_dof([math.log(known[r][0] / s0[r]) for r in known], [known[r][1] for r in known])
    return {r: ((d0 * s0[r] + d * v) / (d0 + d), d + d0) for r, (v, d) in known.items()}


def noise_band(a, b):
    """The fraction inside which an identical run's median lands (see the module's docstring)."""
    floor = SINGLE_RUN_FLOOR if min(len(a), len(b)) < 2 else NOISE_FLOOR
    per_run = min(len(run) for side in (a, b) for run in side)  # invocations in a run
    spreads = [SIGMAS * invocation_spread(a, b) / math.sqrt(per_run), SIGMAS * math.sqrt(run_variance(a, b)[0])]
    return max([floor] + [math.expm1(x) for x in spreads if not math.isnan(x)])


def invocation_spread(*sides):
    """Pooled standard deviation of log invocation medians within each side (NaN when no side
    has two invocations)."""
    squares, dof = 0.0, 0
    for side in sides:
        logs = np.log([float(np.median(inv)) for run in side for inv in run if len(inv)])
        if len(logs) >= 2:
            squares += float(np.sum((logs - logs.mean()) ** 2))
            dof += len(logs) - 1
    return math.sqrt(squares / dof) if dof else float("nan")


# A rung whose one-run-against-one noise band is wider than this is too noisy for the changes a
# kernel comparison looks for; the run's report says so and what to do about it.
USABLE_BAND = 0.05


def single_run_band(invocation_medians, tested):
    """The smallest change a comparison of this run with one identical run could call for a rung
    (detectable, among `tested` rungs), from its invocations' medians alone (NaN with fewer
    than two): the difference of two such runs' medians has sqrt(2) times one's error."""
    if len(invocation_medians) < 2:
        return float("nan")
    side = [[[float(m)] for m in invocation_medians]]
    error = math.sqrt(2) * invocation_spread(side) / math.sqrt(len(invocation_medians))
    return detectable({"noise": noise_band(side, side), "error": error, "dof": None}, tested)


def usable(side):
    """Why a side's times cannot be compared (a time that is not finite and positive), or None."""
    for run in side:
        for inv in run:
            if not all(math.isfinite(t) and t > 0 for t in inv):
                return "a repetition's time is not a positive number"
    return None


def _runs_t_test(a, b, log_ratio, variance, dof):
    """p-value, CI (log scale) and standard error of the difference of the sides' mean log run
    medians, with the moderated run variance."""
    from scipy.stats import t as student_t

    means = [float(np.mean(np.log([pooled_median([run]) for run in side]))) for side in (a, b)]
    error = math.sqrt(variance * (1 / len(a) + 1 / len(b)))
    if error == 0:
        return (1.0 if means[0] == means[1] else 0.0), (log_ratio, log_ratio), 0.0
    p = float(2 * student_t.sf(abs(means[1] - means[0]) / error, dof))
    half = float(student_t.isf(ALPHA / 2, dof)) * error
    return p, (log_ratio - half, log_ratio + half), error


def compare_sides(a, b, samples=BOOTSTRAP_SAMPLES, seed=SEED, moderated=None):
    """Ratio B/A of the pooled medians, its CI, raw p-value, noise and standard error, for one
    rung. a and b: [run][invocation][repetition ns], every time finite and positive (see
    usable). moderated: (variance, dof) of the rung's log run medians borrowed across rungs
    (moderate); with it, and several runs on both sides, the test is a t-test on the runs'
    medians (also with one run a side, where earlier identical runs gave the variance:
    history.py); otherwise the hierarchical bootstrap. `detectable` is filled in by detectable()
    once the number of rungs tested is known."""
    a_median, b_median = pooled_median(a), pooled_median(b)
    log_ratio = math.log(b_median / a_median)
    if moderated:
        # A run's median varies by what the spread between its invocations puts on it (known
        # with many degrees of freedom) plus what whole runs add beyond that (known with few). The
        # variance is the larger of the two estimates; its degrees of freedom are the parts'
        # (Welch-Satterthwaite), so a rung whose runs land where its invocations alone say is
        # known as well as its invocations, one whose runs wander as well as its runs.
        per_run = min(len(run) for side in (a, b) for run in side)
        floor = invocation_spread(a, b) ** 2 / per_run
        variance, dof = moderated
        if math.isfinite(floor):
            floor_dof = sum(len(run) - 1 for side in (a, b) for run in side)
            _, dof = welch([(floor, floor_dof), (max(0.0, variance - floor), dof)], floor_dof)
            variance = max(variance, floor)
        p, (lo, hi), error = _runs_t_test(a, b, log_ratio, variance, dof)
        # One run a side keeps its floor even with the variance known from earlier runs: those
        # may be days old, and the host's state drifts.
        floor = SINGLE_RUN_FLOOR if min(len(a), len(b)) < 2 else NOISE_FLOOR
        noise = max(floor, math.expm1(SIGMAS * error))
        return {"a_median_ns": a_median, "b_median_ns": b_median, "ratio": math.exp(log_ratio),
                "ci_lo": math.exp(lo), "ci_hi": math.exp(hi), "p_value": p, "noise": noise,
                "error": error, "dof": dof, "detectable": None}
    rng = np.random.default_rng(seed)
    boot = np.log(_bootstrap_medians(b, samples, rng)) - np.log(_bootstrap_medians(a, samples, rng))
    lo, hi = np.quantile(boot, [ALPHA / 2, 1 - ALPHA / 2])
    below = (np.count_nonzero(boot <= 0) + 1) / (samples + 1)
    above = (np.count_nonzero(boot >= 0) + 1) / (samples + 1)
    p = min(1.0, 2 * min(below, above))
    noise = noise_band(a, b)
    return {
        "a_median_ns": a_median,
        "b_median_ns": b_median,
        "ratio": math.exp(log_ratio),
        "ci_lo": math.exp(lo),
        "ci_hi": math.exp(hi),
        "p_value": p,
        "noise": noise,
        # The interval's standard error, as a normal interval of the same width would have it.
        "error": float(hi - lo) / (2 * 1.959964),
        "dof": None,
        "detectable": None,
    }


def detectable(result, tested):
    """The smallest change (a fraction) the comparison would call with POWER, at the strictest
    Benjamini-Hochberg level of `tested` rungs, and never under the noise band."""
    from scipy.stats import norm, t as student_t

    level = ALPHA / max(1, tested)
    if result.get("dof"):
        z = float(student_t.isf(level / 2, result["dof"]) + student_t.isf(1 - POWER, result["dof"]))
    else:
        z = float(norm.isf(level / 2) + norm.isf(1 - POWER))
    return max(result["noise"], math.expm1(z * result["error"]))


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


def verdict(result, p_adjusted):
    """faster / slower only when the change is both significant after adjustment and outside
    the noise band; otherwise same."""
    if p_adjusted < ALPHA and abs(math.log(result["ratio"])) > math.log1p(result["noise"]):
        return "slower" if result["ratio"] > 1 else "faster"
    return "same"
