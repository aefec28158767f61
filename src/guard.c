// SPDX-License-Identifier: MIT
/*
 * guard.c: sampled guard pages (issue 15).  With ALLOCATOR_GUARD_SAMPLE=N,
 * prof.c's sampling hook hands about one allocation in N of the exported
 * family here.  The block gets its own slot of a pool reserved once
 * (PROT_NONE): its pages are made accessible and it is placed against the
 * guard page after them (right-aligned, to the 16 bytes malloc promises)
 * or before them (left-aligned), in turn, so that an overflow or an
 * underflow faults.  On free its pages become inaccessible again (they
 * stay resident, for the slot's next block), and the slot waits in a
 * quarantine ring before reuse, so a use after free faults too.  The SIGSEGV handler (installed through
 * os_on_fault, chaining to the program's) names the fault with the
 * block's allocation and free stacks, captured without allocating
 * (prof_capture), and aborts.
 *
 * Pool layout: | guard | slot 0 | guard | slot 1 | ... | slot n-1 | guard |
 * every slot LA_GUARD_SLOT_PAGES pages, every guard one page.  A pointer
 * is ours iff it lies in the pool (guard_owns, one compare), so free,
 * realloc and malloc_usable_size find guarded blocks on their slow paths
 * before they read a header, which these blocks do not have.  The slots'
 * records and lists are guarded by la.guard_lock (after prof_lock in the
 * fork order); the fault handler reads the records without it.
 *
 * The same handler names faults on checking mode's guard pages after large
 * blocks (large.c, ALLOCATOR_CHECK=1): "heap buffer overflow past 0x...
 * (a block of N bytes)".  It is installed for either, never twice.
 */
#include <string.h>

#include "internal.h"

enum { SLOT_UNUSED = 0, SLOT_LIVE, SLOT_FREED };

typedef struct {
    char *ptr;            // the block, while live and after its free
    size_t bytes;         // requested
    uint32_t state;       // SLOT_*
    uint32_t right;       // right-aligned: against the guard page after the slot
    uint32_t alloc_depth, free_depth;
    void *alloc_frames[LA_GUARD_FRAMES];
    void *free_frames[LA_GUARD_FRAMES];
} slot_t;

_Static_assert(LA_GUARD_QUARANTINE <= LA_GUARD_SLOTS / 2, "slots must remain for live blocks");

static struct {
    slot_t *slots;        // LA_GUARD_SLOTS records, mapped at start-up
    char *pool;           // the reservation: a guard page, then the slots
    size_t pool_bytes;
    char *first;          // slot 0's first page
    size_t stride;        // a slot and the guard page after it
    size_t slot_bytes;
    size_t interval;      // ALLOCATOR_GUARD_SAMPLE
    uint32_t free_list[LA_GUARD_SLOTS]; // slots to hand out, a stack
    uint32_t nfree;
    uint32_t quarantine[LA_GUARD_QUARANTINE]; // freed slots, oldest at q_head
    uint32_t q_head, q_count;
    uint32_t flip;        // alternates right and left alignment
    size_t live, made, skipped;
    la_counters_t counters; // in the statistics like any block's
} guard;

size_t guard_interval(void) { return guard.interval; }

static char *slot_start(uint32_t i) { return guard.first + (size_t)i * guard.stride; }

static char *page_down(const char *p)
{
    return (char *)((uintptr_t)p & ~(uintptr_t)(la.page_bytes - 1));
}
static char *page_up(const char *p) { return page_down(p + la.page_bytes - 1); }

// The pages a block of s occupies: [*lo, *hi).
static void block_pages(const slot_t *s, char **lo, char **hi)
{
    *lo = page_down(s->ptr);
    *hi = page_up(s->ptr + LA_MAX(s->bytes, (size_t)1));
}

/* ---- reports ------------------------------------------------------------ */

typedef struct {
    char buf[LA_GUARD_REPORT_BYTES];
    size_t len;
} report_t;

static void add(report_t *r, const char *fmt, ...) LA_PRINTF(2, 3);
static void add(report_t *r, const char *fmt, ...)
{
    if (r->len + 1 >= sizeof r->buf)
        return;
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    size_t n = log_format(r->buf + r->len, sizeof r->buf - r->len, fmt, ap);
    __builtin_va_end(ap);
    r->len += LA_MIN(n, sizeof r->buf - r->len - 1);
}

static void add_frames(report_t *r, void *const *frames, unsigned depth)
{
    for (unsigned k = 0; k < depth; k++)
        add(r, " %p", frames[k]);
    if (depth == 0)
        add(r, " (no stack)");
}

static const char *bytes_word(size_t n) { return n == 1 ? "byte" : "bytes"; }

// Ends a report begun in r with the block's history, writes it in one
// write(2) and aborts: "... (a block of N bytes allocated at PCs..., freed
// at PCs...)".
static LA_NORETURN void report_end(report_t *r, const slot_t *s)
{
    if (s != NULL) {
        add(r, " (a block of %zu %s allocated at", s->bytes, bytes_word(s->bytes));
        add_frames(r, s->alloc_frames, s->alloc_depth);
        if (la_load_relaxed(&s->state) == SLOT_FREED) {
            add(r, ", freed at");
            add_frames(r, s->free_frames, s->free_depth);
        }
        add(r, ")");
    }
    add(r, "\n");
    os_write_stderr(r->buf, r->len);
    os_abort();
}

// The slot whose pages hold p, or NULL (a guard page).  p is in the pool.
static slot_t *slot_holding(const char *p, uint32_t *index)
{
    if (p < guard.first)
        return NULL;
    size_t off = (size_t)(p - guard.first);
    uint32_t i = (uint32_t)(off / guard.stride);
    if (i >= LA_GUARD_SLOTS || off % guard.stride >= guard.slot_bytes)
        return NULL;
    *index = i;
    return &guard.slots[i];
}

// A pointer handed to free, realloc or malloc_usable_size that is in the
// pool: its live slot, or a report.
static slot_t *live_slot(const void *p, const char *func)
{
    uint32_t i;
    slot_t *s = slot_holding(p, &i);
    report_t r = {.len = 0};
    add(&r, "liballocator: %s(): ", func);
    if (s == NULL || la_load_relaxed(&s->state) == SLOT_UNUSED) {
        add(&r, "invalid pointer %p (in liballocator's guard pages, not a block)", p);
        report_end(&r, NULL);
    }
    if (s->ptr != p) {
        add(&r, "invalid pointer %p (inside the guarded block at %p, not its start)", p,
            (void *)s->ptr);
        report_end(&r, s);
    }
    if (la_load_relaxed(&s->state) == SLOT_FREED) {
        add(&r, "%s of %p", func[0] == 'f' ? "double free" : "use after free", p);
        report_end(&r, s);
    }
    return s;
}

/* ---- the fault handler -------------------------------------------------- */

// Distance from a to the block of slot i, if it has one: 0 inside it,
// otherwise how far past its end (*past) or before its start.
static bool distance_to(uint32_t i, const char *a, size_t *dist, bool *past)
{
    if (i >= LA_GUARD_SLOTS)
        return false;
    const slot_t *s = &guard.slots[i];
    if (la_load_relaxed(&s->state) == SLOT_UNUSED || s->ptr == NULL)
        return false;
    const char *end = s->ptr + s->bytes;
    *past = a >= end;
    *dist = a < s->ptr ? (size_t)(s->ptr - a) : a >= end ? (size_t)(a - end) + 1 : 0;
    return true;
}

// Checking mode: a fault on the guard page after a large block (large.c).
static void on_large_fault(const char *a, void *pc, const char *what)
{
    const void *payload;
    size_t req;
    int found = large_guard_find(a, &payload, &req);
    if (found == 0)
        return; // not ours: os.c passes it on
    report_t r = {.len = 0};
    if (payload == NULL) {
        add(&r, "liballocator: heap buffer overflow past a freed large block: %s of %p, on the "
                "guard page after it, at pc %p", what, (const void *)a, pc);
        report_end(&r, NULL);
    }
    size_t dist = (size_t)(a - ((const char *)payload + req)) + 1;
    add(&r, "liballocator: heap buffer overflow past %p (a %sblock of %zu %s): %s %zu %s past "
            "its end at pc %p", payload, found == 2 ? "freed " : "", req, bytes_word(req), what,
        dist, bytes_word(dist), pc);
    report_end(&r, NULL);
}

static void on_fault(void *addr, void *pc, int write)
{
    const char *a = addr;
    const char *what = write == 1 ? "write" : write == 0 ? "read" : "access";
    if (!guard_owns(a)) {
        on_large_fault(a, pc, what);
        return; // not ours: os.c passes it on
    }
    // The block it belongs to: the one of its slot, or on a guard page the
    // nearer of the two slots beside it.
    uint32_t cand[2] = {UINT32_MAX, UINT32_MAX};
    if (a < guard.first) {
        cand[0] = 0;
    } else {
        size_t off = (size_t)(a - guard.first);
        uint32_t i = (uint32_t)(off / guard.stride);
        cand[0] = i;
        if (off % guard.stride >= guard.slot_bytes)
            cand[1] = i + 1;
    }
    const slot_t *s = NULL;
    size_t dist = 0;
    bool past = false;
    for (int k = 0; k < 2; k++) {
        size_t d;
        bool p;
        if (distance_to(cand[k], a, &d, &p) && (s == NULL || d < dist)) {
            s = &guard.slots[cand[k]];
            dist = d;
            past = p;
        }
    }
    report_t r = {.len = 0};
    add(&r, "liballocator: ");
    if (s == NULL) {
        add(&r, "wild %s of %p (liballocator's guard pages, no block near it) at pc %p", what,
            addr, pc);
    } else if (dist == 0) {
        // Live blocks' pages are accessible: inside a block is after its free.
        add(&r, "use after free of %p: %s of byte %zu at pc %p", (void *)s->ptr, what,
            (size_t)(a - s->ptr), pc);
    } else {
        add(&r, "heap buffer %s: %s %zu %s %s %p at pc %p%s", past ? "overflow" : "underflow", what,
            dist, bytes_word(dist), past ? "past the end of" : "before", (void *)s->ptr, pc,
            la_load_relaxed(&s->state) == SLOT_FREED ? ", a freed block" : "");
    }
    report_end(&r, s);
}

/* ---- allocation and free ------------------------------------------------ */

void *guard_alloc(size_t req, size_t align, void *caller)
{
    size_t need = LA_MAX(req, (size_t)1);
    if (align > la.page_bytes || need > guard.slot_bytes - (align - 1))
        return NULL;
    slot_t scratch; // the stack, walked before the lock is taken
    scratch.alloc_depth = prof_capture(scratch.alloc_frames, LA_GUARD_FRAMES, caller);
    lock_acquire(&la.guard_lock);
    if (guard.nfree == 0) {
        guard.skipped++;
        lock_release(&la.guard_lock);
        return NULL;
    }
    uint32_t i = guard.free_list[--guard.nfree];
    bool right = (guard.flip++ & 1) == 0;
    guard.live++;
    guard.made++;
    guard.counters.nalloc++;
    guard.counters.alloc_bytes += req;
    lock_release(&la.guard_lock);
    // The slot is this thread's now: its pages are opened outside the lock.
    slot_t *s = &guard.slots[i];
    char *start = slot_start(i), *end = start + guard.slot_bytes;
    char *p = right ? (char *)((uintptr_t)(end - need) & ~(uintptr_t)(align - 1)) : start;
    char *lo = page_down(p), *hi = page_up(p + need);
    if (!os_protect(lo, (size_t)(hi - lo), true)) {
        lock_acquire(&la.guard_lock);
        guard.free_list[guard.nfree++] = i;
        guard.live--;
        guard.made--;
        guard.skipped++;
        guard.counters.nalloc--;
        guard.counters.alloc_bytes -= req;
        lock_release(&la.guard_lock);
        return NULL;
    }
    // Every byte of the pages is written: the block zeroed, as calloc
    // needs (a slot used before keeps its old bytes, inaccessible), and
    // the fill around it.
    memset(lo, LA_GUARD_FILL_BYTE, (size_t)(p - lo));
    if (s->ptr != NULL)
        memset(p, 0, req);
    memset(p + req, LA_GUARD_FILL_BYTE, (size_t)(hi - (p + req)));
    s->ptr = p;
    s->bytes = req;
    s->right = right;
    s->alloc_depth = scratch.alloc_depth;
    memcpy(s->alloc_frames, scratch.alloc_frames, sizeof s->alloc_frames);
    s->free_depth = 0;
    __atomic_store_n(&s->state, SLOT_LIVE, __ATOMIC_RELEASE);
    stats_usage_publish((int64_t)req);
    return p;
}

// The first byte of [from, to) that is not the fill, or NULL.  Eight
// bytes at a time: the range before a right-aligned block is most of a
// page, and a byte loop over it was 17% of a run guarding every block.
static const char *fill_broken(const char *from, const char *to)
{
    const uint64_t fill = 0x0101010101010101u * LA_GUARD_FILL_BYTE;
    const char *c = from;
    for (; c < to && (uintptr_t)c % sizeof fill != 0; c++)
        if ((unsigned char)*c != LA_GUARD_FILL_BYTE)
            return c;
    for (; to - c >= (ptrdiff_t)sizeof fill; c += sizeof fill) {
        uint64_t word;
        memcpy(&word, c, sizeof word);
        if (word != fill)
            break;
    }
    for (; c < to; c++)
        if ((unsigned char)*c != LA_GUARD_FILL_BYTE)
            return c;
    return NULL;
}

void guard_free(void *p, void *caller, const char *func)
{
    lock_acquire(&la.guard_lock);
    uint32_t i;
    slot_t *s = slot_holding(p, &i);
    if (s == NULL || s->ptr != p || la_load_relaxed(&s->state) != SLOT_LIVE) {
        lock_release(&la.guard_lock);
        live_slot(p, func); // reports
        la_fatal(func, "invalid pointer %p", p); // not reached
    }
    __atomic_store_n(&s->state, SLOT_FREED, __ATOMIC_RELAXED); // a second free is named
    guard.live--;
    guard.counters.nfree++;
    guard.counters.free_bytes += s->bytes;
    lock_release(&la.guard_lock);
    // A write past the block too short to reach the guard page (the
    // alignment slack, or the rest of a left-aligned block's last page),
    // or before it, is caught here.
    char *lo, *hi;
    block_pages(s, &lo, &hi);
    const char *bad = fill_broken(s->ptr + s->bytes, hi);
    const char *under = fill_broken(lo, s->ptr);
    if (bad != NULL || under != NULL) {
        __atomic_store_n(&s->state, SLOT_LIVE, __ATOMIC_RELAXED); // report it as it was
        report_t r = {.len = 0};
        if (bad != NULL) {
            size_t d = (size_t)(bad - (s->ptr + s->bytes)) + 1;
            add(&r, "liballocator: %s(): heap buffer overflow: written %zu %s past the end of %p "
                    "(found at its free)", func, d, bytes_word(d), p);
        } else {
            size_t d = (size_t)(s->ptr - under);
            add(&r, "liballocator: %s(): heap buffer underflow: written %zu %s before %p "
                    "(found at its free)", func, d, bytes_word(d), p);
        }
        report_end(&r, s);
    }
    s->free_depth = prof_capture(s->free_frames, LA_GUARD_FRAMES, caller);
    // Inaccessible, but kept: giving the pages back (madvise) and faulting
    // them in again at the slot's next use doubled the kernel's share of a
    // guarded block's cost.  The pool's pages are bounded (config.h).
    os_protect(lo, (size_t)(hi - lo), false);
    stats_usage_publish(-(int64_t)s->bytes);
    lock_acquire(&la.guard_lock);
    if (guard.q_count == LA_GUARD_QUARANTINE) {
        // The oldest freed slot may serve again; its record stays until then.
        guard.free_list[guard.nfree++] = guard.quarantine[guard.q_head];
        guard.q_head = (guard.q_head + 1) % LA_GUARD_QUARANTINE;
        guard.q_count--;
    }
    guard.quarantine[(guard.q_head + guard.q_count) % LA_GUARD_QUARANTINE] = i;
    guard.q_count++;
    lock_release(&la.guard_lock);
}

size_t guard_usable(const void *p, const char *func) { return live_slot(p, func)->bytes; }

void *guard_realloc(void *p, size_t req, void *caller)
{
    size_t old = guard_usable(p, "realloc");
    if (req == 0) { // glibc: free and return NULL
        guard_free(p, caller, "realloc");
        return NULL;
    }
    void *q = la_malloc(req);
    if (q == NULL)
        return NULL; // errno is ENOMEM; the old block stays intact
    memcpy(q, p, LA_MIN(old, req));
    guard_free(p, caller, "realloc");
    return q;
}

/* ---- set-up, statistics and fork ---------------------------------------- */

void guard_stats(size_t *live, size_t *made, size_t *skipped)
{
    lock_acquire(&la.guard_lock);
    *live = guard.live;
    *made = guard.made;
    *skipped = guard.skipped;
    lock_release(&la.guard_lock);
}

void guard_sum_counters(la_counters_t *sum)
{
    lock_acquire(&la.guard_lock);
    la_counters_add(sum, &guard.counters);
    lock_release(&la.guard_lock);
}

void guard_lock_all(void) { lock_acquire(&la.guard_lock); }
void guard_unlock_all(void) { lock_release(&la.guard_lock); }
void guard_after_fork_child(void) { lock_reset(&la.guard_lock); }

// Reserves the pool and the slots' records for a sampler of one in n;
// false (and a word to the user) if there is no address space for them.
static bool pool_init(size_t n)
{
    size_t page = la.page_bytes;
    guard.slot_bytes = LA_GUARD_SLOT_PAGES * page;
    guard.stride = guard.slot_bytes + page;
    size_t pool_bytes = page + LA_GUARD_SLOTS * guard.stride;
    size_t meta_bytes = LA_ALIGN_UP(LA_GUARD_SLOTS * sizeof(slot_t), page);
    char *pool = os_reserve(pool_bytes);
    slot_t *slots = os_map(meta_bytes);
    if (pool == NULL || slots == NULL) {
        log_printf("liballocator: ALLOCATOR_GUARD_SAMPLE: no address space for the guard "
                   "pool; guard pages off\n");
        if (pool != NULL)
            os_unmap(pool, pool_bytes);
        if (slots != NULL)
            os_unmap(slots, meta_bytes);
        return false;
    }
    guard.slots = slots;
    guard.pool = pool;
    guard.pool_bytes = pool_bytes;
    guard.first = pool + page;
    for (uint32_t i = 0; i < LA_GUARD_SLOTS; i++)
        guard.free_list[i] = LA_GUARD_SLOTS - 1 - i; // slot 0 first
    guard.nfree = LA_GUARD_SLOTS;
    guard.interval = n;
    void *frames[LA_GUARD_FRAMES];
    prof_capture(frames, LA_GUARD_FRAMES, NULL);
    return true;
}

// From prof.c's constructor, before the program's constructors and main,
// outside every lock: the pool is reserved, the unwinder walks once (its
// first walk may set itself up), and the SIGSEGV handler goes in (after
// any handler a library constructor that ran earlier installed, which it
// chains to).  True if the sampler is on; prof.c then turns the hook on.
// The handler also goes in for checking mode's guard pages after large
// blocks (large.c), with the sampler off.
LA_HOT_TEXT bool guard_init(void)
{
    size_t n = la.options.guard_sample;
    // Checking mode's guard pages after large blocks (large.c) report
    // through the same handler, sampler or not.
    bool large = large_guarded();
    if (n != 0 && la.valgrind) { // memcheck watches every byte already
        log_printf("liballocator: ALLOCATOR_GUARD_SAMPLE is off under Valgrind\n");
        n = 0;
    }
    if (n != 0 && !pool_init(n))
        n = 0;
    if (n == 0 && !large)
        return false;
    if (!os_on_fault(on_fault)) {
        log_printf("liballocator: no SIGSEGV handler; guard pages %s\n",
                   large ? "will not be named" : "off");
        return false;
    }
    if (n == 0)
        return false;
    // The start first: while the size is 0, guard_owns() is false.
    la_store_relaxed(&la.guard_pool, (uintptr_t)guard.pool);
    __atomic_store_n(&la.guard_pool_bytes, guard.pool_bytes, __ATOMIC_RELEASE);
    return true;
}
