// SPDX-License-Identifier: MIT
/*
 * check.c: the heap walker behind mem_check_heap().  It walks every region
 * block by block, then every free list, and cross-checks the two: sizes in
 * bounds, boundary tags that agree, no adjacent free blocks, live headers
 * with a valid check word, lists doubly linked and in the right class, the
 * top (bins.c) ending the newest region, the bitmap matching the lists,
 * and each slab against its map entry, bitmap and free list.  The first problem is reported on stderr.
 * Callers hold the heap's lock; it reads only, so gdb may call it too.
 */
#include "slab.h"

static int fail(const la_heap_t *h, const void *at, const char *what)
{
    log_printf("liballocator: heap check: heap %u: %s at %p\n", h->index, what, at);
    return 1;
}

static bool in_regions(la_heap_t *h, const void *p)
{
    for (la_region_t *r = h->regions; r != NULL; r = r->next)
        if ((const char *)p >= (const char *)region_first(r) &&
            (const char *)p < (const char *)region_fence(r))
            return true;
    return false;
}

// Walks the blocks of one region; adds its free blocks to *free_count.
static int check_region(la_heap_t *h, la_region_t *r, size_t *free_count)
{
    if (r->heap != h)
        return fail(h, r, "region owned by another heap");
    char *fence = (char *)region_fence(r);
    la_block_t *b = region_first(r);
    bool prev_free = false;
    size_t blocks = 0; // for the checking mode's walk period (debug_tick)
    while ((char *)b < fence) {
        blocks++;
        size_t size = blk_size(b);
        // Each header is a cache (and often TLB) miss, and the next
        // one's address is known only from this one's size: the walk
        // waited on one miss at a time.  Neighbours are often of one size
        // (a program's buffers), so the header that many blocks ahead is
        // asked for now, to be on its way when the walk gets there.  A
        // prefetch does not fault, wherever the guess lands.
        __builtin_prefetch((char *)b + LA_CHECK_PREFETCH_BLOCKS * size);
        if (size < MIN_BLOCK_SIZE || (char *)b + size > fence)
            return fail(h, b, "block size out of bounds");
        if (blk_heap_index(b) != h->index)
            return fail(h, b, "block header names another heap");
        if (blk_prev_is_free(b) != prev_free)
            return fail(h, b, "PREV_FREE disagrees with the left neighbour");
        if (blk_is_mmapped(b))
            return fail(h, b, "MMAPPED flag inside a heap region");
        if (blk_is_free(b)) {
            if (prev_free)
                return fail(h, b, "two adjacent free blocks");
            if (b != h->top && *blk_footer(b) != size)
                return fail(h, b, "free block footer differs from its size");
            (*free_count)++;
        } else {
            uint32_t hash = blk_hash_now(b), check = blk_check(b), req = blk_req(b);
            bool cached = check == hash;
            bool sampled = check == (la_check_word(hash, req) ^ LA_CHECK_PROF);
            bool held = check == (la_check_plain(hash, req) ^ LA_CHECK_QUARANTINE);
            if (!cached && !sampled && !held && check != la_check_word(hash, req)) {
                uint32_t plain = la_check_plain(hash, req);
                if (check == plain || check == (plain ^ LA_CHECK_BIG))
                    return fail(h, b, "check variant disagrees with the requested size");
                return fail(h, b, "live block header fails its check word");
            }
            if (size > la_load_relaxed(&la.heap_block_max))
                return fail(h, b, "live block larger than any heap block");
            if (blk_req(b) > blk_usable(b))
                return fail(h, b, "requested size exceeds the usable size");
        }
        prev_free = blk_is_free(b);
        b = blk_next(b);
    }
    __atomic_add_fetch(&la.check_visited, blocks, __ATOMIC_RELAXED);
    if ((char *)b != fence)
        return fail(h, b, "blocks overrun the region's fence");
    // While the top ends the newest region, its fence is not kept
    // (la_heap_t.top); check_top checks that the top ends the region.
    bool kept = r != h->regions || h->top == NULL;
    if (kept && (blk_size(b) != 0 || blk_prev_is_free(b) != prev_free ||
                 blk_heap_index(b) != h->index ||
                 blk_check(b) != (la_check_plain(blk_hash_now(b), blk_req(b)) ^ LA_CHECK_FENCE)))
        return fail(h, b, "fence header damaged");
    if (r->fresh > r->end)
        return fail(h, r, "zero-tracking mark beyond the region");
    return 0;
}

// The last class's tree: sound, and every node a free block of that class
// in this heap.  Adds its nodes to *listed.
static int check_tree(la_heap_t *h, size_t *listed)
{
    const unsigned last = NUM_SIZE_CLASSES - 1;
    size_t nodes;
    const la_tnode_t *bad;
    const char *why = tree_check(h->tree, &nodes, &bad);
    if (why != NULL)
        return fail(h, bad, why);
    if ((h->tree != NULL) != ((h->bitmap >> last) & 1u))
        return fail(h, &h->tree, "class bitmap disagrees with the tree");
    if (h->bins[last] != NULL)
        return fail(h, h->bins[last], "last class has a list as well as the tree");
    for (la_tnode_t *n = tree_first(h->tree); n != NULL; n = tree_next(n)) {
        la_block_t *b = (la_block_t *)n;
        if (!in_regions(h, n))
            return fail(h, n, "tree node outside the heap's regions");
        if (!blk_is_free(b) || bins_class(blk_size(b)) != last)
            return fail(h, n, "tree node not a free block of the last class");
        if (*blk_footer(b) != blk_size(b) || !blk_prev_is_free(blk_next(b)))
            return fail(h, n, "tree node is not the start of a free block");
    }
    *listed += nodes;
    return 0;
}

// The top (bins.c): a free block that ends the newest region, in no list.
static int check_top(la_heap_t *h, size_t *listed)
{
    la_block_t *b = h->top;
    if (b == NULL)
        return 0;
    if (!in_regions(h, b))
        return fail(h, b, "top outside the heap's regions");
    // It keeps no footer, and the fence after it is not kept (la_heap_t.top).
    if (!blk_is_free(b))
        return fail(h, b, "top is not the start of a free block");
    if (!bins_in_tree(blk_size(b)))
        return fail(h, b, "top smaller than the tree's class");
    if (blk_next(b) != region_fence(h->regions))
        return fail(h, b, "top does not end the newest region");
    (*listed)++;
    return 0;
}

static int check_lists(la_heap_t *h, size_t free_count)
{
    size_t listed = 0;
    if (check_tree(h, &listed) != 0 || check_top(h, &listed) != 0)
        return 1;
    for (unsigned c = 0; c + 1 < NUM_SIZE_CLASSES; c++) {
        if ((h->bins[c] != NULL) != ((h->bitmap >> c) & 1u))
            return fail(h, &h->bins[c], "class bitmap disagrees with its list");
        la_free_t *prev = NULL;
        for (la_free_t *f = h->bins[c]; f != NULL; prev = f, f = f->next) {
            la_block_t *b = (la_block_t *)f;
            if (++listed > free_count)
                return fail(h, f, "more listed blocks than free blocks (cycle or stray entry)");
            if (!in_regions(h, f))
                return fail(h, f, "free list entry outside the heap's regions");
            if (!blk_is_free(b))
                return fail(h, f, "free list entry not marked free");
            if (*blk_footer(b) != blk_size(b) || !blk_prev_is_free(blk_next(b)))
                return fail(h, f, "free list entry is not the start of a free block");
            if (bins_class(blk_size(b)) != c)
                return fail(h, f, "free block on the wrong class list");
            if (f->prev != prev)
                return fail(h, f, "free list back link broken");
        }
    }
    if (listed != free_count)
        return fail(h, h, "free blocks missing from the free lists");
    return 0;
}

int check_heap(la_heap_t *h)
{
    size_t free_count = 0;
    size_t bytes = 0;
    for (la_region_t *r = h->regions; r != NULL; r = r->next) {
        if (check_region(h, r, &free_count) != 0)
            return 1;
        bytes += r->bytes;
    }
    if (bytes != h->region_bytes)
        return fail(h, h, "region byte count differs from the regions");
    if (check_lists(h, free_count) != 0)
        return 1;
    const void *where = NULL;
    const char *why = slab_check_heap(h, &where);
    if (why == NULL && la.options.check && la.slabs_on)
        why = debug_check_slots(h, &where); // checking mode: slot canaries
    return why != NULL ? fail(h, where, why) : 0;
}

static int check_large(void)
{
    size_t bytes = 0;
    for (la_large_t *l = la.large_list; l != NULL; l = l->next) {
        la_block_t *b = (la_block_t *)(l + 1);
        // A block in checking mode's quarantine is still on the list.
        bool held = blk_check(b) == (la_check_plain(blk_hash_now(b), blk_req(b)) ^ LA_CHECK_QUARANTINE);
        if (!blk_is_mmapped(b) || blk_heap_index(b) != LA_HEAP_NONE || !(blk_check_ok(b) || held) ||
            blk_req(b) != LA_REQ_LARGE ||
            l->map_bytes < blk_size(b) ||
            l->req_bytes > blk_usable(b)) {
            log_printf("liballocator: heap check: large block header damaged at %p\n", b);
            return 1;
        }
        if (l->next != NULL && l->next->prev != l) {
            log_printf("liballocator: heap check: large list back link broken at %p\n", l);
            return 1;
        }
        bytes += l->map_bytes;
    }
    if (bytes != la.large_bytes) {
        log_printf("liballocator: heap check: large byte count %zu, blocks hold %zu\n",
                   la.large_bytes, bytes);
        return 1;
    }
    return 0;
}

static int check_all(void);

int mem_check_heap(void)
{
    la_ensure_init();
    debug_quiet_begin(); // it reads what memcheck is told is not the program's
    int bad = check_all();
    debug_quiet_end();
    return bad;
}

static int check_all(void)
{
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++) {
        la_heap_t *h = &la.heaps[i];
        lock_acquire(&h->lock);
        int bad = check_heap(h);
        lock_release(&h->lock);
        if (bad)
            return 1;
    }
    lock_acquire(&la.large_lock);
    int bad = check_large();
    lock_release(&la.large_lock);
    return bad;
}
