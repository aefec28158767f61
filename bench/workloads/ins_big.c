// SPDX-License-Identifier: MIT
/*
 * ins_big: the instruction-count probe for big heap blocks (issue 14).
 * malloc(BYTES), one write, free, in a tight loop: under callgrind,
 * (Ir(2N) - Ir(N)) / N is the allocator's path length per round, start-up
 * cancelled out.  The default 1 MiB is below the dynamic mmap threshold
 * once the first free raised it, in glibc as here, so both carve it from
 * their heap's top and give it back there.
 * Usage: ins_big ITERATIONS [BYTES=1048576]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static __attribute__((noinline)) void rounds(uint64_t n, size_t bytes)
{
    for (uint64_t i = 0; i < n; i++) {
        unsigned char *p = malloc(bytes);
        if (p == NULL)
            abort();
        p[0] = (unsigned char)i;
        __asm__ volatile("" : : "r"(p) : "memory");
        free(p);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s ITERATIONS [BYTES]\n", argv[0]);
        return 2;
    }
    uint64_t n = strtoull(argv[1], NULL, 10);
    size_t bytes = argc == 3 ? strtoull(argv[2], NULL, 10) : (size_t)1 << 20;
    rounds(n, bytes);
    printf("done %llu x %zu\n", (unsigned long long)n, bytes);
    return 0;
}
