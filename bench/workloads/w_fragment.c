// SPDX-License-Identifier: MIT
/*
 * w_fragment: random sizes with mixed lifetimes.  A slot array where a
 * random slot's block is freed and replaced: half the picks fall in a
 * small hot region (short lives), half anywhere (long lives), and every
 * 256th block is kept to the end.  Sizes are mostly small with a tail up to
 * 64 KiB.  Time measures the general case; peak RSS measures fragmentation.
 * Usage: w_fragment [scale]
 */
#include "wl.h"

#define NSLOTS (1u << 15)
#define HOT_SLOTS (NSLOTS / 16)
#define KEEP_EVERY 256 // one block in this many lives until exit

static size_t pick_len(wl_rng_t *rng)
{
    uint64_t r = wl_next(rng);
    unsigned pct = (unsigned)(r % 100);
    r >>= 8;
    if (pct < 85)
        return 16 + (size_t)(r % 240);        // 16..255 B
    if (pct < 97)
        return 256 + (size_t)(r % 3840);      // up to 4 KiB
    return 4096 + (size_t)(r % (60 * 1024)); // up to 64 KiB
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, NULL);
    uint64_t nops = wl_scaled(2000000, a.scale);
    void **slot = calloc(NSLOTS, sizeof *slot);
    size_t *slot_len = calloc(NSLOTS, sizeof *slot_len);
    size_t nkeep = (size_t)(nops / KEEP_EVERY) + 1, kept = 0;
    void **keep = calloc(nkeep, sizeof *keep);
    size_t *keep_len = calloc(nkeep, sizeof *keep_len);
    if (slot == NULL || slot_len == NULL || keep == NULL || keep_len == NULL)
        abort();
    wl_rng_t rng = wl_rng(3);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < nops; i++) {
        uint64_t r = wl_next(&rng);
        size_t s = (r & 1) ? (size_t)((r >> 1) % HOT_SLOTS) : (size_t)((r >> 1) % NSLOTS);
        if (slot[s] != NULL) {
            sum += wl_read(slot[s], slot_len[s]);
            free(slot[s]);
        }
        size_t len = pick_len(&rng);
        slot[s] = wl_malloc(len);
        slot_len[s] = len;
        wl_touch(slot[s], len, i);
        if (i % KEEP_EVERY == 0) {
            len = pick_len(&rng);
            keep[kept] = wl_malloc(len);
            keep_len[kept] = len;
            wl_touch(keep[kept], len, ~i);
            kept++;
        }
    }
    for (size_t s = 0; s < NSLOTS; s++)
        if (slot[s] != NULL) {
            sum += wl_read(slot[s], slot_len[s]);
            free(slot[s]);
        }
    for (size_t k = 0; k < kept; k++) {
        sum += wl_read(keep[k], keep_len[k]);
        free(keep[k]);
    }
    free(slot);
    free(slot_len);
    free(keep);
    free(keep_len);
    wl_print_checksum(sum);
    return 0;
}
