# CMAKE generated file: DO NOT EDIT!
# Timestamp file for compiler generated dependencies management for uffd_fault_bench.
