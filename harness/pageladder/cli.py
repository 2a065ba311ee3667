"""Command line of the harness: `python3 -m pageladder bench|plot ...` (the Makefile calls it)."""
import argparse
import json
import os
import sys
from pathlib import Path

import contextlib
import functools

# numpy and matplotlib are imported where used: restore and targets need the standard library alone.
from pageladder import collect, runner, swap_phases, system
from pageladder.config import RunConfig, select_benchmarks
from pageladder.exits import EXIT_BUSY, EXIT_JOURNAL, EXIT_PENDING, EXIT_SLOWER, EXIT_USAGE
from pageladder.outputs import point_latest, prepare_results_dir, render_outputs



def cmd_bench(args):
    try:
        config = RunConfig.from_args(args, guest=_guest_facts(args.guest))
    except ValueError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return bench_restoring(config)
    except system.JournalError as e:
        return journal_unreadable(e)


def journal_unreadable(error):
    print(f"pageladder: {error}", file=sys.stderr)
    return EXIT_JOURNAL


def bench_restoring(config, body=None):
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
                                           pin_cpu=config.pin_cpu, supporting_rows=config.supporting_rows)
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
        return journal_unreadable(e)
    if pending:
        print(f"pageladder: {len(pending)} change(s) still pending (said above why); make restore again "
              f"once their process ended", file=sys.stderr)
        return EXIT_PENDING
    if not undone:
        print("pageladder: nothing to restore")
    return 0


def cmd_rows(args):
    """The rung tables of the docs, from the binaries (rows_doc.py): printed, checked or written."""
    from pageladder import rows_doc
    try:
        generated = rows_doc.markdown(args.build_dir)
    except ValueError as e:
        print(f"pageladder: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.check:
        same, diff = rows_doc.check(args.check, generated)
        if not same:
            print(diff)
            print(f"pageladder: {args.check}'s rung tables are not what the binaries describe; "
                  f"`python3 -m pageladder rows --markdown --write {args.check}` writes them", file=sys.stderr)
            return 1
        return 0
    if args.write:
        rows_doc.rewrite(args.write, generated)
        return 0
    print(generated, end="")
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
    parser.add_argument("--no-supporting-rows", action="store_true",
                        help="rungs only: no supporting rows such as the TLB sweep's points (an "
                             "interleaved compare's guest rounds after the first)")
    parser.add_argument("--no-charts", action="store_true",
                        help="leave the charts to `plot` (a guest hands its run to the host, which "
                             "draws them at native speed)")


def build_parser():
    from pageladder import cli_compare  # its commands' arguments; it imports numpy only when run
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
    inter.add_argument("--budget", type=cli_compare.minutes, default=10.0, help="minutes of rounds at most (default 10)")
    inter.add_argument("--equiv", type=cli_compare.equiv_percent, help="the margin of 'same', in percent (default 5)")
    inter.add_argument("--fail-on-slower", action="store_true")
    inter.set_defaults(func=cli_compare.cmd_interleave, guest=None, anatomy=False)
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
    comp.add_argument("--equiv", type=cli_compare.equiv_percent, help="the margin of 'same', in percent (default 5)")
    comp.set_defaults(func=cli_compare.cmd_compare)
    restore = sub.add_parser("restore", help="undo system changes an interrupted run left behind")
    restore.set_defaults(func=cmd_restore)
    rows_cmd = sub.add_parser("rows", help="the rung tables of the docs, from the binaries' own descriptions")
    rows_cmd.add_argument("--markdown", action="store_true", help="as markdown (the only format)")
    rows_cmd.add_argument("--build-dir", default="build")
    rows_cmd.add_argument("--check", help="fail, with the difference, where this file's tables differ")
    rows_cmd.add_argument("--write", help="write the tables into this file, between its markers")
    rows_cmd.set_defaults(func=cmd_rows)
    targets = sub.add_parser("targets", help="the build targets a bench with these --only needs "
                                             "(make bench builds just those)")
    targets.add_argument("--only", action="append")
    targets.set_defaults(func=cmd_targets)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)
