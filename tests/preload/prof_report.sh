#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The heap profiler end to end (issue 16): test_prof's leaks through
# scripts/prof (names and exact bytes with ALLOCATOR_PROF=1b), the
# collapsed stacks, the SVG and the pprof heap profile (read back by
# google-pprof when it is installed), the profiler's lines in the statistics,
# the leak report of a program that closes stderr (ls), and a dump on
# ALLOCATOR_PROF_SIGNAL.
# Usage: prof_report.sh LIBALLOCATOR TEST_PROF SCRIPTS_PROF
set -u
lib=$1 prog=$2 prof=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "prof_report: $*"; exit 1; }

ALLOCATOR_PROF=1b ALLOCATOR_PROF_LEAKS=1 ALLOCATOR_STATS=1 ALLOCATOR_PROF_FILE="$tmp/t.%p.prof" \
  timeout 120 "$prog" exact >"$tmp/out" 2>"$tmp/err" || fail "test_prof failed: $(cat "$tmp/err")"
grep -q "^liballocator: leak report" "$tmp/err" || fail "no leak report on stderr"
for field in prof_samples prof_sites prof_table_bytes; do
  grep -Eq "^  $field +[1-9]" "$tmp/err" || fail "the statistics lack $field"
done
file=$(ls "$tmp"/t.*.prof) || fail "no profile written at exit"
# The JSON statistics carry the same three fields.
ALLOCATOR_PROF=1b ALLOCATOR_STATS=json ALLOCATOR_PROF_FILE=/dev/null timeout 120 "$prog" exact \
  >/dev/null 2>"$tmp/json" || fail "test_prof failed with ALLOCATOR_STATS=json"
grep '^{"liballocator"' "$tmp/json" | /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.stdin.read())["liballocator"]
assert s["prof_samples"] > 0 and s["prof_sites"] > 0 and s["prof_table_bytes"] > 0, s' ||
  fail "the JSON statistics lack the profiler's fields"
timeout 120 "$prof" --leaks --collapsed "$tmp/c.txt" --svg "$tmp/f.svg" --pprof "$tmp/p.heap" \
  "$file" >"$tmp/table" ||
  fail "scripts/prof failed"
for want in "4,000,000 .* leak_gamma " "1,500,000 .* leak_beta " "300,000 .* leak_alpha "; do
  grep -Eq "^ *$want" "$tmp/table" || { cat "$tmp/table"; fail "no line '$want'"; }
done
# file:line where the test has debug information (not in a Release build).
grep -Eq ";leak_alpha (\(test_prof.c:[0-9]+\)|\[test_prof\]) 300000$" "$tmp/c.txt" ||
  fail "collapsed stacks lack leak_alpha"
grep -q "<svg" "$tmp/f.svg" && grep -q "leak_gamma" "$tmp/f.svg" || fail "the SVG lacks leak_gamma"

# The pprof file: its header, leak_gamma's 20 blocks of 200,000 bytes
# (exact with 1b) on one stack line, and the maps.  google-pprof and
# jeprof, where they are installed, name leak_gamma with those 20 objects.
head -n 1 "$tmp/p.heap" | grep -Eq '^heap profile: +[0-9]+: +[0-9]+ \[ *[0-9]+: +[0-9]+\] @ heapprofile$' ||
  fail "the pprof file's header is wrong: $(head -n 1 "$tmp/p.heap")"
grep -Eq '^ +20: +4000000 \[ *20: +4000000\] @( 0x[0-9a-f]+)+$' "$tmp/p.heap" ||
  fail "the pprof file has no stack line for leak_gamma's 20 blocks"
grep -q '^MAPPED_LIBRARIES:$' "$tmp/p.heap" && grep -q ' r-xp .*/test_prof$' "$tmp/p.heap" ||
  fail "the pprof file lacks the maps"
for reader in google-pprof:google-perftools jeprof:libjemalloc-dev; do
  tool=${reader%%:*}
  if ! command -v "$tool" >/dev/null; then
    echo "prof_report: $tool not installed (${reader#*:}): not read back by it"
    continue
  fi
  timeout 120 "$tool" --text --inuse_objects "$prog" "$tmp/p.heap" >"$tmp/pprof.txt" 2>&1 ||
    { cat "$tmp/pprof.txt"; fail "$tool could not read the file"; }
  grep -Eq '^ +20 .* leak_gamma$' "$tmp/pprof.txt" ||
    { cat "$tmp/pprof.txt"; fail "$tool does not give leak_gamma its 20 objects"; }
done

# ls closes stderr in an atexit handler; the report still arrives.
(cd "$tmp" && LD_PRELOAD=$lib ALLOCATOR_PROF=1b ALLOCATOR_PROF_LEAKS=1 timeout 60 ls / \
  >/dev/null 2>"$tmp/ls_err") || fail "ls failed"
grep -q "^liballocator: leak report" "$tmp/ls_err" || fail "no leak report from ls"

# A dump on the signal: the process ends with _exit, so that no exit dump
# can have written the file.
LD_PRELOAD=$lib ALLOCATOR_PROF=1b ALLOCATOR_PROF_SIGNAL=USR2 ALLOCATOR_PROF_FILE="$tmp/sig.prof" \
  timeout 60 /usr/bin/python3 -c '
import os, signal
os.kill(os.getpid(), signal.SIGUSR2)
x = [str(i) * 10 for i in range(1000)]
os._exit(0)' || fail "python3 failed"
grep -q "^liballocator heap profile" "$tmp/sig.prof" || fail "no profile on SIGUSR2"

# gdb's heap check takes a sampled block for a live one.
if command -v gdb >/dev/null; then
  src=$(cd "$(dirname "$0")/../.." && pwd)
  ALLOCATOR_PROF=1b ALLOCATOR_PROF_FILE=/dev/null timeout 120 gdb -batch -nx \
    -ex "source $src/scripts/gdb/allocator.py" -ex "break check_sites" -ex run -ex "heap check" \
    -ex kill --args "$prog" exact >"$tmp/gdb" 2>&1
  grep -q "^heap check: OK" "$tmp/gdb" || { cat "$tmp/gdb"; fail "gdb heap check failed"; }
fi
echo "prof_report: ok"
