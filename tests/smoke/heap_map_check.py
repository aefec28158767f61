#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks an SVG that `heap map` (scripts/gdb/allocator.py) wrote, for
tests/smoke/gdb_heap.bats: it parses as XML, has its title, scale line,
legend and address labels, and its coloured runs cover the given addresses
with the given kinds.  Each run is a <rect class="k-KIND"> whose <title>
ends with its address range "0xLO-0xHI"; a slab's stripe is a
<rect class="slab" data-slot-bytes="N">.

Usage: heap_map_check.py SVG [--slab BYTES:ADDR] [--live ADDR] [--free ADDR]
         [--purged ADDR] [--large ADDR] [--damaged ADDR] [--cached] [--core]
         [--same-as SVG] [--program REGEX] [--has KIND]
Exits 1 with the reason on stderr when a check fails."""
import argparse
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def load(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        sys.exit("%s: not an SVG file: %s" % (path, e))
    if root.tag != NS + "svg":
        sys.exit("%s: the root element is %s, not svg" % (path, root.tag))
    return root


def runs(root):
    """[(kind, lo, hi)] of every coloured run."""
    out = []
    for r in root.iter(NS + "rect"):
        cls = r.get("class", "")
        if not cls.startswith("k-"):
            continue
        t = r.find(NS + "title")
        m = re.search(r"(0x[0-9a-f]+)-(0x[0-9a-f]+)", t.text if t is not None else "")
        if m is None:
            sys.exit("a %s run without its address range" % cls)
        out.append((cls[2:], int(m.group(1), 16), int(m.group(2), 16)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("svg")
    ap.add_argument("--slab", action="append", default=[])
    ap.add_argument("--live", action="append", default=[])
    ap.add_argument("--free", action="append", default=[])
    ap.add_argument("--purged", action="append", default=[])
    ap.add_argument("--large", action="append", default=[])
    ap.add_argument("--damaged", action="append", default=[])
    ap.add_argument("--cached", action="store_true")
    ap.add_argument("--core", action="store_true")
    ap.add_argument("--same-as")
    ap.add_argument("--program", default="gdb_heap_prog", help="regex: the program's name")
    ap.add_argument("--has", action="append", default=[], help="a kind drawn somewhere")
    args = ap.parse_args()
    root = load(args.svg)
    texts = ["".join(t.itertext()) for t in root.iter(NS + "text")]
    fails = []

    def need(cond, what):
        if not cond:
            fails.append(what)

    title = texts[0] if texts else ""
    need(re.match(r"liballocator heap map: %s, pid \d+" % args.program, title),
         "title: %r" % title)
    need(title.endswith("(core file)") == args.core, "title says core file or not: %r" % title)
    need(any(re.match(r"heap regions: 1 px = \d+ B, one row = ", t) for t in texts),
         "no scale line")
    need(any(re.match(r"heap 0, brk region 0x[0-9a-f]+-0x[0-9a-f]+ \(", t) for t in texts),
         "no title for heap 0's brk region")
    need(any(re.match(r"0x[0-9a-f]+$", t) for t in texts), "no address labels")
    legend = {r.get("class").split()[1][2:] for r in root.iter(NS + "rect")
              if r.get("class", "").startswith("legend ")}
    all_runs = runs(root)
    kinds = {k for k, _, _ in all_runs}
    need(kinds <= legend, "kinds drawn but not in the legend: %s" % (kinds - legend))

    def covered(kind, addr):
        return any(k == kind and lo <= addr < hi for k, lo, hi in all_runs)

    for spec in args.slab:
        size, addr = spec.split(":")
        addr = int(addr, 16)
        stripes = [r for r in root.iter(NS + "rect") if r.get("class") == "slab" and
                   r.get("data-slot-bytes") == size]
        need(stripes, "no stripe for a slab of %s-byte slots" % size)
        need(covered("slot_live", addr), "live slot %#x not drawn as slot_live" % addr)
    for kind, addrs in (("live", args.live), ("free", args.free), ("purged", args.purged),
                        ("large", args.large), ("damaged", args.damaged)):
        for a in addrs:
            need(covered(kind, int(a, 16)), "%s not drawn as %s" % (a, kind))
    for kind in args.has:
        need(kind in kinds, "nothing drawn as %s" % kind)
    if args.cached:
        need("cached" in kinds and "slot_cached" in kinds,
             "no cached block or cached slot drawn")
    if args.same_as:
        other = runs(load(args.same_as))
        need(sorted(all_runs) == sorted(other),
             "the runs differ from %s's (%d against %d)" % (args.same_as, len(all_runs),
                                                           len(other)))
    if fails:
        sys.stderr.write("%s:\n  %s\n" % (args.svg, "\n  ".join(fails)))
        sys.exit(1)


if __name__ == "__main__":
    main()
