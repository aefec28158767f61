/*
 * stats.c: the statistics.  Counters live where they are updated (each heap
 * under its lock, each thread cache by its thread, large blocks in relaxed
 * atomics); a snapshot sums them.  current_usage is that exact sum.  The
 * peak follows la.usage, which the direct paths update on every call and
 * thread caches on each of their slow paths, so it is exact to within one
 * cache batch per thread; a snapshot also raises it to the exact current
 * usage.  mem_reset records a baseline that later snapshots subtract, so no
 * counter is ever written by two owners.  Printing goes through log.c.
 */
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
    add_counters(&sum, &la.large_counters);
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
    s.current_usage = sum.alloc_bytes - sum.free_bytes;
    raise_peak(s.current_usage);
    s.peak_usage = la_load_relaxed(&la.peak);
    s.heap_size = heap_bytes;
    lock_acquire(&la.large_lock);
    s.mmap_bytes = la.large_bytes;
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
               "  released_bytes   %16zu\n",
               s->num_mmaps, s->num_munmaps, s->heap_size, s->mmap_bytes, s->num_heaps,
               s->large_cached, s->large_cache_bytes, s->num_purges, s->released_bytes);
}

void mem_print_stats(void)
{
    mem_stats_t s = mem_get_stats();
    stats_print(&s);
}

// ALLOCATOR_STATS: the report at exit.  A destructor runs after the
// program's atexit handlers; whatever allocates after it still works.
__attribute__((destructor)) static void stats_at_exit(void)
{
    if (__atomic_load_n(&la.ready, __ATOMIC_ACQUIRE) && la.options.stats)
        mem_print_stats();
}
