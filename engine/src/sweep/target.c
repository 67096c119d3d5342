/* target.c - a target's life: opened with its identity pinned (os/procs.c)
 * and selected by cgroup or container, referenced by the planner and by each
 * queued unit, and, when the last reference goes, its YARA rules evaluated
 * over its matches (with integer reads in its memory), its findings made
 * (mg_sink.findings) and its fds closed.
 * The planner opens targets; workers and the planner drop them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os/procs.h"
#include "os/residency.h"
#include "sweep/sweep.h"

/* ---- YARA rules at the end of a target ------------------------------------ */

/* Integer reads in the target for the evaluator (yara_eval.c). */
typedef struct target_read {
    mg_target *p;
    mg_reader reader;
    uint64_t page[2]; /* cached pages (address + 1; 0: empty) */
    bool ok[2];
    uint8_t buf[2][MG_PAGE_SIZE];
    int next;
} target_read;

static const mg_region *region_at(const mg_target *p, uint64_t addr)
{
    for (size_t i = 0; i < p->maps.n; i++) {
        const mg_region *r = &p->maps.regions[i];
        if (addr >= r->start && addr < r->end)
            return r;
    }
    return NULL;
}

/* One page of the target into a cache slot; NULL if not present or not read. */
static const uint8_t *fetch_page(target_read *t, uint64_t page, bool mem_only)
{
    for (int i = 0; i < 2; i++)
        if (t->page[i] == page + 1)
            return t->ok[i] ? t->buf[i] : NULL;
    int slot = t->next;
    t->next ^= 1;
    t->page[slot] = page + 1;
    t->ok[slot] = false;
    uint64_t pm;
    if (mg_pagemap_read(t->p->pagemap_fd, page, 1, &pm) < 0)
        return NULL;
    mg_page_class k = mg_page_classify(pm, mem_only);
    mg_read_op op = {.addr = page, .len = MG_PAGE_SIZE, .dst = t->buf[slot]};
    if (k == MG_PAGE_PVR) {
        /* by pid number: bytes read after the target exited may be another
         * process's (the pid reused), so they count only if it is still
         * there (its pidfd), as in the unit reader */
        if (mg_read_pvr(t->p->info.pid, &op, 1) < 0 || mg_pidfd_exited(t->p->pin.pidfd))
            return NULL;
    } else if (k == MG_PAGE_MEM && t->p->mem_fd >= 0) {
        if (mg_read_mem(&t->reader, t->p->mem_fd, &op, 1) < 0)
            return NULL;
    } else
        return NULL;
    t->ok[slot] = op.got == MG_PAGE_SIZE;
    return t->ok[slot] ? t->buf[slot] : NULL;
}

/* A YARA block is a region: a read must lie in one readable region that a
 * scan reads, and in present pages. */
static int target_read_fn(void *ctx, uint64_t addr, void *out, size_t n)
{
    target_read *t = ctx;
    const mg_region *r = region_at(t->p, addr);
    if (!r || addr + n > r->end || r->kind == MG_REGION_SPECIAL || r->kind == MG_REGION_DEVICE)
        return -1;
    bool mem_only = r->perms[0] != 'r';
    if (mem_only && !(t->p->c->set.include_noread && mg_region_anon_like(r)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = addr + i, page = a & ~(uint64_t)(MG_PAGE_SIZE - 1);
        const uint8_t *b = fetch_page(t, page, mem_only);
        if (!b)
            return -1;
        ((uint8_t *)out)[i] = b[a - page];
    }
    return 0;
}

bool mg_target_stop_fn(void *ctx)
{
    mg_target *p = ctx;
    return mg_sweep_should_cut(p->c, p);
}

/* Its last unit is done (fds still open): evaluate its rules, report them,
 * free p->yproc. */
static void yara_target_done(mg_sweep *c, mg_target *p)
{
    const mg_yara *y = c->pats->yara;
    /* only over a whole process: not one cut short (gone, timed out, the
     * sink moved on) nor in a sweep that is stopping */
    if (y && p->planned && !atomic_load(&p->gone_reported) && !atomic_load(&p->skip) &&
        atomic_load(&c->stop_reason) == MG_STOP_NONE) {
        target_read *t = atomic_load(&p->yara_lost) ? NULL : calloc(1, sizeof(*t));
        if (!t)
            mg_emit_event(c, p, NULL, MG_EVENT_OTHER, -ENOMEM, 0,
                          "keep YARA string matches: rules not evaluated");
        if (t) {
            t->p = p;
            mg_reader_init(&t->reader, MG_MEM_READER_PREAD);
            uint64_t n = 0;
            int v = mg_yara_evaluate(c->pats, &p->info, p->yproc, target_read_fn, t, c->sink,
                                     &c->sink_lock, mg_target_stop_fn, p, &n, p->maps.regions,
                                     p->maps.n, c->set.rules_negate);
            mg_reader_fini(&t->reader);
            free(t);
            mg_stat_add(c, ST_RULE_MATCHES, n);
            if (v == MG_SINK_STOP)
                mg_sweep_stop(c, MG_STOP_SINK);
            else if (v < 0 && v != -ECANCELED) /* cut short: the stop is reported */
                mg_emit_event(c, p, NULL, MG_EVENT_OTHER, v, 0, "evaluate YARA rules");
        }
    }
    mg_yara_proc_free_all(&p->yproc, y ? y->n_strings : 0);
}

/* ---- findings at the end of a target ------------------------------------ */

void mg_target_keep_args(mg_target *p, const mg_read_op *ops, size_t n)
{
    if (!p->args_env)
        return;
    uint64_t lo = p->pin.st.arg_start, hi = p->pin.st.env_end, first = lo / MG_PAGE_SIZE;
    for (size_t i = 0; i < n; i++) {
        const mg_read_op *op = &ops[i];
        uint64_t s = MG_MAX(lo, op->addr), e = MG_MIN(hi, op->addr + op->got);
        /* each page's part of [lo, hi) that this read holds whole, once */
        for (uint64_t pg = s / MG_PAGE_SIZE; s < e && pg <= (e - 1) / MG_PAGE_SIZE; pg++) {
            uint64_t ps = MG_MAX(lo, pg * MG_PAGE_SIZE), pe = MG_MIN(hi, (pg + 1) * MG_PAGE_SIZE);
            uint64_t bit = (uint64_t)1 << (pg - first);
            if (ps < s || pe > e || (atomic_fetch_or(&p->args_pages, bit) & bit))
                continue;
            memcpy(p->args_env + (ps - lo), op->dst + (ps - op->addr), (size_t)(pe - ps));
        }
    }
}

/* Its arguments and environment if its units read them all; else NULL. */
static const char *args_kept(mg_target *p)
{
    const mg_proc_stat *st = &p->pin.st;
    if (!p->args_env)
        return NULL;
    size_t pages = (size_t)((st->env_end - 1) / MG_PAGE_SIZE - st->arg_start / MG_PAGE_SIZE + 1);
    uint64_t all = pages == 64 ? ~(uint64_t)0 : ((uint64_t)1 << pages) - 1;
    return atomic_load(&p->args_pages) == all ? p->args_env : NULL;
}

/* Its last unit is done (fds still open): its findings (mg_sink.findings)
 * from its maps, stat, pagemap and the copies of code the planner walked,
 * reading only the rest (findings/findings.h), checked to be the pinned
 * process's, and handed to the sink. A failure is the target's event. */
static void findings_target_done(mg_sweep *c, mg_target *p)
{
    /* only a target walked to its end, in a sweep going on */
    if (!p->planned || atomic_load(&p->gone_reported) ||
        atomic_load(&c->stop_reason) != MG_STOP_NONE)
        return;
    mg_findings_src src = {
        .pid = p->info.pid,
        .comm = p->comm,
        .exe = p->info.exe,
        .st = &p->pin.st,
        .regions = p->maps.regions,
        .n_regions = p->maps.n,
        .pagemap_fd = p->pagemap_fd,
        .mem_fd = p->mem_fd,
        .copies = p->copies_whole ? &p->copies : NULL,
        .pre = p->has_pre ? &p->pre : NULL,
        .args_env = args_kept(p),
    };
    mg_finding *list = NULL;
    size_t n = 0;
    bool by_pid;
    mg_error err = {{0}};
    char what[sizeof(err.message) + 16];
    int rc = mg_findings_make(&src, &list, &n, &by_pid, &err);
    /* what was read before was checked: at the pin's check (pre), after
     * each unit's reads (args_env) */
    if (rc == 0 && by_pid && mg_proc_pin_check(&p->pin) < 0) {
        rc = -ESRCH;
        snprintf(err.message, sizeof(err.message), "exited while it was checked");
    }
    if (rc < 0) {
        snprintf(what, sizeof(what), "findings: %s", err.message);
        mg_target_failed(c, p, rc, what);
    } else {
        pthread_mutex_lock(&c->sink_lock);
        int v = c->sink->findings(c->sink->ctx, &p->info, list, n);
        pthread_mutex_unlock(&c->sink_lock);
        if (v == MG_SINK_STOP)
            mg_sweep_stop(c, MG_STOP_SINK);
    }
    mg_findings_free(&list);
}

void mg_target_unref(mg_target *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    if (p->c->pats->yara)
        yara_target_done(p->c, p); /* its last unit is done; its fds still open */
    if (p->c->sink && p->c->sink->findings)
        findings_target_done(p->c, p);
    mg_stat_add(p->c, ST_PROCS_DONE, 1);
    if (p->planned && atomic_load(&p->cut))
        mg_stat_add(p->c, ST_PROCS_CUT, 1);
    else if (p->planned && (!atomic_load(&p->skip) || atomic_load(&p->sink_done)))
        mg_stat_add(p->c, ST_PROCS_WHOLE, 1);
    if (p->pagemap_fd >= 0)
        close(p->pagemap_fd);
    if (p->mem_fd >= 0)
        close(p->mem_fd);
    mg_proc_pin_close(&p->pin);
    mg_maps_free(&p->maps);
    mg_copies_free(&p->copies);
    mg_findings_pre_free(&p->pre);
    free(p->args_env);
    free(p->exe);
    free(p->cgroup);
    free(p->counts);
    free(p->yneed);
    pthread_mutex_destroy(&p->yara_lock);
    free(p);
}

/* The target's cgroup and container (into p->info), and whether the
 * settings' --cgroup / --container select it. Read between the two stat
 * reads of mg_target_open, so pid reuse is caught as for the rest. */
static bool target_selected(const mg_sweep *c, mg_target *p, pid_t pid)
{
    mg_container ct;
    p->cgroup = mg_read_cgroup(pid);
    p->info.cgroup = p->cgroup ? p->cgroup : "";
    p->info.container = p->container;
    if (mg_container_of(p->info.cgroup, &ct) == 1)
        memcpy(p->container, ct.id, sizeof(p->container));
    return mg_cgroup_selected(p->info.cgroup, c->set.cgroup_prefix, c->set.container_prefix);
}

/* In another memgrep running the same file as this one, its pattern
 * memory (match/vault.h) is left alone: made special, so skipped and
 * counted as special regions are. Decided by the executable, read between
 * the pin and its check like the rest; never by a name alone (a process
 * can name its memfds anything, and call itself memgrep). */
static void skip_pattern_memory(const mg_sweep *c, mg_target *p, pid_t pid)
{
    static const char name[] = "/memfd:" MG_PATTERN_MEMORY_NAME;
    char path[64];
    struct stat st;
    bool any = false; /* the executable is looked at only if it may matter */
    for (size_t i = 0; i < p->maps.n && !any; i++) {
        const mg_region *r = &p->maps.regions[i];
        any = r->kind == MG_REGION_SHM && r->deleted && !strcmp(r->path, name);
    }
    if (!any || !c->self_exe_ino)
        return;
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    if (stat(path, &st) < 0 || (uint64_t)st.st_dev != c->self_exe_dev ||
        (uint64_t)st.st_ino != c->self_exe_ino)
        return;
    for (size_t i = 0; i < p->maps.n; i++) {
        mg_region *r = &p->maps.regions[i];
        if (r->kind == MG_REGION_SHM && r->deleted && !strcmp(r->path, name))
            r->kind = MG_REGION_SPECIAL;
    }
}

void mg_target_report_unreached(mg_sweep *c, pid_t pid)
{
    mg_proc_stat st;
    mg_target t = {.c = c, .pagemap_fd = -1, .mem_fd = -1};
    t.info.pid = pid;
    t.info.comm = t.comm;
    t.info.exe = "";
    bool selected = mg_read_proc_stat(pid, &st) == 0 && !st.kthread && st.state != 'Z' &&
                    st.state != 'X' && target_selected(c, &t, pid);
    if (selected) {
        mg_read_comm(pid, t.comm, sizeof(t.comm));
        t.exe = mg_read_exe(pid);
        t.info.exe = t.exe ? t.exe : "";
        mg_stat_add(c, ST_PROCS_UNREACHED, 1);
        int stop = atomic_load(&c->stop_reason);
        mg_emit_event(c, &t, NULL, MG_EVENT_UNREACHED,
                      stop == MG_STOP_TIMEOUT ? -ETIMEDOUT : -ECANCELED, 0,
                      "the sweep stopped before it was reached");
    }
    free(t.exe);
    free(t.cgroup);
}

/* What its findings read by pid number besides stat and maps, read before
 * the pin's check (so with no check of their own), and room for its
 * arguments and environment (its units copy them). 0 or -ENOMEM. */
static int findings_open(mg_target *p, pid_t pid)
{
    mg_findings_pre_read(pid, &p->pre);
    p->has_pre = true;
    size_t len = mg_args_env_span(&p->pin.st);
    if (len && !(p->args_env = malloc(len)))
        return -ENOMEM;
    return 0;
}

mg_target *mg_target_open(mg_sweep *c, pid_t pid)
{
    mg_target *p = calloc(1, sizeof(*p));
    if (!p) {
        mg_stat_add(c, ST_PROCS_DONE, 1);
        return NULL;
    }
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->yara_lock, NULL);
    p->c = c;
    p->pagemap_fd = p->mem_fd = -1;
    p->info.pid = pid;
    p->info.comm = p->comm;
    p->info.exe = "";
    /* Pinned first (the pidfd): everything read below by pid number (stat,
     * cgroup, comm, exe, maps, the pagemap and mem fds) is that process's
     * if the check after the last of them passes. */
    int rc = mg_proc_pin_open(&p->pin, pid);
    const mg_proc_stat *st0 = &p->pin.st;
    if ((rc == 0 && st0->kthread) || !target_selected(c, p, pid)) {
        if (rc == 0 && st0->kthread)
            mg_stat_add(c, ST_PROCS_KTHREAD, 1);
        mg_target_unref(p);
        return NULL;
    }
    if (rc == 0) /* stat's name is comm's */
        memcpy(p->comm, st0->comm, sizeof(p->comm));
    else
        mg_read_comm(pid, p->comm, sizeof(p->comm));
    p->exe = mg_read_exe(pid);
    if (p->exe)
        p->info.exe = p->exe;
    const char *what = "read /proc/PID/stat";
    if (rc == 0 && (st0->state == 'Z' || st0->state == 'X')) {
        /* exited, not yet reaped: no memory to scan, and no failure (a
         * long-lived zombie is no reason for a daily "1 failed") */
        mg_stat_add(c, ST_PROCS_ZOMBIE, 1);
        mg_target_unref(p);
        return NULL;
    }
    if (rc == 0) {
        what = "read /proc/PID/maps";
        rc = mg_maps_read(pid, &p->maps);
        if (rc >= 0)
            skip_pattern_memory(c, p, pid);
    }
    if (rc >= 0) {
        what = "open /proc/PID/pagemap";
        rc = p->pagemap_fd = mg_open_proc_file(pid, "pagemap");
    }
    if (rc >= 0) {
        /* mem is only needed for shared anon pages; a failure here is
         * reported when such a page is met */
        p->mem_fd = mg_open_proc_file(pid, "mem");
        if (p->mem_fd < 0)
            p->mem_errno = -p->mem_fd;
        what = "keep its arguments for its findings";
        if (c->sink && c->sink->findings)
            rc = findings_open(p, pid);
    }
    if (rc >= 0) {
        /* pid reuse: what was read and opened must be the pidfd's process
         * (unit.c: process_vm_readv goes by pid number, and the pidfd tells
         * if that process exited meanwhile), and the one we listed */
        what = "pid reused";
        rc = mg_proc_pin_check(&p->pin);
    }
    if (rc >= 0 && c->keep && c->set.soft_dirty) /* before any of its pages is read */
        p->sd_epoch = mg_keep_sd_begin(c->keep, pid, st0->starttime, &p->sd_reuse);
    if (rc >= 0 && c->set.max_count) {
        p->counts = calloc(mg_patterns_count(c->pats), sizeof(*p->counts));
        if (!p->counts)
            rc = -ENOMEM;
    }
    /* the matches its rules can use, from its regions (what the rules'
     * reads reach); with -n every rule's are shown */
    if (rc >= 0 && c->pats->yara && !c->set.rules_negate)
        p->yneed = mg_yara_needed(c->pats->yara, p->maps.regions, p->maps.n);
    if (rc < 0) {
        mg_stat_add(c, ST_PROCS_FAILED, 1);
        mg_emit_event(c, p, NULL, mg_event_kind_of(rc), rc, 0, what);
        mg_target_unref(p);
        return NULL;
    }
    return p;
}
