# Empty compiler generated dependencies file for pageladder_main.
# This may be replaced when dependencies are built.
