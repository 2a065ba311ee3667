#include "core/machine_context.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
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

namespace {

// Leaf 0x18's translation-cache types (EDX[4:0]) that serve loads: the pointer chase of
// tlb_bench is loads, so a store-only TLB (5) and the instruction TLB (2) do not count.
constexpr unsigned kTlbData = 1, kTlbUnified = 3, kTlbLoadOnly = 4;

// Leaf 2 descriptor bytes naming a TLB that holds 4 KiB data translations (Intel SDM vol. 2A,
// "Encoding of CPUID Leaf 2 Descriptors"), with its entries.
struct TlbDescriptor {
  uint8_t byte;
  unsigned entries;
};
constexpr TlbDescriptor kLevel1DataTlbs[] = {
    {0x03, 64}, {0x5B, 64}, {0x5C, 128}, {0x5D, 256}, {0x64, 512},
    {0xA0, 32}, {0xB3, 128}, {0xB4, 256}, {0xBA, 64}, {0xC0, 8},
};
constexpr TlbDescriptor kSharedSecondLevelTlbs[] = {{0xC1, 1024}, {0xC3, 1536}, {0xCA, 512}};
// "Data TLB0" descriptors: a small TLB in front of another data TLB, which then leaves unclear
// which one the level-1 count should be.
constexpr uint8_t kDataTlb0[] = {0x56, 0x57, 0x59, 0x5A};

}  // namespace

CpuidDtlb decode_intel_leaf_0x18(const std::vector<CpuidRegisters>& subleaves) {
  CpuidDtlb d;
  for (const CpuidRegisters& r : subleaves) {
    const unsigned type = r.edx & 0x1f, level = (r.edx >> 5) & 0x7;
    const bool four_kib = r.ebx & 1;
    if (!four_kib || (type != kTlbData && type != kTlbUnified && type != kTlbLoadOnly)) continue;
    const unsigned entries = (r.ebx >> 16) * r.ecx;  // ways x sets
    // Where one level lists two such structures, the larger is the reach a load can have there.
    if (level == 1) d.l1_entries = std::max(d.l1_entries, entries);
    if (level == 2) d.l2_entries = std::max(d.l2_entries, entries);
  }
  if (d.l1_entries || d.l2_entries) d.source = "cpuid leaf 0x18";
  return d;
}

CpuidDtlb decode_intel_leaf_2(const CpuidRegisters& leaf2) {
  // AL is how many times leaf 2 must be read for the full list: 1 on every CPU since the P6
  // family; anything else is not the simple case.
  if ((leaf2.eax & 0xff) != 1) return {};
  std::vector<uint8_t> bytes;
  const unsigned registers[] = {leaf2.eax, leaf2.ebx, leaf2.ecx, leaf2.edx};
  for (size_t i = 0; i < 4; ++i) {
    if (registers[i] >> 31) continue;  // bit 31 set: this register holds no descriptors
    for (unsigned b = i == 0 ? 1 : 0; b < 4; ++b)
      bytes.push_back(static_cast<uint8_t>(registers[i] >> (8 * b)));
  }
  const auto entries_of = [&bytes](const auto& table, size_t* found) {
    unsigned entries = 0;
    for (uint8_t byte : bytes)
      for (const TlbDescriptor& t : table)
        if (t.byte == byte) {
          entries = t.entries;
          ++*found;
        }
    return entries;
  };
  size_t level1_found = 0, level2_found = 0;
  const unsigned l1 = entries_of(kLevel1DataTlbs, &level1_found);
  const unsigned l2 = entries_of(kSharedSecondLevelTlbs, &level2_found);
  const bool two_level_data_tlb = std::any_of(bytes.begin(), bytes.end(), [](uint8_t byte) {
    return std::find(std::begin(kDataTlb0), std::end(kDataTlb0), byte) != std::end(kDataTlb0);
  });
  if (level1_found > 1 || level2_found > 1 || two_level_data_tlb) return {};
  CpuidDtlb d;
  d.l1_entries = l1;
  d.l2_entries = l2;
  if (l1 || l2) d.source = "cpuid leaf 2";
  return d;
}

CpuidDtlb cpuid_dtlb() {
  CpuidDtlb d;
#ifdef PAGELADDER_HAVE_TSC
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  __cpuid(0, eax, ebx, ecx, edx);
  const unsigned max_leaf = eax;
  char vendor[13] = {};
  std::memcpy(vendor + 0, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  if (std::string(vendor) == "GenuineIntel") {
    if (max_leaf >= 0x18) {
      std::vector<CpuidRegisters> subleaves(1);
      CpuidRegisters& first = subleaves[0];
      __cpuid_count(0x18, 0, first.eax, first.ebx, first.ecx, first.edx);
      const unsigned last = std::min(first.eax, 63u);  // EAX of subleaf 0: the last subleaf
      for (unsigned i = 1; i <= last; ++i) {
        CpuidRegisters r;
        __cpuid_count(0x18, i, r.eax, r.ebx, r.ecx, r.edx);
        subleaves.push_back(r);
      }
      d = decode_intel_leaf_0x18(subleaves);
    }
    if (!d.l1_entries && !d.l2_entries && max_leaf >= 2) {
      CpuidRegisters r;
      __cpuid(2, r.eax, r.ebx, r.ecx, r.edx);
      d = decode_intel_leaf_2(r);
    }
    return d;
  }
  if (__get_cpuid(0x80000000, &eax, &ebx, &ecx, &edx) && eax >= 0x80000006) {
    __get_cpuid(0x80000005, &eax, &ebx, &ecx, &edx);
    d.l1_entries = (ebx >> 16) & 0xff;
    __get_cpuid(0x80000006, &eax, &ebx, &ecx, &edx);
    d.l2_entries = (ebx >> 16) & 0xfff;
    if (d.l1_entries || d.l2_entries) d.source = "cpuid leaves 0x80000005/0x80000006";
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
  const EventClock& clock = EventClock::get();
  CounterSet probe({"cycles"});
  const std::string pmu =
      probe.available("cycles") ? "available" : "unavailable: " + probe.hardware_problem();
  const CpuidDtlb dtlb = cpuid_dtlb();
  return {
      {"pageladder_version", PAGELADDER_VERSION},
      {"pageladder_build_type", PAGELADDER_BUILD_TYPE},
      {"pageladder_compiler", PAGELADDER_COMPILER},
      // Only what the binary alone knows: the machine's facts (CPU, kernel, THP, clocksource,
      // swap ...) are gathered once, by the harness (harness/pageladder/metadata.py).
      {"pageladder_virtualization", virtualization()},
      {"pageladder_timer", clock.name()},
      {"pageladder_timer_reason", clock.reason()},
      {"pageladder_timer_overhead_ns", fmt::format("{:.1f}", clock.overhead_ns())},
      {"pageladder_hw_counters", pmu},
      {"pageladder_counting_mode", probe.mode_name()},
      {"pageladder_euid", std::to_string(geteuid())},
      {"pageladder_core_ghz_estimated", fmt::format("{:.2f}", estimate_core_ghz())},
      {"pageladder_cpuid_l1_dtlb_entries", std::to_string(dtlb.l1_entries)},
      {"pageladder_cpuid_l2_dtlb_entries", std::to_string(dtlb.l2_entries)},
      {"pageladder_cpuid_tlb_source", dtlb.source},
  };
}

void add_machine_context() {
  for (const auto& [key, value] : machine_context()) benchmark::AddCustomContext(key, value);
}

}  // namespace pageladder
