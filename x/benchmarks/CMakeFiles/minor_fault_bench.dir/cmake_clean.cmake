file(REMOVE_RECURSE
  "CMakeFiles/minor_fault_bench.dir/minor_fault_bench.cpp.o"
  "CMakeFiles/minor_fault_bench.dir/minor_fault_bench.cpp.o.d"
  "minor_fault_bench"
  "minor_fault_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/minor_fault_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
