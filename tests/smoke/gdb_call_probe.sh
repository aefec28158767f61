#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Can this machine's gdb call functions in the program it debugs?  Some
# cannot, for any program: gdb 13.1 on an Intel Xeon with AMX fails every
# call with "Couldn't write extended state status: Bad address" (issue 12).
# The tests that call in (`heap ... --inferior`, gdb's `call`) skip there,
# and must not skip anywhere else, so this asks gdb directly: it stops a
# trivial program that has nothing of liballocator (/bin/true, in exit())
# and calls getpid() in it.
#
# Exit 0: the call returned the program's pid, or the probe did not get as
#         far as the call (no gdb, ptrace refused, no stop): the tests run
#         and report whatever is wrong themselves.
# Exit 1: gdb stopped the program but the call failed; stdout has one line
#         saying why, with gdb's error, for the tests' skip message.
#
# LA_TEST_FAKE_NO_GDB_CALLS=1 turns calls off in the probe's gdb (`set
# may-call-functions off`), so that the skip path can be checked on a
# machine whose gdb works; the message then says it was faked.  Only the
# tests honour it (tests/smoke/gdb_heap.bats also turns calls off in its
# own gdb runs then), never scripts/debug.
set -u
command -v gdb >/dev/null 2>&1 || exit 0
prog=$(type -P true) || exit 0
fake=""
[ "${LA_TEST_FAKE_NO_GDB_CALLS:-0}" = 1 ] && fake="set may-call-functions off"

# The Python prints one "@@" line; a failure before it (`run` refused) ends
# the script early and leaves none.  debuginfod is off: no network, no
# prompt.
out=$(timeout -k 5 60 gdb -q -nx -batch \
  -iex "set debuginfod enabled off" \
  -ex "set pagination off" -ex "set confirm off" -ex "set breakpoint pending on" \
  -ex "${fake:-echo}" \
  -ex "break exit" -ex "run" -ex "python
pid = gdb.selected_inferior().pid
if pid == 0 or gdb.selected_thread() is None:
    print('@@no-stop')
else:
    try:
        value = gdb.parse_and_eval('(int)getpid()')
        print('@@ok' if int(value) == pid else '@@failed returned %d, not the pid %d' % (int(value), pid))
    except gdb.error as e:
        print('@@failed ' + ' '.join(str(e).split()))
" -ex "kill" "$prog" 2>&1)
result=$(printf '%s\n' "$out" | sed -n 's/^@@//p' | head -n 1)
case "$result" in
  failed*)
    why=${result#failed }
    printf "this machine's gdb cannot call functions in a program: call (int)getpid() in %s: %s%s\n" \
      "$prog" "$why" "${fake:+ (faked by LA_TEST_FAKE_NO_GDB_CALLS=1)}"
    exit 1 ;;
esac
exit 0
