// A dependent pointer chase for TLB measurements: one node (one cache line) per page, visited in
// a random single cycle (Sattolo's algorithm, seeded, so every run builds the same cycle), the
// line rotating inside the page so the N lines spread over all L1 sets instead of piling into
// one. The packed layout puts the same N lines in consecutive lines of few pages: the control
// that has the same cache footprint but almost no TLB footprint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/mapping.hpp"

namespace benchmark {
class State;
}

namespace pageladder {

class EventRun;

enum class ChaseLayout { kBasePages, kHugePages, kHugetlb, kPacked };
const char* layout_name(ChaseLayout layout);  // "4k", "thp", "hugetlb", "control"

constexpr size_t kLineSize = 64;

// The cache line (0..63) node j occupies within its page.
inline size_t line_slot(size_t j) { return (j * 29) % 64; }

class PointerChase {
 public:
  // Throws std::system_error when the memory cannot be had (e.g. no hugetlb pool).
  PointerChase(ChaseLayout layout, size_t nodes, uint64_t seed = 42);

  void* start() const { return mapping_.data() + offset(cycle_.front()); }
  size_t nodes() const { return nodes_; }
  ChaseLayout layout() const { return layout_; }
  const Mapping& mapping() const { return mapping_; }
  size_t offset(size_t node) const;
  // Node indices in the order the chain visits them, starting at start().
  const std::vector<size_t>& cycle() const { return cycle_; }

  // One untimed pass over the whole cycle: loads the TLB and caches as the timed loop will.
  void* walk(void* p, size_t steps) const;

 private:
  ChaseLayout layout_;
  size_t nodes_;
  Mapping mapping_;
  std::vector<size_t> cycle_;
};

// Google Benchmark times the loop, one iteration = one dependent load from `position` (left
// where the chase stopped), counted as one batch of `run`. Returns ns per load.
double time_dependent_loads(benchmark::State& state, EventRun& run, void*& position);

// Sizes for a log sweep: `per_octave` points per doubling from lo to hi, rounded, unique.
std::vector<size_t> log_sweep(size_t lo, size_t hi, int per_octave);

}  // namespace pageladder
