// Memory cgroups of our own, on cgroup v1, v2 or a hybrid of both.
//
// We only ever write to cgroups we created (named pageladder-<pid>-<n>), under our own memory
// cgroup on v1 and under the root on v2 (where our own may hold processes, and the "no internal
// processes" rule forbids a child with controllers; the root is exempt). Creation is journaled
// (core/system_changes.hpp) and the group is removed, with whatever still runs in it, on every
// exit path, by the one cgroup rule of docs/journal.md (remove_cgroup). All paths are taken relative to a root prefix so the logic runs against a fake
// cgroupfs tree in tests.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pageladder {

enum class CgroupVersion { kNone, kV1, kV2 };

struct CgroupLayout {
  CgroupVersion memory = CgroupVersion::kNone;  // the hierarchy with the memory controller
  bool hybrid = false;                          // v1 controllers beside a v2 mount
  std::string parent;                           // where our groups are created
  std::string why_unusable;                     // empty when usable
  std::string describe() const;                 // "v1 (hybrid)", "v2", ...
};

// Reads <root>/proc/self/mountinfo and <root>/proc/self/cgroup.
CgroupLayout detect_memory_cgroup(const std::string& root = "");

// How directories are made and removed: real cgroupfs by default; tests substitute a fake that
// creates and removes the control files the kernel would.
class CgroupFs {
 public:
  virtual ~CgroupFs() = default;
  virtual int make_dir(const std::string& path);    // 0 or -errno
  virtual int remove_dir(const std::string& path);  // 0 or -errno
  static CgroupFs& real();
};

class MemoryCgroup {
 public:
  // Creates the group with this memory limit and unlimited swap. Throws std::runtime_error.
  MemoryCgroup(const CgroupLayout& layout, size_t limit_bytes, CgroupFs& fs = CgroupFs::real());
  ~MemoryCgroup();
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;

  const std::string& path() const { return path_; }
  void add(pid_t pid);
  void set_limit(size_t bytes);
  // cgroup v2's per-group zswap limit (memory.zswap.max: "0" keeps the group's pages out of
  // zswap, "max" lets them in). False where there is no such control (v1, or a kernel without
  // zswap): the caller must use the global switch instead.
  bool set_zswap_max(const std::string& value);
  // Reclaims the group's memory down to about `keep_bytes`: v2 memory.reclaim; v1 a limit
  // lowered for the moment and then restored.
  void reclaim(size_t keep_bytes);
  int64_t oom_kills() const;
  // A counter of the group's own memory.stat ("zswpin", "pswpin" ...), or nullopt where this
  // kernel's memory.stat has no such key. v2 flushes these lazily: a read may lag by a few
  // dozen updates per CPU.
  std::optional<int64_t> stat(const std::string& key) const;
  int64_t usage_bytes() const;

 private:
  void remove_made() noexcept;
  std::string file(const char* v1, const char* v2) const;
  void write(const std::string& name, const std::string& value) const;
  CgroupLayout layout_;
  CgroupFs& fs_;
  std::string path_;
  size_t limit_ = 0;
  std::string journal_id_;
  int undo_slot_ = -1;
};

}  // namespace pageladder
