// SPDX-License-Identifier: MIT
/*
 * large.c: blocks of MMAP_THRESHOLD bytes or more, each in its own mapping.
 *
 *   | la_large_t prefix | header (MMAPPED) | payload ... | (page end)
 *   ^ mapping start, or later for alignments above a page
 *
 * The header's size runs from the header to the end of the mapping, so
 * usable size is everything after it.  All large blocks are on one list
 * (for the walker and gdb) under la.large_lock; the syscalls run outside
 * that lock.  Fresh mappings are zero, so calloc never clears them.
 *
 * Freed mappings wait in a small cache (LA_LARGE_CACHE_SLOTS entries, a
 * byte budget that follows the live large bytes, oldest out first, and
 * none older than the decay) and serve later requests: the closest in
 * size is taken and fitted, its tail unmapped when it is too big, grown
 * with mremap when too small, so that only the difference is faulted in.
 * A loop that allocates and frees a large block neither maps nor faults in
 * pages each time, nor does a pool of big buffers of varying sizes.
 * Reused mappings are not zero.
 *
 * Checking mode (ALLOCATOR_CHECK=1, not under Valgrind, issue 15): every
 * mapping, live or cached, has one more page right after it, PROT_NONE
 * (not counted in map_bytes or any statistic: address space, no RSS), and
 * the payload is right-aligned against it as far as its alignment allows,
 * so that a write or read past the end faults on the spot; guard.c's
 * SIGSEGV handler asks large_guard_find() and names the block.  The few
 * bytes of alignment slack keep their canary, checked at free.  So that
 * every mapping keeps its guard: a cached mapping is split around a new
 * guard page, never grown by mremap (a smaller one is not taken), and
 * realloc moves the block instead of resizing its mapping.
 */
#include <string.h>

#include "internal.h"

#define LA_LARGE_PREFIX (sizeof(la_large_t) + LA_HEADER_BYTES)

// The inaccessible page after every mapping in checking mode, or 0.
// Fixed once debug_init has run, which is before the first allocation.
static size_t guard_page_bytes(void)
{
    return la.options.check && !la.valgrind ? la.page_bytes : 0;
}

LA_HOT_TEXT bool large_guarded(void) { return guard_page_bytes() != 0; }

// The large-block list, its byte count and the counters change under
// la.large_lock; stats.c reads the counters with relaxed loads.
static void bump(size_t *counter, size_t delta) { la_store_relaxed(counter, *counter + delta); }

static void link_locked(la_block_t *b, size_t req)
{
    la_large_t *l = large_of(b);
    l->prev = NULL;
    l->next = la.large_list;
    if (l->next != NULL)
        l->next->prev = l;
    la.large_list = l;
    la.large_bytes += l->map_bytes;
    la.large_count++;
    bump(&la.large_counters.nalloc, 1);
    bump(&la.large_counters.alloc_bytes, req);
}

static void unlink_locked(la_block_t *b, size_t req)
{
    la_large_t *l = large_of(b);
    if (l->next != NULL)
        l->next->prev = l->prev;
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        la.large_list = l->next;
    la.large_bytes -= l->map_bytes;
    la.large_count--;
    bump(&la.large_counters.nfree, 1);
    bump(&la.large_counters.free_bytes, req);
}

// Syscall counters are bumped outside the lock: relaxed atomics.
static void count(size_t *counter, size_t delta)
{
    __atomic_fetch_add(counter, delta, __ATOMIC_RELAXED);
}

/* ---- the cache of freed mappings ---------------------------------------- */

static void cache_remove(unsigned i)
{
    la.large_cache_bytes -= la.large_cache[i].bytes;
    // Keep the rest in age order (oldest first).
    for (; i + 1 < la.large_cache_count; i++)
        la.large_cache[i] = la.large_cache[i + 1];
    // Stored atomically: large_alloc peeks at it without the lock.
    la_store_relaxed(&la.large_cache_count, la.large_cache_count - 1);
}

// Unmaps a freed large block's mapping but for its header's page, which
// becomes a tombstone (a zero page: it reads as a header that fails every
// check); the oldest tombstone is unmapped in its place.
static void unmap_keeping_tombstone(const la_map_t *m)
{
    size_t page = la.page_bytes;
    char *keep = (char *)((uintptr_t)m->block & ~(uintptr_t)(page - 1));
    char *end = m->map + m->bytes;
    la_tomb_t tomb = {keep, blk_payload((la_block_t *)m->block), 0};
    tomb.usable = (size_t)(end - (char *)tomb.payload);
    end += guard_page_bytes(); // the guard page goes with it
    lock_acquire(&la.large_lock);
    la_tomb_t old = la.tombs[la.tomb_next];
    la.tombs[la.tomb_next] = tomb;
    la.tomb_next = (la.tomb_next + 1) % LA_LARGE_TOMBSTONES;
    lock_release(&la.large_lock);
    if (keep > m->map)
        os_unmap(m->map, (size_t)(keep - m->map));
    if (keep + page < end)
        os_unmap(keep + page, (size_t)(end - keep - page));
    os_advise_free(keep, page);
    if (old.page != NULL)
        os_unmap(old.page, page);
}

// Unmaps what the caller took out of the cache, outside the lock.
LA_HOT_TEXT static size_t unmap_all(const la_map_t *maps, unsigned n)
{
    size_t bytes = 0;
    for (unsigned i = 0; i < n; i++) {
        if (maps[i].block != NULL)
            unmap_keeping_tombstone(&maps[i]);
        else
            os_unmap(maps[i].map, maps[i].bytes + guard_page_bytes());
        count(&la.num_munmaps, 1);
        la_count_release(maps[i].bytes);
        bytes += maps[i].bytes;
    }
    return bytes;
}

void *large_containing(const void *p)
{
    void *found = NULL;
    lock_acquire(&la.large_lock);
    for (la_large_t *l = la.large_list; l != NULL && found == NULL; l = l->next) {
        la_block_t *b = (la_block_t *)(l + 1);
        char *payload = blk_payload(b);
        if ((const char *)p >= payload && (const char *)p < (char *)b + blk_size(b))
            found = payload;
    }
    lock_release(&la.large_lock);
    return found;
}

size_t large_tombstone(const void *p)
{
    size_t usable = 0;
    lock_acquire(&la.large_lock);
    for (unsigned i = 0; i < LA_LARGE_TOMBSTONES; i++)
        if (la.tombs[i].page != NULL && la.tombs[i].payload == p)
            usable = la.tombs[i].usable;
    lock_release(&la.large_lock);
    return usable;
}

// Takes out the entries that waited longer than `age_ms` (all of them for
// 0) into out[]; the caller holds the lock.
static unsigned take_old(uint64_t now, uint64_t age_ms, la_map_t *out)
{
    unsigned n = 0;
    while (la.large_cache_count > 0 && now - la.large_cache[0].freed_ms >= age_ms) {
        out[n++] = la.large_cache[0];
        cache_remove(0);
    }
    return n;
}

// The most bytes the cache may hold now.  The caller holds la.large_lock.
static size_t cache_budget_locked(void)
{
    return LA_MAX((size_t)LA_LARGE_CACHE_BYTES, la.large_bytes / LA_LARGE_CACHE_LIVE_DIVISOR);
}

// Takes out the cached mapping closest in size to `bytes` (the fewest
// pages to unmap or fault in); false if the cache is empty.  The caller
// holds la.large_lock.  In checking mode only a mapping at least that
// big is taken.
static bool cache_take_locked(size_t bytes, la_map_t *got)
{
    int best = -1;
    size_t best_gap = SIZE_MAX;
    bool grow = guard_page_bytes() == 0; // mremap would leave the guard page behind
    for (int i = 0; i < (int)la.large_cache_count; i++) {
        size_t have = la.large_cache[i].bytes;
        if (have < bytes && !grow)
            continue;
        size_t gap = have > bytes ? have - bytes : bytes - have;
        if (gap < best_gap) {
            best = i;
            best_gap = gap;
        }
    }
    if (best < 0)
        return false;
    *got = la.large_cache[best];
    cache_remove((unsigned)best);
    return true;
}

static unsigned cache_put_locked(char *map, size_t bytes, char *block, uint64_t now,
                                 la_map_t *evicted);

// Puts back a piece of a mapping taken from the cache; unmaps what that
// evicts.  No lock held.
static void cache_put_back(char *map, size_t bytes)
{
    la_map_t evicted[LA_LARGE_CACHE_SLOTS + 1];
    uint64_t now = os_now_ms();
    lock_acquire(&la.large_lock);
    unsigned n = cache_put_locked(map, bytes, NULL, now, evicted);
    lock_release(&la.large_lock);
    unmap_all(evicted, n);
}

// Makes a mapping taken from the cache `bytes` long: kept whole when a
// little bigger; split when much bigger (the tail goes back to the cache);
// in checking mode never smaller (see cache_take_locked);
// grown in place or moved by mremap (pages and all) when smaller, so only
// the growth is faulted in.  Returns the mapping and its length in *len, or NULL
// (it was unmapped).  No lock held: these are syscalls.
static char *cache_fit(const la_map_t *m, size_t bytes, size_t *len)
{
    size_t have = m->bytes, gp = guard_page_bytes();
    *len = have;
    if (have >= bytes) {
        // Checking mode: a guard page for the head between the two parts;
        // the tail keeps the guard page it had.
        if (have - bytes > bytes / LA_LARGE_REUSE_SLACK_DIVISOR && have - bytes > gp &&
            (gp == 0 || os_protect(m->map + bytes, gp, false))) {
            // The tail waits purged: a program that took a big cached
            // mapping for a small block and grows it (by mremap, which
            // cannot grow into the tail) held both in RSS.  w_realloc's
            // second 32 MiB array found the first one's mapping cached,
            // kept 128 KiB of it and grew elsewhere: peak RSS 78 MB
            // against glibc's 36.
            os_advise_free(m->map + bytes + gp, have - bytes - gp);
            cache_put_back(m->map + bytes + gp, have - bytes - gp);
            *len = bytes;
        }
        return m->map;
    }
    char *moved = os_remap(m->map, have, bytes);
    if (moved == NULL) {
        unmap_all(m, 1); // as any cached mapping goes: counted, tombstone kept
        return NULL;
    }
    *len = bytes;
    return moved;
}

// Caches a freed mapping, or marks it for unmapping; evicts the oldest
// entries to make room, and those older than the decay.  Returns how many
// entries of evicted[] the caller must unmap after releasing la.large_lock,
// which it holds.
static unsigned cache_put_locked(char *map, size_t bytes, char *block, uint64_t now,
                                 la_map_t *evicted)
{
    unsigned n = take_old(now, la.decay_ms, evicted);
    size_t budget = cache_budget_locked();
    if (bytes > budget) {
        evicted[n++] = (la_map_t){map, bytes, now, block};
        return n;
    }
    while (la.large_cache_count > 0 && (la.large_cache_count == LA_LARGE_CACHE_SLOTS ||
                                        la.large_cache_bytes + bytes > budget)) {
        evicted[n++] = la.large_cache[0];
        cache_remove(0);
    }
    la.large_cache[la.large_cache_count] = (la_map_t){map, bytes, now, block};
    la_store_relaxed(&la.large_cache_count, la.large_cache_count + 1);
    la.large_cache_bytes += bytes;
    return n;
}

/* ---- large blocks ------------------------------------------------------- */

LA_HOT_TEXT void *large_map_or_purge(size_t bytes)
{
    void *map = os_map(bytes);
    // Out of address space (RLIMIT_AS, overcommit) while freed mappings
    // wait for reuse: give them back and try once more (issue 12).
    if (map == NULL && la_load_relaxed(&la.large_cache_count) != 0 && large_cache_purge(0) != 0)
        map = os_map(bytes);
    if (map != NULL && la.thp_bytes != 0 && bytes >= la.thp_bytes)
        os_advise_huge(map, bytes);
    return map;
}

// Writes the header and prefix of a large block placed in [start, end).
static la_block_t *place(char *start, char *end, char *payload, size_t req)
{
    la_block_t *b = blk_from_payload(payload);
    blk_store_head(b, blk_head((size_t)(end - (char *)b), LA_MMAPPED, LA_HEAP_NONE));
    blk_set_req(b, LA_REQ_LARGE);
    large_of(b)->map_bytes = (size_t)(end - start);
    large_of(b)->req_bytes = req;
    return b;
}

// Where the payload of req bytes goes in a mapping [map, end): right after
// the prefix, or in checking mode against the guard page at end (as close
// as the alignment allows; the room for that is in the mapping's length).
static char *payload_in(char *map, char *end, size_t req, size_t align)
{
    if (guard_page_bytes() != 0)
        return (char *)((uintptr_t)(end - req) & ~(uintptr_t)(align - 1));
    return (char *)LA_ALIGN_UP((uintptr_t)map + LA_LARGE_PREFIX, align);
}

LA_HOT_TEXT la_block_t *large_alloc(size_t req, size_t align, bool *zeroed)
{
    size_t page = la.page_bytes, gp = guard_page_bytes();
    if (align < ALIGNMENT)
        align = ALIGNMENT;
    // Room to slide the payload up to its alignment; trimmed off below.
    // Checking mode needs it at every alignment: the payload slides down
    // from the end of the mapping, which req need not be a multiple of.
    size_t slack = align > ALIGNMENT || gp != 0 ? align : 0;
    // Debug mode's canary or redzone; with a guard page, the slack is the
    // canary and the guard page the rest.
    size_t want = req + (gp != 0 ? 0 : la.guard_bytes);
    size_t map_bytes = LA_ALIGN_UP(want + LA_LARGE_PREFIX + slack, page);
    // An empty cache is common (most programs free few large blocks): the
    // unlocked peek spares them the lock.
    if (align <= page && la_load_relaxed(&la.large_cache_count) != 0) {
        la_map_t cached;
        lock_acquire(&la.large_lock);
        bool taken = cache_take_locked(map_bytes, &cached);
        lock_release(&la.large_lock);
        size_t len;
        char *map = taken ? cache_fit(&cached, map_bytes, &len) : NULL;
        if (map != NULL) {
            char *payload = payload_in(map, map + len, req, align);
            la_block_t *b = place(map, map + len, payload, req);
            lock_acquire(&la.large_lock);
            link_locked(b, req);
            lock_release(&la.large_lock);
            *zeroed = false;
            return b;
        }
    }
    char *map = large_map_or_purge(map_bytes + gp);
    if (map == NULL)
        return NULL;
    count(&la.num_mmaps, 1);
    char *payload = payload_in(map, map + map_bytes, req, align);
    char *start = (char *)((uintptr_t)(payload - LA_LARGE_PREFIX) & ~(page - 1));
    char *end = gp != 0 ? map + map_bytes : (char *)LA_ALIGN_UP((uintptr_t)payload + want, page);
    // Give back the slack on both sides of an over-aligned block.
    if (start > map)
        os_unmap(map, (size_t)(start - map));
    if (end < map + map_bytes)
        os_unmap(end, (size_t)(map + map_bytes - end));
    // If mprotect fails (out of mappings), the page stays accessible: the
    // canary check at free is all that is left, as without a guard page.
    if (gp != 0)
        os_protect(end, gp, false);
    la_block_t *b = place(start, end, payload, req);
    lock_acquire(&la.large_lock);
    link_locked(b, req);
    lock_release(&la.large_lock);
    *zeroed = true;
    return b;
}

LA_HOT_TEXT size_t large_req(la_block_t *b) { return large_of(b)->req_bytes; }

LA_HOT_TEXT void large_free(la_block_t *b, bool cache)
{
    size_t map_bytes = large_of(b)->map_bytes;
    char *start = large_map_start(b);
    size_t req = large_of(b)->req_bytes;
    la_map_t evicted[LA_LARGE_CACHE_SLOTS + 1];
    uint64_t now = os_now_ms();
    lock_acquire(&la.large_lock);
    unlink_locked(b, req);
    // A second free of it must fail every check: it is "freed" from now on,
    // cached or (but for a tombstone page) unmapped.  Stamped under the
    // lock once off the list: the heap walker (checking mode, another
    // thread) and a fork child must never see a freed header on the list
    // (issue 12).
    blk_stamp(b, LA_CHECK_FREED);
    unsigned n = 0;
    if (cache)
        n = cache_put_locked(start, map_bytes, (char *)b, now, evicted);
    else
        evicted[n++] = (la_map_t){start, map_bytes, now, (char *)b};
    lock_release(&la.large_lock);
    if (n != 0)
        unmap_all(evicted, n);
}

LA_HOT_TEXT void large_cache_drop_below(size_t bytes)
{
    la_map_t out[LA_LARGE_CACHE_SLOTS];
    unsigned n = 0;
    lock_acquire(&la.large_lock);
    for (unsigned i = 0; i < la.large_cache_count;) {
        if (la.large_cache[i].bytes < bytes) {
            out[n++] = la.large_cache[i];
            cache_remove(i);
        } else {
            i++;
        }
    }
    lock_release(&la.large_lock);
    unmap_all(out, n);
}

LA_HOT_TEXT size_t large_cache_purge(uint64_t older_than_ms)
{
    la_map_t old[LA_LARGE_CACHE_SLOTS];
    lock_acquire(&la.large_lock);
    unsigned n = take_old(os_now_ms(), older_than_ms, old);
    lock_release(&la.large_lock);
    return unmap_all(old, n);
}

la_block_t *large_realloc(la_block_t *b, size_t req)
{
    // Checking mode: a block resized in place would no longer end at its
    // guard page, and mremap would leave the page behind; the caller
    // moves it to a new block instead (as when mremap fails).
    if (guard_page_bytes() != 0)
        return NULL;
    size_t old_map = large_of(b)->map_bytes;
    size_t old_req = large_of(b)->req_bytes;
    char *start = large_map_start(b);
    size_t offset = (size_t)((char *)b - start);
    size_t new_map = LA_ALIGN_UP(offset + LA_HEADER_BYTES + req + la.guard_bytes, la.page_bytes);
    if (new_map != old_map) {
        // Off the list while mremap may move it (the syscall runs unlocked).
        lock_acquire(&la.large_lock);
        unlink_locked(b, 0);
        la.large_counters.nfree--;
        lock_release(&la.large_lock);
        char *moved = os_remap(start, old_map, new_map);
        if (moved != NULL) {
            b = (la_block_t *)(moved + offset);
            blk_store_head(b, blk_head(new_map - offset, LA_MMAPPED, LA_HEAP_NONE));
            blk_set_req(b, LA_REQ_LARGE);
            large_of(b)->map_bytes = new_map;
        }
        lock_acquire(&la.large_lock);
        link_locked(b, 0); // the old block stays whole if mremap failed
        la.large_counters.nalloc--;
        lock_release(&la.large_lock);
        if (moved == NULL)
            return NULL;
    }
    large_of(b)->req_bytes = req;
    // A resize counts as one free and one allocation.
    lock_acquire(&la.large_lock);
    bump(&la.large_counters.nfree, 1);
    bump(&la.large_counters.free_bytes, old_req);
    bump(&la.large_counters.nalloc, 1);
    bump(&la.large_counters.alloc_bytes, req);
    lock_release(&la.large_lock);
    return b;
}

/* ---- guard pages (checking mode) ---------------------------------------- */

// The lock, if it can be had: the SIGSEGV handler must not wait forever
// for a lock its own thread may hold.  After a few tries the list is read
// without it; the process aborts right after anyway.
static bool lock_for_report(void)
{
    for (int i = 0; i < LA_LARGE_REPORT_LOCK_TRIES; i++) {
        if (lock_try(&la.large_lock))
            return true;
        os_yield();
    }
    return false;
}

int large_guard_find(const void *addr, const void **payload, size_t *req)
{
    size_t gp = guard_page_bytes();
    if (gp == 0)
        return 0;
    const char *a = addr;
    int found = 0;
    bool locked = lock_for_report();
    for (la_large_t *l = la.large_list; l != NULL && found == 0; l = l->next) {
        la_block_t *b = (la_block_t *)(l + 1);
        const char *end = (const char *)b + blk_size(b);
        if (a >= end && a < end + gp) {
            *payload = blk_payload(b);
            *req = l->req_bytes;
            found = 1;
        }
    }
    unsigned n = la_load_relaxed(&la.large_cache_count);
    for (unsigned i = 0; i < n && i < LA_LARGE_CACHE_SLOTS && found == 0; i++) {
        const la_map_t *m = &la.large_cache[i];
        const char *end = m->map + m->bytes;
        if (a >= end && a < end + gp) {
            la_block_t *b = (la_block_t *)m->block;
            // A block's mapping, or (block NULL) the tail of one split off.
            if (b != NULL && (char *)b + blk_size(b) == end) {
                *payload = blk_payload(b);
                *req = large_of(b)->req_bytes;
            } else {
                *payload = NULL;
                *req = 0;
            }
            found = 2;
        }
    }
    if (locked)
        lock_release(&la.large_lock);
    return found;
}
