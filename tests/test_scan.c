/* test_scan.c - mg_scan against a live fixture process: the exact set of
 * (pid, address, pattern) for each kind of pattern and setting. Needs root. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "os/maps.h"
#include "util.h"

#define MAXW 256

static fixture fx, fx2;
#define N_MANY 5
static fixture many[N_MANY];

static void stop_all(void)
{
    fixture_stop(&fx);
    fixture_stop(&fx2);
    for (int i = 0; i < N_MANY; i++)
        fixture_stop(&many[i]);
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

static void default_flags(void)
{
    literal_case(0, false, "plain", "default flags");
}
RESIDENCY_TESTS(scan, default_flags, default_flags)

static void include_noread(void)
{
    literal_case(0, true, "plain,noread", "include_noread");
}
RESIDENCY_TESTS(scan, include_noread, include_noread)

static void caseless(void)
{
    literal_case(MG_PATTERN_CASELESS, false, "plain,upper", "caseless");
}
RESIDENCY_TESTS(scan, caseless, caseless)

static void wide(void)
{
    literal_case(MG_PATTERN_WIDE, false, "plain,wide", "wide");
}
RESIDENCY_TESTS(scan, wide, wide)

#define MALLOCED ((mg_region_kind)-1)

static void region_of_each_plant(void)
{
    /* The region reported with a match holds it and has the right kind. */
    start();
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain,noread", 0, names, 32);
    compile_patterns(p);
    want w[MAXW];
    size_t nw = want_plants(w, 0, MAXW, &fx, fx.pid, "plain,noread", names, n);
    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    s.include_noread = true;
    collector c = {0};
    run(p, &s, &c);
    assert_exact_hits(&c, w, nw, "region_of_each_plant");
    static const struct {
        const char *name;
        mg_region_kind kind;
        const char *perms;
    } where[] = {
        {"heap", MG_REGION_HEAP, "rw-p"},
        {"stack", MG_REGION_STACK, "rw-p"},
        {"tstack", MG_REGION_ANON, "rw-p"},
        {"big", MG_REGION_ANON, "rw-p"},
        {"pfclean", MG_REGION_FILE, "rw-p"},
        {"pfcow", MG_REGION_FILE, "rw-p"},
        {"memfd", MG_REGION_SHM, "rw-s"},
        {"shanon", MG_REGION_SHM, "rw-s"},
        {"thp", MG_REGION_ANON, "rw-p"},
        {"noread", MG_REGION_ANON, "---p"},
        /* malloc'd: [heap], or anon memory under a sanitizer's allocator */
        {"wide", MALLOCED, "rw-p"},
        {"case", MALLOCED, "rw-p"},
        {"ctx", MALLOCED, "rw-p"},
    };
    uint64_t blen;
    uint64_t big = fixture_info(&fx, "big", &blen);
    cr_assert_neq(big, 0u);
    /* Every expected match (exactly the set above) is checked: the table
     * names each plant kind the fixture has. */
    size_t checked = 0;
    for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
        size_t n_name = 0;
        for (size_t i = 0; i < c.n; i++) {
            const hit *h = &c.hits[i];
            cr_assert_lt(h->pattern_id, n);
            if (strcmp(names[h->pattern_id], where[k].name))
                continue;
            n_name++;
            cr_assert(h->addr >= h->region_start && h->addr + h->len <= h->region_end,
                      "%s: match 0x%" PRIx64 " outside its region 0x%" PRIx64 "-0x%" PRIx64,
                      where[k].name, h->addr, h->region_start, h->region_end);
            if (where[k].kind == MALLOCED)
                cr_assert(h->region_kind == MG_REGION_HEAP || h->region_kind == MG_REGION_ANON,
                          "%s: region kind %d", where[k].name, h->region_kind);
            else
                cr_assert_eq(h->region_kind, where[k].kind, "%s: region kind %d want %d",
                             where[k].name, h->region_kind, where[k].kind);
            cr_assert_str_eq(h->perms, where[k].perms, "%s", where[k].name);
            /* The big region is its own VMA: the first copy starts it and
             * the last ends it. */
            if (!strcmp(where[k].name, "big")) {
                cr_assert_eq(h->region_start, big);
                cr_assert_eq(h->region_end, big + blen);
            }
        }
        cr_assert_gt(n_name, 0u, "no match for plant %s", where[k].name);
        checked += n_name;
    }
    cr_assert_eq(checked, nw, "%zu matches checked, %zu expected: a plant without a row", checked,
                 nw);
    collector_free(&c);
    mg_patterns_free(&p);
}
RESIDENCY_TESTS(scan, region_of_each_plant, region_of_each_plant)

static void hex(void)
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
RESIDENCY_TESTS(scan, hex, hex)

static void regex(void)
{
    start();
    char *re = NULL, *re2 = NULL, *re3 = NULL, *re4 = NULL, *re5 = NULL, *re6 = NULL;
    const char *t = fx.token;
    cr_assert_gt(asprintf(&re, "mgt-%s-re=[0-9]{1,12};", t), 0); /* bounded */
    cr_assert_gt(asprintf(&re2, "mgt-%s-re=[0-9]+;", t), 0); /* unbounded */
    cr_assert_gt(asprintf(&re3, "mgt-%s-(heap|stack|tstack);", t), 0); /* alternation */
    cr_assert_gt(asprintf(&re4, "mgt-%s-wi[a-z]e;", t), 0); /* + WIDE */
    cr_assert_gt(asprintf(&re5, "MGT-%s-CAS[E];", t), 0); /* + CASELESS */
    /* no terminator: it ends after every digit; one match, the longest */
    cr_assert_gt(asprintf(&re6, "mgt-%s-re=[0-9]+", t), 0);
    mg_patterns *p = patterns_new();
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re, strlen(re), 0), 0u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re2, strlen(re2), 0), 1u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re3, strlen(re3), 0), 2u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re4, strlen(re4), MG_PATTERN_WIDE), 3u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re5, strlen(re5), MG_PATTERN_CASELESS), 4u);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re6, strlen(re6), 0), 5u);
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
            x.pattern_id = 5;
            x.len = pl->len - 1; /* without the ';' */
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
    cr_assert_eq(nw, 13u, "fixture plants changed? %zu expected matches", nw);

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
    free(re6);
}
RESIDENCY_TESTS(scan, regex, regex)

/* Context bytes: what /proc/PID/mem holds around each match; for the ctx
 * plant, the known neighbours and the full width. The expected widths come
 * from pagemap BEFORE the scan (a scan that faulted pages in would
 * otherwise make its own expectation), and pagemap must say the same after
 * it. */
static void check_context(size_t context)
{
    start();
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain", 0, names, 32);
    compile_patterns(p);
    want w[MAXW];
    size_t nw = want_plants(w, 0, MAXW, &fx, fx.pid, "plain", names, n);

    /* Each plant's region (from maps) and run of present pages in it. */
    struct {
        uint64_t rs, re; /* region */
        uint64_t ps, pe; /* present run around the plant */
    } exp[MAXW];
    mg_maps maps;
    cr_assert_eq(mg_maps_read(fx.pid, &maps), 0);
    for (size_t k = 0; k < nw; k++) {
        const mg_region *r = NULL;
        for (size_t i = 0; i < maps.n && !r; i++)
            if (maps.regions[i].start <= w[k].addr && w[k].addr < maps.regions[i].end)
                r = &maps.regions[i];
        cr_assert(r, "plant at 0x%" PRIx64 " in no region", w[k].addr);
        exp[k].rs = r->start;
        exp[k].re = r->end;
        cr_assert_eq(present_run(fx.pid, w[k].addr, r->start, r->end, &exp[k].ps, &exp[k].pe), 0);
    }
    mg_maps_free(&maps);

    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    s.context = context;
    collector c = {0};
    run(p, &s, &c);
    assert_exact_hits(&c, w, nw, "context run");

    uint64_t blen;
    uint64_t big = fixture_info(&fx, "big", &blen);
    bool saw_ctx = false;
    uint8_t *mem = malloc(2 * context + 256);
    for (size_t k = 0; k < nw; k++) {
        const hit *h = NULL;
        for (size_t i = 0; i < c.n && !h; i++)
            if (c.hits[i].addr == w[k].addr && c.hits[i].pattern_id == w[k].pattern_id)
                h = &c.hits[i];
        cr_assert(h);
        const char *name = names[h->pattern_id];
        cr_assert_eq(h->region_start, exp[k].rs, "%s: region start", name);
        cr_assert_eq(h->region_end, exp[k].re, "%s: region end", name);
        /* Residency is what it was: the scan faulted nothing in. */
        uint64_t ps, pe;
        cr_assert_eq(present_run(fx.pid, h->addr, exp[k].rs, exp[k].re, &ps, &pe), 0);
        cr_assert(ps == exp[k].ps && pe == exp[k].pe,
                  "%s at 0x%" PRIx64 ": present pages 0x%" PRIx64 "-0x%" PRIx64
                  " before the scan, 0x%" PRIx64 "-0x%" PRIx64 " after",
                  name, h->addr, exp[k].ps, exp[k].pe, ps, pe);
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
            for (size_t i = 0; i < h->before; i++)
                cr_assert_eq(h->data[i], fixture_ctx_byte((long)i - (long)h->before),
                             "ctx: byte %zd before", (ssize_t)i - (ssize_t)h->before);
            for (size_t i = 0; i < h->after; i++)
                cr_assert_eq(h->data[h->before + h->len + i], fixture_ctx_byte((long)(h->len + i)),
                             "ctx: byte %zu after", i);
        }
        /* Full context, clamped only by the region (around the big region
         * is PROT_NONE reservation) and by pages that are not present
         * (which must not be faulted in to show context). */
        uint64_t want_before = MG_MIN(h->addr - exp[k].ps, (uint64_t)context);
        uint64_t want_after = MG_MIN(exp[k].pe - (h->addr + h->len), (uint64_t)context);
        cr_expect_eq(h->before, want_before,
                     "%s at 0x%" PRIx64 ": before %zu, want %" PRIu64 " (present 0x%" PRIx64
                     "-0x%" PRIx64 ")",
                     name, h->addr, h->before, want_before, exp[k].ps, exp[k].pe);
        cr_expect_eq(h->after, want_after,
                     "%s at 0x%" PRIx64 ": after %zu, want %" PRIu64 " (present 0x%" PRIx64
                     "-0x%" PRIx64 ")",
                     name, h->addr, h->after, want_after, exp[k].ps, exp[k].pe);
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

static void context_64(void)
{
    check_context(64);
}
RESIDENCY_TESTS(scan, context_64, context_64)

static void context_4096(void)
{
    check_context(4096);
}
RESIDENCY_TESTS(scan, context_4096, context_4096)

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

/* The forked fixture's parent, scanned alone: every plant but the
 * child-only one. Its 256 MiB region is shared with the child, so those
 * pages must be read through /proc/PID/mem (the reader under test), the
 * rest (not shared) with process_vm_readv. */
typedef struct reader_case {
    size_t chunk;
    unsigned threads;
    mg_mem_reader reader;
    bool dedupe;
    mg_residency residency;
} reader_case;

/* uring_name: what the stats must name as the reader of a variant that
 * asks for io_uring ("pread" where io_uring is refused). */
static void reader_variants(const reader_case *variants, size_t n_variants, const char *uring_name)
{
    need_root();
    const char *args[] = {"--fork", NULL};
    fixture_start(&fx, args);
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain,noread,wide,upper,parent,child", 0, names, 32);
    compile_patterns(p);
    want w[MAXW];
    size_t nw = want_plants(w, 0, MAXW, &fx, fx.pid, "plain,parent", names, n);
    /* The shared pages, from pagemap before any scan. */
    uint64_t flen, shared = 0, own = 0;
    uint64_t fork_region = fixture_info(&fx, "fork-region", &flen);
    cr_assert_neq(fork_region, 0u);
    cr_assert_eq(classify_pages(fx.pid, fork_region, fork_region + flen, &shared, &own), 0);
    cr_assert_geq(shared, flen - (16u << 10), "fork region: only %" PRIu64 " bytes shared", shared);
    for (size_t i = 0; i < n_variants; i++) {
        const reader_case *v = &variants[i];
        mg_settings s;
        settings_for(&s, &fx.pid, 1);
        s.chunk_size = v->chunk;
        s.threads = v->threads;
        s.mem_reader = v->reader;
        s.dedupe = v->dedupe;
        s.residency = v->residency;
        collector c = {0};
        mg_stats st = run(p, &s, &c);
        char what[128];
        snprintf(what, sizeof what, "chunk %zu threads %u reader %d dedupe %d residency %d",
                 v->chunk, v->threads, v->reader, v->dedupe, v->residency);
        assert_exact_hits(&c, w, nw, what);
        cr_assert_geq(st.bytes_read_mem, shared,
                      "%s: %" PRIu64 " bytes read from /proc/PID/mem, %" PRIu64 " shared", what,
                      st.bytes_read_mem, shared);
        cr_assert_gt(st.bytes_read_pvr, 0u, "%s: nothing read with process_vm_readv", what);
        cr_assert(st.mem_reader, "%s: no mem_reader in stats", what);
        if (v->reader == MG_MEM_READER_URING)
            cr_assert_str_eq(st.mem_reader, uring_name, "%s", what);
        else if (v->reader == MG_MEM_READER_PREAD)
            cr_assert_str_eq(st.mem_reader, "pread", "%s", what);
        else
            cr_assert(!strcmp(st.mem_reader, "pread") || !strcmp(st.mem_reader, "io_uring"),
                      "%s: mem_reader \"%s\"", what, st.mem_reader);
        collector_free(&c);
    }
    mg_patterns_free(&p);
}

Test(scan, same_set_for_every_chunk_size_thread_count_and_reader)
{
    mg_settings def;
    mg_default_settings(&def);
    const reader_case variants[] = {
        {4096, 0, MG_MEM_READER_AUTO, true, MG_RESIDENCY_AUTO},
        {65536, 0, MG_MEM_READER_AUTO, true, MG_RESIDENCY_PAGEMAP},
        {def.chunk_size, 0, MG_MEM_READER_AUTO, true, MG_RESIDENCY_AUTO},
        {def.chunk_size, 0, MG_MEM_READER_AUTO, false, MG_RESIDENCY_PAGEMAP},
        {4096, 1, MG_MEM_READER_PREAD, false, MG_RESIDENCY_PAGEMAP},
        {2 << 20, 2, MG_MEM_READER_PREAD, true, MG_RESIDENCY_AUTO},
    };
    reader_variants(variants, sizeof variants / sizeof variants[0], "io_uring");
}

/* Whether this process may set up an io_uring (as reader.c does). */
static bool have_io_uring(void)
{
    struct io_uring ring;
    if (io_uring_queue_init(32, &ring, 0) != 0)
        return false;
    io_uring_queue_exit(&ring);
    return true;
}

/* The forked fixture read with io_uring asked for: the stats name
 * uring_name as the reader. */
static void uring_variants(const char *uring_name)
{
    mg_settings def;
    mg_default_settings(&def);
    const reader_case variants[] = {
        {def.chunk_size, 1, MG_MEM_READER_URING, true, MG_RESIDENCY_AUTO},
        {65536, 2, MG_MEM_READER_URING, false, MG_RESIDENCY_PAGEMAP},
    };
    reader_variants(variants, sizeof variants / sizeof variants[0], uring_name);
}

Test(scan, io_uring_reader)
{
    if (!have_io_uring())
        cr_skip_test("io_uring is not available here (io_uring_queue_init failed: "
                     "kernel.io_uring_disabled or a seccomp filter?)");
    uring_variants("io_uring");
}

/* io_uring asked for where it is refused (a seccomp filter in this test's
 * process, as kernel.io_uring_disabled=2 or a container's profile would
 * refuse it): the same set, the shared pages read with pread, and the
 * stats name pread as the reader, not the one asked for. */
Test(scan, io_uring_refused_reads_with_pread)
{
    need_root();
    refuse_io_uring();
    cr_assert_not(have_io_uring(), "io_uring_queue_init works under the filter refusing it");
    uring_variants("pread");
}

/* ---- pages of the shared zero page ---- */

/* The fixture's pages [start, start + len), read but never written, as
 * this kernel's read faults map them (zero_page_case, printed): every one
 * the shared zero page; or, on kernels without one, every one a fresh
 * zeroed page (present, anonymous, exclusive, each on its own frame), which
 * the engine must read like any other. Returns the pagemap entries of those
 * pages and the `extra` pages after them, to compare after the scans;
 * *zero_pfn: the zero page's frame, 0 where read faults don't map it. */
static uint64_t *check_zero_run(pid_t pid, uint64_t start, uint64_t len, size_t extra,
                                const char *what, uint64_t *zero_pfn)
{
    uint64_t zpfn;
    zero_case zc = zero_page_case(&zpfn);
    *zero_pfn = zpfn;
    if (zc == ZERO_HIDDEN)
        cr_skip_test("page frame numbers are hidden: can't tell the zero page");
    cr_log_info("%s: %s", what, zero_case_text(zc));
    fprintf(stderr, "scan: %s: %s\n", what, zero_case_text(zc));
    uint64_t *e;
    size_t np = (size_t)(len / 4096);
    ssize_t got = pagemap_entries(pid, start, start + len + extra * 4096, &e);
    cr_assert_eq(got, (ssize_t)(np + extra), "pagemap of %s: %zd", what, got);
    for (size_t i = 0; i < np; i++) {
        uint64_t pfn = e[i] & ((1ull << 55) - 1);
        if (zc == ZERO_SHARED) {
            cr_assert(e[i] >> 63 && pfn == zpfn,
                      "%s page %zu (0x%" PRIx64 ") is not the zero page: pagemap %016" PRIx64, what,
                      i, start + i * 4096, e[i]);
            continue;
        }
        cr_assert(e[i] >> 63 && !(e[i] >> 61 & 1) && (e[i] >> 56 & 1) && pfn,
                  "%s page %zu (0x%" PRIx64 ") is not a fresh anonymous page: pagemap %016" PRIx64,
                  what, i, start + i * 4096, e[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(pfn, e[j] & ((1ull << 55) - 1), "%s pages %zu and %zu share a frame",
                          what, j, i);
    }
    return e;
}

/* After the scans: the same pagemap entries as before (nothing faulted
 * in, unshared or replaced); page `absent`, if < n, was not present. */
static void same_pages(pid_t pid, uint64_t start, const uint64_t *before, size_t n, size_t absent,
                       const char *what)
{
    uint64_t *e;
    cr_assert_eq(pagemap_entries(pid, start, start + n * 4096, &e), (ssize_t)n);
    cr_assert(absent >= n || !(before[absent] >> 63), "%s page %zu was present before the scans",
              what, absent);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(e[i], before[i],
                     "%s page %zu (0x%" PRIx64 "): pagemap %016" PRIx64
                     " before the scans, %016" PRIx64 " after",
                     what, i, start + i * 4096, before[i], e[i]);
    free(e);
}

/* Bytes of pid's regions that a scan reads, pages present per pagemap,
 * and those among them on frame zpfn (0: none). */
typedef struct page_count {
    uint64_t total, present, zero;
} page_count;

typedef struct page_counter {
    page_count pc;
    uint64_t zpfn;
} page_counter;

static void count_region(void *ctx, const mg_region *r, const uint64_t *e, size_t np)
{
    page_counter *c = ctx;
    c->pc.total += r->end - r->start;
    for (size_t k = 0; k < np; k++) {
        c->pc.present += (e[k] >> 63) * 4096;
        c->pc.zero += (e[k] >> 63 && c->zpfn && (e[k] & ((1ull << 55) - 1)) == c->zpfn) * 4096;
    }
}

static page_count count_pages(pid_t pid, uint64_t zpfn)
{
    page_counter c = {.zpfn = zpfn};
    each_scanned_region(pid, count_region, &c);
    return c.pc;
}

/* Whether the scan's byte counts agree with pagemap's, counted before
 * (pc0) and after (pc1) it: every present page of the readable regions is
 * scanned and every other page counted not present, each exactly, but for
 * the zero pages when skipped (skip_zero): each of those is counted not
 * present, scanned (as zero bytes, not read) or both, as the path that
 * met it can tell (the pagemap-entries walk can't; a match may start in
 * those before data). So without a zero page both counts are exact. false
 * if pagemap changed meanwhile (the fixture is idle, but a loaded host may
 * reclaim its file pages): then the caller scans again. */
static bool counts_agree(const page_count *pc0, const page_count *pc1, const mg_stats *st,
                         bool skip_zero, const char *what)
{
    if (memcmp(pc0, pc1, sizeof *pc0)) {
        cr_log_warn("%s: the fixture's pages changed during the scan: scanning again", what);
        return false;
    }
    uint64_t zero = skip_zero ? pc0->zero : 0, absent = pc0->total - pc0->present;
    uint64_t scanned = st->bytes_scanned, not_present = st->bytes_not_present;
    cr_assert(scanned + zero >= pc0->present && scanned <= pc0->present && not_present >= absent &&
                  not_present <= absent + zero && scanned + not_present >= pc0->total,
              "%s: %" PRIu64 " bytes scanned, %" PRIu64 " not present; pagemap: %" PRIu64
              " of %" PRIu64 " present, %" PRIu64 " of them the zero page (%s)",
              what, scanned, not_present, pc0->present, pc0->total, pc0->zero,
              skip_zero ? "skipped" : "scanned");
    return true;
}

/* A pattern that needs the data after zero pages (so those pages are
 * skipped) but starts in them: K zero bytes then the zpage marker. Found
 * once at its exact address, for a start in the last zero page and one
 * three pages further back, whatever the chunk size. */
static void zero_pages_then_data(void)
{
    need_root();
    const char *args[] = {"--zero-pages", NULL};
    fixture_start(&fx, args);
    uint64_t zlen;
    uint64_t zrun = fixture_info(&fx, "zero-run", &zlen);
    cr_assert_neq(zrun, 0u);
    const plant *zp = NULL;
    for (size_t i = 0; i < fx.n_plants; i++)
        if (!strcmp(fx.plants[i].kind, "zpage"))
            zp = &fx.plants[i];
    cr_assert(zp && zp->addr == zrun + zlen, "no zpage plant right after the zero pages");
    /* the zero pages, the zpage page, a page never touched */
    uint64_t zpfn;
    uint64_t *before = check_zero_run(fx.pid, zrun, zlen, 2, "zero-run", &zpfn);

    char *m = fixture_marker(&fx, "zpage");
    /* hex "00 00 ... MARKER", and a regex for the long run of zeros */
    const size_t zeros[] = {64, 2 * 4096 + 100};
    mg_patterns *p = patterns_new();
    size_t cap = 3 * (zeros[0] + strlen(m)) + 1, o = 0;
    char *hex = malloc(cap);
    for (size_t i = 0; i < zeros[0]; i++)
        o += (size_t)snprintf(hex + o, cap - o, "00 ");
    for (size_t i = 0; m[i]; i++)
        o += (size_t)snprintf(hex + o, cap - o, "%02x ", (uint8_t)m[i]);
    cr_assert_eq(add_pattern(p, MG_PATTERN_HEX, hex, o - 1, 0), 0u);
    free(hex);
    char *re = NULL;
    cr_assert_gt(asprintf(&re, "\\x00{%zu}%s", zeros[1], m), 0);
    cr_assert_eq(add_pattern(p, MG_PATTERN_REGEX, re, strlen(re), 0), 1u);
    free(re);
    compile_patterns(p);
    want w[2];
    for (size_t k = 0; k < 2; k++)
        w[k] = (want){.pid = fx.pid,
                      .addr = zp->addr - zeros[k],
                      .len = zeros[k] + zp->len,
                      .pattern_id = (unsigned)k};
    const size_t chunks[] = {4096, 16384, MG_DEFAULT_CHUNK_SIZE};
    for (size_t ci = 0; ci < 3; ci++) {
        mg_settings s;
        settings_for(&s, &fx.pid, 1);
        s.chunk_size = chunks[ci];
        char what[64];
        snprintf(what, sizeof what, "zeros then data, chunk %zu", chunks[ci]);
        for (int tries = 1;; tries++) {
            collector c = {0};
            page_count pc0 = count_pages(fx.pid, zpfn);
            mg_stats st = run(p, &s, &c);
            page_count pc1 = count_pages(fx.pid, zpfn);
            /* no pattern matches zeros alone: zero pages are skipped */
            bool agree = counts_agree(&pc0, &pc1, &st, true, what);
            cr_assert(agree || tries < 3, "%s: the fixture's pages changed during 3 scans", what);
            if (agree)
                assert_exact_hits(&c, w, 2, what);
            collector_free(&c);
            if (agree)
                break;
        }
    }
    size_t np = (size_t)(zlen / 4096) + 2;
    same_pages(fx.pid, zrun, before, np, np - 1, "zero-run");
    free(before);
    mg_patterns_free(&p);
    free(m);
}
RESIDENCY_TESTS(scan, zero_pages_then_data, zero_pages_then_data)

/* Counts the matches that start in two address ranges, each start once. */
typedef struct zero_count {
    uint64_t start[2], len[2];
    uint8_t *seen[2]; /* per start offset */
    uint64_t n[2], dup, other;
} zero_count;

static int zero_count_match(void *ctx, const mg_match *m)
{
    zero_count *z = ctx;
    for (int k = 0; k < 2; k++)
        if (m->address >= z->start[k] && m->address < z->start[k] + z->len[k]) {
            uint8_t *s = &z->seen[k][m->address - z->start[k]];
            z->dup += *s;
            *s = 1;
            z->n[k]++;
            return MG_SINK_CONTINUE;
        }
    z->other++;
    return MG_SINK_CONTINUE;
}

/* A pattern of zeros alone must be found in zero pages too (they are not
 * skipped then): at every start of both zero regions. */
static void zeros_alone_in_zero_pages(void)
{
    need_root();
    const char *args[] = {"--zero-pages", NULL};
    fixture_start(&fx, args);
    zero_count z = {0};
    const char *what[2] = {"zero-run", "zero-only"};
    const size_t extra[2] = {2, 0}; /* zero-run: the zpage page, a page never touched */
    uint64_t *before[2], zpfn;
    for (int k = 0; k < 2; k++) {
        z.start[k] = fixture_info(&fx, what[k], &z.len[k]);
        cr_assert_neq(z.start[k], 0u, "no INFO %s", what[k]);
        before[k] = check_zero_run(fx.pid, z.start[k], z.len[k], extra[k], what[k], &zpfn);
        z.seen[k] = calloc(1, z.len[k]);
    }
    mg_patterns *p = patterns_new();
    const char *hex = "00 00 00 00 00 00 00 00";
    add_pattern(p, MG_PATTERN_HEX, hex, strlen(hex), 0);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    s.chunk_size = 16384;
    mg_sink sink = {.ctx = &z, .match = zero_count_match};
    mg_stats st;
    for (int tries = 1;; tries++) {
        z.n[0] = z.n[1] = z.dup = z.other = 0;
        for (int k = 0; k < 2; k++)
            memset(z.seen[k], 0, z.len[k]);
        page_count pc0 = count_pages(fx.pid, zpfn);
        mg_error err = {{0}};
        int rc = mg_scan(p, &s, &sink, &st, &err);
        cr_assert_eq(rc, 0, "mg_scan: %d %s: %s", rc, mg_strerror(rc), err.message);
        page_count pc1 = count_pages(fx.pid, zpfn);
        /* zeros alone match: zero pages are scanned like the others */
        bool agree = counts_agree(&pc0, &pc1, &st, false, "zeros alone");
        cr_assert(agree || tries < 3, "the fixture's pages changed during 3 scans");
        if (agree)
            break;
    }
    /* zero-run: its zero pages are followed by the marker (not zero);
     * zero-only: nothing but zero pages. A match starts at every offset
     * with 8 zero bytes after it. */
    for (int k = 0; k < 2; k++) {
        uint64_t want_n = z.len[k] - 7;
        cr_assert_eq(z.n[k], want_n, "%s: %" PRIu64 " matches, want %" PRIu64, what[k], z.n[k],
                     want_n);
        uint64_t i = 0; /* one assertion, not one per byte: slow under TCG */
        while (i < want_n && z.seen[k][i])
            i++;
        cr_assert_eq(i, want_n, "%s: no match at +%" PRIu64, what[k], i);
        free(z.seen[k]);
    }
    cr_assert_eq(z.dup, 0u, "%" PRIu64 " matches reported twice", z.dup);
    cr_assert_eq(st.matches, z.n[0] + z.n[1] + z.other);
    for (int k = 0; k < 2; k++) {
        size_t np = (size_t)(z.len[k] / 4096) + extra[k];
        same_pages(fx.pid, z.start[k], before[k], np, extra[k] ? np - 1 : np, what[k]);
        free(before[k]);
    }
    mg_patterns_free(&p);
}
RESIDENCY_TESTS(scan, zeros_alone_in_zero_pages, zeros_alone_in_zero_pages)

/* A thread id as target means its process: matches name the process
 * (its tgid), and giving both the pid and the tid scans it once. */
Test(scan, thread_id_means_its_process)
{
    start();
    cr_assert(fx.tid > 0 && fx.tid != fx.pid, "fixture printed no THREAD (tid %d)", fx.tid);
    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain", 0, names, 32);
    compile_patterns(p);
    want w[MAXW];
    size_t nw = want_plants(w, 0, MAXW, &fx, fx.pid, "plain", names, n);
    const pid_t targets[3][2] = {{fx.tid, 0}, {fx.pid, fx.tid}, {fx.tid, fx.pid}};
    const size_t n_targets[3] = {1, 2, 2};
    for (size_t t = 0; t < 3; t++) {
        mg_settings s;
        settings_for(&s, targets[t], n_targets[t]);
        collector c = {0};
        mg_stats st = run(p, &s, &c);
        char what[64];
        snprintf(what, sizeof what, "targets %d%s", (int)targets[t][0],
                 n_targets[t] == 2 ? (t == 1 ? " + tid" : " + pid") : " (tid)");
        assert_exact_hits(&c, w, nw, what);
        cr_assert_eq(st.processes_scanned, 1u, "%s: %" PRIu64 " processes scanned", what,
                     st.processes_scanned);
        collector_free(&c);
    }
    mg_patterns_free(&p);
}

/* A file of flen bytes (i * 13 + 1 at offset i) with marker at each of
 * offs[0..n), in path (a mkstemp template, filled in). */
static void marker_file(char *path, size_t flen, const char *marker, const size_t *offs, size_t n)
{
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    uint8_t *content = calloc(1, flen);
    cr_assert(content);
    for (size_t i = 0; i < flen; i++)
        content[i] = (uint8_t)(i * 13 + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(content + offs[i], marker, strlen(marker));
    cr_assert_eq(write(fd, content, flen), (ssize_t)flen);
    close(fd);
    free(content);
}

/* A marker of a fresh token and name into marker (64 bytes); its length. */
static size_t new_marker(char *marker, const char *name)
{
    char tok[17];
    random_token(tok);
    int ml = snprintf(marker, 64, "mgt-%s-%s;", tok, name);
    cr_assert(ml > 0 && ml < 64);
    return (size_t)ml;
}

/* fx and fx2 each map the file at path (removed then): a[] their mappings. */
static void file_in_two_fixtures(const char *path, uint64_t a[2])
{
    const char *args[] = {"--map-file", path, NULL};
    fixture_start(&fx, args);
    fixture_start(&fx2, args);
    unlink(path);
    a[0] = fixture_info(&fx, "mapfile", NULL);
    a[1] = fixture_info(&fx2, "mapfile", NULL);
    cr_assert(a[0] && a[1]);
}

static mg_patterns *one_literal(const char *text, size_t len)
{
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, text, len, 0);
    compile_patterns(p);
    return p;
}

/* Two processes map the same file pages: each match is reported in each,
 * at that process's address, with de-duplication on (scanned once,
 * replayed) and off. */
static void shared_file_pages_in_two_processes(void)
{
    need_root();
    char marker[64];
    size_t ml = new_marker(marker, "sharedfile");
    char path[] = "/tmp/mg-shared-file-XXXXXX";
    const size_t flen = 6 * 4096, offs[] = {100, 5000, 8192 - 7, flen - ml};
    marker_file(path, flen, marker, offs, 4);
    uint64_t a[2];
    file_in_two_fixtures(path, a);
    uint64_t a1 = a[0], a2 = a[1];
    mg_patterns *p = one_literal(marker, ml);
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
RESIDENCY_TESTS(scan, shared_file_pages_in_two_processes, shared_file_pages_in_two_processes)

/* The same file mapped from offset 0 and from one chunk on: the page-cache
 * dedupe key is the offset in the file, so the second mapping's units
 * replay what the first found at the same file offsets (not at the same
 * offsets in the mapping), with the markers placed differently in each
 * chunk. Exact hits with dedupe on and off.
 *
 * one_process: both mappings in one process, the first at a multiple of
 * the chunk size, the second a page past one. Units are cut at multiples
 * of the chunk size in the file, not in the address space (planner.c:
 * unit_phase), so every unit of the second mapping's range but its first,
 * whose window the mapping's start clips, replays one of the other's:
 * SF_CHUNKS - 2 chunks, exactly (nothing else in one process repeats a
 * unit). Units cut at address multiples would hold other file offsets in
 * each mapping: none would replay. Else one mapping in each of two
 * processes (which also share their libraries' pages: some replay). */
#define SF_CHUNK 16384
#define SF_CHUNKS 8

static void file_at_two_offsets(bool one_process)
{
    need_root();
    char marker[64];
    size_t ml = new_marker(marker, "offsetfile");
    char path[] = "/tmp/mg-offset-file-XXXXXX";
    const size_t flen = SF_CHUNKS * SF_CHUNK;
    size_t offs[SF_CHUNKS];
    for (size_t k = 0; k < SF_CHUNKS; k++)
        offs[k] = k * SF_CHUNK + 100 + 1500 * k;
    marker_file(path, flen, marker, offs, SF_CHUNKS);

    char shift[16];
    snprintf(shift, sizeof shift, "%d", SF_CHUNK);
    if (one_process) {
        fixture_start(&fx, (const char *[]){"--map-file", path, "--map-page", "0", "--map-file",
                                            path, "--map-offset", shift, "--map-page", "1", NULL});
    } else {
        fixture_start(&fx, (const char *[]){"--map-file", path, NULL});
        fixture_start(&fx2, (const char *[]){"--map-file", path, "--map-offset", shift, NULL});
    }
    unlink(path);
    const fixture *f2 = one_process ? &fx : &fx2;
    uint64_t l1, l2;
    uint64_t a1 = fixture_info(&fx, "mapfile", &l1),
             a2 = fixture_info(f2, one_process ? "mapfile2" : "mapfile", &l2);
    cr_assert(a1 && a2);
    cr_assert_eq(l1, flen);
    cr_assert_eq(l2, flen - SF_CHUNK);
    if (one_process) {
        cr_assert_eq(a1 % SF_CHUNK, 0u, "first mapping at 0x%" PRIx64, a1);
        cr_assert_eq(a2 % SF_CHUNK, 4096u, "second mapping at 0x%" PRIx64, a2);
    }

    mg_patterns *p = one_literal(marker, ml);
    want w[2 * SF_CHUNKS];
    size_t nw = 0;
    for (size_t k = 0; k < SF_CHUNKS; k++) {
        w[nw++] = (want){.pid = fx.pid, .addr = a1 + offs[k], .len = (uint64_t)ml};
        if (k > 0)
            w[nw++] = (want){.pid = f2->pid, .addr = a2 + offs[k] - SF_CHUNK, .len = (uint64_t)ml};
    }
    pid_t pids[2] = {fx.pid, fx2.pid};
    for (int dedupe = 1; dedupe >= 0; dedupe--) {
        mg_settings s;
        settings_for(&s, pids, one_process ? 1 : 2);
        s.dedupe = dedupe;
        s.chunk_size = SF_CHUNK;
        s.threads = 1;
        collector c = {0};
        mg_stats st = run(p, &s, &c);
        char what[64];
        snprintf(what, sizeof what, "file at two offsets in %s, dedupe %d",
                 one_process ? "one process" : "two processes", dedupe);
        assert_exact_hits(&c, w, nw, what);
        if (dedupe && one_process)
            cr_assert_eq(st.bytes_deduped, (uint64_t)(SF_CHUNKS - 2) * SF_CHUNK,
                         "%s: %" PRIu64 " bytes replayed", what, st.bytes_deduped);
        else if (dedupe)
            cr_assert_gt(st.bytes_deduped, 0u, "%s: no unit was replayed", what);
        else
            cr_assert_eq(st.bytes_deduped, 0u, "%s", what);
        collector_free(&c);
    }
    mg_patterns_free(&p);
}

static void same_file_at_another_offset(void)
{
    file_at_two_offsets(false);
}
RESIDENCY_TESTS(scan, same_file_at_another_offset, same_file_at_another_offset)

Test(scan, one_file_twice_in_one_process)
{
    file_at_two_offsets(true);
}

/* A file mapping without read permission, its pages present, is never
 * read, --include-noread or not: that reads anonymous memory only. */
static void noread_file_mapping_not_read(void)
{
    need_root();
    char tok[17];
    random_token(tok);
    char marker[64];
    snprintf(marker, sizeof marker, "mgt-%s-noreadfile;", tok);
    char path[] = "/tmp/mg-noread-file-XXXXXX";
    const size_t offs[] = {100, 4096 + 200};
    marker_file(path, 2 * 4096, marker, offs, 2);
    fixture_start(&fx, (const char *[]){"--map-file", path, "--map-noread", NULL});
    unlink(path);
    uint64_t len, a = fixture_info(&fx, "mapfile", &len);
    cr_assert(a);
    uint64_t rs, re;
    cr_assert_eq(present_run(fx.pid, a, a, a + len, &rs, &re), 0);
    cr_assert(rs == a && re == a + len, "the PROT_NONE file pages are not present");
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, marker, strlen(marker), 0);
    compile_patterns(p);
    for (int noread = 0; noread < 2; noread++) {
        mg_settings s;
        settings_for(&s, &fx.pid, 1);
        s.include_noread = noread;
        collector c = {0};
        run(p, &s, &c);
        assert_exact_hits(&c, NULL, 0, noread ? "--include-noread" : "without --include-noread");
        collector_free(&c);
    }
    mg_patterns_free(&p);
}
RESIDENCY_TESTS(scan, noread_file_mapping_not_read, noread_file_mapping_not_read)

static void max_count(void)
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
RESIDENCY_TESTS(scan, max_count, max_count)

/* max_count holds per process for matches replayed from memory shared
 * with another process (de-duplication) as for scanned ones. */
static void max_count_with_shared_pages(void)
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
RESIDENCY_TESTS(scan, max_count_with_shared_pages, max_count_with_shared_pages)

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

/* In a sweep of the whole host with two workers or more, a worker that
 * finds the queue empty plans the next target itself (pool.c), and runs a
 * small one's units alone: every target is still planned once, and each
 * plant of each fixture reported exactly once, whichever thread planned it
 * (matches in other processes, other scanners' copies of the fixtures'
 * pages on a shared machine, are left out); after a stop the targets not
 * yet planned are reported unreached. */
Test(scan, workers_plan_targets_too)
{
    need_root();
    mg_patterns *p = patterns_new();
    char names[N_MANY * 32][32];
    size_t first[N_MANY + 1] = {0};
    for (int i = 0; i < N_MANY; i++)
        fixture_start(&many[i], NULL);
    for (int i = 0; i < N_MANY; i++)
        first[i + 1] = first[i] + add_plant_literals(p, &many[i], "plain", 0, names + first[i], 32);
    compile_patterns(p);
    want w[N_MANY * MAXW];
    size_t nw = 0;
    for (int i = 0; i < N_MANY; i++) {
        size_t n0 = nw;
        nw = want_plants(w, nw, N_MANY * MAXW, &many[i], many[i].pid, "plain", names + first[i],
                         first[i + 1] - first[i]);
        for (size_t k = n0; k < nw; k++)
            w[k].pattern_id += (unsigned)first[i];
    }
    for (unsigned threads = 2; threads <= 3; threads++) {
        mg_settings s;
        settings_for(&s, NULL, 0);
        s.threads = threads;
        collector c = {0};
        mg_sink sink = collector_sink(&c);
        mg_stats st;
        mg_error err = {{0}};
        cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), 0, "%s", err.message);
        size_t keep = 0;
        for (size_t j = 0; j < c.n; j++)
            for (int i = 0; i < N_MANY; i++)
                if (c.hits[j].pid == many[i].pid) {
                    c.hits[keep++] = c.hits[j];
                    break;
                }
        c.n = keep;
        char what[64];
        snprintf(what, sizeof what, "whole host, %u threads", threads);
        assert_exact_hits(&c, w, nw, what);
        cr_assert_geq(st.processes_scanned, (uint64_t)N_MANY, "%s", what);
        cr_assert_eq(st.processes_unreached, 0u, "%s", what);
        collector_free(&c);
    }
    mg_patterns_free(&p);
    /* stopped at the first match of a string nearly every process maps (the
     * C library's name): the targets not planned yet are unreached */
    p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, "libc.so.6", 9, 0);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, NULL, 0);
    s.threads = 2;
    collector c = {.reply = MG_SINK_STOP};
    mg_sink sink = collector_sink(&c);
    mg_stats st;
    mg_error err = {{0}};
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), 0, "%s", err.message);
    cr_log_info("STOP: %" PRIu64 " failed, %" PRIu64 " scanned, %" PRIu64
                " unreached, match pid %d",
                st.processes_failed, st.processes_scanned, st.processes_unreached,
                c.n ? (int)c.hits[0].pid : -1);
    cr_assert_eq(c.n, 1u, "STOP: %zu matches", c.n);
    cr_assert_gt(st.processes_unreached, 0u, "STOP: %" PRIu64 " scanned, none unreached",
                 st.processes_scanned);
    collector_free(&c);
    mg_patterns_free(&p);
}

/* A unit cut short leaves no record for another process to replay: two
 * processes map the same file, whose one unit holds three markers; the
 * sink ends the first process (NEXT_PROCESS) at its first match, so its
 * unit is incomplete; the second process's unit has the same key and must
 * still give all three (scanned, not the first one's partial record
 * replayed). One worker: the first process's units run first. */
Test(scan, cut_unit_not_replayed)
{
    need_root();
    char marker[64];
    size_t ml = new_marker(marker, "cutfile");
    char path[] = "/tmp/mg-cut-file-XXXXXX";
    const size_t offs[] = {100, 700, 5000};
    marker_file(path, 4 * 4096, marker, offs, 3);
    uint64_t a[2];
    file_in_two_fixtures(path, a);
    mg_patterns *p = one_literal(marker, ml);
    want w[4] = {{.pid = fx.pid, .addr = a[0] + offs[0], .len = ml}};
    for (size_t i = 0; i < 3; i++)
        w[1 + i] = (want){.pid = fx2.pid, .addr = a[1] + offs[i], .len = ml};
    pid_t pids[2] = {fx.pid, fx2.pid};
    for (int dedupe = 1; dedupe >= 0; dedupe--) {
        mg_settings s;
        settings_for(&s, pids, 2);
        s.dedupe = dedupe;
        s.threads = 1;
        collector c = {.reply = MG_SINK_NEXT_PROCESS, .reply_pid = fx.pid};
        run(p, &s, &c);
        assert_exact_hits(&c, w, 4, dedupe ? "first process cut, dedupe" : "first process cut");
        collector_free(&c);
    }
    mg_patterns_free(&p);
}

/* A present page no other process may read (memfd_secret: process_vm_readv
 * and /proc/PID/mem both fail on it): a counted "changed" event for its
 * bytes, and nothing else. With one worker and 4 KiB units, the unit run
 * just before the secret page's is the page below it, which leaves its
 * "stale" marker in the worker's buffer at the offset of the secret
 * page's SECRET_AT: bytes that were not read must not be scanned as if
 * they were the page's. */
Test(scan, unreadable_present_page)
{
    need_root();
    fixture_start(&fx, (const char *[]){"--secret", NULL});
    uint64_t slen, sec = fixture_info(&fx, "secret", &slen);
    if (!sec)
        cr_skip_test("memfd_secret refused (secretmem is off before Linux 6.5 unless booted "
                     "with secretmem.enable=1)");
    /* the setup: the page is present, and reading it fails */
    uint64_t *e;
    cr_assert_eq(pagemap_entries(fx.pid, sec, sec + slen, &e), 1);
    cr_assert(e[0] >> 63, "the secret page is not present: pagemap %016" PRIx64, e[0]);
    free(e);
    uint8_t b[16];
    cr_assert_lt(read_mem(fx.pid, sec, b, sizeof b), 0, "the secret page can be read");

    mg_patterns *p = patterns_new();
    char names[32][32];
    size_t n = add_plant_literals(p, &fx, "plain,secret", 0, names, 32);
    compile_patterns(p);
    want w[MAXW];
    size_t nw = want_plants(w, 0, MAXW, &fx, fx.pid, "plain", names, n);
    for (int dedupe = 1; dedupe >= 0; dedupe--) {
        mg_settings s;
        settings_for(&s, &fx.pid, 1);
        s.chunk_size = 4096;
        s.threads = 1;
        s.dedupe = dedupe;
        collector c = {0};
        mg_stats st = run(p, &s, &c);
        assert_exact_hits(&c, w, nw, dedupe ? "secret page, dedupe" : "secret page");
        cr_assert_geq(st.bytes_skipped_changed, slen, "%" PRIu64 " bytes counted as not read",
                      st.bytes_skipped_changed);
        cr_assert_geq(c.events[MG_EVENT_CHANGED], 1u, "no event for the secret page");
        collector_free(&c);
    }
    mg_patterns_free(&p);
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

    /* A zombie (exited, not yet reaped) has a pid but no memory: counted
     * as a zombie, neither scanned (empty) nor an event or a failure. */
    pid_t zombie = zombie_child();
    settings_for(&s, &zombie, 1);
    int rc = mg_scan(p, &s, &sink, &st, &err);
    waitpid(zombie, NULL, 0);
    if (rc == 0) {
        cr_assert_eq(st.processes_scanned, 0u, "a zombie was scanned");
        cr_assert_eq(st.processes_zombie, 1u);
        cr_assert_eq(st.processes_failed, 0u, "a zombie counted as a failure");
        cr_assert_eq(c.events[MG_EVENT_GONE], 0u, "%" PRIu64 " GONE events for a zombie",
                     c.events[MG_EVENT_GONE]);
    } else {
        cr_assert_eq(rc, MG_EBADPID, "scanning a zombie: %d", rc);
    }
    cr_assert_eq(c.n, 0u);
    collector_free(&c);
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

/* Special mappings ([vvar], [vdso], [vsyscall]...) are never read: each is
 * counted as skipped, and no read of one fails (a read of [vvar] would be an
 * EFAULT event). The expectation comes from the fixture's own maps. */
Test(scan, special_mappings_skipped_not_read)
{
    start();
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)fx.pid);
    FILE *f = fopen(path, "r");
    cr_assert(f, "open %s", path);
    uint64_t special = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 &&
            (strstr(line, "[vvar") || strstr(line, "[vdso]") || strstr(line, "[vsyscall]")))
            special += hi - lo;
    }
    fclose(f);
    cr_assert_gt(special, 0u, "the fixture has no special mapping");
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, "whatever", 8, 0);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, &fx.pid, 1);
    collector c = {0};
    mg_sink sink = collector_sink(&c);
    mg_stats st;
    cr_assert_eq(mg_scan(p, &s, &sink, &st, NULL), 0);
    for (int k = 0; k < MG_EVENT_KINDS; k++)
        cr_assert_eq(st.events[k], 0u, "%" PRIu64 " %s event(s) scanning the fixture", st.events[k],
                     mg_event_kind_name((mg_event_kind)k));
    cr_assert_geq(st.bytes_skipped_special, special,
                  "special bytes skipped %" PRIu64 ", maps %" PRIu64, st.bytes_skipped_special,
                  special);
    mg_patterns_free(&p);
}

/* ---- progress: each process counted done once (review D1) --------------- */

typedef struct progress_seen {
    size_t n;
    uint64_t max_done, total;
} progress_seen;

static void record_progress(void *ctx, const mg_progress *pr)
{
    progress_seen *ps = ctx;
    ps->n++;
    ps->max_done = pr->processes_done > ps->max_done ? pr->processes_done : ps->max_done;
    ps->total = pr->processes_total;
}

/* Two zombies (left out at open: exited, not reaped)
 * then the fixture, whose units report progress: processes_done never
 * passes processes_total. */
Test(scan, failed_targets_are_done_once)
{
    start();
    pid_t pids[3];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        cr_assert_geq(pids[i], 0);
        if (pids[i] == 0)
            _exit(0);
    }
    for (int i = 0; i < 2; i++) { /* zombies: exited, not reaped */
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pids[i]);
        for (int t = 0; t < 1000; t++) {
            char *st = NULL;
            size_t len = 0;
            FILE *f = fopen(path, "r");
            bool zombie = f && getline(&st, &len, f) > 0 && strstr(st, ") Z ");
            free(st);
            if (f)
                fclose(f);
            if (zombie)
                break;
            usleep(1000);
        }
    }
    pids[2] = fx.pid;
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, "no such bytes anywhere 9f1c", 27, 0);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, pids, 3);
    s.chunk_size = 64 * 1024; /* many units, many progress reports */
    progress_seen ps = {0};
    mg_sink sink = {.ctx = &ps, .progress = record_progress, .progress_interval = 1e-6};
    mg_stats st;
    mg_error err = {{0}};
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), 0, "%s", err.message);
    for (int i = 0; i < 2; i++)
        waitpid(pids[i], NULL, 0);
    cr_assert_eq(st.processes_zombie, 2u);
    cr_assert_gt(ps.n, 0u, "no progress reported");
    cr_assert_eq(ps.total, 3u);
    cr_assert_leq(ps.max_done, ps.total, "progress said %" PRIu64 "/%" PRIu64 " processes",
                  ps.max_done, ps.total);
    mg_patterns_free(&p);
}

/* ---- the engine handle: one engine, several sweeps ----------------------- */

/* Two processes map one file holding two markers, A at four offsets and B
 * at four others. One engine (dedupe on) sweeps for A, then B, then A:
 * each sweep exact. Its dedupe table is emptied between sweeps (B's sweep
 * replaying A's records would report A's offsets for B), and it works in
 * each (the second mapping is replayed, not scanned again). */
Test(scan, engine_sweeps_again_with_other_patterns)
{
    need_root();
    char tok[17], ma[64], mb[64];
    random_token(tok);
    int ml = snprintf(ma, sizeof ma, "mgt-%s-engine-A;", tok);
    snprintf(mb, sizeof mb, "mgt-%s-engine-B;", tok);
    const size_t flen = 6 * 4096;
    const size_t offs[2][4] = {{100, 5000, 8192 - 7, flen - (size_t)ml},
                               {300, 4096 - 9, 12000, 20000}};
    const char *markers[2] = {ma, mb};
    char path[] = "/tmp/mg-engine-file-XXXXXX";
    marker_file(path, flen, ma, offs[0], 4);
    int fd = open(path, O_WRONLY | O_CLOEXEC); /* and B at its offsets */
    cr_assert_geq(fd, 0);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(pwrite(fd, mb, (size_t)ml, (off_t)offs[1][i]), ml);
    close(fd);
    const char *args[] = {"--map-file", path, NULL};
    fixture_start(&fx, args);
    fixture_start(&fx2, args);
    unlink(path);
    uint64_t a1 = fixture_info(&fx, "mapfile", NULL), a2 = fixture_info(&fx2, "mapfile", NULL);
    cr_assert(a1 && a2);
    mg_patterns *sets[2];
    for (int k = 0; k < 2; k++) {
        sets[k] = patterns_new();
        add_pattern(sets[k], MG_PATTERN_LITERAL, markers[k], (size_t)ml, 0);
        compile_patterns(sets[k]);
    }
    mg_settings s;
    mg_default_settings(&s);
    s.context = 16;
    s.threads = 2;
    s.residency = residency_mode;
    mg_engine *e = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_engine_new(&e, &s, &err), 0, "%s", err.message);
    pid_t pids[2] = {fx.pid, fx2.pid};
    const int order[] = {0, 1, 0};
    for (size_t r = 0; r < 3; r++) {
        int k = order[r];
        want w[8];
        for (size_t i = 0; i < 4; i++) {
            w[i] = (want){.pid = fx.pid, .addr = a1 + offs[k][i], .len = (uint64_t)ml};
            w[4 + i] = (want){.pid = fx2.pid, .addr = a2 + offs[k][i], .len = (uint64_t)ml};
        }
        collector c = {0};
        mg_stats st = engine_run(e, pids, 2, sets[k], &c);
        char what[64];
        snprintf(what, sizeof what, "engine sweep %zu (marker %c)", r + 1, "AB"[k]);
        assert_exact_hits(&c, w, 8, what);
        cr_assert_gt(st.bytes_deduped, 0u, "%s: the second mapping was scanned again", what);
        cr_assert_eq(st.threads, 2u);
        collector_free(&c);
    }
    mg_engine_free(&e);
    cr_assert_null(e);
    for (int k = 0; k < 2; k++)
        mg_patterns_free(&sets[k]);
}

Test(scan, engine_arguments)
{
    mg_settings s;
    mg_default_settings(&s);
    mg_error err = {{0}};
    cr_assert_eq(mg_engine_new(NULL, &s, &err), -EINVAL);
    mg_engine *e = NULL;
    pid_t pid = getpid();
    s.pids = &pid;
    s.n_pids = 1;
    cr_assert_eq(mg_engine_new(&e, &s, &err), -EINVAL, "targets in an engine's settings");
    cr_assert_null(e);
    mg_default_settings(&s);
    s.chunk_size = 4095;
    cr_assert_eq(mg_engine_new(&e, &s, &err), -EINVAL);
    cr_assert_eq(mg_engine_new(&e, NULL, &err), 0, "%s", err.message);
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, "x", 1, 0);
    cr_assert_eq(mg_engine_scan(e, NULL, p, NULL, NULL, &err), MG_ENOTCOMPILED);
    compile_patterns(p);
    cr_assert_eq(mg_engine_scan(NULL, NULL, p, NULL, NULL, &err), -EINVAL);
    cr_assert_eq(mg_engine_scan(e, NULL, NULL, NULL, NULL, &err), -EINVAL);
    mg_targets t = {.n_pids = 2};
    cr_assert_eq(mg_engine_scan(e, &t, p, NULL, NULL, &err), -EINVAL);
    t = (mg_targets){.pids = &pid, .n_pids = 1};
    cr_assert_eq(mg_engine_scan(e, &t, p, NULL, NULL, &err), MG_EBADPID, "memgrep itself");
    mg_engine_free(&e);
    mg_engine_free(&e); /* NULL: nothing */
    mg_engine_free(NULL);
    mg_patterns_free(&p);
}
