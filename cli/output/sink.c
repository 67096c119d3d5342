/* sink.c - mg_sink callbacks for memgrep's output modes. */
#include "output/sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_sink_init(cli_sink *s, cli_mode mode, const output_backend *be, output_ctx *out)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->mode = mode;
    s->be = be;
    s->out = out;
}

static size_t proc_slot(const cli_proc *procs, size_t cap, pid_t pid)
{
    size_t i = ((size_t)(unsigned)pid * 2654435761u) & (cap - 1);
    while (procs[i].pid && procs[i].pid != pid)
        i = (i + 1) & (cap - 1);
    return i;
}

static int procs_grow(cli_sink *s)
{
    size_t cap = s->procs_cap ? s->procs_cap * 2 : 64;
    cli_proc *n = calloc(cap, sizeof(*n));
    if (!n)
        return -1;
    for (size_t i = 0; i < s->procs_cap; i++)
        if (s->procs[i].pid)
            n[proc_slot(n, cap, s->procs[i].pid)] = s->procs[i];
    free(s->procs);
    s->procs = n;
    s->procs_cap = cap;
    return 0;
}

/* The entry of pid, added (count 0) if new; *added tells which. comm is
 * copied: the engine's mg_process lives only during the callback. */
static cli_proc *procs_get(cli_sink *s, const mg_process *p, bool *added)
{
    *added = false;
    if (2 * (s->procs_n + 1) > s->procs_cap && procs_grow(s) < 0)
        return NULL;
    cli_proc *e = &s->procs[proc_slot(s->procs, s->procs_cap, p->pid)];
    if (e->pid)
        return e;
    e->comm = strdup(p->comm ? p->comm : "");
    if (!e->comm)
        return NULL;
    e->pid = p->pid;
    e->count = 0;
    s->procs_n++;
    *added = true;
    return e;
}

/* A record was written: out to its reader now if asked (a pipe, -o's
 * file: what was found survives a kill), and -o's file named. False if
 * the output failed. */
static bool record_done(cli_sink *s)
{
    if (s->out->flush_each && fflush(s->out->out) == EOF) {
        s->write_error = true;
        s->write_errno = errno;
        return false;
    }
    if (s->out->publish && !s->publish_failed && s->out->publish(s->out->publish_ctx) != 0) {
        s->publish_failed = true;
        return false;
    }
    return true;
}

/* -l: report a process at its first match, then tell the engine to move
 * on. Matches already in flight on other workers still arrive: the table
 * makes sure each process is printed once. */
static int list_match(cli_sink *s, const mg_match *m)
{
    bool added;
    cli_proc *e = procs_get(s, m->process, &added);
    if (!e) {
        s->out_of_memory = true;
        return MG_SINK_STOP;
    }
    if (added) {
        s->be->process(s->out, e->pid, e->comm);
        fflush(s->out->out); /* -l is often piped into xargs: stream it */
        if (!record_done(s))
            return MG_SINK_STOP;
    }
    return MG_SINK_NEXT_PROCESS;
}

static int count_match(cli_sink *s, const mg_match *m)
{
    bool added;
    cli_proc *e = procs_get(s, m->process, &added);
    if (!e) {
        s->out_of_memory = true;
        return MG_SINK_STOP;
    }
    e->count++;
    return MG_SINK_CONTINUE;
}

void cli_sink_progress_clear(cli_sink *s)
{
    if (s->progress_shown)
        fputs("\r\033[K", s->out->err);
    s->progress_shown = false;
}

bool cli_sink_lock_within(cli_sink *s, double seconds)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at); /* pthread_mutex_timedlock's clock */
    double ns = (double)at.tv_nsec + seconds * 1e9;
    at.tv_sec += (time_t)(ns / 1e9);
    at.tv_nsec = (long)(ns - (double)(time_t)(ns / 1e9) * 1e9);
    return pthread_mutex_timedlock(&s->lock, &at) == 0;
}

void cli_sink_unlock(cli_sink *s)
{
    pthread_mutex_unlock(&s->lock);
}

/* A write to the results failed (disk full, a closed pipe with SIGPIPE
 * ignored): remember why, once; scanning on would only burn CPU. */
static bool write_failed(cli_sink *s)
{
    if (!ferror(s->out->out))
        return false;
    if (!s->write_error)
        s->write_errno = errno;
    s->write_error = true;
    return true;
}

/* "memgrep: 12/340 processes, 1.2 GiB of ~3.4 GiB, 2.10 GB/s, ETA 1s" */
static void sink_progress(void *ctx, const mg_progress *p)
{
    cli_sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    char done[16], total[16], eta[32] = "";
    double rate = p->elapsed_seconds > 0 ? (double)p->bytes_done / p->elapsed_seconds : 0;
    if (rate > 0 && p->bytes_total > p->bytes_done)
        snprintf(eta, sizeof(eta), ", ETA %.0fs", (double)(p->bytes_total - p->bytes_done) / rate);
    fprintf(s->out->err, "\r\033[Kmemgrep: %llu/%llu processes, %s of ~%s, %.2f GB/s%s",
            (unsigned long long)p->processes_done, (unsigned long long)p->processes_total,
            output_human_bytes(p->bytes_done, done, sizeof(done)),
            output_human_bytes(p->bytes_total, total, sizeof(total)), rate / 1e9, eta);
    fflush(s->out->err);
    s->progress_shown = true;
    pthread_mutex_unlock(&s->lock);
}

static int match_locked(cli_sink *s, const mg_match *m)
{
    int ret = MG_SINK_CONTINUE;
    cli_sink_progress_clear(s); /* a terminal stdout shares the screen */
    s->matches++;
    switch (s->mode) {
    case CLI_MODE_QUIET:
        return MG_SINK_STOP;
    case CLI_MODE_LIST:
        ret = list_match(s, m);
        break;
    case CLI_MODE_COUNT:
        ret = count_match(s, m);
        break;
    case CLI_MODE_MATCHES:
        s->be->match(s->out, m);
        if (!record_done(s))
            return MG_SINK_STOP;
        break;
    }
    return write_failed(s) ? MG_SINK_STOP : ret;
}

static int sink_match(void *ctx, const mg_match *m)
{
    cli_sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    int ret = match_locked(s, m);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* The rule passes -t and --identifier. */
static bool rule_selected(const cli_sink *s, const mg_rule_match *m)
{
    bool tag = !s->n_sel_tags, id = !s->n_sel_ids;
    for (size_t i = 0; i < s->n_sel_ids; i++)
        id |= !strcmp(s->sel_ids[i], m->rule);
    for (size_t i = 0; i < s->n_sel_tags; i++)
        for (size_t k = 0; k < m->n_tags; k++)
            tag |= !strcmp(s->sel_tags[i], m->tags[k]);
    return tag && id;
}

/* A YARA rule matched a process: -q, -l and -c treat it as a match. */
static int rule_locked(cli_sink *s, const mg_rule_match *m)
{
    if (!rule_selected(s, m))
        return MG_SINK_CONTINUE;
    cli_sink_progress_clear(s);
    s->matches++;
    int ret = MG_SINK_CONTINUE;
    mg_match as_match = {.process = m->process};
    switch (s->mode) {
    case CLI_MODE_QUIET:
        return MG_SINK_STOP;
    case CLI_MODE_LIST:
        ret = list_match(s, &as_match);
        break;
    case CLI_MODE_COUNT:
        ret = count_match(s, &as_match);
        break;
    case CLI_MODE_MATCHES:
        s->be->rule(s->out, m);
        if (!record_done(s))
            return MG_SINK_STOP;
        break;
    }
    return write_failed(s) ? MG_SINK_STOP : ret;
}

static int sink_rule(void *ctx, const mg_rule_match *m)
{
    cli_sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    int ret = rule_locked(s, m);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static void sink_event(void *ctx, const mg_event *e)
{
    cli_sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    cli_sink_progress_clear(s);
    if (s->out->events) {
        s->be->event(s->out, e);
        record_done(s);
    }
    pthread_mutex_unlock(&s->lock);
}

static int sink_findings(void *ctx, const mg_process *p, const mg_finding *list, size_t n)
{
    cli_sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    cli_sink_progress_clear(s);
    int ret = s->findings(s->findings_ctx, p, list, n);
    if (!record_done(s) || write_failed(s))
        ret = MG_SINK_STOP;
    pthread_mutex_unlock(&s->lock);
    return ret;
}

mg_sink cli_sink_get(cli_sink *s)
{
    mg_sink sink = {.ctx = s, .match = sink_match, .event = sink_event, .rule = sink_rule};
    if (s->progress)
        sink.progress = sink_progress;
    if (s->findings)
        sink.findings = sink_findings;
    return sink;
}

static int by_pid(const void *a, const void *b)
{
    pid_t x = ((const cli_proc *)a)->pid, y = ((const cli_proc *)b)->pid;
    return (x > y) - (x < y);
}

void cli_sink_finish(cli_sink *s)
{
    if (s->mode != CLI_MODE_COUNT || !s->procs_n)
        return;
    /* Compact the table in place, then sort: the output is stable. */
    size_t n = 0;
    for (size_t i = 0; i < s->procs_cap; i++)
        if (s->procs[i].pid)
            s->procs[n++] = s->procs[i];
    for (size_t i = n; i < s->procs_cap; i++)
        s->procs[i].pid = 0;
    qsort(s->procs, n, sizeof(*s->procs), by_pid);
    for (size_t i = 0; i < n; i++)
        s->be->count(s->out, s->procs[i].pid, s->procs[i].comm, s->procs[i].count);
    /* The table is no longer a hash table: only free() may follow. */
    s->procs_n = n;
}

void cli_sink_free(cli_sink *s)
{
    for (size_t i = 0; i < s->procs_cap; i++)
        if (s->procs[i].pid)
            free(s->procs[i].comm);
    free(s->procs);
    s->procs = NULL;
    s->procs_cap = s->procs_n = 0;
    pthread_mutex_destroy(&s->lock);
}
