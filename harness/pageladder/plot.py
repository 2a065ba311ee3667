"""ladder.svg / ladder.png: every rung on one logarithmic time axis, ns to ms.

Dots are medians over repetitions, whiskers min-max; invalid rungs are drawn hollow in red with
their reason and no value, skipped rungs are listed with theirs. The SVG is deterministic (fixed
hash salt, no date), so the same run.json draws byte-identical files.
"""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from pageladder.units import format_ns  # noqa: E402

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
CATEGORY_COLOURS = {
    "tlb": "#0072B2",
    "fault": "#009E73",
    "cow": "#E69F00",
    "file": "#56B4E9",
    "swap": "#CC79A7",
    "reference": "#555555",
}
INVALID_COLOUR = "#D55E00"
UNIT_BANDS = ((1e-9, 1e-6, "nanoseconds"), (1e-6, 1e-3, "microseconds"), (1e-3, 1.0, "milliseconds"))
# The chapter's textbook ladder (../shared/seed/page-faults-chapter.txt): quoted, not measured.
TEXTBOOK = (("TLB hit ~1 ns", 0.7e-9, 1.4e-9), ("minor fault 1-10 µs", 1e-6, 10e-6),
            ("major fault 5-10 ms", 5e-3, 10e-3))


def style():
    plt.rcParams.update({
        "svg.hashsalt": "pageladder",
        "svg.fonttype": "path",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def footer_text(block):
    m, k, s = block["machine"], block["kernel"], block["settings"]
    return (f"{block['run_id']} · {m.get('cpu_model')} · {m.get('cpus')} CPUs · kernel {k.get('release')} · "
            f"virt {s.get('virtualization', '?')} · THP {(s.get('thp') or {}).get('enabled')} · "
            f"timer {s.get('timer')} · pageladder schema {block['schema_version']}")


def figure(width, height):
    """A figure with room kept at the bottom for the provenance footer."""
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.25 / height, 1, 1 - 0.25 / height))
    return fig, ax


def save(fig, stem):
    fig.savefig(f"{stem}.svg", metadata={"Date": None})
    fig.savefig(f"{stem}.png", dpi=150, metadata={"Software": None})
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
    style()
    block = run["pageladder"]
    rungs = sorted(block["ladder"], key=lambda r: r["median_ns"])
    skipped = [s for s in block["skipped"]]
    rows = len(rungs) + len(skipped)
    height = 2.4 + 0.36 * max(rows, 1)
    fig, ax = figure(11.0, height)
    lo_s, hi_s = axis_limits([v for r in rungs for v in (r["lo_ns"], r["hi_ns"])])
    draw_time_axis(ax, lo_s, hi_s)

    labels = []
    for y, r in enumerate(rungs):
        med, lo, hi = r["median_ns"] * 1e-9, r["lo_ns"] * 1e-9, r["hi_ns"] * 1e-9
        colour = CATEGORY_COLOURS.get(r.get("category"), "#333333")
        if r["valid"]:
            ax.errorbar([med], [y], xerr=[[med - lo], [hi - med]], fmt="o", color=colour, ms=6,
                        capsize=3, lw=1.2)
            ax.text(hi * 1.15, y, format_ns(r["median_ns"]), va="center", fontsize=8, color="#222222")
        else:
            ax.plot([med], [y], marker="X", ms=8, mfc="none", mec=INVALID_COLOUR, ls="none")
            ax.text(med * 1.3, y, f"INVALID: {_shorten(r['why_invalid'])}", va="center", fontsize=7,
                    color=INVALID_COLOUR)
        labels.append(f"{r['id']}\n{_wrap(r['label'])}")
    for i, s in enumerate(skipped):
        y = len(rungs) + i
        ax.text(lo_s * 1.3, y, "skipped: " + _wrap(s["reason"], 90, 2), va="center", fontsize=7,
                color="#777777", style="italic")
        labels.append(f"{s.get('rung') or s.get('benchmark')}\n(not measured)")
    ax.set_yticks(range(rows), labels=labels, fontsize=6.5)
    ax.set_ylim(-0.7, rows - 0.3)
    ax.set_xlabel("time per event (log scale; dot = median over repetitions, whiskers = min-max)")
    ax.set_title("What the virtual-memory system costs on this machine", loc="left", fontsize=11, pad=20)
    fig.text(0.01, 0.06 / height, footer_text(block), fontsize=6, color="#555555", ha="left", va="bottom")
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


RUN_STYLES = (("#0072B2", "o"), ("#E69F00", "s"), ("#009E73", "^"), ("#CC79A7", "D"))
SLOWER, FASTER, NEUTRAL = "#D55E00", "#0072B2", "#888888"


def draw_compare(result, runs, stem):
    """compare.svg/png: each rung's medians (min-max whiskers) per run on one log axis, joined,
    with the ratio to the first run beside it, coloured only where the U test says significant."""
    style()
    rows = result["rows"]
    n = max(len(rows), 1)
    differences = result["differences"]
    height = 2.6 + 0.34 * n + 0.14 * len(differences)
    fig, ax = figure(11.0, height)
    values = [c["entry"][k] for r in rows for c in r["cells"] if c["state"] == "ok" for k in ("lo_ns", "hi_ns")]
    lo_s, hi_s = axis_limits(values)
    draw_time_axis(ax, lo_s, hi_s, textbook=False)
    for y, row in enumerate(rows):
        points = []
        for k, cell in enumerate(row["cells"]):
            colour, marker = RUN_STYLES[k % len(RUN_STYLES)]
            offset = (k - (len(row["cells"]) - 1) / 2) * 0.18
            if cell["state"] == "ok":
                e = cell["entry"]
                med = e["median_ns"] * 1e-9
                ax.errorbar([med], [y + offset], xerr=[[med - e["lo_ns"] * 1e-9], [e["hi_ns"] * 1e-9 - med]],
                            fmt=marker, color=colour, ms=5, capsize=2, lw=1)
                points.append((med, y + offset))
            else:
                word = "invalid" if cell["state"] == "invalid" else "not measured"
                ax.text(lo_s * 1.3, y + offset, f"run {k + 1}: {word}", fontsize=6, va="center",
                        color=INVALID_COLOUR if cell["state"] == "invalid" else "#777777", style="italic")
        if len(points) > 1:
            ax.plot([p[0] for p in points], [p[1] for p in points], color="#bbbbbb", lw=0.8, zorder=0)
        texts = []
        for cell in row["cells"][1:]:
            if cell.get("ratio") is None:
                texts.append(("–", NEUTRAL))
            else:
                colour = (SLOWER if cell["ratio"] > 1 else FASTER) if cell["significant"] else NEUTRAL
                texts.append((f"×{cell['ratio']:.2f}" + ("" if cell["significant"] else " (n.s.)"), colour))
        for k, (text, colour) in enumerate(texts):
            ax.text(1.01 + 0.07 * k, y, text, transform=ax.get_yaxis_transform(), va="center",
                    fontsize=7, color=colour, clip_on=False)
    ax.set_yticks(range(len(rows)), labels=[r["id"] for r in rows], fontsize=7)
    ax.set_ylim(-0.7, n - 0.3)
    handles = [plt.Line2D([], [], color=c, marker=m, ls="none", label=f"run {k + 1}: {rid}")
               for k, (rid, (c, m)) in enumerate(zip(result["run_ids"], RUN_STYLES))]
    ax.legend(handles=handles, fontsize=6.5, loc="upper left", bbox_to_anchor=(0, -0.06 - 0.25 / height),
              ncol=1, frameon=False)
    title = "pageladder comparison (ratio to run 1; coloured only where significant, U test p < 0.05)"
    ax.set_title(title, loc="left", fontsize=10, pad=20)
    if differences:
        diff = "; ".join(f"{f}: " + " / ".join(str(v) for v in vals) for f, vals in differences)
        fig.text(0.01, 1 - 0.02 / height, _wrap("Settings differ: " + diff, 190, 6), fontsize=6.5,
                 color=INVALID_COLOUR, va="top")
    ax.set_xlabel("time per event (log scale; marker = median, whiskers = min-max)")
    fig.text(0.01, 0.04 / height, "\n".join(f"run {k + 1}: {footer_text(r['pageladder'])}"
                                             for k, r in enumerate(runs)),
             fontsize=5.5, color="#555555", ha="left", va="bottom")
    save(fig, stem)


SWEEP_STYLES = {"4k": ("#0072B2", "o", "-"), "thp": ("#009E73", "s", "-"),
                "hugetlb": ("#CC79A7", "^", "-"), "control": ("#555555", ".", "--")}


def draw_tlb_sweep(run, stem):
    """tlb_sweep.svg/png: ns per load against pages touched, with the measured reaches."""
    from pageladder import sweep

    curves = sweep.series(run["benchmarks"])
    if not curves:
        return False
    style()
    block = run["pageladder"]
    fig, ax = figure(9.0, 5.0)
    for layout in ("4k", "thp", "hugetlb", "control"):
        points = curves.get(layout)
        if not points:
            continue
        colour, marker, line = SWEEP_STYLES[layout]
        pages = [p[0] for p in points]
        ax.plot(pages, [p[1] * 1e-9 for p in points], color=colour, marker=marker, ls=line, ms=4,
                lw=1.2, label=sweep.LAYOUT_LABELS[layout])
        ax.fill_between(pages, [p[2] * 1e-9 for p in points], [p[3] * 1e-9 for p in points],
                        color=colour, alpha=0.15, lw=0)
        bad = [p for p in points if not p[4]]
        if bad:
            ax.plot([p[0] for p in bad], [p[1] * 1e-9 for p in bad], "X", color=INVALID_COLOUR,
                    ms=7, ls="none", label="invalid point")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.EngFormatter(unit="s", sep="\N{THIN SPACE}"))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    reach = sweep.reaches(block["ladder"]) or {}
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


def _wrap(text, width=46, lines=2):
    import textwrap

    return "\n".join(textwrap.wrap(text or "", width, max_lines=lines, placeholder="…"))


def _shorten(text, limit=70):
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"
