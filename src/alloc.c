// SPDX-License-Identifier: MIT
/*
 * alloc.c: the mem_* entry points and the exported family's la_*: malloc,
 * free and calloc, realloc (in place where the slot or block allows) and
 * aligned allocation, keeping glibc's semantics (errno, realloc(p, 0),
 * malloc(0)); mem_trim and the free space for mallinfo.
 *
 * The _ts variants and the exported family go through the thread cache
 * (tcache.h) first; mem_* without a suffix take the direct path (direct.h)
 * to heap 0, single-threaded, so their splits and coalesces show in the
 * statistics.
 *
 * Counting rule: a realloc is one free plus one allocation, whether or not
 * the block moved, so num_allocations - num_frees is always the number of
 * live blocks and current_usage = total_allocated - total_freed.
 */
#include <errno.h>
#include <string.h>

#include "direct.h"
#include "tcache.h"

#include "allocator.h"

// The un-suffixed mem_* path's allocation: the direct path on heap 0,
// without a lock or a cache (a NULL heap, direct.h).
static void *seed_alloc(size_t req, bool zero) { return la_alloc_direct(NULL, req, req, zero); }

// Whether a heap block of `size` bytes keeps serving a request that needs
// `need` in the exported family: it holds it with less than a third
// (LA_REALLOC_SLACK_DIVISOR) to spare, so only the requested size changes.
LA_INLINE bool keeps_block(size_t need, size_t size)
{
    return need <= size && size - need < LA_MAX((size_t)MIN_BLOCK_SIZE, size / LA_REALLOC_SLACK_DIVISOR);
}

// req with the slack a growing block of the exported family is given: a
// third, an eighth below LA_REALLOC_SLACK_SMALL_BYTES.
LA_INLINE size_t with_slack(size_t req)
{
    return req + req / (req < LA_REALLOC_SLACK_SMALL_BYTES ? LA_REALLOC_SLACK_SMALL_DIVISOR
                                                           : LA_REALLOC_SLACK_DIVISOR);
}

// Where the exported family's realloc moves a block that outgrew its
// place: with `roomy` (it grew from LA_REALLOC_HEAP_FROM_BYTES on), a heap
// block with slack below the mmap threshold, which grows in place from
// then on (issue 13: a string grown through every slab class left a
// partly used slab of each behind); else the exported malloc's.
LA_INLINE void *realloc_target(size_t req, bool roomy)
{
    size_t slack = with_slack(req);
    if (roomy && slack < la_mmap_threshold(true))
        return la_alloc_direct(tcache_heap(), req, slack, false);
    return la_malloc(req);
}

// Resizes without moving when the block's neighbourhood allows.
static la_block_t *resize_in_place(la_block_t *b, size_t req, bool ts)
{
    size_t old_req = la_block_req(b);
    size_t threshold = la_mmap_threshold(ts);
    if (blk_is_mmapped(b)) {
        if (req < threshold)
            return NULL; // small again: move it into a heap
        la_block_t *nb = large_realloc(b, req);
        if (nb != NULL)
            stats_usage_publish((int64_t)req - (int64_t)old_req);
        return nb;
    }
    if (req >= threshold)
        return NULL; // large now: move it into its own mapping
    size_t need = blk_size_for(req + la.guard_bytes), size = blk_size(b);
    // Fits without a split: only the requested size changes, which the
    // owner of the block may write without the heap lock.  In the
    // exported family that includes a block with up to a third to spare
    // (LA_REALLOC_SLACK_DIVISOR): splitting that off, as the seed did,
    // meant the next growth by a few bytes had to move the block (issue
    // 13: strings grown round-robin by 1..64 bytes ran 8x slower than
    // tcmalloc and mimalloc).
    if (ts && keeps_block(need, size) && tcache_count_resize(old_req, req)) {
        blk_set_req(b, req);
        return b;
    }
    // Growing in the exported family takes its slack (with_slack) from the
    // free block after it, as a move would (realloc_impl): grown in place
    // by exactly `need`, a string growing by a few bytes came back here
    // at every step, each time to take its neighbour off the tree and put
    // the rest back (issue 13: 120k of w_rrgrow's 470k heap reallocs,
    // 270 instructions each).
    size_t want = need;
    if (ts && need > size && with_slack(req) < threshold)
        want = blk_size_for(with_slack(req) + la.guard_bytes);
    la_heap_t *h = &la.heaps[blk_heap_index(b)];
    if (ts)
        lock_acquire(&h->lock);
    bool ok = heap_resize_in_place(h, b, need, want);
    // Growth where b stands failed (it fails only to grow): slide down
    // into a free left neighbour (heap_slide_down), in the exported
    // family, outside the checking mode and Valgrind, whose trackers see a
    // block move only by a new malloc and a free.  The copy is made under
    // the heap lock, as the block's rest may only go back once the bytes
    // are out of its way.
    if (!ok && ts && !la.debug) {
        la_block_t *nb = heap_slide_down(h, b, need, want);
        if (nb != NULL) {
            b = nb;
            ok = true;
        }
    }
    if (ok) {
        blk_set_req(b, req);
        h->counters.nfree++;
        h->counters.free_bytes += old_req;
        h->counters.nalloc++;
        h->counters.alloc_bytes += req;
    }
    if (ts)
        lock_release(&h->lock);
    if (!ok)
        return NULL;
    stats_usage_publish((int64_t)req - (int64_t)old_req);
    return b;
}

// Checking mode's slots move on every realloc: their trailer and canary
// are made for one request size.
static LA_COLD void *realloc_slot_checked(la_slab_t *s, void *p, size_t req)
{
    size_t old_req = debug_slot_req(s, p, "realloc");
    if (req == 0) { // glibc: free and return NULL
        la_free(p);
        return NULL;
    }
    if (LA_UNLIKELY(req > LA_MAX_REQUEST))
        return la_nomem(); // the old slot stays intact
    void *q = la_malloc(req);
    if (q == NULL)
        return NULL;
    memcpy(q, p, LA_MIN(old_req, req));
    la_free(p);
    return q;
}

// realloc of a slab slot: within the slot's size it never moves (shrinking
// included); beyond, it moves once, to a slot of a bigger class or, from
// LA_REALLOC_HEAP_FROM_BYTES on, to a heap block with slack (issue 13: a
// string grown through every class left a partly used slab of each
// behind).  Counted as one free and one allocation like any resize.
LA_HOT_TEXT static void *realloc_slot(la_slab_t *s, void *p, size_t req)
{
    if (LA_UNLIKELY(la.debug))
        return realloc_slot_checked(s, p, req);
    // malloc_usable_size's inline test first: slab_check's call cost 26
    // instructions a realloc (w_ruby); only a slot it doubts is named there.
    if (LA_UNLIKELY(!slab_is_live(s, p)))
        slab_check(s, p, "realloc"); // names the misuse and aborts, or passes
    if (req == 0) { // glibc: free and return NULL
        la_free(p);
        return NULL;
    }
    if (LA_UNLIKELY(req > LA_MAX_REQUEST))
        return la_nomem(); // the old slot stays intact
    size_t size = s->size;
    if (req <= size) {
        if (!tcache_count_resize(size, size)) {
            la_heap_t *h = s->heap;
            lock_acquire(&h->lock);
            h->counters.nfree++;
            h->counters.free_bytes += size;
            h->counters.nalloc++;
            h->counters.alloc_bytes += size;
            lock_release(&h->lock);
        }
        return p;
    }
    // Growth out of a slot big enough moves to a heap block with slack.
    void *q = realloc_target(req, size >= LA_REALLOC_HEAP_FROM_BYTES);
    if (q == NULL)
        return NULL; // errno is ENOMEM; the old slot stays intact
    memcpy(q, p, size);
    la_free(p);
    return q;
}

// realloc of p, whose header b passed validation: a heap or a large block.
LA_HOT_TEXT static LA_NOINLINE void *realloc_block(void *p, la_block_t *b, size_t req, bool ts)
{
    if (req == 0) { // glibc: free and return NULL
        la_free_direct(b, ts, "realloc");
        return NULL;
    }
    if (LA_UNLIKELY(req > LA_MAX_REQUEST))
        return la_nomem(); // the old block stays intact
    size_t old_req = la_block_req(b);
    debug_quiet_begin();
    if (LA_UNLIKELY(la.options.check)) // the canary must hold before anything moves
        debug_check_canary(p, old_req, blk_usable(b), "realloc");
    la_block_t *nb = resize_in_place(b, req, ts);
    if (nb != NULL && LA_UNLIKELY(la.debug))
        debug_on_resize(blk_payload(nb), old_req, req, blk_usable(nb));
    debug_quiet_end();
    if (nb != NULL)
        return blk_payload(nb);
    // A heap block that grows and must move gets its slack (a third, an
    // eighth below 16 KiB: with_slack), so that a string or vector grown
    // in small steps moves about once per third (eighth) of its size, not
    // on every step (size-class allocators get the same from their class
    // spacing).  Large blocks grow with mremap.
    // From LA_REALLOC_HEAP_FROM_BYTES on, as a slot does (realloc_slot).
    void *q = ts ? realloc_target(req, req > old_req && req >= LA_REALLOC_HEAP_FROM_BYTES)
                 : seed_alloc(req, false);
    if (q == NULL)
        return NULL; // errno is ENOMEM; the old block stays intact
    // Only the requested bytes in debug mode: the rest is canary or redzone.
    memcpy(q, p, LA_MIN(la.debug ? old_req : blk_usable(b), req));
    if (ts)
        la_free(p);
    else
        la_free_direct(b, false, "realloc");
    return q;
}

static void *realloc_impl(void *p, size_t req, bool ts)
{
    if (p == NULL)
        return ts ? la_malloc(req) : seed_alloc(req, false);
    la_slab_t *s = slab_of(p);
    if (s != NULL) // a slot from the _ts family or the exported malloc
        return realloc_slot(s, p, req);
    if (LA_UNLIKELY(guard_owns(p))) // no header to validate (guard.c)
        return guard_realloc(p, req, NULL);
    return realloc_block(p, la_validate(p, "realloc"), req, ts);
}

// la_aligned() of a request a slot can hold: a slot of the first class
// at or above req whose slots all sit on `align` boundaries
// (sizeclass_aligned_up: 32-byte alignment from the 32-byte class up, 64
// from the 64-byte one, and so on as the classes' colours allow), where
// a heap block with room to align it took the heap lock, a split of the
// padding and its own header.  That class, or -1 where there is none or
// it is more than LA_ALIGNED_SLOT_MAX_RATIO times what the request and
// its alignment need (the heap's padding costs less).
LA_INLINE int aligned_class(size_t align, size_t req)
{
    int c = sizeclass_aligned_up(sizeclass_of(req), align);
    if (c < 0 || la_sizeclasses[c].size > LA_ALIGNED_SLOT_MAX_RATIO * LA_MAX(req, align))
        return -1;
    return c;
}

// la_aligned() past its hit path (a slot off the bin of aligned_class):
// the bin was empty (a refill, through the slow path), the request needs
// no slot or no slot serves it, checking mode, or the first call.
static LA_NOINLINE void *aligned_slow(size_t align, size_t req)
{
    la_ensure_init();
    if (!LA_IS_POW2(align)) {
        errno = EINVAL;
        return NULL;
    }
    // Every slot and block is 16-aligned but the 8-byte class's, which a
    // request of at least the alignment never takes.
    if (align <= ALIGNMENT)
        return la_malloc(LA_MAX(req, align));
    // Checking mode's slots start past a front canary: aligned only to 16.
    int c = req <= LA_SLAB_MAX_BYTES && la.slabs_on && !la.debug ? aligned_class(align, req) : -1;
    if (c >= 0) {
        void *p = la_malloc(la_sizeclasses[c].size); // exactly class c's size: a slot of c
        if (p == NULL || ((uintptr_t)p & (align - 1)) == 0)
            return p;
        la_free(p); // a heap block: no slab could be made
    }
    return la_alloc_aligned_direct(tcache_heap(), align, req);
}

/* ---- entry points ------------------------------------------------------- */
void *la_malloc(size_t req) { return tcache_malloc(req); }
LA_HOT_TEXT void la_free(void *p) { tcache_free(p); }
// The exported realloc.  Its common case past the slabs is inlined: a
// heap block whose header passes every test of la_validate and whose size
// holds req with at most a third to spare (resize_in_place's rule) stays
// where it is, and only its req and check word change, with the hash the
// header test computed; its owner may write them without the heap lock.
// Issue 13: w_rrgrow's 460k such calls cost 177 instructions each through
// realloc_impl, la_validate and the count's call.
LA_HOT_TEXT void *la_realloc(void *p, size_t req)
{
    if (LA_UNLIKELY(p == NULL))
        return la_malloc(req);
    la_slab_t *s = slab_of(p);
    if (s != NULL)
        return realloc_slot(s, p, req);
    if (LA_UNLIKELY(guard_owns(p))) // no header to validate (guard.c)
        return guard_realloc(p, req, NULL);
    size_t size;
    uint32_t hash;
    if (LA_UNLIKELY(!la_block_sound(p, &size, &hash)))
        return realloc_block(p, la_validate_slow(p, "realloc"), req, true);
    la_block_t *b = blk_from_payload(p);
    // blk_size_for(req) for 0 < req (la.guard_bytes is 0 outside la.debug).
    size_t need = LA_ALIGN_UP(req + LA_HEADER_BYTES, ALIGNMENT);
    if (LA_LIKELY(req - 1 < la_mmap_threshold(true) - 1 && keeps_block(need, size)) &&
        tcache_count_resize(blk_req(b), req)) {
        b->req = (uint32_t)req;
        b->check = la_check_word(hash, req);
        return p;
    }
    return realloc_block(p, b, req, true);
}
// The exported family's aligned allocation (mem_aligned_alloc is the same
// code): there is no un-suffixed mem_* one.  Its hit path is malloc's, for
// the class aligned_class() finds: a slot off the thread cache's bin of a
// class whose slots are all aligned (C++17's new of an alignas(64) type
// comes here), without a frame; the rest is aligned_slow's.  The class
// comes from a table that holds it where every request of the request's
// class passes aligned_class's ratio test (sizeclass_aligned_hit), so the
// hit path makes no test of its own: 97 -> 81 instructions a pair with
// the test of la.slabs_on and la.debug gone too, which malloc's fast
// path does not make either (a slab bin holds slots only when slabs are
// on, outside checking mode, once the allocator is initialised).
LA_HOT_TEXT void *la_aligned(size_t align, size_t req)
{
    if (LA_LIKELY(req <= LA_SLAB_MAX_BYTES && align > ALIGNMENT && LA_IS_POW2(align))) {
        int c = sizeclass_aligned_hit(sizeclass_of(req), align);
        if (LA_LIKELY(c >= 0)) {
            la_tbin_t *bin = &la_tc->bins[c];
            uintptr_t *p = bin->head;
            if (LA_LIKELY(p != NULL))
                return tcache_pop(bin, p); // a slot of class c: aligned
        }
    }
    return aligned_slow(align, req);
}

LA_HOT_TEXT void *la_calloc(size_t nmemb, size_t size)
{
    size_t req;
    if (__builtin_mul_overflow(nmemb, size, &req))
        return la_nomem();
    if (req <= LA_TC_MEDIUM_MAX_BYTES) {
        // Cached blocks are dirty, and these are cheap enough to clear.
        void *p = tcache_malloc(req);
        if (p != NULL)
            memset(p, 0, req);
        return p;
    }
    return la_alloc_direct(tcache_heap(), req, req, true);
}

void la_free_space(size_t *bytes, size_t *blocks)
{
    *bytes = 0;
    *blocks = 0;
    debug_quiet_begin(); // free blocks are not the program's memory
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++) {
        la_heap_t *h = &la.heaps[i];
        lock_acquire(&h->lock);
        for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++)
            for (la_free_t *f = h->bins[c]; f != NULL; f = f->next) {
                *bytes += blk_size((la_block_t *)f);
                (*blocks)++;
            }
        for (la_tnode_t *t = tree_first(h->tree); t != NULL; t = tree_next(t)) {
            *bytes += blk_size((la_block_t *)t);
            (*blocks)++;
        }
        if (h->top != NULL) { // the free block kept out of the lists (bins.c)
            *bytes += blk_size(h->top);
            (*blocks)++;
        }
        *bytes += slab_free_bytes(h, blocks); // free slots in slabs
        lock_release(&h->lock);
    }
    debug_quiet_end();
}

int mem_trim(size_t pad)
{
    (void)pad; // the brk heap keeps BRK_INCREMENT at its top whatever pad says
    la_ensure_init();
    size_t released = 0;
    tcache_flush_current();
    // Other threads empty their caches at their next slow path.
    __atomic_fetch_add(&la.tc_epoch, 1, __ATOMIC_RELAXED);
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++) {
        la_heap_t *h = &la.heaps[i];
        la_map_t unmap[LA_TRIM_UNMAP_MAX];
        unsigned n_unmap = 0;
        lock_acquire(&h->lock);
        debug_quiet_begin(); // Valgrind: free blocks and slabs are not the program's
        heap_free_chain(h, heap_take_remote(h));
        slab_purge(h); // empty slabs become free heap blocks, purged below
        released += heap_purge(h, unmap, &n_unmap, LA_TRIM_UNMAP_MAX);
        debug_quiet_end();
        lock_release(&h->lock);
        // Whole regions are unmapped after the lock is released.
        for (unsigned k = 0; k < n_unmap; k++) {
            os_unmap(unmap[k].map, unmap[k].bytes);
            la_count_release(unmap[k].bytes);
        }
    }
    released += large_cache_purge(0);
    return released > 0;
}

/* ---- public API --------------------------------------------------------- */

// The _ts functions are the same code as the exported malloc family.
#define LA_ALIAS(target) __attribute__((alias(#target)))

void *mem_malloc(size_t size) { return seed_alloc(size, false); }

void mem_free(void *ptr)
{
    if (slab_of(ptr) != NULL) // a slot from the _ts family
        return la_free(ptr);
    if (guard_owns(ptr)) // a guarded block from the exported malloc
        return guard_free(ptr, NULL, "free");
    if (ptr != NULL)
        la_free_direct(la_validate(ptr, "free"), false, "free");
}

void *mem_calloc(size_t nmemb, size_t size)
{
    size_t req;
    if (__builtin_mul_overflow(nmemb, size, &req))
        return la_nomem();
    return seed_alloc(req, true);
}

void *mem_realloc(void *ptr, size_t size) { return realloc_impl(ptr, size, false); }

void *mem_malloc_ts(size_t size) LA_ALIAS(la_malloc);
void mem_free_ts(void *ptr) LA_ALIAS(la_free);
void *mem_calloc_ts(size_t nmemb, size_t size) LA_ALIAS(la_calloc);
void *mem_realloc_ts(void *ptr, size_t size) LA_ALIAS(la_realloc);
void *mem_aligned_alloc(size_t alignment, size_t size) LA_ALIAS(la_aligned);

size_t mem_usable_size(const void *ptr) { return tcache_usable_size(ptr, "malloc_usable_size"); }
