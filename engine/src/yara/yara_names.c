/* yara_names.c - rule names: the index of rule names by namespace (yara's
 * NS:FILE puts a file's rules in namespace NS; names are unique within a
 * namespace, a rule refers to the rules of its own). */
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"
#include "yara/yara.h"
#include "yara/yara_internal.h"

/* ---- rule names ---------------------------------------------------- */

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* Bring y->name_index up to date with y->rules (rules are only appended,
 * or truncated when a file fails: then it is rebuilt). false: no memory. */
static bool index_sync(mg_yara *y)
{
    if (y->index_n > y->n_rules) {
        memset(y->name_index, 0, y->index_cap * sizeof(*y->name_index));
        y->index_n = 0;
    }
    if (2 * (y->n_rules + 1) > y->index_cap) {
        size_t cap = y->index_cap ? y->index_cap : 256;
        while (2 * (y->n_rules + 1) > cap)
            cap *= 2;
        uint32_t *ni = calloc(cap, sizeof(*ni));
        if (!ni)
            return false;
        free(y->name_index);
        y->name_index = ni;
        y->index_cap = cap;
        y->index_n = 0;
    }
    for (; y->index_n < y->n_rules; y->index_n++) {
        size_t i = name_hash(y->rules[y->index_n].name) & (y->index_cap - 1);
        while (y->name_index[i])
            i = (i + 1) & (y->index_cap - 1);
        y->name_index[i] = (uint32_t)y->index_n + 1;
    }
    return true;
}

const char *yara_namespace(const mg_yara *y)
{
    return y->ns ? y->ns : "default";
}

/* The rule NAME of the namespace rules are added to, or -1. */
int yara_find_rule(parser *P, const char *name)
{
    mg_yara *y = P->y;
    const char *ns = yara_namespace(y);
    if (!index_sync(y)) { /* no memory for the index: look the slow way */
        for (size_t i = 0; i < y->n_rules; i++)
            if (!strcmp(y->rules[i].name, name) && !strcmp(y->rules[i].ns, ns))
                return (int)i;
        return -1;
    }
    for (size_t i = name_hash(name) & (y->index_cap - 1); y->name_index[i];
         i = (i + 1) & (y->index_cap - 1)) {
        const yara_rule *r = &y->rules[y->name_index[i] - 1];
        if (!strcmp(r->name, name) && !strcmp(r->ns, ns))
            return (int)(y->name_index[i] - 1);
    }
    return -1;
}
