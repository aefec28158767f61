#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# liballocator-preload.so, the malloc-family-only preload library (issue
# 17): it exports no mem_* name and every other name liballocator.so
# exports, and a program whose own library defines mem_malloc, mem_free,
# mem_calloc and mem_trim (as lwIP does) keeps them when it is preloaded,
# while its malloc is liballocator's.  The same program under
# liballocator.so shows the problem the library exists for, so that this
# test can tell the two apart.
# Usage: malloc_only.sh LIBALLOCATOR_SO LIBALLOCATOR_PRELOAD_SO OWN_MEM_MAIN
set -u
full=$1 preload=$2 prog=$3
fail=0
problem() { echo "malloc_only: $*"; fail=1; }

# exports FILE: the names FILE exports (defined dynamic symbols), sorted.
exports() { nm -D --defined-only "$1" | awk '{print $NF}' | sort; }
preload_names=$(exports "$preload") || { echo "malloc_only: nm -D $preload failed"; exit 1; }
full_names=$(exports "$full") || { echo "malloc_only: nm -D $full failed"; exit 1; }
if grep '^mem_' <<<"$preload_names"; then
  problem "liballocator-preload.so exports the mem_* names above"
fi
grep -qx malloc <<<"$preload_names" || problem "liballocator-preload.so does not export malloc"
# Both version scripts list the malloc family: they must not drift apart.
if ! diff <(grep -v '^mem_' <<<"$full_names") <(echo "$preload_names"); then
  problem "liballocator.so (<) and liballocator-preload.so (>) export different malloc names"
fi

err_file=$(mktemp)
trap 'rm -f "$err_file"' EXIT
out=$(LD_PRELOAD=$preload ALLOCATOR_STATS=1 "$prog" 2>"$err_file")
rc=$?
err=$(cat "$err_file")
if [ $rc -ne 0 ]; then
  problem "under liballocator-preload.so (exit $rc): $out"
elif [[ $out != *liballocator-preload.so* ]]; then
  problem "under liballocator-preload.so, malloc came from elsewhere: $out"
fi
# Preloaded, it is the whole allocator: the report at exit too.
grep -q '^liballocator statistics (pid' <<<"$err" || problem "no statistics at exit: $err"

out=$(LD_PRELOAD=$full "$prog" 2>&1)
rc=$?
[ $rc -eq 1 ] || problem "under liballocator.so the program's mem_* calls should reach" \
  "liballocator's (exit 1), but it exited $rc: $out"

[ $fail -eq 0 ] && echo "malloc_only: ok"
exit $fail
