file(REMOVE_RECURSE
  "CMakeFiles/uffd_fault_bench.dir/uffd_fault_bench.cpp.o"
  "CMakeFiles/uffd_fault_bench.dir/uffd_fault_bench.cpp.o.d"
  "uffd_fault_bench"
  "uffd_fault_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/uffd_fault_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
