#include "core/hugetlb_pool.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "core/flags.hpp"
#include "core/sysfs.hpp"
#include "core/system_changes.hpp"

namespace pageladder {
namespace {

constexpr const char* kNrHugepages = "/proc/sys/vm/nr_hugepages";

}  // namespace

size_t free_huge_pages() {
  return static_cast<size_t>(read_keyed_integer("/proc/meminfo", "HugePages_Free").value_or(0));
}

HugetlbPool::HugetlbPool(size_t pages) {
  const size_t free = free_huge_pages();
  if (free >= pages) return;
  const auto total = read_integer(kNrHugepages);
  if (!total) {
    why_not_ = fmt::format("{} cannot be read: this kernel has no hugetlb pool", kNrHugepages);
    return;
  }
  if (flag("no_system_changes") || geteuid() != 0) {
    why_not_ = fmt::format("no hugetlb pool: {} free huge pages, {} needed, and {}", free, pages,
                           flag("no_system_changes") ? "NO_SYSTEM_CHANGES forbids reserving them"
                                                     : "reserving them (vm.nr_hugepages) needs root");
    return;
  }
  const size_t want = static_cast<size_t>(*total) + (pages - free);
  try {
    grown_ = std::make_unique<ScopedSysctl>(kNrHugepages, std::to_string(want));
  } catch (const std::exception& e) {
    why_not_ = fmt::format("the hugetlb pool could not be grown: {}", e.what());
    return;
  }
  if (free_huge_pages() < pages) {
    why_not_ = fmt::format("vm.nr_hugepages raised to {}, but the kernel found only {} free huge pages of {} "
                           "needed (memory too fragmented)", want, free_huge_pages(), pages);
    grown_.reset();
  }
}

HugetlbPool::~HugetlbPool() = default;

}  // namespace pageladder
