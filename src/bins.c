// SPDX-License-Identifier: MIT
/*
 * bins.c: the segregated free lists of one heap.  Class c holds free blocks
 * of (16 << c, 32 << c] bytes (class 0: up to 32, the last: above 8192); a
 * bitmap marks the non-empty classes so the first class able to serve a
 * request is found with one bit scan.  Lists are doubly linked through the
 * free blocks themselves, newest first; within a class the first block
 * that fits is taken.  The last class is a size-ordered tree (tree.c), so
 * its best fit costs O(log n).  Callers hold the heap's lock.
 *
 * The top: a free block that ends the heap's newest region is no list's
 * and not the tree's, but h->top, as glibc keeps its top chunk out of its
 * bins.  bins_insert makes such a block the top, bins_remove lets go of
 * it, and bins_find serves from it when it fits best, as if it were in the
 * tree (bins_top_fits_better); so the merges and splits of block.c and
 * heap.c keep it without knowing of it.  A big block carved from the top
 * or freed beside it then costs a few stores instead of moving a tree
 * node (issue 14: malloc(1 MiB) + free).
 * Invariant: h->top is NULL or a free block of the tree's class (above
 * 8 KiB) whose right neighbour is the fence of h->regions; it is the only
 * free block not on a list or in the tree.  A smaller last block is listed
 * as any other: the small paths pay nothing for the top.  While h->top is
 * set, its footer and that fence are not kept (la_heap_t.top, issue 13):
 * bins_retire_top writes both before the top becomes a listed block.
 */
#include "internal.h"

_Static_assert(NUM_SIZE_CLASSES <= 32, "the class bitmap is 32 bits");
_Static_assert(((size_t)MIN_BLOCK_SIZE << (NUM_SIZE_CLASSES - 2)) == 8192,
               "classes are <=32, <=64, ... <=8192, >8192");

unsigned bins_class(size_t block_bytes)
{
    if (block_bytes <= MIN_BLOCK_SIZE)
        return 0;
    // ceil(log2(bytes)) - 5: 33..64 -> 1, 65..128 -> 2, ...
    unsigned c = (unsigned)(64 - __builtin_clzl(block_bytes - 1)) - LA_CLASS0_SHIFT;
    return c < NUM_SIZE_CLASSES - 1 ? c : NUM_SIZE_CLASSES - 1;
}

#define LAST_CLASS (NUM_SIZE_CLASSES - 1)

LA_INLINE void insert_listed(la_heap_t *h, la_block_t *b, size_t size)
{
    unsigned c = bins_class(size);
    if (c == LAST_CLASS) {
        tree_insert(&h->tree, (la_tnode_t *)b, "free");
        h->bitmap |= 1u << c;
        return;
    }
    la_free_t *f = (la_free_t *)b;
    f->prev = NULL;
    f->next = h->bins[c];
    if (f->next != NULL)
        f->next->prev = f;
    h->bins[c] = f;
    h->bitmap |= 1u << c;
}

LA_HOT_TEXT bool bins_insert(la_heap_t *h, la_block_t *b)
{
    size_t size = blk_size(b);
    // Only a block of the tree's class can be the top: a small one is
    // listed at no extra cost.  b lies in a region, so h->regions is set.
    if (bins_in_tree(size) && (char *)b + size == (char *)region_fence(h->regions)) {
        la_assert(h->top == NULL);
        h->top = b;
        return true;
    }
    insert_listed(h, b, size);
    return false;
}

LA_HOT_TEXT void bins_retire_top(la_heap_t *h)
{
    la_block_t *top = h->top;
    if (top != NULL) {
        // A listed block keeps its footer and the fence after it (the
        // top had neither kept).
        size_t size = blk_size(top);
        *blk_footer(top) = size;
        heap_write_fence(h, h->regions, LA_PREV_FREE);
        h->top = NULL;
        insert_listed(h, top, size);
    }
}

// A free block's links must agree with its neighbours' before they are
// followed or written through (issue 15): its prev link is the first word
// of the payload it had, where a write after free lands, and an unlink
// through a forged link writes wherever it points.  The head of a class
// has no prev; any other block is its prev's next, and its next's prev.
static void check_links(la_heap_t *h, la_free_t *f, unsigned c, const char *func)
{
    bool ok = h->bins[c] == f ? f->prev == NULL : f->prev != NULL && f->prev->next == f;
    if (LA_UNLIKELY(!ok || (f->next != NULL && f->next->prev != f)))
        la_fatal(func, "free list corrupted at %p (a write after free?)",
                 (void *)blk_payload((la_block_t *)f));
}

LA_HOT_TEXT void bins_remove(la_heap_t *h, la_block_t *b, const char *func)
{
    unsigned c = bins_class(blk_size(b));
    if (c == LAST_CLASS) {
        if (b == h->top) {
            h->top = NULL;
            return;
        }
        tree_remove(&h->tree, (la_tnode_t *)b, func);
        if (h->tree == NULL)
            h->bitmap &= ~(1u << LAST_CLASS);
        return;
    }
    la_free_t *f = (la_free_t *)b;
    check_links(h, f, c, func);
    if (f->next != NULL)
        f->next->prev = f->prev;
    if (f->prev != NULL) {
        f->prev->next = f->next;
    } else {
        h->bins[c] = f->next;
        if (f->next == NULL)
            h->bitmap &= ~(1u << c);
    }
}

// First block of the list that holds block_bytes, looking at a bounded
// number of entries (NULL if none found).
static la_free_t *first_fit(la_free_t *f, size_t block_bytes)
{
    for (unsigned n = 0; f != NULL && n < LA_FIRST_FIT_SCAN_MAX; f = f->next, n++)
        if (blk_size((la_block_t *)f) >= block_bytes)
            return f;
    return NULL;
}

// The tree's block t (its best fit, or NULL) or the top, whichever serves
// block_bytes better (bins_top_fits_better); taken off.
static la_block_t *take_tree_or_top(la_heap_t *h, la_block_t *t, size_t block_bytes)
{
    if (bins_top_fits_better(h, t, block_bytes)) {
        t = h->top;
        h->top = NULL;
    } else if (t != NULL) {
        tree_remove(&h->tree, (la_tnode_t *)t, "malloc");
        if (h->tree == NULL)
            h->bitmap &= ~(1u << LAST_CLASS);
    }
    return t;
}

LA_HOT_TEXT la_block_t *bins_take_best(la_heap_t *h, la_tnode_t *t, size_t block_bytes)
{
    la_assert(bins_in_tree(block_bytes));
    return take_tree_or_top(h, (la_block_t *)t, block_bytes);
}

LA_HOT_TEXT la_block_t *bins_find(la_heap_t *h, size_t block_bytes)
{
    unsigned c = bins_class(block_bytes);
    if (c == LAST_CLASS) // best fit
        return take_tree_or_top(h, (la_block_t *)tree_lower_bound(h->tree, block_bytes, "malloc"),
                                block_bytes);
    la_block_t *found = NULL;
    if (h->bitmap & (1u << c))
        found = (la_block_t *)first_fit(h->bins[c], block_bytes);
    if (found == NULL) {
        // Every block of a higher class is big enough: take the first
        // one (the smallest in the tree, or the top, to keep big blocks
        // whole).
        uint32_t higher = h->bitmap & ~((2u << c) - 1);
        unsigned hc = higher == 0 ? LAST_CLASS : (unsigned)__builtin_ctz(higher);
        if (hc == LAST_CLASS)
            return take_tree_or_top(h, (la_block_t *)tree_first(h->tree), block_bytes);
        found = (la_block_t *)h->bins[hc];
    }
    bins_remove(h, found, "malloc");
    return found;
}
