// The event windows the anatomy pass joins perf's samples with (core/event_windows.hpp): written
// per process in CLOCK_MONOTONIC, under the running row, and a forked child writes only its own.
#include "core/event_windows.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace pageladder {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Each gtest case runs in its own process (gtest_discover_tests), so the log is set up here.
TEST(EventWindows, WritesEachEventsWindowInMonotonicTimeUnderItsRowAndAChildWritesItsOwn) {
  char dir_template[] = "/tmp/pageladder-windows-XXXXXX";
  const std::filesystem::path dir = mkdtemp(dir_template);
  ASSERT_EQ(setenv("PAGELADDER_ANATOMY_DIR", dir.c_str(), 1), 0);
  EventWindows* windows = EventWindows::get();
  ASSERT_NE(windows, nullptr);
  const EventClock& clock = EventClock::get();

  const uint64_t before = EventClock::monotonic_ns();
  windows->anchor("row_in_parent");
  const uint64_t t0 = clock.start();
  usleep(2000);
  const uint64_t t1 = clock.stop();
  windows->add(t0, t1);
  windows->flush();
  const uint64_t after = EventClock::monotonic_ns();

  std::istringstream parent(read_file(dir / ("windows." + std::to_string(getpid()) + ".txt")));
  std::string header, rung;
  uint64_t start = 0, end = 0;
  parent >> header >> rung >> start >> end;
  EXPECT_EQ(header, "row");
  EXPECT_EQ(rung, "row_in_parent");
  // The window lies within the monotonic readings around it, and is as long as the sleep.
  EXPECT_GE(start + 50'000, before);
  EXPECT_LE(end, after + 50'000);
  EXPECT_GE(end - start, 1'900'000u);

  // A window held but not yet written when the child forks is the parent's to write.
  windows->anchor("row_in_parent");
  windows->add(clock.start(), clock.stop());
  const pid_t child = fork();
  if (child == 0) {
    windows->anchor("row_in_child");
    windows->add(clock.start(), clock.stop());
    windows->flush();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  const std::string child_text = read_file(dir / ("windows." + std::to_string(child) + ".txt"));
  EXPECT_EQ(child_text.rfind("row row_in_child\n", 0), 0u) << child_text;
  EXPECT_EQ(std::count(child_text.begin(), child_text.end(), '\n'), 2) << child_text;
  windows->flush();
  const std::string parent_text = read_file(dir / ("windows." + std::to_string(getpid()) + ".txt"));
  EXPECT_EQ(std::count(parent_text.begin(), parent_text.end(), '\n'), 3) << parent_text;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pageladder
