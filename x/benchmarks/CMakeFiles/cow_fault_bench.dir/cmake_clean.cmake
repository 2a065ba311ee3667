file(REMOVE_RECURSE
  "CMakeFiles/cow_fault_bench.dir/cow_fault_bench.cpp.o"
  "CMakeFiles/cow_fault_bench.dir/cow_fault_bench.cpp.o.d"
  "cow_fault_bench"
  "cow_fault_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/cow_fault_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
