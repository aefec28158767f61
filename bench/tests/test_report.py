#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/tests/test_report.py: bench/report.py on a small results fixture.

fixture/summary.json is a real quick run (schema 3) of three allocators
on rows of both groups, with the memory figures (the purge each allocator
ran, its decay defaults, both decay waits); its instruction counts come
from an earlier quick run, and one cell was made to crash (mimalloc on
pairs).  The report must name every workload and allocator, say when,
where and how the run was made, show time and RSS side by side (RSS in
MiB for a tiny process), the purge and decay of each allocator, the RSS
of the largefree rows, and come with four SVG charts that parse, the
memory chart's values written upright so that neighbours cannot overlap.
The same document brought back to schema 2 and to schema 1, and one
without instruction counts, must still give a report; --publish must
copy the charts, print the README tables and refuse a run that lacks a
chart, and --run must hand the rest of the command line to bench/run.py.
Issue 13's bytes-per-block table (the perblock rows, which the fixture
predates, so the test adds them with made-up figures) must come out of
report.py and of bench/run.py alike, with the best of the others and
liballocator / best.
Exit 77 (ctest: skipped) without gnuplot.  Standard library only.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(os.path.dirname(HERE), "report.py")
FIXTURE = os.path.join(HERE, "fixture")
CHARTS = ("bench-time", "bench-rss", "bench-instructions", "bench-memory")
SKIP = 77

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def report(args, expect_rc=0):
    res = subprocess.run([sys.executable, REPORT] + args, capture_output=True, text=True,
                         timeout=120)
    check(res.returncode == expect_rc, "report.py %s: rc %d, expected %d\n%s"
          % (" ".join(args), res.returncode, expect_rc, res.stderr[-2000:]))
    return res


def check_svg(path):
    check(os.path.isfile(path) and os.path.getsize(path) > 0, "%s exists, non-empty" % path)
    if not os.path.isfile(path):
        return
    try:
        root = ET.parse(path).getroot()
        check(root.tag.endswith("svg"), "%s: root element is <svg>, not %s" % (path, root.tag))
    except ET.ParseError as e:
        check(False, "%s parses as XML: %s" % (path, e))


def write_doc(tmp, name, doc):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(doc, f)
    return d


# Made-up perblock figures, (bytes per block, usable bytes) per allocator
# and request size: the best of the others is mimalloc at 8 B and glibc at
# 100 B, and liballocator is at 2.00 and 0.95 of it.
PERBLOCK = {8: {"glibc": (32.0, 24), "liballocator": (16.2, 16), "mimalloc": (8.1, 8)},
            100: {"glibc": (112.3, 104), "liballocator": (106.7, 104), "mimalloc": (112.9, 112)}}


def with_perblock(doc):
    """doc (not changed) with perblock-8 and perblock-100 rows added."""
    doc = json.loads(json.dumps(doc))
    for n, cells in PERBLOCK.items():
        name = "perblock-%d" % n
        doc["time"]["workloads"].append({
            "name": name, "description": "%d B blocks" % n, "group": "memory",
            "in_means": False, "kind": "synthetic", "scaling_baseline": False,
            "scaling_of": None, "skipped": None, "threads": 1})
        for alloc, (per, usable) in cells.items():
            f = {"bytes_per_block": per, "usable_bytes": usable}
            doc["time"]["results"].append({
                "workload": name, "allocator": alloc, "status": "ok", "detail": "", "reps": 1,
                "time_s": 0.1, "time_min_s": 0.1, "time_max_s": 0.1, "rss_kib": 40000,
                "figures": f, "figures_per_run": [f]})
    return doc


def check_perblock_report(tmp, doc):
    d = write_doc(tmp, "perblock-results", with_perblock(doc))
    out = os.path.join(tmp, "perblock", "REPORT.md")
    report([d, "--out", out])
    with open(out) as f:
        md = f.read()
    for needle in ("| allocator | 8 B | 100 B |", "| liballocator | 16.2 (16) | **106.7 (104)** |",
                   "| best of the others | 8.1 (mimalloc) | 112.3 (glibc) |",
                   "| liballocator / best | 2.00 | 0.95 |"):
        check(needle in md, "REPORT.md's perblock table contains %r" % needle)
    res = report([d, "--out", os.path.join(tmp, "perblock-pub", "REPORT.md"), "--publish",
                  "--force", "--publish-dir", os.path.join(tmp, "perblock-images")])
    check("| bytes per live block of 8/100 B | 32.0 / 112.3 | 16.2 / 106.7 | 8.1 / 112.9 |"
          in res.stdout, "--publish prints the bytes per block line:\n" + res.stdout)


def check_perblock_run_table():
    """bench/run.py's own table, from the same figures."""
    import run as run_module
    names = ["glibc", "liballocator", "mimalloc"]
    ws = [w for w in run_module.WORKLOADS if w.prog == "w_perblock"]
    check([int(w.mode) for w in ws] == [8, 16, 24, 100, 1000]
          and all(w.group == "memory" and not w.in_means for w in ws),
          "run.py has perblock rows for 8, 16, 24, 100 and 1000 B, memory, out of the means")
    ws = [w for w in ws if int(w.mode) in PERBLOCK]
    cells = {}
    for w in ws:
        for n, (per, usable) in PERBLOCK[int(w.mode)].items():
            cells[(w.name, n)] = {"figures": {"bytes_per_block": per, "usable_bytes": usable}}
    lines = []
    run_module.print_perblock_table(lambda line="": lines.append(line), ws, names, cells, 12)
    text = "\n".join(lines)
    for needle in ("best other         8.1     112.3", "  (which)     mimalloc     glibc",
                   "ours/best         2.00      0.95", "liballocator        16       104"):
        check(needle in text, "run.py's perblock table contains %r:\n%s" % (needle, text))


def check_noisy_rows():
    """bench/run.py picks for more rounds the speed rows whose repetitions
    spread over more than the limit for some allocator, and no other."""
    import run as run_module

    def runs_of(*walls):
        out = []
        for t in walls:
            r = run_module.Run()
            r.wall_s = t
            out.append(r)
        return out

    ws = {w.name: w for w in run_module.WORKLOADS}
    quiet, noisy, memory = ws["pairs"], ws["larson-2t"], ws["pinned"]
    allocs = [("glibc", ""), ("liballocator", "x")]
    runs = {("pairs", "glibc"): runs_of(0.29, 0.30, 0.31),
            ("pairs", "liballocator"): runs_of(0.20, 0.21, 0.22),
            # three repetitions at 0.20 s and one at 0.70 s: spread 2.5
            ("larson-2t", "glibc"): runs_of(0.60, 0.61, 0.62, 0.60),
            ("larson-2t", "liballocator"): runs_of(0.20, 0.70, 0.20, 0.21),
            ("pinned", "glibc"): runs_of(0.1, 0.5, 0.1)}
    picked = run_module.noisy_rows([quiet, noisy, memory], allocs, runs, 0.5)
    check([w.name for w in picked] == ["larson-2t"],
          "noisy_rows picks larson-2t only: %r" % [w.name for w in picked])
    failed = runs_of(0.20, 0.70, 0.20)
    failed[1].status = "crash"
    runs[("larson-2t", "liballocator")] = failed
    picked = run_module.noisy_rows([noisy], allocs, runs, 0.5)
    check(picked == [], "a failed repetition is not counted in the spread: %r" % picked)


def main():
    gnuplot = os.environ.get("GNUPLOT") or shutil.which("gnuplot")
    if not gnuplot or not shutil.which(gnuplot):
        print("skip: gnuplot not found (Debian package gnuplot-nox)")
        return SKIP
    os.environ["GNUPLOT"] = gnuplot
    with open(os.path.join(FIXTURE, "summary.json")) as f:
        doc = json.load(f)
    workloads = [w["name"] for w in doc["time"]["workloads"]]
    allocators = [a["name"] for a in doc["allocators"]]

    with tempfile.TemporaryDirectory(prefix="test_report-") as tmp:
        # The fixture as it is: every chart, every name.
        out = os.path.join(tmp, "full", "REPORT.md")
        report([FIXTURE, "--out", out])
        with open(out) as f:
            md = f.read()
        for name in workloads + allocators:
            check("`%s`" % name in md or "| %s |" % name in md,
                  "REPORT.md mentions %s" % name)
        for needle in ("2026-12-04 21:50", "Xeon(R) Processor, 2 CPUs",
                       "`bench/run.py --build-dir build --quick -a liballocator,mimalloc -w ",
                       "CRASH", "## Instructions per malloc+free", "geometric mean",
                       # time and RSS side by side; a tiny process's RSS in MiB
                       "glibc: time, peak RSS", "liballocator: time, RSS",
                       # each allocator's own purge and its decay defaults
                       "`malloc_trim(0)`", "`mi_collect(true)`", "ALLOCATOR_DECAY_MS",
                       "decommit_delay", "after 11 s idle",
                       # the largefree rows' RSS beside their times
                       "peak MiB, K = 1000"):
            check(needle in md, "REPORT.md contains %r" % needle)
        pairs = [l for l in md.splitlines() if l.startswith("| `pairs` |")][:1]
        check(len(pairs) == 1 and pairs[0].count(" MiB") >= 2,
              "the pairs row (a tiny process) gives RSS in MiB: %r" % pairs)
        with open(os.path.join(tmp, "full", "charts", "bench-memory.svg")) as f:
            svg = f.read()
        check("rotate(-90" in svg, "the memory chart writes its bar values upright")
        for chart in CHARTS:
            check_svg(os.path.join(tmp, "full", "charts", chart + ".svg"))
            check("](charts/%s.svg)" % chart in md, "REPORT.md links charts/%s.svg" % chart)

        # --publish copies the charts and prints the README snippet; the
        # fixture's run chose its workloads and allocators (-w, -a), so
        # only with --force.
        images = os.path.join(tmp, "images")
        report([FIXTURE, "--out", os.path.join(tmp, "pub0", "REPORT.md"), "--publish",
                "--publish-dir", images], expect_rc=1)
        check(not os.path.exists(images), "a run with -w and -a is not published")
        res = report([FIXTURE, "--out", os.path.join(tmp, "pub", "REPORT.md"), "--publish",
                      "--force", "--publish-dir", images])
        for chart in CHARTS:
            check_svg(os.path.join(images, chart + ".svg"))
        check("bench-time.svg)" in res.stdout and "Xeon(R) Processor" in res.stdout
              and "bench/run.py --build-dir build --quick" in res.stdout
              and "glibc: time, peak RSS" in res.stdout
              and "after the allocator's own purge call" in res.stdout
              and "peak RSS of the same runs" in res.stdout,
              "--publish prints the README snippet and tables:\n" + res.stdout)

        # Schema 2: no decay defaults, purge, memret-decay-long.
        v2 = json.loads(json.dumps(doc))
        v2["schema_version"] = 2
        del v2["time"]["decay_defaults"], v2["config"]["decay_long_wait_ms"]
        v2["time"]["workloads"] = [w for w in v2["time"]["workloads"]
                                   if w["name"] != "memret-decay-long"]
        v2["time"]["results"] = [r for r in v2["time"]["results"]
                                 if r["workload"] != "memret-decay-long"]
        for r in v2["time"]["results"]:
            r.pop("purge", None)
        out = os.path.join(tmp, "v2", "REPORT.md")
        report([write_doc(tmp, "v2-results", v2), "--out", out])
        check_svg(os.path.join(tmp, "v2", "charts", "bench-memory.svg"))

        # Schema 1: no groups, geomeans not keyed by group, no figures.
        v1 = json.loads(json.dumps(doc))
        v1["schema_version"] = 1
        v1["time"]["workloads"] = [w for w in v1["time"]["workloads"] if w["group"] == "speed"]
        keep = {w["name"] for w in v1["time"]["workloads"]}
        for w in v1["time"]["workloads"]:
            del w["group"], w["in_means"]
        v1["time"]["results"] = [r for r in v1["time"]["results"] if r["workload"] in keep]
        v1["time"]["geomeans"] = v1["time"]["geomeans"]["speed"]
        out = os.path.join(tmp, "v1", "REPORT.md")
        report([write_doc(tmp, "v1-results", v1), "--out", out])
        check_svg(os.path.join(tmp, "v1", "charts", "bench-time.svg"))

        # A time-only run: no instruction chart, and nothing to publish.
        partial = json.loads(json.dumps(doc))
        del partial["instructions"]
        d = write_doc(tmp, "partial-results", partial)
        out = os.path.join(tmp, "partial", "REPORT.md")
        report([d, "--out", out])
        check(not os.path.exists(os.path.join(tmp, "partial", "charts",
                                              "bench-instructions.svg")),
              "no instruction chart without instruction counts")
        report([d, "--out", out, "--publish", "--publish-dir", os.path.join(tmp, "images2")],
               expect_rc=1)
        check(not os.path.exists(os.path.join(tmp, "images2")), "a partial run is not published")

        check_perblock_report(tmp, doc)

    # --run hands everything after it to bench/run.py (make bench-report).
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(REPORT))
    import report as report_module
    args = report_module.parse_args(["--out", "x.md", "--run", "--", "--build-dir", "build",
                                     "--quick", "-w", "pairs"])
    check(args.run == ["--build-dir", "build", "--quick", "-w", "pairs"] and args.out == "x.md",
          "--run passes the rest to run.py: %r" % args.run)
    check_perblock_run_table()
    check_noisy_rows()

    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("test_report: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
