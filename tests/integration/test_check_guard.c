// SPDX-License-Identifier: MIT
/*
 * Checking mode (ALLOCATOR_CHECK=1, set by ctest for this test), issue 15:
 * every large (mapped) block ends at an inaccessible guard page, so that a
 * read or write past its end faults at once and is named by the SIGSEGV
 * report ("heap buffer overflow past 0x... (a block of N bytes)"), for
 * fresh mappings, mappings reused from the cache (split around a new
 * guard page), blocks moved by realloc and over-aligned blocks; faults
 * elsewhere still kill the process with SIGSEGV; guard pages go with
 * their mappings (no mapping left behind after many cycles); and a write
 * after free into a block still in the quarantine at exit is named.  And
 * malloc(SIZE_MAX) fails with ENOMEM (it crashed in checking mode).
 * Misuse cases run in forked children that must abort with the report.
 */
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdint.h>

#include "allocator.h"
#include "../testhelper.h"

#define LARGE (256 * 1024)

static unsigned char *victim;
static size_t victim_bytes;

static void write_past(void) { victim[victim_bytes] = 'x'; }

static void read_past(void)
{
    volatile unsigned char *p = victim;
    volatile unsigned char sink = p[victim_bytes + 100];
    (void)sink;
}

// A write to a page of the test's own, made inaccessible: not one of the
// allocator's guard pages.  (A write through NULL would do as well, but
// the UBSan build stops it first, by abort.)
static void wild_write(void)
{
    volatile int *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if ((void *)page == MAP_FAILED)
        _exit(3);
    *page = 1;
}

static void write_after_free_exit(void)
{
    unsigned char *p = mem_malloc(200);
    mem_free(p);
    __asm__ volatile("" : "+r"(p));
    p[50] = 'w';
    exit(0); // destructors run: the quarantine is checked
}


// victim = p of n bytes; its next byte must fault with a report naming it.
static int overflow_named(unsigned char *p, size_t n)
{
    char want[96];
    victim = p;
    victim_bytes = n;
    snprintf(want, sizeof want, "(a block of %zu bytes): write 1 byte past its end", n);
    return aborted_with(write_past, "heap buffer overflow past", want);
}

static size_t mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return 0;
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

int main(void)
{
    // A request near SIZE_MAX fails as in the default mode: the size of
    // the checked slot it would need wrapped, and it got a small one.
    errno = 0;
    CHECK(mem_malloc_ts(SIZE_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(mem_malloc_ts(SIZE_MAX - 20) == NULL && errno == ENOMEM);

    // A fresh mapping: the block ends at the guard page.
    unsigned char *p = mem_malloc(LARGE);
    REQUIRE(p != NULL);
    CHECK(overflow_named(p, LARGE));
    victim = p;
    victim_bytes = LARGE;
    CHECK(aborted_with(read_past, "heap buffer overflow past", "read 101 bytes past its end"));
    // Not a multiple of 16: the slack's canary is checked at free, the
    // guard page is right after it.
    mem_free(p);
    p = mem_malloc(LARGE + 5);
    REQUIRE(p != NULL);
    victim = p;
    victim_bytes = LARGE + 5 + 11;
    CHECK(aborted_with(write_past, "heap buffer overflow past", "write 12 bytes past its end"));
    mem_free(p);

    // From the cache: a 1 MiB mapping, freed (too big for the quarantine),
    // serves a smaller block and keeps its tail for a later one; both
    // parts end at a guard page.
    unsigned char *big = mem_malloc(1024 * 1024);
    REQUIRE(big != NULL);
    mem_free(big);
    unsigned char *head = mem_malloc(300000);
    REQUIRE(head != NULL);
    CHECK(head >= big - 4096 && head < big + 1024 * 1024); // reused, not a new mapping
    unsigned char *tail = mem_malloc(600000);
    REQUIRE(tail != NULL);
    CHECK(tail > head && tail < big + 1024 * 1024);
    CHECK(overflow_named(head, 300000));
    CHECK(overflow_named(tail, 600000));
    mem_free(head);
    mem_free(tail);

    // realloc moves a large block (its mapping is not resized): the new
    // one ends at a guard page and holds the old bytes.
    p = mem_malloc(200000);
    REQUIRE(p != NULL);
    memset(p, 'r', 200000);
    p = mem_realloc(p, 500000);
    REQUIRE(p != NULL);
    CHECK(p[0] == 'r' && p[199999] == 'r');
    CHECK(overflow_named(p, 500000));
    p = mem_realloc(p, 300000);
    REQUIRE(p != NULL);
    CHECK(p[0] == 'r' && p[199999] == 'r');
    CHECK(overflow_named(p, 300000));
    mem_free(p);

    // Over-aligned: against the guard page too when the size allows.
    p = mem_aligned_alloc(4096, LARGE);
    REQUIRE(p != NULL);
    CHECK((uintptr_t)p % 4096 == 0);
    CHECK(overflow_named(p, LARGE));
    mem_free(p);

    // A fault that is not on a guard page goes on to the default action.
    char err[512];
    int status = run_child(wild_write, err, sizeof err);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);

    // Guard pages are unmapped with their mappings, cached or not: what
    // stays is at most the tombstone pages of freed blocks (64), the
    // cached mappings and their guard pages (2 x 16) and a few more; a
    // guard page left behind per block would be thousands.
    size_t before = mappings();
    uint64_t rng = 15;
    for (int i = 0; i < 3000; i++) {
        size_t n = 130000 + rng_next(&rng) % 1500000;
        void *q = mem_malloc(n);
        REQUIRE(q != NULL);
        if (i % 3 == 0)
            q = mem_realloc(q, n / 2 + 140000);
        REQUIRE(q != NULL);
        mem_free(q);
    }
    size_t after = mappings();
    CHECK(after < before + 128);
    if (after >= before + 128)
        fprintf(stderr, "mappings: %zu before, %zu after\n", before, after);

    // The quarantine is verified at exit.
    CHECK(aborted_with(write_after_free_exit, "exit(): write after free of",
                       "byte 50 of the block"));
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_check_guard");
}
