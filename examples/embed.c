/*
 * embed.c - the smallest useful program around libmemgrep: search one
 * process for a few literal patterns and print every match.
 *
 *   embed PID PATTERN...
 *
 * prints one line per match, "PID ADDRESS PATTERN", and exits 0 if something
 * matched, 1 if not, 2 on error, as memgrep does. Build it against an
 * installed libmemgrep with pkg-config:
 *
 *   cc -o embed embed.c $(pkg-config --cflags --libs memgrep)
 *
 * Reading another process's memory needs root (or CAP_SYS_PTRACE and
 * CAP_DAC_READ_SEARCH).
 */
#include <memgrep/memgrep.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sink's state: what the callbacks need to print. */
struct hits {
    const mg_patterns *patterns;
    unsigned long n;
};

/* Called once per match, one call at a time (the engine serialises them),
 * from one of its worker threads. m->data is only valid during the call. */
static int on_match(void *ctx, const mg_match *m)
{
    struct hits *h = ctx;
    mg_pattern_info info;
    if (mg_patterns_info(h->patterns, m->pattern_id, &info) < 0)
        return MG_SINK_STOP;
    printf("%d 0x%" PRIx64 " %s\n", (int)m->process->pid, m->address, info.text);
    h->n++;
    return MG_SINK_CONTINUE; /* MG_SINK_STOP would end the scan here */
}

/* A process or region that could not be read: reported, never fatal. */
static void on_event(void *ctx, const mg_event *e)
{
    (void)ctx;
    fprintf(stderr, "embed: pid %d: %s: %s\n", (int)e->process->pid, e->what, strerror(-e->err));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: embed PID PATTERN...\n");
        return 2;
    }
    pid_t pid = (pid_t)atoi(argv[1]);
    mg_error err = {{0}}; /* filled with a message when a call fails */

    /* 0. The library is the one the header describes (same major version). */
    if (mg_version_api() >> 16 != MG_API_VERSION >> 16) {
        fprintf(stderr, "embed: built for libmemgrep %s, running with %s\n", MG_VERSION,
                mg_version());
        return 2;
    }

    /* 1. The patterns: added one by one (their ids are 0, 1, ... in that
     *    order), then compiled into one Hyperscan database. */
    mg_patterns *p = NULL;
    int r = mg_patterns_new(&p);
    for (int i = 2; r >= 0 && i < argc; i++)
        r = mg_patterns_add(p, MG_PATTERN_LITERAL, argv[i], strlen(argv[i]), 0, NULL, &err);
    if (r >= 0)
        r = mg_patterns_compile(p, &err);
    if (r < 0) {
        fprintf(stderr, "embed: %s\n", err.message[0] ? err.message : mg_strerror(r));
        mg_patterns_free(&p);
        return 2;
    }

    /* 2. The settings: the defaults, restricted to one pid (no pids at
     *    all would mean every process). */
    mg_settings set;
    mg_default_settings(&set);
    set.pids = &pid;
    set.n_pids = 1;

    /* 3. The sweep: matches and events go to the sink's callbacks;
     *    mg_scan returns when every callback has returned. (A program that
     *    sweeps again and again keeps an engine instead: mg_engine_new once,
     *    mg_engine_scan per sweep, mg_engine_free at the end.) */
    struct hits h = {.patterns = p};
    mg_sink sink = {.ctx = &h, .match = on_match, .event = on_event};
    mg_stats stats;
    r = mg_scan(p, &set, &sink, &stats, &err);
    mg_patterns_free(&p);
    if (r < 0) {
        fprintf(stderr, "embed: %s\n", err.message[0] ? err.message : mg_strerror(r));
        return 2;
    }
    fprintf(stderr, "embed: %lu matches, %" PRIu64 " bytes scanned (libmemgrep %s)\n", h.n,
            stats.bytes_scanned, mg_version());
    return h.n ? 0 : 1;
}
