"""ladder.svg (the headline rungs on one logarithmic time axis, ns to ms), ladder-all.svg (every
row, by family) and lifecycle.svg (the demand-paging experiment).

Dots are medians over repetitions, whiskers min-max; invalid rungs are drawn apart in red with their
reason and no value, skipped rungs are listed with theirs."""

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pageladder import rows as row_descriptions  # noqa: E402
from pageladder.units import format_ns  # noqa: E402
from pageladder.charts.common import FAMILY_COLOURS, FAMILY_NAMES, INVALID_COLOUR, style, footer_text, figure, save, draw_time_axis, axis_limits, _wrap  # noqa: E402


def draw_ladder(run, stem):
    """ladder.svg/png, the headline ladder a docs page wants: the contract's rungs in ladder
    order (TLB, faults, storage) from the bottom up, with the textbook bands."""
    block = run["pageladder"]
    described = block.get("rows") or {}
    order = {rung_id: k for k, rung_id in enumerate(
        row_descriptions.headline(described, stored=[r["id"] for r in block["ladder"]]))}
    rungs = sorted((r for r in block["ladder"] if r["valid"] and r["id"] in order), key=lambda r: order[r["id"]])
    invalid = [r for r in block["ladder"] if not r["valid"] and r["id"] in order]
    # A headline rung skipped, or a whole benchmark that failed; a skipped series of supporting
    # rows (the TLB sweep's hugetlb points) belongs in the all-rows chart, not here.
    skipped = [s for s in block["skipped"] if s.get("rung") in order or (not s.get("rung") and not _series(s))]
    _draw_rungs(block, stem, rungs, invalid, skipped,
                "What the virtual-memory system costs on this machine: the ladder")

def draw_ladder_all(run, stem):
    """ladder-all.svg/png: every row, grouped by family (cheapest first within each), with a
    legend of the families; every invalid and skipped row in the strip below."""
    block = run["pageladder"]
    known = row_descriptions.families(block.get("rows") or {}, stored=[r.get("family") for r in block["ladder"]])
    families = known + sorted({r.get("family") for r in block["ladder"]} - set(known) - {None})
    rungs = sorted((r for r in block["ladder"] if r["valid"]),
                   key=lambda r: (families.index(r.get("family")) if r.get("family") in families else len(families),
                                  r["median_ns"]))
    invalid = [r for r in block["ladder"] if not r["valid"]]
    _draw_rungs(block, stem, rungs, invalid, list(block["skipped"]),
                "Every row pageladder measured on this machine, by family", grouped=True)

def _series(skip):
    """The series a skip entry stands for ("tlb_sweep/hugetlb"), or None for a rung or a binary."""
    head = skip["reason"].split(": ", 1)[0]
    return head if "/" in head and not skip.get("rung") else None


LABEL_CHARS, REASON_CHARS = 38, 80  # characters a line of a row's label, of a reason

def _draw_rungs(block, stem, rungs, invalid, skipped, title, grouped=False):
    """Valid rungs on one log time axis, in the given order from the bottom up; invalid and
    skipped ones in a strip above them, with their reasons and never a time. Sized for a page
    about 1000 pixels wide: every label and reason whole, wrapped, never cut short."""
    style()
    rows = len(rungs) + len(invalid) + len(skipped)
    texts = [r["label"] for r in rungs + invalid] + [s["reason"] for s in skipped] + \
            [r["why_invalid"] for r in invalid]
    most_lines = max([1] + [len(_wrap(t, LABEL_CHARS, None).splitlines()) for t in texts[:len(rungs) + len(invalid)]]
                     + [len(_wrap(t, REASON_CHARS, None).splitlines()) for t in texts[len(rungs) + len(invalid):]])
    row_h = max(0.36, 0.13 * (most_lines + 1))
    height = 2.4 + row_h * max(rows, 1)
    fig, ax = figure(9.0, height)
    lo_s, hi_s = axis_limits([v for r in rungs for v in (r["lo_ns"], r["hi_ns"])])
    draw_time_axis(ax, lo_s, hi_s)

    labels = []
    for y, r in enumerate(rungs):
        med, lo, hi = r["median_ns"] * 1e-9, r["lo_ns"] * 1e-9, r["hi_ns"] * 1e-9
        colour = FAMILY_COLOURS.get(r.get("family"), "#333333")
        ax.errorbar([med], [y], xerr=[[med - lo], [hi - med]], fmt="o", color=colour, ms=6,
                    capsize=3, lw=1.2)
        unchecked = " (a claim not verified here)" if r.get("not_verified") else ""
        # A TLB rung's total includes where its data sits; what the translation adds is the
        # difference from the same-size control (the packed chase).
        translation = (f" (translation +{format_ns(r['translation_penalty_ns'])})"
                       if r.get("family") == "tlb" and r.get("translation_penalty_ns") is not None else "")
        ax.text(hi * 1.15, y, format_ns(r["median_ns"]) + translation + unchecked, va="center", fontsize=8,
                color="#222222")
        labels.append(f"{r['id']}\n{_wrap(r['label'], LABEL_CHARS, None)}")
        if grouped and y and rungs[y - 1].get("family") != r.get("family"):
            ax.axhline(y - 0.5, color="#cccccc", lw=0.6)
    if grouped:
        present = [f for f in FAMILY_COLOURS if any(r.get("family") == f for r in rungs)]
        handles = [plt.Line2D([], [], color=FAMILY_COLOURS[f], marker="o", ls="none", label=FAMILY_NAMES.get(f, f))
                   for f in present]
        # Outside the axes, where no rung or textbook band can sit under it.
        ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), title="family",
                  title_fontsize=7, frameon=False)
    if invalid or skipped:
        ax.axhline(len(rungs) - 0.5, color="#999999", lw=0.6)
    for i, r in enumerate(invalid):
        ax.text(lo_s * 1.3, len(rungs) + i, _wrap(f"INVALID (no time shown): {r['why_invalid']}", REASON_CHARS, None),
                va="center", fontsize=7, color=INVALID_COLOUR)
        labels.append(f"{r['id']}\n{_wrap(r['label'], LABEL_CHARS, None)}")
    for i, s in enumerate(skipped):
        y = len(rungs) + len(invalid) + i
        ax.text(lo_s * 1.3, y, _wrap("skipped: " + s["reason"], REASON_CHARS, None), va="center", fontsize=7,
                color="#777777", style="italic")
        # A skipped series of a measured benchmark (the TLB sweep's hugetlb points) is named
        # for itself, not for its benchmark, which was measured.
        series = _series(s)
        labels.append(f"{series}\n(series skipped)" if series and not s.get("rung")
                      else f"{s.get('rung') or s.get('benchmark')}\n(not measured)")
    ax.set_yticks(range(rows), labels=labels, fontsize=7)
    ax.set_ylim(-0.7, rows - 0.3)
    ax.set_xlabel("time per event, log scale; dot = the median over every repetition of its mean time "
                  "per event;\nwhiskers = fastest and slowest repetition", fontsize=8)
    ax.set_title(title, loc="left", fontsize=11, pad=20)
    fig.text(0.01, 0.06 / height, _wrap(footer_text(block), 190, None), fontsize=6, color="#555555", ha="left",
             va="bottom")
    save(fig, stem)

def draw_lifecycle(run, stem):
    """lifecycle.svg/png: the chapter's experiment, virtual size against resident size."""
    data = run["pageladder"].get("demand_paging")
    if not data:
        return False
    style()
    samples = data["samples"]
    fig, ax = figure(9.0, 4.6)
    # x: pages touched, in units of 256 pages; the stages before and after stand a little apart.
    span = data["pages"] / 256
    stage_x = {"before malloc": -0.12 * span, "after malloc": 0.0, "after touching": span,
               "after free": 1.12 * span}
    x = [stage_x.get(s["stage"], s["pages_touched"] / 256) for s in samples]
    handles = ax.plot(x, [s["vm_size_kib"] / 1024 for s in samples], color="#0072B2", lw=1.6,
                      label="VmSize (virtual)")
    handles += ax.plot(x, [s["vm_rss_kib"] / 1024 for s in samples], color="#D55E00", lw=1.6,
                       label="VmRSS (resident)")
    faults = ax.twinx()
    handles += faults.plot(x, [s["minor_faults"] - samples[0]["minor_faults"] for s in samples], color="#009E73",
                lw=1, ls="--", label="minor faults since start")
    faults.set_ylabel("minor faults since start", color="#009E73")
    faults.spines["right"].set_visible(True)
    for xi, s in zip(x, samples):
        if s["stage"] != "touching":
            ax.axvline(xi, color="#cccccc", lw=0.8)
            ax.text(xi, 0.5, f" {s['stage']}", transform=ax.get_xaxis_transform(), rotation=90,
                    fontsize=7, ha="right", va="center", color="#444444")
    ax.set_xticks([])
    ax.set_xlabel(f"one write per 4 KiB page across {data['size_bytes'] >> 20} MiB "
                  f"(a sample every 256 pages)")
    ax.set_ylabel("MiB")
    ax.legend(handles=handles, fontsize=7, loc="lower center")
    ax.set_title(f"Demand paging: {data['touch_minor_faults']:,} minor faults for {data['pages']:,} pages",
                 loc="left", fontsize=11, pad=18)
    fig.text(0.01, 0.01, footer_text(run["pageladder"]), fontsize=6, color="#555555")
    save(fig, stem)
    return True
