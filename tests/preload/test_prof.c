// SPDX-License-Identifier: MIT
/*
 * test_prof.c: the heap profiler's leak report (issue 16).  Three known
 * functions leak known byte amounts (plus a function whose blocks are all
 * freed); the program dumps its profile with mem_prof_dump, reads it back
 * and names each site's innermost frame with dladdr (the executable
 * exports its symbols).  Run under ALLOCATOR_PROF.
 *   exact    ALLOCATOR_PROF=1b: every allocation sampled, bytes exact
 *   sampled  the default interval: within 10 % (large blocks, mostly
 *            untouched pages, so that about 1000 samples per site keep the
 *            error near 2 %: five standard deviations from failing)
 *   grown    a fourth function leaks strings grown by realloc in small
 *            steps (slots, and blocks with headers); ALLOCATOR_PROF=64k:
 *            within 10 % (about 1800 samples, 2.4 %: four standard
 *            deviations).  realloc counts only the bytes it adds and a
 *            sampled block keeps its sample as it grows: a sample that
 *            kept the size it was taken at, or chances figured from other
 *            bytes than those counted, fail it.  Exact mode grows some too.
 *   fork     threads allocate while the main thread forks; each child
 *            allocates, dumps and exits
 * Exact mode also fills the profiler's hash tables past their first size
 * (they double in place as they fill, prof.c): 8192 more live samples
 * from 4096 distinct stacks, taken twice from different stack depths so
 * that the second time the stack cache misses and each stack must be
 * found again in the grown stack table; all freed, the samples are gone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "allocator.h"
#include "../testhelper.h"

static size_t counts[3], sizes[3];
static void *volatile sink;

#define LEAKER(name, i)                                                        \
    __attribute__((noinline, visibility("default"))) void name(void)           \
    {                                                                          \
        for (size_t k = 0; k < counts[i]; k++) {                               \
            sink = malloc(sizes[i]);                                           \
            if (sink == NULL)                                                  \
                abort();                                                       \
            *(volatile char *)sink = 1;                                        \
        }                                                                      \
    }
LEAKER(leak_alpha, 0)
LEAKER(leak_beta, 1)
LEAKER(leak_gamma, 2)

// grown[i] strings grown from 8 bytes to grown_to[i] by grown_step[i]
// bytes per realloc, in rounds (every string one step, then the next), so
// that they move as they outgrow their slots and blocks.
static size_t grown[2], grown_to[2], grown_step[2];

// leak_leaf allocates for two callers alike (the same frame sizes, so the
// same stack pointer at its malloc): the profile must tell them apart by
// the second frame (the profiler's stack cache keys on the innermost
// frame and its place on the stack, and checks the return addresses
// above it).
static size_t via_counts[2];
#define VIA_BYTES 40
__attribute__((noinline, visibility("default"))) void leak_leaf(void)
{
    sink = malloc(VIA_BYTES);
    if (sink == NULL)
        abort();
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline, visibility("default"))) void leak_via_one(void)
{
    for (size_t k = 0; k < via_counts[0]; k++)
        leak_leaf();
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline, visibility("default"))) void leak_via_two(void)
{
    for (size_t k = 0; k < via_counts[1]; k++)
        leak_leaf();
    __asm__ volatile("" ::: "memory");
}

// The length the strings of group i end at.
static size_t grown_final(int i) { return 8 + (grown_to[i] - 8) / grown_step[i] * grown_step[i]; }

__attribute__((noinline, visibility("default"))) void leak_grown(void)
{
    for (int i = 0; i < 2; i++) {
        size_t n = grown[i], batch = 1000;
        for (size_t first = 0; first < n; first += batch) {
            char *v[1000];
            size_t m = n - first < batch ? n - first : batch;
            for (size_t j = 0; j < m; j++) {
                v[j] = malloc(8);
                if (v[j] == NULL)
                    abort();
            }
            for (size_t len = 8 + grown_step[i]; len <= grown_to[i]; len += grown_step[i])
                for (size_t j = 0; j < m; j++) {
                    v[j] = realloc(v[j], len);
                    if (v[j] == NULL)
                        abort();
                    v[j][len - 1] = 1;
                }
        }
    }
}

__attribute__((noinline, visibility("default"))) void churn(void)
{
    for (int k = 0; k < 20000; k++) {
        void *p = malloc((size_t)(k % 700) * 8 + 1);
        void *q = calloc(3, 100);
        p = realloc(p, 5000);
        free(q);
        free(p);
    }
}

#define SITES 4 // the three leakers and leak_grown
static const char *const names[SITES] = {"leak_alpha", "leak_beta", "leak_gamma", "leak_grown"};

static double via_live[2]; // leak_leaf's bytes by its caller

// The function of a return address, or "".
static const char *function_of(void *frame)
{
    Dl_info info;
    if (frame == NULL || dladdr((char *)frame - 1, &info) == 0 || info.dli_sname == NULL)
        return "";
    return info.dli_sname;
}

// Live bytes per function (index SITES: churn) from the dump at path.
static void read_profile(const char *path, double live[SITES + 1])
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    char line[4096];
    bool sites = false;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "--- sites", 9) == 0) {
            sites = true;
            continue;
        }
        if (strncmp(line, "--- maps", 8) == 0)
            break;
        if (!sites)
            continue;
        unsigned long long bytes;
        char *at = strchr(line, '@');
        if (sscanf(line, "%llu", &bytes) != 1 || at == NULL)
            continue;
        char *end;
        void *frame = (void *)strtoull(at + 1, &end, 16);
        if (strcmp(function_of(frame), "leak_leaf") == 0) {
            const char *via = function_of((void *)strtoull(end, NULL, 16));
            via_live[0] += strcmp(via, "leak_via_one") == 0 ? (double)bytes : 0;
            via_live[1] += strcmp(via, "leak_via_two") == 0 ? (double)bytes : 0;
        }
        Dl_info info;
        if (frame == NULL || dladdr((char *)frame - 1, &info) == 0 || info.dli_sname == NULL)
            continue;
        for (int i = 0; i < SITES; i++)
            if (strcmp(info.dli_sname, names[i]) == 0)
                live[i] += (double)bytes;
        if (strcmp(info.dli_sname, "churn") == 0)
            live[SITES] += (double)bytes;
    }
    fclose(f);
}

// Not inlined: prof_report.sh stops here in gdb.
__attribute__((noinline, visibility("default"))) void check_sites(bool exact)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_prof.%d.prof", (int)getpid());
    CHECK_EQ(mem_prof_dump(path), 0);
    double live[SITES + 1] = {0};
    read_profile(path, live);
    for (int i = 0; i < SITES; i++) {
        if (i < 3 ? counts[i] == 0 : grown[0] + grown[1] == 0)
            continue;
        double want = i < 3 ? (double)counts[i] * (double)sizes[i]
                            : (double)grown[0] * grown_final(0) + (double)grown[1] * grown_final(1);
        double err = (live[i] - want) / want;
        printf("test_prof: %s leaked %.0f bytes, report says %.0f (%+.2f %%)\n", names[i], want,
               live[i], 100.0 * err);
        if (exact)
            CHECK(live[i] == want);
        else
            CHECK(err > -0.10 && err < 0.10);
    }
    if (exact) // every allocation sampled: exact by the second frame
        for (int i = 0; i < 2; i++) { // leak_via_one runs twice
            size_t want = (i == 0 ? 2 : 1) * via_counts[i] * VIA_BYTES;
            printf("test_prof: leak_leaf from leak_via_%s: %zu bytes, report says %.0f\n",
                   i == 0 ? "one" : "two", want, via_live[i]);
            CHECK(via_live[i] == (double)want);
        }
    // Everything churn allocated was freed: its samples are gone.
    CHECK(live[SITES] == 0);
    unlink(path);
}

/* ---- the tables grow ---------------------------------------------------- */

#define TABLE_LEVELS 12 // 4096 stacks: four times the tables' first size
// Frames of stack_a/stack_b per stack, the varying ones innermost: more
// than the profiler keeps (LA_PROF_MAX_FRAMES, 24), so that the frames
// of the caller of stack_from are cut (gcc may call it from two places).
#define TABLE_DEPTH 30
static void *table_blocks[2][1u << TABLE_LEVELS];
static volatile unsigned ticks_a, ticks_b;

// One frame per bit of bits: stack_a for a 1, stack_b for a 0, so that
// each value is a distinct call stack.  The counters after the calls keep
// them calls (no tail call) and the two functions different (no folding).
static void stack_b(unsigned bits, int left, void **out);
__attribute__((noinline)) static void stack_a(unsigned bits, int left, void **out)
{
    if (left == 0)
        *out = malloc(48);
    else if (bits & 1)
        stack_a(bits >> 1, left - 1, out);
    else
        stack_b(bits >> 1, left - 1, out);
    ticks_a++;
}
__attribute__((noinline)) static void stack_b(unsigned bits, int left, void **out)
{
    if (left == 0)
        *out = malloc(48);
    else if (bits & 1)
        stack_a(bits >> 1, left - 1, out);
    else
        stack_b(bits >> 1, left - 1, out);
    ticks_b += 2;
}

// pad bytes lower on the stack: the same return addresses, other frames.
__attribute__((noinline)) static void stack_from(size_t pad, unsigned bits, void **out)
{
    volatile char *room = __builtin_alloca(pad);
    room[0] = 0;
    stack_a(bits << (TABLE_DEPTH - TABLE_LEVELS), TABLE_DEPTH, out);
    ticks_a++;
}

// The dump's samples_live and its number of call stacks.
static void table_counts(size_t *live, size_t *stacks)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_prof.%d.tables", (int)getpid());
    CHECK_EQ(mem_prof_dump(path), 0);
    *live = *stacks = 0;
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    char line[4096];
    bool sites = false;
    while (fgets(line, sizeof line, f) != NULL) {
        sscanf(line, "samples_live %zu", live);
        if (strncmp(line, "--- maps", 8) == 0)
            break;
        if (sites)
            ++*stacks;
        sites |= strncmp(line, "--- sites", 9) == 0;
    }
    fclose(f);
    unlink(path);
}

static void table_case(void)
{
    size_t live0, stacks0, live, stacks;
    table_counts(&live0, &stacks0);
    for (unsigned pass = 0; pass < 2; pass++)
        for (unsigned bits = 0; bits < (1u << TABLE_LEVELS); bits++)
            stack_from(16 + 64 * pass, bits, &table_blocks[pass][bits]);
    table_counts(&live, &stacks);
    CHECK_EQ(live, live0 + 2 * (1u << TABLE_LEVELS));
    // Each stack once (not 8192), give or take the stacks of table_counts'
    // own fopen.
    CHECK(stacks >= stacks0 + (1u << TABLE_LEVELS) && stacks <= stacks0 + (1u << TABLE_LEVELS) + 4);
    for (unsigned pass = 0; pass < 2; pass++)
        for (unsigned bits = 0; bits < (1u << TABLE_LEVELS); bits++)
            free(table_blocks[pass][bits]);
    table_counts(&live, &stacks);
    CHECK_EQ(live, live0); // every sample found in the grown table
}

static void *thread_main(void *arg)
{
    (void)arg;
    for (int round = 0; round < 200; round++)
        for (int k = 0; k < 500; k++)
            free(malloc((size_t)(k % 64) * 16 + 8));
    return NULL;
}

static void fork_case(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, thread_main, NULL) == 0);
    for (int i = 0; i < 20; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(20);
            char path[64];
            snprintf(path, sizeof path, "/tmp/test_prof_fork.%d.prof", (int)getpid());
            void *p = malloc(1000);
            free(p);
            int rc = mem_prof_dump(path);
            unlink(path);
            _exit(rc == 0 ? 0 : 3);
        }
        int status = 0;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}

// Exact mode samples every aligned allocation too: the sample's mark goes
// in a block's header, and an aligned request that a slot serves has none
// (a mark there flipped bits in the slot before it: 99 of 100 blocks of
// aligned_alloc(64, 64) came back changed).  Each block keeps what was
// written to it, and frees and the heap check pass.
static void aligned_case(void)
{
    enum { N = 200 };
    static unsigned char *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = aligned_alloc(64, 64 + (size_t)(i % 3) * 64);
        REQUIRE(v[i] != NULL);
        CHECK((uintptr_t)v[i] % 64 == 0);
        memset(v[i], 0x5a, 64);
    }
    int changed = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 64; j++)
            if (v[i][j] != 0x5a) {
                changed++;
                break;
            }
    CHECK_EQ(changed, 0);
    for (int i = 0; i < N; i++)
        free(v[i]);
    CHECK_EQ(mem_check_heap(), 0);
}

int main(int argc, char **argv)
{
    alarm(120);
    const char *mode = argc > 1 ? argv[1] : "exact";
    if (strcmp(mode, "fork") == 0) {
        fork_case();
        return test_report("test_prof fork");
    }
    bool exact = strcmp(mode, "exact") == 0;
    if (strcmp(mode, "grown") == 0) {
        // 20 MB of small strings (slots), 98 MB of 64 KiB ones (blocks
        // with headers).
        size_t g[2] = {20000, 1500}, to[2] = {1000, 64 << 10}, step[2] = {24, 1000};
        memcpy(grown, g, sizeof g);
        memcpy(grown_to, to, sizeof to);
        memcpy(grown_step, step, sizeof step);
        leak_grown();
        check_sites(false);
        return test_report("test_prof grown");
    }
    if (exact) { // small, medium and large blocks, every one sampled
        size_t c[3] = {3000, 500, 20}, s[3] = {100, 3000, 200000};
        memcpy(counts, c, sizeof c);
        memcpy(sizes, s, sizeof s);
        via_counts[0] = 700;
        via_counts[1] = 300;
        size_t g[2] = {300, 30}, to[2] = {1000, 64 << 10}, step[2] = {8, 200};
        memcpy(grown, g, sizeof g);
        memcpy(grown_to, to, sizeof to);
        memcpy(grown_step, step, sizeof step);
    } else { // 1000, 937.5 and 781.25 MiB, mapped but barely touched
        size_t c[3] = {4000, 3000, 5000}, s[3] = {256 << 10, 320 << 10, 160 << 10};
        memcpy(counts, c, sizeof c);
        memcpy(sizes, s, sizeof s);
    }
    // Failed requests count no bytes: a size that is negative as an
    // int64_t would push the next sample 2^62 bytes away, and the sampled
    // check would find nothing.
    volatile size_t huge = SIZE_MAX - ((size_t)1 << 62), half = SIZE_MAX / 2 + 2;
    CHECK(malloc(huge) == NULL);
    volatile size_t top = (size_t)1 << 63; // INT64_MIN: no signed overflow (UBSan)
    CHECK(malloc(top) == NULL);
    CHECK(calloc(half, 4) == NULL);
    churn();
    leak_alpha();
    churn();
    leak_beta();
    leak_gamma();
    leak_grown();
    leak_via_one();
    leak_via_two();
    leak_via_one();
    check_sites(exact);
    if (exact) {
        table_case();
        aligned_case();
    }
    return test_report(exact ? "test_prof exact" : "test_prof sampled");
}
