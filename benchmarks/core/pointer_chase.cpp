#include "core/pointer_chase.hpp"

#include <sys/mman.h>

#include <cmath>
#include <numeric>
#include <random>

#include <benchmark/benchmark.h>

#include "core/event_run.hpp"

namespace pageladder {

const char* layout_name(ChaseLayout layout) {
  switch (layout) {
    case ChaseLayout::kBasePages: return "4k";
    case ChaseLayout::kHugePages: return "thp";
    case ChaseLayout::kHugetlb: return "hugetlb";
    case ChaseLayout::kPacked: return "control";
  }
  return "?";
}

namespace {

Backing backing_for(ChaseLayout layout) {
  switch (layout) {
    case ChaseLayout::kHugePages: return Backing::kHugePages;
    case ChaseLayout::kHugetlb: return Backing::kHugetlb;
    default: return Backing::kBasePages;
  }
}

size_t bytes_for(ChaseLayout layout, size_t nodes) {
  if (layout == ChaseLayout::kPacked)
    return (nodes * kLineSize + page_size() - 1) / page_size() * page_size();
  if (layout == ChaseLayout::kHugePages || layout == ChaseLayout::kHugetlb) {
    const size_t huge = thp_size() ? thp_size() : size_t{2} << 20;
    return (nodes * page_size() + huge - 1) / huge * huge;
  }
  return nodes * page_size();
}

}  // namespace

PointerChase::PointerChase(ChaseLayout layout, size_t nodes, uint64_t seed)
    : layout_(layout),
      nodes_(nodes),
      mapping_(Mapping::anonymous(bytes_for(layout, nodes), backing_for(layout))) {
  // Every page gets a real, private frame first (a write, so not the shared zero page): in one
  // call where the kernel has MADV_POPULATE_WRITE (5.14), which spares a large chase one
  // exception per page (seconds for 131072 pages under a hypervisor); page by page otherwise.
#ifdef MADV_POPULATE_WRITE
  const bool populated = madvise(mapping_.data(), mapping_.size(), MADV_POPULATE_WRITE) == 0;
#else
  const bool populated = false;
#endif
  if (!populated)
    for (size_t off = 0; off < mapping_.size(); off += page_size()) touch_write(mapping_.data() + off);
  // Sattolo: a uniformly random permutation that is a single cycle.
  std::vector<size_t> next(nodes);
  std::iota(next.begin(), next.end(), size_t{0});
  std::mt19937_64 rng(seed);
  for (size_t i = nodes - 1; i > 0; --i) {
    std::uniform_int_distribution<size_t> pick(0, i - 1);
    std::swap(next[i], next[pick(rng)]);
  }
  for (size_t j = 0; j < nodes; ++j)
    *reinterpret_cast<void**>(mapping_.data() + offset(j)) = mapping_.data() + offset(next[j]);
  cycle_.reserve(nodes);
  for (size_t j = 0, k = 0; k < nodes; ++k, j = next[j]) cycle_.push_back(j);
}

size_t PointerChase::offset(size_t node) const {
  if (layout_ == ChaseLayout::kPacked) return node * kLineSize;
  return node * page_size() + line_slot(node) * kLineSize;
}

void* PointerChase::walk(void* p, size_t steps) const {
  for (size_t i = 0; i < steps; ++i) p = *static_cast<void* volatile*>(p);
  return p;
}

std::vector<size_t> log_sweep(size_t lo, size_t hi, int per_octave) {
  std::vector<size_t> sizes;
  for (int k = 0;; ++k) {
    const double x = static_cast<double>(lo) * std::pow(2.0, static_cast<double>(k) / per_octave);
    if (x > static_cast<double>(hi) * 1.0001) break;
    const auto n = static_cast<size_t>(std::llround(x));
    if (sizes.empty() || sizes.back() != n) sizes.push_back(n);
  }
  if (sizes.empty() || sizes.back() != hi) sizes.push_back(hi);
  return sizes;
}

double time_dependent_loads(benchmark::State& state, EventRun& run, void*& position) {
  void* p = position;
  run.begin_batch();
  const uint64_t t0 = run.clock().start();
  while (state.KeepRunningBatch(16)) {
    for (int k = 0; k < 16; ++k) p = *static_cast<void**>(p);
  }
  const uint64_t t1 = run.clock().stop();
  run.end_batch();
  benchmark::DoNotOptimize(p);
  position = p;
  return run.clock().to_ns(t1 - t0) / static_cast<double>(state.iterations());
}

}  // namespace pageladder
