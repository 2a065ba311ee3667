// pageladder's own command-line flags (--pageladder_<name>=<value>), taken out of argv before
// Google Benchmark sees it, and the late registration of benchmarks that depend on them.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace pageladder {

// Parses and removes --pageladder_* arguments. Returns an error message, or empty.
std::string parse_flags(int* argc, char** argv);

std::optional<std::string> flag(const std::string& name);
bool quick();  // --pageladder_quick: fewer and smaller points (make bench QUICK=1)
// An integer flag, or `fallback`; throws std::invalid_argument with a clear message if malformed.
long long flag_integer(const std::string& name, long long fallback);

// Benchmarks whose rows depend on flags register here and are added after parsing.
struct Registrar {
  explicit Registrar(std::function<void()> add);
};
void run_registrars();

}  // namespace pageladder
