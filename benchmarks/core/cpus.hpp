// The CPUs a row may use, and pinning a thread to one of them for the length of a row.
//
// Rows whose point is where two threads run (a TLB shootdown's remote CPU, a userfaultfd
// handler beside or on the faulting thread's CPU) pin them; the CPUs are the ones this process
// may use (a run pinned to one CPU with CPU=<n> has one, and such rows skip with the reason).
#pragma once

#include <sched.h>

#include <vector>

namespace pageladder {

// The CPUs this thread may run on, in order.
std::vector<int> usable_cpus();

// Pins the calling thread to `cpu`; false if the kernel refused.
bool pin_this_thread(int cpu);

// Pins the calling thread for a row and gives it back the CPUs it had (Google Benchmark calls a
// row several times: the next call must find every CPU again).
class PinnedFor {
 public:
  explicit PinnedFor(int cpu);
  ~PinnedFor();
  bool ok() const { return ok_; }  // false: the kernel refused the pin
  PinnedFor(const PinnedFor&) = delete;
  PinnedFor& operator=(const PinnedFor&) = delete;

 private:
  cpu_set_t before_;
  bool ok_ = false;
};

}  // namespace pageladder
