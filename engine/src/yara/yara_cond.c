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
    free(e);
}

static yx *node(parser *P, yx_op op, yx *a, yx *b)
{
    if (P->failed || (!a && op >= YX_NOT && op != YX_OF && op != YX_FOR_IN) ||
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

static yx *leaf(parser *P, yx_op op, int64_t i)
{
    yx *e = node(P, op, NULL, NULL);
    if (e)
        e->i = i;
    return e;
}

/* ---- conditions ------------------------------------------------------ */

static yx *parse_bor(parser *P);

/* Index (in the rule) of string id, or -1. */
int yara_find_string(parser *P, const char *id)
{
    for (size_t i = 0; i < P->rule->n_strings; i++)
        if (!strcmp(P->y->strings[P->rule->first_string + i].id, id))
            return (int)i;
    return -1;
}

/* A string reference $a / #a / @a / !a: its global index, or -1 for the
 * for-of string ("$" alone inside for..of). -2 on error. */
static int64_t string_ref(parser *P)
{
    const char *id = P->L->name;
    if (!strcmp(id, "$")) {
        if (!P->in_for_of) {
            FAIL(P, "'%c' outside of a for..of loop", '$');
            return -2;
        }
        return -1;
    }
    int i = yara_find_string(P, id);
    if (i < 0) {
        FAIL(P, "undefined string identifier \"%s\"", id);
        return -2;
    }
    P->referenced[i] = true;
    return (int64_t)(P->rule->first_string + (uint32_t)i);
}

/* '(' a '..' b ')' into e->a, e->b */
static yx *parse_range(parser *P, yx *e)
{
    if (!e || !yara_expect(P, '(', "'('")) {
        yx_free(e);
        return NULL;
    }
    e->a = parse_bor(P);
    if (!yara_expect(P, T_DOTDOT, "'..'")) {
        yx_free(e);
        return NULL;
    }
    e->b = parse_bor(P);
    if (!yara_expect(P, ')', "')'") || !e->a || !e->b) {
        yx_free(e);
        return NULL;
    }
    return e;
}

/* A set: them | '(' $a, $b*, rule, rule* ... ')'. Rules are stored with the
 * high bit set. */
static yx *parse_set(parser *P, yx *e)
{
    uint32_t *set = NULL;
    size_t n = 0, cap = 0;
#define PUSH(v)                                                                                    \
    do {                                                                                           \
        if (n == cap) {                                                                            \
            cap = cap ? cap * 2 : 8;                                                               \
            uint32_t *ns = realloc(set, cap * sizeof(*ns));                                        \
            if (!ns)                                                                               \
                goto oom;                                                                          \
            set = ns;                                                                              \
        }                                                                                          \
        set[n++] = (v);                                                                            \
    } while (0)
    if (accept_kw(P, "them")) {
        if (P->rule->n_strings == 0) {
            FAIL(P, "'them' in a rule without strings");
            goto bad;
        }
        for (size_t i = 0; i < P->rule->n_strings; i++) {
            P->referenced[i] = true;
            PUSH(P->rule->first_string + (uint32_t)i);
        }
    } else {
        if (!yara_expect(P, '(', "'them' or '('"))
            goto bad;
        do {
            if (P->L->tok == T_STRID) {
                size_t before = n;
                const char *id = P->L->name;
                size_t idlen = strlen(id);
                for (size_t i = 0; i < P->rule->n_strings; i++) {
                    const char *sid = P->y->strings[P->rule->first_string + i].id;
                    if (P->L->wild ? !strncmp(sid, id, idlen) : !strcmp(sid, id)) {
                        P->referenced[i] = true;
                        PUSH(P->rule->first_string + (uint32_t)i);
                    }
                }
                if (n == before) {
                    FAIL(P, "undefined string identifier \"%s%s\"", id, P->L->wild ? "*" : "");
                    goto bad;
                }
                next(P);
            } else if (P->L->tok == T_IDENT) {
                char name[256];
                snprintf(name, sizeof(name), "%s", P->L->name);
                next(P);
                bool wild = accept(P, '*');
                size_t before = n;
                for (size_t i = 0; i < P->y->n_rules; i++)
                    if (wild ? !strncmp(P->y->rules[i].name, name, strlen(name))
                             : !strcmp(P->y->rules[i].name, name))
                        PUSH((uint32_t)i | 0x80000000u);
                if (n == before) {
                    yara_fail_at(P, P->L->tline, true,
                                 "identifier %s%s is not supported (not a rule "
                                 "defined before)",
                                 name, wild ? "*" : "");
                    goto bad;
                }
            } else {
                FAIL(P, "expected a string identifier or a rule name in a set");
                goto bad;
            }
        } while (accept(P, ','));
        if (!yara_expect(P, ')', "')'"))
            goto bad;
    }
    e->set = set;
    e->n_set = n;
    return e;
oom:
    FAIL(P, "out of memory");
bad:
    free(set);
    yx_free(e);
    return NULL;
#undef PUSH
}

/* After a quantifier (in e->quant, e->a): 'of' set [':' '(' body ')' for for..of]. */
static yx *parse_of(parser *P, yx *e, bool is_for)
{
    e = parse_set(P, e);
    if (!e || !is_for)
        return e;
    for (size_t i = 0; i < e->n_set; i++)
        if (e->set[i] & 0x80000000u) {
            yx_free(e);
            return FAIL(P, "for..of over rules");
        }
    if (!yara_expect(P, ':', "':'") || !yara_expect(P, '(', "'('")) {
        yx_free(e);
        return NULL;
    }
    bool outer = P->in_for_of;
    P->in_for_of = true;
    e->b = yara_parse_or(P);
    P->in_for_of = outer;
    if (!yara_expect(P, ')', "')'") || !e->b) {
        yx_free(e);
        return NULL;
    }
    return e;
}

/* The quantifier of "N of", "for all ...": all | any | none | expr ['%']. */
static yx *parse_quantifier(parser *P)
{
    yx *e = leaf(P, YX_OF, 0);
    if (!e)
        return NULL;
    if (accept_kw(P, "all"))
        e->quant = YQ_ALL;
    else if (accept_kw(P, "any"))
        e->quant = YQ_ANY;
    else if (accept_kw(P, "none"))
        e->quant = YQ_NONE;
    else {
        bool outer = P->in_quant;
        P->in_quant = true;
        e->a = parse_bor(P);
        P->in_quant = outer;
        if (!e->a) {
            yx_free(e);
            return NULL;
        }
        e->quant = accept(P, '%') ? YQ_PERCENT : YQ_EXPR;
    }
    return e;
}

static yx *parse_for(parser *P)
{
    yx *q = parse_quantifier(P);
    if (!q)
        return NULL;
    if (is_kw(P, "of")) {
        next(P);
        return parse_of(P, q, true);
    }
    if (P->L->tok != T_IDENT) {
        yx_free(q);
        return FAIL(P, "expected 'of' or a variable after the quantifier of 'for'");
    }
    if (P->n_vars == (int)(sizeof(P->vars) / sizeof(P->vars[0]))) {
        yx_free(q);
        return FAIL(P, "for loops nested too deep");
    }
    char *var = strdup(P->L->name);
    next(P);
    if (P->L->tok == ',') {
        free(var);
        yx_free(q);
        return UNSUPPORTED(P, "a for loop over several variables (module iterators)");
    }
    if (!var || !yara_expect(P, T_IDENT, "'in'")) {
        free(var);
        yx_free(q);
        return NULL;
    }
    q->op = YX_FOR_IN;
    q->i = P->n_vars;
    q->c = parse_range(P, leaf(P, YX_IN, 0));
    if (!q->c) {
        free(var);
        yx_free(q);
        return NULL;
    }
    if (!yara_expect(P, ':', "':'") || !yara_expect(P, '(', "'('")) {
        free(var);
        yx_free(q);
        return NULL;
    }
    P->vars[P->n_vars++] = var;
    if ((size_t)P->n_vars > P->y->n_loop_vars)
        P->y->n_loop_vars = (size_t)P->n_vars;
    q->b = yara_parse_or(P);
    free(P->vars[--P->n_vars]);
    if (!yara_expect(P, ')', "')'") || !q->b) {
        yx_free(q);
        return NULL;
    }
    return q;
}

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
            return leaf(P, YX_INT, v);
        /* "2 of them", "50% of them" */
        bool percent = L->tok == '%' && peek_of(L);
        if (percent)
            next(P);
        if (!is_kw(P, "of"))
            return leaf(P, YX_INT, v);
        yx *q = leaf(P, YX_OF, 0);
        if (!q)
            return NULL;
        q->quant = percent ? YQ_PERCENT : YQ_EXPR;
        q->a = leaf(P, YX_INT, v);
        next(P);
        return parse_of(P, q, false);
    }
    case T_TEXT:
        return UNSUPPORTED(P, "a text string in a condition (string operators)");
    case T_STRID: {
        if (L->wild)
            return FAIL(P, "wildcard string identifier outside of a set");
        int64_t s = string_ref(P);
        if (s == -2)
            return NULL;
        next(P);
        if (accept_kw(P, "at")) {
            yx *e = leaf(P, YX_AT, s);
            if (e && !(e->a = parse_bor(P))) {
                yx_free(e);
                return NULL;
            }
            return e;
        }
        if (accept_kw(P, "in"))
            return parse_range(P, leaf(P, YX_IN, s));
        return leaf(P, YX_FOUND, s);
    }
    case T_COUNT: {
        int64_t s = string_ref(P);
        if (s == -2)
            return NULL;
        next(P);
        if (is_kw(P, "in"))
            return UNSUPPORTED(P, "#a in (range)");
        return leaf(P, YX_COUNT, s);
    }
    case T_OFFSET:
    case T_LENGTH: {
        yx_op op = L->tok == T_OFFSET ? YX_OFFSET : YX_LENGTH;
        int64_t s = string_ref(P);
        if (s == -2)
            return NULL;
        next(P);
        yx *e = leaf(P, op, s);
        if (!e)
            return NULL;
        if (accept(P, '[')) {
            e->a = parse_bor(P);
            if (!yara_expect(P, ']', "']'") || !e->a) {
                yx_free(e);
                return NULL;
            }
        } else if (!(e->a = leaf(P, YX_INT, 1))) {
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
        return leaf(P, YX_BOOL, name[0] == 't');
    }
    if (!strcmp(name, "filesize")) {
        next(P);
        return leaf(P, YX_UNDEF, 0);
    }
    if (!strcmp(name, "entrypoint"))
        return UNSUPPORTED(P, "entrypoint");
    if (!strcmp(name, "all") || !strcmp(name, "any") || !strcmp(name, "none")) {
        yx *q = parse_quantifier(P);
        if (q && !accept_kw(P, "of")) {
            yx_free(q);
            return FAIL(P, "expected 'of' after '%s'", name);
        }
        return q ? parse_of(P, q, false) : NULL;
    }
    if (!strcmp(name, "for")) {
        next(P);
        return parse_for(P);
    }
    int fn = read_function(name);
    if (fn) {
        next(P);
        if (!yara_expect(P, '(', "'('"))
            return NULL;
        yx *e = leaf(P, YX_READ, fn);
        if (e && !(e->a = parse_bor(P))) {
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
            next(P);
            return leaf(P, YX_VAR, v);
        }
    int r = yara_find_rule(P, name);
    if (r >= 0 && !strcmp(P->y->rules[r].ns, P->rule->ns)) {
        next(P);
        return leaf(P, YX_RULE, r);
    }
    char what[700];
    const char *p = L->p;
    while (p < L->end && (*p == ' ' || *p == '\t'))
        p++;
    if ((p < L->end && *p == '.') || is_module(P, name)) {
        snprintf(what, sizeof(what), "module %s (%s.*)", name, name);
        return UNSUPPORTED(P, what);
    }
    snprintf(what, sizeof(what),
             "identifier %s (an external variable, or not a rule defined before)", name);
    return UNSUPPORTED(P, what);
}

static yx *parse_unary(parser *P)
{
    if (accept(P, '-'))
        return node(P, YX_NEG, parse_unary(P), NULL);
    if (accept(P, '~'))
        return node(P, YX_BNOT, parse_unary(P), NULL);
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
        e = node(P, op, e, parse_unary(P));
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
        e = node(P, t == '+' ? YX_ADD : YX_SUB, e, parse_mul(P));
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
        e = node(P, t == T_SHL ? YX_SHL : YX_SHR, e, parse_add(P));
    }
}

static yx *parse_band(parser *P)
{
    yx *e = parse_shift(P);
    while (e && P->L->tok == '&') {
        next(P);
        e = node(P, YX_BAND, e, parse_shift(P));
    }
    return e;
}

static yx *parse_bxor(parser *P)
{
    yx *e = parse_band(P);
    while (e && P->L->tok == '^') {
        next(P);
        e = node(P, YX_BXOR, e, parse_band(P));
    }
    return e;
}

static yx *parse_bor(parser *P)
{
    yx *e = parse_bxor(P);
    while (e && P->L->tok == '|') {
        next(P);
        e = node(P, YX_BOR, e, parse_bxor(P));
    }
    return e;
}

static yx *parse_cmp(parser *P)
{
    yx *e = parse_bor(P);
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
            for (size_t i = 0; i < sizeof(strops) / sizeof(strops[0]); i++)
                if (is_kw(P, strops[i])) {
                    yx_free(e);
                    char what[64];
                    snprintf(what, sizeof(what), "the string operator '%s'", strops[i]);
                    return UNSUPPORTED(P, what);
                }
            return e;
        }
        next(P);
        e = node(P, op, e, parse_bor(P));
    }
}

static yx *parse_not(parser *P)
{
    if (accept_kw(P, "not"))
        return node(P, YX_NOT, parse_not(P), NULL);
    if (accept_kw(P, "defined"))
        return node(P, YX_DEFINED, parse_not(P), NULL);
    return parse_cmp(P);
}

static yx *parse_and(parser *P)
{
    yx *e = parse_not(P);
    while (e && accept_kw(P, "and"))
        e = node(P, YX_AND, e, parse_not(P));
    return e;
}

yx *yara_parse_or(parser *P)
{
    yx *e = parse_and(P);
    while (e && accept_kw(P, "or"))
        e = node(P, YX_OR, e, parse_and(P));
    return e;
}
