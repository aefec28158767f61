#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: file-system tools (coreutils, findutils, tar) on liballocator give
# the same stdout and exit status as on glibc.  See helper.bash.

load helper

setup() { smoke_setup; }

@test "ls -la on /usr/bin and /usr/lib" {
    # Large directories whose timestamps do not move during a test run;
    # -l looks up every owner and group through NSS.
    compare_under_allocator ls -la /usr/bin /usr/lib
    expect_status 0
    expect_output
}

@test "ls -lAR on a generated tree, and ls of a missing path" {
    make_tree tree
    # -A, not -a: ".." is the test's own directory, which the runs change.
    compare_under_allocator ls -lAR --time-style=full-iso tree
    expect_status 0
    compare_under_allocator ls -la tree/no-such-file
    expect_status 2
}

@test "find over /usr/share and over a generated tree" {
    compare_under_allocator find /usr/share -printf '%y %m %s %P\n'
    expect_status 0
    expect_output
    make_tree tree
    compare_under_allocator find tree \( -type l -o -name 'file*' -size +2k \) -print
    expect_status 0
    compare_under_allocator find tree -type f -size +8k -printf '%s %p\n'
    expect_status 0
    expect_output
}

@test "du on /usr/share and on a generated tree" {
    compare_under_allocator du -a /usr/share
    expect_status 0
    expect_output
    make_tree tree
    compare_under_allocator du -ab --max-depth=2 tree
    expect_status 0
    expect_output
}

@test "tar create and extract round trip" {
    skip_unless_installed tar
    make_tree tree
    # The archive itself, byte for byte: --sort=name makes it independent
    # of readdir order.
    compare_under_allocator tar --sort=name -cf - tree
    expect_status 0
    expect_output
    cp "$SMOKE_OUT" tree.tar
    compare_under_allocator tar -tvf tree.tar
    expect_status 0
    expect_output
    compare_under_allocator tar -xOf tree.tar
    expect_status 0
    expect_output
    # Extract with tar on the allocator, then check the content with glibc.
    mkdir out
    run_under_allocator tar -xf tree.tar -C out
    diff -r tree out/tree
    [ "$(readlink out/tree/link)" = d0/a/file0.txt ]
}
