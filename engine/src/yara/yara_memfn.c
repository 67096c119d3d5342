/* yara_memfn.c - module functions at evaluation: math.* and hash.* over
 * process memory, the numeric helpers of math, time.now().
 *
 * yara 4.2.3's hash and math modules read (offset, size) by walking the
 * process's memory blocks (its /proc/PID/maps entries) from the first: the
 * range is undefined if offset lies below the first block or in none, and
 * may run on into the blocks that follow as long as each starts where the
 * last ended; a range that ends exactly at a block's end is undefined when
 * the next block does not start there (yara looks at that block before
 * stopping). memgrep walks its regions the same way (measured against
 * /usr/bin/yara: tests/yara_diff.py, tests/test_yara.c). Where yara reads a
 * page memgrep cannot (a page not present, [vvar]), or the range is too
 * long to hold for math, the rule is not evaluated (x->not_evaluated: one event
 * names it, yara_report.c) rather than answered differently. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "yara/yara.h"
#include "yara/yara_eval.h"

/* Bytes math.* holds for one call (its distributions need them all). */
#define MATH_MAX_BYTES (64u << 20)

/* Loops poll the stop hook: a rule such as `for any i in (0..0x7fff...)`
 * would otherwise run for ever, deaf to deadlines and cancel. */
bool yara_must_stop(ectx *x)
{
    if (!x->stopped && x->stop && ++x->polls >= MG_YARA_STOP_POLL) {
        x->polls = 0;
        x->stopped = x->stop(x->stop_ctx);
    }
    return x->stopped;
}

typedef void (*piece_fn)(void *st, const uint8_t *d, size_t n);

/* Feed [off, off + len) to fn, piece by piece, as yara walks its blocks.
 * 0, or -1: undefined (x->not_evaluated set when it is memgrep's limit). */
static int walk(ectx *x, val off, val len, piece_fn fn, void *st)
{
    if (off.isf || len.isf || off.v < 0 || len.v < 0 || !x->read || !x->n_regions ||
        (uint64_t)off.v < x->regions[0].start)
        return -1;
    uint64_t o = (uint64_t)off.v, l = (uint64_t)len.v;
    if (o + l < o)
        return -1; /* past 2^64: no block reaches there */
    uint8_t buf[4096];
    bool past = false;
    for (size_t i = 0; i < x->n_regions; i++) {
        const mg_region *r = &x->regions[i];
        if (o >= r->start && o < r->end) {
            uint64_t n = MG_MIN(l, r->end - o);
            for (uint64_t done = 0; done < n;) {
                size_t k = (size_t)MG_MIN(n - done, (uint64_t)sizeof(buf));
                if (yara_must_stop(x))
                    return -1;
                if (x->read(x->read_ctx, o + done, buf, k) < 0) {
                    x->not_evaluated = YARA_NOT_EVALUATED_UNREAD; /* yara reads it, memgrep not */
                    return -1;
                }
                fn(st, buf, k);
                done += k;
            }
            o += n;
            l -= n;
            past = true;
        } else if (past)
            return -1; /* a gap: yara's "non contiguous blocks" */
        if (r->end > o + l)
            break;
    }
    return past ? 0 : -1;
}

static void hash_piece(void *st, const uint8_t *d, size_t n)
{
    mg_yhash_update(st, d, n);
}

typedef struct bytes {
    uint8_t *d;
    size_t n;
    bool oom;
} bytes;

static void bytes_piece(void *st, const uint8_t *d, size_t n)
{
    bytes *b = st;
    if (b->oom)
        return;
    memcpy(b->d + b->n, d, n);
    b->n += n;
}

/* hash.*(offset, size): 0 and the digest in s, or -1 (undefined). */
static int digest(ectx *x, int64_t fn, val off, val len, mg_yhash *s)
{
    mg_yhash_init(s, (int)fn);
    return walk(x, off, len, hash_piece, s);
}

val yara_strop(ectx *x, const yx *e, val off, val len)
{
    mg_yhash s;
    char hex[MG_YHASH_HEX];
    if (digest(x, e->a->i, off, len, &s) < 0)
        return UNDEF;
    mg_yhash_hex(&s, hex);
    return VAL(mg_yara_text_op((int)e->i, hex, strlen(hex), e->s, e->slen));
}

/* math.*(offset, size [, mean]) or (byte, offset, size) over memory. */
static val math_call(ectx *x, int64_t fn, val a, val b, val c)
{
    bool byte_first = fn == MG_YFN_COUNT || fn == MG_YFN_PERCENT;
    val off = byte_first ? b : a, size = byte_first ? c : b;
    double arg = byte_first ? yara_as_float(a) : yara_as_float(c);
    /* yara 4.2.3: over 0 bytes entropy is 0, serial_correlation -100000,
     * count and mode 0; mean, deviation, percentage undefined; and
     * monte_carlo_pi needs a 6-byte group (measured) */
    bool empty_ok =
        fn == MG_YFN_ENTROPY || fn == MG_YFN_SERIAL || fn == MG_YFN_COUNT || fn == MG_YFN_MODE;
    if (off.isf || size.isf || off.v < 0 || size.v < (empty_ok ? 0 : fn == MG_YFN_PI ? 6 : 1))
        return UNDEF;
    if (size.v > (int64_t)MATH_MAX_BYTES) {
        x->not_evaluated = YARA_NOT_EVALUATED_UNREAD;
        return UNDEF;
    }
    bytes d = {.d = malloc(size.v ? (size_t)size.v : 1)};
    if (!d.d) {
        x->not_evaluated = YARA_NOT_EVALUATED_UNREAD;
        return UNDEF;
    }
    int rc = walk(x, off, size, bytes_piece, &d);
    double r = rc < 0 ? 0 : mg_yara_math((int)fn, d.d, d.n, arg);
    free(d.d);
    if (rc < 0)
        return UNDEF;
    return fn == MG_YFN_COUNT || fn == MG_YFN_MODE ? VAL(r) : FVAL(r);
}

/* A module function: math.*, hash.* over [off, off + size) of the process
 * (see walk), the numeric helpers, time.now(). */
val yara_call(ectx *x, int64_t fn, val a, val b, val c)
{
    if (fn >= MG_YFN_MD5) {
        mg_yhash s;
        if (digest(x, fn, a, b, &s) < 0)
            return UNDEF;
        if (fn == MG_YFN_CRC32 || fn == MG_YFN_CHECKSUM32)
            return VAL(mg_yhash_value(&s));
        return VAL(1); /* a digest alone: text, true */
    }
    switch (fn) {
    case MG_YFN_NOW:
        return VAL(time(NULL));
    case MG_YFN_ABS:
        return a.isf ? FVAL(fabs(a.f)) : VAL(a.v < 0 ? -(uint64_t)a.v : (uint64_t)a.v);
    case MG_YFN_MIN:
        return VAL((uint64_t)a.v < (uint64_t)b.v ? a.v : b.v);
    case MG_YFN_MAX:
        return VAL((uint64_t)a.v > (uint64_t)b.v ? a.v : b.v);
    case MG_YFN_TO_NUMBER:
        return VAL(yara_truth(a));
    case MG_YFN_IN_RANGE:
        return VAL(yara_as_float(a) >= yara_as_float(b) && yara_as_float(a) <= yara_as_float(c));
    default:
        return math_call(x, fn, a, b, c);
    }
}
