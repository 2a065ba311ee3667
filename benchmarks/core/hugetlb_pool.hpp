// The hugetlb pool a row needs, reserved by the suite itself: free huge pages of one size in that
// size's pool (/sys/kernel/mm/hugepages/hugepages-<kB>kB, whatever the default hugetlb size is;
// rows map them with MAP_HUGE_2MB or MAP_HUGE_1GB). A machine with enough free huge pages is used as
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

constexpr size_t kHuge2M = 2048, kHuge1G = 1048576;  // hugetlb page sizes, in kB

class HugetlbPool {
 public:
  // At least `pages` free huge pages of `page_kb` (2048 or 1048576), or why not (why_not()).
  explicit HugetlbPool(size_t pages, size_t page_kb = kHuge2M);
  ~HugetlbPool();
  HugetlbPool(const HugetlbPool&) = delete;
  HugetlbPool& operator=(const HugetlbPool&) = delete;

  const std::optional<std::string>& why_not() const { return why_not_; }
  // Why a pool of `pages` could not be had, or nothing, without changing anything (for describing
  // rows before any runs).
  static std::optional<std::string> why_unavailable(size_t pages, size_t page_kb = kHuge2M);
  bool grown() const { return grown_ != nullptr; }

 private:
  std::unique_ptr<ScopedSysctl> grown_;
  std::optional<std::string> why_not_;
};

// Huge pages of `page_kb` free and not reserved by a mapping (free_hugepages - resv_hugepages; 0
// when the kernel has no such pool).
size_t free_huge_pages(size_t page_kb = kHuge2M);

// One count of the pool of `page_kb` pages (free_hugepages, resv_hugepages, nr_hugepages ...),
// or nothing.
std::optional<int64_t> huge_pool_count(const char* name, size_t page_kb = kHuge2M);

}  // namespace pageladder
