"""The harness's exit statuses (docs/names.md lists them for scripts), every command's; a guest that
could not run exits with guests/bench.py's EXIT_GUEST (6), an interrupted run with 130."""
EXIT_USAGE = 2
EXIT_SLOWER = 3     # compare with --fail-on-slower (FAIL_ON_SLOWER=1): a rung got slower
EXIT_PLOT = 4       # results written, charts not drawn (no matplotlib)
EXIT_JOURNAL = 5    # restore stopped at a journal line it cannot read (docs/journal.md)
EXIT_BUSY = 7       # another pageladder run holds this machine (the run lock): refused
EXIT_PENDING = 8    # restore left changes pending (their process still runs, or undoing failed)
