/* yara_strings.c - a rule's strings section into patterns of the set's
 * one Hyperscan database: modifiers (nocase, wide, ascii, fullword,
 * private, xor, base64, base64wide), text strings expanded into their
 * forms (base64's in yara_base64.c), hex strings rewritten as regexes (yara_hex.c), regexes. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"
#include "yara/yara.h"
#include "yara/yara_internal.h"

/* ---- strings into patterns --------------------------------------------- */

typedef struct strmods {
    unsigned m;
    int xor_lo, xor_hi;
    char alphabet[65]; /* base64 alphabet */
} strmods;

static void sb_bytes_escaped(mg_strbuf *b, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mg_sb_hexbyte(b, s[i]);
}

int yara_add_literal(parser *P, unsigned id, const uint8_t *s, size_t n, unsigned hs_flags,
                     bool wide, uint8_t check)
{
    mg_strbuf b = {0};
    sb_bytes_escaped(&b, s, n);
    if (b.oom) {
        free(b.s);
        FAIL(P, "out of memory");
        return -ENOMEM;
    }
    int rc = mg_patterns_add_owned_expr(P->p, id, b.s, hs_flags, wide, (unsigned)n, check, P->err);
    free(b.s);
    if (rc < 0)
        P->failed = true;
    return rc;
}

/* YARA's wide: a zero after every byte. */
uint8_t *yara_widen(const uint8_t *s, size_t n)
{
    uint8_t *w = malloc(2 * n + 1);
    for (size_t i = 0; w && i < n; i++) {
        w[2 * i] = s[i];
        w[2 * i + 1] = 0;
    }
    return w;
}

static int compile_text(parser *P, unsigned id, const uint8_t *s, size_t n, const strmods *md)
{
    unsigned m = md->m;
    bool ascii = (m & SM_ASCII) || !(m & SM_WIDE);
    int rc = 0;
    uint8_t *w = (m & SM_WIDE) ? yara_widen(s, n) : NULL;
    if ((m & SM_WIDE) && !w) {
        FAIL(P, "out of memory");
        return -ENOMEM;
    }
    if (m & (SM_BASE64 | SM_BASE64WIDE)) {
        rc = yara_text_base64(P, id, s, w, n, m, md->alphabet);
        free(w);
        return rc;
    }
    uint8_t *x = malloc(2 * n + 1);
    if (!x) {
        free(w);
        FAIL(P, "out of memory");
        return -ENOMEM;
    }
    for (int form = 0; form < 2 && rc == 0; form++) {
        bool wide = form == 1;
        if ((wide && !(m & SM_WIDE)) || (!wide && !ascii))
            continue;
        const uint8_t *src = wide ? w : s;
        size_t len = wide ? 2 * n : n;
        uint8_t check = !(m & SM_FULLWORD) ? MG_CHECK_NONE
                        : wide             ? MG_CHECK_FULLWORD_WIDE
                                           : MG_CHECK_FULLWORD;
        if (m & SM_XOR) {
            for (int k = md->xor_lo; k <= md->xor_hi && rc == 0; k++) {
                for (size_t i = 0; i < len; i++)
                    x[i] = src[i] ^ (uint8_t)k;
                rc = yara_add_literal(P, id, x, len, 0, wide, check);
            }
        } else
            rc = yara_add_literal(P, id, src, len, (m & SM_NOCASE) ? HS_FLAG_CASELESS : 0, wide,
                                  check);
    }
    free(w);
    free(x);
    return rc;
}

static bool parse_modifiers(parser *P, strmods *md, int kind, int line)
{
    md->xor_lo = 0;
    md->xor_hi = 255;
    while (P->L->tok == T_IDENT && !P->failed) {
        static const struct {
            const char *name;
            unsigned bit;
            unsigned kinds; /* 1 text, 2 hex, 4 regex */
        } mods[] = {
            {"nocase", SM_NOCASE, 5},   {"wide", SM_WIDE, 5},
            {"ascii", SM_ASCII, 5},     {"fullword", SM_FULLWORD, 5},
            {"private", SM_PRIVATE, 7}, {"xor", SM_XOR, 1},
            {"base64", SM_BASE64, 1},   {"base64wide", SM_BASE64WIDE, 1},
        };
        size_t i;
        for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
            if (!strcmp(P->L->name, mods[i].name))
                break;
        if (i == sizeof(mods) / sizeof(mods[0]))
            break; /* 'condition' */
        if (!(mods[i].kinds & (1u << kind))) {
            FAIL(P, "modifier %s is not allowed on %s strings", mods[i].name,
                 kind == 1 ? "hex" : "regex");
            return false;
        }
        if (md->m & mods[i].bit) {
            FAIL(P, "duplicated modifier %s", mods[i].name);
            return false;
        }
        md->m |= mods[i].bit;
        next(P);
        if (mods[i].bit == SM_XOR && accept(P, '(')) {
            if (P->L->tok != T_INT || P->L->ival > 255) {
                FAIL(P, "xor: expected a key from 0 to 255");
                return false;
            }
            md->xor_lo = md->xor_hi = (int)P->L->ival;
            next(P);
            if (accept(P, '-')) {
                if (P->L->tok != T_INT || P->L->ival > 255 || P->L->ival < md->xor_lo) {
                    FAIL(P, "xor: expected a range of keys from 0 to 255");
                    return false;
                }
                md->xor_hi = (int)P->L->ival;
                next(P);
            }
            if (!yara_expect(P, ')', "')'"))
                return false;
        } else if ((mods[i].bit & (SM_BASE64 | SM_BASE64WIDE)) && accept(P, '(')) {
            if (P->L->tok != T_TEXT || P->L->tlen != 64) {
                FAIL(P, "base64: the alphabet must be 64 bytes");
                return false;
            }
            memcpy(md->alphabet, P->L->text, 64);
            next(P);
            if (!yara_expect(P, ')', "')'"))
                return false;
        }
    }
    unsigned m = md->m;
    if (P->failed)
        return false;
    if ((m & SM_XOR) && (m & (SM_NOCASE | SM_BASE64 | SM_BASE64WIDE))) {
        yara_fail_at(P, line, false, "xor cannot be combined with nocase, base64 or base64wide");
        return false;
    }
    if ((m & (SM_BASE64 | SM_BASE64WIDE)) && (m & (SM_NOCASE | SM_FULLWORD))) {
        yara_fail_at(P, line, false, "base64 cannot be combined with nocase or fullword");
        return false;
    }
    return true;
}

/* One "$id = value modifiers" of the strings section. */
/* ---- identical strings --------------------------------------------------- */

/* What makes two strings identical: kind, modifiers but private, value. */
static uint8_t *string_key(int kind, unsigned re_flags, const strmods *md, const char *value,
                           size_t n, size_t *len)
{
    struct {
        int32_t kind;
        uint32_t re_flags, m;
        int32_t xor_lo, xor_hi;
        char alphabet[65];
    } h;
    memset(&h, 0, sizeof(h));
    h.kind = kind;
    h.re_flags = re_flags;
    h.m = md->m & ~(unsigned)SM_PRIVATE;
    h.xor_lo = md->xor_lo;
    h.xor_hi = md->xor_hi;
    memcpy(h.alphabet, md->alphabet, sizeof(h.alphabet));
    uint8_t *k = malloc(sizeof(h) + n + 1);
    if (k) {
        memcpy(k, &h, sizeof(h));
        memcpy(k + sizeof(h), value, n);
    }
    *len = sizeof(h) + n;
    return k;
}

static size_t key_hash(const uint8_t *k, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* The first string of that key, or -1. */
static int64_t find_same(const mg_yara *y, const uint8_t *k, size_t n)
{
    if (!y->same_cap)
        return -1;
    for (size_t h = key_hash(k, n);; h++) {
        uint32_t e = y->same_index[h & (y->same_cap - 1)];
        if (!e)
            return -1;
        const yara_string *s = e - 1 < y->n_strings ? &y->strings[e - 1] : NULL;
        if (s && s->list == e - 1 && s->key_len == n && !memcmp(s->key, k, n))
            return e - 1;
    }
}

static void index_put(mg_yara *y, uint32_t i)
{
    const yara_string *s = &y->strings[i];
    size_t h = key_hash(s->key, s->key_len);
    while (y->same_index[h & (y->same_cap - 1)])
        h++;
    y->same_index[h & (y->same_cap - 1)] = i + 1;
    y->same_used++;
}

/* Index string i, the first of its key; false if out of memory (it is
 * then only not shared). */
static bool index_string(mg_yara *y, uint32_t i)
{
    if (2 * (y->same_used + 1) > y->same_cap) {
        size_t cap = y->same_cap ? 2 * y->same_cap : 1024;
        uint32_t *ni = calloc(cap, sizeof(*ni));
        if (!ni)
            return false;
        free(y->same_index);
        y->same_index = ni;
        y->same_cap = cap;
        y->same_used = 0;
        for (uint32_t j = 0; j < i; j++)
            if (y->strings[j].list == j && y->strings[j].key)
                index_put(y, j);
    }
    index_put(y, i);
    return true;
}

/* A hex string of bytes alone (kind 1), or a regex of literal characters
 * (2): what yara's parser takes for a literal (re.c,
 * yr_re_ast_extract_literal). Conservative: anything else is not. */
static bool plain_bytes(const char *raw, size_t n, int kind)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (kind == 1   ? !isxdigit(c) && !isspace(c)
            : c == '\\' ? i + 1 >= n || isalnum((unsigned char)raw[++i])
                        : !!strchr("^$.|?*+()[]{}", c))
            return false;
    }
    return true;
}

bool yara_parse_string(parser *P)
{
    lexer *L = P->L;
    char id[256], source[700];
    int line = L->tline;
    snprintf(id, sizeof(id), "%s", L->name);
    if (L->wild)
        return FAIL(P, "invalid string identifier %s*", id), false;
    if (strcmp(id, "$") && yara_find_string(P, id) >= 0)
        return FAIL(P, "duplicated string identifier \"%s\"", id), false;
    next(P);
    if (P->failed || L->tok != '=')
        return yara_expect(P, '=', "'='"), false;
    /* the value: read raw from after '=' */
    const char *p = L->p;
    while (p < L->end && (*p == ' ' || *p == '\t'))
        p++;
    int kind; /* 0 text, 1 hex, 2 regex */
    const char *raw = NULL;
    size_t rawlen = 0;
    uint8_t *text = NULL;
    size_t tlen = 0;
    unsigned re_flags = 0;
    if (p < L->end && *p == '{') {
        kind = 1;
        L->p = p;
        if (!yara_raw_until(P, '}', &raw, &rawlen))
            return false;
        next(P);
    } else if (p < L->end && *p == '/') {
        kind = 2;
        L->p = p;
        if (!yara_raw_until(P, '/', &raw, &rawlen))
            return false;
        while (L->p < L->end && (*L->p == 'i' || *L->p == 's')) {
            re_flags |= *L->p == 'i' ? HS_FLAG_CASELESS : HS_FLAG_DOTALL;
            L->p++;
        }
        next(P);
    } else {
        kind = 0;
        next(P);
        if (L->tok != T_TEXT)
            return FAIL(P, "expected a text string, a hex string or a regular expression for %s",
                        id),
                   false;
        text = (uint8_t *)L->text;
        tlen = L->tlen;
        L->text = NULL;
        next(P);
        if (tlen == 0) {
            free(text);
            return FAIL(P, "empty string %s", id), false;
        }
    }
    strmods md = {0};
    if (P->failed || !parse_modifiers(P, &md, kind, line)) {
        free(text);
        return false;
    }
    mg_yara *y = P->y;
    if (y->n_strings == y->cap_strings) {
        size_t cap = y->cap_strings ? 2 * y->cap_strings : 32;
        yara_string *ns = realloc(y->strings, cap * sizeof(*ns));
        if (!ns) {
            free(text);
            return FAIL(P, "out of memory"), false;
        }
        y->strings = ns;
        y->cap_strings = cap;
    }
    snprintf(source, sizeof(source), "%s:%d: rule %s: %s", L->file, line, P->rule->name, id);
    const char *ptext = kind == 0 ? (const char *)text : raw;
    size_t plen = kind == 0 ? tlen : rawlen;
    size_t key_len;
    uint8_t *key = string_key(kind, re_flags, &md, ptext ? ptext : "", plen, &key_len);
    char *sid = strdup(id);
    if (!key || !sid) {
        free(text), free(key), free(sid);
        return FAIL(P, "out of memory"), false;
    }
    int64_t same = find_same(y, key, key_len);
    if (same >= 0) {
        /* found by the first one's pattern, with its matches */
        y->strings[y->n_strings++] = (yara_string){.id = sid,
                                                   .pattern_id = y->strings[same].pattern_id,
                                                   .private_ = (md.m & SM_PRIVATE) != 0,
                                                   .list = (uint32_t)same,
                                                   .key = key,
                                                   .key_len = key_len,
                                                   .literal = y->strings[same].literal};
        P->rule->n_strings++;
        free(text);
        return true;
    }
    int pid =
        mg_patterns_add_owned(P->p,
                              kind == 0   ? MG_PATTERN_LITERAL
                              : kind == 1 ? MG_PATTERN_HEX
                                          : MG_PATTERN_REGEX,
                              ptext ? ptext : "", plen, source, (uint32_t)y->n_strings + 1, P->err);
    if (pid < 0) {
        free(text), free(key), free(sid);
        P->failed = true;
        return false;
    }
    uint32_t si = (uint32_t)y->n_strings++;
    y->strings[si] = (yara_string){.id = sid,
                                   .pattern_id = (unsigned)pid,
                                   .private_ = (md.m & SM_PRIVATE) != 0,
                                   .list = si,
                                   .key = key,
                                   .key_len = key_len,
                                   .literal = kind == 0 ? !(md.m & (SM_BASE64 | SM_BASE64WIDE))
                                                        : plain_bytes(raw, rawlen, kind)};
    P->rule->n_strings++;
    int rc = 0;
    L->tline = line; /* errors of the value name its line */
    if (kind == 0)
        rc = compile_text(P, (unsigned)pid, text, tlen, &md);
    else if (kind == 1) {
        mg_strbuf b = {0};
        rc = yara_hex_to_regex(P, raw, rawlen, &b);
        if (rc == 0 && b.oom)
            rc = -1, FAIL(P, "out of memory");
        if (rc == 0 && mg_patterns_add_owned_expr(P->p, (unsigned)pid, b.s, HS_FLAG_DOTALL, false,
                                                  0, 0, P->err) < 0)
            rc = -1, P->failed = true;
        free(b.s);
    } else {
        char *re = strndup(raw, rawlen);
        /* YARA's "\/" in a regex is a slash */
        mg_strbuf b = {0};
        for (size_t i = 0; re && i < rawlen; i++) {
            if (re[i] == '\\' && i + 1 < rawlen && re[i + 1] == '/')
                i++;
            mg_sb_putn(&b, re + i, 1);
        }
        unsigned fl = re_flags | ((md.m & SM_NOCASE) ? HS_FLAG_CASELESS : 0);
        bool ascii = (md.m & SM_ASCII) || !(md.m & SM_WIDE);
        uint8_t check = (md.m & SM_FULLWORD) ? MG_CHECK_FULLWORD : 0;
        if (!re || b.oom || !b.s)
            rc = -1, FAIL(P, "out of memory");
        if (rc == 0 && ascii &&
            mg_patterns_add_owned_expr(P->p, (unsigned)pid, b.s, fl, false, 0, check, P->err) < 0)
            rc = -1, P->failed = true;
        if (rc == 0 && (md.m & SM_WIDE)) {
            char *w = NULL;
            size_t bad = 0;
            char *x = NULL, *r = NULL;
            uint8_t wcheck = (md.m & SM_FULLWORD) ? MG_CHECK_FULLWORD_WIDE : 0;
            if (mg_regex_widen(b.s, b.n, &w, &bad) < 0) {
                /* \b: YARA's wide word boundary, confirmed by PCRE2 */
                if (mg_regex_widen_ex(b.s, b.n, 1, &x, &bad) < 0 ||
                    mg_regex_widen_ex(b.s, b.n, 2, &r, &bad) < 0)
                    rc = -1, FAIL(P, "%s: regular expression has no wide form (anchors)", id);
                else if (mg_patterns_add_exact_expr(P->p, (unsigned)pid, x, r, fl, true, wcheck,
                                                    P->err) < 0)
                    rc = -1, P->failed = true;
                free(x), free(r);
            } else if (mg_patterns_add_owned_expr(P->p, (unsigned)pid, w, fl, true, 0,
                                                  (md.m & SM_FULLWORD) ? MG_CHECK_FULLWORD_WIDE : 0,
                                                  P->err) < 0)
                rc = -1, P->failed = true;
            free(w);
        }
        free(b.s);
        free(re);
    }
    free(text);
    if (rc == 0 && !P->failed)
        index_string(y, si); /* not indexed (no memory): only not shared */
    return rc == 0 && !P->failed;
}
