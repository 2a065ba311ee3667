"""`make compare SETTINGS="<A> <B> ..."`: this machine measured under each side's settings, the
sides interleaved in time, round after round, until every rung is decided or the budget is spent.

Runs made apart compare the host's state as much as the settings: on a shared machine whole runs
move by 3 to 15% (and thp_fault by more). Here a round runs each selected benchmark once (one
fresh process, its repetitions) under each side in turn, in a balanced order (A B, then B A, ...),
so a drift of the host lands on both sides of a round and its log ratio B/A cancels it (the idea
of Pinpoint's pairwise mode and of will-it-scale's back-to-back runs).

Verdicts come from the rounds' log ratios (stats.paired: by rank, a signed-rank test and a
Hodges-Lehmann interval, Benjamini-Hochberg over the rungs, `same` when the interval lies within
+-EQUIV). Looking after every round and stopping at the first verdict would call changes between
identical sides far more often than ALPHA says, so the data are looked at only at LOOKS (after an
even number of rounds, where the order is balanced) and at the last round, and each look spends
ALPHA / len(LOOKS) (Bonferroni over the looks): the chance of any wrong verdict of a rung
over all looks stays within ALPHA. A rung decided at a look keeps that look's verdict and
statistics; a benchmark whose rungs are all decided stops running. Rounds go on for the rest
until the budget would be overrun by another round (then the last look), or MAX_ROUNDS.

Each side's rounds are kept as ordinary run folders (<side run>/rounds/<n>/) and merged into the
side's run folder, an ordinary run whose invocations are the rounds (so `make compare` and
`make plot` read it as any run); a round counts once every side finished it. The comparison is an
ordinary compare folder whose compare.json says it was interleaved and paired and keeps every
round's medians.
"""
import contextlib
import dataclasses
import math
import shutil
import sys
import time
from pathlib import Path

from pageladder import collect, compare, runner, side_settings, stats, swap_phases, system

LOOKS = (8, 16, 32, 48)
MAX_ROUNDS = LOOKS[-1]
# At most len(LOOKS) looks happen: a look the budget forces between two planned ones takes the
# place of the planned ones after it, and MAX_ROUNDS is the last planned one.
ALPHA_PER_LOOK = stats.ALPHA / len(LOOKS)
# The fewest rounds that can decide at that level: with 8, all eight ratios on one side of the
# floor give a two-sided signed-rank p of 2^-7 < 0.0125, and the 1 - 2 alpha interval the
# equivalence test takes is finite (2^-8 below each end).
MIN_ROUNDS = 8
ROUNDS_DIR = "rounds"
DECIDED = ("faster", "slower", "same")
EXIT_STOPPED = 130  # the rounds were interrupted (Ctrl-C, SIGTERM)


def order_of_round(number, sides):
    """The sides' order in round `number` (1-based): forward in odd rounds, backward in even
    ones, so after every even round each side has been first as often as last (A B, B A ...)."""
    order = list(range(sides))
    return order if number % 2 else order[::-1]


def _round_medians(run):
    """{rung: (median ns, None) or (None, why invalid)} of one round's run."""
    medians = {}
    for r in run["pageladder"]["ladder"]:
        median = r.get("median_ns")
        if not r["valid"]:
            medians[r["id"]] = (None, r["why_invalid"] or "invalid")
        elif not (isinstance(median, (int, float)) and math.isfinite(median) and median > 0):
            medians[r["id"]] = (None, "its median is not a positive number")
        else:
            medians[r["id"]] = (float(median), None)
    return medians


def decide(rounds, a, b, ids, equiv, sticky, alpha=ALPHA_PER_LOOK):
    """Rows for side b against side a at a look, from the rounds so far: {rung: row}. rounds:
    [{"medians": [{rung: (ns, why)} per side]}]. sticky: {rung: row} decided at an earlier look,
    kept as it was then (its statistics too). alpha: what this look spends."""
    rows, tested = {}, []
    for rung in ids:
        if rung in sticky:
            rows[rung] = sticky[rung]
            continue
        pairs, invalid = [], None
        for entry in rounds:
            va, vb = entry["medians"][a].get(rung), entry["medians"][b].get(rung)
            if va is None or vb is None:
                continue
            if va[0] is None or vb[0] is None:
                invalid = va[1] or vb[1]
                break
            pairs.append((va[0], vb[0]))
        if invalid:
            rows[rung] = {"verdict": "invalid", "why": invalid, "rounds": len(pairs)}
            continue
        if len(pairs) < MIN_ROUNDS:
            rows[rung] = {"verdict": "undecided" if pairs else "missing", "rounds": len(pairs),
                          "why": f"{len(pairs)} of the {MIN_ROUNDS} rounds a verdict needs" if pairs
                          else "in no round on both sides"}
            continue
        rows[rung] = stats.paired([p[0] for p in pairs], [p[1] for p in pairs], alpha)
        tested.append(rung)
    for rung, p in zip(tested, stats.adjust([rows[r]["p_value"] for r in tested])):
        row = rows[rung]
        row["p_adjusted"] = p
        row["verdict"] = stats.verdict(row, p, equiv, alpha)
        row["detectable"] = stats.detectable(row, len(tested), alpha)
        row["why"] = None
    return rows


def round_outcome(run):
    """(medians, {row id: its benchmark}) of one round's run: what measure needs of it."""
    benchmark_of = {i: spec["benchmark"] for i, spec in (run["pageladder"].get("rows") or {}).items()
                    if isinstance(spec, dict) and isinstance(spec.get("benchmark"), str)}
    return _round_medians(run), benchmark_of


def check_sides(sides, no_system_changes):
    """Why these sides cannot be measured here (one line), or None."""
    for label, settings in sides:
        for name, path, _ in side_settings.files(settings):
            if no_system_changes:
                return f"side {label!r} changes {name}, and NO_SYSTEM_CHANGES=1 forbids it"
            if not system.is_root():
                return f"side {label!r} changes {name} ({path}): that needs root"
            if not Path(path).exists():
                return f"side {label!r}: {name} is not a setting of this kernel ({path} does not exist)"
    return None


def try_sides(sides):
    """Writes each side's knobs once and back (journaled), before any round: a value this kernel
    refuses is said now, not after rounds were spent. Returns why not, or None."""
    for label, settings in sides:
        try:
            with contextlib.ExitStack() as stack:
                for _, path, value in side_settings.files(settings):
                    stack.enter_context(system.knob(path, value))
        except system.SystemChangeError as e:
            return f"side {label!r}: {e}"
    return None


class SettingsRounds:
    """Rounds of this machine under each side's settings. A side's rounds are ordinary run folders
    under its run folder (rounds/<n>/), merged at the end into the side's run (finish)."""

    class Side:
        def __init__(self, label, settings, run_dir, config):
            self.label, self.settings, self.run_dir, self.config = label, settings, Path(run_dir), config
            self.outcomes = {}  # the last round's outcome of each benchmark
            self.seconds = {}
            self.pending = None  # the round not yet counted: (outcomes, [(round file, its name under invocations/)])

        @contextlib.contextmanager
        def applied(self):
            """The side's knobs written (journaled), undone on leaving."""
            with contextlib.ExitStack() as stack:
                for _, path, value in side_settings.files(self.settings):
                    stack.enter_context(system.knob(path, value))
                yield

    def __init__(self, config):
        self.config = config

    def start(self, label, settings):
        from pageladder import outputs
        pin = side_settings.pinned_cpu(settings)
        # A side pinned by its settings records that CPU as its run's pinning (history keys on it).
        config = self.config if pin is None else dataclasses.replace(self.config, pin_cpu=pin)
        return self.Side(label, settings, outputs.prepare_results_dir(config.results), config)

    def run_round(self, side, number, selected):
        """One round of one side: each selected benchmark once, under the side's settings, into
        <side>/rounds/<number>/. Returns (medians, {row: benchmark}, the exit status to stop with
        or None)."""
        config = side.config
        round_dir = side.run_dir / ROUNDS_DIR / str(number)
        round_dir.mkdir(parents=True)
        phased = {"swap_in": lambda bench, run_binary: swap_phases.run(
            bench, run_binary, run_dir=round_dir, swap_dir=config.swap_dir,
            no_system_changes=config.no_system_changes, build_dir=config.build_dir)}
        try:
            with side.applied(), open(round_dir / "progress.log", "w") as log:
                # The TLB sweep's points (supporting rows, never decided) run in the first round only.
                outcomes, interrupted = runner.run_all(selected, config.build_dir, round_dir, config.quick,
                                                       config.extra_args(), out=log, phased=phased, invocations=1,
                                                       verbose=config.verbose, pin_cpu=config.pin_cpu,
                                                       supporting_rows=number == 1)
                run = collect.assemble(round_dir, outcomes, dict(config.harness_settings(outcomes), invocations=1))
        except system.SystemChangeError as e:
            print(f"pageladder: side {side.label!r}, round {number}: {e}; the rounds stop", file=sys.stderr)
            return {}, {}, 1
        files = [(round_dir / o["file"], f"{Path(o['file']).stem}.{number}.json") for o in outcomes.values()
                 if not o.get("failed") and (round_dir / o["file"]).is_file()]
        side.pending = (outcomes, files)
        return (*round_outcome(run), EXIT_STOPPED if interrupted else None)

    def commit(self, side):
        """The round every side finished counts: its files become the side's invocations, its
        outcomes and seconds the side's."""
        if side.pending is None:
            return
        outcomes, files = side.pending
        for name, outcome in outcomes.items():
            side.outcomes[name] = outcome
            side.seconds[name] = side.seconds.get(name, 0.0) + outcome.get("seconds", 0.0)
        invocations = side.run_dir / runner.INVOCATION_DIR
        invocations.mkdir(exist_ok=True)
        for source, name in files:
            shutil.copyfile(source, invocations / name)
        side.pending = None

    def finish(self, side, rounds_run):
        """The side's runs: one run folder, each benchmark's rounds merged as its invocations;
        run.json, the report and the charts as for any run."""
        from pageladder import outputs
        config = side.config
        outcomes = {}
        for bench in config.selected:
            last = dict(side.outcomes.get(bench.name) or {"binary": bench.binary, "file": bench.binary + ".json"})
            stem = Path(last["file"]).stem
            folder = side.run_dir / runner.INVOCATION_DIR
            parts = [p for p in (folder.glob(f"{stem}.*.json") if folder.is_dir() else [])
                     if p.name[len(stem) + 1:-len(".json")].isdigit()]
            parts.sort(key=lambda p: int(p.name[len(stem) + 1:-len(".json")]))
            outcome = {"binary": last["binary"], "file": last["file"], "seconds": side.seconds.get(bench.name, 0.0),
                       "skipped": last.get("skipped", []), "invocations": 0}
            if "swap_devices_used" in last:
                outcome["swap_devices_used"] = last["swap_devices_used"]
            if parts:
                outcome["invocations"] = runner.merge_invocations(parts, side.run_dir / last["file"])
            else:
                outcome["failed"] = last.get("failed") or "not run"
            outcomes[bench.name] = outcome
        settings = dict(config.harness_settings(outcomes), invocations=rounds_run, min_invocations=None,
                        precision=None, interleaved={"side": side.label, "rounds": rounds_run})
        with side.applied():
            run = collect.assemble(side.run_dir, outcomes, settings)
        outputs.render_outputs(run, side.run_dir, charts=config.charts)
        return [run]


def _look(rounds, sided, ids, rung_benchmark, equiv, sticky, final, seen):
    """A look at the rounds (see the module's docstring): the rows decided now join `sticky`, and
    every row of this look is kept in `seen` (per side: what the comparison reports if this is
    the last look); returns (decided, left, the benchmarks with a rung still undecided)."""
    open_benchmarks, decided, left = set(), 0, 0
    for b in range(1, len(sided)):
        rows = decide(rounds, 0, b, ids, equiv, sticky[b])
        seen[b] = rows
        for rung, row in rows.items():
            if row["verdict"] in DECIDED:
                sticky[b].setdefault(rung, row)
                decided += 1
            elif row["verdict"] == "undecided" and not final:
                open_benchmarks.add(rung_benchmark[rung])
                left += 1
            elif row["verdict"] == "undecided":
                left += 1
    return decided, left, open_benchmarks


def measure(rounds_of, sides, selected, budget_s, equiv, out=None):
    """Measures the sides ([(label, what the side is)]) interleaved, through rounds_of
    (SettingsRounds here, guests/rounds.py's KernelRounds in guests): start(label, what) makes
    a side, run_round(side, number, benchmarks) measures one round of it, commit(side) counts
    a round every side finished, finish(side, rounds) gives its runs. Returns (the runs of each
    side; the interleaving's record for compare.json; the rounds; the rows decided at each look,
    per side, and every row of the last look; the exit status the rounds stopped with, or None)."""
    out = out or sys.stdout
    sided = [rounds_of.start(label, what) for label, what in sides]
    labels = [label for label, _ in sides]
    rounds, sticky, started = [], [{} for _ in sided], time.monotonic()
    selected, number, stopped = list(selected), 0, None
    rung_benchmark, looks, seen = {}, [], [{} for _ in sided]
    while selected and stopped is None and number < MAX_ROUNDS:
        number += 1
        began = time.monotonic()
        entry = {"round": number, "order": [], "medians": [None] * len(sided), "benchmarks": [b.name for b in selected]}
        for k in order_of_round(number, len(sided)):
            entry["order"].append(chr(ord("A") + k))
            try:
                medians, benchmark_of, stopped = rounds_of.run_round(sided[k], number, selected)
            except (KeyboardInterrupt, runner.Interrupted):
                stopped = EXIT_STOPPED
            if stopped is not None:
                break
            entry["medians"][k] = medians
            rung_benchmark.update(benchmark_of)
        if stopped is not None:
            break  # a round not every side finished does not count
        for side in sided:
            rounds_of.commit(side)
        entry["seconds"] = round(time.monotonic() - began, 1)
        rounds.append(entry)
        spent = time.monotonic() - started
        out_of_time = spent + entry["seconds"] > budget_s or number >= MAX_ROUNDS
        if number == 1 and budget_s < LOOKS[0] * entry["seconds"]:
            print(f"pageladder: a round takes {entry['seconds']:.0f} s: BUDGET={budget_s / 60:g} allows about "
                  f"{budget_s / max(entry['seconds'], 1e-9):.0f} rounds, and the first verdicts come after "
                  f"{LOOKS[0]}; raise BUDGET or name fewer benchmarks (ONLY=)", file=out, flush=True)
        if number in LOOKS or out_of_time:
            looks.append(number)
            decided, left, open_benchmarks = _look(rounds, sided, sorted(rung_benchmark), rung_benchmark,
                                                   equiv, sticky, out_of_time, seen)
            print(f"pageladder: round {number} ({entry['seconds']:.0f} s), a look: {decided} decided, {left} left; "
                  f"{spent / 60:.1f} of {budget_s / 60:g} min", file=out, flush=True)
            selected = [b for b in selected if b.name in open_benchmarks]
            if out_of_time and left:
                print(f"pageladder: budget spent: {left} rung(s) stay undecided", file=out, flush=True)
            if out_of_time:
                break
        else:
            print(f"pageladder: round {number} ({entry['seconds']:.0f} s); the next look after round "
                  f"{next(n for n in LOOKS if n > number)}; {spent / 60:.1f} of {budget_s / 60:g} min",
                  file=out, flush=True)
    if rounds and (not looks or looks[-1] != len(rounds)):  # stopped (Ctrl-C, a failed guest) between looks
        looks.append(len(rounds))
        decided, left, _ = _look(rounds, sided, sorted(rung_benchmark), rung_benchmark, equiv, sticky, True, seen)
        print(f"pageladder: after round {len(rounds)}, the last look: {decided} decided, {left} left",
              file=out, flush=True)
    loaded = [rounds_of.finish(side, len(rounds)) for side in sided] if rounds else []
    record = {"settings": labels, "budget_s": budget_s, "equiv": equiv, "min_rounds": MIN_ROUNDS,
              "looks": looks, "alpha_per_look": ALPHA_PER_LOOK, "wall_s": round(time.monotonic() - started, 1),
              "rounds": [{"round": e["round"], "order": e["order"], "seconds": e["seconds"],
                          "benchmarks": e["benchmarks"],
                          "medians": [{rung: v[0] for rung, v in m.items()} for m in e["medians"]]}
                         for e in rounds],
              "decided_at": [{rung: row.get("rounds") for rung, row in s.items()} for s in sticky]}
    return loaded, record, rounds, seen, stopped


def paired_result(loaded, record, last_look, equiv):
    """compare.compare's result for the sides' runs, each rung's statistics and verdict those of
    the last look (last_look: per side, its rows; a rung decided at an earlier look keeps that
    look's), whatever the runs' own invocations are (a guest's round is a run of one
    invocation) and whether later rounds ran the rung at all. compare's verdict stands where the
    rounds have none of their own (missing from the rounds) and where the sides cannot be set
    side by side: measured differently, or emulated differently."""
    result = compare.compare(loaded, equiv=equiv)
    for b, comparison in enumerate(result["comparisons"], 1):
        if compare.emulation_mismatch(loaded[0], loaded[b]):
            continue
        for row in comparison["rungs"]:
            rounds_row = last_look[b].get(row["id"])
            measured_differently = row["verdict"] == "not comparable" and row["why"].startswith("measured differently")
            if rounds_row is None or rounds_row["verdict"] == "missing" or measured_differently:
                continue
            update = {k: v for k, v in rounds_row.items() if k != "equivalence_interval"}
            row.update(method="paired", history_runs=0, drift=None, drift_source=None, net_ratio=None, equiv=equiv)
            if "ratio" in update:
                row.update(update)
            else:
                row.update({k: None for k in ("ratio", "ci_lo", "ci_hi", "p_value", "p_adjusted", "detectable")})
                row.update(verdict=update["verdict"], why=update["why"], rounds=update.get("rounds"))
        comparison["common_shift"] = compare.common_shift(comparison["rungs"], loaded[0] + loaded[b])
    result["interleaved"] = record
    return result
