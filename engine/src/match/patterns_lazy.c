/* patterns_lazy.c - lazy regexes: the plan that leaves a set's factorable
 * regexes out of the main database and puts their required literal
 * factors (factors.c) in instead; each such regex gets its own database,
 * compiled on first use while scanning, to confirm it around a factor hit. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"

/* Forget the plan (the set changed). */
void mg_patterns_plan_free(mg_patterns *p)
{
    /* only the lazy entries' expressions have a lazy index: the set's
     * other expressions are not walked (this runs at every expression added) */
    for (size_t i = 0; i < p->n_lazy; i++) {
        hs_free_database(atomic_load(&p->lazy[i].db));
        mg_exact_free(p->lazy[i].exact);
        p->exprs[p->lazy[i].expr].lazy = 0;
    }
    for (size_t i = 0; p->starts && i < p->n_exprs; i++)
        mg_exact_free(atomic_load(&p->starts[i].code));
    for (size_t i = 0; i < p->n_factors; i++)
        free(p->factors[i].re);
    free(p->starts);
    p->starts = NULL;
    free(p->lazy);
    free(p->factors);
    free(p->factor_exprs);
    p->lazy = NULL;
    p->factors = NULL;
    p->factor_exprs = NULL;
    p->n_lazy = p->n_factors = 0;
    p->planned = false;
}

int mg_patterns_set_lazy(mg_patterns *p, int mode)
{
    if (!p || mode < MG_LAZY_AUTO || mode > MG_LAZY_ALL)
        return -EINVAL;
    if (p->db)
        return MG_ESTATE;
    mg_patterns_plan_free(p);
    p->lazy_mode = mode;
    return 0;
}

/* One (factor, expression) pair while planning. */
typedef struct fpair {
    mg_factor f;
    bool extra; /* of an extra pattern: its own factor, in the extra database */
    bool caseless;
    uint32_t expr;
} fpair;

static int fpair_cmp(const void *a, const void *b)
{
    const fpair *x = a, *y = b;
    if (x->extra != y->extra)
        return (int)x->extra - (int)y->extra;
    if (x->caseless != y->caseless)
        return (int)x->caseless - (int)y->caseless;
    if (x->f.len != y->f.len)
        return (int)x->f.len - (int)y->f.len;
    int c = memcmp(x->f.s, y->f.s, x->f.len);
    if (c)
        return c;
    return x->expr < y->expr ? -1 : x->expr > y->expr;
}

/* Expression i is left out: its YARA rules can never be true. */
static bool dormant(const mg_patterns *p, size_t i)
{
    return p->pats[p->exprs[i].pattern_id].dormant;
}

static bool same_factor(const fpair *x, const fpair *y)
{
    return x->extra == y->extra && x->caseless == y->caseless && x->f.len == y->f.len &&
           !memcmp(x->f.s, y->f.s, x->f.len);
}

bool mg_patterns_all_starts(const mg_patterns *p, const mg_expr *e)
{
    return e->som && !e->exact && p->pats[e->pattern_id].owner;
}

/* The other starts' entries, if an expression needs them. */
static int plan_starts(mg_patterns *p)
{
    for (size_t i = 0; i < p->n_exprs; i++)
        if (mg_patterns_all_starts(p, &p->exprs[i])) {
            p->starts = calloc(p->n_exprs, sizeof(*p->starts));
            return p->starts ? 0 : -ENOMEM;
        }
    return 0;
}

int mg_patterns_plan(mg_patterns *p)
{
    if (p->planned)
        return 0;
    if (p->yara_plan)
        p->yara_plan(p); /* the strings of rules that can never be true */
    if (plan_starts(p) < 0)
        return -ENOMEM;
    size_t n_pairs = 0, cap = 0, n_eligible = 0, n_exact = 0, n_pairs_exact = 0;
    fpair *pairs = NULL;
    size_t n_prefilter = 0;
    for (size_t i = 0; i < p->n_exprs; i++) {
        if (dormant(p, i))
            continue;
        n_exact += p->exprs[i].exact && !p->exprs[i].prefilter;
        n_prefilter += p->exprs[i].prefilter;
    }
    for (size_t pass = 0; pass < 2; pass++) /* exact expressions, then the others */
        for (size_t i = 0; i < p->n_exprs; i++) {
            const mg_expr *e = &p->exprs[i];
            if (!e->regex || e->prefilter || e->exact != (pass == 0) ||
                (pass == 1 && p->lazy_mode == MG_LAZY_OFF) || dormant(p, i))
                continue;
            const char *fre = e->exact ? e->fre : e->re;
            mg_factor f[MG_FACTORS_MAX];
            int n = (e->exact ? mg_regex_factors_exact : mg_regex_factors)(
                fre, strlen(fre), e->hs_flags & ~HS_FLAG_SOM_LEFTMOST, f, NULL);
            if (n <= 0)
                continue;
            n_eligible++;
            if (n_pairs + (size_t)n > cap) {
                cap = MG_MAX(cap * 2, n_pairs + (size_t)n + 64);
                fpair *np = realloc(pairs, cap * sizeof(*np));
                if (!np) {
                    free(pairs);
                    return -ENOMEM;
                }
                pairs = np;
            }
            bool caseless = e->hs_flags & HS_FLAG_CASELESS;
            for (int k = 0; k < n; k++) {
                fpair *q = &pairs[n_pairs++];
                memset(q, 0, sizeof(*q));
                q->f = f[k];
                q->caseless = caseless;
                q->extra = p->pats[e->pattern_id].extra;
                q->expr = (uint32_t)i;
                for (size_t j = 0; caseless && j < q->f.len; j++)
                    if (q->f.s[j] >= 'A' && q->f.s[j] <= 'Z')
                        q->f.s[j] |= 0x20;
            }
            if (pass == 0)
                n_pairs_exact = n_pairs;
        }
    if (p->lazy_mode == MG_LAZY_AUTO && n_eligible - n_exact < MG_LAZY_MIN) {
        n_pairs = n_pairs_exact; /* only the exact expressions are lazy */
        n_eligible = n_exact;
    }
    if (n_eligible + n_prefilter == 0) {
        free(pairs);
        p->planned = true; /* p->starts stays: plan_free frees it */
        return 0;
    }
    qsort(pairs, n_pairs, sizeof(*pairs), fpair_cmp);
    size_t n_factors = 0;
    for (size_t i = 0; i < n_pairs; i++)
        n_factors += i == 0 || !same_factor(&pairs[i], &pairs[i - 1]);
    p->lazy = calloc(n_eligible + n_prefilter, sizeof(*p->lazy));
    p->factors = calloc(MG_MAX(n_factors, 1), sizeof(*p->factors));
    p->factor_exprs = malloc(MG_MAX(n_pairs, 1) * sizeof(*p->factor_exprs));
    if (!p->lazy || !p->factors || !p->factor_exprs) {
        free(pairs);
        mg_patterns_plan_free(p);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n_pairs; i++) {
        const fpair *q = &pairs[i];
        mg_expr *e = &p->exprs[q->expr];
        if (!e->lazy) {
            p->lazy[p->n_lazy].expr = q->expr;
            char msg[200];
            if (e->exact && !(p->lazy[p->n_lazy].exact =
                                  mg_exact_compile(e->re, e->hs_flags, msg, sizeof(msg)))) {
                free(pairs);
                mg_patterns_plan_free(p);
                return -ENOMEM; /* it compiled when added */
            }
            e->lazy = (uint32_t)++p->n_lazy;
        }
        if (i == 0 || !same_factor(q, &pairs[i - 1])) {
            mg_strbuf b = {0};
            for (size_t j = 0; j < q->f.len; j++)
                mg_sb_hexbyte(&b, q->f.s[j]);
            mg_factor_ent *fe = &p->factors[p->n_factors++];
            fe->re = b.s;
            fe->hs_flags = q->caseless ? HS_FLAG_CASELESS : 0;
            fe->extra = q->extra;
            fe->len = q->f.len;
            fe->first = (uint32_t)i;
            if (b.oom) {
                free(pairs);
                mg_patterns_plan_free(p);
                return -ENOMEM;
            }
        }
        p->factors[p->n_factors - 1].count++;
        p->factor_exprs[i] = q->expr;
    }
    free(pairs);
    for (size_t i = 0; i < p->n_exprs; i++) { /* in the main database, with a lazy entry */
        mg_expr *e = &p->exprs[i];
        char msg[200];
        if (!e->prefilter || dormant(p, i))
            continue;
        p->lazy[p->n_lazy].expr = (uint32_t)i;
        if (!(p->lazy[p->n_lazy].exact = mg_exact_compile(e->re, e->hs_flags, msg, sizeof(msg)))) {
            mg_patterns_plan_free(p);
            return -ENOMEM; /* it compiled when added */
        }
        e->lazy = (uint32_t)++p->n_lazy;
    }
    p->planned = true;
    return 0;
}

/* Expression i is in the main database (extra false) or the extra one. */
static bool in_db(const mg_patterns *p, size_t i, bool extra)
{
    const mg_expr *e = &p->exprs[i];
    return (!e->lazy || e->prefilter) && !dormant(p, i) && p->pats[e->pattern_id].extra == extra;
}

int mg_patterns_main_exprs(const mg_patterns *p, bool extra, const char ***res, unsigned **flags,
                           unsigned **ids)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < p->n_exprs; i++)
        n += in_db(p, i, extra);
    for (size_t i = 0; i < p->n_factors; i++)
        n += p->factors[i].extra == extra;
    *res = malloc(MG_MAX(n, 1) * sizeof(**res));
    *flags = malloc(MG_MAX(n, 1) * sizeof(**flags));
    *ids = malloc(MG_MAX(n, 1) * sizeof(**ids));
    if (!*res || !*flags || !*ids || n > INT_MAX) {
        free(*res), free(*flags), free(*ids);
        *res = NULL, *flags = NULL, *ids = NULL;
        return -ENOMEM;
    }
    for (size_t i = 0; i < p->n_exprs; i++) {
        if (!in_db(p, i, extra))
            continue;
        (*res)[k] = p->exprs[i].prefilter ? p->exprs[i].fre : p->exprs[i].re;
        (*flags)[k] = p->exprs[i].hs_flags | (p->exprs[i].prefilter ? HS_FLAG_PREFILTER : 0);
        (*ids)[k++] = (unsigned)i;
    }
    for (size_t i = 0; i < p->n_factors; i++) {
        if (p->factors[i].extra != extra)
            continue;
        (*res)[k] = p->factors[i].re;
        (*flags)[k] = p->factors[i].hs_flags;
        (*ids)[k++] = (unsigned)(p->n_exprs + i);
    }
    return (int)k;
}

hs_database_t *mg_patterns_lazy_db(const mg_patterns *cp, size_t li)
{
    /* the lazy databases are a cache filled while scanning: the set is
     * otherwise read-only (const) by then */
    mg_patterns *p = (mg_patterns *)cp;
    mg_lazy_ent *L = &p->lazy[li];
    hs_database_t *db = atomic_load_explicit(&L->db, memory_order_acquire);
    if (db || atomic_load_explicit(&L->failed, memory_order_relaxed))
        return db;
    pthread_mutex_lock(&p->lazy_lock);
    db = atomic_load_explicit(&L->db, memory_order_relaxed);
    if (!db && !atomic_load_explicit(&L->failed, memory_order_relaxed)) {
        const mg_expr *e = &p->exprs[L->expr];
        hs_compile_error_t *cerr = NULL;
        if (hs_compile(e->re, e->hs_flags, HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
            hs_free_compile_error(cerr);
            db = NULL;
            atomic_store_explicit(&L->failed, 1, memory_order_relaxed);
        } else
            atomic_store_explicit(&L->db, db, memory_order_release);
    }
    pthread_mutex_unlock(&p->lazy_lock);
    return db;
}

void *mg_patterns_starts_code(const mg_patterns *cp, size_t ei)
{
    mg_patterns *p = (mg_patterns *)cp; /* a cache, as the lazy databases */
    mg_starts_ent *S = &p->starts[ei];
    void *code = atomic_load_explicit(&S->code, memory_order_acquire);
    if (code || atomic_load_explicit(&S->failed, memory_order_relaxed))
        return code;
    pthread_mutex_lock(&p->lazy_lock);
    code = atomic_load_explicit(&S->code, memory_order_relaxed);
    if (!code && !atomic_load_explicit(&S->failed, memory_order_relaxed)) {
        char msg[200];
        const mg_expr *e = &p->exprs[ei];
        code = mg_exact_compile(e->re, e->hs_flags, msg, sizeof(msg));
        if (code)
            atomic_store_explicit(&S->code, code, memory_order_release);
        else
            atomic_store_explicit(&S->failed, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&p->lazy_lock);
    return code;
}
