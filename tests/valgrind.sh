#!/usr/bin/env bash
# Runs each argument (a command line in one word: "binary args...") under
# valgrind memcheck; fails if memcheck reports any error or a test fails.
# Used by ctest (label valgrind) and by `make valgrind`.
set -u
status=0
for cmd in "$@"; do
  # shellcheck disable=SC2086 # the command carries its own arguments
  if ! valgrind --quiet --error-exitcode=99 --leak-check=no $cmd >/dev/null; then
    echo "valgrind: FAILED: $cmd" >&2
    status=1
  fi
done
exit $status
