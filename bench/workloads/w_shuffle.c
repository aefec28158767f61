// SPDX-License-Identifier: MIT
/*
 * w_shuffle: a batch of 200k mixed small blocks (16..256 B) allocated,
 * then freed in a shuffled order; several rounds.  The batch is far larger
 * than any thread cache, so frees reach the allocator's shared structures
 * in an order unrelated to their addresses: a boundary-tag heap coalesces
 * and re-splits, a slab allocator only pushes slots back.
 * Usage: w_shuffle [scale]     (scale multiplies the rounds: 1.0 = 10 rounds)
 */
#include "wl.h"

#define NBLOCKS 200000

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, NULL);
    uint64_t rounds = wl_scaled(10, a.scale);
    void **blk = calloc(NBLOCKS, sizeof *blk);
    uint32_t *len = calloc(NBLOCKS, sizeof *len), *order = calloc(NBLOCKS, sizeof *order);
    if (blk == NULL || len == NULL || order == NULL)
        abort();
    wl_rng_t rng = wl_rng(14);
    uint64_t sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < NBLOCKS; i++) {
            len[i] = 16 + (uint32_t)(wl_next(&rng) % 241);
            order[i] = (uint32_t)i;
        }
        for (size_t i = NBLOCKS - 1; i > 0; i--) { // Fisher-Yates
            size_t k = (size_t)(wl_next(&rng) % (i + 1));
            uint32_t t = order[i];
            order[i] = order[k];
            order[k] = t;
        }
        for (size_t i = 0; i < NBLOCKS; i++) {
            blk[i] = wl_malloc(len[i]);
            wl_touch(blk[i], len[i], r * NBLOCKS + i);
        }
        for (size_t i = 0; i < NBLOCKS; i++) {
            uint32_t k = order[i];
            sum += wl_read(blk[k], len[k]);
            free(blk[k]);
        }
    }
    free(blk);
    free(len);
    free(order);
    wl_print_checksum(sum);
    return 0;
}
