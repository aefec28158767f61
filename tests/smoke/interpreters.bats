#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: interpreters (Debian's python3, perl, bash; node where installed) on
# liballocator give the same stdout and exit status as on glibc.  See
# helper.bash.

load helper

setup() { smoke_setup; }

@test "python3: 4 threads of allocation-heavy work" {
    # Debian's interpreter by its path: a python3 found on PATH may be a
    # pyenv shim, a shell script that runs some other build.
    skip_unless_installed /usr/bin/python3
    cat >threads.py <<'PY'
import hashlib, threading, zlib

def work(tid, results):
    h = hashlib.sha256()
    live = {}
    chunks = []
    for i in range(20000):
        key = "t%d-%d" % (tid, i)
        # Small objects, mid-size strings and (every 499th) blocks past the
        # allocator's mmap threshold; a third of them freed on the way.
        size = 300000 if i % 499 == 0 else (i * 37 + tid) % 700
        live[key] = (key * (1 + i % 5), bytes([i % 256]) * size)
        if i % 3 == 0:
            live.pop("t%d-%d" % (tid, i // 2), None)
        if i % 50 == 0:
            chunks.append(zlib.compress(repr(list(live)[-20:]).encode()))
    for key in sorted(live):
        text, blob = live[key]
        h.update(text.encode())
        h.update(blob)
    results[tid] = (len(live), sum(len(c) for c in chunks), h.hexdigest())

results = [None] * 4
threads = [threading.Thread(target=work, args=(t, results)) for t in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for tid, r in enumerate(results):
    print(tid, *r)
PY
    compare_under_allocator /usr/bin/python3 threads.py
    expect_status 0
    expect_output
}

@test "perl: hashes" {
    skip_unless_installed perl
    cat >hashes.pl <<'PL'
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my %h;
$h{"k$_"} = ("v" x ($_ % 200)) . $_ for 0 .. 99999;
delete $h{"k$_"} for grep { $_ % 3 == 0 } 0 .. 99999;
# Perl randomises hash order per process: only sorted views are printed.
my %by_len;
while (my ($k, $v) = each %h) { push @{ $by_len{ length $v } }, $k }
print scalar(keys %h), " ", scalar(keys %by_len), "\n";
for my $len (sort { $a <=> $b } keys %by_len) {
    my @keys = sort @{ $by_len{$len} };
    print "$len ", scalar(@keys), " $keys[0] $keys[-1]\n" if $len % 25 == 0;
}
print md5_hex(join ",", map { "$_=$h{$_}" } sort keys %h), "\n";
PL
    compare_under_allocator perl hashes.pl
    expect_status 0
    expect_output
}

@test "bash: associative arrays" {
    skip_unless_installed bash
    compare_under_allocator bash -c '
        declare -A m
        for ((i = 0; i < 30000; i++)); do m[key$i]="$((i * i % 1000003))-$i"; done
        for ((i = 0; i < 30000; i += 2)); do unset "m[key$i]"; done
        sum=0
        for k in "${!m[@]}"; do ((sum += ${m[$k]%-*})); done
        echo "${#m[@]} $sum ${m[key1]} ${m[key29999]} ${m[key2]-unset}"
        exit 3'
    expect_status 3
    expect_output
}

@test "node: worker threads, Buffers, zlib and JSON" {
    # Not one of Debian's packages that CI installs: a JIT runtime with its
    # own threads (V8's platform workers, libuv's pool, worker_threads)
    # that mallocs from all of them; skipped where it is not installed.
    skip_unless_installed node
    cat >workers.js <<'JS'
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const crypto = require('crypto');
const zlib = require('zlib');

if (isMainThread) {
    const results = [];
    const workers = [0, 1, 2, 3].map((id) => new Worker(__filename, { workerData: id }));
    for (const w of workers)
        w.on('message', (m) => {
            results.push(m);
            if (results.length === workers.length)
                console.log(results.sort().join('\n'));
        });
    // Buffers of many sizes, concatenated, compressed and read back.
    const bufs = [];
    for (let i = 0; i < 2000; i++)
        bufs.push(Buffer.alloc(1000 + i * 37, i % 251));
    const big = Buffer.concat(bufs);
    const back = zlib.gunzipSync(zlib.gzipSync(big));
    console.log('main', big.length, back.equals(big),
                crypto.createHash('sha256').update(back).digest('hex').slice(0, 16));
} else {
    let sum = 0;
    for (let i = 0; i < 100000; i++) {
        const o = JSON.parse(JSON.stringify({ a: i, b: 'x'.repeat(i % 300), c: [i, workerData] }));
        sum += o.b.length + o.c[1];
    }
    const z = zlib.deflateSync(Buffer.alloc(3000000, workerData + 1));
    parentPort.postMessage(`worker ${workerData} ${sum} ${zlib.inflateSync(z).length}`);
}
JS
    compare_under_allocator node workers.js
    expect_status 0
    expect_output
}
