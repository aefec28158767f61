// SPDX-License-Identifier: MIT
/*
 * Memory that no thread uses goes back to the kernel (issue 14), with
 * ALLOCATOR_DECAY_MS=200 (set by ctest):
 *   - freed by a thread that then exits, while the main thread makes no
 *     allocator call: the background thread returns it, and exists;
 *   - the same in a fork child (the thread did not survive the fork);
 *   - freed by a thread that stays alive and idle: the background thread
 *     returns the free pages of the slabs its cache keeps slots of;
 *   - with ALLOCATOR_BACKGROUND=0 (a child re-executes itself), at the
 *     next calls that reach a heap on any thread.
 * Linked against liballocator.so, so malloc is ours.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "allocator.h"
#include "../testhelper.h"

#define MiB ((size_t)1 << 20)
#define FREED_BYTES (96 * MiB)
#define SLACK_KIB (8 * 1024) // the target: within 8 MiB of the live data

static size_t rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    REQUIRE(f != NULL && fscanf(f, "%lu %lu", &size, &rss) == 2);
    fclose(f);
    return rss * (size_t)sysconf(_SC_PAGESIZE) / 1024;
}

static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    REQUIRE(d != NULL);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

// Allocates, touches and frees FREED_BYTES in 1..64 KiB blocks, in the
// heap of the calling thread.
static void *churn(void *arg)
{
    (void)arg;
    enum { N = 4000 };
    static char *blocks[N];
    size_t total = 0, n = 0;
    for (; n < N && total < FREED_BYTES; n++) {
        size_t bytes = 1024 + (n * 7919) % (63 * 1024);
        blocks[n] = malloc(bytes);
        REQUIRE(blocks[n] != NULL);
        memset(blocks[n], 1, bytes);
        total += bytes;
    }
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
    return NULL;
}

// Frees FREED_BYTES in a thread that exits, then waits `ms` without an
// allocator call (when `call`, one malloc that misses every cache first);
// true if RSS came back to within SLACK_KIB of where it started.
static bool returned_after(long ms, bool call)
{
    size_t start = rss_kib();
    run_thread(churn, NULL);
    if (call) {
        sleep_ms(ms);
        // Too big for a thread cache: each reaches a heap, which reads the
        // clock every 8th operation (LA_DECAY_CHECK_EVERY).
        for (int i = 0; i < 8; i++)
            free(malloc(40000));
    }
    sleep_ms(ms);
    size_t end = rss_kib();
    if (end > start + SLACK_KIB)
        fprintf(stderr, "test_return: RSS %zu KiB after the wait, %zu at the start\n", end, start);
    return end <= start + SLACK_KIB;
}

// A thread that frees many small blocks and then stays alive, idle: its
// bins keep a few slots of many slabs, so those slabs never come back
// empty, but their other pages go back (slab_purge_pages, run by the
// background thread).  200,000 blocks of 16..1024 B, 115 MiB, freed in a
// shuffled order: 17 MiB stayed resident before, 7.4 MiB now (what stays
// is the pages under the cached slots).
#define IDLE_BLOCKS 200000
#define IDLE_SLACK_KIB (12 * 1024)
static int idle_wake[2], idle_done[2];

static void *idle_worker(void *arg)
{
    (void)arg;
    static char *b[IDLE_BLOCKS];
    for (size_t i = 0; i < IDLE_BLOCKS; i++) {
        size_t n = 16 + (i * 7919) % 1009;
        b[i] = malloc(n);
        REQUIRE(b[i] != NULL);
        memset(b[i], 1, n);
    }
    uint64_t s = 88172645463325252ull;
    for (size_t i = IDLE_BLOCKS - 1; i > 0; i--) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t k = s % (i + 1);
        char *t = b[i];
        b[i] = b[k], b[k] = t;
    }
    for (size_t i = 0; i < IDLE_BLOCKS; i++)
        free(b[i]);
    char c = 1;
    REQUIRE(write(idle_done[1], &c, 1) == 1);
    REQUIRE(read(idle_wake[0], &c, 1) == 1); // idle, alive, until the check is made
    return NULL;
}

static bool idle_thread_returns(long ms)
{
    REQUIRE(pipe(idle_wake) == 0 && pipe(idle_done) == 0);
    size_t start = rss_kib();
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, idle_worker, NULL) == 0);
    char c;
    REQUIRE(read(idle_done[0], &c, 1) == 1);
    sleep_ms(ms);
    size_t end = rss_kib();
    REQUIRE(write(idle_wake[1], &c, 1) == 1);
    REQUIRE(pthread_join(t, NULL) == 0);
    if (end > start + IDLE_SLACK_KIB)
        fprintf(stderr, "test_return: RSS %zu KiB with the idle thread, %zu at the start\n", end,
                start);
    return end <= start + IDLE_SLACK_KIB;
}

int main(int argc, char **argv)
{
    alarm(60);
    if (argc > 1 && strcmp(argv[1], "--no-background") == 0) {
        // Without the thread, memory goes back on the next call that
        // reaches a heap, whatever thread's heap holds it.
        CHECK(returned_after(500, true));
        CHECK_EQ(threads_now(), 1);
        return test_report("test_return --no-background");
    }
    CHECK(returned_after(700, false));
    CHECK_EQ(threads_now(), 2); // the program's thread and the purging one
    CHECK(idle_thread_returns(1000));

    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int ok = returned_after(700, false);
        _exit(ok && threads_now() == 2 ? 0 : 1);
    }
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    // The same program without the thread.
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        setenv("ALLOCATOR_BACKGROUND", "0", 1);
        execl("/proc/self/exe", argv[0], "--no-background", (char *)NULL);
        _exit(127);
    }
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return test_report("test_return");
}
