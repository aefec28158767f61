#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: the ALLOCATOR_* options as a user meets them: values in any case,
# messages that say what is wrong (out of range, with the bounds; an
# unknown name, with the nearest option).  See helper.bash.

load helper

setup() { smoke_setup; }

# on_allocator CMD...: CMD on the allocator, stdout in out.txt, stderr in
# err.txt, with the caller's ALLOCATOR_* settings.
on_allocator() {
    env LD_PRELOAD="$LIBALLOCATOR" "$@" >out.txt 2>err.txt
}

# expect_err LINE...: err.txt is exactly these lines (in any order: the
# warnings follow the environment's order, which the shell chooses).
expect_err() {
    if [ "$(sort err.txt)" != "$(printf '%s\n' "$@" | sort)" ]; then
        echo "stderr was:" >&2
        cat err.txt >&2
        echo "expected:" >&2
        printf '%s\n' "$@" >&2
        return 1
    fi
}

@test "option values are case-insensitive: JSON is json, 64K is 64k" {
    ALLOCATOR_STATS=JSON on_allocator /bin/true
    /usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1]))["liballocator"]' err.txt
    ALLOCATOR_STATS=Json on_allocator /bin/true
    /usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1]))["liballocator"]' err.txt
    ALLOCATOR_MMAP_THRESHOLD=64K ALLOCATOR_TRIM_THRESHOLD=1M on_allocator /bin/true
    [ ! -s err.txt ]
}

@test "a value out of range says so, with the bounds" {
    ALLOCATOR_HEAPS=100 ALLOCATOR_MMAP_THRESHOLD=64m ALLOCATOR_DECAY_MS=99999999999 \
        ALLOCATOR_CHECK_EVERY=99999999999999999999999 on_allocator /bin/true
    expect_err \
        "liballocator: ALLOCATOR_HEAPS=100 out of range (1..64); using the default" \
        "liballocator: ALLOCATOR_DECAY_MS=99999999999 out of range (0..3600000); using the default" \
        "liballocator: ALLOCATOR_MMAP_THRESHOLD=64m out of range (4k..32m); using the default" \
        "liballocator: ALLOCATOR_CHECK_EVERY=99999999999999999999999 out of range (0..18446744073709551615); using the default"
}

@test "a value that does not parse is not understood" {
    ALLOCATOR_STATS=yes ALLOCATOR_TCACHE=on ALLOCATOR_TRIM_THRESHOLD=12q on_allocator /bin/true
    expect_err \
        "liballocator: ALLOCATOR_STATS=yes not understood (use json or 0..1); using the default" \
        "liballocator: ALLOCATOR_TCACHE=on not understood (use 0..1); using the default" \
        "liballocator: ALLOCATOR_TRIM_THRESHOLD=12q not understood (use bytes, k, m or g suffix, 0..1024g); using the default"
}

@test "an unknown ALLOCATOR_ name suggests the nearest option" {
    ALLOCATOR_TCACHES=0 ALLOCATOR_stats=1 ALLOCATOR_DECAY=10 ALLOCATOR_MMAP_TRESHOLD=1m \
        ALLOCATOR_XYZZY=1 on_allocator /bin/true
    expect_err \
        "liballocator: unknown option ALLOCATOR_TCACHES ignored (did you mean ALLOCATOR_TCACHE?)" \
        "liballocator: unknown option ALLOCATOR_stats ignored (did you mean ALLOCATOR_STATS?)" \
        "liballocator: unknown option ALLOCATOR_DECAY ignored (did you mean ALLOCATOR_DECAY_MS?)" \
        "liballocator: unknown option ALLOCATOR_MMAP_TRESHOLD ignored (did you mean ALLOCATOR_MMAP_THRESHOLD?)" \
        "liballocator: unknown option ALLOCATOR_XYZZY ignored"
}
