/* patterns_text.c - pattern text transforms: hex bytes, UTF-16LE ("wide")
 * forms of literals and regexes, and the growable string they are built in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns_internal.h"
#include "util.h"

/* ---- growable string ------------------------------------------------ */

void mg_sb_putn(mg_strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = MG_MAX(b->cap * 2, b->n + n + 64);
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_puts(mg_strbuf *b, const char *s)
{
    mg_sb_putn(b, s, strlen(s));
}

void mg_sb_hexbyte(mg_strbuf *b, uint8_t c)
{
    static const char digits[] = "0123456789abcdef";
    char t[4] = {'\\', 'x', digits[c >> 4], digits[c & 15]};
    mg_sb_putn(b, t, 4);
}

/* Printable rendering of a pattern for messages: at most ~80 bytes. */
const char *mg_pattern_show(const char *text, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)text[i];
        if (o > 76) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

/* ---- hex ------------------------------------------------------------- */

int mg_hex_parse(const char *text, size_t len, uint8_t *bytes, uint8_t *mask, size_t *bad)
{
    size_t n = 0, fixed = 0, i = 0;
    while (i < len) {
        char c = text[i];
        if (c == ' ' || c == '\t') {
            i++;
            continue;
        }
        if (i + 1 >= len) {
            *bad = len;
            return -EINVAL;
        }
        char d = text[i + 1];
        if (c == '?' && d == '?') {
            bytes[n] = 0;
            mask[n++] = 0;
        } else if (mg_hexval(c) >= 0 && mg_hexval(d) >= 0) {
            bytes[n] = (uint8_t)(mg_hexval(c) << 4 | mg_hexval(d));
            mask[n++] = 0xff;
            fixed++;
        } else {
            *bad = mg_hexval(c) >= 0 || c == '?' ? i + 1 : i;
            return -EINVAL;
        }
        i += 2;
    }
    if (fixed == 0) {
        *bad = len;
        return -EINVAL;
    }
    return (int)n;
}

/* ---- wide (UTF-16LE) forms --------------------------------------------- */

/* Decode one UTF-8 sequence; returns its length or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || n > len || s[0] > 0xf4)
        return 0;
    uint32_t v = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* Append the UTF-16LE code units of cp as \xLL\xHH escapes. */
static void sb_utf16(mg_strbuf *b, uint32_t cp)
{
    if (cp >= 0x10000) {
        cp -= 0x10000;
        uint32_t hi = 0xd800 | (cp >> 10), lo = 0xdc00 | (cp & 0x3ff);
        mg_sb_hexbyte(b, (uint8_t)hi);
        mg_sb_hexbyte(b, (uint8_t)(hi >> 8));
        mg_sb_hexbyte(b, (uint8_t)lo);
        mg_sb_hexbyte(b, (uint8_t)(lo >> 8));
        return;
    }
    mg_sb_hexbyte(b, (uint8_t)cp);
    mg_sb_hexbyte(b, (uint8_t)(cp >> 8));
}

/* A literal's UTF-16LE form: UTF-8 text is converted code point by code
 * point; bytes that are not valid UTF-8 are widened one by one. */
void mg_literal_wide(mg_strbuf *b, const char *text, size_t len, unsigned *width)
{
    const unsigned char *s = (const unsigned char *)text;
    *width = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            cp = s[i];
            n = 1;
        }
        sb_utf16(b, cp);
        *width += cp >= 0x10000 ? 4 : 2;
        i += n;
    }
}

/* Length of a {m}, {m,}, {m,n} quantifier at re[i], or 0 if it is not one. */
static size_t quantifier_len(const char *re, size_t len, size_t i)
{
    size_t j = i + 1, digits = 0;
    while (j < len && re[j] >= '0' && re[j] <= '9')
        j++, digits++;
    if (!digits)
        return 0;
    if (j < len && re[j] == ',') {
        j++;
        while (j < len && re[j] >= '0' && re[j] <= '9')
            j++;
    }
    return j < len && re[j] == '}' ? j - i + 1 : 0;
}

/* Length of the escape sequence at re[i] ('\\'), or 0 if unsupported. */
static size_t escape_len(const char *re, size_t len, size_t i)
{
    if (i + 1 >= len)
        return 0;
    char c = re[i + 1];
    if (strchr("bBAzZGQEK", c))
        return 0; /* anchors and quoting have no wide form */
    if ((c == 'x' || c == 'o' || c == 'p' || c == 'P') && i + 2 < len && re[i + 2] == '{') {
        const char *close = memchr(re + i + 2, '}', len - i - 2);
        return close ? (size_t)(close - re) - i + 1 : 0;
    }
    if (c == 'x') {
        size_t j = i + 2;
        while (j < len && j < i + 4 && mg_hexval(re[j]) >= 0)
            j++;
        return j - i;
    }
    if (c == 'c')
        return i + 2 < len ? 3 : 0;
    return 2;
}

/* Length of the class starting at re[i] ('['), or 0 if unterminated. */
static size_t class_len(const char *re, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && re[j] == '^')
        j++;
    if (j < len && re[j] == ']')
        j++;
    while (j < len && re[j] != ']') {
        if (re[j] == '\\')
            j += 2;
        else if (re[j] == '[' && j + 1 < len && re[j + 1] == ':') {
            const char *close = j + 2 < len ? memmem(re + j + 2, len - j - 2, ":]", 2) : NULL;
            j = close ? (size_t)(close - re) + 2 : j + 1;
        } else
            j++;
    }
    return j < len ? j - i + 1 : 0;
}

/* YARA's \b and \B over wide characters (a word character and a zero), as
 * PCRE2 lookarounds. */
#define WW "[A-Za-z0-9_]\\x00"
static const char wide_b[] = "(?:(?<=" WW ")(?!" WW ")|(?<!" WW ")(?=" WW "))";
static const char wide_nb[] = "(?:(?<=" WW ")(?=" WW ")|(?<!" WW ")(?!" WW "))";

int mg_regex_widen(const char *re, size_t len, char **out, size_t *bad)
{
    return mg_regex_widen_ex(re, len, 0, out, bad);
}

int mg_regex_widen_ex(const char *re, size_t len, int word_bounds, char **out, size_t *bad)
{
    mg_strbuf b = {0};
    size_t i = 0;
    while (i < len) {
        char c = re[i];
        size_t n = 0;
        if (word_bounds && c == '\\' && i + 1 < len && (re[i + 1] == 'b' || re[i + 1] == 'B')) {
            if (word_bounds == 1)
                sb_puts(&b, re[i + 1] == 'b' ? wide_b : wide_nb);
            i += 2;
            continue;
        }
        if ((c == '^' || c == '$') && word_bounds) { /* the block's start, end: as they are */
            if (word_bounds == 1)
                mg_sb_putn(&b, re + i, 1);
            i++;
            continue;
        }
        if (c == '^' || c == '$') {
            *bad = i;
            free(b.s);
            return -EINVAL;
        }
        if (c == '(') {
            /* "(", "(?:", "(?i)", "(?i:", "(?<name>" copied as they are */
            size_t j = i + 1;
            if (j < len && re[j] == '?') {
                while (j < len && re[j] != ':' && re[j] != ')' && re[j] != '>')
                    j++;
            } else
                j--;
            mg_sb_putn(&b, re + i, j - i + 1 > len - i ? len - i : j - i + 1);
            i = j + 1;
            continue;
        }
        if (c == ')' || c == '|' || c == '*' || c == '+' || c == '?') {
            mg_sb_putn(&b, re + i, 1);
            i++;
            continue;
        }
        if (c == '{' && (n = quantifier_len(re, len, i))) {
            mg_sb_putn(&b, re + i, n);
            i += n;
            continue;
        }
        /* an atom: wrap it so that a quantifier applies to the pair */
        if (c == '\\')
            n = escape_len(re, len, i);
        else if (c == '[')
            n = class_len(re, len, i);
        else if ((unsigned char)c >= 0x80) {
            uint32_t cp;
            n = utf8_decode((const unsigned char *)re + i, len - i, &cp);
            if (n) {
                sb_puts(&b, "(?:");
                sb_utf16(&b, cp);
                sb_puts(&b, ")");
                i += n;
                continue;
            }
            n = 1;
        } else
            n = 1;
        if (n == 0) {
            *bad = i;
            free(b.s);
            return -EINVAL;
        }
        sb_puts(&b, "(?:");
        mg_sb_putn(&b, re + i, n);
        sb_puts(&b, "\\x00)");
        i += n;
    }
    if (b.oom || !b.s) {
        free(b.s);
        if (!b.oom) {
            *bad = 0;
            return -EINVAL;
        }
        return -ENOMEM;
    }
    *out = b.s;
    return 0;
}
