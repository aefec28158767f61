// SPDX-License-Identifier: MIT
/*
 * tcache.c: the slow side of the per-thread caches.  Creates a thread's
 * cache on its first slow path, refills a bin in one batch carved from the
 * thread's heap, flushes half a full bin back to the blocks' owning heaps
 * (one lock per run of blocks from the same heap), and gives everything
 * back when the thread exits (pthread key destructor) or, in a fork child,
 * for the threads that did not survive the fork.
 *
 * Threads are spread over la.heap_target heaps in creation order; the main
 * thread's cache uses heap 0, the brk heap.  Cache structs live in mapped
 * metadata chunks and are reused after their thread exits.
 *
 * Lock order (also fork's): init_lock, tc_lock, heaps_lock, each heap,
 * slab_lock, large_lock, stats_lock, prof_lock (the heap profiler's, prof.c).
 */
#include <pthread.h>
#include <string.h>

#include "tcache.h"

// The placeholders every bin of which is empty and full at once, and whose
// bias no check word matches, so both fast paths fall through to the slow
// path.  Never written.
static la_tcache_t tcache_empty = {
    .heap = &la.heaps[0], .kind = LA_TC_EMPTY, .bias = LA_TC_NO_MATCH};
static la_tcache_t tcache_dead = {
    .heap = &la.heaps[0], .kind = LA_TC_DEAD, .bias = LA_TC_NO_MATCH};

_Static_assert(offsetof(la_tcache_t, past_bins) == sizeof(la_tbin_t) * LA_TC_BINS,
               "past_bins follow the last bin");

__thread la_tcache_t *la_tc __attribute__((tls_model("initial-exec"))) = &tcache_empty;

/* ---- usage publishing --------------------------------------------------- */

// The blocks bin i of tc holds: cap - room, and for the 8-byte class (whose
// bin is always empty) its word stack.  Relaxed loads: other threads read
// a live cache's counts (statistics).
LA_INLINE int64_t bin_held(const la_tcache_t *tc, size_t i)
{
    int64_t held = (int32_t)la_load_relaxed(&tc->bins[i].cap) - bin_room(&tc->bins[i]);
    if (i == LA_SLAB_WORD_CLASS)
        held += la_load_relaxed(&tc->words_held);
    return held;
}

// Live bytes the cache's thread allocated minus those it freed.  A slab
// bin's slots: pops - frees = -(held + moved), times the slot size.
static size_t balance(la_tcache_t *tc)
{
    size_t now = tc->alloc_bytes - tc->free_bytes;
    for (size_t c = 0; c < LA_TC_SMALL_BINS; c++)
        now -= (size_t)(bin_held(tc, c) + tc->bins[c].moved) * la_sizeclasses[c].size;
    return now;
}

// Makes the cache's live-byte balance visible to the peak (one atomic add).
LA_HOT_TEXT static void publish(la_tcache_t *tc)
{
    size_t now = balance(tc);
    stats_usage_publish((int64_t)(now - tc->published));
    tc->published = now;
    tc->published_cheap = tcache_cheap_balance(tc);
}

void tcache_publish_resizes(la_tcache_t *tc) { publish(tc); }

// On slow paths: publish once the balance has moved by LA_TC_PUBLISH_BYTES
// (tcache_publish_due; tcache_count_resize tests the same in line).
// The add is on a cache line every thread writes; made on every refill and
// flush it had two threads churning their own caches contend for it (7% of
// perf's samples of w_churn 1 2 local, against 0.8% with one thread).
LA_HOT_TEXT static void publish_lazily(la_tcache_t *tc)
{
    if (tcache_publish_due(tc))
        publish(tc);
}

// n slots of slab bin `bin` that left the cache in a batch (a flush), or
// -n that entered it (a refill, a remote list adopted): the bin's moved
// count and the cache's slot_moved_bytes, which tcache_cheap_balance reads.
static void count_moved(la_tcache_t *tc, la_tbin_t *bin, int64_t n)
{
    la_add_owned(&bin->moved, n);
    la_add_owned(&tc->slot_moved_bytes, n * (int64_t)la_sizeclasses[bin - tc->bins].size);
}

/* ---- creation and teardown ---------------------------------------------- */

static la_heap_t *heap_for_cache(size_t nth_cache)
{
    unsigned index = (unsigned)(nth_cache % __atomic_load_n(&la.heap_target, __ATOMIC_RELAXED));
    return heap_ensure(index);
}

static la_tcache_t *struct_alloc(void)
{
    la_tcache_t *tc = la.tc_free;
    if (tc != NULL) {
        la.tc_free = tc->next;
        return tc;
    }
    // The word stack's array is the struct's tail (tcache.h).
    size_t bytes = sizeof(la_tcache_t) + LA_TC_WORD_SLOTS_MAX * sizeof(void *);
    if (la.tc_meta_left < bytes) {
        char *chunk = os_map(LA_META_CHUNK_BYTES);
        if (chunk == NULL)
            return NULL;
        la.tc_meta = chunk;
        la.tc_meta_left = LA_META_CHUNK_BYTES;
    }
    tc = (la_tcache_t *)la.tc_meta;
    size_t step = LA_ALIGN_UP(bytes, 64); // own cache lines
    la.tc_meta += step;
    la.tc_meta_left = la.tc_meta_left > step ? la.tc_meta_left - step : 0;
    return tc;
}

/* ---- bins --------------------------------------------------------------- */

_Static_assert(LA_IS_POW2(LA_TC_MEDIUM_MAX_BYTES) && LA_IS_POW2(LA_TC_MAX_BYTES),
               "medium classes divide powers of two");
#define LOG2_SMALL_MAX ((size_t)__builtin_ctz(LA_TC_MAX_BYTES))
// A class's step (a power of two divided by LA_TC_MEDIUM_PER_DOUBLING) is a
// power of two too, so the class math shifts: the step is known only at
// run time, and dividing by it was a div instruction (some 25 cycles) on
// every medium malloc and free.
_Static_assert(LA_IS_POW2(LA_TC_MEDIUM_PER_DOUBLING) && LA_TC_MEDIUM_PER_DOUBLING <= LA_TC_MAX_BYTES,
               "medium steps are powers of two");
#define LOG2_PER_DOUBLING ((size_t)__builtin_ctz(LA_TC_MEDIUM_PER_DOUBLING))

// The medium bin for a request of (LA_TC_MAX_BYTES, LA_TC_MEDIUM_MAX_BYTES]:
// the smallest class that holds it.
static la_tbin_t *medium_bin_up(la_tcache_t *tc, size_t req)
{
    size_t log2 = 63 - (size_t)__builtin_clzl(req - 1);
    size_t base = (size_t)1 << log2, step_log2 = log2 - LOG2_PER_DOUBLING;
    size_t steps = (req - base + ((size_t)1 << step_log2) - 1) >> step_log2; // 1..PER_DOUBLING
    size_t i = (log2 - LOG2_SMALL_MAX) * LA_TC_MEDIUM_PER_DOUBLING + steps - 1;
    return &tc->bins[LA_TC_SMALL_BINS + i];
}

// The bin a live block may wait in: by requested size when small (as the
// fast path does), otherwise the largest class its usable size covers.
// NULL when no bin fits (large blocks, or too big for the last class).
// Inlined: a call of its own on every big free (issue 14).
LA_INLINE la_tbin_t *bin_for_block(la_tcache_t *tc, la_block_t *b)
{
    // Small requests live in slab slots; a small heap block (aligned, or
    // made while slabs are off) is not cached.
    if (b->req <= LA_TC_MAX_BYTES)
        return NULL;
    size_t usable = blk_usable(b);
    size_t last = tcache_medium_class_bytes(LA_TC_MEDIUM_BINS - 1);
    if (blk_is_mmapped(b) || usable > last + last / LA_TC_MEDIUM_PER_DOUBLING)
        return NULL;
    size_t log2 = 63 - (size_t)__builtin_clzl(usable);
    size_t base = (size_t)1 << log2;
    size_t steps = (usable - base) >> (log2 - LOG2_PER_DOUBLING); // 0..PER_DOUBLING-1
    if (log2 == LOG2_SMALL_MAX && steps == 0)
        return NULL; // below the first medium class
    size_t i = (log2 - LOG2_SMALL_MAX) * LA_TC_MEDIUM_PER_DOUBLING + steps - 1;
    return &tc->bins[LA_TC_SMALL_BINS + LA_MIN(i, (size_t)LA_TC_MEDIUM_BINS - 1)];
}

// The medium bins' hit paths (tcache_malloc_above, tcache_free_unslabbed)
// find a bin by one table lookup, where medium_bin_up and bin_for_block
// take a clz and some ten shifts and adds each (issue 13: the class math
// was done on both sides of every medium malloc + free).  Every class
// boundary is a multiple of the smallest step, the grain
// (LA_TC_MAX_BYTES / LA_TC_MEDIUM_PER_DOUBLING, 128 bytes), so
// a size's grain count names its class: the smallest class that holds a
// request of up to k grains is medium_up[k], the largest class that a
// block of k grains (rounded down) covers is medium_down[k]
// (below the first class: MEDIUM_NO_BIN, past_bins[0], a bin that is
// always full and empty, so that the free hit path's test of room sends
// such a block to the slow path, with no test of its own).  Entries are the bins' byte
// offsets in the cache (bin_offset), which the hit paths add to the cache
// pointer: no shift, no add of LA_TC_SMALL_BINS.  medium_down stops short of
// bin_for_block's last accepted size: what it does not cover takes the
// slow path, which decides as before.  Filled once, under la.tc_lock, by
// the first tcache_create(): only a live cache reads them, and its
// thread took that lock after they were written.
#define MEDIUM_GRAIN_LOG2 (LOG2_SMALL_MAX - LOG2_PER_DOUBLING)
#define MEDIUM_UP_LEN ((LA_TC_MEDIUM_MAX_BYTES >> MEDIUM_GRAIN_LOG2) + 1)
#define MEDIUM_DOWN_LEN \
    ((LA_TC_MEDIUM_MAX_BYTES + LA_TC_MEDIUM_MAX_BYTES / LA_TC_MEDIUM_PER_DOUBLING) >> MEDIUM_GRAIN_LOG2)
#define MEDIUM_NO_BIN ((uint16_t)offsetof(la_tcache_t, past_bins))
_Static_assert(offsetof(la_tcache_t, past_bins) <= UINT16_MAX, "a bin's offset fits 16 bits");
_Static_assert((LA_TC_MEDIUM_MAX_BYTES + LA_TC_MEDIUM_MAX_BYTES / LA_TC_MEDIUM_PER_DOUBLING) +
                       LA_HEADER_BYTES <= MMAP_THRESHOLD + 2 * MIN_BLOCK_SIZE,
               "a block medium_down covers is below la.heap_block_max's least value, so "
               "the free hit path needs no test of it");
static uint16_t medium_up[MEDIUM_UP_LEN], medium_down[MEDIUM_DOWN_LEN];

// Medium bin i's offset in a cache, and the bin at such an offset.
static uint16_t bin_offset(size_t i)
{
    return (uint16_t)(offsetof(la_tcache_t, bins) + (LA_TC_SMALL_BINS + i) * sizeof(la_tbin_t));
}
LA_INLINE la_tbin_t *bin_at_offset(la_tcache_t *tc, size_t offset)
{
    return (la_tbin_t *)((char *)tc + offset);
}
static bool medium_tables_ready; // under la.tc_lock

// One pass over the classes (a class's bytes are a whole number of
// grains), each entry written once: a search per entry cost every process
// 15 thousand instructions at its first cache.  With asserts on
// (LA_DEBUG >= 2), every request and usable size the tables serve is then
// checked against medium_bin_up and bin_for_block, once a process (tc:
// any cache).
static void medium_tables_fill(la_tcache_t *tc)
{
    size_t up = 0, down = 0;
    size_t first = tcache_medium_class_bytes(0) >> MEDIUM_GRAIN_LOG2;
    while (down < first && down < MEDIUM_DOWN_LEN)
        medium_down[down++] = MEDIUM_NO_BIN;
    for (size_t i = 0; i < LA_TC_MEDIUM_BINS; i++) {
        size_t grains = tcache_medium_class_bytes(i) >> MEDIUM_GRAIN_LOG2;
        size_t next = i + 1 < LA_TC_MEDIUM_BINS
                          ? tcache_medium_class_bytes(i + 1) >> MEDIUM_GRAIN_LOG2
                          : MEDIUM_DOWN_LEN;
        // Requests of up to `grains` grains fit class i (the smallest
        // that does, as the classes grow); blocks of `grains` up to the
        // next class's cover it and no bigger one.
        while (up <= grains && up < MEDIUM_UP_LEN)
            medium_up[up++] = bin_offset(i);
        while (down < next && down < MEDIUM_DOWN_LEN)
            medium_down[down++] = bin_offset(i);
    }
    medium_tables_ready = true;
    if (LA_DEBUG < 2)
        return;
    for (size_t req = LA_TC_MAX_BYTES + 1; req <= LA_TC_MEDIUM_MAX_BYTES; req++) {
        size_t k = (req + ((size_t)1 << MEDIUM_GRAIN_LOG2) - 1) >> MEDIUM_GRAIN_LOG2;
        la_assert(bin_at_offset(tc, medium_up[k]) == medium_bin_up(tc, req));
    }
    // A block a medium bin may take has usable >= req > LA_TC_MAX_BYTES.
    for (size_t usable = LA_TC_MAX_BYTES + ALIGNMENT; usable < MEDIUM_DOWN_LEN << MEDIUM_GRAIN_LOG2;
         usable += ALIGNMENT) {
        la_block_t b = {.head = blk_head(usable + LA_HEADER_BYTES, 0, 0), .req = LA_TC_MAX_BYTES + 1};
        unsigned at = medium_down[usable >> MEDIUM_GRAIN_LOG2];
        la_assert(bin_for_block(tc, &b) == (at == MEDIUM_NO_BIN ? NULL : bin_at_offset(tc, at)));
    }
}

static bool bin_is_medium(la_tcache_t *tc, la_tbin_t *bin)
{
    return bin - tc->bins >= LA_TC_SMALL_BINS;
}

// Size of the blocks a bin is refilled with.
static size_t bin_block_bytes(la_tcache_t *tc, la_tbin_t *bin)
{
    size_t i = (size_t)(bin - tc->bins);
    if (i < LA_TC_SMALL_BINS)
        return la_sizeclasses[i].size; // a slot
    return blk_size_for(tcache_medium_class_bytes(i - LA_TC_SMALL_BINS));
}

// A bin's capacity for `bytes` of its blocks, in blocks.
static size_t bin_count_for(la_tcache_t *tc, la_tbin_t *bin, size_t bytes)
{
    size_t block = bin_block_bytes(tc, bin);
    size_t least = bin_is_medium(tc, bin) ? 1 : LA_TC_COUNT_MIN;
    return LA_MIN(LA_MAX(bytes / block, least), (size_t)LA_TC_COUNT_MAX);
}

static void set_capacities(la_tcache_t *tc)
{
    for (size_t i = 0; i < LA_TC_BINS; i++) {
        la_tbin_t *bin = &tc->bins[i];
        // Medium bins start empty and grow when used; with
        // ALLOCATOR_TCACHE=0 every bin stays empty and caches only bind
        // threads to heaps.  Starting capacities are not charged to
        // cap_bytes: most bins are never used, and charging them
        // (120 KiB) would leave too little budget for the bins that are.
        // The 8-byte class's bin too: its slots go to the word stack.
        size_t cap = la.options.tcache && la.slabs_on && !bin_is_medium(tc, bin) &&
                             i != LA_SLAB_WORD_CLASS
                         ? bin_count_for(tc, bin, LA_TC_BIN_BYTES)
                         : 0;
        bin->cap = (uint16_t)cap;
        bin_set_room(bin, (int32_t)cap);
    }
}

// A slab bin whose newest slot belongs to another heap: its thread frees
// what others allocated, and each overflow sends a chain to their remote
// lists; a bigger bin makes fewer, longer chains (a consumer's bins of
// 1 KiB flushed 2 slots of 512 bytes per CAS).
LA_HOT_TEXT static bool frees_for_others(la_tcache_t *tc, la_tbin_t *bin)
{
    return !bin_is_medium(tc, bin) && bin->head != NULL && slab_of(bin->head)->heap != tc->heap;
}

// Whether one cache was ever made: one thread allocates (the background
// thread has no cache), and its medium bins may hold more (config.h,
// LA_TC_MEDIUM_SOLO_BYTES).
static bool cache_alone(void) { return la_load_relaxed(&la.tc_created) <= 1; }

// What a cache's medium bins may hold, for a bin of `block`-byte blocks.
static size_t medium_budget(la_tcache_t *tc, size_t block)
{
    if (tc->medium_hot)
        return LA_TC_MEDIUM_HOT_BYTES;
    if (cache_alone())
        return LA_TC_MEDIUM_SOLO_BYTES;
    return block <= LA_TC_MEDIUM_SHARED_MAX_BYTES ? LA_TC_MEDIUM_TOTAL_BYTES : 0;
}

// Every allocation the thread's cache served or sent on: its slab bins'
// pops and its medium blocks.
static uint64_t thread_allocs(la_tcache_t *tc)
{
    uint64_t n = tc->nalloc + tc->words_pops;
    for (size_t i = 0; i < LA_TC_SMALL_BINS; i++)
        n += tc->bins[i].pops;
    return n;
}

// A medium request that the bins could not serve went to the heap
// (count_miss), or a block of the thread's heap that they could not take
// (count_trip).  In a threaded process, where each cache's medium bins
// hold LA_TC_MEDIUM_TOTAL_BYTES of blocks up to
// LA_TC_MEDIUM_SHARED_MAX_BYTES, a thread that churns medium blocks gets
// LA_TC_MEDIUM_HOT_BYTES, every class (issue 13: each such trip a best fit, a
// split or a coalesce under the heap's lock, some 500 instructions;
// w_medium's threads took one on half their requests).  Churns: over the
// last LA_TC_HOT_TRIPS of its frees that went to the heap, in
// LA_TC_HOT_MS at most, a quarter as many of its requests went there too,
// and they made at least one in LA_TC_HOT_SHARE of all its allocations.
// A thread that frees what another allocated misses on no request (w_churn's
// consumers, whose blocks may be of their own heap when threads share
// one); one whose medium trips are few among many small blocks (w_churn's
// I/O buffers, 2% of its requests) would save little.
static void count_miss(la_tcache_t *tc) { tc->medium_misses++; }

static void count_trip(la_tcache_t *tc)
{
    if (++tc->medium_trips % LA_TC_HOT_TRIPS != 0 || tc->medium_hot || cache_alone())
        return;
    uint64_t now = os_now_ms(), allocs = thread_allocs(tc);
    uint64_t misses = tc->medium_misses - tc->medium_misses_seen;
    if (now - tc->medium_trips_ms < LA_TC_HOT_MS && misses >= LA_TC_HOT_TRIPS / 4 &&
        misses * LA_TC_HOT_SHARE >= allocs - tc->medium_allocs_seen)
        tc->medium_hot = 1;
    tc->medium_trips_ms = now;
    tc->medium_misses_seen = tc->medium_misses;
    tc->medium_allocs_seen = allocs;
}

// Memory is being given back and the cache was emptied: a hot cache's
// medium bins start again from nothing (capacity 0, as at creation) within
// the shared budget, until the thread proves hot again.
static void cool_down(la_tcache_t *tc)
{
    if (!tc->medium_hot)
        return;
    tc->medium_hot = 0;
    for (size_t i = LA_TC_SMALL_BINS; i < LA_TC_BINS; i++) {
        la_store_relaxed(&tc->bins[i].cap, (uint16_t)0);
        bin_set_room(&tc->bins[i], 0);
        tc->ran_dry[i] = 0;
    }
    tc->medium_cap_bytes = 0;
}

// A full bin: double its capacity if it ran dry since it last overflowed
// (it swings between empty and full, so a bigger bin saves heap trips),
// and the bin and the cache may grow.  A bin that only fills, as under
// bursts of frees, gives blocks back instead of growing: caches hold what
// a thread reuses, not what it once freed; unless they go to other heaps
// (frees_for_others), where the growth buys longer chains per CAS, up to
// LA_TC_FOREIGN_BIN_BYTES and LA_TC_FOREIGN_BIN_SLOTS only (a bin keeps
// its starting capacity if that is more): the slots such a bin holds are
// memory their owner cannot reuse, and carves afresh (issue 13: a
// consumer's bins grew to 256 KiB each and held 400 KB of w_pipeline's
// peak).  Growing through a burst does not pay even where the thread
// reuses what it freed: bins that grew at every overflow (no swing
// needed, bounds raised) took w_shuffle's flushes away (callgrind, scale
// 0.3: 154.4 M -> 95.5 M instructions, mimalloc 93.7 M) but not its time:
// its free phase went from 0.115 to 0.089 s (mimalloc 0.081), its
// allocation phase from 0.057 to 0.080 (mimalloc 0.050; medians of 9,
// interleaved), the bins handing a round's blocks back in the reverse of
// their shuffled free order, spread over 34 MB, where a refill from the
// slabs hands out each slab's slots in address order.
// `others` is frees_for_others(tc, bin) when the caller knows it, else -1
// (then found only if needed: a slab lookup).
LA_HOT_TEXT static bool grow_bin_as(la_tcache_t *tc, la_tbin_t *bin, int others)
{
    size_t i = (size_t)(bin - tc->bins);
    bool swung = tc->ran_dry[i];
    tc->ran_dry[i] = 0;
    if (!swung && !(others < 0 ? frees_for_others(tc, bin) : others))
        return false;
    size_t block = bin_block_bytes(tc, bin);
    size_t cap = bin->cap;
    bool medium = bin_is_medium(tc, bin);
    size_t most = swung ? (medium && tc->medium_hot ? LA_TC_HOT_BIN_BYTES_MAX : LA_TC_BIN_BYTES_MAX)
                        : LA_MIN((size_t)LA_TC_FOREIGN_BIN_BYTES, LA_TC_FOREIGN_BIN_SLOTS * block);
    size_t grown = LA_MIN(LA_MAX(cap * 2, (size_t)1), bin_count_for(tc, bin, most));
    if (medium && !tc->medium_hot)
        grown = LA_MIN(grown, (size_t)LA_TC_MEDIUM_COLD_COUNT_MAX);
    size_t *used = medium ? &tc->medium_cap_bytes : &tc->cap_bytes;
    size_t budget = medium ? medium_budget(tc, block) : LA_TC_TOTAL_BYTES;
    if (!la.options.tcache || grown <= cap || *used + (grown - cap) * block > budget)
        return false;
    la_store_relaxed(&bin->cap, (uint16_t)grown);
    bin_add_room(bin, (int32_t)(grown - cap));
    *used += (grown - cap) * block;
    return true;
}

static bool grow_bin(la_tcache_t *tc, la_tbin_t *bin) { return grow_bin_as(tc, bin, -1); }

// The calling thread's cache, created now if the process is ready for it.
static la_tcache_t *tcache_create(void)
{
    // Before our constructor ran, the main thread's TLS may not be final
    // (and no thread-exit key exists): allocate without a cache until then.
    if (!__atomic_load_n(&la.tc_ready, __ATOMIC_ACQUIRE))
        return la_tc;
    // A thread that preload/'s pthread_create did not make (libc's own):
    // the fork handlers before its first lock (fork.c).
    if (!os_single_threaded())
        fork_handlers_install();
    lock_acquire(&la.tc_lock);
    la_tcache_t *tc = struct_alloc();
    if (tc == NULL) {
        lock_release(&la.tc_lock);
        return la_tc;
    }
    if (!medium_tables_ready)
        medium_tables_fill(tc);
    memset(tc, 0, sizeof *tc);
    set_capacities(tc);
    tc->kind = LA_TC_LIVE;
    tc->medium_hits = !la.debug;
    tc->words_hits = !la.debug && la.options.tcache && la.slabs_on;
    tc->words_cap = LA_TC_WORD_SLOTS;
    tc->key = la.key;
    tc->epoch = __atomic_load_n(&la.tc_epoch, __ATOMIC_RELAXED);
    // Atomic although under tc_lock: cache_alone() reads it without.
    tc->heap = heap_for_cache(__atomic_fetch_add(&la.tc_created, 1, __ATOMIC_RELAXED));
    tc->next = la.tc_list;
    if (tc->next != NULL)
        tc->next->prev = tc;
    la.tc_list = tc;
    lock_release(&la.tc_lock);
    // Published before pthread_setspecific, which may itself allocate (for
    // keys past the first 32) and must then find a working cache.
    la_tc = tc;
    pthread_setspecific(la.tc_key, tc);
    return tc;
}

// Gives the n newest slots of a slab bin (from its head) back to their
// heaps: those of this thread's heap to their slabs under its lock, those
// of another heap onto that heap's remote list of the class with one CAS.
// Returns how many left the bin.  Slots of this thread's heap go back as
// one walk under its lock reaches them (slab_free_run), up to the first
// slot of another heap: noting them in arrays for a second loop cost 78
// instructions a slot on w_shuffle (a second walk to reverse the chain
// and a third to free it, before that, 40 more).  Otherwise one walk
// checks each link and finds each slot's heap (consecutive slots mostly
// share a slab, whose page-map entry is then looked up once per run);
// when all of them share a heap (a thread that frees what one other
// thread allocated) the walked chain goes as it is, relinked nowhere
// (flush_bin was 21% of w_pipeline's profile when it walked twice, looked
// every slot up and relinked it).
_Static_assert(LA_MAX_HEAPS <= 64, "a flush notes the heaps it met in one word");
LA_HOT_TEXT static uint32_t flush_slots(la_tcache_t *tc, la_tbin_t *bin, uint32_t n)
{
    unsigned cls = (unsigned)(bin - tc->bins);
    void *rest = bin->head, *last = NULL, *p = rest;
    la_slab_t *s = NULL;
    la_heap_t *owner = NULL;
    bool mixed = false;
    uintptr_t base = 0; // the slab of the slot before: none yet
    uint32_t released = 0;
    n = LA_MIN(n, (uint32_t)LA_TC_COUNT_MAX); // one turn of flush_bin's
    if (p != NULL && slab_of_slot(p)->heap == tc->heap) {
        lock_acquire(&tc->heap->lock);
        bin->head = slab_free_run(tc->heap, p, n, &released);
        lock_release(&tc->heap->lock);
        return released;
    }
    while (released < n && p != NULL) {
        // Slabs start LA_SLAB_BYTES-aligned: p is in the first chunk of
        // the slab that starts at base iff it is less than that above it.
        if ((uintptr_t)p - base >= LA_SLAB_BYTES) {
            s = slab_of_slot(p);
            base = slab_start(s);
            if (owner == NULL)
                owner = s->heap;
            else if (s->heap != owner)
                mixed = true;
        }
        released++;
        last = p;
        p = la_link_next(p, "free");
    }
    if (last == NULL)
        return 0;
    bin->head = p;
    if (!mixed) { // all of one other heap (the first is not this thread's)
        slab_push_remote(owner, cls, rest, last, released); // relinks last
        return released;
    }
    la_link_store(last, NULL);
    // Slots of several heaps: chained per heap.  An entry of the arrays is
    // set up when its bit of `seen` is first set (zeroing all 64 of them
    // on every such flush was 8% of flush_bin's samples on w_churn).
    void *first[LA_MAX_HEAPS], *tail[LA_MAX_HEAPS];
    uint32_t count[LA_MAX_HEAPS];
    uint64_t seen = 0;
    void *local = NULL;
    base = 0;
    while (rest != NULL) {
        void *next = la_link_next(rest, "free");
        if ((uintptr_t)rest - base >= LA_SLAB_BYTES) {
            s = slab_of_slot(rest);
            base = slab_start(s);
            owner = s->heap;
        }
        if (owner == tc->heap) {
            la_link_store(rest, local);
            local = rest;
        } else {
            unsigned k = owner->index;
            if (!(seen >> k & 1)) {
                seen |= (uint64_t)1 << k;
                first[k] = NULL;
                tail[k] = rest;
                count[k] = 0;
            }
            la_link_store(rest, first[k]);
            first[k] = rest;
            count[k]++;
        }
        rest = next;
    }
    if (local != NULL) {
        lock_acquire(&tc->heap->lock);
        slab_free_chain(tc->heap, local);
        lock_release(&tc->heap->lock);
    }
    for (; seen != 0; seen &= seen - 1) {
        unsigned i = (unsigned)__builtin_ctzll(seen);
        slab_push_remote(&la.heaps[i], cls, first[i], tail[i], count[i]);
    }
    return released;
}

LA_HOT_TEXT static void flush_bin(la_tcache_t *tc, la_tbin_t *bin, unsigned keep)
{
    publish_lazily(tc);
    if (!bin_is_medium(tc, bin)) {
        // A slab bin gives back its newest slots, from the head, and keeps
        // the older ones: the walk then runs over slots the program just
        // freed (in cache), where walking past `keep` entries to find the
        // older ones chased a chain of cache misses (flush_bin was 19% of
        // w_shuffle's profile, almost all on that load).
        // A bin that adopted a remote list may hold more than
        // LA_TC_COUNT_MAX, one flush's most: flushed in turns, so that
        // emptying it (thread exit, the epoch) leaves nothing behind.
        uint32_t held = (uint32_t)((int32_t)bin->cap - bin_room(bin));
        uint32_t n = held > keep ? held - keep : 0;
        while (n > 0) {
            uint32_t released = flush_slots(tc, bin, n);
            if (released == 0)
                break;
            n -= LA_MIN(n, released);
            bin_add_room(bin, (int32_t)released);
            count_moved(tc, bin, (int64_t)released);
        }
        return;
    }
    void *rest = bin->head, *kept = NULL;
    for (unsigned i = 0; i < keep && rest != NULL; i++) {
        kept = rest;
        rest = la_link_next(rest, "free");
    }
    if (kept != NULL)
        la_link_store(kept, NULL);
    else
        bin->head = NULL;
    // Blocks of this thread's heap are freed into it under its lock (they
    // merge with their neighbours); blocks of other heaps are chained per
    // heap and handed back with one CAS each, so a thread that frees what
    // another allocated never waits for that thread's lock.
    void *first[LA_MAX_HEAPS], *last[LA_MAX_HEAPS];
    uint64_t seen = 0; // as in flush_slots
    void *local = NULL;
    uint32_t released = 0;
    while (rest != NULL) {
        void *next = la_link_next(rest, "free");
        // Checked before its heap index picks an entry of first[] (issue
        // 12): the header may have been overwritten while it waited here.
        unsigned owner = heap_validate_cached(rest, "free");
        if (&la.heaps[owner] == tc->heap) {
            la_link_store(rest, local);
            local = rest;
        } else {
            if (!(seen >> owner & 1)) {
                seen |= (uint64_t)1 << owner;
                first[owner] = NULL;
                last[owner] = rest;
            }
            la_link_store(rest, first[owner]);
            first[owner] = rest;
        }
        released++;
        rest = next;
    }
    if (local != NULL) {
        lock_acquire(&tc->heap->lock);
        heap_free_chain(tc->heap, local);
        lock_release(&tc->heap->lock);
    }
    for (; seen != 0; seen &= seen - 1) {
        unsigned i = (unsigned)__builtin_ctzll(seen);
        heap_push_remote(&la.heaps[i], first[i], last[i]);
    }
    bin_add_room(bin, (int32_t)released);
    la_add_owned(&tc->flushed, released);
}

// Makes room in a full bin: grow it, or else give half of it back.  False
// when the bin can take nothing (caching is off, or an empty bin may not
// grow).
static bool make_room(la_tcache_t *tc, la_tbin_t *bin)
{
    // Looked up once for both uses (a slab lookup, 21 instructions).
    bool others = frees_for_others(tc, bin);
    size_t i = (size_t)(bin - tc->bins);
    // Whether the bin served an allocation since it last overflowed.
    bool popped = false;
    if (i < LA_TC_SMALL_BINS) {
        popped = bin->pops != tc->pops_seen[i];
        tc->pops_seen[i] = bin->pops;
    }
    if (grow_bin_as(tc, bin, others))
        return true;
    if (bin->cap == 0)
        return false;
    // Slots of this thread's heap go back LA_TC_FLUSH_MAX at a time, the
    // newest: slots the program freed just now, whose lines the flush's
    // walk (a chain of dependent loads) still finds in the L1 cache;
    // the older half of a 4 KiB bin of 32-byte slots was freed a thousand
    // frees before, and the walk missed on most of them (w_shuffle ran
    // 10-15% faster, for 3% more instructions).  Slots of other heaps go
    // half a bin at a time: one CAS per chain.  Half rounded up: a bin of
    // one block gave none back, and the push that follows left it holding
    // two with its room at -1 (medium bins held up to twice their budget).
    // A bin of other heaps' slots that served no allocation since it last
    // overflowed (its thread frees the class and does not allocate it: a
    // consumer's) gives them all back: the chain is twice as long for its
    // CAS, and the bin holds half as much on average (issue 13: the owner
    // carves afresh for every slot held here).  A bin that served
    // allocations gives half, even if it never ran dry: emptied, it
    // refilled at the next allocation (w_churn 0.25 4 remote: 3.8% more
    // instructions).
    unsigned give = bin->cap - bin->cap / 2u;
    if (!others)
        give = LA_MIN(give, (unsigned)LA_TC_FLUSH_MAX);
    else if (!popped)
        give = bin->cap;
    flush_bin(tc, bin, bin->cap - give);
    return true;
}

/* ---- the word stack (the 8-byte class) ---------------------------------- */

// The newest of the `held` slots of tc's stack, its mark checked before
// it is handed out (issue 15), counted as its bin's pop.  Its word is then
// 1: not a mark, and not zero, as a linked slot's words are not, so that a
// read of it before any write does not pass for calloc's
// (test_misuse_table's uninit-read).
LA_INLINE void *word_pop(la_tcache_t *tc, int32_t held)
{
    uintptr_t *p = tc->words[held - 1];
    if (LA_UNLIKELY(!la_word_marked(p)))
        return tcache_malloc_corrupt(p);
    la_add_owned(&tc->words_held, -1);
    p[0] = 1;
    la_add_owned(&tc->words_pops, 1);
    return p;
}

// Live slot p, marked, onto tc's stack, which holds `held` (< its room).
LA_INLINE void word_push(la_tcache_t *tc, int32_t held, void *p)
{
    la_word_mark(p);
    tc->words[held] = p;
    la_add_owned(&tc->words_held, 1);
}

// Gives the newest of the stack's slots back to their slabs until `keep`
// are left, a run of slots of one heap at a time under its lock (each
// slot's bitmap bit says exactly whether it was free already).  No remote
// lists: they link their slots.
LA_HOT_TEXT static void flush_words(la_tcache_t *tc, int32_t keep)
{
    int32_t held = tc->words_held, released = held - keep;
    for (int32_t i = keep; i < held;) {
        la_heap_t *h = slab_of_slot(tc->words[i])->heap;
        lock_acquire(&h->lock);
        i += (int32_t)slab_free_words(h, tc->words + i, (size_t)(held - i));
        lock_release(&h->lock);
    }
    la_add_owned(&tc->words_held, -released);
    count_moved(tc, &tc->bins[LA_SLAB_WORD_CLASS], (int64_t)released);
    publish_lazily(tc);
}

// An empty stack filled with half its room of this thread's heap's slots,
// marked (a slot never handed out holds whatever the heap left there), the
// first the slab found on top: used first, as a bin's chain is.
LA_HOT_TEXT static void refill_words(la_tcache_t *tc)
{
    // Straight into the stack, then turned over in place: a copy on the
    // C stack would take 2 KiB of it, and malloc runs on small signal
    // stacks too.
    la_heap_t *h = tc->heap;
    void **got = tc->words + tc->words_held;
    lock_acquire(&h->lock);
    size_t n = slab_alloc_batch(h, LA_SLAB_WORD_CLASS, (size_t)tc->words_cap / 2, got);
    lock_release(&h->lock);
    for (size_t i = 0; i < n; i++)
        la_word_mark(got[i]);
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        void *t = got[i];
        got[i] = got[j - 1];
        got[j - 1] = t;
    }
    la_add_owned(&tc->words_held, (int32_t)n);
    count_moved(tc, &tc->bins[LA_SLAB_WORD_CLASS], -(int64_t)n);
}

// malloc of the 8-byte class past its hit path (tc's words_hits): the
// newest slot of the stack, refilled first if it is empty; NULL if the
// heap has no memory.
LA_HOT_TEXT static void *malloc_word(la_tcache_t *tc)
{
    if (tc->words_held == 0) {
        tc->words_ran_dry = 1;
        refill_words(tc);
        if (tc->words_held == 0)
            return NULL;
    }
    void *p = word_pop(tc, tc->words_held);
    publish_lazily(tc);
    return p;
}

// A full word stack that ran dry since it last overflowed: doubled, as
// grow_bin_as doubles a slab bin, within LA_TC_WORD_SLOTS_MAX and the
// budget the slab bins grow in (cap_bytes, LA_TC_TOTAL_BYTES).  True if
// it grew.  A stack that only fills (a burst of frees) gives back instead.
static bool grow_words(la_tcache_t *tc)
{
    bool swung = tc->words_ran_dry;
    tc->words_ran_dry = 0;
    size_t cap = (size_t)tc->words_cap;
    size_t grown = LA_MIN(2 * cap, (size_t)LA_TC_WORD_SLOTS_MAX);
    size_t bytes = (grown - cap) * LA_SLAB_WORD_BYTES;
    if (!swung || grown <= cap || tc->cap_bytes + bytes > LA_TC_TOTAL_BYTES)
        return false;
    tc->words_cap = (int32_t)grown;
    tc->cap_bytes += bytes;
    return true;
}

// free of p, a sound slot of the 8-byte class past its hit path, onto the
// stack of tc (words_hits), which grows or gives half back if it is full.
LA_HOT_TEXT static void free_word(la_tcache_t *tc, void *p)
{
    if (tc->words_held >= tc->words_cap && !grow_words(tc))
        flush_words(tc, tc->words_cap / 2);
    word_push(tc, tc->words_held, p);
    publish_lazily(tc);
}

LA_HOT_TEXT static void flush_all(la_tcache_t *tc)
{
    for (size_t i = 0; i < LA_TC_BINS; i++)
        if (tc->bins[i].head != NULL)
            flush_bin(tc, &tc->bins[i], 0);
    if (tc->words_held > 0)
        flush_words(tc, 0);
}

// A cache's counters.  Every block in a bin entered it by a refill or by a
// free, and left it by an allocation or a flush, so the frees are what is
// cached now, plus what left, minus what refills brought.  Relaxed loads:
// the owner may be running; the result is then a few operations old.
LA_HOT_TEXT static void tcache_counters(la_tcache_t *tc, la_counters_t *sum)
{
    // Slab bins: frees = held now + pops + moved (flushed - refilled).
    for (size_t c = 0; c < LA_TC_SMALL_BINS; c++) {
        la_tbin_t *bin = &tc->bins[c];
        int64_t held = bin_held(tc, c);
        uint64_t pops = la_load_relaxed(&bin->pops);
        if (c == LA_SLAB_WORD_CLASS)
            pops += la_load_relaxed(&tc->words_pops);
        uint64_t frees = (uint64_t)(held + (int64_t)pops + la_load_relaxed(&bin->moved));
        sum->nalloc += pops;
        sum->nfree += frees;
        sum->alloc_bytes += pops * la_sizeclasses[c].size;
        sum->free_bytes += frees * la_sizeclasses[c].size;
    }
    // Medium bins and resizes: the same rule with the cache-wide counters.
    size_t cached = 0;
    for (size_t i = LA_TC_SMALL_BINS; i < LA_TC_BINS; i++)
        cached += (size_t)((int32_t)la_load_relaxed(&tc->bins[i].cap) -
                           bin_room(&tc->bins[i]));
    size_t pops = la_load_relaxed(&tc->nalloc), nresize = la_load_relaxed(&tc->nresize);
    size_t pushes = cached + pops + la_load_relaxed(&tc->flushed) - la_load_relaxed(&tc->refilled);
    sum->nalloc += pops + nresize;
    sum->nfree += pushes + nresize;
    sum->alloc_bytes += la_load_relaxed(&tc->alloc_bytes);
    sum->free_bytes += la_load_relaxed(&tc->free_bytes);
}

// Takes a dead thread's cache off the live list without touching its bins:
// its counters are kept (as they stand), its blocks stay where they are.
// The caller holds la.tc_lock.
static void abandon_locked(la_tcache_t *tc)
{
    tcache_counters(tc, &la.tc_retired);
    if (tc->next != NULL)
        tc->next->prev = tc->prev;
    if (tc->prev != NULL)
        tc->prev->next = tc->next;
    else
        la.tc_list = tc->next;
}

// Flushes a cache and folds its counters into the retired ones.  The
// caller holds la.tc_lock.
static void retire_locked(la_tcache_t *tc)
{
    flush_all(tc);
    publish(tc);
    abandon_locked(tc);
    tc->kind = LA_TC_DEAD;
    tc->next = la.tc_free;
    la.tc_free = tc;
}

// pthread key destructor: the thread is exiting.
LA_HOT_TEXT static void tcache_thread_exit(void *arg)
{
    la_tcache_t *tc = arg;
    // From here on this thread's frees and mallocs (other keys' destructors
    // run after ours) go straight to the heaps; no new cache is made.
    la_tc = &tcache_dead;
    lock_acquire(&la.tc_lock);
    retire_locked(tc);
    lock_release(&la.tc_lock);
    background_poke(); // what the thread held is free memory now
}

__attribute__((constructor)) static void tcache_init_process(void)
{
    la_ensure_init();
    if (pthread_key_create(&la.tc_key, tcache_thread_exit) == 0)
        __atomic_store_n(&la.tc_ready, 1, __ATOMIC_RELEASE);
}

/* ---- refill ------------------------------------------------------------- */

// Takes what other threads handed back to this thread's heap into the
// cache's bins; what does not fit is freed into the heap.  Returns
// whether `bin` got blocks.
static bool take_remote(la_tcache_t *tc, la_tbin_t *bin)
{
    void *chain = heap_take_remote(tc->heap);
    if (chain == NULL)
        return false;
    void *leftover = NULL;
    while (chain != NULL) {
        void *next = la_link_next(chain, "malloc");
        // bin_for_block trusts its req and size: check them first.
        if (LA_UNLIKELY(heap_validate_cached(chain, "free") != tc->heap->index))
            la_fatal("free", "corrupted header at %p (a block of heap %u on heap %u's remote "
                             "list)", chain, blk_heap_index(blk_from_payload(chain)),
                     tc->heap->index);
        la_tbin_t *to = bin_for_block(tc, blk_from_payload(chain));
        if (to != NULL && (bin_room(to) > 0 || grow_bin(tc, to))) {
            // Its free was counted by whoever freed it.  Stamped cached
            // again: heap_validate_cached accepts a live check word too, and
            // malloc's hit makes the live word from the cached one.
            blk_stamp_cached(blk_from_payload(chain));
            la_link_store(chain, to->head);
            to->head = chain;
            bin_add_room(to, -1);
            la_add_owned(&tc->refilled, 1);
        } else {
            la_link_store(chain, leftover);
            leftover = chain;
        }
        chain = next;
    }
    if (leftover != NULL) {
        lock_acquire(&tc->heap->lock);
        heap_free_chain(tc->heap, leftover);
        lock_release(&tc->heap->lock);
    }
    return bin->head != NULL;
}

// Takes the slots of the bin's class that other threads handed back to
// this thread's heap (one exchange) into the bin.  Returns whether the bin
// got slots.  Slots go to the bin as they came, linked already: filed one
// by one into the bin of their class, and what did not fit freed into the
// slabs and carved out again, they made half of w_pipeline's producer's
// time.  A list of up to LA_TC_ADOPT_MAX slots becomes the (empty) bin
// whole, without a walk, its length known from the list's word, even past
// the bin's room (which may grow first: the bin ran dry): its links are
// checked as the pops follow them.  The walk took one dependent
// cross-core miss per slot (each line was last written by the thread
// that freed it), 29% of w_pipeline's profile.  A longer list is walked
// up to the bin's room, and the rest goes back onto the list (or into
// the slabs).
static bool take_remote_slots(la_tcache_t *tc, la_tbin_t *bin)
{
    unsigned cls = (unsigned)(bin - tc->bins);
    uint32_t count;
    void *chain = slab_take_remote(tc->heap, cls, &count);
    if (chain == NULL)
        return false;
    int32_t n = 0;
    void *p = chain;
    if (bin->head == NULL && count <= LA_TC_ADOPT_MAX) {
        if ((int32_t)count > bin_room(bin))
            grow_bin(tc, bin); // it ran dry: it may grow towards what comes
        bin->head = chain; // the list ends with NULL, as the bin did
        n = (int32_t)count;
        p = NULL;
    } else {
        int32_t room = bin_room(bin);
        void *last = NULL;
        while (p != NULL) {
            if (n >= room) {
                if (!grow_bin(tc, bin))
                    break;
                room = bin_room(bin);
            }
            last = p;
            p = la_link_next(p, "malloc");
            n++;
        }
        if (last != NULL) {
            la_link_store(last, bin->head);
            bin->head = chain;
        }
    }
    // Its free was counted by whoever freed it.
    bin_add_room(bin, -n);
    count_moved(tc, bin, -(int64_t)n);
    // The rest back onto the list as it is when nothing was pushed since
    // (one CAS, no walk); else into their slabs.
    uint32_t rest = count == LA_SLAB_REMOTE_MANY ? count : count - (uint32_t)n;
    if (p != NULL && !slab_untake_remote(tc->heap, cls, p, rest)) {
        lock_acquire(&tc->heap->lock);
        slab_free_chain(tc->heap, p);
        lock_release(&tc->heap->lock);
    }
    return bin->head != NULL;
}

// Fills an empty slab bin with slots of this thread's heap: those other
// threads gave back, else a batch from its slabs.
static void refill_slots(la_tcache_t *tc, la_tbin_t *bin)
{
    if (bin_room(bin) <= 0 || take_remote_slots(tc, bin))
        return;
    size_t want = LA_MIN(LA_MAX((size_t)bin->cap / 2, (size_t)1), (size_t)LA_TC_BATCH_MAX);
    want = LA_MIN(want, (size_t)bin_room(bin));
    if (want == 0)
        return;
    la_heap_t *h = tc->heap;
    // Linked as they are found, the first carved at the head (used first).
    void *head = NULL;
    lock_acquire(&h->lock);
    size_t n = slab_alloc_chain(h, (unsigned)(bin - tc->bins), want, bin->head, &head);
    lock_release(&h->lock);
    if (n > 0)
        bin->head = head;
    bin_add_room(bin, -(int32_t)n);
    count_moved(tc, bin, -(int64_t)n);
}

// Fills an empty bin: from what other threads handed back to this thread's
// heap if that brings blocks of its size, else with a batch carved from the
// heap.  Leaves the bin empty only if the heap is out of memory.
LA_HOT_TEXT static void refill(la_tcache_t *tc, la_tbin_t *bin)
{
    size_t block = bin_block_bytes(tc, bin);
    tc->ran_dry[bin - tc->bins] = 1; // even if it may hold nothing yet
    if (!bin_is_medium(tc, bin))
        return refill_slots(tc, bin);
    if (bin_room(bin) <= 0 || take_remote(tc, bin))
        return;
    // Half the bin: its capacity grows only when the bin proves it swings
    // between empty and full, so a bin used now and then prefetches little.
    // A hot cache's bins all swing: they take a block at a time (config.h).
    size_t want = LA_MIN(LA_MAX((size_t)bin->cap / 2, (size_t)1), (size_t)LA_TC_BATCH_MAX);
    if (tc->medium_hot)
        want = LA_MIN(want, (size_t)LA_TC_HOT_REFILL);
    want = LA_MIN(want, (size_t)bin_room(bin));
    if (want == 0)
        return;
    la_heap_t *h = tc->heap;
    la_block_t *got[LA_TC_BATCH_MAX];
    count_miss(tc);
    lock_acquire(&h->lock);
    size_t n = heap_alloc_batch(h, block, want, got);
    // Pushed last to first, so that the first carved is used first.
    for (size_t i = n; i-- > 0;) {
        la_block_t *piece = got[i];
        piece->req = 0;
        blk_stamp_cached(piece); // its size is final now
        void *p = blk_payload(piece);
        la_link_store(p, bin->head);
        bin->head = p;
    }
    bin_add_room(bin, -(int32_t)n);
    la_add_owned(&tc->refilled, n);
    lock_release(&h->lock);
}

/* ---- slow paths --------------------------------------------------------- */

// current_cache()'s rare work: the first slow path of a thread makes its
// cache; a bumped epoch flushes it.
LA_HOT_TEXT static LA_NOINLINE la_tcache_t *current_cache_slow(la_tcache_t *tc, unsigned epoch)
{
    if (tc->kind == LA_TC_EMPTY)
        tc = tcache_create();
    // Memory is being given back (a purge or a trim bumped the epoch):
    // cached blocks are free memory too.
    if (tc->kind == LA_TC_LIVE && tc->epoch != epoch) {
        tc->epoch = epoch;
        flush_all(tc);
        cool_down(tc);
        // The decay purge of empty slabs: those the flush emptied went
        // back to the heap already; the one kept per class goes too.
        lock_acquire(&tc->heap->lock);
        debug_quiet_begin(); // Valgrind: slab memory is not the program's
        slab_purge(tc->heap);
        debug_quiet_end();
        lock_release(&tc->heap->lock);
    }
    return tc;
}

// The calling thread's cache, made if need be and flushed if the epoch
// moved.  The common case (a live or placeholder cache, same epoch) is a
// few inlined loads: out of line with the flush inlined into it, it cost
// 18 instructions a call, two calls per malloc(1 MiB) + free round
// (issue 14).  A placeholder (LA_TC_DEAD etc.) has no epoch to keep.
LA_INLINE la_tcache_t *current_cache(void)
{
    la_tcache_t *tc = la_tc;
    unsigned epoch = __atomic_load_n(&la.tc_epoch, __ATOMIC_RELAXED);
    if (LA_UNLIKELY(tc->kind == LA_TC_EMPTY || (tc->kind == LA_TC_LIVE && tc->epoch != epoch)))
        return current_cache_slow(tc, epoch);
    return tc;
}

void *tcache_malloc_corrupt(void *p) { la_link_corrupt(p, "malloc"); }

// tcache_malloc_slow()'s bin work for a request a bin serves: pop, or
// refill and pop, or a block made to the bin's class past the cache.  Out
// of line so that a request above the bins (the 1 MiB of issue 14's loop)
// pays for no registers it saves.
LA_INLINE void *malloc_from(la_tcache_t *tc, la_tbin_t *bin, size_t req);

// A medium bin that ran dry takes a cached block of one of the next
// LA_TC_MEDIUM_BORROW classes first: it is free memory already, a little
// bigger (its free brings it back to its own bin, by usable size).  That
// bin, or NULL.  Past the last bin, past_bins: empty, so no bound.
LA_INLINE la_tbin_t *borrow_bin(la_tbin_t *bin)
{
    for (la_tbin_t *up = bin + 1; up <= bin + LA_TC_MEDIUM_BORROW; up++)
        if (up->head != NULL)
            return up;
    return NULL;
}

LA_HOT_TEXT static LA_NOINLINE void *malloc_from_bin(la_tcache_t *tc, size_t req)
{
    la_tbin_t *bin = req <= LA_TC_MAX_BYTES ? tcache_bin_of(tc, req) : medium_bin_up(tc, req);
    la_tbin_t *up;
    if (bin == &tc->bins[LA_SLAB_WORD_CLASS] && tc->words_hits) {
        void *p = malloc_word(tc);
        if (p != NULL)
            return p;
        return la_alloc_direct(tc->heap, req, req, false); // no slab: a heap block, if any
    }
    if (bin->head == NULL && bin_is_medium(tc, bin) && (up = borrow_bin(bin)) != NULL) {
        tc->ran_dry[bin - tc->bins] = 1;
        bin = up;
    }
    return malloc_from(tc, bin, req);
}

// malloc_from_bin()'s pop from the bin it chose, which it refills first if
// it is empty.  Inlined (a call of its own cost a slab bin's miss six
// instructions: w_batch).
LA_INLINE void *malloc_from(la_tcache_t *tc, la_tbin_t *bin, size_t req)
{
    if (bin->head == NULL)
        refill(tc, bin);
    void *p = bin->head;
    if (p != NULL && !bin_is_medium(tc, bin)) {
        p = tcache_pop(bin, p); // the fast path's pop, check and count
        publish_lazily(tc);
        return p;
    }
    if (p != NULL) {
        bin->head = la_link_next(p, "malloc");
        bin_add_room(bin, 1);
        blk_set_req(blk_from_payload(p), req); // and a live check word
        la_add_owned(&tc->nalloc, 1);
        la_add_owned(&tc->alloc_bytes, req);
        publish_lazily(tc);
        return p;
    }
    // Even past the cache, a medium block is made its class's size: its
    // free then finds this bin, which ran dry and may now grow.  (Made
    // to size, it would go one class down to a bin that never ran dry,
    // and such requests would never be cached.)
    size_t usable = req;
    if (bin_is_medium(tc, bin)) {
        usable = bin_block_bytes(tc, bin) - LA_HEADER_BYTES;
        count_miss(tc);
    }
    return la_alloc_direct(tc->heap, req, usable, false);
}

// tcache_malloc_slow() past the 8-byte class's hit path.
LA_HOT_TEXT static LA_NOINLINE void *malloc_slow(size_t req)
{
    la_ensure_init();
    background_poke();
    la_tcache_t *tc = current_cache();
    if (req > LA_TC_MEDIUM_MAX_BYTES) // above the bins: a jump (issue 14)
        return la_malloc_big(tc->heap, req);
    if (LA_UNLIKELY(la.debug && la.slabs_on)) { // checking mode: one checked slot
        void *p = debug_slot_alloc(tc->heap, req);
        if (p != NULL)
            return p;
    }
    if (req <= LA_TC_MEDIUM_MAX_BYTES && tc->kind == LA_TC_LIVE)
        return malloc_from_bin(tc, req);
    return la_alloc_direct(tc->heap, req, req, false); // no bin serves it
}

LA_HOT_TEXT void *tcache_malloc_slow(size_t req)
{
    // The 8-byte class's hit path: its bin is always empty, so the fast
    // path sends every such request here.  A slot off the stack of a live
    // cache whose epoch holds (words_held is 0 in the placeholders and in
    // checking mode), its mark checked before it is handed out; the
    // per-call work below is left to the misses, as the fast path leaves it.
    if (req <= LA_SLAB_WORD_BYTES) {
        la_tcache_t *tc = la_tc;
        int32_t held = tc->words_held;
        if (LA_LIKELY(held > 0 && tc->epoch == __atomic_load_n(&la.tc_epoch, __ATOMIC_RELAXED)))
            return word_pop(tc, held);
    }
    return malloc_slow(req);
}

// tcache_malloc_above()'s medium miss: the bin of the request and the
// next few up are empty (tc is live).  The slow path's per-call work, then
// the refill and the pop, without finding the bin and looking for one to
// borrow from again (w_largefree's medium requests mostly miss).
LA_HOT_TEXT static LA_NOINLINE void *malloc_medium_miss(la_tcache_t *tc, la_tbin_t *bin, size_t req)
{
    background_poke();
    if (current_cache() != tc) // not while tc is live: the epoch only flushes it
        return tcache_malloc_slow(req);
    // A bin that may never hold a block (no budget for its class: above
    // what the caches of a threaded process cache): the heap at once, as
    // tcache_malloc_slow sends what is above every bin.
    if (bin->cap == 0 && medium_budget(tc, bin_block_bytes(tc, bin)) == 0) {
        count_miss(tc);
        return la_malloc_big(tc->heap, req);
    }
    return malloc_from(tc, bin, req);
}

// A request above the slab classes (malloc's past its fast path, with no
// sampler on): first, for a medium request whose bin has a block, the hit
// path (issue 13: 300 instructions a medium malloc + free pair,
// tcmalloc's 85), then tcache_malloc_slow; a slab bin's miss goes to
// tcache_malloc_slow directly, paying nothing for this.  A live
// cache made since the process was set up, out of checking mode: then
// the bin from the request by one table lookup, the pop (its link words
// checked before the link is followed, as on the slab fast path), the
// header's req and check word, and the counters.  The per-call work of
// the slow path (the set-up test, the background thread's start,
// publishing) is left to the misses, refills and flushes,
// which do it per batch, as the slab fast path does: a thread that only
// hits its bins moves its balance by at most what its bins held at its
// last slow path (docs/API.md: the peak's lag).  The check word is made
// from the cached one, the block's bare hash (blk_stamp_cached): a
// header the program overwrote while the block waited in the bin keeps
// failing at its free, where rehashing it here vouched for it.
LA_HOT_TEXT void *tcache_malloc_above(size_t req)
{
    la_tcache_t *tc = la_tc;
    // A moved epoch takes the slow path, which empties the cache: see
    // tcache_free_unslabbed.
    if (LA_LIKELY(req - (LA_TC_MAX_BYTES + 1) < LA_TC_MEDIUM_MAX_BYTES - LA_TC_MAX_BYTES &&
                  tc->medium_hits &&
                  tc->epoch == __atomic_load_n(&la.tc_epoch, __ATOMIC_RELAXED))) {
        size_t k = (req + ((size_t)1 << MEDIUM_GRAIN_LOG2) - 1) >> MEDIUM_GRAIN_LOG2;
        la_tbin_t *own = bin_at_offset(tc, medium_up[k]), *bin = own;
        uintptr_t *p = bin->head;
        if (p == NULL) {
            // Dry: a block of one of the next few classes up, as
            // malloc_from_bin borrows, else the slow path.
            if ((bin = borrow_bin(own)) == NULL)
                return malloc_medium_miss(tc, own, req);
            tc->ran_dry[own - tc->bins] = 1;
            p = bin->head;
        }
        uintptr_t next = p[1];
        if (LA_UNLIKELY((p[0] ^ next ^ la.slot_key) != (uintptr_t)p))
            return tcache_malloc_corrupt(p);
        bin->head = (void *)next;
        bin_add_room(bin, 1);
        la_block_t *b = blk_from_payload(p);
        b->req = (uint32_t)req;
        // la_check_word(hash, req), req being above LA_TC_MAX_BYTES.
        b->check = la_check_plain(blk_check(b), req) ^ LA_CHECK_BIG;
        la_add_owned(&tc->nalloc, 1);
        la_add_owned(&tc->alloc_bytes, req);
        return p;
    }
    return tcache_malloc_slow(req);
}

// Caches a validated block whose bin has room.
static void push(la_tcache_t *tc, la_block_t *b, la_tbin_t *bin)
{
    void *p = blk_payload(b);
    bin_add_room(bin, -1);
    la_link_store(p, bin->head);
    bin->head = p;
    blk_stamp_cached(b);
    la_add_owned(&tc->free_bytes, b->req);
    publish_lazily(tc);
}

// A validated medium block of another heap, whose bin has no room (a
// thread that frees what others allocated, and never allocates its size,
// has a bin that never grows): onto that heap's remote list with one CAS,
// counted as a flush counts it, where freeing it under the owner's heap
// lock met the owner's refills there (w_pipeline's bulk messages).
static void push_remote_block(la_tcache_t *tc, la_block_t *b)
{
    void *p = blk_payload(b);
    blk_stamp_cached(b);
    la_add_owned(&tc->free_bytes, b->req);
    la_add_owned(&tc->flushed, 1);
    heap_push_remote(&la.heaps[blk_heap_index(b)], p, p);
    publish_lazily(tc);
}

// A checked slot with no room in any cache: back to its slab, under the
// lock of its heap, counted there.
static void slot_free_direct(la_slab_t *s, void *p)
{
    la_heap_t *h = s->heap;
    size_t size = s->size;
    lock_acquire(&h->lock);
    h->counters.nfree++;
    h->counters.free_bytes += size;
    slab_free(h, p, "free");
    lock_release(&h->lock);
    stats_usage_publish(-(int64_t)size);
}

static void push_slot(la_tcache_t *tc, la_tbin_t *bin, void *p)
{
    bin_add_room(bin, -1);
    la_link_store(p, bin->head);
    bin->head = p;
    publish_lazily(tc);
}

// The name a misuse report gives: free's, or a sized operator delete's.
static const char *free_name(size_t delete_size)
{
    return delete_size != 0 ? "operator delete" : "free";
}

// Checking mode: a sized operator delete must be given the size the block
// was allocated with (C++14's sized deallocation passes the static type's
// size, so another size is a delete through the wrong type: a base class
// without a virtual destructor, a cast).  Checking mode knows the request
// exactly; outside it a slot knows only its class, and the size is not
// checked.  A misuse of p (a second delete, a foreign pointer) is named
// first.
static LA_NOINLINE LA_COLD void check_delete_size(const void *p, size_t size)
{
    size_t req = la_usable_size_slow(p, "operator delete");
    if (LA_UNLIKELY(req != size))
        la_fatal("operator delete",
                 "size mismatch at %p: deleted as %zu bytes, allocated as %zu (a delete through "
                 "the wrong type?)",
                 p, size, req);
}

// Checking mode's free of slot p of s: every free comes here in that mode.
static void checked_slot_free(la_slab_t *s, void *p, size_t delete_size)
{
    if (delete_size != 0)
        check_delete_size(p, delete_size);
    debug_slot_free(s, p, free_name(delete_size));
}

// A slot the fast path found sound, whose bin is full or whose thread has
// no live cache (a placeholder: nothing of it is written); or an 8-byte
// slot past its hit path (tcache_free_slow), which slab_check found sound.
//
// A thread's first free comes here, before it has a cache, and is often of
// a block its creator handed it at start.  Cached, that slot would be the
// thread's next allocation of its class: a neighbour of the blocks its
// creator gave the other threads, written by this thread for its whole
// life while they write theirs (w_falseshare passive: 1.45x mimalloc's
// time, whose free never reuses another thread's slot).  So a new cache
// does not start with another heap's slot; it goes back to its slab.  The
// test is on this path only: the fast path costs nothing more.
LA_HOT_TEXT void tcache_free_full(void *p, size_t delete_size, la_slab_t *s)
{
    if (LA_UNLIKELY(la.debug)) // checking mode: checked, poisoned, held
        return checked_slot_free(s, p, delete_size);
    bool first = la_tc->kind == LA_TC_EMPTY;
    la_tcache_t *tc = current_cache();
    la_tbin_t *bin = &tc->bins[s->cls];
    bool foreign_first = LA_UNLIKELY(first) && s->heap != tc->heap;
    if (s->cls == LA_SLAB_WORD_CLASS && tc->words_hits && !foreign_first)
        free_word(tc, p);
    else if (tc->kind == LA_TC_LIVE && !foreign_first &&
             (bin_room(bin) > 0 || make_room(tc, bin)))
        push_slot(tc, bin, p);
    else
        slot_free_direct(s, p);
    // A flush (and its publishing) may be what makes the background thread
    // due (LA_BG_START_FREED_BYTES): a program that frees its small blocks
    // and goes idle makes no other call that would start it.
    background_poke();
}

// A full medium bin's spill: a block serves every smaller class too, so
// one of the next LA_TC_MEDIUM_SPILL classes down with room takes it
// before the bin flushes to the heap.  That bin, or NULL.
LA_INLINE la_tbin_t *spill_bin(la_tcache_t *tc, la_tbin_t *bin)
{
    la_tbin_t *low = &tc->bins[LA_TC_SMALL_BINS];
    for (la_tbin_t *down = bin - 1; down >= low && down >= bin - LA_TC_MEDIUM_SPILL; down--)
        if (bin_room(down) > 0)
            return down;
    return NULL;
}

// A validated heap block whose req a medium bin may take, and its bin
// (bin_for_block's, NULL if none takes it): into that bin, else to its
// heap.  tc is the calling thread's cache (current_cache()).  spill: a
// full bin's block may go to a class below (false: the caller looked).
LA_HOT_TEXT static void free_medium_to(la_tcache_t *tc, la_block_t *b, la_tbin_t *bin, bool spill)
{
    la_tbin_t *down;
    if (spill && bin != NULL && bin_room(bin) <= 0 && (down = spill_bin(tc, bin)) != NULL)
        bin = down;
    // A full bin that may not grow keeps what it holds, and a block of
    // this thread's heap goes to the heap itself, now: flushing the bin's
    // oldest block instead (make_room) and caching this one took a second
    // header check, the flush's walk and a re-link for the same one trip
    // under the lock, to a heap that then coalesced a cold block where
    // this one is in cache.  Medium bins mostly hold one or two blocks
    // (LA_TC_MEDIUM_TOTAL_BYTES), so that was most of their flushes:
    // callgrind w_fragment 0.5 226.0 -> 224.0 M instructions, w_largefree
    // 0.25 1 1000 74.1 -> 63.7 M.  Other heaps' blocks still make room,
    // which sends them back in chains, one CAS per heap.
    bool local = blk_heap_index(b) == tc->heap->index;
    if (bin != NULL && (bin_room(bin) > 0 || (local ? grow_bin(tc, bin) : make_room(tc, bin))))
        push(tc, b, bin);
    else if (bin != NULL && la.options.tcache && !local)
        push_remote_block(tc, b);
    else {
        if (bin != NULL)
            count_trip(tc);
        la_free_block(b);
    }
    background_poke();
}

LA_HOT_TEXT static LA_NOINLINE void free_medium(la_block_t *b)
{
    la_tcache_t *tc = current_cache();
    free_medium_to(tc, b, tc->kind == LA_TC_LIVE ? bin_for_block(tc, b) : NULL, true);
}

// The hit path's block whose bin is full (tc live, b validated, bin its
// bin_for_block, or past_bins where that is NULL) and whose classes below
// had no room either: the slow path's growth or flush, without a second
// header check, bin lookup and spill (w_largefree's medium frees mostly
// overflow).
LA_HOT_TEXT static LA_NOINLINE void free_medium_full(la_tcache_t *tc, la_block_t *b, la_tbin_t *bin)
{
    // No bin takes it (MEDIUM_NO_BIN), or (not while tc is live: the
    // epoch only flushes it) the thread's cache changed.
    if (bin == tc->past_bins || current_cache() != tc)
        return free_medium(b);
    free_medium_to(tc, b, bin, false);
}

// tcache_free_unslabbed() past its medium hit: a guarded block, any other
// heap block, a large one, a misuse (named by la_validate).
LA_HOT_TEXT static LA_NOINLINE void free_unslabbed_slow(void *p, size_t delete_size)
{
    if (LA_UNLIKELY(delete_size != 0 && la.debug))
        check_delete_size(p, delete_size);
    if (LA_UNLIKELY(guard_owns(p))) // a guarded block has no header (guard.c)
        return guard_free(p, __builtin_return_address(0), free_name(delete_size));
    la_block_t *b = la_validate(p, free_name(delete_size));
    // Above the bins, or large: no cache.  The background thread's start
    // comes after the free (before it, the new thread's first blocks went
    // beside the block being freed, not into it: issue 14), here as the
    // free may be what makes it due (LA_BG_START_FREED_BYTES) and the
    // program's last call before it goes idle.
    if (b->req > LA_TC_MEDIUM_MAX_BYTES) {
        la_free_block(b);
        background_poke();
        return;
    }
    return free_medium(b);
}

// The free of a pointer in no slab; first, the free of a medium block
// (issue 13: 300 instructions a medium malloc + free pair, tcmalloc's 85).
// A live cache out of checking mode, a pointer aligned as blocks are, and
// a header whose req a medium bin takes: then every test of la_validate's
// inline one (la_block_sound) is made before anything is written: the
// keyed check word (a live medium block's: la_check_word with
// LA_CHECK_BIG), the flags, the heap index, the right neighbour's
// boundary tag; the size's upper bound follows from the table's (static
// assert above medium_up).  The bin comes from one table lookup on the
// size the check word vouched for (bin_for_block's), and the push stores
// the hash just computed as the cached check word (blk_stamp_cached).
// Publishing and the background thread's start are left to the slow
// paths, as on malloc's hit; a moved epoch goes there too.  Anything
// else, a misuse included, takes free_unslabbed_slow, which validates and
// names it; a full bin free_medium_full.  The guard test comes first: a guarded block may
// start its page, whose header would be on the guard page before it.
LA_HOT_TEXT void tcache_free_unslabbed(void *p, size_t delete_size)
{
    if (p == NULL)
        return;
    la_tcache_t *tc = la_tc;
    // A moved epoch (memory is being given back) sends the call to the
    // slow path, which empties the cache first, as every allocator call
    // did before the hit paths: w_return 1 1 idle's first call after its
    // wait (printf's buffer, a medium block) left the bins full, 2,544 KiB
    // resident where it had been 1,784 (glibc 1,800).
    if (LA_LIKELY(!guard_owns(p) && (uintptr_t)p % ALIGNMENT == 0 && tc->medium_hits &&
                  tc->epoch == __atomic_load_n(&la.tc_epoch, __ATOMIC_RELAXED))) {
        la_block_t *b = blk_from_payload(p);
        uint32_t req = blk_req(b);
        // Big and large blocks leave here, before the hash.
        if (LA_LIKELY(req - (uint32_t)(LA_TC_MAX_BYTES + 1) <
                      (uint32_t)(LA_TC_MEDIUM_MAX_BYTES - LA_TC_MAX_BYTES))) {
            size_t head = blk_load_head(b), size = head & LA_SIZE_MASK;
            uint32_t hash = blk_hash(b, head, la.key);
            size_t k = (size - LA_HEADER_BYTES) >> MEDIUM_GRAIN_LOG2; // usable, in grains
            if (LA_LIKELY(blk_check(b) == (la_check_plain(hash, req) ^ LA_CHECK_BIG) &&
                          k < MEDIUM_DOWN_LEN && blk_in_use_sound(b, head, size))) {
                la_tbin_t *bin = bin_at_offset(tc, medium_down[k]);
                // Full: spilled here, as free_medium_to spills (half of
                // w_fragment's medium frees met a full bin, and a call
                // there paid for the cache's epoch, a second hash, and
                // publishing); else free_medium_full grows or flushes.
                // MEDIUM_NO_BIN's blocks, below the first class, go there
                // straight (past_bins: always full, no ran_dry entry): no
                // bin's blocks may be smaller than its class.  So does the
                // block of a hot cache's bin that ran dry since it last
                // overflowed, to grow there (grow_bin_as): spilled, it hid
                // that the bin swings, which then never grew (config.h,
                // LA_TC_MEDIUM_BORROW).
                if (LA_UNLIKELY(bin_room(bin) <= 0)) {
                    la_tbin_t *down = NULL;
                    if (bin != tc->past_bins && !(tc->medium_hot & tc->ran_dry[bin - tc->bins]))
                        down = spill_bin(tc, bin);
                    if (down == NULL)
                        return free_medium_full(tc, b, bin);
                    bin = down;
                }
                bin_add_room(bin, -1);
                la_link_store(p, bin->head);
                bin->head = p;
                b->check = hash; // blk_stamp_cached
                la_add_owned(&tc->free_bytes, req);
                return;
            }
        }
    }
    return free_unslabbed_slow(p, delete_size);
}

// tcache_free_slow() past the 8-byte class's hit path.
LA_HOT_TEXT static LA_NOINLINE void free_slow_slot(void *p, size_t delete_size, la_slab_t *s)
{
    if (LA_UNLIKELY(la.debug)) // checking mode: a payload inside its slot
        return checked_slot_free(s, p, delete_size);
    slab_check(s, p, free_name(delete_size)); // names the misuse and aborts
    return tcache_free_full(p, delete_size, s);
}

// Every free of the 8-byte class comes here (slab_free_limit), to its hit
// path, before the frame the rest needs: a slot handed out, in a slab with
// no page purged (where a free slot reads zero, not its mark: the rest
// asks the bitmap), not marked (a second free: named by slab_check), onto
// the stack of a live cache that has room and whose epoch holds.  As cheap
// as a push onto a bin, it made a malloc(8) + free pair 104 instructions
// where the way through slab_check and tcache_free_full took 143, and
// through those and free_word 211 (callgrind, a loop of them, its own
// instructions included; ins_loop's tiny pair, loop subtracted: 87).
LA_HOT_TEXT void tcache_free_slow(void *p, size_t delete_size, la_slab_t *s)
{
    if (s->cls == LA_SLAB_WORD_CLASS) {
        la_tcache_t *tc = la_tc;
        int32_t held = tc->words_held;
        if (LA_LIKELY(slab_slot_index(s, p) < __atomic_load_n(&s->carved, __ATOMIC_RELAXED) &&
                      la_load_relaxed(&s->purged) == 0 && tc->words_hits &&
                      held < tc->words_cap &&
                      !la_word_marked(p) &&
                      tc->epoch == __atomic_load_n(&la.tc_epoch, __ATOMIC_RELAXED)))
            return word_push(tc, held, p);
    }
    return free_slow_slot(p, delete_size, s);
}

/* ---- services for the rest of the allocator ----------------------------- */

void tcache_publish_current(void)
{
    la_tcache_t *tc = la_tc;
    if (tc->kind == LA_TC_LIVE)
        publish(tc);
}

void tcache_flush_current(void)
{
    la_tcache_t *tc = la_tc;
    if (tc->kind == LA_TC_LIVE) {
        flush_all(tc);
        publish(tc);
    }
}

void tcache_sum_counters(la_counters_t *sum)
{
    lock_acquire(&la.tc_lock);
    la_counters_add(sum, &la.tc_retired);
    for (la_tcache_t *tc = la.tc_list; tc != NULL; tc = tc->next)
        tcache_counters(tc, sum);
    lock_release(&la.tc_lock);
}

// Calls visit(tc, i, n, arg) for each bin i of every live cache that holds
// n > 0 blocks, under la.tc_lock (the bins' counts read relaxed: a thread
// changes its own while this runs).
static void for_each_held_bin(void (*visit)(la_tcache_t *, size_t, size_t, void *), void *arg)
{
    lock_acquire(&la.tc_lock);
    for (la_tcache_t *tc = la.tc_list; tc != NULL; tc = tc->next)
        for (size_t i = 0; i < LA_TC_BINS; i++) {
            int64_t n = bin_held(tc, i);
            if (n > 0)
                visit(tc, i, (size_t)n, arg);
        }
    lock_release(&la.tc_lock);
}

static void add_by_class(la_tcache_t *tc, size_t i, size_t n, void *arg)
{
    la_class_stats_t *out = arg;
    size_t block = bin_block_bytes(tc, &tc->bins[i]);
    out[bins_class(block)].cached_blocks += n;
    out[bins_class(block)].cached_bytes += n * block;
}

void tcache_by_class(la_class_stats_t out[NUM_SIZE_CLASSES])
{
    for_each_held_bin(add_by_class, out);
}

typedef struct {
    size_t *slots, *block_bytes;
} cached_sums_t;

static void add_cached(la_tcache_t *tc, size_t i, size_t n, void *arg)
{
    cached_sums_t *sums = arg;
    if (i < LA_TC_SMALL_BINS)
        sums->slots[i] += n;
    else
        *sums->block_bytes += n * bin_block_bytes(tc, &tc->bins[i]);
}

void tcache_cached_slots(size_t slots[LA_SLAB_CLASSES], size_t *block_bytes)
{
    cached_sums_t sums = {slots, block_bytes};
    for_each_held_bin(add_cached, &sums);
}

void tcache_lock_all(void) { lock_acquire(&la.tc_lock); }
void tcache_unlock_all(void) { lock_release(&la.tc_lock); }

void tcache_after_fork_child(void)
{
    // Only the forking thread survives.  The other threads' caches are
    // theirs alone, changed without any lock, and fork may have caught one
    // halfway through a push or a pop (a link that still points at a block
    // that is live again): flushing them handed blocks out twice (issue
    // 12).  Their blocks are left where they are, as glibc leaves other
    // threads' tcaches; the structs are not reused either, since their
    // bins still name those blocks.
    la_tcache_t *self = la_tc;
    la_tcache_t *tc = la.tc_list;
    while (tc != NULL) {
        la_tcache_t *next = tc->next;
        if (tc != self)
            abandon_locked(tc);
        tc = next;
    }
}
