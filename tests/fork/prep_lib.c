// SPDX-License-Identifier: MIT
/*
 * prep_lib.c: a library whose constructor registers a pthread_atfork
 * prepare handler that allocates, and asks a worker thread to allocate and
 * exit, then joins it (as OpenBLAS's handler joins its workers).  Linked by
 * fork_prepare; under LD_PRELOAD its constructor runs before the
 * allocator's, so a handler registered from the allocator's constructor
 * would run first and hold every allocator lock during this one (issue 12).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_t worker;
static int have_worker;

// Allocates in every size range: a thread-cache size, a medium one that
// takes a heap lock, and a large one that takes the large-block lock.
static void allocate_some(void)
{
    size_t sizes[] = {24, 700, 5000, 70000, 300000};
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            char *p = malloc(sizes[i] + (size_t)round * 16);
            if (p == NULL)
                abort();
            memset(p, 0x5a, sizes[i]);
            free(p);
        }
}

static void *worker_main(void *arg)
{
    (void)arg;
    allocate_some(); // its cache is torn down (with locks) as it exits
    return NULL;
}

static void start_worker(void)
{
    have_worker = pthread_create(&worker, NULL, worker_main, NULL) == 0;
}

static void prepare(void)
{
    allocate_some();
    if (have_worker)
        pthread_join(worker, NULL);
    start_worker(); // the next fork joins this one (it may still run)
}

static void after(void) {}

__attribute__((constructor)) static void prep_lib_init(void)
{
    pthread_atfork(prepare, after, after);
    start_worker();
}

int prep_lib_forks(void);
int prep_lib_forks(void) { return have_worker; }
