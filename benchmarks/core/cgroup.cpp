#include "core/cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/sysfs.hpp"
#include "core/system_changes.hpp"

namespace pageladder {

std::string CgroupLayout::describe() const {
  switch (memory) {
    case CgroupVersion::kV1: return hybrid ? "v1 memory controller (hybrid with v2)" : "v1";
    case CgroupVersion::kV2: return "v2";
    case CgroupVersion::kNone: break;
  }
  return "none";
}

CgroupLayout detect_memory_cgroup(const std::string& root) {
  CgroupLayout layout;
  std::string v1_memory_mount, v2_mount;
  std::istringstream mounts(read_file(root + "/proc/self/mountinfo").value_or(""));
  std::string line;
  while (std::getline(mounts, line)) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream pre(line.substr(0, dash)), post(line.substr(dash + 3));
    std::string id, parent, devno, mount_root, mount_point, fstype, source, options;
    pre >> id >> parent >> devno >> mount_root >> mount_point;
    post >> fstype >> source >> options;
    if (fstype == "cgroup2") v2_mount = mount_point;
    if (fstype == "cgroup" && ("," + options + ",").find(",memory,") != std::string::npos)
      v1_memory_mount = mount_point;
  }
  std::string own_v1, own_v2;
  std::istringstream groups(read_file(root + "/proc/self/cgroup").value_or(""));
  while (std::getline(groups, line)) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty()) own_v2 = path;
    if (("," + controllers + ",").find(",memory,") != std::string::npos) own_v1 = path;
  }
  layout.hybrid = !v1_memory_mount.empty() && !v2_mount.empty();
  if (!v1_memory_mount.empty()) {
    layout.memory = CgroupVersion::kV1;
    layout.parent = root + v1_memory_mount + (own_v1 == "/" ? "" : own_v1);
    return layout;
  }
  if (!v2_mount.empty()) {
    layout.memory = CgroupVersion::kV2;
    layout.parent = root + v2_mount;
    const std::string controllers = read_line(layout.parent + "/cgroup.controllers").value_or("");
    const std::string subtree = read_line(layout.parent + "/cgroup.subtree_control").value_or("");
    if ((" " + controllers + " ").find(" memory ") == std::string::npos)
      layout.why_unusable = "the cgroup v2 hierarchy has no memory controller";
    else if ((" " + subtree + " ").find(" memory ") == std::string::npos)
      layout.why_unusable = "the memory controller is not enabled for children of the root "
                            "cgroup (cgroup.subtree_control); pageladder does not change it";
    return layout;
  }
  layout.why_unusable = "no memory cgroup controller is mounted";
  return layout;
}

int CgroupFs::make_dir(const std::string& path) { return mkdir(path.c_str(), 0755) ? -errno : 0; }
int CgroupFs::remove_dir(const std::string& path) { return rmdir(path.c_str()) ? -errno : 0; }
CgroupFs& CgroupFs::real() {
  static CgroupFs fs;
  return fs;
}

MemoryCgroup::MemoryCgroup(const CgroupLayout& layout, size_t limit_bytes, CgroupFs& fs)
    : layout_(layout), fs_(fs) {
  if (!layout.why_unusable.empty()) throw std::runtime_error(layout.why_unusable);
  static std::atomic<int> serial{0};
  path_ = fmt::format("{}/pageladder-{}-{}", layout.parent, getpid(), serial++);
  journal_id_ = journal_change(ChangeKind::kCgroup, path_, "", "");
  try {
    undo_slot_ = register_undo_cgroup(path_);
  } catch (...) {
    journal_undone(journal_id_);
    throw;
  }
  if (const int err = fs_.make_dir(path_); err != 0) {
    cancel_undo(undo_slot_);
    journal_undone(journal_id_);
    throw std::runtime_error(fmt::format("cannot create {}: {}", path_, std::strerror(-err)));
  }
  // No destructor runs for an object whose constructor throws: what it made is undone here.
  try {
    set_limit(limit_bytes);
    if (layout_.memory == CgroupVersion::kV2) write("memory.swap.max", "max");
  } catch (...) {
    remove_made();
    throw;
  }
}

void MemoryCgroup::remove_made() noexcept {
  // Kill whatever still runs inside, then remove the group (rmdir fails while it is populated).
  // Settled in the journal only when it is gone: otherwise restore tries again.
  const bool gone = remove_cgroup(
      path_.c_str(), [](const char* path, void* fs) { return static_cast<CgroupFs*>(fs)->remove_dir(path); },
      &fs_);
  cancel_undo(undo_slot_);
  if (gone) journal_undone(journal_id_);
}

MemoryCgroup::~MemoryCgroup() { remove_made(); }

std::string MemoryCgroup::file(const char* v1, const char* v2) const {
  return path_ + "/" + (layout_.memory == CgroupVersion::kV1 ? v1 : v2);
}

void MemoryCgroup::write(const std::string& name, const std::string& value) const {
  const std::string path = path_ + "/" + name;
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  const bool ok = fd >= 0 && ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  const int err = errno;
  if (fd >= 0) close(fd);
  if (!ok) throw std::runtime_error(fmt::format("cannot write {} to {}: {}", value, path, std::strerror(err)));
}

void MemoryCgroup::add(pid_t pid) {
  write("cgroup.procs", std::to_string(pid));  // the undo kills what cgroup.procs lists
}

void MemoryCgroup::set_limit(size_t bytes) {
  limit_ = bytes;
  write(layout_.memory == CgroupVersion::kV1 ? "memory.limit_in_bytes" : "memory.max",
        std::to_string(bytes));
}

bool MemoryCgroup::set_zswap_max(const std::string& value) {
  if (layout_.memory != CgroupVersion::kV2 || access((path_ + "/memory.zswap.max").c_str(), W_OK) != 0)
    return false;
  write("memory.zswap.max", value);
  return true;
}

void MemoryCgroup::reclaim(size_t keep_bytes) {
  if (layout_.memory == CgroupVersion::kV2) {
    const int64_t usage = usage_bytes();
    if (usage > static_cast<int64_t>(keep_bytes)) {
      try {
        write("memory.reclaim", std::to_string(usage - static_cast<int64_t>(keep_bytes)));
      } catch (const std::runtime_error&) {
        // EAGAIN: reclaimed less than asked; the caller verifies what it needs.
      }
    }
    return;
  }
  try {
    write("memory.limit_in_bytes", std::to_string(keep_bytes));
  } catch (const std::runtime_error&) {
    // EBUSY: could not get that low; whatever was reclaimed stays reclaimed.
  }
  set_limit(limit_);
}

int64_t MemoryCgroup::oom_kills() const {
  const std::string text =
      read_file(file("memory.oom_control", "memory.events")).value_or("");
  const auto pos = text.find("oom_kill ");
  return pos == std::string::npos ? 0 : std::stoll(text.substr(pos + 9));
}

std::optional<int64_t> MemoryCgroup::stat(const std::string& key) const {
  return read_keyed_integer(path_ + "/memory.stat", key);
}

int64_t MemoryCgroup::usage_bytes() const {
  return read_integer(file("memory.usage_in_bytes", "memory.current")).value_or(0);
}

}  // namespace pageladder
