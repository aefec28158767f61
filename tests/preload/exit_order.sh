#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Allocation at exit on both sides of the statistics report: the program
# must exit 0 and print, in this order, the early handler's line, the
# report, the late destructor's and the late handler's lines.
# Usage: exit_order.sh LIBALLOCATOR EXIT_MAIN
set -u
lib=$1 prog=$2
err=$(LD_PRELOAD=$lib ALLOCATOR_STATS=1 "$prog" 2>&1 >/dev/null)
rc=$?
order=$(printf '%s\n' "$err" | grep -E '^(early|late|liballocator statistics)' | cut -d' ' -f1-2)
expected=$'early atexit\nliballocator statistics\nlate destructor\nlate atexit'
if [ $rc -ne 0 ] || [ "$order" != "$expected" ]; then
  echo "exit_order: rc=$rc, stderr was:"; printf '%s\n' "$err"
  exit 1
fi
echo "exit_order: ok"
