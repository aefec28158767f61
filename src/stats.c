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
#include <stddef.h>

#include "tcache.h"

#include "allocator.h"

// Raises the peak to `now` if it is higher (hot: every run publishes, see
// src/layout.ld).  A single-threaded process
// needs no compare-and-swap: in checking mode, where every allocation
// publishes, the locked instruction waited on the junk and canary stores
// before it, once per allocation while a program's usage grows (issue 15).
LA_HOT_TEXT void stats_raise_peak(size_t now)
{
    size_t peak = la_load_relaxed(&la.peak);
    if (now > peak && la_single_threaded()) {
        la_store_relaxed(&la.peak, now);
        return;
    }
    while (now > peak && !__atomic_compare_exchange_n(&la.peak, &peak, now, true,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

LA_HOT_TEXT void stats_usage_publish(int64_t delta)
{
    if (delta == 0)
        return;
    // Thread caches publish late, so the sum may dip below zero for a while.
    // A single-threaded process needs no locked add (one per big block).
    int64_t now;
    if (la_single_threaded())
        la_store_relaxed(&la.usage, now = la_load_relaxed(&la.usage) + delta);
    else
        now = __atomic_add_fetch(&la.usage, delta, __ATOMIC_RELAXED);
    if (delta > 0 && now > 0)
        stats_raise_peak((size_t)now);
}

// The bytes of h's regions in RAM now, asked of the kernel (mincore): an
// exact figure of what the heap holds resident, where released_bytes only
// adds up every madvise, trim and unmap, counting the same pages again
// each time they are reused and given back (issue 17: 2.2 TB released for
// a 187 MB heap with ALLOCATOR_DECAY_MS=0).  Pages given back, and pages
// never touched, are not resident.  One mincore call per 4 MiB of region
// (LA_MINCORE_VECTOR_BYTES), nothing per block.  The caller holds h's lock,
// so no region goes away meanwhile.
static size_t heap_resident_bytes(la_heap_t *h)
{
    size_t bytes = 0;
    for (la_region_t *r = h->regions; r != NULL; r = r->next)
        bytes += os_resident_range(r, r->bytes);
    return bytes;
}

// Sums every counter set of the process (no baseline applied); asks the
// kernel for heap_resident_bytes only when `resident`.
static mem_stats_t raw_snapshot(bool resident_wanted)
{
    tcache_publish_current(); // exact for a single-threaded caller
    la_counters_t sum = {0};
    size_t heap_bytes = 0, resident = 0;
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++) {
        la_heap_t *h = &la.heaps[i];
        lock_acquire(&h->lock);
        la_counters_add(&sum, &h->counters);
        // Checking mode: frees of blocks still in its quarantine.
        la_counters_add(&sum, &la.quarantines[i].counters);
        heap_bytes += h->region_bytes;
        if (resident_wanted)
            resident += heap_resident_bytes(h);
        lock_release(&h->lock);
    }
    // Under the lock its writers hold: large_realloc adjusts nalloc and
    // nfree with plain stores, in pairs that cancel out before it unlocks.
    lock_acquire(&la.large_lock);
    la_counters_add(&sum, &la.large_counters);
    lock_release(&la.large_lock);
    tcache_sum_counters(&sum);
    guard_sum_counters(&sum);
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
        stats_raise_peak(s.current_usage);
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
    s.heap_resident_bytes = resident;
    return s;
}

mem_stats_t stats_get(bool resident)
{
    la_ensure_init();
    mem_stats_t s = raw_snapshot(resident);
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

mem_stats_t mem_get_stats(void) { return stats_get(true); }

void mem_reset(void)
{
    la_ensure_init();
    mem_stats_t s = raw_snapshot(false);
    lock_acquire(&la.stats_lock);
    la.reset_base = s;
    lock_release(&la.stats_lock);
    // The peak restarts from what is live now.
    __atomic_store_n(&la.peak, s.current_usage, __ATOMIC_RELAXED);
}

void mem_print_stats(void)
{
    mem_stats_t s = mem_get_stats();
    stats_print(&s);
}

void stats_by_class(la_class_stats_t out[NUM_SIZE_CLASSES], size_t *top_bytes)
{
    for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++)
        out[c] = (la_class_stats_t){0};
    *top_bytes = 0;
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
        if (h->top != NULL)
            *top_bytes += blk_size(h->top);
        lock_release(&h->lock);
        debug_quiet_end();
    }
    tcache_by_class(out);
}

/* ---- the reports --------------------------------------------------------- */

// A bounded string builder over a stack buffer: each report is formatted
// whole and written in one write(2), so that the reports of processes
// sharing a stderr (or a file) do not interleave.
typedef struct {
    char buf[LA_REPORT_BUFFER_BYTES];
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

// The fields of mem_stats_t in report order; `bytes` fields also get a
// human-readable size in the text report.
typedef struct {
    const char *name;
    size_t offset;
    bool bytes;
} field_t;

#define STAT(f, bytes) {#f, offsetof(mem_stats_t, f), bytes}
static const field_t fields[] = {
    STAT(total_allocated, true),   STAT(total_freed, true),    STAT(current_usage, true),
    STAT(peak_usage, true),        STAT(num_allocations, false), STAT(num_frees, false),
    STAT(num_splits, false),       STAT(num_coalesces, false), STAT(num_mmaps, false),
    STAT(num_munmaps, false),      STAT(heap_size, true),      STAT(mmap_bytes, true),
    STAT(num_heaps, false),        STAT(large_cached, false),  STAT(large_cache_bytes, true),
    STAT(num_purges, false),       STAT(released_bytes, true), STAT(num_large, false),
    STAT(heap_resident_bytes, true),
};
#undef STAT

static size_t field_value(const mem_stats_t *s, const field_t *f)
{
    return *(const size_t *)((const char *)s + f->offset);
}

// One line of the text report: the name, the number right-aligned at
// column 35 (as gdb's `heap stats`), and for sizes the same in KiB/MiB/GiB.
static void add_row(text_t *t, const char *name, size_t value, bool bytes)
{
    int pad = 32 - (int)__builtin_strlen(name);
    add(t, "  %s %*zu", name, pad > 0 ? pad : 1, value);
    if (bytes) {
        char human[32];
        log_format_bytes(human, sizeof human, value);
        add(t, "  (%s)", human);
    }
    add(t, "\n");
}

// Where the bytes of the heaps are, by what holds them (the reports' slot_*
// and block_* rows; gdb's `heap map` draws the same states): slab slots
// live, in a thread cache, on a heap's remote list (freed by another
// thread, not taken back yet), free in their slab after use, never handed
// out (no page touched for them but the slab's first); heap blocks in a
// thread cache, and free in a heap (on its lists and tree, and its top).
// The rest of heap_size is live heap blocks and their headers, slab
// headers, colours and ends, region headers and fences, and blocks other
// threads freed that their heap has not taken back yet.
typedef struct {
    size_t slot_live, slot_cached, slot_remote, slot_free, slot_unused, block_cached, block_free;
} where_t;

static where_t where_bytes(const la_slab_stats_t slabs[LA_SLAB_CLASSES],
                           const la_class_stats_t classes[NUM_SIZE_CLASSES], size_t top_bytes)
{
    where_t w = {0};
    size_t cached[LA_SLAB_CLASSES] = {0};
    tcache_cached_slots(cached, &w.block_cached);
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++) {
        const la_slab_stats_t *k = &slabs[c];
        size_t size = la_sizeclasses[c].size;
        // The sets are counted one after the other while other threads
        // run, so a slot that moved between two counts shows twice: those
        // waiting never outnumber the slots in use.
        size_t remote = LA_MIN(k->remote_slots, k->used_slots);
        size_t in_caches = LA_MIN(cached[c], k->used_slots - remote);
        w.slot_live += (k->used_slots - remote - in_caches) * size;
        w.slot_cached += in_caches * size;
        w.slot_remote += remote * size;
        w.slot_free += (k->carved_slots - k->used_slots) * size;
        w.slot_unused += (k->slots - k->carved_slots) * size;
    }
    w.block_free = top_bytes;
    for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++)
        w.block_free += classes[c].free_bytes;
    return w;
}

static void format_text(text_t *t, const mem_stats_t *s)
{
    char program[LA_PROGRAM_NAME_BYTES];
    os_program_name(program, sizeof program);
    add(t, "liballocator statistics (pid %d)\n", os_getpid());
    add(t, "  program          %s\n", program);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        add_row(t, fields[i].name, field_value(s, &fields[i]), fields[i].bytes);
    // Not in mem_stats_t: the whole process's RSS, read as the report is
    // made, and where the heaps' bytes are.
    add_row(t, "resident_bytes", os_resident_bytes(), true);
    la_slab_stats_t slabs[LA_SLAB_CLASSES];
    slab_stats(slabs);
    la_class_stats_t classes[NUM_SIZE_CLASSES];
    size_t tops;
    stats_by_class(classes, &tops);
    where_t w = where_bytes(slabs, classes, tops);
    add_row(t, "slot_live_bytes", w.slot_live, true);
    add_row(t, "slot_cached_bytes", w.slot_cached, true);
    add_row(t, "slot_remote_bytes", w.slot_remote, true);
    add_row(t, "slot_free_bytes", w.slot_free, true);
    add_row(t, "slot_unused_bytes", w.slot_unused, true);
    add_row(t, "block_cached_bytes", w.block_cached, true);
    add_row(t, "block_free_bytes", w.block_free, true);
    // The heap profiler's figures, when it is on (ALLOCATOR_PROF).
    if (__atomic_load_n(&la.prof_on, __ATOMIC_ACQUIRE)) {
        size_t samples, sites, table_bytes;
        prof_stats(&samples, &sites, &table_bytes);
        add_row(t, "prof_samples", samples, false);
        add_row(t, "prof_sites", sites, false);
        add_row(t, "prof_table_bytes", table_bytes, true);
    }
    // The guard sampler's, when it is on (ALLOCATOR_GUARD_SAMPLE).
    if (la_load_relaxed(&la.sampling) & LA_SAMPLE_GUARD) {
        size_t live, made, skipped;
        guard_stats(&live, &made, &skipped);
        add_row(t, "guard_blocks", made, false);
        add_row(t, "guard_live", live, false);
        add_row(t, "guard_skipped", skipped, false);
    }
    // Per slab class: slots handed out by the slabs (live, or waiting in
    // a thread cache) of the slots their slabs hold.
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++)
        if (slabs[c].slabs != 0)
            add(t, "  slab class %4u B: %6zu slabs %9zu of %9zu slots in use, %12zu bytes\n",
                la_sizeclasses[c].size, slabs[c].slabs, slabs[c].used_slots, slabs[c].slots,
                slabs[c].used_slots * la_sizeclasses[c].size);
}

// A JSON string: quotes, backslashes and control characters escaped.
static void add_json_string(text_t *t, const char *str)
{
    add(t, "\"");
    for (const unsigned char *c = (const unsigned char *)str; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\')
            add(t, "\\%c", *c);
        else if (*c < 0x20)
            add(t, "\\u%04x", *c);
        else
            add(t, "%c", *c);
    }
    add(t, "\"");
}

// One JSON object, on one line: the statistics, then the size classes.
// "version" is MEM_STATS_VERSION; each field of mem_stats_t has its name.
static void format_json(text_t *t, const mem_stats_t *s)
{
    la_class_stats_t classes[NUM_SIZE_CLASSES];
    size_t tops;
    stats_by_class(classes, &tops);
    char program[LA_PROGRAM_NAME_BYTES];
    os_program_name(program, sizeof program);
    add(t, "{\"liballocator\":{\"version\":%d,\"pid\":%d,\"program\":", MEM_STATS_VERSION,
        os_getpid());
    add_json_string(t, program);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        add(t, ",\"%s\":%zu", fields[i].name, field_value(s, &fields[i]));
    la_slab_stats_t slabs[LA_SLAB_CLASSES];
    slab_stats(slabs);
    where_t w = where_bytes(slabs, classes, tops);
    add(t, ",\"resident_bytes\":%zu,\"slot_live_bytes\":%zu,\"slot_cached_bytes\":%zu",
        os_resident_bytes(), w.slot_live, w.slot_cached);
    add(t, ",\"slot_remote_bytes\":%zu", w.slot_remote);
    add(t, ",\"slot_free_bytes\":%zu,\"slot_unused_bytes\":%zu", w.slot_free, w.slot_unused);
    add(t, ",\"block_cached_bytes\":%zu,\"block_free_bytes\":%zu,\"size_classes\":[",
        w.block_cached, w.block_free);
    for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++) {
        la_class_stats_t *k = &classes[c];
        // max_bytes 0: the last class, without an upper bound.
        size_t max = c + 1 < NUM_SIZE_CLASSES ? (size_t)MIN_BLOCK_SIZE << c : 0;
        add(t, "%s{\"class\":%u,\"max_block_bytes\":%zu,\"free_blocks\":%zu,\"free_bytes\":%zu",
            c ? "," : "", c, max, k->free_blocks, k->free_bytes);
        add(t, ",\"cached_blocks\":%zu,\"cached_bytes\":%zu}", k->cached_blocks, k->cached_bytes);
    }
    // Every slab class, used or not, so that readers see a fixed shape.
    add(t, "],\"slab_classes\":[");
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++) {
        la_slab_stats_t *k = &slabs[c];
        add(t, "%s{\"slot_bytes\":%u,\"slabs\":%zu,\"empty_slabs\":%zu,\"slots\":%zu", c ? "," : "",
            la_sizeclasses[c].size, k->slabs, k->empty_slabs, k->slots);
        add(t, ",\"used_slots\":%zu,\"used_bytes\":%zu", k->used_slots,
            k->used_slots * la_sizeclasses[c].size);
        add(t, ",\"carved_slots\":%zu,\"remote_slots\":%zu}", k->carved_slots, k->remote_slots);
    }
    add(t, "]");
    if (__atomic_load_n(&la.prof_on, __ATOMIC_ACQUIRE)) {
        size_t samples, sites, table_bytes;
        prof_stats(&samples, &sites, &table_bytes);
        add(t, ",\"prof_samples\":%zu,\"prof_sites\":%zu,\"prof_table_bytes\":%zu", samples,
            sites, table_bytes);
    }
    if (la_load_relaxed(&la.sampling) & LA_SAMPLE_GUARD) {
        size_t live, made, skipped;
        guard_stats(&live, &made, &skipped);
        add(t, ",\"guard_blocks\":%zu,\"guard_live\":%zu,\"guard_skipped\":%zu", made, live,
            skipped);
    }
    add(t, "}}\n");
}

// Writes a finished report (cut to the buffer if it overflowed).
static void emit(const text_t *t)
{
    os_write_stderr(t->buf, LA_MIN(t->len, sizeof t->buf - 1));
}

void stats_print(const mem_stats_t *s)
{
    text_t t = {.len = 0};
    format_text(&t, s);
    emit(&t);
}

// ALLOCATOR_STATS_FILE with %p replaced by the pid and %% by %; false if
// the result does not fit.
static bool expand_path(char *out, size_t cap, const char *pattern)
{
    size_t len = 0;
    for (const char *c = pattern; *c != '\0'; c++) {
        char pid[24];
        const char *piece = pid;
        size_t n;
        if (c[0] == '%' && c[1] == 'p') {
            n = log_format_args(pid, sizeof pid, "%d", os_getpid());
            c++;
        } else {
            piece = c;
            n = 1;
            if (c[0] == '%' && c[1] == '%')
                c++;
        }
        if (len + n >= cap)
            return false;
        for (size_t i = 0; i < n; i++)
            out[len++] = piece[i];
    }
    out[len] = '\0';
    return true;
}

// Appends a report to ALLOCATOR_STATS_FILE, opened now: the program may
// have closed or reused any descriptor opened earlier, and each process
// (a fork child too) gets its own pid in the name.  O_APPEND and one
// write, so that processes sharing a file do not mix their reports.
static void emit_to_file(const text_t *t)
{
    char path[LA_PATH_BYTES + 32];
    if (!expand_path(path, sizeof path, la.options.stats_file)) {
        log_printf("liballocator: ALLOCATOR_STATS_FILE is too long once expanded; no report\n");
        return;
    }
    int fd = os_open_append(path);
    if (fd < 0) {
        log_printf("liballocator: cannot open ALLOCATOR_STATS_FILE %s (errno %d); no report\n", path,
                   -fd);
        return;
    }
    os_write_fd(fd, t->buf, LA_MIN(t->len, sizeof t->buf - 1));
    os_close(fd);
}

// ALLOCATOR_STATS: the report at exit.  A destructor runs after the
// program's atexit handlers; whatever allocates after it still works.
// The report itself, out of line: the destructor that every run calls
// stays a test in the first text window (src/layout.ld), where the report
// inlined into it took 1.7 KiB.
static LA_NOINLINE void report_at_exit(void)
{
    mem_stats_t s = mem_get_stats();
    text_t t = {.len = 0};
    if (la.options.stats == LA_STATS_JSON)
        format_json(&t, &s);
    else
        format_text(&t, &s);
    if (la.options.stats_file[0] != '\0')
        emit_to_file(&t);
    else
        emit(&t);
}

LA_HOT_TEXT __attribute__((destructor)) static void stats_at_exit(void)
{
    if (__atomic_load_n(&la.ready, __ATOMIC_ACQUIRE) && la.options.stats)
        report_at_exit();
}
