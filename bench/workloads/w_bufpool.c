// SPDX-License-Identifier: MIT
/*
 * w_bufpool: about 20 live buffers of 5-25 MB, freed and allocated again
 * in random order, each zero-filled when allocated: the pattern of image,
 * compression and database buffer pools (issue 14).  An allocator that
 * unmaps every freed buffer and maps a fresh one pays a page fault for
 * every page of every buffer; one that reuses freed mappings pays only for
 * the growth.  Wall time and peak RSS are the figures.
 * Usage: w_bufpool [scale]
 */
#include "wl.h"

#define LIVE 20
#define MIN_BYTES ((size_t)5 << 20)
#define SPAN_BYTES ((size_t)20 << 20)
#define ROUNDS 1000 // allocations at scale 1

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, "");
    uint64_t rounds = wl_scaled(ROUNDS, a.scale);
    wl_rng_t rng = wl_rng(42);
    uint64_t sum = 0;
    unsigned char *buf[LIVE] = {0};
    size_t len[LIVE] = {0};
    for (uint64_t r = 0; r < rounds + LIVE; r++) {
        unsigned i = (unsigned)(r < LIVE ? r : wl_next(&rng) % LIVE);
        if (buf[i] != NULL) {
            sum += buf[i][len[i] / 2];
            free(buf[i]);
        }
        len[i] = MIN_BYTES + wl_next(&rng) % SPAN_BYTES;
        buf[i] = wl_malloc(len[i]);
        memset(buf[i], 0, len[i]);
        buf[i][len[i] / 2] = (unsigned char)r;
    }
    for (unsigned i = 0; i < LIVE; i++)
        free(buf[i]);
    wl_print_checksum(sum);
    return 0;
}
