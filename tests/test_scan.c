/* test_scan.c - mg_scan against a live fixture process: the exact set of
 * (pid, address, pattern) for each kind of pattern and setting. Needs root. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"

#define MAXW 256

static fixture fx, fx2;

static void stop_all(void)
{
    fixture_stop(&fx);
    fixture_stop(&fx2);
}

TestSuite(scan, .fini = stop_all, .timeout = 100);

static void start(void)
{
    need_root();
    fixture_start(&fx, NULL);
}

/* Run mg_scan; rc must be 0; the per-process failure counters must be 0
 * for a fixture that just sits there. */
static mg_stats run(const mg_patterns *p, const mg_settings *s, collector *c)
{
    mg_sink sink = collector_sink(c);
    mg_stats st;
    memset(&st, 0, sizeof st);
    mg_error err = {{0}};
    int rc = mg_scan(p, s, &sink, &st, &err);
    cr_assert_eq(rc, 0, "mg_scan: %d %s: %s", rc, mg_strerror(rc), err.message);
    cr_assert_eq(st.matches, c->n, "stats.matches %" PRIu64 ", sink got %zu", st.matches, c->n);
    cr_assert_eq(st.processes_failed, 0u);
    cr_assert_eq(st.events[MG_EVENT_GONE] + st.events[MG_EVENT_PERMISSION], 0u,
                 "gone/permission events for a live fixture");
    return st;
}

/* Literal patterns for every plant name of kind plain/noread/wide/upper;
 * expected: the plants of `expect_kinds` with those names. */
static void literal_case(unsigned flags, bool include_noread, const char *expect_kinds,
                         const char *what)
{
    start();
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain,noread,wide,upper", flags, names, 32);
    compile_patterns(p);
    want w[MAXW];
    size_t nw = want_plants(w, 0, MAXW, &fx, fx.pid, expect_kinds, names, n);

    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    s.include_noread = include_noread;
    collector c = {0};
    mg_stats st = run(p, &s, &c);
    assert_exact_hits(&c, w, nw, what);
    cr_assert_eq(st.processes_scanned, 1u);
    cr_assert_gt(st.bytes_not_present, 0u, "the 80 MiB region is mostly untouched");
    /* The PROT_NONE page and the reservation around the big region. */
    if (!include_noread)
        cr_assert_gt(st.bytes_skipped_noread, 0u);
    collector_free(&c);
    mg_patterns_free(&p);
}

Test(scan, default_flags)
{
    literal_case(0, false, "plain", "default flags");
}

Test(scan, include_noread)
{
    literal_case(0, true, "plain,noread", "include_noread");
}

Test(scan, caseless)
{
    literal_case(MG_PATTERN_CASELESS, false, "plain,upper", "caseless");
}

Test(scan, wide)
{
    literal_case(MG_PATTERN_WIDE, false, "plain,wide", "wide");
}

Test(scan, region_of_each_plant)
{
    /* The region reported with a match holds it and has the right kind. */
    start();
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain,noread", 0, names, 32);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    s.include_noread = true;
    collector c = {0};
    run(p, &s, &c);
    static const struct {
        const char *name;
        mg_region_kind kind;
        const char *perms;
    } where[] = {
        {"heap", MG_REGION_HEAP, "rw-p"},    {"stack", MG_REGION_STACK, "rw-p"},
        {"tstack", MG_REGION_ANON, "rw-p"},  {"big", MG_REGION_ANON, "rw-p"},
        {"pfclean", MG_REGION_FILE, "rw-p"}, {"pfcow", MG_REGION_FILE, "rw-p"},
        {"memfd", MG_REGION_SHM, "rw-s"},    {"shanon", MG_REGION_SHM, "rw-s"},
        {"thp", MG_REGION_ANON, "rw-p"},     {"noread", MG_REGION_ANON, "---p"},
    };
    for (size_t i = 0; i < c.n; i++) {
        const hit *h = &c.hits[i];
        cr_assert_lt(h->pattern_id, n);
        cr_assert(h->addr >= h->region_start && h->addr + h->len <= h->region_end,
                  "match 0x%" PRIx64 " outside its region 0x%" PRIx64 "-0x%" PRIx64, h->addr,
                  h->region_start, h->region_end);
        for (size_t k = 0; k < sizeof where / sizeof where[0]; k++)
            if (!strcmp(names[h->pattern_id], where[k].name)) {
                cr_assert_eq(h->region_kind, where[k].kind, "%s: region kind %d want %d",
                             where[k].name, h->region_kind, where[k].kind);
                cr_assert_str_eq(h->perms, where[k].perms, "%s", where[k].name);
            }
    }
    /* The big region is its own VMA: the first copy starts it and the last
     * ends it. */
    uint64_t blen;
    uint64_t big = fixture_info(&fx, "big", &blen);
    cr_assert_neq(big, 0u);
    for (size_t i = 0; i < c.n; i++)
        if (!strcmp(names[c.hits[i].pattern_id], "big")) {
            cr_assert_eq(c.hits[i].region_start, big);
            cr_assert_eq(c.hits[i].region_end, big + blen);
        }
    collector_free(&c);
    mg_patterns_free(&p);
}

Test(scan, hex)
{
    start();
    /* 00 ?? MARKER(one byte wild) 7f ?? */
    char *m = fixture_marker(&fx, "hex");
    size_t ml = strlen(m);
    char pat[512] = "00 ?? ";
    size_t o = strlen(pat);
    for (size_t i = 0; i < ml; i++)
        o += (size_t)(i == 5 ? sprintf(pat + o, "?? ") : sprintf(pat + o, "%02x ", (uint8_t)m[i]));
    strcat(pat, "7f ??");
    free(m);
    /* The heap marker as hex without wildcards or spaces. */
    char *hm = fixture_marker(&fx, "heap");
    char pat2[256] = "";
    for (size_t i = 0; hm[i]; i++)
        sprintf(pat2 + 2 * i, "%02X", (uint8_t)hm[i]);
    free(hm);

    mg_patterns *p = patterns_new();
    cr_assert_eq(add_pattern(p, MG_PATTERN_HEX, pat, strlen(pat), 0), 0u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_HEX, pat2, strlen(pat2), 0), 1u);
    compile_patterns(p);
    char names[2][32] = {"hex", "heap"};
    want w[8];
    size_t nw = want_plants(w, 0, 8, &fx, fx.pid, "hex", names, 1);
    nw = want_plants(w, nw, 8, &fx, fx.pid, "plain", names, 2);
    cr_assert_eq(nw, 2u);

    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    collector c = {0};
    run(p, &s, &c);
    assert_exact_hits(&c, w, nw, "hex");
    collector_free(&c);
    mg_patterns_free(&p);
}

Test(scan, regex)
{
    start();
    char *re = NULL, *re2 = NULL, *re3 = NULL, *re4 = NULL, *re5 = NULL;
    const char *t = fx.token;
    cr_assert_gt(asprintf(&re, "mgt-%s-re=[0-9]{1,12};", t), 0); /* bounded */
    cr_assert_gt(asprintf(&re2, "mgt-%s-re=[0-9]+;", t), 0); /* unbounded */
    cr_assert_gt(asprintf(&re3, "mgt-%s-(heap|stack|tstack);", t), 0); /* alternation */
    cr_assert_gt(asprintf(&re4, "mgt-%s-wi[a-z]e;", t), 0); /* + WIDE */
    cr_assert_gt(asprintf(&re5, "MGT-%s-CAS[E];", t), 0); /* + CASELESS */
    mg_patterns *p = patterns_new();
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re, strlen(re), 0), 0u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re2, strlen(re2), 0), 1u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re3, strlen(re3), 0), 2u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re4, strlen(re4), MG_PATTERN_WIDE), 3u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re5, strlen(re5), MG_PATTERN_CASELESS), 4u);
    compile_patterns(p);

    want w[32];
    size_t nw = 0;
    for (size_t i = 0; i < fx.n_plants; i++) {
        const plant *pl = &fx.plants[i];
        want x = {.pid = fx.pid, .addr = pl->addr, .len = pl->len};
        if (!strcmp(pl->kind, "regex")) {
            x.pattern_id = 0;
            w[nw++] = x;
            x.pattern_id = 1;
            w[nw++] = x;
        } else if (!strcmp(pl->kind, "plain") &&
                   (!strcmp(pl->name, "heap") || !strcmp(pl->name, "stack") ||
                    !strcmp(pl->name, "tstack"))) {
            x.pattern_id = 2;
            w[nw++] = x;
        } else if (!strcmp(pl->name, "wide") && strcmp(pl->kind, "upper")) {
            x.pattern_id = 3;
            x.wide = !strcmp(pl->kind, "wide");
            w[nw++] = x;
        } else if (!strcmp(pl->name, "case")) {
            x.pattern_id = 4;
            w[nw++] = x;
        }
    }
    cr_assert_eq(nw, 11u, "fixture plants changed? %zu expected matches", nw);

    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    collector c = {0};
    run(p, &s, &c);
    assert_exact_hits(&c, w, nw, "regex");
    collector_free(&c);
    mg_patterns_free(&p);
    free(re);
    free(re2);
    free(re3);
    free(re4);
    free(re5);
}

/* Context bytes: what /proc/PID/mem holds around each match; for the ctx
 * plant, the known neighbours and the full width. */
static void check_context(size_t context)
{
    start();
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain", 0, names, 32);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    s.context = context;
    collector c = {0};
    run(p, &s, &c);
    want w[MAXW];
    size_t nw = want_plants(w, 0, MAXW, &fx, fx.pid, "plain", names, n);
    assert_exact_hits(&c, w, nw, "context run");

    uint64_t blen;
    uint64_t big = fixture_info(&fx, "big", &blen);
    bool saw_ctx = false;
    uint8_t *mem = malloc(2 * context + 256);
    for (size_t i = 0; i < c.n; i++) {
        const hit *h = &c.hits[i];
        const char *name = names[h->pattern_id];
        cr_assert_leq(h->before, context);
        cr_assert_leq(h->after, context);
        size_t total = h->before + h->len + h->after;
        ssize_t got = read_mem(fx.pid, h->addr - h->before, mem, total);
        cr_assert_eq(got, (ssize_t)total, "read_mem: %zd", got);
        cr_assert_eq(memcmp(h->data, mem, total), 0,
                     "%s at 0x%" PRIx64 ": context differs from the target's memory", name,
                     h->addr);
        if (!strcmp(name, "ctx")) {
            saw_ctx = true;
            cr_assert_eq(h->before, context, "ctx: before %zu", h->before);
            cr_assert_eq(h->after, context, "ctx: after %zu", h->after);
            for (size_t k = 0; k < h->before; k++)
                cr_assert_eq(h->data[k], fixture_ctx_byte((long)k - (long)h->before),
                             "ctx: byte %zd before", (ssize_t)k - (ssize_t)h->before);
            for (size_t k = 0; k < h->after; k++)
                cr_assert_eq(h->data[h->before + h->len + k], fixture_ctx_byte((long)(h->len + k)),
                             "ctx: byte %zu after", k);
        }
        /* Full context, clamped only by the region (around the big region
         * is PROT_NONE reservation) and by pages that are not present
         * (which must not be faulted in to show context). */
        uint64_t rs, re;
        cr_assert_eq(present_run(fx.pid, h->addr, h->region_start, h->region_end, &rs, &re), 0);
        uint64_t want_before = h->addr - rs < context ? h->addr - rs : context;
        uint64_t want_after = re - (h->addr + h->len) < context ? re - (h->addr + h->len) : context;
        cr_expect_eq(h->before, want_before,
                     "%s at 0x%" PRIx64 ": before %zu, want %" PRIu64 " (present 0x%" PRIx64
                     "-0x%" PRIx64 ")",
                     name, h->addr, h->before, want_before, rs, re);
        cr_expect_eq(h->after, want_after,
                     "%s at 0x%" PRIx64 ": after %zu, want %" PRIu64 " (present 0x%" PRIx64
                     "-0x%" PRIx64 ")",
                     name, h->addr, h->after, want_after, rs, re);
        if (h->addr == big)
            cr_assert_eq(h->before, 0u);
        if (h->addr + h->len == big + blen)
            cr_assert_eq(h->after, 0u);
    }
    cr_assert(saw_ctx);
    free(mem);
    collector_free(&c);
    mg_patterns_free(&p);
}

Test(scan, context_64)
{
    check_context(64);
}

Test(scan, context_4096)
{
    check_context(4096);
}

Test(scan, context_over_limit_rejected)
{
    start();
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, "whatever", 8, 0);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    s.context = 4097;
    collector c = {0};
    mg_sink sink = collector_sink(&c);
    mg_stats st;
    mg_error err = {{0}};
    int rc = mg_scan(p, &s, &sink, &st, &err);
    cr_assert_lt(rc, 0, "context 4097 accepted");
    cr_assert_neq(err.message[0], '\0', "no message");
    mg_patterns_free(&p);
}

/* More workers than MG_MAX_THREADS: -EINVAL, before any is started. */
Test(scan, threads_over_limit_rejected)
{
    start();
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, "whatever", 8, 0);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    s.threads = MG_MAX_THREADS + 1;
    collector c = {0};
    mg_sink sink = collector_sink(&c);
    mg_stats st;
    mg_error err = {{0}};
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), -EINVAL);
    cr_assert(strstr(err.message, "MG_MAX_THREADS"), "message: %s", err.message);
    cr_assert_eq(c.n, 0u);
    mg_patterns_free(&p);
}

Test(scan, same_set_for_every_chunk_size_thread_count_and_reader)
{
    start();
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain,noread,wide,upper", 0, names, 32);
    compile_patterns(p);
    want w[MAXW];
    size_t nw = want_plants(w, 0, MAXW, &fx, fx.pid, "plain", names, n);
    mg_settings def;
    mg_default_settings(&def);
    struct {
        size_t chunk;
        unsigned threads;
        mg_mem_reader reader;
        bool dedupe;
    } variants[] = {
        {4096, 0, MG_MEM_READER_AUTO, true},
        {65536, 0, MG_MEM_READER_AUTO, true},
        {def.chunk_size, 0, MG_MEM_READER_AUTO, true},
        {def.chunk_size, 0, MG_MEM_READER_AUTO, false},
        {4096, 1, MG_MEM_READER_PREAD, false},
        {2 << 20, 2, MG_MEM_READER_PREAD, true},
        {def.chunk_size, 1, MG_MEM_READER_URING, true},
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        mg_settings s;
        settings_for(&s, &fx.pid, 1);
        s.chunk_size = variants[i].chunk;
        s.threads = variants[i].threads;
        s.mem_reader = variants[i].reader;
        collector c = {0};
        mg_stats st = run(p, &s, &c);
        char what[128];
        snprintf(what, sizeof what, "chunk %zu threads %u reader %d", variants[i].chunk,
                 variants[i].threads, variants[i].reader);
        assert_exact_hits(&c, w, nw, what);
        if (variants[i].reader == MG_MEM_READER_PREAD)
            cr_assert_str_eq(st.mem_reader, "pread");
        collector_free(&c);
    }
    mg_patterns_free(&p);
}

/* Two processes map the same file pages: each match is reported in each,
 * at that process's address, with de-duplication on (scanned once,
 * replayed) and off. */
Test(scan, shared_file_pages_in_two_processes)
{
    need_root();
    char tok[17];
    random_token(tok);
    char marker[64];
    int ml = snprintf(marker, sizeof marker, "mgt-%s-sharedfile;", tok);
    char path[] = "/tmp/mg-shared-file-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const size_t flen = 6 * 4096, offs[] = {100, 5000, 8192 - 7, flen - (size_t)ml};
    uint8_t *content = calloc(1, flen);
    for (size_t i = 0; i < flen; i++)
        content[i] = (uint8_t)(i * 13 + 1);
    for (size_t i = 0; i < 4; i++)
        memcpy(content + offs[i], marker, (size_t)ml);
    cr_assert_eq(write(fd, content, flen), (ssize_t)flen);
    close(fd);
    free(content);

    const char *args[] = {"--map-file", path, NULL};
    fixture_start(&fx, args);
    fixture_start(&fx2, args);
    unlink(path);
    uint64_t a1 = fixture_info(&fx, "mapfile", NULL), a2 = fixture_info(&fx2, "mapfile", NULL);
    cr_assert(a1 && a2);

    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, marker, (size_t)ml, 0);
    compile_patterns(p);
    want w[8];
    for (size_t i = 0; i < 4; i++) {
        w[i] = (want){.pid = fx.pid, .addr = a1 + offs[i], .len = (uint64_t)ml};
        w[4 + i] = (want){.pid = fx2.pid, .addr = a2 + offs[i], .len = (uint64_t)ml};
    }
    pid_t pids[2] = {fx.pid, fx2.pid};
    for (int dedupe = 1; dedupe >= 0; dedupe--) {
        mg_settings s;
        settings_for(&s, pids, 2);
        s.dedupe = dedupe;
        s.context = 16;
        collector c = {0};
        mg_stats st = run(p, &s, &c);
        assert_exact_hits(&c, w, 8, dedupe ? "shared file, dedupe" : "shared file, no dedupe");
        if (dedupe)
            cr_assert_gt(st.bytes_deduped, 0u, "the second mapping of the file was scanned again");
        else
            cr_assert_eq(st.bytes_deduped, 0u);
        /* Replayed context is this process's bytes too. */
        for (size_t i = 0; i < c.n; i++) {
            uint8_t mem[64 + 32];
            const hit *h = &c.hits[i];
            size_t total = h->before + h->len + h->after;
            cr_assert_eq(read_mem(h->pid, h->addr - h->before, mem, total), (ssize_t)total);
            cr_assert_eq(memcmp(mem, h->data, total), 0, "pid %d 0x%" PRIx64 ": context differs",
                         h->pid, h->addr);
        }
        collector_free(&c);
    }
    mg_patterns_free(&p);
}

Test(scan, max_count)
{
    start();
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain", 0, names, 32);
    compile_patterns(p);
    want w[MAXW];
    size_t nw = want_plants(w, 0, MAXW, &fx, fx.pid, "plain", names, n);
    const uint64_t limits[] = {1, 3};
    for (size_t li = 0; li < 2; li++) {
        mg_settings s;
        settings_for(&s, &fx.pid, 1);
        s.max_count = limits[li];
        collector c = {0};
        run(p, &s, &c);
        /* Per pattern: min(limit, planted) distinct expected matches. */
        for (unsigned id = 0; id < n; id++) {
            uint64_t planted = 0, got = 0;
            for (size_t k = 0; k < nw; k++)
                planted += w[k].pattern_id == id;
            for (size_t j = 0; j < c.n; j++) {
                if (c.hits[j].pattern_id != id)
                    continue;
                got++;
                bool expected = false;
                for (size_t k = 0; k < nw; k++)
                    expected |= w[k].addr == c.hits[j].addr && w[k].pattern_id == id;
                cr_assert(expected, "max_count %" PRIu64 ": unexpected 0x%" PRIx64, limits[li],
                          c.hits[j].addr);
                for (size_t k = 0; k < j; k++)
                    cr_assert(!(c.hits[k].addr == c.hits[j].addr && c.hits[k].pattern_id == id),
                              "reported twice");
            }
            uint64_t want_n = planted < limits[li] ? planted : limits[li];
            cr_assert_eq(got, want_n,
                         "max_count %" PRIu64 ": pattern %s got %" PRIu64 " want %" PRIu64,
                         limits[li], names[id], got, want_n);
        }
        collector_free(&c);
    }
    mg_patterns_free(&p);
}

/* max_count holds per process for matches replayed from memory shared
 * with another process (de-duplication) as for scanned ones. */
Test(scan, max_count_with_shared_pages)
{
    need_root();
    const char *args[] = {"--fork", NULL};
    fixture_start(&fx, args);
    pid_t pids[2] = {fx.pid, fx.child};
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain", 0, names, 32);
    compile_patterns(p);
    for (int dedupe = 1; dedupe >= 0; dedupe--) {
        mg_settings s;
        settings_for(&s, pids, 2);
        s.dedupe = dedupe;
        s.max_count = 2;
        collector c = {0};
        run(p, &s, &c);
        for (int k = 0; k < 2; k++)
            for (unsigned id = 0; id < n; id++) {
                size_t got = 0;
                for (size_t j = 0; j < c.n; j++)
                    got += c.hits[j].pid == pids[k] && c.hits[j].pattern_id == id;
                /* Names with several copies in private memory (big, thp,
                 * fork): exactly 2 in each process. Single plants: at most
                 * one (memfd and shanon are not present in the child). */
                size_t copies = 0;
                for (size_t i = 0; i < fx.n_plants; i++)
                    copies += !strcmp(fx.plants[i].name, names[id]) &&
                              !strcmp(fx.plants[i].kind, "plain");
                if (copies >= 2)
                    cr_assert_eq(got, 2u, "dedupe %d, %s: %zu %s matches with max_count 2", dedupe,
                                 k ? "child" : "parent", got, names[id]);
                else
                    cr_assert_leq(got, 1u, "dedupe %d, %s: %zu %s matches", dedupe,
                                  k ? "child" : "parent", got, names[id]);
            }
        collector_free(&c);
    }
    mg_patterns_free(&p);
}

/* The sink's replies: NEXT_PROCESS ends that process only, STOP ends all:
 * no match of that process (or at all) reaches the sink afterwards. */
static void sink_reply_case(int reply)
{
    need_root();
    fixture_start(&fx, NULL);
    fixture_start(&fx2, NULL);
    mg_patterns *p = patterns_new();
    char names[64][32];
    size_t n = add_plant_literals(p, &fx, "plain", 0, names, 64);
    size_t n2 = add_plant_literals(p, &fx2, "plain", 0, names + n, 64 - n);
    compile_patterns(p);
    want w[2 * MAXW];
    size_t nw = want_plants(w, 0, 2 * MAXW, &fx, fx.pid, "plain", names, n);
    /* fx2's names sit at ids n.. */
    for (size_t i = 0; i < fx2.n_plants; i++) {
        const plant *pl = &fx2.plants[i];
        if (strcmp(pl->kind, "plain"))
            continue;
        for (size_t id = 0; id < n2; id++)
            if (!strcmp(names[n + id], pl->name))
                w[nw++] = (want){.pid = fx2.pid,
                                 .addr = pl->addr,
                                 .len = pl->len,
                                 .pattern_id = (unsigned)(n + id)};
    }
    pid_t pids[2] = {fx.pid, fx2.pid};
    mg_settings s;
    settings_for(&s, pids, 2);
    /* Two workers; the sink dawdles, so the other worker's matches are
     * waiting for it when it replies: they must not be delivered. */
    s.threads = 2;
    collector c = {.reply = reply, .delay_ms = 20};
    run(p, &s, &c);
    size_t per[2] = {0, 0};
    for (size_t j = 0; j < c.n; j++) {
        bool expected = false;
        for (size_t k = 0; k < nw; k++)
            expected |= w[k].pid == c.hits[j].pid && w[k].addr == c.hits[j].addr &&
                        w[k].pattern_id == c.hits[j].pattern_id;
        cr_assert(expected, "unexpected match pid %d 0x%" PRIx64, c.hits[j].pid, c.hits[j].addr);
        per[c.hits[j].pid == fx2.pid]++;
    }
    if (reply == MG_SINK_NEXT_PROCESS) {
        cr_assert_eq(per[0], 1u, "NEXT_PROCESS: %zu matches in the first fixture", per[0]);
        cr_assert_eq(per[1], 1u, "NEXT_PROCESS: %zu matches in the second fixture", per[1]);
    } else {
        cr_assert_eq(c.n, 1u, "STOP: %zu matches", c.n);
    }
    collector_free(&c);
    mg_patterns_free(&p);
}

Test(scan, sink_next_process)
{
    sink_reply_case(MG_SINK_NEXT_PROCESS);
}

Test(scan, sink_stop)
{
    sink_reply_case(MG_SINK_STOP);
}

/* ---- argument errors: no root needed ---- */

Test(scan, bad_pids)
{
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, "never-planted", 13, 0);
    compile_patterns(p);
    collector c = {0};
    mg_sink sink = collector_sink(&c);
    mg_stats st;
    mg_error err = {{0}};
    mg_settings s;

    pid_t self = getpid();
    settings_for(&s, &self, 1);
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), MG_EBADPID, "scanning ourselves");
    cr_assert_neq(err.message[0], '\0');

    pid_t gone = dead_pid();
    memset(&err, 0, sizeof err);
    settings_for(&s, &gone, 1);
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), MG_EBADPID, "scanning a reaped pid");
    char num[16];
    snprintf(num, sizeof num, "%d", (int)gone);
    cr_assert(strstr(err.message, num), "message \"%s\" does not name pid %s", err.message, num);
    cr_assert_eq(c.n, 0u);
    mg_patterns_free(&p);
}

Test(scan, uncompiled_set)
{
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, "x", 1, 0);
    collector c = {0};
    mg_sink sink = collector_sink(&c);
    mg_stats st;
    mg_error err = {{0}};
    mg_settings s;
    pid_t one = 1;
    settings_for(&s, &one, 1);
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), MG_ENOTCOMPILED);
    mg_patterns_free(&p);
}
