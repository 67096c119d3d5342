/* json.h - a small strict JSON (RFC 8259) parser for checking memgrep's
 * --json output: UTF-8 validated, escapes decoded, no trailing garbage, no
 * duplicate keys. Test code only. */
#ifndef MG_TESTS_JSON_H
#define MG_TESTS_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum jtype {
    J_NULL,
    J_BOOL,
    J_NUM,
    J_STR,
    J_ARR,
    J_OBJ
} jtype;

typedef struct jval {
    jtype t;
    bool b;
    double num;
    char *raw; /* J_NUM: the number's text */
    char *str; /* J_STR: decoded UTF-8, NUL-terminated (may hold NUL: see len) */
    size_t len;
    struct jval *items; /* J_ARR, J_OBJ: n values */
    char **keys; /* J_OBJ: n decoded keys */
    size_t n;
} jval;

/* Parse exactly one JSON text from s[0..len) (surrounding whitespace
 * allowed). Returns 0, or -1 with *err_off the offset of the error. */
int json_parse(const char *s, size_t len, jval *out, size_t *err_off);
void json_free(jval *v);
/* Member of an object, or NULL. */
const jval *json_get(const jval *obj, const char *key);
/* A string of characters U+0000..U+00FF as the bytes they stand for
 * (Latin-1: how memgrep writes byte strings). *out is malloc'd (the caller
 * frees) and NUL-terminated. Returns 0, or -1 if v is not a string or holds
 * a character above U+00FF. */
int json_latin1(const jval *v, unsigned char **out, size_t *out_len);

#endif
