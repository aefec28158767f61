// SPDX-License-Identifier: MIT
/*
 * w_largefree: allocation among K free blocks above 8 KiB.  Builds a heap
 * of K blocks of spread sizes, each followed by a small live block so that
 * no two can merge, frees the K blocks, then times batches of requests of
 * random sizes in the same range: BATCH mallocs, then their frees.  The
 * figure is nanoseconds per malloc+free; for a best fit in O(log K) it
 * stays flat from K = 1,000 to 100,000.  Payloads are never touched, so
 * resident memory is what the allocator itself writes.
 * Usage: w_largefree [scale] [threads=1] [K]
 */
#include "wl.h"

#define MIN_BYTES 8200 // above 8 KiB
// Block sizes are MIN_BYTES + (i * SIZE_STEP) % SIZE_SPREAD: spread over the
// whole range for every K, all distinct below K = SIZE_SPREAD.  At K =
// 100,000 that is about 1.3 GiB of address space; every size stays far
// below glibc's 128 KiB mmap threshold, so no mallopt is needed.
#define SIZE_SPREAD 10000
#define SIZE_STEP 7919 // prime, coprime with SIZE_SPREAD
// Requests stop short of the largest sizes so that one always fits.
#define REQ_SPREAD (SIZE_SPREAD * 7 / 8)
// Requests live in batches this big: a malloc-free pair would be served
// by a thread cache (liballocator's and jemalloc's hold blocks up to
// 32 KiB) and never search; 256 blocks of ~13 KiB overflow them.
#define BATCH 256
#define FREE_STRIDE 97 // frees in a mixed order: coprime with BATCH
#define WARMUP_BATCHES 8
#define REQUESTS 200000 // timed, at scale 1

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads=1] [K]", 1, "10000");
    size_t k = (size_t)strtoul(a.mode, NULL, 10);
    if (k < 1 || k > 1000000) {
        fprintf(stderr, "%s: K must be 1..1000000\n", argv[0]);
        return 2;
    }
    void **big = malloc(k * sizeof *big), **sep = malloc(k * sizeof *sep);
    if (big == NULL || sep == NULL)
        abort();
    for (size_t i = 0; i < k; i++) {
        big[i] = wl_malloc(MIN_BYTES + (i * SIZE_STEP) % SIZE_SPREAD);
        sep[i] = wl_malloc(16 + i % 48);
    }
    for (size_t i = 0; i < k; i++)
        free(big[i]);

    uint64_t nbatches = wl_scaled(REQUESTS / BATCH, a.scale);
    void *req[BATCH];
    wl_rng_t rng = wl_rng(13);
    uint64_t sum = k;
    double t0 = 0;
    for (uint64_t b = 0; b < WARMUP_BATCHES + nbatches; b++) {
        if (b == WARMUP_BATCHES)
            t0 = wl_now_s();
        for (int j = 0; j < BATCH; j++) {
            size_t n = MIN_BYTES + (size_t)(wl_next(&rng) % REQ_SPREAD);
            req[j] = wl_malloc(n);
            sum += wl_mix(n);
        }
        for (int j = 0; j < BATCH; j++)
            free(req[(j * FREE_STRIDE) % BATCH]);
    }
    double t = wl_now_s() - t0;
    for (size_t i = 0; i < k; i++)
        free(sep[i]);
    free(big);
    free(sep);
    printf("free_blocks %zu\n", k);
    printf("requests %llu\n", (unsigned long long)(nbatches * BATCH));
    printf("request_ns %.1f\n", t * 1e9 / (double)(nbatches * BATCH));
    wl_print_checksum(sum);
    return 0;
}
