/*
 * lock.c: the slow halves of the futex lock (internal.h has the fast ones).
 * The word is 0 (free), 1 (held) or 2 (held, someone may sleep on it), as in
 * Drepper's "Futexes Are Tricky", mutex #3.  A short spin first, because
 * heap critical sections are a few hundred instructions and sleeping costs
 * two syscalls.  No allocation, usable before the allocator is initialised.
 *
 * Fork: a child must be able to allocate even if another thread held a heap
 * lock at the moment of fork.  The prepare handler takes every allocator
 * lock, so the snapshot the child inherits is consistent; parent and child
 * release them.  Registered from a constructor, after the allocator may
 * already be in use, so that pthread_atfork may itself call malloc.
 */
#include <pthread.h>

#include "tcache.h"

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

// Every allocator lock, in the documented order (tcache.c's header).
static void fork_prepare(void)
{
    lock_acquire(&la.init_lock);
    tcache_lock_all();
    heap_lock_all();
    lock_acquire(&la.slab_lock);
    lock_acquire(&la.large_lock);
    lock_acquire(&la.stats_lock);
}

static void fork_parent(void)
{
    lock_release(&la.stats_lock);
    lock_release(&la.large_lock);
    lock_release(&la.slab_lock);
    heap_unlock_all();
    tcache_unlock_all();
    lock_release(&la.init_lock);
}

static void fork_child(void)
{
    // The child has one thread; nobody else can hold or wait on these.
    lock_reset(&la.stats_lock);
    lock_reset(&la.large_lock);
    lock_reset(&la.slab_lock);
    heap_reinit_locks_after_fork();
    lock_reset(&la.tc_lock);
    lock_reset(&la.init_lock);
    tcache_after_fork_child();
}

// Our prepare handler runs last (handlers run in reverse order of
// registration and this constructor runs before the program's), so other
// libraries' prepare handlers may still allocate.
__attribute__((constructor)) static void lock_install_fork_handlers(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
