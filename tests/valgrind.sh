#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs each argument (a command line in one word: "binary args...") under
# valgrind memcheck; fails if memcheck reports any error or a test fails.
# Used by ctest (label valgrind) and by `make valgrind`.
set -u
status=0
for cmd in "$@"; do
  # shellcheck disable=SC2086 # the command carries its own arguments
  # Unit tests read headers and free blocks directly, which the allocator
  # tells memcheck are not the program's: its client requests stay off.
  if ! ALLOCATOR_VALGRIND=0 valgrind --quiet --error-exitcode=99 --leak-check=no $cmd >/dev/null; then
    echo "valgrind: FAILED: $cmd" >&2
    status=1
  fi
done
exit $status
