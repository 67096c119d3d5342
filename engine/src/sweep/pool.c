/* pool.c - the bounded unit queue of a sweep, and the targets left to plan
 * (the threads belong to the engine, engine.c; their loop is planner.c's).
 *
 * Planners push units; workers pop them, from any process, and run them.
 * In a sweep of the whole host with two workers or more, the workers are
 * the planners: one that finds the queue empty is handed the next target to
 * plan (the calling thread alone could not keep them busy on a host of
 * small processes); it runs a small target's units itself and never waits
 * on a full queue. Else the calling thread plans (sweep.h: workers_plan). The
 * queue holds MG_QUEUE_PER_THREAD units per worker, so memory is bounded by
 * the queue and the workers' buffers, whatever the targets' sizes. `lock`
 * guards the queue fields, the targets left and `closing`; a queued unit
 * holds a reference on its target, dropped by the worker that ran (or
 * skipped) it. Between units is where a sweep stops (mg_sweep_should_stop,
 * stop.c); the calling thread waiting on a full queue looks at it every
 * MG_STOP_POLL_MS. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "sweep/sweep.h"

/* ---- the queue ------------------------------------------------------------ */

/* Under lock, with room: u at the tail, with a reference on its target. */
static void enqueue(mg_sweep *c, const mg_unit *u)
{
    atomic_fetch_add(&u->p->refs, 1);
    c->q[(c->q_head + c->q_len) % c->q_cap] = *u;
    c->q_len++;
}

/* Under lock: n units were queued; wake a waiting worker, or all of them. */
static void wake(mg_sweep *c, size_t n)
{
    if (n == 1)
        pthread_cond_signal(&c->not_empty);
    else if (n > 1)
        pthread_cond_broadcast(&c->not_empty);
}

/* Queue pl's units held back, as many as there is room for (waiting for
 * none). Returns how many, from the first. */
static size_t queue_some(mg_planner *pl)
{
    mg_sweep *c = pl->c;
    size_t k = 0;
    pthread_mutex_lock(&c->lock);
    for (; k < pl->n_pend && c->q_len < c->q_cap; k++)
        enqueue(c, &pl->pend[k]);
    wake(c, k);
    pthread_mutex_unlock(&c->lock);
    return k;
}

/* A worker planning: run pl's units held back from the k-th on itself, as
 * it runs queued ones (its planner reference keeps their target). */
static void run_here(mg_planner *pl, size_t k)
{
    if (k < pl->n_pend) /* one target's: read together (mg_run_units) */
        mg_run_units(pl->w, pl->pend + k, pl->n_pend - k);
    pl->n_pend = 0;
    pl->pend_bytes = 0;
}

bool mg_pool_push(mg_planner *pl, const mg_unit *u)
{
    pl->pend[pl->n_pend++] = *u;
    pl->pend_bytes += u->own_end - u->own_start;
    if (!pl->w)
        return pl->n_pend < MG_PUSH_BATCH || mg_pool_flush(pl);
    bool small = pl->n_pend < MG_PLAN_PEND &&
                 pl->pend_bytes <= (uint64_t)MG_LOCAL_CHUNKS * pl->c->set.chunk_size;
    if (pl->spilled ? pl->n_pend >= MG_PUSH_BATCH : !small) {
        pl->spilled = true; /* not small: shared from now on */
        run_here(pl, queue_some(pl));
    }
    return true;
}

/* The units held back go into the queue under one lock and wake the
 * workers once, not once each: a host of small processes makes units of a
 * few pages, and a wake-up per unit cost more than reading them. A worker
 * runs a small target's units itself: no hand-off at all. */
bool mg_pool_flush(mg_planner *pl)
{
    mg_sweep *c = pl->c;
    size_t k = 0, n = pl->n_pend;
    if (pl->w) {
        run_here(pl, pl->spilled ? queue_some(pl) : 0);
        return true;
    }
    pl->n_pend = 0;
    pl->pend_bytes = 0;
    pthread_mutex_lock(&c->lock);
    while (k < n) {
        const mg_unit *u = &pl->pend[k];
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
        enqueue(c, u);
        k++;
    }
    wake(c, n);
    pthread_mutex_unlock(&c->lock);
    return true;
}

void mg_pool_offer_targets(mg_sweep *c, pid_t *pids, size_t n)
{
    pthread_mutex_lock(&c->lock);
    c->plan_pids = pids;
    c->plan_n = n;
    c->plan_next = 0;
    pthread_cond_broadcast(&c->not_empty);
    pthread_mutex_unlock(&c->lock);
}

static bool take_target(mg_sweep *c, pid_t *pid)
{
    if (c->plan_next >= c->plan_n)
        return false;
    *pid = c->plan_pids[c->plan_next++];
    return true;
}

bool mg_pool_take_target(mg_sweep *c, pid_t *pid)
{
    pthread_mutex_lock(&c->lock);
    bool got = take_target(c, pid);
    pthread_mutex_unlock(&c->lock);
    return got;
}

/* Units first, a direct region a step at a time (sweep.h). */
int mg_pool_pop(mg_sweep *c, mg_unit *u, pid_t *pid)
{
    pthread_mutex_lock(&c->lock);
    bool plan = false;
    while (c->q_len == 0 && !(plan = c->workers_plan && take_target(c, pid)) && !c->closing)
        pthread_cond_wait(&c->not_empty, &c->lock);
    int got = c->q_len > 0 ? 1 : plan ? 2 : 0;
    if (got == 1) {
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

int mg_pool_open(mg_sweep *c, unsigned threads)
{
    c->q_cap = (size_t)threads * MG_QUEUE_PER_THREAD;
    c->workers_plan = threads > 1 && !c->set.n_pids;
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
    free(c->plan_pids);
    c->plan_pids = NULL;
}
