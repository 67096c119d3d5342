/* yara_eval.c - YARA conditions at the end of each process: the condition
 * evaluator with YARA's undefined values over the process's matches of
 * rule strings, integer reads at virtual addresses (through the caller's
 * mg_yara_read_fn: sweep/target.c reads present pages with the scan's
 * readers).
 *
 * Undefined values follow yara 4.2.3 against a live process, measured with
 * /usr/bin/yara (tests/test_yara.c keeps the cases): arithmetic,
 * comparisons, `not` and reads of an undefined operand are undefined;
 * `and`, `or`, `defined` and the quantifiers (N of, for .. of, for .. in)
 * take an undefined operand as false and are defined; `$a at X` is false
 * for an undefined X, `$a in (X..Y)` undefined; a for..in loop over an
 * undefined or empty range is false; a rule whose condition is undefined
 * does not match. The per-process match lists are in yara_hits.c, module
 * functions over memory in yara_memfn.c, mg_yara_evaluate in
 * yara_report.c. */
#include <stdlib.h>

#include "util.h"
#include "yara/yara.h"
#include "yara/yara_eval.h"

/* ---- evaluation ---------------------------------------------------------- */

static int hit_cmp(const void *a, const void *b)
{
    const yara_hit *x = a, *y = b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

const yara_list *yara_list_of(ectx *x, int64_t s)
{
    static const yara_list empty = {0};
    if (s < 0)
        s = x->cur;
    if (!x->yp || s < 0 || (size_t)s >= x->y->n_strings)
        return &empty;
    const yara_string *ys = &x->y->strings[s];
    yara_list *l = &x->yp->lists[ys->list];
    if (!l->sorted) {
        if (l->n > 1)
            qsort(l->v, l->n, sizeof(*l->v), hit_cmp);
        l->sorted = true;
    }
    if (!ys->fixed || x->y->strings[ys->list].list_fixed || !x->views)
        return l;
    /* a fixed string sharing a list with others: its match at fixed_at */
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (l->v[mid].addr < (uint64_t)ys->fixed_at)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool at = lo < l->n && l->v[lo].addr == (uint64_t)ys->fixed_at;
    x->views[s] = (yara_list){.v = at ? &l->v[lo] : NULL, .n = at, .sorted = true};
    return &x->views[s];
}

static val eval(ectx *x, const yx *e);

/* count of true members of a set, for strings (optionally with a body). */
static val quantify(ectx *x, const yx *e, uint64_t count, uint64_t n)
{
    switch (e->quant) {
    case YQ_ALL:
        return VAL(count == n);
    case YQ_ANY:
        return VAL(count >= 1);
    case YQ_NONE:
        return VAL(count == 0);
    case YQ_PERCENT: {
        val q = eval(x, e->a);
        if (q.undef)
            return VAL(0);
        return VAL(count * 100 >= (uint64_t)(q.v < 0 ? 0 : q.v) * n);
    }
    case YQ_EXPR:
    default: {
        val q = eval(x, e->a);
        if (q.undef)
            return VAL(0);
        return VAL(q.v <= 0 || count >= (uint64_t)q.v);
    }
    }
}

static val eval_read(ectx *x, const yx *e)
{
    val a = eval(x, e->a);
    if (a.undef || a.v < 0 || !x->read)
        return UNDEF;
    unsigned n = (unsigned)(e->i & 0xff);
    bool sign = e->i & 0x100, be = e->i & 0x200;
    uint8_t b[4];
    if (x->read(x->read_ctx, (uint64_t)a.v, b, n) < 0)
        return UNDEF;
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)b[be ? i : n - 1 - i] << (8 * (n - 1 - i));
    if (sign && n < 8 && (v >> (8 * n - 1)) & 1)
        return VAL((int64_t)(v | ~((1ull << (8 * n)) - 1)));
    return VAL(v);
}

/* Arithmetic and comparisons with a float operand. */
static val eval_float(yx_op op, double a, double b)
{
    switch (op) {
    case YX_EQ:
        return VAL(a == b);
    case YX_NE:
        return VAL(a != b);
    case YX_LT:
        return VAL(a < b);
    case YX_LE:
        return VAL(a <= b);
    case YX_GT:
        return VAL(a > b);
    case YX_GE:
        return VAL(a >= b);
    case YX_ADD:
        return FVAL(a + b);
    case YX_SUB:
        return FVAL(a - b);
    case YX_MUL:
        return FVAL(a * b);
    case YX_DIV:
        return b == 0 ? UNDEF : FVAL(a / b);
    case YX_NEG:
        return FVAL(-a);
    default:
        return UNDEF; /* bitwise operators take integers */
    }
}

static val eval(ectx *x, const yx *e)
{
    val a, b;
    switch (e->op) {
    case YX_INT:
    case YX_BOOL:
        return VAL(e->i);
    case YX_UNDEF:
    case YX_MODULE:
        return UNDEF;
    case YX_FLOAT:
        return FVAL(e->f);
    case YX_STR:
        return VAL(e->slen > 0);
    case YX_CALL:
    case YX_STROP: {
        const yx *f = e->op == YX_STROP ? e->a : e;
        a = f->a ? eval(x, f->a) : VAL(0);
        b = f->b ? eval(x, f->b) : VAL(0);
        val c = f->c ? eval(x, f->c) : VAL(0);
        if (a.undef || b.undef || c.undef)
            return UNDEF;
        return e->op == YX_STROP ? yara_strop(x, e, a, b) : yara_call(x, e->i, a, b, c);
    }
    case YX_FOUND:
        return VAL(yara_list_of(x, e->i)->n > 0);
    case YX_COUNT:
        return VAL(yara_list_of(x, e->i)->n);
    case YX_OFFSET:
    case YX_LENGTH: {
        const yara_list *l = yara_list_of(x, e->i);
        a = eval(x, e->a);
        if (a.undef || a.v < 1 || (uint64_t)a.v > l->n)
            return UNDEF;
        const yara_hit *h = &l->v[a.v - 1];
        return VAL(e->op == YX_OFFSET ? (int64_t)h->addr : (int64_t)h->len);
    }
    case YX_AT:
    case YX_IN: {
        const yara_list *l = yara_list_of(x, e->i);
        a = eval(x, e->a);
        b = e->op == YX_IN ? eval(x, e->b) : a;
        if (e->op == YX_AT && a.undef)
            return VAL(0); /* yara 4.2: "$a at undefined" is false, "in" undefined */
        if (a.undef || b.undef)
            return UNDEF;
        /* first hit at or after a */
        size_t lo = 0, hi = l->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if ((int64_t)l->v[mid].addr < a.v)
                lo = mid + 1;
            else
                hi = mid;
        }
        return VAL(lo < l->n && (int64_t)l->v[lo].addr <= b.v && a.v >= 0);
    }
    case YX_COUNT_IN: {
        const yara_list *l = yara_list_of(x, e->i);
        a = eval(x, e->a);
        b = eval(x, e->b);
        if (a.undef || b.undef)
            return UNDEF;
        if (a.v != 0) { /* yara 4.2.3 stops the scan: "internal fatal error" (31) */
            x->not_evaluated = YARA_NOT_EVALUATED_COUNT_IN;
            return UNDEF;
        }
        uint64_t n = 0;
        for (size_t k = 0; k < l->n; k++)
            n += (int64_t)l->v[k].addr >= a.v && (int64_t)l->v[k].addr <= b.v;
        return VAL(n);
    }
    case YX_RULE:
        return VAL(x->rule_val[e->i] > 0);
    case YX_READ:
        return eval_read(x, e);
    case YX_VAR:
        return VAL(x->vars[e->i]);
    case YX_NOT:
        a = eval(x, e->a);
        return a.undef ? UNDEF : VAL(!yara_truth(a));
    case YX_DEFINED:
        return VAL(!eval(x, e->a).undef);
    case YX_AND:
        return VAL(yara_truth(eval(x, e->a)) && yara_truth(eval(x, e->b)));
    case YX_OR:
        return VAL(yara_truth(eval(x, e->a)) || yara_truth(eval(x, e->b)));
    case YX_OF: {
        uint64_t count = 0;
        int64_t outer = x->cur;
        for (size_t i = 0; i < e->n_set; i++) {
            uint32_t s = e->set[i];
            if (s & 0x80000000u)
                count += x->rule_val[s & 0x7fffffffu] > 0;
            else if (e->b) {
                x->cur = s;
                count += yara_truth(eval(x, e->b));
            } else
                count += yara_list_of(x, s)->n > 0;
            if (yara_must_stop(x))
                return UNDEF;
        }
        x->cur = outer;
        return quantify(x, e, count, e->n_set);
    }
    case YX_FOR_IN: {
        a = eval(x, e->c->a);
        b = eval(x, e->c->b);
        if (a.undef || b.undef)
            return VAL(0);
        uint64_t count = 0, n = b.v >= a.v ? (uint64_t)(b.v - a.v) + 1 : 0;
        int64_t outer = x->vars[e->i];
        for (int64_t v = a.v; v <= b.v && !yara_must_stop(x); v++) {
            x->vars[e->i] = v;
            count += yara_truth(eval(x, e->b));
            if (v == INT64_MAX)
                break;
        }
        if (x->stopped)
            return UNDEF;
        x->vars[e->i] = outer;
        if (n == 0)
            return VAL(0); /* yara 4.2: a loop over an empty range is false */
        return quantify(x, e, count, n);
    }
    default:
        break;
    }
    /* binary and unary arithmetic, comparisons */
    a = eval(x, e->a);
    b = e->b ? eval(x, e->b) : VAL(0);
    return yara_arith(e->op, a, b);
}

val yara_arith(yx_op op, val a, val b)
{
    if (a.undef || b.undef)
        return UNDEF;
    if (a.isf || b.isf)
        return eval_float(op, yara_as_float(a), yara_as_float(b));
    uint64_t ua = (uint64_t)a.v, ub = (uint64_t)b.v;
    switch (op) {
    case YX_EQ:
        return VAL(a.v == b.v);
    case YX_NE:
        return VAL(a.v != b.v);
    case YX_LT:
        return VAL(a.v < b.v);
    case YX_LE:
        return VAL(a.v <= b.v);
    case YX_GT:
        return VAL(a.v > b.v);
    case YX_GE:
        return VAL(a.v >= b.v);
    case YX_ADD:
        return VAL(ua + ub);
    case YX_SUB:
        return VAL(ua - ub);
    case YX_MUL:
        return VAL(ua * ub);
    case YX_DIV:
        if (b.v == 0 || (a.v == INT64_MIN && b.v == -1))
            return UNDEF;
        return VAL(a.v / b.v);
    case YX_MOD:
        if (b.v == 0 || (a.v == INT64_MIN && b.v == -1))
            return UNDEF;
        return VAL(a.v % b.v);
    case YX_BAND:
        return VAL(ua & ub);
    case YX_BOR:
        return VAL(ua | ub);
    case YX_BXOR:
        return VAL(ua ^ ub);
    case YX_SHL:
        return VAL(b.v < 0 || b.v >= 64 ? 0 : ua << b.v);
    case YX_SHR:
        return VAL(b.v < 0 || b.v >= 64 ? 0 : ua >> b.v);
    case YX_NEG:
        return VAL(0 - ua);
    case YX_BNOT:
        return VAL(~ua);
    default:
        return UNDEF;
    }
}

val yara_eval(ectx *x, const yx *e)
{
    return eval(x, e);
}
