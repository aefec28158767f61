// SPDX-License-Identifier: MIT
/*
 * test_dlclose.c: liballocator.so loaded with dlopen (no LD_PRELOAD, so the
 * program keeps glibc's malloc), used from a worker thread through
 * mem_malloc_ts/mem_free_ts, which gives that thread a cache and so sets
 * the library's pthread key, then dlclose()d while the thread still runs.
 * The thread then exits and glibc calls the key's destructor: it must still
 * be mapped (issue 12: SIGSEGV at thread exit; the library is linked with
 * -z nodelete).  A crash fails the test through its signal, a hang
 * through the alarm.
 *
 *   test_dlclose PATH/liballocator.so
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>

#include "../testhelper.h"

// A deadlock at thread exit (a lock left held by the destructor) must fail
// rather than stall ctest.
#define ALARM_SECONDS 30

static void *(*malloc_ts)(size_t);
static void (*free_ts)(void *);
static sem_t used;    // the worker has a cache now
static sem_t closed;  // dlclose returned: the worker may exit

static void *worker(void *arg)
{
    (void)arg;
    // More than one block, so the cache's bins hold something at exit
    // that the destructor must hand back.
    void *p[8];
    for (int i = 0; i < 8; i++) {
        p[i] = malloc_ts(24 + 40 * (size_t)i);
        REQUIRE(p[i] != NULL);
        memset(p[i], 0xa5, 24 + 40 * (size_t)i);
    }
    for (int i = 0; i < 8; i++)
        free_ts(p[i]);
    sem_post(&used);
    while (sem_wait(&closed) != 0)
        ;
    return NULL; // the key's destructor runs now, after dlclose
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    alarm(ALARM_SECONDS);
    REQUIRE(sem_init(&used, 0, 0) == 0 && sem_init(&closed, 0, 0) == 0);

    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "test_dlclose: dlopen: %s\n", dlerror());
        return 1;
    }
    // The usual dlsym idiom: POSIX says a void * converts to a function
    // pointer this way.
    *(void **)&malloc_ts = dlsym(lib, "mem_malloc_ts");
    *(void **)&free_ts = dlsym(lib, "mem_free_ts");
    REQUIRE(malloc_ts != NULL && free_ts != NULL);

    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, worker, NULL) == 0);
    while (sem_wait(&used) != 0)
        ;
    CHECK(dlclose(lib) == 0);
    // Whether the library stayed mapped is what decides the outcome;
    // say which way it went, for whoever reads a failure.
    void *again = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
    printf("test_dlclose: after dlclose the library is %s\n",
           again != NULL ? "still loaded (nodelete)" : "unloaded");
    if (again != NULL)
        dlclose(again);
    fflush(stdout);

    sem_post(&closed);
    CHECK(pthread_join(t, NULL) == 0);
    return test_report("test_dlclose");
}
