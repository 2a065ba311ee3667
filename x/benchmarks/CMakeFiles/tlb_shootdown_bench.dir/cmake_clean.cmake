file(REMOVE_RECURSE
  "CMakeFiles/tlb_shootdown_bench.dir/tlb_shootdown_bench.cpp.o"
  "CMakeFiles/tlb_shootdown_bench.dir/tlb_shootdown_bench.cpp.o.d"
  "tlb_shootdown_bench"
  "tlb_shootdown_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/tlb_shootdown_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
