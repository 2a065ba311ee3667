// RAII memory mappings with an explicit page-size policy.
#pragma once

#include <cstddef>
#include <string>

namespace pageladder {

size_t page_size();
// The PMD (transparent huge page) size, or 0 when THP is not supported by this kernel.
size_t thp_size();

enum class Backing {
  kBasePages,  // MADV_NOHUGEPAGE: never a THP, whatever the system-wide setting
  kHugePages,  // MADV_HUGEPAGE and aligned to the THP size
  kHugetlb,    // MAP_HUGETLB | MAP_HUGE_2MB from the 2 MiB pool (core/hugetlb_pool.hpp); fails without one
};

class Mapping {
 public:
  Mapping() = default;
  // Private anonymous memory starting on an `align` boundary (default: thp_size() for
  // kHugePages, the base page size otherwise).
  static Mapping anonymous(size_t bytes, Backing backing, size_t align = 0);
  // Private anonymous memory from the hugetlb pool of `page_bytes` pages (2 MiB or 1 GiB:
  // MAP_HUGE_2MB or MAP_HUGE_1GB); kHugetlb is this with 2 MiB. Throws without a pool.
  static Mapping hugetlb(size_t bytes, size_t page_bytes);
  // A mapping of an open file (prot/flags as for mmap).
  static Mapping file(int fd, size_t bytes, int prot, int flags, size_t offset = 0);

  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  char* data() const { return data_; }
  size_t size() const { return size_; }
  explicit operator bool() const { return data_ != nullptr; }

  // Throws std::system_error on failure: a benchmark cannot proceed without its advice applied.
  void advise(int advice) const;
  void advise(size_t offset, size_t bytes, int advice) const;
  // Drops the pages so the next touch faults again (private anonymous: demand-zero).
  void discard() const;
  void reset();
  // Forgets the range without unmapping it: in a forked child, for a mapping advised
  // MADV_DONTFORK, whose range the child never had (and may since have reused).
  void forget_after_fork();

 private:
  Mapping(char* data, size_t size, char* raw, size_t raw_size)
      : data_(data), size_(size), raw_(raw), raw_size_(raw_size) {}
  char* data_ = nullptr;
  size_t size_ = 0;
  char* raw_ = nullptr;  // what mmap returned (may be larger, for alignment)
  size_t raw_size_ = 0;
};

// Writes one byte so that neither the compiler nor a later pass can drop the store.
inline void touch_write(char* p, char value = 1) {
  *static_cast<volatile char*>(p) = value;
}
inline char touch_read(const char* p) {
  return *static_cast<const volatile char*>(p);
}

}  // namespace pageladder
