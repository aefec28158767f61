// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the input is a sequence of operations (malloc, calloc,
 * realloc, free, aligned allocation, through mem_* and mem_*_ts, plus
 * trims and statistics resets) on 64 slots, run against a shadow model.
 * Every live block is filled with a byte derived from its slot and
 * generation, checked before it is freed or reallocated and at the end;
 * the heap walker runs every few operations and after each input.  Built
 * by CMake with clang when LA_FUZZ is on (-fsanitize=fuzzer,undefined);
 * run it as `fuzz_heap -max_total_time=60 corpus/`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocator.h"

#define SLOTS 64
#define CHECK_EVERY 16

typedef struct {
    unsigned char *p;
    size_t n;
    unsigned char fill;
} slot_t;

static slot_t slots[SLOTS];

static void die(const char *why)
{
    (void)!write(2, why, strlen(why));
    (void)!write(2, "\n", 1);
    abort();
}

static void fill(slot_t *s) { memset(s->p, s->fill, s->n); }

static void verify(const slot_t *s, size_t upto)
{
    for (size_t i = 0; i < upto && i < s->n; i++)
        if (s->p[i] != s->fill)
            die("fuzz_heap: block contents changed");
}

// Sizes: mostly small, some medium, a few large (mapped), zero now and then.
static size_t decode_size(const uint8_t *d)
{
    unsigned v = (unsigned)d[0] | (unsigned)d[1] << 8;
    switch (d[2] & 7) {
    case 0:
        return v % 64;
    case 1:
    case 2:
    case 3:
        return v % 1100;
    case 4:
    case 5:
        return v % 40000;
    case 6:
        return 100000 + (size_t)v * 8; // around the mmap threshold and above
    default:
        return 0;
    }
}

static void release(slot_t *s, int ts)
{
    if (s->p == NULL)
        return;
    verify(s, s->n);
    ts ? mem_free_ts(s->p) : mem_free(s->p);
    s->p = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char gen = 1;
    for (size_t at = 0, ops = 0; at + 5 <= size; at += 5, ops++) {
        const uint8_t *op = data + at;
        slot_t *s = &slots[op[1] % SLOTS];
        int ts = op[0] & 1;
        size_t n = decode_size(op + 2);
        switch ((op[0] >> 1) % 8) {
        case 0:
        case 1:
            release(s, ts);
            s->p = ts ? mem_malloc_ts(n) : mem_malloc(n);
            s->n = n;
            break;
        case 2:
            release(s, ts);
            s->p = ts ? mem_calloc_ts(1, n) : mem_calloc(n, 1);
            s->n = n;
            if (s->p != NULL)
                for (size_t i = 0; i < n; i++)
                    if (s->p[i] != 0)
                        die("fuzz_heap: calloc memory not zero");
            break;
        case 3: {
            // What must survive: the old contents up to the new size (none
            // when the slot is empty and realloc acts as malloc).
            size_t kept = s->p == NULL ? 0 : n < s->n ? n : s->n;
            if (s->p != NULL)
                verify(s, s->n);
            unsigned char *q = ts ? mem_realloc_ts(s->p, n) : mem_realloc(s->p, n);
            if (n == 0 && s->p != NULL) {
                s->p = NULL; // realloc(p, 0) freed it
                continue;
            }
            if (q == NULL)
                die("fuzz_heap: realloc failed");
            s->p = q;
            verify(s, kept);
            s->n = n;
            break;
        }
        case 4:
            release(s, ts);
            continue;
        case 5: {
            release(s, ts);
            size_t align = (size_t)32 << (op[2] % 12);
            s->p = mem_aligned_alloc(align, n);
            s->n = n;
            if (s->p != NULL && (uintptr_t)s->p % align != 0)
                die("fuzz_heap: misaligned");
            break;
        }
        case 6:
            if (op[2] == 0)
                mem_trim(0);
            else if (op[2] == 1)
                mem_reset();
            continue;
        default:
            if (s->p != NULL && mem_usable_size(s->p) < s->n)
                die("fuzz_heap: usable size below the request");
            continue;
        }
        if (s->p == NULL)
            die("fuzz_heap: allocation failed");
        s->fill = gen++;
        fill(s);
        if (ops % CHECK_EVERY == 0 && mem_check_heap() != 0)
            die("fuzz_heap: heap check failed");
    }
    for (int i = 0; i < SLOTS; i++)
        release(&slots[i], i & 1);
    if (mem_check_heap() != 0)
        die("fuzz_heap: heap check failed at the end");
    // Every block is freed: nothing is live (mem_reset leaves this alone).
    if (mem_get_stats().current_usage != 0)
        die("fuzz_heap: live bytes left after freeing everything");
    return 0;
}
