/* json.c - the pieces of JSON every JSON output is written with: byte
 * strings as string literals (output_json.c says why every byte >= 0x7f is
 * \u00XX) and the ,"key":value pieces of an object. */
#include "output/json.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

static const char hex_digits[] = "0123456789abcdef";

void json_string(FILE *f, const void *data, size_t n)
{
    const unsigned char *p = data;
    putc_unlocked('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            break;
        }
        if (esc) {
            fputs_unlocked(esc, f);
        } else if (c >= 0x20 && c < 0x7f) {
            putc_unlocked(c, f);
        } else {
            fputs_unlocked("\\u00", f);
            putc_unlocked(hex_digits[c >> 4], f);
            putc_unlocked(hex_digits[c & 15], f);
        }
    }
    putc_unlocked('"', f);
}

void json_hex(FILE *f, const uint8_t *p, size_t n)
{
    putc_unlocked('"', f);
    for (size_t i = 0; i < n; i++) {
        putc_unlocked(hex_digits[p[i] >> 4], f);
        putc_unlocked(hex_digits[p[i] & 15], f);
    }
    putc_unlocked('"', f);
}

void json_cstr(FILE *f, const char *s)
{
    json_string(f, s ? s : "", s ? strlen(s) : 0);
}

void cli_json_key(FILE *f, const char *k)
{
    fprintf(f, ",\"%s\":", k);
}

void cli_json_str(FILE *f, const char *k, const char *v)
{
    cli_json_key(f, k);
    json_cstr(f, v);
}

void cli_json_u64(FILE *f, const char *k, uint64_t v)
{
    fprintf(f, ",\"%s\":%" PRIu64, k, v);
}

void cli_json_addr(FILE *f, const char *k, uint64_t v)
{
    fprintf(f, ",\"%s\":\"0x%" PRIx64 "\"", k, v);
}

void cli_json_bool(FILE *f, const char *k, bool v)
{
    fprintf(f, ",\"%s\":%s", k, v ? "true" : "false");
}

void cli_json_double(FILE *f, const char *k, double v, int decimals)
{
    fprintf(f, ",\"%s\":%.*f", k, decimals, isfinite(v) ? v : 0.0);
}

void cli_json_region(FILE *f, const mg_region *r)
{
    fprintf(f, "{\"start\":\"0x%" PRIx64 "\"", r->start);
    cli_json_addr(f, "end", r->end);
    cli_json_str(f, "perms", r->perms);
    cli_json_addr(f, "offset", r->offset);
    cli_json_str(f, "path", r->path);
    cli_json_str(f, "kind", mg_region_kind_name(r->kind));
    cli_json_bool(f, "deleted", r->deleted);
    fputc('}', f);
}

void cli_json_time(FILE *f)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(f, ",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}
