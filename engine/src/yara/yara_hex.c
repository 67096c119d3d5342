/* yara_hex.c - a YARA hex string as a Hyperscan regex (DOTALL): bytes as
 * escapes, ?? as '.', nibble wildcards as listed classes, jumps [n-m] as
 * .{n,m}, alternatives as groups, comments skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"
#include "yara/yara.h"
#include "yara/yara_internal.h"

/* A hex string (between the braces) as a Hyperscan regex (DOTALL). */
int yara_hex_to_regex(parser *P, const char *h, size_t n, mg_strbuf *b)
{
    size_t i = 0;
    int depth = 0, fixed = 0;
    bool need = false; /* last was a jump: a byte must follow */
    while (i < n) {
        char c = h[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            i++;
            continue;
        }
        if (c == '/' && i + 1 < n && (h[i + 1] == '/' || h[i + 1] == '*')) {
            if (h[i + 1] == '/')
                while (i < n && h[i] != '\n')
                    i++;
            else {
                const char *e = i + 2 < n ? memmem(h + i + 2, n - i - 2, "*/", 2) : NULL;
                i = e ? (size_t)(e - h) + 2 : n;
            }
            continue;
        }
        if (c == '[') {
            const char *close = memchr(h + i, ']', n - i);
            if (!close) {
                FAIL(P, "invalid hex string: unterminated jump");
                return -1;
            }
            char jump[64];
            size_t jl = (size_t)(close - h) - i - 1;
            if (jl >= sizeof(jump)) {
                FAIL(P, "invalid hex string: bad jump");
                return -1;
            }
            memcpy(jump, h + i + 1, jl);
            jump[jl] = '\0';
            unsigned long lo = 0, hi = 0;
            char *e;
            char *dash = strchr(jump, '-');
            bool unbounded = false;
            if (!dash) {
                lo = hi = strtoul(jump, &e, 10);
                if (e == jump) {
                    FAIL(P, "invalid hex string: bad jump [%s]", jump);
                    return -1;
                }
            } else {
                *dash = '\0';
                char *t = jump;
                while (*t == ' ')
                    t++;
                lo = *t ? strtoul(t, &e, 10) : 0;
                t = dash + 1;
                while (*t == ' ')
                    t++;
                if (*t)
                    hi = strtoul(t, &e, 10);
                else
                    unbounded = true;
                if (!unbounded && hi < lo) {
                    FAIL(P, "invalid hex string: bad jump range [%lu-%lu]", lo, hi);
                    return -1;
                }
            }
            char rep[64];
            if (unbounded)
                snprintf(rep, sizeof(rep), ".{%lu,}", lo);
            else if (lo == hi)
                snprintf(rep, sizeof(rep), ".{%lu}", lo);
            else
                snprintf(rep, sizeof(rep), ".{%lu,%lu}", lo, hi);
            if (lo || hi || unbounded)
                mg_sb_putn(b, rep, strlen(rep));
            need = true;
            i = (size_t)(close - h) + 1;
            continue;
        }
        if (c == '(') {
            mg_sb_putn(b, "(?:", 3);
            depth++;
            i++;
            continue;
        }
        if (c == '|' || c == ')') {
            if (depth == 0) {
                FAIL(P, "invalid hex string: unbalanced '%c'", c);
                return -1;
            }
            if (c == ')')
                depth--;
            mg_sb_putn(b, &c, 1);
            i++;
            continue;
        }
        if (i + 1 >= n) {
            FAIL(P, "invalid hex string: a byte is two hex digits");
            return -1;
        }
        char d = h[i + 1];
        int hv = mg_hexval(c), lv = mg_hexval(d);
        if (c == '?' && d == '?')
            mg_sb_putn(b, ".", 1);
        else if (hv >= 0 && lv >= 0) {
            mg_sb_hexbyte(b, (uint8_t)(hv << 4 | lv));
            fixed++;
        } else if (hv >= 0 && d == '?') { /* listed: the factor parser knows no escaped range */
            mg_sb_putn(b, "[", 1);
            for (int k = 0; k < 16; k++)
                mg_sb_hexbyte(b, (uint8_t)(hv << 4 | k));
            mg_sb_putn(b, "]", 1);
        } else if (c == '?' && lv >= 0) {
            mg_sb_putn(b, "[", 1);
            for (int k = 0; k < 16; k++)
                mg_sb_hexbyte(b, (uint8_t)(k << 4 | lv));
            mg_sb_putn(b, "]", 1);
        } else {
            FAIL(P, "invalid hex string: unexpected '%c'", c);
            return -1;
        }
        need = false;
        i += 2;
    }
    if (depth || need || !b->s) {
        FAIL(P, "invalid hex string%s", need ? ": ends with a jump" : "");
        return -1;
    }
    if (!fixed) {
        FAIL(P, "invalid hex string: no fixed byte");
        return -1;
    }
    return 0;
}
