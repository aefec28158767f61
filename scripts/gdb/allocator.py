# SPDX-License-Identifier: MIT
"""
allocator.py: gdb commands for liballocator (`heap stats`, `heap check`,
`heap bins`, `heap block ADDR`, `heap slabs [ADDR]`, `heap map FILE`), loaded by scripts/debug or by hand with
`source scripts/gdb/allocator.py`.  They read the inferior's memory only
(struct layouts from its debug info, the block layout of src/internal.h),
so they work wherever the program stopped, inside malloc too, and never
call into it except for the explicit `--inferior` variants.  A command that
cannot read what it needs says so in one line (no Python traceback).
"""

import os
import struct

import gdb

# ---- constants ------------------------------------------------------------
#
# Macros are not in the debug info of a -g build (only -g3 keeps them), so
# these mirror src/internal.h and src/config.h; keep them in step
# (tests/unit/test_gdb_mirror.c compares each with the built library, so
# keep them literals on lines of their own: `NAME = value`).  What the
# debug info does give (struct layouts, array lengths such as the number of
# size classes and thread-cache bins) is read from it in Layout below.

# src/internal.h: flag bits in the low bits of a head word; the top byte is
# the heap index; the rest is the block size.
LA_FREE = 1
LA_PREV_FREE = 2
LA_MMAPPED = 4
LA_PURGED = 8
LA_FLAG_MASK = 15
LA_HEAD_HEAP_SHIFT = 56
LA_SIZE_MASK = (1 << LA_HEAD_HEAP_SHIFT) - 1 - LA_FLAG_MASK
LA_HEAP_NONE = 0xFF
LA_REQ_LARGE = 0xFFFFFFFF
# src/internal.h: check-word variants, xor'ed into a live block's check.
LA_CHECK_BIG = 0x0000B160
# A live block the heap profiler sampled (src/prof.c) carries this too.
LA_CHECK_PROF = 0x9F0F0000
LA_CHECK_FREED = 0xF4EEF4EE
# src/config.h
ALIGNMENT = 16
MIN_BLOCK_SIZE = 32
LA_TC_MAX_BYTES = 2048  # LA_SLAB_MAX_BYTES
LA_TC_MEDIUM_PER_DOUBLING = 16
# What a cache's medium bins may hold (src/tcache.c medium_budget): a
# threaded process's cache, its only thread's, a hot thread's.
LA_TC_MEDIUM_TOTAL_BYTES = 524288  # 512 KiB
LA_TC_MEDIUM_SOLO_BYTES = 2097152  # 2 MiB
LA_TC_MEDIUM_HOT_BYTES = 8388608  # 8 MiB
# The most slots a cache's word stack may hold (its words_cap grows to it).
LA_TC_WORD_SLOTS_MAX = 4096
# src/config.h: slabs (SLAB_SIZES mirrors src/sizeclass_table.inc).
LA_SLAB_SHIFT = 16
LA_SLAB_ADDR_BITS = 48
SLAB_SIZES = (8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 288, 320, 384, 448,
              512, 640, 768, 896, 1008, 1024, 1040, 1088, 1280, 1536, 1792, 2048)
# src/slab.h: the one-word class (8-byte slots, too small for two link
# words): its free slots hold a mark (one_word below), never links, and a
# thread cache keeps them in its word stack, not in its bin (always empty).
LA_SLAB_WORD_CLASS = 0
# src/tcache.h: la_tcache_kind_t
LA_TC_LIVE = 2
# src/internal.h: la_region_kind_t
REGION_KINDS = {1: "brk", 2: "mapped"}

FLAG_NAMES = ((LA_FREE, "FREE"), (LA_PREV_FREE, "PREV_FREE"), (LA_MMAPPED, "MMAPPED"),
              (LA_PURGED, "PURGED"))
MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1
# Upper bound on list lengths walked where nothing else bounds them (a
# corrupted link could make a cycle).
WALK_LIMIT = 1 << 20


class HeapError(Exception):
    """Something the commands cannot work around (no process, no `la`...)."""


class Problem(Exception):
    """An inconsistency found in the heap: what, where, and in which heap."""

    def __init__(self, what, addr, heap=None):
        super().__init__(what)
        self.what, self.addr, self.heap = what, addr, heap

    def line(self):
        where = "heap %d: " % self.heap if self.heap is not None else ""
        return "%s%s at %#x" % (where, self.what, self.addr)


def remote_head(word):
    """The first slot of a heap's slab remote list (src/slab.c): the list's
    word keeps its length above LA_SLAB_ADDR_BITS."""
    return int(word) & ((1 << LA_SLAB_ADDR_BITS) - 1)


def one_word(size):
    """slab_one_word() of src/slab.h: slots too small for two 8-byte link
    words (the 8-byte class).  Free, they hold a one-word mark instead."""
    return size < 2 * 8


def flag_text(head):
    names = [name for bit, name in FLAG_NAMES if head & bit]
    return " ".join(names) if names else "-"


def class_label(c, num_classes):
    """The block sizes of class c: <=32, <=64, ... <=8192, >8192 (src/bins.c)."""
    if c == num_classes - 1:
        return ">%d" % (MIN_BLOCK_SIZE << (c - 1))
    return "<=%d" % (MIN_BLOCK_SIZE << c)


def bins_class(size, num_classes):
    """bins_class() of src/bins.c: ceil(log2(size)) - 5, clamped."""
    if size <= MIN_BLOCK_SIZE:
        return 0
    return min((size - 1).bit_length() - 5, num_classes - 1)


def medium_class_bytes(m):
    """Bytes served by medium class m: src/tcache.h tcache_medium_class_bytes."""
    base = LA_TC_MAX_BYTES << (m // LA_TC_MEDIUM_PER_DOUBLING)
    return base + base // LA_TC_MEDIUM_PER_DOUBLING * (m % LA_TC_MEDIUM_PER_DOUBLING + 1)


def tc_bin_label(i, small_bins):
    """What thread-cache bin i serves: a slab class, or a medium class."""
    if i < small_bins:
        return "slot=%d" % SLAB_SIZES[i]
    return "usable>=%d" % medium_class_bytes(i - small_bins)


# ---- memory -----------------------------------------------------------------


class Memory:
    """Reads the inferior in 64 KiB chunks, so a heap walk costs one
    read_memory per chunk instead of one per block.  One per command: the
    cache would go stale once the program runs again."""

    CHUNK = 1 << 16

    def __init__(self):
        self.inferior = gdb.selected_inferior()
        self.chunks = {}

    def read(self, addr, n):
        base = addr & ~(self.CHUNK - 1)
        if addr >= 0 and addr + n <= base + self.CHUNK:
            chunk = self.chunks.get(base)
            if chunk is None:
                if len(self.chunks) > 512:
                    self.chunks.clear()
                try:
                    chunk = bytes(self.inferior.read_memory(base, self.CHUNK))
                except gdb.MemoryError:
                    chunk = False  # straddles a mapping's end: read exactly
                self.chunks[base] = chunk
            if chunk:
                return chunk[addr - base:addr - base + n]
        try:
            return bytes(self.inferior.read_memory(addr, n))
        except (gdb.MemoryError, OverflowError, ValueError):
            raise Problem("cannot read memory", addr)

    def u64(self, addr):
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def u32(self, addr):
        return struct.unpack("<I", self.read(addr, 4))[0]

    def i32(self, addr):
        return struct.unpack("<i", self.read(addr, 4))[0]

    def u16(self, addr):
        return struct.unpack("<H", self.read(addr, 2))[0]


class ExactMemory(Memory):
    """Reads exactly the bytes asked for.  Reading a page the program never
    touched maps the zero page into it, which mincore() and the pagemap
    then count as resident: a chunk read around a free block's header made
    `heap stats` change the heap_resident_bytes the program reports next."""

    def read(self, addr, n):
        try:
            return bytes(self.inferior.read_memory(addr, n))
        except (gdb.MemoryError, OverflowError, ValueError):
            raise Problem("cannot read memory", addr)


# ---- the allocator's state ----------------------------------------------------


def offsets(type_):
    """Byte offsets of a struct's fields, by name."""
    return {f.name: f.bitpos // 8 for f in type_.strip_typedefs().fields() if f.name}


def array_len(type_):
    lo, hi = type_.strip_typedefs().range()
    return hi - lo + 1


def find_la():
    """The allocator's `la` symbol (la_state_t), from whichever objfile defines it:
    liballocator.so when preloaded, the program when linked statically."""
    if gdb.selected_inferior().pid == 0:
        raise HeapError("no process: run the program first")
    candidates = []
    for objfile in gdb.objfiles():
        try:
            sym = objfile.lookup_global_symbol("la")
        except (AttributeError, gdb.error):
            sym = None
        if sym is not None:
            candidates.append(sym)
    sym = gdb.lookup_global_symbol("la")
    if sym is not None:
        candidates.append(sym)
    for sym in candidates:
        if sym.type is not None and str(sym.type) == "la_state_t":
            return sym
    raise HeapError("liballocator's state `la` not found: is the program running on "
                    "liballocator built with debug info (-g)?")


class Layout:
    """Struct layouts and array lengths from the debug info, reached from
    la's own type so that a program's unrelated types of the same name
    cannot be picked up."""

    def __init__(self, la):
        la_t = la.type.strip_typedefs()
        heap_t = la_t["heaps"].type.strip_typedefs().target()
        self.max_heaps = array_len(la_t["heaps"].type)
        self.num_classes = array_len(heap_t["bins"].type)
        self.free_t = heap_t["bins"].type.strip_typedefs().target().target()
        self.tnode_t = heap_t["tree"].type.strip_typedefs().target()
        self.region_t = heap_t["regions"].type.strip_typedefs().target()
        self.large_t = la_t["large_list"].type.strip_typedefs().target()
        self.tcache_t = la_t["tc_list"].type.strip_typedefs().target()
        self.free = offsets(self.free_t)
        self.tnode = offsets(self.tnode_t)
        self.region_bytes = self.region_t.strip_typedefs().sizeof
        self.large_bytes = self.large_t.strip_typedefs().sizeof
        self.large = offsets(self.large_t)
        tc_t = self.tcache_t.strip_typedefs()
        self.tc_bins = array_len(tc_t["bins"].type)
        self.tc_small_bins = array_len(heap_t["slab_avail"].type)  # one bin per slab class
        self.slab_t = heap_t["slab_all"].type.strip_typedefs().target()
        self.tc_bins_offset = tc_t["bins"].bitpos // 8
        tbin_t = tc_t["bins"].type.strip_typedefs().target()
        self.tbin_bytes = tbin_t.strip_typedefs().sizeof
        self.tbin = offsets(tbin_t)
        # The one-word class's word stack (src/tcache.h): words_held and
        # words_cap, then words[], the struct's tail (a flexible array:
        # LA_TC_WORD_SLOTS_MAX entries in a live cache).
        self.tc_words_held_offset = tc_t["words_held"].bitpos // 8
        self.tc_words_cap_offset = tc_t["words_cap"].bitpos // 8
        self.tc_words_offset = tc_t["words"].bitpos // 8
        try:
            block_t = gdb.lookup_type("la_block_t").strip_typedefs()
            self.header_bytes = block_t.sizeof
            block = offsets(block_t)
            self.req_off, self.check_off = block["req"], block["check"]
        except gdb.error:
            # src/internal.h: head (8), req (4), check (4)
            self.header_bytes, self.req_off, self.check_off = 16, 8, 12


def block_hash(addr, head, key, header_bytes):
    """blk_hash() of src/internal.h: the keyed hash of the header at addr
    (its payload address, and its head word without the flag bits)."""
    x = (head & ~LA_FLAG_MASK & MASK64) ^ (addr + header_bytes)
    return ((x * key) & MASK64) >> 32


def check_plain(hash_, req):
    """la_check_plain(): a live block's check word before any variant."""
    return (hash_ + req + 1) & MASK32


def check_word(hash_, req):
    """la_check_word(): blocks too big for any cache bin carry BIG."""
    return check_plain(hash_, req) ^ (LA_CHECK_BIG if req > LA_TC_MAX_BYTES else 0)


class Block:
    """One block as its header describes it."""

    def __init__(self, mem, layout, addr):
        self.addr = addr
        self.head = mem.u64(addr)
        self.size = self.head & LA_SIZE_MASK
        self.heap = self.head >> LA_HEAD_HEAP_SHIFT
        self.is_free = bool(self.head & LA_FREE)
        self.prev_free = bool(self.head & LA_PREV_FREE)
        self.req = mem.u32(addr + layout.req_off)
        self.check = mem.u32(addr + layout.check_off)
        self.header_bytes = layout.header_bytes

    def hash(self, key):
        return block_hash(self.addr, self.head, key, self.header_bytes)

    def is_live(self, key):
        live = check_word(self.hash(key), self.req)
        return self.check in (live, live ^ LA_CHECK_PROF)

    def is_cached(self, key):
        """Marked as waiting in a thread cache or on a remote list: the
        check word is the bare hash."""
        return self.check == self.hash(key)


class State:
    """A snapshot of `la` and what hangs from it, read for one command."""

    def __init__(self):
        self.la_symbol = find_la()
        self.la = self.la_symbol.value()
        self.mem = Memory()
        self.layout = Layout(self.la)
        self.key = int(self.la["key"])
        if not int(self.la["ready"]):
            raise HeapError("liballocator is not initialised yet (no allocation so far)")
        self.word_key = int(self.la["word_key"])
        self.num_heaps = int(self.la["num_heaps"])
        if self.num_heaps > self.layout.max_heaps:
            raise HeapError("la.num_heaps is %d, beyond the %d heaps there are"
                            % (self.num_heaps, self.layout.max_heaps))

    def heap(self, i):
        return self.la["heaps"][i]

    def regions(self, h):
        """The regions of heap h (newest first), each a gdb.Value."""
        out, seen = [], set()
        r = h["regions"]
        while int(r) != 0:
            if int(r) in seen:
                raise Problem("region list has a cycle", int(r), int(h["index"]))
            seen.add(int(r))
            out.append(r.dereference())
            r = r.dereference()["next"]
        return out

    def region_span(self, r):
        """(first block, fence) of a region: blocks follow its la_region_t,
        the fence is the last header (size 0) before r->end."""
        start = int(r.address)
        return start + self.layout.region_bytes, int(r["end"]) - self.layout.header_bytes

    def caches(self):
        """Every live thread cache (la.tc_list), each a gdb.Value pointer."""
        out, seen = [], set()
        tc = self.la["tc_list"]
        while int(tc) != 0 and len(out) < WALK_LIMIT:
            if int(tc) in seen:
                raise Problem("thread-cache list has a cycle", int(tc))
            seen.add(int(tc))
            out.append(tc)
            tc = tc.dereference()["next"]
        return out

    def larges(self):
        """Every live large block: (la_large_t address, block address)."""
        out, seen = [], set()
        l = int(self.la["large_list"])
        while l != 0 and len(out) < WALK_LIMIT:
            if l in seen:
                raise Problem("large-block list has a cycle", l)
            seen.add(l)
            out.append((l, l + self.layout.large_bytes))
            l = self.mem.u64(l + self.layout.large["next"])
        return out

    def tc_bin(self, tc_addr, i):
        """(head, room, cap) of bin i of the cache at tc_addr: the room is
        bin_room() of src/tcache.h, pops - full_at modulo 2^32, signed."""
        at = tc_addr + self.layout.tc_bins_offset + i * self.layout.tbin_bytes
        t = self.layout.tbin
        room = (self.mem.u64(at + t["pops"]) - self.mem.u32(at + t["full_at"])) & 0xFFFFFFFF
        if room >= 1 << 31:
            room -= 1 << 32
        return (self.mem.u64(at + t["head"]), room, self.mem.u16(at + t["cap"]))

    def tc_words_cap(self, tc_addr):
        """The room of the word stack of the cache at tc_addr (words_cap)."""
        return self.mem.i32(tc_addr + self.layout.tc_words_cap_offset)

    def tc_words(self, tc_addr):
        """(words_held, its slots) of the word stack of the cache at tc_addr:
        words[0 .. words_held - 1], as many of them as the stack has."""
        lay = self.layout
        held = self.mem.i32(tc_addr + lay.tc_words_held_offset)
        n = max(0, min(held, LA_TC_WORD_SLOTS_MAX))
        data = self.mem.read(tc_addr + lay.tc_words_offset, 8 * n) if n else b""
        return held, list(struct.unpack("<%dQ" % n, data))

    def tc_bin_held(self, tc_addr, i):
        """bin_held() of src/tcache.c: the blocks bin i of the cache at
        tc_addr holds, cap - room, and for the one-word class (whose bin
        stays empty) its word stack's words_held."""
        _, room, cap = self.tc_bin(tc_addr, i)
        held = cap - room
        if i == LA_SLAB_WORD_CLASS:
            held += self.mem.i32(tc_addr + self.layout.tc_words_held_offset)
        return held

    def slab_of(self, addr):
        """The la_slab_t address of the slab holding addr, or 0 (la.slab_map)."""
        if addr >> LA_SLAB_ADDR_BITS:
            return 0
        l2 = int(self.la["slab_map"][addr >> 32])
        if l2 == 0:
            return 0
        return self.mem.u64(l2 + ((addr & 0xFFFFFFFF) >> LA_SLAB_SHIFT) * 8)

    def slab(self, s):
        """The fields of the la_slab_t at s, as a dict of ints."""
        v = gdb.Value(s).cast(self.layout.slab_t.pointer()).dereference()
        names = ("base", "carved", "cls", "size", "nslots", "nfree", "on_avail", "first_word",
                 "next_all", "purged")
        out = {k: int(v[k]) for k in names}
        # Where the slab starts (its first chunk; the first slot is past
        # the header and a colour of a few cache lines: slab_start() of
        # src/slab.h), which is where its heap block's header is.
        out["start"] = out["base"] & ~((1 << LA_SLAB_SHIFT) - 1)
        out["block"] = out["start"]
        out["heap"] = ((int(v["heap"]) - int(self.la["heaps"][0].address))
                       // self.la["heaps"][0].type.sizeof)
        out["freemap"] = v["freemap"]
        return out

    def slabs(self, h):
        """Every slab of heap h: a list of (address, fields)."""
        out, seen = [], set()
        s = int(h["slab_all"])
        while s != 0 and len(out) < WALK_LIMIT:
            if s in seen:
                raise Problem("slab list has a cycle", s, int(h["index"]))
            seen.add(s)
            f = self.slab(s)
            out.append((s, f))
            s = f["next_all"]
        return out

    def slot_tag(self, p):
        return (int(self.la["slot_key"]) ^ p) & MASK64

    def linked(self, p):
        """True while p's two link words agree (src/internal.h, la_link_*):
        word 0 is the next element ^ slot_key ^ p, word 1 the next one."""
        return (self.mem.u64(p) ^ self.mem.u64(p + 8)) == self.slot_tag(p)

    def word_marked(self, p):
        """la_word_marked() of src/internal.h: a free one-word slot's word
        is word_key ^ p."""
        return self.mem.u64(p) == (self.word_key ^ p) & MASK64

    def slot_marked_free(self, size, p):
        """slab_slot_marked_free() of src/slab.h: slot p (of `size` bytes)
        holds what a free slot holds: link words, or a one-word slot's mark."""
        return self.word_marked(p) if one_word(size) else self.linked(p)

    def chain(self, first, limit):
        """Payloads linked through their link words (thread-cache bins and
        remote lists), at most `limit` of them; the bool says whether the
        chain ended within the limit.  A link that fails its check ends the
        walk there, as the allocator would refuse to follow it."""
        out = []
        p = first
        while p != 0 and len(out) < limit:
            out.append(p)
            if not self.linked(p):
                raise Problem("free list corrupted (a write after free?)", p)
            p = self.mem.u64(p + 8)
        return out, p == 0

    def cache_threads(self):
        """{cache address: thread description}, from each thread's la_tc.
        Switches threads to read the TLS and puts the selection back."""
        owners = {}

        def read(t):
            owners[int(gdb.parse_and_eval("la_tc"))] = "thread %d (LWP %d)" % (t.num, t.ptid[1])

        self.for_each_thread(read)
        return owners

    def threads_inside(self):
        """Threads stopped inside the allocator's code ("thread N in FUNC"):
        its structures may be half-way through a change there.  The
        allocator's code is what was compiled from the src/ and preload/
        directories next to the file that defines `la`, or, without line
        information, liballocator.so's."""
        inside = []
        try:
            symtab = self.la_symbol.symtab
            root = os.path.dirname(os.path.dirname(symtab.fullname()))
            dirs = tuple(os.path.join(root, d) + os.sep for d in ("src", "preload"))
        except (AttributeError, gdb.error):
            dirs = ()

        def ours(frame):
            sal = frame.find_sal()
            if dirs and sal.symtab is not None and sal.symtab.fullname().startswith(dirs):
                return True
            # Without line info (inlined into a caller built elsewhere), the
            # shared object the pc is in still tells.
            lib = gdb.solib_name(frame.pc())
            return lib is not None and os.path.basename(lib).startswith("liballocator.")

        def scan(t):
            frame, depth = gdb.newest_frame(), 0
            while frame is not None and depth < 64:
                if ours(frame):
                    inside.append("thread %d in %s" % (t.num, frame.name() or "?"))
                    return
                frame, depth = frame.older(), depth + 1

        self.for_each_thread(scan)
        return inside

    def for_each_thread(self, fn):
        """Calls fn(thread) with each thread selected in turn, then puts
        the user's thread and frame back."""
        try:
            thread, frame = gdb.selected_thread(), gdb.selected_frame()
        except gdb.error:
            return
        try:
            for t in gdb.selected_inferior().threads():
                try:
                    t.switch()
                    fn(t)
                except gdb.error:
                    pass
        finally:
            try:
                thread.switch()
                frame.select()
            except gdb.error:
                pass

    def held_locks(self):
        """Names of the allocator's locks held now (a call into the program
        would wait for them forever)."""
        held = []
        for name in ("init_lock", "tc_lock", "heaps_lock", "large_lock", "stats_lock"):
            if int(self.la[name]["word"]) != 0:
                held.append("la." + name)
        for i in range(self.num_heaps):
            if int(self.heap(i)["lock"]["word"]) != 0:
                held.append("heap %d's lock" % i)
        return held


# ---- heap stats -------------------------------------------------------------

STAT_FIELDS = ("total_allocated", "total_freed", "current_usage", "peak_usage",
               "num_allocations", "num_frees", "num_splits", "num_coalesces", "num_mmaps",
               "num_munmaps", "heap_size", "mmap_bytes", "num_heaps", "large_cached",
               "large_cache_bytes", "num_purges", "released_bytes", "num_large",
               "heap_resident_bytes")
# Where the heaps' bytes are: the report's rows after resident_bytes (not
# in mem_stats_t; `heap stats --inferior` has none of them).
WHERE_FIELDS = ("slot_live_bytes", "slot_cached_bytes", "slot_remote_bytes", "slot_free_bytes",
                "slot_unused_bytes", "block_cached_bytes", "block_free_bytes")
# Fields mem_get_stats() reports since the last mem_reset (la.reset_base).
RESET_FIELDS = ("total_allocated", "total_freed", "num_allocations", "num_frees",
                "num_splits", "num_coalesces", "num_mmaps", "num_munmaps", "num_purges",
                "released_bytes")
COUNTERS = ("alloc_bytes", "free_bytes", "nalloc", "nfree", "splits", "coalesces")


def tcache_counters(st, tc):
    """tcache_counters() of src/tcache.c.  Frees into a cache are not
    counted one by one: every block in a bin came in by a refill or a free
    and left by an allocation or a flush, so frees = cached now + pops +
    flushed - refilled."""
    v = tc.dereference()
    out = {"nalloc": 0, "nfree": 0, "alloc_bytes": 0, "free_bytes": 0}
    # Slab bins count their own pops and batch moves: frees = held + pops +
    # moved, where the one-word class holds its word stack (bin_held).
    for i in range(st.layout.tc_small_bins):
        b = v["bins"][i]
        pops, moved = int(b["pops"]), int(b["moved"])
        if i == LA_SLAB_WORD_CLASS:  # the word stack counts its own
            pops += int(v["words_pops"])
        frees = st.tc_bin_held(int(tc), i) + pops + moved
        out["nalloc"] += pops
        out["nfree"] += frees
        out["alloc_bytes"] += pops * SLAB_SIZES[i]
        out["free_bytes"] += frees * SLAB_SIZES[i]
    cached = 0
    for i in range(st.layout.tc_small_bins, st.layout.tc_bins):
        _, room, cap = st.tc_bin(int(tc), i)
        cached += cap - room
    pops, nresize = int(v["nalloc"]), int(v["nresize"])  # nalloc: medium pops
    pushes = cached + pops + int(v["flushed"]) - int(v["refilled"])
    out["nalloc"] += pops + nresize
    out["nfree"] += pushes + nresize
    out["alloc_bytes"] += int(v["alloc_bytes"])
    out["free_bytes"] += int(v["free_bytes"])
    return out


def compute_stats(st):
    """mem_get_stats() (src/stats.c) from memory: heaps' counters, large
    blocks' counters, live and retired thread caches, minus the baseline of
    the last mem_reset.  size_t arithmetic wraps as in C."""
    la = st.la
    total = dict.fromkeys(COUNTERS, 0)
    heap_bytes = 0
    for i in range(st.num_heaps):
        h = st.heap(i)
        for k in COUNTERS:
            total[k] += int(h["counters"][k])
        heap_bytes += int(h["region_bytes"])
    for k in COUNTERS:
        total[k] += int(la["large_counters"][k])
    # Retired caches keep their allocation and free counts only.
    for k in ("nalloc", "alloc_bytes", "nfree", "free_bytes"):
        total[k] += int(la["tc_retired"][k])
    for tc in st.caches():
        for k, n in tcache_counters(st, tc).items():
            total[k] += n
    s = {k: total[c] & MASK64 for k, c in (
        ("total_allocated", "alloc_bytes"), ("total_freed", "free_bytes"),
        ("num_allocations", "nalloc"), ("num_frees", "nfree"),
        ("num_splits", "splits"), ("num_coalesces", "coalesces"))}
    s["num_mmaps"] = int(la["num_mmaps"])
    s["num_munmaps"] = int(la["num_munmaps"])
    s["current_usage"] = (total["alloc_bytes"] - total["free_bytes"]) & MASK64
    # A snapshot raises the peak to the exact current usage.
    s["peak_usage"] = max(int(la["peak"]), s["current_usage"])
    s["heap_size"] = heap_bytes
    s["mmap_bytes"] = int(la["large_bytes"])
    s["large_cached"] = int(la["large_cache_count"])
    s["large_cache_bytes"] = int(la["large_cache_bytes"])
    s["num_heaps"] = st.num_heaps
    s["num_purges"] = int(la["num_purges"])
    s["released_bytes"] = int(la["released_bytes"])
    s["num_large"] = int(la["large_count"])
    per_heap = [heap_resident_bytes(st, i) for i in range(st.num_heaps)]
    s["heap_resident_bytes"] = None if None in per_heap else sum(per_heap)
    base = la["reset_base"]
    for k in RESET_FIELDS:
        s[k] = (s[k] - int(base[k])) & MASK64
    s.update(where_bytes(st))
    return s


def medium_block_bytes(m):
    """blk_size_for(tcache_medium_class_bytes(m)) of src/tcache.h: the block size
    of medium bin m (thread-cache bin small_bins + m)."""
    usable = medium_class_bytes(m)
    return max((usable + 16 + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT, MIN_BLOCK_SIZE)


def where_bytes(st):
    """where_bytes() of src/stats.c: the slab slots live, in thread caches,
    on remote lists, free in their slab, never handed out; the heap blocks
    in thread caches, and free (lists, tree, top)."""
    chunked, st.mem = st.mem, ExactMemory()
    try:
        return where_bytes_read(st)
    finally:
        st.mem = chunked


def where_bytes_read(st):
    """where_bytes() with exact reads: the free blocks' headers and nodes
    are on pages the heap wrote, their neighbours may not be."""
    lay = st.layout
    n = len(SLAB_SIZES)
    used, carved, slots, cached, remote = [0] * n, [0] * n, [0] * n, [0] * n, [0] * n
    w = dict.fromkeys(WHERE_FIELDS, 0)
    for i in range(st.num_heaps):
        h = st.heap(i)
        for _, f in st.slabs(h):
            c = f["cls"]
            used[c] += f["nslots"] - f["nfree"]
            carved[c] += f["carved"]
            slots[c] += f["nslots"]
        for c in range(n):
            remote[c] += int(h["slab_remote"][c]) >> LA_SLAB_ADDR_BITS
        for c in range(lay.num_classes - 1):
            w["block_free_bytes"] += sum(list_sizes(st, h, c, i))
        w["block_free_bytes"] += sum(tree_sizes(st, int(h["tree"]), i))
        top = int(h["top"])
        if top:
            w["block_free_bytes"] += st.mem.u64(top) & LA_SIZE_MASK
    for tc in st.caches():
        for b in range(lay.tc_bins):
            held = st.tc_bin_held(int(tc), b)  # the word stack's too (bin 0)
            if held <= 0:
                continue
            if b < lay.tc_small_bins:
                cached[b] += held
            else:
                w["block_cached_bytes"] += held * medium_block_bytes(b - lay.tc_small_bins)
    for c in range(n):
        size = SLAB_SIZES[c]
        on_lists = min(remote[c], used[c])
        in_caches = min(cached[c], used[c] - on_lists)
        w["slot_live_bytes"] += (used[c] - on_lists - in_caches) * size
        w["slot_cached_bytes"] += in_caches * size
        w["slot_remote_bytes"] += on_lists * size
        w["slot_free_bytes"] += (carved[c] - used[c]) * size
        w["slot_unused_bytes"] += (slots[c] - carved[c]) * size
    return w


# Fields that are byte counts: the report shows them in KiB/MiB/GiB too.
BYTE_FIELDS = ("total_allocated", "total_freed", "current_usage", "peak_usage", "heap_size",
               "mmap_bytes", "large_cache_bytes", "released_bytes", "heap_resident_bytes") + \
    WHERE_FIELDS


def bytes_for_people(n):
    """log_format_bytes() of src/log.c: "512 B", "1.5 KiB", one decimal."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    u = 0
    while u + 1 < len(units) and n >> (10 * (u + 1)):
        u += 1
    if u == 0:
        return "%d B" % n
    unit = 1 << (10 * u)
    whole, tenths = n // unit, ((n % unit) * 10 + unit // 2) // unit
    if tenths == 10:
        whole, tenths = whole + 1, 0
    return "%d.%d %s" % (whole, tenths, units[u])


def print_stats(title, s):
    # The layout of mem_print_stats() (src/stats.c): the number ends at
    # column 35, sizes are followed by the same in KiB/MiB/GiB.
    lines = [title]
    for name in STAT_FIELDS + tuple(k for k in WHERE_FIELDS if k in s):
        if s[name] is None:  # what this gdb could not read
            lines.append("  %s %*s" % (name, 32 - len(name), "?"))
            continue
        line = "  %s %*d" % (name, 32 - len(name), s[name])
        if name in BYTE_FIELDS:
            line += "  (%s)" % bytes_for_people(s[name])
        lines.append(line)
    gdb.write("\n".join(lines) + "\n")


# ---- heap check ---------------------------------------------------------------


class Checker:
    """check.c in Python: walks every region block by block, then the free
    lists and the tree, and cross-checks them; then the large blocks; then
    the thread caches and remote lists against the blocks marked cached.
    Raises Problem at the first inconsistency."""

    def __init__(self, st):
        self.st, self.mem, self.lay = st, st.mem, st.layout
        self.blocks = 0
        self.live_blocks = {}  # address -> size, for check_slabs
        self.free = 0
        self.cached = {}  # address of a block marked cached -> its heap
        self.slots_seen = set()  # free slots met in bins and remote lists
        self.slab_cache = {}

    def run(self):
        for i in range(self.st.num_heaps):
            self.check_heap(i)
        large = self.check_large()
        self.check_caches()
        return self.blocks, self.free, len(self.cached), large

    def check_heap(self, i):
        h = self.st.heap(i)
        if int(h["index"]) != i:
            raise Problem("heap index field is %d" % int(h["index"]), int(h.address), i)
        free_blocks = set()
        spans = []
        total = 0
        for r in self.st.regions(h):
            spans.append(self.st.region_span(r))
            self.check_region(i, h, r, free_blocks)
            total += int(r["bytes"])
        if total != int(h["region_bytes"]):
            raise Problem("region byte count differs from the regions", int(h.address), i)
        self.free += len(free_blocks)
        self.check_lists(i, h, free_blocks, spans)

    def check_region(self, i, h, r, free_blocks):
        if int(r["heap"]) != int(h.address):
            raise Problem("region owned by another heap", int(r.address), i)
        first, fence = self.st.region_span(r)
        heap_block_max = int(self.st.la["heap_block_max"])
        top = int(h["top"])
        # While the top ends the newest region, that region's fence is not
        # kept (src/internal.h, la_heap_t.top).
        fence_kept = top == 0 or int(r.address) != int(h["regions"])
        addr, prev_free = first, False
        while addr < fence:
            b = Block(self.mem, self.lay, addr)
            if b.size < MIN_BLOCK_SIZE or addr + b.size > fence:
                raise Problem("block size out of bounds (%d)" % b.size, addr, i)
            if b.heap != i:
                raise Problem("block header names another heap (%d)" % b.heap, addr, i)
            if b.prev_free != prev_free:
                raise Problem("PREV_FREE disagrees with the left neighbour", addr, i)
            if b.head & LA_MMAPPED:
                raise Problem("MMAPPED flag inside a heap region", addr, i)
            if b.is_free:
                if prev_free:
                    raise Problem("two adjacent free blocks", addr, i)
                # The footer is the free block's last word: its size.  The
                # heap's top keeps none (src/internal.h, la_heap_t.top).
                if addr != top and self.mem.u64(addr + b.size - 8) != b.size:
                    raise Problem("free block footer differs from its size", addr, i)
                free_blocks.add(addr)
            else:
                plain = check_plain(b.hash(self.st.key), b.req)
                if b.is_cached(self.st.key):
                    self.cached[addr] = i
                elif b.check not in (plain, plain ^ LA_CHECK_BIG, plain ^ LA_CHECK_PROF,
                                     plain ^ LA_CHECK_BIG ^ LA_CHECK_PROF):
                    raise Problem("live block header fails its check word (%#x)" % b.check,
                                  addr, i)
                elif not b.is_live(self.st.key):
                    raise Problem("check variant disagrees with the requested size", addr, i)
                if b.size > heap_block_max:
                    raise Problem("live block larger than any heap block", addr, i)
                if b.req > b.size - self.lay.header_bytes:
                    raise Problem("requested size exceeds the usable size", addr, i)
                self.live_blocks[addr] = b.size
            self.blocks += 1
            prev_free = b.is_free
            addr += b.size
        if addr != fence:
            raise Problem("blocks overrun the region's fence", addr, i)
        f = Block(self.mem, self.lay, fence)
        if fence_kept and (f.size != 0 or f.prev_free != prev_free or f.heap != i):
            raise Problem("fence header damaged", fence, i)
        if int(r["fresh"]) > int(r["end"]):
            raise Problem("zero-tracking mark beyond the region", int(r.address), i)

    def check_lists(self, i, h, free_blocks, spans):
        last = self.lay.num_classes - 1
        bitmap = int(h["bitmap"])
        listed = set()

        def in_regions(a):
            return any(lo <= a < hi for lo, hi in spans)

        # The last class: a red-black tree, ordered by (size, address).
        root = int(h["tree"])
        nodes = self.check_tree(i, root)
        if (root != 0) != bool(bitmap >> last & 1):
            raise Problem("class bitmap disagrees with the tree", int(h["tree"].address), i)
        if int(h["bins"][last]) != 0:
            raise Problem("last class has a list as well as the tree", int(h["bins"][last]), i)
        for n in nodes:
            if not in_regions(n):
                raise Problem("tree node outside the heap's regions", n, i)
            if n not in free_blocks or \
                    bins_class(self.mem.u64(n) & LA_SIZE_MASK, last + 1) != last:
                raise Problem("tree node not a free block of the last class", n, i)
            listed.add(n)
        # The top (src/bins.c): the free block that ends the newest region,
        # on no list and not in the tree.
        top = int(h["top"])
        if top:
            if top not in free_blocks or top in listed:
                raise Problem("top is not the start of a free block", top, i)
            if top + (self.mem.u64(top) & LA_SIZE_MASK) != spans[0][1]:
                raise Problem("top does not end the newest region", top, i)
            if bins_class(self.mem.u64(top) & LA_SIZE_MASK, last + 1) != last:
                raise Problem("top smaller than the tree's class", top, i)
            listed.add(top)
        # The other classes: doubly linked lists, newest first.
        nxt, prv = self.lay.free["next"], self.lay.free["prev"]
        for c in range(last):
            head = int(h["bins"][c])
            if (head != 0) != bool(bitmap >> c & 1):
                raise Problem("class bitmap disagrees with its list", int(h["bins"][c].address), i)
            prev, f = 0, head
            while f != 0:
                if f in listed or len(listed) >= len(free_blocks):
                    raise Problem("more listed blocks than free blocks (cycle or stray entry)",
                                  f, i)
                if not in_regions(f):
                    raise Problem("free list entry outside the heap's regions", f, i)
                if f not in free_blocks:
                    raise Problem("free list entry not a free block", f, i)
                if bins_class(self.mem.u64(f) & LA_SIZE_MASK, last + 1) != c:
                    raise Problem("free block on the wrong class list (class %d)" % c, f, i)
                if self.mem.u64(f + prv) != prev:
                    raise Problem("free list back link broken", f, i)
                listed.add(f)
                prev, f = f, self.mem.u64(f + nxt)
        missing = free_blocks - listed
        if missing:
            raise Problem("free block missing from the free lists", min(missing), i)

    def check_tree(self, i, root):
        """tree_check() of src/tree.c; returns the nodes in order."""
        t = self.lay.tnode
        mem = self.mem
        seen = []
        visited = set()

        def key(n):
            return (mem.u64(n) & LA_SIZE_MASK, n)

        def color(n):
            return mem.i32(n + t["color"])

        def is_red(n):
            return n != 0 and color(n) == 0

        def walk(n, parent, depth):
            # Returns the black height of the subtree at n.
            if n == 0:
                return 1
            if n in visited or depth > 128:  # no red-black tree is deeper
                raise Problem("tree has a cycle", n, i)
            visited.add(n)
            left, right = mem.u64(n + t["left"]), mem.u64(n + t["right"])
            if mem.u64(n + t["parent"]) != parent:
                raise Problem("tree parent link broken", n, i)
            if color(n) not in (0, 1):
                raise Problem("tree colour neither red nor black", n, i)
            if is_red(n) and (is_red(left) or is_red(right)):
                raise Problem("red tree node with a red child", n, i)
            if (left and not key(left) < key(n)) or (right and not key(n) < key(right)):
                raise Problem("tree nodes out of (size, address) order", n, i)
            lh = walk(left, n, depth + 1)
            seen.append(n)
            rh = walk(right, n, depth + 1)
            if lh != rh:
                raise Problem("tree black heights differ", n, i)
            return lh + (color(n) == 1)

        if root != 0 and (color(root) != 1 or mem.u64(root + t["parent"]) != 0):
            raise Problem("tree root not black, or has a parent", root, i)
        walk(root, 0, 0)
        return seen

    def check_large(self):
        st, mem = self.st, self.mem
        total = 0
        prev = 0
        larges = st.larges()
        for l, b in larges:
            blk = Block(mem, self.lay, b)
            map_bytes = mem.u64(l + self.lay.large["map_bytes"])
            req_bytes = mem.u64(l + self.lay.large["req_bytes"])
            # Large blocks belong to no heap, and carry the BIG variant.
            if not blk.head & LA_MMAPPED or blk.heap != LA_HEAP_NONE or \
                    blk.req != LA_REQ_LARGE or not blk.is_live(st.key) or \
                    map_bytes < blk.size or req_bytes > blk.size - self.lay.header_bytes:
                raise Problem("large block header damaged", b)
            if mem.u64(l + self.lay.large["prev"]) != prev:
                raise Problem("large list back link broken", l)
            prev = l
            total += map_bytes
        if total != int(st.la["large_bytes"]):
            raise Problem("large byte count %d, blocks hold %d"
                          % (int(st.la["large_bytes"]), total), int(st.la["large_bytes"].address))
        return len(larges)

    def check_caches(self):
        """Every block marked cached sits in exactly one thread-cache bin or
        remote list, and every bin holds cap - room blocks; the one-word
        class's free slots sit in word stacks only, its bins and slab remote
        lists stay empty.  (A program stopped inside malloc or free may be
        between two of these steps.)"""
        st = self.st
        found = set()

        def take(p, where):
            b = p - self.lay.header_bytes
            if b not in self.cached:
                raise Problem("%s: entry is not a block marked cached" % where, b)
            if b in found:
                raise Problem("%s: block cached twice" % where, b)
            found.add(b)
            return b

        for tc in st.caches():
            where = "thread cache %#x" % int(tc)
            v = tc.dereference()
            if int(v["kind"]) != LA_TC_LIVE or int(v["key"]) != st.key or int(v["bias"]) != 0:
                raise Problem("%s: not a live cache" % where, int(tc))
            for n in range(self.lay.tc_bins):
                head, room, cap = st.tc_bin(int(tc), n)
                if n == LA_SLAB_WORD_CLASS and (head != 0 or room != 0 or cap != 0):
                    raise Problem("%s: bin %d of one-word slots is not empty (cap %d, room %d: "
                                  "they go to the word stack)" % (where, n, cap, room),
                                  head or int(tc))
                entries, ended = st.chain(head, cap + 1)
                if not ended or len(entries) > cap:
                    raise Problem("%s: bin %d holds more than its capacity %d" % (where, n, cap),
                                  head)
                if len(entries) != cap - room:
                    raise Problem("%s: bin %d lists %d blocks, cap - room says %d"
                                  % (where, n, len(entries), cap - room), head)
                for p in entries:
                    if n < self.lay.tc_small_bins:
                        self.take_slot(p, "%s bin %d" % (where, n), n)
                    else:
                        take(p, "%s bin %d" % (where, n))
            self.check_words(tc, where)
        for i in range(st.num_heaps):
            where = "heap %d remote list" % i
            entries, ended = st.chain(int(st.heap(i)["remote"]), len(self.cached) + 1)
            if not ended:
                raise Problem("%s: longer than the cached blocks there are" % where,
                              int(st.heap(i)["remote"]))
            for p in entries:
                if self.cached[take(p, where)] != i:
                    raise Problem("%s: block of another heap" % where, p - self.lay.header_bytes)
        for i in range(st.num_heaps):
            for c in range(st.layout.tc_small_bins):
                where = "heap %d slab remote list of class %d" % (i, c)
                word = st.heap(i)["slab_remote"][c]
                if c == LA_SLAB_WORD_CLASS and int(word) != 0:
                    raise Problem("%s: not empty, but one-word slots are never linked" % where,
                                  remote_head(word), i)
                head = remote_head(word)
                entries, ended = st.chain(head, WALK_LIMIT)
                if not ended:
                    raise Problem("%s: does not end" % where, head)
                for p in entries:
                    self.take_slot(p, where, c)
        self.check_slabs()
        stray = set(self.cached) - found
        if stray:
            raise Problem("block marked cached but in no thread cache or remote list",
                          min(stray), self.cached[min(stray)])

    def check_words(self, tc, where):
        """The word stack of the cache tc: words_held within the stack, and
        each of its entries a free slot of the one-word class (take_slot)."""
        held, entries = self.st.tc_words(int(tc))
        room = self.st.tc_words_cap(int(tc))
        if not 0 <= room <= LA_TC_WORD_SLOTS_MAX:
            raise Problem("%s: word stack's room %d beyond 0..%d"
                          % (where, room, LA_TC_WORD_SLOTS_MAX),
                          int(tc) + self.lay.tc_words_cap_offset)
        if not 0 <= held <= room:
            raise Problem("%s: word stack holds %d slots, beyond 0..%d"
                          % (where, held, room),
                          int(tc) + self.lay.tc_words_held_offset)
        for k, p in enumerate(entries):
            self.take_slot(p, "%s word stack entry %d" % (where, k), LA_SLAB_WORD_CLASS)

    def take_slot(self, p, where, cls):
        """A free slot in a cache bin, a word stack or a remote list: the
        start of a handed-out slot of its bin's class, tagged free (linked,
        or marked: one-word slots), seen once.  Not free in its slab's
        bitmap either: check_slabs looks for it there."""
        st = self.st
        s = st.slab_of(p)
        if s == 0:
            raise Problem("%s: entry is not in a slab" % where, p)
        f = self.slab_fields(s)
        off = p - f["base"]
        if off % f["size"] or off // f["size"] >= f["carved"]:
            raise Problem("%s: entry is not the start of a handed-out slot" % where, p)
        if cls is not None and f["cls"] != cls:
            raise Problem("%s: slot of %d bytes in the wrong bin" % (where, f["size"]), p)
        if not st.slot_marked_free(f["size"], p):
            raise Problem("%s: free slot's %s overwritten (use after free?)"
                          % (where, "mark" if one_word(f["size"]) else "link words"), p)
        if p in self.slots_seen:
            raise Problem("%s: slot cached twice" % where, p)
        self.slots_seen.add(p)

    def slab_fields(self, s):
        f = self.slab_cache.get(s)
        if f is None:
            f = self.slab_cache[s] = self.st.slab(s)
        return f

    def check_slabs(self):
        """Each slab: its map entry, its bitmap against its count, and the
        tag of every slot free in it (slab_check_heap() of src/slab.c)."""
        st = self.st
        for i in range(st.num_heaps):
            for s, f in st.slabs(st.heap(i)):
                if st.slab_of(f["base"]) != s:
                    raise Problem("the page map does not lead back to the slab", f["base"], i)
                slots_end = f["base"] + f["nslots"] * f["size"]
                if self.live_blocks.get(f["block"], 0) < slots_end - f["block"]:
                    raise Problem("the slab's heap block is not live at its base", f["base"], i)
                bits = slab_bits(f)
                if len(bits) != f["nfree"]:
                    raise Problem("the slab's free count disagrees with its bitmap", f["base"], i)
                for k in bits:
                    p = f["base"] + k * f["size"]
                    if k >= f["carved"]:
                        continue
                    if not st.slot_marked_free(f["size"], p) and not purge_left(st, f, p):
                        raise Problem("a free slot's link words were overwritten (use after free?)",
                                      p, i)
                    if p in self.slots_seen:
                        raise Problem("a slot both in a cache and in its slab", p, i)
                if any(k not in bits for k in range(f["carved"], f["nslots"])):
                    raise Problem("a slot beyond those handed out is not marked free",
                                  f["base"], i)


def purge_left(st, f, p):
    """True if free slot p holds what a purge of its slab's pages left: its
    link words (a one-word slot's word) on purged pages read zero
    (purge_left() of src/slab.c)."""
    page, seen = int(st.la["page_bytes"]), False
    for w in (0,) if one_word(f["size"]) else (0, 8):
        k = (p + w - f["start"]) // page
        if k < 64 and (f["purged"] >> k) & 1:
            if st.mem.u64(p + w) != 0:
                return False
            seen = True
    return seen


def slab_bits(f):
    """Indices of the slots a slab's bitmap marks free."""
    out = set()
    for w in range((f["nslots"] + 63) // 64):
        word = int(f["freemap"][w]) & MASK64
        while word:
            low = word & -word
            out.add(w * 64 + low.bit_length() - 1)
            word ^= low
    return out


def slot_states(st, f):
    """One character per slot: '.' never handed out, 'f' free in the slab,
    'c' free elsewhere (a thread cache's bin or word stack, or a remote
    list: linked, or marked for one-word slots), 'L' live."""
    bits = slab_bits(f)
    out = []
    for k in range(f["nslots"]):
        p = f["base"] + k * f["size"]
        if k >= f["carved"]:
            out.append(".")
        elif k in bits:
            out.append("f")
        elif st.slot_marked_free(f["size"], p):
            out.append("c")
        else:
            out.append("L")
    return "".join(out)


def describe_cached_slot(st, p):
    """Which thread-cache bin (or word stack) or remote list holds the free
    slot p."""
    owners = st.cache_threads()
    for tc in st.caches():
        who = owners.get(int(tc))
        cache = "in a thread cache (in thread cache %#x%s" % (int(tc), " of " + who if who else "")
        for n in range(st.layout.tc_small_bins):
            head, room, cap = st.tc_bin(int(tc), n)
            if head and p in st.chain(head, cap + 1)[0]:
                return "%s, bin %d (%s))" % (cache, n, tc_bin_label(n, st.layout.tc_small_bins))
        if p in st.tc_words(int(tc))[1]:
            n = LA_SLAB_WORD_CLASS
            return "%s, bin %d (%s), its word stack)" % (
                cache, n, tc_bin_label(n, st.layout.tc_small_bins))
    for i in range(st.num_heaps):
        for c in range(st.layout.tc_small_bins):
            if p in st.chain(remote_head(st.heap(i)["slab_remote"][c]), WALK_LIMIT)[0]:
                return "freed by another thread, on heap %d's slab remote list" % i
    return "tagged free, but no thread cache or remote list holds it"


def slabs_report(st, addr=None):
    lines = []
    if addr is not None:
        s = st.slab_of(addr)
        if s == 0:
            return "%#x: not in a slab" % addr
        f = st.slab(s)
        off = addr - f["base"]
        if off < 0:
            return ("%#x is in the colour before the first slot of the slab at %#x "
                    "(heap %d, %d-byte slots)" % (addr, f["base"], f["heap"], f["size"]))
        k, into = divmod(off, f["size"])
        lines.append("%#x is %s slot %d of the slab at %#x (heap %d, %d-byte slots)"
                     % (addr, "the start of" if into == 0 else "%d bytes into" % into, k,
                        f["base"], f["heap"], f["size"]))
        states = slot_states(st, f)
        names = {".": "never handed out", "f": "free in the slab", "L": "live"}
        if k >= len(states):
            state = "past the last slot (slack)"
        elif states[k] == "c":
            state = describe_cached_slot(st, f["base"] + k * f["size"])
        else:
            state = names[states[k]]
        lines.append("  state      %s" % state)
        lines.append("  slots      %s" % states[:64] + (" ..." if len(states) > 64 else ""))
        lines.append("  legend     L live, c cached (tagged free), f free in slab, . not carved")
        return "\n".join(lines)
    for i in range(st.num_heaps):
        slabs = st.slabs(st.heap(i))
        lines.append("heap %d: %d slabs" % (i, len(slabs)))
        for s, f in slabs:
            states = slot_states(st, f)
            lines.append("  slab %#x  slot %4d B  %4d slots  %4d carved  %4d live  %4d cached"
                         "  %4d free in slab  %2d pages purged"
                         % (f["base"], f["size"], f["nslots"], f["carved"], states.count("L"),
                            states.count("c"), states.count("f") + states.count("."),
                            bin(f["purged"]).count("1")))
    return "\n".join(lines)


# ---- heap block -------------------------------------------------------------


def describe_cached(st, addr, owners):
    """The state of a block marked cached: which cache bin or remote list
    it waits in."""
    payload = addr + st.layout.header_bytes
    for tc in st.caches():
        for n in range(st.layout.tc_bins):
            head, room, cap = st.tc_bin(int(tc), n)
            if head and payload in st.chain(head, cap + 1)[0]:
                who = owners.get(int(tc))
                return "in a thread cache (in thread cache %#x%s, bin %d (%s))" % (
                    int(tc), " of " + who if who else "", n,
                    tc_bin_label(n, st.layout.tc_small_bins))
    for i in range(st.num_heaps):
        if payload in st.chain(int(st.heap(i)["remote"]), WALK_LIMIT)[0]:
            return "freed by another thread, on heap %d's remote list" % i
    return "marked cached, but no thread cache or remote list holds it"


def locate(st, addr):
    """Finds what holds addr: ("block", facts) or ("other", text) or None."""
    lay, mem = st.layout, st.mem
    for i in range(st.num_heaps):
        h = st.heap(i)
        for r in st.regions(h):
            start, end = int(r.address), int(r["end"])
            if not start <= addr < end:
                continue
            first, fence = st.region_span(r)
            kind = REGION_KINDS.get(int(r["kind"]), "?")
            region = "heap %d's %s region %#x" % (i, kind, start)
            if addr < first:
                return ("other", "%#x is in the header (la_region_t) of %s" % (addr, region))
            if addr >= fence:
                return ("other", "%#x is in the fence header at the end of %s" % (addr, region))
            b = first
            while b < fence:
                blk = Block(mem, lay, b)
                if blk.size < MIN_BLOCK_SIZE or b + blk.size > fence:
                    return ("other", "%#x is in %s, but the walk to it met a damaged header "
                            "at %#x (size %d); try `heap check`" % (addr, region, b, blk.size))
                if addr < b + blk.size:
                    return ("block", {"blk": blk, "heap": i,
                                      "where": "%s region %#x" % (kind, start)})
                b += blk.size
    for l, b in st.larges():
        blk = Block(mem, lay, b)
        if l <= addr < b + blk.size:
            if addr < b:
                return ("other", "%#x is in the la_large_t prefix of the large block %#x"
                        % (addr, b))
            return ("block", {"blk": blk, "heap": None,
                              "where": "large block, mapping from %#x" % l,
                              "req": mem.u64(l + lay.large["req_bytes"])})
    for k in range(int(st.la["large_cache_count"])):
        m = st.la["large_cache"][k]
        if int(m["map"]) <= addr < int(m["map"]) + int(m["bytes"]):
            return ("other", "%#x is in a freed large mapping kept for reuse (%#x, %d bytes)"
                    % (addr, int(m["map"]), int(m["bytes"])))
    page = int(st.la["page_bytes"])
    for k in range(array_len(st.la["tombs"].type)):
        t = st.la["tombs"][k]
        if int(t["page"]) and int(t["page"]) <= addr < int(t["page"]) + page:
            return ("other", "%#x is in the tombstone page of a freed, unmapped large block "
                    "(payload was %#x)" % (addr, int(t["payload"])))
    return None


def block_report(st, addr):
    if st.slab_of(addr):
        return slabs_report(st, addr)
    found = locate(st, addr)
    if found is None:
        return "%#x: no block of liballocator holds this address" % addr
    if found[0] == "other":
        return found[1]
    facts = found[1]
    blk = facts["blk"]
    hdr = st.layout.header_bytes
    payload = blk.addr + hdr
    usable = blk.size - hdr
    if addr == payload:
        pos = "the payload start"
    elif addr < payload:
        pos = "in the header, %d bytes into the block" % (addr - blk.addr)
    else:
        pos = "%d bytes into the payload (%d into the block)" % (addr - payload, addr - blk.addr)
    lines = ["%#x is %s" % (addr, pos),
             "  block      %#x (header)" % blk.addr,
             "  payload    %#x" % payload,
             "  size       %d" % blk.size,
             "  usable     %d" % usable]
    if facts["heap"] is None:
        lines.append("  state      live (large)")
        lines.append("  requested  %d" % facts["req"])
    elif blk.is_free and blk.addr == int(st.heap(facts["heap"])["top"]):
        lines.append("  state      free (the heap's top)")
    elif blk.is_free:
        c = bins_class(blk.size, st.layout.num_classes)
        lines.append("  state      free (class %d, %s%s)"
                     % (c, class_label(c, st.layout.num_classes),
                        ", the tree" if c == st.layout.num_classes - 1 else ""))
    elif blk.is_cached(st.key):
        lines.append("  state      " + describe_cached(st, blk.addr, st.cache_threads()))
        lines.append("  last req   %d" % blk.req)
    elif blk.is_live(st.key):
        lines.append("  state      live")
        lines.append("  requested  %d" % blk.req)
    elif blk.check == check_plain(blk.hash(st.key), blk.req) ^ LA_CHECK_FREED:
        lines.append("  state      freed (merged into a neighbour, or a freed large block)")
    else:
        lines.append("  state      damaged header (check word %#x does not match the header's "
                     "address, size and req)" % blk.check)
    heap = "none" if facts["heap"] is None else str(facts["heap"])
    lines.append("  heap       %s (%s)" % (heap, facts["where"]))
    lines.append("  flags      %s" % flag_text(blk.head))
    return "\n".join(lines)


# ---- heap bins ----------------------------------------------------------------


def tree_nodes(st, root, heap):
    """The tree's nodes, in order (bounded; a cycle is reported)."""
    t = st.layout.tnode
    nodes, stack, n, seen = [], [], root, set()
    while stack or n:
        while n:
            if n in seen or len(seen) > WALK_LIMIT:
                raise Problem("tree has a cycle", n, heap)
            seen.add(n)
            stack.append(n)
            n = st.mem.u64(n + t["left"])
        n = stack.pop()
        nodes.append(n)
        n = st.mem.u64(n + t["right"])
    return nodes


def list_sizes(st, h, c, heap):
    """Sizes of the blocks on heap h's free list of class c, in order."""
    sizes, seen, f = [], set(), int(h["bins"][c])
    while f and len(sizes) < WALK_LIMIT:
        if f in seen:
            raise Problem("free list of class %d has a cycle" % c, f, heap)
        seen.add(f)
        sizes.append(st.mem.u64(f) & LA_SIZE_MASK)
        f = st.mem.u64(f + st.layout.free["next"])
    return sizes


def tree_sizes(st, root, heap):
    """Sizes of the tree's nodes, in order."""
    return [st.mem.u64(n) & LA_SIZE_MASK for n in tree_nodes(st, root, heap)]


def resident_bytes(pid, start, length, page):
    """os_resident_range() of src/os.c, from /proc/PID/pagemap instead of
    mincore: bytes of [start, start + length) in pages present in RAM
    (bit 63 of each page's 64-bit entry).  None where it cannot be read."""
    first, end = start // page, (start + length + page - 1) // page
    try:
        with open("/proc/%d/pagemap" % pid, "rb") as f:
            f.seek(first * 8)
            data = f.read((end - first) * 8)
    except OSError:
        return None
    total = 0
    for k in range(len(data) // 8):
        if int.from_bytes(data[8 * k:8 * k + 8], "little") >> 63:
            lo = max((first + k) * page, start)
            hi = min((first + k + 1) * page, start + length)
            total += hi - lo
    return total


def heap_resident_bytes(st, i):
    """heap_resident_bytes() of src/stats.c: the bytes of heap i's regions
    in RAM now (None where the pagemap cannot be read)."""
    page = int(st.la["page_bytes"])
    pid = gdb.selected_inferior().pid
    total = 0
    for r in st.regions(st.heap(i)):
        n = resident_bytes(pid, int(r.address), int(r["bytes"]), page)
        if n is None:
            return None
        total += n
    return total


def medium_budget_label(st, v):
    """What the cache's medium bins may hold (medium_budget() of
    src/tcache.c): 'hot' for a thread that churns medium blocks."""
    try:
        hot = int(v["medium_hot"]) != 0
    except gdb.error:  # a library from before the hot budget
        hot = False
    if hot:
        budget = LA_TC_MEDIUM_HOT_BYTES
    elif int(st.la["tc_created"]) <= 1:
        budget = LA_TC_MEDIUM_SOLO_BYTES
    else:
        budget = LA_TC_MEDIUM_TOTAL_BYTES
    return "medium bins %d of %d KiB%s" % (int(v["medium_cap_bytes"]) // 1024, budget // 1024,
                                         ", hot" if hot else "")


def bins_report(st):
    lay = st.layout
    out = []
    for i in range(st.num_heaps):
        h = st.heap(i)
        regions = st.regions(h)
        out.append("heap %d: %s, %d region%s, %d bytes, bitmap %#x" % (
            i, "brk" if bool(h["is_brk"]) else "mapped", len(regions),
            "" if len(regions) == 1 else "s", int(h["region_bytes"]), int(h["bitmap"])))
        empty = True
        for c in range(lay.num_classes):
            if c == lay.num_classes - 1:
                sizes = tree_sizes(st, int(h["tree"]), i)
                kind = "tree"
            else:
                sizes = list_sizes(st, h, c, i)
                kind = "list"
            if sizes:
                empty = False
                out.append("  class %2d %-7s %-4s %6d blocks %12d bytes" % (
                    c, class_label(c, lay.num_classes), kind, len(sizes), sum(sizes)))
        top = int(h["top"])
        if top:  # kept out of the classes (src/bins.c)
            empty = False
            out.append("  top %#x %28d bytes" % (top, st.mem.u64(top) & LA_SIZE_MASK))
        if empty:
            out.append("  (no free blocks)")
        remote, _ = st.chain(int(h["remote"]), WALK_LIMIT)
        if remote:
            out.append("  remote list: %d blocks freed by other threads" % len(remote))
    owners = st.cache_threads()
    caches = st.caches()
    if not caches:
        out.append("no thread caches")
    for tc in caches:
        v = tc.dereference()
        who = owners.get(int(tc), "thread unknown")
        heap = (int(v["heap"]) - int(st.la["heaps"][0].address)) // st.la["heaps"][0].type.sizeof
        out.append("thread cache %#x (%s, heap %d, %s)" % (int(tc), who, heap,
                                                          medium_budget_label(st, v)))
        empty = True
        for n in range(lay.tc_bins):
            head, room, cap = st.tc_bin(int(tc), n)
            held = st.tc_bin_held(int(tc), n)
            if held == 0 and head == 0:
                continue
            empty = False
            entries, ended = st.chain(head, cap + 1)
            length = "%d" % len(entries) if ended else ">%d" % cap
            if n == LA_SLAB_WORD_CLASS:
                # Its slots are in the word stack; its bin stays empty
                # (a list shows only if it is not: `heap check` says why).
                out.append("  bin %3d %-14s cached %4d of %4d  word stack %d%s" % (
                    n, tc_bin_label(n, lay.tc_small_bins), held, cap + st.tc_words_cap(int(tc)),
                    held - (cap - room), "" if head == 0 and cap == 0 else "  list " + length))
                continue
            out.append("  bin %3d %-14s cached %4d of %4d  list %s" % (
                n, tc_bin_label(n, lay.tc_small_bins), cap - room, cap, length))
        if empty:
            out.append("  (empty)")
    return "\n".join(out)


# ---- heap map -------------------------------------------------------------------
#
# `heap map FILE.svg` draws what the walkers above read: each region of each
# heap as rows of bytes (addresses on the left), every block and slab slot
# in it coloured by its state, then the large blocks' own mappings and the
# freed mappings kept for reuse.  Plain SVG text, no Python packages; a
# FILE ending in .png goes through rsvg-convert (librsvg2-bin) when present.

# Kinds of bytes: (key, colour, legend text).  Order is legend order.
MAP_KINDS = (
    ("live", "#3a6ab0", "live block (with its header)"),
    ("cached", "#f0a030", "block in a thread cache or remote list"),
    ("free", "#8ccf7e", "free block"),
    ("purged", "#dff2da", "free, pages given back (purged)"),
    ("slot_live", "#7a3d9c", "slab slot, live"),
    ("slot_cached", "#d46fb5", "slab slot in a thread cache or remote list"),
    ("slot_free", "#e3cff0", "slab slot free in its slab"),
    ("slot_unused", "#f5f0f8", "slab slot never handed out"),
    ("large", "#c0504d", "large block: requested bytes"),
    ("large_slack", "#eab4b2", "large mapping: padding, prefix, slack"),
    ("large_kept", "#b9b9b9", "freed large mapping kept for reuse"),
    ("meta", "#606060", "region header, fence, slab header and slack"),
    ("damaged", "#ff0000", "damaged header (bad check word; bad size: the walk stops)"),
)
MAP_COLOR = {k: c for k, c, _ in MAP_KINDS}
MAP_TEXT = {k: t for k, _, t in MAP_KINDS}
# Layout, in SVG pixels: bytes run left to right over MAP_ROW_PX pixels a
# row; the scale is the smallest power of two (at least 16 bytes, the
# alignment) that keeps the heaps within MAP_MAX_ROWS rows.
MAP_ROW_PX = 1024
MAP_MAX_ROWS = 48
MAP_LEFT = 120
MAP_ROW_H = 14
MAP_ROW_GAP = 3
MAP_MAX_LARGE = 40


def map_block_segments(st, b, kind_of_free, out):
    """Appends (lo, hi, kind) for a free block: free, with the whole pages
    its last purge gave back (heap.c purge_block, dirty_span) as purged."""
    lo, hi = b.addr, b.addr + b.size
    if not kind_of_free:
        out.append((lo, hi, "free"))
        return
    page = int(st.la["page_bytes"])
    lay = st.layout
    given_lo = -(-(lo + lay.tnode_t.strip_typedefs().sizeof) // page) * page
    given_hi = (hi - 8) // page * page
    dlo = st.mem.u64(lo + lay.tnode["dirty_lo"])
    dhi = st.mem.u64(lo + lay.tnode["dirty_hi"])
    spans = [(given_lo, given_hi)]
    if dlo < dhi:  # pages that may be resident again: not given back
        keep_lo, keep_hi = (lo + dlo) // page * page, -(-(lo + dhi) // page) * page
        spans = [(given_lo, min(given_hi, keep_lo)), (max(given_lo, keep_hi), given_hi)]
    at = lo
    for a, z in spans:
        if a < z:
            out.append((at, a, "free"))
            out.append((a, z, "purged"))
            at = z
    out.append((at, hi, "free"))


def map_slab_segments(st, f, block, block_end, out):
    """Appends a slab's header and padding, its slot runs by state
    (slot_states) and its slack; returns its per-state slot counts."""
    out.append((block, f["base"], "meta"))
    states = slot_states(st, f)
    names = {"L": "slot_live", "c": "slot_cached", "f": "slot_free", ".": "slot_unused"}
    k = 0
    while k < len(states):
        j = k
        while j < len(states) and states[j] == states[k]:
            j += 1
        out.append((f["base"] + k * f["size"], f["base"] + j * f["size"], names[states[k]]))
        k = j
    out.append((f["base"] + len(states) * f["size"], block_end, "meta"))
    return {s: states.count(s) for s in "Lcf."}


def map_region(st, i, r, slab_blocks):
    """One region: its bands' segments, its slabs and what the walk met."""
    lay = st.layout
    start, end = int(r.address), int(r["end"])
    first, fence = st.region_span(r)
    segs = [(start, first, "meta")]
    slabs = []
    addr = first
    while addr < fence:
        b = Block(st.mem, lay, addr)
        if b.size < MIN_BLOCK_SIZE or addr + b.size > fence:
            segs.append((addr, fence, "damaged"))
            break
        if b.is_free:
            map_block_segments(st, b, b.head & LA_PURGED, segs)
        elif addr in slab_blocks:
            f = slab_blocks[addr]
            counts = map_slab_segments(st, f, addr, addr + b.size, segs)
            slabs.append((f, counts))
        elif b.is_cached(st.key):
            segs.append((addr, addr + b.size, "cached"))
        elif b.is_live(st.key):
            segs.append((addr, addr + b.size, "live"))
        else:
            segs.append((addr, addr + b.size, "damaged"))
        addr += b.size
    segs.append((fence, end, "meta"))
    return {"heap": i, "kind": REGION_KINDS.get(int(r["kind"]), "?"), "start": start,
            "end": end, "segs": segs, "slabs": slabs}


def map_data(st):
    """Everything the map shows, read from memory (no call into the program)."""
    regions = []
    for i in range(st.num_heaps):
        h = st.heap(i)
        slab_blocks = {f["block"]: f for _, f in st.slabs(h)}
        for r in reversed(st.regions(h)):  # oldest first
            regions.append(map_region(st, i, r, slab_blocks))
    larges = []
    hdr = st.layout.header_bytes
    for l, b in st.larges():
        blk = Block(st.mem, st.layout, b)
        map_bytes = st.mem.u64(l + st.layout.large["map_bytes"])
        req = st.mem.u64(l + st.layout.large["req_bytes"])
        lo = b + blk.size - map_bytes
        larges.append({"start": lo, "end": lo + map_bytes, "req": req, "segs": [
            (lo, b + hdr, "large_slack"), (b + hdr, b + hdr + req, "large"),
            (b + hdr + req, lo + map_bytes, "large_slack")]})
    for k in range(int(st.la["large_cache_count"])):
        m = st.la["large_cache"][k]
        lo, n = int(m["map"]), int(m["bytes"])
        larges.append({"start": lo, "end": lo + n, "req": None,
                       "segs": [(lo, lo + n, "large_kept")]})
    return {"regions": regions, "larges": larges}


def map_scale(regions):
    """(bytes per pixel, bytes per row) for the heap regions."""
    bpp = ALIGNMENT
    while True:
        row = bpp * MAP_ROW_PX
        rows = sum((r["end"] - 1) // row - r["start"] // row + 1 for r in regions)
        if rows <= MAP_MAX_ROWS:
            return bpp, row
        bpp *= 2


def map_pixels(segs, lo, bpp, npx):
    """The kind of each of npx pixels from address lo, bpp bytes each: the
    kind that holds most of the pixel's bytes (None: no segment there),
    except that a damaged header shows whatever else shares its pixel."""
    acc = [None] * npx
    for a, z, kind in segs:
        a, z = max(a, lo), min(z, lo + npx * bpp)
        if a >= z:
            continue
        for p in range((a - lo) // bpp, (z - 1 - lo) // bpp + 1):
            p_lo = lo + p * bpp
            n = min(z, p_lo + bpp) - max(a, p_lo)
            if n == bpp:
                acc[p] = {kind: n}
            else:
                d = acc[p] if acc[p] is not None else {}
                d[kind] = d.get(kind, 0) + n
                acc[p] = d
    return [("damaged" if "damaged" in d else max(d, key=d.get)) if d else None for d in acc]


def map_runs(kinds):
    """[(first pixel, pixels, kind)] for runs of equal, present kinds."""
    runs, p = [], 0
    while p < len(kinds):
        q = p
        while q < len(kinds) and kinds[q] == kinds[p]:
            q += 1
        if kinds[p] is not None:
            runs.append((p, q - p, kinds[p]))
        p = q
    return runs


def svg_escape(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def slab_hue(size):
    """A colour per slot size, from blue (the smallest class) round to red
    (the largest)."""
    k = SLAB_SIZES.index(size) if size in SLAB_SIZES else 0
    return "hsl(%d,70%%,40%%)" % (220 - 220 * k // max(len(SLAB_SIZES) - 1, 1))


def map_svg(data, title):
    """The SVG text of the map."""
    regions, larges = data["regions"], data["larges"]
    bpp, row_bytes = map_scale(regions) if regions else (ALIGNMENT, ALIGNMENT * MAP_ROW_PX)
    width = MAP_LEFT + MAP_ROW_PX + 20
    totals = {}
    for part in regions + larges:
        for a, z, kind in part["segs"]:
            totals[kind] = totals.get(kind, 0) + max(z - a, 0)
    body, y = [], 0

    def text(x, y_, s, cls="", size=11, anchor="start", backed=False):
        if backed:  # a light box under a label that sits on coloured bands
            body.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" '
                        'fill-opacity="0.8"/>' % (x - 1, y_ - size + 1, len(s) * size * 0.62 + 2,
                                                  size + 1))
        body.append('<text x="%d" y="%d" font-size="%d" text-anchor="%s"%s>%s</text>'
                    % (x, y_, size, anchor, ' class="%s"' % cls if cls else "", svg_escape(s)))

    text(10, 22, title, "title", 15)
    text(10, 40, "heap regions: 1 px = %s, one row = %s; each pixel shows what holds most "
         "of its bytes; hover for addresses" % (bytes_for_people(bpp), bytes_for_people(row_bytes)),
         "scale")
    # Legend: three columns, with each kind's bytes in the whole map.
    y = 52
    shown = [k for k in MAP_KINDS if totals.get(k[0])] or list(MAP_KINDS[:1])
    col_w = (width - 20) // 3
    for n, (key, color, label) in enumerate(shown):
        x, yy = 10 + (n % 3) * col_w, y + (n // 3) * 16
        body.append('<rect class="legend k-%s" x="%d" y="%d" width="12" height="12" '
                    'fill="%s" stroke="#444" stroke-width="0.5"/>' % (key, x, yy, color))
        text(x + 16, yy + 10, "%s: %s" % (label, bytes_for_people(totals.get(key, 0))),
             "legend-text")
    y += ((len(shown) + 2) // 3) * 16 + 4
    lo, hi = SLAB_SIZES[0], SLAB_SIZES[-1]
    body.append('<rect x="10" y="%d" width="24" height="3" fill="%s"/>' % (y + 4, slab_hue(lo)))
    body.append('<rect x="34" y="%d" width="24" height="3" fill="%s"/>' % (y + 4, slab_hue(hi)))
    text(64, y + 9, "stripe over a slab: its slot size, blue (%s) to red (%s)"
         % (bytes_for_people(lo), bytes_for_people(hi)), "legend-text")
    y += 22

    def rows_of(segs, lo, hi, bpp_, row_bytes_, label_rows=True):
        nonlocal y
        r0 = lo // row_bytes_ * row_bytes_
        for row_lo in range(r0, hi, row_bytes_):
            text(MAP_LEFT - 6, y + MAP_ROW_H - 3, "%#x" % row_lo, "addr", 10, "end")
            kinds = map_pixels(segs, row_lo, bpp_, MAP_ROW_PX)
            for p, n, kind in map_runs(kinds):
                a = row_lo + p * bpp_
                body.append('<rect class="k-%s" x="%d" y="%d" width="%d" height="%d" fill="%s">'
                            '<title>%s: %#x-%#x</title></rect>'
                            % (kind, MAP_LEFT + p, y, n, MAP_ROW_H, MAP_COLOR[kind],
                               svg_escape(MAP_TEXT[kind]), a, a + n * bpp_))
            yield row_lo
            y += MAP_ROW_H + MAP_ROW_GAP

    for reg in regions:
        y += 8
        text(10, y + 10, "heap %d, %s region %#x-%#x (%s), %d slab%s"
             % (reg["heap"], reg["kind"], reg["start"], reg["end"],
                bytes_for_people(reg["end"] - reg["start"]), len(reg["slabs"]),
                "" if len(reg["slabs"]) == 1 else "s"), "region", 12)
        y += 16
        for row_lo in rows_of(reg["segs"], reg["start"], reg["end"], bpp, row_bytes):
            row_hi = row_lo + row_bytes
            for f, counts in reg["slabs"]:
                a = max(f["base"], row_lo)
                z = min(f["base"] + f["nslots"] * f["size"], row_hi)
                if a >= z:
                    continue
                x0 = MAP_LEFT + (a - row_lo) // bpp
                w = max((z - a) // bpp, 1)
                tip = ("slab %#x: %d-byte slots, %d slots: %d live, %d cached, %d free in the "
                       "slab, %d never handed out" % (f["base"], f["size"], f["nslots"],
                                                      counts["L"], counts["c"], counts["f"],
                                                      counts["."]))
                body.append('<rect class="slab" data-slot-bytes="%d" data-live="%d" x="%d" y="%d" '
                            'width="%d" height="3" fill="%s"><title>%s</title></rect>'
                            % (f["size"], counts["L"], x0, y, w, slab_hue(f["size"]),
                               svg_escape(tip)))
                if w >= 70 and a == f["base"]:
                    text(x0 + 3, y + MAP_ROW_H - 3, "%d B slots" % f["size"], "slab-label", 9,
                         backed=True)
    if larges:
        y += 8
        shown_l = sorted(larges, key=lambda m: -(m["end"] - m["start"]))[:MAP_MAX_LARGE]
        biggest = max(m["end"] - m["start"] for m in shown_l)
        # The biggest takes four fifths of a row: its label goes after it.
        lbpp = max(-(-biggest * 5 // (MAP_ROW_PX * 4)), 1)
        text(10, y + 10, "large blocks, each its own mapping, and freed mappings kept for "
             "reuse: 1 px = %s" % bytes_for_people(lbpp), "region", 12)
        y += 16
        for m in sorted(shown_l, key=lambda m: m["start"]):
            n = m["end"] - m["start"]
            text(MAP_LEFT - 6, y + MAP_ROW_H - 3, "%#x" % m["start"], "addr", 10, "end")
            x = MAP_LEFT
            for a, z, kind in m["segs"]:
                w = (z - a) / lbpp
                if w <= 0:
                    continue
                body.append('<rect class="k-%s" x="%.1f" y="%d" width="%.1f" height="%d" '
                            'fill="%s"><title>%s: %#x-%#x (%d bytes)</title></rect>'
                            % (kind, x, y, max(w, 1.0), MAP_ROW_H, MAP_COLOR[kind],
                               svg_escape(MAP_TEXT[kind]), a, z, z - a))
                x += w
            what = ("requested %d" % m["req"]) if m["req"] is not None else "kept for reuse"
            text(int(x) + 6, y + MAP_ROW_H - 3, "%s, %s" % (bytes_for_people(n), what),
                 "large-label", 10)
            y += MAP_ROW_H + MAP_ROW_GAP
        if len(larges) > len(shown_l):
            rest = larges[len(shown_l):]
            text(MAP_LEFT, y + 10, "... and %d smaller mappings (%s)" % (
                len(rest), bytes_for_people(sum(m["end"] - m["start"] for m in rest))), "more")
            y += 16
    height = y + 16
    return "\n".join(['<?xml version="1.0" encoding="UTF-8"?>',
                      '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                      'font-family="monospace">' % (width, height),
                      '<rect width="100%" height="100%" fill="#fcfcf8"/>'] + body + ["</svg>", ""])


def write_map(st, path):
    """Writes the map to path (SVG; PNG through rsvg-convert); returns a
    one-line summary."""
    data = map_data(st)
    prog = gdb.current_progspace().filename or "?"
    inferior = gdb.selected_inferior()
    title = "liballocator heap map: %s, pid %d" % (os.path.basename(prog), inferior.pid)
    try:  # Inferior.connection: gdb 12 and later
        if inferior.connection is not None and inferior.connection.type == "core":
            title += " (core file)"
    except AttributeError:
        pass
    svg = map_svg(data, title)
    if path.endswith(".png"):
        import shutil
        import subprocess
        import tempfile
        if shutil.which("rsvg-convert") is None:
            raise HeapError("a .png needs rsvg-convert (Debian: librsvg2-bin); "
                            "write a .svg instead")
        with tempfile.NamedTemporaryFile("w", suffix=".svg") as tmp:
            tmp.write(svg)
            tmp.flush()
            proc = subprocess.run(["rsvg-convert", "-o", path, tmp.name],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise HeapError("rsvg-convert failed: %s" % proc.stderr.strip())
    else:
        with open(path, "w") as f:
            f.write(svg)
    slabs = sum(len(r["slabs"]) for r in data["regions"])
    return "heap map: wrote %s (%d region%s, %d slab%s, %d large mapping%s)" % (
        path, len(data["regions"]), "" if len(data["regions"]) == 1 else "s",
        slabs, "" if slabs == 1 else "s", len(data["larges"]),
        "" if len(data["larges"]) == 1 else "s")


# ---- commands -------------------------------------------------------------------


def run_safely(name, fn):
    """Runs a command body; turns every failure into a one-line gdb error."""
    try:
        fn()
    except gdb.GdbError:
        raise
    except HeapError as e:
        raise gdb.GdbError("%s: %s" % (name, e))
    except Problem as e:
        raise gdb.GdbError("%s: %s" % (name, e.line()))
    except gdb.MemoryError as e:
        raise gdb.GdbError("%s: cannot read the inferior's memory: %s" % (name, e))
    except Exception as e:  # a bug here, or a state too damaged to follow
        raise gdb.GdbError("%s: %s: %s" % (name, type(e).__name__, e))


def call_guard(st, what):
    held = st.held_locks()
    if held:
        raise HeapError("%s held (stopped inside the allocator?); calling %s would wait "
                        "forever: use the command without --inferior" % (", ".join(held), what))
    # A single-threaded program's heap operations take no lock (issue 14,
    # as glibc's malloc takes no arena lock then): a thread stopped inside
    # the allocator is the sign that its structures are half-way through a
    # change, which a call would walk into.
    inside = st.threads_inside()
    if inside:
        raise HeapError("%s: stopped inside the allocator; calling %s would find its heap "
                        "half-way through a change: use the command without --inferior"
                        % (", ".join(inside), what))


class HeapCommand(gdb.Command):
    """Inspect liballocator's heaps in the program being debugged.

heap stats [--inferior]   the allocator's statistics
heap check [--inferior]   walk and validate every heap
heap bins                 free blocks per size class, and thread caches
heap block ADDR           the block holding an address
heap slabs [ADDR]         every slab, or the slots of the slab holding ADDR
heap map FILE.svg         draw the heaps as a picture (FILE.png: through rsvg-convert)

These read the program's memory, so they work wherever it stopped (inside
malloc too); --inferior calls the program's own function instead."""

    def __init__(self):
        super().__init__("heap", gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)

    def invoke(self, arg, from_tty):
        gdb.execute("help heap", from_tty)


class HeapStatsCommand(gdb.Command):
    """Print liballocator's statistics, as mem_print_stats() does.

heap stats             sums the counters from memory as src/stats.c does
                       (heaps, large blocks, thread caches, retired caches,
                       minus the last mem_reset), and says where the heaps'
                       bytes are, as the report does; safe inside malloc.
heap stats --inferior  calls the program's mem_get_stats() (takes its locks;
                       refused while one is held)."""

    def __init__(self):
        super().__init__("heap stats", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        def body():
            st = State()
            pid = gdb.selected_inferior().pid
            if arg.strip() == "--inferior":
                call_guard(st, "mem_get_stats()")
                v = gdb.parse_and_eval("mem_get_stats()")
                print_stats("liballocator statistics (pid %d), from mem_get_stats()" % pid,
                            {k: int(v[k]) for k in STAT_FIELDS})
            elif arg.strip():
                raise HeapError("usage: heap stats [--inferior]")
            else:
                print_stats("liballocator statistics (pid %d), read from memory" % pid,
                            compute_stats(st))
        run_safely("heap stats", body)


class HeapCheckCommand(gdb.Command):
    """Walk and validate every heap, as mem_check_heap() does.

heap check             in Python, reading memory (works inside malloc): every
                       block of every region (sizes, PREV_FREE, footers,
                       check words), the free lists, bitmap and tree, the
                       large blocks, the thread caches and remote lists.
                       Prints "heap check: OK (...)" or the first problem and
                       its address; sets $heap_check_errors to 0 or 1.
heap check --inferior  calls the program's mem_check_heap() (reports on the
                       program's stderr; refused while an allocator lock is
                       held)."""

    def __init__(self):
        super().__init__("heap check", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        def body():
            st = State()
            if arg.strip() == "--inferior":
                call_guard(st, "mem_check_heap()")
                bad = int(gdb.parse_and_eval("(int)mem_check_heap()"))
                gdb.set_convenience_variable("heap_check_errors", 1 if bad else 0)
                gdb.write("heap check --inferior: mem_check_heap() returned %d%s\n"
                          % (bad, " (its report is on the program's stderr)" if bad else ""))
                return
            if arg.strip():
                raise HeapError("usage: heap check [--inferior]")
            try:
                blocks, free, cached, large = Checker(st).run()
            except Problem as p:
                gdb.set_convenience_variable("heap_check_errors", 1)
                gdb.write("heap check: %s\n" % p.line())
                for where in st.threads_inside():
                    gdb.write("  note: %s: stopped inside the allocator, the heap may be "
                              "half-way through a change\n" % where)
                return
            gdb.set_convenience_variable("heap_check_errors", 0)
            gdb.write("heap check: OK (%d heaps, %d blocks, %d free)\n"
                      % (st.num_heaps, blocks, free))
            gdb.write("  %d cached (thread caches, remote lists), %d large\n"
                      % (cached, large))
        run_safely("heap check", body)


class HeapBinsCommand(gdb.Command):
    """Show free blocks per size class, and what thread caches hold.

For each heap: each non-empty class (index, block sizes <=32, <=64, ...
>8192; the last class is a red-black tree), its blocks and bytes, and the
remote list.  For each live thread cache (la.tc_list): each non-empty bin,
its cached count (cap - room) of its capacity, and its list length walked
through the payload links; bin 0, of 8-byte slots, too small to be
linked, shows the cache's word stack instead (words_held of its slots)."""

    def __init__(self):
        super().__init__("heap bins", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        def body():
            if arg.strip():
                raise HeapError("usage: heap bins")
            gdb.write(bins_report(State()) + "\n")
        run_safely("heap bins", body)


class HeapBlockCommand(gdb.Command):
    """Show the block holding an address: heap ADDR (an expression).

Searches every heap region and the large blocks; prints the block's header
and payload addresses, size, usable size, state (live, free, in a thread
cache, large), requested size, heap, flags, and where ADDR falls in it."""

    def __init__(self):
        super().__init__("heap block", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        def body():
            if not arg.strip():
                raise HeapError("usage: heap block ADDR")
            try:
                addr = int(gdb.parse_and_eval(arg)) & MASK64
            except gdb.error as e:
                raise HeapError("cannot evaluate '%s': %s" % (arg.strip(), e))
            gdb.write(block_report(State(), addr) + "\n")
        run_safely("heap block", body)


class HeapSlabsCommand(gdb.Command):
    """Show the slabs: heap slabs [ADDR].

Without ADDR: for each heap, each slab's base, slot size, slots, how many
were ever handed out (carved), and how many are live, in a thread cache or
remote list (tagged free: linked, or an 8-byte slot's mark), or free in the
slab.  With ADDR: which slot of which slab holds it, its state, and the
state of the slab's first 64 slots."""

    def __init__(self):
        super().__init__("heap slabs", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        def body():
            addr = None
            if arg.strip():
                try:
                    addr = int(gdb.parse_and_eval(arg)) & MASK64
                except gdb.error as e:
                    raise HeapError("cannot evaluate '%s': %s" % (arg.strip(), e))
            gdb.write(slabs_report(State(), addr) + "\n")
        run_safely("heap slabs", body)


class HeapMapCommand(gdb.Command):
    """Draw the heaps as a picture: heap map FILE.svg (or FILE.png).

Each region of each heap (brk or mapped) as rows of bytes, its start
address on the left: live, cached and free blocks, the pages purges gave
back, slabs (a stripe coloured by slot size) with their slots live, cached,
free or never handed out; then each large block's own mapping and the
freed mappings kept for reuse; a legend with each kind's bytes.  Reads
memory only: works on a live process, stopped anywhere, and on a core
file.  A .png file is converted by rsvg-convert (librsvg2-bin)."""

    def __init__(self):
        super().__init__("heap map", gdb.COMMAND_DATA, gdb.COMPLETE_FILENAME)

    def invoke(self, arg, from_tty):
        def body():
            args = gdb.string_to_argv(arg)
            if len(args) != 1:
                raise HeapError("usage: heap map FILE.svg")
            gdb.write(write_map(State(), os.path.expanduser(args[0])) + "\n")
        run_safely("heap map", body)


HeapCommand()
HeapSlabsCommand()
HeapStatsCommand()
HeapCheckCommand()
HeapBinsCommand()
HeapBlockCommand()
HeapMapCommand()
