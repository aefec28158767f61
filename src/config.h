// SPDX-License-Identifier: MIT
/*
 * config.h: every tunable and magic number of liballocator, with its unit and
 * the reason for its value.  The seed's names (MIN_BLOCK_SIZE, ALIGNMENT,
 * NUM_SIZE_CLASSES, MMAP_THRESHOLD, BRK_INCREMENT) are kept.  Nothing here
 * depends on anything else; include it first.
 */
#ifndef LA_CONFIG_H
#define LA_CONFIG_H

#include <stdint.h> // PTRDIFF_MAX, SIZE_MAX

/* ---- build-time switches (set by CMake) --------------------------------- */

// 0 = release; 1 = API misuse checks that cost more than a few instructions;
// 2 = internal asserts; 3 = expensive checks (heap walks).  Used as
// `if (LA_DEBUG >= n)` so every level compiles in every build.
#ifndef LA_DEBUG
#define LA_DEBUG 0
#endif

/* ---- block geometry ----------------------------------------------------- */

// Every pointer handed out is a multiple of this; glibc's guarantee on
// x86_64 (2 * sizeof(size_t)), and what SSE code assumes.  Bytes.
#define ALIGNMENT 16

// Block header on a live block: the size word, requested size and check.
#define LA_HEADER_BYTES 16

// Smallest block: header plus the two free-list links; also the smallest
// remainder worth splitting off.  A free block's footer shares the last word.
#define MIN_BLOCK_SIZE 32

/* ---- size classes ------------------------------------------------------- */

// Segregated free lists: block sizes <=32, <=64, ... <=8192, >8192 bytes.
#define NUM_SIZE_CLASSES 10
// log2 of the first class's limit (32 bytes).
#define LA_CLASS0_SHIFT 5
// Free blocks scanned in one class list before moving to a larger class.
// Bounds malloc's worst case when a class is full of blocks just too small.
#define LA_FIRST_FIT_SCAN_MAX 32

/* ---- memory from the kernel --------------------------------------------- */

// Requests of this many bytes or more get their own mapping (the default;
// mallopt(M_MMAP_THRESHOLD) changes it at run time).  Bytes.
#define MMAP_THRESHOLD (128 * 1024)
// Highest threshold accepted at run time, glibc's limit on 64-bit.  Bytes.
#define LA_MMAP_THRESHOLD_MAX (32 * 1024 * 1024)
// mallopt(M_MXFAST) returns 1 up to this value, as glibc does (its
// MAX_FAST_SIZE on 64-bit: 80 * sizeof(size_t) / 4), and 0 above it; the
// value itself changes nothing here.  Bytes.
#define LA_GLIBC_MXFAST_MAX 160
// glibc's default M_MMAP_MAX (its DEFAULT_MMAP_MAX): the value the option
// has until glibc.malloc.mmap_max or MALLOC_MMAP_MAX_ sets it.  Only 0
// (and below) changes anything here: see la_set_mmap_allowed.  Mappings.
#define LA_GLIBC_MMAP_MAX 65536

// The size of a transparent huge page (ALLOCATOR_THP) when the kernel does
// not say (/sys/kernel/mm/transparent_hugepage/hpage_pmd_size).  Bytes.
#define LA_THP_BYTES_DEFAULT (2 * 1024 * 1024)

// The brk heap grows in steps of this size (of a huge page with
// ALLOCATOR_THP); a request larger than one step
// grows it by the request rounded up to steps.  Bytes.
#define BRK_INCREMENT (64 * 1024)
// A heap that grows for a block keeps at least this much free after it:
// the smallest block of the tree's class, so that what is left stays the
// heap's top (bins.c) and the block freed back merges into it without
// list work (issue 14: a 16 MiB block cut from a region mapped for it
// left a page-sized rest, listed and unlisted every round).  Bytes.
#define LA_GROW_KEEP_BYTES (((size_t)MIN_BLOCK_SIZE << (NUM_SIZE_CLASSES - 2)) + MIN_BLOCK_SIZE)

// Mapped heap regions (brk fallback and the extra heaps) are at least this
// big: large enough that a region call is rare, small enough that an idle
// heap costs little.  Untouched pages are not resident.  Bytes.
#define LA_REGION_BYTES (1024 * 1024)

// Largest request the allocator will try to serve.  Beyond this, size
// arithmetic could overflow, so the answer is ENOMEM.  PTRDIFF_MAX as glibc.
#define LA_MAX_REQUEST ((size_t)PTRDIFF_MAX - 2 * LA_MMAP_THRESHOLD_MAX)

// Largest alignment that aligned_alloc & co accept before ENOMEM.
#define LA_MAX_ALIGNMENT ((size_t)1 << 30)

// The cache of freed large mappings: how many, and how many bytes in all:
// at least LA_LARGE_CACHE_BYTES, and up to a share (1/divisor) of the
// bytes live large blocks map, so that a program cycling through big
// buffers finds them again (issue 14: twenty live 5-25 MB buffers).
// Mappings bigger than that budget are unmapped when freed.  The floor is
// glibc's largest mmap threshold, whose mappings glibc always unmaps: at
// 64 MiB, w_realloc's freed 32 MiB array stayed resident under its next
// round's strings (issue 13: peak RSS 49.2 -> 37.6 MB with heap.c's trim
// after free, glibc 36.1; the memory group's peaks unchanged).  In
// w_bufpool only the first buffers are mappings: once the mmap threshold
// has followed its frees (la_adapt_thresholds) they are heap blocks, and
// the divisor no longer binds there: 4, 8 and 16 give the same peak,
// 450.7-450.8 MB.  Bytes.
#define LA_LARGE_CACHE_SLOTS 16
#define LA_LARGE_CACHE_BYTES (32 * 1024 * 1024)
#define LA_LARGE_CACHE_LIVE_DIVISOR 4
// A cached mapping reused whole when it is at most this share (1/n) bigger
// than the request; beyond, its tail is unmapped so that it costs no RSS.
#define LA_LARGE_REUSE_SLACK_DIVISOR 8
// Unmapped large blocks whose header page stays mapped (as a zero page,
// no RSS) so that a double free of them is reported, not a fault.
#define LA_LARGE_TOMBSTONES 64
// Checking mode's SIGSEGV report on a large block's guard page tries the
// large-block lock this many times (yielding between tries) before it
// reads the list without it: the faulting thread may hold it itself.
#define LA_LARGE_REPORT_LOCK_TRIES 100

/* ---- giving memory back ------------------------------------------------ */

// Free memory is given back once it has been free this long (measured on
// heap operations: there is no background thread).  A program that frees
// and reallocates in a loop refaults at most once per period.  Milliseconds.
#define LA_DECAY_MS 1000
// Once the free top of the brk heap exceeds this (plus BRK_INCREMENT), all
// but BRK_INCREMENT of it is given back (glibc's M_TRIM_THRESHOLD
// default).  Bytes.
#define LA_TRIM_THRESHOLD (128 * 1024)
// A free that trims the top and a growth of the brk heap within the decay
// period after it: the program cycles that much memory through the top,
// and trimming it at every free only makes the next round ask the kernel
// and fault it in again.  The heap then lets its top grow to twice what
// that trim gave back before a free trims it (while the thresholds are
// the dynamic ones), up to this; bigger tops still go back at the free,
// as w_realloc's 13.6 MiB of strings must before its array grows (its
// peak, issue 13).  The decay gives back what stays idle either way.
// Two buffers grown by doubling to 64 KiB, turn about, then freed, 20,000
// times (tests/unit/test_memory.c, test_trim_slack_adapts, says how): 16
// page faults and 3 brk calls a round, 0.85 s (glibc 6 faults, 0.42 s;
// tcmalloc 0.06 s); 0.06 s and 251 faults in all with the slack.  Peak
// RSS (/usr/bin/time -f %M, medians of 3-5): w_pinned 105,468 -> 105,628
// KiB (glibc x 1.05: 106,298), w_realloc, w_rrgrow, w_fragment, w_ruby,
// w_bufpool, w_batch, w_larson and the 1 MiB loop within 0.2 % either
// way.  Bytes.
#define LA_TRIM_ADAPT_MAX (1024 * 1024)
// Free blocks at least this big have their inner pages given back with
// madvise; smaller ones are not worth a syscall.  Bytes.
#define LA_PURGE_MIN_BYTES (32 * 1024)
// The free pages inside a slab go back once its free count has stood
// still this long, and at least one decay pass (slab_purge_pages): with
// ALLOCATOR_DECAY_MS=0 every heap tick is a pass, and slabs that were
// only between two uses lost pages that their next refill faulted in
// again (w_memret: 30,725 -> 47,642 madvise calls, and 1.2 MiB more RSS
// right after its frees).  Milliseconds.
#define LA_SLAB_PURGE_IDLE_MS 100

// The background purging thread (ALLOCATOR_BACKGROUND) starts once the
// heaps of the process span this much, so that small programs (ls, grep)
// never get a second thread.  Bytes.
#define LA_BG_START_BYTES (16 * 1024 * 1024)
// ... and once the program has freed this much since its peak (la.peak
// less la.usage): until then there is little to give back (the issue's
// target: within 8 MiB of the live data), and a program that only
// allocates (w_perblock's 32 MiB of blocks) never pays for the thread, its
// stack and the pages of libc's thread code (about 55 KiB there:
// w_perblock 1 1 1000 went from 1012.7 to 1011.1 bytes a block).  Bytes.
#define LA_BG_START_FREED_BYTES (8 * 1024 * 1024)
// It wakes this often at most, and at least once per half decay period:
// memory then goes back within 1.5 decay periods of being freed.  ms.
#define LA_BG_MIN_SLEEP_MS 10
#define LA_BG_MAX_SLEEP_MS 1000
// Its stack: it only walks heaps.  Bytes.
#define LA_BG_STACK_BYTES (64 * 1024)
// The heap that the starting thread's allocations for it (pthread_create's)
// come from, unless that is the starting thread's own (then heap 0): one
// a thread cache binds to on a machine with two CPUs or more, so that the
// common case adds no heap; the brk heap's top stays whole (issue 14).
#define LA_BG_START_HEAP 1
// A heap reads the clock once per this many operations: often enough
// that "a few more calls" after a pause purge (one in 64 missed a third of
// the time in bench/run.py's memret-decay), rarely enough to cost nothing
// (a vDSO read of the coarse clock is about 20 ns).
#define LA_DECAY_CHECK_EVERY 8
// A heap operation's tick purges its heap again only after it and the
// operations since have paid for the last purge's walk (of the heap's
// slabs and its free blocks big enough to purge) at this many steps of the
// walk an operation: without it, ALLOCATOR_DECAY_MS=0 walked the whole
// heap every LA_DECAY_CHECK_EVERY operations.  A heap of fewer than
// LA_DECAY_CHECK_EVERY * this slabs and blocks is purged as before.  The
// background thread's passes are paced by time alone.  Steps.
#define LA_PURGE_WALK_PER_OP 4
// Free mapped regions one mem_trim() unmaps per heap, at most.
#define LA_TRIM_UNMAP_MAX 32

/* ---- heaps and threads -------------------------------------------------- */

// Upper bound on heaps (the brk heap plus mapped ones).  The heap index is
// kept in one byte of each block header.
#define LA_MAX_HEAPS 64
// A block above the thread caches' bins (heap_alloc_big) that takes a free
// block of the tree whose rest would be less than 1/divisor of it, and at
// most the bytes below, takes it whole: the rest, listed, was taken off
// its list again when the block came back and merged with it, two list
// operations and a split for a few KiB that the next big request rarely
// found free.  Its req stays as asked; the slack goes back with it.
// w_fragment's 32-64 KiB blocks: callgrind Ir (LD_PRELOAD=lib valgrind
// --tool=callgrind w_X args) and peak RSS (/usr/bin/time -f %M, scale 1,
// median of 3; w_pinned's limit is glibc's x 1.05, 106,466 KiB):
//   rest kept below         fragment 0.5 Ir   fragment RSS   pinned RSS
//   (always split)          228.05 M          66,572 KB      104,456 KB
//   1/8, 4 KiB at most      226.20 M          66,256         105,060
//   1/8                     225.97 M          66,308         105,352
//   1/16                    226.07 M          66,724         105,180
//   1/8, 2 KiB at most      226.36 M          66,876         105,516
//   4 KiB                   225.98 M          66,196
//   8 KiB                   225.76 M          66,452
// w_pinned's peak moves by a few hundred KB with any change of layout.
// (With LA_TC_MEDIUM_MAX_BYTES at 8 KiB besides, fragment ran 221.5 M, but
// pinned peaked at 107.0 MB: the medium classes' rounding helps pinned's
// holes fit.)  A block taken whole never passes la.heap_block_max, the
// bound on live heap blocks that free() checks.  Divisor; bytes.
#define LA_BIG_WHOLE_DIVISOR 8
#define LA_BIG_WHOLE_MAX_BYTES 4096

/* ---- thread caches ----------------------------------------------------- */

// Requests up to this size are served from per-thread caches by the fast
// path, one bin per slab class.  Bytes.
#define LA_TC_MAX_BYTES LA_SLAB_MAX_BYTES
// Requests above that and up to this size are cached too, by the slow path:
// it spares them the heap lock.  A power of two.  Once a second thread
// allocates, no bin makes room for blocks above
// LA_TC_MEDIUM_SHARED_MAX_BYTES (see LA_TC_MEDIUM_SOLO_BYTES).  Bytes.
#define LA_TC_MEDIUM_MAX_BYTES (64 * 1024)
#define LA_TC_MEDIUM_SHARED_MAX_BYTES (32 * 1024)
// Medium size classes per doubling (1088, 1152, ... 2048, 2176, ...): a
// request is rounded up by at most 1/16 (sqlite's 4.3 KB pages lost 17% of
// their memory to four classes per doubling).  Eight, with hot caches'
// one-block refills (LA_TC_HOT_REFILL): fuller bins, run dry less often
// (cachegrind --branch-sim=yes, w_medium 0.25 2: 170 K -> 124 K
// mispredicted branches), w_medium 1 2 0.0337 -> 0.0301 s, but 1 8
// 0.0387 -> 0.0399, and w_pinned 1 peaked at 108.1 MB against 105.8
// (glibc x 1.05: 106.5; medians of 5-11, interleaved).  Hot caches alone
// rounding their requests to every second class (a table of their own):
// the same 123 K mispredicts, 3 M more instructions, no faster.
#define LA_TC_MEDIUM_PER_DOUBLING 16
// Medium bins start empty (capacity 0) and grow on demand from one block.
// A bin starts able to hold this many bytes of blocks (its count is this
// divided by its block size, clamped to the counts below); each time it
// overflows it doubles, up to LA_TC_BIN_BYTES_MAX, while what the slab bins
// grew beyond their starting capacity stays within LA_TC_TOTAL_BYTES (a
// batch of 1000 blocks of 16..1024 B needs ~300 KiB).  Bins a thread churns
// grow; the others stay small.  Starting at 4 KiB rather than 1 KiB (256 B
// slots: 16 rather than 4, so refills of 8 rather than 2) cut w_batch's
// allocator instructions by a quarter and w_shuffle's and w_fragment's by a
// tenth; small programs' peak RSS moved by -250..+250 KiB.  Bytes.
#define LA_TC_BIN_BYTES (4096)
#define LA_TC_BIN_BYTES_MAX (256 * 1024)
#define LA_TC_TOTAL_BYTES (512 * 1024)
// A medium bin of a cache that is not hot (LA_TC_MEDIUM_HOT_BYTES) holds
// this many blocks at most.  Each class's count in the bins is a random
// walk, and a bin that ever swung kept the capacity of the walk's highest
// point: halfway through w_ruby 4 (gdb `heap bins`), its bins of 2-4 KiB
// held 500 blocks, 1.5 MB, three times the program's live blocks of those
// sizes.  At 8 (blocks; unbounded but by LA_TC_BIN_BYTES_MAX before),
// peak RSS and instructions (/usr/bin/time -f %M, medians of 7-11,
// interleaved; cachegrind Ir):
//   w_ruby 1        10,140 -> 9,372 KiB (glibc 8,468, mimalloc 10,040);
//                   Ir at 0.1 469.12 -> 469.30 M, time the same
//   w_fragment 0.5  Ir 193.03 -> 193.28 M, peak the same (its 32-64 KiB
//                   bins never held more than 8 blocks)
//   python, sqlite  Ir +0.29 % and the same; time within noise
//   w_largefree     10-15 % slower (request_ns 102 -> 117 at K = 10,000:
//                   its batches of 256 blocks of 8-17 KiB miss more)
// w_pinned, w_rrgrow, w_realloc, w_churn, w_pipeline, w_xmalloc and
// w_medium within their noise; 16 saved half as much (9,756 KiB), 4 little
// more (9,244).  Blocks.
#define LA_TC_MEDIUM_COLD_COUNT_MAX 8
// The medium bins grow within a budget of their own (issue 13): charged to
// LA_TC_TOTAL_BYTES with the slab bins, they stayed at 1-4 blocks once the
// slab bins had used it up, and churned through the heap lock; the slab
// bins, no longer sharing, refill less too.  Callgrind Ir (LD_PRELOAD=lib
// valgrind --tool=callgrind w_X args; churn at 0.25) and peak RSS
// (/usr/bin/time -f %M at scale 1, median of 30 / 10 / 15 runs):
//   medium budget         shared      256 KiB  512 KiB     1 MiB
//   churn 2 remote Ir     480 M       473 M    466-471 M   459 M
//   churn 4 remote Ir     536-541 M   527 M    526-532 M   517 M
//   churn 2 local Ir      439 M       439 M    434-436 M   434 M
//   fragment 0.5 Ir       257 M       259 M    246 M       235 M
//   larson 0.25 8 Ir      408 M       408 M    408 M       408 M
//   churn 1 4 remote      13.3 MB              14.2 MB     16.6 MB (of 7)
//   larson 1 32           25.5 MB              25.8 MB
//   pinned 1              105.5 MB             106.0 MB
// w_churn 1 4 remote's peak spreads over 11-20 MB from run to run under
// either; larson 1 8, fragment 1, batch 1 and the memory group's other
// peaks did not move (its pinned: 102.6 -> 103.4 MiB).  A shared budget of
// 1 MiB saved as much as 512 KiB apart, but grew churn 1 4 remote and
// larson 1 32 to 19.8 and 31.7 MB (medians of 3).
// Bins up to 64 KiB (LA_TC_MEDIUM_MAX_BYTES) with a bigger budget make
// w_fragment faster, its 32-64 KiB blocks coming back warm, at the cost
// of every threaded program's peak: callgrind w_fragment 0.5 Ir, CPU ms
// of w_fragment 1 (perf stat, 15 interleaved, tcmalloc 108.9), peak RSS
// (/usr/bin/time -f %M, medians of 3; glibc: pinned 101.4, churn 4.6 and
// 8.7 MB), AMD EPYC:
//   bins to / budget        Ir       ms     pinned   churn 2 / 4 remote
//   32 KiB / 512 KiB        213.7 M  140.8  105.4    7.7 / 14.7 MB
//   64 KiB / 1 MiB                   132.6
//   64 KiB / 2 MiB                   125.0  106.5    10.8 / 25.4
//   64 KiB / 4 MiB          189.4 M  119.8  109.3    13.7 / 33.6
// A trim of every bin by its low-water mark (jemalloc's tcache GC: half
// of what a bin held all through the last 1024 medium operations goes
// back, its capacity with it) kept most of the gain (193.1 M at 4 MiB,
// 195.7 M at 2 MiB, 203.8 M at 1 MiB) but not the memory: pinned 108.5 /
// 106.3 / 106.5 MB, churn 2 remote 10.0 / 9.9 / 8.8 MB; pinned passes
// glibc's x 1.05 at every budget.  Not merged (the trim's code: branch
// medium-trim).  Bytes.
#define LA_TC_MEDIUM_TOTAL_BYTES (512 * 1024)
// What every one of those measures kept apart is the cost to threaded
// programs, with a cache per thread; a program with one thread has one
// cache.  So while one cache was ever made (one thread allocates: the
// background thread has none), its medium bins grow within this budget
// instead, to blocks of LA_TC_MEDIUM_MAX_BYTES; once a second thread
// allocates, every cache's bins grow within LA_TC_MEDIUM_TOTAL_BYTES and
// to LA_TC_MEDIUM_SHARED_MAX_BYTES only, as before (what the first
// thread's bins hold by then stays theirs).  A program that allocates from
// a second thread first and then runs w_fragment's mix: 63.78 -> 64.28 M
// instructions (its 32-64 KiB requests pass bins that stay empty), 55.38 M
// with one thread.  Callgrind Ir (w_fragment 0.5, w_largefree 0.25 1
// 1000, w_ruby 0.1) and peak RSS (/usr/bin/time -f %M at scale 1, AMD
// EPYC; glibc's beside):
//   bins to / budget   fragment Ir  largefree Ir  fragment  ruby     pinned
//   32 KiB / 512 KiB   212.4 M      61.7 M        66.1 MB   9.5 MB   105.4
//   64 KiB / 512 KiB   220.9 M
//   32 KiB / 2 MiB     201.5 M                    67.9      10.1
//   64 KiB / 1 MiB     203.0 M                    69.0      10.0
//   64 KiB / 2 MiB     192.5 M      34.6 M        68.4      10.1     105.6
//   glibc                                         71.8      8.5      101.4
// w_ruby's instructions do not move (465.9 M); its peak grows by 0.6 MB,
// mimalloc's 10.0, jemalloc's 11.7, tcmalloc's 15.3.  What an idle thread
// keeps grows by what its bins hold: w_memret 1 1 decay 1500's RSS after
// the wait, 6.9 -> 8.1 MiB above its start (1 MiB: 7.5).  A budget of a
// sixteenth of the thread's live bytes, between 512 KiB and this, kept
// w_fragment's gain (192.7 M) and w_ruby's old peak (9.5 MB), but w_pinned
// peaked at 107.0 MB (glibc x 1.05 = 106.5).  Bytes.
#define LA_TC_MEDIUM_SOLO_BYTES (2048 * 1024)
// A thread of a threaded process that churns medium blocks earns a
// budget of LA_TC_MEDIUM_HOT_BYTES, every class (tcache.c, count_trip):
// once LA_TC_HOT_TRIPS of its medium frees went to the heap within
// LA_TC_HOT_MS (each a coalesce under the heap's lock, as each request
// its bins miss is a best fit and a split), a quarter as many of its
// requests went there too, and those requests were at least one in
// LA_TC_HOT_SHARE of all its allocations.  Its bins shrink back to the
// shared budget when memory is next given back (the epoch: a purge or a
// trim).  The share keeps w_churn's threads out: they allocate and free
// 8-16 KiB buffers among many small blocks (2% of their requests), and
// a bigger budget bought them 0-5% of time for 30-50% more peak RSS.
// w_medium 1 T (medians of 5, interleaved, AMD EPYC; wall s / peak RSS):
//   threads   not hot             hot, 2 MiB          hot, 4 MiB          tcmalloc
//   1         0.74 s / 5.8 MB     0.22 / 6.6          0.11 / 7.6          0.04 / 10.4
//   2         0.40 / 9.5          0.15 / 11.2         0.07 / 13.5         0.03 / 13.1
//   8         0.49 / 26.4         0.19 / 33.6         0.10 / 37.4         0.05 / 27.6
// (glibc 1.01 s / 4.1 MB, 0.91 s / 22.9 MB at 8; mimalloc 0.18 / 9.9 and
// 0.15 / 56.1; at 4 MiB a hot thread misses on 0.6% of its requests.)
// w_churn 1 2|4 remote, 1 2 local, w_pipeline, w_larson, w_xmalloc,
// w_falseshare: time and peak RSS as before within their noise; the
// programs of the suite (python, sqlite, sort, redis) and the return rows
// the same.  A process's one thread keeps LA_TC_MEDIUM_SOLO_BYTES: let it
// turn hot too, and w_pinned 1 peaked at 107.8 MB rather than 105.8
// (glibc 101.4, x 1.05 = 106.5).
// At 4 MiB, with bins of four 64 KiB blocks at most (LA_TC_BIN_BYTES_MAX),
// a hot bin was full on a third of its frees and dry on a quarter of its
// mallocs: each a mispredicted branch of the hit paths, 1.1 a step
// (cachegrind --branch-sim=yes, w_medium 0.1 1: 443,710), more of the
// time than the instructions.  At 8 MiB, with bins to
// LA_TC_HOT_BIN_BYTES_MAX, 220,446 (cmp of 7 and 5, wall s / peak RSS):
//   threads   4 MiB, 256 KiB    8 MiB, 1 MiB     tcmalloc
//   1         0.146 / 7.6 MB    0.085 / 6.1      0.058 / 10.4
//   2         0.065 / 13.5      0.043 / 9.9      0.022 / 13.2
//   8         0.077 / 37.2      0.055 / 32.5     0.034 / 27.0
// The peak falls with the bigger cache: fewer of the blocks go back to
// the heap, to be coalesced and split again into new holes.  The twelve
// other rows of w_churn, w_larson, w_xmalloc, w_pipeline, w_falseshare,
// w_fragment, w_largefree, w_pinned and w_ruby did not move.
// The peak forms before the thread turns hot: each trip to the heap until
// then is a coalesce, and each miss a best fit that carves a new hole.
// Judged every 64 trips rather than every 1024 (the rate, LA_TC_HOT_MS,
// and the share as before), w_medium's threads turn hot sooner: peak RSS
// (medians of 11 or 21, interleaved; glibc's beside) w_medium 1 1 6.0 ->
// 4.5 MB (4.1: its worker is the process's second thread), 1 2 9.8 -> 6.6
// (6.9), 1 8 30.4 -> 18.8 (22.7); time 0.066 / 0.037 / 0.052 s -> 0.066 /
// 0.035 / 0.044.  w_churn 1 2|4 remote, 1 2 local, w_pipeline, w_larson 1
// 2|8|32, w_xmalloc: within their noise (their threads stay cold: the
// share keeps w_churn's out, and a producer or a consumer alone makes no
// trip with a miss); python, sqlite, redis and the return rows the same.
// Bytes; trips; milliseconds; a ratio.
#define LA_TC_MEDIUM_HOT_BYTES (8192 * 1024)
#define LA_TC_HOT_TRIPS 64
#define LA_TC_HOT_MS 100
#define LA_TC_HOT_SHARE 16
// A hot cache's medium bin doubles up to this many bytes of blocks, not
// LA_TC_BIN_BYTES_MAX (4 blocks of 64 KiB).  Bytes.
#define LA_TC_HOT_BIN_BYTES_MAX (1024 * 1024)
// A hot cache's empty medium bin takes this many blocks from the heap, not
// half its capacity (LA_TC_BATCH_MAX): one, the best fit of its class.
// Its bins swing (a random walk of each class's count), so blocks fetched
// ahead sat in the bin until it overflowed and went back, and the batch
// was cut from one free block, not each block's best fit.  cachegrind
// --branch-sim=yes, w_medium 0.25 2: 187.0 M -> 186.3 M instructions,
// 226 K -> 170 K mispredicted branches.  w_medium 1 T, wall s / peak RSS,
// medians of 9 interleaved (tcmalloc 0.040 / 10.5, 0.025 / 13.1, 0.029
// / 27.6):
//   threads   half the bin        one block
//   1         0.0645 / 4.5 MB     0.0565 / 4.0
//   2         0.0345 / 6.7        0.0303 / 6.2
//   8         0.0381 / 18.8       0.0368 / 18.2
// A capacity floor of 2, 4 or 8 blocks for hot bins on top of it gained
// nothing (with half-bin refills, 8 made 1 1 take 0.103 s).  In every
// cache (the others' bins hold few blocks and rarely swing): w_ruby's
// peak 10.1 -> 10.4 MB, w_fragment no faster.  Blocks.
#define LA_TC_HOT_REFILL 1
// A slab bin whose thread frees other heaps' slots and does not allocate
// its class (a consumer's) grows to this at most, not LA_TC_BIN_BYTES_MAX:
// what it holds, its slots' owner cannot reuse and carves again (issue
// 13).  Such a bin then gives all it holds back in one chain (tcache.c
// make_room).  Peak RSS (/usr/bin/time -f %M, scale 1, medians of 3) and
// callgrind Ir (scale 0.25) against 256 KiB and half a bin per flush:
//   bound              pipeline RSS / Ir      xmalloc 1 2 RSS / Ir
//   256 KiB, half      7416 KB / 89.1 M      3896 KB / 410 M
//   64 KiB, all        6332 / 86.9           3900 / 417
//   32 KiB, all        6460-6524 / 87.7      3644-3836 / 406-407
//   16 KiB, all        6460 / 90.6           3580 / 418
//   16 KiB, half       6460 / 95.3           3516 / 428
//   no growth, half    6392 / 120.3          3444 / 505
// (xmalloc's Ir moves by 4% from run to run with the threads'
// interleaving.)  Bytes.
#define LA_TC_FOREIGN_BIN_BYTES (32 * 1024)
// And to this many slots, so that a small class's bin does not grow to
// 32 KiB (512 slots of 64 bytes, for w_xmalloc's 132 live ones); its
// starting capacity (LA_TC_BIN_BYTES) may be more and stays.  Same
// measures as above, with the 32 KiB bound:
//   slots      pipeline RSS / Ir     xmalloc 1 2 RSS / Ir
//   any        6584 KB / 87.9 M      3772 KB / 406.0 M
//   256        6524 / 87.9           3772 / 406.1
//   128        6460 / 88.2           3644 / 407.2
//   64         6396 / 88.5-88.7      3580 / 411.1
// w_churn 0.25 4 remote's Ir moves with the interleaving: run beside
// main's build, 500-502 M for main, 505-512 M with 64 slots (and with
// 128), 1.6% more; a full bin of other heaps' slots that its thread also
// allocates from gives half back (tcache.c make_room), where giving it
// all cost 3.8% there.  Slots.
#define LA_TC_FOREIGN_BIN_SLOTS 64
/* ---- medium bins: neighbouring classes (tcache.c) ----------------------- */
// Sixteen classes per doubling keep a medium block's rounding small, but
// split a thread's medium traffic over 64 bins that the budget above keeps
// at a few blocks each: under random sizes (w_fragment) a bin ran dry on
// 37% of its allocations and overflowed on 41% of its frees, each a trip
// to the heap under its lock.  A block serves every class below its own,
// so a bin that runs dry first takes a cached block of one of the next
// LA_TC_MEDIUM_BORROW classes up, and a block whose bin is full goes to
// one of the next LA_TC_MEDIUM_SPILL classes down that has room, before
// the heap is asked (issue 13).  Such a block is at most n/16 bigger than
// the request; its free brings it back to the bin its usable size names.
// w_fragment: callgrind Ir at 0.5 (LD_PRELOAD=lib valgrind
// --tool=callgrind w_fragment 0.5), peak RSS and CPU ms at 1
// (/usr/bin/time -f %M, perf stat task-clock, medians of 7 interleaved):
//   borrow/spill   Ir        peak RSS   CPU ms   (tcmalloc 110.6 ms)
//   0 / 0          245.8 M   66.2 MB    161.8
//   1 / 0          239.0 M
//   3 / 0          232.1 M   66.4-67.1  148.7
//   6 / 0          230.4 M   67.3-67.6
//   16 / 0         228.7 M
//   3 / 3          228.0 M   66.9-67.5  144.1
// The heap trips are gone, but each borrow and each spill is still a
// branch the hit paths mispredict: w_medium 0.25 1 (cachegrind
// --branch-sim=yes) 448 K mispredicts in 1 M steps, the bin dry on 17% of
// mallocs and full on 17% of frees (tcmalloc: 34 K).  Choosing the bin
// without a branch (the first non-empty of a bin and the three up, the
// first with room of a bin and the three down, by setcc arithmetic) took
// them to 51 K but the instructions from 188 M to 226 M and the time up,
// w_medium 1 1 0.071 -> 0.078 s (tcmalloc 0.041; medians of 9,
// interleaved): the pop's cold load of the block's link words then waits
// for the choice, where the predicted branch let it start at once.  What
// is left of that row's gap is path length (193 instructions a step,
// tcmalloc's 140) with these mispredicts (callgrind and cachegrind
// --cache-sim=yes give ours fewer D1 and L2-sized misses than tcmalloc's).
// The bins stay small because a spill hides that a bin is full, so it
// never grows (grow_bin_as grows a bin that overflows after running dry).
// Sending a bin that ran dry to the growth instead of the spill (one test
// in the free hit path) took w_medium's mispredicts to 291 K and its time
// down by a tenth (w_medium 1 1, 15 interleaved: 0.072 -> 0.064 s), but in
// every cache the grown bins hold more where the program does not swing
// so evenly (7 interleaved, peak RSS): w_pinned 1 105.8 -> 106.3 MB (glibc
// x 1.05 = 106.5), w_ruby 1 10.1 -> 10.5 MB.  So only a hot cache's bins
// do it (tcache_free_unslabbed): w_medium 1 2 0.042 -> 0.038 s, 9.9 -> 9.8
// MB; 1 8 0.057 -> 0.050 s, 32.0 -> 30.3 MB; w_pinned and w_ruby as before
// (medians of 9, interleaved); single-threaded programs never turn hot,
// nor do w_churn's, w_pipeline's and w_larson's threads.  (Such a bin
// that may not grow, at LA_TC_HOT_BIN_BYTES_MAX or the budget, sends the
// block to the heap, not to a class below.)  Starting every medium bin at
// 8 blocks, charged to no budget, made w_medium both faster and leaner
// (1 1: 0.065 s, 4.0 MB; 1 8: 0.045 s, 18.3 MB against 32.5), its blocks
// recycled whole with no heap trip, but w_pinned peaked at 116.2 MB,
// w_churn 1 4 remote at 27.5 (16.3) and w_pipeline at 7.3-8.2 (its peak
// spreads over 4.2-6.3 MB from run to run); charging what the medium bins
// hold (bytes) rather than their capacities gave that gain back
// (w_medium's untouched block interiors cost no RSS, so bytes held are
// not pages resident) and still raised w_pinned to 106.5 MB.
// Classes.
#define LA_TC_MEDIUM_BORROW 3
#define LA_TC_MEDIUM_SPILL 3
#define LA_TC_COUNT_MIN 4 // small bins
#define LA_TC_COUNT_MAX 512
// A slab bin that runs dry takes its heap's remote list of the class whole,
// without walking it, when it holds at most this many slots, even past the
// bin's room: the slots are this heap's free memory either way, and a walk
// to cut the list at the room is a dependent cross-core miss per slot
// (w_pipeline's lists held 150-600 slots, more than the bins' room).  Slots.
#define LA_TC_ADOPT_MAX 512
// A refill fetches half the bin's capacity, at most this many blocks (the
// refill of medium blocks collects them in an array on the stack).
#define LA_TC_BATCH_MAX 64
// What a thread cache holds of the 8-byte class, whose slots are too small
// to be linked into a bin: a stack of this many pointers at first, 4 KiB
// of slots as a slab bin starts with (LA_TC_BIN_BYTES).  Refilled with
// half of its room, and half of it given back when it overflows; when it
// overflows after it ran dry it doubles instead, as a slab bin does, up
// to LA_TC_WORD_SLOTS_MAX.  At 128, a batch of 1000 malloc(1..8) and
// their frees cost 147 instructions a pair, 119 at 512 (ins_loop batch
// tiny, callgrind); w_tiny 1 0.20-0.22 -> 0.19 s (cmp 9), its peak the
// same; the pairs 87 either way.  A fixed stack of 2048 made that batch
// 87 (no refill or flush once it holds the batch) but every thread's
// first refill 1024 slots: w_falseshare 1 2 active peaked at 1812 KiB
// against 1660.  Growing from 512, the batch is 87 with a top of 1024,
// 2048 or 4096; w_tiny peaked at 2916, 3240 and 2936 KiB (512: 2916;
// with 2048 its slabs left another trail in the heap, which grew by six
// slabs more), w_falseshare at 1656 with 1024 or 4096.  The stack is the
// cache's tail (tcache.h): 32 KiB of address space a thread, touched as
// far as the stack grows.  Slots.
#define LA_TC_WORD_SLOTS (LA_TC_BIN_BYTES / 8)
#define LA_TC_WORD_SLOTS_MAX 4096
// A full slab bin gives back half its capacity, and at most this many
// slots when they are its own heap's (tcache.c make_room): the newest,
// still in the L1 cache.  Callgrind Ir and CPU ms of w_shuffle (Ir at
// 0.5, ms at 2, min of 9): half a bin 261.8 M, 240-260 ms; 32: 230;
// 16: 270.5 M, 220; 8: 283.5 M, 210-230.  w_batch 0.5: 454 -> 471 M Ir,
// time unchanged; peak RSS of the memory group unchanged.  Slots.
#define LA_TC_FLUSH_MAX 16
// A thread cache publishes its live-byte balance for the peak statistic
// once the balance moved this much (one atomic add on a line all threads
// share).  Bounds how far the reported peak can lag behind the true one.
// Bytes.
#define LA_TC_PUBLISH_BYTES (256 * 1024)
// Mapped chunk that thread-cache structs are carved from.  Bytes.
#define LA_META_CHUNK_BYTES (64 * 1024)

/* ---- slabs (slab.c, sizeclass.c) ---------------------------------------- */

// Requests up to this size are served from size-class slabs (slots with no
// header) through the thread caches: the range of the fast paths.  A power
// of two below LA_TC_MEDIUM_MAX_BYTES.  Changing it (or any LA_SLAB_SPAN_*
// below) means running scripts/sizeclass.py, which rewrites the class
// table.  2 KiB by measurement (issue 13; callgrind, w_X 0.5, and peak RSS
// of w_pinned at scale 1, glibc's 99 MiB; 1 KiB before):
//   bound    w_fragment Ir  w_rrgrow Ir  w_pinned peak
//   1 KiB        287 M        268 M        102.5 MiB
//   2 KiB        268 M        263 M        103.0 MiB
//   4 KiB        228 M        258 M        107.0 MiB
//   8 KiB        225 M        245 M        120.7 MiB
//   16 KiB       220 M        224 M        131.1 MiB
// A class's free slots serve only that class: a program whose sizes drift
// (w_pinned pins 1 block in 8 and scales its sizes each phase) keeps slabs
// of every class partly used where heap blocks would have merged, and
// jemalloc, tcmalloc and mimalloc, all slabs to 16 KiB or more, peak at
// 124-152 MiB there.  Above 2 KiB that cost passed the 5% over glibc the
// memory group allows.  Nor are slabs faster for medium blocks by
// themselves: at 32 KiB (LA_SLAB_SPAN_MAX and MMAP_THRESHOLD 256 KiB, so
// that the last class has 7 slots), w_medium 0.1 1 ran 67.2 M instructions
// against 77.2 M, but w_medium 1 1 took 0.093 s against 0.084 (2 threads:
// 0.051 against 0.040; medians of 7, interleaved): its 2-32 KiB blocks
// left the medium bins and their hot budget for slab bins, which refill
// and flush through the bitmaps.  Bytes.
#define LA_SLAB_MAX_BYTES 2048
// realloc of a heap block in the exported family: it stays in place while
// it has less than 1/n of its size to spare, and one that grows gets 1/n of
// the request more than asked, when it moves and when it grows into the
// free block after it (issue 13: round-robin string growth).  4 first, as
// tcmalloc's realloc grows by a quarter: w_rrgrow at 8 (callgrind, scale
// 0.5 / 1; CPU ms, perf stat -r 15, scale 1; peak RSS, scale 1):
//   n   Ir 0.5   Ir 1     CPU ms   peak
//   8   161.6 M  323.5 M  53.4     48.4 MiB
//   4   130.9 M  264.7 M  47.9     48.2 MiB
// (mimalloc 159.2 M, 338.2 M, 60.7 ms, 47.3 MiB); w_realloc 155 -> 107 M
// Ir at 0.5 with its peak unchanged; the memory group's peaks unchanged.
// 3 since a block that must grow also slides down into a free block before
// it (heap_slide_down, issue 13: the arena had 3.5 MiB of holes more than
// glibc's at w_rrgrow's peak).  Peak KiB at scale 1 (median of 3; and the
// mean over seeds 1-8 of a copy that takes the seed from SEED) and Ir at
// 0.5, /usr/bin/time -f %M and callgrind (glibc 41,936; seeds 42,855):
//   n   slide   peak     seeds    Ir 0.5
//   4   no      44,792   44,919   136.6 M
//   4   yes     44,220   43,428   142.1 M
//   3   no      45,564   45,500   128.6 M
//   3   yes     43,256   43,244   134.2 M
// A slide copies what a move would, but into a hole with less than the
// slack to spare, which moves again sooner: a third more slack pays for
// that.  w_realloc 115.5 -> 111.3 M Ir at 0.5; peaks of w_realloc,
// w_fragment, w_pinned, sqlite, bufpool, malloc-1mib unchanged.
// The price: a shrink by less than a third keeps the block whole.
#define LA_REALLOC_SLACK_DIVISOR 3
// Below this request an eighth to spare, not a third: a block that stops
// growing keeps its slack, and programs grow many blocks of a few KiB to
// a limit of their own (redis's list nodes: listpacks grown 260 bytes at
// a time to 8 KB).  With a third, redis's used_memory after the bench's
// LPUSH was 52.9 MB in some runs and 57.4-60.8 MB in most, where glibc's
// is 53.5 (which nodes ended near a third over depended on where the heap
// let them grow), and its peak RSS 64.6 or 68-72 MB (glibc 65.5); with an
// eighth below 16 KiB, 55.3-55.4 MB and 64.4-67.2 MB, the same in every
// run.  Copies below 16 KiB are short: w_rrgrow 134.0 -> 152.3 M Ir at
// 0.5 (mimalloc 159.2), w_realloc 111.0 -> 121.3 M, w_ruby 1,396.9 ->
// 1,386.3 M at 0.3; peaks unchanged (/usr/bin/time, 5-7 runs).
#define LA_REALLOC_SLACK_SMALL_BYTES 16384
#define LA_REALLOC_SLACK_SMALL_DIVISOR 8
// Number of size classes up to LA_SLAB_MAX_BYTES (sizeclass.c's table):
// 23 to 1 KiB, 8 and then multiples of 16 (1008 among them: 1000-byte
// blocks, and 288: redis's 260-byte strings; scripts/sizeclass.py says
// why), then four per doubling, and 1040 and 1088 above 1 KiB: sqlite3
// allocates 1032 bytes (a 1 KiB buffer and its 8-byte size prefix) 58,549
// times in bench/run.py's script: its peak RSS was 83,656 KiB with them in
// the 1280 class, 77,456 with 1088 (glibc 73,752; 1 KiB slabs 77,540;
// /usr/bin/time -f %M, medians of 3), 75,556 with 1040 (glibc 73,620).
#define LA_SLAB_CLASSES (23 + 4 * (__builtin_ctz(LA_SLAB_MAX_BYTES) - 10) + 2 * (LA_SLAB_MAX_BYTES > 1024))
// Slabs are aligned to this many bytes, and an address finds its slab
// through one page-map entry per such chunk.  A slab is one heap block of
// a chunk (64 KiB: up to 1 KiB it holds at least 63 slots, and costs one
// address-space chunk per class and heap) or of a few (see below) less a
// block header; its pages are touched only as slots are carved.  A power
// of two.  Bytes.
#define LA_SLAB_BYTES (64 * 1024)
#define LA_SLAB_SHIFT 16
// A class's slab spans the fewest chunks (a power of two, at most
// LA_SLAB_SPAN_MAX bytes) that hold LA_SLAB_SPAN_MIN_SLOTS slots and leave
// at most 1/LA_SLAB_SPAN_WASTE_DIVISOR of the pages a full slab touches to
// no slot (scripts/sizeclass.py): 128 KiB for the 2048-byte class (and
// the 1008-byte one, whose record it shares among 130 slots), 64 KiB for
// the rest.  A slab's block is its span, the 16-byte header first,
// so a power-of-two class loses a slot per slab: 1024 B of every 64 KiB
// (perblock-1000 was 1042.4 bytes per block before the 1008 class; 1034.8
// with 1024-byte slots in 128 KiB, a divisor of 128, which took w_pinned's
// peak from 1.04 to 1.05 times glibc's: slabs of more slots stay partly
// used longer).  With slabs above 2 KiB, a 16 KiB class gets 7 slots in
// 128 KiB, where 64 KiB holds 3 and wastes a quarter.  At most
// MMAP_THRESHOLD: a slab is a heap block, and the heap walker and free's
// header check hold live heap blocks to the threshold's bound.  Bytes.
#define LA_SLAB_SPAN_MAX (128 * 1024)
#define LA_SLAB_SPAN_MIN_SLOTS 8
#define LA_SLAB_SPAN_WASTE_DIVISOR 64
// The page map covers user addresses below 2^48 (x86-64 and AArch64
// 4-level paging) in two levels: the top 16 bits pick a second-level array
// of 2^16 slab pointers, mapped on first use (512 KiB of address space,
// resident only where slabs are).
#define LA_SLAB_ADDR_BITS 48
#define LA_SLAB_MAP_L1_BITS (LA_SLAB_ADDR_BITS - 32)
#define LA_SLAB_MAP_L2_BITS (32 - LA_SLAB_SHIFT)
// Empty slabs a heap keeps per class instead of giving them back at once:
// one, so that a program that frees its last block of a class and
// allocates again does not carve a slab from the heap every time (the
// cliff bench/README.md describes for mimalloc 2.0).  The decay purge and
// malloc_trim give it back.
#define LA_SLAB_EMPTY_KEEP 1
// Slab metadata records are carved from mapped chunks of this size.  Bytes.
#define LA_SLAB_META_CHUNK_BYTES (256 * 1024)
// A slab's first slot sits its class's colour, whole units of this many
// bytes, into the slab (scripts/sizeclass.py chooses the colours,
// slab_create applies them): a cache line, so that classes' first slots
// fall in different sets of the L1 cache.  Bytes, a multiple of 16 (the
// slots' alignment).
#define LA_SLAB_COLOR_UNIT 64

/* ---- realloc of slots (alloc.c) ----------------------------------------- */

// realloc growth out of a slab slot of at least this many bytes moves to a
// heap block with its slack (LA_REALLOC_SLACK_SMALL_DIVISOR's: slots are
// below LA_REALLOC_SLACK_SMALL_BYTES), not to the next slab
// class (issue 13, peak RSS): a block being grown is the best predictor of
// more growth.
// Strings grown through every class left partly used slabs of each behind
// (w_realloc: 16 MB of slabs holding 1 MB of slots), where heap blocks
// coalesce.  Shrinking and first allocations still use the slabs.  Peak
// RSS (/usr/bin/time -f %M, scale 1, median of 3; glibc 36.1 and 41.7 MB)
// and callgrind Ir (w_ruby 0.25: objects of 16..512 B grown once in a
// while, which then pay a heap block's malloc and free):
//   bound      w_realloc  w_rrgrow   w_ruby Ir
//   (slabs)    61.8 MB    48.4 MB    1316 M
//   128        47.5       44.8
//   256        48.1       44.9       1475 M
//   384        48.7                  1416 M
//   512        49.6       44.9       1352 M
//   1024       53.6       46.5       1320 M
// w_realloc's remaining peak is its 32 MiB array on top of the strings'
// freed heap, which waits for the decay (see the report of issue 13).
// Bytes.
#define LA_REALLOC_HEAP_FROM_BYTES 512

/* ---- aligned allocation from slots (alloc.c) ----------------------------- */

// An aligned request of up to LA_SLAB_MAX_BYTES takes a slot of the first
// class whose slots are all aligned (sizeclass_aligned_up) when that class
// is at most this many times the request or the alignment, the bigger;
// else a heap block with its padding.  The first class aligned to 128 is
// 1024 bytes: a 16-byte request aligned to 128 would spend a 1024-byte slot
// where a heap block costs its 32 bytes and up to 128 of padding, which
// the heap may use again.  Within 2, the alignments C++ types ask for (32
// and 64) take slots for every size (aligned_alloc(64, 64): 65.4 bytes of
// RSS per live block, 128.8 from the heap).  Changing it means running
// scripts/sizeclass.py: the aligned hit path's table applies it.
#define LA_ALIGNED_SLOT_MAX_RATIO 2

/* ---- checking mode and Valgrind (debug.c) -------------------------------- */

// Bytes added after every request in checking mode and under Valgrind:
// room for a canary, or for a redzone memcheck watches.
#define LA_GUARD_BYTES 16
// Fill bytes in checking mode: new blocks, the canary, freed blocks.
#define LA_JUNK_BYTE 0xa5
#define LA_CANARY_BYTE 0xcb
#define LA_POISON_BYTE 0xdd
// Heap walk period in checking mode when ALLOCATOR_CHECK_EVERY is not set:
// this many operations, or LA_CHECK_OPS_PER_VISIT times as many as the
// last walk visited blocks and slots if that is more, so that walks cost
// a bounded share of each operation however big the heap (every 1000 made
// checking mode 2x slower than the default on a sqlite3 workload, issue
// 15).
#define LA_CHECK_EVERY_DEFAULT 1000
// Operations per block or slot visited by the periodic walk (see above).
// At 1 the walk was a third of checking mode's extra time on sqlite3 (a
// 75 MiB heap: a cache and TLB miss per block header); at 2 a corruption
// is found within twice the ops, and the walk costs half.
#define LA_CHECK_OPS_PER_VISIT 2
// The heap walk prefetches the header this many blocks ahead, guessing
// they are all the size of the one it is at (check.c).  Blocks.
#define LA_CHECK_PREFETCH_BLOCKS 8
// Checking mode's quarantine (issue 15): freed blocks are poisoned and
// held, oldest out first, before they are really freed; when one leaves,
// its poison is verified, so that a write after free is reported, and
// while it waits no new block can alias a stale pointer to it.  Each heap
// has its own (under its lock), large blocks all wait in heap 0's.  At
// most this many blocks, and this many bytes (usable bytes of the blocks
// held), per heap.
// A block bigger than the bytes over the divisor is freed at once: one
// buffer must not flush the whole quarantine.  2 MiB: every mapped block
// held is memory no reuse can have, so that new ones are mapped and
// faulted in again (fork_large, threads cycling 140-440 KB blocks, ran
// 2.3x slower with 8 MiB than with 2, page faults 5x those of main).
#define LA_QUARANTINE_SLOTS 1024
#define LA_QUARANTINE_BYTES (2 * 1024 * 1024)
#define LA_QUARANTINE_BLOCK_DIVISOR 4
// Blocks one free may push out of the quarantine (it may exceed its bytes
// until the next free; the evicted are checked and freed under the heap's
// lock, large ones after it from the caller's stack).
#define LA_QUARANTINE_EVICT_MAX 8
// Blocks a free pushes out of a full quarantine (by count) at once.  While
// the quarantine had a lock of its own, this made a slot free free them
// under one heap lock acquisition per 8 frees (issue 15); under the heap's
// lock now, it only batches the ring's work.  The quarantine holds at
// least LA_QUARANTINE_SLOTS - 8 blocks.  At most the above.
#define LA_QUARANTINE_EVICT_BATCH 8

/* ---- heap profiler (prof.c) --------------------------------------------- */

// Mean bytes between samples for ALLOCATOR_PROF=1: tcmalloc's and
// jemalloc's default; a sample costs a stack walk (microseconds).  Bytes.
#define LA_PROF_DEFAULT_INTERVAL (512 * 1024)
// Frames recorded per sample; a deeper stack is cut there.
#define LA_PROF_MAX_FRAMES 24
// Most live samples, and most distinct call stacks, the tables hold; past
// them a sample is dropped (and counted).  Together with the hash buckets
// they bound the profiler's own memory to about 50 MiB of address space,
// of which only the pages in use are touched: records are handed out in
// order and the hash tables grow with what they hold.
#define LA_PROF_MAX_SAMPLES (1u << 20)
#define LA_PROF_MAX_STACKS (1u << 16)
// Entries of the profiler's stack cache (prof.c): a sample taken again
// from the same place on the same thread's stack skips the unwinder above
// its caller (_Unwind_Backtrace costs about a thousand instructions a
// frame).  Direct-mapped, 224 bytes each.  The most entries: the cache
// starts at LA_PROF_STACK_CACHE_MIN (3.5 KiB) and doubles when it holds
// fewer than two entries per distinct stack, or when as many stores as it
// has entries have evicted another (threads sampling from one place each
// need an entry of their own).
#define LA_PROF_STACK_CACHE 1024
#define LA_PROF_STACK_CACHE_MIN 16
// The first size of the sample and stack bucket tables, in buckets of 4
// bytes (one page): a program that takes a few samples touches a page of
// each, not the whole table (issue 16: the sample table's 1 MiB of
// buckets, scattered over by the hash, grew sqlite3's peak RSS by 1.1-1.3
// MiB, where it now grows by about 0.2 MiB).
#define LA_PROF_TABLE_MIN_ENTRIES 1024
// Entries per bucket on average past which a bucket table doubles (in
// place: each chain splits in two, no system call), until it has its most
// buckets: LA_PROF_MAX_STACKS, LA_PROF_MAX_SAMPLES / 4 (then up to 4 a
// bucket when full).
#define LA_PROF_BUCKET_LOAD 2
// log2 of the counters of live samples per address hash that let realloc
// skip the sample check of a block (prof.c): 2^15 of 2 bytes (64 KiB, all
// touched once samples are spread over them); with a thousand live
// samples one block in 33 is checked for nothing.
#define LA_PROF_MARK_BITS 15
// Bytes of the stack buffer a profile is formatted into before write(2).
#define LA_PROF_WRITE_BUFFER 4096
// Call sites the leak report at exit lists on stderr.
#define LA_PROF_LEAK_SITES 10

/* ---- sampled guard pages (guard.c) -------------------------------------- */

// ALLOCATOR_GUARD_SAMPLE's default: 0, off.  Turning the sampling hook on
// costs the malloc fast path 19 instructions (62 -> 81 per malloc+free)
// before any block is guarded, so no rate stays within the 1.01x
// on allocation-bound work (docs/DEBUGGING.md, "Guard pages", has the
// figures).  Allocations.
#define LA_GUARD_SAMPLE_DEFAULT 0
// Slots of the guard pool: at most this many guarded blocks live or in
// quarantine at once; a sample that finds none free is skipped.  The pool
// is reserved once (PROT_NONE): slots * (LA_GUARD_SLOT_PAGES + 1) + 1
// pages of address space, of which the pages blocks used stay resident
// (freed blocks' pages are kept for their slot's next block): 112 slots
// of 2 pages are 896 KiB at most with 4 KiB pages, under the issue's
// 1 MiB with the slots' records (about 19 KiB).
#define LA_GUARD_SLOTS 112
// Pages of one slot: the largest request guarded (8 KiB less the
// alignment slack with 4 KiB pages; bigger ones are never sampled).
#define LA_GUARD_SLOT_PAGES 2
// Freed guarded blocks kept inaccessible, and not reused, before their
// slot can serve again (a use after free within this many guarded frees
// is named with both stacks).  At most LA_GUARD_SLOTS / 2.
#define LA_GUARD_QUARANTINE 32
// Frames recorded for the allocation and for the free of a guarded block.
#define LA_GUARD_FRAMES 8
// Fills the bytes of a guarded block's pages outside the block: the slack
// the 16-byte alignment leaves after a right-aligned block, the rest of
// the last page after a left-aligned one.  Checked at free, so a write
// too small to reach the guard page is still named.
#define LA_GUARD_FILL_BYTE 0x9b
// Stack buffer of a guard report (two stacks and the text).  Bytes.
#define LA_GUARD_REPORT_BYTES 1024

/* ---- output ------------------------------------------------------------- */

// Size of the stack buffer the diagnostic formatter writes into.  Bytes.
#define LA_LOG_BUFFER_BYTES 512
// A statistics report is formatted whole on the stack, then written in one
// write(2): the JSON one with its heap and slab classes is about 5 KiB plus the
// program's path.  Bytes.
#define LA_REPORT_BUFFER_BYTES 16384
// The program's path in a report, at most (longer ones are cut).  Bytes.
#define LA_PROGRAM_NAME_BYTES 1024
// mincore's answer is read into a stack vector of this many bytes, one per
// page: 4 MiB of heap per call, so a snapshot of a 1 GiB heap makes 256
// calls.  Bytes.
#define LA_MINCORE_VECTOR_BYTES 1024
// An unknown ALLOCATOR_* name is shown and compared with the known ones
// up to this many bytes (the longest option name is 24).  Bytes.
#define LA_OPTION_NAME_MAX 63
// ALLOCATOR_VERBOSE's listing of the options is formatted on the stack in
// one buffer of this size (about 70 bytes per option, plus a path).  Bytes.
#define LA_VERBOSE_BUFFER_BYTES (2048 + LA_PATH_BYTES)
// ALLOCATOR_STATS_FILE, at most, with its %p expanded (PATH_MAX).  Bytes.
#define LA_PATH_BYTES 4096

#endif /* LA_CONFIG_H */
