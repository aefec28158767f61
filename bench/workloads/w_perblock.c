// SPDX-License-Identifier: MIT
/*
 * w_perblock: bytes of resident memory per live block of one request size
 * (issue 13's table).  Reads RSS, allocates N blocks of BYTES each and
 * writes one byte into every block, reads RSS again, and prints
 * (after - before) / N: the slot the allocator rounds the request up to
 * plus whatever header, slab metadata and page waste it keeps per block.
 * N defaults to what makes about 32 MiB of requested bytes, so the
 * one-time costs (a first slab, an arena header) vanish in the quotient.
 * The figures, not the time, are the point.
 * Usage: w_perblock [scale] [threads=1] [bytes=16] [count]
 */
#include <sys/mman.h>

#include "wl.h"

// Requested bytes live at once at scale 1, when no count is given: large
// enough that a MiB of per-allocator start-up memory is a few percent of a
// byte per block at 8 B, small enough that 8 B (4M blocks) runs in 0.2 s.
#define LIVE_BYTES (32u * 1024 * 1024)
#define MAX_COUNT (4u * 1024 * 1024)  // caps the pointer table at 32 MiB
#define MIN_COUNT 10000u              // the page-rounding error stays below 0.5 B/block
#define MAX_REQUEST_BYTES (1u << 20)  // beyond this no allocator packs blocks anyway

// The pointer table is mapped directly, not malloc'ed, and every page of
// it is written before the first reading: it must count neither in the
// heap being measured nor in the RSS difference.
static void *map_table(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        abort();
    }
    memset(p, 0, bytes);
    return p;
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads=1] [bytes=16] [count]", 1, "16");
    size_t req_bytes = (size_t)strtoul(a.mode, NULL, 10);
    if (req_bytes < 1 || req_bytes > MAX_REQUEST_BYTES) {
        fprintf(stderr, "%s: bytes must be 1..%u\n", argv[0], MAX_REQUEST_BYTES);
        return 2;
    }
    uint64_t count;
    if (argc > 4) {
        count = strtoull(argv[4], NULL, 10);
    } else {
        uint64_t base = LIVE_BYTES / req_bytes;
        base = base > MAX_COUNT ? MAX_COUNT : base < MIN_COUNT ? MIN_COUNT : base;
        count = wl_scaled(base, a.scale);
    }
    if (count < 1 || count > 16 * (uint64_t)MAX_COUNT) {
        fprintf(stderr, "%s: count must be 1..%u\n", argv[0], 16 * MAX_COUNT);
        return 2;
    }
    unsigned char **blocks = map_table(count * sizeof *blocks);

    // One block of the same size first, freed again: the allocator's lazy
    // start-up (arena, thread cache, size-class table) is not per block.
    // Nothing may be printed before the second reading: stdio mallocs its
    // buffer on first use.
    free(wl_malloc(req_bytes));
    uint64_t rss_before_kib = wl_rss_kib();
    for (uint64_t i = 0; i < count; i++) {
        blocks[i] = wl_malloc(req_bytes);
        blocks[i][0] = (unsigned char)wl_mix(i); // one byte: the block is used, its page resident
    }
    uint64_t rss_after_kib = wl_rss_kib();
    size_t usable_bytes = malloc_usable_size(blocks[0]);

    uint64_t sum = count * 31 + req_bytes;
    for (uint64_t i = 0; i < count; i++) {
        sum += blocks[i][0];
        free(blocks[i]);
    }
    munmap(blocks, count * sizeof *blocks);

    // RSS can shrink between the readings (a trim of free memory the
    // warm-up left), so the difference is signed.
    double delta_kib = (double)rss_after_kib - (double)rss_before_kib;
    printf("request_bytes %zu\n", req_bytes);
    printf("blocks %llu\n", (unsigned long long)count);
    printf("usable_bytes %zu\n", usable_bytes);
    printf("rss_before_kib %llu\n", (unsigned long long)rss_before_kib);
    printf("rss_after_kib %llu\n", (unsigned long long)rss_after_kib);
    printf("rss_delta_kib %.0f\n", delta_kib);
    printf("bytes_per_block %.1f\n", delta_kib * 1024.0 / (double)count);
    wl_print_checksum(sum);
    return 0;
}
