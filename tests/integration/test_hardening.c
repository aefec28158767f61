// SPDX-License-Identifier: MIT
/*
 * A write after free into a block's first word must never make malloc
 * return a pointer the program chose (issue 15).  Each case, in a forked
 * child, frees a block, stores the address of a static buffer into its
 * first word (the use-after-free write), then allocates the same size
 * again until the allocator would have followed the link: the child must
 * die of SIGABRT after one report, "free list corrupted" at the freed
 * block's address, and never hand out the static buffer.  Covered: slots
 * of several classes in a thread cache, medium blocks in a thread cache,
 * headed blocks on the heap's free lists and in its tree of big free
 * blocks (the un-suffixed mem_* path),
 * and slots and medium blocks on a heap's remote list after another
 * thread freed them.  ctest sets ALLOCATOR_HEAPS=4, so that a second
 * thread is bound to another heap than the main thread's.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "allocator.h"
#include "internal.h"
#include "sizeclass.h"
#include "../testhelper.h"

// What a program would plant: a buffer that is not the allocator's.
static char planted[4096] __attribute__((aligned(64)));

// The use after free: the first word of the freed block now points at
// `planted` (volatile: the compiler may not drop a store to freed memory).
// Announced first on stderr: the report must name this address.
static void write_after_free(void *p)
{
    char line[64];
    int n = snprintf(line, sizeof line, "expect %p\n", p);
    (void)!write(2, line, (size_t)n);
    *(void *volatile *)p = planted;
}

// A block from the allocator must never be `planted`: if it is, the child
// says so and exits 3 instead of aborting.
static void must_not_be_planted(const void *got)
{
    if ((const char *)got >= planted && (const char *)got < planted + sizeof planted) {
        static const char msg[] = "malloc returned the planted buffer\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(3);
    }
}

/* ---- cases --------------------------------------------------------------- */

static size_t case_size;

// A block of case_size through the thread cache: warmed up so that its bin
// takes the free, then freed, written, and asked for twice.
static void cached(void)
{
    for (int i = 0; i < 4; i++)
        mem_free_ts(mem_malloc_ts(case_size));
    void *p = mem_malloc_ts(case_size);
    mem_free_ts(p);
    write_after_free(p);
    must_not_be_planted(mem_malloc_ts(case_size));
    must_not_be_planted(mem_malloc_ts(case_size));
}

// A headed block on heap 0's free list (mem_malloc: no cache, no slab),
// between two live blocks so that it merges with neither.
static void heap_list(void)
{
    void *left = mem_malloc(case_size);
    void *p = mem_malloc(case_size);
    void *right = mem_malloc(case_size);
    mem_free(p);
    write_after_free(p);
    must_not_be_planted(mem_malloc(case_size));
    must_not_be_planted(mem_malloc(case_size));
    mem_free(left);
    mem_free(right);
}

// Blocks of case_size that the main thread allocated and another thread
// freed: when that thread exits, its cache hands them back to the main
// thread's heap on its remote list.
#define REMOTE_BLOCKS 64
static void *remote_blocks[REMOTE_BLOCKS];

static void *free_them(void *arg)
{
    (void)arg;
    // Medium bins start with no room and grow when they swing between
    // empty and full: this thread's grows, so that it takes the frees.
    for (int round = 0; round < 8; round++) {
        void *own[16];
        for (int i = 0; i < 16; i++)
            own[i] = mem_malloc_ts(case_size);
        for (int i = 0; i < 16; i++)
            mem_free_ts(own[i]);
    }
    for (int i = 0; i < REMOTE_BLOCKS; i++)
        mem_free_ts(remote_blocks[i]);
    return NULL;
}

static void remote(void)
{
    for (int i = 0; i < REMOTE_BLOCKS; i++)
        REQUIRE((remote_blocks[i] = mem_malloc_ts(case_size)) != NULL);
    run_thread(free_them, NULL);
    la_heap_t *h = &la.heaps[0];
    // A slab remote list's word keeps its length above its head.
    void *head = case_size <= LA_SLAB_MAX_BYTES
                     ? (void *)(la_load_relaxed(&h->slab_remote[sizeclass_of(case_size)]) &
                                (((uintptr_t)1 << LA_SLAB_ADDR_BITS) - 1))
                     : la_load_relaxed(&h->remote);
    REQUIRE(head != NULL);
    write_after_free(head);
    // The main thread's bin runs dry within these, and its refill takes
    // the remote list.
    for (int i = 0; i < 4 * REMOTE_BLOCKS + LA_TC_COUNT_MAX; i++)
        must_not_be_planted(mem_malloc_ts(case_size));
}

typedef struct {
    const char *name;
    void (*fn)(void);
    size_t size;
    const char *func; // the function the report must name
} case_t;

static const case_t cases[] = {
    {"slot of 16 bytes", cached, 16, "malloc()"},
    {"slot of 100 bytes", cached, 100, "malloc()"},
    {"slot of 512 bytes", cached, 512, "malloc()"},
    {"slot of 1024 bytes", cached, 1024, "malloc()"},
    {"slot of 2048 bytes", cached, 2048, "malloc()"},
    {"medium block of 3000 bytes", cached, 3000, "malloc()"},
    {"medium block of 20000 bytes", cached, 20000, "malloc()"},
    {"heap list block of 200 bytes", heap_list, 200, "malloc()"},
    {"heap list block of 4000 bytes", heap_list, 4000, "malloc()"},
    {"heap tree block of 20000 bytes", heap_list, 20000, "malloc()"},
    {"heap tree block of 100000 bytes", heap_list, 100000, "malloc()"},
    // The remote list may be drained by a decay pass (a free) before a
    // refill (a malloc) takes it: either names the corruption.
    {"remote slot of 100 bytes", remote, 100, "()"},
    {"remote medium block of 3000 bytes", remote, 3000, "()"},
};

static const case_t *current;

static void run_case(void)
{
    case_size = current->size;
    current->fn();
}

int main(void)
{
    mem_free_ts(mem_malloc_ts(1)); // the main thread's cache, on the brk heap
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        current = &cases[i];
        const char *want[] = {cases[i].func, "free list corrupted at ", "(a write after free?)",
                              NULL};
        check_misuse_report(cases[i].name, run_case, want);
    }
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_hardening");
}
