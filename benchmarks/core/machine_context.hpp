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

// What CPUID claims about the data TLBs for 4 KiB pages (AMD leaves 0x80000005/6), or 0 when
// it does not say. A hint only: hypervisors rewrite these leaves.
struct CpuidDtlb {
  unsigned l1_entries = 0;
  unsigned l2_entries = 0;
};
CpuidDtlb cpuid_dtlb();

// Core clock estimated by timing a chain of dependent 1-cycle adds: for labelling ns as
// (estimated) cycles where no PMU can count them.
double estimate_core_ghz();

}  // namespace pageladder
