#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs tests/valgrind/vg_cases under memcheck with liballocator as its
# allocator and checks that memcheck sees each deliberate error through the
# allocator's client requests: the right kind of report, pointing at the
# line of vg_cases.c that made it, and nothing in a clean run.
# Usage: run.sh LIBALLOCATOR VG_CASES_PRELOAD VG_CASES_STATIC VG_CASES_STATIC_MALLOC
set -u
lib=$1 preload_prog=$2 static_prog=$3 static_malloc_prog=$4
source=$(dirname "$0")/vg_cases.c
fail=0

# The line of vg_cases.c marked "vg:CASE": where memcheck must point.
case_line() {
  local n
  n=$(grep -n "// vg:$1\b" "$source" | cut -d: -f1)
  [ -n "$n" ] || { echo "valgrind: no line marked vg:$1 in $source" >&2; exit 2; }
  echo "$n"
}

# $1 label, $2 case, $3 expected pattern (empty: must be clean), $4 the
# LD_PRELOAD to give (may be empty), $5 the program.  memcheck replaces
# any function named malloc unless told somalloc=nouserintercepts.
check() {
  local label=$1 what=$2 want=$3 preload=$4 prog=$5
  local out
  out=$(LD_PRELOAD=$preload valgrind --soname-synonyms=somalloc=nouserintercepts --leak-check=full \
          --error-exitcode=99 "$prog" "$what" 2>&1)
  local rc=$?
  if [ -z "$want" ]; then
    if [ $rc -ne 0 ] || ! grep -q "ERROR SUMMARY: 0 errors" <<<"$out"; then
      echo "valgrind $label $what: expected a clean report"; echo "$out"; fail=1
    fi
    return
  fi
  local line
  line=$(case_line "$what") || exit 2
  # The file is named as the debug info has it: vg_cases.c from GCC,
  # tests/valgrind/vg_cases.c from clang.
  if [ $rc -ne 99 ] || ! grep -qE "$want" <<<"$out" || ! grep -qE "[(/]vg_cases\.c:$line\)" <<<"$out"; then
    echo "valgrind $label $what: expected /$want/ at vg_cases.c:$line"; echo "$out"; fail=1
  fi
}

# preload: malloc from the preloaded library; static: mem_* from
# liballocator.a; static-malloc: malloc from liballocator.a (in the
# executable itself).
for mode in preload static static-malloc; do
  case $mode in
    preload) pre=$lib prog=$preload_prog ;;
    static) pre="" prog=$static_prog ;;
    *) pre="" prog=$static_malloc_prog ;;
  esac
  check $mode leak "definitely lost: 40 bytes in 1 blocks" "$pre" "$prog"
  check $mode overflow "0 bytes after a block of size 40" "$pre" "$prog"
  check $mode use-after-free "Invalid read of size 1" "$pre" "$prog"
  check $mode uninit "Conditional jump or move depends on uninitialised value" "$pre" "$prog"
  check $mode clean "" "$pre" "$prog"
done
# The allocator really was in use: its statistics count the blocks.
for prog in "$preload_prog" "$static_malloc_prog"; do
  pre=""; [ "$prog" = "$preload_prog" ] && pre=$lib
  stats=$(ALLOCATOR_STATS=1 LD_PRELOAD=$pre valgrind --soname-synonyms=somalloc=nouserintercepts \
            "$prog" clean 2>&1 | awk '/num_allocations/ {print $2; exit}')
  if ! [ "$stats" -ge 2 ] 2>/dev/null; then
    echo "valgrind: liballocator did not serve $prog's allocations ($stats)"; fail=1
  fi
done
[ $fail -eq 0 ] && echo "valgrind cases: ok"
exit $fail
