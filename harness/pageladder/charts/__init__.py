"""The charts of a run and of a comparison, one module per family of chart (pageladder.plot
is their entry point)."""
