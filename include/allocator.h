// SPDX-License-Identifier: MIT
/*
 * liballocator: public API.
 *
 * mem_* functions take no lock and are meant for single-threaded programs;
 * mem_*_ts functions may be called from any thread.  Both work on the same
 * heaps, so a block from one family may be freed with the other (from the
 * one thread that owns the un-suffixed calls).  Sizes, errno and NULL
 * handling follow glibc's malloc family.  Linking liballocator.so (or
 * preloading it) also replaces malloc, free and their companions.
 */
#ifndef ALLOCATOR_H
#define ALLOCATOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MEM_API __attribute__((visibility("default")))
#define MEM_MALLOC_LIKE __attribute__((malloc, warn_unused_result))
#else
#define MEM_API
#define MEM_MALLOC_LIKE
#endif

/* Version of the statistics layout; printed in the JSON statistics too. */
#define MEM_STATS_VERSION 2

/*
 * Process-wide statistics.  Byte counts are of requested sizes; heap_size and
 * mmap_bytes are what the allocator holds from the kernel right now.
 * Fields are only ever appended (MEM_STATS_VERSION 2 added heap_resident_bytes).
 */
typedef struct {
    size_t total_allocated;   /* bytes requested over all allocations     */
    size_t total_freed;       /* bytes requested by the blocks since freed */
    size_t current_usage;     /* live bytes: requested and not yet freed   */
    size_t peak_usage;        /* highest current_usage seen                */
    size_t num_allocations;   /* successful malloc/calloc/realloc moves    */
    size_t num_frees;         /* blocks freed                              */
    size_t num_splits;        /* free blocks split to serve a request      */
    size_t num_coalesces;     /* merges of a freed block with a neighbour  */
    size_t num_mmaps;         /* mmap calls for large blocks               */
    size_t num_munmaps;       /* munmap calls for large blocks             */
    size_t heap_size;         /* bytes of heap regions (brk and mmapped)   */
    size_t mmap_bytes;        /* bytes mapped for large blocks right now   */
    size_t num_heaps;         /* heaps created so far                      */
    size_t large_cached;      /* freed large mappings kept for reuse       */
    size_t large_cache_bytes; /* their bytes                               */
    size_t num_purges;        /* madvise, brk trims and unmaps of free memory */
    size_t released_bytes;    /* bytes given back by them: a running sum   */
    size_t num_large;         /* large blocks live now                     */
    size_t heap_resident_bytes; /* bytes of heap_size in RAM now (mincore) */
} mem_stats_t;

MEM_API MEM_MALLOC_LIKE void *mem_malloc(size_t size);
MEM_API void mem_free(void *ptr);
MEM_API MEM_MALLOC_LIKE void *mem_calloc(size_t nmemb, size_t size);
MEM_API void *mem_realloc(void *ptr, size_t size);

MEM_API MEM_MALLOC_LIKE void *mem_malloc_ts(size_t size);
MEM_API void mem_free_ts(void *ptr);
MEM_API MEM_MALLOC_LIKE void *mem_calloc_ts(size_t nmemb, size_t size);
MEM_API void *mem_realloc_ts(void *ptr, size_t size);

/* Aligned allocation (thread-safe).  alignment must be a power of two;
 * otherwise NULL with errno = EINVAL. */
MEM_API MEM_MALLOC_LIKE void *mem_aligned_alloc(size_t alignment, size_t size);
/* Bytes that may be written at ptr (at least the size requested). */
MEM_API size_t mem_usable_size(const void *ptr);

/* Statistics: a consistent snapshot, a human-readable report on stderr, and
 * a reset of the counters (not of the heap: live blocks stay valid, and
 * current_usage and heap_size keep describing them). */
MEM_API mem_stats_t mem_get_stats(void);
MEM_API void mem_print_stats(void);
MEM_API void mem_reset(void);

/* Give free memory back to the kernel now: inner pages of free heap
 * blocks, the free top of the brk heap, free mapped regions, the cache of
 * freed large mappings, the calling thread's cache (other threads empty
 * theirs at their next slow path).  Returns 1 if memory was released, 0 if
 * there was nothing to release.  pad is accepted for malloc_trim and
 * ignored.  malloc_trim() calls it. */
MEM_API int mem_trim(size_t pad);

/* Walk every heap and validate every block, free list and bitmap.
 * Returns 0 when consistent; otherwise reports the first problem on stderr
 * and returns nonzero.  Thread-safe. */
MEM_API int mem_check_heap(void);

/* Heap profiler (ALLOCATOR_PROF, docs/PROFILING.md): write the live
 * sampled allocations by call stack, and the process's mappings, to path
 * (NULL: ALLOCATOR_PROF_FILE, default liballocator.<pid>.prof).  Returns
 * 0, or -1 with errno ENOENT when the profiler is off and EIO when the
 * file cannot be written.  Thread-safe; does not allocate. */
MEM_API int mem_prof_dump(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* ALLOCATOR_H */
