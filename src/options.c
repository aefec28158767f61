/*
 * options.c: reads the ALLOCATOR_* environment variables once, at
 * initialisation, through os_getenv (no allocation, no locks).  A value that
 * does not parse gets one warning line and the default.
 */
#include "internal.h"

static bool str_eq(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

// A decimal number in [lo, hi]; false (and *out untouched) otherwise.
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    unsigned long v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > hi)
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

void options_read(la_options_t *opts)
{
    opts->tcache = 1;
    opts->heaps = 0;
    const char *t = os_getenv("ALLOCATOR_TCACHE");
    if (t != NULL) {
        if (str_eq(t, "0") || str_eq(t, "1"))
            opts->tcache = t[0] == '1';
        else
            log_printf("liballocator: ALLOCATOR_TCACHE=%s not understood (use 0 or 1); ignored\n", t);
    }
    const char *h = os_getenv("ALLOCATOR_HEAPS");
    unsigned long heaps;
    if (h != NULL) {
        if (parse_uint(h, 1, LA_MAX_HEAPS, &heaps))
            opts->heaps = (unsigned)heaps;
        else
            log_printf("liballocator: ALLOCATOR_HEAPS=%s not understood (use 1..%d); ignored\n", h,
                       LA_MAX_HEAPS);
    }
    const char *v = os_getenv("ALLOCATOR_STATS");
    opts->stats = 0;
    if (v == NULL || str_eq(v, "0") || str_eq(v, ""))
        return;
    if (str_eq(v, "1")) {
        opts->stats = 1;
        os_keep_stderr(); // the report at exit must reach the user's stderr
    }
    else
        log_printf("liballocator: ALLOCATOR_STATS=%s not understood (use 0 or 1); ignored\n", v);
}
