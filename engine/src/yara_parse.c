/* yara_parse.c - YARA rule files: a hand-written lexer and recursive-descent
 * parser (rules, private/global, tags, meta, strings, conditions, comments,
 * includes relative to the including file), and each string compiled into
 * patterns of the set's one Hyperscan database.
 *
 * Errors are one line, "FILE:LINE: rule NAME: what" (or "FILE:LINE: what"
 * outside a rule). What memgrep cannot evaluate in a process (modules such
 * as pe, elf, math, hash; external variables; entrypoint; string operators)
 * is refused as "... CONSTRUCT is not supported", or with
 * MG_RULES_SKIP_UNSUPPORTED the rule is dropped and a warning kept. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patterns.h"
#include "patterns_internal.h"
#include "util.h"
#include "yara.h"

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
    char *vars[8]; /* for-in variables in scope */
    int n_vars;
    bool in_for_of; /* $, #, @, ! allowed */
    bool in_quant; /* parsing a quantifier: "2 of" is not an expression there */
    char msg[512]; /* the last error, without where */
} parser;

/* ---- errors ---------------------------------------------------------- */

static void *fail_at(parser *P, int line, bool unsupported, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void *fail_at(parser *P, int line, bool unsupported, const char *fmt, ...)
{
    if (P->failed)
        return NULL;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *file = P->L ? P->L->file : "rules";
    if (P->rule && P->rule->name)
        snprintf(P->msg, sizeof(P->msg), "%s:%d: rule %s: %s", file, line, P->rule->name, msg);
    else
        snprintf(P->msg, sizeof(P->msg), "%s:%d: %s", file, line, msg);
    if (P->rule && P->rule->name)
        mg_fail(P->err, MG_EPATTERN, "%s:%d: rule %s: %s", file, line, P->rule->name, msg);
    else
        mg_fail(P->err, MG_EPATTERN, "%s:%d: %s", file, line, msg);
    P->failed = true;
    P->unsupported = unsupported;
    return NULL;
}

#define FAIL(P, ...) fail_at((P), (P)->L->tline, false, __VA_ARGS__)
#define UNSUPPORTED(P, what) fail_at((P), (P)->L->tline, true, "%s is not supported", (what))

/* ---- lexer ----------------------------------------------------------- */

static bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Skip blanks and comments; false on an unterminated comment. */
static bool skip_space(lexer *L)
{
    while (L->p < L->end) {
        char c = *L->p;
        if (c == '\n') {
            L->line++;
            L->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v')
            L->p++;
        else if (c == '/' && L->p + 1 < L->end && L->p[1] == '/') {
            while (L->p < L->end && *L->p != '\n')
                L->p++;
        } else if (c == '/' && L->p + 1 < L->end && L->p[1] == '*') {
            L->p += 2;
            while (L->p + 1 < L->end && !(L->p[0] == '*' && L->p[1] == '/')) {
                if (*L->p == '\n')
                    L->line++;
                L->p++;
            }
            if (L->p + 1 >= L->end)
                return false;
            L->p += 2;
        } else
            break;
    }
    return true;
}

/* A text string's bytes from the opening quote at L->p; YARA's escapes
 * \" \\ \t \n \r \xHH. */
static int lex_text(parser *P, lexer *L)
{
    mg_strbuf b = {0};
    L->p++;
    while (L->p < L->end && *L->p != '"') {
        char c = *L->p++;
        if (c == '\n') {
            free(b.s);
            FAIL(P, "unterminated string");
            return T_ERROR;
        }
        if (c == '\\') {
            char e = L->p < L->end ? *L->p++ : 0;
            switch (e) {
            case '"':
            case '\\':
                c = e;
                break;
            case 't':
                c = '\t';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 'x':
                if (L->end - L->p >= 2 && mg_hexval(L->p[0]) >= 0 && mg_hexval(L->p[1]) >= 0) {
                    c = (char)(mg_hexval(L->p[0]) << 4 | mg_hexval(L->p[1]));
                    L->p += 2;
                    break;
                }
                /* fallthrough */
            default:
                free(b.s);
                FAIL(P, "illegal escape sequence '\\%c' in string", e ? e : ' ');
                return T_ERROR;
            }
        }
        mg_sb_putn(&b, &c, 1);
    }
    if (L->p >= L->end) {
        free(b.s);
        FAIL(P, "unterminated string");
        return T_ERROR;
    }
    L->p++;
    if (b.oom) {
        free(b.s);
        FAIL(P, "out of memory");
        return T_ERROR;
    }
    free(L->text);
    L->text = b.s ? b.s : strdup("");
    L->tlen = b.n;
    return T_TEXT;
}

static int lex_number(parser *P, lexer *L)
{
    const char *s = L->p;
    int base = 10;
    if (L->end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2;
    else if (L->end - s > 2 && s[0] == '0' && s[1] == 'o')
        base = 8, s += 2;
    uint64_t v = 0;
    const char *d = s;
    for (; s < L->end; s++) {
        int x = mg_hexval(*s);
        if (x < 0 || x >= base)
            break;
        if (v > (UINT64_MAX - (uint64_t)x) / (uint64_t)base) {
            FAIL(P, "integer too large");
            return T_ERROR;
        }
        v = v * (uint64_t)base + (uint64_t)x;
    }
    if (s == d) {
        FAIL(P, "invalid number");
        return T_ERROR;
    }
    if (base == 10 && L->end - s >= 2 && (s[0] == 'K' || s[0] == 'M') && s[1] == 'B') {
        v <<= s[0] == 'K' ? 10 : 20;
        s += 2;
    }
    if (s < L->end && is_ident_char(*s)) {
        FAIL(P, "invalid number");
        return T_ERROR;
    }
    if (v > INT64_MAX) {
        FAIL(P, "integer too large");
        return T_ERROR;
    }
    L->ival = (int64_t)v;
    L->p = s;
    return T_INT;
}

/* A name after $, #, @ or !: "$" + identifier chars, and a '*' (wild). */
static void lex_name(lexer *L)
{
    size_t n = 1;
    L->name[0] = '$';
    while (L->p < L->end && is_ident_char(*L->p)) {
        if (n + 1 < sizeof(L->name))
            L->name[n++] = *L->p;
        L->p++;
    }
    L->name[n] = '\0';
    L->wild = false;
}

static int lex(parser *P, lexer *L)
{
    if (!skip_space(L)) {
        L->tline = L->line;
        FAIL(P, "unterminated comment");
        return T_ERROR;
    }
    L->tline = L->line;
    if (L->p >= L->end)
        return T_EOF;
    char c = *L->p, d = L->p + 1 < L->end ? L->p[1] : 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
        size_t n = 0;
        while (L->p < L->end && is_ident_char(*L->p)) {
            if (n + 1 < sizeof(L->name))
                L->name[n++] = *L->p;
            L->p++;
        }
        L->name[n] = '\0';
        return T_IDENT;
    }
    if (c >= '0' && c <= '9')
        return lex_number(P, L);
    if (c == '"')
        return lex_text(P, L);
    L->p++;
    switch (c) {
    case '$':
        lex_name(L);
        if (L->p < L->end && *L->p == '*') {
            L->p++;
            L->wild = true;
        }
        return T_STRID;
    case '#':
        lex_name(L);
        return T_COUNT;
    case '@':
        lex_name(L);
        return T_OFFSET;
    case '!':
        if (d == '=') {
            L->p++;
            return T_NE;
        }
        lex_name(L);
        return T_LENGTH;
    case '=':
        if (d == '=') {
            L->p++;
            return T_EQ;
        }
        return '=';
    case '<':
        if (d == '=' || d == '<') {
            L->p++;
            return d == '=' ? T_LE : T_SHL;
        }
        return '<';
    case '>':
        if (d == '=' || d == '>') {
            L->p++;
            return d == '=' ? T_GE : T_SHR;
        }
        return '>';
    case '.':
        if (d == '.') {
            L->p++;
            return T_DOTDOT;
        }
        return '.';
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case ',':
    case ':':
    case '+':
    case '-':
    case '*':
    case '\\':
    case '%':
    case '&':
    case '|':
    case '^':
    case '~':
        return c;
    }
    FAIL(P, "unexpected character '%c'", c >= 0x20 && c < 0x7f ? c : '?');
    return T_ERROR;
}

static void next(parser *P)
{
    P->L->tok = lex(P, P->L);
    if (P->L->tok == T_ERROR)
        P->failed = true;
}

static bool is_kw(parser *P, const char *kw)
{
    return P->L->tok == T_IDENT && !strcmp(P->L->name, kw);
}

static bool accept(parser *P, int tok)
{
    if (P->L->tok != tok)
        return false;
    next(P);
    return true;
}

static bool accept_kw(parser *P, const char *kw)
{
    if (!is_kw(P, kw))
        return false;
    next(P);
    return true;
}

static const char *tok_name(int tok, char *buf)
{
    switch (tok) {
    case T_EOF:
        return "end of file";
    case T_IDENT:
        return "identifier";
    case T_STRID:
        return "string identifier";
    case T_INT:
        return "number";
    case T_TEXT:
        return "text string";
    default:
        if (tok < 256) {
            snprintf(buf, 8, "'%c'", tok);
            return buf;
        }
        return "operator";
    }
}

static bool expect(parser *P, int tok, const char *what)
{
    char b1[8], b2[8];
    if (P->failed)
        return false;
    if (accept(P, tok))
        return true;
    const char *got = P->L->tok == T_IDENT ? P->L->name : tok_name(P->L->tok, b2);
    FAIL(P, "expected %s, got %s", what ? what : tok_name(tok, b1), got);
    return false;
}

/* ---- the AST --------------------------------------------------------- */

static void yx_free(yx *e)
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

static yx *parse_or(parser *P);
static yx *parse_bor(parser *P);

/* Index (in the rule) of string id, or -1. */
static int find_string(parser *P, const char *id)
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
    int i = find_string(P, id);
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
    if (!e || !expect(P, '(', "'('")) {
        yx_free(e);
        return NULL;
    }
    e->a = parse_bor(P);
    if (!expect(P, T_DOTDOT, "'..'")) {
        yx_free(e);
        return NULL;
    }
    e->b = parse_bor(P);
    if (!expect(P, ')', "')'") || !e->a || !e->b) {
        yx_free(e);
        return NULL;
    }
    return e;
}

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

static int find_rule(parser *P, const char *name)
{
    mg_yara *y = P->y;
    if (!index_sync(y)) { /* no memory for the index: look the slow way */
        for (size_t i = 0; i < y->n_rules; i++)
            if (!strcmp(y->rules[i].name, name))
                return (int)i;
        return -1;
    }
    for (size_t i = name_hash(name) & (y->index_cap - 1); y->name_index[i];
         i = (i + 1) & (y->index_cap - 1))
        if (!strcmp(y->rules[y->name_index[i] - 1].name, name))
            return (int)(y->name_index[i] - 1);
    return -1;
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
        if (!expect(P, '(', "'them' or '('"))
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
                    fail_at(P, P->L->tline, true,
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
        if (!expect(P, ')', "')'"))
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
    if (!expect(P, ':', "':'") || !expect(P, '(', "'('")) {
        yx_free(e);
        return NULL;
    }
    bool outer = P->in_for_of;
    P->in_for_of = true;
    e->b = parse_or(P);
    P->in_for_of = outer;
    if (!expect(P, ')', "')'") || !e->b) {
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
    if (!var || !expect(P, T_IDENT, "'in'")) {
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
    if (!expect(P, ':', "':'") || !expect(P, '(', "'('")) {
        free(var);
        yx_free(q);
        return NULL;
    }
    P->vars[P->n_vars++] = var;
    if ((size_t)P->n_vars > P->y->n_loop_vars)
        P->y->n_loop_vars = (size_t)P->n_vars;
    q->b = parse_or(P);
    free(P->vars[--P->n_vars]);
    if (!expect(P, ')', "')'") || !q->b) {
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
    if (!skip_space(&c))
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
        yx *e = parse_or(P);
        if (!expect(P, ')', "')'")) {
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
            if (!expect(P, ']', "']'") || !e->a) {
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
        return FAIL(P, "unexpected %s in condition", tok_name(L->tok, b));
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
        if (!expect(P, '(', "'('"))
            return NULL;
        yx *e = leaf(P, YX_READ, fn);
        if (e && !(e->a = parse_bor(P))) {
            yx_free(e);
            return NULL;
        }
        if (!expect(P, ')', "')'")) {
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
    int r = find_rule(P, name);
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

static yx *parse_or(parser *P)
{
    yx *e = parse_and(P);
    while (e && accept_kw(P, "or"))
        e = node(P, YX_OR, e, parse_and(P));
    return e;
}

/* ---- strings into patterns --------------------------------------------- */

typedef struct strmods {
    unsigned m;
    int xor_lo, xor_hi;
    char alphabet[65]; /* base64 alphabet */
} strmods;

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void sb_bytes_escaped(mg_strbuf *b, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mg_sb_hexbyte(b, s[i]);
}

static int add_literal(parser *P, unsigned id, const uint8_t *s, size_t n, unsigned hs_flags,
                       bool wide, uint8_t check)
{
    mg_strbuf b = {0};
    sb_bytes_escaped(&b, s, n);
    if (b.oom) {
        free(b.s);
        FAIL(P, "out of memory");
        return -ENOMEM;
    }
    int rc = mg_patterns_add_owned_expr(P->p, id, b.s, hs_flags, wide, (unsigned)n, check, P->err);
    free(b.s);
    if (rc < 0)
        P->failed = true;
    return rc;
}

/* YARA's wide: a zero after every byte. */
static uint8_t *widen(const uint8_t *s, size_t n)
{
    uint8_t *w = malloc(2 * n + 1);
    for (size_t i = 0; w && i < n; i++) {
        w[2 * i] = s[i];
        w[2 * i + 1] = 0;
    }
    return w;
}

/* The base64 forms of s (YARA's): s shifted by 0, 1, 2 bytes, encoded, and
 * the characters that depend on the unknown bytes around it trimmed. */
static int add_base64(parser *P, unsigned id, const uint8_t *s, size_t n, const char *alpha,
                      bool wide)
{
    static const int lead[] = {0, 2, 3};
    for (int shift = 0; shift < 3; shift++) {
        size_t m = n + (size_t)shift;
        uint8_t *in = calloc(1, m + 3);
        char *out = malloc(4 * (m / 3 + 1) + 1);
        if (!in || !out) {
            free(in), free(out);
            FAIL(P, "out of memory");
            return -ENOMEM;
        }
        memcpy(in + shift, s, n);
        size_t o = 0;
        for (size_t i = 0; i < m; i += 3) {
            uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
            size_t chars = m - i >= 3 ? 4 : m - i + 1;
            for (size_t k = 0; k < chars; k++)
                out[o++] = alpha[(v >> (18 - 6 * k)) & 63];
        }
        /* trailing: with 1 or 2 bytes in the last group, its last char depends on what follows */
        size_t rem = m % 3;
        size_t trail = rem ? 1 : 0;
        size_t start = (size_t)lead[shift];
        int rc = 0;
        if (o > start + trail) {
            size_t len = o - start - trail;
            uint8_t *form = (uint8_t *)out + start;
            uint8_t *w = wide ? widen(form, len) : NULL;
            if (wide && !w)
                rc = -ENOMEM;
            else
                rc = add_literal(P, id, wide ? w : form, wide ? 2 * len : len, 0, wide, 0);
            free(w);
        }
        free(in);
        free(out);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int compile_text(parser *P, unsigned id, const uint8_t *s, size_t n, const strmods *md)
{
    unsigned m = md->m;
    bool ascii = (m & SM_ASCII) || !(m & SM_WIDE);
    int rc = 0;
    if (m & (SM_BASE64 | SM_BASE64WIDE)) {
        const char *alpha = md->alphabet[0] ? md->alphabet : b64_std;
        if (m & SM_BASE64)
            rc = add_base64(P, id, s, n, alpha, (m & SM_WIDE) != 0);
        if (rc == 0 && (m & SM_BASE64WIDE))
            rc = add_base64(P, id, s, n, alpha, true);
        return rc;
    }
    uint8_t *w = (m & SM_WIDE) ? widen(s, n) : NULL;
    uint8_t *x = malloc(2 * n + 1);
    if (((m & SM_WIDE) && !w) || !x) {
        free(w), free(x);
        FAIL(P, "out of memory");
        return -ENOMEM;
    }
    for (int form = 0; form < 2 && rc == 0; form++) {
        bool wide = form == 1;
        if ((wide && !(m & SM_WIDE)) || (!wide && !ascii))
            continue;
        const uint8_t *src = wide ? w : s;
        size_t len = wide ? 2 * n : n;
        uint8_t check = !(m & SM_FULLWORD) ? MG_CHECK_NONE
                        : wide             ? MG_CHECK_FULLWORD_WIDE
                                           : MG_CHECK_FULLWORD;
        if (m & SM_XOR) {
            for (int k = md->xor_lo; k <= md->xor_hi && rc == 0; k++) {
                for (size_t i = 0; i < len; i++)
                    x[i] = src[i] ^ (uint8_t)k;
                rc = add_literal(P, id, x, len, 0, wide, check);
            }
        } else
            rc = add_literal(P, id, src, len, (m & SM_NOCASE) ? HS_FLAG_CASELESS : 0, wide, check);
    }
    free(w);
    free(x);
    return rc;
}

/* A hex string (between the braces) as a Hyperscan regex (DOTALL). */
static int hex_to_regex(parser *P, const char *h, size_t n, mg_strbuf *b)
{
    size_t i = 0;
    int depth = 0, fixed = 0;
    bool need = false; /* last was a jump: a byte must follow */
    while (i < n) {
        char c = h[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            i++;
            continue;
        }
        if (c == '/' && i + 1 < n && (h[i + 1] == '/' || h[i + 1] == '*')) {
            if (h[i + 1] == '/')
                while (i < n && h[i] != '\n')
                    i++;
            else {
                const char *e = i + 2 < n ? memmem(h + i + 2, n - i - 2, "*/", 2) : NULL;
                i = e ? (size_t)(e - h) + 2 : n;
            }
            continue;
        }
        if (c == '[') {
            const char *close = memchr(h + i, ']', n - i);
            if (!close) {
                FAIL(P, "invalid hex string: unterminated jump");
                return -1;
            }
            char jump[64];
            size_t jl = (size_t)(close - h) - i - 1;
            if (jl >= sizeof(jump)) {
                FAIL(P, "invalid hex string: bad jump");
                return -1;
            }
            memcpy(jump, h + i + 1, jl);
            jump[jl] = '\0';
            unsigned long lo = 0, hi = 0;
            char *e;
            char *dash = strchr(jump, '-');
            bool unbounded = false;
            if (!dash) {
                lo = hi = strtoul(jump, &e, 10);
                if (e == jump) {
                    FAIL(P, "invalid hex string: bad jump [%s]", jump);
                    return -1;
                }
            } else {
                *dash = '\0';
                char *t = jump;
                while (*t == ' ')
                    t++;
                lo = *t ? strtoul(t, &e, 10) : 0;
                t = dash + 1;
                while (*t == ' ')
                    t++;
                if (*t)
                    hi = strtoul(t, &e, 10);
                else
                    unbounded = true;
                if (!unbounded && hi < lo) {
                    FAIL(P, "invalid hex string: bad jump range [%lu-%lu]", lo, hi);
                    return -1;
                }
            }
            char rep[64];
            if (unbounded)
                snprintf(rep, sizeof(rep), ".{%lu,}", lo);
            else if (lo == hi)
                snprintf(rep, sizeof(rep), ".{%lu}", lo);
            else
                snprintf(rep, sizeof(rep), ".{%lu,%lu}", lo, hi);
            if (lo || hi || unbounded)
                mg_sb_putn(b, rep, strlen(rep));
            need = true;
            i = (size_t)(close - h) + 1;
            continue;
        }
        if (c == '(') {
            mg_sb_putn(b, "(?:", 3);
            depth++;
            i++;
            continue;
        }
        if (c == '|' || c == ')') {
            if (depth == 0) {
                FAIL(P, "invalid hex string: unbalanced '%c'", c);
                return -1;
            }
            if (c == ')')
                depth--;
            mg_sb_putn(b, &c, 1);
            i++;
            continue;
        }
        if (i + 1 >= n) {
            FAIL(P, "invalid hex string: a byte is two hex digits");
            return -1;
        }
        char d = h[i + 1];
        int hv = mg_hexval(c), lv = mg_hexval(d);
        if (c == '?' && d == '?')
            mg_sb_putn(b, ".", 1);
        else if (hv >= 0 && lv >= 0) {
            mg_sb_hexbyte(b, (uint8_t)(hv << 4 | lv));
            fixed++;
        } else if (hv >= 0 && d == '?') {
            char cls[32];
            snprintf(cls, sizeof(cls), "[\\x%x0-\\x%xf]", hv, hv);
            mg_sb_putn(b, cls, strlen(cls));
        } else if (c == '?' && lv >= 0) {
            mg_sb_putn(b, "[", 1);
            for (int k = 0; k < 16; k++)
                mg_sb_hexbyte(b, (uint8_t)(k << 4 | lv));
            mg_sb_putn(b, "]", 1);
        } else {
            FAIL(P, "invalid hex string: unexpected '%c'", c);
            return -1;
        }
        need = false;
        i += 2;
    }
    if (depth || need || !b->s) {
        FAIL(P, "invalid hex string%s", need ? ": ends with a jump" : "");
        return -1;
    }
    if (!fixed) {
        FAIL(P, "invalid hex string: no fixed byte");
        return -1;
    }
    return 0;
}

/* ---- rules ----------------------------------------------------------- */

static char *dup_or_fail(parser *P, const char *s)
{
    char *d = strdup(s);
    if (!d)
        FAIL(P, "out of memory");
    return d;
}

static void rule_clear(yara_rule *r)
{
    free(r->name);
    free(r->ns);
    for (size_t i = 0; i < r->n_tags; i++)
        free(r->tags[i]);
    free(r->tags);
    for (size_t i = 0; i < r->n_meta; i++) {
        free(r->meta[i].key);
        free(r->meta[i].s);
    }
    free(r->meta);
    yx_free(r->cond);
    memset(r, 0, sizeof(*r));
}

static void strings_truncate(mg_yara *y, size_t n)
{
    while (y->n_strings > n)
        free(y->strings[--y->n_strings].id);
}

void mg_yara_free(mg_yara *y)
{
    if (!y)
        return;
    for (size_t i = 0; i < y->n_rules; i++)
        rule_clear(&y->rules[i]);
    free(y->rules);
    strings_truncate(y, 0);
    free(y->strings);
    for (size_t i = 0; i < y->n_skipped; i++)
        free(y->skipped[i]);
    free(y->skipped);
    free(y->name_index);
    free(y);
}

/* Read raw text after '=' (a hex string or regex), from L->p. */
static bool raw_until(parser *P, char close, const char **start, size_t *len)
{
    lexer *L = P->L;
    if (!skip_space(L)) {
        FAIL(P, "unterminated comment");
        return false;
    }
    L->tline = L->line;
    const char *s = ++L->p;
    while (L->p < L->end && *L->p != close) {
        if (*L->p == '\\' && close == '/' && L->p + 1 < L->end)
            L->p++;
        if (*L->p == '\n') {
            if (close == '/')
                break;
            L->line++;
        }
        L->p++;
    }
    if (L->p >= L->end || *L->p != close) {
        FAIL(P, close == '/' ? "unterminated regular expression" : "unterminated hex string");
        return false;
    }
    *start = s;
    *len = (size_t)(L->p - s);
    L->p++;
    return true;
}

static bool parse_modifiers(parser *P, strmods *md, int kind, int line)
{
    md->xor_lo = 0;
    md->xor_hi = 255;
    while (P->L->tok == T_IDENT && !P->failed) {
        static const struct {
            const char *name;
            unsigned bit;
            unsigned kinds; /* 1 text, 2 hex, 4 regex */
        } mods[] = {
            {"nocase", SM_NOCASE, 5},   {"wide", SM_WIDE, 5},
            {"ascii", SM_ASCII, 5},     {"fullword", SM_FULLWORD, 5},
            {"private", SM_PRIVATE, 7}, {"xor", SM_XOR, 1},
            {"base64", SM_BASE64, 1},   {"base64wide", SM_BASE64WIDE, 1},
        };
        size_t i;
        for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
            if (!strcmp(P->L->name, mods[i].name))
                break;
        if (i == sizeof(mods) / sizeof(mods[0]))
            break; /* 'condition' */
        if (!(mods[i].kinds & (1u << kind))) {
            FAIL(P, "modifier %s is not allowed on %s strings", mods[i].name,
                 kind == 1 ? "hex" : "regex");
            return false;
        }
        if (md->m & mods[i].bit) {
            FAIL(P, "duplicated modifier %s", mods[i].name);
            return false;
        }
        md->m |= mods[i].bit;
        next(P);
        if (mods[i].bit == SM_XOR && accept(P, '(')) {
            if (P->L->tok != T_INT || P->L->ival > 255) {
                FAIL(P, "xor: expected a key from 0 to 255");
                return false;
            }
            md->xor_lo = md->xor_hi = (int)P->L->ival;
            next(P);
            if (accept(P, '-')) {
                if (P->L->tok != T_INT || P->L->ival > 255 || P->L->ival < md->xor_lo) {
                    FAIL(P, "xor: expected a range of keys from 0 to 255");
                    return false;
                }
                md->xor_hi = (int)P->L->ival;
                next(P);
            }
            if (!expect(P, ')', "')'"))
                return false;
        } else if ((mods[i].bit & (SM_BASE64 | SM_BASE64WIDE)) && accept(P, '(')) {
            if (P->L->tok != T_TEXT || P->L->tlen != 64) {
                FAIL(P, "base64: the alphabet must be 64 bytes");
                return false;
            }
            memcpy(md->alphabet, P->L->text, 64);
            next(P);
            if (!expect(P, ')', "')'"))
                return false;
        }
    }
    unsigned m = md->m;
    if (P->failed)
        return false;
    if ((m & SM_XOR) && (m & (SM_NOCASE | SM_BASE64 | SM_BASE64WIDE))) {
        fail_at(P, line, false, "xor cannot be combined with nocase, base64 or base64wide");
        return false;
    }
    if ((m & (SM_BASE64 | SM_BASE64WIDE)) && (m & (SM_NOCASE | SM_FULLWORD))) {
        fail_at(P, line, false, "base64 cannot be combined with nocase or fullword");
        return false;
    }
    return true;
}

/* One "$id = value modifiers" of the strings section. */
static bool parse_string(parser *P)
{
    lexer *L = P->L;
    char id[256], source[700];
    int line = L->tline;
    snprintf(id, sizeof(id), "%s", L->name);
    if (L->wild)
        return FAIL(P, "invalid string identifier %s*", id), false;
    if (strcmp(id, "$") && find_string(P, id) >= 0)
        return FAIL(P, "duplicated string identifier \"%s\"", id), false;
    next(P);
    if (P->failed || L->tok != '=')
        return expect(P, '=', "'='"), false;
    /* the value: read raw from after '=' */
    const char *p = L->p;
    while (p < L->end && (*p == ' ' || *p == '\t'))
        p++;
    int kind; /* 0 text, 1 hex, 2 regex */
    const char *raw = NULL;
    size_t rawlen = 0;
    uint8_t *text = NULL;
    size_t tlen = 0;
    unsigned re_flags = 0;
    if (p < L->end && *p == '{') {
        kind = 1;
        L->p = p;
        if (!raw_until(P, '}', &raw, &rawlen))
            return false;
        next(P);
    } else if (p < L->end && *p == '/') {
        kind = 2;
        L->p = p;
        if (!raw_until(P, '/', &raw, &rawlen))
            return false;
        while (L->p < L->end && (*L->p == 'i' || *L->p == 's')) {
            re_flags |= *L->p == 'i' ? HS_FLAG_CASELESS : HS_FLAG_DOTALL;
            L->p++;
        }
        next(P);
    } else {
        kind = 0;
        next(P);
        if (L->tok != T_TEXT)
            return FAIL(P, "expected a text string, a hex string or a regular expression for %s",
                        id),
                   false;
        text = (uint8_t *)L->text;
        tlen = L->tlen;
        L->text = NULL;
        next(P);
        if (tlen == 0) {
            free(text);
            return FAIL(P, "empty string %s", id), false;
        }
    }
    strmods md = {0};
    if (P->failed || !parse_modifiers(P, &md, kind, line)) {
        free(text);
        return false;
    }
    mg_yara *y = P->y;
    if (y->n_strings == y->cap_strings) {
        size_t cap = y->cap_strings ? 2 * y->cap_strings : 32;
        yara_string *ns = realloc(y->strings, cap * sizeof(*ns));
        if (!ns) {
            free(text);
            return FAIL(P, "out of memory"), false;
        }
        y->strings = ns;
        y->cap_strings = cap;
    }
    snprintf(source, sizeof(source), "%s:%d: rule %s: %s", L->file, line, P->rule->name, id);
    const char *ptext = kind == 0 ? (const char *)text : raw;
    size_t plen = kind == 0 ? tlen : rawlen;
    int pid =
        mg_patterns_add_owned(P->p,
                              kind == 0   ? MG_PATTERN_LITERAL
                              : kind == 1 ? MG_PATTERN_HEX
                                          : MG_PATTERN_REGEX,
                              ptext ? ptext : "", plen, source, (uint32_t)y->n_strings + 1, P->err);
    if (pid < 0) {
        free(text);
        P->failed = true;
        return false;
    }
    yara_string *ys = &y->strings[y->n_strings++];
    ys->id = strdup(id);
    ys->pattern_id = (unsigned)pid;
    ys->private_ = (md.m & SM_PRIVATE) != 0;
    P->rule->n_strings++;
    if (!ys->id) {
        free(text);
        return FAIL(P, "out of memory"), false;
    }
    int rc = 0;
    L->tline = line; /* errors of the value name its line */
    if (kind == 0)
        rc = compile_text(P, (unsigned)pid, text, tlen, &md);
    else if (kind == 1) {
        mg_strbuf b = {0};
        rc = hex_to_regex(P, raw, rawlen, &b);
        if (rc == 0 && b.oom)
            rc = -1, FAIL(P, "out of memory");
        if (rc == 0 && mg_patterns_add_owned_expr(P->p, (unsigned)pid, b.s, HS_FLAG_DOTALL, false,
                                                  0, 0, P->err) < 0)
            rc = -1, P->failed = true;
        free(b.s);
    } else {
        char *re = strndup(raw, rawlen);
        /* YARA's "\/" in a regex is a slash */
        mg_strbuf b = {0};
        for (size_t i = 0; re && i < rawlen; i++) {
            if (re[i] == '\\' && i + 1 < rawlen && re[i + 1] == '/')
                i++;
            mg_sb_putn(&b, re + i, 1);
        }
        unsigned fl = re_flags | ((md.m & SM_NOCASE) ? HS_FLAG_CASELESS : 0);
        bool ascii = (md.m & SM_ASCII) || !(md.m & SM_WIDE);
        uint8_t check = (md.m & SM_FULLWORD) ? MG_CHECK_FULLWORD : 0;
        if (!re || b.oom || !b.s)
            rc = -1, FAIL(P, "out of memory");
        if (rc == 0 && ascii &&
            mg_patterns_add_owned_expr(P->p, (unsigned)pid, b.s, fl, false, 0, check, P->err) < 0)
            rc = -1, P->failed = true;
        if (rc == 0 && (md.m & SM_WIDE)) {
            char *w = NULL;
            size_t bad = 0;
            if (mg_regex_widen(b.s, b.n, &w, &bad) < 0)
                rc = -1, FAIL(P, "%s: regular expression has no wide form (anchors, \\b)", id);
            else if (mg_patterns_add_owned_expr(P->p, (unsigned)pid, w, fl, true, 0,
                                                (md.m & SM_FULLWORD) ? MG_CHECK_FULLWORD_WIDE : 0,
                                                P->err) < 0)
                rc = -1, P->failed = true;
            free(w);
        }
        free(b.s);
        free(re);
    }
    free(text);
    return rc == 0 && !P->failed;
}

static bool parse_meta(parser *P)
{
    yara_rule *r = P->rule;
    while (P->L->tok == T_IDENT && strcmp(P->L->name, "strings") &&
           strcmp(P->L->name, "condition")) {
        yara_meta m = {0};
        m.key = dup_or_fail(P, P->L->name);
        next(P);
        if (!m.key || !expect(P, '=', "'='")) {
            free(m.key);
            return false;
        }
        bool neg = accept(P, '-');
        if (P->L->tok == T_TEXT && !neg) {
            m.type = 0;
            m.s = P->L->text;
            P->L->text = NULL;
        } else if (P->L->tok == T_INT) {
            m.type = 1;
            m.i = neg ? -P->L->ival : P->L->ival;
        } else if (is_kw(P, "true") || is_kw(P, "false")) {
            m.type = 2;
            m.i = P->L->name[0] == 't';
        } else {
            free(m.key);
            return FAIL(P, "meta %s: expected a string, a number, true or false", P->L->name),
                   false;
        }
        next(P);
        yara_meta *nm = realloc(r->meta, (r->n_meta + 1) * sizeof(*nm));
        if (!nm) {
            free(m.key), free(m.s);
            return FAIL(P, "out of memory"), false;
        }
        r->meta = nm;
        r->meta[r->n_meta++] = m;
    }
    return !P->failed;
}

/* Skip what is left of a rule refused as unsupported: up to its closing
 * brace (conditions hold no braces). */
static void skip_rule(parser *P)
{
    P->failed = false;
    while (P->L->tok != '}' && P->L->tok != T_EOF) {
        next(P);
        if (P->failed) {
            P->failed = false;
            P->L->p++; /* past the character the lexer refused */
        }
    }
    next(P);
}

static bool add_warning(parser *P, const char *msg)
{
    mg_yara *y = P->y;
    char **ns = realloc(y->skipped, (y->n_skipped + 1) * sizeof(*ns));
    if (!ns)
        return false;
    y->skipped = ns;
    y->skipped[y->n_skipped] = strdup(msg);
    if (!y->skipped[y->n_skipped])
        return false;
    y->n_skipped++;
    return true;
}

static bool parse_rule(parser *P, bool global, bool private_)
{
    lexer *L = P->L;
    mg_yara *y = P->y;
    if (L->tok != T_IDENT)
        return expect(P, T_IDENT, "a rule name"), false;
    static const char *const reserved[] = {
        "all",     "and",      "any",  "ascii",    "at",     "condition", "contains", "entrypoint",
        "false",   "filesize", "for",  "fullword", "global", "import",    "in",       "include",
        "meta",    "nocase",   "none", "not",      "of",     "or",        "private",  "rule",
        "strings", "them",     "true", "wide",     "xor",    "defined"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (!strcmp(L->name, reserved[i]))
            return FAIL(P, "'%s' is a keyword, not a rule name", L->name), false;
    if (find_rule(P, L->name) >= 0)
        return FAIL(P, "duplicated rule identifier \"%s\"", L->name), false;
    if (y->n_rules == y->cap_rules) {
        size_t cap = y->cap_rules ? 2 * y->cap_rules : 16;
        yara_rule *nr = realloc(y->rules, cap * sizeof(*nr));
        if (!nr)
            return FAIL(P, "out of memory"), false;
        y->rules = nr;
        y->cap_rules = cap;
    }
    yara_rule *r = &y->rules[y->n_rules];
    memset(r, 0, sizeof(*r));
    r->name = strdup(L->name);
    r->ns = strdup("default");
    r->global = global;
    r->private_ = private_;
    r->first_string = (uint32_t)y->n_strings;
    P->rule = r;
    size_t n_pats = P->p->n, n_exprs = P->p->n_exprs, n_strings = y->n_strings;
    if (!r->name || !r->ns) {
        FAIL(P, "out of memory");
        goto bad;
    }
    next(P);
    if (accept(P, ':')) {
        while (L->tok == T_IDENT && !P->failed) {
            char **nt = realloc(r->tags, (r->n_tags + 1) * sizeof(*nt));
            if (!nt) {
                FAIL(P, "out of memory");
                goto bad;
            }
            r->tags = nt;
            if (!(r->tags[r->n_tags] = dup_or_fail(P, L->name)))
                goto bad;
            r->n_tags++;
            next(P);
        }
        if (!r->n_tags && !P->failed) {
            FAIL(P, "expected tags after ':'");
            goto bad;
        }
    }
    if (!expect(P, '{', "'{'"))
        goto bad;
    if (accept_kw(P, "meta")) {
        if (!expect(P, ':', "':'") || !parse_meta(P))
            goto bad;
    }
    if (accept_kw(P, "strings")) {
        if (!expect(P, ':', "':'"))
            goto bad;
        while (L->tok == T_STRID && !P->failed)
            if (!parse_string(P))
                goto bad;
        if (!r->n_strings && !P->failed) {
            FAIL(P, "empty strings section");
            goto bad;
        }
    }
    if (P->failed || !accept_kw(P, "condition")) {
        if (!P->failed)
            FAIL(P, "expected 'condition'");
        goto bad;
    }
    if (!expect(P, ':', "':'"))
        goto bad;
    P->referenced = calloc(r->n_strings + 1, sizeof(bool));
    if (!P->referenced) {
        FAIL(P, "out of memory");
        goto bad;
    }
    r->cond = parse_or(P);
    if (!r->cond || !expect(P, '}', "'}' (or an operator)"))
        goto bad;
    for (size_t i = 0; i < r->n_strings; i++)
        if (!P->referenced[i]) {
            fail_at(P, L->tline, false, "unreferenced string \"%s\"",
                    y->strings[r->first_string + i].id);
            goto bad;
        }
    free(P->referenced);
    P->referenced = NULL;
    y->n_rules++;
    P->rule = NULL;
    return true;
bad:
    free(P->referenced);
    P->referenced = NULL;
    mg_patterns_truncate(P->p, n_pats, n_exprs);
    strings_truncate(y, n_strings);
    if (P->unsupported && (P->flags & MG_RULES_SKIP_UNSUPPORTED)) {
        if (!add_warning(P, P->msg)) {
            rule_clear(r);
            P->rule = NULL;
            return FAIL(P, "out of memory"), false;
        }
        rule_clear(r);
        P->rule = NULL;
        P->unsupported = false;
        skip_rule(P);
        if (P->err)
            P->err->message[0] = '\0';
        return !P->failed;
    }
    rule_clear(r);
    P->rule = NULL;
    return false;
}

static int parse_file(parser *P, const char *path, const char *text, size_t len);

static bool parse_include(parser *P)
{
    lexer *L = P->L;
    if (L->tok != T_TEXT)
        return expect(P, T_TEXT, "a file name after include"), false;
    char path[4096];
    if (L->text[0] == '/' || !L->dir[0])
        snprintf(path, sizeof(path), "%s", L->text);
    else
        snprintf(path, sizeof(path), "%s/%s", L->dir, L->text);
    if (P->depth >= MG_YARA_MAX_INCLUDE_DEPTH)
        return FAIL(P, "include \"%s\": includes nested too deep", L->text), false;
    for (int i = 0; i < P->depth; i++)
        if (!strcmp(P->stack[i], path))
            return FAIL(P, "include \"%s\": includes itself", L->text), false;
    char *buf = NULL;
    size_t n = 0;
    int rc = mg_read_file(path, &buf, &n);
    if (rc < 0)
        return FAIL(P, "include \"%s\": cannot read %s: %s", L->text, path, mg_strerror(rc)), false;
    rc = parse_file(P, path, buf, n);
    free(buf);
    P->L = L;
    if (rc < 0)
        return false;
    next(P);
    return !P->failed;
}

static int parse_file(parser *P, const char *path, const char *text, size_t len)
{
    lexer L = {.file = path, .s = text, .p = text, .end = text + len, .line = 1};
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
    if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    L.dir = dir;
    lexer *outer = P->L;
    P->L = &L;
    P->stack[P->depth++] = path;
    next(P);
    while (!P->failed && L.tok != T_EOF) {
        if (accept_kw(P, "include")) {
            if (!parse_include(P))
                break;
        } else if (accept_kw(P, "import")) {
            if (L.tok != T_TEXT) {
                expect(P, T_TEXT, "a module name after import");
                break;
            }
            char **nm = realloc(P->modules, (P->n_modules + 1) * sizeof(*nm));
            if (!nm || !(nm[P->n_modules] = strdup(L.text))) {
                if (nm)
                    P->modules = nm;
                FAIL(P, "out of memory");
                break;
            }
            P->modules = nm;
            P->n_modules++;
            next(P);
        } else {
            bool global = false, private_ = false;
            for (;;) {
                if (accept_kw(P, "global"))
                    global = true;
                else if (accept_kw(P, "private"))
                    private_ = true;
                else
                    break;
            }
            if (!accept_kw(P, "rule")) {
                if (!P->failed)
                    FAIL(P, "expected 'rule', 'import' or 'include'");
                break;
            }
            if (!parse_rule(P, global, private_))
                break;
        }
    }
    free(L.text);
    P->depth--;
    P->L = outer;
    return P->failed ? MG_EPATTERN : 0;
}

int mg_yara_add_text(mg_patterns *p, const char *text, size_t len, const char *name, unsigned flags,
                     mg_error *err)
{
    if (!p->yara && !(p->yara = calloc(1, sizeof(*p->yara))))
        return mg_fail(err, -ENOMEM, "out of memory");
    mg_yara *y = p->yara;
    parser P = {.p = p, .y = y, .flags = flags, .err = err};
    size_t n_rules = y->n_rules, n_strings = y->n_strings, n_pats = p->n, n_exprs = p->n_exprs,
           n_skipped = y->n_skipped;
    int rc = parse_file(&P, name, text, len);
    for (size_t i = 0; i < P.n_modules; i++)
        free(P.modules[i]);
    free(P.modules);
    if (rc < 0) {
        while (y->n_rules > n_rules)
            rule_clear(&y->rules[--y->n_rules]);
        strings_truncate(y, n_strings);
        while (y->n_skipped > n_skipped)
            free(y->skipped[--y->n_skipped]);
        mg_patterns_truncate(p, n_pats, n_exprs);
        return rc;
    }
    if (err)
        err->message[0] = '\0';
    return (int)(y->n_rules - n_rules);
}

/* ---- the public API ---------------------------------------------------- */

MG_API int mg_patterns_add_rules_text(mg_patterns *p, const char *text, size_t len,
                                      const char *name, unsigned flags, mg_error *err)
{
    if (!p || (!text && len))
        return mg_fail(err, -EINVAL, "invalid argument");
    if (p->db)
        return mg_fail(err, MG_ESTATE, "patterns already compiled");
    if (flags & ~(unsigned)MG_RULES_SKIP_UNSUPPORTED)
        return mg_fail(err, -EINVAL, "unknown flags 0x%x", flags);
    return mg_yara_add_text(p, text ? text : "", len, name ? name : "rules", flags, err);
}

MG_API int mg_patterns_add_rules(mg_patterns *p, const char *path, unsigned flags, mg_error *err)
{
    if (!p || !path)
        return mg_fail(err, -EINVAL, "invalid argument");
    char *buf = NULL;
    size_t len = 0;
    int rc = mg_read_file(path, &buf, &len);
    if (rc < 0)
        return mg_fail(err, rc, "cannot read rule file '%s': %s", path, mg_strerror(rc));
    rc = mg_patterns_add_rules_text(p, buf, len, path, flags, err);
    free(buf);
    return rc;
}

MG_API size_t mg_patterns_rules_count(const mg_patterns *p)
{
    return p && p->yara ? p->yara->n_rules : 0;
}

MG_API const char *mg_patterns_rules_skipped(const mg_patterns *p, size_t i)
{
    return p && p->yara && i < p->yara->n_skipped ? p->yara->skipped[i] : NULL;
}
