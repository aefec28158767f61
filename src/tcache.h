// SPDX-License-Identifier: MIT
/*
 * tcache.h: per-thread caches of free blocks, and the fast paths of malloc
 * and free that use them (inlined into the exported family and mem_*_ts).
 *
 * A cache has one bin per 16 bytes of request up to LA_TC_MAX_BYTES; bin i
 * holds blocks whose usable size is at least 16*i, linked through their
 * first payload word.  The fast path bins a block by its requested size
 * (held in the header), which a block always covers.  Medium bins (size
 * classes LA_TC_MEDIUM_PER_DOUBLING to a doubling, up to
 * LA_TC_MEDIUM_MAX_BYTES) are the slow
 * path's, and bin blocks by usable size rounded down to a class.  A cached block is live from
 * its heap's point of view, with its check word its bare hash (a live
 * block's is hash + req + 1) so that a second free of it fails the fast check.
 *
 * The fast paths take no lock and no atomic operation: the cache belongs to
 * its thread.  Everything else (a miss, a full bin, a large or suspicious
 * block, a thread without a cache) goes to one named slow function.
 * Counters, and the bins' room and capacity, are written only by the owner,
 * with relaxed atomic stores (la_add_owned); stats.c sums them with relaxed
 * loads (a reader may see a count one operation old).  Frees into the cache
 * are not counted one by one: they are the blocks that entered the bins
 * other than by refill, which tcache_counters() works out from the bins.
 */
#ifndef LA_TCACHE_H
#define LA_TCACHE_H

#include "internal.h"

// Small bins (the fast path's), then medium bins (the slow path's).
#define LA_TC_SMALL_BINS (LA_TC_MAX_BYTES / ALIGNMENT + 1)
#define LA_TC_MEDIUM_BINS                                                                 \
    (LA_TC_MEDIUM_PER_DOUBLING *                                                          \
     (__builtin_ctz(LA_TC_MEDIUM_MAX_BYTES) - __builtin_ctz(LA_TC_MAX_BYTES)))
#define LA_TC_BINS (LA_TC_SMALL_BINS + LA_TC_MEDIUM_BINS)

// One bin: 16 bytes, so that the bin of a request is found by rounding the
// request up to 16 and adding it to the cache's address (no scaling).
typedef struct {
    void *head;       // payloads, linked through their first word
    int32_t room;     // how many more blocks the bin may take; <0 only briefly
    uint16_t cap;     // most blocks the bin may hold
    uint16_t unused;
} la_tbin_t;

// The placeholders' bias: above every 32-bit value.
#define LA_TC_NO_MATCH ((uint64_t)1 << 32)
// Any req, even one that passed the check by chance (2^-32), picks a bin
// inside the cache: offsets up to 2 * LA_TC_MAX_BYTES - 16 (issue 12: a
// req of 1 GiB indexed far outside).
#define LA_TC_BIN_MASK ((size_t)(2 * LA_TC_MAX_BYTES - ALIGNMENT))

typedef struct la_tcache {
    la_tbin_t bins[LA_TC_BINS];  // first, at offset 0 (see tcache_bin_of)
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
    // Counters, written only by the owning thread.
    size_t nalloc, alloc_bytes, free_bytes; // every allocation and free
    size_t nresize;              // resizes in place (one free, one allocation)
    size_t refilled, flushed;    // blocks that entered / left the bins in batches
    size_t cap_bytes;            // what the bins grew: sum of (cap - starting cap) * block size
    uint8_t ran_dry[LA_TC_BINS]; // the bin was refilled since it last overflowed
    // Cold fields: the slow path's.
    la_heap_t *heap;             // where refills come from
    size_t published;            // alloc_bytes - free_bytes at the last publish
    unsigned epoch;              // la.tc_epoch when the cache last emptied
    struct la_tcache *next, *prev; // every live cache, under la.tc_lock
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
LA_HIDDEN LA_NOINLINE void tcache_free_slow(void *p);
// The block's bin was full: its room counter was just taken below zero.
LA_HIDDEN LA_NOINLINE void tcache_free_full(void *p);

_Static_assert(sizeof(la_tbin_t) == ALIGNMENT, "bin i is at byte offset 16 * i");
_Static_assert(LA_IS_POW2(LA_TC_MAX_BYTES) && LA_TC_BIN_MASK / ALIGNMENT < LA_TC_BINS,
               "the bin mask keeps every small bin and stays inside the cache");

LA_INLINE size_t tcache_bin(size_t req) { return (req + ALIGNMENT - 1) / ALIGNMENT; }
// The bin serving `req` bytes: req rounded up to 16 is its byte offset
// (masked: the same and instruction as the rounding).
LA_INLINE la_tbin_t *tcache_bin_of(la_tcache_t *tc, size_t req)
{
    return (la_tbin_t *)((char *)tc->bins + ((req + ALIGNMENT - 1) & LA_TC_BIN_MASK));
}

LA_INLINE void *tcache_malloc(size_t req)
{
    la_tcache_t *tc = la_tc;
    if (LA_LIKELY(req <= LA_TC_MAX_BYTES)) {
        la_tbin_t *bin = tcache_bin_of(tc, req);
        void *p = bin->head;
        if (LA_LIKELY(p != NULL)) {
            bin->head = *(void **)p;
            la_add_owned(&bin->room, 1);
            la_block_t *b = blk_from_payload(p);
            b->req = (uint32_t)req;
            b->check += (uint32_t)req + 1; // cached (the hash) to live
            la_add_owned(&tc->nalloc, 1);
            la_add_owned(&tc->alloc_bytes, req);
            return p;
        }
    }
    return tcache_malloc_slow(req);
}

LA_INLINE void tcache_free(void *p)
{
    if (LA_UNLIKELY(p == NULL))
        return;
    la_tcache_t *tc = la_tc;
    la_block_t *b = blk_from_payload(p);
    // A foreign pointer, a double free, a block in a cache, one too big for
    // any bin (LA_CHECK_BIG), a header an overflow changed, or a thread
    // without a cache yet (bias 2^32) fails this.  In 64 bits, a live
    // block's hash + req + 1 may pass 2^32 (for 1 block in 2^22): it then
    // takes the slow path, which checks in 32 bits.
    uint32_t req = b->req;
    uint64_t hash = blk_hash(b, blk_load_head(b), tc->key);
    if (LA_UNLIKELY(b->check - tc->bias != hash + req + 1))
        return tcache_free_slow(p);
    la_tbin_t *bin = tcache_bin_of(tc, req);
    if (LA_UNLIKELY(la_dec_owned_below_zero(&bin->room)))
        return tcache_free_full(p);
    *(void **)p = bin->head;
    bin->head = p;
    b->check = (uint32_t)hash; // cached
    la_add_owned(&tc->free_bytes, req);
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
// The heap the calling thread allocates from outside its cache.
LA_HIDDEN la_heap_t *tcache_heap(void);
// Counts a resize the calling thread made without any lock, if it has a
// cache to count it in; false otherwise.
LA_HIDDEN bool tcache_count_resize(size_t old_req, size_t new_req);
LA_HIDDEN void tcache_lock_all(void);
LA_HIDDEN void tcache_unlock_all(void);
LA_HIDDEN void tcache_after_fork_child(void);

#endif /* LA_TCACHE_H */
