// SPDX-License-Identifier: MIT
/*
 * A randomised test of more than a million operations (malloc, calloc,
 * realloc, free, aligned alloc, through both mem_* and mem_*_ts) checked
 * against a shadow model: every live block's contents are a function of its
 * id, verified before every free and realloc; the statistics must equal the
 * model's; and the heap walker runs every few thousand operations.  A
 * slab slot (the _ts family's blocks of up to 1 KiB) has no header to keep
 * the size asked for, so the statistics count its class size: the model
 * asks slab_of() which blocks are slots.
 * Usage: test_random [ops] [seed]
 */
#include <errno.h>

#include "allocator.h"
#include "slab.h"
#include "../testhelper.h"

#define LIVE_MAX 4096
#define WALK_EVERY 4000

typedef struct {
    unsigned char *p;
    size_t n;
    size_t counted; // what the statistics count for it
    uint32_t id;
} shadow_t;

static size_t counted_bytes(void *p, size_t n) { return slab_of(p) ? mem_usable_size(p) : n; }

static shadow_t live[LIVE_MAX];

static unsigned char byte_of(uint32_t id, size_t i) { return (unsigned char)(id * 31 + i); }

static void fill(shadow_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->p[i] = byte_of(s->id, i);
}

static int intact(const shadow_t *s, size_t upto)
{
    for (size_t i = 0; i < upto && i < s->n; i++)
        if (s->p[i] != byte_of(s->id, i))
            return 0;
    return 1;
}

static size_t random_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    switch (r % 16) {
    case 0:
        return 0;
    case 1:
        return 8192 + r % 60000; // last class
    case 2:
        return (r >> 8) % 1000 == 0 ? 128 * 1024 + r % 500000 : r % 4096; // sometimes large
    default:
        return r % 300;
    }
}

int main(int argc, char **argv)
{
    long ops = argc > 1 ? atol(argv[1]) : 1200000;
    uint64_t rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x1234567ull;
    size_t model_live_bytes = 0, model_allocs = 0, model_frees = 0;
    uint32_t next_id = 1;
    mem_reset();
    size_t base_usage = mem_get_stats().current_usage;

    for (long op = 0; op < ops; op++) {
        shadow_t *s = &live[rng_next(&rng) % LIVE_MAX];
        int ts = (int)(rng_next(&rng) & 1);
        uint64_t kind = rng_next(&rng) % 10;
        if (s->p == NULL) {
            s->n = random_size(&rng);
            s->id = next_id++;
            if (kind < 6)
                s->p = ts ? mem_malloc_ts(s->n) : mem_malloc(s->n);
            else if (kind < 9) {
                s->p = ts ? mem_calloc_ts(1, s->n) : mem_calloc(s->n, 1);
                if (s->p != NULL)
                    for (size_t i = 0; i < s->n; i++)
                        if (s->p[i] != 0) {
                            CHECK(!"calloc returned non-zero bytes");
                            break;
                        }
            } else {
                size_t align = (size_t)32 << (rng_next(&rng) % 8);
                s->p = mem_aligned_alloc(align, s->n);
                if (s->p != NULL)
                    CHECK((uintptr_t)s->p % align == 0);
            }
            REQUIRE(s->p != NULL);
            CHECK((uintptr_t)s->p % (s->n <= 8 ? 8 : 16) == 0); // 8 for the 8-byte class
            CHECK(mem_usable_size(s->p) >= s->n);
            fill(s);
            s->counted = counted_bytes(s->p, s->n);
            model_live_bytes += s->counted;
            model_allocs++;
        } else if (kind < 5) {
            CHECK(intact(s, s->n));
            ts ? mem_free_ts(s->p) : mem_free(s->p);
            model_live_bytes -= s->counted;
            model_frees++;
            s->p = NULL;
        } else {
            CHECK(intact(s, s->n));
            size_t n = random_size(&rng);
            unsigned char *q = ts ? mem_realloc_ts(s->p, n) : mem_realloc(s->p, n);
            model_live_bytes -= s->counted;
            model_frees++;
            if (n == 0) {
                CHECK(q == NULL);
                s->p = NULL;
                continue;
            }
            REQUIRE(q != NULL);
            size_t old_n = s->n;
            s->p = q;
            s->n = n;
            CHECK(intact(s, old_n < n ? old_n : n));
            fill(s);
            s->counted = counted_bytes(s->p, n);
            model_live_bytes += s->counted;
            model_allocs++;
        }
        if (op % WALK_EVERY == 0) {
            if (mem_check_heap() != 0) {
                CHECK(!"heap walk failed");
                break;
            }
            mem_stats_t st = mem_get_stats();
            CHECK_EQ(st.current_usage - base_usage, model_live_bytes);
            CHECK_EQ(st.num_allocations, model_allocs);
            CHECK_EQ(st.num_frees, model_frees);
            if (test_failures > 20)
                break;
        }
    }
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i].p != NULL) {
            CHECK(intact(&live[i], live[i].n));
            mem_free(live[i].p);
            model_live_bytes -= live[i].counted;
        }
    CHECK_EQ(model_live_bytes, 0);
    CHECK_EQ(mem_get_stats().current_usage, base_usage);
    CHECK_EQ(mem_check_heap(), 0);
    printf("test_random: %ld operations\n", ops);
    return test_report("test_random");
}
