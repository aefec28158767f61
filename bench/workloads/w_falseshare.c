// SPDX-License-Identifier: MIT
/*
 * w_falseshare: false sharing of small blocks between threads.  Each
 * thread repeatedly allocates a small block, writes it many times and
 * frees it.  "active": the threads' own allocations; an allocator that
 * hands neighbouring blocks of one cache line to different threads makes
 * the writes bounce the line between cores.  "passive": the main thread
 * first allocates one block per thread (neighbours) and each thread frees
 * its block before its loop, so an allocator that reuses that block for
 * the thread inherits the sharing.  Total work is fixed, split over T.
 * Usage: w_falseshare [scale] [threads] [active|passive]
 */
#include <pthread.h>

#include "wl.h"

#define TOTAL_ROUNDS 4000000
#define WRITES_PER_ROUND 64
#define SMALL_BYTES 16 // four blocks per 64-byte line when packed

typedef struct {
    _Alignas(64) int id;
    void *given; // passive mode: the block the main thread allocated
    uint64_t rounds;
    uint64_t sum;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    free(w->given);
    uint64_t sum = 0;
    for (uint64_t r = 0; r < w->rounds; r++) {
        size_t len = SMALL_BYTES - (size_t)(r % 2) * 8; // 8 or 16 B
        volatile unsigned char *p = wl_malloc(len);
        for (size_t i = 0; i < len; i++)
            p[i] = (unsigned char)w->id;
        for (unsigned k = 0; k < WRITES_PER_ROUND; k++)
            p[k % len]++;
        sum += p[0] + p[len - 1];
        free((void *)p);
    }
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads] [active|passive]", 2, "active");
    int passive = strcmp(a.mode, "passive") == 0;
    if (!passive && strcmp(a.mode, "active") != 0) {
        fprintf(stderr, "w_falseshare: mode must be active or passive\n");
        return 2;
    }
    int n = a.threads;
    uint64_t rounds = wl_scaled(TOTAL_ROUNDS, a.scale) / (uint64_t)n;
    worker_t *w = aligned_alloc(64, sizeof(worker_t) * (size_t)n);
    pthread_t *tid = calloc((size_t)n, sizeof *tid);
    if (w == NULL || tid == NULL)
        abort();
    for (int t = 0; t < n; t++) {
        w[t].id = t;
        w[t].rounds = rounds;
        w[t].sum = 0;
        w[t].given = passive ? wl_malloc(SMALL_BYTES) : NULL;
    }
    double t0 = wl_now_s();
    for (int t = 0; t < n; t++)
        if (pthread_create(&tid[t], NULL, worker, &w[t]) != 0)
            abort();
    uint64_t sum = 0;
    for (int t = 0; t < n; t++) {
        pthread_join(tid[t], NULL);
        sum += w[t].sum;
    }
    wl_print_elapsed(wl_now_s() - t0);
    free(tid);
    free(w);
    wl_print_checksum(sum);
    return 0;
}
