# SPDX-License-Identifier: MIT
# Shared by the smoke tests (tests/smoke/*.bats): runs a stock program once
# on glibc's malloc and once on liballocator.so (LD_PRELOAD), and fails
# unless stdout and the exit status agree byte for byte and the allocator run
# printed its statistics block (ALLOCATOR_STATS=1, stderr only) with
# num_allocations > 0 for the program's own pid.  That last check is what
# proves the library was really in use: without it a test whose preload
# silently failed would compare glibc with glibc and pass.
#
# LIBALLOCATOR names the library (ctest sets it to the built .so).
# PROJECT_ROOT is the source tree (ctest sets it; defaults to ../.. from here).

: "${PROJECT_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"

# Each test file calls this from its setup(): checks the library and works
# in the per-test temporary directory, so tests never share files.
smoke_setup() {
    if [ -z "${LIBALLOCATOR:-}" ]; then
        echo "smoke: LIBALLOCATOR is not set; run through ctest or set it to build/liballocator.so" >&2
        return 1
    fi
    if [ ! -f "$LIBALLOCATOR" ]; then
        echo "smoke: LIBALLOCATOR=$LIBALLOCATOR does not exist (run make all)" >&2
        return 1
    fi
    smoke_n=0
    cd "$BATS_TEST_TMPDIR" || return 1
}

# skip_unless_installed CMD...: skips the test, naming what is missing.  A
# command with a slash is checked as that exact file (/usr/bin/python3).
skip_unless_installed() {
    local cmd
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 || skip "$cmd is not installed"
    done
}

# skip_unless_gdb_can_call: skips the test, with gdb's error, when this
# machine's gdb cannot call functions in any program (gdb_call_probe.sh:
# a call in /bin/true, nothing of ours).  Where that call works the test
# runs, so a broken extension or allocator still fails it.  The probe runs
# once per test file; its answer is kept in BATS_FILE_TMPDIR.
skip_unless_gdb_can_call() {
    skip_unless_installed gdb
    local answer="$BATS_FILE_TMPDIR/gdb_call_probe"
    if [ ! -f "$answer" ]; then
        local why rc=0
        why=$("$PROJECT_ROOT/tests/smoke/gdb_call_probe.sh") || rc=$?
        # Only exit 1 means "cannot call"; anything else lets the test run.
        [ "$rc" -eq 1 ] || why=""
        printf '%s' "$why" >"$answer"
    fi
    if [ -s "$answer" ]; then
        skip "$(cat "$answer")"
    fi
}

# smoke_stats_field FILE PID FIELD: prints FIELD from the statistics block
# of process PID in FILE (empty when there is no such block).  Children
# (gcc's cc1, git's helpers) print their own blocks; only PID's counts.
smoke_stats_field() {
    awk -v header="liballocator statistics (pid $2)" -v field="$3" '
        $0 == header { inblock = 1; next }
        /^liballocator statistics / { inblock = 0 }
        inblock && $1 == field { print $2; exit }' "$1"
}

# smoke_check_stats ERRFILE PID: the block for PID is in ERRFILE and counts
# at least one allocation.
smoke_check_stats() {
    local nalloc
    nalloc=$(smoke_stats_field "$1" "$2" num_allocations)
    if [ -z "$nalloc" ]; then
        echo "smoke: no 'liballocator statistics (pid $2)' block with num_allocations on stderr:" \
            "was $LIBALLOCATOR really preloaded?" >&2
        echo "--- stderr of the allocator run ---" >&2
        head -n 40 "$1" >&2
        return 1
    fi
    if ! [ "$nalloc" -gt 0 ] 2>/dev/null; then
        echo "smoke: num_allocations is '$nalloc' for pid $2; expected a number > 0" >&2
        return 1
    fi
}

# Shows how two output files differ: a unified diff for text, cmp for
# binary data, bounded either way.
smoke_show_diff() {
    if smoke_is_text "$1" && smoke_is_text "$2"; then
        diff -u --label "stdout under glibc" --label "stdout under liballocator" "$1" "$2" | head -n 60 >&2
    else
        cmp "$1" "$2" >&2 || true
    fi
}
# shellcheck disable=SC2094 # both sides only read the file
smoke_is_text() { tr -d '\000' <"$1" | cmp -s - "$1"; }

# smoke_run_one glibc|alloc STDIN OUT ERR CMD...: runs CMD with no preload
# at all (whatever the caller's environment has), or on the allocator with
# its report at exit; sets smoke_pid and smoke_rc.  The program runs as a
# background job only so that $! is its pid (a simple command, and env
# execs it), which is how its statistics block is told apart from those of
# its children.
smoke_run_one() {
    local kind=$1 in=$2 out=$3 err=$4
    shift 4
    if [ "$kind" = alloc ]; then
        env LD_PRELOAD="$LIBALLOCATOR" ALLOCATOR_STATS=1 "$@" <"$in" >"$out" 2>"$err" &
    else
        env -u LD_PRELOAD -u ALLOCATOR_STATS "$@" <"$in" >"$out" 2>"$err" &
    fi
    smoke_pid=$!
    smoke_rc=0
    wait "$smoke_pid" || smoke_rc=$?
}

# run_under_allocator [--stdin FILE] CMD...: runs CMD on the allocator only,
# for steps whose effect is checked afterwards (tar extraction, git commit).
# Fails if CMD fails or the statistics block is missing.  Leaves the paths
# of its stdout and stderr in $SMOKE_OUT and $SMOKE_ERR.
run_under_allocator() {
    local in=/dev/null
    if [ "${1-}" = "--stdin" ]; then in=$2; shift 2; fi
    smoke_n=$((smoke_n + 1))
    SMOKE_OUT="$BATS_TEST_TMPDIR/smoke.$smoke_n.alloc.out"
    SMOKE_ERR="$BATS_TEST_TMPDIR/smoke.$smoke_n.alloc.err"
    smoke_run_one alloc "$in" "$SMOKE_OUT" "$SMOKE_ERR" "$@"
    if [ "$smoke_rc" -ne 0 ]; then
        echo "smoke: '$*' exited with $smoke_rc under liballocator" >&2
        head -n 40 "$SMOKE_ERR" >&2
        return 1
    fi
    smoke_check_stats "$SMOKE_ERR" "$smoke_pid"
}

# compare_under_allocator [--stdin FILE] CMD...: runs CMD under glibc, then
# under the allocator, same directory, same environment, stdin from FILE
# (default /dev/null).  Fails, showing the difference, unless stdout and the
# exit status are identical and the statistics check passes.  Leaves the
# allocator run's files in $SMOKE_OUT / $SMOKE_ERR, glibc's stdout in
# $SMOKE_REF and the common exit status in $SMOKE_STATUS.
compare_under_allocator() {
    local in=/dev/null
    if [ "${1-}" = "--stdin" ]; then in=$2; shift 2; fi
    smoke_n=$((smoke_n + 1))
    local base="$BATS_TEST_TMPDIR/smoke.$smoke_n"
    local ref_rc alloc_rc alloc_pid
    smoke_run_one glibc "$in" "$base.glibc.out" "$base.glibc.err" "$@"
    ref_rc=$smoke_rc
    smoke_run_one alloc "$in" "$base.alloc.out" "$base.alloc.err" "$@"
    alloc_rc=$smoke_rc alloc_pid=$smoke_pid
    SMOKE_REF="$base.glibc.out" SMOKE_OUT="$base.alloc.out" SMOKE_ERR="$base.alloc.err"
    SMOKE_STATUS=$alloc_rc

    local differs=0
    if ! cmp -s "$SMOKE_REF" "$SMOKE_OUT"; then
        echo "smoke: stdout of '$*' differs between glibc and liballocator" >&2
        smoke_show_diff "$SMOKE_REF" "$SMOKE_OUT"
        differs=1
    fi
    if [ "$ref_rc" -ne "$alloc_rc" ]; then
        echo "smoke: '$*' exited with $ref_rc under glibc but $alloc_rc under liballocator" >&2
        differs=1
    fi
    if [ $differs -ne 0 ]; then
        echo "--- stderr under liballocator ---" >&2
        head -n 40 "$SMOKE_ERR" >&2
        return 1
    fi
    smoke_check_stats "$SMOKE_ERR" "$alloc_pid"
}

# expect_output: the last comparison produced some stdout, so that a test
# cannot pass by comparing two empty outputs (a missing input tree, say).
expect_output() {
    if [ ! -s "$SMOKE_REF" ]; then
        echo "smoke: the command printed nothing even under glibc; the test checks nothing" >&2
        return 1
    fi
}

# expect_status N: the exit status both runs agreed on.
expect_status() {
    if [ "$SMOKE_STATUS" -ne "$1" ]; then
        echo "smoke: exit status $SMOKE_STATUS under both mallocs, expected $1" >&2
        head -n 20 "$SMOKE_ERR" >&2
        return 1
    fi
}

# make_tree DIR: a deterministic tree of 400 files in 30 directories, sizes
# from one line to ~300 KiB, with a symlink and an empty directory, the same
# bytes on every run (the ls, find, du, tar and git tests walk it).
make_tree() {
    local d
    mkdir -p "$1/empty"
    for d in $(seq 0 9); do mkdir -p "$1/d$d/a" "$1/d$d/b" "$1/d$d/c"; done
    awk -v root="$1" 'BEGIN {
        x = 12345
        for (i = 0; i < 400; i++) {
            x = (x * 16807) % 2147483647
            size = (i % 50 == 0) ? 300000 : x % 9000
            path = root "/d" (i % 10) "/" substr("abc", 1 + int(i / 10) % 3, 1) "/file" i ".txt"
            line = "file " i " line "
            printf "" > path
            for (n = 0; n < size; n += length(line) + 8) printf "%s%07d\n", line, n > path
            close(path)
        }
    }'
    ln -s d0/a/file0.txt "$1/link"
    # Fixed modes and times: nothing in the tree depends on the umask or
    # the clock of the run that made it.
    chmod -R u=rwX,go=rX "$1"
    find "$1" -exec touch -h -d @1700000000 {} +
}
