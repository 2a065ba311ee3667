#include "core/backing.hpp"

#include <fmt/format.h>

#include "core/event_run.hpp"
#include "core/machine_context.hpp"
#include "core/mapping.hpp"
#include "core/pagemap.hpp"

namespace pageladder {

std::optional<std::string> why_no_thp() {
  const std::string mode = thp_enabled();
  if (mode == "never" || mode == "unsupported" || thp_size() == 0)
    return fmt::format("transparent huge pages are '{}'", mode);
  return std::nullopt;
}

std::optional<int64_t> anon_huge_kb(const void* address) {
  const auto smaps = smaps_for(address);
  const auto it = smaps.find("AnonHugePages");
  if (it == smaps.end()) return std::nullopt;
  return it->second;
}

int64_t private_dirty_kb(const void* address) {
  const auto smaps = smaps_for(address);
  const auto it = smaps.find("Private_Dirty");
  return it == smaps.end() ? -1 : it->second;
}

void record_copies(EventRun& run, int64_t grew_kb, size_t writes) {
  run.add_evidence("copied_pages_per_write", static_cast<double>(grew_kb) * 1024.0 / static_cast<double>(page_size()),
                   static_cast<double>(writes));
}

void check_one_copy_per_write(EventRun& run, int64_t grew_kb, size_t writes, const std::string& whose,
                              const std::string& consequence) {
  record_copies(run, grew_kb, writes);
  const auto want = static_cast<int64_t>(writes * page_size() / 1024);
  if (grew_kb != want)
    run.invalidate(fmt::format("{} grew by {} kB over {} writes, expected {} kB{}", whose, grew_kb,
                               writes, want, consequence));
}

}  // namespace pageladder
