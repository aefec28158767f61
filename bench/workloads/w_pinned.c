// SPDX-License-Identifier: MIT
/*
 * w_pinned: fragmentation by long-lived blocks pinned between short-lived
 * ones.  Each phase allocates a batch of blocks of mixed sizes, keeps
 * every KEEP_EVERY-th for PIN_PHASES phases and frees the rest, so the
 * survivors sit between holes; the next phase draws its sizes from a
 * range scaled by another factor, so its blocks do not fit those holes
 * exactly.  An allocator that cannot reuse the holes grows instead.
 * Peak RSS is the figure; the time is secondary.
 * Usage: w_pinned [scale]
 */
#include "wl.h"

#define PHASES 24
#define PHASE_BYTES (48u * 1024 * 1024) // allocated per phase, at scale 1
#define KEEP_EVERY 8                    // 1 block in 8 outlives its phase
#define PIN_PHASES 6                    // ... by this many phases

// Size factors per phase, in percent: no two neighbours are close, so the
// holes one phase leaves are the wrong size for the next.
static const unsigned factor_pct[] = {100, 137, 71, 193, 53, 161, 83, 119, 61, 149, 89, 173};

static size_t pick_len(wl_rng_t *rng, unsigned pct)
{
    uint64_t r = wl_next(rng);
    unsigned p = (unsigned)(r % 100);
    size_t n;
    r >>= 8;
    if (p < 80)
        n = 16 + (size_t)(r % 496);                 // 16..511 B
    else if (p < 97)
        n = 512 + (size_t)(r % (8 * 1024 - 512));   // to 8 KiB
    else
        n = 8 * 1024 + (size_t)(r % (56 * 1024));   // to 64 KiB
    return n * pct / 100;
}

typedef struct {
    void **blk;
    size_t *len;
    size_t n;
} pins_t;

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 1, NULL);
    size_t phase_bytes = (size_t)wl_scaled(PHASE_BYTES, a.scale);
    // Blocks average over 1 KiB in every phase; the cap only bounds the
    // table, it is never reached.
    size_t max_blocks = phase_bytes / 256 + 1;
    void **blk = malloc(max_blocks * sizeof *blk);
    size_t *len = malloc(max_blocks * sizeof *len);
    pins_t pins[PIN_PHASES] = {{0}};
    if (blk == NULL || len == NULL)
        abort();
    wl_rng_t rng = wl_rng(11);
    uint64_t sum = 0;
    size_t nfactors = sizeof factor_pct / sizeof factor_pct[0];
    for (unsigned ph = 0; ph < PHASES; ph++) {
        // The pins of PIN_PHASES ago die first: their holes open up in
        // memory that by now has newer pins on every side.
        pins_t *old = &pins[ph % PIN_PHASES];
        for (size_t i = 0; i < old->n; i++) {
            sum += wl_read(old->blk[i], old->len[i]);
            free(old->blk[i]);
        }
        free(old->blk);
        free(old->len);
        size_t n = 0;
        for (size_t bytes = 0; bytes < phase_bytes && n < max_blocks; n++) {
            len[n] = pick_len(&rng, factor_pct[ph % nfactors]);
            blk[n] = wl_malloc(len[n]);
            wl_touch(blk[n], len[n], ((uint64_t)ph << 32) + n);
            bytes += len[n];
        }
        old->n = n / KEEP_EVERY;
        old->blk = wl_malloc(old->n * sizeof *old->blk + 1);
        old->len = wl_malloc(old->n * sizeof *old->len + 1);
        // The kept block's position in its group of KEEP_EVERY moves with
        // the phase, so pins do not line up with the previous phase's.
        // Every residue occurs at least n / KEEP_EVERY times: all slots fill.
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (i % KEEP_EVERY == ph % KEEP_EVERY && k < old->n) {
                old->blk[k] = blk[i];
                old->len[k++] = len[i];
                continue;
            }
            sum += wl_read(blk[i], len[i]);
            free(blk[i]);
        }
    }
    for (unsigned p = 0; p < PIN_PHASES; p++) {
        for (size_t i = 0; i < pins[p].n; i++) {
            sum += wl_read(pins[p].blk[i], pins[p].len[i]);
            free(pins[p].blk[i]);
        }
        free(pins[p].blk);
        free(pins[p].len);
    }
    free(blk);
    free(len);
    wl_print_checksum(sum);
    return 0;
}
