// SPDX-License-Identifier: MIT
/*
 * debug.c: the opt-in checking mode (ALLOCATOR_CHECK=1), Valgrind support
 * and glibc's perturb.  Each needs every allocation and free to pass
 * through the slow paths, so any one turns the thread caches off; none
 * costs the normal fast path anything.
 *
 * Checking mode: new blocks are filled with LA_JUNK_BYTE (calloc excepted),
 * the slack after the requested size (at least LA_GUARD_BYTES, requested
 * on top) holds LA_CANARY_BYTE and is checked on free and realloc, freed
 * blocks are poisoned with LA_POISON_BYTE and held in a quarantine (FIFO,
 * one per heap under its lock, LA_QUARANTINE_SLOTS blocks and
 * LA_QUARANTINE_BYTES at most) whose poison
 * is verified when they leave it for the heap, and the heap is walked
 * every ALLOCATOR_CHECK_EVERY operations.
 *
 * Valgrind (memcheck, detected at start-up with RUNNING_ON_VALGRIND): heap
 * regions start no-access, every block (slab slots included, laid out as
 * in checking mode, with a no-access front) is described with MALLOCLIKE /
 * FREELIKE / RESIZEINPLACE client requests, its slack (again at least
 * LA_GUARD_BYTES) is a no-access redzone, and the allocator's own reads and
 * writes of headers and free blocks run with error reporting off.  The
 * requests compile to nothing without Valgrind's headers.
 *
 * Perturb (glibc.malloc.perturb or MALLOC_PERTURB_, a byte; mallopt
 * M_PERTURB changes it once the start-up turned it on): as under glibc, a
 * new block's requested bytes read as the byte's complement (calloc's as
 * zero) and a freed block's as the byte, so that a program's tests find
 * reads of uninitialised or freed memory the way they do with glibc.
 * Blocks take the Valgrind layout without Valgrind; checking mode's own
 * fills win over it.
 */
#include <string.h>

#include "direct.h"

#if defined(LA_VALGRIND) && LA_VALGRIND && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_VALGRIND 1
#else
#define HAVE_VALGRIND 0
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_MALLOCLIKE_BLOCK(p, n, rz, zeroed) ((void)0)
#define VALGRIND_FREELIKE_BLOCK(p, rz) ((void)0)
#define VALGRIND_RESIZEINPLACE_BLOCK(p, old, n, rz) ((void)0)
#define VALGRIND_MAKE_MEM_NOACCESS(p, n) ((void)0)
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)0)
#define VALGRIND_DISABLE_ERROR_REPORTING ((void)0)
#define VALGRIND_ENABLE_ERROR_REPORTING ((void)0)
#endif

// True under a Valgrind tool that tracks heap blocks (memcheck, massif,
// helgrind, drd, dhat): those preload vgpreload_<tool> besides
// vgpreload_core.  Callgrind and cachegrind do not, and must measure the
// allocator as it normally runs.
static bool tool_tracks_blocks(void)
{
    const char *preload = os_getenv("LD_PRELOAD");
    if (preload == NULL)
        return false;
    static const char marker[] = "vgpreload_";
    for (const char *s = preload; *s != '\0'; s++) {
        size_t i = 0;
        while (marker[i] != '\0' && s[i] == marker[i])
            i++;
        if (marker[i] == '\0' && strncmp(s + i, "core", 4) != 0)
            return true;
    }
    return false;
}

LA_HOT_TEXT void debug_init(void)
{
    la.check_every = la.options.check_every;
    la.check_next = la.check_every;
    la.valgrind = HAVE_VALGRIND && la.options.valgrind && RUNNING_ON_VALGRIND && tool_tracks_blocks();
    la.perturb = (uint8_t)la.options.perturb;
    la.debug = options_want_checked_paths(&la.options) || la.valgrind;
    if (la.debug) {
        la.guard_bytes = LA_GUARD_BYTES;
        la.options.tcache = 0; // every block through the checked paths
    }
}

void debug_quiet_begin_slow(void) { VALGRIND_DISABLE_ERROR_REPORTING; }

void debug_quiet_end_slow(void) { VALGRIND_ENABLE_ERROR_REPORTING; }

LA_HOT_TEXT void debug_new_region(void *start, size_t bytes)
{
    // Nothing in a heap region is the program's until a block says so.
    if (la.valgrind)
        VALGRIND_MAKE_MEM_NOACCESS(start, bytes);
}

void debug_on_alloc(void *p, size_t req, size_t usable, bool zeroed)
{
    uint8_t fill = la_load_relaxed(&la.perturb);
    if (la.options.check) {
        if (!zeroed)
            memset(p, LA_JUNK_BYTE, req);
        memset((char *)p + req, LA_CANARY_BYTE, usable - req);
    } else if (fill != 0 && !zeroed) {
        memset(p, fill ^ 0xff, req);
    }
    if (la.valgrind) {
        // The block is [p, p + req); the slack after it stays no-access.
        // The header stays readable: free's fast path reads it.
        VALGRIND_MAKE_MEM_DEFINED((char *)p - LA_HEADER_BYTES, LA_HEADER_BYTES);
        VALGRIND_MALLOCLIKE_BLOCK(p, req, 0, zeroed);
        VALGRIND_MAKE_MEM_NOACCESS((char *)p + req, usable - req);
    }
}

// Whether [p, p + bytes) holds nothing but `fill`.  Every check of
// checking mode passes here, over every byte of every block freed: 64
// bytes a step in 16-byte vectors (the compiler's SIMD, whatever the
// target has), one branch a step; then 16 a step, and the last 16 bytes
// (or the first and last 8, or 4) as one load that may overlap what was
// compared already, so that no size ends in a loop of words or bytes.  A
// word at a time, it was a tenth of all the instructions of sqlite3 in
// checking mode; with a word and a byte loop for the rest, the rest was
// a third of its own (issue 15).
typedef uint64_t fill_vec_t __attribute__((vector_size(16)));

static fill_vec_t fill_diff(const unsigned char *p, fill_vec_t pattern)
{
    fill_vec_t v;
    memcpy(&v, p, sizeof v);
    return v ^ pattern;
}

static bool fill_all(const unsigned char *p, size_t bytes, unsigned char fill)
{
    const uint64_t word = 0x0101010101010101ull * fill;
    if (bytes >= 16) {
        const fill_vec_t pattern = {word, word};
        size_t i = 0;
        for (; i + 64 <= bytes; i += 64) {
            const unsigned char *q = p + i;
            fill_vec_t diff = fill_diff(q, pattern) | fill_diff(q + 16, pattern) |
                              fill_diff(q + 32, pattern) | fill_diff(q + 48, pattern);
            if ((diff[0] | diff[1]) != 0)
                return false;
        }
        fill_vec_t diff = fill_diff(p + bytes - 16, pattern);
        for (; i + 16 <= bytes; i += 16)
            diff |= fill_diff(p + i, pattern);
        return (diff[0] | diff[1]) == 0;
    }
    if (bytes >= 8) {
        uint64_t a, b;
        memcpy(&a, p, 8);
        memcpy(&b, p + bytes - 8, 8);
        return ((a ^ word) | (b ^ word)) == 0;
    }
    if (bytes >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + bytes - 4, 4);
        return ((a ^ (uint32_t)word) | (b ^ (uint32_t)word)) == 0;
    }
    for (size_t i = 0; i < bytes; i++)
        if (p[i] != fill)
            return false;
    return true;
}

// The first byte of [p, p + bytes) that is not `fill`, or bytes: the
// fast test, then (only for a report) the byte that differs.
static size_t fill_intact(const unsigned char *p, size_t bytes, unsigned char fill)
{
    if (LA_LIKELY(fill_all(p, bytes, fill)))
        return bytes;
    for (size_t i = 0; i < bytes; i++)
        if (p[i] != fill)
            return i;
    return bytes;
}

// Reports a canary that was written over: the bytes after the requested
// size that no longer hold LA_CANARY_BYTE.
void debug_check_canary(const void *p, size_t req, size_t usable, const char *func)
{
    const unsigned char *c = (const unsigned char *)p + req;
    if (LA_LIKELY(fill_intact(c, usable - req, LA_CANARY_BYTE) == usable - req))
        return;
    size_t last = 0;
    for (size_t i = 0; i < usable - req; i++)
        if (c[i] != LA_CANARY_BYTE)
            last = i + 1;
    if (last != 0)
        la_fatal(func, "buffer overflow: %zu bytes written past the end of %p (block of %zu bytes)",
                 last, p, req);
}

void debug_on_free(void *p, size_t req, size_t usable, const char *func)
{
    if (la.options.check) {
        debug_check_canary(p, req, usable, func);
        memset(p, LA_POISON_BYTE, usable);
    }
    if (la.valgrind)
        VALGRIND_FREELIKE_BLOCK(p, 0);
}

void debug_perturb_freed(void *p, size_t usable)
{
    uint8_t fill = la_load_relaxed(&la.perturb);
    if (fill != 0 && !la.options.check) // checking mode poisons it
        memset(p, fill, usable);
}

/* ---- the quarantine (checking mode) -------------------------------------- */

static size_t poison_intact(const unsigned char *p, size_t bytes)
{
    return fill_intact(p, bytes, LA_POISON_BYTE);
}

static void slot_verify_held(void *slot, size_t usable, const char *func);

// A block or slot in the quarantine: its header (or trailer) must still
// carry the stamp its free left and its payload the poison, or the
// program wrote to it after its free.  func names where it is found:
// "free" when it leaves the quarantine, "exit" at exit.
static void verify_held(const la_held_t *e, const char *func)
{
    void *p = e->p;
    if (e->slot) {
        slot_verify_held(p, e->usable, func);
        return;
    }
    la_block_t *b = blk_from_payload(p);
    if (blk_check(b) != (la_check_plain(blk_hash_now(b), blk_req(b)) ^ LA_CHECK_QUARANTINE))
        la_fatal(func, "write after free of %p: its header was overwritten while the "
                       "block waited in the quarantine", p);
    size_t at = poison_intact(p, e->usable);
    if (at != e->usable)
        la_fatal(func, "write after free of %p: byte %zu of the block (of %zu usable bytes) "
                       "changed after it was freed", p, at, e->usable);
}

// A block leaving the quarantine, verified, becomes live again, for the
// caller to free for real.
static void release_check(const la_held_t *e)
{
    verify_held(e, "free");
    if (!e->slot) {
        la_block_t *b = blk_from_payload(e->p);
        blk_set_req(b, blk_req(b));
    }
}

_Static_assert(LA_QUARANTINE_EVICT_BATCH <= LA_QUARANTINE_EVICT_MAX, "out[] holds a batch");

// Adds delta to the usage q's heap has not published yet (its lock held)
// and returns what to publish now: all of it once it moved more than
// LA_TC_PUBLISH_BYTES, as a thread cache publishes its balance.  Checked
// slots bypass the caches, and a locked add on the line every thread
// writes, for each one's allocation and free, was 3% of checking mode's
// time on sqlite3 (issue 15).  The peak lags by that much per heap at most.
static int64_t usage_unpublished(la_quarantine_t *q, int64_t delta)
{
    int64_t now = q->unpublished + delta;
    if (now > LA_TC_PUBLISH_BYTES || now < -LA_TC_PUBLISH_BYTES) {
        q->unpublished = 0;
        return now;
    }
    q->unpublished = now;
    return 0;
}

static la_held_t pop_oldest(la_quarantine_t *q)
{
    la_held_t e = q->ring[q->head];
    q->bytes -= e.usable;
    q->head = (q->head + 1) % LA_QUARANTINE_SLOTS;
    q->count--;
    return e;
}

// Lists e in q, the quarantine of heap h, whose lock the caller holds (if
// it takes it: see debug_quarantine).  The oldest leave, verified, and are
// freed for real here, under the same lock, as la_release_held counts
// them: one lock round trip per checked free, where a quarantine of its
// own took its lock and then, once per batch, the heap's (issue 15).  A
// large block that leaves goes to out[] instead: its unmapping waits for
// the caller, after the lock.  A report aborts with the lock held.
static void hold(la_heap_t *h, la_quarantine_t *q, la_held_t e, la_held_t *out, unsigned *n)
{
    la_held_t gone[LA_QUARANTINE_EVICT_MAX];
    unsigned ngone = 0;
    if (q->count == LA_QUARANTINE_SLOTS) // full: the oldest go, a batch at once
        while (ngone < LA_QUARANTINE_EVICT_BATCH)
            gone[ngone++] = pop_oldest(q);
    q->ring[(q->head + q->count) % LA_QUARANTINE_SLOTS] = e;
    q->count++;
    q->bytes += e.usable;
    la_counters_t *c = &q->counters;
    la_store_relaxed(&c->nfree, c->nfree + 1);
    la_store_relaxed(&c->free_bytes, c->free_bytes + e.counted);
    while (q->bytes > LA_QUARANTINE_BYTES && ngone < LA_QUARANTINE_EVICT_MAX)
        gone[ngone++] = pop_oldest(q);
    *n = 0;
    for (unsigned i = 0; i < ngone; i++) {
        const la_held_t *g = &gone[i];
        // The real free counts it from here on.
        la_store_relaxed(&c->nfree, c->nfree - 1);
        la_store_relaxed(&c->free_bytes, c->free_bytes - g->counted);
        release_check(g);
        if (!g->slot && blk_is_mmapped(blk_from_payload(g->p))) {
            out[(*n)++] = *g;
            continue;
        }
        h->counters.nfree++;
        h->counters.free_bytes += g->counted;
        if (g->slot)
            slab_free(h, g->p, "free");
        else
            heap_free(h, blk_from_payload(g->p));
    }
}

bool debug_quarantine(la_block_t *b, size_t req, size_t usable, bool ts, la_held_t *out,
                      unsigned *n)
{
    *n = 0;
    if (usable > LA_QUARANTINE_BYTES / LA_QUARANTINE_BLOCK_DIVISOR)
        return false;
    // Large blocks all wait in heap 0's quarantine: each one held is
    // memory no reuse can have, so that new ones are mapped and faulted
    // in again, and they stay within its bytes for the whole process.
    la_heap_t *h = blk_is_mmapped(b) ? &la.heaps[0] : &la.heaps[blk_heap_index(b)];
    // Stamped before it is listed: from now on it is a freed block to
    // free, realloc and malloc_usable_size, and a held one to the walker.
    blk_stamp(b, LA_CHECK_QUARANTINE);
    // As release_block: no lock in a single-threaded process (nobody else
    // can hold it), nor on the mem_* path (!ts), single-threaded by contract.
    bool lock = ts && !la_single_threaded();
    if (lock)
        lock_acquire(&h->lock);
    hold(h, &la.quarantines[h->index],
         (la_held_t){.p = blk_payload(b), .usable = usable, .counted = req, .ts = ts}, out, n);
    if (lock)
        lock_release(&h->lock);
    return true;
}

// Checking mode, at exit: a write after free into a block still in a
// quarantine would otherwise go unreported (issue 15).  A destructor, as
// the exit report (stats.c), so after the program's atexit handlers; it
// reads and compares only, under each heap's lock, and allocates nothing.
// A block found written over is named ("exit(): write after free of ...")
// and the process aborts.
// The quarantine's last check, out of line: the destructor that every run
// calls stays a test in the first text window (src/layout.ld).
static LA_NOINLINE void verify_quarantines_at_exit(void)
{
    debug_quiet_begin();
    unsigned heaps = __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < heaps; i++) {
        la_quarantine_t *q = &la.quarantines[i];
        lock_acquire(&la.heaps[i].lock);
        for (unsigned k = 0; k < q->count; k++)
            verify_held(&q->ring[(q->head + k) % LA_QUARANTINE_SLOTS], "exit");
        lock_release(&la.heaps[i].lock);
    }
    debug_quiet_end();
}

__attribute__((destructor)) static void debug_at_exit(void)
{
    if (__atomic_load_n(&la.ready, __ATOMIC_ACQUIRE) && la.options.check)
        verify_quarantines_at_exit();
}

/* ---- slots (checking mode) ---------------------------------------------- */

// A slot in checking mode: a front canary of LA_GUARD_BYTES (slots have no
// header to catch an underflow), the program's req bytes, the canary after
// them, and a trailer word: req in its low half, and in its high half a
// keyed hash of the slot's address plus req plus the state (live, or
// waiting in the quarantine), so that a stray pointer or an overwritten
// trailer is told from a slot handed out.  The program gets slot + front.
#define SLOT_TRAILER_BYTES sizeof(uint64_t)
#define SLOT_FRONT_BYTES LA_GUARD_BYTES
_Static_assert(SLOT_FRONT_BYTES % ALIGNMENT == 0, "the payload stays aligned");
enum { SLOT_LIVE = 1, SLOT_HELD = 2, SLOT_MAKING = 3 };

static uint64_t *slot_trailer(const void *slot, size_t size)
{
    return (uint64_t *)((char *)slot + size - SLOT_TRAILER_BYTES);
}

// The bytes a slot of `size` offers the program: between its front and
// its trailer.
static size_t slot_usable(size_t size) { return size - SLOT_FRONT_BYTES - SLOT_TRAILER_BYTES; }

static uint64_t trailer_word(const void *slot, uint32_t req, uint32_t state)
{
    uint32_t hash = (uint32_t)(((la.slot_key ^ (uintptr_t)slot) * la.key) >> 32);
    return (uint64_t)(hash + req + state) << 32 | req;
}

void *debug_slot_alloc(la_heap_t *h, size_t req)
{
    // Compared before the sum, which wraps for a request near SIZE_MAX:
    // malloc(SIZE_MAX) got a small slot and a memset of SIZE_MAX bytes.
    if (req > LA_SLAB_MAX_BYTES)
        return NULL; // not a slot: the caller's path fails it or serves it
    size_t need = LA_ALIGN_UP(SLOT_FRONT_BYTES + req + la.guard_bytes + SLOT_TRAILER_BYTES,
                              ALIGNMENT);
    if (need > LA_SLAB_MAX_BYTES)
        return NULL;
    unsigned cls = sizeclass_of(need);
    size_t size = la_sizeclasses[cls].size;
    void *slot;
    char *p = NULL;
    int64_t publish = 0;
    debug_quiet_begin(); // slab memory is not the program's until handed out
    // Only the slot's taking and a trailer that says "being made" are
    // under the heap lock; the fills come after it, and the trailer says
    // live after them (a release fence between), so that the heap walk,
    // which holds the lock, passes over a slot being made and never sees
    // a live one without its canaries.  The fills under the lock made
    // its release wait for their stores to cold lines: with the locked
    // instruction, most of this function's time (issue 15).  A
    // single-threaded process takes no lock at all (as heap_block).
    bool lock = !la_single_threaded();
    if (lock)
        lock_acquire(&h->lock);
    if (slab_alloc_batch(h, cls, 1, &slot) != 0) {
        // Counted by the request, as heap blocks are (the caches count a
        // slot by its size: without a trailer, they do not know req).
        h->counters.nalloc++;
        h->counters.alloc_bytes += req;
        __atomic_store_n(slot_trailer(slot, size), trailer_word(slot, (uint32_t)req, SLOT_MAKING),
                         __ATOMIC_RELAXED);
        p = (char *)slot + SLOT_FRONT_BYTES;
        publish = usage_unpublished(&la.quarantines[h->index], (int64_t)req);
    }
    if (lock)
        lock_release(&h->lock);
    if (p != NULL) {
        if (la.options.check)
            memset(slot, LA_CANARY_BYTE, SLOT_FRONT_BYTES);
        debug_on_alloc(p, req, slot_usable(size), false);
        // Valgrind: the block is [p, p + req); the front stays a redzone
        // too (debug_on_alloc opens the 16 bytes before a block for the
        // header that heap blocks have there).
        if (la.valgrind)
            VALGRIND_MAKE_MEM_NOACCESS(slot, SLOT_FRONT_BYTES);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        __atomic_store_n(slot_trailer(slot, size), trailer_word(slot, (uint32_t)req, SLOT_LIVE),
                         __ATOMIC_RELAXED);
    }
    debug_quiet_end();
    if (p == NULL)
        return NULL;
    if (publish != 0)
        stats_usage_publish(publish);
    if (LA_UNLIKELY(la.check_every != 0))
        debug_tick();
    return p;
}

static void check_slot_canaries(la_slab_t *s, const void *p, size_t req, const char *func);

// p must be the payload of a live slot of s: its slot handed out, not
// back in the slab, its trailer live (not held).  Returns its req.
static size_t slot_live_req(la_slab_t *s, const void *p, const char *func)
{
    const char *slot = (const char *)p - SLOT_FRONT_BYTES;
    uint32_t i = slab_slot_index(s, slot);
    if ((uintptr_t)p < s->base + SLOT_FRONT_BYTES ||
        i >= __atomic_load_n(&s->carved, __ATOMIC_RELAXED))
        la_fatal(func, "invalid pointer %p (inside a slab of %u-byte slots, not the start of a "
                       "block handed out)", p, s->size);
    if ((la_load_relaxed(&s->freemap[i / 64]) >> (i % 64)) & 1)
        la_fatal(func, "double free of %p (slot of %u bytes, already free)", p, s->size);
    uint64_t t = *slot_trailer(slot, s->size);
    uint32_t req = (uint32_t)t;
    if (req < s->size && t == trailer_word(slot, req, SLOT_HELD)) {
        if (la_func_frees(func))
            la_fatal(func, "double free of %p (slot of %u bytes, already freed; it waits in "
                           "the quarantine)", p, s->size);
        la_fatal(func, "use after free: %p was freed already (slot of %u bytes; it waits in "
                       "the quarantine)", p, s->size);
    }
    if (req >= s->size || t != trailer_word(slot, req, SLOT_LIVE))
        la_fatal(func, "corrupted slot at %p (slot of %u bytes whose trailer was overwritten: "
                       "an overflow of it or of the slot before it?)", p, s->size);
    return req;
}

size_t debug_slot_req(la_slab_t *s, const void *p, const char *func)
{
    debug_quiet_begin(); // the trailer and canaries are not the program's
    size_t req = slot_live_req(s, p, func);
    if (la.options.check)
        check_slot_canaries(s, p, req, func);
    debug_quiet_end();
    return req;
}

static void check_slot_canaries(la_slab_t *s, const void *p, size_t req, const char *func)
{
    const unsigned char *front = (const unsigned char *)p - SLOT_FRONT_BYTES;
    size_t first = fill_intact(front, SLOT_FRONT_BYTES, LA_CANARY_BYTE);
    if (first != SLOT_FRONT_BYTES)
        la_fatal(func, "buffer underflow: %zu bytes written before the start of %p (block of "
                       "%zu bytes)", SLOT_FRONT_BYTES - first, p, req);
    debug_check_canary(p, req, slot_usable(s->size), func);
}

// A slot in the quarantine: trailer and poison as its free left them.
static void slot_verify_held(void *slot, size_t usable, const char *func)
{
    uint64_t t = *slot_trailer(slot, usable + SLOT_TRAILER_BYTES);
    void *p = (char *)slot + SLOT_FRONT_BYTES;
    if (t != trailer_word(slot, (uint32_t)t, SLOT_HELD))
        la_fatal(func, "write after free of %p: the trailer of its slot (of %zu bytes) was "
                         "overwritten while it waited in the quarantine", p,
                 usable + SLOT_TRAILER_BYTES);
    size_t at = poison_intact(slot, usable);
    if (at < SLOT_FRONT_BYTES)
        la_fatal(func, "write after free of %p: the front canary of its slot (of %zu bytes) "
                         "changed after it was freed", p, usable + SLOT_TRAILER_BYTES);
    if (at != usable)
        la_fatal(func, "write after free of %p: byte %zu of the block (in a slot of %zu bytes) "
                         "changed after it was freed", p, at - SLOT_FRONT_BYTES,
                 usable + SLOT_TRAILER_BYTES);
}

void debug_slot_free(la_slab_t *s, void *p, const char *func)
{
    size_t size = s->size;
    size_t req = debug_slot_req(s, p, func);
    char *slot = (char *)p - SLOT_FRONT_BYTES;
    la_held_t e = {.p = slot, .usable = size - SLOT_TRAILER_BYTES, .counted = req, .ts = true,
                   .slot = true};
    debug_quiet_begin();
    debug_perturb_freed(p, slot_usable(size));
    if (la.valgrind)
        VALGRIND_FREELIKE_BLOCK(p, 0);
    if (!la.options.check) { // Valgrind or perturb alone: no quarantine
        la_release_held(&e);
        debug_quiet_end();
        stats_usage_publish(-(int64_t)req);
        return;
    }
    // Poisoned before the heap lock is taken, so that the walk may read
    // the slot meanwhile: the trailer says held before the poison lands,
    // in that order for every thread (the release fence), and the walk
    // finds either intact canaries or a held trailer when it looks again
    // (debug_check_slots).
    __atomic_store_n(slot_trailer(slot, size), trailer_word(slot, (uint32_t)req, SLOT_HELD),
                     __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memset(slot, LA_POISON_BYTE, size - SLOT_TRAILER_BYTES);
    // Held by the quarantine of the slot's heap, under its lock (none in a
    // single-threaded process, as the direct path takes none).
    la_heap_t *h = s->heap;
    la_quarantine_t *q = &la.quarantines[h->index];
    la_held_t out[LA_QUARANTINE_EVICT_MAX];
    unsigned n;
    bool lock = !la_single_threaded();
    if (lock)
        lock_acquire(&h->lock);
    int64_t publish = usage_unpublished(q, -(int64_t)req);
    hold(h, q, e, out, &n);
    if (lock)
        lock_release(&h->lock);
    if (publish != 0)
        stats_usage_publish(publish);
    for (unsigned i = 0; i < n; i++)
        la_release_held(&out[i]);
    debug_quiet_end();
    if (LA_UNLIKELY(la.check_every != 0))
        debug_tick();
}

const char *debug_check_slots(la_heap_t *h, const void **where)
{
    for (la_slab_t *s = h->slab_all; s != NULL; s = s->next_all) {
        size_t size = s->size, canary = size - SLOT_TRAILER_BYTES;
        __atomic_add_fetch(&la.check_visited, s->carved, __ATOMIC_RELAXED);
        for (uint32_t i = 0; i < s->carved; i++) {
            if ((s->freemap[i / 64] >> (i % 64)) & 1)
                continue; // back in the slab
            const unsigned char *slot = (const unsigned char *)s->base + (size_t)i * size;
            uint64_t t = __atomic_load_n(slot_trailer(slot, size), __ATOMIC_RELAXED);
            // Pairs with debug_slot_alloc's fence: a live trailer read
            // here means its canaries are read as written.
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            uint32_t req = (uint32_t)t;
            *where = slot + SLOT_FRONT_BYTES;
            if (req < size && t == trailer_word(slot, req, SLOT_HELD))
                continue; // in the quarantine: checked when it leaves
            if (req < size && t == trailer_word(slot, req, SLOT_MAKING))
                continue; // being handed out (debug_slot_alloc), not yet the program's
            if (req >= size || t != trailer_word(slot, req, SLOT_LIVE))
                return "a live slot's trailer was overwritten (an overflow?)";
            const char *why = NULL;
            if (fill_intact(slot, SLOT_FRONT_BYTES, LA_CANARY_BYTE) != SLOT_FRONT_BYTES)
                why = "a live slot's front canary was overwritten (an underflow?)";
            size_t tail = canary - SLOT_FRONT_BYTES - req;
            if (why == NULL &&
                fill_intact(slot + SLOT_FRONT_BYTES + req, tail, LA_CANARY_BYTE) != tail)
                why = "a live slot's canary was overwritten (an overflow?)";
            if (why == NULL)
                continue;
            // debug_slot_free poisons a slot without the heap lock, after
            // it marks the trailer held: poison seen here means the held
            // trailer is visible too (the fence pairs with its own), and
            // the slot is being freed, not overrun.
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (__atomic_load_n(slot_trailer(slot, size), __ATOMIC_RELAXED) != t)
                continue;
            return why;
        }
    }
    return NULL;
}

void debug_on_resize(void *p, size_t old_req, size_t req, size_t usable)
{
    uint8_t fill = la_load_relaxed(&la.perturb);
    if (la.options.check) {
        if (req > old_req) // the new bytes are junk, as a fresh block's are
            memset((char *)p + old_req, LA_JUNK_BYTE, req - old_req);
        memset((char *)p + req, LA_CANARY_BYTE, usable - req);
    } else if (fill != 0 && req > old_req) {
        memset((char *)p + old_req, fill ^ 0xff, req - old_req);
    }
    if (la.valgrind) {
        VALGRIND_RESIZEINPLACE_BLOCK(p, old_req, req, 0);
        VALGRIND_MAKE_MEM_NOACCESS((char *)p + req, usable - req);
    }
}

void debug_tick(void)
{
    if (la.check_every == 0)
        return;
    // A plain load and store, not an atomic add: the count only paces the
    // walks, so an increment lost to another thread's costs nothing, and a
    // locked add on every call was one more atomic operation per
    // allocation and per free (issue 15).
    size_t n = la_load_relaxed(&la.check_ops) + 1;
    la_store_relaxed(&la.check_ops, n);
    if (n < la_load_relaxed(&la.check_next))
        return;
    size_t before = la_load_relaxed(&la.check_visited);
    size_t period = la.check_every;
    // Claimed before the walk: other threads do not start one meanwhile.
    la_store_relaxed(&la.check_next, n + period);
    if (mem_check_heap() != 0) {
        log_printf("liballocator: periodic heap check: the heap is corrupted (the report above "
                   "says where), found after %zu operations\n", n);
        os_abort();
    }
    size_t spacing = (la_load_relaxed(&la.check_visited) - before) * LA_CHECK_OPS_PER_VISIT;
    if (la.options.check_every_auto && spacing > period)
        la_store_relaxed(&la.check_next, n + spacing);
}
