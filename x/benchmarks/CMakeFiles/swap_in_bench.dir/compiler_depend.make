# Empty compiler generated dependencies file for swap_in_bench.
# This may be replaced when dependencies are built.
