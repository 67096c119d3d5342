/* factor_set.h - a small set of byte strings, each at most MG_FACTOR_LEN
 * long, as the factor parser (factors.c) computes them for every node of
 * a regex (internal). */
#ifndef MG_FACTOR_SET_H
#define MG_FACTOR_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "match/patterns_internal.h"

#define MG_FSET_MAX 16 /* strings in a set while computing */

typedef struct mg_fset {
    int n; /* -1: unknown */
    uint8_t len[MG_FSET_MAX];
    uint8_t s[MG_FSET_MAX][MG_FACTOR_LEN];
} mg_fset;

/* Unknown (n = -1), the empty string alone, one byte alone. */
void mg_fset_unknown(mg_fset *s);
void mg_fset_empty_string(mg_fset *s);
void mg_fset_byte(mg_fset *s, uint8_t c);
/* Score of a set as a factor: its shortest string (longer is rarer); 0 if
 * it is unknown, empty or holds the empty string. */
int mg_fset_score(const mg_fset *s);
/* Keep the better of *best and cand: the rarer in process memory (zero,
 * 0xff and repeated bytes count nothing), then the longer shortest string,
 * then the smaller set. */
void mg_fset_consider(mg_fset *best, const mg_fset *cand);
bool mg_fset_contains(const mg_fset *s, const uint8_t *str, size_t n);
/* Add a string (once); false if the set is full or the string too long. */
bool mg_fset_add(mg_fset *s, const uint8_t *str, size_t n);
/* out = a x b (every string of a followed by every string of b); false if
 * it does not fit. */
bool mg_fset_cross(const mg_fset *a, const mg_fset *b, mg_fset *out);
/* out = a u b; false if it does not fit. */
bool mg_fset_unite(const mg_fset *a, const mg_fset *b, mg_fset *out);

#endif
