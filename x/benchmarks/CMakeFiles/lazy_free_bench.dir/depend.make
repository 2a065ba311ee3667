# Empty dependencies file for lazy_free_bench.
# This may be replaced when dependencies are built.
