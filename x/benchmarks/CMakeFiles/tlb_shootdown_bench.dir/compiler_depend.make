# Empty compiler generated dependencies file for tlb_shootdown_bench.
# This may be replaced when dependencies are built.
