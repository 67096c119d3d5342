/* planner.c - from targets to work units, on the calling thread and on
 * any worker that finds the queue empty (pool.c), one target each.
 *
 * targets (/proc, or the pids given) -> open each target (target.c: stat,
 * comm, exe, one maps snapshot, pagemap and mem; the pid-reuse check) -> its regions
 * (special, device and unreadable ones skipped) -> runs of present pages
 * (mg_present_ranges) -> units of chunk_size owned bytes, pushed into the
 * pool's queue; with mg_sink.findings, the runs of private copies in
 * private code mappings kept for its findings. A target's memory is never
 * read here: only /proc files. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os/procs.h"
#include "os/residency.h"
#include "sweep/sweep.h"

/* Unit boundaries fall on multiples of chunk_size in the mapped object:
 * the file offset for file and shared memory, the address for anonymous
 * memory. So processes mapping the same file at different addresses, or
 * with different pages resident, still cut it into the same units, and
 * shared-page dedupe can recognise them. */
static uint64_t unit_phase(const mg_region *r, uint64_t chunk)
{
    if (r->kind == MG_REGION_FILE || r->kind == MG_REGION_SHM)
        return (r->offset % chunk + chunk - r->start % chunk) % chunk;
    return 0;
}

typedef struct plan_region {
    mg_planner *pl;
    mg_sweep *c;
    mg_target *p;
    const mg_region *r;
    bool mem_only;
    bool file; /* the current run is page cache */
    uint64_t run_lo, run_hi; /* the current run */
    uint64_t present;
    uint64_t prev_end; /* end of the previous run, or the region's start */
} plan_region;

static int push_unit(void *arg, uint64_t own_start, uint64_t own_end)
{
    plan_region *pr = arg;
    if (mg_sweep_should_stop(pr->c, pr->p))
        return 1;
    mg_unit u = {
        .p = pr->p,
        .region = pr->r,
        .own_start = own_start,
        .own_end = own_end,
        .lo = pr->r->start,
        .hi = pr->r->end,
        .file_lo = pr->file ? pr->run_lo : 0,
        .file_hi = pr->file ? pr->run_hi : 0,
        .mem_only = pr->mem_only,
    };
    return mg_pool_push(pr->pl, &u) ? 0 : 1;
}

/* One run of present pages. Pages of the zero page are left out of the runs
 * when no pattern can match only zero bytes (c->skip_zero): a match that
 * starts in such pages must then end in the data after them, so it starts
 * at most `width` bytes before that data, and the run's first unit owns
 * those bytes too (up to the previous run: nothing is owned twice). Units
 * may read overlap from anywhere in the region: absent pages are never
 * read (the worker checks pagemap), so overlap can't fault anything in. */
static int plan_range(void *arg, uint64_t lo, uint64_t hi, bool file)
{
    plan_region *pr = arg;
    mg_sweep *c = pr->c;
    pr->present += hi - lo;
    /* copies of code for its findings: what patched_code compares */
    if (!file && c->sink && c->sink->findings && mg_private_code(pr->r) &&
        mg_copies_add(&pr->p->copies, lo, hi) < 0)
        pr->p->copies_whole = false;
    if (c->skip_zero)
        lo -= MG_MIN(c->width, lo - pr->prev_end);
    pr->prev_end = hi;
    pr->file = file;
    pr->run_lo = lo;
    pr->run_hi = hi;
    uint64_t chunk = c->set.chunk_size;
    return mg_cut_units(lo, hi, chunk, unit_phase(pr->r, chunk), push_unit, pr);
}

/* ---- batches of small regions ------------------------------------------- */

/* A region the planner skips that may lie inside a group of small regions:
 * a small unreadable one (a guard page), walked over but never read. */
static bool small_skipped(const mg_sweep *c, const mg_region *r)
{
    return r->perms[0] != 'r' && !c->set.include_noread && r->kind != MG_REGION_SPECIAL &&
           r->kind != MG_REGION_DEVICE && r->end - r->start <= c->set.chunk_size;
}

/* Consecutive regions [k, end) of one target walked for present pages at
 * once, and the batch unit being filled. */
typedef struct plan_group {
    mg_planner *pl;
    mg_sweep *c;
    mg_target *p;
    size_t k, end; /* the region the walk is in, one past the group's last */
    uint64_t present; /* present bytes of region k so far */
    mg_unit batch;
    bool open; /* batch holds a region */
} plan_group;

static int batch_flush(plan_group *g)
{
    if (!g->open)
        return 0;
    g->open = false;
    if (mg_sweep_should_stop(g->c, g->p))
        return 1;
    return mg_pool_push(g->pl, &g->batch) ? 0 : 1;
}

static int batch_add(plan_group *g, size_t i)
{
    const mg_region *r = &g->p->maps.regions[i];
    if (g->open && r->end - g->batch.lo > g->c->set.chunk_size) {
        int rc = batch_flush(g);
        if (rc)
            return rc;
    }
    if (!g->open) {
        g->batch = (mg_unit){
            .p = g->p,
            .region = r,
            .lo = r->start,
            .own_start = r->start,
            .batch = true,
            .batch_first = (uint32_t)i,
        };
        g->open = true;
    }
    g->batch.batch_last = (uint32_t)i;
    g->batch.hi = g->batch.own_end = r->end;
    return 0;
}

/* The walk has passed region k: count it, and batch it if any of it is
 * present. */
static int group_next_region(plan_group *g)
{
    const mg_region *r = &g->p->maps.regions[g->k];
    uint64_t size = r->end - r->start, present = g->present;
    size_t k = g->k++;
    g->present = 0;
    if (!mg_region_batchable(g->c, r)) {
        mg_stat_add(g->c, ST_REGIONS_SKIPPED, 1);
        mg_stat_add(g->c, ST_NOREAD, size);
        return 0;
    }
    mg_stat_add(g->c, ST_REGIONS, 1);
    mg_stat_add(g->c, ST_NOT_PRESENT, size - present);
    return present ? batch_add(g, k) : 0;
}

/* A present run of the group's walk: it may cover several adjacent regions
 * and the gaps between them. */
static int group_range(void *arg, uint64_t a, uint64_t b, bool file)
{
    (void)file;
    plan_group *g = arg;
    while (a < b && g->k < g->end) {
        const mg_region *r = &g->p->maps.regions[g->k];
        if (r->end <= a) {
            int rc = group_next_region(g);
            if (rc)
                return rc;
            continue;
        }
        if (b <= r->start)
            return 0;
        uint64_t s = MG_MAX(a, r->start), e = MG_MIN(b, r->end);
        g->present += e - s;
        a = e;
    }
    return 0;
}

/* Regions i.. of p that form a group: batchable ones, with small skipped
 * ones between them, gaps of at most chunk_size. Returns one past the last
 * (at least i + 1); ends on a batchable region. */
static size_t group_end(const mg_sweep *c, const mg_target *p, size_t i)
{
    const mg_region *rs = p->maps.regions;
    size_t j = i + 1, last = i;
    while (j < p->maps.n && j - i < MG_BATCH_GROUP &&
           rs[j].start - rs[j - 1].end <= c->set.chunk_size &&
           (mg_region_batchable(c, &rs[j]) || small_skipped(c, &rs[j]))) {
        if (mg_region_batchable(c, &rs[j]))
            last = j;
        j++;
    }
    return last + 1;
}

/* How far a walk of regions up to i may go on for the regions after it:
 * over the next ones the planner walks too (readable file and shared
 * memory, and small anonymous ones it batches; not anonymous regions queued
 * unwalked, nor special or device ones), as long as their mapped bytes
 * stay within MG_SCAN_STEP. So a small process costs one PAGEMAP_SCAN call
 * or two, not one per group of regions. */
static uint64_t walk_ahead(const mg_sweep *c, const mg_target *p, size_t i)
{
    const mg_region *rs = p->maps.regions;
    uint64_t mapped = rs[i].end - rs[i].start, end = rs[i].end;
    for (size_t j = i + 1; j < p->maps.n; j++) {
        const mg_region *r = &rs[j];
        bool walked =
            ((r->kind == MG_REGION_FILE || r->kind == MG_REGION_SHM) && r->perms[0] == 'r') ||
            mg_region_batchable(c, r);
        if (!walked || mapped + (r->end - r->start) > MG_SCAN_STEP)
            break;
        mapped += r->end - r->start;
        end = r->end;
    }
    return end;
}

/* Walk regions [i, end) of p for present pages at once and queue their
 * batch units. Returns 0, non-zero to stop the target, or a negative code
 * from the walk. */
static int plan_group_of(mg_planner *pl, mg_target *p, size_t i, size_t end, mg_walk_ahead *wa)
{
    const mg_region *rs = p->maps.regions;
    plan_group g = {.pl = pl, .c = pl->c, .p = p, .k = i, .end = end};
    /* zero pages are not told apart here: a batch reads its regions whole */
    int rc = wa ? mg_present_ranges_ahead(wa, p->pagemap_fd, rs[i].start, rs[end - 1].end,
                                          walk_ahead(pl->c, p, end - 1), &pl->use_ioctl, false,
                                          group_range, &g)
                : mg_present_ranges(p->pagemap_fd, rs[i].start, rs[end - 1].end, &pl->use_ioctl,
                                    false, group_range, &g);
    while (rc == 0 && g.k < g.end)
        rc = group_next_region(&g);
    if (rc == 0)
        rc = batch_flush(&g);
    return rc;
}

/* ---- regions the workers walk ------------------------------------------ */

/* With frame numbers visible (c->pfns_visible), a worker's pagemap read of a
 * unit tells present pages, zero pages, the reader and the dedupe key at
 * once: walking an anonymous region for present runs beforehand
 * (PAGEMAP_SCAN) would walk its page table twice, and a page table shared
 * by a hundred forked processes a hundred times more. So such a region is
 * queued whole, unwalked (sweep.h: mg_unit.direct), as long as the target's
 * budget lasts: the bytes of regions planned direct stay below
 * MG_DIRECT_RSS_MULT x its resident set (stat's rss) + MG_DIRECT_SLACK chunks,
 * so pagemap entries read for pages that are not present stay a small
 * multiple of those read for present ones, and an untouched 64 GiB
 * reservation is still walked with PAGEMAP_SCAN, one call per GiB. */
static uint64_t direct_budget(const mg_sweep *c, const mg_target *p)
{
    if (!c->pfns_visible)
        return 0;
    return MG_DIRECT_RSS_MULT * p->pin.st.rss + MG_DIRECT_SLACK * c->set.chunk_size;
}

/* Queue r whole as a direct unit if it may be (and charge the budget).
 * Returns 1 if queued, 0 if not eligible, -1 to stop the target. */
static int plan_direct(mg_planner *pl, mg_target *p, const mg_region *r, uint64_t *budget)
{
    mg_sweep *c = pl->c;
    uint64_t size = r->end - r->start;
    if (!mg_region_anon_like(r) || r->perms[0] != 'r' || size > *budget)
        return 0;
    *budget -= size;
    mg_stat_add(c, ST_REGIONS, 1);
    mg_unit u = mg_region_unit(p, r);
    u.direct = true;
    if (mg_sweep_should_stop(c, p) || !mg_pool_push(pl, &u))
        return -1;
    return 1;
}

/* Without PAGEMAP_SCAN a walk reads 8 bytes of pagemap per page, present or
 * not: 128 MiB for an untouched 64 GiB reservation. So a region of at least
 * MG_SMAPS_MIN is first looked up in smaps (read once per process, into
 * *sm), and not walked if nothing of it is resident. Only when zero pages
 * needn't be scanned (c->skip_zero): smaps' Rss leaves them out. A mapping
 * smaps doesn't show as it is in the maps snapshot is walked. */
static bool unresident(const mg_sweep *c, mg_target *p, const mg_region *r, bool use_ioctl,
                       mg_smaps *sm, int *sm_rc)
{
    uint64_t resident;
    if (use_ioctl || !c->skip_zero || r->end - r->start < MG_SMAPS_MIN)
        return false;
    if (*sm_rc > 0) /* not read yet */
        *sm_rc = mg_smaps_read(p->info.pid, sm);
    return *sm_rc == 0 && mg_smaps_resident(sm, r->start, r->end, &resident) == 0 && resident == 0;
}

static void plan_process(mg_planner *pl, pid_t pid)
{
    mg_sweep *c = pl->c;
    bool *use_ioctl = &pl->use_ioctl;
    mg_target *p = mg_target_open(c, pid); /* NULL: skipped or failed, counted done */
    if (!p)
        return;
    mg_stat_add(c, ST_PROCS, 1);
    p->planned = true;
    uint64_t budget = direct_budget(c, p);
    mg_smaps sm = {0};
    int sm_rc = 1;
    mg_walk_ahead *wa = calloc(1, sizeof(*wa)); /* NULL: each region walked alone */
    p->copies_whole = true; /* until a region is left unwalked */
    size_t i = 0;
    for (; i < p->maps.n && !mg_sweep_should_stop(c, p); i++) {
        const mg_region *r = &p->maps.regions[i];
        uint64_t size = r->end - r->start;
        bool mem_only = false;
        if (mg_region_batchable(c, r)) {
            size_t end = group_end(c, p, i);
            int rc = plan_group_of(pl, p, i, end, wa);
            if (rc < 0)
                mg_target_failed(c, p, rc, "read /proc/PID/pagemap");
            if (rc)
                break;
            i = end - 1;
            continue;
        }
        if (r->kind == MG_REGION_SPECIAL || r->kind == MG_REGION_DEVICE) {
            mg_stat_add(c, ST_REGIONS_SKIPPED, 1);
            mg_stat_add(c, ST_SPECIAL, size);
            continue;
        }
        if (r->perms[0] != 'r') {
            /* only anonymous memory is read without r, and only on request */
            if (!c->set.include_noread || !mg_region_anon_like(r)) {
                mg_stat_add(c, ST_REGIONS_SKIPPED, 1);
                mg_stat_add(c, ST_NOREAD, size);
                continue;
            }
            mem_only = true;
        }
        int d = mem_only ? 0 : plan_direct(pl, p, r, &budget);
        if (d < 0)
            break;
        if (d)
            continue;
        mg_stat_add(c, ST_REGIONS, 1);
        if (unresident(c, p, r, *use_ioctl, &sm, &sm_rc)) {
            mg_stat_add(c, ST_NOT_PRESENT, size);
            continue;
        }
        plan_region pr = {
            .pl = pl, .c = c, .p = p, .r = r, .mem_only = mem_only, .prev_end = r->start};
        int rc =
            wa ? mg_present_ranges_ahead(wa, p->pagemap_fd, r->start, r->end, walk_ahead(c, p, i),
                                         use_ioctl, c->skip_zero, plan_range, &pr)
               : mg_present_ranges(p->pagemap_fd, r->start, r->end, use_ioctl, c->skip_zero,
                                   plan_range, &pr);
        if (rc < 0) {
            mg_target_failed(c, p, rc, "read /proc/PID/pagemap");
            break;
        }
        mg_stat_add(c, ST_NOT_PRESENT, size - pr.present);
    }
    if (i < p->maps.n)
        p->copies_whole = false;
    mg_smaps_free(&sm);
    free(wa);
    /* Exited while it was walked: the regions walked after its memory went
     * may have shown no present pages rather than an error (PAGEMAP_SCAN
     * on an mm torn down), so it is reported gone here, once. */
    if (!mg_sweep_should_stop(c, p) && mg_pidfd_exited(p->pin.pidfd))
        mg_target_failed(c, p, -ESRCH, "exited while it was scanned");
    mg_pool_flush(pl); /* its units held back take their references (or are run) */
    mg_target_unref(p);
}

/* The targets: every process, or the pids given with a thread id standing
 * for its process, once. *out is malloc'd. */
static int list_targets(const mg_settings *s, pid_t **out, size_t *n)
{
    *n = 0;
    if (!s->n_pids)
        return mg_list_pids(out, n);
    pid_t *all = malloc(s->n_pids * sizeof(*all));
    if (!all)
        return -ENOMEM;
    for (size_t i = 0; i < s->n_pids; i++) {
        pid_t tgid = mg_read_tgid(s->pids[i]);
        bool seen = false;
        for (size_t j = 0; j < *n && !seen; j++)
            seen = all[j] == tgid;
        if (!seen)
            all[(*n)++] = tgid;
    }
    *out = all;
    return 0;
}

void mg_plan_target(mg_sweep *c, mg_worker *w, pid_t pid)
{
    if (mg_sweep_should_stop(c, NULL)) { /* the sweep stopped before it */
        if (pid != c->self_pid)
            mg_target_report_unreached(c, pid);
        return;
    }
    if (pid == c->self_pid) {
        mg_stat_add(c, ST_PROCS_DONE, 1);
        return;
    }
    /* a pend of MG_PLAN_PEND units: on the worker's stack for its target */
    mg_planner pl = {.c = c, .w = w, .use_ioctl = !atomic_load(&c->plan_no_ioctl)};
    plan_process(&pl, pid);
    if (!pl.use_ioctl)
        atomic_store(&c->plan_no_ioctl, true);
}

int mg_plan_targets(mg_sweep *c, mg_error *err)
{
    pid_t *pids = NULL, pid;
    size_t n = 0;
    int rc = list_targets(&c->set, &pids, &n);
    atomic_store(&c->plan_no_ioctl, c->set.residency == MG_RESIDENCY_PAGEMAP);
    c->self_pid = getpid();
    struct stat st;
    if (stat("/proc/self/exe", &st) == 0) {
        c->self_exe_dev = (uint64_t)st.st_dev;
        c->self_exe_ino = (uint64_t)st.st_ino;
    }
    c->processes_total = n;
    if (c->sink && c->sink->progress) /* resident bytes: for the progress estimate only */
        for (size_t i = 0; i < n; i++)
            c->bytes_total += pids[i] != c->self_pid ? mg_read_rss(pids[i]) : 0;
    if (rc == 0) {
        /* every pid is taken once, planned or (after a stop) reported
         * unreached: by the workers, whenever the queue is empty, or with
         * one worker by this thread alone */
        mg_pool_offer_targets(c, pids, n);
        while (!c->workers_plan && mg_pool_take_target(c, &pid))
            mg_plan_target(c, NULL, pid);
    } else
        free(pids);
    if (rc < 0)
        mg_fail(err, rc, "cannot list processes: %s", mg_strerror(rc));
    return rc;
}

void mg_worker_run(mg_worker *w)
{
    mg_unit u;
    pid_t pid;
    for (int k; (k = mg_pool_pop(w->c, &u, &pid));) {
        if (k == 2) {
            mg_plan_target(w->c, w, pid);
            continue;
        }
        if (!mg_sweep_should_stop(w->c, u.p))
            mg_run_unit(w, &u);
        mg_target_unref(u.p);
        mg_maybe_progress(w->c);
    }
}
