/* test_report.c - a scheduled hunt's report you can trust (issue 19).
 *
 * No self-hits: another memgrep holding the hunt pack, and a process
 * holding a copy of the memgrep binary (mapped and in its heap), give no
 * hunt hit, while a plant in a process that calls itself memgrep and keeps
 * the plant in a memfd named like memgrep's pattern memory is still found.
 * Needs root (other processes' memory).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "json.h"
#include "memgrep/memgrep.h"

TestSuite(report, .timeout = 200);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- memgrep as a child (helpers.c) ------------------------------------- */

typedef memgrep_proc proc;

static int run(proc *p, const char *const *args, double max_seconds)
{
    memgrep_spawn(p, args);
    return memgrep_finish(p, max_seconds);
}

typedef jlines lines; /* helpers.c */

static lines json_lines_of(const char *s, size_t len)
{
    return jlines_parse(s, len);
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

/* ---- helper processes -------------------------------------------------- */

/* A forked child that does setup(arg), writes one uint64_t to the parent
 * (an address, or 0) and sleeps until killed. */
typedef struct helper {
    pid_t pid;
    uint64_t value;
} helper;

static void helper_start(helper *h, uint64_t (*setup)(void *), void *arg)
{
    int fds[2];
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
    h->pid = fork();
    cr_assert_geq(h->pid, 0);
    if (h->pid == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        uint64_t v = setup(arg);
        if (write(fds[1], &v, sizeof v) != (ssize_t)sizeof v)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    cr_assert_eq(read(fds[0], &h->value, sizeof h->value), (ssize_t)sizeof h->value,
                 "helper did not start");
    close(fds[0]);
}

static void helper_stop(helper *h)
{
    if (h->pid > 0) {
        kill(h->pid, SIGKILL);
        waitpid(h->pid, NULL, 0);
    }
    h->pid = 0;
}

/* The memgrep binary mapped (every page touched, so present) and read into
 * the heap: a copy of the binary, as a guest's RAM or a file cache holds. */
static uint64_t hold_binary(void *arg)
{
    (void)arg;
    const char *exe = getenv("MEMGREP");
    int fd = open(exe, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        _exit(1);
    size_t n = (size_t)st.st_size;
    volatile const char *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    char *heap = malloc(n);
    if (m == MAP_FAILED || !heap || pread(fd, heap, n, 0) != (ssize_t)n)
        _exit(1);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i += 4096)
        sum += (unsigned char)m[i];
    close(fd);
    /* and 32 MiB touched: a slow target for the memgrep that holds the
     * pack (--max-rate) */
    char *big = malloc(32u << 20);
    if (!big)
        _exit(1);
    for (size_t i = 0; i < (32u << 20); i += 4096)
        big[i] = (char)(i >> 12 | 1);
    return sum | 1u;
}

/* A hunt-pack entry, put together here so that this program's image holds
 * only its halves. */
static void hunt_entry(char *out)
{
    static const char *volatile a = "stratum+", *volatile b = "tcp://";
    strcpy(out, a);
    strcat(out, b);
}

/* A process that calls itself memgrep and keeps a hunt-pack entry in its
 * heap and in a memfd named like memgrep's pattern memory: neither is a
 * hiding place. Returns the heap copy's address; the memfd copy is at a
 * page start, reported as the second value through the environment of
 * the test (see the test). */
static uint64_t memfd_addr;
static uint64_t pretend_memgrep(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "memgrep");
    char *heap = malloc(64);
    int fd = memfd_create(MG_PATTERN_MEMORY_NAME, MFD_CLOEXEC);
    if (!heap || fd < 0 || ftruncate(fd, 4096) < 0)
        _exit(1);
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        _exit(1);
    hunt_entry(heap);
    hunt_entry(m);
    /* the parent learns the memfd copy's address from /proc/PID/maps */
    return (uint64_t)(uintptr_t)heap;
}

static uint64_t memfd_mapping_of(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    uint64_t start = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "/memfd:" MG_PATTERN_MEMORY_NAME))
            start = strtoull(line, NULL, 16);
    fclose(f);
    return start;
}

/* Whether memgrep has target's pagemap open: its sweep has begun. */
static bool sweeping(pid_t memgrep, pid_t target)
{
    char pm[64], path[64], link[128];
    snprintf(pm, sizeof pm, "/proc/%d/pagemap", (int)target);
    for (int fd = 0; fd < 64; fd++) {
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)memgrep, fd);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            if (!strcmp(link, pm))
                return true;
        }
    }
    return false;
}

static bool is_in(pid_t pid, const pid_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == pid)
            return true;
    return false;
}

/* Another memgrep (the hunt pack, sweeping a slow target) and a holder of
 * the binary: a hunt over both gives nothing from either; a process named
 * memgrep with the entry in its heap and in a memgrep-patterns memfd gives
 * exactly those two. */
Test(report, no_self_hits_and_no_hiding_place)
{
    need_root();
    helper holder = {0}, pretend = {0};
    helper_start(&holder, hold_binary, NULL);
    helper_start(&pretend, pretend_memgrep, NULL);
    memfd_addr = memfd_mapping_of(pretend.pid);
    cr_assert_neq(memfd_addr, 0u, "no memfd mapping in the pretender");
    char hold_pid[16], targets[64];
    snprintf(hold_pid, sizeof hold_pid, "%d", (int)holder.pid);
    proc other;
    memgrep_spawn(&other, (const char *[]){"scan", "--json", "--max-rate", "2M", "--timeout", "60",
                                           "-p", hold_pid, NULL});
    /* wait until the other memgrep sweeps: it holds its compiled pack */
    double t0 = now_s();
    while (!sweeping(other.pid, holder.pid)) {
        cr_assert_lt(now_s() - t0, 30.0, "the other memgrep never mapped its patterns");
        usleep(20000);
    }
    snprintf(targets, sizeof targets, "%d,%d,%d", (int)other.pid, (int)holder.pid,
             (int)pretend.pid);
    proc hunt;
    int st = run(&hunt, (const char *[]){"scan", "--json", "-C", "0", "-p", targets, NULL}, 120);
    kill(other.pid, SIGTERM);
    memgrep_finish(&other, 60);
    cr_assert_eq(st, 0, "exit %d; stderr: %s", st, hunt.buf[1]);
    lines l = json_lines_of(hunt.buf[0], hunt.len[0]);
    pid_t quiet[] = {other.pid, holder.pid};
    bool heap_seen = false, memfd_seen = false;
    size_t scanned = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *type = jstr(&l.v[i], "type");
        if (!strcmp(type, "summary"))
            scanned = (size_t)jnum(&l.v[i], "processes_scanned");
        if (strcmp(type, "match"))
            continue;
        pid_t pid = (pid_t)jnum(&l.v[i], "pid");
        cr_assert_not(is_in(pid, quiet, 2), "a hunt hit in %s %d: %s at %s in %s: %s",
                      pid == other.pid ? "the other memgrep" : "the binary's holder", (int)pid,
                      jstr(&l.v[i], "pattern"), jstr(&l.v[i], "address"),
                      jstr(json_get(&l.v[i], "region"), "path"), jstr(&l.v[i], "context"));
        cr_assert_eq(pid, pretend.pid);
        char entry[32];
        hunt_entry(entry);
        cr_assert_str_eq(jstr(&l.v[i], "pattern"), entry);
        uint64_t a = strtoull(jstr(&l.v[i], "address"), NULL, 16);
        if (a == pretend.value && !heap_seen)
            heap_seen = true;
        else if (a == memfd_addr && !memfd_seen)
            memfd_seen = true;
        else
            cr_assert_fail("unexpected hit at 0x%" PRIx64, a);
    }
    cr_assert_eq(scanned, 3u, "not all three targets were scanned: %s", hunt.buf[1]);
    cr_assert(heap_seen, "the heap plant of the process named memgrep was not found");
    cr_assert(memfd_seen, "the plant in a memgrep-patterns memfd was not found");
    lines_free(&l);
    memgrep_proc_free(&hunt);
    memgrep_proc_free(&other);
    helper_stop(&holder);
    helper_stop(&pretend);
}

/* ---- what was found survives; records stream; records say when -------- */

static fixture fa, fb; /* fa: the plants; fb: 64 MiB touched, read slowly */

static void start_fixtures(void)
{
    if (!fa.pid)
        fixture_start(&fa, NULL);
    if (!fb.pid)
        fixture_start(&fb, (const char *[]){"--touch", "64", NULL});
}

static void stop_fixtures(void)
{
    fixture_stop(&fa);
    fixture_stop(&fb);
}

/* -j 1, fa then fb at 4 MiB/s: fa's heap plant is found at once, then the
 * sweep goes on for about 16 s. */
static void slow_sweep_args(const char **argv, char *targets, size_t size, char *marker)
{
    snprintf(targets, size, "%d,%d", (int)fa.pid, (int)fb.pid);
    const char *a[] = {"scan", "--json", "-j",    "1",  "--max-rate",
                       "4M",   "-p",     targets, "-e", marker};
    memcpy(argv, a, sizeof a);
}

static bool is_plant_match(const jval *v, const char *marker)
{
    if (strcmp(jstr(v, "type"), "match"))
        return false;
    cr_assert_eq((pid_t)jnum(v, "pid"), fa.pid);
    cr_assert_str_eq(jstr(v, "pattern"), marker);
    const plant *pl = fixture_plant_at(&fa, strtoull(jstr(v, "address"), NULL, 16));
    cr_assert(pl, "a match at %s: no plant there", jstr(v, "address"));
    return true;
}

/* RFC 3339 UTC with milliseconds: 2026-12-07T10:51:49.782Z. Returns the
 * time in seconds since the epoch. */
static double rfc3339_ms(const char *s)
{
    struct tm tm = {0};
    int ms = -1, n = 0;
    cr_assert_eq(strlen(s), 24u, "time '%s' is not YYYY-MM-DDTHH:MM:SS.mmmZ", s);
    cr_assert_eq(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n),
                 7, "time '%s'", s);
    cr_assert_eq(n, 24);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) + ms / 1000.0;
}

static double real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SIGKILL after the first match: the file holds it (whole lines, each a
 * plant), and the directory holds nothing but the file. */
Test(report, sigkill_keeps_what_was_found, .fini = stop_fixtures)
{
    need_root();
    start_fixtures();
    char dir[] = "/tmp/mg-report-XXXXXX", out[64], targets[40];
    cr_assert(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/hits.jsonl", dir);
    char *marker = fixture_marker(&fa, "heap");
    const char *argv[16] = {0};
    slow_sweep_args(argv, targets, sizeof targets, marker);
    argv[10] = "-o";
    argv[11] = out;
    proc p;
    memgrep_spawn(&p, argv);
    double t0 = now_s();
    struct stat st;
    while (stat(out, &st) < 0 || st.st_size == 0) {
        cr_assert(memgrep_pump(&p, 20), "memgrep ended before its first match: %s", p.buf[1]);
        cr_assert_lt(now_s() - t0, 30.0, "no match in the file after 30 s");
    }
    kill(p.pid, SIGKILL);
    int ws;
    cr_assert_eq(waitpid(p.pid, &ws, 0), p.pid);
    cr_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL, "memgrep ended before the kill");
    FILE *f = fopen(out, "r");
    cr_assert(f);
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    cr_assert_gt(n, 0);
    /* only whole lines: cut at the last newline (at most the record being
     * written is lost) */
    char *last = memrchr(text, '\n', (size_t)n);
    cr_assert(last, "no whole record in %s", out);
    lines l = json_lines_of(text, (size_t)(last - text + 1));
    size_t found = 0;
    for (size_t i = 0; i < l.n; i++) {
        cr_assert_str_neq(jstr(&l.v[i], "type"), "summary", "a summary though killed");
        found += is_plant_match(&l.v[i], marker);
    }
    cr_assert_geq(found, 1u, "the first match is not in the file");
    DIR *d = opendir(dir);
    cr_assert(d);
    size_t entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            cr_assert_str_eq(e->d_name, "hits.jsonl", "left behind: %s", e->d_name);
            entries++;
        }
    closedir(d);
    cr_assert_eq(entries, 1u);
    unlink(out);
    rmdir(dir);
    lines_free(&l);
    free(text);
    free(marker);
    memgrep_proc_free(&p);
}

/* JSON into a pipe: the first match reaches the reader while the sweep
 * goes on, within 100 ms of the time it carries; every record has a time,
 * the first is the start record. */
Test(report, json_streams_into_a_pipe, .fini = stop_fixtures)
{
    need_root();
    start_fixtures();
    char targets[40];
    char *marker = fixture_marker(&fa, "heap");
    const char *argv[16] = {0};
    slow_sweep_args(argv, targets, sizeof targets, marker);
    argv[10] = "--timeout";
    argv[11] = "8";
    proc p;
    double wall0 = real_now();
    memgrep_spawn(&p, argv);
    double arrived = 0;
    size_t seen = 0;
    while (!arrived) {
        cr_assert(memgrep_pump(&p, 5), "memgrep ended before a match: %s", p.buf[1]);
        cr_assert_lt(real_now() - wall0, 30.0, "no match on the pipe after 30 s");
        for (const char *s = p.buf[0] ? p.buf[0] + seen : NULL; s && strchr(s, '\n');) {
            const char *nl = strchr(s, '\n');
            if (!strncmp(s, "{\"type\":\"match\"", 15))
                arrived = real_now();
            seen += (size_t)(nl - s + 1);
            s = nl + 1;
            if (arrived)
                break;
        }
    }
    int ws;
    cr_assert_eq(waitpid(p.pid, &ws, WNOHANG), 0, "the sweep was over when the match arrived");
    int st = memgrep_finish(&p, 60);
    cr_assert_eq(st, 3, "exit %d (expected the --timeout); stderr: %s", st, p.buf[1]);
    lines l = json_lines_of(p.buf[0], p.len[0]);
    cr_assert_geq(l.n, 3u);
    cr_assert_str_eq(jstr(&l.v[0], "type"), "start");
    cr_assert_str_eq(jstr(&l.v[0], "version"), MG_VERSION);
    cr_assert_eq(strlen(jstr(&l.v[0], "run_id")), 32u);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    cr_assert_str_eq(jstr(&l.v[0], "host"), host);
    const jval *av = json_get(&l.v[0], "argv");
    cr_assert(av && av->t == J_ARR);
    double prev = wall0 - 0.001;
    const jval *first = NULL;
    for (size_t i = 0; i < l.n; i++) {
        double t = rfc3339_ms(jstr(&l.v[i], "time"));
        cr_assert_geq(t, prev - 0.001, "record %zu goes back in time", i);
        prev = t;
        if (!first && is_plant_match(&l.v[i], marker))
            first = &l.v[i];
    }
    cr_assert(first);
    double matched = rfc3339_ms(jstr(first, "time"));
    cr_assert_leq(arrived - matched, 0.1 + 0.001, "the first match reached the pipe %.3f s late",
                  arrived - matched);
    lines_free(&l);
    free(marker);
    memgrep_proc_free(&p);
}

/* ---- honest completeness ------------------------------------------------ */

typedef struct unreached_sink {
    pid_t pids[8];
    size_t n, other;
} unreached_sink;

static void note_event(void *ctx, const mg_event *e)
{
    unreached_sink *u = ctx;
    if (e->kind == MG_EVENT_UNREACHED && u->n < 8)
        u->pids[u->n++] = e->process->pid;
    else if (e->kind != MG_EVENT_UNREACHED && e->kind != MG_EVENT_TIMEOUT)
        u->other++;
}

/* One worker at 8 MiB/s over: a zombie, fa (a few MiB: whole), fb (64
 * MiB: cut at its --process-timeout, 1 s), fc (64 MiB: cut when the sweep
 * times out at 2.5 s), then fd and fe: the planner, a few units ahead of
 * the worker, opens at most fd before the timeout, never fe. Each process
 * lands in one count, the zombie is no failure, and each process not
 * reached gets its event. */
Test(report, zombie_cut_unreached_counted, .timeout = 120)
{
    need_root();
    fixture fc = {0}, fd = {0}, fe = {0};
    start_fixtures();
    fixture_start(&fc, (const char *[]){"--touch", "64", NULL});
    fixture_start(&fd, NULL);
    fixture_start(&fe, NULL);
    pid_t zombie = fork();
    cr_assert_geq(zombie, 0);
    if (zombie == 0)
        _exit(0);
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)zombie);
    for (int i = 0; i < 500 && state != 'Z'; i++) {
        FILE *f = fopen(path, "r");
        cr_assert(f);
        cr_assert_eq(fscanf(f, "%*d %*s %c", &state), 1);
        fclose(f);
        if (state != 'Z')
            usleep(10000);
    }
    cr_assert_eq(state, 'Z', "the child did not become a zombie");
    mg_patterns *p = NULL;
    cr_assert_eq(mg_patterns_new(&p), 0);
    cr_assert_geq(mg_patterns_add(p, MG_PATTERN_LITERAL, "mg-report-nothing", 17, 0, NULL, NULL),
                  0);
    cr_assert_eq(mg_patterns_compile(p, NULL), 0);
    pid_t pids[] = {zombie, fa.pid, fb.pid, fc.pid, fd.pid, fe.pid};
    mg_settings s;
    mg_default_settings(&s);
    s.pids = pids;
    s.n_pids = 6;
    s.threads = 1;
    s.max_rate = 8u << 20;
    s.process_timeout = 1.0;
    s.timeout = 2.5;
    unreached_sink u = {0};
    mg_sink sink = {.ctx = &u, .event = note_event};
    mg_stats st;
    mg_error err = {{0}};
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), 0, "%s", err.message);
    cr_assert_eq(st.stop_reason, MG_STOP_TIMEOUT);
    cr_assert_eq(st.processes_zombie, 1u);
    cr_assert_eq(st.processes_failed, 0u, "the zombie counted as a failure");
    cr_assert_eq(st.events[MG_EVENT_GONE], 0u);
    cr_assert_eq(st.processes_scanned, st.processes_whole + st.processes_cut,
                 "scanned %llu = whole %llu + cut %llu", (unsigned long long)st.processes_scanned,
                 (unsigned long long)st.processes_whole, (unsigned long long)st.processes_cut);
    cr_assert_eq(st.processes_scanned + st.processes_unreached, 5u);
    cr_assert_eq(st.processes_whole, 1u, "fa whole");
    cr_assert_geq(st.processes_cut, 2u, "fb and fc cut");
    cr_assert_eq(st.events[MG_EVENT_TIMEOUT], 1u, "fb's --process-timeout");
    cr_assert_geq(st.processes_unreached, 1u, "fe reached");
    cr_assert_eq(u.n, st.processes_unreached, "one event per process not reached");
    cr_assert_eq(u.pids[u.n - 1], fe.pid, "the last event is not fe's");
    if (u.n == 2)
        cr_assert_eq(u.pids[0], fd.pid);
    cr_assert_eq(u.other, 0u, "unexpected events");
    mg_patterns_free(&p);
    waitpid(zombie, NULL, 0);
    fixture_stop(&fc);
    fixture_stop(&fd);
    fixture_stop(&fe);
    stop_fixtures();
}

/* --cgroup selecting nothing: exit 2, as grep for a missing input, and
 * the last line of stderr says so (a mistyped id is no clean host). */
Test(report, empty_selection_exits_2)
{
    need_root();
    proc p;
    int st = run(
        &p, (const char *[]){"scan", "--cgroup", "/mg-report-no-such-cgroup", "needle", NULL}, 60);
    cr_assert_eq(st, 2, "exit %d; stderr: %s", st, p.buf[1]);
    const char *last = p.buf[1] + p.len[1];
    while (last > p.buf[1] && last[-1] == '\n')
        last--;
    while (last > p.buf[1] && last[-1] != '\n')
        last--;
    cr_assert_str_eq(last, "memgrep: no process selected (--container, --cgroup)\n");
    cr_assert_eq(p.len[0], 0u, "something on stdout: %s", p.buf[0]);
    memgrep_proc_free(&p);
}

/* Another memgrep given a pattern file (a literal and a regex whose
 * factor is a literal of its own) holds neither where a third looks:
 * the file's text, the parser's factors on the stack and the compiled
 * database all are in its marked memory or wiped. */
Test(report, no_self_hits_from_a_pattern_file)
{
    need_root();
    helper holder = {0};
    helper_start(&holder, hold_binary, NULL);
    char token[17], lit[64], factor[64], list[160], dir[] = "/tmp/mg-report-f-XXXXXX", path[64];
    unsigned long long r = 0;
    cr_assert_eq(getrandom(&r, sizeof r, 0), (ssize_t)sizeof r);
    snprintf(token, sizeof token, "%016llx", r);
    snprintf(lit, sizeof lit, "mg-report-%s-lit", token);
    snprintf(factor, sizeof factor, "mg-report-%s-regex", token);
    /* re:mg-report-TOKEN-rege[x]: its factor is the literal above */
    snprintf(list, sizeof list, "%s\nre:mg-report-%s-rege[x]\n", lit, token);
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/iocs.txt", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(list, f);
    fclose(f);
    char hold_pid[16], other_pid[16];
    snprintf(hold_pid, sizeof hold_pid, "%d", (int)holder.pid);
    proc other;
    memgrep_spawn(&other, (const char *[]){"scan", "--json", "--max-rate", "2M", "--timeout", "60",
                                           "-p", hold_pid, "-f", path, NULL});
    double t0 = now_s();
    while (!sweeping(other.pid, holder.pid)) {
        cr_assert_lt(now_s() - t0, 30.0, "the other memgrep never began its sweep");
        usleep(20000);
    }
    snprintf(other_pid, sizeof other_pid, "%d", (int)other.pid);
    proc hunt;
    int st = run(&hunt,
                 (const char *[]){"scan", "-C", "0", "--no-summary", "-p", other_pid, "-e", lit,
                                  "-e", factor, NULL},
                 120);
    kill(other.pid, SIGTERM);
    memgrep_finish(&other, 60);
    cr_assert_eq(st, 1, "exit %d (1: nothing found); stdout: %s; stderr: %s", st, hunt.buf[0],
                 hunt.buf[1]);
    memgrep_proc_free(&hunt);
    memgrep_proc_free(&other);
    unlink(path);
    rmdir(dir);
    helper_stop(&holder);
}
