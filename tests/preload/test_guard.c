// SPDX-License-Identifier: MIT
/*
 * test_guard.c: sampled guard pages (issue 15), run with
 * ALLOCATOR_GUARD_SAMPLE=1 so that every allocation of the exported family
 * gets its own pages (while the pool has slots).  Each misuse runs in a
 * forked child that must die of SIGABRT after one report naming it: an
 * overflow by 1, 8 and 32 bytes (reaching the guard page, or only the
 * alignment slack, found at free), an underflow, a use after free (read
 * and write), a double free.  Then the program's own SIGSEGV handler:
 *   (default)  installed in main, after the allocator's: its own faults
 *              reach it, and so do faults on guard pages (the JVM case)
 *   early      installed by a library constructor that ran before the
 *              allocator's (tests/preload/guard_early_lib.c, preloaded
 *              first): its faults are chained to it, guard faults are
 *              still named
 * An alarm turns a hang into a failure.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "../testhelper.h"

#define PAGE ((uintptr_t)sysconf(_SC_PAGESIZE))

static char *volatile sink;
static char expect[4][160];

// A guarded block of `size` bytes placed against the guard page after it
// (right) or before it (left).  Placements alternate, so a few tries find
// one; the others stay allocated.
static char *guarded(size_t size, bool right)
{
    for (int i = 0; i < 8; i++) {
        char *p = malloc(size);
        REQUIRE(p != NULL);
        uintptr_t a = (uintptr_t)p;
        bool is_right = (a + size + 15) / 16 * 16 % PAGE == 0;
        bool is_left = a % PAGE == 0;
        if (right ? is_right : is_left) {
            // Hidden from the compiler, which knows malloc's size and
            // would warn (-Warray-bounds) at the accesses out of bounds
            // that the cases make on purpose.
            __asm__("" : "+r"(p));
            return p;
        }
    }
    REQUIRE(!"a guarded block (is ALLOCATOR_GUARD_SAMPLE=1 set?)");
    return NULL;
}

// The child's case; the parent checks the report for expect[].
static size_t over_by;
static size_t block_size;

static void overflow_case(void)
{
    alarm(20); // children do not inherit main's: a lost fault must not hang
    char *p = guarded(block_size, true);
    volatile char *v = p;
    v[block_size + over_by - 1] = 1;
    free(p); // the slack case is found here
}

static void overflow_left_case(void)
{
    alarm(20);
    char *p = guarded(block_size, false);
    volatile char *v = p;
    v[block_size + over_by - 1] = 1;
    free(p);
}

static void underflow_case(void)
{
    alarm(20);
    char *p = guarded(64, false);
    volatile char *v = p;
    v[-1] = 1;
}

static void underflow_read_case(void)
{
    alarm(20);
    char *p = guarded(64, false);
    volatile char *v = p;
    sink = (char *)(uintptr_t)v[-16];
}

static char *uaf_block;

static void uaf_write_case(void)
{
    alarm(20);
    volatile char *v = uaf_block;
    free(uaf_block);
    v[10] = 1;
}

static void uaf_read_case(void)
{
    alarm(20);
    volatile char *v = uaf_block;
    free(uaf_block);
    sink = (char *)(uintptr_t)v[20];
}

static void double_free_case(void)
{
    alarm(20);
    free(uaf_block);
    free(uaf_block);
}

static void realloc_freed_case(void)
{
    alarm(20);
    free(uaf_block);
    sink = realloc(uaf_block, 10);
}

// Runs fn in a child: it must abort, and its report must hold every
// non-empty expect[] line and name the allocation stack.
static void expect_abort(const char *name, void (*fn)(void))
{
    char out[8192];
    int status = run_child(fn, out, sizeof out);
    bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    for (int k = 0; k < 4; k++)
        ok &= expect[k][0] == '\0' || strstr(out, expect[k]) != NULL;
    ok &= strstr(out, "allocated at 0x") != NULL;
    if (!ok)
        fprintf(stderr, "%s: status %#x, wanted SIGABRT and [%s] [%s] [%s] [%s]; stderr:\n%s\n",
                name, status, expect[0], expect[1], expect[2], expect[3], out);
    CHECK(ok);
    memset(expect, 0, sizeof expect);
}

static void misuse_cases(void)
{
    // Blocks whose size is a multiple of 16 end on the guard page: 1, 8
    // and 32 bytes past the end fault.  A 100-byte block ends 12 bytes
    // short of it: a byte past is found at its free.
    size_t sizes[] = {64, 64, 64, 4096, 100};
    size_t overs[] = {1, 8, 32, 1, 1};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        block_size = sizes[k];
        over_by = overs[k];
        snprintf(expect[0], sizeof expect[0], "heap buffer overflow: ");
        snprintf(expect[1], sizeof expect[1], " %zu %s past the end of 0x", over_by,
                 over_by == 1 ? "byte" : "bytes");
        if (block_size % 16 != 0)
            snprintf(expect[2], sizeof expect[2], "(found at its free)");
        else
            snprintf(expect[2], sizeof expect[2], "write %zu", over_by);
        expect_abort("overflow", overflow_case);
    }
    // Left-aligned: the rest of the page is fill, checked at free.
    block_size = 64;
    over_by = 8;
    snprintf(expect[0], sizeof expect[0], "heap buffer overflow: written 8 bytes past the end");
    snprintf(expect[1], sizeof expect[1], "free(): ");
    expect_abort("overflow of a left-aligned block", overflow_left_case);

    snprintf(expect[0], sizeof expect[0], "heap buffer underflow: write 1 byte before 0x");
    expect_abort("underflow", underflow_case);
    snprintf(expect[0], sizeof expect[0], "heap buffer underflow: read 16 bytes before 0x");
    expect_abort("underflow read", underflow_read_case);

    uaf_block = malloc(48);
    REQUIRE(uaf_block != NULL);
    snprintf(expect[0], sizeof expect[0], "use after free of %p: write of byte 10", uaf_block);
    snprintf(expect[1], sizeof expect[1], ", freed at 0x");
    expect_abort("use after free (write)", uaf_write_case);
    snprintf(expect[0], sizeof expect[0], "use after free of %p: read of byte 20", uaf_block);
    snprintf(expect[1], sizeof expect[1], ", freed at 0x");
    expect_abort("use after free (read)", uaf_read_case);
    snprintf(expect[0], sizeof expect[0], "free(): double free of %p", uaf_block);
    snprintf(expect[1], sizeof expect[1], "(a block of 48 bytes allocated at 0x");
    snprintf(expect[2], sizeof expect[2], ", freed at 0x");
    expect_abort("double free", double_free_case);
    snprintf(expect[0], sizeof expect[0], "realloc(): use after free of %p", uaf_block);
    expect_abort("realloc of a freed block", realloc_freed_case);
}

// Ordinary use of guarded blocks: every size class, calloc zeroes,
// realloc keeps the bytes, aligned allocation, usable size.
static void normal_use(void)
{
    for (size_t size = 0; size < 9000; size = size * 2 + 1) {
        char *p = malloc(size);
        REQUIRE(p != NULL);
        CHECK((uintptr_t)p % 16 == 0);
        CHECK(malloc_usable_size(p) >= size);
        memset(p, 0x5a, size);
        char *z = calloc(1, size);
        REQUIRE(z != NULL);
        for (size_t i = 0; i < size; i++)
            if (z[i] != 0) {
                CHECK(!"calloc gives zeros");
                break;
            }
        char *q = realloc(p, size + 100);
        REQUIRE(q != NULL);
        for (size_t i = 0; i < size; i++)
            if (q[i] != 0x5a) {
                CHECK(!"realloc keeps the bytes");
                break;
            }
        free(q);
        free(z);
    }
    void *a = NULL;
    CHECK(posix_memalign(&a, 256, 300) == 0 && (uintptr_t)a % 256 == 0);
    free(a);
    a = aligned_alloc(64, 640);
    CHECK(a != NULL && (uintptr_t)a % 64 == 0);
    free(a);
    // More blocks than the pool has slots: the rest come from the heaps.
    char *many[600];
    for (int i = 0; i < 600; i++) {
        many[i] = malloc(32 + i);
        REQUIRE(many[i] != NULL);
        memset(many[i], i, 32 + (size_t)i);
    }
    for (int i = 0; i < 600; i++)
        free(many[i]);
}

/* ---- the program's own SIGSEGV handler ---------------------------------- */

static volatile sig_atomic_t own_faults;
static void *volatile own_page;

static void own_handler(int signo, siginfo_t *info, void *uctx)
{
    (void)signo;
    (void)uctx;
    // Its own page: make it accessible and go on, as a JVM does with
    // the pages it uses for safepoints and null checks.
    if (info->si_addr == own_page) {
        own_faults++;
        mprotect(own_page, PAGE, PROT_READ | PROT_WRITE);
        return;
    }
    _exit(43); // any other fault: the program's crash path
}

static void install_own(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = own_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(SIGSEGV, &sa, NULL) == 0);
}

// The program faults on its own page three times: its handler fixes each.
static void own_faults_reach_it(void)
{
    for (int i = 0; i < 3; i++) {
        own_page = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(own_page != MAP_FAILED);
        *(volatile char *)own_page = 1;
        munmap(own_page, PAGE);
    }
    CHECK_EQ(own_faults, 3);
}

static void guard_fault_to_program(void)
{
    alarm(20);
    char *p = guarded(64, true);
    ((volatile char *)p)[64] = 1;
}

// A fault outside the guard pool, in a program that installed no handler
// of its own, still kills it with SIGSEGV (the default action, chained
// to).  On a page of its own rather than through NULL, which UBSan builds
// catch before the load.
static void foreign_fault(void)
{
    alarm(20);
    char *page = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(page != MAP_FAILED);
    sink = (char *)(uintptr_t) * (volatile char *)page;
}

int main(int argc, char **argv)
{
    alarm(120);
    bool early = argc > 1 && strcmp(argv[1], "early") == 0;
    normal_use();
    if (!early) {
        // No handler but ours: a fault that is not ours is the default's.
        char out[4096];
        int status = run_child(foreign_fault, out, sizeof out);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
        CHECK(strstr(out, "liballocator") == NULL);
    }
    misuse_cases();
    if (early) {
        // guard_early_lib.c's handler went in first (it says so if no
        // handler was there before it): ours chains to it.
        int (*first)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "guard_early_was_first");
        int (*faults)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "guard_early_faults");
        REQUIRE(first != NULL && faults != NULL);
        CHECK(first());
        int before = faults();
        for (int i = 0; i < 3; i++) {
            char *page = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            REQUIRE(page != MAP_FAILED);
            *(volatile char *)page = 1; // the early handler opens the page
            munmap(page, PAGE);
        }
        CHECK_EQ(faults() - before, 3);
    } else {
        // Installed after ours, the program's handler gets every fault:
        // its own, and those on guard pages (which it treats as its
        // crashes; docs/DEBUGGING.md, "Guard pages").
        install_own();
        own_faults_reach_it();
        char out[4096];
        int status = run_child(guard_fault_to_program, out, sizeof out);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 43);
    }
    return test_report(early ? "test_guard early" : "test_guard");
}
