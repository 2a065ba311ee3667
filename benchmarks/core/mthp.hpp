// Multi-size THP (mTHP, 6.8+): the sizes a kernel offers for anonymous memory, each size's own
// counters (stats/, 6.10+), switching a size on for one row (journaled and restored), and a
// region in which only mTHP folios, never a PMD-sized huge page, can back a fault. Shared by
// mthp_bench and swap_in_bench's mTHP row, so they agree on what a size is and how it is proven.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/mapping.hpp"

namespace pageladder {

class ScopedSysctl;

// /sys/kernel/mm/transparent_hugepage/hugepages-<kb>kB
std::string mthp_size_dir(size_t kb);

// The anonymous mTHP sizes this kernel offers below the PMD size, in kB, smallest first: those
// with an `enabled` knob (a size for shmem only, such as 8 KiB on x86, has `shmem_enabled` alone).
std::vector<size_t> mthp_sizes();

// One of the size's counters (stats/<name>: anon_fault_alloc, split, swpin ...), system-wide.
std::optional<int64_t> mthp_stat(size_t kb, const char* name);

// Why a row on `kb` cannot run here, or nothing. Where the size is off it is switched on
// (`enabled` = madvise) in `switched`, journaled, until `switched` goes; not without root, nor
// with --pageladder_no_system_changes.
std::optional<std::string> mthp_size_for_row(size_t kb, std::unique_ptr<ScopedSysctl>& switched);

// What the row's note says of the size's setting.
std::string mthp_size_note(size_t kb, bool switched);

// Spans of 2 MiB (the PMD size), each missing its first page: no PMD-sized huge page fits in
// any of them, whatever hugepages-2048kB says. Chunk 0 of a span (the size's first chunk, short
// of its first page) is the anchor that keeps the span's page table; chunks 1.. are the events'.
class MthpRegion {
 public:
  MthpRegion(size_t chunk_bytes, size_t spans);
  size_t chunks() const { return spans_ * (span_ / chunk_ - 1); }
  size_t chunk_bytes() const { return chunk_; }
  char* chunk(size_t i) const {
    const size_t per_span = span_ / chunk_ - 1;
    return mapping_.data() + (i / per_span) * span_ + (1 + i % per_span) * chunk_;
  }
  // Every event chunk advised with `advice` (MADV_DONTNEED, MADV_PAGEOUT); the anchors stay.
  void advise_chunks(int advice) const;

 private:
  size_t chunk_, span_, spans_;
  Mapping mapping_;
};

class Pagemap;

// Whether the chunk at `chunk` is one folio of its size, proven for this process without touching
// it: every page of it mapped (pagemap; one fault mapped them all) and, where kpageflags can be
// read (root), its frames contiguous, the first a large folio's head and the last a tail. Returns
// why not, or nothing.
std::optional<std::string> mthp_chunk_not_one_folio(const Pagemap& pagemap, const char* chunk, size_t chunk_bytes);

// Spans enough for about 4 MiB of chunks of `chunk_bytes`, and at least `min_chunks` chunks.
size_t mthp_spans_for(size_t chunk_bytes, size_t min_chunks = 16);

}  // namespace pageladder
