/* patterns_internal.h - pattern text transforms (internal). */
#ifndef MG_PATTERNS_INTERNAL_H
#define MG_PATTERNS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits_internal.h"
#include "memgrep/memgrep.h"

/*
 * Parse hex bytes with "??" wildcards: "4d 5a ?? 00", "4d5a??00". Spaces and
 * tabs between bytes are optional; a byte is exactly two hex digits or "??".
 * bytes/mask get one entry per byte (mask 0 = wildcard); both must hold at
 * least len/2 entries. Returns the number of bytes, or -EINVAL with *bad set
 * to the offset of the first offending character (len if the pattern ends
 * in the middle of a byte or is empty, or only wildcards).
 */
int mg_hex_parse(const char *text, size_t len, uint8_t *bytes, uint8_t *mask, size_t *bad);

/*
 * Rewrite a regular expression so that it matches the UTF-16LE form of what
 * the original matches for ASCII text: every atom (a character, an escape,
 * a class, '.') becomes "(?:ATOM\x00)"; groups, alternation and quantifiers
 * keep their structure. Anchors (^ $ \b \B \A \z \Z) are rejected.
 * Returns 0 with *out malloc'd (NUL-terminated), or -EINVAL with *bad the
 * offending offset, or -ENOMEM.
 */
int mg_regex_widen(const char *re, size_t len, char **out, size_t *bad);
/* The same with word_bounds 1: \b and \B become YARA's wide word
 * boundaries as PCRE2 lookarounds (patterns_exact.c); 2: they are left out
 * (a superset, for factors). */
int mg_regex_widen_ex(const char *re, size_t len, int word_bounds, char **out, size_t *bad);
/* re without ^, $, \b, \B (outside classes): a superset of its matches,
 * for factors (malloc'd, or NULL). */
char *mg_regex_relax(const char *re);

/* A required literal factor of a regex (factors.c). */
typedef struct mg_factor {
    uint8_t len;
    uint8_t s[MG_FACTOR_LEN];
} mg_factor;

/* What the factor parser saw of a whole regex (shape may be NULL): its
 * min and max width in bytes (max UINT32_MAX: unbounded), and whether it
 * vouches that Hyperscan accepts the regex with these widths (sure: only
 * constructs it knows Hyperscan takes, bounded, not matching the empty
 * string), so that hs_expression_info can be skipped. */
typedef struct mg_regex_shape {
    unsigned min_width, max_width;
    bool sure;
} mg_regex_shape;

/*
 * Required literal factors of the Hyperscan expression re (len bytes) with
 * hs_flags: a set of strings such that every match contains one of them.
 * Fills out (MG_FACTORS_MAX entries) and returns their number, each at
 * least MG_FACTOR_MIN bytes long; 0 when there is none (or the expression
 * uses a construct the parser does not know, or flags other than CASELESS,
 * DOTALL, MULTILINE, SOM_LEFTMOST). Under HS_FLAG_CASELESS the factors are
 * to be matched caseless.
 */
int mg_regex_factors(const char *re, size_t len, unsigned hs_flags, mg_factor *out,
                     mg_regex_shape *shape);

/* The same for a regex PCRE2 confirms (patterns_exact.c): long bounded
 * repeats, which Hyperscan may refuse, do not stop it. */
int mg_regex_factors_exact(const char *re, size_t len, unsigned hs_flags, mg_factor *out,
                           mg_regex_shape *shape);

/* How a set treats its regexes (mg_patterns_set_lazy, before compiling):
 * AUTO finds regexes with factors lazily when there are MG_LAZY_MIN or
 * more; OFF compiles every expression into one database; ALL finds every
 * regex with factors lazily (tests compare it against OFF). */
enum {
    MG_LAZY_AUTO = 0,
    MG_LAZY_OFF = 1,
    MG_LAZY_ALL = 2
};
int mg_patterns_set_lazy(mg_patterns *p, int mode);

/* A growable NUL-terminated string; after an allocation failure (oom) it
 * ignores further appends. s is malloc'd (free it). */
typedef struct mg_strbuf {
    char *s;
    size_t n, cap;
    bool oom;
} mg_strbuf;

void mg_sb_putn(mg_strbuf *b, const char *s, size_t n);
/* Append byte c as a "\xHH" escape. */
void mg_sb_hexbyte(mg_strbuf *b, uint8_t c);

/* Append a literal's UTF-16LE form as escapes: UTF-8 text is converted code
 * point by code point, bytes that are not valid UTF-8 are widened one by
 * one. *width gets the form's length in bytes. */
void mg_literal_wide(mg_strbuf *b, const char *text, size_t len, unsigned *width);

/* Printable rendering of a pattern for messages (at most ~80 bytes) in out. */
const char *mg_pattern_show(const char *text, size_t len, char *out, size_t cap);

/* ---- patterns with hand-made expressions (YARA strings) ---- */

/* Add a pattern without expressions, owned by owner (see mg_pat.owner);
 * text and source are copied. Returns its id or a negative code. */
int mg_patterns_add_owned(mg_patterns *p, mg_pattern_kind kind, const char *text, size_t len,
                          const char *source, uint32_t owner, mg_error *err);
/* Add an expression (re copied) to pattern id, the last one added. fixed_width
 * 0: a regex, checked with Hyperscan (errors name the pattern's source). */
int mg_patterns_add_owned_expr(mg_patterns *p, unsigned id, const char *re, unsigned hs_flags,
                               bool wide, unsigned fixed_width, uint8_t check, mg_error *err);
/* Drop patterns and expressions added after the counts (all-or-nothing
 * loading). */
void mg_patterns_truncate(mg_patterns *p, size_t n_pats, size_t n_exprs);

#endif
