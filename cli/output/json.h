/* json.h - JSON strings and ,"key":value pieces (json.c), for the scan's
 * JSON back-end (output_json.c) and the listings (ps, maps, dump, strings). */
#ifndef MEMGREP_CLI_JSON_H
#define MEMGREP_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memgrep/memgrep.h"

/* Write n bytes as a JSON string literal, quotes included: '"', '\\' and
 * control characters escaped, every byte >= 0x7f as \u00XX (output_json.c
 * explains why). Output is pure ASCII and always valid JSON. */
void json_string(FILE *f, const void *data, size_t n);
/* n bytes as a JSON string of their lowercase hex digits. */
void json_hex(FILE *f, const uint8_t *p, size_t n);
/* A C string (NULL: "") as a JSON string literal. */
void json_cstr(FILE *f, const char *s);

/* ,"key":value pieces of an object; keys are ours and need no escaping. */
void cli_json_key(FILE *f, const char *key);
void cli_json_str(FILE *f, const char *key, const char *v);
void cli_json_u64(FILE *f, const char *key, uint64_t v);
/* Addresses are strings: 64-bit values do not survive a double. */
void cli_json_addr(FILE *f, const char *key, uint64_t v);
void cli_json_bool(FILE *f, const char *key, bool v);
/* ,"time":"2026-12-07T10:51:49.782Z": now (RFC 3339, UTC, milliseconds):
 * every record says when it was written. */
void cli_json_time(FILE *f);
/* Not finite: 0. */
void cli_json_double(FILE *f, const char *key, double v, int decimals);
/* A region as an object (no key): start, end, perms, offset, path, kind,
 * deleted (the schema's "region": scan's matches, errors, check's findings). */
void cli_json_region(FILE *f, const mg_region *r);

#endif
