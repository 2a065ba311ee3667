# Empty dependencies file for fault_scaling_bench.
# This may be replaced when dependencies are built.
