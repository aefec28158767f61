// SPDX-License-Identifier: MIT
/*
 * glibc_shim: forces glibc's malloc in a program linked against another
 * allocator.  Debian's redis-server links libjemalloc, so running it with
 * no LD_PRELOAD measures jemalloc, not glibc; bench/run.py preloads this
 * shim for the "glibc" column of such programs instead.  Every malloc
 * family name jemalloc exports is defined here, so no block can come from
 * one allocator and go back to the other.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

// glibc's own entry points: exported, and never interposed by the shim.
extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t nmemb, size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);

SHIM_EXPORT void *malloc(size_t n);
SHIM_EXPORT void free(void *p);
SHIM_EXPORT void *calloc(size_t nmemb, size_t n);
SHIM_EXPORT void *realloc(void *p, size_t n);
SHIM_EXPORT void *memalign(size_t align, size_t n);
SHIM_EXPORT void *aligned_alloc(size_t align, size_t n);
SHIM_EXPORT int posix_memalign(void **out, size_t align, size_t n);
SHIM_EXPORT void *valloc(size_t n);
SHIM_EXPORT void *pvalloc(size_t n);
SHIM_EXPORT size_t malloc_usable_size(void *p);

void *malloc(size_t n) { return __libc_malloc(n); }
void free(void *p) { __libc_free(p); }
void *calloc(size_t nmemb, size_t n) { return __libc_calloc(nmemb, n); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void *memalign(size_t align, size_t n) { return __libc_memalign(align, n); }
void *aligned_alloc(size_t align, size_t n) { return __libc_memalign(align, n); }
void *valloc(size_t n) { return __libc_valloc(n); }
void *pvalloc(size_t n) { return __libc_pvalloc(n); }

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = __libc_memalign(align, n);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

// glibc has no __libc_ alias for malloc_usable_size, and RTLD_NEXT would
// find the linked allocator's copy first: ask libc.so.6 by handle.
static size_t (*libc_usable_size)(void *);

size_t malloc_usable_size(void *p)
{
    if (libc_usable_size == NULL) {
        void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        if (h != NULL)
            libc_usable_size = (size_t (*)(void *))(uintptr_t)dlsym(h, "malloc_usable_size");
        if (libc_usable_size == NULL)
            return 0;
    }
    return libc_usable_size(p);
}
