file(REMOVE_RECURSE
  "CMakeFiles/file_fault_bench.dir/file_fault_bench.cpp.o"
  "CMakeFiles/file_fault_bench.dir/file_fault_bench.cpp.o.d"
  "file_fault_bench"
  "file_fault_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/file_fault_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
