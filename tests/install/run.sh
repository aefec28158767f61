#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs liballocator into a temporary prefix and uses it the ways a user
# would: builds examples/stats_demo.c against it with pkg-config and with
# CMake's find_package (shared and static), runs each, runs a stock program
# through the installed liballocator-run, preloads the library by absolute
# path from another directory, and checks the soname and the licence.
# Usage: run.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

fail() { echo "install test: $*" >&2; exit 1; }
# The program prints its statistics (mem_print_stats): its 2000 mem_*
# allocations, and stdio's own when malloc is replaced too.
expect_demo() {
  local n
  n=$(awk '/num_allocations/ {print $2}' "$1")
  [ -n "$n" ] && [ "$n" -ge 2000 ] || fail "$2: no statistics from the demo ($n)"
}

lib=$(find "$prefix" -name liballocator.so -print -quit)
[ -n "$lib" ] || fail "no liballocator.so installed"
[ -f "$prefix/include/allocator.h" ] || fail "no header installed"
readelf -d "$lib" | grep -q 'SONAME.*liballocator\.so\.0' || fail "soname is not liballocator.so.0"
[ -e "$(dirname "$lib")/liballocator.a" ] || fail "no liballocator.a installed"
# The licence travels with the binaries (packagers look in share/doc).
cmp -s "$src/LICENSE" "$prefix/share/doc/liballocator/LICENSE" ||
  fail "LICENSE is not installed as share/doc/liballocator/LICENSE"

# pkg-config, shared.  PKG_CONFIG_LIBDIR replaces the default search path,
# so a copy installed elsewhere (make install) cannot stand in for this one.
pc=$(find "$prefix" -name allocator.pc -print -quit)
[ -n "$pc" ] || fail "no allocator.pc installed"
export PKG_CONFIG_LIBDIR=$(dirname "$pc")
pc_flags=$(pkg-config --cflags --libs allocator) || fail "pkg-config does not know allocator"
# Clean absolute paths into this prefix: no lib/pkgconfig/../.. detour.
[[ $pc_flags != *..* ]] || fail "pkg-config paths go through '..': $pc_flags"
[[ " $pc_flags " == *" -I$prefix/include "* ]] || fail "pkg-config --cflags is not -I$prefix/include: $pc_flags"
gcc -o "$tmp/demo_pc" "$src/examples/stats_demo.c" $pc_flags
LD_LIBRARY_PATH=$(dirname "$lib") "$tmp/demo_pc" >"$tmp/out_pc" 2>&1 || fail "pkg-config demo failed"
expect_demo "$tmp/out_pc" pkg-config

# CMake package, shared and static.
mkdir -p "$tmp/proj"
cat >"$tmp/proj/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(use_allocator C)
find_package(allocator 0.1 REQUIRED NO_DEFAULT_PATH PATHS "$prefix")
add_executable(demo_shared $src/examples/stats_demo.c)
target_link_libraries(demo_shared PRIVATE liballocator::allocator)
add_executable(demo_static $src/examples/stats_demo.c)
target_link_libraries(demo_static PRIVATE liballocator::allocator_static)
CMAKE
cmake -S "$tmp/proj" -B "$tmp/proj/build" >/dev/null ||
  fail "find_package(allocator) failed"
cmake --build "$tmp/proj/build" >/dev/null || fail "building against the package failed"
LD_LIBRARY_PATH=$(dirname "$lib") "$tmp/proj/build/demo_shared" >"$tmp/out_shared" 2>&1 ||
  fail "CMake shared demo failed"
expect_demo "$tmp/out_shared" "CMake shared"
# Not grep -q: an early exit of grep could kill ldd with SIGPIPE, and
# pipefail would then hide the match.
ldd "$tmp/proj/build/demo_static" | grep liballocator >/dev/null && fail "static demo links the .so"
"$tmp/proj/build/demo_static" >"$tmp/out_static" 2>&1 || fail "CMake static demo failed"
expect_demo "$tmp/out_static" "CMake static"

# The installed scripts find the installed library (no source tree, and
# no LIBALLOCATOR from the caller's environment to point elsewhere).
(cd "$tmp" && env -u LIBALLOCATOR -u LD_PRELOAD "$prefix/bin/liballocator-run" ls / \
  >"$tmp/run_out" 2>"$tmp/run_err") ||
  fail "liballocator-run failed"
grep -q "liballocator statistics" "$tmp/run_err" || fail "liballocator-run showed no statistics"
grep -q "^bin$\|^usr$" "$tmp/run_out" || fail "liballocator-run lost the program's output"
# The malloc-only preload library is installed beside the other, and
# liballocator-run --malloc-only finds it.
[ -f "$(dirname "$lib")/liballocator-preload.so" ] || fail "no liballocator-preload.so installed"
(cd "$tmp" && env -u LIBALLOCATOR -u LD_PRELOAD "$prefix/bin/liballocator-run" --malloc-only \
  env >"$tmp/run_out" 2>"$tmp/run_err") || fail "liballocator-run --malloc-only failed"
grep -q "^LD_PRELOAD=.*/liballocator-preload\.so$" "$tmp/run_out" ||
  fail "liballocator-run --malloc-only: $(grep LD_PRELOAD "$tmp/run_out")"
grep -q "liballocator statistics" "$tmp/run_err" || fail "liballocator-run --malloc-only showed no statistics"
# liballocator-prof reads a profile of a program run on the installed library.
(cd "$tmp" && env -u LIBALLOCATOR -u LD_PRELOAD ALLOCATOR_PROF=1b ALLOCATOR_STATS=0 \
  ALLOCATOR_PROF_FILE="$tmp/ls.prof" "$prefix/bin/liballocator-run" ls / >/dev/null) ||
  fail "liballocator-run with ALLOCATOR_PROF failed"
"$prefix/bin/liballocator-prof" "$tmp/ls.prof" >"$tmp/prof_out" || fail "liballocator-prof failed"
grep -q "^liballocator heap profile: live bytes" "$tmp/prof_out" ||
  fail "liballocator-prof printed no table"
# They speak under their installed names, and know the version.
for s in run debug; do
  "$prefix/bin/liballocator-$s" --help >"$tmp/help" || fail "liballocator-$s --help failed"
  grep -q "^usage: liballocator-$s " "$tmp/help" || fail "liballocator-$s --help: no usage line"
  [ "$("$prefix/bin/liballocator-$s" --version)" = "liballocator $(cat "$src/VERSION")" ] ||
    fail "liballocator-$s --version is not liballocator $(cat "$src/VERSION")"
  "$prefix/bin/liballocator-$s" no-such-program 2>"$tmp/err" && fail "liballocator-$s ran no-such-program"
  grep -qx "liballocator-$s: no such program: no-such-program" "$tmp/err" ||
    fail "liballocator-$s: no 'no such program' message: $(cat "$tmp/err")"
done
# liballocator-heapmap: its usage and version under that name, and a
# program that does not exist named before gdb starts.
"$prefix/bin/liballocator-heapmap" --help >"$tmp/help" || fail "liballocator-heapmap --help failed"
grep -q "^usage: liballocator-heapmap PID " "$tmp/help" || fail "liballocator-heapmap --help: no usage line"
[ "$("$prefix/bin/liballocator-heapmap" --version)" = "liballocator $(cat "$src/VERSION")" ] ||
  fail "liballocator-heapmap --version is not liballocator $(cat "$src/VERSION")"
"$prefix/bin/liballocator-heapmap" no-such-program core map.svg 2>"$tmp/err" &&
  fail "liballocator-heapmap drew a map of no-such-program"
grep -qx "liballocator-heapmap: no such program: no-such-program" "$tmp/err" ||
  fail "liballocator-heapmap: no 'no such program' message: $(cat "$tmp/err")"
# Preloaded by absolute path from anywhere.
(cd / && ALLOCATOR_STATS=1 LD_PRELOAD="$lib" ls >/dev/null 2>"$tmp/abs_err") || fail "preload by path failed"
grep -q "num_allocations" "$tmp/abs_err" || fail "preload by path showed no statistics"
echo "install test: ok ($prefix)"
