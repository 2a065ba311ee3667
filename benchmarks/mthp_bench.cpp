// mthp_bench: the demand-zero fault at every multi-size THP (mTHP) size the kernel offers.
//
// Since 6.8 an anonymous fault may allocate a folio of 8 KiB to 1 MiB (each size switched on in
// /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled), zero it whole and map all of
// its PTEs at once: one fault instead of size/4 KiB, and a larger clear. One event = the first
// write to a fresh, size-aligned chunk, timed on its own: the fault that allocates, zeroes and
// maps one folio of that size. Rows `mthp_fault_<size>k`, one per size below the PMD size (2 MiB
// is `thp_fault`); each row reports its time per event and per 4 KiB (`ns_per_4k`).
//
// Only the row's size may serve the fault: its `enabled` is set to `madvise` for the row alone
// (journaled and restored, also after SIGKILL by `make restore`; core/system_changes.hpp) and
// the region is MADV_HUGEPAGE; every 2 MiB span of it starts with an unmapped page, so no PMD
// huge page fits, whatever hugepages-2048kB says. The claims rest on the size's own counters
// (stats/anon_fault_alloc at least one per event, anon_fault_fallback none; system-wide: another
// process's folios of that size only add) and one minor fault per event; page tables stay
// allocated (the span's first chunk is a resident anchor). Skipped where the kernel has no such
// knob (before 6.8), no counters (before 6.10), or the size is off and the run may not change
// it (no root, NO_SYSTEM_CHANGES=1). Not modelled: shmem and file-backed large folios, the
// allocator's fallback under fragmentation (counted and claimed absent, not measured),
// khugepaged, swap-out and swap-in of large folios (the swap rows use 4 KiB pages).
//
// `mthp_cow_fault_<size>k` (one size: 64 KiB where offered): the first write to a chunk whose
// folio of that size is shared with a live forked child; the row says whether the kernel copied
// the 4 KiB written or the whole folio (the size's folios in use, stats/nr_anon, grown by none
// or one per write: `folio_copies_per_write`), and the child must still see the original bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/backing.hpp"
#include "core/cow_partner.hpp"
#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"
#include "core/mthp.hpp"
#include "core/pagemap.hpp"
#include "core/sysfs.hpp"
#include "core/system_changes.hpp"

namespace pageladder {
namespace {

// A row's size, switched on where it was off (journaled, restored when `enabled` goes), and its
// region; nothing, the row skipped with the reason, where the row cannot run here.
struct RowSetup {
  std::unique_ptr<ScopedSysctl> enabled;
  std::unique_ptr<MthpRegion> region;
};

std::optional<RowSetup> set_up(benchmark::State& state, size_t kb) {
  RowSetup setup;
  if (auto why = mthp_size_for_row(kb, setup.enabled)) {
    skip(state, *why);
    return std::nullopt;
  }
  setup.region = std::make_unique<MthpRegion>(kb * 1024, mthp_spans_for(kb * 1024));
  return setup;
}

void mthp_row(benchmark::State& state, size_t kb) {
  auto setup = set_up(state, kb);
  if (!setup) return;
  const size_t chunk = kb * 1024;
  const MthpRegion& region = *setup->region;
  Pagemap pagemap;
  EventRun run(state);
  std::optional<int64_t> alloc_before, fallback_before;
  bool first = true;
  run_batched_events(
      state, run,
      [&] {
        if (!first) region.advise_chunks(MADV_DONTNEED);
        first = false;
        alloc_before = mthp_stat(kb, "anon_fault_alloc");
        fallback_before = mthp_stat(kb, "anon_fault_fallback");
        return region.chunks();
      },
      [&](size_t i) { touch_write(region.chunk(i)); },
      [&](size_t n) {
        const auto alloc = mthp_stat(kb, "anon_fault_alloc"), fallback = mthp_stat(kb, "anon_fault_fallback");
        if (alloc && alloc_before) run.add_evidence("folio_allocs_per_event", double(*alloc - *alloc_before), double(n));
        if (fallback && fallback_before)
          run.add_evidence("folio_fallbacks_per_event", double(*fallback - *fallback_before), double(n));
        // This process's own proof, beside the system-wide counters: each chunk one folio.
        size_t whole = 0;
        for (size_t i = 0; i < n; ++i) {
          const auto why = mthp_chunk_not_one_folio(pagemap, region.chunk(i), chunk);
          if (why) run.invalidate(*why);
          whole += !why;
        }
        run.add_evidence("one_folio_chunk_fraction", static_cast<double>(whole), static_cast<double>(n));
      });
  run.set_counter("folio_kb", static_cast<double>(kb));
  run.set_counter("ns_per_4k", run.mean_ns() * 4096.0 / static_cast<double>(chunk));
  run.note(mthp_size_note(kb, setup->enabled != nullptr));
  run.finish();
}

// Copy-on-write of an mTHP folio: every chunk faulted in as one folio of the size (its counter
// proves it), a partner forked to share them all, then the first write to each chunk. Whether the
// kernel copies the 4 KiB written or the whole folio is the finding, read from this process's own
// page table (pagemap, root): a whole-folio copy gives the chunk's last page, never written, a new
// frame too; a page copy leaves it on the frame the partner shares. Each batch must be all one
// kind, and every batch the same kind (mixed outcomes make the row invalid, not doubly noted).
// The size's own count of folios in use (stats/nr_anon, system-wide: it moves with any process)
// must agree where it is kept. smaps' Private_Dirty cannot say: 6.18 accounts a partly shared
// large folio by its average mapcount, 2 kB per write here. The partner must still see the
// original bytes either way.
void mthp_cow_row(benchmark::State& state, size_t kb) {
  auto setup = set_up(state, kb);
  if (!setup) return;
  const size_t chunk = kb * 1024;
  const MthpRegion& region = *setup->region;
  std::vector<char*> firsts(region.chunks());
  for (size_t i = 0; i < firsts.size(); ++i) firsts[i] = region.chunk(i);
  Pagemap pagemap;
  EventRun run(state);
  const size_t pages = chunk / page_size();
  std::unique_ptr<ChildProcess> holder;
  std::optional<int64_t> folios_before;
  std::vector<uint64_t> last_frames(firsts.size());  // each chunk's last page's frame, after fork
  bool frames_known = true;
  uint64_t page_copy_batches = 0, folio_copy_batches = 0;
  bool first = true;
  run_batched_events(
      state, run,
      [&] {
        if (!first) region.advise_chunks(MADV_DONTNEED);
        first = false;
        const auto alloc_before = mthp_stat(kb, "anon_fault_alloc");
        for (char* p : firsts) touch_write(p, kCowOriginal);
        const auto alloc = mthp_stat(kb, "anon_fault_alloc");
        if (!alloc || !alloc_before || *alloc - *alloc_before < static_cast<int64_t>(firsts.size()))
          run.invalidate(fmt::format("the chunks were not each one {} KiB folio before fork", kb));
        for (const char* p : firsts)
          if (auto why = mthp_chunk_not_one_folio(pagemap, p, chunk)) {
            run.invalidate("before fork: " + *why);
            break;
          }
        holder = fork_holder(firsts);
        for (size_t i = 0; i < firsts.size(); ++i) {
          last_frames[i] = pagemap.at(firsts[i] + (pages - 1) * page_size()).value_or(PageState{}).pfn;
          frames_known = frames_known && last_frames[i] != 0;
        }
        folios_before = mthp_stat(kb, "nr_anon");
        return firsts.size();
      },
      [&](size_t i) { touch_write(firsts[i], kCowWritten); },
      [&](size_t n) {
        // This process's own evidence first: chunks whose unwritten last page moved to a new frame.
        size_t moved = 0;
        for (size_t i = 0; i < n && frames_known; ++i) {
          const uint64_t now = pagemap.at(firsts[i] + (pages - 1) * page_size()).value_or(PageState{}).pfn;
          frames_known = now != 0;
          moved += now != last_frames[i];
        }
        if (frames_known) {
          run.add_evidence("folio_copies_per_write", static_cast<double>(moved), static_cast<double>(n));
          if (moved == 0)
            ++page_copy_batches;
          else if (moved == n)
            ++folio_copy_batches;
          else
            run.invalidate(fmt::format("{} of {} writes copied the whole {} KiB folio, the rest the page alone",
                                       moved, n, kb));
        }
        // The size's system-wide folio count, where kept, must say the same.
        const auto folios = mthp_stat(kb, "nr_anon");
        if (frames_known && folios && folios_before) {
          const double per_write = static_cast<double>(*folios - *folios_before) / static_cast<double>(n);
          const double own = static_cast<double>(moved) / static_cast<double>(n);
          if (std::abs(per_write - own) > 0.01)
            run.invalidate(fmt::format("stats/nr_anon grew by {:.3f} {} KiB folios per write, this process's page "
                                       "table says {:.3f}", per_write, kb, own));
        }
        check_holder_unchanged(run, *holder);
        holder.reset();
      });
  if (!frames_known)
    run.cannot_verify("folio_copies_per_write", "pagemap shows no frame numbers (root only): whether the page or "
                                                "the folio was copied is not checked");
  if (page_copy_batches && folio_copy_batches)
    run.invalidate(fmt::format("{} batches copied the page alone, {} the whole folio: the kernel did not do one "
                               "thing", page_copy_batches, folio_copy_batches));
  else if (page_copy_batches)
    run.note(fmt::format("the kernel copied the 4 KiB written, not the shared {} KiB folio", kb));
  else if (folio_copy_batches)
    run.note(fmt::format("the kernel copied the whole {} KiB folio on the first write", kb));
  run.note(mthp_size_note(kb, setup->enabled != nullptr));
  run.finish();
}

void register_rows() {
  std::vector<Claim> claims = one_minor_fault();
  claims.push_back({"one_folio_chunk_fraction", {1, 1}});
  claims.push_back({"folio_allocs_per_event", {0.99, kUnbounded}});
  claims.push_back({"folio_fallbacks_per_event", {0, 0.01}});
  const std::vector<size_t> sizes = mthp_sizes();
  // A size's own `madvise` serves a MADV_HUGEPAGE region whatever the top-level setting says;
  // only a kernel without THP, or without per-size knobs, has no mTHP row to run.
  if (thp_size() == 0 || sizes.empty()) {
    // One row says why, where the kernel offers no mTHP size at all.
    const std::string why = (thp_size() == 0 ? why_no_thp() : std::nullopt).value_or(
        "/sys/kernel/mm/transparent_hugepage has no hugepages-<size>kB knob for anonymous memory: "
        "multi-size THP needs 6.8");
    add_row({.id = "mthp_fault",
             .label = "first write to a fresh chunk of a multi-size THP (mTHP) size",
             .family = "anonymous",
             .event = "one write to a fresh chunk",
             .claims = claims,
             .ladder_rank = 63},
            [why](benchmark::State& s) { skip(s, why); });
    return;
  }
  int rank = 63;  // between minor_fault_read_then_write (60) and thp_fault (70): 16k to 1024k
  // Copy-on-write on one size, the 64 KiB most deployments pick where it is offered.
  if (!sizes.empty()) {
    const size_t kb = std::find(sizes.begin(), sizes.end(), 64) != sizes.end() ? 64 : sizes.front();
    std::vector<Claim> cow = one_minor_fault();
    // Page or folio, each batch one or the other (checked per batch above); where pagemap shows
    // no frames the claim is "not verified", never passed.
    cow.push_back({"folio_copies_per_write", {0, 1}});
    add_row({.id = fmt::format("mthp_cow_fault_{}k", kb),
             .label = fmt::format("first write to a {} KiB mTHP folio shared with a live forked child "
                                  "(copy-on-write)", kb),
             .family = "cow",
             .event = fmt::format("one first write to a shared {} KiB folio", kb),
             .claims = cow,
             .ladder_rank = 76},
            [kb](benchmark::State& s) { mthp_cow_row(s, kb); });
  }
  for (size_t kb : sizes)
    add_row({.id = fmt::format("mthp_fault_{}k", kb),
             .label = fmt::format("first write to a fresh {} KiB chunk of a private anonymous region "
                                  "(one fault allocates and zeroes a {} KiB mTHP folio)", kb, kb),
             .family = "anonymous",
             .event = fmt::format("one write to a fresh {} KiB chunk", kb),
             .claims = claims,
             .ladder_rank = rank++},
            [kb](benchmark::State& s) { mthp_row(s, kb); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
