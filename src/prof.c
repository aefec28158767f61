// SPDX-License-Identifier: MIT
/*
 * prof.c: the sampling heap profiler (issue 16).  With ALLOCATOR_PROF set,
 * preload/ routes the exported malloc family here; each allocation counts
 * its bytes down a per-thread countdown drawn from an exponential
 * distribution (mean: the interval), and the one that takes it to zero is
 * sampled: its call stack (libgcc's unwinder, no allocation) goes into a
 * stack table and the block into a sample table, and its check word gets
 * LA_CHECK_PROF, so that its free misses the thread-cache fast path and
 * la_validate calls prof_forget.  A sample of s bytes stands for s / p
 * bytes and 1 / p objects, p = 1 - exp(-s / interval) being the chance
 * that an allocation of s bytes is sampled (interval 1: every one, p = 1).
 * realloc counts only the bytes a resize adds, and a sampled block keeps
 * its sample through its resizes (the rules are above prof_realloc).
 *
 * Tables are mapped once (os_map, bounded by config.h) and guarded by
 * la.prof_lock, taken after every other allocator lock (lock.c's fork
 * handler); stacks are walked before it is taken (the stack cache's
 * lookup takes it alone, from the unwinder's callback, which holds none
 * of ours).  Output (at exit, on
 * mem_prof_dump and on ALLOCATOR_PROF_SIGNAL) is written with write(2):
 * no stdio, no malloc.
 *
 * The entry points here are the exported family's sampling hook, shared
 * with the guard sampler (guard.c, issue 15): a second per-thread
 * countdown, in allocations, picks the blocks that get guard pages.  With
 * both off the family pays one compare and branch of la.sampling per
 * allocation and nothing per free.
 */
#include <errno.h>
#include <string.h>
#include <unwind.h>

#include "tcache.h"

typedef struct {
    uint64_t hash;
    uint32_t next;       // next stack in the bucket, index + 1 (0: none)
    uint32_t depth;
    double live_bytes, live_objs;   // estimated, of the samples alive now
    double total_bytes, total_objs; // estimated, of every sample taken
    void *frames[LA_PROF_MAX_FRAMES];
} prof_stack_t;

typedef struct {
    const void *addr;    // the payload; NULL while the record is free
    uint32_t next;       // next sample in the bucket or the free list, index + 1
    uint16_t stack;      // index into the stack table
    // The block's twin, the one it would be had it not been sampled
    // (prof_realloc): the slot size of a slab slot, 0 for a block with a
    // header.  A sampled block has a header whatever its twin.
    uint16_t twin_slot;
    double bytes, objs;  // what this sample stands for: req / chance, 1 / chance
} prof_sample_t;
_Static_assert(LA_PROF_MAX_STACKS <= 65536 && LA_SLAB_MAX_BYTES < 65536,
               "prof_sample_t's 16-bit fields");

// The stack cache: a stack walked once, from a caller's frame at a given
// place on a thread's stack, is known again without the unwinder if the
// return addresses it found are still in their slots (x86-64: a frame's
// return address is the word below its callee's CFA).  The frames above
// sit where their callees' frame sizes put them; a frame that changes its
// size (alloca) and still finds the old return addresses where it moved
// would be taken for the same stack: stale words equal to the return
// addresses at every level, not expected in practice.  A hit reads those
// slots (on the thread's own stack, above its frame: mapped) instead of
// unwinding every frame above the caller (about a thousand instructions
// each).  Only the thread that walked it uses an entry: a stack slot of
// another thread's could lie past this one's stack.
typedef struct {
    const void *thread;   // &prof_tls of the thread that walked it
    void *ip0;            // the caller
    uintptr_t cfa0;       // the caller's frame
    uint32_t stack;       // stack index + 1 (0: an empty entry)
    uint32_t depth;
    // The unwinder's CFA at each frame: that of the frame below it (its
    // callee), so that frame i's return address is at cfas[i] - 8.
    uintptr_t cfas[LA_PROF_MAX_FRAMES];
} prof_cached_t;

// Buckets of the sample table at most: about four samples a chain when it
// is full.  Powers of two, like every table size here (a table of n
// buckets takes a hash's low bits, hash & (n - 1)).
#define PROF_SAMPLE_BUCKETS (LA_PROF_MAX_SAMPLES / 4)
_Static_assert(LA_IS_POW2(PROF_SAMPLE_BUCKETS) && LA_IS_POW2(LA_PROF_MAX_STACKS) &&
                   LA_IS_POW2(LA_PROF_STACK_CACHE) && LA_IS_POW2(LA_PROF_TABLE_MIN_ENTRIES) &&
                   LA_IS_POW2(LA_PROF_STACK_CACHE_MIN) &&
                   LA_PROF_STACK_CACHE_MIN <= LA_PROF_STACK_CACHE &&
                   LA_PROF_TABLE_MIN_ENTRIES <= LA_PROF_MAX_STACKS,
               "the profiler's table sizes");

/*
 * The profiler's memory is one mapping (prof_init), touched as it is used,
 * so that what is resident follows what the profiler holds (issue 16):
 * records are handed out from the start of their arrays, and each hash
 * table (sample buckets, stack buckets, the stack cache) uses the first n
 * entries of its room, n doubling from LA_PROF_TABLE_MIN_ENTRIES
 * (LA_PROF_STACK_CACHE_MIN) as the table fills.  A bucket table doubles in place: the entries of bucket i
 * whose hash has the bit n set move to bucket i + n, untouched until then
 * (grow_samples, grow_stacks).  The stack cache just widens its index:
 * an entry found at the wrong place is never matched (its key is
 * checked) and is overwritten in time.
 */
static struct {
    uint32_t *sample_buckets;
    uint32_t sample_nbuckets; // in use, a power of two (0 before prof_init)
    uint32_t stack_nbuckets;
    uint32_t cache_entries;   // the stack cache's in use, a power of two
    uint32_t cache_evicted;   // stores that evicted an entry since it grew
    prof_sample_t *samples;
    uint32_t samples_used;  // records ever handed out (high-water mark)
    uint32_t sample_free;   // freed records, index + 1
    uint32_t live;          // samples alive now
    uint32_t *stack_buckets;
    prof_stack_t *stacks;
    uint32_t stacks_used;
    prof_cached_t *cache;   // LA_PROF_STACK_CACHE entries, direct-mapped
    // Samples in the table per address hash (marks_of): a block whose
    // count is 0 carries no sample, which prof_realloc learns without
    // reading the block's check word (one load instead of about 15
    // instructions).  Written under prof_lock, read without it (a block's
    // own count cannot drop to 0 while its owner resizes it).  16 bits:
    // 65,536 live samples on one counter would wrap it, and a sampled
    // block resized through the common path loses its sample (no harm
    // but to the estimate).
    uint16_t *marks;
    size_t cache_hits;      // samples whose stack the cache knew
    size_t dropped;         // samples the full tables could not take
    size_t sampled;         // samples ever taken
    size_t interval;        // mean bytes between samples (1: every allocation)
    size_t mapped_bytes;
    uint64_t seq;           // draws so far (atomic), for the random numbers
} prof;

// The sampling hook's countdowns, one TLS struct per thread.  prof: bytes
// until the next profile sample (due when a request of at least as many
// bytes comes) while the profiler alone is on, and 0 otherwise, so that
// the fast checks of it (malloc's, realloc's, count_down's) fail and the
// slow path counts: both: the profiler's countdown with both samplers on.
// guard: allocations until the next guarded one (due when it is at most
// 1).  All 0 before the thread's first allocation, which draws them; the
// guard countdown is INT64_MAX while its sampler is off.  A countdown that
// fired stays at INT64_MAX until it is drawn again, so that allocations
// made meanwhile (the unwinder's, a signal handler's) are neither sampled
// nor guarded.  With the profiler alone on, malloc's path reads and
// writes prof only (prof_malloc_past).
//
// resizing, stash: prof_realloc names the block it passes to la_realloc;
// if it is sampled, prof_forget (from la_validate) takes its record out
// of the table into stash (index + 1) instead of freeing it, and the
// record follows the block to its new address.
typedef struct {
    uint64_t prof;
    uint64_t guard;
    uint64_t both;
    const void *resizing;
    uint32_t stash;
} prof_tls_t;

static __thread prof_tls_t prof_tls __attribute__((tls_model("initial-exec")));

/* ---- numbers ------------------------------------------------------------- */

// libm is not linked: log and expm1 to about 1e-12, enough for weights.
static double prof_log(double x) // x > 0
{
    int e = 0;
    while (x >= 2.0) {
        x *= 0.5;
        e++;
    }
    while (x < 1.0) {
        x *= 2.0;
        e--;
    }
    // x in [1, 2): z below 1/3, each term under a ninth of the last; the
    // loop stops when the terms no longer change the sum (about 13
    // rounds; it ran 20 with a division each, at every sample).
    double z = (x - 1.0) / (x + 1.0), z2 = z * z, term = z, sum = 0.0;
    for (int k = 1; k < 40; k += 2) {
        double add = term / k;
        if (add <= sum * 1e-17)
            break;
        sum += add;
        term *= z2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

// 1 - exp(-x), x >= 0, without cancellation for small x.
static double prof_one_minus_exp_neg(double x)
{
    if (x > 40.0)
        return 1.0;
    if (x <= 0.5) {
        // The terms fall by x / k at least: a sample's x (its size over
        // the interval) is mostly far below 1, and a few rounds do.
        double term = x, sum = 0.0;
        for (int k = 1; k < 30; k++) {
            sum += term;
            term *= -x / (k + 1);
            if (__builtin_fabs(term) <= sum * 1e-17)
                break;
        }
        return sum;
    }
    int k = 0;
    while (x > 0.5) {
        x *= 0.5;
        k++;
    }
    double e = 1.0 - prof_one_minus_exp_neg(x); // exp(-x) for the reduced x
    while (k-- > 0)
        e *= e;
    return 1.0 - e;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

// 64 random bits: the process key, a draw counter and the thread.
uint64_t prof_random(void)
{
    uint64_t n = __atomic_fetch_add(&prof.seq, 1, __ATOMIC_RELAXED);
    return mix64(la.key ^ mix64(n) ^ (uintptr_t)&prof_tls);
}

// Bytes to the next sample: exponential with mean prof.interval; 1 when
// every allocation is sampled.
static int64_t draw_countdown(void)
{
    if (prof.interval <= 1)
        return 1;
    uint64_t r = prof_random();
    double u = ((double)(r >> 11) + 1.0) / 9007199254740992.0; // (0, 1]
    double bytes = -prof_log(u) * (double)prof.interval;
    if (bytes > 1e15)
        bytes = 1e15;
    return (int64_t)bytes + 1;
}

/* ---- stacks ------------------------------------------------------------- */

typedef struct {
    void *caller;   // the return address of the exported function
    void **frames;
    uintptr_t *cfas; // each frame's CFA, for the stack cache (NULL: not kept)
    unsigned max;   // frames wanted
    unsigned depth;
    unsigned seen;  // frames walked before caller turned up
    uint32_t hit;   // the stack cache's answer: a stack index + 1
    bool started;
} walk_t;

static uint32_t cache_lookup(void *ip0, uintptr_t cfa0);

static _Unwind_Reason_Code walk_frame(struct _Unwind_Context *ctx, void *arg)
{
    walk_t *w = arg;
    void *ip = (void *)_Unwind_GetIP(ctx);
    if (!w->started) {
        // Our own frames are skipped; if the caller never turns up (a
        // frame the unwinder cannot see), the walk is kept from the top.
        if (ip != w->caller && w->seen < w->max) {
            w->frames[w->seen++] = ip;
            return _URC_NO_REASON;
        }
        w->started = true;
        if (w->cfas != NULL && ip != NULL) {
            // The caller's frame: the rest of the stack may be known.
            w->hit = cache_lookup(ip, (uintptr_t)_Unwind_GetCFA(ctx));
            if (w->hit != 0)
                return _URC_END_OF_STACK;
        }
    }
    if (ip == NULL)
        return _URC_END_OF_STACK;
    if (w->cfas != NULL)
        w->cfas[w->depth] = (uintptr_t)_Unwind_GetCFA(ctx);
    w->frames[w->depth++] = ip;
    return w->depth == w->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

// After the walk: the frames kept when the caller never turned up.
static unsigned walk_end(walk_t *w)
{
    if (!w->started) {
        w->depth = w->seen; // the top of the walk, ours included
        if (w->depth == 0)
            w->frames[w->depth++] = w->caller;
    }
    return w->depth;
}

// Up to max return addresses from the caller outwards.  Also the guard
// sampler's (guard.c).
unsigned prof_capture(void **frames, unsigned max, void *caller)
{
    walk_t w = {.caller = caller, .frames = frames, .max = max};
    _Unwind_Backtrace(walk_frame, &w);
    return walk_end(&w);
}

// A sample's call stack, walked where it is declared (trace_here is
// inlined into the entry points, so that the unwinder walks no more of
// our frames than the one: about a thousand instructions each).
typedef struct {
    unsigned depth;
    uint32_t hit;   // the stack cache's stack index + 1: frames unused
    bool cacheable; // the walk found the caller: cfas may go in the cache
    void *frames[LA_PROF_MAX_FRAMES];
    uintptr_t cfas[LA_PROF_MAX_FRAMES];
} prof_trace_t;

// sp0: the caller's stack pointer at its call (the word below it holds
// caller), 0 if not known.  With it, a stack the cache knows costs no
// unwinding at all (the unwinder's first steps, itself and our frame,
// cost about 5,000 instructions).
static inline __attribute__((always_inline)) void trace_here(prof_trace_t *tr, void *caller,
                                                             uintptr_t sp0)
{
    tr->hit = sp0 != 0 ? cache_lookup(caller, sp0) : 0;
    if (tr->hit != 0) {
        tr->cacheable = false;
        tr->depth = 0;
        return;
    }
    walk_t w = {.caller = caller, .frames = tr->frames, .cfas = tr->cfas,
                .max = LA_PROF_MAX_FRAMES};
    _Unwind_Backtrace(walk_frame, &w);
    tr->cacheable = w.started && w.hit == 0;
    tr->hit = w.hit;
    tr->depth = walk_end(&w);
}

// The caller's stack pointer at its call, for trace_here: known in an
// entry point the exported function reached by a jump (then its return
// address, above our frame pointer, is the caller); 0 otherwise.  The
// frame address makes gcc keep a frame pointer in the function.
#if defined(__x86_64__)
#define CALLER_SP(caller) caller_sp(__builtin_frame_address(0), caller)
static inline __attribute__((always_inline)) uintptr_t caller_sp(void *fp, void *caller)
{
    void **frame = fp;
    return frame[1] == caller ? (uintptr_t)(frame + 2) : 0;
}
#else
#define CALLER_SP(caller) ((void)(caller), (uintptr_t)0)
#endif

static uint64_t hash_frames(void *const *frames, unsigned depth)
{
    uint64_t h = depth;
    for (unsigned i = 0; i < depth; i++)
        h = mix64(h ^ (uintptr_t)frames[i]);
    return h;
}

// Doubles a table of n bucket heads in place (the comment above prof):
// each chain of bucket i is split between i and i + n, by the hash bit n
// of each record, in its order.  Records are numbered from 1 (0 ends a
// chain); next(k) is record k's link, moves(k, n) whether it goes to
// i + n.  Serves the stack and the sample tables.  Under prof_lock.
static void split_buckets(uint32_t *buckets, uint32_t n, uint32_t *(*next)(uint32_t k),
                          bool (*moves)(uint32_t k, uint32_t n))
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t stay = 0, move = 0;
        for (uint32_t k = buckets[i]; k != 0;) {
            uint32_t *link = next(k), after = *link;
            uint32_t *to = moves(k, n) ? &move : &stay;
            *link = *to;
            *to = k;
            k = after;
        }
        buckets[i] = stay;
        buckets[i + n] = move;
    }
}

static uint32_t *stack_next(uint32_t k) { return &prof.stacks[k - 1].next; }
static bool stack_moves(uint32_t k, uint32_t n) { return (prof.stacks[k - 1].hash & n) != 0; }

// Doubles the stack buckets.  Under prof_lock.
static void grow_stacks(void)
{
    split_buckets(prof.stack_buckets, prof.stack_nbuckets, stack_next, stack_moves);
    prof.stack_nbuckets *= 2;
}

// Doubles the stack cache's index (the comment above prof).  Under
// prof_lock.
static void grow_cache(void)
{
    if (prof.cache_entries < LA_PROF_STACK_CACHE) {
        prof.cache_entries *= 2;
        prof.cache_evicted = 0;
    }
}

// The stack's index, added if new; UINT32_MAX when the table is full.
// Under prof_lock.
static uint32_t stack_intern(void *const *frames, unsigned depth)
{
    uint64_t h = hash_frames(frames, depth);
    uint32_t *bucket = &prof.stack_buckets[h & (prof.stack_nbuckets - 1)];
    for (uint32_t i = *bucket; i != 0; i = prof.stacks[i - 1].next) {
        prof_stack_t *s = &prof.stacks[i - 1];
        if (s->hash != h || s->depth != depth)
            continue;
        unsigned k = 0;
        while (k < depth && s->frames[k] == frames[k])
            k++;
        if (k == depth)
            return i - 1;
    }
    if (prof.stacks_used == LA_PROF_MAX_STACKS)
        return UINT32_MAX;
    uint32_t idx = prof.stacks_used++;
    prof_stack_t *s = &prof.stacks[idx];
    s->hash = h;
    s->depth = depth;
    for (unsigned k = 0; k < depth; k++)
        s->frames[k] = frames[k];
    s->next = *bucket;
    *bucket = idx + 1;
    if (prof.stacks_used > LA_PROF_BUCKET_LOAD * prof.stack_nbuckets &&
        prof.stack_nbuckets < LA_PROF_MAX_STACKS)
        grow_stacks();
    if (prof.stacks_used * 2 > prof.cache_entries)
        grow_cache();
    return idx;
}

static prof_cached_t *cache_entry(void *ip0, uintptr_t cfa0)
{
    uint64_t h = mix64((uintptr_t)ip0 ^ mix64(cfa0 ^ (uintptr_t)&prof_tls));
    return &prof.cache[h & (prof.cache_entries - 1)];
}

// The stack index + 1 the cache knows for the caller ip0 whose frame is
// cfa0 on this thread, if every return address above it is where it was
// (0 otherwise).  From the unwinder's callback: takes prof_lock.
static uint32_t cache_lookup(void *ip0, uintptr_t cfa0)
{
#if defined(__x86_64__)
    uint32_t hit = 0;
    lock_acquire(&la.prof_lock);
    prof_cached_t *e = cache_entry(ip0, cfa0);
    if (e->stack != 0 && e->ip0 == ip0 && e->cfa0 == cfa0 && e->thread == &prof_tls) {
        void *const *frames = prof.stacks[e->stack - 1].frames;
        unsigned i = 1;
        while (i < e->depth && *(void *const *)(e->cfas[i] - sizeof(void *)) == frames[i])
            i++;
        if (i == e->depth) {
            hit = e->stack;
            prof.cache_hits++;
        }
    }
    lock_release(&la.prof_lock);
    return hit;
#else
    (void)ip0;
    (void)cfa0;
    return 0;
#endif
}

// Keeps a stack just walked (si: its index) for the next sample from the
// same place.  Only a walk whose frames sit in order up the stack.  Under
// prof_lock.
static void cache_store(const prof_trace_t *tr, uint32_t si)
{
    if (!tr->cacheable || tr->depth == 0)
        return;
    for (unsigned i = 0; i < tr->depth; i++)
        if (tr->cfas[i] % sizeof(void *) != 0 || (i > 0 && tr->cfas[i] <= tr->cfas[i - 1]))
            return;
    prof_cached_t *e = cache_entry(tr->frames[0], tr->cfas[0]);
    if (e->stack != 0 && ++prof.cache_evicted >= prof.cache_entries) {
        grow_cache();
        e = cache_entry(tr->frames[0], tr->cfas[0]);
    }
    e->thread = &prof_tls;
    e->ip0 = tr->frames[0];
    e->cfa0 = tr->cfas[0];
    e->depth = tr->depth;
    memcpy(e->cfas, tr->cfas, tr->depth * sizeof tr->cfas[0]);
    e->stack = si + 1;
}

// p's count in prof.marks.
static inline __attribute__((always_inline)) uint16_t *marks_of(const void *p)
{
    return &prof.marks[((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15u >> (64 - LA_PROF_MARK_BITS)];
}

/* ---- samples ------------------------------------------------------------ */

static uint32_t *sample_bucket(const void *addr)
{
    return &prof.sample_buckets[mix64((uintptr_t)addr) & (prof.sample_nbuckets - 1)];
}

static uint32_t *sample_next(uint32_t k) { return &prof.samples[k - 1].next; }
static bool sample_moves(uint32_t k, uint32_t n)
{
    return (mix64((uintptr_t)prof.samples[k - 1].addr) & n) != 0;
}

// Doubles the sample buckets.  A record prof_realloc holds
// (prof_tls_t.stash) is in no bucket and goes into the new ones when
// insert_record links it again.  Under prof_lock.
static void grow_samples(void)
{
    split_buckets(prof.sample_buckets, prof.sample_nbuckets, sample_next, sample_moves);
    prof.sample_nbuckets *= 2;
}

// The chance that an allocation of req bytes is sampled: 1 - exp(-req /
// interval); 1 with every allocation sampled.
static double chance_of(size_t req)
{
    if (prof.interval <= 1)
        return 1.0;
    return prof_one_minus_exp_neg((double)req / (double)prof.interval);
}

// The slot size of the block malloc(req) would have made without the
// profiler (prof_sample_t.twin_slot): a slab slot up to the slab classes.
static uint16_t twin_slot_of(size_t req)
{
    return req <= LA_SLAB_MAX_BYTES ? (uint16_t)la_sizeclasses[sizeclass_of(req)].size : 0;
}

// The twin of a slot of `slot` bytes that realloc grew past it to req: the
// slot of req's class, or a block with a header from
// LA_REALLOC_HEAP_FROM_BYTES on (alloc.c realloc_slot).
static uint16_t twin_grown_from(size_t slot, size_t req)
{
    return slot >= LA_REALLOC_HEAP_FROM_BYTES ? 0 : twin_slot_of(req);
}

// Links record k (index + 1) into the bucket of p, and marks p's block.
// Under prof_lock.  The block is ours until it is returned: nobody else
// reads its check.
static void insert_record(uint32_t k, void *p)
{
    prof_sample_t *s = &prof.samples[k - 1];
    s->addr = p;
    uint32_t *bucket = sample_bucket(p);
    s->next = *bucket;
    *bucket = k;
    la_store_relaxed(marks_of(p), (uint16_t)(*marks_of(p) + 1));
    blk_from_payload(p)->check ^= LA_CHECK_PROF;
}

// Gives record k back to the free list and takes what it stood for off
// its stack.  Under prof_lock; the record is in no bucket.
static void free_record(uint32_t k)
{
    prof_sample_t *s = &prof.samples[k - 1];
    prof_stack_t *st = &prof.stacks[s->stack];
    st->live_bytes -= s->bytes;
    st->live_objs -= s->objs;
    s->addr = NULL;
    s->next = prof.sample_free;
    prof.sample_free = k;
    prof.live--;
}

static LA_NOINLINE void take_sample(void *p, size_t req, const prof_trace_t *tr,
                                    uint16_t twin_slot)
{
    double chance = chance_of(req);
    double objs = 1.0 / chance, bytes = (double)req / chance;
    lock_acquire(&la.prof_lock);
    prof.sampled++;
    uint32_t si = tr->hit - 1;
    if (tr->hit == 0) {
        si = stack_intern(tr->frames, tr->depth);
        if (si != UINT32_MAX)
            cache_store(tr, si);
    }
    uint32_t k = prof.sample_free;
    if (k != 0)
        prof.sample_free = prof.samples[k - 1].next;
    else if (prof.samples_used < LA_PROF_MAX_SAMPLES)
        k = ++prof.samples_used;
    if (si == UINT32_MAX || k == 0) {
        if (k != 0) { // give the record back
            prof.samples[k - 1].next = prof.sample_free;
            prof.sample_free = k;
        }
        prof.dropped++;
        lock_release(&la.prof_lock);
        return;
    }
    prof_sample_t *s = &prof.samples[k - 1];
    *s = (prof_sample_t){.stack = (uint16_t)si, .bytes = bytes, .objs = objs, .twin_slot = twin_slot};
    insert_record(k, p);
    prof.live++;
    if (prof.live > LA_PROF_BUCKET_LOAD * prof.sample_nbuckets &&
        prof.sample_nbuckets < PROF_SAMPLE_BUCKETS)
        grow_samples();
    prof_stack_t *st = &prof.stacks[si];
    st->live_bytes += bytes;
    st->live_objs += objs;
    st->total_bytes += bytes;
    st->total_objs += objs;
    lock_release(&la.prof_lock);
}

void prof_forget(la_block_t *b)
{
    const void *p = blk_payload(b);
    prof_tls_t *t = &prof_tls;
    lock_acquire(&la.prof_lock);
    if (prof.sample_buckets != NULL) {
        for (uint32_t *link = sample_bucket(p); *link != 0; link = &prof.samples[*link - 1].next) {
            prof_sample_t *s = &prof.samples[*link - 1];
            if (s->addr != p)
                continue;
            uint32_t k = *link;
            *link = s->next;
            la_store_relaxed(marks_of(p), (uint16_t)(*marks_of(p) - 1));
            if (t->resizing == p) // prof_realloc's: the record waits for the new address
                t->stash = k;
            else
                free_record(k);
            break;
        }
    }
    b->check = la_check_word(blk_hash_now(b), b->req);
    lock_release(&la.prof_lock);
}

/* ---- output ------------------------------------------------------------- */

typedef struct {
    int fd; // -1: stderr through os_write_stderr
    size_t len;
    char buf[LA_PROF_WRITE_BUFFER];
} writer_t;

static void w_flush(writer_t *w)
{
    if (w->fd < 0)
        os_write_stderr(w->buf, w->len);
    else
        os_write_fd(w->fd, w->buf, w->len);
    w->len = 0;
}

// One line (shorter than a quarter of the buffer) at a time.
static void w_printf(writer_t *w, const char *fmt, ...) LA_PRINTF(2, 3);
static void w_printf(writer_t *w, const char *fmt, ...)
{
    if (w->len > sizeof w->buf * 3 / 4)
        w_flush(w);
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    size_t n = log_format(w->buf + w->len, sizeof w->buf - w->len, fmt, ap);
    __builtin_va_end(ap);
    w->len += LA_MIN(n, sizeof w->buf - w->len - 1);
}

static size_t rounded(double x) { return x <= 0.0 ? 0 : (size_t)(x + 0.5); }

// The file name: ALLOCATOR_PROF_FILE or the default, %p replaced by the pid.
static void profile_path(char *out, size_t cap)
{
    const char *tmpl = os_getenv("ALLOCATOR_PROF_FILE");
    if (tmpl == NULL || tmpl[0] == '\0')
        tmpl = "liballocator.%p.prof";
    size_t n = 0;
    for (const char *s = tmpl; *s != '\0' && n + 24 < cap; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            char digits[16];
            unsigned pid = (unsigned)os_getpid(), k = 0;
            do
                digits[k++] = (char)('0' + pid % 10);
            while ((pid /= 10) != 0 && k < sizeof digits);
            while (k > 0)
                out[n++] = digits[--k];
            s++;
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

// What every call site still holds: estimated bytes and objects, and the
// number of sites with any.  Under prof_lock.
static void live_totals(double *bytes, double *objs, size_t *sites)
{
    *bytes = *objs = 0;
    *sites = 0;
    for (uint32_t i = 0; i < prof.stacks_used; i++) {
        *bytes += prof.stacks[i].live_bytes;
        *objs += prof.stacks[i].live_objs;
        *sites += rounded(prof.stacks[i].live_objs) > 0;
    }
}

// Writes the profile into fd; under prof_lock.
static void write_profile(int fd)
{
    writer_t w = {.fd = fd, .len = 0};
    double live_bytes, live_objs;
    size_t sites;
    live_totals(&live_bytes, &live_objs, &sites);
    w_printf(&w, "liballocator heap profile 1\n");
    w_printf(&w, "pid %d\ninterval_bytes %zu\nmax_frames %d\n", os_getpid(), prof.interval,
             LA_PROF_MAX_FRAMES);
    w_printf(&w, "samples_taken %zu\nsamples_live %u\nsamples_dropped %zu\n", prof.sampled,
             prof.live, prof.dropped);
    w_printf(&w, "stacks_cached %zu\n", prof.cache_hits);
    w_printf(&w, "live_bytes %zu\nlive_objects %zu\nlive_sites %zu\n", rounded(live_bytes),
             rounded(live_objs), sites);
    // One line per call stack: estimates of what is alive now and of what
    // was allocated since the start, then the return addresses, innermost
    // first.
    w_printf(&w, "--- sites: live_bytes live_objects total_bytes total_objects @ frames\n");
    for (uint32_t i = 0; i < prof.stacks_used; i++) {
        prof_stack_t *s = &prof.stacks[i];
        w_printf(&w, "%zu %zu %zu %zu @", rounded(s->live_bytes), rounded(s->live_objs),
                 rounded(s->total_bytes), rounded(s->total_objs));
        for (unsigned k = 0; k < s->depth; k++)
            w_printf(&w, " %p", s->frames[k]);
        w_printf(&w, "\n");
    }
    // The mappings, to resolve the addresses after the run.
    w_printf(&w, "--- maps\n");
    w_flush(&w);
    int maps = os_open_read("/proc/self/maps");
    if (maps >= 0) {
        long n;
        while ((n = os_read(maps, w.buf, sizeof w.buf)) > 0)
            os_write_fd(fd, w.buf, (size_t)n);
        os_close(maps);
    }
}

static int dump_to(const char *path)
{
    if (!__atomic_load_n(&la.prof_on, __ATOMIC_ACQUIRE))
        return -1;
    int fd = os_open_write(path);
    if (fd < 0)
        return -1;
    // Writes under the lock: frees of sampled blocks wait for the dump.
    lock_acquire(&la.prof_lock);
    write_profile(fd);
    lock_release(&la.prof_lock);
    os_close(fd);
    return 0;
}

int mem_prof_dump(const char *path)
{
    char buf[512];
    if (path == NULL) {
        profile_path(buf, sizeof buf);
        path = buf;
    }
    if (dump_to(path) != 0) {
        errno = __atomic_load_n(&la.prof_on, __ATOMIC_ACQUIRE) ? EIO : ENOENT;
        return -1;
    }
    return 0;
}

// ALLOCATOR_PROF_LEAKS: the call sites still holding memory at exit, the
// largest first, on stderr.  Under prof_lock.
static void leak_report(const char *path)
{
    writer_t w = {.fd = -1, .len = 0};
    double bytes, objs;
    size_t sites;
    live_totals(&bytes, &objs, &sites);
    w_printf(&w, "liballocator: leak report (pid %d): %zu bytes in %zu objects still allocated "
                 "at exit, at %zu call sites (estimated from %u samples, one per %zu bytes)\n",
             os_getpid(), rounded(bytes), rounded(objs), sites, prof.live, prof.interval);
    uint32_t shown[LA_PROF_LEAK_SITES];
    unsigned nshown = 0;
    while (nshown < LA_PROF_LEAK_SITES) {
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < prof.stacks_used; i++) {
            bool seen = false;
            for (unsigned k = 0; k < nshown; k++)
                seen |= shown[k] == i;
            if (!seen && rounded(prof.stacks[i].live_objs) > 0 &&
                (best == UINT32_MAX || prof.stacks[i].live_bytes > prof.stacks[best].live_bytes))
                best = i;
        }
        if (best == UINT32_MAX)
            break;
        shown[nshown++] = best;
        prof_stack_t *s = &prof.stacks[best];
        w_printf(&w, "liballocator:   %zu bytes in %zu objects at", rounded(s->live_bytes),
                 rounded(s->live_objs));
        for (unsigned k = 0; k < s->depth && k < 6; k++)
            w_printf(&w, " %p", s->frames[k]);
        w_printf(&w, "\n");
    }
    w_printf(&w, "liballocator: resolve with: liballocator-prof --leaks %s\n", path);
    w_flush(&w);
}

// After the program's atexit handlers, like the statistics (stats.c).  A
// process that took no sample (a shell the environment passed through)
// writes nothing.
// The profile and the leak report, out of line: the destructor that every
// run calls stays a test in the first text window (src/layout.ld).
static LA_NOINLINE void write_at_exit(void)
{
    char path[512];
    profile_path(path, sizeof path);
    int fd = os_open_write(path);
    lock_acquire(&la.prof_lock);
    if (fd >= 0)
        write_profile(fd);
    if (la.options.prof_leaks)
        leak_report(fd >= 0 ? path : "(the profile could not be written)");
    lock_release(&la.prof_lock);
    if (fd >= 0)
        os_close(fd);
}

LA_HOT_TEXT __attribute__((destructor)) static void prof_at_exit(void)
{
    if (__atomic_load_n(&la.prof_on, __ATOMIC_ACQUIRE) && la_load_relaxed(&prof.sampled) != 0)
        write_at_exit();
}

/* ---- the entry points --------------------------------------------------- */

static void on_profile_signal(int signo)
{
    (void)signo;
    // Only a flag: the next allocation that takes the slow path (the next
    // sample, or any with ALLOCATOR_PROF=1b) writes the profile.
    la_store_relaxed(&la.prof_dump_pending, 1);
}

static LA_COLD void dump_pending(void)
{
    if (__atomic_exchange_n(&la.prof_dump_pending, 0, __ATOMIC_ACQ_REL)) {
        char path[512];
        profile_path(path, sizeof path);
        dump_to(path);
    }
}

#define DUE_PROF 1u
#define DUE_GUARD 2u

// Allocations to the next guarded one: uniform in 1 .. 2N - 1 (mean N).
static int64_t draw_guard(void)
{
    size_t n = guard_interval();
    if (n <= 1)
        return 1;
    return 1 + (int64_t)(prof_random() % (2 * (uint64_t)n - 1));
}

// Past a countdown: the thread's first allocation starts them, or a
// sample is due (DUE_PROF: the caller allocates past the thread cache and
// calls sampled(); DUE_GUARD: it asks guard.c for the block).  Also where
// a profile signal is answered.
static LA_NOINLINE unsigned count_down_slow(size_t req)
{
    prof_tls_t *t = &prof_tls;
    if (LA_UNLIKELY(la_load_relaxed(&la.prof_dump_pending)))
        dump_pending();
    unsigned on = (unsigned)la_load_relaxed(&la.sampling);
    uint64_t *left = on == LA_SAMPLE_PROF ? &t->prof : &t->both;
    if ((on & LA_SAMPLE_PROF) && *left == 0) // the thread's first allocation
        *left = (uint64_t)draw_countdown();
    if (t->guard == 0)
        t->guard = (on & LA_SAMPLE_GUARD) ? (uint64_t)draw_guard() : INT64_MAX;
    unsigned due = 0;
    if (!(on & LA_SAMPLE_PROF)) {
        // t->prof stays 0
    } else if (req < *left) {
        *left -= req;
    } else {
        *left = INT64_MAX;
        due |= DUE_PROF;
    }
    if (t->guard > 1) {
        t->guard--;
    } else {
        t->guard = INT64_MAX;
        due |= DUE_GUARD;
    }
    return due;
}

// The profiler's next countdown, after a sample (or a countdown that ran
// out on a block already sampled).
static void redraw(void)
{
    uint64_t next = (uint64_t)draw_countdown();
    if (la_load_relaxed(&la.sampling) == LA_SAMPLE_PROF)
        prof_tls.prof = next;
    else
        prof_tls.both = next;
}

// Counts req bytes and one allocation down; which samplers want this
// allocation (0: none).  A request that must fail counts nothing: its
// size would push the next sample away by up to 2^63 bytes.  In unsigned
// arithmetic, so that no request overflows anything.
static inline __attribute__((always_inline)) unsigned count_down(size_t req)
{
    if (LA_UNLIKELY(req > LA_MAX_REQUEST))
        return 0;
    prof_tls_t *t = &prof_tls;
    uint64_t left = t->prof, guard = t->guard;
    if (LA_LIKELY(req < left && guard > 1)) {
        t->prof = left - req;
        t->guard = guard - 1;
        return 0;
    }
    return count_down_slow(req);
}

// A sampled allocation came back: record it (if it succeeded) and draw
// the next countdown.  twin_slot: prof_sample_t's.
static LA_NOINLINE void *sampled(void *p, size_t req, const prof_trace_t *tr,
                                 uint16_t twin_slot)
{
    if (p != NULL)
        take_sample(p, req, tr, twin_slot);
    redraw();
    return p;
}

// The guard sampler's turn: a guarded block, or NULL (the pool is full,
// the request too big, or the profiler took this allocation: a sampled
// block needs a header to carry its mark, and the profile stays
// unbiased).  The next countdown is drawn after the block is made.
static LA_NOINLINE void *guarded(unsigned due, size_t req, size_t align, void *caller)
{
    void *p = (due & DUE_PROF) ? NULL : guard_alloc(req, align, caller);
    prof_tls.guard = (uint64_t)draw_guard();
    return p;
}

// Sampled blocks come from the direct path, past the thread cache: always
// a block with a header (a heap block or a large one) for the mark.
static void *headed_block(size_t req, bool zero)
{
    return la_alloc_direct(tcache_heap(), req, req, zero);
}

void *prof_malloc(size_t req, void *caller)
{
    unsigned due = count_down(req);
    if (due & DUE_GUARD) {
        void *p = guarded(due, req, ALIGNMENT, caller);
        if (p != NULL)
            return p;
    }
    if (!(due & DUE_PROF))
        return la_malloc(req);
    prof_trace_t tr;
    trace_here(&tr, caller, CALLER_SP(caller));
    return sampled(headed_block(req, false), req, &tr, twin_slot_of(req));
}

// malloc's path past its fast path (la.fast_bound is 0 while a sampler is
// on): the sampler that is on counts its countdown down, alone (bytes for
// the profiler, one allocation for the guard sampler), and the
// thread-cache fast path inlined here ends in a tail call: no frame, no
// saved register.  Both samplers on, a thread's first allocation, a
// sample due, a failing request and both samplers off (a request above
// the slab classes) go on to prof_malloc or the thread cache's
// (tcache_malloc_above: the medium bins' hit path, then the slow path).
// malloc reaches this by a jump: the return address is malloc's caller's
// (operator new's path passes its caller).
LA_HOT_TEXT void *prof_malloc_past(size_t req, void *caller)
{
    prof_tls_t *t = &prof_tls;
    // The profiler alone on, the path issue 16 measures: prof is its
    // countdown (0 otherwise, which fails the test).  A failing request's
    // size is above any countdown.
    uint64_t left = t->prof;
    if (LA_LIKELY(req < left)) {
        t->prof = left - req;
        return tcache_malloc(req);
    }
    // la.sampling is written once, before main.  Off: a request above the
    // slab classes, which pays for the test of prof first (two
    // instructions more than when la.sampling was tested first, on a path
    // of hundreds; two fewer for every malloc with the profiler on).
    unsigned on = (unsigned)la.sampling;
    if (on == 0)
        return tcache_malloc_above(req); // the medium bins' hit path first
    if (on == LA_SAMPLE_GUARD) {
        uint64_t guard = t->guard;
        if (LA_LIKELY(guard > 1)) { // a failing request counts too: harmless
            t->guard = guard - 1;
            return tcache_malloc(req);
        }
    }
    return prof_malloc(req, caller != NULL ? caller : __builtin_return_address(0));
}

void *prof_calloc(size_t nmemb, size_t size, void *caller)
{
    size_t req;
    unsigned due;
    if (__builtin_mul_overflow(nmemb, size, &req) || (due = count_down(req)) == 0)
        return la_calloc(nmemb, size);
    if (due & DUE_GUARD) {
        void *p = guarded(due, req, ALIGNMENT, caller); // fresh pages: zero
        if (p != NULL)
            return p;
    }
    if (!(due & DUE_PROF))
        return la_calloc(nmemb, size);
    prof_trace_t tr;
    trace_here(&tr, caller, CALLER_SP(caller));
    return sampled(headed_block(req, true), req, &tr, twin_slot_of(req));
}

/*
 * realloc counts the bytes a resize adds, not the whole new size: a string
 * grown 8 bytes at a time to 64 KiB once counted about 4,000 times its
 * size, and rrgrow (strings grown by realloc) ran 1.8x slower with the
 * default interval.  The estimate stays unbiased because the bytes a block
 * counts over its life are the bytes the chance of its sample is figured
 * from:
 *  - a block with a header that grows counts new req - old req; from its
 *    allocation (or last restart, below) it has counted its req, so its
 *    chance of carrying a sample is chance_of(req), as for a fresh block;
 *  - a slot that grows in place (within its slot size) counts nothing and
 *    keeps its chance; one that must move to a bigger slot or a block is a
 *    fresh allocation: it counts its whole req (a restart);
 *  - a block that shrinks restarts too (counts its whole, smaller req).
 * A sampled block keeps its sample through its resizes (the record
 * follows it to its new address, req / chance updated); at a restart the
 * sample is kept with the chance a fresh allocation would have, by a
 * coin of its own, and dropped otherwise.  Sampled blocks always have a
 * header, so the rule that applies is their twin's: the block they would
 * be without the profiler (prof_sample_t.twin_slot).  Counted bytes are
 * rules on the program's requests alone, so a sampled block counts what
 * its twin would; if the countdown runs out on a block already sampled,
 * no second sample is taken (the exponential countdown has no memory, so
 * the other blocks' chances do not change).
 */

// A block with a header for a sample: q itself, or a copy of its req
// bytes when it is a slot (or guarded: no header for the mark); NULL if
// none could be made (q is then left as it is).
static void *headed(void *q, size_t req)
{
    if (slab_of(q) == NULL && !guard_owns(q))
        return q;
    void *h = headed_block(req, false);
    if (h != NULL) {
        memcpy(h, q, req);
        la_free(q);
    }
    return h;
}

// p, sampled, went through la_realloc to q (NULL: it failed, p stands):
// record k, taken out of the table on the way, follows the block, or is
// dropped at a restart its coin loses.  old: p's req.
static LA_NOINLINE void *resized_sample(uint32_t k, void *p, void *q, size_t old, size_t req)
{
    prof_sample_t *s = &prof.samples[k - 1];
    void *at = q;
    size_t now = req;
    if (q == NULL) { // p is intact: back where it was
        at = p;
        now = old;
    }
    double chance = 1.0 / s->objs;
    uint16_t twin = s->twin_slot;
    bool keep = true;
    if (q != NULL) {
        bool restart = twin != 0 ? req > twin : req < old;
        if (restart) {
            chance = chance_of(req);
            double u = (double)(prof_random() >> 11) / 9007199254740992.0; // [0, 1)
            keep = u < chance;
            twin = twin != 0 ? twin_grown_from(twin, req) : 0;
        } else if (twin == 0) {
            chance = chance_of(req); // grown (or the same): it counted up to req
        }
        if (keep) {
            at = headed(q, req);
            if (at == NULL) { // no block with a header: q stays, unsampled
                keep = false;
                at = q;
            }
        }
    }
    lock_acquire(&la.prof_lock);
    if (keep) {
        prof_stack_t *st = &prof.stacks[s->stack];
        double bytes = (double)now / chance, objs = 1.0 / chance;
        st->live_bytes += bytes - s->bytes;
        st->live_objs += objs - s->objs;
        s->bytes = bytes;
        s->objs = objs;
        s->twin_slot = twin;
        insert_record(k, at);
    } else {
        free_record(k);
    }
    lock_release(&la.prof_lock);
    if (!keep && twin != 0 && slab_of(at) == NULL) {
        // Unsampled again, it must count what its twin would: a slot's
        // rules, so it becomes the slot.  (As a block with a header it
        // counted only what it adds, and its next restarts went missing:
        // strings grown 200 bytes at a time were estimated 5 % short.)
        void *slot = la_malloc(req);
        if (slot != NULL) {
            memcpy(slot, at, req);
            la_free(at);
            at = slot;
        }
    }
    return q == NULL ? NULL : at;
}

// A resize whose counted bytes ran the countdown out: q (p resized, not
// sampled) gets a sample with the chance of a fresh block of req bytes.
static LA_NOINLINE void *sampled_resize(void *q, size_t req, const prof_trace_t *tr,
                                        bool was_slot)
{
    // A slot that moved is a fresh allocation: its twin is where it went
    // (a bigger slot, or a block: twin_grown_from).  A block with a header
    // stays one.
    la_slab_t *to = was_slot && q != NULL ? slab_of(q) : NULL;
    uint16_t twin = to != NULL ? (uint16_t)to->size : 0;
    if (q != NULL) {
        void *h = headed(q, req);
        if (h == NULL) { // q stays, unsampled
            redraw();
            return q;
        }
        q = h;
    }
    return sampled(q, req, tr, twin);
}

// A resize that is not the common case: a countdown may run out (either
// sampler's: charge is what it counts), or p carries a sample.  old: p's
// req if it has a header.
static LA_NOINLINE void *resize_slow(void *p, size_t req, void *caller, size_t charge,
                                     bool was_slot, size_t old)
{
    unsigned due = count_down(charge);
    if (due & DUE_GUARD) {
        // The guard sampler's turn: a guarded block (a fresh one, which
        // drops p's sample if it had one), unless the profiler's is due too.
        void *q = guarded(due, req, ALIGNMENT, caller);
        if (q != NULL) {
            // The full check, which names a freed p as realloc's misuse.
            memcpy(q, p, LA_MIN(la_usable_size_slow(p, "realloc"), req));
            la_free(p);
            return q;
        }
    }
    prof_tls_t *t = &prof_tls;
    t->resizing = p;
    void *q = la_realloc(p, req);
    uint32_t k = t->stash;
    t->resizing = NULL;
    if (k != 0) {
        t->stash = 0;
        if (due & DUE_PROF) // already sampled: no second sample
            redraw();
        return resized_sample(k, p, q, old, req);
    }
    if (due & DUE_PROF) {
        prof_trace_t tr;
        trace_here(&tr, caller, CALLER_SP(caller));
        return sampled_resize(q, req, &tr, was_slot);
    }
    return q;
}

void *prof_realloc(void *p, size_t req, void *caller)
{
    if (p == NULL)
        return prof_malloc(req, caller);
    if (req == 0 || req > LA_MAX_REQUEST)
        return la_realloc(p, req); // freed (its sample dropped), or fails
    // What the resize counts (the rules above).  The header is read
    // unchecked: la_realloc checks it, and what was read here is used only
    // if it returns.  Blocks above 4 GiB, whose header's req is cut,
    // restart.
    la_slab_t *s = slab_of(p);
    size_t charge, old = 0;
    if (s != NULL) {
        charge = req <= s->size ? 0 : req; // a slot: never sampled
    } else if (guard_owns(p) || (uintptr_t)p % ALIGNMENT != 0) {
        charge = req;
    } else {
        old = blk_req(blk_from_payload(p));
        charge = req >= old && req <= UINT32_MAX ? req - old : req;
    }
    // count_down's fast half: its slow half is resize_slow's, so that
    // nothing here is called but by a jump (no frame, no saved register).
    // prof is 0 unless the profiler alone is on (then prof.marks exists).
    prof_tls_t *t = &prof_tls;
    uint64_t left = t->prof;
    if (LA_LIKELY(charge < left)) {
        if (LA_LIKELY(s != NULL || la_load_relaxed(marks_of(p)) == 0)) {
            t->prof = left - charge;
            return la_realloc(p, req);
        }
    }
    return resize_slow(p, req, caller, charge, s != NULL, old);
}

void *prof_aligned(size_t align, size_t req, void *caller)
{
    unsigned due = count_down(req);
    if (due == 0)
        return la_aligned(align, req);
    if ((due & DUE_GUARD) && LA_IS_POW2(align)) {
        void *p = guarded(due, req, LA_MAX(align, (size_t)ALIGNMENT), caller);
        if (p != NULL)
            return p;
    }
    if (!(due & DUE_PROF))
        return la_aligned(align, req);
    if (!LA_IS_POW2(align))
        return la_aligned(align, req); // EINVAL, as it says
    // A sample needs a header for its mark: la_aligned hands out slots for
    // alignments above ALIGNMENT too (alloc.c, aligned_class), so the
    // direct path makes the block; at or below it, a direct block is
    // aligned enough.
    prof_trace_t tr;
    trace_here(&tr, caller, CALLER_SP(caller));
    if (align <= ALIGNMENT)
        return sampled(headed_block(req, false), req, &tr, twin_slot_of(req));
    return sampled(la_alloc_aligned_direct(tcache_heap(), align, req), req, &tr, 0);
}

/* ---- set-up, statistics and fork ---------------------------------------- */

void prof_stats(size_t *samples, size_t *sites, size_t *table_bytes)
{
    lock_acquire(&la.prof_lock);
    *samples = prof.live;
    *sites = prof.stacks_used;
    // What the tables use of their room: the records as far as they were
    // handed out, the hash tables at their size now, the marks whole.
    *table_bytes = prof.sample_buckets == NULL
                       ? 0
                       : prof.sample_nbuckets * sizeof(uint32_t) +
                             prof.stack_nbuckets * sizeof(uint32_t) +
                             prof.samples_used * sizeof(prof_sample_t) +
                             prof.stacks_used * sizeof(prof_stack_t) +
                             prof.cache_entries * sizeof(prof_cached_t) +
                             ((size_t)1 << LA_PROF_MARK_BITS) * sizeof(uint16_t);
    lock_release(&la.prof_lock);
}

void prof_lock_all(void) { lock_acquire(&la.prof_lock); }
void prof_unlock_all(void) { lock_release(&la.prof_lock); }
void prof_after_fork_child(void) { lock_reset(&la.prof_lock); }

// The profiler's tables; true if it is on.
static bool prof_init(void)
{
    if (la.options.prof_bytes == 0)
        return false;
    prof.interval = la.options.prof_bytes;
    size_t bytes = PROF_SAMPLE_BUCKETS * sizeof(uint32_t) +
                   (size_t)LA_PROF_MAX_SAMPLES * sizeof(prof_sample_t) +
                   LA_PROF_MAX_STACKS * sizeof(uint32_t) +
                   (size_t)LA_PROF_MAX_STACKS * sizeof(prof_stack_t) +
                   LA_PROF_STACK_CACHE * sizeof(prof_cached_t) +
                   ((size_t)1 << LA_PROF_MARK_BITS) * sizeof(uint16_t);
    bytes = LA_ALIGN_UP(bytes, la.page_bytes);
    char *map = os_map(bytes); // zeroed; pages are touched as they are used
    if (map == NULL) {
        log_printf("liballocator: ALLOCATOR_PROF: no memory for the profiler's tables; "
                   "profiling off\n");
        return false;
    }
    prof.mapped_bytes = bytes;
    prof.samples = (prof_sample_t *)map;
    prof.stacks = (prof_stack_t *)(prof.samples + LA_PROF_MAX_SAMPLES);
    prof.sample_buckets = (uint32_t *)(prof.stacks + LA_PROF_MAX_STACKS);
    prof.stack_buckets = prof.sample_buckets + PROF_SAMPLE_BUCKETS;
    prof.cache = (prof_cached_t *)(prof.stack_buckets + LA_PROF_MAX_STACKS);
    prof.marks = (uint16_t *)(prof.cache + LA_PROF_STACK_CACHE);
    prof.sample_nbuckets = prof.stack_nbuckets = LA_PROF_TABLE_MIN_ENTRIES;
    prof.cache_entries = LA_PROF_STACK_CACHE_MIN;
    void *frames[LA_PROF_MAX_FRAMES];
    prof_capture(frames, LA_PROF_MAX_FRAMES, NULL);
    const char *sig = os_getenv("ALLOCATOR_PROF_SIGNAL");
    if (sig != NULL && sig[0] != '\0') {
        int signo = os_signal_number(sig);
        if (signo == 0 || !os_on_signal(signo, on_profile_signal))
            log_printf("liballocator: ALLOCATOR_PROF_SIGNAL=%s not understood (use USR1, USR2, "
                       "HUP, PROF or a number); no dump on a signal\n", sig);
    }
    if (la.options.prof_leaks)
        os_keep_stderr(true); // the report at exit must reach the user's stderr
    __atomic_store_n(&la.prof_on, 1, __ATOMIC_RELEASE);
    return true;
}

// Before the program's constructors run main, and outside every lock: the
// profiler's tables are mapped and the guard pool reserved, the unwinder
// walks once (its first walk may set itself up), and only then is the
// sampling hook turned on, for both samplers at once.  One constructor,
// so that no allocation draws a thread's countdowns while one sampler is
// on and the other not yet (the one still off would never fire in that
// thread).
__attribute__((constructor)) static void sampling_init_process(void)
{
    la_ensure_init();
    int on = (prof_init() ? LA_SAMPLE_PROF : 0) | (guard_init() ? LA_SAMPLE_GUARD : 0);
    if (on != 0)
        __atomic_store_n(&la.sampling, on, __ATOMIC_RELEASE);
    else // malloc's fast path opens; with a sampler on it stays shut
        __atomic_store_n(&la.fast_bound, (size_t)LA_SLAB_MAX_BYTES + 1, __ATOMIC_RELEASE);
}
