// SPDX-License-Identifier: MIT
/*
 * w_pairs: single-threaded malloc/free pairs, the size cycling over
 * 16..1024 bytes (the same nine sizes as ins_loop).  Nothing stays live
 * between iterations, so this is the allocator's fast path with a hot
 * cache: a thread cache or a bin head pop.  (Cycling over ten or more size
 * classes makes mimalloc 2.0 retire and rebuild a page per call, ~20x
 * slower: a real but artificial cliff, kept out of this workload.)
 * Usage: w_pairs [scale]
 */
#include "wl.h"

static const size_t sizes_bytes[] = {16, 32, 48, 64, 100, 128, 256, 512, 1024};
#define NSIZES (sizeof sizes_bytes / sizeof sizes_bytes[0])

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, NULL);
    uint64_t n = wl_scaled(30000000, a.scale);
    uint64_t sum = 0;
    size_t k = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t len = sizes_bytes[k];
        if (++k == NSIZES)
            k = 0;
        unsigned char *p = wl_malloc(len);
        p[0] = (unsigned char)i;
        p[len - 1] = (unsigned char)(i >> 3);
        sum += (uint64_t)p[0] * 3 + p[len - 1];
        free(p);
    }
    wl_print_checksum(sum);
    return 0;
}
