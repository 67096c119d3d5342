/* test_hostile.c - memgrep over every process while odd and hostile targets
 * run (tests/targets/hostile_fixture.c): a userfaultfd region, a stuck FUSE file
 * system, mmap churn and fork storms, control bytes in names, pid reuse and
 * an unprivileged caller. Each sweep runs `memgrep scan --json` in a child
 * under a watchdog (killed after SWEEP_BOUND_S, times MG_TEST_TIMEOUT_SCALE
 * in slow configurations: a failure, never a hang of the suite), next to a normal fixture whose
 * exact set of plants must be found, and no match may name any other process. Needs root. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "json.h"

#define SWEEP_BOUND_S (60 * test_timeout_scale())
#define NOBODY 65534
/* What hostile_fixture.c sets (kept in step by the exact comparison). */
#define ODD_COMM "\n\"\x1b[2J\xff\xc3(\\"
#define ODD_FILE "n\nq\"e\x1b[2J\x1b]0;t\x07\xff\xc3(\\.bin"

/* ---- hostile fixtures ---- */

typedef struct hproc {
    pid_t pid;
    int in_fd, out_fd;
    char token[17];
    struct {
        char name[32];
        uint64_t addr, len;
    } plants[8];
    size_t n_plants;
    char info_key[8][16], info_val[8][256];
    size_t n_infos;
    char skip[256]; /* non-empty: the fixture could not set itself up */
} hproc;

#define N_H 6
static hproc hp[N_H];
static fixture normal;
static char fuse_mnt[64];
static build_copies nobody_copies; /* what a child run as NOBODY runs */

static void hstop(hproc *h)
{
    if (h->pid <= 0)
        return;
    kill(h->pid, SIGKILL);
    waitpid(h->pid, NULL, 0);
    close(h->in_fd);
    close(h->out_fd);
    h->pid = 0;
}

static void fuse_cleanup(void)
{
    if (!fuse_mnt[0])
        return;
    umount2(fuse_mnt, MNT_DETACH);
    rmdir(fuse_mnt);
    fuse_mnt[0] = '\0';
}

static void remove_odd_dir(const hproc *h);

static void stop_mem_holder(void);

static void stop_all(void)
{
    for (int i = 0; i < N_H; i++) {
        hstop(&hp[i]);
        remove_odd_dir(&hp[i]);
    }
    stop_mem_holder(); /* after the FUSE daemon (hp[0]): its end wakes it */
    fixture_stop(&normal);
    fuse_cleanup();
    build_copies_remove(&nobody_copies);
}

TestSuite(hostile, .fini = stop_all, .timeout = 280);

/* Read one line from the fixture (30 s at most) into buf. */
static bool hline(hproc *h, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd pfd = {.fd = h->out_fd, .events = POLLIN};
        if (poll(&pfd, 1, 30000) <= 0)
            return false;
        char c;
        if (read(h->out_fd, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        buf[n++] = c;
    }
    buf[n] = '\0';
    return true;
}

/* The program at path, or its copy that uid can reach (build_copy) if uid
 * is not 0: malloc'd. */
static char *exe_for(const char *path, uid_t uid)
{
    return uid ? build_copy(&nobody_copies, path) : strdup(path);
}

/* Start tests/hostile_fixture MODE (or, with mode NULL, the command line
 * in arg0) as uid (0: as we are), and read its plants up to READY. */
static void hstart(hproc *h, const char *mode, const char *arg, uid_t uid)
{
    memset(h, 0, sizeof *h);
    const char *path = getenv("MG_HOSTILE_FIXTURE");
    cr_assert(path && *path, "MG_HOSTILE_FIXTURE is not set (run through meson test)");
    char *exe = exe_for(path, uid);
    random_token(h->token);
    int in[2], out[2];
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        syscall(SYS_close_range, 3u, ~0u, 0u);
        if (uid && (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0))
            _exit(126);
        execl(exe, exe, mode, "--token", h->token, arg, (char *)NULL);
        _exit(127);
    }
    free(exe);
    close(in[0]);
    close(out[1]);
    h->pid = pid;
    h->in_fd = in[1];
    h->out_fd = out[0];
    char line[512];
    for (;;) {
        cr_assert(hline(h, line, sizeof line), "hostile_fixture %s: no READY", mode);
        if (!strcmp(line, "READY"))
            break;
        if (!strncmp(line, "SKIP ", 5)) {
            snprintf(h->skip, sizeof h->skip, "%.200s", line + 5);
            return;
        }
        cr_assert(strncmp(line, "FAIL", 4), "hostile_fixture %s: %s", mode, line);
        char a[32], b[64], c[64], d[256];
        if (sscanf(line, "PLANT %31s %63s %63s", a, b, c) == 3) {
            cr_assert_lt(h->n_plants, 8u);
            snprintf(h->plants[h->n_plants].name, 32, "%s", a);
            h->plants[h->n_plants].addr = strtoull(b, NULL, 16);
            h->plants[h->n_plants].len = strtoull(c, NULL, 10);
            h->n_plants++;
        } else if (sscanf(line, "INFO %15s %255[^\n]", a, d) == 2 && h->n_infos < 8) {
            snprintf(h->info_key[h->n_infos], 16, "%.15s", a);
            memcpy(h->info_val[h->n_infos], d, 256);
            h->n_infos++;
        }
    }
}

static const char *hinfo(const hproc *h, const char *key)
{
    for (size_t i = 0; i < h->n_infos; i++)
        if (!strcmp(h->info_key[i], key))
            return h->info_val[i];
    return NULL;
}

/* Send a command letter; for 'c', return the COUNT it answers. */
static unsigned long hcount(hproc *h)
{
    cr_assert_eq(write(h->in_fd, "c\n", 2), 2);
    char line[128];
    cr_assert(hline(h, line, sizeof line), "no COUNT from pid %d", h->pid);
    unsigned long n = 0;
    cr_assert_eq(sscanf(line, "COUNT %lu", &n), 1, "bad reply '%s'", line);
    return n;
}

/* ---- patterns: (token, name) pairs; the marker text is only ever made in
 * the child that execs memgrep, so no full marker lives in this process */

typedef struct pat {
    const char *token;
    char name[32];
} pat;

typedef struct patset {
    pat p[64];
    size_t n;
} patset;

static unsigned add_pat(patset *ps, const char *token, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->p[i].token == token && !strcmp(ps->p[i].name, name))
            return (unsigned)i;
    cr_assert_lt(ps->n, 64u);
    ps->p[ps->n].token = token;
    snprintf(ps->p[ps->n].name, 32, "%s", name);
    return (unsigned)ps->n++;
}

/* The normal fixture's plain plants: patterns and expected hits. */
static size_t normal_wants(patset *ps, want *w, size_t nw, size_t max)
{
    for (size_t i = 0; i < normal.n_plants; i++) {
        const plant *pl = &normal.plants[i];
        if (strcmp(pl->kind, "plain"))
            continue;
        unsigned id = add_pat(ps, normal.token, pl->name);
        cr_assert_lt(nw, max);
        w[nw++] = (want){.pid = normal.pid, .addr = pl->addr, .len = pl->len, .pattern_id = id};
    }
    return nw;
}

static size_t hproc_wants(patset *ps, const hproc *h, want *w, size_t nw, size_t max)
{
    for (size_t i = 0; i < h->n_plants; i++) {
        unsigned id = add_pat(ps, h->token, h->plants[i].name);
        cr_assert_lt(nw, max);
        w[nw++] = (want){
            .pid = h->pid, .addr = h->plants[i].addr, .len = h->plants[i].len, .pattern_id = id};
    }
    return nw;
}

/* ---- running memgrep under a watchdog ---- */

typedef struct run {
    pid_t pid; /* memgrep's */
    int status; /* exit code; -1 if killed by a signal */
    bool killed; /* by the watchdog */
    double seconds;
    char *out, *err;
    size_t out_len, err_len;
} run;

static char *slurp(int fd, size_t *len)
{
    off_t n = lseek(fd, 0, SEEK_END);
    char *s = malloc((size_t)n + 1);
    cr_assert(s);
    cr_assert_eq(pread(fd, s, (size_t)n, 0), (ssize_t)n);
    s[n] = '\0';
    *len = (size_t)n;
    close(fd);
    return s;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* memgrep scan --no-progress [--json] EXTRA... -e MARKER... as uid. */
static void run_memgrep(const patset *ps, const char *const *extra, bool json, uid_t uid, run *r)
{
    memset(r, 0, sizeof *r);
    const char *path = getenv("MEMGREP");
    cr_assert(path && *path, "MEMGREP is not set");
    char *exe = exe_for(path, uid);
    int out = memfd_create("mg-hostile-out", MFD_CLOEXEC);
    int err = memfd_create("mg-hostile-err", MFD_CLOEXEC);
    cr_assert(out >= 0 && err >= 0);
    double t0 = now();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        const char *argv[200] = {exe, "scan", "--no-progress", "--no-db-cache"};
        size_t argc = 4;
        if (json)
            argv[argc++] = "--json";
        for (size_t i = 0; extra && extra[i]; i++)
            argv[argc++] = extra[i];
        for (size_t i = 0; i < ps->n && argc < 196; i++) {
            char *m = NULL;
            if (asprintf(&m, "%s%s-%s;", FIXTURE_MARKER_PREFIX, ps->p[i].token, ps->p[i].name) < 0)
                _exit(125);
            argv[argc++] = "-e";
            argv[argc++] = m;
        }
        argv[argc] = NULL;
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out, 1);
        dup2(err, 2);
        syscall(SYS_close_range, 3u, ~0u, 0u);
        if (uid && (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0))
            _exit(126);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    free(exe);
    int ws = 0;
    for (;;) {
        pid_t w = waitpid(pid, &ws, WNOHANG);
        cr_assert_geq(w, 0);
        if (w == pid)
            break;
        if (now() - t0 > SWEEP_BOUND_S) {
            kill(pid, SIGKILL);
            waitpid(pid, &ws, 0);
            r->killed = true;
            break;
        }
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    r->seconds = now() - t0;
    r->pid = pid;
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r->out = slurp(out, &r->out_len);
    r->err = slurp(err, &r->err_len);
    cr_assert_not(r->killed, "memgrep did not finish within %.0f s (killed); stderr:\n%.2000s",
                  SWEEP_BOUND_S, r->err);
    cr_assert(WIFEXITED(ws), "memgrep died by signal %d; stderr:\n%.2000s", WTERMSIG(ws), r->err);
}

static void run_free(run *r)
{
    free(r->out);
    free(r->err);
}

/* ---- the JSON lines ---- */

typedef struct jhit {
    pid_t pid;
    uint64_t addr;
    unsigned pattern_id;
    uint8_t comm[64], path[512];
    size_t comm_len, path_len;
} jhit;

typedef struct result {
    collector c; /* the matches, for assert_exact_hits */
    jhit *h;
    size_t n;
    uint64_t events[MG_EVENT_KINDS];
    uint64_t summary_matches, processes_scanned;
    bool have_summary;
} result;

/* A decoded JSON string to the bytes it stands for: memgrep writes every
 * byte as one character U+0000..U+00FF (latin-1). */
static size_t latin1(const char *s, size_t len, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n < cap; n++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[n] = c;
            i++;
        } else {
            cr_assert(c == 0xc2 || c == 0xc3, "JSON string holds a character above U+00FF");
            cr_assert_lt(i + 1, len);
            out[n] = (uint8_t)(((c & 3) << 6) | ((unsigned char)s[i + 1] & 0x3f));
            i += 2;
        }
    }
    return n;
}

static uint64_t jnum(const jval *o, const char *key)
{
    const jval *v = json_get(o, key);
    cr_assert(v && v->t == J_NUM, "JSON: no number \"%s\"", key);
    return strtoull(v->raw, NULL, 10);
}

static const jval *jstr(const jval *o, const char *key)
{
    const jval *v = json_get(o, key);
    cr_assert(v && v->t == J_STR, "JSON: no string \"%s\"", key);
    return v;
}

static const char *const event_names[MG_EVENT_KINDS] = {
    [MG_EVENT_GONE] = "gone",       [MG_EVENT_PERMISSION] = "permission",
    [MG_EVENT_CHANGED] = "changed", [MG_EVENT_OTHER] = "other",
    [MG_EVENT_TIMEOUT] = "timeout", [MG_EVENT_UNREACHED] = "unreached"};

/* Every line valid JSON; matches collected; the summary read. */
static void parse_json(const run *r, result *res)
{
    memset(res, 0, sizeof *res);
    const char *s = r->out, *end = r->out + r->out_len;
    size_t line_no = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        cr_assert(nl, "JSON output does not end in a newline");
        line_no++;
        jval v;
        size_t off = 0;
        cr_assert_eq(json_parse(s, (size_t)(nl - s), &v, &off), 0,
                     "JSON line %zu is invalid at byte %zu: %.*s", line_no, off,
                     (int)(nl - s > 300 ? 300 : nl - s), s);
        cr_assert_eq(v.t, J_OBJ);
        const jval *type = jstr(&v, "type");
        if (!strcmp(type->str, "match")) {
            if (res->n % 64 == 0) {
                res->h = realloc(res->h, (res->n + 64) * sizeof *res->h);
                res->c.hits = realloc(res->c.hits, (res->n + 64) * sizeof *res->c.hits);
                cr_assert(res->h && res->c.hits);
            }
            jhit *h = &res->h[res->n];
            memset(h, 0, sizeof *h);
            h->pid = (pid_t)jnum(&v, "pid");
            h->addr = strtoull(jstr(&v, "address")->str, NULL, 16);
            h->pattern_id = (unsigned)jnum(&v, "pattern_id");
            const jval *comm = jstr(&v, "comm");
            h->comm_len = latin1(comm->str, comm->len, h->comm, sizeof h->comm);
            const jval *region = json_get(&v, "region");
            cr_assert(region && region->t == J_OBJ);
            const jval *path = jstr(region, "path");
            h->path_len = latin1(path->str, path->len, h->path, sizeof h->path);
            const jval *wide = json_get(&v, "wide");
            res->c.hits[res->n] = (hit){.pid = h->pid,
                                        .addr = h->addr,
                                        .len = jnum(&v, "length"),
                                        .pattern_id = h->pattern_id,
                                        .wide = wide && wide->t == J_BOOL && wide->b};
            res->n++;
            res->c.n = res->n;
        } else if (!strcmp(type->str, "summary")) {
            res->have_summary = true;
            res->summary_matches = jnum(&v, "matches");
            res->processes_scanned = jnum(&v, "processes_scanned");
            const jval *ev = json_get(&v, "events");
            cr_assert(ev && ev->t == J_OBJ);
            for (int k = 0; k < MG_EVENT_KINDS; k++) {
                cr_assert(event_names[k], "event kind %d has no name here", k);
                res->events[k] = jnum(ev, event_names[k]);
            }
        }
        json_free(&v);
        s = nl + 1;
    }
    cr_assert(res->have_summary, "no summary line in the JSON output");
    cr_assert_eq(res->summary_matches, res->n, "summary says %" PRIu64 " matches, %zu printed",
                 res->summary_matches, res->n);
}

static void result_free(result *res)
{
    free(res->h);
    free(res->c.hits);
    memset(res, 0, sizeof *res);
}

/* The checks every case shares: the run ended normally with a match
 * (exit 0), the JSON is valid, and the hits in the processes of this test
 * (fixtures, memgrep itself, this process) are exactly w. A match in any
 * other process is a copy of a marker that another program sweeping the
 * machine read from ours (helpers.h): logged, not counted. */
static void check_sweep(const run *r, result *res, const want *w, size_t nw, const char *what)
{
    cr_assert_eq(r->status, 0, "%s: memgrep exit %d (want 0); stderr:\n%.2000s", what, r->status,
                 r->err);
    parse_json(r, res);
    collector mine = {.hits = calloc(res->c.n + 1, sizeof(hit))};
    cr_assert(mine.hits);
    for (size_t i = 0; i < res->c.n; i++) {
        const hit *h = &res->c.hits[i];
        if (h->pid != r->pid && !proc_is_ours(h->pid))
            log_foreign_match(h->pid, h->addr, what);
        else
            mine.hits[mine.n++] = *h;
    }
    assert_exact_hits(&mine, w, nw, what);
    free(mine.hits);
    cr_log_info("%s: %.1f s, %" PRIu64 " processes scanned, %zu matches, events gone %" PRIu64
                " permission %" PRIu64 " changed %" PRIu64 " other %" PRIu64,
                what, r->seconds, res->processes_scanned, res->n, res->events[MG_EVENT_GONE],
                res->events[MG_EVENT_PERMISSION], res->events[MG_EVENT_CHANGED],
                res->events[MG_EVENT_OTHER]);
}

static void start_normal(void)
{
    fixture_start(&normal, NULL);
}

/* The uffd fixture's faults ('f'): how many, and how many of them came from
 * memgrep run r or another process of this test (proc_is_ours). Those of
 * any other process (a program sweeping the machine that reads absent
 * pages) are logged with their cause, not counted. */
static unsigned long hfaults_ours(hproc *h, const run *r, const char *what)
{
    cr_assert_eq(write(h->in_fd, "f\n", 2), 2);
    char line[128];
    cr_assert(hline(h, line, sizeof line), "no FAULTS from pid %d", h->pid);
    unsigned long n = 0, ours = 0;
    cr_assert_eq(sscanf(line, "FAULTS %lu", &n), 1, "bad reply '%s'", line);
    for (unsigned long i = 0; i < n && i < 16; i++) {
        int pid;
        unsigned long long addr;
        char comm[32];
        cr_assert(hline(h, line, sizeof line), "no FAULT line from pid %d", h->pid);
        cr_assert_eq(sscanf(line, "FAULT %d %llx %31s", &pid, &addr, comm), 3, "bad reply '%s'",
                     line);
        if (pid == r->pid || (pid > 0 && proc_is_ours(pid))) {
            ours++;
            cr_log_error("%s: pid %d (%s) faulted absent page 0x%llx", what, pid, comm, addr);
        } else
            cr_log_warn("%s: pid %d (%s), not of this test, faulted absent page 0x%llx (not "
                        "counted)",
                        what, pid, comm, addr);
    }
    /* past the first 16 the cause is not known: counted as ours */
    return ours + (n > 16 ? n - 16 : 0);
}

/* ---- the cases ---- */

Test(hostile, userfaultfd_region)
{
    need_root();
    hproc *u = &hp[0];
    hstart(u, "uffd", NULL, 0);
    if (u->skip[0])
        cr_skip_test("userfaultfd unavailable: %s", u->skip);
    start_normal();
    patset ps = {0};
    want w[128];
    size_t nw = normal_wants(&ps, w, 0, 128);
    nw = hproc_wants(&ps, u, w, nw, 128);
    cr_assert_eq(u->n_plants, 1u);

    run r;
    run_memgrep(&ps, NULL, true, 0, &r);
    result res;
    check_sweep(&r, &res, w, nw, "sweep with a userfaultfd region");
    /* No read of this test ever touched an absent page of the region. */
    unsigned long faults = hfaults_ours(u, &r, "userfaultfd region");
    cr_assert_eq(faults, 0ul, "the sweep faulted %lu absent userfaultfd page(s)", faults);
    cr_assert_eq(kill(u->pid, 0), 0, "the userfaultfd target died");
    result_free(&res);
    run_free(&r);
}

Test(hostile, stuck_fuse_file)
{
    need_root();
    if (access("/dev/fuse", R_OK | W_OK) != 0)
        cr_skip_test("no usable /dev/fuse: %s", strerror(errno));
    snprintf(fuse_mnt, sizeof fuse_mnt, "/tmp/mg-hostile-fuse-XXXXXX");
    cr_assert(mkdtemp(fuse_mnt), "mkdtemp: %s", strerror(errno));
    hproc *d = &hp[0], *t = &hp[1];
    hstart(d, "fusedaemon", fuse_mnt, 0);
    if (d->skip[0]) {
        char why[256];
        snprintf(why, sizeof why, "%s", d->skip);
        fuse_cleanup();
        cr_skip_test("FUSE mount unavailable: %s", why);
    }
    /* The target uses the daemon's token: the plant is in the file. */
    char path[128];
    snprintf(path, sizeof path, "%s/f", fuse_mnt);
    hstart(t, "fusetarget", path, 0);
    snprintf(t->token, sizeof t->token, "%s", d->token);
    cr_assert_eq(t->n_plants, 1u);
    /* The daemon stops answering; a thread of the target faults on a page
     * that was never cached and stays blocked there. */
    cr_assert_eq(kill(d->pid, SIGUSR1), 0);
    cr_assert_eq(write(t->in_fd, "s\n", 2), 2);
    char line[64];
    cr_assert(hline(t, line, sizeof line) && !strcmp(line, "STUCK"));
    /* The setup is what it should be: the plant's page is cached, the page
     * the thread waits for is not (a read of it would wait for ever). */
    uint64_t base = strtoull(hinfo(t, "region"), NULL, 16), rs, re;
    cr_assert_eq(present_run(t->pid, t->plants[0].addr, base, base + 256 * 4096, &rs, &re), 0);
    cr_assert_gt(re, rs, "the FUSE plant's page is not present");
    cr_assert_eq(present_run(t->pid, base + 100 * 4096, base, base + 256 * 4096, &rs, &re), 0);
    cr_assert_eq(re, rs, "the page the stuck thread waits for is present");
    start_normal();

    patset ps = {0};
    want w[128];
    size_t nw = normal_wants(&ps, w, 0, 128);
    nw = hproc_wants(&ps, t, w, nw, 128);
    run r;
    run_memgrep(&ps, NULL, true, 0, &r);
    result res;
    check_sweep(&r, &res, w, nw, "sweep with a stuck FUSE mapping");
    /* The stuck thread is still stuck: nothing answered for the daemon. */
    cr_assert_eq(present_run(t->pid, base + 100 * 4096, base, base + 256 * 4096, &rs, &re), 0);
    cr_assert_eq(re, rs, "the stuck page got read in");
    result_free(&res);
    run_free(&r);
    /* The daemon first: while it lives, anyone stuck reading the target's
     * unserved page (another scanner on this machine, say) holds the
     * target's mmap lock, and the target's exit waits for it for ever
     * (exit_mmap takes the lock to write): killing the daemon ends every
     * pending request. */
    hstop(d);
    hstop(t);
    fuse_cleanup();
}

/* A reader of the stuck page through /proc/PID/mem: it waits for the FUSE
 * daemon holding the target's mmap lock (mem_rw keeps it across the I/O).
 * Killed by stop_all after the daemon (hp[0]), whose end wakes it. */
static pid_t mem_holder;

static void stop_mem_holder(void)
{
    if (mem_holder > 0) {
        kill(mem_holder, SIGKILL);
        waitpid(mem_holder, NULL, 0);
        mem_holder = 0;
    }
}

/* The same stuck FUSE file, and now its target's mmap lock is held: a
 * third process reads the stuck page through /proc/PID/mem (which holds the
 * lock across FUSE I/O), and a thread of the target maps and unmaps (a
 * writer queued behind that reader, so every new reader of the lock waits:
 * pagemap, PAGEMAP_SCAN, process_vm_readv, mem). memgrep can't read that
 * target until the daemon answers, never; with --timeout it must still
 * end, incomplete (exit 3, the summary says timeout), not hang. */
Test(hostile, stuck_fuse_locked_mm)
{
    need_root();
    if (access("/dev/fuse", R_OK | W_OK) != 0)
        cr_skip_test("no usable /dev/fuse: %s", strerror(errno));
    snprintf(fuse_mnt, sizeof fuse_mnt, "/tmp/mg-hostile-fuse-XXXXXX");
    cr_assert(mkdtemp(fuse_mnt), "mkdtemp: %s", strerror(errno));
    hproc *d = &hp[0], *t = &hp[1];
    hstart(d, "fusedaemon", fuse_mnt, 0);
    if (d->skip[0]) {
        char why[256];
        snprintf(why, sizeof why, "%s", d->skip);
        fuse_cleanup();
        cr_skip_test("FUSE mount unavailable: %s", why);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/f", fuse_mnt);
    hstart(t, "fusetarget", path, 0);
    cr_assert_eq(kill(d->pid, SIGUSR1), 0);
    cr_assert_eq(write(t->in_fd, "s\n", 2), 2);
    char line[64];
    cr_assert(hline(t, line, sizeof line) && !strcmp(line, "STUCK"));
    uint64_t base = strtoull(hinfo(t, "region"), NULL, 16);
    /* The writer first (its thread's stack is mapped with the lock free). */
    cr_assert_eq(write(t->in_fd, "m\n", 2), 2);
    cr_assert(hline(t, line, sizeof line) && !strcmp(line, "MAPPING"));
    mem_holder = fork();
    cr_assert_geq(mem_holder, 0);
    if (mem_holder == 0) {
        char mem[64], b[16];
        snprintf(mem, sizeof mem, "/proc/%d/mem", (int)t->pid);
        int fd = open(mem, O_RDONLY);
        _exit(fd >= 0 && pread(fd, b, sizeof b, (off_t)(base + 100 * 4096)) > 0 ? 0 : 1);
    }
    /* The reader waits in the fault (state D), holding the lock. */
    char stat_path[64], wchan[64] = "";
    snprintf(stat_path, sizeof stat_path, "/proc/%d/wchan", (int)mem_holder);
    for (int i = 0; i < 500 && strcmp(wchan, "filemap_fault"); i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        FILE *f = fopen(stat_path, "r");
        if (f) {
            if (!fgets(wchan, sizeof wchan, f))
                wchan[0] = '\0';
            fclose(f);
        }
    }
    if (strcmp(wchan, "filemap_fault")) {
        stop_mem_holder();
        cr_skip_test("the /proc/PID/mem reader of the stuck page waits in '%s', not in "
                     "filemap_fault: this kernel does not hold the lock there",
                     wchan);
    }
    /* The writer is stuck behind the reader: its count stops. */
    unsigned long m0 = hcount(t), m1 = m0 + 1;
    for (int i = 0; i < 25 && m1 != m0; i++) {
        struct timespec pause_ts = {0, 200000000};
        nanosleep(&pause_ts, NULL);
        m0 = m1;
        m1 = hcount(t);
    }
    if (m1 != m0) {
        hstop(d);
        stop_mem_holder();
        cr_skip_test("the target's mmap/munmap thread never blocked behind the reader of the "
                     "stuck page: its mmap lock is not held across the FUSE read here");
    }

    patset ps = {0};
    want w[8];
    hproc_wants(&ps, t, w, 0, 8); /* the plant (unreadable now): its pattern */
    char pid_t_s[16];
    snprintf(pid_t_s, sizeof pid_t_s, "%d", t->pid);
    const char *extra[] = {"--timeout", "2", "-p", pid_t_s, NULL};
    run r;
    run_memgrep(&ps, extra, true, 0, &r);
    cr_log_info("stuck mmap lock: memgrep --timeout 2 ended after %.2f s, exit %d", r.seconds,
                r.status);
    fprintf(stderr, "hostile: stuck mmap lock: memgrep --timeout 2 ended after %.2f s\n",
            r.seconds);
    cr_assert_eq(r.status, 3, "memgrep exit %d (want 3: timeout); stderr:\n%.2000s", r.status,
                 r.err);
    result res;
    parse_json(&r, &res);
    cr_assert(strstr(r.out, "\"complete\":false") && strstr(r.out, "\"stop_reason\":\"timeout\""),
              "the summary does not say incomplete, timeout:\n%.2000s", r.out);
    /* the watchdog's summary: the workers the engine ran, not -j's 0 (D8) */
    cr_assert(strstr(r.out, "\"threads\":") && !strstr(r.out, "\"threads\":0"),
              "the summary's thread count:\n%.2000s", r.out);
    cr_assert_eq(res.n, 0u, "a match in a target whose memory could not be read");
    /* no timing assertion, but a bound far from a hang: the timeout plus
     * the watchdog's grace, with room for a loaded machine */
    cr_assert_lt(r.seconds, 2 + 10.0, "memgrep --timeout 2 took %.1f s", r.seconds);
    result_free(&res);
    run_free(&r);
    hstop(d); /* first: its end wakes the reader, and the writer after it */
    stop_mem_holder();
    hstop(t);
    fuse_cleanup();
}

Test(hostile, mmap_churn_and_fork_storm)
{
    need_root();
    hproc *c = &hp[0], *k = &hp[1];
    hstart(c, "churn", NULL, 0);
    hstart(k, "forker", NULL, 0);
    start_normal();
    patset ps = {0};
    want w[128];
    size_t nw = normal_wants(&ps, w, 0, 128);
    /* Plants the churners must never show: they hold none. */
    add_pat(&ps, c->token, "none");
    add_pat(&ps, k->token, "none");

    unsigned long c0 = hcount(c), k0 = hcount(k);
    run r;
    run_memgrep(&ps, NULL, true, 0, &r);
    unsigned long c1 = hcount(c), k1 = hcount(k);
    result res;
    check_sweep(&r, &res, w, nw, "sweep during mmap churn and a fork storm");
    cr_log_info("churn: %lu mmap/mprotect/munmap cycles, %lu children forked during the "
                "%.1f s sweep (%.0f children/s)",
                c1 - c0, k1 - k0, r.seconds, (double)(k1 - k0) / r.seconds);
    fprintf(stderr, "hostile: %lu children churned during the sweep (%.0f/s), %lu mmap cycles\n",
            k1 - k0, (double)(k1 - k0) / r.seconds, c1 - c0);
    cr_assert_gt(k1 - k0, 0ul, "the forker forked nothing during the sweep");
    cr_assert_gt(c1 - c0, 0ul, "the churner did nothing during the sweep");
    cr_assert_eq(kill(c->pid, 0), 0, "the churner died");
    cr_assert_eq(kill(k->pid, 0), 0, "the forker died");
    result_free(&res);
    run_free(&r);
}

static void unhex(const char *hex, char *out, size_t cap)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n + 1 < cap; hex += 2) {
        unsigned v;
        cr_assert_eq(sscanf(hex, "%2x", &v), 1);
        out[n++] = (char)v;
    }
    out[n] = '\0';
}

static void remove_odd_dir(const hproc *h)
{
    const char *hex = hinfo(h, "dir");
    if (!hex || !hex[0])
        return;
    char dir[256], path[512];
    unhex(hex, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, ODD_FILE);
    unlink(path);
    rmdir(dir);
}

Test(hostile, odd_names)
{
    need_root();
    hproc *o = &hp[0];
    hstart(o, "names", NULL, 0);
    start_normal();
    patset ps = {0};
    want w[128];
    size_t nw = normal_wants(&ps, w, 0, 128);
    nw = hproc_wants(&ps, o, w, nw, 128);
    cr_assert_eq(o->n_plants, 2u);
    const char *hex = hinfo(o, "dir");
    cr_assert(hex);
    char dir[256], file_path[512];
    unhex(hex, dir, sizeof dir);
    snprintf(file_path, sizeof file_path, "%s/%s", dir, ODD_FILE);

    run r;
    run_memgrep(&ps, NULL, true, 0, &r);
    result res;
    check_sweep(&r, &res, w, nw, "sweep with odd names");
    size_t seen = 0;
    for (size_t i = 0; i < res.n; i++) {
        const jhit *h = &res.h[i];
        if (h->pid != o->pid)
            continue;
        seen++;
        cr_assert(h->comm_len == strlen(ODD_COMM) && !memcmp(h->comm, ODD_COMM, h->comm_len),
                  "JSON comm of pid %d does not decode to the bytes set by PR_SET_NAME", h->pid);
        if (!strcmp(ps.p[h->pattern_id].name, "oddfile"))
            cr_assert(h->path_len == strlen(file_path) && !memcmp(h->path, file_path, h->path_len),
                      "JSON region path \"%.*s\" does not decode to the mapped file's name",
                      (int)h->path_len, h->path);
    }
    cr_assert_eq(seen, 2u);

    /* Text: exactly one line per match, every byte printable ASCII. */
    char pid_a[16], pid_b[16];
    snprintf(pid_a, sizeof pid_a, "%d", o->pid);
    snprintf(pid_b, sizeof pid_b, "%d", normal.pid);
    const char *extra[] = {"-p", pid_a, "-p", pid_b, NULL};
    run t;
    run_memgrep(&ps, extra, false, 0, &t);
    cr_assert_eq(t.status, 0, "text run: exit %d; stderr:\n%.2000s", t.status, t.err);
    size_t lines = 0;
    for (size_t i = 0; i < t.out_len; i++) {
        unsigned char ch = (unsigned char)t.out[i];
        if (ch == '\n') {
            lines++;
            continue;
        }
        cr_assert(ch >= 0x20 && ch < 0x7f, "text output holds byte 0x%02x at offset %zu", ch, i);
    }
    cr_assert_eq(lines, nw, "text output: %zu lines for %zu matches:\n%s", lines, nw, t.out);
    run_free(&t);
    result_free(&res);
    run_free(&r);
    hstop(o);
}

Test(hostile, unprivileged_sweep)
{
    need_root();
    hproc *n = &hp[0];
    hstart(n, "plain", NULL, NOBODY);
    if (n->skip[0])
        cr_skip_test("%s", n->skip);
    start_normal(); /* root's: must be a permission event, not a match */
    patset ps = {0};
    want w[16];
    size_t nw = hproc_wants(&ps, n, w, 0, 16);
    want ignore[128];
    normal_wants(&ps, ignore, 0, 128);

    run r;
    run_memgrep(&ps, NULL, true, NOBODY, &r);
    cr_assert_neq(r.status, 2, "memgrep as nobody: exit 2; stderr:\n%.2000s", r.err);
    result res;
    check_sweep(&r, &res, w, nw, "sweep as nobody");
    cr_assert_gt(res.events[MG_EVENT_PERMISSION], 0u,
                 "root's processes were not counted as permission events");
    result_free(&res);
    run_free(&r);
}

/* ---- pid reuse, inside a new pid namespace ---- */

#define REUSE_PID 300
#define REUSE_ITERS 100

static void ns_last_pid(pid_t last)
{
    FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
    if (f) {
        fprintf(f, "%d", (int)last);
        fclose(f);
    }
}

/* hostile_fixture MODE TOKEN [ARG] with address randomisation off (so A
 * and B plant at the same addresses), as pid REUSE_PID; waits for READY if
 * asked, then *chunk0 (may be NULL) is its "chunk0" plant, 0 if none.
 * Returns the pid or -1. */
static pid_t reuse_spawn_mode(const char *mode, const char *token, const char *arg, bool wait_ready,
                              uint64_t *chunk0)
{
    const char *exe = getenv("MG_HOSTILE_FIXTURE");
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    ns_last_pid(REUSE_PID - 1);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        personality(ADDR_NO_RANDOMIZE);
        execl(exe, exe, mode, "--token", token, arg, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = wait_ready ? fdopen(out[0], "r") : NULL;
    char line[256];
    if (chunk0)
        *chunk0 = 0;
    while (f && fgets(line, sizeof line, f) && strncmp(line, "READY", 5)) {
        char name[32];
        void *a;
        if (chunk0 && sscanf(line, "PLANT %31s %p", name, &a) == 2 && !strcmp(name, "chunk0"))
            *chunk0 = (uint64_t)(uintptr_t)a;
    }
    if (f)
        fclose(f);
    else
        close(out[0]);
    return pid;
}

/* hostile_fixture plain TOKEN COMM, as reuse_spawn_mode. */
static pid_t reuse_spawn(const char *token, const char *comm, bool wait_ready)
{
    return reuse_spawn_mode("plain", token, comm, wait_ready, NULL);
}

typedef struct reuse_sink {
    size_t a_hits, b_hits, wrong;
    char wrong_what[256];
} reuse_sink;

static int reuse_match(void *ctx, const mg_match *m)
{
    reuse_sink *rs = ctx;
    /* pattern 0 is A's marker, 1 is B's: the record must name the process
     * whose memory held it */
    const char *owner = m->pattern_id == 0 ? "mg-reuse-A" : "mg-reuse-B";
    if (m->pattern_id == 0)
        rs->a_hits++;
    else
        rs->b_hits++;
    /* A always sits at REUSE_PID; B takes it when ns_last_pid wins the
     * race, else another number, which is right as long as it is B's */
    bool pid_ok = m->process->pid == REUSE_PID;
    if (!pid_ok && m->pattern_id == 1) {
        char path[64], comm[32] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", (int)m->process->pid);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        pid_ok = !strcmp(comm, owner);
    }
    /* the comm is read when memgrep opens the process: a target that
     * renames itself after exec may still carry its executable's name */
    bool comm_ok = !strcmp(m->process->comm, owner) || !strcmp(m->process->comm, "hostile_fixture");
    if (!comm_ok || !pid_ok) {
        if (!rs->wrong)
            snprintf(rs->wrong_what, sizeof rs->wrong_what,
                     "pattern %u (%s's marker) reported in pid %d comm '%.32s'", m->pattern_id,
                     owner, (int)m->process->pid, m->process->comm);
        rs->wrong++;
    }
    return MG_SINK_CONTINUE;
}

typedef struct scan_job {
    const mg_patterns *p;
    reuse_sink *rs;
    mg_stats st;
    int rc;
} scan_job;

static void *scan_thread(void *arg)
{
    scan_job *j = arg;
    mg_settings s;
    mg_default_settings(&s);
    s.threads = 2;
    mg_sink sink = {.ctx = j->rs, .match = reuse_match};
    j->rc = mg_scan(j->p, &s, &sink, &j->st, NULL);
    return NULL;
}

/* B is started by a spawner forked before any pattern exists: a child
 * forked from the scanning process would hold B's marker (in the pattern
 * set) until it execs, and rightly be reported holding it. */
static void spawner(int cmd, int reply)
{
    char token[17];
    while (read(cmd, token, sizeof token) == (ssize_t)sizeof token) {
        pid_t b = reuse_spawn(token, "mg-reuse-B", false);
        if (write(reply, &b, sizeof b) != (ssize_t)sizeof b)
            _exit(1);
        waitpid(b, NULL, 0);
        if (write(reply, &b, sizeof b) != (ssize_t)sizeof b) /* reaped */
            _exit(1);
    }
    _exit(0);
}

/* The namespace's init: runs the iterations and writes one line to fd. */
static int reuse_init(int fd)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        dprintf(fd, "SKIP mount proc in the new namespaces: %s\n", strerror(errno));
        return 0;
    }
    int cmd[2], reply[2];
    if (pipe(cmd) != 0 || pipe(reply) != 0)
        return 1;
    if (fork() == 0)
        spawner(cmd[0], reply[1]);
    reuse_sink rs = {0};
    size_t swapped = 0, reused = 0, gone = 0;
    for (int i = 0; i < REUSE_ITERS; i++) {
        char ta[17], tb[17];
        random_token(ta);
        random_token(tb);
        pid_t a = reuse_spawn(ta, "mg-reuse-A", true);
        if (a != REUSE_PID) {
            dprintf(fd, "SKIP ns_last_pid did not place the target at pid %d (got %d)\n", REUSE_PID,
                    (int)a);
            return 0;
        }
        mg_patterns *p = NULL;
        if (mg_patterns_new(&p) != 0)
            return 1;
        char m[64];
        snprintf(m, sizeof m, "%s%s-plain;", FIXTURE_MARKER_PREFIX, ta);
        mg_patterns_add(p, MG_PATTERN_LITERAL, m, strlen(m), 0, NULL, NULL);
        snprintf(m, sizeof m, "%s%s-plain;", FIXTURE_MARKER_PREFIX, tb);
        mg_patterns_add(p, MG_PATTERN_LITERAL, m, strlen(m), 0, NULL, NULL);
        memset(m, 0, sizeof m);
        if (mg_patterns_compile(p, NULL) != 0)
            return 1;
        scan_job j = {.p = p, .rs = &rs};
        pthread_t th;
        pthread_create(&th, NULL, scan_thread, &j);
        /* A goes and B takes its pid, at a different moment each time. */
        struct timespec ts = {0, (long)(i % 25) * 200000};
        nanosleep(&ts, NULL);
        kill(a, SIGKILL);
        waitpid(a, NULL, 0);
        ns_last_pid(REUSE_PID - 1);
        pid_t b = -1;
        if (write(cmd[1], tb, sizeof tb) != (ssize_t)sizeof tb ||
            read(reply[0], &b, sizeof b) != (ssize_t)sizeof b)
            return 1;
        pthread_join(th, NULL);
        swapped++;
        reused += b == REUSE_PID;
        gone += j.st.events[MG_EVENT_GONE];
        if (j.rc != 0) {
            dprintf(fd, "FAIL mg_scan returned %d\n", j.rc);
            return 0;
        }
        kill(b, SIGKILL); /* reaped by the spawner: wait for that */
        if (read(reply[0], &b, sizeof b) != (ssize_t)sizeof b)
            return 1;
        mg_patterns_free(&p);
    }
    dprintf(fd, "RESULT %zu %zu %zu %zu %zu %zu %s\n", swapped, reused, rs.a_hits, rs.b_hits, gone,
            rs.wrong, rs.wrong_what);
    return 0;
}

/* Run init(fd) as the init of new pid and mount namespaces (where
 * ns_last_pid places pids); fd is the write end of the pipe whose read end
 * is returned. *runner: the process to wait for (or kill). */
static int ns_start(int (*init)(int fd), pid_t *runner)
{
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    pid_t r = fork();
    cr_assert_geq(r, 0);
    if (r == 0) {
        close(pfd[0]);
        if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) {
            dprintf(pfd[1], "SKIP unshare(CLONE_NEWPID|CLONE_NEWNS): %s\n", strerror(errno));
            _exit(0);
        }
        pid_t pid1 = fork();
        if (pid1 == 0)
            _exit(init(pfd[1]));
        int ws = 0;
        waitpid(pid1, &ws, 0);
        _exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 99);
    }
    close(pfd[1]);
    *runner = r;
    return pfd[0];
}

Test(hostile, pid_reuse)
{
    need_root();
    int pfd[2];
    pid_t r;
    pfd[0] = ns_start(reuse_init, &r);
    char line[512] = "";
    size_t have = 0;
    double t0 = now();
    for (;;) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int n = poll(&p, 1, 1000);
        if (n > 0) {
            ssize_t k = read(pfd[0], line + have, sizeof line - 1 - have);
            if (k <= 0)
                break;
            have += (size_t)k;
            line[have] = '\0';
        }
        if (now() - t0 > 4 * SWEEP_BOUND_S) {
            kill(r, SIGKILL); /* its death kills the namespace */
            break;
        }
    }
    close(pfd[0]);
    int ws = 0;
    waitpid(r, &ws, 0);
    cr_assert(now() - t0 <= 4 * SWEEP_BOUND_S, "pid reuse sweeps did not finish (killed)");
    if (!strncmp(line, "SKIP ", 5))
        cr_skip_test("pid reuse: %s", line + 5);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "pid namespace runner failed: %d; %s", ws,
              line);
    size_t swapped, reused, a_hits, b_hits, gone, wrong;
    int at = 0;
    cr_assert_eq(sscanf(line, "RESULT %zu %zu %zu %zu %zu %zu %n", &swapped, &reused, &a_hits,
                        &b_hits, &gone, &wrong, &at),
                 6, "pid namespace runner: %s", line);
    cr_log_info("pid reuse: %zu swaps, pid reused %zu times; hits A %zu, B %zu; gone events %zu",
                swapped, reused, a_hits, b_hits, gone);
    fprintf(stderr,
            "hostile: pid reuse: %zu swaps, %zu reused pid %d; hits A %zu B %zu; %zu gone\n",
            swapped, reused, REUSE_PID, a_hits, b_hits, gone);
    cr_assert_eq(wrong, 0u, "%zu record(s) named the wrong process: %s", wrong, line + at);
    cr_assert_gt(reused, 0u, "the pid was never reused");
}

/* ---- pid reuse between two chunks of mg_strings (review D4) ---- */

typedef struct swap_ctx {
    char ta[17], tb[17];
    pid_t a, b;
    uint64_t a_chunk0, b_chunk0;
    size_t a_seen, b_seen;
} swap_ctx;

/* At A's first string: A goes, B takes its pid, mapped where A was. */
static int swap_at_first(void *arg, const mg_string *s)
{
    swap_ctx *x = arg;
    if (strstr(s->text, x->tb))
        x->b_seen++;
    if (!strstr(s->text, x->ta) || x->a_seen++)
        return 0;
    kill(x->a, SIGKILL);
    waitpid(x->a, NULL, 0);
    x->b = reuse_spawn_mode("twochunks", x->tb, NULL, true, &x->b_chunk0);
    return 0;
}

static int strings_reuse_init(int fd)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        dprintf(fd, "SKIP mount proc in the new namespaces: %s\n", strerror(errno));
        return 0;
    }
    swap_ctx x = {0};
    random_token(x.ta);
    random_token(x.tb);
    x.a = reuse_spawn_mode("twochunks", x.ta, NULL, true, &x.a_chunk0);
    if (x.a != REUSE_PID || !x.a_chunk0) {
        dprintf(fd, "SKIP ns_last_pid did not place the target at pid %d (got %d)\n", REUSE_PID,
                (int)x.a);
        return 0;
    }
    uint64_t start = x.a_chunk0 - 100;
    mg_error err = {{0}};
    int rc = mg_strings(x.a, start, start + (2u << 20), 8, 0, swap_at_first, &x, &err);
    dprintf(fd, "RESULT %d %d %zu %zu %d %s\n", rc, (int)x.b, x.a_seen, x.b_seen,
            x.b_chunk0 == x.a_chunk0, err.message);
    if (x.b > 0)
        kill(x.b, SIGKILL);
    return 0;
}

/* mg_strings reads a range MG_STRINGS_CHUNK at a time. After its first
 * string, the callback kills the target and starts another at the same
 * pid with the same mapping: the second chunk must not be read from it
 * (the process is pinned once, for the whole range). */
Test(hostile, strings_pinned_across_chunks)
{
    need_root();
    int pfd[2];
    pid_t r;
    pfd[0] = ns_start(strings_reuse_init, &r);
    char line[1024] = "";
    size_t have = 0;
    ssize_t k;
    while (have < sizeof line - 1 && (k = read(pfd[0], line + have, sizeof line - 1 - have)) > 0)
        have += (size_t)k;
    close(pfd[0]);
    int ws = 0;
    waitpid(r, &ws, 0);
    if (!strncmp(line, "SKIP ", 5))
        cr_skip_test("strings and pid reuse: %s", line + 5);
    int rc = 0, b = 0, same_addr = 0;
    size_t a_seen = 0, b_seen = 0;
    cr_assert_eq(sscanf(line, "RESULT %d %d %zu %zu %d", &rc, &b, &a_seen, &b_seen, &same_addr), 5,
                 "namespace runner: %s", line);
    cr_assert_eq(a_seen, 1u, "A's first string was not seen: %s", line);
    cr_assert_eq(b, REUSE_PID, "B did not reuse A's pid: %s", line);
    cr_assert(same_addr, "B's mapping is not where A's was: %s", line);
    cr_assert_eq(b_seen, 0u, "mg_strings reported %zu string(s) of the process that reused the pid",
                 b_seen);
    cr_assert_eq(rc, -ESRCH, "mg_strings returned %d (want -ESRCH: the target exited): %s", rc,
                 line);
}
