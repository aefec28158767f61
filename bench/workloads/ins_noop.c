// SPDX-License-Identifier: MIT
/*
 * ins_noop: malloc/free stand-ins that do nothing, in their own shared
 * object so that ins_loop calls them through the PLT exactly as it calls
 * the real malloc and free.  Their per-iteration cost is the loop and call
 * overhead that bench/run.py subtracts from the real loop's count.
 */
#include <stddef.h>

void *ins_noop_malloc(size_t n);
void *ins_noop_aligned(size_t align, size_t n);
void ins_noop_free(void *p);

static unsigned char dummy[1024 + 16];

void *ins_noop_malloc(size_t n)
{
    // The barrier stops the compiler from turning the call into a constant.
    __asm__ volatile("" : : "r"(n) : "memory");
    return dummy;
}

// aligned_alloc's stand-in: two arguments, as the real one takes.
void *ins_noop_aligned(size_t align, size_t n)
{
    __asm__ volatile("" : : "r"(align), "r"(n) : "memory");
    return dummy;
}

void ins_noop_free(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}
