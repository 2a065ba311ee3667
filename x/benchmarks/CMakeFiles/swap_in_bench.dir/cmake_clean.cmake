file(REMOVE_RECURSE
  "CMakeFiles/swap_in_bench.dir/swap_in_bench.cpp.o"
  "CMakeFiles/swap_in_bench.dir/swap_in_bench.cpp.o.d"
  "swap_in_bench"
  "swap_in_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/swap_in_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
