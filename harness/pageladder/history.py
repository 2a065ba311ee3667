"""Earlier runs of the machines being compared: what one run per side cannot show.

A whole run moves on a shared host (its memory speed, its neighbours): on the development VM,
four identical quick runs put swap_in_zram at 19.6, 20.3, 13.8 and 14.3 µs, each run's own
invocations agreeing within a few percent. Two runs, one a side, cannot tell that from a kernel
change. Identical runs made earlier on the same machine can: the spread between their medians is
the rung's run-to-run variance there, which compare then uses as a side's own repeated runs
would be used (stats.run_variance, moderated across rungs), so one run per side is judged against
how far identical runs actually land. This is the calibration a lab does anyway (mmtests and
LKP keep every run of a machine for this): `make bench` a few times on a machine, keep the runs
under results/, and every later comparison of that machine uses them.

Identical means: the same machine (hostname, CPU model, CPUs, memory), the same fingerprint
(kernel and every setting that decides these costs), quick or full, and the same pinning; and
only the configurations being compared are used (comparing kernel A with kernel B, the earlier
runs of A and of B, each group's spread about its own median pooled, never the differences
between groups; a noisier configuration of the same machine, a debug kernel say, is never
borrowed). The runs being compared are never their own calibration.

Not known to history: the version of pageladder that made a run (the fingerprint has none), so
runs made before a measurement changed count with those after; and how far apart in time the
runs were (runs made back to back can understate what a day's drift does; one run a side keeps
its 3% floor).
"""
import json
import sys
from pathlib import Path

from pageladder import collect

# The newest run folders looked at (run ids sort by time): a results folder of years of runs
# is not read whole for one comparison.
MAX_RUNS = 200


def machine_identity(run):
    machine = run["pageladder"].get("machine") or {}
    return json.dumps([machine.get(k) for k in ("hostname", "cpu_model", "cpus", "memory_total_kib")])


def configuration(run):
    """What must be equal for two runs to be identical runs (see the module's docstring)."""
    block = run["pageladder"]
    harness = block.get("harness") or {}
    return (machine_identity(run), json.dumps(block.get("fingerprint") or {}, sort_keys=True),
            bool(harness.get("quick")), harness.get("cpu"))


def _load(run_dir, out):
    """The run, or None with a notice when it cannot be used (one bad run.json under results/
    never stops a comparison)."""
    try:
        return collect.load_run(run_dir)
    except collect.RunError as e:
        print(f"pageladder: history leaves out {e}", file=out or sys.stderr)
        return None


def groups(results_root, compared, out=None, any_configuration=False):
    """Groups (lists of runs, two or more each) of earlier runs under results_root identical to
    one of the `compared` runs (the same configuration), none of them a compared run; with
    any_configuration, every group of identical runs of the compared machines (what their rungs
    drift between runs, in whatever configuration: stats.drift_of). Run folders directly under
    results_root are looked at (not compare, fleet or guest-failure folders)."""
    root = Path(results_root)
    if not root.is_dir():
        return []
    configurations = {configuration(run) for run in compared}
    machines = {machine_identity(run) for run in compared}
    excluded = {run["pageladder"].get("run_id") for run in compared}
    found = {}
    candidates = sorted(p for p in root.glob("*/run.json") if not p.parent.is_symlink())[-MAX_RUNS:]
    for path in candidates:
        run = _load(path.parent, out)
        if not run or run["pageladder"].get("run_id") in excluded or machine_identity(run) not in machines:
            continue
        found.setdefault(configuration(run), []).append(run)
    return [runs for key, runs in found.items() if (any_configuration or key in configurations) and len(runs) >= 2]
