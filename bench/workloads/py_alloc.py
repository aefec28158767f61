# SPDX-License-Identifier: MIT
"""py_alloc: an allocation-heavy CPython script for bench/run.py.

Builds a dict of per-user record dicts, groups and sorts them, builds and
joins many strings, deletes half the records and rebuilds (fragmentation),
then prints a checksum that does not depend on the allocator.  Run it with
/usr/bin/python3 and PYTHONHASHSEED=0 so that its output is reproducible.
Usage: py_alloc.py [scale]
"""
import sys
import zlib


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    n = max(1000, int(80000 * scale))
    crc = 0

    records = {}
    for i in range(n):
        records["user:%08d" % i] = {
            "id": i,
            "name": "name-%d" % (i * 7919 % 100003),
            "tags": [str(j) * (1 + j % 5) for j in range(i % 9)],
            "score": (i * 37 % 1009) / 7.0,
        }

    groups = {}
    for key, rec in records.items():
        groups.setdefault(rec["name"][-2:], []).append((rec["score"], key))
    for name in sorted(groups):
        members = sorted(groups[name], reverse=True)
        crc = zlib.crc32(("%s:%d:%s" % (name, len(members), members[0][1])).encode(), crc)

    parts = []
    for i in range(n):
        parts.append(("%x," % i) * (1 + i % 17))
        if len(parts) == 5000:
            crc = zlib.crc32("".join(parts).encode(), crc)
            parts = []
    crc = zlib.crc32("".join(parts).encode(), crc)

    # Free every other record, then grow different shapes into the holes.
    for i in range(0, n, 2):
        del records["user:%08d" % i]
    for i in range(0, n, 2):
        records["item:%08d" % i] = [i] * (i % 31) + [str(i)] * (i % 7)
    total = 0
    for key, value in records.items():
        total += len(value) + len(key)
    crc = zlib.crc32(str(total).encode(), crc)

    words = " ".join("w%d" % (i % 5003) for i in range(n)).split()
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    crc = zlib.crc32(repr(top).encode(), crc)

    print("checksum %016x" % crc)


if __name__ == "__main__":
    main()
