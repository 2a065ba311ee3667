file(REMOVE_RECURSE
  "CMakeFiles/tlb_bench.dir/tlb_bench.cpp.o"
  "CMakeFiles/tlb_bench.dir/tlb_bench.cpp.o.d"
  "tlb_bench"
  "tlb_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/tlb_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
