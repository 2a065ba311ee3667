// Performance counters by meaning, not by encoding.
//
// A semantic event ("cycles", "dtlb_walks", "minor_faults") resolves through an ordered list of
// candidates: the vendor's libpfm4 name, a raw encoding for that vendor, a generic perf:: event.
// The first one the kernel accepts is used; if none is, the event is unavailable and says why.
// Hardware and software events open as two groups (a software leader must never make a hardware
// group unschedulable), are read with one read() each, and are scaled by
// time_enabled/time_running when the kernel multiplexed them. Kernel-mode counting is tried
// first; when perf_event_paranoid forbids it the set falls back to user-only and records so.
// No PMU (VMs, containers) means one notice per process and "n/a" counters, never an abort.
//
// Everything that touches the kernel or libpfm goes through PerfBackend, so the resolution and
// fallback logic is unit-tested with a fake backend on machines that have no PMU.
#pragma once

#include <linux/perf_event.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pageladder {

enum class CandidateKind { kVendor, kRaw, kGeneric };
const char* to_string(CandidateKind kind);

struct EventCandidate {
  CandidateKind kind;
  std::string encoding;  // a libpfm4 event string
  std::string vendor;    // "GenuineIntel", "AuthenticAMD", or empty for any
};

struct SemanticEvent {
  std::string name;
  std::string meaning;
  std::vector<EventCandidate> candidates;
};

// The events the suite knows, by semantic name.
const std::vector<SemanticEvent>& event_catalog();
const SemanticEvent* find_semantic_event(const std::string& name);

class PerfBackend {
 public:
  virtual ~PerfBackend() = default;
  // Fills attr from a libpfm4 event string. Returns 0, or a negative PFM_ERR_* code.
  virtual int encode(const std::string& event, perf_event_attr* attr, std::string* canonical) = 0;
  virtual const char* encode_error(int code) = 0;
  // Returns an fd, or -errno.
  virtual int open(perf_event_attr* attr, int group_fd) = 0;
  virtual int ioctl(int fd, unsigned long request, uint64_t* arg) = 0;
  virtual ssize_t read(int fd, void* buffer, size_t bytes) = 0;
  virtual void close(int fd) = 0;
  virtual std::string cpu_vendor() = 0;
};

// libpfm4 + perf_event_open on this machine.
PerfBackend& linux_perf_backend();

enum class CountingMode { kUserAndKernel, kUserOnly };

struct CounterValue {
  std::string name;
  std::optional<double> value;  // nullopt: unavailable or never scheduled
  bool scaled = false;          // multiplexed: value = raw * enabled / running
};

class CounterSet {
 public:
  explicit CounterSet(const std::vector<std::string>& semantic_names,
                      PerfBackend& backend = linux_perf_backend());
  ~CounterSet();
  CounterSet(const CounterSet&) = delete;
  CounterSet& operator=(const CounterSet&) = delete;

  // Bracket a measured region; totals accumulate over any number of regions.
  void start();
  void stop();

  CounterValue value(const std::string& name) const;
  bool available(const std::string& name) const;
  CountingMode mode() const { return mode_; }
  std::string mode_name() const;
  // One line per event: how it resolved (or why it did not). For the results' context.
  std::string describe() const;
  // Why the first unavailable hardware event failed, empty if none failed.
  const std::string& hardware_problem() const { return hardware_problem_; }

 private:
  struct Event {
    std::string name;
    bool open = false;
    bool software = false;
    CandidateKind kind = CandidateKind::kGeneric;
    std::string encoding;
    std::string canonical;
    std::string why_unavailable;
    int fd = -1;
    uint64_t id = 0;
    uint64_t begin = 0;
    double total = 0;
    bool scaled = false;
    bool counted = false;
  };
  struct Group {
    int leader = -1;
    uint64_t begin_enabled = 0, begin_running = 0;
    std::vector<Event*> members;
    std::vector<uint64_t> buffer, values;  // sized once, so reading a region never allocates
  };
  void resolve(Event& event);
  int open_candidate(Event& event, perf_event_attr attr);
  bool read_group(Group& group, uint64_t* enabled, uint64_t* running);

  PerfBackend& backend_;
  CountingMode mode_ = CountingMode::kUserAndKernel;
  std::vector<Event> events_;
  Group hardware_, software_;
  std::string hardware_problem_;
};

// Prints the no-PMU notice at most once per process; returns whether it printed.
bool notice_hardware_counters_unavailable(const std::string& why);

}  // namespace pageladder
