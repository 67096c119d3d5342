/* yara_parse.c - YARA rule files: rules (private/global, tags, meta,
 * strings, condition), imports and includes relative to the including
 * file, the rule-name index, and the public API. The lexer is in
 * yara_lex.c, conditions in yara_cond.c, strings in yara_strings.c, rule
 * names and namespaces in yara_names.c.
 *
 * Errors are one line, "FILE:LINE: rule NAME: what" (or "FILE:LINE: what"
 * outside a rule). What memgrep cannot evaluate in a process (modules such
 * as pe, elf, math, hash; external variables; entrypoint; string operators)
 * is refused as "... CONSTRUCT is not supported", or with
 * MG_RULES_SKIP_UNSUPPORTED the rule is dropped and a warning kept. */
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

/* ---- rules ----------------------------------------------------------- */

static char *dup_or_fail(parser *P, const char *s)
{
    char *d = strdup(s);
    if (!d)
        FAIL(P, "out of memory");
    return d;
}

static void rule_clear(yara_rule *r)
{
    free(r->name);
    free(r->ns);
    for (size_t i = 0; i < r->n_tags; i++)
        free(r->tags[i]);
    free(r->tags);
    for (size_t i = 0; i < r->n_meta; i++) {
        free(r->meta[i].key);
        free(r->meta[i].s);
    }
    free(r->meta);
    yx_free(r->cond);
    memset(r, 0, sizeof(*r));
}

static void strings_truncate(mg_yara *y, size_t n)
{
    while (y->n_strings > n) {
        free(y->strings[--y->n_strings].id);
        free(y->strings[y->n_strings].key);
    }
}

void mg_yara_free(mg_yara *y)
{
    if (!y)
        return;
    for (size_t i = 0; i < y->n_rules; i++)
        rule_clear(&y->rules[i]);
    free(y->rules);
    strings_truncate(y, 0);
    free(y->strings);
    for (size_t i = 0; i < y->n_skipped; i++)
        free(y->skipped[i]);
    free(y->skipped);
    free(y->name_index);
    free(y->same_index);
    mg_yara_externals_free(y);
    free(y->ns);
    free(y);
}

static bool parse_meta(parser *P)
{
    yara_rule *r = P->rule;
    while (P->L->tok == T_IDENT && strcmp(P->L->name, "strings") &&
           strcmp(P->L->name, "condition")) {
        yara_meta m = {0};
        m.key = dup_or_fail(P, P->L->name);
        next(P);
        if (!m.key || !yara_expect(P, '=', "'='")) {
            free(m.key);
            return false;
        }
        bool neg = accept(P, '-');
        if (P->L->tok == T_TEXT && !neg) {
            m.type = 0;
            m.s = P->L->text;
            P->L->text = NULL;
        } else if (P->L->tok == T_INT) {
            m.type = 1;
            m.i = neg ? -P->L->ival : P->L->ival;
        } else if (is_kw(P, "true") || is_kw(P, "false")) {
            m.type = 2;
            m.i = P->L->name[0] == 't';
        } else {
            free(m.key);
            return FAIL(P, "meta %s: expected a string, a number, true or false", P->L->name),
                   false;
        }
        next(P);
        yara_meta *nm = realloc(r->meta, (r->n_meta + 1) * sizeof(*nm));
        if (!nm) {
            free(m.key), free(m.s);
            return FAIL(P, "out of memory"), false;
        }
        r->meta = nm;
        r->meta[r->n_meta++] = m;
    }
    return !P->failed;
}

/* Skip what is left of a rule refused as unsupported: up to its closing
 * brace (conditions hold no braces). */
static void skip_rule(parser *P)
{
    P->failed = false;
    while (P->L->tok != '}' && P->L->tok != T_EOF) {
        next(P);
        if (P->failed) {
            P->failed = false;
            P->L->p++; /* past the character the lexer refused */
        }
    }
    next(P);
}

static bool add_warning(parser *P, const char *msg)
{
    mg_yara *y = P->y;
    char **ns = realloc(y->skipped, (y->n_skipped + 1) * sizeof(*ns));
    if (!ns)
        return false;
    y->skipped = ns;
    y->skipped[y->n_skipped] = strdup(msg);
    if (!y->skipped[y->n_skipped])
        return false;
    y->n_skipped++;
    return true;
}

/* The per-string state of the rule being parsed (its condition's names). */
static void free_rule_state(parser *P)
{
    free(P->referenced);
    free(P->at_state);
    free(P->at_value);
    P->referenced = NULL;
    P->at_state = NULL;
    P->at_value = NULL;
}

static bool parse_rule(parser *P, bool global, bool private_)
{
    lexer *L = P->L;
    mg_yara *y = P->y;
    if (L->tok != T_IDENT)
        return yara_expect(P, T_IDENT, "a rule name"), false;
    static const char *const reserved[] = {
        "all",     "and",      "any",  "ascii",    "at",     "condition", "contains", "entrypoint",
        "false",   "filesize", "for",  "fullword", "global", "import",    "in",       "include",
        "meta",    "nocase",   "none", "not",      "of",     "or",        "private",  "rule",
        "strings", "them",     "true", "wide",     "xor",    "defined"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (!strcmp(L->name, reserved[i]))
            return FAIL(P, "'%s' is a keyword, not a rule name", L->name), false;
    if (yara_find_rule(P, L->name) >= 0)
        return FAIL(P, "duplicated rule identifier \"%s\" in namespace %s", L->name,
                    yara_namespace(y)),
               false;
    if (y->n_rules == y->cap_rules) {
        size_t cap = y->cap_rules ? 2 * y->cap_rules : 16;
        yara_rule *nr = realloc(y->rules, cap * sizeof(*nr));
        if (!nr)
            return FAIL(P, "out of memory"), false;
        y->rules = nr;
        y->cap_rules = cap;
    }
    yara_rule *r = &y->rules[y->n_rules];
    memset(r, 0, sizeof(*r));
    r->name = strdup(L->name);
    r->ns = strdup(yara_namespace(y));
    r->global = global;
    r->private_ = private_;
    r->no_negate = (P->flags & MG_RULES_NO_NEGATE) != 0;
    r->first_string = (uint32_t)y->n_strings;
    P->rule = r;
    size_t n_pats = P->p->n, n_exprs = P->p->n_exprs, n_strings = y->n_strings;
    if (!r->name || !r->ns) {
        FAIL(P, "out of memory");
        goto bad;
    }
    next(P);
    if (accept(P, ':')) {
        while (L->tok == T_IDENT && !P->failed) {
            char **nt = realloc(r->tags, (r->n_tags + 1) * sizeof(*nt));
            if (!nt) {
                FAIL(P, "out of memory");
                goto bad;
            }
            r->tags = nt;
            if (!(r->tags[r->n_tags] = dup_or_fail(P, L->name)))
                goto bad;
            r->n_tags++;
            next(P);
        }
        if (!r->n_tags && !P->failed) {
            FAIL(P, "expected tags after ':'");
            goto bad;
        }
    }
    if (!yara_expect(P, '{', "'{'"))
        goto bad;
    if (accept_kw(P, "meta")) {
        if (!yara_expect(P, ':', "':'") || !parse_meta(P))
            goto bad;
    }
    if (accept_kw(P, "strings")) {
        if (!yara_expect(P, ':', "':'"))
            goto bad;
        while (L->tok == T_STRID && !P->failed)
            if (!yara_parse_string(P))
                goto bad;
        if (!r->n_strings && !P->failed) {
            FAIL(P, "empty strings section");
            goto bad;
        }
    }
    if (P->failed || !accept_kw(P, "condition")) {
        if (!P->failed)
            FAIL(P, "expected 'condition'");
        goto bad;
    }
    if (!yara_expect(P, ':', "':'"))
        goto bad;
    P->referenced = calloc(r->n_strings + 1, sizeof(bool));
    P->at_state = calloc(r->n_strings + 1, sizeof(*P->at_state));
    P->at_value = calloc(r->n_strings + 1, sizeof(*P->at_value));
    if (!P->referenced || !P->at_state || !P->at_value) {
        FAIL(P, "out of memory");
        goto bad;
    }
    r->cond = yara_parse_or(P);
    if (!r->cond || !yara_expect(P, '}', "'}' (or an operator)"))
        goto bad;
    for (size_t i = 0; i < r->n_strings; i++)
        if (!P->referenced[i]) {
            yara_fail_at(P, L->tline, false, "unreferenced string \"%s\"",
                         y->strings[r->first_string + i].id);
            goto bad;
        }
    for (size_t i = 0; i < r->n_strings; i++) {
        yara_string *ys = &y->strings[r->first_string + i];
        ys->fixed = ys->literal && P->at_state[i] == 1;
        ys->fixed_at = P->at_value[i];
    }
    /* a shared list keeps only the matches at N while every string using
     * it is fixed at N (yara_eval.c shows a fixed string its match at N) */
    for (size_t i = 0; i < r->n_strings; i++) {
        const yara_string *ys = &y->strings[r->first_string + i];
        yara_string *first = &y->strings[ys->list];
        first->list_fixed = ys == first
                                ? ys->fixed
                                : first->list_fixed && ys->fixed && ys->fixed_at == first->fixed_at;
    }
    free_rule_state(P);
    y->n_rules++;
    P->rule = NULL;
    return true;
bad:
    free_rule_state(P);
    mg_patterns_truncate(P->p, n_pats, n_exprs);
    strings_truncate(y, n_strings);
    if (P->unsupported && (P->flags & MG_RULES_SKIP_UNSUPPORTED)) {
        if (!add_warning(P, P->msg)) {
            rule_clear(r);
            P->rule = NULL;
            return FAIL(P, "out of memory"), false;
        }
        rule_clear(r);
        P->rule = NULL;
        P->unsupported = false;
        skip_rule(P);
        if (P->err)
            P->err->message[0] = '\0';
        return !P->failed;
    }
    rule_clear(r);
    P->rule = NULL;
    return false;
}

static int parse_file(parser *P, const char *path, const char *text, size_t len);

static bool parse_include(parser *P)
{
    lexer *L = P->L;
    if (L->tok != T_TEXT)
        return yara_expect(P, T_TEXT, "a file name after include"), false;
    char path[4096];
    if (L->text[0] == '/' || !L->dir[0])
        snprintf(path, sizeof(path), "%s", L->text);
    else
        snprintf(path, sizeof(path), "%s/%s", L->dir, L->text);
    if (P->depth >= MG_YARA_MAX_INCLUDE_DEPTH)
        return FAIL(P, "include \"%s\": includes nested too deep", L->text), false;
    for (int i = 0; i < P->depth; i++)
        if (!strcmp(P->stack[i], path))
            return FAIL(P, "include \"%s\": includes itself", L->text), false;
    char *buf = NULL;
    size_t n = 0;
    int rc = mg_read_file(path, &buf, &n);
    if (rc < 0)
        return FAIL(P, "include \"%s\": cannot read %s: %s", L->text, path, mg_strerror(rc)), false;
    rc = parse_file(P, path, buf, n);
    free(buf);
    P->L = L;
    if (rc < 0)
        return false;
    next(P);
    return !P->failed;
}

static int parse_file(parser *P, const char *path, const char *text, size_t len)
{
    lexer L = {.file = path, .s = text, .p = text, .end = text + len, .line = 1};
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
    if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    L.dir = dir;
    lexer *outer = P->L;
    P->L = &L;
    P->stack[P->depth++] = path;
    next(P);
    while (!P->failed && L.tok != T_EOF) {
        if (accept_kw(P, "include")) {
            if (!parse_include(P))
                break;
        } else if (accept_kw(P, "import")) {
            if (L.tok != T_TEXT) {
                yara_expect(P, T_TEXT, "a module name after import");
                break;
            }
            char **nm = realloc(P->modules, (P->n_modules + 1) * sizeof(*nm));
            if (!nm || !(nm[P->n_modules] = strdup(L.text))) {
                if (nm)
                    P->modules = nm;
                FAIL(P, "out of memory");
                break;
            }
            P->modules = nm;
            P->n_modules++;
            next(P);
        } else {
            bool global = false, private_ = false;
            for (;;) {
                if (accept_kw(P, "global"))
                    global = true;
                else if (accept_kw(P, "private"))
                    private_ = true;
                else
                    break;
            }
            if (!accept_kw(P, "rule")) {
                if (!P->failed)
                    FAIL(P, "expected 'rule', 'import' or 'include'");
                break;
            }
            if (!parse_rule(P, global, private_))
                break;
        }
    }
    free(L.text);
    P->depth--;
    P->L = outer;
    return P->failed ? MG_EPATTERN : 0;
}

/* Rules without strings: Hyperscan needs one expression to build a
 * database. This one is owned by no YARA string, so its matches are
 * dropped (mg_yara_collect). Added with the rules, not at compile time, so
 * a compile never changes the set. */
static int add_sentinel(mg_patterns *p, mg_error *err)
{
    static const char sentinel[] = "memgrep: rules without strings";
    int id = mg_patterns_add_owned(p, MG_PATTERN_LITERAL, sentinel, sizeof(sentinel) - 1, "rules",
                                   UINT32_MAX, err);
    mg_strbuf b = {0};
    for (size_t i = 0; i < sizeof(sentinel) - 1; i++)
        mg_sb_hexbyte(&b, (uint8_t)sentinel[i]);
    int rc = id < 0  ? id
             : b.oom ? mg_fail(err, -ENOMEM, "out of memory")
                     : mg_patterns_add_owned_expr(p, (unsigned)id, b.s, 0, false,
                                                  sizeof(sentinel) - 1, 0, err);
    free(b.s);
    return rc < 0 ? rc : 0;
}

int mg_yara_add_text(mg_patterns *p, const char *text, size_t len, const char *name, unsigned flags,
                     mg_error *err)
{
    if (!p->yara && !(p->yara = calloc(1, sizeof(*p->yara))))
        return mg_fail(err, -ENOMEM, "out of memory");
    p->yara_free = mg_yara_free;
    p->yara_plan = mg_yara_mark_dormant;
    mg_yara *y = p->yara;
    parser P = {.p = p, .y = y, .flags = flags, .err = err};
    size_t n_rules = y->n_rules, n_strings = y->n_strings, n_pats = p->n, n_exprs = p->n_exprs,
           n_skipped = y->n_skipped;
    int rc = parse_file(&P, name, text, len);
    if (rc == 0 && p->n_exprs == 0 && y->n_rules)
        rc = add_sentinel(p, err);
    for (size_t i = 0; i < P.n_modules; i++)
        free(P.modules[i]);
    free(P.modules);
    if (rc < 0) {
        while (y->n_rules > n_rules)
            rule_clear(&y->rules[--y->n_rules]);
        strings_truncate(y, n_strings);
        while (y->n_skipped > n_skipped)
            free(y->skipped[--y->n_skipped]);
        mg_patterns_truncate(p, n_pats, n_exprs);
        return rc;
    }
    if (err)
        err->message[0] = '\0';
    y->no_negate |= (flags & MG_RULES_NO_NEGATE) != 0;
    return (int)(y->n_rules - n_rules);
}

/* ---- the public API ---------------------------------------------------- */

MG_API int mg_patterns_add_rules_text(mg_patterns *p, const char *text, size_t len,
                                      const char *name, unsigned flags, mg_error *err)
{
    if (!p || (!text && len))
        return mg_fail(err, -EINVAL, "invalid argument");
    if (p->db)
        return mg_fail(err, MG_ESTATE, "patterns already compiled");
    if (flags & ~(unsigned)(MG_RULES_SKIP_UNSUPPORTED | MG_RULES_NO_NEGATE))
        return mg_fail(err, -EINVAL, "unknown flags 0x%x", flags);
    return mg_yara_add_text(p, text ? text : "", len, name ? name : "rules", flags, err);
}

MG_API int mg_patterns_add_rules(mg_patterns *p, const char *path, unsigned flags, mg_error *err)
{
    if (!p || !path)
        return mg_fail(err, -EINVAL, "invalid argument");
    char *buf = NULL;
    size_t len = 0;
    int rc = mg_read_file(path, &buf, &len);
    if (rc < 0)
        return mg_fail(err, rc, "cannot read rule file '%s': %s", path, mg_strerror(rc));
    rc = mg_patterns_add_rules_text(p, buf, len, path, flags, err);
    free(buf);
    return rc;
}

MG_API int mg_patterns_rules_namespace(mg_patterns *p, const char *ns, mg_error *err)
{
    if (!p || !ns)
        return mg_fail(err, -EINVAL, "invalid argument");
    if (p->db)
        return mg_fail(err, MG_ESTATE, "patterns already compiled");
    if (!ns[0] || strchr(ns, ':') || strlen(ns) > 255)
        return mg_fail(err, MG_EPATTERN, "namespace '%s': empty, longer than 255 bytes or with ':'",
                       ns);
    if (!p->yara && !(p->yara = calloc(1, sizeof(*p->yara))))
        return mg_fail(err, -ENOMEM, "out of memory");
    p->yara_free = mg_yara_free;
    char *d = strdup(ns);
    if (!d)
        return mg_fail(err, -ENOMEM, "out of memory");
    free(p->yara->ns);
    p->yara->ns = d;
    return 0;
}

MG_API size_t mg_patterns_rules_count(const mg_patterns *p)
{
    return p && p->yara ? p->yara->n_rules : 0;
}

MG_API const char *mg_patterns_rules_skipped(const mg_patterns *p, size_t i)
{
    return p && p->yara && i < p->yara->n_skipped ? p->yara->skipped[i] : NULL;
}
