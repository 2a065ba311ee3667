// The shared main of every benchmark binary: Google Benchmark's, plus pageladder's flags, the
// rows registered after them, the machine context and the rows' own descriptions.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>

#include "core/flags.hpp"
#include "core/machine_context.hpp"
#include "core/rows.hpp"

int main(int argc, char** argv) {
  const std::string error = pageladder::parse_flags(&argc, argv);
  if (!error.empty()) {
    std::fprintf(stderr, "%s: %s\n", argv[0], error.c_str());
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  try {
    pageladder::run_registrars();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 2;
  }
  // Every row's description alone, without running anything: what the harness needs to know of
  // a binary before it runs it (which rows a swap phase runs, which ones the anatomy pass takes).
  if (pageladder::flag("describe_rows")) {
    std::puts(pageladder::rows_json().c_str());
    return 0;
  }
  pageladder::add_machine_context();
  // Every row's description and claims (core/rows.hpp), for the harness.
  benchmark::AddCustomContext("pageladder_rows", pageladder::rows_json());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
