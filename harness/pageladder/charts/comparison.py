"""compare.svg (each rung's ratio B/A with its interval, coloured only where the verdict is faster
or slower), matrix.svg (rungs x sides) and kernels.svg (the headline rungs across kernels)."""
import math

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from pageladder.units import format_ns  # noqa: E402
from pageladder.charts.common import INVALID_COLOUR, style, footer_text, save, _wrap, _shorten  # noqa: E402


SIDE_MARKERS = ("o", "s", "^", "D", "v")

SIDE_SYMBOLS = ("●", "■", "▲", "◆", "▼")  # the same shapes, for the legend's text
SLOWER, FASTER, NEUTRAL = "#D55E00", "#0072B2", "#555555"

NOISE_COLOUR = "#999999"

def draw_compare(result, runs, stem):
    """compare.svg/png: per rung, the ratio to side A on a log axis centred on 1, with its 95%
    confidence interval and the rung's noise band; coloured only where the verdict is faster or
    slower. Rungs without a ratio (invalid, missing, not comparable) have their own strip below,
    with the reason, never a place on the ratio axis. Laid out in inches, top to bottom, so no
    block can run into another however many rungs, sides or differing settings there are."""
    style()
    comparisons = result["comparisons"]
    ids = [r["id"] for r in comparisons[0]["rungs"]]
    measured = [i for k, i in enumerate(ids) if any(c["rungs"][k]["ratio"] is not None for c in comparisons)]
    others = [(c_index, r) for c_index, c in enumerate(comparisons) for r in c["rungs"] if r["ratio"] is None]
    side_lines = [_shorten(f"{SIDE_SYMBOLS[(k - 1) % len(SIDE_SYMBOLS)] if k and len(comparisons) > 1 else ''} "
                           f"{chr(ord('A') + k)}: " + ", ".join(side), 190).strip()
                  for k, side in enumerate(result["sides"])]
    diff_text = ""
    if result["differences"]:
        diff_text = _wrap("Settings differ: " + "; ".join(
            f"{f}: " + " / ".join(str(v) for v in vals) for f, vals in result["differences"]), 190, 8)
    footer_runs = runs[:6]
    footer = [footer_text(r["pageladder"]) for r in footer_runs]
    if len(runs) > len(footer_runs):
        footer.append(f"... and {len(runs) - len(footer_runs)} more runs")
    # Heights in inches, top to bottom.
    # Each comparison gets its own line in a rung's row, so labels never overprint.
    row_h = 0.3 * max(1.0, 0.65 * len(comparisons))
    title_h, axis_h = 0.75, row_h * max(len(measured), 1) + 0.55
    strip_h = (0.3 + 0.19 * len(others)) if others else 0.0
    sides_h = 0.17 * len(side_lines) + 0.1
    diff_h = 0.14 * (diff_text.count("\n") + 1) + 0.1 if diff_text else 0.0
    footer_h = 0.11 * len(footer) + 0.1
    height = title_h + axis_h + strip_h + sides_h + diff_h + footer_h
    width = 10.0
    fig = plt.figure(figsize=(width, height))
    left, right = 2.0 / width, 1 - 1.5 / width

    def from_top(inches):
        return 1 - inches / height

    ax = fig.add_axes((left, from_top(title_h + axis_h - 0.45), right - left, (axis_h - 0.45) / height))
    ratios = [v for c in comparisons for r in c["rungs"] if r["ratio"] is not None
              for v in (r["ci_lo"], r["ci_hi"], r["ratio"], 1 + r["noise"], 1 / (1 + r["noise"]))]
    reach = min(4.0, max([1.1] + [max(v, 1 / v) for v in ratios if v and v > 0]) * 1.05)
    ax.set_xscale("log")
    ax.set_xlim(1 / reach, reach)
    ticks, gap = [], math.log(reach) / 4  # at most about eight labels across the axis
    for t in sorted((0.25, 0.33, 0.5, 0.67, 0.8, 0.9, 0.95, 0.98, 1.0, 1.02, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0),
                    key=lambda t: abs(math.log(t))):
        if 1 / reach <= t <= reach and all(abs(math.log(t / u)) >= gap for u in ticks):
            ticks.append(t)
    ticks.sort()
    ax.set_xticks(ticks, labels=[f"×{t:g}" for t in ticks], fontsize=7)
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.axvline(1.0, color="#333333", lw=0.8)
    for y, rung_id in enumerate(measured):
        k = ids.index(rung_id)
        for c_index, c in enumerate(comparisons):
            r = c["rungs"][k]
            if r["ratio"] is None:
                continue
            offset = (c_index - (len(comparisons) - 1) / 2) * (0.7 / len(comparisons))
            band = 1 + r["noise"]
            ax.add_patch(matplotlib.patches.Rectangle((1 / band, y + offset - 0.09), band - 1 / band, 0.18,
                                                      color=NOISE_COLOUR, alpha=0.25, lw=0))
            colour = {"slower": SLOWER, "faster": FASTER}.get(r["verdict"], NEUTRAL)
            called = r["verdict"] in ("slower", "faster")
            shown = min(max(r["ratio"], 1 / reach), reach)  # beyond the axis: pinned to its edge
            ax.errorbar([shown], [y + offset],
                        xerr=[[max(shown - r["ci_lo"], 0)], [max(min(r["ci_hi"], reach) - shown, 0)]],
                        fmt=SIDE_MARKERS[c_index % len(SIDE_MARKERS)], color=colour, ms=4.5, capsize=2, lw=1,
                        mfc=colour if called else "white")
            ax.text(1.01, y + offset, f"×{r['ratio']:.3f} {r['verdict']}", transform=ax.get_yaxis_transform(),
                    va="center", fontsize=6.5, color=colour, fontweight="bold" if called else "normal",
                    clip_on=False)
    ax.set_yticks(range(len(measured)), labels=measured, fontsize=7)
    ax.set_ylim(max(len(measured), 1) - 0.5, -0.6)
    ax.set_xlabel("B / A: time per event, ratio of medians (< 1 faster, > 1 slower)", fontsize=8)
    fig.text(0.01, from_top(0.12), "pageladder comparison: ratio to side A (log scale) with its 95% "
             "confidence interval; grey band = the rung's noise (where identical runs land);\n"
             "coloured only where the verdict is faster (blue) or slower (red)", fontsize=8.5, va="top")
    y = title_h + axis_h
    if others:
        fig.text(0.01, from_top(y + 0.05), "No ratio (never placed on the axis):", fontsize=7.5,
                 va="top", fontweight="bold", color="#333333")
        for n, (c_index, r) in enumerate(others):
            who = f" ({chr(ord('B') + c_index)})" if len(comparisons) > 1 else ""
            colour = INVALID_COLOUR if r["verdict"] == "invalid" else "#555555"
            fig.text(0.02, from_top(y + 0.28 + 0.19 * n), _shorten(f"{r['id']}{who}: {r['verdict']}: {r['why']}", 175),
                     fontsize=6.5, va="top", color=colour)
        y += strip_h
    for n, line in enumerate(side_lines):
        fig.text(0.01, from_top(y + 0.05 + 0.17 * n), line, fontsize=7, va="top", color="#333333")
    y += sides_h
    if diff_text:
        fig.text(0.01, from_top(y + 0.05), diff_text, fontsize=6.5, va="top", color=INVALID_COLOUR)
        y += diff_h
    fig.text(0.01, from_top(y + 0.03), "\n".join(footer), fontsize=5, va="top", color="#555555")
    save(fig, stem)

def draw_matrix(matrix, runs, stem):
    """matrix.svg/png: a row per rung, a column per side; each cell the ratio to the first side,
    filled only where compare called it faster (blue) or slower (red), a mark where there is no
    ratio (invalid, – missing, n/c not comparable). Sized for a documentation page: about 1000
    pixels wide for up to six sides, wider past that; every rung's id whole."""
    from pageladder.matrix import MARKS

    style()
    sides, rungs = matrix["sides"], matrix["rungs"]
    id_w, cell_w, row_h = 2.3, 1.1, 0.24
    width = max(6.7, id_w + 1.1 + cell_w * (len(sides) - 1) + 0.2)
    chars = int(width * 15)  # characters of 8-point text a line holds
    header = [_wrap(s["name"], 16, 3) for s in sides]
    title = _wrap(f"Each side against {sides[0]['name']}: the ratio of medians, filled where compare called "
                  "it faster (blue) or slower (red); – missing, n/c not comparable", chars, 3)
    diff = _wrap("Settings differ: " + "; ".join(
        f"{d['setting']}: " + " / ".join(str(v) for v in d["values"]) for d in matrix["differing_settings"]),
        int(chars * 1.1), 3) if matrix["differing_settings"] else ""
    title_h = 0.17 * (title.count("\n") + 1) + 0.15
    diff_h = 0.15 * (diff.count("\n") + 1) + 0.1 if diff else 0
    top = title_h + diff_h + 0.15 * 3 + 0.15
    height = top + row_h * len(rungs) + 0.5
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    ax.text(0.15, 0.1, title, fontsize=8, va="top")
    if diff:
        ax.text(0.15, title_h + 0.05, diff, fontsize=7, va="top", color=NEUTRAL)
    columns = [id_w + 0.55] + [id_w + 1.1 + cell_w * (k - 0.5) for k in range(1, len(sides))]
    for x, text in zip(columns, header):
        ax.text(x, top - 0.06, text, fontsize=7, ha="center", va="bottom")
    for i, rung in enumerate(rungs):
        y = top + row_h * (i + 0.5)
        ax.text(0.15, y, rung["id"], fontsize=7.5, va="center", family="monospace")
        ax.text(columns[0], y, format_ns(rung["baseline_ns"]) if rung["baseline_ns"] else "–", fontsize=7.5,
                ha="center", va="center")
        for x, cell in zip(columns[1:], rung["cells"]):
            colour = {"slower": SLOWER, "faster": FASTER}.get(cell["verdict"])
            if colour:
                ax.add_patch(matplotlib.patches.Rectangle((x - cell_w / 2 + 0.03, y - row_h / 2 + 0.02),
                                                          cell_w - 0.06, row_h - 0.04, color=colour, alpha=0.85))
            text = f"×{cell['ratio']:.2f}" if cell["ratio"] is not None else MARKS.get(cell["verdict"], "?")
            ax.text(x, y, text, fontsize=7.5, ha="center", va="center",
                    color="white" if colour else (INVALID_COLOUR if cell["verdict"] == "invalid" else "black"))
    footer = _wrap(footer_text(runs[0]["pageladder"]) + (f" (and {len(runs) - 1} more runs)" if len(runs) > 1 else ""),
                   int(chars * 1.3), 2)
    ax.text(0.1, height - 0.08, footer, fontsize=5.5, color=NEUTRAL, va="bottom")
    save(fig, stem)

def draw_kernels(matrix, headline_ids, stem):
    """kernels.svg/png: each headline rung's median across the sides in kernel order, with the
    95% interval compare gives each side's ratio (scaled by the baseline's median); the
    baseline's own point has none."""
    style()
    chosen = [r for r in matrix["rungs"] if r["id"] in headline_ids and r["baseline_ns"]]
    if not chosen:
        return False
    names = [s["name"] for s in matrix["sides"]]
    columns = 3
    rows = (len(chosen) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(10.0, 2.3 * rows + 0.6), squeeze=False, layout="constrained")
    for ax, rung in zip(axes.flat, chosen):
        base = rung["baseline_ns"]
        ys, lo, hi, xs = [base], [0.0], [0.0], [0]
        for k, cell in enumerate(rung["cells"], 1):
            if cell["ratio"] is None:
                continue
            xs.append(k)
            ys.append(cell["ratio"] * base)
            lo.append((cell["ratio"] - cell["ci_lo"]) * base)
            hi.append((cell["ci_hi"] - cell["ratio"]) * base)
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o-", color=FASTER, ms=4, capsize=3, lw=1)
        ax.set_title(rung["id"], fontsize=8.5, family="monospace")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([_wrap(n, max(8, 44 // len(names)), 4) for n in names], fontsize=6.5)
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: format_ns(v)))
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylim(bottom=0)
    for ax in list(axes.flat)[len(chosen):]:
        ax.axis("off")
    fig.suptitle("Headline rungs across kernels: median per event, 95% interval", fontsize=9.5)
    save(fig, stem)
    return True
