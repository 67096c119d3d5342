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
 * factor_set.c. */
#include <stdbool.h>
#include <string.h>

#include <hs/hs.h>

#include "limits_internal.h"
#include "match/factor_set.h"
#include "match/patterns_internal.h"
#include "util.h"

#define DEPTH_MAX 64 /* nesting of groups */

#define UNB ((uint64_t)1 << 40) /* an unbounded width */

typedef struct finfo {
    mg_fset exact;
    mg_fset best; /* n <= 0: none */
    uint64_t minw, maxw; /* widths in bytes (maxw UNB: unbounded) */
} finfo;

typedef struct fparser {
    const char *re;
    size_t len, i;
    bool bad; /* a construct we do not know: no factors */
    bool unsure; /* known, but Hyperscan might refuse it: let it check */
    bool any_repeat; /* long bounded repeats are fine (PCRE2 confirms: patterns_exact.c) */
    int depth;
} fparser;

static void parse_alt(fparser *P, finfo *out);

static bool at_end(const fparser *P)
{
    return P->i >= P->len;
}

/* A class "[...]": exact when it holds at most 4 bytes, and nothing but
 * bytes, escaped bytes and ranges. */
static void parse_class(fparser *P, finfo *out)
{
    const char *re = P->re;
    size_t i = P->i + 1;
    bool neg = false, known = true;
    bool members[256] = {false};
    if (i < P->len && re[i] == '^')
        neg = true, i++;
    bool first = true;
    int prev = -1; /* the last single byte, for a range */
    while (i < P->len && (re[i] != ']' || first)) {
        first = false;
        int c;
        if (re[i] == '[' && i + 1 < P->len &&
            (re[i + 1] == ':' || re[i + 1] == '=' || re[i + 1] == '.')) {
            const char *close = i + 2 < P->len ? memchr(re + i + 2, ']', P->len - i - 2) : NULL;
            if (!close) {
                P->bad = true;
                return;
            }
            i = (size_t)(close - re) + 1;
            known = false, prev = -1;
            P->unsure = true; /* a name Hyperscan may not know */
            continue;
        }
        if (re[i] == '\\') {
            if (i + 1 >= P->len) {
                P->bad = true;
                return;
            }
            char e = re[i + 1];
            if (e == 'x' && i + 2 < P->len && re[i + 2] != '{') {
                size_t j = i + 2;
                int v = 0;
                while (j < P->len && j < i + 4 && mg_hexval(re[j]) >= 0)
                    v = v * 16 + mg_hexval(re[j++]);
                P->unsure |= j == i + 2;
                c = v;
                i = j;
            } else if (strchr("dDwWsShHvVpPNRX", e)) {
                known = false, prev = -1;
                P->unsure |= !strchr("dDwWsShHvV", e);
                i += 2;
                if ((e == 'p' || e == 'P') && i < P->len && re[i] == '{') {
                    const char *close = memchr(re + i, '}', P->len - i);
                    if (!close) {
                        P->bad = true;
                        return;
                    }
                    i = (size_t)(close - re) + 1;
                } else if (e == 'p' || e == 'P')
                    i++;
                continue;
            } else if (e == 'n' || e == 'r' || e == 't' || e == 'f' || e == 'e' || e == 'a') {
                c = e == 'n'   ? 10
                    : e == 'r' ? 13
                    : e == 't' ? 9
                    : e == 'f' ? 12
                    : e == 'e' ? 27
                               : 7;
                i += 2;
            } else if ((e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
                       (unsigned char)e >= 0x80) {
                P->bad = true; /* \b (backspace in a class), octal, \Q, \c...: not worth it */
                return;
            } else {
                c = (unsigned char)e;
                i += 2;
            }
        } else if (re[i] == '-' && prev >= 0 && i + 1 < P->len && re[i + 1] != ']') {
            /* a range prev-hi */
            i++;
            int hi;
            if (re[i] == '\\' && i + 3 < P->len && re[i + 1] == 'x' && mg_hexval(re[i + 2]) >= 0 &&
                mg_hexval(re[i + 3]) >= 0 && (i + 4 >= P->len || mg_hexval(re[i + 4]) < 0)) {
                hi = mg_hexval(re[i + 2]) << 4 | mg_hexval(re[i + 3]); /* [\x00-\xFF] */
                i += 4;
                P->unsure = true;
            } else if (re[i] == '\\' || re[i] == '[') {
                P->bad = true; /* other escaped range ends: rare */
                return;
            } else
                hi = (unsigned char)re[i++];
            if (hi < prev) {
                P->bad = true;
                return;
            }
            for (int k = prev; k <= hi; k++)
                members[k] = true;
            prev = -1;
            continue;
        } else {
            c = (unsigned char)re[i++];
            P->unsure |= c >= 0x80;
        }
        members[c] = true;
        prev = c;
    }
    if (i >= P->len) {
        P->bad = true;
        return;
    }
    P->i = i + 1;
    mg_fset_unknown(&out->exact);
    mg_fset_unknown(&out->best);
    out->minw = out->maxw = 1;
    if (neg || !known)
        return;
    bool any = false;
    for (int k = 0; k < 256; k++)
        any |= members[k];
    P->unsure |= !any;
    mg_fset s = {0};
    for (int k = 0; k < 256; k++)
        if (members[k]) {
            uint8_t b = (uint8_t)k;
            if (s.n == 4)
                return;
            mg_fset_add(&s, &b, 1);
        }
    if (s.n > 0)
        out->exact = s;
}

/* One escape outside a class. */
static void parse_escape(fparser *P, finfo *out)
{
    const char *re = P->re;
    size_t i = P->i;
    mg_fset_unknown(&out->exact);
    mg_fset_unknown(&out->best);
    if (i + 1 >= P->len) {
        P->bad = true;
        return;
    }
    char e = re[i + 1];
    P->i = i + 2;
    out->minw = out->maxw = strchr("bBAzZG", e) ? 0 : 1;
    P->unsure |= e == 'G';
    if (e == 'x') {
        if (P->i < P->len && re[P->i] == '{') {
            P->bad = true;
            return;
        }
        int v = 0;
        size_t j = P->i;
        while (j < P->len && j < i + 4 && mg_hexval(re[j]) >= 0)
            v = v * 16 + mg_hexval(re[j++]);
        P->unsure |= j == P->i;
        P->i = j;
        mg_fset_byte(&out->exact, (uint8_t)v);
    } else if (strchr("bBAzZG", e)) {
        mg_fset_empty_string(&out->exact);
    } else if (strchr("dDwWsShHvVNRXC", e)) {
        /* a class: unknown */
        P->unsure |= !strchr("dDwWsShHvV", e);
    } else if (e == 'p' || e == 'P') {
        P->unsure = true;
        if (P->i < P->len && re[P->i] == '{') {
            const char *close = memchr(re + P->i, '}', P->len - P->i);
            if (!close) {
                P->bad = true;
                return;
            }
            P->i = (size_t)(close - re) + 1;
        } else
            P->i++;
    } else if (e == 'n' || e == 'r' || e == 't' || e == 'f' || e == 'e' || e == 'a') {
        mg_fset_byte(&out->exact, (uint8_t)(e == 'n'   ? 10
                                            : e == 'r' ? 13
                                            : e == 't' ? 9
                                            : e == 'f' ? 12
                                            : e == 'e' ? 27
                                                       : 7));
    } else if ((e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
               (unsigned char)e >= 0x80) {
        P->bad = true; /* back references, octal, \Q..\E, \K, \c, \o, \g, \k... */
    } else {
        mg_fset_byte(&out->exact, (uint8_t)e);
    }
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
        parse_class(P, out);
    } else if (c == '\\') {
        parse_escape(P, out);
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
