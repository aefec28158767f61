// SPDX-License-Identifier: MIT
/*
 * Deliberate memory errors for memcheck to find in a program whose
 * allocator is liballocator (preloaded, or linked statically for the mem_*
 * API): a leak, a write past a block, a read after free, a branch on
 * uninitialised memory, and a clean run.  tests/valgrind/run.sh runs each
 * case under valgrind and checks that the report names the line marked
 * "vg:CASE".
 * Usage: vg_cases leak|overflow|use-after-free|uninit|clean
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VG_MEM_API
#include "allocator.h"
#define ALLOC mem_malloc
#define FREE mem_free
#else
#define ALLOC malloc
#define FREE free
#endif

// Out of line, so that the compiler cannot see through the errors.
__attribute__((noinline)) static char *make_block(size_t n) { return ALLOC(n); }

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "clean";
    char *p = make_block(40); // vg:leak (the allocation memcheck names)
    if (strcmp(what, "leak") == 0) {
        p = NULL;
    } else if (strcmp(what, "overflow") == 0) {
        ((volatile char *)p)[40] = 1; // vg:overflow
        FREE(p);
    } else if (strcmp(what, "use-after-free") == 0) {
        FREE(p);
        volatile char c = ((volatile char *)p)[3]; // vg:use-after-free
        (void)c;
    } else if (strcmp(what, "uninit") == 0) {
        if (p[5] == 'x') // vg:uninit
            puts("x");
        FREE(p);
    } else {
        memset(p, 0, 40);
        char *q = make_block(100000); // large too
        memset(q, 1, 100000);
        FREE(q);
        FREE(p);
    }
    return 0;
}
