/* yara_internal.h - what the YARA rule parser's files share (internal):
 * tokens, the lexer and parser state, error reporting, and the entry points
 * each file offers the others.
 *
 *   yara_lex.c      errors, the lexer (YARA's text escapes, numbers, names),
 *                   token helpers, raw hex/regex text
 *   yara_cond.c     conditions -> expression tree (yx), recursive descent
 *   yara_strings.c  the strings section -> patterns: modifiers, text
 *                   (nocase, wide, xor, base64), hex strings -> regex
 *   yara_names.c    the rule-name index by namespace
 *   yara_parse.c    rules, meta, includes, imports,
 *                   the public API (mg_patterns_add_rules*)
 */
#ifndef MG_YARA_INTERNAL_H
#define MG_YARA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "yara/yara.h"

/* string modifiers */
enum {
    SM_NOCASE = 1u << 0,
    SM_WIDE = 1u << 1,
    SM_ASCII = 1u << 2,
    SM_FULLWORD = 1u << 3,
    SM_PRIVATE = 1u << 4,
    SM_XOR = 1u << 5,
    SM_BASE64 = 1u << 6,
    SM_BASE64WIDE = 1u << 7,
};

enum tok {
    T_EOF = 256,
    T_IDENT,
    T_STRID, /* $a, $, $a* (wild) */
    T_COUNT, /* #a, # */
    T_OFFSET, /* @a, @ */
    T_LENGTH, /* !a, ! */
    T_INT,
    T_TEXT,
    T_REGEX, /* /.../is in a condition: text, ival flags (1 i, 2 s) */
    T_FLOAT,
    T_EQ,
    T_NE,
    T_LE,
    T_GE,
    T_SHL,
    T_SHR,
    T_DOTDOT,
    T_ERROR,
};

typedef struct lexer {
    const char *file, *dir;
    const char *s, *p, *end;
    int line;
    /* current token */
    int tok, tline;
    char name[256]; /* identifiers, string ids ("$a"), text (see text/tlen) */
    bool wild;
    int64_t ival;
    double fval;
    char *text; /* T_TEXT bytes (malloc'd) */
    size_t tlen;
} lexer;

typedef struct parser {
    mg_patterns *p;
    mg_yara *y;
    unsigned flags;
    mg_error *err;
    bool failed, unsupported;
    int depth; /* include depth */
    const char *stack[MG_YARA_MAX_INCLUDE_DEPTH + 1]; /* files being parsed */
    char **modules; /* imported */
    size_t n_modules;
    /* the rule being parsed */
    lexer *L;
    yara_rule *rule;
    bool *referenced; /* per string of the rule */
    /* per string of the rule: how the condition names it (yara_string's
     * fixed): 0 not yet, 1 only `at` at_value, 2 otherwise */
    uint8_t *at_state;
    int64_t *at_value;
    char *vars[8]; /* for-in variables in scope */
    int n_vars;
    unsigned iter_vars; /* bit v: vars[v] runs over a module array (its module in iter_mod) */
    char iter_mod[8][16];
    bool in_for_of; /* $, #, @, ! allowed */
    bool in_quant; /* parsing a quantifier: "2 of" is not an expression there */
    char msg[512]; /* the last error, without where */
} parser;

/* ---- yara_lex.c ---- */

/* Record the first error (one line, "FILE:LINE: [rule NAME: ]what") in
 * P->err and P->msg, mark P failed; returns NULL. */
void *yara_fail_at(parser *P, int line, bool unsupported, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define FAIL(P, ...) yara_fail_at((P), (P)->L->tline, false, __VA_ARGS__)
#define UNSUPPORTED(P, what)                                                                       \
    yara_fail_at((P), (P)->L->tline, true,                                                         \
                 "%s is not supported (--skip-unsupported drops the rule)", (what))

bool yara_skip_space(lexer *L);
int yara_lex(parser *P, lexer *L);
const char *yara_tok_name(int tok, char *buf);
bool yara_expect(parser *P, int tok, const char *what);
bool yara_raw_until(parser *P, char close, const char **start, size_t *len);

static inline bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static inline void next(parser *P)
{
    P->L->tok = yara_lex(P, P->L);
    if (P->L->tok == T_ERROR)
        P->failed = true;
}

static inline bool is_kw(parser *P, const char *kw)
{
    return P->L->tok == T_IDENT && !strcmp(P->L->name, kw);
}

static inline bool accept(parser *P, int tok)
{
    if (P->L->tok != tok)
        return false;
    next(P);
    return true;
}

static inline bool accept_kw(parser *P, const char *kw)
{
    if (!is_kw(P, kw))
        return false;
    next(P);
    return true;
}

/* ---- yara_cond.c ---- */

void yx_free(yx *e);
yx *yara_node(parser *P, yx_op op, yx *a, yx *b);
yx *yara_leaf(parser *P, yx_op op, int64_t i);
int yara_find_string(parser *P, const char *id);
int64_t yara_string_ref(parser *P);
void yara_string_use(parser *P, int64_t s, const yx *at);
yx *yara_parse_or(parser *P);
yx *yara_parse_bor(parser *P);

/* ---- yara_quant.c ---- */

yx *yara_parse_range(parser *P, yx *e);
yx *yara_parse_of(parser *P, yx *e, bool is_for);
yx *yara_parse_quantifier(parser *P);
yx *yara_parse_for(parser *P);

/* ---- yara_extern.c ---- */

yx *yara_str_leaf(parser *P, const char *s, size_t n);
/* The external variable name as a constant leaf, or NULL (not defined). */
yx *yara_external_ref(parser *P, const char *name);
/* a OP b with text on one side: folded (takes a and b). */
yx *yara_string_op(parser *P, const char *op, yx *a, yx *b, int line);

/* ---- yara_module.c ---- */

/* A module reference from the current token (alias: a loop variable over
 * a module array). */
yx *yara_parse_module(parser *P, const char *alias);

/* ---- yara_strings.c ---- */

bool yara_parse_string(parser *P);
/* The literal s of n bytes (escaped) as one expression of pattern id. */
int yara_add_literal(parser *P, unsigned id, const uint8_t *s, size_t n, unsigned hs_flags,
                     bool wide, uint8_t check);
/* YARA's wide: a zero after every byte (malloc'd, NULL if out of memory). */
uint8_t *yara_widen(const uint8_t *s, size_t n);

/* ---- yara_base64.c ---- */

/* The base64/base64wide forms (modifiers m, alphabet or "" for the
 * standard one) of the text s and of its wide form w (NULL unless wide), n
 * bytes of text, into pattern id. */
int yara_text_base64(parser *P, unsigned id, const uint8_t *s, const uint8_t *w, size_t n,
                     unsigned m, const char *alphabet);

/* ---- yara_hex.c ---- */

/* The hex string h (n bytes between the braces) as a regex appended to b;
 * 0, or -1 with the error recorded. */
int yara_hex_to_regex(parser *P, const char *h, size_t n, mg_strbuf *b);

/* ---- yara_parse.c ---- */

/* The namespace rules are added to ("default" unless set). */
const char *yara_namespace(const mg_yara *y);
int yara_find_rule(parser *P, const char *name);

#endif
