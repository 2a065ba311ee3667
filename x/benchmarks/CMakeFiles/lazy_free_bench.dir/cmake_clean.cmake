file(REMOVE_RECURSE
  "CMakeFiles/lazy_free_bench.dir/lazy_free_bench.cpp.o"
  "CMakeFiles/lazy_free_bench.dir/lazy_free_bench.cpp.o.d"
  "lazy_free_bench"
  "lazy_free_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/lazy_free_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
