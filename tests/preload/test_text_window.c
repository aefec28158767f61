// SPDX-License-Identifier: MIT
/*
 * test_text_window: a program that only allocates (the slab classes,
 * calloc, realloc, a medium block, aligned_alloc, a second thread) runs
 * nothing of the library's text outside the 64 KiB window that holds
 * malloc: the LA_HOT_TEXT functions, .init and .fini (src/layout.ld).
 * The kernel maps text a 64 KiB window at a time around each fault, so one
 * unmarked function on such a path costs every small program up to 64 KiB
 * of RSS (104 KiB of text resident against 64).  Read from
 * /proc/self/pagemap: the pages of the library's text that are mapped.
 * The windows line up with the link-time layout only when the library is
 * mapped at a 64 KiB boundary (the kernel of this VM, 6.18, maps it at a
 * 2 MiB one), and are 64 KiB only with the default fault_around_bytes: the
 * test says so and checks nothing else when either does not hold.  ld.so
 * calls .fini at exit, after any check here could run: that it lies in the
 * window is checked from the section headers (.init and .fini share it).
 * Registered for gcc's optimized builds only (tests/CMakeLists.txt): code
 * compiled otherwise is laid out for nobody.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "../testhelper.h"

#define WINDOW ((uintptr_t)64 * 1024)

static void *volatile sink;

static void allocate(void)
{
    for (int round = 0; round < 100; round++) {
        for (size_t n = 8; n <= 2048; n += 24) {
            sink = malloc(n);
            free(sink);
        }
        sink = calloc(10, 100);
        free(sink);
        char *s = NULL;
        for (size_t n = 16; n <= 4096; n *= 2)
            s = realloc(s, n);
        free(s);
        sink = malloc(12 * 1024); // a medium block
        free(sink);
        sink = aligned_alloc(64, 256);
        free(sink);
    }
}

static void *thread_main(void *arg)
{
    (void)arg;
    allocate();
    return NULL;
}

// The library's text mapping (start, end, file offset) holding address a.
static bool text_mapping(uintptr_t a, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    REQUIRE(f != NULL);
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        unsigned long s, e;
        char perm[8];
        if (sscanf(line, "%lx-%lx %7s", &s, &e, perm) == 3 && perm[2] == 'x' && a >= s && a < e) {
            *lo = s;
            *hi = e;
            found = true;
        }
    }
    fclose(f);
    return found;
}

// Whether the kernel's fault-around is the default 64 KiB, when it can be
// read (debugfs, root only); assumed otherwise.
static bool fault_around_default(void)
{
    FILE *f = fopen("/sys/kernel/debug/fault_around_bytes", "r");
    if (f == NULL)
        return true;
    unsigned long bytes = 0;
    bool ok = fscanf(f, "%lu", &bytes) == 1 && bytes == WINDOW;
    fclose(f);
    return ok;
}

// .init and .fini of the library whose file is `path`, from its section
// headers: both in the window `w` (an address less the library's base).
static void check_init_fini(const char *path, uintptr_t w)
{
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0);
    Elf64_Ehdr eh;
    REQUIRE(pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh);
    Elf64_Shdr sh[128];
    REQUIRE(eh.e_shnum <= 128);
    REQUIRE(pread(fd, sh, eh.e_shnum * sizeof sh[0], (off_t)eh.e_shoff) ==
            (ssize_t)(eh.e_shnum * sizeof sh[0]));
    static char names[4096];
    Elf64_Shdr *str = &sh[eh.e_shstrndx];
    REQUIRE(str->sh_size < sizeof names);
    REQUIRE(pread(fd, names, str->sh_size, (off_t)str->sh_offset) == (ssize_t)str->sh_size);
    close(fd);
    int seen = 0;
    for (int i = 0; i < eh.e_shnum; i++) {
        const char *name = names + sh[i].sh_name;
        if (strcmp(name, ".init") == 0 || strcmp(name, ".fini") == 0) {
            seen++;
            if (sh[i].sh_addr / WINDOW != w / WINDOW || (sh[i].sh_addr + sh[i].sh_size - 1) / WINDOW != w / WINDOW)
                printf("  %s at %#lx, outside malloc's window at %#lx\n", name,
                       (unsigned long)sh[i].sh_addr, (unsigned long)(w & ~(WINDOW - 1)));
            CHECK(sh[i].sh_addr / WINDOW == w / WINDOW);
        }
    }
    CHECK_EQ(seen, 2);
}

int main(void)
{
    Dl_info info;
    REQUIRE(dladdr((void *)malloc, &info) != 0 && info.dli_fname != NULL);
    // The library really serves malloc: the symbol resolves into it.
    REQUIRE(strstr(info.dli_fname, "liballocator") != NULL);
    uintptr_t base = (uintptr_t)info.dli_fbase, hot = (uintptr_t)(void *)malloc;
    check_init_fini(info.dli_fname, hot - base);
    if (base % WINDOW != 0 || !fault_around_default()) {
        printf("test_text_window: pages not checked: %s\n",
               base % WINDOW != 0 ? "the library is not mapped at a 64 KiB boundary"
                                  : "fault_around_bytes is not 64 KiB");
        return test_report("test_text_window");
    }
    allocate();
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, thread_main, NULL) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
    uintptr_t lo, hi;
    REQUIRE(text_mapping(hot, &lo, &hi));
    int pm = open("/proc/self/pagemap", O_RDONLY);
    REQUIRE(pm >= 0);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), inside = 0, outside = 0;
    for (uintptr_t a = lo; a < hi; a += page) {
        uint64_t entry = 0;
        REQUIRE(pread(pm, &entry, sizeof entry, (off_t)(a / page * sizeof entry)) == sizeof entry);
        if (!(entry >> 63 & 1))
            continue;
        if (a / WINDOW == hot / WINDOW) {
            inside++;
            continue;
        }
        outside++;
        // dladdr knows the exported names only: `nm -n` on the library
        // names the function at the offset, the one to mark LA_HOT_TEXT
        // (or one the kernel mapped with it, in the same window).
        Dl_info at;
        if (dladdr((void *)a, &at) != 0 && at.dli_sname != NULL)
            printf("  text page +%#lx resident (after %s)\n", (unsigned long)(a - base),
                   at.dli_sname);
        else
            printf("  text page +%#lx resident\n", (unsigned long)(a - base));
    }
    close(pm);
    CHECK(inside > 0);
    CHECK_EQ(outside, 0);
    return test_report("test_text_window");
}
