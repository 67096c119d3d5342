/* _memgrep.c - the C half of the Python module `memgrep`: libmemgrep's
 * public API (memgrep.h) through Python's C API. __init__.py holds the
 * record classes (NamedTuples) and the pure-Python parts (dump, strings
 * over every region); this file holds what touches the engine.
 *
 * A sweep runs in a thread of its own (no Python, no GIL): the engine's
 * sink copies each record into C memory and puts it in a bounded queue;
 * the iterator (_Sweep.__next__) takes records out, with the GIL released
 * while it waits, and builds the Python objects. Stopping (close(), a
 * KeyboardInterrupt in __next__, the object's end) sets the run's stop
 * flag, which the engine polls (mg_settings.cancel); records found after
 * that are dropped, and the summary says incomplete. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hunt_pack.h"
#include "memgrep/memgrep.h"

/* Records the queue holds before the engine's sink waits for the reader. */
#define QUEUE_MAX 1024
/* How often a waiting __next__ looks for a KeyboardInterrupt (ms). */
#define SIGNAL_POLL_MS 100
/* --gentle's preset (cli/opts.h): one worker, 64 MiB/s, nice 19, idle class. */
#define GENTLE_THREADS 1u
#define GENTLE_MAX_RATE (64ull << 20)
#define GENTLE_NICE 19

/* Exceptions and record classes; set once at import (module init and
 * _register), read with the GIL held. */
static PyObject *Error, *PatternError, *ProcessError;
static PyObject *cls_match, *cls_rule, *cls_finding, *cls_event, *cls_summary, *cls_region,
    *cls_process, *cls_rule_string, *cls_rule_hit, *cls_string, *cls_memory;

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static const char *event_kind_key(int kind)
{
    static const char *const names[] = {"gone",  "permission", "changed",
                                        "other", "timeout",    "unreached"};
    return kind >= 0 && kind < MG_EVENT_KINDS ? names[kind] : "other";
}

/* The kind of a process failure, from its code. */
static const char *process_kind(int rc)
{
    switch (rc) {
    case MG_EBADPID:
        return "nosuchpid";
    case -ESRCH:
        return "gone";
    case -EACCES:
    case -EPERM:
        return "permission";
    }
    return "other";
}

/* Raise the exception for a library code, with the CLI's line (cli_report:
 * err's message, else "WHAT: strerror"). pid > 0: a process was named.
 * Returns NULL. */
static PyObject *raise_mg(int rc, const mg_error *err, const char *what, pid_t pid)
{
    char line[sizeof(err->message) + 128];
    if (err && err->message[0])
        snprintf(line, sizeof(line), "%s", err->message);
    else
        snprintf(line, sizeof(line), "%s: %s", what, mg_strerror(rc));
    if (rc == -ENOMEM)
        return PyErr_NoMemory();
    PyObject *type = Error, *exc;
    if (rc == MG_EPATTERN || rc == MG_ENOPATTERNS)
        type = PatternError;
    else if (pid > 0 && (rc == MG_EBADPID || rc == -ESRCH || rc == -EACCES || rc == -EPERM))
        type = ProcessError;
    else if (rc == -EINVAL)
        type = PyExc_ValueError;
    exc = PyObject_CallFunction(type, "s", line);
    if (!exc)
        return NULL;
    int bad = 0;
    if (type == PatternError) {
        /* "FILE:LINE: ..." names where: file and line; else None */
        const char *c1 = strchr(line, ':');
        char *end = NULL;
        long ln = c1 ? strtol(c1 + 1, &end, 10) : 0;
        if (c1 && end != c1 + 1 && *end == ':' && ln > 0) {
            PyObject *f = PyUnicode_DecodeFSDefaultAndSize(line, c1 - line);
            bad |= !f || PyObject_SetAttrString(exc, "file", f) < 0;
            Py_XDECREF(f);
            PyObject *l = PyLong_FromLong(ln);
            bad |= !l || PyObject_SetAttrString(exc, "line", l) < 0;
            Py_XDECREF(l);
        } else {
            bad |= PyObject_SetAttrString(exc, "file", Py_None) < 0 ||
                   PyObject_SetAttrString(exc, "line", Py_None) < 0;
        }
    } else if (type == ProcessError) {
        PyObject *p = PyLong_FromLong(pid), *k = PyUnicode_FromString(process_kind(rc));
        bad |= !p || !k || PyObject_SetAttrString(exc, "pid", p) < 0 ||
               PyObject_SetAttrString(exc, "kind", k) < 0;
        Py_XDECREF(p);
        Py_XDECREF(k);
    }
    if (!bad)
        PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *str_or_none(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(s);
}

/* ------------------------------------------------------------------ */
/* Records: C copies made in the sink, Python objects in the reader    */
/* ------------------------------------------------------------------ */

enum rec_kind {
    REC_MATCH,
    REC_RULE,
    REC_EVENT,
    REC_FINDING,
    REC_SUMMARY,
};

typedef struct blk {
    struct blk *next;
    max_align_t data[];
} blk;

typedef struct c_proc {
    pid_t pid;
    const char *comm, *exe, *cgroup, *container;
} c_proc;

typedef struct c_hit {
    size_t string;
    uint64_t address, length;
    const mg_region *region;
    const uint8_t *data;
    size_t before, after;
} c_hit;

/* One record. Everything it points to is in its blocks (or static). */
typedef struct rec {
    struct rec *next;
    enum rec_kind kind;
    blk *blocks;
    c_proc proc;
    union {
        struct { /* REC_MATCH */
            mg_match m;
        } match;
        struct { /* REC_RULE */
            mg_rule_match r;
        } rule;
        mg_event event;
        mg_finding finding;
        struct {
            mg_stats stats;
            uint64_t findings;
            int rc;
            mg_error err;
            pid_t pid; /* the explicit pid the error is about (0: none) */
        } summary;
    } u;
} rec;

static void *rec_alloc(rec *r, size_t n, bool *oom)
{
    blk *b = malloc(sizeof(*b) + n);
    if (!b) {
        *oom = true;
        return NULL;
    }
    b->next = r->blocks;
    r->blocks = b;
    return b->data;
}

static void *rec_memdup(rec *r, const void *p, size_t n, bool *oom)
{
    void *d = rec_alloc(r, n ? n : 1, oom);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

static const char *rec_strdup(rec *r, const char *s, bool *oom)
{
    return s ? rec_memdup(r, s, strlen(s) + 1, oom) : NULL;
}

static void rec_free(rec *r)
{
    while (r && r->blocks) {
        blk *b = r->blocks;
        r->blocks = b->next;
        free(b);
    }
    free(r);
}

static void copy_proc(rec *r, const mg_process *p, bool *oom)
{
    r->proc.pid = p->pid;
    r->proc.comm = rec_strdup(r, p->comm, oom);
    r->proc.exe = rec_strdup(r, p->exe, oom);
    r->proc.cgroup = rec_strdup(r, p->cgroup, oom);
    r->proc.container = rec_strdup(r, p->container, oom);
}

static const mg_region *copy_region(rec *r, const mg_region *g, bool *oom)
{
    if (!g)
        return NULL;
    mg_region *c = rec_memdup(r, g, sizeof(*g), oom);
    if (c)
        c->path = rec_strdup(r, g->path, oom);
    return c;
}

/* ---- the Python side of records ---- */

/* Region(start, end, perms, kind, path, offset, inode, deleted, resident,
 * scannable); info NULL: resident and scannable None. */
static PyObject *region_obj(const mg_region *g, const mg_region_info *info)
{
    if (!g)
        Py_RETURN_NONE;
    PyObject *res = info ? PyLong_FromUnsignedLongLong(info->resident) : Py_NewRef(Py_None);
    PyObject *scan = info ? PyBool_FromLong(info->scannable) : Py_NewRef(Py_None);
    return PyObject_CallFunction(cls_region, "KKssNKKONN", (unsigned long long)g->start,
                                 (unsigned long long)g->end, g->perms, mg_region_kind_name(g->kind),
                                 PyUnicode_DecodeFSDefault(g->path ? g->path : ""),
                                 (unsigned long long)g->offset, (unsigned long long)g->inode,
                                 g->deleted ? Py_True : Py_False, res, scan);
}

static PyObject *bytes_of(const uint8_t *p, size_t n)
{
    return PyBytes_FromStringAndSize((const char *)(p ? p : (const uint8_t *)""), (Py_ssize_t)n);
}

static PyObject *match_obj(const rec *r, PyObject *patterns)
{
    const mg_match *m = &r->u.match.m;
    PyObject *pat = PyTuple_GetItem(patterns, m->pattern_id); /* borrowed */
    if (!pat)
        return NULL;
    return PyObject_CallFunction(
        cls_match, "iNNKKIONNNNN", (int)r->proc.pid, str_or_none(r->proc.comm),
        str_or_none(r->proc.exe), (unsigned long long)m->address, (unsigned long long)m->length,
        m->pattern_id, pat, PyBool_FromLong(m->wide), bytes_of(m->data + m->before, m->length),
        bytes_of(m->data, m->before), bytes_of(m->data + m->before + m->length, m->after),
        region_obj(m->region, NULL));
}

static PyObject *meta_value(const mg_rule_meta *mt)
{
    if (mt->type == MG_META_STRING)
        return PyUnicode_DecodeUTF8(mt->string, (Py_ssize_t)strlen(mt->string), "surrogateescape");
    if (mt->type == MG_META_BOOLEAN)
        return PyBool_FromLong(mt->integer != 0);
    return PyLong_FromLongLong(mt->integer);
}

static PyObject *rule_obj(const rec *r)
{
    const mg_rule_match *m = &r->u.rule.r;
    PyObject *tags = PyTuple_New((Py_ssize_t)m->n_tags), *meta = PyDict_New(),
             *strings = PyTuple_New((Py_ssize_t)m->n_strings),
             *hits = PyTuple_New((Py_ssize_t)m->n_hits);
    if (!tags || !meta || !strings || !hits)
        goto fail;
    for (size_t i = 0; i < m->n_tags; i++) {
        PyObject *t = PyUnicode_FromString(m->tags[i]);
        if (!t)
            goto fail;
        PyTuple_SET_ITEM(tags, (Py_ssize_t)i, t);
    }
    for (size_t i = 0; i < m->n_meta; i++) {
        PyObject *v = meta_value(&m->meta[i]);
        if (!v || PyDict_SetItemString(meta, m->meta[i].key, v) < 0) {
            Py_XDECREF(v);
            goto fail;
        }
        Py_DECREF(v);
    }
    for (size_t i = 0; i < m->n_strings; i++) {
        const mg_rule_string *s = &m->strings[i];
        PyObject *o =
            PyObject_CallFunction(cls_rule_string, "sKO", s->id, (unsigned long long)s->count,
                                  s->capped ? Py_True : Py_False);
        if (!o)
            goto fail;
        PyTuple_SET_ITEM(strings, (Py_ssize_t)i, o);
    }
    for (size_t i = 0; i < m->n_hits; i++) {
        const mg_rule_hit *h = &m->hits[i];
        const char *id = h->string < m->n_strings ? m->strings[h->string].id : "$";
        PyObject *o = PyObject_CallFunction(
            cls_rule_hit, "sKKNNNN", id, (unsigned long long)h->address,
            (unsigned long long)h->length, bytes_of(h->data + h->before, h->length),
            bytes_of(h->data, h->before), bytes_of(h->data + h->before + h->length, h->after),
            region_obj(h->region, NULL));
        if (!o)
            goto fail;
        PyTuple_SET_ITEM(hits, (Py_ssize_t)i, o);
    }
    return PyObject_CallFunction(cls_rule, "iNNssNNNN", (int)r->proc.pid, str_or_none(r->proc.comm),
                                 str_or_none(r->proc.exe), m->rule, m->ns, tags, meta, strings,
                                 hits);
fail:
    Py_XDECREF(tags);
    Py_XDECREF(meta);
    Py_XDECREF(strings);
    Py_XDECREF(hits);
    return NULL;
}

/* The CLI's warning line for a per-process event (output_event_reason). */
static void event_line(const mg_event *e, pid_t pid, const char *comm, char *buf, size_t size)
{
    char why[160];
    if (e->kind == MG_EVENT_GONE)
        snprintf(why, sizeof(why), "exited during the scan");
    else if (e->kind == MG_EVENT_TIMEOUT)
        snprintf(why, sizeof(why), "timed out");
    else if (e->kind == MG_EVENT_UNREACHED)
        snprintf(why, sizeof(why), "not reached");
    else
        snprintf(why, sizeof(why), "%s", mg_strerror(e->err));
    int n = snprintf(buf, size, "pid %d", (int)pid);
    if (comm && comm[0] && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, " (%s)", comm);
    if (n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, ": %s", why);
    if (e->what && e->what[0] && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, ": %s", e->what);
    if (e->address && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " at 0x%llx", (unsigned long long)e->address);
}

static PyObject *event_obj(const rec *r)
{
    const mg_event *e = &r->u.event;
    char line[768];
    event_line(e, r->proc.pid, r->proc.comm, line, sizeof(line));
    return PyObject_CallFunction(cls_event, "iNsiNN", (int)r->proc.pid, str_or_none(r->proc.comm),
                                 event_kind_key(e->kind), e->err, str_or_none(line),
                                 region_obj(e->region, NULL));
}

static PyObject *finding_obj(const mg_finding *f)
{
    return PyObject_CallFunction(
        cls_finding, "issNNOKKNNiiNN", (int)f->pid, mg_finding_kind_name(f->kind),
        mg_severity_name(f->severity), str_or_none(f->comm), str_or_none(f->exe),
        f->image ? Py_True : Py_False, (unsigned long long)f->regions, (unsigned long long)f->bytes,
        f->regions ? region_obj(&f->first, NULL) : Py_NewRef(Py_None), str_or_none(f->runtime),
        (int)f->tracer, (int)f->traced_tid, str_or_none(f->tracer_comm), str_or_none(f->argv0));
}

static PyObject *summary_obj(const mg_stats *s, uint64_t findings)
{
    PyObject *events = PyDict_New();
    for (int k = 0; events && k < MG_EVENT_KINDS; k++) {
        PyObject *v = PyLong_FromUnsignedLongLong(s->events[k]);
        if (!v || PyDict_SetItemString(events, event_kind_key(k), v) < 0) {
            Py_XDECREF(v);
            Py_CLEAR(events);
            break;
        }
        Py_DECREF(v);
    }
    if (!events)
        return NULL;
    return PyObject_CallFunction(
        cls_summary, "OsKKKKKKKKKKKKKNds", s->complete ? Py_True : Py_False,
        mg_stop_reason_name(s->stop_reason), (unsigned long long)s->processes_scanned,
        (unsigned long long)s->processes_failed, (unsigned long long)s->processes_whole,
        (unsigned long long)s->processes_cut, (unsigned long long)s->processes_unreached,
        (unsigned long long)s->regions_scanned, (unsigned long long)s->regions_skipped,
        (unsigned long long)s->bytes_scanned, (unsigned long long)s->bytes_not_present,
        (unsigned long long)s->bytes_deduped, (unsigned long long)s->matches,
        (unsigned long long)s->rule_matches, (unsigned long long)findings, events,
        s->elapsed_seconds, s->mem_reader ? s->mem_reader : "");
}

/* ------------------------------------------------------------------ */
/* A sweep: its thread, its queue                                      */
/* ------------------------------------------------------------------ */

typedef struct ScannerObject ScannerObject;

/* What one sweep asked for. */
typedef struct run_params {
    pid_t *pids;
    size_t n_pids;
    char *cgroup, *container;
    unsigned threads;
    bool gentle, findings;
    bool own_engine; /* settings differ from the scanner's engine: one of its own */
    double timeout, process_timeout;
    uint64_t max_rate, max_count;
    size_t context;
} run_params;

/* One sweep, shared by its thread and its _Sweep object; freed by the
 * object once the thread has finished (done). */
typedef struct run {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a record queued or taken, done set */
    rec *head, *tail;
    size_t queued;
    bool done; /* the thread put the summary in and ends */
    atomic_int stop; /* polled by the engine (cancel) and the sink */
    bool oom; /* a record could not be copied: dropped */
    uint64_t findings;
    pthread_t thread;
    bool started;
    run_params params;
    const mg_patterns *patterns;
    ScannerObject *scanner; /* a reference held by the _Sweep */
} run;

struct ScannerObject {
    PyObject_HEAD mg_patterns *patterns;
    mg_engine *engine; /* default settings; the cancel hook asks `current` */
    pthread_mutex_t engine_lock; /* one run on `engine` at a time: `current` is it */
    _Atomic(run *) current;
    PyObject *pattern_tuple; /* Pattern per id */
    PyObject *skipped; /* tuple of str: rules skipped as unsupported */
    size_t n_rules;
};

static int run_cancelled(void *ctx)
{
    return atomic_load((atomic_int *)ctx);
}

static int scanner_cancelled(void *ctx)
{
    ScannerObject *s = ctx;
    run *r = atomic_load(&s->current);
    return r && atomic_load(&r->stop);
}

/* Queue a record; waits while the queue is full, unless the sweep is
 * stopping (then the record is dropped) or `force` (the summary). */
static void run_put(run *r, rec *x, bool force)
{
    pthread_mutex_lock(&r->lock);
    while (!force && r->queued >= QUEUE_MAX && !atomic_load(&r->stop))
        pthread_cond_wait(&r->changed, &r->lock);
    if (!force && atomic_load(&r->stop)) {
        pthread_mutex_unlock(&r->lock);
        rec_free(x);
        return;
    }
    x->next = NULL;
    if (r->tail)
        r->tail->next = x;
    else
        r->head = x;
    r->tail = x;
    r->queued++;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

static rec *rec_new(enum rec_kind kind)
{
    rec *x = calloc(1, sizeof(*x));
    if (x)
        x->kind = kind;
    return x;
}

/* Hand a copied record over, or drop it if a copy failed. */
static void put_copy(run *r, rec *x, bool oom)
{
    if (oom) {
        rec_free(x);
        r->oom = true; /* the sink's callbacks are serialised */
        return;
    }
    run_put(r, x, false);
}

/* A new record about process p, or NULL (counted as lost: r->oom). */
static rec *rec_for(run *r, enum rec_kind kind, const mg_process *p, bool *oom)
{
    rec *x = rec_new(kind);
    if (!x)
        r->oom = true;
    else
        copy_proc(x, p, oom);
    return x;
}

static int sink_match(void *ctx, const mg_match *m)
{
    run *r = ctx;
    if (atomic_load(&r->stop))
        return MG_SINK_STOP;
    bool oom = false;
    rec *x = rec_for(r, REC_MATCH, m->process, &oom);
    if (!x)
        return MG_SINK_CONTINUE;
    x->u.match.m = *m;
    x->u.match.m.process = NULL;
    x->u.match.m.region = copy_region(x, m->region, &oom);
    x->u.match.m.data = rec_memdup(x, m->data, m->before + m->length + m->after, &oom);
    put_copy(r, x, oom);
    return MG_SINK_CONTINUE;
}

static int sink_rule(void *ctx, const mg_rule_match *m)
{
    run *r = ctx;
    if (atomic_load(&r->stop))
        return MG_SINK_STOP;
    bool oom = false;
    rec *x = rec_for(r, REC_RULE, m->process, &oom);
    if (!x)
        return MG_SINK_CONTINUE;
    mg_rule_match *c = &x->u.rule.r;
    *c = *m;
    c->process = NULL;
    c->rule = rec_strdup(x, m->rule, &oom);
    c->ns = rec_strdup(x, m->ns, &oom);
    const char **tags = rec_alloc(x, (m->n_tags + 1) * sizeof(*tags), &oom);
    for (size_t i = 0; tags && i < m->n_tags; i++)
        tags[i] = rec_strdup(x, m->tags[i], &oom);
    c->tags = tags;
    mg_rule_meta *meta = rec_alloc(x, (m->n_meta + 1) * sizeof(*meta), &oom);
    for (size_t i = 0; meta && i < m->n_meta; i++) {
        meta[i] = m->meta[i];
        meta[i].key = rec_strdup(x, m->meta[i].key, &oom);
        meta[i].string = rec_strdup(x, m->meta[i].string, &oom);
    }
    c->meta = meta;
    mg_rule_string *strs = rec_alloc(x, (m->n_strings + 1) * sizeof(*strs), &oom);
    for (size_t i = 0; strs && i < m->n_strings; i++) {
        strs[i] = m->strings[i];
        strs[i].id = rec_strdup(x, m->strings[i].id, &oom);
    }
    c->strings = strs;
    mg_rule_hit *hits = rec_alloc(x, (m->n_hits + 1) * sizeof(*hits), &oom);
    for (size_t i = 0; hits && i < m->n_hits; i++) {
        const mg_rule_hit *h = &m->hits[i];
        hits[i] = *h;
        hits[i].region = copy_region(x, h->region, &oom);
        hits[i].data = rec_memdup(x, h->data, h->before + h->length + h->after, &oom);
    }
    c->hits = hits;
    put_copy(r, x, oom || !tags || !meta || !strs || !hits);
    return MG_SINK_CONTINUE;
}

static void sink_event(void *ctx, const mg_event *e)
{
    run *r = ctx;
    bool oom = false;
    rec *x = rec_for(r, REC_EVENT, e->process, &oom);
    if (!x)
        return;
    x->u.event = *e;
    x->u.event.process = NULL;
    x->u.event.region = copy_region(x, e->region, &oom);
    x->u.event.what = rec_strdup(x, e->what, &oom);
    put_copy(r, x, oom);
}

/* The findings of each target, found by the sweep at the target's end
 * (sweep(findings=True): mg_sink.findings). */
static int sink_findings(void *ctx, const mg_process *p, const mg_finding *list, size_t n)
{
    (void)p;
    run *r = ctx;
    if (atomic_load(&r->stop))
        return MG_SINK_STOP;
    for (size_t k = 0; k < n; k++) {
        bool oom = false;
        rec *x = rec_new(REC_FINDING);
        if (!x) {
            r->oom = true;
            break;
        }
        mg_finding *f = &x->u.finding;
        *f = list[k];
        f->comm = rec_strdup(x, list[k].comm, &oom);
        f->exe = rec_strdup(x, list[k].exe, &oom);
        f->first.path = rec_strdup(x, list[k].first.path, &oom);
        f->runtime = rec_strdup(x, list[k].runtime, &oom);
        f->tracer_comm = rec_strdup(x, list[k].tracer_comm, &oom);
        f->argv0 = rec_strdup(x, list[k].argv0, &oom);
        /* patched_code's and preload's lists are not in a Finding:
         * nothing points into the engine's block */
        f->patches = NULL;
        f->n_patches = 0;
        f->preloads = NULL;
        f->n_preloads = 0;
        f->file_read = "";
        r->findings += !oom;
        put_copy(r, x, oom);
    }
    return MG_SINK_CONTINUE;
}

/* --gentle: the idle scheduling class, idle I/O and nice 19 for this
 * thread, which the engine's workers (started by this thread) inherit. */
static void run_be_gentle(void)
{
    struct sched_param sp = {.sched_priority = 0};
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), GENTLE_NICE) < 0 ||
        sched_setscheduler(0, SCHED_IDLE, &sp) < 0)
        return; /* best effort: the rate and the one worker still hold */
    syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, 3 << 13 /* IOPRIO_CLASS_IDLE */);
}

static void *run_main(void *arg)
{
    run *r = arg;
    run_params *p = &r->params;
    rec *sum = rec_new(REC_SUMMARY);
    mg_stats stats;
    mg_error err = {{0}};
    memset(&stats, 0, sizeof(stats));
    mg_sink sink = {.ctx = r, .match = sink_match, .event = sink_event, .rule = sink_rule};
    mg_targets t = {.pids = p->pids,
                    .n_pids = p->n_pids,
                    .cgroup_prefix = p->cgroup,
                    .container_prefix = p->container};
    int rc = 0;
    if (p->findings)
        sink.findings = sink_findings;
    if (p->own_engine) {
        mg_settings s;
        mg_engine *e = NULL;
        mg_default_settings(&s);
        s.threads = p->gentle && !p->threads ? GENTLE_THREADS : p->threads;
        s.max_rate = p->gentle && !p->max_rate ? GENTLE_MAX_RATE : p->max_rate;
        s.timeout = p->timeout;
        s.process_timeout = p->process_timeout;
        s.max_count = p->max_count;
        if (p->context != (size_t)-1)
            s.context = p->context;
        s.cancel = run_cancelled;
        s.cancel_ctx = &r->stop;
        if (p->gentle)
            run_be_gentle();
        rc = mg_engine_new(&e, &s, &err);
        if (rc == 0)
            rc = mg_engine_scan(e, &t, r->patterns, &sink, &stats, &err);
        mg_engine_free(&e);
    } else {
        pthread_mutex_lock(&r->scanner->engine_lock);
        atomic_store(&r->scanner->current, r);
        rc = mg_engine_scan(r->scanner->engine, &t, r->patterns, &sink, &stats, &err);
        atomic_store(&r->scanner->current, NULL);
        pthread_mutex_unlock(&r->scanner->engine_lock);
    }
    if (atomic_load(&r->stop) && stats.stop_reason == MG_STOP_SINK) {
        stats.stop_reason = MG_STOP_CANCELLED; /* the sink stopped for us */
        stats.complete = false;
    }
    pthread_mutex_lock(&r->lock);
    if (sum) {
        sum->u.summary.stats = stats;
        sum->u.summary.stats.mem_reader = stats.mem_reader; /* static */
        sum->u.summary.findings = r->findings;
        sum->u.summary.rc = rc;
        sum->u.summary.err = err;
        sum->u.summary.pid = rc == MG_EBADPID && p->n_pids == 1 ? p->pids[0] : 0;
    }
    pthread_mutex_unlock(&r->lock);
    if (sum)
        run_put(r, sum, true);
    pthread_mutex_lock(&r->lock);
    r->done = true;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static void run_free(run *r)
{
    if (!r)
        return;
    for (rec *x = r->head, *nx; x; x = nx) {
        nx = x->next;
        rec_free(x);
    }
    free(r->params.pids);
    free(r->params.cgroup);
    free(r->params.container);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->changed);
    free(r);
}

/* Stop the sweep and wait for its thread (the GIL released). */
static void run_stop_and_wait(run *r)
{
    if (!r || !r->started)
        return;
    atomic_store(&r->stop, 1);
    Py_BEGIN_ALLOW_THREADS;
    pthread_mutex_lock(&r->lock);
    pthread_cond_broadcast(&r->changed);
    while (!r->done)
        pthread_cond_wait(&r->changed, &r->lock);
    pthread_mutex_unlock(&r->lock);
    Py_END_ALLOW_THREADS;
}

/* ------------------------------------------------------------------ */
/* _Sweep: the iterator                                                */
/* ------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD run *run;
    PyObject *scanner; /* keeps the patterns and the engine alive */
    PyObject *summary; /* once seen */
    bool finished; /* the summary was returned (or an error raised) */
    bool joined;
} SweepObject;

static PyTypeObject SweepType;

/* Stop the sweep and wait for its thread's end (any number of callers;
 * one of them joins it). */
static void sweep_join(SweepObject *s)
{
    if (!s->run || !s->run->started)
        return;
    run_stop_and_wait(s->run);
    if (s->joined)
        return;
    s->joined = true;
    Py_BEGIN_ALLOW_THREADS;
    pthread_join(s->run->thread, NULL);
    Py_END_ALLOW_THREADS;
}

static PyObject *sweep_convert(SweepObject *s, rec *x);

/* After the thread's end: the records not taken are dropped, the summary
 * (if not taken) becomes .summary; iteration is over. r->lock is taken
 * with the GIL held: no holder of r->lock ever waits for the GIL. */
static void sweep_finish(SweepObject *s)
{
    run *r = s->run;
    pthread_mutex_lock(&r->lock);
    rec *list = r->head;
    r->head = r->tail = NULL;
    r->queued = 0;
    pthread_mutex_unlock(&r->lock);
    for (rec *y = list, *ny; y; y = ny) {
        ny = y->next;
        if (y->kind == REC_SUMMARY && !s->finished) {
            PyObject *o = sweep_convert(s, y);
            Py_XDECREF(o);
            PyErr_Clear(); /* an error of the sweep itself: no summary */
        }
        rec_free(y);
    }
    s->finished = true;
}

static void sweep_dealloc(SweepObject *s)
{
    if (s->run) {
        sweep_join(s);
        run_free(s->run);
    }
    Py_XDECREF(s->scanner);
    Py_XDECREF(s->summary);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* The record after the summary's error check, as a Python object. */
static PyObject *sweep_convert(SweepObject *s, rec *x)
{
    ScannerObject *sc = (ScannerObject *)s->scanner;
    switch (x->kind) {
    case REC_MATCH:
        return match_obj(x, sc->pattern_tuple);
    case REC_RULE:
        return rule_obj(x);
    case REC_EVENT:
        return event_obj(x);
    case REC_FINDING:
        return finding_obj(&x->u.finding);
    case REC_SUMMARY:
        break;
    }
    s->finished = true;
    if (x->u.summary.rc < 0)
        return raise_mg(x->u.summary.rc, &x->u.summary.err, "scan", x->u.summary.pid);
    if (s->run->oom)
        return PyErr_NoMemory();
    PyObject *o = summary_obj(&x->u.summary.stats, x->u.summary.findings);
    Py_XINCREF(o);
    Py_XSETREF(s->summary, o);
    return o;
}

static PyObject *sweep_next(SweepObject *s)
{
    run *r = s->run;
    if (s->finished || !r)
        return NULL; /* StopIteration */
    rec *x = NULL;
    for (;;) {
        Py_BEGIN_ALLOW_THREADS;
        pthread_mutex_lock(&r->lock);
        if (!r->head) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += SIGNAL_POLL_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&r->changed, &r->lock, &until);
        }
        x = r->head;
        if (x) {
            r->head = x->next;
            if (!r->head)
                r->tail = NULL;
            r->queued--;
            pthread_cond_broadcast(&r->changed);
        }
        pthread_mutex_unlock(&r->lock);
        Py_END_ALLOW_THREADS;
        if (x)
            break;
        if (s->finished)
            return NULL; /* closed from another thread */
        if (PyErr_CheckSignals() < 0) {
            /* KeyboardInterrupt: stop the sweep cleanly, keep its summary
             * (incomplete) as .summary, and let the exception go on */
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            sweep_join(s);
            sweep_finish(s);
            PyErr_Restore(type, value, tb);
            return NULL;
        }
    }
    if (s->finished) { /* closed from another thread while we waited */
        if (x->kind == REC_SUMMARY && !s->summary) {
            /* the summary was ours to take, not close()'s: still .summary */
            PyObject *o = sweep_convert(s, x);
            Py_XDECREF(o);
            PyErr_Clear();
        }
        rec_free(x);
        return NULL;
    }
    PyObject *o = sweep_convert(s, x);
    rec_free(x);
    return o;
}

static PyObject *sweep_close(SweepObject *s, PyObject *unused)
{
    (void)unused;
    if (s->run && !s->finished) {
        sweep_join(s);
        if (!s->finished)
            sweep_finish(s);
    }
    Py_RETURN_NONE;
}

static PyObject *sweep_stop(SweepObject *s, PyObject *unused)
{
    (void)unused;
    if (s->run) { /* and wake a sink waiting for room in the queue */
        pthread_mutex_lock(&s->run->lock);
        atomic_store(&s->run->stop, 1);
        pthread_cond_broadcast(&s->run->changed);
        pthread_mutex_unlock(&s->run->lock);
    }
    Py_RETURN_NONE;
}

static PyObject *sweep_get_summary(SweepObject *s, void *closure)
{
    (void)closure;
    if (!s->summary)
        Py_RETURN_NONE;
    return Py_NewRef(s->summary);
}

static PyMethodDef sweep_methods[] = {
    {"close", (PyCFunction)sweep_close, METH_NOARGS,
     "close()\n--\n\nStop the sweep (if running), wait for its thread; records not yet taken "
     "are dropped. The summary (incomplete if the sweep was cut) is then .summary. "
     "Idempotent."},
    {"stop", (PyCFunction)sweep_stop, METH_NOARGS,
     "stop()\n--\n\nAsk the sweep to stop and return at once (from any thread): iteration "
     "goes on with what was queued and ends with an incomplete Summary."},
    {NULL},
};

static PyGetSetDef sweep_getset[] = {
    {"summary", (getter)sweep_get_summary, NULL,
     "The Summary once the sweep has ended (None before).", NULL},
    {NULL},
};

static PyTypeObject SweepType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "memgrep._memgrep._Sweep",
    .tp_basicsize = sizeof(SweepObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A running sweep: iterate for its records (Match, RuleMatch, Event, Finding), "
              "ending with a Summary.",
    .tp_dealloc = (destructor)sweep_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)sweep_next,
    .tp_methods = sweep_methods,
    .tp_getset = sweep_getset,
};

/* ------------------------------------------------------------------ */
/* _Scanner: a compiled pattern set and its engine                     */
/* ------------------------------------------------------------------ */

static PyTypeObject ScannerType;

static void scanner_dealloc(ScannerObject *s)
{
    mg_engine_free(&s->engine);
    mg_patterns_free(&s->patterns);
    pthread_mutex_destroy(&s->engine_lock);
    Py_XDECREF(s->pattern_tuple);
    Py_XDECREF(s->skipped);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* The hunt pack (hunt/linux.txt), decoded into pattern memory only for as
 * long as adding it takes (hunt_pack.h). */
static int add_hunt_pack(mg_patterns *p, unsigned flags, mg_error *err)
{
    size_t len = mg_hunt_linux_len;
    unsigned char *text = mg_pattern_memory_alloc(len + 1);
    if (!text)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++)
        text[i] = mg_hunt_linux[i] ^ mg_hunt_linux_key[i % sizeof(mg_hunt_linux_key)];
    int r = mg_patterns_add_list(p, (const char *)text, len, "hunt-pack:linux.txt", flags, err);
    mg_pattern_memory_free(text, len + 1);
    return r;
}

static const char *const kind_names[] = {"literal", "hex", "regex"};

/* Add one item of the compile() lists: ("literal"|"hex"|"regex", bytes,
 * source), ("file", path), ("rules", path), ("rule_source", bytes, name). */
static int add_item(mg_patterns *p, PyObject *item, unsigned flags, unsigned rule_flags,
                    mg_error *err)
{
    const char *kind, *text, *source = NULL;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(item, "sy#|z", &kind, &text, &len, &source))
        return INT_MIN;
    if (strcmp(kind, "literal") && strcmp(kind, "rule_source") && strlen(text) != (size_t)len) {
        PyErr_Format(PyExc_ValueError, "%s: embedded null byte", kind);
        return INT_MIN;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS;
    if (!strcmp(kind, "file"))
        rc = mg_patterns_add_file(p, text, flags, err);
    else if (!strcmp(kind, "rules"))
        rc = mg_patterns_add_rules(p, text, rule_flags, err);
    else if (!strcmp(kind, "rule_source"))
        rc = mg_patterns_add_rules_text(p, text, (size_t)len, source, rule_flags, err);
    else if (!strcmp(kind, "define"))
        rc = mg_patterns_define(p, text, source, err);
    else {
        mg_pattern_kind k = !strcmp(kind, "hex")     ? MG_PATTERN_HEX
                            : !strcmp(kind, "regex") ? MG_PATTERN_REGEX
                                                     : MG_PATTERN_LITERAL;
        rc = mg_patterns_add(p, k, text, (size_t)len, flags, source, err);
    }
    Py_END_ALLOW_THREADS;
    return rc;
}

static PyObject *pattern_tuple(const mg_patterns *p, PyObject *cls)
{
    size_t n = mg_patterns_count(p);
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t && i < n; i++) {
        mg_pattern_info info;
        PyObject *o = NULL;
        if (mg_patterns_info(p, (unsigned)i, &info) == 0)
            o = PyObject_CallFunction(
                cls, "nsNNOO", (Py_ssize_t)i, kind_names[info.kind % 3],
                PyUnicode_DecodeUTF8(info.text, (Py_ssize_t)info.len, "surrogateescape"),
                PyUnicode_DecodeUTF8(info.source, (Py_ssize_t)strlen(info.source),
                                     "surrogateescape"),
                info.flags & MG_PATTERN_CASELESS ? Py_True : Py_False,
                info.flags & MG_PATTERN_WIDE ? Py_True : Py_False);
        if (!o) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, o);
    }
    return t;
}

static PyObject *scanner_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"items", "pattern_class",    "hunt_pack", "nocase",
                             "wide",  "skip_unsupported", "cache_dir", NULL};
    PyObject *items, *pcls;
    int hunt = 0, nocase = 0, wide = 0, skip = 0;
    const char *cache_dir = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O|ppppz", kwlist, &PyList_Type, &items, &pcls,
                                     &hunt, &nocase, &wide, &skip, &cache_dir))
        return NULL;
    ScannerObject *s = (ScannerObject *)type->tp_alloc(type, 0);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->engine_lock, NULL);
    atomic_init(&s->current, NULL);
    unsigned flags = (nocase ? MG_PATTERN_CASELESS : 0) | (wide ? MG_PATTERN_WIDE : 0);
    unsigned rule_flags = skip ? MG_RULES_SKIP_UNSUPPORTED : 0;
    mg_error err = {{0}};
    int rc = mg_patterns_new(&s->patterns);
    if (rc == 0 && hunt)
        rc = add_hunt_pack(s->patterns, flags, &err);
    for (Py_ssize_t i = 0; rc >= 0 && i < PyList_GET_SIZE(items); i++)
        rc = add_item(s->patterns, PyList_GET_ITEM(items, i), flags, rule_flags, &err);
    if (rc == INT_MIN)
        goto fail; /* a Python error */
    if (rc >= 0 && !mg_patterns_count(s->patterns) && !mg_patterns_rules_count(s->patterns)) {
        snprintf(err.message, sizeof(err.message), "%s",
                 mg_patterns_rules_skipped(s->patterns, 0)
                     ? "every rule was skipped as unsupported: nothing to search for"
                     : "no patterns to search for");
        rc = MG_ENOPATTERNS;
    }
    if (rc >= 0) {
        Py_BEGIN_ALLOW_THREADS;
        rc = mg_patterns_compile_cached(s->patterns, cache_dir, NULL, &err);
        Py_END_ALLOW_THREADS;
    }
    if (rc >= 0) {
        mg_settings set;
        mg_default_settings(&set);
        set.cancel = scanner_cancelled;
        set.cancel_ctx = s;
        err.message[0] = '\0';
        rc = mg_engine_new(&s->engine, &set, &err);
    }
    if (rc < 0 && rc != -ENOMEM && rc != MG_EHYPERSCAN)
        rc = MG_EPATTERN; /* an unreadable list or rule file too: bad input */
    if (rc < 0) {
        raise_mg(rc, &err, "compiling the patterns", 0);
        goto fail;
    }
    s->n_rules = mg_patterns_rules_count(s->patterns);
    size_t n_skipped = 0;
    while (mg_patterns_rules_skipped(s->patterns, n_skipped))
        n_skipped++;
    s->skipped = PyTuple_New((Py_ssize_t)n_skipped);
    for (size_t i = 0; s->skipped && i < n_skipped; i++) {
        PyObject *line = PyUnicode_DecodeFSDefault(mg_patterns_rules_skipped(s->patterns, i));
        if (!line)
            goto fail;
        PyTuple_SET_ITEM(s->skipped, (Py_ssize_t)i, line);
    }
    s->pattern_tuple = pattern_tuple(s->patterns, pcls);
    if (!s->skipped || !s->pattern_tuple)
        goto fail;
    return (PyObject *)s;
fail:
    Py_DECREF(s);
    return NULL;
}

static int check_seconds(const char *name, double v)
{
    if (!(v >= 0 && v <= MG_MAX_SECONDS)) {
        PyErr_Format(PyExc_ValueError, "%s: expected seconds from 0 to %g, got %R", name,
                     MG_MAX_SECONDS, PyFloat_FromDouble(v));
        return -1;
    }
    return 0;
}

static PyObject *scanner_sweep(ScannerObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"pids",      "container", "cgroup",          "threads",
                             "gentle",    "timeout",   "process_timeout", "max_rate",
                             "max_count", "context",   "findings",        NULL};
    PyObject *pids = Py_None;
    const char *container = NULL, *cgroup = NULL;
    unsigned threads = 0;
    int gentle = 0, findings = 0;
    double timeout = 0, ptimeout = 0;
    unsigned long long max_rate = 0, max_count = 0;
    Py_ssize_t context = -1; /* -1: the engine's default */
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OzzIpddKKnp", kwlist, &pids, &container, &cgroup,
                                     &threads, &gentle, &timeout, &ptimeout, &max_rate, &max_count,
                                     &context, &findings))
        return NULL;
    if (threads > MG_MAX_THREADS)
        return PyErr_Format(PyExc_ValueError, "threads: at most %u", MG_MAX_THREADS);
    if (context < -1 || context > (Py_ssize_t)MG_MAX_CONTEXT)
        return PyErr_Format(PyExc_ValueError, "context: from 0 to %u bytes", MG_MAX_CONTEXT);
    if (check_seconds("timeout", timeout) < 0 || check_seconds("process_timeout", ptimeout) < 0)
        return NULL;
    run *r = calloc(1, sizeof(*r));
    if (!r)
        return PyErr_NoMemory();
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
    atomic_init(&r->stop, 0);
    SweepObject *sw = PyObject_New(SweepObject, &SweepType);
    if (!sw) {
        run_free(r);
        return NULL;
    }
    sw->run = r;
    sw->scanner = Py_NewRef((PyObject *)s);
    sw->summary = NULL;
    sw->finished = sw->joined = false;
    run_params *p = &r->params;
    if (pids != Py_None) {
        PyObject *seq = PySequence_Fast(pids, "pids: expected a sequence of process ids");
        if (!seq)
            goto fail;
        p->n_pids = (size_t)PySequence_Fast_GET_SIZE(seq);
        p->pids = calloc(p->n_pids ? p->n_pids : 1, sizeof(pid_t));
        for (size_t i = 0; p->pids && i < p->n_pids; i++) {
            long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i));
            if (v == -1 && PyErr_Occurred())
                break;
            if (v <= 0 || v > INT32_MAX) {
                PyErr_Format(PyExc_ValueError, "invalid pid %ld: expected a process id", v);
                break;
            }
            p->pids[i] = (pid_t)v;
        }
        Py_DECREF(seq);
        if (!p->pids) {
            PyErr_NoMemory();
            goto fail;
        }
        if (PyErr_Occurred())
            goto fail;
        if (!p->n_pids) {
            PyErr_SetString(PyExc_ValueError, "pids: empty (None means every process)");
            goto fail;
        }
    }
    p->cgroup = cgroup ? strdup(cgroup) : NULL;
    p->container = container ? strdup(container) : NULL;
    p->threads = threads;
    p->gentle = gentle;
    p->findings = findings;
    p->timeout = timeout;
    p->process_timeout = ptimeout;
    p->max_rate = max_rate;
    p->max_count = max_count;
    p->context = (size_t)context;
    p->own_engine =
        threads || gentle || timeout > 0 || ptimeout > 0 || max_rate || max_count || context >= 0;
    r->patterns = s->patterns;
    r->scanner = s;
    if (pthread_create(&r->thread, NULL, run_main, r) != 0) {
        PyErr_SetString(Error, "cannot start the sweep's thread");
        goto fail;
    }
    r->started = true;
    return (PyObject *)sw;
fail:
    Py_DECREF(sw);
    return NULL;
}

static PyObject *scanner_get_patterns(ScannerObject *s, void *closure)
{
    (void)closure;
    return Py_NewRef(s->pattern_tuple);
}

static PyObject *scanner_get_skipped(ScannerObject *s, void *closure)
{
    (void)closure;
    return Py_NewRef(s->skipped);
}

static PyObject *scanner_get_rules(ScannerObject *s, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(s->n_rules);
}

static PyMethodDef scanner_methods[] = {
    {"sweep", (PyCFunction)(void (*)(void))scanner_sweep, METH_VARARGS | METH_KEYWORDS,
     "sweep(pids=None, container=None, cgroup=None, threads=0, gentle=False, timeout=0, "
     "process_timeout=0, max_rate=0, max_count=0, context=0, findings=False)\n--\n\n"
     "Start a sweep in a thread of its own; returns its iterator."},
    {NULL},
};

static PyGetSetDef scanner_getset[] = {
    {"patterns", (getter)scanner_get_patterns, NULL, "The Pattern of each pattern id.", NULL},
    {"skipped", (getter)scanner_get_skipped, NULL,
     "Rules dropped as unsupported (skip_unsupported=True), one line each.", NULL},
    {"rules", (getter)scanner_get_rules, NULL, "How many YARA rules are held.", NULL},
    {NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "memgrep._memgrep._Scanner",
    .tp_basicsize = sizeof(ScannerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A compiled pattern set and its engine (memgrep.compile builds one).",
    .tp_new = scanner_new,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_methods = scanner_methods,
    .tp_getset = scanner_getset,
};

/* ------------------------------------------------------------------ */
/* Inspecting processes                                                */
/* ------------------------------------------------------------------ */

/* A list of n Python objects made by conv from the array items (n
 * entries of size bytes each); NULL with the error set if one fails. */
static PyObject *list_of(const void *items, size_t n, size_t size,
                         PyObject *(*conv)(const void *item))
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *o = conv((const char *)items + i * size);
        if (!o) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, o);
    }
    return list;
}

static PyObject *process_obj(const void *item)
{
    const mg_proc_info *p = item;
    mg_container c;
    const char *cid = mg_container_of(p->cgroup, &c) == 1 ? c.id : "";
    return PyObject_CallFunction(
        cls_process, "iiKIICKNNNNNOOOO", (int)p->pid, (int)p->ppid, p->starttime, (unsigned)p->uid,
        (unsigned)p->euid, p->state, (unsigned long long)p->rss, str_or_none(p->comm),
        str_or_none(p->exe), str_or_none(p->cgroup), str_or_none(cid), str_or_none(p->cmdline),
        p->flags & MG_PROC_KTHREAD ? Py_True : Py_False,
        p->flags & MG_PROC_ZOMBIE ? Py_True : Py_False,
        p->flags & MG_PROC_SELF ? Py_True : Py_False,
        p->flags & MG_PROC_NOACCESS ? Py_True : Py_False);
}

static PyObject *region_info_obj(const void *item)
{
    const mg_region_info *ri = item;
    return region_obj(&ri->region, ri);
}

static PyObject *finding_item_obj(const void *item)
{
    return finding_obj(item);
}

static PyObject *mod_ps(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    mg_proc_info *all = NULL;
    size_t n = 0;
    mg_error err = {{0}};
    int rc;
    Py_BEGIN_ALLOW_THREADS;
    rc = mg_proc_list(&all, &n, &err);
    Py_END_ALLOW_THREADS;
    if (rc < 0)
        return raise_mg(rc, &err, "list processes", 0);
    PyObject *list = list_of(all, n, sizeof(*all), process_obj);
    mg_proc_info_free(&all);
    return list;
}

static int parse_pid(PyObject *arg, pid_t *pid)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v <= 0 || v > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "invalid pid %ld: expected a process id", v);
        return -1;
    }
    *pid = (pid_t)v;
    return 0;
}

static PyObject *mod_maps(PyObject *self, PyObject *arg)
{
    (void)self;
    pid_t pid;
    if (parse_pid(arg, &pid) < 0)
        return NULL;
    mg_region_info *list = NULL;
    size_t n = 0;
    mg_error err = {{0}};
    int rc;
    Py_BEGIN_ALLOW_THREADS;
    rc = mg_regions_get(pid, 0, &list, &n, &err);
    Py_END_ALLOW_THREADS;
    if (rc < 0)
        return raise_mg(rc, &err, "read the regions", pid);
    PyObject *out = list_of(list, n, sizeof(*list), region_info_obj);
    mg_regions_free(&list);
    return out;
}

static PyObject *mod_findings(PyObject *self, PyObject *arg)
{
    (void)self;
    pid_t pid;
    if (parse_pid(arg, &pid) < 0)
        return NULL;
    mg_finding *list = NULL;
    size_t n = 0;
    mg_error err = {{0}};
    int rc;
    Py_BEGIN_ALLOW_THREADS;
    rc = mg_findings_get(pid, &list, &n, &err);
    Py_END_ALLOW_THREADS;
    if (rc < 0)
        return raise_mg(rc, &err, "check the process", pid);
    PyObject *out = list_of(list, n, sizeof(*list), finding_item_obj);
    mg_findings_free(&list);
    return out;
}

static PyObject *mod_read(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pid_obj;
    unsigned long long address, size;
    pid_t pid;
    if (!PyArg_ParseTuple(args, "OKK", &pid_obj, &address, &size) || parse_pid(pid_obj, &pid) < 0)
        return NULL;
    uint64_t page = mg_page_size();
    if (size == 0 || address + size < address || address + size > UINT64_MAX - page)
        return PyErr_Format(PyExc_ValueError, "read: bad range 0x%llx + %llu", address, size);
    uint64_t start = address & ~(page - 1), end = (address + size + page - 1) & ~(page - 1);
    if (end - start > PY_SSIZE_T_MAX / 2)
        return PyErr_NoMemory();
    size_t len = (size_t)(end - start), pages = len / page;
    uint8_t *buf = malloc(len), *present = malloc(pages);
    if (!buf || !present) {
        free(buf);
        free(present);
        return PyErr_NoMemory();
    }
    mg_error err = {{0}};
    ssize_t got;
    Py_BEGIN_ALLOW_THREADS;
    got = mg_read_present(pid, start, len, buf, present, &err);
    Py_END_ALLOW_THREADS;
    PyObject *out = NULL;
    if (got < 0) {
        raise_mg((int)got, &err, "read the process", pid);
        goto done;
    }
    PyObject *missing = PyList_New(0);
    for (size_t i = 0, j; missing && i < pages; i = j) {
        for (j = i + 1; j < pages && present[j] == present[i]; j++)
            ;
        if (present[i])
            continue;
        uint64_t a = start + i * page, b = start + j * page;
        a = a < address ? address : a;
        b = b > address + size ? address + size : b;
        PyObject *t = Py_BuildValue("(KK)", (unsigned long long)a, (unsigned long long)b);
        if (!t || PyList_Append(missing, t) < 0)
            Py_CLEAR(missing);
        Py_XDECREF(t);
    }
    if (missing)
        out = PyObject_CallFunction(
            cls_memory, "KNN", address,
            PyBytes_FromStringAndSize((char *)buf + (address - start), (Py_ssize_t)size),
            PyList_AsTuple(missing));
    Py_XDECREF(missing);
done:
    free(buf);
    free(present);
    return out;
}

/* mg_strings' runs, collected without the GIL. */
typedef struct str_list {
    struct str_run {
        uint64_t address;
        char *text;
        size_t len;
        bool wide;
    } * v;
    size_t n, cap;
} str_list;

static int collect_string(void *ctx, const mg_string *s)
{
    str_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct str_run *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return 1;
        l->v = v;
        l->cap = cap;
    }
    char *t = malloc(s->len + 1);
    if (!t)
        return 1;
    memcpy(t, s->text, s->len + 1);
    l->v[l->n++] = (struct str_run){s->address, t, s->len, s->wide};
    return 0;
}

static PyObject *mod_strings(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *pid_obj;
    unsigned long long start, end;
    Py_ssize_t min;
    int wide;
    pid_t pid;
    if (!PyArg_ParseTuple(args, "OKKnp", &pid_obj, &start, &end, &min, &wide) ||
        parse_pid(pid_obj, &pid) < 0)
        return NULL;
    if (min < 1)
        return PyErr_Format(PyExc_ValueError, "min_len: at least 1, got %zd", min);
    str_list l = {0};
    mg_error err = {{0}};
    int rc;
    Py_BEGIN_ALLOW_THREADS;
    rc = mg_strings(pid, start, end, (size_t)min, wide ? MG_STRINGS_WIDE : 0, collect_string, &l,
                    &err);
    Py_END_ALLOW_THREADS;
    PyObject *out = NULL;
    if (rc == 1)
        PyErr_NoMemory();
    else if (rc < 0)
        raise_mg(rc, &err, "read the process", pid);
    else
        out = PyList_New((Py_ssize_t)l.n);
    for (size_t i = 0; out && i < l.n; i++) {
        PyObject *o =
            PyObject_CallFunction(cls_string, "KNO", (unsigned long long)l.v[i].address,
                                  PyUnicode_DecodeLatin1(l.v[i].text, (Py_ssize_t)l.v[i].len, NULL),
                                  l.v[i].wide ? Py_True : Py_False);
        if (!o) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, o);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].text);
    free(l.v);
    return out;
}

/* _register(Match=..., ...): the record classes of __init__.py. */
static PyObject *mod_register(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"Match",   "RuleMatch",  "Finding", "Event",  "Summary", "Region",
                             "Process", "RuleString", "RuleHit", "String", "Memory",  NULL};
    PyObject *c[11];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOOOOO", kwlist, &c[0], &c[1], &c[2], &c[3],
                                     &c[4], &c[5], &c[6], &c[7], &c[8], &c[9], &c[10]))
        return NULL;
    PyObject **slots[] = {&cls_match,    &cls_rule,   &cls_finding, &cls_event,
                          &cls_summary,  &cls_region, &cls_process, &cls_rule_string,
                          &cls_rule_hit, &cls_string, &cls_memory};
    for (size_t i = 0; i < 11; i++)
        Py_XSETREF(*slots[i], Py_NewRef(c[i]));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"ps", mod_ps, METH_NOARGS, "ps()\n--\n\nEvery process: a list of Process."},
    {"maps", mod_maps, METH_O, "maps(pid)\n--\n\nThe regions of a process: a list of Region."},
    {"findings", mod_findings, METH_O,
     "findings(pid)\n--\n\nSigns of fileless or tampered code: a list of Finding."},
    {"read", mod_read, METH_VARARGS,
     "read(pid, address, size)\n--\n\nPresent pages only: a Memory."},
    {"_strings", mod_strings, METH_VARARGS,
     "_strings(pid, start, end, min_len, wide)\n--\n\nmg_strings over one range."},
    {"_register", (PyCFunction)(void (*)(void))mod_register, METH_VARARGS | METH_KEYWORDS,
     "Set the record classes (memgrep/__init__.py)."},
    {NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "memgrep._memgrep",
    .m_doc = "libmemgrep's C API for the memgrep package (use `import memgrep`).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__memgrep(void); /* the one exported symbol */

PyMODINIT_FUNC PyInit__memgrep(void)
{
    if (PyType_Ready(&ScannerType) < 0 || PyType_Ready(&SweepType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    Error = PyErr_NewExceptionWithDoc("memgrep.Error",
                                      "A memgrep failure (one line: what and where).", NULL, NULL);
    PatternError = Error ? PyErr_NewExceptionWithDoc(
                               "memgrep.PatternError",
                               "A pattern or rule that does not parse or compile; .file and .line "
                               "name where (None when the pattern was given directly).",
                               Error, NULL)
                         : NULL;
    ProcessError = Error ? PyErr_NewExceptionWithDoc(
                               "memgrep.ProcessError",
                               "A process that cannot be read; .pid names it, .kind says why: "
                               "'nosuchpid', 'gone', 'permission' or 'other'.",
                               Error, NULL)
                         : NULL;
    if (!ProcessError || PyModule_AddObjectRef(m, "Error", Error) < 0 ||
        PyModule_AddObjectRef(m, "PatternError", PatternError) < 0 ||
        PyModule_AddObjectRef(m, "ProcessError", ProcessError) < 0 ||
        PyModule_AddObjectRef(m, "_Scanner", (PyObject *)&ScannerType) < 0 ||
        PyModule_AddStringConstant(m, "library_version", mg_version()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
