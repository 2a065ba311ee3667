"""Command line of the harness: `python3 -m pageladder bench|plot ...` (the Makefile calls it)."""
import argparse
import json
import math
import os
import sys
from pathlib import Path

import contextlib
import functools

# numpy and matplotlib are imported where used: restore and targets need the standard library alone.
from pageladder import collect, runner, safe_io, swap_phases, system
from pageladder.config import RunConfig, select_benchmarks

EXIT_USAGE = 2
EXIT_SLOWER = 3     # compare with --fail-on-slower (FAIL_ON_SLOWER=1): a rung got slower
EXIT_PLOT = 4       # results written, charts not drawn (no matplotlib)
EXIT_JOURNAL = 5    # restore stopped at a journal line it cannot read (docs/journal.md)
EXIT_BUSY = 7       # another pageladder run holds this machine (the run lock): refused
EXIT_PENDING = 8    # restore left changes pending (their process still runs, or undoing failed)


def prepare_results_dir(root):
    """Creates root/<run-id>/ and proves it writable before anything runs."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        # Two runs started in the same second (a guest's and the host's, a test's) never share
        # a folder: the second gets <run-id>-2.
        run_dir = safe_io.new_folder(root, collect.run_id())
        probe = run_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise OSError(f"results folder {root} is not writable: {e.strerror}") from e
    return run_dir


def point_latest(run_dir):
    safe_io.symlink_atomically(run_dir.name, run_dir.parent / "latest")


def render_outputs(run, run_dir, charts=True):
    """report.md and the exports always; the charts when asked for and matplotlib is importable.
    Returns an exit status."""
    from pageladder import anatomy, export, report
    try:
        run_anatomy = anatomy.load(run_dir)
    except ValueError as e:
        print(f"pageladder: anatomy not shown: {e}", file=sys.stderr)
        run_anatomy = None
    report.write(run, run_dir / "report.md", run_anatomy)
    export.write(run, Path(run_dir))
    if not charts:
        return 0
    try:
        from pageladder import plot
    except ImportError as e:
        print(f"pageladder: charts not drawn: {e}. Install Debian's python3-matplotlib "
              f"(`make deps`) or point PYTHON= at an interpreter that has it.", file=sys.stderr)
        return EXIT_PLOT
    plot.draw_ladder(run, str(run_dir / "ladder"))
    plot.draw_ladder_all(run, str(run_dir / "ladder-all"))
    plot.draw_tlb_sweep(run, str(run_dir / "tlb_sweep"))
    plot.draw_lifecycle(run, str(run_dir / "lifecycle"))
    plot.draw_scaling(run, str(run_dir / "scaling"))
    if run_anatomy:
        plot.draw_anatomy(run_anatomy, run, str(run_dir / "anatomy"))
    return 0


def cmd_bench(args):
    try:
        config = RunConfig.from_args(args, guest=_guest_facts(args.guest))
    except ValueError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _bench_restoring(config)
    except system.JournalError as e:
        return _journal_unreadable(e)


def _journal_unreadable(error):
    print(f"pageladder: {error}", file=sys.stderr)
    return EXIT_JOURNAL


def _bench_restoring(config, body=None):
    """body(config) (default _bench: a run), holding the run lock, after undoing what an
    earlier, killed run left (JournalError: nothing undone)."""
    # swap_in provisions swap and cgroups; tlb, minor_fault and mthp may reserve a hugetlb pool or
    # switch an mTHP size on: every binary journals what it changes (docs/journal.md).
    changes_system = system.is_root() and not config.no_system_changes
    if system.is_root() and not changes_system and system.pending_changes():
        # An earlier run was killed: undo what it left, unless a live run still owns it.
        with contextlib.suppress(system.SystemChangeError), system.run_lock():
            system.restore(out=sys.stdout)
    with contextlib.ExitStack() as stack:
        # One run a machine: two at once would time each other (and a fleet may name one machine
        # twice). A user who may not create the lock changes nothing and runs without it.
        try:
            stack.enter_context(system.run_lock())
        except system.UnsafeFolderError as e:
            if changes_system:  # root's own run folder must be root's alone
                print(f"pageladder: cannot take the run lock: {e}", file=sys.stderr)
                return EXIT_USAGE
        except system.SystemChangeError as e:
            print(f"pageladder: {e}", file=sys.stderr)
            return EXIT_BUSY
        except OSError as e:
            if changes_system:
                print(f"pageladder: cannot take the run lock: {e}", file=sys.stderr)
                return EXIT_USAGE
        if changes_system:
            system.restore(out=sys.stdout)  # what an earlier, killed run left behind
            stack.callback(system.restore)     # nothing should be pending; tidies the journal
            stack.enter_context(system.terminate_as_interrupt())
        return (body or _bench)(config)


def _swap_phases(config, run_dir):
    """The phased benchmarks (swap_in: one phase per kind of swap, each provisioned for it)."""
    return {"swap_in": functools.partial(swap_phases.run, run_dir=run_dir, swap_dir=config.swap_dir,
                                         no_system_changes=config.no_system_changes,
                                         build_dir=config.build_dir)}


def _bench(config):
    from pageladder import report, stats
    try:
        run_dir = prepare_results_dir(config.results)
    except OSError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    selected = list(config.selected)
    print(f"pageladder: {config.mode} run of {', '.join(b.name for b in selected)} into {run_dir}", flush=True)
    outcomes, interrupted = runner.run_all(selected, config.build_dir, run_dir, config.quick,
                                           config.extra_args(), phased=_swap_phases(config, run_dir),
                                           invocations=config.invocations, verbose=config.verbose,
                                           pin_cpu=config.pin_cpu)
    for name, outcome in outcomes.items():
        if outcome.get("incomplete"):
            print(f"pageladder: {name} is incomplete: {outcome['incomplete']}", file=sys.stderr)
    if config.anatomy and not interrupted:
        _anatomy_pass(config, run_dir)
    lifecycle = runner.run_demand_paging(config.build_dir, run_dir)
    harness_settings = config.harness_settings(outcomes)
    run = collect.assemble(run_dir, outcomes, harness_settings, demand_paging=lifecycle, guest=config.guest)
    status = render_outputs(run, run_dir, charts=config.charts)
    point_latest(run_dir)
    print()
    print("\n".join(report.console_summary(run["pageladder"], run_dir / "report.md")))
    noisy = report.too_noisy(run["pageladder"])
    if noisy:
        shown = ", ".join(f"{i} (±{b:.0%})" for i, b in noisy[:6])
        more = f" and {len(noisy) - 6} more (report.md, Noise)" if len(noisy) > 6 else ""
        print(f"\npageladder: {len(noisy)} rungs too noisy for compare to see {stats.USABLE_BAND:.0%} with one "
              f"run a side: {shown}{more}. What helps: {report.NOISE_ADVICE}.")
    if run["pageladder"]["skipped"]:
        print("\nSkipped:\n" + "\n".join(report.skip_summary(run["pageladder"])))
    print(f"\npageladder: {run_dir} ({harness_settings['benchmark_seconds']:.1f} s of benchmarking)")
    if interrupted:
        return 130
    return status


def _guest_facts(path):
    """The guest's facts (accelerator, CPUs, memory, qemu, host) when this run is in a guest."""
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        print(f"pageladder: the guest's facts ({path}) are unreadable: {e}", file=sys.stderr)
        return {"accel": "unknown"}


def _anatomy_pass(config, run_dir):
    """ANATOMY=1, after the timed runs. It adds to the run: whatever goes wrong in it is said,
    and the timed results are still collected."""
    from pageladder import anatomy
    try:
        anatomy.run_pass(list(config.selected), config.build_dir, run_dir, config.quick, config.extra_args(),
                         phased=_swap_phases(config, run_dir / anatomy.FOLDER), out=sys.stdout,
                         verbose=config.verbose, pin_cpu=config.pin_cpu)
    except (runner.Interrupted, KeyboardInterrupt):
        print("pageladder: fault anatomy interrupted (Ctrl-C); the timed results are kept", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - the timed run must not be lost to the extra pass
        print(f"pageladder: fault anatomy failed: {type(e).__name__}: {e}; the timed results are kept",
              file=sys.stderr)


def cmd_plot(args):
    try:
        run = collect.load_run(args.run)
    except collect.RunError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    status = render_outputs(run, Path(args.run))
    if status == 0:
        print(f"pageladder: redrew {Path(args.run) / 'ladder.svg'}, ladder.png, report.md and the exports")
    return status


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
    return _write_comparison(result, loaded, args.results, args.fail_on_slower, args.order,
                             matrix=len(sides) > 2 or bool(args.fleet))


def _write_comparison(result, loaded, results, fail_on_slower, order, matrix):
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
    from pageladder import interleave, side_settings
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
        return _bench_restoring(config, body)
    except system.JournalError as e:
        return _journal_unreadable(e)


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
    loaded, record, rounds, sticky, stopped = measured
    if not loaded:
        print("pageladder: no round completed: nothing to compare", file=sys.stderr)
        return stopped or 1
    result = interleave.paired_result(loaded, record, rounds, sticky, equiv)
    status = _write_comparison(result, loaded, results, fail_on_slower, "given", matrix=len(loaded) > 2)
    return stopped or status


def cmd_restore(args):
    if not system.is_root():
        print("pageladder: restore needs root (the changes it undoes were made as root)", file=sys.stderr)
        return EXIT_USAGE
    try:
        with system.run_lock():
            undone = system.restore(out=sys.stdout)
            pending = system.pending_changes()
    except system.SystemChangeError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    except system.JournalError as e:
        return _journal_unreadable(e)
    if pending:
        print(f"pageladder: {len(pending)} change(s) still pending (said above why); make restore again "
              f"once their process ended", file=sys.stderr)
        return EXIT_PENDING
    if not undone:
        print("pageladder: nothing to restore")
    return 0


def cmd_targets(args):
    """The CMake targets `bench --only ...` runs, one line: make bench builds only these, so a
    machine that builds slowly (a guest under emulation) compiles what it measures."""
    try:
        selected = select_benchmarks(args.only)
    except ValueError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(" ".join([b.binary for b in selected] + [runner.DEMAND_PAGING_BINARY]))
    return 0


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


def _invocation_count(text):
    if not text.isdigit() or not 1 <= int(text) <= 99:
        raise argparse.ArgumentTypeError(f"not a count of invocations from 1 to 99: {text}")
    return int(text)


def _run_arguments(parser):
    """The arguments of a run (bench, and the rounds of an interleaved compare)."""
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--results", default="results")
    parser.add_argument("--only", action="append", help="short names, e.g. 'minor_fault cow_fault'")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-system-changes", action="store_true")
    parser.add_argument("--file-dir", help="directory for file_fault's test file (default /var/tmp)")
    parser.add_argument("--swap-dir", default="/var/tmp",
                        help="directory for the temporary swap file (default /var/tmp)")
    parser.add_argument("--tlb-pages", help="'<hit> <stlb> <walk>': the page counts of the TLB rungs")
    parser.add_argument("--cpu", help="pin the benchmarks to this CPU (CPU=<n>)")
    parser.add_argument("--verbose", action="store_true",
                        help="stream every benchmark's own console output (V=1)")
    parser.add_argument("--invocations", type=_invocation_count,
                        help="fresh processes per binary (default: 3 quick, 7 full); an interleaved "
                             "compare's guest rounds run 1")
    parser.add_argument("--no-charts", action="store_true",
                        help="leave the charts to `plot` (a guest hands its run to the host, which "
                             "draws them at native speed)")


def build_parser():
    parser = argparse.ArgumentParser(prog="pageladder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="run benchmarks and write results/<run-id>/")
    _run_arguments(bench)
    # A guest serving as a lab host (guests/lab_host.py) names its facts in every SSH session.
    bench.add_argument("--guest", default=os.environ.get("PAGELADDER_GUEST") or None,
                       help="this run is inside a pageladder guest: the guest's facts (JSON, written "
                            "by guests/bench.py) go into settings.guest (default: $PAGELADDER_GUEST)")
    bench.add_argument("--anatomy", action="store_true",
                       help="after the timed runs, split each fault rung's time into kernel phases "
                            "(ANATOMY=1; anatomy.json, anatomy.svg)")
    bench.set_defaults(func=cmd_bench)
    inter = sub.add_parser("interleave", help="measure this machine under each side's settings, interleaved "
                                              "(make compare SETTINGS=...)")
    _run_arguments(inter)
    inter.add_argument("--settings", required=True,
                       help="the sides, separated by spaces: as-is, or name=value[,name=value...]")
    inter.add_argument("--budget", type=minutes, default=10.0, help="minutes of rounds at most (default 10)")
    inter.add_argument("--equiv", type=equiv_percent, help="the margin of 'same', in percent (default 5)")
    inter.add_argument("--fail-on-slower", action="store_true")
    inter.set_defaults(func=cmd_interleave, guest=None, anatomy=False)
    plot = sub.add_parser("plot", help="redraw a run's charts and report from its run.json")
    plot.add_argument("run")
    plot.set_defaults(func=cmd_plot)
    comp = sub.add_parser("compare", help="set runs side by side")
    comp.add_argument("a", nargs="?")
    comp.add_argument("b", nargs="?")
    comp.add_argument("--side", action="append",
                      help="one side: its runs separated by spaces (give it twice: A, then B)")
    comp.add_argument("--runs", nargs="+", help="runs, each a side; the first is the baseline")
    comp.add_argument("--fleet", help="a fleet folder (make fleet): each host's run a side")
    comp.add_argument("--fail-on-slower", action="store_true",
                      help=f"exit {EXIT_SLOWER} when any rung's verdict is slower")
    comp.add_argument("--order", choices=("given", "kernel"), default="given",
                      help="the sides' order: as given, or by kernel version, oldest first (the baseline)")
    comp.add_argument("--results", default="results")
    comp.add_argument("--no-history", action="store_true",
                      help="leave out earlier identical runs of these machines (HISTORY=0)")
    comp.add_argument("--equiv", type=equiv_percent, help="the margin of 'same', in percent (default 5)")
    comp.set_defaults(func=cmd_compare)
    restore = sub.add_parser("restore", help="undo system changes an interrupted run left behind")
    restore.set_defaults(func=cmd_restore)
    targets = sub.add_parser("targets", help="the build targets a bench with these --only needs "
                                             "(make bench builds just those)")
    targets.add_argument("--only", action="append")
    targets.set_defaults(func=cmd_targets)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)
