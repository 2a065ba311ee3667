// The clock that times individual events.
//
// Where the TSC is invariant and the kernel itself trusts it (clocksource "tsc"), an event is
// bracketed by fenced rdtsc reads, a few ns each; otherwise by clock_gettime(CLOCK_MONOTONIC).
// Ticks are converted with a ratio calibrated against CLOCK_MONOTONIC_RAW, and the cost of an
// empty start/stop pair is measured so every result can state how much of it is the timer.
#pragma once

#include <cstdint>
#include <string>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define PAGELADDER_HAVE_TSC 1
#endif

namespace pageladder {

class EventClock {
 public:
  enum class Source { kTsc, kMonotonic };

  // Calibrated once per process. PAGELADDER_CLOCK=monotonic forces the fallback.
  static const EventClock& get();

  // Builds a clock on the given source and calibrates it (used by tests for both paths).
  explicit EventClock(Source source);

  // lfence orders rdtsc after everything before it (including a store that faulted and was
  // replayed); rdtscp and trailing fences were measured to add ~20 ns here for no gain.
  inline uint64_t start() const { return read(); }
  inline uint64_t stop() const { return read(); }

  double to_ns(uint64_t ticks) const { return static_cast<double>(ticks) * ns_per_tick_; }

  Source source() const { return source_; }
  std::string name() const;
  double ns_per_tick() const { return ns_per_tick_; }
  // Median cost of an empty start()/stop() pair, in ns: what one timed event pays for timing.
  double overhead_ns() const { return overhead_ns_; }
  // Why the TSC was or was not used.
  const std::string& reason() const { return reason_; }
  // CLOCK_MONOTONIC in ns: the fallback source, and the clock the anatomy pass pairs ticks with.
  static inline uint64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  }

 private:
  inline uint64_t read() const {
#ifdef PAGELADDER_HAVE_TSC
    if (source_ == Source::kTsc) {
      _mm_lfence();
      return __rdtsc();
    }
#endif
    return monotonic_ns();
  }
  void calibrate();
  void measure_overhead();

  Source source_;
  double ns_per_tick_ = 1.0;
  double overhead_ns_ = 0.0;
  std::string reason_;
};

// Whether the CPU advertises an invariant TSC and the kernel uses it as its clocksource.
bool tsc_is_trustworthy(std::string* why);

}  // namespace pageladder
