"""pageladder's harness: runs the benchmark binaries, builds the ladder, draws and reports it."""

# 2: rows tagged with their invocation; rungs carry invocation medians and a definition.
SCHEMA_VERSION = 2
