/* yara_eval.c - YARA rules at the end of each process: the matches of rule
 * strings kept per process, integer reads at virtual addresses (through
 * the caller's mg_yara_read_fn: sweep/target.c reads present pages with
 * the scan's readers), the condition evaluator with YARA's undefined
 * values, and the results handed to mg_sink.rule.
 *
 * Undefined values follow yara 4.2.3 against a live process, measured with
 * /usr/bin/yara (tests/test_yara.c keeps the cases): arithmetic,
 * comparisons, `not` and reads of an undefined operand are undefined;
 * `and`, `or`, `defined` and the quantifiers (N of, for .. of, for .. in)
 * take an undefined operand as false and are defined; `$a at X` is false
 * for an undefined X, `$a in (X..Y)` undefined; a for..in loop over an
 * undefined or empty range is false; a rule whose condition is undefined
 * does not match. The per-process match lists are in yara_hits.c. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "match/patterns.h"
#include "util.h"
#include "yara/yara.h"

/* ---- evaluation ---------------------------------------------------------- */

typedef struct val {
    bool undef, isf;
    int64_t v;
    double f; /* isf: a float (math.*, 7.0) */
} val;

#define UNDEF ((val){.undef = true})
#define VAL(x) ((val){.v = (int64_t)(x)})
#define FVAL(x) ((val){.isf = true, .f = (x)})

typedef struct ectx {
    const mg_yara *y;
    mg_yara_proc *yp;
    mg_yara_read_fn read;
    void *read_ctx;
    int8_t *rule_val; /* per rule: 1 matched, 0 not */
    int64_t vars[8];
    int64_t cur; /* the for..of string */
    mg_yara_stop_fn stop;
    void *stop_ctx;
    uint32_t polls; /* loop iterations since stop was last polled */
    bool stopped; /* stop said so: every value is undefined from here on */
} ectx;

/* Loops poll the stop hook: a rule such as `for any i in (0..0x7fff...)`
 * would otherwise run for ever, deaf to deadlines and cancel. */
static bool must_stop(ectx *x)
{
    if (!x->stopped && x->stop && ++x->polls >= MG_YARA_STOP_POLL) {
        x->polls = 0;
        x->stopped = x->stop(x->stop_ctx);
    }
    return x->stopped;
}

static int hit_cmp(const void *a, const void *b)
{
    const yara_hit *x = a, *y = b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

static const yara_list *list_of(ectx *x, int64_t s)
{
    static const yara_list empty = {0};
    if (s < 0)
        s = x->cur;
    if (!x->yp || s < 0 || (size_t)s >= x->y->n_strings)
        return &empty;
    yara_list *l = &x->yp->lists[s];
    if (!l->sorted) {
        if (l->n > 1)
            qsort(l->v, l->n, sizeof(*l->v), hit_cmp);
        l->sorted = true;
    }
    return l;
}

static val eval(ectx *x, const yx *e);

static bool truth(val v)
{
    return !v.undef && (v.isf ? v.f != 0 : v.v != 0);
}

static double as_float(val v)
{
    return v.isf ? v.f : (double)v.v;
}

/* math.* over [off, off + size) of the process (undefined where it cannot
 * be read), the numeric helpers, time.now(). */
static val eval_call(ectx *x, const yx *e)
{
    val a = e->a ? eval(x, e->a) : VAL(0), b = e->b ? eval(x, e->b) : VAL(0),
        c = e->c ? eval(x, e->c) : VAL(0);
    if (a.undef || b.undef || c.undef)
        return UNDEF;
    switch (e->i) {
    case MG_YFN_NOW:
        return VAL(time(NULL));
    case MG_YFN_ABS:
        return a.isf ? FVAL(fabs(a.f)) : VAL(a.v < 0 ? -(uint64_t)a.v : (uint64_t)a.v);
    case MG_YFN_MIN:
        return VAL((uint64_t)a.v < (uint64_t)b.v ? a.v : b.v);
    case MG_YFN_MAX:
        return VAL((uint64_t)a.v > (uint64_t)b.v ? a.v : b.v);
    case MG_YFN_TO_NUMBER:
        return VAL(truth(a));
    case MG_YFN_IN_RANGE:
        return VAL(as_float(a) >= as_float(b) && as_float(a) <= as_float(c));
    default:
        break;
    }
    /* (offset, size [, mean]) or (byte, offset, size) */
    bool byte_first = e->i == MG_YFN_COUNT || e->i == MG_YFN_PERCENT;
    val off = byte_first ? b : a, size = byte_first ? c : b;
    double arg = byte_first ? as_float(a) : as_float(c);
    if (off.isf || size.isf || off.v < 0 || size.v <= 0 || size.v > (64 << 20) || !x->read)
        return UNDEF;
    uint8_t *d = malloc((size_t)size.v);
    if (!d || x->read(x->read_ctx, (uint64_t)off.v, d, (size_t)size.v) < 0) {
        free(d);
        return UNDEF;
    }
    double r = mg_yara_math((int)e->i, d, (size_t)size.v, arg);
    free(d);
    return e->i == MG_YFN_COUNT || e->i == MG_YFN_MODE ? VAL(r) : FVAL(r);
}

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
        return eval_call(x, e);
    case YX_FOUND:
        return VAL(list_of(x, e->i)->n > 0);
    case YX_COUNT:
        return VAL(list_of(x, e->i)->n);
    case YX_OFFSET:
    case YX_LENGTH: {
        const yara_list *l = list_of(x, e->i);
        a = eval(x, e->a);
        if (a.undef || a.v < 1 || (uint64_t)a.v > l->n)
            return UNDEF;
        const yara_hit *h = &l->v[a.v - 1];
        return VAL(e->op == YX_OFFSET ? (int64_t)h->addr : (int64_t)h->len);
    }
    case YX_AT:
    case YX_IN: {
        const yara_list *l = list_of(x, e->i);
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
    case YX_RULE:
        return VAL(x->rule_val[e->i] > 0);
    case YX_READ:
        return eval_read(x, e);
    case YX_VAR:
        return VAL(x->vars[e->i]);
    case YX_NOT:
        a = eval(x, e->a);
        return a.undef ? UNDEF : VAL(!truth(a));
    case YX_DEFINED:
        return VAL(!eval(x, e->a).undef);
    case YX_AND:
        return VAL(truth(eval(x, e->a)) && truth(eval(x, e->b)));
    case YX_OR:
        return VAL(truth(eval(x, e->a)) || truth(eval(x, e->b)));
    case YX_OF: {
        uint64_t count = 0;
        int64_t outer = x->cur;
        for (size_t i = 0; i < e->n_set; i++) {
            uint32_t s = e->set[i];
            if (s & 0x80000000u)
                count += x->rule_val[s & 0x7fffffffu] > 0;
            else if (e->b) {
                x->cur = s;
                count += truth(eval(x, e->b));
            } else
                count += list_of(x, s)->n > 0;
            if (must_stop(x))
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
        for (int64_t v = a.v; v <= b.v && !must_stop(x); v++) {
            x->vars[e->i] = v;
            count += truth(eval(x, e->b));
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
    if (a.undef || b.undef)
        return UNDEF;
    if (a.isf || b.isf)
        return eval_float(e->op, as_float(a), as_float(b));
    uint64_t ua = (uint64_t)a.v, ub = (uint64_t)b.v;
    switch (e->op) {
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

/* Hand one matching rule to the sink. */
static int report_rule(ectx *x, const yara_rule *r, const mg_process *proc, const mg_sink *sink,
                       pthread_mutex_t *lock)
{
    const mg_yara *y = x->y;
    size_t n_hits = 0, n_str = 0;
    for (size_t i = 0; i < r->n_strings; i++) {
        const yara_list *l = list_of(x, (int64_t)(r->first_string + i));
        if (l->n && !y->strings[r->first_string + i].private_) {
            n_str++;
            n_hits += l->n;
        }
    }
    mg_rule_string *strs = calloc(n_str + 1, sizeof(*strs));
    mg_rule_hit *hits = calloc(n_hits + 1, sizeof(*hits));
    mg_rule_meta *meta = calloc(r->n_meta + 1, sizeof(*meta));
    int v = MG_SINK_CONTINUE;
    if (strs && hits && meta) {
        size_t k = 0, h = 0;
        for (size_t i = 0; i < r->n_strings; i++) {
            const yara_list *l = list_of(x, (int64_t)(r->first_string + i));
            const yara_string *ys = &y->strings[r->first_string + i];
            if (!l->n || ys->private_)
                continue;
            strs[k] = (mg_rule_string){.id = ys->id, .count = l->n, .capped = l->capped};
            for (size_t j = 0; j < l->n; j++) {
                const yara_hit *yh = &l->v[j];
                hits[h++] = (mg_rule_hit){.string = k,
                                          .address = yh->addr,
                                          .length = yh->len,
                                          .region = yh->region,
                                          .data = x->yp->arena + yh->data,
                                          .before = yh->before,
                                          .after = yh->after};
            }
            k++;
        }
        for (size_t i = 0; i < r->n_meta; i++)
            meta[i] = (mg_rule_meta){.key = r->meta[i].key,
                                     .type = r->meta[i].type == 0   ? MG_META_STRING
                                             : r->meta[i].type == 1 ? MG_META_INTEGER
                                                                    : MG_META_BOOLEAN,
                                     .string = r->meta[i].s,
                                     .integer = r->meta[i].i};
        mg_rule_match m = {
            .process = proc,
            .rule = r->name,
            .ns = r->ns,
            .tags = (const char *const *)r->tags,
            .n_tags = r->n_tags,
            .meta = meta,
            .n_meta = r->n_meta,
            .strings = strs,
            .n_strings = n_str,
            .hits = hits,
            .n_hits = n_hits,
        };
        if (sink && sink->rule) {
            if (lock)
                pthread_mutex_lock(lock);
            v = sink->rule(sink->ctx, &m);
            if (lock)
                pthread_mutex_unlock(lock);
        }
    } else
        v = -ENOMEM;
    free(strs);
    free(hits);
    free(meta);
    return v;
}

/* One event: the rules not evaluated in this process because yara would
 * parse an image memgrep does not (their answers could differ). */
static void skipped_event(const mg_yara *y, unsigned images, uint64_t where, const mg_process *proc,
                          const mg_sink *sink, pthread_mutex_t *lock)
{
    char what[1024];
    int n = snprintf(what, sizeof(what),
                     "YARA rules not evaluated: yara would parse the %s image at 0x%llx:",
                     images & MG_YMOD_PE ? "PE" : "ELF", (unsigned long long)where);
    size_t count = 0;
    for (size_t i = 0; i < y->n_rules; i++) {
        if (!(y->rules[i].modules & images))
            continue;
        if (n > 0 && (size_t)n + strlen(y->rules[i].name) + 24 < sizeof(what))
            n += snprintf(what + n, sizeof(what) - (size_t)n, " %s", y->rules[i].name);
        else if (n > 0 && (size_t)n + 24 < sizeof(what))
            n += snprintf(what + n, sizeof(what) - (size_t)n, " ...");
        count++;
    }
    if (n > 0 && (size_t)n + 24 < sizeof(what))
        snprintf(what + n, sizeof(what) - (size_t)n, " (%zu rules)", count);
    mg_event e = {.kind = MG_EVENT_OTHER, .process = proc, .err = -EOPNOTSUPP, .what = what};
    if (!sink || !sink->event)
        return;
    if (lock)
        pthread_mutex_lock(lock);
    sink->event(sink->ctx, &e);
    if (lock)
        pthread_mutex_unlock(lock);
}

int mg_yara_evaluate(const mg_patterns *p, const mg_process *proc, mg_yara_proc *yp,
                     mg_yara_read_fn read, void *read_ctx, const mg_sink *sink, void *lock,
                     mg_yara_stop_fn stop, void *stop_ctx, uint64_t *n_matched,
                     const mg_region *regions, size_t n_regions)
{
    const mg_yara *y = p->yara;
    if (!y || !y->n_rules)
        return MG_SINK_CONTINUE;
    ectx x = {.y = y,
              .yp = yp,
              .read = read,
              .read_ctx = read_ctx,
              .cur = -1,
              .stop = stop,
              .stop_ctx = stop_ctx};
    x.rule_val = calloc(y->n_rules, 1);
    if (!x.rule_val)
        return -ENOMEM;
    unsigned want = 0, images = 0;
    for (size_t i = 0; i < y->n_rules; i++)
        want |= y->rules[i].modules & (MG_YMOD_PE | MG_YMOD_ELF);
    uint64_t where = 0;
    if (want && read)
        images = mg_yara_images(read, read_ctx, regions, n_regions, want, &where);
    bool global_failed = false;
    for (size_t i = 0; i < y->n_rules; i++) {
        if (y->rules[i].modules & images)
            continue; /* not evaluated: see skipped_event */
        x.rule_val[i] = (int8_t)truth(eval(&x, y->rules[i].cond));
        if (y->rules[i].global && !x.rule_val[i])
            global_failed = true; /* one namespace: every rule is in "default" */
    }
    if (x.stopped) {
        free(x.rule_val);
        return -ECANCELED; /* values cut short are not results */
    }
    if (images)
        skipped_event(y, images, where, proc, sink, lock);
    int verdict = MG_SINK_CONTINUE;
    for (size_t i = 0; i < y->n_rules && !global_failed; i++) {
        const yara_rule *r = &y->rules[i];
        if (!x.rule_val[i] || r->private_)
            continue;
        (*n_matched)++;
        int v = report_rule(&x, r, proc, sink, lock);
        if (v < 0 || v == MG_SINK_STOP) {
            verdict = v;
            break;
        }
    }
    free(x.rule_val);
    return verdict;
}
