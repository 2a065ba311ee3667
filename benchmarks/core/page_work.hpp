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
#pragma once

#include <benchmark/benchmark.h>

namespace pageladder {

enum class PageWork { kZero, kCopy };

// The row body: times `work` page after page through a region larger than the caches.
void page_work_row(benchmark::State& state, PageWork work);

}  // namespace pageladder
