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

/* Record read results per page: ok[] is 1 for fully read pages (ok[0]:
 * the page of ba). Partial reads mark the mapping as changed. */
static void collect(mg_worker *w, const mg_read_op *ops, size_t n, uint64_t ba, uint8_t *ok,
                    const char *what)
{
    const mg_unit *u = w->u;
    uint64_t pa = ba & PAGE_MASK;
    for (size_t i = 0; i < n; i++) {
        const mg_read_op *op = &ops[i];
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
                          op->addr + op->got, what);
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

/* A page's reader; zero pages (zero_pfn, 0: none known) are not read. */
static mg_page_class page_class(uint64_t e, bool mem_only, uint64_t zero_pfn)
{
    return mg_pm_is_zero(e, zero_pfn) ? MG_PAGE_ABSENT : mg_page_classify(e, mem_only);
}

/* Append read ops for the present pages of [ba, bb) (inside the window
 * that starts at page pa; w->pm holds its entries): one per run of pages
 * of the same reader, clipped to [ba, bb), reading into buf at their
 * offset from wa (buf's first byte). */
static void add_ops(mg_worker *w, uint8_t *buf, uint64_t ba, uint64_t bb, uint64_t pa, uint64_t wa,
                    bool mem_only, uint64_t zero_pfn, size_t *n_pvr, size_t *n_mem)
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
            mg_read_op op = {.addr = s, .len = (size_t)(e - s), .dst = buf + (s - wa)};
            if (k == MG_PAGE_PVR)
                w->pvr_ops[(*n_pvr)++] = op;
            else
                w->mem_ops[(*n_mem)++] = op;
        }
        i = j;
    }
}

/* Read the ops built by add_ops (n_pvr, n_mem of them, all of p's).
 * Returns false if the process can't be read any
 * more, or the sweep or the target stopped while waiting for the rate
 * limit. Each batch (process_vm_readv, /proc/PID/mem) takes its bytes from
 * the rate budget before it is read. Which pages were read in full is
 * collected per unit after (collect). */
static bool read_ops(mg_worker *w, mg_target *p, size_t n_pvr, size_t n_mem)
{
    mg_sweep *c = w->c;
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
        mg_target_keep_args(p, w->pvr_ops, n_pvr);
        for (size_t i = 0; i < n_pvr; i++)
            mg_stat_add(c, ST_PVR, w->pvr_ops[i].got);
    }
    if (n_mem && p->mem_fd >= 0) {
        if (!mg_sweep_pace(c, p, ops_bytes(w->mem_ops, n_mem)))
            return false;
        int rc = mg_read_mem(&w->reader, p->mem_fd, w->mem_ops, n_mem);
        if (rc < 0) {
            mg_target_failed(c, p, rc, "read /proc/PID/mem");
            return false;
        }
        if (w->reader.uring)
            atomic_store(&c->uring_used, true);
        mg_target_keep_args(p, w->mem_ops, n_mem);
        for (size_t i = 0; i < n_mem; i++)
            mg_stat_add(c, ST_MEM, w->mem_ops[i].got);
    }
    return true;
}

/* Which pages of w->u's window (its first byte ba, ok[0] its page) were
 * read in full, from its ops read by read_ops. */
static void collect_unit(mg_worker *w, const mg_read_op *pvr, size_t n_pvr, const mg_read_op *mem,
                         size_t n_mem, uint64_t ba, uint8_t *ok)
{
    mg_target *p = w->u->p;
    collect(w, pvr, n_pvr, ba, ok, "process_vm_readv");
    if (n_mem && p->mem_fd < 0) {
        w->rec.complete = false;
        if (!atomic_exchange(&p->mem_reported, true))
            mg_emit_event(w->c, p, w->u->region, mg_event_kind_of(-p->mem_errno), -p->mem_errno, 0,
                          "open /proc/PID/mem");
    } else
        collect(w, mem, n_mem, ba, ok, "read /proc/PID/mem");
}

/* Look a key up; on a hit, replay its records at this unit's addresses
 * and drop its keep key. Not where the extra database is scanned: a record
 * may have been made without it (one made with it is replayed whole where
 * it is not: the extra strings' hits are not kept there, mg_report_hit). */
static bool find_replay(mg_worker *w, size_t nkey, uint64_t pa, uint64_t bytes)
{
    size_t len;
    if (mg_target_needs_extra(w->c, w->u->p))
        return false;
    const uint8_t *rec = mg_dedupe_find(w->c->dd, w->key, nkey, &len);
    if (!rec)
        return false;
    w->nkeep = 0;
    mg_stat_add(w->c, ST_DEDUPED, bytes);
    mg_dedupe_replay(rec, len, pa, mg_report_hit, w);
    return true;
}

/* A gathered unit's matches go into the dedupe table under its key and
 * the kept records under its keep key only if its scan was whole: a replay
 * must give what a scan would. */
static void keep_record(mg_worker *w, const mg_gslot *s)
{
    if (w->recording && w->rec.complete) {
        if (s->nkey)
            mg_dedupe_insert(w->c->dd, w->gkey + s->key, s->nkey, w->rec.data, w->rec.len);
        if (s->nkeep) /* incremental reads: for the engine's later scans */
            mg_keep_insert(w->c->keep, w->gkkey + s->kkey, s->nkeep, w->rec.data, w->rec.len);
    }
    w->recording = false;
}

/* Incremental reads (keep.h): a unit wholly in page-cache pages whose file
 * and frames are those of an earlier scan replays that scan's matches; its
 * file key (w->key[0..fkey), 0: none) gets them too, for the other
 * processes of this sweep mapping the pages (no pagemap read for them).
 * Otherwise its keep key (w->kkey, w->nkeep) is left for gather_add. */
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

/* ---- a gather: units of one target read at once ---------------------------
 * Each unit's pagemap is read and its key looked up as it comes (a replay
 * needs no read); its read ops join the gather's, its window a place in the
 * buffer. At the flush, one process_vm_readv and one /proc/PID/mem batch for
 * them all, one check that the process is still there (before any byte of
 * it is scanned or recorded), then each unit scanned on its own. */

/* Read and scan the gathered units; the gather is empty after. */
static void gather_flush(mg_worker *w)
{
    if (!w->n_gs)
        return;
    mg_sweep *c = w->c;
    const mg_unit *u0 = w->u;
    mg_target *p = w->gs[0].u.p;
    bool read = read_ops(w, p, w->n_pvr, w->n_mem);
    for (size_t k = 0; k < w->n_gs; k++) {
        const mg_gslot *s = &w->gs[k];
        const mg_unit *u = &s->u;
        uint8_t *buf = w->buf + s->page * MG_PAGE_SIZE, *ok = w->ok + s->page;
        w->u = u;
        w->recording = s->nkey != 0 || s->nkeep != 0;
        mg_dedupe_rec_start(&w->rec, s->ba & PAGE_MASK);
        if (read)
            collect_unit(w, w->pvr_ops + s->pvr, s->n_pvr, w->mem_ops + s->mem, s->n_mem, s->ba,
                         ok);
        if (!read || mg_sweep_should_stop(c, p)) /* as if not run (mg_run_units) */
            w->rec.complete = false;
        else if (!u->batch)
            mg_scan_pieces_in(w, buf, s->ba, s->bb, ok);
        else { /* each batchable region on its own (run_batch) */
            for (size_t i = u->batch_first; i <= u->batch_last; i++) {
                const mg_region *r = &p->maps.regions[i];
                if (!mg_region_batchable(c, r))
                    continue;
                mg_unit piece = mg_region_unit(p, r);
                w->u = &piece;
                mg_scan_pieces_in(w, buf + (r->start - s->ba), r->start, r->end,
                                  ok + (r->start - s->ba) / MG_PAGE_SIZE);
                w->u = u;
                if (mg_sweep_should_stop(c, p)) {
                    w->rec.complete = false;
                    break;
                }
            }
        }
        keep_record(w, s);
    }
    w->u = u0;
    w->n_gs = w->n_pages = w->n_pvr = w->n_mem = w->n_gkey = w->n_gkkey = 0;
}

/* Add w->u, window [ba, bb) (its pagemap entries in w->pm from ba's page,
 * its key nkey words of w->key, its keep key w->nkeep words of w->kkey), to
 * the gather: after a flush if it does not fit. Zero pages of a direct region's piece (not read:
 * zero bytes) are filled in here. */
static void gather_add(mg_worker *w, uint64_t ba, uint64_t bb, size_t nkey)
{
    const mg_unit *u = w->u;
    uint64_t pa = ba & PAGE_MASK, zero_pfn = u->direct ? w->c->zero_pfn : 0;
    size_t np = (size_t)((bb - pa + MG_PAGE_SIZE - 1) / MG_PAGE_SIZE);
    if (w->n_gs &&
        (w->n_gs == MG_GATHER_UNITS || w->gs[0].u.p != u->p || w->n_pages + np > w->max_pages ||
         w->n_pages * MG_PAGE_SIZE + (bb - ba) > w->span || w->n_gkey + nkey > w->gkey_cap ||
         w->n_gkkey + w->nkeep > w->gkkey_cap))
        gather_flush(w);
    mg_gslot *s = &w->gs[w->n_gs++];
    *s = (mg_gslot){.u = *u,
                    .ba = ba,
                    .bb = bb,
                    .page = w->n_pages,
                    .pvr = w->n_pvr,
                    .mem = w->n_mem,
                    .key = w->n_gkey,
                    .nkey = nkey,
                    .kkey = w->n_gkkey,
                    .nkeep = w->nkeep};
    memcpy(w->gkey + w->n_gkey, w->key, nkey * sizeof(*w->key));
    w->n_gkey += nkey;
    memcpy(w->gkkey + w->n_gkkey, w->kkey, w->nkeep * sizeof(*w->kkey));
    w->n_gkkey += w->nkeep;
    w->nkeep = 0;
    w->n_pages += np;
    uint8_t *buf = w->buf + s->page * MG_PAGE_SIZE, *ok = w->ok + s->page;
    memset(ok, 0, np);
    for (size_t i = 0; zero_pfn && i < np; i++) {
        if (!mg_pm_is_zero(w->pm[i], zero_pfn))
            continue;
        uint64_t zs = MG_MAX(ba, pa + i * MG_PAGE_SIZE);
        uint64_t ze = MG_MIN(bb, pa + (i + 1) * MG_PAGE_SIZE);
        memset(buf + (zs - ba), 0, (size_t)(ze - zs));
        ok[i] = 1;
    }
    if (!u->batch)
        add_ops(w, buf, ba, bb, pa, ba, u->mem_only, zero_pfn, &w->n_pvr, &w->n_mem);
    else
        for (size_t i = u->batch_first; i <= u->batch_last; i++) {
            const mg_region *r = &u->p->maps.regions[i];
            if (mg_region_batchable(w->c, r))
                add_ops(w, buf, r->start, r->end, pa, pa, false, 0, &w->n_pvr, &w->n_mem);
        }
    s->n_pvr = w->n_pvr - s->pvr;
    s->n_mem = w->n_mem - s->mem;
}

/* A batch of small regions: one pagemap read and one read per reader for
 * all of them, then each region scanned on its own (a piece unit owning the
 * whole region, so matches carry it and none spans two). The buffer holds
 * the span from its first page; gaps and skipped regions in it are never
 * read. Dedupe keys the span's frames and its regions' bounds. */
static void add_batch(mg_worker *w, const mg_unit *u)
{
    mg_sweep *c = w->c;
    mg_target *p = u->p;
    const mg_region *rs = p->maps.regions;
    uint64_t pa = u->lo;
    size_t np = (size_t)((u->hi - pa) / MG_PAGE_SIZE);
    int rc = mg_worker_pagemap(w, p, pa, np);
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
    gather_add(w, pa, u->hi, nkey);
}

/* A unit inside one run of present pages. */
static void add_plain(mg_worker *w, const mg_unit *u)
{
    mg_sweep *c = w->c;
    mg_target *p = u->p;
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
    int rc = mg_worker_pagemap(w, p, pa, np);
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
        if (nkey && find_replay(w, nkey, pa, u->own_end - u->own_start))
            return;
    }
    gather_add(w, ba, bb, nkey);
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
static void add_direct(mg_worker *w, const mg_unit *u)
{
    mg_sweep *c = w->c;
    mg_target *p = u->p;
    uint64_t ba, bb;
    mg_unit_window(c, u, &ba, &bb);
    uint64_t pa = ba & PAGE_MASK;
    size_t np = (size_t)((bb - pa + MG_PAGE_SIZE - 1) / MG_PAGE_SIZE);
    int rc = mg_worker_pagemap(w, p, pa, np);
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
    if (nkey && find_replay(w, nkey, pa, u->own_end - u->own_start))
        return;
    gather_add(w, ba, bb, nkey);
}

/* Start w on unit u: it joins the gather (a direct region's step: each of
 * its pieces). */
static void start_unit(mg_worker *w, const mg_unit *u)
{
    mg_sweep *c = w->c;
    mg_target *p = u->p;
    if (c->set.process_timeout > 0) { /* the process's clock starts at its first unit */
        uint64_t none = 0, now = (uint64_t)MG_MAX(mg_sweep_now_ns(c) / 1000, 1);
        atomic_compare_exchange_strong(&p->first_unit_us, &none, now);
    }
    if (!u->direct) {
        w->u = u;
        if (u->batch)
            add_batch(w, u);
        else
            add_plain(w, u);
        return;
    }
    /* a step of a direct region: its chunk_size cuts, one by one */
    uint64_t chunk = c->set.chunk_size;
    for (uint64_t a = u->own_start; a < u->own_end && !mg_sweep_should_stop(c, p);) {
        mg_unit piece = *u;
        piece.own_start = a;
        piece.own_end = a = MG_MIN(u->own_end, (a / chunk + 1) * chunk);
        w->u = &piece;
        add_direct(w, &piece);
    }
    w->u = u;
}

void mg_run_unit(mg_worker *w, const mg_unit *u)
{
    start_unit(w, u);
    gather_flush(w);
}

void mg_run_units(mg_worker *w, const mg_unit *us, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (!mg_sweep_should_stop(w->c, us[k].p)) {
            mg_worker_read_ahead(w, us, k, n);
            start_unit(w, &us[k]);
        }
        mg_maybe_progress(w->c);
    }
    gather_flush(w);
    w->n_ahead = 0; /* its target may go, and another come at its address */
    w->ahead_p = NULL;
}
