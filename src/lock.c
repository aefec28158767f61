// SPDX-License-Identifier: MIT
/*
 * lock.c: the slow halves of the futex lock (internal.h has the fast ones).
 * The word is 0 (free), 1 (held) or 2 (held, someone may sleep on it), as in
 * Drepper's "Futexes Are Tricky", mutex #3.  A short spin first, because
 * heap critical sections are a few hundred instructions and sleeping costs
 * two syscalls.  No allocation, usable before the allocator is initialised.
 * The fork handlers, which take every lock, are fork.c's.
 */
#include "internal.h"

// Spins before sleeping; about the length of a short critical section.
#define LOCK_SPIN_COUNT 100

void lock_acquire_slow(la_lock_t *l)
{
    for (int i = 0; i < LOCK_SPIN_COUNT; i++) {
        if (la_load_relaxed(&l->word) == 0 && lock_try(l))
            return;
        LA_CPU_RELAX();
    }
    // Announce a waiter (2) and sleep until the word is released.  Taking it
    // with 2 is conservative: the release then always wakes someone.
    int prev = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
    while (prev != 0) {
        os_futex_wait(&l->word, 2);
        prev = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
    }
}

void lock_release_slow(la_lock_t *l) { os_futex_wake_one(&l->word); }
