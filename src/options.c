// SPDX-License-Identifier: MIT
/*
 * options.c: the ALLOCATOR_* environment variables, read once at
 * initialisation through os_getenv (no allocation, no lock).  One table
 * describes every option: its name, kind, bounds and default (README.md
 * and docs/QUICKREF.md explain each, in this table's order).  Values are
 * read in any case.  A value that does not parse, or falls outside its
 * bounds, gets one warning line saying which, and the default; an
 * ALLOCATOR_* name the table does not know gets one warning line naming
 * the nearest option (edit distance).  Set-user-ID and set-group-ID
 * programs (AT_SECURE) read none of them.
 */
#include <limits.h>

#include "internal.h"

typedef enum {
    OPT_BOOL,  // 0 or 1
    OPT_COUNT, // a decimal number
    OPT_BYTES, // a decimal number, optionally with k, m or g (powers of 1024)
    OPT_STATS, // 0, 1 (text) or json
    OPT_PATH,  // a file name (a char array field of LA_PATH_BYTES)
    OPT_PROF,  // 0, 1 (the default interval), or bytes: 1b, 64k, 4096...
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
    {"ALLOCATOR_STATS_FILE", OPT_PATH, 0, 0, 0, FIELD(stats_file), 0},
    {"ALLOCATOR_VERBOSE", OPT_BOOL, 0, 1, 0, FIELD(verbose), 1},
    {"ALLOCATOR_PROF", OPT_PROF, 0, (size_t)1 << 40, 0, FIELD(prof_bytes), 0},
    {"ALLOCATOR_PROF_LEAKS", OPT_BOOL, 0, 1, 0, FIELD(prof_leaks), 1},
    {"ALLOCATOR_GUARD_SAMPLE", OPT_COUNT, 0, (size_t)1 << 40, LA_GUARD_SAMPLE_DEFAULT,
     FIELD(guard_sample), 0},
    {"ALLOCATOR_THP", OPT_BOOL, 0, 1, 0, FIELD(thp), 0},
};

// Options whose value is a string, read where they are used (prof.c).
static const char *const string_options[] = {"ALLOCATOR_PROF_FILE", "ALLOCATOR_PROF_SIGNAL"};

#define NUM_OPTIONS (sizeof table / sizeof table[0])

// Where an option's value came from, for ALLOCATOR_VERBOSE: the default,
// its ALLOCATOR_* variable, a GLIBC_TUNABLES entry, or the environment
// variable glibc reads for that tunable (mallopt(3)).
typedef enum { FROM_DEFAULT, FROM_ENV, FROM_TUNABLE, FROM_ALIAS } source_t;

// The glibc tunables that have a meaning here, the variable glibc also
// reads for each, and the field each sets (docs/API.md lists the others,
// which are ignored).  A program tuned for glibc keeps its settings:
// MALLOC_ARENA_MAX=2, the usual cap on a threaded server's memory, caps
// the heaps as it capped glibc's arenas.
static const struct {
    const char *name;  // in GLIBC_TUNABLES
    const char *alias; // glibc's environment variable for it (NULL: none)
    size_t offset;     // of the size_t field in la_options_t
    size_t max;        // beyond it glibc ignores the tunable, and so do we
    bool threshold;    // setting it fixes both thresholds, as in glibc
} tunables[] = {
    {"glibc.malloc.mmap_threshold", "MALLOC_MMAP_THRESHOLD_", FIELD(mmap_bytes),
     LA_MMAP_THRESHOLD_MAX, true},
    {"glibc.malloc.trim_threshold", "MALLOC_TRIM_THRESHOLD_", FIELD(trim_bytes), SIZE_MAX, true},
    {"glibc.malloc.arena_max", "MALLOC_ARENA_MAX", FIELD(arena_max), SIZE_MAX, false},
    {"glibc.malloc.perturb", "MALLOC_PERTURB_", FIELD(perturb), 0xff, false},
    {"glibc.malloc.mmap_max", "MALLOC_MMAP_MAX_", FIELD(mmap_max), INT_MAX, true},
    // 2 (hugetlbfs pages, which need reserving) is taken as 1.
    {"glibc.malloc.hugetlb", NULL, FIELD(thp), 2, false},
};
#define NUM_TUNABLES (sizeof tunables / sizeof tunables[0])

// Where each tunable's value came from (FROM_DEFAULT: not set, or an
// ALLOCATOR_* variable set the same field), for ALLOCATOR_VERBOSE.
static source_t tunable_from[NUM_TUNABLES];

typedef enum { PARSE_OK, PARSE_BAD, PARSE_TOO_BIG } parse_t;

// A decimal number with an optional k/m/g suffix, in either case (when
// suffixes are allowed).  PARSE_TOO_BIG: well formed, beyond SIZE_MAX.
static parse_t parse_number(const char *s, bool suffixes, size_t *out)
{
    size_t v = 0;
    bool too_big = false;
    if (*s < '0' || *s > '9')
        return PARSE_BAD;
    for (; *s >= '0' && *s <= '9'; s++) {
        size_t digit = (size_t)(*s - '0');
        if (v > (SIZE_MAX - digit) / 10)
            too_big = true;
        else
            v = v * 10 + digit;
    }
    if (suffixes && (*s == 'b' || *s == 'B') && s[1] == '\0')
        s++; // bytes, said explicitly (ALLOCATOR_PROF=1b: every allocation)
    if (suffixes && *s != '\0') {
        unsigned shift = (*s == 'k' || *s == 'K') ? 10 : (*s == 'm' || *s == 'M') ? 20
                         : (*s == 'g' || *s == 'G')                               ? 30
                                                                                  : 0;
        if (shift == 0 || s[1] != '\0')
            return PARSE_BAD;
        if (v > (SIZE_MAX >> shift))
            too_big = true;
        v <<= shift;
        s++;
    }
    if (*s != '\0')
        return PARSE_BAD;
    if (too_big)
        return PARSE_TOO_BIG;
    *out = v;
    return PARSE_OK;
}

// A bound as the user would write it: byte sizes with the largest suffix
// that divides them (4096 is 4k, 2^40 is 1024g).
static void format_bound(char *buf, size_t cap, const opt_t *o, size_t v)
{
    static const struct {
        unsigned shift;
        char suffix;
    } units[] = {{30, 'g'}, {20, 'm'}, {10, 'k'}};
    if (o->kind == OPT_BYTES && v != 0)
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (v % ((size_t)1 << units[i].shift) == 0) {
                log_format_args(buf, cap, "%zu%c", v >> units[i].shift, units[i].suffix);
                return;
            }
    log_format_args(buf, cap, "%zu", v);
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

// s equals word, ignoring case.
static bool same_word(const char *s, const char *word)
{
    for (; *word != '\0'; s++, word++)
        if (lower(*s) != lower(*word))
            return false;
    return *s == '\0';
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

// Reads one option (its default when `secure`); returns where its value
// came from.
LA_HOT_TEXT static source_t read_one(la_options_t *opts, const opt_t *o, bool secure)
{
    const char *v = secure ? NULL : os_getenv(o->name);
    if (o->kind == OPT_PATH) {
        read_path(opts, o, v);
        return ((char *)opts + o->offset)[0] != '\0' ? FROM_ENV : FROM_DEFAULT;
    }
    store(opts, o, o->dflt);
    if (v == NULL)
        return FROM_DEFAULT;
    if (o->kind == OPT_STATS && same_word(v, "json")) {
        store(opts, o, LA_STATS_JSON);
        return FROM_ENV;
    }
    size_t n = 0;
    bool bytes = o->kind == OPT_BYTES || o->kind == OPT_PROF;
    parse_t parsed = parse_number(v, bytes, &n);
    if (parsed == PARSE_OK && n >= o->lo && n <= o->hi) {
        // ALLOCATOR_PROF=1 means "on"; one byte is spelled 1b.
        if (o->kind == OPT_PROF && v[0] == '1' && v[1] == '\0')
            n = LA_PROF_DEFAULT_INTERVAL;
        store(opts, o, n);
        return FROM_ENV;
    }
    char lo[32], hi[32];
    format_bound(lo, sizeof lo, o, o->lo);
    format_bound(hi, sizeof hi, o, o->hi);
    if (parsed == PARSE_BAD)
        log_printf("liballocator: %s=%s not understood (use %s%s%s..%s); using the default\n",
                   o->name, v, bytes ? "bytes, k, m or g suffix, " : "",
                   o->kind == OPT_STATS ? "json or " : "", lo, hi);
    else
        log_printf("liballocator: %s=%s out of range (%s..%s); using the default\n", o->name, v,
                   lo, hi);
    return FROM_DEFAULT;
}

// Edit distance (insertions, deletions, substitutions; case ignored)
// between two names of at most LA_OPTION_NAME_MAX bytes.
static size_t distance(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t row[LA_OPTION_NAME_MAX + 1];
    for (size_t j = 0; j <= blen; j++)
        row[j] = j;
    for (size_t i = 1; i <= alen; i++) {
        size_t diag = row[0]; // row[i-1][j-1]
        row[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            size_t up = row[j]; // row[i-1][j]
            size_t best = LA_MIN(up, row[j - 1]) + 1;
            size_t subst = diag + (lower(a[i - 1]) != lower(b[j - 1]));
            row[j] = LA_MIN(best, subst);
            diag = up;
        }
    }
    return row[blen];
}

// The option nearest to an unknown name, if it is near enough to be the
// one meant (a few edits, or a third of the name); NULL otherwise.
static const char *nearest(const char *name, size_t len)
{
    static const size_t prefix = sizeof "ALLOCATOR_" - 1;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        const char *known = table[k].name;
        size_t klen = __builtin_strlen(known);
        size_t d = distance(name, len, known, klen);
        if (d < best_d) {
            best_d = d;
            best = known;
        }
    }
    size_t tail = len > prefix ? len - prefix : 0;
    return best_d <= 3 || best_d * 3 <= tail ? best : NULL;
}

// Warns once about each ALLOCATOR_* variable that no option reads (a typo
// would otherwise be silently ignored), naming the option it is nearest.
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
            char name[LA_OPTION_NAME_MAX + 1];
            size_t len = 0;
            while (var[len] != '\0' && var[len] != '=' && len < LA_OPTION_NAME_MAX) {
                name[len] = var[len];
                len++;
            }
            name[len] = '\0';
            const char *near = nearest(name, len);
            if (near != NULL)
                log_printf("liballocator: unknown option %s ignored (did you mean %s?)\n", name,
                           near);
            else
                log_printf("liballocator: unknown option %s ignored\n", name);
        }
    }
}

// A number of glibc's tunables syntax in [s, end): decimal, or hex after
// 0x; false on anything else or on overflow.
static bool parse_tunable_value(const char *s, const char *end, size_t *out)
{
    unsigned base = 10;
    if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (s == end)
        return false;
    size_t v = 0;
    for (; s < end; s++) {
        char c = lower(*s);
        unsigned digit = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                         : base == 16 && c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                              : base;
        if (digit >= base || v > (SIZE_MAX - digit) / base)
            return false;
        v = v * base + digit;
    }
    *out = v;
    return true;
}

// The table entry of an option field, for its source.
static size_t option_index(size_t offset)
{
    size_t k = 0;
    while (k < NUM_OPTIONS && table[k].offset != offset)
        k++;
    return k;
}

// GLIBC_TUNABLES=name=value:name=value...: glibc.malloc.mmap_threshold and
// trim_threshold set the two thresholds (and fix them, as in glibc),
// glibc.malloc.arena_max caps the heaps, unless an ALLOCATOR_* variable set
// that field already, glibc.malloc.perturb fills blocks (debug.c) and
// glibc.malloc.mmap_max of 0 maps none the heaps can hold (and fixes the
// thresholds too).  A tunable not in GLIBC_TUNABLES comes from its alias
// variable (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_,
// MALLOC_ARENA_MAX, MALLOC_PERTURB_, MALLOC_MMAP_MAX_) if that is set, as
// glibc reads them.  The strings are
// read where they are, nothing copied or allocated; malformed entries and
// tunables without a meaning here are skipped, silently, as glibc does.
static void read_tunables(la_options_t *opts, source_t *from)
{
    size_t value[NUM_TUNABLES];
    const char *s = os_getenv("GLIBC_TUNABLES");
    while (s != NULL && *s != '\0') {
        const char *name = s, *eq = NULL;
        while (*s != '\0' && *s != ':') {
            if (*s == '=' && eq == NULL)
                eq = s;
            s++;
        }
        const char *end = s;
        if (*s == ':')
            s++;
        if (eq == NULL)
            continue;
        for (size_t i = 0; i < NUM_TUNABLES; i++) {
            const char *t = tunables[i].name;
            size_t len = __builtin_strlen(t);
            if ((size_t)(eq - name) != len || __builtin_memcmp(name, t, len) != 0)
                continue;
            size_t v;
            if (parse_tunable_value(eq + 1, end, &v) && v <= tunables[i].max) {
                value[i] = v;
                tunable_from[i] = FROM_TUNABLE;
            }
            break;
        }
    }
    for (size_t i = 0; i < NUM_TUNABLES; i++) {
        const char *v = tunable_from[i] == FROM_DEFAULT && tunables[i].alias != NULL
                            ? os_getenv(tunables[i].alias)
                            : NULL;
        if (v != NULL && parse_tunable_value(v, v + __builtin_strlen(v), &value[i]) &&
            value[i] <= tunables[i].max)
            tunable_from[i] = FROM_ALIAS;
    }
    for (size_t i = 0; i < NUM_TUNABLES; i++) {
        size_t k = option_index(tunables[i].offset); // NUM_OPTIONS: no ALLOCATOR_* variable
        if (tunable_from[i] == FROM_DEFAULT || (k < NUM_OPTIONS && from[k] == FROM_ENV)) {
            tunable_from[i] = FROM_DEFAULT;
            continue;
        }
        *(size_t *)((char *)opts + tunables[i].offset) = value[i];
        if (k < NUM_OPTIONS)
            from[k] = tunable_from[i];
        if (tunables[i].threshold)
            opts->thresholds_fixed = true;
    }
}

// The tunable that sets the field at `offset` (there is one).
static size_t tunable_of(size_t offset)
{
    size_t i = 0;
    while (tunables[i].offset != offset)
        i++;
    return i;
}

// Where tunable i came from (FROM_TUNABLE or FROM_ALIAS), in parentheses
// after `before`, into buf.
static const char *tunable_note(char *buf, size_t cap, const char *before, size_t i)
{
    if (tunable_from[i] == FROM_TUNABLE)
        log_format_args(buf, cap, "(%sGLIBC_TUNABLES %s)", before, tunables[i].name);
    else
        log_format_args(buf, cap, "(%s%s)", before, tunables[i].alias);
    return buf;
}

// ALLOCATOR_VERBOSE: one line per option, in the table's order, with
// where its value came from; written in one go.
static void print_options(const la_options_t *opts, const source_t *from)
{
    char buf[LA_VERBOSE_BUFFER_BYTES];
    size_t len = log_format_args(buf, sizeof buf, "liballocator: options in force (pid %d):\n",
                                 os_getpid());
    size_t arena = tunable_of(FIELD(arena_max));
    for (size_t k = 0; k < NUM_OPTIONS && len + 1 < sizeof buf; k++) {
        const opt_t *o = &table[k];
        const char *field = (const char *)opts + o->offset;
        size_t v = o->kind == OPT_PATH ? 0
                   : o->is_int         ? (size_t)*(const int *)field
                                       : *(const size_t *)field;
        // Checking mode and a perturb byte turn the caches off whatever
        // ALLOCATOR_TCACHE says (debug_init): the line says what runs.
        bool caches_forced_off =
            o->offset == FIELD(tcache) && v != 0 && options_want_checked_paths(opts);
        if (caches_forced_off)
            v = 0;
        char value[LA_OPTION_NAME_MAX + 32];
        if (o->kind == OPT_PATH)
            log_format_args(value, sizeof value, "%s=%s", o->name, field);
        else if (o->kind == OPT_STATS && v == LA_STATS_JSON)
            log_format_args(value, sizeof value, "%s=json", o->name);
        else {
            char number[32];
            format_bound(number, sizeof number, o, v);
            log_format_args(value, sizeof value, "%s=%s", o->name, number);
        }
        const char *note = "(default)";
        bool threshold = o->offset == FIELD(mmap_bytes) || o->offset == FIELD(trim_bytes);
        char tunable[80];
        if (caches_forced_off) {
            note = opts->check ? "(off: ALLOCATOR_CHECK=1 checks every call)"
                               : "(off: a perturb byte fills every block)";
        } else if (from[k] == FROM_ENV) {
            note = "(environment)";
        } else if (from[k] == FROM_TUNABLE || from[k] == FROM_ALIAS) {
            note = tunable_note(tunable, sizeof tunable, "", tunable_of(o->offset));
        } else if (o->offset == FIELD(heaps) && v == 0 && tunable_from[arena] != FROM_DEFAULT &&
                   opts->arena_max != 0) {
            char before[48];
            log_format_args(before, sizeof before, "default: one per CPU, at most %zu: ",
                            opts->arena_max);
            note = tunable_note(tunable, sizeof tunable, before, arena);
        } else if (threshold)
            note = opts->thresholds_fixed ? "(default; fixed: a threshold was set)"
                                          : "(default; rises with the large blocks freed, as glibc's)";
        else if (o->offset == FIELD(heaps) && v == 0)
            note = "(default: one per CPU)";
        else if (o->kind == OPT_PATH)
            note = "(default: stderr)";
        else if (o->offset == FIELD(stats) && v != 0)
            note = "(ALLOCATOR_STATS_FILE is set)";
        else if (o->offset == FIELD(check_every) && v != 0)
            note = "(default with ALLOCATOR_CHECK=1)";
        len += log_format_args(buf + len, sizeof buf - len, "  %-40s %s\n", value, note);
    }
    // The tunables with no ALLOCATOR_* variable of their own, when set
    // (arena_max shows in ALLOCATOR_HEAPS' line).
    static const struct {
        size_t offset;
        const char *effect;
    } own[] = {{FIELD(perturb), "fills blocks: "}, {FIELD(mmap_max), "0: the heaps hold all they can: "}};
    for (size_t j = 0; j < sizeof own / sizeof own[0] && len + 1 < sizeof buf; j++) {
        size_t i = tunable_of(own[j].offset);
        if (tunable_from[i] == FROM_DEFAULT)
            continue;
        char value[64], note[96];
        log_format_args(value, sizeof value, "%s=%zu", tunables[i].name,
                        *(const size_t *)((const char *)opts + own[j].offset));
        tunable_note(note, sizeof note, own[j].effect, i);
        len += log_format_args(buf + len, sizeof buf - len, "  %-40s %s\n", value, note);
    }
    os_write_stderr(buf, LA_MIN(len, sizeof buf - 1));
}

LA_HOT_TEXT void options_read(la_options_t *opts)
{
    // A set-user-ID or set-group-ID program ignores the environment, as
    // glibc ignores its tunables there: no option may make a privileged
    // program write a file (ALLOCATOR_STATS_FILE), print, or run
    // differently.  Every option keeps its default, silently.
    opts->mmap_max = LA_GLIBC_MMAP_MAX; // a tunable's own default (read_tunables)
    if (os_secure()) {
        for (size_t k = 0; k < NUM_OPTIONS; k++)
            read_one(opts, &table[k], true);
        opts->thresholds_fixed = false;
        return;
    }
    source_t from[NUM_OPTIONS];
    for (size_t k = 0; k < NUM_OPTIONS; k++)
        from[k] = read_one(opts, &table[k], false);
    if (opts->check && os_getenv("ALLOCATOR_CHECK_EVERY") == NULL) {
        opts->check_every = LA_CHECK_EVERY_DEFAULT;
        opts->check_every_auto = true;
    }
    // A file for the report asks for the report.
    if (opts->stats_file[0] != '\0' && os_getenv("ALLOCATOR_STATS") == NULL)
        opts->stats = 1;
    // As mallopt: a threshold set by hand fixes both.
    opts->thresholds_fixed = os_getenv("ALLOCATOR_MMAP_THRESHOLD") != NULL ||
                             os_getenv("ALLOCATOR_TRIM_THRESHOLD") != NULL;
    read_tunables(opts, from);
    // The report at exit must reach the user's stderr, after programs
    // that close fd 2 in an atexit handler (coreutils); a report to a
    // file only says on stderr when it cannot open the file, if fd 2 is
    // still the user's then.
    if (opts->stats)
        os_keep_stderr(opts->stats_file[0] == '\0');
    warn_unknown();
    if (opts->verbose)
        print_options(opts, from);
}
