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

}  // namespace pageladder
