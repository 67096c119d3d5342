/* yara_refs.c - a condition's references to the rule's strings ($a, #a,
 * @a, !a, and `$a at N`): each string found by name, marked referenced,
 * and how it is named, for yara's fixed offsets (yara_string's fixed). */
#include <string.h>

#include "yara/yara.h"
#include "yara/yara_internal.h"

/* Index (in the rule) of string id, or -1. */
int yara_find_string(parser *P, const char *id)
{
    for (size_t i = 0; i < P->rule->n_strings; i++)
        if (!strcmp(P->y->strings[P->rule->first_string + i].id, id))
            return (int)i;
    return -1;
}

/* The value of e if yara's parser knows it (a number, or operators over
 * numbers: yara 4.2.3's grammar.y folds those). */
static bool const_int(const yx *e, int64_t *v)
{
    int64_t a, b = 0;
    if (!e)
        return false;
    if (e->op == YX_INT)
        return *v = e->i, true;
    if (!const_int(e->a, &a) || (e->b && !const_int(e->b, &b)))
        return false;
    uint64_t x = (uint64_t)a, y = (uint64_t)b;
    switch (e->op) {
    case YX_NEG:
        return *v = (int64_t)(0 - x), true;
    case YX_BNOT:
        return *v = (int64_t)~x, true;
    case YX_ADD:
        return *v = (int64_t)(x + y), true;
    case YX_SUB:
        return *v = (int64_t)(x - y), true;
    case YX_MUL:
        return *v = (int64_t)(x * y), true;
    case YX_BAND:
        return *v = (int64_t)(x & y), true;
    case YX_BOR:
        return *v = (int64_t)(x | y), true;
    case YX_BXOR:
        return *v = (int64_t)(x ^ y), true;
    default:
        return false;
    }
}

/* String i of the rule named by the condition other than as `$a at N`
 * with a constant N (at NULL), or as that (at the N): see yara_string's
 * fixed. */
void yara_string_use(parser *P, int64_t s, const yx *at)
{
    if (s < 0)
        return; /* the for-of string: its set named them */
    size_t i = (size_t)s - P->rule->first_string;
    int64_t v;
    if (!at || !const_int(at, &v) || (P->at_state[i] == 1 && P->at_value[i] != v))
        P->at_state[i] = 2;
    else if (P->at_state[i] == 0) {
        P->at_state[i] = 1;
        P->at_value[i] = v;
    }
}

/* A string reference $a / #a / @a / !a: its global index, or -1 for the
 * for-of string ("$" alone inside for..of). -2 on error. */
int64_t yara_string_ref(parser *P)
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
