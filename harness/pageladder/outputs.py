"""A run folder's place and what is written into it besides run.json: the folder made and proved
writable, results/latest, and report.md, the exports and the charts (drawn where matplotlib is).
The bench command, an interleaved compare's side runs and a guest's handed-back run all use it."""
import sys
from pathlib import Path

from pageladder import collect, safe_io
from pageladder.exits import EXIT_PLOT


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
