// SPDX-License-Identifier: MIT
/*
 * testhelper.h: the one helper every C test includes.  CHECK records a
 * failure with its line and keeps going; main returns test_report().  Also
 * a small deterministic PRNG, and run_child() to run a function in a forked
 * child and collect its exit status and stderr (for abort-on-misuse tests;
 * check_misuse_report() checks such a child's one-line report).
 * Tests print only on failure, plus one summary line.
 */
#ifndef TESTHELPER_H
#define TESTHELPER_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        test_checks++;                                                               \
        if (!(cond)) {                                                               \
            test_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                      \
    do {                                                                                    \
        unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b);    \
        test_checks++;                                                                      \
        if (va_ != vb_) {                                                                   \
            test_failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %llu, %s == %llu\n", __FILE__,   \
                    __LINE__, #a, va_, #b, vb_);                                            \
        }                                                                                   \
    } while (0)

// Stop the test at once (state is too broken to go on).
#define REQUIRE(cond)                                                                \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

// Whether the n bytes at p all hold v.
static inline int all_bytes(const void *p, size_t n, unsigned char v)
{
    const unsigned char *c = (const unsigned char *)p; // a cast, for C++ tests too
    for (size_t i = 0; i < n; i++)
        if (c[i] != v)
            return 0;
    return 1;
}

static inline int test_report(const char *name)
{
    if (test_failures != 0) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, test_failures, test_checks);
        return 1;
    }
    printf("%s: %d checks passed\n", name, test_checks);
    return 0;
}

// Runs fn(arg) in a new thread and waits for it to end: a new thread's
// first calls meet the placeholder cache, and its bins start empty.
static inline void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, fn, arg) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
}

// xorshift64*: deterministic, seedable, good enough for workloads.
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

// Runs fn() in a child with stderr captured into buf.  Returns the raw
// wait status.  The child's stdout is left alone.
static inline int run_child(void (*fn)(void), char *buf, size_t cap)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fds[0], buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return status;
}

// Runs fn() in a child that must die of SIGABRT (CHECKed; what it did
// instead is printed under `name`), its stderr into err.  The child first
// announces the address the report must name ("expect ADDR"), which goes
// to addr ("" if none); *report is the allocator's report, or NULL if
// there is none or it is more than one line.
static inline void child_report(const char *name, void (*fn)(void), char *err, size_t cap,
                                char addr[40], const char **report)
{
    int status = run_child(fn, err, cap);
    int aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    if (!aborted)
        fprintf(stderr, "case '%s': child did not abort (%s %d): %s\n", name,
                WIFSIGNALED(status) ? "signal" : "exit",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), err);
    CHECK(aborted);
    addr[0] = '\0';
    sscanf(err, "expect %39s", addr);
    *report = strstr(err, "liballocator: ");
    if (*report != NULL && strchr(*report, '\n') != strrchr(*report, '\n'))
        *report = NULL;
}

// check_misuse_report's function, run by misuse_run in the child.
static void (*misuse_fn)(void) __attribute__((unused));
static inline void misuse_run(void)
{
    alarm(10); // a hang dies of SIGALRM, not SIGABRT
    misuse_fn();
}

// child_report() of fn() under a 10 s alarm, CHECKing that the one-line
// report names the address the child announced and holds every string of
// want (NULL-terminated); says what came instead, under `name`.
static inline void check_misuse_report(const char *name, void (*fn)(void),
                                       const char *const *want)
{
    char err[2048], addr[40];
    const char *report;
    misuse_fn = fn;
    child_report(name, misuse_run, err, sizeof err, addr, &report);
    int ok = report != NULL && addr[0] != '\0' && strstr(report, addr) != NULL;
    for (size_t i = 0; ok && want[i] != NULL; i++)
        ok = strstr(report, want[i]) != NULL;
    if (!ok) {
        fprintf(stderr, "case '%s': unexpected report: %s\n", name, err);
        CHECK(!"the report names the misuse and the address");
    }
}

// Runs fn() in a child that must die of SIGABRT with a report holding
// both strings; says what it got otherwise.  True if it did.
static inline int aborted_with(void (*fn)(void), const char *want1, const char *want2)
{
    char err[2048];
    int status = run_child(fn, err, sizeof err);
    int ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(err, want1) != NULL &&
             strstr(err, want2) != NULL;
    if (!ok)
        fprintf(stderr, "expected an abort naming '%s' and '%s', got status %#x: %s\n", want1,
                want2, status, err);
    return ok;
}

#endif /* TESTHELPER_H */
