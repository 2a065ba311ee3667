#include "core/event_clock.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/sysfs.hpp"

#ifdef PAGELADDER_HAVE_TSC
#include <cpuid.h>
#endif

namespace pageladder {
namespace {

uint64_t raw_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

bool tsc_is_trustworthy(std::string* why) {
#ifdef PAGELADDER_HAVE_TSC
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx) || !(edx & (1u << 8))) {
    *why = "CPUID does not report an invariant TSC";
    return false;
  }
  const auto clocksource =
      read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  if (!clocksource || *clocksource != "tsc") {
    *why = "invariant TSC, but the kernel's clocksource is '" + clocksource.value_or("unknown") +
           "', so the TSC is not trusted";
    return false;
  }
  *why = "invariant TSC, kernel clocksource tsc";
  return true;
#else
  *why = "no TSC on this architecture";
  return false;
#endif
}

const EventClock& EventClock::get() {
  static const EventClock clock = [] {
    std::string why;
    const char* forced = std::getenv("PAGELADDER_CLOCK");
    if (forced && std::strcmp(forced, "monotonic") == 0) {
      EventClock c(Source::kMonotonic);
      c.reason_ = "PAGELADDER_CLOCK=monotonic";
      return c;
    }
    const bool tsc = tsc_is_trustworthy(&why);
    EventClock c(tsc ? Source::kTsc : Source::kMonotonic);
    c.reason_ = why;
    return c;
  }();
  return clock;
}

EventClock::EventClock(Source source) : source_(source) {
#ifndef PAGELADDER_HAVE_TSC
  source_ = Source::kMonotonic;
#endif
  calibrate();
  measure_overhead();
}

std::string EventClock::name() const {
  return source_ == Source::kTsc ? "tsc" : "clock_monotonic";
}

void EventClock::calibrate() {
  if (source_ == Source::kMonotonic) {
    ns_per_tick_ = 1.0;
    return;
  }
  // Three 10 ms windows; the median ratio is robust to a preemption in one of them.
  std::vector<double> ratios;
  for (int round = 0; round < 3; ++round) {
    const uint64_t ns0 = raw_ns();
    const uint64_t t0 = start();
    uint64_t ns1 = ns0;
    while ((ns1 = raw_ns()) - ns0 < 10'000'000) {
    }
    const uint64_t t1 = stop();
    ratios.push_back(static_cast<double>(ns1 - ns0) / static_cast<double>(t1 - t0));
  }
  std::sort(ratios.begin(), ratios.end());
  ns_per_tick_ = ratios[1];
}

void EventClock::measure_overhead() {
  std::vector<uint64_t> pairs(2001);
  for (auto& d : pairs) {
    const uint64_t t0 = start();
    const uint64_t t1 = stop();
    d = t1 - t0;
  }
  std::nth_element(pairs.begin(), pairs.begin() + pairs.size() / 2, pairs.end());
  overhead_ns_ = to_ns(pairs[pairs.size() / 2]);
}

}  // namespace pageladder
