// Cgroup detection and lifecycle against fake cgroupfs trees in a temp directory.
#include "core/cgroup.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/sysfs.hpp"

namespace fs = std::filesystem;

namespace pageladder {
namespace {

// A fake cgroupfs: creating a group makes the control files the kernel would; removing it
// removes them. Refuses to remove a group with processes, like the kernel (EBUSY).
class FakeCgroupFs : public CgroupFs {
 public:
  bool v2 = true;
  bool limit_unwritable = false;  // memory.max a folder: writing the limit fails after mkdir
  int make_dir(const std::string& path) override {
    fs::create_directory(path);
    if (limit_unwritable) fs::create_directory(path + "/memory.max");
    for (const char* f : v2 ? std::vector<const char*>{"memory.max", "memory.swap.max", "memory.reclaim",
                                                       "cgroup.procs", "memory.current"}
                            : std::vector<const char*>{"memory.limit_in_bytes", "cgroup.procs",
                                                       "memory.usage_in_bytes"})
      std::ofstream(path + "/" + f);
    std::ofstream(path + (v2 ? "/memory.events" : "/memory.oom_control")) << "oom 0\noom_kill 2\n";
    return 0;
  }
  int remove_dir(const std::string& path) override {
    if (!read_file(path + "/cgroup.procs").value_or("").empty()) return -EBUSY;
    fs::remove_all(path);
    return 0;
  }
};

class CgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pageladder-cgroupfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ + "/proc/self");
    setenv("PAGELADDER_JOURNAL", (root_ + "/journal.jsonl").c_str(), 1);
  }
  void TearDown() override {
    fs::remove_all(root_);
    unsetenv("PAGELADDER_JOURNAL");
  }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(root_ + rel).parent_path());
    std::ofstream(root_ + rel) << text;
  }
  void fake_v2(const std::string& subtree = "cpu memory io") {
    write("/proc/self/mountinfo",
          "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
    write("/proc/self/cgroup", "0::/user.slice/user-1000.slice/session-1.scope\n");
    write("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
    write("/sys/fs/cgroup/cgroup.subtree_control", subtree + "\n");
    write("/sys/fs/cgroup/system.slice/memory.max", "max\n");  // someone else's group
  }
  std::string root_;
};

TEST_F(CgroupTest, DetectsV2AndCreatesUnderTheRoot) {
  fake_v2();
  const CgroupLayout layout = detect_memory_cgroup(root_);
  EXPECT_EQ(layout.memory, CgroupVersion::kV2);
  EXPECT_FALSE(layout.hybrid);
  EXPECT_TRUE(layout.why_unusable.empty()) << layout.why_unusable;
  EXPECT_EQ(layout.parent, root_ + "/sys/fs/cgroup");
}

TEST_F(CgroupTest, V2WithoutTheMemoryControllerDelegatedIsUnusableWithAReason) {
  fake_v2("cpu io");
  const CgroupLayout layout = detect_memory_cgroup(root_);
  EXPECT_NE(layout.why_unusable.find("subtree_control"), std::string::npos);
  FakeCgroupFs fs;
  EXPECT_THROW(MemoryCgroup(layout, 1 << 20, fs), std::runtime_error);
}

TEST_F(CgroupTest, V2GroupGetsItsLimitsAndIsRemovedLeavingOthersAlone) {
  fake_v2();
  FakeCgroupFs fs;
  std::string path;
  {
    MemoryCgroup group(detect_memory_cgroup(root_), 64 << 20, fs);
    path = group.path();
    EXPECT_EQ(fs::path(path).parent_path(), fs::path(root_ + "/sys/fs/cgroup"));
    EXPECT_EQ(fs::path(path).filename().string().rfind("pageladder-", 0), 0u);
    EXPECT_EQ(read_line(path + "/memory.max").value(), std::to_string(64 << 20));
    EXPECT_EQ(read_line(path + "/memory.swap.max").value(), "max");
    group.set_limit(32 << 20);
    EXPECT_EQ(read_line(path + "/memory.max").value(), std::to_string(32 << 20));
    EXPECT_EQ(group.oom_kills(), 2);
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(read_line(root_ + "/sys/fs/cgroup/system.slice/memory.max").value(), "max");
  // Journaled before it was made, and marked undone after.
  const std::string journal = read_file(root_ + "/journal.jsonl").value();
  EXPECT_NE(journal.find("\"kind\":\"cgroup\""), std::string::npos);
  EXPECT_NE(journal.find("\"undone\":"), std::string::npos);
}

TEST_F(CgroupTest, AConstructorThatFailsAfterMkdirRemovesTheGroupAndSettlesItsJournalEntry) {
  fake_v2();
  FakeCgroupFs fs;
  fs.limit_unwritable = true;
  // More tries than there are undo slots: a slot kept by a failed constructor would run out.
  for (int i = 0; i < 40; ++i) {
    try {
      MemoryCgroup group(detect_memory_cgroup(root_), 64 << 20, fs);
      FAIL() << "a limit that cannot be written must throw";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).find("too many"), std::string::npos) << e.what();
    }
  }
  for (const auto& entry : fs::directory_iterator(root_ + "/sys/fs/cgroup"))
    EXPECT_NE(entry.path().filename().string().rfind("pageladder-", 0), 0u) << entry.path() << " was left";
  const std::string journal = read_file(root_ + "/journal.jsonl").value();
  size_t entries = 0, markers = 0;
  for (size_t at = 0; (at = journal.find("\"kind\":\"cgroup\"", at)) != std::string::npos; ++at) ++entries;
  for (size_t at = 0; (at = journal.find("\"undone\":", at)) != std::string::npos; ++at) ++markers;
  EXPECT_EQ(entries, 40u);
  EXPECT_EQ(markers, 40u);
}

TEST_F(CgroupTest, GroupCountersComeFromItsOwnMemoryStatAndAbsentKeysAreUnknown) {
  fake_v2();
  FakeCgroupFs fs;
  MemoryCgroup group(detect_memory_cgroup(root_), 64 << 20, fs);
  std::ofstream(group.path() + "/memory.stat") << "anon 4096\npgmajfault 7\nzswpin 2048\n";
  EXPECT_EQ(group.stat("zswpin"), 2048);
  EXPECT_EQ(group.stat("pgmajfault"), 7);
  EXPECT_EQ(group.stat("pswpin"), std::nullopt);  // 6.1 keeps no per-group device swap-ins
}

TEST_F(CgroupTest, DetectsHybridV1MemoryUnderOurOwnGroup) {
  write("/proc/self/mountinfo",
        "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "40 31 0:35 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  write("/proc/self/cgroup", "4:memory:/process_api/abc\n0::/\n");
  const CgroupLayout layout = detect_memory_cgroup(root_);
  EXPECT_EQ(layout.memory, CgroupVersion::kV1);
  EXPECT_TRUE(layout.hybrid);
  EXPECT_EQ(layout.parent, root_ + "/sys/fs/cgroup/memory/process_api/abc");
  fs::create_directories(layout.parent);
  FakeCgroupFs fs;
  fs.v2 = false;
  MemoryCgroup group(layout, 16 << 20, fs);
  EXPECT_EQ(read_line(group.path() + "/memory.limit_in_bytes").value(), std::to_string(16 << 20));
}

TEST_F(CgroupTest, NoMemoryControllerIsUnusable) {
  write("/proc/self/mountinfo", "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n");
  write("/proc/self/cgroup", "");
  EXPECT_EQ(detect_memory_cgroup(root_).memory, CgroupVersion::kNone);
  EXPECT_FALSE(detect_memory_cgroup(root_).why_unusable.empty());
}

}  // namespace
}  // namespace pageladder
