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

void options_read(la_options_t *opts)
{
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
