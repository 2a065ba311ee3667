// tlb_bench: the bottom rungs of the ladder, a load whose translation hits the TLB and loads
// that miss it.
//
// A dependent pointer chase (core/pointer_chase.hpp) over N pages, one cache line per page, is
// swept over N on a log scale, on 4 KiB pages (MADV_NOHUGEPAGE, verified), on 2 MiB THP
// (verified), on hugetlb pages where a pool exists, and packed into few pages (the control: same
// lines, same cache footprint, almost no TLB footprint). One iteration is one load; Google
// Benchmark times the loop. The translation penalty is 4k minus control at the same N; its
// plateaus (core/plateaus.hpp) give the rungs, read off the measurement, never assumed:
//   tlb_hit   a load in the first plateau: the translation hits the L1 DTLB
//   stlb_hit  a load in the second plateau: L1 DTLB miss, second-level TLB hit
//   page_walk a load well past the second knee: every TLB level misses, the walker runs
// The rung rows report the reach of each level (between the last size on a plateau and the
// next size) beside what CPUID claims. Not modelled: stores, multiple walkers in parallel,
// prefetch into the TLB, PTE placement in the caches (it varies with N, as on real programs).
#include <sys/mman.h>

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/machine_context.hpp"
#include "core/mapping.hpp"
#include "core/pagemap.hpp"
#include "core/plateaus.hpp"
#include "core/pointer_chase.hpp"
#include "core/sysfs.hpp"

namespace pageladder {
namespace {

struct SweepConfig {
  std::vector<size_t> sizes;
};

SweepConfig& config() {
  static SweepConfig c;
  return c;
}

// ns per load of every call of every sweep row, by layout and size (the median is used).
std::map<std::pair<ChaseLayout, size_t>, std::vector<double>>& sweep_results() {
  static std::map<std::pair<ChaseLayout, size_t>, std::vector<double>> r;
  return r;
}

// One chase is kept between calls (Google Benchmark calls a row once per repetition), unless a
// fresh one is asked for: new physical pages and page-table placement for each repetition, so
// the median of a rung is not the luck of one placement.
const PointerChase& chase_for(ChaseLayout layout, size_t pages, bool fresh = false) {
  static std::unique_ptr<PointerChase> cached;
  if (fresh || !cached || cached->layout() != layout || cached->nodes() != pages) {
    cached.reset();
    cached = std::make_unique<PointerChase>(layout, pages);
  }
  return *cached;
}

std::optional<std::string> why_layout_unavailable(ChaseLayout layout, size_t pages) {
  if (layout == ChaseLayout::kHugePages) {
    const std::string mode = thp_enabled();
    if (mode == "never" || mode == "unsupported" || thp_size() == 0)
      return fmt::format("transparent huge pages are '{}'", mode);
  }
  if (layout == ChaseLayout::kHugetlb) {
    const auto free_pages = read_keyed_integer("/proc/meminfo", "HugePages_Free").value_or(0);
    const size_t need = (pages * page_size() + (size_t{2} << 20) - 1) / (size_t{2} << 20);
    if (static_cast<size_t>(free_pages) < need)
      return fmt::format("no hugetlb pool: {} free huge pages, {} needed (vm.nr_hugepages)",
                         free_pages, need);
  }
  return std::nullopt;
}

// The backing must be what the layout says, or the row measures something else.
void verify_backing(EventRun& run, const PointerChase& chase) {
  const auto smaps = smaps_for(chase.mapping().data());
  const int64_t thp_kb = smaps.count("AnonHugePages") ? smaps.at("AnonHugePages") : -1;
  const auto size_kb = static_cast<int64_t>(chase.mapping().size() / 1024);
  if ((chase.layout() == ChaseLayout::kBasePages || chase.layout() == ChaseLayout::kPacked) &&
      thp_kb != 0)
    run.invalidate(fmt::format("{} kB of the 4 KiB layout was THP-backed", thp_kb));
  if (chase.layout() == ChaseLayout::kHugePages && thp_kb < size_kb)
    run.invalidate(fmt::format("only {} of {} kB THP-backed", thp_kb, size_kb));
}

// Times the chase with Google Benchmark's loop, one iteration per load. Returns ns per load.
double time_chase(benchmark::State& state, const PointerChase& chase) {
  EventRun run(state, EventClaim{{0, 0}, {0, 0}}, {"cycles", "stlb_hits", "dtlb_walks"},
               Timing::kBatched);
  verify_backing(run, chase);
  void* p = chase.walk(chase.start(), chase.nodes());  // warm the TLB and caches
  run.begin_batch();
  const uint64_t t0 = run.clock().start();
  while (state.KeepRunningBatch(16)) {
    for (int k = 0; k < 16; ++k) p = *static_cast<void**>(p);
  }
  const uint64_t t1 = run.clock().stop();
  run.end_batch();
  benchmark::DoNotOptimize(p);
  const double ns = run.clock().to_ns(t1 - t0) / static_cast<double>(state.iterations());
  run.set_counter("pages", static_cast<double>(chase.nodes()));
  run.set_counter("cycles_per_event_estimated", ns * estimate_core_ghz());
  run.finish();
  return ns;
}

void sweep_row(benchmark::State& state, ChaseLayout layout, size_t pages) {
  if (auto why = why_layout_unavailable(layout, pages)) {
    skip(state, *why);
    return;
  }
  const double ns = time_chase(state, chase_for(layout, pages));
  if (state.iterations() >= 1000) sweep_results()[{layout, pages}].push_back(ns);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The 4k and control curves over the sweep sizes; sizes the sweep rows did not cover (say,
// under --benchmark_filter=tlb_hit) are measured here directly, briefly (as control_at does).
void sweep_curves(std::vector<CurvePoint>* tlb, std::vector<CurvePoint>* control) {
  const EventClock& clock = EventClock::get();
  tlb->clear();
  control->clear();
  for (size_t pages : config().sizes) {
    for (ChaseLayout layout : {ChaseLayout::kBasePages, ChaseLayout::kPacked}) {
      auto& results = sweep_results()[{layout, pages}];
      if (results.empty()) {
        const PointerChase& chase = chase_for(layout, pages);
        void* p = chase.walk(chase.start(), chase.nodes());
        const size_t steps = std::max<size_t>(200000, 4 * pages);
        const uint64_t t0 = clock.start();
        p = chase.walk(p, steps);
        results.push_back(clock.to_ns(clock.stop() - t0) / static_cast<double>(steps));
        benchmark::DoNotOptimize(p);
      }
      (layout == ChaseLayout::kBasePages ? tlb : control)
          ->push_back({static_cast<double>(pages), median(results)});
    }
  }
}

enum class Rung { kTlbHit, kStlbHit, kPageWalk };

size_t power_of_two_at_most(double x) {
  size_t p = 1;
  while (static_cast<double>(p * 2) <= x) p *= 2;
  return p;
}

// How many pages a rung is measured at, or why the sweep shows no such level. Powers of two
// placed by the measured knees (half the L1 reach; midway between the knees; four times the
// second-level reach), so quick and full runs, whose sweeps differ in density, measure a rung
// at the same size and can be compared.
std::optional<size_t> rung_pages(Rung rung, const std::vector<CurvePoint>& tlb,
                                 const TlbKnees& knees, std::string* why) {
  const double lo = tlb.front().size, hi = tlb.back().size;
  const auto clamp = [&](double x) {
    return std::max(static_cast<size_t>(lo), std::min(power_of_two_at_most(x), static_cast<size_t>(hi)));
  };
  if (!knees.l1_last) {
    if (rung == Rung::kTlbHit) return clamp(lo);
    *why = fmt::format("no TLB knee in the sweep up to {} pages", hi);
    return std::nullopt;
  }
  const double l1_reach = tlb[*knees.l1_last].size;
  if (rung == Rung::kTlbHit) return clamp(l1_reach / 2);
  if (!knees.stlb_last) {
    *why = fmt::format("one TLB knee only (after {} pages): no second-level knee up to {} pages",
                       l1_reach, hi);
    return std::nullopt;
  }
  const double stlb_reach = tlb[*knees.stlb_last].size;
  if (rung == Rung::kStlbHit)
    return clamp(std::sqrt(tlb[*knees.stlb_first].size * stlb_reach) * 1.2);
  if (*knees.stlb_last + 1 >= tlb.size()) {
    *why = "the sweep ends at the second-level knee: no point beyond it";
    return std::nullopt;
  }
  return clamp(4 * tlb[*knees.stlb_last + 1].size);
}

// ns per load of the control at `pages`, from the sweep when it has that size.
double control_at(size_t pages, const std::vector<CurvePoint>& control) {
  for (const CurvePoint& p : control)
    if (static_cast<size_t>(p.size) == pages) return p.value;
  const PointerChase& chase = chase_for(ChaseLayout::kPacked, pages);
  const EventClock& clock = EventClock::get();
  void* p = chase.walk(chase.start(), chase.nodes());
  const size_t steps = std::max<size_t>(200000, 4 * pages);
  const uint64_t t0 = clock.start();
  p = chase.walk(p, steps);
  benchmark::DoNotOptimize(p);
  return clock.to_ns(clock.stop() - t0) / static_cast<double>(steps);
}

void rung_row(benchmark::State& state, Rung rung) {
  std::vector<CurvePoint> tlb, control;
  sweep_curves(&tlb, &control);
  const TlbKnees knees = find_tlb_knees(tlb, control);
  std::string why;
  const auto pages = rung_pages(rung, tlb, knees, &why);
  if (!pages) {
    skip(state, why);
    return;
  }
  const double baseline = control_at(*pages, control);
  const double ns = time_chase(state, chase_for(ChaseLayout::kBasePages, *pages, /*fresh=*/true));
  state.counters["control_ns"] = baseline;
  state.counters["translation_penalty_ns"] = ns - baseline;
  for (auto [name, last] : {std::pair{"l1_dtlb", knees.l1_last}, std::pair{"stlb", knees.stlb_last}}) {
    if (!last) continue;
    state.counters[std::string(name) + "_reach_pages"] = tlb[*last].size;
    state.counters[std::string(name) + "_reach_next_pages"] = tlb[*last + 1].size;
  }
  const CpuidDtlb hint = cpuid_dtlb();
  state.counters["cpuid_l1_dtlb_entries"] = hint.l1_entries;
  state.counters["cpuid_l2_dtlb_entries"] = hint.l2_entries;
}

void register_rows() {
  const long long lo = flag_integer("tlb_min_pages", 8);
  const long long hi = flag_integer("tlb_max_pages", quick() ? 32768 : 65536);
  if (lo < 2 || hi < lo)
    throw std::invalid_argument(fmt::format(
        "the TLB sweep needs 2 <= tlb_min_pages <= tlb_max_pages, got {} and {}", lo, hi));
  const auto available_kb = read_keyed_integer("/proc/meminfo", "MemAvailable").value_or(0);
  const long long need_kb = hi * static_cast<long long>(page_size() / 1024) + 4096;
  if (need_kb > available_kb / 2)
    throw std::invalid_argument(fmt::format(
        "a sweep up to {} pages needs {} MiB, more than half of the {} MiB available", hi,
        need_kb / 1024, available_kb / 1024));
  config().sizes = log_sweep(static_cast<size_t>(lo), static_cast<size_t>(hi), quick() ? 2 : 4);

  for (ChaseLayout layout : {ChaseLayout::kBasePages, ChaseLayout::kPacked,
                             ChaseLayout::kHugePages, ChaseLayout::kHugetlb}) {
    for (size_t pages : config().sizes) {
      benchmark::RegisterBenchmark(
          fmt::format("tlb_sweep/{}/pages:{}", layout_name(layout), pages).c_str(),
          [layout, pages](benchmark::State& s) { sweep_row(s, layout, pages); })
          ->Unit(benchmark::kNanosecond);
    }
  }
  for (auto [name, rung] : {std::pair{"tlb_hit", Rung::kTlbHit},
                            std::pair{"stlb_hit", Rung::kStlbHit},
                            std::pair{"page_walk", Rung::kPageWalk}}) {
    // A fixed, longer time than the sweep points get (and the same in quick and full runs, so
    // the row names match between them): these are the numbers the ladder shows.
    benchmark::RegisterBenchmark(name, [rung = rung](benchmark::State& s) { rung_row(s, rung); })
        ->Unit(benchmark::kNanosecond)
        ->MinTime(0.05);
  }
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
