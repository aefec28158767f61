// SPDX-License-Identifier: MIT
/*
 * background.c: the purging thread (ALLOCATOR_BACKGROUND=1, the default).
 * Without it, decayed memory goes back only when some thread calls into a
 * heap: an idle process, or one whose busy threads only hit their caches,
 * kept its peak (issue 14).  It starts lazily, once the heaps span
 * LA_BG_START_BYTES, from an allocator entry point that holds no lock
 * (pthread_create allocates), so small programs never get a second thread,
 * and once the program has freed LA_BG_START_FREED_BYTES since its peak,
 * so that one that only allocates never gets one either.
 * It blocks every signal, is detached, wakes every half decay period and
 * runs heap_purge_all_due() and heap_purge_slabs_idle(); exit ends it
 * with the process.  A fork child
 * starts its own on demand.  It may call anything the heaps call, and
 * pthread functions; it allocates nothing itself.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "tcache.h"

static uint64_t sleep_ms(void)
{
    uint64_t half = la.decay_ms / 2;
    return LA_MIN(LA_MAX(half, (uint64_t)LA_BG_MIN_SLEEP_MS), (uint64_t)LA_BG_MAX_SLEEP_MS);
}

static void *background_main(void *arg)
{
    (void)arg;
    for (;;) {
        os_sleep_ms(sleep_ms());
        heap_purge_all_due();
        heap_purge_slabs_idle();
    }
    return NULL;
}

void background_start_slow(void)
{
    int expected = LA_BG_OFF;
    // The constructor made pthreads usable (tcache.c); one starter only.
    if (!__atomic_load_n(&la.tc_ready, __ATOMIC_ACQUIRE) ||
        !__atomic_compare_exchange_n(&la.bg_state, &expected, LA_BG_STARTING, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    // Every signal blocked in the new thread (it inherits this mask), so
    // that none of the program's is delivered to it.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_t thread;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, LA_BG_STACK_BYTES);
        // pthread_create allocates (the new thread's DTV, 288 bytes)
        // through the calling thread's cache.  Not from this heap: a slot
        // or block at the start of its top split the big free blocks freed
        // on either side of it (issue 14: w_bufpool's peak RSS 457 MiB
        // where glibc's, whose layout ours then repeats, is 440).  Not
        // through a bin either: in a program with no small blocks yet
        // (w_bufpool) the refill made a slab for it, 40 KiB of its pages
        // and of slab records resident for one block.  So the calling
        // thread runs pthread_create with a placeholder cache (every bin
        // empty and full, as tcache.c's; only its heap differs), whose
        // requests are plain blocks of that other heap (la_alloc_direct).
        // Every signal is blocked here: nothing else on this thread
        // allocates meanwhile.
        la_tcache_t *own = la_tc;
        la_tcache_t starter;
        memset(&starter, 0, sizeof starter);
        starter.kind = LA_TC_DEAD;
        starter.bias = LA_TC_NO_MATCH;
        starter.heap = heap_ensure(own->heap->index == LA_BG_START_HEAP ? 0 : LA_BG_START_HEAP);
        la_tc = &starter;
        rc = pthread_create(&thread, &attr, background_main, NULL);
        la_tc = own;
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    // A failure is not retried: the heaps still purge on their own ticks.
    __atomic_store_n(&la.bg_state, rc == 0 ? LA_BG_RUNNING : LA_BG_FAILED, __ATOMIC_RELEASE);
}

void background_after_fork_child(void)
{
    la_store_relaxed(&la.bg_state, LA_BG_OFF);
}
