#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: text tools (grep, sort, awk) on liballocator give the same stdout
# and exit status as on glibc.  See helper.bash.

load helper

# $lines_file: 300k pseudo-random lines ("word number text"), the same bytes
# on every machine (a Park-Miller generator; every product stays below 2^53
# so any awk computes it exactly).
make_lines() {
    awk 'BEGIN {
        x = 42
        for (i = 0; i < 300000; i++) {
            x = (x * 16807) % 2147483647; a = x
            x = (x * 16807) % 2147483647; b = x
            word = ""
            for (n = 3 + a % 9; n > 0; n--) { word = word sprintf("%c", 97 + a % 26); a = int(a / 7) }
            printf "%s %d %s\n", word, b % 100000, substr("lorem ipsum dolor sit amet consectetur adipiscing elit", 1 + b % 20, 10 + b % 30)
        }
    }' >"$1"
}

# Made once for the file: the sort and awk tests only read it.
setup_file() { make_lines "$BATS_FILE_TMPDIR/lines.txt"; }

setup() {
    smoke_setup
    lines_file=$BATS_FILE_TMPDIR/lines.txt
}

@test "grep -R over /usr/share/doc" {
    skip_unless_installed grep
    # Bounded to the copyright files, which every Debian package ships;
    # the tree does not change between the two runs, so neither does the
    # order grep walks it in.
    compare_under_allocator grep -R -n -I --include=copyright -e GPL /usr/share/doc
    expect_status 0
    expect_output
    compare_under_allocator grep -R -c -i -E 'licen[cs]e|warrant(y|ies)' /usr/share/common-licenses
    expect_status 0
    expect_output
}

@test "sort of 300k lines" {
    compare_under_allocator sort "$lines_file"
    expect_status 0
    expect_output
    compare_under_allocator sort -k2,2n -k1,1r "$lines_file"
    expect_status 0
}

@test "sort --parallel=2 -S 10M of 300k lines (threads, external merge)" {
    # Short lines: a 10 MiB buffer then holds more than the 128Ki lines
    # coreutils wants before it starts a second thread, yet less than the
    # input, so sort also spills temporary files and merges them.
    awk 'BEGIN { x = 99; for (i = 0; i < 300000; i++) { x = (x * 16807) % 2147483647; print x % 1000000 } }' >nums.txt
    mkdir tmp
    compare_under_allocator sort --parallel=2 -S 10M -T tmp nums.txt
    expect_status 0
    expect_output
    compare_under_allocator --stdin nums.txt sort --parallel=2 -S 10M -T tmp -n -u
    expect_status 0
    expect_output
    compare_under_allocator sort --parallel=2 -S 10M -T tmp -k3 "$lines_file"
    expect_status 0
    expect_output
}

@test "awk with a big associative array" {
    # Nothing is printed in for-in order: that order is the awk's own, and
    # only the allocator is under test.
    compare_under_allocator --stdin "$lines_file" awk '
        { n[$1]++; sum[$1] += $2; text[$1] = text[$1] $3 }
        END {
            for (k in n) {
                keys++
                if (n[k] > best || (n[k] == best && k < bestk)) { best = n[k]; bestk = k }
                total += sum[k]; chars += length(text[k])
            }
            for (k in n) if (n[k] == 1) { delete n[k]; delete sum[k]; delete text[k]; dropped++ }
            left = 0; for (k in n) left++
            printf "%d %s %d %.0f %d %d %d\n", keys, bestk, best, total, chars, dropped, left
            print n["abc"], sum["abc"], n[bestk], text[bestk]
        }'
    expect_status 0
    expect_output
    compare_under_allocator awk 'BEGIN {
        for (i = 0; i < 200000; i++) a["key" i] = sprintf("%0" (i % 60) "d", i)
        for (i = 0; i < 200000; i += 3) delete a["key" i]
        for (k in a) { n++; len += length(a[k]) }
        print n, len, a["key1"], a["key199999"]
    }'
    expect_status 0
    expect_output
}
