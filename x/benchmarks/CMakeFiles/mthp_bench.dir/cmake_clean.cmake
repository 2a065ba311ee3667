file(REMOVE_RECURSE
  "CMakeFiles/mthp_bench.dir/mthp_bench.cpp.o"
  "CMakeFiles/mthp_bench.dir/mthp_bench.cpp.o.d"
  "mthp_bench"
  "mthp_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/mthp_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
