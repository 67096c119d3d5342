/* patterns.c - the pattern set: adding patterns (literal, hex, regex,
 * pattern lists), their Hyperscan expressions (the text transforms are in
 * patterns_text.c); the database build is in patterns_db.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"
#include "match/vault.h"

/* ---- the set ------------------------------------------------------------- */

MG_API int mg_patterns_new(mg_patterns **out)
{
    MG_CHECK_ARG(out, NULL, "mg_patterns_new: out must not be NULL");
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    if (pthread_mutex_init(&(*out)->lazy_lock, NULL) != 0) {
        free(*out);
        *out = NULL;
        return -ENOMEM;
    }
    return 0;
}

static void free_tail(mg_patterns *p, size_t n_pats, size_t n_exprs)
{
    mg_patterns_plan_free(p);
    while (p->n > n_pats) {
        p->n--;
        /* its text stays in the vault until the set is freed */
        free(p->pats[p->n].source);
    }
    while (p->n_exprs > n_exprs) {
        free(p->exprs[--p->n_exprs].re);
        free(p->exprs[p->n_exprs].fre);
    }
}

MG_API void mg_patterns_free(mg_patterns **pp)
{
    if (!pp || !*pp)
        return;
    mg_patterns *p = *pp;
    mg_patterns_plan_free(p);
    pthread_mutex_destroy(&p->lazy_lock);
    free_tail(p, 0, 0);
    free(p->pats);
    free(p->exprs);
    if (!p->db_in_vault)
        hs_free_database(p->db);
    mg_vault_free(&p->vault);
    if (p->yara)
        p->yara_free(p->yara);
    free(p);
    *pp = NULL;
}

static void set_widths(mg_patterns *p, mg_pat *pat, unsigned id);

const char *mg_pattern_kind_name(mg_pattern_kind k)
{
    return k == MG_PATTERN_HEX ? "hex" : k == MG_PATTERN_REGEX ? "regex" : "literal";
}

/* Record an expression. Literal and hex expressions are built from escaped
 * bytes, so their width is known (fixed_width) and they cannot fail to
 * parse; a regex (fixed_width 0) is checked with Hyperscan here, so that a
 * bad one is reported with its source. Takes ownership of re. */
static int add_expr(mg_patterns *p, char *re, unsigned hs_flags, unsigned id, bool wide,
                    unsigned fixed_width, const mg_pat *pat, mg_error *err)
{
    hs_expr_info_t fixed = {.min_width = fixed_width, .max_width = fixed_width};
    hs_expr_info_t *info = fixed_width ? &fixed : NULL;
    hs_compile_error_t *cerr = NULL;
    char shown[128];
    mg_factor f[MG_FACTORS_MAX];
    mg_regex_shape shape;
    /* A regex that will be found lazily needs no hs_expression_info (for
     * bounded repeats it costs about as much as compiling it) when the
     * factor parser vouches for it: its own compile, on its first factor
     * hit, checks it. */
    if (!info && mg_regex_factors(re, strlen(re), hs_flags, f, &shape) > 0 && shape.sure) {
        fixed = (hs_expr_info_t){.min_width = shape.min_width, .max_width = shape.max_width};
        info = &fixed;
    }

    if (!info && hs_expression_info(re, hs_flags, &info, &cerr) != HS_SUCCESS) {
        int rc = mg_fail(err, MG_EPATTERN, "%s: invalid %s pattern '%s'%s: %s", pat->source,
                         mg_pattern_kind_name(pat->kind),
                         mg_pattern_show(pat->text, pat->len, shown, sizeof(shown)),
                         wide ? " (its --wide form)" : "", cerr ? cerr->message : "?");
        hs_free_compile_error(cerr);
        free(re);
        return rc;
    }
    mg_expr e = {
        .re = re,
        .hs_flags = hs_flags,
        .pattern_id = id,
        .wide = wide,
        .som = info->min_width != info->max_width,
        .width = info->min_width,
        .max_width = info->max_width == UINT_MAX ? UINT32_MAX : info->max_width,
        .regex = fixed_width == 0,
        .checked = info != &fixed || fixed_width != 0,
    };
    if (info != &fixed)
        free(info);
    if (e.som)
        e.hs_flags |= HS_FLAG_SOM_LEFTMOST;
    return mg_patterns_push_expr(p, &e, err);
}

int mg_patterns_add_exact_expr(mg_patterns *p, unsigned id, const char *re, const char *relaxed,
                               unsigned hs_flags, bool wide, uint8_t check, mg_error *err)
{
    mg_expr e;
    int r = mg_exact_expr(&p->pats[id], id, re, relaxed, hs_flags, wide, check, &e, err);
    return r < 0 ? r : mg_patterns_push_expr(p, &e, err);
}

int mg_patterns_push_expr(mg_patterns *p, const mg_expr *e, mg_error *err)
{
    if (p->n_exprs == p->cap_exprs) {
        size_t cap = p->cap_exprs ? p->cap_exprs * 2 : 16;
        mg_expr *ne = realloc(p->exprs, cap * sizeof(*ne));
        if (!ne) {
            free(e->re);
            free(e->fre);
            return mg_fail(err, -ENOMEM, "out of memory");
        }
        p->exprs = ne;
        p->cap_exprs = cap;
    }
    mg_patterns_plan_free(p);
    p->exprs[p->n_exprs++] = *e;
    if (e->exact)
        set_widths(p, &p->pats[e->pattern_id], e->pattern_id);
    return 0;
}

/* Widths of pattern id from its expressions from n_exprs on. */
/* Widths of pattern id from its expressions, which are the last ones of
 * p->exprs (a pattern's expressions are added right after it, and only the
 * last pattern added gets more): walking back from the end and stopping at
 * the first other pattern keeps adding N expressions linear, not N^2 (a
 * rule set with xor strings has thousands). */
static void set_widths(mg_patterns *p, mg_pat *pat, unsigned id)
{
    pat->min_width = UINT32_MAX;
    pat->max_width = 0;
    for (size_t i = p->n_exprs; i > 0 && p->exprs[i - 1].pattern_id == id; i--) {
        pat->min_width = MG_MIN(pat->min_width, p->exprs[i - 1].width);
        pat->max_width = MG_MAX(pat->max_width, p->exprs[i - 1].max_width);
    }
}

void mg_patterns_truncate(mg_patterns *p, size_t n_pats, size_t n_exprs)
{
    free_tail(p, n_pats, n_exprs);
}

/* Pattern p->n, zeroed but for its kind and text (in the vault) and
 * source; not yet counted (p->n is the caller's to advance). Its id, or a
 * negative code. */
static int new_pat(mg_patterns *p, mg_pattern_kind kind, const char *text, size_t len,
                   const char *source, mg_error *err)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        mg_pat *np = realloc(p->pats, cap * sizeof(*np));
        if (!np)
            return mg_fail(err, -ENOMEM, "out of memory");
        p->pats = np;
        p->cap = cap;
    }
    mg_pat *pat = &p->pats[p->n];
    memset(pat, 0, sizeof(*pat));
    pat->kind = kind;
    pat->text = mg_vault_alloc(&p->vault, len + 1, 1);
    pat->source = strdup(source);
    if (!pat->text || !pat->source) {
        free(pat->source);
        return mg_fail(err, -ENOMEM, "out of memory");
    }
    memcpy(pat->text, text, len);
    pat->text[len] = '\0';
    pat->len = len;
    return (int)p->n;
}

int mg_patterns_add_owned(mg_patterns *p, mg_pattern_kind kind, const char *text, size_t len,
                          const char *source, uint32_t owner, mg_error *err)
{
    if (p->db)
        return mg_fail(err, MG_ESTATE, "patterns already compiled");
    int r = new_pat(p, kind, text, len, source, err);
    if (r < 0)
        return r;
    p->pats[r].owner = owner;
    p->n++;
    return r;
}

int mg_patterns_add_owned_expr(mg_patterns *p, unsigned id, const char *re, unsigned hs_flags,
                               bool wide, unsigned fixed_width, uint8_t check, mg_error *err)
{
    char *copy = strdup(re);
    if (!copy)
        return mg_fail(err, -ENOMEM, "out of memory");
    mg_pat *pat = &p->pats[id];
    if (fixed_width == 0 && pat->owner && mg_exact_needed(re, hs_flags)) {
        /* bounded repeats (YARA's [^\n]{1,300}, hex jumps [0-400]) that
         * Hyperscan refuses with SOM_LEFTMOST, which it says only when
         * compiling: through factors, PCRE2 confirms them exactly */
        free(copy);
        char *relaxed = mg_regex_relax(re);
        int r = relaxed ? mg_patterns_add_exact_expr(p, id, re, relaxed, hs_flags, wide, check, err)
                        : mg_fail(err, -ENOMEM, "out of memory");
        free(relaxed);
        return r;
    }
    int rc = add_expr(p, copy, hs_flags, id, wide, fixed_width, pat, err);
    if (rc == MG_EPATTERN && fixed_width == 0) {
        /* Hyperscan refuses it: through its factors, confirmed by PCRE2 */
        char *relaxed = mg_regex_relax(re);
        mg_error e2 = {{0}};
        int r2 = relaxed
                     ? mg_patterns_add_exact_expr(p, id, re, relaxed, hs_flags, wide, check, &e2)
                     : -ENOMEM;
        free(relaxed);
        if (r2 == 0 && err)
            err->message[0] = '\0';
        else if (err && r2 == MG_EPATTERN && strstr(e2.message, "Hyperscan refuses"))
            *err = e2; /* says why PCRE2 cannot take it either */
        return r2 == 0 ? 0 : rc;
    }
    if (rc < 0)
        return rc;
    p->exprs[p->n_exprs - 1].check = check;
    set_widths(p, pat, id);
    return 0;
}

MG_API int mg_patterns_add(mg_patterns *p, mg_pattern_kind kind, const char *text, size_t len,
                           unsigned flags, const char *source, mg_error *err)
{
    char srcbuf[32], shown[128];
    if (!p || (!text && len))
        return mg_fail(err, -EINVAL, "invalid argument");
    if (p->db)
        return mg_fail(err, MG_ESTATE, "patterns already compiled");
    if (!source) {
        snprintf(srcbuf, sizeof(srcbuf), "pattern #%zu", p->n);
        source = srcbuf;
    }
    if (len == 0)
        return mg_fail(err, MG_EPATTERN, "%s: empty %s pattern", source,
                       mg_pattern_kind_name(kind));
    if (kind != MG_PATTERN_LITERAL && kind != MG_PATTERN_HEX && kind != MG_PATTERN_REGEX)
        return mg_fail(err, -EINVAL, "%s: unknown pattern kind %d", source, (int)kind);
    if (flags & ~(unsigned)(MG_PATTERN_CASELESS | MG_PATTERN_WIDE | MG_PATTERN_WORD))
        return mg_fail(err, -EINVAL, "%s: unknown pattern flags 0x%x", source, flags);
    int r = new_pat(p, kind, text, len, source, err);
    if (r < 0)
        return r;
    mg_pat *pat = &p->pats[r];
    pat->flags = (kind == MG_PATTERN_HEX ? 0 : flags & (MG_PATTERN_CASELESS | MG_PATTERN_WIDE)) |
                 (flags & MG_PATTERN_WORD);
    p->n++;

    unsigned id = (unsigned)(p->n - 1);
    size_t n_exprs = p->n_exprs;
    unsigned hs_flags = pat->flags & MG_PATTERN_CASELESS ? HS_FLAG_CASELESS : 0;
    mg_strbuf b = {0};
    int rc = 0;

    switch (kind) {
    case MG_PATTERN_LITERAL:
        for (size_t i = 0; i < len; i++)
            mg_sb_hexbyte(&b, (uint8_t)text[i]);
        if (b.oom) {
            rc = mg_fail(err, -ENOMEM, "out of memory");
            break;
        }
        rc = add_expr(p, b.s, hs_flags, id, false, (unsigned)len, pat, err);
        if (rc == 0 && (pat->flags & MG_PATTERN_WIDE)) {
            mg_strbuf w = {0};
            unsigned width;
            mg_literal_wide(&w, text, len, &width);
            rc = w.oom ? mg_fail(err, -ENOMEM, "out of memory")
                       : add_expr(p, w.s, hs_flags, id, true, width, pat, err);
        }
        break;
    case MG_PATTERN_HEX: {
        uint8_t *bytes = malloc(len), *mask = malloc(len);
        size_t bad = 0;
        int n = bytes && mask ? mg_hex_parse(text, len, bytes, mask, &bad) : -ENOMEM;
        if (n == -EINVAL)
            rc = mg_fail(err, MG_EPATTERN,
                         "%s: invalid hex pattern '%s': %s at offset %zu (expected pairs of hex "
                         "digits or ??, with at least one fixed byte)",
                         source, mg_pattern_show(text, len, shown, sizeof(shown)),
                         bad >= len ? "ends unexpectedly or has no fixed byte" : "bad character",
                         bad);
        else if (n < 0)
            rc = mg_fail(err, -ENOMEM, "out of memory");
        else {
            for (int i = 0; i < n; i++) {
                if (mask[i])
                    mg_sb_hexbyte(&b, bytes[i]);
                else
                    mg_sb_putn(&b, ".", 1);
            }
            rc = b.oom ? mg_fail(err, -ENOMEM, "out of memory")
                       : add_expr(p, b.s, HS_FLAG_DOTALL, id, false, (unsigned)n, pat, err);
        }
        free(bytes);
        free(mask);
        break;
    }
    case MG_PATTERN_REGEX: {
        char *re = strndup(text, len);
        if (!re || strlen(re) != len) {
            free(re);
            rc = re ? mg_fail(err, MG_EPATTERN,
                              "%s: invalid regex: contains a NUL byte (use \\x00)", source)
                    : mg_fail(err, -ENOMEM, "out of memory");
            break;
        }
        rc = add_expr(p, re, hs_flags, id, false, 0, pat, err);
        if (rc == 0 && (pat->flags & MG_PATTERN_WIDE)) {
            char *wre = NULL;
            size_t bad = 0;
            int wr = mg_regex_widen(text, len, &wre, &bad);
            if (wr == -EINVAL)
                rc = mg_fail(
                    err, MG_EPATTERN,
                    "%s: regex '%s' has no --wide form: unsupported construct at offset %zu "
                    "(anchors, \\b and \\Q..\\E cannot be widened)",
                    source, mg_pattern_show(text, len, shown, sizeof(shown)), bad);
            else if (wr < 0)
                rc = mg_fail(err, -ENOMEM, "out of memory");
            else
                rc = add_expr(p, wre, hs_flags, id, true, 0, pat, err);
        }
        break;
    }
    }
    if (rc < 0) {
        free_tail(p, id, n_exprs);
        return rc;
    }
    pat->min_width = UINT32_MAX;
    for (size_t i = n_exprs; i < p->n_exprs; i++) {
        pat->min_width = MG_MIN(pat->min_width, p->exprs[i].width);
        pat->max_width = MG_MAX(pat->max_width, p->exprs[i].max_width);
    }
    return (int)id;
}

/* "name:line" into out. Without printf: a list of 100,000 patterns is
 * parsed on every start, and a warm start should take milliseconds. */
static void line_source(char *out, size_t cap, const char *prefix, size_t prefix_len, size_t lineno)
{
    char digits[24];
    size_t nd = 0;
    do
        digits[nd++] = (char)('0' + lineno % 10);
    while ((lineno /= 10) && nd < sizeof(digits));
    size_t o = MG_MIN(prefix_len, cap - nd - 2);
    memcpy(out, prefix, o);
    out[o++] = ':';
    while (nd)
        out[o++] = digits[--nd];
    out[o] = '\0';
}

/* Pattern list: literal | re:REGEX | hex:BYTES | lit:LITERAL; '#' comment. */
MG_API int mg_patterns_add_list(mg_patterns *p, const char *text, size_t len, const char *name,
                                unsigned flags, mg_error *err)
{
    if (!p || (!text && len))
        return mg_fail(err, -EINVAL, "invalid argument");
    MG_CHECK_ARG(!(flags & ~(unsigned)(MG_PATTERN_CASELESS | MG_PATTERN_WIDE | MG_PATTERN_WORD)),
                 err, "mg_patterns_add_list: unknown flags 0x%x", flags);
    size_t n_pats = p->n, n_exprs = p->n_exprs, lineno = 0;
    const char *prefix = name ? name : "patterns";
    size_t prefix_len = strlen(prefix);
    const char *s = text, *end = text + len;
    int added = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        lineno++;
        if (le > s && le[-1] == '\r')
            le--;
        size_t n = (size_t)(le - s);
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++)
            blank = s[i] == ' ' || s[i] == '\t';
        if (!blank && s[0] != '#') {
            char source[600];
            mg_pattern_kind kind = MG_PATTERN_LITERAL;
            size_t skip = 0;
            if (n >= 3 && !memcmp(s, "re:", 3))
                kind = MG_PATTERN_REGEX, skip = 3;
            else if (n >= 4 && !memcmp(s, "hex:", 4))
                kind = MG_PATTERN_HEX, skip = 4;
            else if (n >= 4 && !memcmp(s, "lit:", 4))
                skip = 4;
            line_source(source, sizeof(source), prefix, prefix_len, lineno);
            int rc = mg_patterns_add(p, kind, s + skip, n - skip, flags, source, err);
            if (rc < 0) {
                free_tail(p, n_pats, n_exprs);
                return rc;
            }
            added++;
        }
        s = next;
    }
    return added;
}

MG_API int mg_patterns_add_file(mg_patterns *p, const char *path, unsigned flags, mg_error *err)
{
    MG_CHECK_ARG(p && path, err, "mg_patterns_add_file: p and path must not be NULL");
    char *buf = NULL;
    size_t len = 0;
    int rc = mg_read_file(path, &buf, &len);
    if (rc < 0)
        return mg_fail(err, rc, "cannot read pattern file '%s': %s", path, mg_strerror(rc));
    rc = mg_patterns_add_list(p, buf, len, path, flags, err);
    mg_wipe_free(buf, len);
    return rc;
}

MG_API size_t mg_patterns_count(const mg_patterns *p)
{
    return p ? p->n : 0;
}

MG_API int mg_patterns_info(const mg_patterns *p, unsigned id, mg_pattern_info *info)
{
    if (!p || id >= p->n || !info)
        return -EINVAL;
    const mg_pat *pat = &p->pats[id];
    *info = (mg_pattern_info){
        .kind = pat->kind,
        .flags = pat->flags,
        .text = pat->text,
        .len = pat->len,
        .source = pat->source,
        .min_width = pat->min_width,
        .max_width = pat->max_width,
    };
    return 0;
}

MG_API unsigned mg_patterns_max_width(const mg_patterns *p, unsigned unbounded_width)
{
    unsigned w = 0;
    for (size_t i = 0; p && i < p->n_exprs; i++) {
        unsigned mw = p->exprs[i].max_width;
        w = MG_MAX(w, mw > MG_MAX_EXACT_WIDTH ? unbounded_width : mw);
    }
    return w;
}
