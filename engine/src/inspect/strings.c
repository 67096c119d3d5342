/* strings.c - printable runs of a target's present pages (memgrep strings),
 * as GNU `strings -a` finds them in a dump, read one chunk at a time from
 * one open range (mg_range_read: mg_read_present's reads, the process
 * pinned once for all chunks). A run is carried across chunks in a buffer that grows
 * with the run (never with the range); a page that is not present, or
 * whose read failed, ends every run, as the end of the range does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect_internal.h"
#include "memgrep/memgrep.h"
#include "util.h"

/* One run being collected: 8-bit, or wide at one address parity. */
typedef struct run {
    uint64_t start;
    char *text;
    size_t len, cap;
    bool wide;
} run;

typedef struct strings_state {
    size_t min;
    int (*fn)(void *ctx, const mg_string *s);
    void *ctx;
    run narrow, wide[2];
    bool have_prev; /* wide: the byte before the current one is present */
    uint8_t prev;
} strings_state;

/* GNU strings' STRING_ISGRAPHIC for the default 7-bit encoding. */
static inline bool printable(uint8_t c)
{
    return (c >= 0x20 && c <= 0x7e) || c == '\t';
}

static int run_add(run *r, uint64_t addr, uint8_t c)
{
    if (!r->len)
        r->start = addr;
    if (r->len + 1 >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        char *t = realloc(r->text, cap);
        if (!t)
            return -ENOMEM;
        r->text = t;
        r->cap = cap;
    }
    r->text[r->len++] = (char)c;
    return 0;
}

/* The run ends here: report it if long enough. */
static int run_end(strings_state *st, run *r)
{
    int rc = 0;
    if (r->len >= st->min) {
        r->text[r->len] = '\0';
        mg_string s = {.address = r->start, .text = r->text, .len = r->len, .wide = r->wide};
        rc = st->fn(st->ctx, &s);
    }
    r->len = 0;
    return rc;
}

/* Everything ends: a page not present, a failed read, the range's end. */
static int end_all(strings_state *st, bool wide)
{
    int rc = run_end(st, &st->narrow);
    for (int i = 0; wide && i < 2 && !rc; i++)
        rc = run_end(st, &st->wide[i]);
    st->have_prev = false;
    return rc;
}

/* Bytes of present pages at addr. A wide character is the pair (byte at
 * a, byte at a+1): it is looked at when the second byte arrives, by the
 * run of a's parity (a run's characters are 2 bytes apart). */
static int feed(strings_state *st, uint64_t addr, const uint8_t *p, size_t n, bool wide)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t c = p[i];
        rc = printable(c) ? run_add(&st->narrow, addr + i, c) : run_end(st, &st->narrow);
        if (!wide || rc)
            continue;
        if (st->have_prev) {
            uint64_t a = addr + i - 1;
            run *r = &st->wide[a & 1];
            rc = printable(st->prev) && c == 0 ? run_add(r, a, st->prev) : run_end(st, r);
        }
        st->prev = c;
        st->have_prev = true;
    }
    return rc;
}

MG_API int mg_strings(pid_t pid, uint64_t start, uint64_t end, size_t min, unsigned flags,
                      int (*fn)(void *ctx, const mg_string *s), void *ctx, mg_error *err)
{
    if (!fn)
        return mg_fail(err, -EINVAL, "mg_strings: fn must not be NULL");
    if (flags & ~(unsigned)MG_STRINGS_WIDE)
        return mg_fail(err, -EINVAL, "mg_strings: unknown flags 0x%x", flags);
    if (min < 1)
        return mg_fail(err, -EINVAL, "mg_strings: min must be at least 1");
    if (start >= end || start % MG_PAGE_SIZE || end % MG_PAGE_SIZE)
        return mg_fail(err, -EINVAL,
                       "range [0x%llx, 0x%llx): must be non-empty and page aligned (%u)",
                       (unsigned long long)start, (unsigned long long)end, MG_PAGE_SIZE);
    mg_range r;
    int rc = mg_range_open(&r, pid, start, end, err);
    if (rc < 0)
        return rc;
    bool wide = flags & MG_STRINGS_WIDE;
    size_t chunk = MG_MIN((uint64_t)MG_STRINGS_CHUNK, end - start);
    uint8_t *buf = malloc(chunk);
    uint8_t *present = malloc(chunk / MG_PAGE_SIZE);
    strings_state st = {.min = min, .fn = fn, .ctx = ctx, .wide = {{.wide = true}, {.wide = true}}};
    rc = buf && present ? 0 : mg_fail(err, -ENOMEM, "out of memory");
    for (uint64_t a = start; rc == 0 && a < end; a += chunk) {
        size_t len = (size_t)MG_MIN((uint64_t)chunk, end - a);
        ssize_t got = mg_range_read(&r, a, len, buf, present, err);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        for (size_t pg = 0; rc == 0 && pg < len / MG_PAGE_SIZE; pg++) {
            if (!present[pg]) {
                rc = end_all(&st, wide);
                continue;
            }
            size_t k = pg; /* one call per run of present pages */
            while (k + 1 < len / MG_PAGE_SIZE && present[k + 1])
                k++;
            rc = feed(&st, a + pg * MG_PAGE_SIZE, buf + pg * MG_PAGE_SIZE,
                      (k - pg + 1) * MG_PAGE_SIZE, wide);
            pg = k;
        }
    }
    if (rc == 0)
        rc = end_all(&st, wide);
    if (rc == -ENOMEM)
        mg_fail(err, rc, "out of memory");
    free(st.narrow.text);
    free(st.wide[0].text);
    free(st.wide[1].text);
    free(present);
    free(buf);
    mg_range_close(&r);
    return rc;
}
