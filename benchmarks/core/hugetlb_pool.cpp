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

std::string pool_dir(size_t page_kb) { return fmt::format("/sys/kernel/mm/hugepages/hugepages-{}kB", page_kb); }

}  // namespace

std::optional<int64_t> huge_pool_count(const char* name, size_t page_kb) {
  return read_integer(pool_dir(page_kb) + "/" + name);
}

size_t free_huge_pages(size_t page_kb) {
  const auto free = huge_pool_count("free_hugepages", page_kb).value_or(0);
  const auto reserved = huge_pool_count("resv_hugepages", page_kb).value_or(0);
  return static_cast<size_t>(std::max<int64_t>(0, free - reserved));
}

std::optional<std::string> HugetlbPool::why_unavailable(size_t pages, size_t page_kb) {
  const size_t free = free_huge_pages(page_kb);
  if (free >= pages) return std::nullopt;
  if (!huge_pool_count("nr_hugepages", page_kb))
    return page_kb == kHuge1G
               ? fmt::format("no 1 GiB hugetlb pages here ({} is missing: the CPU lacks pdpe1gb, or the kernel "
                             "its support)", pool_dir(page_kb))
               : fmt::format("{}/nr_hugepages cannot be read: this kernel has no {} kB hugetlb pool",
                             pool_dir(page_kb), page_kb);
  if (flag("no_system_changes") || geteuid() != 0)
    return fmt::format("no hugetlb pool: {} free huge pages, {} needed, and {}", free, pages,
                       flag("no_system_changes") ? "NO_SYSTEM_CHANGES forbids reserving them"
                                                 : "reserving them (nr_hugepages) needs root");
  return std::nullopt;
}

HugetlbPool::HugetlbPool(size_t pages, size_t page_kb) {
  const size_t free = free_huge_pages(page_kb);
  if (free >= pages) return;
  why_not_ = why_unavailable(pages, page_kb);
  if (why_not_) return;
  const std::string nr_hugepages = pool_dir(page_kb) + "/nr_hugepages";
  const auto total = read_integer(nr_hugepages);
  const size_t want = static_cast<size_t>(*total) + (pages - free);
  try {
    grown_ = std::make_unique<ScopedSysctl>(nr_hugepages, std::to_string(want));
  } catch (const std::exception& e) {
    why_not_ = fmt::format("the hugetlb pool could not be grown: {}", e.what());
    return;
  }
  if (free_huge_pages(page_kb) < pages) {
    why_not_ = fmt::format("nr_hugepages raised to {}, but the kernel found only {} free huge pages of {} "
                           "needed (memory too fragmented)", want, free_huge_pages(page_kb), pages);
    grown_.reset();
  }
}

HugetlbPool::~HugetlbPool() = default;

}  // namespace pageladder
