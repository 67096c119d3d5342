/* factor_set.c - sets of literal factors (factor_set.h) and their
 * algebra: the cross product of a concatenation, the union of an
 * alternation, and the score that picks the best set. */
#include "match/factor_set.h"

#include <string.h>

#include "util.h"

void mg_fset_unknown(mg_fset *s)
{
    s->n = -1;
}

void mg_fset_empty_string(mg_fset *s)
{
    s->n = 1;
    s->len[0] = 0;
}

void mg_fset_byte(mg_fset *s, uint8_t c)
{
    s->n = 1;
    s->len[0] = 1;
    s->s[0][0] = c;
}

/* Score of a set as a factor: its shortest string (longer is rarer); 0 if
 * it is unknown, empty or holds the empty string. */
int mg_fset_score(const mg_fset *s)
{
    if (s->n <= 0)
        return 0;
    int m = MG_FACTOR_LEN + 1;
    for (int k = 0; k < s->n; k++)
        m = MG_MIN(m, (int)s->len[k]);
    return m;
}

/* How rare a string is in process memory, in bytes: a zero byte, a 0xff
 * byte and a byte repeating the one before it count nothing (zero runs,
 * padding and fills are everywhere in a heap: a factor of twelve zero
 * bytes fires at every offset of every zero run), any other byte counts
 * one. */
static int rarity(const uint8_t *s, size_t n)
{
    int r = 0;
    for (size_t i = 0; i < n; i++)
        r += s[i] != 0 && s[i] != 0xff && (i == 0 || s[i] != s[i - 1]);
    return r;
}

/* The rarity of a set: its least rare string's (0 if unknown or empty). */
static int set_rarity(const mg_fset *s)
{
    if (s->n <= 0)
        return 0;
    int m = MG_FACTOR_LEN + 1;
    for (int k = 0; k < s->n; k++)
        m = MG_MIN(m, rarity(s->s[k], s->len[k]));
    return m;
}

/* Keep the better of *best and cand: the rarer (set_rarity), then the
 * longer shortest string, then the smaller set. */
void mg_fset_consider(mg_fset *best, const mg_fset *cand)
{
    if (cand->n > MG_FACTORS_MAX)
        return; /* too many to use */
    int a = mg_fset_score(best), b = mg_fset_score(cand);
    if (b == 0)
        return;
    int ra = set_rarity(best), rb = set_rarity(cand);
    if (a == 0 || rb > ra || (rb == ra && (b > a || (b == a && cand->n < best->n))))
        *best = *cand;
}

bool mg_fset_contains(const mg_fset *s, const uint8_t *str, size_t n)
{
    for (int k = 0; k < s->n; k++)
        if (s->len[k] == n && !memcmp(s->s[k], str, n))
            return true;
    return false;
}

bool mg_fset_add(mg_fset *s, const uint8_t *str, size_t n)
{
    if (mg_fset_contains(s, str, n))
        return true;
    if (s->n >= MG_FSET_MAX || n > MG_FACTOR_LEN)
        return false;
    s->len[s->n] = (uint8_t)n;
    memcpy(s->s[s->n], str, n);
    s->n++;
    return true;
}

/* out = a x b (every string of a followed by every string of b); false if
 * it does not fit. */
bool mg_fset_cross(const mg_fset *a, const mg_fset *b, mg_fset *out)
{
    mg_fset r = {0};
    uint8_t tmp[2 * MG_FACTOR_LEN];
    for (int x = 0; x < a->n; x++)
        for (int y = 0; y < b->n; y++) {
            size_t n = (size_t)a->len[x] + b->len[y];
            if (n > MG_FACTOR_LEN)
                return false;
            memcpy(tmp, a->s[x], a->len[x]);
            memcpy(tmp + a->len[x], b->s[y], b->len[y]);
            if (!mg_fset_add(&r, tmp, n))
                return false;
        }
    *out = r;
    return true;
}

bool mg_fset_unite(const mg_fset *a, const mg_fset *b, mg_fset *out)
{
    mg_fset r = *a;
    for (int y = 0; y < b->n; y++)
        if (!mg_fset_add(&r, b->s[y], b->len[y]))
            return false;
    *out = r;
    return true;
}
