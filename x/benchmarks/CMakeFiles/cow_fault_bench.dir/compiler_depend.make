# Empty compiler generated dependencies file for cow_fault_bench.
# This may be replaced when dependencies are built.
