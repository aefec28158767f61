// SPDX-License-Identifier: MIT
/*
 * bench_core: the core's mem_* functions against the system malloc over the
 * seed's patterns (sizes, alloc/free orders, fragmentation, calloc,
 * realloc).  Prints the median wall time of several runs per workload and
 * the ratio to the system malloc; a ratio below 1 means faster.
 * Usage: bench_core [runs]   (this is a benchmark, never a test)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include "allocator.h"

typedef struct {
    const char *name;
    void *(*malloc_fn)(size_t);
    void (*free_fn)(void *);
    void *(*calloc_fn)(size_t, size_t);
    void *(*realloc_fn)(void *, size_t);
} impl_t;

static const impl_t impls[] = {
    {"system", malloc, free, calloc, realloc},
    {"mem_*", mem_malloc, mem_free, mem_calloc, mem_realloc},
    {"mem_*_ts", mem_malloc_ts, mem_free_ts, mem_calloc_ts, mem_realloc_ts},
};
#define NIMPLS (sizeof impls / sizeof impls[0])

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static volatile uintptr_t sink; // keeps the compiler from dropping work

#define SLOTS 10000
static void *slots[SLOTS];

static void w_pairs(const impl_t *m)
{
    static const size_t sizes[] = {16, 24, 32, 48, 64, 100, 128, 256, 512, 1024};
    for (int i = 0; i < 2000000; i++) {
        void *p = m->malloc_fn(sizes[i % 10]);
        sink += (uintptr_t)p;
        m->free_fn(p);
    }
}

static void w_batch_fifo(const impl_t *m)
{
    for (int r = 0; r < 100; r++) {
        for (int i = 0; i < SLOTS; i++)
            slots[i] = m->malloc_fn(16 + (size_t)(i % 64) * 8);
        for (int i = 0; i < SLOTS; i++) {
            m->free_fn(slots[i]);
            slots[i] = NULL;
        }
    }
}

static void w_batch_lifo(const impl_t *m)
{
    for (int r = 0; r < 100; r++) {
        for (int i = 0; i < SLOTS; i++)
            slots[i] = m->malloc_fn(16 + (size_t)(i % 64) * 8);
        for (int i = SLOTS; i-- > 0;) {
            m->free_fn(slots[i]);
            slots[i] = NULL;
        }
    }
}

static void w_fragment(const impl_t *m)
{
    rng_state = 88172645463325252ull;
    for (int i = 0; i < 1000000; i++) {
        int s = (int)(rnd() % SLOTS);
        m->free_fn(slots[s]);
        size_t n = rnd() % 16 == 0 ? 1024 + rnd() % 30000 : 16 + rnd() % 500;
        slots[s] = m->malloc_fn(n);
        memset(slots[s], 1, 16);
    }
    for (int i = 0; i < SLOTS; i++) {
        m->free_fn(slots[i]);
        slots[i] = NULL;
    }
}

static void w_calloc(const impl_t *m)
{
    static const size_t sizes[] = {16, 100, 1000, 4000, 20000, 60000};
    for (int i = 0; i < 200000; i++) {
        char *p = m->calloc_fn(1, sizes[i % 6]);
        sink += (uintptr_t)p[0];
        m->free_fn(p);
    }
}

static void w_realloc(const impl_t *m)
{
    for (int r = 0; r < 20; r++) {
        char *s[100] = {0};
        for (size_t len = 16; len <= 65536; len += 64)
            for (int j = 0; j < 100; j++) {
                s[j] = m->realloc_fn(s[j], len);
                s[j][len - 1] = 1;
            }
        for (int j = 0; j < 100; j++)
            m->free_fn(s[j]);
    }
}

static void w_large(const impl_t *m)
{
    for (int i = 0; i < 20000; i++) {
        char *p = m->malloc_fn(256 * 1024 + (size_t)(i % 7) * 4096);
        p[0] = 1;
        m->free_fn(p);
    }
}

typedef struct {
    const char *name;
    void (*fn)(const impl_t *);
} workload_t;

static const workload_t workloads[] = {
    {"pairs 16-1024 B", w_pairs},     {"batch FIFO 10k", w_batch_fifo},
    {"batch LIFO 10k", w_batch_lifo}, {"fragmentation", w_fragment},
    {"calloc mixed", w_calloc},       {"realloc growth", w_realloc},
    {"large 256 KiB", w_large},
};
#define NWORK (sizeof workloads / sizeof workloads[0])

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1 || runs > 99)
        runs = 5;
    printf("bench_core: median of %d runs, seconds (ratio to system malloc)\n", runs);
    printf("%-18s", "workload");
    for (size_t k = 0; k < NIMPLS; k++)
        printf("  %18s", impls[k].name);
    printf("\n");
    double logsum[NIMPLS] = {0};
    for (size_t w = 0; w < NWORK; w++) {
        double med[NIMPLS];
        for (size_t k = 0; k < NIMPLS; k++) {
            double t[99];
            // Interleave runs of different implementations would be fairer
            // on a noisy machine, but each needs a warm heap: run in blocks.
            for (int r = 0; r < runs; r++) {
                double t0 = now_s();
                workloads[w].fn(&impls[k]);
                t[r] = now_s() - t0;
            }
            qsort(t, (size_t)runs, sizeof t[0], cmp_double);
            med[k] = t[runs / 2];
        }
        printf("%-18s", workloads[w].name);
        for (size_t k = 0; k < NIMPLS; k++) {
            printf("  %8.4f (%5.2fx)", med[k], med[k] / med[0]);
            logsum[k] += log(med[k] / med[0]);
        }
        printf("\n");
    }
    printf("%-18s", "geometric mean");
    for (size_t k = 0; k < NIMPLS; k++)
        printf("  %18.2fx", exp(logsum[k] / (double)NWORK));
    printf("\n");
    return 0;
}
