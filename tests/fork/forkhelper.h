// SPDX-License-Identifier: MIT
/*
 * forkhelper.h: what the fork tests share: a watchdog alarm (a hang fails
 * the test instead of stalling CI) and the proof that the preloaded
 * liballocator, not glibc, serves malloc.
 */
#ifndef FORKHELPER_H
#define FORKHELPER_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The default action of SIGALRM ends the process: ctest sees a failure.
static inline void watchdog(unsigned seconds) { alarm(seconds); }

// Exits with a failure unless malloc is liballocator's.
static inline void require_liballocator(const char *test)
{
    Dl_info info;
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL ||
        strstr(info.dli_fname, "liballocator") == NULL) {
        fprintf(stderr, "%s: malloc is not liballocator's (run it with LD_PRELOAD)\n", test);
        exit(2);
    }
}

#endif
