#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: harder programs on liballocator, each also in checking mode
# (ALLOCATOR_CHECK=1) or with every purge taken (ALLOCATOR_DECAY_MS=0):
# a pthread program that frees blocks on other threads and forks while
# they allocate, a program that moves the break itself, C++ containers on
# threads, perl's modules, and python3 with every object on the allocator.
# Same stdout and exit status as on glibc; see helper.bash.  The option is
# passed through env(1), which glibc's run ignores and which execs, so the
# statistics block still has the program's pid.

load helper

setup() { smoke_setup; }

# build_prog SRC OUT [CC FLAGS...]: compiles one of the programs beside
# this file with glibc's malloc (the compiler is tested elsewhere).
build_prog() {
    local src=$1 out=$2
    shift 2
    env -u LD_PRELOAD cc -O2 -Wall "$@" -o "$out" "$PROJECT_ROOT/tests/smoke/$src"
}

@test "pthreads: blocks freed on other threads, forks while others allocate" {
    skip_unless_installed cc
    build_prog handoff_prog.c handoff -pthread
    compare_under_allocator ./handoff 8000
    expect_status 0
    [ "$(cat "$SMOKE_OUT")" = "$(printf 'forks 1\nbad 0')" ]
    compare_under_allocator env ALLOCATOR_CHECK=1 ./handoff 4000
    expect_status 0
    compare_under_allocator env ALLOCATOR_DECAY_MS=0 ./handoff 4000
    expect_status 0
}

@test "a program that moves the break itself between mallocs and trims" {
    skip_unless_installed cc
    build_prog sbrk_prog.c sbrkprog
    compare_under_allocator ./sbrkprog
    expect_status 0
    [ "$(cat "$SMOKE_OUT")" = "bad 0" ]
    compare_under_allocator env ALLOCATOR_CHECK=1 ./sbrkprog
    expect_status 0
    compare_under_allocator env ALLOCATOR_DECAY_MS=0 ALLOCATOR_TRIM_THRESHOLD=0 ./sbrkprog
    expect_status 0
}

# Every purge taken on programs that fragment the heap: slabs released
# with pages purged, merged with purged free blocks, carved again.  Same
# checksums as on glibc.  A net, not a proof: the merge that overwrote a
# released slab's header (test_memory's test_free_purged_beside_small is
# its exact test) aborted w_pinned here in about 1 run of 10, as the
# slabs' idle time decides which are purged.
@test "bench workloads with every purge taken: slabs and blocks merging purged spans" {
    local w="$(dirname "$LIBALLOCATOR")/bench/workloads"
    [ -x "$w/w_pinned" ] || skip "the bench workloads are not built (LA_BUILD_BENCH=OFF)"
    for run in 1 2; do
        compare_under_allocator env ALLOCATOR_DECAY_MS=0 "$w/w_pinned" 1
        expect_status 0
    done
    compare_under_allocator env ALLOCATOR_DECAY_MS=0 "$w/w_fragment" 0.5
    expect_status 0
}

@test "g++: std::map, std::string and std::thread, compiled on the allocator" {
    skip_unless_installed g++
    cat >maps.cc <<'CC'
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

int main() {
    std::mutex m;
    std::map<std::string, std::string> shared;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++)
        ts.emplace_back([&, t] {
            std::map<std::string, std::vector<int>> local;
            for (int i = 0; i < 20000; i++) {
                std::ostringstream os;
                os << "key" << t << "_" << (i * 7919 % 100003);
                local[os.str()].push_back(i);
                if (i % 3 == 0) local.erase(local.begin());
                if (i % 100 == 0) {
                    std::lock_guard<std::mutex> g(m);
                    shared[os.str()] = std::string(i % 2000, 'x');
                }
            }
            std::unordered_map<int, std::unique_ptr<std::string>> um;
            for (int i = 0; i < 20000; i++) um[i] = std::make_unique<std::string>(i % 1500, 'y');
            for (int i = 0; i < 20000; i += 2) um.erase(i);
            std::lock_guard<std::mutex> g(m);
            shared["size" + std::to_string(t)] = std::to_string(local.size() + um.size());
        });
    for (auto &t : ts) t.join();
    size_t total = 0;
    for (auto &kv : shared) total += kv.first.size() + kv.second.size();
    std::cout << shared.size() << " " << total << " " << shared["size0"] << "\n";
}
CC
    run_under_allocator g++ -O1 -pthread -o maps maps.cc
    compare_under_allocator ./maps
    expect_status 0
    expect_output
    compare_under_allocator env ALLOCATOR_CHECK=1 ./maps
    expect_status 0
}

@test "perl: core modules load; Storable, JSON::PP and Digest::SHA round trip" {
    skip_unless_installed perl
    perl -MCPAN -MPOSIX -MEncode -MFile::Temp -MStorable -MJSON::PP -MDigest::SHA -e1 2>/dev/null ||
        skip "this perl lacks one of CPAN, Encode, Storable, JSON::PP, Digest::SHA"
    # shellcheck disable=SC2016 # perl's own variables
    compare_under_allocator perl -MCPAN -MPOSIX -MEncode -MFile::Temp -MStorable=freeze,thaw \
        -MJSON::PP -MDigest::SHA=sha256_hex -e '
        my $d = { map { $_ => [ 1 .. ($_ % 50) ] } 1 .. 20000 };
        my $j = JSON::PP->new->canonical->encode(thaw(freeze($d)));
        print length($j), " ", sha256_hex($j), "\n"'
    expect_status 0
    expect_output
    perl -Mthreads -e1 2>/dev/null || skip "this perl has no threads"
    # shellcheck disable=SC2016
    compare_under_allocator env ALLOCATOR_CHECK=1 perl -Mthreads -e '
        my @t = map { my $n = $_; threads->create(sub {
            my %h; $h{"$n.$_"} = "x" x ($_ % 100) for 1 .. 20000; scalar keys %h }) } 1 .. 4;
        print $_->join, "\n" for @t'
    expect_status 0
    expect_output
}

@test "python3 with PYTHONMALLOC=malloc: sqlite3 and threads, in checking mode" {
    # Every Python object then comes from malloc, not from pymalloc's arenas.
    skip_unless_installed /usr/bin/python3
    /usr/bin/python3 -c 'import sqlite3' 2>/dev/null || skip "python3 has no sqlite3 module"
    cat >rawmalloc.py <<'PY'
import hashlib, sqlite3, threading
con = sqlite3.connect(':memory:')
con.execute('create table t(id integer primary key, a text, b int)')
con.executemany('insert into t values(?,?,?)', ((i, 'v%d' % (i * 31 % 99991), i % 101) for i in range(60000)))
con.execute('create index ia on t(a)')
print(con.execute('select count(*), sum(b), count(distinct a) from t').fetchone())
print(hashlib.sha256(repr(con.execute('select a, b from t order by a, id').fetchall()).encode()).hexdigest())
res = {}
def work(k):
    d, l = {}, []
    for i in range(40000):
        d[(k, i % 5000)] = str(i) * (i % 7)
        l.append(bytearray(i % 300))
        if len(l) > 1000:
            del l[:500]
    res[k] = (len(d), sum(map(len, d.values())))
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print(sorted(res.items()))
PY
    compare_under_allocator env PYTHONMALLOC=malloc /usr/bin/python3 rawmalloc.py
    expect_status 0
    expect_output
    compare_under_allocator env PYTHONMALLOC=malloc ALLOCATOR_CHECK=1 /usr/bin/python3 rawmalloc.py
    expect_status 0
}
