// SPDX-License-Identifier: MIT
/*
 * w_bigbuf: one big buffer, two patterns.  "grow" reallocs one buffer
 * from 1 byte to 256 MiB by doubling, writing one byte per page of each
 * new half as a growing vector would, then frees it; the whole growth
 * repeats.  "loop" mallocs a 1 MiB block, writes one byte in each of its
 * pages, reads them back and frees it, over and over: an allocator that
 * unmaps or purges such a block on every free pays 256 page faults each
 * time.  "aligned" is "loop" with posix_memalign(4096, 1 MiB): page-aligned
 * I/O buffers (O_DIRECT), whose alignment must not cost a mapping each.
 * "turns" grows two buffers by doubling to 64 KiB, one step each in turn
 * (each move lands past the other), then frees both, over and over: a
 * few hundred KiB through the heap's top a round, which an allocator that
 * trims the top at every free asks the kernel for, and faults in, again.
 * Wall time is the figure.
 * Usage: w_bigbuf [scale] [threads=1] [grow|loop|aligned|turns]
 */
#include "wl.h"

#define GROW_MAX_BYTES ((size_t)256 * 1024 * 1024)
#define GROW_ROUNDS 2 // at scale 1: 256 MiB of page faults each
#define LOOP_BYTES ((size_t)1024 * 1024)
#define LOOP_ROUNDS 50000 // at scale 1
// glibc maps every aligned buffer (19 s for 50,000): fewer keep the report short.
#define ALIGNED_ROUNDS 10000
#define TURNS_MAX_BYTES ((size_t)64 * 1024)
#define TURNS_ROUNDS 20000 // at scale 1

static uint64_t grow(uint64_t rounds)
{
    uint64_t sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        size_t cap = 1;
        unsigned char *buf = wl_malloc(cap);
        buf[0] = (unsigned char)r;
        while (cap < GROW_MAX_BYTES) {
            size_t old = cap;
            cap *= 2;
            buf = wl_realloc(buf, cap);
            // realloc must have kept the old contents: first and last byte.
            sum += buf[0] + buf[old - 1];
            for (size_t off = old; off < cap; off += WL_PAGE_BYTES)
                buf[off] = (unsigned char)(off >> 12);
            buf[cap - 1] = (unsigned char)r;
        }
        for (size_t off = 0; off < cap; off += 64 * WL_PAGE_BYTES)
            sum += buf[off];
        free(buf);
    }
    return sum;
}

// align: 0 for malloc, else posix_memalign's alignment.
static uint64_t loop(uint64_t rounds, size_t align)
{
    uint64_t sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        unsigned char *b;
        if (align == 0) {
            b = wl_malloc(LOOP_BYTES);
        } else if (posix_memalign((void **)&b, align, LOOP_BYTES) != 0) {
            fprintf(stderr, "posix_memalign failed\n");
            abort();
        }
        wl_touch(b, LOOP_BYTES, r);
        for (size_t off = WL_PAGE_BYTES; off < LOOP_BYTES; off += WL_PAGE_BYTES)
            sum += b[off];
        sum += wl_read(b, LOOP_BYTES);
        free(b);
    }
    return sum;
}

static uint64_t turns(uint64_t rounds)
{
    uint64_t sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        unsigned char *a = NULL, *b = NULL;
        for (size_t cap = 16; cap <= TURNS_MAX_BYTES; cap *= 2) {
            a = wl_realloc(a, cap);
            a[cap - 1] = (unsigned char)r;
            b = wl_realloc(b, cap + 8);
            b[cap + 7] = (unsigned char)cap;
            if (cap > 16) // the step before wrote these: realloc kept them
                sum += a[cap / 2 - 1] + b[cap / 2 + 7];
        }
        sum += a[TURNS_MAX_BYTES - 1] + b[TURNS_MAX_BYTES + 7];
        free(a);
        free(b);
    }
    return sum;
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads=1] [grow|loop|aligned|turns]", 1, "grow");
    uint64_t sum;
    if (strcmp(a.mode, "grow") == 0) {
        sum = grow(wl_scaled(GROW_ROUNDS, a.scale));
    } else if (strcmp(a.mode, "loop") == 0) {
        sum = loop(wl_scaled(LOOP_ROUNDS, a.scale), 0);
    } else if (strcmp(a.mode, "aligned") == 0) {
        sum = loop(wl_scaled(ALIGNED_ROUNDS, a.scale), WL_PAGE_BYTES);
    } else if (strcmp(a.mode, "turns") == 0) {
        sum = turns(wl_scaled(TURNS_ROUNDS, a.scale));
    } else {
        fprintf(stderr, "%s: mode must be grow, loop, aligned or turns\n", argv[0]);
        return 2;
    }
    wl_print_checksum(sum);
    return 0;
}
