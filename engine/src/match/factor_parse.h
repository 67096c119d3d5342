/* factor_parse.h - the factor parser's state and node facts (factors.c,
 * factor_atoms.c; internal). */
#ifndef MG_FACTOR_PARSE_H
#define MG_FACTOR_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "match/factor_set.h"

#define DEPTH_MAX 64 /* nesting of groups */

#define UNB ((uint64_t)1 << 40) /* an unbounded width */

typedef struct finfo {
    mg_fset exact;
    mg_fset best; /* n <= 0: none */
    uint64_t minw, maxw; /* widths in bytes (maxw UNB: unbounded) */
} finfo;

typedef struct fparser {
    const char *re;
    size_t len, i;
    bool bad; /* a construct we do not know: no factors */
    bool unsure; /* known, but Hyperscan might refuse it: let it check */
    bool any_repeat; /* long bounded repeats are fine (PCRE2 confirms: patterns_exact.c) */
    int depth;
} fparser;

/* A class "[...]" at P->i; an escape outside a class at P->i. */
void mg_fparse_class(fparser *P, finfo *out);
void mg_fparse_escape(fparser *P, finfo *out);

#endif
