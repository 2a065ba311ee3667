"""anatomy.svg: one stacked bar per fault rung, its kernel phases in the same colours on every chart."""

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
from matplotlib import ticker  # noqa: E402

from pageladder import ladder  # noqa: E402
from pageladder.units import format_ns  # noqa: E402
from pageladder.charts.common import INVALID_COLOUR, style, footer_text, figure, save, _shorten  # noqa: E402


def draw_anatomy(anatomy, run, stem):
    """anatomy.svg/png: one stacked bar per fault rung, its wall time split into kernel phases
    (anatomy_join.py), phases in the same colours on every chart; rungs whose phases were not split
    are listed with the reason instead of a bar. Returns False when there is nothing to draw."""
    from pageladder.anatomy_phases import COLOURS, PHASE_NAMES

    rungs = anatomy.get("rungs") or []
    if not rungs:
        return False
    style()
    medians = ladder.valid_medians(run["pageladder"])
    height = 2.6 + 0.34 * len(rungs)
    fig, ax = figure(11.0, height)
    used = []
    for y, rung in enumerate(rungs):
        if not rung.get("phases"):
            why = rung.get("why_invalid") if not rung["valid"] else rung.get("why_not_split")
            ax.text(0.005, y, ("invalid: " if not rung["valid"] else "not split: ") + _shorten(why, 110),
                    va="center", fontsize=8, color=INVALID_COLOUR if not rung["valid"] else "#555555")
        else:
            left = 0.0
            for phase in rung["phases"]:
                ax.barh(y, phase["share"], left=left, height=0.7, color=COLOURS[phase["phase"]],
                        edgecolor="white", linewidth=0.4)
                if phase["share"] >= 0.08:
                    ax.text(left + phase["share"] / 2, y, f"{phase['share']:.0%}", ha="center",
                            va="center", fontsize=7)
                left += phase["share"]
                if phase["phase"] not in used:
                    used.append(phase["phase"])
        median = medians.get(rung["id"])
        ax.text(1.01, y, f"{format_ns(median)}" if median else "", va="center", fontsize=8)
        ax.set_yticks(range(len(rungs)))
    ax.set_yticklabels([r["id"] for r in rungs], fontfamily="monospace", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(1.0))
    ax.set_xlabel("share of the events' wall time, in the anatomy pass (right: the ladder's median)")
    method = anatomy.get("method") or {}
    ax.set_title(f"Where each fault's time goes, by kernel phase (sampled with {method.get('counter')}, "
                 f"only inside the events' own windows)", loc="left", fontsize=10)
    handles = [matplotlib.patches.Patch(color=COLOURS[p], label=p) for p in PHASE_NAMES if p in used]
    if handles:
        # Below the axis label; constrained layout makes room for it.
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.55 / (0.34 * len(rungs))),
                  ncol=min(6, len(handles)), fontsize=8, frameon=False)
    fig.text(0.01, 0.005, footer_text(run["pageladder"]), fontsize=6.5, color="#555555")
    save(fig, stem)
    return True
