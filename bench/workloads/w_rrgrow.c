// SPDX-License-Identifier: MIT
/*
 * w_rrgrow: round-robin realloc growth by small steps.  500 strings each
 * grow by 1..64 bytes per pass, interleaved, until every one reaches 64 KiB.
 * Each string's neighbour is another live string, so an exact-fit
 * allocator must move (and copy) on almost every step; a size-class
 * allocator grows inside the class and moves once per class.
 * Usage: w_rrgrow [scale]     (scale multiplies the rounds: 1.0 = 1 round)
 */
#include "wl.h"

#define NSTRINGS 500
#define MAX_STEP_BYTES 64
#define GOAL_BYTES (64 * 1024)

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, NULL);
    // Below one round, shrink the goal instead, so --quick stays quick.
    uint64_t rounds = wl_scaled(1, a.scale);
    size_t goal = a.scale < 1.0 ? (size_t)wl_scaled(GOAL_BYTES, a.scale) : GOAL_BYTES;
    char *buf[NSTRINGS] = {0};
    size_t len[NSTRINGS];
    wl_rng_t rng = wl_rng(13);
    uint64_t sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        for (size_t j = 0; j < NSTRINGS; j++)
            len[j] = 0;
        for (int growing = 1; growing;) {
            growing = 0;
            for (size_t j = 0; j < NSTRINGS; j++) {
                if (len[j] >= goal)
                    continue;
                growing = 1;
                size_t step = 1 + (size_t)(wl_next(&rng) % MAX_STEP_BYTES);
                buf[j] = wl_realloc(buf[j], len[j] + step + 1);
                memset(buf[j] + len[j], 'a' + (int)((j + len[j]) % 26), step);
                len[j] += step;
                buf[j][len[j]] = '\0';
            }
        }
        for (size_t j = 0; j < NSTRINGS; j++) {
            sum += wl_mix(len[j]) + (unsigned char)buf[j][0] + (unsigned char)buf[j][len[j] / 2] +
                   (unsigned char)buf[j][len[j] - 1];
            free(buf[j]);
            buf[j] = NULL;
        }
    }
    wl_print_checksum(sum);
    return 0;
}
