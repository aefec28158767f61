// SPDX-License-Identifier: MIT
/*
 * slab.h: size-class slabs.  A slab is one live block of the heap below it
 * (heap_alloc_aligned, LA_SLAB_BYTES-aligned, of its class's span: one
 * LA_SLAB_BYTES chunk or a few), cut into equal slots of one class
 * (sizeclass.h) with no header per slot.  Its metadata (la_slab_t, with a
 * bitmap of the class's slot count) lives out of band, in mapped chunks,
 * and any address finds it in O(1) through the two-level page map
 * la.slab_map, which has an entry for each chunk of the slab (and a byte
 * beside it with the class's bin offset: slab_of_cls4).  Free slots go
 * back to their slab and never coalesce; a slab whose slots are all free
 * goes back to the heap as one block (LA_SLAB_EMPTY_KEEP per class wait
 * for the purge).
 *
 * Layer: above heap.c (heap_alloc_aligned, heap_free), below tcache.c,
 * which keeps per-thread bins of free slots in front of the slabs.
 * Functions that take a heap expect its lock held, except slab_of() (any
 * thread, no lock: the slot's owner knows its slab cannot go away) and
 * the remote lists (slab_push_remote: one CAS; slab_take_remote: one
 * exchange when non-empty).
 *
 * A slot is live, or free: on a thread cache's bin or a heap's remote list,
 * or back in its slab (its bit set in the slab's bitmap; its link words
 * still hold, their link stale and never followed).  A free slot's first two words are its link words (internal.h,
 * la_link_*): p[0] ^ p[1] == la.slot_key ^ p, a keyed relation that a live
 * slot's data meets only by a 2^-64 chance, and that a write after free
 * breaks; so the free fast path tells a second free from a first with one
 * compare and no shared state, and whoever takes a slot off a list (or out
 * of its slab again) checks the relation before it trusts the link (issue
 * 15).  The slab's bitmap (bit set: free in the slab, or never carved)
 * makes the slow path's verdict exact for slots that went back to their
 * slab.
 *
 * Pages of a slab whose slots are all back in it go back to the kernel
 * when the slab sat idle through a purge pass (slab_purge_pages): a
 * thread that freed a program's worth of blocks and then went idle keeps
 * a few slots of many slabs in its bins, and without this their slabs
 * stayed resident for as long as it slept (issue 14).  A purged page
 * reads zero, so its free slots lose their link words: while a slab has
 * such pages (`purged`), its free_limit is 0 and every free of one of its
 * slots takes the slow path, whose bitmap test is exact; the first
 * allocation from the slab writes the link words back (slab_unpurge).
 */
#ifndef LA_SLAB_H
#define LA_SLAB_H

#include "internal.h"
#include "sizeclass.h"

typedef struct la_slab {
    // The free fast path reads base, inv, shift, cls4 and free_limit, all
    // on the record's first cache line.  104 bytes before the bitmap
    // (issue 13's bytes per block: slab_meta_bytes below).
    uintptr_t base;          // first slot: slab_start(s) plus the header or colour
    uint32_t inv;            // the class's divisibility constant (with shift)
    uint32_t carved;         // slots [0, carved) were handed out once (atomic)
    // What the free fast path compares a slot's index with: `carved`, or 0
    // while pages of the slab are purged (atomic; see slab_purge_pages).
    uint32_t free_limit;
    uint32_t size;           // slot bytes
    uint32_t nslots;
    uint32_t nfree;          // free in the slab: on `free`, plus never carved
    uint32_t first_word;     // freemap words below this have no free slot
    uint32_t pass_nfree;     // nfree at the last slab_purge_pages
    uint32_t still_ms;       // when that pass found nfree moved (low 32 bits of ms)
    uint32_t span;           // bytes of address space (the class's span)
    la_heap_t *heap;
    uint8_t shift;           // the class's divisibility constant (with inv)
    uint8_t cls;
    uint8_t cls4;            // 4 * cls (see la_class4_of): the free fast path's bin
    uint8_t on_avail;        // on heap->slab_avail[cls]
    // Bytes from the slab's start past which no page was resident when it
    // was made (heap_alloc's resident_end, page-aligned): with the pages
    // its carved slots reached, what it gives back may hold (slab_release).
    uint32_t resident_bytes;
    struct la_slab *next_avail, *prev_avail; // slabs of the class with free slots
    struct la_slab *next_all, *prev_all;     // every slab of the heap
    // Bit k: page k given back, its free slots' words zero.  Stored with
    // relaxed atomics under the heap lock: the 8-byte class's free path
    // reads it unlocked (tcache_free_slow; a ThreadSanitizer report).
    uint64_t purged;
    // Bit i: slot i free in the slab (or never handed out); a word per 64
    // slots of the class (1 or 2 from 512 B up, 64 for 16 B): a 512-byte
    // bitmap for every class cost 8 bytes per 1024-byte slot.
    uint64_t freemap[];
} la_slab_t;

_Static_assert(offsetof(la_slab_t, freemap) == 104,
               "the record before its bitmap stays 104 bytes (slab_meta_bytes)");
_Static_assert(offsetof(la_slab_t, free_limit) < 64 && offsetof(la_slab_t, shift) < 64 &&
                   offsetof(la_slab_t, cls4) < 64,
               "the free fast path's fields share the record's first line");

// Where slab s starts: its first chunk, where its heap block's header is.
// Its first slot (base) is up to a few cache lines in (slab_create's
// colour, past the header), never a chunk.
LA_INLINE uintptr_t slab_start(const la_slab_t *s)
{
    return s->base & ~(uintptr_t)(LA_SLAB_BYTES - 1);
}

// Where a slab of class c has its first slot: its colour, which leaves
// room for the header before it, or right after the header.  Slots
// [0, nslots) end by the slab's end either way (scripts/sizeclass.py
// counts them in the span less the header and the colour).
LA_INLINE size_t slab_first_offset(const la_sizeclass_t *c)
{
    return c->color != 0 ? c->color : LA_HEADER_BYTES;
}
_Static_assert(LA_SLAB_COLOR_UNIT >= LA_HEADER_BYTES, "a colour holds the header");

// The bytes before slab s's first slot: its header and its colour.
LA_INLINE size_t slab_color(const la_slab_t *s) { return s->base - slab_start(s); }

// The heap block holding slab s: its header is the slab's first bytes.
LA_INLINE la_block_t *slab_block(const la_slab_t *s) { return (la_block_t *)slab_start(s); }

// Bytes of the metadata record of a slab of class cls: its own cache
// lines, so that slabs of different heaps share none.
LA_INLINE size_t slab_meta_bytes(unsigned cls)
{
    size_t words = (la_sizeclasses[cls].nslots + 63) / 64;
    return LA_ALIGN_UP(sizeof(la_slab_t) + words * sizeof(uint64_t), 64);
}

// The page map's second level that covers address a, or NULL.
LA_INLINE la_slab_t **slab_map_l2(uintptr_t a)
{
    if (LA_UNLIKELY((a >> 32) >= ((uintptr_t)1 << LA_SLAB_MAP_L1_BITS)))
        return NULL;
    return la_load_relaxed(&la.slab_map[a >> 32]);
}

// The slab holding address p, or NULL (no lock; see the file comment).
LA_INLINE la_slab_t *slab_of(const void *p)
{
    la_slab_t **l2 = slab_map_l2((uintptr_t)p);
    if (l2 == NULL)
        return NULL;
    return la_load_relaxed(&l2[(uint32_t)(uintptr_t)p >> LA_SLAB_SHIFT]);
}

// slab_of, and the bin offset of the slab's class (la_slab_t.cls4) from
// the page map's byte beside the slab's entry (map_set): the free fast
// path's bin then does not wait for the load of the slab record, which
// the slot's checks still read.
LA_INLINE la_slab_t *slab_of_cls4(const void *p, size_t *cls4)
{
    la_slab_t **l2 = slab_map_l2((uintptr_t)p);
    if (l2 == NULL)
        return NULL;
    uint32_t i = (uint32_t)(uintptr_t)p >> LA_SLAB_SHIFT;
    *cls4 = la_load_relaxed((uint8_t *)(l2 + ((size_t)1 << LA_SLAB_MAP_L2_BITS)) + i);
    return la_load_relaxed(&l2[i]);
}

// slab_of for p known to be in a slab: a slot taken off a thread cache's
// bin (its free found its slab, and its link was checked before it was
// followed), so that the page map's range and second-level checks can go.
LA_INLINE la_slab_t *slab_of_slot(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    la_slab_t **l2 = la_load_relaxed(&la.slab_map[a >> 32]);
    return la_load_relaxed(&l2[(uint32_t)a >> LA_SLAB_SHIFT]);
}

// Whether s's slots are too small for two link words (the 8-byte class):
// free, they hold a one-word mark instead (internal.h, la_word_*), and
// are never linked on a chain, a bin or a remote list.  A thread cache
// keeps them in a stack of pointers (tcache.h).
#define LA_SLAB_WORD_CLASS 0 // the 8-byte class (tests/unit/test_slab.c checks it)
#define LA_SLAB_WORD_BYTES 8 // its size: requests up to this take it
LA_INLINE bool slab_one_word(const la_slab_t *s) { return s->size < 2 * sizeof(uintptr_t); }

// The free fast path's bound (free_limit) for a slab whose slots from
// `carved` up were never handed out and which has no page purged: carved,
// or 0 for one-word slots, whose every free takes the slow path, exact by
// the bitmap.  The fast path's test of a slot's words (la_link_maybe)
// reads the 8 bytes past it, which for an 8-byte slot are its neighbour's,
// maybe another thread's live block: ThreadSanitizer (CI's tsan build of
// test_threads) named that read a race with the neighbour's malloc.  0 in
// checking mode too (la.debug, set before any slab is made), whose
// payloads sit past a front canary and whose every free and
// malloc_usable_size is the slow path's: the fast paths' tests of the
// slot (slab_looks_live, tcache_usable_size's) then say so.
LA_INLINE uint32_t slab_free_limit(const la_slab_t *s, uint32_t carved)
{
    return slab_one_word(s) || la.debug ? 0 : carved;
}

// Whether slot p of s holds what a free slot holds: link words, or the
// mark of a one-word slot.
LA_INLINE bool slab_slot_marked_free(const la_slab_t *s, const void *p)
{
    return slab_one_word(s) ? la_word_marked(p) : la_link_ok(p);
}

// The slot index of p in s, or a value >= s->carved when p is not the
// start of a slot handed out at least once (interior, or never carved).
LA_INLINE uint32_t slab_slot_index(const la_slab_t *s, const void *p)
{
    return sizeclass_slot((uint32_t)((uintptr_t)p - s->base), s->inv, s->shift);
}

// Whether p, a pointer into slab s, is a live slot: slab_check's tests in
// the order that costs least when they pass (the slot's own words, which
// the program has just used, before the bitmap's line); slab_check() then
// names the misuse.  Inlined for realloc of a slot (issue 13: the call into
// slab_check cost 26 instructions a realloc on w_ruby).
LA_INLINE bool slab_is_live(const la_slab_t *s, const void *p)
{
    uint32_t i = slab_slot_index(s, p);
    return LA_LIKELY(i < __atomic_load_n(&s->carved, __ATOMIC_RELAXED) &&
                     !(slab_one_word(s) ? la_word_marked(p) : la_link_maybe(p)) &&
                     !((la_load_relaxed(&s->freemap[i / 64]) >> (i % 64)) & 1));
}

// Whether p, a pointer into slab s, is the start of a slot handed out, in
// a slab whose fast paths may answer for it (free_limit: not 0 for the
// 8-byte class, in checking mode, or with pages purged).  Reads only s.
LA_INLINE bool slab_slot_in_limit(const la_slab_t *s, const void *p)
{
    return slab_slot_index(s, p) < la_load_relaxed(&s->free_limit);
}

// The free fast path's test (tcache_free): whether p, a pointer into slab
// s, is the start of a slot handed out, in a slab with no page purged
// (free_limit), whose words are not a link.  A slot free in its slab keeps its link
// words until a write after free breaks them (reported when the slab hands
// the slot out again), so "live" needs no look at the bitmap, whose line
// is one more cache miss; where this says no, slab_is_live and slab_check
// give the exact verdict.
LA_INLINE bool slab_looks_live(const la_slab_t *s, const void *p)
{
    return slab_slot_in_limit(s, p) && !la_link_maybe(p);
}

// Up to `want` slots of class cls taken from h's slabs (made as needed)
// into out[]; returns how many (0: out of memory).  They are live to the
// slab; the caller tags them if it caches them.
LA_HIDDEN size_t slab_alloc_batch(la_heap_t *h, unsigned cls, size_t want, void **out);
// The same, linked into a chain for a thread cache's bin: the first slot
// found at *head, the last linking to `tail` (the bin's head before).
// Each slot is written once, and the caller walks nothing.
LA_HIDDEN size_t slab_alloc_chain(la_heap_t *h, unsigned cls, size_t want, void *tail,
                                  void **head);
// Gives one slot of h's back to its slab (checked: a slot already free in
// the slab is reported as a double free by `func`).
LA_HIDDEN void slab_free(la_heap_t *h, void *p, const char *func);
// The same for a chain of slots of h, linked (la_link_*).
LA_HIDDEN void slab_free_chain(la_heap_t *h, void *chain);
// The same for up to n slots of a chain (a thread cache's bin) from its
// head, each link checked as it is followed, that stops before the first
// slot of another heap; how many went back goes to *count, and the rest
// of the chain (links intact) is returned.  The slots are put back
// newest first (the chain's order), in one walk.
LA_HIDDEN void *slab_free_run(la_heap_t *h, void *chain, uint32_t n, uint32_t *count);
// The same for one-word slots (slab_one_word), marked already, from an
// array (a thread cache's word stack): slots[0..n) back to their slabs
// in one pass, up to the first slot of another heap; returns how many went.
LA_HIDDEN size_t slab_free_words(la_heap_t *h, void *const *slots, size_t n);
// Slots of class cls of h freed by threads bound to other heaps: pushed
// as one chain (first..last, n slots, all of class cls) with one CAS,
// taken all at once by h's threads (one list per class, so that a refill
// takes only its class's and files none by class).  The list's word holds
// its length beside its head (slots sit below 2^LA_SLAB_ADDR_BITS), so
// that the taker learns how many slots it got without walking them: each
// slot's line was last written by the thread that freed it, and the walk
// was a chain of dependent cross-core misses (94% of the refill samples of
// w_pipeline's producer).  The length saturates at LA_SLAB_REMOTE_MANY,
// which means "this many or more: walk to know".
#define LA_SLAB_REMOTE_MANY ((uint32_t)(UINTPTR_MAX >> LA_SLAB_ADDR_BITS))
LA_HIDDEN void slab_push_remote(la_heap_t *h, unsigned cls, void *first, void *last, uint32_t n);
// The whole list (NULL if empty), its length in *count if count is not NULL.
LA_HIDDEN void *slab_take_remote(la_heap_t *h, unsigned cls, uint32_t *count);
// Puts back the part of a taken list that its taker had no room for (n
// slots, or LA_SLAB_REMOTE_MANY), as it is, if the list is still empty
// (one CAS, no walk); false otherwise.
LA_HIDDEN bool slab_untake_remote(la_heap_t *h, unsigned cls, void *chain, uint32_t n);
// Gives h's empty slabs back to the heap; returns their bytes.
LA_HIDDEN size_t slab_purge(la_heap_t *h);
// Gives back the pages of h's slabs whose slots are all free in their
// slab (each page once until its slab hands out slots again), in the
// slabs that no slot left or came back to since the last call unless
// `all` (malloc_trim); returns their bytes.  Not in checking mode.
LA_HIDDEN size_t slab_purge_pages(la_heap_t *h, bool all);
// Checks p, a pointer into slab s, for a free or a resize: reports misuse
// by `func` and aborts (an interior or never-carved slot, a slot already
// free), before anything is written.  No lock.
LA_HIDDEN void slab_check(la_slab_t *s, const void *p, const char *func);
// Per class: slabs, slots in use (handed out by the slabs: live, in a
// thread cache or on a heap's remote list), slots handed out at least
// once (the rest were never touched), slots on the heaps' remote lists,
// summed over every heap (takes each lock).
typedef struct {
    size_t slabs, slots, used_slots, empty_slabs, carved_slots, remote_slots;
} la_slab_stats_t;
LA_HIDDEN void slab_stats(la_slab_stats_t out[LA_SLAB_CLASSES]);
// Consistency of h's slabs (check.c): NULL when sound, else what is wrong.
LA_HIDDEN const char *slab_check_heap(la_heap_t *h, const void **where);
// Free slot bytes in h's slabs (mallinfo); the caller holds h's lock.
LA_HIDDEN size_t slab_free_bytes(la_heap_t *h, size_t *slots);

#endif /* LA_SLAB_H */
