/* yara_need.c - which rule strings' matches a process needs kept: those of
 * the rules that can be true there. A rule whose condition cannot be true
 * whatever its strings match (`uint16(0) == 0x5a4d and ...` where no region
 * holds address 0, `filesize < 1MB and ...`) is false after the scan with
 * or without its strings' matches, and a rule that does not match shows
 * none of them (yara -n, which shows them, keeps every match).
 *
 * The condition is evaluated once over what is known before the scan: each
 * value is a set of what it may be (undefined, defined and false or zero,
 * defined and true), an integer known exactly where the concrete evaluator
 * (yara_eval.c) would compute it from constants alone; string matches,
 * loop variables and the bytes of memory are unknown. A read at a known
 * address that no region holds is undefined, as the readers the evaluator
 * is given say (sweep/target.c, sweep/scan.c: a read outside the
 * process's regions fails). The evaluator's order is followed where it
 * stops early (`and`, `or`), so a part it never evaluates is not looked
 * at here either. A rule is kept whole if evaluating it may mark it not
 * evaluated (module functions over memory, `#a in (lo..hi)`): the event
 * naming it must not depend on which matches were kept. */
#include <stdlib.h>

#include "match/patterns.h"
#include "yara/yara.h"
#include "yara/yara_eval.h"

/* what a value may be */
enum {
    AV_U = 1, /* undefined */
    AV_F = 2, /* defined, false (zero) */
    AV_T = 4, /* defined, true (not zero) */
    AV_ANY = AV_U | AV_F | AV_T,
};

typedef struct aval {
    uint8_t m; /* AV_* */
    bool known; /* an integer, exactly k */
    int64_t k;
} aval;

typedef struct nctx {
    const mg_yara *y;
    const mg_region *regions;
    size_t n_regions;
    const uint8_t *possible; /* per rule: can be true */
    bool taint; /* the rule may be marked not evaluated */
} nctx;

static aval av(uint8_t m)
{
    return (aval){.m = m};
}

static aval av_val(val v)
{
    if (v.undef)
        return av(AV_U);
    if (v.isf)
        return av(v.f != 0 ? AV_T : AV_F);
    return (aval){.m = v.v ? AV_T : AV_F, .known = true, .k = v.v};
}

/* a defined truth value (0 or 1) that may be false, true or either */
static aval av_bool(bool may_false, bool may_true)
{
    if (may_false != may_true)
        return av_val(VAL(may_true));
    return av((may_false ? AV_F : 0) | (may_true ? AV_T : 0));
}

static bool readable(const nctx *x, int64_t addr)
{
    for (size_t i = 0; i < x->n_regions; i++)
        if ((uint64_t)addr >= x->regions[i].start && (uint64_t)addr < x->regions[i].end)
            return true;
    return false;
}

static aval ev(nctx *x, const yx *e);

/* quantify() of yara_eval.c over a count in [lo, hi] of n */
static aval quantify(nctx *x, const yx *e, uint64_t lo, uint64_t hi, uint64_t n)
{
    switch (e->quant) {
    case YQ_ALL:
        return av_bool(lo < n, hi == n);
    case YQ_ANY:
        return av_bool(lo == 0, hi >= 1);
    case YQ_NONE:
        return av_bool(hi >= 1, lo == 0);
    case YQ_PERCENT:
    case YQ_EXPR:
    default: {
        aval q = ev(x, e->a);
        if (!q.known)
            return av_bool(true, q.m != AV_U);
        if (e->quant == YQ_PERCENT) {
            uint64_t t = (uint64_t)(q.k < 0 ? 0 : q.k) * n;
            return av_bool(lo * 100 < t, hi * 100 >= t);
        }
        return av_bool(q.k > 0 && lo < (uint64_t)q.k, q.k <= 0 || hi >= (uint64_t)q.k);
    }
    }
}

static aval ev_of(nctx *x, const yx *e)
{
    uint64_t lo = 0, hi = 0;
    /* for..of: the body is the same unknown for every string (a set of
     * strings, never empty) */
    aval b = e->b && e->n_set ? ev(x, e->b) : av(AV_F | AV_T);
    for (size_t i = 0; i < e->n_set; i++) {
        uint32_t s = e->set[i];
        if (s & 0x80000000u) {
            hi += x->possible[s & 0x7fffffffu];
        } else {
            hi += (b.m & AV_T) != 0;
            lo += b.m == AV_T;
        }
    }
    return quantify(x, e, lo, hi, e->n_set);
}

static aval ev_for_in(nctx *x, const yx *e)
{
    aval a = ev(x, e->c->a), b = ev(x, e->c->b);
    if (a.m == AV_U || b.m == AV_U)
        return av_val(VAL(0));
    aval body = ev(x, e->b);
    if (e->quant == YQ_EXPR || e->quant == YQ_PERCENT)
        ev(x, e->a); /* only for what it may mark */
    /* a body never true: any and all are false, over any range */
    if (!(body.m & AV_T) && (e->quant == YQ_ANY || e->quant == YQ_ALL))
        return av_val(VAL(0));
    return av(AV_F | AV_T);
}

static aval ev(nctx *x, const yx *e)
{
    aval a, b;
    switch (e->op) {
    case YX_INT:
    case YX_BOOL:
        return av_val(VAL(e->i));
    case YX_UNDEF:
    case YX_MODULE:
        return av(AV_U);
    case YX_FLOAT:
        return av_val(FVAL(e->f));
    case YX_STR:
        return av_val(VAL(e->slen > 0));
    case YX_CALL:
    case YX_STROP: {
        const yx *f = e->op == YX_STROP ? e->a : e;
        const yx *args[3] = {f->a, f->b, f->c};
        bool undef = false;
        for (int i = 0; i < 3; i++)
            undef |= args[i] && ev(x, args[i]).m == AV_U;
        if (undef)
            return av(AV_U);
        x->taint = true; /* over memory it may not be evaluated */
        return av(AV_ANY);
    }
    case YX_FOUND:
    case YX_COUNT:
    case YX_VAR:
        return av(AV_F | AV_T);
    case YX_OFFSET:
    case YX_LENGTH:
        return ev(x, e->a).m == AV_U ? av(AV_U) : av(AV_ANY);
    case YX_AT:
        return ev(x, e->a).m == AV_U ? av_val(VAL(0)) : av(AV_F | AV_T);
    case YX_IN:
        a = ev(x, e->a);
        b = ev(x, e->b);
        return av(((a.m | b.m) & AV_U) | ((a.m & ~AV_U) && (b.m & ~AV_U) ? AV_F | AV_T : 0));
    case YX_COUNT_IN:
        a = ev(x, e->a);
        b = ev(x, e->b);
        if (a.m == AV_U || b.m == AV_U)
            return av(AV_U);
        if (!a.known || a.k != 0)
            x->taint = true; /* lo other than 0: not evaluated */
        return av(AV_ANY);
    case YX_RULE:
        return x->possible[e->i] ? av(AV_F | AV_T) : av_val(VAL(0));
    case YX_READ:
        a = ev(x, e->a);
        if (a.m == AV_U || (a.known && (a.k < 0 || !readable(x, a.k))))
            return av(AV_U);
        return av(AV_ANY);
    case YX_NOT:
        a = ev(x, e->a);
        if (a.known)
            return av_val(VAL(!a.k));
        return av((a.m & AV_U) | (a.m & AV_F ? AV_T : 0) | (a.m & AV_T ? AV_F : 0));
    case YX_DEFINED:
        a = ev(x, e->a);
        return av_bool(a.m & AV_U, a.m & ~AV_U);
    case YX_AND:
        a = ev(x, e->a);
        if (!(a.m & AV_T))
            return av_val(VAL(0)); /* b is not evaluated */
        b = ev(x, e->b);
        return av_bool(a.m != AV_T || b.m != AV_T, b.m & AV_T);
    case YX_OR:
        a = ev(x, e->a);
        if (a.m == AV_T)
            return av_val(VAL(1)); /* b is not evaluated */
        b = ev(x, e->b);
        return av_bool(b.m != AV_T, (a.m | b.m) & AV_T);
    case YX_OF:
        return ev_of(x, e);
    case YX_FOR_IN:
        return ev_for_in(x, e);
    default:
        break;
    }
    /* binary and unary arithmetic, comparisons: folded when both are known */
    a = ev(x, e->a);
    b = e->b ? ev(x, e->b) : av_val(VAL(0));
    if (a.m == AV_U || b.m == AV_U)
        return av(AV_U);
    if (a.known && b.known)
        return av_val(yara_arith(e->op, VAL(a.k), VAL(b.k)));
    return av(AV_ANY);
}

uint8_t *mg_yara_needed(const mg_yara *y, const mg_region *regions, size_t n_regions)
{
    uint8_t *possible = malloc(y->n_rules + 1);
    uint8_t *need = malloc(y->n_strings + 1);
    if (!possible || !need) {
        free(possible);
        free(need);
        return NULL;
    }
    /* a rule refers only to rules before it; any other is taken as possible */
    for (size_t i = 0; i < y->n_rules; i++)
        possible[i] = 1;
    nctx x = {.y = y, .regions = regions, .n_regions = n_regions, .possible = possible};
    for (size_t i = 0; i < y->n_rules; i++) {
        const yara_rule *r = &y->rules[i];
        x.taint = false;
        aval v = ev(&x, r->cond);
        possible[i] = (v.m & AV_T) || x.taint;
        for (size_t s = 0; s < r->n_strings; s++) {
            /* an identical string's matches are its first one's */
            const yara_string *ys = &y->strings[r->first_string + s];
            need[r->first_string + s] = 0;
            need[ys->list] |= possible[i];
        }
    }
    free(possible);
    need[y->n_strings] = 0;
    for (size_t s = 0; s < y->n_strings; s++)
        need[y->n_strings] |= need[s] && y->strings[s].extra;
    return need;
}

/* need (from mg_yara_needed) with every string of a rule that -n may show */
static void need_negated(const mg_yara *y, uint8_t *need)
{
    for (size_t i = 0; i < y->n_rules; i++) {
        const yara_rule *r = &y->rules[i];
        for (size_t s = 0; !r->no_negate && s < r->n_strings; s++)
            need[y->strings[r->first_string + s].list] = 1;
    }
}

void mg_yara_mark_dormant(mg_patterns *p)
{
    mg_yara *y = p->yara;
    for (size_t i = 0; i < p->n; i++)
        p->pats[i].dormant = p->pats[i].extra = false;
    for (size_t s = 0; y && s < y->n_strings; s++)
        y->strings[s].extra = false;
    if (!y || !y->no_negate)
        return;
    mg_region all = {.start = 0, .end = UINT64_MAX, .perms = "rw-p", .path = ""};
    uint8_t *need = mg_yara_needed(y, &all, 1);
    /* where nothing is readable: what every process needs */
    uint8_t *base = mg_yara_needed(y, NULL, 0);
    if (!need || !base) {
        free(need);
        free(base);
        return; /* out of memory: every string kept, in the main database */
    }
    need_negated(y, need);
    need_negated(y, base);
    size_t kept = 0, in_main = 0;
    for (size_t s = 0; s < y->n_strings; s++) {
        kept += y->strings[s].list == s && need[s];
        in_main += y->strings[s].list == s && need[s] && base[s];
    }
    for (size_t s = 0; kept && s < y->n_strings; s++) {
        mg_pat *pat = &p->pats[y->strings[s].pattern_id];
        if (y->strings[s].list != s)
            continue;
        pat->dormant = !need[s];
        pat->extra = y->strings[s].extra = in_main && need[s] && !base[s];
    }
    free(need);
    free(base);
}
