// The hugetlb pool a row needs, reserved by the suite itself: free 2 MiB huge pages in the
// 2 MiB pool (/sys/kernel/mm/hugepages/hugepages-2048kB, whatever the default hugetlb size is;
// rows map them with MAP_HUGE_2MB). A machine with enough free huge pages is used as
// it is; otherwise, as root and unless the run may change nothing (NO_SYSTEM_CHANGES=1), the
// pool is grown by what is missing for as long as the object lives, journaled, and shrunk back
// afterwards (the destructor, a signal handler, or after SIGKILL `make restore`:
// core/system_changes.hpp). The kernel may give fewer pages than asked (fragmented memory):
// then there is no pool, and why says so.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace pageladder {

class ScopedSysctl;

class HugetlbPool {
 public:
  // At least `pages` free huge pages, or why not (why()).
  explicit HugetlbPool(size_t pages);
  ~HugetlbPool();
  HugetlbPool(const HugetlbPool&) = delete;
  HugetlbPool& operator=(const HugetlbPool&) = delete;

  const std::optional<std::string>& why_not() const { return why_not_; }
  // Why a pool of `pages` could not be had, or nothing, without changing anything (for describing
  // rows before any runs).
  static std::optional<std::string> why_unavailable(size_t pages);
  bool grown() const { return grown_ != nullptr; }

 private:
  std::unique_ptr<ScopedSysctl> grown_;
  std::optional<std::string> why_not_;
};

// 2 MiB huge pages free and not reserved by a mapping (free_hugepages - resv_hugepages; 0
// when the kernel has no such pool).
size_t free_huge_pages();

// One count of the 2 MiB pool (free_hugepages, resv_hugepages, nr_hugepages ...), or nothing.
std::optional<int64_t> huge_pool_count(const char* name);

}  // namespace pageladder
