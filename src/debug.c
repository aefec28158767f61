// SPDX-License-Identifier: MIT
/*
 * debug.c: the opt-in checking mode (ALLOCATOR_CHECK=1) and Valgrind
 * support.  Both need every allocation and free to pass through the slow
 * paths, so either one turns the thread caches off; neither costs the
 * normal fast path anything.
 *
 * Checking mode: new blocks are filled with LA_JUNK_BYTE (calloc excepted),
 * the slack after the requested size (at least LA_GUARD_BYTES, requested
 * on top) holds LA_CANARY_BYTE and is checked on free and realloc, freed
 * blocks are poisoned with LA_POISON_BYTE and held in a quarantine (FIFO,
 * LA_QUARANTINE_SLOTS blocks and LA_QUARANTINE_BYTES at most) whose poison
 * is verified when they leave it for the heap, and the heap is walked
 * every ALLOCATOR_CHECK_EVERY operations.
 *
 * Valgrind (memcheck, detected at start-up with RUNNING_ON_VALGRIND): heap
 * regions start no-access, every block is described with MALLOCLIKE /
 * FREELIKE / RESIZEINPLACE client requests, its slack (again at least
 * LA_GUARD_BYTES) is a no-access redzone, and the allocator's own reads and
 * writes of headers and free blocks run with error reporting off.  The
 * requests compile to nothing without Valgrind's headers.
 */
#include <string.h>

#include "internal.h"

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

void debug_init(void)
{
    la.check_every = la.options.check_every;
    la.valgrind = HAVE_VALGRIND && la.options.valgrind && RUNNING_ON_VALGRIND && tool_tracks_blocks();
    la.debug = la.options.check || la.valgrind;
    if (la.debug) {
        la.guard_bytes = LA_GUARD_BYTES;
        la.options.tcache = 0; // every block through the checked paths
    }
}

void debug_quiet_begin_slow(void) { VALGRIND_DISABLE_ERROR_REPORTING; }

void debug_quiet_end_slow(void) { VALGRIND_ENABLE_ERROR_REPORTING; }

void debug_new_region(void *start, size_t bytes)
{
    // Nothing in a heap region is the program's until a block says so.
    if (la.valgrind)
        VALGRIND_MAKE_MEM_NOACCESS(start, bytes);
}

void debug_on_alloc(void *p, size_t req, size_t usable, bool zeroed)
{
    if (la.options.check) {
        if (!zeroed)
            memset(p, LA_JUNK_BYTE, req);
        memset((char *)p + req, LA_CANARY_BYTE, usable - req);
    }
    if (la.valgrind) {
        // The block is [p, p + req); the slack after it stays no-access.
        // The header stays readable: free's fast path reads it.
        VALGRIND_MAKE_MEM_DEFINED((char *)p - LA_HEADER_BYTES, LA_HEADER_BYTES);
        VALGRIND_MALLOCLIKE_BLOCK(p, req, 0, zeroed);
        VALGRIND_MAKE_MEM_NOACCESS((char *)p + req, usable - req);
    }
}

// Reports a canary that was written over: the bytes after the requested
// size that no longer hold LA_CANARY_BYTE.
void debug_check_canary(const void *p, size_t req, size_t usable, const char *func)
{
    const unsigned char *c = (const unsigned char *)p + req;
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

/* ---- the quarantine (checking mode) -------------------------------------- */

// The first byte of [p, p + bytes) that is not poison, or bytes.
static size_t poison_intact(const unsigned char *p, size_t bytes)
{
    const uint64_t word = 0x0101010101010101ull * LA_POISON_BYTE;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != word)
            break;
    }
    for (; i < bytes; i++)
        if (p[i] != LA_POISON_BYTE)
            return i;
    return bytes;
}

// A block leaving the quarantine: its header must still carry the stamp
// and its payload the poison, or the program wrote to it after its free.
// Then it becomes live again, for the caller to free for real.
static void release_check(const la_held_t *e)
{
    la_block_t *b = e->block;
    void *p = blk_payload(b);
    if (blk_check(b) != (la_check_plain(blk_hash_now(b), blk_req(b)) ^ LA_CHECK_QUARANTINE))
        la_fatal("free", "write after free of %p: its header was overwritten while the "
                         "block waited in the quarantine", p);
    size_t at = poison_intact(p, e->usable);
    if (at != e->usable)
        la_fatal("free", "write after free of %p: byte %zu of the block (of %zu usable bytes) "
                         "changed after it was freed", p, at, e->usable);
    blk_set_req(b, blk_req(b));
}

bool debug_quarantine(la_block_t *b, size_t usable, bool ts, la_held_t *out, unsigned *n)
{
    *n = 0;
    if (usable > LA_QUARANTINE_BYTES / LA_QUARANTINE_BLOCK_DIVISOR)
        return false;
    // Stamped before it is listed: from now on it is a freed block to
    // free, realloc and malloc_usable_size, and a held one to the walker.
    blk_stamp(b, LA_CHECK_QUARANTINE);
    lock_acquire(&la.quarantine_lock);
    if (la.quarantine_count == LA_QUARANTINE_SLOTS) { // full: the oldest goes
        out[(*n)++] = la.quarantine[la.quarantine_head];
        la.quarantine_head = (la.quarantine_head + 1) % LA_QUARANTINE_SLOTS;
        la.quarantine_count--;
        la.quarantine_bytes -= out[0].usable;
    }
    unsigned tail = (la.quarantine_head + la.quarantine_count) % LA_QUARANTINE_SLOTS;
    la.quarantine[tail] = (la_held_t){.block = b, .usable = usable, .ts = ts};
    la.quarantine_count++;
    la.quarantine_bytes += usable;
    while (la.quarantine_bytes > LA_QUARANTINE_BYTES && *n < LA_QUARANTINE_EVICT_MAX) {
        la_held_t *e = &la.quarantine[la.quarantine_head];
        out[(*n)++] = *e;
        la.quarantine_bytes -= e->usable;
        la.quarantine_head = (la.quarantine_head + 1) % LA_QUARANTINE_SLOTS;
        la.quarantine_count--;
    }
    lock_release(&la.quarantine_lock);
    // Checked outside the lock: a report aborts, and the walk of a big
    // block should not hold up other threads' frees.
    for (unsigned i = 0; i < *n; i++)
        release_check(&out[i]);
    return true;
}

void debug_on_resize(void *p, size_t old_req, size_t req, size_t usable)
{
    if (la.options.check) {
        if (req > old_req) // the new bytes are junk, as a fresh block's are
            memset((char *)p + old_req, LA_JUNK_BYTE, req - old_req);
        memset((char *)p + req, LA_CANARY_BYTE, usable - req);
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
    size_t n = __atomic_add_fetch(&la.check_ops, 1, __ATOMIC_RELAXED);
    if (n % la.check_every == 0 && mem_check_heap() != 0) {
        log_printf("liballocator: periodic heap check: the heap is corrupted (the report above "
                   "says where), found after %zu operations\n", n);
        os_abort();
    }
}
