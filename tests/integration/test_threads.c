// SPDX-License-Identifier: MIT
/*
 * The _ts functions from 4 threads at once: each thread allocates, fills
 * every block with a pattern derived from its thread and slot, reallocs,
 * frees blocks allocated by other threads through a shared exchange, and
 * verifies every byte before freeing.  Ends with a heap walk and exact
 * statistics.  Pass --smoke for a short run.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "allocator.h"
#include "../testhelper.h"

#define THREADS 4
#define SLOTS 512
#define EXCHANGE 64

typedef struct {
    unsigned char *p;
    size_t n;
    unsigned char tag;
} slot_t;

static slot_t exchange[EXCHANGE];
static pthread_mutex_t exchange_lock = PTHREAD_MUTEX_INITIALIZER;
static long rounds = 200000;
static atomic_int corrupt;

static void fill(unsigned char *p, size_t n, unsigned char tag)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(tag + i * 7);
}

static int verify(const unsigned char *p, size_t n, unsigned char tag)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(tag + i * 7))
            return 0;
    return 1;
}

static void release(slot_t *s)
{
    if (s->p == NULL)
        return;
    if (!verify(s->p, s->n, s->tag))
        atomic_fetch_add(&corrupt, 1);
    mem_free_ts(s->p);
    s->p = NULL;
}

static size_t pick_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    if (r % 100 == 0)
        return 128 * 1024 + r % 100000; // large, mapped
    if (r % 10 == 0)
        return r % 16384;
    return r % 512;
}

static void *worker(void *arg)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull * (uintptr_t)arg + 1;
    slot_t mine[SLOTS] = {{0}};
    for (long i = 0; i < rounds; i++) {
        slot_t *s = &mine[rng_next(&rng) % SLOTS];
        uint64_t op = rng_next(&rng) % 10;
        if (op < 6) {
            release(s);
            s->n = pick_size(&rng);
            s->tag = (unsigned char)rng_next(&rng);
            s->p = (rng_next(&rng) & 1) ? mem_malloc_ts(s->n) : mem_calloc_ts(1, s->n);
            if (s->p == NULL) {
                atomic_fetch_add(&corrupt, 1);
                continue;
            }
            fill(s->p, s->n, s->tag);
        } else if (op < 8 && s->p != NULL) {
            size_t n = pick_size(&rng);
            if (!verify(s->p, s->n, s->tag))
                atomic_fetch_add(&corrupt, 1);
            unsigned char *q = mem_realloc_ts(s->p, n);
            if (q == NULL && n != 0) {
                atomic_fetch_add(&corrupt, 1);
                continue;
            }
            size_t kept = n < s->n ? n : s->n;
            if (!verify(q, kept, s->tag))
                atomic_fetch_add(&corrupt, 1);
            s->p = q;
            s->n = n;
            fill(s->p, s->n, s->tag);
            if (n == 0)
                s->p = NULL; // realloc(p, 0) freed it
        } else if (s->p != NULL) {
            // Swap with the shared exchange: the block is freed later by
            // whichever thread takes it out.
            pthread_mutex_lock(&exchange_lock);
            slot_t *x = &exchange[rng_next(&rng) % EXCHANGE];
            slot_t tmp = *x;
            *x = *s;
            *s = tmp;
            pthread_mutex_unlock(&exchange_lock);
        }
    }
    for (int i = 0; i < SLOTS; i++)
        release(&mine[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--smoke") == 0)
        rounds = 20000;
    mem_reset();
    size_t live0 = mem_get_stats().current_usage;
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, worker, (void *)(i + 1)) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < EXCHANGE; i++)
        release(&exchange[i]);
    CHECK_EQ(atomic_load(&corrupt), 0);
    CHECK_EQ(mem_check_heap(), 0);
    mem_stats_t s = mem_get_stats();
    CHECK_EQ(s.current_usage, live0);
    CHECK_EQ(s.num_allocations, s.num_frees);
    CHECK_EQ(s.total_allocated, s.total_freed);
    CHECK(s.num_allocations >= (size_t)rounds);
    return test_report("test_threads");
}
