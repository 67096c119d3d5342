/* test_yara.c - YARA rules: the parser (each construct, each error with
 * FILE:LINE), the strings' forms (nocase, wide, fullword, xor, base64, hex
 * jumps and alternatives, regex), and the evaluator's process semantics
 * (undefined values as yara 4.2.3 evaluates them, counts, offsets,
 * integer reads, rule references, global and private rules), over
 * buffers scanned in small chunks. tests/yara_diff.py compares whole
 * processes with /usr/bin/yara. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "memgrep/memgrep.h"

#define BASE 0x7f0000001000ull

typedef struct got {
    char rules[64][64];
    size_t n;
    /* every string hit: rule, id, address */
    struct {
        char rule[64], id[16];
        uint64_t addr, len;
    } hits[256];
    size_t n_hits;
    uint64_t plain;
    bool capped;
} got;

static int on_rule(void *ctx, const mg_rule_match *m)
{
    got *g = ctx;
    cr_assert_lt(g->n, 64);
    snprintf(g->rules[g->n++], 64, "%s", m->rule);
    for (size_t i = 0; i < m->n_strings; i++)
        g->capped |= m->strings[i].capped;
    for (size_t i = 0; i < m->n_hits && g->n_hits < 256; i++) {
        snprintf(g->hits[g->n_hits].rule, 64, "%s", m->rule);
        snprintf(g->hits[g->n_hits].id, 16, "%s", m->strings[m->hits[i].string].id);
        g->hits[g->n_hits].addr = m->hits[i].address;
        g->hits[g->n_hits].len = m->hits[i].length;
        g->n_hits++;
    }
    return MG_SINK_CONTINUE;
}

static int on_match(void *ctx, const mg_match *m)
{
    (void)m;
    ((got *)ctx)->plain++;
    return MG_SINK_CONTINUE;
}

static mg_patterns *load(const char *text, unsigned flags)
{
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_new(&p), 0);
    int rc = mg_patterns_add_rules_text(p, text, strlen(text), "t.yar", flags, &err);
    cr_assert_geq(rc, 0, "load failed: %s", err.message);
    rc = mg_patterns_compile(p, &err);
    cr_assert_eq(rc, 0, "compile failed: %s", err.message);
    return p;
}

/* Scan buf at base in chunks of `chunk` bytes, the rules loaded with
 * flags (MG_RULES_*); the matching rules in g, the stats in st. */
static void scan_with(const char *rules, unsigned flags, const void *buf, size_t len, uint64_t base,
                      size_t chunk, got *g, mg_stats *st)
{
    memset(g, 0, sizeof(*g));
    mg_patterns *p = load(rules, flags);
    mg_sink sink = {.ctx = g, .rule = on_rule, .match = on_match};
    cr_assert_eq(mg_scan_buffer(p, buf, len, base, chunk, 8, &sink, st), 0);
    cr_assert_eq(st->rule_matches, g->n);
    mg_patterns_free(&p);
}

/* The same at BASE, the rules without flags. */
static void scan(const char *rules, const void *buf, size_t len, size_t chunk, got *g)
{
    mg_stats st;
    scan_with(rules, 0, buf, len, BASE, chunk, g, &st);
}

/* Settings to scan the one process *pid with one thread. */
static void one_process(mg_settings *s, pid_t *pid)
{
    mg_default_settings(s);
    s->pids = pid;
    s->n_pids = 1;
    s->threads = 1;
}

static bool matched(const got *g, const char *rule)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->rules[i], rule))
            return true;
    return false;
}

/* The rules named in `want` (space separated) matched, and no other. */
static void expect_rules(const got *g, const char *want)
{
    char buf[1024], all[2048] = "";
    snprintf(buf, sizeof(buf), "%s", want);
    size_t n = 0;
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "), n++)
        cr_expect(matched(g, t), "rule %s did not match", t);
    for (size_t i = 0; i < g->n; i++)
        strcat(strcat(all, g->rules[i]), " ");
    cr_expect_eq(g->n, n, "matched: %s; expected: %s", all, want);
}

static uint64_t hit_at(const got *g, const char *rule, const char *id, size_t nth)
{
    for (size_t i = 0; i < g->n_hits; i++)
        if (!strcmp(g->hits[i].rule, rule) && !strcmp(g->hits[i].id, id) && nth-- == 0)
            return g->hits[i].addr;
    return 0;
}

/* A buffer of filler with text placed at offsets. */
static uint8_t *buffer(size_t len)
{
    uint8_t *b = malloc(len);
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(0x80 | (i * 7 % 61)); /* never alphanumeric, never zero */
    return b;
}

static void put(uint8_t *b, size_t off, const void *s, size_t n)
{
    memcpy(b + off, s, n);
}

/* ---- parser ------------------------------------------------------------- */

static void expect_error(const char *text, unsigned flags, const char *want)
{
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_new(&p), 0);
    int rc = mg_patterns_add_rules_text(p, text, strlen(text), "t.yar", flags, &err);
    cr_expect_eq(rc, MG_EPATTERN, "accepted: %s", text);
    cr_expect(strstr(err.message, want), "message '%s' lacks '%s'", err.message, want);
    cr_expect_eq(mg_patterns_count(p), 0, "a failed load left patterns");
    cr_expect_eq(mg_patterns_rules_count(p), 0);
    mg_patterns_free(&p);
}

Test(yara, parses_every_construct)
{
    const char *text =
        "import \"console\"\n"
        "/* comment */ // line comment\n"
        "private rule helper { strings: $h = \"hh\" condition: $h }\n"
        "global rule g : t1 { condition: true }\n"
        "rule all_of_it : tag1 tag2 {\n"
        "  meta:\n"
        "    author = \"me \\\"q\\\"\" n = -12 ok = true\n"
        "  strings:\n"
        "    $t1 = \"a\\tb\\n\\x41\\\\\" nocase wide ascii fullword\n"
        "    $t2 = \"xorme\" xor(1-3) private\n"
        "    $t3 = \"b64text\" base64 base64wide\n"
        "    $t4 = \"alpha\" "
        "base64(\"!@#$%^&*()ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz01\")\n"
        "    $h1 = { 4d 5a ?? ?0 5? [2] [1-3] ( 01 02 | 03 ( 04 | 05 ) ) [4-] 90 // c\n"
        "            /* c */ 91 }\n"
        "    $r1 = /ab+c[0-9]{2,4}\\/x/is wide ascii\n"
        "    $ = \"anon\"\n"
        "  condition:\n"
        "    ($t1 or #t2 > 2 and @t3[1] < !t3[1] + 0x10 * 2 - 1 \\ 1 % 7) and\n"
        "    not $t4 at 0 and $h1 in (0..100KB) and 2 of ($t*, $h1) and\n"
        "    any of them and all of ($r*) and none of ($t4) and 50% of them and\n"
        "    for any of ($t*) : ( # >= 1 and @ > 0 and ! > 0 and $ ) and\n"
        "    for all i in (1..#t1) : ( @t1[i] > 0 ) and helper and g and\n"
        "    uint8(0) | uint16(1) & uint32(2) ^ int8be(3) << 1 >> 1 != ~int32be(0) and\n"
        "    -1 < 0 and defined filesize == false or 1 of (helper, g)\n"
        "}\n";
    mg_patterns *p = load(text, 0);
    cr_expect_eq(mg_patterns_rules_count(p), 3);
    cr_expect_eq(mg_patterns_count(p), 8); /* one pattern per string */
    mg_patterns_free(&p);
}

Test(yara, errors_name_file_line_and_rule)
{
    expect_error("rule a {\n condition:\n  $x\n}", 0, "t.yar:3: rule a: undefined string");
    expect_error("rule a {\n strings: $x = \"q\"\n condition:\n  true\n}", 0,
                 "t.yar:5: rule a: unreferenced string \"$x\"");
    expect_error("rule a { condition: true }\nrule a { condition: true }", 0,
                 "t.yar:2: duplicated rule identifier \"a\" in namespace default");
    expect_error("rule a {\n strings: $x = \"q\\z\"\n condition: $x }", 0,
                 "t.yar:2: rule a: illegal escape sequence");
    expect_error("rule a {\n strings: $x = { 4d [1- }\n condition: $x }", 0, "t.yar:2: rule a:");
    expect_error("rule a {\n strings: $x = { ?? ?? }\n condition: $x }", 0, "no fixed byte");
    expect_error("rule a {\n strings: $x = /ab(/\n condition: $x }", 0,
                 "t.yar:2: rule a: $x: invalid regex");
    expect_error("rule a {\n strings: $x = \"q\" xor nocase\n condition: $x }", 0,
                 "t.yar:2: rule a: xor cannot be combined");
    expect_error("rule a {\n strings: $x = { 41 } nocase\n condition: $x }", 0,
                 "modifier nocase is not allowed on hex strings");
    expect_error("rule a {\n condition:\n  true and\n}", 0, "t.yar:4: rule a: unexpected");
    expect_error("rule a { condition: true }\n/* open", 0, "unterminated comment");
    expect_error("rule a {\n condition: 1 == \"x\" }", 0,
                 "t.yar:2: rule a: wrong type for operator '=='");
    expect_error("rule ext { condition: my_external > 3 }", 0,
                 "t.yar:1: rule ext: undefined identifier \"my_external\"");
    expect_error("rule m { condition: pe.is_pe == 0 }", 0, "rule m: undefined identifier \"pe\"");
    expect_error("include \"does-not-exist.yar\"", 0, "t.yar:1: include \"does-not-exist.yar\"");
}

Test(yara, unsupported_is_refused_or_skipped)
{
    const char *text = "import \"hash\"\n"
                       "rule good { strings: $a = \"goodgood\" condition: $a }\n"
                       "rule modrule {\n strings: $a = \"zz\"\n condition:\n  $a and hash.md5(0, "
                       "100) == hash.sha1(0, 100)\n}\n"
                       "rule cnt {\n strings: $b = \"yy\"\n condition: $b and any of (later*) }\n"
                       "rule r_last { condition: good }\n";
    expect_error(text, 0,
                 "t.yar:6: rule modrule: operator '==' with a hash of memory is not supported "
                 "(--skip-unsupported drops the rule)");
    mg_patterns *p = load(text, MG_RULES_SKIP_UNSUPPORTED);
    cr_expect_eq(mg_patterns_rules_count(p), 2);
    cr_expect_eq(mg_patterns_count(p), 1); /* the skipped rules' strings were dropped with them */
    cr_assert_not_null(mg_patterns_rules_skipped(p, 0));
    cr_expect(
        strstr(mg_patterns_rules_skipped(p, 0),
               "t.yar:6: rule modrule: operator '==' with a hash of memory is not supported"));
    cr_expect(strstr(mg_patterns_rules_skipped(p, 1), "t.yar:10: rule cnt: identifier later*"),
              "%s", mg_patterns_rules_skipped(p, 1));
    cr_expect_null(mg_patterns_rules_skipped(p, 2));
    mg_patterns_free(&p);
}

Test(yara, include_is_relative_to_the_including_file)
{
    char dir[] = "/tmp/mg-yara-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[128], path[192];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(path, sizeof(path), "%s/main.yar", dir);
    FILE *f = fopen(path, "w");
    fputs("include \"sub/one.yar\"\nrule main { condition: one and two }\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/one.yar", sub);
    f = fopen(path, "w");
    fputs("include \"two.yar\"\nrule one { condition: true }\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/two.yar", sub);
    f = fopen(path, "w");
    fputs("rule two {\n condition: true }\n", f);
    fclose(f);
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_new(&p), 0);
    snprintf(path, sizeof(path), "%s/main.yar", dir);
    cr_expect_eq(mg_patterns_add_rules(p, path, 0, &err), 3, "%s", err.message);
    mg_patterns_free(&p);
    /* an error in an included file names that file */
    snprintf(path, sizeof(path), "%s/two.yar", sub);
    f = fopen(path, "w");
    fputs("rule two {\n condition: nope.x }\n", f);
    fclose(f);
    cr_assert_eq(mg_patterns_new(&p), 0);
    snprintf(path, sizeof(path), "%s/main.yar", dir);
    cr_expect_lt(mg_patterns_add_rules(p, path, 0, &err), 0);
    cr_expect(strstr(err.message, "sub/two.yar:2: rule two: undefined identifier \"nope\""), "%s",
              err.message);
    mg_patterns_free(&p);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* ---- strings ------------------------------------------------------------- */

Test(yara, string_forms)
{
    size_t len = 8192;
    uint8_t *b = buffer(len);
    put(b, 100, "StRaTuM+TcP", 11);
    put(b, 200, "w\0i\0d\0e\0m\0e\0", 12);
    put(b, 300, " word ", 6);
    put(b, 400, "xwordx", 6);
    uint8_t x[6] = {'x', 'o', 'r', 'k', 'e', 'y'};
    for (int i = 0; i < 6; i++)
        x[i] ^= 0x5a;
    put(b, 500, x, 6);
    put(b, 600, "aGVsbG8gd29ybGQ", 15); /* base64("hello world") */
    put(b, 1000, "aABpACAAdABoAGUAcgBlAA==", 24); /* base64 of "hi there" in UTF-16LE */
    put(b, 700, "\x4d\x5a\x90\x00\x03\x11\x22\xcc", 8);
    put(b, 800, "abbbc42", 7);
    /* straddling the 4096-byte chunk boundary */
    put(b, 4090, "straddle", 8);
    /* in the last bytes of the buffer */
    put(b, len - 7, "lastone", 7);
    const char *rules =
        "rule r_nocase { strings: $a = \"stratum+tcp\" nocase condition: $a }\n"
        "rule r_case { strings: $a = \"stratum+tcp\" condition: $a }\n"
        "rule r_wide { strings: $a = \"wideme\" wide condition: $a }\n"
        "rule narrow_only { strings: $a = \"wideme\" condition: $a }\n"
        "rule fw { strings: $a = \"word\" fullword condition: #a == 1 }\n"
        "rule r_xor { strings: $a = \"xorkey\" xor condition: $a }\n"
        "rule xor_miss { strings: $a = \"xorkey\" xor(1-0x59) condition: $a }\n"
        "rule b64 { strings: $a = \"hello world\" base64 condition: $a }\n"
        /* as yara: wide encodes the UTF-16LE text, base64wide widens the encoding */
        "rule b64w { strings: $a = \"hi there\" base64 wide condition: $a }\n"
        "rule b64w_miss { strings: $a = \"hello world\" base64 wide condition: $a }\n"
        "rule b64aw { strings: $a = \"hello world\" base64 ascii wide condition: $a }\n"
        "rule b64ww_miss { strings: $a = \"hi there\" base64wide wide condition: $a }\n"
        "rule r_hex { strings: $a = { 4d 5a ?0 00 [1-2] 22 c? } condition: $a }\n"
        "rule hexalt { strings: $a = { 4d 5a ( 91 | 90 00 ) 03 } condition: $a }\n"
        "rule r_re { strings: $a = /ab+c[0-9]{2}/ condition: $a }\n"
        "rule straddle { strings: $a = \"straddle\" condition: $a }\n"
        "rule r_last { strings: $a = \"lastone\" fullword condition: $a }\n";
    got g;
    scan(rules, b, len, 4096, &g);
    expect_rules(&g, "r_nocase r_wide fw r_xor b64 b64w b64aw r_hex hexalt r_re straddle r_last");
    cr_expect_eq(hit_at(&g, "fw", "$a", 0), BASE + 301);
    cr_expect_eq(hit_at(&g, "b64", "$a", 0), BASE + 600);
    cr_expect_eq(hit_at(&g, "b64w", "$a", 0), BASE + 1000);
    cr_expect_eq(hit_at(&g, "b64aw", "$a", 0), BASE + 600);
    cr_expect_eq(hit_at(&g, "straddle", "$a", 0), BASE + 4090);
    cr_expect_eq(hit_at(&g, "r_hex", "$a", 0), BASE + 700);
    /* the same with chunks of 64 bytes: the same answers */
    got g2;
    scan(rules, b, len, 64, &g2);
    cr_expect_eq(g2.n, g.n);
    cr_expect_eq(g2.n_hits, g.n_hits);
    free(b);
}

/* ---- evaluation ------------------------------------------------------------- */

Test(yara, counts_offsets_lengths_and_ranges)
{
    size_t len = 4096;
    uint8_t *b = buffer(len);
    put(b, 10, "AAA", 3);
    put(b, 50, "AAA", 3);
    put(b, 90, "AAA", 3);
    put(b, 200, "\x01\x02\x03\x04", 4);
    const char *rules =
        "rule count3 { strings: $a = \"AAA\" condition: #a == 3 }\n"
        "rule first { strings: $a = \"AAA\" condition: @a[1] == 0x7f000000100b - 1 }\n"
        "rule third { strings: $a = \"AAA\" condition: @a[3] - @a[1] == 80 and !a[2] == 3 }\n"
        "rule r_at { strings: $a = \"AAA\" condition: $a at 0x7f0000001000 + 50 }\n"
        "rule notat { strings: $a = \"AAA\" condition: $a at 0x7f0000001000 + 51 }\n"
        "rule r_in { strings: $a = \"AAA\" condition: $a in (0x7f000000102c..0x7f0000001032) }\n"
        "rule notin { strings: $a = \"AAA\" condition: $a in (0x7f000000103d..0x7f0000001040) }\n"
        "rule past_end { strings: $a = \"AAA\" condition: not (@a[4] > 0) }\n"
        "rule past_end_or { strings: $a = \"AAA\" condition: @a[4] > 0 or true }\n"
        "rule read { condition: uint32(0x7f0000001000 + 200) == 0x04030201 and "
        "uint16be(0x7f0000001000 + 200) == 0x0102 and int8(0x7f0000001000 + 0) < 0 }\n"
        "rule read_outside { condition: uint8(0x7f0000001000 + 4096) == 0 }\n"
        "rule read_outside_not { condition: not (uint8(0x7f0000001000 + 4096) == 0) }\n"
        "rule read_edge { condition: uint32(0x7f0000001000 + 4093) == 0 }\n"
        "rule forof { strings: $a = \"AAA\" $b = \"BBB\" condition: for 1 of ($a, $b) : (# == 3) "
        "}\n"
        "rule forin { strings: $a = \"AAA\" condition: for all i in (1..#a) : (@a[i] > "
        "0x7f0000001000) }\n"
        "rule two { strings: $a = \"AAA\" $b = \"BBB\" condition: 2 of them }\n"
        "rule pct { strings: $a = \"AAA\" $b = \"BBB\" condition: 50% of them }\n"
        "rule r_none { strings: $b = \"BBB\" condition: none of them }\n"
        "rule arith { condition: (7 \\ 2) * 3 + 10 % 4 - -1 == 12 and 1 << 3 == 8 }\n"
        "rule divzero { condition: not (1 \\ (2 - 2) == 0) }\n";
    got g;
    scan(rules, b, len, 4096, &g);
    expect_rules(&g, "count3 first third r_at r_in past_end_or read forof forin pct "
                     "r_none arith");
    free(b);
}

/* The undefined cases, each measured with yara 4.2.3 on a live process. */
Test(yara, undefined_as_yara_evaluates_it)
{
    uint8_t b[64] = {0};
    const char *rules = "rule c1 { condition: filesize > 0 }\n"
                        "rule c2 { condition: not (filesize > 0) }\n"
                        "rule c3 { condition: filesize > 0 or true }\n"
                        "rule c4 { condition: not (filesize > 0 and true) }\n"
                        "rule c5 { condition: filesize == filesize }\n"
                        "rule c8 { condition: defined filesize }\n"
                        "rule c9 { condition: not defined filesize }\n"
                        "rule c10 { condition: not (filesize > 0 or filesize < 0) }\n"
                        "rule c11 { condition: not (not (filesize > 0)) }\n"
                        "rule c14 { condition: true and not (filesize > 0) }\n"
                        "rule c17 { condition: not c1 }\n"
                        "rule c19 { condition: filesize }\n"
                        "rule c20 { condition: not filesize }\n"
                        "rule d5 { condition: not for any i in (1..2) : (filesize > i) }\n"
                        "rule d6 { condition: for all i in (1..2) : (not (filesize > i)) }\n"
                        "rule e1 { condition: for all i in (1..0) : (false) }\n"
                        "rule e4 { condition: for 0 i in (1..3) : (false) }\n"
                        "rule e6 { condition: not for all i in (1..filesize) : (false) }\n"
                        "rule e8 { strings: $a = \"zzqq\" condition: not ($a at filesize) }\n"
                        "rule e9 { strings: $a = \"zzqq\" condition: not ($a in (0..filesize)) }\n"
                        "rule e10 { condition: uint8(0) == 0 }\n"
                        "rule e11 { condition: not (uint8(0) == 0) }\n";
    got g;
    scan(rules, b, sizeof(b), 4096, &g);
    expect_rules(&g, "c3 c4 c9 c10 c17 d5 e4 e6 e8");
}

/* A rule that cannot be true in a process (a read where no region is,
 * filesize) has its strings' matches dropped while scanning; a rule that
 * can still be true keeps them, whatever undefined value it holds. */
Test(yara, strings_of_rules_that_cannot_be_true)
{
    uint8_t *b = buffer(4096);
    put(b, 10, "needle", 6);
    const char *rules =
        "rule k1 { strings: $a = \"needle\" condition: uint16(0) == 0x5a4d and $a }\n"
        "rule k2 { strings: $a = \"needle\" condition: not defined uint16(0) and $a }\n"
        "rule k3 { strings: $a = \"needle\" condition: uint16(0) == 0x5a4d or $a }\n"
        "rule k4 { strings: $a = \"needle\" condition: not (uint16(0) == 1) or $a }\n"
        "rule k5 { strings: $a = \"needle\" condition: filesize < 100 and $a }\n"
        "rule k6 { strings: $a = \"needle\" condition: $a and not (filesize > 10) }\n"
        "rule k7 { strings: $a = \"needle\" condition: for any i in (0..1) : (uint8(i) == 0) "
        "or $a }\n"
        "rule k8 { strings: $a = \"needle\" condition: uint8(@a[1]) == 0x6e and $a }\n"
        "rule k9 { strings: $a = \"needle\" condition: uint8(0x7f0000001000 + 10) == 0x6e and "
        "$a }\n"
        "rule k10 { strings: $a = \"needle\" condition: uint8(0x7f0000001000 - 1) == 0 and $a "
        "}\n"
        "rule k11 { strings: $a = \"needle\" condition: 1 of (k1, k3) and $a }\n"
        "rule k12 { strings: $a = \"needle\" condition: all of (k1, k3) and $a }\n"
        "rule k13 { strings: $a = \"needle\" condition: not k1 and $a }\n"
        "rule k14 { strings: $a = \"needle\" condition: for any of ($a) : (uint16(0) == 1 or $) "
        "}\n"
        "rule k15 { strings: $a = \"needle\" condition: #a == 1 and uint16be(0) == 1 }\n";
    got g;
    scan(rules, b, 4096, 1024, &g);
    expect_rules(&g, "k2 k3 k4 k7 k8 k9 k11 k13 k14");
    const char *kept[] = {"k2", "k3", "k4", "k7", "k8", "k9", "k11", "k13", "k14"};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        cr_expect_eq(hit_at(&g, kept[i], "$a", 0), BASE + 10, "%s", kept[i]);
    free(b);
}

/* MG_RULES_NO_NEGATE: a string whose every rule cannot be true in any
 * memory (filesize is undefined) is not searched for (no callback); one
 * shared with a rule that can be true is, and so is one of a rule true
 * only where address 0 is readable (a buffer at 0). rules_negate is then
 * refused. Without the flag every string is searched for. */
Test(yara, no_negate_leaves_out_strings_of_rules_never_true)
{
    uint8_t *b = buffer(4096);
    put(b, 0, "MZ", 2);
    put(b, 10, "needle", 6);
    put(b, 100, "shared", 6);
    put(b, 200, "pinned", 6);
    const char *rules = "rule n1 { strings: $a = \"needle\" condition: filesize < 100 and $a }\n"
                        "rule n2 { strings: $a = \"shared\" condition: filesize < 100 and $a }\n"
                        "rule n3 { strings: $a = \"shared\" condition: $a }\n"
                        "rule n4 { strings: $a = \"pinned\" condition: uint16(0) == 0x5a4d and "
                        "$a }\n";
    for (int no_negate = 0; no_negate < 2; no_negate++) {
        got g;
        mg_stats st;
        scan_with(rules, no_negate ? MG_RULES_NO_NEGATE : 0, b, 4096, 0, 1024, &g, &st);
        expect_rules(&g, "n3 n4");
        cr_expect_eq(hit_at(&g, "n3", "$a", 0), 100);
        cr_expect_eq(hit_at(&g, "n4", "$a", 0), 200);
        cr_expect_eq(st.callbacks, no_negate ? 2u : 3u, "%d: %" PRIu64 " callbacks", no_negate,
                     st.callbacks);
    }
    pid_t pid = 1; /* refused before it is read */
    mg_settings set;
    one_process(&set, &pid);
    set.rules_negate = true;
    mg_error err = {{0}};
    mg_patterns *p = load(rules, MG_RULES_NO_NEGATE);
    got g = {0};
    mg_sink sink = {.ctx = &g, .rule = on_rule, .match = on_match};
    cr_expect_eq(mg_scan(p, &set, &sink, NULL, &err), -EINVAL, "%s", err.message);
    cr_expect(strstr(err.message, "MG_RULES_NO_NEGATE"), "%s", err.message);
    mg_patterns_free(&p);
    free(b);
}

/* Strings only rules reading page 0 can use (`uint16(0) == 0x5a4d and
 * ...`) are in a database of their own, scanned only where page 0 is
 * readable (a buffer at address 0): there they are found as before, and
 * elsewhere not looked for (callbacks). A string another rule needs
 * anywhere stays in the main database. */
Test(yara, page_zero_strings_scanned_where_page_zero_is)
{
    uint8_t *b = buffer(8192);
    put(b, 0, "MZ", 2);
    put(b, 200, "pinned", 6);
    put(b, 1500, "pinned", 6);
    put(b, 300, "shared", 6);
    put(b, 5000, "plain", 5);
    const char *rules = "rule p1 { strings: $a = \"pinned\" condition: uint16(0) == 0x5a4d and "
                        "#a == 2 }\n"
                        "rule p2 { strings: $a = \"shared\" condition: uint16(0) == 0x5a4d and "
                        "$a }\n"
                        "rule n1 { strings: $a = \"shared\" condition: $a }\n"
                        "rule n2 { strings: $a = \"plain\" condition: $a }\n";
    for (int no_negate = 0; no_negate < 2; no_negate++) {
        unsigned fl = no_negate ? MG_RULES_NO_NEGATE : 0;
        got g;
        mg_stats st;
        scan_with(rules, fl, b, 8192, 0, 1024, &g, &st);
        expect_rules(&g, "p1 p2 n1 n2");
        cr_expect_eq(hit_at(&g, "p1", "$a", 0), 200);
        cr_expect_eq(hit_at(&g, "p1", "$a", 1), 1500);
        cr_expect_eq(hit_at(&g, "p2", "$a", 0), 300);
        cr_expect_eq(hit_at(&g, "n2", "$a", 0), 5000);
        cr_expect_eq(st.callbacks, 4u, "%d: %" PRIu64 " callbacks", no_negate, st.callbacks);
        scan_with(rules, fl, b, 8192, BASE, 1024, &g, &st);
        expect_rules(&g, "n1 n2");
        cr_expect_eq(hit_at(&g, "n1", "$a", 0), BASE + 300);
        /* "pinned" looked for only where -n may show it */
        cr_expect_eq(st.callbacks, no_negate ? 2u : 4u, "%d: %" PRIu64 " callbacks", no_negate,
                     st.callbacks);
    }
    free(b);
}

/* The page-0 strings' database is cached beside the main one (an entry
 * each): loaded from the cache, they are found as when compiled. */
Test(yara, page_zero_strings_from_the_database_cache)
{
    char dir[] = "/tmp/mg-yara-cache-XXXXXX";
    cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    uint8_t *b = buffer(4096);
    put(b, 0, "MZ", 2);
    put(b, 200, "pinned", 6);
    put(b, 300, "plain", 5);
    const char *rules = "rule p1 { strings: $a = \"pinned\" condition: uint16(0) == 0x5a4d and "
                        "$a }\n"
                        "rule n1 { strings: $a = \"plain\" condition: $a }\n";
    for (int i = 0; i < 2; i++) {
        mg_patterns *p = NULL;
        mg_error err = {{0}};
        bool cached = false;
        cr_assert_eq(mg_patterns_new(&p), 0);
        cr_assert_geq(
            mg_patterns_add_rules_text(p, rules, strlen(rules), "t.yar", MG_RULES_NO_NEGATE, &err),
            0, "%s", err.message);
        cr_assert_eq(mg_patterns_compile_cached(p, dir, &cached, &err), 0, "%s", err.message);
        cr_expect_eq(cached, i == 1, "round %d: from the cache %d", i, cached);
        got g = {0};
        mg_stats st;
        mg_sink sink = {.ctx = &g, .rule = on_rule, .match = on_match};
        cr_assert_eq(mg_scan_buffer(p, b, 4096, 0, 1024, 8, &sink, &st), 0);
        expect_rules(&g, "p1 n1");
        cr_expect_eq(hit_at(&g, "p1", "$a", 0), 200, "round %d", i);
        mg_patterns_free(&p);
    }
    DIR *d = opendir(dir);
    cr_assert(d);
    size_t entries = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.')
            entries += unlinkat(dirfd(d), de->d_name, 0) == 0;
    closedir(d);
    cr_expect_eq(entries, 2u, "the main database's entry and the page-0 strings'");
    cr_expect_eq(rmdir(dir), 0);
    free(b);
}

/* Identical strings of different rules are one pattern sharing its
 * matches; a modifier apart makes them different strings. */
Test(yara, identical_strings_share_their_matches)
{
    uint8_t *b = buffer(4096);
    put(b, 10, "needle", 6);
    put(b, 100, "NEEDLE", 6);
    put(b, 200, "needle", 6);
    const char *rules =
        "rule s1 { strings: $a = \"needle\" condition: #a == 2 }\n"
        "rule s2 { strings: $x = \"needle\" $y = \"needle\" nocase private condition: #x == 2 "
        "and #y == 3 and @x[2] == 0x7f0000001000 + 200 }\n"
        "rule s3 { strings: $a = \"needle\" fullword condition: $a }\n"
        "rule s4 { strings: $a = \"needle\" nocase condition: #a == 3 }\n"
        "rule s5 { strings: $a = \"needle\" condition: #a == 2 }\n";
    got g;
    scan(rules, b, 4096, 1024, &g);
    expect_rules(&g, "s1 s2 s3 s4 s5");
    cr_expect_eq(hit_at(&g, "s1", "$a", 1), BASE + 200);
    cr_expect_eq(hit_at(&g, "s5", "$a", 1), BASE + 200);
    cr_expect_eq(hit_at(&g, "s2", "$x", 0), BASE + 10);
    cr_expect_eq(hit_at(&g, "s2", "$y", 0), 0, "a private string was shown");
    cr_expect_eq(hit_at(&g, "s4", "$a", 1), BASE + 100);
    free(b);
}

/* A fixed-offset string (named only as `$a at N`) identical to strings
 * that are not: each sees its own matches, the fixed one N's alone. */
Test(yara, identical_strings_at_a_fixed_offset)
{
    uint8_t *b = buffer(4096);
    put(b, 10, "needle", 6);
    put(b, 200, "needle", 6);
    const char *rules =
        "rule f1 { strings: $a = \"needle\" condition: $a at 0x7f000000100a }\n"
        "rule f2 { strings: $a = \"needle\" condition: #a == 2 }\n"
        "rule f3 { strings: $a = \"needle\" condition: $a at 0x7f00000010c8 }\n"
        "rule f4 { strings: $a = \"needle\" $b = \"needle\" condition: $a at 0x7f00000010c8 "
        "and #b == 2 }\n"
        "rule f5 { strings: $a = \"needle\" condition: $a at 0x7f0000001000 }\n";
    got g;
    scan(rules, b, 4096, 1024, &g);
    expect_rules(&g, "f1 f2 f3 f4");
    cr_expect_eq(hit_at(&g, "f1", "$a", 0), BASE + 10);
    cr_expect_eq(hit_at(&g, "f1", "$a", 1), 0, "a fixed string shown elsewhere");
    cr_expect_eq(hit_at(&g, "f2", "$a", 1), BASE + 200);
    cr_expect_eq(hit_at(&g, "f3", "$a", 0), BASE + 200);
    cr_expect_eq(hit_at(&g, "f3", "$a", 1), 0, "a fixed string shown elsewhere");
    cr_expect_eq(hit_at(&g, "f4", "$a", 0), BASE + 200);
    cr_expect_eq(hit_at(&g, "f4", "$a", 1), 0, "a fixed string shown elsewhere");
    cr_expect_eq(hit_at(&g, "f4", "$b", 1), BASE + 200);
    free(b);
}

Test(yara, rule_references_global_and_private)
{
    uint8_t *b = buffer(4096);
    put(b, 10, "needle", 6);
    const char *rules = "private rule p { strings: $a = \"needle\" condition: $a }\n"
                        "rule uses_p { condition: p }\n"
                        "rule not_p { condition: not p }\n";
    got g;
    scan(rules, b, 4096, 4096, &g);
    expect_rules(&g, "uses_p");
    const char *global_false = "global rule gate { strings: $a = \"absent!\" condition: $a }\n"
                               "rule r { strings: $a = \"needle\" condition: $a }\n";
    scan(global_false, b, 4096, 4096, &g);
    expect_rules(&g, "");
    const char *global_true = "global rule gate { strings: $a = \"needle\" condition: $a }\n"
                              "rule r { condition: true }\n";
    scan(global_true, b, 4096, 4096, &g);
    expect_rules(&g, "gate r");
    free(b);
}

Test(yara, private_strings_count_but_are_not_shown)
{
    uint8_t *b = buffer(4096);
    put(b, 10, "needle", 6);
    put(b, 30, "pin", 3);
    got g;
    scan("rule r { strings: $a = \"needle\" $b = \"pin\" private condition: $a and $b }", b, 4096,
         4096, &g);
    expect_rules(&g, "r");
    cr_expect_eq(g.n_hits, 1);
    cr_expect_str_eq(g.hits[0].id, "$a");
    free(b);
}

Test(yara, rules_and_plain_patterns_share_one_database)
{
    uint8_t *b = buffer(4096);
    put(b, 10, "needle", 6);
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_new(&p), 0);
    cr_assert_geq(mg_patterns_add(p, MG_PATTERN_LITERAL, "needle", 6, 0, NULL, &err), 0);
    const char *r = "rule r { strings: $a = \"needle\" condition: $a }";
    cr_assert_eq(mg_patterns_add_rules_text(p, r, strlen(r), "t.yar", 0, &err), 1);
    cr_assert_eq(mg_patterns_compile(p, &err), 0);
    got g = {0};
    mg_sink sink = {.ctx = &g, .rule = on_rule, .match = on_match};
    cr_assert_eq(mg_scan_buffer(p, b, 4096, BASE, 4096, 8, &sink, NULL), 0);
    cr_expect_eq(g.plain, 1);
    expect_rules(&g, "r");
    mg_patterns_free(&p);
    free(b);
}

Test(yara, counts_are_capped_as_yara_caps_them)
{
    size_t len = MG_RULES_MAX_STRING_MATCHES + 1000;
    uint8_t *b = malloc(len);
    memset(b, 'z', len);
    got g;
    scan("rule many { strings: $a = \"z\" condition: #a == 1000000 }", b, len, 1 << 20, &g);
    expect_rules(&g, "many");
    cr_expect(g.capped);
    free(b);
}

Test(yara, null_arguments)
{
    mg_error err;
    cr_expect_eq(mg_patterns_add_rules(NULL, "x", 0, &err), -EINVAL);
    mg_patterns *p = NULL;
    cr_assert_eq(mg_patterns_new(&p), 0);
    cr_expect_eq(mg_patterns_add_rules(p, NULL, 0, &err), -EINVAL);
    cr_expect_eq(mg_patterns_add_rules_text(p, NULL, 1, "x", 0, &err), -EINVAL);
    cr_expect_eq(mg_patterns_add_rules_text(p, "", 0, "x", 0x80, &err), -EINVAL);
    cr_expect_eq(mg_patterns_rules_count(NULL), 0);
    cr_expect_null(mg_patterns_rules_skipped(NULL, 0));
    mg_patterns_free(&p);
}

/* ---- meta, open jumps, signed reads, wide fullword ------------------------ */

typedef struct metas {
    mg_rule_meta m[8];
    char keys[8][16], strs[8][32];
    size_t n;
} metas;

static int on_rule_meta(void *ctx, const mg_rule_match *m)
{
    metas *g = ctx;
    cr_assert_leq(m->n_meta, 8u);
    for (size_t i = 0; i < m->n_meta; i++) {
        g->m[i] = m->meta[i];
        snprintf(g->keys[i], sizeof(g->keys[i]), "%s", m->meta[i].key);
        if (m->meta[i].type == MG_META_STRING)
            snprintf(g->strs[i], sizeof(g->strs[i]), "%s", m->meta[i].string);
    }
    g->n = m->n_meta;
    return MG_SINK_CONTINUE;
}

/* Meta values as written, in order: a negative integer keeps its sign
 * (yara -m prints n =-12 for n = -12). */
Test(yara, meta_values_keep_their_sign)
{
    const char *rules = "rule m {\n meta:\n  neg = -12 pos = 12 hex = -0x10\n"
                        "  low = -9223372036854775807 s = \"-12\" t = true f = false\n"
                        " condition: true\n}\n";
    mg_patterns *p = load(rules, 0);
    metas g = {0};
    mg_sink sink = {.ctx = &g, .rule = on_rule_meta};
    uint8_t b[64] = {0};
    cr_assert_eq(mg_scan_buffer(p, b, sizeof(b), BASE, 4096, 8, &sink, NULL), 0);
    mg_patterns_free(&p);
    static const struct {
        const char *key;
        int type;
        int64_t i;
    } want[] = {{"neg", MG_META_INTEGER, -12}, {"pos", MG_META_INTEGER, 12},
                {"hex", MG_META_INTEGER, -16}, {"low", MG_META_INTEGER, -INT64_MAX},
                {"s", MG_META_STRING, 0},      {"t", MG_META_BOOLEAN, 1},
                {"f", MG_META_BOOLEAN, 0}};
    cr_assert_eq(g.n, 7u);
    for (size_t i = 0; i < 7; i++) {
        cr_expect_str_eq(g.keys[i], want[i].key);
        cr_expect_eq((int)g.m[i].type, want[i].type, "%s: type %d", want[i].key, (int)g.m[i].type);
        if (want[i].type != MG_META_STRING)
            cr_expect_eq(g.m[i].integer, want[i].i, "%s = %" PRId64 ", expected %" PRId64,
                         want[i].key, g.m[i].integer, want[i].i);
    }
    cr_expect_str_eq(g.strs[4], "-12");
}

/* Hex jumps with an open bound: [-] and [N-] match across any gap (within
 * the unbounded width, 4 KiB, at chunk boundaries) and no shorter one than
 * N. Each head occurs once: with two heads before one tail yara reports
 * both starts. */
Test(yara, hex_open_jumps_match_across_any_gap)
{
    size_t len = 16384;
    uint8_t *b = buffer(len);
    put(b, 100, "MGTA", 4);
    put(b, 104 + 3000, "END1", 4); /* [-], 3000 bytes */
    put(b, 3500, "MGTBEND2", 8); /* [-], nothing */
    put(b, 3600, "MGTC", 4);
    put(b, 3604 + 2500, "END3", 4); /* [0-], 2500 bytes, across 4096 */
    put(b, 6200, "MGTDEND4", 8); /* [0-], nothing */
    put(b, 6300, "MGTE...END5", 11); /* [3-], 3 bytes */
    put(b, 6400, "MGTF..END6", 10); /* [3-], 2 bytes: no */
    put(b, 6500, "MGTG", 4);
    put(b, 6504 + 1000, "END7", 4); /* [2-], 1000 bytes */
    const char *rules = "rule any_far { strings: $a = { 4d 47 54 41 [-] 45 4e 44 31 }\n"
                        "  condition: $a }\n"
                        "rule any_none { strings: $a = { 4d 47 54 42 [-] 45 4e 44 32 }\n"
                        "  condition: $a }\n"
                        "rule zero_far { strings: $a = { 4d 47 54 43 [0-] 45 4e 44 33 }\n"
                        "  condition: $a }\n"
                        "rule zero_none { strings: $a = { 4d 47 54 44 [0-] 45 4e 44 34 }\n"
                        "  condition: $a }\n"
                        "rule low_at { strings: $a = { 4d 47 54 45 [3-] 45 4e 44 35 }\n"
                        "  condition: $a }\n"
                        "rule low_short { strings: $a = { 4d 47 54 46 [3-] 45 4e 44 36 }\n"
                        "  condition: $a }\n"
                        "rule low_far { strings: $a = { 4d 47 54 47 [2-] 45 4e 44 37 }\n"
                        "  condition: $a }\n";
    static const size_t chunks[] = {16384, 4096, 1024};
    for (size_t c = 0; c < 3; c++) {
        got g;
        scan(rules, b, len, chunks[c], &g);
        expect_rules(&g, "any_far any_none zero_far zero_none low_at low_far");
        cr_expect_eq(hit_at(&g, "any_far", "$a", 0), BASE + 100, "chunk %zu", chunks[c]);
        cr_expect_eq(hit_at(&g, "any_none", "$a", 0), BASE + 3500, "chunk %zu", chunks[c]);
        cr_expect_eq(hit_at(&g, "zero_far", "$a", 0), BASE + 3600, "chunk %zu", chunks[c]);
        cr_expect_eq(hit_at(&g, "zero_none", "$a", 0), BASE + 6200, "chunk %zu", chunks[c]);
        cr_expect_eq(hit_at(&g, "low_at", "$a", 0), BASE + 6300, "chunk %zu", chunks[c]);
        cr_expect_eq(hit_at(&g, "low_far", "$a", 0), BASE + 6500, "chunk %zu", chunks[c]);
        cr_expect_eq(g.n_hits, 6u, "chunk %zu: %zu string matches", chunks[c], g.n_hits);
    }
    free(b);
}

/* Several starts of one string sharing an end: Hyperscan reports the end
 * once, with its leftmost start; yara 4.2.3 reports every start (yara -s
 * over these bytes lists each). Across a chunk edge too: the second head of
 * "MGTB" lies in the next 1,024-byte chunk. */
Test(yara, every_start_of_a_shared_end)
{
    size_t len = 8192;
    uint8_t *b = buffer(len);
    /* heads at 100 and 110; "aEb" at 120 */
    put(b, 100,
        "/dev/tcp/\x85/dev/tcp/\xa0"
        "aEb\x7fM/4444 0>&1",
        35);
    put(b, 300, "aaab", 4); /* 300, 301, 302 */
    put(b, 500, "MGTAMGTA..END1", 14); /* [-]: 500, 504 */
    put(b, 1020, "MGTBMGTB.END2", 13); /* [1-8]: 1020, 1024 */
    const char *rules =
        "rule h { strings: $h = { 2f 64 65 76 2f 74 63 70 2f [4-24]\n"
        "  2f 34 34 34 34 20 30 3e 26 31 } condition: $h }\n"
        "rule r { strings: $r = /a.{0,10}b/ condition: $r }\n"
        "rule o { strings: $o = { 4d 47 54 41 [-] 45 4e 44 31 } condition: $o }\n"
        "rule j { strings: $j = { 4d 47 54 42 [1-8] 45 4e 44 32 } condition: $j }\n";
    static const struct {
        const char *rule, *id;
        uint64_t off;
    } want[] = {{"h", "$h", 100},  {"h", "$h", 110}, {"r", "$r", 120}, {"r", "$r", 300},
                {"r", "$r", 301},  {"r", "$r", 302}, {"o", "$o", 500}, {"o", "$o", 504},
                {"j", "$j", 1020}, {"j", "$j", 1024}};
    static const size_t chunks[] = {8192, 4096, 1024};
    for (size_t c = 0; c < 3; c++) {
        got g;
        scan(rules, b, len, chunks[c], &g);
        expect_rules(&g, "h r o j");
        size_t nth[4] = {0};
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            size_t k = (size_t)(strchr("hroj", want[i].rule[0]) - "hroj");
            cr_expect_eq(hit_at(&g, want[i].rule, want[i].id, nth[k]++), BASE + want[i].off,
                         "chunk %zu: %s at %" PRIu64, chunks[c], want[i].id, want[i].off);
        }
        cr_expect_eq(g.n_hits, sizeof(want) / sizeof(want[0]), "chunk %zu: %zu string matches",
                     chunks[c], g.n_hits);
    }
    free(b);
}

/* yara's fixed offset: a literal string the condition names only as
 * `$a at N` (N the same constant) is recorded at N alone, so yara -s lists
 * no other match of it; named any other way too, every match counts. */
Test(yara, fixed_offset_strings_match_there_alone)
{
    size_t len = 4096;
    uint8_t *b = buffer(len);
    put(b, 0, "#!/bin/sh", 9);
    put(b, 500, "#!/bin/sh", 9);
    put(b, 900, "MGTfix", 6);
    char rules[1024];
    snprintf(rules, sizeof(rules),
             "rule at_only { strings: $a = \"#!/bin/sh\" condition: $a at %llu }\n"
             "rule at_twice { strings: $a = \"#!/bin/sh\"\n"
             "  condition: $a at %llu or $a at 0x%llx + 0 }\n"
             "rule at_and_count { strings: $a = \"#!/bin/sh\" condition: $a at %llu and #a == 2 }\n"
             "rule at_other { strings: $a = \"#!/bin/sh\" $b = \"MGTfix\"\n"
             "  condition: $a at %llu or $b at 900 }\n"
             "rule at_hex { strings: $a = { 23 21 2f 62 69 6e } condition: $a at %llu }\n"
             "rule at_wild { strings: $a = { 23 21 2f ?? 69 6e } condition: $a at %llu }\n"
             "rule at_two_places { strings: $a = \"#!/bin/sh\"\n"
             "  condition: $a at %llu or $a at %llu }\n",
             BASE, BASE, BASE, BASE, BASE, BASE, BASE, BASE, BASE + 500);
    got g;
    scan(rules, b, len, 4096, &g);
    expect_rules(&g, "at_only at_twice at_and_count at_other at_hex at_wild at_two_places");
    static const struct {
        const char *rule, *id;
        size_t n; /* its string's matches listed */
    } want[] = {{"at_only", "$a", 1},  {"at_twice", "$a", 1},     {"at_and_count", "$a", 2},
                {"at_other", "$a", 1}, {"at_other", "$b", 0},     {"at_hex", "$a", 1},
                {"at_wild", "$a", 2},  {"at_two_places", "$a", 2}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        size_t n = 0;
        for (size_t k = 0; k < g.n_hits; k++)
            n += !strcmp(g.hits[k].rule, want[i].rule) && !strcmp(g.hits[k].id, want[i].id);
        cr_expect_eq(n, want[i].n, "%s %s: %zu matches listed", want[i].rule, want[i].id, n);
    }
    cr_expect_eq(hit_at(&g, "at_only", "$a", 0), BASE);
    free(b);
}

/* int16/int32 and their be forms: the sign is the top bit of the value
 * read (the last byte of a little-endian one), as yara 4.2.3 reads them. */
Test(yara, signed_reads_take_the_sign_from_the_top_bit)
{
    size_t len = 4096;
    uint8_t *b = buffer(len);
    put(b, 200, "\x80\x00\x00\x00\x01\x80", 6);
    put(b, 300, "\xff\xff\xff\x7f", 4);
#define A "(0x7f0000001000 + 200)"
    const char *rules =
        "rule i32be_neg { condition: int32be(" A ") == -2147483648 }\n"
        "rule u32be { condition: uint32be(" A ") == 2147483648 }\n"
        "rule i32_pos { condition: int32(" A ") == 128 }\n"
        "rule i32_neg { condition: int32(" A " + 2) == -2147418112 }\n"
        "rule u32 { condition: uint32(" A " + 2) == 0x80010000 }\n"
        "rule i16_neg { condition: int16(" A " + 4) == -32767 }\n"
        "rule i16be_pos { condition: int16be(" A " + 4) == 384 }\n"
        "rule i16be_neg { condition: int16be(" A ") == -32768 }\n"
        "rule i16_pos { condition: int16(" A ") == 128 }\n"
        "rule i8_neg { condition: int8(" A ") == -128 and int8be(" A " + 5) == -128 }\n"
        "rule max { condition: int32(0x7f0000001000 + 300) == 2147483647 and "
        "int32be(0x7f0000001000 + 300) == -129 and int16be(0x7f0000001000 + 302) == -129 }\n"
        "rule not_neg { condition: int32(" A ") < 0 or int16(" A ") < 0 or "
        "int16be(" A " + 4) < 0 or int32be(" A " + 2) < 0 }\n";
#undef A
    got g;
    scan(rules, b, len, 4096, &g);
    expect_rules(&g, "i32be_neg u32be i32_pos i32_neg u32 i16_neg i16be_pos i16be_neg i16_pos "
                     "i8_neg max");
    free(b);
}

/* UTF-16 "w\0..." with a wide fullword: a neighbour is an alphanumeric
 * byte AND a zero; an alphanumeric byte alone is not one (yara 4.2.3). */
static size_t widen_into(uint8_t *dst, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        dst[2 * i] = (uint8_t)s[i], dst[2 * i + 1] = 0;
    return 2 * n;
}

Test(yara, wide_fullword_neighbours)
{
    size_t len = 4096;
    uint8_t *b = buffer(len);
    static const struct {
        const char *before, *word, *after;
        size_t nb, na;
        bool match;
    } cases[] = {
        {" \0", "mgtwide", " \0", 2, 2, true}, /* wide spaces */
        {"x\0", "mgtwide", " \0", 2, 2, false}, /* wide x before */
        {" \0", "mgtwide", "7\0", 2, 2, false}, /* wide 7 after */
        {"x;", "mgtwide", ";", 2, 1, true}, /* x, then a non-zero byte */
        {";", "mgtwide", "x;", 1, 2, true}, /* x, then a non-zero byte */
        {"x", "mgtwide", "Q", 1, 1, true}, /* ascii letters, no zero */
        {" \0", "mgtrx5", "x;", 2, 2, true}, /* the regex: the same */
        {"x\0", "mgtrx6", " \0", 2, 2, false},  {"x;", "mgtrx7", "Q\0", 2, 2, false},
        {"Q", "mgtrx8", ";", 1, 1, true},
    };
    uint64_t want_w[8], want_r[8];
    size_t n_w = 0, n_r = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t off = 100 + 64 * i;
        put(b, off, cases[i].before, cases[i].nb);
        size_t wl = widen_into(b + off + cases[i].nb, cases[i].word);
        put(b, off + cases[i].nb + wl, cases[i].after, cases[i].na);
        if (!cases[i].match)
            continue;
        if (!strncmp(cases[i].word, "mgtrx", 5))
            want_r[n_r++] = BASE + off + cases[i].nb;
        else
            want_w[n_w++] = BASE + off + cases[i].nb;
    }
    const char *rules = "rule w { strings: $a = \"mgtwide\" wide fullword condition: $a }\n"
                        "rule r { strings: $a = /mgtrx[0-9]/ wide fullword condition: $a }\n";
    static const size_t chunks[] = {4096, 64};
    for (size_t c = 0; c < 2; c++) {
        got g;
        scan(rules, b, len, chunks[c], &g);
        expect_rules(&g, "w r");
        for (size_t i = 0; i < n_w; i++)
            cr_expect_eq(hit_at(&g, "w", "$a", i), want_w[i], "chunk %zu: wide match %zu",
                         chunks[c], i);
        for (size_t i = 0; i < n_r; i++)
            cr_expect_eq(hit_at(&g, "r", "$a", i), want_r[i], "chunk %zu: regex match %zu",
                         chunks[c], i);
        cr_expect_eq(g.n_hits, n_w + n_r, "chunk %zu: %zu string matches, expected %zu", chunks[c],
                     g.n_hits, n_w + n_r);
    }
    free(b);
}

/* ---- live processes -------------------------------------------------------- */

static int scan_pid_rules(pid_t pid, const char *rules, got *g)
{
    memset(g, 0, sizeof(*g));
    mg_patterns *p = load(rules, 0);
    mg_settings s;
    one_process(&s, &pid);
    mg_sink sink = {.ctx = g, .rule = on_rule, .match = on_match};
    mg_error err = {{0}};
    int rc = mg_scan(p, &s, &sink, NULL, &err);
    mg_patterns_free(&p);
    return rc;
}

/* Deliberate difference: yara reads pages that are not present (as zeros,
 * or by faulting them in); memgrep never does, so an integer read there is
 * undefined, and a page of zeros once written reads as zeros. */
Test(yara, integer_reads_need_present_pages)
{
    if (geteuid() != 0)
        cr_skip_test("needs root: reads another process's memory");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        uint8_t *m =
            mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        memset(m + 4096, 0, 4096); /* present: written with zeros */
        m[4096] = 7;
        uint64_t a = (uint64_t)(uintptr_t)m;
        if (write(fds[1], &a, sizeof(a)) != sizeof(a))
            _exit(1);
        char c;
        if (read(go[0], &c, 1) < 0)
            _exit(1);
        _exit(0);
    }
    uint64_t a = 0;
    cr_assert_eq(read(fds[0], &a, sizeof(a)), sizeof(a));
    char rules[512];
    snprintf(rules, sizeof(rules),
             "rule untouched { condition: uint32(0x%llx) == 0 }\n"
             "rule untouched_not { condition: not (uint32(0x%llx) == 0) }\n"
             "rule touched { condition: uint8(0x%llx) == 7 and uint32(0x%llx) == 0 }\n",
             (unsigned long long)a, (unsigned long long)a, (unsigned long long)a + 4096,
             (unsigned long long)a + 4100);
    got g;
    int rc = scan_pid_rules(child, rules, &g);
    cr_assert_eq(write(go[1], "x", 1), 1);
    waitpid(child, NULL, 0);
    cr_assert_eq(rc, 0);
    expect_rules(&g, "touched");
}

/* The CLI: a bad rule file is one line naming FILE:LINE and exit 2;
 * --skip-unsupported drops the rule with a warning and counts it. */
Test(yara, cli_errors_and_skipped_rules)
{
    const char *memgrep = getenv("MEMGREP");
    if (!memgrep || !memgrep[0])
        cr_skip_test("no $MEMGREP");
    char dir[] = "/tmp/mg-yara-cli-XXXXXX", path[128], cmd[512], out[4096];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/r.yar", dir);
    FILE *f = fopen(path, "w");
    fputs("import \"hash\"\nrule ok { condition: true }\nrule bad {\n condition: hash.md5(0, 1) == "
          "hash.md5(0, 2)\n}\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s scan --no-db-cache -r %s -p %d 2>&1; echo rc=$?", memgrep, dir,
             (int)getpid() == 1 ? 2 : 1);
    FILE *pp = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof(out) - 1, pp);
    out[n] = '\0';
    pclose(pp);
    cr_expect(strstr(out, "r.yar:4: rule bad: operator '==' with a hash of memory is not supported "
                          "(--skip-unsupported drops the rule)\n"),
              "%s", out);
    cr_expect(strstr(out, "rc=2"), "%s", out);
    if (geteuid() == 0) {
        snprintf(cmd, sizeof(cmd),
                 "sleep 30 & P=$!; %s scan --no-db-cache --skip-unsupported -r %s -p $P 2>&1; "
                 "echo rc=$?; kill $P",
                 memgrep, path);
        pp = popen(cmd, "r");
        n = fread(out, 1, sizeof(out) - 1, pp);
        out[n] = '\0';
        pclose(pp);
        cr_expect(strstr(out, "memgrep: warning: "), "%s", out);
        cr_expect(strstr(out, "rule bad: operator '==' with a hash of memory is not supported "
                              "(--skip-unsupported drops the rule) (rule skipped)"),
                  "%s", out);
        cr_expect(strstr(out, " sleep ok\n"), "%s", out);
        cr_expect(strstr(out, "1 rule matched; 1 rule skipped as unsupported"), "%s", out);
        cr_expect(strstr(out, "rc=0"), "%s", out);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* What yara 4.2.3 answers in a Linux process scan (measured with
 * /usr/bin/yara on a sleeping process, externals as -d gives them): pe
 * values undefined but its constants and is_pe (0), loops over a module
 * array false, math over text and over memory, console.log true, string
 * operators over externals. */
Test(yara, externals_modules_and_string_operators)
{
    const char *rules =
        "import \"pe\"\nimport \"math\"\nimport \"console\"\n"
        "rule pe_eq_or { condition: pe.imphash() == \"abc\" or true }\n"
        "rule pe_not_eq { condition: not (pe.imphash() == \"abc\") }\n"
        "rule pe_undef { condition: not defined pe.number_of_signatures }\n"
        "rule pe_const { condition: pe.DLL == 0x2000 and pe.is_pe == 0 }\n"
        "rule pe_all { condition: for all s in pe.sections : (false) }\n"
        "rule pe_none { condition: for none k, v in pe.version_info : (true) }\n"
        "rule pe_range { condition: for all i in (0..pe.number_of_signatures - 1) : (false) }\n"
        "rule ent_text { condition: math.entropy(\"aaaa\") == 0.0 }\n"
        "rule ent_zero { condition: defined math.entropy(0, 1024) }\n"
        "rule ent_mem { strings: $a = \"abcd\" condition: math.entropy(@a, 4) == 2.0 and "
        "math.mean(@a, 2) == 97.5 }\n"
        "rule log { condition: console.log(\"hi\") }\n"
        "rule ext_eq { condition: filename == \"\" and not (filepath != \"\") }\n"
        "rule ext_re { condition: not filename matches /(rarnew.dat|\\.rar)$/is and "
        "owner matches /^r[o]+t$/ }\n"
        "rule ext_ops { condition: owner contains \"oo\" and owner istartswith \"RO\" and "
        "owner endswith \"t\" and owner iequals \"ROOT\" }\n"
        "rule ext_num { condition: n == 5 and flag and f > 1.5 and f < 2.6 }\n";
    const char *defs[][2] = {{"filename", ""}, {"filepath", ""}, {"owner", "root"},
                             {"n", "5"},       {"flag", "true"}, {"f", "2.5"}};
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_new(&p), 0);
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
        cr_assert_eq(mg_patterns_define(p, defs[i][0], defs[i][1], &err), 0, "%s", err.message);
    cr_assert_geq(mg_patterns_add_rules_text(p, rules, strlen(rules), "t.yar", 0, &err), 0, "%s",
                  err.message);
    cr_assert_eq(mg_patterns_compile(p, &err), 0, "%s", err.message);
    uint8_t *b = buffer(8192);
    put(b, 300, "abcd", 4);
    put(b, 1000, "abcd", 4);
    got g = {0};
    mg_sink sink = {.ctx = &g, .rule = on_rule, .match = on_match};
    mg_stats st;
    cr_assert_eq(mg_scan_buffer(p, b, 8192, BASE, 4096, 8, &sink, &st), 0);
    expect_rules(&g, "pe_eq_or pe_undef pe_const ent_text ent_mem log ext_eq ext_re ext_ops "
                     "ext_num");
    mg_patterns_free(&p);
    free(b);
    cr_assert_eq(mg_patterns_new(&p), 0);
    cr_expect_eq(mg_patterns_define(p, "9x", "1", &err), MG_EPATTERN);
    mg_patterns_free(&p);
}

/* Regexes Hyperscan refuses, found through factors (or its prefilter
 * mode) and confirmed by PCRE2 at the exact addresses, across chunks. */
Test(yara, regexes_hyperscan_refuses)
{
    const char *rules =
        "rule rep { strings: $r = /GET [a-z\\/]{1,300} 200 / condition: $r }\n"
        "rule jumps { strings: $h = { 0F B? [1-16] 4D 5A [1-32] 3C [16-64] 50 45 [8-32] C3 } "
        "condition: $h }\n"
        "rule anchor { strings: $s = /$[a-z]=new-object/ condition: $s }\n"
        "rule wideb { strings: $w = /\\beval[\\n\\t ]{0,500}\\(/ nocase wide condition: $w }\n"
        "rule hexcomment { strings: $c = {\n 41 42 // {__saved}\n 43 /* } */ 44\n } "
        "condition: $c }\n";
    size_t len = 16384;
    uint8_t *b = buffer(len);
    const char get[] = "GET /abc/def 200 ";
    put(b, 4096 - 6, get, sizeof(get) - 1); /* across a chunk boundary */
    const uint8_t jumps[] = {0x0f, 0xb3, 1, 0x4d, 0x5a, 2, 2, 0x3c, 0, 0, 0, 0, 0, 0,   0,
                             0,    0,    0, 0,    0,    0, 0, 0,    0, 0, 0, 0, 0, 0,   0,
                             0,    0,    0, 0x50, 0x45, 1, 2, 3,    4, 5, 6, 7, 8, 0xc3};
    put(b, 6000, jumps, sizeof(jumps));
    put(b, 7000, "x=new-object", 12);
    const uint8_t weval[] = {' ', 0, 'E', 0, 'v', 0, 'a', 0, 'L', 0, ' ', 0, '(', 0};
    put(b, 8190, weval, sizeof(weval)); /* wide " EvaL (" across 8192 */
    const uint8_t xeval[] = {'x', 0, 'e', 0, 'v', 0, 'a', 0, 'l', 0, '(', 0};
    put(b, 9000, xeval, sizeof(xeval)); /* no word boundary before eval */
    put(b, 10000, "ABCD", 4);
    got g;
    scan(rules, b, len, 4096, &g);
    expect_rules(&g, "rep jumps wideb hexcomment");
    cr_expect_eq(hit_at(&g, "rep", "$r", 0), BASE + 4096 - 6);
    cr_expect_eq(hit_at(&g, "rep", "$r", 1), 0);
    cr_expect_eq(hit_at(&g, "jumps", "$h", 0), BASE + 6000);
    cr_expect_eq(hit_at(&g, "wideb", "$w", 0), BASE + 8192);
    cr_expect_eq(hit_at(&g, "wideb", "$w", 1), 0);
    cr_expect_eq(hit_at(&g, "hexcomment", "$c", 0), BASE + 10000);
    free(b);
}

/* A sink context with the rules (first, for on_rule) and the last event. */
typedef struct got_events {
    got g;
    char what[1024];
    int n_events;
} got_events;

static void on_event(void *ctx, const mg_event *e)
{
    got_events *ge = ctx;
    snprintf(ge->what, sizeof(ge->what), "%s", e->what ? e->what : "");
    ge->n_events++;
}

/* Where yara would parse an image (a non-DLL PE, an ET_EXEC ELF at a
 * block's start), the rules reading that module are not evaluated and one
 * event names them; elsewhere they get yara's answer for a Linux process. */
Test(yara, images_yara_would_parse_are_reported)
{
    const char *rules = "import \"pe\"\nimport \"elf\"\n"
                        "rule p { condition: pe.is_pe == 0 }\n"
                        "rule e { condition: not defined elf.type }\n"
                        "rule plain { condition: true }\n";
    mg_patterns *p = load(rules, 0);
    for (int image = 0; image < 3; image++) {
        uint8_t *b = buffer(8192);
        if (image == 1) { /* MZ, e_lfanew 0x80, "PE\0\0", Characteristics 0x0102 */
            put(b, 0, "MZ", 2);
            put(b, 60, "\x80\0\0\0", 4);
            put(b, 0x80, "PE\0\0", 4);
            put(b, 0x80 + 22, "\x02\x01", 2);
        } else if (image == 2) /* ELF64 LE, e_type ET_EXEC */
            put(b, 0,
                "\x7f"
                "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0",
                18);
        got_events ge = {0};
        mg_sink sink = {.ctx = &ge, .rule = on_rule, .match = on_match, .event = on_event};
        mg_stats st;
        cr_assert_eq(mg_scan_buffer(p, b, 8192, BASE, 4096, 8, &sink, &st), 0);
        free(b);
        if (image == 0) {
            expect_rules(&ge.g, "p e plain");
            cr_expect_eq(ge.n_events, 0, "%s", ge.what);
        } else {
            expect_rules(&ge.g, image == 1 ? "e plain" : "p plain");
            cr_expect_eq(ge.n_events, 1);
            cr_expect(strstr(ge.what, image == 1 ? "the PE image at 0x7f0000001000: p (1 rule)"
                                                 : "the ELF image at 0x7f0000001000: e (1 rule)"),
                      "%s", ge.what);
        }
    }
    mg_patterns_free(&p);
}

/* -t TAG and --identifier NAME show only the rules selected, as yara's -t
 * and -i. */
Test(yara, cli_selects_rules_by_tag_and_identifier)
{
    const char *memgrep = getenv("MEMGREP");
    if (!memgrep || !memgrep[0])
        cr_skip_test("no $MEMGREP");
    if (geteuid() != 0)
        cr_skip_test("needs root to scan a child");
    char dir[] = "/tmp/mg-yara-sel-XXXXXX", path[128], cmd[768], out[4096];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/r.yar", dir);
    FILE *f = fopen(path, "w");
    fputs("rule a : x y { condition: true }\nrule b : y { condition: true }\n"
          "rule c { condition: true }\n",
          f);
    fclose(f);
    const char *cases[][2] = {{"-t y", "ab"},
                              {"-t x", "a"},
                              {"--identifier c", "c"},
                              {"-t y --identifier b", "b"},
                              {"", "abc"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(cmd, sizeof(cmd),
                 "sleep 30 & P=$!; %s scan --no-db-cache --no-summary -r %s %s -p $P 2>&1; "
                 "kill $P",
                 memgrep, path, cases[i][0]);
        FILE *pp = popen(cmd, "r");
        size_t n = fread(out, 1, sizeof(out) - 1, pp);
        out[n] = '\0';
        pclose(pp);
        for (const char *r = "abc"; *r; r++) {
            char want[16];
            snprintf(want, sizeof(want), " sleep %c", *r);
            cr_expect_eq(strstr(out, want) != NULL, strchr(cases[i][1], *r) != NULL,
                         "%s: rule %c: %s", cases[i][0], *r, out);
        }
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* --json: a rule's meta as written, a negative integer with its sign (as
 * yara -m prints it: n =-12). */
Test(yara, cli_json_meta_keeps_the_sign)
{
    const char *memgrep = getenv("MEMGREP");
    if (!memgrep || !memgrep[0])
        cr_skip_test("no $MEMGREP");
    if (geteuid() != 0)
        cr_skip_test("needs root: reads another process's memory");
    char dir[] = "/tmp/mg-yara-meta-XXXXXX", path[128], cmd[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/m.yar", dir);
    FILE *f = fopen(path, "w");
    fputs("rule m {\n meta:\n  n = -12 low = -9223372036854775807 p = 7 s = \"-12\" b = false\n"
          " condition: true\n}\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "sleep 30 & P=$!; %s scan --no-db-cache --json -r %s -p $P 2>/dev/null; "
             "echo rc=$?; kill $P",
             memgrep, path);
    static char out[65536];
    FILE *pp = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof(out) - 1, pp);
    out[n] = '\0';
    pclose(pp);
    cr_assert(strstr(out, "rc=0\n"), "%s", out);
    size_t rules = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        if (strncmp(line, "{\"type\":\"rule\"", 14))
            continue;
        jval v;
        size_t at = 0;
        cr_assert_eq(json_parse(line, strlen(line), &v, &at), 0, "bad JSON at %zu: %s", at, line);
        const jval *m = json_get(&v, "meta");
        cr_assert(m && m->t == J_OBJ && m->n == 5, "%s", line);
        static const char *const keys[] = {"n", "low", "p"}, *const raws[] = {
                                                                 "-12", "-9223372036854775807",
                                                                 "7"};
        for (size_t i = 0; i < 3; i++) {
            const jval *x = json_get(m, keys[i]);
            cr_assert(x && x->t == J_NUM, "%s: %s", keys[i], line);
            cr_expect_str_eq(x->raw, raws[i], "%s", keys[i]);
        }
        const jval *s = json_get(m, "s"), *b = json_get(m, "b");
        cr_expect(s && s->t == J_STR && !strcmp(s->str, "-12"), "%s", line);
        cr_expect(b && b->t == J_BOOL && !b->b, "%s", line);
        json_free(&v);
        rules++;
    }
    cr_expect_eq(rules, 1u, "%s", out);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* hash.* over memory as yara 4.2.3 walks its blocks (standard test
 * vectors planted at known addresses; a range past the last block is cut
 * there, as in yara; one below the first block is undefined; gaps between
 * blocks are in tests/yara_diff.py), hash over text folded, and
 * `#a in (0..hi)`; `#a in (lo..hi)` with lo other than 0 (yara 4.2.3 stops
 * with an internal error) is not evaluated and one event names the rule. */
Test(yara, hash_and_count_in_over_memory)
{
    static const char abc[] = "abc",
                      two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                      digits[] = "1234567890123456789012345678901234567890"
                                 "1234567890123456789012345678901234567890";
    char rules[6144];
    snprintf(
        rules, sizeof(rules),
        "import \"hash\"\n"
        "rule md5 { condition: hash.md5(%llu, 3) == \"900150983cd24fb0d6963f7d28e17f72\" }\n"
        "rule md5_80 { condition: hash.md5(%llu, 80) == \"57edf4a22be3c955ac49da2e2107b67a\" }\n"
        "rule sha1 { condition: \"a9993e364706816aba3e25717850c26c9cd0d89d\" == hash.sha1(%llu, 3) "
        "}\n"
        "rule sha1_56 { condition: hash.sha1(%llu, 56) == "
        "\"84983e441c3bd26ebaae4aa1f95129e5e54670f1\" "
        "}\n"
        "rule sha256_56 { condition: hash.sha256(%llu, 56) == "
        "\"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1\" }\n"
        "rule sha256_ne { condition: hash.sha256(%llu, 3) != \"x\" }\n"
        "rule crc { condition: hash.crc32(%llu, 3) == 0x352441c2 }\n"
        "rule sum { condition: hash.checksum32(%llu, 3) == 294 }\n"
        "rule empty { condition: hash.md5(%llu, 0) == \"d41d8cd98f00b204e9800998ecf8427e\" }\n"
        "rule to_end { condition: defined hash.md5(%llu, 16) }\n"
        "rule past_last { condition: defined hash.md5(%llu, 17) }\n"
        "rule below { condition: defined hash.crc32(%llu, 4) }\n"
        "rule text { condition: hash.md5(\"abc\") == \"900150983cd24fb0d6963f7d28e17f72\" and "
        "hash.crc32(\"abc\") == 0x352441c2 }\n"
        "rule cnt { strings: $a = \"abcd\" condition: #a in (0..%llu) == 2 and #a == 3 }\n"
        "rule cnt_undef { strings: $a = \"abcd\" condition: not defined (#a in (0..filesize)) }\n"
        "rule cnt_lo { strings: $a = \"abcd\" condition: #a in (1..%llu) == 2 }\n"
        "import \"math\"\n"
        "rule math0 { condition: math.entropy(%llu, 0) == 0 and math.serial_correlation(%llu, 0) "
        "== -100000 and math.mode(%llu, 0) == 0 and not defined math.mean(%llu, 0) and not "
        "defined math.monte_carlo_pi(%llu, 5) and defined math.monte_carlo_pi(%llu, 6) }\n",
        BASE + 100, BASE + 200, BASE + 100, BASE + 400, BASE + 400, BASE + 100, BASE + 100,
        BASE + 100, BASE + 100, BASE + 8192 - 16, BASE + 8192 - 16, BASE - 4, BASE + 400,
        BASE + 400, BASE + 5, BASE + 5, BASE + 5, BASE + 5, BASE + 5, BASE + 5);
    mg_patterns *p = load(rules, 0);
    uint8_t *b = buffer(8192);
    put(b, 100, abc, 3);
    put(b, 200, digits, 80);
    put(b, 400, two, 56);
    put(b, 300, "abcd", 4);
    put(b, 1000, "abcd", 4);
    got_events ge = {0};
    mg_sink sink = {.ctx = &ge, .rule = on_rule, .match = on_match, .event = on_event};
    mg_stats st;
    cr_assert_eq(mg_scan_buffer(p, b, 8192, BASE, 4096, 8, &sink, &st), 0);
    expect_rules(&ge.g,
                 "md5 md5_80 sha1 sha1_56 sha256_56 sha256_ne crc sum empty to_end past_last text "
                 "cnt cnt_undef math0");
    cr_expect_eq(ge.n_events, 1);
    cr_expect(strstr(ge.what, "#a in (lo..hi) with lo other than 0 (yara 4.2.3 stops with an "
                              "internal error there): cnt_lo (1 rule)"),
              "%s", ge.what);
    free(b);
    mg_patterns_free(&p);
}

static int on_rule_ns(void *ctx, const mg_rule_match *m)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 1024 - n, "%s:%s%s ", m->ns, m->rule, m->matched ? "" : "(not)");
    return MG_SINK_CONTINUE;
}

/* Namespaces as yara's NS:FILE: the same rule name in two namespaces, a
 * rule reference and a set resolved in the rule's own namespace, a false
 * global rule that silences its namespace only, the same name twice in a
 * namespace refused with file:line; and rules_negate reports the others. */
Test(yara, namespaces_and_negate)
{
    const char *one = "global rule g { strings: $g = \"globalneedle\" condition: $g }\n"
                      "rule r { strings: $a = \"needle\" condition: $a }\n";
    const char *two = "rule r { condition: true }\n"
                      "rule s { condition: r and all of (r*) }\n"
                      "private rule hidden { condition: false }\n"
                      "rule f { condition: false }\n";
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_new(&p), 0);
    cr_assert_eq(mg_patterns_rules_namespace(p, "ns1", &err), 0, "%s", err.message);
    cr_assert_eq(mg_patterns_add_rules_text(p, one, strlen(one), "one.yar", 0, &err), 2, "%s",
                 err.message);
    cr_assert_eq(mg_patterns_rules_namespace(p, "ns2", &err), 0, "%s", err.message);
    cr_assert_eq(mg_patterns_add_rules_text(p, two, strlen(two), "two.yar", 0, &err), 4, "%s",
                 err.message);
    const char *dup = "rule x { condition: true }\nrule s { condition: true }\n";
    cr_expect_eq(mg_patterns_add_rules_text(p, dup, strlen(dup), "dup.yar", 0, &err), MG_EPATTERN);
    cr_expect_str_eq(err.message, "dup.yar:2: duplicated rule identifier \"s\" in namespace ns2");
    cr_expect_eq(mg_patterns_rules_namespace(p, "a:b", &err), MG_EPATTERN);
    cr_expect_eq(mg_patterns_rules_namespace(p, "", &err), MG_EPATTERN);
    cr_assert_eq(mg_patterns_compile(p, &err), 0, "%s", err.message);
    cr_expect_eq(mg_patterns_rules_namespace(p, "late", &err), MG_ESTATE);
    uint8_t *b = buffer(4096);
    put(b, 100, "needle", 6);
    char out[1024] = "";
    mg_sink sink = {.ctx = out, .rule = on_rule_ns};
    mg_stats st;
    cr_assert_eq(mg_scan_buffer(p, b, 4096, BASE, 4096, 8, &sink, &st), 0);
    cr_expect_str_eq(out, "ns2:r ns2:s "); /* g false: ns1's r too; not ns2's */
    free(b);
    if (geteuid() == 0) { /* negate: a process, where no needle is */
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            execlp("sleep", "sleep", "30", (char *)NULL);
            _exit(127);
        }
        char path[64], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        for (int i = 0; i < 500 && strcmp(comm, "sleep\n"); i++) { /* exec'd: no needle */
            usleep(10 * 1000);
            FILE *f = fopen(path, "r");
            if (f && !fgets(comm, sizeof(comm), f))
                comm[0] = '\0';
            if (f)
                fclose(f);
        }
        mg_settings set;
        one_process(&set, &pid);
        set.rules_negate = true;
        out[0] = '\0';
        cr_expect_eq(mg_scan(p, &set, &sink, NULL, &err), 0, "%s", err.message);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        cr_expect_str_eq(out, "ns1:g(not) ns1:r(not) ns2:f(not) ");
    }
    mg_patterns_free(&p);
}

/* The CLI's yara habits without yara (tests/yara_habits_diff.py compares
 * them with yara 4.2.3): -r NS:FILE, -s with -g, --print-meta and
 * --print-namespace, -n, memgrep's own lines with --print-meta, and the
 * same rule name twice in a namespace refused with file:line. */
Test(yara, cli_namespaces_and_yara_forms)
{
    const char *memgrep = getenv("MEMGREP");
    if (!memgrep || !memgrep[0])
        cr_skip_test("no $MEMGREP");
    if (geteuid() != 0)
        cr_skip_test("needs root to scan a child");
    char dir[] = "/tmp/mg-yara-ns-XXXXXX", a[128], b[128], cmd[1024], out[4096];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/a.yar", dir);
    snprintf(b, sizeof(b), "%s/b.yar", dir);
    FILE *f = fopen(a, "w");
    fputs("rule r : t { meta: s = \"q\\\"\\x01\" n = -3 ok = true condition: true }\n"
          "rule no { condition: false }\n",
          f);
    fclose(f);
    f = fopen(b, "w");
    fputs("global rule g { condition: false }\nrule r { condition: true }\n", f);
    fclose(f);
    const char *cases[][2] = {
        {"--print-strings -g --print-meta --print-namespace -r one:A -r two:B",
         "one:r [t] [s=\"q\\\"\\001\",n =-3,ok=true] PID\n"},
        {"--print-strings -r one:A -r two:B", "r PID\n"},
        {"--print-strings --print-namespace -n -r one:A -r two:B",
         "one:no PID\ntwo:g PID\ntwo:r PID\n"},
        {"--print-meta -r A", "PID sleep r [t] [s=\"q\\\"\\001\",n =-3,ok=true]\n"},
        {"-r one:A -r one:A", "A:1: duplicated rule identifier \"r\" in namespace one\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char args[512], want[512];
        snprintf(args, sizeof(args), "%s", cases[i][0]);
        /* A and B by the files' paths, looked for only after each insert
         * (mkdtemp's suffix may hold an A or a B) */
        for (char *p = args; (p = strpbrk(p, "AB"));) {
            const char *with = *p == 'A' ? a : b;
            char rest[512];
            snprintf(rest, sizeof(rest), "%s", p + 1);
            snprintf(p, sizeof(args) - (size_t)(p - args), "%s%s", with, rest);
            p += strlen(with);
        }
        snprintf(cmd, sizeof(cmd),
                 "sleep 30 & P=$!; %s scan --no-db-cache --no-summary %s -p $P 2>&1 | "
                 "sed \"s/\\b$P\\b/PID/; s|%s/||\"; kill $P",
                 memgrep, args, dir);
        FILE *pp = popen(cmd, "r");
        size_t n = fread(out, 1, sizeof(out) - 1, pp);
        out[n] = '\0';
        pclose(pp);
        snprintf(want, sizeof(want), "%s", cases[i][1]);
        if (strstr(want, "duplicated"))
            cr_expect(strstr(out, "a.yar:1: duplicated rule identifier \"r\" in namespace one\n"),
                      "%s: %s", cases[i][0], out);
        else
            cr_expect_str_eq(out, want, "%s", cases[i][0]);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
