# Empty compiler generated dependencies file for uffd_fault_bench.
# This may be replaced when dependencies are built.
