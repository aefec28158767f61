// SPDX-License-Identifier: MIT
/*
 * test_realloc_heap: realloc of heap blocks in the _ts family (the exported
 * malloc family's code).  A block that cannot grow where it stands but
 * fits with its free left neighbour slides down into it (heap_slide_down,
 * issue 13: round-robin string growth spread over holes), keeping its
 * contents, its usable bytes included; a block with no free left
 * neighbour moves; the heap walk passes after each step.
 */
#include "allocator.h"
#include "config.h"
#include "../testhelper.h"

// Above the thread cache's bins, so that a free goes back to the heap at
// once, and below the mmap threshold.
#define BLOCK_BYTES (LA_TC_MEDIUM_MAX_BYTES + 16 * 1024)

static void test_slide_down(void)
{
    // g keeps a's left neighbour live; c keeps b's right one live.
    char *g = mem_malloc_ts(BLOCK_BYTES), *a = mem_malloc_ts(BLOCK_BYTES);
    char *b = mem_malloc_ts(BLOCK_BYTES), *c = mem_malloc_ts(BLOCK_BYTES);
    REQUIRE(g != NULL && a != NULL && b != NULL && c != NULL);
    size_t ua = mem_usable_size(a), ub = mem_usable_size(b);
    // Carved one after the other from the heap's top: neighbours.
    REQUIRE(a == g + mem_usable_size(g) + 16 && b == a + ua + 16 && c == b + ub + 16);
    memset(b, 'b', ub); // all of the usable size is the program's
    mem_free_ts(a);
    CHECK_EQ(mem_check_heap(), 0);
    // c is live: b cannot grow in place, but a's hole and b hold it.
    size_t n = ub + BLOCK_BYTES / 2;
    char *d = mem_realloc_ts(b, n);
    REQUIRE(d != NULL);
    CHECK(d == a);
    CHECK(mem_usable_size(d) >= n);
    size_t bad = 0;
    for (size_t i = 0; i < ub; i++)
        bad += d[i] != 'b';
    CHECK_EQ(bad, 0);
    CHECK_EQ(mem_check_heap(), 0);
    // Now g is d's left neighbour and c is right after it (the slide took
    // all of a and b, short of the slack it asked for):
    // growing again moves, and the contents follow.
    memset(d, 'd', n);
    size_t m = mem_usable_size(d) + BLOCK_BYTES;
    char *e = mem_realloc_ts(d, m);
    REQUIRE(e != NULL);
    CHECK(e != d);
    bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += e[i] != 'd';
    CHECK_EQ(bad, 0);
    CHECK_EQ(mem_check_heap(), 0);
    mem_free_ts(e);
    mem_free_ts(c);
    mem_free_ts(g);
    CHECK_EQ(mem_check_heap(), 0);
}

int main(void)
{
    test_slide_down();
    return test_report("test_realloc_heap");
}
