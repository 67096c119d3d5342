/* dispatch.c - everything that reaches the sink: events, matches, progress,
 * and the statistics they are counted in.
 *
 * Sink callbacks are serialised by sink_lock (from worker threads, or from
 * the calling thread for the planner's events and mg_scan_buffer), so a sink
 * needs no locking of its own. The sink's verdicts (next process, stop) are
 * decided under the same lock, so no match is delivered after them.
 * Statistics are relaxed atomics, read once at the end (fill_stats). */
#include <errno.h>
#include <string.h>

#include "sweep/sweep.h"

void mg_stat_add(mg_sweep *c, enum mg_stat_id id, uint64_t v)
{
    atomic_fetch_add_explicit(&c->st[id], v, memory_order_relaxed);
}

/* ---- events ------------------------------------------------------------- */

void mg_emit_event(mg_sweep *c, mg_target *p, const mg_region *r, mg_event_kind kind, int err,
                   uint64_t addr, const char *what)
{
    mg_stat_add(c, ST_EVENTS + kind, 1);
    if (!c->sink || !c->sink->event)
        return;
    mg_event e = {
        .kind = kind,
        .process = &p->info,
        .region = r,
        .address = addr,
        .err = err,
        .what = what,
    };
    pthread_mutex_lock(&c->sink_lock);
    c->sink->event(c->sink->ctx, &e);
    pthread_mutex_unlock(&c->sink_lock);
}

mg_event_kind mg_event_kind_of(int err)
{
    switch (err) {
    case -ESRCH:
    case -ENOENT:
        return MG_EVENT_GONE;
    case -EPERM:
    case -EACCES:
        return MG_EVENT_PERMISSION;
    case -EFAULT:
    case -EIO:
    case -ENOMEM:
        return MG_EVENT_CHANGED;
    case -ETIMEDOUT:
        return MG_EVENT_TIMEOUT;
    default:
        return MG_EVENT_OTHER;
    }
}

void mg_target_failed(mg_sweep *c, mg_target *p, int err, const char *what)
{
    atomic_store(&p->skip, true);
    if (!atomic_exchange(&p->gone_reported, true))
        mg_emit_event(c, p, NULL, mg_event_kind_of(err), err, 0, what);
}

/* ---- matches ------------------------------------------------------------ */

int mg_report_hit(void *arg, const mg_hit *h, const mg_piece *pc)
{
    mg_worker *w = arg;
    mg_sweep *c = w->c;
    mg_target *p = w->u->p;
    size_t off = (size_t)(h->start - pc->addr);
    size_t len = (size_t)(h->end - h->start);
    size_t before = MG_MIN(c->set.context, off);
    size_t after = MG_MIN(c->set.context, pc->len - off - len);
    /* past the record bound the unit is not recorded; the match still is reported */
    if (w->recording && !mg_dedupe_rec_add(&w->rec, h, pc->buf + off - before, before, after))
        w->recording = false;
    /* a batch unit's replayed hits: the region is found by address */
    const mg_region *region = mg_unit_region_at(w->u, h->start);
    uint32_t owner = c->pats->pats[h->pattern_id].owner;
    if (owner) {
        /* a YARA string: kept for the rules, evaluated when the process is done */
        pthread_mutex_lock(&c->sink_lock);
        mg_yara_collect(&p->yproc, c->pats->yara, owner - 1, h->start, len, region,
                        pc->buf + off - before, before, after);
        pthread_mutex_unlock(&c->sink_lock);
        return atomic_load(&c->stop_reason) != MG_STOP_NONE ? MG_SINK_STOP : MG_SINK_CONTINUE;
    }
    if (p->counts && c->set.max_count &&
        atomic_fetch_add_explicit(&p->counts[h->pattern_id], 1, memory_order_relaxed) >=
            c->set.max_count)
        return MG_SINK_CONTINUE;
    mg_match mt = {
        .process = &p->info,
        .region = region,
        .address = h->start,
        .length = len,
        .pattern_id = h->pattern_id,
        .wide = h->wide,
        .data = pc->buf + off - before,
        .before = before,
        .after = after,
    };
    /* A unit can hold many matches (and the sink take its time over each):
     * deadlines and cancellation are looked at before each one. Not p's
     * failure: these bytes were read before it (mg_pool_should_cut). */
    if (mg_pool_should_cut(c, p))
        return atomic_load(&c->stop_reason) != MG_STOP_NONE ? MG_SINK_STOP : MG_SINK_NEXT_PROCESS;
    /* Decided under the sink lock: once the sink has said "next process"
     * or "stop", matches other workers found meanwhile are not delivered. */
    int v = MG_SINK_CONTINUE;
    pthread_mutex_lock(&c->sink_lock);
    if (atomic_load(&c->stop_reason) != MG_STOP_NONE)
        v = MG_SINK_STOP;
    else if (atomic_load(&p->sink_done))
        v = MG_SINK_NEXT_PROCESS;
    else {
        mg_stat_add(c, ST_MATCHES, 1);
        if (c->sink && c->sink->match)
            v = c->sink->match(c->sink->ctx, &mt);
        if (v == MG_SINK_NEXT_PROCESS) {
            atomic_store(&p->sink_done, true);
            atomic_store(&p->skip, true);
        } else if (v == MG_SINK_STOP)
            mg_sweep_stop(c, MG_STOP_SINK);
    }
    pthread_mutex_unlock(&c->sink_lock);
    return v;
}

/* ---- progress and statistics -------------------------------------------- */

void mg_maybe_progress(mg_sweep *c)
{
    if (!c->sink || !c->sink->progress)
        return;
    double el = mg_now() - c->t0;
    uint64_t now_us = (uint64_t)(el * 1e6), due = atomic_load(&c->next_progress_us);
    if (now_us < due || !atomic_compare_exchange_strong(&c->next_progress_us, &due,
                                                        now_us + (uint64_t)(c->interval * 1e6)))
        return;
    mg_progress pr = {
        .processes_done = atomic_load(&c->st[ST_PROCS_DONE]),
        .processes_total = c->processes_total,
        .bytes_done = atomic_load(&c->st[ST_SCANNED]) + atomic_load(&c->st[ST_DEDUPED]),
        .bytes_total = c->bytes_total,
        .elapsed_seconds = el,
    };
    pthread_mutex_lock(&c->sink_lock);
    c->sink->progress(c->sink->ctx, &pr);
    pthread_mutex_unlock(&c->sink_lock);
}

void mg_fill_stats(mg_sweep *c, mg_stats *out, double t0, unsigned threads)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    uint64_t v[ST_N];
    for (int i = 0; i < ST_N; i++)
        v[i] = atomic_load(&c->st[i]);
    out->processes_scanned = v[ST_PROCS];
    out->processes_failed = v[ST_PROCS_FAILED];
    out->regions_scanned = v[ST_REGIONS];
    out->regions_skipped = v[ST_REGIONS_SKIPPED];
    out->bytes_scanned = v[ST_SCANNED];
    out->bytes_read_pvr = v[ST_PVR];
    out->bytes_read_mem = v[ST_MEM];
    out->bytes_not_present = v[ST_NOT_PRESENT];
    out->bytes_skipped_noread = v[ST_NOREAD];
    out->bytes_skipped_special = v[ST_SPECIAL];
    out->bytes_skipped_changed = v[ST_CHANGED];
    out->bytes_deduped = v[ST_DEDUPED];
    out->matches = v[ST_MATCHES];
    out->rule_matches = v[ST_RULE_MATCHES];
    for (int k = 0; k < MG_EVENT_KINDS; k++)
        out->events[k] = v[ST_EVENTS + k];
    out->elapsed_seconds = mg_now() - t0;
    out->mem_reader = c->set.mem_reader == MG_MEM_READER_PREAD || !atomic_load(&c->uring_used)
                          ? "pread"
                          : "io_uring";
    out->threads = threads;
    out->stop_reason = (mg_stop_reason)atomic_load(&c->stop_reason);
    out->complete = out->stop_reason == MG_STOP_NONE;
}
