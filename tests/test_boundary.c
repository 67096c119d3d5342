/* test_boundary.c - chunk boundaries, overlap, ownership and folding,
 * through mg_scan_buffer on synthetic buffers: every placement of a needle
 * around a chunk boundary gives exactly one report at the right address. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define BASE 0x7f1200000000ull

typedef struct needle {
    mg_pattern_kind kind;
    const char *pattern;
    unsigned flags;
    uint8_t bytes[64]; /* what is planted */
    size_t len;
    bool wide;
} needle;

static needle literal_needle(void)
{
    needle n = {.kind = MG_PATTERN_LITERAL, .pattern = "boundary-needle-0123456789"};
    n.len = strlen(n.pattern);
    memcpy(n.bytes, n.pattern, n.len);
    return n;
}

static needle hex_needle(void)
{
    needle n = {.kind = MG_PATTERN_HEX,
                .pattern = "de ad ?? ef 00 ?? 11 22 33 44 55 66 77 88 99 aa"};
    static const uint8_t b[] = {0xde, 0xad, 0x5c, 0xef, 0x00, 0xa5, 0x11, 0x22,
                                0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa};
    n.len = sizeof b;
    memcpy(n.bytes, b, sizeof b);
    return n;
}

static needle regex_needle(void)
{
    /* Variable width 5..24; planted with 17 digits: 21 bytes. */
    needle n = {.kind = MG_PATTERN_REGEX, .pattern = "ab[0-9]{1,20}cd"};
    const char *t = "ab31415926535897932cd";
    n.len = strlen(t);
    memcpy(n.bytes, t, n.len);
    return n;
}

static needle wide_needle(void)
{
    needle n = {.kind = MG_PATTERN_LITERAL,
                .pattern = "wide-needle-xyz",
                .flags = MG_PATTERN_WIDE,
                .wide = true};
    size_t l = strlen(n.pattern);
    for (size_t i = 0; i < l; i++) {
        n.bytes[2 * i] = (uint8_t)n.pattern[i];
        n.bytes[2 * i + 1] = 0;
    }
    n.len = 2 * l;
    return n;
}

static needle caseless_needle(void)
{
    needle n = {
        .kind = MG_PATTERN_LITERAL, .pattern = "Caseless-Needle-Q", .flags = MG_PATTERN_CASELESS};
    const char *t = "cASELESS-nEEDLE-q";
    n.len = strlen(t);
    memcpy(n.bytes, t, n.len);
    return n;
}

static mg_patterns *compile_one(mg_pattern_kind kind, const char *text, unsigned flags)
{
    mg_patterns *p = patterns_new();
    cr_assert_eq(add_pattern(p, kind, text, strlen(text), flags), 0u);
    compile_patterns(p);
    return p;
}

/* Scan buf; returns the collected hits in c (caller frees). */
static void scan(const mg_patterns *p, const uint8_t *buf, size_t len, size_t chunk, size_t context,
                 collector *c)
{
    memset(c, 0, sizeof *c);
    mg_sink sink = collector_sink(c);
    mg_stats st;
    memset(&st, 0, sizeof st);
    int rc = mg_scan_buffer(p, buf, len, BASE, chunk, context, &sink, &st);
    cr_assert_eq(rc, 0, "mg_scan_buffer: %d %s", rc, mg_strerror(rc));
    cr_assert_eq(st.matches, c->n, "stats.matches %" PRIu64 " but %zu reported", st.matches, c->n);
    cr_assert_eq(st.bytes_scanned, len,
                 "bytes_scanned %" PRIu64 " for a %zu-byte buffer (chunk %zu)", st.bytes_scanned,
                 len, chunk);
}

static const size_t chunk_sizes[] = {4096, 4097, 8192, 65536, 1 << 20};

/* Every start from boundary-len-1 to boundary+1, at the first and second
 * chunk boundary, for every chunk size: exactly one report. */
static void sweep_boundaries(needle n)
{
    mg_patterns *p = compile_one(n.kind, n.pattern, n.flags);
    char msg[2048] = "";
    size_t off_msg = 0;
    unsigned failures = 0, runs = 0;
    for (size_t ci = 0; ci < sizeof chunk_sizes / sizeof chunk_sizes[0]; ci++) {
        size_t chunk = chunk_sizes[ci];
        size_t len = 3 * chunk;
        uint8_t *buf = calloc(1, len);
        cr_assert(buf);
        for (size_t b = chunk; b <= 2 * chunk; b += chunk) {
            for (size_t off = b - n.len - 1; off <= b + 1; off++) {
                memcpy(buf + off, n.bytes, n.len);
                collector c;
                scan(p, buf, len, chunk, 0, &c);
                runs++;
                bool ok = c.n == 1 && c.hits[0].addr == BASE + off && c.hits[0].len == n.len &&
                          c.hits[0].pattern_id == 0 && c.hits[0].wide == n.wide &&
                          c.hits[0].pid == 0;
                if (!ok) {
                    failures++;
                    if (off_msg < sizeof msg - 200)
                        off_msg += (size_t)snprintf(
                            msg + off_msg, sizeof msg - off_msg,
                            "\n  chunk %zu, start %zd from boundary %zu: %zu reports%s", chunk,
                            (ssize_t)off - (ssize_t)b, b, c.n, c.n ? "" : " (missed)");
                    for (size_t k = 0; k < c.n && off_msg < sizeof msg - 200; k++)
                        off_msg += (size_t)snprintf(msg + off_msg, sizeof msg - off_msg,
                                                    " [at %+" PRId64 " len %" PRIu64 " wide %d]",
                                                    (int64_t)(c.hits[k].addr - BASE - off),
                                                    c.hits[k].len, c.hits[k].wide);
                }
                collector_free(&c);
                memset(buf + off, 0, n.len);
            }
        }
        free(buf);
    }
    mg_patterns_free(&p);
    cr_assert_eq(failures, 0u, "pattern \"%s\": %u of %u placements wrong:%s", n.pattern, failures,
                 runs, msg);
}

Test(boundary, literal_every_offset)
{
    sweep_boundaries(literal_needle());
}
Test(boundary, hex_with_wildcards_every_offset)
{
    sweep_boundaries(hex_needle());
}
Test(boundary, bounded_regex_every_offset)
{
    sweep_boundaries(regex_needle());
}
Test(boundary, wide_every_offset)
{
    sweep_boundaries(wide_needle());
}
Test(boundary, caseless_every_offset)
{
    sweep_boundaries(caseless_needle());
}

/* An exact expected set of starts for one buffer and several chunkings. */
static void expect_starts(const mg_patterns *p, const uint8_t *buf, size_t len, size_t chunk,
                          const size_t *starts, size_t n, size_t mlen)
{
    collector c;
    scan(p, buf, len, chunk, 0, &c);
    want w[16];
    cr_assert_leq(n, 16u);
    for (size_t i = 0; i < n; i++)
        w[i] = (want){.pid = 0, .addr = BASE + starts[i], .len = mlen, .pattern_id = 0};
    char what[64];
    snprintf(what, sizeof what, "chunk %zu", chunk);
    assert_exact_hits(&c, w, n, what);
    collector_free(&c);
}

Test(boundary, overlapping_occurrences)
{
    mg_patterns *p = compile_one(MG_PATTERN_LITERAL, "abcabc", 0);
    size_t len = 3 * 4096;
    uint8_t *buf = calloc(1, len);
    /* "abcabcabc" across the first boundary: matches at -4 and -1. */
    memcpy(buf + 4096 - 4, "abcabcabc", 9);
    const size_t starts[] = {4096 - 4, 4096 - 1};
    const size_t chunks[] = {1, 3, 4096, 4097, 8192, 65536};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
        expect_starts(p, buf, len, chunks[i], starts, 2, 6);
    mg_patterns_free(&p);

    /* "aaaa" in seven a's: four overlapping matches. */
    p = compile_one(MG_PATTERN_LITERAL, "aaaa", 0);
    memset(buf, 0, len);
    memcpy(buf + 8192 - 3, "aaaaaaa", 7);
    const size_t a_starts[] = {8189, 8190, 8191, 8192};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
        expect_starts(p, buf, len, chunks[i], a_starts, 4, 4);
    mg_patterns_free(&p);
    free(buf);
}

Test(boundary, buffer_start_and_end)
{
    needle n = literal_needle();
    mg_patterns *p = compile_one(n.kind, n.pattern, n.flags);
    size_t len = 3 * 4096 + 123;
    uint8_t *buf = calloc(1, len);
    memcpy(buf, n.bytes, n.len);
    memcpy(buf + len - n.len, n.bytes, n.len);
    const size_t starts[] = {0, len - n.len};
    const size_t chunks[] = {1, 7, 4096, 4097, len - 1, len, len + 1, 1 << 20};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
        expect_starts(p, buf, len, chunks[i], starts, 2, n.len);
    mg_patterns_free(&p);
    free(buf);
}

Test(boundary, chunks_smaller_than_the_pattern)
{
    needle n = literal_needle();
    mg_patterns *p = compile_one(n.kind, n.pattern, n.flags);
    size_t len = 300;
    uint8_t buf[300];
    memset(buf, '.', sizeof buf);
    memcpy(buf + 0, n.bytes, n.len);
    memcpy(buf + 50, n.bytes, n.len);
    memcpy(buf + 101, n.bytes, n.len);
    memcpy(buf + len - n.len, n.bytes, n.len);
    const size_t starts[] = {0, 50, 101, len - n.len};
    for (size_t chunk = 1; chunk <= 64; chunk++)
        expect_starts(p, buf, len, chunk, starts, 4, n.len);
    expect_starts(p, buf, len, 299, starts, 4, n.len);
    expect_starts(p, buf, len, 300, starts, 4, n.len);
    mg_patterns_free(&p);
}

/* Context: the bytes either side, across chunk boundaries, clamped only by
 * the buffer. */
Test(boundary, context_across_chunks)
{
    needle n = literal_needle();
    mg_patterns *p = compile_one(n.kind, n.pattern, n.flags);
    size_t len = 3 * 4096;
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    const size_t offs[] = {5, 4096 - 3, 4096 + 10, 8192 - n.len, len - n.len - 2};
    const size_t contexts[] = {16, 4096};
    for (size_t k = 0; k < sizeof contexts / sizeof contexts[0]; k++) {
        size_t ctx = contexts[k];
        for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
            size_t off = offs[i];
            uint8_t save[64];
            memcpy(save, buf + off, n.len);
            memcpy(buf + off, n.bytes, n.len);
            collector c;
            scan(p, buf, len, 4096, ctx, &c);
            cr_assert_eq(c.n, 1u, "offset %zu: %zu reports", off, c.n);
            const hit *h = &c.hits[0];
            size_t want_before = off < ctx ? off : ctx;
            size_t room = len - off - n.len;
            size_t want_after = room < ctx ? room : ctx;
            cr_assert_eq(h->before, want_before, "offset %zu context %zu: before %zu", off, ctx,
                         h->before);
            cr_assert_eq(h->after, want_after, "offset %zu context %zu: after %zu", off, ctx,
                         h->after);
            cr_assert_eq(memcmp(h->data, buf + off - h->before, h->before + n.len + h->after), 0,
                         "offset %zu context %zu: context bytes differ from the buffer", off, ctx);
            cr_assert_eq(h->region_start, BASE);
            cr_assert_eq(h->region_end, BASE + len);
            collector_free(&c);
            memcpy(buf + off, save, n.len);
        }
    }
    mg_patterns_free(&p);
    free(buf);
}

/* ---- unbounded regexes ---- */

static unsigned default_unbounded_width(void)
{
    mg_settings s;
    mg_default_settings(&s);
    cr_assert_gt(s.unbounded_width, 0u, "default unbounded_width is 0");
    cr_assert_leq(s.unbounded_width, MG_MAX_EXACT_WIDTH);
    return s.unbounded_width;
}

/* The first multiple of chunk at or above min: a boundary with room for a
 * match of min-2 bytes before it. */
static size_t boundary_at_least(size_t chunk, size_t min)
{
    return (min + chunk - 1) / chunk * chunk;
}

/* Plant BEGIN, filler, END (total mlen) at off in a buffer of 'x'. */
static void plant_span(uint8_t *buf, size_t off, size_t mlen)
{
    memcpy(buf + off, "BEGIN", 5);
    memcpy(buf + off + mlen - 3, "END", 3);
}

static void clear_span(uint8_t *buf, size_t off, size_t mlen)
{
    memset(buf + off, 'x', mlen);
}

Test(boundary, unbounded_regex_within_width_found_once)
{
    unsigned W = default_unbounded_width();
    mg_patterns *p = compile_one(MG_PATTERN_REGEX, "BEGIN.*END", 0);
    cr_assert_eq(mg_patterns_max_width(p, W), W);
    size_t chunk = (size_t)4 * W > (1u << 20) ? (size_t)4 * W : (1u << 20);
    size_t len = 3 * chunk;
    uint8_t *buf = malloc(len);
    memset(buf, 'x', len);
    const size_t lengths[] = {8, 64, W / 2, W};
    const size_t chunks[] = {4096, chunk};
    for (size_t ci = 0; ci < 2; ci++) {
        for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
            size_t L = lengths[li];
            size_t b = boundary_at_least(chunks[ci], L + 2);
            size_t offs[] = {b - L - 1, b - L, b - L + 1, b - L / 2, b - 1, b, b + 1};
            for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
                plant_span(buf, offs[i], L);
                collector c;
                scan(p, buf, len, chunks[ci], 0, &c);
                cr_assert_eq(c.n, 1u, "chunk %zu, length %zu at boundary%+zd: %zu reports",
                             chunks[ci], L, (ssize_t)offs[i] - (ssize_t)b, c.n);
                cr_assert_eq(c.hits[0].addr, BASE + offs[i],
                             "chunk %zu length %zu: start %+" PRId64, chunks[ci], L,
                             (int64_t)(c.hits[0].addr - BASE - offs[i]));
                cr_assert_eq(c.hits[0].len, L, "chunk %zu: length %" PRIu64 " want %zu", chunks[ci],
                             c.hits[0].len, L);
                collector_free(&c);
                clear_span(buf, offs[i], L);
            }
        }
    }
    mg_patterns_free(&p);
    free(buf);
}

/* One start with more ends than a run of the matcher's sort (32 hits):
 * one report, the longest. */
Test(boundary, many_ends_of_one_start_longest_once)
{
    mg_patterns *p = compile_one(MG_PATTERN_REGEX, "ab+", 0);
    uint8_t buf[4096];
    memset(buf, 'x', sizeof(buf));
    buf[100] = 'a';
    memset(buf + 101, 'b', 100);
    collector c;
    scan(p, buf, sizeof(buf), 4096, 0, &c);
    cr_assert_eq(c.n, 1u, "%zu reports", c.n);
    cr_expect_eq(c.hits[0].addr, BASE + 100);
    cr_expect_eq(c.hits[0].len, 101u, "length %" PRIu64, c.hits[0].len);
    collector_free(&c);
    mg_patterns_free(&p);
}

Test(boundary, unbounded_regex_longer_than_width)
{
    unsigned W = default_unbounded_width();
    mg_patterns *p = compile_one(MG_PATTERN_REGEX, "BEGIN.*END", 0);
    size_t L = (size_t)W + 4096;
    size_t chunk = 4 * L > (1u << 20) ? 4 * L : (1u << 20);
    size_t len = 3 * chunk;
    uint8_t *buf = malloc(len);
    memset(buf, 'x', len);

    /* Straddling a boundary: never twice; if found, found right. */
    const size_t chunks[] = {4096, chunk};
    for (size_t ci = 0; ci < 2; ci++) {
        size_t b = boundary_at_least(chunks[ci], L + 2);
        size_t offs[] = {b - L + 1, b - L + 100, b - L / 2, b - 100, b - 1};
        for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
            plant_span(buf, offs[i], L);
            collector c;
            scan(p, buf, len, chunks[ci], 0, &c);
            cr_assert_leq(c.n, 1u, "chunk %zu, %zu-byte match straddling at %+zd: %zu reports",
                          chunks[ci], L, (ssize_t)offs[i] - (ssize_t)b, c.n);
            if (c.n == 1) {
                cr_assert_eq(c.hits[0].addr, BASE + offs[i]);
                cr_assert_eq(c.hits[0].len, L);
            }
            collector_free(&c);
            clear_span(buf, offs[i], L);
        }
    }

    /* Inside one chunk: found exactly once. */
    size_t offs[] = {0, 100, chunk - L, chunk + 1000, len - L};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        plant_span(buf, offs[i], L);
        collector c;
        scan(p, buf, len, chunk, 0, &c);
        cr_assert_eq(c.n, 1u, "%zu-byte match inside a chunk at %zu: %zu reports", L, offs[i], c.n);
        cr_assert_eq(c.hits[0].addr, BASE + offs[i]);
        cr_assert_eq(c.hits[0].len, L);
        collector_free(&c);
        clear_span(buf, offs[i], L);
    }
    mg_patterns_free(&p);
    free(buf);
}

/* Several patterns at once keep their own ids; two patterns matching the
 * same bytes are both reported. */
Test(boundary, several_patterns_same_bytes)
{
    mg_patterns *p = patterns_new();
    cr_assert_eq(add_pattern(p, MG_PATTERN_LITERAL, "needle-77", 9, 0), 0u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, "needle-[0-9]{2}", 15, 0), 1u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_HEX, "6e 65 65 ?? 6c 65", 17, 0), 2u);
    compile_patterns(p);
    size_t len = 2 * 4096;
    uint8_t *buf = calloc(1, len);
    memcpy(buf + 4096 - 4, "needle-77", 9);
    collector c;
    scan(p, buf, len, 4096, 0, &c);
    want w[] = {
        {.pid = 0, .addr = BASE + 4092, .len = 9, .pattern_id = 0},
        {.pid = 0, .addr = BASE + 4092, .len = 9, .pattern_id = 1},
        {.pid = 0, .addr = BASE + 4092, .len = 6, .pattern_id = 2},
    };
    assert_exact_hits(&c, w, 3, "three patterns on one needle");
    collector_free(&c);
    free(buf);
    mg_patterns_free(&p);
}

/* MG_PATTERN_WORD (-w): for every placement around the first and second
 * chunk boundary and every chunk size, the needle with a non-word byte on
 * each side is reported once; with a letter, a digit or '_' right before
 * or right after it, not at all (the neighbour may sit in the other
 * chunk). Context 0: the window's own overlap holds the neighbours. */
static void sweep_word_boundaries(needle n)
{
    mg_patterns *p = compile_one(n.kind, n.pattern, n.flags | MG_PATTERN_WORD);
    static const struct {
        char before, after;
        bool found;
    } sides[] = {{' ', ' ', true},  {'x', ' ', false}, {' ', '7', false},
                 {'_', '.', false}, {'(', ')', true},  {'\x80', '-', true}};
    size_t unit = n.wide ? 2 : 1;
    unsigned failures = 0, runs = 0;
    char msg[1024] = "";
    size_t off_msg = 0;
    for (size_t ci = 0; ci < sizeof chunk_sizes / sizeof chunk_sizes[0]; ci++) {
        size_t chunk = chunk_sizes[ci];
        size_t len = 3 * chunk;
        uint8_t *buf = malloc(len);
        cr_assert(buf);
        memset(buf, '.', len);
        for (size_t b = chunk; b <= 2 * chunk; b += chunk)
            for (size_t off = b - n.len - 2; off <= b + 2; off++)
                for (size_t k = 0; k < sizeof sides / sizeof sides[0]; k++) {
                    memcpy(buf + off, n.bytes, n.len);
                    buf[off - unit] = (uint8_t)sides[k].before;
                    buf[off + n.len] = (uint8_t)sides[k].after;
                    if (n.wide) {
                        buf[off - 1] = 0;
                        buf[off + n.len + 1] = 0;
                    }
                    collector c;
                    scan(p, buf, len, chunk, 0, &c);
                    runs++;
                    bool ok = sides[k].found ? c.n == 1 && c.hits[0].addr == BASE + off : c.n == 0;
                    if (!ok && ++failures && off_msg < sizeof msg - 100)
                        off_msg += (size_t)snprintf(
                            msg + off_msg, sizeof msg - off_msg,
                            "\n  chunk %zu, start %zd from %zu, '%c' '%c': %zu reports", chunk,
                            (ssize_t)off - (ssize_t)b, b, sides[k].before, sides[k].after, c.n);
                    collector_free(&c);
                    memset(buf + off - unit, '.', n.len + 2 * unit);
                }
        free(buf);
    }
    mg_patterns_free(&p);
    cr_assert_eq(failures, 0u, "-w \"%s\": %u of %u placements wrong:%s", n.pattern, failures, runs,
                 msg);
}

Test(boundary, word_every_offset)
{
    sweep_word_boundaries(literal_needle());
}
Test(boundary, word_wide_every_offset)
{
    /* a wide neighbour is a character and a zero byte */
    sweep_word_boundaries(wide_needle());
}
Test(boundary, word_regex_every_offset)
{
    sweep_word_boundaries(regex_needle());
}

/* -w at the buffer's ends: nothing outside counts as a word; the wide
 * form's neighbour must be a character and a zero (a letter followed by a
 * non-zero byte is no UTF-16 letter). */
Test(boundary, word_at_buffer_ends)
{
    mg_patterns *p = compile_one(MG_PATTERN_LITERAL, "wordy", MG_PATTERN_WORD | MG_PATTERN_WIDE);
    uint8_t buf[64];
    memset(buf, '.', sizeof buf);
    memcpy(buf, "wordy", 5);
    memcpy(buf + sizeof buf - 5, "wordy", 5);
    const size_t starts[] = {0, sizeof buf - 5};
    expect_starts(p, buf, sizeof buf, 16, starts, 2, 5);
    buf[5] = 's'; /* "wordys": no longer a word */
    expect_starts(p, buf, sizeof buf, 16, starts + 1, 1, 5);
    /* UTF-16 "wordy" after 'a' then 0x41 (not a zero): a word */
    memset(buf, '.', sizeof buf);
    const char *w = "wordy";
    for (size_t i = 0; i < 5; i++) {
        buf[20 + 2 * i] = (uint8_t)w[i];
        buf[20 + 2 * i + 1] = 0;
    }
    buf[18] = 'a';
    buf[19] = 0x41;
    collector c;
    scan(p, buf, sizeof buf, 16, 0, &c);
    cr_assert_eq(c.n, 1u);
    cr_assert_eq(c.hits[0].addr, BASE + 20);
    cr_assert(c.hits[0].wide);
    collector_free(&c);
    buf[19] = 0; /* now "a" in UTF-16 precedes it */
    scan(p, buf, sizeof buf, 16, 0, &c);
    cr_assert_eq(c.n, 0u);
    collector_free(&c);
    mg_patterns_free(&p);
}

/* A look-ahead two bytes past a match: '$' also matches before a final
 * newline, so "foo$" must not match "foo\nX" in the middle of the buffer
 * (a unit whose overlap ends right after the '\n' sees a final newline:
 * the overlap needs its byte past the widest match). At the buffer's end,
 * "foo\n" does match, once. Every start around a boundary, no context. */
Test(boundary, dollar_sees_past_the_overlap)
{
    mg_patterns *p = compile_one(MG_PATTERN_REGEX, "foo$", 0);
    const size_t chunks[] = {4096, 4097, 8192};
    for (size_t ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++) {
        size_t chunk = chunks[ci], len = 3 * chunk;
        uint8_t *buf = malloc(len);
        cr_assert(buf);
        memset(buf, '.', len);
        memcpy(buf + len - 4, "foo\n", 4);
        const size_t at_end[] = {len - 4};
        for (size_t off = chunk - 6; off <= chunk + 2; off++) {
            memcpy(buf + off, "foo\nX", 5);
            expect_starts(p, buf, len, chunk, at_end, 1, 3);
            memset(buf + off, '.', 5);
        }
        free(buf);
    }
    mg_patterns_free(&p);
}
