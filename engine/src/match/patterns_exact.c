/* patterns_exact.c - regexes Hyperscan refuses ("Pattern is too large":
 * bounded repeats such as [^\n]{1,300}; embedded end anchors; YARA's wide
 * regexes with \b), found through the literal factors of a relaxed form
 * that Hyperscan takes (the regex itself, or with anchors and \b left out:
 * a superset, so its factors are required of every match) and confirmed by
 * PCRE2 at each start a factor hit allows (matcher.c). PCRE2 with
 * PCRE2_DOLLAR_ENDONLY and without UTF reads the regex as YARA's engine
 * does: bytes, greedy, $ only at the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"

void *mg_exact_compile(const char *re, unsigned hs_flags, char *msg, size_t cap)
{
    uint32_t opts = PCRE2_DOLLAR_ENDONLY | ((hs_flags & HS_FLAG_CASELESS) ? PCRE2_CASELESS : 0) |
                    ((hs_flags & HS_FLAG_DOTALL) ? PCRE2_DOTALL : 0) |
                    ((hs_flags & HS_FLAG_MULTILINE) ? PCRE2_MULTILINE : 0);
    int code;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (!c) {
        char m[160];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)m, sizeof(m));
        snprintf(msg, cap, "%s at offset %zu", m, (size_t)off);
        return NULL;
    }
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* optional: matching works without */
    return c;
}

void mg_exact_free(void *code)
{
    pcre2_code_free(code);
}

void mg_exact_match_data_free(void *md)
{
    pcre2_match_data_free(md);
}

long mg_exact_match(void *code, void **md, const uint8_t *buf, size_t len, size_t start)
{
    if (!*md && !(*md = pcre2_match_data_create(1, NULL)))
        return -2;
    int rc = pcre2_match(code, buf, len, start, PCRE2_ANCHORED, *md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH)
        return -1;
    if (rc < 0)
        return -2;
    return (long)pcre2_get_ovector_pointer(*md)[1];
}

/* How far the {m,n} repeats of variable count in re span (n - m summed;
 * {m,} counts 1000). From 32 on Hyperscan's SOM may run out (measured on
 * signature-base: hex jumps [0-64] [0-32] ... together); from 60 on it
 * often does, and finding that out takes a second or more per regex:
 * 92% of a signature-base load's time went to the 68 regexes it refused,
 * all of them spanning 60 or more. */
static unsigned long repeat_span(const char *re)
{
    unsigned long span = 0;
    for (const char *c = strchr(re, '{'); c; c = strchr(c + 1, '{')) {
        char *e;
        unsigned long lo = strtoul(c + 1, &e, 10);
        if (e == c + 1 || *e != ',')
            continue;
        const char *h = e + 1;
        unsigned long hi = strtoul(h, &e, 10);
        if (*e == '}')
            span += e == h ? 1000 : hi > lo ? hi - lo : 0;
    }
    return span;
}

/* A ^ or $ inside re (not at the start or end of it or of a branch):
 * Hyperscan refuses embedded anchors when compiling the database. */
static bool embedded_anchor(const char *re)
{
    bool in_class = false;
    for (size_t i = 0; re[i]; i++) {
        char c = re[i];
        if (c == '\\' && re[i + 1])
            i++;
        else if (c == '[' && !in_class)
            in_class = true;
        else if (c == ']')
            in_class = false;
        else if (!in_class && c == '$' && re[i + 1] && !strchr(")|", re[i + 1]))
            return true;
        else if (!in_class && c == '^' && i > 0 && !strchr("(|", re[i - 1]))
            return true;
    }
    return false;
}

bool mg_exact_needed(const char *re, unsigned hs_flags)
{
    mg_factor f[MG_FACTORS_MAX];
    if (embedded_anchor(re))
        return true;
    unsigned long span = repeat_span(re);
    if (span < 32)
        return false;
    mg_regex_shape shape;
    if (span >= 60 && mg_regex_factors_exact(re, strlen(re), hs_flags, f, &shape) > 0 &&
        shape.max_width != UINT32_MAX)
        return true; /* bounded, with factors: PCRE2 confirms it, no trial compile */
    if (mg_regex_factors(re, strlen(re), hs_flags, f, NULL) <= 0 &&
        mg_regex_factors_exact(re, strlen(re), hs_flags, f, NULL) > 0)
        return true; /* a repeat too long for the factor parser's Hyperscan rule */
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    hs_error_t hr =
        hs_compile(re, hs_flags | HS_FLAG_SOM_LEFTMOST, HS_MODE_BLOCK, NULL, &db, &cerr);
    bool refused = hr != HS_SUCCESS && cerr && strstr(cerr->message, "too large");
    hs_free_compile_error(cerr);
    hs_free_database(db);
    return refused;
}

char *mg_regex_relax(const char *re)
{
    mg_strbuf b = {0};
    bool in_class = false;
    for (size_t i = 0; re[i]; i++) {
        char c = re[i];
        if (c == '\\' && re[i + 1]) {
            if (in_class || (re[i + 1] != 'b' && re[i + 1] != 'B'))
                mg_sb_putn(&b, re + i, 2);
            i++;
            continue;
        }
        if (!in_class && (c == '^' || c == '$'))
            continue;
        if (c == '[' && !in_class) {
            in_class = true;
            mg_sb_putn(&b, re + i, 1);
            if (re[i + 1] == '^')
                mg_sb_putn(&b, re + ++i, 1);
            if (re[i + 1] == ']')
                mg_sb_putn(&b, re + ++i, 1);
            continue;
        }
        if (c == ']')
            in_class = false;
        mg_sb_putn(&b, re + i, 1);
    }
    if (b.oom || !b.s) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

int mg_exact_expr(const mg_pat *pat, unsigned id, const char *re, const char *relaxed,
                  unsigned hs_flags, bool wide, uint8_t check, mg_expr *out, mg_error *err)
{
    char msg[200], shown[128];
    void *code = mg_exact_compile(re, hs_flags, msg, sizeof(msg));
    if (!code)
        return mg_fail(err, MG_EPATTERN, "%s: invalid regex pattern '%s': %s", pat->source,
                       mg_pattern_show(pat->text, pat->len, shown, sizeof(shown)), msg);
    mg_exact_free(code);
    mg_factor f[MG_FACTORS_MAX];
    mg_regex_shape shape;
    int n = mg_regex_factors_exact(relaxed, strlen(relaxed), hs_flags, f, &shape);
    bool prefilter = false;
    if (n <= 0 && shape.max_width > 0 && shape.min_width > 0) {
        /* no factor: Hyperscan's prefilter mode finds candidate ends */
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *cerr = NULL;
        prefilter =
            hs_expression_info(relaxed, hs_flags | HS_FLAG_PREFILTER, &info, &cerr) == HS_SUCCESS;
        free(info);
        hs_free_compile_error(cerr);
    }
    if ((n <= 0 && !prefilter) || shape.max_width > MG_LAZY_MAX_WIDTH)
        return mg_fail(err, MG_EPATTERN,
                       "%s: regex pattern '%s': Hyperscan refuses it and it has %s", pat->source,
                       mg_pattern_show(pat->text, pat->len, shown, sizeof(shown)),
                       n <= 0 ? "no literal factor to find it by" : "no bounded width");
    *out = (mg_expr){
        .re = strdup(re),
        .fre = strdup(relaxed),
        .hs_flags = hs_flags,
        .pattern_id = id,
        .wide = wide,
        .som = true,
        .width = shape.min_width,
        .max_width = shape.max_width,
        .check = check,
        .regex = true,
        .checked = true,
        .exact = true,
        .prefilter = prefilter,
    };
    if (!out->re || !out->fre) {
        free(out->re), free(out->fre);
        return mg_fail(err, -ENOMEM, "out of memory");
    }
    return 0;
}
