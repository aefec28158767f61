#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/tests/test_purge.py: memret-trim gives memory back with each
allocator's own call.

w_memret trim (at a small scale) runs under glibc, liballocator and each
of jemalloc, tcmalloc and mimalloc that is installed; its "purge" line
must name that allocator's call (wl_purge in bench/workloads/wl.h found
it with dlsym), not glibc's malloc_trim, which under another allocator
trims glibc's unused heap and nothing else.  Where the call empties the
allocator's free memory (glibc, liballocator, jemalloc, mimalloc), RSS
must come back near the start.
Usage: test_purge.py BUILD_DIR.  Standard library only.
"""

import os
import subprocess
import sys

LIBDIR = "/usr/lib/x86_64-linux-gnu"
# (name, library or None, the purge line, whether RSS must come back)
CASES = [
    ("glibc", None, "malloc_trim(0)", True),
    ("liballocator", "liballocator.so", "malloc_trim(0)", True),
    ("jemalloc", LIBDIR + "/libjemalloc.so.2", "mallctl(arena.4096.purge)", True),
    # MallocExtension_ReleaseFreeMemory() empties the page heap only: the
    # thread and central caches keep their spans.
    ("tcmalloc", LIBDIR + "/libtcmalloc_minimal.so.4", "MallocExtension_ReleaseFreeMemory()", False),
    ("mimalloc", LIBDIR + "/libmimalloc.so.2", "mi_collect(true)", True),
]
SCALE = "0.05"  # 50 MiB of blocks
BACK_WITHIN_KIB = 8 * 1024


def fields(out):
    res = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        res[key] = value
    return res


def main(argv):
    build = os.path.abspath(argv[1] if len(argv) > 1 else "build")
    prog = os.path.join(build, "bench", "workloads", "w_memret")
    failures = ran = 0
    for name, lib, purge, back in CASES:
        if lib and not os.path.isabs(lib):
            lib = os.path.join(build, lib)
        if lib and not os.path.exists(lib):
            print("skip %s: %s is not installed" % (name, lib))
            continue
        env = {k: v for k, v in os.environ.items()
               if k != "LD_PRELOAD" and not k.startswith("ALLOCATOR_")}
        if lib:
            env["LD_PRELOAD"] = lib
        r = subprocess.run([prog, SCALE, "1", "trim"], env=env, capture_output=True, text=True,
                           timeout=120)
        ran += 1
        f = fields(r.stdout)
        problems = []
        if r.returncode != 0:
            problems.append("exit %d: %s" % (r.returncode, r.stderr.strip()[-500:]))
        if f.get("purge") != purge:
            problems.append("purge line %r, expected %r" % (f.get("purge"), purge))
        if back and r.returncode == 0:
            kept = int(f["rss_end_kib"]) - int(f["rss_start_kib"])
            if kept > BACK_WITHIN_KIB:
                problems.append("%d KiB still resident after the purge (of %s KiB at peak)"
                                % (kept, f["rss_peak_kib"]))
        for p in problems:
            print("FAIL %s: %s" % (name, p))
        if not problems:
            print("ok   %s: %s, RSS %s -> %s -> %s KiB" % (name, purge, f["rss_start_kib"],
                                                         f["rss_peak_kib"], f["rss_end_kib"]))
        failures += bool(problems)
    if ran < 2:
        print("test_purge: nothing ran")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
