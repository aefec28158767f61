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

@test "ALLOCATOR_VERBOSE=1 prints the options in force at start-up, once, on stderr" {
    ALLOCATOR_VERBOSE=1 ALLOCATOR_STATS=json ALLOCATOR_HEAPS=2 ALLOCATOR_MMAP_THRESHOLD=1M \
        on_allocator /bin/echo hello
    [ "$(cat out.txt)" = hello ]
    /usr/bin/python3 - err.txt "$PROJECT_ROOT/src/options.c" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
assert re.fullmatch(r"liballocator: options in force \(pid [0-9]+\):", lines[0]), lines[0]
names = re.findall(r'"(ALLOCATOR_[A-Z_]*)", OPT_', open(sys.argv[2]).read())
shown = {}
for name, line in zip(names, lines[1:]):
    m = re.fullmatch(r"  (ALLOCATOR_[A-Z_]+)=(\S*) +(\(.*\))", line)
    assert m and m.group(1) == name, (name, line)
    shown[name] = (m.group(2), m.group(3))
assert len(shown) == len(names), (names, lines)
assert shown["ALLOCATOR_STATS"] == ("json", "(environment)"), shown["ALLOCATOR_STATS"]
assert shown["ALLOCATOR_HEAPS"] == ("2", "(environment)"), shown["ALLOCATOR_HEAPS"]
assert shown["ALLOCATOR_MMAP_THRESHOLD"] == ("1m", "(environment)")
assert shown["ALLOCATOR_TCACHE"] == ("1", "(default)"), shown["ALLOCATOR_TCACHE"]
assert shown["ALLOCATOR_DECAY_MS"] == ("1000", "(default)")
assert shown["ALLOCATOR_TRIM_THRESHOLD"] == ("128k", "(default; fixed: a threshold was set)")
assert shown["ALLOCATOR_VERBOSE"] == ("1", "(environment)")
assert shown["ALLOCATOR_STATS_FILE"] == ("", "(default: stderr)"), shown["ALLOCATOR_STATS_FILE"]
# The JSON report follows, after the options.
rest = lines[1 + len(names):]
assert len(rest) == 1 and json.loads(rest[0])["liballocator"], rest
PY
    # Nothing by default, nothing with 0.
    ALLOCATOR_VERBOSE=0 on_allocator /bin/true
    [ ! -s err.txt ]
    on_allocator /bin/true
    [ ! -s err.txt ]
}

@test "ALLOCATOR_VERBOSE=1: the thresholds say they follow the program's frees unless set" {
    ALLOCATOR_VERBOSE=1 on_allocator /bin/true
    grep -qx '  ALLOCATOR_MMAP_THRESHOLD=128k *(default; rises with the large blocks freed, as glibc'"'"'s)' err.txt
    grep -qx '  ALLOCATOR_TRIM_THRESHOLD=128k *(default; rises with the large blocks freed, as glibc'"'"'s)' err.txt
    ALLOCATOR_VERBOSE=1 ALLOCATOR_TRIM_THRESHOLD=256k on_allocator /bin/true
    grep -qx '  ALLOCATOR_MMAP_THRESHOLD=128k *(default; fixed: a threshold was set)' err.txt
    grep -qx '  ALLOCATOR_TRIM_THRESHOLD=256k *(environment)' err.txt
}
