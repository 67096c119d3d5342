/* test_safety.c - a scan must not change the target's memory footprint:
 * no unsharing of pages shared after fork, no faulting-in of untouched
 * anonymous or shmem pages. Needs root. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static fixture fx, twin; /* twin: a --fork fixture that is never scanned */

static void stop(void)
{
    fixture_stop(&fx);
    fixture_stop(&twin);
}

TestSuite(safety, .fini = stop, .timeout = 110);

static mg_stats scan_names(const pid_t *pids, size_t n_pids, const char *kinds, bool dedupe,
                           collector *c, char names[][32], size_t *n_names)
{
    mg_patterns *p = patterns_new();
    *n_names = add_plant_literals(p, &fx, kinds, 0, names, 32);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, pids, n_pids);
    s.dedupe = dedupe;
    s.context = 32;
    s.threads = 2;
    mg_sink sink = collector_sink(c);
    mg_stats st;
    memset(&st, 0, sizeof st);
    mg_error err = {{0}};
    int rc = mg_scan(p, &s, &sink, &st, &err);
    cr_assert_eq(rc, 0, "mg_scan: %d %s: %s", rc, mg_strerror(rc), err.message);
    mg_patterns_free(&p);
    return st;
}

/* 256 MiB written by the parent, then shared with a forked child: each has
 * about 128 MiB of Pss in it. Reading it with process_vm_readv would give
 * one side a private copy (Pss 256 MiB); /proc/PID/mem leaves it shared.
 * With de-duplication on, the shared pages are scanned once and the
 * matches replayed for the other process; off, scanned in each. */
/* Bytes the engine must read through /proc/PID/mem (shared anon pages)
 * and with process_vm_readv, over every region it scans in pid; and the
 * exclusive anonymous bytes among the latter (never de-duplicated). */
typedef struct page_bytes {
    uint64_t mem, pvr, excl_anon;
} page_bytes;

static void add_page_bytes(void *ctx, const mg_region *r, const uint64_t *e, size_t np)
{
    page_bytes *b = ctx;
    bool anon =
        r->kind == MG_REGION_ANON || r->kind == MG_REGION_HEAP || r->kind == MG_REGION_STACK;
    for (size_t k = 0; k < np; k++) {
        if (!(e[k] >> 63))
            continue;
        bool file = e[k] >> 61 & 1, excl = e[k] >> 56 & 1;
        if (file || excl)
            b->pvr += 4096;
        else
            b->mem += 4096;
        b->excl_anon += anon && excl && !file ? 4096 : 0;
    }
}

static page_bytes scanned_page_bytes(pid_t pid)
{
    page_bytes b = {0};
    each_scanned_region(pid, add_page_bytes, &b);
    return b;
}

/* Bytes of f's fork region still shared between parent and child. */
static uint64_t fork_shared(const fixture *f)
{
    uint64_t flen, shared = 0, own = 0;
    uint64_t region = fixture_info(f, "fork-region", &flen);
    cr_assert_neq(region, 0u);
    cr_assert_eq(classify_pages(f->pid, region, region + flen, &shared, &own), 0);
    return shared;
}

/* On a shared machine another program may read our fixtures with
 * process_vm_readv (an older or mutated memgrep, any scanner sweeping every
 * process) and so unshare their pages: nothing our scan did. That shows as
 * pages unshared before the scan, or in the twin, a --fork fixture started
 * alike and never scanned, during it. Such an attempt is not judged; the
 * case runs again (three attempts) with fresh fixtures. Returns NULL when
 * judged (the assertions ran), else why not. */
static const char *fork_attempt(bool dedupe);

static void fork_case(bool dedupe)
{
    need_root();
    for (int attempt = 1;; attempt++) {
        const char *why = fork_attempt(dedupe);
        if (!why)
            return;
        cr_log_warn("attempt %d not judged: %s", attempt, why);
        cr_assert_lt(attempt, 3, "%d attempts disturbed by another program: %s", attempt, why);
        fixture_stop(&fx);
        fixture_stop(&twin);
    }
}

static const char *fork_attempt(bool dedupe)
{
    const char *args[] = {"--fork", NULL};
    fixture_start(&fx, args);
    cr_assert_gt(fx.child, 0, "fixture --fork printed no CHILD");
    fixture_start(&twin, args);
    cr_assert_gt(twin.child, 0, "fixture --fork printed no CHILD");
    pid_t pids[2] = {fx.pid, fx.child};
    uint64_t flen, fshared = 0, fown = 0;
    uint64_t fregion = fixture_info(&fx, "fork-region", &flen);
    cr_assert_neq(fregion, 0u);
    cr_assert_eq(classify_pages(fx.pid, fregion, fregion + flen, &fshared, &fown), 0);
    /* The child wrote two pages of it (a copy each): the rest is shared. */
    uint64_t twin_shared = fork_shared(&twin);
    if (fshared != flen - 2 * 4096 || twin_shared != flen - 2 * 4096)
        return "pages of a fork region unshared before the scan";

    long pss0[2], rss0[2];
    page_bytes pb[2];
    for (int i = 0; i < 2; i++) {
        pss0[i] = proc_kb(pids[i], "smaps_rollup", "Pss");
        rss0[i] = proc_kb(pids[i], "smaps_rollup", "Rss");
        cr_assert_gt(pss0[i], 0, "no Pss for pid %d", pids[i]);
        pb[i] = scanned_page_bytes(pids[i]);
    }
    /* Sanity: the region is shared, so neither side owns all of it yet. */
    cr_assert_lt(pss0[0], rss0[0] - 100 * 1024, "parent Pss %ld Rss %ld: not shared?", pss0[0],
                 rss0[0]);

    collector c = {0};
    char names[32][32];
    size_t n;
    mg_stats st = scan_names(pids, 2, "plain,parent,child", dedupe, &c, names, &n);
    if (fork_shared(&twin) != twin_shared) {
        collector_free(&c);
        return "pages of the twin's fork region (never scanned) unshared during the scan";
    }

    for (int i = 0; i < 2; i++) {
        long pss1 = proc_kb(pids[i], "smaps_rollup", "Pss");
        long rss1 = proc_kb(pids[i], "smaps_rollup", "Rss");
        cr_expect_leq(pss1, pss0[i] + 1024,
                      "%s Pss grew from %ld to %ld kB: the scan unshared pages",
                      i ? "child" : "parent", pss0[i], pss1);
        cr_expect_leq(rss1, rss0[i] + 1024, "%s Rss grew from %ld to %ld kB",
                      i ? "child" : "parent", rss0[i], rss1);
    }

    /* The parent: every plain plant and the parent-only one. The child is
     * a copy made after planting, but fork copies no page tables for
     * MAP_SHARED mappings: there, plants whose pages are not present in the
     * child are not read (that would fault them in). Everything present is
     * reported, in each process, plus the child-only plant. */
    want w[256];
    size_t nw = want_plants(w, 0, 256, &fx, fx.pid, "plain,parent", names, n);
    want wc[256];
    size_t nc = want_plants(wc, 0, 256, &fx, fx.child, "plain", names, n);
    size_t n_fork = 0;
    for (size_t i = 0; i < nc; i++) {
        uint64_t rs, re;
        cr_assert_eq(present_run(fx.child, wc[i].addr, wc[i].addr & ~4095ull,
                                 (wc[i].addr + wc[i].len + 4095) & ~4095ull, &rs, &re),
                     0);
        if (rs <= wc[i].addr && re >= wc[i].addr + wc[i].len) {
            w[nw++] = wc[i];
            n_fork += !strcmp(names[wc[i].pattern_id], "fork");
        } else {
            cr_log_info("child: plant %s at 0x%" PRIx64 " not present", names[wc[i].pattern_id],
                        wc[i].addr);
        }
    }
    cr_assert_eq(n_fork, 3u, "the shared 256 MiB region is not present in the child?");
    nw = want_plants(w, nw, 256, &fx, fx.child, "child", names, n);
    assert_exact_hits(&c, w, nw, dedupe ? "parent and child, dedupe" : "parent and child");
    cr_assert_eq(st.processes_scanned, 2u);
    /* Context, replayed or not, is each process's own bytes. */
    for (size_t i = 0; i < c.n; i++) {
        const hit *h = &c.hits[i];
        uint8_t mem[32 + 64 + 32];
        size_t total = h->before + h->len + h->after;
        cr_assert_leq(total, sizeof mem);
        cr_assert_eq(read_mem(h->pid, h->addr - h->before, mem, total), (ssize_t)total);
        cr_assert_eq(memcmp(mem, h->data, total), 0, "pid %d 0x%" PRIx64 ": context differs",
                     h->pid, h->addr);
    }
    /* Which reader read what: shared pages only through /proc/PID/mem
     * (process_vm_readv would pin, and so unshare, them), the rest with
     * process_vm_readv. Every present byte is read at least once (reads
     * also take overlap around units: lower bounds). With de-duplication a
     * shared unit is read in one process and replayed in the other. */
    uint64_t s_mem = pb[0].mem + pb[1].mem, s_pvr = pb[0].pvr + pb[1].pvr;
    cr_log_info("%s: read mem %" PRIu64 " pvr %" PRIu64 " deduped %" PRIu64 "; pages mem %" PRIu64
                " pvr %" PRIu64 " exclusive anon %" PRIu64,
                dedupe ? "dedupe" : "no dedupe", st.bytes_read_mem, st.bytes_read_pvr,
                st.bytes_deduped, s_mem, s_pvr, pb[0].excl_anon + pb[1].excl_anon);
    if (!dedupe) {
        cr_assert_geq(st.bytes_read_mem, s_mem,
                      "%" PRIu64 " bytes read from /proc/PID/mem, %" PRIu64 " in shared pages",
                      st.bytes_read_mem, s_mem);
        cr_assert_geq(st.bytes_read_pvr, s_pvr,
                      "%" PRIu64 " bytes read with process_vm_readv, %" PRIu64
                      " in pages not shared",
                      st.bytes_read_pvr, s_pvr);
    } else {
        cr_assert_geq(st.bytes_read_mem, fshared,
                      "%" PRIu64 " bytes read from /proc/PID/mem, %" PRIu64
                      " shared in the fork region alone",
                      st.bytes_read_mem, fshared);
        cr_assert_geq(st.bytes_read_mem + st.bytes_deduped, s_mem,
                      "%" PRIu64 " bytes read from /proc/PID/mem + %" PRIu64
                      " deduplicated < %" PRIu64 " in shared pages",
                      st.bytes_read_mem, st.bytes_deduped, s_mem);
        cr_assert_geq(st.bytes_read_pvr, pb[0].excl_anon + pb[1].excl_anon,
                      "%" PRIu64 " bytes read with process_vm_readv, %" PRIu64
                      " in exclusive anon pages",
                      st.bytes_read_pvr, pb[0].excl_anon + pb[1].excl_anon);
    }
    if (dedupe)
        cr_assert_geq(st.bytes_deduped, 128u << 20,
                      "dedupe on: only %" PRIu64 " bytes of the 256 MiB shared region deduped",
                      st.bytes_deduped);
    else
        cr_assert_eq(st.bytes_deduped, 0u);
    collector_free(&c);
    return NULL;
}

static void shared_after_fork_stays_shared(void)
{
    fork_case(true);
}
RESIDENCY_TESTS(safety, shared_after_fork_stays_shared, shared_after_fork_stays_shared)

static void shared_after_fork_stays_shared_no_dedupe(void)
{
    fork_case(false);
}
RESIDENCY_TESTS(safety, shared_after_fork_stays_shared_no_dedupe,
                shared_after_fork_stays_shared_no_dedupe)

/* --max-rate paces every read, /proc/PID/mem's too: over the child's
 * shared 256 MiB (read through /proc/PID/mem only) at 8 MiB/s with a 1 s
 * timeout, the bytes read stay within the rate (plus the limiter's 50 ms
 * burst). With --include-noread as well: its PROT_NONE pages are read
 * through /proc/PID/mem too. */
static void shared_after_fork_rate_paced(void)
{
    need_root();
    const char *args[] = {"--fork", NULL};
    fixture_start(&fx, args);
    cr_assert_gt(fx.child, 0, "fixture --fork printed no CHILD");
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, "mg-safety-rate-nothing", 22, 0);
    compile_patterns(p);
    for (int noread = 0; noread < 2; noread++) {
        mg_settings s;
        settings_for(&s, &fx.child, 1);
        s.dedupe = false;
        s.threads = 2;
        s.include_noread = noread;
        s.max_rate = 8u << 20;
        s.timeout = 1.0;
        collector c = {0};
        mg_sink sink = collector_sink(&c);
        mg_stats st;
        mg_error err = {{0}};
        cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), 0, "mg_scan: %s", err.message);
        uint64_t bytes = st.bytes_read_pvr + st.bytes_read_mem;
        cr_log_info("noread %d: read mem %" PRIu64 " pvr %" PRIu64 " in %.3f s", noread,
                    st.bytes_read_mem, st.bytes_read_pvr, st.elapsed_seconds);
        cr_assert_eq(st.stop_reason, MG_STOP_TIMEOUT,
                     "the child's 256 MiB read in %.3f s at 8 MiB/s", st.elapsed_seconds);
        cr_assert_gt(st.bytes_read_mem, 0u, "nothing read through /proc/PID/mem");
        cr_assert_leq((double)bytes, (double)s.max_rate * (st.elapsed_seconds + 0.05) * 1.01,
                      "%" PRIu64 " bytes (%" PRIu64 " through /proc/PID/mem) in %.3f s at %" PRIu64
                      " B/s",
                      bytes, st.bytes_read_mem, st.elapsed_seconds, s.max_rate);
        cr_assert_eq(c.n, 0u);
        collector_free(&c);
    }
    mg_patterns_free(&p);
}
RESIDENCY_TESTS(safety, shared_after_fork_rate_paced, shared_after_fork_rate_paced)

/* 64 GiB of untouched PROT_READ reservation and an untouched 64 MiB memfd
 * mapping: the scan must not fault them in (zero-page page tables, shmem
 * allocation). */
static void untouched_reservations_stay_untouched(void)
{
    need_root();
    const char *args[] = {"--reserve", NULL};
    fixture_start(&fx, args);
    uint64_t rlen = 0, mlen = 0;
    cr_assert_neq(fixture_info(&fx, "reserve", &rlen), 0u);
    cr_assert_neq(fixture_info(&fx, "memfd-untouched", &mlen), 0u);
    const char *keys[] = {"VmRSS", "RssShmem", "VmPTE"};
    long before[3];
    for (int i = 0; i < 3; i++) {
        before[i] = proc_kb(fx.pid, "status", keys[i]);
        cr_assert_geq(before[i], 0, "no %s in status", keys[i]);
    }

    collector c = {0};
    char names[32][32];
    size_t n;
    mg_stats st = scan_names(&fx.pid, 1, "plain", true, &c, names, &n);

    for (int i = 0; i < 3; i++) {
        long after = proc_kb(fx.pid, "status", keys[i]);
        cr_expect_leq(after, before[i] + 256, "%s grew from %ld to %ld kB", keys[i], before[i],
                      after);
    }
    cr_assert_geq(st.bytes_not_present, rlen + mlen,
                  "bytes_not_present %" PRIu64 " < the %" PRIu64 " untouched bytes",
                  st.bytes_not_present, rlen + mlen);
    want w[256];
    size_t nw = want_plants(w, 0, 256, &fx, fx.pid, "plain", names, n);
    assert_exact_hits(&c, w, nw, "with reservations");
    collector_free(&c);
}
RESIDENCY_TESTS(safety, untouched_reservations_stay_untouched,
                untouched_reservations_stay_untouched)
