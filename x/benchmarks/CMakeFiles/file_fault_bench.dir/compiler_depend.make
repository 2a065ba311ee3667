# Empty compiler generated dependencies file for file_fault_bench.
# This may be replaced when dependencies are built.
