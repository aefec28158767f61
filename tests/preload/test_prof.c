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
 *   fork     threads allocate while the main thread forks; each child
 *            allocates, dumps and exits
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

static const char *const names[3] = {"leak_alpha", "leak_beta", "leak_gamma"};

// Live bytes per function (index 3: churn) from the dump at path.
static void read_profile(const char *path, double live[4])
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
        void *frame = (void *)strtoull(at + 1, NULL, 16);
        Dl_info info;
        if (frame == NULL || dladdr((char *)frame - 1, &info) == 0 || info.dli_sname == NULL)
            continue;
        for (int i = 0; i < 3; i++)
            if (strcmp(info.dli_sname, names[i]) == 0)
                live[i] += (double)bytes;
        if (strcmp(info.dli_sname, "churn") == 0)
            live[3] += (double)bytes;
    }
    fclose(f);
}

// Not inlined: prof_report.sh stops here in gdb.
__attribute__((noinline, visibility("default"))) void check_sites(bool exact)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_prof.%d.prof", (int)getpid());
    CHECK_EQ(mem_prof_dump(path), 0);
    double live[4] = {0};
    read_profile(path, live);
    for (int i = 0; i < 3; i++) {
        double want = (double)counts[i] * (double)sizes[i];
        double err = (live[i] - want) / want;
        printf("test_prof: %s leaked %.0f bytes, report says %.0f (%+.2f %%)\n", names[i], want,
               live[i], 100.0 * err);
        if (exact)
            CHECK(live[i] == want);
        else
            CHECK(err > -0.10 && err < 0.10);
    }
    // Everything churn allocated was freed: its samples are gone.
    CHECK(live[3] == 0);
    unlink(path);
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

int main(int argc, char **argv)
{
    alarm(120);
    const char *mode = argc > 1 ? argv[1] : "exact";
    if (strcmp(mode, "fork") == 0) {
        fork_case();
        return test_report("test_prof fork");
    }
    bool exact = strcmp(mode, "exact") == 0;
    if (exact) { // small, medium and large blocks, every one sampled
        size_t c[3] = {3000, 500, 20}, s[3] = {100, 3000, 200000};
        memcpy(counts, c, sizeof c);
        memcpy(sizes, s, sizeof s);
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
    check_sites(exact);
    return test_report(exact ? "test_prof exact" : "test_prof sampled");
}
