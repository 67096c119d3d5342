/* race_check.c - the sweep under ThreadSanitizer, without Criterion.
 *
 * Criterion cannot start under TSan (its inheritable arena can't be mapped:
 * Snaipe/Criterion#274), so the TSan configuration runs this instead: a
 * fixture that forks (shared pages: the /proc/PID/mem reader and the
 * de-duplication table), swept together with every other process by 2
 * workers, with progress, max-count and context on, once with each
 * residency mode. It checks the exact set of (pid, address, pattern) found
 * in both fixture processes, so it fails on a lost, extra or repeated match
 * as well as on a data race (TSan makes the process exit non-zero). Then
 * the same exact set from several threads scanning through one mg_engine.
 * Needs root to read other processes; exits 77 (skip) without it. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "memgrep/memgrep.h"

#define SKIP 77
#define MAX_PLANTS 96
#define MAX_HITS 1024

typedef struct plant {
    char name[64], kind[64];
    uint64_t addr, len;
} plant;

typedef struct found {
    pid_t pid;
    uint64_t addr, len;
    unsigned pattern_id;
} found;

typedef struct counts {
    found hits[MAX_HITS];
    size_t n; /* may exceed MAX_HITS: only the first are kept */
    unsigned long progress, foreign;
    pid_t parent, child;
} counts;

/* Another memgrep scanner running at the same time (tests run in parallel
 * on a developer's machine) holds copies of the fixture's pages in its
 * read buffers: matches there are right, and left out. */
static bool other_scanner(const mg_process *pr)
{
    const char *base = strrchr(pr->exe, '/');
    base = base ? base + 1 : pr->exe;
    return !strncmp(base, "test_", 5) || !strcmp(base, "memgrep") || !strcmp(base, "race_check") ||
           !strncmp(base, "bench", 5);
}

static int on_match(void *ctx, const mg_match *m)
{
    counts *c = ctx;
    if (m->process->pid != c->parent && m->process->pid != c->child && other_scanner(m->process)) {
        c->foreign++;
        return MG_SINK_CONTINUE;
    }
    if (c->n < MAX_HITS)
        c->hits[c->n] = (found){m->process->pid, m->address, m->length, m->pattern_id};
    c->n++;
    return MG_SINK_CONTINUE;
}

static void on_progress(void *ctx, const mg_progress *p)
{
    (void)p;
    ((counts *)ctx)->progress++;
}

static void fail(const char *what)
{
    fprintf(stderr, "race_check: %s\n", what);
    exit(1);
}

/* Whether every page of [addr, addr + len) is present in pid. */
static bool present(pid_t pid, uint64_t addr, uint64_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail("open pagemap");
    bool all = true;
    for (uint64_t pg = addr / 4096; pg <= (addr + len - 1) / 4096; pg++) {
        uint64_t e = 0;
        if (pread(fd, &e, sizeof e, (off_t)(pg * 8)) != (ssize_t)sizeof e)
            fail("read pagemap");
        all &= (e >> 63) != 0;
    }
    close(fd);
    return all;
}

static int name_id(char names[][64], size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return (int)i;
    return -1;
}

static int check_hits(const counts *c, const found *w, size_t nw, const char *mode);

/* One sweep; the exact set of fixture matches must be w[0..nw). */
static int sweep(const mg_patterns *p, mg_residency residency, pid_t parent, pid_t child,
                 const found *w, size_t nw)
{
    static counts c;
    memset(&c, 0, sizeof c);
    c.parent = parent;
    c.child = child;
    mg_settings s;
    mg_default_settings(&s);
    s.threads = 2;
    s.context = 64;
    s.max_count = 1000000;
    s.residency = residency;
    mg_sink sink = {
        .ctx = &c, .match = on_match, .progress = on_progress, .progress_interval = 0.001};
    mg_stats st;
    mg_error err;
    if (mg_scan(p, &s, &sink, &st, &err) < 0)
        fail(err.message);
    const char *mode = residency == MG_RESIDENCY_PAGEMAP ? "pagemap" : "auto";
    printf("race_check (%s): %zu matches, %zu expected, %lu in other scanners; %llu processes, "
           "%llu bytes deduplicated, %lu progress calls\n",
           mode, c.n, nw, c.foreign, (unsigned long long)st.processes_scanned,
           (unsigned long long)st.bytes_deduped, c.progress);
    return check_hits(&c, w, nw, mode);
}

/* The exact set: each of w[0..nw) once, nothing else. Returns the errors. */
static int check_hits(const counts *cp, const found *w, size_t nw, const char *mode)
{
    const counts c = *cp;
    pid_t parent = c.parent, child = c.child;
    if (c.n > MAX_HITS)
        fail("too many matches");
    int bad = 0;
    for (size_t i = 0; i < nw; i++) {
        size_t k = 0;
        for (size_t j = 0; j < c.n; j++)
            k += c.hits[j].pid == w[i].pid && c.hits[j].addr == w[i].addr &&
                 c.hits[j].pattern_id == w[i].pattern_id && c.hits[j].len == w[i].len;
        if (k != 1) {
            fprintf(stderr, "race_check (%s): pid %d 0x%" PRIx64 " pattern %u found %zu times\n",
                    mode, (int)w[i].pid, w[i].addr, w[i].pattern_id, k);
            bad++;
        }
    }
    for (size_t j = 0; j < c.n; j++) {
        bool expected = false;
        for (size_t i = 0; i < nw && !expected; i++)
            expected = c.hits[j].pid == w[i].pid && c.hits[j].addr == w[i].addr &&
                       c.hits[j].pattern_id == w[i].pattern_id;
        if (!expected) {
            fprintf(stderr, "race_check (%s): extra match pid %d 0x%" PRIx64 " pattern %u%s\n",
                    mode, (int)c.hits[j].pid, c.hits[j].addr, c.hits[j].pattern_id,
                    c.hits[j].pid == parent || c.hits[j].pid == child ? "" : " (no fixture)");
            bad++;
        }
    }
    return bad;
}

/* ---- one engine, scans from several threads at once ---------------------- */

#define ENGINE_CALLERS 3
#define ENGINE_SCANS 2

typedef struct caller {
    mg_engine *e;
    const mg_patterns *p;
    pid_t pids[2];
    const found *w;
    size_t nw;
    int bad;
    counts c;
} caller;

static void *engine_caller(void *arg)
{
    caller *k = arg;
    mg_targets t = {.pids = k->pids, .n_pids = 2};
    for (int i = 0; i < ENGINE_SCANS; i++) {
        memset(&k->c, 0, sizeof k->c);
        k->c.parent = k->pids[0];
        k->c.child = k->pids[1];
        mg_sink sink = {
            .ctx = &k->c, .match = on_match, .progress = on_progress, .progress_interval = 0.001};
        mg_stats st;
        mg_error err;
        if (mg_engine_scan(k->e, &t, k->p, &sink, &st, &err) < 0)
            fail(err.message);
        if (st.processes_scanned != 2)
            fail("an engine scan did not scan the two fixture processes");
        k->bad += check_hits(&k->c, k->w, k->nw, "engine");
    }
    return NULL;
}

/* mg_engine_scan from ENGINE_CALLERS threads through one engine (the
 * header allows it: scans are serialised inside), each ENGINE_SCANS times,
 * each sweep's result exact: the workers, the dedupe table and the
 * handover between sweeps under TSan. */
static int engine_sweeps(const mg_patterns *p, pid_t parent, pid_t child, const found *w, size_t nw)
{
    mg_settings s;
    mg_default_settings(&s);
    s.threads = 2;
    s.context = 64;
    mg_engine *e = NULL;
    mg_error err;
    if (mg_engine_new(&e, &s, &err) < 0)
        fail(err.message);
    static caller k[ENGINE_CALLERS];
    pthread_t th[ENGINE_CALLERS];
    for (int i = 0; i < ENGINE_CALLERS; i++) {
        k[i] = (caller){.e = e, .p = p, .pids = {parent, child}, .w = w, .nw = nw};
        if (pthread_create(&th[i], NULL, engine_caller, &k[i]))
            fail("pthread_create");
    }
    int bad = 0;
    for (int i = 0; i < ENGINE_CALLERS; i++) {
        pthread_join(th[i], NULL);
        bad += k[i].bad;
    }
    mg_engine_free(&e);
    if (e)
        fail("mg_engine_free did not clear the handle");
    printf("race_check (engine): %d threads x %d scans through one engine\n", ENGINE_CALLERS,
           ENGINE_SCANS);
    return bad;
}

int main(void)
{
    if (geteuid() != 0) {
        puts("race_check: skipped: needs root to read other processes");
        return SKIP;
    }
    const char *fixture = getenv("MG_FIXTURE");
    if (!fixture || !*fixture)
        fail("MG_FIXTURE is not set (run through meson test)");
    char token[17];
    snprintf(token, sizeof(token), "%08x%08x", (unsigned)getpid(), (unsigned)rand());
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
        fail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl(fixture, fixture, "--token", token, "--fork", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    /* PLANT lines until READY; the fork's child pid is a CHILD line. */
    FILE *f = fdopen(out[0], "r");
    char line[4096];
    static plant plants[MAX_PLANTS];
    size_t n_plants = 0;
    pid_t child = 0;
    while (fgets(line, sizeof(line), f) && strncmp(line, "READY", 5)) {
        plant pl;
        if (sscanf(line, "PLANT %63s %" SCNx64 " %" SCNu64 " %63s", pl.name, &pl.addr, &pl.len,
                   pl.kind) == 4) {
            if (n_plants == MAX_PLANTS)
                fail("too many plants");
            plants[n_plants++] = pl;
        }
        sscanf(line, "CHILD %d", &child);
    }
    if (!child || !n_plants)
        fail("fixture printed no child pid or no plant");

    /* One literal per plant name of kind plain, parent or child. Expected:
     * in the parent, the plain and parent-only plants; in the child, the
     * plain ones present there (fork copies no page tables of MAP_SHARED
     * mappings: those pages are not read) and the child-only one. */
    static char names[MAX_PLANTS][64];
    size_t n_names = 0;
    mg_patterns *p = NULL;
    mg_error err;
    if (mg_patterns_new(&p) < 0)
        fail("patterns");
    static found w[2 * MAX_PLANTS];
    size_t nw = 0;
    for (size_t i = 0; i < n_plants; i++) {
        const plant *pl = &plants[i];
        bool plain = !strcmp(pl->kind, "plain");
        if (!plain && strcmp(pl->kind, "parent") && strcmp(pl->kind, "child"))
            continue;
        int id = name_id(names, n_names, pl->name);
        if (id < 0) {
            char m[128];
            int ml = snprintf(m, sizeof m, FIXTURE_MARKER_PREFIX "%s-%s;", token, pl->name);
            id = (int)n_names;
            memcpy(names[n_names++], pl->name, sizeof names[0]);
            if (mg_patterns_add(p, MG_PATTERN_LITERAL, m, (size_t)ml, 0, pl->name, &err) != id)
                fail("pattern ids are not 0, 1, 2... in order of adding");
        }
        if (plain || !strcmp(pl->kind, "parent"))
            w[nw++] = (found){pid, pl->addr, pl->len, (unsigned)id};
        if ((plain && present(child, pl->addr, pl->len)) || !strcmp(pl->kind, "child"))
            w[nw++] = (found){child, pl->addr, pl->len, (unsigned)id};
    }
    if (mg_patterns_compile(p, &err) < 0)
        fail(err.message);

    int bad = sweep(p, MG_RESIDENCY_AUTO, pid, child, w, nw) +
              sweep(p, MG_RESIDENCY_PAGEMAP, pid, child, w, nw) +
              engine_sweeps(p, pid, child, w, nw);
    mg_patterns_free(&p);
    close(in[1]); /* the fixture exits at EOF on stdin */
    waitpid(pid, NULL, 0);
    if (bad)
        fail("the set of matches in the fixture processes is not the expected one");
    return 0;
}
