// The hugetlb pool a row needs, reserved by the suite itself: free 2 MiB huge pages (the
// default hugetlb size) in vm.nr_hugepages. A machine with enough free huge pages is used as
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
  bool grown() const { return grown_ != nullptr; }

 private:
  std::unique_ptr<ScopedSysctl> grown_;
  std::optional<std::string> why_not_;
};

// HugePages_Free of /proc/meminfo (0 when it says nothing).
size_t free_huge_pages();

}  // namespace pageladder
