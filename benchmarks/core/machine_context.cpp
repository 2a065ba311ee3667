#include "core/machine_context.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/event_clock.hpp"
#include "core/mapping.hpp"
#include "core/perf_counters.hpp"
#include "core/sysfs.hpp"

#ifdef PAGELADDER_HAVE_TSC
#include <cpuid.h>
#endif

namespace pageladder {
namespace {

std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "unknown";
}

}  // namespace

std::string virtualization() {
#ifdef PAGELADDER_HAVE_TSC
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  __cpuid(1, eax, ebx, ecx, edx);
  if (!(ecx & (1u << 31))) return "none";
  __cpuid(0x40000000, eax, ebx, ecx, edx);
  char sig[13] = {};
  std::memcpy(sig + 0, &ebx, 4);
  std::memcpy(sig + 4, &ecx, 4);
  std::memcpy(sig + 8, &edx, 4);
  const std::string s(sig);
  if (s == "KVMKVMKVM") return "kvm";
  if (s == "Microsoft Hv") return "hyperv";
  if (s == "VMwareVMware") return "vmware";
  if (s == "XenVMMXenVMM") return "xen";
  if (s.empty()) return "unknown hypervisor";
  return s;
#else
  return "unknown";
#endif
}

std::string thp_enabled() {
  return read_selected("/sys/kernel/mm/transparent_hugepage/enabled").value_or("unsupported");
}

CpuidDtlb cpuid_dtlb() {
  CpuidDtlb d;
#ifdef PAGELADDER_HAVE_TSC
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0x80000000, &eax, &ebx, &ecx, &edx) && eax >= 0x80000006) {
    __get_cpuid(0x80000005, &eax, &ebx, &ecx, &edx);
    d.l1_entries = (ebx >> 16) & 0xff;
    __get_cpuid(0x80000006, &eax, &ebx, &ecx, &edx);
    d.l2_entries = (ebx >> 16) & 0xfff;
  }
#endif
  return d;
}

double estimate_core_ghz() {
  static const double ghz = [] {
    const EventClock& clock = EventClock::get();
    double best = 0;
    for (int round = 0; round < 5; ++round) {
      uint64_t x = 0;
      constexpr int kLoops = 20000, kAddsPerLoop = 100;
      const uint64_t t0 = clock.start();
      for (int i = 0; i < kLoops; ++i) {
#if defined(__x86_64__)
        asm volatile(".rept 100\n\tadd $1, %0\n\t.endr" : "+r"(x));
#else
        for (int k = 0; k < kAddsPerLoop; ++k) asm volatile("" : "+r"(x));
#endif
      }
      const double ns = clock.to_ns(clock.stop() - t0);
      best = std::max(best, kLoops * kAddsPerLoop / ns);  // the fastest round: least disturbed
    }
    return best;
  }();
  return ghz;
}

std::vector<std::pair<std::string, std::string>> machine_context() {
  utsname u{};
  uname(&u);
  const EventClock& clock = EventClock::get();
  CounterSet probe({"cycles"});
  const std::string pmu =
      probe.available("cycles") ? "available" : "unavailable: " + probe.hardware_problem();
  return {
      {"pageladder_version", PAGELADDER_VERSION},
      {"pageladder_build_type", PAGELADDER_BUILD_TYPE},
      {"pageladder_compiler", PAGELADDER_COMPILER},
      {"pageladder_kernel", u.release},
      {"pageladder_cpu_model", cpuinfo_field("model name")},
      {"pageladder_microcode", cpuinfo_field("microcode")},
      {"pageladder_virtualization", virtualization()},
      {"pageladder_page_size", std::to_string(page_size())},
      {"pageladder_thp_size", std::to_string(thp_size())},
      {"pageladder_thp_enabled", thp_enabled()},
      {"pageladder_thp_defrag",
       read_selected("/sys/kernel/mm/transparent_hugepage/defrag").value_or("unsupported")},
      {"pageladder_clocksource",
       read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource")
           .value_or("unknown")},
      {"pageladder_timer", clock.name()},
      {"pageladder_timer_reason", clock.reason()},
      {"pageladder_timer_overhead_ns", fmt::format("{:.1f}", clock.overhead_ns())},
      {"pageladder_hw_counters", pmu},
      {"pageladder_counting_mode", probe.mode_name()},
      {"pageladder_euid", std::to_string(geteuid())},
      {"pageladder_core_ghz_estimated", fmt::format("{:.2f}", estimate_core_ghz())},
      {"pageladder_cpuid_l1_dtlb_entries", std::to_string(cpuid_dtlb().l1_entries)},
      {"pageladder_cpuid_l2_dtlb_entries", std::to_string(cpuid_dtlb().l2_entries)},
  };
}

void add_machine_context() {
  for (const auto& [key, value] : machine_context()) benchmark::AddCustomContext(key, value);
}

}  // namespace pageladder
