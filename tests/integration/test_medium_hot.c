// SPDX-License-Identifier: MIT
/*
 * The hot medium budget (tcache.c count_trip, issue 13).  In a process
 * with threads, a cache's medium bins hold LA_TC_MEDIUM_TOTAL_BYTES of
 * blocks up to LA_TC_MEDIUM_SHARED_MAX_BYTES; a thread that churns medium
 * blocks (its own requests and frees keep going to the heap) gets
 * LA_TC_MEDIUM_HOT_BYTES, blocks to LA_TC_MEDIUM_MAX_BYTES, until memory
 * is next given back.  Checked here:
 *  - a thread that keeps 64 blocks of 2..64 KiB and replaces a random one
 *    per step turns hot, and then caches blocks above the shared bound
 *    (a bin of such a class has capacity), which no cold cache of a
 *    threaded process does, and some such bin grows past the most
 *    LA_TC_BIN_BYTES_MAX lets a cold one hold (LA_TC_HOT_BIN_BYTES_MAX);
 *  - while hot, an empty bin takes one block from the heap at a time
 *    (LA_TC_HOT_REFILL), where a cold one takes half its capacity: the
 *    requests that empty the biggest bin of the last doubling, and the
 *    bins above it that it borrows from, see refills of one block only;
 *  - after mem_trim(), its next call empties the cache and cools it: no
 *    medium bin has capacity left, and the budget is the shared one again;
 *  - a producer that allocates medium blocks and a consumer that frees
 *    them, both of the one heap (ALLOCATOR_HEAPS=1, set by ctest), stay
 *    cold: the consumer's frees go to the heap as a churner's do, but it
 *    requests nothing, and the producer frees nothing.
 * Run with the mem_*_ts functions (the exported family's path).  The rule
 * is a rate; a machine too slow to churn at it is told, and the first two
 * parts are not checked there.
 */
#include <pthread.h>
#include <time.h>

#include "allocator.h"
#include "internal.h"
#include "tcache.h"
#include "../testhelper.h"

#define LIVE 64
#define MIN_BYTES 2048
#define MAX_BYTES (64 * 1024)
#define MAX_STEPS 4000000 // a cap: the churner turns hot within a few thousand
#define HOT_STEPS 200000 // steps it churns once hot: its top bins double to 16 within them

static size_t pick(uint64_t r)
{
    return MIN_BYTES + (size_t)(r % (MAX_BYTES - MIN_BYTES + 1));
}

// Whether a bin of the last doubling (classes above half of
// LA_TC_MEDIUM_MAX_BYTES, the shared bound) may hold more than `most`
// blocks: with 0, whether the cache caches blocks above the shared bound
// at all, which no cold cache of a threaded process does; with
// COLD_MOST_ABOVE_SHARED, more than LA_TC_BIN_BYTES_MAX lets any cold bin
// of those classes hold, which only a hot cache's bins grow past.
_Static_assert(LA_TC_MEDIUM_SHARED_MAX_BYTES == LA_TC_MEDIUM_MAX_BYTES / 2,
               "the last doubling's classes are those above the shared bound");
#define COLD_MOST_ABOVE_SHARED (LA_TC_BIN_BYTES_MAX / LA_TC_MEDIUM_SHARED_MAX_BYTES)
_Static_assert(LA_TC_HOT_BIN_BYTES_MAX / LA_TC_MEDIUM_MAX_BYTES > COLD_MOST_ABOVE_SHARED,
               "a hot bin of the last doubling may grow past a cold one's bound");
static bool top_bin_holds_over(la_tcache_t *tc, size_t most)
{
    for (size_t i = LA_TC_BINS - LA_TC_MEDIUM_PER_DOUBLING; i < LA_TC_BINS; i++)
        if (tc->bins[i].cap > most)
            return true;
    return false;
}

typedef struct {
    bool hot, above_shared, grew, cooled, above_shared_after;
    size_t cap_bytes_after;
    size_t top_cap;              // the capacity of the bin the refills were seen in
    size_t refills, refill_most; // refills while hot, and the most blocks one brought
    double steps_per_ms; // how fast this machine churned
} churn_result_t;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

// Requests of the class of the last doubling's biggest bin, enough to
// empty it and the bins above it that an empty bin borrows from (their
// capacities are at most LA_TC_HOT_BIN_BYTES_MAX / the class), each
// refill's size read from the cache's count of refilled blocks.
#define TAKE ((LA_TC_MEDIUM_BORROW + 2) * (LA_TC_HOT_BIN_BYTES_MAX / LA_TC_MEDIUM_SHARED_MAX_BYTES))
static void refill_one_at_a_time(la_tcache_t *tc, churn_result_t *r)
{
    size_t top = LA_TC_BINS - LA_TC_MEDIUM_PER_DOUBLING;
    for (size_t i = top; i < LA_TC_BINS; i++)
        if (tc->bins[i].cap > tc->bins[top].cap)
            top = i;
    r->top_cap = tc->bins[top].cap;
    size_t bytes = tcache_medium_class_bytes(top - LA_TC_SMALL_BINS);
    static char *taken[TAKE];
    for (size_t n = 0; n < TAKE; n++) {
        size_t before = tc->refilled;
        taken[n] = mem_malloc_ts(bytes);
        REQUIRE(taken[n] != NULL);
        size_t got = tc->refilled - before;
        // A purge meanwhile (the decay) would cool the cache: not counted.
        if (got > 0 && tc->medium_hot) {
            r->refills++;
            r->refill_most = LA_MAX(r->refill_most, got);
        }
    }
    for (size_t n = 0; n < TAKE; n++)
        mem_free_ts(taken[n]);
}

static void *churner(void *arg)
{
    churn_result_t *r = arg;
    static char *live[LIVE];
    uint64_t s = 88172645463325252ull;
    la_tcache_t *tc = NULL;
    uint64_t hot_at = MAX_STEPS; // the step it turned hot at
    uint64_t k = 0;
    double start = now_ms();
    for (; k < MAX_STEPS; k++) {
        uint64_t x = rng_next(&s);
        size_t i = (size_t)(x % LIVE);
        mem_free_ts(live[i]);
        live[i] = mem_malloc_ts(pick(x >> 8));
        REQUIRE(live[i] != NULL);
        live[i][0] = (char)k;
        tc = la_tc;
        if (tc->medium_hot && hot_at == MAX_STEPS)
            hot_at = k;
        if (k == hot_at + HOT_STEPS) // its bins have grown since
            break;
    }
    r->steps_per_ms = (double)k / (now_ms() - start + 1e-3);
    r->hot = tc->medium_hot;
    r->above_shared = top_bin_holds_over(tc, 0);
    r->grew = top_bin_holds_over(tc, COLD_MOST_ABOVE_SHARED);
    if (r->hot)
        refill_one_at_a_time(tc, r);
    for (size_t i = 0; i < LIVE; i++) {
        mem_free_ts(live[i]);
        live[i] = NULL;
    }
    // Memory given back: the next call empties the cache and cools it.
    mem_trim(0);
    void *q = mem_malloc_ts(3000);
    r->cooled = !la_tc->medium_hot;
    r->cap_bytes_after = la_tc->medium_cap_bytes;
    r->above_shared_after = top_bin_holds_over(la_tc, 0);
    mem_free_ts(q);
    return NULL;
}

/* ---- a producer and a consumer of medium blocks -------------------------- */

#define HANDOFFS 400000
#define RING 256

static char *ring[RING];
static unsigned ring_head, ring_tail; // written by the producer / the consumer
static bool producer_hot, consumer_hot;

static void *producer(void *arg)
{
    (void)arg;
    uint64_t s = 2463534242ull;
    for (unsigned n = 0; n < HANDOFFS; n++) {
        char *p = mem_malloc_ts(pick(rng_next(&s)));
        REQUIRE(p != NULL);
        p[0] = 1;
        while (n - __atomic_load_n(&ring_tail, __ATOMIC_ACQUIRE) >= RING)
            ; // full: the consumer frees
        ring[n % RING] = p;
        __atomic_store_n(&ring_head, n + 1, __ATOMIC_RELEASE);
    }
    producer_hot = la_tc->medium_hot;
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    mem_free_ts(mem_malloc_ts(1)); // its cache, before the first free
    for (unsigned n = 0; n < HANDOFFS; n++) {
        while (__atomic_load_n(&ring_head, __ATOMIC_ACQUIRE) == n)
            ; // empty: the producer allocates
        char *p = ring[n % RING];
        CHECK_EQ(p[0], 1);
        mem_free_ts(p);
        __atomic_store_n(&ring_tail, n + 1, __ATOMIC_RELEASE);
    }
    consumer_hot = la_tc->medium_hot;
    return NULL;
}

int main(void)
{
    mem_free_ts(mem_malloc_ts(1)); // the main thread's cache: a threaded process
    churn_result_t r = {0};
    pthread_t t, u;
    REQUIRE(pthread_create(&t, NULL, churner, &r) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
    // The rule is a rate: LA_TC_HOT_TRIPS heap trips within LA_TC_HOT_MS.
    // A machine that cannot make that many steps in that time (every step
    // at most one free to the heap) cannot show it; such a run says so.
    if (!r.hot && r.steps_per_ms * LA_TC_HOT_MS < 2.0 * LA_TC_HOT_TRIPS) {
        printf("test_medium_hot: hot budget not checked: this machine churned %.0f steps a "
               "millisecond, too few for %d trips in %d ms\n",
               r.steps_per_ms, LA_TC_HOT_TRIPS, LA_TC_HOT_MS);
    } else {
        CHECK(r.hot);
        CHECK(r.above_shared);
        CHECK(r.grew);
        // A cold bin of that capacity would take two blocks or more.
        CHECK(r.top_cap >= 4);
        CHECK(r.refills > 0);
        CHECK_EQ(r.refill_most, LA_TC_HOT_REFILL);
        CHECK(r.cooled);
        CHECK_EQ(r.cap_bytes_after, 0);
        CHECK(!r.above_shared_after);
    }

    REQUIRE(pthread_create(&t, NULL, producer, NULL) == 0);
    REQUIRE(pthread_create(&u, NULL, consumer, NULL) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
    REQUIRE(pthread_join(u, NULL) == 0);
    CHECK(!producer_hot);
    CHECK(!consumer_hot);
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_medium_hot");
}
