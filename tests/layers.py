#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the library's calls against the layer order of docs/ARCHITECTURE.md.

Usage: tests/layers.py OBJECT...   (the library's object files; ctest passes
                                    $<TARGET_OBJECTS:...> of both targets)

The "Layers" section's text block gives each source file and internal
header a layer (0-7) or T (a tool); a file includes no header of a higher
layer; the list under it, lines "- a.c -> b.c: f, g", the calls up
the order that are allowed.  For every undefined symbol of one object that
another object defines (`nm`), the caller's layer must be at or above the
callee's, or either must be a tool, or the call must be listed.  A source
file under src/ or preload/ that the block does not name fails too, so that
a new file gets a place in the order.  Standard library only.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_order():
    """(layer of each .c and .h file named, set of allowed (caller, callee, symbol))."""
    text = open(os.path.join(ROOT, "docs", "ARCHITECTURE.md")).read()
    section = text[text.index("\n## Layers\n"):]
    section = section[:section.index("\n## ", 1)]
    block = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    layer, current = {}, None
    for line in block.splitlines():
        m = re.match(r"\s*([0-9T])\s", line)
        if m:
            current = m.group(1)
        # Every name.c and name.h on the line (the descriptions name none);
        # a line without a layer continues the one above.
        files = re.findall(r"(?:^|[\s,/])([a-z_]+\.[ch])\b", line)
        for f in files:
            layer[f] = current
    allowed = set()
    for m in re.finditer(r"^- ([a-z_]+\.c) -> ([a-z_]+\.c): (.+)$", section, re.M):
        for sym in m.group(3).split(","):
            allowed.add((m.group(1), m.group(2), sym.strip()))
    return layer, allowed


def symbols(obj):
    """(defined global symbols, undefined symbols) of one object file."""
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRCVW":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def main():
    # ctest passes each target's objects as one ;-separated argument.
    objs = [o for arg in sys.argv[1:] for o in arg.split(";") if o]
    if not objs:
        print(__doc__)
        return 2
    layer, allowed = read_order()
    fail = 0
    sources = [f for d in ("src", "preload") for f in os.listdir(os.path.join(ROOT, d))
               if f.endswith(".c")]
    for f in sorted(sources):
        if f not in layer:
            print("layers: %s has no layer in docs/ARCHITECTURE.md's block" % f)
            fail = 1
    # Includes: a source file includes no header of a higher layer.
    for d in ("src", "preload"):
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            if not f.endswith(".c") or layer.get(f) in (None, "T"):
                continue
            text = open(os.path.join(ROOT, d, f)).read()
            for h in re.findall(r'^#include "([a-z_]+\.h)"', text, re.M):
                if h in layer and layer[h] != "T" and int(layer[h]) > int(layer[f]):
                    print("layers: %s (layer %s) includes %s (layer %s)" %
                          (f, layer[f], h, layer[h]))
                    fail = 1
    owner, needs = {}, {}
    for obj in objs:
        name = re.sub(r"\.o(bj)?$", "", os.path.basename(obj))
        if name not in layer:
            print("layers: object %s (%s) has no layer" % (obj, name))
            fail = 1
            continue
        defined, undefined = symbols(obj)
        for sym in defined:
            owner[sym] = name
        needs[name] = undefined
    calls = 0
    used = set()
    for caller, undefined in sorted(needs.items()):
        for sym in sorted(undefined):
            callee = owner.get(sym)
            if callee is None or callee == caller:
                continue
            calls += 1
            a, b = layer[caller], layer[callee]
            if a == "T" or b == "T" or int(a) >= int(b):
                continue
            if (caller, callee, sym) in allowed:
                used.add((caller, callee, sym))
                continue
            print("layers: %s (layer %s) uses %s of %s (layer %s), up the order" %
                  (caller, a, sym, callee, b))
            fail = 1
    for caller, callee, sym in sorted(allowed - used):
        print("layers: the allowed call %s -> %s: %s is not made: take it off the list" %
              (caller, callee, sym))
        fail = 1
    if calls < 100:  # the library's objects make several hundred such calls
        print("layers: only %d calls between %d objects: not the library's objects?" %
              (calls, len(needs)))
        fail = 1
    if not fail:
        print("layers: ok (%d calls between %d object files, %d up the order as listed)" %
              (calls, len(needs), len(used)))
    return fail


if __name__ == "__main__":
    sys.exit(main())
