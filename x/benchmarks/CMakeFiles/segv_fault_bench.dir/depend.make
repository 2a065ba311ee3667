# Empty dependencies file for segv_fault_bench.
# This may be replaced when dependencies are built.
