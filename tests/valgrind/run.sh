#!/usr/bin/env bash
# Runs tests/valgrind/vg_cases under memcheck with liballocator as its
# allocator and checks that memcheck sees each deliberate error through the
# allocator's client requests: the right kind of report, pointing at the
# line of vg_cases.c that made it, and nothing in a clean run.
# Usage: run.sh LIBALLOCATOR VG_CASES_PRELOAD VG_CASES_STATIC
set -u
lib=$1 preload_prog=$2 static_prog=$3
fail=0

# $1 label, $2 case, $3 expected pattern (empty: must be clean), $4 the
# LD_PRELOAD to give (may be empty), $5 the program.  memcheck replaces
# any function named malloc unless told somalloc=NONE.
check() {
  local label=$1 what=$2 want=$3 preload=$4 prog=$5
  local out
  out=$(LD_PRELOAD=$preload valgrind --soname-synonyms=somalloc=NONE --leak-check=full \
          --error-exitcode=99 "$prog" "$what" 2>&1)
  local rc=$?
  if [ -z "$want" ]; then
    if [ $rc -ne 0 ] || ! grep -q "ERROR SUMMARY: 0 errors" <<<"$out"; then
      echo "valgrind $label $what: expected a clean report"; echo "$out"; fail=1
    fi
  elif [ $rc -ne 99 ] || ! grep -qE "$want" <<<"$out" || ! grep -q "vg_cases.c" <<<"$out"; then
    echo "valgrind $label $what: expected /$want/ from vg_cases.c"; echo "$out"; fail=1
  fi
}

for mode in preload static; do
  if [ $mode = preload ]; then pre=$lib prog=$preload_prog; else pre="" prog=$static_prog; fi
  check $mode leak "definitely lost: 40 bytes in 1 blocks" "$pre" "$prog"
  check $mode overflow "0 bytes after a block of size 40" "$pre" "$prog"
  check $mode use-after-free "Invalid read of size 1" "$pre" "$prog"
  check $mode uninit "Conditional jump or move depends on uninitialised value" "$pre" "$prog"
  check $mode clean "" "$pre" "$prog"
done
# The allocator really was in use: its statistics count the blocks.
stats=$(ALLOCATOR_STATS=1 LD_PRELOAD=$lib valgrind --soname-synonyms=somalloc=NONE \
          "$preload_prog" clean 2>&1 | awk '/num_allocations/ {print $2}')
if [ -z "$stats" ] || [ "$stats" -lt 2 ]; then
  echo "valgrind: liballocator did not serve the program's allocations ($stats)"; fail=1
fi
[ $fail -eq 0 ] && echo "valgrind cases: ok"
exit $fail
