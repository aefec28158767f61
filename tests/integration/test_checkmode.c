// SPDX-License-Identifier: MIT
/*
 * Checking mode (ALLOCATOR_CHECK=1, set by ctest for this test): new blocks
 * hold junk, calloc's hold zeros, freed blocks are poisoned, a write past
 * the requested size is reported on free and on realloc with the number of
 * bytes written past the end, malloc_usable_size is the requested size,
 * the periodic heap walk catches a damaged header, and freed blocks wait
 * in a quarantine that reports a write after free.  Misuse cases
 * run in forked children that must abort with one line.
 */
#include <signal.h>

#include "allocator.h"
#include "slab.h" // slab_of: checking mode keeps the production layout
#include "../testhelper.h"

#define JUNK 0xa5
#define POISON 0xdd

static char *victim;

static void overflow_on_free(void)
{
    victim = mem_malloc(20);
    memset(victim, 'x', 23); // 3 bytes past the end
    mem_free(victim);
}

static void overflow_on_realloc(void)
{
    victim = mem_malloc_ts(100);
    memset(victim, 'y', 101);
    (void)!mem_realloc_ts(victim, 400);
}

// The quarantine: a freed block waits, poisoned, and a write into it is
// reported when it leaves; a second free, or a realloc, while it waits is
// named too.
static void write_after_free(void)
{
    victim = mem_malloc_ts(200);
    mem_free_ts(victim);
    victim[50] = 'w';
    for (int i = 0; i < 5000; i++)
        mem_free_ts(mem_malloc_ts(200));
}

static void double_free_held(void)
{
    victim = mem_malloc_ts(5000);
    mem_free_ts(victim);
    mem_free_ts(mem_malloc_ts(5000));
    mem_free_ts(victim);
}

static void realloc_held(void)
{
    victim = mem_malloc(300000);
    mem_free(victim);
    (void)!mem_realloc(victim, 10);
}

static void underflow_slot(void)
{
    volatile unsigned char *p = mem_malloc_ts(40);
    p[-2] = 'u';
    mem_free_ts((void *)p);
}

static void damaged_header(void)
{
    // An underflow over a live block's header, as volatile stores: the
    // compiler drops an ordinary store before the start of an allocation.
    volatile unsigned char *a = mem_malloc(300);
    for (int i = 1; i <= 8; i++)
        a[-i] = 0x11;
    for (int i = 0; i < 3000; i++) // at least one heap walk, a left alone
        mem_free(mem_malloc(24));
}


int main(void)
{
    unsigned char *p = mem_malloc(64);
    REQUIRE(p != NULL);
    int junk = 1;
    for (int i = 0; i < 64; i++)
        junk &= p[i] == JUNK;
    CHECK(junk);
    CHECK_EQ(mem_usable_size(p), 64); // the slack is the canary's
    mem_free(p);
    // A freed block is poisoned beyond the links the heap keeps in it (a
    // tree node's, with the span its purges left: 40 bytes of payload,
    // when it merges into a big free block).
    int poisoned = 1;
    for (int i = 40; i < 64; i++)
        poisoned &= p[i] == POISON;
    CHECK(poisoned);

    // Small blocks of the _ts family (and the exported malloc) stay slab
    // slots in checking mode, with a front canary: an underflow is named.
    unsigned char *slot = mem_malloc_ts(64);
    REQUIRE(slot != NULL);
    CHECK(slab_of(slot) != NULL);
    CHECK((uintptr_t)slot % 16 == 0);
    CHECK(slot[0] == JUNK && slot[63] == JUNK);
    CHECK_EQ(mem_usable_size(slot), 64);
    mem_free_ts(slot);
    CHECK(aborted_with(underflow_slot, "free(): buffer underflow: 2 bytes written before",
                       "block of 40 bytes"));

    unsigned char *z = mem_calloc_ts(10, 10);
    REQUIRE(z != NULL);
    int zero = 1;
    for (int i = 0; i < 100; i++)
        zero &= z[i] == 0;
    CHECK(zero);
    // Growing in place or not, the old bytes stay and the new ones are junk.
    z = mem_realloc_ts(z, 300);
    REQUIRE(z != NULL);
    CHECK(z[99] == 0 && z[100] == JUNK && z[299] == JUNK);
    mem_free_ts(z);

    CHECK(aborted_with(overflow_on_free, "free(): buffer overflow: 3 bytes written past the end",
                       "block of 20 bytes"));
    CHECK(aborted_with(overflow_on_realloc, "realloc(): buffer overflow: 1 bytes written",
                       "block of 100 bytes"));
    CHECK(aborted_with(write_after_free, "free(): write after free of",
                       "byte 50 of the block"));
    CHECK(aborted_with(double_free_held, "free(): double free of", "quarantine"));
    CHECK(aborted_with(realloc_held, "realloc(): use after free", "quarantine"));
    // The statistics count a free when the program frees, not when the
    // block leaves the quarantine, and slots by their request, as heap
    // blocks are counted: current_usage comes back to where it was.
    mem_stats_t before = mem_get_stats();
    void *v[60];
    size_t asked = 0;
    for (int i = 0; i < 60; i++) {
        v[i] = mem_malloc_ts(10 + (size_t)i * 33); // slots and heap blocks
        asked += 10 + (size_t)i * 33;
    }
    for (int i = 0; i < 60; i++)
        mem_free_ts(v[i]);
    mem_stats_t after = mem_get_stats();
    CHECK_EQ(after.num_frees - before.num_frees, 60);
    CHECK_EQ(after.total_allocated - before.total_allocated, asked);
    CHECK_EQ(after.total_freed - before.total_freed, asked);
    CHECK_EQ(after.current_usage, before.current_usage);
    // Quarantined blocks are sound to the heap walker.
    void *held[100];
    for (int i = 0; i < 100; i++)
        held[i] = mem_malloc_ts(16 + (size_t)i * 40);
    for (int i = 0; i < 100; i++)
        mem_free_ts(held[i]);
    mem_free_ts(mem_malloc_ts(300000));
    CHECK_EQ(mem_check_heap(), 0);
    CHECK(aborted_with(damaged_header, "periodic heap check",
                       "live block header fails its check word"));
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_checkmode");
}
