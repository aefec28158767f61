#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What the guard sampler costs (issue 15): the workloads of bench/run.py,
run on liballocator with ALLOCATOR_GUARD_SAMPLE unset and at each rate
given, interleaved per repetition (the order rotates), so that load on a
shared machine hits every configuration alike.  Prints the median wall
time, user+sys time and peak RSS of each, and their ratios to the run
without the sampler.

    bench/guard_cost.py --build-dir build --reps 3 --rates 5000 -w 'pairs,batch'

A rate may also be any environment, VAR=VALUE[+VAR=VALUE...], compared
with the same run without ALLOCATOR_GUARD_SAMPLE and ALLOCATOR_PROF (the
heap profiler's cost, issue 16):

    bench/guard_cost.py --build-dir build --reps 3 --group speed --rates ALLOCATOR_PROF=1

Every option of bench/run.py is accepted (-w, --group, --scale, --reps...).
"""
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py)


def config_env(c):
    """The environment of a configuration: "off", a guard sampling rate, or
    VAR=VALUE[+VAR=VALUE...]."""
    if c == "off":
        return {}
    if "=" not in c:
        return {"ALLOCATOR_GUARD_SAMPLE": c}
    return dict(kv.split("=", 1) for kv in c.split("+"))


def main(argv):
    rates = ["5000"]
    if "--rates" in argv:
        i = argv.index("--rates")
        rates = argv[i + 1].split(",")
        argv = argv[:i] + argv[i + 2:]
    args = run.parse_args(argv + ["--mode", "time"])
    lib = args.liballocator or os.path.join(args.build_dir, "liballocator.so")
    suite = run.Suite(args)
    workloads = [w for w in run.select_workloads(args, suite)
                 if not w.skip_reason and w.kind != "redis"]
    configs = ["off"] + rates
    base_env = dict(suite.env)
    for var in ("ALLOCATOR_GUARD_SAMPLE", "ALLOCATOR_PROF"):
        base_env.pop(var, None)
    cells = {}
    bench_tmp = os.path.join(args.build_dir, "bench")
    os.makedirs(bench_tmp, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="guard-", dir=bench_tmp) as tmpdir:
        suite.tmpdir = tmpdir
        suite.prepare(workloads)
        for rep in range(args.reps):
            order = configs[rep % len(configs):] + configs[:rep % len(configs)]
            for w in workloads:
                line = []
                for c in order:
                    suite.env = dict(base_env)
                    suite.env.update(config_env(c))
                    # The profiler writes a dump at exit: into the run's
                    # temporary directory, not the caller's (they were
                    # committed once by accident).
                    suite.env["ALLOCATOR_PROF_FILE"] = os.path.join(tmpdir, "la.%p.prof")
                    r = suite.run_workload(w, ("liballocator", lib))
                    if r.status != "ok":
                        raise SystemExit("%s with %s: %s %s"
                                         % (w.name, config_env(c) or "off", r.status, r.detail))
                    cells.setdefault((w.name, c), []).append(r)
                    line.append("%s %.2fs" % (c, r.wall_s))
                print("[rep %d/%d] %-22s %s" % (rep + 1, args.reps, w.name, "  ".join(line)),
                      file=sys.stderr, flush=True)
    med = lambda rs, f: statistics.median(f(r) for r in rs)
    wall = lambda r: r.wall_s
    cpu = lambda r: r.user_s + r.sys_s
    rss = lambda r: r.rss_kib
    width = max(len(c) for c in configs)
    print("sampler cost: median of %d repetition(s), configurations interleaved" % args.reps)
    print("%-22s %-*s %8s %8s %9s %7s %7s %7s" % ("workload", width, "rate", "wall s", "cpu s", "rss KiB",
                                                   "wall x", "cpu x", "rss x"))
    ratios = {c: ([], []) for c in rates}
    for w in workloads:
        off = cells[(w.name, "off")]
        for c in configs:
            rs = cells[(w.name, c)]
            wx = med(rs, wall) / med(off, wall)
            cx = med(rs, cpu) / max(med(off, cpu), 1e-9)
            rx = med(rs, rss) / max(med(off, rss), 1)
            if c != "off" and w.in_means:
                ratios[c][0].append(wx)
                ratios[c][1].append(cx)
            print("%-22s %-*s %8.3f %8.3f %9d %7.3f %7.3f %7.3f"
                  % (w.name, width, c, med(rs, wall), med(rs, cpu), med(rs, rss), wx, cx, rx))
    for c in rates:
        print("geomean rate %s vs off: wall %.4fx, cpu %.4fx (%d workloads)"
              % (c, run.geomean(ratios[c][0]), run.geomean(ratios[c][1]), len(ratios[c][0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
