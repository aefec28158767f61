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

@test "ALLOCATOR_VERBOSE=1: checking mode and a perturb byte show the caches off" {
    # They turn the thread caches off whatever ALLOCATOR_TCACHE says; the
    # line used to say ALLOCATOR_TCACHE=1 (default) under them.
    ALLOCATOR_VERBOSE=1 ALLOCATOR_CHECK=1 on_allocator /bin/true
    grep -qxE '  ALLOCATOR_TCACHE=0 +\(off: ALLOCATOR_CHECK=1 checks every call\)' err.txt
    ALLOCATOR_VERBOSE=1 ALLOCATOR_TCACHE=1 MALLOC_PERTURB_=85 on_allocator /bin/true
    grep -qxE '  ALLOCATOR_TCACHE=0 +\(off: a perturb byte fills every block\)' err.txt
    # And without them the line is as before.
    ALLOCATOR_VERBOSE=1 on_allocator /bin/true
    grep -qxE '  ALLOCATOR_TCACHE=1 +\(default\)' err.txt
}

@test "ALLOCATOR_VERBOSE=1: the thresholds say they follow the program's frees unless set" {
    ALLOCATOR_VERBOSE=1 on_allocator /bin/true
    grep -qx '  ALLOCATOR_MMAP_THRESHOLD=128k *(default; rises with the large blocks freed, as glibc'"'"'s)' err.txt
    grep -qx '  ALLOCATOR_TRIM_THRESHOLD=128k *(default; rises with the large blocks freed, as glibc'"'"'s)' err.txt
    ALLOCATOR_VERBOSE=1 ALLOCATOR_TRIM_THRESHOLD=256k on_allocator /bin/true
    grep -qx '  ALLOCATOR_MMAP_THRESHOLD=128k *(default; fixed: a threshold was set)' err.txt
    grep -qx '  ALLOCATOR_TRIM_THRESHOLD=256k *(environment)' err.txt
}

# A set-user-ID copy of stats_demo (linked against liballocator.so, which
# its absolute RUNPATH finds even in secure mode): needs root to give it
# away, and a file system that honours the bit.  Sets secure_prog.
make_setuid_prog() {
    [ "$(id -u)" = 0 ] || skip "needs root to make a set-user-ID program"
    [ -x "${LA_STATS_DEMO:-}" ] || skip "LA_STATS_DEMO is not set (ctest sets it)"
    # In the test's own directory: the path is resolved by root at exec.
    secure_prog="$BATS_TEST_TMPDIR/secure_demo"
    cp "$LA_STATS_DEMO" "$secure_prog"
    chown nobody "$secure_prog"
    chmod 4755 "$secure_prog"
    # The kernel marks the process secure (AT_SECURE) only where the bit
    # takes effect: not on a nosuid mount, not in some containers.  ld.so
    # ignores LD_SHOW_AUXV in a secure process, so the auxiliary vector
    # shows up only where the copy would not be secure.
    if LD_SHOW_AUXV=1 "$secure_prog" 2>&1 | grep -q '^AT_SECURE: *0$'; then
        skip "set-user-ID programs are not run in secure mode here"
    fi
}

@test "a set-user-ID program ignores every ALLOCATOR_* variable (AT_SECURE), and says nothing" {
    make_setuid_prog
    local out="$BATS_TEST_TMPDIR/stats.%p.txt"
    # The control: the same program, not set-user-ID, obeys them.
    cp "$LA_STATS_DEMO" plain_demo
    ALLOCATOR_VERBOSE=1 ALLOCATOR_STATS=1 ALLOCATOR_STATS_FILE="$out" ALLOCATOR_TYPO=1 \
        ALLOCATOR_HEAPS=100 ./plain_demo >out.txt 2>err.txt
    grep -q '^liballocator: options in force' err.txt
    grep -q '^liballocator: unknown option ALLOCATOR_TYPO' err.txt
    ls "$BATS_TEST_TMPDIR"/stats.*.txt >/dev/null
    rm -f "$BATS_TEST_TMPDIR"/stats.*.txt
    # Set-user-ID: no listing, no warning, no file; the program's own
    # mem_print_stats() report is all there is on stderr.
    local rc=0
    ALLOCATOR_VERBOSE=1 ALLOCATOR_STATS=1 ALLOCATOR_STATS_FILE="$out" ALLOCATOR_TYPO=1 \
        ALLOCATOR_HEAPS=100 "$secure_prog" >out.txt 2>err.txt || rc=$?
    [ "$rc" -eq 0 ]
    grep -q '^joined ' out.txt
    if grep -v '^liballocator statistics\|^  ' err.txt; then
        echo "the set-user-ID program printed the lines above" >&2
        return 1
    fi
    grep -q '^liballocator statistics (pid' err.txt
    ! ls "$BATS_TEST_TMPDIR"/stats.*.txt 2>/dev/null
}

# The start of the python3 snippets below: libc's allocation functions
# through ctypes, with their real types.
libc_py='
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]'

# Where malloc puts blocks, and whether freeing the heap's top gives it
# back, seen through mallinfo2 (glibc's and liballocator's): a 200 KB
# block, then 2 MB twice (glibc's dynamic threshold: after the first is
# freed, the second comes from the heap), then 10 MB of 100 KB blocks
# freed from the top down.
thresholds_py="$libc_py"'
class MI2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = MI2
def mapped(n):
    before = libc.mallinfo2().hblks
    p = libc.malloc(n)
    after = libc.mallinfo2().hblks
    libc.free(p)
    return "mapped" if after > before else "heap"
print(mapped(200000), mapped(2000000), mapped(2000000))
a = [libc.malloc(100000) for _ in range(100)]
before = libc.mallinfo2().arena
for p in reversed(a):
    libc.free(p)
for _ in range(32):
    libc.free(libc.malloc(50000))
after = libc.mallinfo2().arena
print("trimmed" if after < before - (4 << 20) else "kept")
'

@test "GLIBC_TUNABLES: glibc.malloc.mmap_threshold and trim_threshold work as under glibc" {
    local t
    for t in "" glibc.malloc.mmap_threshold=1048576 glibc.malloc.trim_threshold=67108864 \
        "glibc.malloc.perturb=0:glibc.malloc.mmap_threshold=0x100000:glibc.malloc.trim_threshold=67108864"; do
        env -u LD_PRELOAD GLIBC_TUNABLES="$t" /usr/bin/python3 -c "$thresholds_py" >glibc.txt
        # Decay at once: glibc trims the top in free() itself.
        GLIBC_TUNABLES="$t" ALLOCATOR_DECAY_MS=0 on_allocator /usr/bin/python3 -c "$thresholds_py"
        if ! diff -u glibc.txt out.txt; then
            echo "GLIBC_TUNABLES=$t: glibc and liballocator differ (above)" >&2
            return 1
        fi
        [ ! -s err.txt ]
    done
}

@test "GLIBC_TUNABLES: ALLOCATOR_* wins; ALLOCATOR_VERBOSE says where each threshold came from" {
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=1048576 \
        ALLOCATOR_TRIM_THRESHOLD=2m ALLOCATOR_VERBOSE=1 on_allocator /bin/true
    grep -qx '  ALLOCATOR_MMAP_THRESHOLD=64k *(GLIBC_TUNABLES glibc.malloc.mmap_threshold)' err.txt
    grep -qx '  ALLOCATOR_TRIM_THRESHOLD=2m *(environment)' err.txt
    # Beyond 32 MiB glibc ignores mmap_threshold; so does liballocator.
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=67108864 ALLOCATOR_VERBOSE=1 on_allocator /bin/true
    grep -qx '  ALLOCATOR_MMAP_THRESHOLD=128k *(default; rises with the large blocks freed, as glibc'"'"'s)' err.txt
}

@test "MALLOC_MMAP_MAX_, glibc.malloc.mmap_max and mallopt(M_MMAP_MAX) map what glibc maps" {
    # Where blocks of 300 KiB and 4 MiB land ([heap] or a mapping of their
    # own), then 4 MiB after mallopt(M_MMAP_MAX, 0) and 8 MiB after 65536.
    local py="$libc_py"'
def where(p):
    for line in open("/proc/self/maps"):
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        if lo <= p < hi:
            return "heap" if line.rstrip().endswith("[heap]") else "mapping"
def block(n):
    p = libc.malloc(n)
    w = where(p)
    libc.free(p)
    return w
M_MMAP_MAX = -4
out = [block(300 << 10), block(4 << 20)]
libc.mallopt(M_MMAP_MAX, 0)
out.append(block(4 << 20))
libc.mallopt(M_MMAP_MAX, 65536)
out.append(block(8 << 20))
print(" ".join(out))'
    local t
    for t in ALLOCATOR_STATS=0 MALLOC_MMAP_MAX_=0 GLIBC_TUNABLES=glibc.malloc.mmap_max=0 \
        "MALLOC_MMAP_MAX_=0 ALLOCATOR_MMAP_THRESHOLD=64k"; do
        env -u LD_PRELOAD $t /usr/bin/python3 -c "$py" >glibc.txt
        env $t LD_PRELOAD="$LIBALLOCATOR" /usr/bin/python3 -c "$py" >out.txt 2>err.txt
        if ! diff -u glibc.txt out.txt; then
            echo "$t: glibc and liballocator differ (above)" >&2
            return 1
        fi
        [ ! -s err.txt ]
    done
    # The mapping glibc would make is not made: the 4 MiB block is in [heap].
    [ "$(cat out.txt)" = "heap heap heap mapping" ]
}

@test "MALLOC_PERTURB_ and glibc.malloc.perturb fill python3's blocks; ALLOCATOR_VERBOSE says which" {
    # A block's requested bytes read as the byte's complement, and a freed
    # heap block's middle as the byte (a neighbour keeps it off the top).
    local py="$libc_py"'
p, pin = libc.malloc(5000), libc.malloc(5000)
print(ctypes.string_at(p, 5000) == bytes([0xa5]) * 5000)
libc.free(p)
print(ctypes.string_at(p + 2496, 8) == bytes([0x5a]) * 8)
libc.free(pin)'
    local t
    for t in MALLOC_PERTURB_=90 MALLOC_PERTURB_=0x5a GLIBC_TUNABLES=glibc.malloc.perturb=90; do
        env "$t" ALLOCATOR_DECAY_MS=3600000 ALLOCATOR_VERBOSE=1 LD_PRELOAD="$LIBALLOCATOR" \
            /usr/bin/python3 -c "$py" >out.txt 2>err.txt
        [ "$(cat out.txt)" = "$(printf 'True\nTrue')" ]
    done
    grep -qx '  glibc.malloc.perturb=90 *(fills blocks: GLIBC_TUNABLES glibc.malloc.perturb)' err.txt
    MALLOC_PERTURB_=90 ALLOCATOR_VERBOSE=1 on_allocator /bin/true
    grep -qx '  glibc.malloc.perturb=90 *(fills blocks: MALLOC_PERTURB_)' err.txt
    # Beyond a byte glibc ignores it, and so does liballocator.
    MALLOC_PERTURB_=300 ALLOCATOR_VERBOSE=1 on_allocator /bin/true
    ! grep -q perturb err.txt
}

@test "glibc's variables MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ work as under glibc" {
    local t
    for t in MALLOC_MMAP_THRESHOLD_=1048576 MALLOC_TRIM_THRESHOLD_=67108864 \
        "MALLOC_MMAP_THRESHOLD_=0x100000 MALLOC_TRIM_THRESHOLD_=67108864"; do
        env -u LD_PRELOAD $t /usr/bin/python3 -c "$thresholds_py" >glibc.txt
        env $t ALLOCATOR_DECAY_MS=0 LD_PRELOAD="$LIBALLOCATOR" /usr/bin/python3 -c "$thresholds_py" \
            >out.txt 2>err.txt
        if ! diff -u glibc.txt out.txt; then
            echo "$t: glibc and liballocator differ (above)" >&2
            return 1
        fi
        [ ! -s err.txt ]
    done
    # GLIBC_TUNABLES wins over the variable, as in glibc; ALLOCATOR_VERBOSE
    # names the variable that was used.
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536 MALLOC_MMAP_THRESHOLD_=1048576 \
        MALLOC_TRIM_THRESHOLD_=1048576 ALLOCATOR_VERBOSE=1 on_allocator /bin/true
    grep -qx '  ALLOCATOR_MMAP_THRESHOLD=64k *(GLIBC_TUNABLES glibc.malloc.mmap_threshold)' err.txt
    grep -qx '  ALLOCATOR_TRIM_THRESHOLD=1m *(MALLOC_TRIM_THRESHOLD_)' err.txt
}

# Four threads that allocate: each thread past the first takes the next
# heap while there are fewer than the target.
heaps_py='
import threading
def work():
    keep = [bytearray(100) for _ in range(1000)]
threads = [threading.Thread(target=work) for _ in range(3)]
[t.start() for t in threads]
[t.join() for t in threads]
'

heaps_made() {
    env "$@" ALLOCATOR_STATS=json LD_PRELOAD="$LIBALLOCATOR" /usr/bin/python3 -c "$heaps_py" \
        2>&1 >/dev/null | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["liballocator"]["num_heaps"])'
}

# A cap of 1 shows only where the default makes more than one heap.
skip_on_one_heap() {
    [ "$(heaps_made X=1)" -ge 2 ] ||
        skip "one CPU in the affinity mask: one heap by default, so a cap of 1 changes nothing"
}

@test "MALLOC_ARENA_MAX and glibc.malloc.arena_max cap the heaps as they cap glibc's arenas" {
    [ "$(heaps_made ALLOCATOR_HEAPS=3)" = 3 ] # the program does spread over heaps
    skip_on_one_heap
    [ "$(heaps_made MALLOC_ARENA_MAX=1)" = 1 ]
    [ "$(heaps_made GLIBC_TUNABLES=glibc.malloc.arena_max=1)" = 1 ]
    # 0 is glibc's "no bound".
    [ "$(heaps_made MALLOC_ARENA_MAX=0 ALLOCATOR_HEAPS=2)" = 2 ]
    # ALLOCATOR_HEAPS says how many heaps exactly, whatever caps glibc's.
    [ "$(heaps_made MALLOC_ARENA_MAX=1 ALLOCATOR_HEAPS=2)" = 2 ]
    MALLOC_ARENA_MAX=1 ALLOCATOR_VERBOSE=1 on_allocator /bin/true
    grep -qx '  ALLOCATOR_HEAPS=0 *(default: one per CPU, at most 1: MALLOC_ARENA_MAX)' err.txt
}

@test "mallopt(M_ARENA_MAX, n) caps the heaps of the threads that start after it" {
    local cap='import ctypes; ctypes.CDLL(None).mallopt(-8, 1)  # M_ARENA_MAX'
    skip_on_one_heap
    heaps_py="$cap
$heaps_py"
    [ "$(heaps_made X=1)" = 1 ]
    [ "$(heaps_made ALLOCATOR_HEAPS=3)" = 3 ] # ALLOCATOR_HEAPS still wins
}
