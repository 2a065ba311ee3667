// The shared main of every benchmark binary: Google Benchmark's, plus the machine context.
#include <benchmark/benchmark.h>

#include "core/machine_context.hpp"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  pageladder::add_machine_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
