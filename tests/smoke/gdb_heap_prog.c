// SPDX-License-Identifier: MIT
/*
 * gdb_heap_prog.c: the inferior of tests/smoke/gdb_heap.bats.  It runs on
 * the preloaded liballocator.so (scripts/debug sets LD_PRELOAD), makes a
 * known set of blocks, keeps them in globals the test names, and stops in
 * checkpoint() where gdb runs the `heap` commands of scripts/gdb/allocator.py.
 *
 *   gdb_heap_prog [ok|corrupt|trimmed]
 *
 * corrupt overwrites the check word in gdb_medium's header first, so that
 * `heap check` has a damaged block to find.  After the checkpoint, ok mode
 * frees gdb_spare (release_spare()) and nothing else: a test that breaks
 * in heap_free then stops inside the allocator without calling into the
 * program, which some machines' gdb cannot do (issue 12).  Corrupt mode
 * frees nothing after the checkpoint: a free near the damage could abort.
 * trimmed calls malloc_trim(0) before the checkpoint, so that gdb_freed_big
 * has its pages given back (heap_resident_bytes), and frees nothing after it.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// What the test refers to by name (volatile: kept, and read back by gdb).
void *volatile gdb_small;       // 40 bytes, live
void *volatile gdb_medium;      // 3000 bytes, live
void *volatile gdb_large;       // 200000 bytes, live, its own mapping
void *volatile gdb_freed;       // 5000 bytes, freed (into its heap, as caches are now)
void *volatile gdb_freed_big;   // 80000 bytes, freed into its heap's last class
void *volatile gdb_cached;      // 40 bytes, freed into the thread cache
void *volatile gdb_spare;       // 80000 bytes, live; release_spare() frees it
// The 8-byte class, whose free slots are too small to be linked: a thread
// cache keeps them in its word stack (src/tcache.h), marked, not in a bin.
void *volatile gdb_tiny;        // 8 bytes, live
void *volatile gdb_tiny_freed;  // 8 bytes, freed into the word stack
volatile unsigned gdb_nmalloc;  // mallocs this program made before the stop

static void *take(size_t bytes)
{
    void *p = malloc(bytes);
    if (p == NULL) {
        fprintf(stderr, "gdb_heap_prog: malloc(%zu) failed\n", bytes);
        exit(1);
    }
    memset(p, 0x5a, bytes);
    gdb_nmalloc++;
    return p;
}

// gdb breaks here; the program's blocks are all made by then.
__attribute__((noinline)) void checkpoint(void) { __asm__ volatile("" ::: "memory"); }

// Right after the checkpoint: a free that takes the heap's lock (too big
// for any thread-cache bin), where gdb can stop inside the allocator; it
// goes through the program's own binding of free, the preloaded one.
__attribute__((noinline)) void release_spare(void)
{
    free(gdb_spare);
    gdb_spare = NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "ok";
    gdb_small = take(40);
    gdb_medium = take(3000);
    gdb_large = take(200000);
    // Each freed block has a live block after it, so it cannot merge into
    // the heap's free top and stays a free block of its own size class.
    // The guards are heap blocks above the slabs (LA_SLAB_MAX_BYTES, 2 KiB),
    // not slots, and medium bins start empty, so no refill carves blocks
    // ahead of time (they could land anywhere); 80000 is too
    // big for any cache bin (LA_TC_MEDIUM_MAX_BYTES), so it is freed into
    // the heap whatever the caches' policy.
    gdb_freed = take(5000);
    void *guard1 = take(3000);
    gdb_freed_big = take(80000);
    void *guard2 = take(3000);
    gdb_cached = take(40);
    gdb_spare = take(80000);
    // Two live and two freed: the stack keeps the freed ones with the rest
    // of its refill, which the slab carved at the first malloc of the class.
    gdb_tiny = take(8);
    void *tiny_live = take(8);
    gdb_tiny_freed = take(8);
    void *tiny_freed = take(8);
    free(gdb_freed);
    free(gdb_freed_big);
    free(gdb_cached);
    free(gdb_tiny_freed);
    free(tiny_freed);
    if (strcmp(mode, "corrupt") == 0) {
        // The check word is the header's last 32 bits, just before the
        // payload (src/internal.h); volatile so the store is not dropped.
        volatile uint32_t *check = (volatile uint32_t *)gdb_medium - 1;
        *check ^= 0x01020304u;
    } else if (strcmp(mode, "trimmed") == 0) {
        malloc_trim(0);
    } else if (strcmp(mode, "ok") != 0) {
        fprintf(stderr, "usage: gdb_heap_prog [ok|corrupt|trimmed]\n");
        return 2;
    }
    checkpoint();
    if (strcmp(mode, "ok") == 0)
        release_spare();
    printf("gdb_heap_prog: %s done\n", mode);
    (void)guard1;
    (void)guard2;
    (void)tiny_live;
    return 0;
}
