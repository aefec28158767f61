// SPDX-License-Identifier: MIT
/*
 * heap.c: the heap object and the process state.  A heap carves blocks from
 * its regions: the brk heap (heap 0) grows its brk region in BRK_INCREMENT
 * steps (huge pages with ALLOCATOR_THP: brk_step) and falls back to mapped
 * regions when sbrk fails or someone else
 * moved the break; other heaps only map regions.  Every function here
 * except la_init_slow expects the caller to hold the heap's lock (or to be
 * the single thread of the mem_* calls).
 *
 * Giving memory back (heap_purge, paced by heap_tick): inner pages of big
 * free blocks (the tree's, and the top's: bins.c) are madvised away (their headers and footers stay valid, and
 * LA_PURGED marks them done), the brk heap's free top is returned with a
 * negative sbrk while the break is still ours (also by the free that grows
 * it past the trim threshold, as in glibc), and mem_trim also unmaps
 * mapped regions that are entirely free.
 *
 * Zero tracking for calloc: in the newest region of a heap, every byte in
 * [fresh, end - LA_TAIL_GUARD) is still as the kernel gave it (zero).
 * Writes of block headers and hand-outs push `fresh` up; older regions
 * give up the knowledge (fresh = end) when a newer one arrives.
 */
#include "internal.h"
#include <string.h> // memmove: heap_slide_down

la_state_t la;

_Static_assert(sizeof(la_region_t) % ALIGNMENT == 0, "blocks start aligned after a region");
_Static_assert(sizeof(la_large_t) % ALIGNMENT == 0, "large payloads stay aligned");
_Static_assert(sizeof(la_free_t) <= MIN_BLOCK_SIZE - sizeof(size_t), "links and footer fit");

// A region's bytes that are not blocks: its header and the fence.
#define LA_REGION_OVERHEAD (sizeof(la_region_t) + LA_HEADER_BYTES)
// The end of a region that may be written without passing `fresh`: the
// fence and the footer of the last block.
#define LA_TAIL_GUARD (LA_HEADER_BYTES + sizeof(size_t))

LA_INLINE void dirty_span(la_block_t *b, char **lo, char **hi);
LA_INLINE void note_dirty(la_block_t *b, char *lo, char *hi);
static size_t purge_block(la_block_t *b);
static size_t advise_interior(la_block_t *b, char *a, char *z);

/* ---- initialisation ----------------------------------------------------- */

static void heap_setup(la_heap_t *h, unsigned index, bool is_brk)
{
    h->index = index;
    h->is_brk = is_brk;
    // The decay counts from now: a new heap has nothing old to give back
    // (from 0, its first clock check purged at once).
    h->purged_ms = os_now_ms();
    h->trim_slack = BRK_INCREMENT;
}

LA_HOT_TEXT void la_init_slow(void)
{
    lock_acquire(&la.init_lock);
    if (!la.ready) {
        la.page_bytes = os_page_bytes();
        // Odd, so that the multiply in blk_hash loses no bit of its input.
        la.key = os_random64() | 1;
        options_read(&la.options);
        la.mmap_threshold = la.dyn_mmap_threshold = MMAP_THRESHOLD;
        la.heap_block_max = MMAP_THRESHOLD + 2 * MIN_BLOCK_SIZE;
        la_set_mmap_threshold(la.options.mmap_bytes);
        if (la.options.mmap_max == 0) // glibc.malloc.mmap_max or MALLOC_MMAP_MAX_
            la_set_mmap_allowed(false);
        la.trim_threshold = la.options.trim_bytes;
        // As glibc: the thresholds follow the program's frees unless it
        // (or the environment) set either of them.
        la.thresholds_dynamic = !la.options.thresholds_fixed;
        la.decay_ms = la.options.decay_ms;
        la.thp_bytes = la.options.thp ? os_thp_bytes() : 0;
        debug_init();
        // Checking mode and Valgrind keep the slabs, so that they test
        // the layout of production (issue 13): their slots carry a front
        // canary or redzone, the canary or redzone after the request, and
        // a trailer (debug.c).
        la.slabs_on = la.options.slab;
        la.slot_key = os_random64() | 1;
        la.word_key = os_random64();
        heap_setup(&la.heaps[0], 0, true);
        la.num_heaps = 1;
        unsigned target = la.options.heaps ? la.options.heaps : os_cpu_count();
        la.heap_target = LA_MAX(1u, LA_MIN(target, (unsigned)LA_MAX_HEAPS));
        heap_cap_target(la.options.arena_max);
        __atomic_store_n(&la.ready, 1, __ATOMIC_RELEASE);
    }
    lock_release(&la.init_lock);
}

// Blocks made under a higher threshold stay valid: the bound on live heap
// block sizes only ever grows (an atomic maximum: threads freeing large
// blocks raise it concurrently).  A live heap block is below the threshold
// plus a tail too small to split off.
static void raise_heap_block_max(size_t threshold)
{
    size_t bound = threshold + 2 * MIN_BLOCK_SIZE;
    size_t old = la_load_relaxed(&la.heap_block_max);
    while (bound > old && !__atomic_compare_exchange_n(&la.heap_block_max, &old, bound, true,
                                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

bool la_set_mmap_threshold(size_t bytes)
{
    if (bytes > LA_MMAP_THRESHOLD_MAX)
        return false;
    if (bytes < MIN_BLOCK_SIZE)
        bytes = MIN_BLOCK_SIZE;
    if (la_load_relaxed(&la.mmap_off)) {
        la_store_relaxed(&la.mmap_threshold_saved, bytes);
        return true;
    }
    raise_heap_block_max(bytes);
    la_store_relaxed(&la.mmap_threshold, bytes);
    la_store_relaxed(&la.dyn_mmap_threshold, bytes);
    return true;
}

void la_set_mmap_allowed(bool allowed)
{
    if (allowed == !la_load_relaxed(&la.mmap_off))
        return;
    if (!allowed) {
        size_t saved = la_load_relaxed(&la.mmap_threshold);
        la_set_mmap_threshold(LA_MMAP_THRESHOLD_MAX);
        la_store_relaxed(&la.mmap_threshold_saved, saved);
        la_store_relaxed(&la.mmap_off, true);
    } else {
        la_store_relaxed(&la.mmap_off, false);
        la_set_mmap_threshold(la_load_relaxed(&la.mmap_threshold_saved));
    }
}

LA_HOT_TEXT bool la_adapt_thresholds(size_t freed_bytes)
{
    if (!la_load_relaxed(&la.thresholds_dynamic) || freed_bytes > LA_MMAP_THRESHOLD_MAX ||
        freed_bytes <= la_load_relaxed(&la.dyn_mmap_threshold))
        return false;
    raise_heap_block_max(freed_bytes);
    la_store_relaxed(&la.dyn_mmap_threshold, freed_bytes);
    la_store_relaxed(&la.dyn_trim_threshold, 2 * freed_bytes);
    return true;
}

void heap_cap_target(size_t most)
{
    if (la.options.heaps != 0 || most == 0)
        return;
    unsigned target = (unsigned)LA_MIN((size_t)os_cpu_count(), most);
    target = LA_MAX(1u, LA_MIN(target, (unsigned)LA_MAX_HEAPS));
    __atomic_store_n(&la.heap_target, target, __ATOMIC_RELAXED);
}

LA_HOT_TEXT la_heap_t *heap_ensure(unsigned index)
{
    if (index >= __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE)) {
        lock_acquire(&la.heaps_lock);
        for (unsigned i = la.num_heaps; i <= index; i++)
            heap_setup(&la.heaps[i], i, false);
        if (index >= la.num_heaps)
            __atomic_store_n(&la.num_heaps, index + 1, __ATOMIC_RELEASE);
        lock_release(&la.heaps_lock);
    }
    return &la.heaps[index];
}

la_heap_t *heap_get(unsigned index)
{
    la_assert(index < la.num_heaps);
    return &la.heaps[index];
}

/* ---- regions ------------------------------------------------------------ */

// The fence's check word is no live block's: when the region grows in
// place the old fence becomes the inside of a free block, and a free() of
// the old break must be refused, not cached (issue 12).
LA_HOT_TEXT void heap_write_fence(la_heap_t *h, la_region_t *r, size_t prev_free)
{
    la_block_t *fence = region_fence(r);
    blk_store_head(fence, blk_head(0, prev_free, h->index));
    fence->req = 0;
    blk_stamp(fence, LA_CHECK_FENCE);
}

LA_HOT_TEXT void heap_note_written(la_heap_t *h, char *upto)
{
    la_region_t *r = h->regions;
    if (r != NULL && upto > r->fresh && upto <= r->end && upto > (char *)r)
        r->fresh = upto;
}

// Turns `bytes` at `start` into a region whose blocks are one free block.
LA_HOT_TEXT static void region_add(la_heap_t *h, void *start, size_t bytes, la_region_kind_t kind)
{
    la_region_t *r = start;
    debug_new_region(start, bytes);
    bins_retire_top(h); // the top ends the newest region only
    if (h->regions != NULL)
        h->regions->fresh = h->regions->end; // only the newest region tracks zeros
    r->next = h->regions;
    r->heap = h;
    r->end = (char *)start + bytes;
    r->bytes = bytes;
    r->fresh = (char *)region_first(r);
    r->kind = kind;
    h->regions = r;
    h->region_bytes += bytes;
    background_note_growth(h->region_bytes);
    if (kind == LA_REGION_BRK)
        h->brk_region = r;
    // No fence: the one free block becomes the top, which keeps none
    // (la_heap_t.top; blk_make_free writes it if the block is listed).
    la_block_t *first = region_first(r);
    blk_make_free(h, first, (size_t)((char *)region_fence(r) - (char *)first));
    // Fresh from the kernel: nothing but its header is resident, and no
    // purge may advise it before a block of it is used (issue 14).
    note_dirty(first, (char *)first, (char *)first);
}

// Extends the brk region by `inc` bytes that sbrk returned right at its end:
// the old fence becomes the header of the new span, merged with a free
// last block.  Growth is not a user free, so no coalesce is counted.
static void region_extend(la_heap_t *h, la_region_t *r, size_t inc)
{
    char *old_end = r->end;
    debug_new_region(old_end, inc);
    la_block_t *span = region_fence(r);
    size_t span_bytes = inc;
    la_block_t *last = heap_last_free(h, r); // before r->end moves
    r->end = old_end + inc;
    r->bytes += inc;
    h->region_bytes += inc;
    background_note_growth(h->region_bytes);
    // In the newest region the span becomes the top, which keeps no fence
    // (la_heap_t.top): writing it put a page nothing else touched in each
    // 64 KiB step (issue 13: w_largefree at K = 10,000, 2,079 such pages,
    // 8 MiB of its 50.8 MB peak).  An older region (sbrk after a mapped
    // fallback) lists its span, and keeps its fence.
    if (r == h->regions) { // the old fence and footer are written bytes now
        heap_note_written(h, old_end + sizeof(size_t));
    } else {
        heap_write_fence(h, r, 0);
        r->fresh = r->end;
    }
    // What may be resident: the old fence's page, and what the last block's
    // purge left of it; the new memory is fresh (issue 14: marking all of
    // it dirty had each growth advise the old top again).
    char *lo = old_end - LA_TAIL_GUARD, *hi = old_end + sizeof(size_t);
    if (last != NULL) {
        char *llo, *lhi;
        dirty_span(last, &llo, &lhi);
        // One interval: with pages given back between the two, the old
        // fence's page is left out (written, so resident until the top is
        // carved, which is what this growth is for).
        if (lhi > llo && lhi + la.page_bytes <= lo) {
            lo = llo;
            hi = lhi;
        } else if (lhi > llo) {
            lo = llo;
        }
        bins_remove(h, last, "malloc");
        span_bytes += blk_size(last);
        span = last;
    }
    blk_make_free(h, span, span_bytes);
    note_dirty(span, lo, hi);
}

typedef enum { GROW_FAILED, GROW_IN_PLACE, GROW_NEW_REGION } grow_t;

// The brk heap's growth step: BRK_INCREMENT, or a huge page with
// ALLOCATOR_THP.  Its region then starts on a huge page too and ends on
// one: the kernel backs a range with a huge page at its first fault only
// if the whole range is in the mapping, and each growth writes the
// region's fence at its end, which in the middle of a range made that
// range's first fault a small page (w_shuffle: 2 MiB of 35 were huge).
static size_t brk_step(void) { return la.thp_bytes ? la.thp_bytes : BRK_INCREMENT; }

// The brk heap grows again within the decay period after a free trimmed
// it: let its top keep twice that much from now on (LA_TRIM_ADAPT_MAX).
static void adapt_trim_slack(la_heap_t *h)
{
    size_t last = h->trim_last_bytes;
    if (last == 0 || last > LA_TRIM_ADAPT_MAX || !la_load_relaxed(&la.thresholds_dynamic))
        return;
    h->trim_last_bytes = 0;
    if (os_now_ms() - h->trim_last_ms < la.decay_ms)
        h->trim_slack = LA_MIN(LA_MAX(h->trim_slack, 2 * last), (size_t)LA_TRIM_ADAPT_MAX);
}

LA_HOT_TEXT static grow_t grow_brk(la_heap_t *h, size_t need)
{
    la_region_t *r = h->brk_region;
    size_t step = brk_step();
    size_t full = LA_ALIGN_UP(need + LA_REGION_OVERHEAD + ALIGNMENT, step);
    size_t inc = full;
    // Growing in place merges with a free block at the top: ask only for
    // what it lacks, as glibc extends its top chunk.  Asking for all of
    // `need` left the old top free beside the new block, resident, each
    // time (issue 14: 482 MiB peak against glibc's 440 in w_bufpool).
    // That peak is now the heap's size, as glibc's: w_bufpool's heap grows
    // to 439 MiB for its 147th and 148th buffers (23-24 MB, which none of
    // 56 MiB of free blocks fits; its live bytes peak at 369.6 MiB later),
    // and as its free blocks are reused and freed again they are all
    // resident.  Purging the free blocks of 1 MiB and more at each such
    // growth left the peak where it was (450.7-450.9 MB): 35 buffers later
    // they were resident again.  Of the fits that a simulation of its
    // requests tried, best fit, the tree's, needs the least heap (435 MiB;
    // first fit by address 456, worst fit 510).
    if (r != NULL && (char *)os_brk_current() == r->end) {
        la_block_t *last = heap_last_free(h, r);
        if (last != NULL) {
            size_t top = blk_size(last);
            if (top < need + LA_GROW_KEEP_BYTES)
                inc = LA_ALIGN_UP(need + LA_GROW_KEEP_BYTES - top + ALIGNMENT, step);
        }
    }
    // Another library's sbrk of a size that is not a multiple of 16 leaves
    // the break unaligned.  Ask for the padding to realign it too, so that
    // the new region ends exactly at the break: otherwise every later
    // growth starts a region of its own and no trim ever finds the break
    // at its region's end again (issue 12).  Our own growths keep it
    // aligned, so pad is 0 but after a foreign sbrk.
    //
    // A new region starts LA_SLAB_BYTES-aligned (the pad below it is
    // address space only, never touched): its fence then moves in steps
    // that end where a slab starts.  From the break's own start (page 7
    // of a chunk, say) every growth left its fence, and so a touched
    // page, in the middle of the chunk a slab took next: 3 resident pages
    // per slab of a small program where 2 do (w_pairs' [heap]: 132 -> 92
    // KiB resident; 52 KiB since a slab's header is in its own chunk).
    char *cur = os_brk_current();
    uintptr_t align = r == NULL || cur != r->end ? LA_MAX(step, (size_t)LA_SLAB_BYTES) : ALIGNMENT;
    size_t pad = (size_t)(-(uintptr_t)cur) & (align - 1);
    char *old = os_sbrk(inc + pad);
    if (old == NULL) {
        h->brk_failed = true; // exhausted or forbidden: map from now on
        return GROW_FAILED;
    }
    if (la.thp_bytes != 0)
        os_advise_huge(old, inc + pad);
    adapt_trim_slack(h);
    if (r != NULL && old == r->end) { // aligned, so pad was 0 unless the break raced
        region_extend(h, r, (inc + pad) & ~(size_t)(ALIGNMENT - 1));
        return GROW_IN_PLACE;
    }
    // First growth, or another library moved the break: the memory between
    // our region and `old` is not ours, so start a new region at `old`
    // (aligned up: it ends at the new break unless the break moved again
    // between our two calls).
    char *start = (char *)LA_ALIGN_UP((uintptr_t)old, old == cur ? align : ALIGNMENT);
    size_t bytes = (size_t)(old + inc + pad - start) & ~(size_t)(ALIGNMENT - 1);
    region_add(h, start, bytes, LA_REGION_BRK);
    // The break moved between the look and the sbrk: the piece asked for
    // is a region of its own, too small; grow that one.
    if (inc < full)
        return grow_brk(h, need) == GROW_FAILED ? GROW_FAILED : GROW_NEW_REGION;
    return GROW_NEW_REGION;
}

static grow_t grow_mapped(la_heap_t *h, size_t need)
{
    size_t bytes = LA_ALIGN_UP(need + LA_GROW_KEEP_BYTES + LA_REGION_OVERHEAD, la.page_bytes);
    if (bytes < LA_REGION_BYTES)
        bytes = LA_REGION_BYTES;
    void *p = large_map_or_purge(bytes);
    if (p == NULL)
        return GROW_FAILED;
    region_add(h, p, bytes, LA_REGION_MAPPED);
    return GROW_NEW_REGION;
}

// Adds at least `need` bytes of free block to the heap.
static grow_t heap_grow(la_heap_t *h, size_t need)
{
    if (h->is_brk && !h->brk_failed) {
        grow_t g = grow_brk(h, need);
        if (g != GROW_FAILED)
            return g;
    }
    return grow_mapped(h, need);
}

// Before the top is cut for `need` bytes with a rest below the tree's
// class (or taken whole): that rest would be listed, with the fence that
// the top did not keep written after it (la_heap_t.top), on the heap's
// last page, which nothing else touches (issue 13: w_largefree's tcache
// batches emptied the top once per 64 KiB step, and K = 10,000 kept 1,292
// such pages resident, glibc 643).  As glibc extends its top chunk when it
// lacks room, the brk heap's top grows in place first, while the break is
// still at its end: its start does not move, and the block cut there is
// the same.  True if it grew.
LA_HOT_TEXT static LA_NOINLINE bool grow_short_top(la_heap_t *h, size_t need)
{
    la_region_t *r = h->brk_region;
    if (!h->is_brk || h->brk_failed || r == NULL || r != h->regions ||
        (char *)os_brk_current() != r->end)
        return false;
    return grow_brk(h, need) == GROW_IN_PLACE;
}

// Whether cutting `need` bytes from a top of `size` bytes leaves no rest
// in the tree's class (so the top would go away).
LA_INLINE bool top_runs_short(size_t size, size_t need)
{
    return size < need || !bins_in_tree(size - need);
}

/* ---- blocks handed back by other threads -------------------------------- */

void heap_push_remote(la_heap_t *h, void *first, void *last)
{
    void *old = __atomic_load_n(&h->remote, __ATOMIC_RELAXED);
    do
        la_link_store(last, old);
    while (!__atomic_compare_exchange_n(&h->remote, &old, first, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
}

LA_HOT_TEXT void *heap_take_remote(la_heap_t *h)
{
    if (__atomic_load_n(&h->remote, __ATOMIC_RELAXED) == NULL)
        return NULL; // the common case costs no locked instruction
    return __atomic_exchange_n(&h->remote, NULL, __ATOMIC_ACQUIRE);
}

LA_HOT_TEXT void heap_free_chain(la_heap_t *h, void *chain)
{
    while (chain != NULL) {
        void *next = la_link_next(chain, "free");
        // They waited in a cache or on a remote list, where an overflow of
        // the block before may have reached their headers.
        if (LA_UNLIKELY(heap_validate_cached(chain, "free") != h->index))
            la_fatal("free", "corrupted header at %p (a block of heap %u handed back to heap %u)",
                     chain, blk_heap_index(blk_from_payload(chain)), h->index);
        heap_free(h, blk_from_payload(chain));
        chain = next;
    }
}

// Frees what other threads handed back into h; true if there was any.
// Every allocation from the heap does this first: a request then reuses
// those blocks, resident and warm, rather than cutting the top or free
// space whose pages a purge gave back.  Taken back only when nothing else
// fitted, or at the decay's tick, they waited while a producer's heap cut
// fresh top for every message its consumer had freed: w_pipeline's peak
// held 1.2 MiB of them.  An empty list costs one relaxed load
// (heap_take_remote).
static bool drain_remote(la_heap_t *h)
{
    void *chain = heap_take_remote(h);
    if (chain == NULL)
        return false;
    heap_free_chain(h, chain);
    return true;
}

/* ---- allocation --------------------------------------------------------- */

// Payload bytes of b, counted from its start, that may not be zero.
static size_t dirty_payload(la_heap_t *h, la_block_t *b)
{
    la_region_t *r = h->regions;
    size_t usable = blk_usable(b);
    char *payload = blk_payload(b);
    if ((char *)b < (char *)r || (char *)b >= r->end ||
        (char *)b + blk_size(b) > r->end - LA_TAIL_GUARD || r->fresh >= payload + usable)
        return usable;
    return r->fresh > payload ? (size_t)(r->fresh - payload) : 0;
}

// Marks a block taken off a free list as live and gives back its tail.
/* ---- what a purge has done ---------------------------------------------- */

// A free block's span that may still hold resident pages [*lo, *hi): all
// of it, or what its last purge left (an empty span if nothing).  A
// purged block is done once until it is used again (issue 14: merging a
// freed block into a purged neighbour, or carving from one, used to clear
// the mark, and each pass madvised the same pages again: 317,771 pages
// advised in 15,214 calls for 15,394 distinct pages in w_fragment 0.3
// with ALLOCATOR_DECAY_MS=0).
LA_INLINE void dirty_span(la_block_t *b, char **lo, char **hi)
{
    *lo = (char *)b;
    *hi = (char *)b + blk_size(b);
    if (blk_load_head(b) & LA_PURGED) {
        la_tnode_t *t = (la_tnode_t *)b;
        *hi = *lo + t->dirty_hi;
        *lo += t->dirty_lo;
    }
}

// Records that only [lo, hi) of the free block b (just made free, so not
// marked) may be resident; nothing to record unless that is less than the
// whole block.  Only blocks in the tree can be purged, and carry the span.
LA_INLINE void note_dirty(la_block_t *b, char *lo, char *hi)
{
    char *start = (char *)b, *end = start + blk_size(b);
    lo = LA_MAX(lo, start);
    hi = LA_MIN(hi, end);
    if ((lo == start && hi == end) || !bins_in_tree(blk_size(b)))
        return;
    la_tnode_t *t = (la_tnode_t *)b;
    if (hi <= lo)
        lo = hi = start; // nothing resident
    t->dirty_lo = (size_t)(lo - start);
    t->dirty_hi = (size_t)(hi - start);
    blk_store_head(b, blk_load_head(b) | LA_PURGED);
}

// [*lo, *hi) is set to what may be resident of b, for the caller's
// remainders.
LA_HOT_TEXT static void take_block_span(la_heap_t *h, la_block_t *b, size_t need, char **span_lo,
                                        char **span_hi)
{
    size_t size = blk_size(b);
    char *lo, *hi;
    dirty_span(b, &lo, &hi); // before the header is rewritten
    *span_lo = lo;
    *span_hi = hi;
    blk_set_live(b, size, 0, h->index); // a free block's left neighbour is live
    if (size - need >= MIN_BLOCK_SIZE) {
        blk_split(h, b, need);
        // The remainder keeps what the purge did to its part.
        la_block_t *rest = blk_next(b);
        if (blk_is_free(rest))
            note_dirty(rest, lo, hi);
    } else {
        blk_mark_used(h, b);
    }
    heap_note_written(h, (char *)b + blk_size(b));
}

static void take_block(la_heap_t *h, la_block_t *b, size_t need)
{
    char *lo, *hi;
    take_block_span(h, b, need, &lo, &hi);
}

// A free block whose tree node was moved into place (tree_move), or the
// top, takes its new size: blk_make_free without the list insert, and
// without the right neighbour's PREV_FREE, which the block's old self set
// already.  retag_top writes no footer: the top keeps none (la_heap_t.top).
LA_INLINE void retag_top(la_heap_t *h, la_block_t *b, size_t size)
{
    blk_store_head(b, blk_head(size, LA_FREE, h->index));
    heap_note_written(h, (char *)b + sizeof(la_free_t));
}
LA_INLINE void retag_free(la_heap_t *h, la_block_t *b, size_t size)
{
    retag_top(h, b, size);
    *(size_t *)((char *)b + size - sizeof(size_t)) = size;
}

// Makes the first `need` bytes of free block b a live block in place (the
// caller then retags the rest); its dirty payload bytes to *dirty_bytes
// if asked, and its purge span, read before the header is rewritten, to
// *lo, *hi.
LA_INLINE void take_front(la_heap_t *h, la_block_t *b, size_t need, size_t *dirty_bytes, char **lo,
                          char **hi)
{
    if (dirty_bytes != NULL)
        *dirty_bytes = dirty_payload(h, b);
    dirty_span(b, lo, hi);
    // As blk_set_live, inlined: a free block's left neighbour is live.
    blk_store_head(b, blk_head(need, 0, h->index));
    blk_set_req(b, 0);
}

// The top carved at its start when nothing listed fits `need`, the rest
// staying the top: a few stores, as glibc cuts from its top chunk (issue
// 14: malloc(1 MiB) + free moved the top's tree node twice a round).  NULL
// when the top is missing or too small to leave a block behind.
LA_INLINE la_block_t *carve_top(la_heap_t *h, size_t need, size_t *dirty_bytes, char **span_hi)
{
    la_block_t *b = h->top;
    if (b == NULL)
        return NULL;
    if (LA_UNLIKELY(top_runs_short(blk_size(b), need)) && grow_short_top(h, need))
        b = h->top; // the same start, grown
    if (blk_size(b) < need + MIN_BLOCK_SIZE)
        return NULL;
    la_block_t *rest = (la_block_t *)((char *)b + need);
    size_t rest_bytes = blk_size(b) - need;
    char *lo, *hi;
    take_front(h, b, need, dirty_bytes, &lo, &hi);
    if (span_hi != NULL)
        *span_hi = hi;
    // The header written there marks b's bytes written too
    // (heap_note_written).  A rest too small for the tree is listed, and
    // the top is no more (bins.c): a 16 MiB carve from a top grown for it
    // leaves one, and blk_make_free writes the footer and the fence that
    // the top did not keep.
    if (LA_LIKELY(bins_in_tree(rest_bytes))) {
        retag_top(h, rest, rest_bytes);
        h->top = rest;
    } else {
        h->top = NULL;
        blk_make_free(h, rest, rest_bytes);
    }
    h->counters.splits++;
    note_dirty(rest, lo, hi); // the rest keeps what the purge did to its part
    return b;
}

// The best fit for `need` of the tree and the top, carved where it stands:
// the top, or a tree block whose rest keeps its place in the tree (a big
// hole cut again and again).  NULL when neither is the case: bins_find
// then does it.
LA_INLINE la_block_t *carve_found(la_heap_t *h, la_tnode_t *t, size_t need, size_t *dirty_bytes,
                                  char **span_hi)
{
    if (bins_top_fits_better(h, (la_block_t *)t, need))
        return carve_top(h, need, dirty_bytes, span_hi);
    if (t == NULL)
        return NULL;
    la_block_t *b = (la_block_t *)t, *rest = (la_block_t *)((char *)b + need);
    size_t rest_bytes = blk_size(b) - need;
    // The move writes only the new node and its neighbours' links: b's
    // header and purge span are read after it, before b is rewritten.
    if (!bins_in_tree(rest_bytes) ||
        !tree_rekey(&h->tree, t, (la_tnode_t *)rest, rest_bytes, "malloc"))
        return NULL;
    char *lo, *hi;
    take_front(h, b, need, dirty_bytes, &lo, &hi);
    if (span_hi != NULL)
        *span_hi = hi;
    retag_free(h, rest, rest_bytes);
    h->counters.splits++;
    note_dirty(rest, lo, hi); // the remainder keeps what the purge did to its part
    heap_note_written(h, (char *)b + need);
    return b;
}

// carve_found() with the tree's best fit for `need`, if need is the
// tree's class; NULL otherwise.
LA_INLINE la_block_t *carve_in_place(la_heap_t *h, size_t need, size_t *dirty_bytes,
                                     char **span_hi)
{
    if (!bins_in_tree(need))
        return NULL;
    return carve_found(h, tree_lower_bound(h->tree, need, "malloc"), need, dirty_bytes, span_hi);
}

LA_HOT_TEXT la_block_t *heap_alloc_fit(la_heap_t *h, size_t need, size_t *dirty_bytes)
{
    drain_remote(h);
    la_block_t *b = carve_in_place(h, need, dirty_bytes, NULL);
    if (b != NULL) {
        raise_heap_block_max(need);
        heap_tick(h);
        return b;
    }
    b = bins_find(h, need);
    if (b == NULL)
        return NULL;
    // It may be bigger than the bound on live heap block sizes that the
    // threshold set: the bound follows before the block is handed out.
    raise_heap_block_max(need);
    if (dirty_bytes != NULL)
        *dirty_bytes = dirty_payload(h, b);
    take_block(h, b, need);
    heap_tick(h);
    return b;
}

// A free block of at least `need` bytes: from the lists and the tree,
// else after taking back what other threads freed into the heap, else
// after growing it; NULL when the heap cannot grow.
LA_HOT_TEXT static la_block_t *find_or_grow(la_heap_t *h, size_t need)
{
    la_block_t *b = bins_find(h, need);
    if (LA_UNLIKELY(b == NULL) && drain_remote(h))
        b = bins_find(h, need);
    if (LA_UNLIKELY(b == NULL)) {
        if (heap_grow(h, need) == GROW_FAILED)
            return NULL;
        b = bins_find(h, need);
        la_assert(b != NULL);
    }
    return b;
}

// Of block b, just cut from the front of a free block whose purge span
// ended at hi, the pages that may be resident end here: its header's page
// and what the purge left (heap_alloc's resident_end).  All of b when the
// next block's header may share its last page, or when b took the free
// block's end (`whole`), where a purge keeps the footer's page.
LA_INLINE char *resident_end_of(la_block_t *b, char *hi, bool whole)
{
    char *end = (char *)b + blk_size(b);
    if (whole || (uintptr_t)end % la.page_bytes != 0)
        return end;
    return LA_MIN(LA_MAX(hi, (char *)b), end);
}

LA_HOT_TEXT la_block_t *heap_alloc(la_heap_t *h, size_t need, size_t *dirty_bytes,
                                   char **resident_end)
{
    drain_remote(h);
    char *lo, *hi;
    la_block_t *b = carve_in_place(h, need, dirty_bytes, &hi);
    if (b != NULL) {
        if (resident_end != NULL)
            *resident_end = resident_end_of(b, hi, false); // a rest follows it
        heap_tick(h);
        return b;
    }
    b = find_or_grow(h, need);
    if (LA_UNLIKELY(b == NULL))
        return NULL;
    if (dirty_bytes != NULL)
        *dirty_bytes = dirty_payload(h, b);
    size_t size = blk_size(b);
    take_block_span(h, b, need, &lo, &hi);
    if (resident_end != NULL)
        *resident_end = resident_end_of(b, hi, blk_size(b) == size); // not split: all of it
    heap_tick(h);
    return b;
}

// The purge span of the block cut `cut` bytes into the purged free block
// `from` (that is, what of from's span lies past the cut), written into
// `to`'s node; returns to's head flags: LA_PURGED, or 0 when all of it may
// be resident (as note_dirty).
LA_INLINE size_t clip_purged(const la_tnode_t *from, la_tnode_t *to, size_t cut, size_t to_bytes)
{
    size_t lo = from->dirty_lo > cut ? from->dirty_lo - cut : 0;
    size_t hi = from->dirty_hi > cut ? from->dirty_hi - cut : 0;
    if (hi <= lo)
        lo = hi = 0; // nothing resident
    else if (lo == 0 && hi == to_bytes)
        return 0;
    to->dirty_lo = lo;
    to->dirty_hi = hi;
    return LA_PURGED;
}

// heap_alloc_big() when the top is not the best fit or too small: the
// tree's best fit t (or NULL) carved in place, else taken off whole (t or
// the top, as bins_find would take them: carve_found changed nothing when
// it declined, and t is still the best fit) and split, else growth.
// bins_find searched the tree again for t here: w_fragment's 32-64 KiB
// blocks mostly leave a rest below the tree's class, which carve_found
// declines, and 15,079 of 15,845 such allocations walked the tree twice.
// A block whose rest would be small is taken whole (LA_BIG_WHOLE_*).
LA_HOT_TEXT static LA_NOINLINE la_block_t *alloc_big_slow(la_heap_t *h, la_tnode_t *t, size_t need,
                                                          size_t req)
{
    la_block_t *b = carve_found(h, t, need, NULL, NULL);
    if (b == NULL) {
        b = bins_take_best(h, t, need);
        if (b == NULL)
            b = find_or_grow(h, need);
        if (LA_UNLIKELY(b == NULL))
            return NULL;
        size_t size = blk_size(b);
        if (size - need < LA_MIN(need / LA_BIG_WHOLE_DIVISOR, (size_t)LA_BIG_WHOLE_MAX_BYTES) &&
            size <= la_load_relaxed(&la.heap_block_max))
            need = size;
        take_block(h, b, need);
    }
    blk_set_req(b, req);
    h->counters.nalloc++;
    h->counters.alloc_bytes += req;
    heap_tick(h);
    return b;
}

// heap_tick() on a path that returns b: by a jump, so that the path
// keeps no frame for the clock's rare call.
static LA_NOINLINE la_block_t *tick_then(la_heap_t *h, la_block_t *b)
{
    heap_tick_clock(h);
    return b;
}

// The start of the top, `head` its head word, made a live block of `need`
// bytes for req, the rest staying the top: its header, its footer and the
// top pointer, as glibc cuts its top chunk (issue 14).  A purged top
// passes its span on to the rest (fresh memory counts as purged: the usual
// case).  b's header is written once, with its req and check word
// (heap_alloc's callers set them again: a second hash).  The caller
// checked that the rest stays in the tree's class.
LA_INLINE la_block_t *carve_top_big(la_heap_t *h, la_block_t *b, size_t head, size_t need,
                                    size_t req)
{
    size_t rest_bytes = (head & LA_SIZE_MASK) - need;
    la_block_t *rest = (la_block_t *)((char *)b + need);
    size_t flags = LA_FREE;
    if (head & LA_PURGED)
        flags |= clip_purged((la_tnode_t *)b, (la_tnode_t *)rest, need, rest_bytes);
    size_t live = blk_head(need, 0, h->index);
    blk_store_head(b, live);
    b->req = (uint32_t)req;
    la_assert(req > LA_TC_MAX_BYTES); // so its check word is the LA_CHECK_BIG variant
    b->check = la_check_plain(blk_hash(b, live, la.key), req) ^ LA_CHECK_BIG;
    blk_store_head(rest, blk_head(rest_bytes, flags, h->index));
    // No footer, nor fence: the top keeps neither (la_heap_t.top).  The
    // node's bytes count as written (its purge span may be there):
    // heap_note_written(), but the top lies in the newest region, well
    // before its end.
    la_region_t *r = h->regions;
    char *written = (char *)rest + sizeof(la_tnode_t);
    if (written > r->fresh)
        r->fresh = written;
    h->top = rest;
    h->counters.splits++;
    h->counters.nalloc++;
    h->counters.alloc_bytes += req;
    if (LA_UNLIKELY(heap_tick_due(h)))
        return tick_then(h, b);
    return b;
}

// Whether the top, whose head word is `head`, keeps a rest in the tree's
// class after `need` bytes, and serves rather than the tree's best fit t
// (bins_top_fits_better: only when the tree has none).
LA_INLINE bool top_serves_big(size_t head, size_t need, const la_tnode_t *t)
{
    size_t size = head & LA_SIZE_MASK;
    return t == NULL && size > need && bins_in_tree(size - need);
}

// heap_alloc_big() when the tree has blocks: its best fit may beat the top.
static LA_NOINLINE la_block_t *alloc_big_tree(la_heap_t *h, size_t need, size_t req)
{
    la_tnode_t *t = tree_lower_bound(h->tree, need, "malloc");
    la_block_t *b = h->top;
    size_t head = b != NULL ? blk_load_head(b) : 0;
    if (top_serves_big(head, need, t))
        return carve_top_big(h, b, head, need, req);
    return alloc_big_slow(h, t, need, req);
}

LA_HOT_TEXT la_block_t *heap_alloc_big(la_heap_t *h, size_t need, size_t req)
{
    drain_remote(h);
    la_assert(bins_in_tree(need));
    if (h->tree != NULL)
        return alloc_big_tree(h, need, req);
    la_block_t *b = h->top;
    size_t head = b != NULL ? blk_load_head(b) : 0;
    if (LA_UNLIKELY(!top_serves_big(head, need, NULL)))
        return alloc_big_slow(h, NULL, need, req);
    return carve_top_big(h, b, head, need, req);
}

size_t heap_alloc_batch(la_heap_t *h, size_t block, size_t want, la_block_t **out)
{
    drain_remote(h);
    size_t n = 0;
    while (n < want) {
        // The last (often the only) block of the tree's class: its best
        // fit carved where it stands, the rest keeping its tree node
        // (carve_found), else taken off and split, with one search.  The
        // general path below took it off the tree, split it and put the
        // rest back: w_largefree 0.25 1 1000's 1-block refills of 8-18 KiB
        // cost 82.4 M instructions in all, 74.1 M so.
        if (want - n == 1 && bins_in_tree(block)) {
            la_tnode_t *t = tree_lower_bound(h->tree, block, "malloc");
            la_block_t *b = carve_found(h, t, block, NULL, NULL);
            if (b == NULL && (b = bins_take_best(h, t, block)) != NULL)
                take_block(h, b, block);
            if (b != NULL) {
                out[n++] = b;
                break;
            }
        }
        // Existing free blocks first, however small: asking for one run of
        // `want` blocks would mostly grow the heap and strand the fragments
        // that flushed blocks leave behind (sqlite's heap grew 40%).
        // A run the top serves, but that would leave it below the
        // tree's class, grows it first (grow_short_top).
        la_block_t *top = h->top;
        if (top != NULL && bins_in_tree(block) &&
            top_runs_short(blk_size(top), (want - n) * block) &&
            tree_lower_bound(h->tree, block, "malloc") == NULL)
            grow_short_top(h, (want - n) * block);
        la_block_t *b = bins_find(h, block);
        if (b == NULL) {
            if (n > 0)
                break;
            if (!drain_remote(h) && heap_grow(h, block * want) == GROW_FAILED)
                break;
            continue;
        }
        size_t fit = LA_MIN(want - n, blk_size(b) / block);
        take_block(h, b, fit * block);
        // Cut the run into `fit` live blocks; the last keeps any tail too
        // small to split off.
        size_t total = blk_size(b);
        for (size_t i = 0; i < fit; i++) {
            la_block_t *piece = (la_block_t *)((char *)b + i * block);
            size_t bytes = i + 1 == fit ? total - i * block : block;
            if (i == 0)
                blk_set_size(piece, bytes);
            else
                blk_set_live(piece, bytes, 0, h->index);
            out[n++] = piece;
        }
        h->counters.splits += fit - 1;
    }
    heap_tick(h);
    return n;
}

LA_HOT_TEXT la_block_t *heap_alloc_aligned(la_heap_t *h, size_t need, size_t align, size_t skew,
                                           char **resident_end)
{
    drain_remote(h);
    // Room to move the start to an aligned payload (less skew) with a
    // leading free block of at least MIN_BLOCK_SIZE before it.
    size_t want = need + align + MIN_BLOCK_SIZE;
    la_block_t *b = find_or_grow(h, want);
    if (LA_UNLIKELY(b == NULL))
        return NULL;
    // The pieces cut off before and after keep what a purge did to them
    // (issue 14: a 64 KiB slab aligned in purged memory made its lead and
    // tail whole dirty, and the next purge advised them again).
    char *lo, *hi;
    take_block_span(h, b, want, &lo, &hi);
    heap_tick(h);
    uintptr_t payload = (uintptr_t)blk_payload(b);
    if ((payload - skew) % align != 0) {
        uintptr_t aligned = LA_ALIGN_UP(payload - skew + MIN_BLOCK_SIZE, align) + skew;
        size_t lead = aligned - payload;
        size_t size = blk_size(b);
        la_block_t *ab = (la_block_t *)((char *)b + lead);
        blk_set_live(ab, size - lead, LA_PREV_FREE, h->index);
        // The leading piece's left neighbour is live: free it as is.
        blk_make_free(h, b, lead);
        note_dirty(b, lo, hi);
        h->counters.splits++;
        b = ab;
    }
    bool split = blk_size(b) - need >= MIN_BLOCK_SIZE;
    if (split) {
        blk_split(h, b, need); // merges with the remainder after it
        note_dirty(blk_next(b), lo, hi);
    }
    if (resident_end != NULL)
        *resident_end = resident_end_of(b, hi, !split); // not split: maybe the free block's end
    return b;
}

// heap_free() of a block whose right neighbour is the top and whose left
// one is live: the top starts at b now, with a few stores and no list or
// tree work (issue 14).  A purged top's span is kept, shifted, if it
// joins b's (all of b is dirty); false, with nothing written, when pages
// given back lie between the two (heap_free() purges the top's part).
LA_INLINE bool free_into_top(la_heap_t *h, la_block_t *b, size_t size, la_block_t *top)
{
    size_t top_head = blk_load_head(top);
    size_t merged = size + (top_head & LA_SIZE_MASK);
    size_t dirty_hi = merged;
    if (LA_UNLIKELY(top_head & LA_PURGED)) {
        const la_tnode_t *t = (const la_tnode_t *)top;
        if (t->dirty_hi == t->dirty_lo)
            dirty_hi = size + sizeof(la_tnode_t); // b's pages and the top's node
        else if (t->dirty_lo < la.page_bytes)
            dirty_hi = size + t->dirty_hi;
        else
            return false;
    }
    blk_stamp(top, LA_CHECK_FREED);
    h->counters.coalesces++;
    h->top = b;
    size_t flags = LA_FREE;
    if (dirty_hi != merged) {
        la_tnode_t *t = (la_tnode_t *)b;
        t->dirty_lo = 0;
        t->dirty_hi = dirty_hi;
        flags |= LA_PURGED;
    }
    blk_store_head(b, blk_head(merged, flags, h->index));
    // No footer: the top keeps none (la_heap_t.top).  Nothing to note
    // written: b's node ends below the top's header or over it, which was
    // noted when it was written.
    return true;
}

// Joins [a, z) to the interval [*lo, *hi) unless it lies apart, a page or
// more away: false then.  An empty interval becomes [a, z).
LA_INLINE bool span_join(char **lo, char **hi, char *a, char *z)
{
    if (*lo == *hi) {
        *lo = a;
        *hi = z;
        return true;
    }
    if (a >= *hi + la.page_bytes || z + la.page_bytes <= *lo)
        return false;
    *lo = LA_MIN(*lo, a);
    *hi = LA_MAX(*hi, z);
    return true;
}

// The pieces of a block that lie apart from its interval of resident
// pages (free_slow), at most three.
typedef struct {
    char *span[3][2];
    unsigned n;
} la_apart_t;

// [a, z) lies apart from the interval: joined to a piece near it, or kept.
static LA_NOINLINE void apart_add(la_apart_t *apart, char *a, char *z)
{
    for (unsigned i = 0; i < apart->n; i++)
        if (span_join(&apart->span[i][0], &apart->span[i][1], a, z))
            return;
    la_assert(apart->n < sizeof apart->span / sizeof apart->span[0]);
    apart->span[apart->n][0] = a;
    apart->span[apart->n++][1] = z;
}

// Free neighbour x of a block being freed, whose resident part [a, z) lies
// apart from the block's: purged now if it is of the tree's class, else
// (8 KiB or less, all of it resident) a piece apart, given back after the
// merge.  purge_block writes a node's purge marks, which lie past the end
// of a block under 56 bytes: a released slab with pages purged beside a
// free 48-byte block had its own header zeroed by them, which broke the
// heap's chain of blocks (w_pinned with ALLOCATOR_DECAY_MS=0 aborted in 1
// run of 10 with "free list corrupted").
static void purge_apart(la_block_t *x, la_apart_t *apart, char *a, char *z)
{
    if (bins_in_tree(blk_size(x)))
        purge_block(x);
    else
        apart_add(apart, a, z);
}

// A node's or footer's bytes [a, z), which stay resident: into the
// interval [*lo, *hi), or apart.  Inlined, so that the interval stays in
// registers (free_slow took 45 instructions more a call on w_memret with
// it on the stack).
LA_INLINE void resident_add(char **lo, char **hi, la_apart_t *apart, char *a, char *z)
{
    if (LA_UNLIKELY(!span_join(lo, hi, a, z)))
        apart_add(apart, a, z);
}

// heap_free() but into the top: list or tree work, merges, purge spans.
// Of b's pages, only its first and those of [lo, hi) may be resident.
LA_HOT_TEXT static LA_NOINLINE void free_slow(la_heap_t *h, la_block_t *b, la_block_t *next,
                                              char *lo, char *hi)
{
    // Purged neighbours that b merges with add only what their purge left.
    // One interval holds the merged block's resident part: when a
    // neighbour's is apart from b's, with pages its purge gave back in
    // between, that neighbour's part is purged now, or the next purge
    // would advise the pages between again without any use of them
    // (issue 14: 106k of 197k pages advised more than once in w_memret's
    // frees with ALLOCATOR_DECAY_MS=0, where nothing is reused).
    char *nlo, *nhi;
    // A purge leaves a block's node and footer resident (purge_block);
    // inside the merged block they are pages like any other, so next's
    // node, prev's footer and b's first page, which border b, join its
    // interval (left out, each merge of purged blocks left a page resident
    // that no purge reached again until the memory was used: after 1 GiB
    // freed with decay passes among the frees, malloc_trim(0) left 774
    // such pages).  One that lies apart from the interval (b was a slab
    // whose pages were purged: heap_free_purged) is given back once the
    // merge is written, or the next purge would advise the pages between
    // again (issue 14: a released slab's purged pages were 14k of the 17k
    // pages that w_memret's decay-0 run advised twice).
    la_apart_t apart; // not zeroed: span[] is written before it is read
    apart.n = 0;
    if (blk_prev_is_free(b))
        resident_add(&lo, &hi, &apart, (char *)b, (char *)b + LA_HEADER_BYTES);
    if (blk_is_free(next)) {
        dirty_span(next, &nlo, &nhi);
        if (nhi > nlo && !span_join(&lo, &hi, nlo, nhi))
            purge_apart(next, &apart, nlo, nhi);
        resident_add(&lo, &hi, &apart, (char *)next, (char *)next + sizeof(la_tnode_t));
    }
    if (blk_prev_is_free(b)) {
        la_block_t *prev = blk_prev(b);
        dirty_span(prev, &nlo, &nhi);
        if (nhi > nlo && !span_join(&lo, &hi, nlo, nhi))
            purge_apart(prev, &apart, nlo, nhi);
        resident_add(&lo, &hi, &apart, (char *)b - sizeof(size_t), (char *)b);
    }
    // Merged into the top (free_into_top() declined: its part was purged
    // just now), the top starts at b: no list or tree work.  Merged into a free block of
    // the tree that keeps its place there: its node moves to b's start
    // instead of leaving the tree and coming back.  b is big enough that
    // the node written at its start stays clear of next's header, which is
    // stamped after the move read its links.
    size_t merged = blk_size(b) + blk_size(next);
    if (next == h->top && !blk_prev_is_free(b)) {
        blk_stamp(next, LA_CHECK_FREED);
        h->counters.coalesces++;
        h->top = b;
        retag_top(h, b, merged);
    } else if (blk_is_free(next) && !blk_prev_is_free(b) &&
               blk_size(b) >= 2 * sizeof(la_tnode_t) && bins_in_tree(blk_size(next)) &&
               tree_rekey(&h->tree, (la_tnode_t *)next, (la_tnode_t *)b, merged, "free")) {
        blk_stamp(next, LA_CHECK_FREED);
        h->counters.coalesces++;
        retag_free(h, b, merged);
    } else {
        b = blk_coalesce(h, b);
        blk_make_free(h, b, blk_size(b));
    }
    if (lo == hi)
        lo = hi = (char *)b; // nothing resident but the node and footer pages
    note_dirty(b, lo, hi);
    for (unsigned i = 0; i < apart.n; i++)
        advise_interior(b, apart.span[i][0], apart.span[i][1]);
    heap_tick(h);
}

static size_t trim_brk(la_heap_t *h, bool keep_threshold);

// Whether a free that left the top at top_bytes gives it back now: beyond
// the trim threshold, as glibc's free does (issue 13: w_realloc's 32 MiB
// array grew on top of 13 MiB of freed strings that waited for the
// decay), but only until the thresholds have adapted to the program's
// frees of big blocks (la_adapt_thresholds).  A program that cycles big
// buffers through the brk heap (w_bufpool: twenty of 5-25 MB) then leaves
// its top to the decay: trimmed at every free beyond the adapted
// threshold, as glibc trims it, its system time went 0.45 -> 0.73 s (glibc
// 0.63) and its run became slower than glibc's.
// Beyond it by h's trim slack: BRK_INCREMENT, more where trims are
// followed by growth (LA_TRIM_ADAPT_MAX).
LA_INLINE bool trim_due(const la_heap_t *h, size_t top_bytes)
{
    return la_load_relaxed(&la.dyn_trim_threshold) == 0 &&
           top_bytes > la_load_relaxed(&la.trim_threshold) + h->trim_slack; // THP's bigger step: trim_brk
}

// The free's trim, noted for grow_brk (adapt_trim_slack).
LA_HOT_TEXT static LA_NOINLINE void trim_at_free(la_heap_t *h)
{
    size_t released = trim_brk(h, false);
    if (released != 0) {
        h->trim_last_bytes = released;
        h->trim_last_ms = os_now_ms();
    }
}

LA_HOT_TEXT static LA_NOINLINE void trim_after_free(la_heap_t *h)
{
    if (h->top != NULL && trim_due(h, blk_size(h->top)))
        trim_at_free(h);
}

LA_HOT_TEXT void heap_free(la_heap_t *h, la_block_t *b)
{
    // blk_load_head(), spelled out so that a breakpoint here stops in
    // heap.c (docs/DEBUGGING.md shows one).
    size_t head = la_load_relaxed(&b->head), size = head & LA_SIZE_MASK;
    la_block_t *next = (la_block_t *)((char *)b + size);
    if (LA_UNLIKELY(next != h->top || (head & LA_PREV_FREE) || !free_into_top(h, b, size, next))) {
        free_slow(h, b, next, (char *)b, (char *)next);
        return trim_after_free(h);
    }
    if (LA_UNLIKELY(trim_due(h, blk_size(h->top))))
        trim_at_free(h);
    heap_tick(h);
}

void heap_free_purged(la_heap_t *h, la_block_t *b, char *lo, char *hi)
{
    free_slow(h, b, blk_next(b), lo, hi);
    trim_after_free(h);
}

/* ---- giving memory back ------------------------------------------------- */

LA_HOT_TEXT void la_count_release(size_t bytes)
{
    __atomic_fetch_add(&la.num_purges, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&la.released_bytes, bytes, __ATOMIC_RELAXED);
}

// madvises the whole pages of free block b around [a, z), but the page
// with its header and tree node and the page with its footer; returns the
// bytes given back.
static size_t advise_interior(la_block_t *b, char *a, char *z)
{
    size_t page = la.page_bytes;
    uintptr_t lo = LA_MAX((uintptr_t)a & ~(uintptr_t)(page - 1),
                          LA_ALIGN_UP((uintptr_t)b + sizeof(la_tnode_t), page));
    uintptr_t hi = LA_MIN(LA_ALIGN_UP((uintptr_t)z, page),
                          ((uintptr_t)b + blk_size(b) - sizeof(size_t)) & ~(uintptr_t)(page - 1));
    if (hi <= lo)
        return 0;
    os_advise_free((void *)lo, hi - lo);
    la_count_release(hi - lo);
    return hi - lo;
}

// madvises the whole pages strictly inside a free block that a previous
// purge left (all of them if none did), and marks it purged.
static size_t purge_block(la_block_t *b)
{
    la_assert(bins_in_tree(blk_size(b))); // its node holds the purge marks
    char *dlo, *dhi;
    dirty_span(b, &dlo, &dhi);
    la_tnode_t *t = (la_tnode_t *)b;
    t->dirty_lo = t->dirty_hi = 0;
    blk_store_head(b, blk_load_head(b) | LA_PURGED);
    return advise_interior(b, dlo, dhi);
}

// Gives back the brk heap's free top beyond the trim threshold, keeping
// one growth step (brk_step) so that the next growth is not immediate, and
// with keep_threshold the threshold's bytes too; with ALLOCATOR_THP the
// break stays on a huge page boundary.
static size_t trim_brk(la_heap_t *h, bool keep_threshold)
{
    la_region_t *r = h->brk_region;
    if (!h->is_brk || h->brk_failed || r == NULL)
        return 0;
    la_block_t *last = heap_last_free(h, r);
    if (last == NULL)
        return 0;
    size_t size = blk_size(last);
    // mallopt may change either; the dynamic one rises only from frees in
    // the exported family (it stays 0 for the mem_* path).
    size_t threshold = LA_MAX(la_load_relaxed(&la.trim_threshold),
                              la_load_relaxed(&la.dyn_trim_threshold));
    size_t step = brk_step();
    if (size <= threshold + step)
        return 0;
    // Only while the break is ours: lowering it past memory another
    // library took from sbrk would give that memory away.
    if ((char *)os_brk_current() != r->end)
        return 0;
    size_t keep = step + (keep_threshold ? threshold : 0);
    size_t release = (size - keep) & ~((la.thp_bytes ? step : la.page_bytes) - 1);
    if (release == 0)
        return 0;
    char *lo, *hi;
    dirty_span(last, &lo, &hi); // the part kept keeps what its purge did
    bins_remove(h, last, "free");
    r->end -= release;
    r->bytes -= release;
    h->region_bytes -= release;
    if (r->fresh > r->end)
        r->fresh = r->end;
    heap_write_fence(h, r, LA_PREV_FREE);
    blk_make_free(h, last, size - release);
    note_dirty(last, lo, hi);
    os_sbrk_release(release);
    la_count_release(release);
    return release;
}

// Unlinks mapped regions that hold nothing but one free block, for the
// caller to unmap; returns their bytes.
static size_t take_empty_regions(la_heap_t *h, la_map_t *unmap, unsigned *n, unsigned cap)
{
    size_t bytes = 0;
    la_region_t **link = &h->regions;
    while (*link != NULL && *n < cap) {
        la_region_t *r = *link;
        la_block_t *first = region_first(r);
        if (r->kind == LA_REGION_MAPPED && blk_is_free(first) && blk_next(first) == region_fence(r)) {
            bins_remove(h, first, "malloc_trim");
            *link = r->next;
            h->region_bytes -= r->bytes;
            unmap[(*n)++] = (la_map_t){(char *)r, r->bytes, 0, NULL};
            bytes += r->bytes;
            continue;
        }
        link = &r->next;
    }
    return bytes;
}

size_t heap_purge(la_heap_t *h, la_map_t *unmap, unsigned *n, unsigned cap)
{
    h->purge_walked = 0; // the slabs' purge adds the slabs it walks
    // The decay's pass keeps the trim threshold's worth of the top, whose
    // pages it purges below: what a big request finds in the heap then
    // depends little on when the pass ran.  Cut back to one step, the top
    // sent big requests that it held in other runs to new mappings beside
    // the heap's free blocks (issue 14: w_bufpool's peak RSS 460 MB in
    // some runs, 450.6 in the rest; glibc 450.5, whose top free trims).
    // malloc_trim (unmap) gives back all but the step.
    size_t released = trim_brk(h, unmap == NULL);
    // The free pages inside its live blocks: slabs (la.purge_above).
    size_t (*above)(la_heap_t *, bool) = __atomic_load_n(&la.purge_above, __ATOMIC_RELAXED);
    if (above != NULL)
        released += above(h, unmap != NULL);
    if (unmap != NULL)
        released += take_empty_regions(h, unmap, n, cap);
    // Blocks of at least LA_PURGE_MIN_BYTES are all in the tree, or the top.
    for (la_tnode_t *t = tree_lower_bound(h->tree, LA_PURGE_MIN_BYTES, "malloc_trim"); t != NULL;
         t = tree_next(t)) {
        h->purge_walked++;
        if (!(blk_load_head((la_block_t *)t) & LA_PURGED) || t->dirty_hi != t->dirty_lo)
            released += purge_block((la_block_t *)t);
    }
    la_tnode_t *top = (la_tnode_t *)h->top;
    if (top != NULL && blk_size(h->top) >= LA_PURGE_MIN_BYTES &&
        (!(blk_load_head(h->top) & LA_PURGED) || top->dirty_hi != top->dirty_lo))
        released += purge_block(h->top);
    h->purged_ms = os_now_ms();
    h->purge_ops = h->ops;
    return released;
}

// Drains a heap's remote list and purges it if the decay passed since its
// last purge and, when `paced` (a heap operation's tick, not the
// background thread's pass), the operations since have paid for the last
// purge's walk (LA_PURGE_WALK_PER_OP): a purge walks every slab and every
// free block big enough to purge, and with ALLOCATOR_DECAY_MS=0 every
// eighth operation purged, so a program that emptied slabs one by one
// walked them all each time (w_lastfree 1 1 16, 27,351 frees of the last
// block of a slab: 38.2 us each, quadratic; 3.8 us paced, the madvise of
// the slab).  The caller holds h's lock.
static size_t tick_locked(la_heap_t *h, uint64_t now, bool paced)
{
    drain_remote(h);
    if (now - h->purged_ms < la.decay_ms)
        return 0;
    if (paced && h->ops - h->purge_ops < h->purge_walked / LA_PURGE_WALK_PER_OP)
        return 0;
    return heap_purge(h, NULL, NULL, 0);
}

// The pass over every heap: their own threads may be idle or gone, with
// memory freed into them, or handed back to them by other threads, that
// nobody would give back (issue 14).  `held` is a heap whose lock the
// caller holds (or NULL); the others are only tried when `wait` is false,
// so a heap operation never waits for a second heap.
LA_HOT_TEXT static size_t purge_pass(la_heap_t *held, uint64_t now, bool wait)
{
    size_t released = 0;
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++) {
        la_heap_t *h = &la.heaps[i];
        if (h == held) {
            released += tick_locked(h, now, !wait);
        } else if (wait || lock_try(&h->lock)) {
            if (wait)
                lock_acquire(&h->lock);
            released += tick_locked(h, now, !wait);
            lock_release(&h->lock);
        }
    }
    // Cached large mappings that waited out the decay go as well (lock
    // order: heaps, then large_lock).
    released += large_cache_purge(la.decay_ms);
    // Thread caches count as free memory too: their threads empty them at
    // their next slow path once memory is being given back.
    if (released > 0)
        __atomic_fetch_add(&la.tc_epoch, 1, __ATOMIC_RELAXED);
    return released;
}

// Claims the next pass if one is due: true for exactly one caller per
// decay period.
static bool pass_due(uint64_t now)
{
    uint64_t last = __atomic_load_n(&la.passed_ms, __ATOMIC_RELAXED);
    return now - last >= la.decay_ms &&
           __atomic_compare_exchange_n(&la.passed_ms, &last, now, false, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED);
}

LA_HOT_TEXT void heap_tick_clock(la_heap_t *h)
{
    uint64_t now = os_now_ms();
    if (pass_due(now))
        purge_pass(h, now, false);
    else if (now - h->purged_ms >= la.decay_ms && tick_locked(h, now, true) > 0)
        __atomic_fetch_add(&la.tc_epoch, 1, __ATOMIC_RELAXED);
}

size_t heap_purge_slabs_idle(void)
{
    size_t (*above)(la_heap_t *, bool) = __atomic_load_n(&la.purge_above, __ATOMIC_RELAXED);
    size_t released = 0;
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; above != NULL && i < n; i++) {
        la_heap_t *h = &la.heaps[i];
        if (lock_try(&h->lock)) {
            released += above(h, false);
            lock_release(&h->lock);
        }
    }
    // No epoch bump (purge_pass makes one per decay period): at every
    // wake-up it would empty busy threads' caches twice a period.
    return released;
}

size_t heap_purge_all_due(void)
{
    uint64_t now = os_now_ms();
    if (!pass_due(now))
        return 0;
    return purge_pass(NULL, now, true);
}

/* ---- resizing ----------------------------------------------------------- */

// True when b (with perhaps a free block after it) ends the brk region that
// sbrk can still extend.
static bool can_extend_after(la_heap_t *h, la_block_t *b)
{
    if (!h->is_brk || h->brk_failed || h->brk_region == NULL)
        return false;
    la_block_t *next = blk_next(b);
    if (blk_is_free(next))
        next = blk_next(next);
    return (char *)next == h->brk_region->end - LA_HEADER_BYTES;
}

// Where what may be resident ends in a block that ends at `end` once it
// merges with `next`, if next is a free block: at the end of next's
// resident part (one interval holds a block's: the pages between count),
// or at `end` if next is live or its purge left nothing.  For the splits
// of a live block whose remainder merges with its free right neighbour
// (blk_split): the merged block counted all resident, and the next purge
// advised the neighbour's purged pages again.
static char *resident_end_with(la_heap_t *h, la_block_t *next, char *end)
{
    if (next == region_fence(h->regions) || !blk_is_free(next))
        return end;
    char *nlo, *nhi;
    dirty_span(next, &nlo, &nhi);
    return nhi > nlo ? LA_MAX(end, nhi) : end;
}

LA_HOT_TEXT bool heap_resize_in_place(la_heap_t *h, la_block_t *b, size_t need, size_t want)
{
    size_t size = blk_size(b);
    if (need <= size) {
        if (size - need >= MIN_BLOCK_SIZE) {
            char *hi = resident_end_with(h, blk_next(b), (char *)b + size);
            blk_split(h, b, need); // the tail merges with a free neighbour
            note_dirty(blk_next(b), (char *)b + need, hi);
        }
        return true;
    }
    la_block_t *next = blk_next(b);
    size_t avail = size + (blk_is_free(next) ? blk_size(next) : 0);
    if (avail < need && can_extend_after(h, b) && grow_brk(h, need - avail) == GROW_IN_PLACE) {
        next = blk_next(b); // the extension made or grew a free block here
        avail = size + (blk_is_free(next) ? blk_size(next) : 0);
    }
    if (avail < need)
        return false;
    char *lo = (char *)b + size, *hi = lo; // what of next may be resident
    if (blk_is_free(next)) {
        dirty_span(next, &lo, &hi);
        bins_remove(h, next, "realloc");
        blk_stamp(next, LA_CHECK_FREED);
        blk_set_size(b, avail);
        blk_mark_used(h, b);
    }
    // Up to `want`: what is left of the neighbour stays free, with what
    // its purge did to that part.
    size_t take = LA_MIN(avail, LA_MAX(need, want));
    if (avail - take >= MIN_BLOCK_SIZE) {
        blk_split(h, b, take);
        note_dirty(blk_next(b), lo, hi);
    }
    heap_note_written(h, (char *)b + blk_size(b));
    return true;
}

// heap_resize_in_place() failed for b, but b's free left neighbour, b and
// a free right neighbour together hold `need`: the payload slides down to
// the left neighbour's start and the block grows there, up to `want` (the
// rest stays free).  The three merge first, so that the copy lands in a
// block the caller owns, and the copy comes before the split, whose header
// may fall among the bytes still to move.  NULL, nothing changed,
// otherwise.  Issue 13: a block that moves away leaves a hole that its
// right neighbour, which must move next, cannot use, and strings grown
// round-robin (w_rrgrow) spread over holes until the arena was 3.5 MiB
// bigger than glibc's; a slide costs the copy a move costs.
LA_HOT_TEXT la_block_t *heap_slide_down(la_heap_t *h, la_block_t *b, size_t need, size_t want)
{
    if (!blk_prev_is_free(b))
        return NULL;
    la_block_t *prev = blk_prev(b), *next = blk_next(b);
    size_t size = blk_size(b);
    size_t avail = blk_size(prev) + size + (blk_is_free(next) ? blk_size(next) : 0);
    if (avail < need)
        return NULL;
    // What of the rest may be resident: up to b's end, then next's part.
    char *hi = resident_end_with(h, next, (char *)b + size);
    la_block_t *nb = blk_coalesce(h, b);
    la_assert(nb == prev && blk_size(nb) == avail);
    blk_set_live(nb, avail, 0, h->index); // a free block's left neighbour is live
    blk_mark_used(h, nb);
    memmove(blk_payload(nb), blk_payload(b), size - LA_HEADER_BYTES);
    size_t take = LA_MIN(avail, LA_MAX(need, want));
    if (avail - take >= MIN_BLOCK_SIZE) {
        blk_split(h, nb, take);
        note_dirty(blk_next(nb), (char *)nb + take, hi);
    }
    heap_note_written(h, (char *)nb + blk_size(nb));
    return nb;
}

/* ---- lookup for diagnostics ------------------------------------------- */

la_region_t *heap_region_of(const void *p)
{
    // Diagnostics only: reads region lists without their locks.  Regions
    // are only ever prepended, so a racing reader sees a valid prefix.
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++)
        for (la_region_t *r = la_load_relaxed(&la.heaps[i].regions); r != NULL; r = r->next)
            if ((const char *)p >= (const char *)region_first(r) &&
                (const char *)p < (const char *)region_fence(r))
                return r;
    return NULL;
}

/* ---- header checks ------------------------------------------------------ */

// An overflow of up to 12 bytes from the block before it leaves a header's
// check word (its last 4 bytes) intact.  If the head word still holds a
// plausible size, the check word tells which req it was made for; if req
// is intact, a search of the sizes the block can have, with the heap of
// its region, finds the one it was made for.  Either way p was a block
// whose header was overwritten: say so (issue 12).  Returns if neither
// matches.  A chance match (2^-32 per candidate) only changes the wording.
LA_COLD void heap_report_overwritten(const void *p, la_region_t *r, const char *func)
{
    la_block_t *b = blk_from_payload(p);
    size_t head = la_load_relaxed(&b->head);
    size_t size = head & LA_SIZE_MASK;
    size_t room = (size_t)((char *)region_fence(r) - (char *)b);
    unsigned heap_index = r->heap->index;
    uint32_t req = blk_req(b), check = blk_check(b);
    if (size >= MIN_BLOCK_SIZE && size <= room && blk_heap_index(b) == heap_index) {
        // The req the check word was made for, with or without LA_CHECK_BIG.
        uint32_t hash = blk_hash(b, head, la.key);
        uint32_t small = check - hash - 1, big = (check ^ LA_CHECK_BIG) - hash - 1;
        size_t usable = size - LA_HEADER_BYTES;
        if (small <= usable && small <= LA_TC_MAX_BYTES && small != req)
            la_fatal(func, "corrupted header at %p (requested size %u where %u was written: "
                           "an overflow of the block before it?)", p, req, small);
        if (big <= usable && big > LA_TC_MAX_BYTES && big != req)
            la_fatal(func, "corrupted header at %p (requested size %u where %u was written: "
                           "an overflow of the block before it?)", p, req, big);
    }
    size_t most = LA_MIN(room, la_load_relaxed(&la.heap_block_max));
    for (size_t s = MIN_BLOCK_SIZE; s <= most; s += ALIGNMENT) {
        uint32_t hash = blk_hash(b, blk_head(s, 0, heap_index), la.key);
        if (check == la_check_word(hash, req) || check == hash)
            la_fatal(func, "corrupted header at %p (block of %zu bytes whose header was "
                           "overwritten: an overflow of the block before it?)", p,
                     s - LA_HEADER_BYTES);
    }
}

static LA_COLD LA_NORETURN void report_bad_cached(const void *p, const char *func)
{
    la_region_t *r = heap_region_of(blk_from_payload(p));
    if (r != NULL)
        heap_report_overwritten(p, r, func);
    la_fatal(func, "corrupted header at %p (a block waiting in a thread cache: its header was "
                   "overwritten)", p);
}

LA_HOT_TEXT unsigned heap_validate_cached(const void *p, const char *func)
{
    la_block_t *b = blk_from_payload(p);
    size_t head = la_load_relaxed(&b->head);
    size_t size = head & LA_SIZE_MASK;
    unsigned heap_index = (unsigned)(head >> LA_HEAD_HEAP_SHIFT);
    uint32_t hash = blk_hash(b, head, la.key), check = blk_check(b);
    // The heap index picks arrays of LA_MAX_HEAPS entries (issue 12: 255
    // wrote into the flush's caller's stack).  The cached check word does
    // not cover req, which picks a bin when a remote block is taken in: it
    // must not exceed the usable size.  A live check word vouches for the
    // header as well: a fork child retires the caches of threads that did
    // not survive the fork, and one may have stopped between linking a
    // block into a bin and stamping it cached.
    if (LA_UNLIKELY((check != hash && check != la_check_word(hash, blk_req(b))) ||
                    (head & (LA_FREE | LA_MMAPPED)) != 0 ||
                    heap_index >= __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE) ||
                    size < MIN_BLOCK_SIZE || size > la_load_relaxed(&la.heap_block_max) ||
                    blk_req(b) > size - LA_HEADER_BYTES))
        report_bad_cached(p, func);
    return heap_index;
}

/* ---- locks across fork -------------------------------------------------- */

void heap_lock_all(void)
{
    lock_acquire(&la.heaps_lock);
    for (unsigned i = 0; i < LA_MAX_HEAPS; i++)
        lock_acquire(&la.heaps[i].lock);
}

void heap_unlock_all(void)
{
    for (unsigned i = LA_MAX_HEAPS; i-- > 0;)
        lock_release(&la.heaps[i].lock);
    lock_release(&la.heaps_lock);
}

void heap_reinit_locks_after_fork(void)
{
    // The child has one thread; nobody else can hold or wait on these.
    for (unsigned i = 0; i < LA_MAX_HEAPS; i++)
        lock_reset(&la.heaps[i].lock);
    lock_reset(&la.heaps_lock);
}
