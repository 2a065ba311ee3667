#include "core/system_changes.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

#include "core/sysfs.hpp"

namespace pageladder {
namespace {

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void append_line(const std::string& line) {
  const std::string path = journal_path();
  const auto slash = path.rfind('/');
  if (slash != std::string::npos) mkdir(path.substr(0, slash).c_str(), 0700);
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write the journal {}: {}", path, std::strerror(errno)));
  const std::string text = line + "\n";
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fsync(fd);
  close(fd);
  if (!ok) throw std::runtime_error("cannot write the journal " + path);
}

// Pending undo actions, fixed-size so a signal handler can walk them without allocating.
struct Undo {
  std::atomic<int> kind{0};  // 0 free, 1 write, 2 cgroup
  char path[512];
  char value[128];
  pid_t pid = 0;
  uint64_t journal_id = 0;
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
  const int kind = u.kind.exchange(0);
  if (kind == 1) write_raw(u.path, u.value);
  if (kind == 2) {
    if (u.pid > 0) {
      kill(u.pid, SIGKILL);
      for (int i = 0; i < 200 && kill(u.pid, 0) == 0; ++i) {
        timespec ts{0, 5'000'000};
        nanosleep(&ts, nullptr);
      }
    }
    for (int i = 0; i < 200 && rmdir(u.path) != 0 && errno == EBUSY; ++i) {
      timespec ts{0, 5'000'000};
      nanosleep(&ts, nullptr);
    }
  }
}

void on_signal(int sig) {
  for (int i = kSlots - 1; i >= 0; --i) run_undo(undo_slots[i]);
  signal(sig, SIG_DFL);
  raise(sig);
}

int claim_slot(int kind, const std::string& path, const std::string& value, uint64_t id) {
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
    if (u.kind.load() != 0) continue;
    snprintf(u.path, sizeof u.path, "%s", path.c_str());
    snprintf(u.value, sizeof u.value, "%s", value.c_str());
    u.pid = 0;
    u.journal_id = id;
    u.kind.store(kind);
    return i;
  }
  throw std::runtime_error("too many pending system changes");
}

}  // namespace

std::string journal_path() {
  const char* override_path = std::getenv("PAGELADDER_JOURNAL");
  return override_path ? override_path : "/run/pageladder/journal.jsonl";
}

uint64_t journal_change(const std::string& kind, const std::string& path, const std::string& old_value) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t id = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
                      static_cast<uint64_t>(ts.tv_nsec) + static_cast<uint64_t>(getpid());
  append_line(fmt::format(R"({{"id": "{}", "pid": {}, "kind": "{}", "path": "{}", "old": "{}"}})",
                          id, getpid(), json_escape(kind), json_escape(path), json_escape(old_value)));
  return id;
}

void journal_undone(uint64_t id) {
  try {
    append_line(fmt::format(R"({{"undone": "{}"}})", id));
  } catch (...) {
    // The change itself was undone; a stale entry only makes `make restore` check it again.
  }
}

int register_undo_write(const std::string& path, const std::string& value, uint64_t id) {
  return claim_slot(1, path, value, id);
}

int register_undo_cgroup(const std::string& path, uint64_t id) { return claim_slot(2, path, "", id); }

void register_undo_pid(int slot, pid_t pid) {
  if (slot >= 0) undo_slots[slot].pid = pid;
}

void cancel_undo(int slot) {
  if (slot >= 0) undo_slots[slot].kind.store(0);
}

ScopedSysctl::ScopedSysctl(const std::string& path, const std::string& value) : path_(path) {
  const auto old = read_line(path);
  if (!old) throw std::runtime_error("cannot read " + path);
  old_ = *old;
  if (old_ == value) return;  // nothing to change, nothing to undo
  id_ = journal_change("sysctl", path, old_);
  slot_ = register_undo_write(path, old_, id_);
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  const bool ok = fd >= 0 && write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  if (fd >= 0) close(fd);
  if (!ok) {
    cancel_undo(slot_);
    journal_undone(id_);
    throw std::runtime_error(fmt::format("cannot write {} to {}: {}", value, path, std::strerror(errno)));
  }
}

ScopedSysctl::~ScopedSysctl() {
  if (slot_ < 0) return;
  write_raw(path_.c_str(), old_.c_str());
  cancel_undo(slot_);
  journal_undone(id_);
}

}  // namespace pageladder
