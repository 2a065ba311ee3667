// Fault accounting around measured regions, from two independent sources: getrusage() of the
// calling thread and perf software events; plus hardware counters where a PMU exists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/perf_counters.hpp"

namespace pageladder {

struct FaultCount {
  int64_t minor = 0;
  int64_t major = 0;
};

// Minor/major faults charged to the calling thread so far (RUSAGE_THREAD).
FaultCount thread_faults();

// Right after a fork every page is shared, and the first store to each is a copy-on-write fault
// charged to whatever region is being counted. These make pages this process's own first.
// Writes each page of [begin, end) without changing its contents.
void own_pages(uintptr_t begin, uintptr_t end);
// The calling thread's memory the kernel and libc store to at any moment: the rseq area and
// errno's page of thread-local storage.
void own_thread_pages();

class RegionCounters {
 public:
  // `hardware`: semantic hardware events wanted beside the fault counts (may be empty).
  explicit RegionCounters(const std::vector<std::string>& hardware = {"cycles", "instructions"},
                          PerfBackend& backend = linux_perf_backend());

  // Bracket each measured region; totals accumulate. Neither call may fault: start() owns the
  // thread's pages (own_thread_pages) and the memory both calls write before its snapshot.
  void start();
  void stop();

  FaultCount rusage() const { return rusage_total_; }
  const CounterSet& perf() const { return perf_; }

 private:
  static std::vector<std::string> with_fault_events(std::vector<std::string> names);
  CounterSet perf_;
  FaultCount rusage_begin_, rusage_total_;
};

}  // namespace pageladder
