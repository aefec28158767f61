// SPDX-License-Identifier: MIT
/*
 * w_pipeline: a producer/consumer pipeline.  One thread allocates messages
 * and fills them, another reads and frees them; batches of messages go
 * through a bounded queue.  Every free is remote and every block flows one
 * way, the pattern that makes per-thread caches hoard memory or bounce it.
 * Usage: w_pipeline [scale]
 */
#include <pthread.h>

#include "wl.h"

#define BATCH_MSGS 256   // one handoff per batch keeps our own locking cheap
#define QUEUE_BATCHES 16 // bound on batches in flight
#define TOTAL_MSGS 2000000

typedef struct {
    void *msg[BATCH_MSGS];
    uint32_t len[BATCH_MSGS];
} batch_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static batch_t *queue[QUEUE_BATCHES];
static unsigned head, count;
static int consumer_waiting, producer_waiting;
static uint64_t nbatches;

static size_t pick_len(wl_rng_t *rng)
{
    uint64_t r = wl_next(rng);
    if (r % 100 == 0)
        return 8192 + (size_t)((r >> 8) % 8192); // the odd bulk message
    return 32 + (size_t)((r >> 8) % 992);        // 32..1023 B
}

static void *producer(void *arg)
{
    (void)arg;
    wl_rng_t rng = wl_rng(6);
    for (uint64_t k = 0; k < nbatches; k++) {
        batch_t *b = wl_malloc(sizeof *b);
        for (int i = 0; i < BATCH_MSGS; i++) {
            size_t len = pick_len(&rng);
            b->len[i] = (uint32_t)len;
            b->msg[i] = wl_malloc(len);
            wl_touch(b->msg[i], len, k * BATCH_MSGS + (uint64_t)i);
        }
        pthread_mutex_lock(&mu);
        while (count == QUEUE_BATCHES) {
            producer_waiting = 1;
            pthread_cond_wait(&not_full, &mu);
            producer_waiting = 0;
        }
        queue[(head + count) % QUEUE_BATCHES] = b;
        count++;
        if (consumer_waiting)
            pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args_t a = wl_parse(argc, argv, "[scale]", 2, NULL);
    nbatches = wl_scaled(TOTAL_MSGS / BATCH_MSGS, a.scale);
    pthread_t tid;
    if (pthread_create(&tid, NULL, producer, NULL) != 0)
        abort();
    // The main thread is the consumer.
    uint64_t sum = 0;
    for (uint64_t k = 0; k < nbatches; k++) {
        pthread_mutex_lock(&mu);
        while (count == 0) {
            consumer_waiting = 1;
            pthread_cond_wait(&not_empty, &mu);
            consumer_waiting = 0;
        }
        batch_t *b = queue[head];
        head = (head + 1) % QUEUE_BATCHES;
        count--;
        if (producer_waiting)
            pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&mu);
        for (int i = 0; i < BATCH_MSGS; i++) {
            sum += wl_read(b->msg[i], b->len[i]);
            free(b->msg[i]);
        }
        free(b);
    }
    pthread_join(tid, NULL);
    wl_print_checksum(sum);
    return 0;
}
