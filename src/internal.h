// SPDX-License-Identifier: MIT
/*
 * internal.h: the types every core file shares, the block layout and its
 * inline accessors, and the cross-file declarations (all hidden).
 *
 * Glossary
 *   block    a header plus payload inside a heap region or its own mapping.
 *   heap     an object owning free lists, a bitmap and regions; the brk heap
 *            is heap 0, the others grow in mapped regions.  Each has a lock.
 *   region   one contiguous span a heap carves blocks from; it starts with a
 *            la_region_t and ends with a fence (a header of size 0).
 *   large    a block of MMAP_THRESHOLD bytes or more in its own mapping.
 *   class    one of NUM_SIZE_CLASSES segregated free lists.
 *
 * Block layout (sizes are multiples of 16, payload is 16-aligned):
 *
 *   live:  | head: heap(8) size flags(4) | req(32) | check(32) | payload...
 *   free:  | head: heap(8) size flags(4) | next | prev | ...  | footer: size |
 *
 * The footer of a free block lets its right neighbour find it (PREV_FREE
 * says it is there).  A live block spends 16 bytes of header and no footer.
 * The check is a keyed hash of the header's address, its head word without
 * the flags (size and heap index) and req (blk_hash, la_check_word): an
 * overflow from the block before it that changes any of them, or a pointer
 * that is not a block start, fails it but with probability 2^-32 (issue
 * 12).  While the block sits in a thread cache it is the bare hash, and
 * constants are xor'ed into it once the header stops starting a block, on
 * fences and on blocks too big to cache, so a second free of either is told
 * apart from a foreign pointer.
 * The head word of a block is written only by whoever holds its heap's lock
 * (or the single thread of the mem_* calls): PREV_FREE in it changes when
 * the left neighbour is freed or reused, so lock-free readers load it with
 * la_load_relaxed().  req and check belong to whoever owns the live block.
 */
#ifndef LA_INTERNAL_H
#define LA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#include "allocator.h"

/* ---- compiler helpers --------------------------------------------------- */

#define LA_HIDDEN __attribute__((visibility("hidden")))
#define LA_LIKELY(x) __builtin_expect(!!(x), 1)
#define LA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LA_INLINE static inline __attribute__((always_inline))
#define LA_NOINLINE __attribute__((noinline))
#define LA_COLD __attribute__((noinline, cold))
// A function that a plain run calls (init, exit, the paths of malloc, free,
// calloc, realloc and a thread's cache): placed at the front of .text,
// where the default linker script puts .text.hot.* sections, so that a
// program that only allocates faults in one 64 KiB window of the text
// (src/layout.ld; test_text_window checks it).  In a cold file, it also
// keeps the function out of the cold section.
#define LA_HOT_TEXT __attribute__((section(".text.hot.la")))
#define LA_NORETURN __attribute__((noreturn))
#define LA_PRINTF(f, a) __attribute__((format(printf, f, a)))

#define LA_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LA_MAX(a, b) ((a) > (b) ? (a) : (b))
#define LA_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((size_t)(a) - 1))
#define LA_IS_POW2(x) ((x) != 0 && ((x) & ((x) - 1)) == 0)

#if defined(__x86_64__) || defined(__i386__)
#define LA_CPU_RELAX() __builtin_ia32_pause()
#else
#define LA_CPU_RELAX() ((void)0)
#endif

#define la_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define la_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

// Fields that only the calling thread writes and that other threads read
// with la_load_relaxed (statistics, a cache's room) are updated with a
// plain read of their own value and a relaxed atomic store, so that the
// readers' loads are no data race (issue 12: ThreadSanitizer reported
// dozens with mem_get_stats running concurrently).  On x86-64 that is one
// add to memory: a single aligned store, which readers see whole.  gcc 12
// and clang 14 compile the atomic store of `*p + v` as a load, an add and
// a store, which cost the fast paths 8 more instructions per malloc+free;
// so there the add is written in assembly.  ThreadSanitizer builds keep
// the C form, so that the tool checks who writes and who reads.
#if defined(__SANITIZE_THREAD__)
#define LA_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LA_TSAN 1
#endif
#endif
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__) && !defined(LA_TSAN)
#define LA_OWNED_ASM 1
#else
#define LA_OWNED_ASM 0
#endif

LA_INLINE void la_add_owned_size(size_t *p, size_t v)
{
#if LA_OWNED_ASM
    __asm__("addq %1, %0" : "+m"(*p) : "er"(v));
#else
    la_store_relaxed(p, *p + v);
#endif
}
// The same 32-bit add, which wraps (a bin's full_at counts modulo 2^32).
LA_INLINE void la_add_owned_u32(uint32_t *p, uint32_t v)
{
#if LA_OWNED_ASM
    __asm__("addl %1, %0" : "+m"(*p) : "ir"(v));
#else
    la_store_relaxed(p, *p + v);
#endif
}
// A signed 32-bit count: the same add (signed and unsigned types alias).
LA_INLINE void la_add_owned_i32(int32_t *p, int32_t v)
{
    la_add_owned_u32((uint32_t *)p, (uint32_t)v);
}
// The same 64-bit add: two's complement makes signed and unsigned agree.
LA_INLINE void la_add_owned_i64(int64_t *p, int64_t v)
{
    la_add_owned_size((size_t *)p, (size_t)v);
}
#define la_add_owned(p, v)                                                     \
    _Generic((p), size_t *: la_add_owned_size, int64_t *: la_add_owned_i64,   \
             int32_t *: la_add_owned_i32, uint32_t *: la_add_owned_u32)((p), (v))

// Internal asserts (LA_DEBUG >= 2).  The failure path allocates nothing and
// takes no lock.
#define la_assert(cond)                                                        \
    do {                                                                       \
        if (LA_DEBUG >= 2 && LA_UNLIKELY(!(cond)))                             \
            la_assert_fail(__FILE__, __LINE__, #cond);                         \
    } while (0)

/* ---- block header ------------------------------------------------------- */

// Flag bits in the low bits of the head word (sizes are multiples of 16).
#define LA_FREE      ((size_t)1) // the block is on its heap's free list
#define LA_PREV_FREE ((size_t)2) // the block to the left is free (footer valid)
#define LA_MMAPPED   ((size_t)4) // the block is its own mapping (large)
#define LA_PURGED    ((size_t)8) // free, and its pages outside dirty_lo..hi were given back
#define LA_FLAG_MASK ((size_t)15)
// The top byte of the head word is the owning heap's index.
#define LA_HEAD_HEAP_SHIFT 56
#define LA_SIZE_MASK (((size_t)1 << LA_HEAD_HEAP_SHIFT) - 1 - LA_FLAG_MASK)
// Heap index in the head of a large block (it belongs to no heap).
#define LA_HEAP_NONE 0xffu

// The requested size of a large block lives in its prefix; its req field
// holds this instead, which no thread-cache bin accepts.
#define LA_REQ_LARGE UINT32_MAX
// Check words (see blk_hash): a live block's is its hash + req + 1; a
// block in a thread cache or on a remote list has its bare hash, whatever
// its req, so that the free fast path stores the hash it just computed and
// malloc's adds req + 1 (the + 1 keeps the two apart for req 0).  These
// variants are xor'ed into the live value: a header that no longer starts
// a block (merged into a neighbour), a live block too big for any cache
// bin, and a region's fence, which is never a block to free (issue 12: an
// old fence inside a grown region passed for a live block of size 0).
#define LA_CHECK_FREED  0xf4eef4eeu
#define LA_CHECK_BIG    0x0000b160u
#define LA_CHECK_FENCE  0x5e4ce000u
// A live block the heap profiler sampled (prof.c): its free fails the fast
// check and reaches la_validate, which drops the sample (issue 16).
#define LA_CHECK_PROF   0x9f0f0000u
// A block the program freed that waits in checking mode's quarantine
// (debug.c): still a block to the heap and the walker, a freed one to
// free, realloc and malloc_usable_size (issue 15).
#define LA_CHECK_QUARANTINE 0x0a4a3e00u

typedef struct la_block {
    size_t head;
    uint32_t req;   // requested bytes (LA_REQ_LARGE for a large block)
    uint32_t check; // la_check_live(), or a variant of it
} la_block_t;

// A free block seen through its list links.  Its footer is the last word.
typedef struct la_free {
    size_t head;
    struct la_free *next;
    struct la_free *prev;
} la_free_t;

// A free block of the last class seen as a node of its heap's size-ordered
// tree (tree.c).
typedef struct la_tnode {
    size_t head;
    struct la_tnode *left, *right, *parent;
    int color;
    // With LA_PURGED: the part that may still be resident, as offsets
    // from the block; every page outside it was given back.  Equal: all
    // of it was.  Written only with LA_PURGED (heap.c).
    size_t dirty_lo, dirty_hi;
} la_tnode_t;

LA_INLINE size_t blk_head(size_t size, size_t flags, unsigned heap_index)
{
    return size | flags | (size_t)heap_index << LA_HEAD_HEAP_SHIFT;
}
// Every access to a head word goes through these two: the owner of a live
// block reads its head without the heap lock while another thread, freeing
// or taking its left neighbour under the lock, flips PREV_FREE in it.
// Relaxed atomic loads and stores are plain moves on x86; they make the
// race well defined.
LA_INLINE size_t blk_load_head(const la_block_t *b) { return la_load_relaxed(&b->head); }
LA_INLINE void blk_store_head(la_block_t *b, size_t head) { la_store_relaxed(&b->head, head); }
LA_INLINE size_t blk_size(const la_block_t *b) { return blk_load_head(b) & LA_SIZE_MASK; }
LA_INLINE void blk_set_size(la_block_t *b, size_t size)
{
    blk_store_head(b, (blk_load_head(b) & ~LA_SIZE_MASK) | size);
}
LA_INLINE bool blk_is_free(const la_block_t *b) { return (blk_load_head(b) & LA_FREE) != 0; }
LA_INLINE bool blk_prev_is_free(const la_block_t *b)
{
    return (blk_load_head(b) & LA_PREV_FREE) != 0;
}
LA_INLINE bool blk_is_mmapped(const la_block_t *b) { return (blk_load_head(b) & LA_MMAPPED) != 0; }
LA_INLINE unsigned blk_heap_index(const la_block_t *b)
{
    return (unsigned)(blk_load_head(b) >> LA_HEAD_HEAP_SHIFT);
}
LA_INLINE void *blk_payload(la_block_t *b) { return (char *)b + LA_HEADER_BYTES; }
LA_INLINE la_block_t *blk_from_payload(const void *p)
{
    return (la_block_t *)((char *)p - LA_HEADER_BYTES);
}
LA_INLINE la_block_t *blk_next(la_block_t *b) { return (la_block_t *)((char *)b + blk_size(b)); }
LA_INLINE size_t *blk_footer(la_block_t *b)
{
    return (size_t *)((char *)b + blk_size(b) - sizeof(size_t));
}
// Only valid when PREV_FREE is set: the left neighbour's footer is its size.
LA_INLINE la_block_t *blk_prev(la_block_t *b)
{
    return (la_block_t *)((char *)b - ((size_t *)b)[-1]);
}
LA_INLINE size_t blk_usable(const la_block_t *b) { return blk_size(b) - LA_HEADER_BYTES; }
LA_INLINE uint32_t blk_req(const la_block_t *b) { return b->req; }
LA_INLINE uint32_t blk_check(const la_block_t *b) { return b->check; }

// Block size needed to serve `req` payload bytes (callers add
// la.guard_bytes first in debug mode); the caller has checked
// req <= LA_MAX_REQUEST so this cannot overflow.
LA_INLINE size_t blk_size_for(size_t req)
{
    size_t s = LA_ALIGN_UP(req + LA_HEADER_BYTES, ALIGNMENT);
    return s < MIN_BLOCK_SIZE ? MIN_BLOCK_SIZE : s;
}

/* ---- locks -------------------------------------------------------------- */

// A futex word: 0 free, 1 held, 2 held with waiters.  Zero-initialised is
// unlocked, so locks in static storage need no constructor.
typedef struct {
    int word;
} la_lock_t;

LA_HIDDEN void lock_acquire_slow(la_lock_t *l);
LA_HIDDEN void lock_release_slow(la_lock_t *l);

LA_INLINE void lock_acquire(la_lock_t *l)
{
    int expected = 0;
    if (LA_UNLIKELY(!__atomic_compare_exchange_n(&l->word, &expected, 1, false,
                                                 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
        lock_acquire_slow(l);
}
LA_INLINE void lock_release(la_lock_t *l)
{
    if (LA_UNLIKELY(__atomic_exchange_n(&l->word, 0, __ATOMIC_RELEASE) == 2))
        lock_release_slow(l);
}
LA_INLINE bool lock_try(la_lock_t *l)
{
    int expected = 0;
    return __atomic_compare_exchange_n(&l->word, &expected, 1, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}
LA_INLINE void lock_reset(la_lock_t *l) { l->word = 0; }

/* ---- heaps and regions -------------------------------------------------- */

struct la_heap;

typedef enum { LA_REGION_BRK = 1, LA_REGION_MAPPED = 2 } la_region_kind_t;

// Starts every region; blocks follow it and a fence header ends it.
typedef struct la_region {
    struct la_region *next;   // the heap's regions, newest first
    struct la_heap *heap;
    char *end;                // one past the fence
    size_t bytes;             // span from the region header to end
    char *fresh;              // [fresh, end - tail guard) is still all zero
    uint32_t kind;            // la_region_kind_t
    uint32_t reserved;
} la_region_t;

LA_INLINE la_block_t *region_first(la_region_t *r) { return (la_block_t *)(r + 1); }
LA_INLINE la_block_t *region_fence(la_region_t *r)
{
    return (la_block_t *)(r->end - LA_HEADER_BYTES);
}

// Counters a heap keeps under its lock.
typedef struct {
    size_t alloc_bytes;   // requested bytes handed out
    size_t free_bytes;    // requested bytes given back
    size_t nalloc;
    size_t nfree;
    size_t splits;
    size_t coalesces;
} la_counters_t;

// Adds c into sum, field by field.  Relaxed loads: c may be a heap's
// counters that their owner updates while a snapshot reads them.
LA_INLINE void la_counters_add(la_counters_t *sum, const la_counters_t *c)
{
    sum->alloc_bytes += la_load_relaxed(&c->alloc_bytes);
    sum->free_bytes += la_load_relaxed(&c->free_bytes);
    sum->nalloc += la_load_relaxed(&c->nalloc);
    sum->nfree += la_load_relaxed(&c->nfree);
    sum->splits += la_load_relaxed(&c->splits);
    sum->coalesces += la_load_relaxed(&c->coalesces);
}

// Cache-line aligned so that heaps used by different threads do not share
// a line.
typedef struct la_heap {
    la_lock_t lock;
    uint32_t index;                       // position in la.heaps
    uint32_t bitmap;                      // bit c set iff bins[c] is non-empty
    bool is_brk;                          // grows with sbrk while it can
    bool brk_failed;                      // sbrk refused once: map from now on
    la_free_t *bins[NUM_SIZE_CLASSES];    // the last class's list stays empty:
    la_tnode_t *tree;                     // its blocks are in this tree
    // The free block above 8 KiB that ends the newest region, if any, kept
    // out of the lists and the tree (bins.c): cut and grown by the big
    // requests and frees beside it without any tree work (issue 14).
    // While it is set, its footer and the newest region's fence are not
    // kept (they may be unwritten, zero, or stale): each lay on the last
    // page of the heap, a page nothing else touched after each growth
    // (issue 13).  Whoever needs the last block asks for the top first
    // (heap_last_free); whoever makes a block end the newest region
    // without being the top writes the fence whole (heap_write_fence).
    la_block_t *top;
    la_region_t *regions;                 // newest first
    la_region_t *brk_region;              // the region sbrk extends, if any
    size_t region_bytes;                  // sum of region spans
    la_counters_t counters;
    uint32_t ops;                         // heap operations, to pace decay checks
    uint64_t purged_ms;                   // when this heap was last purged
    // The free-time trim (heap.c, trim_due): the top may grow this far
    // past the trim threshold before a free trims it (BRK_INCREMENT, or
    // more: LA_TRIM_ADAPT_MAX); what the last such trim gave back, and when.
    size_t trim_slack, trim_last_bytes;
    uint64_t trim_last_ms;
    // What its last purge walked (slabs and free blocks: heap_purge), and
    // `ops` when it ended: an operation's tick purges again only after as
    // many operations as LA_PURGE_WALK_PER_OP pays for (tick_locked).
    uint32_t purge_walked, purge_ops;
    // Slabs (slab.c): per class, those with free slots; all of them; per
    // class, the empty slab kept rather than given back (LA_SLAB_EMPTY_KEEP;
    // it may have been used since: it is the kept one only while empty);
    // and per class, slots that threads bound to other heaps freed (pushed
    // with a CAS, so that a refill takes its class's with one exchange):
    // the chain's first slot in the low LA_SLAB_ADDR_BITS bits, its
    // length above them (slab.h, slab_take_remote).
    struct la_slab *slab_avail[LA_SLAB_CLASSES];
    struct la_slab *slab_all;
    struct la_slab *slab_kept[LA_SLAB_CLASSES];
    uintptr_t slab_remote[LA_SLAB_CLASSES];
    // Blocks other threads freed, handed back without the lock: payloads
    // linked through their first word, pushed with a CAS, taken all at once
    // with an exchange.  They are live (check: their bare hash) until a
    // thread bound to this heap takes them into its cache or frees them
    // (heap.c frees them at the start of every allocation from the heap).
    void *remote;
} __attribute__((aligned(64))) la_heap_t;

/* ---- large (mapped) blocks ---------------------------------------------- */

// Precedes the header of a large block inside its mapping.
typedef struct la_large {
    struct la_large *next, *prev;  // all large blocks, for the walker and gdb
    size_t map_bytes;              // length of the mapping
    size_t req_bytes;              // requested bytes (may exceed 32 bits)
} la_large_t;

LA_INLINE la_large_t *large_of(la_block_t *b) { return (la_large_t *)b - 1; }
// The mapping starts this many bytes before the large prefix (alignment).
LA_INLINE char *large_map_start(la_block_t *b)
{
    return (char *)b + blk_size(b) - large_of(b)->map_bytes;
}

/* ---- process state ------------------------------------------------------ */

typedef struct {
    char *map;
    size_t bytes;
    uint64_t freed_ms; // when it entered the large-block cache
    char *block;       // the freed large block's header in it, if any
} la_map_t;

// A freed large block whose mapping is gone but for the page of its
// header, kept as a zero page so that a second free of it reads memory
// and is named a double free instead of faulting.
typedef struct {
    char *page;
    const void *payload;
    size_t usable;
} la_tomb_t;

// A block or slot in checking mode's quarantine: its payload, the bytes
// poisoned, whether it is a slab slot, and whether its free came from the
// exported family (whose frees adapt the mmap threshold).
typedef struct {
    void *p;
    size_t usable;
    size_t counted;   // the bytes its free counts (its req)
    bool ts, slot;
} la_held_t;

// Checking mode's quarantine of one heap (debug.c), under that heap's lock
// (issue 15: one global ring had a lock of its own, a second lock round
// trip on every free): the slots and blocks of the heap, and in heap 0's,
// the large blocks.  A FIFO ring, bounded as config.h says, per heap.
typedef struct {
    la_held_t ring[LA_QUARANTINE_SLOTS]; // oldest at head
    unsigned head, count;
    size_t bytes;                        // usable bytes of the blocks held
    la_counters_t counters;              // frees of the blocks held (nfree, free_bytes)
    int64_t unpublished;                 // checked slots' usage not yet published
} la_quarantine_t;

// Options read once from the environment (options.c).
typedef struct {
    int stats;          // ALLOCATOR_STATS: 0 off, 1 text at exit, LA_STATS_JSON
    int tcache;         // ALLOCATOR_TCACHE: 1 per-thread caches on, 0 off
    int slab;           // ALLOCATOR_SLAB: 1 small requests from slabs, 0 heap blocks
    unsigned heaps;     // ALLOCATOR_HEAPS: heaps threads spread over (0: CPUs)
    size_t decay_ms;    // ALLOCATOR_DECAY_MS: free memory older than this is purged
    size_t trim_bytes;  // ALLOCATOR_TRIM_THRESHOLD: free brk top kept up to this
    size_t mmap_bytes;  // ALLOCATOR_MMAP_THRESHOLD: requests this big are mapped
    int check;          // ALLOCATOR_CHECK: 1 junk, canaries, poison, heap walks
    int valgrind;       // ALLOCATOR_VALGRIND: 1 client requests under Valgrind
    size_t check_every; // ALLOCATOR_CHECK_EVERY: operations between heap walks
    bool check_every_auto; // not set: the period follows the heap's size
    int background;     // ALLOCATOR_BACKGROUND: 1 a thread purges decayed memory
    // ALLOCATOR_STATS_FILE: where the report at exit goes ("": stderr).
    // A copy: programs that set their process title overwrite environ.
    char stats_file[LA_PATH_BYTES];
    int verbose;        // ALLOCATOR_VERBOSE: 1 the options are printed at start-up
    // Either threshold was set at start-up: they stay fixed (as glibc's
    // once M_MMAP_THRESHOLD or M_TRIM_THRESHOLD is set).
    bool thresholds_fixed;
    size_t prof_bytes;  // ALLOCATOR_PROF: mean bytes between samples (0: off)
    int prof_leaks;     // ALLOCATOR_PROF_LEAKS: 1 leak report on stderr at exit
    size_t guard_sample; // ALLOCATOR_GUARD_SAMPLE: one allocation in about N guarded (0: off)
    // glibc.malloc.arena_max or MALLOC_ARENA_MAX: at most this many heaps
    // when ALLOCATOR_HEAPS is not set (0: no bound, as in glibc).
    size_t arena_max;
    // glibc.malloc.perturb or MALLOC_PERTURB_: new blocks are filled with
    // its complement and freed ones with it, as glibc does (0: off).
    size_t perturb;
    // glibc.malloc.mmap_max or MALLOC_MMAP_MAX_ (LA_GLIBC_MMAP_MAX when
    // neither is set): 0 maps no block the heaps can hold.
    size_t mmap_max;
    // ALLOCATOR_THP or glibc.malloc.hugetlb: non-zero asks for transparent
    // huge pages (heap.c, large.c).
    size_t thp;
} la_options_t;

struct la_tcache;

#define LA_STATS_JSON 2 // ALLOCATOR_STATS=json

// All process-wide mutable state.  Defined in heap.c.
typedef struct {
    // The page map from address to slab (slab.h; second levels mapped on
    // first use, published with a release store).  First, at offset 0:
    // the free fast path then indexes it from la's address, with no
    // offset to add.
    struct la_slab **slab_map[(size_t)1 << LA_SLAB_MAP_L1_BITS];
    int ready;                       // set (release) once la_init finished
    la_lock_t init_lock;
    uint64_t key;                    // keys the header check; random and odd
    size_t page_bytes;
    la_options_t options;
    size_t mmap_threshold;           // requests this big get their own mapping
    size_t heap_block_max;           // largest live heap block ever possible
    size_t trim_threshold;           // free brk top beyond this is given back
    // The exported family's thresholds, raised by its large frees (glibc's
    // dynamic thresholds, issue 14) while thresholds_dynamic; the mem_*
    // path keeps the seed's fixed ones above.
    size_t dyn_mmap_threshold;
    size_t dyn_trim_threshold;       // 0 until raised
    bool thresholds_dynamic;
    // M_MMAP_MAX of 0 (la_set_mmap_allowed): both mmap thresholds stand at
    // LA_MMAP_THRESHOLD_MAX, and mmap_threshold_saved is the one to go
    // back to.
    bool mmap_off;
    size_t mmap_threshold_saved;
    // ALLOCATOR_THP: the huge page size the heaps grow and align to, and
    // from which mappings are advised MADV_HUGEPAGE; 0 when off.
    size_t thp_bytes;
    size_t decay_ms;                 // free memory this old is given back
    uint64_t passed_ms;              // when the last pass over every heap ran (atomic)
    int bg_wanted;                   // the background thread should run (atomic)
    int bg_state;                    // la_bg_state_t (atomic)
    unsigned tc_epoch;               // bumped when thread caches should empty
    bool debug;                      // checking mode, Valgrind or perturb: slow paths only
    bool valgrind;                   // running under Valgrind
    // The fill byte of glibc's perturb (debug.c), set at start-up and by
    // mallopt(M_PERTURB) while the start-up turned it on; 0: no fills.
    uint8_t perturb;
    size_t guard_bytes;              // added to every request in debug mode
    size_t check_every;              // operations between heap walks (0: none)
    size_t check_ops;                // operations counted for them (atomic)
    size_t check_next;               // check_ops of the next walk (atomic)
    size_t check_visited;            // blocks and slots walks visited (atomic)
    size_t num_purges;               // madvise, trim and unmap calls (atomic)
    size_t released_bytes;           // bytes given back to the kernel (atomic)

    // A line away from the purge counters above (atomic adds at every
    // madvise): the medium free hit path reads num_heaps.
    _Alignas(64) uint32_t num_heaps; // heaps[0 .. num_heaps) are set up
    uint32_t heap_target;            // heaps that threads are spread over
    la_lock_t heaps_lock;            // creating heaps

    la_lock_t tc_lock;               // everything tc_* below
    int tc_ready;                    // constructor ran: threads may get caches
    unsigned tc_key;                 // pthread key whose destructor retires a cache
    struct la_tcache *tc_list;       // live caches
    struct la_tcache *tc_free;       // structs of retired caches, for reuse
    char *tc_meta;                   // where the next struct is carved
    size_t tc_meta_left;
    size_t tc_created;               // caches made so far (spreads heaps; atomic)
    la_counters_t tc_retired;        // counters of exited threads' caches

    la_lock_t large_lock;            // the large-block list and its counters
    la_large_t *large_list;
    size_t large_bytes;              // mapped for live large blocks now
    size_t large_count;              // live large blocks
    la_map_t large_cache[LA_LARGE_CACHE_SLOTS]; // freed mappings, oldest first
    unsigned large_cache_count;
    size_t large_cache_bytes;
    la_tomb_t tombs[LA_LARGE_TOMBSTONES];      // ring of recently unmapped blocks
    unsigned tomb_next;
    size_t num_mmaps, num_munmaps;
    la_counters_t large_counters;

    // Slabs: the metadata pool, and the key of free-list links (the page
    // map is the first field).  slab_lock guards the map's second levels
    // and the pool.
    la_lock_t slab_lock;
    struct la_slab *slab_meta_free[LA_SLAB_CLASSES]; // records by class (their bitmaps differ)
    char *slab_meta;
    size_t slab_meta_left;
    uintptr_t slot_key;              // keys free-list links (la_link_*); random and odd
    uintptr_t word_key;              // keys free one-word slots (la_word_*); random
    bool slabs_on;                   // ALLOCATOR_SLAB and not in checking mode
    // slab_purge_pages, set by the first slab made (atomic): heap_purge
    // gives back the free pages inside a heap's slabs too, and the heap
    // layer knows no slab function by name.
    size_t (*purge_above)(struct la_heap *h, bool all);

    // Written by every thread's publish (atomic adds), so on a cache line
    // of their own: beside slot_key, which every cache's pop and push
    // loads, each publish made the other threads' next link a miss.
    _Alignas(64) int64_t usage;      // live requested bytes, as published (atomic)
    size_t peak;                     // highest usage seen (atomic)
    _Alignas(64) la_lock_t stats_lock; // reset_base
    mem_stats_t reset_base;          // counters at the last mem_reset

    // The heap profiler (prof.c).  prof_on: it is on (statistics, dumps);
    // set once, by prof.c's constructor.  The exported allocation
    // functions read la.sampling, below.
    int prof_on;
    int prof_dump_pending;           // the profile signal arrived (atomic)
    la_lock_t prof_lock;             // prof.c's tables

    // The sampling hook: LA_SAMPLE_PROF and/or LA_SAMPLE_GUARD.  Every
    // exported allocation function tests it (one compare and branch) and
    // goes through prof.c's countdowns when it is not 0.  Set once, by
    // prof.c's constructor, before main.
    int sampling;
    // The exported malloc's fast path serves requests below this bound
    // (preload/interpose.c, issue 16): LA_SLAB_MAX_BYTES + 1 with both
    // samplers off, 0 while one is on (every request then goes past, where
    // la.sampling is tested), so that the hook costs the fast path no
    // instruction.  0 until prof.c's constructor sets it, before main: the
    // allocations made earlier take the slow path.
    size_t fast_bound;
    // Sampled guard pages (guard.c): the pool every guarded block lies in
    // (0 and 0 while off, so that guard_owns() is one compare), and the
    // lock of its slots.
    uintptr_t guard_pool;
    size_t guard_pool_bytes;
    la_lock_t guard_lock;

    // Last, after every scalar above: heaps[0] shares their pages, and the
    // other heaps and the quarantines (2 MiB, checking mode only) are .bss
    // pages a plain run never touches (issue 14, fixed footprint).  They
    // keep the library's mapping above 2 MiB, which the kernel (6.18 here)
    // then places on a 2 MiB boundary: src/layout.ld's 64 KiB text windows
    // and libc's, mapped right below it, rely on that.  Mapped on demand
    // instead (2 MiB less address space), the library landed at any page
    // and w_pairs peaked at 1688 KiB against 1532, w_falseshare at
    // 1644-2004 against 1656-1720; linked with max-page-size 64 KiB (ld.so
    // then aligns it to 64 KiB), w_pairs came back to 1528 but
    // w_falseshare still peaked at 1952 in two runs of seven.
    la_heap_t heaps[LA_MAX_HEAPS];   // heaps[0] is the brk heap
    la_quarantine_t quarantines[LA_MAX_HEAPS]; // heaps[i]'s, under its lock
} la_state_t;

LA_HIDDEN extern la_state_t la;

/* ---- the check word ---------------------------------------------------- */

// The keyed hash of the header at b whose head word is `head`: its payload
// address and its head without the flags (PREV_FREE changes under other
// threads' locks), that is its size and heap index, multiplied by the odd
// key, top half kept, so that every bit reaches the result (Scudo keys its
// header checksum the same way).  Any change of them changes the hash but
// with probability 2^-32.  Its own key argument lets the free fast path
// take the key from its cache.
LA_INLINE uint32_t blk_hash(const la_block_t *b, size_t head, uint64_t key)
{
    uint64_t x = (head & ~LA_FLAG_MASK) ^ ((uintptr_t)b + LA_HEADER_BYTES);
    return (uint32_t)((x * key) >> 32);
}
LA_INLINE uint32_t blk_hash_now(const la_block_t *b)
{
    return blk_hash(b, blk_load_head(b), la.key);
}
// The live check word for this hash and req, before any variant: req is
// added, so that a changed req fails too.
LA_INLINE uint32_t la_check_plain(uint32_t hash, size_t req) { return hash + (uint32_t)req + 1; }
// The check word of a live block.  One whose req no thread-cache bin takes
// (heap blocks above LA_TC_MAX_BYTES, large blocks) carries the
// LA_CHECK_BIG variant, so that the free fast path needs only the one
// compare to know that it may cache the block.
LA_INLINE uint32_t la_check_word(uint32_t hash, size_t req)
{
    uint32_t check = la_check_plain(hash, req);
    return req > LA_TC_MAX_BYTES ? check ^ LA_CHECK_BIG : check;
}
// The tests of a live heap block's header past its check word: neither
// free nor mapped, a heap that exists, and the next block's tag saying
// it is in use.  head is b's, size its size, bounded by the caller first
// (the tag is read at b + size).  la_block_sound (direct.h) and the
// medium free hit path (tcache.c) make them.
LA_INLINE bool blk_in_use_sound(const la_block_t *b, size_t head, size_t size)
{
    return (head & (LA_FREE | LA_MMAPPED)) == 0 &&
           (head >> LA_HEAD_HEAP_SHIFT) < __atomic_load_n(&la.num_heaps, __ATOMIC_ACQUIRE) &&
           !(blk_load_head((const la_block_t *)((const char *)b + size)) & LA_PREV_FREE);
}
// True for the header of a live block (cacheable or not).
LA_INLINE bool blk_check_ok(const la_block_t *b)
{
    uint32_t live = la_check_word(blk_hash_now(b), b->req);
    return b->check == live || b->check == (live ^ LA_CHECK_PROF);
}
// Sets the requested size of a live block and its check word.  Whoever
// changes a live block's size or address sets its req again.
LA_INLINE void blk_set_req(la_block_t *b, size_t req)
{
    b->req = (uint32_t)req;
    b->check = la_check_word(blk_hash_now(b), req);
}
// Marks a live block as cached (its req stays, unchecked).
LA_INLINE void blk_stamp_cached(la_block_t *b) { b->check = blk_hash_now(b); }
// Rewrites the check word as the plain live value ^ variant
// (LA_CHECK_FREED, LA_CHECK_FENCE), from the header as it is now.
LA_INLINE void blk_stamp(la_block_t *b, uint32_t variant)
{
    b->check = la_check_plain(blk_hash_now(b), b->req) ^ variant;
}

/* ---- free-list links (issue 15) ------------------------------------------ */

// Every list of free slots or cached blocks that the allocator keeps inside
// the memory it hands out (thread-cache bins, slab and heap remote lists,
// a slot free in its slab) links an element p to the next with two words:
//   p[0] = next ^ la_link_tag(p)      the link, encoded with the key and p
//   p[1] = next                       the same link, plain
// so that p[0] ^ p[1] == la_link_tag(p) for every element of every list,
// and a program's write of either word after free (most often of the first
// one: a stale object's first field) breaks the relation but with
// probability 2^-64 without knowing la.slot_key.  Whoever takes p off a
// list checks the relation first (la_link_next) and reports the list as
// corrupted instead of following the link.  The relation is also what
// tells a free slot from a live one on the free fast path (a double free),
// which looks at word 1 first (la_link_maybe).
// Reading both words of a free element reveals the tag: the scheme stops
// blind writes, not a program that can read freed memory and then write.
LA_INLINE uintptr_t la_link_tag(const void *p) { return la.slot_key ^ (uintptr_t)p; }
// la_link_store() and la_link_ok() with la.slot_key passed in: a loop
// over many slots keeps it in a register, where the link stores might
// alias `la` for all the compiler knows and it reloaded the key for every
// slot (slab.c's refill).
LA_INLINE void la_link_store_keyed(void *p, void *next, uintptr_t key)
{
    uintptr_t *w = p;
    w[0] = (uintptr_t)next ^ key ^ (uintptr_t)p;
    w[1] = (uintptr_t)next;
}
LA_INLINE bool la_link_ok_keyed(const void *p, uintptr_t key)
{
    const uintptr_t *w = p;
    return (w[0] ^ w[1]) == (key ^ (uintptr_t)p);
}
LA_INLINE void la_link_store(void *p, void *next) { la_link_store_keyed(p, next, la.slot_key); }
// True while p is linked on a list (or free in its slab).
LA_INLINE bool la_link_ok(const void *p) { return la_link_ok_keyed(p, la.slot_key); }
// p leaves its list for the program: word 1 becomes 1, which no link is
// (links are 16-byte aligned or NULL), so that la_link_maybe fails on word
// 1 alone; and word 0 becomes 0, so that the relation stays out of reach
// of partial writes (the last element of a list has word 0 = its tag: with
// word 0 kept, a program writing byte 0 and byte 8 of a fresh block met
// the relation by a 2^-8 chance, and w_ruby's malloc_usable_size called
// its blocks double frees).
LA_INLINE void la_link_clear(void *p)
{
    uintptr_t *w = p;
    w[0] = 0;
    w[1] = 1;
}
// Whether p may be linked, for the free fast path: word 1 is a link
// (16-byte aligned or NULL), and only then the relation.  Word 0 is where
// programs write most, often just before they free: a narrower store
// still in flight there makes an 8-byte load of it wait until the store
// retires (store forwarding fails), and w_pairs (byte 0 written, then
// freed) ran 1.3x slower while free loaded word 0 every time.  The same
// holds for the end of a 16-byte block, which is word 1: so the first test
// loads only word 1's low byte, which holds its alignment bits, where
// malloc's store of the whole word forwards it; a store of the block's
// last bytes (bytes 9-15) does not reach it.  An 8-byte load of word 1
// after a program wrote byte 15 made a malloc(16) + write + free loop
// 1.53x tcmalloc's time (0.98x with the byte; w_pairs, whose sizes cycle
// over 16..1024, 4% faster).  Only an aligned word 1 loads both words.
// On an Intel Xeon host (AVX-512, AMX) the byte's load alone still costs
// w_pairs 9-11 % of its time (0.174 -> 0.159 s built without the test,
// 11 runs interleaved) and w_ruby 7 % (0.770 -> 0.717 s, whose first
// touch of a block is often malloc_usable_size's); loading the whole
// word, testing it after the bin's checks, malloc storing the byte alone
// and other slab colours each left it where it was.  It stays: it is
// what names a double free before free writes anything.
_Static_assert(ALIGNMENT - 1 <= 0xff, "a link's alignment bits are in its low byte");
#define LA_LINK_LOW_BYTE (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 8 : 15) // word 1's
LA_INLINE bool la_link_maybe(const void *p)
{
    const uintptr_t *w = p;
    return (((const unsigned char *)p)[LA_LINK_LOW_BYTE] & (ALIGNMENT - 1)) == 0 &&
           (w[0] ^ w[1]) == la_link_tag(p);
}
// Reports "free list corrupted at p (a write after free?)" by `func`.
LA_HIDDEN LA_COLD LA_NORETURN void la_link_corrupt(const void *p, const char *func);
// The element after p, checked: reports and aborts rather than follow a
// link the program overwrote.
LA_INLINE void *la_link_next(const void *p, const char *func)
{
    if (LA_UNLIKELY(!la_link_ok(p)))
        la_link_corrupt(p, func);
    return (void *)((const uintptr_t *)p)[1];
}

/* ---- one-word slots ------------------------------------------------------ */

// A slot of the 8-byte class (slab.h, slab_one_word) has no room for two
// link words, so it is never linked: while it is free, in its slab or in a
// thread cache's word stack (tcache.h), its one word holds its mark,
//   p[0] = la.word_key ^ p,
// and a slot handed out has its word set to 1 (not a mark, not zero).
// The mark is what malloc checks before it hands such a slot out again (a
// write after free breaks it but with probability 2^-64 without knowing
// the key), and what tells a second free of the slot from a first.  The
// two-word relation (la_link_*) is never applied to these slots: its
// first test reads 8 bytes past the slot, another block (slab.h,
// slab_free_limit).  A key of its own, so that no mark is a link tag.
LA_INLINE uintptr_t la_word_tag(const void *p) { return la.word_key ^ (uintptr_t)p; }
LA_INLINE void la_word_mark(void *p) { *(uintptr_t *)p = la_word_tag(p); }
LA_INLINE bool la_word_marked(const void *p) { return *(const uintptr_t *)p == la_word_tag(p); }

/* ---- os.c: the only file that talks to the kernel ----------------------- */

LA_HIDDEN size_t os_page_bytes(void);
LA_HIDDEN uint64_t os_random64(void);
LA_HIDDEN void *os_sbrk(size_t bytes);              // NULL on failure
LA_HIDDEN void *os_brk_current(void);
LA_HIDDEN void os_sbrk_release(size_t bytes);       // lowers the break
LA_HIDDEN void *os_map(size_t bytes);               // NULL on failure, zeroed
LA_HIDDEN void os_unmap(void *addr, size_t bytes);
// Address space only (PROT_NONE, no memory committed); NULL on failure.
LA_HIDDEN void *os_reserve(size_t bytes);
// Makes pages read-write, or inaccessible; false on failure.
LA_HIDDEN bool os_protect(void *addr, size_t bytes, bool accessible);
LA_HIDDEN void *os_remap(void *addr, size_t old_bytes, size_t new_bytes); // NULL on failure
// Gives the pages back; the range stays mapped and reads as zeros.
LA_HIDDEN void os_advise_free(void *addr, size_t bytes);
// Asks for transparent huge pages in the range (MADV_HUGEPAGE; the start
// rounded down to a page), as far as the kernel grants them.
LA_HIDDEN void os_advise_huge(void *addr, size_t bytes);
// The kernel's transparent huge page size, LA_THP_BYTES_DEFAULT if it does
// not say.  Bytes.
LA_HIDDEN size_t os_thp_bytes(void);
// The process's resident memory (RSS) now, from /proc/self/statm; 0 if
// that cannot be read.  Bytes.
LA_HIDDEN size_t os_resident_bytes(void);
// Bytes of [addr, addr + bytes) in RAM now (mincore: whole pages, clipped
// to the range); 0 for what cannot be asked about.
LA_HIDDEN size_t os_resident_range(const void *addr, size_t bytes);
// Milliseconds of a monotonic clock (coarse: a few ms of resolution).
LA_HIDDEN uint64_t os_now_ms(void);
LA_HIDDEN void os_write_stderr(const char *buf, size_t len);
// From now on, write reports only while their descriptor still refers to
// the file stderr is now (the program may close fd 2 and reuse the
// number).  With `dup`, to a private duplicate of stderr that survives the
// program closing fd 2 (for a report at exit that goes to stderr); without,
// to fd 2 itself (a program that lists its descriptors sees no extra one).
// Called again with `dup`, it duplicates once.
LA_HIDDEN void os_keep_stderr(bool dup);
// Opens (creates, mode 0644) a file to append reports to, closed on exec;
// the descriptor, or -errno.
LA_HIDDEN int os_open_append(const char *path);
LA_HIDDEN void os_write_fd(int fd, const char *buf, size_t len);
LA_HIDDEN void os_close(int fd);
LA_HIDDEN const char *os_getenv(const char *name);
// True in a set-user-ID or set-group-ID program (or one with file
// capabilities): the kernel's AT_SECURE, as glibc's secure_getenv uses.
LA_HIDDEN bool os_secure(void);
// A file written from scratch (mode 0644), or -1; and its companions
// (errno is kept).  os_write_fd writes everything or gives up.
LA_HIDDEN int os_open_write(const char *path);
LA_HIDDEN int os_open_read(const char *path);
LA_HIDDEN long os_read(int fd, void *buf, size_t len);
// Installs handler for signal signo (SA_RESTART); false on failure.
LA_HIDDEN bool os_on_signal(int signo, void (*handler)(int));
// Called on every SIGSEGV the kernel raises for a fault at addr (pc: the
// faulting instruction; write: 1 a write, 0 a read, -1 unknown).  It
// returns only when the fault is not the allocator's; it then goes to the
// handler that was installed before (or the default action).
typedef void (*la_fault_fn)(void *addr, void *pc, int write);
// Installs fn with sigaction (SA_SIGINFO | SA_ONSTACK); false on failure.
LA_HIDDEN bool os_on_fault(la_fault_fn fn);
// The number of a signal named USR1, SIGUSR2, 12...; 0 if unknown.
LA_HIDDEN int os_signal_number(const char *name);
LA_HIDDEN const char *const *os_environ(void); // may be NULL
LA_HIDDEN LA_NORETURN void os_abort(void);
LA_HIDDEN void os_futex_wait(int *word, int expected);
LA_HIDDEN void os_futex_wake_one(int *word);
LA_HIDDEN void os_yield(void);
LA_HIDDEN void os_sleep_ms(uint64_t ms);
LA_HIDDEN unsigned os_cpu_count(void);
LA_HIDDEN int os_getpid(void);
// The program's path (/proc/self/exe), else its argv[0] (/proc/self/cmdline),
// else "?", into buf (NUL-terminated, truncated to cap).
LA_HIDDEN void os_program_name(char *buf, size_t cap);
// True while the process has never had a second thread (glibc's
// __libc_single_threaded; false when unknown).
LA_HIDDEN bool os_single_threaded(void);
// The same, inlined for the heap paths that skip their lock on it (issue
// 14): a call cost more instructions than the lock it saved.  A libc
// variable read, not a system call; glibc 2.32 and later define it, and
// the weak reference leaves it NULL elsewhere.
extern char __libc_single_threaded __attribute__((weak));
LA_INLINE bool la_single_threaded(void)
{
    return &__libc_single_threaded != NULL && __libc_single_threaded;
}
// stdio's list lock (glibc's _IO_list_*; nothing where libc lacks them):
// taken around fork in the same order as glibc's fork takes it.
LA_HIDDEN void os_stdio_list_lock(void);
LA_HIDDEN void os_stdio_list_unlock(void);
LA_HIDDEN void os_stdio_list_reset(void);

/* ---- log.c: formatted output without stdio ------------------------------ */

LA_HIDDEN size_t log_format(char *buf, size_t cap, const char *fmt, __builtin_va_list ap);
LA_HIDDEN size_t log_format_args(char *buf, size_t cap, const char *fmt, ...) LA_PRINTF(3, 4);
// A byte count for people: "512 B", "1.5 KiB", "187.3 MiB" (one decimal).
LA_HIDDEN size_t log_format_bytes(char *buf, size_t cap, size_t bytes);
LA_HIDDEN void log_printf(const char *fmt, ...) LA_PRINTF(1, 2);
// Reports "liballocator: FUNC(): MESSAGE" on stderr and aborts.
LA_HIDDEN LA_NORETURN void la_fatal(const char *func, const char *fmt, ...) LA_PRINTF(2, 3);
// Whether func, a name a report gives, frees the block (free, or a sized
// operator delete): a block freed already is then freed twice, where
// realloc or malloc_usable_size uses it after its free.
LA_INLINE bool la_func_frees(const char *func)
{
    return __builtin_strcmp(func, "free") == 0 || __builtin_strcmp(func, "operator delete") == 0;
}
LA_HIDDEN LA_NORETURN void la_assert_fail(const char *file, int line, const char *cond);

/* ---- bins.c: size classes and free lists -------------------------------- */

LA_HIDDEN unsigned bins_class(size_t block_bytes);
// bins_class(block_bytes) == NUM_SIZE_CLASSES - 1, the tree's class, with
// one compare and no call (the big-block paths ask it several times).
LA_INLINE bool bins_in_tree(size_t block_bytes)
{
    return block_bytes > ((size_t)MIN_BLOCK_SIZE << (NUM_SIZE_CLASSES - 2));
}
// Lists b, or makes it the top (then true: the caller writes neither its
// footer nor the fence after it, see la_heap_t.top).
LA_HIDDEN bool bins_insert(la_heap_t *h, la_block_t *b);
// Takes a free block off its list, after checking the links around it
// (a report by `func` if they disagree).
LA_HIDDEN void bins_remove(la_heap_t *h, la_block_t *b, const char *func);
// The best listed block or the top, whichever fits better; taken off.
LA_HIDDEN la_block_t *bins_find(la_heap_t *h, size_t block_bytes);
// bins_find() for a size of the tree's class whose best fit in the tree
// the caller found already (t, from tree_lower_bound, or NULL): t or the
// top, taken off, without a second search.
LA_HIDDEN la_block_t *bins_take_best(la_heap_t *h, la_tnode_t *t, size_t block_bytes);
// Whether the top serves block_bytes rather than `listed` (the listed
// block found for it, or NULL): the top fits, and nothing listed does.
// As glibc takes its bins before its top: best fit over the lists and the
// tree first keeps the top whole for what nothing else holds, and
// w_bufpool then repeats glibc's layout block for block (peak RSS 440
// MiB, glibc's 439.9).  The top as one more tree block, taken when it
// was the best fit, left holes that later requests could not use (457
// MiB); bins first gave 473-484 only while the background thread's start
// put a slab at the top's start, between big blocks (issue 14).
LA_INLINE bool bins_top_fits_better(const la_heap_t *h, la_block_t *listed, size_t block_bytes)
{
    la_block_t *top = h->top;
    return listed == NULL && top != NULL && blk_size(top) >= block_bytes;
}
// Before a newer region arrives: the top goes into the lists or the tree.
LA_HIDDEN void bins_retire_top(la_heap_t *h);

/* ---- tree.c: the last class's size-ordered tree -------------------------- */

// These check the links they follow (a child must name its parent back)
// and report a broken one by `func` (issue 15).
LA_HIDDEN void tree_insert(la_tnode_t **root, la_tnode_t *node, const char *func);
LA_HIDDEN void tree_remove(la_tnode_t **root, la_tnode_t *node, const char *func);
LA_HIDDEN bool tree_can_rekey(la_tnode_t **root, la_tnode_t *node, size_t size, const void *at,
                              const char *func);
LA_HIDDEN void tree_move(la_tnode_t **root, la_tnode_t *from, la_tnode_t *to);
// tree_can_rekey(root, from, size, to), and if so tree_move(root, from, to).
LA_HIDDEN bool tree_rekey(la_tnode_t **root, la_tnode_t *from, la_tnode_t *to, size_t size,
                          const char *func);
// The smallest node of at least `bytes`, or NULL.
LA_HIDDEN la_tnode_t *tree_lower_bound(la_tnode_t *root, size_t bytes, const char *func);
// In-order traversal.
LA_HIDDEN la_tnode_t *tree_first(la_tnode_t *root);
LA_HIDDEN la_tnode_t *tree_next(la_tnode_t *node);
// NULL when the tree is sound (*count nodes); else what is wrong, at *bad.
LA_HIDDEN const char *tree_check(const la_tnode_t *root, size_t *count, const la_tnode_t **bad);

/* ---- block.c: split, coalesce, boundary tags ---------------------------- */

LA_HIDDEN void blk_set_live(la_block_t *b, size_t size, size_t keep_flags, unsigned heap_index);
LA_HIDDEN void blk_mark_used(la_heap_t *h, la_block_t *b);
LA_HIDDEN void blk_make_free(la_heap_t *h, la_block_t *b, size_t size);
LA_HIDDEN void blk_split(la_heap_t *h, la_block_t *b, size_t keep_bytes);
LA_HIDDEN la_block_t *blk_coalesce(la_heap_t *h, la_block_t *b);

/* ---- heap.c: the heap object -------------------------------------------- */

LA_HIDDEN void la_init_slow(void);
LA_INLINE void la_ensure_init(void)
{
    if (LA_UNLIKELY(!__atomic_load_n(&la.ready, __ATOMIC_ACQUIRE)))
        la_init_slow();
}
LA_HIDDEN la_heap_t *heap_get(unsigned index);
// Heap `index`, set up first if this is its first use.
LA_HIDDEN la_heap_t *heap_ensure(unsigned index);
// glibc's arena_max (the environment, or mallopt(M_ARENA_MAX)): caches made
// from now on spread over at most `most` heaps (0: no bound), unless
// ALLOCATOR_HEAPS set their number.  Caches made before keep their heap.
LA_HIDDEN void heap_cap_target(size_t most);
// Sets the mmap threshold (bytes, clamped to LA_MMAP_THRESHOLD_MAX); with
// mappings turned off, the one they come back with.
LA_HIDDEN bool la_set_mmap_threshold(size_t bytes);
// glibc's M_MMAP_MAX: with `allowed` false (its 0), every block up to
// LA_MMAP_THRESHOLD_MAX comes from the heaps (glibc serves all sizes from
// its heap then; a heap block here is at most that), until it is true
// again.  No run-time cost: it moves the thresholds.
LA_HIDDEN void la_set_mmap_allowed(bool allowed);
// The mmap threshold of the exported family (ts) or of the mem_* path.
LA_INLINE size_t la_mmap_threshold(bool ts)
{
    return la_load_relaxed(ts ? &la.dyn_mmap_threshold : &la.mmap_threshold);
}
// glibc's dynamic thresholds: a large block of freed_bytes (its mapping)
// was freed, so blocks of that size come from the heaps from now on, where
// they are reused without page faults, and the brk top is trimmed only
// beyond twice that.  Up to LA_MMAP_THRESHOLD_MAX; nothing once the program
// or the environment set either threshold.  True if they rose.
LA_HIDDEN bool la_adapt_thresholds(size_t freed_bytes);
// A free block of at least block_bytes, made live for heap h (req unset).
// With dirty_bytes, also tells how many payload bytes from the start may be
// non-zero (the rest are known zero, for calloc).  With resident_end, where
// the pages that may be resident end (of the others, a purge gave them back
// or nothing ever touched them), its first page apart: a slab's pages past
// its slots are then not counted resident when it goes back (slab.c).
LA_HIDDEN la_block_t *heap_alloc(la_heap_t *h, size_t block_bytes, size_t *dirty_bytes,
                                 char **resident_end);
// The same from the free blocks h already has, without growing it; NULL
// if none fits.  For a block of any size: the bound on live heap block
// sizes rises to it.
LA_HIDDEN la_block_t *heap_alloc_fit(la_heap_t *h, size_t block_bytes, size_t *dirty_bytes);
// A block whose payload less `skew` bytes is aligned to `align`: skew 0
// for the payload itself (memalign), LA_HEADER_BYTES for the header (a
// slab, which starts at its block).  resident_end as heap_alloc's.
LA_HIDDEN la_block_t *heap_alloc_aligned(la_heap_t *h, size_t block_bytes, size_t align,
                                         size_t skew, char **resident_end);
// heap_alloc() for a block of the tree's class, made live with its req and
// check word: the top's start when the top is the best fit, with a few
// stores (issue 14: malloc(1 MiB) + free in a loop); NULL when the heap
// cannot grow.
LA_HIDDEN la_block_t *heap_alloc_big(la_heap_t *h, size_t block_bytes, size_t req);
// Up to `want` live blocks of `block` bytes into out[], carved from the free
// blocks there are before the heap grows; returns how many (0: no memory).
LA_HIDDEN size_t heap_alloc_batch(la_heap_t *h, size_t block, size_t want, la_block_t **out);
LA_HIDDEN void heap_free(la_heap_t *h, la_block_t *b);
// heap_free() of a block of which a layer above gave pages back: only its
// first page and those of [lo, hi) (lo == hi: none) may be resident, and
// the heap's purges advise no other page of it again.
LA_HIDDEN void heap_free_purged(la_heap_t *h, la_block_t *b, char *lo, char *hi);
// Pushes a chain of live blocks of heap h (linked through their payloads,
// first to last) onto its remote list; no lock needed.
LA_HIDDEN void heap_push_remote(la_heap_t *h, void *first, void *last);
// Takes the whole remote list (no lock needed); NULL if empty.
LA_HIDDEN void *heap_take_remote(la_heap_t *h);
// Frees every block of a chain into h; the caller holds h's lock.
LA_HIDDEN void heap_free_chain(la_heap_t *h, void *chain);
// Gives free memory of h back to the kernel: inner pages of big free
// blocks (madvise), the brk heap's free top beyond the trim threshold, and,
// when unmap is given, whole free mapped regions (unlinked and returned in
// unmap[0..*n) for the caller to unmap after unlocking).  Returns the bytes
// released.  The caller holds h's lock.
LA_HIDDEN size_t heap_purge(la_heap_t *h, la_map_t *unmap, unsigned *n, unsigned cap);
// Purges h if decay time passed since its last purge; called on heap
// operations under h's lock (it reads the clock only now and then).
// heap_tick_due() counts the operation and says when the clock is due,
// heap_tick_clock() reads it and purges.
LA_INLINE bool heap_tick_due(la_heap_t *h) { return ++h->ops % LA_DECAY_CHECK_EVERY == 0; }
LA_HIDDEN void heap_tick_clock(la_heap_t *h);
LA_INLINE void heap_tick(la_heap_t *h)
{
    if (LA_UNLIKELY(heap_tick_due(h)))
        heap_tick_clock(h);
}
// The pass over every heap (remote lists drained, decayed memory purged,
// cached large mappings aged), if one is due; waits for each heap's lock,
// so the caller holds none.  Returns the bytes released.
LA_HIDDEN size_t heap_purge_all_due(void);
// The free pages of idle slabs (la.purge_above) of every heap whose lock
// is free, between the passes: the background thread calls it at each
// wake-up, so that an idle thread's slabs go back within about one decay
// period of its last free, not two passes later.  Returns the bytes.
LA_HIDDEN size_t heap_purge_slabs_idle(void);
// Counts a release for the statistics.
LA_HIDDEN void la_count_release(size_t bytes);
// Resizes b to at least `need` bytes without moving it: shrinks by a
// split, or grows into the free block after it (or the brk region's
// extension), up to `want` bytes when the neighbour has them (growth
// steps to come then find room without a call here).  False when it
// cannot grow to `need`: nothing changed.
LA_HIDDEN bool heap_resize_in_place(la_heap_t *h, la_block_t *b, size_t need, size_t want);
LA_HIDDEN la_block_t *heap_slide_down(la_heap_t *h, la_block_t *b, size_t need, size_t want);
LA_HIDDEN void heap_note_written(la_heap_t *h, char *upto);
// Writes r's fence whole (size 0, PREV_FREE as given, its check word):
// needed before a block that ends the newest region is live or listed,
// since the fence is not kept while the top ends that region.
LA_HIDDEN void heap_write_fence(la_heap_t *h, la_region_t *r, size_t prev_free);
// The free block that ends region r, or NULL: the top if r is the newest
// region and the top is set (its fence is not kept then), else what r's
// fence says.
LA_INLINE la_block_t *heap_last_free(la_heap_t *h, la_region_t *r)
{
    if (r == h->regions && h->top != NULL)
        return h->top;
    la_block_t *fence = region_fence(r);
    return blk_prev_is_free(fence) ? blk_prev(fence) : NULL;
}
// The region holding p, if any (diagnostics: no lock, linear in regions).
LA_HIDDEN la_region_t *heap_region_of(const void *p);
LA_HIDDEN void heap_lock_all(void);
LA_HIDDEN void heap_unlock_all(void);
LA_HIDDEN void heap_reinit_locks_after_fork(void);
// Checks the header of a block leaving a thread cache or a remote list for
// its heap (it may have been overwritten while it waited); returns the
// index of that heap, or reports and aborts.
LA_HIDDEN unsigned heap_validate_cached(const void *p, const char *func);
// For a block in region r whose check word failed: if its header was
// overwritten (an overflow of the block before it), reports that by `func`
// and aborts; returns otherwise.  Cold: only misuse reports call it.
LA_HIDDEN LA_COLD void heap_report_overwritten(const void *p, la_region_t *r,
                                           const char *func);

/* ---- fork.c: fork handlers ---------------------------------------------- */

typedef int (*la_register_atfork_fn)(void (*prepare)(void), void (*parent)(void),
                                     void (*child)(void), void *dso_handle);
// Registers the allocator's fork handlers through register_fn (libc's
// __register_atfork), once; later calls do nothing.
LA_HIDDEN void fork_register_handlers(la_register_atfork_fn register_fn);
// The same through the exported __register_atfork, before the process
// has a second thread (fork.c says when); later calls do nothing.
LA_HIDDEN void fork_handlers_install(void);

/* ---- alloc.c: the API behind mem_* and the exported malloc family ------- */

// (The direct path below the thread caches, which these build on, is
// declared in direct.h.)
// Thread-safe versions; preload/ calls these directly (no PLT hop).
LA_HIDDEN void *la_malloc(size_t req);
LA_HIDDEN void la_free(void *p);
LA_HIDDEN void *la_calloc(size_t nmemb, size_t size);
LA_HIDDEN void *la_realloc(void *p, size_t req);
// Power-of-two alignment (EINVAL otherwise), any size.
LA_HIDDEN void *la_aligned(size_t align, size_t req);
// Free bytes held in heap free lists, and their count (for mallinfo).
LA_HIDDEN void la_free_space(size_t *bytes, size_t *blocks);

/* ---- large.c: blocks in their own mapping ------------------------------- */

// *zeroed says whether the payload is known to be zero (a fresh mapping).
LA_HIDDEN la_block_t *large_alloc(size_t req, size_t align, bool *zeroed);
// Unmaps every cached mapping now (older_than_ms 0), or those that waited
// longer than the decay; returns the bytes unmapped.
LA_HIDDEN size_t large_cache_purge(uint64_t older_than_ms);
// Unmaps every cached mapping smaller than `bytes`.
LA_HIDDEN void large_cache_drop_below(size_t bytes);
// Frees a large block: its mapping waits in the cache if `cache`, else
// it is unmapped now (no later request could reuse it).
LA_HIDDEN void large_free(la_block_t *b, bool cache);
// os_map, and when that fails, unmaps the cached freed mappings and tries
// once more (the caller may hold a heap lock: large_lock comes after it).
LA_HIDDEN void *large_map_or_purge(size_t bytes);
LA_HIDDEN la_block_t *large_realloc(la_block_t *b, size_t req);
LA_HIDDEN size_t large_req(la_block_t *b);
// The usable size of a recently unmapped large block whose payload was p;
// 0 if p is not one (diagnostics).
LA_HIDDEN size_t large_tombstone(const void *p);
// The payload of the live large block holding p, or NULL (diagnostics).
LA_HIDDEN void *large_containing(const void *p);
// Checking mode: whether large blocks end at an inaccessible guard page.
LA_HIDDEN bool large_guarded(void);
// The large block whose guard page holds addr (guard.c's SIGSEGV
// handler): 1 for a live block, 2 for a freed mapping in the cache (with
// *payload NULL if no block is known), 0 for none.  Safe in the handler.
LA_HIDDEN int large_guard_find(const void *addr, const void **payload, size_t *req);

/* ---- debug.c: checking mode and Valgrind -------------------------------- */

LA_HIDDEN void debug_init(void);
// Valgrind: the allocator's own accesses between these are not reported.
LA_HIDDEN void debug_quiet_begin_slow(void);
LA_HIDDEN void debug_quiet_end_slow(void);
LA_INLINE void debug_quiet_begin(void)
{
    if (LA_UNLIKELY(la.valgrind))
        debug_quiet_begin_slow();
}
LA_INLINE void debug_quiet_end(void)
{
    if (LA_UNLIKELY(la.valgrind))
        debug_quiet_end_slow();
}
LA_HIDDEN void debug_new_region(void *start, size_t bytes);
// A new block at p of req bytes (usable bytes in all); zeroed: calloc.
LA_HIDDEN void debug_on_alloc(void *p, size_t req, size_t usable, bool zeroed);
LA_HIDDEN void debug_on_free(void *p, size_t req, size_t usable, const char *func);
// glibc's perturb of a block being freed, once its checks passed: its
// usable bytes take la.perturb, if set (the caller leaves mappings alone,
// as glibc does).
LA_HIDDEN void debug_perturb_freed(void *p, size_t usable);
// After a resize in place (the caller checked the canary before it).
LA_HIDDEN void debug_on_resize(void *p, size_t old_req, size_t req, size_t usable);
LA_HIDDEN void debug_check_canary(const void *p, size_t req, size_t usable, const char *func);
// Checking mode: holds b, freed and poisoned, in the quarantine of its
// heap (a large block: of heap 0; stamped LA_CHECK_QUARANTINE); false if
// it is too big to hold.  Takes
// that heap's lock if ts.  The heap's own blocks and slots it pushes out
// are checked and freed under the lock; large ones go to out[] (at most
// LA_QUARANTINE_EVICT_MAX, *n of them), checked and with their live check
// word back: the caller frees them.
LA_HIDDEN bool debug_quarantine(la_block_t *b, size_t req, size_t usable, bool ts,
                                la_held_t *out, unsigned *n);
// Checking mode keeps the slabs (issue 13): slots are handed out and freed
// one at a time under the heap lock, sized for the request plus a canary
// and a trailer word that records the request (slots have no header).
struct la_slab;
// A slot for req bytes from heap h, filled with junk and a canary; NULL if
// the request is too big for a slot with that room (or memory is out).
LA_HIDDEN void *debug_slot_alloc(la_heap_t *h, size_t req);
// Checks and poisons a slot the program frees, and holds it in the
// quarantine.
LA_HIDDEN void debug_slot_free(struct la_slab *s, void *p, const char *func);
// The requested size of a live slot (its trailer), after checking it is
// one and its canary holds.
LA_HIDDEN size_t debug_slot_req(struct la_slab *s, const void *p, const char *func);
// The heap walk's part (h's lock held): every live slot's trailer and
// canaries.  NULL when sound, else what is wrong at *where.
LA_HIDDEN const char *debug_check_slots(la_heap_t *h, const void **where);
// Counts an operation; walks the heap every ALLOCATOR_CHECK_EVERY.
LA_HIDDEN void debug_tick(void);

/* ---- background.c: the purging thread ----------------------------------- */

typedef enum { LA_BG_OFF = 0, LA_BG_STARTING, LA_BG_RUNNING, LA_BG_FAILED } la_bg_state_t;

LA_HIDDEN void background_start_slow(void);
// Starts the background thread if it is wanted, not running, and the
// program has freed LA_BG_START_FREED_BYTES since its peak (la.usage may
// dip below zero, as thread caches publish late: the difference is a
// hint, not a count).  Called where the caller holds no allocator lock
// (pthread_create allocates).
LA_INLINE void background_poke(void)
{
    if (LA_UNLIKELY(la_load_relaxed(&la.bg_wanted)) &&
        la_load_relaxed(&la.bg_state) == LA_BG_OFF &&
        (int64_t)la_load_relaxed(&la.peak) - la_load_relaxed(&la.usage) >=
            (int64_t)LA_BG_START_FREED_BYTES)
        background_start_slow();
}
// Wants the thread once the heaps span LA_BG_START_BYTES (under a heap lock).
LA_INLINE void background_note_growth(size_t heap_bytes)
{
    if (heap_bytes >= LA_BG_START_BYTES && la.options.background)
        la_store_relaxed(&la.bg_wanted, 1);
}
// In a fork child: the thread did not survive; it starts again on demand.
LA_HIDDEN void background_after_fork_child(void);

/* ---- stats.c ------------------------------------------------------------ */

// Adds a (possibly negative) change of live bytes and updates the peak.
LA_HIDDEN void stats_usage_publish(int64_t delta);
// Raises the peak to `now` if it is higher.
LA_HIDDEN void stats_raise_peak(size_t now);
LA_HIDDEN void stats_print(const mem_stats_t *s);
// mem_get_stats(), with heap_resident_bytes left 0 unless `resident`:
// mallinfo2() and malloc_info() report no residency, and programs may call
// them often, so they skip the mincore calls.
LA_HIDDEN mem_stats_t stats_get(bool resident);
// Per size class: free blocks and bytes in the heaps, blocks in thread
// caches (by the class of their block size).
typedef struct {
    size_t free_blocks, free_bytes, cached_blocks, cached_bytes;
} la_class_stats_t;
// Free blocks on the heaps' lists and tree and blocks in thread caches, by
// heap size class; *top_bytes gets the heaps' tops, on no list (bins.c).
LA_HIDDEN void stats_by_class(la_class_stats_t out[NUM_SIZE_CLASSES], size_t *top_bytes);

/* ---- check.c ------------------------------------------------------------ */

LA_HIDDEN int check_heap(la_heap_t *h);

/* ---- prof.c: the sampling heap profiler (issue 16) ----------------------- */

// The exported family's entry points while the profiler is on: the same
// work as la_*, then the result may be sampled.  `caller` is the return
// address of the exported function, where the recorded stack starts.
LA_HIDDEN LA_NOINLINE void *prof_malloc(size_t req, void *caller);
// The exported malloc's path past its fast path, sampling or not (its
// signature is tcache_malloc_below's `past`).  `caller` is NULL when
// malloc reaches it by a tail jump: its own return address is then the
// program's; operator new's path calls it with the program's.
LA_HIDDEN LA_NOINLINE void *prof_malloc_past(size_t req, void *caller);
LA_HIDDEN LA_NOINLINE void *prof_calloc(size_t nmemb, size_t size, void *caller);
LA_HIDDEN LA_NOINLINE void *prof_realloc(void *p, size_t req, void *caller);
LA_HIDDEN LA_NOINLINE void *prof_aligned(size_t align, size_t req, void *caller);
// b carries LA_CHECK_PROF and is being freed or resized: drop its sample
// and give it its plain live check word back.
LA_HIDDEN void prof_forget(la_block_t *b);
// Live samples, call sites and bytes of the profiler's tables in use.
LA_HIDDEN void prof_stats(size_t *samples, size_t *sites, size_t *table_bytes);
LA_HIDDEN void prof_lock_all(void);
LA_HIDDEN void prof_unlock_all(void);
LA_HIDDEN void prof_after_fork_child(void);

/* ---- guard.c: sampled guard pages (issue 15) ---------------------------- */

#define LA_SAMPLE_PROF 1  // la.sampling: the heap profiler is on
#define LA_SAMPLE_GUARD 2 // la.sampling: the guard sampler is on

// True for any address in the guard pool (a guarded block or its guard
// pages): the slow paths of free, realloc and malloc_usable_size ask this
// before they read a header, which a guarded block does not have.
LA_INLINE bool guard_owns(const void *p)
{
    return (uintptr_t)p - la_load_relaxed(&la.guard_pool) <
           la_load_relaxed(&la.guard_pool_bytes);
}
// A block of req bytes (aligned to align, a power of two up to a page) on
// its own pages against a guard page; NULL when the pool has no free slot
// or the request does not fit one (the caller then allocates as usual).
// zero: the block must read as zeros (it always does: fresh pages).
// caller: the exported function's return address, where the recorded
// stack starts.
LA_HIDDEN void *guard_alloc(size_t req, size_t align, void *caller);
// free() of a pointer guard_owns(): checks it (double free, not a block
// start, bytes written past it), records the stack, makes the pages
// inaccessible and puts the slot in quarantine.  func names the caller.
LA_HIDDEN void guard_free(void *p, void *caller, const char *func);
// The requested size of a live guarded block (misuse is reported).
LA_HIDDEN size_t guard_usable(const void *p, const char *func);
// realloc of a guarded block: a new ordinary block, the old one freed.
LA_HIDDEN void *guard_realloc(void *p, size_t req, void *caller);
// Sets the sampler up (prof.c's constructor calls it); true if it is on.
LA_HIDDEN bool guard_init(void);
// One in about how many allocations is guarded when the sampler is on.
LA_HIDDEN size_t guard_interval(void);
// Guarded blocks live now, ever made, and samples skipped (the pool was full).
LA_HIDDEN void guard_stats(size_t *live, size_t *made, size_t *skipped);
// The guarded blocks' allocations and frees added into *sum (statistics).
LA_HIDDEN void guard_sum_counters(la_counters_t *sum);
LA_HIDDEN void guard_lock_all(void);
LA_HIDDEN void guard_unlock_all(void);
LA_HIDDEN void guard_after_fork_child(void);
// prof.c's stack capture, without allocating: up to max return addresses
// from `caller` outwards (our own frames are skipped).
LA_HIDDEN unsigned prof_capture(void **frames, unsigned max, void *caller);
// Draws a per-thread countdown's next value (prof.c's random numbers).
LA_HIDDEN uint64_t prof_random(void);

/* ---- options.c ---------------------------------------------------------- */

LA_HIDDEN void options_read(la_options_t *opts);
// Whether the options ask for every call on the checked paths, with the
// thread caches off: checking mode, or a perturb byte to fill blocks with
// (Valgrind asks for the same, found at debug_init).
LA_INLINE bool options_want_checked_paths(const la_options_t *opts)
{
    return opts->check || opts->perturb != 0;
}

#endif /* LA_INTERNAL_H */
