// minor_fault_bench: the demand-zero page fault.
//
// Measures the first write to a private anonymous page: the CPU raises #PF, the kernel finds no
// PTE in a valid VMA, allocates a frame, zeroes it, installs the PTE and returns to the faulting
// store (do_anonymous_page). One event = one such write, timed on its own. Rows:
//   minor_fault                  4 KiB pages (MADV_NOHUGEPAGE, verified not THP-backed)
//   minor_fault_read_then_write  a read, then a write of the same fresh page; where the kernel
//                                maps the shared zero page on the read this is two faults, where
//                                it allocates on the read (zero page disabled) it is one
//   thp_fault                    the first write to a 2 MiB aligned region under MADV_HUGEPAGE:
//                                one fault that allocates and zeroes a whole huge page
//   hugetlb_fault                the first write to a 2 MiB page of a MAP_HUGETLB region: the
//                                same from the hugetlb pool (reserved for the row where needed)
//   hugetlb_fault_1g             the same with a 1 GiB page, where the CPU has them (pdpe1gb)
//   ref_zero_page                zeroing one 4 KiB page in user space, no fault (core/page_work):
//                                the memory-speed floor of the rows above, in their invocations
//   ref_memory_latency           one dependent load from a random line of 256 MiB on huge pages
//                                (core/page_work): memory latency, beside the bandwidth above
// Page-table pages are allocated before timing and kept alive (one resident anchor page per
// page table), so the rows measure the fault, not the allocation of page tables; pages are
// released with MADV_DONTNEED between batches, outside the timed and counted regions.
// Not modelled: NUMA placement, memory-cgroup limits, contention on the mm from other threads,
// mTHP sizes between 4 KiB and 2 MiB.
#include <sys/mman.h>

#include <optional>
#include <system_error>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/backing.hpp"
#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/hugetlb_pool.hpp"
#include "core/mapping.hpp"
#include "core/page_region.hpp"
#include "core/page_work.hpp"
#include "core/pagemap.hpp"

namespace pageladder {
namespace {

// Whether this kernel maps the shared zero page on a read fault of anonymous memory (it may be
// disabled): a read then a write of a fresh page costs two faults if so, one if not.
bool kernel_uses_zero_page() {
  BasePageRegion probe;
  const FaultCount before = thread_faults();
  touch_read(probe.page(0));
  touch_write(probe.page(0));
  return thread_faults().minor - before.minor >= 2;
}

template <class Touch>
void base_page_faults(benchmark::State& state, Touch touch, const std::string& note = "") {
  BasePageRegion region;
  Pagemap pagemap;
  EventRun run(state);
  if (!note.empty()) run.note(note);
  bool first = true;
  run_batched_events(
      state, run,
      [&] {
        if (!first) region.discard_event_pages();
        first = false;
        return region.events();
      },
      [&](size_t i) { touch(region.page(i)); },
      [&](size_t n) { region.verify_faulted_in(run, n, pagemap); });
  run.finish();
}

void BM_MinorFault(benchmark::State& state) {
  base_page_faults(state, [](char* p) { touch_write(p); });
}

void BM_MinorFaultReadThenWrite(benchmark::State& state, bool zero_page) {
  base_page_faults(
      state,
      [](char* p) {
        touch_read(p);
        touch_write(p);
      },
      zero_page ? "zero page: the read mapped the shared zero page, the write replaced it "
                  "(2 faults per event)"
                : "zero page: not used by this kernel; the read fault allocated the page and "
                  "the write did not fault (1 fault per event)");
}

void BM_ThpFault(benchmark::State& state) {
  if (auto why = why_no_thp()) {
    skip(state, *why + " (/sys/kernel/mm/transparent_hugepage/enabled)");
    return;
  }
  constexpr size_t kRegions = 8;
  const size_t huge = thp_size();
  Mapping mapping = Mapping::anonymous(kRegions * huge, Backing::kHugePages);
  Pagemap pagemap;
  EventRun run(state);
  bool first = true;
  run_batched_events(
      state, run,
      [&] {
        if (!first) mapping.discard();
        first = false;
        return kRegions;
      },
      [&](size_t i) { touch_write(mapping.data() + i * huge); },
      [&](size_t n) {
        const auto seen_kb = anon_huge_kb(mapping.data());
        if (!seen_kb) run.cannot_verify("thp_backed_fraction", "smaps shows no AnonHugePages here");
        const int64_t thp_kb = seen_kb.value_or(0);
        const int64_t want_kb = static_cast<int64_t>(n * huge / 1024);
        if (seen_kb) run.add_evidence("thp_backed_fraction", static_cast<double>(thp_kb), static_cast<double>(want_kb));
        if (thp_kb != want_kb)
          run.invalidate(fmt::format("{} kB THP-backed after {} huge-page faults, expected {} kB "
                                     "(the kernel fell back to base pages)",
                                     thp_kb, n, want_kb));
        // As root, the frames themselves say so too (kpageflags THP bit).
        for (size_t i = 0; i < n; ++i) {
          const uint64_t pfn = pagemap.at(mapping.data() + i * huge).value_or(PageState{}).pfn;
          const auto flags = pfn ? kpageflags(pfn) : std::nullopt;
          if (flags && !(*flags >> kKpfThp & 1))
            run.invalidate("kpageflags shows a faulted region's frame is not part of a THP");
        }
      });
  run.finish();
}

// The first write to a 2 MiB page of a private hugetlb mapping: one fault that takes a page from
// the pool (reserved for the row where needed: core/hugetlb_pool.hpp) and zeroes it whole. The
// pool's free count falls by one per event (free_hugepages of the 2 MiB pool, system-wide:
// another process's use of the pool during a batch is the only other cause), pagemap shows the
// page's last 4 KiB mapped by that one fault and, as root, kpageflags marks the frame huge. MADV_DONTNEED returns the pages to the pool between batches (hugetlb supports it from
// 5.18; before, the region is mapped afresh).
void BM_HugetlbFault(benchmark::State& state, size_t page_kb) {
  // 8 pages of 2 MiB a batch; 1 GiB pages one at a time (zeroing one takes tens of ms).
  const size_t kPages = page_kb == kHuge2M ? 8 : 1, kHuge = page_kb * 1024;
  HugetlbPool pool(kPages, page_kb);
  if (pool.why_not()) {
    skip(state, *pool.why_not());
    return;
  }
  std::optional<Mapping> mapping;
  Pagemap pagemap;
  EventRun run(state);
  int64_t free_before = 0;
  run_batched_events(
      state, run,
      [&] {
        if (mapping) {
          try {
            mapping->discard();
          } catch (const std::system_error&) {
            mapping.reset();  // no MADV_DONTNEED for hugetlb before 5.18
          }
        }
        if (!mapping) {
          mapping = Mapping::hugetlb(kPages * kHuge, kHuge);
          // The page tables a fresh mapping's first fault would allocate (the table its huge
          // entries live in) are made before timing: every page written once and given back,
          // the tables staying (issue 33: the first event paid for them).
          for (size_t i = 0; i < kPages; ++i) touch_write(mapping->data() + i * kHuge);
          try {
            mapping->discard();
          } catch (const std::system_error&) {
            mapping.reset();  // its pages back to the pool first: the pool holds kPages, no more
            mapping = Mapping::hugetlb(kPages * kHuge, kHuge);  // no MADV_DONTNEED for hugetlb (< 5.18)
            run.note("each batch's first event also allocates page tables: this kernel cannot give hugetlb "
                     "pages back without unmapping them (MADV_DONTNEED, 5.18)");
          }
        }
        free_before = huge_pool_count("free_hugepages", page_kb).value_or(0);
        return kPages;
      },
      [&](size_t i) { touch_write(mapping->data() + i * kHuge); },
      [&](size_t n) {
        const int64_t free_after = huge_pool_count("free_hugepages", page_kb).value_or(0);
        run.add_evidence("pool_pages_per_event", static_cast<double>(free_before - free_after),
                         static_cast<double>(n));
        for (size_t i = 0; i < n; ++i) {
          char* page = mapping->data() + i * kHuge;
          if (!pagemap.at(page + kHuge - page_size()).value_or(PageState{}).present)
            run.invalidate(fmt::format("a written huge page's last 4 KiB is not mapped: the fault did not map "
                                       "{} kB", page_kb));
          const uint64_t pfn = pagemap.at(page).value_or(PageState{}).pfn;
          const auto flags = pfn ? kpageflags(pfn) : std::nullopt;
          if (flags && !(*flags >> kKpfHuge & 1))
            run.invalidate("kpageflags shows a faulted page's frame is not a hugetlb page");
        }
      });
  if (pool.grown())
    run.note(fmt::format("the {} kB hugetlb pool was grown for this row (nr_hugepages), and shrunk back after", page_kb));
  run.finish();
}

// A row's claims plus the share of its region backed by transparent huge pages (smaps
// AnonHugePages): none for the 4 KiB rows, all of it for the THP row.
std::vector<Claim> with_backing(std::vector<Claim> claims, double thp_fraction) {
  claims.push_back({"thp_backed_fraction", {thp_fraction, thp_fraction}});
  return claims;
}

void register_rows() {
  add_row({.id = "minor_fault",
           .label = "first write to a private anonymous 4 KiB page (demand-zero fault)",
           .family = "anonymous",
           .event = "one write to a fresh 4 KiB page",
           .claims = with_backing(one_minor_fault(), 0),
           .ladder_rank = 50, .headline = true, .anatomy = true},
          BM_MinorFault);
  // Whether the read maps the shared zero page decides the claim: two faults or one.
  const bool zero_page = kernel_uses_zero_page();
  add_row({.id = "minor_fault_read_then_write",
           .label = "read, then write, of a fresh private anonymous 4 KiB page",
           .family = "anonymous",
           .event = "one read and one write of a fresh 4 KiB page",
           .claims = with_backing(zero_page ? fault_claims({1.99, 2.01}) : one_minor_fault(), 0),
           .ladder_rank = 60, .anatomy = true},
          [zero_page](benchmark::State& s) { BM_MinorFaultReadThenWrite(s, zero_page); });
  add_row({.id = "thp_fault",
           .label = "first write to a private anonymous 2 MiB region backed by a transparent huge page",
           .family = "anonymous",
           .event = "one write to a fresh 2 MiB region",
           .claims = with_backing(one_minor_fault(), 1),
           .ladder_rank = 70, .headline = true, .anatomy = true,
           .needs = "transparent huge pages (CONFIG_TRANSPARENT_HUGEPAGE; Debian's PREEMPT_RT 6.1 has none)"},
          BM_ThpFault);
  std::vector<Claim> hugetlb_claims = one_minor_fault();
  hugetlb_claims.push_back({"pool_pages_per_event", {0.99, 1.01}});
  add_row({.id = "hugetlb_fault",
           .label = "first write to a private 2 MiB hugetlb page (one fault takes a page from the pool "
                    "and zeroes it)",
           .family = "anonymous",
           .event = "one write to a fresh 2 MiB hugetlb page",
           .claims = hugetlb_claims,
           .ladder_rank = 72, .anatomy = true,
           .needs = "a hugetlb pool of 2 MiB pages: free ones, else root to grow it by what is missing (journaled, shrunk back after); NO_SYSTEM_CHANGES=1 keeps the skip"},
          [](benchmark::State& st) { BM_HugetlbFault(st, kHuge2M); });
  add_row({.id = "hugetlb_fault_1g",
           .label = "first write to a private 1 GiB hugetlb page (one fault takes a page from the pool "
                    "and zeroes all of it)",
           .family = "anonymous",
           .event = "one write to a fresh 1 GiB hugetlb page",
           .claims = hugetlb_claims,
           .ladder_rank = 74,
           .needs = "1 GiB hugetlb pages: a CPU with pdpe1gb and a contiguous GiB the kernel can find, free or reserved as root"},
          [](benchmark::State& st) { BM_HugetlbFault(st, kHuge1G); });
  add_row({.id = "ref_zero_page",
           .label = "zeroing one 4 KiB page in user space, cold in the caches (memory-speed reference)",
           .family = "reference",
           .event = "one memset of a 4 KiB page",
           .claims = fault_claims({0, 0}, {0, 0}),
           .unit = benchmark::kNanosecond,
           .ladder_rank = 45, .memory_reference = true},
          [](benchmark::State& s) { page_work_row(s, PageWork::kZero); });
  std::vector<Claim> latency_claims = fault_claims({0, 0}, {0, 0});
  latency_claims.push_back({"thp_backed_fraction", {0.99, kUnbounded}});
  add_row({.id = "ref_memory_latency",
           .label = "dependent load from a random cache line of 256 MiB on huge pages, missing the "
                    "caches (memory-latency reference)",
           .family = "reference",
           .event = "one dependent load",
           .claims = latency_claims,
           .unit = benchmark::kNanosecond,
           .manual_time = false,
           .ladder_rank = 35, .memory_reference = true},
          memory_latency_row)
      ->MinTime(0.05);
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
