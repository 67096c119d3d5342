/* test_coldstart.c - lazy regexes: literal factors in the main database,
 * each regex compiled alone and confirmed around its factor hits. The
 * factors of known regexes, and the lazy path against the single database
 * (MG_LAZY_OFF) on the same buffers: the same (pattern, start, length)
 * records, at several chunk sizes, with adversarial regexes (no factor,
 * alternations, caseless, wide, anchors and \b, widths of 64+, overlapping
 * matches, dense factor hits), YARA's fullword check, and the database
 * cache. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "memgrep/memgrep.h"
#include "match/patterns.h"
#include "match/patterns_internal.h"

/* ---- factors ---- */

/* The factors of re, sorted, joined with '|' (bytes < 0x20 as \xHH). */
static void factors_of(const char *re, unsigned flags, char *out, size_t cap)
{
    mg_factor f[MG_FACTORS_MAX];
    int n = mg_regex_factors(re, strlen(re), flags, f, NULL);
    cr_assert(n >= 0 && n <= MG_FACTORS_MAX, "%s: %d factors", re, n);
    char items[MG_FACTORS_MAX][4 * MG_FACTOR_LEN + 1];
    for (int k = 0; k < n; k++) {
        size_t o = 0;
        for (size_t j = 0; j < f[k].len; j++) {
            if (f[k].s[j] < 0x20)
                o += (size_t)sprintf(items[k] + o, "\\x%02x", f[k].s[j]);
            else
                items[k][o++] = (char)f[k].s[j];
        }
        items[k][o] = '\0';
        cr_assert_geq(f[k].len, MG_FACTOR_MIN, "%s: factor '%s' too short", re, items[k]);
    }
    qsort(items, (size_t)n, sizeof(items[0]), (int (*)(const void *, const void *))strcmp);
    size_t o = 0;
    out[0] = '\0';
    for (int k = 0; k < n; k++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", k ? "|" : "", items[k]);
}

static void expect_factors(const char *re, unsigned flags, const char *expected)
{
    char got[1024];
    factors_of(re, flags, got, sizeof(got));
    cr_expect_str_eq(got, expected, "factors of /%s/: got '%s', want '%s'", re, got, expected);
}

Test(coldstart, factors_of_known_regexes)
{
    expect_factors("[a-z]{5}\\.evilcorp[0-9]{2,4}\\.(com|net)", 0, ".evilcorp");
    expect_factors("[a-z]{8}[0-9]{4}", 0, ""); /* no factor */
    expect_factors("(foo|barbaz)qux", 0, "barbazqux|fooqux");
    expect_factors("https?://[a-z]{3,9}/x", 0, "http://|https://");
    expect_factors("\\bword[0-9]{0,3}\\b", 0, "word");
    expect_factors("^start$", 0, "start");
    expect_factors("tok(en)?[0-9]{6}", 0, "tok"); /* one string beats two as long */
    expect_factors("(?:ab|cd)ef[0-9]{2}", 0, "abef|cdef");
    expect_factors("a|bcd", 0, ""); /* a branch of one byte */
    expect_factors("(abc)?[0-9]{3}", 0, ""); /* optional */
    expect_factors("[Ss]ecret_[a-z]{2}", 0, "Secret_|secret_");
    expect_factors("\\x00\\x01abc", 0, "\\x00\\x01abc");
    expect_factors("(?:a\\x00)(?:b\\x00)(?:c\\x00)", 0, "a\\x00b\\x00c\\x00");
    expect_factors("x{3}yz", 0, "xxxyz");
    expect_factors("ab{2,}c{1,9}d", 0, ""); /* only "bb": too short */
    expect_factors("a.{0,10}zzq", HS_FLAG_DOTALL, "zzq");
    expect_factors("[^a]bcd", 0, "bcd");
    expect_factors("qqq[ab]{0,6}qqq", 0, "qqq");
    expect_factors("abc+?def", 0, "def");
    /* rare before long: zero runs fire at every offset of heap zeros */
    expect_factors("UPX!.{4}\\x00{12}", HS_FLAG_DOTALL, "UPX!");
    expect_factors("\\x00{12}.{2}[a-z]abc", HS_FLAG_DOTALL, "abc");
    /* what the parser does not know gives no factor */
    expect_factors("abc(?i)def", 0, "");
    expect_factors("(?<n>abc)def", 0, "");
    expect_factors("\\Qabc\\Edef", 0, "");
    expect_factors("(abc)\\1", 0, "");
    expect_factors("abcdef", HS_FLAG_UTF8, "");
    expect_factors("abc)", 0, "");
    expect_factors("(abc", 0, "");
}

/* ---- the lazy path against the single database ---- */

#define N_REGEX_DECL 20
static const char *const regexes[N_REGEX_DECL];
static const size_t n_regexes;

/* Where the parser vouches for a regex (hs_expression_info is skipped), its
 * widths are Hyperscan's and Hyperscan compiles it; where it doesn't,
 * Hyperscan may refuse it. */
static void check_shape(const char *re, unsigned flags, bool want_sure)
{
    mg_factor f[MG_FACTORS_MAX];
    mg_regex_shape sh;
    mg_regex_factors(re, strlen(re), flags, f, &sh);
    cr_expect_eq(sh.sure, want_sure, "/%s/: sure %d", re, sh.sure);
    if (!sh.sure)
        return;
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *cerr = NULL;
    cr_assert_eq(hs_expression_info(re, flags, &info, &cerr), HS_SUCCESS, "/%s/: %s", re,
                 cerr ? cerr->message : "?");
    cr_expect_eq(sh.min_width, info->min_width, "/%s/: min width %u, Hyperscan %u", re,
                 sh.min_width, info->min_width);
    cr_expect_eq(sh.max_width, info->max_width, "/%s/: max width %u, Hyperscan %u", re,
                 sh.max_width, info->max_width);
    free(info);
    hs_database_t *db = NULL;
    cr_expect_eq(hs_compile(re, flags | HS_FLAG_SOM_LEFTMOST, HS_MODE_BLOCK, NULL, &db, &cerr),
                 HS_SUCCESS, "/%s/ does not compile", re);
    hs_free_compile_error(cerr);
    hs_free_database(db);
}

Test(coldstart, shapes_agree_with_hyperscan)
{
    for (size_t i = 0; i < n_regexes; i++)
        if (i != 1 && i != 15 && i != 12) /* no factor; an escaped range end */
            check_shape(regexes[i], 0, true);
    check_shape("\\bfoo[A-Za-z0-9+/]{64,}={0,2}", 0, true);
    check_shape("\\bfoo[A-Za-z0-9+/]{64,80}", 0, true);
    check_shape("\\bfoo[A-Za-z0-9+/]{64,1024}={0,2}\\b", 0, false); /* main database */
    check_shape("\\$abc\\s*=\\s*[\\x27\"][A-Za-z0-9+/=]{64,}[\\x27\"];", 0, true);
    check_shape("\\$abc\\s{0,4}=[A-Za-z0-9+/=]{64,400};", 0, false); /* main database */
    check_shape("(?:a\\x00)(?:b\\x00)(?:c\\x00)[0-9]{2}", HS_FLAG_CASELESS, true);
    check_shape("abc|defg", HS_FLAG_DOTALL, true);
    /* Hyperscan decides */
    check_shape("abc{", 0, false);
    check_shape("abc\\b*", 0, false);
    check_shape("abc[[:alpha:]]", 0, false);
    check_shape("abc\\pL", 0, false);
    check_shape("abc[]", 0, false);
    check_shape("abc(|x)", 0, false);
    check_shape("abc\\x", 0, false);
    check_shape("abc{2}{3}", 0, false);
    check_shape("abc.*", 0, true); /* unbounded */
    check_shape("abc\\G", 0, false);
}

static const char *const regexes[N_REGEX_DECL] = {
    "[a-z]{5}\\.evilcorp[0-9]{2,4}\\.(com|net)",
    "[a-z]{8}[0-9]{4}", /* no factor: main database */
    "(foo|barbaz)qux[0-9]{1,3}",
    "https?://[a-z0-9.-]{3,20}/gate\\.php",
    "\\bword[0-9]{0,3}\\b",
    "^start[a-z]{0,4}",
    "end[a-z]{0,4}$",
    "x[0-9a-f]{16,64}yz9",
    "[Ss]ecret_[A-Za-z]{4,8}=",
    "tok(en)?[0-9]{6}",
    "a.{0,10}zzq",
    "(?:ab|cd)ef[0-9]{2}",
    "\\x00\\x01abc[\\x02-\\x05]{2}",
    "\\bcmd=[A-Za-z0-9+/]{64,80}\\b",
    "qqq[ab]{0,6}qqq", /* overlapping matches: leftmost starts */
    "(zz|yy)[0-9]{1,2}(zz|yy)", /* factors too short: main database */
    "[a-f]{2}-[0-9]{2}-MARK",
    "MZ.{2,40}PE\\x00\\x00",
    "\\$6\\$[A-Za-z0-9./]{8,16}\\$",
    "(?:foo|bar)+baz[0-9]",
};
#define N_REGEX (sizeof(regexes) / sizeof(regexes[0]))
static const size_t n_regexes = N_REGEX;

/* Regexes again with -i, and with --wide (those without anchors). */
static const char *const caseless[] = {
    "EvIl[0-9]{2}Corp",
    "[a-z]{5}\\.evilcorp[0-9]{2,4}\\.(com|net)",
    "(foo|barbaz)qux[0-9]{1,3}",
    "\\bword[0-9]{0,3}\\b",
};
static const char *const wide[] = {
    "[a-z]{5}\\.evilcorp[0-9]{2,4}\\.(com|net)",
    "(foo|barbaz)qux[0-9]{1,3}",
    "qqq[ab]{0,6}qqq",
    "[a-z]{8}[0-9]{4}",
    "tok(en)?[0-9]{6}",
};

static unsigned n_patterns(void)
{
    return (unsigned)(N_REGEX + sizeof(caseless) / sizeof(caseless[0]) + 3 +
                      sizeof(wide) / sizeof(wide[0]) + 2);
}

static mg_patterns *build_set(int lazy)
{
    mg_patterns *p = patterns_new();
    cr_assert_eq(mg_patterns_set_lazy(p, lazy), 0);
    for (size_t i = 0; i < N_REGEX; i++)
        add_pattern(p, MG_PATTERN_REGEX, regexes[i], strlen(regexes[i]), 0);
    for (size_t i = 0; i < sizeof(caseless) / sizeof(caseless[0]); i++) {
        add_pattern(p, MG_PATTERN_REGEX, caseless[i], strlen(caseless[i]), MG_PATTERN_CASELESS);
        if (i < 3) /* \b has no wide form */
            add_pattern(p, MG_PATTERN_REGEX, caseless[i], strlen(caseless[i]),
                        MG_PATTERN_CASELESS | MG_PATTERN_WIDE);
    }
    for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
        add_pattern(p, MG_PATTERN_REGEX, wide[i], strlen(wide[i]), MG_PATTERN_WIDE);
    /* a literal and a hex pattern in the same set */
    add_pattern(p, MG_PATTERN_LITERAL, "evilcorp", 8, 0);
    add_pattern(p, MG_PATTERN_HEX, "4d 5a ?? ??", 11, 0);
    cr_assert_eq(mg_patterns_count(p), n_patterns());
    return p;
}

static const char *const vocab[] = {
    "evilcorp",
    ".",
    "com",
    "net",
    "foo",
    "barbaz",
    "qux",
    "http://",
    "https://",
    "/gate.php",
    "word",
    "start",
    "end",
    "secret_",
    "Secret_",
    "=",
    "token",
    "tok",
    "zzq",
    "ab",
    "cd",
    "ef",
    "\x00\x01"
    "abc",
    "cmd=",
    "qqq",
    "a",
    "b",
    "EVIL",
    "corp",
    "CoRp",
    "-MARK",
    "\n",
    " ",
    "x",
    "yz9",
    "zz",
    "yy",
    "MZ",
    "PE\x00\x00",
    "$6$",
    "$",
    "baz",
    "EvIl",
    "eViLcOrP",
    "-",
    "/",
};
static const size_t vocab_len[] = {
    8, 1, 3, 3, 3, 6, 3, 7, 8, 9, 4, 5, 3, 7, 7, 1, 5, 3, 3, 2, 2, 2, 5,
    4, 3, 1, 1, 4, 4, 4, 5, 1, 1, 1, 3, 2, 2, 2, 4, 3, 1, 3, 4, 8, 1, 1,
};

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A buffer of vocabulary tokens, random letters, digits and base64 runs,
 * some of them in UTF-16LE, and one planted match of every kind. */
static uint8_t *make_buffer(size_t len, uint64_t seed)
{
    _Static_assert(sizeof(vocab) / sizeof(vocab[0]) == sizeof(vocab_len) / sizeof(vocab_len[0]),
                   "vocab lengths");
    uint8_t *b = malloc(len);
    cr_assert_not_null(b);
    uint64_t s = seed;
    size_t o = 0;
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+/";
    while (o < len) {
        uint8_t tok[128];
        size_t n = 0;
        uint64_t r = rng_next(&s);
        switch (r % 8) {
        case 0:
        case 1:
        case 2: {
            size_t v = (r >> 8) % (sizeof(vocab) / sizeof(vocab[0]));
            memcpy(tok, vocab[v], vocab_len[v]);
            n = vocab_len[v];
            break;
        }
        case 3:
        case 4:
            n = 1 + (r >> 8) % 8;
            for (size_t k = 0; k < n; k++)
                tok[k] = (uint8_t)alnum[rng_next(&s) % 26];
            break;
        case 5:
            n = 1 + (r >> 8) % 6;
            for (size_t k = 0; k < n; k++)
                tok[k] = (uint8_t)('0' + rng_next(&s) % 10);
            break;
        case 6:
            n = (r >> 8) % 90;
            for (size_t k = 0; k < n; k++)
                tok[k] = (uint8_t)alnum[rng_next(&s) % 64];
            break;
        default:
            n = 1;
            tok[0] = (uint8_t)(r >> 8);
            break;
        }
        bool widen = (r >> 40) % 6 == 0 && n <= 60;
        for (size_t k = 0; k < n && o < len; k++) {
            b[o++] = tok[k];
            if (widen && o < len)
                b[o++] = 0;
        }
    }
    static const char *const plants[] = {
        "abcde.evilcorp123.com",
        "abcdefgh1234",
        "fooqux7",
        "https://a.b-c/gate.php",
        " word12 ",
        "endabc\n",
        "x0123456789abcdef0123yz9",
        "Secret_AbCd=",
        "token123456",
        "a123zzq",
        "cdef42",
        "cmd=AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJJJKKKKLLLLMMMMNNNNOOOOPPPP ",
        "qqqababqqqaqqq",
        "zz12yy",
        "ab-12-MARK",
        "$6$abcdefgh$",
        "foobarfoobaz1",
        "EVIL42corp",
        "XYZAB.EVILCORP99.NET",
    };
    size_t step = len / (sizeof(plants) / sizeof(plants[0]) + 2);
    for (size_t k = 0; k < sizeof(plants) / sizeof(plants[0]); k++) {
        size_t at = step * (k + 1) + (size_t)(rng_next(&s) % 64);
        memcpy(b + at, plants[k], strlen(plants[k]));
    }
    /* wide plants */
    static const char wplant[] =
        "QWERT.evilcorp77.net barbazqux99 qqqbqqq abcdefgh1234 token123456 evil12CORP";
    size_t at = len / 2 + 3;
    for (size_t k = 0; k < sizeof(wplant) - 1; k++)
        b[at + 2 * k] = (uint8_t)wplant[k], b[at + 2 * k + 1] = 0;
    memcpy(b + len / 3 + 1,
           "\x00\x01"
           "abc\x03\x04",
           7);
    memcpy(b, "startxyz", 8); /* ^ at the buffer's start, $ at its end */
    memcpy(b + len - 7, "endabc\n", 7);
    return b;
}

static int hit_order(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    if (x->pattern_id != y->pattern_id)
        return x->pattern_id < y->pattern_id ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return (int)x->wide - (int)y->wide;
}

static void scan_sorted(const mg_patterns *p, const uint8_t *buf, size_t len, size_t chunk,
                        collector *c)
{
    memset(c, 0, sizeof(*c));
    mg_sink sink = collector_sink(c);
    mg_stats st;
    int rc = mg_scan_buffer(p, buf, len, 0x7f0000001000ull, chunk, 0, &sink, &st);
    cr_assert_eq(rc, 0, "mg_scan_buffer: %d", rc);
    qsort(c->hits, c->n, sizeof(*c->hits), hit_order);
}

/* The two collectors hold the same records; returns their number. */
static size_t assert_same(const collector *a, const collector *b, const char *what)
{
    size_t i = 0;
    for (; i < a->n && i < b->n; i++) {
        const hit *x = &a->hits[i], *y = &b->hits[i];
        if (x->addr != y->addr || x->pattern_id != y->pattern_id || x->len != y->len ||
            x->wide != y->wide)
            break;
    }
    if (i < a->n || i < b->n) {
        const hit *x = i < a->n ? &a->hits[i] : NULL, *y = i < b->n ? &b->hits[i] : NULL;
        cr_assert_fail("%s: records differ at #%zu of %zu/%zu: single database "
                       "(pattern %d at +%lld len %lld) vs lazy (pattern %d at +%lld len %lld)",
                       what, i, a->n, b->n, x ? (int)x->pattern_id : -1,
                       x ? (long long)(x->addr - 0x7f0000001000ull) : -1LL,
                       x ? (long long)x->len : -1LL, y ? (int)y->pattern_id : -1,
                       y ? (long long)(y->addr - 0x7f0000001000ull) : -1LL,
                       y ? (long long)y->len : -1LL);
    }
    return a->n;
}

Test(coldstart, lazy_equals_single_database)
{
    mg_patterns *off = build_set(MG_LAZY_OFF), *lazy = build_set(MG_LAZY_ALL);
    compile_patterns(off);
    compile_patterns(lazy);
    cr_assert_eq(off->n_lazy, 0u);
    cr_assert_gt(lazy->n_lazy, 10u, "only %zu lazy expressions", lazy->n_lazy);
    /* the regexes without a usable factor stay in the main database */
    cr_assert_eq(lazy->exprs[1].lazy, 0u, "[a-z]{8}[0-9]{4} is lazy");
    cr_assert_eq(lazy->exprs[15].lazy, 0u, "(zz|yy)... is lazy");
    cr_assert_neq(lazy->exprs[0].lazy, 0u, "the IOC regex is not lazy");

    static const size_t chunks[] = {4096, 5000, 65536, 1u << 20};
    size_t per_pattern[64] = {0};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        size_t len = 600000;
        uint8_t *buf = make_buffer(len, seed);
        for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
            collector a, b;
            char what[64];
            snprintf(what, sizeof(what), "seed %llu chunk %zu", (unsigned long long)seed,
                     chunks[k]);
            scan_sorted(off, buf, len, chunks[k], &a);
            scan_sorted(lazy, buf, len, chunks[k], &b);
            assert_same(&a, &b, what);
            for (size_t i = 0; i < a.n; i++)
                per_pattern[a.hits[i].pattern_id]++;
            collector_free(&a);
            collector_free(&b);
        }
        free(buf);
    }
    /* every pattern matched somewhere: the comparison is not of empty sets */
    for (unsigned id = 0; id < n_patterns(); id++)
        cr_expect_gt(per_pattern[id], 0u, "pattern %u never matched", id);
    mg_patterns_free(&off);
    mg_patterns_free(&lazy);
}

/* Dense factor hits: windows merged and continued, one record per start. */
Test(coldstart, dense_factor_hits)
{
    mg_patterns *off = build_set(MG_LAZY_OFF), *lazy = build_set(MG_LAZY_ALL);
    compile_patterns(off);
    compile_patterns(lazy);
    size_t len = 300000;
    uint8_t *buf = malloc(len);
    cr_assert_not_null(buf);
    static const char unit[] = "qqqab.evilcorp12.comqqqfooquxtok123456word";
    for (size_t o = 0; o < len; o++)
        buf[o] = (uint8_t)unit[o % (sizeof(unit) - 1)];
    collector a, b;
    scan_sorted(off, buf, len, 4096, &a);
    scan_sorted(lazy, buf, len, 4096, &b);
    size_t n = assert_same(&a, &b, "dense");
    cr_assert_gt(n, len / 100, "only %zu records", n);
    collector_free(&a);
    collector_free(&b);
    free(buf);
    mg_patterns_free(&off);
    mg_patterns_free(&lazy);
}

/* ---- YARA's fullword check on lazy expressions (the matcher itself) ---- */

typedef struct rec {
    uint64_t start, end;
    uint32_t id;
} rec;

typedef struct recs {
    rec r[4096];
    size_t n;
} recs;

static int collect_rec(void *ctx, const mg_hit *h, const mg_piece *pc)
{
    (void)pc;
    recs *c = ctx;
    cr_assert_lt(c->n, sizeof(c->r) / sizeof(c->r[0]));
    c->r[c->n++] = (rec){h->start, h->end, h->pattern_id};
    return MG_SINK_CONTINUE;
}

static mg_patterns *owned_set(int lazy)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_set_lazy(p, lazy), 0);
    static const char *const res[] = {"evil[a-z]{2,6}", "tok[0-9]{2,4}", "[a-z]{3}corp[0-9]"};
    for (unsigned i = 0; i < 3; i++) {
        int id =
            mg_patterns_add_owned(p, MG_PATTERN_REGEX, res[i], strlen(res[i]), "rule", 1, &err);
        cr_assert_eq(id, (int)i, "%s", err.message);
        cr_assert_eq(mg_patterns_add_owned_expr(p, (unsigned)id, res[i], 0, false, 0,
                                                MG_CHECK_FULLWORD, &err),
                     0, "%s", err.message);
        char *w = NULL;
        size_t bad;
        cr_assert_eq(mg_regex_widen(res[i], strlen(res[i]), &w, &bad), 0);
        cr_assert_eq(mg_patterns_add_owned_expr(p, (unsigned)id, w, 0, true, 0,
                                                MG_CHECK_FULLWORD_WIDE, &err),
                     0, "%s", err.message);
        free(w);
    }
    compile_patterns(p);
    return p;
}

static void scan_piece(const mg_patterns *p, const uint8_t *buf, size_t len, recs *out)
{
    mg_matcher m;
    cr_assert_eq(mg_matcher_init(&m, p, 4096), 0);
    mg_piece pc = {.buf = buf, .addr = 0, .len = len, .own_start = 0, .own_end = len};
    out->n = 0;
    cr_assert_eq(mg_matcher_scan(&m, &pc, collect_rec, out), MG_SINK_CONTINUE);
    mg_matcher_fini(&m);
}

Test(coldstart, fullword_check_on_lazy_expressions)
{
    mg_patterns *off = owned_set(MG_LAZY_OFF), *lazy = owned_set(MG_LAZY_ALL);
    cr_assert_eq(lazy->n_lazy, 6u);
    static const char text[] = "evilab xevilab evilab1 (evilabc) tok12 tok123x 1tok99 abccorp1 "
                               "xabccorp1 abccorp1-";
    uint8_t buf[1024];
    size_t n = sizeof(text) - 1;
    memcpy(buf, text, n);
    for (size_t k = 0; k < sizeof(text) - 1; k++)
        buf[n + 2 * k] = (uint8_t)text[k], buf[n + 2 * k + 1] = 0;
    size_t len = n + 2 * (sizeof(text) - 1);
    static recs a, b;
    scan_piece(off, buf, len, &a);
    scan_piece(lazy, buf, len, &b);
    cr_assert_eq(a.n, b.n, "single database %zu records, lazy %zu", a.n, b.n);
    cr_assert_eq(a.n, 10u, "%zu records (5 narrow, 5 wide expected)", a.n);
    for (size_t i = 0; i < a.n; i++)
        cr_assert(a.r[i].start == b.r[i].start && a.r[i].end == b.r[i].end &&
                      a.r[i].id == b.r[i].id,
                  "record %zu differs", i);
    mg_patterns_free(&off);
    mg_patterns_free(&lazy);
}

/* ---- the database cache ---- */

Test(coldstart, cached_lazy_database)
{
    char dir[] = "/tmp/memgrep-coldstart.XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    mg_patterns *off = build_set(MG_LAZY_OFF);
    compile_patterns(off);
    size_t len = 200000;
    uint8_t *buf = make_buffer(len, 9);
    collector ref;
    scan_sorted(off, buf, len, 65536, &ref);
    for (int round = 0; round < 2; round++) {
        mg_patterns *p = build_set(MG_LAZY_AUTO); /* 30+ regexes with factors: lazy */
        mg_error err = {{0}};
        bool cached = true;
        cr_assert_eq(mg_patterns_compile_cached(p, dir, &cached, &err), 0, "%s", err.message);
        cr_assert_eq(cached, round == 1, "round %d: from cache %d", round, cached);
        cr_assert_gt(p->n_lazy, 10u);
        collector c;
        scan_sorted(p, buf, len, 65536, &c);
        assert_same(&ref, &c, round ? "from the cache" : "compiled");
        collector_free(&c);
        mg_patterns_free(&p);
    }
    /* the same expressions without lazy regexes are another entry */
    mg_patterns *p = build_set(MG_LAZY_OFF);
    mg_error err = {{0}};
    bool cached = true;
    cr_assert_eq(mg_patterns_compile_cached(p, dir, &cached, &err), 0, "%s", err.message);
    cr_assert_not(cached, "the single database came from the lazy entry");
    mg_patterns_free(&p);
    collector_free(&ref);
    free(buf);
    mg_patterns_free(&off);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
