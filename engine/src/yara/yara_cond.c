/* yara_cond.c - YARA conditions into an expression tree (yx): a
 * recursive-descent parser over string references, quantifiers (N of,
 * for ... of, for ... in), integer reads, arithmetic, bitwise, comparisons
 * and boolean operators, loosest last. */
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

/* ---- the AST --------------------------------------------------------- */

void yx_free(yx *e)
{
    if (!e)
        return;
    yx_free(e->a);
    yx_free(e->b);
    yx_free(e->c);
    free(e->set);
    free(e->s);
    free(e);
}

yx *yara_node(parser *P, yx_op op, yx *a, yx *b)
{
    if (P->failed || (!a && op >= YX_NOT && op <= YX_BNOT) ||
        (!b && op >= YX_AND && op <= YX_SHR)) {
        yx_free(a);
        yx_free(b);
        return NULL;
    }
    yx *e = calloc(1, sizeof(*e));
    if (!e) {
        yx_free(a);
        yx_free(b);
        return FAIL(P, "out of memory");
    }
    e->op = op;
    e->a = a;
    e->b = b;
    return e;
}

yx *yara_leaf(parser *P, yx_op op, int64_t i)
{
    yx *e = yara_node(P, op, NULL, NULL);
    if (e)
        e->i = i;
    return e;
}

/* ---- conditions ------------------------------------------------------ */

/* uint8 .. int32be */
static int read_function(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } fns[] = {
        {"uint8", 1},        {"uint16", 2},     {"uint32", 4},      {"int8", 0x101},
        {"int16", 0x102},    {"int32", 0x104},  {"uint8be", 0x201}, {"uint16be", 0x202},
        {"uint32be", 0x204}, {"int8be", 0x301}, {"int16be", 0x302}, {"int32be", 0x304},
    };
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
        if (!strcmp(fns[i].name, name))
            return fns[i].code;
    return 0;
}

static bool is_module(parser *P, const char *name)
{
    static const char *const known[] = {"pe",    "elf",  "math",    "hash",   "dotnet", "cuckoo",
                                        "magic", "time", "console", "string", "macho",  "dex"};
    for (size_t i = 0; i < P->n_modules; i++)
        if (!strcmp(P->modules[i], name))
            return true;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(known[i], name))
            return true;
    return false;
}

/* The next token is the word "of" (looked at without lexing it). */
static bool peek_of(const lexer *L)
{
    lexer c = *L;
    if (!yara_skip_space(&c))
        return false;
    return c.end - c.p >= 2 && c.p[0] == 'o' && c.p[1] == 'f' &&
           (c.end - c.p == 2 || !is_ident_char(c.p[2]));
}

static yx *parse_primary(parser *P)
{
    lexer *L = P->L;
    if (P->failed)
        return NULL;
    switch (L->tok) {
    case '(': {
        next(P);
        yx *e = yara_parse_or(P);
        if (!yara_expect(P, ')', "')'")) {
            yx_free(e);
            return NULL;
        }
        return e;
    }
    case T_INT: {
        int64_t v = L->ival;
        next(P);
        if (P->in_quant)
            return yara_leaf(P, YX_INT, v);
        /* "2 of them", "50% of them" */
        bool percent = L->tok == '%' && peek_of(L);
        if (percent)
            next(P);
        if (!is_kw(P, "of"))
            return yara_leaf(P, YX_INT, v);
        yx *q = yara_leaf(P, YX_OF, 0);
        if (!q)
            return NULL;
        q->quant = percent ? YQ_PERCENT : YQ_EXPR;
        q->a = yara_leaf(P, YX_INT, v);
        next(P);
        return yara_parse_of(P, q, false);
    }
    case T_TEXT: {
        yx *e = yara_leaf(P, YX_STR, 0);
        if (e) {
            e->s = L->text;
            e->slen = L->tlen;
            L->text = NULL;
        }
        next(P);
        return e;
    }
    case T_FLOAT: {
        yx *e = yara_leaf(P, YX_FLOAT, 0);
        if (e)
            e->f = L->fval;
        next(P);
        return e;
    }
    case T_STRID: {
        if (L->wild)
            return FAIL(P, "wildcard string identifier outside of a set");
        int64_t s = yara_string_ref(P);
        if (s == -2)
            return NULL;
        next(P);
        if (accept_kw(P, "at")) {
            yx *e = yara_leaf(P, YX_AT, s);
            if (e && !(e->a = yara_parse_bor(P))) {
                yx_free(e);
                return NULL;
            }
            yara_string_use(P, s, e ? e->a : NULL);
            return e;
        }
        yara_string_use(P, s, NULL);
        if (accept_kw(P, "in"))
            return yara_parse_range(P, yara_leaf(P, YX_IN, s));
        return yara_leaf(P, YX_FOUND, s);
    }
    case T_COUNT: {
        int64_t s = yara_string_ref(P);
        if (s == -2)
            return NULL;
        yara_string_use(P, s, NULL);
        next(P);
        if (accept_kw(P, "in"))
            return yara_parse_range(P, yara_leaf(P, YX_COUNT_IN, s));
        return yara_leaf(P, YX_COUNT, s);
    }
    case T_OFFSET:
    case T_LENGTH: {
        yx_op op = L->tok == T_OFFSET ? YX_OFFSET : YX_LENGTH;
        int64_t s = yara_string_ref(P);
        if (s == -2)
            return NULL;
        yara_string_use(P, s, NULL);
        next(P);
        yx *e = yara_leaf(P, op, s);
        if (!e)
            return NULL;
        if (accept(P, '[')) {
            e->a = yara_parse_bor(P);
            if (!yara_expect(P, ']', "']'") || !e->a) {
                yx_free(e);
                return NULL;
            }
        } else if (!(e->a = yara_leaf(P, YX_INT, 1))) {
            yx_free(e);
            return NULL;
        }
        return e;
    }
    case T_IDENT:
        break;
    default: {
        char b[8];
        return FAIL(P, "unexpected %s in condition", yara_tok_name(L->tok, b));
    }
    }
    /* identifiers */
    char name[256];
    snprintf(name, sizeof(name), "%s", L->name);
    if (!strcmp(name, "true") || !strcmp(name, "false")) {
        next(P);
        return yara_leaf(P, YX_BOOL, name[0] == 't');
    }
    if (!strcmp(name, "filesize")) {
        next(P);
        return yara_leaf(P, YX_UNDEF, 0);
    }
    if (!strcmp(name, "entrypoint")) { /* undefined in a process, as filesize */
        next(P);
        return yara_leaf(P, YX_UNDEF, 0);
    }
    if (!strcmp(name, "all") || !strcmp(name, "any") || !strcmp(name, "none")) {
        yx *q = yara_parse_quantifier(P);
        if (q && !accept_kw(P, "of")) {
            yx_free(q);
            return FAIL(P, "expected 'of' after '%s'", name);
        }
        return q ? yara_parse_of(P, q, false) : NULL;
    }
    if (!strcmp(name, "for")) {
        next(P);
        return yara_parse_for(P);
    }
    int fn = read_function(name);
    if (fn) {
        next(P);
        if (!yara_expect(P, '(', "'('"))
            return NULL;
        yx *e = yara_leaf(P, YX_READ, fn);
        if (e && !(e->a = yara_parse_bor(P))) {
            yx_free(e);
            return NULL;
        }
        if (!yara_expect(P, ')', "')'")) {
            yx_free(e);
            return NULL;
        }
        return e;
    }
    for (int v = P->n_vars - 1; v >= 0; v--)
        if (!strcmp(P->vars[v], name)) {
            if (P->iter_vars & (1u << v))
                return yara_parse_module(P, P->iter_mod[v]);
            next(P);
            return yara_leaf(P, YX_VAR, v);
        }
    int r = yara_find_rule(P, name);
    if (r >= 0 && !strcmp(P->y->rules[r].ns, P->rule->ns)) {
        next(P);
        return yara_leaf(P, YX_RULE, r);
    }
    yx *x = yara_external_ref(P, name);
    if (x || P->failed) {
        next(P);
        return x;
    }
    const char *p = L->p;
    while (p < L->end && (*p == ' ' || *p == '\t'))
        p++;
    if ((p < L->end && *p == '.') || is_module(P, name))
        return yara_parse_module(P, NULL);
    return FAIL(P, "undefined identifier \"%s\"", name);
}

static yx *parse_unary(parser *P)
{
    if (accept(P, '-'))
        return yara_node(P, YX_NEG, parse_unary(P), NULL);
    if (accept(P, '~'))
        return yara_node(P, YX_BNOT, parse_unary(P), NULL);
    return parse_primary(P);
}

/* Binary levels, loosest last. */
static yx *parse_mul(parser *P)
{
    yx *e = parse_unary(P);
    for (;;) {
        int t = P->L->tok;
        yx_op op = t == '*' ? YX_MUL : t == '\\' ? YX_DIV : t == '%' ? YX_MOD : (yx_op)-1;
        if ((int)op < 0 || !e)
            return e;
        next(P);
        e = yara_node(P, op, e, parse_unary(P));
    }
}

static yx *parse_add(parser *P)
{
    yx *e = parse_mul(P);
    for (;;) {
        int t = P->L->tok;
        if ((t != '+' && t != '-') || !e)
            return e;
        next(P);
        e = yara_node(P, t == '+' ? YX_ADD : YX_SUB, e, parse_mul(P));
    }
}

static yx *parse_shift(parser *P)
{
    yx *e = parse_add(P);
    for (;;) {
        int t = P->L->tok;
        if ((t != T_SHL && t != T_SHR) || !e)
            return e;
        next(P);
        e = yara_node(P, t == T_SHL ? YX_SHL : YX_SHR, e, parse_add(P));
    }
}

static yx *parse_band(parser *P)
{
    yx *e = parse_shift(P);
    while (e && P->L->tok == '&') {
        next(P);
        e = yara_node(P, YX_BAND, e, parse_shift(P));
    }
    return e;
}

static yx *parse_bxor(parser *P)
{
    yx *e = parse_band(P);
    while (e && P->L->tok == '^') {
        next(P);
        e = yara_node(P, YX_BXOR, e, parse_band(P));
    }
    return e;
}

yx *yara_parse_bor(parser *P)
{
    yx *e = parse_bxor(P);
    while (e && P->L->tok == '|') {
        next(P);
        e = yara_node(P, YX_BOR, e, parse_bxor(P));
    }
    return e;
}

static yx *parse_cmp(parser *P)
{
    yx *e = yara_parse_bor(P);
    for (;;) {
        int t = P->L->tok;
        yx_op op = t == T_EQ   ? YX_EQ
                   : t == T_NE ? YX_NE
                   : t == '<'  ? YX_LT
                   : t == T_LE ? YX_LE
                   : t == '>'  ? YX_GT
                   : t == T_GE ? YX_GE
                               : (yx_op)-1;
        if (!e)
            return NULL;
        if ((int)op < 0) {
            static const char *const strops[] = {"contains",    "icontains", "startswith",
                                                 "istartswith", "endswith",  "iendswith",
                                                 "iequals",     "matches"};
            size_t i = 0;
            while (i < sizeof(strops) / sizeof(strops[0]) && !is_kw(P, strops[i]))
                i++;
            if (i == sizeof(strops) / sizeof(strops[0]))
                return e;
            int line = P->L->tline;
            next(P);
            yx *b = NULL;
            if (i == 7 && P->L->tok != T_REGEX)
                yara_expect(P, T_REGEX, "a regular expression after 'matches'");
            else if (i == 7) {
                if ((b = yara_leaf(P, YX_STR, P->L->ival))) {
                    b->s = P->L->text;
                    b->slen = P->L->tlen;
                    P->L->text = NULL;
                }
                next(P);
            } else
                b = yara_parse_bor(P);
            e = yara_string_op(P, strops[i], e, b, line);
            continue;
        }
        static const char *const names[] = {"==", "!=", "<", "<=", ">", ">="};
        int line = P->L->tline;
        next(P);
        yx *b = yara_parse_bor(P);
        if (b &&
            (e->op == YX_STR || b->op == YX_STR || mg_yara_is_digest(e) || mg_yara_is_digest(b)))
            e = yara_string_op(P, names[op - YX_EQ], e, b, line);
        else
            e = yara_node(P, op, e, b);
    }
}

static yx *parse_not(parser *P)
{
    if (accept_kw(P, "not"))
        return yara_node(P, YX_NOT, parse_not(P), NULL);
    if (accept_kw(P, "defined"))
        return yara_node(P, YX_DEFINED, parse_not(P), NULL);
    return parse_cmp(P);
}

static yx *parse_and(parser *P)
{
    yx *e = parse_not(P);
    while (e && accept_kw(P, "and"))
        e = yara_node(P, YX_AND, e, parse_not(P));
    return e;
}

yx *yara_parse_or(parser *P)
{
    yx *e = parse_and(P);
    while (e && accept_kw(P, "or"))
        e = yara_node(P, YX_OR, e, parse_and(P));
    return e;
}
