// SPDX-License-Identifier: MIT
/*
 * interpose.c: the glibc malloc family, exported by liballocator.so so that
 * LD_PRELOAD (or linking -lallocator) replaces malloc in the whole process.
 * Every function forwards to the core's thread-safe entry points (la_*,
 * hidden, so no PLT hop) and keeps glibc's documented semantics: errno
 * values, alignment rules, realloc(p, 0), malloc(0), usable sizes.
 *
 * Nothing here looks up "the real malloc": we are the malloc.  The
 * __libc_* names are exported too, so that the rare caller of glibc's
 * internal names does not mix two allocators.  Three libc functions are
 * interposed besides the malloc family, for the allocator's fork handlers
 * (fork.c): __register_atfork, so that they are registered before anyone
 * else's, and pthread_create and thrd_create, so that they are registered
 * when the process is about to have a second thread, not before.
 * C++'s plain operators new and delete are exported too (below).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <threads.h>

#include "tcache.h"

#define LA_EXPORT __attribute__((visibility("default")))

// Names glibc exports but no public header declares any more.
LA_EXPORT void cfree(void *ptr);
LA_EXPORT void *__libc_malloc(size_t size);
LA_EXPORT void __libc_free(void *ptr);
LA_EXPORT void *__libc_calloc(size_t nmemb, size_t size);
LA_EXPORT void *__libc_realloc(void *ptr, size_t size);
LA_EXPORT void *__libc_memalign(size_t alignment, size_t size);
LA_EXPORT void *__libc_valloc(size_t size);
LA_EXPORT void *__libc_pvalloc(size_t size);
LA_EXPORT int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                                void *dso_handle);

/* ---- the core family ---------------------------------------------------- */

// With the heap profiler (ALLOCATOR_PROF) or the guard sampler
// (ALLOCATOR_GUARD_SAMPLE) on, every allocating entry point goes through
// prof_* (prof.c), which is told where the program called from.  Both
// off, that costs one compare with memory and one predictable branch per
// allocation; frees are not hooked (a sampled block fails the free fast
// path's check by itself, a guarded one is not in the slab map).
#define LA_PROFILING profiling()
#define LA_CALLER __builtin_return_address(0)

// gcc 12 loads the flag, tests it and branches (three instructions); one
// compare with memory and the branch are two (callgrind: 45 instructions
// per malloc+free pair instead of 46; 43 without the check).
static inline __attribute__((always_inline)) bool profiling(void)
{
#if defined(__x86_64__)
    __asm__ goto("cmpl $0, %0\n\tjne %l1" : : "m"(la.sampling) : "cc" : on);
    return false;
on:
    return true;
#else
    return LA_UNLIKELY(la_load_relaxed(&la.sampling));
#endif
}

// The allocating helpers take the caller of the exported function.
static inline __attribute__((always_inline)) void *alloc(size_t size, void *caller)
{
    return LA_PROFILING ? prof_malloc(size, caller) : la_malloc(size);
}
static inline __attribute__((always_inline)) void *aligned(size_t align, size_t size,
                                                           void *caller)
{
    return LA_PROFILING ? prof_aligned(align, size, caller) : la_aligned(align, size);
}
static inline __attribute__((always_inline)) void *resize(void *ptr, size_t size, void *caller)
{
    return LA_PROFILING ? prof_realloc(ptr, size, caller) : la_realloc(ptr, size);
}
static inline __attribute__((always_inline)) void *zeroed(size_t nmemb, size_t size,
                                                          void *caller)
{
    return LA_PROFILING ? prof_calloc(nmemb, size, caller) : la_calloc(nmemb, size);
}

// The two hot entry points inline the thread-cache fast path.  malloc's
// size test reads its bound from memory, which folds the sampling hook
// into it: no instruction of its own (issue 16; callgrind: 60
// instructions per malloc+free pair, as before the hook, where the
// separate compare and branch cost 62).
LA_HOT_TEXT LA_EXPORT void *malloc(size_t size)
{
    // A plain load, which the compare takes as its operand (a relaxed
    // atomic one is a separate mov): the bound is written once, by prof.c's
    // constructor, before main and any thread.
    // Everything else goes to prof_malloc_past (prof.c), by a jump.
    return tcache_malloc_below(size, la.fast_bound, prof_malloc_past, NULL, tcache_malloc_slow);
}

LA_HOT_TEXT LA_EXPORT void free(void *ptr) { tcache_free(ptr); }

LA_HOT_TEXT LA_EXPORT void *calloc(size_t nmemb, size_t size)
{
    return zeroed(nmemb, size, LA_CALLER);
}

LA_HOT_TEXT LA_EXPORT void *realloc(void *ptr, size_t size) { return resize(ptr, size, LA_CALLER); }

LA_HOT_TEXT LA_EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(nmemb, size, &bytes)) {
        errno = ENOMEM; // the old block stays intact
        return NULL;
    }
    return resize(ptr, bytes, LA_CALLER);
}

// Old binaries may still call cfree (glibc keeps it for compatibility).
LA_EXPORT void cfree(void *ptr) { la_free(ptr); }

/* ---- aligned allocation ------------------------------------------------- */

LA_HOT_TEXT LA_EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    // POSIX: the alignment is a power of two multiple of sizeof(void *);
    // failures are returned, *memptr and errno are left alone.
    if (!LA_IS_POW2(alignment) || alignment % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno;
    void *p = aligned(alignment, size, LA_CALLER);
    if (p == NULL) {
        int err = errno;
        errno = saved;
        return err;
    }
    *memptr = p;
    return 0;
}

// C11 (DR 460) and glibc 2.38+: a non-power-of-two alignment is EINVAL.
LA_HOT_TEXT LA_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    return aligned(alignment, size, LA_CALLER);
}

// glibc's memalign rounds an alignment that is not a power of two up to
// the next one, and treats small alignments as malloc.
static inline __attribute__((always_inline)) void *memalign_from(size_t alignment, size_t size,
                                                                 void *caller)
{
    if (alignment <= ALIGNMENT) // 8-byte slots are 8-aligned: ask for 16 above 8
        return aligned(alignment > 8 ? ALIGNMENT : 8, size, caller);
    if (!LA_IS_POW2(alignment)) {
        if (alignment > LA_MAX_ALIGNMENT) {
            errno = EINVAL;
            return NULL;
        }
        alignment = (size_t)1 << (64 - __builtin_clzl(alignment));
    }
    return aligned(alignment, size, caller);
}

LA_EXPORT void *memalign(size_t alignment, size_t size)
{
    return memalign_from(alignment, size, LA_CALLER);
}

static size_t page_bytes(void)
{
    la_ensure_init();
    return la.page_bytes;
}

static inline __attribute__((always_inline)) void *valloc_from(size_t size, void *caller)
{
    return aligned(page_bytes(), size, caller);
}

LA_EXPORT void *valloc(size_t size) { return valloc_from(size, LA_CALLER); }

static inline __attribute__((always_inline)) void *pvalloc_from(size_t size, void *caller)
{
    size_t page = page_bytes();
    if (size > LA_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    // Whole pages, and at least one for pvalloc(0) (glibc 2.36 gives a
    // minimal block there; a page is as valid and matches the name).
    size_t rounded = size == 0 ? page : LA_ALIGN_UP(size, page);
    return aligned(page, rounded, caller);
}

LA_EXPORT void *pvalloc(size_t size) { return pvalloc_from(size, LA_CALLER); }

LA_EXPORT size_t malloc_usable_size(void *ptr) { return tcache_usable_size(ptr, "malloc_usable_size"); }

/* ---- glibc's internal names --------------------------------------------- */

LA_EXPORT void *__libc_malloc(size_t size) { return alloc(size, LA_CALLER); }
LA_EXPORT void __libc_free(void *ptr) { la_free(ptr); }
LA_EXPORT void *__libc_calloc(size_t nmemb, size_t size) { return zeroed(nmemb, size, LA_CALLER); }
LA_EXPORT void *__libc_realloc(void *ptr, size_t size) { return resize(ptr, size, LA_CALLER); }
LA_EXPORT void *__libc_memalign(size_t alignment, size_t size)
{
    return memalign_from(alignment, size, LA_CALLER);
}
LA_EXPORT void *__libc_valloc(size_t size) { return valloc_from(size, LA_CALLER); }
LA_EXPORT void *__libc_pvalloc(size_t size) { return pvalloc_from(size, LA_CALLER); }

/* ---- C++ operators new and delete --------------------------------------- */

// libstdc++'s operator new calls malloc through its PLT and tests the
// result, and its operator delete calls free: a call and a jump more on
// every new and delete of a C++ program (jemalloc, tcmalloc and mimalloc
// export these too).  Here they take malloc's and free's fast paths
// inline.  Those six, and the six aligned ones (C++17: the new of a type
// aligned above 16 bytes), whose libstdc++ versions round the size up,
// call aligned_alloc through its PLT and loop on the new handler: 184
// instructions a new+delete of an alignas(64) type against tcmalloc's
// own 89.  libstdc++'s nothrow variants call these and keep their own
// semantics (the nothrow new catches the std::bad_alloc thrown here).
// An executable that defines its own operator new still gets its own: it
// comes first in symbol lookup, before a preloaded library.
//
// When the request fails, operator new calls the new handler
// (std::get_new_handler) and tries again, until the handler is unset or
// an attempt succeeds; then it throws std::bad_alloc, by calling
// libstdc++'s std::__throw_bad_alloc through these frames (their unwind
// tables carry the exception through).  Both are weak references: a C
// program never loads libstdc++, and never calls these.
_Static_assert(_Generic((size_t)0, unsigned long: 1, default: 0),
               "the mangled names below (m) say size_t is unsigned long");
typedef void (*la_new_handler_t)(void);
extern la_new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

LA_EXPORT void *_Znwm(size_t size);       // operator new(size_t)
LA_EXPORT void *_Znam(size_t size);       // operator new[](size_t)
LA_EXPORT void _ZdlPv(void *ptr);         // operator delete(void *)
LA_EXPORT void _ZdaPv(void *ptr);         // operator delete[](void *)
LA_EXPORT void _ZdlPvm(void *ptr, size_t size); // operator delete(void *, size_t)
LA_EXPORT void _ZdaPvm(void *ptr, size_t size); // operator delete[](void *, size_t)
// The same with std::align_val_t, an enum of size_t.
LA_EXPORT void *_ZnwmSt11align_val_t(size_t size, size_t align);
LA_EXPORT void *_ZnamSt11align_val_t(size_t size, size_t align);
LA_EXPORT void _ZdlPvSt11align_val_t(void *ptr, size_t align);
LA_EXPORT void _ZdaPvSt11align_val_t(void *ptr, size_t align);
LA_EXPORT void _ZdlPvmSt11align_val_t(void *ptr, size_t size, size_t align);
LA_EXPORT void _ZdaPvmSt11align_val_t(void *ptr, size_t size, size_t align);

// Never returns NULL.  is_aligned: the aligned new's, of alignment
// `align`.  An alignment that is not a power of two (0 included) never
// succeeds: no handler is called for it (libstdc++ throws at once too).
static LA_COLD void *new_failed(size_t size, bool is_aligned, size_t align, void *caller)
{
    while (!is_aligned || LA_IS_POW2(align)) {
        la_new_handler_t handler = _ZSt15get_new_handlerv != NULL ? _ZSt15get_new_handlerv() : NULL;
        if (handler == NULL)
            break;
        handler(); // frees memory, throws, or gives up by unsetting itself
        void *p = is_aligned ? aligned(align, size, caller) : alloc(size, caller);
        if (p != NULL)
            return p;
    }
    if (_ZSt17__throw_bad_allocv != NULL)
        _ZSt17__throw_bad_allocv();
    la_fatal("operator new", "out of memory for %zu bytes, and no std::bad_alloc to throw "
                             "(libstdc++ is not loaded)",
             size);
}

// The paths past the bin's hit, where a request can fail: each tests its
// result, so that the hit path is malloc's, a jump to one of them and no
// frame (a test in operator new itself kept the size in a saved register
// across the calls: three instructions more on every hit).  They are
// reached by jumps, so their return address is operator new's caller,
// which the heap profiler records.
static LA_NOINLINE void *new_past(size_t size, void *unused)
{
    (void)unused;
    void *p = prof_malloc_past(size, LA_CALLER);
    return LA_LIKELY(p != NULL) ? p : new_failed(size, false, 0, LA_CALLER);
}
static LA_NOINLINE void *new_miss(size_t size)
{
    void *p = tcache_malloc_slow(size);
    return LA_LIKELY(p != NULL) ? p : new_failed(size, false, 0, LA_CALLER);
}

LA_EXPORT void *_Znwm(size_t size)
{
    return tcache_malloc_below(size, la.fast_bound, new_past, NULL, new_miss);
}
LA_EXPORT void *_Znam(size_t size) __attribute__((alias("_Znwm")));

LA_EXPORT void _ZdlPv(void *ptr) { tcache_free(ptr); }
LA_EXPORT void _ZdaPv(void *ptr) __attribute__((alias("_ZdlPv")));
// free's fast path, with the size for the paths past it: checking mode
// compares it with the block's request (tcache_free_full), and a misuse
// is reported under operator delete's name.  The fast path does not look
// at it (a slot knows only its class).
LA_EXPORT void _ZdlPvm(void *ptr, size_t size) { tcache_free_sized(ptr, size); }
LA_EXPORT void _ZdaPvm(void *ptr, size_t size) __attribute__((alias("_ZdlPvm")));

// The aligned ones: aligned_alloc's path (a slot of a class whose slots
// are all aligned, alloc.c, or a heap block), the size as it comes (an
// aligned type's size is a multiple of its alignment already), and free's.
LA_EXPORT void *_ZnwmSt11align_val_t(size_t size, size_t align)
{
    void *p = aligned(align, size, LA_CALLER);
    return LA_LIKELY(p != NULL) ? p : new_failed(size, true, align, LA_CALLER);
}
LA_EXPORT void *_ZnamSt11align_val_t(size_t size, size_t align)
    __attribute__((alias("_ZnwmSt11align_val_t")));
LA_EXPORT void _ZdlPvSt11align_val_t(void *ptr, size_t align)
{
    (void)align;
    tcache_free(ptr);
}
LA_EXPORT void _ZdaPvSt11align_val_t(void *ptr, size_t align)
    __attribute__((alias("_ZdlPvSt11align_val_t")));
LA_EXPORT void _ZdlPvmSt11align_val_t(void *ptr, size_t size, size_t align)
{
    (void)align;
    tcache_free_sized(ptr, size);
}
LA_EXPORT void _ZdaPvmSt11align_val_t(void *ptr, size_t size, size_t align)
    __attribute__((alias("_ZdlPvmSt11align_val_t")));

/* ---- introspection and tuning ------------------------------------------- */

static size_t clamp_int(size_t v) { return v > (size_t)__INT_MAX__ ? (size_t)__INT_MAX__ : v; }

LA_EXPORT struct mallinfo2 mallinfo2(void)
{
    mem_stats_t s = stats_get(false);
    size_t free_bytes, free_blocks;
    la_free_space(&free_bytes, &free_blocks);
    struct mallinfo2 mi = {0};
    mi.arena = s.heap_size;               // bytes of heap regions
    mi.ordblks = free_blocks;             // free blocks in the heaps
    mi.hblks = s.num_large;                 // large blocks mapped now
    mi.hblkhd = s.mmap_bytes;             // their bytes
    mi.uordblks = s.heap_size - free_bytes; // heap bytes in use (with headers)
    mi.fordblks = free_bytes;             // heap bytes free
    return mi;
}

LA_EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo mi = {0};
    mi.arena = (int)clamp_int(m2.arena);
    mi.ordblks = (int)clamp_int(m2.ordblks);
    mi.hblks = (int)clamp_int(m2.hblks);
    mi.hblkhd = (int)clamp_int(m2.hblkhd);
    mi.uordblks = (int)clamp_int(m2.uordblks);
    mi.fordblks = (int)clamp_int(m2.fordblks);
    return mi;
}

LA_EXPORT int malloc_trim(size_t pad) { return mem_trim(pad); }

// glibc prints its arenas to stderr; we print our statistics there.
LA_EXPORT void malloc_stats(void) { mem_print_stats(); }

// The one place that uses stdio: glibc's API hands us a FILE *.  It is
// called by the program, never from inside the allocator, and holds no
// allocator lock, so stdio may allocate through us safely.
LA_EXPORT int malloc_info(int options, FILE *fp)
{
    if (options != 0) {
        errno = EINVAL;
        return -1;
    }
    mem_stats_t s = stats_get(false);
    size_t free_bytes, free_blocks;
    la_free_space(&free_bytes, &free_blocks);
    fprintf(fp,
            "<malloc version=\"liballocator-1\">\n"
            "<heaps count=\"%zu\"/>\n"
            "<total type=\"heap\" size=\"%zu\"/>\n"
            "<total type=\"free\" count=\"%zu\" size=\"%zu\"/>\n"
            "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
            "<system type=\"current\" size=\"%zu\"/>\n"
            "<aspace type=\"total\" size=\"%zu\"/>\n"
            "</malloc>\n",
            s.num_heaps, s.heap_size, free_blocks, free_bytes, s.num_large,
            s.mmap_bytes, s.heap_size + s.mmap_bytes, s.heap_size + s.mmap_bytes);
    return 0;
}

// Honoured: M_MMAP_THRESHOLD (a value above LA_MMAP_THRESHOLD_MAX, or
// negative, counts as that maximum), M_TRIM_THRESHOLD, M_ARENA_MAX (the
// threads that start later spread over at most that many heaps; 0 or
// less is ignored, as by glibc).  The return values
// are glibc 2.36's, measured parameter by parameter: 1 for everything
// except an M_MXFAST above glibc's 160 bytes (or negative), so that a
// program that checks the result of a tuning hint we ignore (M_ARENA_TEST,
// M_MXFAST...) behaves as under glibc; docs/API.md keeps the list.
// M_PERTURB sets the fill byte (its low 8 bits, as glibc's) when
// glibc.malloc.perturb or MALLOC_PERTURB_ turned perturb on at start-up:
// only then does every block take the paths that fill (debug.c).
LA_EXPORT int mallopt(int param, int value)
{
    la_ensure_init();
    // Setting either threshold, or M_MMAP_MAX, fixes both, as in glibc.
    if (param == M_MMAP_THRESHOLD || param == M_TRIM_THRESHOLD || param == M_MMAP_MAX)
        la_store_relaxed(&la.thresholds_dynamic, false);
    switch (param) {
    case M_MMAP_THRESHOLD: {
        // glibc takes a negative int as a huge size_t: nothing is mapped.
        size_t bytes = (size_t)value;
        la_set_mmap_threshold(bytes > LA_MMAP_THRESHOLD_MAX ? LA_MMAP_THRESHOLD_MAX : bytes);
        return 1;
    }
    case M_TRIM_THRESHOLD: // glibc: a negative value never trims the brk top
        la_store_relaxed(&la.trim_threshold, value < 0 ? SIZE_MAX / 2 : (size_t)value);
        return 1;
    case M_ARENA_MAX:
        if (value > 0)
            heap_cap_target((size_t)value);
        return 1;
    case M_MXFAST: // glibc's bound on its fastbins; we have none
        return (size_t)value <= LA_GLIBC_MXFAST_MAX ? 1 : 0;
    case M_MMAP_MAX: // glibc: how many mappings may be live; 0 (or less) none
        la_set_mmap_allowed(value > 0);
        return 1;
    case M_PERTURB:
        if (la.options.perturb != 0)
            la_store_relaxed(&la.perturb, (uint8_t)value);
        return 1;
    default:
        return 1;
    }
}

/* ---- fork handlers ------------------------------------------------------ */

// The definition of `name` after ours in lookup order (libc's), looked up
// once into *cache; NULL if there is none.  The lookup may allocate, which
// is safe where these wrappers call it: no allocator lock is held, and the
// allocator initialises itself on demand.
static void *libc_next(void **cache, const char *name)
{
    void *fn = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (fn == NULL) {
        fn = dlsym(RTLD_NEXT, name);
        __atomic_store_n(cache, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

// pthread_atfork, compiled into every caller from libc_nonshared.a, calls
// this.  The first caller (a library constructor that ran before ours, or
// the allocator itself) has the allocator's handlers registered first, so
// that their prepare half runs after every other prepare handler: those
// may allocate, or join threads that allocate (issue 12).
LA_HOT_TEXT LA_EXPORT int __register_atfork(void (*prepare)(void), void (*parent)(void),
                                            void (*child)(void), void *dso_handle)
{
    static void *libc_register;
    la_register_atfork_fn fn =
        (la_register_atfork_fn)libc_next(&libc_register, "__register_atfork");
    if (fn == NULL)
        return ENOMEM;
    fork_register_handlers(fn);
    return fn(prepare, parent, child, dso_handle);
}

// The process is about to have a second thread: the allocator's fork
// handlers go in first, while it has one and no fork can race them
// (fork.c, fork_handlers_install), then libc's function makes the thread.
// C11's thrd_create too: glibc's calls its pthread_create internally, past
// this one.
typedef int (*la_pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                                    void *);
LA_HOT_TEXT LA_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                         void *(*start)(void *), void *arg)
{
    static void *libc_create;
    la_pthread_create_fn fn = (la_pthread_create_fn)libc_next(&libc_create, "pthread_create");
    if (fn == NULL)
        return EAGAIN;
    fork_handlers_install();
    return fn(thread, attr, start, arg);
}

typedef int (*la_thrd_create_fn)(thrd_t *, thrd_start_t, void *);
LA_EXPORT int thrd_create(thrd_t *thread, thrd_start_t start, void *arg)
{
    static void *libc_create;
    la_thrd_create_fn fn = (la_thrd_create_fn)libc_next(&libc_create, "thrd_create");
    if (fn == NULL)
        return thrd_error;
    fork_handlers_install();
    return fn(thread, start, arg);
}
