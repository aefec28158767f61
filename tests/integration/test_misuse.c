// SPDX-License-Identifier: MIT
/*
 * Misuse is reported and aborts: each case runs in a forked child whose
 * stderr is captured.  The child must die of SIGABRT after one line naming
 * the function, the address and what was wrong; the parent's heap is
 * untouched and checked at the end.
 */
#include <signal.h>

#include "allocator.h"
#include "../testhelper.h"

static char expect_addr[32];

// Tells the parent (through the captured stderr) which address the report
// must name, before the misuse happens.
static void announce(void)
{
    char line[64];
    int n = snprintf(line, sizeof line, "expect %s\n", expect_addr);
    (void)!write(2, line, (size_t)n);
}

static void double_free(void)
{
    char *p = mem_malloc(40);
    char *guard = mem_malloc(40); // keeps p from merging with the wilderness
    (void)guard;
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)p);
    announce();
    mem_free(p);
    mem_free(p);
}

static void double_free_merged(void)
{
    char *a = mem_malloc(40), *b = mem_malloc(40), *guard = mem_malloc(40);
    (void)guard;
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)b);
    announce();
    mem_free(a);
    mem_free(b); // merges into a: b's header is no longer a block start
    mem_free(b);
}

static void free_stack_pointer(void)
{
    char local[64] __attribute__((aligned(16)));
    memset(local, 0, sizeof local);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)(local + 32));
    announce();
    mem_free(local + 32);
}

static void free_middle_of_block(void)
{
    char *p = mem_malloc(256);
    memset(p, 0, 256);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)(p + 64));
    announce();
    mem_free(p + 64);
}

static void free_misaligned(void)
{
    char *p = mem_malloc(64);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)(p + 3));
    announce();
    mem_free(p + 3);
}

static void realloc_freed(void)
{
    char *p = mem_malloc(100);
    char *guard = mem_malloc(10);
    (void)guard;
    mem_free(p);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)p);
    announce();
    (void)!mem_realloc(p, 200);
}

static void corrupted_header(void)
{
    char *p = mem_malloc(100);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)p);
    announce();
    // An underflow wrote over the header (volatile stores: the compiler
    // may drop ordinary ones before the start of an allocation).
    for (int i = 1; i <= 16; i++)
        ((volatile char *)p)[-i] = 0x41;
    mem_free(p);
}

static void double_free_cached(void)
{
    char *p = mem_malloc_ts(40);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)p);
    announce();
    mem_free_ts(p); // into the thread cache
    mem_free_ts(p);
}

static void realloc_cached(void)
{
    char *p = mem_malloc_ts(100);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)p);
    announce();
    mem_free_ts(p);
    (void)!mem_realloc_ts(p, 200);
}

// Slab slots (the _ts family up to 1 KiB): no header, so these are the
// slab's checks: the offset, the slots handed out, the bitmap and the tag.
static void free_middle_of_slot(void)
{
    char *p = mem_malloc_ts(100);
    memset(p, 0, 100);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)(p + 16));
    announce();
    mem_free_ts(p + 16);
}

static void realloc_middle_of_slot(void)
{
    char *p = mem_malloc_ts(24);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)(p + 8));
    announce();
    (void)!mem_realloc_ts(p + 8, 48);
}

static void free_slot_never_allocated(void)
{
    // 224-byte slots, 292 to a 64 KiB slab; p is its first (the class's
    // first allocation), a colour past the slab's start.
    char *p = mem_malloc_ts(200);
    char *last = p + 224 * 291;
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)last);
    announce();
    mem_free_ts(last);
}

static void double_free_slot_in_slab(void)
{
    // 3000 frees overflow the bin: the oldest go back to their slab.
    static char *p[3000];
    for (int i = 0; i < 3000; i++)
        p[i] = mem_malloc_ts(64);
    for (int i = 0; i < 3000; i++)
        mem_free_ts(p[i]);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)p[0]);
    announce();
    mem_free_ts(p[0]);
}

// malloc_usable_size reads no slot (tcache_usable_size): a freed slot's
// size is checking mode's to doubt (test_misuse_table), a pointer into
// the middle of one is named here.
static void usable_size_of_slot_middle(void)
{
    char *p = mem_malloc_ts(500);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)(p + 16));
    announce();
    (void)mem_usable_size(p + 16);
}

static void double_free_large_cached(void)
{
    char *p = mem_malloc(1 << 20); // its mapping waits in the cache after free
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)p);
    announce();
    mem_free(p);
    mem_free(p);
}

static void double_free_large_unmapped(void)
{
    char *p = mem_malloc(64 << 20); // too big for the cache: unmapped on free
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)p);
    announce();
    mem_free(p);
    mem_free(p);
}

static void free_middle_of_large(void)
{
    char *p = mem_malloc(1 << 20);
    memset(p, 0, 8192);
    snprintf(expect_addr, sizeof expect_addr, "%p", (void *)(p + 4096));
    announce();
    mem_free(p + 4096);
}

typedef struct {
    const char *name;
    void (*fn)(void);
    const char *func;
    const char *what;
} misuse_t;

static const misuse_t cases[] = {
    {"double free", double_free, "free()", "double free"},
    {"double free after merge", double_free_merged, "free()", "double free"},
    {"free of a stack pointer", free_stack_pointer, "free()", "invalid pointer"},
    {"free of the middle of a block", free_middle_of_block, "free()", "invalid pointer"},
    {"free of a misaligned pointer", free_misaligned, "free()", "invalid pointer"},
    {"realloc of a freed block", realloc_freed, "realloc()", "double free"},
    {"free with a corrupted header", corrupted_header, "free()", "invalid pointer"},
    {"double free through the thread cache", double_free_cached, "free()", "double free"},
    {"realloc of a block in the thread cache", realloc_cached, "realloc()", "double free"},
    {"double free of a large block (mapping cached)", double_free_large_cached, "free()",
     "double free"},
    {"double free of a large block (unmapped)", double_free_large_unmapped, "free()",
     "double free"},
    {"free of the middle of a large block", free_middle_of_large, "free()", "invalid pointer"},
    {"free of the middle of a slab slot", free_middle_of_slot, "free()", "invalid pointer"},
    {"realloc of the middle of a slab slot", realloc_middle_of_slot, "realloc()",
     "invalid pointer"},
    {"free of a slot never allocated", free_slot_never_allocated, "free()", "never allocated"},
    {"double free of a slot back in its slab", double_free_slot_in_slab, "free()",
     "double free"},
    {"malloc_usable_size of the middle of a slab slot", usable_size_of_slot_middle,
     "malloc_usable_size()", "invalid pointer"},
};

int main(void)
{
    char *keep = mem_malloc(1000);
    memset(keep, 0x77, 1000);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024];
        int status = run_child(cases[i].fn, err, sizeof err);
        int aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
        if (!aborted)
            fprintf(stderr, "case '%s': child did not abort (status %d)\n", cases[i].name, status);
        CHECK(aborted);
        char addr[40] = "";
        sscanf(err, "expect %39s", addr);
        const char *report = strstr(err, "liballocator: ");
        if (report == NULL || strstr(report, cases[i].func) == NULL ||
            strstr(report, cases[i].what) == NULL || addr[0] == '\0' ||
            strstr(report, addr) == NULL || strchr(report, '\n') != strrchr(report, '\n')) {
            fprintf(stderr, "case '%s': unexpected report: %s\n", cases[i].name, err);
            CHECK(!"report names function, address and problem");
        }
    }
    // Nothing in this process was damaged by the children.
    for (int i = 0; i < 1000; i++)
        CHECK(((unsigned char *)keep)[i] == 0x77);
    mem_free(keep);
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_misuse");
}
