// SPDX-License-Identifier: MIT
/*
 * The exported malloc family, in a program linked against liballocator.so
 * (so libc's own calls land here too): binding, glibc's semantics for the
 * aligned family and errno, mallopt and mallinfo2, fork from a
 * multithreaded process (a deadlock fails through a timeout), allocation
 * from thread-exit destructors and dlerror, and a foreign sbrk between our
 * heap growths (one of them of an odd size, after which trims must still
 * give the heap back).  (Allocation after the exit report: tests/preload/exit_*.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "allocator.h"
#include "../testhelper.h"

// Hides a value from the compiler, which would otherwise reject impossible
// sizes at compile time (we want them at run time).
static size_t opaque(size_t v)
{
    volatile size_t x = v;
    return x;
}

static void test_binding(void)
{
    size_t before = mem_get_stats().num_allocations;
    void *p = malloc(123);
    char *s = strdup("libc's strdup calls malloc too");
    CHECK_EQ(mem_get_stats().num_allocations, before + 2);
    CHECK(mem_usable_size(p) >= 123); // the block is one of ours
    free(s);
    free(p);
}

static void test_aligned_family(void)
{
    void *p = (void *)0x1234;
    // posix_memalign: EINVAL for a non-power-of-two or a multiple of less
    // than sizeof(void *); *memptr untouched; errno untouched.
    size_t bad[] = {0, 3, 4, 24, 48, (size_t)1 << 63 | 8};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 77;
        CHECK_EQ(posix_memalign(&p, bad[i], 16), EINVAL);
        CHECK(p == (void *)0x1234);
        CHECK_EQ(errno, 77);
    }
    CHECK_EQ(posix_memalign(&p, 64, opaque(SIZE_MAX)), ENOMEM);
    CHECK(p == (void *)0x1234);

    for (size_t al = 8; al <= ((size_t)4 << 20); al <<= 1) {
        size_t sizes[] = {0, 1, 100, 5000, 200000};
        for (size_t k = 0; k < 5; k++) {
            size_t n = sizes[k];
            void *q = NULL;
            REQUIRE(posix_memalign(&q, al, n) == 0);
            CHECK((uintptr_t)q % al == 0);
            CHECK(malloc_usable_size(q) >= n);
            memset(q, 0x3c, n);
            // realloc keeps the contents (alignment beyond 16 is not kept)
            unsigned char *r = realloc(q, n + 1000);
            REQUIRE(r != NULL);
            CHECK(n == 0 || (r[0] == 0x3c && r[n - 1] == 0x3c));
            free(r);
            void *a = aligned_alloc(al, n);
            REQUIRE(a != NULL);
            CHECK((uintptr_t)a % al == 0);
            free(a);
            void *m = memalign(al, n);
            REQUIRE(m != NULL);
            CHECK((uintptr_t)m % al == 0);
            CHECK(malloc_usable_size(m) >= n);
            free(m);
        }
    }
    errno = 0;
    CHECK(aligned_alloc(opaque(24), 100) == NULL);
    CHECK_EQ(errno, EINVAL);
    // glibc's memalign rounds a bad alignment up to a power of two.
    void *m = memalign(opaque(24), 100);
    REQUIRE(m != NULL);
    CHECK((uintptr_t)m % 32 == 0);
    free(m);

    long page = sysconf(_SC_PAGESIZE);
    void *v = valloc(10);
    REQUIRE(v != NULL);
    CHECK((uintptr_t)v % (uintptr_t)page == 0);
    free(v);
    void *pv = pvalloc(page + 1);
    REQUIRE(pv != NULL);
    CHECK((uintptr_t)pv % (uintptr_t)page == 0);
    CHECK(malloc_usable_size(pv) >= 2 * (size_t)page);
    free(pv);
    pv = pvalloc(0);
    REQUIRE(pv != NULL);
    CHECK(malloc_usable_size(pv) >= (size_t)page);
    free(pv);
}

// An aligned block allocated and freed again and again (page-aligned I/O
// buffers, 2 MiB-aligned ones for huge pages) stops costing a mapping each
// time once the first free has raised the dynamic threshold, as a plain
// block does.  Aligned requests once went by their size plus the
// alignment, which the raised threshold stayed below: each was mapped,
// its free unmapped it (mapped blocks below the threshold are not
// cached), and posix_memalign(4096, 256 KiB) + free cost 15 us, 100 times
// tcmalloc's.
static void test_aligned_reuse(void)
{
    static const struct {
        size_t align, bytes;
    } cases[] = {{4096, 256 * 1024}, {65536, 65536}, {2u << 20, 1u << 20}, {4096, 4u << 20}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t mmaps = 0, munmaps = 0;
        for (int i = 0; i < 22; i++) {
            if (i == 2) { // after two rounds: the threshold has followed the frees
                mmaps = mem_get_stats().num_mmaps;
                munmaps = mem_get_stats().num_munmaps;
            }
            void *p = NULL;
            REQUIRE(posix_memalign(&p, cases[c].align, cases[c].bytes) == 0);
            CHECK((uintptr_t)p % cases[c].align == 0);
            CHECK(malloc_usable_size(p) >= cases[c].bytes);
            memset(p, i, cases[c].bytes);
            free(p);
        }
        CHECK_EQ(mem_get_stats().num_mmaps, mmaps);
        CHECK_EQ(mem_get_stats().num_munmaps, munmaps);
    }
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_errno_and_sizes(void)
{
    errno = 0;
    CHECK(malloc(opaque(SIZE_MAX)) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(calloc(opaque(SIZE_MAX / 4), 8) == NULL);
    CHECK_EQ(errno, ENOMEM);
    char *volatile keep = malloc(10);
    REQUIRE(keep != NULL);
    strcpy(keep, "intact");
    errno = 0;
    CHECK(reallocarray(keep, opaque(SIZE_MAX / 2), 4) == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK(strcmp(keep, "intact") == 0); // a failed reallocarray keeps the block
    char *grown = reallocarray(keep, 10, 10);
    REQUIRE(grown != NULL);
    CHECK(strcmp(grown, "intact") == 0);
    CHECK(realloc(grown, 0) == NULL); // glibc: frees, returns NULL

    errno = 4321;
    free(malloc(10));
    free(malloc(1 << 20));
    free(NULL);
    CHECK_EQ(errno, 4321);

    CHECK_EQ(malloc_usable_size(NULL), 0);
    for (size_t n = 0; n < 3000; n += 7) {
        unsigned char *p = malloc(n);
        REQUIRE(p != NULL);
        size_t u = malloc_usable_size(p);
        CHECK(u >= n);
        memset(p, 0xee, u); // all of it may be written
        free(p);
    }
}

// Freeing the bigger of two mapped blocks raises the dynamic threshold
// above the smaller one: no request could reuse its mapping any more, so
// its free unmaps it instead of caching it (issue 14: such mappings held
// their pages until the decay while the heap grew).
static void test_unreachable_mapping_not_cached(void)
{
    malloc_trim(0);
    size_t large = mem_get_stats().num_large;
    void *small = malloc(10u << 20);
    void *big = malloc(12u << 20);
    REQUIRE(small != NULL && big != NULL);
    REQUIRE(mem_get_stats().num_large == large + 2); // both mapped
    free(big);
    size_t cached = mem_get_stats().large_cached;
    size_t munmaps = mem_get_stats().num_munmaps;
    free(small);
    CHECK_EQ(mem_get_stats().large_cached, cached);
    CHECK_EQ(mem_get_stats().num_munmaps, munmaps + 1);
    CHECK_EQ(mem_check_heap(), 0);
}

// A request above the dynamic threshold that a free heap block can hold
// takes it, as in glibc, instead of a new mapping beside it (issue 14).
// The threshold is 12 MiB and a page now (the test above).
static void test_large_request_from_heap(void)
{
    char *a = malloc(7u << 20), *b = malloc(7u << 20); // heap blocks
    REQUIRE(a != NULL && b != NULL);
    size_t large = mem_get_stats().num_large, mmaps = mem_get_stats().num_mmaps;
    free(a);
    free(b); // 14 MiB free, together or with the heap's free top
    char *c = calloc(1, 13u << 20);
    REQUIRE(c != NULL);
    CHECK_EQ(mem_get_stats().num_large, large);
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps);
    CHECK(c[0] == 0 && c[(13u << 20) - 1] == 0 && c[7u << 20] == 0);
    CHECK(malloc_usable_size(c) >= (13u << 20));
    CHECK_EQ(mem_check_heap(), 0);
    free(c);
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_mallopt_mallinfo(void)
{
    // Above the highest dynamic threshold (earlier tests freed large
    // blocks, which raised it, as in glibc): mapped whatever came before.
    size_t big_bytes = 40u << 20;
    void *big = malloc(big_bytes);
    struct mallinfo2 mi = mallinfo2();
    CHECK(mi.arena > 0);
    CHECK(mi.hblkhd >= big_bytes);
    CHECK(mi.uordblks + mi.fordblks == mi.arena);
    free(big);

    malloc_trim(0); // no cached mapping may serve the block below
    size_t mmaps = mem_get_stats().num_mmaps;
    CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 32 * 1024), 1);
    void *p = malloc(64 * 1024); // large now
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps + 1);
    free(p);
    CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 128 * 1024), 1);
    p = malloc(64 * 1024); // back in the heap
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps + 1);
    free(p);
    // Beyond our maximum: 1, as glibc returns, and the maximum taken.
    CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 1 << 30), 1);
    p = malloc(16u << 20); // 16 MiB: below the 32 MiB maximum, in the heap
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps + 1);
    free(p);
    // M_MMAP_MAX of 0, glibc's "no mappings": a 4 MiB block from the heap,
    // as glibc serves it; beyond the heaps' 32 MiB most, mapped still.  A
    // threshold set meanwhile is the one mappings come back with.
    malloc_trim(0);
    mmaps = mem_get_stats().num_mmaps;
    CHECK_EQ(mallopt(M_MMAP_MAX, 0), 1);
    p = malloc(4u << 20);
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps);
    free(p);
    p = malloc(40u << 20);
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps + 1);
    free(p);
    CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 256 * 1024), 1);
    p = malloc(300 * 1024);
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps + 1);
    free(p);
    CHECK_EQ(mallopt(M_MMAP_MAX, 65536), 1);
    malloc_trim(0);
    p = malloc(300 * 1024); // above 256 KiB: mapped again
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps + 2);
    free(p);
    p = malloc(200 * 1024);
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps + 2);
    free(p);
    CHECK_EQ(mallopt(M_MMAP_MAX, -1), 1); // glibc: less than 0 maps nothing either
    p = malloc(1u << 20);
    CHECK_EQ(mem_get_stats().num_mmaps, mmaps + 2);
    free(p);
    CHECK_EQ(mallopt(M_MMAP_MAX, 1), 1);
    CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 128 * 1024), 1);
    CHECK_EQ(mallopt(M_TRIM_THRESHOLD, -1), 1);        // glibc: never trim
    CHECK_EQ(mallopt(M_TRIM_THRESHOLD, 128 * 1024), 1);
    // Live large blocks, whatever the statistics were reset to.
    void *big2 = malloc(300000); // mapped: mallopt fixed the threshold
    mem_reset();
    CHECK_EQ(mallinfo2().hblks, 1);
    free(big2);
    CHECK_EQ(mallinfo2().hblks, 0);
    // Ignored, and answered as glibc 2.36 answers: 1, but 0 for an
    // M_MXFAST above its 160 bytes.
    CHECK_EQ(mallopt(M_ARENA_TEST, 8), 1);
    CHECK_EQ(mallopt(M_ARENA_MAX, 2), 1);
    CHECK_EQ(mallopt(M_PERTURB, 0xa5), 1);
    CHECK_EQ(mallopt(M_MXFAST, 160), 1);
    CHECK_EQ(mallopt(M_MXFAST, 161), 0);
    CHECK_EQ(mallopt(M_MXFAST, -1), 0);
    CHECK_EQ(mallopt(-999, 1), 1);
    CHECK_EQ(mem_check_heap(), 0);
}

/* ---- fork from a multithreaded process ---------------------------------- */

static atomic_int stop;

static void *churn(void *arg)
{
    uint64_t rng = (uintptr_t)arg;
    void *slots[64] = {0};
    while (!atomic_load(&stop)) {
        int i = (int)(rng_next(&rng) % 64);
        free(slots[i]);
        slots[i] = malloc(rng_next(&rng) % 4000);
    }
    for (int i = 0; i < 64; i++)
        free(slots[i]);
    return NULL;
}

static void test_fork_with_threads(void)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        REQUIRE(pthread_create(&t[i], NULL, churn, (void *)(i + 1)) == 0);
    int bad = 0;
    for (int k = 0; k < 100; k++) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            alarm(10); // a deadlocked child dies of SIGALRM instead of hanging
            void *p[100];
            for (int i = 0; i < 100; i++)
                p[i] = malloc((size_t)i * 40);
            for (int i = 0; i < 100; i++)
                free(p[i]);
            _exit(mem_check_heap() == 0 ? 0 : 3);
        }
        int status;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(bad, 0);
}

/* ---- bootstrap corners -------------------------------------------------- */

static pthread_key_t key;
static atomic_int destructor_ran;

static void key_destructor(void *value)
{
    // Runs while the thread is being torn down.
    free(value);
    void *p = malloc(100);
    memset(p, 1, 100);
    free(p);
    atomic_fetch_add(&destructor_ran, 1);
}

static void *thread_with_key(void *arg)
{
    (void)arg;
    pthread_setspecific(key, malloc(50));
    return NULL;
}

static void test_thread_exit_destructors(void)
{
    REQUIRE(pthread_key_create(&key, key_destructor) == 0);
    for (int round = 0; round < 20; round++) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            REQUIRE(pthread_create(&t[i], NULL, thread_with_key, NULL) == 0);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    }
    CHECK_EQ(atomic_load(&destructor_ran), 80);
}

static void test_dlerror(void)
{
    CHECK(dlopen("/nonexistent/liballocator-test.so", RTLD_NOW) == NULL);
    const char *err = dlerror(); // dlerror allocates its message
    CHECK(err != NULL && strstr(err, "nonexistent") != NULL);
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    CHECK(sym == (void *)malloc);
    CHECK(dlsym(RTLD_DEFAULT, "no_such_symbol_anywhere") == NULL);
    CHECK(dlerror() != NULL);
}

/* ---- a foreign sbrk ----------------------------------------------------- */

static void test_foreign_sbrk(void)
{
    // Another library moves the break: its memory must never be handed out.
    char *foreign = sbrk(64 * 1024);
    REQUIRE(foreign != (void *)-1);
    memset(foreign, 0x5f, 64 * 1024);
    char *blocks[4000];
    for (int i = 0; i < 4000; i++) {
        blocks[i] = malloc(400); // 1.6 MB: the heap must grow past it
        REQUIRE(blocks[i] != NULL);
        CHECK(blocks[i] + 400 <= foreign || blocks[i] >= foreign + 64 * 1024);
        memset(blocks[i], 0xa0, 400);
    }
    for (int i = 0; i < 64 * 1024; i++)
        if (foreign[i] != 0x5f) {
            CHECK(!"foreign sbrk memory was overwritten");
            break;
        }
    for (int i = 0; i < 4000; i++)
        free(blocks[i]);
    CHECK_EQ(mem_check_heap(), 0);
}

// One foreign sbrk of a size that is not a multiple of 16 left the break
// unaligned: every later growth started a new region that ended short of
// the break, and a trim needs the break at its region's end, so the brk
// heap never shrank again (85 MB kept after freeing everything and
// malloc_trim(0), issue 12).  The break cannot go back below the foreign
// bytes, but everything above them must.
static void test_foreign_sbrk_unaligned(void)
{
    enum { MB = 1024 * 1024, N = 80 * MB / 64 }; // 80 MB of 64-byte blocks
    void **p = malloc(N * sizeof *p); // large: mapped, not on the brk heap
    REQUIRE(p != NULL);
    char *foreign = NULL;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            if (round == 0 && i == N / 2) {
                foreign = sbrk(5);
                REQUIRE(foreign != (void *)-1);
            }
            REQUIRE((p[i] = malloc(48)) != NULL);
            memset(p[i], 0x6b, 48);
        }
        char *grown = sbrk(0);
        for (int i = 0; i < N; i++)
            free(p[i]);
        malloc_trim(0);
        char *trimmed = sbrk(0);
        // Half the heap (the second round: all of it) grew above the
        // foreign bytes, at least 24 MB of it (48-byte slots in slabs:
        // 31.5 MB; 64-byte headed blocks: 40 MB); a trim keeps one
        // BRK_INCREMENT (64 KiB) of it.
        CHECK(grown - foreign > 24 * MB);
        if (trimmed - foreign > 256 * 1024)
            fprintf(stderr, "round %d: the break stayed %zu KiB above the foreign sbrk\n", round,
                    (size_t)(trimmed - foreign) / 1024);
        CHECK(trimmed - foreign <= 256 * 1024);
    }
    free(p);
    CHECK_EQ(mem_check_heap(), 0);
}

// Strings grown round-robin in small steps (issue 13): their neighbours
// are live, so a block that is exactly full must move on almost every
// step.  A heap block keeps up to an eighth to spare, and one that moves
// to grow gets an eighth more: 200 strings grown by 48 bytes from 1000 to
// 48000 bytes move about 28 times each (about 100 before; above 32 KiB,
// past the thread cache's medium classes, on every step).
static void test_realloc_round_robin(void)
{
    enum { N = 200, STEP = 48, FROM = 1000, TO = 48000 };
    char *s[N];
    for (int k = 0; k < N; k++) {
        REQUIRE((s[k] = malloc(FROM)) != NULL);
        memset(s[k], 'a' + k % 26, FROM);
    }
    size_t len = FROM, moves = 0;
    while (len + STEP <= TO) {
        for (int k = 0; k < N; k++) {
            char *t = realloc(s[k], len + STEP);
            REQUIRE(t != NULL);
            moves += t != s[k];
            memset(t + len, 'a' + k % 26, STEP);
            s[k] = t;
        }
        len += STEP;
    }
    if (moves >= (size_t)N * 60)
        fprintf(stderr, "round-robin growth: %zu moves for %d strings\n", moves, N);
    CHECK(moves < (size_t)N * 60);
    for (int k = 0; k < N; k++) {
        CHECK(s[k][0] == 'a' + k % 26 && s[k][len - 1] == 'a' + k % 26);
        CHECK(malloc_usable_size(s[k]) >= len);
        free(s[k]);
    }
    // A big shrink still gives the rest back (the block does not keep it).
    char *big = malloc(40000);
    REQUIRE(big != NULL);
    char *small = realloc(big, 3000);
    REQUIRE(small != NULL);
    CHECK(malloc_usable_size(small) < 3000 + 3000 / 8 + 64);
    free(small);
    CHECK_EQ(mem_check_heap(), 0);
}

int main(void)
{
    test_binding();
    test_aligned_family();
    test_aligned_reuse();
    test_errno_and_sizes();
    test_unreachable_mapping_not_cached();
    test_large_request_from_heap();
    test_mallopt_mallinfo();
    test_fork_with_threads();
    test_thread_exit_destructors();
    test_dlerror();
    test_foreign_sbrk();
    test_foreign_sbrk_unaligned();
    test_realloc_round_robin();
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_preload");
}
