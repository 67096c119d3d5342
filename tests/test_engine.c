/* test_engine.c - the engine's internal stages, driven directly (no target
 * process): matcher setup failures, a matcher failure in the unit reader,
 * the bound on the dedupe record buffer and its format, unit cutting, and
 * the page size and version the library states.
 *
 * Allocation failures are injected with the linker's --wrap=malloc (set in
 * tests/meson.build for this binary only): __wrap_malloc fails a malloc of
 * one chosen size. No hook lives in the library. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "sweep/sweep.h"

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

static size_t fail_size; /* a malloc of this size fails (0: none) */
static size_t fail_calloc; /* a calloc of one element of this size fails (0: none) */

void *__wrap_malloc(size_t n)
{
    if (fail_size && n == fail_size)
        return NULL;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (fail_calloc && n == 1 && size == fail_calloc)
        return NULL;
    return __real_calloc(n, size);
}

static mg_patterns *literal_set(const char *text)
{
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, text, strlen(text), 0);
    compile_patterns(p);
    return p;
}

/* ---- matcher ------------------------------------------------------------ */

Test(engine, matcher_init_failure_frees_once)
{
    mg_patterns *p = literal_set("needle");
    mg_matcher m;
    fail_size = MG_HITS_INITIAL * sizeof(mg_hit);
    int rc = mg_matcher_init(&m, p, 4096);
    fail_size = 0;
    cr_assert_eq(rc, -ENOMEM, "init with the hit buffer failing: %d", rc);
    /* nothing left behind for fini to free again */
    cr_assert_null(m.scratch, "scratch left set after a failed init");
    cr_assert_null(m.hits);
    mg_matcher_fini(&m);
    mg_matcher_fini(&m);
    cr_assert_eq(mg_matcher_init(&m, p, 4096), 0);
    cr_assert_not_null(m.scratch);
    mg_matcher_fini(&m);
    mg_patterns_free(&p);
}

/* ---- the unit reader, one worker driven by hand ------------------------- */

#define BASE 0x7f0000000000ull
#define NPAGES 3

typedef struct got_event {
    mg_event_kind kind;
    int err;
    uint64_t address;
    char what[64];
} got_event;

typedef struct rig {
    mg_patterns *pats;
    mg_sweep c;
    mg_target p;
    mg_region region;
    mg_unit u;
    mg_worker w;
    mg_sink sink;
    uint64_t match_addr[256];
    size_t n_matches;
    got_event events[8];
    size_t n_events;
    hs_scratch_t *saved_scratch; /* restored by the first event, if set */
} rig;

static int rig_match(void *arg, const mg_match *m)
{
    rig *r = arg;
    if (r->n_matches < sizeof(r->match_addr) / sizeof(r->match_addr[0]))
        r->match_addr[r->n_matches] = m->address;
    r->n_matches++;
    return MG_SINK_CONTINUE;
}

static void rig_event(void *arg, const mg_event *e)
{
    rig *r = arg;
    if (r->n_events < sizeof(r->events) / sizeof(r->events[0])) {
        got_event *g = &r->events[r->n_events];
        g->kind = e->kind;
        g->err = e->err;
        g->address = e->address;
        snprintf(g->what, sizeof(g->what), "%s", e->what);
    }
    r->n_events++;
    if (r->saved_scratch) {
        r->w.m.scratch = r->saved_scratch; /* the next piece scans normally */
        r->saved_scratch = NULL;
    }
}

/* A sweep of pats (taken) with one worker whose current unit owns NPAGES
 * pages at BASE. */
static void rig_init_set(rig *r, mg_patterns *pats, size_t context)
{
    memset(r, 0, sizeof(*r));
    r->pats = pats;
    r->sink = (mg_sink){.ctx = r, .match = rig_match, .event = rig_event};
    mg_settings s;
    mg_default_settings(&s);
    s.context = context;
    mg_sweep_init(&r->c, r->pats, &s, &r->sink, 0);
    r->region = (mg_region){.start = BASE,
                            .end = BASE + NPAGES * MG_PAGE_SIZE,
                            .perms = "rw-p",
                            .kind = MG_REGION_ANON,
                            .path = ""};
    r->p.info = (mg_process){.pid = 1, .comm = "rig", .exe = ""};
    r->p.c = &r->c;
    r->u = (mg_unit){.p = &r->p,
                     .region = &r->region,
                     .own_start = BASE,
                     .own_end = BASE + NPAGES * MG_PAGE_SIZE,
                     .lo = BASE,
                     .hi = BASE + NPAGES * MG_PAGE_SIZE};
    cr_assert_eq(mg_worker_init(&r->w, &r->c), 0);
    r->w.u = &r->u;
    memset(r->w.buf, '.', NPAGES * MG_PAGE_SIZE);
}

static void rig_init(rig *r, const char *pattern, size_t context)
{
    rig_init_set(r, literal_set(pattern), context);
}

static void rig_plant(rig *r, uint64_t addr, const char *text)
{
    memcpy(r->w.buf + (addr - BASE), text, strlen(text));
}

static void rig_fini(rig *r)
{
    mg_worker_fini(&r->w);
    mg_sweep_fini(&r->c);
    mg_patterns_free(&r->pats);
}

static mg_stats rig_stats(rig *r)
{
    mg_stats st;
    mg_fill_stats(&r->c, &st, 0, 1);
    return st;
}

/* Pages 0 and 2 read, page 1 not: two pieces. The first piece's scan
 * fails (a real Hyperscan error: no scratch); the event handler gives the
 * scratch back, so the second piece scans normally. */
Test(engine, scan_failure_is_reported_and_the_rest_scanned)
{
    rig r;
    rig_init(&r, "needle", 8);
    rig_plant(&r, BASE + 100, "needle");
    rig_plant(&r, BASE + 2 * MG_PAGE_SIZE + 200, "needle");
    uint8_t ok[NPAGES] = {1, 0, 1};
    r.saved_scratch = r.w.m.scratch;
    r.w.m.scratch = NULL;
    r.w.recording = true;
    mg_dedupe_rec_start(&r.w.rec, BASE);
    mg_scan_pieces(&r.w, BASE, BASE + NPAGES * MG_PAGE_SIZE, ok);

    cr_assert_eq(r.n_events, 1u, "%zu events for one failed piece", r.n_events);
    cr_assert_eq(r.events[0].kind, MG_EVENT_OTHER);
    cr_assert_eq(r.events[0].err, MG_EHYPERSCAN, "err %d", r.events[0].err);
    cr_assert_eq(strncmp(r.events[0].what, "scan", 4), 0, "what: %s", r.events[0].what);
    cr_assert_eq(r.events[0].address, BASE);
    cr_assert_eq(r.n_matches, 1u, "%zu matches: the piece after the failure was not scanned",
                 r.n_matches);
    cr_assert_eq(r.match_addr[0], BASE + 2 * MG_PAGE_SIZE + 200);
    cr_assert_not(r.w.rec.complete, "a unit with a failed piece must not be kept for dedupe");
    mg_stats st = rig_stats(&r);
    cr_assert_eq(st.events[MG_EVENT_OTHER], 1u);
    cr_assert_eq(st.matches, 1u);
    rig_fini(&r);
}

/* Many matches with context: the record buffer stops at its bound, the
 * unit is no longer recorded, and every match is still reported. */
Test(engine, record_buffer_is_bounded_and_matches_kept)
{
    rig r;
    rig_init(&r, "needle", 64);
    size_t n = 0;
    for (uint64_t a = BASE + 64; a + 64 + 6 < BASE + NPAGES * MG_PAGE_SIZE; a += 100, n++)
        rig_plant(&r, a, "needle");
    uint8_t ok[NPAGES] = {1, 1, 1};
    r.w.rec.max = 4096; /* about 25 records of 6 + 2 x 64 bytes */
    r.w.recording = true;
    mg_dedupe_rec_start(&r.w.rec, BASE);
    mg_scan_pieces(&r.w, BASE, BASE + NPAGES * MG_PAGE_SIZE, ok);

    cr_assert_eq(r.n_matches, n, "%zu of %zu matches reported", r.n_matches, n);
    cr_assert_not(r.w.recording, "still recording past the bound");
    cr_assert_not(r.w.rec.complete);
    cr_assert_leq(r.w.rec.len, r.w.rec.max);
    cr_assert_leq(r.w.rec.cap, r.w.rec.max, "buffer grew to %zu", r.w.rec.cap);
    cr_assert_gt(r.w.rec.len, 0u);
    rig_fini(&r);
}

typedef struct replayed {
    mg_hit h[4];
    uint8_t data[4][32];
    size_t len[4];
    uint64_t piece_addr[4];
    size_t n;
} replayed;

static int collect_replay(void *arg, const mg_hit *h, const mg_piece *pc)
{
    replayed *rp = arg;
    cr_assert_lt(rp->n, 4u);
    rp->h[rp->n] = *h;
    rp->len[rp->n] = pc->len;
    rp->piece_addr[rp->n] = pc->addr;
    memcpy(rp->data[rp->n], pc->buf, pc->len);
    rp->n++;
    return MG_SINK_CONTINUE;
}

/* What is recorded at one unit's addresses replays at another's. */
Test(engine, records_replay_at_another_base)
{
    mg_dedupe_rec rec = {.max = MG_DEDUPE_MAX_RECORD};
    const uint64_t a = 0x1000, b = 0x555000;
    mg_dedupe_rec_start(&rec, a);
    mg_hit h1 = {.start = a + 10, .end = a + 14, .pattern_id = 3, .wide = false};
    mg_hit h2 = {.start = a + 4000, .end = a + 4002, .pattern_id = 1, .wide = true};
    cr_assert(mg_dedupe_rec_add(&rec, &h1, (const uint8_t *)"xxABCDyy", 2, 2));
    cr_assert(mg_dedupe_rec_add(&rec, &h2, (const uint8_t *)"QRz", 0, 1));
    cr_assert(rec.complete);

    replayed rp = {0};
    cr_assert_eq(mg_dedupe_replay(rec.data, rec.len, b, collect_replay, &rp), MG_SINK_CONTINUE);
    cr_assert_eq(rp.n, 2u);
    cr_assert_eq(rp.h[0].start, b + 10);
    cr_assert_eq(rp.h[0].end, b + 14);
    cr_assert_eq(rp.h[0].pattern_id, 3u);
    cr_assert_eq(rp.piece_addr[0], b + 8);
    cr_assert_eq(rp.len[0], 8u);
    cr_assert_eq(memcmp(rp.data[0], "xxABCDyy", 8), 0);
    cr_assert_eq(rp.h[1].start, b + 4000);
    cr_assert(rp.h[1].wide);
    cr_assert_eq(rp.len[1], 3u);
    cr_assert_eq(memcmp(rp.data[1], "QRz", 3), 0);

    /* past max: refused, and the unit marked incomplete */
    rec.max = rec.len + 4;
    cr_assert_not(mg_dedupe_rec_add(&rec, &h1, (const uint8_t *)"xxABCDyy", 2, 2));
    cr_assert_not(rec.complete);
    mg_dedupe_rec_free(&rec);
}

/* ---- unit cutting ------------------------------------------------------- */

typedef struct cuts {
    uint64_t s[16], e[16];
    size_t n;
} cuts;

static int collect_cut(void *arg, uint64_t s, uint64_t e)
{
    cuts *k = arg;
    cr_assert_lt(k->n, 16u);
    k->s[k->n] = s;
    k->e[k->n] = e;
    k->n++;
    return 0;
}

Test(engine, units_are_cut_at_phase_multiples)
{
    cuts k = {0};
    /* chunk 100, phase 30: cuts where address + 30 is a multiple of 100 */
    cr_assert_eq(mg_cut_units(50, 390, 100, 30, collect_cut, &k), 0);
    const uint64_t s[] = {50, 70, 170, 270, 370}, e[] = {70, 170, 270, 370, 390};
    cr_assert_eq(k.n, 5u, "%zu units", k.n);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(k.s[i], s[i], "unit %zu starts at %lu", i, (unsigned long)k.s[i]);
        cr_assert_eq(k.e[i], e[i], "unit %zu ends at %lu", i, (unsigned long)k.e[i]);
    }
}

/* ---- what the library states ------------------------------------------- */

Test(engine, page_size_is_the_systems)
{
    cr_assert_eq(mg_page_size(), (size_t)sysconf(_SC_PAGESIZE));
    if (mg_page_size() == MG_PAGE_SIZE)
        return;
    /* built for another page size: mg_scan refuses, saying why */
    mg_patterns *p = literal_set("needle");
    mg_error err = {{0}};
    cr_assert_eq(mg_scan(p, NULL, NULL, NULL, &err), -ENOTSUP);
    cr_assert_not_null(strstr(err.message, "page size"), "%s", err.message);
    mg_patterns_free(&p);
}

Test(engine, version_from_the_project)
{
    char v[32];
    snprintf(v, sizeof(v), "%d.%d.%d", MG_VERSION_MAJOR, MG_VERSION_MINOR, MG_VERSION_PATCH);
    cr_assert_str_eq(MG_VERSION, v);
    cr_assert_str_eq(MG_VERSION, MESON_PROJECT_VERSION);
}

Test(engine, version_at_run_time_is_the_headers)
{
    cr_assert_str_eq(mg_version(), MG_VERSION);
    cr_assert_eq(mg_version_api(), (unsigned)MG_API_VERSION);
    cr_assert_eq(mg_version_api() >> 16, (unsigned)MG_VERSION_MAJOR);
}

/* ---- argument checks: -EINVAL, never a crash (review D5) ----------------- */

Test(engine, null_out_arguments_are_einval)
{
    cr_assert_eq(mg_patterns_new(NULL), -EINVAL);
    cr_assert_eq(mg_default_settings(NULL), -EINVAL);
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_add_file(p, NULL, 0, &err), -EINVAL);
    cr_assert_eq(mg_patterns_add_file(NULL, "/dev/null", 0, &err), -EINVAL);
    mg_patterns_free(&p);
}

Test(engine, pids_null_with_a_count_is_einval)
{
    mg_patterns *p = literal_set("needle");
    mg_settings s;
    mg_default_settings(&s);
    s.n_pids = 3; /* and s.pids NULL */
    mg_error err = {{0}};
    cr_assert_eq(mg_scan(p, &s, NULL, NULL, &err), -EINVAL);
    cr_assert_not_null(strstr(err.message, "pids"), "%s", err.message);
    mg_patterns_free(&p);
}

Test(engine, unknown_flags_are_einval)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "abc", 3, 1u << 7, NULL, &err), -EINVAL);
    cr_assert_not_null(strstr(err.message, "flags"), "%s", err.message);
    cr_assert_eq(mg_patterns_add_list(p, "abc\n", 4, "list", 1u << 9, &err), -EINVAL);
    cr_assert_eq(mg_patterns_count(p), 0);
    cr_assert_eq(mg_patterns_add(p, MG_PATTERN_LITERAL, "abc", 3, MG_PATTERN_CASELESS, NULL, &err),
                 0);
    mg_patterns_free(&p);
}

/* Reserved space: not zero in a struct the library reads is -EINVAL, so a
 * field added there later is never taken from garbage. */
Test(engine, reserved_fields_are_checked)
{
    mg_patterns *p = literal_set("needle");
    mg_settings s;
    mg_default_settings(&s);
    for (size_t i = 0; i < sizeof(s.reserved) / sizeof(s.reserved[0]); i++)
        cr_assert_eq(s.reserved[i], 0);
    s.reserved[sizeof(s.reserved) / sizeof(s.reserved[0]) - 1] = 1;
    mg_error err = {{0}};
    cr_assert_eq(mg_scan(p, &s, NULL, NULL, &err), -EINVAL);
    cr_assert_not_null(strstr(err.message, "reserved"), "%s", err.message);
    mg_default_settings(&s);
    int dummy;
    mg_sink sink = {.reserved = {&dummy}};
    cr_assert_eq(mg_scan(p, &s, &sink, NULL, &err), -EINVAL);
    cr_assert_eq(mg_scan_buffer(p, "x", 1, 0x1000, 4096, 0, &sink, NULL), -EINVAL);
    mg_patterns_free(&p);
}

/* D11: one longest duration, the engine's, which the CLI's parser takes. */
Test(engine, longest_duration_is_mg_max_seconds)
{
    mg_patterns *p = literal_set("needle");
    mg_settings s;
    mg_default_settings(&s);
    s.timeout = MG_MAX_SECONDS * 10;
    mg_error err = {{0}};
    cr_assert_eq(mg_scan(p, &s, NULL, NULL, &err), -EINVAL);
    s.timeout = 0;
    s.process_timeout = MG_MAX_SECONDS * 10;
    cr_assert_eq(mg_scan(p, &s, NULL, NULL, &err), -EINVAL);
    mg_patterns_free(&p);
}

/* D12: a buffer described past 2^64 is refused, not silently unscanned. */
Test(engine, scan_buffer_past_the_top_is_einval)
{
    mg_patterns *p = literal_set("needle");
    char buf[64] = "....needle....";
    cr_assert_eq(mg_scan_buffer(p, buf, sizeof(buf), UINT64_MAX - 16, 4096, 0, NULL, NULL),
                 -EINVAL);
    cr_assert_eq(
        mg_scan_buffer(p, buf, sizeof(buf), 0 - (uint64_t)sizeof(buf), 4096, 0, NULL, NULL),
        -EINVAL);
    mg_stats st;
    cr_assert_eq(mg_scan_buffer(p, buf, sizeof(buf), UINT64_MAX - 4096, 4096, 0, NULL, &st), 0);
    cr_assert_eq(st.matches, 1);
    mg_patterns_free(&p);
}

/* ---- YARA string hits: the deadline per hit, not the sink lock (D14) ---- */

static int count_polls(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
    return 0;
}

static void *scan_rig(void *arg)
{
    rig *r = arg;
    uint8_t ok[NPAGES] = {1, 1, 1};
    mg_scan_pieces(&r->w, BASE, BASE + NPAGES * MG_PAGE_SIZE, ok);
    return NULL;
}

/* Five hits of a rule's string in one unit: cancel is polled before each
 * (as before each plain match), and collecting them does not wait for the
 * sink lock, held here by another thread for the whole scan. */
Test(engine, rule_string_hits_poll_the_deadline_not_the_sink_lock)
{
    static const char rules[] = "rule r { strings: $a = \"needle\" condition: #a == 5 }";
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_add_rules_text(p, rules, strlen(rules), "t.yar", 0, &err), 1, "%s",
                 err.message);
    compile_patterns(p);
    rig r;
    rig_init_set(&r, p, 8);
    atomic_int polls = 0;
    r.c.set.cancel = count_polls;
    r.c.set.cancel_ctx = &polls;
    for (int i = 0; i < 5; i++)
        rig_plant(&r, BASE + 100 + (uint64_t)i * 1000, "needle");
    pthread_mutex_lock(&r.c.sink_lock);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, scan_rig, &r), 0);
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += 10;
    int joined = pthread_timedjoin_np(th, NULL, &at);
    pthread_mutex_unlock(&r.c.sink_lock);
    if (joined != 0)
        pthread_join(th, NULL);
    cr_assert_eq(joined, 0, "collecting rule string hits waited for the sink lock");
    cr_assert_geq(atomic_load(&polls), 5, "cancel polled %d times for 5 hits", atomic_load(&polls));
    /* the rule sees all five: evaluate over the unit's bytes (and free) */
    cr_assert_eq(mg_yara_buffer_done(&r.c, &r.p, r.w.buf, NPAGES * MG_PAGE_SIZE, BASE), 0);
    cr_assert_eq(rig_stats(&r).rule_matches, 1u);
    rig_fini(&r);
}

static mg_patterns *rules_set(const char *rules)
{
    mg_patterns *p = patterns_new();
    mg_error err = {{0}};
    cr_assert_eq(mg_patterns_add_rules_text(p, rules, strlen(rules), "t.yar", 0, &err), 1, "%s",
                 err.message);
    compile_patterns(p);
    return p;
}

/* The first match of a rule string cannot be kept (no memory for the
 * process's match lists): `not $a` must not then match as if $a were
 * absent; the rules of that process are not decided (review D2). */
Test(engine, rule_match_lost_to_memory_decides_no_rule)
{
    rig r;
    rig_init_set(&r, rules_set("rule r { strings: $a = \"needle\" condition: not $a }"), 8);
    rig_plant(&r, BASE + 100, "needle");
    uint8_t ok[NPAGES] = {1, 1, 1};
    fail_calloc = sizeof(mg_yara_proc);
    mg_scan_pieces(&r.w, BASE, BASE + NPAGES * MG_PAGE_SIZE, ok);
    fail_calloc = 0;
    cr_assert_eq(mg_yara_buffer_done(&r.c, &r.p, r.w.buf, NPAGES * MG_PAGE_SIZE, BASE), -ENOMEM);
    cr_assert_eq(rig_stats(&r).rule_matches, 0u, "`not $a` matched with $a's match lost");
    rig_fini(&r);
}

static int cancel_now(void *ctx)
{
    (void)ctx;
    return 1;
}

static void *evaluate_rig(void *arg)
{
    rig *r = arg;
    int rc = mg_yara_buffer_done(&r->c, &r->p, r->w.buf, NPAGES * MG_PAGE_SIZE, BASE);
    return (void *)(intptr_t)rc;
}

/* A loop over the whole int64 range ends when the sweep is cancelled
 * (the deadline, the process timeout likewise), undecided (review D13). */
Test(engine, endless_rule_loop_stops_on_cancel)
{
    rig r;
    rig_init_set(&r,
                 rules_set("rule r { condition: for any i in (0..0x7fffffffffffffff) : "
                           "(i == -1) }"),
                 8);
    r.c.set.cancel = cancel_now;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, evaluate_rig, &r), 0);
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += 10;
    void *ret = NULL;
    int joined = pthread_timedjoin_np(th, &ret, &at);
    cr_assert_eq(joined, 0, "the loop did not stop on cancel within 10 s");
    cr_assert_eq((int)(intptr_t)ret, -ECANCELED);
    cr_assert_eq(rig_stats(&r).rule_matches, 0u);
    cr_assert_eq(atomic_load(&r.c.stop_reason), MG_STOP_CANCELLED);
    rig_fini(&r);
}

/* ---- YARA integer reads: the pinned process, not its pid (review D3) ----- */

static volatile uint32_t d3_value = 0x11111111u; /* the child's differs */

static int count_rules(void *ctx, const mg_rule_match *m)
{
    (void)m;
    (*(int *)ctx)++;
    return MG_SINK_CONTINUE;
}

/* A child that sets d3_value and waits for its stdin to close. */
static pid_t d3_child(uint32_t value, int *hold)
{
    int ready[2], in[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(in), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        close(in[1]);
        d3_value = value;
        char c = 'R';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        while (read(in[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    close(ready[1]);
    close(in[0]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    *hold = in[1];
    return pid;
}

/* The rules of a target are evaluated after its last unit, by pid number.
 * A target whose pinned process (its pidfd) has exited while a live
 * process answers to its pid number (here: the pid of another child) must
 * read nothing: `uint32(x) == the live one's value` is undefined, no
 * match. The same target pinned to the live child does match: the read
 * itself works. */
Test(engine, rule_integer_reads_go_to_the_pinned_process)
{
    need_root();
    int hold_live, hold_gone;
    pid_t live = d3_child(0x22222222u, &hold_live);
    pid_t gone = d3_child(0x33333333u, &hold_gone);
    int gone_fd = (int)syscall(SYS_pidfd_open, gone, 0u);
    if (gone_fd < 0)
        cr_skip_test("no pidfd_open here (Linux < 5.3): reads rest on the start time");
    close(hold_gone);
    waitpid(gone, NULL, 0); /* exited and reaped: its pidfd says so */
    char rules[160];
    snprintf(rules, sizeof rules, "rule live { condition: uint32(%#llx) == 0x22222222 }",
             (unsigned long long)(uintptr_t)&d3_value);
    mg_patterns *p = rules_set(rules);
    int exited_pin = 0;
    for (int pinned_live = 0; pinned_live < 2; pinned_live++) {
        int matched = 0;
        mg_sink sink = {.ctx = &matched, .rule = count_rules};
        mg_settings s;
        mg_default_settings(&s);
        mg_sweep c;
        mg_sweep_init(&c, p, &s, &sink, mg_now());
        mg_target *t = calloc(1, sizeof(*t));
        atomic_init(&t->refs, 1);
        pthread_mutex_init(&t->yara_lock, NULL);
        t->c = &c;
        t->info = (mg_process){.pid = live, .comm = "d3", .exe = "", .cgroup = "", .container = ""};
        t->pin.pid = live;
        t->pin.pidfd = pinned_live ? (int)syscall(SYS_pidfd_open, live, 0u) : dup(gone_fd);
        t->mem_fd = -1;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/pagemap", (int)live);
        t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(t->pagemap_fd, 0);
        cr_assert_eq(mg_maps_read(live, &t->maps), 0);
        t->planned = true;
        mg_target_unref(t); /* the last reference: its rules are evaluated */
        if (pinned_live)
            cr_assert_eq(matched, 1, "pinned to the live process: its value was not read");
        else
            exited_pin = matched;
        mg_sweep_fini(&c);
    }
    cr_assert_eq(exited_pin, 0, "a rule was decided by the bytes of another process at the pid");
    close(gone_fd);
    close(hold_live);
    waitpid(live, NULL, 0);
    mg_patterns_free(&p);
}
