#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/purge_count.py: how often an allocator gives the same pages back.

Runs one program under strace (every thread) with a library preloaded and
counts its madvise(MADV_DONTNEED) and munmap calls: calls, pages advised,
and pages advised again with no munmap of them in between.  A page advised
twice was either used again in between (the program's allocations reached
it: that is a second purge per reuse, as it should be) or given back twice
for nothing; in a phase where the program only frees (w_memret's), every
such page is the second kind.  Issue 14 asks that a span be purged at most
once per reuse.

    /usr/bin/python3 bench/purge_count.py                 # w_memret, decay 0
    /usr/bin/python3 bench/purge_count.py --decay-ms 1000 -- build/bench/workloads/w_fragment 0.3

The default is liballocator with ALLOCATOR_DECAY_MS=0 (every free that
leaves free pages purges them at once) on `w_memret 1 1 trim`.  Needs
strace (Debian package strace).  Standard library only.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

PAGE = os.sysconf("SC_PAGE_SIZE")
MADVISE = re.compile(r"madvise\((0x[0-9a-f]+), (\d+), MADV_DONTNEED")
MUNMAP = re.compile(r"munmap\((0x[0-9a-f]+), (\d+)\)")


def count(trace_lines):
    """(madvise calls, pages advised, pages advised again, munmap calls)."""
    advised = set()
    calls = pages = again = unmaps = 0
    for line in trace_lines:
        m = MADVISE.search(line)
        if m:
            first, n = int(m.group(1), 16) // PAGE, int(m.group(2)) // PAGE
            calls += 1
            pages += n
            for p in range(first, first + n):
                if p in advised:
                    again += 1
                else:
                    advised.add(p)
            continue
        m = MUNMAP.search(line)
        if m:
            first, n = int(m.group(1), 16) // PAGE, int(m.group(2)) // PAGE
            unmaps += 1
            advised.difference_update(range(first, first + n))
    return calls, pages, again, unmaps


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.join(os.path.dirname(here), "build")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", default=os.path.join(build, "liballocator.so"),
                    help="library to preload (default: build/liballocator.so; '' for none)")
    ap.add_argument("--decay-ms", default="0",
                    help="ALLOCATOR_DECAY_MS for the run ('' to leave it unset); default 0")
    ap.add_argument("command", nargs="*",
                    help="program and arguments (default: w_memret 1 1 trim)")
    args = ap.parse_args(argv)
    if shutil.which("strace") is None:
        print("purge_count.py: strace not found (Debian package strace)", file=sys.stderr)
        return 2
    command = args.command or [os.path.join(build, "bench", "workloads", "w_memret"),
                               "1", "1", "trim"]
    env = dict(os.environ)
    if args.lib:
        env["LD_PRELOAD"] = args.lib
    if args.decay_ms != "":
        env["ALLOCATOR_DECAY_MS"] = args.decay_ms
    with tempfile.NamedTemporaryFile(mode="r", suffix=".strace") as trace:
        # strace itself runs without the preload: only the program gets it.
        run = subprocess.run(["strace", "-f", "-o", trace.name, "-e", "trace=madvise,munmap",
                              "-E", "LD_PRELOAD=" + env.pop("LD_PRELOAD", "")] + command,
                             env=env, stdout=subprocess.DEVNULL)
        if run.returncode != 0:
            print("purge_count.py: %s exited with %d" % (command[0], run.returncode),
                  file=sys.stderr)
            return 1
        calls, pages, again, unmaps = count(trace)
    print("command: %s (LD_PRELOAD=%s, ALLOCATOR_DECAY_MS=%s)"
          % (" ".join(command), args.lib or "none", args.decay_ms or "unset"))
    print("madvise calls %d, pages advised %d, pages advised again %d (%.1f %%), munmap calls %d"
          % (calls, pages, again, 100.0 * again / pages if pages else 0.0, unmaps))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
