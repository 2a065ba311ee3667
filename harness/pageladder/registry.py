"""The benchmark binaries the harness runs (short names of docs/names.md), and the order the
ladder shows their rungs in. Everything a row is and claims is described by its binary
(benchmarks/core/rows.hpp); a rung's id is its Google Benchmark run name without the suffixes
Google Benchmark appends ("/manual_time", "/min_time:0.050").
"""
import re
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Benchmark:
    name: str                 # short name, as in ONLY="..."
    binary: str               # in build/benchmarks/
    # Seconds of benchmarking in all its invocations, measured on a 2-core VM, for progress
    # estimates: (quick, full).
    expected_seconds: Tuple[float, float] = (5.0, 15.0)
    # --benchmark_min_time per repetition: (quick, full).
    min_time: Tuple[float, float] = (0.05, 0.15)
    # --benchmark_filter for every invocation after the first (None: all rows each time): the
    # TLB sweep, which only draws the sweep chart, runs once; its rungs run in every invocation.
    later_invocations_filter: Optional[str] = None


BENCHMARKS = [
    # Times are per repetition; runner.INVOCATIONS x runner.REPETITIONS repetitions in all.
    Benchmark("tlb", "tlb_bench", expected_seconds=(9.0, 19.0), min_time=(0.005, 0.01),
              later_invocations_filter="^(tlb_hit|stlb_hit|page_walk)(/|$)"),
    Benchmark("minor_fault", "minor_fault_bench", expected_seconds=(2.0, 8.5),
              min_time=(0.02, 0.07)),
    Benchmark("cow_fault", "cow_fault_bench", expected_seconds=(7.0, 18.0),
              min_time=(0.016, 0.045)),
    Benchmark("file_fault", "file_fault_bench", expected_seconds=(5.0, 13.0),
              min_time=(0.016, 0.045)),
    Benchmark("swap_in", "swap_in_bench", expected_seconds=(12.0, 21.0), min_time=(0.008, 0.022)),
    Benchmark("segv_fault", "segv_fault_bench", expected_seconds=(1.5, 4.0), min_time=(0.016, 0.045)),
    Benchmark("tlb_shootdown", "tlb_shootdown_bench", expected_seconds=(2.0, 5.0), min_time=(0.016, 0.045)),
    Benchmark("uffd_fault", "uffd_fault_bench", expected_seconds=(1.0, 3.0), min_time=(0.016, 0.045)),
]

# The order of the ladder, bottom to top as the chapter draws it (presentation only: what each
# row is, what it claims and its label come from the binary that measures it, in its JSON's
# "pageladder_rows"). A row not listed here goes after these, by family.
LADDER_ORDER = (
    "tlb_hit", "stlb_hit", "page_walk", "tlb_shootdown",
    "minor_fault", "minor_fault_read_then_write", "thp_fault",
    "cow_fault", "cow_fault_child", "cow_fault_reuse", "cow_fault_thp", "cow_fault_file",
    "ref_fork_per_gib",
    "file_fault_cached", "file_fault_cached_private", "file_fault_tmpfs", "file_fault_major",
    "file_read_cold_seq", "ref_direct_read",
    "swap_in_zram", "swap_in_zram_thrash", "swap_in_zswap",
    "swap_in_disk", "swap_in_disk_cluster", "swap_in_disk_thrash",
    "segv_fault", "segv_fault_longjmp", "uffd_fault", "uffd_fault_minor", "ref_local_flush",
)
FAMILY_ORDER = ("tlb", "anonymous", "cow", "file", "swap", "signals", "reference")
# The headline ladder (ladder.svg): the contract's rungs, in ladder order.
HEADLINE = ("tlb_hit", "stlb_hit", "page_walk", "tlb_shootdown", "minor_fault", "thp_fault", "cow_fault",
            "file_fault_cached", "file_fault_major", "swap_in_zram", "swap_in_zswap", "swap_in_disk",
            "segv_fault", "uffd_fault")

# The fault rungs the anatomy pass (ANATOMY=1, anatomy.py) splits into kernel phases: every rung
# whose event is a page fault. The TLB rungs take none, and the reference rows are not faults.
ANATOMY_RUNGS = (
    "minor_fault", "minor_fault_read_then_write", "thp_fault",
    "cow_fault", "cow_fault_child", "cow_fault_reuse", "cow_fault_thp", "cow_fault_file",
    "file_fault_cached", "file_fault_cached_private", "file_fault_tmpfs", "file_fault_major",
    "swap_in_zram", "swap_in_zram_thrash", "swap_in_zswap",
    "swap_in_disk", "swap_in_disk_cluster", "swap_in_disk_thrash",
    "segv_fault", "segv_fault_longjmp", "uffd_fault", "uffd_fault_minor",
)
# The binaries that hold them.
ANATOMY_BENCHMARKS = ("minor_fault", "cow_fault", "file_fault", "swap_in", "segv_fault", "uffd_fault")


def ladder_position(rung_id, family=None):
    """Sort key of a rung: its place in LADDER_ORDER, else after them by family, then id."""
    if rung_id in LADDER_ORDER:
        return (0, LADDER_ORDER.index(rung_id), "")
    rank = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
    return (1, rank, rung_id)


BENCHMARK_BY_NAME = {b.name: b for b in BENCHMARKS}


def benchmark_names():
    return [b.name for b in BENCHMARKS]


# Components Google Benchmark appends to a run name for how a row was run, not what it measures.
_RUN_SUFFIX = re.compile(r"/(manual_time|real_time|min_time:[0-9.]+|repeats:\d+|iterations:\d+)$")


def strip_time_suffix(run_name):
    while True:
        stripped = _RUN_SUFFIX.sub("", run_name)
        if stripped == run_name:
            return run_name
        run_name = stripped
