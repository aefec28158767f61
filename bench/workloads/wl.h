// SPDX-License-Identifier: MIT
/*
 * wl.h: helpers shared by the allocator-comparison workloads: argument
 * parsing, a deterministic RNG, page touching, RSS readings and the
 * checksum line that bench/run.py compares across allocators.
 * Header-only, so each workload stays one file.  Nothing here calls
 * malloc: the workload's own malloc calls are the thing being measured.
 */
#ifndef WL_H
#define WL_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- arguments ---------------------------------------------------------- */

// Every workload takes [scale] [threads] [mode]; scale multiplies the
// default amount of work (1.0 = roughly 0.2-1.5 s under glibc on the
// reference 2-core machine), threads and mode only where they apply.
typedef struct {
    double scale;
    int threads;
    const char *mode;
} wl_args_t;

static inline wl_args_t wl_parse(int argc, char **argv, const char *usage,
                                 int default_threads, const char *default_mode)
{
    wl_args_t a = {1.0, default_threads, default_mode};
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s %s\n", argv[0], usage);
        exit(0);
    }
    if (argc > 1)
        a.scale = atof(argv[1]);
    if (argc > 2)
        a.threads = atoi(argv[2]);
    if (argc > 3)
        a.mode = argv[3];
    if (!(a.scale > 0.0) || a.scale > 1000.0 || a.threads < 1 || a.threads > 256) {
        fprintf(stderr, "usage: %s %s\n", argv[0], usage);
        exit(2);
    }
    return a;
}

// The default work count times the scale, never below 1.
static inline uint64_t wl_scaled(uint64_t base, double scale)
{
    double n = (double)base * scale;
    return n < 1.0 ? 1 : (uint64_t)n;
}

/* ---- randomness and checksums ------------------------------------------- */

// xorshift64*: fast, and seeded per thread so that the block sequence a
// thread sees does not depend on scheduling.
typedef struct {
    uint64_t s;
} wl_rng_t;

static inline wl_rng_t wl_rng(uint64_t seed)
{
    wl_rng_t r = {seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull};
    if (r.s == 0)
        r.s = 1;
    return r;
}

static inline uint64_t wl_next(wl_rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

// splitmix64 finaliser: checksums add mixed values so that the total does
// not depend on the order in which threads freed the blocks.
static inline uint64_t wl_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static inline void wl_print_checksum(uint64_t sum)
{
    printf("checksum %016llx\n", (unsigned long long)sum);
}

/* ---- timing ------------------------------------------------------------- */

// The driver times whole processes.  Threaded workloads also report the
// time of their parallel phase alone, because process start, thread
// creation and exit are a fixed cost that would blur the 1-to-2-thread
// scaling ratio of the faster allocators.
static inline double wl_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void wl_print_elapsed(double seconds)
{
    printf("elapsed_s %.6f\n", seconds);
}

/* ---- worker threads ----------------------------------------------------- */

// A worker of wl_run_workers: its index, its share of the steps and the
// sum it leaves for the checksum, on cache lines of its own.
typedef struct {
    _Alignas(64) int id;
    uint64_t steps;
    uint64_t sum;
} wl_worker_t;

// Runs fn on `threads` threads (at most 256, as wl_parse allows), each
// handed its wl_worker_t with total / threads steps; waits for them,
// prints the parallel phase's time (the scaling ratio's figure) and
// returns the sum of their sums.  Static tables: no malloc of its own.
static inline uint64_t wl_run_workers(int threads, uint64_t total, void *(*fn)(void *))
{
    static wl_worker_t w[256];
    static pthread_t tid[256];
    double t0 = wl_now_s();
    for (int t = 0; t < threads; t++) {
        w[t].id = t;
        w[t].steps = total / (uint64_t)threads;
        if (pthread_create(&tid[t], NULL, fn, &w[t]) != 0)
            abort();
    }
    uint64_t sum = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        sum += w[t].sum;
    }
    wl_print_elapsed(wl_now_s() - t0);
    return sum;
}

// For the workloads that wait out an allocator's decay period; restarts
// after a signal so the wait is never cut short.
static inline void wl_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- resident memory ---------------------------------------------------- */

// The process's resident set now, in KiB: the second field of
// /proc/self/statm (pages), read with open/read into a stack buffer,
// because stdio would malloc a buffer and move the very figure it reads.
// Returns 0 if /proc is not there.
static inline uint64_t wl_rss_kib(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *c = buf;
    while (*c != '\0' && *c != ' ') // skip the size field
        c++;
    while (*c == ' ')
        c++;
    uint64_t pages = 0;
    for (; *c >= '0' && *c <= '9'; c++)
        pages = pages * 10 + (uint64_t)(*c - '0');
    return pages * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* ---- giving memory back ------------------------------------------------- */

// Gives free memory back to the kernel the way the allocator in use does
// it, found with dlsym: glibc's malloc_trim(0) would be a no-op on glibc's
// unused heap under another allocator.  jemalloc: flush this thread's
// cache, then purge every arena (MALLCTL_ARENAS_ALL is 4096 in jemalloc
// 5); mimalloc: mi_collect(true); tcmalloc (gperftools):
// MallocExtension_ReleaseFreeMemory(); otherwise (glibc, liballocator)
// malloc_trim(0).  Returns what it called, for the "purge" line.
#define WL_JEMALLOC_ARENAS_ALL "4096"
static inline const char *wl_purge(void)
{
    union {
        void *sym;
        int (*mallctl)(const char *, void *, size_t *, void *, size_t);
        void (*mi_collect)(bool);
        void (*release)(void);
    } fn;
    if ((fn.sym = dlsym(RTLD_DEFAULT, "mallctl")) != NULL) {
        fn.mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
        if (fn.mallctl("arena." WL_JEMALLOC_ARENAS_ALL ".purge", NULL, NULL, NULL, 0) != 0)
            return "mallctl(arena." WL_JEMALLOC_ARENAS_ALL ".purge)-failed";
        return "mallctl(arena." WL_JEMALLOC_ARENAS_ALL ".purge)";
    }
    if ((fn.sym = dlsym(RTLD_DEFAULT, "mi_collect")) != NULL) {
        fn.mi_collect(true);
        return "mi_collect(true)";
    }
    if ((fn.sym = dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory")) != NULL) {
        fn.release();
        return "MallocExtension_ReleaseFreeMemory()";
    }
    malloc_trim(0);
    return "malloc_trim(0)";
}

/* ---- blocks ------------------------------------------------------------- */

#define WL_PAGE_BYTES 4096 // touch one byte per page: RSS then counts the block

static inline void *wl_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "malloc(%zu) failed\n", n);
        abort();
    }
    return p;
}

static inline void *wl_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        fprintf(stderr, "realloc(%zu) failed\n", n);
        abort();
    }
    return q;
}

// Writes a tag into the first 8 bytes (n >= 8) and one byte into every
// page and the last byte, the way a program initialises a header and uses
// the rest: cheap next to the allocator, yet every page becomes resident.
static inline void wl_touch(void *p, size_t n, uint64_t tag)
{
    unsigned char *b = p;
    memcpy(b, &tag, sizeof tag);
    for (size_t off = WL_PAGE_BYTES; off < n; off += WL_PAGE_BYTES)
        b[off] = (unsigned char)tag;
    b[n - 1] = (unsigned char)(tag >> 8);
}

// Reads back what wl_touch wrote; a wrong value means the allocator handed
// out overlapping blocks or corrupted one, and shows up in the checksum.
static inline uint64_t wl_read(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t tag;
    memcpy(&tag, b, sizeof tag);
    return wl_mix(tag) + b[n - 1];
}

#endif
