"""A lab's picture: every side of a comparison of more than two against the first, in one table
(matrix.md, matrix.json) and one chart (matrix.svg/png); with ORDER=kernel, the sides in kernel
order and each headline rung across the kernels (kernels.svg/png).

mmtests' compare-kernels and LKP present a kernel history this way: a row per benchmark, a
column per kernel, each cell the change against the baseline with whether it is significant.
Here a cell is B/A of compare's own verdict (compare.py: the same ratio, interval, noise band
and adjustment as the pairwise files beside it), so a cell is coloured only where that verdict
is faster or slower, and invalid, missing and not comparable cells say so instead of a number.
"""
import re

SCHEMA_VERSION = 1
MARKS = {"invalid": "invalid", "missing": "–", "not comparable": "n/c", "undecided": "?"}


def side_name(side_runs, all_runs):
    """What tells a side from the others, in a few words: its kernel where every run is on one
    machine, its machine and kernel otherwise (the first run's; '+N' for more runs)."""
    block = side_runs[0]["pageladder"]
    kernel = block["kernel"].get("release", "?")
    machines = {(r["pageladder"]["machine"].get("hostname"), r["pageladder"]["machine"].get("cpu_model"))
                for r in all_runs}
    name = kernel if len(machines) == 1 else f"{block['machine'].get('hostname')} {kernel}"
    return name + (f" +{len(side_runs) - 1}" if len(side_runs) > 1 else "")


def kernel_key(release):
    """Sort key of a kernel release: its numbers in order ('6.1.0-50-amd64' before '6.12.3')."""
    return [int(n) for n in re.findall(r"\d+", release or "")] or [float("inf")]


def build(result, sides):
    """The matrix as data, from compare.compare's result over `sides` (lists of runs)."""
    runs = [run for side in sides for run in side]
    names = [side_name(side, runs) for side in sides]
    # Sides on one machine and kernel are told apart by when their first run was made.
    names = [f"{name} ({'-'.join(side[0]['pageladder']['run_id'].split('-')[:2])})" if names.count(name) > 1
             else name for name, side in zip(names, sides)]
    rungs = []
    for k, rung_id in enumerate(r["id"] for r in result["comparisons"][0]["rungs"]):
        cells = []
        for comparison in result["comparisons"]:
            row = comparison["rungs"][k]
            cells.append({"ratio": row["ratio"], "ci_lo": row["ci_lo"], "ci_hi": row["ci_hi"],
                          "b_median_ns": row["b_median_ns"], "verdict": row["verdict"], "why": row["why"]})
        baseline = next((row["a_median_ns"] for row in (c["rungs"][k] for c in result["comparisons"])
                         if row["a_median_ns"] is not None), None)
        rungs.append({"id": rung_id, "label": result["labels"][rung_id], "baseline_ns": baseline,
                      "cells": cells})
    return {"schema_version": SCHEMA_VERSION, "sides": [{"name": n, "runs": ids}
                                                       for n, ids in zip(names, result["sides"])],
            "differing_settings": [{"setting": f, "values": v} for f, v in result["differences"]],
            "rungs": rungs}


def why_no_kernel_chart(matrix, headline_ids):
    """Why kernels.svg has nothing to draw: no headline rung has a baseline time the other sides'
    are set against (a guest's emulated times against hardware, say, compare only validity)."""
    whys = [cell["why"] for rung in matrix["rungs"] if rung["id"] in headline_ids
            for cell in rung["cells"] if cell["verdict"] == "not comparable" and cell["why"]]
    return ("no headline rung has a time comparable across these sides"
            + (f" (the first says: {whys[0]})" if whys else ""))


def _cell_text(cell):
    if cell["ratio"] is None:
        return MARKS.get(cell["verdict"], cell["verdict"])
    text = f"×{cell['ratio']:.3f}"
    return f"**{text}** {cell['verdict']}" if cell["verdict"] in ("faster", "slower") else text


def render_markdown(matrix):
    from pageladder.units import format_ns

    sides = matrix["sides"]
    lines = [f"# pageladder matrix: {len(sides)} sides against `{sides[0]['name']}`", "",
             "Each cell is the side's median over the baseline's (first column), with compare's verdict: "
             "**bold** where it is faster or slower beyond the noise and after the adjustment over every "
             "rung (`compare-*` beside this file has each pair's intervals); `invalid`, `–` (missing) and "
             "`n/c` (not comparable) where there is no ratio to give.", ""]
    for side in sides:
        lines.append(f"- `{side['name']}`: " + ", ".join(f"`{r}`" for r in side["runs"]))
    if matrix["differing_settings"]:
        lines += ["", "**Settings that differ between the runs:** " + "; ".join(
            f"{d['setting']} " + " / ".join(f"`{v}`" for v in d["values"]) for d in matrix["differing_settings"])]
    header = ["rung", f"`{sides[0]['name']}`"] + [f"`{s['name']}`" for s in sides[1:]]
    lines += ["", "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for rung in matrix["rungs"]:
        lines.append(f"| `{rung['id']}` | {format_ns(rung['baseline_ns'])} | "
                     + " | ".join(_cell_text(c) for c in rung["cells"]) + " |")
    return "\n".join(lines) + "\n"
