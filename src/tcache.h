// SPDX-License-Identifier: MIT
/*
 * tcache.h: per-thread caches of free blocks, and the fast paths of malloc
 * and free that use them (inlined into the exported family and mem_*_ts).
 *
 * Requests up to LA_SLAB_MAX_BYTES are served from size-class slabs
 * (slab.h): a cache has one bin per slab class, holding free slots linked
 * through their first two words (la_link_store: the link encoded with the
 * key and the slot's address, then the plain link), which malloc checks
 * against each other before it follows the link (a write after free into
 * either is reported, issue 15), and which a second free of the slot
 * finds in agreement (one compare).  Medium bins
 * (size classes LA_TC_MEDIUM_PER_DOUBLING to a doubling, up to
 * LA_TC_MEDIUM_MAX_BYTES) are the slow path's (the hit paths at its head,
 * tcache.c's tcache_malloc_above and tcache_free_unslabbed) and hold headed heap blocks,
 * binned by usable size rounded down to a class (or a few classes below
 * that when its bin is full: a block serves every class below its own,
 * and a dry bin borrows from the next few up); a cached heap block is
 * live from its heap's point of view, with its check word its bare hash (a
 * live block's is hash + req + 1), so that a second free of it fails.
 *
 * The fast paths take no lock and no atomic operation: the cache belongs to
 * its thread.  free finds a slot's slab through the page map and checks,
 * before it writes anything, that the pointer starts a slot that was handed
 * out (one multiply) and is not linked on a list already.  Medium blocks
 * are linked the same way, and checked when the slow path pops them.
 * Everything else (a miss, a full bin, a heap block, a suspicious pointer,
 * a thread without a cache) goes to one named slow function.  Counters, and the bins' room, are
 * written only by the owner, with relaxed atomic stores (la_add_owned);
 * stats.c sums them with relaxed loads (a reader may see a count one
 * operation old).  Frees into the cache are not counted one by one: they
 * are the blocks that entered the bins other than by refill, which
 * tcache_counters() works out from the bins.  Slots are counted by their
 * class size: they have no header to remember the size asked for.
 */
#ifndef LA_TCACHE_H
#define LA_TCACHE_H

#include "direct.h"
#include "internal.h"
#include "slab.h"

// Slab bins (the fast path's, one per class), then medium bins (the slow
// path's).
#define LA_TC_SMALL_BINS LA_SLAB_CLASSES
_Static_assert(LA_TC_MAX_BYTES == LA_SLAB_MAX_BYTES, "the fast paths serve the slab classes");
#define LA_TC_MEDIUM_BINS                                                                 \
    (LA_TC_MEDIUM_PER_DOUBLING *                                                          \
     (__builtin_ctz(LA_TC_MEDIUM_MAX_BYTES) - __builtin_ctz(LA_TC_MAX_BYTES)))
#define LA_TC_BINS (LA_TC_SMALL_BINS + LA_TC_MEDIUM_BINS)

// Bytes served by medium class i: 1088, 1152, ... 2048, 2176, ... (with
// 16 classes per doubling).
LA_INLINE size_t tcache_medium_class_bytes(size_t i)
{
    size_t base = (size_t)LA_TC_MAX_BYTES << (i / LA_TC_MEDIUM_PER_DOUBLING);
    return base + base / LA_TC_MEDIUM_PER_DOUBLING * (i % LA_TC_MEDIUM_PER_DOUBLING + 1);
}

// One bin: 32 bytes, so that a class's bin is one shift from the cache.  A
// slab bin counts its own allocations (pops: one increment on the fast
// path, where the bytes follow from the class) and the slots it moved in
// batches (moved: flushed minus refilled); its frees are derived from
// these and what it holds, so the free fast path counts nothing.
//
// How many more blocks the bin may take, its room, is pops - full_at in
// 32-bit wrapping arithmetic (bin_room): the malloc fast path's count of
// its pop is also the bin's gain of room, one add to memory a pop where
// room and pops took one each (w_pairs, 11 runs interleaved: 0.168 ->
// 0.155 s; tcmalloc 0.144), and the free fast path's test is a load, a
// compare with memory and the sign.  Everything else changes the room through
// full_at (bin_add_room, bin_set_room).  A bin of zeros, as the
// placeholders' and past_bins are, has no room.  A medium bin's pops stay
// 0 (its pops count in the cache's nalloc), and so do the 8-byte class's
// bin's (the word stack counts in words_pops).
typedef struct {
    void *head;       // payloads, linked through their first word
    uint32_t full_at; // pops - room, modulo 2^32: the pops at which the bin is full
    uint16_t cap;     // most blocks the bin may hold
    uint16_t unused;
    uint64_t pops;    // slab bins: slots handed to the program
    int64_t moved;    // slab bins: slots flushed minus slots refilled
} la_tbin_t;

// The bin's room (negative when a remote list adopted whole overfilled
// it).  Relaxed loads: statistics read other threads' bins.
LA_INLINE int32_t bin_room(const la_tbin_t *bin)
{
    return (int32_t)((uint32_t)la_load_relaxed(&bin->pops) - la_load_relaxed(&bin->full_at));
}

// Whether the bin has no room, for its owner, whose plain loads race with
// no write: a load, a subtract from memory and the sign (the free fast
// path's test).
LA_INLINE bool bin_full_owned(const la_tbin_t *bin)
{
    return (int32_t)(bin->full_at - (uint32_t)bin->pops) >= 0;
}

// Adds n to the bin's room (the owner only).
LA_INLINE void bin_add_room(la_tbin_t *bin, int32_t n)
{
    la_add_owned(&bin->full_at, 0u - (uint32_t)n);
}

// Sets the bin's room (the owner only; or before the cache is live).
LA_INLINE void bin_set_room(la_tbin_t *bin, int32_t room)
{
    la_store_relaxed(&bin->full_at, (uint32_t)bin->pops - (uint32_t)room);
}

// The placeholders' bias: above every 32-bit value.
#define LA_TC_NO_MATCH ((uint64_t)1 << 32)

typedef struct la_tcache {
    la_tbin_t bins[LA_TC_BINS];  // first, at offset 0 (see tcache_bin_of)
    // Always empty, never written: the bins a dry medium bin near the end
    // looks at when it borrows from the next LA_TC_MEDIUM_BORROW up
    // (tcache.c), so that its loop needs no bound.
    // past_bins[0] is also the medium bin of blocks below the first
    // class: always full, so the free hit path sends them on.
    la_tbin_t past_bins[LA_TC_MEDIUM_BORROW > 0 ? LA_TC_MEDIUM_BORROW : 1];
    // The free fast path's check: a block's check word must equal its
    // keyed hash (under `key`, la.key in a live cache) plus its req plus
    // `bias` before anything is written.  The bias is 0 in a live cache and
    // LA_TC_NO_MATCH in the placeholders, so that no 32-bit check word
    // matches there and the shared placeholders are never written (issue
    // 12: with a check of 0 they accepted any header whose check word was
    // 0, and wrote wherever its req pointed, la.secret included).
    uint64_t key;
    uint64_t bias;
    uint32_t kind;               // la_tcache_kind_t
    // 1 in a live cache out of checking mode (la.debug, set before any
    // cache is made), 0 in the placeholders: the medium bins' hit paths
    // (tcache.c) test this one byte where they tested kind and la.debug.
    uint8_t medium_hits;
    // 1 while the thread churns medium blocks (tcache.c, count_trip):
    // its medium bins grow within LA_TC_MEDIUM_HOT_BYTES.
    uint8_t medium_hot;
    // 1 in a live cache that keeps the 8-byte class's slots (out of
    // checking mode, with caches and slabs on), 0 in the placeholders: the
    // word stack's hit paths (tcache.c) test this one byte.
    uint8_t words_hits;
    // 1 once the word stack was refilled since it last overflowed (as
    // ran_dry[] for a bin): its next overflow doubles it (free_word).
    uint8_t words_ran_dry;
    // Counters, written only by the owning thread: medium blocks and
    // resizes (slots count in their bins).  nalloc counts medium blocks
    // handed out; a resize counts in nresize (one free and one allocation:
    // tcache_counters adds it to both) and in the byte counters.
    size_t nalloc, alloc_bytes, free_bytes;
    size_t nresize;              // resizes in place
    size_t refilled, flushed;    // blocks that entered / left the bins in batches
    size_t cap_bytes;            // what the slab bins and the word stack grew: (cap - starting cap) * slot size
    size_t medium_cap_bytes;     // the same for the medium bins (which start at 0)
    // Medium frees and requests that went to the heap (tcache.c,
    // count_trip); the clock, those requests and all allocations at the
    // last multiple of LA_TC_HOT_TRIPS such frees.
    uint64_t medium_trips, medium_misses;
    uint64_t medium_trips_ms, medium_misses_seen, medium_allocs_seen;
    uint8_t ran_dry[LA_TC_BINS]; // the bin was refilled since it last overflowed
    uint64_t pops_seen[LA_TC_SMALL_BINS]; // a slab bin's pops when it last overflowed
    // Cold fields: the slow path's.
    la_heap_t *heap;             // where refills come from
    size_t published;            // balance() at the last publish
    // Slot bytes the slab bins moved in batches (flushed minus refilled),
    // and alloc_bytes - free_bytes - this at the last publish: a balance
    // kept on slow paths only, that decides when to publish.
    int64_t slot_moved_bytes;
    size_t published_cheap;
    unsigned epoch;              // la.tc_epoch when the cache last emptied
    struct la_tcache *next, *prev; // every live cache, under la.tc_lock
    // The 8-byte class's free slots (slab.h, slab_one_word), marked
    // (la_word_mark), the newest last.  That class's bin stays empty and
    // full (cap 0, and its pops 0: bin_room), so that both fast paths send
    // it here; words_pops counts as the class's pops, its moved as a bin's,
    // and words_held is what it holds (written by the owner only:
    // la_add_owned).  words_cap is the stack's room: it
    // starts at LA_TC_WORD_SLOTS and doubles up to LA_TC_WORD_SLOTS_MAX as
    // a bin's capacity does (tcache.c, free_word); 0 in the placeholders.
    // The array is the struct's tail, LA_TC_WORD_SLOTS_MAX entries in a
    // live cache (struct_alloc) and none in the placeholders, which never
    // hold a slot: their 4 KiB of it were .data pages every program
    // mapped.
    int32_t words_held;
    int32_t words_cap;
    uint64_t words_pops; // the stack's slots handed out: the class's pops
    void *words[];
} la_tcache_t;

typedef enum {
    LA_TC_EMPTY = 0, // the shared placeholder before a thread has its cache
    LA_TC_DEAD,      // the placeholder after the thread's cache was torn down
    LA_TC_LIVE,
} la_tcache_kind_t;

// The calling thread's cache: never NULL (initial-exec TLS is set up before
// the first malloc of any thread), a placeholder until the first slow path.
LA_HIDDEN extern __thread la_tcache_t *la_tc __attribute__((tls_model("initial-exec")));

LA_HIDDEN LA_NOINLINE void *tcache_malloc_slow(size_t req);
// A request above the slab classes: the medium bins' hit path (tcache.c),
// else tcache_malloc_slow.
LA_HIDDEN LA_NOINLINE void *tcache_malloc_above(size_t req);
// Reports a bin whose head's link words fail their check; never returns
// (not declared noreturn, so that the fast path reaches it by a jump).
LA_HIDDEN LA_NOINLINE LA_COLD void *tcache_malloc_corrupt(void *p);
// The free paths past the fast path's.  `delete_size` is what a sized
// operator delete was given, or 0 (free, and an unsized delete): checking
// mode, where every free comes here, compares it with the block's
// request, and a misuse is reported under operator delete's name.  This
// one: slot p of slab s, which the fast path doubts (slab_looks_live).
LA_HIDDEN LA_NOINLINE void tcache_free_slow(void *p, size_t delete_size, la_slab_t *s);
// The same for a pointer in no slab: NULL, a heap or large block, a
// guarded block, a foreign pointer (the fast path looked up its slab).
LA_HIDDEN LA_NOINLINE void tcache_free_unslabbed(void *p, size_t delete_size);
// A sound slot of slab s whose bin is full (or whose thread has no cache
// yet; or of the 8-byte class, from tcache_free_slow).
LA_HIDDEN LA_NOINLINE void tcache_free_full(void *p, size_t delete_size, la_slab_t *s);

_Static_assert(sizeof(la_tbin_t) == 32, "bin i is at byte offset 32 * i");

// The bin serving a request of up to LA_SLAB_MAX_BYTES: its class's.
LA_INLINE la_tbin_t *tcache_bin_of(la_tcache_t *tc, size_t req)
{
    return &tc->bins[sizeclass_of(req)];
}

// The bin of class cls4 / 4 (la_class4_of, la_slab_t.cls4): a byte offset
// of 8 * cls4, which the fast paths' loads and stores take as one scaled
// index, where &tc->bins[cls] cost a shift and an add.
_Static_assert(sizeof(la_tbin_t) == 8 * 4, "cls4 * 8 is a bin's offset");
LA_INLINE la_tbin_t *tcache_bin_at(la_tcache_t *tc, size_t cls4)
{
    return (la_tbin_t *)((char *)tc + cls4 * 8);
}

// The slot p at the head of a slab bin, handed out: its link words are
// checked before the link is followed, then cleared.  The fast paths'
// pop (tcache_malloc_below's, la_aligned's).
LA_INLINE void *tcache_pop(la_tbin_t *bin, uintptr_t *p)
{
    uintptr_t next = p[1];
    if (LA_UNLIKELY((p[0] ^ next ^ la.slot_key) != (uintptr_t)p))
        return tcache_malloc_corrupt(p); // a jump: no frame here
    bin->head = (void *)next;
    la_link_clear(p); // no longer linked: the relation fails
    la_add_owned(&bin->pops, 1); // and one more room (bin_room)
    return p;
}

// The malloc fast path for requests below `bound`: a slot from the bin of
// the request's class, if it has one.  A request at or above the bound
// goes to past(req, arg) (tcache_malloc_past: tcache_malloc_above), a bin
// that cannot serve to miss(req) (tcache_malloc_slow; operator new's
// tests the result, preload/interpose.c).
// tcache_malloc's bound is a constant; the exported malloc's is read from
// memory (la.fast_bound, issue 16), which costs the size test nothing on
// x86 (cmp mem,reg where cmp imm,reg was) and sends every request past
// while a sampler is on.  past and miss must be constants, so that
// inlining turns the calls into direct jumps.
LA_INLINE void *tcache_malloc_below(size_t req, size_t bound, void *(*past)(size_t, void *),
                                    void *arg, void *(*miss)(size_t))
{
    if (LA_UNLIKELY(req >= bound))
        return past(req, arg);
    la_tbin_t *bin = tcache_bin_at(la_tc, la_class4_of[req]);
    uintptr_t *p = bin->head;
    if (LA_LIKELY(p != NULL))
        return tcache_pop(bin, p);
    return miss(req);
}

LA_INLINE void *tcache_malloc_past(size_t req, void *arg)
{
    (void)arg;
    return tcache_malloc_above(req);
}

LA_INLINE void *tcache_malloc(size_t req)
{
    return tcache_malloc_below(req, LA_SLAB_MAX_BYTES + 1, tcache_malloc_past, NULL,
                               tcache_malloc_slow);
}

// The free fast path; `size` goes to the paths past it (above).
LA_INLINE void tcache_free_sized(void *ptr, size_t size)
{
    size_t cls4;
    la_slab_t *s = slab_of_cls4(ptr, &cls4);
    // NULL, a heap or large block, a foreign pointer: the slow path.
    if (LA_UNLIKELY(s == NULL))
        return tcache_free_unslabbed(ptr, size);
    uintptr_t *p = ptr;
    uintptr_t tag = la_link_tag(p);
    // Not a slot handed out, or linked free already (or in a slab with
    // purged pages, whose free slots have no link: slab.h): named by the
    // slow path before anything is written.
    if (LA_UNLIKELY(!slab_looks_live(s, p)))
        return tcache_free_slow(ptr, size, s);
    la_tbin_t *bin = tcache_bin_at(la_tc, cls4);
    if (LA_UNLIKELY(bin_full_owned(bin))) // full, or a placeholder (never written)
        return tcache_free_full(ptr, size, s);
    bin_add_room(bin, -1); // one subtract from memory
    uintptr_t head = (uintptr_t)bin->head;
    p[0] = head ^ tag; // la_link_store, with the tag computed above
    p[1] = head;
    bin->head = p;
}

LA_INLINE void tcache_free(void *ptr) { tcache_free_sized(ptr, 0); }

// malloc_usable_size: a live slot's class size, tested inline with no
// frame (ruby's GC sizes every block before it frees it: with the heap
// block's path in the same function, each call paid for a frame and a
// call into it, 44 instructions against mimalloc's 28).  Checking mode, a
// pointer that is no slot's start and everything outside the slabs take
// la_usable_size_slow.  The slot itself is not read: whether it was freed
// is free's question (a double free), and checking mode's here.  Its line
// is cold when a program sizes a block it is about to free, and the load
// put that miss in the program's way: w_ruby 0.777 -> 0.720 s without it
// (cmp 11; mimalloc 0.684, tcmalloc 0.735), whose free then finds the
// line on its way.  glibc, jemalloc, tcmalloc and mimalloc answer for a
// freed slot too.
LA_INLINE size_t tcache_usable_size(const void *p, const char *func)
{
    la_slab_t *s = slab_of(p);
    // The 8-byte class's mark is the slow path's to read (slab_is_live),
    // and so is checking mode's slot: their free limit is 0, as is that
    // of a slab with pages purged (slab_free_limit).
    if (LA_LIKELY(s != NULL && slab_slot_in_limit(s, p)))
        return s->size;
    return la_usable_size_slow(p, func);
}

/* ---- tcache.c ----------------------------------------------------------- */

// Publishes the calling thread's live-byte balance (before a snapshot).
LA_HIDDEN void tcache_publish_current(void);
// Empties every bin of the calling thread's cache back into the heaps.
LA_HIDDEN void tcache_flush_current(void);
// Counters of every cache (live and retired) added into *sum.
LA_HIDDEN void tcache_sum_counters(la_counters_t *sum);
// Blocks waiting in every live cache, by heap size class.
LA_HIDDEN void tcache_by_class(la_class_stats_t out[NUM_SIZE_CLASSES]);
// Slots waiting in every live cache's slab bins, by slab class, added into
// slots[]; the bytes of the medium bins' blocks (at their classes' sizes)
// added into *block_bytes.
LA_HIDDEN void tcache_cached_slots(size_t slots[LA_SLAB_CLASSES], size_t *block_bytes);
// The heap the calling thread allocates from outside its cache: the one
// the direct path (direct.h) is handed for the exported family.  Inline:
// one load, where a call on every heap allocation was a layer more (issue
// 14).
LA_INLINE la_heap_t *tcache_heap(void) { return la_tc->heap; }
// balance() (tcache.c) without the slots the bins hold now: it moves only
// on slow paths and resizes, and differs from balance() by at most what
// the bins hold, so it can pace publishing without a walk of the bins on
// every slow path (that walk was 14% of w_churn 1 1 local's profile).
LA_INLINE size_t tcache_cheap_balance(const la_tcache_t *tc)
{
    return tc->alloc_bytes - tc->free_bytes - (size_t)tc->slot_moved_bytes;
}
// Whether the balance moved by more than LA_TC_PUBLISH_BYTES either way
// since the cache last published it (the slow paths' publish_lazily and
// tcache_count_resize test this).
LA_INLINE bool tcache_publish_due(const la_tcache_t *tc)
{
    size_t moved = tcache_cheap_balance(tc) - tc->published_cheap;
    return moved + LA_TC_PUBLISH_BYTES > 2 * LA_TC_PUBLISH_BYTES; // |moved| > limit
}
// Publishes the cache's balance (tcache_count_resize's slow side).
LA_HIDDEN LA_NOINLINE void tcache_publish_resizes(la_tcache_t *tc);
// Counts a resize the calling thread made without any lock, if it has a
// cache to count it in; false otherwise.  Inlined: realloc's in-place
// path is a few dozen instructions (issue 13).  A program that grows its
// blocks in place may take no other slow path for a long while, so the
// balance is paced here as on the slow paths (publish_lazily): without
// it, 500 strings grown to 64 KiB each by realloc reported a peak of 0.9
// MB against the 32.8 MB they held (test_api's test_peak_of_resizes).
LA_INLINE bool tcache_count_resize(size_t old_req, size_t new_req)
{
    la_tcache_t *tc = la_tc;
    if (tc->kind != LA_TC_LIVE)
        return false;
    la_add_owned(&tc->nresize, 1);
    la_add_owned(&tc->free_bytes, old_req);
    la_add_owned(&tc->alloc_bytes, new_req);
    if (LA_UNLIKELY(tcache_publish_due(tc)))
        tcache_publish_resizes(tc);
    return true;
}
LA_HIDDEN void tcache_lock_all(void);
LA_HIDDEN void tcache_unlock_all(void);
LA_HIDDEN void tcache_after_fork_child(void);

#endif /* LA_TCACHE_H */
