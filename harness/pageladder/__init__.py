"""pageladder's harness: runs the benchmark binaries, builds the ladder, draws and reports it."""

SCHEMA_VERSION = 1
