/* matcher.c - Hyperscan block scan of one piece, exact across boundaries.
 *
 * A piece is a chunk of a target's memory plus overlap on both sides of at
 * least the set's max width + 1 bytes. A match belongs to the chunk its
 * START lies in, and only that chunk reports it. With the overlap, the chunk
 * that owns a start sees the whole match (right overlap) and, for
 * variable-width regexes, Hyperscan's leftmost start is the same as in an
 * unchunked scan (left overlap: the true leftmost start of any match ending
 * in the piece is at most max_width before its end, so it is inside the
 * piece). Hyperscan reports every end offset; several ends of one start are
 * folded into one record per (pattern, start), the longest.
 *
 * Lazy regexes (patterns_lazy.c, factors.c) are not in the main database: their
 * literal factors are. Each factor hit runs the regex, compiled alone on its
 * first hit, over a window of the piece around the hit, and only ends E the
 * window decides the same way as the whole piece are taken: the window holds
 * [E - W - 1, E + 2) (W the regex's max width), so every start Hyperscan can
 * give for E lies inside it with the byte before it (\b, ^ never see the
 * window's edge instead of the piece's), and the two bytes after E ($ before
 * a final newline, \b); at the piece's own edges the window's edge is the
 * piece's. A match holds a factor hit ending at e, so its end E lies in
 * [e, e - factor length + W]: the window [e - W - 1, e - factor length + W
 * + 2] decides all of them. Consecutive windows of one regex are merged. A
 * regex without a max width (or one above MG_LAZY_MAX_WIDTH) is run over the
 * whole piece, once per piece, on its first factor hit there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "util.h"

int mg_matcher_init(mg_matcher *m, const mg_patterns *p, unsigned unbounded_width)
{
    memset(m, 0, sizeof(*m));
    if (!p || !p->db)
        return MG_ENOTCOMPILED;
    m->pats = p;
    m->overlap = mg_patterns_max_width(p, unbounded_width);
    m->cap = MG_HITS_INITIAL;
    m->hits = malloc(m->cap * sizeof(*m->hits));
    bool lz_ok = true;
    if (p->n_lazy) {
        m->lz_ready = calloc(p->n_lazy, sizeof(*m->lz_ready));
        m->lz_gen = calloc(p->n_lazy, sizeof(*m->lz_gen));
        m->lz_ws = calloc(p->n_lazy, sizeof(*m->lz_ws));
        m->lz_we = calloc(p->n_lazy, sizeof(*m->lz_we));
        lz_ok = m->lz_ready && m->lz_gen && m->lz_ws && m->lz_we;
    }
    if (p->starts) {
        m->st_gen = calloc(p->n_exprs, sizeof(*m->st_gen));
        m->st_next = calloc(p->n_exprs, sizeof(*m->st_next));
        lz_ok = lz_ok && m->st_gen && m->st_next;
    }
    /* one scratch for both databases */
    int rc = !m->hits || !lz_ok ? -ENOMEM : 0;
    if (rc == 0 && (hs_alloc_scratch(p->db, &m->scratch) != HS_SUCCESS ||
                    (p->xdb && hs_alloc_scratch(p->xdb, &m->scratch) != HS_SUCCESS)))
        rc = MG_EHYPERSCAN;
    if (rc < 0)
        mg_matcher_fini(m); /* the one cleanup path: leaves m zeroed */
    return rc;
}

void mg_matcher_fini(mg_matcher *m)
{
    hs_free_scratch(m->scratch);
    hs_free_scratch(m->lscratch);
    mg_exact_match_data_free(m->pmd);
    free(m->hits);
    free(m->tmp);
    free(m->lz_ready);
    free(m->lz_gen);
    free(m->lz_ws);
    free(m->lz_we);
    free(m->st_gen);
    free(m->st_next);
    memset(m, 0, sizeof(*m));
}

static int hit_cmp(const void *a, const void *b)
{
    const mg_hit *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->pattern_id != y->pattern_id)
        return x->pattern_id < y->pattern_id ? -1 : 1;
    if (x->end != y->end)
        return x->end > y->end ? -1 : 1; /* longest first */
    return (int)x->wide - (int)y->wide;
}

/* m->hits[0..n) in hit_cmp's order: runs of 32 by insertion, then merged
 * bottom-up through m->tmp (kept between scans: glibc's qsort copies each
 * 24-byte hit through memcpy and takes a fresh buffer every call); qsort
 * if that buffer can't be had. The hits come in the order of their ends,
 * so runs are often in order already and are then copied, not merged. */
static void sort_hits(mg_matcher *m, size_t n)
{
    mg_hit *a = m->hits;
    for (size_t lo = 0; lo < n; lo += 32) {
        size_t hi = MG_MIN(n, lo + 32);
        for (size_t i = lo + 1; i < hi; i++) {
            mg_hit h = a[i];
            size_t j = i;
            for (; j > lo && hit_cmp(&h, &a[j - 1]) < 0; j--)
                a[j] = a[j - 1];
            a[j] = h;
        }
    }
    if (n <= 32)
        return;
    if (m->tmp_cap < n) {
        mg_hit *t = realloc(m->tmp, m->cap * sizeof(*t));
        if (!t) {
            qsort(a, n, sizeof(*a), hit_cmp);
            return;
        }
        m->tmp = t;
        m->tmp_cap = m->cap;
    }
    mg_hit *src = a, *dst = m->tmp;
    for (size_t w = 32; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = MG_MIN(lo + w, n), hi = MG_MIN(lo + 2 * w, n);
            if (mid == hi || hit_cmp(&src[mid - 1], &src[mid]) <= 0) {
                memcpy(dst + lo, src + lo, (hi - lo) * sizeof(*src));
                continue;
            }
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = hit_cmp(&src[j], &src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        mg_hit *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof(*a));
}

/* Report hits[0..n) after sorting; duplicates of (start, pattern) dropped. */
static void report_sorted(mg_matcher *m, size_t n)
{
    for (size_t i = 0; i < n && m->verdict == MG_SINK_CONTINUE; i++) {
        const mg_hit *h = &m->hits[i];
        if (i > 0 && h->start == h[-1].start && h->pattern_id == h[-1].pattern_id)
            continue;
        int v = m->report(m->report_ctx, h, m->piece);
        if (v > m->verdict)
            m->verdict = v;
    }
}

/* Report every hit that can no longer gain a longer end or a duplicate: its
 * start is more than `overlap` bytes before the latest end seen. */
static void flush_final(mg_matcher *m, uint64_t latest_end)
{
    sort_hits(m, m->n);
    /* two bytes more: a lazy regex's window reaches W + 2 bytes back */
    uint64_t cut = latest_end > m->overlap + 2 ? latest_end - m->overlap - 2 : 0;
    size_t k = 0;
    while (k < m->n && m->hits[k].start < cut)
        k++;
    /* keep duplicates of the last final start together with it */
    report_sorted(m, k);
    memmove(m->hits, m->hits + k, (m->n - k) * sizeof(*m->hits));
    m->n -= k;
}

static bool is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* YARA's fullword: the match is not preceded or followed by an
 * alphanumeric byte (wide: an alphanumeric byte and a zero). Bytes outside
 * the piece (a region's edge, a page not present) count as not
 * alphanumeric, as at the edge of a YARA block. The piece's overlap holds
 * the byte before and after every match it owns. */
static bool check_ok(const mg_expr *e, const mg_piece *pc, uint64_t from, uint64_t to)
{
    const uint8_t *b = pc->buf;
    if (e->check == MG_CHECK_FULLWORD)
        return !(from >= 1 && is_alnum(b[from - 1])) && !(to < pc->len && is_alnum(b[to]));
    return !(from >= 2 && b[from - 1] == 0 && is_alnum(b[from - 2])) &&
           !(to + 1 < pc->len && b[to + 1] == 0 && is_alnum(b[to]));
}

/* Record a candidate [from, to) (offsets in the piece) of expression e if
 * the piece owns it and it passes its check. latest: how far the main scan
 * has come (the cut-off of a flush). Non-zero: stop the scan. */
static int add_hit(mg_matcher *m, const mg_expr *e, uint64_t from, uint64_t to, uint64_t latest)
{
    const mg_piece *pc = m->piece;
    uint64_t start = pc->addr + from;
    if (start < pc->own_start || start >= pc->own_end)
        return 0;
    if (e->check && !check_ok(e, pc, from, to))
        return 0;
    if (m->n == m->cap) {
        if (m->cap >= MG_HITS_FLUSH && !m->no_flush)
            flush_final(m, pc->addr + latest);
        if (m->n == m->cap) {
            mg_hit *nh = realloc(m->hits, m->cap * 2 * sizeof(*nh));
            if (!nh)
                return 1; /* out of memory: stop; reported as an error */
            m->hits = nh;
            m->cap *= 2;
        }
    }
    m->hits[m->n++] = (mg_hit){
        .start = start,
        .end = pc->addr + to,
        .pattern_id = e->pattern_id,
        .wide = e->wide,
    };
    return m->verdict != MG_SINK_CONTINUE;
}

/* The starts Hyperscan hides. Of a variable-width YARA string it reports
 * each end once, with the leftmost start of a match ending there; YARA
 * reports every start. A start s that Hyperscan hides has a match ending at
 * some E, which Hyperscan reports with a start before s: s lies inside that
 * match. So every position inside a reported match [from, to) is tried,
 * anchored, by the expression's PCRE2 form: once per piece (st_next: the
 * next untried), with its greedy end. Non-zero: stop the scan. */
static int other_starts(mg_matcher *m, const mg_expr *e, uint64_t from, uint64_t to)
{
    const mg_patterns *p = m->pats;
    if (!p->starts || !mg_patterns_all_starts(p, e))
        return 0;
    size_t ei = (size_t)(e - p->exprs);
    uint64_t s = from + 1;
    if (m->st_gen[ei] == m->gen)
        s = MG_MAX(s, m->st_next[ei]);
    if (s >= to)
        return 0;
    m->st_gen[ei] = m->gen;
    m->st_next[ei] = to;
    void *code = mg_patterns_starts_code(p, ei);
    for (; code && s < to; s++) {
        long end = mg_exact_match(code, &m->pmd, m->piece->buf, m->piece->len, s);
        if (end == -2) {
            m->error = MG_EHYPERSCAN;
            return 1;
        }
        if (end >= 0 && add_hit(m, e, s, (uint64_t)end, to))
            return 1;
    }
    return 0;
}

/* A match [from, to) of a variable-width expression and the starts it hides. */
static int add_som_hit(mg_matcher *m, const mg_expr *e, uint64_t from, uint64_t to, uint64_t latest)
{
    return add_hit(m, e, from, to, latest) || other_starts(m, e, from, to);
}

static int on_lazy_match(unsigned int id, unsigned long long from, unsigned long long to,
                         unsigned int flags, void *ctx)
{
    (void)id, (void)flags;
    mg_matcher *m = ctx;
    const mg_expr *e = m->cur_e;
    uint64_t end = m->cur_base + to;
    if (end < m->cur_lo || end > m->cur_hi)
        return 0;
    if (e->som)
        return add_som_hit(m, e, m->cur_base + from, end, m->cur_latest);
    return add_hit(m, e, end - e->width, end, m->cur_latest);
}

/* An exact expression (PCRE2, patterns_exact.c) at each start a factor hit
 * ending at fend allows: [fend - W, fend - flen], those not tried yet in
 * this piece (lz_we: the next untried start). Every start that matches is
 * a hit, as YARA reports one match per start. Non-zero: stop the scan. */
static int confirm_exact(mg_matcher *m, const mg_expr *e, size_t li, uint64_t fend, unsigned flen)
{
    const uint64_t w = e->max_width;
    uint64_t s = fend > w ? fend - w : 0;
    if (fend < flen)
        return 0;
    if (m->lz_gen[li] == m->gen)
        s = MG_MAX(s, m->lz_we[li]);
    m->lz_gen[li] = m->gen;
    m->lz_we[li] = MG_MAX(s, fend - flen + 1);
    for (; s <= fend - flen; s++) {
        long end =
            mg_exact_match(m->pats->lazy[li].exact, &m->pmd, m->piece->buf, m->piece->len, s);
        if (end == -2) {
            m->error = MG_EHYPERSCAN;
            return 1;
        }
        if (end >= 0 && add_hit(m, e, s, (uint64_t)end, fend))
            return 1;
    }
    return 0;
}

/* Run lazy expression ei over the window around a factor hit that ends at
 * offset fend and is flen bytes long. Non-zero: stop the scan. */
static int confirm(mg_matcher *m, uint32_t ei, uint64_t fend, unsigned flen)
{
    const mg_expr *e = &m->pats->exprs[ei];
    size_t li = e->lazy - 1;
    if (e->exact)
        return confirm_exact(m, e, li, fend, flen);
    const uint64_t w = e->max_width, len = m->piece->len;
    uint64_t ws = fend > w + 1 ? fend - w - 1 : 0;
    uint64_t we = MG_MIN(len, fend - flen + w + 2);
    if (w > MG_LAZY_MAX_WIDTH)
        ws = 0, we = len; /* unbounded (or very wide): the whole piece, once */
    uint64_t a = ws;
    if (m->lz_gen[li] == m->gen && ws >= m->lz_ws[li]) {
        uint64_t pwe = m->lz_we[li];
        if (we <= pwe)
            return 0; /* decided by the last window */
        if (ws < pwe) {
            /* continue it: the last window decided ends up to pwe - 2 */
            a = MG_MAX(ws, pwe > w + 2 ? pwe - w - 2 : 0);
            ws = m->lz_ws[li];
        }
    }
    m->lz_gen[li] = m->gen;
    m->lz_ws[li] = ws;
    m->lz_we[li] = we;
    hs_database_t *db = mg_patterns_lazy_db(m->pats, li);
    if (!db) {
        m->error = MG_EHYPERSCAN;
        return 1;
    }
    if (!m->lz_ready[li]) {
        if (hs_alloc_scratch(db, &m->lscratch) != HS_SUCCESS) {
            m->error = MG_EHYPERSCAN;
            return 1;
        }
        m->lz_ready[li] = 1;
    }
    m->cur_e = e;
    m->cur_base = a;
    m->cur_lo = a == 0 ? 0 : a + w + 1;
    m->cur_hi = we == len ? len : we - 2;
    m->cur_latest = fend;
    hs_error_t hr = hs_scan(db, (const char *)m->piece->buf + a, (unsigned)(we - a), 0, m->lscratch,
                            on_lazy_match, m);
    if (hr == HS_SCAN_TERMINATED)
        return 1;
    if (hr != HS_SUCCESS) {
        m->error = MG_EHYPERSCAN;
        return 1;
    }
    return 0;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    (void)flags;
    mg_matcher *m = ctx;
    const mg_patterns *p = m->pats;
    m->callbacks++;
    if (id >= p->n_exprs) {
        const mg_factor_ent *f = &p->factors[id - p->n_exprs];
        for (uint32_t k = f->first; k < f->first + f->count; k++)
            if (confirm(m, p->factor_exprs[k], to, f->len))
                return 1;
        return 0;
    }
    const mg_expr *e = &p->exprs[id];
    if (e->prefilter) /* a candidate end: confirm every start it allows */
        return confirm_exact(m, e, e->lazy - 1, to, e->width);
    if (e->som)
        return add_som_hit(m, e, from, to, to);
    return add_hit(m, e, to - e->width, to, to);
}

int mg_matcher_scan(mg_matcher *m, const mg_piece *piece, mg_report_fn report, void *ctx)
{
    m->piece = piece;
    m->report = report;
    m->report_ctx = ctx;
    m->verdict = MG_SINK_CONTINUE;
    m->error = 0;
    m->n = 0;
    m->callbacks = 0;
    if (piece->len == 0)
        return 0;
    if ((m->lz_gen || m->st_gen) && ++m->gen == 0) {
        if (m->lz_gen)
            memset(m->lz_gen, 0, m->pats->n_lazy * sizeof(*m->lz_gen));
        if (m->st_gen)
            memset(m->st_gen, 0, m->pats->n_exprs * sizeof(*m->st_gen));
        m->gen = 1;
    }
    /* The extra database first, its hits all kept: the main database's
     * flushes report every hit before their cut-off, the extra ones too */
    hs_error_t hr = HS_SUCCESS;
    if (m->pats->xdb && !piece->no_extra) {
        m->no_flush = true;
        hr = hs_scan(m->pats->xdb, (const char *)piece->buf, (unsigned)piece->len, 0, m->scratch,
                     on_match, m);
        m->no_flush = false;
    }
    if (hr == HS_SUCCESS)
        hr = hs_scan(m->pats->db, (const char *)piece->buf, (unsigned)piece->len, 0, m->scratch,
                     on_match, m);
    if (hr != HS_SUCCESS && hr != HS_SCAN_TERMINATED)
        return MG_EHYPERSCAN;
    if (hr == HS_SCAN_TERMINATED && m->error)
        return m->error;
    if (hr == HS_SCAN_TERMINATED && m->verdict == MG_SINK_CONTINUE)
        return -ENOMEM;
    if (m->verdict == MG_SINK_CONTINUE) {
        sort_hits(m, m->n);
        report_sorted(m, m->n);
    }
    m->n = 0;
    return m->verdict;
}
