// SPDX-License-Identifier: MIT
/*
 * handoff_prog.c: a stock-style pthread program for tests/smoke/stress.bats,
 * built there with the system's cc and run under glibc and under the
 * preloaded liballocator.so.  Three producers allocate blocks of mixed
 * sizes (slots, the 1000-byte class, heap blocks, blocks around the mmap
 * threshold; malloc, calloc, posix_memalign, realloc) and hand them through
 * a mutex-protected ring to two consumers, which check the pattern, shrink
 * some with realloc and free them: every block is freed by a thread other
 * than the one that allocated it.  Meanwhile a fourth thread forks again
 * and again; each child allocates, frees, reallocs, frees a block of the
 * parent's, starts and joins a thread of its own and exits 42.
 *
 *   handoff_prog [blocks per producer, default 40000]
 *
 * Prints "forks 1" and "bad 0", exit status 0, when every check held.  An
 * alarm ends a hang after 60 s, and one in each child after 20 s (a lock
 * left held across fork: the parent then fails on the child's status).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define QN 4096
static void *q[QN];
static size_t qsz[QN];
static int qh, qt;
static pthread_mutex_t qm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qc = PTHREAD_COND_INITIALIZER;
static int done;
static long bad;
static int per_producer = 40000;

static void fail(void) { __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED); }

static size_t pick(unsigned *s)
{
    unsigned r = (unsigned)rand_r(s);
    switch (r % 8) {
    case 0: return 1 + r % 16;
    case 1: return 1000 + r % 16;     // around the 1008-byte class
    case 2: return 1 + r % 1024;
    case 3: return 1 + r % 8192;
    case 4: return 60000 + r % 80000; // around the mmap threshold
    case 5: return 1 + r % 300000;
    default: return 16 + r % 256;
    }
}

// The first 64 bytes and every 61st after them: positions that do not
// depend on the block's length, so a realloc'd block checks with either.
static void fill(unsigned char *p, size_t n, size_t tag)
{
    for (size_t i = 0; i < n; i += i < 64 ? 1 : 61)
        p[i] = (unsigned char)(tag + i * 31);
}
static int intact(const unsigned char *p, size_t n, size_t tag)
{
    for (size_t i = 0; i < n; i += i < 64 ? 1 : 61)
        if (p[i] != (unsigned char)(tag + i * 31))
            return 0;
    return 1;
}

static void *producer(void *arg)
{
    unsigned s = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < per_producer; i++) {
        size_t n = pick(&s), align = (size_t)64 << (i % 6);
        unsigned char *p = NULL;
        switch (i % 5) {
        case 0:
            p = calloc(1, n);
            for (size_t k = 0; p != NULL && k < n; k++)
                if (p[k] != 0) {
                    fail();
                    break;
                }
            break;
        case 1:
            if (posix_memalign((void **)&p, align, n) != 0)
                p = NULL;
            else if ((uintptr_t)p & (align - 1))
                fail();
            break;
        case 2: // grown by realloc: the first half must survive the move
            p = malloc(n / 2 + 1);
            if (p == NULL)
                break;
            fill(p, n / 2 + 1, n);
            p = realloc(p, n);
            if (p != NULL && !intact(p, n / 2 + 1 < n ? n / 2 + 1 : n, n))
                fail();
            break;
        default:
            p = malloc(n);
        }
        if (p == NULL) {
            fail();
            continue;
        }
        if (malloc_usable_size(p) < n)
            fail();
        fill(p, n, n);
        pthread_mutex_lock(&qm);
        while ((qt + 1) % QN == qh)
            pthread_cond_wait(&qc, &qm);
        q[qt] = p;
        qsz[qt] = n;
        qt = (qt + 1) % QN;
        pthread_cond_broadcast(&qc);
        pthread_mutex_unlock(&qm);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&qm);
        while (qh == qt && !done)
            pthread_cond_wait(&qc, &qm);
        if (qh == qt && done) {
            pthread_mutex_unlock(&qm);
            return NULL;
        }
        unsigned char *p = q[qh];
        size_t n = qsz[qh];
        qh = (qh + 1) % QN;
        pthread_cond_broadcast(&qc);
        pthread_mutex_unlock(&qm);
        if (!intact(p, n, n))
            fail();
        if (n % 3 == 0) { // shrunk by another thread than its owner's
            p = realloc(p, n / 3 + 1);
            if (p == NULL || !intact(p, n / 3 + 1, n))
                fail();
        }
        free(p);
    }
}

static void *child_thread(void *arg)
{
    (void)arg;
    void *v[200];
    for (int i = 0; i < 200; i++)
        v[i] = malloc((size_t)i * 50 + 1);
    for (int i = 0; i < 200; i++)
        free(v[i]);
    return NULL;
}

static void *forker(void *arg)
{
    (void)arg;
    int forks = 0;
    while (!__atomic_load_n(&done, __ATOMIC_RELAXED) && forks < 60) {
        unsigned char *keep = malloc(5000);
        if (keep == NULL) {
            fail();
            break;
        }
        memset(keep, 7, 5000);
        pid_t pid = fork();
        if (pid == 0) {
            // Its own alarm: a child is not covered by the parent's, and
            // one stuck on a lock held across fork would keep the test's
            // output pipe open after the parent died.
            alarm(20);
            // Only async-signal-safe work is promised after fork in a
            // threaded program, but glibc's malloc works here and so
            // programs rely on it.
            unsigned s = 99;
            void *v[1000];
            for (int i = 0; i < 1000; i++) {
                size_t n = pick(&s);
                v[i] = malloc(n);
                if (v[i] == NULL)
                    _exit(1);
                memset(v[i], 1, n);
            }
            for (int i = 0; i < 1000; i += 2)
                free(v[i]);
            for (int i = 1; i < 1000; i += 2)
                v[i] = realloc(v[i], 77);
            for (int i = 1; i < 1000; i += 2)
                free(v[i]);
            int ok = keep[4999] == 7;
            free(keep);
            pthread_t t;
            if (pthread_create(&t, NULL, child_thread, NULL) == 0)
                pthread_join(t, NULL);
            else
                ok = 0;
            _exit(ok ? 42 : 1);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 42) {
            fail();
            fprintf(stderr, "handoff_prog: child status %#x\n", (unsigned)st);
        }
        free(keep);
        forks++;
    }
    printf("forks %d\n", forks >= 1);
    return NULL;
}

int main(int argc, char **argv)
{
    signal(SIGALRM, SIG_DFL); // even where the caller ignored it
    alarm(60);
    if (argc > 1)
        per_producer = atoi(argv[1]);
    pthread_t p[3], c[2], f;
    for (int i = 0; i < 3; i++)
        pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < 2; i++)
        pthread_create(&c[i], NULL, consumer, NULL);
    pthread_create(&f, NULL, forker, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(p[i], NULL);
    pthread_mutex_lock(&qm);
    __atomic_store_n(&done, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&qc);
    pthread_mutex_unlock(&qm);
    for (int i = 0; i < 2; i++)
        pthread_join(c[i], NULL);
    pthread_join(f, NULL);
    printf("bad %ld\n", bad);
    return bad != 0;
}
