/* unit.c - the unit reader: read and scan one work unit (window.c scans
 * the bytes read and delivers their hits).
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
 * through window.c, the sink. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "os/residency.h"
#include "sweep/sweep.h"

#define PAGE_MASK (~(uint64_t)(MG_PAGE_SIZE - 1))

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
            mg_emit_event(w->c, u->p, mg_unit_region_at(u, op->addr), mg_event_kind_of(err), err,
                          op->addr + op->got,
                          ops == w->pvr_ops ? "process_vm_readv" : "read /proc/PID/mem");
        }
    }
}

static uint64_t ops_bytes(const mg_read_op *ops, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ops[i].len;
    return sum;
}

/* Append read ops for the present pages of [ba, bb) (inside the window
 * that starts at page pa; w->pm holds its entries): one per run of pages
 * of the same reader, clipped to [ba, bb), reading into the buffer at
 * their offset from wa (the buffer's first byte). */
/* A page's reader; zero pages (zero_pfn, 0: none known) are not read. */
static mg_page_class page_class(uint64_t e, bool mem_only, uint64_t zero_pfn)
{
    return mg_pm_is_zero(e, zero_pfn) ? MG_PAGE_ABSENT : mg_page_classify(e, mem_only);
}

static void add_ops(mg_worker *w, uint64_t ba, uint64_t bb, uint64_t pa, uint64_t wa, bool mem_only,
                    uint64_t zero_pfn, size_t *n_pvr, size_t *n_mem)
{
    size_t i = (size_t)(((ba & PAGE_MASK) - pa) / MG_PAGE_SIZE);
    size_t np = (size_t)((bb - pa + MG_PAGE_SIZE - 1) / MG_PAGE_SIZE);
    while (i < np) {
        mg_page_class k = page_class(w->pm[i], mem_only, zero_pfn);
        size_t j = i + 1;
        while (j < np && page_class(w->pm[j], mem_only, zero_pfn) == k)
            j++;
        if (k != MG_PAGE_ABSENT) {
            uint64_t s = MG_MAX(ba, pa + i * MG_PAGE_SIZE), e = MG_MIN(bb, pa + j * MG_PAGE_SIZE);
            mg_read_op op = {.addr = s, .len = (size_t)(e - s), .dst = w->buf + (s - wa)};
            if (k == MG_PAGE_PVR)
                w->pvr_ops[(*n_pvr)++] = op;
            else
                w->mem_ops[(*n_mem)++] = op;
        }
        i = j;
    }
}

/* Read the ops built by add_ops into the buffer, whose first byte is
 * address ba; ok[] (np pages from ba's page) marks the pages read in full.
 * Returns false if the process can't be read any more, or the sweep or the
 * target stopped while waiting for the rate limit. Each batch
 * (process_vm_readv, /proc/PID/mem) takes its bytes from the rate budget
 * before it is read. */
static bool read_ops(mg_worker *w, uint64_t ba, size_t np, size_t n_pvr, size_t n_mem)
{
    mg_sweep *c = w->c;
    const mg_unit *u = w->u;
    mg_target *p = u->p;
    memset(w->ok, 0, np);
    if (n_pvr) {
        if (!mg_sweep_pace(c, p, ops_bytes(w->pvr_ops, n_pvr)))
            return false;
        int rc = mg_read_pvr(p->info.pid, w->pvr_ops, n_pvr);
        if (rc < 0) {
            mg_target_failed(c, p, rc, "process_vm_readv");
            return false;
        }
        /* process_vm_readv goes by pid number: if the target exited before
         * (or while) it read, the pid may have been reused and the bytes be
         * another process's. They are dropped, and the target is gone. */
        if (mg_pidfd_exited(p->pin.pidfd)) {
            mg_target_failed(c, p, -ESRCH, "process_vm_readv");
            return false;
        }
        collect(w, w->pvr_ops, n_pvr, ba, w->ok);
        mg_target_keep_args(p, w->pvr_ops, n_pvr);
        for (size_t i = 0; i < n_pvr; i++)
            mg_stat_add(c, ST_PVR, w->pvr_ops[i].got);
    }
    if (n_mem && p->mem_fd < 0) {
        w->rec.complete = false;
        if (!atomic_exchange(&p->mem_reported, true))
            mg_emit_event(c, p, u->region, mg_event_kind_of(-p->mem_errno), -p->mem_errno, 0,
                          "open /proc/PID/mem");
    } else if (n_mem) {
        if (!mg_sweep_pace(c, p, ops_bytes(w->mem_ops, n_mem)))
            return false;
        int rc = mg_read_mem(&w->reader, p->mem_fd, w->mem_ops, n_mem);
        if (rc < 0) {
            mg_target_failed(c, p, rc, "read /proc/PID/mem");
            return false;
        }
        if (w->reader.uring)
            atomic_store(&c->uring_used, true);
        collect(w, w->mem_ops, n_mem, ba, w->ok);
        mg_target_keep_args(p, w->mem_ops, n_mem);
        for (size_t i = 0; i < n_mem; i++)
            mg_stat_add(c, ST_MEM, w->mem_ops[i].got);
    }
    return true;
}

/* Look a key up; on a hit, replay its records at this unit's addresses.
 * Not where the extra database is scanned: a record may have been made
 * without it (one made with it is replayed whole where it is not: the
 * extra strings' hits are not kept there, mg_report_hit). */
static bool find_replay(mg_worker *w, size_t nkey, uint64_t pa, uint64_t bytes)
{
    size_t len;
    if (mg_target_needs_extra(w->c, w->u->p))
        return false;
    const uint8_t *rec = mg_dedupe_find(w->c->dd, w->key, nkey, &len);
    if (!rec)
        return false;
    mg_stat_add(w->c, ST_DEDUPED, bytes);
    mg_dedupe_replay(rec, len, pa, mg_report_hit, w);
    return true;
}

/* A batch of small regions: one pagemap read and one read per reader for
 * all of them, then each region scanned on its own (a piece unit owning the
 * whole region, so matches carry it and none spans two). The buffer holds
 * the span from its first page; gaps and skipped regions in it are never
 * read. Dedupe keys the span's frames and its regions' bounds. */

/* The unit's matches go into the dedupe table only if its scan was whole:
 * a replay must give what a scan would. */
static void keep_record(mg_worker *w, size_t nkey)
{
    if (w->recording && w->rec.complete) {
        if (nkey)
            mg_dedupe_insert(w->c->dd, w->key, nkey, w->rec.data, w->rec.len);
        if (w->nkeep) /* incremental reads: for the engine's later scans */
            mg_keep_insert(w->c->keep, w->kkey, w->nkeep, w->rec.data, w->rec.len);
    }
    w->recording = false;
    w->nkeep = 0;
}

/* Incremental reads (keep.h): a unit wholly in page-cache pages whose file
 * and frames are those of an earlier scan replays that scan's matches; its
 * file key (w->key[0..fkey), 0: none) gets them too, for the other
 * processes of this sweep mapping the pages (no pagemap read for them).
 * Otherwise its keep key (w->nkeep) is left for keep_record. */
static bool keep_replay(mg_worker *w, const mg_unit *u, const mg_dedupe_span *sp, size_t np,
                        size_t fkey)
{
    mg_sweep *c = w->c;
    mg_target *p = u->p;
    bool sd = false;
    w->nkeep = 0;
    if (!c->keep)
        return false;
    if (u->file_hi && sp->ba >= u->file_lo && sp->bb <= u->file_hi &&
        mg_dedupe_file_key(w->kkey, u->region, sp))
        w->nkeep = mg_keep_key(c->keep, &w->ids, p->info.pid, u->region, w->kkey, w->pm, np);
    else if (p->sd_epoch && mg_region_anon_like(u->region)) { /* mg_settings.soft_dirty */
        w->nkeep =
            mg_keep_sd_key(w->kkey, p->info.pid, p->pin.st.starttime, p->sd_epoch, sp, w->pm, np);
        sd = true;
    }
    size_t len;
    const uint8_t *rec =
        w->nkeep && (!sd || p->sd_reuse) ? mg_keep_find(c->keep, w->kkey, w->nkeep, &len) : NULL;
    if (!rec)
        return false;
    if (fkey && mg_dedupe_file_pages_shared(w->pm, np))
        mg_dedupe_insert(c->dd, w->key, fkey, rec, len);
    w->nkeep = 0;
    mg_stat_add(c, ST_REUSED, u->own_end - u->own_start);
    mg_dedupe_replay(rec, len, sp->pa, mg_report_hit, w);
    return true;
}
static void run_batch(mg_worker *w, const mg_unit *u)
{
    mg_sweep *c = w->c;
    mg_target *p = u->p;
    const mg_region *rs = p->maps.regions;
    uint64_t pa = u->lo;
    size_t np = (size_t)((u->hi - pa) / MG_PAGE_SIZE);
    int rc = mg_pagemap_read(p->pagemap_fd, pa, np, w->pm);
    if (rc < 0) {
        mg_target_failed(c, p, rc, "read /proc/PID/pagemap");
        return;
    }
    size_t nkey = 0;
    uint64_t bytes = 0;
    for (size_t i = u->batch_first; i <= u->batch_last; i++)
        if (mg_region_batchable(c, &rs[i]))
            bytes += rs[i].end - rs[i].start;
    if (c->dd) {
        /* the frames, then each region's bounds: the same frames cut into
         * other regions hold other matches (none spans two regions) */
        mg_dedupe_span sp = {.pa = pa, .ba = pa, .bb = u->hi, .own_start = pa, .own_end = u->hi};
        nkey = mg_dedupe_frame_key(w->key, w->pm, np, &sp);
        for (size_t i = u->batch_first; nkey && i <= u->batch_last; i++)
            if (mg_region_batchable(c, &rs[i]))
                w->key[nkey++] = mg_dedupe_bounds_word(pa, rs[i].start, rs[i].end);
        if (nkey && find_replay(w, nkey, pa, bytes))
            return;
    }
    w->recording = nkey != 0;
    mg_dedupe_rec_start(&w->rec, pa);
    size_t n_pvr = 0, n_mem = 0;
    for (size_t i = u->batch_first; i <= u->batch_last; i++)
        if (mg_region_batchable(c, &rs[i]))
            add_ops(w, rs[i].start, rs[i].end, pa, pa, false, 0, &n_pvr, &n_mem);
    if (read_ops(w, pa, np, n_pvr, n_mem)) {
        for (size_t i = u->batch_first; i <= u->batch_last; i++) {
            const mg_region *r = &rs[i];
            if (!mg_region_batchable(c, r))
                continue;
            mg_unit piece = mg_region_unit(p, r);
            w->u = &piece;
            mg_scan_pieces_in(w, w->buf + (r->start - pa), r->start, r->end,
                              w->ok + (r->start - pa) / MG_PAGE_SIZE);
            w->u = u;
            if (mg_sweep_should_stop(c, p)) {
                w->rec.complete = false;
                break;
            }
        }
    } else
        w->rec.complete = false;
    keep_record(w, nkey);
}

/* Whether pages [i, j) of the window's entries hold a present page that is
 * not the zero page. */
static bool has_data(const uint64_t *pm, size_t i, size_t j, uint64_t zero_pfn)
{
    for (; i < j; i++)
        if ((pm[i] & MG_PM_PRESENT) && !mg_pm_is_zero(pm[i], zero_pfn))
            return true;
    return false;
}

/* A piece of a direct region (sweep.h: mg_unit.direct): no planner walk
 * came before, so the piece owns its whole chunk_size cut whatever its
 * pages, and this pagemap read is its residency walk and its key at once.
 * Pages that are not present are not read, as ever; zero pages are not read
 * either: they are zero bytes in the buffer. With skip_zero (no pattern
 * matches zero bytes alone) a match that starts in the piece ends at most
 * `width` bytes after it, in a page with data: a piece with none there
 * holds no match and is left at that. */
static void run_direct(mg_worker *w, const mg_unit *u)
{
    mg_sweep *c = w->c;
    mg_target *p = u->p;
    uint64_t ba, bb;
    mg_unit_window(c, u, &ba, &bb);
    uint64_t pa = ba & PAGE_MASK;
    size_t np = (size_t)((bb - pa + MG_PAGE_SIZE - 1) / MG_PAGE_SIZE);
    int rc = mg_pagemap_read(p->pagemap_fd, pa, np, w->pm);
    if (rc < 0) {
        mg_target_failed(c, p, rc, "read /proc/PID/pagemap");
        return;
    }
    /* owned pages that are not present (zero pages too, with skip_zero:
     * as the planner counts them) */
    size_t o0 = (size_t)((u->own_start - pa) / MG_PAGE_SIZE);
    size_t o1 = (size_t)((u->own_end - pa) / MG_PAGE_SIZE);
    uint64_t absent = 0;
    for (size_t i = o0; i < o1; i++)
        absent +=
            !(w->pm[i] & MG_PM_PRESENT) || (c->skip_zero && mg_pm_is_zero(w->pm[i], c->zero_pfn));
    mg_stat_add(c, ST_NOT_PRESENT, absent * MG_PAGE_SIZE);
    uint64_t reach = MG_MIN(bb, u->own_end + c->width);
    size_t r1 = (size_t)((reach - pa + MG_PAGE_SIZE - 1) / MG_PAGE_SIZE);
    if (absent == o1 - o0 && (!c->skip_zero || !has_data(w->pm, o1, r1, c->zero_pfn)))
        return;
    mg_dedupe_span sp = {
        .pa = pa, .ba = ba, .bb = bb, .own_start = u->own_start, .own_end = u->own_end};
    if (keep_replay(w, u, &sp, np, 0))
        return;
    size_t nkey = c->dd ? mg_dedupe_frame_key(w->key, w->pm, np, &sp) : 0;
    if (nkey && find_replay(w, nkey, pa, u->own_end - u->own_start)) {
        w->nkeep = 0;
        return;
    }
    w->recording = nkey != 0 || w->nkeep != 0;
    mg_dedupe_rec_start(&w->rec, pa);
    size_t n_pvr = 0, n_mem = 0;
    add_ops(w, ba, bb, pa, ba, false, c->zero_pfn, &n_pvr, &n_mem);
    if (read_ops(w, ba, np, n_pvr, n_mem)) {
        for (size_t i = 0; i < np; i++) {
            if (!mg_pm_is_zero(w->pm[i], c->zero_pfn))
                continue;
            uint64_t s = MG_MAX(ba, pa + i * MG_PAGE_SIZE);
            uint64_t e = MG_MIN(bb, pa + (i + 1) * MG_PAGE_SIZE);
            memset(w->buf + (s - ba), 0, (size_t)(e - s));
            w->ok[i] = 1;
        }
        mg_scan_pieces(w, ba, bb, w->ok);
    } else
        w->rec.complete = false;
    keep_record(w, nkey);
}

void mg_run_unit(mg_worker *w, const mg_unit *u)
{
    mg_sweep *c = w->c;
    mg_target *p = u->p;
    w->u = u;
    w->nkeep = 0;
    if (c->set.process_timeout > 0) { /* the process's clock starts at its first unit */
        uint64_t none = 0, now = (uint64_t)MG_MAX(mg_sweep_now_ns(c) / 1000, 1);
        atomic_compare_exchange_strong(&p->first_unit_us, &none, now);
    }
    if (u->batch) {
        run_batch(w, u);
        return;
    }
    if (u->direct) {
        /* a step of a direct region: its chunk_size cuts, one by one */
        uint64_t chunk = c->set.chunk_size;
        for (uint64_t a = u->own_start; a < u->own_end && !mg_sweep_should_stop(c, p);) {
            mg_unit piece = *u;
            piece.own_start = a;
            piece.own_end = a = MG_MIN(u->own_end, (a / chunk + 1) * chunk);
            w->u = &piece;
            run_direct(w, &piece);
            w->u = u;
        }
        return;
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
    if (fkey && find_replay(w, fkey, pa, u->own_end - u->own_start))
        return;
    int rc = mg_pagemap_read(p->pagemap_fd, pa, np, w->pm);
    if (rc < 0) {
        mg_target_failed(c, p, rc, "read /proc/PID/pagemap");
        return;
    }
    if (keep_replay(w, u, &sp, np, fkey))
        return;
    size_t nkey = 0;
    if (fkey && mg_dedupe_file_pages_shared(w->pm, np)) {
        nkey = fkey; /* still page cache: record under the file key (still in w->key) */
    } else if (c->dd) {
        nkey = mg_dedupe_frame_key(w->key, w->pm, np, &sp);
        if (nkey && find_replay(w, nkey, pa, u->own_end - u->own_start)) {
            w->nkeep = 0;
            return;
        }
    }
    w->recording = nkey != 0 || w->nkeep != 0;
    mg_dedupe_rec_start(&w->rec, pa);
    size_t n_pvr = 0, n_mem = 0;
    add_ops(w, ba, bb, pa, ba, u->mem_only, 0, &n_pvr, &n_mem);
    if (read_ops(w, ba, np, n_pvr, n_mem))
        mg_scan_pieces(w, ba, bb, w->ok);
    else
        w->rec.complete = false;
    keep_record(w, nkey);
}

void mg_worker_open(mg_worker *w, const mg_settings *s)
{
    memset(w, 0, sizeof(*w));
    w->rec.max = MG_DEDUPE_MAX_RECORD;
    mg_reader_init(&w->reader, s->mem_reader);
}

static void free_buffers(mg_worker *w)
{
    free(w->buf);
    free(w->pm);
    free(w->pvr_ops);
    free(w->mem_ops);
    free(w->ok);
    free(w->key);
    free(w->kkey);
    w->buf = NULL, w->pm = NULL, w->pvr_ops = w->mem_ops = NULL, w->ok = NULL, w->key = NULL;
    w->kkey = NULL;
    w->span = 0;
}

int mg_worker_bind(mg_worker *w, mg_sweep *c)
{
    w->c = c;
    /* A new matcher for every sweep: its scratch belongs to one database,
     * and a pattern set freed and another made at the same address would
     * not be told apart by pointer. */
    mg_matcher_fini(&w->m);
    int rc = mg_matcher_init(&w->m, c->pats, c->set.unbounded_width);
    if (rc < 0)
        return rc;
    mg_keep_ids_reset(&w->ids); /* files are looked at again in each sweep */
    size_t span = c->set.chunk_size + 2 * c->margin;
    if (span == w->span)
        return 0; /* the buffers of the sweep before fit */
    free_buffers(w);
    w->max_pages = span / MG_PAGE_SIZE + 2;
    w->buf = malloc(span);
    w->pm = malloc(w->max_pages * sizeof(*w->pm));
    w->pvr_ops = malloc(w->max_pages * sizeof(*w->pvr_ops));
    w->mem_ops = malloc(w->max_pages * sizeof(*w->mem_ops));
    w->ok = malloc(w->max_pages);
    w->key = malloc(MG_MAX(MG_DEDUPE_BATCH_KEY_WORDS(w->max_pages, w->max_pages),
                           (size_t)MG_DEDUPE_FILE_KEY_WORDS) *
                    sizeof(*w->key));
    w->kkey = malloc(MG_MAX(MG_KEEP_KEY_WORDS(w->max_pages), MG_KEEP_SD_KEY_WORDS(w->max_pages)) *
                     sizeof(*w->kkey));
    if (!w->buf || !w->pm || !w->pvr_ops || !w->mem_ops || !w->ok || !w->key || !w->kkey) {
        free_buffers(w);
        return -ENOMEM;
    }
    w->span = span;
    return 0;
}

int mg_worker_init(mg_worker *w, mg_sweep *c)
{
    mg_worker_open(w, &c->set);
    return mg_worker_bind(w, c);
}

void mg_worker_fini(mg_worker *w)
{
    mg_matcher_fini(&w->m);
    mg_reader_fini(&w->reader);
    free_buffers(w);
    mg_dedupe_rec_free(&w->rec);
}
