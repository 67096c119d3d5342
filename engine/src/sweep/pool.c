/* pool.c - the bounded unit queue of a sweep and the workers' loop over it
 * (the threads belong to the engine, engine.c).
 *
 * The planner (the calling thread) pushes units; workers pop them, from any
 * process, and run them. The queue holds MG_QUEUE_PER_THREAD units per
 * worker, so memory is bounded by the queue and the workers' buffers,
 * whatever the targets' sizes. `lock` guards the queue fields and `closing`;
 * a queued unit holds a reference on its target, dropped by the worker that
 * ran (or skipped) it. Between units is where a sweep stops
 * (mg_sweep_should_stop, stop.c); the planner waiting on a full queue
 * looks at it every MG_STOP_POLL_MS. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "sweep/sweep.h"

/* ---- the queue ------------------------------------------------------------ */

bool mg_pool_push(mg_sweep *c, const mg_unit *u)
{
    c->pend[c->n_pend++] = *u;
    return c->n_pend < MG_PUSH_BATCH || mg_pool_flush(c);
}

/* The units held back go into the queue under one lock and wake the
 * workers once, not once each: a host of small processes makes units of a
 * few pages, and a wake-up per unit cost more than reading them. */
bool mg_pool_flush(mg_sweep *c)
{
    size_t k = 0, n = c->n_pend;
    c->n_pend = 0;
    pthread_mutex_lock(&c->lock);
    while (k < n) {
        const mg_unit *u = &c->pend[k];
        if (c->q_len == c->q_cap) {
            if (k)
                pthread_cond_broadcast(&c->not_empty); /* what fits so far */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += MG_STOP_POLL_NS;
            ts.tv_sec += ts.tv_nsec / 1000000000;
            ts.tv_nsec %= 1000000000;
            if (pthread_cond_timedwait(&c->not_full, &c->lock, &ts) == ETIMEDOUT) {
                /* workers may all be waiting on the rate limit: look up */
                pthread_mutex_unlock(&c->lock);
                if (mg_sweep_should_stop(c, u->p))
                    return false;
                pthread_mutex_lock(&c->lock);
            }
            continue;
        }
        atomic_fetch_add(&u->p->refs, 1);
        c->q[(c->q_head + c->q_len) % c->q_cap] = *u;
        c->q_len++;
        k++;
    }
    if (n == 1)
        pthread_cond_signal(&c->not_empty);
    else if (n > 1)
        pthread_cond_broadcast(&c->not_empty);
    pthread_mutex_unlock(&c->lock);
    return true;
}

/* Waits for a unit; false once the queue is closed and empty. A direct
 * region at the head is handed out a step (mg_direct_step) at a time:
 * it stays at the head, owning the rest, until its last piece is taken, and
 * each piece but the last takes a reference of its own on the target. So
 * every worker takes the region's steps in order, one lock each, and the
 * planner is woken once per region, not per piece. */
static bool pop_unit(mg_sweep *c, mg_unit *u)
{
    pthread_mutex_lock(&c->lock);
    while (c->q_len == 0 && !c->closing)
        pthread_cond_wait(&c->not_empty, &c->lock);
    bool got = c->q_len > 0;
    if (got) {
        mg_unit *head = &c->q[c->q_head];
        uint64_t step = mg_direct_step(c);
        uint64_t cut = head->direct ? (head->own_start / step + 1) * step : UINT64_MAX;
        *u = *head;
        if (cut < head->own_end) {
            u->own_end = cut;
            head->own_start = cut;
            atomic_fetch_add(&u->p->refs, 1);
            pthread_cond_signal(&c->not_empty); /* more pieces: another waiter may take one */
        } else {
            c->q_head = (c->q_head + 1) % c->q_cap;
            c->q_len--;
            pthread_cond_signal(&c->not_full);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return got;
}

void mg_pool_work(mg_worker *w)
{
    mg_unit u;
    while (pop_unit(w->c, &u)) {
        if (!mg_sweep_should_stop(w->c, u.p))
            mg_run_unit(w, &u);
        mg_target_unref(u.p);
        mg_maybe_progress(w->c);
    }
}

int mg_pool_open(mg_sweep *c, unsigned threads)
{
    c->q_cap = (size_t)threads * MG_QUEUE_PER_THREAD;
    c->q = calloc(c->q_cap, sizeof(*c->q));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->not_empty, NULL);
    pthread_condattr_t ca; /* mg_pool_push's timed wait: on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->not_full, &ca);
    pthread_condattr_destroy(&ca);
    return c->q ? 0 : -ENOMEM;
}

void mg_pool_close(mg_sweep *c)
{
    pthread_mutex_lock(&c->lock);
    c->closing = true;
    pthread_cond_broadcast(&c->not_empty);
    pthread_mutex_unlock(&c->lock);
}

void mg_pool_destroy(mg_sweep *c)
{
    pthread_cond_destroy(&c->not_full);
    pthread_cond_destroy(&c->not_empty);
    pthread_mutex_destroy(&c->lock);
    free(c->q);
    c->q = NULL;
}
