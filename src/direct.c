// SPDX-License-Identifier: MIT
/*
 * direct.c: the direct path, one heap or mapped block per request, below
 * the thread caches (docs/ARCHITECTURE.md, "Layers").  Validates every
 * pointer handed back (the header's keyed check word, its flags, the
 * right neighbour's boundary tag), picks the heap or a mapping for a
 * request, takes the heap lock where the caller's family needs it, runs
 * checking mode's hooks and counts the usage.
 *
 * Its callers say which family a request comes from by the heap they pass:
 * the exported family and the _ts functions pass the calling thread's heap
 * (tcache_heap(): its cache's), which the path locks unless the process is
 * single-threaded, with the dynamic mmap threshold; the un-suffixed mem_*
 * functions pass NULL, for heap 0 without a lock and the seed's threshold,
 * so that their splits and coalesces show in the statistics.  The thread
 * cache (tcache.c) comes here for what its bins do not serve; alloc.c's
 * entry points, realloc and aligned allocation build on these calls.
 */
#include <string.h>

#include "direct.h"

/* ---- pointer validation ------------------------------------------------- */

// Called when a header's check word fails: work out, slowly but without
// touching memory outside our regions, whether p was a block start that has
// been freed (its header now holds free-list links), one whose header was
// overwritten, or never one at all.
static LA_COLD LA_NORETURN void report_bad_header(const void *p, const char *func)
{
    la_block_t *b = blk_from_payload(p);
    la_region_t *r = heap_region_of(b);
    if (r == NULL) {
        size_t usable = large_tombstone(p);
        if (usable != 0)
            la_fatal(func, "double free of %p (large block of %zu bytes, already unmapped)", p,
                     usable);
        void *start = large_containing(p);
        if (start == p)
            la_fatal(func, "corrupted header at %p (a large block whose header was overwritten: "
                           "an underflow?)", p);
        if (start != NULL)
            la_fatal(func, "invalid pointer %p (inside the large block at %p, not its start)", p,
                     start);
        la_fatal(func, "invalid pointer %p (not allocated by liballocator)", p);
    }
    size_t head = la_load_relaxed(&b->head);
    size_t size = head & LA_SIZE_MASK;
    size_t room = (size_t)((char *)region_fence(r) - (char *)b);
    // The top keeps no footer (la_heap_t.top): it is known by address.
    if ((head & LA_FREE) && size >= MIN_BLOCK_SIZE && size <= room &&
        (b == la_load_relaxed(&r->heap->top) ||
         *(size_t *)((char *)b + size - sizeof(size_t)) == size))
        la_fatal(func, "double free of %p (block of %zu bytes)", p, size - LA_HEADER_BYTES);
    heap_report_overwritten(p, r, func);
    la_fatal(func, "invalid pointer %p (inside the heap, but no live block starts here: "
                   "a pointer into a block, or a header overwritten)", p);
}

// A block in checking mode's quarantine passed to free, realloc or
// malloc_usable_size: the program freed it already.
static LA_COLD LA_NORETURN void report_held(const void *p, const char *func)
{
    if (la_func_frees(func))
        la_fatal(func, "double free of %p (already freed; it waits in the quarantine)", p);
    la_fatal(func, "use after free: %p was freed already (it waits in the quarantine)", p);
}

// The header of every pointer passed in is checked before anything is
// written: misuse is reported with the function and address, then abort.
// *sampled: the block carries the heap profiler's mark (LA_CHECK_PROF).
static la_block_t *validate(const void *p, const char *func, bool *sampled);

LA_INLINE la_block_t *validate_quiet(const void *p, const char *func, bool *sampled)
{
    la_ensure_init(); // a free before any malloc: the key must be set
    debug_quiet_begin(); // it reads headers memcheck is told are not the program's
    la_block_t *b = validate(p, func, sampled);
    debug_quiet_end();
    return b;
}

// Every free and realloc passes here: a block the profiler sampled loses
// its sample and its mark before it is freed or resized.
LA_HOT_TEXT la_block_t *la_validate_slow(const void *p, const char *func)
{
    bool sampled = false;
    la_block_t *b = validate_quiet(p, func, &sampled);
    if (LA_UNLIKELY(sampled))
        prof_forget(b);
    return b;
}

LA_HOT_TEXT la_block_t *la_validate(const void *p, const char *func)
{
    size_t size;
    uint32_t hash;
    if (LA_LIKELY(la_block_sound(p, &size, &hash)))
        return blk_from_payload(p);
    return la_validate_slow(p, func);
}

static la_block_t *validate(const void *p, const char *func, bool *sampled)
{
    // Slots have no header: every caller (la_validate's: free, realloc;
    // la_usable_size_slow) dispatched on slab_of() already, and a second
    // page-map lookup per big free was issue 14's "validated twice".
    la_assert(slab_of(p) == NULL);
    if (LA_UNLIKELY((uintptr_t)p % ALIGNMENT != 0))
        la_fatal(func, "invalid pointer %p (not %d-byte aligned, so not from this allocator)", p,
                 ALIGNMENT);
    la_block_t *b = blk_from_payload(p);
    size_t head = la_load_relaxed(&b->head);
    uint32_t check = blk_check(b), req = blk_req(b), hash = blk_hash(b, head, la.key);
    if (LA_UNLIKELY(check != la_check_word(hash, req))) {
        if (check == (la_check_word(hash, req) ^ LA_CHECK_PROF))
            *sampled = true;
        else if (check == hash) // the cached value
            la_fatal(func, "double free of %p (block of %zu bytes, in a thread cache)", p,
                     blk_usable(b));
        else if (check == (la_check_plain(hash, req) ^ LA_CHECK_FREED))
            la_fatal(func, "double free of %p (already freed)", p);
        else if (check == (la_check_plain(hash, req) ^ LA_CHECK_QUARANTINE))
            report_held(p, func);
        else
            report_bad_header(p, func);
    }
    size_t size = head & LA_SIZE_MASK;
    unsigned heap_index = (unsigned)(head >> LA_HEAD_HEAP_SHIFT);
    if (LA_UNLIKELY(head & LA_FREE))
        la_fatal(func, "corrupted header at %p (a live header marked free)", p);
    if (head & LA_MMAPPED) {
        if (LA_UNLIKELY(size < LA_HEADER_BYTES || large_of(b)->map_bytes < size))
            la_fatal(func, "corrupted header at %p (large block of %zu bytes)", p, size);
        return b;
    }
    if (LA_UNLIKELY(heap_index >= __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE) ||
                    size < MIN_BLOCK_SIZE || size > la_load_relaxed(&la.heap_block_max)))
        la_fatal(func, "corrupted header at %p (size %zu, heap %u)", p, size, heap_index);
    // The boundary tag of the right neighbour must agree that we are live.
    if (LA_UNLIKELY(la_load_relaxed(&blk_next(b)->head) & LA_PREV_FREE))
        la_fatal(func, "corrupted header at %p (the next block says this one is free)", p);
    return b;
}

static void usage_add(size_t bytes) { stats_usage_publish((int64_t)bytes); }
static void usage_sub(size_t bytes) { stats_usage_publish(-(int64_t)bytes); }
// stats_usage_publish() inlined for the big-block paths (issue 14: two
// calls a malloc(1 MiB) + free round were 31 instructions): plain stores
// in a single-threaded process, else one atomic add, and a CAS only when
// the peak rises.
LA_INLINE void usage_add_single(size_t bytes)
{
    int64_t now = la_load_relaxed(&la.usage) + (int64_t)bytes;
    la_store_relaxed(&la.usage, now);
    if (now > 0 && (size_t)now > la_load_relaxed(&la.peak))
        la_store_relaxed(&la.peak, (size_t)now);
}
LA_INLINE void usage_add_shared(size_t bytes)
{
    int64_t now = __atomic_add_fetch(&la.usage, (int64_t)bytes, __ATOMIC_RELAXED);
    if (LA_UNLIKELY(now > 0 && (size_t)now > la_load_relaxed(&la.peak)))
        stats_raise_peak((size_t)now); // not stats_usage_publish(0): it returns at once
}

/* ---- allocation --------------------------------------------------------- */

// b (if not NULL), just taken from h under its lock, made a live block for
// req and counted as one allocation of h.
LA_INLINE void count_alloc(la_heap_t *h, la_block_t *b, size_t req)
{
    if (b != NULL) {
        blk_set_req(b, req);
        h->counters.nalloc++;
        h->counters.alloc_bytes += req;
    }
}

// A heap block of block_bytes for req bytes (aligned to `align` when above
// ALIGNMENT), counted as one allocation: from h under its lock, or (h
// NULL) from heap 0 without one (the mem_* path).  A single-threaded
// process takes no heap lock here, as glibc's malloc takes no arena lock
// (SINGLE_THREAD_P): nobody else can hold it, and only this thread could
// create another, not from inside the allocator (issue 14: the locked
// instructions of malloc(1 MiB) + free in a loop).
LA_INLINE la_block_t *heap_block(la_heap_t *h, size_t req, size_t block_bytes, size_t align,
                                 size_t *dirty_bytes)
{
    bool lock = h != NULL && !la_single_threaded();
    if (h == NULL)
        h = &la.heaps[0];
    if (lock)
        lock_acquire(&h->lock);
    la_block_t *b = align > ALIGNMENT ? heap_alloc_aligned(h, block_bytes, align, 0, NULL)
                                      : heap_alloc(h, block_bytes, dirty_bytes, NULL);
    count_alloc(h, b, req);
    if (lock)
        lock_release(&h->lock);
    return b;
}

// The end of an allocation on the direct path, b (or NULL) made: checking
// mode's hook, the quiet section the caller began closed, the usage
// counted and the periodic walk's tick; NULL with ENOMEM if b is.
LA_INLINE void *handed_out(la_block_t *b, size_t req, bool zero)
{
    if (b != NULL && LA_UNLIKELY(la.debug))
        debug_on_alloc(blk_payload(b), req, blk_usable(b), zero);
    debug_quiet_end();
    if (b == NULL)
        return la_nomem();
    usage_add(req);
    if (LA_UNLIKELY(la.check_every != 0))
        debug_tick();
    return blk_payload(b);
}

// A request at or above the threshold served by a free block of h (the
// calling thread's heap), without growing it; NULL if none fits.
static la_block_t *heap_fit(la_heap_t *h, size_t req, bool zero)
{
    size_t dirty = 0;
    bool lock = !la_single_threaded();
    if (lock)
        lock_acquire(&h->lock);
    la_block_t *b = heap_alloc_fit(h, blk_size_for(req + la.guard_bytes), zero ? &dirty : NULL);
    count_alloc(h, b, req);
    if (lock)
        lock_release(&h->lock);
    if (b != NULL && zero)
        memset(blk_payload(b), 0, LA_MIN(dirty, req));
    return b;
}

LA_HOT_TEXT void *la_alloc_direct(la_heap_t *h, size_t req, size_t usable, bool zero)
{
    bool ts = h != NULL; // the exported family's thresholds (la_mmap_threshold)
    la_ensure_init();
    if (LA_UNLIKELY(req > LA_MAX_REQUEST))
        return la_nomem();
    debug_quiet_begin();
    la_block_t *b;
    if (req >= la_mmap_threshold(ts)) {
        b = NULL;
        // A free block the heap already has serves first, as in glibc,
        // which maps only what its heap cannot hold without growing: a
        // new mapping beside resident free blocks that could hold it made
        // w_bufpool's peak (issue 14).  Up to the highest dynamic
        // threshold, as glibc's sizes above it are all mapped; not in
        // checking mode, whose large blocks are checked as mappings.
        if (ts && !la.debug && req <= LA_MMAP_THRESHOLD_MAX &&
            la_load_relaxed(&la.thresholds_dynamic))
            b = heap_fit(h, req, zero);
        if (b == NULL) {
            bool zeroed;
            b = large_alloc(req, ALIGNMENT, &zeroed);
            if (b != NULL && zero && !zeroed) // a reused mapping; fresh ones are zero
                memset(blk_payload(b), 0, req);
        }
    } else {
        size_t dirty = 0;
        b = heap_block(h, req, blk_size_for(usable + la.guard_bytes), ALIGNMENT,
                       zero ? &dirty : NULL);
        if (b != NULL && zero)
            memset(blk_payload(b), 0, LA_MIN(dirty, req));
    }
    return handed_out(b, req, zero);
}

// la_malloc_big() in a process with threads: under the heap's lock.
static LA_NOINLINE void *malloc_big_locked(la_heap_t *h, size_t req)
{
    lock_acquire(&h->lock);
    la_block_t *b = heap_alloc_big(h, LA_ALIGN_UP(req + LA_HEADER_BYTES, ALIGNMENT), req);
    lock_release(&h->lock);
    if (LA_UNLIKELY(b == NULL))
        return la_nomem();
    usage_add_shared(req);
    return blk_payload(b);
}

LA_HOT_TEXT void *la_malloc_big(la_heap_t *h, size_t req)
{
    // The mmap threshold decides, and the slow paths keep checking mode,
    // Valgrind and the periodic walks.
    if (LA_UNLIKELY(req >= la_mmap_threshold(true) || la.debug || la.check_every != 0))
        return la_alloc_direct(h, req, req, false);
    if (!la_single_threaded())
        return malloc_big_locked(h, req);
    // blk_size_for(req), knowing that req is above MIN_BLOCK_SIZE.
    la_block_t *b = heap_alloc_big(h, LA_ALIGN_UP(req + LA_HEADER_BYTES, ALIGNMENT), req);
    if (LA_UNLIKELY(b == NULL))
        return la_nomem();
    usage_add_single(req);
    return blk_payload(b);
}

LA_HOT_TEXT void *la_alloc_aligned_direct(la_heap_t *h, size_t align, size_t req)
{
    if (LA_UNLIKELY(req > LA_MAX_REQUEST || align > LA_MAX_ALIGNMENT))
        return la_nomem();
    size_t need = blk_size_for(req + la.guard_bytes);
    size_t threshold = la_mmap_threshold(h != NULL);
    debug_quiet_begin();
    la_block_t *b;
    // By its size, as a plain request goes, so that the threshold a free
    // raised sends the next such request to the heap.  By its size plus
    // the alignment (the seed's rule), a block mapped because of its
    // alignment never came back to the heap, and its free never cached it
    // either (mapped blocks below the threshold are not cached): each
    // posix_memalign(4096, 256 KiB) + free mapped and unmapped, 15 us,
    // glibc 9, tcmalloc 0.1 (tests/preload/test_preload.c,
    // test_aligned_reuse).  The alignment's lead goes back to the heap as a
    // free block; past the largest threshold it would be more than the
    // heap is meant to hold, and the block is mapped.
    if (req >= threshold || align > LA_MMAP_THRESHOLD_MAX) {
        bool zeroed;
        b = large_alloc(req, align, &zeroed);
    } else {
        b = heap_block(h, req, need, align, NULL);
    }
    return handed_out(b, req, false);
}

/* ---- freeing ------------------------------------------------------------ */

// Frees b for real.  lock: take the heap's lock (the _ts path, and every
// block leaving the quarantine) unless the process is single-threaded;
// adapt: the exported family's free, whose large frees move the mmap
// threshold.
LA_INLINE void release_block(la_block_t *b, size_t req, bool lock, bool adapt)
{
    if (blk_is_mmapped(b)) {
        size_t map_bytes = large_of(b)->map_bytes;
        // The exported family's thresholds follow its frees (glibc's
        // dynamic threshold); the mem_* path keeps the seed's.  Requests
        // below a raised threshold go to the heaps: cached mappings that
        // small would only hold pages until the decay.  So would this one
        // when the threshold is above it, raised now or before (issue 14:
        // w_bufpool's first buffers, freed after bigger ones had raised
        // it, waited in the cache while the heap grew).
        bool raised = adapt && la_adapt_thresholds(map_bytes);
        large_free(b, map_bytes > la_mmap_threshold(adapt));
        if (raised)
            large_cache_drop_below(la_load_relaxed(&la.dyn_mmap_threshold) + 1);
    } else {
        la_heap_t *h = &la.heaps[blk_heap_index(b)];
        lock = lock && !la_single_threaded();
        if (lock)
            lock_acquire(&h->lock);
        h->counters.nfree++;
        h->counters.free_bytes += req;
        heap_free(h, b);
        if (lock)
            lock_release(&h->lock);
    }
}

void la_release_held(const la_held_t *e)
{
    la_slab_t *s = e->slot ? slab_of(e->p) : NULL;
    if (s == NULL) {
        la_block_t *b = blk_from_payload(e->p);
        release_block(b, la_block_req(b), true, e->ts);
        return;
    }
    // A slot goes back to its slab, counted by its req, under the lock of
    // the heap that owns it.
    la_heap_t *h = s->heap;
    lock_acquire(&h->lock);
    h->counters.nfree++;
    h->counters.free_bytes += e->counted;
    slab_free(h, e->p, "free");
    lock_release(&h->lock);
}

// Checking mode: b, checked and poisoned, waits in the quarantine; the
// blocks it pushes out are freed now.  False if b is not held.
static LA_COLD bool quarantine_block(la_block_t *b, bool ts)
{
    la_held_t out[LA_QUARANTINE_EVICT_MAX];
    unsigned n;
    if (!debug_quarantine(b, la_block_req(b), blk_usable(b), ts, out, &n))
        return false;
    for (unsigned i = 0; i < n; i++)
        la_release_held(&out[i]);
    return true;
}

LA_HOT_TEXT void la_free_direct(la_block_t *b, bool ts, const char *func)
{
    debug_quiet_begin();
    size_t req = la_block_req(b);
    bool held = false;
    if (LA_UNLIKELY(la.debug)) {
        if (!blk_is_mmapped(b))
            debug_perturb_freed(blk_payload(b), blk_usable(b));
        debug_on_free(blk_payload(b), req, blk_usable(b), func);
        held = la.options.check && quarantine_block(b, ts);
    }
    if (!held)
        release_block(b, req, ts, ts);
    debug_quiet_end();
    usage_sub(req);
    if (LA_UNLIKELY(la.check_every != 0))
        debug_tick();
}

// la_free_block() of a large block, or on a path that checks.
LA_HOT_TEXT static LA_NOINLINE void free_block_checked(la_block_t *b)
{
    la_free_direct(b, true, "free");
}

// la_free_block() of a heap block in a process with threads: under the
// heap's lock, the usage with one atomic add.
LA_HOT_TEXT static LA_NOINLINE void free_block_locked(la_heap_t *h, la_block_t *b)
{
    size_t req = blk_req(b);
    lock_acquire(&h->lock);
    h->counters.nfree++;
    h->counters.free_bytes += req;
    heap_free(h, b);
    lock_release(&h->lock);
    __atomic_sub_fetch(&la.usage, (int64_t)req, __ATOMIC_RELAXED);
}

LA_HOT_TEXT void la_free_block(la_block_t *b)
{
    // A heap block outside checking mode, Valgrind and the periodic walks:
    // release_block() and the count, inlined, and in a single-threaded
    // process heap_free() by a jump (issue 14: release_block()'s frame
    // and tests).
    size_t head = blk_load_head(b);
    if (LA_UNLIKELY((head & LA_MMAPPED) || la.debug || la.check_every != 0))
        return free_block_checked(b);
    la_heap_t *h = &la.heaps[head >> LA_HEAD_HEAP_SHIFT];
    if (!la_single_threaded())
        return free_block_locked(h, b);
    size_t req = blk_req(b);
    h->counters.nfree++;
    h->counters.free_bytes += req;
    la_store_relaxed(&la.usage, la_load_relaxed(&la.usage) - (int64_t)req);
    heap_free(h, b);
}

/* ---- usable size -------------------------------------------------------- */

size_t la_usable_size_slow(const void *p, const char *func)
{
    if (p == NULL)
        return 0;
    la_slab_t *s = slab_of(p);
    if (s != NULL) {
        if (LA_UNLIKELY(la.debug)) // the slack is the canary's and the trailer's
            return debug_slot_req(s, p, func);
        // A live slot that tcache_usable_size's quick test doubted (a slab
        // with pages purged) passes; a misused one is named and aborts.
        slab_check(s, p, func);
        return s->size;
    }
    if (LA_UNLIKELY(guard_owns(p)))
        return guard_usable(p, func);
    // A live heap block whose header passes every test of validate()
    // (free's own inline test; false in checking mode and under Valgrind):
    // its size, with no call to validate (issue 13: w_ruby sizes every
    // grown object, 86 instructions a call through validate_quiet).
    size_t size;
    uint32_t hash;
    if (LA_LIKELY(la_block_sound(p, &size, &hash)))
        return size - LA_HEADER_BYTES;
    bool sampled;
    la_block_t *b = validate_quiet(p, func, &sampled); // a sampled block stays sampled
    // In debug mode the slack is a canary or a redzone: not the program's.
    return LA_UNLIKELY(la.debug) ? la_block_req(b) : blk_usable(b);
}
