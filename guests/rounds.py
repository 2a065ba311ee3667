"""`make compare KERNELS="<k1> <k2> ..."`: each kernel a side, measured in guests, the sides
interleaved round after round until every rung is decided or the budget is spent.

A guest's boot is a level of variance of its own: two boots of one kernel under TCG put whole
rows apart by half (file_fault_cached 13.8 against 21.7 us) while each boot's invocations agree.
A kernel measured in one boot is therefore that boot measured. Here every round boots each
kernel afresh (guests/bench.py, as `make bench KERNEL=` does) and runs each selected benchmark
once in it (`bench --invocations 1`), so a boot's luck is sampled once a round on every side and
the rounds' paired ratios (pageladder/interleave.py) see it as the noise it is, never as the
kernel. Only one guest runs at a time: the others are not up, not merely paused.

Each side's rounds are the run folders its guests handed back, under
results/kernels-<time>/<A, B ...>/; the comparison is an ordinary compare folder under results/
whose compare.json says it was interleaved and keeps every round.
"""
import dataclasses
import sys
import time
import types
from pathlib import Path

from guests import bench, kernel
from pageladder import collect, interleave, safe_io


class KernelRounds:
    """interleave.measure's rounds for kernel sides: a guest booted for each side's round."""

    def __init__(self, template, harness_args, results, out=None):
        """template: the GuestRequest every round's is made from (its kernel and harness
        arguments replaced); harness_args: the bench arguments every round gets (QUICK ...)."""
        self.template, self.harness_args, self.out = template, list(harness_args), out or sys.stdout
        Path(results).mkdir(parents=True, exist_ok=True)
        self.folder = safe_io.new_folder(Path(results), f"kernels-{time.strftime('%Y%m%d-%H%M%S')}")
        self.count = 0

    def start(self, label, kernel):
        letter = chr(ord("A") + self.count)
        self.count += 1
        folder = self.folder / letter
        folder.mkdir()
        return types.SimpleNamespace(label=label, kernel=kernel, folder=folder, runs=[], pending=None)

    def run_round(self, side, number, selected):
        """One round of one side: a fresh guest of its kernel runs each selected benchmark once.
        Returns (medians, {row: benchmark}, the exit status to stop with or None): a guest that
        hands back no run stops the comparison with bench.EXIT_GUEST."""
        request = dataclasses.replace(
            self.template, kernel=side.kernel, results=side.folder, draw=False, handed_back=None,
            harness_args=[*self.harness_args, "--invocations", "1", "--only", " ".join(b.name for b in selected),
                          *(["--no-supporting-rows"] if number > 1 else [])])
        print(f"pageladder: round {number}, side {side.label}: booting {side.kernel}", file=self.out, flush=True)
        status = bench.run(request)
        if status == 130:
            return {}, {}, 130
        if request.handed_back is None:
            print(f"pageladder: the guest of {side.kernel} handed back no run (exit status {status}): "
                  f"the comparison stops", file=sys.stderr)
            return {}, {}, bench.EXIT_GUEST
        try:
            run = collect.load_run(request.handed_back)
        except collect.RunError as e:
            print(f"pageladder: {e}: the comparison stops", file=sys.stderr)
            return {}, {}, bench.EXIT_GUEST
        side.pending = run
        return (*interleave.round_outcome(run), None)

    def commit(self, side):
        """The round every side finished counts."""
        if side.pending is not None:
            side.runs.append(side.pending)
        side.pending = None

    def finish(self, side, rounds_run):
        return side.runs


def compare(template, kernels, harness_args, selected, budget_s, equiv, fail_on_slower):
    """Measures the kernels interleaved and writes the comparison; the exit status. Every kernel
    is made ready (fetched, unpacked) before the first round: a bad one is said at once."""
    from pageladder import cli_compare
    for name in dict.fromkeys(kernels):
        try:
            kernel.resolve(name, Path(template.build_dir).resolve() / "kernels", template.kernel_modules or None)
        except kernel.KernelError as e:
            print(f"pageladder: {e}", file=sys.stderr)
            return bench.EXIT_GUEST
    rounds_of = KernelRounds(template, harness_args, template.results)
    sides = [(name, name) for name in kernels]
    print(f"pageladder: rounds of {', '.join(b.name for b in selected)} in guests, interleaved between "
          f"{' and '.join(kernels)}; budget {budget_s / 60:g} min; each round boots each kernel afresh", flush=True)
    measured = interleave.measure(rounds_of, sides, selected, budget_s, equiv)
    return cli_compare.write_interleaved(measured, template.results, equiv, fail_on_slower)
