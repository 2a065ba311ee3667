// The journal of system changes (docs/journal.md), written from C++ into a temporary journal.
//
// The format is shared with the harness, which is the one that reads it after a crash. So the
// lines C++ writes are compared byte for byte with harness/tests/fixtures/journal_v1.jsonl, the
// same literal lines the Python tests read and write: entries of every kind whose paths and
// values hold quotes, backslashes, newlines, tabs, control characters and non-ASCII UTF-8.
#include "core/system_changes.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/sysfs.hpp"

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace pageladder {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line, '\n');) lines.push_back(line);
  return lines;
}

ChangeKind kind_named(const std::string& name) {
  for (ChangeKind kind : {ChangeKind::kSysctl, ChangeKind::kCgroup, ChangeKind::kSwapfile, ChangeKind::kZram})
    if (name == change_kind_name(kind)) return kind;
  throw std::invalid_argument(name);
}

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pageladder-journal-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    journal_ = root_ + "/journal.jsonl";
    setenv("PAGELADDER_JOURNAL", journal_.c_str(), 1);
  }
  void TearDown() override {
    fs::remove_all(root_);
    unsetenv("PAGELADDER_JOURNAL");
    unsetenv("PAGELADDER_RUN_DIR");
  }
  std::vector<std::string> journal_lines() const { return lines_of(read_file(journal_).value_or("")); }
  std::string root_, journal_;
};

// The fixture's lines as the harness reads them, spelled out as C++ literals.
const std::vector<std::vector<std::string>> kFixtureChanges = {
    {"sysctl", "/tmp/pageladder-fake/sys/vm/knob \"quoted\" back\\slash", "3\n\ttab\x01\x1f\x7f end", "0"},
    {"cgroup", "/tmp/pageladder-fake/cgroup/pageladder-4242-0 \u00e9 \u00fc \u65e5\u672c \U0001F600 \u0085 \u2028", "", ""},
    {"swapfile", "/var/tmp/pageladder-swap-4242 \b\f\r", "", ""},
    {"zram", "/dev/zram7", "hot_added", "536870912"},
};

std::vector<std::string> fixture_lines() {
  const auto text = read_file(PAGELADDER_JOURNAL_FIXTURE);
  if (!text) throw std::runtime_error("cannot read " PAGELADDER_JOURNAL_FIXTURE);
  return lines_of(*text);
}

TEST_F(JournalTest, ParsesTheLiteralLinesTheHarnessReads) {
  const auto lines = fixture_lines();
  ASSERT_EQ(lines.size(), kFixtureChanges.size() + 1);
  for (size_t i = 0; i < kFixtureChanges.size(); ++i) {
    const auto entry = ordered_json::parse(lines[i]);
    EXPECT_EQ(entry.at("format"), kJournalFormat);
    EXPECT_EQ(entry.at("kind"), kFixtureChanges[i][0]);
    EXPECT_EQ(entry.at("path"), kFixtureChanges[i][1]);
    EXPECT_EQ(entry.at("old"), kFixtureChanges[i][2]);
    EXPECT_EQ(entry.at("new"), kFixtureChanges[i][3]);
  }
  EXPECT_EQ(ordered_json::parse(lines.back()).at("undone"), ordered_json::parse(lines[2]).at("id"));
}

TEST_F(JournalTest, WritesEveryKindByteForByteAsTheFixture) {
  const auto expected = fixture_lines();
  std::vector<std::string> ids;
  for (const auto& change : kFixtureChanges) ids.push_back(journal_change(kind_named(change[0]), change[1], change[2], change[3]));
  journal_undone(ordered_json::parse(expected.back()).at("undone").get<std::string>());

  const auto written = journal_lines();
  ASSERT_EQ(written.size(), expected.size());
  for (size_t i = 0; i < kFixtureChanges.size(); ++i) {
    // Only the id and pid differ from the fixture: same fields, same order, same escapes.
    const auto fixture = ordered_json::parse(expected[i]);
    std::string line = expected[i];
    const std::string fixture_head = fmt::format(R"({{"format":2,"id":"{}","pid":{},)",
                                                 fixture.at("id").get<std::string>(), fixture.at("pid").get<int>());
    ASSERT_EQ(line.rfind(fixture_head, 0), 0u) << line;
    line.replace(0, fixture_head.size(), fmt::format(R"({{"format":2,"id":"{}","pid":{},)", ids[i], getpid()));
    EXPECT_EQ(written[i], line);
  }
  EXPECT_EQ(written.back(), expected.back());
  EXPECT_EQ(read_file(journal_).value().back(), '\n');
}

TEST_F(JournalTest, IdsArePidNanosecondsCounterAndNeverRepeat) {
  const std::regex shape(std::to_string(getpid()) + "-[0-9]{19}-[0-9]+");
  std::set<std::string> ids;
  long previous_counter = -1;
  for (int i = 0; i < 50; ++i) {
    const std::string id = journal_change(ChangeKind::kSysctl, root_ + "/knob", "0", "1");
    EXPECT_TRUE(std::regex_match(id, shape)) << id;
    ids.insert(id);
    // The counter alone keeps two entries of one nanosecond apart: it must always grow.
    const long counter = std::stol(id.substr(id.rfind('-') + 1));
    EXPECT_GT(counter, previous_counter) << id;
    previous_counter = counter;
  }
  EXPECT_EQ(ids.size(), 50u);
}

TEST_F(JournalTest, RefusesAPathThatIsNotUtf8AndWritesNothing) {
  EXPECT_THROW(journal_change(ChangeKind::kSysctl, root_ + "/knob\xff", "0", "1"), std::runtime_error);
  EXPECT_FALSE(fs::exists(journal_) && !read_file(journal_).value().empty());
}

TEST_F(JournalTest, AJournalFolderOthersMayWriteIsRefusedAndNothingIsMade) {
  const std::string shared = root_ + "/shared";
  fs::create_directory(shared);
  chmod(shared.c_str(), 0777);
  setenv("PAGELADDER_JOURNAL", (shared + "/journal.jsonl").c_str(), 1);
  const std::string knob = root_ + "/knob";
  std::ofstream(knob) << "3\n";
  EXPECT_THROW(ScopedSysctl(knob, "0"), std::runtime_error);
  EXPECT_EQ(read_line(knob).value(), "3");  // not journaled: not changed
  EXPECT_FALSE(fs::exists(shared + "/journal.jsonl"));
  setenv("PAGELADDER_JOURNAL", journal_.c_str(), 1);
}

TEST_F(JournalTest, PathIsTheOverrideElseTheRunDirElseRun) {
  EXPECT_EQ(journal_path(), journal_);
  unsetenv("PAGELADDER_JOURNAL");
  setenv("PAGELADDER_RUN_DIR", "/tmp/elsewhere", 1);
  EXPECT_EQ(journal_path(), "/tmp/elsewhere/journal.jsonl");
  unsetenv("PAGELADDER_RUN_DIR");
  EXPECT_EQ(journal_path(), "/run/pageladder/journal.jsonl");
}

TEST_F(JournalTest, ScopedSysctlJournalsTheOldValueAndSettlesIt) {
  const std::string knob = root_ + "/page-cluster";
  std::ofstream(knob) << "3\n";
  {
    ScopedSysctl changed(knob, "0");
    EXPECT_EQ(read_line(knob).value(), "0");
  }
  EXPECT_EQ(read_line(knob).value(), "3");
  const auto lines = journal_lines();
  ASSERT_EQ(lines.size(), 2u);
  const auto entry = ordered_json::parse(lines[0]);
  EXPECT_EQ(entry.at("kind"), "sysctl");
  EXPECT_EQ(entry.at("path"), knob);
  EXPECT_EQ(entry.at("old"), "3");
  EXPECT_EQ(entry.at("new"), "0");
  EXPECT_EQ(ordered_json::parse(lines[1]), (ordered_json{{"format", 2}, {"undone", entry.at("id")}}));
}

// THP's files read "always [madvise] never" and take one word: the word chosen is what goes back.
TEST_F(JournalTest, ASelectorIsJournaledAndRestoredAsItsChosenWord) {
  const std::string knob = root_ + "/enabled";
  std::ofstream(knob) << "always inherit madvise [never]\n";
  {
    ScopedSysctl changed(knob, "madvise");
    const auto entry = ordered_json::parse(journal_lines().at(0));
    EXPECT_EQ(entry.at("old"), "never");
    std::ofstream(knob, std::ios::trunc) << "always inherit [madvise] never\n";  // what sysfs would show
  }
  // A regular file keeps the longer line's tail after the word written at its start.
  EXPECT_EQ(read_line(knob).value().substr(0, 5), "never");
  EXPECT_EQ(journal_lines().size(), 2u);
}

// A signal handler undoes from fixed-size slots: a path that does not fit is refused, never cut.
TEST_F(JournalTest, AnUndoThatDoesNotFitASlotIsRefused) {
  EXPECT_THROW(register_undo_cgroup(root_ + "/" + std::string(600, 'x')), std::runtime_error);
  EXPECT_THROW(register_undo_write(root_ + "/knob", std::string(200, '1')), std::runtime_error);
  cancel_undo(register_undo_write(root_ + "/knob", "1"));
}

// The cgroup rule: a directory not named pageladder-* is never touched, ours is removed.
TEST_F(JournalTest, RemoveCgroupTouchesOnlyPageladderGroups) {
  const std::string theirs = root_ + "/system.slice";
  const std::string ours = root_ + "/pageladder-1-0";
  fs::create_directory(theirs);
  fs::create_directory(ours);
  EXPECT_FALSE(remove_cgroup(theirs.c_str()));
  EXPECT_TRUE(fs::exists(theirs));
  EXPECT_TRUE(remove_cgroup(ours.c_str()));
  EXPECT_FALSE(fs::exists(ours));
  EXPECT_TRUE(remove_cgroup(ours.c_str()));  // already gone is done
}

// A busy group is retried until its processes are gone; the processes listed get SIGKILL.
TEST_F(JournalTest, RemoveCgroupKillsWhatItListsThenRetries) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  const std::string group = root_ + "/pageladder-2-0";
  fs::create_directory(group);
  std::ofstream(group + "/cgroup.procs") << getpid() << "\n" << child << "\n";  // never ourselves
  struct Busy {
    pid_t child;
    int calls = 0;
  } busy{child};
  const auto remove_when_child_dead = [](const char* path, void* context) {
    auto& b = *static_cast<Busy*>(context);
    ++b.calls;
    int status = 0;
    if (waitpid(b.child, &status, WNOHANG) != b.child) return -EBUSY;
    fs::remove_all(path);
    return 0;
  };
  const bool removed = remove_cgroup(group.c_str(), remove_when_child_dead, &busy);
  if (!removed) {  // never leave the child behind
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  EXPECT_TRUE(removed);
  EXPECT_FALSE(fs::exists(group));
  EXPECT_GE(busy.calls, 1);
}

}  // namespace
}  // namespace pageladder
