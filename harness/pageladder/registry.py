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
    # Seconds of benchmarking in all its invocations, measured on a 2-core VM (PVM guest, 2026-12),
    # for progress estimates: (quick, full).
    expected_seconds: Tuple[float, float] = (5.0, 15.0)
    # --benchmark_min_time per repetition: (quick, full).
    min_time: Tuple[float, float] = (0.05, 0.15)
    # Its supporting rows (those its binary does not call rungs: the TLB sweep, which only draws
    # the sweep chart) run in the first invocation only; its rungs run in every invocation.
    supporting_rows_once: bool = False


BENCHMARKS = [
    # Times are per repetition; runner.INVOCATIONS x runner.REPETITIONS repetitions in all.
    Benchmark("tlb", "tlb_bench", expected_seconds=(14.6, 46.5), min_time=(0.005, 0.01),
              supporting_rows_once=True),
    Benchmark("minor_fault", "minor_fault_bench", expected_seconds=(4.9, 25.2),
              min_time=(0.02, 0.07)),
    Benchmark("mthp", "mthp_bench", expected_seconds=(3.5, 30.0), min_time=(0.016, 0.045)),
    Benchmark("fault_scaling", "fault_scaling_bench", expected_seconds=(1.5, 8.1), min_time=(0.016, 0.045)),
    Benchmark("lazy_free", "lazy_free_bench", expected_seconds=(2.5, 11.3), min_time=(0.016, 0.045)),
    Benchmark("cow_fault", "cow_fault_bench", expected_seconds=(16.0, 43.9),
              min_time=(0.016, 0.045)),
    Benchmark("file_fault", "file_fault_bench", expected_seconds=(3.5, 15.6),
              min_time=(0.016, 0.045)),
    Benchmark("swap_in", "swap_in_bench", expected_seconds=(17.0, 58.2), min_time=(0.008, 0.022)),
    Benchmark("segv_fault", "segv_fault_bench", expected_seconds=(2.0, 9.2), min_time=(0.016, 0.045)),
    Benchmark("tlb_shootdown", "tlb_shootdown_bench", expected_seconds=(0.7, 3.1), min_time=(0.016, 0.045)),
    Benchmark("uffd_fault", "uffd_fault_bench", expected_seconds=(1.9, 8.6), min_time=(0.016, 0.045)),
]

BENCHMARK_BY_NAME = {b.name: b for b in BENCHMARKS}


def benchmark_names():
    return [b.name for b in BENCHMARKS]
