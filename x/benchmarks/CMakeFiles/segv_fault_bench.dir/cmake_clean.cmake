file(REMOVE_RECURSE
  "CMakeFiles/segv_fault_bench.dir/segv_fault_bench.cpp.o"
  "CMakeFiles/segv_fault_bench.dir/segv_fault_bench.cpp.o.d"
  "segv_fault_bench"
  "segv_fault_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/segv_fault_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
