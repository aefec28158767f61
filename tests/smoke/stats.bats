#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: the statistics report as a person (or a script) reads it: it names
# the program and the pid, in the text and in the JSON, shows sizes for
# people, and never lands in a file of the program that reused the
# descriptor it was meant for.  See helper.bash.

load helper

setup() { smoke_setup; }

# stats_run OUT ERR CMD...: CMD on the allocator, with the caller's
# ALLOCATOR_* settings; sets stats_pid to the program's pid (env execs it).
stats_run() {
    local out=$1 err=$2
    shift 2
    env LD_PRELOAD="$LIBALLOCATOR" "$@" >"$out" 2>"$err" &
    stats_pid=$!
    wait "$stats_pid"
}

@test "the text report names the program and its pid" {
    ALLOCATOR_STATS=1 stats_run out.txt err.txt /bin/ls /
    grep -qx "liballocator statistics (pid $stats_pid)" err.txt
    # /proc/self/exe: the real path, whatever name started the program.
    grep -qx "  program          $(readlink -f /bin/ls)" err.txt
    # One program line, right after the header.
    [ "$(sed -n 2p err.txt)" = "  program          $(readlink -f /bin/ls)" ]
}

@test "the JSON report names the program and its pid" {
    ALLOCATOR_STATS=json stats_run out.txt err.txt /bin/ls /
    /usr/bin/python3 - err.txt "$stats_pid" "$(readlink -f /bin/ls)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["liballocator"]
assert d["version"] == 2, d["version"]
assert d["pid"] == int(sys.argv[2]), (d["pid"], sys.argv[2])
assert d["program"] == sys.argv[3], d["program"]
PY
}

@test "the report says what is in RAM now: the heaps' pages and the whole process's" {
    # 100 MB of 20 KB buffers freed, then a trim: the heap keeps its
    # address space, but its pages went back.  released_bytes is a running
    # sum; heap_resident_bytes and resident_bytes are figures of now.
    ALLOCATOR_STATS=json stats_run out.txt err.txt /usr/bin/python3 -c '
import ctypes
blocks = [bytearray(20000) for _ in range(5000)]
del blocks
ctypes.CDLL(None).malloc_trim(0)'
    /usr/bin/python3 - err.txt <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["liballocator"]
heap, here, rss = d["heap_size"], d["heap_resident_bytes"], d["resident_bytes"]
assert 0 < here <= heap, (here, heap)
assert here < 20 << 20, here                      # not the 100 MB freed
assert d["released_bytes"] > 80 << 20, d["released_bytes"]
assert here <= rss < 200 << 20, (here, rss)       # RSS holds the heap's pages
PY
}

@test "a program path with quotes and backslashes stays valid JSON" {
    local odd='odd "name" \ here'
    cp "$(readlink -f /bin/true)" "$odd"
    ALLOCATOR_STATS=json stats_run out.txt err.txt "./$odd"
    /usr/bin/python3 - err.txt "$PWD/$odd" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["liballocator"]
assert d["program"] == sys.argv[2], d["program"]
PY
}

@test "sizes in the text report are also shown in B, KiB, MiB or GiB; counts are not" {
    ALLOCATOR_STATS=1 stats_run out.txt err.txt /usr/bin/sort -n /dev/null
    /usr/bin/python3 - err.txt <<'PY'
import re, sys
sizes = {"total_allocated", "total_freed", "current_usage", "peak_usage", "heap_size",
         "mmap_bytes", "large_cache_bytes", "released_bytes", "heap_resident_bytes",
         "resident_bytes", "slot_live_bytes", "slot_cached_bytes", "slot_remote_bytes",
         "slot_free_bytes", "slot_unused_bytes", "block_cached_bytes", "block_free_bytes"}
units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
seen = set()
for line in open(sys.argv[1]).read().splitlines()[2:]:
    if line.startswith("  slab class "):  # the per-class table after the fields
        continue
    m = re.fullmatch(r"  ([a-z_]+) +([0-9]+)(?:  \(([0-9.]+) (B|KiB|MiB|GiB)\))?", line)
    assert m, "line not understood: %r" % line
    name, value = m.group(1), int(m.group(2))
    seen.add(name)
    if name not in sizes:
        assert m.group(3) is None, line
        continue
    assert m.group(3) is not None, "no size for people: %r" % line
    shown = float(m.group(3)) * units[m.group(4)]
    assert abs(shown - value) <= units[m.group(4)] / 20 + 0.5, line
    assert m.group(4) == "B" or value >= units[m.group(4)], line
assert sizes <= seen, sizes - seen
PY
}

# A program that closes every descriptor and opens a file of its own: the
# file gets the descriptors that stderr and liballocator's duplicate of it
# had (2, and 1000 and its neighbours, through dup2).  The report must not
# go into the program's file (issue 17).
closes_all_fds='
import os, resource
limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
os.closerange(0, limit)
fd = os.open("mine.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for n in list(range(1, 3)) + list(range(990, 1030)):
    if n < limit:
        os.dup2(fd, n)
os.write(fd, b"only mine\n")
'

@test "a program that reuses the descriptors of stderr does not get the report in its file" {
    ALLOCATOR_STATS=1 stats_run out.txt err.txt /usr/bin/python3 -c "$closes_all_fds"
    [ "$(cat mine.txt)" = "only mine" ] || { echo "mine.txt holds:" >&2; cat mine.txt >&2; return 1; }
    [ ! -s err.txt ]
    ALLOCATOR_STATS=json stats_run out.txt err.txt /usr/bin/python3 -c "$closes_all_fds"
    [ "$(cat mine.txt)" = "only mine" ] || { echo "mine.txt holds:" >&2; cat mine.txt >&2; return 1; }
}

@test "the same where the descriptor limit leaves no room for a duplicate of stderr" {
    # Below 1000 descriptors the report has only fd 2 to go to.
    (ulimit -n 256 && ALLOCATOR_STATS=1 stats_run out.txt err.txt /usr/bin/python3 -c "$closes_all_fds")
    [ "$(cat mine.txt)" = "only mine" ] || { echo "mine.txt holds:" >&2; cat mine.txt >&2; return 1; }
    # The same limit, with stderr left alone: the report arrives.  (Not
    # ls: coreutils close fd 2 at exit, and then there is nowhere to go.)
    (ulimit -n 256 && ALLOCATOR_STATS=1 stats_run out.txt err.txt /usr/bin/python3 -c pass)
    grep -q '^liballocator statistics (pid [0-9]*)$' err.txt
}

@test "a program that closes stderr before exit still gets its report on the original stderr" {
    # coreutils close fd 2 in an atexit handler; the duplicate is still ours.
    ALLOCATOR_STATS=1 stats_run out.txt err.txt /usr/bin/python3 -c 'import os; os.close(2)'
    grep -q '^liballocator statistics (pid [0-9]*)$' err.txt
}

@test "ALLOCATOR_STATS_FILE: the report goes to that file, %p replaced by the pid" {
    ALLOCATOR_STATS=json ALLOCATOR_STATS_FILE="$PWD/report.%p.json" stats_run out.txt err.txt /bin/ls /
    [ ! -s err.txt ]
    [ -f "report.$stats_pid.json" ]
    /usr/bin/python3 - "report.$stats_pid.json" "$stats_pid" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["liballocator"]
assert d["pid"] == int(sys.argv[2]), d["pid"]
PY
    # Created 0644, whatever the umask lets through beyond that.
    (umask 0 && ALLOCATOR_STATS=1 ALLOCATOR_STATS_FILE="$PWD/open.txt" stats_run out.txt err.txt /bin/true)
    [ "$(stat -c %a open.txt)" = 644 ]
    # %% is one %; the file name otherwise is taken as it is.
    ALLOCATOR_STATS=1 ALLOCATOR_STATS_FILE="$PWD/100%%-%p%x" stats_run out.txt err.txt /bin/true
    [ -f "100%-$stats_pid%x" ]
}

@test "ALLOCATOR_STATS_FILE: processes append, one whole report each" {
    # Two children of the shell write to the same file (and the shell, if
    # it ever called malloc); every line is one whole report.
    ALLOCATOR_STATS=json ALLOCATOR_STATS_FILE="$PWD/all.json" \
        stats_run out.txt err.txt /bin/sh -c '/bin/ls / >/dev/null; /bin/ls / >/dev/null; :'
    [ ! -s err.txt ]
    /usr/bin/python3 - all.json <<'PY'
import json, sys
reports = [json.loads(line)["liballocator"] for line in open(sys.argv[1])]
ls = [r["pid"] for r in reports if r["program"].endswith("/ls")]
assert len(ls) == 2 and len(set(ls)) == 2, reports
PY
}

@test "ALLOCATOR_STATS_FILE alone asks for the text report; a file that cannot be opened says so" {
    ALLOCATOR_STATS_FILE="$PWD/text.txt" stats_run out.txt err.txt /bin/true
    [ ! -s err.txt ]
    grep -qx "liballocator statistics (pid $stats_pid)" text.txt
    # ALLOCATOR_STATS=0 still turns the report off.
    ALLOCATOR_STATS=0 ALLOCATOR_STATS_FILE="$PWD/none.txt" stats_run out.txt err.txt /bin/true
    [ ! -e none.txt ]
    ALLOCATOR_STATS=1 ALLOCATOR_STATS_FILE="$PWD/no/such/dir/%p.txt" stats_run out.txt err.txt /bin/true
    [ "$(cat err.txt)" = "liballocator: cannot open ALLOCATOR_STATS_FILE $PWD/no/such/dir/$stats_pid.txt (errno 2); no report" ]
}

@test "a report to stderr keeps one duplicate of it; a report to a file keeps none" {
    # ls lists its own descriptors (the one it opens for the directory too).
    ALLOCATOR_STATS=1 stats_run out.txt err.txt /bin/ls /proc/self/fd
    grep -qx 1000 out.txt
    grep -qx "liballocator statistics (pid $stats_pid)" err.txt
    # The leak report asks for the same duplicate: still one.
    ALLOCATOR_STATS=1 ALLOCATOR_PROF=1m ALLOCATOR_PROF_LEAKS=1 ALLOCATOR_PROF_FILE=/dev/null \
        stats_run out.txt err.txt /bin/ls /proc/self/fd
    [ "$(grep -c '^10[0-9][0-9]$' out.txt)" = 1 ]
    ALLOCATOR_STATS_FILE="$PWD/file.txt" stats_run out.txt err.txt /bin/ls /proc/self/fd
    ! grep -q '^1000$' out.txt
    grep -qx "liballocator statistics (pid $stats_pid)" file.txt
}
