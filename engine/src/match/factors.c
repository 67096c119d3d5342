/* factors.c - required literal factors of a regular expression.
 *
 * A factor set of an expression is a small set of byte strings such that
 * every match of the expression contains at least one of them. The main
 * Hyperscan database can then hold the factors (literals: they compile in
 * microseconds) instead of the regex (a bounded repeat can take
 * milliseconds to seconds), and the regex itself is compiled and run only
 * around factor hits (matcher.c). The parser reads the Hyperscan/PCRE
 * syntax memgrep accepts; for every node it computes, as Google Code
 * Search and RE2's prefilter do:
 *   exact - the node matches exactly one of these strings (or "unknown"),
 *   best  - every match of the node contains one of these (or none).
 * Anything it does not know (inline options, \Q..\E, back references,
 * callouts, comments...) gives no factor at all: the expression then goes
 * into the main database as it is, so a miss costs time, never a match.
 * Zero-width assertions (^ $ \b \B \A \z \Z \G) match the empty string.
 * The sets and their algebra (cross product, union, score) are in
 * factor_set.c, classes and escapes in factor_atoms.c. */
#include <stdbool.h>
#include <string.h>

#include <hs/hs.h>

#include "limits_internal.h"
#include "match/factor_parse.h"
#include "match/patterns_internal.h"
#include "util.h"

static void parse_alt(fparser *P, finfo *out);

static bool at_end(const fparser *P)
{
    return P->i >= P->len;
}

/* {m}, {m,}, {m,n} at P->i: true with *lo, *hi (hi -1: unbounded). */
static bool parse_braces(fparser *P, long *lo, long *hi)
{
    const char *re = P->re;
    size_t j = P->i + 1;
    long a = 0, b;
    size_t digits = 0;
    while (j < P->len && re[j] >= '0' && re[j] <= '9' && a < 100000)
        a = a * 10 + (re[j++] - '0'), digits++;
    if (!digits)
        return false;
    b = a;
    if (j < P->len && re[j] == ',') {
        j++;
        b = -1;
        if (j < P->len && re[j] >= '0' && re[j] <= '9') {
            b = 0;
            while (j < P->len && re[j] >= '0' && re[j] <= '9' && b < 100000)
                b = b * 10 + (re[j++] - '0');
        }
    }
    if (j >= P->len || re[j] != '}')
        return false;
    P->i = j + 1;
    *lo = a;
    *hi = b;
    return true;
}

/* The atom's info after a quantifier {lo,hi}. */
static void repeat(finfo *x, long lo, long hi)
{
    x->minw = MG_MIN(x->minw * (uint64_t)lo, UNB);
    x->maxw = hi < 0 && x->maxw ? UNB : MG_MIN(x->maxw * (uint64_t)hi, UNB);
    if (lo == 0) {
        if (hi == 1 && x->exact.n >= 0) {
            mg_fset e = x->exact;
            if (mg_fset_add(&e, (const uint8_t *)"", 0)) {
                x->exact = e;
                mg_fset_unknown(&x->best);
                return;
            }
        }
        mg_fset_unknown(&x->exact);
        mg_fset_unknown(&x->best);
        return;
    }
    if (x->exact.n < 0)
        return; /* best stays: every repetition holds it */
    mg_fset power = x->exact, next;
    long k = 1;
    while (k < lo && k < 8 && mg_fset_cross(&power, &x->exact, &next))
        power = next, k++;
    mg_fset_consider(&x->best, &power);
    if (!(k == lo && lo == hi))
        mg_fset_unknown(&x->exact);
    else
        x->exact = power;
}

static void parse_atom(fparser *P, finfo *out)
{
    const char *re = P->re;
    char c = re[P->i];
    mg_fset_unknown(&out->exact);
    mg_fset_unknown(&out->best);
    out->minw = out->maxw = 1;
    if (c == '(') {
        if (P->i + 1 < P->len && re[P->i + 1] == '?') {
            if (P->i + 2 < P->len && re[P->i + 2] == ':')
                P->i += 3;
            else {
                P->bad = true; /* inline options, lookaround, named groups... */
                return;
            }
        } else
            P->i++;
        if (++P->depth > DEPTH_MAX) {
            P->bad = true;
            return;
        }
        parse_alt(P, out);
        P->depth--;
        if (P->bad || at_end(P) || re[P->i] != ')') {
            P->bad = true;
            return;
        }
        P->i++;
    } else if (c == '[') {
        mg_fparse_class(P, out);
    } else if (c == '\\') {
        mg_fparse_escape(P, out);
    } else if (c == '.') {
        P->i++;
    } else if (c == '^' || c == '$') {
        P->i++;
        out->minw = out->maxw = 0;
        mg_fset_empty_string(&out->exact);
    } else if (c == '*' || c == '+' || c == '?' || c == ')') {
        P->bad = true; /* nothing to repeat, or an unbalanced parenthesis */
        return;
    } else {
        P->i++;
        /* a literal '{' or a byte outside ASCII: Hyperscan decides */
        P->unsure |= c == '{' || (unsigned char)c >= 0x80;
        mg_fset_byte(&out->exact, (uint8_t)c);
    }
    if (P->bad)
        return;
    /* quantifiers */
    int nq = 0;
    while (!at_end(P)) {
        long lo, hi;
        c = re[P->i];
        if (c == '*')
            lo = 0, hi = -1, P->i++;
        else if (c == '+')
            lo = 1, hi = -1, P->i++;
        else if (c == '?')
            lo = 0, hi = 1, P->i++;
        else if (c == '{') {
            if (!parse_braces(P, &lo, &hi))
                break; /* a literal '{' */
        } else
            break;
        if (hi >= 0 && hi < lo) {
            P->bad = true;
            return;
        }
        /* a long bounded repeat of variable count: Hyperscan may find it too
         * large to compile alone with SOM_LEFTMOST, and would say so only
         * when compiling; in the main database it says so up front */
        if (hi > lo && hi > 128 && !P->any_repeat) {
            P->bad = true;
            return;
        }
        /* a repeated assertion, a quantifier of a quantifier, huge bounds */
        P->unsure |= out->maxw == 0 || nq++ > 0 || lo > 65535 || hi > 65535;
        if (!at_end(P) && re[P->i] == '?')
            P->i++; /* lazy: the same strings match */
        else if (!at_end(P) && re[P->i] == '+') {
            P->bad = true; /* possessive */
            return;
        }
        repeat(out, lo, hi);
    }
}

static void parse_concat(fparser *P, finfo *out)
{
    mg_fset run, best, tmp;
    mg_fset_unknown(&out->exact);
    mg_fset_unknown(&out->best);
    mg_fset_empty_string(&run);
    mg_fset_unknown(&best);
    bool all_exact = true;
    out->minw = out->maxw = 0;
    P->unsure |= at_end(P) || P->re[P->i] == '|' || P->re[P->i] == ')'; /* empty */
    while (!at_end(P) && P->re[P->i] != '|' && P->re[P->i] != ')') {
        finfo x;
        parse_atom(P, &x);
        if (P->bad)
            return;
        out->minw = MG_MIN(out->minw + x.minw, UNB);
        out->maxw = MG_MIN(out->maxw + x.maxw, UNB);
        mg_fset_consider(&best, &x.best);
        if (x.exact.n >= 0) {
            mg_fset_consider(&best, &x.exact);
            if (mg_fset_cross(&run, &x.exact, &tmp)) {
                run = tmp;
                mg_fset_consider(&best, &run); /* before it grows past MG_FACTORS_MAX */
            } else {
                mg_fset_consider(&best, &run);
                run = x.exact;
                all_exact = false;
            }
        } else {
            mg_fset_consider(&best, &run);
            mg_fset_empty_string(&run);
            all_exact = false;
        }
    }
    mg_fset_consider(&best, &run);
    out->best = best;
    if (all_exact)
        out->exact = run;
    else
        mg_fset_unknown(&out->exact);
}

static void parse_alt(fparser *P, finfo *out)
{
    parse_concat(P, out);
    if (P->bad)
        return;
    bool exact_ok = out->exact.n >= 0;
    mg_fset best = out->best;
    mg_fset_consider(&best, &out->exact);
    bool best_ok = mg_fset_score(&best) > 0;
    while (!P->bad && !at_end(P) && P->re[P->i] == '|') {
        P->i++;
        finfo y;
        parse_concat(P, &y);
        if (P->bad)
            return;
        out->minw = MG_MIN(out->minw, y.minw);
        out->maxw = MG_MAX(out->maxw, y.maxw);
        mg_fset yb = y.best;
        mg_fset_consider(&yb, &y.exact);
        exact_ok = exact_ok && y.exact.n >= 0 && mg_fset_unite(&out->exact, &y.exact, &out->exact);
        best_ok = best_ok && mg_fset_score(&yb) > 0 && mg_fset_unite(&best, &yb, &best) &&
                  best.n <= MG_FACTORS_MAX;
    }
    if (!exact_ok)
        mg_fset_unknown(&out->exact);
    if (best_ok)
        out->best = best;
    else
        mg_fset_unknown(&out->best);
}

static int factors(const char *re, size_t len, unsigned hs_flags, mg_factor *out,
                   mg_regex_shape *shape, bool any_repeat);

int mg_regex_factors(const char *re, size_t len, unsigned hs_flags, mg_factor *out,
                     mg_regex_shape *shape)
{
    return factors(re, len, hs_flags, out, shape, false);
}

int mg_regex_factors_exact(const char *re, size_t len, unsigned hs_flags, mg_factor *out,
                           mg_regex_shape *shape)
{
    return factors(re, len, hs_flags, out, shape, true);
}

static int factors(const char *re, size_t len, unsigned hs_flags, mg_factor *out,
                   mg_regex_shape *shape, bool any_repeat)
{
    if (shape)
        memset(shape, 0, sizeof(*shape));
    /* flags that change what a byte matches, or how matches are reported */
    if (hs_flags &
        ~(unsigned)(HS_FLAG_CASELESS | HS_FLAG_DOTALL | HS_FLAG_MULTILINE | HS_FLAG_SOM_LEFTMOST))
        return 0;
    fparser P = {.re = re, .len = len, .any_repeat = any_repeat};
    finfo top;
    parse_alt(&P, &top);
    if (P.bad || !at_end(&P))
        return 0;
    if (shape) {
        shape->min_width = (unsigned)MG_MIN(top.minw, UINT32_MAX - 1);
        shape->max_width = top.maxw >= UINT32_MAX ? UINT32_MAX : (unsigned)top.maxw;
        shape->sure = !P.unsure && top.minw > 0;
    }
    mg_fset best = top.best;
    mg_fset_consider(&best, &top.exact);
    if (mg_fset_score(&best) < MG_FACTOR_MIN || best.n > MG_FACTORS_MAX)
        return 0;
    for (int k = 0; k < best.n; k++) {
        out[k].len = best.len[k];
        memcpy(out[k].s, best.s[k], best.len[k]);
    }
    return best.n;
}
