// SPDX-License-Identifier: MIT
/*
 * Unit tests of the core's internals, linked against the object library:
 * size-class math, block sizing, the diagnostic formatter, splitting and
 * coalescing seen through block addresses and headers, the heap walker
 * catching damage it is meant to catch, and a statistics snapshot whose
 * sum runs behind.
 */
#include <stdarg.h>

#include "internal.h"

#include "../testhelper.h"

static void test_classes(void)
{
    CHECK_EQ(bins_class(32), 0);
    CHECK_EQ(bins_class(33), 1);
    CHECK_EQ(bins_class(64), 1);
    CHECK_EQ(bins_class(65), 2);
    CHECK_EQ(bins_class(128), 2);
    CHECK_EQ(bins_class(256), 3);
    CHECK_EQ(bins_class(512), 4);
    CHECK_EQ(bins_class(1024), 5);
    CHECK_EQ(bins_class(2048), 6);
    CHECK_EQ(bins_class(4096), 7);
    CHECK_EQ(bins_class(4097), 8);
    CHECK_EQ(bins_class(8192), 8);
    CHECK_EQ(bins_class(8193), 9);
    CHECK_EQ(bins_class((size_t)1 << 40), NUM_SIZE_CLASSES - 1);

    CHECK_EQ(blk_size_for(0), MIN_BLOCK_SIZE);
    CHECK_EQ(blk_size_for(16), 32);
    CHECK_EQ(blk_size_for(17), 48);
    CHECK_EQ(blk_size_for(24), 48);
    CHECK_EQ(blk_size_for(100), 128);
}

static size_t fmt(char *buf, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    size_t n = log_format(buf, cap, f, ap);
    va_end(ap);
    return n;
}

static void test_formatter(void)
{
    char buf[128];
    fmt(buf, sizeof buf, "%d %u %zu %x %s %c %%", -42, 7u, (size_t)123456789012ull, 0xbeefu, "ok",
        'z');
    CHECK(strcmp(buf, "-42 7 123456789012 beef ok z %") == 0);
    fmt(buf, sizeof buf, "[%5d][%-4s][%08x]", 42, "ab", 0x1234u);
    CHECK(strcmp(buf, "[   42][ab  ][00001234]") == 0);
    fmt(buf, sizeof buf, "%p", (void *)0x55d0c0a4b2a0);
    CHECK(strcmp(buf, "0x55d0c0a4b2a0") == 0);
    fmt(buf, sizeof buf, "%s", (char *)NULL);
    CHECK(strcmp(buf, "(null)") == 0);
    // Truncation keeps a terminated buffer.
    size_t n = fmt(buf, 8, "%s", "0123456789");
    CHECK_EQ(n, 7);
    CHECK(strcmp(buf, "0123456") == 0);
}

// Sizes for people in the statistics report (issue 17).
static void test_bytes_for_people(void)
{
    static const struct {
        size_t bytes;
        const char *text;
    } cases[] = {
        {0, "0 B"},
        {1023, "1023 B"},
        {1024, "1.0 KiB"},
        {1536, "1.5 KiB"},
        {1024 * 1024 - 1, "1024.0 KiB"},
        {187u * 1024 * 1024 + 300 * 1024, "187.3 MiB"},
        {(size_t)2200 * 1000 * 1000 * 1000, "2.0 TiB"},
        {SIZE_MAX, "16.0 EiB"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = log_format_bytes(buf, sizeof buf, cases[i].bytes);
        CHECK(strcmp(buf, cases[i].text) == 0);
        CHECK_EQ(n, strlen(cases[i].text));
        if (strcmp(buf, cases[i].text) != 0)
            fprintf(stderr, "  %zu bytes: '%s', expected '%s'\n", cases[i].bytes, buf, cases[i].text);
    }
    // A field width given as an argument (`*`), as the report's column.
    fmt(buf, sizeof buf, "[%*zu]", 6, (size_t)42);
    CHECK(strcmp(buf, "[    42]") == 0);
}

static void test_split_and_coalesce(void)
{
    mem_reset();
    mem_stats_t s0 = mem_get_stats();
    // Fresh allocations are carved one after another from the same free
    // block: each is a split, and they are adjacent.
    char *a = mem_malloc(100), *b = mem_malloc(100), *c = mem_malloc(100), *d = mem_malloc(100);
    REQUIRE(a && b && c && d);
    size_t step = blk_size(blk_from_payload(a));
    CHECK_EQ(step, 128);
    CHECK(b == a + step && c == b + step && d == c + step);
    mem_stats_t s1 = mem_get_stats();
    CHECK_EQ(s1.num_splits - s0.num_splits, 4);

    // Freeing b then c merges them (one coalesce); freeing a merges it
    // with them from the left (two more events: a+bc).
    mem_free(b);
    CHECK(blk_is_free(blk_from_payload(b)));
    CHECK(blk_prev_is_free(blk_from_payload(c)));
    mem_free(c);
    mem_stats_t s2 = mem_get_stats();
    CHECK_EQ(s2.num_coalesces - s1.num_coalesces, 1);
    CHECK_EQ(blk_size(blk_from_payload(b)), 2 * step);
    CHECK(blk_prev_is_free(blk_from_payload(d)));
    mem_free(a);
    mem_stats_t s3 = mem_get_stats();
    CHECK_EQ(s3.num_coalesces - s2.num_coalesces, 1);
    CHECK_EQ(blk_size(blk_from_payload(a)), 3 * step);

    // The merged space serves a request of three blocks at a's address,
    // exactly, with no split.
    char *e = mem_malloc(3 * step - LA_HEADER_BYTES);
    CHECK(e == a);
    CHECK_EQ(mem_get_stats().num_splits, s3.num_splits);
    CHECK(!blk_prev_is_free(blk_from_payload(d)));
    CHECK_EQ(mem_check_heap(), 0);

    // A request smaller than the hole splits it and leaves the tail free.
    mem_free(e);
    char *f = mem_malloc(100);
    CHECK(f == a);
    CHECK_EQ(mem_get_stats().num_splits, s3.num_splits + 1);
    la_block_t *tail = blk_next(blk_from_payload(f));
    CHECK(blk_is_free(tail));
    CHECK_EQ(blk_size(tail), 2 * step);
    mem_free(f);
    mem_free(d);
    CHECK_EQ(mem_check_heap(), 0);
}

// heap_alloc_big() takes a free block whole when its rest would be small
// (LA_BIG_WHOLE_*), and splits a bigger rest off.
static void test_big_block_taken_whole(void)
{
    mem_reset();
    // A free block of the tree, kept from the top by a live block after it.
    char *hole = mem_malloc(42000), *sep = mem_malloc(100);
    REQUIRE(hole && sep);
    la_block_t *at = blk_from_payload(hole);
    size_t hole_bytes = blk_size(at);
    mem_free(hole);
    CHECK(blk_is_free(at));
    la_heap_t *h = &la.heaps[0];
    // A rest of about 2 KiB: below 1/8 of the block and below 4 KiB.
    size_t need = blk_size_for(40000);
    REQUIRE(hole_bytes - need < LA_MIN(need / LA_BIG_WHOLE_DIVISOR, LA_BIG_WHOLE_MAX_BYTES));
    size_t splits = mem_get_stats().num_splits;
    la_block_t *b = heap_alloc_big(h, need, 40000);
    CHECK(b == at);
    CHECK_EQ(blk_size(b), hole_bytes);
    CHECK_EQ(mem_get_stats().num_splits, splits);
    CHECK_EQ(mem_usable_size(blk_payload(b)), hole_bytes - LA_HEADER_BYTES);
    CHECK_EQ(mem_check_heap(), 0);
    mem_free(blk_payload(b));
    CHECK(blk_is_free(at));
    // A rest of about 6 KiB, more than 4 KiB: split off, and free.
    need = blk_size_for(36000);
    REQUIRE(hole_bytes - need >= LA_BIG_WHOLE_MAX_BYTES);
    b = heap_alloc_big(h, need, 36000);
    CHECK(b == at);
    CHECK_EQ(blk_size(b), need);
    CHECK(blk_is_free(blk_next(b)));
    CHECK_EQ(mem_check_heap(), 0);
    mem_free(blk_payload(b));
    mem_free(sep);
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_realloc_in_place(void)
{
    char *a = mem_malloc(200), *b = mem_malloc(200), *guard = mem_malloc(16);
    REQUIRE(a && b && guard);
    memset(a, 'x', 200);
    mem_free(b);
    // Growing into the free right neighbour keeps the address.
    char *a2 = mem_realloc(a, 350);
    CHECK(a2 == a);
    CHECK(a2[0] == 'x' && a2[199] == 'x');
    CHECK(mem_usable_size(a2) >= 350);
    // Shrinking splits the tail off in place.
    size_t splits = mem_get_stats().num_splits;
    char *a3 = mem_realloc(a2, 40);
    CHECK(a3 == a);
    CHECK_EQ(mem_get_stats().num_splits, splits + 1);
    CHECK(blk_is_free(blk_next(blk_from_payload(a3))));
    CHECK_EQ(mem_check_heap(), 0);
    mem_free(a3);
    mem_free(guard);
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_walker_catches_damage(void)
{
    char *a = mem_malloc(64), *b = mem_malloc(64), *c = mem_malloc(64);
    REQUIRE(a && b && c);
    mem_free(b);
    CHECK_EQ(mem_check_heap(), 0);
    la_block_t *fb = blk_from_payload(b);
    size_t saved = *blk_footer(fb);
    *blk_footer(fb) = saved + 16; // a footer that lies
    CHECK(mem_check_heap() != 0);
    *blk_footer(fb) = saved;
    la_block_t *lc = blk_from_payload(c);
    lc->head &= ~LA_PREV_FREE; // a boundary tag that disagrees
    CHECK(mem_check_heap() != 0);
    lc->head |= LA_PREV_FREE;
    la_heap_t *h = &la.heaps[0];
    uint32_t saved_bitmap = h->bitmap;
    h->bitmap = 0; // a bitmap that hides a list
    CHECK(mem_check_heap() != 0);
    h->bitmap = saved_bitmap;
    CHECK_EQ(mem_check_heap(), 0);
    mem_free(a);
    mem_free(c);
}

// mem_get_stats() sums the counter sets one after the other while other
// threads run: a block allocated after its allocator's counters were read
// and freed before its freer's were shows as freed only.  Such a sum (made
// here by counting frees nobody allocated) must not wrap current_usage,
// nor raise the peak to near 2^64 for good (issue 12, seen by
// test_threads' stats reader).
static void test_stats_sum_behind(void)
{
    mem_reset();
    mem_stats_t before = mem_get_stats();
    size_t *freed = &la.tc_retired.free_bytes;
    *freed += before.current_usage + 4096;
    mem_stats_t s = mem_get_stats();
    *freed -= before.current_usage + 4096;
    CHECK_EQ(s.current_usage, 0);
    CHECK(s.peak_usage <= before.peak_usage);
    mem_stats_t after = mem_get_stats();
    CHECK_EQ(after.current_usage, before.current_usage);
    CHECK_EQ(after.peak_usage, before.peak_usage);
}

int main(void)
{
    test_classes();
    test_formatter();
    test_bytes_for_people();
    test_split_and_coalesce();
    test_big_block_taken_whole();
    test_realloc_in_place();
    test_walker_catches_damage();
    test_stats_sum_behind();
    return test_report("test_internals");
}
