
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tests/unit/cgroup_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/cgroup_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/cgroup_test.cpp.o.d"
  "/work/main/tests/unit/copy_check_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/copy_check_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/copy_check_test.cpp.o.d"
  "/work/main/tests/unit/cpuid_tlb_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/cpuid_tlb_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/cpuid_tlb_test.cpp.o.d"
  "/work/main/tests/unit/event_clock_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/event_clock_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/event_clock_test.cpp.o.d"
  "/work/main/tests/unit/event_run_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/event_run_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/event_run_test.cpp.o.d"
  "/work/main/tests/unit/event_windows_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/event_windows_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/event_windows_test.cpp.o.d"
  "/work/main/tests/unit/fault_counters_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/fault_counters_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/fault_counters_test.cpp.o.d"
  "/work/main/tests/unit/journal_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/journal_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/journal_test.cpp.o.d"
  "/work/main/tests/unit/pagemap_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/pagemap_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/pagemap_test.cpp.o.d"
  "/work/main/tests/unit/perf_counters_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/perf_counters_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/perf_counters_test.cpp.o.d"
  "/work/main/tests/unit/plateaus_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/plateaus_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/plateaus_test.cpp.o.d"
  "/work/main/tests/unit/pointer_chase_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/pointer_chase_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/pointer_chase_test.cpp.o.d"
  "/work/main/tests/unit/sysfs_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/sysfs_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/sysfs_test.cpp.o.d"
  "/work/main/tests/unit/temp_file_test.cpp" "tests/unit/CMakeFiles/core_unit_tests.dir/temp_file_test.cpp.o" "gcc" "tests/unit/CMakeFiles/core_unit_tests.dir/temp_file_test.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/x/benchmarks/CMakeFiles/pageladder_core.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
