# Empty dependencies file for tlb_bench.
# This may be replaced when dependencies are built.
