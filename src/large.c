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
 */
#include <string.h>

#include "internal.h"

#define LA_LARGE_PREFIX (sizeof(la_large_t) + LA_HEADER_BYTES)

static void list_link(la_block_t *b)
{
    la_large_t *l = large_of(b);
    lock_acquire(&la.large_lock);
    l->prev = NULL;
    l->next = la.large_list;
    if (l->next != NULL)
        l->next->prev = l;
    la.large_list = l;
    la.large_bytes += l->map_bytes;
    lock_release(&la.large_lock);
}

static void list_unlink(la_block_t *b)
{
    la_large_t *l = large_of(b);
    lock_acquire(&la.large_lock);
    if (l->next != NULL)
        l->next->prev = l->prev;
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        la.large_list = l->next;
    la.large_bytes -= l->map_bytes;
    lock_release(&la.large_lock);
}

// Counters of large blocks are shared by all threads: relaxed atomics.
static void count(size_t *counter, size_t delta)
{
    __atomic_fetch_add(counter, delta, __ATOMIC_RELAXED);
}

static void count_alloc(size_t req)
{
    count(&la.large_counters.nalloc, 1);
    count(&la.large_counters.alloc_bytes, req);
}

static void count_free(size_t req)
{
    count(&la.large_counters.nfree, 1);
    count(&la.large_counters.free_bytes, req);
}

la_block_t *large_alloc(size_t req, size_t align)
{
    size_t page = la.page_bytes;
    if (align < ALIGNMENT)
        align = ALIGNMENT;
    // Room to slide the payload up to its alignment; trimmed off below.
    size_t slack = align > ALIGNMENT ? align : 0;
    size_t map_bytes = LA_ALIGN_UP(req + LA_LARGE_PREFIX + slack, page);
    char *map = os_map(map_bytes);
    if (map == NULL)
        return NULL;
    count(&la.num_mmaps, 1);
    char *payload = (char *)LA_ALIGN_UP((uintptr_t)map + LA_LARGE_PREFIX, align);
    char *start = (char *)((uintptr_t)(payload - LA_LARGE_PREFIX) & ~(page - 1));
    char *end = (char *)LA_ALIGN_UP((uintptr_t)payload + req, page);
    // Give back the slack on both sides of an over-aligned block.
    if (start > map)
        os_unmap(map, (size_t)(start - map));
    if (end < map + map_bytes)
        os_unmap(end, (size_t)(map + map_bytes - end));
    la_block_t *b = blk_from_payload(payload);
    b->head = blk_head((size_t)(end - (char *)b), LA_MMAPPED, LA_HEAP_NONE);
    blk_set_req(b, LA_REQ_LARGE);
    large_of(b)->map_bytes = (size_t)(end - start);
    large_of(b)->req_bytes = req;
    list_link(b);
    count_alloc(req);
    return b;
}

size_t large_req(la_block_t *b) { return large_of(b)->req_bytes; }

void large_free(la_block_t *b)
{
    size_t map_bytes = large_of(b)->map_bytes;
    char *start = large_map_start(b);
    list_unlink(b);
    count_free(large_of(b)->req_bytes);
    os_unmap(start, map_bytes);
    count(&la.num_munmaps, 1);
}

la_block_t *large_realloc(la_block_t *b, size_t req)
{
    size_t old_map = large_of(b)->map_bytes;
    size_t old_req = large_of(b)->req_bytes;
    char *start = large_map_start(b);
    size_t offset = (size_t)((char *)b - start);
    size_t new_map = LA_ALIGN_UP(offset + LA_HEADER_BYTES + req, la.page_bytes);
    if (new_map != old_map) {
        list_unlink(b);
        char *moved = os_remap(start, old_map, new_map);
        if (moved == NULL) {
            list_link(b); // the old block stays whole
            return NULL;
        }
        b = (la_block_t *)(moved + offset);
        b->head = blk_head(new_map - offset, LA_MMAPPED, LA_HEAP_NONE);
        blk_set_req(b, LA_REQ_LARGE);
        large_of(b)->map_bytes = new_map;
        list_link(b);
    }
    large_of(b)->req_bytes = req;
    count_free(old_req);
    count_alloc(req);
    return b;
}
