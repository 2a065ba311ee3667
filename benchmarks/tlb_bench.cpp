// tlb_bench: the bottom rungs of the ladder, a load whose translation hits the TLB and loads
// that miss it.
//
// A dependent pointer chase (core/pointer_chase.hpp) over N pages, one cache line per page, is
// swept over N on a log scale, on 4 KiB pages (MADV_NOHUGEPAGE, verified), on 2 MiB THP
// (verified), on hugetlb pages (the pool reserved for the run where it may be, see
// core/hugetlb_pool.hpp), and packed into few pages (the control: same
// lines, same cache footprint, almost no TLB footprint). One iteration is one load; Google
// Benchmark times the loop. The translation penalty is 4k minus control at the same N; its
// plateaus (core/plateaus.hpp) give the reach of each TLB level. The rungs are measured at fixed
// page counts (see Placement: the same in every run, so runs compare), checked against CPUID:
//   tlb_hit   16 pages: the translation hits the L1 DTLB
//   stlb_hit  256 pages: L1 DTLB miss, second-level TLB hit
//   page_walk 131072 pages: every TLB level misses, the walker runs (page tables mostly cached)
// The rung rows report the reach of each level (between the last size on a plateau and the
// next size) beside what CPUID claims. Not modelled: stores, multiple walkers in parallel,
// prefetch into the TLB, PTE placement in the caches (it varies with N, as on real programs).
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/backing.hpp"
#include "core/event_run.hpp"
#include "core/flags.hpp"
#include "core/hugetlb_pool.hpp"
#include "core/machine_context.hpp"
#include "core/mapping.hpp"
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

// Whether this process ran sweep rows (under `make bench`, only the first invocation does).
bool& sweep_ran() {
  static bool ran = false;
  return ran;
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

// Huge pages of 2 MiB a hugetlb chase of `pages` base pages takes.
size_t hugetlb_pages_for(size_t pages) {
  return (pages * page_size() + (size_t{2} << 20) - 1) / (size_t{2} << 20);
}

// Why `layout` cannot be had at `pages`, or nothing. For hugetlb, with `reserve` the pool is grown
// for the whole sweep (its largest point) the first time it is short, and kept until the process
// exits (core/hugetlb_pool.hpp); without, only whether it exists or could be grown is said (the
// rows are registered before any runs, and describing them must change nothing).
std::optional<std::string> why_layout_unavailable(ChaseLayout layout, size_t pages, bool reserve = true) {
  if (layout == ChaseLayout::kHugePages) {
    if (auto why = why_no_thp()) return why;
  }
  if (layout == ChaseLayout::kHugetlb) {
    const size_t need = hugetlb_pages_for(pages);
    if (free_huge_pages() >= need) return std::nullopt;
    if (!reserve) return HugetlbPool::why_unavailable(need);
    // Grown once for the whole sweep (its largest point: the chase of the point before is freed
    // before the next is built); a pool the kernel would not give is not asked for again.
    static std::unique_ptr<HugetlbPool> pool;
    if (!pool) pool = std::make_unique<HugetlbPool>(hugetlb_pages_for(std::max(pages, config().sizes.back())));
    return pool->why_not();
  }
  return std::nullopt;
}

// The backing must be what the layout says, or the row measures something else.
void verify_backing(EventRun& run, const PointerChase& chase) {
  const auto seen_kb = anon_huge_kb(chase.mapping().data());
  const int64_t thp_kb = seen_kb.value_or(-1);  // -1: smaps unreadable, which fails both checks
  const auto size_kb = static_cast<int64_t>(chase.mapping().size() / 1024);
  // The evidence, for the rung rows' claim (4 KiB backing) and the harness's recheck.
  if (seen_kb)
    run.add_evidence("thp_backed_fraction", static_cast<double>(*seen_kb), static_cast<double>(size_kb));
  else
    run.cannot_verify("thp_backed_fraction", "smaps shows no AnonHugePages here");
  if ((chase.layout() == ChaseLayout::kBasePages || chase.layout() == ChaseLayout::kPacked) &&
      thp_kb != 0)
    run.invalidate(fmt::format("{} kB of the 4 KiB layout was THP-backed", thp_kb));
  if (chase.layout() == ChaseLayout::kHugePages && thp_kb < size_kb)
    run.invalidate(fmt::format("only {} of {} kB THP-backed", thp_kb, size_kb));
}

// Times the chase with Google Benchmark's loop, one iteration per load. Returns ns per load.
// `before_finish` adds the caller's own checks and notes to the row.
double time_chase(benchmark::State& state, const PointerChase& chase,
                  const std::function<void(EventRun&)>& before_finish = {}) {
  EventRun run(state, {"cycles", "stlb_hits", "dtlb_walks"}, Timing::kBatched);
  verify_backing(run, chase);
  void* p = chase.walk(chase.start(), chase.nodes());  // warm the TLB and caches
  const double ns = time_dependent_loads(state, run, p);
  run.set_counter("pages", static_cast<double>(chase.nodes()));
  run.set_counter("cycles_per_event_estimated", ns * estimate_core_ghz());
  if (before_finish) before_finish(run);
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
  sweep_ran() = true;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ns per load of a short, warmed chase of `layout` over `pages`, timed outside Google
// Benchmark: for points the sweep rows did not measure in this process.
double brief_chase_ns(ChaseLayout layout, size_t pages) {
  const PointerChase& chase = chase_for(layout, pages);
  const EventClock& clock = EventClock::get();
  void* p = chase.walk(chase.start(), chase.nodes());
  const size_t steps = std::max<size_t>(200000, 4 * pages);
  const uint64_t t0 = clock.start();
  p = chase.walk(p, steps);
  const uint64_t t1 = clock.stop();
  benchmark::DoNotOptimize(p);
  return clock.to_ns(t1 - t0) / static_cast<double>(steps);
}

// The 4k and control curves over the sweep sizes; sizes the sweep rows did not cover (say,
// under --benchmark_filter=tlb_hit) are measured here directly, briefly (as control_at does).
void sweep_curves(std::vector<CurvePoint>* tlb, std::vector<CurvePoint>* control) {
  tlb->clear();
  control->clear();
  for (size_t pages : config().sizes) {
    for (ChaseLayout layout : {ChaseLayout::kBasePages, ChaseLayout::kPacked}) {
      auto& results = sweep_results()[{layout, pages}];
      if (results.empty()) results.push_back(brief_chase_ns(layout, pages));
      (layout == ChaseLayout::kBasePages ? tlb : control)
          ->push_back({static_cast<double>(pages), median(results)});
    }
  }
}

enum class Rung { kTlbHit, kStlbHit, kPageWalk };

// Where each rung is measured: fixed page counts, the same in every run, quick or full, on
// every machine, so two runs' rungs always mean the same thing and can be compared. (Placing
// them by the knees each run detects made them move between runs: the knees move with noise.)
// The defaults suit every x86 TLB we know of: 16 pages fit any L1 DTLB (32 to 96 entries for
// 4 KiB pages), 256 overflow it and fit any second-level TLB (512 to 4096 entries), 131072 are
// 32 times the largest second-level TLB and four times the reach the sweep measures on Zen 4
// (23,170 to 27,554 pages, where the page-walk caches and PTEs in the data caches still hide
// most of a walk; at 32768 the rung sat on that edge, 43 to 373 ns between repetitions).
// --pageladder_tlb_pages=H,S,W (TLB_PAGES) pins
// others; a placement that CPUID contradicts makes the row invalid, never a wrong number.
struct Placement {
  size_t hit = 16, stlb = 256, walk = 131072;
  bool pinned = false;
};

Placement placement() {
  Placement p;
  const auto text = flag("tlb_pages");
  if (!text) return p;
  std::vector<size_t> values;
  size_t start = 0;
  while (start <= text->size()) {
    const size_t end = std::min(text->find_first_of(", ", start), text->size());
    const std::string part = text->substr(start, end - start);
    if (!part.empty()) {
      size_t used = 0;
      long long v = -1;
      try {
        v = std::stoll(part, &used);
      } catch (const std::exception&) {
      }
      if (used != part.size() || v < 2)
        throw std::invalid_argument(fmt::format("--pageladder_tlb_pages: '{}' is not a page count >= 2", part));
      values.push_back(static_cast<size_t>(v));
    }
    start = end + 1;
  }
  if (values.size() != 3 || !(values[0] < values[1] && values[1] < values[2]))
    throw std::invalid_argument(fmt::format(
        "--pageladder_tlb_pages wants three increasing page counts 'hit,stlb,walk', got '{}'", *text));
  return {values[0], values[1], values[2], true};
}

size_t rung_pages(Rung rung, const Placement& p) {
  return rung == Rung::kTlbHit ? p.hit : rung == Rung::kStlbHit ? p.stlb : p.walk;
}

// Why CPUID's TLB sizes say this rung cannot be at `pages`, or nothing (also when CPUID does
// not report them). The rung must sit well inside its level: half an L1 DTLB at most for a hit,
// beyond the L1 DTLB and within half the second level for an STLB hit, four times past the
// second level for a walk.
std::optional<std::string> contradicted_by_cpuid(Rung rung, size_t pages, const CpuidDtlb& cpuid) {
  const size_t l1 = cpuid.l1_entries, l2 = cpuid.l2_entries;
  const auto why = [&](const char* rule) {
    return fmt::format("{} pages {} (CPUID: {} L1 DTLB and {} second-level entries); pin others with TLB_PAGES",
                       pages, rule, l1, l2);
  };
  if (rung == Rung::kTlbHit && l1 && pages > l1 / 2) return why("do not fit in half the L1 DTLB");
  if (rung == Rung::kStlbHit && l1 && pages <= l1) return why("fit in the L1 DTLB");
  if (rung == Rung::kStlbHit && l2 && pages > l2 / 2) return why("do not fit in half the second-level TLB");
  if (rung == Rung::kPageWalk && l2 && pages < 4 * l2) return why("are not four times past the second-level TLB");
  return std::nullopt;
}

// ns per load of the control at `pages`, from the sweep when it has that size; otherwise timed
// briefly once per process (Google Benchmark calls a row several times per repetition, and each
// timing would rebuild the control's chase and then the row's).
double control_at(size_t pages) {
  const auto swept = sweep_results().find({ChaseLayout::kPacked, pages});
  if (swept != sweep_results().end() && !swept->second.empty()) return median(swept->second);
  static std::map<size_t, double> timed;
  const auto known = timed.find(pages);
  return known != timed.end() ? known->second : timed[pages] = brief_chase_ns(ChaseLayout::kPacked, pages);
}

// The reach of each level as the sweep measured it, when the sweep ran in this process (the
// first invocation under `make bench`): the report's reach table and a cross-check of the
// placement, noted on the row (the knees are too noisy to decide validity).
void report_reach(benchmark::State& state, Rung rung, size_t pages, EventRun& run) {
  if (!sweep_ran()) return;
  std::vector<CurvePoint> tlb, control;
  sweep_curves(&tlb, &control);
  const TlbKnees knees = find_tlb_knees(tlb, control);
  for (auto [name, last] : {std::pair{"l1_dtlb", knees.l1_last}, std::pair{"stlb", knees.stlb_last}}) {
    if (!last) continue;
    state.counters[std::string(name) + "_reach_pages"] = tlb[*last].size;
    state.counters[std::string(name) + "_reach_next_pages"] = tlb[*last + 1].size;
  }
  const auto n = static_cast<double>(pages);
  const bool off =
      (rung == Rung::kTlbHit && knees.l1_last && n > tlb[*knees.l1_last].size) ||
      (rung == Rung::kStlbHit && knees.l1_last && n <= tlb[*knees.l1_last].size) ||
      (rung == Rung::kStlbHit && knees.stlb_last && n > tlb[*knees.stlb_last].size) ||
      (rung == Rung::kPageWalk && knees.stlb_last && n <= tlb[*knees.stlb_last + 1].size);
  if (off) run.note(fmt::format("the sweep's knees put {} pages outside this level", pages));
}

// Where the data and the page tables can sit: one cache line of data per page, one 8-byte PTE
// per page (whole page-table pages), against the cache sizes the C library reports.
std::string footprint(size_t pages) {
  const size_t data = pages * 64, tables = (pages + page_size() / 8 - 1) / (page_size() / 8) * page_size();
  const auto kib = [](long bytes) { return bytes > 0 ? fmt::format("{} KiB", bytes / 1024) : std::string("?"); };
  return fmt::format("data {} KiB, page tables {} KiB; caches L1d {}, L2 {}, L3 {}", data / 1024, tables / 1024,
                     kib(sysconf(_SC_LEVEL1_DCACHE_SIZE)), kib(sysconf(_SC_LEVEL2_CACHE_SIZE)),
                     kib(sysconf(_SC_LEVEL3_CACHE_SIZE)));
}

// Why no page count at all can be an STLB hit by CPUID's sizes (the second level no more than
// twice the first: seen where a hypervisor rewrites CPUID), or nothing. Then the rung cannot be
// measured as defined on this machine: it is skipped, unless TLB_PAGES pins a count regardless.
std::optional<std::string> level_unreachable_by_cpuid(Rung rung, const CpuidDtlb& cpuid) {
  const size_t l1 = cpuid.l1_entries, l2 = cpuid.l2_entries;
  if (rung == Rung::kStlbHit && l1 && l2 && l2 / 2 <= l1)
    return fmt::format("CPUID describes a second-level TLB of {} entries beside {} in the L1 DTLB: no page "
                       "count misses the L1 DTLB and fits in half the second level (TLB_PAGES pins one to "
                       "measure anyway)", l2, l1);
  return std::nullopt;
}

void rung_row(benchmark::State& state, Rung rung) {
  const Placement where = placement();
  const size_t pages = rung_pages(rung, where);
  const CpuidDtlb cpuid = cpuid_dtlb();
  if (!where.pinned)
    if (auto why = level_unreachable_by_cpuid(rung, cpuid)) {
      skip(state, *why);
      return;
    }
  const double baseline = control_at(pages);
  // A fresh chase per repetition in a full run; a quick run keeps one per invocation (a fresh
  // process each): populating page_walk's 512 MiB took about 1 s of a 4 s invocation under a
  // hypervisor, and five invocations still sample five placements.
  const double ns = time_chase(state, chase_for(ChaseLayout::kBasePages, pages, /*fresh=*/!quick()),
                               [&](EventRun& run) {
                                 if (auto why = contradicted_by_cpuid(rung, pages, cpuid)) run.invalidate(*why);
                                 run.note(where.pinned ? fmt::format("{} pages, pinned by TLB_PAGES", pages)
                                                       : fmt::format("{} pages (the fixed default)", pages));
                                 run.note(footprint(pages));
                                 report_reach(state, rung, pages, run);
                               });
  state.counters["control_ns"] = baseline;
  state.counters["translation_penalty_ns"] = ns - baseline;
  state.counters["cpuid_l1_dtlb_entries"] = cpuid.l1_entries;
  state.counters["cpuid_l2_dtlb_entries"] = cpuid.l2_entries;
}

void register_rows() {
  const long long lo = flag_integer("tlb_min_pages", 8);
  // The same in quick and full runs: far enough to find a second-level reach of up to 46341
  // pages (the page_walk rung sits at four times that, 131072, beyond the sweep).
  const long long hi = flag_integer("tlb_max_pages", 65536);
  if (lo < 2 || hi < lo)
    throw std::invalid_argument(fmt::format(
        "the TLB sweep needs 2 <= tlb_min_pages <= tlb_max_pages, got {} and {}", lo, hi));
  // Too little memory skips the sweep, saying so: the rows a binary describes never depend on
  // the machine's state at the moment (docs/rows.md is generated from them).
  const auto available_kb = read_keyed_integer("/proc/meminfo", "MemAvailable").value_or(0);
  const long long need_kb = hi * static_cast<long long>(page_size() / 1024) + 4096;
  std::optional<std::string> memory_short;
  if (need_kb > available_kb / 2)
    memory_short = fmt::format("a sweep up to {} pages needs {} MiB, more than half of the {} MiB available", hi,
                               need_kb / 1024, available_kb / 1024);
  config().sizes = log_sweep(static_cast<size_t>(lo), static_cast<size_t>(hi), quick() ? 2 : 4);

  // Loads never fault: every page is faulted in before the chase is timed.
  const RowSpec* sweep = describe_series({.id = "tlb_sweep",
                                          .label = "dependent load over N pages (TLB sweep point)",
                                          .family = "tlb",
                                          .event = "one dependent load",
                                          .claims = fault_claims({0, 0}, {0, 0}),
                                          .unit = benchmark::kNanosecond,
                                          .manual_time = false,
                                          .rung = false});
  for (ChaseLayout layout : {ChaseLayout::kBasePages, ChaseLayout::kPacked,
                             ChaseLayout::kHugePages, ChaseLayout::kHugetlb}) {
    // A layout this machine cannot give at any size is one skipped row, not one per point.
    if (auto why = memory_short ? memory_short : why_layout_unavailable(layout, config().sizes.front(), false)) {
      add_point(sweep, layout_name(layout), [why = *why](benchmark::State& s) { skip(s, why); });
      continue;
    }
    for (size_t pages : config().sizes) {
      add_point(sweep, fmt::format("{}/pages:{}", layout_name(layout), pages),
                [layout, pages](benchmark::State& s) { sweep_row(s, layout, pages); });
    }
  }
  // With a PMU, each rung also proves its TLB level per load: at least 0.9 second-level hits
  // for stlb_hit, 0.9 page walks for page_walk; without one, that claim is "not verified".
  const struct {
    const char* id;
    const char* label;
    Rung rung;
    std::vector<Claim> tlb_claims;
    int ladder_rank;
  } rungs[] = {
      {"tlb_hit", "dependent load whose line is in L1 and whose translation hits the L1 DTLB",
       Rung::kTlbHit, {}, 10},
      {"stlb_hit", "dependent load that misses the L1 DTLB and hits the second-level TLB",
       Rung::kStlbHit, {{"stlb_hits_per_event", {0.9, kUnbounded}}}, 20},
      {"page_walk", "dependent load that misses every TLB level: a page walk, page tables cached",
       Rung::kPageWalk, {{"dtlb_walks_per_event", {0.9, kUnbounded}}}, 30},
  };
  const size_t walk_pages = placement().walk;
  for (const auto& r : rungs) {
    std::vector<Claim> claims = fault_claims({0, 0}, {0, 0});
    claims.push_back({"thp_backed_fraction", {0, 0}});  // the contract: 4 KiB backing verified
    claims.insert(claims.end(), r.tlb_claims.begin(), r.tlb_claims.end());
    // A fixed, longer time than the sweep points get (and the same in quick and full runs, so
    // the row names match between them): these are the numbers the ladder shows. page_walk gets
    // a fixed count of loads instead, four passes over its chase: each call builds a fresh
    // chase of 512 MiB, and Google Benchmark, finding a time, calls a row several times.
    benchmark::internal::Benchmark* row = add_row({.id = r.id,
             .label = r.label,
             .family = "tlb",
             .event = "one dependent load",
             .claims = claims,
             .unit = benchmark::kNanosecond,
             .manual_time = false,
             .defined_by = {"pages"},
             .ladder_rank = r.ladder_rank,
             .headline = true,
             .needs = r.rung == Rung::kStlbHit ? "a second-level TLB more than twice the L1 DTLB by "
                                                 "CPUID, or TLB_PAGES pinning a page count"
                                               : ""},
            [rung = r.rung](benchmark::State& s) { rung_row(s, rung); });
    if (r.rung == Rung::kPageWalk)
      row->Iterations(static_cast<benchmark::IterationCount>(4 * walk_pages));
    else
      row->MinTime(0.05);
  }
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
