// SPDX-License-Identifier: MIT
/*
 * direct.h: the direct path's interface (direct.c): one heap or mapped
 * block per request, below the thread caches and above the slabs, whose
 * slots it frees and sizes when it is handed one.  Every call that takes a
 * heap takes the calling thread's (tcache_heap()) for the exported family
 * and the _ts functions, or NULL for the un-suffixed mem_* functions:
 * heap 0, no lock, the seed's mmap threshold.
 */
#ifndef LA_DIRECT_H
#define LA_DIRECT_H

#include <errno.h>

#include "slab.h"

// A request that cannot be served: NULL with errno ENOMEM.
LA_INLINE void *la_nomem(void)
{
    errno = ENOMEM;
    return NULL;
}

// The bytes a live block with a header was requested for.
LA_INLINE size_t la_block_req(la_block_t *b)
{
    return blk_is_mmapped(b) ? large_req(b) : blk_req(b);
}

// True for the pointer of a live heap block whose header passes every
// test of la_validate's full check, which is then not needed: the common
// case of a free or realloc past the slabs, inlined and without a report
// to prepare (issue 14: the full check's call and frame were 60
// instructions of a malloc(1 MiB) + free round).  Anything else (a large
// block, a block the profiler sampled, checking mode or Valgrind, a
// misuse, a free before the first malloc: no heap is set up) goes to
// la_validate_slow, which names it.  *size_out and *hash_out: the block's
// size and its header's hash, for a caller that goes on to rewrite its
// check word (la_realloc).
LA_INLINE bool la_block_sound(const void *p, size_t *size_out, uint32_t *hash_out)
{
    if ((uintptr_t)p % ALIGNMENT != 0 || LA_UNLIKELY(la.debug))
        return false;
    la_block_t *b = blk_from_payload(p);
    size_t head = blk_load_head(b), size = head & LA_SIZE_MASK;
    uint32_t hash = blk_hash(b, head, la.key);
    *size_out = size;
    *hash_out = hash;
    return blk_check(b) == la_check_word(hash, blk_req(b)) &&
           size - MIN_BLOCK_SIZE <= la_load_relaxed(&la.heap_block_max) - MIN_BLOCK_SIZE &&
           blk_in_use_sound(b, head, size);
}

// Checks the header of a pointer handed back (not a slot's: the caller
// asked slab_of first); reports misuse and aborts.  A block the profiler
// sampled loses its sample and its mark: every free and realloc passes here.
LA_HIDDEN la_block_t *la_validate(const void *p, const char *func);
// la_validate past la_block_sound: the full check, out of line.
LA_HIDDEN LA_NOINLINE la_block_t *la_validate_slow(const void *p, const char *func);

// A heap or large block of at least `usable` bytes (>= req) for req,
// zeroed if asked, counted; NULL with ENOMEM.  `usable` lets a medium
// request's block be the size of its cache class, so that it returns to
// that bin.
LA_HIDDEN void *la_alloc_direct(la_heap_t *h, size_t req, size_t usable, bool zero);
// The exported family's malloc of a request above the thread cache's bins
// (LA_TC_MEDIUM_MAX_BYTES): a heap block below the mmap threshold on a
// short path (issue 14), anything else as la_alloc_direct.
LA_HIDDEN void *la_malloc_big(la_heap_t *h, size_t req);
// A block aligned to `align`, a power of two above ALIGNMENT.
LA_HIDDEN void *la_alloc_aligned_direct(la_heap_t *h, size_t align, size_t req);

// Frees a validated block: checking mode's hooks and quarantine, then its
// heap (under the heap's lock if ts, unless the process is
// single-threaded) or its mapping (ts: the exported family, whose large
// frees move the mmap threshold).  `func` names the caller in reports.
LA_HIDDEN void la_free_direct(la_block_t *b, bool ts, const char *func);
// la_free_direct for the exported family, with a short path for a heap
// block (issue 14).
LA_HIDDEN void la_free_block(la_block_t *b);
// Frees for real a block or slot that left the quarantine (debug.c).
LA_HIDDEN void la_release_held(const la_held_t *e);

// The usable size of anything but a live slot in a default build (where
// tcache_usable_size() answers inline); `func` names the caller in misuse
// reports.
LA_HIDDEN LA_NOINLINE size_t la_usable_size_slow(const void *p, const char *func);

#endif
