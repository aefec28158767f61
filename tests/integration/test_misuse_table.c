// SPDX-License-Identifier: MIT
/*
 * The misuse-class table (issues 13 and 15): every class of heap misuse
 * (overflow and underflow by 1, 8 and 32 bytes, an overread and an
 * overflow never freed (large blocks), writes after free (also one still
 * in the quarantine at exit), double and invalid frees, use of freed
 * blocks, uninitialised reads, a stale pointer writing into a reused
 * block) for small (slot), medium (~4 KiB)
 * and large (256 KiB, mapped) blocks, run in a child process on the
 * preloaded library, once per mode: the default, checking mode
 * (ALLOCATOR_CHECK=1) and the guard-page sampler (ALLOCATOR_GUARD_SAMPLE=1,
 * skipped with its reason when the build does not know the option).
 *
 * A case is "caught" when its child dies of SIGABRT with a report that
 * names the class (the words of `want`), or, for the uninitialised read,
 * when the fresh block reads as junk rather than zeros (exit 3).  Any
 * other death is recorded as a crash, never as caught.  The test fails if
 * checking mode misses any case, or if the default mode's verdict differs
 * from the expected column below (a regression, or a gain to record).
 * The guard column is printed, not checked: the sampler catches a block
 * only when it samples it, and its expected verdicts belong with it (a
 * run with ALLOCATOR_GUARD_SAMPLE=1 is meant to sample every block).
 * With an argument "glibc" it also prints the table for plain glibc, for
 * reference; that column is not checked.
 *
 * Usage: test_misuse_table LIBALLOCATOR.so [glibc]
 *        test_misuse_table --case NAME      (the child's side)
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <malloc.h>

#define TINY 8             // an 8-byte slot, of the one-word class (no links)
#define SMALL 100          // a 112-byte slot in the default mode
#define MEDIUM 6000        // a headed heap block (above the slabs: a medium bin)
#define LARGE (256 * 1024) // its own mapping
#define CHURN 20000        // frees that push a freed block out of any quarantine

// The compiler must not see through the pointers it would otherwise
// warn about or fold (a write after free, a free of a stack address).
static void *launder(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

static size_t case_size(char s)
{
    return s == 't' ? TINY : s == 's' ? SMALL : s == 'm' ? MEDIUM : LARGE;
}

// Frees and allocates enough to cycle a freed block out of a quarantine,
// with allocations of every size so each path is exercised.
static void churn(size_t n)
{
    for (int i = 0; i < CHURN; i++) {
        void *q = malloc(i % 2 ? n : 64);
        free(launder(q));
    }
}

static void overflow(size_t n, int by)
{
    unsigned char *p = launder(malloc(n));
    memset(p, 'a', n + (size_t)by);
    free(p);
}

// Past the end without a free to find it: a read, or a write the program
// never frees the block after.  Caught only by a fault on a guard page
// (checking mode's after every large block, issue 15).
static void overread(size_t n, int by)
{
    volatile unsigned char *p = launder(malloc(n));
    volatile unsigned char sink = p[n - 1 + (size_t)by];
    (void)sink;
    free(launder((void *)p));
}

static void overflow_unfreed(size_t n, int by)
{
    unsigned char *p = launder(malloc(n));
    memset(p, 'a', n + (size_t)by);
    exit(0);
}

static void underflow(size_t n, int by)
{
    volatile unsigned char *p = launder(malloc(n));
    // Each byte is flipped, not set: a fixed value would equal the byte of
    // a keyed check word already there once in 256 runs (and the default
    // column would then say missed).
    for (int i = 1; i <= by; i++)
        p[-i] = (unsigned char)~p[-i];
    free(launder((void *)p));
}

// A block of n bytes freed, then written in its middle.  The byte is
// flipped, not set: a fixed value equals the byte of a keyed word already
// there (the 8-byte class's mark, a link's tag) once in 256 runs, and the
// default column then says missed (seen in CI).
static void freed_then_written(size_t n)
{
    unsigned char *p = launder(malloc(n));
    memset(p, 0, n);
    free(p);
    volatile unsigned char *q = launder(p);
    q[n / 2] = (unsigned char)~q[n / 2];
}

static void write_after_free(size_t n)
{
    freed_then_written(n);
    churn(n);
}

// A write after free into a block still in the quarantine at exit: found
// by the check of the quarantine at exit, or not at all (issue 15).
static void write_after_free_exit(size_t n)
{
    freed_then_written(n);
    exit(0);
}

static void free_reused(size_t n)
{
    void *p = launder(malloc(n));
    free(p);
    void *q = launder(malloc(n)); // may be p again
    free(launder(p));
    free(q);
}

static void double_free(size_t n)
{
    void *p = launder(malloc(n));
    free(p);
    free(launder(p));
}

static void double_free_between(size_t n)
{
    void *p = launder(malloc(n)), *q = launder(malloc(n));
    free(p);
    free(q);
    free(launder(p));
}

static void free_interior(size_t n)
{
    char *p = launder(malloc(n));
    free(launder(p + 32));
}

static void free_unaligned(size_t n)
{
    char *p = launder(malloc(n));
    free(launder(p + 1));
}

static void realloc_freed(size_t n)
{
    void *p = launder(malloc(n));
    free(p);
    p = realloc(launder(p), 2 * n);
    free(p);
}

static void usable_freed(size_t n)
{
    void *p = launder(malloc(n));
    free(p);
    printf("%zu\n", malloc_usable_size(launder(p)));
}

// The program reads a fresh block as if zeroed: caught when it reads junk.
static void uninit(size_t n)
{
    unsigned char *p = launder(malloc(n));
    memset(p, 0, n);
    free(p);
    unsigned char *q = launder(malloc(n));
    volatile unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= q[i];
    free(q);
    exit(any ? 3 : 0);
}

// malloc hands back memory that a stale pointer still writes into.
static void stale_write(size_t n)
{
    unsigned char *p = launder(malloc(n));
    free(p);
    unsigned char *q = launder(malloc(n));
    memset(q, 'q', n);
    ((unsigned char *)launder(p))[n / 2] = 'X'; // lands in q when q == p
    free(q);
    churn(n);
}

static char static_buf[64] __attribute__((aligned(16)));

static void free_static(size_t n)
{
    (void)n;
    free(launder(static_buf + 32));
}

static void free_stack(size_t n)
{
    (void)n;
    char local[64] __attribute__((aligned(16)));
    memset(local, 0, sizeof local);
    free(launder(local + 32));
}

typedef struct {
    const char *name;
    void (*fn)(size_t n);
    int by;            // overflow/underflow bytes, else 0
    void (*fn_by)(size_t n, int by);
    const char *want;  // words the report must contain ('|' separates choices)
    // Expected verdict of the default mode: 1 caught, 0 missed, ANY not
    // checked (see below).
    int default_catches;
} la_case_t;

// A default verdict that depends on what the memory held before (an
// uninitialised read of fresh memory): shown, not checked.
#define ANY 2
#define SIZED(label, f, want, es, em, el)                    \
    {label "-small", f, 0, NULL, want, es},                  \
    {label "-medium", f, 0, NULL, want, em},                 \
    {label "-large", f, 0, NULL, want, el}
#define BY(label, f, by, want, es, em, el)                   \
    {label "-" #by "-small", NULL, by, f, want, es},         \
    {label "-" #by "-medium", NULL, by, f, want, em},        \
    {label "-" #by "-large", NULL, by, f, want, el}

// The default column is what the production build catches today; a
// change either way fails the test, so that it is noticed and recorded.
static const la_case_t cases[] = {
    BY("overflow", overflow, 1, "overflow", 0, 0, 0),
    BY("overflow", overflow, 8, "overflow", 0, 0, 0),
    BY("overflow", overflow, 32, "overflow", 0, 0, 0),
    BY("underflow", underflow, 1, "header|underflow", 0, 1, 1),
    BY("underflow", underflow, 8, "header|underflow", 0, 1, 1),
    BY("underflow", underflow, 32, "header|underflow", 0, 1, 1),
    // Large blocks only: small and medium ones have no guard page after
    // them in checking mode, whose table must catch every row.
    {"overread-32-large", NULL, 32, overread, "overflow past", 0},
    {"overflow-8-unfreed-large", NULL, 8, overflow_unfreed, "overflow past", 0},
    SIZED("write-after-free", write_after_free, "write after free|use after free", 0, 0, 0),
    SIZED("write-after-free-exit", write_after_free_exit,
          "exit(): write after free|use after free of", 0, 0, 0),
    SIZED("free-reused", free_reused, "double free", 1, 1, 1),
    SIZED("double-free", double_free, "double free", 1, 1, 1),
    SIZED("double-free-between", double_free_between, "double free", 1, 1, 1),
    SIZED("free-interior", free_interior, "invalid pointer", 1, 1, 1),
    SIZED("free-unaligned", free_unaligned, "invalid pointer", 1, 1, 1),
    SIZED("realloc-freed", realloc_freed, "freed|double free", 1, 1, 1),
    // A slot's size is answered without reading the slot (tcache.h,
    // tcache_usable_size), as glibc, jemalloc, tcmalloc and mimalloc do.
    SIZED("usable-size-freed", usable_freed, "freed|double free", 0, 1, 1),
    // A reused slot or medium block keeps its free-list link words: it
    // does not read as all zeros, by accident.  The 256 KiB block is cut
    // from the heap's top: zeros when that memory is fresh from the
    // kernel, as in glibc, but junk when the process had used and freed
    // it before (the UBSan build's runtime does): not checked.
    SIZED("uninit-read", uninit, "", 1, 1, ANY),
    SIZED("stale-write", stale_write, "write after free|use after free", 0, 0, 0),
    {"free-stack", free_stack, 0, NULL, "invalid pointer", 1},
    {"free-static", free_static, 0, NULL, "invalid pointer", 1},
    // The 8-byte class, whose free slots hold a one-word mark where the
    // others hold link words: a write after free into it breaks the mark
    // (the next malloc of the class finds it), and a fresh slot's word is
    // not zero either.
    {"write-after-free-tiny", write_after_free, 0, NULL, "write after free|use after free", 1},
    {"free-reused-tiny", free_reused, 0, NULL, "double free", 1},
    {"double-free-tiny", double_free, 0, NULL, "double free", 1},
    {"double-free-between-tiny", double_free_between, 0, NULL, "double free", 1},
    {"free-unaligned-tiny", free_unaligned, 0, NULL, "invalid pointer", 1},
    {"realloc-freed-tiny", realloc_freed, 0, NULL, "freed|double free", 1},
    {"usable-size-freed-tiny", usable_freed, 0, NULL, "freed|double free", 1},
    {"uninit-read-tiny", uninit, 0, NULL, "", 1},
    {"stale-write-tiny", stale_write, 0, NULL, "write after free|use after free", 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

static int run_case(const char *name)
{
    for (size_t i = 0; i < NCASES; i++) {
        const la_case_t *c = &cases[i];
        if (strcmp(c->name, name) != 0)
            continue;
        size_t n = case_size(strstr(name, "-tiny")     ? 't'
                             : strstr(name, "-medium") ? 'm'
                             : strstr(name, "-large")  ? 'l'
                                                       : 's');
        if (c->fn_by != NULL)
            c->fn_by(n, c->by);
        else
            c->fn(n);
        return 0;
    }
    fprintf(stderr, "no case %s\n", name);
    return 2;
}

/* ---- the parent --------------------------------------------------------- */

enum { MISSED, CAUGHT, CRASH, UNNAMED, SKIPPED };
static const char *const verdict_name[] = {"missed", "CAUGHT", "crash", "unnamed", "-"};

// Whether the report names the class: one of the '|'-separated choices.
static int names_class(const char *err, const char *want)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", want);
    for (char *w = strtok(buf, "|"); w != NULL; w = strtok(NULL, "|"))
        if (strstr(err, w) != NULL)
            return 1;
    return 0;
}

// Runs one case in a child with the given environment additions (NULL
// entries ignored); its stderr goes to err.
static int run_child(const char *self, const char *name, char *const extra_env[], char *err,
                     size_t cap, int *status)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        unsetenv("ALLOCATOR_CHECK");
        unsetenv("ALLOCATOR_CHECK_EVERY");
        unsetenv("LD_PRELOAD");
        setenv("ALLOCATOR_STATS", "0", 1);
        for (int i = 0; extra_env[i] != NULL; i++)
            putenv(extra_env[i]);
        execl(self, self, "--case", name, (char *)NULL);
        _exit(126);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fds[0], err + got, cap - 1 - got)) > 0) {
        got += (size_t)r;
        if (got == cap - 1)
            got = 0; // keep reading; the start of the report is what counts
    }
    err[got] = '\0';
    close(fds[0]);
    waitpid(pid, status, 0);
    return 0;
}

static int verdict(const la_case_t *c, int status, const char *err)
{
    if (c->want[0] == '\0') // the uninitialised read: exit 3 when it saw junk
        return WIFEXITED(status) && WEXITSTATUS(status) == 3 ? CAUGHT
               : WIFEXITED(status) && WEXITSTATUS(status) == 0 ? MISSED
                                                               : CRASH;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return MISSED;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(err, "liballocator:"))
        return names_class(err, c->want) ? CAUGHT : UNNAMED;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
        return names_class(err, c->want) ? CAUGHT : UNNAMED; // glibc's own words
    return CRASH;
}

#define NMODES 4
static const char *const mode_name[NMODES] = {"default", "check", "guard", "glibc"};

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--case") == 0)
        return run_case(argv[2]);
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBALLOCATOR.so [glibc]\n", argv[0]);
        return 2;
    }
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0)
        return 2;
    self[sl] = '\0';
    static char preload[4200];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", argv[1]);
    int want_glibc = argc > 2 && strcmp(argv[2], "glibc") == 0;

    // Does this build know the guard-page sampler?  An unknown option is
    // named in a warning on stderr.
    char err[8192];
    int status;
    char *probe_env[] = {preload, "ALLOCATOR_GUARD_SAMPLE=1", NULL};
    run_child(self, "uninit-read-small", probe_env, err, sizeof err, &status);
    int have_guard = strstr(err, "unknown option") == NULL;
    if (!have_guard)
        printf("guard column skipped: this build does not know ALLOCATOR_GUARD_SAMPLE "
               "(\"%.*s\")\n", (int)strcspn(err, "\n"), err);

    char *envs[NMODES][4] = {
        {preload, NULL},
        {preload, "ALLOCATOR_CHECK=1", NULL},
        {preload, "ALLOCATOR_GUARD_SAMPLE=1", NULL},
        {NULL},
    };
    int failures = 0, caught[NMODES] = {0}, ran[NMODES] = {0};
    printf("%-28s %-8s %-8s %-8s %-8s\n", "class", mode_name[0], mode_name[1], mode_name[2],
           mode_name[3]);
    for (size_t i = 0; i < NCASES; i++) {
        const la_case_t *c = &cases[i];
        int v[NMODES];
        for (int m = 0; m < NMODES; m++) {
            if ((m == 2 && !have_guard) || (m == 3 && !want_glibc)) {
                v[m] = SKIPPED;
                continue;
            }
            if (run_child(self, c->name, envs[m], err, sizeof err, &status) != 0) {
                fprintf(stderr, "cannot run a child\n");
                return 1;
            }
            v[m] = verdict(c, status, err);
            ran[m]++;
            caught[m] += v[m] == CAUGHT;
            int fail = (m == 1 && v[m] != CAUGHT) ||
                       (m == 0 && c->default_catches != ANY &&
                        (v[m] == CAUGHT) != (c->default_catches != 0));
            if (fail) {
                failures++;
                fprintf(stderr, "FAIL %s under %s: %s (expected %s), status %#x: %.*s\n",
                        c->name, mode_name[m], verdict_name[v[m]],
                        m == 1 || c->default_catches ? "CAUGHT" : "missed", status,
                        (int)strcspn(err, "\n"), err);
            }
        }
        printf("%-28s %-8s %-8s %-8s %-8s\n", c->name, verdict_name[v[0]], verdict_name[v[1]],
               verdict_name[v[2]], verdict_name[v[3]]);
    }
    printf("%-28s", "caught");
    for (int m = 0; m < NMODES; m++)
        if (ran[m])
            printf(" %d/%d%*s", caught[m], ran[m], ran[m] >= 10 ? 3 : 4, "");
        else
            printf(" %-8s", "-");
    printf("\n");
    if (failures) {
        fprintf(stderr, "test_misuse_table: %d verdicts differ from the expected table\n",
                failures);
        return 1;
    }
    printf("test_misuse_table: the table matches (%zu classes)\n", NCASES);
    return 0;
}
