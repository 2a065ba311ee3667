// fault_scaling_bench: the demand-zero fault while other threads or processes fault too.
//
// will-it-scale's page_fault tests, per event and with the fault class proven: one thread, pinned,
// times each of its first writes to fresh private anonymous 4 KiB pages (as minor_fault does)
// while k-1 others, each pinned to another CPU, fault pages of their own without pause (a write
// to every page of their range, MADV_DONTNEED, again). Where those pages live decides what is
// shared: in the same VMA as the timed thread's (the VMA's lock, the mm's counters and, for
// MADV_DONTNEED, TLB-flush IPIs to every CPU of the process), each in a VMA of its own in the
// same process (mmap_lock without per-VMA locks, 6.4+, and the shared mm), or in processes of
// their own (only the kernel's global structures: the page allocator, the LRU, memcg). Rows, for
// k = 2, 4, ... up to the CPUs the run may use (and that count itself):
//   fault_scaling_1                 the timed thread alone (the curves' first point)
//   fault_scaling_shared_vma_<k>    k threads, one VMA
//   fault_scaling_own_vma_<k>       k threads, a VMA each (separate VMAs checked in /proc/self/maps)
//   fault_scaling_processes_<k>     the timed thread and k-1 processes
// Each row reports the timed thread's p50 and p99 per event, the faults per second per thread of
// all k over its batches (`faults_per_s_per_thread`, will-it-scale's measure), and, where the
// kernel keeps them (CONFIG_PER_VMA_LOCK_STATS), the vma_lock_* counts per event (system-wide).
// Claimed: one minor fault per timed event, no THP, and that every other thread or process
// faulted at least a quarter as often as the timed one during its batches (their counts are
// read before and after each; the least busy one is claimed, not their average) on its own
// CPU (each records where it ran). Not modelled: file-backed and shared faults, more threads than
// CPUs, NUMA placement; what the timed thread sees is one thread's latency, not the aggregate.
#include <sys/mman.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/backing.hpp"
#include "core/child_process.hpp"
#include "core/cpus.hpp"
#include "core/event_run.hpp"
#include "core/fault_counters.hpp"
#include "core/flags.hpp"
#include "core/mapping.hpp"
#include "core/pagemap.hpp"
#include "core/sysfs.hpp"

namespace pageladder {
namespace {

enum class Sharing { kAlone, kSharedVma, kOwnVma, kProcesses };

constexpr size_t kSpans = 4;  // page tables per participant: 2040 events per batch
constexpr const char* kVmaLockCounters[] = {"vma_lock_success", "vma_lock_abort", "vma_lock_retry",
                                            "vma_lock_miss"};

size_t span_bytes() { return thp_size() ? thp_size() : size_t{2} << 20; }
size_t pages_per_span() { return span_bytes() / page_size(); }

// The first address of the VMA holding `address` (/proc/self/maps), or nothing.
std::optional<uintptr_t> vma_start(const void* address) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto at = reinterpret_cast<uintptr_t>(address);
  while (std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && lo <= at && at < hi) return lo;
  }
  return std::nullopt;
}

// `spans` page-table spans from `base`, each with page 0 a resident anchor (the table stays
// allocated when the other pages are released, as in core/page_region.hpp).
struct Range {
  char* base;
  size_t spans;
  size_t events() const { return spans * (pages_per_span() - 1); }
  char* page(size_t i) const {
    const size_t per = pages_per_span() - 1;
    return base + (i / per) * span_bytes() + (1 + i % per) * page_size();
  }
  void anchor() const {
    for (size_t s = 0; s < spans; ++s) touch_write(base + s * span_bytes());
  }
  void release() const {
    for (size_t s = 0; s < spans; ++s)
      madvise(base + s * span_bytes() + page_size(), span_bytes() - page_size(), MADV_DONTNEED);
  }
};

// The counters the others keep, in memory shared with processes too (MAP_SHARED).
struct Tally {
  std::atomic<uint64_t> faults[64];  // each contender's own minor faults (its thread's getrusage)
  std::atomic<int> cpu[64];          // where each contender last found itself running
  std::atomic<bool> stop;
};

// A contender's loop: fault every page of its range, release it, again, until told to stop. Its
// tally is the faults the kernel charged to its own thread (getrusage, RUSAGE_THREAD), brought
// up to date every kFaultTallyEvery touches and at each pass's end: a touch that found its page
// still present faults nothing and counts nothing (issue 33: touches are not faults).
constexpr size_t kFaultTallyEvery = 16;

void contend(const Range& range, Tally& tally, size_t j) {
  const int64_t start = thread_faults().minor;
  const auto tally_faults = [&] {
    tally.faults[j].store(static_cast<uint64_t>(thread_faults().minor - start), std::memory_order_relaxed);
  };
  while (!tally.stop.load(std::memory_order_relaxed)) {
    for (size_t i = 0; i < range.events() && !tally.stop.load(std::memory_order_relaxed); ++i) {
      touch_write(range.page(i));
      if (i % kFaultTallyEvery == kFaultTallyEvery - 1) tally_faults();
    }
    tally_faults();
    tally.cpu[j].store(sched_getcpu(), std::memory_order_relaxed);
    range.release();
  }
}

// Stops and waits for the contenders however the row ends (an exception included).
struct Contenders {
  Tally* tally;
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<ChildProcess>> children;
  ~Contenders() { stop(); }
  void stop() {
    tally->stop = true;
    for (auto& t : threads)
      if (t.joinable()) t.join();
    for (auto& c : children) c->wait();
    children.clear();
  }
};

// A region for anonymous 4 KiB pages that no neighbour can merge with: a PROT_NONE page after it.
Mapping own_region(size_t spans) {
  Mapping m = Mapping::anonymous(spans * span_bytes() + page_size(), Backing::kBasePages, span_bytes());
  mprotect(m.data() + spans * span_bytes(), page_size(), PROT_NONE);
  return m;
}

std::vector<uint64_t> counts(const Tally& tally, size_t n) {
  std::vector<uint64_t> c(n);
  for (size_t j = 0; j < n; ++j) c[j] = tally.faults[j].load(std::memory_order_relaxed);
  return c;
}

void scaling_row(benchmark::State& state, Sharing how, size_t k) {
  const std::vector<int> cpus = usable_cpus();
  if (cpus.size() < k) {
    skip(state, fmt::format("{} CPUs are needed and this process may use {}", k, cpus.size()));
    return;
  }
  const size_t others = k - 1;
  PinnedFor pinned(cpus[0]);
  if (!pinned.ok()) {
    skip(state, fmt::format("the kernel refused to pin the timed thread to CPU {}", cpus[0]));
    return;
  }
  // The tally lives in shared memory, so forked contenders count into it as threads do.
  void* shared = mmap(nullptr, sizeof(Tally), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) throw std::runtime_error("mmap of the tally failed");
  // Unmapped last, after the contenders (declared below) have stopped.
  const std::unique_ptr<void, void (*)(void*)> unmap_tally(shared, [](void* p) { munmap(p, sizeof(Tally)); });
  auto* tally = new (shared) Tally{};
  // The timed thread's pages, and (one VMA) everyone's.
  Mapping mine = own_region(kSpans * (how == Sharing::kSharedVma ? k : 1));
  const Range timed{mine.data(), kSpans};
  std::vector<Mapping> theirs;
  std::vector<Range> ranges;
  for (size_t j = 0; j < others; ++j) {
    if (how == Sharing::kSharedVma) {
      ranges.push_back({mine.data() + (j + 1) * kSpans * span_bytes(), kSpans});
    } else if (how == Sharing::kOwnVma) {
      theirs.push_back(own_region(kSpans));
      ranges.push_back({theirs.back().data(), kSpans});
    }
  }
  timed.anchor();
  for (const Range& r : ranges) r.anchor();
  for (size_t j = 0; j < others; ++j) tally->cpu[j] = -1;
  Contenders contenders{tally, {}, {}};
  for (size_t j = 0; j < others; ++j) {
    const int cpu = cpus[j + 1];
    if (how == Sharing::kProcesses) {
      contenders.children.push_back(std::make_unique<ChildProcess>([cpu, tally, j](int, int) {
        if (!pin_this_thread(cpu)) return 1;
        Mapping own = own_region(kSpans);
        const Range range{own.data(), kSpans};
        range.anchor();
        contend(range, *tally, j);
        return 0;
      }));
    } else {
      contenders.threads.emplace_back([cpu, tally, j, range = ranges[j]] {
        if (pin_this_thread(cpu)) contend(range, *tally, j);
      });
    }
  }
  Pagemap pagemap;
  EventRun run(state);
  if (how == Sharing::kSharedVma || how == Sharing::kOwnVma) {
    std::vector<std::optional<uintptr_t>> starts{vma_start(timed.base)};
    for (const Range& r : ranges) starts.push_back(vma_start(r.base));
    bool all_same = true, all_distinct = true;
    for (size_t a = 0; a < starts.size(); ++a)
      for (size_t b = a + 1; b < starts.size(); ++b) {
        all_same = all_same && starts[a] == starts[b];
        all_distinct = all_distinct && starts[a] != starts[b];
      }
    if (how == Sharing::kSharedVma && !all_same) run.invalidate("the threads' pages are not in one VMA");
    if (how == Sharing::kOwnVma && !all_distinct) run.invalidate("two threads' pages share a VMA");
  }
  std::optional<int64_t> lock_before[std::size(kVmaLockCounters)];
  std::vector<uint64_t> theirs_before;
  uint64_t t_begin = 0;
  bool first = true;
  uint64_t batches = 0, batches_with_an_idle_other = 0;
  run_batched_events(
      state, run,
      [&] {
        if (!first) timed.release();
        first = false;
        for (size_t c = 0; c < std::size(kVmaLockCounters); ++c)
          lock_before[c] = read_keyed_integer("/proc/vmstat", kVmaLockCounters[c]);
        theirs_before = counts(*tally, others);
        t_begin = run.clock().start();
        return timed.events();
      },
      [&](size_t i) { touch_write(timed.page(i)); },
      [&](size_t n) {
        const double seconds = run.clock().to_ns(run.clock().stop() - t_begin) * 1e-9;
        const std::vector<uint64_t> theirs_after = counts(*tally, others);
        double theirs_faulted = 0, least = others ? 1e300 : 0;
        for (size_t j = 0; j < others; ++j) {
          theirs_faulted += static_cast<double>(theirs_after[j] - theirs_before[j]);
          least = std::min(least, static_cast<double>(theirs_after[j] - theirs_before[j]));
        }
        // The least busy of the others: each must have faulted alongside, not their average; and
        // in every batch, not only summed over them (issue 33: a contender idle in some batches
        // would pass on the others' sum).
        if (others) run.add_evidence("least_other_faults_per_event", least, double(n));
        // Judged on whole batches only: a short last batch can fall inside a contender's release.
        if (n == timed.events()) {
          if (others && least == 0) ++batches_with_an_idle_other;
          ++batches;
        }
        run.add_evidence("faults_per_s_per_thread", double(n) + theirs_faulted, seconds * double(k));
        for (size_t c = 0; c < std::size(kVmaLockCounters); ++c) {
          const auto now = read_keyed_integer("/proc/vmstat", kVmaLockCounters[c]);
          if (now && lock_before[c])
            run.add_evidence(fmt::format("{}_per_event", kVmaLockCounters[c]), double(*now - *lock_before[c]),
                             double(n));
        }
        size_t present = 0;
        for (size_t i = 0; i < n; ++i) present += pagemap.at(timed.page(i)).value_or(PageState{}).present;
        if (present != n) run.invalidate(fmt::format("{} of {} touched pages present afterwards", present, n));
        const auto thp_kb = anon_huge_kb(timed.base);
        if (thp_kb)
          run.add_evidence("thp_backed_fraction", double(*thp_kb), double(mine.size() / 1024));
        else
          run.cannot_verify("thp_backed_fraction", "smaps shows no AnonHugePages here");
      });
  contenders.stop();
  if (batches_with_an_idle_other)
    run.invalidate(fmt::format("in {} of {} batches another thread or process faulted nothing alongside",
                               batches_with_an_idle_other, batches));
  for (size_t j = 0; j < others; ++j)
    if (tally->cpu[j] != cpus[j + 1])
      run.invalidate(fmt::format("contender {} ran on CPU {}, not its CPU {}", j + 1, tally->cpu[j].load(), cpus[j + 1]));
  run.set_counter("threads", static_cast<double>(k));
  if (!read_keyed_integer("/proc/vmstat", kVmaLockCounters[0]))
    run.note("no vma_lock_* counts in /proc/vmstat (CONFIG_PER_VMA_LOCK_STATS off): per-VMA locking not shown");
  run.note(k == 1 ? fmt::format("the timed thread alone on CPU {}", cpus[0])
                  : fmt::format("timed thread on CPU {}, {} other {} on CPU {}", cpus[0], others,
                                how == Sharing::kProcesses ? (others == 1 ? "process" : "processes")
                                                           : (others == 1 ? "thread" : "threads"),
                                fmt::join(cpus.begin() + 1, cpus.begin() + static_cast<long>(k), ", ")));
  run.finish();
}

void register_rows() {
  std::vector<Claim> alone = one_minor_fault();
  alone.push_back({"thp_backed_fraction", {0, 0}});
  std::vector<Claim> contended = alone;
  contended.push_back({"least_other_faults_per_event", {0.25, kUnbounded}});
  int rank = 400;  // after the references: the scaling rows are a study of their own
  add_row({.id = "fault_scaling_1",
           .label = "first write to a fresh private anonymous 4 KiB page, the timed thread alone "
                    "(the scaling curves' first point)",
           .family = "anonymous",
           .event = "one write to a fresh 4 KiB page",
           .claims = alone,
           .defined_by = {"threads"},
           .ladder_rank = rank++},
          [](benchmark::State& s) { scaling_row(s, Sharing::kAlone, 1); });
  // One tally slot per other thread: at most 64 threads in all.
  const size_t cpus = std::min<size_t>(usable_cpus().size(), std::size(Tally{}.faults) + 1);
  std::vector<size_t> counts;
  // k = 2 everywhere (it skips, saying why, on one CPU): the rows a binary describes do not
  // depend on the CPUs it may use (docs/rows.md is generated from them).
  for (size_t k = 2; k == 2 || k <= cpus; k *= 2) counts.push_back(k);
  if (cpus > 2 && counts.back() != cpus) counts.push_back(cpus);
  for (size_t k : counts)
    for (auto [how, id, words] :
         {std::tuple{Sharing::kSharedVma, "shared_vma", "threads faulting in one VMA"},
          std::tuple{Sharing::kOwnVma, "own_vma", "threads faulting, each in a VMA of its own"},
          std::tuple{Sharing::kProcesses, "processes", "processes faulting, each in its own memory"}})
      add_row({.id = fmt::format("fault_scaling_{}_{}", id, k),
               .label = fmt::format("first write to a fresh private anonymous 4 KiB page, {} {}", k, words),
               .family = "anonymous",
               .event = "one write to a fresh 4 KiB page",
               .claims = contended,
               .defined_by = {"threads"},
               .ladder_rank = rank++,
               .needs = "k CPUs this process may use (a run pinned with CPU= has one: only fault_scaling_1)",
               .series = fmt::format("fault_scaling_{}_<k>", id),
               .series_label = fmt::format("first write to a fresh private anonymous 4 KiB page, k {} (k = 2, 4, ... up to the CPUs the run may use)", words)},
              [how = how, k](benchmark::State& s) { scaling_row(s, how, k); });
}

const Registrar registrar(register_rows);

}  // namespace
}  // namespace pageladder
