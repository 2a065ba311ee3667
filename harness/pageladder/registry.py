"""What the suite measures: the benchmark binaries and the rungs of the ladder they feed.

This is the one place that maps user-facing names (../shared/CONTRACT.md) to binaries and rows.
A rung's `row` is the Google Benchmark run name without the "/manual_time" suffix.
"""
import re
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Benchmark:
    name: str                 # short name, as in ONLY="..."
    binary: str               # in build/benchmarks/
    # Seconds of benchmarking, measured on a 2-core VM, for progress estimates: (quick, full).
    expected_seconds: Tuple[float, float] = (5.0, 15.0)
    # --benchmark_min_time per repetition: (quick, full).
    min_time: Tuple[float, float] = (0.05, 0.15)
    # --benchmark_filter for every invocation after the first (None: all rows each time): the
    # TLB sweep, which only draws the sweep chart, runs once; its rungs run in every invocation.
    later_invocations_filter: Optional[str] = None


@dataclass(frozen=True)
class Rung:
    id: str
    label: str
    benchmark: str            # short name of the binary that measures it
    row: str                  # run name of its Google Benchmark row
    category: str             # tlb | fault | cow | file | swap | reference
    # Independent re-check of the binary's own verdict: (lo, hi) faults per event, or None.
    minor_per_event: Optional[Tuple[float, float]] = None
    major_per_event: Optional[Tuple[float, float]] = None


BENCHMARKS = [
    # Times are per repetition; runner.INVOCATIONS x runner.REPETITIONS repetitions in all.
    Benchmark("tlb", "tlb_bench", expected_seconds=(6.0, 30.0), min_time=(0.005, 0.01),
              later_invocations_filter="^(tlb_hit|stlb_hit|page_walk)(/|$)"),
    Benchmark("minor_fault", "minor_fault_bench", expected_seconds=(2.0, 9.0),
              min_time=(0.02, 0.07)),
    Benchmark("cow_fault", "cow_fault_bench", expected_seconds=(5.0, 17.0),
              min_time=(0.016, 0.045)),
    Benchmark("file_fault", "file_fault_bench", expected_seconds=(3.0, 11.0),
              min_time=(0.016, 0.045)),
    Benchmark("swap_in", "swap_in_bench", expected_seconds=(7.0, 18.0), min_time=(0.008, 0.022)),
]

RUNGS = [
    Rung("tlb_hit", "dependent load, translation hits the L1 DTLB", "tlb", "tlb_hit", "tlb",
         minor_per_event=(0.0, 0.0), major_per_event=(0.0, 0.0)),
    Rung("stlb_hit", "dependent load, L1 DTLB miss, second-level TLB hit", "tlb", "stlb_hit",
         "tlb", minor_per_event=(0.0, 0.0), major_per_event=(0.0, 0.0)),
    Rung("page_walk", "dependent load that misses every TLB level (page walk)", "tlb",
         "page_walk", "tlb", minor_per_event=(0.0, 0.0), major_per_event=(0.0, 0.0)),
    Rung("minor_fault", "first write to an anonymous 4 KiB page", "minor_fault", "minor_fault",
         "fault", minor_per_event=(0.99, 1.01), major_per_event=(0.0, 0.0)),
    Rung("minor_fault_read_then_write", "read, then write, of a fresh anonymous 4 KiB page",
         "minor_fault", "minor_fault_read_then_write", "fault", major_per_event=(0.0, 0.0)),
    Rung("thp_fault", "first write to an anonymous 2 MiB THP region", "minor_fault",
         "thp_fault", "fault", minor_per_event=(0.99, 1.01), major_per_event=(0.0, 0.0)),
    Rung("cow_fault", "first write to a 4 KiB page shared with a forked process", "cow_fault",
         "cow_fault", "cow", minor_per_event=(0.99, 1.01), major_per_event=(0.0, 0.0)),
    Rung("cow_fault_child", "the same, written by the forked child (parent holds the page)",
         "cow_fault", "cow_fault_child", "cow", minor_per_event=(0.99, 1.01),
         major_per_event=(0.0, 0.0)),
    Rung("cow_fault_reuse", "write to a write-protected page whose sharer exited (no copy)",
         "cow_fault", "cow_fault_reuse", "cow", minor_per_event=(0.99, 1.01),
         major_per_event=(0.0, 0.0)),
    Rung("cow_fault_thp", "first write to each 4 KiB of a THP shared after fork", "cow_fault",
         "cow_fault_thp", "cow", minor_per_event=(0.99, 1.01), major_per_event=(0.0, 0.0)),
    Rung("cow_fault_file", "first write to a MAP_PRIVATE file page in the page cache",
         "cow_fault", "cow_fault_file", "cow", minor_per_event=(0.99, 1.01),
         major_per_event=(0.0, 0.0)),
    Rung("ref_fork_per_gib", "fork() per GiB of populated 4 KiB-page memory (reference)",
         "cow_fault", "ref_fork_per_gib", "reference", major_per_event=(0.0, 0.0)),
    Rung("file_fault_cached", "read fault on a file mapping, page in the page cache",
         "file_fault", "file_fault_cached", "file", minor_per_event=(0.99, 1.01),
         major_per_event=(0.0, 0.0)),
    Rung("file_fault_cached_private", "the same through a MAP_PRIVATE mapping", "file_fault",
         "file_fault_cached_private", "file", minor_per_event=(0.99, 1.01),
         major_per_event=(0.0, 0.0)),
    Rung("file_fault_tmpfs", "read fault on a tmpfs (shmem) file mapping (reference)",
         "file_fault", "file_fault_tmpfs", "reference", minor_per_event=(0.99, 1.01),
         major_per_event=(0.0, 0.0)),
    Rung("file_fault_major", "read fault on a file mapping, page read from storage",
         "file_fault", "file_fault_major", "file", major_per_event=(0.99, 1.01)),
    Rung("file_read_cold_seq", "sequential read of a cold mapped file, per 4 KiB page "
         "(default readahead)", "file_fault", "file_read_cold_seq", "file"),
    Rung("ref_direct_read", "4 KiB O_DIRECT read at a random offset of the same file "
         "(reference)", "file_fault", "ref_direct_read", "reference",
         minor_per_event=(0.0, 0.0), major_per_event=(0.0, 0.0)),
    Rung("swap_in_zram", "fault on a page swapped out to zram, memory-limited cgroup", "swap_in",
         "swap_in_zram", "swap", major_per_event=(0.99, float("inf"))),
    Rung("swap_in_zram_cluster", "the same with the machine's page-cluster (swap readahead)",
         "swap_in", "swap_in_zram_cluster", "swap"),
    Rung("swap_in_zram_thrash", "zram swap-in in a cgroup half the region's size "
         "(includes reclaiming another page)", "swap_in", "swap_in_zram_thrash", "swap",
         major_per_event=(0.95, float("inf"))),
    Rung("swap_in_disk", "fault on a page swapped out to storage, memory-limited cgroup",
         "swap_in", "swap_in_disk", "swap", major_per_event=(0.99, float("inf"))),
    Rung("swap_in_disk_cluster", "the same with the machine's page-cluster (swap readahead)",
         "swap_in", "swap_in_disk_cluster", "swap"),
    Rung("swap_in_disk_thrash", "swap-in from storage in a cgroup half the region's size "
         "(includes reclaiming another page)", "swap_in", "swap_in_disk_thrash", "swap",
         major_per_event=(0.95, float("inf"))),
]

BENCHMARK_BY_NAME = {b.name: b for b in BENCHMARKS}
RUNG_BY_ID = {r.id: r for r in RUNGS}


def benchmark_names():
    return [b.name for b in BENCHMARKS]


def rungs_of(benchmark_name):
    return [r for r in RUNGS if r.benchmark == benchmark_name]


def rung_for_row(run_name):
    """The rung a Google Benchmark run name belongs to, or None."""
    base = strip_time_suffix(run_name)
    for rung in RUNGS:
        if rung.row == base:
            return rung
    return None


# Components Google Benchmark appends to a run name for how a row was run, not what it measures.
_RUN_SUFFIX = re.compile(r"/(manual_time|real_time|min_time:[0-9.]+|repeats:\d+|iterations:\d+)$")


def strip_time_suffix(run_name):
    while True:
        stripped = _RUN_SUFFIX.sub("", run_name)
        if stripped == run_name:
            return run_name
        run_name = stripped
