/*
 * bins.c: the segregated free lists of one heap.  Class c holds free blocks
 * of (16 << c, 32 << c] bytes (class 0: up to 32, the last: above 8192); a
 * bitmap marks the non-empty classes so the first class able to serve a
 * request is found with one bit scan.  Lists are doubly linked through the
 * free blocks themselves, newest first.  Callers hold the heap's lock.
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

void bins_insert(la_heap_t *h, la_block_t *b)
{
    unsigned c = bins_class(blk_size(b));
    la_free_t *f = (la_free_t *)b;
    f->prev = NULL;
    f->next = h->bins[c];
    if (f->next != NULL)
        f->next->prev = f;
    h->bins[c] = f;
    h->bitmap |= 1u << c;
}

void bins_remove(la_heap_t *h, la_block_t *b)
{
    la_free_t *f = (la_free_t *)b;
    if (f->next != NULL)
        f->next->prev = f->prev;
    if (f->prev != NULL) {
        f->prev->next = f->next;
    } else {
        unsigned c = bins_class(blk_size(b));
        la_assert(h->bins[c] == f);
        h->bins[c] = f->next;
        if (f->next == NULL)
            h->bitmap &= ~(1u << c);
    }
}

// Smallest block of the list that holds block_bytes (NULL if none).
static la_free_t *best_fit(la_free_t *f, size_t block_bytes)
{
    la_free_t *best = NULL;
    size_t best_bytes = SIZE_MAX;
    for (; f != NULL; f = f->next) {
        size_t s = blk_size((la_block_t *)f);
        if (s >= block_bytes && s < best_bytes) {
            best = f;
            best_bytes = s;
            if (s == block_bytes)
                break;
        }
    }
    return best;
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

la_block_t *bins_find(la_heap_t *h, size_t block_bytes)
{
    const unsigned last = NUM_SIZE_CLASSES - 1;
    unsigned c = bins_class(block_bytes);
    la_free_t *found = NULL;
    if (h->bitmap & (1u << c))
        found = c == last ? best_fit(h->bins[c], block_bytes) : first_fit(h->bins[c], block_bytes);
    if (found == NULL) {
        // Every block of a higher class is big enough: take the first one
        // (the best one in the last class, to keep big blocks whole).
        uint32_t higher = c == last ? 0 : h->bitmap & ~((2u << c) - 1);
        if (higher == 0)
            return NULL;
        unsigned hc = (unsigned)__builtin_ctz(higher);
        found = hc == last ? best_fit(h->bins[hc], block_bytes) : h->bins[hc];
    }
    bins_remove(h, (la_block_t *)found);
    return (la_block_t *)found;
}
