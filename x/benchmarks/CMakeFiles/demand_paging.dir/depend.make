# Empty dependencies file for demand_paging.
# This may be replaced when dependencies are built.
