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
- `detectable` is the smallest change this comparison could have called: the larger of the
  noise band and the interval's half-width.

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


def run_spread(*sides):
    """Pooled standard deviation of log run medians within each side with several runs (NaN
    when no side has two runs)."""
    squares, dof = 0.0, 0
    for side in sides:
        logs = np.log([pooled_median([run]) for run in side])
        if len(logs) >= 2:
            squares += float(np.sum((logs - logs.mean()) ** 2))
            dof += len(logs) - 1
    return math.sqrt(squares / dof) if dof else float("nan")


def noise_band(a, b):
    """The fraction inside which an identical run's median lands (see the module's docstring)."""
    floor = SINGLE_RUN_FLOOR if min(len(a), len(b)) < 2 else NOISE_FLOOR
    per_run = min(len(run) for side in (a, b) for run in side)  # invocations in a run
    spreads = [SIGMAS * invocation_spread(a, b) / math.sqrt(per_run), SIGMAS * run_spread(a, b)]
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


def usable(side):
    """Why a side's times cannot be compared (a time that is not finite and positive), or None."""
    for run in side:
        for inv in run:
            if not all(math.isfinite(t) and t > 0 for t in inv):
                return "a repetition's time is not a positive number"
    return None


def compare_sides(a, b, samples=BOOTSTRAP_SAMPLES, seed=SEED):
    """Ratio B/A of the pooled medians, its bootstrap CI, raw p-value, noise and detectable
    change, for one rung. a and b: [run][invocation][repetition ns], every time finite and
    positive (see usable)."""
    rng = np.random.default_rng(seed)
    a_median, b_median = pooled_median(a), pooled_median(b)
    log_ratio = math.log(b_median / a_median)
    boot = np.log(_bootstrap_medians(b, samples, rng)) - np.log(_bootstrap_medians(a, samples, rng))
    lo, hi = np.quantile(boot, [ALPHA / 2, 1 - ALPHA / 2])
    below = (np.count_nonzero(boot <= 0) + 1) / (samples + 1)
    above = (np.count_nonzero(boot >= 0) + 1) / (samples + 1)
    p = min(1.0, 2 * min(below, above))
    noise = noise_band(a, b)
    half_width = max(math.expm1(hi - log_ratio), -math.expm1(lo - log_ratio))
    return {
        "a_median_ns": a_median,
        "b_median_ns": b_median,
        "ratio": math.exp(log_ratio),
        "ci_lo": math.exp(lo),
        "ci_hi": math.exp(hi),
        "p_value": p,
        "noise": noise,
        "detectable": max(noise, half_width),
    }


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
