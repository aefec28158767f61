// SPDX-License-Identifier: MIT
/*
 * test_thp: ALLOCATOR_THP=1 (or glibc.malloc.hugetlb=1) asks the kernel
 * for transparent huge pages: the brk heap and every mapping of a huge
 * page or more are advised MADV_HUGEPAGE, which /proc/self/smaps shows as
 * "hg" in the mapping's VmFlags, whatever the kernel's THP settings.  The
 * heap then grows in whole huge pages, so that touching its blocks gets
 * huge pages (AnonHugePages) where the kernel grants them: checked unless
 * /sys/kernel/mm/transparent_hugepage says THP is off (then skipped, with
 * the reason).  A kernel built without THP refuses the advice: then
 * nothing is checked but that the calls work, and the test says so.  Run
 * with "on" (one of the two variables set) or "off" (neither: no "hg"
 * anywhere the allocator mapped).
 */
#include <dlfcn.h>
#include <unistd.h>

#include "../testhelper.h"

#define MB (1024u * 1024u)

// The smaps fields of the mapping holding address a: whether its VmFlags
// have "hg", and its AnonHugePages in KiB.
static void mapping_of(const void *a, int *hg, size_t *huge_kib)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    REQUIRE(f != NULL);
    char line[512];
    int in = 0;
    *hg = -1;
    *huge_kib = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)a >= lo && (uintptr_t)a < hi;
            continue;
        }
        if (!in)
            continue;
        sscanf(line, "AnonHugePages: %zu kB", huge_kib);
        if (strncmp(line, "VmFlags:", 8) == 0)
            *hg = strstr(line, " hg") != NULL;
    }
    fclose(f);
    REQUIRE(*hg != -1); // the mapping was found
}

// Why huge pages cannot be expected here, or NULL.
static const char *thp_unavailable(void)
{
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f == NULL)
        return "no /sys/kernel/mm/transparent_hugepage (a kernel without THP)";
    if (fgets(buf, sizeof buf, f) == NULL)
        buf[0] = '\0';
    fclose(f);
    if (strstr(buf, "[never]") != NULL)
        return "transparent_hugepage/enabled is [never]";
    // Without compaction at the fault, a huge page comes only if one is
    // free at that moment.
    f = fopen("/sys/kernel/mm/transparent_hugepage/defrag", "r");
    if (f != NULL) {
        if (fgets(buf, sizeof buf, f) == NULL)
            buf[0] = '\0';
        fclose(f);
        if (strstr(buf, "[never]") != NULL || strstr(buf, "[defer]") != NULL)
            return "transparent_hugepage/defrag does not compact at a fault";
    }
    return NULL;
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2 && (strcmp(argv[1], "on") == 0 || strcmp(argv[1], "off") == 0));
    int on = strcmp(argv[1], "on") == 0;
    REQUIRE(dlsym(RTLD_DEFAULT, "mem_malloc") != NULL); // liballocator's malloc is in use
    int kernel_thp = access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;
    if (!kernel_thp)
        printf("test_thp: advice not checked: the kernel has no transparent huge pages\n");

    // A mapping of its own: advised as a whole.
    unsigned char *big = malloc(8 * MB);
    REQUIRE(big != NULL);
    memset(big, 1, 8 * MB);
    int hg;
    size_t huge;
    mapping_of(big, &hg, &huge);
    if (kernel_thp)
        CHECK_EQ(hg, on);

    // 16 MiB of heap blocks, touched: the brk heap (this is the main
    // thread, whose heap is the brk one).
    enum { N = 4096 };
    static unsigned char *blk[N];
    for (int i = 0; i < N; i++) {
        blk[i] = malloc(4000);
        REQUIRE(blk[i] != NULL);
        memset(blk[i], 2, 4000);
    }
    mapping_of(blk[N / 2], &hg, &huge);
    if (kernel_thp)
        CHECK_EQ(hg, on);
    // Off, the kernel may still back the heap with huge pages on its own
    // (THP "always"): only the advice is ours to check.
    const char *why = thp_unavailable();
    if (on && why != NULL)
        printf("test_thp: huge pages not checked: %s\n", why);
    else if (on)
        CHECK(huge >= 2048); // at least one huge page of the heap's
    for (int i = 0; i < N; i++)
        free(blk[i]);
    free(big);
    return test_report("test_thp");
}
