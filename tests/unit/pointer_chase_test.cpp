#include "core/pointer_chase.hpp"

#include <gtest/gtest.h>

#include <set>

#include "core/pagemap.hpp"

namespace pageladder {
namespace {

void expect_single_cycle(const PointerChase& chase) {
  std::set<void*> seen;
  void* p = chase.start();
  for (size_t i = 0; i < chase.nodes(); ++i) {
    EXPECT_TRUE(seen.insert(p).second) << "node visited twice before the cycle closed";
    p = *static_cast<void**>(p);
  }
  EXPECT_EQ(p, chase.start()) << "the chain does not close after N steps";
  EXPECT_EQ(seen.size(), chase.nodes());
}

TEST(PointerChase, VisitsEveryPageExactlyOncePerCycle) {
  for (size_t n : {2u, 7u, 96u, 1000u}) {
    PointerChase chase(ChaseLayout::kBasePages, n);
    expect_single_cycle(chase);
    std::set<uintptr_t> pages;
    void* p = chase.start();
    for (size_t i = 0; i < n; ++i, p = *static_cast<void**>(p))
      pages.insert(reinterpret_cast<uintptr_t>(p) / page_size());
    EXPECT_EQ(pages.size(), n) << "one node per page";
  }
}

TEST(PointerChase, LineOffsetsCoverAllCacheSets) {
  std::set<size_t> slots;
  for (size_t j = 0; j < 64; ++j) slots.insert(line_slot(j));
  EXPECT_EQ(slots.size(), 64u);
  PointerChase chase(ChaseLayout::kBasePages, 256);
  std::vector<int> per_set(64, 0);
  for (size_t j = 0; j < 256; ++j) per_set[(chase.offset(j) % page_size()) / kLineSize]++;
  for (int count : per_set) EXPECT_EQ(count, 4);
}

TEST(PointerChase, ControlPacksTheSameLinesIntoFewPages) {
  PointerChase control(ChaseLayout::kPacked, 1024);
  expect_single_cycle(control);
  EXPECT_EQ(control.mapping().size(), 1024 * kLineSize);  // 16 pages instead of 1024
}

TEST(PointerChase, IsReproducibleForASeed) {
  PointerChase a(ChaseLayout::kBasePages, 100, 7), b(ChaseLayout::kBasePages, 100, 7);
  EXPECT_EQ(a.cycle(), b.cycle());
}

TEST(PointerChase, BasePagesAreNotThpBacked) {
  PointerChase chase(ChaseLayout::kBasePages, 2048);
  const auto smaps = smaps_for(chase.mapping().data());
  ASSERT_TRUE(smaps.count("AnonHugePages"));
  EXPECT_EQ(smaps.at("AnonHugePages"), 0);
}

TEST(LogSweep, CoversTheRangeWithTheRequestedDensity) {
  const auto s = log_sweep(8, 64, 2);
  EXPECT_EQ(s, (std::vector<size_t>{8, 11, 16, 23, 32, 45, 64}));
  EXPECT_EQ(log_sweep(8, 65536, 4).size(), 53u);
}

}  // namespace
}  // namespace pageladder
