"""tlb_sweep.svg (ns per load against pages touched, the TLB reaches shaded) and scaling.svg (a
fault's p50 and p99 and every thread's faults per second against threads faulting)."""
import math

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

from pageladder.charts.common import INVALID_COLOUR, style, footer_text, figure, save  # noqa: E402


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
