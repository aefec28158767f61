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
