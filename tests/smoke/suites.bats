#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: a test suite nobody here wrote, run on liballocator: Python's own
# regression tests of threads, fork, multiprocessing, subprocesses, the collector,
# weak references and mmap, with PYTHONMALLOC=malloc so that every object
# of the interpreter (and of each child it forks or spawns) comes from the
# allocator.  Every module must pass, or fail on glibc's malloc too (then
# the machine is why, and the module is named in the TAP output);
# helper.bash's statistics check proves the library was in use.

load helper

setup() { smoke_setup; }

# The modules: what exercises fork (with threads running: multiprocessing's
# pools fork from a parent whose helper threads allocate), exec, signals to
# children, thread exit and the collector, in about two minutes.  Left out:
# test_signal (47 s, mostly sleeps), anything that needs a network or reads
# the environment (test_socket, test_cmd_line).
PY_SUITE=(test_threading test_thread test_threading_local test_fork1 test_wait4
          test_subprocess test_os test_gc test_weakref test_queue test_mmap
          test_multiprocessing_fork)

# run_module MODULE OUT [ENV...]: python3 -m test MODULE with the
# environment given (env(1)'s arguments), in the foreground, its output in
# OUT and the interpreter's pid in OUT.pid.
# SIGINT gets Python's own handler first: a shell that runs the suite as
# a background job starts it with SIGINT ignored, and test_threading's
# interrupt_main tests then fail on any malloc.  -w runs a failed module
# again, verbosely, so that a test that failed on timing alone (on a
# loaded machine) does not fail this.  The shell notes its pid and execs
# the interpreter, which keeps it.
run_module() {
    local module=$1 out=$2
    shift 2
    env "$@" sh -c 'echo $$ >"$0.pid" && exec "$@"' "$out" /usr/bin/python3 -c '
import runpy, signal
signal.signal(signal.SIGINT, signal.default_int_handler)
runpy.run_module("test", run_name="__main__", alter_sys=True)' -w "$module" >"$out" 2>&1
}

# on_allocator MODULE STATS [ENV...]: run_module on the allocator, every
# object through it, its report appended to STATS.
on_allocator() {
    local module=$1 stats=$2
    shift 2
    run_module "$module" "$module.alloc" LD_PRELOAD="$LIBALLOCATOR" PYTHONMALLOC=malloc \
        ALLOCATOR_STATS_FILE="$stats" "$@"
}

# suite_on_allocator [ENV...] -- MODULE...: each module on the allocator
# with the environment given; one that fails there runs on glibc's malloc
# (same environment less the preload and the allocator's options), and if
# it passes there, on the allocator again.  Fails naming the modules that
# failed twice on the allocator and passed on glibc; notes those that
# failed on both.  The report goes to a file that every process appends
# to: on stderr it would fail the tests that check what a child printed.
suite_on_allocator() {
    skip_unless_installed /usr/bin/python3
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    # The modules themselves, not the runner: libpython3.11-stdlib ships
    # test/libregrtest without the tests, and every module then "fails"
    # on both allocators.
    /usr/bin/python3 -c 'import importlib.util, sys
sys.exit(any(importlib.util.find_spec("test." + m) is None for m in sys.argv[1:]))' "$@" ||
        skip "python3's test suite is not installed (Debian package libpython3.11-testsuite)"
    local stats="$BATS_TEST_TMPDIR/stats" module shared=() ours=() ran=0
    for module in "$@"; do
        if on_allocator "$module" "$stats" "${envs[@]}"; then
            :
        elif ! run_module "$module" "$module.glibc" -u LD_PRELOAD PYTHONMALLOC=malloc; then
            shared+=("$module")
            continue
        # Once more before the allocator is blamed: the suite's timing
        # tests can fail twice in a row beside valgrind's tests.
        elif on_allocator "$module" "$stats" "${envs[@]}"; then
            echo "# $module passed on the allocator at the second run" >&3
        else
            ours+=("$module")
            continue
        fi
        smoke_check_stats "$stats" "$(cat "$module.alloc.pid")"
        ran=$((ran + 1))
    done
    if ((${#shared[@]})); then
        echo "# failed on glibc's malloc too (this machine): ${shared[*]}" >&3
    fi
    if ((${#ours[@]})); then
        local m
        for m in "${ours[@]}"; do
            echo "python3 -m test $m failed twice on liballocator and passed on glibc; its output ends:" >&2
            tail -n 30 "$m.alloc" >&2
        done
        return 1
    fi
    # Not a pass by default: at least one module passed on the allocator.
    [ "$ran" -gt 0 ]
}

@test "python3's own tests of threads, fork and subprocesses, every object on the allocator" {
    suite_on_allocator -- "${PY_SUITE[@]}"
}

# Checking mode (junk, poison, a canary after each block) under a suite
# that frees across threads and forks: neither a false report nor a
# changed result.
@test "python3's own tests of threads, fork, gc and weakref in checking mode" {
    suite_on_allocator ALLOCATOR_CHECK=1 -- test_threading test_fork1 test_gc test_weakref test_queue
}
