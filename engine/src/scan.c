/* scan.c - the sweep: planner, work queue, worker pool and sink dispatch.
 *
 * The calling thread is the planner: for each target it snapshots the maps,
 * finds the present ranges of each scannable region and cuts them into work
 * units (chunk_size bytes each), pushed into a bounded queue. Workers pull
 * units from any process, re-read pagemap for the unit (fresh residency and
 * the exclusive bit that picks the reader), read the present pages plus
 * overlap, and scan them. Memory is bounded by threads x buffer size plus
 * the queue, whatever the targets' sizes.
 *
 * Locking: `lock` guards the queue; `sink_lock` serialises sink callbacks.
 * Statistics are atomics. A process is refcounted by the planner and its
 * queued units; the last reference frees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedupe.h"
#include "maps.h"
#include "patterns.h"
#include "procs.h"
#include "reader.h"
#include "residency.h"
#include "util.h"

#define QUEUE_PER_THREAD 8
#define DEDUPE_MAX_BYTES (32u << 20)
#define PM_PFN_MASK ((1ull << 55) - 1)

typedef struct ctx ctx;

typedef struct proc {
    ctx *c;
    atomic_int refs;
    mg_process info;
    char comm[64];
    char *exe;
    mg_maps maps;
    int pagemap_fd, mem_fd, mem_errno;
    atomic_bool skip; /* gone, denied, or the sink asked for the next process */
    atomic_bool sink_done; /* the sink asked for the next process */
    atomic_bool gone_reported, mem_reported;
    _Atomic uint32_t *counts; /* per pattern, with max_count */
} proc;

typedef struct unit {
    proc *p;
    const mg_region *region;
    uint64_t own_start, own_end; /* matches starting here are ours */
    uint64_t lo, hi; /* the region: overlap never leaves it (absent pages in it are not read) */
    uint64_t file_lo, file_hi; /* the run of page-cache pages the unit is in, if any */
    bool mem_only; /* --include-noread region: /proc/PID/mem for every page */
} unit;

enum stat_id {
    ST_PROCS,
    ST_PROCS_FAILED,
    ST_REGIONS,
    ST_REGIONS_SKIPPED,
    ST_SCANNED,
    ST_PVR,
    ST_MEM,
    ST_NOT_PRESENT,
    ST_NOREAD,
    ST_SPECIAL,
    ST_CHANGED,
    ST_DEDUPED,
    ST_MATCHES,
    ST_PROCS_DONE,
    ST_EVENTS,
    ST_N = ST_EVENTS + MG_EVENT_KINDS
};

struct ctx {
    const mg_patterns *pats;
    mg_settings set;
    const mg_sink *sink;
    size_t margin; /* overlap each side: width + context + 1 */
    uint64_t width; /* largest match width (unbounded regexes: unbounded_width) */
    bool skip_zero; /* no pattern matches within zero bytes alone */
    atomic_bool stop;
    _Atomic uint64_t st[ST_N];

    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    unit *q;
    size_t q_cap, q_head, q_len;
    bool closing;

    pthread_mutex_t sink_lock;
    atomic_bool uring_used;
    mg_dedupe *dd; /* NULL: no de-duplication */

    /* progress */
    double t0, interval;
    _Atomic uint64_t next_progress_us; /* after t0 */
    uint64_t processes_total, bytes_total;
};

/* Per-worker state: nothing here is shared. */
typedef struct worker {
    ctx *c;
    pthread_t thread;
    mg_matcher m;
    mg_reader reader;
    uint8_t *buf;
    uint64_t *pm; /* pagemap entries of the unit */
    mg_read_op *pvr_ops, *mem_ops;
    uint8_t *ok; /* per page of the unit: read in full */
    size_t max_pages;
    const unit *u; /* current unit, for the report callback */
    /* de-duplication: the unit's key, and its matches as they are found */
    uint64_t *key;
    uint64_t key_base; /* first page of the unit: record offsets are from here */
    uint8_t *rec;
    size_t rec_len, rec_cap;
    bool recording, rec_complete;
} worker;

/* A recorded match; followed by before + len + after bytes of data. */
typedef struct rec_hdr {
    uint64_t off; /* start - first page of the unit */
    uint32_t len, pattern_id;
    uint16_t before, after;
    uint8_t wide;
} rec_hdr;

static void stat_add(ctx *c, enum stat_id id, uint64_t v)
{
    atomic_fetch_add_explicit(&c->st[id], v, memory_order_relaxed);
}

/* ---- events and matches ------------------------------------------------ */

static void emit_event(ctx *c, proc *p, const mg_region *r, mg_event_kind kind, int err,
                       uint64_t addr, const char *what)
{
    stat_add(c, ST_EVENTS + kind, 1);
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

static mg_event_kind kind_of(int err)
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
    default:
        return MG_EVENT_OTHER;
    }
}

/* A failure that ends the scan of this process: reported once. */
static void proc_failed(ctx *c, proc *p, int err, const char *what)
{
    atomic_store(&p->skip, true);
    if (!atomic_exchange(&p->gone_reported, true))
        emit_event(c, p, NULL, kind_of(err), err, 0, what);
}

static void record(worker *w, const mg_hit *h, const uint8_t *data, size_t before, size_t after)
{
    size_t len = (size_t)(h->end - h->start);
    size_t need = sizeof(rec_hdr) + before + len + after;
    if (w->rec_len + need > w->rec_cap) {
        size_t cap = MG_MAX(w->rec_cap * 2, w->rec_len + need + 4096);
        uint8_t *nr = realloc(w->rec, cap);
        if (!nr) {
            w->rec_complete = false;
            return;
        }
        w->rec = nr;
        w->rec_cap = cap;
    }
    rec_hdr hdr = {
        .off = h->start - w->key_base,
        .len = (uint32_t)len,
        .pattern_id = h->pattern_id,
        .before = (uint16_t)before,
        .after = (uint16_t)after,
        .wide = h->wide,
    };
    memcpy(w->rec + w->rec_len, &hdr, sizeof(hdr));
    memcpy(w->rec + w->rec_len + sizeof(hdr), data, before + len + after);
    w->rec_len += need;
}

static int report(void *arg, const mg_hit *h, const mg_piece *pc)
{
    worker *w = arg;
    ctx *c = w->c;
    proc *p = w->u->p;
    size_t off = (size_t)(h->start - pc->addr);
    size_t len = (size_t)(h->end - h->start);
    size_t before = MG_MIN(c->set.context, off);
    size_t after = MG_MIN(c->set.context, pc->len - off - len);
    if (w->recording)
        record(w, h, pc->buf + off - before, before, after);
    if (p->counts && c->set.max_count &&
        atomic_fetch_add_explicit(&p->counts[h->pattern_id], 1, memory_order_relaxed) >=
            c->set.max_count)
        return MG_SINK_CONTINUE;
    mg_match mt = {
        .process = &p->info,
        .region = w->u->region,
        .address = h->start,
        .length = len,
        .pattern_id = h->pattern_id,
        .wide = h->wide,
        .data = pc->buf + off - before,
        .before = before,
        .after = after,
    };
    /* Decided under the sink lock: once the sink has said "next process"
     * or "stop", matches other workers found meanwhile are not delivered. */
    int v = MG_SINK_CONTINUE;
    pthread_mutex_lock(&c->sink_lock);
    if (atomic_load(&c->stop))
        v = MG_SINK_STOP;
    else if (atomic_load(&p->sink_done))
        v = MG_SINK_NEXT_PROCESS;
    else {
        stat_add(c, ST_MATCHES, 1);
        if (c->sink && c->sink->match)
            v = c->sink->match(c->sink->ctx, &mt);
        if (v == MG_SINK_NEXT_PROCESS) {
            atomic_store(&p->sink_done, true);
            atomic_store(&p->skip, true);
        } else if (v == MG_SINK_STOP)
            atomic_store(&c->stop, true);
    }
    pthread_mutex_unlock(&c->sink_lock);
    return v;
}

/* ---- one work unit -------------------------------------------------------- */

/* Scan each maximal run of successfully read bytes in [ba, bb). */
static void scan_pieces(worker *w, uint64_t ba, uint64_t bb, const uint8_t *ok)
{
    const unit *u = w->u;
    uint64_t pa = ba & ~(uint64_t)(MG_PAGE_SIZE - 1);
    size_t np = (size_t)((bb - pa + MG_PAGE_SIZE - 1) / MG_PAGE_SIZE);
    size_t i = 0;
    while (i < np) {
        while (i < np && !ok[i])
            i++;
        size_t j = i;
        while (j < np && ok[j])
            j++;
        if (i == j)
            break;
        uint64_t s = MG_MAX(ba, pa + i * MG_PAGE_SIZE), e = MG_MIN(bb, pa + j * MG_PAGE_SIZE);
        mg_piece pc = {
            .buf = w->buf + (s - ba),
            .addr = s,
            .len = (size_t)(e - s),
            .own_start = u->own_start,
            .own_end = u->own_end,
        };
        uint64_t os = MG_MAX(s, u->own_start), oe = MG_MIN(e, u->own_end);
        if (oe > os)
            stat_add(w->c, ST_SCANNED, oe - os);
        int v = mg_matcher_scan(&w->m, &pc, report, w);
        if (v != MG_SINK_CONTINUE) {
            w->rec_complete = false;
            return;
        }
        i = j;
    }
}

/* Record read results per page: ok[] is 1 for fully read pages. Partial
 * reads mark the mapping as changed. */
static void collect(worker *w, mg_read_op *ops, size_t n, uint64_t ba, uint8_t *ok)
{
    const unit *u = w->u;
    uint64_t pa = ba & ~(uint64_t)(MG_PAGE_SIZE - 1);
    for (size_t i = 0; i < n; i++) {
        mg_read_op *op = &ops[i];
        /* pages wholly inside [addr, addr+got), plus the unit's edge pages
         * that the op covers entirely within [ba, bb) */
        for (uint64_t a = op->addr; a < op->addr + op->len;) {
            uint64_t pg = a & ~(uint64_t)(MG_PAGE_SIZE - 1);
            uint64_t pe = MG_MIN(pg + MG_PAGE_SIZE, op->addr + op->len);
            ok[(pg - pa) / MG_PAGE_SIZE] = pe <= op->addr + op->got;
            a = pe;
        }
        if (op->got < op->len) {
            w->rec_complete = false;
            stat_add(w->c, ST_CHANGED, op->len - op->got);
            emit_event(w->c, u->p, u->region, kind_of(op->err ? op->err : -EIO),
                       op->err ? op->err : -EIO, op->addr + op->got,
                       ops == w->pvr_ops ? "process_vm_readv" : "read /proc/PID/mem");
        }
    }
}

/* Key of a unit's bytes for de-duplication: where the unit lies in its
 * pages, then each page's frame number (0: not present). Returns the key
 * length, or 0 if the unit is not worth caching (no page in it is shared
 * with another mapping) or can't be keyed (frame numbers hidden). */
static size_t unit_key(worker *w, uint64_t ba, uint64_t bb, uint64_t pa, size_t np)
{
    const unit *u = w->u;
    bool shared = false;
    for (size_t i = 0; i < np; i++) {
        uint64_t e = w->pm[i];
        if (!(e & MG_PM_PRESENT)) {
            w->key[2 + i] = 0;
            continue;
        }
        if (!(e & PM_PFN_MASK))
            return 0;
        shared |= !(e & MG_PM_EXCLUSIVE);
        w->key[2 + i] = e & PM_PFN_MASK;
    }
    if (!shared)
        return 0;
    w->key[0] = (ba - pa) | (bb - pa) << 32;
    w->key[1] = (u->own_start - pa) | (u->own_end - pa) << 32;
    return np + 2;
}

/* Report a cached unit's matches at this unit's addresses. */
static void replay(worker *w, const uint8_t *rec, size_t len)
{
    for (size_t pos = 0; pos + sizeof(rec_hdr) <= len;) {
        rec_hdr hdr;
        memcpy(&hdr, rec + pos, sizeof(hdr));
        const uint8_t *data = rec + pos + sizeof(hdr);
        pos += sizeof(hdr) + hdr.before + hdr.len + hdr.after;
        mg_hit h = {
            .start = w->key_base + hdr.off,
            .end = w->key_base + hdr.off + hdr.len,
            .pattern_id = hdr.pattern_id,
            .wide = hdr.wide,
        };
        mg_piece pc = {
            .buf = data,
            .addr = h.start - hdr.before,
            .len = (size_t)hdr.before + hdr.len + hdr.after,
        };
        if (report(w, &h, &pc) != MG_SINK_CONTINUE)
            return;
    }
}

/* Look a key up; on a hit, replay its matches here. */
static bool find_replay(worker *w, size_t nkey)
{
    size_t len;
    const uint8_t *rec = mg_dedupe_find(w->c->dd, w->key, nkey, &len);
    if (!rec)
        return false;
    stat_add(w->c, ST_DEDUPED, w->u->own_end - w->u->own_start);
    replay(w, rec, len);
    return true;
}

/* Key of a unit that lies wholly in a run of page-cache pages of a file or
 * shared memory object: its bytes are the object's at those offsets, the
 * same in every process that maps them. The first word can't occur in a
 * frame-number key (see unit_key). Returns the key length, or 0. */
static size_t file_key(worker *w, uint64_t ba, uint64_t bb, uint64_t pa)
{
    const unit *u = w->u;
    const mg_region *r = u->region;
    if (!u->file_hi || ba < u->file_lo || bb > u->file_hi || !r->inode ||
        (r->kind != MG_REGION_FILE && r->kind != MG_REGION_SHM))
        return 0;
    w->key[0] = ~0ull;
    w->key[1] = (uint64_t)r->dev_major << 32 | r->dev_minor;
    w->key[2] = r->inode;
    w->key[3] = r->offset + (pa - r->start);
    w->key[4] = (ba - pa) | (bb - pa) << 32;
    w->key[5] = (u->own_start - pa) | (u->own_end - pa) << 32;
    return 6;
}

/* All pages still present page-cache pages, and one at least mapped
 * elsewhere too (else nobody will ask for this key again). */
static bool all_shared_file_pages(worker *w, size_t np)
{
    bool shared = false;
    for (size_t i = 0; i < np; i++) {
        uint64_t e = w->pm[i];
        if ((e & (MG_PM_PRESENT | MG_PM_FILE)) != (MG_PM_PRESENT | MG_PM_FILE))
            return false;
        shared |= !(e & MG_PM_EXCLUSIVE);
    }
    return shared;
}

/* Read the present pages of [ba, bb) into the buffer; ok[] marks the pages
 * read in full. Returns false if the process can't be read any more. */
static bool read_unit(worker *w, uint64_t ba, uint64_t bb, uint64_t pa, size_t np)
{
    ctx *c = w->c;
    const unit *u = w->u;
    proc *p = u->p;
    /* Runs of same-class pages become read ops, clipped to [ba, bb). */
    size_t n_pvr = 0, n_mem = 0;
    for (size_t i = 0; i < np;) {
        mg_page_class k = mg_page_classify(w->pm[i], u->mem_only);
        size_t j = i + 1;
        while (j < np && mg_page_classify(w->pm[j], u->mem_only) == k)
            j++;
        if (k != MG_PAGE_ABSENT) {
            uint64_t s = MG_MAX(ba, pa + i * MG_PAGE_SIZE), e = MG_MIN(bb, pa + j * MG_PAGE_SIZE);
            mg_read_op op = {.addr = s, .len = (size_t)(e - s), .dst = w->buf + (s - ba)};
            if (k == MG_PAGE_PVR)
                w->pvr_ops[n_pvr++] = op;
            else
                w->mem_ops[n_mem++] = op;
        }
        i = j;
    }
    memset(w->ok, 0, np);
    if (n_pvr) {
        int rc = mg_read_pvr(p->info.pid, w->pvr_ops, n_pvr);
        if (rc < 0) {
            proc_failed(c, p, rc, "process_vm_readv");
            return false;
        }
        collect(w, w->pvr_ops, n_pvr, ba, w->ok);
        for (size_t i = 0; i < n_pvr; i++)
            stat_add(c, ST_PVR, w->pvr_ops[i].got);
    }
    if (n_mem && p->mem_fd < 0) {
        w->rec_complete = false;
        if (!atomic_exchange(&p->mem_reported, true))
            emit_event(c, p, u->region, kind_of(-p->mem_errno), -p->mem_errno, 0,
                       "open /proc/PID/mem");
    } else if (n_mem) {
        int rc = mg_read_mem(&w->reader, p->mem_fd, w->mem_ops, n_mem);
        if (rc < 0) {
            proc_failed(c, p, rc, "read /proc/PID/mem");
            return false;
        }
        if (w->reader.uring)
            atomic_store(&c->uring_used, true);
        collect(w, w->mem_ops, n_mem, ba, w->ok);
        for (size_t i = 0; i < n_mem; i++)
            stat_add(c, ST_MEM, w->mem_ops[i].got);
    }
    return true;
}

static void run_unit(worker *w, const unit *u)
{
    ctx *c = w->c;
    proc *p = u->p;
    w->u = u;
    uint64_t ba = MG_MAX(u->lo, u->own_start > c->margin ? u->own_start - c->margin : 0);
    uint64_t bb = MG_MIN(u->hi, u->own_end + c->margin);
    uint64_t pa = ba & ~(uint64_t)(MG_PAGE_SIZE - 1);
    size_t np = (size_t)((bb - pa + MG_PAGE_SIZE - 1) / MG_PAGE_SIZE);

    /* Page-cache bytes are known by file and offset: a hit needs no
     * pagemap read at all (the planner just saw the pages present). */
    size_t fkey = c->dd ? file_key(w, ba, bb, pa) : 0;
    w->key_base = pa;
    if (fkey && find_replay(w, fkey))
        return;
    int rc = mg_pagemap_read(p->pagemap_fd, pa, np, w->pm);
    if (rc < 0) {
        proc_failed(c, p, rc, "read /proc/PID/pagemap");
        return;
    }
    size_t nkey = 0;
    if (fkey && all_shared_file_pages(w, np)) {
        nkey = fkey; /* still page cache: record under the file key (still in w->key) */
    } else if (c->dd) {
        nkey = unit_key(w, ba, bb, pa, np);
        if (nkey && find_replay(w, nkey))
            return;
    }
    w->recording = nkey != 0;
    w->rec_complete = true;
    w->rec_len = 0;
    if (read_unit(w, ba, bb, pa, np))
        scan_pieces(w, ba, bb, w->ok);
    else
        w->rec_complete = false;
    if (w->recording && w->rec_complete)
        mg_dedupe_insert(c->dd, w->key, nkey, w->rec, w->rec_len);
    w->recording = false;
}

/* ---- queue ---------------------------------------------------------------- */

static void proc_unref(proc *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    stat_add(p->c, ST_PROCS_DONE, 1);
    if (p->pagemap_fd >= 0)
        close(p->pagemap_fd);
    if (p->mem_fd >= 0)
        close(p->mem_fd);
    mg_maps_free(&p->maps);
    free(p->exe);
    free(p->counts);
    free(p);
}

static void push_unit(ctx *c, const unit *u)
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

static bool pop_unit(ctx *c, unit *u)
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

/* Called between units: one worker at a time gets to report progress. */
static void maybe_progress(ctx *c)
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

static void *worker_main(void *arg)
{
    worker *w = arg;
    unit u;
    while (pop_unit(w->c, &u)) {
        /* Between units is where stop, limits and cancellation act. */
        if (!atomic_load(&w->c->stop) && !atomic_load(&u.p->skip))
            run_unit(w, &u);
        proc_unref(u.p);
        maybe_progress(w->c);
    }
    return NULL;
}

static int worker_init(worker *w, ctx *c)
{
    memset(w, 0, sizeof(*w));
    w->c = c;
    int rc = mg_matcher_init(&w->m, c->pats, c->set.unbounded_width);
    if (rc < 0)
        return rc;
    mg_reader_init(&w->reader, c->set.mem_reader);
    size_t span = c->set.chunk_size + 2 * c->margin;
    w->max_pages = span / MG_PAGE_SIZE + 2;
    w->buf = malloc(span);
    w->pm = malloc(w->max_pages * sizeof(*w->pm));
    w->pvr_ops = malloc(w->max_pages * sizeof(*w->pvr_ops));
    w->mem_ops = malloc(w->max_pages * sizeof(*w->mem_ops));
    w->ok = malloc(w->max_pages);
    w->key = malloc(MG_MAX(w->max_pages + 2, (size_t)6) * sizeof(*w->key)); /* unit_key, file_key */
    if (!w->buf || !w->pm || !w->pvr_ops || !w->mem_ops || !w->ok || !w->key)
        return -ENOMEM;
    return 0;
}

static void worker_fini(worker *w)
{
    mg_matcher_fini(&w->m);
    mg_reader_fini(&w->reader);
    free(w->buf);
    free(w->pm);
    free(w->pvr_ops);
    free(w->mem_ops);
    free(w->ok);
    free(w->key);
    free(w->rec);
}

/* ---- planner ------------------------------------------------------------ */

typedef struct plan_region {
    ctx *c;
    proc *p;
    const mg_region *r;
    bool mem_only;
    uint64_t present;
    uint64_t prev_end; /* end of the previous run, or the region's start */
} plan_region;

/* Unit boundaries fall on multiples of chunk_size in the mapped object:
 * the file offset for file and shared memory, the address for anonymous
 * memory. So processes mapping the same file at different addresses, or
 * with different pages resident, still cut it into the same units, and
 * de-duplication can recognise them. */
static uint64_t unit_phase(const mg_region *r, uint64_t chunk)
{
    if (r->kind == MG_REGION_FILE || r->kind == MG_REGION_SHM)
        return (r->offset % chunk + chunk - r->start % chunk) % chunk;
    return 0;
}

/* One run of present pages. Pages of the zero page are left out of the runs
 * when no pattern can match only zero bytes (c->skip_zero): a match that
 * starts in such pages must then end in the data after them, so it starts
 * at most `width` bytes before that data, and the run's first unit owns
 * those bytes too (up to the previous run: nothing is owned twice). Units
 * may read overlap from anywhere in the region: absent pages are never
 * read (the worker checks pagemap), so overlap can't fault anything in. */
static int plan_range(void *arg, uint64_t lo, uint64_t hi, bool file)
{
    plan_region *pr = arg;
    ctx *c = pr->c;
    uint64_t chunk = c->set.chunk_size, phase = unit_phase(pr->r, chunk);
    pr->present += hi - lo;
    if (c->skip_zero)
        lo -= MG_MIN(c->width, lo - pr->prev_end);
    pr->prev_end = hi;
    for (uint64_t a = lo; a < hi;) {
        if (atomic_load(&c->stop) || atomic_load(&pr->p->skip))
            return 1;
        uint64_t next = ((a + phase) / chunk + 1) * chunk - phase;
        unit u = {
            .p = pr->p,
            .region = pr->r,
            .own_start = a,
            .own_end = MG_MIN(hi, next),
            .lo = pr->r->start,
            .hi = pr->r->end,
            .file_lo = file ? lo : 0,
            .file_hi = file ? hi : 0,
            .mem_only = pr->mem_only,
        };
        push_unit(c, &u);
        a = u.own_end;
    }
    return 0;
}

static bool readable(const mg_region *r)
{
    return r->perms[0] == 'r';
}

static bool anon_like(const mg_region *r)
{
    return r->kind == MG_REGION_ANON || r->kind == MG_REGION_HEAP || r->kind == MG_REGION_STACK;
}

static int open_proc_file(pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Open a target; NULL if it is skipped silently (kernel thread, zombie)
 * or failed (reported). */
static proc *open_target(ctx *c, pid_t pid)
{
    mg_proc_stat st0, st1;
    proc *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    atomic_init(&p->refs, 1);
    p->c = c;
    p->pagemap_fd = p->mem_fd = -1;
    p->info.pid = pid;
    p->info.comm = p->comm;
    p->info.exe = "";
    int rc = mg_read_proc_stat(pid, &st0);
    if (rc == 0 && st0.kthread) {
        proc_unref(p);
        return NULL;
    }
    mg_read_comm(pid, p->comm, sizeof(p->comm));
    p->exe = mg_read_exe(pid);
    if (p->exe)
        p->info.exe = p->exe;
    const char *what = "read /proc/PID/stat";
    if (rc == 0 && (st0.state == 'Z' || st0.state == 'X')) {
        /* exited, not yet reaped: its memory is gone, and it may well have
         * been alive when the sweep listed it */
        what = "exited before it could be scanned";
        rc = -ESRCH;
    }
    if (rc == 0) {
        what = "read /proc/PID/maps";
        rc = mg_maps_read(pid, &p->maps);
    }
    if (rc >= 0) {
        what = "open /proc/PID/pagemap";
        rc = p->pagemap_fd = open_proc_file(pid, "pagemap");
    }
    if (rc >= 0) {
        /* mem is only needed for shared anon pages; a failure here is
         * reported when such a page is met */
        p->mem_fd = open_proc_file(pid, "mem");
        if (p->mem_fd < 0)
            p->mem_errno = -p->mem_fd;
        /* pid reuse: the fds must belong to the process we listed */
        what = "pid reused";
        rc = mg_read_proc_stat(pid, &st1);
        if (rc == 0 && st1.starttime != st0.starttime)
            rc = -ESRCH;
    }
    if (rc >= 0 && c->set.max_count) {
        p->counts = calloc(mg_patterns_count(c->pats), sizeof(*p->counts));
        if (!p->counts)
            rc = -ENOMEM;
    }
    if (rc < 0) {
        stat_add(c, ST_PROCS_FAILED, 1);
        emit_event(c, p, NULL, kind_of(rc), rc, 0, what);
        proc_unref(p);
        return NULL;
    }
    return p;
}

static void plan_process(ctx *c, pid_t pid, bool *use_ioctl)
{
    proc *p = open_target(c, pid);
    if (!p) {
        stat_add(c, ST_PROCS_DONE, 1);
        return;
    }
    stat_add(c, ST_PROCS, 1);
    for (size_t i = 0; i < p->maps.n && !atomic_load(&c->stop) && !atomic_load(&p->skip); i++) {
        const mg_region *r = &p->maps.regions[i];
        uint64_t size = r->end - r->start;
        bool mem_only = false;
        if (r->kind == MG_REGION_SPECIAL || r->kind == MG_REGION_DEVICE) {
            stat_add(c, ST_REGIONS_SKIPPED, 1);
            stat_add(c, ST_SPECIAL, size);
            continue;
        }
        if (!readable(r)) {
            if (!c->set.include_noread || !anon_like(r)) {
                stat_add(c, ST_REGIONS_SKIPPED, 1);
                stat_add(c, ST_NOREAD, size);
                continue;
            }
            mem_only = true;
        }
        stat_add(c, ST_REGIONS, 1);
        plan_region pr = {.c = c, .p = p, .r = r, .mem_only = mem_only, .prev_end = r->start};
        int rc = mg_present_ranges(p->pagemap_fd, r->start, r->end, use_ioctl, c->skip_zero,
                                   plan_range, &pr);
        if (rc < 0) {
            proc_failed(c, p, rc, "read /proc/PID/pagemap");
            break;
        }
        stat_add(c, ST_NOT_PRESENT, size - pr.present);
    }
    proc_unref(p);
}

/* Resident bytes of a process, for progress estimates only. */
static uint64_t resident_bytes(pid_t pid)
{
    char path[64], *buf = NULL;
    size_t len;
    unsigned long long size = 0, rss = 0;
    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    if (mg_read_file(path, &buf, &len) < 0)
        return 0;
    if (sscanf(buf, "%llu %llu", &size, &rss) != 2)
        rss = 0;
    free(buf);
    return (uint64_t)rss * MG_PAGE_SIZE;
}

static int check_settings(const mg_settings *s, mg_error *err)
{
    if (s->chunk_size < MG_PAGE_SIZE || s->chunk_size % MG_PAGE_SIZE ||
        s->chunk_size > MG_MAX_CHUNK_SIZE)
        return mg_fail(err, -EINVAL, "chunk size %zu: must be a multiple of %u up to %u",
                       s->chunk_size, MG_PAGE_SIZE, MG_MAX_CHUNK_SIZE);
    if (s->context > MG_MAX_CONTEXT)
        return mg_fail(err, -EINVAL, "context %zu: at most %u bytes", s->context, MG_MAX_CONTEXT);
    if (s->unbounded_width == 0 || s->unbounded_width > MG_MAX_EXACT_WIDTH)
        return mg_fail(err, -EINVAL, "unbounded width %u: must be 1..%u", s->unbounded_width,
                       MG_MAX_EXACT_WIDTH);
    for (size_t i = 0; i < s->n_pids; i++) {
        char path[64];
        if (s->pids[i] <= 0)
            return mg_fail(err, MG_EBADPID, "invalid pid %d", (int)s->pids[i]);
        snprintf(path, sizeof(path), "/proc/%d", (int)s->pids[i]);
        if (access(path, F_OK) != 0)
            return mg_fail(err, MG_EBADPID, "no such process: %d", (int)s->pids[i]);
        if (mg_read_tgid(s->pids[i]) == getpid())
            return mg_fail(err, MG_EBADPID, "refusing to scan memgrep itself: %d", (int)s->pids[i]);
    }
    return 0;
}

static void fill_stats(ctx *c, mg_stats *out, double t0, unsigned threads)
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
    for (int k = 0; k < MG_EVENT_KINDS; k++)
        out->events[k] = v[ST_EVENTS + k];
    out->elapsed_seconds = mg_now() - t0;
    out->mem_reader = c->set.mem_reader == MG_MEM_READER_PREAD || !atomic_load(&c->uring_used)
                          ? "pread"
                          : "io_uring";
    out->threads = threads;
}

static int zero_hit(void *arg, const mg_hit *h, const mg_piece *pc)
{
    (void)h, (void)pc;
    *(bool *)arg = true;
    return MG_SINK_STOP;
}

/* Whether any pattern matches in nothing but zero bytes: then pages of the
 * zero page must be scanned like any other. */
static int matches_zeros(ctx *c, bool *hit)
{
    mg_matcher m;
    size_t len = 2 * c->margin + 2;
    uint8_t *zeros = calloc(1, len);
    int rc = zeros ? mg_matcher_init(&m, c->pats, c->set.unbounded_width) : -ENOMEM;
    *hit = false;
    if (rc == 0) {
        mg_piece pc = {.buf = zeros, .addr = 0, .len = len, .own_start = 0, .own_end = len};
        rc = mg_matcher_scan(&m, &pc, zero_hit, hit);
        rc = rc < 0 ? rc : 0;
        mg_matcher_fini(&m);
    }
    free(zeros);
    return rc;
}

/* Overlap each side of a unit: a whole match plus its context after it,
 * context before it, and one byte of look-behind for the leftmost start. */
static size_t margin_of(const mg_patterns *p, unsigned unbounded_width, size_t context)
{
    return (size_t)mg_patterns_max_width(p, unbounded_width) + context + 1;
}

MG_API int mg_scan(const mg_patterns *pats, const mg_settings *s, const mg_sink *sink,
                   mg_stats *stats, mg_error *err)
{
    double t0 = mg_now();
    mg_settings defaults;
    if (!s) {
        mg_default_settings(&defaults);
        s = &defaults;
    }
    if (!pats)
        return mg_fail(err, -EINVAL, "no pattern set");
    if (!pats->db)
        return mg_fail(err, MG_ENOTCOMPILED, "patterns not compiled");
    int rc = check_settings(s, err);
    if (rc < 0)
        return rc;

    ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return mg_fail(err, -ENOMEM, "out of memory");
    c->pats = pats;
    c->set = *s;
    c->sink = sink;
    c->margin = margin_of(pats, s->unbounded_width, s->context);
    c->width = mg_patterns_max_width(pats, s->unbounded_width);
    bool zeros_match = true;
    if (matches_zeros(c, &zeros_match) < 0)
        zeros_match = true;
    c->skip_zero = !zeros_match;
    c->t0 = t0;
    c->interval = sink && sink->progress_interval > 0 ? sink->progress_interval : 0.2;
    atomic_init(&c->next_progress_us, (uint64_t)(c->interval * 1e6));
    if (s->dedupe && mg_dedupe_new(&c->dd, DEDUPE_MAX_BYTES) < 0)
        c->dd = NULL; /* no memory for it: scan everything */
    unsigned threads = s->threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    c->q_cap = (size_t)threads * QUEUE_PER_THREAD;
    c->q = calloc(c->q_cap, sizeof(*c->q));
    worker *ws = calloc(threads, sizeof(*ws));
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->sink_lock, NULL);
    pthread_cond_init(&c->not_empty, NULL);
    pthread_cond_init(&c->not_full, NULL);

    unsigned started = 0;
    rc = c->q && ws ? 0 : -ENOMEM;
    for (unsigned i = 0; rc == 0 && i < threads; i++) {
        rc = worker_init(&ws[i], c);
        if (rc == 0 && (rc = -pthread_create(&ws[i].thread, NULL, worker_main, &ws[i])) == 0)
            started++;
        else
            worker_fini(&ws[i]);
    }
    if (rc == 0) {
        pid_t *all = NULL;
        size_t n = 0;
        const pid_t *pids = s->pids;
        if (!s->n_pids) {
            rc = mg_list_pids(&all, &n);
            pids = all;
        } else if ((all = malloc(s->n_pids * sizeof(*all)))) {
            /* a thread id given by the user means its process, once */
            for (size_t i = 0; i < s->n_pids; i++) {
                pid_t tgid = mg_read_tgid(s->pids[i]);
                bool seen = false;
                for (size_t j = 0; j < n && !seen; j++)
                    seen = all[j] == tgid;
                if (!seen)
                    all[n++] = tgid;
            }
            pids = all;
        } else
            rc = -ENOMEM;
        bool use_ioctl = s->residency != MG_RESIDENCY_PAGEMAP;
        pid_t self = getpid();
        c->processes_total = n;
        if (sink && sink->progress)
            for (size_t i = 0; i < n; i++)
                c->bytes_total += pids[i] != self ? resident_bytes(pids[i]) : 0;
        for (size_t i = 0; rc == 0 && i < n && !atomic_load(&c->stop); i++)
            if (pids[i] != self)
                plan_process(c, pids[i], &use_ioctl);
            else
                stat_add(c, ST_PROCS_DONE, 1);
        free(all);
        if (rc < 0)
            mg_fail(err, rc, "cannot list processes: %s", mg_strerror(rc));
    } else
        mg_fail(err, rc, "cannot start workers: %s", mg_strerror(rc));

    pthread_mutex_lock(&c->lock);
    c->closing = true;
    pthread_cond_broadcast(&c->not_empty);
    pthread_mutex_unlock(&c->lock);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ws[i].thread, NULL);
        worker_fini(&ws[i]);
    }
    fill_stats(c, stats, t0, threads);
    pthread_cond_destroy(&c->not_full);
    pthread_cond_destroy(&c->not_empty);
    pthread_mutex_destroy(&c->sink_lock);
    pthread_mutex_destroy(&c->lock);
    mg_dedupe_free(&c->dd);
    free(ws);
    free(c->q);
    free(c);
    return rc;
}

/* ---- scanning a buffer: same chunking, no target ----------------------- */

typedef struct buf_ctx {
    ctx c;
    proc p;
    mg_region region;
    unit u;
    worker w;
} buf_ctx;

MG_API int mg_scan_buffer(const mg_patterns *pats, const void *buf, size_t len, uint64_t base,
                          size_t chunk_size, size_t context, const mg_sink *sink, mg_stats *stats)
{
    double t0 = mg_now();
    if (!pats || (!buf && len) || chunk_size == 0 || chunk_size > MG_MAX_CHUNK_SIZE ||
        context > MG_MAX_CONTEXT)
        return -EINVAL;
    if (!pats->db)
        return MG_ENOTCOMPILED;
    buf_ctx *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    ctx *c = &b->c;
    mg_default_settings(&c->set);
    c->set.context = context;
    c->pats = pats;
    c->sink = sink;
    c->margin = margin_of(pats, c->set.unbounded_width, context);
    pthread_mutex_init(&c->sink_lock, NULL);
    b->region = (mg_region){
        .start = base, .end = base + len, .perms = "rw-p", .kind = MG_REGION_ANON, .path = ""};
    b->p.info = (mg_process){.pid = 0, .comm = "buffer", .exe = ""};
    b->w.c = c;
    int rc = mg_matcher_init(&b->w.m, pats, c->set.unbounded_width);
    for (size_t off = 0; rc == 0 && off < len; off += chunk_size) {
        size_t own_end = MG_MIN(len, off + chunk_size);
        size_t lo = off > c->margin ? off - c->margin : 0;
        size_t hi = MG_MIN(len, own_end + c->margin);
        b->u = (unit){
            .p = &b->p, .region = &b->region, .own_start = base + off, .own_end = base + own_end};
        b->w.u = &b->u;
        mg_piece pc = {
            .buf = (const uint8_t *)buf + lo,
            .addr = base + lo,
            .len = hi - lo,
            .own_start = base + off,
            .own_end = base + own_end,
        };
        stat_add(c, ST_SCANNED, own_end - off);
        int v = mg_matcher_scan(&b->w.m, &pc, report, &b->w);
        if (v < 0)
            rc = v;
        else if (v == MG_SINK_STOP || v == MG_SINK_NEXT_PROCESS)
            break;
    }
    if (b->w.m.scratch)
        mg_matcher_fini(&b->w.m);
    stat_add(c, ST_PROCS, 1);
    stat_add(c, ST_REGIONS, 1);
    fill_stats(c, stats, t0, 1);
    pthread_mutex_destroy(&c->sink_lock);
    free(b);
    return rc;
}
