#include "core/flags.hpp"

#include <cstring>
#include <map>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace pageladder {
namespace {

struct FlagSpec {
  const char* name;
  const char* help;
};

// Every flag any binary accepts; an unknown --pageladder_ flag is an error listing these.
constexpr FlagSpec kFlags[] = {
    {"quick", "fewer and smaller points (what make bench QUICK=1 passes)"},
    {"tlb_min_pages", "smallest page count of the TLB sweep (default 8)"},
    {"tlb_max_pages", "largest page count of the TLB sweep (default 65536)"},
    {"tlb_pages", "page counts of the tlb_hit, stlb_hit and page_walk rungs, 'H,S,W' (default 16,256,131072)"},
    {"file_dir", "directory for file_fault_bench's test file (default /var/tmp)"},
    {"no_system_changes", "never change a sysctl (swap_in_bench skips the rows that need it)"},
    {"describe_rows", "print every row's description (JSON, as in the context's pageladder_rows) and exit"},
};

std::map<std::string, std::string>& values() {
  static std::map<std::string, std::string> v;
  return v;
}

std::vector<std::function<void()>>& registrars() {
  static std::vector<std::function<void()>> r;
  return r;
}

}  // namespace

std::string parse_flags(int* argc, char** argv) {
  constexpr const char* kPrefix = "--pageladder_";
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(kPrefix, 0) != 0) {
      argv[kept++] = argv[i];
      continue;
    }
    const std::string body = arg.substr(std::strlen(kPrefix));
    const auto eq = body.find('=');
    const std::string name = body.substr(0, eq);
    bool known = false;
    for (const auto& spec : kFlags) known |= name == spec.name;
    if (!known) {
      std::string list;
      for (const auto& spec : kFlags) list += fmt::format("\n  --pageladder_{}: {}", spec.name, spec.help);
      return fmt::format("unknown flag {}; pageladder flags are:{}", arg, list);
    }
    values()[name] = eq == std::string::npos ? "1" : body.substr(eq + 1);
  }
  *argc = kept;
  argv[kept] = nullptr;
  return "";
}

std::optional<std::string> flag(const std::string& name) {
  const auto it = values().find(name);
  if (it == values().end()) return std::nullopt;
  return it->second;
}

bool quick() {
  const auto v = flag("quick");
  return v && *v != "0" && *v != "false";
}

long long flag_integer(const std::string& name, long long fallback) {
  const auto v = flag(name);
  if (!v) return fallback;
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(*v, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != v->size())
    throw std::invalid_argument(fmt::format("--pageladder_{}={} is not an integer", name, *v));
  return n;
}

Registrar::Registrar(std::function<void()> add) { registrars().push_back(std::move(add)); }

void run_registrars() {
  for (auto& add : registrars()) add();
}

}  // namespace pageladder
