// SPDX-License-Identifier: MIT
/*
 * The public mem_* API in a normal process: basic allocation, glibc's edge
 * cases (NULL, zero size, overflow, errno), calloc, realloc, large mapped
 * blocks, alignment, and the statistics each of these must move.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "allocator.h"
#include "config.h" // LA_TC_PUBLISH_BYTES
#include "../testhelper.h"

static void test_basic(void)
{
    for (size_t n = 1; n <= 4096; n = n * 3 + 1) {
        unsigned char *p = mem_malloc(n);
        REQUIRE(p != NULL);
        CHECK((uintptr_t)p % 16 == 0);
        CHECK(mem_usable_size(p) >= n);
        memset(p, 0xab, mem_usable_size(p)); // all of the usable size is writable
        CHECK(all_bytes(p, n, 0xab));
        mem_free(p);
    }
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_edge_cases(void)
{
    // malloc(0) gives a unique pointer that can be freed.
    void *z1 = mem_malloc(0), *z2 = mem_malloc(0);
    CHECK(z1 != NULL && z2 != NULL && z1 != z2);
    mem_free(z1);
    mem_free(z2);
    mem_free(NULL); // nothing happens
    mem_free_ts(NULL);

    errno = 0;
    CHECK(mem_malloc(SIZE_MAX) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(mem_malloc(SIZE_MAX - 8) == NULL); // rounding would overflow
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(mem_malloc_ts((size_t)PTRDIFF_MAX + 1) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(mem_calloc(SIZE_MAX / 2, 3) == NULL); // product overflows
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(mem_calloc_ts((size_t)1 << 33, (size_t)1 << 33) == NULL);
    CHECK_EQ(errno, ENOMEM);

    // realloc(NULL, n) is malloc(n); realloc(p, 0) frees and returns NULL.
    char *r = mem_realloc(NULL, 10);
    REQUIRE(r != NULL);
    strcpy(r, "keep me");
    size_t frees = mem_get_stats().num_frees;
    CHECK(mem_realloc(r, 0) == NULL);
    CHECK_EQ(mem_get_stats().num_frees, frees + 1);

    // A failed realloc leaves the old block intact.
    char *k = mem_malloc(32);
    REQUIRE(k != NULL);
    strcpy(k, "still here");
    errno = 0;
    CHECK(mem_realloc(k, SIZE_MAX) == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK(strcmp(k, "still here") == 0);
    mem_free(k);

    // free must not change errno.
    errno = 1234;
    void *e = mem_malloc(50);
    mem_free(e);
    void *big = mem_malloc(1 << 20);
    mem_free(big);
    CHECK_EQ(errno, 1234);

    // Alignment: power of two only.
    errno = 0;
    CHECK(mem_aligned_alloc(24, 10) == NULL);
    CHECK_EQ(errno, EINVAL);
    for (size_t al = 32; al <= ((size_t)4 << 20); al <<= 1) {
        void *a = mem_aligned_alloc(al, 100);
        REQUIRE(a != NULL);
        CHECK((uintptr_t)a % al == 0);
        CHECK(mem_usable_size(a) >= 100);
        memset(a, 1, 100);
        mem_free(a);
    }
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_calloc(void)
{
    // Dirty a block, free it, and calloc the same size: it must come back
    // zeroed even though it is reused memory.
    unsigned char *d = mem_malloc(1000);
    REQUIRE(d != NULL);
    memset(d, 0xff, 1000);
    mem_free(d);
    unsigned char *c = mem_calloc(10, 100);
    REQUIRE(c != NULL);
    CHECK(all_bytes(c, 1000, 0));
    mem_free(c);
    // Fresh heap memory, many sizes.
    for (size_t n = 1; n < 100000; n = n * 2 + 7) {
        unsigned char *p = mem_calloc_ts(1, n);
        REQUIRE(p != NULL);
        CHECK(all_bytes(p, n, 0));
        memset(p, 0x5a, n);
        mem_free_ts(p);
    }
    // Large blocks come zeroed straight from the kernel.
    unsigned char *l = mem_calloc(1, 3 << 20);
    REQUIRE(l != NULL);
    CHECK(all_bytes(l, 3 << 20, 0));
    mem_free(l);
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_realloc(void)
{
    // Grow a string step by step; contents survive every move.
    char *s = NULL;
    size_t len = 0;
    for (int i = 0; i < 2000; i++) {
        s = mem_realloc(s, len + 2);
        REQUIRE(s != NULL);
        s[len] = (char)('a' + i % 26);
        s[++len] = '\0';
    }
    for (size_t i = 0; i < len; i++)
        CHECK(s[i] == (char)('a' + i % 26));
    // Into the large range and back.
    s = mem_realloc(s, 300000);
    REQUIRE(s != NULL);
    CHECK(s[1999] == (char)('a' + 1999 % 26));
    s = mem_realloc(s, 5000000); // mremap growth
    REQUIRE(s != NULL);
    CHECK(s[0] == 'a' && s[1999] == (char)('a' + 1999 % 26));
    s[4999999] = 'z';
    s = mem_realloc(s, 100);
    REQUIRE(s != NULL);
    CHECK(s[0] == 'a' && s[99] == (char)('a' + 99 % 26));
    mem_free(s);
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_large_blocks(void)
{
    mem_trim(0); // no cached mappings: every allocation below maps
    mem_stats_t s0 = mem_get_stats();
    CHECK_EQ(s0.large_cached, 0);
    size_t sizes[] = {128 * 1024, 200000, 1 << 20, 10 << 20};
    void *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = mem_malloc(sizes[i]);
        REQUIRE(p[i] != NULL);
        CHECK((uintptr_t)p[i] % 16 == 0);
        memset(p[i], i, sizes[i]);
    }
    mem_stats_t s1 = mem_get_stats();
    CHECK_EQ(s1.num_mmaps - s0.num_mmaps, 4);
    CHECK(s1.mmap_bytes >= s0.mmap_bytes + (128 * 1024 + 200000 + (1 << 20) + (10 << 20)));
    CHECK_EQ(s1.heap_size, s0.heap_size); // large blocks do not touch the heap
    // Just under the threshold stays in the heap.
    void *h = mem_malloc(128 * 1024 - 1);
    REQUIRE(h != NULL);
    CHECK_EQ(mem_get_stats().num_mmaps, s1.num_mmaps);
    mem_free(h);
    for (int i = 0; i < 4; i++)
        mem_free(p[i]);
    // Freed mappings wait in the cache (all four fit in it)...
    mem_stats_t s2 = mem_get_stats();
    CHECK_EQ(s2.num_munmaps, s1.num_munmaps);
    CHECK_EQ(s2.large_cached, 4);
    CHECK(s2.large_cache_bytes >= 128 * 1024 + 200000 + (1 << 20) + (10 << 20));
    CHECK_EQ(s2.mmap_bytes, s0.mmap_bytes);
    // ...and serve the next request that fits one with little waste,
    // without a new mapping, dirty: calloc must still clear it.
    unsigned char *again = mem_malloc(1 << 20);
    REQUIRE(again != NULL);
    CHECK_EQ(mem_get_stats().num_mmaps, s1.num_mmaps);
    CHECK_EQ(mem_get_stats().large_cached, 3);
    CHECK(again[0] == 2 && again[(1 << 20) - 1] == 2); // what p[2] held
    mem_free(again);
    unsigned char *zero = mem_calloc(1, 200000);
    REQUIRE(zero != NULL);
    CHECK_EQ(mem_get_stats().num_mmaps, s1.num_mmaps);
    int nonzero = 0;
    for (int i = 0; i < 200000; i++)
        nonzero |= zero[i];
    CHECK_EQ(nonzero, 0);
    mem_free(zero);
    // A trim unmaps them all.
    CHECK_EQ(mem_trim(0), 1);
    mem_stats_t s3 = mem_get_stats();
    CHECK_EQ(s3.large_cached, 0);
    CHECK_EQ(s3.large_cache_bytes, 0);
    CHECK_EQ(s3.num_munmaps - s1.num_munmaps, 4);
    CHECK_EQ(mem_trim(0), 0); // nothing left to release
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_medium_sizes_are_cached(void)
{
    // Medium requests that are not a class size (5000: class 5120) must be
    // served by the thread cache after the first: a pair that reaches the
    // heap splits and merges blocks, a cached one does neither.
    for (int i = 0; i < 4; i++)
        mem_free_ts(mem_malloc_ts(5000));
    mem_stats_t s0 = mem_get_stats();
    for (int i = 0; i < 100; i++) {
        char *p = mem_malloc_ts(5000);
        REQUIRE(p != NULL);
        memset(p, 1, 5000);
        mem_free_ts(p);
    }
    mem_stats_t s1 = mem_get_stats();
    CHECK_EQ(s1.num_allocations - s0.num_allocations, 100);
    CHECK(s1.num_splits - s0.num_splits < 5);
    CHECK(s1.num_coalesces - s0.num_coalesces < 5);
}

#define BIG_BYTES ((size_t)1 << 20)

static void *no_work(void *arg) { return arg; }

// Once a process has made a thread, a heap block above the medium bins
// counts its usage with an atomic add, whose slow side must raise the peak:
// it called stats_usage_publish(0), which returns at once, and two live
// blocks of 1 MiB left the peak where it was.
static void test_peak_of_big_blocks_with_threads(void)
{
    run_thread(no_work, NULL);
    mem_free_ts(mem_malloc_ts(BIG_BYTES)); // the threshold rises above 1 MiB
    mem_reset();
    size_t base = mem_get_stats().current_usage;
    char *a = mem_malloc_ts(BIG_BYTES), *b = mem_malloc_ts(BIG_BYTES);
    REQUIRE(a != NULL && b != NULL);
    mem_free_ts(a);
    mem_free_ts(b);
    CHECK(mem_get_stats().peak_usage >= base + 2 * BIG_BYTES);
}

// In a thread of its own, whose cache starts with every medium bin empty
// and at capacity 0 (the main thread's earlier tests grew some).
static void *medium_neighbours_thread(void *arg)
{
    (void)arg;
    // Medium classes between 8 and 16 KiB are 512 bytes apart: 9100 is
    // served by the 9216 class, 9500 by the 9728 class, the next one up.
    // A full bin's block goes to the bin one class down when that one has
    // room.  The 9216 bin gets room for one block, and is left empty:
    void *y = mem_malloc_ts(9100);
    REQUIRE(y != NULL);
    mem_free_ts(y); // the bin ran dry, so it grows to one block and keeps y
    void *y2 = mem_malloc_ts(9100);
    CHECK(y2 == y); // from the bin
    // The 9728 bin has no room: x goes down into the 9216 bin...
    void *x = mem_malloc_ts(9500);
    REQUIRE(x != NULL);
    mem_free_ts(x);
    // ...so a 9500 request does not find it (its bin, and the ones above
    // that it borrows from, are empty), and a 9100 request does.
    void *x2 = mem_malloc_ts(9500);
    CHECK(x2 != x);
    void *x3 = mem_malloc_ts(9100);
    CHECK(x3 == x);
    // A dry bin borrows a block of the next class up.  The 9216 bin (its
    // room one block) keeps z, then the 9728 bin, which ran dry, grows to
    // one block and keeps w (the bin below is full: nothing goes down).
    void *z = mem_malloc_ts(9100);
    REQUIRE(z != NULL);
    mem_free_ts(z);
    void *w = mem_malloc_ts(9500);
    REQUIRE(w != NULL);
    mem_free_ts(w);
    void *z2 = mem_malloc_ts(9100);
    CHECK(z2 == z); // the 9216 bin is empty again
    void *v = mem_malloc_ts(9100);
    CHECK(v == w); // borrowed from the 9728 bin
    memset(v, 2, 9100); // all of it is the program's
    mem_free_ts(v);
    mem_free_ts(z2);
    mem_free_ts(x2);
    mem_free_ts(x3);
    mem_free_ts(y2);
    return NULL;
}

static void test_medium_neighbour_classes(void)
{
    run_thread(medium_neighbours_thread, NULL);
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_stats(void)
{
    mem_reset();
    mem_stats_t s0 = mem_get_stats();
    CHECK_EQ(s0.num_allocations, 0);
    CHECK_EQ(s0.total_allocated, 0);
    size_t live0 = s0.current_usage;
    // The direct mem_* path keeps the peak exact at every call.
    void *a = mem_malloc(100), *b = mem_malloc(250), *c = mem_calloc(3, 10);
    mem_stats_t s1 = mem_get_stats();
    CHECK_EQ(s1.num_allocations, 3);
    CHECK_EQ(s1.total_allocated, 380);
    CHECK_EQ(s1.current_usage, live0 + 380);
    CHECK(s1.peak_usage >= s1.current_usage);
    mem_free(b);
    a = mem_realloc(a, 500); // one free (100) and one allocation (500)
    mem_stats_t s2 = mem_get_stats();
    CHECK_EQ(s2.num_frees, 2);
    CHECK_EQ(s2.num_allocations, 4);
    CHECK_EQ(s2.total_freed, 350);
    CHECK_EQ(s2.current_usage, live0 + 530);
    // a could not grow in place (c is in the way), so it moved: the new
    // block was live before the old one was freed.
    CHECK_EQ(s2.peak_usage, live0 + 630);
    mem_free(a);
    mem_free(c);
    mem_stats_t s3 = mem_get_stats();
    CHECK_EQ(s3.current_usage, live0);
    CHECK_EQ(s3.total_allocated - s3.total_freed, s3.current_usage - live0);
    CHECK(s3.heap_size >= 64 * 1024);
    CHECK(s3.num_heaps >= 1);

    // Through the thread cache the peak is published lazily: a
    // snapshot still sees it at least at the current usage and never above
    // what was ever allocated.
    mem_reset();
    size_t base = mem_get_stats().current_usage;
    void *v[64];
    for (int i = 0; i < 64; i++)
        v[i] = mem_malloc_ts(100);
    mem_stats_t t1 = mem_get_stats();
    CHECK_EQ(t1.current_usage, base + 64 * 112); // slots count their class size
    CHECK(t1.peak_usage >= t1.current_usage);
    CHECK(t1.peak_usage <= base + t1.total_allocated);
    for (int i = 0; i < 64; i++)
        mem_free_ts(v[i]);
    mem_stats_t t2 = mem_get_stats();
    CHECK_EQ(t2.current_usage, base);
    CHECK(t2.peak_usage >= base + 64 * 112);
    CHECK_EQ(t2.num_allocations, 64);
    CHECK_EQ(t2.num_frees, 64);
}

// The report's slot_* rows split the slab slots by state.  A child prints
// the report, allocates 1000 slots of 112 bytes (100-byte requests)
// through the thread cache, prints it, frees them, and prints it again.
enum { BY_STATE_BLOCKS = 1000, BY_STATE_SLOT = 112 };

static void print_reports_around_slots(void)
{
    static void *v[BY_STATE_BLOCKS];
    mem_print_stats();
    for (int i = 0; i < BY_STATE_BLOCKS; i++)
        v[i] = mem_malloc_ts(100);
    mem_print_stats();
    for (int i = 0; i < BY_STATE_BLOCKS; i++)
        mem_free_ts(v[i]);
    mem_print_stats();
}

typedef struct {
    size_t live, cached, remote, free, unused, slots; // slots: every slab's, in bytes
} by_state_t;

// Reads the n-th report (from 0) of the text in buf.
static by_state_t parse_by_state(const char *buf, int n)
{
    const char *r = buf;
    for (int i = 0; i <= n; i++) {
        r = strstr(i ? r + 1 : r, "liballocator statistics");
        REQUIRE(r != NULL);
    }
    const char *end = strstr(r + 1, "liballocator statistics");
    by_state_t b = {0};
    size_t *field[] = {&b.live, &b.cached, &b.remote, &b.free, &b.unused};
    const char *name[] = {"slot_live_bytes", "slot_cached_bytes", "slot_remote_bytes",
                          "slot_free_bytes", "slot_unused_bytes"};
    for (int i = 0; i < 5; i++) {
        const char *f = strstr(r, name[i]);
        REQUIRE(f != NULL && (end == NULL || f < end));
        REQUIRE(sscanf(f + strlen(name[i]), "%zu", field[i]) == 1);
    }
    for (const char *l = strstr(r, "slab class"); l != NULL && (end == NULL || l < end);
         l = strstr(l + 1, "slab class")) {
        unsigned size;
        size_t slabs, used, slots;
        REQUIRE(sscanf(l, "slab class %u B: %zu slabs %zu of %zu", &size, &slabs, &used, &slots) ==
                4);
        b.slots += slots * size;
    }
    return b;
}

static void test_report_bytes_by_state(void)
{
    static char buf[64 * 1024];
    int status = run_child(print_reports_around_slots, buf, sizeof buf);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    by_state_t b[3];
    for (int i = 0; i < 3; i++) {
        b[i] = parse_by_state(buf, i);
        // The states split every slab's slots, no slot in two.
        CHECK_EQ(b[i].live + b[i].cached + b[i].remote + b[i].free + b[i].unused, b[i].slots);
        CHECK_EQ(b[i].remote, 0); // one thread: nothing freed from another
    }
    CHECK_EQ(b[1].live - b[0].live, (size_t)BY_STATE_BLOCKS * BY_STATE_SLOT);
    CHECK_EQ(b[2].live, b[0].live);
    // The bin keeps the last slots freed (and its refill's spares before).
    CHECK(b[2].cached >= BY_STATE_SLOT);
}

// Blocks grown in place by realloc (mem_realloc_ts: the exported
// family's path) take no other slow path, and their growth must still
// reach the peak (it lags by at most LA_TC_PUBLISH_BYTES per thread): 64
// blocks grown round-robin to 64 KiB reported a peak of a few hundred KiB
// before the resize path paced its publishing.
static void test_peak_of_resizes(void)
{
    enum { N = 64, GOAL = 64 * 1024 };
    mem_reset();
    size_t base = mem_get_stats().current_usage;
    char *b[N] = {0};
    size_t len[N] = {0};
    for (size_t step = 1; len[N - 1] < GOAL; step = step % 61 + 1)
        for (int i = 0; i < N; i++) {
            b[i] = mem_realloc_ts(b[i], len[i] + step);
            REQUIRE(b[i] != NULL);
            len[i] += step;
        }
    size_t live = 0;
    for (int i = 0; i < N; i++) {
        live += len[i];
        mem_free_ts(b[i]);
    }
    mem_stats_t s = mem_get_stats();
    CHECK(s.peak_usage + LA_TC_PUBLISH_BYTES >= base + live);
}

int main(void)
{
    test_basic();
    test_edge_cases();
    test_calloc();
    test_realloc();
    test_peak_of_resizes();
    test_large_blocks();
    test_medium_sizes_are_cached();
    test_medium_neighbour_classes();
    test_peak_of_big_blocks_with_threads();
    test_stats();
    test_report_bytes_by_state();
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_api");
}
