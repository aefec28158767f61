#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: what scripts/run and scripts/debug tell their user: --help and
# --version, a program that does not exist, a LIBALLOCATOR that names no
# file.  Each message names the script and the thing that is wrong, and
# none of these cases gets as far as gdb or the program.  (The installed
# liballocator-run and -debug are checked by tests/install/run.sh.)
# See helper.bash.

load helper

setup() {
    smoke_setup
    run_sh="$PROJECT_ROOT/scripts/run"
    debug_sh="$PROJECT_ROOT/scripts/debug"
}

# expect_exit N CMD...: runs CMD with stdout in out.txt and stderr in
# err.txt; fails unless it exits with N.
expect_exit() {
    local want=$1 rc=0
    shift
    "$@" >out.txt 2>err.txt || rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "'$*' exited with $rc, expected $want; stdout, then stderr:" >&2
        cat out.txt err.txt >&2
        return 1
    fi
}

# expect_line FILE TEXT: FILE has TEXT as a whole line.
expect_line() {
    if ! grep -qxF -- "$2" "$1"; then
        echo "no line '$2' in $1, which holds:" >&2
        cat "$1" >&2
        return 1
    fi
}

@test "scripts/run --help and scripts/debug --help: usage on stdout, status 0" {
    local s
    for s in run debug; do
        expect_exit 0 "$PROJECT_ROOT/scripts/$s" --help
        [[ "$(head -n 1 out.txt)" == "usage: scripts/$s "* ]]
        grep -q -- --version out.txt
        grep -q LIBALLOCATOR out.txt
        [ ! -s err.txt ]
    done
    # No arguments at all: the same text, on stderr, status 2.
    expect_exit 2 "$run_sh"
    [[ "$(head -n 1 err.txt)" == "usage: scripts/run "* ]]
    [ ! -s out.txt ]
}

@test "--version prints VERSION, the library's version, in CHANGELOG.md" {
    local version
    version=$(cat "$PROJECT_ROOT/VERSION")
    [ -n "$version" ]
    expect_exit 0 "$run_sh" --version
    expect_line out.txt "liballocator $version"
    expect_exit 0 "$debug_sh" --version
    expect_line out.txt "liballocator $version"
    # It is the version the library carries in its file name, and
    # CHANGELOG.md has an entry for it.
    [ -e "$(dirname "$LIBALLOCATOR")/liballocator.so.$version" ]
    grep -qE "^## ${version//./\\.}( |\$)" "$PROJECT_ROOT/CHANGELOG.md"
}

@test "a program that does not exist: 'scripts/run: no such program: X'" {
    expect_exit 127 "$run_sh" no-such-program-here --flag
    expect_line err.txt "scripts/run: no such program: no-such-program-here"
    expect_exit 127 "$run_sh" ./no/such/prog
    expect_line err.txt "scripts/run: no such program: ./no/such/prog"
    touch plain.txt
    expect_exit 126 "$run_sh" ./plain.txt
    expect_line err.txt "scripts/run: not an executable program: ./plain.txt"
    # gdb would start and say something of its own; the script stops first.
    expect_exit 127 "$debug_sh" no-such-program-here
    expect_line err.txt "scripts/debug: no such program: no-such-program-here"
    expect_exit 127 "$debug_sh" -batch -ex run -- no-such-program-here
    expect_line err.txt "scripts/debug: no such program: no-such-program-here"
    # scripts/valgrind/run takes valgrind's options first: the program is
    # the first word that is not an option.
    expect_exit 127 "$PROJECT_ROOT/scripts/valgrind/run" -q --leak-check=no no-such-program-here
    expect_line err.txt "scripts/valgrind/run: no such program: no-such-program-here"
}

@test "a LIBALLOCATOR that names no file: the message names that path" {
    local wrong="$BATS_TEST_TMPDIR/not/there/liballocator.so"
    expect_exit 127 env LIBALLOCATOR="$wrong" "$run_sh" ls /
    expect_line err.txt "scripts/run: LIBALLOCATOR=$wrong: no such file"
    [ ! -s out.txt ]
    expect_exit 127 env LIBALLOCATOR="$wrong" "$debug_sh" ls /
    expect_line err.txt "scripts/debug: LIBALLOCATOR=$wrong: no such file"
}

@test "scripts/run: a program runs on LIBALLOCATOR, with the report" {
    expect_exit 0 "$run_sh" ls /
    grep -qx usr out.txt
    grep -q "^liballocator statistics (pid [0-9]*)$" err.txt
    # -- ends the options; an unknown one is refused, naming it.
    expect_exit 3 "$run_sh" -- sh -c 'exit 3'
    expect_exit 2 "$run_sh" --no-such-option ls
    expect_line err.txt "scripts/run: unknown option --no-such-option (see scripts/run --help)"
}

@test "scripts/run --malloc-only: liballocator-preload.so, without the mem_* names" {
    skip_unless_installed /usr/bin/python3
    local probe='import ctypes; print(hasattr(ctypes.CDLL(None), "mem_malloc"))'
    expect_exit 0 "$run_sh" /usr/bin/python3 -c "$probe"
    expect_line out.txt True
    expect_exit 0 "$run_sh" --malloc-only /usr/bin/python3 -c "$probe"
    expect_line out.txt False
    # Still the allocator, with its report.
    grep -q "^liballocator statistics (pid [0-9]*)$" err.txt
}
