#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: the statistics report as a person (or a script) reads it: it names
# the program and the pid, in the text and in the JSON.  See helper.bash.

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
         "mmap_bytes", "large_cache_bytes", "released_bytes"}
units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
seen = set()
for line in open(sys.argv[1]).read().splitlines()[2:]:
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
