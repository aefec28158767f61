// SPDX-License-Identifier: MIT
/*
 * fork.c: the allocator's fork handlers, which take and give back every
 * lock of every layer (a tool in docs/ARCHITECTURE.md's layer order: it
 * drives all of them).
 *
 * A child must be able to allocate even if another thread held a heap
 * lock at the moment of fork.  The prepare handler takes every allocator
 * lock, so the snapshot the child inherits is consistent; parent and child
 * release them.  Two orderings matter (issue 12), and both copy what glibc
 * does for its own malloc inside fork:
 *  - after every other prepare handler: those may allocate, or join threads
 *    that allocate.  Prepare handlers run in reverse order of registration,
 *    so ours must be registered first; preload/ interposes
 *    __register_atfork (what pthread_atfork calls) to put it there.
 *  - after stdio's list lock: a thread flushing every stream holds that lock
 *    and waits for a FILE lock whose holder (getline) waits for a heap lock.
 *    glibc's fork takes the list lock after the handlers; we take it (it is
 *    recursive) before our locks, in our handler.
 * A single-threaded process takes no lock: nobody else can hold one, and
 * the forking thread itself may hold one (fork from a signal handler that
 * interrupted malloc), which the child then finishes like the parent.
 */
#include "tcache.h"

// Whether fork_prepare took the locks, for the parent and child handlers
// of the same fork (forks are serialised by the locks themselves).
static bool fork_locked;

// Every allocator lock, in the documented order (tcache.c's header).
static void fork_prepare(void)
{
    fork_locked = !os_single_threaded();
    if (!fork_locked)
        return;
    os_stdio_list_lock();
    lock_acquire(&la.init_lock);
    tcache_lock_all();
    heap_lock_all();
    lock_acquire(&la.slab_lock);
    lock_acquire(&la.large_lock);
    lock_acquire(&la.stats_lock);
    prof_lock_all();
    guard_lock_all();
}

static void fork_parent(void)
{
    if (!fork_locked)
        return;
    guard_unlock_all();
    prof_unlock_all();
    lock_release(&la.stats_lock);
    lock_release(&la.large_lock);
    lock_release(&la.slab_lock);
    heap_unlock_all();
    tcache_unlock_all();
    lock_release(&la.init_lock);
    os_stdio_list_unlock();
}

static void fork_child(void)
{
    if (!fork_locked)
        return;
    // The child has one thread; nobody else can hold or wait on these.
    guard_after_fork_child();
    prof_after_fork_child();
    lock_reset(&la.stats_lock);
    lock_reset(&la.large_lock);
    lock_reset(&la.slab_lock);
    heap_reinit_locks_after_fork();
    lock_reset(&la.tc_lock);
    lock_reset(&la.init_lock);
    os_stdio_list_reset();
    tcache_after_fork_child();
    background_after_fork_child();
}

// libc's registration function, which pthread_atfork (in libc_nonshared.a,
// linked into every caller) calls with the caller's DSO handle.
extern int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                             void *dso_handle);
extern void *__dso_handle;

static int fork_registered;

LA_HOT_TEXT void fork_register_handlers(la_register_atfork_fn register_fn)
{
    if (__atomic_exchange_n(&fork_registered, 1, __ATOMIC_ACQ_REL))
        return;
    register_fn(fork_prepare, fork_parent, fork_child, &__dso_handle);
}

// Registers our handlers, unless done already (preload/ registered ours
// first if another library's pthread_atfork came before), through the
// exported name: in liballocator.so that is preload/'s interposer, which
// finds ours already registered and passes them on to libc.
//
// Not at start-up: libc's __register_atfork reads a 64 KiB window of
// libc's code and data that a program under glibc's malloc need not touch
// (64 KiB of its text mapping resident in every run of a program that
// mallocs, pages present in /proc/self/pagemap; issue 14's fixed
// footprint), and a process that never has a second thread needs no
// handler: fork_prepare takes no lock in a single-threaded process.  So
// preload/ calls this from its pthread_create and thrd_create, in the
// thread that makes the first other thread, while the process still has
// one thread and no fork can race the registration.  A thread started
// past those (libc's own, for timer_create's SIGEV_THREAD; one made through
// a handle on libc's pthread_create) gets here on its first cache
// (tcache.c), before its first lock.  The case left unhandled: such a
// thread forks before any thread allocated since it started, while
// another holds an allocator lock.
LA_HOT_TEXT void fork_handlers_install(void)
{
    if (!__atomic_load_n(&fork_registered, __ATOMIC_ACQUIRE))
        fork_register_handlers(__register_atfork);
}
