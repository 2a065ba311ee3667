# Empty dependencies file for pageladder_core.
# This may be replaced when dependencies are built.
