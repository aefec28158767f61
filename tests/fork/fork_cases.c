// SPDX-License-Identifier: MIT
/*
 * fork_cases: fork while other threads (or the interrupted thread itself)
 * use the allocator, each case of issue 12 in its own mode.  Run under
 * LD_PRELOAD; a hang ends in the watchdog's SIGALRM.
 *
 *   stdio   glibc's bug 19431 pattern: threads fork in a loop while others
 *           read long lines with getline and one calls fflush(NULL); the
 *           allocator must take its locks after stdio's list lock.
 *   cross   threads fork while others allocate and free across threads;
 *           every child allocates and frees its own blocks and walks the
 *           heap: its copy of the heap must be consistent.
 *   stale   another thread's cache as fork may catch it mid-operation (a
 *           cached block whose link still points at a block that is live
 *           again): the child must not trust, flush or reuse that cache.
 *   signal  a single-threaded program forks from a signal handler that may
 *           have interrupted malloc.
 *   large   ALLOCATOR_CHECK=1 with threads freeing large blocks and heap
 *           walks (set by the caller): no false "damaged" report, and
 *           fork children walk a sound heap.
 *   spawner the main thread allocates while one thread that never does
 *           forks: the handlers must be in before that thread existed
 *           (the allocator registers them in pthread_create, not at
 *           start-up).
 *   helper  a thread made by libc's own pthread_create, past the
 *           allocator's, allocates while the main thread forks: its first
 *           allocation must register the handlers before it takes a lock.
 */
#include "forkhelper.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

static atomic_int stop;
static atomic_int forks_done, child_failures;
static int (*check_heap)(void); // mem_check_heap, from the preloaded library

static void run_for_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

// Waits for a child; counts it as failed unless it exited with 0.
static void reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            atomic_fetch_add(&child_failures, 1);
            return;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "fork_cases: child killed by signal %d\n", WTERMSIG(status));
        atomic_fetch_add(&child_failures, 1);
    }
    atomic_fetch_add(&forks_done, 1);
}

// What every child does: allocate, fill, check and free blocks of its own
// (small ones first, in the sizes the other threads were caching, so that
// a block handed out twice shows as a pattern overwritten), then walk the
// heap.  Exits 0 when all was well.
static void child_work(void)
{
    enum { N = 1500 };
    static char *blocks[N];
    static size_t sizes[N];
    for (int i = 0; i < N; i++) {
        sizes[i] = (size_t)(16 + (i * 37) % 300) + (i % 500 == 0 ? 150000 : 0);
        blocks[i] = malloc(sizes[i]);
        if (blocks[i] == NULL)
            _exit(3);
        memset(blocks[i], i, sizes[i]);
    }
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < sizes[i]; k += 7)
            if (blocks[i][k] != (char)i)
                _exit(4);
        free(blocks[i]);
    }
    if (check_heap != NULL && check_heap() != 0)
        _exit(5);
    _exit(0);
}

static void *forker(void *arg)
{
    int limit = *(int *)arg;
    while (!atomic_load(&stop) && atomic_load(&forks_done) < limit) {
        pid_t pid = fork();
        if (pid < 0) {
            run_for_ms(1);
            continue;
        }
        if (pid == 0)
            child_work();
        reap(pid);
    }
    return NULL;
}

/* ---- stdio: getline, fflush(NULL) and fork ------------------------------ */

static char line_file[64];

static void *reader(void *arg)
{
    (void)arg;
    FILE *f = fopen(line_file, "r");
    if (f == NULL)
        return NULL;
    while (!atomic_load(&stop)) {
        char *line = NULL;
        size_t cap = 0;
        // A fresh buffer for every line: getline reallocates as it grows,
        // while holding the FILE's lock.
        if (getline(&line, &cap, f) < 0)
            rewind(f);
        free(line);
    }
    fclose(f);
    return NULL;
}

static void *flusher(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        fflush(NULL);
    return NULL;
}

static int case_stdio(void)
{
    snprintf(line_file, sizeof line_file, "/tmp/la_fork_lines.%d", (int)getpid());
    FILE *f = fopen(line_file, "w");
    if (f == NULL)
        return 1;
    for (int l = 0; l < 8; l++) {
        for (int i = 0; i < 20000 * (l + 1); i++)
            fputc('a' + (i + l) % 26, f);
        fputc('\n', f);
    }
    fclose(f);
    // Three seconds of it: stdio's locks are contended, so forks are slow,
    // but a deadlock makes no progress at all and the watchdog fires.
    int limit = 1 << 30;
    pthread_t t[13];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    pthread_create(&t[8], NULL, flusher, NULL);
    for (int i = 9; i < 13; i++)
        pthread_create(&t[i], NULL, forker, &limit);
    run_for_ms(3000);
    atomic_store(&stop, 1);
    for (int i = 0; i < 13; i++)
        pthread_join(t[i], NULL);
    unlink(line_file);
    return 0;
}

/* ---- cross: blocks freed by other threads ------------------------------- */

#define SLOTS 4096
static _Atomic(char *) slots[SLOTS];

// One allocation into a random slot, freeing what the slot held; the
// state is the calling thread's.
static _Thread_local uint64_t churn_x;
static void churner_step(void)
{
    uint64_t x = churn_x;
    if (x == 0)
        x = (uint64_t)(uintptr_t)&churn_x * 0x9e3779b97f4a7c15u + 1;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    churn_x = x;
    size_t size = 16 + x % 300;
    char *p = malloc(size);
    if (p == NULL)
        abort();
    // The last byte: the first word keeps whatever link it held while
    // cached, as a program's data would.
    p[size - 1] = 1;
    // Whatever was in the slot was allocated by some thread: free it.
    free(atomic_exchange(&slots[(x >> 20) % SLOTS], p));
}

static void *churner(void *arg)
{
    churn_x = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15u + 1;
    while (!atomic_load(&stop))
        churner_step();
    return NULL;
}

static int case_cross(int limit)
{
    pthread_t t[8];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, churner, (void *)(uintptr_t)(i + 1));
    for (int i = 4; i < 8; i++)
        pthread_create(&t[i], NULL, forker, &limit);
    for (int i = 4; i < 8; i++)
        pthread_join(t[i], NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < SLOTS; i++)
        free(atomic_exchange(&slots[i], NULL));
    return 0;
}

/* ---- spawner and helper: handlers registered late ---------------------- */

// The main thread churns while one forker forks: every child walks the
// heap whose lock the main thread may have held at the fork.
static int case_spawner(int limit)
{
    free(malloc(100)); // the main thread's cache, while single-threaded
    pthread_t t;
    if (pthread_create(&t, NULL, forker, &limit) != 0)
        return 1;
    while (atomic_load(&forks_done) < limit)
        churner_step();
    pthread_join(t, NULL);
    return 0;
}

static void *helper_churner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        churner_step();
    return NULL;
}

// libc's pthread_create, found in libc itself: the allocator's, first in
// lookup order, is not called.
static int case_helper(int limit)
{
    free(malloc(100));
    typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    create_fn libc_create = libc == NULL ? NULL : (create_fn)dlsym(libc, "pthread_create");
    if (libc_create == NULL || libc_create == pthread_create) {
        fprintf(stderr, "fork_cases helper: libc's pthread_create not found apart\n");
        return 1;
    }
    pthread_t t;
    if (libc_create(&t, NULL, helper_churner, NULL) != 0)
        return 1;
    forker(&limit);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}

/* ---- stale: another thread's cache caught mid-operation ----------------- */

static pthread_barrier_t park;
static char *stale_live;

// Frees a block into this thread's cache, then makes the cached block's
// link point at a live block (what a fork may see while a thread pushes or
// pops), and stays alive until the fork is over.
static void *stale_owner(void *arg)
{
    (void)arg;
    void *cached = malloc(40);
    free(cached);
    char *link = *(char **)cached; // its link word, as the cache wrote it
    *(char **)cached = stale_live; // a use-after-free write, or a torn push
    pthread_barrier_wait(&park);   // cache ready: the main thread forks
    pthread_barrier_wait(&park);   // fork done
    *(char **)cached = link; // the parent's own copy stays sound
    return NULL;
}

static int case_stale(void)
{
    stale_live = malloc(40);
    memset(stale_live, 0x77, 40);
    *(char **)stale_live = NULL;
    pthread_barrier_init(&park, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, stale_owner, NULL);
    pthread_barrier_wait(&park);
    pid_t pid = fork();
    if (pid == 0) {
        // The live block must never be handed out again here.
        for (int i = 0; i < 20000; i++) {
            char *p = malloc(40);
            if (p == stale_live)
                _exit(6);
        }
        _exit(0);
    }
    reap(pid);
    pthread_barrier_wait(&park);
    pthread_join(t, NULL);
    free(stale_live);
    return 0;
}

/* ---- signal: fork from a handler that interrupted malloc ---------------- */

static void on_timer(int sig)
{
    (void)sig;
    int saved = errno;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0); // the child may not allocate: malloc was interrupted
    if (pid > 0)
        reap(pid);
    errno = saved;
}

static int case_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_timer;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    timer_t timer;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0)
        return 1;
    struct itimerspec its = {{0, 300000}, {0, 300000}}; // every 0.3 ms
    timer_settime(timer, 0, &its, NULL);
    // Sizes past the thread cache take a heap lock, large ones the
    // large-block lock: the signal must land inside them now and then.
    uint64_t x = 12345;
    char *keep[32] = {0};
    while (atomic_load(&forks_done) < 1500) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t size = x % 4 == 0 ? 150000 + x % 100000 : 1100 + x % 30000;
        unsigned i = (unsigned)(x >> 40) % 32;
        free(keep[i]);
        keep[i] = malloc(size);
        if (keep[i] == NULL)
            abort();
        keep[i][0] = 1;
    }
    timer_delete(timer);
    for (int i = 0; i < 32; i++)
        free(keep[i]);
    return 0;
}

/* ---- large: checking mode with threads freeing large blocks ------------- */

static void *large_churner(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg;
    while (!atomic_load(&stop)) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char *p = malloc(140000 + x % 300000);
        if (p == NULL)
            abort();
        p[0] = 1;
        free(p);
    }
    return NULL;
}

// Forks until `limit` children are done or 20 s have passed: checking
// mode fills every large block, and on a loaded machine 2000 forks took
// 25-40 s of the watchdog's 60 (13 s on an idle one).  A fork that hangs
// still meets the watchdog: the joins below wait for the forkers.
#define LARGE_BUDGET_MS 20000

static int case_large(int limit)
{
    pthread_t t[6];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, large_churner, (void *)(uintptr_t)(i + 7));
    for (int i = 4; i < 6; i++)
        pthread_create(&t[i], NULL, forker, &limit);
    for (int ms = 0; ms < LARGE_BUDGET_MS && atomic_load(&forks_done) < limit; ms += 10)
        run_for_ms(10);
    atomic_store(&stop, 1);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: fork_cases stdio|cross|stale|signal|large|spawner|helper [forks]\n");
        return 2;
    }
    const char *mode = argv[1];
    int limit = argc > 2 ? atoi(argv[2]) : 2000;
    require_liballocator("fork_cases");
    check_heap = (int (*)(void))dlsym(RTLD_DEFAULT, "mem_check_heap");
    watchdog(60);
    int rc;
    if (strcmp(mode, "stdio") == 0)
        rc = case_stdio();
    else if (strcmp(mode, "cross") == 0)
        rc = case_cross(limit);
    else if (strcmp(mode, "stale") == 0)
        rc = case_stale();
    else if (strcmp(mode, "signal") == 0)
        rc = case_signal();
    else if (strcmp(mode, "large") == 0)
        rc = case_large(limit);
    else if (strcmp(mode, "spawner") == 0)
        rc = case_spawner(limit);
    else if (strcmp(mode, "helper") == 0)
        rc = case_helper(limit);
    else {
        fprintf(stderr, "fork_cases: unknown mode %s\n", mode);
        return 2;
    }
    int failed = atomic_load(&child_failures), done = atomic_load(&forks_done);
    printf("fork_cases %s: %d forks, %d children failed\n", mode, done, failed);
    if (rc != 0 || failed != 0 || done == 0)
        return 1;
    return 0;
}
