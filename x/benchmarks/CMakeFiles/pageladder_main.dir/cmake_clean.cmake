file(REMOVE_RECURSE
  "CMakeFiles/pageladder_main.dir/core/main.cpp.o"
  "CMakeFiles/pageladder_main.dir/core/main.cpp.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/pageladder_main.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
