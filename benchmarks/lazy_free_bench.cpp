// lazy_free_bench: what MADV_FREE saves, and what it costs once reclaim has taken the page.
//
// MADV_FREE tells the kernel a private anonymous page's content is no longer needed, but frees
// nothing yet: the PTE stays, marked clean and old, the page moves to the lazy-free LRU
// (/proc/vmstat pglazyfree). A write before reclaim comes sets the dirty bit again in hardware:
// no fault, the old content still there, the page kept. Once reclaim has freed the page
// (pglazyfreed: clean lazy-free pages are dropped, never swapped), the PTE is gone and the next
// write is a demand-zero fault like any other. One event = one write to one page, timed on its
// own. Rows:
//   lazy_free_reuse      the first write to a page after MADV_FREE, before reclaim: no fault,
//                        the page's other bytes still hold what was written before (checked)
//   lazy_free_reclaimed  the first write after MADV_FREE and MADV_PAGEOUT freed the page (the
//                        reclaim a memory shortage would do, asked for): one demand-zero fault,
//                        the page zero again (checked)
// Their MADV_DONTNEED counterpart is `minor_fault` (minor_fault_bench): the page dropped at once.
// Proven per process: smaps LazyFree after MADV_FREE (the pages are lazily free), the fault
// count and the content after the write; pglazyfree and pglazyfreed (system-wide) are recorded. Not modelled: reclaim under a real shortage (kswapd's
// scan and the LRU order it frees in), huge pages (a THP is split on MADV_FREE of part of it),
// swap (a lazy-free page that is written again becomes ordinary swap-backed memory).
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/page_region.hpp"
#include "core/pagemap.hpp"
#include "core/sysfs.hpp"

namespace pageladder {
namespace {

constexpr char kBefore = 0x21;  // written to every page before MADV_FREE
constexpr char kAfter = 0x42;   // what each event writes

std::optional<int64_t> vmstat(const char* key) { return read_keyed_integer("/proc/vmstat", key); }

// A vmstat counter's growth over the parts of the run that begin() and end() bracket, exported
// per event as `counter` (core/event_run.hpp, add_evidence).
class VmstatGrowth {
 public:
  VmstatGrowth(EventRun& run, const char* key, std::string counter)
      : run_(run), key_(key), counter_(std::move(counter)) {
    if (!vmstat(key_)) run.cannot_verify(counter_, fmt::format("this kernel has no {} in /proc/vmstat", key_));
  }
  void begin() { start_ = vmstat(key_); }
  void end(size_t events) {
    const auto now = vmstat(key_);
    if (start_ && now) run_.add_evidence(counter_, static_cast<double>(*now - *start_), static_cast<double>(events));
    start_.reset();
  }

 private:
  EventRun& run_;
  const char* key_;
  std::string counter_;
  std::optional<int64_t> start_;
};

enum class Then { kWriteBeforeReclaim, kReclaimFirst };

// MADV_PAGEOUT (5.4) frees a clean lazy-free page at once; without it the row cannot be armed.
std::optional<std::string> why_no_pageout(const BasePageRegion& region) {
  if (madvise(region.page(0), page_size(), MADV_PAGEOUT) == 0) return std::nullopt;
  return fmt::format("madvise(MADV_PAGEOUT) fails here ({}): the kernel cannot be asked to reclaim "
                     "(it needs 5.4)", std::strerror(errno));
}

void lazy_free_row(benchmark::State& state, Then then) {
  BasePageRegion region;
  if (then == Then::kReclaimFirst)
    if (auto why = why_no_pageout(region)) {
      skip(state, *why);
      return;
    }
  Pagemap pagemap;
  EventRun run(state);
  // Pages MADV_FREE marked (counted when they reach the lazy-free LRU) and reclaim freed, per
  // event, over arming; pages freed during the events themselves (none may be, for reuse).
  VmstatGrowth marked(run, "pglazyfree", "lazyfree_marked_per_event");
  VmstatGrowth freed_arming(run, "pglazyfreed", "lazyfree_freed_before_per_event");
  VmstatGrowth freed_during(run, "pglazyfreed", "lazyfree_freed_during_per_event");
  run_batched_events(
      state, run,
      [&] {
        // Fresh pages each batch: a lazily freed page written again stays on the lazy-free list
        // (no longer swap-backed), and a second MADV_FREE would neither count nor move it.
        region.discard_event_pages();
        region.populate(kBefore);
        for (size_t i = 0; i < region.events(); ++i) touch_write(region.page(i) + page_size() / 2, kBefore);
        marked.begin();
        freed_arming.begin();
        region.discard_event_pages(MADV_FREE);
        // This process's own proof that MADV_FREE acted: its pages now lazily free (smaps
        // LazyFree, 4.12+), beside the system-wide pglazyfree that other processes add to.
        const auto fields = smaps_for(region.page(0));
        const auto lazy = fields.find("LazyFree");
        if (lazy != fields.end())
          run.add_evidence("lazyfree_pages_per_event", static_cast<double>(lazy->second) * 1024.0 / double(page_size()),
                           static_cast<double>(region.events()));
        else
          run.cannot_verify("lazyfree_pages_per_event", "smaps has no LazyFree field");
        if (then == Then::kReclaimFirst) region.discard_event_pages(MADV_PAGEOUT);
        marked.end(region.events());
        freed_arming.end(region.events());
        freed_during.begin();
        return region.events();
      },
      [&](size_t i) { touch_write(region.page(i), kAfter); },
      [&](size_t n) {
        freed_during.end(n);
        region.verify_faulted_in(run, n, pagemap);
        // The content says which path the write took: the old bytes kept (reuse) or a zeroed page.
        const char expected = then == Then::kWriteBeforeReclaim ? kBefore : 0;
        for (size_t i = 0; i < n; ++i) {
          const char seen = touch_read(region.page(i) + page_size() / 2);
          if (seen != expected || touch_read(region.page(i)) != kAfter) {
            run.invalidate(fmt::format("page {} holds {:#x} mid-page after the write, expected {:#x} ({})", i,
                                       seen, expected,
                                       then == Then::kWriteBeforeReclaim ? "reclaim freed it before the write"
                                                                         : "it was not freed"));
            break;
          }
        }
      });
  run.note(then == Then::kWriteBeforeReclaim
               ? "MADV_FREE, then the write: the page is kept, its other bytes intact"
               : "MADV_FREE and MADV_PAGEOUT, then the write: a demand-zero fault on a freed page");
  run.finish();
}

void register_rows() {
  // Claimed on this process's own smaps (LazyFree per event page after MADV_FREE): a page still
  // in a per-CPU batch of new pages (up to 15) is not moved yet, so a batch of ~2000 may fall a
  // little short, never far. The system-wide pglazyfree/pglazyfreed are recorded, not claimed:
  // other processes' lazy frees only add to them.
  std::vector<Claim> reuse = fault_claims({0, 0}, {0, 0});
  reuse.push_back({"lazyfree_pages_per_event", {0.95, 1.0}});
  reuse.push_back({"thp_backed_fraction", {0, 0}});
  add_row({.id = "lazy_free_reuse",
           .label = "first write to a private anonymous 4 KiB page after MADV_FREE, before reclaim "
                    "(no fault: the page is kept)",
           .family = "anonymous",
           .event = "one write to a lazily freed 4 KiB page",
           .claims = reuse,
           .ladder_rank = 47},
          [](benchmark::State& s) { lazy_free_row(s, Then::kWriteBeforeReclaim); });
  std::vector<Claim> reclaimed = one_minor_fault();
  reclaimed.push_back({"lazyfree_pages_per_event", {0.95, 1.0}});
  reclaimed.push_back({"thp_backed_fraction", {0, 0}});
  add_row({.id = "lazy_free_reclaimed",
           .label = "first write to a private anonymous 4 KiB page after MADV_FREE once reclaim "
                    "freed it (a demand-zero fault)",
           .family = "anonymous",
           .event = "one write to a lazily freed, reclaimed 4 KiB page",
           .claims = reclaimed,
           .ladder_rank = 62,
           .needs = "MADV_PAGEOUT (5.4) to have reclaim free the page"},
          [](benchmark::State& s) { lazy_free_row(s, Then::kReclaimFirst); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
