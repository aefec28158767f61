// SPDX-License-Identifier: MIT
/*
 * options.c: the ALLOCATOR_* environment variables, read once at
 * initialisation through os_getenv (no allocation, no lock).  One table
 * describes every option: its name, kind, bounds and default (README.md
 * and docs/QUICKREF.md explain each, in this table's order).  A value that does not parse, or
 * falls outside its bounds, gets one warning line and the default; an
 * ALLOCATOR_* name the table does not know gets one warning line.
 */
#include "internal.h"

typedef enum {
    OPT_BOOL,  // 0 or 1
    OPT_COUNT, // a decimal number
    OPT_BYTES, // a decimal number, optionally with k, m or g (powers of 1024)
    OPT_STATS, // 0, 1 (text) or json
    OPT_PATH,  // a file name (a char array field of LA_PATH_BYTES)
} opt_kind_t;

typedef struct {
    const char *name;
    opt_kind_t kind;
    size_t lo, hi, dflt;
    size_t offset; // of the field in la_options_t (size_t, int or a char array)
    int is_int;    // the field is an int / unsigned rather than a size_t
} opt_t;

#define FIELD(f) offsetof(la_options_t, f)

static const opt_t table[] = {
    {"ALLOCATOR_STATS", OPT_STATS, 0, 1, 0, FIELD(stats), 1},
    {"ALLOCATOR_TCACHE", OPT_BOOL, 0, 1, 1, FIELD(tcache), 1},
    {"ALLOCATOR_HEAPS", OPT_COUNT, 1, LA_MAX_HEAPS, 0, FIELD(heaps), 1},
    {"ALLOCATOR_DECAY_MS", OPT_COUNT, 0, 3600u * 1000u, LA_DECAY_MS, FIELD(decay_ms), 0},
    {"ALLOCATOR_TRIM_THRESHOLD", OPT_BYTES, 0, (size_t)1 << 40, LA_TRIM_THRESHOLD,
     FIELD(trim_bytes), 0},
    {"ALLOCATOR_MMAP_THRESHOLD", OPT_BYTES, 4096, LA_MMAP_THRESHOLD_MAX, MMAP_THRESHOLD,
     FIELD(mmap_bytes), 0},
    {"ALLOCATOR_CHECK", OPT_BOOL, 0, 1, 0, FIELD(check), 1},
    {"ALLOCATOR_VALGRIND", OPT_BOOL, 0, 1, 1, FIELD(valgrind), 1},
    {"ALLOCATOR_CHECK_EVERY", OPT_COUNT, 0, SIZE_MAX, 0, FIELD(check_every), 0},
    {"ALLOCATOR_BACKGROUND", OPT_BOOL, 0, 1, 1, FIELD(background), 1},
    {"ALLOCATOR_STATS_FILE", OPT_PATH, 0, 0, 0, FIELD(stats_file), 0},
};

// A decimal number with an optional k/m/g suffix (when suffixes are
// allowed); false on anything else or on overflow.
static bool parse_number(const char *s, bool suffixes, size_t *out)
{
    size_t v = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    if (suffixes && *s != '\0') {
        unsigned shift = (*s == 'k' || *s == 'K') ? 10 : (*s == 'm' || *s == 'M') ? 20
                         : (*s == 'g' || *s == 'G')                               ? 30
                                                                                  : 0;
        if (shift == 0 || s[1] != '\0' || v > (SIZE_MAX >> shift))
            return false;
        v <<= shift;
        s++;
    }
    if (*s != '\0')
        return false;
    *out = v;
    return true;
}

static void store(la_options_t *opts, const opt_t *o, size_t v)
{
    char *field = (char *)opts + o->offset;
    if (o->is_int)
        *(int *)field = (int)v;
    else
        *(size_t *)field = v;
}

// A file name, copied (environ may be overwritten later); "" when unset.
static void read_path(la_options_t *opts, const opt_t *o, const char *v)
{
    char *field = (char *)opts + o->offset;
    field[0] = '\0';
    if (v == NULL)
        return;
    size_t len = 0;
    while (v[len] != '\0' && len < LA_PATH_BYTES)
        len++;
    if (len >= LA_PATH_BYTES) {
        log_printf("liballocator: %s is longer than %d bytes; ignored\n", o->name, LA_PATH_BYTES - 1);
        return;
    }
    for (size_t i = 0; i <= len; i++)
        field[i] = v[i];
}

static void read_one(la_options_t *opts, const opt_t *o)
{
    const char *v = os_getenv(o->name);
    if (o->kind == OPT_PATH) {
        read_path(opts, o, v);
        return;
    }
    store(opts, o, o->dflt);
    if (v == NULL)
        return;
    size_t n;
    bool json = o->kind == OPT_STATS && v[0] == 'j' && v[1] == 's' && v[2] == 'o' && v[3] == 'n' &&
                v[4] == '\0';
    if (json || (parse_number(v, o->kind == OPT_BYTES, &n) && n >= o->lo && n <= o->hi)) {
        store(opts, o, json ? LA_STATS_JSON : n);
        return;
    }
    log_printf("liballocator: %s=%s not understood (use %s%s%zu..%zu); using the default\n",
               o->name, v, o->kind == OPT_BYTES ? "bytes, k, m or g suffix, " : "",
               o->kind == OPT_STATS ? "json or " : "", o->lo, o->hi);
}

// Warns once about each ALLOCATOR_* variable that no option reads (a typo
// would otherwise be silently ignored).
static void warn_unknown(void)
{
    static const char prefix[] = "ALLOCATOR_";
    for (const char *const *e = os_environ(); e != NULL && *e != NULL; e++) {
        const char *var = *e;
        size_t i = 0;
        while (prefix[i] != '\0' && var[i] == prefix[i])
            i++;
        if (prefix[i] != '\0')
            continue;
        bool known = false;
        for (size_t k = 0; k < sizeof table / sizeof table[0] && !known; k++) {
            const char *name = table[k].name;
            size_t j = 0;
            while (name[j] != '\0' && var[j] == name[j])
                j++;
            known = name[j] == '\0' && var[j] == '=';
        }
        if (!known) {
            char name[64];
            size_t len = 0;
            while (var[len] != '\0' && var[len] != '=' && len + 1 < sizeof name) {
                name[len] = var[len];
                len++;
            }
            name[len] = '\0';
            log_printf("liballocator: unknown option %s ignored\n", name);
        }
    }
}

void options_read(la_options_t *opts)
{
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        read_one(opts, &table[k]);
    if (opts->check && os_getenv("ALLOCATOR_CHECK_EVERY") == NULL)
        opts->check_every = LA_CHECK_EVERY_DEFAULT;
    // A file for the report asks for the report.
    if (opts->stats_file[0] != '\0' && os_getenv("ALLOCATOR_STATS") == NULL)
        opts->stats = 1;
    if (opts->stats)
        os_keep_stderr(); // the report at exit (or its warning) must reach the user's stderr
    warn_unknown();
}
