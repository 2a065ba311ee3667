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
// it (no root, NO_SYSTEM_CHANGES=1). Not modelled: copy-on-write and swap-in of mTHP folios,
// shmem and file-backed large folios, the allocator's fallback under fragmentation (counted and
// claimed absent, not measured), khugepaged.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/backing.hpp"
#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"
#include "core/sysfs.hpp"
#include "core/system_changes.hpp"

namespace pageladder {
namespace {

const std::string kThpDir = "/sys/kernel/mm/transparent_hugepage";

std::string size_dir(size_t kb) { return fmt::format("{}/hugepages-{}kB", kThpDir, kb); }

// The anonymous mTHP sizes this kernel offers below the PMD size, in kB, smallest first: those
// with an `enabled` knob (a size for shmem only, such as 8 KiB on x86, has `shmem_enabled` alone).
std::vector<size_t> offered_sizes() {
  std::vector<size_t> sizes;
  const size_t pmd_kb = thp_size() / 1024;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(kThpDir, error)) {
    const std::string name = entry.path().filename();
    size_t kb = 0;
    if (std::sscanf(name.c_str(), "hugepages-%zukB", &kb) == 1 && kb * 1024 > page_size() && kb < pmd_kb &&
        std::filesystem::exists(entry.path() / "enabled"))
      sizes.push_back(kb);
  }
  std::sort(sizes.begin(), sizes.end());
  return sizes;
}

std::optional<int64_t> size_stat(size_t kb, const char* name) {
  return read_integer(fmt::format("{}/stats/{}", size_dir(kb), name));
}

// A size's `enabled` lets a MADV_HUGEPAGE region use it as found: madvise or always, or inherit
// from a top level that is one of those.
bool usable_as_found(size_t kb) {
  const auto mode = read_selected(size_dir(kb) + "/enabled").value_or("never");
  if (mode == "inherit") {
    const auto top = read_selected(kThpDir + "/enabled").value_or("never");
    return top == "madvise" || top == "always";
  }
  return mode == "madvise" || mode == "always";
}

// Spans of 2 MiB (the PMD size), each missing its first page: no PMD-sized huge page fits in
// any of them. Chunk 0 of a span (the size's first chunk, short of its first page) is the
// anchor that keeps the span's page table; chunks 1.. are the events'.
class ChunkedRegion {
 public:
  ChunkedRegion(size_t chunk_bytes, size_t spans)
      : chunk_(chunk_bytes), span_(thp_size()), spans_(spans),
        mapping_(Mapping::anonymous(spans * span_, Backing::kHugePages, span_)) {
    for (size_t s = 0; s < spans_; ++s) {
      if (munmap(mapping_.data() + s * span_, page_size()) != 0) throw std::runtime_error("munmap failed");
      touch_write(mapping_.data() + s * span_ + page_size());  // the anchor
    }
  }
  size_t events() const { return spans_ * (span_ / chunk_ - 1); }
  char* chunk(size_t i) const {
    const size_t per_span = span_ / chunk_ - 1;
    return mapping_.data() + (i / per_span) * span_ + (1 + i % per_span) * chunk_;
  }
  // Releases every event chunk; the anchors stay.
  void discard() const {
    for (size_t s = 0; s < spans_; ++s) mapping_.advise(s * span_ + chunk_, span_ - chunk_, MADV_DONTNEED);
  }

 private:
  size_t chunk_, span_, spans_;
  Mapping mapping_;
};

void mthp_row(benchmark::State& state, size_t kb) {
  if (!size_stat(kb, "anon_fault_alloc")) {
    skip(state, fmt::format("{}/stats has no anon_fault_alloc (6.10): the folio size cannot be proven",
                            size_dir(kb)));
    return;
  }
  std::unique_ptr<ScopedSysctl> enabled;
  if (!usable_as_found(kb)) {
    if (flag("no_system_changes") || geteuid() != 0) {
      skip(state, fmt::format("{}/enabled is off and {}", size_dir(kb),
                              flag("no_system_changes") ? "NO_SYSTEM_CHANGES forbids switching it on"
                                                        : "switching it on needs root"));
      return;
    }
    enabled = std::make_unique<ScopedSysctl>(size_dir(kb) + "/enabled", "madvise");
  }
  // About 4 MiB of faults per batch, and no fewer than 16 events.
  const size_t chunk = kb * 1024, per_span = thp_size() / chunk - 1;
  const size_t spans = std::max<size_t>((16 + per_span - 1) / per_span, (size_t{4} << 20) / thp_size());
  ChunkedRegion region(chunk, spans);
  EventRun run(state);
  std::optional<int64_t> alloc_before, fallback_before;
  bool first = true;
  run_batched_events(
      state, run,
      [&] {
        if (!first) region.discard();
        first = false;
        alloc_before = size_stat(kb, "anon_fault_alloc");
        fallback_before = size_stat(kb, "anon_fault_fallback");
        return region.events();
      },
      [&](size_t i) { touch_write(region.chunk(i)); },
      [&](size_t n) {
        const auto alloc = size_stat(kb, "anon_fault_alloc"), fallback = size_stat(kb, "anon_fault_fallback");
        if (alloc && alloc_before) run.add_evidence("folio_allocs_per_event", double(*alloc - *alloc_before), double(n));
        if (fallback && fallback_before)
          run.add_evidence("folio_fallbacks_per_event", double(*fallback - *fallback_before), double(n));
        // The whole chunk was mapped by the one fault: its last page reads back zero, no fault.
        for (size_t i = 0; i < n; ++i)
          if (touch_read(region.chunk(i) + chunk - 1) != 0) {
            run.invalidate(fmt::format("chunk {} does not read zero past its first page", i));
            break;
          }
      });
  run.set_counter("folio_kb", static_cast<double>(kb));
  run.set_counter("ns_per_4k", run.mean_ns() * 4096.0 / static_cast<double>(chunk));
  run.note(enabled ? fmt::format("hugepages-{}kB/enabled set to madvise for this row, restored after", kb)
                   : fmt::format("hugepages-{}kB/enabled as found ({})", kb,
                                 read_selected(size_dir(kb) + "/enabled").value_or("?")));
  run.finish();
}

void register_rows() {
  std::vector<Claim> claims = one_minor_fault();
  claims.push_back({"folio_allocs_per_event", {0.99, kUnbounded}});
  claims.push_back({"folio_fallbacks_per_event", {0, 0.01}});
  if (why_no_thp() || !std::filesystem::exists(kThpDir + "/hugepages-64kB")) {
    // One row says why, where the kernel offers no mTHP size at all.
    const std::string why = why_no_thp().value_or(
        fmt::format("{} has no hugepages-<size>kB knobs: multi-size THP needs 6.8", kThpDir));
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
  for (size_t kb : offered_sizes())
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
