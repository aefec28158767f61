// SPDX-License-Identifier: MIT
/*
 * ins_loop: the instruction-count probe (run under callgrind by
 * bench/run.py --mode instructions).  "pair" does malloc(n) + free(p) in a
 * tight loop, n cycling over 16..1024; "batch" does 1000 mallocs and then
 * their 1000 frees.  Impl "libc" calls malloc/free (whatever LD_PRELOAD
 * provides), "new" C++'s operator new and delete (the preloaded library's
 * when it exports them, else libstdc++'s, which call malloc and free),
 * "aligned" aligned_alloc(64, n) and free (C++17's new of an alignas(64)
 * type takes this path through libstdc++), "tiny" malloc and free with n
 * cycling over 1..8 (an 8-byte class's blocks), "noop", "noop_aligned" and
 * "noop_tiny" call no-op functions of the same signatures in
 * libins_noop.so, all through the PLT, so the difference is the allocator.
 * Usage: ins_loop pair|batch libc|new|aligned|tiny|noop|noop_aligned|noop_tiny ITERATIONS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *ins_noop_malloc(size_t n);
void *ins_noop_aligned(size_t align, size_t n);
void ins_noop_free(void *p);
// operator new(size_t) and operator delete(void *), by their mangled names
// (the program links libstdc++).
void *_Znwm(size_t n);
void _ZdlPv(void *p);

static const size_t sizes_bytes[] = {16, 32, 48, 64, 100, 128, 256, 512, 1024};
static const size_t tiny_bytes[] = {1, 2, 3, 4, 5, 6, 7, 8};
#define BATCH 1000

static void *slot[BATCH];

// One macro makes both variants so that their loops compile alike; the
// barriers keep the pointer "used" without touching the block.
#define DEFINE_LOOPS(suffix, MALLOC, FREE, SIZES)                            \
    static __attribute__((noinline)) void pair_##suffix(uint64_t n)          \
    {                                                                        \
        size_t k = 0;                                                        \
        for (uint64_t i = 0; i < n; i++) {                                   \
            void *p = MALLOC(SIZES[k]);                                      \
            if (++k == sizeof SIZES / sizeof SIZES[0])                       \
                k = 0;                                                       \
            __asm__ volatile("" : : "r"(p) : "memory");                      \
            FREE(p);                                                         \
        }                                                                    \
    }                                                                        \
    static __attribute__((noinline)) void batch_##suffix(uint64_t n)         \
    {                                                                        \
        size_t k = 0;                                                        \
        for (uint64_t i = 0; i < n; i += BATCH) {                            \
            for (int j = 0; j < BATCH; j++) {                                \
                slot[j] = MALLOC(SIZES[k]);                                  \
                if (++k == sizeof SIZES / sizeof SIZES[0])                   \
                    k = 0;                                                   \
            }                                                                \
            __asm__ volatile("" : : : "memory");                             \
            for (int j = 0; j < BATCH; j++)                                  \
                FREE(slot[j]);                                               \
        }                                                                    \
    }

// A cache line's alignment, the common one above malloc's 16.
#define ALIGNED_64(n) aligned_alloc(64, n)
#define NOOP_ALIGNED_64(n) ins_noop_aligned(64, n)

DEFINE_LOOPS(libc, malloc, free, sizes_bytes)
DEFINE_LOOPS(new, _Znwm, _ZdlPv, sizes_bytes)
DEFINE_LOOPS(aligned, ALIGNED_64, free, sizes_bytes)
DEFINE_LOOPS(tiny, malloc, free, tiny_bytes)
DEFINE_LOOPS(noop, ins_noop_malloc, ins_noop_free, sizes_bytes)
DEFINE_LOOPS(noop_aligned, NOOP_ALIGNED_64, ins_noop_free, sizes_bytes)
DEFINE_LOOPS(noop_tiny, ins_noop_malloc, ins_noop_free, tiny_bytes)

// The probes by name: the loops of each, pair and batch.
static const struct {
    const char *name;
    void (*pair)(uint64_t), (*batch)(uint64_t);
} impls[] = {
    {"libc", pair_libc, batch_libc},
    {"new", pair_new, batch_new},
    {"aligned", pair_aligned, batch_aligned},
    {"tiny", pair_tiny, batch_tiny},
    {"noop", pair_noop, batch_noop},
    {"noop_aligned", pair_noop_aligned, batch_noop_aligned},
    {"noop_tiny", pair_noop_tiny, batch_noop_tiny},
};

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr,
                "usage: %s pair|batch libc|new|aligned|tiny|noop|noop_aligned|noop_tiny "
                "ITERATIONS\n",
                argv[0]);
        return 2;
    }
    int batch = strcmp(argv[1], "batch") == 0;
    int impl = -1;
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++)
        if (strcmp(argv[2], impls[i].name) == 0)
            impl = (int)i;
    uint64_t n = strtoull(argv[3], NULL, 10);
    if ((!batch && strcmp(argv[1], "pair") != 0) || impl < 0 || n == 0 ||
        (batch && n % BATCH != 0)) {
        fprintf(stderr, "%s: bad arguments (batch needs a multiple of %d)\n", argv[0], BATCH);
        return 2;
    }
    (batch ? impls[impl].batch : impls[impl].pair)(n);
    printf("done %s %s %llu\n", argv[1], argv[2], (unsigned long long)n);
    return 0;
}
