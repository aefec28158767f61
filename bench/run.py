#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/run.py: compare malloc implementations side by side.

Two modes:
  time          every workload once per allocator per repetition, through
                LD_PRELOAD, allocators interleaved round-robin within each
                repetition; wall time (median) and peak RSS (/usr/bin/time).
  instructions  instructions per malloc+free pair under callgrind, with the
                loop overhead and the start-up cost subtracted.

Results go to bench/results/<timestamp>/ (report.txt, runs.csv,
summary.csv, instructions.csv, summary.json).  Standard library only; run
it with /usr/bin/python3.  See bench/README.md for what each workload
measures and how to read the tables.
"""

import argparse
import csv
import datetime
import fnmatch
import hashlib
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

SCHEMA_VERSION = 3  # 2: workload groups, geomeans per group, figures
                    # 3: memret-decay-long, the purge each allocator ran, decay defaults
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
TIME_BIN = "/usr/bin/time"
ENV_BIN = "/usr/bin/env"
LIBDIR = "/usr/lib/x86_64-linux-gnu"

# (name, library or None for no preload).  Missing ones are skipped with a
# note; "glibc" is always there.
SYSTEM_ALLOCATORS = [
    ("jemalloc", LIBDIR + "/libjemalloc.so.2"),
    ("tcmalloc", LIBDIR + "/libtcmalloc_minimal.so.4"),
    ("mimalloc", LIBDIR + "/libmimalloc.so.2"),
]
REFERENCES = ("glibc", "mimalloc")  # every ratio is against these two

# Libraries whose presence in `ldd prog` means "no preload" is not glibc.
FOREIGN_MALLOCS = ("libjemalloc", "libtcmalloc", "libmimalloc")

REDIS_TESTS = "set,get,lpush,lpop"
REDIS_DATA_BYTES = 256
REDIS_PIPELINE = 16  # pipelining makes the server's work, not loopback I/O, dominate

# w_memret's readings, in KiB: at start, after allocating 1 GiB, after
# freeing it all, and after the allocator's own purge (wl_purge in
# bench/workloads/wl.h: malloc_trim(0), jemalloc's arena.<all>.purge,
# mi_collect(true) or MallocExtension_ReleaseFreeMemory(), found with
# dlsym) or the decay wait plus a few calls.
MEMRET_FIGURES = ("rss_start_kib", "rss_peak_kib", "rss_freed_kib", "rss_end_kib")
# A w_memret run takes 4-5 s (1 GiB of page faults), so by default it runs
# in the first repetition only (--memret-reps).  The trim readings repeat
# to within a few hundred KiB; the decay ones depend on when the
# allocator looks at its clock, so the table also shows the worst run.
def memret_reps(args):
    return args.memret_reps
# The memret targets of the memory issue, for liballocator, in MiB above
# the starting RSS: after malloc_trim(0), and after the decay wait.
MEMRET_TARGET_MIB = {"memret-trim": 4, "memret-decay": 16, "memret-decay-long": 16}
# memret-decay waits 1.5 s, just past liballocator's own decay (1000 ms);
# memret-decay-long waits past the longest default of the others
# (jemalloc's dirty_decay_ms, 10 s), so that no allocator is measured
# before its own clock could have run out.
DECAY_WAIT_MS = 1500
DECAY_LONG_WAIT_MS = 11000
LARGEFREE_KS = (("1k", 1000), ("10k", 10000), ("100k", 100000))
# Building 100,000 free blocks takes about 2 s of page faults a run, and the
# figure is timed inside the program over 200,000 requests: three runs give
# a steady median and keep the memory group near 4 minutes.
LARGEFREE_REPS = 3
# w_lastfree's rows: millions of 100-byte blocks (1M is 120 MB of them, 4M
# 470 MB).  A last free that walks the emptied pages' neighbours grows
# with K (liballocator's did: 3.0 us at 1M, 12.5 us at 4M); the figure is
# timed inside the program, so three runs give a steady median.
LASTFREE_MILLIONS = (("1m", 1), ("4m", 4))
LASTFREE_REPS = 3
# Issue 13's table: resident bytes per live block for these request sizes,
# liballocator's to be no more than the best of the others (w_perblock).
PERBLOCK_BYTES = (8, 16, 24, 100, 1000)
OURS = "liballocator"  # the allocator the "ours / best" lines are about

INS_SIZES = "16,32,48,64,100,128,256,512,1024"  # documentation; ins_loop.c holds them
# ins_loop's probes: malloc, operator new, aligned_alloc(64), malloc of
# 1..8 bytes, and the no-op loops subtracted from them.
INS_IMPLS = ("libc", "new", "aligned", "tiny", "noop", "noop_aligned", "noop_tiny")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- workloads ---------------------------------------------------------------


class Workload:
    """One row of the time tables.

    kind: "synthetic" (a bench/workloads program) or one of the real
    programs.  baseline: a 1-thread run that exists for the scaling ratio
    and stays out of the geometric means.  scaling_of: the 1-thread
    baseline this row is compared with.  group: "speed" or "memory"; each
    group has its own geometric means, and --group runs one alone.
    extra_args: more arguments after the mode, formatted with the
    command-line options (e.g. "{decay_wait_ms}").  figures: "key value"
    lines the program prints, kept per run and as medians (RSS readings,
    ns per request).  in_means: False for rows whose wall time and peak
    RSS are not the figure (their own table shows what is).  max_reps:
    run in the first repetitions only (a number, or a function of the
    command-line options).
    """

    def __init__(self, name, desc, kind, prog=None, threads=None, mode=None,
                 baseline=False, scaling_of=None, group="speed", extra_args=(),
                 figures=(), in_means=True, max_reps=None):
        self.name, self.desc, self.kind = name, desc, kind
        self.prog, self.threads, self.mode = prog, threads, mode
        self.baseline, self.scaling_of = baseline, scaling_of
        self.group, self.extra_args, self.figures = group, extra_args, figures
        self.in_means = in_means and not baseline
        self.max_reps = max_reps
        self.nthreads = threads or (2 if prog == "w_pipeline" else 1)  # for the results files
        self.skip_reason = None


WORKLOADS = [
    Workload("pairs", "1 thread: malloc+free pairs, size cycling over 16..1024 B",
             "synthetic", "w_pairs"),
    Workload("batch", "1 thread: 1M blocks of 16..256 B allocated, then all freed (FIFO, then LIFO)",
             "synthetic", "w_batch"),
    Workload("tiny", "1 thread: blocks of 1..8 B, malloc+free pairs, then rounds of 100k allocated and freed",
             "synthetic", "w_tiny"),
    Workload("fragment", "1 thread: random replace in a slot array, mixed lifetimes, sizes to 64 KiB",
             "synthetic", "w_fragment"),
    Workload("realloc", "1 thread: 2000 strings growing in small interleaved steps, one array doubling",
             "synthetic", "w_realloc"),
    Workload("churn-remote-1t", "churn, 1 thread (scaling baseline of churn-remote-2t)",
             "synthetic", "w_churn", 1, "remote", baseline=True),
    Workload("churn-remote-2t", "2 threads allocate batches that the next thread frees",
             "synthetic", "w_churn", 2, "remote", scaling_of="churn-remote-1t"),
    Workload("churn-remote-4t", "4 threads allocate batches that the next thread frees",
             "synthetic", "w_churn", 4, "remote"),
    Workload("churn-local-1t", "churn, 1 thread (scaling baseline of churn-local-2t)",
             "synthetic", "w_churn", 1, "local", baseline=True),
    Workload("churn-local-2t", "2 threads, same churn, each frees its own batches",
             "synthetic", "w_churn", 2, "local", scaling_of="churn-local-1t"),
    Workload("pipeline", "1 producer allocates messages, 1 consumer frees them (batched queue)",
             "synthetic", "w_pipeline"),
    Workload("rrgrow", "1 thread: 500 strings grown round-robin by 1..64 B to 64 KiB with realloc",
             "synthetic", "w_rrgrow"),
    Workload("shuffle", "1 thread: 200k blocks of 16..256 B allocated, then freed in shuffled order",
             "synthetic", "w_shuffle"),
    Workload("larson-1t", "larson, 1 thread (scaling baseline of larson-2t)",
             "synthetic", "w_larson", 1, baseline=True),
    Workload("larson-2t", "2 threads swap random 8..1000 B blocks into shared slots, freeing "
             "what they take out (random remote frees)",
             "synthetic", "w_larson", 2, scaling_of="larson-1t"),
    Workload("larson-8t", "larson with 8 threads on the same work",
             "synthetic", "w_larson", 8),
    Workload("larson-32t", "larson with 32 threads on the same work",
             "synthetic", "w_larson", 32),
    Workload("medium-1t", "medium churn, 1 thread (scaling baseline of medium-2t)",
             "synthetic", "w_medium", 1, baseline=True),
    Workload("medium-2t", "2 threads each keep 64 blocks of 2..64 KiB, replacing a random one "
             "per step", "synthetic", "w_medium", 2, scaling_of="medium-1t"),
    Workload("medium-8t", "medium churn with 8 threads on the same work",
             "synthetic", "w_medium", 8),
    Workload("xmalloc", "1 producer allocates 16..512 B blocks, 1 consumer frees them, one at a time "
             "through a lock-free ring",
             "synthetic", "w_xmalloc", 2),
    Workload("ruby", "1 thread: random object churn, malloc_usable_size before every free and realloc",
             "synthetic", "w_ruby"),
    Workload("falseshare-active-1t", "false sharing, 1 thread (scaling baseline)",
             "synthetic", "w_falseshare", 1, "active", baseline=True),
    Workload("falseshare-active-2t", "2 threads write their own 8-16 B blocks in a loop",
             "synthetic", "w_falseshare", 2, "active", scaling_of="falseshare-active-1t"),
    Workload("falseshare-passive-1t", "false sharing, passive, 1 thread (scaling baseline)",
             "synthetic", "w_falseshare", 1, "passive", baseline=True),
    Workload("falseshare-passive-2t", "as active, after freeing neighbour blocks the main thread gave them",
             "synthetic", "w_falseshare", 2, "passive", scaling_of="falseshare-passive-1t"),
    Workload("python", "/usr/bin/python3: dicts, lists, strings (bench/workloads/py_alloc.py)",
             "python"),
    Workload("sqlite", "sqlite3 :memory:: 200k INSERTs, an index, GROUP BY, UPDATE, DELETE",
             "sqlite"),
    Workload("sort", "LC_ALL=C sort -S 1G --parallel=1 of 2M generated lines",
             "sort"),
    Workload("redis", "redis-server under the allocator; redis-benchmark -P %d %s, -d %d"
             % (REDIS_PIPELINE, REDIS_TESTS.upper(), REDIS_DATA_BYTES),
             "redis"),
    # The memory group: does memory go back, how much does fragmentation
    # cost, and are big blocks and many free blocks handled well.
    Workload("memret-trim", "1 GiB of mixed blocks (16 B..384 KiB) touched, all freed, then the "
             "allocator's own purge (malloc_trim(0), jemalloc arena.<all>.purge, "
             "mi_collect(true), MallocExtension_ReleaseFreeMemory()): RSS at each step",
             "synthetic", "w_memret", 1, "trim", group="memory", figures=MEMRET_FIGURES,
             in_means=False, max_reps=memret_reps),
    Workload("memret-decay", "the same, but no purge: wait (--decay-wait-ms, 1.5 s), then 48 "
             "malloc+free pairs of 24 B..100 KiB: RSS at each step",
             "synthetic", "w_memret", 1, "decay", group="memory", extra_args=("{decay_wait_ms}",),
             figures=MEMRET_FIGURES + ("rss_waited_kib",), in_means=False, max_reps=memret_reps),
    Workload("memret-decay-long", "as memret-decay, waiting --decay-long-wait-ms (11 s: past "
             "jemalloc's 10 s dirty_decay_ms, the longest default here)",
             "synthetic", "w_memret", 1, "decay", group="memory",
             extra_args=("{decay_long_wait_ms}",), figures=MEMRET_FIGURES + ("rss_waited_kib",),
             in_means=False, max_reps=memret_reps),
    Workload("pinned", "1 thread: phases of mixed sizes; 1 block in 8 pinned for 6 phases between "
             "freed ones, sizes change per phase (peak RSS is the figure)",
             "synthetic", "w_pinned", group="memory"),
    Workload("realloc-grow", "1 thread: one buffer realloc'ed from 1 B to 256 MiB by doubling, "
             "one write per new page; twice",
             "synthetic", "w_bigbuf", 1, "grow", group="memory"),
    Workload("malloc-1mib", "1 thread: malloc 1 MiB, write a byte per page, read back, free; "
             "50k times",
             "synthetic", "w_bigbuf", 1, "loop", group="memory"),
    Workload("aligned-1mib", "1 thread: the same with posix_memalign(4096, 1 MiB) (page-aligned "
             "I/O buffers); 10k times",
             "synthetic", "w_bigbuf", 1, "aligned", group="memory"),
    Workload("turns-64k", "1 thread: two buffers grown by doubling to 64 KiB in turn, then freed; "
             "20k times",
             "synthetic", "w_bigbuf", 1, "turns", group="memory"),
    Workload("bufpool", "1 thread: ~20 live buffers of 5-25 MB freed and allocated again in random "
             "order, each zero-filled; 1000 times",
             "synthetic", "w_bufpool", group="memory"),
] + [
    Workload("return-%s" % mode, "192 MiB freed %s, then 2.5 s of work without allocator calls: "
             "RSS before and after the wait" % how,
             "synthetic", "w_return", 1, mode, group="memory", extra_args=("2500", "busy"),
             figures=("rss_before_wait_kib", "rss_after_wait_kib"), in_means=False, max_reps=1)
    for mode, how in (("exit", "by a thread that then exits"),
                      ("remote", "by a thread other than the one (now gone) that allocated it"),
                      ("idle", "by the main thread"))
] + [
    Workload("largefree-%s" % label, "batches of 256 malloc+free of 8200..16949 B among %s free blocks "
             "of 8200..18199 B kept apart by small live blocks" % label,
             "synthetic", "w_largefree", 1, str(k), group="memory", figures=("request_ns",),
             in_means=False, max_reps=LARGEFREE_REPS)
    for label, k in LARGEFREE_KS
] + [
    Workload("lastfree-%s" % label, "%s blocks of 100 B, all but the first in each 64 KiB freed; "
             "then those, each the last live block around it (ns per free)" % label,
             "synthetic", "w_lastfree", 1, str(millions), group="memory",
             figures=("last_free_ns",), in_means=False, max_reps=LASTFREE_REPS)
    for label, millions in LASTFREE_MILLIONS
] + [
    Workload("perblock-%d" % n, "%d B blocks, 32 MiB of them (at most 4M) live, one byte written "
             "into each: resident bytes per block, (RSS after - RSS before) / count" % n,
             "synthetic", "w_perblock", 1, str(n), group="memory",
             figures=("bytes_per_block", "usable_bytes"), in_means=False)
    for n in PERBLOCK_BYTES
]
GROUPS = ("speed", "memory")


# ---- environment ---------------------------------------------------------------


def read_first(path, pattern):
    try:
        with open(path) as f:
            for line in f:
                m = re.match(pattern, line)
                if m:
                    return m.group(1).strip()
    except OSError:
        pass
    return None


def capture(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def package_version(path):
    """Debian package and version owning path, for the results file."""
    if not shutil.which("dpkg-query"):
        return None
    for p in (path, os.path.realpath(path)):
        owner = capture(["dpkg-query", "-S", p]).split(":")
        if len(owner) >= 2 and owner[0]:
            pkg = owner[0] + (":" + owner[1] if owner[1] in ("amd64", "i386", "arm64") else "")
            ver = capture(["dpkg-query", "-W", "-f", "${Version}", pkg])
            return "%s %s" % (owner[0], ver)
    return None


def machine_description():
    uname = platform.uname()
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = " ".join(platform.libc_ver())
    return {
        "hostname": uname.node,
        "nproc": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "cpu_model": read_first("/proc/cpuinfo", r"model name\s*:\s*(.*)"),
        "mem_total": read_first("/proc/meminfo", r"MemTotal:\s*(.*)"),
        "kernel": "%s %s %s" % (uname.system, uname.release, uname.version),
        "glibc": glibc,
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
    }


def liballocator_revision():
    rev = capture(["git", "-C", REPO_DIR, "describe", "--always", "--dirty"])
    return rev or None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- one measured run --------------------------------------------------------------


class Run:
    """The outcome of one process run under one allocator."""

    def __init__(self):
        self.wall_s = self.user_s = self.sys_s = None
        self.inner_s = None  # the parallel phase, as timed by the program itself
        self.rss_kib = None
        self.status = "ok"  # ok | crash | exit N | timeout | checksum | error
        self.checksum = None
        self.detail = ""
        self.extra = {}
        self.figures = {}  # the Workload.figures the program printed


def preload_argv(lib, argv):
    # /usr/bin/time measures /usr/bin/env, which execs the program in the same
    # process: time itself never runs on the allocator under test.
    env_args = [ENV_BIN]
    if lib:
        env_args.append("LD_PRELOAD=" + lib)
    return env_args + list(argv)


def repro_command(lib, argv, extra_env=None, stdin_path=None, cwd=None):
    parts = []
    if cwd:
        parts.append("cd %s &&" % shlex.quote(cwd))
    for k, v in sorted((extra_env or {}).items()):
        parts.append("%s=%s" % (k, shlex.quote(v)))
    if lib:
        parts.append("LD_PRELOAD=" + shlex.quote(lib))
    parts.append(shlex.join(argv))
    if stdin_path:
        parts.append("< " + shlex.quote(stdin_path))
    return " ".join(parts)


def parse_time_file(path, run):
    """Reads '%e %M %U %S' from /usr/bin/time -o; notes a signal or exit code."""
    try:
        with open(path) as f:
            lines = [l.strip() for l in f if l.strip()]
    except OSError:
        lines = []
    for line in lines:
        m = re.match(r"Command terminated by signal (\d+)", line)
        if m:
            run.status = "crash"
            run.detail = "signal %s (%s)" % (m.group(1), signal.Signals(int(m.group(1))).name
                                             if int(m.group(1)) in signal.valid_signals() else "?")
        m = re.match(r"Command exited with non-zero status (\d+)", line)
        if m and run.status == "ok":
            run.status = "exit " + m.group(1)
    if lines:
        f = lines[-1].split()
        if len(f) == 4:
            try:
                run.rss_kib = int(f[1])
                run.user_s, run.sys_s = float(f[2]), float(f[3])
            except ValueError:
                pass


def start_measured(lib, argv, env, tmpdir, stdin=None, stdout=subprocess.PIPE, cwd=None):
    tfile = tempfile.NamedTemporaryFile(dir=tmpdir, prefix="time-", delete=False)
    tfile.close()
    cmd = [TIME_BIN, "-f", "%e %M %U %S", "-o", tfile.name] + preload_argv(lib, argv)
    proc = subprocess.Popen(cmd, env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.PIPE, cwd=cwd,
                            start_new_session=True)
    return proc, tfile.name


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run_measured(lib, argv, env, tmpdir, timeout_s, stdin_path=None, cwd=None):
    """Runs argv once under lib; returns a Run with wall time, RSS, stdout."""
    run = Run()
    stdin = open(stdin_path, "rb") if stdin_path else None
    try:
        t0 = time.perf_counter()
        proc, tname = start_measured(lib, argv, env, tmpdir, stdin=stdin, cwd=cwd)
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            run.status = "timeout"
            run.detail = "killed after %.0f s" % timeout_s
            return run, b""
        run.wall_s = time.perf_counter() - t0
    finally:
        if stdin:
            stdin.close()
    parse_time_file(tname, run)
    os.unlink(tname)
    if proc.returncode != 0 and run.status == "ok":
        run.status = "exit %d" % proc.returncode
    if run.status != "ok" and not run.detail:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        run.detail = " | ".join(tail)
    return run, out


def parallelism_probe(suite):
    """Two independent glibc processes against one: 2.0 means two idle cores.

    Other tenants of a shared machine eat into the scaling ratios; this
    number says how much parallelism the machine offered at that moment.
    """
    argv = [suite.wl_path("w_pairs"), "1"]
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, env=suite.env, check=True)
    t1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=suite.env) for _ in range(2)]
    for p in procs:
        p.wait()
    t2 = time.perf_counter() - t0
    return 2.0 * t1 / t2


def decay_defaults(allocs, env):
    """How each allocator gives free memory back by itself, with the defaults
    the installed library reports (its own verbose or stats output), or as
    documented where it prints none.  {allocator: one line}."""
    def ask(lib, extra):
        e = dict(env)
        e.update(extra)
        try:
            r = subprocess.run(preload_argv(lib, ["/bin/true"]), env=e, capture_output=True,
                               timeout=30)
            return (r.stdout + r.stderr).decode(errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            return ""

    def find(text, pattern, default="?"):
        m = re.search(pattern, text)
        return m.group(1) if m else default

    res = {}
    for name, lib in allocs:
        if name == "glibc":
            res[name] = ("no clock: free() trims the top of the heap beyond M_TRIM_THRESHOLD "
                         "(128 KiB, raised by large frees); free memory below the top stays "
                         "until malloc_trim()")
        elif name == "liballocator":
            t = ask(lib, {"ALLOCATOR_VERBOSE": "1"})
            res[name] = ("free memory idle %s ms goes back (ALLOCATOR_DECAY_MS), checked on "
                         "allocator calls%s" % (
                             find(t, r"ALLOCATOR_DECAY_MS=(\d+)"),
                             " and by a background thread once the heaps span 16 MiB "
                             "(ALLOCATOR_BACKGROUND=1)"
                             if find(t, r"ALLOCATOR_BACKGROUND=(\d)") == "1" else ""))
        elif name == "jemalloc":
            conf = ",".join(x for x in (env.get("MALLOC_CONF"), "stats_print:true") if x)
            t = ask(lib, {"MALLOC_CONF": conf})
            bg = find(t, r"opt\.background_thread: (\w+)")
            res[name] = ("dirty pages idle %s ms are purged (opt.dirty_decay_ms), muzzy ones after "
                         "%s ms (opt.muzzy_decay_ms), %s" % (
                             find(t, r"opt\.dirty_decay_ms: (-?\d+)"),
                             find(t, r"opt\.muzzy_decay_ms: (-?\d+)"),
                             "by a background thread" if bg == "true" else
                             "checked on allocator calls (opt.background_thread: %s)" % bg))
        elif name == "mimalloc":
            t = ask(lib, {"MIMALLOC_VERBOSE": "1"})
            if "'purge_delay'" in t:  # mimalloc 2.1 and later
                res[name] = ("free pages purged after %s ms (purge_delay), checked on allocator "
                             "calls" % find(t, r"option 'purge_delay': (-?\d+)"))
            else:
                res[name] = ("free pages decommitted after %s ms (decommit_delay), free segments "
                             "after %s ms (segment_decommit_delay), checked on allocator calls"
                             % (find(t, r"option 'decommit_delay': (-?\d+)"),
                                find(t, r"option 'segment_decommit_delay': (-?\d+)")))
        elif name == "tcmalloc":
            res[name] = ("no clock: free spans go back gradually as more memory is freed "
                         "(TCMALLOC_RELEASE_RATE %s); thread and central caches stay"
                         % env.get("TCMALLOC_RELEASE_RATE", "1.0, the default"))
    return res


def output_field(out, key):
    """The value of the last "key value" line a workload printed."""
    for line in reversed(out.decode(errors="replace").splitlines()):
        if line.startswith(key + " "):
            return line.split()[1]
    return None


def checksum_line(out):
    return output_field(out, "checksum")


# ---- the workload runners ----------------------------------------------------------


class Suite:
    def __init__(self, args):
        self.args = args
        self.wl_dir = os.path.join(args.build_dir, "bench", "workloads")
        self.tmpdir = None
        self.env = dict(os.environ)
        # The baseline must be the system malloc: drop an inherited preload.
        if self.env.pop("LD_PRELOAD", None):
            log("note: LD_PRELOAD from the environment is ignored")
        self.env["LC_ALL"] = "C"
        self.env["PYTHONHASHSEED"] = "0"
        self.shim = os.path.join(self.wl_dir, "libglibc_shim.so")
        self.glibc_lib = {}  # program -> library that stands for "glibc"
        self.glibc_notes = {}  # workload -> why its glibc column is preloaded
        self.data = {}
        self.repro = {}

    def wl_path(self, prog):
        return os.path.join(self.wl_dir, prog)

    def lib_for(self, w, alloc, prog):
        """The library to preload; "glibc" is none, unless prog links another malloc."""
        name, lib = alloc
        if name != "glibc":
            return lib
        if prog not in self.glibc_lib:
            deps = capture(["ldd", prog])
            foreign = [m for m in FOREIGN_MALLOCS if m in deps]
            self.glibc_lib[prog] = (self.shim, foreign) if foreign else (None, [])
        shim, foreign = self.glibc_lib[prog]
        if shim:
            self.glibc_notes[w.name] = (
                "%s links %s: its glibc column preloads %s (malloc -> __libc_malloc)"
                % (prog, "/".join(foreign), os.path.relpath(shim, REPO_DIR)))
        return shim

    # Data for the real programs, generated once per suite run, seeded.
    def prepare(self, workloads):
        kinds = {w.kind for w in workloads}
        scale = self.args.scale
        rng = random.Random(20261124)
        if "sqlite" in kinds:
            rows = max(1000, int(200000 * scale))
            path = os.path.join(self.tmpdir, "bench.sql")
            words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
                     "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
            with open(path, "w") as f:
                f.write("CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT,"
                        " val REAL, payload TEXT);\nBEGIN;\n")
                for i in range(rows):
                    name = rng.choice(words) + str(rng.randrange(10000))
                    payload = " ".join(rng.choice(words) for _ in range(rng.randrange(2, 30)))
                    f.write("INSERT INTO t VALUES(%d,%d,'%s',%.3f,'%s');\n"
                            % (i, rng.randrange(1000), name, rng.random() * 1000, payload))
                f.write("COMMIT;\n"
                        "CREATE INDEX t_grp ON t(grp, name);\n"
                        "SELECT grp, count(*), round(sum(val), 3), max(length(payload))"
                        " FROM t GROUP BY grp ORDER BY grp;\n"
                        "SELECT substr(name, 1, 1) AS c, count(*) FROM t GROUP BY c ORDER BY c;\n"
                        "UPDATE t SET payload = payload || ' ' || name WHERE id % 3 = 0;\n"
                        "DELETE FROM t WHERE id % 5 = 0;\n"
                        "SELECT count(*), sum(length(payload)) FROM t;\n")
            self.data["sqlite"] = path
        if "sort" in kinds:
            lines = max(1000, int(2000000 * scale))
            path = os.path.join(self.tmpdir, "sort.in")
            letters = "abcdefghijklmnopqrstuvwxyz"
            with open(path, "w") as f:
                chunk = []
                for i in range(lines):
                    word = "".join(rng.choice(letters) for _ in range(rng.randrange(3, 12)))
                    chunk.append("%s %d %08x\n" % (word, rng.randrange(1 << 30), i))
                    if len(chunk) == 10000:
                        f.write("".join(chunk))
                        chunk = []
                f.write("".join(chunk))
            self.data["sort"] = path

    def run_workload(self, w, alloc):
        a = self.args
        t = a.timeout
        if w.kind == "synthetic":
            argv = [self.wl_path(w.prog), "%g" % a.scale]
            if w.threads:
                argv.append(str(w.threads))
            if w.mode:
                argv.append(w.mode)
            argv += [x.format(**vars(a)) for x in w.extra_args]
            lib = self.lib_for(w, alloc, argv[0])
            self.repro[(w.name, alloc[0])] = repro_command(lib, argv)
            run, out = run_measured(lib, argv, self.env, self.tmpdir, t)
            run.checksum = checksum_line(out)
            inner = output_field(out, "elapsed_s")
            run.inner_s = float(inner) if inner else None
            for key in w.figures:
                v = output_field(out, key)
                if v is not None:
                    run.figures[key] = float(v)
            purge = output_field(out, "purge")
            if purge:
                run.extra["purge"] = purge
            if run.status == "ok" and run.checksum is None:
                run.status, run.detail = "error", "no checksum line"
            elif run.status == "ok" and len(run.figures) < len(w.figures):
                missing = [k for k in w.figures if k not in run.figures]
                run.status, run.detail = "error", "no %s line" % ", ".join(missing)
            return run
        if w.kind == "python":
            argv = ["/usr/bin/python3", "-s", "-S", os.path.join(BENCH_DIR, "workloads", "py_alloc.py"),
                    "%g" % a.scale]
            lib = self.lib_for(w, alloc, argv[0])
            self.repro[(w.name, alloc[0])] = repro_command(lib, argv, {"PYTHONHASHSEED": "0"})
            run, out = run_measured(lib, argv, self.env, self.tmpdir, t)
            run.checksum = checksum_line(out)
            if run.status == "ok" and run.checksum is None:
                run.status, run.detail = "error", "no checksum line"
            return run
        if w.kind == "sqlite":
            argv = ["/usr/bin/sqlite3", ":memory:"]
            lib = self.lib_for(w, alloc, argv[0])
            self.repro[(w.name, alloc[0])] = repro_command(lib, argv, stdin_path=self.data["sqlite"])
            run, out = run_measured(lib, argv, self.env, self.tmpdir, t, stdin_path=self.data["sqlite"])
            run.checksum = hashlib.sha1(out).hexdigest()[:16]
            return run
        if w.kind == "sort":
            outp = os.path.join(self.tmpdir, "sort.out")
            argv = ["/usr/bin/sort", "-S", "1G", "--parallel=1", "-o", outp, self.data["sort"]]
            lib = self.lib_for(w, alloc, argv[0])
            self.repro[(w.name, alloc[0])] = repro_command(lib, argv, {"LC_ALL": "C"})
            run, _ = run_measured(lib, argv, self.env, self.tmpdir, t)
            if run.status == "ok":
                h = hashlib.sha1()
                with open(outp, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                run.checksum = h.hexdigest()[:16]
            if os.path.exists(outp):
                os.unlink(outp)
            return run
        if w.kind == "redis":
            return self.run_redis(w, alloc)
        raise ValueError(w.kind)

    def run_redis(self, w, alloc):
        """Only the server runs on the allocator; the time is the client's."""
        a = self.args
        port = free_port()
        server = ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--daemonize", "no",
                  "--dir", self.tmpdir, "--logfile", ""]
        requests = max(1000, int(100000 * a.scale))
        client = ["/usr/bin/redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q", "--csv",
                  "-t", REDIS_TESTS, "-n", str(requests), "-r", "100000",
                  "-d", str(REDIS_DATA_BYTES), "-P", str(REDIS_PIPELINE)]
        lib = self.lib_for(w, alloc, server[0])
        self.repro[(w.name, alloc[0])] = "%s &  %s" % (repro_command(lib, server), shlex.join(client))
        run = Run()
        log_path = os.path.join(self.tmpdir, "redis.log")
        with open(log_path, "wb") as logf:
            proc, tname = start_measured(lib, server, self.env, self.tmpdir, stdout=logf)
        try:
            if not redis_wait_ready(port, proc, 10.0):
                run.status = "crash" if proc.poll() is not None else "error"
                run.detail = "server did not answer PING"
                return run
            t0 = time.perf_counter()
            try:
                res = subprocess.run(client, capture_output=True, timeout=a.timeout, env=self.env)
            except subprocess.TimeoutExpired:
                run.status, run.detail = "timeout", "redis-benchmark killed after %.0f s" % a.timeout
                return run
            run.wall_s = time.perf_counter() - t0
            rps = {}
            for line in res.stdout.decode(errors="replace").splitlines():
                f = [x.strip('"') for x in line.split(",")]
                if len(f) >= 2 and f[0] != "test":
                    try:
                        rps[f[0]] = float(f[1])
                    except ValueError:
                        pass
            run.extra["rps"] = rps
            want = {x.upper() for x in REDIS_TESTS.split(",")}
            if res.returncode != 0 or not want <= set(rps):
                run.status = "error"
                run.detail = "redis-benchmark rc %d, got %s" % (res.returncode, sorted(rps))
            # A fixed "checksum": success is the whole check for redis.
            run.checksum = "tests:" + ",".join(sorted(want & set(rps)))
            redis_command(port, [b"SHUTDOWN", b"NOSAVE"])
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                run.status, run.detail = "error", "server did not shut down"
        finally:
            if proc.poll() is None:
                kill_group(proc)
            err = b""
            if proc.stderr:
                err = proc.stderr.read()
                proc.stderr.close()
            parse_time_file(tname, run)
            os.unlink(tname)
            if proc.returncode not in (0, None) and run.status == "ok":
                run.status = "exit %d" % proc.returncode
            if run.status != "ok" and not run.detail:
                run.detail = err.decode(errors="replace").strip()[-200:]
        return run


def redis_command(port, words, timeout=2.0):
    msg = b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in words)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(msg)
            return s.recv(64)
    except OSError:
        return b""


def redis_wait_ready(port, proc, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if redis_command(port, [b"PING"], 0.5).startswith(b"+PONG"):
            return True
        time.sleep(0.02)
    return False


# ---- statistics and tables -----------------------------------------------------


def ratio(x, ref):
    return x / ref if x is not None and ref else None


def fmt(x, spec, width):
    return ("%" + spec) % x if x is not None else "-".rjust(width)


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


class Report:
    """Collects printed lines so that report.txt is exactly what was shown."""

    def __init__(self):
        self.lines = []

    def __call__(self, line=""):
        print(line, flush=True)
        self.lines.append(line)


def summarise(workloads, allocs, runs):
    """Median time and RSS per (workload, allocator) over the good runs."""
    cells = {}
    for w in workloads:
        for name, _ in allocs:
            rs = runs.get((w.name, name), [])
            good = [r for r in rs if r.status == "ok"]
            bad = [r for r in rs if r.status != "ok"]
            c = {"reps": len(good), "status": bad[0].status if bad else ("ok" if good else "not run"),
                 "detail": bad[0].detail if bad else ""}
            if good and not bad:
                ts = [r.wall_s for r in good]
                c["time_s"] = statistics.median(ts)
                c["time_min_s"], c["time_max_s"] = min(ts), max(ts)
                rss = [r.rss_kib for r in good if r.rss_kib is not None]
                c["rss_kib"] = statistics.median(rss) if rss else None
                cpu = [r.user_s + r.sys_s for r in good if r.user_s is not None]
                c["cpu_s"] = statistics.median(cpu) if cpu else None
                inner = [r.inner_s for r in good if r.inner_s is not None]
                if inner:
                    c["inner_s"] = statistics.median(inner)
                rps = [r.extra["rps"] for r in good if "rps" in r.extra]
                if rps:
                    c["rps"] = {k: statistics.median(d[k] for d in rps) for k in rps[0]}
                purges = sorted({r.extra["purge"] for r in good if "purge" in r.extra})
                if purges:
                    c["purge"] = ", ".join(purges)
                if w.figures:
                    c["figures"] = {k: statistics.median(r.figures[k] for r in good)
                                    for k in w.figures}
                    c["figures_per_run"] = [r.figures for r in good]
            cells[(w.name, name)] = c
    for w in workloads:
        for name, _ in allocs:
            c = cells[(w.name, name)]
            for ref in REFERENCES:
                rc = cells.get((w.name, ref), {})
                c["time_vs_" + ref] = ratio(c.get("time_s"), rc.get("time_s"))
                c["rss_vs_" + ref] = ratio(c.get("rss_kib"), rc.get("rss_kib"))
    return cells


def print_time_tables(out, workloads, allocs, cells, glibc_notes):
    names = [n for n, _ in allocs]
    width = max(12, max(len(n) for n in names))
    head = ("%-*s %9s %6s %8s %8s %7s %10s %8s %8s  %s"
            % (width, "allocator", "time s", "+-%", "/glibc", "/mimal", "cpu s", "peak MiB", "/glibc",
               "/mimal", "note"))
    for w in workloads:
        out()
        out("== %s: %s%s" % (w.name, w.desc, "  [%s]" % w.skip_reason if w.skip_reason else ""))
        if w.skip_reason:
            continue
        if w.name in glibc_notes:
            out("   note: " + glibc_notes[w.name])
        out(head)
        for n in names:
            c = cells[(w.name, n)]
            if "time_s" not in c:
                out("%-*s %9s  %s %s" % (width, n, "-", c["status"].upper(), c["detail"]))
                continue
            spread = 100.0 * (c["time_max_s"] - c["time_min_s"]) / c["time_s"] if c["time_s"] else 0
            rss_mib = c["rss_kib"] / 1024.0 if c["rss_kib"] is not None else None
            note = ""
            if "rps" in c:
                note = " ".join("%s=%.0fk/s" % (k, v / 1000) for k, v in c["rps"].items())
            out("%-*s %9.3f %6.1f %8s %8s %7s %10s %8s %8s  %s"
                % (width, n, c["time_s"], spread,
                   fmt(c["time_vs_glibc"], "8.2f", 8), fmt(c["time_vs_mimalloc"], "8.2f", 8),
                   fmt(c.get("cpu_s"), "7.2f", 7), fmt(rss_mib, "10.1f", 10),
                   fmt(c["rss_vs_glibc"], "8.2f", 8), fmt(c["rss_vs_mimalloc"], "8.2f", 8), note))


def print_memory_tables(out, args, workloads, allocs, cells, decay=None):
    """The figures the memory workloads print, beside their time tables."""
    names = [n for n, _ in allocs]
    width = max(12, max(len(n) for n in names))
    memret = [w for w in workloads if w.prog == "w_memret" and not w.skip_reason]
    if memret and decay:
        out()
        out("== how each allocator gives free memory back by itself (its defaults, as the library")
        out("   reports them); memret-decay waits %d ms, memret-decay-long %d ms"
            % (args.decay_wait_ms, args.decay_long_wait_ms))
        for n in names:
            if n in decay:
                out("%-*s %s" % (width, n, decay[n]))
    for w in memret:
        last = "after trim" if w.mode == "trim" else "after decay"
        out()
        out("== %s: RSS in MiB (from /proc/self/statm inside the program; median of the runs;"
            % w.name)
        out("   worst = the largest end-start of any run)")
        if w.mode == "decay":
            wait = args.decay_long_wait_ms if w.name.endswith("-long") else args.decay_wait_ms
            out("   wait %d ms after the frees, then 48 malloc+free pairs; 'waited' is before those"
                % wait)
        else:
            out("   'after trim': after the allocator's own purge call (the last column)")
        if w.name in MEMRET_TARGET_MIB:
            out("   the issue's target for liballocator: %s within %d MiB of start"
                % (last, MEMRET_TARGET_MIB[w.name]))
        extra = "%9s" % "waited" if w.mode == "decay" else ""
        out("%-*s %8s %9s %11s %s%12s %10s %8s %5s%s"
            % (width, "allocator", "start", "peak", "after free", extra, last, "end-start", "worst",
               "runs", "  purge" if w.mode == "trim" else ""))
        for n in names:
            c = cells[(w.name, n)]
            if "figures" not in c:
                out("%-*s %8s  %s %s" % (width, n, "-", c["status"].upper(), c["detail"]))
                continue
            f = {k: v / 1024.0 for k, v in c["figures"].items()}
            waited = "%9.1f" % f["rss_waited_kib"] if w.mode == "decay" else ""
            grew = [(r["rss_end_kib"] - r["rss_start_kib"]) / 1024.0 for r in c["figures_per_run"]]
            out("%-*s %8.1f %9.1f %11.1f %s%12.1f %+10.1f %+8.1f %5d%s"
                % (width, n, f["rss_start_kib"], f["rss_peak_kib"], f["rss_freed_kib"], waited,
                   f["rss_end_kib"], statistics.median(grew), max(grew), c["reps"],
                   "  " + c.get("purge", "?") if w.mode == "trim" else ""))
    print_k_table(out, workloads, names, cells, width, "w_largefree", 1, "request_ns",
                  ("== large free blocks: ns per malloc+free among K free blocks, and the process's peak",
                   "   RSS in MiB (median of the runs; requests in batches of 256, sizes random; flat",
                   "   across K = O(log K) or better)"))
    print_k_table(out, workloads, names, cells, width, "w_lastfree", 1000000, "last_free_ns",
                  ("== last frees: ns per free of the last live block in 64 KiB among K blocks of 100 B,",
                   "   and the process's peak RSS in MiB (median of the runs; flat across K: nothing",
                   "   walks the emptied pages)"))
    print_perblock_table(out, workloads, names, cells, width)


def print_k_table(out, workloads, names, cells, width, prog, per_mode, figure, title):
    """A figure of prog's rows against K, their mode times per_mode."""
    rows = [w for w in workloads if w.prog == prog and not w.skip_reason]
    if rows:
        out()
        for t in title:
            out(t)
        ks = [int(float(w.mode) * per_mode) for w in rows]
        out("%-*s " % (width, "allocator") + " ".join("%10s" % ("ns K=%d" % k) for k in ks)
            + "  %s" % ("%9s" % "last/1st" if len(ks) > 1 else "")
            + " " + " ".join("%11s" % ("MiB K=%d" % k) for k in ks))
        for n in names:
            ns = [cells[(w.name, n)].get("figures", {}).get(figure) for w in rows]
            rss = [cells[(w.name, n)].get("rss_kib") for w in rows]
            growth = ratio(ns[-1], ns[0]) if len(ns) > 1 else None
            out("%-*s " % (width, n) + " ".join(fmt(x, "10.1f", 10) for x in ns)
                + "  %s" % (fmt(growth, "9.2f", 9) if len(ns) > 1 else "")
                + " " + " ".join(fmt(x / 1024.0 if x else None, "11.1f", 11) for x in rss))


def perblock_table(workloads, names, cells):
    """Issue 13's table from the perblock rows: {"sizes": [...], "bytes":
    {allocator: [bytes per block or None]}, "usable": {allocator: [...]},
    "best": [(value, allocator) or None], "ours_vs_best": [ratio or None]}.
    The best is over the allocators other than OURS that completed the
    row; None where there is nothing to compare."""
    rows = [w for w in workloads if w.prog == "w_perblock" and not w.skip_reason]
    if not rows:
        return None

    def figure(w, n, key):
        return cells.get((w.name, n), {}).get("figures", {}).get(key)

    t = {"sizes": [int(w.mode) for w in rows], "bytes": {}, "usable": {}, "best": [],
         "ours_vs_best": []}
    for n in names:
        t["bytes"][n] = [figure(w, n, "bytes_per_block") for w in rows]
        t["usable"][n] = [figure(w, n, "usable_bytes") for w in rows]
    for i, _ in enumerate(rows):
        others = [(t["bytes"][n][i], n) for n in names
                  if n != OURS and t["bytes"][n][i] is not None]
        best = min(others) if others else None
        t["best"].append(best)
        ours = t["bytes"].get(OURS, [None] * len(rows))[i]
        t["ours_vs_best"].append(ratio(ours, best[0]) if best else None)
    return t


def print_perblock_table(out, workloads, names, cells, width):
    t = perblock_table(workloads, names, cells)
    if not t:
        return
    out()
    out("== bytes per live block: resident bytes per block of one request size, (RSS after -")
    out("   RSS before) / count, median of the runs; issue 13's target: ours/best <= 1.00 at")
    out("   every size (ours = %s); then malloc_usable_size of a block, the slot without its"
        % OURS)
    out("   metadata")
    out("%-*s " % (width, "allocator") + " ".join("%9s" % ("%d B" % n) for n in t["sizes"]))
    for n in names:
        out("%-*s " % (width, n) + " ".join(fmt(x, "9.1f", 9) for x in t["bytes"][n]))
    out("%-*s " % (width, "best other") + " ".join(fmt(b[0] if b else None, "9.1f", 9)
                                                   for b in t["best"]))
    out("%-*s " % (width, "  (which)") + " ".join("%9s" % (b[1] if b else "-") for b in t["best"]))
    if OURS in names:
        out("%-*s " % (width, "ours/best") + " ".join(
            fmt(r, "9.2f", 9) for r in t["ours_vs_best"]))
    out()
    out("%-*s " % (width, "usable bytes") + " ".join("%9s" % ("%d B" % n) for n in t["sizes"]))
    for n in names:
        out("%-*s " % (width, n) + " ".join(fmt(x, "9.0f", 9) for x in t["usable"][n]))


def geomeans(workloads, allocs, cells):
    """{group: {allocator: means}} over the rows of each group that count."""
    res = {}
    for group in GROUPS:
        counted = [w for w in workloads if w.group == group and w.in_means and not w.skip_reason]
        if not counted:
            continue
        res[group] = {}
        for n, _ in allocs:
            g = {"workloads": 0, "of": len(counted), "rows": [w.name for w in counted]}
            for key in ("time_vs_glibc", "time_vs_mimalloc", "rss_vs_glibc", "rss_vs_mimalloc"):
                g[key] = geomean([cells[(w.name, n)].get(key) for w in counted])
            g["workloads"] = sum(1 for w in counted if "time_s" in cells[(w.name, n)])
            res[group][n] = g
    return res


def print_geomeans(out, allocs, gm):
    for group, means in gm.items():
        print_group_geomeans(out, allocs, group, means)


def print_group_geomeans(out, allocs, group, gm):
    out()
    rows = gm[allocs[0][0]]["rows"]
    if group == "speed":
        out("== geometric means over the speed workloads (scaling baselines excluded)")
    else:
        out("== geometric means over the %s workloads: %s" % (group, ", ".join(rows)))
    out("%-14s %10s %10s %10s %10s  %s" % ("allocator", "time/glibc", "time/mimal", "RSS/glibc",
                                           "RSS/mimal", "workloads counted"))
    for n, _ in allocs:
        g = gm[n]
        out("%-14s %10s %10s %10s %10s  %d of %d"
            % (n, fmt(g["time_vs_glibc"], "10.3f", 10), fmt(g["time_vs_mimalloc"], "10.3f", 10),
               fmt(g["rss_vs_glibc"], "10.3f", 10), fmt(g["rss_vs_mimalloc"], "10.3f", 10),
               g["workloads"], g["of"]))


def scaling(workloads, allocs, cells):
    pairs = [(w, w.scaling_of) for w in workloads if w.scaling_of and not w.skip_reason]
    pairs = [(w, b) for w, b in pairs if any(x.name == b for x in workloads)]
    res = {}
    for n, _ in allocs:
        res[n] = {}
        for w, base in pairs:
            # The parallel phase as the program timed it, when it did: the
            # process's fixed start and exit cost is not work that scales.
            c1, c2 = cells[(base, n)], cells[(w.name, n)]
            key = "inner_s" if "inner_s" in c1 and "inner_s" in c2 else "time_s"
            t1, t2 = c1.get(key), c2.get(key)
            res[n][w.name] = t1 / t2 if t1 and t2 else None
    return pairs, res


def print_scaling(out, allocs, pairs, sc):
    if not pairs:
        return
    out()
    out("== scaling: work done by 2 threads in the time of 1 (T 1 thread / T 2 threads, same")
    out("   total work, T = median of the parallel phase as timed inside the program; target")
    out("   >= 1.80 on 2 cores; remote churn moves every block between cores, so even ideal")
    out("   allocators stay well below 2 there)")
    cols = [w.name for w, _ in pairs]
    out("%-14s " % "allocator" + " ".join("%22s" % c for c in cols))
    for n, _ in allocs:
        out("%-14s " % n + " ".join(
            "%22s" % (("%.2f %s" % (sc[n][c], "ok" if sc[n][c] >= 1.8 else "<1.8"))
                      if sc[n][c] is not None else "-") for c in cols))


# ---- instruction mode ------------------------------------------------------------


def callgrind_ir(lib, argv, outfile, env):
    """Total Ir of one callgrind run, and the self Ir per (object, function)."""
    cmd = preload_argv(lib, ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outfile,
                             "--dump-line=no", "--compress-strings=no", "--compress-pos=no"] + argv)
    res = subprocess.run(cmd, capture_output=True, env=env, timeout=600)
    if res.returncode != 0:
        raise RuntimeError("%s: rc %d: %s" % (shlex.join(cmd), res.returncode,
                                              res.stderr.decode(errors="replace")[-300:]))
    # Uncompressed names: "ob=" and "fn=" name the owner of the following
    # cost lines; the cost line right after "calls=" is a callee's
    # inclusive cost, not the caller's own.
    total, cost, ob, fn, skip = None, {}, None, None, False
    with open(outfile) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
            elif line.startswith("ob="):
                ob = line[3:].strip()
            elif line.startswith("fn="):
                fn = line[3:].strip()
            elif line.startswith("calls="):
                skip = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                if skip:
                    skip = False
                    continue
                fields = line.split()
                if len(fields) >= 2:
                    cost[(ob, fn)] = cost.get((ob, fn), 0) + int(fields[1])
    os.unlink(outfile)
    if total is None:
        raise RuntimeError("no totals in callgrind output of " + shlex.join(cmd))
    return total, cost


def glibc_malloc_ir(cost):
    """Self Ir in glibc's own malloc and free code."""
    return sum(ir for (ob, fn), ir in cost.items()
               if ob and ob.endswith("/libc.so.6") and fn and
               (fn.startswith("_int_") or re.search(r"malloc|free|tcache", fn)))


def allocator_check(name, lib, iters, cost):
    """None, or why this profile does not show the allocator we meant.

    callgrind does not replace malloc (only memcheck, massif, helgrind, drd
    and dhat do, through vgpreload_<tool>.so), so no --soname-synonyms is
    needed; this checks it per profile anyway.  Code that valgrind cannot
    map to its object (tcmalloc keeps malloc in a section of its own) is
    reported as object "???".
    """
    in_glibc = glibc_malloc_ir(cost) / iters
    if lib is None:
        return None if in_glibc >= 4 else "%s: only %.1f Ir per call in glibc's malloc" % (name, in_glibc)
    real = os.path.realpath(lib)
    in_lib = sum(ir for (ob, _), ir in cost.items() if ob in (real, "???")) / iters
    if in_glibc >= 1 or in_lib < 4:
        return ("%s: %.1f Ir per call in glibc's malloc, %.1f in %s: not the allocator meant?"
                % (name, in_glibc, in_lib, lib))
    return None


def instruction_mode(args, allocs, env, tmpdir, out):
    probe = os.path.join(args.build_dir, "bench", "workloads", "ins_loop")
    if not os.path.exists(probe):
        raise SystemExit("missing %s: run `make all` first" % probe)
    if not shutil.which("valgrind"):
        out("instructions: valgrind not found (Debian package valgrind): skipped")
        return None
    n = args.ins_iterations
    jobs = []
    for name, lib in allocs:
        for pattern in ("pair", "batch"):
            for impl in INS_IMPLS:
                for iters in (n, 2 * n):
                    jobs.append((name, lib, pattern, impl, iters))

    def one(job):
        name, lib, pattern, impl, iters = job
        f = os.path.join(tmpdir, "cg.%s.%s.%s.%d" % (name, pattern, impl, iters))
        total, cost = callgrind_ir(lib, [probe, pattern, impl, str(iters)], f, env)
        return job, total, cost

    log("instructions: %d callgrind runs, %d at a time" % (len(jobs), args.jobs))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, jobs))
    ir = {}
    problems = []
    for (name, lib, pattern, impl, iters), total, cost in results:
        ir[(name, pattern, impl, iters)] = total
        why = allocator_check(name, lib, iters, cost) if impl == "libc" else None
        if why and not any(p.startswith(name + ":") for p in problems):
            problems.append(why)
    table = {}
    for name, _ in allocs:
        table[name] = {}
        for pattern in ("pair", "batch"):
            per = {impl: (ir[(name, pattern, impl, 2 * n)] - ir[(name, pattern, impl, n)]) / n
                   for impl in INS_IMPLS}
            # new_net: C++'s operator new and delete, the preloaded
            # library's or (glibc, and any that does not export them)
            # libstdc++'s over its malloc and free.  aligned_net:
            # aligned_alloc(64, n) and free, less a loop that calls a
            # two-argument no-op.  tiny_net: malloc of 1..8 bytes and free,
            # less a no-op loop over the same sizes.
            table[name][pattern] = {"gross": per["libc"], "loop": per["noop"],
                                    "net": per["libc"] - per["noop"],
                                    "new_net": per["new"] - per["noop"],
                                    "aligned_net": per["aligned"] - per["noop_aligned"],
                                    "tiny_net": per["tiny"] - per["noop_tiny"]}
    g = table.get("glibc")

    def rows(key, loop):
        """One line per allocator: figure `key` of pair and batch, with ratios to glibc's."""
        for name, _ in allocs:
            t = table[name]
            out("%-14s %8.1f %8s %8.1f %8s%s"
                % (name, t["pair"][key], fmt(ratio(t["pair"][key], g and g["pair"][key]), "8.2f", 8),
                   t["batch"][key], fmt(ratio(t["batch"][key], g and g["batch"][key]), "8.2f", 8),
                   "   %.1f / %.1f" % (t["pair"]["loop"], t["batch"]["loop"]) if loop else ""))

    out()
    out("== instructions per malloc+free (callgrind Ir, (Ir(2N) - Ir(N)) / N, N = %d," % n)
    out("   minus the same loop calling no-op functions; sizes cycle over %s B)" % INS_SIZES)
    out("%-14s %8s %8s %8s %8s   %s" % ("allocator", "pair", "/glibc", "batch", "/glibc",
                                          "loop overhead pair/batch"))
    rows("net", True)
    out()
    out("== the same for C++'s operator new + delete (libstdc++'s, over malloc and free, where the")
    out("   allocator does not export them)")
    out("%-14s %8s %8s %8s %8s" % ("allocator", "pair", "/glibc", "batch", "/glibc"))
    rows("new_net", False)
    out()
    out("== the same for aligned_alloc(64, n) + free (C++17's new of an alignas(64) type goes there")
    out("   through libstdc++)")
    out("%-14s %8s %8s %8s %8s" % ("allocator", "pair", "/glibc", "batch", "/glibc"))
    rows("aligned_net", False)
    out()
    out("== the same for malloc(1..8) + free (blocks an 8-byte class serves)")
    out("%-14s %8s %8s %8s %8s" % ("allocator", "pair", "/glibc", "batch", "/glibc"))
    rows("tiny_net", False)
    for p in problems:
        out("warning: " + p)
    return {"iterations": n, "sizes_bytes": INS_SIZES, "table": table, "problems": problems}


# ---- driver --------------------------------------------------------------------------


def select_allocators(args):
    allocs = [("glibc", None)]
    notes = []
    lib = args.liballocator
    if os.path.exists(lib):
        allocs.append(("liballocator", os.path.abspath(lib)))
    else:
        notes.append("liballocator: %s not found (run `make all` or set $LIBALLOCATOR): skipped" % lib)
    for name, path in SYSTEM_ALLOCATORS:
        if os.path.exists(path):
            allocs.append((name, path))
        else:
            notes.append("%s: %s not installed: skipped" % (name, path))
    if args.allocators:
        want = args.allocators.split(",")
        known = {"glibc", "liballocator"} | {n for n, _ in SYSTEM_ALLOCATORS}
        unknown = [w for w in want if w not in known]
        if unknown:
            raise SystemExit("unknown allocator(s): %s" % ", ".join(unknown))
        # glibc stays: every ratio is relative to it.
        allocs = [a for a in allocs if a[0] in want or a[0] == "glibc"]
    # liballocator reads its options from the environment, which every
    # run inherits: the report says which were set.
    for k in sorted(os.environ):
        if k.startswith("ALLOCATOR_"):
            notes.append("environment: %s=%s (liballocator reads it)" % (k, os.environ[k]))
    return allocs, notes


def select_workloads(args, suite):
    ws = WORKLOADS
    if args.group:
        ws = [w for w in ws if w.group == args.group]
    if args.workloads:
        pats = args.workloads.split(",")
        ws = [w for w in ws if any(fnmatch.fnmatch(w.name, p) for p in pats)]
        # A scaling row needs its 1-thread baseline.
        names = {w.name for w in ws}
        extra = {w.scaling_of for w in ws if w.scaling_of and w.scaling_of not in names}
        ws = [w for w in WORKLOADS if w.name in names or w.name in extra]
        if not ws:
            raise SystemExit("no workload matches %s%s (see --list)"
                             % (args.workloads, " in group " + args.group if args.group else ""))
    needs = {"python": ["/usr/bin/python3"], "sqlite": ["/usr/bin/sqlite3"], "sort": ["/usr/bin/sort"],
             "redis": ["/usr/bin/redis-server", "/usr/bin/redis-benchmark"]}
    for w in ws:
        if w.kind == "synthetic":
            if not os.path.exists(suite.wl_path(w.prog)):
                raise SystemExit("missing %s: run `make all` first" % suite.wl_path(w.prog))
        missing = [p for p in needs.get(w.kind, []) if not os.access(p, os.X_OK)]
        if missing:
            w.skip_reason = "skipped: %s not installed" % ", ".join(missing)
    return ws


def noisy_rows(workloads, allocs, runs, spread):
    """The speed rows whose wall times disagree: for some allocator, the
    spread (max - min) / median of its successful repetitions, when it has
    three or more, is above `spread`."""
    out = []
    for w in workloads:
        if w.group != "speed" or w.skip_reason:
            continue
        for alloc in allocs:
            ts = [r.wall_s for r in runs.get((w.name, alloc[0]), []) if r.status == "ok"]
            if len(ts) >= 3:
                med = statistics.median(ts)
                if med > 0 and (max(ts) - min(ts)) / med > spread:
                    out.append(w)
                    break
    return out


def time_mode(args, suite, allocs, out):
    workloads = select_workloads(args, suite)
    active = [w for w in workloads if not w.skip_reason]
    suite.prepare(active)
    runs = {}
    failed = set()  # (workload, allocator) that crashed or lied: not run again
    probes = []
    # The probe only qualifies the scaling ratios: without them, skip it.
    probing = any(w.scaling_of for w in active)
    t_start = time.monotonic()

    def one_round(w, order, label):
        """Every allocator on workload w once, in `order`; checksums checked."""
        line = []
        for alloc in order:
            key = (w.name, alloc[0])
            if key in failed:
                continue
            r = suite.run_workload(w, alloc)
            runs.setdefault(key, []).append(r)
            line.append("%s %s" % (alloc[0], "%.2fs" % r.wall_s if r.status == "ok" else r.status))
        # Every allocator must print what glibc printed.
        ref = [r.checksum for r in runs.get((w.name, "glibc"), []) if r.status == "ok"]
        for alloc in order:
            key = (w.name, alloc[0])
            rs = runs.get(key, [])
            if not rs or key in failed:
                continue
            r = rs[-1]
            if r.status == "ok" and ref and r.checksum != ref[0]:
                r.status = "checksum"
                r.detail = "checksum %s, glibc printed %s" % (r.checksum, ref[0])
            if r.status != "ok":
                failed.add(key)
        log("[%s %5.0fs] %-22s %s" % (label, time.monotonic() - t_start, w.name, "  ".join(line)))

    for rep in range(args.reps):
        if probing:
            probes.append(parallelism_probe(suite))
            log("[rep %d/%d] parallelism probe: %.2f (2.00 = two idle cores)"
                % (rep + 1, args.reps, probes[-1]))
        # Rotate the start so that no allocator always runs right after the
        # same neighbour (page cache, frequency, other tenants' bursts).
        order = allocs[rep % len(allocs):] + allocs[:rep % len(allocs)]
        for w in active:
            cap = w.max_reps(args) if callable(w.max_reps) else w.max_reps
            if cap is not None and rep >= cap:
                continue
            one_round(w, order, "rep %d/%d" % (rep + 1, args.reps))
    # A speed row whose repetitions disagree (another tenant's burst on a
    # shared VM put single repetitions 3x off) gets more rounds, every
    # allocator again and interleaved, before its medians are taken: at
    # most --noisy-reps more, while it stays noisy.
    extra_rounds = {}
    for extra in range(args.noisy_reps if args.reps >= 3 else 0):
        noisy = [w for w in noisy_rows(active, allocs, runs, args.noisy_spread)
                 if not any((w.name, a[0]) in failed for a in allocs)]
        if not noisy:
            break
        k = args.reps + extra
        order = allocs[k % len(allocs):] + allocs[:k % len(allocs)]
        for w in noisy:
            one_round(w, order, "noisy %d/%d" % (extra + 1, args.noisy_reps))
            extra_rounds[w.name] = extra_rounds.get(w.name, 0) + 1
    if probing:
        probes.append(parallelism_probe(suite))
    cells = summarise(workloads, allocs, runs)
    out()
    out("time mode: median wall time of %d repetition(s), allocators interleaved per repetition;"
        % args.reps)
    out("peak RSS from /usr/bin/time %M; ratios < 1 are better; +-% = (max - min) / median;")
    out("cpu s = median user+sys time (less sensitive than wall time to other load on the machine)")
    if extra_rounds:
        out("rows run again because their repetitions spread over more than %.0f%% of the median"
            " (--noisy-spread): %s" % (100 * args.noisy_spread, ", ".join(
                "%s +%d" % (n, k) for n, k in sorted(extra_rounds.items()))))
    print_time_tables(out, workloads, allocs, cells, suite.glibc_notes)
    decay = None
    if any(w.prog == "w_memret" for w in active):
        decay = decay_defaults(allocs, suite.env)
    print_memory_tables(out, args, workloads, allocs, cells, decay)
    gm = geomeans(workloads, allocs, cells)
    print_geomeans(out, allocs, gm)
    pairs, sc = scaling(workloads, allocs, cells)
    print_scaling(out, allocs, pairs, sc)
    if pairs and probes:
        out("machine parallelism probe (2 independent glibc processes vs 1, before each repetition"
            " and at the end):")
        out("   median %.2f, min %.2f;" % (statistics.median(probes), min(probes)))
        out("   scaling ratios mean little unless this is close to 2.00 (other load on the machine)")
        if args.quick:
            out("   (--quick runs last ~0.1 s: too short for the scaling ratios to mean much)")
    problems = []
    for (wname, aname) in sorted(failed):
        rs = runs[(wname, aname)]
        bad = [r for r in rs if r.status != "ok"][0]
        problems.append({"workload": wname, "allocator": aname, "status": bad.status,
                         "detail": bad.detail, "command": suite.repro.get((wname, aname), "")})
    if problems:
        out()
        out("== problems (each line: how to reproduce)")
        for p in problems:
            out("%s on %s: %s %s" % (p["allocator"], p["workload"], p["status"].upper(), p["detail"]))
            out("    " + p["command"])
    return {"workloads": workloads, "runs": runs, "cells": cells, "geomeans": gm,
            "scaling": sc, "parallelism_probe": probes, "problems": problems,
            "noisy_rounds": extra_rounds,
            "decay_defaults": decay or {}}


def rounded(x):
    """Floats to 6 significant digits: the measurements are not finer."""
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    return float("%.6g" % x) if isinstance(x, float) else x


def write_results(args, suite, stamp_dir, machine, allocs, notes, timed, ins, report, elapsed_s):
    os.makedirs(stamp_dir, exist_ok=True)
    with open(os.path.join(stamp_dir, "report.txt"), "w") as f:
        f.write("\n".join(report.lines) + "\n")
    doc = {
        "schema_version": SCHEMA_VERSION,
        "generator": "bench/run.py",
        "started": os.path.basename(stamp_dir),
        "command": shlex.join([sys.executable] + sys.argv),
        "cwd": os.getcwd(),
        "elapsed_s": round(elapsed_s, 1),
        "machine": machine,
        "config": {"mode": args.mode, "reps": args.reps, "scale": args.scale, "quick": args.quick,
                   "timeout_s": args.timeout, "ins_iterations": args.ins_iterations,
                   "group": args.group, "decay_wait_ms": args.decay_wait_ms,
                   "decay_long_wait_ms": args.decay_long_wait_ms,
                   "memret_reps": args.memret_reps},
        "allocators": [{"name": n, "library": lib,
                        "version": (liballocator_revision() if n == "liballocator" else
                                    package_version(lib) if lib else machine["glibc"])}
                       for n, lib in allocs],
        "notes": notes,
    }
    if timed:
        names = [n for n, _ in allocs]
        with open(os.path.join(stamp_dir, "runs.csv"), "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["workload", "allocator", "rep", "wall_s", "user_s", "sys_s", "max_rss_kib",
                         "inner_s", "status", "checksum", "detail"])
            for w in timed["workloads"]:
                for n in names:
                    for i, r in enumerate(timed["runs"].get((w.name, n), [])):
                        wr.writerow([w.name, n, i + 1, rounded(r.wall_s), r.user_s,
                                     r.sys_s, r.rss_kib, r.inner_s, r.status, r.checksum,
                                     r.detail])
        # The figures the programs printed (RSS readings, ns per request),
        # one line per run and figure.
        with open(os.path.join(stamp_dir, "figures.csv"), "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["workload", "allocator", "rep", "figure", "value", "status"])
            for w in timed["workloads"]:
                for n in names:
                    for i, r in enumerate(timed["runs"].get((w.name, n), [])):
                        for k in w.figures:
                            if k in r.figures:
                                wr.writerow([w.name, n, i + 1, k, rounded(r.figures[k]), r.status])
        cols = ["time_s", "time_min_s", "time_max_s", "cpu_s", "inner_s", "rss_kib", "time_vs_glibc",
                "time_vs_mimalloc", "rss_vs_glibc", "rss_vs_mimalloc"]
        with open(os.path.join(stamp_dir, "summary.csv"), "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["workload", "kind", "threads", "scaling_baseline", "allocator", "reps_ok",
                         "status"] + cols)
            for w in timed["workloads"]:
                if w.skip_reason:
                    continue
                for n in names:
                    c = timed["cells"][(w.name, n)]
                    wr.writerow([w.name, w.kind, w.nthreads, int(w.baseline), n, c["reps"],
                                 c["status"]] + [rounded(c.get(k)) for k in cols])
        doc["time"] = {
            "workloads": [{"name": w.name, "description": w.desc, "kind": w.kind,
                           "group": w.group, "in_means": w.in_means, "threads": w.nthreads,
                           "scaling_baseline": w.baseline, "scaling_of": w.scaling_of,
                           "skipped": w.skip_reason} for w in timed["workloads"]],
            "results": [dict(workload=w, allocator=a, **{k: rounded(v) for k, v in c.items()})
                        for (w, a), c in timed["cells"].items()],
            "geomeans": timed["geomeans"],
            "scaling": timed["scaling"],
            "parallelism_probe": timed["parallelism_probe"],
            "noisy_rounds": timed.get("noisy_rounds", {}),
            "glibc_substitutes": suite.glibc_notes,
            "problems": timed["problems"],
            "decay_defaults": timed["decay_defaults"],
        }
    if ins:
        with open(os.path.join(stamp_dir, "instructions.csv"), "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["allocator", "pattern", "ir_per_pair_net", "ir_per_pair_gross",
                         "ir_loop_overhead", "iterations"])
            for n, t in ins["table"].items():
                for pattern, v in t.items():
                    wr.writerow([n, pattern, round(v["net"], 2), round(v["gross"], 2),
                                 round(v["loop"], 2), ins["iterations"]])
        doc["instructions"] = ins
    doc["machine"]["loadavg_end"] = os.getloadavg()
    with open(os.path.join(stamp_dir, "summary.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    latest = os.path.join(os.path.dirname(stamp_dir), "latest")
    try:
        if os.path.islink(latest):
            os.unlink(latest)
        if not os.path.exists(latest):
            os.symlink(os.path.basename(stamp_dir), latest)
    except OSError:
        pass


def parse_args(argv):
    env_reps = os.environ.get("BENCH_REPS")
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Compare glibc, liballocator, jemalloc, tcmalloc and mimalloc side by side: "
                    "each workload runs once per allocator (LD_PRELOAD) per repetition, "
                    "allocators interleaved; then instructions per malloc+free under callgrind.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="workloads (time mode):\n" + "\n".join(
            "  %-22s %-7s %s" % (w.name, w.group, w.desc) for w in WORKLOADS) +
        "\n\nexamples:\n"
        "  bench/run.py                      everything, 5 repetitions (~10 min)\n"
        "  bench/run.py --quick              smoke run: 1 repetition, scale 0.25\n"
        "  bench/run.py --mode instructions  callgrind counts only\n"
        "  bench/run.py --group memory       the memory workloads only (~4 min)\n"
        "  bench/run.py -w 'churn*,pipeline' -a liballocator,mimalloc --reps 3\n"
        "environment: BENCH_REPS (default repetitions), LIBALLOCATOR (library path)")
    p.add_argument("--mode", choices=("all", "time", "instructions"), default=None,
                   help="what to run (default: all, or time with --group)")
    p.add_argument("--reps", type=int, default=int(env_reps) if env_reps else None,
                   help="repetitions per workload and allocator; the median is reported "
                        "(default 5, or $BENCH_REPS; 1 with --quick)")
    p.add_argument("--scale", type=float, default=None,
                   help="work multiplier for every workload (default 1.0; 0.25 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 repetition, scale 0.25, fewer callgrind iterations")
    p.add_argument("-w", "--workloads", help="comma-separated names or globs (see --list)")
    p.add_argument("--group", choices=GROUPS,
                   help="only the workloads of this group (with -w: those of them that match)")
    p.add_argument("-a", "--allocators",
                   help="comma-separated subset of glibc,liballocator,jemalloc,tcmalloc,mimalloc "
                        "(glibc is always kept)")
    p.add_argument("--liballocator", default=os.environ.get("LIBALLOCATOR"),
                   help="liballocator.so to test (default $LIBALLOCATOR or BUILD/liballocator.so)")
    p.add_argument("--build-dir", default=os.path.join(REPO_DIR, "build"),
                   help="CMake build directory holding bench/workloads (default build/)")
    p.add_argument("--results-dir", default=os.path.join(BENCH_DIR, "results"),
                   help="where the timestamped result directory goes (default bench/results)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds before one run counts as hung (default 120)")
    p.add_argument("--ins-iterations", type=int, default=None,
                   help="N for the callgrind mode, a multiple of 1000 (default 200000; 50000 quick)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="parallel callgrind runs (instruction counts do not depend on load)")
    p.add_argument("--decay-wait-ms", type=int, default=DECAY_WAIT_MS,
                   help="memret-decay: how long to wait after freeing everything before the "
                        "last calls (default %d: liballocator's decay period is 1000 ms)"
                        % DECAY_WAIT_MS)
    p.add_argument("--decay-long-wait-ms", type=int, default=DECAY_LONG_WAIT_MS,
                   help="memret-decay-long: the same wait, past every allocator's default decay "
                        "(default %d: jemalloc's dirty_decay_ms is 10000)" % DECAY_LONG_WAIT_MS)
    p.add_argument("--memret-reps", type=int, default=1,
                   help="repetitions of the memret rows, at most --reps (default 1: a run takes "
                        "4-5 s; the decay figure depends on timing, so more runs show how often "
                        "it misses)")
    p.add_argument("--noisy-reps", type=int, default=4,
                   help="at most this many more rounds, interleaved, of a speed row whose wall times "
                        "spread over more than --noisy-spread of their median (default 4; 0: none)")
    p.add_argument("--noisy-spread", type=float, default=0.5,
                   help="(max - min) / median of one allocator's repetitions above which a speed row "
                        "is run again (default 0.5)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = p.parse_args(argv)
    if args.mode is None:
        args.mode = "time" if args.group else "all"
    if args.reps is None:
        args.reps = 1 if args.quick else 5
    if args.scale is None:
        args.scale = 0.25 if args.quick else 1.0
    if args.ins_iterations is None:
        args.ins_iterations = 50000 if args.quick else 200000
    if args.decay_wait_ms < 0 or args.decay_long_wait_ms < 0 or args.memret_reps < 1:
        p.error("--decay-wait-ms, --decay-long-wait-ms >= 0, --memret-reps >= 1")
    if args.reps < 1 or args.scale <= 0 or args.ins_iterations % 1000 or args.ins_iterations <= 0:
        p.error("--reps >= 1, --scale > 0, --ins-iterations a positive multiple of 1000")
    args.build_dir = os.path.abspath(args.build_dir)
    if not args.liballocator:
        args.liballocator = os.path.join(args.build_dir, "liballocator.so")
    return args


def main(argv):
    args = parse_args(argv)
    if args.list:
        for w in WORKLOADS:
            print("%-22s %-7s %s" % (w.name, w.group, w.desc))
        return 0
    if args.mode != "instructions" and not os.access(TIME_BIN, os.X_OK):
        raise SystemExit("%s is missing (Debian package `time`)" % TIME_BIN)
    t0 = time.monotonic()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    stamp_dir = os.path.join(args.results_dir, stamp)
    machine = machine_description()
    allocs, notes = select_allocators(args)
    out = Report()
    out("bench/run.py %s" % " ".join(shlex.quote(a) for a in argv))
    out("machine: %s, %d CPUs, %s, %s, load %.2f"
        % (machine["cpu_model"], machine["nproc"], machine["kernel"].split(" #")[0],
           machine["glibc"], machine["loadavg_start"][0]))
    out("allocators: " + ", ".join("%s (%s)" % (n, lib or "no preload") for n, lib in allocs))
    for note in notes:
        out("note: " + note)
    suite = Suite(args)
    timed = ins = None
    bench_tmp = os.path.join(args.build_dir, "bench")
    os.makedirs(bench_tmp, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=bench_tmp) as tmpdir:
        suite.tmpdir = tmpdir
        if args.mode in ("all", "time"):
            timed = time_mode(args, suite, allocs, out)
        if args.mode in ("all", "instructions"):
            ins = instruction_mode(args, allocs, suite.env, tmpdir, out)
    elapsed = time.monotonic() - t0
    out()
    out("elapsed %.0f s; results in %s" % (elapsed, os.path.relpath(stamp_dir)))
    write_results(args, suite, stamp_dir, machine, allocs, notes, timed, ins, out, elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
