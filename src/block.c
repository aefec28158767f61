// SPDX-License-Identifier: MIT
/*
 * block.c: boundary tags.  Marking blocks live or free, splitting a block,
 * and merging a freed block with free neighbours, keeping these invariants:
 *   - no two free blocks are adjacent (every free merges at once);
 *   - a free block carries FREE, its footer equals its size, it is on the
 *     free list of its class, and its right neighbour carries PREV_FREE;
 *     but the heap's top keeps neither its footer nor the fence after it
 *     (la_heap_t.top): a block made free that becomes the top writes
 *     neither, and one that ends the newest region otherwise writes the
 *     fence whole (tell_next);
 *   - a live block's check field holds the keyed hash of its header plus
 *     its req (or the variant for blocks too big for a thread cache); it
 *     is set again whenever the block's size changes, by whoever then sets
 *     its req (blk_set_req) or caches it.
 * A header that stops describing a block (merged into a neighbour) is
 * stamped LA_CHECK_FREED so that a second free of it is named a double free.
 * Callers hold the heap's lock.  Zero-knowledge for calloc is kept by
 * telling the heap how far headers were written (heap_note_written).
 */
#include "internal.h"

LA_HOT_TEXT void blk_set_live(la_block_t *b, size_t size, size_t keep_flags, unsigned heap_index)
{
    blk_store_head(b, blk_head(size, keep_flags & LA_PREV_FREE, heap_index));
    blk_set_req(b, 0);
}

static void set_prev_free(la_block_t *b, bool prev_free)
{
    size_t head = blk_load_head(b);
    blk_store_head(b, prev_free ? (head | LA_PREV_FREE) : (head & ~LA_PREV_FREE));
}

// Tells b's right neighbour `next` whether b is free.  The fence of the
// newest region is written whole: while the top ended that region it was
// not kept (la_heap_t.top), and b, live or listed, ends the region now.
static void tell_next(la_heap_t *h, la_block_t *next, bool prev_free)
{
    if (LA_UNLIKELY(next == region_fence(h->regions)))
        heap_write_fence(h, h->regions, prev_free ? LA_PREV_FREE : 0);
    else
        set_prev_free(next, prev_free);
}

LA_HOT_TEXT void blk_mark_used(la_heap_t *h, la_block_t *b)
{
    tell_next(h, blk_next(b), false);
}

LA_HOT_TEXT void blk_make_free(la_heap_t *h, la_block_t *b, size_t size)
{
    // The left neighbour is never free here (it would have been merged).
    blk_store_head(b, blk_head(size, LA_FREE, h->index));
    heap_note_written(h, (char *)b + sizeof(la_free_t));
    if (bins_insert(h, b))
        return; // the top: no footer, nor fence after it (la_heap_t.top)
    *(size_t *)((char *)b + size - sizeof(size_t)) = size;
    tell_next(h, blk_next(b), true);
}

LA_HOT_TEXT void blk_split(la_heap_t *h, la_block_t *b, size_t keep_bytes)
{
    size_t size = blk_size(b);
    la_assert(size >= keep_bytes + MIN_BLOCK_SIZE);
    blk_set_size(b, keep_bytes);
    la_block_t *rest = (la_block_t *)((char *)b + keep_bytes);
    size_t rest_bytes = size - keep_bytes;
    blk_store_head(rest, blk_head(rest_bytes, 0, h->index)); // its left neighbour is live
    h->counters.splits++;
    // A shrink in place may leave the remainder beside a free block.  Not
    // the fence, never free, but not kept while b was the top
    // (la_heap_t.top): a top just taken whole is split here.
    la_block_t *next = blk_next(rest);
    if (next != region_fence(h->regions) && blk_is_free(next)) {
        bins_remove(h, next, "malloc");
        rest_bytes += blk_size(next);
        blk_stamp(next, LA_CHECK_FREED);
        h->counters.coalesces++;
    }
    blk_make_free(h, rest, rest_bytes);
}

LA_HOT_TEXT la_block_t *blk_coalesce(la_heap_t *h, la_block_t *b)
{
    size_t size = blk_size(b);
    la_block_t *next = blk_next(b);
    if (blk_is_free(next)) {
        bins_remove(h, next, "free");
        size += blk_size(next);
        blk_stamp(next, LA_CHECK_FREED);
        h->counters.coalesces++;
    }
    if (blk_prev_is_free(b)) {
        la_block_t *prev = blk_prev(b);
        la_assert(blk_is_free(prev));
        bins_remove(h, prev, "free");
        size += blk_size(prev);
        blk_stamp(b, LA_CHECK_FREED);
        b = prev;
        h->counters.coalesces++;
    }
    blk_set_size(b, size); // flags are rewritten by blk_make_free
    return b;
}
