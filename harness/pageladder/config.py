"""How one `bench` run is made: decided once, from the command line, and passed down to the
runner, the swap phases and the anatomy pass (no module reads another's globals for it)."""
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from pageladder import registry, runner


def _parse_only(values):
    names = []
    for v in values or []:
        names += [n for n in v.replace(",", " ").split() if n]
    return names


def select_benchmarks(only):
    """The registry entries for ONLY (all when empty); raises ValueError naming the bad ones."""
    names = _parse_only(only)
    if not names:
        return list(registry.BENCHMARKS)
    unknown = [n for n in names if n not in registry.BENCHMARK_BY_NAME]
    if unknown:
        raise ValueError(f"unknown benchmark name(s): {', '.join(unknown)}; valid names: "
                         f"{', '.join(registry.benchmark_names())}")
    return [b for b in registry.BENCHMARKS if b.name in names]


def check_tlb_pages(text):
    """TLB_PAGES="<hit> <stlb> <walk>": three increasing page counts; raises ValueError."""
    if not text:
        return
    parts = text.replace(",", " ").split()
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or \
            not 2 <= int(parts[0]) < int(parts[1]) < int(parts[2]):
        raise ValueError(f"TLB_PAGES wants three increasing page counts '<hit> <stlb> <walk>' "
                         f"(for example '16 256 131072'), got '{text}'")


def check_cpu(text):
    """CPU=<n>: a CPU this process may run on, or None; raises ValueError naming the choices."""
    if text in (None, ""):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if not re.fullmatch(r"[0-9]{1,9}", str(text)) or int(text) not in allowed:
        raise ValueError(f"CPU={text} is not a CPU this run may use; choose one of "
                         f"{', '.join(map(str, allowed))}")
    return int(text)


@dataclass(frozen=True)
class RunConfig:
    selected: tuple                  # registry.Benchmark entries, in ladder order
    build_dir: Path = Path("build")
    results: Path = Path("results")
    quick: bool = False
    pin_cpu: Optional[int] = None    # CPU=<n>
    verbose: bool = False            # V=1
    no_system_changes: bool = False
    file_dir: Optional[str] = None
    swap_dir: str = "/var/tmp"
    tlb_pages: Optional[str] = None  # TLB_PAGES, as typed
    anatomy: bool = False
    charts: bool = True              # False in a guest: the host draws them
    invocations: Optional[int] = None  # fresh processes per binary (default: runner.INVOCATIONS)
    supporting_rows: bool = True     # False: rungs only, no TLB sweep (an interleaved round after the first)
    guest: Optional[dict] = field(default=None, compare=False)  # settings.guest, in a guest

    @classmethod
    def from_args(cls, args, guest=None):
        """From `bench`'s arguments; raises ValueError with one line for a bad value."""
        check_tlb_pages(args.tlb_pages)
        return cls(selected=tuple(select_benchmarks(args.only)), build_dir=Path(args.build_dir),
                   results=Path(args.results), quick=args.quick, pin_cpu=check_cpu(args.cpu),
                   verbose=args.verbose, no_system_changes=args.no_system_changes,
                   file_dir=args.file_dir, swap_dir=args.swap_dir, tlb_pages=args.tlb_pages,
                   anatomy=bool(args.anatomy), charts=not args.no_charts, guest=guest,
                   invocations=getattr(args, "invocations", None),
                   supporting_rows=not getattr(args, "no_supporting_rows", False))

    @property
    def mode(self):
        return runner.mode_of(self.quick)

    def extra_args(self):
        """{short name: the pageladder flags that binary gets from this run's settings}."""
        extra = {"file_fault": [f"--pageladder_file_dir={self.file_dir}"]} if self.file_dir else {}
        if self.tlb_pages:
            extra["tlb"] = [f"--pageladder_tlb_pages={','.join(self.tlb_pages.replace(',', ' ').split())}"]
        if self.no_system_changes:
            # Every binary may change the system (a hugetlb pool, an mTHP size); swap_in's phases
            # pass the flag themselves (swap_phases.run).
            for bench in self.selected:
                if bench.name != "swap_in":
                    extra.setdefault(bench.name, []).append("--pageladder_no_system_changes")
        return extra

    def harness_settings(self, outcomes):
        """run.json's `harness` block: how the run was made."""
        return {
            "quick": self.quick,
            "invocations": self.invocations or runner.INVOCATIONS[self.mode],
            # A full run stops invoking rows known within precision (runner.py) from this many on.
            "min_invocations": self.invocations or runner.MIN_INVOCATIONS[self.mode],
            "precision": None if self.invocations or self.quick else runner.PRECISION,
            "repetitions": runner.REPETITIONS[self.mode],
            "min_time": {b.name: b.min_time[0 if self.quick else 1] for b in self.selected},
            "only": [b.name for b in self.selected],
            "no_system_changes": self.no_system_changes,
            "file_dir": self.file_dir or "/var/tmp",
            "swap_dir": self.swap_dir,
            "tlb_pages": self.tlb_pages,
            "cpu": self.pin_cpu,
            "anatomy": self.anatomy,
            "benchmark_seconds": round(sum(o.get("seconds", 0.0) for o in outcomes.values()), 2),
        }
