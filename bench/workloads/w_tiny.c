// SPDX-License-Identifier: MIT
/*
 * w_tiny: blocks of 1..8 bytes, the size of short strings (a word, a
 * number's digits, a strdup of a flag) and of one-pointer nodes.  First
 * malloc+free pairs, the size cycling over 1..8, then rounds of 100k such
 * blocks allocated and freed in allocation order.  Allocators with an
 * 8-byte class (jemalloc, tcmalloc, mimalloc, liballocator) spend 8 bytes
 * on each; glibc spends 32.
 * Usage: w_tiny [scale]
 */
#include "wl.h"

#define PAIRS 10000000
#define NBLOCKS 100000
#define ROUNDS 100

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, NULL);
    uint64_t pairs = wl_scaled(PAIRS, a.scale), rounds = wl_scaled(ROUNDS, a.scale);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < pairs; i++) {
        size_t len = 1 + (size_t)(i & 7);
        unsigned char *p = wl_malloc(len);
        p[0] = (unsigned char)i;
        p[len - 1] = (unsigned char)(i >> 3);
        sum += (uint64_t)p[0] * 3 + p[len - 1];
        free(p);
    }
    unsigned char **blk = calloc(NBLOCKS, sizeof *blk);
    if (blk == NULL)
        abort();
    for (uint64_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < NBLOCKS; i++) {
            size_t len = 1 + (i & 7);
            blk[i] = wl_malloc(len);
            blk[i][0] = (unsigned char)(r + i);
            blk[i][len - 1] = (unsigned char)i;
        }
        for (size_t i = 0; i < NBLOCKS; i++) {
            sum += blk[i][0] + (uint64_t)blk[i][(i & 7)];
            free(blk[i]);
        }
    }
    free(blk);
    wl_print_checksum(sum);
    return 0;
}
