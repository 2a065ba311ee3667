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
// A forked child records its own windows into its own file; the entries it inherited from its
// parent are the parent's to write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

#include "core/event_clock.hpp"

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
  void anchor(const std::string& row);
  // One event, timed from t0 to t1 in EventClock ticks. Nothing is written here (writing
  // allocates and faults inside a batch's fault count): a batch that overflows the buffer loses
  // its last windows, and their samples count as outside every window.
  inline void add(uint64_t t0, uint64_t t1) {
    if (used_ < windows_.size()) windows_[used_++] = {to_monotonic(t0), to_monotonic(t1)};
  }
  // Appends what is held to this process's file. Call outside fault counts.
  void flush();

 private:
  struct Window {
    uint64_t start_ns, end_ns;
  };
  explicit EventWindows(std::string dir);
  void adopt_process();
  inline uint64_t to_monotonic(uint64_t ticks) const {
    if (clock_.source() == EventClock::Source::kMonotonic) return ticks;
    return anchor_ns_ + static_cast<uint64_t>(
        static_cast<double>(static_cast<int64_t>(ticks - anchor_ticks_)) * clock_.ns_per_tick());
  }

  std::string dir_;
  const EventClock& clock_;
  pid_t owner_ = 0;
  std::string row_, written_row_;
  std::vector<Window> windows_;
  size_t used_ = 0;
  uint64_t anchor_ticks_ = 0, anchor_ns_ = 0;
};

}  // namespace pageladder
