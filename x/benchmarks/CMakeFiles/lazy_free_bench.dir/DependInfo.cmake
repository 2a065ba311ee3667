
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/benchmarks/lazy_free_bench.cpp" "benchmarks/CMakeFiles/lazy_free_bench.dir/lazy_free_bench.cpp.o" "gcc" "benchmarks/CMakeFiles/lazy_free_bench.dir/lazy_free_bench.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/x/benchmarks/CMakeFiles/pageladder_core.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
