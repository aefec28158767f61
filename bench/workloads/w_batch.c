// SPDX-License-Identifier: MIT
/*
 * w_batch: allocate many blocks, then free them all.  1M blocks of mixed
 * small sizes (16..512 B) per round; one round frees in allocation order,
 * the next in reverse order.  Measures bulk refill and drain of free lists,
 * heap growth, and how the allocator copes with a cold, large working set.
 * Usage: w_batch [scale]     (scale multiplies the rounds: 1.0 = 2 rounds)
 */
#include "wl.h"

#define NBLOCKS (1u << 20)

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, NULL);
    // Below one round, shrink the block count instead, so --quick stays quick.
    uint64_t rounds = wl_scaled(4, a.scale);
    size_t nblocks = a.scale < 0.5 ? (size_t)wl_scaled(NBLOCKS * 2, a.scale) : NBLOCKS;
    void **blk = calloc(nblocks, sizeof *blk);
    size_t *len = calloc(nblocks, sizeof *len);
    if (blk == NULL || len == NULL)
        abort();
    wl_rng_t rng = wl_rng(1);
    for (size_t i = 0; i < nblocks; i++)
        len[i] = 16 + (size_t)(wl_next(&rng) % 241);
    uint64_t sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < nblocks; i++) {
            blk[i] = wl_malloc(len[i]);
            wl_touch(blk[i], len[i], r * nblocks + i);
        }
        if (r % 2 == 0) {
            for (size_t i = 0; i < nblocks; i++) {
                sum += wl_read(blk[i], len[i]);
                free(blk[i]);
            }
        } else {
            for (size_t i = nblocks; i-- > 0;) {
                sum += wl_read(blk[i], len[i]);
                free(blk[i]);
            }
        }
    }
    free(blk);
    free(len);
    wl_print_checksum(sum);
    return 0;
}
