/* pool.c - the bounded unit queue and the worker threads.
 *
 * The planner (the calling thread) pushes units; workers pop them, from any
 * process, and run them. The queue holds MG_QUEUE_PER_THREAD units per
 * worker, so memory is bounded by the queue and the workers' buffers,
 * whatever the targets' sizes. `lock` guards the queue fields and `closing`;
 * a queued unit holds a reference on its target, dropped by the worker that
 * ran (or skipped) it. Between units is where a sweep stops:
 * mg_pool_should_stop is that one place; it also holds the deadlines.
 *
 * Waiting is never longer than MG_STOP_POLL_MS without a look at
 * mg_pool_should_stop: the planner on a full queue, a worker on the rate
 * limiter (mg_pool_pace). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "sweep/sweep.h"

#define POLL_NS ((int64_t)MG_STOP_POLL_MS * 1000000)

int64_t mg_sweep_now_ns(const mg_sweep *c)
{
    return (int64_t)((mg_now() - c->t0) * 1e9);
}

int mg_sweep_stop(mg_sweep *c, int reason)
{
    int none = MG_STOP_NONE;
    if (atomic_compare_exchange_strong(&c->stop_reason, &none, reason))
        return reason;
    return none; /* the reason already in force */
}

/* The sweep's part of the decision; *now is the clock if a deadline needs it. */
static bool sweep_stops(mg_sweep *c, double *now)
{
    *now = 0;
    if (atomic_load_explicit(&c->stop_reason, memory_order_relaxed) != MG_STOP_NONE)
        return true;
    if (c->set.cancel && c->set.cancel(c->set.cancel_ctx)) {
        mg_sweep_stop(c, MG_STOP_CANCELLED);
        return true;
    }
    *now = c->deadline > 0 || c->set.process_timeout > 0 ? mg_now() : 0;
    if (c->deadline > 0 && *now >= c->deadline) {
        mg_sweep_stop(c, MG_STOP_TIMEOUT);
        return true;
    }
    return false;
}

static bool process_timed_out(mg_sweep *c, mg_target *p, double now)
{
    uint64_t first = atomic_load_explicit(&p->first_unit_us, memory_order_relaxed);
    if (first && c->set.process_timeout > 0 &&
        (now - c->t0) * 1e6 - (double)first >= c->set.process_timeout * 1e6) {
        /* one terminal event per target, like a failure */
        mg_target_failed(c, p, -ETIMEDOUT, "scan cut short by the per-process timeout");
        return true;
    }
    return false;
}

bool mg_pool_should_stop(mg_sweep *c, mg_target *p)
{
    double now;
    if (sweep_stops(c, &now))
        return true;
    if (!p)
        return false;
    if (atomic_load(&p->skip))
        return true;
    return process_timed_out(c, p, now);
}

bool mg_pool_should_cut(mg_sweep *c, mg_target *p)
{
    double now;
    if (sweep_stops(c, &now))
        return true;
    return p && process_timed_out(c, p, now);
}

/* ---- read pacing ---------------------------------------------------------- */

int64_t mg_rate_reserve(mg_rate *r, uint64_t n, int64_t now)
{
    int64_t cost = (int64_t)((double)n * 1e9 / (double)r->bytes_per_sec);
    int64_t old = atomic_load_explicit(&r->tat_ns, memory_order_relaxed), end;
    /* After idle time the timeline restarts at now - burst: a bucket of
     * burst's worth, no more (no credit piles up while nothing is read). */
    do
        end = MG_MAX(old, now - r->burst_ns) + cost;
    while (!atomic_compare_exchange_weak_explicit(&r->tat_ns, &old, end, memory_order_relaxed,
                                                  memory_order_relaxed));
    return end;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    nanosleep(&ts, NULL); /* EINTR: the caller looks again */
}

bool mg_pool_pace(mg_sweep *c, mg_target *p, uint64_t n)
{
    if (!c->rate.bytes_per_sec || !n)
        return true;
    int64_t go = mg_rate_reserve(&c->rate, n, mg_sweep_now_ns(c));
    for (;;) {
        if (mg_pool_should_stop(c, p))
            return false; /* the reservation is not given back: the sweep or p is over */
        int64_t left = go - mg_sweep_now_ns(c);
        if (left <= 0)
            return true;
        sleep_ns(MG_MIN(left, POLL_NS));
    }
}

/* ---- the queue ------------------------------------------------------------ */

bool mg_pool_push(mg_sweep *c, const mg_unit *u)
{
    pthread_mutex_lock(&c->lock);
    while (c->q_len == c->q_cap) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += POLL_NS;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        if (pthread_cond_timedwait(&c->not_full, &c->lock, &ts) == ETIMEDOUT) {
            /* workers may all be waiting on the rate limit: look up */
            pthread_mutex_unlock(&c->lock);
            if (mg_pool_should_stop(c, u->p))
                return false;
            pthread_mutex_lock(&c->lock);
        }
    }
    atomic_fetch_add(&u->p->refs, 1);
    c->q[(c->q_head + c->q_len) % c->q_cap] = *u;
    c->q_len++;
    pthread_cond_signal(&c->not_empty);
    pthread_mutex_unlock(&c->lock);
    return true;
}

uint64_t mg_direct_step(const mg_sweep *c)
{
    uint64_t chunk = c->set.chunk_size;
    return chunk * MG_MAX(1, MG_DIRECT_STEP / chunk);
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

static void *worker_main(void *arg)
{
    mg_worker *w = arg;
    mg_unit u;
    while (pop_unit(w->c, &u)) {
        if (!mg_pool_should_stop(w->c, u.p))
            mg_run_unit(w, &u);
        mg_target_unref(u.p);
        mg_maybe_progress(w->c);
    }
    return NULL;
}

int mg_pool_start(mg_sweep *c, mg_worker *ws, unsigned threads, unsigned *started)
{
    *started = 0;
    c->q_cap = (size_t)threads * MG_QUEUE_PER_THREAD;
    c->q = calloc(c->q_cap, sizeof(*c->q));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->not_empty, NULL);
    pthread_condattr_t ca; /* mg_pool_push's timed wait: on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->not_full, &ca);
    pthread_condattr_destroy(&ca);
    int rc = c->q ? 0 : -ENOMEM;
    for (unsigned i = 0; rc == 0 && i < threads; i++) {
        rc = mg_worker_init(&ws[i], c);
        if (rc == 0 && (rc = -pthread_create(&ws[i].thread, NULL, worker_main, &ws[i])) == 0)
            (*started)++;
        else
            mg_worker_fini(&ws[i]);
    }
    return rc;
}

void mg_pool_finish(mg_sweep *c, mg_worker *ws, unsigned started)
{
    pthread_mutex_lock(&c->lock);
    c->closing = true;
    pthread_cond_broadcast(&c->not_empty);
    pthread_mutex_unlock(&c->lock);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ws[i].thread, NULL);
        mg_worker_fini(&ws[i]);
    }
    pthread_cond_destroy(&c->not_full);
    pthread_cond_destroy(&c->not_empty);
    pthread_mutex_destroy(&c->lock);
    free(c->q);
    c->q = NULL;
}
