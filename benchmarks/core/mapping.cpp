#include "core/mapping.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "core/sysfs.hpp"

namespace pageladder {

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

size_t thp_size() {
  static const size_t size = [] {
    auto v = read_integer("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
    return v ? static_cast<size_t>(*v) : size_t{0};
  }();
  return size;
}

Mapping Mapping::hugetlb(size_t bytes, size_t page_bytes) {
  // The page size asked for, whatever the default hugetlb size is (default_hugepagesz=1G on some
  // machines): log2 of it in the MAP_HUGE_* bits.
  int log2 = 0;
  while ((size_t{1} << log2) < page_bytes) ++log2;
  const size_t rounded = (bytes + page_bytes - 1) / page_bytes * page_bytes;
  void* raw = mmap(nullptr, rounded, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (log2 << MAP_HUGE_SHIFT), -1, 0);
  if (raw == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap hugetlb");
  return Mapping(static_cast<char*>(raw), bytes, static_cast<char*>(raw), rounded);
}

Mapping Mapping::anonymous(size_t bytes, Backing backing, size_t align) {
  if (backing == Backing::kHugetlb) return hugetlb(bytes, size_t{2} << 20);
  if (align == 0) align = backing == Backing::kHugePages && thp_size() ? thp_size() : page_size();
  const size_t raw_size = bytes + (align > page_size() ? align : 0);
  void* raw = mmap(nullptr, raw_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  auto* base = static_cast<char*>(raw);
  auto* aligned = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(base) + align - 1) &
                                          ~(uintptr_t{align} - 1));
  Mapping m(aligned, bytes, base, raw_size);
  if (backing == Backing::kBasePages) m.advise(MADV_NOHUGEPAGE);
  if (backing == Backing::kHugePages) m.advise(MADV_HUGEPAGE);
  return m;
}

Mapping Mapping::file(int fd, size_t bytes, int prot, int flags, size_t offset) {
  void* raw = mmap(nullptr, bytes, prot, flags, fd, static_cast<off_t>(offset));
  if (raw == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap file");
  return Mapping(static_cast<char*>(raw), bytes, static_cast<char*>(raw), bytes);
}

Mapping::Mapping(Mapping&& other) noexcept { *this = std::move(other); }

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    reset();
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(raw_, other.raw_);
    std::swap(raw_size_, other.raw_size_);
  }
  return *this;
}

Mapping::~Mapping() { reset(); }

void Mapping::reset() {
  if (raw_) munmap(raw_, raw_size_);
  data_ = raw_ = nullptr;
  size_ = raw_size_ = 0;
}

void Mapping::forget_after_fork() {
  data_ = raw_ = nullptr;
  size_ = raw_size_ = 0;
}

void Mapping::advise(int advice) const { advise(0, size_, advice); }

void Mapping::advise(size_t offset, size_t bytes, int advice) const {
  // A kernel built without THP (Debian's PREEMPT_RT 6.1) rejects MADV_NOHUGEPAGE with EINVAL:
  // base pages are all it has, which is what the advice asks for.
  if (madvise(data_ + offset, bytes, advice) != 0 && !(advice == MADV_NOHUGEPAGE && errno == EINVAL))
    throw std::system_error(errno, std::generic_category(), "madvise");
}

void Mapping::discard() const { advise(MADV_DONTNEED); }

}  // namespace pageladder
