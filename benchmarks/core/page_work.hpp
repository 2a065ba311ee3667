// The physical floor under the fault rows: zeroing one 4 KiB page (what a demand-zero fault
// does to a fresh frame) and copying one (what a copy-on-write fault does), in user space, on
// pages already mapped, far more of them than the caches hold.
//
// A host whose memory got faster or slower between two runs moves every fault rung that zeroes
// or copies pages with no change in the kernel; these rows, run in the same invocations as
// those rungs, let `make compare` tell that apart. One event = one memset or memcpy of 4 KiB,
// timed on its own; the page's content is checked after each batch (each page is marked before
// it, so the work is proven, not assumed). No fault: every page is populated first (claimed).
// Not modelled: the kernel's own clear_page/copy_page variants (non-temporal stores on some
// CPUs), the direct map's huge-page TLB entries the kernel uses for them, NUMA distance.
//
// The third reference is memory latency: one dependent load from a random cache line of a
// 256 MiB region on transparent huge pages (verified), so each load goes to memory, not to the
// caches, and its translation hits the TLB (the region is a few hundred huge pages). A host whose
// memory got slower shows here even where bandwidth (the zeroing and copying) did not move.
// Not modelled: a last-level cache larger than a quarter of the region (some hit there; the
// row notes the size the C library reports), DRAM page policy, prefetchers (the order is random).
#pragma once

#include <benchmark/benchmark.h>

namespace pageladder {

enum class PageWork { kZero, kCopy };

// The row body: times `work` page after page through a region larger than the caches.
void page_work_row(benchmark::State& state, PageWork work);

// The row body of the memory-latency reference: Google Benchmark times the loop, one
// iteration = one dependent load. Skipped where THP is unavailable (a page walk would be timed).
void memory_latency_row(benchmark::State& state);

}  // namespace pageladder
