// SPDX-License-Identifier: MIT
/*
 * w_ruby: a ruby-style object loop.  Ruby's GC accounts for malloc'ed
 * memory by asking malloc_usable_size of every block before it frees it,
 * so that call sits on the free path of every object.  A table of live
 * objects (strings and arrays of 16..512 B, a few buffers up to 4 KiB) is
 * churned at random: each step sizes the old object with
 * malloc_usable_size, frees it and allocates its replacement; one step in
 * eight grows an object with realloc instead, sizing it first as well.
 * Usage: w_ruby [scale]
 */
#include <malloc.h>

#include "wl.h"

#define NOBJECTS 20000
#define TOTAL_STEPS 20000000

static size_t pick_len(wl_rng_t *rng)
{
    uint64_t r = wl_next(rng);
    if (r % 64 == 0)
        return 512 + (size_t)((r >> 8) % 3584); // the odd buffer
    return 16 + (size_t)((r >> 8) % 497);
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, NULL);
    uint64_t steps = wl_scaled(TOTAL_STEPS, a.scale);
    unsigned char **obj = calloc(NOBJECTS, sizeof *obj);
    size_t *len = calloc(NOBJECTS, sizeof *len);
    if (obj == NULL || len == NULL)
        abort();
    wl_rng_t rng = wl_rng(16);
    uint64_t sum = 0, accounted = 0; // accounted: what the "GC" believes is live
    for (size_t i = 0; i < NOBJECTS; i++) {
        len[i] = pick_len(&rng);
        obj[i] = wl_malloc(len[i]);
        obj[i][0] = (unsigned char)i;
        obj[i][len[i] - 1] = (unsigned char)(i >> 8);
        accounted += malloc_usable_size(obj[i]);
    }
    for (uint64_t k = 0; k < steps; k++) {
        uint64_t r = wl_next(&rng);
        size_t i = (size_t)(r % NOBJECTS);
        size_t usable = malloc_usable_size(obj[i]);
        if (usable < len[i])
            abort(); // an allocator that lies about the usable size
        accounted -= usable;
        sum += wl_mix(len[i]) + obj[i][0] + obj[i][len[i] - 1];
        if ((r >> 40) % 8 == 0 && len[i] < 4096) {
            len[i] += 1 + (size_t)((r >> 48) % 64);
            obj[i] = wl_realloc(obj[i], len[i]);
        } else {
            free(obj[i]);
            len[i] = pick_len(&rng);
            obj[i] = wl_malloc(len[i]);
        }
        obj[i][0] = (unsigned char)k;
        obj[i][len[i] - 1] = (unsigned char)(k >> 8);
        accounted += malloc_usable_size(obj[i]);
    }
    for (size_t i = 0; i < NOBJECTS; i++) {
        sum += wl_mix(len[i]) + obj[i][0] + obj[i][len[i] - 1];
        accounted -= malloc_usable_size(obj[i]);
        free(obj[i]);
    }
    free(obj);
    free(len);
    if (accounted != 0)
        abort();
    wl_print_checksum(sum);
    return 0;
}
