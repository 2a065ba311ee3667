#include "core/fault_counters.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>

#include "core/mapping.hpp"

// glibc (2.35 and later) registers an rseq area per thread, at this offset from the thread
// pointer; weak, so an older glibc links too and has none.
extern "C" {
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
}

namespace pageladder {

// An atomic OR of 0 into one byte a page: one locked instruction, so nothing the kernel or
// another thread stores there meanwhile (the rseq area's CPU number) is overwritten with a stale
// value.
void own_pages(uintptr_t begin, uintptr_t end) {
  const uintptr_t page = page_size();
  for (uintptr_t at = begin & ~(page - 1); at < end; at += page)
    __atomic_fetch_or(reinterpret_cast<char*>(std::max(at, begin)), char{0}, __ATOMIC_RELAXED);
}

// The kernel stores the CPU number into the rseq area on the first return to user space after a
// preemption, at any point of a region.
void own_thread_pages() {
  if (&__rseq_size && &__rseq_offset && __rseq_size > 0) {
    const auto rseq = reinterpret_cast<uintptr_t>(__builtin_thread_pointer()) + __rseq_offset;
    own_pages(rseq, rseq + __rseq_size);
  }
  errno = errno;
}

FaultCount thread_faults() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return {usage.ru_minflt, usage.ru_majflt};
}

std::vector<std::string> RegionCounters::with_fault_events(std::vector<std::string> names) {
  names.insert(names.begin(), {"minor_faults", "major_faults"});
  return names;
}

RegionCounters::RegionCounters(const std::vector<std::string>& hardware, PerfBackend& backend)
    : perf_(with_fault_events(hardware), backend) {}

void RegionCounters::start() {
  // perf's snapshot comes first, so a fault between the two snapshots would be perf's alone. The
  // first pass writes the memory the snapshots and stop() write (and the stack under them): right
  // after a fork that memory is shared, and those writes take copy-on-write faults. rusage_begin_
  // and rusage_total_ are written in it too: where they fell on a page of their own, the real
  // snapshot's store was one fault inside the region, in both counts (7 of 200 runs of the fork
  // test). The thread's rseq area and errno are owned too: the kernel's store of the CPU number
  // after a preemption inside the region was the rest (1 run in 300). The second pass is the
  // snapshot kept, taken once they are done.
  own_thread_pages();
  perf_.start();
  rusage_begin_ = thread_faults();
  __atomic_fetch_add(&rusage_total_.minor, 0, __ATOMIC_RELAXED);
  __atomic_fetch_add(&rusage_total_.major, 0, __ATOMIC_RELAXED);
  perf_.start();
  rusage_begin_ = thread_faults();
}

void RegionCounters::stop() {
  const FaultCount now = thread_faults();
  perf_.stop();
  rusage_total_.minor += now.minor - rusage_begin_.minor;
  rusage_total_.major += now.major - rusage_begin_.major;
}

}  // namespace pageladder
