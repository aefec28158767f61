// SPDX-License-Identifier: MIT
/*
 * The medium bins' hit paths (tcache.c: tcache_malloc_above's and
 * tcache_free_unslabbed's, issue 13) keep the checks and the counts of the slow
 * path they bypass.  Each misuse case runs in a forked child that must die
 * of SIGABRT with one report naming free() and the block's address:
 *  - a medium block whose check word the program overwrote while it
 *    waited in its bin, then handed out again: its free reports the header
 *    (the hit makes the live check word from the cached one; rehashing the
 *    header there, as the slow path did, vouched for what was written);
 *  - a medium block freed twice: the second free finds it cached;
 *  - a medium block whose right neighbour's boundary tag says it is free
 *    (an overflow of the block into the next header): reported, not cached.
 * Then, in this process: a loop of medium mallocs and frees that hit the
 * bins keeps mem_get_stats() exact (allocations, frees and their bytes),
 * with one size or spread over the classes (full bins spill into lower ones),
 * and blocks no medium bin takes leave the cache's past_bins untouched.
 * Last, a random churn of blocks of 2-4 KiB (ruby's buffers) grows the
 * bins of this cold cache to LA_TC_MEDIUM_COLD_COUNT_MAX blocks and no
 * further.
 */
#include <signal.h>

#include "allocator.h"
#include "internal.h"
#include "tcache.h"
#include "../testhelper.h"

#define MEDIUM 3000 // a medium request: above the slab classes, below 32 KiB

// Announces the address the report must name (the parent reads it back).
static void announce(const void *p)
{
    char line[64];
    int n = snprintf(line, sizeof line, "expect %p\n", p);
    (void)!write(2, line, (size_t)n);
}

// A medium block that went through its bin a few times, so that the bin
// has grown and the next free of its size is a hit.
static void *warm(void)
{
    for (int i = 0; i < 8; i++)
        mem_free_ts(mem_malloc_ts(MEDIUM));
    return mem_malloc_ts(MEDIUM);
}

static void check_word_written_while_cached(void)
{
    void *p = warm();
    mem_free_ts(p); // into its bin
    announce(p);
    // The use after free: the header's check word (its last 4 bytes).
    *(volatile uint32_t *)((char *)p - 4) ^= 0x5a5a;
    void *q = mem_malloc_ts(MEDIUM); // the same block, from the bin
    if (q != p) {
        static const char msg[] = "malloc did not hand the cached block out again\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(3);
    }
    mem_free_ts(q);
    _exit(4); // the free let it through
}

static void double_free_cached(void)
{
    void *p = warm();
    announce(p);
    mem_free_ts(p);
    mem_free_ts(p);
    _exit(4);
}

static void neighbour_says_free(void)
{
    void *p = warm();
    void *next = mem_malloc_ts(MEDIUM); // p's right neighbour, most likely
    la_block_t *b = blk_from_payload(p);
    if ((char *)next != (char *)b + blk_size(b) + LA_HEADER_BYTES) {
        static const char msg[] = "no neighbour: skipped\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(5);
    }
    announce(p);
    // An overflow of p into its neighbour's head word: the PREV_FREE bit.
    *(volatile size_t *)((char *)next - LA_HEADER_BYTES) |= LA_PREV_FREE;
    mem_free_ts(p);
    _exit(4);
}

typedef struct {
    const char *name;
    void (*fn)(void);
    const char *what; // the report must hold this
} case_t;

static const case_t cases[] = {
    {"check word written while cached", check_word_written_while_cached, "free()"},
    {"double free of a cached block", double_free_cached, "double free of "},
    {"neighbour's tag says free", neighbour_says_free, "corrupted header at "},
};


// The counters moved by exactly `blocks` allocations and frees of `bytes`
// in all, and nothing is left live.
static void check_counts(const mem_stats_t *before, size_t blocks, size_t bytes)
{
    mem_stats_t after = mem_get_stats();
    CHECK_EQ(after.num_allocations - before->num_allocations, blocks);
    CHECK_EQ(after.num_frees - before->num_frees, blocks);
    CHECK_EQ(after.total_allocated - before->total_allocated, bytes);
    CHECK_EQ(after.total_freed - before->total_freed, bytes);
    CHECK_EQ(after.current_usage, before->current_usage);
}

// Medium hits counted exactly: sizes over several classes, so that some
// allocations borrow a block of a class above theirs.
static void counts_are_exact(void)
{
    for (int i = 0; i < 4; i++) // warm the bins up
        for (int j = 0; j < 8; j++)
            mem_free_ts(mem_malloc_ts(MEDIUM + (size_t)j * 64));
    mem_stats_t before = mem_get_stats();
    enum { ROUNDS = 1000, PER = 8 };
    size_t bytes = 0;
    for (int i = 0; i < ROUNDS; i++) {
        void *p[PER];
        for (int j = 0; j < PER; j++) {
            p[j] = mem_malloc_ts(MEDIUM + (size_t)j * 64);
            REQUIRE(p[j] != NULL);
            memset(p[j], j, MEDIUM);
            bytes += MEDIUM + (size_t)j * 64;
        }
        for (int j = 0; j < PER; j++)
            mem_free_ts(p[j]);
    }
    check_counts(&before, (size_t)ROUNDS * PER, bytes);
}

// The same with sizes spread over the medium classes and frees in a mixed
// order: bins fill up, and a full bin's block spills into a bin of a
// class below (the free hit path's spill), or goes to the heap.
static void counts_are_exact_spread(void)
{
    mem_stats_t before = mem_get_stats();
    enum { ROUNDS = 2000, PER = 16 };
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    size_t bytes = 0;
    for (int i = 0; i < ROUNDS; i++) {
        void *p[PER];
        for (int j = 0; j < PER; j++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t n = LA_TC_MAX_BYTES + 1 + (size_t)(rng >> 33) % (LA_TC_MEDIUM_MAX_BYTES / 4);
            p[j] = mem_malloc_ts(n);
            REQUIRE(p[j] != NULL);
            memset(p[j], j, n);
            bytes += n;
        }
        for (int j = 0; j < PER; j++)
            mem_free_ts(p[(j * 7) % PER]);
    }
    check_counts(&before, (size_t)ROUNDS * PER, bytes);
    CHECK_EQ(mem_check_heap(), 0);
}

// Medium blocks no bin takes (usable size below the first medium class,
// left by a plain realloc that shrank one in place): the hit path's table sends
// them to past_bins, always full, and from there to the slow path, which
// frees them to the heap.  past_bins must stay as they were: empty, no room.
static void no_bin_blocks(void)
{
    for (int i = 0; i < 64; i++) {
        char *p = mem_malloc_ts(MEDIUM);
        REQUIRE(p != NULL);
        // In place, the tail split off (the plain realloc keeps no slack).
        char *q = mem_realloc(p, LA_TC_MAX_BYTES + 40);
        REQUIRE(q != NULL);
        REQUIRE(mem_usable_size(q) < LA_TC_MAX_BYTES + LA_TC_MAX_BYTES / LA_TC_MEDIUM_PER_DOUBLING);
        mem_free_ts(q);
    }
    la_tcache_t *tc = la_tc;
    for (int i = 0; i < LA_TC_MEDIUM_BORROW; i++) {
        CHECK(tc->past_bins[i].head == NULL);
        CHECK_EQ(bin_room(&tc->past_bins[i]), 0);
        CHECK_EQ(tc->past_bins[i].cap, 0);
    }
}

// A table of live blocks of 2-4 KiB, a random one replaced at each step:
// each class's count in the bins is a random walk, and without the bound a
// bin that swung kept the capacity of the walk's highest point (tens of
// blocks each).  The process has one thread, so its cache is cold.
static void cold_bins_capped(void)
{
    enum { LIVE = 64, STEPS = 200000 };
    static char *live[LIVE];
    uint64_t s = 88172645463325252ull;
    for (int k = 0; k < STEPS; k++) {
        uint64_t x = rng_next(&s);
        size_t i = (size_t)(x % LIVE);
        mem_free_ts(live[i]);
        live[i] = mem_malloc_ts(2048 + (size_t)(x >> 32) % 2048);
        REQUIRE(live[i] != NULL);
        live[i][0] = (char)k;
    }
    for (size_t i = 0; i < LIVE; i++)
        mem_free_ts(live[i]);
    la_tcache_t *tc = la_tc;
    REQUIRE(!tc->medium_hot);
    size_t most = 0;
    for (size_t i = LA_TC_SMALL_BINS; i < LA_TC_BINS; i++)
        most = LA_MAX(most, (size_t)tc->bins[i].cap);
    CHECK_EQ(most, LA_TC_MEDIUM_COLD_COUNT_MAX);
}

int main(void)
{
    mem_free_ts(mem_malloc_ts(1)); // the main thread's cache
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *want[] = {cases[i].what, NULL};
        check_misuse_report(cases[i].name, cases[i].fn, want);
    }
    counts_are_exact();
    counts_are_exact_spread();
    no_bin_blocks();
    cold_bins_capped();
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_medium_hits");
}
