// SPDX-License-Identifier: MIT
/*
 * w_return: is memory that no thread uses given back (issue 14)?  Each
 * mode ends with the main thread doing `wait_ms` of work that makes no
 * allocator call ("busy", a CPU loop) or one small malloc/free pair every
 * millisecond ("calls"), and prints the RSS in KiB at the end of it:
 *   exit    a worker thread allocates 192 MiB in 1..64 KiB blocks, frees
 *           them and exits;
 *   remote  a worker allocates 192 MiB of blocks and exits; another thread
 *           frees them all (frees into a heap whose owner is gone);
 *   idle    the main thread allocates 192 MiB and frees it.
 * Usage: w_return [scale] [threads=1] [exit|remote|idle] [wait_ms] [busy|calls]
 */
#include <pthread.h>

#include "wl.h"

#define TOTAL_BYTES ((size_t)192 << 20)
#define MAX_BLOCKS 20000

static char *blocks[MAX_BLOCKS];
static size_t nblocks;

static void allocate_all(void)
{
    wl_rng_t rng = wl_rng(7);
    size_t total = 0;
    nblocks = 0;
    while (total < TOTAL_BYTES && nblocks < MAX_BLOCKS) {
        size_t n = 1024 + wl_next(&rng) % (63 * 1024);
        blocks[nblocks] = wl_malloc(n);
        wl_touch(blocks[nblocks++], n, n);
        total += n;
    }
}

static void free_all(void)
{
    for (size_t i = 0; i < nblocks; i++)
        free(blocks[i]);
    nblocks = 0;
}

static void *worker_exit(void *arg)
{
    (void)arg;
    allocate_all();
    free_all();
    return NULL;
}

static void *worker_alloc(void *arg)
{
    (void)arg;
    allocate_all();
    return NULL;
}

static void *worker_free(void *arg)
{
    (void)arg;
    free_all();
    return NULL;
}

static volatile uint64_t sink;

// wait_ms of work; with calls, one allocator call pair a millisecond.
static void wait_working(unsigned wait_ms, int calls)
{
    double end = wl_now_s() + wait_ms / 1000.0;
    while (wl_now_s() < end) {
        for (int i = 0; i < 20000; i++)
            sink += (uint64_t)i * 2654435761u;
        if (calls) {
            char *p = wl_malloc(48);
            p[0] = 1;
            free(p);
            wl_sleep_ms(1);
        }
    }
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads] [exit|remote|idle] [wait_ms] [busy|calls]",
                           1, "exit");
    unsigned wait_ms = argc > 4 ? (unsigned)atoi(argv[4]) : 3000;
    int calls = argc > 5 && strcmp(argv[5], "calls") == 0;
    pthread_t t;
    if (strcmp(a.mode, "exit") == 0) {
        pthread_create(&t, NULL, worker_exit, NULL);
        pthread_join(t, NULL);
    } else if (strcmp(a.mode, "remote") == 0) {
        pthread_create(&t, NULL, worker_alloc, NULL);
        pthread_join(t, NULL);
        pthread_create(&t, NULL, worker_free, NULL);
        pthread_join(t, NULL);
    } else {
        allocate_all();
        free_all();
    }
    uint64_t before = wl_rss_kib();
    wait_working(wait_ms, calls);
    printf("rss_before_wait_kib %llu\n", (unsigned long long)before);
    printf("rss_after_wait_kib %llu\n", (unsigned long long)wl_rss_kib());
    wl_print_checksum(nblocks);
    return 0;
}
