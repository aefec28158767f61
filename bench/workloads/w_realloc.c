// SPDX-License-Identifier: MIT
/*
 * w_realloc: realloc growth.  Many string buffers grow in small steps,
 * interleaved so that a neighbour usually blocks growth in place (the
 * allocator must copy, or have left room in its size class); then one
 * array doubles up to 32 MiB (large-block growth: mremap or copy).
 * Usage: w_realloc [scale]     (scale multiplies the rounds: 1.0 = 2 rounds)
 */
#include "wl.h"

#define NBUFS 2000
#define MAX_STEP_BYTES 32
#define ARRAY_MAX_ELEMS (1u << 22) // 32 MiB of uint64_t

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, NULL);
    // Below one round, shrink the buffer count instead, so --quick stays quick.
    uint64_t rounds = wl_scaled(2, a.scale);
    size_t nbufs = a.scale < 0.5 ? (size_t)wl_scaled(NBUFS * 2, a.scale) : NBUFS;
    char **buf = calloc(nbufs, sizeof *buf);
    size_t *len = calloc(nbufs, sizeof *len), *goal = calloc(nbufs, sizeof *goal);
    if (buf == NULL || len == NULL || goal == NULL)
        abort();
    wl_rng_t rng = wl_rng(4);
    uint64_t sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        for (size_t j = 0; j < nbufs; j++) {
            len[j] = 0;
            goal[j] = 64 + (size_t)(wl_next(&rng) % 8192);
        }
        // Round-robin: every live buffer grows by a few bytes per pass,
        // as when many strings or vectors are built at once.
        for (int growing = 1; growing;) {
            growing = 0;
            for (size_t j = 0; j < nbufs; j++) {
                if (len[j] >= goal[j])
                    continue;
                growing = 1;
                size_t step = 1 + (size_t)(wl_next(&rng) % MAX_STEP_BYTES);
                buf[j] = wl_realloc(buf[j], len[j] + step + 1);
                memset(buf[j] + len[j], 'a' + (int)(j % 26), step);
                len[j] += step;
                buf[j][len[j]] = '\0';
            }
        }
        for (size_t j = 0; j < nbufs; j++) {
            sum += wl_mix(len[j]) + (unsigned char)buf[j][0] + (unsigned char)buf[j][len[j] / 2];
            free(buf[j]);
            buf[j] = NULL;
        }
        // One array doubling from one element, writing each new half.
        uint64_t *arr = NULL;
        size_t cap = 0, n = 0;
        while (n < ARRAY_MAX_ELEMS) {
            cap = cap ? cap * 2 : 1;
            arr = wl_realloc(arr, cap * sizeof *arr);
            for (; n < cap; n += 512) // one store per page
                arr[n] = n ^ r;
        }
        for (size_t k = 0; k < cap; k += 512)
            sum += arr[k];
        free(arr);
    }
    free(buf);
    free(len);
    free(goal);
    wl_print_checksum(sum);
    return 0;
}
