/* factor_atoms.c - the factor parser's classes and escapes (factors.c
 * parses the rest of a regex and explains the facts). */
#include <stdbool.h>
#include <string.h>

#include "match/factor_parse.h"
#include "util.h"

/* A class "[...]": exact when it holds at most 4 bytes, and nothing but
 * bytes, escaped bytes and ranges. */
void mg_fparse_class(fparser *P, finfo *out)
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
void mg_fparse_escape(fparser *P, finfo *out)
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
