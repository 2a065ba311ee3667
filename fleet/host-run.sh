#!/usr/bin/env bash
# One fleet host's run, started by fleet/playbook.yml in the host's own work folder (root's, 0700,
# or the user's own): make deps, then make bench into results/. The fleet's variables and the
# inventory's for this host arrive as environment, which make takes literally and checks again
# (harness/pageladder/inputs.py). Its output goes to fleet-bench.log; its exit status to
# fleet-bench.status, written whole (a temporary name, then a rename).
set -u
cd "$(dirname "$0")/.."
status=0
{ make --no-print-directory deps && make --no-print-directory bench RESULTS=results; } >fleet-bench.log 2>&1 || status=$?
printf '%s\n' "$status" >fleet-bench.status.tmp && mv -f fleet-bench.status.tmp fleet-bench.status
exit 0
