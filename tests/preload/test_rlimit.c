// SPDX-License-Identifier: MIT
/*
 * Under an address-space limit (RLIMIT_AS), a large request must not fail
 * while freed mappings the allocator keeps for reuse would make room: on a
 * failed map it gives its caches back and tries once more (issue 12).
 * Linked against liballocator.so, so malloc is ours.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "allocator.h"
#include "../testhelper.h"

#define MiB ((size_t)1 << 20)

// Bytes of address space the process maps now (/proc/self/statm, pages).
static size_t mapped_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    REQUIRE(f != NULL && fscanf(f, "%lu", &pages) == 1);
    fclose(f);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

int main(void)
{
    // The threshold stays where it is: freeing the blocks below would
    // otherwise raise it past them and drop them from the cache at once.
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    // Three freed 8 MiB blocks wait in the large-mapping cache; together
    // they hold 24 MiB.
    char *blocks[3];
    for (int i = 0; i < 3; i++) {
        blocks[i] = malloc(8 * MiB);
        REQUIRE(blocks[i] != NULL);
        memset(blocks[i], i, 8 * MiB);
    }
    for (int i = 0; i < 3; i++)
        free(blocks[i]);
    size_t before = mem_get_stats().num_munmaps;

    // Room for 12 MiB more than is mapped now: 28 MiB fits neither in a
    // fresh mapping nor by growing a cached one, only once the cached
    // 24 MiB are unmapped.
    struct rlimit lim = {mapped_bytes() + 12 * MiB, RLIM_INFINITY};
    lim.rlim_max = lim.rlim_cur;
    REQUIRE(setrlimit(RLIMIT_AS, &lim) == 0);

    errno = 0;
    char *big = malloc(28 * MiB);
    CHECK(big != NULL);
    CHECK_EQ(errno, 0);
    CHECK(mem_get_stats().num_munmaps > before); // the cache was given back
    if (big != NULL) {
        memset(big, 7, 28 * MiB);
        free(big);
    }

    // A request that cannot fit even then still fails cleanly.
    errno = 0;
    CHECK(malloc(64 * MiB) == NULL);
    CHECK_EQ(errno, ENOMEM);
    return test_report("test_rlimit");
}
