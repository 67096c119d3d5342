/* cmd_watch.c - `memgrep watch`: a standing hunt. New processes from the
 * process events connector (watch_events.c) are pinned by a pidfd and
 * scanned at once and again after --exec-rescan's delays; every process is
 * scanned again every --rescan-every, one at a time between those; a hit
 * is reported once while it stays (watch_alerts.c); a stats record every
 * --stats-every. All scans go through one engine (mg_engine_scan, one pid
 * each) and scan's patterns, sink and printers. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/outfile.h"
#include "output/output.h"
#include "output/sink.h"
#include "parse.h"
#include "scan_opts.h"
#include "scan_patterns.h"
#include "watch_alerts.h"
#include "watch_events.h"

/* New processes scanned at exec at once, at most (more: counted as
 * events_dropped; the rolling rescan still comes to them). */
#define WATCH_PENDING_MAX 4096u
#define WATCH_MAX_DELAYS 16u
/* How often the alerts of processes gone are dropped, at least. */
#define WATCH_PRUNE_SECONDS 5.0
/* Exec-to-first-scan latencies kept for the stats' percentiles (a ring). */
#define WATCH_LATENCY_SAMPLES 4096u

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

typedef struct watch_opts {
    double rescan_every; /* seconds; 0: no rolling rescan */
    double stats_every; /* seconds; 0: only the final record */
    double delays[WATCH_MAX_DELAYS]; /* --exec-rescan, ascending */
    size_t n_delays;
    watch_source source; /* --events */
} watch_opts;

/* scan's state first: its option groups are bound at offsets into it */
typedef struct watch_state {
    scan_state scan;
    watch_opts watch;
} watch_state;

enum {
    OPT_RESCAN_EVERY,
    OPT_EXEC_RESCAN,
    OPT_STATS_EVERY,
    OPT_EVENTS,
};

static const cli_opt watch_opt_table[] = {
    {OPT_RESCAN_EVERY, 0, "rescan-every", "DURATION",
     "scan every process again this often, one at a time\n"
     "between new ones (default 10m; 0: only new processes)",
     NULL},
    {OPT_EXEC_RESCAN, 0, "exec-rescan", "LIST",
     "a new process is scanned at once, then again these\n"
     "delays after its exec (default 10ms,25ms,100ms,1s)",
     NULL},
    {OPT_STATS_EVERY, 0, "stats-every", "DURATION",
     "a stats record this often (default 1m; 0: only the\nfinal one)", NULL},
    {OPT_EVENTS, 0, "events", "=auto|connector|proc",
     "new processes from the process events connector\n"
     "(CAP_NET_ADMIN) or by polling /proc; auto: the\nconnector where it can be opened",
     NULL},
    {0},
};

static void watch_init(void *state)
{
    watch_opts *o = state;
    o->rescan_every = 600;
    o->stats_every = 60;
    /* 25 ms: a payload decoded a few ms after exec in a process that lives
     * 50 ms (bench/scripts/watch.sh: with 10ms,100ms,1s, 17 of 30 were
     * seen; with these, 40 of 40) */
    o->delays[0] = 0.01;
    o->delays[1] = 0.025;
    o->delays[2] = 0.1;
    o->delays[3] = 1;
    o->n_delays = 4;
}

/* "10ms,100ms,1s": ascending durations. */
static int parse_delays(watch_opts *o, const char *arg)
{
    size_t n = 0;
    for (const char *s = arg;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char one[64];
        double v;
        if (n == WATCH_MAX_DELAYS || len == 0 || len >= sizeof(one)) {
            cli_usage_error("invalid value '%s' for --exec-rescan: expected 1 to %u durations "
                            "separated by ',' (10ms,100ms,1s)",
                            arg, WATCH_MAX_DELAYS);
            return -1;
        }
        memcpy(one, s, len);
        one[len] = '\0';
        if (cli_parse_duration("--exec-rescan", one, &v) < 0)
            return -1;
        if (n && v < o->delays[n - 1]) {
            cli_usage_error("invalid value '%s' for --exec-rescan: the delays must ascend", arg);
            return -1;
        }
        o->delays[n++] = v;
        if (!comma)
            break;
        s = comma + 1;
    }
    o->n_delays = n;
    return 0;
}

static int watch_parse(void *state, int id, const char *arg)
{
    watch_opts *o = state;
    switch (id) {
    case OPT_RESCAN_EVERY:
        return cli_parse_duration("--rescan-every", arg, &o->rescan_every);
    case OPT_STATS_EVERY:
        return cli_parse_duration("--stats-every", arg, &o->stats_every);
    case OPT_EXEC_RESCAN:
        return parse_delays(o, arg);
    case OPT_EVENTS:
        if (!strcmp(arg, "auto"))
            o->source = WATCH_SOURCE_AUTO;
        else if (!strcmp(arg, "connector"))
            o->source = WATCH_SOURCE_CONNECTOR;
        else if (!strcmp(arg, "proc"))
            o->source = WATCH_SOURCE_PROC;
        else {
            cli_usage_error("invalid value '%s' for --events: expected auto, connector or proc",
                            arg);
            return -1;
        }
        return 0;
    }
    return -1;
}

static const cli_group watch_group = {
    .title = "Watching",
    .opts = watch_opt_table,
    .init = watch_init,
    .parse = watch_parse,
};

/* ------------------------------------------------------------------ */
/* The watcher                                                         */
/* ------------------------------------------------------------------ */

/* A new process, pinned by its pidfd, with scans still to come. */
typedef struct pending {
    pid_t pid;
    unsigned long long start;
    int pidfd;
    double t0; /* its exec (or fork) event, monotonic seconds */
    bool exec; /* t0 is an exec's: its first scan's latency is measured */
    size_t scans; /* done since t0 */
    double due;
} pending;

/* A process of the rolling rescan. */
typedef struct pass_entry {
    pid_t pid;
    unsigned long long start;
} pass_entry;

typedef struct watcher {
    const watch_state *st;
    const watch_opts *o;
    mg_engine *engine;
    mg_patterns *patterns;
    mg_pattern_info *infos;
    size_t n_infos;
    uint64_t *pattern_keys; /* alert key of each pattern id: kind and text */
    watch_events *events;
    watch_alerts alerts;
    cli_sink sink;
    mg_sink inner; /* the sink's callbacks, which print */
    output_ctx out;
    const output_backend *be;
    pending pend[WATCH_PENDING_MAX];
    size_t n_pend;
    pass_entry *pass; /* the rolling rescan under way */
    size_t n_pass, pass_next;
    double next_pass, next_stats, next_prune, t_start;
    /* the process being scanned */
    unsigned long long cur_start;
    uint64_t scan_no;
    output_watch_stats stats;
    double latency[WATCH_LATENCY_SAMPLES]; /* seconds, a ring */
    size_t n_latency, latency_next;
    int sigfd;
} watcher;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mg_settings.cancel: SIGINT or SIGTERM is waiting (they are blocked in
 * every thread and read through the signalfd between scans). */
static int watch_cancel(void *ctx)
{
    (void)ctx;
    sigset_t set;
    if (sigpending(&set) < 0)
        return 0;
    return sigismember(&set, SIGINT) == 1 || sigismember(&set, SIGTERM) == 1;
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

/* Scan one process; its identity is (pid, start). */
static void scan_one(watcher *w, pid_t pid, unsigned long long start)
{
    mg_sink sink = {
        .ctx = w, .match = watch_match, .event = watch_engine_event, .rule = watch_rule};
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

static void emit_stats(watcher *w, bool final)
{
    latency_stats(w, &w->stats);
    w->stats.final = final;
    w->stats.event_source = watch_events_source_name(w->events);
    w->stats.uptime_seconds = mono_now() - w->t_start;
    w->stats.alerts_held = w->alerts.n;
    pthread_mutex_lock(&w->sink.lock);
    w->be->watch_stats(&w->out, &w->stats);
    pthread_mutex_unlock(&w->sink.lock);
    if (fflush(w->out.out) == EOF)
        w->sink.write_error = true;
    else if (w->out.publish && w->out.publish(w->out.publish_ctx) != 0)
        w->sink.publish_failed = true;
}

/* The patterns and their descriptions for the printers, replacing the old
 * ones. False (nothing changed) out of memory. */
static bool set_patterns(watcher *w, mg_patterns *p)
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
    cli_messages_prefix("reload failed, keeping the previous patterns: ");
    mg_patterns *p = cli_scan_patterns(s->patterns, s->n_patterns, s->pattern_flags,
                                       s->skip_unsupported, &s->engine, &all_skipped);
    cli_messages_prefix(NULL);
    if (!p && all_skipped)
        fprintf(stderr, "memgrep: reload failed, keeping the previous patterns: nothing to "
                        "search for\n");
    if (p && !set_patterns(w, p)) {
        fprintf(stderr, "memgrep: reload failed, keeping the previous patterns: out of memory\n");
        mg_patterns_free(&p);
    }
    if (p)
        w->stats.reloads++;
    else
        w->stats.reload_failures++;
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

/* Until SIGINT or SIGTERM, or the output fails. */
static void watch_loop(watcher *w)
{
    const watch_opts *o = w->o;
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
        int ms = wake <= now ? 0 : wake - now > 60 ? 60000 : (int)((wake - now) * 1000) + 1;
        struct pollfd pfd[2] = {{.fd = w->sigfd, .events = POLLIN}, {.fd = efd, .events = POLLIN}};
        poll(pfd, efd >= 0 ? 2 : 1, ms);
        if (take_signals(w))
            return;
        take_events(w);
        now = mono_now();
        /* new processes first, then one process of the rolling rescan */
        long i = due_pending(w, now);
        if (i >= 0) {
            run_pending(w, (size_t)i);
        } else if (w->pass_next < w->n_pass) {
            const pass_entry *e = &w->pass[w->pass_next++];
            scan_one(w, e->pid, e->start);
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
            emit_stats(w, false);
            w->next_stats = now + o->stats_every;
        }
        if (w->sink.write_error || w->sink.publish_failed || w->sink.out_of_memory)
            return;
    }
}

/* SIGINT, SIGTERM and SIGHUP blocked in this thread and in the engine's
 * workers (started later, they inherit the mask), read through a signalfd.
 * Returns it, or -1 after one line. */
static int block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    int fd = -1;
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        fprintf(stderr, "memgrep: cannot catch signals: %s\n", strerror(errno));
    return fd;
}

static int publish_outfile(void *ctx)
{
    return cli_outfile_publish(ctx);
}

/* The output failed: say so once. Returns the exit status. */
static int output_status(const watcher *w, const char *name)
{
    if (w->sink.publish_failed)
        return EXIT_TROUBLE; /* said */
    if (w->sink.out_of_memory) {
        fprintf(stderr, "memgrep: out of memory\n");
        return EXIT_TROUBLE;
    }
    if (w->sink.write_error || ferror(w->out.out)) {
        int err = w->sink.write_errno ? w->sink.write_errno : EIO;
        fprintf(stderr, "memgrep: write error on %s: %s\n", name, strerror(err));
        return EXIT_TROUBLE;
    }
    return EXIT_SUCCESS;
}

static int watch_start(watcher *w, cli_outfile *file)
{
    const scan_state *s = &w->st->scan;
    char why[256];
    int r = watch_events_open(&w->events, w->o->source, why, sizeof(why));
    if (r < 0) {
        fprintf(stderr, "memgrep: cannot open the process events connector: %s%s\n", strerror(-r),
                r == -EPERM ? " (CAP_NET_ADMIN is needed)" : "");
        return -1;
    }
    if (why[0] && !s->output.no_messages)
        fprintf(stderr, "memgrep: note: polling /proc every %d ms (%s)\n", WATCH_POLL_MS, why);
    if (s->output.file && cli_outfile_open(file, s->output.file) < 0)
        return -1;
    return 0;
}

static int watch_run(void *state)
{
    const watch_state *ws = state;
    const scan_state *s = &ws->scan;
    if (s->show_pack)
        return cli_show_hunt_pack(stdout) < 0 ? EXIT_TROUBLE : EXIT_SUCCESS;
    if (s->engine.settings.timeout > 0) { /* each scan is one process: --process-timeout */
        cli_usage_error("--timeout does not apply to watch, which runs until stopped "
                        "(--process-timeout limits each scan)");
        return EXIT_TROUBLE;
    }
    if ((s->output.file && cli_outfile_check(s->output.file) < 0) ||
        cli_check_output_not_input(s->output.file, s->patterns, s->n_patterns) < 0 ||
        cli_engine_apply_priority(&s->engine) < 0)
        return EXIT_TROUBLE;
    int sigfd = block_signals();
    if (sigfd < 0)
        return EXIT_TROUBLE;
    watcher *w = calloc(1, sizeof(*w));
    if (!w) {
        fprintf(stderr, "memgrep: out of memory\n");
        close(sigfd);
        return EXIT_TROUBLE;
    }
    w->st = ws;
    w->o = &ws->watch;
    w->sigfd = sigfd;
    w->be = s->output.json ? &output_json : &output_text;
    int status = EXIT_TROUBLE;
    cli_outfile file = {0};
    bool all_skipped = false;
    mg_patterns *p = cli_scan_patterns(s->patterns, s->n_patterns, s->pattern_flags,
                                       s->skip_unsupported, &s->engine, &all_skipped);
    if (p && !s->n_patterns && !s->output.no_messages)
        fprintf(stderr,
                "memgrep: no pattern given: watching for the built-in Linux hunt pack (%zu "
                "entries; --show-pack lists them, -s hides this note)\n",
                mg_patterns_count(p));
    if (!p || !set_patterns(w, p)) {
        if (p)
            fprintf(stderr, "memgrep: out of memory\n");
        mg_patterns_free(&p);
        goto done;
    }
    mg_settings set;
    mg_error err = {{0}};
    cli_engine_settings(&s->engine, &set);
    set.cancel = watch_cancel;
    set.rules_negate = s->rules_out.negate;
    int r = mg_engine_new(&w->engine, &set, &err);
    if (r < 0) {
        cli_report(r, &err, "starting the engine");
        goto done;
    }
    if (watch_start(w, &file) < 0)
        goto done;
    w->out.out = s->output.file ? cli_outfile_stream(&file) : stdout;
    w->out.err = stderr;
    w->out.color = cli_output_color(&s->output);
    w->out.events = !s->output.quiet && (s->output.json || !s->output.no_messages);
    w->out.rule_form = s->rules_out;
    w->out.flush_each = true; /* a standing hunt: every record out as it is found */
    if (s->output.file) {
        w->out.publish = publish_outfile;
        w->out.publish_ctx = &file;
    }
    cli_sink_init(&w->sink, CLI_MODE_MATCHES, w->be, &w->out);
    w->inner = cli_sink_get(&w->sink);
    if (s->output.quiet) /* -q: no hit printed (stats still are); watch goes on */
        w->inner.match = NULL, w->inner.rule = NULL;
    char host[256] = "", run_id[33];
    output_run run = {.host = host, .run_id = run_id, .argc = cli_argc, .argv = cli_argv};
    output_new_run_id(run_id, sizeof(run_id));
    if (gethostname(host, sizeof(host) - 1) < 0)
        host[0] = '\0';
    /* the start record says: listening from now on */
    if (w->be->start)
        w->be->start(&w->out, &run);
    fflush(w->out.out);
    w->t_start = mono_now();
    watch_loop(w);
    status = output_status(w, s->output.file ? s->output.file : "stdout");
    if (status == EXIT_SUCCESS) {
        emit_stats(w, true);
        status = output_status(w, s->output.file ? s->output.file : "stdout");
    }
    if (status == EXIT_SUCCESS && s->output.file && cli_outfile_commit(&file) < 0)
        status = EXIT_TROUBLE;
    cli_sink_free(&w->sink);
done:
    cli_outfile_abort(&file); /* no-op after a commit */
    watch_events_free(&w->events);
    mg_engine_free(&w->engine);
    for (size_t i = 0; i < w->n_pend; i++)
        close(w->pend[i].pidfd);
    free(w->pass);
    watch_alerts_free(&w->alerts);
    mg_patterns_free(&w->patterns);
    free(w->infos);
    free(w->pattern_keys);
    close(w->sigfd);
    free(w);
    return status;
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

static const cli_binding watch_groups[] = {
    {&cli_scan_patterns_group, offsetof(watch_state, scan)},
    {&cli_rules_group, offsetof(watch_state, scan.rules_out)},
    {&watch_group, offsetof(watch_state, watch)},
    {&cli_engine_group, offsetof(watch_state, scan.engine)},
    {&cli_output_group, offsetof(watch_state, scan.output)},
};

const cli_command cli_cmd_watch = {
    .name = "watch",
    .summary = "a standing hunt: scan new processes at exec, rescan all",
    .synopsis = "[OPTIONS] [PATTERN...]",
    .description =
        "Run until stopped, searching every new process at its exec (and again after\n"
        "--exec-rescan's delays: payloads are often decoded after start) and every\n"
        "process again every --rescan-every. A hit is reported once per process, pattern\n"
        "or rule and address while it stays. Records as scan's (--json: JSON Lines),\n"
        "and a stats record every --stats-every. SIGHUP reads the pattern files and\n"
        "rules again (a broken one keeps the running set, and one line says why).",
    .epilogue = "Exit status: 0 stopped by SIGINT or SIGTERM (after a final stats record),\n"
                "2 error.\n",
    .groups = watch_groups,
    .n_groups = sizeof(watch_groups) / sizeof(watch_groups[0]),
    .positional = cli_scan_positional,
    .state_size = sizeof(watch_state),
    .run = watch_run,
};
