/* test_cli.c - the memgrep command ($MEMGREP): exit status 0 match / 1 none
 * / 2 error, one-line error messages naming the culprit, and --json output
 * that is strict JSON with the right match records. Scanning a fixture
 * needs root; argument errors do not. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "json.h"

static fixture fx;
static build_copies nobody_copies; /* what uid 65534 runs */

static void stop(void)
{
    fixture_stop(&fx);
    build_copies_remove(&nobody_copies);
}

TestSuite(cli, .fini = stop, .timeout = 100);

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n;
}

/* Exit 2 with exactly one line on stderr that contains every `needles`. */
static void expect_error(const char *const *args, const char *const *needles)
{
    prog_result r = memgrep_run(args);
    cr_assert_eq(r.status, 2, "exit %d, want 2; stderr: %s", r.status, r.err);
    cr_assert_eq(count_lines(r.err, r.err_len), 1u, "stderr is not one line: \"%s\"", r.err);
    cr_assert_eq(r.err[r.err_len - 1], '\n', "stderr does not end with a newline");
    for (size_t i = 0; needles && needles[i]; i++)
        cr_assert(strstr(r.err, needles[i]), "stderr \"%s\" does not name \"%s\"", r.err,
                  needles[i]);
    prog_result_free(&r);
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/mg-cli-patterns-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

/* ---- errors (no root needed) ---- */

/* Argument errors are checked against a harmless target: a fixture of ours. */
static const char *fixture_pid_arg(void)
{
    static char buf[16];
    if (!fx.pid)
        fixture_start(&fx, NULL);
    snprintf(buf, sizeof buf, "%d", (int)fx.pid);
    return buf;
}

Test(cli, invalid_regex)
{
    const char *pid = fixture_pid_arg();
    expect_error((const char *[]){"scan", "-p", pid, "-E", "abc(def", NULL},
                 (const char *[]){"abc(def", NULL});
}

Test(cli, malformed_hex)
{
    const char *pid = fixture_pid_arg();
    expect_error((const char *[]){"scan", "-p", pid, "-x", "4d 5g", NULL},
                 (const char *[]){"4d 5g", NULL});
    expect_error((const char *[]){"scan", "-p", pid, "--hex", "4d5", NULL},
                 (const char *[]){"4d5", NULL});
    expect_error((const char *[]){"scan", "-p", pid, "-x", "?? ??", NULL},
                 (const char *[]){"?? ??", NULL});
}

Test(cli, unreadable_pattern_file)
{
    const char *pid = fixture_pid_arg();
    expect_error((const char *[]){"scan", "-p", pid, "-f", "/nonexistent/mg-patterns.txt", NULL},
                 (const char *[]){"/nonexistent/mg-patterns.txt", NULL});
    /* A directory cannot be read as a pattern file either. */
    expect_error((const char *[]){"scan", "-p", pid, "-f", "/tmp", NULL},
                 (const char *[]){"/tmp", NULL});
}

Test(cli, pattern_file_with_bad_line)
{
    const char *pid = fixture_pid_arg();
    char *path = write_temp("# comment\nfine literal\nre:a(b\nhex:00 11\n");
    char where[128];
    snprintf(where, sizeof where, "%s:3", path);
    expect_error((const char *[]){"scan", "-p", pid, "-f", path, NULL},
                 (const char *[]){where, NULL});
    unlink(path);
    free(path);
    path = write_temp("ok\r\nhex:zz\r\n");
    snprintf(where, sizeof where, "%s:2", path);
    expect_error((const char *[]){"scan", "-p", pid, "--file", path, NULL},
                 (const char *[]){where, NULL});
    unlink(path);
    free(path);
}

Test(cli, bad_pids)
{
    expect_error((const char *[]){"scan", "-p", "abc", "needle", NULL},
                 (const char *[]){"abc", NULL});
    expect_error((const char *[]){"scan", "-p", "12x", "needle", NULL},
                 (const char *[]){"12x", NULL});
    expect_error((const char *[]){"scan", "--pid", "", "needle", NULL}, NULL);
    char dead[16];
    snprintf(dead, sizeof dead, "%d", (int)dead_pid());
    expect_error((const char *[]){"scan", "-p", dead, "needle", NULL},
                 (const char *[]){dead, NULL});
}

Test(cli, unknown_option)
{
    const char *pid = fixture_pid_arg();
    expect_error((const char *[]){"scan", "-p", pid, "--no-such-option", "needle", NULL},
                 (const char *[]){"--no-such-option", NULL});
}

/* ---- scanning a fixture (root) ---- */

static void read_comm(pid_t pid, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    cr_assert(fgets(out, (int)cap, f));
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

static char *hexaddr(uint64_t a)
{
    char *s;
    cr_assert_gt(asprintf(&s, "%" PRIx64, a), 0);
    return s;
}

Test(cli, exit_codes_and_text_output)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    char *heap = fixture_marker(&fx, "heap");
    char *absent = fixture_marker(&fx, "never-planted");

    /* A match: exit 0; the text output shows the address. */
    prog_result r = memgrep_run((const char *[]){"scan", "-p", pid, heap, NULL});
    cr_assert_eq(r.status, 0, "match: exit %d; stderr: %s", r.status, r.err);
    const plant *hp = NULL;
    for (size_t i = 0; i < fx.n_plants; i++)
        if (!strcmp(fx.plants[i].name, "heap"))
            hp = &fx.plants[i];
    cr_assert(hp);
    char *a = hexaddr(hp->addr);
    cr_assert(strcasestr(r.out, a), "text output does not show address %s:\n%s", a, r.out);
    free(a);
    prog_result_free(&r);

    /* No match: exit 1. */
    r = memgrep_run((const char *[]){"scan", "-p", pid, "-e", absent, NULL});
    cr_assert_eq(r.status, 1, "no match: exit %d; stderr: %s", r.status, r.err);
    prog_result_free(&r);

    /* -q: exit 0 and silent. */
    r = memgrep_run((const char *[]){"scan", "-q", "-p", pid, heap, NULL});
    cr_assert_eq(r.status, 0);
    cr_assert_eq(r.out_len, 0u, "-q printed: %s", r.out);
    prog_result_free(&r);
    r = memgrep_run((const char *[]){"scan", "-q", "-p", pid, absent, NULL});
    cr_assert_eq(r.status, 1);
    prog_result_free(&r);

    /* -l: the pid is listed. */
    r = memgrep_run((const char *[]){"scan", "-l", "-p", pid, heap, NULL});
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, pid), "-l output does not list pid %s: %s", pid, r.out);
    prog_result_free(&r);

    /* -c: one line "PID COMM COUNT": the 18 copies of "big". */
    char *big = fixture_marker(&fx, "big");
    size_t n_big = 0;
    for (size_t i = 0; i < fx.n_plants; i++)
        n_big += !strcmp(fx.plants[i].name, "big");
    cr_assert_eq(n_big, 18u, "fixture plants changed? %zu copies of big", n_big);
    r = memgrep_run((const char *[]){"scan", "-c", "-p", pid, big, NULL});
    cr_assert_eq(r.status, 0);
    char comm[64], line[160];
    read_comm(fx.pid, comm, sizeof comm);
    snprintf(line, sizeof line, "%d %s %zu\n", (int)fx.pid, comm, n_big);
    cr_assert_str_eq(r.out, line, "-c output is not the one line \"%.*s\"", (int)strlen(line) - 1,
                     line);
    prog_result_free(&r);
    free(big);
    free(heap);
    free(absent);
}

/* ---- JSON ---- */

Test(json_validator, accepts_and_rejects)
{
    const char *good[] = {
        "{}",
        "[]",
        "{\"a\":[1,-2.5e3,true,false,null,\"x\\u00ff\\ud83d\\ude00\\n\"]}",
        " {\"k\" : \"v\"} ",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "0",
        "\"\xc3\xbf\"",
    };
    const char *bad[] = {
        "",          "{",          "{\"a\":1,}",   "[1,]",        "{'a':1}",
        "\"\x01\"",  "\"\xff\"",   "\"\\x41\"",    "01",          "1.",
        "{\"a\" 1}", "{\"a\":1}x", "\"\\ud800\"",  "\"\\udc00\"", "{\"a\":1,\"a\":2}",
        "nul",       "\"abc",      "\"\xc0\xaf\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        jval v;
        size_t off;
        cr_assert_eq(json_parse(good[i], strlen(good[i]), &v, &off), 0, "rejected %s at %zu",
                     good[i], off);
        json_free(&v);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jval v;
        size_t off;
        cr_assert_eq(json_parse(bad[i], strlen(bad[i]), &v, &off), -1, "accepted %s", bad[i]);
    }
    jval v;
    size_t off;
    const char *t = "{\"s\":\"a\\\"b\\u0001\\u00ff\"}";
    cr_assert_eq(json_parse(t, strlen(t), &v, &off), 0);
    const jval *s = json_get(&v, "s");
    cr_assert(s && s->t == J_STR);
    cr_assert_eq(s->len, 6u);
    cr_assert_eq(memcmp(s->str, "a\"b\x01\xc3\xbf", 6), 0);
    json_free(&v);
}

typedef struct json_lines {
    jval *v;
    size_t n;
} json_lines;

/* Every stdout line must be a JSON object with a string "type". */
static json_lines parse_lines(const prog_result *r)
{
    json_lines out = {0};
    cr_assert(r->out_len == 0 || r->out[r->out_len - 1] == '\n', "stdout does not end in newline");
    size_t lines = count_lines(r->out, r->out_len);
    out.v = calloc(lines + 1, sizeof *out.v);
    const char *p = r->out;
    for (size_t i = 0; i < lines; i++) {
        const char *nl = memchr(p, '\n', r->out_len - (size_t)(p - r->out));
        size_t off;
        cr_assert_eq(json_parse(p, (size_t)(nl - p), &out.v[i], &off), 0,
                     "stdout line %zu is not JSON (error at byte %zu): %.*s", i + 1, off,
                     (int)(nl - p), p);
        cr_assert_eq(out.v[i].t, J_OBJ, "line %zu is not an object", i + 1);
        const jval *type = json_get(&out.v[i], "type");
        cr_assert(type && type->t == J_STR, "line %zu has no string \"type\"", i + 1);
        out.n++;
        p = nl + 1;
    }
    /* scan's first record says what ran (test_report.c checks it): the
     * tests here look at what follows */
    if (out.n && !strcmp(json_get(&out.v[0], "type")->str, "start")) {
        json_free(&out.v[0]);
        memmove(out.v, out.v + 1, --out.n * sizeof *out.v);
    }
    return out;
}

static void free_lines(json_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_free(&l->v[i]);
    free(l->v);
}

static const char *jstr(const jval *o, const char *key)
{
    const jval *v = json_get(o, key);
    cr_assert(v && v->t == J_STR, "no string \"%s\"", key);
    return v->str;
}

static int64_t jint(const jval *o, const char *key)
{
    const jval *v = json_get(o, key);
    cr_assert(v && v->t == J_NUM, "no number \"%s\"", key);
    char *end;
    long long x = strtoll(v->raw, &end, 10);
    cr_assert_eq(*end, '\0', "\"%s\" is not an integer: %s", key, v->raw);
    return x;
}

static uint64_t jhex(const jval *o, const char *key)
{
    const char *s = jstr(o, key);
    cr_assert(s[0] == '0' && s[1] == 'x' && s[2], "\"%s\" is not 0x hex: %s", key, s);
    char *end;
    uint64_t x = strtoull(s + 2, &end, 16);
    cr_assert_eq(*end, '\0', "\"%s\" is not 0x hex: %s", key, s);
    return x;
}

/* The summary must be the last line, once; returns the match lines. */
static size_t check_summary(const json_lines *l)
{
    cr_assert_gt(l->n, 0u, "no output");
    const jval *sum = &l->v[l->n - 1];
    cr_assert_str_eq(jstr(sum, "type"), "summary", "last line is not the summary");
    size_t matches = 0;
    for (size_t i = 0; i + 1 < l->n; i++) {
        const char *t = jstr(&l->v[i], "type");
        cr_assert_str_neq(t, "summary", "summary on line %zu, not only last", i + 1);
        matches += !strcmp(t, "match");
    }
    cr_assert_eq(jint(sum, "matches"), (int64_t)matches,
                 "summary counts %" PRId64 " matches, %zu printed", jint(sum, "matches"), matches);
    return matches;
}

Test(cli, json_pattern_file)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    char comm[64];
    read_comm(fx.pid, comm, sizeof comm);

    /* Pattern file: 0 heap literal, 1 big literal, 2 regex for the re
     * plants, 3 hex for the hex plant. */
    char *heap = fixture_marker(&fx, "heap");
    char *big = fixture_marker(&fx, "big");
    char *hexm = fixture_marker(&fx, "hex");
    char re[128], hexline[512];
    snprintf(re, sizeof re, "mgt-%s-re=[0-9]{1,12};", fx.token);
    size_t o = (size_t)sprintf(hexline, "00 fe");
    for (size_t i = 0; hexm[i]; i++)
        o += (size_t)sprintf(hexline + o, i == 3 ? " ??" : " %02x", (uint8_t)hexm[i]);
    sprintf(hexline + o, " 7f 80");
    char *text = NULL;
    cr_assert_gt(asprintf(&text, "# memgrep test patterns\n%s\n\n%s\nre:%s\nhex:%s\n", heap, big,
                          re, hexline),
                 0);
    char *path = write_temp(text);

    const char *patterns[4] = {heap, big, re, hexline};
    const char *kinds[4] = {"literal", "literal", "regex", "hex"};
    const char *plant_names[4] = {"heap", "big", "re", "hex"};

    const char *jobs[] = {"2", "1"};
    for (size_t jv = 0; jv < 2; jv++) {
        prog_result r = memgrep_run(
            (const char *[]){"scan", "--json", "-j", jobs[jv], "-p", pid, "-f", path, NULL});
        cr_assert_eq(r.status, 0, "exit %d; stderr: %s", r.status, r.err);
        json_lines l = parse_lines(&r);
        size_t n_match = check_summary(&l);

        /* Expected: every plant of those names, by pattern id. */
        size_t expected = 0;
        bool *seen = calloc(fx.n_plants, sizeof *seen);
        for (size_t i = 0; i < fx.n_plants; i++)
            for (int id = 0; id < 4; id++)
                expected += !strcmp(fx.plants[i].name, plant_names[id]) &&
                            strcmp(fx.plants[i].kind, "upper") && strcmp(fx.plants[i].kind, "wide");
        for (size_t i = 0; i + 1 < l.n; i++) {
            const jval *m = &l.v[i];
            if (strcmp(jstr(m, "type"), "match"))
                continue;
            cr_assert_eq(jint(m, "pid"), fx.pid);
            cr_assert_str_eq(jstr(m, "comm"), comm);
            uint64_t addr = jhex(m, "address");
            int64_t id = jint(m, "pattern_id");
            cr_assert(id >= 0 && id < 4, "pattern_id %" PRId64, id);
            cr_assert_str_eq(jstr(m, "pattern"), patterns[id]);
            cr_assert_str_eq(jstr(m, "kind"), kinds[id]);
            const plant *pl = fixture_plant_at(&fx, addr);
            cr_assert(pl && !strcmp(pl->name, plant_names[id]),
                      "match 0x%" PRIx64 " for pattern %" PRId64 " is not one of its plants", addr,
                      id);
            size_t idx = (size_t)(pl - fx.plants);
            cr_assert_not(seen[idx], "0x%" PRIx64 " reported twice", addr);
            seen[idx] = true;
            cr_assert_eq((uint64_t)jint(m, "length"), pl->len);
            const jval *reg = json_get(m, "region");
            cr_assert(reg && reg->t == J_OBJ, "no region object");
            uint64_t rs = jhex(reg, "start"), re_ = jhex(reg, "end");
            cr_assert(rs <= addr && addr + pl->len <= re_, "region does not hold the match");
            cr_assert_eq(strlen(jstr(reg, "perms")), 4u);
            jhex(reg, "offset");
            jstr(reg, "path");
            jstr(m, "context");
        }
        cr_assert_eq(n_match, expected, "%zu match records, %zu plants", n_match, expected);
        free(seen);
        free_lines(&l);
        prog_result_free(&r);
    }

    /* -m 1: one match per pattern. */
    prog_result r =
        memgrep_run((const char *[]){"scan", "--json", "-m", "1", "-p", pid, "-f", path, NULL});
    cr_assert_eq(r.status, 0);
    json_lines l = parse_lines(&r);
    cr_assert_eq(check_summary(&l), 4u, "-m 1 with 4 patterns");
    free_lines(&l);
    prog_result_free(&r);

    unlink(path);
    free(path);
    free(text);
    free(heap);
    free(big);
    free(hexm);
}

/* The match records for one pattern given on the command line with extra
 * flags: the set of addresses. */
static void json_flag_case(const char *flag, const char *name, const char *kinds)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    char *m = fixture_marker(&fx, name);
    prog_result r =
        flag ? memgrep_run((const char *[]){"scan", "--json", flag, "-p", pid, "-e", m, NULL})
             : memgrep_run((const char *[]){"scan", "--json", "-p", pid, "-e", m, NULL});
    cr_assert_eq(r.status, 0, "%s: exit %d; stderr %s", flag ? flag : "(none)", r.status, r.err);
    json_lines l = parse_lines(&r);
    size_t n = check_summary(&l);
    size_t want_n = 0;
    for (size_t i = 0; i < fx.n_plants; i++) {
        const plant *pl = &fx.plants[i];
        if (strcmp(pl->name, name) || !strstr(kinds, pl->kind))
            continue;
        want_n++;
        bool found = false;
        for (size_t k = 0; k + 1 < l.n; k++)
            if (!strcmp(jstr(&l.v[k], "type"), "match") && jhex(&l.v[k], "address") == pl->addr) {
                found = true;
                cr_assert_eq((uint64_t)jint(&l.v[k], "length"), pl->len);
            }
        cr_assert(found, "%s: plant %s (%s) at 0x%" PRIx64 " not reported", flag ? flag : "(none)",
                  name, pl->kind, pl->addr);
    }
    cr_assert_eq(n, want_n, "%s: %zu matches, want %zu", flag ? flag : "(none)", n, want_n);
    free_lines(&l);
    prog_result_free(&r);
    free(m);
}

Test(cli, json_caseless)
{
    json_flag_case("-i", "case", "plain upper");
}

Test(cli, json_wide)
{
    json_flag_case("--wide", "wide", "plain wide");
}

Test(cli, json_include_noread)
{
    json_flag_case("--include-noread", "noread", "noread");
}

Test(cli, noread_not_found_without_flag)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    char *m = fixture_marker(&fx, "noread");
    prog_result r = memgrep_run((const char *[]){"scan", "-p", pid, m, NULL});
    cr_assert_eq(r.status, 1, "PROT_NONE plant found without --include-noread: exit %d", r.status);
    prog_result_free(&r);
    free(m);
}

/* Odd bytes in comm (quote, backslash, 0x01, 0xff) and binary context
 * bytes must still give strict JSON. */
Test(cli, json_odd_comm_and_binary_context)
{
    need_root();
    const char *args[] = {"--odd-comm", NULL};
    fixture_start(&fx, args);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    char *m = fixture_marker(&fx, "ctx");
    prog_result r = memgrep_run((const char *[]){"scan", "--json", "-C", "64", "-p", pid, m, NULL});
    cr_assert_eq(r.status, 0, "exit %d; stderr: %s", r.status, r.err);
    json_lines l = parse_lines(&r);
    cr_assert_eq(check_summary(&l), 1u);
    const jval *match = NULL;
    for (size_t i = 0; i < l.n; i++)
        if (!strcmp(jstr(&l.v[i], "type"), "match"))
            match = &l.v[i];
    const char *comm = jstr(match, "comm");
    /* The 0xff byte may come out as U+00FF or U+FFFD; the rest is exact. */
    const char *head = "q\"b\\s\x01";
    cr_assert_eq(strncmp(comm, head, strlen(head)), 0, "comm decoded to \"%s\"", comm);
    cr_assert(strlen(comm) >= 3 && !strcmp(comm + strlen(comm) - 3, "-fx"),
              "comm decoded to \"%s\"", comm);
    const jval *ctx = json_get(match, "context");
    cr_assert(ctx && ctx->t == J_STR && ctx->len > 0, "no context string");
    /* Beyond the contract, memgrep also gives the context as hex with the
     * match's offset in it: if it does, the bytes must be the planted ones
     * (every byte value occurs around the ctx plant). */
    const jval *hex = json_get(match, "context_hex");
    if (hex) {
        size_t mlen = strlen(m);
        cr_assert_eq(hex->t, J_STR);
        cr_assert_eq(jint(match, "context_offset"), 64);
        cr_assert_eq(hex->len, 2 * (64 + mlen + 64), "context_hex of %zu digits", hex->len);
        for (size_t i = 0; i < 64 + mlen + 64; i++) {
            unsigned byte;
            cr_assert_eq(sscanf(hex->str + 2 * i, "%2x", &byte), 1);
            long d = (long)i - 64;
            uint8_t expect = d >= 0 && d < (long)mlen ? (uint8_t)m[d] : fixture_ctx_byte(d);
            cr_assert_eq(byte, expect, "context byte %ld: %02x want %02x", d, byte, expect);
        }
    }
    free_lines(&l);
    prog_result_free(&r);
    free(m);
}

/* ---- commands and help (no root needed) ---- */

/* Exit 0, nothing on stderr; returns stdout (to free). */
static char *expect_help(const char *const *args)
{
    prog_result r = memgrep_run(args);
    cr_assert_eq(r.status, 0, "%s: exit %d; stderr: %s", args[0], r.status, r.err);
    cr_assert_eq(r.err_len, 0u, "%s: stderr \"%s\"", args[0], r.err);
    cr_assert_gt(r.out_len, 0u);
    free(r.err);
    return r.out;
}

/* Every option line ("  -x, --name..." or "      --name...") names a
 * different long option: a shared group is documented once. At least
 * min_lines such lines. */
static void expect_options_once(const char *help, size_t min_lines)
{
    char seen[64][40];
    size_t n = 0;
    for (const char *l = help; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *o = strstr(l, "--");
        const char *eol = strchr(l, '\n');
        if (strncmp(l, "  -", 3) || !o || (eol && o > eol))
            continue;
        size_t len = strspn(o + 2, "abcdefghijklmnopqrstuvwxyz-");
        cr_assert(len > 0 && len < sizeof seen[0], "odd option line: %.60s", l);
        for (size_t i = 0; i < n; i++)
            cr_assert(strncmp(seen[i], o + 2, len) || seen[i][len], "--%s is documented twice:\n%s",
                      seen[i], help);
        cr_assert_lt(n, 64u);
        memcpy(seen[n], o + 2, len);
        seen[n++][len] = '\0';
    }
    cr_assert_geq(n, min_lines, "too few option lines in:\n%s", help);
}

Test(cli, scan_help_forms)
{
    char *a = expect_help((const char *[]){"scan", "--help", NULL});
    char *b = expect_help((const char *[]){"help", "scan", NULL});
    char *c = expect_help((const char *[]){"scan", "-h", NULL});
    char *d = expect_help((const char *[]){"--help", "scan", NULL});
    cr_assert(!strncmp(a, "usage: memgrep scan ", 20), "scan --help:\n%s", a);
    cr_assert_str_eq(a, b, "help scan differs from scan --help");
    cr_assert_str_eq(a, c, "scan -h differs from scan --help");
    cr_assert_str_eq(a, d, "--help scan differs from scan --help");
    const char *options[] = {"--pattern", "--regex", "--hex",        "--file",     "--pid",
                             "--json",    "--color", "--chunk-size", "--db-cache", "--quiet"};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        cr_assert(strstr(a, options[i]), "scan --help does not document %s", options[i]);
    expect_options_once(a, 11);
    free(a);
    free(b);
    free(c);
    free(d);
}

Test(cli, unknown_command)
{
    expect_error((const char *[]){"nosuch", NULL}, (const char *[]){"'nosuch'", NULL});
    expect_error((const char *[]){"help", "nosuch", NULL}, (const char *[]){"'nosuch'", NULL});
    expect_error((const char *[]){"nosuch", "--help", NULL}, (const char *[]){"'nosuch'", NULL});
    expect_error((const char *[]){"help", "scan", "extra", NULL}, (const char *[]){"extra", NULL});
    expect_error((const char *[]){NULL}, (const char *[]){"missing command", NULL});
}

/* `memgrep --help` lists the commands; each one listed has its own help. */
Test(cli, help_lists_commands)
{
    char *top = expect_help((const char *[]){"--help", NULL});
    char *help = expect_help((const char *[]){"help", NULL});
    cr_assert_str_eq(top, help, "--help and help differ");
    const char *list = strstr(top, "\nCommands:\n");
    cr_assert(list, "no Commands: section in:\n%s", top);
    list += strlen("\nCommands:\n");
    size_t n = 0;
    bool scan = false;
    for (const char *l = list; !strncmp(l, "  ", 2); l = strchr(l, '\n') + 1) {
        char name[32];
        cr_assert_eq(sscanf(l, "%31s", name), 1);
        if (strcmp(name, "help")) {
            char usage[64];
            snprintf(usage, sizeof usage, "usage: memgrep %s ", name);
            char *h = expect_help((const char *[]){"help", name, NULL});
            cr_assert(!strncmp(h, usage, strlen(usage)), "help %s:\n%s", name, h);
            expect_options_once(h, 3); /* every command: -h, -V and its own */
            free(h);
            h = expect_help((const char *[]){name, "--help", NULL});
            cr_assert(!strncmp(h, usage, strlen(usage)), "%s --help:\n%s", name, h);
            free(h);
        }
        scan |= !strcmp(name, "scan");
        n++;
        cr_assert(strchr(l, '\n'));
    }
    cr_assert(scan, "scan is not listed:\n%s", top);
    cr_assert_geq(n, 2u, "commands listed: %zu\n%s", n, top);
    free(top);
    free(help);
}

/* MG_MAX_CHUNK_SIZE as the CLI writes sizes: "256M". */
static void size_text(uint64_t v, char *buf, size_t size)
{
    const char *suffix = "\0KMG";
    int i = 0;
    while (i < 3 && v && !(v & 1023)) {
        v >>= 10;
        i++;
    }
    snprintf(buf, size, "%" PRIu64 "%.*s", v, i ? 1 : 0, suffix + i);
}

static bool dir_is_empty(const char *path)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", path);
    return system(cmd) == 0;
}

/* A chunk size the engine would refuse is refused by the CLI at parse
 * time, before any pattern is compiled; the engine's maximum is accepted. */
Test(cli, chunk_size_limit)
{
    char max[32], over[32], text[64];
    size_text(MG_MAX_CHUNK_SIZE, max, sizeof max);
    size_text(2ull * MG_MAX_CHUNK_SIZE, over, sizeof over);
    snprintf(text, sizeof text, "up to %s", max);
    char *h = expect_help((const char *[]){"scan", "--help", NULL});
    cr_assert(strstr(h, text), "scan --help does not say \"%s\":\n%s", text, h);
    free(h);

    expect_error((const char *[]){"scan", "-e", "needle", "--chunk-size", over, NULL},
                 (const char *[]){"--chunk-size", over, text, NULL});
    /* The option is checked first, wherever it is: the bad regex is not. */
    prog_result r = memgrep_run((const char *[]){"scan", "-E", "abc(", "--chunk-size", over, NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--chunk-size") && !strstr(r.err, "abc("), "stderr: %s", r.err);
    prog_result_free(&r);

    /* Nothing compiled: the database cache stays empty. The same command
     * with a valid chunk size and a live target compiles (and caches). */
    char dead[16];
    snprintf(dead, sizeof dead, "%d", (int)dead_pid());
    char bad_dir[] = "/tmp/mg-cli-cache-XXXXXX", good_dir[] = "/tmp/mg-cli-cache-XXXXXX";
    cr_assert(mkdtemp(bad_dir) && mkdtemp(good_dir));
    expect_error((const char *[]){"scan", "--db-cache", bad_dir, "-p", dead, "-e", "needle",
                                  "--chunk-size", over, NULL},
                 (const char *[]){"--chunk-size", NULL});
    cr_assert(dir_is_empty(bad_dir), "patterns compiled before --chunk-size was refused");
    r = memgrep_run((const char *[]){"scan", "-q", "--db-cache", good_dir, "-p", fixture_pid_arg(),
                                     "-e", "needle", "--chunk-size", max, NULL});
    prog_result_free(&r);
    cr_assert(!dir_is_empty(good_dir),
              "no compiled database cached: the check above proves nothing");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", bad_dir, good_dir);
    cr_assert_eq(system(cmd), 0);
}

/* -j is bounded by the engine's MG_MAX_THREADS: help states it, one more
 * is refused at parse time. */
Test(cli, threads_limit)
{
    char text[32], over[16];
    snprintf(text, sizeof text, "max %u", MG_MAX_THREADS);
    snprintf(over, sizeof over, "%u", MG_MAX_THREADS + 1);
    char *h = expect_help((const char *[]){"scan", "--help", NULL});
    cr_assert(strstr(h, text), "scan --help does not say \"%s\":\n%s", text, h);
    free(h);
    expect_error((const char *[]){"scan", "-e", "needle", "-j", over, NULL},
                 (const char *[]){"--threads", over, NULL});
}

/* The summary's mem_reader is the reader that ran: --mem-reader io_uring
 * reads the forked fixture's pages shared with its child (through
 * /proc/PID/mem) with io_uring where it works, and with pread where it is
 * refused (a seccomp filter on this test and the memgrep it starts, as
 * kernel.io_uring_disabled=2 would refuse it). */
static void mem_reader_summary(bool refused)
{
    need_root();
    fixture_start(&fx, (const char *[]){"--fork", NULL});
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    char *heap = fixture_marker(&fx, "heap");
    if (refused)
        refuse_io_uring();
    prog_result r = memgrep_run(
        (const char *[]){"scan", "--json", "--mem-reader", "io_uring", "-p", pid, heap, NULL});
    cr_assert_eq(r.status, 0, "exit %d; stderr: %s", r.status, r.err);
    json_lines l = parse_lines(&r);
    cr_assert_eq(check_summary(&l), 1u, "the heap plant, once");
    const jval *sum = &l.v[l.n - 1];
    cr_assert_gt(jint(sum, "bytes_read_mem"), 0, "nothing read from /proc/PID/mem");
    const char *name = refused ? "pread" : "io_uring";
    cr_assert_str_eq(jstr(sum, "mem_reader"), name, "io_uring %s: summary names %s",
                     refused ? "refused" : "allowed", jstr(sum, "mem_reader"));
    free_lines(&l);
    prog_result_free(&r);
    free(heap);
}

Test(cli, json_mem_reader_uring)
{
    struct io_uring_params up = {0};
    int fd = (int)syscall(SYS_io_uring_setup, 1u, &up);
    if (fd < 0)
        cr_skip_test("io_uring is not available here (io_uring_setup: %s)", strerror(errno));
    close(fd);
    mem_reader_summary(false);
}

Test(cli, json_mem_reader_uring_refused)
{
    mem_reader_summary(true);
}

Test(cli, chunk_size_max_scans)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16], max[32];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    size_text(MG_MAX_CHUNK_SIZE, max, sizeof max);
    char *heap = fixture_marker(&fx, "heap");
    prog_result r =
        memgrep_run((const char *[]){"scan", "-q", "--chunk-size", max, "-p", pid, heap, NULL});
    cr_assert_eq(r.status, 0, "--chunk-size %s: exit %d; stderr: %s", max, r.status, r.err);
    prog_result_free(&r);
    free(heap);
}

/* An alias (--color/--colour) is one option: its abbreviation is not ambiguous. */
Test(cli, alias_abbreviation)
{
    expect_error((const char *[]){"scan", "--col=bogus", "needle", NULL},
                 (const char *[]){"'bogus'", "--color", NULL});
}

/* ---- output bytes, exactly ---- */

/* Every byte of out is printable ASCII or a newline (the JSON and text
 * output promise this: no raw control or high bytes reach a terminal). */
static void assert_ascii(const prog_result *r, const char *what)
{
    for (size_t i = 0; i < r->out_len; i++) {
        unsigned char c = (unsigned char)r->out[i];
        cr_assert(c == '\n' || (c >= 0x20 && c < 0x7f),
                  "%s: raw byte 0x%02x at offset %zu of stdout", what, c, i);
    }
}

/* The bytes around the ctx plant: ctx bytes, the marker, ctx bytes. */
static uint8_t *ctx_expected(const char *marker, size_t context, size_t *len)
{
    size_t ml = strlen(marker);
    *len = 2 * context + ml;
    uint8_t *b = malloc(*len);
    cr_assert(b);
    for (size_t i = 0; i < context; i++) {
        b[i] = fixture_ctx_byte((long)i - (long)context);
        b[context + ml + i] = fixture_ctx_byte((long)(ml + i));
    }
    memcpy(b + context, marker, ml);
    /* every byte value occurs: the round trip covers them all */
    bool seen[256] = {false};
    for (size_t i = 0; i < *len; i++)
        seen[b[i]] = true;
    for (int v = 0; v < 256; v++)
        cr_assert(seen[v], "byte 0x%02x not around the ctx plant", v);
    return b;
}

static void assert_same_bytes(const uint8_t *got, size_t got_len, const uint8_t *ref,
                              size_t ref_len, const char *what)
{
    cr_assert_eq(got_len, ref_len, "%s: %zu bytes, ref %zu", what, got_len, ref_len);
    for (size_t i = 0; i < ref_len; i++)
        cr_assert_eq(got[i], ref[i], "%s: byte %zu is 0x%02x, ref 0x%02x", what, i, got[i], ref[i]);
}

/* --json -C 256 around the ctx plant: "context" decoded (\u00XX, Latin-1)
 * and "context_hex" are exactly the target's bytes, all 256 values. */
Test(cli, json_context_bytes_round_trip)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    char *m = fixture_marker(&fx, "ctx");
    const plant *pl = NULL;
    for (size_t i = 0; i < fx.n_plants; i++)
        if (!strcmp(fx.plants[i].name, "ctx"))
            pl = &fx.plants[i];
    cr_assert(pl);
    size_t ref_len;
    uint8_t *ref = ctx_expected(m, 256, &ref_len);

    prog_result r =
        memgrep_run((const char *[]){"scan", "--json", "-C", "256", "-p", pid, m, NULL});
    cr_assert_eq(r.status, 0, "exit %d; stderr: %s", r.status, r.err);
    assert_ascii(&r, "--json");
    json_lines l = parse_lines(&r);
    cr_assert_eq(check_summary(&l), 1u);
    const jval *match = &l.v[0];
    cr_assert_str_eq(jstr(match, "type"), "match");
    cr_assert_eq(jhex(match, "address"), pl->addr);
    cr_assert_eq(jint(match, "context_offset"), 256);

    unsigned char *ctx;
    size_t ctx_len;
    cr_assert_eq(json_latin1(json_get(match, "context"), &ctx, &ctx_len), 0,
                 "\"context\" is not a string of characters U+0000..U+00FF");
    assert_same_bytes(ctx, ctx_len, ref, ref_len, "decoded \"context\"");
    free(ctx);

    const char *hex = jstr(match, "context_hex");
    cr_assert_eq(strlen(hex), 2 * ref_len, "context_hex of %zu digits", strlen(hex));
    uint8_t *hb = malloc(ref_len);
    for (size_t i = 0; i < ref_len; i++) {
        unsigned byte;
        char two[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        cr_assert(isxdigit((unsigned char)two[0]) && isxdigit((unsigned char)two[1]),
                  "context_hex: \"%s\" at %zu", two, 2 * i);
        sscanf(two, "%2x", &byte);
        hb[i] = (uint8_t)byte;
    }
    assert_same_bytes(hb, ref_len, ref, ref_len, "decoded \"context_hex\"");
    free(hb);
    free_lines(&l);
    prog_result_free(&r);
    free(ref);
    free(m);
}

/* Text output: PID COMM 0xADDR PERMS PATH PATTERN: CONTEXT, with bytes
 * outside printable ASCII as \xHH and '\' as \\. Decoding the context
 * gives the target's bytes back, all 256 values. */
Test(cli, text_context_bytes_round_trip)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    char *m = fixture_marker(&fx, "ctx");
    const plant *pl = NULL;
    for (size_t i = 0; i < fx.n_plants; i++)
        if (!strcmp(fx.plants[i].name, "ctx"))
            pl = &fx.plants[i];
    cr_assert(pl);
    size_t ref_len;
    uint8_t *ref = ctx_expected(m, 256, &ref_len);

    prog_result r = memgrep_run((const char *[]){"scan", "-C", "256", "-p", pid, m, NULL});
    cr_assert_eq(r.status, 0, "exit %d; stderr: %s", r.status, r.err);
    assert_ascii(&r, "text output");
    cr_assert_eq(count_lines(r.out, r.out_len), 1u, "not one line: %s", r.out);
    char comm[64], head[160];
    read_comm(fx.pid, comm, sizeof comm);
    snprintf(head, sizeof head, "%d %s 0x%" PRIx64 " ", (int)fx.pid, comm, pl->addr);
    cr_assert_eq(strncmp(r.out, head, strlen(head)), 0, "line does not start with \"%s\": %s", head,
                 r.out);
    char *sep = NULL;
    cr_assert_gt(asprintf(&sep, " %s: ", m), 0);
    char *at = strstr(r.out, sep);
    cr_assert(at, "no \"%s\" in %s", sep, r.out);
    const char *p = at + strlen(sep), *end = r.out + r.out_len - 1; /* before '\n' */
    uint8_t *got = malloc(r.out_len);
    size_t n = 0;
    while (p < end) {
        if (*p != '\\') {
            got[n++] = (uint8_t)*p++;
            continue;
        }
        cr_assert_lt(p + 1, end, "lone backslash at the end");
        if (p[1] == '\\') {
            got[n++] = '\\';
            p += 2;
            continue;
        }
        cr_assert(p[1] == 'x' && p + 3 < end + 1 && isxdigit((unsigned char)p[2]) &&
                      isxdigit((unsigned char)p[3]),
                  "bad escape \"%.4s\" at %zu", p, (size_t)(p - r.out));
        char two[3] = {p[2], p[3], '\0'};
        got[n++] = (uint8_t)strtoul(two, NULL, 16);
        p += 4;
    }
    assert_same_bytes(got, n, ref, ref_len, "decoded text context");
    /* and each byte is written one way: escaped exactly when it must be */
    size_t escaped = 0;
    for (size_t i = 0; i < ref_len; i++)
        escaped += ref[i] < 0x20 || ref[i] >= 0x7f;
    size_t hx = 0;
    for (const char *q = at + strlen(sep); q + 1 < end; q++)
        if (q[0] == '\\' && q[1] == 'x')
            hx++;
    cr_assert_eq(hx, escaped, "%zu \\x escapes for %zu bytes outside printable ASCII", hx, escaped);
    free(got);
    free(sep);
    prog_result_free(&r);
    free(ref);
    free(m);
}

/* ---- thread ids ---- */

/* -p TID means the thread's process: matches name its pid (the tgid), and
 * -p PID,TID reports each match once. */
Test(cli, thread_id_means_its_process)
{
    need_root();
    fixture_start(&fx, NULL);
    cr_assert(fx.tid > 0 && fx.tid != fx.pid, "fixture printed no THREAD");
    char *big = fixture_marker(&fx, "big");
    size_t n_big = 0;
    for (size_t i = 0; i < fx.n_plants; i++)
        n_big += !strcmp(fx.plants[i].name, "big");
    char targets[2][64];
    snprintf(targets[0], sizeof targets[0], "%d", (int)fx.tid);
    snprintf(targets[1], sizeof targets[1], "%d,%d", (int)fx.pid, (int)fx.tid);
    for (int t = 0; t < 2; t++) {
        prog_result r =
            memgrep_run((const char *[]){"scan", "--json", "-p", targets[t], big, NULL});
        cr_assert_eq(r.status, 0, "-p %s: exit %d; stderr: %s", targets[t], r.status, r.err);
        json_lines l = parse_lines(&r);
        size_t n = check_summary(&l);
        cr_assert_eq(n, n_big, "-p %s: %zu matches, ref %zu", targets[t], n, n_big);
        for (size_t i = 0; i + 1 < l.n; i++) {
            cr_assert_str_eq(jstr(&l.v[i], "type"), "match");
            cr_assert_eq(jint(&l.v[i], "pid"), fx.pid, "-p %s: match names pid %" PRId64,
                         targets[t], jint(&l.v[i], "pid"));
            const plant *pl = fixture_plant_at(&fx, jhex(&l.v[i], "address"));
            cr_assert(pl && !strcmp(pl->name, "big"), "-p %s: match at no big plant", targets[t]);
            for (size_t k = 0; k < i; k++)
                cr_assert_neq(jhex(&l.v[k], "address"), jhex(&l.v[i], "address"),
                              "-p %s: reported twice", targets[t]);
        }
        cr_assert_eq(jint(&l.v[l.n - 1], "processes_scanned"), 1);
        free_lines(&l);
        prog_result_free(&r);
    }
    free(big);
}

/* --color alone is auto, as grep's: no colour into a pipe; the word after
 * it is a pattern, not its value (--color=always is). */
Test(cli, bare_color_is_auto)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    char *heap = fixture_marker(&fx, "heap");
    prog_result a =
        memgrep_run((const char *[]){"scan", "--no-summary", "--color", "-p", pid, heap, NULL});
    cr_assert_eq(a.status, 0, "exit %d; stderr: %s", a.status, a.err);
    cr_assert(strstr(a.out, heap) && !strchr(a.out, '\033'), "--color into a pipe:\n%s", a.out);
    prog_result b = memgrep_run(
        (const char *[]){"scan", "--no-summary", "--color=always", "-p", pid, heap, NULL});
    cr_assert_eq(b.status, 0, "exit %d; stderr: %s", b.status, b.err);
    cr_assert(strstr(b.out, "\033[1;31m"), "--color=always:\n%s", b.out);
    /* "--color always": 'always' is a second pattern (-c counts both) */
    prog_result c = memgrep_run(
        (const char *[]){"scan", "--no-summary", "-c", "--color", "always", "-p", pid, heap, NULL});
    cr_assert_eq(c.status, 0, "exit %d; stderr: %s", c.status, c.err);
    prog_result d =
        memgrep_run((const char *[]){"scan", "--no-summary", "-c", "-p", pid, heap, NULL});
    cr_assert_gt(strtoull(strchr(c.out, ' ') ? strrchr(c.out, ' ') + 1 : c.out, NULL, 10),
                 strtoull(strrchr(d.out, ' ') + 1, NULL, 10), "-c with 'always': %s, without: %s",
                 c.out, d.out);
    prog_result_free(&a);
    prog_result_free(&b);
    prog_result_free(&c);
    prog_result_free(&d);
    free(heap);
}

/* maps, dump and strings take one process, ps lists: their -p says so. */
Test(cli, pid_help_per_command)
{
    static const struct {
        const char *command, *text;
    } cases[] = {
        {"scan", "-p, --pid PID[,PID...]  scan these processes"},
        {"ps", "-p, --pid PID[,PID...]  list these processes"},
        {"maps", "-p, --pid PID           the process (one)"},
        {"dump", "-p, --pid PID           the process (one)"},
        {"strings", "-p, --pid PID           the process (one)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *h = expect_help((const char *[]){cases[i].command, "--help", NULL});
        cr_assert(strstr(h, cases[i].text), "%s --help lacks '%s':\n%s", cases[i].command,
                  cases[i].text, h);
        free(h);
    }
}

/* `memgrep scan --no-db-cache ARGS...` as uid 65534 (setpriv, of
 * util-linux, drops root before the exec), memgrep's copy that it can
 * reach (build_copy). */
static prog_result memgrep_as_nobody(const char *const *args)
{
    char *exe = build_copy(&nobody_copies, getenv("MEMGREP"));
    const char *argv[32] = {
        "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", exe, "scan",
        "--no-db-cache"};
    size_t n = 7;
    for (size_t i = 0; args[i]; i++) {
        cr_assert_lt(n, 31u);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    prog_result r = prog_run(argv);
    free(exe);
    return r;
}

/* -s, as grep's: no warning about a process that cannot be read (here:
 * root's fixture, swept as uid 65534); --json keeps its error record, and
 * the line that says why nothing could be scanned stays. */
Test(cli, no_messages_hides_process_warnings)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    prog_result a = memgrep_as_nobody((const char *[]){"--no-summary", "-p", pid, "needle", NULL});
    prog_result b =
        memgrep_as_nobody((const char *[]){"--no-summary", "-s", "-p", pid, "needle", NULL});
    prog_result c = memgrep_as_nobody((const char *[]){"--json", "-s", "-p", pid, "needle", NULL});
    char warning[64];
    snprintf(warning, sizeof warning, "memgrep: warning: pid %s ", pid);
    cr_assert_eq(a.status, 2, "exit %d; stderr: %s", a.status, a.err);
    cr_assert(strstr(a.err, warning) && strstr(a.err, "nothing readable"), "without -s:\n%s",
              a.err);
    cr_assert_eq(b.status, 2, "exit %d; stderr: %s", b.status, b.err);
    cr_assert(!strstr(b.err, "warning") && strstr(b.err, "nothing readable"), "with -s:\n%s",
              b.err);
    cr_assert_eq(count_lines(b.err, b.err_len), 1u, "with -s:\n%s", b.err);
    char record[64];
    snprintf(record, sizeof record, "\"pid\":%s,", pid);
    const char *e = strstr(c.out, "{\"type\":\"error\",");
    cr_assert(e && strstr(e, record) && strstr(e, record) < strchr(e, '\n'),
              "--json -s lacks the error record:\n%s", c.out);
    cr_assert(!strstr(c.err, "warning"), "--json -s:\n%s", c.err);
    prog_result_free(&a);
    prog_result_free(&b);
    prog_result_free(&c);
}

/* No pattern: one note on stderr names the hunt pack (also with --json and
 * -q), -s hides it; --show-pack lists the pack with the ids a scan gives
 * its entries. */
Test(cli, hunt_pack_note_and_show_pack)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    prog_result show = memgrep_run((const char *[]){"scan", "--show-pack", NULL});
    cr_assert_eq(show.status, 0, "exit %d; stderr: %s", show.status, show.err);
    cr_assert_eq(show.err_len, 0u, "%s", show.err);
    size_t n = count_lines(show.out, show.out_len);
    cr_assert_geq(n, 10u, "%s", show.out);
    /* ID TAB ENTRY TAB DESCRIPTION, ids 0.. in order */
    const char *line = show.out;
    for (size_t i = 0; i < n; i++) {
        char *end;
        cr_assert_eq(strtoul(line, &end, 10), i, "line %zu: %.60s", i, line);
        cr_assert_eq(*end, '\t', "line %zu: %.60s", i, line);
        const char *tab = strchr(end + 1, '\t'), *nl = strchr(line, '\n');
        cr_assert(tab && tab < nl && tab > end + 1 && nl > tab + 1, "line %zu: %.*s", i,
                  (int)(nl - line), line);
        line = nl + 1;
    }
    char note[160];
    snprintf(note, sizeof note,
             "memgrep: no pattern given: searching for the built-in Linux hunt pack (%zu entries;",
             n);
    static const char *const modes[][3] = {{"--no-summary", NULL}, {"--json", NULL}, {"-q", NULL}};
    for (size_t m = 0; m < 3; m++) {
        prog_result r = memgrep_run((const char *[]){"scan", "-p", pid, modes[m][0], NULL});
        cr_assert_lt(r.status, 2, "exit %d; stderr: %s", r.status, r.err);
        cr_assert(strstr(r.err, note), "%s: no note:\n%s", modes[m][0], r.err);
        prog_result_free(&r);
    }
    prog_result s = memgrep_run((const char *[]){"scan", "-p", pid, "--no-summary", "-s", NULL});
    cr_assert_lt(s.status, 2, "exit %d; stderr: %s", s.status, s.err);
    cr_assert_eq(s.err_len, 0u, "-s: %s", s.err);
    /* a pattern given: no note */
    prog_result p =
        memgrep_run((const char *[]){"scan", "-p", pid, "--no-summary", "x-none-x", NULL});
    cr_assert(!strstr(p.err, "hunt pack"), "%s", p.err);
    prog_result_free(&p);
    prog_result_free(&s);
    prog_result_free(&show);
}

/* ---- bash completion ---- */

/* What completion/memgrep offers for the command line words (the last is
 * the word being completed), one per line, run as bash's completion
 * would: bash-completion loaded, COMP_WORDS and COMP_CWORD set. */
static char *complete(const char *const *words)
{
    const char *script = "source /usr/share/bash-completion/bash_completion || exit 3\n"
                         "source \"$MG_COMPLETION\" || exit 3\n"
                         "compopt() { :; }\n"
                         "COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                         "COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}\n"
                         "_memgrep memgrep \"${COMP_WORDS[COMP_CWORD]}\" "
                         "\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
                         "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
    const char *argv[32] = {"/bin/bash", "-c", script, "complete", getenv("MEMGREP")};
    size_t n = 5;
    for (size_t i = 0; words[i]; i++) {
        cr_assert_lt(n, 31u);
        argv[n++] = words[i];
    }
    argv[n] = NULL;
    prog_result r = prog_run(argv);
    cr_assert_eq(r.status, 0, "bash exited %d: %s", r.status, r.err);
    char *text = r.out;
    r.out = NULL;
    prog_result_free(&r);
    return text;
}

static void expect_completion(const char *const *words, const char *expected)
{
    char *got = complete(words);
    cr_assert_str_eq(got, expected, "completing after '%s %s'", words[0], words[1] ? words[1] : "");
    free(got);
}

/* PIDs for the PID of maps, dump and strings; region kinds for dump's
 * REGIONs and --region; nothing once the PID is there; --color's optional
 * value. */
Test(cli, bash_completion_pids_and_region_kinds)
{
    if (access("/usr/share/bash-completion/bash_completion", R_OK) < 0)
        cr_skip_test("no bash-completion (scripts/bootstrap --tests installs it)");
    cr_assert(getenv("MG_COMPLETION"), "MG_COMPLETION is not set (run through meson test)");
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    const char *kinds = "heap\nstack\nanon\nfile\nshm\n";
    static const char *const cmds[] = {"maps", "dump", "strings"};
    for (size_t i = 0; i < 3; i++) {
        /* the fixture's pid among the pids starting with its digits */
        char *got = complete((const char *[]){cmds[i], pid, NULL}), *all, line[20];
        cr_assert_geq(asprintf(&all, "\n%s", got), 0);
        snprintf(line, sizeof line, "\n%s\n", pid);
        cr_assert(strstr(all, line), "%s %s<TAB>: %s", cmds[i], pid, got);
        free(all);
        free(got);
    }
    expect_completion((const char *[]){"dump", pid, "", NULL}, kinds);
    expect_completion((const char *[]){"dump", "-o", "out/", pid, "heap", "s", NULL},
                      "stack\nshm\n");
    expect_completion((const char *[]){"strings", "--region", "", NULL}, kinds);
    expect_completion((const char *[]){"maps", pid, "", NULL}, "\n");
    expect_completion((const char *[]){"maps", "--json", pid, "", NULL}, "\n");
    expect_completion((const char *[]){"scan", "--color=", NULL}, "auto\nalways\nnever\n");
    expect_completion((const char *[]){"scan", "--col", NULL}, "--color=\n");
}

/* -w end to end: a child holds a token five times in one page, with a
 * space, '(' / ')', a letter, a digit or '_' next to it; -w reports the two
 * bounded by non-word characters, without -w all five. The token is held
 * reversed until the fork (so no NUL-bounded copy of it sits in the
 * child), the child writes it only into the page. */
Test(cli, word_regexp_whole_words_only)
{
    need_root();
    char rev[17], tok[17];
    random_token(rev);
    static const char *const around[][2] = {
        {" ", " "}, {"(", ")"}, {"a", " "}, {" ", "9"}, {"_", "."}};
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            _exit(1);
        memset(m, '.', 4096);
        for (size_t k = 0; k < 5; k++) {
            char *at = m + 64 * (k + 1);
            at[-1] = around[k][0][0];
            for (size_t i = 0; i < 16; i++)
                at[i] = rev[15 - i];
            at[16] = around[k][1][0];
        }
        uint64_t a = (uint64_t)(uintptr_t)m;
        if (write(p[1], &a, sizeof a) != (ssize_t)sizeof a)
            _exit(1);
        pause(); /* until the parent kills it */
        _exit(0);
    }
    close(p[1]);
    uint64_t page = 0;
    cr_assert_eq(read(p[0], &page, sizeof page), (ssize_t)sizeof page);
    for (size_t i = 0; i < 16; i++)
        tok[i] = rev[15 - i];
    tok[16] = '\0';
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)child);
    prog_result w = memgrep_run(
        (const char *[]){"scan", "-C", "0", "--no-summary", "-w", "-p", pid, tok, NULL});
    prog_result all =
        memgrep_run((const char *[]){"scan", "-C", "0", "--no-summary", "-p", pid, tok, NULL});
    close(p[0]);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    cr_assert_eq(w.status, 0, "exit %d: %s", w.status, w.err);
    char expect[256];
    snprintf(expect, sizeof expect,
             "%s %s 0x%" PRIx64 " rw-p [anon] %s: %s\n"
             "%s %s 0x%" PRIx64 " rw-p [anon] %s: %s\n",
             pid, "test_cli", page + 64, tok, tok, pid, "test_cli", page + 128, tok, tok);
    cr_assert_str_eq(w.out, expect, "-w");
    cr_assert_eq(count_lines(all.out, all.out_len), 5u, "without -w:\n%s", all.out);
    prog_result_free(&w);
    prog_result_free(&all);
}

/* A usage error within a command points at that command's help; one
 * before any command at memgrep's. */
Test(cli, try_help_names_the_command)
{
    expect_error((const char *[]){"dump", "1", "heap", NULL},
                 (const char *[]){"-o PATH", "(try 'memgrep dump --help')", NULL});
    expect_error((const char *[]){"scan", "--jsno", NULL},
                 (const char *[]){"(try 'memgrep scan --help')", NULL});
    expect_error((const char *[]){"maps", "1", "2", NULL},
                 (const char *[]){"(try 'memgrep maps --help')", NULL});
    expect_error((const char *[]){"mpas", NULL}, (const char *[]){"(try 'memgrep --help')", NULL});
}
