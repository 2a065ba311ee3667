"""Two or more runs side by side: per rung, each run's median and spread, the ratio to the first
run, and whether the difference is significant (the Mann-Whitney U test over repetitions that
Google Benchmark's compare.py runs, through Debian's libbenchmark-tools); plus every setting
that differs between the runs, so a kernel comparison shows at once what else changed."""
import math
import sys
from pathlib import Path

from pageladder import registry
from pageladder.ladder import TIME_UNIT_NS, iteration_rows
from pageladder.units import format_ns

ALPHA = 0.05
GBENCH_DIR = "/usr/share/benchmark"  # Debian's libbenchmark-tools


def _utest():
    """Google Benchmark's own U test (gbench.report.calc_utest), or scipy's, or None."""
    if GBENCH_DIR not in sys.path:
        sys.path.append(GBENCH_DIR)
    try:
        from gbench.report import calc_utest

        def test(a, b):
            _, _, time_p = calc_utest([a, b], [a, b])
            return time_p
        return test
    except ImportError:
        pass
    try:
        from scipy.stats import mannwhitneyu

        def test(a, b):
            return mannwhitneyu(a, b, alternative="two-sided").pvalue
        return test
    except ImportError:
        return None


def repetitions(run, rung):
    """Per-repetition ns of a rung in a run, from the rows its ladder entry names."""
    source = rung["source"].split(":", 1)[1]
    return [float(r["real_time"]) * TIME_UNIT_NS[r.get("time_unit", "ns")]
            for r in iteration_rows(run["benchmarks"])
            if r.get("run_name", r["name"]) == source and not r.get("error_occurred")]


def fingerprint_differences(runs):
    """[(field, [value per run])] for every fingerprint field that is not the same in all runs,
    plus how each run was made (quick or full: different repetitions and sweep points)."""
    prints = [dict(run["pageladder"].get("fingerprint") or {},
                   run_mode="quick" if (run["pageladder"].get("harness") or {}).get("quick") else "full")
              for run in runs]
    fields = sorted(set().union(*prints))
    return [(f, [p.get(f) for p in prints]) for f in fields if len({repr(p.get(f)) for p in prints}) > 1]


def compare(runs):
    """The comparison as data: rows per rung (union, in ladder order) and the differences."""
    test = _utest()
    order = {r.id: i for i, r in enumerate(registry.RUNGS)}
    ids = sorted({r["id"] for run in runs for r in run["pageladder"]["ladder"]} |
                 {s.get("rung") for run in runs for s in run["pageladder"]["skipped"] if s.get("rung")},
                 key=lambda i: (order.get(i, len(order)), i))
    rows = []
    for rung_id in ids:
        cells = []
        for run in runs:
            entry = next((r for r in run["pageladder"]["ladder"] if r["id"] == rung_id), None)
            skip = next((s for s in run["pageladder"]["skipped"] if s.get("rung") == rung_id), None)
            if entry is None:
                cells.append({"state": "missing", "why": skip["reason"] if skip else "not measured"})
            elif not entry["valid"]:
                cells.append({"state": "invalid", "why": entry["why_invalid"], "entry": entry})
            else:
                cells.append({"state": "ok", "entry": entry, "samples": repetitions(run, entry)})
        base = cells[0]
        for cell in cells[1:]:
            cell["ratio"] = cell["p_value"] = None
            if base["state"] == "ok" and cell["state"] == "ok":
                cell["ratio"] = cell["entry"]["median_ns"] / base["entry"]["median_ns"]
                if test and len(base["samples"]) >= 2 and len(cell["samples"]) >= 2:
                    p = test(base["samples"], cell["samples"])
                    cell["p_value"] = None if p is None or math.isnan(p) else float(p)
            cell["significant"] = cell["p_value"] is not None and cell["p_value"] < ALPHA
        label = next((r["label"] for run in runs for r in run["pageladder"]["ladder"] if r["id"] == rung_id),
                     registry.RUNG_BY_ID[rung_id].label if rung_id in registry.RUNG_BY_ID else rung_id)
        rows.append({"id": rung_id, "label": label, "cells": cells})
    return {"run_ids": [run["pageladder"]["run_id"] for run in runs], "rows": rows,
            "differences": fingerprint_differences(runs), "utest": test is not None}


def _cell_text(cell):
    if cell["state"] == "missing":
        return f"not measured ({cell['why']})"
    if cell["state"] == "invalid":
        return f"**invalid** ({cell['why']})"
    e = cell["entry"]
    return f"{format_ns(e['median_ns'])} [{format_ns(e['lo_ns'])} – {format_ns(e['hi_ns'])}]"


def _verdict(cell):
    if cell.get("ratio") is None:
        return "–"
    if cell["p_value"] is None:
        return "no U test"
    word = "slower" if cell["ratio"] > 1 else "faster"
    return f"**{word}** (p={cell['p_value']:.3f})" if cell["significant"] else f"not significant (p={cell['p_value']:.2f})"


def render_markdown(result, runs):
    ids = result["run_ids"]
    lines = [f"# pageladder comparison: {' vs '.join(f'`{i}`' for i in ids)}", ""]
    if result["differences"]:
        lines += ["**Settings that differ between the runs** (any of these can change the costs, not "
                  "only what you meant to compare):", "", "| setting | " + " | ".join(f"`{i}`" for i in ids) + " |",
                  "|---|" + "---|" * len(ids)]
        for field, values in result["differences"]:
            lines.append(f"| {field} | " + " | ".join(f"`{v}`" for v in values) + " |")
    else:
        lines.append("The runs' recorded settings (CPU, microcode, kernel and command line, THP, "
                     "mitigations, virtualization, swap, page-cluster, timer) are identical.")
    lines += ["", f"Ratios are medians relative to `{ids[0]}`; significance is Google Benchmark's "
              f"Mann–Whitney U test over repetitions at α = {ALPHA}"
              + ("" if result["utest"] else " (unavailable: install libbenchmark-tools / python3-scipy)") + ".", ""]
    header = "| rung | " + " | ".join(f"`{i}`" for i in ids) + " | " + \
             " | ".join(f"ratio {k + 2}/1 | verdict" for k in range(len(ids) - 1)) + " |"
    lines += [header, "|---|" + "---:|" * len(ids) + "---:|---|" * (len(ids) - 1)]
    for row in result["rows"]:
        cells = row["cells"]
        extra = " | ".join(f"{'×%.3f' % c['ratio'] if c.get('ratio') else '–'} | {_verdict(c)}" for c in cells[1:])
        lines.append(f"| `{row['id']}` | " + " | ".join(_cell_text(c) for c in cells) + f" | {extra} |")
    lines.append("")
    return "\n".join(lines)


def output_dir(results_root, runs):
    return Path(results_root) / ("compare-" + "-vs-".join(r["pageladder"]["run_id"] for r in runs))
