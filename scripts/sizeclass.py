#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes src/sizeclass_table.inc, the slab class tables, from src/config.h.

Usage: scripts/sizeclass.py   (from anywhere; rewrites the file in place)

Classes: 8, then every 16 bytes from 16 to 128 (no 24: slots of 16 bytes and more stay
16-aligned), then four per doubling to
LA_SLAB_MAX_BYTES, 288 (256 + 1/8) below 320, 1008 (1 KiB less a header) below 1024, and
1040 and 1088 (1 KiB + 16, 1 KiB + 1/16) when the bound is above 1 KiB.  For each class:
  inv, shift  size = odd << shift, inv = odd's inverse mod 2^32
  span        the slab's bytes: SPAN_OF[size] where given, else the smallest LA_SLAB_BYTES << k (at most
              LA_SLAB_SPAN_MAX) whose slots number at least
              LA_SLAB_SPAN_MIN_SLOTS and whose resident waste is at most
              1 / LA_SLAB_SPAN_WASTE_DIVISOR of what a full slab touches
  color       bytes before the first slot, whole LA_SLAB_COLOR_UNITs: COLOR_LINES[size] of them
              where given, else as many as the slots leave over
  nslots      (span - LA_HEADER_BYTES - color) // size
Resident waste: the bytes of the touched 4 KiB pages that are no
slot's: after the last slot up to its page's end, and the last page, which
holds the next slab's header.  Pages wholly past the last slot are never
touched and cost no memory.
class4_of[n] = 4 * (the first class with size >= max(n, 1)), n = 0 ..
LA_SLAB_MAX_BYTES.
aligned_up[a][c] = the first class at or above c whose slots all sit on
2^(a + ALIGNED_MIN_LOG) boundaries (its size and its first slot's offset,
the colour or else the header, are multiples of it), or 255 for none.
aligned_hit[a][c] = aligned_up[a][c] where it is at most
LA_ALIGNED_SLOT_MAX_RATIO times max(req, alignment) for every request req
of class c (the smallest one decides), else 255: the aligned hit path's
class (src/alloc.c, la_aligned), with no test of its own; rows padded
with 255 to ROW entries, so that a row is one shift.
tests/unit/test_slab.c checks every entry.
"""
import os
import re

# The page size resident waste is counted in: x86-64's and most AArch64 kernels'.
PAGE = 4096
# The alignments aligned_up covers: 32 (above malloc's 16) to 2048 bytes.
ALIGNED_MIN_LOG, ALIGNED_MAX_LOG = 5, 11
# aligned_hit's row: a power of two at least the number of classes.
ROW = 32
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config():
    text = open(os.path.join(ROOT, "src", "config.h")).read()
    vals = {}
    for name in ("LA_SLAB_MAX_BYTES", "LA_SLAB_BYTES", "LA_HEADER_BYTES", "LA_SLAB_SPAN_MAX",
                 "LA_SLAB_SPAN_MIN_SLOTS", "LA_SLAB_SPAN_WASTE_DIVISOR", "LA_SLAB_COLOR_UNIT",
                 "LA_ALIGNED_SLOT_MAX_RATIO"):
        m = re.search(r"^#define %s (.+?)(//.*)?$" % name, text, re.M)
        vals[name] = int(eval(m.group(1).strip().replace("u", "")))
    return vals


# Classes whose span is set here rather than by the waste rule, in chunks.
# 1008: 65 slots fill a 64 KiB slab's payload exactly, but its 128-byte
# metadata record then costs 2 bytes a slot; 130 slots in 128 KiB share it
# (1 byte a slot, 16 bytes left over): 1009.1 bytes per 1000-byte block,
# under glibc's 1009.9 (bench perblock-1000), where 64 KiB gives 1010.0.
SPAN_OF = {1008: 2}

# Colour, in units (cache lines) before a slab's first slot.  Each slab
# starts on a LA_SLAB_BYTES boundary, so a class's colour picks the L1 set
# of its first slot, the one a program with few blocks of the class reuses;
# with nine or more classes in one set of an 8-way cache, a loop over them
# missed on every malloc.  Left to the lines its slots leave over, a class
# whose slots fill the slab (16 to 112, 192, 1008) sat in set 0, ten of
# them, where a program's own page-aligned data sits too.  Here 16, 32,
# 48, 64, 80, 96 and 192 give up 1 to 6 slots (64 to 192 bytes of a 64 KiB
# slab) for a line or three, and every class takes a set of sets 0-3 that
# keeps them to six classes each, the big classes spread over the lines
# they have.  1008 and 112 keep set 0 and every slot (their bytes per
# block are issue 13's figures for 1000 and 100 bytes), and so does 1040,
# whose slots fill the slab; 384 takes set 3 (three of its four spare
# lines), which leaves set 2 to 288.  (The 24 class, gone since, had
# line 2.)
# The 8-byte class takes set 2, the one with fewest classes.
# A class not listed takes all the lines its slots leave over.
COLOR_LINES = {8: 2, 16: 1, 32: 2, 48: 1, 64: 2, 80: 1, 96: 2, 112: 0, 128: 1, 160: 0,
               192: 3, 224: 0, 256: 1, 288: 2, 320: 2, 384: 3, 448: 0, 512: 5, 640: 3, 768: 3,
               896: 1, 1008: 0, 1024: 8, 1040: 0, 1088: 3, 1280: 3, 1536: 12, 1792: 15, 2048: 24}


def sizes(top):
    # 8: the one class whose slots are 8-aligned, as jemalloc's, tcmalloc's
    # and mimalloc's smallest; no store of 16 bytes touches an object of 8
    # (a 24-byte class did crash: see src/sizeclass.h).
    out = [8, 16, 32, 48, 64, 80, 96, 112, 128]
    b = 128
    while b < top:
        out += [b + b // 4 * i for i in (1, 2, 3, 4)]
        if b == 512:
            # A decimal 1000 (buffers, records) would take a 1024-byte slot,
            # and the 1024 class loses a slot of each 64 KiB slab to the
            # slab's block header: 1042 bytes a block where glibc spends
            # 1010.  63 * 16 fills a slab exactly (see SPAN_OF).
            out.insert(-1, 1008)
        if b == 256:
            # 256 bytes plus a small header would lose a fifth in 320:
            # redis keeps each 256-byte value as an sds string of 260
            # bytes, 63,354 of them in bench/run.py's run (2 MB of its
            # 64 MB peak RSS; 288 is 256 + 1/8).
            out.insert(-4, 288)
        if b == 1024:
            # 1 KiB plus a small header (sqlite3's 1032-byte allocations:
            # 1024 and its 8-byte size prefix) would lose a fifth in 1280,
            # and 5 % in 1088 (its peak RSS 1.049 of glibc's; 1.026 with
            # 1040, whose 63 slots fill a 64 KiB slab exactly).
            out.insert(-4, 1088)
            out.insert(-5, 1040)
        b *= 2
    return out


def resident_waste(size, span, hdr, page):
    n = (span - hdr) // size
    end = n * size
    top = -(-end // page) * page
    waste = span - end if top >= span - page else (top - end) + page
    return n, waste / (end + waste)


def main():
    c = config()
    rows = []
    for s in sizes(c["LA_SLAB_MAX_BYTES"]):
        span = c["LA_SLAB_BYTES"] * SPAN_OF.get(s, 1)
        while s not in SPAN_OF and span < c["LA_SLAB_SPAN_MAX"]:
            n, w = resident_waste(s, span, c["LA_HEADER_BYTES"], PAGE)
            if n >= c["LA_SLAB_SPAN_MIN_SLOTS"] and w * c["LA_SLAB_SPAN_WASTE_DIVISOR"] <= 1:
                break
            span *= 2
        k = (s & -s).bit_length() - 1
        inv = pow(s >> k, -1, 1 << 32)
        unit, room = c["LA_SLAB_COLOR_UNIT"], span - c["LA_HEADER_BYTES"]
        color = COLOR_LINES.get(s, (room - room // s * s) // unit) * unit
        n = (room - color) // s
        rows.append((s, n, inv, k, span, color))
    top = c["LA_SLAB_MAX_BYTES"]
    class4 = []
    for n in range(top + 1):
        want = max(n, 1)
        class4.append(4 * next(i for i, r in enumerate(rows) if r[0] >= want))
    out = ["// SPDX-License-Identifier: MIT",
           "// Generated by scripts/sizeclass.py from src/config.h: do not edit.",
           "// Included by src/sizeclass.c only.",
           "#define LA_SIZECLASS_GEN_MAX_BYTES %d" % top,
           "#define LA_SIZECLASS_GEN_CLASSES %d" % len(rows),
           "// What it was generated from (src/sizeclass.c checks them against config.h):",
           "#define LA_SIZECLASS_GEN_CONFIG(X) X(LA_SLAB_BYTES, %d) X(LA_HEADER_BYTES, %d) \\" % (
               c["LA_SLAB_BYTES"], c["LA_HEADER_BYTES"]),
           "    X(LA_SLAB_SPAN_MAX, %d) X(LA_SLAB_SPAN_MIN_SLOTS, %d) "
           "X(LA_SLAB_SPAN_WASTE_DIVISOR, %d) \\" % (
               c["LA_SLAB_SPAN_MAX"], c["LA_SLAB_SPAN_MIN_SLOTS"], c["LA_SLAB_SPAN_WASTE_DIVISOR"]),
           "    X(LA_SLAB_COLOR_UNIT, %d) X(LA_ALIGNED_SLOT_MAX_RATIO, %d)" % (
               c["LA_SLAB_COLOR_UNIT"], c["LA_ALIGNED_SLOT_MAX_RATIO"]),
           "",
           "// size, nslots, inv, shift, span, color",
           "#define LA_SIZECLASS_ROWS \\"]
    for r in rows:
        out.append("    {%d, %d, 0x%08xu, %d, %d, %d}, \\" % r)
    out.append("    /* end */")
    out.append("")
    out.append("#define LA_SIZECLASS_CLASS4_OF \\")
    for i in range(0, len(class4), 32):
        out.append("    " + " ".join("%d," % v for v in class4[i:i + 32]) + " \\")
    out.append("    /* end */")
    out.append("")
    out.append("#define LA_SIZECLASS_GEN_ALIGNED_MIN_LOG %d" % ALIGNED_MIN_LOG)
    out.append("#define LA_SIZECLASS_GEN_ALIGNED_LOGS %d" % (ALIGNED_MAX_LOG - ALIGNED_MIN_LOG + 1))
    ups = []
    out.append("#define LA_SIZECLASS_ALIGNED_UP \\")
    for a in range(ALIGNED_MIN_LOG, ALIGNED_MAX_LOG + 1):
        m = (1 << a) - 1
        ok = [((r[0] | (r[5] or c["LA_HEADER_BYTES"])) & m) == 0 for r in rows]
        up = [next((j for j in range(i, len(rows)) if ok[j]), 255) for i in range(len(rows))]
        ups.append(up)
        out.append("    {" + ", ".join("%d" % v for v in up) + "}, \\")
    out.append("    /* end */")
    out.append("")
    assert len(rows) <= ROW
    out.append("#define LA_SIZECLASS_GEN_ROW %d" % ROW)
    out.append("#define LA_SIZECLASS_ALIGNED_HIT \\")
    ratio = c["LA_ALIGNED_SLOT_MAX_RATIO"]
    for a, up in zip(range(ALIGNED_MIN_LOG, ALIGNED_MAX_LOG + 1), ups):
        hit = []
        for i, u in enumerate(up):
            smallest = rows[i - 1][0] + 1 if i > 0 else 1
            hit.append(u if u != 255 and rows[u][0] <= ratio * max(smallest, 1 << a) else 255)
        hit += [255] * (ROW - len(hit))
        out.append("    {" + ", ".join("%d" % v for v in hit) + "}, \\")
    out.append("    /* end */")
    out.append("")
    with open(os.path.join(ROOT, "src", "sizeclass_table.inc"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
