// SPDX-License-Identifier: MIT
/*
 * A small overflow must never turn into silent corruption (issue 12).  Each
 * case damages a block header the way an overflow of 1..12 bytes from the
 * block before it would (or hands free() a made-up header), in a forked
 * child: the child must die of SIGABRT after one report naming the
 * function, the address and what was wrong, before the allocator wrote
 * anything on the strength of the damaged header.  An alarm turns a hang
 * into a failure.  The thread-cache paths are the _ts functions.  ctest
 * runs it with ALLOCATOR_SLAB=0: slab slots have no header, so small
 * requests must get headed blocks here (medium ones always do).
 *
 * The header is the 16 bytes before a payload: the head word (size, flags
 * and, in its top byte, the heap index), the requested size (32 bits) and
 * the check word (32 bits); the bytes just past one block's usable end are
 * the next block's header.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "allocator.h"
#include "../testhelper.h"

#define HEADER_BYTES 16
// Requests of this size get blocks of 48 bytes (32 usable) from one
// thread-cache bin, carved in a row by a refill.
#define SMALL_REQ 24
// More frees of SMALL_REQ blocks than that bin can ever hold: the bin
// overflows and gives its oldest blocks back to the heap.
#define FLUSH_FREES 600

static char expect_addr[32];

// Tells the parent (through the captured stderr) which address the report
// must name, before the misuse happens.
static void announce(const void *p)
{
    snprintf(expect_addr, sizeof expect_addr, "%p", p);
    char line[64];
    int n = snprintf(line, sizeof line, "expect %s\n", expect_addr);
    (void)!write(2, line, (size_t)n);
}

// Two live blocks of `req` bytes, *b right after *a: the first bytes past
// a's usable end are b's header.
static void adjacent_pair(size_t req, char **a, char **b)
{
    char *prev = mem_malloc_ts(req);
    for (int i = 0; i < 1000; i++) {
        char *next = mem_malloc_ts(req);
        if (next == prev + mem_usable_size(prev) + HEADER_BYTES) {
            *a = prev;
            *b = next;
            return;
        }
        prev = next;
    }
    REQUIRE(!"two adjacent blocks");
}

// Writes n bytes `off` bytes past a's usable end, as an overflow of a does
// (volatile stores: the compiler may not drop or reorder them).
static void overflow(char *a, size_t off, const void *bytes, size_t n)
{
    volatile unsigned char *end = (volatile unsigned char *)a + mem_usable_size(a);
    for (size_t i = 0; i < n; i++)
        end[off + i] = ((const unsigned char *)bytes)[i];
}

static char *many[FLUSH_FREES];

static void alloc_many(void)
{
    for (int i = 0; i < FLUSH_FREES; i++)
        REQUIRE((many[i] = mem_malloc_ts(SMALL_REQ)) != NULL);
}

static void free_many(void)
{
    for (int i = 0; i < FLUSH_FREES; i++)
        mem_free_ts(many[i]);
}

/* ---- the requested-size field ------------------------------------------- */

// Picked the cache bin unbounded: 1 GiB indexed far outside the cache.
static void req_huge(void)
{
    char *a, *b;
    adjacent_pair(SMALL_REQ, &a, &b);
    uint32_t req = 1u << 30;
    announce(b);
    overflow(a, 8, &req, sizeof req); // 12 bytes: head unchanged, then req
    mem_free_ts(b);
}

// A plausible size filed a 48-byte block in the 1000-byte bin, and
// malloc(1000) handed it out.
static void req_plausible(void)
{
    char *a, *b;
    adjacent_pair(SMALL_REQ, &a, &b);
    uint32_t req = 1000;
    announce(b);
    overflow(a, 8, &req, sizeof req);
    mem_free_ts(b);
    char *c = mem_malloc_ts(1000);
    if (c == b) {
        fprintf(stderr, "malloc(1000) returned a block of %zu usable bytes\n", mem_usable_size(c));
        _exit(3);
    }
}

/* ---- the head word ------------------------------------------------------- */

// strcpy of a string as long as the block: its NUL lands on the low byte
// of the next header (size 48 becomes 0).  The block was cached, then
// flushed as a block of size 0, whose footer went into the live block
// before it.
static void nul_past_end(void)
{
    char *a, *b;
    adjacent_pair(SMALL_REQ, &a, &b);
    alloc_many();
    size_t usable = mem_usable_size(a);
    char text[256];
    memset(text, 'x', usable);
    text[usable] = '\0';
    announce(b);
    strcpy(a, text); // one byte too many
    mem_free_ts(b);
    free_many(); // b's bin overflows: b goes back to the heap
    if (strlen(a) != usable || mem_check_heap() != 0) {
        fprintf(stderr, "the live block before %p was overwritten\n", (void *)b);
        _exit(3);
    }
}

// The heap-index byte (the head's top byte) of a block waiting in the
// cache, set to 255: the flush indexed arrays of 64 heaps with it, on the
// stack.
// Medium blocks (above the slab classes) are the ones cached with headers
// when slabs are on; their bins grow only once they have run dry and
// overflowed, so a few rounds of allocating and freeing make them hold
// blocks first.
#define MEDIUM_REQ 3000 // above the slabs: a headed block in a medium bin

static void heap_index(void)
{
    static char *medium[FLUSH_FREES];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < FLUSH_FREES; i++)
            REQUIRE((medium[i] = mem_malloc_ts(MEDIUM_REQ)) != NULL);
        for (int i = 0; i < FLUSH_FREES; i++)
            mem_free_ts(medium[i]);
    }
    for (int i = 0; i < FLUSH_FREES; i++)
        REQUIRE((medium[i] = mem_malloc_ts(MEDIUM_REQ)) != NULL);
    char *a, *b;
    adjacent_pair(MEDIUM_REQ, &a, &b);
    mem_free_ts(b); // cached
    unsigned char bad = 0xff;
    announce(b);
    overflow(a, 7, &bad, 1); // an 8-byte overflow whose first 7 bytes matched
    // A full medium bin keeps b: the frees that find it full go to the
    // heap (tcache.c free_medium).  The trim's flush of the cache reaches b.
    for (int i = 0; i < FLUSH_FREES; i++)
        mem_free_ts(medium[i]);
    mem_trim(0);
}

/* ---- the fence of a grown brk region ------------------------------------ */

// When the brk heap grows in place, the fence at the old break becomes the
// inside of a free block, and kept a valid check word: free(old break)
// went into the thread cache and malloc handed it out inside a live block.
static void old_fence(void)
{
    char *end = NULL; // our brk region's end while the break is ours
    for (int i = 0; i < 200; i++) {
        char *before = sbrk(0);
        // Above the cached sizes, below the mmap threshold: from the brk
        // heap, each too big for the ~30 KB left at its top.
        void *p = mem_malloc_ts(100000);
        REQUIRE(p != NULL);
        char *after = sbrk(0);
        if (after != before && before == end) {
            announce(before); // the old fence's payload address
            mem_free_ts(before);
            void *q = mem_malloc_ts(0);
            fprintf(stderr, "free(%p) passed; malloc(0) = %p\n", (void *)before, q);
            _exit(3);
        }
        if (after != before)
            end = after;
    }
    REQUIRE(!"the brk heap grew in place");
}

/* ---- threads without a cache ------------------------------------------- */

// A made-up header (check word 0) with a requested size of 1 GiB.
static _Alignas(16) unsigned char fake[64];

static void *fake_payload(void)
{
    uint64_t head = 48;
    uint32_t req = 1u << 30, check = 0;
    memcpy(fake, &head, sizeof head);
    memcpy(fake + 8, &req, sizeof req);
    memcpy(fake + 12, &check, sizeof check);
    return fake + HEADER_BYTES;
}

static void *free_fake(void *arg)
{
    (void)arg;
    void *p = fake_payload();
    announce(p);
    mem_free_ts(p);
    return NULL;
}

// The thread's first call: it has no cache yet, only the placeholder.
static void first_call(void)
{
    run_thread(free_fake, NULL);
}

static pthread_key_t late_key;

static void late_destructor(void *value)
{
    (void)value;
    free_fake(NULL);
}

static void *cached_thread(void *arg)
{
    (void)arg;
    mem_free_ts(mem_malloc_ts(SMALL_REQ)); // the thread gets its cache
    pthread_setspecific(late_key, (void *)1);
    return NULL;
}

// From a TLS destructor that runs after the allocator's own retired the
// thread's cache (the key was made after the allocator's).
static void after_exit(void)
{
    REQUIRE(pthread_key_create(&late_key, late_destructor) == 0);
    run_thread(cached_thread, NULL);
}

typedef struct {
    const char *name;
    void (*fn)(void);
    const char *what;
} case_t;

static const case_t cases[] = {
    {"requested size set to 1 GiB", req_huge, "corrupted header"},
    {"requested size set to 1000", req_plausible, "corrupted header"},
    {"NUL one byte past the end", nul_past_end, "corrupted header"},
    {"heap index 255 in a cached block", heap_index, "corrupted header"},
    {"free of the old fence after growth", old_fence, "invalid pointer"},
    {"first call of a thread", first_call, "invalid pointer"},
    {"free from a late TLS destructor", after_exit, "invalid pointer"},
};

int main(void)
{
    mem_free_ts(mem_malloc_ts(1)); // the main thread's cache, on the brk heap
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *want[] = {"free()", cases[i].what, NULL};
        check_misuse_report(cases[i].name, cases[i].fn, want);
    }
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_overflow");
}
