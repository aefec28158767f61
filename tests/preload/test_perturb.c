// SPDX-License-Identifier: MIT
/*
 * test_perturb: glibc's perturb (glibc.malloc.perturb, MALLOC_PERTURB_ and
 * mallopt(M_PERTURB)) on the exported family.  CTest runs it with one of
 * the two variables set to the byte given as argv[1]: the requested bytes
 * of every new block (slots, heap blocks, mappings, aligned blocks, what a
 * realloc adds) read as the byte's complement, calloc's as zero, and a
 * freed block's bytes as the byte.  A freed block is read through its
 * address kept as a number: it is free heap memory, still mapped (a
 * neighbour kept live holds it off the top, and the decay is long: see
 * tests/CMakeLists.txt).  Threads do the same side by side.
 */
#include <dlfcn.h>
#include <malloc.h>

#include "../testhelper.h"

static unsigned char fill;

// Bytes [from, from + n) of a freed block, read as the heap holds them.
static int freed_are(uintptr_t block, size_t from, size_t n, unsigned char b)
{
    for (size_t i = 0; i < n; i++)
        if (((volatile const unsigned char *)block)[from + i] != b)
            return 0;
    return 1;
}

// malloc(n) reads as ~fill; once freed, its middle reads as fill (its first
// and last words may hold the allocator's links or sizes by then).
static void check_size(size_t n)
{
    unsigned char *p = malloc(n), *pin = malloc(n);
    REQUIRE(p != NULL && pin != NULL);
    CHECK(all_bytes(p, n, (unsigned char)~fill));
    memset(pin, 1, n);
    uintptr_t a = (uintptr_t)p;
    free(p);
    if (n >= 48)
        CHECK(freed_are(a, n / 2 - 8, 16, fill));
    CHECK(all_bytes(pin, n, 1)); // a neighbour's bytes are not touched
    free(pin);
}

static void *churn(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < 20000; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = 1 + (size_t)(rng >> 33) % 5000;
        unsigned char *p = malloc(n);
        if (p == NULL || !all_bytes(p, n, (unsigned char)~fill))
            return (void *)1;
        memset(p, 7, n);
        free(p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    fill = (unsigned char)strtoul(argv[1], NULL, 0);
    REQUIRE(fill != 0);
    REQUIRE(dlsym(RTLD_DEFAULT, "mem_malloc") != NULL); // liballocator's malloc is in use

    // Slots, medium and big heap blocks, then a mapping (not read once
    // freed: it may be unmapped).
    static const size_t sizes[] = {1, 16, 24, 100, 1000, 2048, 3000, 40000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_size(sizes[i]);
    unsigned char *big = malloc(1 << 20);
    REQUIRE(big != NULL);
    CHECK(all_bytes(big, 1 << 20, (unsigned char)~fill));
    free(big);

    unsigned char *z = calloc(300, 7);
    REQUIRE(z != NULL);
    CHECK(all_bytes(z, 2100, 0));
    free(z);

    void *al = NULL;
    CHECK_EQ(posix_memalign(&al, 64, 500), 0);
    CHECK(al != NULL && all_bytes(al, 500, (unsigned char)~fill));
    free(al);
    unsigned char *page = memalign(4096, 10000);
    REQUIRE(page != NULL);
    CHECK(all_bytes(page, 10000, (unsigned char)~fill));
    free(page);

    // What realloc adds reads as new; what was there stays.
    unsigned char *r = malloc(100);
    REQUIRE(r != NULL);
    memset(r, 3, 100);
    for (size_t n = 200; n <= 200000; n *= 4) { // a slot, heap blocks, a mapping
        unsigned char *q = realloc(r, n);
        REQUIRE(q != NULL);
        CHECK(all_bytes(q, 100, 3));
        CHECK(all_bytes(q + 100, n - 100, (unsigned char)~fill)); // what each realloc added
        r = q;
    }
    free(r);

    // mallopt(M_PERTURB) changes the byte; glibc returns 1.
    unsigned char was = fill;
    CHECK_EQ(mallopt(M_PERTURB, 0x133), 1); // the low 8 bits, as glibc's
    fill = 0x33;
    check_size(700);
    check_size(9000);
    CHECK_EQ(mallopt(M_PERTURB, was), 1);
    fill = was;
    check_size(700);

    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        REQUIRE(pthread_create(&t[i], NULL, churn, (void *)(i + 1)) == 0);
    for (int i = 0; i < 2; i++) {
        void *bad;
        REQUIRE(pthread_join(t[i], &bad) == 0);
        CHECK(bad == NULL);
    }
    return test_report("test_perturb");
}
