"""ladder.svg / ladder.png: every rung on one logarithmic time axis, ns to ms.

Dots are medians over repetitions, whiskers min-max; invalid rungs are drawn hollow in red with
their reason and no value, skipped rungs are listed with theirs. The SVG is deterministic (fixed
hash salt, no date), so the same run.json draws byte-identical files.
"""
import math

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from pageladder import ladder, metadata, safe_io  # noqa: E402
from pageladder import rows as row_descriptions  # noqa: E402
from pageladder.units import format_ns  # noqa: E402

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
FAMILY_COLOURS = {
    "tlb": "#0072B2",
    "anonymous": "#009E73",
    "cow": "#E69F00",
    "file": "#56B4E9",
    "swap": "#CC79A7",
    "signals": "#000000",
    "reference": "#555555",
}
FAMILY_NAMES = {"tlb": "TLB", "anonymous": "anonymous memory", "cow": "copy-on-write",
                "file": "file mappings", "swap": "swap", "signals": "signals and userfaults",
                "reference": "references"}
INVALID_COLOUR = "#D55E00"
UNIT_BANDS = ((1e-9, 1e-6, "nanoseconds"), (1e-6, 1e-3, "microseconds"), (1e-3, 1.0, "milliseconds"))
# The chapter's textbook ladder, quoted, not measured (sources: docs/sources.md).
TEXTBOOK = (("TLB hit ~1 ns", 0.7e-9, 1.4e-9), ("minor fault 1-10 µs", 1e-6, 10e-6),
            ("major fault 5-10 ms", 5e-3, 10e-3))


def style():
    plt.rcParams.update({
        "svg.hashsalt": "pageladder",
        "svg.fonttype": "none",  # text stays text: searchable, selectable, small
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def footer_text(block):
    m, k, s = block["machine"], block["kernel"], block["settings"]
    emulated = metadata.emulation(s)
    return ((f"TIMES EMULATED ({emulated}) · " if emulated else "") + f"{block['run_id']} · {m.get('cpu_model')} · {m.get('cpus')} CPUs · kernel {k.get('release')} · "
            f"virt {s.get('virtualization', '?')} · THP {(s.get('thp') or {}).get('enabled')} · "
            f"timer {s.get('timer')} · pageladder schema {block['schema_version']}")


def figure(width, height):
    """A figure with room kept at the bottom for the provenance footer."""
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.25 / height, 1, 1 - 0.25 / height))
    return fig, ax


def save(fig, stem):
    """stem.svg and stem.png, each written whole (a temporary name, then a rename)."""
    with safe_io.atomic_path(f"{stem}.svg") as tmp:
        fig.savefig(tmp, format="svg", metadata={"Date": None})
    with safe_io.atomic_path(f"{stem}.png") as tmp:
        fig.savefig(tmp, format="png", dpi=150, metadata={"Software": None})
    plt.close(fig)


def draw_time_axis(ax, lo_s, hi_s, textbook=True):
    """Log x-axis in seconds from lo_s to hi_s, unit bands shaded and named, textbook marks."""
    ax.set_xscale("log")
    ax.set_xlim(lo_s, hi_s)
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10))
    ax.xaxis.set_minor_locator(ticker.LogLocator(base=10, subs=range(2, 10)))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.xaxis.set_major_formatter(ticker.EngFormatter(unit="s", sep="\N{THIN SPACE}"))
    for i, (a, b, name) in enumerate(UNIT_BANDS):
        if b <= lo_s or a >= hi_s:
            continue
        ax.axvspan(max(a, lo_s), min(b, hi_s), color="#000000", alpha=0.035 if i % 2 == 0 else 0.0, lw=0)
        centre = math.sqrt(max(a, lo_s) * min(b, hi_s))
        ax.text(centre, 1.01, name, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=8, color="#444444")
    if textbook:
        # A hatched strip along the bottom: visibly not a measurement.
        for label, a, b in TEXTBOOK:
            if a < hi_s and b > lo_s:
                ax.axvspan(a, b, ymin=0, ymax=0.035, facecolor="none", edgecolor="#999999",
                           hatch="////", lw=0.5)
                ax.text(math.sqrt(a * b), 0.045, f"textbook: {label}\n(quoted, not measured)",
                        transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=6,
                        color="#777777")
    ax.grid(axis="x", which="major", color="#dddddd", lw=0.6)


def axis_limits(values_ns):
    """Whole decades covering the values and always 1 ns to 10 ms: the chapter's whole ladder."""
    lo = min([1.0] + [v / 2 for v in values_ns if v > 0]) * 1e-9
    hi = max([1e7] + [v * 3 for v in values_ns]) * 1e-9
    return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))


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


SWEEP_STYLES = {"4k": ("#0072B2", "o", "-"), "thp": ("#009E73", "s", "-"),
                "hugetlb": ("#CC79A7", "^", "-"), "control": ("#555555", ".", "--")}


def draw_tlb_sweep(run, stem):
    """tlb_sweep.svg/png: ns per load against pages touched, with the measured reaches."""
    from pageladder import sweep

    block = run["pageladder"]
    tlb = (block.get("derived") or {}).get("tlb")
    if not tlb:
        return False
    curves = {layout: [(p["pages"], p["median_ns"], p["lo_ns"], p["hi_ns"], p["valid"]) for p in points]
              for layout, points in tlb["curves"].items()}
    style()
    fig, ax = figure(9.0, 5.0)
    for layout in ("4k", "thp", "hugetlb", "control"):
        points = curves.get(layout)
        if not points:
            continue
        colour, marker, line = SWEEP_STYLES[layout]
        good = [p for p in points if p[4]]
        pages = [p[0] for p in good]
        ax.plot(pages, [p[1] * 1e-9 for p in good], color=colour, marker=marker, ls=line, ms=4,
                lw=1.2, label=sweep.LAYOUT_LABELS[layout])
        ax.fill_between(pages, [p[2] * 1e-9 for p in good], [p[3] * 1e-9 for p in good],
                        color=colour, alpha=0.15, lw=0)
        # Only valid points have a time; an invalid one is marked at the bottom, at its size.
        bad = [p for p in points if not p[4]]
        if bad:
            ax.plot([p[0] for p in bad], [0.02] * len(bad), "X", color=INVALID_COLOUR, ms=7, ls="none",
                    transform=ax.get_xaxis_transform(), label="invalid point (no time)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.EngFormatter(unit="s", sep="\N{THIN SPACE}"))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    reach = tlb.get("reach") or {}
    names = {"l1_dtlb": "L1 DTLB", "stlb": "second-level TLB"}
    for level, info in reach.items():
        if info["measured"]:
            lo, hi = info["measured"]
            ax.axvspan(lo, hi, color="#E69F00", alpha=0.25, lw=0)
            ax.text(math.sqrt(lo * hi), 1.0, f"{names[level]} reach\n{lo:.0f}-{hi:.0f} pages",
                    transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7)
        if info["cpuid"]:
            ax.axvline(info["cpuid"], color="#999999", ls=":", lw=1)
            ax.text(info["cpuid"], 0.02, f" CPUID: {info['cpuid']:.0f}", rotation=90,
                    transform=ax.get_xaxis_transform(), fontsize=6, color="#777777", va="bottom")
    ax.set_xlabel("pages touched by the pointer chase (one cache line per page)")
    ax.set_ylabel("time per dependent load (median; band = min-max)")
    ax.set_title("TLB reach: cost of a load against pages touched", loc="left", fontsize=11)
    ax.grid(which="major", color="#dddddd", lw=0.6)
    ax.legend(fontsize=7, loc="lower right")
    fig.text(0.01, 0.01, footer_text(block), fontsize=6, color="#555555", ha="left", va="bottom")
    save(fig, stem)
    return True


# The fault scaling rows (fault_scaling_bench): how the others share with the timed thread.
SCALING_STYLES = {"shared_vma": ("#D55E00", "o", "threads, one VMA"),
                  "own_vma": ("#0072B2", "s", "threads, a VMA each"),
                  "processes": ("#009E73", "^", "processes")}


def scaling_points(block):
    """{sharing: [(threads, p50_ns, p99_ns, faults per s per thread, valid)]} of a run's fault
    scaling rungs, the lone thread's rung the first point of every curve; {} without them."""
    entries = {r["id"]: r for r in block["ladder"] if r["id"].startswith("fault_scaling_")}
    alone = entries.get("fault_scaling_1")
    curves = {}
    for sharing in SCALING_STYLES:
        points = [alone] if alone else []
        points += sorted((e for i, e in entries.items() if i.startswith(f"fault_scaling_{sharing}_")),
                         key=lambda e: e.get("threads") or 0)
        if len(points) > (1 if alone else 0):
            curves[sharing] = [(e.get("threads") or 1, e.get("p50_ns"), e.get("p99_ns"),
                                e.get("faults_per_s_per_thread"), e["valid"]) for e in points]
    return curves


def draw_scaling(run, stem):
    """scaling.svg/png: a fault's p50 and p99 and each thread's fault rate against the number of
    threads faulting (will-it-scale's picture, with latency). False without scaling rungs."""
    block = run["pageladder"]
    curves = scaling_points(block)
    if not curves:
        return False
    style()
    fig, (latency, rate) = plt.subplots(1, 2, figsize=(9.0, 4.6), layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.25 / 4.6, 1, 1 - 0.25 / 4.6))
    for sharing, points in curves.items():
        colour, marker, label = SCALING_STYLES[sharing]
        good = [p for p in points if p[4] and p[1]]
        threads = [p[0] for p in good]
        latency.plot(threads, [p[1] * 1e-9 for p in good], color=colour, marker=marker, lw=1.4, ms=5,
                     label=f"{label}: p50")
        latency.plot(threads, [p[2] * 1e-9 if p[2] else float("nan") for p in good], color=colour,
                     marker=marker, lw=1.0, ms=3, ls="--", alpha=0.7, label=f"{label}: p99")
        rate.plot(threads, [p[3] or float("nan") for p in good], color=colour, marker=marker, lw=1.4, ms=5,
                  label=label)
        bad = [p for p in points if not p[4]]
        if bad:
            latency.plot([p[0] for p in bad], [0.02] * len(bad), "X", color=INVALID_COLOUR, ms=7, ls="none",
                         transform=latency.get_xaxis_transform(), label="invalid (no time)")
    for ax in (latency, rate):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(ticker.FixedLocator(sorted({p[0] for ps in curves.values() for p in ps})))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.set_xlabel("threads (or processes) faulting, one of them timed")
        ax.grid(which="major", color="#dddddd", lw=0.6)
    latency.set_yscale("log")
    # Log-scale ticks between decades are minor ones: both in seconds, never "4×10⁻⁵".
    latency.yaxis.set_major_formatter(ticker.EngFormatter(unit="s", sep="\N{THIN SPACE}"))
    latency.yaxis.set_minor_formatter(ticker.EngFormatter(unit="s", sep="\N{THIN SPACE}"))
    latency.set_ylabel("the timed thread's fault (per event)")
    latency.set_title("Demand-zero fault latency as threads fault", loc="left", fontsize=10)
    latency.legend(fontsize=6.5, loc="center left")  # between the p50 and p99 curves
    rate.set_ylim(bottom=0)
    rate.yaxis.set_major_formatter(ticker.EngFormatter(sep="\N{THIN SPACE}"))
    rate.set_ylabel("faults per second per thread (all of them)")
    rate.set_title("Throughput per thread (flat: it scales)", loc="left", fontsize=10)
    rate.legend(fontsize=6.5, loc="lower left")
    fig.text(0.01, 0.01, footer_text(block), fontsize=6, color="#555555", ha="left", va="bottom")
    save(fig, stem)
    return True


def _wrap(text, width=46, lines=2):
    """Text wrapped at `width`; `lines` at most (the last cut with "…"), or every line (None)."""
    import textwrap

    if lines is None:
        return "\n".join(textwrap.wrap(text or "", width))
    return "\n".join(textwrap.wrap(text or "", width, max_lines=lines, placeholder="…"))


def _shorten(text, limit=70):
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
