// SPDX-License-Identifier: MIT
/*
 * log.c: formatted output without stdio or malloc.  A small printf subset
 * (%s %c %d %i %u %x %p %%, with l/z/ll length modifiers and a field width,
 * digits or `*`)
 * formats into a stack buffer that os.c writes to stderr in one write(2),
 * so concurrent reports do not interleave mid-line.  Used by diagnostics,
 * the fatal-error path and the statistics report.
 */
#include <stdarg.h>

#include "internal.h"

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} out_t;

static void put_char(out_t *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void put_str(out_t *o, const char *s, int width, bool left)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    int pad = width > (int)n ? width - (int)n : 0;
    if (!left)
        while (pad-- > 0)
            put_char(o, ' ');
    for (size_t i = 0; i < n; i++)
        put_char(o, s[i]);
    if (left)
        while (pad-- > 0)
            put_char(o, ' ');
}

static void put_unsigned(out_t *o, unsigned long long v, unsigned base, int width, bool left,
                         bool zero_pad, bool negative)
{
    char digits[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v != 0);
    if (negative)
        digits[n++] = '-';
    char tmp[25];
    int pad = width > n ? width - n : 0;
    int t = 0;
    if (zero_pad && !left && !negative)
        while (pad-- > 0)
            tmp[t++] = '0';
    while (n > 0)
        tmp[t++] = digits[--n];
    tmp[t] = '\0';
    put_str(o, tmp, zero_pad ? 0 : width, left);
}

size_t log_format(char *buf, size_t cap, const char *fmt, va_list ap)
{
    out_t o = {buf, cap, 0};
    for (const char *f = fmt; *f != '\0'; f++) {
        if (*f != '%') {
            put_char(&o, *f);
            continue;
        }
        f++;
        bool left = false, zero_pad = false;
        if (*f == '-') {
            left = true;
            f++;
        }
        if (*f == '0') {
            zero_pad = true;
            f++;
        }
        int width = 0;
        if (*f == '*') {
            width = va_arg(ap, int);
            f++;
        }
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        int longs = 0;
        while (*f == 'l' || *f == 'z') {
            longs += (*f == 'z') ? 2 : 1;
            f++;
        }
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            put_str(&o, s != NULL ? s : "(null)", width, left);
            break;
        }
        case 'c':
            put_char(&o, (char)va_arg(ap, int));
            break;
        case 'd':
        case 'i': {
            long long v = longs >= 2 ? va_arg(ap, long long)
                          : longs == 1 ? va_arg(ap, long)
                                       : va_arg(ap, int);
            unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            put_unsigned(&o, mag, 10, width, left, zero_pad, v < 0);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = longs >= 2 ? va_arg(ap, unsigned long long)
                                   : longs == 1 ? va_arg(ap, unsigned long)
                                                : va_arg(ap, unsigned);
            put_unsigned(&o, v, *f == 'x' ? 16 : 10, width, left, zero_pad, false);
            break;
        }
        case 'p':
            put_str(&o, "0x", 0, false);
            put_unsigned(&o, (uintptr_t)va_arg(ap, void *), 16, 0, false, false, false);
            break;
        case '%':
            put_char(&o, '%');
            break;
        case '\0':
            f--; // a lone '%' at the end: stop cleanly
            break;
        default:
            put_char(&o, '%');
            put_char(&o, *f);
            break;
        }
    }
    if (cap > 0)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len < cap ? o.len : cap - 1;
}

size_t log_format_args(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = log_format(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

size_t log_format_bytes(char *buf, size_t cap, size_t bytes)
{
    static const char units[][4] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned u = 0;
    while (u + 1 < sizeof units / sizeof units[0] && bytes >> (10 * (u + 1)) != 0)
        u++;
    if (u == 0)
        return log_format_args(buf, cap, "%zu B", bytes);
    size_t unit = (size_t)1 << (10 * u);
    size_t whole = bytes / unit;
    // One decimal, rounded to nearest; (bytes % unit) * 10 cannot overflow
    // since unit <= 2^60.
    size_t tenths = ((bytes % unit) * 10 + unit / 2) / unit;
    if (tenths == 10) {
        whole++;
        tenths = 0;
    }
    return log_format_args(buf, cap, "%zu.%zu %s", whole, tenths, units[u]);
}

void log_printf(const char *fmt, ...)
{
    char buf[LA_LOG_BUFFER_BYTES];
    va_list ap;
    va_start(ap, fmt);
    size_t n = log_format(buf, sizeof buf, fmt, ap);
    va_end(ap);
    os_write_stderr(buf, n);
}

void la_fatal(const char *func, const char *fmt, ...)
{
    char buf[LA_LOG_BUFFER_BYTES];
    // One line, e.g. "liballocator: free(): double free of 0x... (block of 48 bytes)"
    size_t n = log_format_args(buf, sizeof buf, "liballocator: %s(): ", func);
    va_list ap;
    va_start(ap, fmt);
    n += log_format(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    if (n + 1 < sizeof buf)
        buf[n++] = '\n';
    os_write_stderr(buf, n);
    os_abort();
}

void la_link_corrupt(const void *p, const char *func)
{
    la_fatal(func, "free list corrupted at %p (a write after free?)", p);
}

void la_assert_fail(const char *file, int line, const char *cond)
{
    log_printf("liballocator: internal assertion failed at %s:%d: %s\n", file, line, cond);
    os_abort();
}
