file(REMOVE_RECURSE
  "CMakeFiles/fault_scaling_bench.dir/fault_scaling_bench.cpp.o"
  "CMakeFiles/fault_scaling_bench.dir/fault_scaling_bench.cpp.o.d"
  "fault_scaling_bench"
  "fault_scaling_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/fault_scaling_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
