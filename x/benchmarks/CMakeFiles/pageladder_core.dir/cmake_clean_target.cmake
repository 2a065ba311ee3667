file(REMOVE_RECURSE
  "libpageladder_core.a"
)
