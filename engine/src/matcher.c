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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "patterns.h"
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
    int rc = !m->hits                                             ? -ENOMEM
             : hs_alloc_scratch(p->db, &m->scratch) != HS_SUCCESS ? MG_EHYPERSCAN
                                                                  : 0;
    if (rc < 0)
        mg_matcher_fini(m); /* the one cleanup path: leaves m zeroed */
    return rc;
}

void mg_matcher_fini(mg_matcher *m)
{
    hs_free_scratch(m->scratch);
    free(m->hits);
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
    qsort(m->hits, m->n, sizeof(*m->hits), hit_cmp);
    uint64_t cut = latest_end > m->overlap ? latest_end - m->overlap : 0;
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

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    (void)flags;
    mg_matcher *m = ctx;
    const mg_expr *e = &m->pats->exprs[id];
    const mg_piece *pc = m->piece;
    uint64_t start = pc->addr + (e->som ? from : to - e->width);
    if (start < pc->own_start || start >= pc->own_end)
        return 0;
    if (e->check && !check_ok(e, pc, start - pc->addr, to))
        return 0;
    if (m->n == m->cap) {
        if (m->cap >= MG_HITS_FLUSH)
            flush_final(m, pc->addr + to);
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

int mg_matcher_scan(mg_matcher *m, const mg_piece *piece, mg_report_fn report, void *ctx)
{
    m->piece = piece;
    m->report = report;
    m->report_ctx = ctx;
    m->verdict = MG_SINK_CONTINUE;
    m->n = 0;
    if (piece->len == 0)
        return 0;
    hs_error_t hr = hs_scan(m->pats->db, (const char *)piece->buf, (unsigned)piece->len, 0,
                            m->scratch, on_match, m);
    if (hr != HS_SUCCESS && hr != HS_SCAN_TERMINATED)
        return MG_EHYPERSCAN;
    if (hr == HS_SCAN_TERMINATED && m->verdict == MG_SINK_CONTINUE)
        return -ENOMEM;
    if (m->verdict == MG_SINK_CONTINUE) {
        qsort(m->hits, m->n, sizeof(*m->hits), hit_cmp);
        report_sorted(m, m->n);
    }
    m->n = 0;
    return m->verdict;
}
