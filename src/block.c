// SPDX-License-Identifier: MIT
/*
 * block.c: boundary tags.  Marking blocks live or free, splitting a block,
 * and merging a freed block with free neighbours, keeping these invariants:
 *   - no two free blocks are adjacent (every free merges at once);
 *   - a free block carries FREE, its footer equals its size, it is on the
 *     free list of its class, and its right neighbour carries PREV_FREE;
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

void blk_set_live(la_block_t *b, size_t size, size_t keep_flags, unsigned heap_index)
{
    blk_store_head(b, blk_head(size, keep_flags & LA_PREV_FREE, heap_index));
    blk_set_req(b, 0);
}

static void set_prev_free(la_block_t *b, bool prev_free)
{
    size_t head = blk_load_head(b);
    blk_store_head(b, prev_free ? (head | LA_PREV_FREE) : (head & ~LA_PREV_FREE));
}

void blk_mark_used(la_block_t *b)
{
    set_prev_free(blk_next(b), false);
}

void blk_make_free(la_heap_t *h, la_block_t *b, size_t size)
{
    // The left neighbour is never free here (it would have been merged).
    blk_store_head(b, blk_head(size, LA_FREE, h->index));
    *(size_t *)((char *)b + size - sizeof(size_t)) = size;
    set_prev_free(blk_next(b), true);
    bins_insert(h, b);
    heap_note_written(h, (char *)b + sizeof(la_free_t));
}

void blk_split(la_heap_t *h, la_block_t *b, size_t keep_bytes)
{
    size_t size = blk_size(b);
    la_assert(size >= keep_bytes + MIN_BLOCK_SIZE);
    blk_set_size(b, keep_bytes);
    la_block_t *rest = (la_block_t *)((char *)b + keep_bytes);
    size_t rest_bytes = size - keep_bytes;
    blk_store_head(rest, blk_head(rest_bytes, 0, h->index)); // its left neighbour is live
    h->counters.splits++;
    // A shrink in place may leave the remainder beside a free block.
    la_block_t *next = blk_next(rest);
    if (blk_is_free(next)) {
        bins_remove(h, next, "malloc");
        rest_bytes += blk_size(next);
        blk_stamp(next, LA_CHECK_FREED);
        h->counters.coalesces++;
    }
    blk_make_free(h, rest, rest_bytes);
}

la_block_t *blk_coalesce(la_heap_t *h, la_block_t *b)
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
