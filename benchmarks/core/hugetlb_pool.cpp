#include "core/hugetlb_pool.hpp"

#include <unistd.h>

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "core/flags.hpp"
#include "core/sysfs.hpp"
#include "core/system_changes.hpp"

namespace pageladder {
namespace {

constexpr const char* kPool = "/sys/kernel/mm/hugepages/hugepages-2048kB";
const std::string kNrHugepages = std::string(kPool) + "/nr_hugepages";

}  // namespace

std::optional<int64_t> huge_pool_count(const char* name) { return read_integer(std::string(kPool) + "/" + name); }

size_t free_huge_pages() {
  const auto free = huge_pool_count("free_hugepages").value_or(0);
  const auto reserved = huge_pool_count("resv_hugepages").value_or(0);
  return static_cast<size_t>(std::max<int64_t>(0, free - reserved));
}

std::optional<std::string> HugetlbPool::why_unavailable(size_t pages) {
  const size_t free = free_huge_pages();
  if (free >= pages) return std::nullopt;
  if (!read_integer(kNrHugepages))
    return fmt::format("{} cannot be read: this kernel has no 2 MiB hugetlb pool", kNrHugepages);
  if (flag("no_system_changes") || geteuid() != 0)
    return fmt::format("no hugetlb pool: {} free huge pages, {} needed, and {}", free, pages,
                       flag("no_system_changes") ? "NO_SYSTEM_CHANGES forbids reserving them"
                                                 : "reserving them (nr_hugepages) needs root");
  return std::nullopt;
}

HugetlbPool::HugetlbPool(size_t pages) {
  const size_t free = free_huge_pages();
  if (free >= pages) return;
  why_not_ = why_unavailable(pages);
  if (why_not_) return;
  const auto total = read_integer(kNrHugepages);
  const size_t want = static_cast<size_t>(*total) + (pages - free);
  try {
    grown_ = std::make_unique<ScopedSysctl>(kNrHugepages, std::to_string(want));
  } catch (const std::exception& e) {
    why_not_ = fmt::format("the hugetlb pool could not be grown: {}", e.what());
    return;
  }
  if (free_huge_pages() < pages) {
    why_not_ = fmt::format("nr_hugepages raised to {}, but the kernel found only {} free huge pages of {} "
                           "needed (memory too fragmented)", want, free_huge_pages(), pages);
    grown_.reset();
  }
}

HugetlbPool::~HugetlbPool() = default;

}  // namespace pageladder
