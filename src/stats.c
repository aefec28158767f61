// SPDX-License-Identifier: MIT
/*
 * stats.c: the statistics.  Counters live where they are updated (each heap
 * under its lock, each thread cache by its thread with relaxed atomic
 * stores, large blocks under la.large_lock); a snapshot sums them, each set
 * under its lock or with relaxed loads.  current_usage is that exact sum.  The
 * peak follows la.usage, which the direct paths update on every call and
 * thread caches once their balance moved LA_TC_PUBLISH_BYTES, so it is
 * exact to within a cache and that much per thread; a snapshot also raises
 * it to the current usage it summed (exact when no other thread runs).  mem_reset records a baseline that later
 * snapshots subtract, so no counter is ever written by two owners.
 * Printing goes through log.c.
 */
#include <stdarg.h>

#include "tcache.h"

#include "allocator.h"

// Raises the peak to `now` if it is higher.
static void raise_peak(size_t now)
{
    size_t peak = la_load_relaxed(&la.peak);
    while (now > peak && !__atomic_compare_exchange_n(&la.peak, &peak, now, true,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

void stats_usage_publish(int64_t delta)
{
    if (delta == 0)
        return;
    // Thread caches publish late, so the sum may dip below zero for a while.
    int64_t now = __atomic_add_fetch(&la.usage, delta, __ATOMIC_RELAXED);
    if (delta > 0 && now > 0)
        raise_peak((size_t)now);
}

static void add_counters(la_counters_t *sum, const la_counters_t *c)
{
    sum->alloc_bytes += la_load_relaxed(&c->alloc_bytes);
    sum->free_bytes += la_load_relaxed(&c->free_bytes);
    sum->nalloc += la_load_relaxed(&c->nalloc);
    sum->nfree += la_load_relaxed(&c->nfree);
    sum->splits += la_load_relaxed(&c->splits);
    sum->coalesces += la_load_relaxed(&c->coalesces);
}

// Sums every counter set of the process (no baseline applied).
static mem_stats_t raw_snapshot(void)
{
    tcache_publish_current(); // exact for a single-threaded caller
    la_counters_t sum = {0};
    size_t heap_bytes = 0;
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++) {
        la_heap_t *h = &la.heaps[i];
        lock_acquire(&h->lock);
        add_counters(&sum, &h->counters);
        heap_bytes += h->region_bytes;
        lock_release(&h->lock);
    }
    // Under the lock its writers hold: large_realloc adjusts nalloc and
    // nfree with plain stores, in pairs that cancel out before it unlocks.
    lock_acquire(&la.large_lock);
    add_counters(&sum, &la.large_counters);
    lock_release(&la.large_lock);
    tcache_sum_counters(&sum);
    mem_stats_t s = {0};
    s.total_allocated = sum.alloc_bytes;
    s.total_freed = sum.free_bytes;
    s.num_allocations = sum.nalloc;
    s.num_frees = sum.nfree;
    s.num_splits = sum.splits;
    s.num_coalesces = sum.coalesces;
    s.num_mmaps = la_load_relaxed(&la.num_mmaps);
    s.num_munmaps = la_load_relaxed(&la.num_munmaps);
    // The sets are summed one after the other while other threads run: a
    // block allocated after its allocator's counters were read and freed
    // before its freer's were shows as freed only.  Such a sum says 0 and
    // leaves the peak alone (it wrapped to near 2^64 and raised the peak
    // there for good: issue 12).
    bool behind = sum.free_bytes > sum.alloc_bytes;
    s.current_usage = behind ? 0 : sum.alloc_bytes - sum.free_bytes;
    if (!behind)
        raise_peak(s.current_usage);
    s.peak_usage = la_load_relaxed(&la.peak);
    s.heap_size = heap_bytes;
    lock_acquire(&la.large_lock);
    s.mmap_bytes = la.large_bytes;
    s.num_large = la.large_count;
    s.large_cached = la.large_cache_count;
    s.large_cache_bytes = la.large_cache_bytes;
    lock_release(&la.large_lock);
    s.num_heaps = n;
    s.num_purges = la_load_relaxed(&la.num_purges);
    s.released_bytes = la_load_relaxed(&la.released_bytes);
    return s;
}

mem_stats_t mem_get_stats(void)
{
    la_ensure_init();
    mem_stats_t s = raw_snapshot();
    lock_acquire(&la.stats_lock);
    const mem_stats_t *base = &la.reset_base;
    s.total_allocated -= base->total_allocated;
    s.total_freed -= base->total_freed;
    s.num_allocations -= base->num_allocations;
    s.num_frees -= base->num_frees;
    s.num_splits -= base->num_splits;
    s.num_coalesces -= base->num_coalesces;
    s.num_mmaps -= base->num_mmaps;
    s.num_munmaps -= base->num_munmaps;
    s.num_purges -= base->num_purges;
    s.released_bytes -= base->released_bytes;
    lock_release(&la.stats_lock);
    return s;
}

void mem_reset(void)
{
    la_ensure_init();
    mem_stats_t s = raw_snapshot();
    lock_acquire(&la.stats_lock);
    la.reset_base = s;
    lock_release(&la.stats_lock);
    // The peak restarts from what is live now.
    __atomic_store_n(&la.peak, s.current_usage, __ATOMIC_RELAXED);
}

void stats_print(const mem_stats_t *s)
{
    log_printf("liballocator statistics (pid %d)\n"
               "  total_allocated  %16zu\n"
               "  total_freed      %16zu\n"
               "  current_usage    %16zu\n"
               "  peak_usage       %16zu\n"
               "  num_allocations  %16zu\n"
               "  num_frees        %16zu\n"
               "  num_splits       %16zu\n"
               "  num_coalesces    %16zu\n",
               os_getpid(), s->total_allocated, s->total_freed, s->current_usage, s->peak_usage,
               s->num_allocations, s->num_frees, s->num_splits, s->num_coalesces);
    log_printf("  num_mmaps        %16zu\n"
               "  num_munmaps      %16zu\n"
               "  heap_size        %16zu\n"
               "  mmap_bytes       %16zu\n"
               "  num_heaps        %16zu\n"
               "  large_cached     %16zu\n"
               "  large_cache_bytes %15zu\n"
               "  num_purges       %16zu\n"
               "  released_bytes   %16zu\n"
               "  num_large        %16zu\n",
               s->num_mmaps, s->num_munmaps, s->heap_size, s->mmap_bytes, s->num_heaps,
               s->large_cached, s->large_cache_bytes, s->num_purges, s->released_bytes,
               s->num_large);
    // Per slab class: slots handed out by the slabs (live, or waiting in
    // a thread cache) of the slots their slabs hold.
    la_slab_stats_t slabs[LA_SLAB_CLASSES];
    slab_stats(slabs);
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++)
        if (slabs[c].slabs != 0)
            log_printf("  slab class %4u B: %6zu slabs %9zu of %9zu slots in use, %12zu bytes\n",
                       la_sizeclasses[c].size, slabs[c].slabs, slabs[c].used_slots,
                       slabs[c].slots, slabs[c].used_slots * la_sizeclasses[c].size);
    if (__atomic_load_n(&la.prof_on, __ATOMIC_ACQUIRE)) {
        size_t samples, sites, table_bytes;
        prof_stats(&samples, &sites, &table_bytes);
        log_printf("  prof_samples     %16zu\n"
                   "  prof_sites       %16zu\n"
                   "  prof_table_bytes %16zu\n",
                   samples, sites, table_bytes);
    }
}

void mem_print_stats(void)
{
    mem_stats_t s = mem_get_stats();
    stats_print(&s);
}

void stats_by_class(la_class_stats_t out[NUM_SIZE_CLASSES])
{
    for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++)
        out[c] = (la_class_stats_t){0};
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++) {
        la_heap_t *h = &la.heaps[i];
        debug_quiet_begin(); // free blocks are not the program's memory
        lock_acquire(&h->lock);
        for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++)
            for (la_free_t *f = h->bins[c]; f != NULL; f = f->next) {
                out[c].free_blocks++;
                out[c].free_bytes += blk_size((la_block_t *)f);
            }
        for (la_tnode_t *t = tree_first(h->tree); t != NULL; t = tree_next(t)) {
            out[NUM_SIZE_CLASSES - 1].free_blocks++;
            out[NUM_SIZE_CLASSES - 1].free_bytes += blk_size((la_block_t *)t);
        }
        lock_release(&h->lock);
        debug_quiet_end();
    }
    tcache_by_class(out);
}

// A bounded string builder over a stack buffer, for the JSON report.
typedef struct {
    char buf[8192];
    size_t len;
} text_t;

static void add(text_t *t, const char *fmt, ...) LA_PRINTF(2, 3);
static void add(text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    t->len += log_format(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
    va_end(ap);
}

// One JSON object, on one line, in one write: the statistics, the size
// classes and the options in effect.  "version" is MEM_STATS_VERSION.
static void stats_print_json(const mem_stats_t *s)
{
    la_class_stats_t classes[NUM_SIZE_CLASSES];
    stats_by_class(classes);
    text_t t = {.len = 0};
    add(&t, "{\"liballocator\":{\"version\":%d,\"pid\":%d", MEM_STATS_VERSION, os_getpid());
    add(&t, ",\"total_allocated\":%zu,\"total_freed\":%zu,\"current_usage\":%zu", s->total_allocated,
        s->total_freed, s->current_usage);
    add(&t, ",\"peak_usage\":%zu,\"num_allocations\":%zu,\"num_frees\":%zu", s->peak_usage,
        s->num_allocations, s->num_frees);
    add(&t, ",\"num_splits\":%zu,\"num_coalesces\":%zu,\"num_mmaps\":%zu,\"num_munmaps\":%zu",
        s->num_splits, s->num_coalesces, s->num_mmaps, s->num_munmaps);
    add(&t, ",\"heap_size\":%zu,\"mmap_bytes\":%zu,\"num_heaps\":%zu", s->heap_size,
        s->mmap_bytes, s->num_heaps);
    add(&t, ",\"large_cached\":%zu,\"large_cache_bytes\":%zu,\"num_purges\":%zu", s->large_cached,
        s->large_cache_bytes, s->num_purges);
    add(&t, ",\"released_bytes\":%zu,\"num_large\":%zu,\"size_classes\":[", s->released_bytes,
        s->num_large);
    for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++) {
        la_class_stats_t *k = &classes[c];
        // max_bytes 0: the last class, without an upper bound.
        size_t max = c + 1 < NUM_SIZE_CLASSES ? (size_t)MIN_BLOCK_SIZE << c : 0;
        add(&t, "%s{\"class\":%u,\"max_block_bytes\":%zu,\"free_blocks\":%zu,\"free_bytes\":%zu", c ? "," : "",
            c, max, k->free_blocks, k->free_bytes);
        add(&t, ",\"cached_blocks\":%zu,\"cached_bytes\":%zu}", k->cached_blocks, k->cached_bytes);
    }
    // Every slab class, used or not, so that readers see a fixed shape.
    la_slab_stats_t slabs[LA_SLAB_CLASSES];
    slab_stats(slabs);
    add(&t, "],\"slab_classes\":[");
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++) {
        la_slab_stats_t *k = &slabs[c];
        add(&t, "%s{\"slot_bytes\":%u,\"slabs\":%zu,\"empty_slabs\":%zu,\"slots\":%zu", c ? "," : "",
            la_sizeclasses[c].size, k->slabs, k->empty_slabs, k->slots);
        add(&t, ",\"used_slots\":%zu,\"used_bytes\":%zu}", k->used_slots,
            k->used_slots * la_sizeclasses[c].size);
    }
    add(&t, "]");
    if (__atomic_load_n(&la.prof_on, __ATOMIC_ACQUIRE)) {
        size_t samples, sites, table_bytes;
        prof_stats(&samples, &sites, &table_bytes);
        add(&t, ",\"prof_samples\":%zu,\"prof_sites\":%zu,\"prof_table_bytes\":%zu", samples,
            sites, table_bytes);
    }
    add(&t, "}}\n");
    os_write_stderr(t.buf, LA_MIN(t.len, sizeof t.buf - 1));
}

// ALLOCATOR_STATS: the report at exit.  A destructor runs after the
// program's atexit handlers; whatever allocates after it still works.
__attribute__((destructor)) static void stats_at_exit(void)
{
    if (!__atomic_load_n(&la.ready, __ATOMIC_ACQUIRE) || !la.options.stats)
        return;
    mem_stats_t s = mem_get_stats();
    if (la.options.stats == LA_STATS_JSON)
        stats_print_json(&s);
    else
        stats_print(&s);
}
