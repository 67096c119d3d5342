/* yara_quant.c - YARA quantified conditions into the expression tree:
 * ranges, sets of strings and rules, N of / all of / any of / none of,
 * for .. of (with a body over each string) and for .. in (over an integer
 * range; over a module array it is false, as yara's over an empty one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "yara/yara.h"
#include "yara/yara_internal.h"

/* '(' a '..' b ')' into e->a, e->b */
yx *yara_parse_range(parser *P, yx *e)
{
    if (!e || !yara_expect(P, '(', "'('")) {
        yx_free(e);
        return NULL;
    }
    e->a = yara_parse_bor(P);
    if (!yara_expect(P, T_DOTDOT, "'..'")) {
        yx_free(e);
        return NULL;
    }
    e->b = yara_parse_bor(P);
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
            P->at_state[i] = 2;
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
                        P->at_state[i] = 2;
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
                    if ((wild ? !strncmp(P->y->rules[i].name, name, strlen(name))
                              : !strcmp(P->y->rules[i].name, name)) &&
                        !strcmp(P->y->rules[i].ns, P->rule->ns))
                        PUSH((uint32_t)i | 0x80000000u);
                if (n == before) {
                    yara_fail_at(P, P->L->tline, true,
                                 "identifier %s%s is not supported (not a rule defined "
                                 "before; --skip-unsupported drops the rule)",
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
yx *yara_parse_of(parser *P, yx *e, bool is_for)
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
yx *yara_parse_quantifier(parser *P)
{
    yx *e = yara_leaf(P, YX_OF, 0);
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
        e->a = yara_parse_bor(P);
        P->in_quant = outer;
        if (!e->a) {
            yx_free(e);
            return NULL;
        }
        e->quant = accept(P, '%') ? YQ_PERCENT : YQ_EXPR;
    }
    return e;
}

yx *yara_parse_for(parser *P)
{
    yx *q = yara_parse_quantifier(P);
    if (!q)
        return NULL;
    if (is_kw(P, "of")) {
        next(P);
        return yara_parse_of(P, q, true);
    }
    if (P->L->tok != T_IDENT) {
        yx_free(q);
        return FAIL(P, "expected 'of' or a variable after the quantifier of 'for'");
    }
    int n_vars = 0;
    yx *mod = NULL;
    for (;;) { /* one variable, or several over a module dictionary */
        if (P->n_vars + n_vars == (int)(sizeof(P->vars) / sizeof(P->vars[0]))) {
            FAIL(P, "for loops nested too deep");
            goto bad;
        }
        if (!(P->vars[P->n_vars + n_vars] = strdup(P->L->name))) {
            FAIL(P, "out of memory");
            goto bad;
        }
        n_vars++;
        next(P);
        if (!accept(P, ',') || P->L->tok != T_IDENT)
            break;
    }
    if (!yara_expect(P, T_IDENT, "'in'"))
        goto bad;
    if (P->L->tok == T_IDENT) { /* a module array: false, whatever the body */
        mod = yara_parse_module(P, NULL);
        if (!mod)
            goto bad;
        for (int v = 0; v < n_vars; v++) {
            P->iter_vars |= 1u << (P->n_vars + v);
            snprintf(P->iter_mod[P->n_vars + v], sizeof(P->iter_mod[0]), "%s",
                     mod->op == YX_MODULE && mod->i == MG_YMOD_ELF ? "elf" : "pe");
        }
        q->op = YX_BOOL;
        q->i = 0;
        yx_free(q->a);
        q->a = NULL;
    } else if (n_vars > 1) {
        FAIL(P, "several variables over a range");
        goto bad;
    } else {
        q->op = YX_FOR_IN;
        q->i = P->n_vars;
        if (!(q->c = yara_parse_range(P, yara_leaf(P, YX_IN, 0))))
            goto bad;
    }
    if (!yara_expect(P, ':', "':'") || !yara_expect(P, '(', "'('"))
        goto bad;
    P->n_vars += n_vars;
    if ((size_t)P->n_vars > P->y->n_loop_vars)
        P->y->n_loop_vars = (size_t)P->n_vars;
    yx *body = yara_parse_or(P);
    P->n_vars -= n_vars;
    if (mod)
        yx_free(body);
    else
        q->b = body;
    if (!yara_expect(P, ')', "')'") || !body)
        goto bad;
    yx_free(mod);
    for (int v = 0; v < n_vars; v++) {
        free(P->vars[P->n_vars + v]);
        P->iter_vars &= ~(1u << (P->n_vars + v));
    }
    return q;
bad:
    yx_free(mod);
    for (int v = 0; v < n_vars; v++) {
        free(P->vars[P->n_vars + v]);
        P->iter_vars &= ~(1u << (P->n_vars + v));
    }
    yx_free(q);
    return NULL;
}
