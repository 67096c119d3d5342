/* test_sweep.c - mg_scan over every process: each fixture's plants are
 * found in that fixture and nowhere else, never in the scanner itself, and
 * a fixture exiting during its own scan is one counted event, not the end
 * of the sweep. Needs root. */
#include <criterion/criterion.h>
#include <errno.h>
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

/* The collecting sink, plus: at the quitter's first match (found in an
 * early unit of its scan), tell the quitter to exit (a byte on its stdin:
 * fixture --exit-after 0) and wait until it has exited before returning.
 * So the quitter dies DURING its own scan, at a known point: with one
 * worker, every later unit of it must find it gone. */
typedef struct quitting_sink {
    mg_sink inner;
    const fixture *q;
    bool triggered;
    uint64_t trigger_addr;
    mg_region_kind trigger_kind;
    size_t hits_at_trigger; /* collector hits before the trigger */
    const fixture *all; /* the N_FIX fixtures */
    uint64_t foreign; /* matches in other scanners' read buffers, not collected */
    /* The quitter's events, counted here: the collector keeps the pids of
     * its first 64 events only, and a sweep of every process on a busy
     * machine has more (processes that exit while it runs). */
    size_t q_events, q_not_gone;
    mg_event_kind q_kind; /* of the last one not GONE */
    pid_t zombie; /* a child of ours, exited, not reaped: no event, a zombie */
    size_t z_events, z_gone;
} quitting_sink;

/* Another program sweeping processes at the same time (another
 * developer's test run or memgrep, any scanner, on a shared machine) holds
 * copies of our fixtures' pages in its buffers: a sweep rightly finds our
 * markers there. A match in a process that is neither a fixture nor this
 * process nor a descendant of it is such a copy: logged, not collected.
 * CI runs nothing else, so there this never happens. */
static bool other_program(const quitting_sink *qs, const mg_process *pr)
{
    for (int i = 0; i < N_FIX; i++)
        if (pr->pid == qs->all[i].pid)
            return false;
    return !proc_is_ours(pr->pid);
}

static int quit_match(void *ctx, const mg_match *m)
{
    quitting_sink *qs = ctx;
    if (other_program(qs, m->process)) {
        qs->foreign++;
        log_foreign_match(m->process->pid, m->address, "sweep");
        return MG_SINK_CONTINUE;
    }
    int v = qs->inner.match(qs->inner.ctx, m);
    if (!qs->triggered && m->process->pid == qs->q->pid) {
        qs->triggered = true;
        qs->trigger_addr = m->address;
        qs->trigger_kind = m->region->kind;
        qs->hits_at_trigger = ((collector *)qs->inner.ctx)->n - 1;
        if (write(qs->q->stdin_fd, "x", 1) != 1)
            abort();
        /* Until it has exited (not reaped: fixture_stop does that). */
        siginfo_t si;
        while (waitid(P_PID, (id_t)qs->q->pid, &si, WEXITED | WNOWAIT) != 0)
            if (errno != EINTR)
                abort();
    }
    return v;
}

static void quit_event(void *ctx, const mg_event *e)
{
    quitting_sink *qs = ctx;
    if (e->process && e->process->pid == qs->zombie) {
        qs->z_events++;
        qs->z_gone += e->kind == MG_EVENT_GONE;
    }
    if (e->process && e->process->pid == qs->q->pid) {
        qs->q_events++;
        if (e->kind != MG_EVENT_GONE) {
            qs->q_not_gone++;
            qs->q_kind = e->kind;
        }
    }
    qs->inner.event(qs->inner.ctx, e);
}

static void all_processes(void)
{
    need_root();
    /* The last one exits during its own scan (see quit_match); its 64 MiB
     * of touched memory are many units after the first match. */
    for (int i = 0; i < N_FIX - 1; i++)
        fixture_start(&fx[i], NULL);
    const char *quitter[] = {"--touch", "64", "--exit-after", "0", NULL};
    fixture_start(&fx[N_FIX - 1], quitter);
    fixture *q = &fx[N_FIX - 1];
    pid_t zombie = zombie_child();

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
    /* One worker, small units: units run in order, and the quitter has
     * units left after the one that reports its first match. */
    s.threads = 1;
    s.chunk_size = 16384;
    collector c = {0};
    quitting_sink qs = {.inner = collector_sink(&c), .q = q, .all = fx, .zombie = zombie};
    mg_sink sink = {.ctx = &qs, .match = quit_match, .event = quit_event};
    mg_stats st;
    memset(&st, 0, sizeof st);
    mg_error err = {{0}};
    int rc = mg_scan(p, &s, &sink, &st, &err);
    waitpid(zombie, NULL, 0);
    cr_assert_eq(rc, 0, "sweep: %d %s: %s", rc, mg_strerror(rc), err.message);
    /* The zombie: counted apart, no event, no failure, not scanned empty. */
    cr_assert_eq(qs.z_events, 0u, "zombie pid %d: %zu events, want none", zombie, qs.z_events);
    cr_assert_geq(st.processes_zombie, 1u, "the zombie %d was not counted", zombie);

    pid_t self = getpid();
    for (size_t j = 0; j < c.n; j++)
        cr_assert_neq(c.hits[j].pid, self, "the sweep reported a match in the scanner itself");

    /* Every match is in some fixture, of that fixture's patterns. */
    for (size_t j = 0; j < c.n; j++) {
        const hit *h = &c.hits[j];
        int owner = -1;
        for (int i = 0; i < N_FIX; i++)
            if (h->pid == fx[i].pid)
                owner = i;
        if (owner < 0) {
            char comm[64];
            proc_comm(h->pid, comm, sizeof comm);
            cr_assert_fail("match in pid %d (%s), which is no fixture (pattern %u at 0x%" PRIx64
                           ", region kind %d 0x%" PRIx64 "-0x%" PRIx64
                           "); quitter pid %d, first match 0x%" PRIx64 " (hit %zu of %zu, %zu)",
                           h->pid, comm, h->pattern_id, h->addr, h->region_kind, h->region_start,
                           h->region_end, q->pid, qs.trigger_addr, j, c.n, qs.hits_at_trigger);
        }
        cr_assert(h->pattern_id >= first[owner] && h->pattern_id < first[owner + 1],
                  "pid %d matched another fixture's pattern %u", h->pid, h->pattern_id);
    }

    /* Per fixture, exactly the expected set (its hits, selected by pid):
     * the three that stay, all their plants; the quitter, the plants of
     * the unit that reported its first match (read before it exited),
     * nothing before and nothing after. */
    cr_assert(qs.triggered, "no match in the quitter (pid %d) at all", q->pid);
    cr_assert(qs.trigger_kind == MG_REGION_ANON || qs.trigger_kind == MG_REGION_HEAP ||
                  qs.trigger_kind == MG_REGION_STACK,
              "the quitter's first match is in a region of kind %d: units are not "
              "address-aligned there",
              qs.trigger_kind);
    uint64_t unit_start = qs.trigger_addr & ~(uint64_t)(s.chunk_size - 1);
    hit *sel = calloc(c.n + 1, sizeof *sel);
    cr_assert(sel);
    for (int i = 0; i < N_FIX; i++) {
        want w[256];
        size_t nw = want_plants(w, 0, 256, &fx[i], fx[i].pid, "plain", names + first[i],
                                first[i + 1] - first[i]);
        size_t keep = 0;
        for (size_t k = 0; k < nw; k++) {
            w[k].pattern_id += (unsigned)first[i];
            if (&fx[i] != q || (w[k].addr >= unit_start && w[k].addr < unit_start + s.chunk_size))
                w[keep++] = w[k];
        }
        collector mine = {.hits = sel};
        for (size_t j = 0; j < c.n; j++)
            if (c.hits[j].pid == fx[i].pid)
                sel[mine.n++] = c.hits[j];
        char what[96];
        snprintf(what, sizeof what, "%s %d (pid %d)", &fx[i] == q ? "quitter" : "fixture", i,
                 fx[i].pid);
        assert_exact_hits(&mine, w, keep, what);
    }
    free(sel);
    for (size_t j = 0; j < qs.hits_at_trigger; j++)
        cr_assert_neq(c.hits[j].pid, q->pid, "a quitter match came before its first");

    /* Its going is a counted event, and only that. */
    cr_assert_eq(qs.q_not_gone, 0u, "quitter: %zu event(s) not GONE, the last of kind %d",
                 qs.q_not_gone, qs.q_kind);
    cr_assert_eq(qs.q_events, 1u, "quitter pid %d: %zu events, want one GONE", q->pid, qs.q_events);
    cr_assert_geq(st.events[MG_EVENT_GONE], 1u);
    cr_assert_geq(st.processes_scanned, (uint64_t)N_FIX);
    cr_assert_eq(st.matches, c.n + qs.foreign);
    cr_log_info("sweep: %" PRIu64 " processes scanned, %" PRIu64 " failed, events gone %" PRIu64
                " permission %" PRIu64 " changed %" PRIu64 " other %" PRIu64 "; %.1f s",
                st.processes_scanned, st.processes_failed, st.events[MG_EVENT_GONE],
                st.events[MG_EVENT_PERMISSION], st.events[MG_EVENT_CHANGED],
                st.events[MG_EVENT_OTHER], st.elapsed_seconds);
    collector_free(&c);
    mg_patterns_free(&p);
}
RESIDENCY_TESTS(sweep, all_processes, all_processes)
