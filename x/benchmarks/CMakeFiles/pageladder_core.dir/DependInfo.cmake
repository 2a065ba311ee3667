
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/benchmarks/core/backing.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/backing.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/backing.cpp.o.d"
  "/work/main/benchmarks/core/cgroup.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/cgroup.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/cgroup.cpp.o.d"
  "/work/main/benchmarks/core/child_process.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/child_process.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/child_process.cpp.o.d"
  "/work/main/benchmarks/core/cow_partner.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/cow_partner.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/cow_partner.cpp.o.d"
  "/work/main/benchmarks/core/cpus.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/cpus.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/cpus.cpp.o.d"
  "/work/main/benchmarks/core/event_clock.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/event_clock.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/event_clock.cpp.o.d"
  "/work/main/benchmarks/core/event_run.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/event_run.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/event_run.cpp.o.d"
  "/work/main/benchmarks/core/event_windows.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/event_windows.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/event_windows.cpp.o.d"
  "/work/main/benchmarks/core/fault_counters.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/fault_counters.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/fault_counters.cpp.o.d"
  "/work/main/benchmarks/core/flags.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/flags.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/flags.cpp.o.d"
  "/work/main/benchmarks/core/hugetlb_pool.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/hugetlb_pool.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/hugetlb_pool.cpp.o.d"
  "/work/main/benchmarks/core/machine_context.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/machine_context.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/machine_context.cpp.o.d"
  "/work/main/benchmarks/core/mapping.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/mapping.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/mapping.cpp.o.d"
  "/work/main/benchmarks/core/mthp.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/mthp.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/mthp.cpp.o.d"
  "/work/main/benchmarks/core/page_region.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/page_region.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/page_region.cpp.o.d"
  "/work/main/benchmarks/core/page_work.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/page_work.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/page_work.cpp.o.d"
  "/work/main/benchmarks/core/pagemap.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/pagemap.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/pagemap.cpp.o.d"
  "/work/main/benchmarks/core/perf_counters.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/perf_counters.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/perf_counters.cpp.o.d"
  "/work/main/benchmarks/core/plateaus.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/plateaus.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/plateaus.cpp.o.d"
  "/work/main/benchmarks/core/pointer_chase.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/pointer_chase.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/pointer_chase.cpp.o.d"
  "/work/main/benchmarks/core/rows.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/rows.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/rows.cpp.o.d"
  "/work/main/benchmarks/core/sysfs.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/sysfs.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/sysfs.cpp.o.d"
  "/work/main/benchmarks/core/system_changes.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/system_changes.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/system_changes.cpp.o.d"
  "/work/main/benchmarks/core/temp_file.cpp" "benchmarks/CMakeFiles/pageladder_core.dir/core/temp_file.cpp.o" "gcc" "benchmarks/CMakeFiles/pageladder_core.dir/core/temp_file.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
