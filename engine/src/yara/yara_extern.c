/* yara_extern.c - external variables (-d NAME=VALUE), typed as yara's -d
 * types them (true/false, integer, float, else text) and used as constants,
 * and string operators (==, contains, matches /re/is...) over text
 * constants, folded at parse time (PCRE2 for matches). An operand that is a
 * module value (yara_module.c) or undefined makes the result so. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"
#include "yara/yara.h"
#include "yara/yara_internal.h"

/* ---- external variables -------------------------------------------- */

void mg_yara_externals_free(mg_yara *y)
{
    for (size_t i = 0; i < y->n_externals; i++) {
        free(y->externals[i].name);
        free(y->externals[i].s);
    }
    free(y->externals);
    y->externals = NULL;
    y->n_externals = 0;
}

/* yara's is_integer and is_float (cli/yara.c): an optional '-', digits,
 * and for a float exactly one '.'. */
static int number_kind(const char *v)
{
    int dots = 0;
    if (*v == '-')
        v++;
    if (!*v || *v == '.')
        return 0;
    for (; *v; v++) {
        if (*v == '.')
            dots++;
        else if (*v < '0' || *v > '9')
            return 0;
    }
    return dots == 0 ? 1 : dots == 1 ? 3 : 0;
}

MG_API int mg_patterns_define(mg_patterns *p, const char *name, const char *value, mg_error *err)
{
    if (!p || !name || !value)
        return mg_fail(err, -EINVAL, "invalid argument");
    if (p->db)
        return mg_fail(err, MG_ESTATE, "patterns already compiled");
    bool ok = (*name < '0' || *name > '9') && *name;
    for (const char *c = name; *c; c++)
        ok = ok && is_ident_char(*c);
    if (!ok)
        return mg_fail(err, MG_EPATTERN, "external variable '%s': not an identifier", name);
    if (!p->yara && !(p->yara = calloc(1, sizeof(*p->yara))))
        return mg_fail(err, -ENOMEM, "out of memory");
    mg_yara *y = p->yara;
    yara_external x = {.name = strdup(name)};
    if (!strcmp(value, "true") || !strcmp(value, "false")) {
        x.type = 2;
        x.i = value[0] == 't';
    } else if ((x.type = number_kind(value)) == 1)
        x.i = strtoll(value, NULL, 10);
    else if (x.type == 3)
        x.f = strtod(value, NULL);
    else if (!(x.s = strdup(value)))
        x.type = -1;
    yara_external *nx = realloc(y->externals, (y->n_externals + 1) * sizeof(*nx));
    if (!x.name || x.type < 0 || !nx) {
        free(x.name), free(x.s);
        if (nx)
            y->externals = nx;
        return mg_fail(err, -ENOMEM, "out of memory");
    }
    y->externals = nx;
    for (size_t i = 0; i < y->n_externals; i++)
        if (!strcmp(nx[i].name, name)) { /* defined again: the last value */
            free(nx[i].name), free(nx[i].s);
            nx[i] = x;
            return 0;
        }
    nx[y->n_externals++] = x;
    return 0;
}

yx *yara_str_leaf(parser *P, const char *s, size_t n)
{
    yx *e = yara_leaf(P, YX_STR, 0);
    if (e && !(e->s = malloc(n + 1))) {
        yx_free(e);
        return FAIL(P, "out of memory");
    }
    if (e) {
        memcpy(e->s, s, n);
        e->s[n] = '\0';
        e->slen = n;
    }
    return e;
}

yx *yara_external_ref(parser *P, const char *name)
{
    for (size_t i = 0; i < P->y->n_externals; i++) {
        const yara_external *x = &P->y->externals[i];
        if (strcmp(x->name, name))
            continue;
        if (x->type == 0)
            return yara_str_leaf(P, x->s, strlen(x->s));
        if (x->type == 3) {
            yx *e = yara_leaf(P, YX_FLOAT, 0);
            if (e)
                e->f = x->f;
            return e;
        }
        return yara_leaf(P, x->type == 2 ? YX_BOOL : YX_INT, x->i);
    }
    return NULL;
}

/* ---- string operators over constants -------------------------------- */

static bool ends_with(const yx *a, const yx *b, bool nocase)
{
    if (b->slen > a->slen)
        return false;
    const char *t = a->s + a->slen - b->slen;
    return nocase ? !strncasecmp(t, b->s, b->slen) : !memcmp(t, b->s, b->slen);
}

static bool contains(const yx *a, const yx *b, bool nocase)
{
    for (size_t i = 0; i + b->slen <= a->slen; i++)
        if (nocase ? !strncasecmp(a->s + i, b->s, b->slen) : !memcmp(a->s + i, b->s, b->slen))
            return true;
    return false;
}

/* a matches /b/ (b->i: 1 i, 2 s), with PCRE2. 1, 0, or -1 (bad regex). */
static int regex_matches(parser *P, const yx *a, const yx *b)
{
    int code;
    PCRE2_SIZE off;
    uint32_t opts =
        ((b->i & 1) ? PCRE2_CASELESS : 0) | ((b->i & 2) ? PCRE2_DOTALL : 0) | PCRE2_DOLLAR_ENDONLY;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)b->s, b->slen, opts, &code, &off, NULL);
    if (!re) {
        char msg[200];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg));
        FAIL(P, "invalid regular expression /%s/: %s", b->s, msg);
        return -1;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = md ? pcre2_match(re, (PCRE2_SPTR)a->s, a->slen, 0, 0, md, NULL) : -1;
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    if (!md) {
        FAIL(P, "out of memory");
        return -1;
    }
    return rc >= 0;
}

static const char *const text_ops[] = {
    "==",        "!=",         "<",           ">",        "<=",        ">=",     "contains",
    "icontains", "startswith", "istartswith", "endswith", "iendswith", "iequals"};

int mg_yara_text_op_index(const char *op)
{
    for (size_t i = 0; i < sizeof(text_ops) / sizeof(text_ops[0]); i++)
        if (!strcmp(text_ops[i], op))
            return (int)i;
    return -1;
}

bool mg_yara_text_op(int op, const char *as, size_t an, const char *bs, size_t bn)
{
    const yx a = {.s = (char *)as, .slen = an}, b = {.s = (char *)bs, .slen = bn};
    int cmp = memcmp(as, bs, MG_MIN(an, bn));
    if (!cmp)
        cmp = (an > bn) - (an < bn);
    const char *name =
        op >= 0 && (size_t)op < sizeof(text_ops) / sizeof(text_ops[0]) ? text_ops[op] : "";
    bool i = name[0] == 'i';
    const char *o = name + i;
    return !strcmp(name, "==")      ? cmp == 0
           : !strcmp(name, "!=")    ? cmp != 0
           : !strcmp(name, "<")     ? cmp < 0
           : !strcmp(name, "<=")    ? cmp <= 0
           : !strcmp(name, ">")     ? cmp > 0
           : !strcmp(name, ">=")    ? cmp >= 0
           : !strcmp(o, "contains") ? contains(&a, &b, i)
           : !strcmp(o, "startswith")
               ? an >= bn && (i ? !strncasecmp(as, bs, bn) : !memcmp(as, bs, bn))
           : !strcmp(o, "endswith")   ? ends_with(&a, &b, i)
           : !strcmp(name, "iequals") ? an == bn && ends_with(&a, &b, true)
                                      : false;
}

/* `a OP b` where OP is a comparison or a string operator and one side is
 * text: folded to a boolean; undefined (or a module value) if one side
 * is; a digest of process memory (hash.md5(off, size) == "...") compared
 * at evaluation (YX_STROP). Takes a and b; line: the operator's, for errors. */
yx *yara_string_op(parser *P, const char *op, yx *a, yx *b, int line)
{
    if (!a || !b || P->failed) {
        yx_free(a), yx_free(b);
        return NULL;
    }
    yx *r = NULL;
    int k = mg_yara_text_op_index(op);
    if (a->op == YX_MODULE || b->op == YX_MODULE || a->op == YX_UNDEF || b->op == YX_UNDEF) {
        bool mod = a->op == YX_MODULE || b->op == YX_MODULE;
        r = yara_leaf(P, mod ? YX_MODULE : YX_UNDEF, (mod ? a->op == YX_MODULE ? a : b : a)->i);
    } else if (mg_yara_is_digest(a) && b->op == YX_STR && k >= 0) {
        if ((r = yara_leaf(P, YX_STROP, k))) {
            r->a = a, r->s = b->s, r->slen = b->slen;
            a = NULL, b->s = NULL;
        }
    } else if (mg_yara_is_digest(b) && a->op == YX_STR && (k == 0 || k == 1)) {
        if ((r = yara_leaf(P, YX_STROP, k))) { /* == and != either way round */
            r->a = b, r->s = a->s, r->slen = a->slen;
            b = NULL, a->s = NULL;
        }
    } else if (mg_yara_is_digest(a) || mg_yara_is_digest(b)) {
        r = yara_fail_at(P, line, true,
                         "operator '%s' with a hash of memory is not supported "
                         "(--skip-unsupported drops the rule)",
                         op);
    } else if (a->op != YX_STR || b->op != YX_STR) {
        yara_fail_at(P, line, false, "wrong type for operator '%s' (text and a number)", op);
    } else if (k >= 0) {
        r = yara_leaf(P, YX_BOOL, mg_yara_text_op(k, a->s, a->slen, b->s, b->slen));
    } else {
        int v = regex_matches(P, a, b);
        if (v >= 0)
            r = yara_leaf(P, YX_BOOL, v);
    }
    yx_free(a);
    yx_free(b);
    return r;
}
