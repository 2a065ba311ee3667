# Empty compiler generated dependencies file for mthp_bench.
# This may be replaced when dependencies are built.
