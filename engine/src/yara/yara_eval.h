/* yara_eval.h - what the evaluator's files share (internal):
 *
 *   yara_eval.c    conditions: values with YARA's undefined, string match
 *                  lists, integer reads, quantifiers, arithmetic
 *   yara_memfn.c   module functions: math.* and hash.* over process memory
 *                  (walked as yara walks its memory blocks), the numeric
 *                  helpers, time.now()
 *   yara_report.c  mg_yara_evaluate: every rule of a process, globals per
 *                  namespace, the records and events handed to the sink
 */
#ifndef MG_YARA_EVAL_H
#define MG_YARA_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "yara/yara.h"

typedef struct val {
    bool undef, isf;
    int64_t v;
    double f; /* isf: a float (math.*, 7.0) */
} val;

#define UNDEF ((val){.undef = true})
#define VAL(x) ((val){.v = (int64_t)(x)})
#define FVAL(x) ((val){.isf = true, .f = (x)})

typedef struct ectx {
    const mg_patterns *p;
    const mg_yara *y;
    mg_yara_proc *yp;
    mg_yara_read_fn read;
    void *read_ctx;
    const mg_region *regions; /* the process's, by address: yara's memory blocks */
    size_t n_regions;
    int8_t *rule_val; /* per rule: 1 matched, 0 not */
    /* per string, or NULL: the match at fixed_at of a fixed string whose
     * shared list keeps others (yara_string.list_fixed) */
    yara_list *views;
    int64_t vars[8];
    int64_t cur; /* the for..of string */
    mg_yara_stop_fn stop;
    void *stop_ctx;
    uint32_t polls; /* loop iterations since stop was last polled */
    bool stopped; /* stop said so: every value is undefined from here on */
    /* 0, or why the rule being evaluated cannot be answered as yara
     * answers it (YARA_NOT_EVALUATED_*): it is not evaluated and one event
     * per reason names it (yara_report.c) */
    int8_t not_evaluated;
} ectx;

/* ectx.not_evaluated, and rule values of rules not evaluated */
enum {
    YARA_NOT_EVALUATED_IMAGE = -1, /* yara would parse an image memgrep does not */
    YARA_NOT_EVALUATED_UNREAD = -2, /* math or hash over memory yara reads, memgrep not */
    YARA_NOT_EVALUATED_COUNT_IN = -3, /* #a in (lo..hi), lo not 0: yara 4.2.3 fails */
};

static inline bool yara_truth(val v)
{
    return !v.undef && (v.isf ? v.f != 0 : v.v != 0);
}

static inline double yara_as_float(val v)
{
    return v.isf ? v.f : (double)v.v;
}

/* yara_eval.c */
val yara_eval(ectx *x, const yx *e);
/* Binary or unary (b VAL(0)) arithmetic or comparison op of two values. */
val yara_arith(yx_op op, val a, val b);
/* The match list of string s (-1: the for..of string), sorted by address. */
const yara_list *yara_list_of(ectx *x, int64_t s);

/* yara_memfn.c */
/* Whether evaluation must stop (polls x->stop every MG_YARA_STOP_POLL calls). */
bool yara_must_stop(ectx *x);
/* Module function fn (MG_YFN_*) of its arguments' values (defined). */
val yara_call(ectx *x, int64_t fn, val a, val b, val c);
/* YX_STROP e: its digest (hash.md5/sha1/sha256 of off, len) OP its text. */
val yara_strop(ectx *x, const yx *e, val off, val len);

#endif
