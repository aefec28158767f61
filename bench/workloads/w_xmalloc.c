// SPDX-License-Identifier: MIT
/*
 * w_xmalloc: xmalloc-style producer/consumer.  One thread allocates small
 * blocks (16..512 B) and writes them; another reads and frees them.  Blocks
 * are handed over one at a time through a single-producer single-consumer
 * ring (no lock, no batching by the benchmark), so every free is remote
 * and the allocator alone decides how frees travel back to the owner.
 * Usage: w_xmalloc [scale]
 */
#include <pthread.h>
#include <sched.h>

#include "wl.h"

#define RING_SLOTS 4096 // a power of two
#define TOTAL_BLOCKS 10000000
#define SPINS_BEFORE_YIELD 64

static void *ring[RING_SLOTS];
static _Alignas(64) uint64_t tail; // next slot the producer fills
static _Alignas(64) uint64_t head; // next slot the consumer empties
static uint64_t nblocks;

static void wait_a_little(unsigned *spins)
{
    if (++*spins < SPINS_BEFORE_YIELD) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        *spins = 0;
        sched_yield(); // the machine may have fewer free cores than threads
    }
}

static void *producer(void *arg)
{
    (void)arg;
    wl_rng_t rng = wl_rng(15);
    for (uint64_t k = 0; k < nblocks; k++) {
        uint64_t r = wl_next(&rng);
        size_t len = 16 + (size_t)(r % 497);
        unsigned char *p = wl_malloc(len);
        uint32_t len32 = (uint32_t)len;
        memcpy(p, &len32, sizeof len32);
        p[4] = (unsigned char)k;
        p[len - 1] = (unsigned char)(k >> 8);
        unsigned spins = 0;
        while (k - __atomic_load_n(&head, __ATOMIC_ACQUIRE) >= RING_SLOTS)
            wait_a_little(&spins);
        ring[k & (RING_SLOTS - 1)] = p;
        __atomic_store_n(&tail, k + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    uint64_t sum = 0;
    for (uint64_t k = 0; k < nblocks; k++) {
        unsigned spins = 0;
        while (__atomic_load_n(&tail, __ATOMIC_ACQUIRE) <= k)
            wait_a_little(&spins);
        unsigned char *p = ring[k & (RING_SLOTS - 1)];
        __atomic_store_n(&head, k + 1, __ATOMIC_RELEASE);
        uint32_t len;
        memcpy(&len, p, sizeof len);
        sum += wl_mix(len) + p[4] + p[len - 1];
        free(p);
    }
    *(uint64_t *)arg = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 2, NULL);
    nblocks = wl_scaled(TOTAL_BLOCKS, a.scale);
    uint64_t sum = 0;
    pthread_t prod, cons;
    double t0 = wl_now_s();
    if (pthread_create(&cons, NULL, consumer, &sum) != 0 ||
        pthread_create(&prod, NULL, producer, NULL) != 0)
        abort();
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    wl_print_elapsed(wl_now_s() - t0);
    wl_print_checksum(sum);
    return 0;
}
