// SPDX-License-Identifier: MIT
/*
 * test_slab: the slab layer on its own, below the thread caches: the class
 * table and its divisibility constants, carving every class, alloc and
 * free of every slot, an empty slab going back to the heap whole, the
 * refill's order (slots given back, then a run of new ones) and the
 * flush's walk (slab_free_run), the remote list (one push per chain,
 * taken in one batch, from many threads), the free fast path's link test
 * (la_link_maybe), free pages inside a slab given back and taken again,
 * and misuse named before anything is written (an interior pointer, a slot
 * never handed out, a slot already free, also on a purged page).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include "slab.h"

#include "../testhelper.h"

static la_heap_t *heap0(void)
{
    la_ensure_init();
    return heap_get(0);
}

static size_t slabs_of_class(unsigned cls)
{
    la_slab_stats_t st[LA_SLAB_CLASSES];
    slab_stats(st);
    return st[cls].slabs;
}

static void test_table(void)
{
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++) {
        const la_sizeclass_t *k = &la_sizeclasses[c];
        CHECK(k->size % 8 == 0);
        CHECK(c == 0 || k->size > la_sizeclasses[c - 1].size);
        CHECK(k->span % LA_SLAB_BYTES == 0 && LA_IS_POW2(k->span) && k->span <= LA_SLAB_SPAN_MAX);
        CHECK_EQ(k->nslots, (k->span - LA_HEADER_BYTES - k->color) / k->size);
        CHECK(k->color % LA_SLAB_COLOR_UNIT == 0 && k->color < 4096);
        // The colour spends at most 192 bytes of slots (scripts/sizeclass.py).
        CHECK(((k->span - LA_HEADER_BYTES) / k->size - k->nslots) * k->size <= 192);
        CHECK(k->nslots >= LA_SLAB_SPAN_MIN_SLOTS || k->span == LA_SLAB_SPAN_MAX);
        CHECK_EQ(k->size >> k->shift << k->shift, k->size);
        CHECK(((k->size >> k->shift) & 1) == 1);
        CHECK_EQ((uint32_t)((k->size >> k->shift) * k->inv), 1u);
        // Every offset in a slab: a slot index exactly when it starts a slot.
        for (uint32_t off = 0; off < k->span; off++) {
            uint32_t i = sizeclass_slot(off, k->inv, k->shift);
            int starts = off % k->size == 0 && off / k->size < k->nslots;
            if ((i < k->nslots) != starts || (starts && i != off / k->size)) {
                CHECK(!"divisibility constants");
                break;
            }
        }
        // Waste from 64 B up stays within 25% (20% in fact).
        if (c > 0 && la_sizeclasses[c - 1].size >= 64)
            CHECK((k->size - la_sizeclasses[c - 1].size - 1) * 4 < k->size);
    }
    CHECK_EQ(la_sizeclasses[LA_SLAB_CLASSES - 1].size, LA_SLAB_MAX_BYTES);
    for (size_t req = 0; req <= LA_SLAB_MAX_BYTES; req++) {
        unsigned c = sizeclass_of(req);
        CHECK(c < LA_SLAB_CLASSES && la_sizeclasses[c].size >= req);
        CHECK(c == 0 || la_sizeclasses[c - 1].size < req);
        CHECK_EQ(la_class4_of[req], 4 * c);
    }
    // The bytes-per-block figures.
    // One 8-byte class, class 0, the one-word class (slab.h): its slots
    // are 8-aligned, and hold what nothing needs more alignment for.
    CHECK_EQ(la_sizeclasses[LA_SLAB_WORD_CLASS].size, 8);
    CHECK_EQ(sizeclass_of(0), LA_SLAB_WORD_CLASS);
    CHECK_EQ(sizeclass_of(8), LA_SLAB_WORD_CLASS);
    CHECK_EQ(la_sizeclasses[sizeclass_of(9)].size, 16);
    // No 24-byte class: every other slot is 16-aligned (clang's operator
    // new stores 16 bytes with movaps, so an 8-aligned 24-byte slot crashed).
    CHECK_EQ(la_sizeclasses[sizeclass_of(24)].size, 32);
    for (unsigned c = LA_SLAB_WORD_CLASS + 1; c < LA_SLAB_CLASSES; c++)
        CHECK(la_sizeclasses[c].size % ALIGNMENT == 0);
    CHECK_EQ(la_sizeclasses[sizeclass_of(100)].size, 112);
    CHECK_EQ(la_sizeclasses[sizeclass_of(1000)].size, 1008);
    CHECK_EQ(la_sizeclasses[sizeclass_of(1009)].size, 1024);
    // 256 + 1/8 for 256 bytes and a small header (redis's 260-byte strings).
    CHECK_EQ(la_sizeclasses[sizeclass_of(257)].size, 288);
    CHECK_EQ(la_sizeclasses[sizeclass_of(289)].size, 320);
    // 1008's slab spans two chunks: 130 slots share one metadata record.
    CHECK_EQ(la_sizeclasses[sizeclass_of(1000)].span, 2 * LA_SLAB_BYTES);
    // Above 1 KiB: 1 KiB + 16 and 1 KiB + 1/16 for a 1 KiB buffer and its
    // header (sqlite3's 1032 bytes), four classes per doubling, and slabs
    // of a few chunks.
    CHECK_EQ(la_sizeclasses[sizeclass_of(1025)].size, 1040);
    CHECK_EQ(la_sizeclasses[sizeclass_of(1041)].size, 1088);
    CHECK_EQ(la_sizeclasses[sizeclass_of(1089)].size, 1280);
    CHECK_EQ(la_sizeclasses[sizeclass_of(LA_SLAB_MAX_BYTES)].size, LA_SLAB_MAX_BYTES);
    CHECK(la_sizeclasses[sizeclass_of(2048)].span > LA_SLAB_BYTES);
    // la_class_aligned_up, entry by entry: the first class at or above c
    // whose size and first slot's offset are multiples of the alignment;
    // and the slots such a class hands out are aligned.
    for (size_t align = 32; align <= 4096; align *= 2)
        for (unsigned c = 0; c < LA_SLAB_CLASSES; c++) {
            int want = -1;
            for (unsigned d = c; d < LA_SLAB_CLASSES && want < 0; d++)
                if ((la_sizeclasses[d].size | slab_first_offset(&la_sizeclasses[d])) %
                        align == 0)
                    want = (int)d;
            CHECK_EQ(sizeclass_aligned_up(c, align), align <= 2048 ? want : -1);
        }
    CHECK_EQ(sizeclass_aligned_up(sizeclass_of(64), 64), (int)sizeclass_of(64));
    CHECK_EQ(sizeclass_aligned_up(sizeclass_of(33), 32), (int)sizeclass_of(64));
    // la_class_aligned_hit, request by request: where it names a class, the
    // slow path's choice (aligned_up and the ratio test, alloc.c) is that
    // class for every request of the row's class; where it names none,
    // that choice is none for at least one of them.  Past the classes, a
    // row holds none.
    for (size_t align = 32; align <= 4096; align *= 2) {
        for (unsigned c = 0; c < LA_SLAB_CLASSES; c++) {
            int hit = sizeclass_aligned_hit(c, align), up = sizeclass_aligned_up(c, align);
            bool all = true;
            for (size_t req = c == 0 ? 1 : la_sizeclasses[c - 1].size + 1;
                 req <= la_sizeclasses[c].size; req++)
                all = all && up >= 0 &&
                      la_sizeclasses[up].size <= LA_ALIGNED_SLOT_MAX_RATIO * LA_MAX(req, align);
            CHECK_EQ(hit, all ? up : -1);
        }
        if (align <= 2048)
            for (unsigned c = LA_SLAB_CLASSES; c < LA_SIZECLASS_ROW; c++)
                CHECK_EQ(la_class_aligned_hit[__builtin_ctzll(align) - LA_SIZECLASS_ALIGNED_MIN_LOG][c],
                         UINT8_MAX);
    }
    CHECK_EQ(sizeclass_aligned_hit(sizeclass_of(64), 64), (int)sizeclass_of(64));
}

// Carves every slot of two slabs of each class, checks them, frees them
// all in a scrambled order: the slabs go back to the heap, but one.
static void test_every_class(void)
{
    la_heap_t *h = heap0();
    static void *slot[2 * LA_SLAB_BYTES / 8];
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++) {
        const la_sizeclass_t *k = &la_sizeclasses[c];
        size_t want = 2 * (size_t)k->nslots, n = 0;
        lock_acquire(&h->lock);
        while (n < want) {
            size_t got = slab_alloc_batch(h, c, LA_MIN(want - n, (size_t)32), slot + n);
            REQUIRE(got > 0);
            n += got;
        }
        lock_release(&h->lock);
        CHECK_EQ(slabs_of_class(c), 2);
        for (size_t i = 0; i < n; i++) {
            la_slab_t *s = slab_of(slot[i]);
            REQUIRE(s != NULL);
            CHECK_EQ(s->cls, c);
            CHECK((uintptr_t)slot[i] % LA_MIN(k->size, 16u) == 0);
            CHECK_EQ(slab_slot_index(s, slot[i]), ((uintptr_t)slot[i] - s->base) / k->size);
            CHECK(slab_slot_index(s, (char *)slot[i] + k->size / 2) >= s->nslots);
            // Every chunk of a slab of several maps to it.
            CHECK(slab_of((char *)slot[i] + k->size - 1) == s);
            memset(slot[i], (int)i, k->size); // the whole slot is the program's
        }
        for (size_t i = 0; i < n; i++)
            CHECK(((unsigned char *)slot[i])[k->size - 1] == (unsigned char)i);
        const void *where = NULL;
        lock_acquire(&h->lock);
        CHECK(slab_check_heap(h, &where) == NULL);
        for (size_t i = 0; i < n; i++) // 7919 is prime to every slot count
            slab_free(h, slot[(i * 7919) % n], "free");
        CHECK(slab_check_heap(h, &where) == NULL);
        lock_release(&h->lock);
        CHECK_EQ(slabs_of_class(c), LA_SLAB_EMPTY_KEEP);
    }
    CHECK_EQ(mem_check_heap(), 0);
}

// Frees the slots of slot[0..n) that are in slab `which` (under h's lock),
// and checks the heap.
static void free_slab_of(la_heap_t *h, void **slot, size_t n, la_slab_t *which)
{
    const void *where = NULL;
    lock_acquire(&h->lock);
    for (size_t i = 0; i < n; i++)
        if (slot[i] != NULL && slab_of(slot[i]) == which) {
            slab_free(h, slot[i], "free");
            slot[i] = NULL;
        }
    CHECK(slab_check_heap(h, &where) == NULL);
    lock_release(&h->lock);
}

// The empty slab a class keeps is the one that emptied while no other
// empty one was kept: a kept slab that was used again since gives its
// place to the next one to empty, and the next empty slab after that goes
// back.  (keep_empty notes the kept slab, where it walked the class's list
// to count empty ones: quadratic in a program that emptied many slabs.)
static void test_kept_slab(void)
{
    la_heap_t *h = heap0();
    unsigned c = sizeclass_of(112);
    size_t per = la_sizeclasses[c].nslots, n = 0;
    static void *slot[3 * LA_SLAB_BYTES / 112];
    REQUIRE(3 * per <= sizeof slot / sizeof slot[0]);
    lock_acquire(&h->lock);
    slab_purge(h); // no slab of the class with free slots, none kept
    while (n < 3 * per) {
        size_t got = slab_alloc_batch(h, c, LA_MIN(3 * per - n, (size_t)32), slot + n);
        REQUIRE(got > 0);
        n += got;
    }
    lock_release(&h->lock);
    la_slab_t *a = slab_of(slot[0]), *b = slab_of(slot[per]), *last = slab_of(slot[2 * per]);
    REQUIRE(a != b && b != last && a != last);
    for (size_t i = 0; i < n; i++) // a's slots first, then b's (refilled below)
        REQUIRE(slab_of(slot[i]) == (i < per ? a : i < 2 * per ? b : last));
    CHECK_EQ(slabs_of_class(c), 3);
    free_slab_of(h, slot, n, a); // a empties, and stays: none was kept
    CHECK_EQ(slabs_of_class(c), 3);
    CHECK(h->slab_kept[c] == a);
    // a full again: the only slab of the class with free slots
    lock_acquire(&h->lock);
    CHECK_EQ(slab_alloc_batch(h, c, per, slot), per);
    lock_release(&h->lock);
    CHECK_EQ(a->nfree, 0);
    free_slab_of(h, slot, n, b); // b empties while a is in use: b is kept
    CHECK_EQ(slabs_of_class(c), 3);
    CHECK(h->slab_kept[c] == b);
    free_slab_of(h, slot, n, a); // a empties again, b kept and empty: a goes
    CHECK_EQ(slabs_of_class(c), 2);
    free_slab_of(h, slot, n, last);
    CHECK_EQ(slabs_of_class(c), 1);
    CHECK(h->slab_kept[c] == b);
    lock_acquire(&h->lock);
    slab_purge(h); // the kept one goes too, and is no longer noted
    lock_release(&h->lock);
    CHECK_EQ(slabs_of_class(c), 0);
    CHECK(h->slab_kept[c] == NULL);
}

// The heap block holding address a, found by walking its region.
static la_block_t *block_at(la_heap_t *h, const void *a)
{
    la_region_t *r = heap_region_of(a);
    REQUIRE(r != NULL && r->heap == h);
    la_block_t *b = region_first(r);
    while ((char *)b + blk_size(b) <= (const char *)a)
        b = blk_next(b);
    return b;
}

// A slab that goes back to the heap before its slots reached its last
// pages tells the heap so: the free block it becomes counts none of those
// pages resident, and no purge advises them (issue 14: a quarter of the
// pages w_churn 1 4 remote advised with ALLOCATOR_DECAY_MS=0 were not
// resident, mincore said; an emptied slab went back all resident).
static void test_release_untouched(void)
{
    la_heap_t *h = heap0();
    unsigned c = sizeclass_of(16);
    size_t page = la.page_bytes;
    mem_trim(0); // every free page given back: a new slab's pages are not resident
    lock_acquire(&h->lock);
    slab_purge(h); // none of the class kept
    void *slot;
    REQUIRE(slab_alloc_batch(h, c, 1, &slot) == 1); // a new slab: one slot carved
    la_slab_t *s = slab_of(slot);
    REQUIRE(s->carved < la_sizeclasses[c].nslots && s->nfree == s->nslots - 1);
    char *start = (char *)slab_start(s), *end = start + s->span;
    REQUIRE(s->resident_bytes < s->span); // made in memory a purge gave back
    char *reached = (char *)LA_ALIGN_UP(s->base + (uintptr_t)s->carved * s->size, page);
    char *made = start + s->resident_bytes; // s is gone after the release
    REQUIRE(reached < end - page);
    slab_free(h, slot, "free");
    slab_purge(h); // the empty slab goes back to the heap
    la_block_t *b = block_at(h, start);
    REQUIRE(blk_is_free(b));
    // What the free block says may be resident: its purge span (as
    // heap.c's dirty_span reads it).
    char *lo = (char *)b, *hi = (char *)b + blk_size(b);
    if (blk_load_head(b) & LA_PURGED) {
        la_tnode_t *t = (la_tnode_t *)b;
        hi = lo + t->dirty_hi;
        lo += t->dirty_lo;
    }
    // None of the slab's pages past those its slot and header reached,
    // but for the free block's footer page, if the slab ends it.
    char *last = (char *)b + blk_size(b) == end ? end - page : end;
    CHECK(hi <= lo || hi <= LA_MAX(reached, made) || lo >= last);
    CHECK(slab_check_heap(h, &(const void *){NULL}) == NULL);
    lock_release(&h->lock);
    CHECK_EQ(mem_check_heap(), 0);
}

// An empty slab goes back to the heap as one block; slab_purge gives back
// the one kept, and its address no longer maps to a slab.
static void test_empty_return(void)
{
    la_heap_t *h = heap0();
    unsigned c = sizeclass_of(1000);
    size_t span = la_sizeclasses[c].span;
    // Slots of 1000 bytes or more: at most LA_SLAB_SPAN_MAX / 1000 a slab.
    static void *p[3 * (LA_SLAB_SPAN_MAX / 1000)];
    size_t n = 0, want = 3 * (size_t)la_sizeclasses[c].nslots;
    REQUIRE(want <= sizeof p / sizeof p[0]);
    lock_acquire(&h->lock);
    while (n < want)
        n += slab_alloc_batch(h, c, want - n, p + n);
    lock_release(&h->lock);
    CHECK_EQ(slabs_of_class(c), 3);
    size_t free_before, blocks_before, free_after, blocks_after;
    la_free_space(&free_before, &blocks_before);
    lock_acquire(&h->lock);
    for (size_t i = 0; i < n; i++)
        slab_free(h, p[i], "free");
    lock_release(&h->lock);
    CHECK_EQ(slabs_of_class(c), 1);
    la_free_space(&free_after, &blocks_after);
    CHECK(free_after >= free_before + 2 * span - 2 * LA_HEADER_BYTES);
    lock_acquire(&h->lock);
    CHECK(slab_purge(h) >= span - LA_HEADER_BYTES);
    lock_release(&h->lock);
    CHECK_EQ(slabs_of_class(c), 0);
    for (size_t i = 0; i < n; i++)
        CHECK(slab_of(p[i]) == NULL);
    CHECK_EQ(mem_check_heap(), 0);
}

/* ---- purged pages -------------------------------------------------------- */

// purge_victim's slab: its slots p[0..n) in order, the index of the live
// one in the middle, and the first page after that slot, which the slab's
// purges give back (the colour may take the slot's end onto the third page).
typedef struct {
    la_slab_t *s;
    void *p[2 * (LA_SLAB_SPAN_MAX / 8)];
    size_t n, mid;
    char *lo;
} victim_t;

static victim_t v;

// Pages whose slots are all back in their slab go back to the kernel
// (slab_purge_pages), while a few slots stay live, as an idle thread's
// bins keep them (issue 14): v.p[0], the slab's first, v.p[v.mid] on its
// second page (whose neighbour's slot may have its link words on both
// pages), and v.p[v.n - 1], its last.  The slab is the last one made for
// the class.
static la_slab_t *purge_victim(unsigned cls)
{
    la_heap_t *h = heap0();
    void **p = v.p;
    size_t want = 2 * (size_t)la_sizeclasses[cls].nslots, n;
    lock_acquire(&h->lock);
    for (n = 0; n < want;)
        n += slab_alloc_batch(h, cls, want - n, p + n);
    lock_release(&h->lock);
    la_slab_t *s = slab_of(p[n - 1]);
    // Only the slab's own slots, in order: p[0] its first, p[n - 1] its last.
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (slab_of(p[i]) == s)
            p[k++] = p[i];
    v.s = s;
    v.n = n = k;
    v.mid = (4096 + 2048) / s->size;
    v.lo = (char *)(((uintptr_t)p[v.mid] + s->size + 4095) & ~(uintptr_t)4095);
    REQUIRE(p[0] == (void *)s->base && n > v.mid + 2);
    memset(p[0], 0x11, s->size);
    // Back as a bin's flush puts them back: linked, so that each keeps a
    // link to the next (slab_free would leave NULL, whose second word is 0);
    // one-word slots, which no chain links, as a word stack's flush does.
    void *chain = NULL;
    lock_acquire(&h->lock);
    for (size_t i = n - 2; i >= 1; i--)
        if (i != v.mid) {
            if (slab_one_word(s)) {
                slab_free(h, p[i], "free");
                continue;
            }
            la_link_store(p[i], chain);
            chain = p[i];
        }
    if (chain != NULL)
        slab_free_chain(h, chain);
    lock_release(&h->lock);
    return s;
}

static size_t resident_pages(const void *lo, size_t bytes)
{
    unsigned char vec[64];
    size_t pages = bytes / 4096, count = 0;
    REQUIRE(pages <= sizeof vec && mincore((void *)lo, bytes, vec) == 0);
    for (size_t i = 0; i < pages; i++)
        count += vec[i] & 1;
    return count;
}

// Every class.
static void test_purged_pages(unsigned cls)
{
    la_heap_t *h = heap0();
    la_slab_t *s = purge_victim(cls);
    void **p = v.p;
    size_t n = v.n, mid = v.mid;
    // The pages strictly between the middle live slot's and the last's.
    char *lo = v.lo;
    char *hi = (char *)((uintptr_t)p[n - 1] & ~(uintptr_t)4095);
    CHECK(resident_pages(lo, (size_t)(hi - lo)) == (size_t)(hi - lo) / 4096);
    lock_acquire(&h->lock);
    // Just used: kept, unless by malloc_trim's call, until a pass finds it
    // unused for LA_SLAB_PURGE_IDLE_MS (the wait is played by moving the
    // time it was last seen in use back).
    CHECK_EQ(slab_purge_pages(h, false), 0);
    CHECK_EQ(slab_purge_pages(h, false), 0);
    s->still_ms -= LA_SLAB_PURGE_IDLE_MS;
    size_t released = slab_purge_pages(h, false);
    lock_release(&h->lock);
    CHECK(released >= (size_t)(hi - lo));
    CHECK_EQ(resident_pages(lo, (size_t)(hi - lo)), 0);
    CHECK(s->purged != 0 && s->free_limit == 0);
    CHECK_EQ(mem_check_heap(), 0); // a free slot may read zero on a purged page
    // A live slot of a slab with pages purged: malloc_usable_size's quick
    // test (slab_looks_live) doubts it, its slow path finds it live.
    CHECK_EQ(mem_usable_size(p[0]), s->size);
    // Each page once until the slab is used again: a page made resident
    // behind the purge's back (a zero written where zeros are) stays.
    *(volatile uintptr_t *)lo = 0;
    CHECK_EQ(resident_pages(lo, 4096), 1);
    lock_acquire(&h->lock);
    slab_purge_pages(h, true);
    lock_release(&h->lock);
    CHECK_EQ(resident_pages(lo, 4096), 1);
    // The slab's next allocation gives its free slots their links back.
    void *q;
    lock_acquire(&h->lock);
    REQUIRE(slab_alloc_batch(h, cls, 1, &q) == 1);
    lock_release(&h->lock);
    CHECK(q == p[1]);
    CHECK(s->purged == 0 && s->free_limit == slab_free_limit(s, s->carved));
    for (size_t i = 2; i + 1 < n; i++)
        CHECK(i == mid || slab_slot_marked_free(s, p[i]));
    CHECK_EQ(((unsigned char *)p[0])[s->size - 1], 0x11);
    CHECK_EQ(mem_check_heap(), 0);
    lock_acquire(&h->lock);
    slab_free(h, q, "free");
    slab_free(h, p[0], "free");
    slab_free(h, p[mid], "free");
    slab_free(h, p[n - 1], "free");
    lock_release(&h->lock);
}

// A slab whose pages were purged goes back to the heap with them purged:
// the heap's next purge advises none of them again (issue 14: 14k of the
// pages that w_memret's decay-0 run advised twice were a released slab's).
// A page written behind the purges' back shows whether one advised it.
static void test_release_purged(unsigned cls)
{
    la_heap_t *h = heap0();
    la_slab_t *s = purge_victim(cls);
    char *lo = v.lo;
    // The last slot too, so that only the first pages stay resident.
    lock_acquire(&h->lock);
    slab_free(h, v.p[v.n - 1], "free");
    slab_purge_pages(h, true);
    lock_release(&h->lock);
    CHECK(((s->purged >> ((uintptr_t)lo - slab_start(s)) / 4096) & 1) != 0);
    CHECK_EQ(resident_pages(lo, 4096), 0);
    // Empty, and given back to the heap (slab_purge: the one kept too),
    // whose top, which it may join, stays mapped.
    size_t trim_threshold = la.trim_threshold;
    la.trim_threshold = SIZE_MAX / 2;
    lock_acquire(&h->lock);
    slab_free(h, v.p[0], "free");
    slab_free(h, v.p[v.mid], "free");
    slab_purge(h);
    lock_release(&h->lock);
    CHECK(slab_of(lo) == NULL);
    *(volatile uintptr_t *)lo = 0;
    lock_acquire(&h->lock);
    heap_purge(h, NULL, NULL, 0);
    lock_release(&h->lock);
    la.trim_threshold = trim_threshold;
    CHECK_EQ(resident_pages(lo, 4096), 1);
    CHECK_EQ(mem_check_heap(), 0);
}

// A second free of a slot whose page was purged: its words read zero, as
// a live slot's may, so only the bitmap can tell (the fast path must not
// take it).
static void double_free_purged(void)
{
    purge_victim(sizeclass_of(64));
    mem_trim(0);
    mem_free_ts(v.p[v.n / 2]);
}

// A write after free into a purged page: the slab's next allocation finds it.
static void written_purged(void)
{
    unsigned cls = sizeclass_of(32);
    purge_victim(cls);
    mem_trim(0);
    *(volatile uintptr_t *)v.p[v.n / 2] = 0x5a5a;
    la_heap_t *h = heap0();
    void *q;
    lock_acquire(&h->lock);
    slab_alloc_batch(h, cls, 1, &q);
}

/* ---- refill and flush paths ---------------------------------------------- */

// Slots come lowest first: those given back below the slots handed out,
// then never-carved ones in one run from `carved` (their bits cleared a
// word at a time, across word boundaries), into an array and into a chain
// for a bin; slab_free_run puts a bin's chain back, up to n slots.
static void test_carve_and_run(void)
{
    la_heap_t *h = heap0();
    unsigned c = sizeclass_of(16); // 64 slots a bitmap word, many words
    const la_sizeclass_t *k = &la_sizeclasses[c];
    static void *p[300];
    const void *where = NULL;
    lock_acquire(&h->lock);
    slab_purge(h);
    // Batches of odd sizes straddle words: 37, 1, 100, 62, 100 (300).
    size_t sizes[] = {37, 1, 100, 62, 100}, n = 0;
    for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++) {
        REQUIRE(slab_alloc_batch(h, c, sizes[b], p + n) == sizes[b]);
        n += sizes[b];
        CHECK(slab_check_heap(h, &where) == NULL);
    }
    la_slab_t *s = slab_of(p[0]);
    REQUIRE(s != NULL);
    for (size_t i = 0; i < n; i++) {
        CHECK(slab_of(p[i]) == s);
        CHECK_EQ(slab_slot_index(s, p[i]), i); // one run, lowest first
    }
    CHECK_EQ(s->carved, n);
    CHECK_EQ(s->nfree, k->nslots - n);
    // Slots given back below `carved` come first, then the run goes on.
    slab_free(h, p[250], "free");
    slab_free(h, p[5], "free");
    slab_free(h, p[70], "free");
    void *q[5];
    REQUIRE(slab_alloc_batch(h, c, 5, q) == 5);
    CHECK(q[0] == p[5] && q[1] == p[70] && q[2] == p[250]);
    CHECK_EQ(slab_slot_index(s, q[3]), n);
    CHECK_EQ(slab_slot_index(s, q[4]), n + 1);
    CHECK(slab_check_heap(h, &where) == NULL);
    // A chain for a bin: new slots linked in order, the last to the tail.
    static char tail_slot[32] __attribute__((aligned(16)));
    void *head = NULL;
    REQUIRE(slab_alloc_chain(h, c, 70, tail_slot, &head) == 70);
    size_t got = 0;
    void *last = NULL;
    for (void *x = head; x != tail_slot && got <= 70; x = la_link_next(x, "malloc")) {
        CHECK_EQ(slab_slot_index(s, x), n + 2 + got);
        last = x;
        got++;
    }
    CHECK_EQ(got, 70);
    CHECK(slab_check_heap(h, &where) == NULL);
    // The chain back, 30 slots of it: the rest is returned, links intact.
    la_link_store(last, NULL);
    uint32_t done = 0;
    void *rest = slab_free_run(h, head, 30, &done);
    CHECK_EQ(done, 30);
    CHECK_EQ(slab_slot_index(s, rest), n + 2 + 30);
    CHECK_EQ(s->nfree, k->nslots - n - 2 - 40);
    CHECK(slab_check_heap(h, &where) == NULL);
    rest = slab_free_run(h, rest, 100, &done);
    CHECK(rest == NULL);
    CHECK_EQ(done, 40);
    for (size_t i = 0; i < n; i++)
        if (i != 5 && i != 70 && i != 250)
            slab_free(h, p[i], "free");
    for (size_t i = 0; i < 5; i++)
        slab_free(h, q[i], "free");
    CHECK(slab_check_heap(h, &where) == NULL);
    lock_release(&h->lock);
    CHECK_EQ(slabs_of_class(c), LA_SLAB_EMPTY_KEEP);
}

/* ---- remote frees --------------------------------------------------------- */

#define REMOTE_THREADS 4
#define REMOTE_SLOTS 2000

static void *remote_slot[REMOTE_THREADS][REMOTE_SLOTS];

// Pushes its slots onto heap 0's remote list in chains of 100, one CAS each.
static void *remote_pusher(void *arg)
{
    void **mine = arg;
    la_heap_t *h = heap_get(0);
    for (size_t i = 0; i < REMOTE_SLOTS; i += 100) {
        for (size_t k = i; k < i + 99; k++)
            la_link_store(mine[k], mine[k + 1]);
        slab_push_remote(h, sizeclass_of(48), mine[i], mine[i + 99], 100);
    }
    return NULL;
}

static void test_remote(void)
{
    la_heap_t *h = heap0();
    unsigned c = sizeclass_of(48);
    lock_acquire(&h->lock);
    for (int t = 0; t < REMOTE_THREADS; t++)
        for (size_t n = 0; n < REMOTE_SLOTS;)
            n += slab_alloc_batch(h, c, REMOTE_SLOTS - n, remote_slot[t] + n);
    lock_release(&h->lock);
    la_slab_stats_t st[LA_SLAB_CLASSES];
    slab_stats(st);
    CHECK_EQ(st[c].used_slots, REMOTE_THREADS * REMOTE_SLOTS);
    pthread_t tid[REMOTE_THREADS];
    for (int t = 0; t < REMOTE_THREADS; t++)
        REQUIRE(pthread_create(&tid[t], NULL, remote_pusher, remote_slot[t]) == 0);
    for (int t = 0; t < REMOTE_THREADS; t++)
        pthread_join(tid[t], NULL);
    // The owner takes the class's list in one exchange, then it is empty.
    uint32_t length;
    void *chain = slab_take_remote(h, c, &length);
    size_t count = 0;
    for (void *p = chain; p != NULL; p = la_link_next(p, "free"))
        count++;
    CHECK_EQ(count, REMOTE_THREADS * REMOTE_SLOTS);
    CHECK_EQ(length, REMOTE_THREADS * REMOTE_SLOTS); // the list knew, without a walk
    CHECK(slab_take_remote(h, c, NULL) == NULL);
    lock_acquire(&h->lock);
    slab_free_chain(h, chain);
    const void *where;
    CHECK(slab_check_heap(h, &where) == NULL);
    lock_release(&h->lock);
    slab_stats(st);
    CHECK_EQ(st[c].used_slots, 0);
    // A slab out of free slots collects the remote list before it grows.
    void *one;
    lock_acquire(&h->lock);
    slab_purge(h);
    CHECK_EQ(slab_alloc_batch(h, c, 1, &one), 1);
    lock_release(&h->lock);
    slab_push_remote(h, c, one, one, 1);
    lock_acquire(&h->lock);
    CHECK(slab_take_remote(h, c, &length) == one);
    CHECK_EQ(length, 1);
    slab_free(h, one, "free");
    lock_release(&h->lock);
}

/* ---- misuse --------------------------------------------------------------- */

static void *victim(unsigned cls)
{
    la_heap_t *h = heap0();
    void *p[2];
    lock_acquire(&h->lock);
    REQUIRE(slab_alloc_batch(h, cls, 2, p) == 2);
    lock_release(&h->lock);
    memset(p[0], 0x5a, la_sizeclasses[cls].size);
    return p[0];
}

static void interior_pointer(void)
{
    char *p = victim(sizeclass_of(100));
    slab_check(slab_of(p), p + 16, "free");
}

static void never_carved(void)
{
    char *p = victim(sizeclass_of(100));
    slab_check(slab_of(p), p + 112 * 40, "free");
}

static void double_free_in_slab(void)
{
    la_heap_t *h = heap0();
    char *p = victim(sizeclass_of(100));
    lock_acquire(&h->lock);
    slab_free(h, p, "free");
    lock_release(&h->lock);
    slab_check(slab_of(p), p, "free");
}

static void double_free_tagged(void)
{
    uintptr_t *p = victim(sizeclass_of(100));
    la_link_store(p, NULL); // as a thread cache's bin holds its last slot
    slab_check(slab_of(p), p, "realloc");
}

// A slot already back in its bitmap, on a bin's chain again (its links
// rewritten, as a second free after a write over them leaves it).
static void double_free_run(void)
{
    la_heap_t *h = heap0();
    char *p = victim(sizeclass_of(48));
    lock_acquire(&h->lock);
    slab_free(h, p, "free");
    la_link_store(p, NULL);
    uint32_t done;
    slab_free_run(h, p, 1, &done);
}

static void double_free_locked(void)
{
    la_heap_t *h = heap0();
    char *p = victim(sizeclass_of(32));
    lock_acquire(&h->lock);
    slab_free(h, p, "free");
    slab_free(h, p, "free");
}

// A write after free into a slot back in its slab (issue 15): the slab
// must not hand it out again as if nothing happened, since its link words
// are what tells the free fast path that it is free.
static void written_in_slab(void)
{
    static char planted[64];
    la_heap_t *h = heap0();
    unsigned cls = sizeclass_of(100);
    char *p = victim(cls);
    lock_acquire(&h->lock);
    slab_free(h, p, "free");
    *(char *volatile *)p = planted;
    for (uint32_t i = 0; i < 4 * la_sizeclasses[cls].nslots; i++) {
        void *q;
        REQUIRE(slab_alloc_batch(h, cls, 1, &q) == 1);
        if (q == p)
            return; // handed out again: no report (the child exits 0)
    }
}

typedef struct {
    void (*fn)(void);
    const char *want;
} misuse_t;

static const misuse_t cases[] = {
    {interior_pointer, "free(): invalid pointer"},
    {never_carved, "never allocated"},
    {double_free_in_slab, "free(): double free"},
    {double_free_tagged, "realloc(): double free"},
    {double_free_locked, "free(): double free"},
    {double_free_run, "free(): double free"},
    {written_in_slab, "malloc(): free list corrupted at "},
    {double_free_purged, "free(): double free"},
    {written_purged, "malloc(): free list corrupted at "},
};

static void test_misuse(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024];
        int status = run_child(cases[i].fn, err, sizeof err);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        if (strstr(err, cases[i].want) == NULL) {
            fprintf(stderr, "misuse case %zu: unexpected report: %s\n", i, err);
            CHECK(!"the report names the misuse");
        }
    }
}

// la_link_maybe, the free fast path's double-free test, reads word 1's
// low byte before anything else (a program's store to the end of a
// 16-byte block, which is word 1, must not make free's load wait): every
// linked slot passes it, whatever its link's bits above the alignment;
// a slot malloc handed out does not, nor does one whose word 1 alone
// looks like a link.
static void test_link_maybe(void)
{
    _Alignas(16) uintptr_t w[2];
    static const uintptr_t links[] = {0, 0x10, 0x100, 0xff0, 0x5555aaaa0ff0, 0x7ffff7a1b2c0};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        la_link_store(w, (void *)links[i]);
        CHECK(la_link_maybe(w));
    }
    la_link_clear(w);
    CHECK(!la_link_maybe(w));
    ((unsigned char *)w)[15] = 0xab; // the program writes a 16-byte block's end
    CHECK(!la_link_maybe(w));
    w[1] = 0xff0; // aligned, but the relation fails
    CHECK(!la_link_maybe(w));
}

int main(void)
{
    test_link_maybe();
    test_table();
    test_every_class();
    test_empty_return();
    test_kept_slab();
    test_release_untouched();
    test_carve_and_run();
    test_remote();
    test_misuse(); // before test_purged_pages: never_carved needs a fresh slab
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++)
        test_purged_pages(c);
    test_release_purged(sizeclass_of(64));
    test_release_purged(sizeclass_of(1000));
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_slab");
}
