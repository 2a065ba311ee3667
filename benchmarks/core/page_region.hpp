// A region of base (4 KiB) pages for fault benchmarks, laid out so page tables stay allocated:
// page 0 of every page table is a resident anchor that is never released, so releasing the
// event pages (MADV_DONTNEED) cannot free the table (Linux 6.14+ reclaims empty PTE tables) and
// each measured fault is the fault itself, not a page-table allocation.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

#include "core/mapping.hpp"

namespace pageladder {

class EventRun;
class Pagemap;

class BasePageRegion {
 public:
  explicit BasePageRegion(size_t page_tables = 4);

  size_t events() const { return tables_ * (pages_per_table_ - 1); }
  char* page(size_t i) const {
    const size_t table = i / (pages_per_table_ - 1), slot = 1 + i % (pages_per_table_ - 1);
    return mapping_.data() + table * span_ + slot * page_size();
  }
  const Mapping& mapping() const { return mapping_; }

  // Writes `value` to the first byte of every event page (they become real anonymous pages).
  void populate(char value) const;
  // Releases every event page with `advice` (MADV_DONTNEED; MADV_FREE, MADV_PAGEOUT); the anchors
  // stay.
  void discard_event_pages(int advice = MADV_DONTNEED) const;
  // The first n event pages must be present, and no part of the region THP-backed.
  void verify_faulted_in(EventRun& run, size_t n, const Pagemap& pagemap) const;

 private:
  size_t tables_, span_, pages_per_table_;
  Mapping mapping_;
};

}  // namespace pageladder
