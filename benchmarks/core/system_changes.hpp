// System changes a benchmark makes (cgroups, sysctls), made so that none outlives it.
//
// Every change is first appended to the journal, then made, then undone on every exit path: the
// owning object's destructor, and for SIGINT/SIGTERM/SIGHUP a handler that replays the pending
// undo actions with async-signal-safe calls only. After SIGKILL or a crash, the harness's restore
// (`make restore`, and the next `make bench`) undoes what the journal lists without an "undone"
// marker. The journal's path, its line format and how each kind of change is undone (the cgroup
// rule included) are written down once, in docs/journal.md: this file is its C++ writer, and
// harness/pageladder/system.py its Python writer and only reader.
#pragma once

#include <sys/types.h>

#include <string>

namespace pageladder {

inline constexpr int kJournalFormat = 2;

// PAGELADDER_JOURNAL, else $PAGELADDER_RUN_DIR/journal.jsonl, else /run/pageladder/journal.jsonl.
std::string journal_path();

enum class ChangeKind { kSysctl, kCgroup, kSwapfile, kZram };
const char* change_kind_name(ChangeKind kind);  // "sysctl", "cgroup", "swapfile", "zram"

// Appends a change entry and returns its id, "<pid>-<ns since the epoch>-<counter>": old_value is
// what undoing writes back, new_value what the change writes (restore undoes only a value that is
// still the suite's). Throws std::runtime_error when the entry cannot be written (the change must
// then not be made), also for a path or value that is not valid UTF-8, and when the journal's
// folder is not this user's own or is writable by others.
std::string journal_change(ChangeKind kind, const std::string& path, const std::string& old_value,
                           const std::string& new_value);
// Appends the marker that settles the entry; never throws (a stale entry is only undone again).
void journal_undone(const std::string& id) noexcept;

// The cgroup rule of docs/journal.md: a cgroup whose directory name does not start with
// "pageladder-" is never touched; otherwise, up to 400 times 5 ms apart, every process its
// cgroup.procs lists (except ourselves) gets SIGKILL, then the directory is removed. Returns
// whether it is gone. Async-signal-safe with the default remove_dir (rmdir(2)); a test passes a
// fake one, which returns 0 or -errno.
using RemoveDir = int (*)(const char* path, void* context);
bool remove_cgroup(const char* path, RemoveDir remove_dir = nullptr, void* context = nullptr) noexcept;

// An undo action runnable from a signal handler. Returns a slot to cancel it when undone normally.
// Throws std::runtime_error for a path or value too long for a slot, or when all slots are taken.
int register_undo_write(const std::string& path, const std::string& value);
int register_undo_cgroup(const std::string& path);
void cancel_undo(int slot);

// Writes value to a sysctl/sysfs file for the lifetime of the object, journaled. A selector file
// ("always [madvise] never") is restored to the word that was chosen.
class ScopedSysctl {
 public:
  ScopedSysctl(const std::string& path, const std::string& value);  // throws std::runtime_error
  ~ScopedSysctl();
  ScopedSysctl(const ScopedSysctl&) = delete;
  ScopedSysctl& operator=(const ScopedSysctl&) = delete;

 private:
  std::string path_, old_, id_;
  int slot_ = -1;
};

}  // namespace pageladder
