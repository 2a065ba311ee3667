"""`make compare SETTINGS="<A> <B> ..."`: this machine measured under each side's settings, the
sides interleaved in time, round after round, until every rung is decided or the budget is spent.

Runs made apart compare the host's state as much as the settings: on a shared machine whole runs
move by 3 to 15% (and thp_fault by more). Here a round runs each selected benchmark once (one
fresh process, its repetitions) under each side in turn, in a balanced order (A B, then B A, ...),
so a drift of the host lands on both sides of a round and its log ratio B/A cancels it (the idea
of Pinpoint's pairwise mode and of will-it-scale's back-to-back runs). Verdicts come from the
rounds' log ratios (stats.paired: by rank, a signed-rank test and a Hodges-Lehmann interval,
Benjamini-Hochberg over the rungs, `same` when the 90% interval lies within +-EQUIV), from
MIN_ROUNDS rounds on; a rung once decided keeps its
verdict, and a benchmark whose rungs are all decided stops running. Rounds go on for the rest
until the budget would be overrun by another round.

Each side's rounds are kept as ordinary run folders (<side run>/rounds/<n>/) and merged into the
side's run folder, an ordinary run whose invocations are the rounds (so `make compare` and
`make plot` read it as any run); the comparison is an ordinary compare folder whose compare.json
says it was interleaved and paired and keeps every round's medians.

Repeated looks at the data make a stopped-early verdict a little more likely than one look at
the same rounds would; Benjamini-Hochberg over every rung at every look keeps identical sides
from calling changes (tests/e2e and the closing notes' A/A runs measure it).
"""
import contextlib
import shutil
import sys
import time
from pathlib import Path

from pageladder import collect, compare, runner, side_settings, stats, swap_phases, system

MIN_ROUNDS = 5  # the fewest whose signed-rank interval is finite at 90% (2^-5 each side)
MAX_ROUNDS = 60  # whatever the budget: rounds of a few seconds must end too
ROUNDS_DIR = "rounds"
DECIDED = ("faster", "slower", "same")


def order_of_round(number, sides):
    """The sides' order in round `number` (1-based): forward in odd rounds, backward in even
    ones, so each side is as often first as last (A B, B A, A B ...)."""
    order = list(range(sides))
    return order if number % 2 else order[::-1]


def _round_medians(run):
    """{rung: (median ns, None) or (None, why invalid)} of one round's run."""
    return {r["id"]: (r["median_ns"], None) if r["valid"] else (None, r["why_invalid"] or "invalid")
            for r in run["pageladder"]["ladder"]}


def decide(rounds, a, b, ids, equiv, sticky):
    """Rows for side b against side a from the rounds so far: {rung: row}. rounds: [{"medians":
    [{rung: (ns, why)} per side]}]. sticky: {rung: verdict} decided at an earlier look, kept."""
    rows, tested = {}, []
    for rung in ids:
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
                          "why": f"{len(pairs)} of {MIN_ROUNDS} rounds" if pairs else "in no round on both sides"}
            continue
        rows[rung] = stats.paired([p[0] for p in pairs], [p[1] for p in pairs])
        tested.append(rung)
    for rung, p in zip(tested, stats.adjust([rows[r]["p_value"] for r in tested])):
        row = rows[rung]
        row["p_adjusted"] = p
        row["verdict"] = sticky.get(rung) or stats.verdict(row, p, equiv)
        row["detectable"] = stats.detectable(row, len(tested))
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


class SettingsRounds:
    """Rounds of this machine under each side's settings. A side's rounds are ordinary run folders
    under its run folder (rounds/<n>/), merged at the end into the side's run (finish)."""

    class Side:
        def __init__(self, label, settings, run_dir):
            self.label, self.settings, self.run_dir = label, settings, Path(run_dir)
            self.outcomes = {}  # the last round's outcome of each benchmark
            self.seconds = {}

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
        from pageladder import cli
        return self.Side(label, settings, cli.prepare_results_dir(self.config.results))

    def run_round(self, side, number, selected):
        """One round of one side: each selected benchmark once, under the side's settings, into
        <side>/rounds/<number>/. Returns (medians, {row: benchmark}, interrupted)."""
        config = self.config
        round_dir = side.run_dir / ROUNDS_DIR / str(number)
        round_dir.mkdir(parents=True)
        pin = side_settings.pinned_cpu(side.settings)
        phased = {"swap_in": lambda bench, run_binary: swap_phases.run(
            bench, run_binary, run_dir=round_dir, swap_dir=config.swap_dir,
            no_system_changes=config.no_system_changes, build_dir=config.build_dir)}
        with side.applied(), open(round_dir / "progress.log", "w") as log:
            outcomes, interrupted = runner.run_all(selected, config.build_dir, round_dir, config.quick,
                                                   config.extra_args(), out=log, phased=phased, invocations=1,
                                                   verbose=config.verbose,
                                                   pin_cpu=config.pin_cpu if pin is None else pin)
            run = collect.assemble(round_dir, outcomes, dict(config.harness_settings(outcomes), invocations=1))
        invocations = side.run_dir / runner.INVOCATION_DIR
        invocations.mkdir(exist_ok=True)
        for name, outcome in outcomes.items():
            side.outcomes[name] = outcome
            side.seconds[name] = side.seconds.get(name, 0.0) + outcome.get("seconds", 0.0)
            if not outcome.get("failed") and (round_dir / outcome["file"]).is_file():
                stem = Path(outcome["file"]).stem
                shutil.copyfile(round_dir / outcome["file"], invocations / f"{stem}.{number}.json")
        return (*round_outcome(run), interrupted)

    def finish(self, side, rounds_run):
        """The side's runs: one run folder, each benchmark's rounds merged as its invocations;
        run.json, the report and the charts as for any run."""
        from pageladder import cli
        config = self.config
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
        settings = dict(config.harness_settings(outcomes), invocations=rounds_run,
                        interleaved={"side": side.label, "rounds": rounds_run})
        with side.applied():
            run = collect.assemble(side.run_dir, outcomes, settings)
        cli.render_outputs(run, side.run_dir, charts=config.charts)
        return [run]


def measure(rounds_of, sides, selected, budget_s, equiv, out=None):
    """Measures the sides ([(label, what the side is)]) interleaved, through rounds_of
    (SettingsRounds here, guests/rounds.py's KernelRounds in guests): start(label, what) makes
    a side, run_round(side, number, benchmarks) measures one round of it and finish(side,
    rounds) gives its runs. Returns (the runs of each side; the interleaving's record for
    compare.json; the rounds; the verdicts decided at each look, per side; interrupted)."""
    out = out or sys.stdout
    sided = [rounds_of.start(label, what) for label, what in sides]
    labels = [label for label, _ in sides]
    rounds, sticky, started = [], [{} for _ in sided], time.monotonic()
    selected, number, interrupted = list(selected), 0, False
    rung_benchmark = {}
    while selected and not interrupted:
        number += 1
        began = time.monotonic()
        entry = {"round": number, "order": [], "medians": [None] * len(sided), "benchmarks": [b.name for b in selected]}
        for k in order_of_round(number, len(sided)):
            entry["order"].append(chr(ord("A") + k))
            medians, benchmark_of, interrupted = rounds_of.run_round(sided[k], number, selected)
            entry["medians"][k] = medians
            rung_benchmark.update(benchmark_of)
            if interrupted:
                break
        if interrupted:
            break
        entry["seconds"] = round(time.monotonic() - began, 1)
        rounds.append(entry)
        ids = sorted(rung_benchmark)
        open_benchmarks, decided, left = set(), 0, 0
        for b in range(1, len(sided)):
            rows = decide(rounds, 0, b, ids, equiv, sticky[b])
            for rung, row in rows.items():
                if row["verdict"] in DECIDED:
                    sticky[b].setdefault(rung, row["verdict"])
                    decided += 1
                elif row["verdict"] == "undecided":
                    open_benchmarks.add(rung_benchmark[rung])
                    left += 1
        spent = time.monotonic() - started
        print(f"pageladder: round {number} ({entry['seconds']:.0f} s): {decided} decided, {left} left; "
              f"{spent / 60:.1f} of {budget_s / 60:g} min", file=out, flush=True)
        selected = [b for b in selected if b.name in open_benchmarks]
        if selected and (spent + entry["seconds"] > budget_s or number >= MAX_ROUNDS):
            print(f"pageladder: budget spent: {left} rung(s) stay undecided", file=out, flush=True)
            break
    loaded = [rounds_of.finish(side, len(rounds)) for side in sided] if rounds else []
    record = {"settings": labels, "budget_s": budget_s, "equiv": equiv, "min_rounds": MIN_ROUNDS,
              "wall_s": round(time.monotonic() - started, 1),
              "rounds": [{"round": e["round"], "order": e["order"], "seconds": e["seconds"],
                          "benchmarks": e["benchmarks"],
                          "medians": [{rung: v[0] for rung, v in m.items()} for m in e["medians"]]}
                         for e in rounds],
              "decided_at": [dict(s) for s in sticky]}
    return loaded, record, rounds, sticky, interrupted


def paired_result(loaded, record, rounds, sticky, equiv):
    """compare.compare's result for the sides' runs, each rung's statistics and verdict those of
    the rounds (decide): paired, whatever the runs' own invocations are (a guest's round is a run
    of one invocation). Sides whose times are emulated differently keep compare's `not
    comparable`."""
    result = compare.compare(loaded, equiv=equiv)
    for b, comparison in enumerate(result["comparisons"], 1):
        if compare.emulation_mismatch(loaded[0], loaded[b]):
            continue
        paired = decide(rounds, 0, b, [r["id"] for r in comparison["rungs"]], equiv, sticky[b])
        for row in comparison["rungs"]:
            update = paired[row["id"]]
            if "ratio" in update:
                row.update(update, equiv=equiv, history_runs=0, drift=None, drift_source=None, net_ratio=None)
            elif update["verdict"] != "missing" or row["ratio"] is not None:
                row.update({k: None for k in ("ratio", "ci_lo", "ci_hi", "p_value", "p_adjusted", "detectable")})
                row.update(verdict=update["verdict"], why=update["why"], rounds=update.get("rounds"))
        comparison["common_shift"] = compare.common_shift(comparison["rungs"], loaded[0] + loaded[b])
    result["interleaved"] = record
    return result
