/* scan.c - a sweep's setup (mg_sweep_init), the checks of settings,
 * targets and sinks, and mg_scan_buffer, composed of the stages in sweep.h.
 *
 * A sweep of processes is an engine's (engine.c): the calling thread plans
 * every target's units and the engine's workers run them. Memory is
 * bounded by threads x (chunk + 2 x margin + MG_DEDUPE_MAX_RECORD) plus the
 * queue and the dedupe table (MG_DEDUPE_MAX_BYTES), whatever the targets'
 * sizes.
 *
 * mg_scan_buffer cuts a buffer with the same code (mg_cut_units,
 * mg_unit_window, mg_scan_window), so chunking, overlap and ownership are
 * the same as mg_scan's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "os/procs.h"
#include "sweep/sweep.h"

/* Overlap each side of a unit: a whole match plus its context after it,
 * context before it, and one byte more: a look-ahead reads two bytes past
 * a match's end ('$' matches before a final newline only; a lazy regex's
 * window, matcher.c). */
static size_t margin_of(const mg_patterns *p, unsigned unbounded_width, size_t context)
{
    return (size_t)mg_patterns_max_width(p, unbounded_width) + context + 1;
}

void mg_sweep_init(mg_sweep *c, const mg_patterns *pats, const mg_settings *s, const mg_sink *sink,
                   double t0)
{
    memset(c, 0, sizeof(*c));
    c->pats = pats;
    c->set = *s;
    c->sink = sink;
    c->margin = margin_of(pats, s->unbounded_width, s->context);
    c->width = mg_patterns_max_width(pats, s->unbounded_width);
    c->t0 = t0;
    c->deadline = s->timeout > 0 ? t0 + s->timeout : 0;
    c->rate.bytes_per_sec = s->max_rate;
    c->rate.burst_ns = (int64_t)MG_RATE_BURST_MS * 1000000;
    atomic_init(&c->stop_reason, MG_STOP_NONE);
    c->interval = sink && sink->progress_interval > 0 ? sink->progress_interval
                                                      : MG_DEFAULT_PROGRESS_INTERVAL;
    atomic_init(&c->next_progress_us, (uint64_t)(c->interval * 1e6));
    pthread_mutex_init(&c->sink_lock, NULL);
}

void mg_sweep_fini(mg_sweep *c)
{
    pthread_mutex_destroy(&c->sink_lock);
}

int mg_check_settings(const mg_settings *s, mg_error *err)
{
    if (mg_page_size() != MG_PAGE_SIZE)
        return mg_fail(err, -ENOTSUP, "page size %zu: this build of memgrep supports %u only",
                       mg_page_size(), MG_PAGE_SIZE);
    if (s->chunk_size < MG_PAGE_SIZE || s->chunk_size % MG_PAGE_SIZE ||
        s->chunk_size > MG_MAX_CHUNK_SIZE)
        return mg_fail(err, -EINVAL, "chunk size %zu: must be a multiple of %u up to %u",
                       s->chunk_size, MG_PAGE_SIZE, MG_MAX_CHUNK_SIZE);
    if (s->threads > MG_MAX_THREADS)
        return mg_fail(err, -EINVAL, "threads %u: at most %u (MG_MAX_THREADS)", s->threads,
                       MG_MAX_THREADS);
    if (s->context > MG_MAX_CONTEXT)
        return mg_fail(err, -EINVAL, "context %zu: at most %u bytes", s->context, MG_MAX_CONTEXT);
    /* !(x >= 0) also catches NaN; 0 is the way to say none, not inf */
    if (!(s->timeout >= 0) || s->timeout > MG_MAX_SECONDS)
        return mg_fail(err, -EINVAL, "timeout %g: must be 0 (none) or seconds up to %g", s->timeout,
                       MG_MAX_SECONDS);
    if (!(s->process_timeout >= 0) || s->process_timeout > MG_MAX_SECONDS)
        return mg_fail(err, -EINVAL, "process timeout %g: must be 0 (none) or seconds up to %g",
                       s->process_timeout, MG_MAX_SECONDS);
    if (!(s->cpu_budget >= 0) || s->cpu_budget > MG_MAX_CPU_BUDGET)
        return mg_fail(err, -EINVAL, "CPU budget %g: must be 0 (none) or CPUs up to %g",
                       s->cpu_budget, MG_MAX_CPU_BUDGET);
    if (s->unbounded_width == 0 || s->unbounded_width > MG_MAX_EXACT_WIDTH)
        return mg_fail(err, -EINVAL, "unbounded width %u: must be 1..%u", s->unbounded_width,
                       MG_MAX_EXACT_WIDTH);
    if ((unsigned)s->mem_reader > MG_MEM_READER_PREAD ||
        (unsigned)s->residency > MG_RESIDENCY_PAGEMAP)
        return mg_fail(err, -EINVAL, "mem_reader %d, residency %d: unknown value",
                       (int)s->mem_reader, (int)s->residency);
    MG_CHECK_ARG(mg_reserved_zero(s->reserved, sizeof(s->reserved)), err,
                 "mg_settings: reserved fields not zero (initialise with mg_default_settings)");
    return 0;
}

/* The per-scan part: explicit pids must exist and not be memgrep. */
int mg_check_targets(const mg_targets *t, mg_error *err)
{
    MG_CHECK_ARG(t->pids || !t->n_pids, err, "targets: %zu pids but pids is NULL", t->n_pids);
    MG_CHECK_ARG(mg_reserved_zero(t->reserved, sizeof(t->reserved)), err,
                 "mg_targets: reserved fields not zero");
    for (size_t i = 0; i < t->n_pids; i++) {
        if (t->pids[i] <= 0)
            return mg_fail(err, MG_EBADPID, "invalid pid %d", (int)t->pids[i]);
        if (!mg_pid_exists(t->pids[i]))
            return mg_fail(err, MG_EBADPID, "no such process: %d", (int)t->pids[i]);
        if (mg_read_tgid(t->pids[i]) == getpid())
            return mg_fail(err, MG_EBADPID, "refusing to scan memgrep itself: %d", (int)t->pids[i]);
    }
    return 0;
}

int mg_check_sink(const mg_sink *sink, mg_error *err)
{
    MG_CHECK_ARG(!sink || mg_reserved_zero(sink->reserved, sizeof(sink->reserved)), err,
                 "mg_sink: reserved fields not NULL");
    return 0;
}

/* ---- scanning a buffer: the same chunking, no target -------------------- */

typedef struct buf_scan {
    mg_sweep c;
    mg_target p;
    mg_region region;
    mg_unit u;
    mg_worker w;
    const uint8_t *buf;
    int rc;
} buf_scan;

static int scan_buffer_unit(void *arg, uint64_t own_start, uint64_t own_end)
{
    buf_scan *b = arg;
    uint64_t ba, bb;
    b->u.own_start = own_start;
    b->u.own_end = own_end;
    mg_unit_window(&b->c, &b->u, &ba, &bb);
    int v = mg_scan_window(&b->w, b->buf + (ba - b->region.start), ba, bb);
    if (v < 0)
        b->rc = v;
    return v != MG_SINK_CONTINUE;
}

typedef struct buffer_read {
    const uint8_t *buf;
    uint64_t base;
    size_t len;
} buffer_read;

static int buffer_read_fn(void *ctx, uint64_t addr, void *out, size_t n)
{
    const buffer_read *b = ctx;
    if (addr < b->base || addr - b->base > b->len || b->len - (addr - b->base) < n)
        return -1;
    memcpy(out, b->buf + (addr - b->base), n);
    return 0;
}

int mg_yara_buffer_done(mg_sweep *c, mg_target *p, const void *buf, size_t len, uint64_t base)
{
    const mg_yara *y = c->pats->yara;
    int v = MG_SINK_CONTINUE;
    if (y && atomic_load(&p->yara_lost)) {
        v = -ENOMEM; /* a match could not be kept: no rule is decided */
    } else if (y) {
        buffer_read b = {.buf = buf, .base = base, .len = len};
        uint64_t n = 0;
        mg_region whole = {.start = base, .end = base + len, .perms = "r--p", .path = ""};
        v = mg_yara_evaluate(c->pats, &p->info, p->yproc, buffer_read_fn, &b, c->sink, NULL,
                             mg_target_stop_fn, p, &n, &whole, 1, c->set.rules_negate);
        mg_stat_add(c, ST_RULE_MATCHES, n);
    }
    mg_yara_proc_free_all(&p->yproc, y ? y->n_strings : 0);
    return v < 0 ? v : 0;
}

MG_API int mg_scan_buffer(const mg_patterns *pats, const void *buf, size_t len, uint64_t base,
                          size_t chunk_size, size_t context, const mg_sink *sink, mg_stats *stats)
{
    double t0 = mg_now();
    /* base + len wraps past 2^64: no region can be described */
    if (!pats || (!buf && len) || chunk_size == 0 || chunk_size > MG_MAX_CHUNK_SIZE ||
        context > MG_MAX_CONTEXT || base + len < base || mg_check_sink(sink, NULL) < 0)
        return -EINVAL;
    if (!pats->db)
        return MG_ENOTCOMPILED;
    buf_scan *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    mg_settings s;
    mg_default_settings(&s);
    s.context = context;
    mg_sweep *c = &b->c;
    mg_sweep_init(c, pats, &s, sink, t0);
    b->buf = buf;
    b->region = (mg_region){
        .start = base, .end = base + len, .perms = "rw-p", .kind = MG_REGION_ANON, .path = ""};
    pthread_mutex_init(&b->p.yara_lock, NULL);
    b->p.c = c;
    b->p.info = (mg_process){.pid = 0, .comm = "buffer", .exe = "", .cgroup = "", .container = ""};
    b->u = (mg_unit){.p = &b->p, .region = &b->region, .lo = base, .hi = base + len};
    if (pats->yara && !s.rules_negate)
        b->p.yneed = mg_yara_needed(pats->yara, &b->region, 1);
    b->w.c = c;
    b->w.u = &b->u;
    b->rc = mg_matcher_init(&b->w.m, pats, s.unbounded_width);
    if (b->rc == 0) {
        /* cuts at base + k x chunk_size */
        uint64_t phase = (chunk_size - base % chunk_size) % chunk_size;
        mg_cut_units(base, base + len, chunk_size, phase, scan_buffer_unit, b);
    }
    if (b->rc == 0 && pats->yara)
        b->rc = mg_yara_buffer_done(c, &b->p, buf, len, base);
    mg_matcher_fini(&b->w.m);
    mg_stat_add(c, ST_PROCS, 1);
    mg_stat_add(c, ST_REGIONS, 1);
    mg_fill_stats(c, stats, t0, 1);
    mg_sweep_fini(c);
    pthread_mutex_destroy(&b->p.yara_lock);
    free(b->p.yneed);
    int rc = b->rc;
    free(b);
    return rc;
}
