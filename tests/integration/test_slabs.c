// SPDX-License-Identifier: MIT
/*
 * test_slabs: what the slab layer promises through the _ts family (the
 * exported malloc family's code): the class sizes as usable sizes, realloc
 * within a slot never moving, an empty slab going back to the heap and
 * out by mem_trim, frees from another thread taken back by the owner
 * (slots, and medium blocks before the top is cut again),
 * aligned requests from slots of classes whose slots are aligned,
 * slots outliving the thread that allocated them, a thread's first free of
 * a slot its creator gave it, a consumer's bin of other heaps' slots kept
 * small, fork, the 8-byte class's slots (kept in a stack, not a bin), and
 * the heap walk after each step.  It peeks at
 * slab_stats() for the per-class counts.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "allocator.h"
#include "slab.h"
#include "tcache.h"
#include "../testhelper.h"

static size_t slabs_in_use(void)
{
    la_slab_stats_t st[LA_SLAB_CLASSES];
    slab_stats(st);
    size_t n = 0;
    for (unsigned c = 0; c < LA_SLAB_CLASSES; c++)
        n += st[c].slabs;
    return n;
}

static void test_sizes(void)
{
    for (size_t n = 0; n <= LA_SLAB_MAX_BYTES; n++) {
        unsigned char *p = mem_malloc_ts(n);
        REQUIRE(p != NULL);
        size_t u = mem_usable_size(p);
        CHECK(u >= n && u >= (n <= 8 ? 8 : 16));
        CHECK(n < 64 || (u - n) * 4 < u); // within 25% from 64 bytes on
        // As glibc's but up to 8 bytes, which no object needing 16 fits.
        CHECK((uintptr_t)p % (n <= 8 ? 8 : 16) == 0);
        memset(p, 0xcd, u); // all of the usable size is the program's
        mem_free_ts(p);
    }
    // The bytes per live block: 8, 16, 24 -> 32, 100 -> 112, 1000 -> 1008.
    size_t want[][2] = {{8, 8}, {16, 16}, {24, 32}, {100, 112}, {1000, 1008}, {0, 8}, {9, 16}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        void *p = mem_malloc_ts(want[i][0]);
        CHECK_EQ(mem_usable_size(p), want[i][1]);
        mem_free_ts(p);
    }
    void *a = mem_aligned_alloc(16, 24); // 16-aligned: the 32-byte class
    CHECK((uintptr_t)a % 16 == 0);
    mem_free_ts(a);
    // 16 asked of a request the 8-byte class would take: a 16-byte slot.
    for (size_t n = 0; n <= 8; n++) {
        a = mem_aligned_alloc(16, n);
        CHECK((uintptr_t)a % 16 == 0);
        CHECK_EQ(mem_usable_size(a), 16);
        mem_free_ts(a);
        a = mem_aligned_alloc(8, n);
        CHECK((uintptr_t)a % 8 == 0);
        mem_free_ts(a);
    }
    CHECK_EQ(mem_check_heap(), 0);
}

// The first class at or above n whose slots all sit on `align` boundaries,
// if it is at most LA_ALIGNED_SLOT_MAX_RATIO times what the request and
// its alignment need
// (alloc.c's aligned_class), or -1.
static int aligned_class(size_t align, size_t n)
{
    for (unsigned c = sizeclass_of(n); c < LA_SLAB_CLASSES; c++) {
        const la_sizeclass_t *k = &la_sizeclasses[c];
        if ((k->size % align) == 0 && slab_first_offset(k) % align == 0)
            return k->size <= LA_ALIGNED_SLOT_MAX_RATIO * (n > align ? n : align) ? (int)c : -1;
    }
    return -1;
}

// Aligned requests a slot can hold come from slots of a class whose slots
// are all aligned; the others, and alignments no class gives, from the
// heap: aligned either way, with the usable size they asked for.
static void test_aligned(void)
{
    static const size_t aligns[] = {32, 64, 128, 256, 512, 1024, 2048, 4096};
    static const size_t reqs[] = {0, 1, 7, 24, 32, 33, 64, 65, 100, 200, 448, 449, 500,
                                  1000, 1025, 2000, 2048, 2049, 5000};
    size_t slots = 0;
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++)
        for (size_t r = 0; r < sizeof reqs / sizeof reqs[0]; r++) {
            size_t align = aligns[a], n = reqs[r];
            unsigned char *p = mem_aligned_alloc(align, n);
            REQUIRE(p != NULL);
            CHECK((uintptr_t)p % align == 0);
            size_t u = mem_usable_size(p);
            CHECK(u >= n);
            int c = n <= LA_SLAB_MAX_BYTES ? aligned_class(align, n) : -1;
            la_slab_t *s = slab_of(p);
            CHECK((s != NULL) == (c >= 0));
            if (s != NULL && c >= 0) {
                CHECK_EQ(s->cls, (unsigned)c);
                slots++;
            }
            memset(p, 0xa5, u);
            mem_free_ts(p);
        }
    CHECK(slots >= 20); // 32 and 64 from every class up to 2 KiB that allows them
    // A cache line each, many at once, then freed: all slots of the
    // 64-byte class, all distinct.
    enum { N = 3000 };
    static void *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = mem_aligned_alloc(64, 64);
        REQUIRE(v[i] != NULL);
        CHECK((uintptr_t)v[i] % 64 == 0 && mem_usable_size(v[i]) == 64);
        memset(v[i], i, 64);
    }
    for (int i = 0; i < N; i++)
        CHECK(((unsigned char *)v[i])[63] == (unsigned char)i);
    for (int i = N; i-- > 0;)
        mem_free_ts(v[i]);
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_realloc(void)
{
    char *p = mem_malloc_ts(20);
    memcpy(p, "0123456789abcdefghi", 20);
    CHECK(mem_realloc_ts(p, 32) == p); // within the 32-byte slot
    CHECK(mem_realloc_ts(p, 1) == p);  // shrinking never moves either
    CHECK(mem_realloc_ts(p, 17) == p);
    char *q = mem_realloc_ts(p, 33); // leaves the class: moves once
    REQUIRE(q != NULL);
    CHECK(q != p && memcmp(q, "0123456789abcdefg", 17) == 0);
    CHECK(mem_realloc_ts(q, 48) == q);
    char *big = mem_realloc_ts(q, 5000); // to a heap block
    REQUIRE(big != NULL);
    CHECK(memcmp(big, "0123456789abcdefg", 17) == 0);
    mem_free_ts(big);
    // Below LA_REALLOC_HEAP_FROM_BYTES a slot that outgrows its class moves
    // to the next class.
    char *c = mem_malloc_ts(200);
    REQUIRE(c != NULL);
    memset(c, 'c', 200);
    size_t croom = mem_usable_size(c);
    CHECK(croom < LA_REALLOC_HEAP_FROM_BYTES);
    char *d = mem_realloc_ts(c, croom + 1);
    REQUIRE(d != NULL);
    CHECK(slab_of(d) != NULL && d[0] == 'c' && d[199] == 'c');
    mem_free_ts(d);
    // From LA_REALLOC_HEAP_FROM_BYTES on, a slot grown in small steps moves
    // when it outgrows its slot, to a heap block with its slack to spare
    // (an eighth below LA_REALLOC_SLACK_SMALL_BYTES), not to the next
    // class (issue 13: strings grown through every class left partly used
    // slabs of each behind), and grows in place while that spare lasts.
    _Static_assert(LA_SLAB_MAX_BYTES < LA_REALLOC_SLACK_SMALL_BYTES, "slack below 16 KiB");
    char *g = mem_malloc_ts(1100);
    REQUIRE(g != NULL);
    size_t moves = 0, room = mem_usable_size(g);
    CHECK(room >= LA_REALLOC_HEAP_FROM_BYTES);
    memset(g, 'g', 1100);
    for (size_t n = 1101; n <= LA_SLAB_MAX_BYTES + 1; n++) {
        char *h = mem_realloc_ts(g, n);
        REQUIRE(h != NULL);
        CHECK(h[0] == 'g' && h[1099] == 'g');
        CHECK(h == g || n > room); // within its block it never moves
        if (h != g) {
            CHECK(slab_of(h) == NULL);
            CHECK(mem_usable_size(h) >= n + n / LA_REALLOC_SLACK_SMALL_DIVISOR);
        }
        moves += h != g;
        room = mem_usable_size(h);
        g = h;
    }
    CHECK(slab_of(g) == NULL);
    // 1280 to a heap block of 1440 or more (an eighth to spare), which
    // grows in place or moves when it outgrows that: at most as often as
    // a move whenever the request passes what the last move gave.
    size_t most = 0;
    for (size_t cap = 1280; cap <= LA_SLAB_MAX_BYTES; most++)
        cap = cap + 1 + (cap + 1) / LA_REALLOC_SLACK_SMALL_DIVISOR;
    CHECK(moves >= 1 && moves <= most);
    mem_free_ts(g);
    // The direct path's realloc does the same with a slot.
    char *e = mem_malloc_ts(600);
    REQUIRE(e != NULL);
    memset(e, 'e', 600);
    char *f = mem_realloc(e, mem_usable_size(e) + 1);
    REQUIRE(f != NULL);
    CHECK(slab_of(f) == NULL && f[0] == 'e' && f[599] == 'e');
    mem_free_ts(f);
    // mem_realloc and mem_free (the direct path) accept a slot too.
    char *s = mem_malloc_ts(40);
    CHECK(mem_realloc(s, 48) == s);
    mem_free(s);
    CHECK_EQ(mem_check_heap(), 0);
}

#define MANY 20000

static void *many[MANY + 1]; // NULL-terminated for free_array

static void test_empty_slabs_return(void)
{
    mem_trim(0);
    size_t before = slabs_in_use();
    for (int i = 0; i < MANY; i++)
        many[i] = mem_malloc_ts(64 + (size_t)(i % 4) * 16); // 4 classes, 20 slabs or so
    CHECK(slabs_in_use() >= before + 4);
    for (int i = 0; i < MANY; i++)
        mem_free_ts(many[i]);
    CHECK_EQ(mem_check_heap(), 0);
    mem_trim(0); // the cache's slots, then every empty slab, go back
    CHECK(slabs_in_use() <= before);
    CHECK_EQ(mem_check_heap(), 0);
}

// A thread that frees the blocks of a NULL-terminated array.
static void *free_array(void *arg)
{
    for (void **p = arg; *p != NULL; p++)
        mem_free_ts(*p);
    return NULL;
}

static void *alloc_all(void *arg)
{
    (void)arg;
    for (int i = 0; i < MANY; i++) {
        many[i] = mem_malloc_ts(32);
        memset(many[i], 0x11, 32);
    }
    return NULL;
}

// Frees from another thread reach the owner's remote list and are used
// again: the same amount allocated round after round, each round freed by
// a new thread (bound to the other heap every other time), settles at a
// heap size and stays there.
static void test_remote(void)
{
    run_thread(alloc_all, NULL); // slots outlive the thread that made them
    size_t settled = 0;
    for (int round = 0; round < 16; round++) {
        run_thread(free_array, many);
        for (int i = 0; i < MANY; i++)
            many[i] = mem_malloc_ts(32);
        if (round == 7)
            settled = mem_get_stats().heap_size;
        CHECK_EQ(mem_check_heap(), 0);
    }
    // A leak would add a round's 640 KB of slots eight more times.
    CHECK(mem_get_stats().heap_size <= settled + 256 * 1024);
    for (int i = 0; i < MANY; i++)
        mem_free_ts(many[i]);
    CHECK_EQ(mem_check_heap(), 0);
}

#define RELAYED 32
#define RELAYED_BYTES (12 * 1024) // medium: heap blocks, not slots
static void *relayed[RELAYED + 1];  // NULL-terminated for free_array
static la_heap_t *relayed_heap;     // the heap the blocks were made in

// Frees relayed[] if this thread's cache is bound to another heap than
// the blocks', and leaves relayed[0] NULL otherwise.
static void *free_relayed_elsewhere(void *arg)
{
    (void)arg;
    mem_free_ts(mem_malloc_ts(16)); // this thread's cache, bound to a heap
    if (tcache_heap() != relayed_heap)
        free_array(relayed);
    else
        relayed[0] = NULL;
    return NULL;
}

// Medium blocks a thread of another heap freed wait on their heap's
// remote list; the owner's next requests take them back before anything
// else, so that they come from the span the freed blocks held, not from
// the top: each on the list was resident, the top's pages maybe not
// (w_pipeline's peak held 1.2 MiB of freed messages while its producer
// cut fresh top).
static void test_remote_blocks_reused(void)
{
    if (la.debug) {
        printf("test_slabs: remote blocks skipped: checking mode frees every block directly\n");
        return;
    }
    mem_free_ts(mem_malloc_ts(16)); // this thread's cache
    relayed_heap = tcache_heap();
    bool relayed_away = false;
    for (int tries = 0; tries < 4 && !relayed_away; tries++) {
        for (int i = 0; i < RELAYED; i++)
            relayed[i] = mem_malloc_ts(RELAYED_BYTES);
        void *first = relayed[0];
        run_thread(free_relayed_elsewhere, NULL);
        relayed_away = relayed[0] != NULL;
        if (!relayed_away) { // bound to this heap: free them here
            mem_free_ts(first);
            free_array(relayed + 1);
        }
    }
    if (!relayed_away) {
        printf("test_slabs: remote blocks skipped: no thread of 4 bound to another heap\n");
        return;
    }
    // The premise: the blocks wait on the list, and the top could serve.
    REQUIRE(__atomic_load_n(&relayed_heap->remote, __ATOMIC_RELAXED) != NULL);
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < RELAYED; i++) {
        lo = LA_MIN(lo, (uintptr_t)relayed[i]);
        hi = LA_MAX(hi, (uintptr_t)relayed[i] + RELAYED_BYTES);
    }
    lock_acquire(&relayed_heap->lock);
    la_block_t *top = relayed_heap->top;
    bool top_serves = top != NULL && blk_size(top) > 2 * RELAYED_BYTES;
    lock_release(&relayed_heap->lock);
    REQUIRE(top_serves);
    int inside = 0;
    for (int i = 0; i < RELAYED; i++) {
        relayed[i] = mem_malloc_ts(RELAYED_BYTES);
        inside += (uintptr_t)relayed[i] >= lo && (uintptr_t)relayed[i] < hi;
    }
    CHECK_EQ(inside, RELAYED);
    CHECK(__atomic_load_n(&relayed_heap->remote, __ATOMIC_RELAXED) == NULL);
    for (int i = 0; i < RELAYED; i++)
        mem_free_ts(relayed[i]);
    CHECK_EQ(mem_check_heap(), 0);
}

// Slots of 48 bytes in use (live, in a cache or on a remote list).
static size_t used_slots_48(void)
{
    la_slab_stats_t st[LA_SLAB_CLASSES];
    slab_stats(st);
    return st[sizeclass_of(48)].used_slots;
}

#define ADOPT 400
static void *adopted[ADOPT + 1]; // NULL-terminated for free_array

// A dry bin takes its heap's remote list whole, past its room (400 slots
// of 48 bytes where it has room for 85), and its thread's exit gives
// every slot back all the same (issue 14).
static void *adopt_then_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < ADOPT; i++)
        adopted[i] = mem_malloc_ts(48);
    // The next cache made: bound to the other heap when there are two.
    run_thread(free_array, adopted);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < ADOPT; i++)
            adopted[i] = mem_malloc_ts(48);
        for (int i = 0; i < ADOPT; i++)
            mem_free_ts(adopted[i]);
    }
    return NULL;
}

static void test_adopt_then_exit(void)
{
    mem_trim(0);
    size_t before = used_slots_48();
    run_thread(adopt_then_exit, NULL);
    mem_trim(0); // remote lists back into the slabs
    CHECK_EQ(used_slots_48(), before);
    CHECK_EQ(mem_check_heap(), 0);
}

#define CONSUMED 2000
static void *consumed[CONSUMED + 1]; // NULL-terminated for free_array
static size_t consumed_bytes;

// Slots of consumed_bytes made by a thread bound to another heap than
// `arg`'s (it frees them and leaves consumed[0] NULL otherwise).
static void *produce(void *arg)
{
    for (int i = 0; i < CONSUMED; i++)
        consumed[i] = mem_malloc_ts(consumed_bytes);
    if (slab_of(consumed[0])->heap == arg) {
        free_array(consumed);
        consumed[0] = NULL;
    }
    return NULL;
}

// A thread that frees another heap's slots of a class it never allocates
// (a consumer) holds at most LA_TC_FOREIGN_BIN_BYTES and
// LA_TC_FOREIGN_BIN_SLOTS of them (or its bin's starting capacity), not a
// bin grown to LA_TC_BIN_BYTES_MAX: what it holds, their owner carves
// again (issue 13: 400 KB of w_pipeline's peak RSS).  And every slot gets
// back.  512 bytes meets the byte bound, 128 the slot bound.
static void consume_class(size_t bytes)
{
    mem_free_ts(mem_malloc_ts(16)); // this thread's cache
    la_heap_t *mine = tcache_heap();
    consumed_bytes = bytes;
    consumed[0] = NULL;
    for (int tries = 0; tries < 4 && consumed[0] == NULL; tries++)
        run_thread(produce, mine);
    if (consumed[0] == NULL) {
        printf("test_slabs: consumer bin skipped: no thread of 4 bound to another heap\n");
        return;
    }
    unsigned c = sizeclass_of(bytes);
    la_tbin_t *bin = &la_tc->bins[c];
    size_t start = LA_MAX((size_t)LA_TC_BIN_BYTES / bytes, (size_t)LA_TC_COUNT_MIN);
    size_t bound = LA_MIN((size_t)LA_TC_FOREIGN_BIN_BYTES / bytes, (size_t)LA_TC_FOREIGN_BIN_SLOTS);
    int32_t most = 0;
    for (int i = 0; i < CONSUMED; i++) {
        mem_free_ts(consumed[i]);
        most = LA_MAX(most, (int32_t)bin->cap - bin_room(bin));
    }
    CHECK(most > 0);
    CHECK((size_t)most <= LA_MAX(start, bound));
    mem_trim(0); // this cache and the remote lists back into the slabs
    la_slab_stats_t st[LA_SLAB_CLASSES];
    slab_stats(st);
    CHECK_EQ(st[c].used_slots, 0);
    CHECK_EQ(mem_check_heap(), 0);
}

static void test_consumer_bin(void)
{
    _Static_assert(LA_TC_FOREIGN_BIN_BYTES / 512 <= LA_TC_FOREIGN_BIN_SLOTS &&
                       LA_TC_FOREIGN_BIN_BYTES / 128 > LA_TC_FOREIGN_BIN_SLOTS &&
                       LA_TC_BIN_BYTES / 128 < LA_TC_FOREIGN_BIN_SLOTS,
                   "512 bytes meet the byte bound, 128 the slot bound");
    if (la.heap_target < 2) {
        printf("test_slabs: consumer bin skipped: one heap (%u CPU), every thread shares it\n",
               la.heap_target);
        return;
    }
    consume_class(512);
    consume_class(128);
}

static void test_fork(void)
{
    for (int i = 0; i < 1000; i++)
        many[i] = mem_malloc_ts((size_t)i % 1000);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int bad = mem_check_heap();
        for (int i = 0; i < 1000; i++)
            mem_free_ts(many[i]);
        for (int i = 0; i < 1000; i++)
            mem_free_ts(mem_malloc_ts((size_t)i));
        _exit(bad || mem_check_heap() ? 1 : 0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 1000; i++)
        mem_free_ts(many[i]);
}

// A slot fresh from malloc must not look linked (free's and
// malloc_usable_size's double-free test) whatever a program writes into
// its first bytes.  The last slot of a bin's list has word 0 equal to its
// tag; when malloc cleared only word 1, writing byte 0 and byte 8 made the
// link relation hold for one value in 256 of byte 8, and such a block was
// called a double free.  Refills leave such a last slot among the 4096.
static void test_fresh_slot_writes(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        enum { N = 4096 };
        static unsigned char *many[N];
        for (int i = 0; i < N; i++)
            many[i] = mem_malloc_ts(24);
        for (int i = 0; i < N; i++)
            for (int v = 0; v < 256; v++) {
                many[i][0] = (unsigned char)i;
                many[i][8] = (unsigned char)v;
                (void)mem_usable_size(many[i]); // aborts if it looks free
            }
        for (int i = 0; i < N; i++)
            mem_free_ts(many[i]);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// A thread's first free is often of a block its creator handed it; the
// slot goes back to its slab rather than becoming the thread's next slot
// of the class, a neighbour of what the creator gave the other threads
// (w_falseshare passive).  Threads take heaps in turn, so one of the next
// la.heap_target threads lands on a heap other than the slot's.
typedef struct {
    void *given, *next;
    la_heap_t *own_heap;
} handoff_t;

static void *free_given_then_alloc(void *arg)
{
    handoff_t *h = arg;
    mem_free_ts(h->given);
    h->next = mem_malloc_ts(16);
    h->own_heap = tcache_heap();
    return NULL;
}

static void test_handoff(void)
{
    if (la.heap_target < 2) {
        printf("test_slabs: handoff skipped: one heap (%u CPU), every thread shares it\n",
               la.heap_target);
        return;
    }
    void *neighbour = mem_malloc_ts(16);
    bool foreign = false;
    for (unsigned i = 0; i <= la.heap_target && !foreign; i++) {
        handoff_t h = {.given = mem_malloc_ts(16)};
        la_heap_t *given_heap = slab_of(h.given)->heap;
        run_thread(free_given_then_alloc, &h);
        REQUIRE(h.next != NULL);
        foreign = h.own_heap != given_heap;
        if (foreign) {
            CHECK(h.next != h.given);
            CHECK(slab_of(h.next)->heap == h.own_heap);
        }
        mem_free_ts(h.next);
    }
    CHECK(foreign); // the turns reached another heap
    mem_free_ts(neighbour);
    CHECK_EQ(mem_check_heap(), 0);
}

// The 8-byte class (slab.h, slab_one_word): slots 8 bytes apart, whose
// free ones hold a one-word mark instead of link words, and which a thread
// keeps in a stack of pointers (tcache.h) rather than a bin.  Thousands
// allocated keep their values (no slot handed out twice), frees past the
// stack's room go back to the slabs, a thread's frees of slots it did not
// allocate wait in its stack and go back to their own heap's slabs when
// it exits, and the heap walk and the counts agree after each step.
#define WORDS 5000
static uint64_t *words[WORDS + 1]; // NULL-terminated for free_array

static size_t word_slots_in_use(void)
{
    la_slab_stats_t st[LA_SLAB_CLASSES];
    slab_stats(st);
    return st[LA_SLAB_WORD_CLASS].used_slots;
}

static size_t word_slots_cached(void)
{
    size_t slots[LA_SLAB_CLASSES] = {0}, block_bytes = 0;
    tcache_cached_slots(slots, &block_bytes);
    return slots[LA_SLAB_WORD_CLASS];
}

static void test_word_class(void)
{
    if (la.debug) {
        printf("test_slabs: 8-byte class skipped: checking mode's slots are bigger\n");
        return;
    }
    for (size_t i = 0; i < WORDS; i++) {
        words[i] = mem_malloc_ts(i % 9); // 0 to 8 bytes
        REQUIRE(words[i] != NULL);
        CHECK_EQ(mem_usable_size(words[i]), 8);
        CHECK((uintptr_t)words[i] % 8 == 0);
        CHECK_EQ(slab_of(words[i])->cls, LA_SLAB_WORD_CLASS);
        *words[i] = i * 0x9e3779b97f4a7c15u;
    }
    for (size_t i = 0; i < WORDS; i++)
        CHECK_EQ(*words[i], i * 0x9e3779b97f4a7c15u);
    CHECK(word_slots_in_use() >= WORDS);
    CHECK_EQ(mem_check_heap(), 0);
    // Every other one freed here: the stack overflows and gives slots
    // back many times; what it holds is counted as cached.
    for (size_t i = 0; i < WORDS; i += 2)
        mem_free_ts(words[i]);
    size_t cached = word_slots_cached();
    CHECK(cached > 0 && cached <= LA_TC_WORD_SLOTS_MAX);
    CHECK_EQ(mem_check_heap(), 0);
    // Taken again: the freed ones come back, the live ones keep their values.
    for (size_t i = 0; i < WORDS; i += 2) {
        words[i] = mem_malloc_ts(8);
        REQUIRE(words[i] != NULL);
        *words[i] = i * 0x9e3779b97f4a7c15u;
    }
    for (size_t i = 0; i < WORDS; i++)
        CHECK_EQ(*words[i], i * 0x9e3779b97f4a7c15u);
    // Freed by another thread: into its stack, then at its exit back to
    // this thread's heap's slabs (no remote list takes one-word slots).
    size_t live = word_slots_in_use();
    words[WORDS] = NULL;
    run_thread(free_array, words);
    CHECK_EQ(mem_check_heap(), 0);
    CHECK(word_slots_in_use() + WORDS <= live + LA_TC_WORD_SLOTS_MAX);
    // What the main thread's stack still holds goes back by mem_trim's flush.
    mem_trim(0);
    CHECK_EQ(word_slots_cached(), 0);
    CHECK_EQ(mem_check_heap(), 0);
}

// The word stack grows as a bin does: a burst of 8-byte blocks that runs
// it dry and then overflows it doubles it, up to LA_TC_WORD_SLOTS_MAX, and
// once it holds the burst, the burst's frees and allocations stay in the
// cache (nothing moves to or from the slabs).  A burst that only frees
// does not grow it.
#define BURST 3000
static int32_t freer_cap; // the room of free_burst's thread's stack at its end

static void *free_burst(void *arg)
{
    uint64_t **v = arg;
    for (size_t i = 0; i < BURST; i++)
        mem_free_ts(v[i]);
    freer_cap = la_tc->words_cap;
    return NULL;
}

static void test_word_stack_grows(void)
{
    if (la.debug) {
        printf("test_slabs: word stack skipped: checking mode keeps no slots\n");
        return;
    }
    _Static_assert(BURST > LA_TC_WORD_SLOTS && BURST < LA_TC_WORD_SLOTS_MAX, "grows to hold it");
    static uint64_t *b[BURST];
    la_tcache_t *tc = la_tc;
    int64_t moved = 0;
    for (int round = 0; round < 8; round++) {
        moved = tc->bins[LA_SLAB_WORD_CLASS].moved;
        for (size_t i = 0; i < BURST; i++) {
            b[i] = mem_malloc_ts(1 + i % 8);
            REQUIRE(b[i] != NULL);
            *(uint8_t *)b[i] = (uint8_t)(i + round);
        }
        for (size_t i = 0; i < BURST; i++)
            CHECK_EQ(*(uint8_t *)b[i], (uint8_t)(i + round));
        for (size_t i = 0; i < BURST; i++)
            mem_free_ts(b[i]);
        CHECK(tc->words_cap >= LA_TC_WORD_SLOTS && tc->words_cap <= LA_TC_WORD_SLOTS_MAX);
        CHECK(tc->words_held <= tc->words_cap);
    }
    CHECK(tc->words_cap >= BURST);
    CHECK(word_slots_cached() >= BURST);
    CHECK_EQ(tc->bins[LA_SLAB_WORD_CLASS].moved, moved); // the last round: no slab trip
    CHECK_EQ(mem_check_heap(), 0);
    // Frees alone (another thread's blocks) do not grow a stack.
    for (size_t i = 0; i < BURST; i++) {
        b[i] = mem_malloc_ts(8);
        REQUIRE(b[i] != NULL);
    }
    run_thread(free_burst, b);
    CHECK_EQ(freer_cap, LA_TC_WORD_SLOTS);
    mem_trim(0);
    CHECK_EQ(word_slots_cached(), 0);
    CHECK_EQ(mem_check_heap(), 0);
}

// A bin's room is pops - full_at modulo 2^32 (tcache.h, bin_room): as its
// pops pass a multiple of 2^32, the bin still takes what it has room for
// and no more, and its pops still count every allocation.  The pops are
// moved to 3 short of the wrap (the room kept), then taken back.
static size_t bin_length(const la_tbin_t *bin)
{
    size_t n = 0;
    for (const uintptr_t *p = bin->head; p != NULL && n <= UINT16_MAX; p = (const uintptr_t *)p[1])
        n++;
    return n;
}

static void test_room_wraps(void)
{
    if (la.debug) {
        printf("test_slabs: room wrap skipped: checking mode keeps no slots\n");
        return;
    }
    enum { BYTES = 64, ROUNDS = 6 };
    static void *b[2 * UINT16_MAX];
    mem_free_ts(mem_malloc_ts(BYTES)); // this thread's cache, the bin's first refill
    la_tbin_t *bin = tcache_bin_of(la_tc, BYTES);
    uint64_t delta = (uint32_t)(0xFFFFFFFDu - (uint32_t)bin->pops);
    int32_t room = bin_room(bin);
    bin->pops += delta;
    bin_set_room(bin, room);
    uint64_t pops = bin->pops;
    size_t allocs = 0;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = (size_t)bin->cap + 5 + (size_t)round; // past what the bin holds
        for (size_t i = 0; i < n; i++) {
            b[i] = mem_malloc_ts(BYTES);
            REQUIRE(b[i] != NULL);
            allocs++;
            int32_t held = (int32_t)bin->cap - bin_room(bin);
            CHECK(held >= 0 && held <= bin->cap);
        }
        for (size_t i = 0; i < n; i++) {
            mem_free_ts(b[i]);
            int32_t held = (int32_t)bin->cap - bin_room(bin);
            CHECK(held >= 0 && held <= bin->cap);
        }
        CHECK(bin_room(bin) < bin->cap); // the frees filled it ...
        CHECK_EQ(bin_length(bin), (size_t)((int32_t)bin->cap - bin_room(bin))); // ... as it says
    }
    CHECK((uint32_t)bin->pops < 0x80000000u); // past the wrap
    CHECK_EQ(bin->pops - pops, allocs);
    room = bin_room(bin);
    bin->pops -= delta;
    bin_set_room(bin, room);
    CHECK_EQ(mem_check_heap(), 0);
}

int main(void)
{
    test_consumer_bin(); // first: its thread never allocated 128 or 512 bytes
    test_sizes();
    test_aligned();
    test_realloc();
    test_empty_slabs_return();
    test_remote();
    test_remote_blocks_reused();
    test_adopt_then_exit();
    test_handoff();
    test_fork();
    test_fresh_slot_writes();
    test_word_class();
    test_word_stack_grows();
    test_room_wraps();
    CHECK_EQ(mem_check_heap(), 0);
    return test_report("test_slabs");
}
