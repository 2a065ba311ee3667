"""The compare commands: runs made apart (`compare`, make compare A= B= / RUNS= / FLEET=) and
sides measured here interleaved (`interleave`, make compare SETTINGS=; guests/rounds.py calls
write_interleaved for KERNELS=). The statistics are stats.py's, the verdicts compare.py's; here
the command lines, the files written and the exit status."""
import argparse
import functools
import math
import sys
from pathlib import Path

from pageladder import collect, safe_io, system
from pageladder.config import RunConfig
from pageladder.exits import EXIT_PLOT, EXIT_SLOWER, EXIT_USAGE


def compare_sides(args):
    """The sides to compare, as lists of run folders: each --side is one side (its runs
    separated by spaces), each --runs entry a side of its own; the first side is the baseline."""
    sides = [side.split() for side in args.side or [] if side.split()]
    sides += [[r] for r in args.runs or []]
    sides += [[r] for r in (args.a, args.b) if r]
    if args.fleet:
        sides += [[run] for run in fleet_runs(args.fleet)]
    return sides


def fleet_runs(fleet_dir):
    """The run folders of a fleet's hosts that measured (ok or partial), in its fleet.json's
    order (fleet/fleet.py writes it); each must lie inside the fleet folder."""
    try:
        hosts = safe_io.load_json(Path(fleet_dir) / "fleet.json", "fleet.json").get("hosts")
        if not isinstance(hosts, dict) or not all(isinstance(e, dict) for e in hosts.values()):
            raise safe_io.DataFileError(f"{Path(fleet_dir) / 'fleet.json'}: 'hosts' is not an object of objects")
    except safe_io.DataFileError as e:
        print(f"pageladder: {fleet_dir} is not a fleet folder: {e}", file=sys.stderr)
        return []
    runs = []
    for host, e in hosts.items():
        if e.get("status") not in ("ok", "partial"):
            continue
        try:
            if not isinstance(e.get("run"), str):
                raise ValueError("no run folder named")
            runs.append(str(safe_io.inside(fleet_dir, Path(fleet_dir) / e["run"])))
        except ValueError as why:
            print(f"pageladder: fleet.json's host {host!r} left out: {why}", file=sys.stderr)
    return runs


def _write_matrix(result, sides, out, order):
    """matrix.md, matrix.json and matrix.svg/png of a comparison of more than two sides (with
    ORDER=kernel, kernels.svg/png too); the exit status for the charts."""
    from pageladder import matrix, rows
    table = matrix.build(result, sides)
    safe_io.write_text_atomically(out / "matrix.md", matrix.render_markdown(table))
    collect.write_json_atomically(out / "matrix.json", table)
    written = ["matrix.md", "matrix.json"]
    status = 0
    try:
        from pageladder import plot
        runs = [run for side in sides for run in side]
        plot.draw_matrix(table, runs, str(out / "matrix"))
        written.append("matrix.svg/png")
        described = {i: s for run in runs for i, s in (run["pageladder"].get("rows") or {}).items()}
        headline = rows.headline(described)
        if order == "kernel":
            if plot.draw_kernels(table, headline, str(out / "kernels")):
                written.append("kernels.svg/png")
            else:
                print(f"pageladder: kernels.svg not drawn: {matrix.why_no_kernel_chart(table, headline)}")
    except ImportError as e:
        print(f"pageladder: matrix chart not drawn: {e} (install python3-matplotlib)", file=sys.stderr)
        status = EXIT_PLOT
    print(f"pageladder: wrote {out}/" + ", ".join(written))
    return status


def cmd_compare(args):
    from pageladder import compare
    sides = compare_sides(args)
    if len(sides) < 2:
        print("pageladder: compare needs two sides (A= and B=, each one or more runs, or "
              "RUNS=\"r1 r2 ...\")", file=sys.stderr)
        return EXIT_USAGE
    try:
        loaded = [[collect.load_run(p) for p in side] for side in sides]
    except collect.RunError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.order == "kernel":  # oldest kernel first: the baseline
        from pageladder import matrix
        order = sorted(range(len(sides)),
                       key=lambda k: matrix.kernel_key(loaded[k][0]["pageladder"]["kernel"].get("release")))
        sides, loaded = [sides[k] for k in order], [loaded[k] for k in order]
    from pageladder import anatomy
    anatomies = []
    for side in sides:
        anatomies.append([])
        for path in side:
            try:
                anatomies[-1].append(anatomy.load(path))
            except ValueError as e:
                print(f"pageladder: {e}; its anatomy is left out", file=sys.stderr)
                anatomies[-1].append(None)
    from pageladder import history
    compared = [r for side in loaded for r in side]
    earlier = [] if args.no_history else history.groups(args.results, compared)
    calibration = [] if args.no_history else history.groups(args.results, compared, any_configuration=True)
    try:
        result = compare.compare(loaded, anatomies, earlier, calibration, _equiv(args))
    except ImportError as e:
        print(f"pageladder: cannot compare: {e} (install python3-numpy and python3-statsmodels: "
              f"`make deps`)", file=sys.stderr)
        return EXIT_USAGE
    return write_comparison(result, loaded, args.results, args.fail_on_slower, args.order,
                             matrix=len(sides) > 2 or bool(args.fleet))


def write_comparison(result, loaded, results, fail_on_slower, order, matrix):
    """compare.md, compare.json, the chart (and the matrix's files when asked for) in a new
    compare folder under results; prints compare.md. Returns the exit status."""
    from pageladder import compare, compare_render
    status = 0
    try:
        Path(results).mkdir(parents=True, exist_ok=True)
        # A comparison made before keeps its folder: this one gets the next free name.
        out = safe_io.new_folder(results, compare_render.output_name(result["sides"]))
        safe_io.write_text_atomically(out / "compare.md", compare_render.render_markdown(result))
        collect.write_json_atomically(out / "compare.json", compare.to_json(result))
        try:
            from pageladder import plot
            plot.draw_compare(result, [run for side in loaded for run in side], str(out / "compare"))
        except ImportError as e:
            print(f"pageladder: chart not drawn: {e} (install python3-matplotlib)", file=sys.stderr)
            status = EXIT_PLOT
    except OSError as e:
        print(f"pageladder: cannot write the comparison under {results}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    print(compare_render.render_markdown(result))
    print(f"pageladder: wrote {out}/compare.md, compare.json, compare.svg, compare.png")
    # A lab's picture whenever more than two sides, or a fleet's hosts (even two), are compared.
    if matrix:
        status = max(status, _write_matrix(result, loaded, out, order))
    slower = compare.slower_rungs(result)
    if fail_on_slower and slower:
        print(f"pageladder: slower: {', '.join(sorted(set(slower)))} (FAIL_ON_SLOWER)", file=sys.stderr)
        return EXIT_SLOWER
    return status


def _equiv(args):
    """The margin of `same` (a fraction): EQUIV=<percent>, else the statistics' default."""
    from pageladder import stats
    return stats.EQUIV if args.equiv is None else args.equiv / 100


def cmd_interleave(args):
    """make compare SETTINGS=...: the sides measured here, interleaved (interleave.py)."""
    from pageladder import cli, interleave, side_settings
    try:
        config = RunConfig.from_args(args)
        sides = side_settings.parse_sides(args.settings)
    except ValueError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    why = interleave.check_sides(sides, config.no_system_changes)
    if why:
        print(f"pageladder: {why}", file=sys.stderr)
        return EXIT_USAGE
    body = functools.partial(_interleave, sides=sides, budget_s=60.0 * args.budget, equiv=_equiv(args),
                             fail_on_slower=args.fail_on_slower)
    try:
        return cli.bench_restoring(config, body)
    except system.JournalError as e:
        return cli.journal_unreadable(e)


def _interleave(config, sides, budget_s, equiv, fail_on_slower):
    from pageladder import interleave
    why = interleave.try_sides(sides)
    if why:
        print(f"pageladder: {why}", file=sys.stderr)
        return EXIT_USAGE
    print(f"pageladder: {config.mode} rounds of {', '.join(b.name for b in config.selected)}, interleaved "
          f"between {' and '.join(label for label, _ in sides)}; budget {budget_s / 60:g} min", flush=True)
    measured = interleave.measure(interleave.SettingsRounds(config), sides, config.selected, budget_s, equiv)
    return write_interleaved(measured, config.results, equiv, fail_on_slower)


def write_interleaved(measured, results, equiv, fail_on_slower):
    """The comparison of interleave.measure's sides (settings here, kernels in guests), written
    as any comparison; the exit status."""
    from pageladder import interleave
    loaded, record, rounds, last_look, stopped = measured
    if not loaded:
        print("pageladder: no round completed: nothing to compare", file=sys.stderr)
        return stopped or 1
    result = interleave.paired_result(loaded, record, last_look, equiv)
    status = write_comparison(result, loaded, results, fail_on_slower, "given", matrix=len(loaded) > 2)
    return stopped or status


def minutes(text):
    """A budget in minutes: a finite number above 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 24 * 60):
        raise argparse.ArgumentTypeError(f"not a number of minutes from 0 to 1440: {text}")
    return value


def equiv_percent(text):
    """EQUIV in percent: from twice the 1% floor (a margin inside the floor is never decided) to 50."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 2 <= value <= 50):
        raise argparse.ArgumentTypeError(f"not a percentage from 2 to 50: {text}")
    return value
