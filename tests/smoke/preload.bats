#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: how the library is loaded and what it adds to a program's output:
# ld.so binds libc's own malloc calls to it, and its statistics appear only
# when asked for, only on stderr.  See helper.bash.

load helper

setup() { smoke_setup; }

# The malloc family as ld.so names it in LD_DEBUG=bindings output.
family="malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|__libc_(malloc|free|calloc|realloc|memalign)"

# libc_malloc_binding FILE: where LD_DEBUG=bindings output in FILE says
# libc.so.6's own malloc calls go.  The lines look like (after the pid and
# a tab):
#   binding file /lib/x86_64-linux-gnu/libc.so.6 [0] to /path/liballocator.so [0]: normal symbol `malloc' [GLIBC_2.2.5]
libc_malloc_binding() {
    awk '$2 == "binding" && $3 == "file" && $4 ~ /\/libc\.so\.6$/ && $6 == "to" &&
         $10 == "symbol" && $11 == "`malloc'\''" { print $7; exit }' "$1"
}

@test "LD_DEBUG=bindings: libc's malloc is bound to liballocator.so" {
    # The control: with nothing preloaded the same parsing finds libc.
    env -u LD_PRELOAD LD_DEBUG=bindings ls / >/dev/null 2>plain.txt
    [[ "$(libc_malloc_binding plain.txt)" == */libc.so.6 ]]

    LD_DEBUG=bindings LD_PRELOAD="$LIBALLOCATOR" ls / >/dev/null 2>bindings.txt
    local to
    to=$(libc_malloc_binding bindings.txt)
    if [ "$to" != "$LIBALLOCATOR" ]; then
        echo "libc.so.6's malloc is bound to '$to', not $LIBALLOCATOR; the malloc bindings:" >&2
        grep -F "\`malloc'" bindings.txt >&2
        return 1
    fi
    # No object, libc included, may keep any of the family from libc: a
    # block from one allocator freed by the other would corrupt both.
    if grep -E "to [^ ]*/libc\.so\.6 \[0\]: normal symbol \`($family)'" bindings.txt; then
        echo "the lines above still bind malloc-family symbols to libc" >&2
        return 1
    fi
}

# quiet_compare CMD...: CMD under glibc and on the allocator with
# ALLOCATOR_STATS as the caller left it; stdout, stderr and the exit status
# must all be identical.
quiet_compare() {
    env -u LD_PRELOAD "$@" >glibc.out 2>glibc.err && rc_glibc=0 || rc_glibc=$?
    env LD_PRELOAD="$LIBALLOCATOR" "$@" >alloc.out 2>alloc.err && rc_alloc=0 || rc_alloc=$?
    diff -u glibc.out alloc.out
    diff -u glibc.err alloc.err
    [ "$rc_glibc" -eq "$rc_alloc" ]
}

@test "ALLOCATOR_STATS unset or 0: nothing extra on stderr" {
    unset ALLOCATOR_STATS
    quiet_compare ls -la /usr/bin
    [ ! -s alloc.err ]
    # A program with stderr of its own, and a failing status.
    quiet_compare ls -la /usr/bin /no/such/path
    [ "$rc_alloc" -eq 2 ]
    [ -s alloc.err ]
    export ALLOCATOR_STATS=0
    quiet_compare ls -la /usr/bin
    [ ! -s alloc.err ]
    quiet_compare /bin/sh -c 'echo out; echo err >&2'
    # ... and the library that kept quiet is the one that reports when
    # asked, so the silence above is its own.
    run_under_allocator ls -la /usr/bin
}

@test "ALLOCATOR_STATS=1: the statistics go to stderr, never stdout" {
    compare_under_allocator ls -la /usr/bin
    expect_status 0
    if grep -F "liballocator statistics" "$SMOKE_OUT"; then
        echo "the statistics are on stdout" >&2
        return 1
    fi
    [ "$(head -n 1 "$SMOKE_ERR" | cut -d' ' -f1-3)" = "liballocator statistics (pid" ]
    # Every field of the report is there and numeric.
    local pid field value
    pid=$(head -n 1 "$SMOKE_ERR" | tr -dc 0-9)
    for field in total_allocated total_freed current_usage peak_usage num_allocations num_frees \
        num_splits num_coalesces num_mmaps num_munmaps heap_size mmap_bytes num_heaps; do
        value=$(smoke_stats_field "$SMOKE_ERR" "$pid" "$field")
        [[ "$value" =~ ^[0-9]+$ ]] || { echo "field $field: '$value'" >&2; return 1; }
    done
    # With stderr thrown away, stdout is still the program's alone.
    env LD_PRELOAD="$LIBALLOCATOR" ALLOCATOR_STATS=1 ls -la /usr/bin 2>/dev/null >alloc.out
    cmp "$SMOKE_REF" alloc.out
}

@test "ALLOCATOR_STATS=json: one JSON object on stderr, with the size classes" {
    env LD_PRELOAD="$LIBALLOCATOR" ALLOCATOR_STATS=json ls -la /usr/bin >out.txt 2>err.txt
    [ "$(wc -l <err.txt)" -eq 1 ]
    /usr/bin/python3 - err.txt <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["liballocator"]
assert d["version"] == 2, d["version"]
assert d["num_allocations"] > 100, d["num_allocations"]
assert d["total_allocated"] - d["total_freed"] == d["current_usage"]
classes = d["size_classes"]
assert [c["class"] for c in classes] == list(range(10))
assert [c["max_block_bytes"] for c in classes] == [32 << i for i in range(9)] + [0]
assert sum(c["free_blocks"] + c["cached_blocks"] for c in classes) > 0
PY
    ! grep -q liballocator out.txt
}

@test "ALLOCATOR_* mistakes get one warning line each, and defaults" {
    env LD_PRELOAD="$LIBALLOCATOR" ALLOCATOR_STATS=yes ALLOCATOR_DECAY_MS=soon \
        ALLOCATOR_TYPO=1 /bin/true 2>err.txt
    [ "$(wc -l <err.txt)" -eq 3 ]
    grep -q '^liballocator: ALLOCATOR_STATS=yes not understood' err.txt
    grep -q '^liballocator: ALLOCATOR_DECAY_MS=soon not understood' err.txt
    grep -q '^liballocator: unknown option ALLOCATOR_TYPO ignored' err.txt
}
