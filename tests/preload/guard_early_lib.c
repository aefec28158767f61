// SPDX-License-Identifier: MIT
/*
 * guard_early_lib.c: preloaded before liballocator by test_guard's "early"
 * case, so that its constructor installs a SIGSEGV handler before the
 * allocator's guard pages install theirs.  The handler opens the faulting
 * page and counts, as a runtime that maps its own trap pages would; the
 * allocator's handler must pass it every fault outside the guard pool.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t faults;
static int was_first;

static void handler(int signo, siginfo_t *info, void *uctx)
{
    (void)signo;
    (void)uctx;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    void *start = (void *)((uintptr_t)info->si_addr & ~(page - 1));
    if (start == NULL)
        _exit(44);
    faults++;
    mprotect(start, page, PROT_READ | PROT_WRITE);
}

__attribute__((constructor)) static void install(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old);
    was_first = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
}

__attribute__((visibility("default"))) int guard_early_faults(void) { return faults; }
__attribute__((visibility("default"))) int guard_early_was_first(void) { return was_first; }
