// The copy check cow_fault_bench relies on: after fork, a write to a page the other process
// still maps makes a private copy (smaps Private_Dirty grows by the page); once the other process
// is gone, the write reuses the page (no growth), and the other process kept the old bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "core/child_process.hpp"
#include "core/mapping.hpp"
#include "core/backing.hpp"
#include "core/sysfs.hpp"

namespace pageladder {
namespace {

constexpr size_t kPages = 64;

TEST(CopyCheck, TellsACopiedPageFromAReusedOne) {
  Mapping m = Mapping::anonymous(kPages * page_size(), Backing::kBasePages);
  for (size_t i = 0; i < kPages; ++i) touch_write(m.data() + i * page_size(), 2);

  {
    ChildProcess holder([&](int, int from_parent) {
      wait_for_parent(from_parent);
      for (size_t i = 0; i < kPages; ++i)
        if (touch_read(m.data() + i * page_size()) != 2) return 1;
      return 0;
    });
    const int64_t before = private_dirty_kb(m.data());
    for (size_t i = 0; i < kPages; ++i) touch_write(m.data() + i * page_size(), 1);
    EXPECT_EQ(private_dirty_kb(m.data()) - before, static_cast<int64_t>(kPages * page_size() / 1024));
    holder.signal_child();
    EXPECT_EQ(holder.wait(), 0) << "the holder saw the writer's stores";
  }

  ChildProcess gone([](int, int) { return 0; });
  gone.wait();
  const int64_t before = private_dirty_kb(m.data());
  for (size_t i = 0; i < kPages; ++i) touch_write(m.data() + i * page_size(), 3);
  EXPECT_EQ(private_dirty_kb(m.data()), before) << "a page with no other mapper was copied";
}

// What tells reuse from copy without root: the kernel's pgreuse count. Private_Dirty cannot,
// once the sharer has exited (a copy and a reuse both leave one private page behind), so the
// test writes the same pages in both cases and sees the count move only when the page is reused.
TEST(CopyCheck, TheKernelCountsAReuseButNotACopyWithoutRoot) {
  const auto reuses = [] { return read_keyed_integer("/proc/vmstat", "pgreuse"); };
  if (!reuses()) GTEST_SKIP() << "no pgreuse in /proc/vmstat on this kernel";
  constexpr size_t kWrites = 4096;  // many, so other processes' reuses meanwhile stay small
  Mapping m = Mapping::anonymous(kWrites * page_size(), Backing::kBasePages);
  int64_t copied = INT64_MAX;
  // The count is system-wide: take the quietest of three tries for the copies.
  for (int attempt = 0; attempt < 3; ++attempt) {
    for (size_t i = 0; i < kWrites; ++i) touch_write(m.data() + i * page_size(), 2);
    ChildProcess holder([](int, int from_parent) {
      wait_for_parent(from_parent);
      return 0;
    });
    const int64_t before = *reuses();
    for (size_t i = 0; i < kWrites; ++i) touch_write(m.data() + i * page_size(), 1);
    copied = std::min(copied, *reuses() - before);
    holder.signal_child();
    holder.wait();
  }
  ChildProcess gone([](int, int) { return 0; });
  gone.wait();
  const int64_t before = *reuses();
  for (size_t i = 0; i < kWrites; ++i) touch_write(m.data() + i * page_size(), 3);
  const int64_t reused = *reuses() - before;
  EXPECT_GE(reused, static_cast<int64_t>(kWrites)) << "the reuses were not counted";
  EXPECT_LT(copied, static_cast<int64_t>(kWrites) / 4) << "copies were counted as reuses";
}

}  // namespace
}  // namespace pageladder
