file(REMOVE_RECURSE
  "CMakeFiles/core_unit_tests.dir/cgroup_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/cgroup_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/copy_check_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/copy_check_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/cpuid_tlb_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/cpuid_tlb_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/event_clock_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/event_clock_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/event_run_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/event_run_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/event_windows_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/event_windows_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/fault_counters_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/fault_counters_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/journal_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/journal_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/pagemap_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/pagemap_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/perf_counters_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/perf_counters_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/plateaus_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/plateaus_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/pointer_chase_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/pointer_chase_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/sysfs_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/sysfs_test.cpp.o.d"
  "CMakeFiles/core_unit_tests.dir/temp_file_test.cpp.o"
  "CMakeFiles/core_unit_tests.dir/temp_file_test.cpp.o.d"
  "core_unit_tests"
  "core_unit_tests.pdb"
  "core_unit_tests[1]_tests.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/core_unit_tests.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
