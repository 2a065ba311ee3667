// The fault accounting that every row's validity rests on, on the real kernel.
#include "core/fault_counters.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include "core/child_process.hpp"
#include "core/mapping.hpp"

namespace pageladder {
namespace {

TEST(ThreadFaults, TouchingNFreshPagesCountsExactlyNMinorFaults) {
  constexpr size_t kPages = 256;
  Mapping m = Mapping::anonymous(kPages * page_size(), Backing::kBasePages);
  const FaultCount before = thread_faults();
  for (size_t i = 0; i < kPages; ++i) touch_write(m.data() + i * page_size());
  const FaultCount after = thread_faults();
  EXPECT_EQ(after.minor - before.minor, static_cast<int64_t>(kPages));
  EXPECT_EQ(after.major - before.major, 0);
}

TEST(ThreadFaults, TouchingResidentPagesCountsNone) {
  constexpr size_t kPages = 64;
  Mapping m = Mapping::anonymous(kPages * page_size(), Backing::kBasePages);
  for (size_t i = 0; i < kPages; ++i) touch_write(m.data() + i * page_size());
  const FaultCount before = thread_faults();
  for (size_t i = 0; i < kPages; ++i) touch_write(m.data() + i * page_size());
  EXPECT_EQ(thread_faults().minor - before.minor, 0);
}

TEST(RegionCounters, RusageAndPerfAgreeAndAccumulateOverRegions) {
  constexpr size_t kPages = 128;
  Mapping m = Mapping::anonymous(2 * kPages * page_size(), Backing::kBasePages);
  Mapping between = Mapping::anonymous(2 * kPages * page_size(), Backing::kBasePages);
  RegionCounters counters(std::vector<std::string>{});
  for (size_t region = 0; region < 2; ++region) {
    counters.start();
    for (size_t i = 0; i < kPages; ++i) touch_write(m.data() + (region * kPages + i) * page_size());
    counters.stop();
    // Faults between regions are not counted: these pages are fresh, so each write faults.
    const FaultCount before = thread_faults();
    for (size_t i = 0; i < kPages; ++i) touch_write(between.data() + (region * kPages + i) * page_size());
    ASSERT_EQ(thread_faults().minor - before.minor, static_cast<int64_t>(kPages));
  }
  EXPECT_EQ(counters.rusage().minor, static_cast<int64_t>(2 * kPages));
  const CounterValue perf = counters.perf().value("minor_faults");
  if (!counters.perf().available("minor_faults"))
    GTEST_SKIP() << "perf software events unavailable here: " << counters.perf().describe();
  ASSERT_TRUE(perf.value.has_value());
  EXPECT_DOUBLE_EQ(*perf.value, static_cast<double>(2 * kPages));
}

// A region that starts right after a fork (the copy-on-write rows arm each batch with one): the
// memory the counters write when they start was shared by the fork, and a fault on it must not
// land in perf's count after its snapshot while getrusage's snapshot, taken later, misses it.
TEST(RegionCounters, ARegionStartedRightAfterAForkCountsTheSameFaultsInBothSources) {
  RegionCounters counters(std::vector<std::string>{});
  counters.start();
  counters.stop();
  if (!counters.perf().available("minor_faults"))
    GTEST_SKIP() << "perf software events unavailable here: " << counters.perf().describe();
  for (int batch = 0; batch < 20; ++batch) {
    ChildProcess partner([](int, int from_parent) {
      wait_for_parent(from_parent);
      return 0;
    });
    counters.start();
    counters.stop();
  }
  EXPECT_EQ(counters.rusage().minor, 0);
  EXPECT_DOUBLE_EQ(counters.perf().value("minor_faults").value.value_or(-1), 0);
}

// Writes the stack a call below this frame will use, so only the thread's own memory is left shared.
[[gnu::noinline]] void own_stack_below() {
  volatile char below[64 * 1024];
  for (size_t off = 0; off < sizeof below; off += 256) below[off] = 0;
}

// The kernel stores the CPU number into the thread's rseq area when the thread comes back from
// a context switch, wherever it is; after a fork that store is a copy-on-write fault, which
// must not land in a region that sleeps.
TEST(RegionCounters, ARegionThatSleepsRightAfterAForkCountsNoFaultOfTheThreadsOwnMemory) {
  RegionCounters counters(std::vector<std::string>{});
  counters.start();
  usleep(100);
  counters.stop();
  if (!counters.perf().available("minor_faults"))
    GTEST_SKIP() << "perf software events unavailable here: " << counters.perf().describe();
  const FaultCount warmed = counters.rusage();
  for (int batch = 0; batch < 20; ++batch) {
    ChildProcess partner([](int, int from_parent) {
      wait_for_parent(from_parent);
      return 0;
    });
    own_stack_below();
    counters.start();
    usleep(100);
    counters.stop();
  }
  EXPECT_EQ(counters.rusage().minor - warmed.minor, 0);
}

}  // namespace
}  // namespace pageladder
