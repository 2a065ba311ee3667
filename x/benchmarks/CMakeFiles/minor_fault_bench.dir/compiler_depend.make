# Empty compiler generated dependencies file for minor_fault_bench.
# This may be replaced when dependencies are built.
