/* window.c - a unit's window: where units are cut and what they own, and
 * scanning the window's bytes, with its hits delivered to the sink
 * (mg_report_hit: dedupe record, YARA strings, max_count, the sink's
 * verdicts under sink_lock). Shared by the unit reader (unit.c) and
 * mg_scan_buffer (scan.c): chunking, overlap and ownership are the same. */
#include "sweep/sweep.h"

#define PAGE_MASK (~(uint64_t)(MG_PAGE_SIZE - 1))

/* ---- unit geometry ------------------------------------------------------ */

int mg_cut_units(uint64_t lo, uint64_t hi, uint64_t chunk, uint64_t phase,
                 int (*fn)(void *ctx, uint64_t own_start, uint64_t own_end), void *ctx)
{
    for (uint64_t a = lo; a < hi;) {
        uint64_t next = MG_MIN(hi, ((a + phase) / chunk + 1) * chunk - phase);
        int rc = fn(ctx, a, next);
        if (rc)
            return rc;
        a = next;
    }
    return 0;
}

/* Only anonymous memory: page-cache regions keep their own units, keyed by
 * file and offset for dedupe across processes (shared libraries), which a
 * batch, depending on its neighbours, would not be. */
bool mg_region_batchable(const mg_sweep *c, const mg_region *r)
{
    return mg_region_anon_like(r) && r->perms[0] == 'r' &&
           r->end - r->start <= c->set.chunk_size / MG_BATCH_REGION_DIV;
}

const mg_region *mg_unit_region_at(const mg_unit *u, uint64_t addr)
{
    if (!u->batch)
        return u->region;
    const mg_region *rs = u->p->maps.regions;
    size_t lo = u->batch_first, hi = (size_t)u->batch_last + 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rs[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo <= u->batch_last && rs[lo].start <= addr ? &rs[lo] : u->region;
}

uint64_t mg_direct_step(const mg_sweep *c)
{
    uint64_t chunk = c->set.chunk_size;
    return chunk * MG_MAX(1, MG_DIRECT_STEP / chunk);
}

mg_unit mg_region_unit(mg_target *p, const mg_region *r)
{
    return (mg_unit){
        .p = p,
        .region = r,
        .own_start = r->start,
        .own_end = r->end,
        .lo = r->start,
        .hi = r->end,
    };
}

void mg_unit_window(const mg_sweep *c, const mg_unit *u, uint64_t *ba, uint64_t *bb)
{
    *ba = MG_MAX(u->lo, u->own_start > c->margin ? u->own_start - c->margin : 0);
    *bb = MG_MIN(u->hi, u->own_end + c->margin);
}

/* ---- hits to the sink --------------------------------------------------- */

/* An ASCII letter, digit or '_' (grep -w's word constituents). */
static bool word_byte(uint8_t b)
{
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_';
}

/* MG_PATTERN_WORD: the character before the hit and the one after it are
 * not word characters (a wide hit's characters are a byte and a zero). The
 * piece holds them whenever they can be read: a unit's window reaches
 * margin (width + context + 1) bytes past what it owns; a neighbour
 * outside the piece (region edge, page not present) is no word. A replay
 * (dedupe) sees only the recorded context, but records only hits that
 * passed here. */
static bool word_bounded(const mg_hit *h, const mg_piece *pc)
{
    size_t unit = h->wide ? 2 : 1;
    size_t off = (size_t)(h->start - pc->addr), end = (size_t)(h->end - pc->addr);
    const uint8_t *b = pc->buf;
    if (off >= unit && word_byte(b[off - unit]) && (unit == 1 || !b[off - 1]))
        return false;
    return !(end + unit <= pc->len && word_byte(b[end]) && (unit == 1 || !b[end + 1]));
}

int mg_report_hit(void *arg, const mg_hit *h, const mg_piece *pc)
{
    mg_worker *w = arg;
    mg_sweep *c = w->c;
    mg_target *p = w->u->p;
    size_t off = (size_t)(h->start - pc->addr);
    size_t len = (size_t)(h->end - h->start);
    size_t before = MG_MIN(c->set.context, off);
    size_t after = MG_MIN(c->set.context, pc->len - off - len);
    if ((c->pats->pats[h->pattern_id].flags & MG_PATTERN_WORD) && !word_bounded(h, pc))
        return MG_SINK_CONTINUE; /* -w: part of a longer word */
    /* past the record bound the unit is not recorded; the match still is reported */
    if (w->recording && !mg_dedupe_rec_add(&w->rec, h, pc->buf + off - before, before, after))
        w->recording = false;
    uint32_t owner = c->pats->pats[h->pattern_id].owner;
    if (owner && p->yneed && owner - 1 < c->pats->yara->n_strings && !p->yneed[owner - 1])
        return MG_SINK_CONTINUE; /* its rule cannot be true in p */
    /* a batch unit's replayed hits: the region is found by address */
    const mg_region *region = mg_unit_region_at(w->u, h->start);
    /* A unit can hold many matches (and the sink take its time over each):
     * deadlines and cancellation are looked at before each one, a YARA
     * string's included. Not p's failure: these bytes were read before it
     * (mg_sweep_should_cut). */
    if (mg_sweep_should_cut(c, p))
        return atomic_load(&c->stop_reason) != MG_STOP_NONE ? MG_SINK_STOP : MG_SINK_NEXT_PROCESS;
    if (owner) {
        /* a YARA string: kept for the rules, evaluated when the process is
         * done; under the target's own lock, not the sink's */
        pthread_mutex_lock(&p->yara_lock);
        if (mg_yara_collect(&p->yproc, c->pats->yara, owner - 1, h->start, len, region,
                            pc->buf + off - before, before, after) < 0)
            atomic_store(&p->yara_lost, true);
        pthread_mutex_unlock(&p->yara_lock);
        return MG_SINK_CONTINUE;
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

bool mg_target_needs_extra(const mg_sweep *c, const mg_target *p)
{
    /* yneed's last byte: a string of the extra database is needed */
    return c->pats->xdb && !(p->yneed && !p->yneed[c->pats->yara->n_strings]);
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
        .no_extra = !mg_target_needs_extra(w->c, u->p),
    };
    uint64_t os = MG_MAX(s, u->own_start), oe = MG_MIN(e, u->own_end);
    if (oe > os)
        mg_stat_add(w->c, ST_SCANNED, oe - os);
    int v = mg_matcher_scan(&w->m, &pc, mg_report_hit, w);
    mg_stat_add(w->c, ST_CALLBACKS, w->m.callbacks);
    if (v < 0) {
        /* Hyperscan failed or the hit buffer could not grow: this piece's
         * matches may be incomplete, so say so, and don't keep its records */
        w->rec.complete = false;
        mg_emit_event(w->c, u->p, u->region, MG_EVENT_OTHER, v, s, "scan with Hyperscan");
    }
    return v;
}

void mg_scan_pieces_in(mg_worker *w, const uint8_t *buf, uint64_t ba, uint64_t bb,
                       const uint8_t *ok)
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
        int v = mg_scan_window(w, buf + (s - ba), s, e);
        if (v > MG_SINK_CONTINUE) {
            w->rec.complete = false; /* the sink said stop: the rest is not scanned */
            return;
        }
        i = j; /* a failed piece was reported: go on with the others */
    }
}

void mg_scan_pieces(mg_worker *w, uint64_t ba, uint64_t bb, const uint8_t *ok)
{
    mg_scan_pieces_in(w, w->buf, ba, bb, ok);
}
