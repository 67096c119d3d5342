/* json.c - see json.h. Recursive descent over RFC 8259. */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    int depth;
} parser;

static void ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static bool lit(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
        return false;
    p->pos += n;
    return true;
}

typedef struct buf {
    char *d;
    size_t n, cap;
} buf;

static bool put(buf *b, const void *src, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d)
            return false;
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, src, n);
    b->n += n;
    b->d[b->n] = '\0';
    return true;
}

static bool put_utf8(buf *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return put(b, u, n);
}

static bool hex4(parser *p, uint32_t *v)
{
    if (p->len - p->pos < 4)
        return false;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->s[p->pos++];
        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *v |= (uint32_t)(c - 'A' + 10);
        else
            return false;
    }
    return true;
}

/* Length of a valid UTF-8 sequence at s (no overlongs, no surrogates, <=
 * U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static bool string(parser *p, char **out, size_t *out_len)
{
    buf b = {0};
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return false;
    p->pos++;
    put(&b, "", 0);
    for (;;) {
        if (p->pos >= p->len)
            goto fail;
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            goto fail; /* control characters must be escaped */
        if (c == '\\') {
            p->pos++;
            if (p->pos >= p->len)
                goto fail;
            unsigned char e = p->s[p->pos++];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char map[] = "\"\\/\b\f\n\r\t";
                char ch = map[simple - "\"\\/bfnrt"];
                if (!put(&b, &ch, 1))
                    goto fail;
            } else if (e == 'u') {
                uint32_t cp;
                if (!hex4(p, &cp))
                    goto fail;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    goto fail; /* lone low surrogate */
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (!lit(p, "\\u") || !hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
                        goto fail;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (!put_utf8(&b, cp))
                    goto fail;
            } else {
                goto fail;
            }
            continue;
        }
        size_t n = utf8_seq(p->s + p->pos, p->len - p->pos);
        if (!n || !put(&b, p->s + p->pos, n))
            goto fail;
        p->pos += n;
    }
    *out = b.d;
    *out_len = b.n;
    return true;
fail:
    free(b.d);
    return false;
}

static bool number(parser *p, jval *v)
{
    size_t start = p->pos;
    const unsigned char *s = p->s;
    if (p->pos < p->len && s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len)
        return false;
    if (s[p->pos] == '0') {
        p->pos++;
    } else if (s[p->pos] >= '1' && s[p->pos] <= '9') {
        while (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9')
            p->pos++;
    } else {
        return false;
    }
    if (p->pos < p->len && s[p->pos] == '.') {
        p->pos++;
        size_t d = p->pos;
        while (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9')
            p->pos++;
        if (p->pos == d)
            return false;
    }
    if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-'))
            p->pos++;
        size_t d = p->pos;
        while (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9')
            p->pos++;
        if (p->pos == d)
            return false;
    }
    v->t = J_NUM;
    v->raw = strndup((const char *)s + start, p->pos - start);
    if (!v->raw)
        return false;
    v->num = strtod(v->raw, NULL);
    return true;
}

static bool value(parser *p, jval *v);

static bool append(jval *v, const jval *item, char *key)
{
    jval *items = realloc(v->items, (v->n + 1) * sizeof *items);
    if (!items)
        return false;
    v->items = items;
    if (v->t == J_OBJ) {
        char **keys = realloc(v->keys, (v->n + 1) * sizeof *keys);
        if (!keys)
            return false;
        v->keys = keys;
        v->keys[v->n] = key;
    }
    v->items[v->n++] = *item;
    return true;
}

static bool container(parser *p, jval *v, bool obj)
{
    v->t = obj ? J_OBJ : J_ARR;
    p->pos++;
    if (++p->depth > 64)
        return false;
    ws(p);
    if (p->pos < p->len && p->s[p->pos] == (obj ? '}' : ']')) {
        p->pos++;
        p->depth--;
        return true;
    }
    for (;;) {
        char *key = NULL;
        if (obj) {
            size_t klen;
            ws(p);
            if (!string(p, &key, &klen))
                return false;
            for (size_t i = 0; i < v->n; i++)
                if (!strcmp(v->keys[i], key)) {
                    free(key);
                    return false; /* duplicate key */
                }
            ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(key);
                return false;
            }
            p->pos++;
        }
        jval item;
        memset(&item, 0, sizeof item);
        if (!value(p, &item) || !append(v, &item, key)) {
            json_free(&item);
            free(key);
            return false;
        }
        ws(p);
        if (p->pos >= p->len)
            return false;
        char c = (char)p->s[p->pos++];
        if (c == ',')
            continue;
        if (c == (obj ? '}' : ']'))
            break;
        return false;
    }
    p->depth--;
    return true;
}

static bool value(parser *p, jval *v)
{
    memset(v, 0, sizeof *v);
    ws(p);
    if (p->pos >= p->len)
        return false;
    switch (p->s[p->pos]) {
    case '{':
        return container(p, v, true);
    case '[':
        return container(p, v, false);
    case '"':
        v->t = J_STR;
        return string(p, &v->str, &v->len);
    case 't':
        v->t = J_BOOL;
        v->b = true;
        return lit(p, "true");
    case 'f':
        v->t = J_BOOL;
        return lit(p, "false");
    case 'n':
        v->t = J_NULL;
        return lit(p, "null");
    default:
        return number(p, v);
    }
}

int json_parse(const char *s, size_t len, jval *out, size_t *err_off)
{
    parser p = {.s = (const unsigned char *)s, .len = len};
    if (!value(&p, out)) {
        json_free(out);
        *err_off = p.pos;
        return -1;
    }
    ws(&p);
    if (p.pos != len) {
        json_free(out);
        *err_off = p.pos;
        return -1;
    }
    return 0;
}

void json_free(jval *v)
{
    for (size_t i = 0; i < v->n; i++) {
        json_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v->raw);
    memset(v, 0, sizeof *v);
}

const jval *json_get(const jval *obj, const char *key)
{
    if (!obj || obj->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return NULL;
}

int json_latin1(const jval *v, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!v || v->t != J_STR)
        return -1;
    unsigned char *b = malloc(v->len + 1);
    if (!b)
        return -1;
    const unsigned char *s = (const unsigned char *)v->str;
    size_t n = 0;
    for (size_t i = 0; i < v->len;) {
        if (s[i] < 0x80) {
            b[n++] = s[i++];
        } else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < v->len && (s[i + 1] & 0xc0) == 0x80) {
            b[n++] = (unsigned char)((s[i] & 0x03) << 6 | (s[i + 1] & 0x3f));
            i += 2;
        } else {
            free(b); /* a character above U+00FF: not one byte */
            return -1;
        }
    }
    b[n] = '\0';
    *out = b;
    *out_len = n;
    return 0;
}
