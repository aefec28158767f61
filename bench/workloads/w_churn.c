// SPDX-License-Identifier: MIT
/*
 * w_churn: server-style churn.  Thread t allocates batches of
 * request-sized blocks and queues each batch; in "remote" mode it goes to
 * thread t+1 (mod T), which reads and frees it, so every free is remote
 * unless T = 1; in "local" mode the thread later frees its own batches,
 * the same work with no sharing (the allocator's scaling ceiling).  The
 * total work is fixed and split over T threads, so the time at T = 1
 * against T = 2 gives the scaling ratio.
 * Usage: w_churn [scale] [threads] [remote|local]
 */
#include <pthread.h>

#include "wl.h"

#define BATCH_BLOCKS 256 // one handoff per batch keeps our own locking cheap
#define QUEUE_BATCHES 8  // batches in flight per thread before it must wait
#define TOTAL_BLOCKS 12000000

typedef struct {
    void *blk[BATCH_BLOCKS];
    uint32_t len[BATCH_BLOCKS];
} batch_t;

// One inbox per thread, on its own cache lines so that the benchmark's
// queues do not add false sharing of their own.  Remote mode guards all
// inboxes with the one global lock (a thread's wait depends on two of
// them); local mode uses the inbox's own lock, so that threads share
// nothing and any loss of scaling is the allocator's.
typedef struct {
    _Alignas(64) batch_t *q[QUEUE_BATCHES];
    unsigned head, count;
    int waiting;
    pthread_cond_t cv;
    pthread_mutex_t own_mu;
} inbox_t;

static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;
static inbox_t *inbox;
static int nthreads;
static int local_only;
static uint64_t batches_per_thread;

typedef struct {
    _Alignas(64) int id;
    uint64_t sum;
} worker_t;

static size_t pick_len(wl_rng_t *rng)
{
    uint64_t r = wl_next(rng);
    unsigned pct = (unsigned)(r % 100);
    r >>= 8;
    if (pct < 80)
        return 16 + (size_t)(r % 240); // request headers, small objects
    if (pct < 98)
        return 256 + (size_t)(r % 1792); // strings, small buffers
    return 8192 + (size_t)(r % 8192);    // I/O buffers
}

static batch_t *make_batch(wl_rng_t *rng, uint64_t serial)
{
    batch_t *b = wl_malloc(sizeof *b);
    for (int i = 0; i < BATCH_BLOCKS; i++) {
        size_t len = pick_len(rng);
        b->len[i] = (uint32_t)len;
        b->blk[i] = wl_malloc(len);
        wl_touch(b->blk[i], len, serial * BATCH_BLOCKS + (uint64_t)i);
    }
    return b;
}

static uint64_t drain_batch(batch_t *b)
{
    uint64_t sum = 0;
    for (int i = 0; i < BATCH_BLOCKS; i++) {
        sum += wl_read(b->blk[i], b->len[i]);
        free(b->blk[i]);
    }
    free(b);
    return sum;
}

static void wake(inbox_t *box)
{
    if (box->waiting)
        pthread_cond_signal(&box->cv);
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    int t = w->id;
    inbox_t *in = &inbox[t];
    inbox_t *out = local_only ? in : &inbox[(t + 1) % nthreads];
    inbox_t *pred = local_only ? in : &inbox[(t + nthreads - 1) % nthreads];
    pthread_mutex_t *mu = local_only ? &in->own_mu : &global_mu;
    wl_rng_t rng = wl_rng(100 + (uint64_t)t);
    uint64_t produced = 0, consumed = 0, m = batches_per_thread;
    batch_t *pending = NULL;
    while (consumed < m || produced < m || pending != NULL) {
        if (pending == NULL && produced < m) {
            pending = make_batch(&rng, (uint64_t)t * m + produced);
            produced++;
        }
        batch_t *got = NULL;
        pthread_mutex_lock(mu);
        for (;;) {
            if (pending != NULL && out->count < QUEUE_BATCHES) {
                out->q[(out->head + out->count) % QUEUE_BATCHES] = pending;
                out->count++;
                pending = NULL;
                wake(out);
            }
            if (consumed < m && in->count > 0) {
                got = in->q[in->head];
                in->head = (in->head + 1) % QUEUE_BATCHES;
                in->count--;
                wake(pred);
                break;
            }
            if (pending == NULL && (produced < m || consumed == m))
                break;
            // Our batch cannot be handed on and nothing has arrived.
            in->waiting = 1;
            pthread_cond_wait(&in->cv, mu);
            in->waiting = 0;
        }
        pthread_mutex_unlock(mu);
        if (got != NULL) {
            w->sum += drain_batch(got);
            consumed++;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale] [threads] [remote|local]", 2, "remote");
    local_only = strcmp(a.mode, "local") == 0;
    if (!local_only && strcmp(a.mode, "remote") != 0) {
        fprintf(stderr, "w_churn: mode must be remote or local\n");
        return 2;
    }
    nthreads = a.threads;
    batches_per_thread = wl_scaled(TOTAL_BLOCKS / BATCH_BLOCKS, a.scale) / (uint64_t)nthreads;
    if (batches_per_thread == 0)
        batches_per_thread = 1;
    // Benchmark scaffolding comes from calloc like everything else; it is
    // a few KiB and allocated once.
    inbox = aligned_alloc(64, sizeof(inbox_t) * (size_t)nthreads);
    worker_t *w = aligned_alloc(64, sizeof(worker_t) * (size_t)nthreads);
    pthread_t *tid = calloc((size_t)nthreads, sizeof *tid);
    if (inbox == NULL || w == NULL || tid == NULL)
        abort();
    memset(inbox, 0, sizeof(inbox_t) * (size_t)nthreads);
    for (int t = 0; t < nthreads; t++) {
        pthread_cond_init(&inbox[t].cv, NULL);
        pthread_mutex_init(&inbox[t].own_mu, NULL);
        w[t].id = t;
        w[t].sum = 0;
    }
    double t0 = wl_now_s();
    for (int t = 0; t < nthreads; t++)
        if (pthread_create(&tid[t], NULL, worker, &w[t]) != 0)
            abort();
    uint64_t sum = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        sum += w[t].sum;
    }
    wl_print_elapsed(wl_now_s() - t0);
    free(tid);
    free(w);
    free(inbox);
    wl_print_checksum(sum);
    return 0;
}
