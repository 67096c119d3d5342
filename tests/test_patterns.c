/* test_patterns.c - pattern sets: adding each kind, every error, pattern
 * lists and files, mg_hex_parse and mg_regex_widen. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "memgrep/memgrep.h"
#include "match/patterns_internal.h"

static mg_pattern_info info_of(const mg_patterns *p, unsigned id)
{
    mg_pattern_info in;
    memset(&in, 0, sizeof in);
    int rc = mg_patterns_info(p, id, &in);
    cr_assert_eq(rc, 0, "mg_patterns_info(%u) = %d", id, rc);
    return in;
}

/* Expect mg_patterns_add to fail with MG_EPATTERN, a message naming the
 * source, and the set unchanged. */
static void expect_add_fails(mg_pattern_kind kind, const char *text, size_t len, unsigned flags)
{
    mg_patterns *p = patterns_new();
    mg_error err;
    memset(&err, 0, sizeof err);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "keep", 4, 0, NULL, &err), 0);
    int rc = mg_patterns_add(p, kind, text, len, flags, "-e #7", &err);
    cr_assert_eq(rc, MG_EPATTERN, "kind %d \"%.*s\" flags %u: rc %d, want MG_EPATTERN", kind,
                 (int)len, text, flags, rc);
    cr_assert(strstr(err.message, "-e #7"), "message does not name the source: \"%s\"",
              err.message);
    cr_assert_eq(strchr(err.message, '\n'), NULL, "message is not one line: \"%s\"", err.message);
    cr_assert_eq(mg_patterns_count(p), 1u, "a failed add changed the count");
    mg_patterns_free(&p);
}

Test(patterns, lifecycle_and_free_null)
{
    mg_patterns *p = patterns_new();
    mg_patterns_free(&p);
    cr_assert_eq(p, NULL, "free does not clear the pointer");
    mg_patterns_free(&p);
    mg_patterns_free(NULL);
}

Test(patterns, ids_and_info_of_each_kind)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    static const char nul_lit[] = {'a', '\0', 'b'};
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "hello", 5, 0, "cli", &err), 0);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, nul_lit, 3, 0, NULL, &err), 1);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_HEX, "4d 5a ?? 00", 11, 0, NULL, &err), 2);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_REGEX, "ab[0-9]{1,20}cd", 15, 0, NULL, &err), 3);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_REGEX, "a.*b", 4, 0, NULL, &err), 4);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "wide", 4, MG_PATTERN_WIDE, NULL, &err), 5);
    cr_assert_eq(
        mg_patterns_add(p, MG_PATTERN_LITERAL, "MiXeD", 5, MG_PATTERN_CASELESS, NULL, &err), 6);
    cr_assert_eq(mg_patterns_count(p), 7u);

    mg_pattern_info in = info_of(p, 0);
    cr_assert_eq(in.kind, MG_PATTERN_LITERAL);
    cr_assert_eq(in.flags, 0u);
    cr_assert_eq(in.len, 5u);
    cr_assert_str_eq(in.text, "hello");
    cr_assert_str_eq(in.source, "cli");
    cr_assert_eq(in.min_width, 5u);
    cr_assert_eq(in.max_width, 5u);

    in = info_of(p, 1);
    cr_assert_eq(in.len, 3u);
    cr_assert_eq(memcmp(in.text, nul_lit, 3), 0, "literal with NUL not kept whole");
    cr_assert_eq(in.text[3], '\0');
    cr_assert(in.source != NULL);

    in = info_of(p, 2);
    cr_assert_eq(in.kind, MG_PATTERN_HEX);
    cr_assert_str_eq(in.text, "4d 5a ?? 00");
    cr_assert_eq(in.min_width, 4u);
    cr_assert_eq(in.max_width, 4u);

    in = info_of(p, 3);
    cr_assert_eq(in.kind, MG_PATTERN_REGEX);
    cr_assert_eq(in.min_width, 5u);
    cr_assert_eq(in.max_width, 24u);

    in = info_of(p, 4);
    cr_assert_eq(in.min_width, 2u);
    cr_assert_eq(in.max_width, UINT32_MAX);

    in = info_of(p, 5);
    cr_assert_eq(in.flags, (unsigned)MG_PATTERN_WIDE);
    cr_assert_eq(in.min_width, 4u);
    cr_assert_eq(in.max_width, 8u, "a wide literal's matches are up to 2*len bytes");

    in = info_of(p, 6);
    cr_assert_eq(in.flags, (unsigned)MG_PATTERN_CASELESS);

    mg_pattern_info none;
    cr_assert_lt(mg_patterns_info(p, 7, &none), 0, "info for an id that does not exist");

    /* Overlap: the largest bounded width, or unbounded_width if any regex
     * is unbounded. */
    cr_assert_eq(mg_patterns_max_width(p, 4096), 4096u);
    cr_assert_eq(mg_patterns_max_width(p, 100000), 100000u);
    mg_patterns_free(&p);

    p = patterns_new();
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "hello", 5, 0, NULL, &err), 0);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_REGEX, "ab[0-9]{1,20}cd", 15, 0, NULL, &err), 1);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "wide", 4, MG_PATTERN_WIDE, NULL, &err), 2);
    cr_assert_eq(mg_patterns_max_width(p, 4096), 24u);
    mg_patterns_free(&p);
}

Test(patterns, compile_states)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_compile(p, &err), MG_ENOPATTERNS, "compiling an empty set");

    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "x1", 2, 0, NULL, &err), 0);
    cr_assert_eq(mg_patterns_compile(p, &err), 0, "%s", err.message);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "x2", 2, 0, NULL, &err), MG_ESTATE,
                 "adding after compile");
    cr_assert_eq(mg_patterns_count(p), 1u);
    mg_patterns_free(&p);

    /* Scanning an uncompiled set. */
    p = patterns_new();
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "x1", 2, 0, NULL, &err), 0);
    char buf[16] = "..x1..";
    mg_sink sink = {0};
    mg_stats st;
    cr_assert_eq(mg_scan_buffer(p, buf, sizeof buf, 0, 4096, 0, &sink, &st), MG_ENOTCOMPILED);
    mg_patterns_free(&p);
}

static int count_match(void *ctx, const mg_match *m)
{
    (void)m;
    ((unsigned *)ctx)[0]++;
    return MG_SINK_CONTINUE;
}

static int count_rule(void *ctx, const mg_rule_match *m)
{
    (void)m;
    ((unsigned *)ctx)[1]++;
    return MG_SINK_CONTINUE;
}

/* Rules without strings still need one Hyperscan expression (a sentinel
 * literal no rule owns). The set is the same before and after the compile
 * (D10: the sentinel was added by the compile, and stayed when it failed),
 * and the sentinel's own bytes are never a match. */
Test(patterns, compile_adds_no_pattern_for_rules_without_strings)
{
    static const char rules[] = "rule always { condition: true }";
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_add_rules_text(p, rules, strlen(rules), "t.yar", 0, &err), 1, "%s",
                 err.message);
    size_t before = mg_patterns_count(p);
    cr_assert_eq(mg_patterns_compile(p, &err), 0, "%s", err.message);
    cr_assert_eq(mg_patterns_count(p), before, "the compile changed the count: %zu, then %zu",
                 before, mg_patterns_count(p));

    char buf[] = "..memgrep: rules without strings..";
    unsigned got[2] = {0, 0}; /* matches, rules */
    mg_sink sink = {.match = count_match, .rule = count_rule, .ctx = got};
    mg_stats st;
    cr_assert_eq(mg_scan_buffer(p, buf, sizeof buf, 0, 4096, 0, &sink, &st), 0);
    cr_expect_eq(got[0], 0u, "the sentinel was reported as a match");
    cr_expect_eq(got[1], 1u, "rule 'always' reported %u times", got[1]);
    mg_patterns_free(&p);
}

Test(patterns, strerror_names_every_code)
{
    const int codes[] = {MG_EPATTERN, MG_EHYPERSCAN, MG_ENOPATTERNS, MG_ENOTCOMPILED,
                         MG_EBADPID,  MG_ESTATE,     -ENOENT,        -EACCES};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = mg_strerror(codes[i]);
        cr_assert(s && *s, "mg_strerror(%d) empty", codes[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(s, mg_strerror(codes[j]), "codes %d and %d share a text", codes[i],
                              codes[j]);
    }
}

Test(patterns, errors)
{
    expect_add_fails(MG_PATTERN_REGEX, "a(b", 3, 0);
    expect_add_fails(MG_PATTERN_REGEX, "[z-a]", 5, 0);
    expect_add_fails(MG_PATTERN_REGEX, "", 0, 0);
    expect_add_fails(MG_PATTERN_LITERAL, "", 0, 0);
    expect_add_fails(MG_PATTERN_HEX, "4d5", 3, 0); /* odd digit count */
    expect_add_fails(MG_PATTERN_HEX, "4d 5", 4, 0);
    expect_add_fails(MG_PATTERN_HEX, "4g", 2, 0); /* bad char */
    expect_add_fails(MG_PATTERN_HEX, "4d zz", 5, 0);
    expect_add_fails(MG_PATTERN_HEX, "??", 2, 0); /* only wildcards */
    expect_add_fails(MG_PATTERN_HEX, "?? ??", 5, 0);
    expect_add_fails(MG_PATTERN_HEX, "4d ?", 4, 0);
    expect_add_fails(MG_PATTERN_HEX, "", 0, 0);
    /* Widened regexes: anchors cannot be rewritten. */
    expect_add_fails(MG_PATTERN_REGEX, "^abc", 4, MG_PATTERN_WIDE);
    expect_add_fails(MG_PATTERN_REGEX, "abc$", 4, MG_PATTERN_WIDE);
    expect_add_fails(MG_PATTERN_REGEX, "\\bword", 6, MG_PATTERN_WIDE);
    expect_add_fails(MG_PATTERN_REGEX, "a\\Bb", 4, MG_PATTERN_WIDE);
    expect_add_fails(MG_PATTERN_REGEX, "\\Aabc", 5, MG_PATTERN_WIDE);
    expect_add_fails(MG_PATTERN_REGEX, "abc\\z", 5, MG_PATTERN_WIDE);
}

Test(patterns, bad_regex_message_names_source_and_pattern)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    int rc = mg_patterns_add(p, MG_PATTERN_REGEX, "foo(bar", 7, 0, "rules.txt:12", &err);
    cr_assert_eq(rc, MG_EPATTERN);
    cr_assert(strstr(err.message, "rules.txt:12"), "\"%s\"", err.message);
    cr_assert(strstr(err.message, "foo(bar"), "message does not show the pattern: \"%s\"",
              err.message);
    mg_patterns_free(&p);
}

/* Header: source NULL means "pattern #ID", ID being the id the pattern gets
 * (0, 1, 2... in order of adding). */
Test(patterns, default_source_is_pattern_id)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    int rc = mg_patterns_add(p, MG_PATTERN_REGEX, "foo(bar", 7, 0, NULL, &err);
    cr_assert_eq(rc, MG_EPATTERN);
    cr_expect(strstr(err.message, "pattern #0"), "first pattern's error: \"%s\"", err.message);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "a", 1, 0, NULL, &err), 0);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "b", 1, 0, NULL, &err), 1);
    cr_expect_str_eq(info_of(p, 0).source, "pattern #0");
    cr_expect_str_eq(info_of(p, 1).source, "pattern #1");
    mg_patterns_free(&p);
}

Test(patterns, empty_match_regex_is_rejected)
{
    /* A regex that matches the empty string would match at every byte. It
     * must fail at add or at compile, naming its source. */
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    int rc = mg_patterns_add(p, MG_PATTERN_REGEX, "a*", 2, 0, "-e #1", &err);
    if (rc >= 0)
        rc = mg_patterns_compile(p, &err);
    cr_assert_eq(rc, MG_EPATTERN, "\"a*\" accepted (rc %d)", rc);
    cr_assert(strstr(err.message, "-e #1"), "\"%s\"", err.message);
    mg_patterns_free(&p);
}

Test(patterns, wide_regex_accepts_escaped_and_class_carets)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    const char *ok[] = {"a\\^b", "[^a]b", "a[$]", "x\\$y", "(ab|cd)+e", "\\x41\\.B"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc =
            mg_patterns_add(p, MG_PATTERN_REGEX, ok[i], strlen(ok[i]), MG_PATTERN_WIDE, NULL, &err);
        cr_assert_geq(rc, 0, "wide \"%s\" rejected: %s", ok[i], err.message);
    }
    mg_patterns_free(&p);
}

/* ---- lists and files ---- */

Test(pattern_list, comments_blank_crlf_prefixes)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "first", 5, 0, NULL, &err), 0);
    const char text[] = "# a comment\n"
                        "\n"
                        "plain literal\r\n"
                        "re:ab+c\n"
                        "hex:4d 5a ?? 00\r\n"
                        "#re:not(a pattern\n"
                        "last line no newline";
    int rc = mg_patterns_add_list(p, text, sizeof text - 1, "rules", 0, &err);
    cr_assert_eq(rc, 4, "add_list returned %d: %s", rc, err.message);
    cr_assert_eq(mg_patterns_count(p), 5u);
    mg_pattern_info in = info_of(p, 1);
    cr_assert_eq(in.kind, MG_PATTERN_LITERAL);
    cr_assert_eq(in.len, 13u, "CR not stripped? len %zu", in.len);
    cr_assert_str_eq(in.text, "plain literal");
    cr_assert_str_eq(in.source, "rules:3");
    in = info_of(p, 2);
    cr_assert_eq(in.kind, MG_PATTERN_REGEX);
    cr_assert_str_eq(in.text, "ab+c");
    cr_assert_str_eq(in.source, "rules:4");
    in = info_of(p, 3);
    cr_assert_eq(in.kind, MG_PATTERN_HEX);
    cr_assert_str_eq(in.text, "4d 5a ?? 00");
    cr_assert_str_eq(in.source, "rules:5");
    in = info_of(p, 4);
    cr_assert_eq(in.kind, MG_PATTERN_LITERAL);
    cr_assert_str_eq(in.text, "last line no newline");
    cr_assert_str_eq(in.source, "rules:7");
    mg_patterns_free(&p);
}

Test(pattern_list, flags_apply_to_every_line)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    int rc = mg_patterns_add_list(p, "abc\nre:d+e\n", 11, "f", MG_PATTERN_CASELESS, &err);
    cr_assert_eq(rc, 2, "%d %s", rc, err.message);
    cr_assert_eq(info_of(p, 0).flags, (unsigned)MG_PATTERN_CASELESS);
    cr_assert_eq(info_of(p, 1).flags, (unsigned)MG_PATTERN_CASELESS);
    mg_patterns_free(&p);
}

static void expect_list_fails(const char *text, const char *where)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "before", 6, 0, NULL, &err), 0);
    int rc = mg_patterns_add_list(p, text, strlen(text), "list.txt", 0, &err);
    cr_assert_eq(rc, MG_EPATTERN, "list \"%s\": rc %d", text, rc);
    cr_assert(strstr(err.message, where), "message \"%s\" does not contain \"%s\"", err.message,
              where);
    cr_assert_eq(mg_patterns_count(p), 1u, "a failed list added patterns (all or nothing)");
    /* The set is still usable. */
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "after", 5, 0, NULL, &err), 1);
    mg_patterns_free(&p);
}

Test(pattern_list, error_names_line_and_adds_nothing)
{
    expect_list_fails("good\nre:a(b\n", "list.txt:2");
    expect_list_fails("# c\n\ngood\nalso good\r\nhex:4d5\n", "list.txt:5");
    expect_list_fails("hex:zz\n", "list.txt:1");
    expect_list_fails("a\nb\nc\nd\ne\nf\ng\nh\ni\nre:(\n", "list.txt:10");
    expect_list_fails("a\nhex:\n", "list.txt:2");
    expect_list_fails("a\nre:\n", "list.txt:2");
}

Test(pattern_list, file)
{
    char path[] = "/tmp/mg-patterns-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char text[] = "# rules\nneedle\nre:ne+dle\nhex:6e 65 ?? 64\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    int rc = mg_patterns_add_file(p, path, 0, &err);
    cr_assert_eq(rc, 3, "%d %s", rc, err.message);
    mg_pattern_info in = info_of(p, 2);
    char where[64];
    snprintf(where, sizeof where, "%s:4", path);
    cr_assert_str_eq(in.source, where);
    unlink(path);

    /* A file that cannot be read: negative errno, message names it. */
    rc = mg_patterns_add_file(p, path, 0, &err);
    cr_assert_eq(rc, -ENOENT, "%d", rc);
    cr_assert(strstr(err.message, path), "\"%s\"", err.message);
    cr_assert_eq(mg_patterns_count(p), 3u);
    mg_patterns_free(&p);
}

/* ---- mg_hex_parse ---- */

static int hex(const char *s, uint8_t *bytes, uint8_t *mask, size_t *bad)
{
    *bad = 9999;
    return mg_hex_parse(s, strlen(s), bytes, mask, bad);
}

Test(hex_parse, valid_forms)
{
    uint8_t b[32], m[32];
    size_t bad;
    const char *forms[] = {"4d 5a ?? 00", "4d5a??00", "4D\t5A ??00", "4d  5a\t\t??  00"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        memset(b, 0xee, sizeof b);
        memset(m, 0xee, sizeof m);
        cr_assert_eq(hex(forms[i], b, m, &bad), 4, "\"%s\"", forms[i]);
        cr_assert_eq(b[0], 0x4d);
        cr_assert_eq(b[1], 0x5a);
        cr_assert_eq(b[3], 0x00);
        cr_assert_neq(m[0], 0);
        cr_assert_neq(m[1], 0);
        cr_assert_eq(m[2], 0, "\"%s\": ?? is not a wildcard", forms[i]);
        cr_assert_neq(m[3], 0);
    }
    cr_assert_eq(hex("ff", b, m, &bad), 1);
    cr_assert_eq(b[0], 0xff);
    cr_assert_eq(hex("00??", b, m, &bad), 2);
    cr_assert_eq(m[0] != 0 && m[1] == 0, 1);
}

Test(hex_parse, errors_and_offsets)
{
    uint8_t b[32], m[32];
    size_t bad;
    struct {
        const char *s;
        size_t bad;
    } cases[] = {
        {"", 0}, /* empty: len */
        {"4d5", 3}, /* ends in the middle of a byte: len */
        {"4d 5a 0", 7}, /* same */
        {"4g", 1}, /* bad character */
        {"zz", 0},       {"4d zz", 3}, {"4d 5a x0", 6}, {"??", 2}, /* only wildcards: len */
        {"?? ?? ??", 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = hex(cases[i].s, b, m, &bad);
        cr_expect_eq(rc, -EINVAL, "\"%s\" -> %d", cases[i].s, rc);
        cr_expect_eq(bad, cases[i].bad, "\"%s\": bad offset %zu, want %zu", cases[i].s, bad,
                     cases[i].bad);
    }
    /* Half a wildcard or a digit glued to one. */
    cr_assert_eq(hex("4d ?", b, m, &bad), -EINVAL);
    cr_assert_eq(hex("?4", b, m, &bad), -EINVAL);
    cr_assert_eq(hex("4?", b, m, &bad), -EINVAL);
}

/* ---- mg_regex_widen ---- */

Test(regex_widen, rejects_anchors_at_their_offset)
{
    struct {
        const char *re;
        size_t bad;
    } cases[] = {
        {"^abc", 0},   {"ab^c", 2},   {"abc$", 3},   {"\\bfoo", 0}, {"fo\\Bo", 2},
        {"\\Afoo", 0}, {"foo\\z", 3}, {"foo\\Z", 3}, {"(a|^b)", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = (char *)1;
        size_t bad = 9999;
        int rc = mg_regex_widen(cases[i].re, strlen(cases[i].re), &out, &bad);
        cr_expect_eq(rc, -EINVAL, "\"%s\" -> %d", cases[i].re, rc);
        cr_expect_eq(bad, cases[i].bad, "\"%s\": bad %zu want %zu", cases[i].re, bad, cases[i].bad);
    }
}

/* Match count of `re` (a plain regex) in buf via the public scanner. */
static unsigned count_cb_n;
static int count_cb(void *ctx, const mg_match *m)
{
    (void)ctx;
    (void)m;
    count_cb_n++;
    return MG_SINK_CONTINUE;
}

static unsigned regex_hits(const char *re, const void *buf, size_t len)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    int rc = mg_patterns_add(p, MG_PATTERN_REGEX, re, strlen(re), 0, NULL, &err);
    cr_assert_geq(rc, 0, "widened regex \"%s\" does not compile: %s", re, err.message);
    cr_assert_eq(mg_patterns_compile(p, &err), 0, "%s", err.message);
    mg_sink sink = {.match = count_cb};
    mg_stats st;
    count_cb_n = 0;
    cr_assert_eq(mg_scan_buffer(p, buf, len, 0x1000, 1 << 20, 0, &sink, &st), 0);
    mg_patterns_free(&p);
    return count_cb_n;
}

static size_t utf16(const char *s, uint8_t *out)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = (uint8_t)s[i];
        out[2 * i + 1] = 0;
    }
    return 2 * n;
}

Test(regex_widen, widened_regex_matches_utf16_form_only)
{
    struct {
        const char *re, *yes, *no;
    } cases[] = {
        {"a[bc]d", "xxacdxx", "xxaedxx"},
        {"(ab|cd)+e", "--cdabe--", "--abx--"},
        {"x.y", "x7y", "xy"},
        {"[0-9]{2,3}z", "q12z", "q1z"},
        {"[^a]b", "cb", "ab"},
        {"a\\^b", "a^b", "ab"},
        {"\\x41\\.B", "A.B", "AxB"},
        {"(?:ab)?cd", "cd", "c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        size_t bad = 0;
        int rc = mg_regex_widen(cases[i].re, strlen(cases[i].re), &out, &bad);
        cr_assert_eq(rc, 0, "widen \"%s\": %d at %zu", cases[i].re, rc, bad);
        cr_assert(out != NULL);
        uint8_t w[64];
        size_t wl = utf16(cases[i].yes, w);
        cr_expect_eq(regex_hits(out, w, wl), 1u, "\"%s\" -> \"%s\" on UTF-16 \"%s\"", cases[i].re,
                     out, cases[i].yes);
        /* The ASCII form does not match the widened regex. */
        cr_expect_eq(regex_hits(out, cases[i].yes, strlen(cases[i].yes)), 0u,
                     "\"%s\" -> \"%s\" matches ASCII \"%s\"", cases[i].re, out, cases[i].yes);
        wl = utf16(cases[i].no, w);
        cr_expect_eq(regex_hits(out, w, wl), 0u, "\"%s\" -> \"%s\" matches UTF-16 \"%s\"",
                     cases[i].re, out, cases[i].no);
        free(out);
    }
}
