# pageladder_add_benchmark(<name> SOURCES <files...> [SMOKE_ARGS <args...>] [ALLOW_ALL_SKIPPED])
#
# All build and test policy for a benchmark binary lives here: it links the shared measurement
# core, lands in build/benchmarks/, and becomes a ctest smoke test (Google Benchmark's own
# pattern): one tiny repetition, JSON out, then tests/smoke/check_smoke.py asserts that every row
# is either valid or skipped with a reason, that every claim holds, and that at least one row
# measured something (ALLOW_ALL_SKIPPED: a binary whose rows may all need what a machine lacks;
# ctest then shows it as skipped, never as passed with nothing measured).
function(pageladder_add_benchmark name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "ALLOW_ALL_SKIPPED" "" "SOURCES;SMOKE_ARGS")
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE pageladder::core pageladder_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/benchmarks)

  set(out ${PROJECT_BINARY_DIR}/smoke/${name}.json)
  set(allow_all_skipped "")
  if(ARG_ALLOW_ALL_SKIPPED)
    set(allow_all_skipped --allow-all-skipped)
  endif()
  add_test(NAME smoke.${name}
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/smoke/check_smoke.py
            --out ${out} ${allow_all_skipped} -- $<TARGET_FILE:${name}>
            --benchmark_min_time=0.002 --benchmark_repetitions=1 ${ARG_SMOKE_ARGS})
  # Every library bound at load, as the harness runs them (runner.run_streaming says why).
  set_tests_properties(smoke.${name} PROPERTIES LABELS smoke TIMEOUT 300 ENVIRONMENT LD_BIND_NOW=1
    SKIP_RETURN_CODE 77)
endfunction()
