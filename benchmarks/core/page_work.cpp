#include "core/page_work.hpp"

#include <sys/mman.h>

#include <cstring>

#include <fmt/format.h>

#include "core/event_run.hpp"
#include "core/mapping.hpp"

namespace pageladder {
namespace {

// 128 MiB a region: past the last-level cache of the machines this runs on, so each page
// comes from memory as a fresh frame does.
constexpr size_t kRegionBytes = size_t{128} << 20;
constexpr char kMark = 0x33;     // written into each destination page before a batch
constexpr char kSource = 0x5a;   // what every source page holds

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

}  // namespace

void page_work_row(benchmark::State& state, PageWork work) {
  const size_t page = page_size(), pages = kRegionBytes / page;
  const Mapping& target = populated(work, false);
  const Mapping& source = work == PageWork::kCopy ? populated(work, true) : target;
  const char expected = work == PageWork::kCopy ? kSource : 0;
  EventRun run(state);
  run_batched_events(
      state, run,
      [&] {
        // One line of each page marked, so the check below proves each event did its work.
        for (size_t i = 0; i < pages; ++i) touch_write(target.data() + i * page + page / 2, kMark);
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
  run.note(fmt::format("{} of a page, page after page through {} MiB ({})",
                       work == PageWork::kCopy ? "memcpy" : "memset",
                       kRegionBytes >> 20, work == PageWork::kCopy ? "and as much to copy from" : "populated first"));
  run.finish();
}

}  // namespace pageladder
