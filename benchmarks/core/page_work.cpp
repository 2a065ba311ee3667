#include "core/page_work.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <fmt/format.h>

#include "core/backing.hpp"
#include "core/event_run.hpp"
#include "core/machine_context.hpp"
#include "core/mapping.hpp"
#include "core/pointer_chase.hpp"

namespace pageladder {
namespace {

// 128 MiB a region: past the last-level cache of the machines this runs on, so each page
// comes from memory as a fresh frame does.
constexpr size_t kRegionBytes = size_t{128} << 20;
constexpr char kMark = 0x33;     // written into each destination page before a batch
constexpr char kSource = 0x5a;   // what every source page holds

// The mark written into a page before its event, and the line it wrote sent back to memory, so
// the event finds the page cold in the caches as the row's label says (issue 33: the marks of a
// batch, one line a page, fit the last-level cache). Returns false where this architecture has
// no such instruction here: the row then says one line a page is warm.
void flush_line(const char* line) {
#if defined(__x86_64__)
  _mm_clflush(line);
#else
  (void)line;
#endif
}

bool mark_cold(char* line) {
  touch_write(line, kMark);
  flush_line(line);
#if defined(__x86_64__)
  return true;
#else
  return false;
#endif
}

// A region filled with `value`, made once per process and per purpose: Google Benchmark calls a
// row several times per repetition, and filling 128 MiB each time cost seconds per invocation.
const Mapping& populated(PageWork purpose, bool source) {
  static Mapping regions[2][2];
  Mapping& region = regions[purpose == PageWork::kCopy][source];
  if (!region) {
    region = Mapping::anonymous(kRegionBytes, Backing::kBasePages);
    std::memset(region.data(), source ? kSource : 0, kRegionBytes);
  }
  return region;
}

// The latency chase: 256 MiB, four million cache lines, every one a node of one random cycle
// (Sattolo's algorithm, seeded: every run builds the same cycle). Built once per process: it
// takes a few hundred ms, and Google Benchmark calls a row several times per repetition.
constexpr size_t kLatencyBytes = size_t{256} << 20;

struct LatencyChase {
  Mapping region;
  void* position = nullptr;  // where the chase stands: each call goes on from the last
};

LatencyChase& latency_chase() {
  static LatencyChase chase;
  if (chase.region) return chase;
  chase.region = Mapping::anonymous(kLatencyBytes, Backing::kHugePages);
  const size_t lines = kLatencyBytes / kLineSize;
  std::vector<uint32_t> next(lines);
  for (size_t i = 0; i < lines; ++i) next[i] = static_cast<uint32_t>(i);
  std::mt19937_64 random(42);
  for (size_t i = lines - 1; i > 0; --i)  // Sattolo: a single cycle through every line
    std::swap(next[i], next[std::uniform_int_distribution<size_t>(0, i - 1)(random)]);
  char* base = chase.region.data();
  for (size_t i = 0; i < lines; ++i)
    *reinterpret_cast<void**>(base + i * kLineSize) = base + size_t{next[i]} * kLineSize;
  chase.position = base;
  return chase;
}

}  // namespace

void memory_latency_row(benchmark::State& state) {
  if (auto why = why_no_thp()) {
    skip(state, *why + ": each load would also time a page walk");
    return;
  }
  LatencyChase& chase = latency_chase();
  EventRun run(state, {"cycles"}, Timing::kBatched);
  const auto huge_kb = anon_huge_kb(chase.region.data());
  if (huge_kb)
    run.add_evidence("thp_backed_fraction", static_cast<double>(*huge_kb), kLatencyBytes / 1024.0);
  else
    run.cannot_verify("thp_backed_fraction", "smaps shows no AnonHugePages here");
  const double ns = time_dependent_loads(state, run, chase.position);
  run.set_counter("region_mib", kLatencyBytes >> 20);
  run.set_counter("cycles_per_event_estimated", ns * estimate_core_ghz());
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  run.note(fmt::format("a random cycle through every cache line of {} MiB on huge pages; the C library "
                       "reports {} of last-level cache{}",
                       kLatencyBytes >> 20, l3 > 0 ? fmt::format("{} MiB", l3 >> 20) : std::string("no size"),
                       l3 > static_cast<long>(kLatencyBytes / 4) ? ": part of the loads hit there" : ""));
  run.finish();
}

void page_work_row(benchmark::State& state, PageWork work) {
  const size_t page = page_size(), pages = kRegionBytes / page;
  const Mapping& target = populated(work, false);
  const Mapping& source = work == PageWork::kCopy ? populated(work, true) : target;
  const char expected = work == PageWork::kCopy ? kSource : 0;
  bool cold = true;
  EventRun run(state);
  run_batched_events(
      state, run,
      [&] {
        // One line of each page marked, so the check below proves each event did its work, and
        // flushed from the caches again.
        for (size_t i = 0; i < pages; ++i) {
          char* at = target.data() + i * page;
          cold = mark_cold(at + page / 2) && cold;
          // The lines the last batch's check read (the first and the last) go back to memory too.
          flush_line(at);
          flush_line(at + page - 1);
        }
#if defined(__x86_64__)
        _mm_mfence();  // every flush done before the first event starts
#endif
        return pages;
      },
      [&](size_t i) {
        char* to = target.data() + i * page;
        if (work == PageWork::kCopy)
          std::memcpy(to, source.data() + i * page, page);
        else
          std::memset(to, 0, page);
        benchmark::ClobberMemory();
      },
      [&](size_t n) {
        for (size_t i = 0; i < n; ++i) {
          const char* at = target.data() + i * page;
          if (touch_read(at + page / 2) != expected || touch_read(at) != expected ||
              touch_read(at + page - 1) != expected) {
            run.invalidate(fmt::format("page {} does not hold what the {} should have left", i,
                                       work == PageWork::kCopy ? "copy" : "zeroing"));
            break;
          }
        }
      });
  if (!cold) run.note("one line of each page (the check's mark) is warm in the caches: no cache flush here");
  run.note(fmt::format("{} of a page, page after page through {} MiB ({})",
                       work == PageWork::kCopy ? "memcpy" : "memset",
                       kRegionBytes >> 20, work == PageWork::kCopy ? "and as much to copy from" : "populated first"));
  run.finish();
}

}  // namespace pageladder
