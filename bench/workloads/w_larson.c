// SPDX-License-Identifier: MIT
/*
 * w_larson: larson-style server churn with random remote frees.  T threads
 * share one array of slots; each step a thread allocates a block of a
 * random size (8..1000 B), writes it, swaps it into a random slot (one
 * atomic exchange) and frees what it took out, which any thread may have
 * allocated: with T threads about (T-1)/T of the frees are remote, in no
 * order.  The total work is fixed and split over the threads, so T = 1
 * against T = 2 gives the scaling ratio.  The checksum adds what every
 * block held when freed, which does not depend on who freed it.
 * Usage: w_larson [scale] [threads]
 */

#include "wl.h"

#define NSLOTS 16384 // 4 slots per cache line: spread out, contention stays low
#define TOTAL_STEPS 12000000
#define MIN_BYTES 8
#define MAX_BYTES 1000

static void *slot[NSLOTS];

// The length travels in the block itself (its first 4 bytes), so a slot
// holds just the pointer and one exchange hands over both.
static void *worker(void *arg)
{
    wl_worker_t *w = arg;
    wl_rng_t rng = wl_rng(100 + (uint64_t)w->id);
    uint64_t sum = 0;
    for (uint64_t k = 0; k < w->steps; k++) {
        uint64_t r = wl_next(&rng);
        size_t len = MIN_BYTES + (size_t)(r % (MAX_BYTES - MIN_BYTES + 1));
        unsigned char *p = wl_malloc(len);
        uint32_t len32 = (uint32_t)len;
        memcpy(p, &len32, sizeof len32);
        p[4] = (unsigned char)k;
        p[len - 1] = (unsigned char)(k >> 8);
        size_t i = (size_t)((r >> 32) % NSLOTS);
        unsigned char *old = __atomic_exchange_n((unsigned char **)&slot[i], p, __ATOMIC_ACQ_REL);
        if (old != NULL) {
            uint32_t olen;
            memcpy(&olen, old, sizeof olen);
            sum += wl_mix(olen) + old[4] + old[olen - 1];
            free(old);
        }
    }
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads]", 2, NULL);
    uint64_t sum = wl_run_workers(a.threads, wl_scaled(TOTAL_STEPS, a.scale), worker);
    for (size_t i = 0; i < NSLOTS; i++) {
        unsigned char *old = slot[i];
        if (old != NULL) {
            uint32_t olen;
            memcpy(&olen, old, sizeof olen);
            sum += wl_mix(olen) + old[4] + old[olen - 1];
            free(old);
        }
    }
    wl_print_checksum(sum);
    return 0;
}
