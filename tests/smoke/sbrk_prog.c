// SPDX-License-Identifier: MIT
/*
 * sbrk_prog.c: a program that moves the break itself, by odd amounts,
 * between its mallocs and frees (as old programs and some libraries do),
 * for tests/smoke/stress.bats.  glibc's malloc copes: its heap goes on in a
 * new piece above the foreign one.  The allocator's brk heap must too: a
 * new region starts above what the program took (64 KiB-aligned, or
 * 16-byte aligned when the break moved between its look and its sbrk),
 * and neither a trim at free nor malloc_trim may give back the program's
 * own bytes, which it checks after every round.
 *
 * Prints "bad 0", exit status 0, when every byte of its own survived.
 */
#define _DEFAULT_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = 4000, ROUNDS = 40 };

static long check(unsigned char **mine, const size_t *len, int n)
{
    long bad = 0;
    for (int j = 0; j < n; j++)
        for (size_t b = 0; b < len[j]; b++)
            if (mine[j][b] != (unsigned char)(j + 1)) {
                bad++;
                break;
            }
    return bad;
}

int main(void)
{
    alarm(60);
    static void *v[N];
    unsigned char *mine[ROUNDS];
    size_t len[ROUNDS];
    long bad = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) {
            size_t n = ((unsigned)i * 2654435761u >> 7) % (round % 3 ? 3000 : 100000) + 1;
            v[i] = malloc(n);
            if (v[i] == NULL)
                return 2;
            memset(v[i], i, n < 64 ? n : 64);
        }
        size_t k = (size_t)round * 977 + 3; // odd amounts, like a foreign library
        unsigned char *p = sbrk((intptr_t)k);
        if (p == (void *)-1) {
            puts("sbrk failed");
            return 2;
        }
        memset(p, round + 1, k);
        mine[round] = p;
        len[round] = k;
        if (round & 1) {
            for (int i = 0; i < N; i += 2)
                free(v[i]);
            for (int i = 1; i < N; i += 2)
                v[i] = realloc(v[i], 5000 + (size_t)i);
            for (int i = 1; i < N; i += 2)
                free(v[i]);
        } else {
            for (int i = 0; i < N; i++)
                free(v[i]);
        }
        if (round % 5 == 4)
            malloc_trim(0);
        bad += check(mine, len, round + 1);
    }
    malloc_trim(0);
    bad += check(mine, len, ROUNDS);
    printf("bad %ld\n", bad);
    return bad != 0;
}
