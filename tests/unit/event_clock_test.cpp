#include "core/event_clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <thread>

namespace pageladder {
namespace {

void expect_measures_a_sleep(const EventClock& clock) {
  const uint64_t t0 = clock.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double ns = clock.to_ns(clock.stop() - t0);
  EXPECT_GT(ns, 19e6);
  EXPECT_LT(ns, 2e9);  // generous: the machine is shared
}

TEST(EventClock, MonotonicFallbackMeasuresTime) {
  EventClock clock(EventClock::Source::kMonotonic);
  EXPECT_EQ(clock.name(), "clock_monotonic");
  EXPECT_DOUBLE_EQ(clock.ns_per_tick(), 1.0);
  EXPECT_GE(clock.overhead_ns(), 0.0);
  expect_measures_a_sleep(clock);
}

TEST(EventClock, TscIsCalibratedAgainstTheKernelClock) {
  std::string why;
  if (!tsc_is_trustworthy(&why)) GTEST_SKIP() << why;
  EventClock clock(EventClock::Source::kTsc);
  EXPECT_EQ(clock.name(), "tsc");
  EXPECT_GT(clock.ns_per_tick(), 0.01);  // < 100 GHz
  EXPECT_LT(clock.ns_per_tick(), 10.0);  // > 100 MHz
  EXPECT_GT(clock.overhead_ns(), 0.0);
  expect_measures_a_sleep(clock);
}

// The calibration itself, not just its order of magnitude: over one interval, the TSC's
// nanoseconds must match CLOCK_MONOTONIC_RAW's within 1% (both read around the same sleep, so
// a busy machine stretches both alike).
TEST(EventClock, TscNanosecondsMatchTheKernelClockWithinOnePercent) {
  std::string why;
  if (!tsc_is_trustworthy(&why)) GTEST_SKIP() << why;
  EventClock clock(EventClock::Source::kTsc);
  timespec a{}, b{};
  clock_gettime(CLOCK_MONOTONIC_RAW, &a);
  const uint64_t t0 = clock.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const uint64_t t1 = clock.stop();
  clock_gettime(CLOCK_MONOTONIC_RAW, &b);
  const double kernel_ns = static_cast<double>(b.tv_sec - a.tv_sec) * 1e9 + static_cast<double>(b.tv_nsec - a.tv_nsec);
  EXPECT_NEAR(clock.to_ns(t1 - t0) / kernel_ns, 1.0, 0.01);
}

TEST(EventClock, ProcessClockExplainsItsChoice) {
  EXPECT_FALSE(EventClock::get().reason().empty());
}

}  // namespace
}  // namespace pageladder
