// SPDX-License-Identifier: MIT
/*
 * alloc.c: the mem_* entry points.  Validates what comes in (sizes, and the
 * header of every pointer handed back), picks the path (heap or large),
 * takes the heap lock for the _ts variants, keeps glibc's semantics (errno,
 * realloc(p, 0), malloc(0)) and counts what happened.
 *
 * The _ts variants and the exported family go through the thread cache
 * (tcache.h) first; mem_* without a suffix stay the direct single-threaded
 * path to heap 0, so their splits and coalesces show in the statistics.
 *
 * Counting rule: a realloc is one free plus one allocation, whether or not
 * the block moved, so num_allocations - num_frees is always the number of
 * live blocks and current_usage = total_allocated - total_freed.
 */
#include <errno.h>
#include <string.h>

#include "tcache.h"

#include "allocator.h"

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

// True for the pointer of a live heap block whose header passes every
// test of validate(), which is then not needed: the common case of a free
// or realloc past the slabs, inlined and without a report to prepare
// (issue 14: validate's call and frame were 60 instructions of a
// malloc(1 MiB) + free round).  Anything else (a large block, a block the
// profiler sampled, checking mode or Valgrind, a misuse, a free before
// the first malloc: no heap is set up) goes to validate(), which names it.
// *size_out and *hash_out: the block's size and its header's hash, for a
// caller that goes on to rewrite its check word (la_realloc).
LA_INLINE bool heap_block_sound(const void *p, size_t *size_out, uint32_t *hash_out)
{
    if ((uintptr_t)p % ALIGNMENT != 0 || LA_UNLIKELY(la.debug))
        return false;
    la_block_t *b = blk_from_payload(p);
    size_t head = blk_load_head(b), size = head & LA_SIZE_MASK;
    uint32_t hash = blk_hash(b, head, la.key);
    *size_out = size;
    *hash_out = hash;
    return blk_check(b) == la_check_word(hash, blk_req(b)) &&
           size - MIN_BLOCK_SIZE <= la_load_relaxed(&la.heap_block_max) - MIN_BLOCK_SIZE &&
           blk_in_use_sound(b, head, size);
}

// Every free and realloc passes here: a block the profiler sampled loses
// its sample and its mark before it is freed or resized.
static LA_NOINLINE la_block_t *validate_slow(const void *p, const char *func)
{
    bool sampled = false;
    la_block_t *b = validate_quiet(p, func, &sampled);
    if (LA_UNLIKELY(sampled))
        prof_forget(b);
    return b;
}

la_block_t *la_validate(const void *p, const char *func)
{
    size_t size;
    uint32_t hash;
    if (LA_LIKELY(heap_block_sound(p, &size, &hash)))
        return blk_from_payload(p);
    return validate_slow(p, func);
}

static la_block_t *validate(const void *p, const char *func, bool *sampled)
{
    // Slots have no header: every caller (la_validate's: free, realloc;
    // la_usable's) dispatched on slab_of() already, and a second page-map
    // lookup per big free was issue 14's "validated twice".
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

static size_t block_req(la_block_t *b) { return blk_is_mmapped(b) ? large_req(b) : blk_req(b); }

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

/* ---- the paths ---------------------------------------------------------- */

static void *fail_nomem(void)
{
    errno = ENOMEM;
    return NULL;
}

// A heap block of block_bytes for req bytes (aligned to `align` when above
// ALIGNMENT), counted as one allocation.  ts: the calling thread's heap,
// under its lock; otherwise heap 0 without one (the mem_* path).  A
// single-threaded process takes no heap lock here, as glibc's malloc takes
// no arena lock (SINGLE_THREAD_P): nobody else can hold it, and only this
// thread could create another, not from inside the allocator (issue 14:
// the locked instructions of malloc(1 MiB) + free in a loop).
LA_INLINE la_block_t *heap_block(size_t req, size_t block_bytes, size_t align, bool ts,
                              size_t *dirty_bytes)
{
    // la_tc->heap is tcache_heap() inlined (tcache.h declares la_tc): a
    // call on every heap allocation was a layer more (issue 14).
    la_heap_t *h = ts ? la_tc->heap : &la.heaps[0];
    bool lock = ts && !la_single_threaded();
    if (lock)
        lock_acquire(&h->lock);
    la_block_t *b = align > ALIGNMENT ? heap_alloc_aligned(h, block_bytes, align, 0, NULL)
                                      : heap_alloc(h, block_bytes, dirty_bytes, NULL);
    if (b != NULL) {
        blk_set_req(b, req);
        h->counters.nalloc++;
        h->counters.alloc_bytes += req;
    }
    if (lock)
        lock_release(&h->lock);
    return b;
}

// A request at or above the threshold served by a free block of the
// calling thread's heap, without growing it; NULL if none fits.
static la_block_t *heap_fit(size_t req, bool zero)
{
    la_heap_t *h = la_tc->heap; // tcache_heap(), inlined as in heap_block()
    size_t dirty = 0;
    bool lock = !la_single_threaded();
    if (lock)
        lock_acquire(&h->lock);
    la_block_t *b = heap_alloc_fit(h, blk_size_for(req + la.guard_bytes), zero ? &dirty : NULL);
    if (b != NULL) {
        blk_set_req(b, req);
        h->counters.nalloc++;
        h->counters.alloc_bytes += req;
    }
    if (lock)
        lock_release(&h->lock);
    if (b != NULL && zero)
        memset(blk_payload(b), 0, LA_MIN(dirty, req));
    return b;
}

// Heap or large allocation of req bytes in a block of at least `usable`.
// ts: take the heap lock and use the calling thread's heap; otherwise the
// single-threaded mem_* path on heap 0.
static void *alloc_impl(size_t req, size_t usable, bool ts, bool zero)
{
    la_ensure_init();
    if (LA_UNLIKELY(req > LA_MAX_REQUEST))
        return fail_nomem();
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
            b = heap_fit(req, zero);
        if (b == NULL) {
            bool zeroed;
            b = large_alloc(req, ALIGNMENT, &zeroed);
            if (b != NULL && zero && !zeroed) // a reused mapping; fresh ones are zero
                memset(blk_payload(b), 0, req);
        }
    } else {
        size_t dirty = 0;
        b = heap_block(req, blk_size_for(usable + la.guard_bytes), ALIGNMENT, ts,
                       zero ? &dirty : NULL);
        if (b != NULL && zero)
            memset(blk_payload(b), 0, LA_MIN(dirty, req));
    }
    if (b != NULL && LA_UNLIKELY(la.debug))
        debug_on_alloc(blk_payload(b), req, blk_usable(b), zero);
    debug_quiet_end();
    if (b == NULL)
        return fail_nomem();
    usage_add(req);
    if (LA_UNLIKELY(la.check_every != 0))
        debug_tick();
    return blk_payload(b);
}

// la_malloc_big() in a process with threads: under the heap's lock.
static LA_NOINLINE void *malloc_big_locked(la_heap_t *h, size_t req)
{
    lock_acquire(&h->lock);
    la_block_t *b = heap_alloc_big(h, LA_ALIGN_UP(req + LA_HEADER_BYTES, ALIGNMENT), req);
    lock_release(&h->lock);
    if (LA_UNLIKELY(b == NULL))
        return fail_nomem();
    usage_add_shared(req);
    return blk_payload(b);
}

void *la_malloc_big(size_t req)
{
    // The mmap threshold decides, and the slow paths keep checking mode,
    // Valgrind and the periodic walks; the caller made the cache current.
    if (LA_UNLIKELY(req >= la_mmap_threshold(true) || la.debug || la.check_every != 0))
        return alloc_impl(req, req, true, false);
    la_heap_t *h = la_tc->heap; // tcache_heap(), inlined as in heap_block()
    if (!la_single_threaded())
        return malloc_big_locked(h, req);
    // blk_size_for(req), knowing that req is above MIN_BLOCK_SIZE.
    la_block_t *b = heap_alloc_big(h, LA_ALIGN_UP(req + LA_HEADER_BYTES, ALIGNMENT), req);
    if (LA_UNLIKELY(b == NULL))
        return fail_nomem();
    usage_add_single(req);
    return blk_payload(b);
}

static void *malloc_impl(size_t req, bool ts, bool zero)
{
    return alloc_impl(req, req, ts, zero);
}

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
        release_block(b, block_req(b), true, e->ts);
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
    if (!debug_quarantine(b, block_req(b), blk_usable(b), ts, out, &n))
        return false;
    for (unsigned i = 0; i < n; i++)
        la_release_held(&out[i]);
    return true;
}

LA_INLINE void free_block(la_block_t *b, bool ts, const char *func)
{
    debug_quiet_begin();
    size_t req = block_req(b);
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
    return roomy && slack < la_mmap_threshold(true) ? la_alloc_direct(req, slack, false)
                                                    : la_malloc(req);
}

// Resizes without moving when the block's neighbourhood allows.
static la_block_t *resize_in_place(la_block_t *b, size_t req, bool ts)
{
    size_t old_req = block_req(b);
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
        return fail_nomem(); // the old slot stays intact
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
static void *realloc_slot(la_slab_t *s, void *p, size_t req)
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
        return fail_nomem(); // the old slot stays intact
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
static LA_NOINLINE void *realloc_block(void *p, la_block_t *b, size_t req, bool ts)
{
    if (req == 0) { // glibc: free and return NULL
        free_block(b, ts, "realloc");
        return NULL;
    }
    if (LA_UNLIKELY(req > LA_MAX_REQUEST))
        return fail_nomem(); // the old block stays intact
    size_t old_req = block_req(b);
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
                 : malloc_impl(req, false, false);
    if (q == NULL)
        return NULL; // errno is ENOMEM; the old block stays intact
    // Only the requested bytes in debug mode: the rest is canary or redzone.
    memcpy(q, p, LA_MIN(la.debug ? old_req : blk_usable(b), req));
    if (ts)
        la_free(p);
    else
        free_block(b, false, "realloc");
    return q;
}

static void *realloc_impl(void *p, size_t req, bool ts)
{
    if (p == NULL)
        return ts ? la_malloc(req) : malloc_impl(req, false, false);
    la_slab_t *s = slab_of(p);
    if (s != NULL) // a slot from the _ts family or the exported malloc
        return realloc_slot(s, p, req);
    if (LA_UNLIKELY(guard_owns(p))) // no header to validate (guard.c)
        return guard_realloc(p, req, NULL);
    return realloc_block(p, la_validate(p, "realloc"), req, ts);
}

static void *aligned_impl(size_t align, size_t req, bool ts)
{
    la_ensure_init();
    if (!LA_IS_POW2(align)) {
        errno = EINVAL;
        return NULL;
    }
    if (align <= ALIGNMENT) {
        // Slots of the 24-byte class are only 8-aligned: round up to a
        // class that is a multiple of 16.
        if (align > 8 && req <= LA_SLAB_MAX_BYTES)
            req = LA_ALIGN_UP(req, ALIGNMENT);
        return ts ? la_malloc(req) : malloc_impl(req, false, false);
    }
    if (LA_UNLIKELY(req > LA_MAX_REQUEST || align > LA_MAX_ALIGNMENT))
        return fail_nomem();
    size_t need = blk_size_for(req + la.guard_bytes);
    size_t threshold = la_mmap_threshold(ts);
    debug_quiet_begin();
    la_block_t *b;
    if (req >= threshold || need + align + MIN_BLOCK_SIZE >= threshold) {
        bool zeroed;
        b = large_alloc(req, align, &zeroed);
    } else {
        b = heap_block(req, need, align, ts, NULL);
    }
    if (b != NULL && LA_UNLIKELY(la.debug))
        debug_on_alloc(blk_payload(b), req, blk_usable(b), false);
    debug_quiet_end();
    if (b == NULL)
        return fail_nomem();
    usage_add(req);
    return blk_payload(b);
}

/* ---- entry points ------------------------------------------------------- */

void *la_alloc_direct(size_t req, size_t usable, bool zero)
{
    return alloc_impl(req, usable, true, zero);
}
// la_free_block() of a large block, or on a path that checks.
static LA_NOINLINE void free_block_checked(la_block_t *b) { free_block(b, true, "free"); }

// la_free_block() of a heap block in a process with threads: under the
// heap's lock, the usage with one atomic add.
static LA_NOINLINE void free_block_locked(la_heap_t *h, la_block_t *b)
{
    size_t req = blk_req(b);
    lock_acquire(&h->lock);
    h->counters.nfree++;
    h->counters.free_bytes += req;
    heap_free(h, b);
    lock_release(&h->lock);
    __atomic_sub_fetch(&la.usage, (int64_t)req, __ATOMIC_RELAXED);
}

void la_free_block(la_block_t *b)
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

void *la_malloc(size_t req) { return tcache_malloc(req); }
void la_free(void *p) { tcache_free(p); }
// The exported realloc.  Its common case past the slabs is inlined: a
// heap block whose header passes every test of validate() and whose size
// holds req with at most a third to spare (resize_in_place's rule) stays
// where it is, and only its req and check word change, with the hash the
// header test computed; its owner may write them without the heap lock.
// Issue 13: w_rrgrow's 460k such calls cost 177 instructions each through
// realloc_impl, la_validate and the count's call.
void *la_realloc(void *p, size_t req)
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
    if (LA_UNLIKELY(!heap_block_sound(p, &size, &hash)))
        return realloc_block(p, validate_slow(p, "realloc"), req, true);
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
void *la_aligned(size_t align, size_t req) { return aligned_impl(align, req, true); }

void *la_calloc(size_t nmemb, size_t size)
{
    size_t req;
    if (__builtin_mul_overflow(nmemb, size, &req))
        return fail_nomem();
    if (req <= LA_TC_MEDIUM_MAX_BYTES) {
        // Cached blocks are dirty, and these are cheap enough to clear.
        void *p = tcache_malloc(req);
        if (p != NULL)
            memset(p, 0, req);
        return p;
    }
    return malloc_impl(req, true, true);
}

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
    if (LA_LIKELY(heap_block_sound(p, &size, &hash)))
        return size - LA_HEADER_BYTES;
    bool sampled;
    la_block_t *b = validate_quiet(p, func, &sampled); // a sampled block stays sampled
    // In debug mode the slack is a canary or a redzone: not the program's.
    return LA_UNLIKELY(la.debug) ? block_req(b) : blk_usable(b);
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

void *mem_malloc(size_t size) { return malloc_impl(size, false, false); }

void mem_free(void *ptr)
{
    if (slab_of(ptr) != NULL) // a slot from the _ts family
        return la_free(ptr);
    if (guard_owns(ptr)) // a guarded block from the exported malloc
        return guard_free(ptr, NULL, "free");
    if (ptr != NULL)
        free_block(la_validate(ptr, "free"), false, "free");
}

void *mem_calloc(size_t nmemb, size_t size)
{
    size_t req;
    if (__builtin_mul_overflow(nmemb, size, &req))
        return fail_nomem();
    return malloc_impl(req, false, true);
}

void *mem_realloc(void *ptr, size_t size) { return realloc_impl(ptr, size, false); }

void *mem_malloc_ts(size_t size) LA_ALIAS(la_malloc);
void mem_free_ts(void *ptr) LA_ALIAS(la_free);
void *mem_calloc_ts(size_t nmemb, size_t size) LA_ALIAS(la_calloc);
void *mem_realloc_ts(void *ptr, size_t size) LA_ALIAS(la_realloc);
void *mem_aligned_alloc(size_t alignment, size_t size) LA_ALIAS(la_aligned);

size_t mem_usable_size(const void *ptr) { return tcache_usable_size(ptr, "malloc_usable_size"); }
