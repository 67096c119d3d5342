/* test_sweep.c - mg_scan over every process: each fixture's plants are
 * found in that fixture and nowhere else, never in the scanner itself, and
 * a fixture exiting mid-sweep is not fatal. Needs root. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define N_FIX 4
static fixture fx[N_FIX];

static void stop(void)
{
    for (int i = 0; i < N_FIX; i++)
        fixture_stop(&fx[i]);
}

TestSuite(sweep, .fini = stop, .timeout = 170);

/* The collecting sink, plus: at the first progress report or match of the
 * sweep (so after the process list is taken), poke the quitter, which then
 * exits by itself. */
typedef struct poking_sink {
    mg_sink inner;
    int quitter_fd;
    bool poked;
} poking_sink;

static void poke(poking_sink *ps)
{
    if (!ps->poked && write(ps->quitter_fd, "x", 1) == 1)
        ps->poked = true;
}

static int poke_match(void *ctx, const mg_match *m)
{
    poking_sink *ps = ctx;
    poke(ps);
    return ps->inner.match(ps->inner.ctx, m);
}

static void poke_event(void *ctx, const mg_event *e)
{
    poking_sink *ps = ctx;
    ps->inner.event(ps->inner.ctx, e);
}

static void poke_progress(void *ctx, const mg_progress *p)
{
    (void)p;
    poke(ctx);
}

Test(sweep, all_processes)
{
    need_root();
    /* The last one exits by itself as soon as it is poked during the sweep;
     * it carries 512 MiB of touched memory so that its scan is likely under
     * way or still to come then. */
    for (int i = 0; i < N_FIX - 1; i++)
        fixture_start(&fx[i], NULL);
    const char *quitter[] = {"--touch", "512", "--exit-after", "0", NULL};
    fixture_start(&fx[N_FIX - 1], quitter);

    /* Patterns are built only now, after every fork/exec, so no fixture
     * inherited a copy of another's markers. */
    mg_patterns *p = patterns_new();
    char names[N_FIX * 32][32];
    size_t first[N_FIX + 1];
    first[0] = 0;
    for (int i = 0; i < N_FIX; i++)
        first[i + 1] = first[i] + add_plant_literals(p, &fx[i], "plain", 0, names + first[i], 32);
    compile_patterns(p);

    mg_settings s;
    settings_for(&s, NULL, 0);
    collector c = {0};
    poking_sink ps = {.inner = collector_sink(&c), .quitter_fd = fx[N_FIX - 1].stdin_fd};
    mg_sink sink = {.ctx = &ps,
                    .match = poke_match,
                    .event = poke_event,
                    .progress = poke_progress,
                    .progress_interval = 0.001};
    mg_stats st;
    memset(&st, 0, sizeof st);
    mg_error err = {{0}};
    int rc = mg_scan(p, &s, &sink, &st, &err);
    cr_assert_eq(rc, 0, "sweep: %d %s: %s", rc, mg_strerror(rc), err.message);

    pid_t self = getpid();
    for (size_t j = 0; j < c.n; j++)
        cr_assert_neq(c.hits[j].pid, self, "the sweep reported a match in the scanner itself");

    /* The three that stay: exactly their own plants (their hits, selected
     * by pid, compared as a set). */
    hit *sel = calloc(c.n + 1, sizeof *sel);
    cr_assert(sel);
    for (int i = 0; i < N_FIX - 1; i++) {
        want w[256];
        size_t nw = want_plants(w, 0, 256, &fx[i], fx[i].pid, "plain", names + first[i],
                                first[i + 1] - first[i]);
        for (size_t k = 0; k < nw; k++)
            w[k].pattern_id += (unsigned)first[i];
        collector mine = {.hits = sel};
        for (size_t j = 0; j < c.n; j++)
            if (c.hits[j].pid == fx[i].pid)
                sel[mine.n++] = c.hits[j];
        char what[64];
        snprintf(what, sizeof what, "fixture %d (pid %d)", i, fx[i].pid);
        assert_exact_hits(&mine, w, nw, what);
    }
    free(sel);

    /* Every match is in some fixture, of that fixture's patterns; the
     * quitter's matches (if any) are among its plants, none twice. */
    fixture *q = &fx[N_FIX - 1];
    size_t q_hits = 0;
    for (size_t j = 0; j < c.n; j++) {
        const hit *h = &c.hits[j];
        int owner = -1;
        for (int i = 0; i < N_FIX; i++)
            if (h->pid == fx[i].pid)
                owner = i;
        cr_assert_geq(owner, 0,
                      "match in pid %d, which is no fixture (pattern %u at 0x%" PRIx64 ")", h->pid,
                      h->pattern_id, h->addr);
        cr_assert(h->pattern_id >= first[owner] && h->pattern_id < first[owner + 1],
                  "pid %d matched another fixture's pattern %u", h->pid, h->pattern_id);
        if (owner == N_FIX - 1) {
            q_hits++;
            const plant *pl = fixture_plant_at(q, h->addr);
            cr_assert(pl && !strcmp(pl->name, names[h->pattern_id]) && !strcmp(pl->kind, "plain"),
                      "quitter: match at 0x%" PRIx64 " is no plant of pattern %u", h->addr,
                      h->pattern_id);
            for (size_t k = 0; k < j; k++)
                cr_assert(!(c.hits[k].pid == h->pid && c.hits[k].addr == h->addr &&
                            c.hits[k].pattern_id == h->pattern_id),
                          "quitter: reported twice");
        }
    }
    cr_assert_geq(st.processes_scanned, (uint64_t)(N_FIX - 1));
    cr_assert_eq(st.matches, c.n);
    /* The quitter was listed alive (poked after the sweep began): it was
     * either scanned whole before it went, or its going is an event; a
     * silently partial result would hide the failure. */
    size_t q_events = 0;
    for (size_t i = 0; i < c.n_event_pids; i++)
        q_events += c.event_pids[i] == q->pid;
    size_t q_plants = 0;
    for (size_t i = 0; i < q->n_plants; i++)
        q_plants += !strcmp(q->plants[i].kind, "plain");
    cr_log_info("sweep: quitter pid %d (poked: %d): %zu of %zu plants found, %zu events", q->pid,
                ps.poked, q_hits, q_plants, q_events);
    cr_assert(ps.poked, "the sweep made no callback at all");
    cr_assert(q_hits == q_plants || q_events > 0,
              "quitter pid %d: %zu of %zu plants found and no event says why", q->pid, q_hits,
              q_plants);
    cr_log_info("sweep: %" PRIu64 " processes scanned, %" PRIu64 " failed, events gone %" PRIu64
                " permission %" PRIu64 " changed %" PRIu64 " other %" PRIu64 "; %.1f s",
                st.processes_scanned, st.processes_failed, st.events[MG_EVENT_GONE],
                st.events[MG_EVENT_PERMISSION], st.events[MG_EVENT_CHANGED],
                st.events[MG_EVENT_OTHER], st.elapsed_seconds);
    collector_free(&c);
    mg_patterns_free(&p);
}
