// SPDX-License-Identifier: MIT
/*
 * The constants that scripts/gdb/allocator.py copies from the C sources
 * (header flags, check-word variants, config.h bounds, the slab class
 * sizes, two enums) against the values the library was built with.  The
 * script reads a live or dead process's memory with them, and cannot ask
 * the library: a table changed on one side only (slab classes added in
 * scripts/sizeclass.py, say) made `heap` print wrong slot sizes without
 * any error.  Usage: test_gdb_mirror path/to/allocator.py
 */
#include <ctype.h>

#include "tcache.h"

#include "../testhelper.h"

static char script[1 << 20];

// The text after "NAME = " on the line that starts with it, or NULL.
static const char *assigned(const char *name)
{
    size_t n = strlen(name);
    for (const char *line = script; line != NULL && *line != '\0';) {
        if (strncmp(line, name, n) == 0 && strncmp(line + n, " = ", 3) == 0)
            return line + n + 3;
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return NULL;
}

static void check_value(const char *name, unsigned long long want)
{
    const char *v = assigned(name);
    test_checks++;
    if (v == NULL) {
        test_failures++;
        fprintf(stderr, "allocator.py: no assignment to %s\n", name);
        return;
    }
    // Literals only (decimal or hex); a computed value is checked by
    // what it is computed from.
    char *end;
    unsigned long long got = strtoull(v, &end, 0);
    if (end == v || (*end != '\n' && *end != ' ' && *end != '#')) {
        test_failures++;
        fprintf(stderr, "allocator.py: %s is not a literal: %.40s\n", name, v);
    } else if (got != want) {
        test_failures++;
        fprintf(stderr, "allocator.py: %s = %llu, the library has %llu\n", name, got, want);
    }
}

// The numbers of a tuple or dict literal, keys of a dict included, up to
// its closing bracket; how many were found.
static size_t numbers(const char *v, unsigned long long *out, size_t cap)
{
    size_t n = 0;
    char close = *v == '(' ? ')' : '}';
    for (const char *p = v + 1; *p != '\0' && *p != close && n < cap;) {
        if (*p == '"') { // skip a string
            p = strchr(p + 1, '"');
            if (p == NULL)
                break;
            p++;
        } else if (isdigit((unsigned char)*p)) {
            char *end;
            out[n++] = strtoull(p, &end, 0);
            p = end;
        } else {
            p++;
        }
    }
    return n;
}

static void check_slab_sizes(void)
{
    const char *v = assigned("SLAB_SIZES");
    REQUIRE(v != NULL && *v == '(');
    unsigned long long got[LA_SLAB_CLASSES + 8];
    size_t n = numbers(v, got, sizeof got / sizeof got[0]);
    CHECK_EQ(n, LA_SLAB_CLASSES);
    for (size_t i = 0; i < n && i < LA_SLAB_CLASSES; i++)
        if (got[i] != la_sizeclasses[i].size) {
            test_failures++;
            fprintf(stderr, "allocator.py: SLAB_SIZES[%zu] = %llu, the library's class %zu is %u\n",
                    i, got[i], i, (unsigned)la_sizeclasses[i].size);
        }
}

static void check_region_kinds(void)
{
    const char *v = assigned("REGION_KINDS");
    REQUIRE(v != NULL && *v == '{');
    unsigned long long got[4];
    REQUIRE(numbers(v, got, 4) == 2);
    CHECK_EQ(got[0], LA_REGION_BRK);
    CHECK(strstr(v, "\"brk\"") != NULL && strstr(v, "\"brk\"") < strstr(v, "\"mapped\""));
    CHECK_EQ(got[1], LA_REGION_MAPPED);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    FILE *f = fopen(argv[1], "r");
    REQUIRE(f != NULL);
    size_t len = fread(script, 1, sizeof script - 1, f);
    fclose(f);
    REQUIRE(len > 0 && len < sizeof script - 1);
    script[len] = '\0';

    check_value("LA_FREE", LA_FREE);
    check_value("LA_PREV_FREE", LA_PREV_FREE);
    check_value("LA_MMAPPED", LA_MMAPPED);
    check_value("LA_PURGED", LA_PURGED);
    check_value("LA_FLAG_MASK", LA_FLAG_MASK);
    check_value("LA_SLAB_WORD_CLASS", LA_SLAB_WORD_CLASS);
    check_value("LA_HEAD_HEAP_SHIFT", LA_HEAD_HEAP_SHIFT);
    check_value("LA_HEAP_NONE", LA_HEAP_NONE);
    check_value("LA_REQ_LARGE", LA_REQ_LARGE);
    check_value("LA_CHECK_BIG", LA_CHECK_BIG);
    check_value("LA_CHECK_PROF", LA_CHECK_PROF);
    check_value("LA_CHECK_FREED", LA_CHECK_FREED);
    check_value("ALIGNMENT", ALIGNMENT);
    check_value("MIN_BLOCK_SIZE", MIN_BLOCK_SIZE);
    check_value("LA_TC_MAX_BYTES", LA_TC_MAX_BYTES);
    check_value("LA_TC_MEDIUM_PER_DOUBLING", LA_TC_MEDIUM_PER_DOUBLING);
    check_value("LA_TC_MEDIUM_TOTAL_BYTES", LA_TC_MEDIUM_TOTAL_BYTES);
    check_value("LA_TC_MEDIUM_SOLO_BYTES", LA_TC_MEDIUM_SOLO_BYTES);
    check_value("LA_TC_MEDIUM_HOT_BYTES", LA_TC_MEDIUM_HOT_BYTES);
    check_value("LA_TC_WORD_SLOTS_MAX", LA_TC_WORD_SLOTS_MAX);
    check_value("LA_SLAB_SHIFT", LA_SLAB_SHIFT);
    check_value("LA_SLAB_ADDR_BITS", LA_SLAB_ADDR_BITS);
    check_value("LA_TC_LIVE", LA_TC_LIVE);
    check_slab_sizes();
    check_region_kinds();
    return test_report("test_gdb_mirror");
}
