"""report.md: the ladder as a table, with the machine it was measured on."""
import math

from pageladder import fingerprint, ladder, safe_io, stats
from pageladder.anatomy import phase_ns
from pageladder.units import format_ns


def _fmt_count(value):
    return "n/a" if value is None else f"{value:.3f}"


def machine_summary(block):
    m, k, s = block["machine"], block["kernel"], block["settings"]
    thp = s.get("thp") or {}
    swaps = ", ".join(f"{d['name']} ({d['type']}, prio {d['priority']})" for d in s.get("swap_devices") or []) or "none"
    zswap = (s.get("zswap") or {}).get("enabled")
    return [
        ("CPU", f"{m.get('cpu_model')} ({m.get('cpus')} CPUs, microcode {m.get('microcode')})"),
        ("Memory", f"{(m.get('memory_total_kib') or 0) / 1048576:.1f} GiB, page size {s.get('page_size')} B, "
                   f"NUMA nodes {m.get('numa_nodes')}"),
        ("Kernel", f"{k.get('release')}"),
        ("Command line", f"`{k.get('cmdline')}`"),
        ("Virtualization", f"{s.get('virtualization', 'unknown')}; PTI {'on' if s.get('pti') else 'off'}, "
                           f"PCID {'yes' if m.get('pcid') else 'no'}"),
        ("THP", f"enabled {thp.get('enabled')}, defrag {thp.get('defrag')}, zero page {thp.get('use_zero_page')}"),
        ("Swap", f"{swaps}; zswap {zswap}; page-cluster {s.get('page_cluster')}; swappiness {s.get('swappiness')}"),
        ("cgroup", f"{s.get('cgroup_version')}"),
        ("Guest", fingerprint.guest_summary(s.get("guest"))),
        ("Timer", f"{s.get('timer')} ({s.get('timer_reason')}), overhead "
                  f"{format_ns(s.get('timer_overhead_ns'))} per timed event; clocksource {s.get('clocksource')}"),
        ("Hardware counters", f"{s.get('pmu')} (mode {s.get('counting_mode')}, perf_event_paranoid "
                              f"{s.get('perf_event_paranoid')})"),
    ]


# What a user can do about a skip, by what its reason says (first match wins).
REMEDIES = (
    ("hugetlb pool", "`sysctl vm.nr_hugepages=N` (N at least the pages named) measures it"),
    ("transparent huge pages are 'never'", "`echo madvise > /sys/kernel/mm/transparent_hugepage/enabled` measures it"),
    ("NO_SYSTEM_CHANGES", "run without NO_SYSTEM_CHANGES=1 to let the run change it (restored afterwards)"),
    ("needs root", "run `make bench` as root"),
    ("no active swap device", "run `make bench` as root: it provisions temporary swap"),
    ("has no zswap", "needs a kernel built with zswap (CONFIG_ZSWAP)"),
    ("not built", "`make build`"),
    ("O_DIRECT", "point FILE_DIR= at a filesystem that supports O_DIRECT"),
    ("FILE_DIR", "point FILE_DIR= at a writable directory on storage"),
    ("SWAP_DIR", "point SWAP_DIR= at a directory on ext4 or xfs storage"),
)


def skip_summary(block):
    """One line per skip: what, why, and what to do about it where something can be done."""
    lines = []
    for s in block["skipped"]:
        what = s.get("rung") or s.get("benchmark")
        remedy = next((r for key, r in REMEDIES if key in s["reason"]), None)
        lines.append(f"- `{what}`: {s['reason']}" + (f" ({remedy})" if remedy else ""))
    return lines


def console_summary(block, report_path):
    """What a run prints when it ends (issue 31: the headline, not a table that scrolls it away):
    the headline rungs with their medians, one line per invalid rung, and where the rest is."""
    from pageladder import rows
    by_id = {r["id"]: r for r in block["ladder"]}
    headline = [i for i in rows.headline(block.get("rows") or {}, by_id) if i in by_id]
    width = max((len(i) for i in headline), default=0)
    lines = ["Headline (ladder.svg):"]
    for rung_id in headline:
        r = by_id[rung_id]
        if r["valid"]:
            flag = "  (not verified: report.md)" if r.get("not_verified") else ""
            lines.append(f"  {rung_id:<{width}}  {format_ns(r['median_ns']):>9}{flag}")
        else:
            lines.append(f"  {rung_id:<{width}}  {'invalid':>9}")
    invalid = [r for r in block["ladder"] if not r["valid"]]
    for r in invalid:
        lines.append(f"Invalid: `{r['id']}`: {r['why_invalid']}")
    valid = len(block["ladder"]) - len(invalid)
    lines.append(f"All {len(block['ladder'])} rungs ({valid} valid), with ranges, p99 and fault counts: {report_path}")
    return lines


def timer_overhead_line(block):
    overhead = block["settings"].get("timer_overhead_ns")
    minor = next((r for r in block["ladder"] if r["id"] == "minor_fault" and r["valid"]), None)
    if overhead is None or minor is None:
        return None  # no valid minor_fault: no time to compare the overhead with
    share = 100.0 * overhead / minor["median_ns"]
    return (f"Timer overhead per timed event: {format_ns(overhead)}, {share:.1f}% of the "
            f"`minor_fault` median ({format_ns(minor['median_ns'])}). It is included in every "
            f"timed event, not subtracted.")


def tlb_section(block):
    tlb = (block.get("derived") or {}).get("tlb") or {}
    reach = tlb.get("reach")
    if not reach:
        return None
    observation = tlb.get("huge_page_observation")
    names = {"l1_dtlb": "L1 data TLB", "stlb": "second-level TLB"}
    lines = ["Read off the knees of the sweep (`tlb_sweep.svg`); CPUID is a hint only (hypervisors "
             "rewrite it).", "", "| level | measured reach (pages) | CPUID says (entries) |", "|---|---|---|"]
    for level, info in reach.items():
        measured = ("between {:.0f} and {:.0f}".format(*info["measured"]) if info.get("measured")
                    else "no knee found")
        cpuid = f"{info['cpuid']:.0f}" if info["cpuid"] else "n/a"
        lines.append(f"| {names[level]} | {measured} | {cpuid} |")
    for r in block["ladder"]:
        if r.get("family") == "tlb" and "pages" in r and not r["valid"]:
            lines.append(f"- `{r['id']}` measured at {r['pages']:.0f} pages: **invalid**, no time shown "
                         f"({r['why_invalid']})")
        elif r.get("family") == "tlb" and "pages" in r:
            lines.append(f"- `{r['id']}` measured at {r['pages']:.0f} pages: {format_ns(r['median_ns'])} "
                         f"per load, {format_ns(r.get('translation_penalty_ns'))} over the control "
                         f"({format_ns(r.get('control_ns'))}); about "
                         f"{r.get('cycles_per_event_estimated', 0):.0f} cycles (estimated from the clock).")
    if observation:
        lines += ["", observation]
    return lines


def demand_paging_section(block):
    data = block.get("demand_paging")
    if not data:
        return None
    lines = [f"`malloc({data['size_bytes'] >> 20} MiB)`, one write per {data['page_size']} B page, `free()`; "
             "see `lifecycle.svg`.", "", "| stage | VmSize | VmRSS | minor faults so far |", "|---|---:|---:|---:|"]
    base = data["samples"][0]["minor_faults"]
    for s in data["samples"]:
        if s["stage"] != "touching":
            lines.append(f"| {s['stage']} | {s['vm_size_kib'] / 1024:.1f} MiB | {s['vm_rss_kib'] / 1024:.1f} MiB | "
                         f"{s['minor_faults'] - base:,} |")
    lines += ["", f"Touching the {data['pages']:,} pages took {data['touch_minor_faults']:,} minor and "
              f"{data['touch_major_faults']} major faults (the chapter expects about 25,600 for 100 MiB)."]
    return lines


def _sentence(text):
    return f"{text[:1].upper()}{text[1:]}." if text else ""


def anatomy_section(anatomy, block):
    """The report's "Fault anatomy" section (anatomy.json, anatomy.py): per rung, its phases
    above 1% with their share, their time per event (stored when the run was assembled: its
    share of the ladder's median), and the function most of their samples were in."""
    method = anatomy.get("method") or {}
    if method.get("skipped"):
        return [f"Not measured: {method['skipped']}."]
    medians = ladder.valid_medians(block)
    lines = [f"A separate pass after the timed runs, under `perf record` ({method.get('engine')}, "
             f"{method.get('counter')} {method.get('sampling')}): only samples inside the events' own "
             f"timed windows count; off-CPU is window time with the event's thread switched out "
             f"(waiting; preempted apart). Time per phase is its share of the ladder's median. Samples "
             f"of a rung's process between two of its windows (arming, checking) are dropped; a "
             f"forked child's setup happens outside any rung's windows and is not counted in either. "
             f"{_sentence(method.get('counter_note', ''))}"]
    if method.get("sample_rate_note"):
        lines += ["", f"Note: {method['sample_rate_note']}."]
    lines += [""]
    for rung in anatomy.get("rungs", []):
        median = medians.get(rung["id"])
        head = f"- `{rung['id']}`"
        if not rung["valid"]:
            lines.append(f"{head}: **invalid in the anatomy pass**: {rung['why_invalid']}")
            continue
        sampled = (f"mean {format_ns(rung.get('wall_ns_per_event'))} per event under sampling"
                   + (f", {rung['wall_ns_per_event'] / median:.1f}× the ladder's median {format_ns(median)}"
                      if median and rung.get("wall_ns_per_event") else ""))
        dropped = rung.get("dropped_share")
        facts = (f"{sampled}; {rung['samples']:,} samples kept, "
                 f"{(dropped or 0):.0%} of those between its windows dropped")
        if not rung.get("phases"):
            lines.append(f"{head} ({facts}): not split: {rung['why_not_split']}")
            continue
        parts = []
        for p in sorted(rung["phases"], key=lambda p: -p["share"]):
            if p["share"] < 0.01:
                continue
            top = p["top_functions"][0]["function"] if p["top_functions"] else None
            ns = phase_ns(p, median)
            time = f", {format_ns(ns)}" if ns is not None else ""
            parts.append(f"{p['phase']} {p['share']:.0%}{time}" + (f" (`{top}`)" if top else ""))
        lines.append(f"{head} ({facts}): " + "; ".join(parts)
                     + "".join(f". Note: {n}" for n in rung.get("notes") or []))
    lines += ["", "`anatomy.svg` draws the same shares; `anatomy/*.folded` holds the kernel stacks "
              "behind them (flame-graph input)."]
    return lines


def rung_noise(block):
    """[(rung id, invocations, spread between them, the change a one-run-a-side compare could
    call)] of the valid rungs with two invocations or more, computed once for the report and the
    console (stats: the spread as compare measures it, the band as it would call it)."""
    valid = [r for r in block["ladder"] if r["valid"]]
    noise = []
    for r in valid:
        medians = r.get("invocation_medians_ns") or []
        if len(medians) >= 2:
            spread = stats.invocation_spread([[[m] for m in medians]])
            noise.append((r["id"], len(medians), math.expm1(spread), stats.single_run_band(medians, len(valid))))
    return noise


def too_noisy(block, noise=None):
    """[(rung id, its one-run noise band)] of valid rungs too noisy for compare to see
    stats.USABLE_BAND, noisiest first (noise: rung_noise(block), when already at hand)."""
    noise = rung_noise(block) if noise is None else noise
    return sorted(((i, band) for i, _, _, band in noise if band > stats.USABLE_BAND), key=lambda x: -x[1])


NOISE_ADVICE = ("an idle machine, the benchmark pinned to one CPU (`CPU=<n>`), the `performance` "
                "cpufreq governor, or several runs per side (`make compare A=\"r1 r2 r3\" ...`)")


def noise_section(block):
    """Per rung, the spread between its invocations and the change a comparison of this run with
    one identical run could see; a warning for rungs too noisy for that."""
    lines = ["The spread between a rung's invocations (fresh processes) is the noise `make compare` "
             "measures; the last column is the smallest change a comparison of this run with one other "
             "like it would call from that spread alone (80% power, after the adjustment over every rung). "
             "Runs made apart add the drift of a whole run on top (compare says how much); rounds "
             "interleaved on one machine (`make compare SETTINGS=...`) cancel it.", "",
             "| rung | invocations | spread between invocations | a compare of one run a side sees |",
             "|---|---:|---:|---:|"]
    noise = rung_noise(block)
    lines += [f"| `{i}` | {n} | ±{spread:.1%} | ±{band:.1%} |" for i, n, spread, band in noise]
    noisy = too_noisy(block, noise)
    if noisy:
        lines += ["", f"**Too noisy to see a {stats.USABLE_BAND:.0%} change** with one run a side: "
                  + ", ".join(f"`{i}` (±{b:.0%})" for i, b in noisy) + f". What helps: {NOISE_ADVICE}."]
    return lines


def render(run, anatomy=None):
    block = run["pageladder"]
    lines = [f"# pageladder run `{block['run_id']}`", ""]
    harness = block.get("harness") or {}
    counts = harness.get("invocations")
    if harness.get("precision") and harness.get("min_invocations") not in (None, counts):
        counts = (f"{harness['min_invocations']} to {counts} (a row stops once its median is known "
                  f"within ±{harness['precision']:.0%})")
    lines.append(f"Measured {block.get('created')}: each binary ran as {counts} "
                 f"fresh processes of {harness.get('repetitions')} repetitions "
                 f"({'quick' if harness.get('quick') else 'full'} mode). One event is one fault "
                 f"(or one load, for the TLB rungs). **median**: the {ladder.STATISTICS['median_ns']}; "
                 f"min – max: the fastest and slowest repetition; p99: the "
                 f"{ladder.STATISTICS['p99_ns']}. An invalid rung shows no time (—).")
    emulated = fingerprint.emulation(block["settings"])
    if emulated:
        host = (block["settings"].get("guest") or {}).get("host") or {}
        lines += ["", f"**Times emulated.** This run was measured in a guest under software emulation "
                      f"({emulated}) on {host.get('hostname')} (kernel {host.get('kernel_release')}): the "
                      f"guest kernel's own code ran, so what each row claims was checked for real, but "
                      f"its times are the emulator's, not a machine's. `make compare` sets them only "
                      f"against runs emulated the same way."]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in machine_summary(block)]
    lines += ["", "## Ladder", "",
              "| rung | one event | median | min – max | p99 | reps | minor faults/event | major faults/event | valid |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    # Valid rungs by cost; invalid ones after them, with their reason and never a time.
    for r in sorted(block["ladder"], key=lambda r: (not r["valid"], r["median_ns"] if r["valid"] else 0)):
        counts = r.get("counts", {})
        if r["valid"]:
            times = (f"{format_ns(r['median_ns'])} | {format_ns(r['lo_ns'])} – {format_ns(r['hi_ns'])} | "
                     f"{format_ns(r.get('p99_ns'))}")
        else:
            times = "— | — | —"
        valid = "yes" if r["valid"] else f"**NO**: {r['why_invalid']}"
        if r["valid"] and r.get("family") == "tlb" and r.get("translation_penalty_ns") is not None:
            times = times.replace(" |", f" (translation +{format_ns(r['translation_penalty_ns'])}) |", 1)
        if r["valid"] and r.get("not_verified"):
            valid = "yes; **not verified**: " + "; ".join(r["not_verified"])
        lines.append(
            f"| `{r['id']}` | {r['label']} | {times} | "
            f"{r['samples']} | {_fmt_count(counts.get('minor_faults_per_event'))} | "
            f"{_fmt_count(counts.get('major_faults_per_event'))} | {valid} |")
    if not block["ladder"]:
        lines.append("| (no rung measured) | | | | | | | | |")
    overhead = timer_overhead_line(block)
    if overhead:
        lines += ["", overhead]
    for r in block["ladder"]:
        if r.get("minus_control"):
            d = r["minus_control"]
            lines += ["", f"`{r['id']}` minus its control `{d['control']}`: {format_ns(d['ns'])} per event "
                          f"(95% interval {format_ns(d['ci_lo_ns'])} to {format_ns(d['ci_hi_ns'])}): "
                          "the mechanism's own cost."]
    tlb = tlb_section(block)
    if tlb:
        lines += ["", "## TLB reach", ""] + tlb
    lifecycle = demand_paging_section(block)
    if lifecycle:
        lines += ["", "## Demand paging (the chapter's experiment)", ""] + lifecycle
    noise = noise_section(block)
    if len(noise) > 4:
        lines += ["", "## Noise", ""] + noise
    notes = [(r["id"], r["note"]) for r in block["ladder"] if r.get("note")]
    if notes:
        lines += ["", "## What the kernel did", ""]
        lines += [f"- `{rid}`: {note}" for rid, note in notes]
    incomplete = [b for b in block.get("binaries", []) if b.get("incomplete")]
    if incomplete:
        lines += ["", "## Incomplete", ""]
        lines += [f"- `{b['benchmark']}`: measured in {b['incomplete']}; its rungs rest on fewer "
                  f"invocations than planned" for b in incomplete]
    if anatomy:
        lines += ["", "## Fault anatomy", ""] + anatomy_section(anatomy, block)
    if block["skipped"]:
        lines += ["", "## Skipped", ""] + skip_summary(block)
    lines += ["", "## Files", "",
              "- `run.json`: Google Benchmark `context` and `benchmarks` (readable by `compare.py`) "
              "plus the `pageladder` block with all settings;",
              "- one raw Google Benchmark JSON per binary; `ladder.svg` / `ladder.png`: the chart.", ""]
    return "\n".join(lines)


def write(run, path, anatomy=None):
    safe_io.write_text_atomically(path, render(run, anatomy))
