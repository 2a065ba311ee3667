// The facts about this machine that decide what the numbers mean, written into every binary's
// Google Benchmark JSON context (flat string keys prefixed "pageladder_").
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pageladder {

std::vector<std::pair<std::string, std::string>> machine_context();
void add_machine_context();

// "kvm", "none", ... from CPUID's hypervisor leaf.
std::string virtualization();
std::string thp_enabled();  // "always" | "madvise" | "never" | "unsupported"

// What CPUID claims about the data TLBs for 4 KiB pages, from the vendor's own leaves: Intel's
// leaf 0x18 (leaf 2's descriptors when 0x18 lists none), AMD's 0x80000005/6. An entry count of
// 0 means CPUID does not say. A hint only: hypervisors rewrite or empty these leaves.
struct CpuidDtlb {
  unsigned l1_entries = 0;
  unsigned l2_entries = 0;
  std::string source = "none";  // the leaf the counts came from
};
CpuidDtlb cpuid_dtlb();

// One CPUID answer.
struct CpuidRegisters {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};
// The 4 KiB data TLBs that Intel's leaf 0x18 (deterministic address translation parameters)
// lists, given its subleaves in order: the loads' TLB at level 1, the data or unified TLB at
// level 2. Pure, for tests.
CpuidDtlb decode_intel_leaf_0x18(const std::vector<CpuidRegisters>& subleaves);
// The same from Intel's leaf 2 descriptor bytes, where they name one level-1 data TLB for 4 KiB
// pages and at most one shared second level unambiguously; otherwise nothing is known.
CpuidDtlb decode_intel_leaf_2(const CpuidRegisters& leaf2);

// Core clock estimated by timing a chain of dependent 1-cycle adds: for labelling ns as
// (estimated) cycles where no PMU can count them.
double estimate_core_ghz();

}  // namespace pageladder
