// SPDX-License-Identifier: MIT
/*
 * A stand-in for lwIP: a library with its own mem_malloc, mem_free,
 * mem_calloc and mem_trim (lwIP's mem.c has these names, and its mem_trim
 * shrinks a block: another signature than ours).  It hands out pieces of
 * a static pool and counts its calls, so that the program can tell
 * whether its calls reached this library or a preloaded allocator's
 * functions of the same names.  See tests/preload/malloc_only.sh.
 */
#include <stddef.h>
#include <string.h>

#include "own_mem.h"

static _Alignas(16) char pool[4096];
static size_t pool_used;
int own_mem_calls;

int own_mem_owns(const void *p)
{
    return (const char *)p >= pool && (const char *)p < pool + sizeof(pool);
}

void *mem_malloc(size_t size)
{
    own_mem_calls++;
    size = (size + 15) & ~(size_t)15;
    if (size > sizeof(pool) - pool_used)
        return NULL;
    pool_used += size;
    return pool + pool_used - size;
}

void mem_free(void *mem)
{
    own_mem_calls++;
    (void)mem; // a bump allocator: nothing to give back
}

// Counted once, through mem_malloc.
void *mem_calloc(size_t count, size_t size)
{
    void *p = mem_malloc(count * size);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

void *mem_trim(void *mem, size_t size)
{
    own_mem_calls++;
    (void)size;
    return mem;
}
