#include "core/fault_counters.hpp"

#include <sys/resource.h>

namespace pageladder {

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
  // test). The second pass is the snapshot kept, taken once they are done.
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
