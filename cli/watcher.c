/* watcher.c - the running `memgrep watch` (watcher.h): one loop between
 * the signalfd and the events' socket; new processes first, then one
 * process of the rolling rescan per turn; a hit reported once (the sink's
 * callbacks filtered through watch_alerts); stats records; SIGHUP's
 * reload. */
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "messages.h"
#include "scan_patterns.h"
#include "watcher.h"

/* How often the alerts of processes gone are dropped, at least. */
#define WATCH_PRUNE_SECONDS 5.0

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Alert keys of patterns by what they are, not their ids: a reload that
 * keeps a pattern keeps its alerts. */
static uint64_t *pattern_keys(const mg_pattern_info *info, size_t n)
{
    uint64_t *keys = calloc(n ? n : 1, sizeof(*keys));
    for (size_t i = 0; keys && i < n; i++) {
        char head[32];
        snprintf(head, sizeof(head), "%d/%u", (int)info[i].kind, info[i].flags);
        keys[i] = watch_alerts_hash(watch_alerts_hash(WATCH_ALERTS_HASH_INIT, head, strlen(head)),
                                    info[i].text, info[i].len);
    }
    return keys;
}

/* Whether a hit is new (report it), counting it either way. */
static bool alert_is_new(watcher *w, const watch_alert_key *k)
{
    if (watch_alerts_note(&w->alerts, k, w->scan_no) == 0) {
        w->stats.alerts_repeated++;
        return false;
    }
    w->stats.alerts++;
    return true;
}

static int watch_match(void *ctx, const mg_match *m)
{
    watcher *w = ctx;
    watch_alert_key k = {
        .pid = m->process->pid,
        .start = w->cur_start,
        .what = m->pattern_id < w->n_infos ? w->pattern_keys[m->pattern_id] : m->pattern_id,
        .address = m->address,
    };
    if (!alert_is_new(w, &k) || !w->inner.match)
        return MG_SINK_CONTINUE;
    return w->inner.match(w->inner.ctx, m);
}

static int watch_rule(void *ctx, const mg_rule_match *m)
{
    watcher *w = ctx;
    watch_alert_key k = {
        .pid = m->process->pid,
        .start = w->cur_start,
        .what =
            watch_alerts_hash(watch_alerts_hash(WATCH_ALERTS_HASH_INIT, m->ns, strlen(m->ns) + 1),
                              m->rule, strlen(m->rule)),
        .rule = true,
        .address = m->n_hits ? m->hits[0].address : 0,
    };
    if (!alert_is_new(w, &k) || !w->inner.rule)
        return MG_SINK_CONTINUE;
    return w->inner.rule(w->inner.ctx, m);
}

/* A process that exits or execs while scanned is the normal case here:
 * counted, not reported (an exec is scanned again). */
static void watch_engine_event(void *ctx, const mg_event *e)
{
    watcher *w = ctx;
    if (e->kind == MG_EVENT_CHANGED)
        w->stats.regions_changed++;
    if (e->kind == MG_EVENT_GONE || e->kind == MG_EVENT_UNREACHED || e->kind == MG_EVENT_CHANGED)
        return;
    w->inner.event(w->inner.ctx, e);
}

/* During a long scan (a large process read within --budget) the watchdog
 * hears from the engine's progress: the scan is moving. Workers call it,
 * one interval each, while the loop waits for the scan: under the sink's
 * lock all the same (two calls may overlap). */
static void watch_progress(void *ctx, const mg_progress *p)
{
    (void)p;
    watcher *w = ctx;
    pthread_mutex_lock(&w->sink.lock);
    watch_notify_ping(&w->notify, mono_now());
    pthread_mutex_unlock(&w->sink.lock);
}

/* Scan one process; its identity is (pid, start). */
static void scan_one(watcher *w, pid_t pid, unsigned long long start)
{
    mg_sink sink = {.ctx = w,
                    .match = watch_match,
                    .event = watch_engine_event,
                    .rule = watch_rule,
                    .progress = w->notify.interval > 0 ? watch_progress : NULL,
                    .progress_interval = w->notify.interval / 2};
    mg_targets t = {.pids = &pid, .n_pids = 1};
    mg_stats stats;
    mg_error err = {{0}};
    w->cur_start = start;
    w->scan_no++;
    w->stats.scans++;
    int r = mg_engine_scan(w->engine, &t, w->patterns, &sink, &stats, &err);
    if (r < 0) { /* gone before it was opened (MG_EBADPID), or a zombie */
        w->stats.processes_gone++;
        return;
    }
    w->stats.processes_scanned += stats.processes_scanned;
    w->stats.processes_gone += stats.events[MG_EVENT_GONE];
    w->stats.bytes_scanned += stats.bytes_scanned;
    w->stats.bytes_read += stats.bytes_read_pvr + stats.bytes_read_mem;
    w->stats.bytes_reused += stats.bytes_reused;
    /* a whole scan that no longer finds a hit: it went away */
    if (stats.processes_whole == 1)
        watch_alerts_settle(&w->alerts, pid, start, w->scan_no);
}

static bool identity_alive(void *ctx, pid_t pid, unsigned long long start)
{
    (void)ctx;
    unsigned long long now;
    return watch_proc_start(pid, &now) == 0 && now == start;
}

static bool pidfd_exited(int pidfd)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

static void pending_remove(watcher *w, size_t i)
{
    close(w->pend[i].pidfd);
    w->pend[i] = w->pend[--w->n_pend];
}

/* A fork or exec: pin the process and scan it at once. An exec of a
 * process already pending starts its delays again (a new image). */
static void take_event(watcher *w, const watch_event *ev, double now)
{
    if (ev->pid == getpid())
        return;
    /* the delays count from the event itself (the kernel's time of the
     * exec), not from when we read it */
    double t0 = ev->time_ns && ev->time_ns / 1e9 <= now ? ev->time_ns / 1e9 : now;
    bool exec = ev->kind == WATCH_EVENT_EXEC;
    for (size_t i = 0; i < w->n_pend; i++)
        if (w->pend[i].pid == ev->pid) {
            if (exec) {
                w->pend[i].t0 = t0;
                w->pend[i].due = now;
                w->pend[i].exec = true;
                w->pend[i].scans = 0;
            }
            return;
        }
    if (w->n_pend == WATCH_PENDING_MAX) {
        w->stats.events_dropped++;
        return;
    }
    int fd = (int)syscall(SYS_pidfd_open, ev->pid, 0);
    pending *p = &w->pend[w->n_pend];
    /* A fork is mostly followed by an exec at once: until then the child
     * is a copy of its parent (which the rolling rescan covers), so its
     * first scan waits for the first delay; an exec makes it due now. */
    double first = !exec && w->o->n_delays ? w->o->delays[0] : 0;
    *p = (pending){.pid = ev->pid, .pidfd = fd, .t0 = t0, .exec = exec, .due = t0 + first};
    /* the start time read while the pidfd shows the process alive is its own */
    if (fd < 0 || watch_proc_start(ev->pid, &p->start) < 0 || pidfd_exited(fd)) {
        if (fd >= 0)
            close(fd);
        w->stats.processes_gone++;
        w->stats.exec_unscanned += exec;
        return;
    }
    w->n_pend++;
}

static void take_events(watcher *w)
{
    watch_event ev[256];
    size_t n;
    while ((n = watch_events_read(w->events, ev, 256)) > 0) {
        double now = mono_now();
        for (size_t i = 0; i < n; i++)
            take_event(w, &ev[i], now);
    }
    w->stats.events_seen = watch_events_seen(w->events);
    w->stats.events_overruns = watch_events_overruns(w->events);
}

/* The pending scan due first, if one is due by now: its index, else -1. */
static long due_pending(const watcher *w, double now)
{
    long best = -1;
    for (size_t i = 0; i < w->n_pend; i++)
        if (w->pend[i].due <= now && (best < 0 || w->pend[i].due < w->pend[best].due))
            best = (long)i;
    return best;
}

static void run_pending(watcher *w, size_t i)
{
    pending *p = &w->pend[i];
    if (pidfd_exited(p->pidfd)) {
        w->stats.exec_unscanned += p->exec && p->scans == 0;
        pending_remove(w, i);
        return;
    }
    if (p->exec && p->scans == 0) {
        w->latency[w->latency_next] = mono_now() - p->t0;
        w->latency_next = (w->latency_next + 1) % WATCH_LATENCY_SAMPLES;
        if (w->n_latency < WATCH_LATENCY_SAMPLES)
            w->n_latency++;
    }
    double started = mono_now();
    scan_one(w, p->pid, p->start);
    p = &w->pend[i];
    /* rescans that were due before this scan started are done by it (after
     * a slow scan, running them back to back would read the same memory) */
    while (p->scans < w->o->n_delays && p->t0 + w->o->delays[p->scans] <= started)
        p->scans++;
    if (p->scans >= w->o->n_delays) {
        pending_remove(w, i);
        return;
    }
    p->due = p->t0 + w->o->delays[p->scans++];
}

/* The rolling rescan: every process now, scanned one per turn. */
static void start_pass(watcher *w)
{
    mg_proc_info *info = NULL;
    size_t n = 0;
    free(w->pass);
    w->pass = NULL;
    w->n_pass = w->pass_next = 0;
    if (mg_proc_list(&info, &n, NULL) < 0)
        return; /* tried again at the next pass */
    w->pass = calloc(n ? n : 1, sizeof(*w->pass));
    for (size_t i = 0; w->pass && i < n; i++)
        if (!(info[i].flags & (MG_PROC_SELF | MG_PROC_KTHREAD | MG_PROC_ZOMBIE)))
            w->pass[w->n_pass++] = (pass_entry){info[i].pid, info[i].starttime};
    mg_proc_info_free(&info);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The exec-to-first-scan percentiles of the samples kept. */
static void latency_stats(const watcher *w, output_watch_stats *st)
{
    double sorted[WATCH_LATENCY_SAMPLES];
    size_t n = w->n_latency;
    st->exec_scan_samples = n;
    st->exec_scan_p50_ms = st->exec_scan_p99_ms = st->exec_scan_max_ms = 0;
    if (!n)
        return;
    memcpy(sorted, w->latency, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), by_value);
    /* nearest rank */
    st->exec_scan_p50_ms = sorted[(n * 50 + 99) / 100 - 1] * 1e3;
    st->exec_scan_p99_ms = sorted[(n * 99 + 99) / 100 - 1] * 1e3;
    st->exec_scan_max_ms = sorted[n - 1] * 1e3;
}

void watcher_emit_stats(watcher *w, bool final)
{
    latency_stats(w, &w->stats);
    w->stats.final = final;
    w->stats.event_source = watch_events_source_name(w->events);
    w->stats.uptime_seconds = mono_now() - w->t_start;
    w->stats.alerts_held = w->alerts.n;
    pthread_mutex_lock(&w->sink.lock);
    w->be->watch_stats(&w->out, &w->stats);
    pthread_mutex_unlock(&w->sink.lock);
    watch_notify_status(&w->stats);
    if (fflush(w->out.out) == EOF)
        w->sink.write_error = true;
    else if (w->out.publish && w->out.publish(w->out.publish_ctx) != 0)
        w->sink.publish_failed = true;
}

/* The patterns and their descriptions for the printers, replacing the old
 * ones. False (nothing changed) out of memory. */
bool watcher_set_patterns(watcher *w, mg_patterns *p)
{
    size_t n;
    mg_pattern_info *info = cli_pattern_infos(p, &n);
    uint64_t *keys = info ? pattern_keys(info, n) : NULL;
    if (!keys) {
        free(info);
        return false;
    }
    mg_patterns_free(&w->patterns);
    free(w->infos);
    free(w->pattern_keys);
    w->patterns = p;
    w->infos = info;
    w->n_infos = n;
    w->pattern_keys = keys;
    w->out.patterns = info;
    w->out.n_patterns = n;
    w->out.rules = mg_patterns_rules_count(p) > 0 || mg_patterns_rules_skipped(p, 0);
    w->out.rules_skipped = 0;
    while (mg_patterns_rules_skipped(p, w->out.rules_skipped))
        w->out.rules_skipped++;
    return true;
}

/* SIGHUP: the pattern files and rules read again; a broken one keeps the
 * set running and says why in one line (FILE:LINE). */
static void reload(watcher *w)
{
    const scan_state *s = &w->st->scan;
    bool all_skipped = false;
    watch_notify_reloading();
    cli_messages_prefix("reload failed, keeping the previous patterns: ");
    mg_patterns *p = cli_scan_patterns(s->patterns, s->n_patterns, s->pattern_flags,
                                       s->skip_unsupported, &s->engine, &all_skipped);
    cli_messages_prefix(NULL);
    if (!p && all_skipped)
        fprintf(stderr, "memgrep: reload failed, keeping the previous patterns: nothing to "
                        "search for\n");
    if (p && !watcher_set_patterns(w, p)) {
        fprintf(stderr, "memgrep: reload failed, keeping the previous patterns: out of memory\n");
        mg_patterns_free(&p);
    }
    if (p)
        w->stats.reloads++;
    else
        w->stats.reload_failures++;
    watch_notify_reloaded(watch_events_source_name(w->events));
}

/* Read the signals waiting: 1 to stop (SIGINT, SIGTERM), else 0. */
static int take_signals(watcher *w)
{
    struct signalfd_siginfo si;
    int stop = 0;
    while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP)
            reload(w);
        else
            stop = 1;
    }
    return stop;
}

/* The loop itself: until SIGINT or SIGTERM, or the output fails. */
static void loop(watcher *w)
{
    const watch_opts *o = w->o;
    w->t_start = mono_now();
    w->next_pass = o->rescan_every > 0 ? w->t_start : INFINITY;
    w->next_stats = o->stats_every > 0 ? w->t_start + o->stats_every : INFINITY;
    w->next_prune = w->t_start + WATCH_PRUNE_SECONDS;
    int efd = watch_events_fd(w->events);
    for (;;) {
        double now = mono_now(),
               wake = w->next_stats < w->next_prune ? w->next_stats : w->next_prune;
        if (w->pass_next < w->n_pass)
            wake = now;
        else if (w->next_pass < wake)
            wake = w->next_pass;
        for (size_t i = 0; i < w->n_pend; i++)
            if (w->pend[i].due < wake)
                wake = w->pend[i].due;
        if (efd < 0 && now + WATCH_POLL_MS / 1000.0 < wake)
            wake = now + WATCH_POLL_MS / 1000.0;
        if (watch_notify_due(&w->notify) < wake)
            wake = watch_notify_due(&w->notify);
        int ms = wake <= now ? 0 : wake - now > 60 ? 60000 : (int)((wake - now) * 1000) + 1;
        struct pollfd pfd[2] = {{.fd = w->sigfd, .events = POLLIN}, {.fd = efd, .events = POLLIN}};
        poll(pfd, efd >= 0 ? 2 : 1, ms);
        if (take_signals(w))
            return;
        take_events(w);
        now = mono_now();
        watch_notify_ping(&w->notify, now);
        /* new processes first, then one process of the rolling rescan
         * (which a steady stream of new ones can't hold back for ever) */
        long i = due_pending(w, now);
        bool in_pass = w->pass_next < w->n_pass;
        if (i >= 0 && (!in_pass || w->pass_waited < WATCH_PASS_SHARE)) {
            run_pending(w, (size_t)i);
            w->pass_waited += in_pass;
        } else if (in_pass) {
            const pass_entry *e = &w->pass[w->pass_next++];
            scan_one(w, e->pid, e->start);
            w->pass_waited = 0;
            if (w->pass_next == w->n_pass)
                w->stats.passes++;
        } else if (now >= w->next_pass) {
            start_pass(w);
            /* the next one RESCAN_EVERY after this one's start, or at its end */
            w->next_pass = now + o->rescan_every;
        }
        /* the alerts of processes gone go, whatever else is configured
         * (with the stats, which count what is held) */
        if (now >= w->next_prune || now >= w->next_stats) {
            watch_alerts_prune(&w->alerts, identity_alive, NULL);
            w->next_prune = now + WATCH_PRUNE_SECONDS;
        }
        if (now >= w->next_stats) {
            watcher_emit_stats(w, false);
            w->next_stats = now + o->stats_every;
        }
        if (w->sink.write_error || w->sink.publish_failed || w->sink.out_of_memory)
            return;
    }
}

/* Until SIGINT or SIGTERM, or the output fails. */
void watcher_loop(watcher *w)
{
    watch_notify_init(&w->notify);
    watch_notify_ready(watch_events_source_name(w->events));
    loop(w);
    watch_notify_stopping();
}
