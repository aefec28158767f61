// SPDX-License-Identifier: MIT
/*
 * w_medium: threads churning medium blocks, the sizes of a server's
 * per-request buffers.  Each of T threads keeps LIVE blocks of 2..64 KiB
 * and at each step frees a random one and allocates its replacement, of a
 * random size, writing a byte at each end.  The total work is fixed and
 * split over the threads.  An allocator with spans of equal blocks per
 * size class (tcmalloc, mimalloc) serves these as it serves small blocks;
 * a boundary-tag heap searches, splits and coalesces for every request
 * its thread cache cannot serve.
 * Usage: w_medium [scale] [threads]
 */
#include "wl.h"

#define LIVE 64 // blocks per thread
#define MIN_BYTES 2048
#define MAX_BYTES (64 * 1024)
#define TOTAL_STEPS 4000000

static void *worker(void *arg)
{
    wl_worker_t *w = arg;
    wl_rng_t rng = wl_rng(200 + (uint64_t)w->id);
    unsigned char *live[LIVE] = {0};
    size_t len[LIVE] = {0};
    uint64_t sum = 0;
    for (uint64_t k = 0; k < w->steps; k++) {
        uint64_t r = wl_next(&rng);
        size_t i = (size_t)(r % LIVE);
        if (live[i] != NULL) {
            sum += live[i][0] + live[i][len[i] - 1];
            free(live[i]);
        }
        len[i] = MIN_BYTES + (size_t)((r >> 8) % (MAX_BYTES - MIN_BYTES + 1));
        live[i] = wl_malloc(len[i]);
        live[i][0] = (unsigned char)k;
        live[i][len[i] - 1] = (unsigned char)(k >> 8);
    }
    for (size_t i = 0; i < LIVE; i++)
        if (live[i] != NULL) {
            sum += live[i][0] + live[i][len[i] - 1];
            free(live[i]);
        }
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads]", 1, NULL);
    uint64_t sum = wl_run_workers(a.threads, wl_scaled(TOTAL_STEPS, a.scale), worker);
    wl_print_checksum(sum);
    return 0;
}
