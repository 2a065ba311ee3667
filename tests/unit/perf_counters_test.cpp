// CounterSet's resolution and fallback logic, against a fake kernel and libpfm: this machine has
// no PMU, so the hardware paths are exercised here rather than on the real backend.
#include "core/perf_counters.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

namespace pageladder {
namespace {

class FakeBackend : public PerfBackend {
 public:
  std::string vendor = "AuthenticAMD";
  std::set<std::string> unknown_events;  // libpfm cannot encode these
  bool pmu = true;                       // hardware events open
  bool paranoid = false;                 // kernel counting refused with EACCES
  uint64_t enabled_step = 100, running_step = 100;
  std::map<int, uint64_t> value_step;    // per-fd increment per read
  std::vector<perf_event_attr> opened;
  std::vector<int> closed;

  int encode(const std::string& event, perf_event_attr* attr, std::string* canonical) override {
    if (unknown_events.count(event)) return -4;
    std::memset(attr, 0, sizeof *attr);
    const bool software = event.find("PERF_COUNT_SW") != std::string::npos;
    attr->type = software ? PERF_TYPE_SOFTWARE : PERF_TYPE_RAW;
    *canonical = "fake::" + event;
    return 0;
  }
  const char* encode_error(int) override { return "event not found"; }
  int open(perf_event_attr* attr, int group_fd) override {
    if (attr->type != PERF_TYPE_SOFTWARE && !pmu) return -ENOENT;
    if (!attr->exclude_kernel && paranoid) return -EACCES;
    opened.push_back(*attr);
    const int fd = 100 + static_cast<int>(opened.size());
    members[group_fd < 0 ? fd : group_fd].push_back(fd);
    return fd;
  }
  int ioctl(int fd, unsigned long, uint64_t* arg) override {
    *arg = static_cast<uint64_t>(fd) * 10;
    return 0;
  }
  ssize_t read(int fd, void* buffer, size_t bytes) override {
    auto& group = members[fd];
    auto* out = static_cast<uint64_t*>(buffer);
    reads[fd]++;
    out[0] = group.size();
    out[1] = enabled_step * reads[fd];
    out[2] = running_step * reads[fd];
    for (size_t i = 0; i < group.size(); ++i) {
      const uint64_t step = value_step.count(group[i]) ? value_step[group[i]] : 7;
      out[3 + 2 * i] = step * reads[fd];
      out[4 + 2 * i] = static_cast<uint64_t>(group[i]) * 10;
    }
    return static_cast<ssize_t>((3 + 2 * group.size()) * 8 <= bytes ? (3 + 2 * group.size()) * 8 : 0);
  }
  void close(int fd) override { closed.push_back(fd); }
  std::string cpu_vendor() override { return vendor; }

  std::map<int, std::vector<int>> members;
  std::map<int, uint64_t> reads;
};

TEST(CounterSet, VendorEventIsPreferredWhenLibpfmKnowsIt) {
  FakeBackend fake;
  CounterSet set({"dtlb_walks"}, fake);
  ASSERT_TRUE(set.available("dtlb_walks"));
  EXPECT_NE(set.describe().find("[vendor"), std::string::npos) << set.describe();
}

TEST(CounterSet, FallsBackToRawThenGenericWhenLibpfmLacksTheCpu) {
  FakeBackend fake;  // like libpfm 4.13 on Zen 5: no vendor table
  fake.unknown_events.insert(
      "L1_DTLB_MISS:TLB_RELOAD_4K_L2_MISS:TLB_RELOAD_2M_L2_MISS:TLB_RELOAD_1G_L2_MISS:"
      "TLB_RELOAD_COALESCED_PAGE_MISS");
  CounterSet raw({"dtlb_walks"}, fake);
  EXPECT_NE(raw.describe().find("[raw"), std::string::npos) << raw.describe();

  fake.unknown_events.insert("perf_raw::rf045");
  CounterSet generic({"dtlb_walks"}, fake);
  EXPECT_NE(generic.describe().find("[generic"), std::string::npos) << generic.describe();
}

TEST(CounterSet, RawEncodingsAreOnlyTriedOnTheirVendor) {
  FakeBackend fake;
  fake.vendor = "GenuineIntel";
  fake.unknown_events.insert("DTLB_LOAD_MISSES:STLB_HIT");
  CounterSet set({"stlb_hits"}, fake);  // AMD-only raw candidate must not be used on Intel
  EXPECT_FALSE(set.available("stlb_hits"));
  EXPECT_NE(set.describe().find("stlb_hits=n/a"), std::string::npos) << set.describe();
}

TEST(CounterSet, NoPmuLeavesHardwareUnavailableAndSoftwareWorking) {
  FakeBackend fake;
  fake.pmu = false;
  CounterSet set({"minor_faults", "cycles", "dtlb_walks"}, fake);
  EXPECT_TRUE(set.available("minor_faults"));
  EXPECT_FALSE(set.available("cycles"));
  EXPECT_FALSE(set.available("dtlb_walks"));
  EXPECT_NE(set.hardware_problem().find("(2)"), std::string::npos) << set.hardware_problem();
  set.start();
  set.stop();
  EXPECT_FALSE(set.value("cycles").value.has_value());
  ASSERT_TRUE(set.value("minor_faults").value.has_value());
}

TEST(CounterSet, ParanoidFallsBackToUserOnlyAndSaysSo) {
  FakeBackend fake;
  fake.paranoid = true;
  CounterSet set({"cycles", "minor_faults"}, fake);
  EXPECT_TRUE(set.available("cycles"));
  EXPECT_TRUE(set.available("minor_faults"));
  EXPECT_EQ(set.mode(), CountingMode::kUserOnly);
  EXPECT_EQ(set.mode_name(), "user");
  for (const auto& attr : fake.opened) EXPECT_EQ(attr.exclude_kernel, 1u);
}

TEST(CounterSet, KernelCountingIsKeptWhenAllowed) {
  FakeBackend fake;
  CounterSet set({"cycles"}, fake);
  EXPECT_EQ(set.mode(), CountingMode::kUserAndKernel);
  ASSERT_EQ(fake.opened.size(), 1u);
  EXPECT_EQ(fake.opened[0].exclude_kernel, 0u);
}

TEST(CounterSet, HardwareAndSoftwareOpenAsSeparateGroups) {
  FakeBackend fake;
  CounterSet set({"cycles", "instructions", "minor_faults", "major_faults"}, fake);
  ASSERT_EQ(fake.members.size(), 2u);  // two leaders
  for (const auto& [leader, fds] : fake.members) EXPECT_EQ(fds.size(), 2u);
}

TEST(CounterSet, DeltasAreScaledWhenMultiplexed) {
  FakeBackend fake;
  fake.running_step = 50;  // the event ran half the time it was enabled
  CounterSet set({"cycles"}, fake);
  set.start();  // read 1
  set.stop();   // read 2: raw delta 7, enabled delta 100, running delta 50
  const CounterValue v = set.value("cycles");
  ASSERT_TRUE(v.value.has_value());
  EXPECT_DOUBLE_EQ(*v.value, 14.0);
  EXPECT_TRUE(v.scaled);
}

TEST(CounterSet, RegionsAccumulate) {
  FakeBackend fake;
  CounterSet set({"minor_faults"}, fake);
  set.start();
  set.stop();
  set.start();
  set.stop();
  EXPECT_DOUBLE_EQ(*set.value("minor_faults").value, 14.0);
  EXPECT_FALSE(set.value("minor_faults").scaled);
}

TEST(CounterSet, UnknownSemanticNameIsUnavailableNotFatal) {
  FakeBackend fake;
  CounterSet set({"no_such_event"}, fake);
  EXPECT_FALSE(set.available("no_such_event"));
  EXPECT_NE(set.describe().find("unknown semantic event"), std::string::npos);
}

TEST(CounterSet, ClosesEveryDescriptor) {
  FakeBackend fake;
  { CounterSet set({"cycles", "minor_faults"}, fake); }
  EXPECT_EQ(fake.closed.size(), fake.opened.size());
}

}  // namespace
}  // namespace pageladder
