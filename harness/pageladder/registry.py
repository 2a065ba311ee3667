"""The benchmark binaries the harness runs (short names of docs/names.md) and how long each
takes. Everything a row is, claims and where it stands (its place on the ladder, the headline,
the anatomy pass, its swap phase) is described by its binary (benchmarks/core/rows.hpp, read by
rows.py); a rung's id is its Google Benchmark run name without the suffixes Google Benchmark
appends ("/manual_time", "/min_time:0.050").
"""
from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Benchmark:
    name: str                 # short name, as in ONLY="..."
    binary: str               # in build/benchmarks/
    # Seconds of benchmarking in all its invocations, measured on a 2-core VM, for progress
    # estimates: (quick, full).
    expected_seconds: Tuple[float, float] = (5.0, 15.0)
    # --benchmark_min_time per repetition: (quick, full).
    min_time: Tuple[float, float] = (0.05, 0.15)
    # Its supporting rows (those its binary does not call rungs: the TLB sweep, which only draws
    # the sweep chart) run in the first invocation only; its rungs run in every invocation.
    supporting_rows_once: bool = False


BENCHMARKS = [
    # Times are per repetition; runner.INVOCATIONS x runner.REPETITIONS repetitions in all.
    Benchmark("tlb", "tlb_bench", expected_seconds=(9.0, 19.0), min_time=(0.005, 0.01),
              supporting_rows_once=True),
    Benchmark("minor_fault", "minor_fault_bench", expected_seconds=(2.0, 8.5),
              min_time=(0.02, 0.07)),
    Benchmark("mthp", "mthp_bench", expected_seconds=(2.0, 5.0), min_time=(0.016, 0.045)),
    Benchmark("fault_scaling", "fault_scaling_bench", expected_seconds=(4.0, 10.0), min_time=(0.016, 0.045)),
    Benchmark("lazy_free", "lazy_free_bench", expected_seconds=(1.5, 4.0), min_time=(0.016, 0.045)),
    Benchmark("cow_fault", "cow_fault_bench", expected_seconds=(7.0, 18.0),
              min_time=(0.016, 0.045)),
    Benchmark("file_fault", "file_fault_bench", expected_seconds=(5.0, 13.0),
              min_time=(0.016, 0.045)),
    Benchmark("swap_in", "swap_in_bench", expected_seconds=(12.0, 21.0), min_time=(0.008, 0.022)),
    Benchmark("segv_fault", "segv_fault_bench", expected_seconds=(1.5, 4.0), min_time=(0.016, 0.045)),
    Benchmark("tlb_shootdown", "tlb_shootdown_bench", expected_seconds=(2.0, 5.0), min_time=(0.016, 0.045)),
    Benchmark("uffd_fault", "uffd_fault_bench", expected_seconds=(1.0, 3.0), min_time=(0.016, 0.045)),
]

BENCHMARK_BY_NAME = {b.name: b for b in BENCHMARKS}


def benchmark_names():
    return [b.name for b in BENCHMARKS]
