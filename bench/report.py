#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/report.py: REPORT.md and charts from one bench/run.py results directory.

Reads <results>/summary.json only (schema 1 to 3, see results/README.md),
runs no benchmark unless told to (--run), and writes REPORT.md (date,
machine, command, tables, geometric means) with the charts drawn by
gnuplot beside it in charts/.  --publish copies the charts to docs/images/, which is committed
(bench/results/ is not), and prints the Markdown for the top-level README.
Standard library only, plus the gnuplot program; run it with /usr/bin/python3.

  bench/report.py                        bench/results/latest -> bench/results/REPORT.md
  bench/report.py bench/results/20261124-020442 --out /tmp/r/REPORT.md
  bench/report.py --publish              also copy the charts to docs/images/
  bench/report.py --run -- --quick       run bench/run.py --quick first, then report on
                                         the directory that run wrote (`make bench-report`)
"""

import argparse
import datetime
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
PUBLISH_DIR = os.path.join(REPO_DIR, "docs", "images")
KNOWN_SCHEMAS = (1, 2, 3)
# A process whose peak RSS under glibc is below this is "tiny": a fixed
# MiB or two of an allocator's own makes a large ratio of it (1.5 MiB
# against 6.8 MiB reads as 4.6x), so its RSS is shown in MiB, and it stays
# out of the side-by-side table's RSS mean.  MiB.
SMALL_RSS_MIB = 16
GROUPS = ("speed", "memory")
OURS = "liballocator"  # the allocator the "ours / best" line of the perblock table is about

# One colour per allocator in every chart, so a reader learns them once;
# liballocator gets the loudest one.  Unknown names take the spares.
COLOURS = {"glibc": "#7f7f7f", "liballocator": "#d62728", "jemalloc": "#1f77b4",
           "tcmalloc": "#2ca02c", "mimalloc": "#9467bd"}
SPARE_COLOURS = ("#ff7f0e", "#8c564b", "#17becf", "#bcbd22")

# The published file names (docs/images/<name>.svg): the README links them,
# so they must not change with the run.
CHARTS = (
    ("bench-time", "wall time relative to glibc"),
    ("bench-rss", "peak RSS relative to glibc"),
    ("bench-instructions", "instructions per malloc+free"),
    ("bench-memory", "memory returned and large free blocks"),
)


def log(msg):
    print("report: " + msg, file=sys.stderr, flush=True)


# ---- the results ---------------------------------------------------------------


class Results:
    """summary.json, with schema 1 brought to the shape of schema 2.

    Schema 1 has no workload groups: every row is "speed", a row counts in
    the means unless it is a scaling baseline, and geomeans is not keyed
    by group.
    """

    def __init__(self, results_dir):
        self.dir = os.path.realpath(results_dir)
        path = os.path.join(self.dir, "summary.json")
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise SystemExit("report: cannot read %s: %s" % (path, e))
        self.doc = doc
        self.schema = doc.get("schema_version", 1)
        if self.schema not in KNOWN_SCHEMAS:
            log("warning: %s has schema_version %s; this script knows %s"
                % (path, self.schema, ", ".join(map(str, KNOWN_SCHEMAS))))
        self.machine = doc.get("machine") or {}
        self.config = doc.get("config") or {}
        self.allocators = doc.get("allocators") or []
        self.names = [a["name"] for a in self.allocators]
        self.notes = doc.get("notes") or []
        t = doc.get("time") or {}
        self.has_time = bool(t.get("results"))
        self.workloads = []
        for w in t.get("workloads", []):
            w = dict(w)
            w.setdefault("group", "speed")
            w.setdefault("in_means", not w.get("scaling_baseline"))
            self.workloads.append(w)
        self.cells = {(r["workload"], r["allocator"]): r for r in t.get("results", [])}
        gm = t.get("geomeans") or {}
        if gm and all(isinstance(v, dict) and "of" in v for v in gm.values()):
            gm = {"speed": gm}
        self.geomeans = gm
        self.scaling = t.get("scaling") or {}
        self.probe = t.get("parallelism_probe") or []
        self.glibc_substitutes = t.get("glibc_substitutes") or {}
        self.problems = t.get("problems") or []
        # Schema 3: how each allocator gives memory back by itself.
        self.decay = t.get("decay_defaults") or {}
        self.ins = doc.get("instructions") or None

    def cell(self, workload, alloc):
        return self.cells.get((workload, alloc), {})

    def ran(self, w):
        return not w.get("skipped") and any((w["name"], n) in self.cells for n in self.names)

    def rows(self, group, in_means=None):
        return [w for w in self.workloads if w["group"] == group and self.ran(w)
                and (in_means is None or w["in_means"] == in_means)]

    def figure_rows(self, figure):
        """Workloads whose cells carry this figure (memret, largefree)."""
        return [w for w in self.workloads if self.ran(w)
                and any(figure in (self.cell(w["name"], n).get("figures") or {})
                        for n in self.names)]

    def stamp(self):
        return self.doc.get("started") or os.path.basename(self.dir)

    def date(self):
        try:
            return datetime.datetime.strptime(self.stamp(), "%Y%m%d-%H%M%S").strftime(
                "%Y-%m-%d %H:%M")
        except ValueError:
            return self.stamp()

    def machine_line(self):
        m = self.machine
        parts = [m.get("cpu_model") or "unknown CPU"]
        if m.get("nproc"):
            cpus = "%d CPUs" % m["nproc"]
            if m.get("cpus_available") and m["cpus_available"] != m["nproc"]:
                cpus += " (%d available)" % m["cpus_available"]
            parts.append(cpus)
        mem = (m.get("mem_total") or "").split()
        if len(mem) == 2 and mem[1] == "kB" and mem[0].isdigit():
            parts.append("%.0f GiB RAM" % (int(mem[0]) / 1048576.0))
        if m.get("kernel"):
            parts.append(m["kernel"].split(" #")[0])
        if m.get("glibc"):
            parts.append(m["glibc"])
        return ", ".join(parts)

    def command(self):
        """run.py's command line as typed, without the interpreter path."""
        cmd = self.doc.get("command") or "bench/run.py"
        for prefix in ("/usr/bin/python3 ", "python3 "):
            if cmd.startswith(prefix):
                return cmd[len(prefix):]
        return cmd

    def run_kind(self):
        """A few words on how representative the run is."""
        c = self.config
        words = []
        if c.get("quick"):
            words.append("quick run")
        if c.get("reps") is not None:
            words.append("%d repetition%s" % (c["reps"], "" if c["reps"] == 1 else "s"))
        if c.get("scale") not in (None, 1.0):
            words.append("scale %g" % c["scale"])
        return ", ".join(words)

    def missing_for_publish(self):
        """What the run lacks of what the published charts show."""
        c = self.config
        missing = []
        if not self.has_time:
            missing.append("the time mode")
        if not self.ins:
            missing.append("the instruction mode")
        if c.get("group"):
            missing.append("every group (it ran --group %s)" % c["group"])
        words = self.command().split()
        if "-w" in words or "--workloads" in self.command():
            missing.append("every workload (it ran -w)")
        if "-a" in words or "--allocators" in self.command():
            missing.append("every allocator (it ran -a)")
        return missing


def allocator_colour(names, name):
    if name in COLOURS:
        return COLOURS[name]
    extra = [n for n in names if n not in COLOURS]
    return SPARE_COLOURS[extra.index(name) % len(SPARE_COLOURS)]


def workload_k(name):
    """K of a largefree row from its name: largefree-10k -> 10000."""
    label = name.rsplit("-", 1)[-1].lower()
    mult = {"k": 1000, "m": 1000000}.get(label[-1:], 1)
    digits = label.rstrip("km")
    return int(digits) * mult if digits.isdigit() else None


# ---- gnuplot ---------------------------------------------------------------------


def gp_str(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def terminal(fmt, width, height):
    # noenhanced: workload names hold "-" and "_" that enhanced text would
    # turn into sub/superscripts.  A white background, because GitHub's
    # dark theme puts a transparent chart's black text on black.
    if fmt == "svg":
        return ('set terminal svg size %d,%d dynamic noenhanced font "sans,12" '
                'background "#ffffff"' % (width, height))
    return ('set terminal pngcairo size %d,%d noenhanced font "sans,10" '
            'background "#ffffff"' % (width, height))


def log_ticks(lo, hi):
    """1-2-5 ticks covering [lo, hi] on a log axis; denser on a short one."""
    mantissas = (1, 2, 5) if hi / lo > 30 else (1, 1.5, 2, 3, 5, 7)
    ticks = []
    for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in mantissas:
            t = m * 10.0 ** e
            if lo <= t <= hi:
                ticks.append(t)
    return ticks


def tick_label(t):
    return ("%.3f" % t).rstrip("0").rstrip(".")


def datablock(name, rows):
    lines = ["$%s << EOD" % name]
    lines += [" ".join(str(x) for x in r) for r in rows]
    lines.append("EOD")
    return lines


def run_gnuplot(gnuplot, script, path):
    with tempfile.NamedTemporaryFile("w", suffix=".gp", delete=False) as f:
        f.write(script)
        script_path = f.name
    try:
        res = subprocess.run([gnuplot, script_path], capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(script_path)
    drawn = os.path.exists(path) and os.path.getsize(path) > 0
    if res.returncode != 0 or not drawn:
        raise SystemExit("report: gnuplot failed drawing %s (rc %d):\n%s\n--- script ---\n%s"
                         % (path, res.returncode, res.stderr.strip(), script))
    # gnuplot says "warning: ..." for things it silently drops (a label off
    # the canvas, an empty range): pass those on.
    for line in res.stderr.splitlines():
        if line.strip():
            log("gnuplot (%s): %s" % (os.path.basename(path), line.strip()))


def bar_positions(n_bars, width=0.8):
    """x offsets of n bars in a cluster centred on 0, and the bar width."""
    w = width / n_bars
    return [-width / 2 + (j + 0.5) * w for j in range(n_bars)], w


class Chart:
    """The common parts of a chart: terminal, title, subtitle, output."""

    def __init__(self, res, fmt, path, width, height):
        self.res, self.path = res, path
        self.lines = [terminal(fmt, width, height), "set encoding utf8",
                      "set output %s" % gp_str(path)]

    def subtitle(self):
        r = self.res
        kind = r.run_kind()
        return "%s · %s\n%s%s" % (r.date(), r.machine_line(), r.command(),
                                   " (%s)" % kind if kind else "")

    def title(self, text):
        self.lines.append("set title %s" % gp_str(text + "\n" + self.subtitle()))

    def script(self):
        return "\n".join(self.lines + ["unset output"]) + "\n"


def ratio_chart(res, fmt, path, metric, what):
    """Grouped bars of <metric>_vs_glibc per workload, anchored at 1.0.

    Bars grow up or down from the line at 1.0 on a log axis, so 0.5 and
    2.0 look equally far from glibc.  glibc itself (always 1.0) has no bar.
    Each group's rows end with its geometric mean, on a grey background.
    """
    allocs = [n for n in res.names if n != "glibc"]
    clusters = []  # (x, label, {alloc: ratio or None}, is_mean)
    separators, group_labels = [], []
    partial = set()  # (cluster x, allocator) whose mean misses a failed row
    x = 0.0
    for group in GROUPS:
        rows = res.rows(group, in_means=True)
        if not rows:
            continue
        if clusters:
            separators.append(x - 0.25)
            x += 0.5
        group_labels.append((x - 0.45, "%s workloads" % group))
        for w in rows:
            clusters.append((x, w["name"], {a: res.cell(w["name"], a).get(metric + "_vs_glibc")
                                            for a in allocs}, False))
            x += 1
        gm = res.geomeans.get(group) or {}
        if gm:
            # Twice as wide as a row: its bars carry their values.
            x += 0.5
            clusters.append((x, "geometric mean", {a: (gm.get(a) or {}).get(metric + "_vs_glibc")
                                                   for a in allocs}, True))
            for a in allocs:
                g = gm.get(a) or {}
                if g.get("workloads", 0) < g.get("of", 0):
                    partial.add((x, a))
            x += 1.5
    if not clusters or not allocs:
        return False
    values = [v for _, _, d, _ in clusters for v in d.values() if v]
    lo = min(values + [1.0]) / 1.4
    hi = max(values + [1.0]) * 1.8  # room for the group labels and the key
    lo, hi = min(lo, 0.8), max(hi, 1.3)
    c = Chart(res, fmt, path, max(1000, int(48 * x + 220)), 580)
    c.title("%s relative to glibc, per workload (median of the runs; below 1 is better)" % what)
    offsets, bw = bar_positions(len(allocs))
    mean_offsets, mean_bw = bar_positions(len(allocs), 1.6)
    failed = []
    for j, a in enumerate(allocs):
        rows = []
        for cx, _, d, is_mean in clusters:
            v = d.get(a)
            bx = cx + (mean_offsets if is_mean else offsets)[j]
            if is_mean and v:
                rows.append((bx, v, bx - mean_bw / 2, bx + mean_bw / 2, min(v, 1.0), max(v, 1.0)))
            elif v:
                rows.append((bx, v, bx - bw / 2, bx + bw / 2, min(v, 1.0), max(v, 1.0)))
            else:
                failed.append((bx, a))
        c.lines += datablock("d%d" % j, rows or [(0, 1, 0, 0, 1, 1)])
    ticks = log_ticks(lo, hi)
    c.lines += [
        "set logscale y",
        "set yrange [%g:%g]" % (lo, hi),
        "set ytics (%s) nomirror" % ", ".join("%s %g" % (gp_str(tick_label(t)), t)
                                              for t in ticks),
        "set ylabel %s" % gp_str("%s / glibc (log scale)" % what),
        "set xrange [-0.7:%g]" % (x - 0.3),
        "set xtics (%s) rotate by 35 right nomirror scale 0"
        % ", ".join("%s %g" % (gp_str(label), cx) for cx, label, _, _ in clusters),
        "set grid ytics lc rgb '#e0e0e0' lw 1",
        "set key outside top center horizontal samplen 1.5",
        "set border 3",
        "set style fill solid 0.9 noborder",
        "set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 1.5 lc rgb '#000000' front",
    ]
    for cx, _, d, is_mean in clusters:
        if is_mean:
            c.lines.append("set object rect from %g, graph 0 to %g, graph 1 fc rgb '#eeeeee' "
                           "fs solid 1.0 noborder behind" % (cx - 0.95, cx + 0.95))
            # The means are the numbers people quote: print them, upright
            # so that four of them fit side by side.
            for j, a in enumerate(allocs):
                v = d.get(a)
                if v:
                    text = "%.2f%s" % (v, "*" if (cx, a) in partial else "")
                    c.lines.append("set label %s at %g, %g %s rotate by 90 font ',10' offset 0,%s"
                                   % (gp_str(text), cx + mean_offsets[j], v,
                                      "left" if v >= 1 else "right",
                                      "0.4" if v >= 1 else "-0.4"))
    for sx in separators:
        c.lines.append("set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc rgb '#999999'"
                       % (sx, sx))
    for gx, text in group_labels:
        c.lines.append("set label %s at %g, graph 0.96 left font ',11'" % (gp_str(text), gx))
    for bx, a in failed:
        # A missing bar would read as "equal to glibc": say it failed.
        c.lines.append("set label 'x' at %g, 1 center tc rgb %s font ',12'"
                       % (bx, gp_str(allocator_colour(res.names, a))))
    notes = []
    if failed:
        notes.append("x = failed or not measured")
    if partial:
        # A mean over fewer rows is not comparable with the others.
        notes.append("* mean without the failed rows")
    if notes:
        c.lines.append("set label %s at graph 0.99, graph 0.03 right font ',10'"
                       % gp_str(";  ".join(notes)))
    c.lines.append("plot " + ", ".join(
        "$d%d using 1:2:3:4:5:6 with boxxyerror lc rgb %s title %s"
        % (j, gp_str(allocator_colour(res.names, a)), gp_str(a)) for j, a in enumerate(allocs)))
    run_gnuplot(res.gnuplot, c.script(), path)
    return True


def bar_panel(res, lines, clusters, allocs, ylabel, value_fmt,
              key="outside top center horizontal", upright=False):
    """Plain bars from 0 with their values printed: few bars, exact numbers.

    value_fmt: a %-format or a function of the value.  upright: the values
    are written vertically, so that those of neighbouring narrow bars
    (five allocators in a cluster) cannot run into each other.
    """
    show = value_fmt if callable(value_fmt) else (lambda v: value_fmt % v)
    offsets, bw = bar_positions(len(allocs))
    values = [v for _, d in clusters for v in d.values() if v is not None]
    if not values:
        return
    top = max(values + [0.0])
    bottom = min(values + [0.0])
    # Upright values need room above the tallest bar for their length.
    lines += ["set yrange [%g:%g]" % (bottom * 1.15, top * (1.3 if upright else 1.18)
                                      if top > 0 else 1),
              "set xrange [-0.6:%g]" % (len(clusters) - 0.4),
              "set xtics (%s) nomirror scale 0"
              % ", ".join("%s %d" % (gp_str(label), i) for i, (label, _) in enumerate(clusters)),
              "set ylabel %s" % gp_str(ylabel),
              "set ytics nomirror",
              "set grid ytics lc rgb '#e0e0e0' lw 1",
              "set border 3", "set style fill solid 0.9 noborder",
              "set key %s samplen 1.5" % key]
    plots = []
    for j, a in enumerate(allocs):
        rows, labels = [], []
        for i, (_, d) in enumerate(clusters):
            v = d.get(a)
            if v is None:
                continue
            bx = i + offsets[j]
            rows.append((bx, v, bx - bw / 2, bx + bw / 2, min(v, 0.0), max(v, 0.0)))
            labels.append((bx, max(v, 0.0), show(v)))
        lines.extend(datablock("b%d" % j, rows or [(0, 0, 0, 0, 0, 0)]))
        lines.extend(datablock("l%d" % j, [(x, y, gp_str(t)) for x, y, t in labels]
                               or [(0, 0, '""')]))
        colour = gp_str(allocator_colour(res.names, a))
        plots.append("$b%d using 1:2:3:4:5:6 with boxxyerror lc rgb %s title %s"
                     % (j, colour, gp_str(a)))
        if upright:
            plots.append("$l%d using 1:2:3 with labels rotate by 90 left offset 0,0.4 "
                         "font ',10' notitle" % j)
        else:
            plots.append("$l%d using 1:2:3 with labels offset 0,0.6 font ',10' notitle" % j)
    lines.append("plot " + ", ".join(plots))


def instructions_chart(res, fmt, path):
    if not res.ins or not res.ins.get("table"):
        return False
    table = res.ins["table"]
    allocs = [n for n in res.names if n in table]
    clusters = [(label, {a: table[a].get(pattern, {}).get("net") for a in allocs})
                for pattern, label in (("pair", "pair: malloc, then free"),
                                       ("batch", "batch: 1000 mallocs, then their frees"))]
    c = Chart(res, fmt, path, max(1000, 110 * len(allocs) + 300), 500)
    c.title("Instructions per malloc+free (callgrind Ir, loop overhead subtracted; "
            "sizes %s B)" % res.ins.get("sizes_bytes", "16..1024"))
    bar_panel(res, c.lines, clusters, allocs, "instructions per malloc+free (fewer is better)",
              "%.0f")
    run_gnuplot(res.gnuplot, c.script(), path)
    return True


def memret_label(res, w, short=False):
    """What a memret row measured: for a table, or (short) a chart's axis."""
    name = w["name"]
    if name.endswith("trim"):
        return "own purge" if short else "after the allocator's own purge call"
    key = "decay_long_wait_ms" if name.endswith("-long") else "decay_wait_ms"
    wait = res.config.get(key)
    idle = "%g s" % (wait / 1000.0) if wait is not None else "a wait"
    return ("%s idle" % idle) if short else ("after %s idle, then 48 malloc+free calls" % idle)


def mib_text(v):
    """MiB as people read them: no decimals once they would be noise."""
    return "%.0f" % v if abs(v) >= 100 else "%.1f" % v


def k_rows(res, figure):
    """The rows whose cells carry this figure and whose names end in a K, by K."""
    return sorted((w for w in res.figure_rows(figure) if workload_k(w["name"])),
                  key=lambda w: workload_k(w["name"]))


def largefree_rows(res):
    return k_rows(res, "request_ns")


def perblock_bytes(name):
    """The request size of a perblock row from its name: perblock-100 -> 100."""
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if name.startswith("perblock-") and tail.isdigit() else None


def perblock_rows(res):
    return sorted((w for w in res.figure_rows("bytes_per_block") if perblock_bytes(w["name"])),
                  key=lambda w: perblock_bytes(w["name"]))


def perblock_figures(res, rows, name, key="bytes_per_block"):
    return [(res.cell(w["name"], name).get("figures") or {}).get(key) for w in rows]


def perblock_best(res, rows):
    """Per row: (bytes per block, allocator) of the best allocator other
    than OURS, or None."""
    best = []
    for i, _ in enumerate(rows):
        others = [(perblock_figures(res, rows, n)[i], n) for n in res.names if n != OURS]
        others = [o for o in others if o[0] is not None]
        best.append(min(others) if others else None)
    return best


def k_panel(res, c, large, title, ylabel, value, key):
    """One log-log panel of a largefree figure against K, a line per allocator."""
    ks = [workload_k(w["name"]) for w in large]
    c.lines += ["set title %s" % gp_str(title),
                "set logscale xy",
                "set xrange [%g:%g]" % (ks[0] / 1.6, ks[-1] * 1.6),
                "set yrange [*:*]",
                "set xtics (%s) nomirror" % ", ".join(
                    "%s %d" % (gp_str("%dk" % (k // 1000) if k >= 1000 else str(k)), k)
                    for k in ks),
                "set ytics auto nomirror",
                "set xlabel 'K free blocks of 8-18 KiB, kept apart by small live blocks'",
                "set ylabel %s" % gp_str(ylabel),
                "set grid xtics ytics lc rgb '#e0e0e0' lw 1",
                "set border 3",
                "set key %s" % key]
    plots = []
    for j, a in enumerate(res.names):
        pts = [(k, value(res.cell(w["name"], a))) for k, w in zip(ks, large)]
        pts = [(k, v) for k, v in pts if v]
        if not pts:
            continue
        name = "k%d_%d" % (len(c.lines), j)
        c.lines += datablock(name, pts)
        plots.append("$%s using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb %s title %s"
                     % (name, gp_str(allocator_colour(res.names, a)), gp_str(a)))
    c.lines.append("plot " + ", ".join(plots))
    c.lines += ["unset logscale", "unset xlabel", "set autoscale"]


def memory_chart(res, fmt, path):
    """Memory handed back after a big free (memret), and the time and RSS
    of searching many free blocks (largefree)."""
    memret = res.figure_rows("rss_end_kib")
    large = largefree_rows(res)
    if not memret and not large:
        return False
    panels = (1 if memret else 0) + (2 if large else 0)
    c = Chart(res, fmt, path, max(1000, 560 * panels + 160), 600)
    c.lines.append("set multiplot layout 1,%d title %s" % (
        panels, gp_str("Memory: RSS kept after freeing everything, and the time and RSS of "
                       "searching many free blocks\n" + c.subtitle())))
    if memret:
        clusters = []
        for w in memret:
            d = {}
            for a in res.names:
                f = res.cell(w["name"], a).get("figures") or {}
                if "rss_end_kib" in f and "rss_start_kib" in f:
                    d[a] = (f["rss_end_kib"] - f["rss_start_kib"]) / 1024.0
            clusters.append(("%s\n%s" % (w["name"], memret_label(res, w, short=True)), d))
        allocs = [a for a in res.names if any(a in d for _, d in clusters)]
        c.lines += ["set title 'RSS above the start after freeing 1 GiB (MiB; less is better)'",
                    "set bmargin 5"]
        # One key, right of this panel, serves every panel: the colours are
        # the same.
        bar_panel(res, c.lines, clusters, allocs, "MiB still resident", mib_text,
                  key="outside right top vertical", upright=True)
        c.lines += ["unset label", "unset arrow", "unset object", "unset logscale",
                    "set autoscale"]
    if large:
        k_panel(res, c, large, "ns per malloc+free among K free blocks (flat = O(log K); "
                "less is better)", "ns per malloc+free (log scale)",
                lambda cell: (cell.get("figures") or {}).get("request_ns"),
                "off" if memret else "outside right top vertical samplen 1.5")
        k_panel(res, c, large, "peak RSS of the same runs (MiB; less is better)",
                "peak RSS, MiB (log scale)",
                lambda cell: cell["rss_kib"] / 1024.0 if cell.get("rss_kib") else None, "off")
    c.lines.append("unset multiplot")
    run_gnuplot(res.gnuplot, c.script(), path)
    return True


def draw_charts(res, charts_dir, fmt):
    """{chart name: path} for the charts this results directory can feed."""
    os.makedirs(charts_dir, exist_ok=True)
    drawn = {}
    for name, what in CHARTS:
        path = os.path.join(charts_dir, "%s.%s" % (name, fmt))
        if os.path.exists(path):
            os.unlink(path)  # a stale chart from another run must not be linked
        if name == "bench-time":
            ok = res.has_time and ratio_chart(res, fmt, path, "time", "Wall time")
        elif name == "bench-rss":
            ok = res.has_time and ratio_chart(res, fmt, path, "rss", "Peak RSS")
        elif name == "bench-instructions":
            ok = instructions_chart(res, fmt, path)
        else:
            ok = res.has_time and memory_chart(res, fmt, path)
        if ok:
            log("drew %s" % os.path.relpath(path))
            drawn[name] = path
        else:
            log("no data for %s: skipped" % what)
    return drawn


# ---- Markdown ------------------------------------------------------------------


def md_table(head, rows, align=None):
    align = align or ["l"] + ["r"] * (len(head) - 1)
    sep = {"l": "---", "r": "--:", "c": ":-:"}
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(sep[a] for a in align) + " |"]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return out


def num(x, spec):
    return spec % x if x is not None else "–"


def bold_min(cells, values):
    """Bold the cell with the smallest value: the best of the row."""
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return cells
    best = min(present)
    return ["**%s**" % c if v == best else c for c, v in zip(cells, values)]


def status_text(cell):
    s = cell.get("status") or "not run"
    return s.upper() if s != "not run" else "not run"


def is_tiny(res, workload):
    rss = res.cell(workload, "glibc").get("rss_kib")
    return rss is not None and rss / 1024.0 < SMALL_RSS_MIB


def side_by_side_table(res, rows, bold=True):
    """Workloads x allocators, time and peak RSS in each cell: glibc's in
    seconds and MiB, the others' time as a ratio to glibc's, their RSS as
    a ratio too, or in MiB where the process is tiny (SMALL_RSS_MIB).
    The last row: the geometric means, RSS over the rows that are not
    tiny."""
    others = [n for n in res.names if n != "glibc"]
    head = ["workload", "glibc: time, peak RSS"] + ["%s: time, RSS" % n for n in others]
    out = []
    for w in rows:
        tiny = is_tiny(res, w["name"])
        g = res.cell(w["name"], "glibc")
        if g.get("time_s") is None:
            cells = [status_text(g)]
        else:
            rss = g.get("rss_kib")
            cells = ["%.3f s, %s MiB" % (g["time_s"], num(rss / 1024.0 if rss else None, "%.1f"))]
        for n in others:
            c = res.cell(w["name"], n)
            if c.get("time_s") is None:
                cells.append(status_text(c))
                continue
            if tiny:
                rss = c.get("rss_kib")
                r = "%s MiB" % num(rss / 1024.0 if rss else None, "%.1f")
            else:
                r = num(c.get("rss_vs_glibc"), "%.2f")
            cells.append("%s, %s" % (num(c.get("time_vs_glibc"), "%.2f"), r))
        name = "`%s`" % w["name"] + (" *(1-thread baseline)*" if w.get("scaling_baseline") else "")
        out.append([name] + cells)
    gm = res.geomeans.get(rows[0]["group"]) if rows else None
    if gm:
        big = [w for w in rows if w["in_means"] and not is_tiny(res, w["name"])]
        cells, times = ["1.00, 1.00"], []
        for n in others:
            g = gm.get(n) or {}
            t = g.get("time_vs_glibc")
            rs = [res.cell(w["name"], n).get("rss_vs_glibc") for w in big]
            rs = [r for r in rs if r]
            r = math.exp(sum(math.log(x) for x in rs) / len(rs)) if rs else None
            # * : a mean that misses a failed row is not comparable.
            cells.append("%s, %s%s" % (num(t, "%.3f"), num(r, "%.3f"),
                                       "*" if g.get("workloads", 0) < g.get("of", 0) else ""))
            times.append(t)
        if bold:
            cells = [cells[0]] + bold_min(cells[1:], times)
        out.append(["**geometric mean** (RSS: the %d rows from %d MiB; * without a failed row)"
                    % (len(big), SMALL_RSS_MIB)] + cells)
    return md_table(head, out)


def absolute_table(res, rows):
    head = ["workload"] + res.names
    out = []
    for w in rows:
        line = ["`%s`" % w["name"]]
        for n in res.names:
            c = res.cell(w["name"], n)
            if c.get("time_s") is None:
                line.append(status_text(c))
                continue
            spread = ""
            if (c.get("reps") or 0) > 1 and c.get("time_max_s") is not None and c["time_s"]:
                spread = " ±%.0f%%" % ((c["time_max_s"] - c["time_min_s"]) / c["time_s"] * 100)
            rss = c.get("rss_kib")
            line.append("%.3f s%s, %s MiB" % (c["time_s"], spread,
                                               num(rss / 1024.0 if rss else None, "%.1f")))
        out.append(line)
    return md_table(head, out)


def geomean_table(res, group):
    gm = res.geomeans.get(group) or {}
    head = ["allocator", "time / glibc", "time / mimalloc", "RSS / glibc", "RSS / mimalloc",
            "workloads counted"]
    cols = ("time_vs_glibc", "time_vs_mimalloc", "rss_vs_glibc", "rss_vs_mimalloc")
    rows = [[n] + [num((gm.get(n) or {}).get(k), "%.3f") for k in cols]
            + ["%s of %s" % ((gm.get(n) or {}).get("workloads", "–"),
                             (gm.get(n) or {}).get("of", "–"))]
            for n in res.names if n in gm]
    # Bold the best of each column.
    for i, k in enumerate(cols):
        vals = [(gm.get(r[0]) or {}).get(k) for r in rows]
        col = bold_min([r[i + 1] for r in rows], vals)
        for r, v in zip(rows, col):
            r[i + 1] = v
    return md_table(head, rows)


def decay_table(res):
    """How each allocator gives memory back by itself (schema 3)."""
    if not res.decay:
        return []
    rows = [[n, res.decay[n].replace("|", "\\|")] for n in res.names if n in res.decay]
    return (["", "How each allocator gives free memory back without being asked (its defaults, "
             "as the installed library reports them; memret-decay waits %s ms, "
             "memret-decay-long %s ms):" % (res.config.get("decay_wait_ms", "?"),
                                              res.config.get("decay_long_wait_ms", "?")), ""]
            + md_table(["allocator", "by itself"], rows, ["l", "l"]))


def memret_tables(res):
    out = decay_table(res)
    for w in res.figure_rows("rss_end_kib"):
        decay = any("rss_waited_kib" in (res.cell(w["name"], n).get("figures") or {})
                    for n in res.names)
        trim = not decay
        purges = any(res.cell(w["name"], n).get("purge") for n in res.names)
        last = "after decay" if decay else "after trim"
        head = (["allocator", "start", "peak", "after free"] + (["waited"] if decay else [])
                + [last, "end − start", "worst end − start", "runs"]
                + (["purge called"] if trim and purges else []))
        rows = []
        for n in res.names:
            c = res.cell(w["name"], n)
            f = c.get("figures")
            if not f:
                rows.append([n, status_text(c)] + [""] * (len(head) - 2))
                continue
            mib = {k: v / 1024.0 for k, v in f.items()}
            grew = [(r["rss_end_kib"] - r["rss_start_kib"]) / 1024.0
                    for r in c.get("figures_per_run") or [f]]
            rows.append([n, "%.1f" % mib["rss_start_kib"], "%.1f" % mib["rss_peak_kib"],
                         "%.1f" % mib["rss_freed_kib"]]
                        + (["%.1f" % mib.get("rss_waited_kib", float("nan"))] if decay else [])
                        + ["%.1f" % mib["rss_end_kib"],
                           "%+.1f" % sorted(grew)[len(grew) // 2], "%+.1f" % max(grew),
                           str(c.get("reps", len(grew)))]
                        + (["`%s`" % c.get("purge", "?")] if trim and purges else []))
        out += ["", "`%s` (%s) — RSS in MiB, read by the program from /proc/self/statm "
                "(median of the runs):" % (w["name"], memret_label(res, w)), ""]
        out += md_table(head, rows)
    return out


def k_table(res, rows, figure, caption):
    """A figure of rows that differ by K (their names' ends) against K, an
    allocator a line, with the last K's over the first's and the peak RSS
    of the same runs."""
    if not rows:
        return []
    ks = [workload_k(w["name"]) for w in rows]
    head = (["allocator"] + ["ns, K = %d" % k for k in ks]
            + (["K = %d / K = %d" % (ks[-1], ks[0])] if len(ks) > 1 else [])
            + ["peak MiB, K = %d" % k for k in ks])
    out = []
    for n in res.names:
        cells = [res.cell(w["name"], n) for w in rows]
        ns = [(c.get("figures") or {}).get(figure) for c in cells]
        line = [n] + [num(v, "%.1f") for v in ns]
        if len(ks) > 1:
            line.append(num(ns[-1] / ns[0] if ns[-1] and ns[0] else None, "%.2f"))
        line += [num(c["rss_kib"] / 1024.0 if c.get("rss_kib") else None, "%.1f") for c in cells]
        out.append(line)
    return (["", "`%s` — %s, and the peak RSS of the same runs:"
             % ("`, `".join(w["name"] for w in rows), caption), ""]
            + md_table(head, out))


def largefree_table(res):
    return k_table(res, largefree_rows(res), "request_ns",
                   "ns per malloc+free among K free blocks (median of the runs; flat across K "
                   "means O(log K) or better)")


def lastfree_table(res):
    return k_table(res, k_rows(res, "last_free_ns"), "last_free_ns",
                   "ns per free of the last live block in 64 KiB, among K blocks of 100 B "
                   "(median of the runs; flat across K: nothing walks the emptied pages)")


def perblock_table(res):
    """Issue 13's table: resident bytes per live block, allocators x request
    sizes, the best of the others and ours / best."""
    rows = perblock_rows(res)
    if not rows:
        return []
    sizes = [perblock_bytes(w["name"]) for w in rows]
    per = {n: perblock_figures(res, rows, n) for n in res.names}
    usable = {n: perblock_figures(res, rows, n, "usable_bytes") for n in res.names}
    cols = [[] for _ in rows]  # the cells of each size, bolded per column below
    for i in range(len(rows)):
        for n in res.names:
            cols[i].append("–" if per[n][i] is None else "%.1f (%s)"
                           % (per[n][i], num(usable[n][i], "%.0f")))
        cols[i] = bold_min(cols[i], [per[n][i] for n in res.names])
    out = [[n] + [cols[i][j] for i in range(len(rows))] for j, n in enumerate(res.names)]
    best = perblock_best(res, rows)
    out.append(["best of the others"] + ["%.1f (%s)" % b if b else "–" for b in best])
    if OURS in res.names:
        out.append(["%s / best" % OURS] + [num(per[OURS][i] / b[0] if b and b[0] and
                                                per[OURS][i] is not None else None, "%.2f")
                                            for i, b in enumerate(best)])
    return (["", "`%s` — resident bytes per live block of one request size, (RSS after − RSS "
             "before) / count, read by the program from /proc/self/statm (median of the runs); "
             "in parentheses `malloc_usable_size` of a block, the slot without its metadata. "
             "Issue 13's target: %s / best at most 1.00:" % ("`, `".join(w["name"] for w in rows),
                                                              OURS), ""]
            + md_table(["allocator"] + ["%d B" % n for n in sizes], out))


def scaling_table(res):
    cols = []
    for per in res.scaling.values():
        for k in per:
            if k not in cols:
                cols.append(k)
    if not cols:
        return []
    rows = []
    for n in res.names:
        per = res.scaling.get(n) or {}
        rows.append([n] + ["%.2f%s" % (per[k], "" if per[k] >= 1.8 else " (<1.8)")
                           if per.get(k) is not None else "–" for k in cols])
    out = ["", "## Scaling", "",
           "Work done by 2 threads in the time of 1 (T 1 thread / T 2 threads, same total work, "
           "T = the parallel phase as the program times it). Target ≥ 1.80 on 2 cores.", ""]
    out += md_table(["allocator"] + ["`%s`" % k for k in cols], rows)
    if res.probe:
        ps = sorted(res.probe)
        out += ["", "Parallelism probe (2 independent glibc processes against 1; 2.00 = two idle "
                "cores): median %.2f, min %.2f. The scaling ratios mean little unless it is close "
                "to 2.00." % (ps[len(ps) // 2], ps[0])]
    return out


def instructions_table(res):
    if not res.ins or not res.ins.get("table"):
        return []
    t = res.ins["table"]
    g = t.get("glibc") or {}
    rows = []
    for n in res.names:
        if n not in t:
            continue
        p, b = t[n].get("pair", {}), t[n].get("batch", {})
        rows.append([n, num(p.get("net"), "%.1f"),
                     num(p["net"] / g["pair"]["net"] if p.get("net") is not None and
                         g.get("pair", {}).get("net") else None, "%.2f"),
                     num(b.get("net"), "%.1f"),
                     num(b["net"] / g["batch"]["net"] if b.get("net") is not None and
                         g.get("batch", {}).get("net") else None, "%.2f"),
                     "%s / %s" % (num(p.get("loop"), "%.1f"), num(b.get("loop"), "%.1f"))])
    out = ["", "## Instructions per malloc+free", "",
           "callgrind Ir per malloc+free, (Ir(2N) − Ir(N)) / N with N = %s, minus the same loop "
           "calling no-op functions; sizes cycle over %s B. `pair`: malloc then free; `batch`: "
           "1000 mallocs, then their frees." % (res.ins.get("iterations", "?"),
                                                res.ins.get("sizes_bytes", "?")), ""]
    out += md_table(["allocator", "pair", "pair / glibc", "batch", "batch / glibc",
                     "loop overhead pair / batch"], rows)
    def net_rows(key):
        """Rows of figure `key` (runs from before it was measured have none)."""
        rows = []
        for n in res.names:
            p, b = (t.get(n) or {}).get("pair", {}), (t.get(n) or {}).get("batch", {})
            if p.get(key) is None:
                continue
            rows.append([n, num(p[key], "%.1f"),
                         num(p[key] / g["pair"][key] if g.get("pair", {}).get(key) else None,
                             "%.2f"),
                         num(b.get(key), "%.1f"),
                         num(b[key] / g["batch"][key] if b.get(key) is not None and
                             g.get("batch", {}).get(key) else None, "%.2f")])
        return rows

    for key, what in (("new_net", "C++'s `operator new` + `delete`: the allocator's own where "
                       "it exports them, else libstdc++'s, which call its malloc and free."),
                      ("aligned_net", "`aligned_alloc(64, n)` + `free` (C++17's `new` of an "
                       "`alignas(64)` type comes here through libstdc++)."),
                      ("tiny_net", "`malloc(1..8)` + `free`: the blocks an 8-byte class serves.")):
        extra = net_rows(key)
        if extra:
            out += ["", "The same for " + what, ""]
            out += md_table(["allocator", "pair", "pair / glibc", "batch", "batch / glibc"],
                            extra)
    for p in res.ins.get("problems") or []:
        out.append("")
        out.append("Warning: %s" % p)
    return out


def image(out_dir, path, alt):
    return "![%s](%s)" % (alt, os.path.relpath(path, out_dir))


def shown_path(path, out_dir):
    """Relative to the report when that stays below the report's parent."""
    rel = os.path.relpath(path, out_dir)
    return rel if not rel.startswith("../..") else path


def build_markdown(res, out_path, charts):
    out_dir = os.path.dirname(os.path.abspath(out_path))
    rel_results = shown_path(res.dir, out_dir)
    kind = res.run_kind()
    m = res.machine
    md = ["# liballocator benchmark report", ""]
    md += ["- **Date:** %s (results `%s/`, %s s)" % (res.date(), rel_results,
                                                     num(res.doc.get("elapsed_s"), "%.0f")),
           "- **Machine:** %s" % res.machine_line(),
           "- **Command:** `%s`%s" % (res.command(), " — %s" % kind if kind else "")]
    if m.get("loadavg_start"):
        end = m.get("loadavg_end")
        md.append("- **Load average (1 min):** %.2f at the start, %s at the end"
                  % (m["loadavg_start"][0], num(end[0] if end else None, "%.2f")))
    if res.allocators:
        md.append("- **Allocators:** " + "; ".join(
            "%s (%s)" % (a["name"], a.get("version") or "?") for a in res.allocators))
    for note in res.notes:
        md.append("- **Note:** %s" % note)
    if res.config.get("quick"):
        md += ["", "> A quick run (`--quick`: one repetition at a quarter of the work): the "
               "figures are indicative only. `make bench-report` makes a full run."]
    elif res.config.get("reps") == 1:
        md += ["", "> One repetition: there is no median to steady the figures."]
    md += ["", "Ratios are to glibc unless said otherwise; below 1 is better (faster, or less "
           "memory). `bench/README.md` describes each workload and how to read the figures."]

    if charts:
        md += ["", "## Charts", ""]
        for name, what in CHARTS:
            if name in charts:
                md += [image(out_dir, charts[name], what[0].upper() + what[1:]), ""]
        md.pop()

    for group in GROUPS:
        rows = res.rows(group, in_means=None)
        mean_rows = [w for w in rows if w["in_means"] or w.get("scaling_baseline")]
        if not rows:
            continue
        md += ["", "## The %s group" % group, ""]
        gm_rows = (res.geomeans.get(group) or {}).get(res.names[0], {}).get("rows")
        if group == "speed":
            md.append("Geometric means over the speed workloads, scaling baselines excluded:")
        else:
            md.append("Geometric means over the memory workloads whose time and peak RSS are the "
                      "figure%s:" % (" (%s)" % ", ".join("`%s`" % r for r in gm_rows)
                                     if gm_rows else ""))
        md.append("")
        if res.geomeans.get(group):
            md += geomean_table(res, group)
        else:
            md.append("(none: no row of this group counts in the means)")
        if mean_rows:
            md += ["", "### Time and peak RSS", "",
                   "Median wall time and peak RSS (`/usr/bin/time %%M`) of glibc in seconds and "
                   "MiB; the others' as ratios to glibc's (below 1 is better), except the RSS of "
                   "a process that peaks below %d MiB under glibc, given in MiB: a fixed MiB of "
                   "an allocator's own is a large ratio of a tiny process.  The best time mean "
                   "in bold." % SMALL_RSS_MIB, ""]
            md += side_by_side_table(res, mean_rows)
        if group == "memory":
            extra = (memret_tables(res) + largefree_table(res) + lastfree_table(res)
                     + perblock_table(res))
            if extra:
                md += ["", "### Memory figures"] + extra
        md += ["", "<details><summary>Absolute medians: wall time ± (max − min) / median, "
               "peak RSS</summary>", ""]
        md += absolute_table(res, rows)
        md += ["", "</details>"]
    md += scaling_table(res)
    md += instructions_table(res)

    if res.glibc_substitutes or res.problems:
        md += ["", "## Notes and problems", ""]
        for w, why in sorted(res.glibc_substitutes.items()):
            md.append("- `%s`: %s" % (w, why))
        for p in res.problems:
            md.append("- **%s on `%s`: %s** %s — reproduce with `%s`"
                      % (p.get("allocator"), p.get("workload"), str(p.get("status")).upper(),
                         p.get("detail", ""), p.get("command", "")))

    if res.workloads:
        md += ["", "## Workloads", ""]
        md += md_table(["workload", "group", "threads", "what it does"],
                       [["`%s`" % w["name"], w["group"], w.get("threads", ""),
                         (w.get("description") or "").replace("|", "\\|")
                         + (" *(%s)*" % w["skipped"] if w.get("skipped") else "")]
                        for w in res.workloads], ["l", "l", "r", "l"])
    md += ["", "---", "",
           "Generated by `bench/report.py %s` from `%s/summary.json` (schema %s)."
           % (os.path.relpath(res.dir, REPO_DIR), rel_results, res.schema)]
    return "\n".join(md) + "\n"


def make_command(res):
    """The make target that runs res.command(), when there is one."""
    words = shlex.split(res.command())
    if words[:3] != ["bench/run.py", "--build-dir", "build"]:
        return None
    rest = shlex.join(words[3:])
    return "make bench-report" + (" REPORT_ARGS=%s" % shlex.quote(rest) if rest else "")


def memory_summary_table(res):
    """The README's memory table: one line per figure, one column per
    allocator, absolute numbers (MiB, ns) and the best in bold."""
    names = res.names
    rows = []

    def line(label, values, spec):
        rows.append([label] + bold_min([num(v, spec) for v in values], values))

    for w in res.figure_rows("rss_end_kib"):
        vals = []
        for n in names:
            f = res.cell(w["name"], n).get("figures") or {}
            vals.append((f["rss_end_kib"] - f["rss_start_kib"]) / 1024.0
                        if "rss_end_kib" in f and "rss_start_kib" in f else None)
        line("1 GiB freed, %s: RSS end − start, MiB" % memret_label(res, w), vals, "%+.1f")
    for w in res.rows("memory"):
        if not w["in_means"]:
            continue
        vals = [res.cell(w["name"], n).get("rss_kib") for n in names]
        line("`%s`: peak RSS, MiB" % w["name"], [v / 1024.0 if v else None for v in vals], "%.1f")
        vals = [res.cell(w["name"], n).get("time_s") for n in names]
        line("`%s`: time, s" % w["name"], vals, "%.3f")
    large = largefree_rows(res)
    if large:
        ks = "/".join("%dk" % (workload_k(w["name"]) // 1000) for w in large)
        ns = [[(res.cell(w["name"], n).get("figures") or {}).get("request_ns") for w in large]
              for n in names]
        mib = [[res.cell(w["name"], n).get("rss_kib") for w in large] for n in names]
        cells = [" / ".join(num(v, "%.0f") for v in per) for per in ns]
        rows.append(["ns per malloc+free among %s free blocks" % ks]
                    + bold_min(cells, [per[-1] for per in ns]))
        cells = [" / ".join(mib_text(v / 1024.0) if v else "–" for v in per) for per in mib]
        rows.append(["peak RSS of the same runs, MiB"]
                     + bold_min(cells, [per[-1] for per in mib]))
    blocks = perblock_rows(res)
    if blocks:
        # Several sizes to a cell: nothing to bold as one figure.
        rows.append(["bytes per live block of %s B" % "/".join(
            str(perblock_bytes(w["name"])) for w in blocks)]
            + [" / ".join(num(v, "%.1f") for v in perblock_figures(res, blocks, n))
               for n in names])
    return md_table(["figure"] + names, rows)


def readme_snippet(res, publish_dir, published):
    """The Markdown for the top-level README: the published charts, where
    and how the run was made, and its tables (time and RSS side by side,
    the memory figures, how each allocator gives memory back)."""
    rel = os.path.relpath(publish_dir, REPO_DIR)
    kind = res.run_kind()
    main_charts = ("bench-time", "bench-rss", "bench-instructions")
    lines = []
    for name, what in CHARTS:
        if name in published and name in main_charts:
            lines += ["![%s](%s/%s)" % (what[0].upper() + what[1:], rel,
                                        os.path.basename(published[name])), ""]
    make = make_command(res)
    lines += ["- **Date:** %s" % res.date(),
              "- **Machine:** %s" % res.machine_line(),
              "- **Command:** `%s`%s%s" % (make or res.command(),
                                          " (`%s`)" % res.command() if make else "",
                                          ": %s" % kind if kind else ""),
              ""]
    more = ["[%s](%s/%s)" % (what, rel, os.path.basename(published[name]))
            for name, what in CHARTS if name in published and name not in main_charts]
    lines.append("Ratios to glibc: below 1 is better; the shaded bars are the geometric "
                 "means. %s`%s` writes every table to `bench/results/REPORT.md`."
                 % ("More: %s. " % ", ".join(more) if more else "", "make bench-report"))
    speed = [w for w in res.rows("speed") if w["in_means"]]
    if speed and res.has_time:
        lines += ["", "Time and peak RSS per workload: glibc's in seconds and MiB, the others' "
                  "as ratios to glibc's, but RSS in MiB where glibc's peak is under %d MiB:"
                  % SMALL_RSS_MIB, ""]
        lines += side_by_side_table(res, speed)
    if res.has_time and (res.figure_rows("rss_end_kib") or largefree_rows(res)
                         or perblock_rows(res)):
        lines += ["", "Memory, from the same run (`bench/README.md`, \"The memory group\"):", ""]
        lines += memory_summary_table(res)
        lines += decay_table(res)
    return "\n".join(lines) + "\n"


# ---- driver ------------------------------------------------------------------------


def results_dir_option(run_args):
    for i, a in enumerate(run_args):
        if a == "--results-dir" and i + 1 < len(run_args):
            return run_args[i + 1]
        if a.startswith("--results-dir="):
            return a.split("=", 1)[1]
    return RESULTS_DIR


def run_suite(run_args):
    """Runs bench/run.py and returns the results directory it wrote.

    Not bench/results/latest: another run that finishes meanwhile (a
    colleague's, or an instruction-only run) moves that link.  The new
    directory is the one that appeared during the run and records our
    command line.
    """
    runpy = os.path.relpath(os.path.join(BENCH_DIR, "run.py"))
    results = results_dir_option(run_args)
    before = set(os.listdir(results)) if os.path.isdir(results) else set()
    cmd = [sys.executable, runpy] + run_args
    log("running %s (it reports its progress below; the full suite takes about 10 minutes)"
        % shlex.join(cmd))
    rc = subprocess.call(cmd)
    if rc != 0:
        raise SystemExit("report: bench/run.py failed (rc %d): no report written" % rc)
    tail = shlex.join([runpy] + run_args)
    found = []
    for name in sorted(set(os.listdir(results)) - before):
        if os.path.islink(os.path.join(results, name)):
            continue  # "latest", new on a fresh clone: it names the run's own directory
        try:
            with open(os.path.join(results, name, "summary.json")) as f:
                if json.load(f).get("command", "").endswith(tail):
                    found.append(os.path.join(results, name))
        except (OSError, ValueError):
            continue
    if len(found) != 1:
        raise SystemExit("report: cannot tell which new directory of %s this run wrote (%s): "
                         "run bench/report.py on it by hand"
                         % (results, ", ".join(found) or "none"))
    return found[0]


def check_svg(path):
    """An SVG that does not parse would show as a broken image on GitHub."""
    try:
        ET.parse(path)
    except ET.ParseError as e:
        raise SystemExit("report: %s is not valid XML: %s" % (path, e))


def publish(res, charts, publish_dir, force):
    missing = res.missing_for_publish()
    absent = [name for name, _ in CHARTS if name not in charts]
    if (missing or absent) and not force:
        raise SystemExit("report: not publishing: the run does not cover %s%s (--force "
                         "publishes anyway and leaves the other charts in %s as they are)"
                         % (", ".join(missing) or "every chart",
                            "; no %s" % ", ".join(absent) if absent else "",
                            os.path.relpath(publish_dir)))
    if res.config.get("quick"):
        log("warning: publishing a quick run (1 repetition, scale 0.25): rerun without "
            "--quick before the figures are quoted")
    os.makedirs(publish_dir, exist_ok=True)
    published = {}
    for name, path in charts.items():
        dest = os.path.join(publish_dir, os.path.basename(path))
        shutil.copyfile(path, dest)
        published[name] = dest
        log("published %s" % os.path.relpath(dest))
    return published


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/report.py",
        description="Write REPORT.md and gnuplot charts from a bench/run.py results directory "
                    "(no benchmark is run, unless --run).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  bench/report.py                      bench/results/latest -> "
               "bench/results/REPORT.md, charts/\n"
               "  bench/report.py bench/results/20261124-020442 --format png\n"
               "  bench/report.py --publish            also copy the charts to docs/images/ and\n"
               "                                       print the Markdown for README.md\n"
               "environment: GNUPLOT (the gnuplot program)")
    p.add_argument("results", nargs="?", default=None,
                   help="a results directory holding summary.json (default bench/results/latest)")
    p.add_argument("--run", action="store_true",
                   help="last option: run bench/run.py with the arguments that follow "
                        "(after an optional --) first, and report on the results it writes")
    p.add_argument("-o", "--out", default=os.path.join(RESULTS_DIR, "REPORT.md"),
                   help="the report to write; the charts go to charts/ beside it "
                        "(default bench/results/REPORT.md)")
    p.add_argument("--format", choices=("svg", "png"), default="svg",
                   help="chart format: svg (default) or png (pngcairo)")
    p.add_argument("--gnuplot", default=os.environ.get("GNUPLOT", "gnuplot"),
                   help="the gnuplot program (default $GNUPLOT or gnuplot)")
    p.add_argument("--publish", action="store_true",
                   help="copy the charts to --publish-dir and print the README snippet")
    p.add_argument("--publish-dir", default=PUBLISH_DIR,
                   help="where --publish copies the charts (default docs/images)")
    p.add_argument("--force", action="store_true",
                   help="publish a run that lacks a mode, a group or some workloads")
    # Everything after --run belongs to run.py: argparse would take its
    # options for ours.
    run_args = None
    if "--run" in argv:
        i = argv.index("--run")
        argv, run_args = argv[:i + 1], argv[i + 1:]
        if run_args[:1] == ["--"]:
            run_args = run_args[1:]
    args = p.parse_args(argv)
    args.run = run_args
    if args.run is not None and args.results:
        p.error("give a results directory or --run, not both")
    if not args.results:
        args.results = os.path.join(RESULTS_DIR, "latest")
    return args


def main(argv):
    args = parse_args(argv)
    gnuplot = shutil.which(args.gnuplot)
    if not gnuplot:
        raise SystemExit("report: %s not found (Debian package gnuplot-nox)" % args.gnuplot)
    if args.publish and args.format != "svg":
        raise SystemExit("report: --publish copies SVG charts: drop --format png")
    if args.run is not None:
        args.results = run_suite(args.run)
    log("reading %s" % os.path.join(os.path.relpath(args.results), "summary.json"))
    res = Results(args.results)
    res.gnuplot = gnuplot
    if not res.has_time and not res.ins:
        raise SystemExit("report: %s holds neither timed results nor instruction counts"
                         % args.results)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    charts_dir = os.path.join(out_dir, "charts")
    log("drawing the charts with %s into %s" % (gnuplot, os.path.relpath(charts_dir)))
    charts = draw_charts(res, charts_dir, args.format)
    if args.format == "svg":
        for path in charts.values():
            check_svg(path)
    with open(args.out, "w") as f:
        f.write(build_markdown(res, args.out, charts))
    log("wrote %s (%d chart%s)" % (os.path.relpath(args.out), len(charts),
                                   "" if len(charts) == 1 else "s"))
    if args.publish:
        published = publish(res, charts, args.publish_dir, args.force)
        log("the Markdown for README.md follows on stdout")
        sys.stdout.write(readme_snippet(res, args.publish_dir, published))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
