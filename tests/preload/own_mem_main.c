// SPDX-License-Identifier: MIT
/*
 * A program linked with a library that defines its own mem_* functions
 * (own_mem_lib.c), run with an allocator preloaded.  It calls them and
 * reports where the calls went:
 *   exit 0  its own mem_* functions served it, and malloc is liballocator's
 *   exit 1  a mem_* call went elsewhere (the preloaded allocator's names)
 *   exit 2  malloc is not liballocator's (the preload did not take)
 * See tests/preload/malloc_only.sh.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "own_mem.h"

int main(void)
{
    void *p = mem_malloc(100);
    void *q = mem_calloc(4, 8);
    void *r = p != NULL ? mem_trim(p, 50) : NULL;
    mem_free(q);
    if (!own_mem_owns(p) || !own_mem_owns(q) || r != p || own_mem_calls != 4) {
        printf("mem_* calls went elsewhere: mem_malloc %p, mem_calloc %p, mem_trim %p, "
               "%d of 4 calls reached the library's own functions\n", p, q, r, own_mem_calls);
        return 1;
    }
    Dl_info info;
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    if (m == NULL || dladdr(m, &info) == 0 || info.dli_fname == NULL ||
        strstr(info.dli_fname, "liballocator") == NULL) {
        printf("malloc is not liballocator's (%s)\n", m != NULL && dladdr(m, &info) ?
               info.dli_fname : "unknown");
        return 2;
    }
    void *b = malloc(64);
    free(b);
    printf("mem_* from the program's own library; malloc from %s\n", info.dli_fname);
    return 0;
}
