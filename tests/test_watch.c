/* test_watch.c - `memgrep watch`: new processes seen through the process
 * events connector and through /proc polling, hits reported once, the
 * final stats record on SIGTERM and SIGINT, SIGHUP with a broken rule file.
 *
 * The target (tests/targets/watch_target.c) writes its marker into its heap
 * a few milliseconds after it starts and lives 50 ms. The tests hold the
 * marker only as hex text ("-x"), so that the test process (and the
 * children it forks, which every watch on the host scans at their fork)
 * never holds the marker's bytes before watch has reported it: a match in
 * the target's pid is the target's, and every match of it is checked. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "json.h"
#include "watch_alerts.h"
#include "watch_events.h"

TestSuite(watch, .timeout = 240);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The target's marker as hex bytes, built piece by piece: the marker's
 * bytes are never in this process. */
static void marker_hex(const char *token, char *out, size_t size)
{
    const char *pieces[] = {FIXTURE_MARKER_PREFIX, token, "-watch;"};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < 3; i++)
        for (const char *c = pieces[i]; *c; c++) {
            cr_assert_lt(n + 4, size);
            n += (size_t)snprintf(out + n, size - n, "%s%02x", n ? " " : "", (unsigned char)*c);
        }
}

/* memgrep watch --json --db-cache $MG_DB_CACHE ARGS... */
static void watch_spawn(memgrep_proc *w, const char *const *args)
{
    const char *argv[48] = {"watch", "--json", "--db-cache", getenv("MG_DB_CACHE")};
    size_t n = 4;
    for (size_t i = 0; args[i]; i++) {
        cr_assert_lt(n, 46u);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    memgrep_spawn(w, argv);
}

/* watch_spawn, then read until its start record (it listens from then on). */
static void watch_start(memgrep_proc *w, const char *const *args)
{
    watch_spawn(w, args);
    double t0 = now_s(), limit = 60 * test_timeout_scale();
    while (!w->buf[0] || !strstr(w->buf[0], "{\"type\":\"start\"")) {
        cr_assert(memgrep_pump(w, 100), "watch ended before its start record; stderr: %s",
                  w->buf[1] ? w->buf[1] : "");
        cr_assert_lt(now_s() - t0, limit, "no start record after %.0f s", limit);
    }
}

/* A rule file: rule NAME with the one hex string HEX. */
static void write_rule(const char *path, const char *name, const char *hex)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fprintf(f, "rule %s\n{\n  strings:\n    $m = { %s }\n  condition:\n    $m\n}\n", name, hex);
    cr_assert_eq(fclose(f), 0);
}

/* A SIGHUP test's rule file: the run's marker, a temporary directory and
 * PATH (r.yar) in it. */
typedef struct rule_dir {
    char token[17], hex[256]; /* the marker (marker_hex) */
    char dir[32], path[64], out[64]; /* out: DIR/out.jsonl, for -o */
} rule_dir;

static void rule_dir_make(rule_dir *r)
{
    random_token(r->token);
    marker_hex(r->token, r->hex, sizeof(r->hex));
    snprintf(r->dir, sizeof(r->dir), "/tmp/mg-watch-XXXXXX");
    cr_assert(mkdtemp(r->dir));
    snprintf(r->path, sizeof(r->path), "%s/r.yar", r->dir);
    snprintf(r->out, sizeof(r->out), "%s/out.jsonl", r->dir);
}

static void rule_dir_remove(const rule_dir *r)
{
    unlink(r->out);
    unlink(r->path);
    rmdir(r->dir);
}

/* watch on r's rule file: no rolling rescan, stats every `stats` seconds,
 * exec rescans up to 400 ms (a reload test's target lives longer than
 * 50 ms). with_out: records to r->out, and watch is only spawned (its
 * start record is in that file); else watch_start. */
static void watch_on_rules(memgrep_proc *w, const rule_dir *r, const char *stats, bool with_out)
{
    const char *args[] = {"--rescan-every",
                          "0",
                          "--stats-every",
                          stats,
                          "--exec-rescan",
                          "10ms,50ms,100ms,200ms,400ms",
                          "-r",
                          r->path,
                          with_out ? "-o" : NULL,
                          r->out,
                          NULL};
    if (with_out)
        watch_spawn(w, args);
    else
        watch_start(w, args);
}

/* Read what watch writes for `seconds`. */
static void watch_pump_for(memgrep_proc *w, double seconds)
{
    double t0 = now_s();
    while (now_s() - t0 < seconds && memgrep_pump(w, 50))
        ;
}

/* Stop watch with sig; its exit status must be 0. Returns its records. */
static jlines watch_stop(memgrep_proc *w, int sig)
{
    cr_assert_eq(kill(w->pid, sig), 0);
    int status = memgrep_finish(w, 60 * test_timeout_scale());
    cr_assert_eq(status, 0, "watch exited %d after signal %d; stderr: %s", status, sig, w->buf[1]);
    return jlines_parse(w->buf[0], w->len[0]);
}

typedef struct target {
    pid_t pid;
    uint64_t addr;
} target;

/* Run watch_target TOKEN DELAY LIVE to its end: its pid and the marker's
 * address. */
static target run_target(const char *token, long delay_ms, long live_ms)
{
    char delay[32], live[32];
    snprintf(delay, sizeof(delay), "%ld", delay_ms);
    snprintf(live, sizeof(live), "%ld", live_ms);
    const char *exe = getenv("MG_WATCH_TARGET");
    cr_assert(exe && *exe, "MG_WATCH_TARGET is not set");
    const char *argv[] = {exe, token, delay, live, NULL};
    prog_result r = prog_run(argv);
    cr_assert_eq(r.status, 0, "watch_target: %s", r.err);
    target t = {.pid = r.pid};
    unsigned long addr;
    size_t len;
    cr_assert_eq(sscanf(r.out, "PLANT 0x%lx %zu", &addr, &len), 2, "watch_target said: %s", r.out);
    t.addr = addr;
    prog_result_free(&r);
    return t;
}

static const char *str_of(const jval *rec, const char *key)
{
    const jval *v = json_get(rec, key);
    return v && v->t == J_STR ? v->str : "";
}

static double num_of(const jval *rec, const char *key)
{
    const jval *v = json_get(rec, key);
    return v && v->t == J_NUM ? v->num : -1;
}

/* Records of type `type` about pid, counted; *addr_ok: all at addr. */
static size_t records_of(const jlines *l, const char *type, pid_t pid, uint64_t addr,
                         bool *all_at_addr)
{
    size_t n = 0;
    *all_at_addr = true;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(str_of(&l->v[i], "type"), type) || num_of(&l->v[i], "pid") != pid)
            continue;
        n++;
        const char *a = str_of(&l->v[i], "address");
        if (!strcmp(type, "rule")) { /* the address of its first string */
            const jval *s = json_get(&l->v[i], "strings");
            a = s && s->t == J_ARR && s->n ? str_of(&s->items[0], "address") : "";
        }
        if (strtoull(a, NULL, 16) != addr)
            *all_at_addr = false;
    }
    return n;
}

/* The last record: the final stats. */
static const jval *final_stats(const jlines *l)
{
    cr_assert_gt(l->n, 0u);
    const jval *last = &l->v[l->n - 1];
    cr_assert_str_eq(str_of(last, "type"), "stats");
    const jval *final = json_get(last, "final");
    cr_assert(final && final->t == J_BOOL && final->b, "the last stats record is not final");
    size_t finals = 0;
    for (size_t i = 0; i < l->n; i++) {
        const jval *f = json_get(&l->v[i], "final");
        finals += !strcmp(str_of(&l->v[i], "type"), "stats") && f && f->b;
    }
    cr_assert_eq(finals, 1u);
    return last;
}

/* Whether watch has written a match record of pid so far. */
static bool match_seen(const memgrep_proc *w, pid_t pid)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"type\":\"match\",\"time\":");
    for (const char *line = w->buf[0]; line && (line = strstr(line, needle)); line++) {
        char at[32];
        snprintf(at, sizeof(at), "\"pid\":%d,", (int)pid);
        const char *end = strchr(line, '\n');
        const char *p = strstr(line, at);
        if (p && (!end || p < end))
            return true;
    }
    return false;
}

#define ATTEMPTS 5

/* A process started after watch, writing its marker 5 ms after its start
 * and living 50 ms, is reported: one match, its pid, the marker's address.
 * Whether 50 ms are enough on a host this busy is for bench/ to measure:
 * up to ATTEMPTS targets (each its own marker) until one is reported, and
 * every one of them is checked (no match elsewhere, none twice). */
static void new_process_reported(const char *events)
{
    need_root();
    char tokens[ATTEMPTS][17], hex[ATTEMPTS][256];
    const char *args[32] = {"--events",      events, "--rescan-every", "0",
                            "--stats-every", "0",    "--exec-rescan",  "10ms,20ms,30ms,40ms"};
    size_t n_args = 8;
    for (size_t i = 0; i < ATTEMPTS; i++) {
        random_token(tokens[i]);
        marker_hex(tokens[i], hex[i], sizeof(hex[i]));
        args[n_args++] = "-x";
        args[n_args++] = hex[i];
    }
    args[n_args] = NULL;
    double scale = test_timeout_scale();
    memgrep_proc w;
    watch_start(&w, args);
    target t[ATTEMPTS];
    size_t runs = 0, reported = 0;
    while (runs < ATTEMPTS && !reported) {
        t[runs] = run_target(tokens[runs], 5, (long)(50 * scale));
        watch_pump_for(&w, 0.3 * scale);
        reported += match_seen(&w, t[runs++].pid);
    }
    watch_pump_for(&w, 0.2 * scale);
    jlines l = watch_stop(&w, SIGTERM);
    cr_log_info("%s: reported at attempt %zu of %d", events, runs, ATTEMPTS);
    cr_assert(reported, "none of %d targets reported; watch said:\n%s", ATTEMPTS, w.buf[0]);
    for (size_t i = 0; i < runs; i++) {
        bool at_addr;
        size_t n = records_of(&l, "match", t[i].pid, t[i].addr, &at_addr);
        cr_assert_leq(n, 1u, "%zu match records of target %d (want 1); watch said:\n%s", n,
                      (int)t[i].pid, w.buf[0]);
        cr_assert(i + 1 < runs || n == 1); /* the last one is the one reported */
        cr_assert(at_addr, "a match is not at the marker's address 0x%llx:\n%s",
                  (unsigned long long)t[i].addr, w.buf[0]);
    }
    const jval *st = final_stats(&l);
    cr_assert_str_eq(str_of(st, "event_source"), events);
    cr_assert_geq(num_of(st, "events_seen"), 1);
    cr_assert_geq(num_of(st, "alerts"), 1);
    cr_assert_eq(num_of(st, "events_overruns"), 0);
    jlines_free(&l);
    memgrep_proc_free(&w);
}

Test(watch, new_process_connector)
{
    new_process_reported("connector");
}

Test(watch, new_process_proc_polling)
{
    new_process_reported("proc");
}

/* The last "passes" of the stats records in w's output after *seen (moved
 * on), or -1 if there is none. */
static double passes_since(const memgrep_proc *w, size_t *seen)
{
    double passes = -1;
    for (const char *p = w->buf[0] + *seen; (p = strstr(p, "\"passes\":")); p++)
        passes = atof(p + 9);
    *seen = w->len[0] > 64 ? w->len[0] - 64 : 0;
    return passes;
}

/* A process holding its marker across many scans (at exec, six rescans,
 * two rolling passes of every process) is reported once. */
Test(watch, alerts_once)
{
    need_root();
    char token[17], hex[256];
    random_token(token);
    marker_hex(token, hex, sizeof(hex));
    double scale = test_timeout_scale();
    memgrep_proc w;
    const char *args[] = {"--events",
                          "connector",
                          "--rescan-every",
                          "100ms",
                          "--stats-every",
                          "100ms",
                          "--exec-rescan",
                          "10ms,50ms,100ms,200ms,400ms,800ms",
                          "-x",
                          hex,
                          NULL};
    watch_start(&w, args);
    /* the target lives until watch has scanned it in two whole passes that
     * began after it started (then it is killed and reaped here) */
    const char *exe = getenv("MG_WATCH_TARGET");
    char life[32]; /* gone on its own if a failing assert leaves it */
    snprintf(life, sizeof(life), "%ld", (long)(150000 * scale));
    const char *targv[] = {exe, token, "5", life, NULL};
    memgrep_proc tp;
    prog_spawn(&tp, targv);
    while (!tp.buf[0] || !strstr(tp.buf[0], "\n"))
        cr_assert(memgrep_pump(&tp, 100), "watch_target ended early");
    unsigned long addr;
    size_t len;
    cr_assert_eq(sscanf(tp.buf[0], "PLANT 0x%lx %zu", &addr, &len), 2);
    /* passes counted from now: the next two start after the target did */
    double t0 = now_s(), limit = 100 * scale; /* within the target's life */
    size_t seen = w.len[0];
    double passes_then = -1, passes = -1;
    while (passes_then < 0 || passes < passes_then + 2) {
        cr_assert(memgrep_pump(&w, 100), "watch ended; stderr: %s", w.buf[1]);
        cr_assert_lt(now_s() - t0, limit, "fewer than two passes in %.0f s", limit);
        double p = passes_since(&w, &seen); /* the last stats record's */
        if (p >= 0 && passes_then < 0)
            passes_then = p;
        if (p >= 0)
            passes = p;
    }
    kill(tp.pid, SIGKILL);
    cr_assert_eq(waitpid(tp.pid, NULL, 0), tp.pid);
    for (int i = 0; i < 2; i++)
        if (tp.fd[i] >= 0)
            close(tp.fd[i]);
    memgrep_proc_free(&tp);
    jlines l = watch_stop(&w, SIGTERM);
    bool at_addr;
    size_t n = records_of(&l, "match", tp.pid, addr, &at_addr);
    cr_assert_eq(n, 1u, "%zu match records of the target (want 1)", n);
    cr_assert(at_addr);
    const jval *st = final_stats(&l);
    /* at least the two passes found it again (and the exec rescans after
     * the one that reported it) */
    cr_assert_geq(num_of(st, "alerts_repeated"), 2, "found again fewer than 2 times");
    jlines_free(&l);
    memgrep_proc_free(&w);
}

/* New processes go first, but a steady stream of them (here about 40 a
 * second, each rescanned 15 times in its 200 ms) does not hold the rolling
 * rescan back: passes over the host still end. */
Test(watch, rolling_rescan_under_exec_churn)
{
    need_root();
    char token[17], hex[256];
    random_token(token);
    marker_hex(token, hex, sizeof(hex));
    memgrep_proc w;
    const char *args[] = {"--events",
                          "connector",
                          "--rescan-every",
                          "100ms",
                          "--stats-every",
                          "100ms",
                          "--exec-rescan",
                          "10ms,20ms,30ms,40ms,50ms,60ms,70ms,80ms,90ms,100ms,110ms,120ms,130ms,"
                          "140ms,150ms",
                          "-x",
                          hex,
                          NULL};
    watch_start(&w, args);
    pid_t churn = fork();
    cr_assert_geq(churn, 0);
    if (churn == 0) {
        setpgid(0, 0);
        /* four loops, each starting the next process as the last ends:
         * 16 MiB to read in each, for 100 ms */
        char script[512];
        snprintf(script, sizeof(script),
                 "for i in 1 2 3 4; do while :; do %s churn 0 100 16 >/dev/null; done & done; wait",
                 getenv("MG_WATCH_TARGET"));
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    setpgid(churn, churn);
    double t0 = now_s(), limit = 60 * test_timeout_scale(), first = -1, passes = -1;
    size_t seen = w.len[0];
    while ((first < 0 || passes < first + 2) && now_s() - t0 < limit) {
        if (!memgrep_pump(&w, 100))
            break;
        double p = passes_since(&w, &seen);
        if (p >= 0 && first < 0)
            first = p;
        if (p >= 0)
            passes = p;
    }
    kill(-churn, SIGKILL);
    cr_assert_eq(waitpid(churn, NULL, 0), churn);
    jlines l = watch_stop(&w, SIGTERM);
    const jval *st = final_stats(&l);
    cr_assert_geq(passes, first + 2,
                  "%.0f passes in %.0f s of exec churn (%.0f scans, %.0f events)", passes - first,
                  limit, num_of(st, "scans"), num_of(st, "events_seen"));
    jlines_free(&l);
    memgrep_proc_free(&w);
}

/* SIGTERM and SIGINT: a final stats record, the last line, and exit 0. */
static void final_record_on(int sig)
{
    need_root();
    char token[17], hex[256];
    random_token(token);
    marker_hex(token, hex, sizeof(hex));
    memgrep_proc w;
    const char *args[] = {"--rescan-every", "0", "--stats-every", "0", "-x", hex, NULL};
    watch_start(&w, args);
    jlines l = watch_stop(&w, sig);
    const jval *st = final_stats(&l);
    cr_assert_geq(num_of(st, "uptime_seconds"), 0);
    cr_assert_eq(l.n, 2u, "start and final stats only:\n%s", w.buf[0]);
    jlines_free(&l);
    memgrep_proc_free(&w);
}

Test(watch, sigterm_final_stats)
{
    final_record_on(SIGTERM);
}

Test(watch, sigint_final_stats)
{
    final_record_on(SIGINT);
}

/* SIGHUP with a broken rule file: one line naming FILE:LINE, and the old
 * rules keep running (a process started after is reported by them). */
Test(watch, sighup_broken_rules_keep_the_old)
{
    need_root();
    rule_dir r;
    char said[160];
    rule_dir_make(&r);
    write_rule(r.path, "watch_marker", r.hex);
    double scale = test_timeout_scale();
    memgrep_proc w;
    watch_on_rules(&w, &r, "0", false);
    FILE *f = fopen(r.path, "w");
    cr_assert(f);
    fputs("rule broken\n{\n  strings:\n    $a = \"abc\"\n  condition:\n    $b\n}\n", f);
    fclose(f);
    cr_assert_eq(kill(w.pid, SIGHUP), 0);
    snprintf(said, sizeof(said),
             "memgrep: reload failed, keeping the previous patterns: %s:6: rule broken:", r.path);
    double t0 = now_s();
    while (!w.buf[1] || !strstr(w.buf[1], said)) {
        cr_assert(memgrep_pump(&w, 100), "watch ended; stderr: %s", w.buf[1]);
        cr_assert_lt(now_s() - t0, 30 * scale, "no reload message; stderr: %s",
                     w.buf[1] ? w.buf[1] : "");
    }
    /* the reload is under test, not the 50 ms: a longer life */
    target t = run_target(r.token, 5, (long)(500 * scale));
    watch_pump_for(&w, 0.5 * scale);
    jlines l = watch_stop(&w, SIGTERM);
    /* one line on stderr, nothing else */
    cr_assert_eq(strchr(w.buf[1], '\n') - w.buf[1] + 1, (long)strlen(w.buf[1]), "stderr: %s",
                 w.buf[1]);
    bool at_addr;
    size_t n = records_of(&l, "rule", t.pid, t.addr, &at_addr);
    cr_assert_eq(n, 1u, "%zu rule records of the target (want 1):\n%s", n, w.buf[0]);
    cr_assert(at_addr);
    const jval *st = final_stats(&l);
    cr_assert_eq(num_of(st, "reload_failures"), 1);
    cr_assert_eq(num_of(st, "reloads"), 0);
    jlines_free(&l);
    memgrep_proc_free(&w);
    rule_dir_remove(&r);
}

/* ---- the helpers: the alert set and the event sources ---- */

static bool alive_but_200(void *ctx, pid_t pid, unsigned long long start)
{
    (void)ctx;
    (void)start;
    return pid != 200;
}

/* Found, found again, gone from a whole scan, found again: reported twice;
 * a process gone takes its alerts along. */
Test(watch, alerts_set_while_it_stays)
{
    watch_alerts a = {0};
    watch_alert_key k = {.pid = 100, .start = 5, .what = 7, .address = 0x1000};
    watch_alert_key other = k;
    other.address = 0x2000;
    cr_assert_eq(watch_alerts_note(&a, &k, 1), 1);
    cr_assert_eq(watch_alerts_note(&a, &other, 1), 1);
    cr_assert_eq(watch_alerts_note(&a, &k, 2), 0); /* scan 2 finds k, not other */
    watch_alerts_settle(&a, 100, 5, 2);
    cr_assert_eq(a.n, 1u);
    cr_assert_eq(watch_alerts_note(&a, &k, 3), 0);
    cr_assert_eq(watch_alerts_note(&a, &other, 3), 1, "other came back: new again");
    watch_alert_key reused = k; /* the same pid, another process */
    reused.start = 6;
    cr_assert_eq(watch_alerts_note(&a, &reused, 3), 1);
    /* many, then the process gone */
    for (uint64_t i = 0; i < 1000; i++) {
        watch_alert_key m = {.pid = 200, .start = 1, .what = i, .address = i * 8};
        cr_assert_eq(watch_alerts_note(&a, &m, 4), 1);
    }
    cr_assert_eq(a.n, 1003u);
    watch_alerts_prune(&a, alive_but_200, NULL);
    cr_assert_eq(a.n, 3u);
    cr_assert_eq(watch_alerts_note(&a, &k, 5), 0);
    watch_alerts_free(&a);
}

/* /proc/PID/stat's start time, as mg_proc_get reads it. */
Test(watch, proc_start_time)
{
    mg_proc_info *info = NULL;
    cr_assert_eq(mg_proc_get(getpid(), &info, NULL), 0);
    unsigned long long start = 0;
    cr_assert_eq(watch_proc_start(getpid(), &start), 0);
    cr_assert_eq(start, info->starttime);
    mg_proc_info_free(&info);
    cr_assert_eq(watch_proc_start(dead_pid(), &start), -ENOENT);
}

/* Read events until pid's of kind come (or fail after 10 s). */
static void wait_event(watch_events *e, pid_t pid, watch_event_kind kind)
{
    double t0 = now_s();
    for (;;) {
        watch_event ev[64];
        size_t n = watch_events_read(e, ev, 64);
        for (size_t i = 0; i < n; i++)
            if (ev[i].pid == pid && ev[i].kind == kind)
                return;
        cr_assert_lt(now_s() - t0, 10 * test_timeout_scale(), "no event %d of pid %d", (int)kind,
                     (int)pid);
        usleep(WATCH_POLL_MS * 1000 / 2);
    }
}

/* A child forked and exec'd: the connector gives its fork and its exec;
 * /proc polling gives its pid. */
static void events_of_a_child(watch_source source)
{
    need_root();
    watch_events *e = NULL;
    char why[128];
    cr_assert_eq(watch_events_open(&e, source, why, sizeof(why)), 0);
    cr_assert_str_eq(watch_events_source_name(e),
                     source == WATCH_SOURCE_PROC ? "proc" : "connector");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        usleep(50000);
        execl("/bin/sleep", "sleep", "0.2", (char *)NULL);
        _exit(127);
    }
    wait_event(e, pid, WATCH_EVENT_FORK);
    if (source == WATCH_SOURCE_CONNECTOR)
        wait_event(e, pid, WATCH_EVENT_EXEC);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    cr_assert_eq(watch_events_overruns(e), 0u);
    cr_assert_geq(watch_events_seen(e), 1u);
    watch_events_free(&e);
    cr_assert_null(e);
}

Test(watch, events_connector)
{
    events_of_a_child(WATCH_SOURCE_CONNECTOR);
}

Test(watch, events_proc_polling)
{
    events_of_a_child(WATCH_SOURCE_PROC);
}

/* SIGHUP with a good rule file: the new rules from then on (the stats
 * count the reload; a process started after is reported by the new rule,
 * and -o FILE holds the records once watch stops). */
Test(watch, sighup_reloads)
{
    need_root();
    rule_dir r;
    char never[17], never_hex[256];
    rule_dir_make(&r);
    random_token(never); /* a marker no process holds */
    marker_hex(never, never_hex, sizeof(never_hex));
    write_rule(r.path, "before", never_hex);
    double scale = test_timeout_scale();
    memgrep_proc w;
    watch_on_rules(&w, &r, "0.1", true);
    write_rule(r.path, "after", r.hex);
    /* the start record goes to -o's file: wait for the first stats line
     * there instead (watch listens from its start) */
    double t0 = now_s();
    for (;;) {
        FILE *o = fopen(r.out, "r");
        char line[4096];
        bool stats = false;
        while (o && fgets(line, sizeof(line), o))
            stats |= strstr(line, "\"type\":\"stats\"") != NULL;
        if (o)
            fclose(o);
        if (stats)
            break;
        cr_assert(memgrep_pump(&w, 50), "watch ended; stderr: %s", w.buf[1] ? w.buf[1] : "");
        cr_assert_lt(now_s() - t0, 60 * scale, "no stats record in %s", r.out);
    }
    cr_assert_eq(kill(w.pid, SIGHUP), 0);
    /* reloaded once a stats record says so */
    t0 = now_s();
    for (bool done = false; !done;) {
        FILE *o = fopen(r.out, "r");
        char line[4096];
        while (o && fgets(line, sizeof(line), o))
            done |= strstr(line, "\"reloads\":1,") != NULL;
        if (o)
            fclose(o);
        cr_assert(memgrep_pump(&w, 50), "watch ended; stderr: %s", w.buf[1] ? w.buf[1] : "");
        cr_assert_lt(now_s() - t0, 60 * scale, "no reload counted; stderr: %s",
                     w.buf[1] ? w.buf[1] : "");
    }
    target t = run_target(r.token, 5, (long)(500 * scale));
    watch_pump_for(&w, 0.5 * scale);
    cr_assert_eq(kill(w.pid, SIGTERM), 0);
    cr_assert_eq(memgrep_finish(&w, 60 * scale), 0, "stderr: %s", w.buf[1]);
    cr_assert_eq(w.len[0], 0u, "-o FILE: nothing on stdout");
    prog_result cat = prog_run((const char *const[]){"/bin/cat", r.out, NULL});
    jlines l = jlines_parse(cat.out, cat.out_len);
    bool at_addr;
    cr_assert_eq(records_of(&l, "rule", t.pid, t.addr, &at_addr), 1u, "%s", cat.out);
    cr_assert(at_addr);
    for (size_t i = 0; i < l.n; i++)
        if (!strcmp(str_of(&l.v[i], "type"), "rule") && num_of(&l.v[i], "pid") == t.pid)
            cr_assert_str_eq(str_of(&l.v[i], "rule"), "after");
    const jval *st = final_stats(&l);
    cr_assert_eq(num_of(st, "reloads"), 1);
    cr_assert_eq(num_of(st, "reload_failures"), 0);
    jlines_free(&l);
    prog_result_free(&cat);
    memgrep_proc_free(&w);
    rule_dir_remove(&r);
}
