/* test_lifecycle.c - budgets, deadlines and the job lifecycle.
 *
 * Engine: the rate limiter on a virtual clock, the stop decisions
 * (timeout, cancel, process timeout: reason kept, event once), the settings
 * checks, and the pid-reuse guard (bytes read by pid number from a process
 * whose pidfd says it exited are dropped). CLI: --timeout (exit 3,
 * incomplete summary, also with a match found), SIGINT/SIGTERM/SIGHUP
 * mid-sweep (128+N, whole lines, incomplete summary), -o FILE after either
 * (written, 0600, no temporary file left; a second signal leaves FILE as it
 * was), --process-timeout (a timeout event for the slow target, the other
 * scanned in full; each target's own clock), --max-rate (bytes over elapsed
 * time), --idle/--nice/--gentle (every thread of a running memgrep), bad
 * values. Tests that read other processes need root. No timing assertion
 * but generous upper bounds (a stop must come within seconds, not never).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "json.h"
#include "os/maps.h"
#include "sweep/sweep.h"

#define MiB (1024ull * 1024ull)

static fixture fa, fb; /* fa: the plants; fb: 64 MiB of touched memory too */

static void stop_fixtures(void)
{
    fixture_stop(&fa);
    fixture_stop(&fb);
}

TestSuite(lifecycle, .fini = stop_fixtures, .timeout = 150);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Engine: the rate limiter alone                                      */
/* ------------------------------------------------------------------ */

#define MS 1000000ll /* ns */

Test(lifecycle, rate_reserve_virtual_clock)
{
    mg_rate r = {.bytes_per_sec = 1000000, .burst_ns = 50 * MS};
    atomic_init(&r.tat_ns, 0);
    /* From the start: 100 kB is 100 ms each, back to back. */
    cr_assert_eq(mg_rate_reserve(&r, 100000, 0), 100 * MS);
    cr_assert_eq(mg_rate_reserve(&r, 100000, 0), 200 * MS);
    cr_assert_eq(mg_rate_reserve(&r, 100000, 10 * MS), 300 * MS);
    /* A read of nothing waits for nothing more than the queue ahead. */
    cr_assert_eq(mg_rate_reserve(&r, 0, 10 * MS), 300 * MS);
    /* After 10 s idle, no credit piled up but the burst (50 ms). */
    cr_assert_eq(mg_rate_reserve(&r, 100000, 10000 * MS), 10050 * MS);
    cr_assert_eq(mg_rate_reserve(&r, 100000, 10000 * MS), 10150 * MS);
    /* One read bigger than the burst: it waits for its whole cost. */
    cr_assert_eq(mg_rate_reserve(&r, 2000000, 20000 * MS), 20000 * MS - 50 * MS + 2000 * MS);
}

/* Whatever the sizes and arrival times: bytes allowed by time t never pass
 * rate x (t + burst). */
Test(lifecycle, rate_reserve_bound)
{
    const uint64_t rate = 8 * MiB;
    mg_rate r = {.bytes_per_sec = rate, .burst_ns = 50 * MS};
    atomic_init(&r.tat_ns, 0);
    enum {
        N = 4000
    };
    static int64_t go[N];
    static uint64_t size[N];
    int64_t now = 0;
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        size[i] = 4096 + (seed >> 8) % (2 * MiB);
        now += (int64_t)((seed >> 4) % 3 == 0 ? (seed % 400) * MS : 0); /* bursts and gaps */
        go[i] = mg_rate_reserve(&r, size[i], now);
        cr_assert_geq(go[i] + 1, i ? go[i - 1] : 0, "reservations go back in time");
    }
    /* go[] is ascending: the bytes allowed by go[i] are size[0..i]. */
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) {
        sum += size[i];
        double bound = (double)rate * ((double)go[i] / 1e9 + 0.050) + 1.0;
        cr_assert_leq((double)sum, bound, "read %d: %" PRIu64 " bytes by %.3f s, bound %.0f", i,
                      sum, (double)go[i] / 1e9, bound);
    }
}

/* ------------------------------------------------------------------ */
/* Engine: stopping                                                    */
/* ------------------------------------------------------------------ */

typedef struct cancel_after {
    atomic_int calls;
    int after; /* cancel from this call on */
} cancel_after;

static int cancel_hook(void *ctx)
{
    cancel_after *ca = ctx;
    return atomic_fetch_add(&ca->calls, 1) + 1 >= ca->after;
}

static mg_patterns *one_literal(const char *text)
{
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, text, strlen(text), 0);
    compile_patterns(p);
    return p;
}

/* A sweep set up as mg_scan does, without targets. */
static void sweep_for(mg_sweep *c, const mg_patterns *p, const mg_settings *s, const mg_sink *k)
{
    mg_sweep_init(c, p, s, k, mg_now());
}

Test(lifecycle, pace_wakes_for_cancel)
{
    mg_patterns *p = one_literal("lifecycle");
    mg_settings s;
    mg_default_settings(&s);
    s.max_rate = 1; /* one byte a second: a megabyte is 12 days away */
    cancel_after ca = {.after = 3};
    s.cancel = cancel_hook;
    s.cancel_ctx = &ca;
    mg_sweep c;
    sweep_for(&c, p, &s, NULL);
    double t0 = now_s();
    cr_assert_not(mg_sweep_pace(&c, NULL, MiB), "pace went on though cancelled");
    double took = now_s() - t0;
    cr_assert_eq(atomic_load(&ca.calls), 3);
    /* two polls of MG_STOP_POLL_MS; generous */
    cr_assert_lt(took, 10.0, "pace took %.1f s to see the cancel", took);
    cr_assert_eq(atomic_load(&c.stop_reason), MG_STOP_CANCELLED);
    /* And the first reason stays. */
    cr_assert_eq(mg_sweep_stop(&c, MG_STOP_TIMEOUT), MG_STOP_CANCELLED);
    mg_sweep_fini(&c);
    mg_patterns_free(&p);
}

Test(lifecycle, timeout_and_process_timeout_decisions)
{
    mg_patterns *p = one_literal("lifecycle");
    mg_settings s;
    mg_default_settings(&s);
    s.process_timeout = 0.5;
    collector col = {0};
    mg_sink sink = collector_sink(&col);
    mg_sweep c;
    sweep_for(&c, p, &s, &sink);
    mg_target *t = calloc(1, sizeof(*t));
    t->c = &c;
    t->info = (mg_process){.pid = 4242, .comm = "x", .exe = ""};
    t->pagemap_fd = t->mem_fd = t->pin.pidfd = -1;
    /* Not started: no clock. */
    cr_assert_not(mg_sweep_should_stop(&c, t));
    /* Started a second ago: over, reported once. */
    c.t0 -= 2.0;
    atomic_store(&t->first_unit_us, 1);
    cr_assert(mg_sweep_should_stop(&c, t));
    cr_assert(mg_sweep_should_stop(&c, t));
    cr_assert_eq(col.events[MG_EVENT_TIMEOUT], 1u);
    cr_assert_eq(col.n_event_pids, 1u);
    cr_assert_eq(col.event_pids[0], 4242);
    /* The sweep as a whole goes on. */
    cr_assert_not(mg_sweep_should_stop(&c, NULL));
    cr_assert_eq(atomic_load(&c.stop_reason), MG_STOP_NONE);
    /* Its deadline: the sweep stops, for a timeout. */
    c.deadline = mg_now() - 0.001;
    cr_assert(mg_sweep_should_stop(&c, NULL));
    cr_assert_eq(atomic_load(&c.stop_reason), MG_STOP_TIMEOUT);
    mg_stats st;
    mg_fill_stats(&c, &st, c.t0, 1);
    cr_assert_not(st.complete);
    cr_assert_eq(st.stop_reason, MG_STOP_TIMEOUT);
    cr_assert_eq(st.events[MG_EVENT_TIMEOUT], 1u);
    free(t);
    mg_sweep_fini(&c);
    collector_free(&col);
    mg_patterns_free(&p);
}

/* The sink takes PAUSE_S over the first match of each process: with one
 * worker the two targets run one after the other, each well under
 * process_timeout, together well over it. Each process's clock starts at
 * its own first unit, so neither is cut. */
#define PAUSE_S 2.0

typedef struct pausing_sink {
    collector col;
    pid_t paused[2];
    size_t n_paused;
} pausing_sink;

static int pause_match(void *ctx, const mg_match *m)
{
    pausing_sink *ps = ctx;
    bool first = true;
    for (size_t i = 0; i < ps->n_paused; i++)
        first &= ps->paused[i] != m->process->pid;
    if (first && ps->n_paused < 2) {
        ps->paused[ps->n_paused++] = m->process->pid;
        struct timespec ts = {.tv_sec = (time_t)PAUSE_S};
        nanosleep(&ts, NULL);
    }
    mg_sink inner = collector_sink(&ps->col);
    return inner.match(inner.ctx, m);
}

static void pause_event(void *ctx, const mg_event *e)
{
    pausing_sink *ps = ctx;
    mg_sink inner = collector_sink(&ps->col);
    inner.event(inner.ctx, e);
}

Test(lifecycle, process_timeout_counts_per_process)
{
    need_root();
    if (!fa.pid)
        fixture_start(&fa, NULL);
    fixture f2;
    fixture_start(&f2, NULL);
    char *m1 = fixture_marker(&fa, "heap"), *m2 = fixture_marker(&f2, "heap");
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, m1, strlen(m1), 0);
    add_pattern(p, MG_PATTERN_LITERAL, m2, strlen(m2), 0);
    compile_patterns(p);
    pid_t pids[2] = {fa.pid, f2.pid};
    mg_settings s;
    settings_for(&s, pids, 2);
    s.threads = 1;
    /* each: PAUSE_S plus its scan (a fraction of a second); both: twice
     * PAUSE_S at least */
    s.process_timeout = PAUSE_S * 1.5;
    pausing_sink ps = {0};
    mg_sink sink = {.ctx = &ps, .match = pause_match, .event = pause_event};
    mg_stats st;
    mg_error err = {{0}};
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), 0, "%s", err.message);
    cr_assert_eq(ps.n_paused, 2u, "matches in %zu of the 2 targets", ps.n_paused);
    cr_assert_geq(st.elapsed_seconds, 2 * PAUSE_S);
    cr_assert_eq(st.events[MG_EVENT_TIMEOUT], 0u,
                 "%" PRIu64 " process timeout(s) in %.1f s: each target took about %.1f s of its "
                 "own, under the %.1f s limit",
                 st.events[MG_EVENT_TIMEOUT], st.elapsed_seconds, PAUSE_S, s.process_timeout);
    cr_assert(st.complete);
    cr_assert_eq(st.processes_scanned, 2u);
    want w[2] = {{.pid = fa.pid, .pattern_id = 0}, {.pid = f2.pid, .pattern_id = 1}};
    const fixture *fs[2] = {&fa, &f2};
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < fs[i]->n_plants; k++)
            if (!strcmp(fs[i]->plants[k].name, "heap") && !strcmp(fs[i]->plants[k].kind, "plain")) {
                w[i].addr = fs[i]->plants[k].addr;
                w[i].len = fs[i]->plants[k].len;
            }
    assert_exact_hits(&ps.col, w, 2, "two targets, each under its process timeout");
    collector_free(&ps.col);
    fixture_stop(&f2);
    free(m1);
    free(m2);
    mg_patterns_free(&p);
}

Test(lifecycle, names)
{
    cr_assert_str_eq(mg_event_kind_name(MG_EVENT_TIMEOUT), "timeout");
    cr_assert_str_eq(mg_stop_reason_name(MG_STOP_NONE), "none");
    cr_assert_str_eq(mg_stop_reason_name(MG_STOP_TIMEOUT), "timeout");
    cr_assert_str_eq(mg_stop_reason_name(MG_STOP_CANCELLED), "cancelled");
    cr_assert_str_eq(mg_stop_reason_name(MG_STOP_SINK), "sink");
    cr_assert_str_eq(mg_stop_reason_name((mg_stop_reason)99), "unknown");
}

Test(lifecycle, bad_settings)
{
    mg_patterns *p = one_literal("lifecycle");
    const double bad[] = {-1.0, NAN, INFINITY, 1e15};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int which = 0; which < 2; which++) {
            mg_settings s;
            mg_default_settings(&s);
            *(which ? &s.process_timeout : &s.timeout) = bad[i];
            mg_error err = {{0}};
            int rc = mg_scan(p, &s, NULL, NULL, &err);
            cr_assert_eq(rc, -EINVAL, "%s %g: rc %d", which ? "process_timeout" : "timeout", bad[i],
                         rc);
            cr_assert(strstr(err.message, "timeout"), "message: %s", err.message);
        }
    }
    mg_patterns_free(&p);
}

/* A sweep of memgrep-free targets with a timeout already over stops at
 * once, says so, and reports nothing after. */
Test(lifecycle, scan_timeout_complete_flag)
{
    need_root();
    fixture_start(&fb, (const char *[]){"--touch", "64", NULL});
    char *marker = fixture_marker(&fb, "heap");
    mg_patterns *p = one_literal(marker);
    mg_settings s;
    settings_for(&s, &fb.pid, 1);
    collector col = {0};
    mg_sink sink = collector_sink(&col);
    mg_stats st;
    /* Without limits: complete, the heap plant found. */
    cr_assert_eq(mg_scan(p, &s, &sink, &st, NULL), 0);
    cr_assert(st.complete);
    cr_assert_eq(st.stop_reason, MG_STOP_NONE);
    cr_assert_geq(col.n, 1u);
    collector_free(&col);
    /* 64 MiB at 4 MiB/s with 0.3 s: cut short. */
    s.max_rate = 4 * MiB;
    s.timeout = 0.3;
    double t0 = now_s();
    cr_assert_eq(mg_scan(p, &s, &sink, &st, NULL), 0);
    double took = now_s() - t0;
    cr_assert_not(st.complete);
    cr_assert_eq(st.stop_reason, MG_STOP_TIMEOUT);
    cr_assert_lt(took, 10.0, "a 0.3 s timeout took %.1f s", took);
    cr_assert_lt(st.bytes_read_pvr + st.bytes_read_mem, 64 * MiB);
    collector_free(&col);
    free(marker);
    mg_patterns_free(&p);
}

/* mg_settings.cpu_budget (watch --budget): a scan of 128 MiB with a budget
 * of 10% of one CPU uses at most 11% of one CPU over its wall time,
 * measured as the budget counts it (this process's CPU time: getrusage),
 * and still reads it all (the plant found). Without the budget the scan
 * uses about a whole CPU. A busy host makes the scan longer, not its
 * share larger. */
Test(lifecycle, cpu_budget_paces_inside_a_process)
{
    need_root();
    fixture_start(&fb, (const char *[]){"--touch", "128", NULL});
    char *marker = fixture_marker(&fb, "heap");
    mg_patterns *p = one_literal(marker);
    mg_settings s;
    settings_for(&s, NULL, 0);
    s.threads = 2;
    s.dedupe = false;
    s.cpu_budget = 0.1;
    mg_engine *e = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_engine_new(&e, &s, &err), 0, "%s", err.message);
    collector col = {0};
    mg_sink sink = collector_sink(&col);
    mg_targets t = {.pids = &fb.pid, .n_pids = 1};
    mg_stats st;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = now_s();
    cr_assert_eq(mg_engine_scan(e, &t, p, &sink, &st, &err), 0, "%s", err.message);
    double wall = now_s() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                          r0.ru_stime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                          r0.ru_stime.tv_usec) /
                     1e6;
    cr_log_info("cpu %.3f s over %.3f s: %.1f%% of one CPU (budget 10%%)", cpu, wall,
                100 * cpu / wall);
    cr_assert(st.complete);
    cr_assert_geq(st.bytes_scanned, 128 * MiB);
    cr_assert_geq(col.n, 1u, "the heap plant not found");
    cr_assert_leq(cpu, 0.1 * 1.1 * wall, "%.3f s of CPU in %.3f s: %.1f%% of one CPU, budget 10%%",
                  cpu, wall, 100 * cpu / wall);
    collector_free(&col);
    mg_engine_free(&e);
    free(marker);
    mg_patterns_free(&p);
}

/* A CPU budget that is not a finite number of CPUs up to
 * MG_MAX_CPU_BUDGET is -EINVAL. */
Test(lifecycle, cpu_budget_bounds)
{
    mg_patterns *p = one_literal("mg-lifecycle-budget-bounds");
    mg_settings s;
    mg_default_settings(&s);
    mg_engine *e = NULL;
    mg_error err = {{0}};
    const double bad[] = {-0.01, NAN, INFINITY, MG_MAX_CPU_BUDGET * 2};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s.cpu_budget = bad[i];
        cr_assert_eq(mg_engine_new(&e, &s, &err), -EINVAL, "cpu_budget %g", bad[i]);
        cr_assert(strstr(err.message, "CPU budget"), "%s", err.message);
    }
    s.cpu_budget = MG_MAX_CPU_BUDGET;
    cr_assert_eq(mg_engine_new(&e, &s, &err), 0, "%s", err.message);
    mg_engine_free(&e);
    mg_patterns_free(&p);
}

/* ------------------------------------------------------------------ */
/* Engine: pid reuse                                                   */
/* ------------------------------------------------------------------ */

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0u);
}

/* Run one unit over the page of fb's heap plant, as if fb were the target
 * whose pidfd is `pidfd`. The pid reuse race made deterministic: fb stands
 * for a process that took over the pid of a target that exited (its
 * pidfd, of a reaped child, is readable); the unit's process_vm_readv
 * reads fb's bytes by pid number, and they must be dropped. */
static void unit_with_pidfd(int pidfd, collector *col)
{
    const plant *pl = NULL;
    for (size_t i = 0; i < fb.n_plants && !pl; i++)
        if (!strcmp(fb.plants[i].name, "heap") && !strcmp(fb.plants[i].kind, "plain"))
            pl = &fb.plants[i];
    cr_assert(pl, "no heap plant");
    char *marker = fixture_marker(&fb, "heap");
    mg_patterns *p = one_literal(marker);
    mg_settings s;
    mg_default_settings(&s);
    s.dedupe = false;
    mg_sink sink = collector_sink(col);
    mg_sweep c;
    sweep_for(&c, p, &s, &sink);
    mg_target *t = calloc(1, sizeof(*t));
    t->c = &c;
    atomic_init(&t->refs, 1);
    t->info = (mg_process){.pid = fb.pid, .comm = "reused", .exe = ""};
    cr_assert_eq(mg_maps_read(fb.pid, &t->maps), 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)fb.pid);
    t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/mem", (int)fb.pid);
    t->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(t->pagemap_fd >= 0 && t->mem_fd >= 0);
    t->pin.pidfd = pidfd;
    const mg_region *r = NULL;
    for (size_t i = 0; i < t->maps.n && !r; i++)
        if (t->maps.regions[i].start <= pl->addr && pl->addr < t->maps.regions[i].end)
            r = &t->maps.regions[i];
    cr_assert(r, "no region holds the heap plant");
    uint64_t page = pl->addr & ~(uint64_t)4095;
    mg_unit u = {.p = t,
                 .region = r,
                 .own_start = page,
                 .own_end = page + 4096,
                 .lo = r->start,
                 .hi = r->end};
    mg_worker w;
    cr_assert_eq(mg_worker_init(&w, &c), 0);
    mg_run_unit(&w, &u);
    mg_worker_fini(&w);
    close(t->pagemap_fd);
    close(t->mem_fd);
    mg_maps_free(&t->maps);
    free(t);
    mg_sweep_fini(&c);
    mg_patterns_free(&p);
    free(marker);
}

Test(lifecycle, pid_reuse_bytes_dropped)
{
    need_root();
    int probe = pidfd_open_(getpid());
    if (probe < 0 && errno == ENOSYS)
        cr_skip_test("pidfd_open is not available (Linux < 5.3): the guard is off");
    cr_assert_geq(probe, 0, "pidfd_open: %s", strerror(errno));
    close(probe);
    fixture_start(&fb, NULL);

    /* The pid's real owner: its bytes are taken. */
    collector col = {0};
    int live = pidfd_open_(fb.pid);
    cr_assert_geq(live, 0);
    unit_with_pidfd(live, &col);
    close(live);
    cr_assert_eq(col.n, 1u, "%zu matches with the target's own pidfd", col.n);
    cr_assert_eq(col.events[MG_EVENT_GONE], 0u);
    collector_free(&col);

    /* No pidfd (old kernels): as before, the start-time check only. */
    unit_with_pidfd(-1, &col);
    cr_assert_eq(col.n, 1u);
    collector_free(&col);

    /* The target exited (and was reaped): the pid's bytes are another's. */
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        _exit(0);
    int dead = pidfd_open_(child); /* a zombie still has its pidfd */
    cr_assert_geq(dead, 0, "pidfd_open: %s", strerror(errno));
    cr_assert_eq(waitpid(child, NULL, 0), child);
    unit_with_pidfd(dead, &col);
    close(dead);
    cr_assert_eq(col.n, 0u, "bytes of the pid's new owner were reported");
    cr_assert_eq(col.events[MG_EVENT_GONE], 1u, "no gone event");
    collector_free(&col);
}

/* ------------------------------------------------------------------ */
/* Engine: a target that fails while its unit is delivered             */
/* ------------------------------------------------------------------ */

/* At the unit's first match the target is found gone elsewhere (what the
 * planner's mg_target_failed does first, while this worker is in the sink:
 * the race seen in sweep::all_processes on a loaded machine). */
typedef struct failing_sink {
    collector col;
    mg_target *t;
} failing_sink;

static int fail_at_first(void *ctx, const mg_match *m)
{
    failing_sink *fs = ctx;
    atomic_store(&fs->t->skip, true);
    return collector_sink(&fs->col).match(&fs->col, m);
}

/* The unit's bytes were read while the target was there: every match in
 * them is delivered, though the target fails after the first one. */
Test(lifecycle, unit_read_is_delivered_whole)
{
    need_root();
    fixture_start(&fb, NULL);
    mg_target *t = calloc(1, sizeof(*t));
    cr_assert(t);
    atomic_init(&t->refs, 1);
    t->info = (mg_process){.pid = fb.pid, .comm = "x", .exe = ""};
    cr_assert_eq(mg_maps_read(fb.pid, &t->maps), 0);
    const mg_region *r = NULL;
    for (size_t i = 0; i < t->maps.n && !r; i++)
        if (t->maps.regions[i].kind == MG_REGION_HEAP)
            r = &t->maps.regions[i];
    cr_assert(r, "the fixture has no [heap]");
    /* The plain plants in [heap], one pattern each. */
    mg_patterns *p = patterns_new();
    want w[32];
    size_t nw = 0;
    for (size_t i = 0; i < fb.n_plants; i++) {
        const plant *pl = &fb.plants[i];
        if (strcmp(pl->kind, "plain") || pl->addr < r->start || pl->addr + pl->len > r->end)
            continue;
        char *m = fixture_marker(&fb, pl->name);
        cr_assert_lt(nw, 32u);
        w[nw] = (want){.pid = fb.pid,
                       .addr = pl->addr,
                       .len = pl->len,
                       .pattern_id = add_pattern(p, MG_PATTERN_LITERAL, m, strlen(m), 0)};
        nw++;
        free(m);
    }
    compile_patterns(p);
    cr_assert_geq(nw, 2u, "fewer than two plants in [heap]: nothing to show");
    mg_settings s;
    mg_default_settings(&s);
    s.dedupe = false;
    cr_assert_leq(r->end - r->start, s.chunk_size, "[heap] is larger than one unit");
    failing_sink fs = {.t = t};
    mg_sink sink = {.ctx = &fs, .match = fail_at_first};
    mg_sweep c;
    sweep_for(&c, p, &s, &sink);
    t->c = &c;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)fb.pid);
    t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/mem", (int)fb.pid);
    t->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(t->pagemap_fd >= 0 && t->mem_fd >= 0);
    t->pin.pidfd = -1;
    mg_unit u = {.p = t,
                 .region = r,
                 .own_start = r->start,
                 .own_end = r->end,
                 .lo = r->start,
                 .hi = r->end};
    mg_worker wk;
    cr_assert_eq(mg_worker_init(&wk, &c), 0);
    mg_run_unit(&wk, &u);
    mg_worker_fini(&wk);
    assert_exact_hits(&fs.col, w, nw, "a unit whose target failed at its first match");
    /* and the target stays stopped: no further unit of it runs */
    cr_assert(mg_sweep_should_stop(&c, t));
    close(t->pagemap_fd);
    close(t->mem_fd);
    mg_maps_free(&t->maps);
    free(t);
    mg_sweep_fini(&c);
    collector_free(&fs.col);
    mg_patterns_free(&p);
}

/* ------------------------------------------------------------------ */
/* CLI                                                                 */
/* ------------------------------------------------------------------ */

typedef memgrep_proc proc; /* helpers.c */

/* A whole line on stdout past --json's start record. */
static bool has_first_line(const proc *p)
{
    const char *s = p->len[0] ? memchr(p->buf[0], '\n', p->len[0]) : NULL;
    static const char start[] = "{\"type\":\"start\"";
    if (s && !strncmp(p->buf[0], start, sizeof(start) - 1))
        s = memchr(s + 1, '\n', p->len[0] - (size_t)(s + 1 - p->buf[0]));
    return s != NULL;
}

/* Wait (up to 60 s, times test_timeout_scale) for a whole line on stdout
 * (past a start record). */
static void wait_first_line(proc *p)
{
    double t0 = now_s();
    while (!has_first_line(p)) {
        cr_assert(memgrep_pump(p, 200), "memgrep ended before a line; stderr: %s",
                  p->buf[1] ? p->buf[1] : "");
        cr_assert_lt(now_s() - t0, 60.0 * test_timeout_scale(), "no line on stdout in %.0f s",
                     60.0 * test_timeout_scale());
    }
}

static int run(proc *p, const char *const *args, double max_seconds)
{
    memgrep_spawn(p, args);
    return memgrep_finish(p, max_seconds);
}

/* Every line of stdout is one JSON object, whole; returns them. */
typedef jlines lines; /* helpers.c */

static lines json_lines_of(const proc *p)
{
    return jlines_parse(p->buf[0], p->len[0]);
}

static void lines_free(lines *l)
{
    jlines_free(l);
}

static const char *jstr(const jval *o, const char *k)
{
    const jval *v = json_get(o, k);
    cr_assert(v && v->t == J_STR, "no string \"%s\"", k);
    return v->str;
}

static double jnum(const jval *o, const char *k)
{
    const jval *v = json_get(o, k);
    cr_assert(v && v->t == J_NUM, "no number \"%s\"", k);
    return v->num;
}

/* The summary is the last line, and only there; it says whether the sweep
 * was complete and, if not, why. */
static const jval *summary_of(const lines *l, bool complete, const char *reason)
{
    cr_assert_gt(l->n, 0u, "no output");
    for (size_t i = 0; i + 1 < l->n; i++)
        cr_assert_str_neq(jstr(&l->v[i], "type"), "summary", "a summary before the end");
    const jval *s = &l->v[l->n - 1];
    cr_assert_str_eq(jstr(s, "type"), "summary", "the last line is not the summary");
    const jval *c = json_get(s, "complete");
    cr_assert(c && c->t == J_BOOL, "no \"complete\"");
    cr_assert_eq(c->b, complete, "complete is %d", c->b);
    const jval *r = json_get(s, "stop_reason");
    if (complete)
        cr_assert_null(r, "stop_reason in a complete summary");
    else
        cr_assert_str_eq(jstr(s, "stop_reason"), reason);
    return s;
}

static const char *pid_arg(const fixture *f, char *buf)
{
    sprintf(buf, "%d", (int)f->pid);
    return buf;
}

static void start_big(void)
{
    if (!fb.pid)
        fixture_start(&fb, (const char *[]){"--touch", "64", NULL});
}

Test(lifecycle, cli_timeout_exit_3)
{
    need_root();
    start_big();
    char pb[16];
    proc p;
    double t0 = now_s();
    int st = run(&p,
                 (const char *[]){"scan", "--json", "--max-rate", "1M", "--timeout", "1.5", "-p",
                                  pid_arg(&fb, pb), "-e", "mg-lifecycle-nothing", NULL},
                 60);
    double took = now_s() - t0;
    cr_assert_eq(st, 3, "exit %d; stderr: %s", st, p.buf[1]);
    cr_assert_lt(took, 30.0, "--timeout 1.5 took %.1f s", took);
    lines l = json_lines_of(&p);
    const jval *s = summary_of(&l, false, "timeout");
    cr_assert_lt(jnum(s, "bytes_read_pvr") + jnum(s, "bytes_read_mem"), 64.0 * MiB);
    lines_free(&l);
    memgrep_proc_free(&p);

    /* Text: the summary says it on stderr. */
    st = run(&p,
             (const char *[]){"scan", "--max-rate", "1M", "--timeout", "500ms", "-p",
                              pid_arg(&fb, pb), "-e", "mg-lifecycle-nothing", NULL},
             60);
    cr_assert_eq(st, 3);
    cr_assert(strstr(p.buf[1], "incomplete (timeout)"), "stderr: %s", p.buf[1]);
    memgrep_proc_free(&p);
}

/* fa's heap plant is found and printed (-l streams), then fb is read
 * slowly; the signal comes after that first line. */
static void signal_mid_sweep(int sig)
{
    need_root();
    if (!fa.pid)
        fixture_start(&fa, NULL);
    start_big();
    char *marker = fixture_marker(&fa, "heap");
    char targets[40];
    snprintf(targets, sizeof targets, "%d,%d", (int)fa.pid, (int)fb.pid);
    proc p;
    memgrep_spawn(&p, (const char *[]){"scan", "--json", "-l", "-j", "1", "--max-rate", "4M", "-p",
                                       targets, "-e", marker, NULL});
    wait_first_line(&p);
    cr_assert_eq(kill(p.pid, sig), 0);
    double t0 = now_s();
    int st = memgrep_finish(&p, 60);
    double took = now_s() - t0;
    cr_assert_eq(st, 128 + sig, "exit %d, want %d; stderr: %s", st, 128 + sig, p.buf[1]);
    cr_assert_lt(took, 10.0, "stopping took %.1f s", took);
    lines l = json_lines_of(&p);
    summary_of(&l, false, "signal");
    cr_assert_str_eq(jstr(&l.v[0], "type"), "start");
    cr_assert_str_eq(jstr(&l.v[1], "type"), "process", "%s", p.buf[0]);
    cr_assert_eq((pid_t)jnum(&l.v[1], "pid"), fa.pid);
    lines_free(&l);
    memgrep_proc_free(&p);
    free(marker);
}

Test(lifecycle, cli_sigint)
{
    signal_mid_sweep(SIGINT);
}

Test(lifecycle, cli_sigterm)
{
    signal_mid_sweep(SIGTERM);
}

Test(lifecycle, cli_sighup)
{
    signal_mid_sweep(SIGHUP);
}

/* Text output too: whole lines on stdout, the summary on stderr says
 * "incomplete (signal)". */
Test(lifecycle, cli_sigint_text)
{
    need_root();
    if (!fa.pid)
        fixture_start(&fa, NULL);
    start_big();
    char *marker = fixture_marker(&fa, "heap");
    char targets[40];
    snprintf(targets, sizeof targets, "%d,%d", (int)fa.pid, (int)fb.pid);
    proc p;
    memgrep_spawn(&p, (const char *[]){"scan", "-l", "-j", "1", "--max-rate", "4M", "-p", targets,
                                       "-e", marker, NULL});
    wait_first_line(&p);
    cr_assert_eq(kill(p.pid, SIGINT), 0);
    int st = memgrep_finish(&p, 60);
    cr_assert_eq(st, 130, "exit %d; stderr: %s", st, p.buf[1]);
    cr_assert_eq(p.buf[0][p.len[0] - 1], '\n');
    cr_assert(strstr(p.buf[1], "incomplete (signal)"), "stderr: %s", p.buf[1]);
    memgrep_proc_free(&p);
    free(marker);
}

/* ---- -o FILE when the sweep is cut short ---- */

/* A fresh directory for -o; out gets its FILE path. */
static void out_dir(char dir[64], char out[80])
{
    strcpy(dir, "/tmp/mg-lifecycle-XXXXXX");
    cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    snprintf(out, 80, "%s/out.jsonl", dir);
}

/* Whether dir holds exactly FILE (want_file) and nothing else: no
 * .memgrep-*.tmp left behind. */
static void expect_dir(const char *dir, bool want_file)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        cr_assert_str_eq(e->d_name, "out.jsonl", "%s left in %s", e->d_name, dir);
        files++;
    }
    closedir(d);
    cr_assert_eq(files, want_file ? 1u : 0u, "%s: %zu files, want %d", dir, files, want_file);
}

/* FILE's lines into p's stdout buffer (for json_lines_of); its mode must be 0600. */
static void load_out(proc *p, const char *out)
{
    struct stat st;
    cr_assert_eq(stat(out, &st), 0, "%s not written: %s", out, strerror(errno));
    cr_assert_eq(st.st_mode & 07777, 0600u, "%s has mode %o", out, st.st_mode & 07777);
    FILE *f = fopen(out, "r");
    cr_assert(f);
    free(p->buf[0]);
    p->buf[0] = malloc((size_t)st.st_size + 1);
    cr_assert(p->buf[0]);
    p->len[0] = fread(p->buf[0], 1, (size_t)st.st_size, f);
    p->buf[0][p->len[0]] = '\0';
    fclose(f);
    cr_assert_eq(p->len[0], (size_t)st.st_size);
}

static void cleanup_dir(const char *dir, const char *out)
{
    unlink(out);
    cr_assert_eq(rmdir(dir), 0, "rmdir %s: %s", dir, strerror(errno));
}

/* A line of /proc/PID/status: "SigCgt:" (a mask), "State:". */
static void status_line(pid_t pid, const char *key, char *out, size_t size)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert(f, "memgrep %d is gone", (int)pid);
    out[0] = '\0';
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) {
            snprintf(out, size, "%s", line + strlen(key));
            break;
        }
    fclose(f);
}

/* Until memgrep catches sig: from then on it stops the sweep, it no
 * longer kills memgrep. */
static void wait_caught(pid_t pid, int sig)
{
    double t0 = now_s();
    for (;;) {
        char v[64];
        status_line(pid, "SigCgt:", v, sizeof v);
        if (strtoull(v, NULL, 16) >> (sig - 1) & 1)
            return;
        cr_assert_lt(now_s() - t0, 60.0, "memgrep did not catch signal %d in 60 s", sig);
        struct timespec ts = {.tv_nsec = 10 * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* -l: fa's heap plant, then fb's 64 MiB at 4 MiB/s (16 s): cut short. */
static void spawn_cut(proc *p, const char *out, const char *timeout, char **marker)
{
    need_root();
    if (!fa.pid)
        fixture_start(&fa, NULL);
    start_big();
    static char targets[40];
    snprintf(targets, sizeof targets, "%d,%d", (int)fa.pid, (int)fb.pid);
    *marker = fixture_marker(&fa, "heap");
    const char *args[] = {
        "scan",  "--json", "-l", "-j",    "1",  "--max-rate", "4M",
        "-p",    targets,  "-e", *marker, "-o", out,          timeout ? "--timeout" : NULL,
        timeout, NULL};
    memgrep_spawn(p, args);
}

/* An earlier report at out, which a run that found something replaces
 * (renamed over it at the end: without that, FILE would stay as it was). */
static void old_report(const char *out)
{
    FILE *f = fopen(out, "w");
    cr_assert(f, "%s: %s", out, strerror(errno));
    fputs("an earlier report\n", f);
    cr_assert_eq(fclose(f), 0);
}

/* --timeout with a match found before it: FILE holds the match and the
 * incomplete summary, exit 3 (not 0: the sweep was cut). */
Test(lifecycle, cli_timeout_output_file)
{
    char dir[64], out[80], *marker;
    out_dir(dir, out);
    old_report(out);
    proc p;
    spawn_cut(&p, out, "3", &marker);
    int st = memgrep_finish(&p, 60);
    cr_assert_eq(st, 3, "exit %d, want 3; stderr: %s", st, p.buf[1]);
    cr_assert_eq(p.len[0], 0u, "stdout: %s", p.buf[0]);
    expect_dir(dir, true);
    load_out(&p, out);
    lines l = json_lines_of(&p);
    summary_of(&l, false, "timeout");
    cr_assert_gt(l.n, 2u, "no match in %s before the timeout (fa's heap plant)", out);
    cr_assert_str_eq(jstr(&l.v[0], "type"), "start");
    cr_assert_str_eq(jstr(&l.v[1], "type"), "process");
    cr_assert_eq((pid_t)jnum(&l.v[1], "pid"), fa.pid);
    lines_free(&l);
    memgrep_proc_free(&p);
    cleanup_dir(dir, out);
    free(marker);
}

/* --timeout before any match: no record names FILE early, so it is the
 * end of the run (the commit) that puts the report, its summary last, in
 * place of the earlier one. */
Test(lifecycle, cli_timeout_no_match_output_file)
{
    need_root();
    start_big();
    char dir[64], out[80], pid[16], absent[64];
    out_dir(dir, out);
    old_report(out);
    snprintf(pid, sizeof pid, "%d", (int)fb.pid);
    /* a string no process holds: built here, never whole in a literal */
    snprintf(absent, sizeof absent, "mg-absent-%d-%ld", (int)getpid(), (long)time(NULL));
    const char *args[] = {"scan", "--json", "-j", "1", "--max-rate", "4M", "-p", pid,
                          "-e",   absent,   "-o", out, "--timeout",  "2",  NULL};
    proc p;
    memgrep_spawn(&p, args);
    int st = memgrep_finish(&p, 60);
    cr_assert_eq(st, 3, "exit %d, want 3; stderr: %s", st, p.buf[1]);
    expect_dir(dir, true);
    load_out(&p, out);
    lines l = json_lines_of(&p);
    summary_of(&l, false, "timeout");
    cr_assert_str_eq(jstr(&l.v[0], "type"), "start");
    lines_free(&l);
    memgrep_proc_free(&p);
    cleanup_dir(dir, out);
}

/* A signal mid-sweep: FILE is written all the same, the summary last. */
Test(lifecycle, cli_signal_output_file)
{
    char dir[64], out[80], *marker;
    out_dir(dir, out);
    old_report(out);
    proc p;
    spawn_cut(&p, out, NULL, &marker);
    wait_caught(p.pid, SIGTERM);
    cr_assert_eq(kill(p.pid, SIGTERM), 0);
    int st = memgrep_finish(&p, 60);
    cr_assert_eq(st, 128 + SIGTERM, "exit %d; stderr: %s", st, p.buf[1]);
    expect_dir(dir, true);
    load_out(&p, out);
    lines l = json_lines_of(&p);
    summary_of(&l, false, "signal");
    lines_free(&l);
    memgrep_proc_free(&p);
    cleanup_dir(dir, out);
    free(marker);
}

/* SIGTERM, then SIGHUP while the first is being handled; memgrep must
 * end with the status of one of them. */
static void second_signal(proc *p)
{
    wait_caught(p->pid, SIGTERM);
    wait_caught(p->pid, SIGHUP);
    /* Both signals pending while memgrep is stopped: the one delivered
     * second comes while the first is being handled, not after a stop
     * that may take no time at all (a worker asleep on the rate limit
     * wakes up for the first). */
    cr_assert_eq(kill(p->pid, SIGSTOP), 0);
    double t0 = now_s();
    for (char state[64] = ""; state[strspn(state, " \t")] != 'T';) {
        cr_assert_lt(now_s() - t0, 60.0, "memgrep not stopped in 60 s");
        status_line(p->pid, "State:", state, sizeof state);
    }
    cr_assert_eq(kill(p->pid, SIGTERM), 0);
    cr_assert_eq(kill(p->pid, SIGHUP), 0);
    cr_assert_eq(kill(p->pid, SIGCONT), 0);
    int st = memgrep_finish(p, 60);
    cr_assert(st == 128 + SIGHUP || st == 128 + SIGTERM, "exit %d, want %d or %d; stderr: %s", st,
              128 + SIGHUP, 128 + SIGTERM, p->buf[1]);
}

/* A second signal, another one than the first, while stopping: memgrep
 * ends at once with its status and leaves no temporary file; FILE is as
 * it was if nothing was found yet, else it holds whole records of what was
 * found (named at the first: outfile.h) and no summary. */
Test(lifecycle, cli_second_signal_output_file)
{
    char dir[64], out[80], *marker;
    out_dir(dir, out);
    FILE *f = fopen(out, "w");
    cr_assert(f);
    fputs("before\n", f);
    fclose(f);
    proc p;
    spawn_cut(&p, out, NULL, &marker);
    second_signal(&p);
    expect_dir(dir, true);
    char buf[64] = "";
    f = fopen(out, "r");
    cr_assert(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strcmp(buf, "before\n")) {
        load_out(&p, out);
        lines l = json_lines_of(&p); /* whole lines, each JSON */
        cr_assert_gt(l.n, 0u);
        cr_assert_str_eq(jstr(&l.v[0], "type"), "start", "%s: neither as it was nor ours", out);
        for (size_t i = 0; i < l.n; i++)
            cr_assert_str_neq(jstr(&l.v[i], "type"), "summary", "a summary after a second signal");
        lines_free(&l);
    }
    memgrep_proc_free(&p);
    cleanup_dir(dir, out);
    free(marker);
}

/* As above where the file system has no O_TMPFILE (refused here by a
 * seccomp filter): -o FILE is a named .memgrep-*.tmp until the first
 * match, which never comes (a marker nobody holds, fb read at 4 MiB/s);
 * the second signal's handler removes it, FILE stays as it was. */
Test(lifecycle, cli_second_signal_named_tmp_removed)
{
    need_root();
    start_big();
    refuse_o_tmpfile();
    char dir[64], out[80];
    out_dir(dir, out);
    FILE *f = fopen(out, "w");
    cr_assert(f);
    fputs("before\n", f);
    fclose(f);
    char pb[16], absent[64];
    snprintf(pb, sizeof pb, "%d", (int)fb.pid);
    snprintf(absent, sizeof absent, "mg-absent-%d-%08x", (int)getpid(), (unsigned)now_s());
    proc p;
    memgrep_spawn(&p, (const char *[]){"scan", "--json", "-j", "1", "--max-rate", "4M", "-p", pb,
                                       "-e", absent, "-o", out, NULL});
    /* the named temporary file is made before the sweep starts */
    bool named = false;
    for (double t0 = now_s(); !named;) {
        cr_assert_lt(now_s() - t0, 60.0, "no .memgrep-*.tmp in %s in 60 s", dir);
        DIR *d = opendir(dir);
        cr_assert(d);
        for (struct dirent *e; (e = readdir(d));)
            named |= !strncmp(e->d_name, ".memgrep-", 9);
        closedir(d);
    }
    second_signal(&p);
    expect_dir(dir, true);
    char buf[64] = "";
    f = fopen(out, "r");
    cr_assert(f);
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
    cr_assert_str_eq(buf, "before\n", "%s changed though nothing was found", out);
    memgrep_proc_free(&p);
    cleanup_dir(dir, out);
}

Test(lifecycle, cli_process_timeout)
{
    need_root();
    fixture_start(&fa, NULL);
    start_big();
    char *heap = fixture_marker(&fa, "heap"), *big = fixture_marker(&fa, "big");
    char targets[40];
    snprintf(targets, sizeof targets, "%d,%d", (int)fa.pid, (int)fb.pid);
    /* -j 1: fa's units all come before fb's. fa is a few MiB (well under a
     * second at 8 MiB/s); fb's 64 MiB would take 8 s: cut at 4. The margin
     * is for a busy machine: fa's scan must not take 4 s of its own. */
    proc p;
    int st =
        run(&p,
            (const char *[]){"scan", "--json", "-j", "1", "--max-rate", "8M", "--process-timeout",
                             "4", "-p", targets, "-e", heap, "-e", big, NULL},
            90);
    cr_assert_eq(st, 0, "exit %d; stderr: %s", st, p.buf[1]);
    lines l = json_lines_of(&p);
    /* the sweep ran to its end, but fb was cut: not complete */
    const jval *s = summary_of(&l, false, "cut");
    const jval *ev = json_get(s, "events");
    cr_assert(ev && ev->t == J_OBJ);
    cr_assert_eq(jnum(ev, "timeout"), 1.0);
    cr_assert_eq(jnum(s, "processes_whole"), 1.0);
    cr_assert_eq(jnum(s, "processes_cut"), 1.0);

    /* Exactly fa's plants of those names (not upper/wide forms), once each;
     * one timeout error, for fb. */
    const char *names[2] = {"heap", "big"};
    size_t expected = 0, got = 0, timeouts = 0;
    bool *seen = calloc(fa.n_plants, sizeof *seen);
    for (size_t i = 0; i < fa.n_plants; i++)
        for (int k = 0; k < 2; k++)
            expected += !strcmp(fa.plants[i].name, names[k]) && !strcmp(fa.plants[i].kind, "plain");
    for (size_t i = 0; i + 1 < l.n; i++) {
        const jval *v = &l.v[i];
        const char *type = jstr(v, "type");
        if (!strcmp(type, "start"))
            continue;
        if (!strcmp(type, "error")) {
            cr_assert_str_eq(jstr(v, "kind"), "timeout", "unexpected error: %s", jstr(v, "reason"));
            cr_assert_eq((pid_t)jnum(v, "pid"), fb.pid, "a timeout for the small target");
            timeouts++;
            continue;
        }
        cr_assert_str_eq(type, "match");
        cr_assert_eq((pid_t)jnum(v, "pid"), fa.pid, "a match in fb");
        uint64_t addr = strtoull(jstr(v, "address"), NULL, 16);
        const plant *pl = fixture_plant_at(&fa, addr);
        cr_assert(pl, "match at 0x%" PRIx64 ": no plant there", addr);
        size_t idx = (size_t)(pl - fa.plants);
        cr_assert_not(seen[idx], "0x%" PRIx64 " reported twice", addr);
        seen[idx] = true;
        unsigned id = (unsigned)jnum(v, "pattern_id");
        cr_assert_str_eq(pl->name, names[id]);
        got++;
    }
    cr_assert_eq(timeouts, 1u);
    cr_assert_eq(got, expected, "%zu of %zu plants found", got, expected);
    free(seen);
    lines_free(&l);
    memgrep_proc_free(&p);
    free(heap);
    free(big);
}

/* Bytes read over elapsed time stay under the rate (plus the 50 ms burst). */
static void check_rate(const char *const *args, double rate)
{
    proc p;
    int st = run(&p, args, 60);
    cr_assert_eq(st, 3, "exit %d; stderr: %s", st, p.buf[1]);
    lines l = json_lines_of(&p);
    const jval *s = summary_of(&l, false, "timeout");
    double bytes = jnum(s, "bytes_read_pvr") + jnum(s, "bytes_read_mem");
    double el = jnum(s, "elapsed_seconds");
    cr_assert_gt(bytes, 0.0);
    cr_assert_leq(bytes, rate * (el + 0.05) * 1.01, "%.0f bytes in %.3f s at %.0f B/s", bytes, el,
                  rate);
    lines_free(&l);
    memgrep_proc_free(&p);
}

Test(lifecycle, cli_max_rate)
{
    need_root();
    start_big();
    char pb[16];
    pid_arg(&fb, pb);
    check_rate((const char *[]){"scan", "--json", "-j", "2", "--max-rate", "8M", "--timeout", "2",
                                "-p", pb, "-e", "mg-lifecycle-nothing", NULL},
               8.0 * MiB);
    /* --gentle's own cap (64M) ... */
    check_rate((const char *[]){"scan", "--json", "--gentle", "--timeout", "0.5", "-p", pb, "-e",
                                "mg-lifecycle-nothing", NULL},
               64.0 * MiB);
    /* ... loses to an explicit --max-rate, before or after it. */
    check_rate((const char *[]){"scan", "--json", "--max-rate", "2M", "--gentle", "--timeout", "1",
                                "-p", pb, "-e", "mg-lifecycle-nothing", NULL},
               2.0 * MiB);
    check_rate((const char *[]){"scan", "--json", "--gentle", "--max-rate", "2M", "--timeout", "1",
                                "-p", pb, "-e", "mg-lifecycle-nothing", NULL},
               2.0 * MiB);
}

/* ---- scheduling of every thread ---- */

#define SCHED_IDLE_POLICY 5 /* SCHED_IDLE */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_IDLE 3

typedef struct thread_info {
    pid_t tid;
    long nice;
    unsigned long policy;
    int ioprio_class;
} thread_info;

/* Fields 19 (nice) and 41 (policy) of /proc/PID/task/TID/stat. */
static bool read_thread(pid_t pid, pid_t tid, thread_info *t)
{
    char path[96], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = strrchr(buf, ')');
    if (!s)
        return false;
    s += 2; /* field 3 */
    t->tid = tid;
    for (int field = 3; field <= 41 && s; field++) {
        if (field == 19)
            t->nice = strtol(s, NULL, 10);
        if (field == 41)
            t->policy = strtoul(s, NULL, 10);
        s = strchr(s, ' ');
        if (s)
            s++;
    }
    long io = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
    t->ioprio_class = io < 0 ? -1 : (int)(io >> 13);
    return true;
}

/* Wait until memgrep has `want` threads (main + workers), then read them. */
static size_t threads_of(proc *p, size_t n_want, thread_info *out, size_t max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)p->pid);
    double t0 = now_s();
    for (;;) {
        size_t n = 0;
        DIR *d = opendir(path);
        cr_assert(d, "memgrep is gone");
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.' && n < max && read_thread(p->pid, atoi(e->d_name), &out[n]))
                n++;
        closedir(d);
        if (n >= n_want)
            return n;
        cr_assert_lt(now_s() - t0, 30.0 * test_timeout_scale(), "memgrep has %zu threads, not %zu",
                     n, n_want);
        memgrep_pump(p, 50);
    }
}

static void expect_threads(const char *const *args, size_t n_want, unsigned long policy, long nice,
                           int ioprio_class)
{
    proc p;
    memgrep_spawn(&p, args);
    thread_info t[16];
    size_t n = threads_of(&p, n_want, t, 16);
    cr_assert_eq(n, n_want, "%zu threads, want %zu", n, n_want);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(t[i].policy, policy, "thread %d: policy %lu, want %lu", (int)t[i].tid,
                     t[i].policy, policy);
        cr_assert_eq(t[i].nice, nice, "thread %d: nice %ld, want %ld", (int)t[i].tid, t[i].nice,
                     nice);
        if (ioprio_class >= 0)
            cr_assert_eq(t[i].ioprio_class, ioprio_class, "thread %d: I/O class %d, want %d",
                         (int)t[i].tid, t[i].ioprio_class, ioprio_class);
    }
    kill(p.pid, SIGTERM);
    cr_assert_eq(memgrep_finish(&p, 60), 128 + SIGTERM);
    memgrep_proc_free(&p);
}

Test(lifecycle, cli_idle_nice_gentle_threads)
{
    need_root();
    start_big();
    char pb[16];
    pid_arg(&fb, pb);
    /* 64 MiB at 1 MiB/s: running long enough to be looked at. --idle
     * leaves the nice value as inherited: ours (a CI job may run niced). */
    expect_threads((const char *[]){"scan", "--idle", "-j", "2", "--max-rate", "1M", "-p", pb, "-e",
                                    "mg-lifecycle-nothing", NULL},
                   3, SCHED_IDLE_POLICY, getpriority(PRIO_PROCESS, 0), IOPRIO_CLASS_IDLE);
    expect_threads((const char *[]){"scan", "--nice", "10", "-j", "2", "--max-rate", "1M", "-p", pb,
                                    "-e", "mg-lifecycle-nothing", NULL},
                   3, 0 /* SCHED_OTHER */, 10, -1);
    /* --gentle: one worker, idle, nice 19 (its rate overridden to stay long) */
    expect_threads((const char *[]){"scan", "--gentle", "--max-rate", "1M", "-p", pb, "-e",
                                    "mg-lifecycle-nothing", NULL},
                   2, SCHED_IDLE_POLICY, 19, IOPRIO_CLASS_IDLE);
    /* --gentle with -j 2, and --nice 5 winning over its 19 */
    expect_threads((const char *[]){"scan", "-j", "2", "--nice", "5", "--gentle", "--max-rate",
                                    "1M", "-p", pb, "-e", "mg-lifecycle-nothing", NULL},
                   3, SCHED_IDLE_POLICY, 5, IOPRIO_CLASS_IDLE);
}

Test(lifecycle, cli_gentle_threads_in_summary)
{
    need_root();
    start_big();
    char pb[16];
    pid_arg(&fb, pb);
    const char *j[2] = {NULL, "2"};
    for (int k = 0; k < 2; k++) {
        proc p;
        const char *args[] = {"scan",
                              "--json",
                              "--gentle",
                              "--timeout",
                              "0.5",
                              "-p",
                              pb,
                              "-e",
                              "mg-lifecycle-nothing",
                              j[k] ? "-j" : NULL,
                              j[k],
                              NULL};
        int st = run(&p, args, 60);
        cr_assert(st == 3 || st == 1, "exit %d; stderr: %s", st, p.buf[1]);
        lines l = json_lines_of(&p);
        const jval *s = &l.v[l.n - 1];
        cr_assert_eq(jnum(s, "threads"), k ? 2.0 : 1.0);
        lines_free(&l);
        memgrep_proc_free(&p);
    }
}

/* ---- bad values: exit 2, one line naming the option ---- */

static void expect_usage_error(const char *opt, const char *value)
{
    proc p;
    int st = run(&p, (const char *[]){"scan", opt, value, "-e", "x", NULL}, 30);
    cr_assert_eq(st, 2, "%s %s: exit %d", opt, value, st);
    cr_assert_eq(p.len[0], 0u, "%s %s: stdout not empty", opt, value);
    size_t nl = 0;
    for (size_t i = 0; i < p.len[1]; i++)
        nl += p.buf[1][i] == '\n';
    cr_assert_eq(nl, 1u, "%s %s: stderr is not one line: %s", opt, value, p.buf[1]);
    cr_assert(strstr(p.buf[1], opt), "%s %s: stderr does not name it: %s", opt, value, p.buf[1]);
    memgrep_proc_free(&p);
}

Test(lifecycle, cli_bad_values)
{
    const char *timeouts[] = {"-1",  "5x",  "",    "1.",   ".5",  "1.5.5",
                              "nan", "inf", "1e3", "30 s", "1h1", "99999999999h"};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        expect_usage_error("--timeout", timeouts[i]);
        expect_usage_error("--process-timeout", timeouts[i]);
    }
    const char *rates[] = {"-1", "5Q", "1MB", "", "99999999999G"};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
        expect_usage_error("--max-rate", rates[i]);
    const char *nices[] = {"40", "20", "-21", "x", "", "+5", "--5"};
    for (size_t i = 0; i < sizeof(nices) / sizeof(nices[0]); i++)
        expect_usage_error("--nice", nices[i]);
}

/* The grammar's good values are taken (-h: every argument is still
 * checked), and one of each unit runs that long at least. */
Test(lifecycle, cli_good_values)
{
    const char *ok[] = {"30s", "2m", "1.5", "500ms", "1h", "0", "2.25s", "0.001"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        proc p;
        int st = run(&p,
                     (const char *[]){"scan", "--timeout", ok[i], "--process-timeout", ok[i],
                                      "--max-rate", "0", "--nice", "-0", "-e", "x", "-h", NULL},
                     30);
        cr_assert_eq(st, 0, "--timeout %s: exit %d; stderr: %s", ok[i], st, p.buf[1]);
        memgrep_proc_free(&p);
    }
    need_root();
    start_big();
    char pb[16];
    pid_arg(&fb, pb);
    const char *timed[] = {"700ms", "0.7", "0.7s"};
    for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++) {
        proc p;
        int st = run(&p,
                     (const char *[]){"scan", "--json", "--max-rate", "1M", "--timeout", timed[i],
                                      "-p", pb, "-e", "mg-lifecycle-nothing", NULL},
                     60);
        cr_assert_eq(st, 3, "--timeout %s: exit %d", timed[i], st);
        lines l = json_lines_of(&p);
        double el = jnum(&l.v[l.n - 1], "elapsed_seconds");
        cr_assert(el >= 0.7 && el < 20, "--timeout %s: %.3f s", timed[i], el);
        lines_free(&l);
        memgrep_proc_free(&p);
    }
}
