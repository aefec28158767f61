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
    OPT_PROF,  // 0, 1 (the default interval), or bytes: 1b, 64k, 4096...
} opt_kind_t;

typedef struct {
    const char *name;
    opt_kind_t kind;
    size_t lo, hi, dflt;
    size_t offset; // of the field in la_options_t (all fields size-sized or int)
    int is_int;    // the field is an int / unsigned rather than a size_t
} opt_t;

#define FIELD(f) offsetof(la_options_t, f)

static const opt_t table[] = {
    {"ALLOCATOR_STATS", OPT_STATS, 0, 1, 0, FIELD(stats), 1},
    {"ALLOCATOR_TCACHE", OPT_BOOL, 0, 1, 1, FIELD(tcache), 1},
    {"ALLOCATOR_SLAB", OPT_BOOL, 0, 1, 1, FIELD(slab), 1},
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
    {"ALLOCATOR_PROF", OPT_PROF, 0, (size_t)1 << 40, 0, FIELD(prof_bytes), 0},
    {"ALLOCATOR_PROF_LEAKS", OPT_BOOL, 0, 1, 0, FIELD(prof_leaks), 1},
};

// Options whose value is a string, read where they are used (prof.c).
static const char *const string_options[] = {"ALLOCATOR_PROF_FILE", "ALLOCATOR_PROF_SIGNAL"};

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
    if (suffixes && (*s == 'b' || *s == 'B') && s[1] == '\0')
        s++; // bytes, said explicitly (ALLOCATOR_PROF=1b: every allocation)
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

static void read_one(la_options_t *opts, const opt_t *o)
{
    store(opts, o, o->dflt);
    const char *v = os_getenv(o->name);
    if (v == NULL)
        return;
    size_t n;
    bool json = o->kind == OPT_STATS && v[0] == 'j' && v[1] == 's' && v[2] == 'o' && v[3] == 'n' &&
                v[4] == '\0';
    bool bytes = o->kind == OPT_BYTES || o->kind == OPT_PROF;
    if (json || (parse_number(v, bytes, &n) && n >= o->lo && n <= o->hi)) {
        // ALLOCATOR_PROF=1 means "on"; one byte is spelled 1b.
        if (o->kind == OPT_PROF && v[0] == '1' && v[1] == '\0')
            n = LA_PROF_DEFAULT_INTERVAL;
        store(opts, o, json ? LA_STATS_JSON : n);
        if (o->kind == OPT_STATS && (json || n != 0))
            os_keep_stderr(); // the report at exit must reach the user's stderr
        return;
    }
    log_printf("liballocator: %s=%s not understood (use %s%s%zu..%zu); using the default\n",
               o->name, v, bytes ? "bytes, k, m or g suffix, " : "",
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
        for (size_t k = 0; k < sizeof string_options / sizeof string_options[0] && !known; k++) {
            const char *name = string_options[k];
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
    warn_unknown();
}
