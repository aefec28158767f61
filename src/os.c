// SPDX-License-Identifier: MIT
/*
 * os.c: the only file that talks to the kernel (brk, mmap, munmap, mremap,
 * futex, write, getrandom, /proc) or reads the environment.  Nothing here allocates
 * or takes a lock; every function may be called during bootstrap, with a
 * heap lock held, or from a signal-free fatal path.  Failures are returned,
 * never reported, except the fatal ones.
 *
 * The calls made by every run (mmap, munmap, madvise, mremap, mprotect,
 * futex, getrandom, sched_getaffinity) and the environment scan do not go
 * through libc: each libc function a run calls maps its 64 KiB window of
 * libc's text (the kernel's fault-around), and a plain program under glibc's
 * malloc never touches sched_getaffinity's, syscall()'s or the string
 * functions' (issue 14: 44 KiB of libc text and 64 KiB of its rodata more
 * than under glibc, in /proc/self/smaps).  sys() returns the kernel's
 * -errno and leaves errno alone, so no save/restore is needed around it.
 * brk stays libc's sbrk: libc keeps the break in a variable of its own,
 * which a program's sbrk would otherwise trust and move back.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

#if defined(__x86_64__)
// The kernel's calling convention: number in rax, arguments in rdi, rsi,
// rdx, r10, r8, r9; rcx and r11 clobbered; -errno in rax on failure.
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#else
// Elsewhere libc's syscall(), with errno saved and turned into -errno.
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    int saved = errno;
    long ret = syscall(n, a, b, c, d, e, f);
    if (ret == -1) {
        ret = -errno;
        errno = saved;
    }
    return ret;
}
#endif

#define sys(n, a, b, c, d, e, f)                                                                   \
    sys6((long)(n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

// mmap's result: a failure is -errno, i.e. in the last page of addresses.
static inline void *mapped(long ret) { return (unsigned long)ret > -4096UL ? NULL : (void *)ret; }

LA_HOT_TEXT size_t os_page_bytes(void)
{
    // getauxval neither allocates nor needs libc to be initialised.
    size_t page = (size_t)getauxval(AT_PAGESZ);
    return page ? page : 4096;
}

LA_HOT_TEXT uint64_t os_random64(void)
{
    uint64_t value = 0;
    // GRND_NONBLOCK: early in boot the pool may not be ready; then fall back
    // to the 16 random bytes the kernel gives every process (AT_RANDOM).
    if (sys(SYS_getrandom, &value, sizeof value, 1 /* GRND_NONBLOCK */, 0, 0, 0) == sizeof value)
        return value;
    const unsigned char *auxrand = (const unsigned char *)getauxval(AT_RANDOM);
    if (auxrand != NULL)
        memcpy(&value, auxrand + 8, sizeof value);
    return value ^ (uint64_t)(uintptr_t)&value;
}

LA_HOT_TEXT void *os_sbrk(size_t bytes)
{
    int saved = errno; // a failed sbrk sets errno; the caller falls back to mmap
    void *old = sbrk((intptr_t)bytes);
    errno = saved;
    return old == (void *)-1 ? NULL : old;
}

LA_HOT_TEXT void *os_brk_current(void) { return sbrk(0); }

LA_HOT_TEXT void os_sbrk_release(size_t bytes)
{
    int saved = errno;
    sbrk(-(intptr_t)bytes);
    errno = saved;
}

// ThreadSanitizer keeps the history of every access by address, and
// forgets a range only when its mmap and munmap interceptors see it mapped
// or unmapped.  The system calls above pass them by: a block unmapped and
// a new mapping at the same address kept the old accesses, and the new
// block's header "raced" with them (test_threads under TSan, a report now
// and then since 2d8ebd9).  Built with -fsanitize=thread, mappings go
// through libc's wrappers (intercepted), and mremap, which it does not
// intercept, fails: the callers map anew and copy.  (LA_TSAN: internal.h.)

static long sys_mmap(size_t bytes, int prot, int flags)
{
#ifdef LA_TSAN
    int saved = errno;
    void *p = mmap(NULL, bytes, prot, flags, -1, 0);
    long ret = p == MAP_FAILED ? -errno : (long)p;
    errno = saved;
    return ret;
#else
    return sys(SYS_mmap, NULL, bytes, prot, flags, -1, 0);
#endif
}

LA_HOT_TEXT void *os_map(size_t bytes)
{
    return mapped(sys_mmap(bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS));
}

void *os_reserve(size_t bytes)
{
    // NORESERVE: address space only; pages count once they are made
    // accessible and touched.
    return mapped(sys_mmap(bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE));
}

bool os_protect(void *addr, size_t bytes, bool accessible)
{
    return sys(SYS_mprotect, addr, bytes, accessible ? PROT_READ | PROT_WRITE : PROT_NONE, 0, 0, 0) == 0;
}

LA_HOT_TEXT void os_unmap(void *addr, size_t bytes)
{
#ifdef LA_TSAN
    int saved = errno;
    munmap(addr, bytes);
    errno = saved;
#else
    sys(SYS_munmap, addr, bytes, 0, 0, 0, 0); // errno untouched: free() must leave it alone
#endif
}

void *os_remap(void *addr, size_t old_bytes, size_t new_bytes)
{
#ifdef LA_TSAN
    (void)addr, (void)old_bytes, (void)new_bytes;
    return NULL;
#else
    return mapped(sys(SYS_mremap, addr, old_bytes, new_bytes, MREMAP_MAYMOVE, 0, 0));
#endif
}

// Where reports go: stderr, or a private duplicate of it taken at start-up
// (programs such as coreutils close fd 2 in an atexit handler, before the
// statistics are printed at exit).  Either descriptor may have been closed
// and reused by the program since (a daemon closes every descriptor and
// opens its own files), so once stderr was kept, every write first checks
// that the descriptor still refers to the file stderr was at start-up
// (issue 17); if not, the output is dropped: it would land in the
// program's own file.
static int report_fd = STDERR_FILENO;
static bool report_kept;           // report_fd must still be this file:
static dev_t report_dev;
static ino_t report_ino;

void os_keep_stderr(bool dup)
{
    // Kept already, as asked: a duplicate (any descriptor above fd 2), or
    // fd 2 itself (or nothing, no stderr at start-up) where no duplicate is
    // asked for.
    if (report_fd > STDERR_FILENO || (report_kept && (!dup || report_fd < 0)))
        return;
    int saved = errno;
    struct stat st;
    report_kept = true;
    if (fstat(STDERR_FILENO, &st) != 0) {
        report_fd = -1; // no stderr at start-up: nowhere to report
    } else {
        report_dev = st.st_dev;
        report_ino = st.st_ino;
        // Far above the descriptors programs use, and closed on exec.
        // Where RLIMIT_NOFILE leaves no room, fd 2 itself (still checked).
        // Only for a report at exit to stderr: Python's test_subprocess
        // (test_pass_fds_redirected) lists a child's descriptors, and saw
        // fd 1000 in a child run with ALLOCATOR_STATS_FILE.
        int fd = dup ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 1000) : -1;
        report_fd = fd >= 0 ? fd : STDERR_FILENO;
    }
    errno = saved;
}

// True if the report descriptor may be written (errno is the caller's).
static bool report_fd_ok(void)
{
    if (!report_kept)
        return true;
    struct stat st;
    return report_fd >= 0 && fstat(report_fd, &st) == 0 && st.st_dev == report_dev &&
           st.st_ino == report_ino;
}

LA_HOT_TEXT void os_advise_free(void *addr, size_t bytes)
{
    // DONTNEED, not FREE: the pages leave RSS now, which is what a user
    // watching memory return expects; reading them later gives zeros.
    sys(SYS_madvise, addr, bytes, MADV_DONTNEED, 0, 0, 0);
}

void os_advise_huge(void *addr, size_t bytes)
{
    uintptr_t start = (uintptr_t)addr & ~(uintptr_t)(os_page_bytes() - 1);
    sys(SYS_madvise, start, (uintptr_t)addr + bytes - start, MADV_HUGEPAGE, 0, 0, 0);
}

/* ---- the clock, straight from the vDSO ----------------------------------- */

// libc's clock_gettime only jumps to the vDSO's, but its page is one more
// 64 KiB window of libc's text that a program under glibc's malloc does not
// touch (issue 14: w_bigbuf loop without ASLR, pagemap: the only libc
// window ours touched and glibc's run did not).  The vDSO's own function
// is found once in its dynamic symbol table (the kernel's
// tools/testing/selftests/vDSO/parse_vdso.c does the same); where that
// fails, libc's.
typedef int (*clock_fn)(clockid_t, struct timespec *);

// What follows `prefix` in s, or NULL if s does not start with it: by
// hand, not strncmp (see the header).
static const char *after_prefix(const char *s, const char *prefix)
{
    while (*prefix != '\0' && *s == *prefix)
        s++, prefix++;
    return *prefix == '\0' ? s : NULL;
}

#if defined(__x86_64__)
#define VDSO_CLOCK_NAME "__vdso_clock_gettime"

static bool same_name(const char *a, const char *b)
{
    const char *rest = after_prefix(a, b);
    return rest != NULL && *rest == '\0';
}

static clock_fn vdso_clock(void)
{
    uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (base == 0)
        return NULL;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + eh->e_phoff);
    uintptr_t bias = 0;
    bool loaded = false;
    const ElfW(Dyn) *dyn = NULL;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && !loaded) {
            loaded = true;
            bias = base + ph[i].p_offset - ph[i].p_vaddr;
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = (const ElfW(Dyn) *)(base + ph[i].p_offset);
        }
    }
    if (!loaded || dyn == NULL)
        return NULL;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Word) *hash = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB)
            symtab = (const ElfW(Sym) *)(dyn->d_un.d_ptr + bias);
        else if (dyn->d_tag == DT_STRTAB)
            strtab = (const char *)(dyn->d_un.d_ptr + bias);
        else if (dyn->d_tag == DT_HASH)
            hash = (const ElfW(Word) *)(dyn->d_un.d_ptr + bias);
    }
    if (symtab == NULL || strtab == NULL || hash == NULL)
        return NULL;
    // DT_HASH's second word is the number of symbols.
    for (ElfW(Word) i = 0; i < hash[1]; i++) {
        const ElfW(Sym) *sym = &symtab[i];
        if (ELF64_ST_TYPE(sym->st_info) == STT_FUNC && sym->st_shndx != SHN_UNDEF &&
            (ELF64_ST_BIND(sym->st_info) == STB_GLOBAL || ELF64_ST_BIND(sym->st_info) == STB_WEAK) &&
            same_name(strtab + sym->st_name, VDSO_CLOCK_NAME))
            return (clock_fn)(bias + sym->st_value);
    }
    return NULL;
}
#else
static clock_fn vdso_clock(void) { return NULL; }
#endif

static clock_fn clock_now; // found once (racing finders store the same value)

LA_HOT_TEXT uint64_t os_now_ms(void)
{
    struct timespec ts;
    clock_fn fn = __atomic_load_n(&clock_now, __ATOMIC_RELAXED);
    if (LA_UNLIKELY(fn == NULL)) {
        fn = vdso_clock();
        if (fn == NULL)
            fn = clock_gettime;
        __atomic_store_n(&clock_now, fn, __ATOMIC_RELAXED);
    }
    // The coarse clock: read from the vDSO's data page, no syscall.  The
    // vDSO's function makes the system call itself for a clock it cannot
    // read, so there is no failure to fall back from.
    fn(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

// write(2) until done or failed; EINTR retried.
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        buf += n;
        len -= (size_t)n;
    }
}

int os_open_append(const char *path)
{
    int saved = errno;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int result = fd >= 0 ? fd : -errno;
    errno = saved;
    return result;
}

void os_write_fd(int fd, const char *buf, size_t len)
{
    int saved = errno;
    write_all(fd, buf, len);
    errno = saved;
}

void os_close(int fd)
{
    int saved = errno;
    close(fd);
    errno = saved;
}

void os_write_stderr(const char *buf, size_t len)
{
    int saved = errno;
    if (report_fd_ok())
        write_all(report_fd, buf, len);
    errno = saved;
}

LA_HOT_TEXT const char *os_getenv(const char *name)
{
    // Scan environ directly: getenv is safe too, but this documents that no
    // lock or allocation is involved, which matters during bootstrap.
    // after_prefix, not strlen/strncmp: see the header.
    if (environ == NULL)
        return NULL;
    for (char **e = environ; *e != NULL; e++) {
        const char *v = after_prefix(*e, name);
        if (v != NULL && *v == '=')
            return v + 1;
    }
    return NULL;
}

LA_HOT_TEXT const char *const *os_environ(void) { return (const char *const *)environ; }

LA_HOT_TEXT bool os_secure(void) { return getauxval(AT_SECURE) != 0; }

void os_abort(void) { abort(); }

void os_futex_wait(int *word, int expected)
{
    sys(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

void os_futex_wake_one(int *word)
{
    sys(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void os_yield(void) { sched_yield(); }

void os_sleep_ms(uint64_t ms)
{
    // Raw: libc's nanosleep is clock_nanosleep, next to clock_gettime in
    // the window the vDSO lookup above keeps out of a plain run.
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (sys(SYS_nanosleep, &ts, &ts, 0, 0, 0, 0) == -EINTR)
        ;
}

LA_HOT_TEXT unsigned os_cpu_count(void)
{
    // The raw call returns how many bytes of the mask it wrote; the bits
    // are counted here (CPU_COUNT is a libc function, __sched_cpucount),
    // one at a time: __builtin_popcountl without -mpopcnt is a call into
    // libgcc's __popcountdi2, linked far out of the hot text (layout.ld).
    unsigned long set[1024 / (8 * sizeof(unsigned long))];
    long bytes = sys(SYS_sched_getaffinity, 0, sizeof set, set, 0, 0, 0);
    unsigned n = 0;
    for (long i = 0; i < bytes / (long)sizeof set[0]; i++)
        for (unsigned long bits = set[i]; bits != 0; bits &= bits - 1)
            n++;
    return n > 0 ? n : 1;
}

int os_getpid(void) { return (int)getpid(); }

// Reads up to cap - 1 bytes of a small file into buf; returns how many (0
// when it cannot be read).  No stdio: it would allocate.
static size_t read_small_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    return len;
}

// The decimal number at buf[i] (0 if none), of a file read_small_file read.
static size_t decimal_at(const char *buf, size_t len, size_t i)
{
    size_t v = 0;
    for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
        v = v * 10 + (size_t)(buf[i] - '0');
    return v;
}

size_t os_thp_bytes(void)
{
    char buf[32];
    int saved = errno; // a kernel without THP has no such file
    size_t len = read_small_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", buf,
                                 sizeof buf);
    errno = saved;
    size_t v = decimal_at(buf, len, 0);
    // A power of two of a few MiB, or the default.
    return v >= 65536 && v <= ((size_t)1 << 30) && (v & (v - 1)) == 0 ? v : LA_THP_BYTES_DEFAULT;
}

size_t os_resident_range(const void *addr, size_t bytes)
{
    size_t page = os_page_bytes();
    uintptr_t start = (uintptr_t)addr, end = start + bytes;
    uintptr_t at = start & ~(uintptr_t)(page - 1);
    size_t resident = 0;
    int saved = errno;
    while (at < end) {
        unsigned char vec[LA_MINCORE_VECTOR_BYTES]; // one byte per page
        size_t pages = LA_MIN((end - at + page - 1) / page, sizeof vec);
        if (mincore((void *)at, pages * page, vec) != 0)
            break;
        for (size_t i = 0; i < pages; i++) {
            if (vec[i] & 1) {
                // The part of this page inside the range.
                uintptr_t lo = LA_MAX(at + i * page, start);
                uintptr_t hi = LA_MIN(at + (i + 1) * page, end);
                resident += hi - lo;
            }
        }
        at += pages * page;
    }
    errno = saved;
    return resident;
}

size_t os_resident_bytes(void)
{
    char buf[128];
    int saved = errno;
    size_t len = read_small_file("/proc/self/statm", buf, sizeof buf);
    errno = saved;
    // "size resident shared text lib data dt", in pages.
    size_t i = 0;
    while (i < len && buf[i] != ' ')
        i++;
    if (i++ >= len)
        return 0;
    return decimal_at(buf, len, i) * os_page_bytes();
}

void os_program_name(char *buf, size_t cap)
{
    if (cap == 0)
        return;
    int saved = errno;
    ssize_t n = cap > 1 ? readlink("/proc/self/exe", buf, cap - 1) : -1;
    if (n > 0) {
        buf[n] = '\0';
    } else {
        // argv[0] is the first NUL-terminated string of the command line.
        size_t len = read_small_file("/proc/self/cmdline", buf, cap);
        buf[len] = '\0';
        if (buf[0] == '\0' && cap > 1) {
            buf[0] = '?';
            buf[1] = '\0';
        }
    }
    errno = saved;
}

// glibc 2.32 and later (internal.h: la_single_threaded).
LA_HOT_TEXT bool os_single_threaded(void) { return la_single_threaded(); }

// Exported by glibc since 2.2.5 (libio); the lock is recursive, so taking
// it before fork does not stop fork from taking it again.
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern void _IO_list_resetlock(void) __attribute__((weak));

void os_stdio_list_lock(void)
{
    if (_IO_list_lock != NULL)
        _IO_list_lock();
}

void os_stdio_list_unlock(void)
{
    if (_IO_list_unlock != NULL)
        _IO_list_unlock();
}

// In the child, whether or not fork reset it (it does only when the parent
// had threads).
void os_stdio_list_reset(void)
{
    if (_IO_list_resetlock != NULL)
        _IO_list_resetlock();
}

/* ---- files and signals (the heap profiler's output) --------------------- */

int os_open_write(const char *path)
{
    int saved = errno;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    errno = saved;
    return fd;
}

int os_open_read(const char *path)
{
    int saved = errno;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    errno = saved;
    return fd;
}

long os_read(int fd, void *buf, size_t len)
{
    int saved = errno;
    ssize_t n;
    do
        n = read(fd, buf, len);
    while (n < 0 && errno == EINTR);
    errno = saved;
    return (long)n;
}

bool os_on_signal(int signo, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL) == 0;
}

int os_signal_number(const char *name)
{
    static const struct {
        const char *name;
        int signo;
    } names[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},
                 {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"URG", SIGURG}};
    if (name[0] == 'S' && name[1] == 'I' && name[2] == 'G')
        name += 3;
    if (name[0] >= '0' && name[0] <= '9') {
        int n = 0;
        for (; *name >= '0' && *name <= '9' && n < 1000; name++)
            n = n * 10 + (*name - '0');
        return *name == '\0' && n > 0 && n < NSIG ? n : 0;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].signo;
    return 0;
}

/* ---- SIGSEGV, for the guard pages (guard.c) ----------------------------- */

static la_fault_fn fault_fn;
static struct sigaction fault_prev; // the handler in place when ours went in

// Faults that are not the allocator's go where they would have gone
// without it: the previous handler, or the default action (the faulting
// instruction runs again and kills the process with SIGSEGV, core and
// all).  A program that installs its own handler after start-up replaces
// this one and gets every fault, ours included (docs/DEBUGGING.md).
static void chain_fault(int signo, siginfo_t *info, void *uctx)
{
    if (fault_prev.sa_flags & SA_SIGINFO) {
        fault_prev.sa_sigaction(signo, info, uctx);
    } else if (fault_prev.sa_handler == SIG_DFL || fault_prev.sa_handler == SIG_IGN) {
        // An ignored SIGSEGV from a real fault is delivered anyway by the
        // kernel, with the default action: so here.  A SIGSEGV sent with
        // kill() (no fault to run again) is raised again.
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGSEGV, &dfl, NULL);
        if (info->si_code <= 0)
            raise(SIGSEGV);
    } else {
        fault_prev.sa_handler(signo);
    }
}

static void on_fault(int signo, siginfo_t *info, void *uctx)
{
    int saved = errno;
    void *pc = NULL;
    int write = -1;
#if defined(__x86_64__)
    const ucontext_t *uc = uctx;
    pc = (void *)uc->uc_mcontext.gregs[REG_RIP];
    write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0; // the page-fault error code's W bit
#elif defined(__aarch64__)
    const ucontext_t *uc = uctx;
    pc = (void *)uc->uc_mcontext.pc;
#endif
    // si_code > 0: the kernel sent it for a fault at si_addr.
    if (info->si_code > 0)
        fault_fn(info->si_addr, pc, write); // returns only if the address is not ours
    errno = saved;
    chain_fault(signo, info, uctx);
}

bool os_on_fault(la_fault_fn fn)
{
    int saved = errno;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    // ONSTACK: a thread with an alternate stack reports there.  NODEFER is
    // not set: a fault inside the report kills the process by default.
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    fault_fn = fn;
    bool ok = sigaction(SIGSEGV, &sa, &fault_prev) == 0;
    errno = saved;
    return ok;
}
