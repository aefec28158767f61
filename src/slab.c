// SPDX-License-Identifier: MIT
/*
 * slab.c: size-class slabs carved from the heap (see slab.h for the layout
 * and the slot states).  Every function that takes a heap runs under its
 * lock; la.slab_lock guards only the page map's second levels and the
 * metadata pool (lock order: a heap, then slab_lock).
 *
 * Slots are handed out by a scan of the slab's bitmap from its lowest free
 * slot, not by popping a list threaded through the slots: a list built by
 * frees in random order made every allocation a dependent cache miss
 * (slab_alloc_batch was 27% of w_shuffle's profile, against mimalloc's
 * 0.16 s we took 0.74 s), while the bitmap costs one find-first-set per
 * slot and touches no slot.  Lowest-first also carves lazily: a new slab
 * hands out slots from its start, and its untouched pages stay untouched
 * (and out of RSS) until needed.  Slots from `carved` up were never handed
 * out (their bits all set), so they go in one run, without a bit search.
 */
#include <string.h>

#include "slab.h"

_Static_assert(LA_IS_POW2(LA_SLAB_BYTES) && LA_SLAB_BYTES == 1u << LA_SLAB_SHIFT,
               "slabs are aligned to their size");
_Static_assert(LA_SLAB_SPAN_MAX % LA_SLAB_BYTES == 0 && LA_SLAB_SPAN_MAX <= MMAP_THRESHOLD,
               "a slab is whole chunks, no bigger than a heap block may be");

_Static_assert(LA_SLAB_SPAN_MAX / 4096 <= 64, "a slab's purged pages fit la_slab_t.purged");
// A colour keeps the slots' alignment; test_slab checks that each class's
// is less than a page (page 0 holds slot 0's start: slab_purge_pages).
_Static_assert(LA_SLAB_COLOR_UNIT % 16 == 0, "a colour keeps the slots' alignment");
_Static_assert(4 * (LA_SLAB_CLASSES - 1) <= UINT8_MAX,
               "a class's bin offset fits the map's byte and la_slab_t's cls and cls4");

_Static_assert(LA_SLAB_REMOTE_MANY > LA_TC_COUNT_MAX,
               "a remote list's length field counts a full bin's flush exactly");

#define L2_ENTRIES ((size_t)1 << LA_SLAB_MAP_L2_BITS)

/* ---- the page map and the metadata pool --------------------------------- */

// Sets the map entry of the slab at base (s, or NULL to clear it).  A
// second level is L2_ENTRIES slab pointers followed by a byte per entry,
// the slab's cls4 (slab_of_cls4), written before the pointer.
LA_HOT_TEXT static bool map_set(uintptr_t base, la_slab_t *s)
{
    size_t i1 = base >> 32;
    if (i1 >= ((size_t)1 << LA_SLAB_MAP_L1_BITS))
        return false;
    la_slab_t **l2 = __atomic_load_n(&la.slab_map[i1], __ATOMIC_ACQUIRE);
    if (l2 == NULL) {
        lock_acquire(&la.slab_lock);
        l2 = la.slab_map[i1];
        if (l2 == NULL) {
            l2 = os_map(L2_ENTRIES * sizeof *l2 + L2_ENTRIES);
            if (l2 != NULL)
                __atomic_store_n(&la.slab_map[i1], l2, __ATOMIC_RELEASE);
        }
        lock_release(&la.slab_lock);
        if (l2 == NULL)
            return false;
    }
    uint32_t i = (uint32_t)base >> LA_SLAB_SHIFT;
    la_store_relaxed((uint8_t *)(l2 + L2_ENTRIES) + i, (uint8_t)(s != NULL ? s->cls4 : 0));
    la_store_relaxed(&l2[i], s);
    return true;
}

// A metadata record for a slab of class cls (its bitmap's size is the
// class's): one freed by a slab of the class, else carved from the pool.
static la_slab_t *meta_alloc(unsigned cls)
{
    lock_acquire(&la.slab_lock);
    la_slab_t *s = la.slab_meta_free[cls];
    if (s != NULL) {
        la.slab_meta_free[cls] = s->next_all;
    } else {
        size_t step = slab_meta_bytes(cls);
        if (la.slab_meta_left < step) {
            char *chunk = os_map(LA_SLAB_META_CHUNK_BYTES);
            if (chunk != NULL) {
                la.slab_meta = chunk;
                la.slab_meta_left = LA_SLAB_META_CHUNK_BYTES;
            }
        }
        if (la.slab_meta_left >= step) {
            s = (la_slab_t *)la.slab_meta;
            la.slab_meta += step;
            la.slab_meta_left -= step;
        }
    }
    lock_release(&la.slab_lock);
    return s;
}

static void meta_free(la_slab_t *s, unsigned cls)
{
    lock_acquire(&la.slab_lock);
    s->next_all = la.slab_meta_free[cls];
    la.slab_meta_free[cls] = s;
    lock_release(&la.slab_lock);
}

// Sets the map entries of every chunk of the slab at base (s, or NULL to
// clear them).
static bool map_set_span(uintptr_t base, size_t span, la_slab_t *s)
{
    for (size_t off = 0; off < span; off += LA_SLAB_BYTES)
        if (!map_set(base + off, s)) {
            for (size_t undo = 0; undo < off; undo += LA_SLAB_BYTES)
                map_set(base + undo, NULL);
            return false;
        }
    return true;
}

/* ---- lists -------------------------------------------------------------- */

static void avail_push(la_heap_t *h, la_slab_t *s)
{
    s->prev_avail = NULL;
    s->next_avail = h->slab_avail[s->cls];
    if (s->next_avail != NULL)
        s->next_avail->prev_avail = s;
    h->slab_avail[s->cls] = s;
    s->on_avail = 1;
}

static void avail_remove(la_heap_t *h, la_slab_t *s)
{
    if (s->prev_avail != NULL)
        s->prev_avail->next_avail = s->next_avail;
    else
        h->slab_avail[s->cls] = s->next_avail;
    if (s->next_avail != NULL)
        s->next_avail->prev_avail = s->prev_avail;
    s->on_avail = 0;
}

/* ---- bitmap ------------------------------------------------------------- */

// Relaxed loads and stores: the heap lock orders writers; slab_check reads
// without it, and only ever relies on the bit of a slot it owns.
static bool bit_get(la_slab_t *s, uint32_t i)
{
    return (la_load_relaxed(&s->freemap[i / 64]) >> (i % 64)) & 1;
}

// The bits of bitmap word w that stand for slots [from, to) (the word
// holds some of them).
static uint64_t word_bits(uint32_t w, uint32_t from, uint32_t to)
{
    uint32_t lo = LA_MAX(from, w * 64) - w * 64, hi = LA_MIN(to, w * 64 + 64) - w * 64;
    return (hi == 64 ? ~(uint64_t)0 : ((uint64_t)1 << hi) - 1) & ~(((uint64_t)1 << lo) - 1);
}

/* ---- making and releasing slabs ----------------------------------------- */

LA_HOT_TEXT static la_slab_t *slab_create(la_heap_t *h, unsigned cls)
{
    la_slab_t *s = meta_alloc(cls);
    if (s == NULL)
        return NULL;
    const la_sizeclass_t *c = &la_sizeclasses[cls];
    // The block is the slab's chunks, its header in the first 16 bytes,
    // so that consecutive slabs pack without a gap and a slab's pages are
    // its own.  With whole 64 KiB payloads, every slab left a hole before
    // the next aligned one whose header and footer kept two pages
    // resident: 100-byte blocks cost 127.7 bytes of RSS each (glibc,
    // jemalloc, tcmalloc, mimalloc: 112-113).  With the header in the last
    // 16 bytes of the chunk before, the next slab's header kept the last
    // page of a slab resident that its slots had not reached: a page per
    // slab in a program's first slabs, carved one after the other.
    size_t need = blk_size_for(c->span - LA_HEADER_BYTES);
    // A slab given back leaves a free block that is aligned already, and
    // best fit finds it; heap_alloc_aligned would ask for need + 64 KiB
    // and grow the heap past such blocks (test_slabs saw the heap grow
    // by a slab per refill after a round of remote frees).
    char *resident_end;
    la_block_t *b = heap_alloc(h, need, NULL, &resident_end);
    if (b != NULL && ((uintptr_t)b & (LA_SLAB_BYTES - 1)) != 0) {
        heap_free(h, b);
        b = NULL;
    }
    if (b == NULL)
        b = heap_alloc_aligned(h, need, LA_SLAB_BYTES, LA_HEADER_BYTES, &resident_end);
    if (b == NULL) {
        meta_free(s, cls);
        return NULL;
    }
    // A live heap block to the heap and the walker, but not a program's
    // allocation: it is not counted as one.
    blk_set_req(b, c->span - LA_HEADER_BYTES);
    memset(s, 0, sizeof *s); // the bitmap is set below
    s->span = c->span;
    // The colour: cache lines before the first slot, out of what the slots
    // leave over at the slab's end or a few slots given up for it
    // (scripts/sizeclass.py, COLOR_LINES).
    // Every slab starts on a LA_SLAB_BYTES boundary, so uncoloured, each
    // class's first slot (the one a program with few blocks of the class
    // reuses) fell in the same set of the L1 cache, and a loop over nine
    // classes (w_pairs) missed on every pop: callgrind's cache model
    // counted 8.0M D1 misses in w_pairs 0.2, 2.6K coloured.
    s->base = (uintptr_t)b + slab_first_offset(c);
    s->inv = c->inv;
    s->shift = c->shift;
    s->cls = cls;
    s->cls4 = 4 * cls;
    s->size = c->size;
    s->nslots = c->nslots;
    s->nfree = c->nslots;
    s->heap = h;
    // Its first page at least: the header was written there.
    s->resident_bytes = (uint32_t)LA_MAX(LA_ALIGN_UP((size_t)(resident_end - (char *)b),
                                                     la.page_bytes),
                                         la.page_bytes);
    // Every slot free (never carved): whole words, then the last's low bits.
    for (uint32_t w = 0; w < c->nslots / 64; w++)
        s->freemap[w] = ~(uint64_t)0;
    if (c->nslots % 64 != 0)
        s->freemap[c->nslots / 64] = ((uint64_t)1 << (c->nslots % 64)) - 1;
    if (!map_set_span(slab_start(s), s->span, s)) {
        heap_free(h, b);
        meta_free(s, cls);
        return NULL;
    }
    s->next_all = h->slab_all;
    if (s->next_all != NULL)
        s->next_all->prev_all = s;
    h->slab_all = s;
    avail_push(h, s);
    // The heap's purge reaches the slabs' free pages through this (the
    // heap layer names nothing above it).  Checking mode keeps its free
    // slots' poison, so it purges none.
    if (!la.debug)
        __atomic_store_n(&la.purge_above, slab_purge_pages, __ATOMIC_RELAXED);
    return s;
}

// Gives an empty slab back to the heap as one block.
static void slab_release(la_heap_t *h, la_slab_t *s)
{
    if (s->on_avail)
        avail_remove(h, s);
    if (h->slab_kept[s->cls] == s)
        h->slab_kept[s->cls] = NULL;
    if (s->prev_all != NULL)
        s->prev_all->next_all = s->next_all;
    else
        h->slab_all = s->next_all;
    if (s->next_all != NULL)
        s->next_all->prev_all = s->prev_all;
    map_set_span(slab_start(s), s->span, NULL);
    la_block_t *b = slab_block(s);
    // What may be resident: the pages that were when it was made, and
    // those its slots reached; past both, nothing touched a page (issue
    // 14: an emptied slab went back all resident, and the next purge
    // advised the pages past its slots, which no one had touched: a quarter
    // of the pages w_churn 1 4 remote advised with ALLOCATOR_DECAY_MS=0
    // were not resident, mincore said).
    size_t page = la.page_bytes, pages = blk_size(b) / page;
    size_t reached = LA_ALIGN_UP(s->base + (uintptr_t)s->carved * s->size, page) - (uintptr_t)b;
    size_t resident = LA_MIN(LA_MAX(reached, (size_t)s->resident_bytes) / page, pages);
    if (s->purged == 0 && resident == pages) {
        heap_free(h, b);
    } else {
        // Its pages that a purge gave back stay given back too: the heap
        // is told which may be resident (in one interval, besides the
        // first page), or its purges would advise them again.
        size_t first = 0, last = 0;
        for (size_t k = 1; k < resident; k++)
            if (k >= 64 || !((s->purged >> k) & 1)) {
                first = first == 0 ? k : first;
                last = k + 1;
            }
        heap_free_purged(h, b, (char *)b + first * page, (char *)b + last * page);
    }
    meta_free(s, s->cls);
}

/* ---- purged pages ------------------------------------------------------- */

// What a slot free in its slab holds: link words (to nothing), or a
// one-word slot's mark.
static void slot_mark_free(const la_slab_t *s, void *p)
{
    if (slab_one_word(s))
        la_word_mark(p);
    else
        la_link_store(p, NULL);
}

// Slot i of s.
static uintptr_t *slot_at(const la_slab_t *s, uint32_t i)
{
    return (uintptr_t *)(s->base + (uintptr_t)i * s->size);
}

// Whether every slot of s from i to j (inclusive) is free in the slab.
static bool bits_all_set(const la_slab_t *s, uint32_t i, uint32_t j)
{
    for (uint32_t w = i / 64; w <= j / 64; w++) {
        uint64_t mask = word_bits(w, i, j + 1);
        if ((la_load_relaxed(&s->freemap[w]) & mask) != mask)
            return false;
    }
    return true;
}

// Whether free slot p of s holds what a purge left: its page was purged
// and its link words (or a one-word slot's word) read zero.  Slots of 16
// bytes and more are 16-aligned (those classes are multiples of 16), so
// the two words share a page.
static bool purge_left(const la_slab_t *s, const uintptr_t *p)
{
    size_t k = ((uintptr_t)p - slab_start(s)) / la.page_bytes;
    return k < 64 && ((s->purged >> k) & 1) && p[0] == 0 && (slab_one_word(s) || p[1] == 0);
}

// The free slots whose link words lie on s's purged pages get them back
// (slab_free's), which faults those pages in again: the slab hands out
// slots again, and its checks (alloc_slots, the free fast path) rely on
// the link words of every free slot.  Such a slot holds what the purge
// left, or link words if it came back after the purge; anything else is a
// write after free, reported as alloc_slots reports it.
static LA_NOINLINE void slab_unpurge(la_slab_t *s)
{
    size_t page = la.page_bytes;
    for (uint64_t m = s->purged; m != 0; m &= m - 1) {
        size_t k = (size_t)__builtin_ctzll(m);
        // The slots from the first whose link words end past the page's
        // start to the last that starts inside it (offsets from the first
        // slot; the colour is less than a page).
        size_t color = slab_color(s), words = LA_MIN(s->size, 2 * sizeof(uintptr_t));
        size_t lo = k * page, hi = lo + page - color;
        uint32_t i = lo < color + words ? 0 : (uint32_t)((lo - color - words) / s->size + 1);
        uint32_t stop = (uint32_t)LA_MIN((hi + s->size - 1) / s->size, (size_t)s->carved);
        for (; i < stop; i++) {
            if (!bit_get(s, i))
                continue;
            uintptr_t *p = slot_at(s, i);
            if (LA_UNLIKELY(!slab_slot_marked_free(s, p) && !purge_left(s, p)))
                la_link_corrupt(p, "malloc");
            slot_mark_free(s, p);
        }
    }
    la_store_relaxed(&s->purged, (uint64_t)0); // the word free path reads it unlocked
    __atomic_store_n(&s->free_limit, slab_free_limit(s, s->carved), __ATOMIC_RELAXED);
}

size_t slab_purge_pages(la_heap_t *h, bool all)
{
    size_t page = la.page_bytes, bytes = 0;
    uint32_t now = (uint32_t)os_now_ms();
    for (la_slab_t *s = h->slab_all; s != NULL; s = s->next_all) {
        h->purge_walked++; // paces the next purge (heap.c, tick_locked)
        // A slab in use keeps its pages: they would come back at its next
        // refill (and its frees would take the slow path meanwhile).  In
        // use: its free count moved since the last pass, or less than
        // LA_SLAB_PURGE_IDLE_MS ago (a store in the paths that hand out
        // and put back cost w_shuffle 0.4 % of its instructions; a count
        // that moved and came back is missed).
        if (s->nfree != s->pass_nfree) {
            s->pass_nfree = s->nfree;
            s->still_ms = now;
            if (!all)
                continue;
        } else if (!all && now - s->still_ms < LA_SLAB_PURGE_IDLE_MS) {
            continue;
        }
        if ((size_t)s->nfree * s->size < page)
            continue;
        // Whole pages of the slab but its first (which holds its block's
        // header) that its slots reached; page k is the slab's start plus
        // k pages, its slots those from the one holding its first byte to
        // the one holding its last (header and colour, less than a page,
        // before slot 0).
        size_t color = slab_color(s);
        size_t pages = LA_MIN((size_t)s->span / page,
                              (color + (size_t)s->carved * s->size + page - 1) / page);
        size_t run = 1; // first page of the run to give back
        for (size_t k = 1; k <= pages; k++) {
            bool take = false;
            if (k < pages && !((s->purged >> k) & 1)) {
                uint32_t i = k * page < color ? 0 : (uint32_t)((k * page - color) / s->size);
                uint32_t j = (uint32_t)LA_MIN(((k + 1) * page - 1 - color) / s->size,
                                              (size_t)s->nslots - 1);
                take = bits_all_set(s, i, j);
            }
            if (take) {
                if (s->purged == 0) // before the first page goes: see slab.h
                    __atomic_store_n(&s->free_limit, 0, __ATOMIC_RELAXED);
                la_store_relaxed(&s->purged, s->purged | (uint64_t)1 << k);
                continue;
            }
            if (k > run) {
                os_advise_free((void *)(slab_start(s) + run * page), (k - run) * page);
                la_count_release((k - run) * page);
                bytes += (k - run) * page;
            }
            run = k + 1;
        }
    }
    return bytes;
}

/* ---- slots -------------------------------------------------------------- */

// Up to `want` slots of class cls, into out[] when it is not NULL, else
// linked into a chain (the first found at its head, the last linking to
// `tail`), whose head goes to *head.  Inlined into its two callers with
// the sink fixed, so that each loop has one store per slot.  The chain
// starts from a stand-in slot on the stack, whose link names the head:
// no test for the first slot in the loops.
static inline __attribute__((always_inline)) size_t alloc_slots(la_heap_t *h, unsigned cls,
                                                               size_t want, void **out,
                                                               void *tail, void **head)
{
    size_t n = 0;
    uintptr_t start[2] = {0, 0}; // the chain's stand-in first slot
    uintptr_t *prev = start;     // the slot to link to the next one
    uintptr_t key = la.slot_key;
    uintptr_t prev_tag = key ^ (uintptr_t)prev; // la_link_tag(prev)
    while (n < want) {
        la_slab_t *s = h->slab_avail[cls];
        if (s == NULL) {
            // Slots other threads gave back first: they may refill a slab.
            void *remote = slab_take_remote(h, cls, NULL);
            if (remote != NULL) {
                slab_free_chain(h, remote);
                continue;
            }
            if (n > 0 || (s = slab_create(h, cls)) == NULL)
                break;
        }
        if (LA_UNLIKELY(s->purged != 0))
            slab_unpurge(s);
        uint32_t carved = s->carved;
        // In locals: the link stores below might alias the slab and la for
        // all the compiler knows, and it reloaded them for every slot.
        uintptr_t base = s->base, size = s->size;
        size_t first = n;
        // A one-word slot is checked by its mark (and is never chained).
        bool one_word = slab_one_word(s);
        la_assert(out != NULL || !one_word);
        // Slots handed out before and given back: the bitmap's, below
        // `carved` (bits from `carved` up are all set: never carved).
        uint32_t below = (carved + 63) / 64;
        for (uint32_t w = s->first_word; w < below && n < want; w++) {
            uint64_t bits = la_load_relaxed(&s->freemap[w]);
            s->first_word = w; // words below have no free slot
            if (carved < w * 64 + 64)
                bits &= ((uint64_t)1 << (carved % 64)) - 1; // this word's carved slots
            if (bits == 0)
                continue;
            uint64_t found = bits;
            // This word's slots, or as many as are still wanted.
            for (;;) {
                uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                uintptr_t *p = (uintptr_t *)(base + (uintptr_t)i * size);
                uintptr_t tag = key ^ (uintptr_t)p;
                // A slot handed out before came back through slab_free
                // or a chain, linked (or marked): a write after its free
                // broke that, and would have let a second free of it pass
                // the fast path while the slab hands it out again.
                if (LA_UNLIKELY(one_word ? !la_word_marked(p) : (p[0] ^ p[1]) != tag))
                    la_link_corrupt(p, "malloc");
                if (out != NULL) {
                    out[n] = p;
                } else {
                    // la_link_store(prev, p), its tag kept from its check.
                    prev[0] = (uintptr_t)p ^ prev_tag;
                    prev[1] = (uintptr_t)p;
                    prev = p;
                    prev_tag = tag;
                }
                if (++n == want || bits == 0)
                    break;
            }
            // Taken: the slots found less those left.
            la_store_relaxed(&s->freemap[w], la_load_relaxed(&s->freemap[w]) & ~(found & ~bits));
        }
        // Then never-carved slots, lowest first, in one run from `carved`:
        // no bit to find one at a time and no link to check (a scan of the
        // bitmap cost 33 instructions a slot on w_shuffle, whose batches
        // come mostly from new slabs), their bits cleared a word at a time.
        // The slots below were all taken (n < want), so the words below
        // the new `carved` have no free slot.
        if (n < want && carved < s->nslots) {
            uint32_t end = (uint32_t)LA_MIN((size_t)s->nslots, carved + (want - n));
            uintptr_t p = base + (uintptr_t)carved * size, stop = base + (uintptr_t)end * size;
            if (out != NULL) {
                for (; p < stop; p += size)
                    out[n++] = (void *)p;
            } else {
                // Each slot links the one before to itself: a store pair.
                uintptr_t q = (uintptr_t)prev;
                for (; p < stop; q = p, p += size)
                    la_link_store_keyed((void *)q, (void *)p, key);
                prev = (uintptr_t *)q;
                prev_tag = key ^ q;
                n += end - carved;
            }
            for (uint32_t w = carved / 64; w * 64 < end; w++)
                la_store_relaxed(&s->freemap[w],
                                 la_load_relaxed(&s->freemap[w]) & ~word_bits(w, carved, end));
            s->first_word = (end == s->nslots ? end - 1 : end) / 64;
            // Published before the slots are: a free of one checks them.
            __atomic_store_n(&s->carved, end, __ATOMIC_RELAXED);
            // No page purged: above.
            __atomic_store_n(&s->free_limit, slab_free_limit(s, end), __ATOMIC_RELAXED);
        }
        s->nfree -= (uint32_t)(n - first);
        if (s->nfree == 0)
            avail_remove(h, s);
    }
    if (out == NULL) {
        la_link_store_keyed(prev, tail, key);
        *head = (void *)start[1];
    }
    return n;
}

LA_HOT_TEXT size_t slab_alloc_batch(la_heap_t *h, unsigned cls, size_t want, void **out)
{
    return alloc_slots(h, cls, want, out, NULL, NULL);
}

LA_HOT_TEXT size_t slab_alloc_chain(la_heap_t *h, unsigned cls, size_t want, void *tail,
                                    void **head)
{
    return alloc_slots(h, cls, want, NULL, tail, head);
}

// Whether `self`, which has just become empty, stays: it does unless the
// slab its class keeps is another one and still empty, and then it is the
// kept one.  So every empty slab is the kept one.  O(1): counting the
// empty slabs on the class's list walked every slab with free slots each
// time one emptied, and a program that freed the last live block of
// 13,675 slabs of 112-byte slots, each slab holding one, took 0.34 s
// over those frees (glibc 0.001 s), four times as long for twice as many.
_Static_assert(LA_SLAB_EMPTY_KEEP <= 1, "a heap notes one kept slab per class");
static bool keep_empty(la_heap_t *h, la_slab_t *self)
{
    la_slab_t *kept = h->slab_kept[self->cls];
    if (LA_SLAB_EMPTY_KEEP == 0 || (kept != NULL && kept != self && kept->nfree == kept->nslots))
        return false;
    h->slab_kept[self->cls] = self;
    return true;
}

// Slot p of s back in its slab, checked first (a second free of a slot
// already back in its slab, or a pointer that is not a slot's start, is
// reported by `func`): marked in the bitmap; returns its index.  The
// caller then counts it (slots_counted_back) and settles the slab
// (slab_settle), once per run of slots in one slab.
static inline __attribute__((always_inline)) uint32_t slot_mark_back(la_slab_t *s, void *p,
                                                                    const char *func)
{
    uint32_t i = slab_slot_index(s, p);
    if (LA_UNLIKELY(i >= s->carved))
        la_fatal(func, "invalid pointer %p (inside a slab of %u-byte slots, not a slot's start)", p,
                 s->size);
    // One load of the bitmap word for the test and the set (relaxed atomic
    // loads are not merged by the compiler).
    uint64_t *word = &s->freemap[i / 64], bits = la_load_relaxed(word);
    if (LA_UNLIKELY((bits >> (i % 64)) & 1))
        la_fatal(func, "double free of %p (slot of %u bytes, already free)", p, s->size);
    la_store_relaxed(word, bits | (uint64_t)1 << (i % 64));
    return i;
}

// n slots of s marked back, the lowest at index `low`: counted, and the
// first word with a free slot moved down to low's.  Once per run in a
// flush rather than per slot: w_batch 0.278 -> 0.271 s, w_shuffle 0.183
// -> 0.178 (cmp 9; mimalloc 0.250 and 0.126).
static inline __attribute__((always_inline)) void slots_counted_back(la_slab_t *s, uint32_t n,
                                                                    uint32_t low)
{
    s->nfree += n;
    if (low / 64 < s->first_word)
        s->first_word = low / 64;
}

static inline __attribute__((always_inline)) void slot_put_back(la_slab_t *s, void *p,
                                                               const char *func)
{
    slots_counted_back(s, 1, slot_mark_back(s, p, func));
}

// A slab that got slots back: onto its class list, and back to the heap if
// it is empty now (its memory is then the heap's: nothing may be written
// to its slots after this).
static inline __attribute__((always_inline)) void slab_settle(la_heap_t *h, la_slab_t *s)
{
    if (!s->on_avail)
        avail_push(h, s);
    if (s->nfree == s->nslots && !keep_empty(h, s))
        slab_release(h, s);
}

LA_HOT_TEXT void slab_free(la_heap_t *h, void *p, const char *func)
{
    la_slab_t *s = slab_of(p);
    la_assert(s != NULL && s->heap == h);
    slot_put_back(s, p, func);
    slot_mark_free(s, p); // free: a second free of it fails the fast path
    slab_settle(h, s);
}

// Slots that come off a chain or a bin keep their link words: they hold
// already (the link is stale and never followed).
void slab_free_chain(la_heap_t *h, void *chain)
{
    // slab_free_run's walk, to the chain's end: every slot is h's.
    uint32_t count;
    chain = slab_free_run(h, chain, UINT32_MAX, &count);
    la_assert(chain == NULL);
}

// Up to n slots of h back to their slabs, one walk that marks each back at
// once and counts and settles its slab once per run of its slots, to the first slot
// of another heap: from *chain, each link checked as it is followed (and
// *chain left at the rest), or from slots[] when that is not NULL (one-word
// slots, never linked).  Inlined into its two callers with the source
// fixed.  A walk that noted the slots and their slabs in arrays, then a
// second loop over the arrays, cost 78 instructions a slot on w_shuffle
// (whose slabs change from one slot to the next), and every slot flushed
// was one of them.
static inline __attribute__((always_inline)) uint32_t free_walk(la_heap_t *h, void **chain,
                                                               void *const *slots, uint32_t n)
{
    la_slab_t *run = NULL;
    uint32_t run_n = 0, run_low = UINT32_MAX;
    uintptr_t base = 0; // the run's first chunk: none yet
    void *p = slots != NULL ? NULL : *chain;
    uint32_t done = 0;
    while (done < n) {
        if (slots != NULL)
            p = slots[done];
        else if (p == NULL)
            break;
        // Slabs start LA_SLAB_BYTES-aligned: p is in the run's first
        // chunk iff it is less than that above the slab's start (a slot
        // in a later chunk of a two-chunk slab finds the same slab again).
        if ((uintptr_t)p - base >= LA_SLAB_BYTES) {
            la_slab_t *s = slab_of_slot(p);
            if (s->heap != h)
                break;
            // A slab released here held none of the slots still to come
            // (each of them kept it from being empty).
            if (run != NULL && s != run) {
                slots_counted_back(run, run_n, run_low);
                slab_settle(h, run);
                run_n = 0;
                run_low = UINT32_MAX;
            }
            run = s;
            base = slab_start(s);
        }
        void *next = slots != NULL ? NULL : la_link_next(p, "free");
        uint32_t i = slot_mark_back(run, p, "free");
        run_n++;
        run_low = LA_MIN(run_low, i);
        done++;
        p = next;
    }
    if (run != NULL) {
        slots_counted_back(run, run_n, run_low);
        slab_settle(h, run);
    }
    if (slots == NULL)
        *chain = p;
    return done;
}

LA_HOT_TEXT void *slab_free_run(la_heap_t *h, void *chain, uint32_t n, uint32_t *count)
{
    *count = free_walk(h, &chain, NULL, n);
    return chain;
}

LA_HOT_TEXT size_t slab_free_words(la_heap_t *h, void *const *slots, size_t n)
{
    return free_walk(h, NULL, slots, (uint32_t)LA_MIN(n, (size_t)UINT32_MAX));
}

// A remote list's word: its head below LA_SLAB_ADDR_BITS, its length above.
static void *remote_head(uintptr_t word)
{
    return (void *)(word & (((uintptr_t)1 << LA_SLAB_ADDR_BITS) - 1));
}
static uint32_t remote_count(uintptr_t word) { return (uint32_t)(word >> LA_SLAB_ADDR_BITS); }
static uintptr_t remote_word(void *head, uint32_t count)
{
    return (uintptr_t)head | (uintptr_t)count << LA_SLAB_ADDR_BITS;
}

void slab_push_remote(la_heap_t *h, unsigned cls, void *first, void *last, uint32_t n)
{
    uintptr_t *list = &h->slab_remote[cls];
    uintptr_t old = __atomic_load_n(list, __ATOMIC_RELAXED), word;
    do {
        la_link_store(last, remote_head(old));
        uint32_t count = remote_count(old);
        count = n >= LA_SLAB_REMOTE_MANY - count ? LA_SLAB_REMOTE_MANY : count + n;
        word = remote_word(first, count);
    } while (!__atomic_compare_exchange_n(list, &old, word, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
}

LA_HOT_TEXT void *slab_take_remote(la_heap_t *h, unsigned cls, uint32_t *count)
{
    uintptr_t *list = &h->slab_remote[cls];
    uintptr_t word = 0;
    // The common case, an empty list, costs no locked instruction.
    if (__atomic_load_n(list, __ATOMIC_RELAXED) != 0)
        word = __atomic_exchange_n(list, 0, __ATOMIC_ACQUIRE);
    if (count != NULL)
        *count = remote_count(word);
    return remote_head(word);
}

bool slab_untake_remote(la_heap_t *h, unsigned cls, void *chain, uint32_t n)
{
    uintptr_t none = 0;
    return __atomic_compare_exchange_n(&h->slab_remote[cls], &none, remote_word(chain, n), false,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

size_t slab_purge(la_heap_t *h)
{
    size_t bytes = 0;
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++)
        slab_free_chain(h, slab_take_remote(h, c, NULL));
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++) {
        la_slab_t *s = h->slab_avail[c];
        while (s != NULL) {
            la_slab_t *next = s->next_avail;
            if (s->nfree == s->nslots) {
                bytes += blk_size(slab_block(s));
                slab_release(h, s);
            }
            s = next;
        }
    }
    return bytes;
}

/* ---- checks ------------------------------------------------------------- */

LA_HOT_TEXT void slab_check(la_slab_t *s, const void *p, const char *func)
{
    uint32_t i = slab_slot_index(s, p);
    if (LA_UNLIKELY(i >= __atomic_load_n(&s->carved, __ATOMIC_RELAXED))) {
        if ((uintptr_t)p >= s->base && (uintptr_t)p < s->base + (uintptr_t)s->nslots * s->size &&
            ((uintptr_t)p - s->base) % s->size == 0)
            la_fatal(func, "invalid pointer %p (a slot of %u bytes never allocated)", p, s->size);
        la_fatal(func,
                 "invalid pointer %p (inside a slab of %u-byte slots at %p, offset %zu: "
                 "not a multiple of the slot size)",
                 p, s->size, (void *)slab_start(s), (size_t)((uintptr_t)p - slab_start(s)));
    }
    if (LA_UNLIKELY(bit_get(s, i)))
        la_fatal(func, "double free of %p (slot of %u bytes, already free)", p, s->size);
    if (LA_UNLIKELY(slab_slot_marked_free(s, p)))
        la_fatal(func, "double free of %p (slot of %u bytes, already free, in a thread cache)", p,
                 s->size);
}

void slab_stats(la_slab_stats_t out[LA_SLAB_CLASSES])
{
    memset(out, 0, sizeof(la_slab_stats_t) * LA_SLAB_CLASSES);
    unsigned n = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned k = 0; k < n; k++) {
        la_heap_t *h = &la.heaps[k];
        lock_acquire(&h->lock);
        for (la_slab_t *s = h->slab_all; s != NULL; s = s->next_all) {
            la_slab_stats_t *o = &out[s->cls];
            o->slabs++;
            o->slots += s->nslots;
            o->used_slots += s->nslots - s->nfree;
            o->empty_slabs += s->nfree == s->nslots;
            o->carved_slots += __atomic_load_n(&s->carved, __ATOMIC_RELAXED);
        }
        // Pushed without the lock: a count of the moment.
        for (unsigned c = 0; c < LA_SLAB_CLASSES; c++)
            out[c].remote_slots += remote_count(__atomic_load_n(&h->slab_remote[c], __ATOMIC_RELAXED));
        lock_release(&h->lock);
    }
}

size_t slab_free_bytes(la_heap_t *h, size_t *slots)
{
    size_t bytes = 0;
    for (la_slab_t *s = h->slab_all; s != NULL; s = s->next_all) {
        bytes += (size_t)s->nfree * s->size;
        *slots += s->nfree;
    }
    return bytes;
}

const char *slab_check_heap(la_heap_t *h, const void **where)
{
    for (la_slab_t *s = h->slab_all; s != NULL; s = s->next_all) {
        *where = (const void *)s->base;
        if (slab_of((void *)s->base) != s)
            return "the page map does not lead back to the slab";
        if (s->heap != h || s->cls >= LA_SLAB_CLASSES || s->size != la_sizeclasses[s->cls].size ||
            s->span != la_sizeclasses[s->cls].span)
            return "slab metadata damaged";
        for (uintptr_t off = LA_SLAB_BYTES; off < s->span; off += LA_SLAB_BYTES)
            if (slab_of((void *)(slab_start(s) + off)) != s)
                return "the page map does not lead back to the slab";
        if (blk_is_free(slab_block(s)) || blk_size(slab_block(s)) < s->span)
            return "the slab's heap block is not live at its base";
        uint32_t bits = 0;
        for (uint32_t i = 0; i < s->nslots; i++)
            bits += bit_get(s, i);
        if (bits != s->nfree)
            return "the slab's free count disagrees with its bitmap";
        for (uint32_t i = 0; i < s->carved; i++) {
            uintptr_t *p = slot_at(s, i);
            *where = p;
            if (bit_get(s, i) && !slab_slot_marked_free(s, p) && !purge_left(s, p))
                return "a free slot's link words were overwritten (use after free?)";
            if (i / 64 < s->first_word && bit_get(s, i))
                return "a free slot below the slab's first free word";
        }
        for (uint32_t i = s->carved; i < s->nslots; i++)
            if (!bit_get(s, i))
                return "a slot beyond those handed out is not marked free";
        if ((s->nfree > 0) != (s->on_avail != 0))
            return "a slab with free slots is not on its class list";
        *where = (const void *)s->base;
        if (s->nfree == s->nslots && h->slab_kept[s->cls] != s)
            return "an empty slab that its class does not keep";
    }
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++) {
        la_slab_t *kept = h->slab_kept[c];
        if (kept != NULL && (kept->heap != h || kept->cls != c || slab_of((void *)kept->base) != kept))
            return "the slab a class keeps is not one of its slabs";
    }
    return NULL;
}
