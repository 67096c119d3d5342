/* race_check.c - the sweep under ThreadSanitizer, without Criterion.
 *
 * Criterion cannot start under TSan (its inheritable arena can't be mapped:
 * Snaipe/Criterion#274), so the TSan configuration runs this instead: a
 * fixture that forks (shared pages: the /proc/PID/mem reader and the
 * de-duplication table), swept together with every other process by 2
 * workers, with progress, max-count and context on. It checks that every
 * plant of both fixture processes was found, so it fails on a lost match as
 * well as on a data race (TSan makes the process exit non-zero).
 * Needs root to read other processes; exits 77 (skip) without it. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "memgrep/memgrep.h"

#define SKIP 77

typedef struct counts {
    pid_t parent, child;
    unsigned long parent_hits, child_hits, progress;
} counts;

static int on_match(void *ctx, const mg_match *m)
{
    counts *c = ctx;
    c->parent_hits += m->process->pid == c->parent;
    c->child_hits += m->process->pid == c->child;
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
    /* PLANT/INFO lines until READY; the fork's child pid is an INFO line. */
    FILE *f = fdopen(out[0], "r");
    char line[4096];
    counts c = {.parent = pid};
    unsigned long plain = 0;
    while (fgets(line, sizeof(line), f) && strncmp(line, "READY", 5)) {
        char name[64], kind[64];
        unsigned long long addr, len;
        if (sscanf(line, "PLANT %63s %llx %llu %63s", name, &addr, &len, kind) == 4 &&
            !strcmp(kind, "plain"))
            plain++;
        sscanf(line, "CHILD %d", &c.child);
    }
    if (!c.child || !plain)
        fail("fixture printed no child pid or no plain plant");

    mg_patterns *p = NULL;
    mg_error err;
    char re[128];
    /* every plain marker of this run: mgt-TOKEN-NAME; */
    snprintf(re, sizeof(re), FIXTURE_MARKER_PREFIX "%s-[^;]{1,64};", token);
    if (mg_patterns_new(&p) < 0 ||
        mg_patterns_add(p, MG_PATTERN_REGEX, re, strlen(re), 0, "race", &err) < 0 ||
        mg_patterns_compile(p, &err) < 0)
        fail("patterns");
    mg_settings s;
    mg_default_settings(&s);
    s.threads = 2;
    s.context = 64;
    s.max_count = 1000000;
    mg_sink sink = {
        .ctx = &c, .match = on_match, .progress = on_progress, .progress_interval = 0.001};
    mg_stats st;
    if (mg_scan(p, &s, &sink, &st, &err) < 0)
        fail(err.message);
    mg_patterns_free(&p);
    close(in[1]); /* the fixture exits at EOF on stdin */
    waitpid(pid, NULL, 0);
    printf("race_check: %lu plain plants; parent %lu hits, child %lu hits; %llu processes, "
           "%llu bytes deduplicated, %lu progress calls\n",
           plain, c.parent_hits, c.child_hits, (unsigned long long)st.processes_scanned,
           (unsigned long long)st.bytes_deduped, c.progress);
    if (c.parent_hits < plain)
        fail("plants of the fixture were missed");
    if (c.child_hits == 0)
        fail("nothing found in the fixture's forked child");
    return 0;
}
