#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/soak.py: the bench workloads under liballocator's riskier settings.

Runs each workload program of build/bench/workloads once under glibc, then
under liballocator with each setting of a matrix (every purge taken, the
heap walked every 1000 operations, several heaps, checking mode, perturb,
huge pages), a few times, and reports every run that exits non-zero, times
out, or prints another checksum than glibc's.  Which slabs a purge gives
back depends on how long they sat idle, so a fault in those paths shows in
some runs and not others: this is how the header overwrite of a released
slab beside a 48-byte free block was found (w_pinned under
ALLOCATOR_DECAY_MS=0 aborted in about 1 run of 10), and
ALLOCATOR_CHECK_EVERY=1000 found it 37,000 operations after it happened.

    /usr/bin/python3 bench/soak.py                  # every workload and setting, 2 runs each (~5 min)
    /usr/bin/python3 bench/soak.py --reps 10 -w pinned,fragment
    /usr/bin/python3 bench/soak.py --quick          # 1 run, small scales (~1 min)

`make check` runs `--quick` once (ctest bench_soak, about 10 s, in the builds that have the
workloads); its value is in many runs.  Standard library only.
"""

import argparse
import os
import subprocess
import sys

from run import checksum_line  # bench/run.py's reading of a workload's checksum

# name, program, arguments (the scale first): programs whose checksum does
# not depend on the allocator, at scales that run in about a second.
WORKLOADS = (
    ("pinned", "w_pinned", ("1",)),
    ("fragment", "w_fragment", ("0.5",)),
    ("batch", "w_batch", ("0.3",)),
    ("shuffle", "w_shuffle", ("0.3",)),
    ("realloc", "w_realloc", ("0.5",)),
    ("rrgrow", "w_rrgrow", ("0.5",)),
    ("ruby", "w_ruby", ("0.3",)),
    ("bigbuf", "w_bigbuf", ("0.3", "1", "grow")),
    ("bufpool", "w_bufpool", ("0.1",)),
    ("churn", "w_churn", ("0.3", "4", "remote")),
    ("larson", "w_larson", ("0.3", "8")),
    ("pipeline", "w_pipeline", ("0.5",)),
    ("xmalloc", "w_xmalloc", ("0.2", "2")),
    ("lastfree", "w_lastfree", ("0.5", "1", "1")),
)

# The settings liballocator runs under, each a list of VAR=value.
SETTINGS = (
    ("ALLOCATOR_DECAY_MS=0", "ALLOCATOR_CHECK_EVERY=1000"),
    ("ALLOCATOR_DECAY_MS=0",),
    ("ALLOCATOR_DECAY_MS=1", "ALLOCATOR_HEAPS=3"),
    ("ALLOCATOR_CHECK=1",),
    ("ALLOCATOR_DECAY_MS=0", "MALLOC_PERTURB_=7"),
    ("ALLOCATOR_DECAY_MS=0", "ALLOCATOR_THP=1"),
    (),
)

TIMEOUT_S = 300


def run(argv, env):
    """(exit status or 'timeout', stdout, stderr) of one run."""
    try:
        p = subprocess.run(argv, env=env, capture_output=True, timeout=TIMEOUT_S)
        return p.returncode, p.stdout, p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        return "timeout", e.stdout or b"", (e.stderr or b"").decode(errors="replace")


def base_env():
    """The caller's environment without any preload or allocator option."""
    return {k: v for k, v in os.environ.items()
            if k != "LD_PRELOAD" and not k.startswith("ALLOCATOR_")
            and k not in ("MALLOC_PERTURB_", "MALLOC_MMAP_MAX_", "GLIBC_TUNABLES")}


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", default=os.path.join(here, "..", "build"))
    p.add_argument("--lib", help="library to preload (default: BUILD_DIR/liballocator.so)")
    p.add_argument("--reps", type=int, default=2, help="runs per workload and setting")
    p.add_argument("--quick", action="store_true", help="1 run each, a quarter of the scale")
    p.add_argument("-w", "--workloads", help="comma-separated names (default: all)")
    args = p.parse_args(argv)
    lib = os.path.abspath(args.lib or os.path.join(args.build_dir, "liballocator.so"))
    progs = os.path.join(os.path.abspath(args.build_dir), "bench", "workloads")
    if not os.path.isfile(lib):
        sys.exit("soak: no library at %s (run make)" % lib)
    chosen = args.workloads.split(",") if args.workloads else None
    workloads = [w for w in WORKLOADS if chosen is None or w[0] in chosen]
    if chosen is not None and len(workloads) != len(chosen):
        sys.exit("soak: unknown workload in %s (known: %s)"
                 % (args.workloads, ",".join(w[0] for w in WORKLOADS)))
    reps = 1 if args.quick else args.reps
    env0 = base_env()
    failures = runs = 0
    for name, prog, wargs in workloads:
        path = os.path.join(progs, prog)
        if not os.access(path, os.X_OK):
            sys.exit("soak: %s is not built (make all, with LA_BUILD_BENCH on)" % path)
        if args.quick:
            wargs = ("%g" % (float(wargs[0]) / 4),) + tuple(wargs[1:])
        cmd = [path] + list(wargs)
        status, out, err = run(cmd, env0)
        want = checksum_line(out)
        if status != 0 or want is None:
            sys.exit("soak: %s failed under glibc (status %s): %s" % (" ".join(cmd), status, err[-300:]))
        for setting in SETTINGS:
            env = dict(env0, LD_PRELOAD=lib, **dict(s.split("=", 1) for s in setting))
            for _ in range(reps):
                runs += 1
                status, out, err = run(cmd, env)
                got = checksum_line(out)
                if status != 0 or got != want:
                    failures += 1
                    print("FAIL %s: %s LD_PRELOAD=%s %s" % (
                        "status %s" % status if status != 0 else "checksum %s, glibc %s" % (got, want),
                        " ".join(setting), lib, " ".join(cmd)))
                    print("  " + "\n  ".join(err.strip().splitlines()[-6:]))
        print("%-9s %d runs, %d failed so far" % (name, runs, failures), flush=True)
    print("soak: %d runs, %d failed" % (runs, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
