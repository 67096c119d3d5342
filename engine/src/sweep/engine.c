/* engine.c - mg_engine: what every sweep needs, made once; and mg_scan, a
 * one-shot engine.
 *
 * The engine owns the worker threads, the shared-page dedupe table and the
 * zero page's frame number. Between sweeps the workers are parked on
 * `wake`. A sweep (mg_engine_scan, under scan_lock: one at a time per
 * engine) sets up its mg_sweep and queue, rebinds every worker to it from
 * the calling thread (a matcher for its patterns: workers are parked, so
 * this is race-free), bumps `gen` and wakes them; the calling thread plans
 * the targets; then it closes the queue and waits until `busy` (workers
 * still in the sweep) is 0. The handover both ways is under `lock`, so a
 * worker sees the sweep the engine set up, and the engine sees what the
 * worker left.
 *
 * Whether a pattern set matches zeros alone (it then has to scan zero
 * pages) is cached in the set itself (mg_patterns.zeros_cache), keyed by
 * the overlap it was checked with: a pattern set serves any number of
 * engines and scans. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/residency.h"
#include "sweep/sweep.h"

struct mg_engine {
    mg_settings set; /* target selection empty: per scan */
    pthread_mutex_t scan_lock; /* one sweep at a time */
    pthread_mutex_t lock; /* the handover: gen, busy, quit */
    pthread_cond_t wake, idle;
    uint64_t gen; /* bumped per sweep: workers run a sweep once */
    unsigned busy; /* workers not yet done with the current sweep */
    bool quit;
    mg_worker *ws;
    unsigned threads; /* started */
    unsigned waiting; /* workers that reached their first wait */
    mg_dedupe *dd; /* NULL: no dedupe (not asked, or no memory for it) */
    mg_keep *keep; /* NULL: not incremental (not asked, no dedupe, no memory) */
    mg_cpu_budget cpu; /* set.cpu_budget's account, over every sweep */
    uint64_t zero_pfn; /* probed at mg_engine_new */
    bool pfns_visible;
};

static void *worker_main(void *arg)
{
    mg_worker *w = arg;
    mg_engine *e = w->engine;
    uint64_t seen = 0;
    pthread_mutex_lock(&e->lock);
    e->waiting++;
    pthread_cond_broadcast(&e->idle);
    for (;;) {
        while (!e->quit && e->gen == seen)
            pthread_cond_wait(&e->wake, &e->lock);
        if (e->quit)
            break;
        seen = e->gen;
        pthread_mutex_unlock(&e->lock);
        mg_worker_run(w);
        pthread_mutex_lock(&e->lock);
        if (--e->busy == 0)
            pthread_cond_signal(&e->idle);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

MG_API void mg_engine_free(mg_engine **pe)
{
    mg_engine *e = pe ? *pe : NULL;
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->quit = true;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    for (unsigned i = 0; i < e->threads; i++)
        pthread_join(e->ws[i].thread, NULL);
    for (unsigned i = 0; e->ws && i < e->threads; i++)
        mg_worker_fini(&e->ws[i]);
    free(e->ws);
    mg_dedupe_free(&e->dd);
    mg_keep_free(&e->keep);
    pthread_cond_destroy(&e->idle);
    pthread_cond_destroy(&e->wake);
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->scan_lock);
    mg_cpu_budget_fini(&e->cpu);
    free(e);
    *pe = NULL;
}

MG_API int mg_engine_new(mg_engine **out, const mg_settings *s, mg_error *err)
{
    MG_CHECK_ARG(out, err, "mg_engine_new: out must not be NULL");
    *out = NULL;
    mg_settings defaults;
    if (!s) {
        mg_default_settings(&defaults);
        s = &defaults;
    }
    int rc = mg_check_settings(s, err);
    if (rc < 0)
        return rc;
    MG_CHECK_ARG(!s->pids && !s->n_pids && !(s->cgroup_prefix && *s->cgroup_prefix) &&
                     !(s->container_prefix && *s->container_prefix),
                 err, "mg_engine_new: targets (pids, cgroup, container) are given per scan");
    unsigned threads = s->threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)MG_MIN(n, (long)MG_MAX_THREADS) : 1;
    }
    mg_engine *e = calloc(1, sizeof(*e));
    mg_worker *ws = calloc(threads, sizeof(*ws));
    if (!e || !ws) {
        free(e);
        free(ws);
        return mg_fail(err, -ENOMEM, "out of memory");
    }
    e->set = *s;
    e->ws = ws;
    pthread_mutex_init(&e->scan_lock, NULL);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    pthread_cond_init(&e->idle, NULL);
    mg_cpu_budget_init(&e->cpu, s->cpu_budget);
    if (s->dedupe && mg_dedupe_new(&e->dd, MG_DEDUPE_MAX_BYTES) < 0)
        e->dd = NULL; /* no memory for it: scan everything */
    if (e->dd && s->incremental && mg_keep_new(&e->keep) < 0)
        e->keep = NULL;
    e->zero_pfn = mg_zero_pfn(&e->pfns_visible);
    for (unsigned i = 0; i < threads; i++) {
        mg_worker_open(&ws[i], s);
        ws[i].engine = e;
        rc = -pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
        if (rc < 0) {
            mg_worker_fini(&ws[i]);
            break;
        }
        e->threads++;
    }
    if (rc < 0) {
        mg_engine_free(&e);
        return mg_fail(err, rc, "cannot start workers: %s", mg_strerror(rc));
    }
    /* Returned with every worker waiting, none still starting: a fork
     * (the vault compiles in a child) while a thread starts can leave a
     * lock of the allocator held in the child (ASan's: GCC 12's libasan
     * has no fork handler; header_test_cpp hung 1 run in 20) */
    pthread_mutex_lock(&e->lock);
    while (e->waiting < e->threads)
        pthread_cond_wait(&e->idle, &e->lock);
    pthread_mutex_unlock(&e->lock);
    *out = e;
    return 0;
}

static int zero_hit(void *arg, const mg_hit *h, const mg_piece *pc)
{
    (void)h, (void)pc;
    *(bool *)arg = true;
    return MG_SINK_STOP;
}

/* Whether any pattern matches in nothing but zero bytes: then pages of the
 * zero page must be scanned like any other. Cached in the set for the
 * overlap and unbounded width it was checked with. */
static bool matches_zeros(mg_sweep *c)
{
    mg_patterns *p = (mg_patterns *)c->pats; /* the cache is the mutable part */
    /* the check's inputs besides the set: its length (the margin) and the
     * unbounded width the matcher is made with (<= MG_MAX_EXACT_WIDTH) */
    uint64_t key = ((uint64_t)c->margin << 17 | c->set.unbounded_width) << 1;
    uint64_t cached = atomic_load(&p->zeros_cache);
    if (cached && ((cached - 1) & ~(uint64_t)1) == key)
        return (cached - 1) & 1;
    mg_matcher m;
    size_t len = 2 * c->margin + 2;
    uint8_t *zeros = calloc(1, len);
    bool hit = false;
    int rc = zeros ? mg_matcher_init(&m, c->pats, c->set.unbounded_width) : -ENOMEM;
    if (rc == 0) {
        mg_piece pc = {.buf = zeros, .addr = 0, .len = len, .own_start = 0, .own_end = len};
        rc = mg_matcher_scan(&m, &pc, zero_hit, &hit);
        mg_matcher_fini(&m);
    }
    free(zeros);
    if (rc < 0)
        return true; /* not known: scan zero pages too */
    atomic_store(&p->zeros_cache, (key | hit) + 1);
    return hit;
}

/* The sweep c through e's workers; the calling thread plans. */
static int run_sweep(mg_engine *e, mg_sweep *c, mg_error *err)
{
    int rc = mg_pool_open(c, e->threads);
    for (unsigned i = 0; rc == 0 && i < e->threads; i++)
        rc = mg_worker_bind(&e->ws[i], c);
    if (rc < 0) {
        mg_pool_destroy(c);
        return mg_fail(err, rc, "cannot set up the workers: %s", mg_strerror(rc));
    }
    pthread_mutex_lock(&e->lock);
    e->busy = e->threads;
    e->gen++;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    rc = mg_plan_targets(c, err);
    mg_pool_close(c);
    pthread_mutex_lock(&e->lock);
    while (e->busy)
        pthread_cond_wait(&e->idle, &e->lock);
    pthread_mutex_unlock(&e->lock);
    mg_pool_destroy(c);
    return rc;
}

MG_API int mg_engine_scan(mg_engine *e, const mg_targets *targets, const mg_patterns *pats,
                          const mg_sink *sink, mg_stats *stats, mg_error *err)
{
    static const mg_targets every = {0};
    MG_CHECK_ARG(e && pats, err, "mg_engine_scan: engine and patterns must not be NULL");
    if (!pats->db)
        return mg_fail(err, MG_ENOTCOMPILED, "patterns not compiled");
    if (e->set.rules_negate && pats->yara && pats->yara->no_negate)
        return mg_fail(err, -EINVAL,
                       "mg_engine_scan: rules_negate with rules added with MG_RULES_NO_NEGATE");
    if (!targets)
        targets = &every;
    int rc = mg_check_targets(targets, err);
    if (rc == 0)
        rc = mg_check_sink(sink, err);
    if (rc < 0)
        return rc;
    mg_sweep *c = calloc(1, sizeof(*c));
    if (!c)
        return mg_fail(err, -ENOMEM, "out of memory");
    pthread_mutex_lock(&e->scan_lock);
    double t0 = mg_now();
    mg_settings s = e->set;
    s.pids = targets->pids;
    s.n_pids = targets->n_pids;
    s.cgroup_prefix = targets->cgroup_prefix;
    s.container_prefix = targets->container_prefix;
    mg_sweep_init(c, pats, &s, sink, t0);
    c->skip_zero = !matches_zeros(c);
    c->dd = e->dd;
    c->keep = e->keep;
    if (c->keep)
        mg_keep_begin(c->keep, pats->keep_id);
    c->cpu = e->set.cpu_budget > 0 ? &e->cpu : NULL;
    c->zero_pfn = e->zero_pfn;
    c->pfns_visible = e->pfns_visible;
    rc = run_sweep(e, c, err);
    mg_fill_stats(c, stats, t0, e->threads);
    mg_dedupe_clear(e->dd); /* its records are this sweep's */
    if (c->keep)
        mg_keep_end(c->keep);
    mg_sweep_fini(c);
    pthread_mutex_unlock(&e->scan_lock);
    free(c);
    return rc;
}

/* A one-shot engine: the targets move from the settings to the scan. */
MG_API int mg_scan(const mg_patterns *pats, const mg_settings *s, const mg_sink *sink,
                   mg_stats *stats, mg_error *err)
{
    mg_settings defaults;
    if (!s) {
        mg_default_settings(&defaults);
        s = &defaults;
    }
    MG_CHECK_ARG(pats, err, "mg_scan: no pattern set");
    if (!pats->db)
        return mg_fail(err, MG_ENOTCOMPILED, "patterns not compiled");
    mg_targets t = {.pids = s->pids,
                    .n_pids = s->n_pids,
                    .cgroup_prefix = s->cgroup_prefix,
                    .container_prefix = s->container_prefix};
    mg_settings es = *s;
    es.pids = NULL;
    es.n_pids = 0;
    es.cgroup_prefix = es.container_prefix = NULL;
    int rc = mg_check_targets(&t, err);
    if (rc == 0)
        rc = mg_check_sink(sink, err);
    mg_engine *e = NULL;
    if (rc == 0)
        rc = mg_engine_new(&e, &es, err);
    if (rc == 0)
        rc = mg_engine_scan(e, &t, pats, sink, stats, err);
    mg_engine_free(&e);
    return rc;
}
