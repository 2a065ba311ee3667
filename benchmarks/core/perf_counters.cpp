#include "core/perf_counters.hpp"

#include <perfmon/pfmlib_perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>

#include <fmt/format.h>

namespace pageladder {

const char* to_string(CandidateKind kind) {
  switch (kind) {
    case CandidateKind::kVendor: return "vendor";
    case CandidateKind::kRaw: return "raw";
    case CandidateKind::kGeneric: return "generic";
  }
  return "?";
}

namespace {
constexpr const char* kIntel = "GenuineIntel";
constexpr const char* kAmd = "AuthenticAMD";
constexpr const char* kAmdL2Hit =
    "L1_DTLB_MISS:TLB_RELOAD_4K_L2_HIT:TLB_RELOAD_2M_L2_HIT:TLB_RELOAD_1G_L2_HIT:"
    "TLB_RELOAD_COALESCED_PAGE_HIT";
constexpr const char* kAmdL2Miss =
    "L1_DTLB_MISS:TLB_RELOAD_4K_L2_MISS:TLB_RELOAD_2M_L2_MISS:TLB_RELOAD_1G_L2_MISS:"
    "TLB_RELOAD_COALESCED_PAGE_MISS";
}  // namespace

const std::vector<SemanticEvent>& event_catalog() {
  using K = CandidateKind;
  static const std::vector<SemanticEvent> catalog = {
      {"cycles", "core clock cycles",
       {{K::kVendor, "UNHALTED_CORE_CYCLES", kIntel},
        {K::kVendor, "CYCLES_NOT_IN_HALT", kAmd},
        {K::kGeneric, "perf::PERF_COUNT_HW_CPU_CYCLES", ""}}},
      {"instructions", "retired instructions",
       {{K::kVendor, "INST_RETIRED:ANY_P", kIntel},
        {K::kVendor, "RETIRED_INSTRUCTIONS", kAmd},
        {K::kGeneric, "perf::PERF_COUNT_HW_INSTRUCTIONS", ""}}},
      {"stlb_hits", "loads that missed the L1 DTLB and hit the second-level TLB",
       {{K::kVendor, "DTLB_LOAD_MISSES:STLB_HIT", kIntel},
        {K::kVendor, kAmdL2Hit, kAmd},
        {K::kRaw, "perf_raw::r0f45", kAmd}}},
      {"dtlb_walks", "loads whose translation needed a page walk",
       {{K::kVendor, "DTLB_LOAD_MISSES:WALK_COMPLETED", kIntel},
        {K::kVendor, kAmdL2Miss, kAmd},
        {K::kRaw, "perf_raw::rf045", kAmd},
        {K::kGeneric, "perf::PERF_COUNT_HW_CACHE_DTLB:READ:MISS", ""}}},
      {"page_faults", "page faults (software event)",
       {{K::kGeneric, "perf::PERF_COUNT_SW_PAGE_FAULTS", ""}}},
      {"minor_faults", "minor page faults (software event)",
       {{K::kGeneric, "perf::PERF_COUNT_SW_PAGE_FAULTS_MIN", ""}}},
      {"major_faults", "major page faults (software event)",
       {{K::kGeneric, "perf::PERF_COUNT_SW_PAGE_FAULTS_MAJ", ""}}},
  };
  return catalog;
}

const SemanticEvent* find_semantic_event(const std::string& name) {
  for (const auto& e : event_catalog())
    if (e.name == name) return &e;
  return nullptr;
}

namespace {

class LinuxPerfBackend final : public PerfBackend {
 public:
  int encode(const std::string& event, perf_event_attr* attr, std::string* canonical) override {
    static const int init = pfm_initialize();
    if (init != PFM_SUCCESS) return init;
    std::memset(attr, 0, sizeof *attr);
    char* fstr = nullptr;
    pfm_perf_encode_arg_t arg;
    std::memset(&arg, 0, sizeof arg);
    arg.size = sizeof arg;
    arg.attr = attr;
    arg.fstr = &fstr;
    const int rc = pfm_get_os_event_encoding(event.c_str(), PFM_PLM0 | PFM_PLM3,
                                             PFM_OS_PERF_EVENT_EXT, &arg);
    if (fstr) {
      *canonical = fstr;
      std::free(fstr);
    }
    attr->size = sizeof *attr;
    return rc;
  }
  const char* encode_error(int code) override { return pfm_strerror(code); }
  int open(perf_event_attr* attr, int group_fd) override {
    const long fd = syscall(SYS_perf_event_open, attr, 0, -1, group_fd, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : static_cast<int>(fd);
  }
  int ioctl(int fd, unsigned long request, uint64_t* arg) override {
    return ::ioctl(fd, request, arg) < 0 ? -errno : 0;
  }
  ssize_t read(int fd, void* buffer, size_t bytes) override { return ::read(fd, buffer, bytes); }
  void close(int fd) override { ::close(fd); }
  std::string cpu_vendor() override {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
      if (line.rfind("vendor_id", 0) == 0) {
        const auto colon = line.find(':');
        return colon == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", colon + 1));
      }
    }
    return "";
  }
};

constexpr uint64_t kReadFormat = PERF_FORMAT_GROUP | PERF_FORMAT_ID |
                                 PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;

std::string errno_text(int err) {
  return fmt::format("perf_event_open: {} ({})", std::strerror(err), err);
}

}  // namespace

PerfBackend& linux_perf_backend() {
  static LinuxPerfBackend backend;
  return backend;
}

bool notice_hardware_counters_unavailable(const std::string& why) {
  static std::atomic<bool> printed{false};
  if (printed.exchange(true)) return false;
  std::fprintf(stderr,
               "pageladder: hardware counters unavailable (%s): a VM or container without a "
               "virtual PMU, or perf_event_paranoid too strict. Hardware counter columns are "
               "n/a; timings and software fault counts are unaffected.\n",
               why.c_str());
  return true;
}

CounterSet::CounterSet(const std::vector<std::string>& semantic_names, PerfBackend& backend)
    : backend_(backend) {
  events_.resize(semantic_names.size());  // sized once: groups keep pointers into it
  for (size_t i = 0; i < semantic_names.size(); ++i) {
    events_[i].name = semantic_names[i];
    resolve(events_[i]);
  }
  for (Group* group : {&hardware_, &software_}) {
    group->buffer.resize(3 + 2 * group->members.size());
    group->values.resize(group->members.size());
  }
  if (!hardware_problem_.empty()) notice_hardware_counters_unavailable(hardware_problem_);
}

CounterSet::~CounterSet() {
  for (auto& e : events_)
    if (e.fd >= 0) backend_.close(e.fd);
}

void CounterSet::resolve(Event& event) {
  const SemanticEvent* semantic = find_semantic_event(event.name);
  if (!semantic) {
    event.why_unavailable = "unknown semantic event";
    return;
  }
  const std::string vendor = backend_.cpu_vendor();
  std::vector<std::string> tried;
  for (const auto& candidate : semantic->candidates) {
    if (!candidate.vendor.empty() && candidate.vendor != vendor) continue;
    perf_event_attr attr;
    std::string canonical;
    const int rc = backend_.encode(candidate.encoding, &attr, &canonical);
    if (rc != 0) {
      tried.push_back(fmt::format("{}: {}", candidate.encoding, backend_.encode_error(rc)));
      continue;
    }
    event.software = attr.type == PERF_TYPE_SOFTWARE;
    const int fd = open_candidate(event, attr);
    if (fd >= 0) {
      event.open = true;
      event.fd = fd;
      event.kind = candidate.kind;
      event.encoding = candidate.encoding;
      event.canonical = canonical;
      return;
    }
    tried.push_back(fmt::format("{}: {}", candidate.encoding, errno_text(-fd)));
  }
  event.why_unavailable = tried.empty() ? "no candidate for this CPU vendor ('" + vendor + "')"
                                        : fmt::format("{}", fmt::join(tried, "; "));
  if (!event.software && hardware_problem_.empty() && !tried.empty())
    hardware_problem_ = tried.back().substr(tried.back().find(": ") + 2);
}

int CounterSet::open_candidate(Event& event, perf_event_attr attr) {
  Group& group = event.software ? software_ : hardware_;
  attr.read_format = kReadFormat;
  attr.exclude_hv = 1;
  attr.disabled = 0;  // counts continuously; regions are read as deltas, so no ioctl per region
  attr.inherit = 0;
  attr.pinned = 0;
  attr.exclude_kernel = mode_ == CountingMode::kUserOnly;
  int fd = backend_.open(&attr, group.leader);
  if (fd == -EACCES && mode_ == CountingMode::kUserAndKernel) {
    // perf_event_paranoid >= 2 without CAP_PERFMON: only user-mode counting is allowed.
    mode_ = CountingMode::kUserOnly;
    attr.exclude_kernel = 1;
    fd = backend_.open(&attr, group.leader);
  }
  if (fd < 0) return fd;
  uint64_t id = 0;
  if (backend_.ioctl(fd, PERF_EVENT_IOC_ID, &id) != 0) {
    backend_.close(fd);
    return -EINVAL;
  }
  event.id = id;
  if (group.leader < 0) group.leader = fd;
  group.members.push_back(&event);
  return fd;
}

bool CounterSet::read_group(Group& group, uint64_t* enabled, uint64_t* running) {
  if (group.leader < 0) return false;
  auto& buffer = group.buffer;
  const ssize_t bytes = backend_.read(group.leader, buffer.data(), buffer.size() * 8);
  if (bytes < static_cast<ssize_t>(3 * 8)) return false;
  const uint64_t nr = buffer[0];
  *enabled = buffer[1];
  *running = buffer[2];
  std::fill(group.values.begin(), group.values.end(), 0);
  for (uint64_t i = 0; i < nr && i < group.members.size(); ++i) {
    const uint64_t value = buffer[3 + 2 * i], id = buffer[4 + 2 * i];
    for (size_t m = 0; m < group.members.size(); ++m)
      if (group.members[m]->id == id) group.values[m] = value;
  }
  return true;
}

void CounterSet::start() {
  for (Group* group : {&hardware_, &software_}) {
    if (!read_group(*group, &group->begin_enabled, &group->begin_running)) continue;
    for (size_t m = 0; m < group->values.size(); ++m) group->members[m]->begin = group->values[m];
  }
}

void CounterSet::stop() {
  for (Group* group : {&hardware_, &software_}) {
    uint64_t enabled = 0, running = 0;
    if (!read_group(*group, &enabled, &running)) continue;
    const auto& values = group->values;
    const uint64_t d_enabled = enabled - group->begin_enabled;
    const uint64_t d_running = running - group->begin_running;
    for (size_t m = 0; m < values.size(); ++m) {
      Event& e = *group->members[m];
      const double raw = static_cast<double>(values[m] - e.begin);
      if (d_running == 0) continue;  // never scheduled in this region: nothing to add
      e.counted = true;
      if (d_running < d_enabled) {
        e.scaled = true;
        e.total += raw * static_cast<double>(d_enabled) / static_cast<double>(d_running);
      } else {
        e.total += raw;
      }
    }
  }
}

CounterValue CounterSet::value(const std::string& name) const {
  for (const auto& e : events_) {
    if (e.name != name) continue;
    if (!e.open || !e.counted) return {name, std::nullopt, false};
    return {name, e.total, e.scaled};
  }
  return {name, std::nullopt, false};
}

bool CounterSet::available(const std::string& name) const {
  for (const auto& e : events_)
    if (e.name == name) return e.open;
  return false;
}

std::string CounterSet::mode_name() const {
  return mode_ == CountingMode::kUserAndKernel ? "user+kernel" : "user";
}

std::string CounterSet::describe() const {
  std::vector<std::string> parts;
  for (const auto& e : events_) {
    if (e.open)
      parts.push_back(fmt::format("{}={} [{}, {}]", e.name, e.canonical.empty() ? e.encoding : e.canonical,
                                  to_string(e.kind), mode_name()));
    else
      parts.push_back(fmt::format("{}=n/a ({})", e.name, e.why_unavailable));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace pageladder
