// The timed windows of events, written for the anatomy pass (harness/pageladder/anatomy.py).
//
// Under `make bench ANATOMY=1` each fault binary runs once more under `perf record`, with
// PAGELADDER_ANATOMY_DIR naming a folder. Every event then also leaves its window: the
// CLOCK_MONOTONIC interval between the two clock reads that time it, which is the clock perf is
// told to stamp its samples with (`perf record -k monotonic`). The harness keeps only the samples
// that fall inside a window of the same process, so arming, mapping, unmapping and checking a
// batch never count towards a rung's anatomy. Without the variable nothing is recorded and the
// cost is one predictable branch per event, outside its timed interval.
//
// Format (one text file per process, DIR/windows.<pid>.txt, appended in blocks):
//   row <rung id>              the rung the windows that follow belong to
//   <start_ns> <end_ns>        one event, CLOCK_MONOTONIC nanoseconds
// The buffer is excluded from fork (MADV_DONTFORK): a parent that keeps recording after a fork
// takes no copy-on-write fault on it inside a batch's fault count, and a forked child starts a
// buffer of its own, sized to its batch (a child that runs inside a small memory cgroup must not
// lose headroom to it), and writes its own file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>

#include "core/event_clock.hpp"
#include "core/mapping.hpp"

namespace pageladder {

class EventWindows {
 public:
  // The process's log, or nullptr when no anatomy pass asked for windows.
  static EventWindows* get();

  // Pairs the event clock with CLOCK_MONOTONIC. Call before a batch's first event, outside
  // every timed interval and fault count: ticks convert through the latest anchor, so the TSC's
  // drift against CLOCK_MONOTONIC over one batch stays far below an event. Writes out what is
  // held when the buffer is half full. In a forked child the first call also starts the child's
  // own log.
  // `events`: how many the batch will hold, for a child's buffer.
  void anchor(const std::string& row, size_t events = 0);
  // One event, timed from t0 to t1 in EventClock ticks. Nothing is written here (writing
  // allocates and faults inside a batch's fault count): a batch that overflows the buffer loses
  // its last windows, and their samples count as outside every window. The clocks are paired
  // again every millisecond or so (after t1, outside the event): CLOCK_MONOTONIC is slewed by
  // NTP, which the tick rate, calibrated once, does not follow.
  inline void add(uint64_t t0, uint64_t t1) {
    if (used_ < capacity_) windows_[used_++] = {to_monotonic(t0), to_monotonic(t1)};
    if (t1 - anchor_ticks_ > reanchor_ticks_) pair_clocks();
  }
  // Appends what is held to this process's file. Call outside fault counts.
  void flush();

 private:
  struct Window {
    uint64_t start_ns, end_ns;
  };
  explicit EventWindows(std::string dir);
  void adopt_process(size_t capacity);
  void pair_clocks();
  inline uint64_t to_monotonic(uint64_t ticks) const {
    if (clock_.source() == EventClock::Source::kMonotonic) return ticks;
    return anchor_ns_ + static_cast<uint64_t>(
        static_cast<double>(static_cast<int64_t>(ticks - anchor_ticks_)) * clock_.ns_per_tick());
  }

  std::string dir_;
  const EventClock& clock_;
  pid_t owner_ = 0;
  std::string row_, written_row_;
  Mapping buffer_;
  Window* windows_ = nullptr;
  size_t capacity_ = 0, used_ = 0;
  uint64_t anchor_ticks_ = 0, anchor_ns_ = 0, reanchor_ticks_ = ~uint64_t{0};
};

}  // namespace pageladder
