# Empty dependencies file for core_unit_tests.
# This may be replaced when dependencies are built.
