#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: the gdb `heap` commands of scripts/gdb/allocator.py, which
# scripts/debug loads.  gdb_heap_prog (tests/smoke/gdb_heap_prog.c) runs on
# the preloaded library, makes known blocks, and stops in checkpoint();
# the commands' output must agree with what it did, and with the
# program's own mem_get_stats() and mem_check_heap().
#
# The tests that call into the program (`heap ... --inferior`) skip, saying
# why, where gdb cannot call functions in any program at all (issue 12: gdb
# 13.1 on AMX CPUs); see skip_unless_gdb_can_call in helper.bash.  The
# others never call in, so they run everywhere.  LA_TEST_FAKE_NO_GDB_CALLS=1
# plays such a machine: calls are turned off in every gdb run here and the
# calling tests skip.
#
# GDB_HEAP_PROG names the program (ctest sets it; defaults to the build tree).

load helper

setup() {
    smoke_setup
    : "${GDB_HEAP_PROG:=$PROJECT_ROOT/build/tests/gdb_heap_prog}"
}

# gdb_heap MODE: runs gdb_heap_prog MODE under scripts/debug in batch mode
# with the commands on stdin (cmds.gdb), output in gdb.out.  Sections of the
# output start with "@@name" lines (see section).
gdb_heap() {
    skip_unless_installed gdb
    if [ ! -x "$GDB_HEAP_PROG" ]; then
        echo "gdb_heap: $GDB_HEAP_PROG is not built (make all)" >&2
        return 1
    fi
    {
        if [ "${LA_TEST_FAKE_NO_GDB_CALLS:-0}" = 1 ]; then
            echo "set may-call-functions off"
        fi
        cat
    } >cmds.gdb
    # A call into the program that waits for a lock would hang gdb: give
    # up after a minute (timeout signals its whole process group, the
    # program too).
    local rc=0
    timeout -k 10 60 "$PROJECT_ROOT/scripts/debug" -batch -x cmds.gdb -- \
        "$GDB_HEAP_PROG" "$1" >gdb.out 2>&1 || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail_with "gdb did not finish within 60 seconds"
    fi
    if ! grep -q '^@@end' gdb.out; then
        echo "gdb_heap: the gdb script did not run to its end; gdb.out ends with:" >&2
        tail -n 30 gdb.out >&2
        return 1
    fi
}

# section NAME: the lines of gdb.out after "@@NAME" up to the next "@@".
section() {
    awk -v name="@@$1" '$0 == name { on = 1; next } /^@@/ { on = 0 } on' gdb.out
}

# stats_field SECTION FIELD: FIELD's number in a `heap stats` section.
stats_field() { section "$1" | awk -v f="$2" '$1 == f { print $2; exit }'; }

# value NAME: the "NAME=VALUE" line gdb printed (addresses, counts).
value() { sed -n "s/^$1=//p" gdb.out | head -n 1; }

# fail_with MESSAGE: reports MESSAGE and the whole gdb output.
fail_with() {
    echo "gdb_heap: $1" >&2
    echo "--- gdb output ---" >&2
    cat gdb.out >&2
    return 1
}

# expect_line SECTION REGEX: some line of SECTION matches the extended REGEX.
expect_line() {
    section "$1" | grep -Eq -- "$2" || fail_with "no line of section '$1' matches /$2/"
}

# map_check SVG ARGS...: tests/smoke/heap_map_check.py on the map SVG.
map_check() {
    /usr/bin/python3 "$PROJECT_ROOT/tests/smoke/heap_map_check.py" "$@" ||
        fail_with "the heap map $1 is not what the program made"
}

@test "gdb heap: stats, check, bins and block agree with the program" {
    gdb_heap ok <<'GDB'
set pagination off
set confirm off
break checkpoint
run
printf "nmalloc=%u\n", gdb_nmalloc
printf "medium=%#lx\n", (unsigned long)gdb_medium
printf "large=%#lx\n", (unsigned long)gdb_large
echo @@stats\n
heap stats
echo @@check\n
heap check
printf "errors=%d\n", $heap_check_errors
echo @@bins\n
heap bins
echo @@medium\n
heap block gdb_medium
echo @@medium100\n
heap block (char *)gdb_medium + 100
echo @@large\n
heap block gdb_large
echo @@freed_big\n
heap block gdb_freed_big
echo @@freed\n
heap block gdb_freed
echo @@cached\n
heap block gdb_cached
echo @@small\n
heap block (char *)gdb_small + 8
echo @@tiny\n
heap block gdb_tiny
echo @@tiny_freed\n
heap block gdb_tiny_freed
echo @@slabs\n
heap slabs
echo @@nowhere\n
heap block &gdb_nmalloc
echo @@help\n
help heap
echo @@end\n
kill
GDB
    local nmalloc medium large f
    nmalloc=$(value nmalloc) medium=$(value medium) large=$(value large)
    [ "$nmalloc" = 13 ] || fail_with "gdb_nmalloc is '$nmalloc', expected 13"
    [ -n "$medium" ] && [ -n "$large" ] || fail_with "gdb did not print the program's pointers"

    # heap stats: what the program did (the next test compares every field
    # with the program's own mem_get_stats()).
    [ "$(stats_field stats num_allocations)" -ge "$nmalloc" ] ||
        fail_with "num_allocations below the program's $nmalloc mallocs"
    [ "$(stats_field stats num_frees)" -ge 5 ] || fail_with "num_frees below the program's 5 frees"
    # Frees into a cache are counted from what it holds (src/tcache.c
    # tcache_counters): the 8-byte class's word stack, which a refill
    # filled, is counted too, or its refill's slots would count as minus
    # frees (below zero: a wrapped, huge number of frees).
    [ "$(stats_field stats num_frees)" -le "$(stats_field stats num_allocations)" ] ||
        fail_with "num_frees above num_allocations (the word stack not counted?)"
    [ "$(stats_field stats num_mmaps)" -ge 1 ] || fail_with "num_mmaps: the 200000-byte block was mapped"
    [ "$(stats_field stats mmap_bytes)" -ge 200000 ] || fail_with "mmap_bytes below the live large block"
    [ "$(stats_field stats current_usage)" -ge $((40 + 3000 + 200000 + 2 * 2000 + 80000)) ] ||
        fail_with "current_usage below the program's live blocks"
    [ "$(stats_field stats num_heaps)" -ge 1 ] || fail_with "num_heaps below 1"

    # heap check: OK, and the free blocks counted.
    expect_line check '^heap check: OK \([0-9]+ heaps, [0-9]+ blocks, [0-9]+ free\)$'
    [ "$(section check | sed -nE 's/.* ([0-9]+) free\)$/\1/p')" -ge 2 ] ||
        fail_with "heap check counts fewer than the 2 free blocks the program left"
    [ "$(value errors)" = 0 ] || fail_with "\$heap_check_errors is not 0"

    # heap bins: the freed 80000-byte block in the last class's tree; the
    # 40-byte block freed into the thread cache's bin of 48-byte slots;
    # the 8-byte blocks freed into its word stack, which bin 0 shows;
    # the medium bins' budget of a program's only thread (2 MiB), not hot.
    expect_line bins '^heap 0: '
    expect_line bins '^  class +[0-9]+ +>[0-9]+ +tree +[1-9][0-9]* blocks +[0-9]+ bytes$'
    expect_line bins '^thread cache 0x[0-9a-f]+ \(thread 1 \(LWP [0-9]+\), heap 0, medium bins [0-9]+ of 2048 KiB\)$'
    expect_line bins '^  bin +[0-9]+ slot=48 +cached +[1-9][0-9]* of +[0-9]+ +list [1-9]'
    expect_line bins '^  bin +0 slot=8 +cached +([2-9]|[1-9][0-9]+) of +[0-9]+ +word stack ([2-9]|[1-9][0-9]+)$'

    # heap block: a live block, its payload start and 100 bytes in.
    local header
    header=$(printf '%#x' $((medium - 16)))
    expect_line medium "^$medium is the payload start$"
    expect_line medium "^  block +$header \(header\)$"
    expect_line medium "^  payload +$medium$"
    expect_line medium '^  state +live$'
    expect_line medium '^  requested +3000$'
    expect_line medium '^  heap +0 '
    [ "$(section medium | awk '$1 == "usable" { print $2 }')" -ge 3000 ] ||
        fail_with "the 3000-byte block's usable size is below 3000"
    expect_line medium100 "^$(printf '%#x' $((medium + 100))) is 100 bytes into the payload \(116 into the block\)$"
    expect_line medium100 "^  block +$header \(header\)$"
    expect_line medium100 '^  requested +3000$'
    # A large block, freed blocks, a cached block, and no block at all.
    expect_line large "^$large is the payload start$"
    expect_line large '^  state +live \(large\)$'
    expect_line large '^  requested +200000$'
    expect_line large '^  flags +MMAPPED$'
    expect_line freed_big '^  state +free \(class [0-9]+, >[0-9]+, the tree\)$'
    expect_line freed_big '^  flags +FREE'
    expect_line freed '^  state +(free|in a thread cache)'
    expect_line cached '^  state +in a thread cache \(in thread cache 0x[0-9a-f]+ of thread 1 \(LWP [0-9]+\), bin [0-9]+ \(slot=48\)\)$'
    # A live slot, 8 bytes in; the slabs: one of 48-byte slots, 2 live.
    expect_line small '^0x[0-9a-f]+ is 8 bytes into slot [0-9]+ of the slab at 0x[0-9a-f]+ \(heap 0, 48-byte slots\)$'
    expect_line small '^  state +live$'
    expect_line slabs '^heap 0: [1-9][0-9]* slabs$'
    # The class's slot count, as scripts/sizeclass.py generated it.
    local n48
    n48=$(sed -n 's/^ *{48, \([0-9]*\),.*/\1/p' "$PROJECT_ROOT/src/sizeclass_table.inc")
    [ -n "$n48" ]
    expect_line slabs "^  slab 0x[0-9a-f]+ +slot +48 B +$n48 slots +[0-9]+ carved +1 live +[1-9][0-9]* cached"
    # 8-byte slots: 2 live; the freed ones and the rest of the refill are
    # marked (not linked) and in the word stack: cached.
    local n8
    n8=$(sed -n 's/^ *{8, \([0-9]*\),.*/\1/p' "$PROJECT_ROOT/src/sizeclass_table.inc")
    [ -n "$n8" ]
    expect_line slabs "^  slab 0x[0-9a-f]+ +slot +8 B +$n8 slots +[0-9]+ carved +2 live +([2-9]|[1-9][0-9]+) cached"
    expect_line tiny '^0x[0-9a-f]+ is the start of slot [0-9]+ of the slab at 0x[0-9a-f]+ \(heap 0, 8-byte slots\)$'
    expect_line tiny '^  state +live$'
    expect_line tiny_freed '^  state +in a thread cache \(in thread cache 0x[0-9a-f]+ of thread 1 \(LWP [0-9]+\), bin 0 \(slot=8\), its word stack\)$'
    expect_line nowhere 'no block of liballocator holds this address$'

    # help heap: every command, with its docstring's first line.
    for f in stats check bins block slabs; do
        expect_line help "^heap $f -- [A-Z]"
    done
}

@test "gdb heap: --inferior calls the program, which agrees with memory" {
    skip_unless_gdb_can_call
    gdb_heap ok <<'GDB'
set pagination off
set confirm off
break checkpoint
run
echo @@stats\n
heap stats
echo @@stats_inferior\n
heap stats --inferior
echo @@fields\n
python print("\n".join(f.name for f in gdb.lookup_type("mem_stats_t").fields()))
echo @@check_inferior\n
heap check --inferior
echo @@report\n
call (void)mem_print_stats()
echo @@end\n
kill
GDB
    # Every field of mem_stats_t, as the debug info has them (a field the
    # commands do not know, num_large once, shows as missing), read from
    # memory is exactly what the program's own mem_get_stats() computes,
    # and its mem_check_heap() finds nothing.
    local f mine theirs
    [ "$(section fields | wc -l)" -ge 18 ] || fail_with "gdb did not list mem_stats_t's fields"
    for f in $(section fields); do
        mine=$(stats_field stats "$f") theirs=$(stats_field stats_inferior "$f")
        [ -n "$mine" ] && [ "$mine" = "$theirs" ] ||
            fail_with "heap stats says $f = '$mine', mem_get_stats() says '$theirs'"
    done
    # Where the heaps' bytes are, read from memory, is what the program's
    # own report says (its stderr is gdb's here).
    for f in slot_live_bytes slot_cached_bytes slot_remote_bytes slot_free_bytes \
        slot_unused_bytes block_cached_bytes block_free_bytes; do
        mine=$(stats_field stats "$f") theirs=$(stats_field report "$f")
        [ -n "$mine" ] && [ "$mine" = "$theirs" ] ||
            fail_with "heap stats says $f = '$mine', mem_print_stats() says '$theirs'"
    done
    expect_line check_inferior 'mem_check_heap\(\) returned 0$'
}

@test "gdb heap: heap_resident_bytes from the pagemap is what mincore says, after a trim" {
    skip_unless_gdb_can_call
    gdb_heap trimmed <<'GDB'
set pagination off
set confirm off
break checkpoint
run
echo @@stats\n
heap stats
echo @@stats_inferior\n
heap stats --inferior
echo @@end\n
kill
GDB
    # malloc_trim gave gdb_freed_big's inner pages back (80000 bytes: at
    # least 68 KiB of whole pages), and nothing has touched them since.
    local mine theirs heap
    mine=$(stats_field stats heap_resident_bytes)
    theirs=$(stats_field stats_inferior heap_resident_bytes)
    heap=$(stats_field stats heap_size)
    [ -n "$mine" ] && [ "$mine" = "$theirs" ] ||
        fail_with "heap stats says heap_resident_bytes = '$mine', mem_get_stats() says '$theirs'"
    [ "$mine" -le $((heap - 28672)) ] ||
        fail_with "heap_resident_bytes is $mine of a $heap-byte heap after malloc_trim"
}

@test "gdb heap: check reports a damaged header at its address" {
    # corrupt flips bits of gdb_medium's check word before the checkpoint.
    gdb_heap corrupt <<'GDB'
set pagination off
set confirm off
break checkpoint
run
printf "medium=%#lx\n", (unsigned long)gdb_medium
printf "freed_big=%#lx\n", (unsigned long)gdb_freed_big
echo @@check\n
heap check
printf "errors=%d\n", $heap_check_errors
echo @@medium\n
heap block gdb_medium
heap map corrupt.svg
echo @@end\n
kill
GDB
    local header
    header=$(printf '%#x' $(($(value medium) - 16)))
    expect_line check "^heap check: heap 0: live block header fails its check word \(0x[0-9a-f]+\) at $header$"
    [ "$(value errors)" = 1 ] || fail_with "\$heap_check_errors is not 1"
    expect_line medium '^  state +damaged header'
    # The map shows it in red, the blocks after it as they are.
    if [ -x /usr/bin/python3 ]; then
        map_check corrupt.svg --damaged "$(value medium)" --free "$(value freed_big)"
    fi
}

@test "gdb heap: check --inferior finds the damaged header too" {
    skip_unless_gdb_can_call
    gdb_heap corrupt <<'GDB'
set pagination off
set confirm off
break checkpoint
run
echo @@check_inferior\n
heap check --inferior
echo @@end\n
kill
GDB
    expect_line check_inferior 'mem_check_heap\(\) returned [1-9]'
}

@test "gdb heap: check finds a write into a freed 8-byte slot of a word stack" {
    # An 8-byte slot has no room for link words: free, in a thread cache's
    # word stack, it holds a mark (la.word_key ^ its address), which a
    # write after free breaks.  gdb writes it (no call into the program).
    gdb_heap ok <<'GDB'
set pagination off
set confirm off
break checkpoint
run
printf "tiny_freed=%#lx\n", (unsigned long)gdb_tiny_freed
echo @@check\n
heap check
echo @@written\n
set var *(unsigned long *)gdb_tiny_freed = 0x5a5a5a5a5a5a5a5a
heap check
printf "errors=%d\n", $heap_check_errors
echo @@end\n
kill
GDB
    expect_line check '^heap check: OK '
    expect_line written "^heap check: thread cache 0x[0-9a-f]+ word stack entry [0-9]+: free slot's mark overwritten \(use after free\?\) at $(value tiny_freed)$"
    [ "$(value errors)" = 1 ] || fail_with "\$heap_check_errors is not 1"
}

@test "gdb heap: commands work when stopped inside the allocator" {
    # After the checkpoint the program frees a block too big for the
    # thread caches (release_spare()): gdb stops in heap_free, half-way
    # through a heap operation (with the heap's lock held if the program
    # had threads).  Reading memory still works; calls into the program,
    # which would wait for that lock or walk a heap in mid-change, are
    # refused (without a call: this test runs where gdb cannot call
    # functions, too).
    gdb_heap ok <<'GDB'
set pagination off
set confirm off
break checkpoint
run
break heap_free
continue
info symbol $pc
echo @@stats\n
heap stats
echo @@check\n
heap check
echo @@bins\n
heap bins
echo @@block\n
heap block gdb_spare
echo @@end\n
heap stats --inferior
kill
GDB
    # heap_free may be inlined: the stop names it, the symbol at $pc may be
    # the function it was inlined into; both must be liballocator's.
    grep -Eq '^Breakpoint [0-9.]+, heap_free \(' gdb.out &&
        grep -Eq ' in section \.text of .*liballocator\.so' gdb.out ||
        fail_with "gdb did not stop in liballocator.so's heap_free"
    [ "$(stats_field stats num_allocations)" -ge 13 ] ||
        fail_with "heap stats: num_allocations below the program's 13 mallocs"
    expect_line check '^heap check: OK '
    expect_line bins '^heap 0: '
    # Not freed yet: heap_free has only just been entered.
    expect_line block '^  state +live$'
    expect_line block '^  requested +80000$'
    # A single-threaded program takes no heap lock (issue 14): the stop
    # inside the allocator is what refuses the call then.
    grep -Eq "^heap stats: (heap 0's lock held|thread [0-9]+ in [^ ]+: stopped inside the allocator).*use the command without --inferior$" gdb.out ||
        fail_with "heap stats --inferior did not refuse to call into a busy allocator"
}

@test "gdb heap: map draws the heap, from the live process and from a core file" {
    skip_unless_installed /usr/bin/python3
    # No call into the program: the map reads memory, as do gcore and
    # the core file.
    gdb_heap ok <<'GDB'
set pagination off
set confirm off
break checkpoint
run
printf "small=%#lx\n", (unsigned long)gdb_small
printf "large=%#lx\n", (unsigned long)gdb_large
printf "medium=%#lx\n", (unsigned long)gdb_medium
printf "freed_big=%#lx\n", (unsigned long)gdb_freed_big
echo @@map\n
heap map live.svg
echo @@usage\n
python
try:
    gdb.execute("heap map")
except gdb.error as e:
    print(e)
end
echo @@end\n
gcore heap.core
kill
GDB
    expect_line map '^heap map: wrote live\.svg \(1 region, 2 slabs, 1 large mapping\)$'
    expect_line usage '^heap map: usage: heap map FILE\.svg$'
    [ -s heap.core ] || fail_with "gcore wrote no core file"
    map_check live.svg --slab 48:"$(value small)" --live "$(value medium)" \
        --free "$(value freed_big)" --large "$(value large)" --cached
    # The same picture from the core file, in a gdb with no process.
    timeout -k 10 60 gdb -batch -nx -ex "source $PROJECT_ROOT/scripts/gdb/allocator.py" \
        -ex "heap map core.svg" "$GDB_HEAP_PROG" heap.core >core.out 2>&1 || true
    grep -q '^heap map: wrote core\.svg (1 region, 2 slabs, 1 large mapping)$' core.out || {
        cat core.out >&2
        fail_with "heap map did not read the core file"
    }
    map_check core.svg --core --same-as live.svg
    # scripts/heapmap PROGRAM CORE OUT: the same, in one command.
    "$PROJECT_ROOT/scripts/heapmap" "$GDB_HEAP_PROG" heap.core script.svg >script.out 2>&1 ||
        { cat script.out >&2; fail_with "scripts/heapmap failed on the core file"; }
    grep -qx 'heap map: wrote script\.svg (1 region, 2 slabs, 1 large mapping)' script.out ||
        fail_with "scripts/heapmap said: $(cat script.out)"
    map_check script.svg --core --same-as live.svg
}

@test "scripts/heapmap PID: attaches to a running program and draws its heap" {
    skip_unless_installed gdb /usr/bin/python3
    # python3 on the library, holding 50,000 small strings (slab slots) and
    # a 1 MB buffer (a large block) while it waits; fd 3 closed so that
    # bats does not wait for it.
    LD_PRELOAD=$LIBALLOCATOR ALLOCATOR_STATS=0 PYTHONMALLOC=malloc /usr/bin/python3 -c '
import time
words = [str(i) * 3 for i in range(50000)]
buf = bytearray(1000000)
open("ready", "w").close()
time.sleep(120)' 3>&- &
    local pid=$! n=0
    while [ ! -e ready ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    local rc=0
    timeout -k 10 60 "$PROJECT_ROOT/scripts/heapmap" "$pid" attached.svg >map.out 2>&1 || rc=$?
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ -e ready ] || { cat map.out >&2; false; }
    if [ "$rc" -ne 0 ] && grep -q "Operation not permitted" map.out; then
        skip "gdb may not attach to a process here (ptrace): $(tail -n 1 map.out)"
    fi
    [ "$rc" -eq 0 ] || { echo "scripts/heapmap exited with $rc:" >&2; cat map.out >&2; false; }
    grep -Eq '^heap map: wrote attached\.svg \(1 region, [1-9][0-9]* slabs, [1-9][0-9]* large mappings?\)$' map.out ||
        { cat map.out >&2; false; }
    /usr/bin/python3 "$PROJECT_ROOT/tests/smoke/heap_map_check.py" attached.svg --program 'python3[.0-9]*' \
        --has slot_live --has large
}

@test "gdb heap: map shows the pages a trim gave back" {
    skip_unless_installed /usr/bin/python3
    gdb_heap trimmed <<'GDB'
set pagination off
set confirm off
break checkpoint
run
printf "freed_big=%#lx\n", (unsigned long)gdb_freed_big
heap map trimmed.svg
echo @@end\n
kill
GDB
    # malloc_trim gave back gdb_freed_big's inner pages (80000 bytes; the
    # first and last pages keep the block's header and footer).
    map_check trimmed.svg --purged "$(printf '%#x' $(($(value freed_big) + 40000)))" \
        --free "$(value freed_big)"
}
