// SPDX-License-Identifier: MIT
/*
 * sizeclass.h: the size classes that slabs serve, and the arithmetic on
 * them.  Pure functions over constant tables: no state, no locks, no calls
 * into the rest of the allocator (the lowest layer after config.h).
 *
 * Classes: 8, then every 16 bytes from 16 to 128, then four per doubling
 * to LA_SLAB_MAX_BYTES (160, 192, 224, 256, then 288 for 256 bytes and a
 * small header, 320, ... 896, 1008 for a decimal KiB, 1024, then 1040 and
 * 1088 for a KiB and a small header, 1280, 1536, 1792, 2048).  A request
 * is rounded up by at most 25% from 64 bytes on (jemalloc's spacing).
 * Every class but the first is a multiple of 16, so that its slots are
 * 16-aligned, as glibc documents and the x86-64 ABI's max_align_t asks: a
 * 24-byte class (8-aligned slots at odd indexes) crashed a clang-built C++
 * program, whose operator new of a 24-byte object zeroes it with a movaps.
 * The 8-byte class (class 0, LA_SLAB_WORD_CLASS) is the exception no store
 * of 16 bytes can touch, as jemalloc's, tcmalloc's and mimalloc's: its
 * free slots have no room for the two link words the others keep (the
 * encoded link and the plain one, how malloc tells a link the program
 * overwrote from a sound one, and how the free fast path tells a second
 * free from a first), so they hold a one-word mark and are never linked
 * (slab.h, slab_one_word; a thread cache keeps them in a stack).  Slots
 * of 16 bytes and more are 16-aligned (slabs start 64 KiB-aligned, their
 * first slot a class's colour after that, both multiples of 16), and
 * aligned further where the size and the colour allow it (the 64-byte
 * class's slots sit on 64-byte boundaries: la_class_aligned_up below).  A
 * class's slabs span one LA_SLAB_BYTES chunk or a few (`span`, see
 * LA_SLAB_SPAN_MAX): bigger classes take more, so that a slab holds enough
 * slots and little of it is wasted.
 */
#ifndef LA_SIZECLASS_H
#define LA_SIZECLASS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    uint32_t size;   // slot bytes
    uint32_t nslots; // slots in one slab ((span - LA_HEADER_BYTES - color) / size)
    // Divisibility by size for offsets below 2^32: size = odd << shift, inv
    // is odd's inverse mod 2^32; ror32(off * inv, shift) is off / size when
    // size divides off, and above UINT32_MAX / size otherwise.
    uint32_t inv;
    uint32_t shift;
    uint32_t span;   // bytes of a slab: LA_SLAB_BYTES times a power of two
    // Bytes before the first slot, whole LA_SLAB_COLOR_UNITs, less than a
    // page: the L1 set of the class's first slot (slab_create).  The
    // slab's header sits in them; a class of colour 0 has its first slot
    // right after the header (slab_first_offset).
    uint32_t color;
} la_sizeclass_t;

extern const la_sizeclass_t la_sizeclasses[LA_SLAB_CLASSES] __attribute__((visibility("hidden")));
// Four times the class of a request of n bytes (n <= LA_SLAB_MAX_BYTES),
// indexed by n itself: 8 * this is the byte offset of the class's entry
// in a table of 32-byte entries, one scaled address mode with no shift
// (the malloc fast path's thread-cache bin).  A byte per request size
// (2 KiB, read-only), where a byte per 8 bytes indexed by (n + 7) / 8 took
// an add and a shift on every malloc (callgrind: 2 of 59 instructions a
// malloc+free pair); a program's sizes touch a line of it per 64 sizes.
// One table, not a second one of classes: sizeclass_of() shifts this one.
_Static_assert(4 * (LA_SLAB_CLASSES - 1) <= UINT8_MAX, "4 * class fits the table's bytes");
extern const uint8_t la_class4_of[LA_SLAB_MAX_BYTES + 1] __attribute__((visibility("hidden")));

// The class of a request of n bytes (n <= LA_SLAB_MAX_BYTES).
static inline __attribute__((always_inline)) unsigned sizeclass_of(size_t req)
{
    return la_class4_of[req] >> 2;
}

// The alignments la_class_aligned_up covers: 2^5 = 32 to 2^11 = 2048 bytes.
#define LA_SIZECLASS_ALIGNED_MIN_LOG 5
#define LA_SIZECLASS_ALIGNED_LOGS 7

// For an alignment of 2^(a + LA_SIZECLASS_ALIGNED_MIN_LOG) (32 to 2048
// bytes) and a class c: the first class at or above c whose slots all sit
// on such boundaries (its size and its first slot's offset in the
// slab, which starts LA_SLAB_BYTES-aligned, are multiples of it), or 255
// for none.  What aligned_alloc and its kin take from a slot (alloc.c).
extern const uint8_t la_class_aligned_up[][LA_SLAB_CLASSES] __attribute__((visibility("hidden")));

// Class c's entry for `align` (a power of two above 16) in an aligned
// table (rows of `row` classes, one per alignment from 32), or -1 where it
// holds 255 or has no row for the alignment.
static inline __attribute__((always_inline)) int sizeclass_aligned_in(const uint8_t *table,
                                                                      size_t row, unsigned c,
                                                                      size_t align)
{
    unsigned a = (unsigned)__builtin_ctzll(align) - LA_SIZECLASS_ALIGNED_MIN_LOG;
    if (a >= LA_SIZECLASS_ALIGNED_LOGS)
        return -1;
    uint8_t up = table[a * row + c];
    return up == UINT8_MAX ? -1 : up;
}

// The first class at or above class c whose slots are all aligned to
// `align` (a power of two above 16), or -1 for none.
static inline __attribute__((always_inline)) int sizeclass_aligned_up(unsigned c, size_t align)
{
    return sizeclass_aligned_in((const uint8_t *)la_class_aligned_up, LA_SLAB_CLASSES, c, align);
}

// The same, where the class is at most LA_ALIGNED_SLOT_MAX_RATIO times
// max(req, alignment) for every request of class c (config.h), else 255:
// aligned_alloc's hit path takes it with no test of its own (alloc.c,
// la_aligned), and leaves the requests it has no class for to the slow
// path, which tests the request itself.  Rows of LA_SIZECLASS_ROW, so
// that a row is one shift away.
#define LA_SIZECLASS_ROW 32
_Static_assert(LA_SLAB_CLASSES <= LA_SIZECLASS_ROW, "a row holds every class");
extern const uint8_t la_class_aligned_hit[][LA_SIZECLASS_ROW] __attribute__((visibility("hidden")));

// la_class_aligned_hit's class for class c and `align` (a power of two
// above 16), or -1.
static inline __attribute__((always_inline)) int sizeclass_aligned_hit(unsigned c, size_t align)
{
    return sizeclass_aligned_in((const uint8_t *)la_class_aligned_hit, LA_SIZECLASS_ROW, c, align);
}

static inline __attribute__((always_inline)) uint32_t sizeclass_ror32(uint32_t x, uint32_t k)
{
    return (x >> k) | (x << ((32 - k) & 31));
}

// The slot index of byte offset `off` into a slab of class c, or a value
// >= la_sizeclasses[c].nslots when off is not the start of a slot.
static inline __attribute__((always_inline)) uint32_t sizeclass_slot(uint32_t off, uint32_t inv,
                                                                      uint32_t shift)
{
    return sizeclass_ror32(off * inv, shift);
}

#endif /* LA_SIZECLASS_H */
