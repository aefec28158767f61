/*
 * block.c: boundary tags.  Marking blocks live or free, splitting a block,
 * and merging a freed block with free neighbours, keeping these invariants:
 *   - no two free blocks are adjacent (every free merges at once);
 *   - a free block carries FREE, its footer equals its size, it is on the
 *     free list of its class, and its right neighbour carries PREV_FREE;
 *   - a live block's info word holds the address-keyed check and its heap.
 * A header that stops describing a block (merged into a neighbour) is
 * stamped "freed" so that a second free of it is named a double free.
 * Callers hold the heap's lock.  Zero-knowledge for calloc is kept by
 * telling the heap how far headers were written (heap_note_written).
 */
#include "internal.h"

uint32_t blk_check_word(const la_block_t *b, unsigned heap_index)
{
    // 24 bits of (address / 16) keyed by the process secret, then the heap.
    uint32_t key = (uint32_t)((uintptr_t)b >> 4) ^ la.secret;
    return (key << 8) | heap_index;
}

bool blk_check_ok(const la_block_t *b)
{
    uint32_t hi = (uint32_t)(b->info >> 32);
    return ((hi ^ blk_check_word(b, 0)) & LA_INFO_CHECK_MASK) == 0;
}

void blk_stamp_freed(la_block_t *b)
{
    b->info = (uint64_t)blk_check_word(b, LA_HEAP_FREED) << 32;
}

void blk_set_live(la_block_t *b, size_t size, size_t keep_flags, unsigned heap_index)
{
    b->head = size | (keep_flags & LA_PREV_FREE);
    b->info = (uint64_t)blk_check_word(b, heap_index) << 32;
}

static void set_prev_free(la_block_t *b, bool prev_free)
{
    size_t head = b->head;
    head = prev_free ? (head | LA_PREV_FREE) : (head & ~LA_PREV_FREE);
    // Lock-free readers (thread caches) load the head word concurrently.
    la_store_relaxed(&b->head, head);
}

void blk_mark_used(la_block_t *b)
{
    set_prev_free(blk_next(b), false);
}

void blk_make_free(la_heap_t *h, la_block_t *b, size_t size)
{
    // The left neighbour is never free here (it would have been merged).
    b->head = size | LA_FREE;
    *(size_t *)((char *)b + size - sizeof(size_t)) = size;
    set_prev_free(blk_next(b), true);
    bins_insert(h, b);
    heap_note_written(h, (char *)b + sizeof(la_free_t));
}

void blk_split(la_heap_t *h, la_block_t *b, size_t keep_bytes)
{
    size_t size = blk_size(b);
    la_assert(size >= keep_bytes + MIN_BLOCK_SIZE);
    b->head = keep_bytes | (b->head & LA_FLAG_MASK);
    la_block_t *rest = (la_block_t *)((char *)b + keep_bytes);
    size_t rest_bytes = size - keep_bytes;
    rest->head = rest_bytes; // live for the moment, left neighbour live
    h->counters.splits++;
    // A shrink in place may leave the remainder beside a free block.
    la_block_t *next = blk_next(rest);
    if (blk_is_free(next)) {
        bins_remove(h, next);
        rest_bytes += blk_size(next);
        blk_stamp_freed(next);
        h->counters.coalesces++;
    }
    blk_make_free(h, rest, rest_bytes);
}

la_block_t *blk_coalesce(la_heap_t *h, la_block_t *b)
{
    size_t size = blk_size(b);
    la_block_t *next = blk_next(b);
    if (blk_is_free(next)) {
        bins_remove(h, next);
        size += blk_size(next);
        blk_stamp_freed(next);
        h->counters.coalesces++;
    }
    if (blk_prev_is_free(b)) {
        la_block_t *prev = blk_prev(b);
        la_assert(blk_is_free(prev));
        bins_remove(h, prev);
        size += blk_size(prev);
        blk_stamp_freed(b);
        b = prev;
        h->counters.coalesces++;
    }
    b->head = size; // flags are rewritten by blk_make_free
    return b;
}
