// System changes a benchmark makes (cgroups, sysctls), made so that none outlives it.
//
// Every change is first appended to the journal (/run/pageladder/journal.jsonl, one JSON object
// per line, shared with the harness's `make restore`), then made, then undone on every exit path:
// the owning object's destructor, and for SIGINT/SIGTERM a handler that replays the pending undo
// actions with async-signal-safe calls only. After SIGKILL or a crash, `make restore` (and the
// next `make bench`) replays what the journal lists and has no "undone" line for.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace pageladder {

std::string journal_path();  // PAGELADDER_JOURNAL overrides (tests)

// Appends an entry and returns its id; "undone" later marks it settled.
uint64_t journal_change(const std::string& kind, const std::string& path, const std::string& old_value);
void journal_undone(uint64_t id);

// An undo action runnable from a signal handler. Returns a slot to cancel it when undone normally.
int register_undo_write(const std::string& path, const std::string& value, uint64_t journal_id);
int register_undo_cgroup(const std::string& path, uint64_t journal_id);
void register_undo_pid(int slot, pid_t pid);  // a process to kill before the cgroup is removed
void cancel_undo(int slot);

// Writes value to a sysctl/sysfs file for the lifetime of the object, journaled.
class ScopedSysctl {
 public:
  ScopedSysctl(const std::string& path, const std::string& value);  // throws std::runtime_error
  ~ScopedSysctl();
  ScopedSysctl(const ScopedSysctl&) = delete;
  ScopedSysctl& operator=(const ScopedSysctl&) = delete;
  const std::string& old_value() const { return old_; }

 private:
  std::string path_, old_;
  uint64_t id_ = 0;
  int slot_ = -1;
};

}  // namespace pageladder
