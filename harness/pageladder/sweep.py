"""The TLB sweep: ns per load against pages touched, per layout, from tlb_bench's rows, and what
is read off it. derive() runs once, when a run is collected; charts and report read its result
from run.json (pageladder.derived.tlb), so redrawing an old run shows what was found then."""
import re
import statistics

from pageladder.benchmark_json import iteration_rows, row_ns

_SWEEP = re.compile(r"^tlb_sweep/(?P<layout>[^/]+)/pages:(?P<pages>\d+)")
LAYOUT_LABELS = {"4k": "4 KiB pages", "thp": "2 MiB THP", "hugetlb": "2 MiB hugetlb",
                 "control": "control: same lines packed into few pages"}


def series(rows):
    """{layout: [(pages, median ns, min ns, max ns, valid)]} sorted by pages."""
    points = {}
    for row in iteration_rows(rows):
        m = _SWEEP.match(row.get("run_name", row["name"]))
        if not m or row.get("error_occurred"):
            continue
        points.setdefault(m["layout"], {}).setdefault(int(m["pages"]), []).append(row)
    out = {}
    for layout, by_pages in points.items():
        out[layout] = []
        for pages in sorted(by_pages):
            reps = by_pages[pages]
            times = [row_ns(r) for r in reps]
            out[layout].append((pages, statistics.median(times), min(times), max(times),
                                all(r.get("valid") == 1 for r in reps)))
    return out


def reaches(ladder):
    """Measured TLB reaches and CPUID's claims, from the TLB rungs' details."""
    # Any TLB rung carries them (the binary adds its sweep's knees and CPUID's sizes to each).
    rung = next((r for r in ladder if "cpuid_l1_dtlb_entries" in r), None)
    if rung is None:
        return None
    out = {}
    for level, cpuid in (("l1_dtlb", "cpuid_l1_dtlb_entries"), ("stlb", "cpuid_l2_dtlb_entries")):
        lo, hi = rung.get(f"{level}_reach_pages"), rung.get(f"{level}_reach_next_pages")
        out[level] = {"measured": (lo, hi) if lo and hi else None, "cpuid": rung.get(cpuid) or None}
    return out


def huge_page_observation(curves):
    """A sentence comparing the 2 MiB curve with the 4 KiB one where both were measured."""
    small, huge = dict((p[0], p[1]) for p in curves.get("4k", [])), dict((p[0], p[1]) for p in curves.get("thp", []))
    common = sorted(set(small) & set(huge))
    if len(common) < 4:
        return None
    ratios = [huge[n] / small[n] for n in common if small[n] > 0]
    mid = ratios[len(ratios) // 2:]  # the larger half of the sweep, where translation matters
    mean = sum(mid) / len(mid)
    if mean > 0.85:
        return ("On 2 MiB THP the chase costs about as much as on 4 KiB pages (ratio "
                f"{mean:.2f} over the larger half of the sweep): huge pages did not extend the TLB "
                "reach here. In a virtual machine this is what happens when the host backs guest "
                "memory with 4 KiB pages: the TLB caches the smaller of the two page sizes.")
    return (f"On 2 MiB THP the chase costs {mean:.2f}x the 4 KiB cost over the larger half of the "
            "sweep: huge pages extend the TLB reach.")


def derive(benchmarks, ladder):
    """run.json's pageladder.derived.tlb: the sweep's curves, the reaches and the huge-page
    observation; None when the run has no sweep."""
    curves = series(benchmarks)
    if not curves:
        return None
    return {
        "curves": {layout: [{"pages": p[0], "median_ns": p[1], "lo_ns": p[2], "hi_ns": p[3], "valid": p[4]}
                            for p in points] for layout, points in curves.items()},
        "reach": reaches(ladder),
        "huge_page_observation": huge_page_observation(curves),
    }
