"""compare.md and the compare folder's name: a comparison (compare.compare's result) written for
people. The numbers and verdicts are compare.py's and stats.py's; nothing is decided here."""
import hashlib

from pageladder import stats
from pageladder.compare import VERDICTS
from pageladder.compare_anatomy import anatomy_markdown
from pageladder.units import format_ns


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
        if row.get("detectable") is None or row["detectable"] > 1:
            return "undecided (could detect only changes beyond ×2)"
        return f"undecided (could detect ±{_percent(row['detectable'])})"
    return f"{v}: {row['why']}"


def method_text(result):
    """How the verdicts were reached, one paragraph for compare.md."""
    equiv = _percent(result.get("equiv", stats.EQUIV))
    if result.get("interleaved"):
        how = ("The sides were measured **interleaved**: round after round, each side in turn in a "
               "balanced order (A B B A …), so what the host did meanwhile lands on both. Each ratio is "
               "the Hodges–Lehmann median of the rounds' ratios, B over A, and its 95% interval comes from "
               "the exact signed-rank distribution of the rounds' log ratios (a paired, rank-based test: a "
               "drift common to both sides cancels, and a burst of load on one side's turn counts as one "
               "round).")
    else:
        how = ("The sides were measured **apart**. Each ratio is the median over every repetition of the "
               "side, B over A. Where several runs a side, or earlier identical runs of these machines, show "
               "how far whole runs wander, its 95% interval is a t-test on run medians with each rung's run "
               "variance borrowed across every rung (empirical Bayes, following each rung's spread between "
               "invocations). Where nothing shows it (one run a side), the interval is the invocations' "
               "resampled spread plus a stated drift of a whole run for each side (learned from identical "
               "runs under the results folder, else the suite's default for that kind of rung): one run "
               "against one calls no change that such drift explains.")
    interleaved = result.get("interleaved")
    alpha = interleaved["alpha_per_look"] if interleaved else stats.ALPHA
    looks = (f" The rounds were looked at after rounds {', '.join(map(str, interleaved['looks']))}, each look "
             f"spending α = {alpha:g} of the {stats.ALPHA} (Bonferroni over the looks); a rung decided at a look "
             "keeps that look's verdict.") if interleaved else ""
    return (how + looks + f" A change is **faster** or **slower** when it exceeds {_percent(stats.FLOOR)} with "
            f"significance after adjusting for testing every rung at once (Benjamini–Hochberg, "
            f"α = {alpha:g}); **same** when the {100 * (1 - 2 * alpha):g}% interval lies within ±{equiv} (an "
            "equivalence test, a finding, not a failure to see); **undecided** otherwise, with the smallest "
            "change this comparison could have called with 80% power.")


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
