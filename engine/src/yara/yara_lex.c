/* yara_lex.c - the YARA rule lexer: blanks and comments, text strings with
 * YARA's escapes, numbers, names, operators; the token helpers and the
 * raw text of hex strings and regexes; the parser's one-line errors. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"
#include "yara/yara.h"
#include "yara/yara_internal.h"

/* ---- errors ---------------------------------------------------------- */

void *yara_fail_at(parser *P, int line, bool unsupported, const char *fmt, ...)
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

/* ---- lexer ----------------------------------------------------------- */

/* Skip blanks and comments; false on an unterminated comment. */
bool yara_skip_space(lexer *L)
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
    if (base == 10 && L->end - s >= 2 && s[0] == '.' && s[1] >= '0' && s[1] <= '9') {
        char *e;
        L->fval = strtod(L->p, &e); /* a float: "7.0" (not the range "0..5") */
        L->p = e;
        return T_FLOAT;
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

/* A regex /.../ with its flags (i, s) from L->p: the raw text in L->text,
 * the flags in L->ival (1 i, 2 s). */
static int lex_regex(parser *P, lexer *L)
{
    const char *s;
    size_t n;
    if (!yara_raw_until(P, '/', &s, &n))
        return T_ERROR;
    char *t = strndup(s, n);
    if (!t) {
        FAIL(P, "out of memory");
        return T_ERROR;
    }
    free(L->text);
    L->text = t;
    L->tlen = n;
    L->ival = 0;
    while (L->p < L->end && (*L->p == 'i' || *L->p == 's'))
        L->ival |= *L->p++ == 'i' ? 1 : 2;
    return T_REGEX;
}

int yara_lex(parser *P, lexer *L)
{
    if (!yara_skip_space(L)) {
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
    if (c == '/') /* a regex (conditions: matches); comments were skipped */
        return lex_regex(P, L);
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

const char *yara_tok_name(int tok, char *buf)
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
    case T_REGEX:
        return "regular expression";
    case T_FLOAT:
        return "number";
    default:
        if (tok < 256) {
            snprintf(buf, 8, "'%c'", tok);
            return buf;
        }
        return "operator";
    }
}

bool yara_expect(parser *P, int tok, const char *what)
{
    char b1[8], b2[8];
    if (P->failed)
        return false;
    if (accept(P, tok))
        return true;
    const char *got = P->L->tok == T_IDENT ? P->L->name : yara_tok_name(P->L->tok, b2);
    FAIL(P, "expected %s, got %s", what ? what : yara_tok_name(tok, b1), got);
    return false;
}

/* Read raw text after '=' (a hex string or regex), from L->p. */
bool yara_raw_until(parser *P, char close, const char **start, size_t *len)
{
    lexer *L = P->L;
    if (!yara_skip_space(L)) {
        FAIL(P, "unterminated comment");
        return false;
    }
    L->tline = L->line;
    const char *s = ++L->p;
    while (L->p < L->end && *L->p != close) {
        if (*L->p == '\\' && close == '/' && L->p + 1 < L->end)
            L->p++;
        if (close == '}' && *L->p == '/' && L->p + 1 < L->end &&
            (L->p[1] == '/' || L->p[1] == '*')) { /* a comment may hold braces */
            if (!yara_skip_space(L))
                break;
            continue;
        }
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
