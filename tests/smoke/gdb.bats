#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: under scripts/debug (gdb, with the library preloaded only in the
# inferior through exec-wrapper) a malloc breakpoint lands in
# liballocator.so.  See helper.bash.

load helper

setup() { smoke_setup; }

@test "gdb: scripts/debug stops in liballocator.so's malloc" {
    skip_unless_installed gdb
    # The first hits are ld.so's own minimal malloc (rtld-malloc.h), used
    # before the program's malloc is relocated: continue, at most 200
    # times, until the stop is in liballocator.so.
    cat >cmds.gdb <<'GDB'
set pagination off
set confirm off
set breakpoint pending on
break malloc
run
python
for _ in range(200):
    if "liballocator.so" in gdb.execute("info symbol $pc", to_string=True):
        break
    try:
        gdb.execute("continue", to_string=True)
    except gdb.error:
        break
end
info symbol $pc
bt 2
kill
GDB
    "$PROJECT_ROOT/scripts/debug" -batch -x cmds.gdb -- ls / >gdb.out 2>&1 || true
    # "malloc in section .text of /path/liballocator.so" (with " + N" after
    # malloc when the breakpoint sits past the prologue; ctest names the
    # library by its versioned file, liballocator.so.0.1.0).
    local where
    where=$(sed -nE 's/^malloc( \+ [0-9]+)? in section \.text of (\/.*\/liballocator\.so[.0-9]*)$/\2/p' gdb.out | head -n 1)
    if [ -z "$where" ] || [ "$(realpath "$where")" != "$(realpath "$LIBALLOCATOR")" ]; then
        echo "gdb did not stop in $LIBALLOCATOR's malloc; its output ends with:" >&2
        tail -n 30 gdb.out >&2
        return 1
    fi
}
