#include "core/system_changes.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/sysfs.hpp"

namespace pageladder {
namespace {

constexpr const char* kCgroupPrefix = "pageladder-";
constexpr int kCgroupRemoveAttempts = 400;
constexpr long kCgroupRemovePauseNs = 5'000'000;

// One line of docs/journal.md's format: the fields in their documented order (ordered_json keeps
// insertion order), compact, UTF-8 as is and control characters escaped, then "\n".
void append_line(const nlohmann::ordered_json& entry) {
  std::string text;
  try {
    text = entry.dump() + "\n";
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8 in a string
    throw std::runtime_error(fmt::format("cannot journal {}: {}", entry.value("path", std::string()), e.what()));
  }
  const std::string path = journal_path();
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    // The journal tells root what to write and remove later: its folder must be ours alone.
    const std::string folder = path.substr(0, slash);
    mkdir(folder.c_str(), 0700);
    struct stat st {};
    if (lstat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022) != 0)
      throw std::runtime_error(fmt::format("the journal's folder {} is not this user's own, or others may write it",
                                           folder));
  }
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write the journal {}: {}", path, std::strerror(errno)));
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fsync(fd);
  close(fd);
  if (!ok) throw std::runtime_error("cannot write the journal " + path);
}

void pause_ns(long ns) {
  timespec ts{0, ns};
  nanosleep(&ts, nullptr);
}

// SIGKILLs every pid a cgroup.procs file lists, except our own. Async-signal-safe: read(2) into
// a stack buffer, digits parsed by hand (a number split across two reads continues).
void kill_listed(const char* procs_path) {
  const int fd = open(procs_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  const pid_t self = getpid();
  const auto kill_one = [self](long pid) {
    if (pid > 0 && pid != self) kill(static_cast<pid_t>(pid), SIGKILL);
  };
  long pid = -1;  // -1: between numbers
  char buffer[1024];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) {
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] >= '0' && buffer[i] <= '9') {
        pid = (pid < 0 ? 0 : pid) * 10 + (buffer[i] - '0');
      } else if (pid >= 0) {
        kill_one(pid);
        pid = -1;
      }
    }
  }
  kill_one(pid);
  close(fd);
}

// Pending undo actions, fixed-size so a signal handler can walk them without allocating.
enum UndoKind { kFree = 0, kWrite = 1, kCgroup = 2 };
struct Undo {
  std::atomic<int> kind{kFree};
  char path[512];
  char value[128];
};
constexpr int kSlots = 32;
Undo undo_slots[kSlots];
std::mutex slots_mutex;

void write_raw(const char* path, const char* value) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t ignored = write(fd, value, strlen(value));
  (void)ignored;
  close(fd);
}

void run_undo(Undo& u) {
  const int kind = u.kind.exchange(kFree);
  if (kind == kWrite) write_raw(u.path, u.value);
  if (kind == kCgroup) remove_cgroup(u.path);
}

void on_signal(int sig) {
  for (int i = kSlots - 1; i >= 0; --i) run_undo(undo_slots[i]);
  signal(sig, SIG_DFL);
  raise(sig);
}

int claim_slot(UndoKind kind, const std::string& path, const std::string& value) {
  // A path cut short would undo something else: refuse it instead.
  if (path.size() >= sizeof Undo::path || value.size() >= sizeof Undo::value)
    throw std::runtime_error(fmt::format("path or value too long to undo from a signal handler: {}", path));
  static std::once_flag handlers;
  std::call_once(handlers, [] {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
  });
  std::lock_guard<std::mutex> lock(slots_mutex);
  for (int i = 0; i < kSlots; ++i) {
    Undo& u = undo_slots[i];
    if (u.kind.load() != kFree) continue;
    std::memcpy(u.path, path.c_str(), path.size() + 1);
    std::memcpy(u.value, value.c_str(), value.size() + 1);
    u.kind.store(kind);
    return i;
  }
  throw std::runtime_error("too many pending system changes");
}

}  // namespace

std::string journal_path() {
  if (const char* journal = std::getenv("PAGELADDER_JOURNAL")) return journal;
  const char* run_dir = std::getenv("PAGELADDER_RUN_DIR");
  return std::string(run_dir ? run_dir : "/run/pageladder") + "/journal.jsonl";
}

const char* change_kind_name(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kSysctl: return "sysctl";
    case ChangeKind::kCgroup: return "cgroup";
    case ChangeKind::kSwapfile: return "swapfile";
    case ChangeKind::kZram: return "zram";
  }
  return "?";
}

std::string journal_change(ChangeKind kind, const std::string& path, const std::string& old_value,
                           const std::string& new_value) {
  static std::atomic<uint64_t> counter{0};  // two entries in one nanosecond still differ
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t ns = static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
  const std::string id = fmt::format("{}-{}-{}", getpid(), ns, counter++);
  nlohmann::ordered_json entry;
  entry["format"] = kJournalFormat;
  entry["id"] = id;
  entry["pid"] = getpid();
  entry["kind"] = change_kind_name(kind);
  entry["path"] = path;
  entry["old"] = old_value;
  entry["new"] = new_value;
  append_line(entry);
  return id;
}

void journal_undone(const std::string& id) noexcept {
  try {
    nlohmann::ordered_json marker;
    marker["format"] = kJournalFormat;
    marker["undone"] = id;
    append_line(marker);
  } catch (...) {
    // The change itself was undone; a stale entry only makes restore undo it again.
  }
}

bool remove_cgroup(const char* path, RemoveDir remove_dir, void* context) noexcept {
  const char* slash = strrchr(path, '/');
  const char* name = slash ? slash + 1 : path;
  if (strncmp(name, kCgroupPrefix, strlen(kCgroupPrefix)) != 0) return false;  // not ours
  char procs[sizeof Undo::path + 16];
  const size_t length = strlen(path);
  constexpr char kProcs[] = "/cgroup.procs";
  if (length + sizeof kProcs > sizeof procs) return false;
  memcpy(procs, path, length);
  memcpy(procs + length, kProcs, sizeof kProcs);
  for (int attempt = 0; attempt < kCgroupRemoveAttempts; ++attempt) {
    kill_listed(procs);
    const int err = remove_dir ? remove_dir(path, context) : (rmdir(path) == 0 ? 0 : -errno);
    if (err == 0 || err == -ENOENT) return true;
    pause_ns(kCgroupRemovePauseNs);
  }
  return false;
}

int register_undo_write(const std::string& path, const std::string& value) {
  return claim_slot(kWrite, path, value);
}

int register_undo_cgroup(const std::string& path) { return claim_slot(kCgroup, path, ""); }

void cancel_undo(int slot) {
  if (slot >= 0) undo_slots[slot].kind.store(kFree);
}

ScopedSysctl::ScopedSysctl(const std::string& path, const std::string& value) : path_(path) {
  // A selector ("always [madvise] never", THP's files) is written back as its chosen word.
  const auto line = read_line(path);
  if (!line) throw std::runtime_error("cannot read " + path);
  const auto selected = line->find('[') != std::string::npos ? read_selected(path) : std::nullopt;
  old_ = selected.value_or(*line);
  if (old_ == value) return;  // nothing to change, nothing to undo
  id_ = journal_change(ChangeKind::kSysctl, path, old_, value);
  try {
    slot_ = register_undo_write(path, old_);
  } catch (...) {
    journal_undone(id_);
    throw;
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  const bool ok = fd >= 0 && write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  const int err = errno;
  if (fd >= 0) close(fd);
  if (!ok) {
    cancel_undo(slot_);
    journal_undone(id_);
    throw std::runtime_error(fmt::format("cannot write {} to {}: {}", value, path, std::strerror(err)));
  }
}

ScopedSysctl::~ScopedSysctl() {
  if (slot_ < 0) return;
  write_raw(path_.c_str(), old_.c_str());
  cancel_undo(slot_);
  journal_undone(id_);
}

}  // namespace pageladder
