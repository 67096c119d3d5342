/* pool.c - the bounded unit queue and the worker threads.
 *
 * The planner (the calling thread) pushes units; workers pop them, from any
 * process, and run them. The queue holds MG_QUEUE_PER_THREAD units per
 * worker, so memory is bounded by the queue and the workers' buffers,
 * whatever the targets' sizes. `lock` guards the queue fields and `closing`;
 * a queued unit holds a reference on its target, dropped by the worker that
 * ran (or skipped) it. Between units is where a sweep stops:
 * mg_pool_should_stop is that one place. */
#include <errno.h>
#include <stdlib.h>

#include "sweep.h"

bool mg_pool_should_stop(mg_sweep *c, const mg_target *p)
{
    if (atomic_load(&c->stop))
        return true;
    return p && atomic_load(&p->skip);
}

void mg_pool_push(mg_sweep *c, const mg_unit *u)
{
    atomic_fetch_add(&u->p->refs, 1);
    pthread_mutex_lock(&c->lock);
    while (c->q_len == c->q_cap)
        pthread_cond_wait(&c->not_full, &c->lock);
    c->q[(c->q_head + c->q_len) % c->q_cap] = *u;
    c->q_len++;
    pthread_cond_signal(&c->not_empty);
    pthread_mutex_unlock(&c->lock);
}

/* Waits for a unit; false once the queue is closed and empty. */
static bool pop_unit(mg_sweep *c, mg_unit *u)
{
    pthread_mutex_lock(&c->lock);
    while (c->q_len == 0 && !c->closing)
        pthread_cond_wait(&c->not_empty, &c->lock);
    bool got = c->q_len > 0;
    if (got) {
        *u = c->q[c->q_head];
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_len--;
        pthread_cond_signal(&c->not_full);
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
    pthread_cond_init(&c->not_full, NULL);
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
