// SPDX-License-Identifier: MIT
/*
 * w_memret: does freed memory go back to the kernel?  Allocates 1 GiB
 * (times the scale) in blocks of mixed sizes, touching every page, frees
 * them all in a shuffled order, then either asks the allocator to give
 * its free memory back ("trim": its own call, wl_purge) or waits out a
 * decay period and makes a few dozen more calls ("decay").
 * Prints the resident set at start, at peak, right after the frees and at
 * the end; the figures, not the time, are the point.
 * Usage: w_memret [scale] [threads=1] [trim|decay] [wait_ms=1500]
 */
#include <sys/mman.h>

#include "wl.h"

#define TOTAL_BYTES (1024.0 * 1024 * 1024)
// liballocator's default decay is 1000 ms (ALLOCATOR_DECAY_MS): the default
// wait leaves it half a period of slack.
#define DEFAULT_WAIT_MS 1500
// The "few more calls" after the wait: malloc+free pairs, half of them of
// 40-100 KiB, which no thread cache serves, so they reach the slow paths
// where an allocator without a background thread notices the time.
#define AFTER_PAIRS 48

static const size_t after_len[] = {24, 200, 1000, 6000, 40 * 1024, 56 * 1024, 80 * 1024, 100 * 1024};

// Mostly small and medium by count; by bytes, the 8 KiB+ tail dominates.
static size_t pick_len(wl_rng_t *rng)
{
    uint64_t r = wl_next(rng);
    unsigned per_mille = (unsigned)(r % 1000);
    r >>= 10;
    if (per_mille < 700)
        return 16 + (size_t)(r % 496);                  // 16..511 B
    if (per_mille < 950)
        return 512 + (size_t)(r % (8 * 1024 - 512));    // to 8 KiB
    if (per_mille < 995)
        return 8 * 1024 + (size_t)(r % (56 * 1024));    // to 64 KiB
    return 64 * 1024 + (size_t)(r % (320 * 1024));      // to 384 KiB
}

// The block table is mapped directly, not malloc'ed: it must not sit in
// the heap being measured.  It is unmapped before the "freed" reading.
static void *map_table(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        abort();
    }
    return p;
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads=1] [trim|decay] [wait_ms]", 1, "trim");
    int decay = strcmp(a.mode, "decay") == 0;
    if (!decay && strcmp(a.mode, "trim") != 0) {
        fprintf(stderr, "%s: mode must be trim or decay\n", argv[0]);
        return 2;
    }
    unsigned wait_ms = argc > 4 ? (unsigned)atoi(argv[4]) : DEFAULT_WAIT_MS;
    uint64_t rss_start = wl_rss_kib();

    // Count the blocks first (same seed), so that the table is exact.
    double target = TOTAL_BYTES * a.scale;
    size_t nblocks = 0;
    wl_rng_t rng = wl_rng(7);
    for (double bytes = 0; bytes < target; nblocks++)
        bytes += (double)pick_len(&rng);
    size_t table_bytes = nblocks * (sizeof(void *) + sizeof(uint32_t));
    void **blk = map_table(table_bytes);
    uint32_t *len = (uint32_t *)(blk + nblocks);

    rng = wl_rng(7);
    for (size_t i = 0; i < nblocks; i++) {
        len[i] = (uint32_t)pick_len(&rng);
        blk[i] = wl_malloc(len[i]);
        wl_touch(blk[i], len[i], i);
    }
    uint64_t rss_peak = wl_rss_kib();

    // Free in a shuffled order: blocks die in no particular order, and an
    // allocator must coalesce its way back to empty pages.
    wl_rng_t shuf = wl_rng(8);
    for (size_t i = nblocks - 1; i > 0; i--) {
        size_t j = (size_t)(wl_next(&shuf) % (i + 1));
        void *p = blk[i];
        blk[i] = blk[j];
        blk[j] = p;
        uint32_t l = len[i];
        len[i] = len[j];
        len[j] = l;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < nblocks; i++) {
        sum += wl_read(blk[i], len[i]);
        free(blk[i]);
    }
    munmap(blk, table_bytes);
    uint64_t rss_freed = wl_rss_kib(), rss_waited = 0;
    const char *purge = NULL;

    if (decay) {
        wl_sleep_ms(wait_ms);
        rss_waited = wl_rss_kib();
        size_t nlen = sizeof after_len / sizeof after_len[0];
        for (int i = 0; i < AFTER_PAIRS; i++) {
            size_t n = after_len[i % nlen];
            void *p = wl_malloc(n);
            wl_touch(p, n, (uint64_t)i);
            sum += wl_read(p, n);
            free(p);
        }
    } else {
        purge = wl_purge();
    }
    uint64_t rss_end = wl_rss_kib();

    // Printed last: stdout's buffer is malloc'ed on first use.
    printf("blocks %zu\n", nblocks);
    printf("rss_start_kib %llu\n", (unsigned long long)rss_start);
    printf("rss_peak_kib %llu\n", (unsigned long long)rss_peak);
    printf("rss_freed_kib %llu\n", (unsigned long long)rss_freed);
    if (decay) {
        printf("wait_ms %u\n", wait_ms);
        printf("rss_waited_kib %llu\n", (unsigned long long)rss_waited);
    }
    printf("rss_end_kib %llu\n", (unsigned long long)rss_end);
    if (purge != NULL)
        printf("purge %s\n", purge);
    wl_print_checksum(sum);
    return 0;
}
