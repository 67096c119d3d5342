/* unit.c - the unit reader: read and scan one work unit.
 *
 * A unit owns chunk_size bytes of a region (ownership: it reports the
 * matches that start there) and reads a window of margin bytes more on each
 * side, clipped to the region. The worker re-reads the window's pagemap
 * entries just before reading (fresh residency, and the exclusive bit that
 * picks the reader: mg_page_classify), copies the present pages, and scans
 * each run of pages read in full as one piece. With shared-page dedupe, a
 * unit whose key is already in the table replays its records instead, and a
 * unit worth keeping records its matches under its key.
 *
 * Everything here runs on the worker's own thread and touches only the
 * worker's state, the unit's target (read-only but for its atomics) and,
 * through dispatch.c, the sink. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "residency.h"
#include "sweep.h"

#define PAGE_MASK (~(uint64_t)(MG_PAGE_SIZE - 1))

void mg_unit_window(const mg_sweep *c, const mg_unit *u, uint64_t *ba, uint64_t *bb)
{
    *ba = MG_MAX(u->lo, u->own_start > c->margin ? u->own_start - c->margin : 0);
    *bb = MG_MIN(u->hi, u->own_end + c->margin);
}

int mg_scan_window(mg_worker *w, const uint8_t *buf, uint64_t s, uint64_t e)
{
    const mg_unit *u = w->u;
    mg_piece pc = {
        .buf = buf,
        .addr = s,
        .len = (size_t)(e - s),
        .own_start = u->own_start,
        .own_end = u->own_end,
    };
    uint64_t os = MG_MAX(s, u->own_start), oe = MG_MIN(e, u->own_end);
    if (oe > os)
        mg_stat_add(w->c, ST_SCANNED, oe - os);
    int v = mg_matcher_scan(&w->m, &pc, mg_report_hit, w);
    if (v < 0) {
        /* Hyperscan failed or the hit buffer could not grow: this piece's
         * matches may be incomplete, so say so, and don't keep its records */
        w->rec.complete = false;
        mg_emit_event(w->c, u->p, u->region, MG_EVENT_OTHER, v, s, "scan with Hyperscan");
    }
    return v;
}

void mg_scan_pieces(mg_worker *w, uint64_t ba, uint64_t bb, const uint8_t *ok)
{
    uint64_t pa = ba & PAGE_MASK;
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
        int v = mg_scan_window(w, w->buf + (s - ba), s, e);
        if (v > MG_SINK_CONTINUE) {
            w->rec.complete = false; /* the sink said stop: the rest is not scanned */
            return;
        }
        i = j; /* a failed piece was reported: go on with the others */
    }
}

/* Record read results per page: ok[] is 1 for fully read pages. Partial
 * reads mark the mapping as changed. */
static void collect(mg_worker *w, mg_read_op *ops, size_t n, uint64_t ba, uint8_t *ok)
{
    const mg_unit *u = w->u;
    uint64_t pa = ba & PAGE_MASK;
    for (size_t i = 0; i < n; i++) {
        mg_read_op *op = &ops[i];
        /* pages wholly inside [addr, addr+got), plus the unit's edge pages
         * that the op covers entirely within [ba, bb) */
        for (uint64_t a = op->addr; a < op->addr + op->len;) {
            uint64_t pg = a & PAGE_MASK;
            uint64_t pe = MG_MIN(pg + MG_PAGE_SIZE, op->addr + op->len);
            ok[(pg - pa) / MG_PAGE_SIZE] = pe <= op->addr + op->got;
            a = pe;
        }
        if (op->got < op->len) {
            int err = op->err ? op->err : -EIO;
            w->rec.complete = false;
            mg_stat_add(w->c, ST_CHANGED, op->len - op->got);
            mg_emit_event(w->c, u->p, u->region, mg_event_kind_of(err), err, op->addr + op->got,
                          ops == w->pvr_ops ? "process_vm_readv" : "read /proc/PID/mem");
        }
    }
}

bool mg_pidfd_exited(int pidfd)
{
    struct pollfd pf = {.fd = pidfd, .events = POLLIN};
    return pidfd >= 0 && poll(&pf, 1, 0) > 0 && (pf.revents & (POLLIN | POLLHUP));
}

static uint64_t ops_bytes(const mg_read_op *ops, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ops[i].len;
    return sum;
}

/* Read the present pages of [ba, bb) into the buffer; ok[] marks the pages
 * read in full. Returns false if the process can't be read any more, or
 * the sweep or the target stopped while waiting for the rate limit. Each
 * batch (process_vm_readv, /proc/PID/mem) takes its bytes from the rate
 * budget before it is read. */
static bool read_unit(mg_worker *w, uint64_t ba, uint64_t bb, uint64_t pa, size_t np)
{
    mg_sweep *c = w->c;
    const mg_unit *u = w->u;
    mg_target *p = u->p;
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
        if (!mg_pool_pace(c, p, ops_bytes(w->pvr_ops, n_pvr)))
            return false;
        int rc = mg_read_pvr(p->info.pid, w->pvr_ops, n_pvr);
        if (rc < 0) {
            mg_target_failed(c, p, rc, "process_vm_readv");
            return false;
        }
        /* process_vm_readv goes by pid number: if the target exited before
         * (or while) it read, the pid may have been reused and the bytes be
         * another process's. They are dropped, and the target is gone. */
        if (mg_pidfd_exited(p->pidfd)) {
            mg_target_failed(c, p, -ESRCH, "process_vm_readv");
            return false;
        }
        collect(w, w->pvr_ops, n_pvr, ba, w->ok);
        for (size_t i = 0; i < n_pvr; i++)
            mg_stat_add(c, ST_PVR, w->pvr_ops[i].got);
    }
    if (n_mem && p->mem_fd < 0) {
        w->rec.complete = false;
        if (!atomic_exchange(&p->mem_reported, true))
            mg_emit_event(c, p, u->region, mg_event_kind_of(-p->mem_errno), -p->mem_errno, 0,
                          "open /proc/PID/mem");
    } else if (n_mem) {
        if (!mg_pool_pace(c, p, ops_bytes(w->mem_ops, n_mem)))
            return false;
        int rc = mg_read_mem(&w->reader, p->mem_fd, w->mem_ops, n_mem);
        if (rc < 0) {
            mg_target_failed(c, p, rc, "read /proc/PID/mem");
            return false;
        }
        if (w->reader.uring)
            atomic_store(&c->uring_used, true);
        collect(w, w->mem_ops, n_mem, ba, w->ok);
        for (size_t i = 0; i < n_mem; i++)
            mg_stat_add(c, ST_MEM, w->mem_ops[i].got);
    }
    return true;
}

/* Look a key up; on a hit, replay its records at this unit's addresses. */
static bool find_replay(mg_worker *w, size_t nkey, uint64_t pa)
{
    size_t len;
    const uint8_t *rec = mg_dedupe_find(w->c->dd, w->key, nkey, &len);
    if (!rec)
        return false;
    mg_stat_add(w->c, ST_DEDUPED, w->u->own_end - w->u->own_start);
    mg_dedupe_replay(rec, len, pa, mg_report_hit, w);
    return true;
}

void mg_run_unit(mg_worker *w, const mg_unit *u)
{
    mg_sweep *c = w->c;
    mg_target *p = u->p;
    w->u = u;
    if (c->set.process_timeout > 0) { /* the process's clock starts at its first unit */
        uint64_t none = 0, now = (uint64_t)MG_MAX(mg_sweep_now_ns(c) / 1000, 1);
        atomic_compare_exchange_strong(&p->first_unit_us, &none, now);
    }
    uint64_t ba, bb;
    mg_unit_window(c, u, &ba, &bb);
    uint64_t pa = ba & PAGE_MASK;
    size_t np = (size_t)((bb - pa + MG_PAGE_SIZE - 1) / MG_PAGE_SIZE);
    mg_dedupe_span sp = {
        .pa = pa, .ba = ba, .bb = bb, .own_start = u->own_start, .own_end = u->own_end};

    /* Page-cache bytes are known by file and offset: a hit needs no
     * pagemap read at all (the planner just saw the pages present). */
    size_t fkey = 0;
    if (c->dd && u->file_hi && ba >= u->file_lo && bb <= u->file_hi)
        fkey = mg_dedupe_file_key(w->key, u->region, &sp);
    if (fkey && find_replay(w, fkey, pa))
        return;
    int rc = mg_pagemap_read(p->pagemap_fd, pa, np, w->pm);
    if (rc < 0) {
        mg_target_failed(c, p, rc, "read /proc/PID/pagemap");
        return;
    }
    size_t nkey = 0;
    if (fkey && mg_dedupe_file_pages_shared(w->pm, np)) {
        nkey = fkey; /* still page cache: record under the file key (still in w->key) */
    } else if (c->dd) {
        nkey = mg_dedupe_frame_key(w->key, w->pm, np, &sp);
        if (nkey && find_replay(w, nkey, pa))
            return;
    }
    w->recording = nkey != 0;
    mg_dedupe_rec_start(&w->rec, pa);
    if (read_unit(w, ba, bb, pa, np))
        mg_scan_pieces(w, ba, bb, w->ok);
    else
        w->rec.complete = false;
    if (w->recording && w->rec.complete)
        mg_dedupe_insert(c->dd, w->key, nkey, w->rec.data, w->rec.len);
    w->recording = false;
}

int mg_worker_init(mg_worker *w, mg_sweep *c)
{
    memset(w, 0, sizeof(*w));
    w->c = c;
    w->rec.max = MG_DEDUPE_MAX_RECORD;
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
    w->key =
        malloc(MG_MAX(MG_DEDUPE_FRAME_KEY_WORDS(w->max_pages), (size_t)MG_DEDUPE_FILE_KEY_WORDS) *
               sizeof(*w->key));
    if (!w->buf || !w->pm || !w->pvr_ops || !w->mem_ops || !w->ok || !w->key)
        return -ENOMEM;
    return 0;
}

void mg_worker_fini(mg_worker *w)
{
    mg_matcher_fini(&w->m);
    mg_reader_fini(&w->reader);
    free(w->buf);
    free(w->pm);
    free(w->pvr_ops);
    free(w->mem_ops);
    free(w->ok);
    free(w->key);
    mg_dedupe_rec_free(&w->rec);
}
