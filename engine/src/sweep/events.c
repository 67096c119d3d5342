/* events.c - events and progress to the sink, and the statistics they are
 * counted in (matches go to the sink from unit.c, mg_report_hit).
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
        .bytes_done = atomic_load(&c->st[ST_SCANNED]) + atomic_load(&c->st[ST_DEDUPED]) +
                      atomic_load(&c->st[ST_REUSED]),
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
    out->bytes_reused = v[ST_REUSED];
    out->matches = v[ST_MATCHES];
    out->rule_matches = v[ST_RULE_MATCHES];
    out->callbacks = v[ST_CALLBACKS];
    for (int k = 0; k < MG_EVENT_KINDS; k++)
        out->events[k] = v[ST_EVENTS + k];
    out->elapsed_seconds = mg_now() - t0;
    out->mem_reader = c->set.mem_reader == MG_MEM_READER_PREAD || !atomic_load(&c->uring_used)
                          ? "pread"
                          : "io_uring";
    out->threads = threads;
    out->processes_whole = v[ST_PROCS_WHOLE];
    out->processes_cut = v[ST_PROCS_CUT];
    out->processes_unreached = v[ST_PROCS_UNREACHED];
    out->processes_zombie = v[ST_PROCS_ZOMBIE];
    out->processes_kthread = v[ST_PROCS_KTHREAD];
    out->stop_reason = (mg_stop_reason)atomic_load(&c->stop_reason);
    out->complete = out->stop_reason == MG_STOP_NONE;
}
