// What the kernel says backs a virtual page: /proc/self/pagemap, /proc/kpageflags, smaps.
// Used to verify, outside every timed region, that a benchmark measured the page it claims.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace pageladder {

struct PageState {
  bool present = false;
  bool swapped = false;
  bool exclusive = false;  // mapped by this process only (bit 56, Linux 4.2+)
  bool file_or_shared = false;
  uint64_t pfn = 0;        // 0 unless the reader has CAP_SYS_ADMIN
};

class Pagemap {
 public:
  Pagemap();  // opens /proc/self/pagemap
  ~Pagemap();
  Pagemap(const Pagemap&) = delete;
  Pagemap& operator=(const Pagemap&) = delete;

  bool ok() const { return fd_ >= 0; }
  std::optional<PageState> at(const void* address) const;
  // How many of the `pages` base pages starting at `address` satisfy the predicate bit.
  size_t count_present(const void* address, size_t pages) const;
  size_t count_exclusive(const void* address, size_t pages) const;

  static PageState decode(uint64_t entry);

 private:
  template <class Pred>
  size_t count(const void* address, size_t pages, Pred pred) const;
  int fd_ = -1;
};

// kpageflags bits of a frame (root only). nullopt when unreadable.
std::optional<uint64_t> kpageflags(uint64_t pfn);
constexpr int kKpfThp = 22;
constexpr int kKpfHuge = 17;  // KPF_HUGE: a hugetlb page
constexpr int kKpfCompoundHead = 15, kKpfCompoundTail = 16;  // a large folio's first page, the rest

// The smaps fields (in kB) of the VMA containing `address`, e.g. "Rss", "AnonHugePages".
std::map<std::string, int64_t> smaps_for(const void* address);
// Parses smaps text; exposed for tests.
std::map<std::string, int64_t> parse_smaps_vma(const std::string& smaps, uintptr_t address);

}  // namespace pageladder
