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
// the 4 KiB written or the whole folio (`folio_copies_per_write`, from this process's page table
// against the child's), claims it did one or the other throughout (`copy_kinds_mixed` 0), and the
// child must still see the original bytes.
#include <fcntl.h>
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

// The frame behind a page of the forked partner (its pagemap: the same addresses as ours), or 0.
class PartnerPagemap {
 public:
  explicit PartnerPagemap(pid_t pid) : fd_(open(fmt::format("/proc/{}/pagemap", pid).c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~PartnerPagemap() {
    if (fd_ >= 0) close(fd_);
  }
  PartnerPagemap(const PartnerPagemap&) = delete;
  PartnerPagemap& operator=(const PartnerPagemap&) = delete;
  uint64_t frame(const void* address) const {
    uint64_t entry = 0;
    const off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(address) / page_size() * sizeof entry);
    if (fd_ < 0 || pread(fd_, &entry, sizeof entry, at) != static_cast<ssize_t>(sizeof entry)) return 0;
    return Pagemap::decode(entry).pfn;
  }

 private:
  int fd_;
};

// Copy-on-write of an mTHP folio: every chunk faulted in as one folio of the size (its counter
// proves it), a partner forked to share them all, then the first write to each chunk. Whether the
// kernel copies the 4 KiB written or the whole folio is the finding, read from the page tables
// (pagemap, root) after each batch: a whole-folio copy maps the chunk's last page, never
// written, to a new frame in this process while the partner keeps the old one; a page copy
// leaves both on the same frame (compared with each other, not with an earlier reading, so a
// migration of the shared folio meanwhile changes nothing). Each batch must be all one kind and
// every batch the same kind: `copy_kinds_mixed` counts the batches that were not, claimed 0.
// The size's own count of folios in use (stats/nr_anon) is system-wide and moves with any
// process: it is not evidence here. smaps' Private_Dirty cannot say either: 6.18 accounts a
// partly shared large folio by its average mapcount, 2 kB per write here. The partner must still
// see the original bytes either way.
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
  // Frame numbers are shown to root only: decided once, on a page surely present (this stack's).
  const volatile char here = 0;
  const bool frames_known = pagemap.at(const_cast<const char*>(&here)).value_or(PageState{}).pfn != 0;
  uint64_t page_copy_batches = 0, folio_copy_batches = 0, mixed_batches = 0;
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
        return firsts.size();
      },
      [&](size_t i) { touch_write(firsts[i], kCowWritten); },
      [&](size_t n) {
        // Chunks whose unwritten last page is on another frame here than in the partner.
        if (frames_known) {
          const PartnerPagemap partner(holder->pid());
          size_t folio_copied = 0, unknown = 0;
          for (size_t i = 0; i < n; ++i) {
            const char* last = firsts[i] + (pages - 1) * page_size();
            const uint64_t mine = pagemap.at(last).value_or(PageState{}).pfn, theirs = partner.frame(last);
            unknown += mine == 0 || theirs == 0;
            folio_copied += mine != theirs;
          }
          if (unknown)
            run.invalidate(fmt::format("{} chunks' last page was not mapped after the writes, here or in the partner",
                                       unknown));
          run.add_evidence("folio_copies_per_write", static_cast<double>(folio_copied), static_cast<double>(n));
          if (folio_copied == 0)
            ++page_copy_batches;
          else if (folio_copied == n)
            ++folio_copy_batches;
          else
            ++mixed_batches;
        }
        check_holder_unchanged(run, *holder);
        holder.reset();
      });
  if (frames_known) {
    // A batch of both kinds, or batches of different kinds: the kernel did not do one thing.
    run.set_counter("copy_kinds_mixed",
                    static_cast<double>(mixed_batches + (page_copy_batches && folio_copy_batches ? 1 : 0)));
  } else {
    run.cannot_verify("copy_kinds_mixed", "pagemap shows no frame numbers (root only): whether the page or the "
                                          "folio was copied is not checked");
  }
  if (page_copy_batches && !folio_copy_batches)
    run.note(fmt::format("the kernel copied the 4 KiB written, not the shared {} KiB folio", kb));
  else if (folio_copy_batches && !page_copy_batches)
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
  // Both series, as the docs (generated from the rows) show them whatever sizes a kernel offers.
  const std::string needs =
      "multi-size THP (6.8) with per-size stats/ (6.10); root to switch the size on for the row "
      "(journaled and restored), unless it is on already";
  const std::string cow_needs = needs + "; root for page frame numbers (pagemap), else whether the page "
                                        "or the folio was copied is not verified";
  const char* fault_series = "mthp_fault_<size>k";
  const char* fault_series_label =
      "first write to a fresh <size> KiB chunk of a private anonymous region (one fault allocates and "
      "zeroes a <size> KiB mTHP folio), each size the kernel offers below the PMD size";
  const char* cow_series = "mthp_cow_fault_<size>k";
  const char* cow_series_label =
      "first write to a <size> KiB mTHP folio shared with a live forked child (copy-on-write), 64 KiB "
      "where offered";
  std::vector<Claim> cow = one_minor_fault();
  // Page or folio, one or the other throughout (mixed batches counted above); where pagemap
  // shows no frames the claim is "not verified", never passed.
  cow.push_back({"copy_kinds_mixed", {0, 0}});
  // A size's own `madvise` serves a MADV_HUGEPAGE region whatever the top-level setting says;
  // only a kernel without THP, or without per-size knobs, has no mTHP row to run.
  if (thp_size() == 0 || sizes.empty()) {
    // One row of each series says why, where the kernel offers no mTHP size at all.
    const std::string why = (thp_size() == 0 ? why_no_thp() : std::nullopt).value_or(
        "/sys/kernel/mm/transparent_hugepage has no hugepages-<size>kB knob for anonymous memory: "
        "multi-size THP needs 6.8");
    add_row({.id = "mthp_fault",
             .label = "first write to a fresh chunk of a multi-size THP (mTHP) size",
             .family = "anonymous",
             .event = "one write to a fresh chunk",
             .claims = claims,
             .ladder_rank = 63,
             .needs = needs, .series = fault_series, .series_label = fault_series_label},
            [why](benchmark::State& s) { skip(s, why); });
    add_row({.id = "mthp_cow_fault",
             .label = "first write to a multi-size THP (mTHP) folio shared with a live forked child",
             .family = "cow",
             .event = "one first write to a shared folio",
             .claims = cow,
             .ladder_rank = 76,
             .needs = cow_needs, .series = cow_series, .series_label = cow_series_label},
            [why](benchmark::State& s) { skip(s, why); });
    return;
  }
  int rank = 63;  // between minor_fault_read_then_write (60) and thp_fault (70): 16k to 1024k
  // Copy-on-write on one size, the 64 KiB most deployments pick where it is offered.
  if (!sizes.empty()) {
    const size_t kb = std::find(sizes.begin(), sizes.end(), 64) != sizes.end() ? 64 : sizes.front();
    add_row({.id = fmt::format("mthp_cow_fault_{}k", kb),
             .label = fmt::format("first write to a {} KiB mTHP folio shared with a live forked child "
                                  "(copy-on-write)", kb),
             .family = "cow",
             .event = fmt::format("one first write to a shared {} KiB folio", kb),
             .claims = cow,
             .ladder_rank = 76,
             .needs = cow_needs, .series = cow_series, .series_label = cow_series_label},
            [kb](benchmark::State& s) { mthp_cow_row(s, kb); });
  }
  for (size_t kb : sizes)
    add_row({.id = fmt::format("mthp_fault_{}k", kb),
             .label = fmt::format("first write to a fresh {} KiB chunk of a private anonymous region "
                                  "(one fault allocates and zeroes a {} KiB mTHP folio)", kb, kb),
             .family = "anonymous",
             .event = fmt::format("one write to a fresh {} KiB chunk", kb),
             .claims = claims,
             .ladder_rank = rank++,
             .needs = needs, .series = fault_series, .series_label = fault_series_label},
            [kb](benchmark::State& s) { mthp_row(s, kb); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
