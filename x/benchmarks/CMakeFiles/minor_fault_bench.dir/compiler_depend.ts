# CMAKE generated file: DO NOT EDIT!
# Timestamp file for compiler generated dependencies management for minor_fault_bench.
