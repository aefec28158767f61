// SPDX-License-Identifier: MIT
/*
 * w_lastfree: the last free of each stretch of the heap.  Allocates N
 * blocks of 100 bytes, frees every one but the first in each 64 KiB of
 * address space (in allocation order), then frees those survivors, timed,
 * in allocation order: each is the last live block for 64 KiB around it,
 * so a slab allocator empties a slab (or a page of slots) with each.  The
 * figure is nanoseconds per survivor's free; it should not grow with N.
 * It did in liballocator, whose heap counted a class's empty slabs by
 * walking its slabs with free slots each time one emptied (issue 13's
 * slab layer): 0.34 s for 13,675 such frees, glibc 0.001 s.
 * Usage: w_lastfree [scale] [threads=1] [millions of blocks=1]
 */
#include "wl.h"

#define BLOCK_BYTES 100
#define STRETCH_BYTES (64 * 1024)

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads=1] [millions of blocks=1]", 1, "1");
    double millions = atof(a.mode);
    if (!(millions > 0.0) || millions > 64.0) {
        fprintf(stderr, "%s: millions of blocks must be above 0, at most 64\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)(millions * 1e6 * a.scale);
    n = n < 1000 ? 1000 : n;
    void **blk = malloc(n * sizeof *blk);
    if (blk == NULL)
        abort();
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        blk[i] = wl_malloc(BLOCK_BYTES);
        wl_touch(blk[i], BLOCK_BYTES, i);
        sum += wl_read(blk[i], BLOCK_BYTES); // which blocks survive depends on the allocator
    }
    // The survivors move to the front of blk[], in allocation order.
    size_t kept = 0;
    uintptr_t stretch = UINTPTR_MAX;
    for (size_t i = 0; i < n; i++) {
        uintptr_t s = (uintptr_t)blk[i] / STRETCH_BYTES;
        if (s != stretch) {
            stretch = s;
            blk[kept++] = blk[i];
        } else {
            free(blk[i]);
        }
    }
    double t0 = wl_now_s();
    for (size_t i = 0; i < kept; i++)
        free(blk[i]);
    double t = wl_now_s() - t0;
    free(blk);
    printf("blocks %zu\n", n);
    printf("last_frees %zu\n", kept);
    printf("last_free_ns %.1f\n", t * 1e9 / (double)kept);
    wl_print_checksum(sum);
    return 0;
}
