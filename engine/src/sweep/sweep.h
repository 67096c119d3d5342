/* sweep.h - the state one sweep shares between its stages (internal).
 *
 * One file per stage, each calling only those listed before it:
 *   events.c    to the sink: events, statistics, progress
 *   stop.c      the stop decision, the sweep's clock, read pacing
 *   target.c    a target's life: open (identity pinned), references,
 *               its YARA rules and its findings (mg_sink.findings) when
 *               its last unit is done
 *   window.c    unit geometry; scanning a unit's window, its hits to the
 *               sink (mg_report_hit)
 *   unit.c      one unit: pagemap re-check, reader choice, read, scan;
 *               a small target's units read together (a gather)
 *   worker.c    a worker's matcher and buffers; pagemap read ahead
 *   pool.c      bounded unit queue, the targets left to plan
 *   planner.c   targets -> regions -> present runs -> units; the
 *               workers' loop (units, or a target to plan)
 *   scan.c      a sweep's setup and checks; mg_scan_buffer
 *   engine.c    mg_engine: worker threads, dedupe table, one sweep at a
 *               time; mg_scan, a one-shot engine
 *   dedupe.c    shared-page dedupe: the table, record format, unit keys
 *   keep.c      incremental reads: results kept across an engine's scans
 *               (page-cache pages of unchanged files; soft-dirty anon)
 *
 * Three different things are never called by one another's name:
 *   dedupe     scanning memory shared between processes once (dedupe.h);
 *   ownership  a match is reported by the unit its start lies in, though
 *              neighbouring units read it in their overlap (window.c);
 *   folding    one record per (pattern, start), the longest (matcher.c).
 *
 * Ownership and locking:
 *  - mg_sweep: one per sweep (mg_engine_scan, mg_scan_buffer), set up and
 *    freed by the calling thread. After setup, workers only read it, except: st[]
 *    and the atomics (any thread, relaxed); the queue fields (under `lock`);
 *    sink callbacks are made only under `sink_lock`, which also guards the
 *    per-target sink verdicts (sink_done, and stop_reason MG_STOP_SINK).
 *    stop_reason goes from MG_STOP_NONE to one reason, once (CAS); the rate
 *    limiter's timeline is one atomic.
 *  - mg_target: one per process, made by the planner, refcounted: one
 *    reference for the planner while it plans the process, one per queued
 *    unit; the last mg_target_unref frees it. Its fields are immutable
 *    after open, except the atomics.
 *  - mg_unit: a value, copied into and out of the queue; it points at its
 *    target (holding a reference) and at a region of the target's maps.
 *  - mg_worker: one per engine thread; only that thread touches it during a
 *    sweep (the engine rebinds it between sweeps, engine.c). Memory per worker: the unit buffer
 * (chunk + 2 x margin), per-page arrays, and the dedupe record buffer (<= MG_DEDUPE_MAX_RECORD).
 */
#ifndef MG_SWEEP_H
#define MG_SWEEP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "findings/findings.h"
#include "match/patterns.h"
#include "os/maps.h"
#include "os/procs.h"
#include "os/reader.h"
#include "sweep/dedupe.h"
#include "sweep/keep.h"
#include "util.h"
#include "yara/yara.h"

typedef struct mg_sweep mg_sweep;

typedef struct mg_target {
    mg_sweep *c;
    atomic_int refs;
    mg_process info;
    char comm[64];
    char *exe;
    char *cgroup; /* info.cgroup */
    char container[MG_CONTAINER_ID_LEN + 1]; /* info.container */
    mg_maps maps;
    int pagemap_fd, mem_fd, mem_errno;
    /* its identity (os/procs.h): reads by pid number (process_vm_readv) are
     * checked against pin.pidfd (-1 if the kernel has none, < 5.3), so bytes
     * of a process that reused the pid are never taken for the target's */
    mg_proc_pin pin;
    /* process_timeout clock: microseconds after the sweep's t0 when its
     * first unit started (0: none yet; the first worker sets it) */
    _Atomic uint64_t first_unit_us;
    atomic_bool skip; /* gone, denied, or the sink asked for the next process */
    atomic_bool sink_done; /* the sink asked for the next process */
    atomic_bool gone_reported, mem_reported;
    /* units of it were dropped because the sweep stopped or its
     * process_timeout ran out (mg_pool_should_stop) */
    atomic_bool cut;
    _Atomic uint32_t *counts; /* per pattern, with max_count */
    bool planned; /* opened and walked: YARA rules are evaluated for it */
    /* matches of YARA rule strings, collected under yara_lock; read by the
     * last mg_target_unref alone */
    struct mg_yara_proc *yproc;
    pthread_mutex_t yara_lock;
    atomic_bool yara_lost; /* a match of a rule string could not be kept */
    /* mg_sink.findings: the private copies of its code the planner's walk
     * found (planner thread only, then read by the last mg_target_unref);
     * copies_whole: every region was walked and each copy kept, else the
     * findings walk for them again */
    mg_copies copies;
    bool copies_whole;
    /* mg_sink.findings: what mg_target_open read for them between the pin
     * and its check (pre: the tracer, /etc/ld.so.preload; has_pre), and its
     * arguments and environment as its units read them: args_env holds the
     * mg_args_env_span(&pin.st) bytes from arg_start (NULL: not kept),
     * args_pages a bit per page of them, set by the worker that copied
     * the page's part in full from a read (mg_target_keep_args) */
    mg_findings_pre pre;
    bool has_pre;
    char *args_env;
    _Atomic uint64_t args_pages;
    /* per rule string: its matches are kept (mg_yara_needed; NULL: all) */
    uint8_t *yneed;
    /* mg_settings.soft_dirty (keep.h): the epoch its anonymous units are
     * kept under (0: none) and whether this scan may replay them */
    uint64_t sd_epoch;
    bool sd_reuse;
} mg_target;

/* Read pacing (stop.c): a virtual clock shared by the workers. Each read of
 * n bytes reserves n / rate seconds on it, after the reservations made
 * before, and waits until its reservation ends, less `burst`. Time is in
 * nanoseconds after the sweep's t0. */
typedef struct mg_rate {
    uint64_t bytes_per_sec; /* 0: no limit */
    int64_t burst_ns;
    _Atomic int64_t tat_ns; /* end of the last reservation */
} mg_rate;

/* The CPU budget (stop.c): a virtual clock like mg_rate's, on which the
 * process's CPU time since the last look costs cpu / budget of wall time.
 * One per engine, over all its sweeps; under its lock. Times are
 * CLOCK_MONOTONIC nanoseconds. */
typedef struct mg_cpu_budget {
    pthread_mutex_t lock;
    double budget; /* CPUs; 0: none */
    int64_t burst_ns;
    int64_t tat_ns; /* when the CPU used so far is paid for */
    int64_t cpu_ns; /* the process's CPU time at the last look */
} mg_cpu_budget;

void mg_cpu_budget_init(mg_cpu_budget *b, double budget);
void mg_cpu_budget_fini(mg_cpu_budget *b);
/* The CPU used since the last look charged: when the next read may start
 * (CLOCK_MONOTONIC ns; <= now: at once). */
int64_t mg_cpu_budget_due(mg_cpu_budget *b);

typedef struct mg_unit {
    mg_target *p;
    const mg_region *region;
    uint64_t own_start, own_end; /* ownership: matches starting here are this unit's */
    uint64_t lo, hi; /* the region: overlap never leaves it (absent pages in it are not read) */
    uint64_t file_lo, file_hi; /* the run of page-cache pages the unit is in, if any */
    bool mem_only; /* --include-noread region: /proc/PID/mem for every page */
    /* A batch of small regions (mg_region_batchable): the target's regions
     * batch_first..batch_last, [lo, hi) spanning them (at most chunk_size).
     * Its batchable regions are read together (one pagemap read, one
     * process_vm_readv) and scanned one by one, each owning all its bytes,
     * so no match spans two of them; `region` is the first one. */
    bool batch;
    uint32_t batch_first, batch_last;
    /* An anonymous region the planner did not walk for present pages
     * (mg_plan_direct): the worker's pagemap read of each piece is its
     * residency walk and its dedupe key at once. Queued as one unit owning
     * the whole region; workers take it a step (mg_direct_step) at a time
     * from the queue's head (pool.c), so the steps of one region are read in
     * order by all workers, as separate units would be, and run each step
     * as pieces of chunk_size cuts (unit.c). */
    bool direct;
} mg_unit;

enum mg_stat_id {
    ST_PROCS,
    ST_PROCS_FAILED,
    ST_REGIONS,
    ST_REGIONS_SKIPPED,
    ST_SCANNED,
    ST_PVR,
    ST_MEM,
    ST_NOT_PRESENT,
    ST_NOREAD,
    ST_SPECIAL,
    ST_CHANGED,
    ST_DEDUPED,
    ST_REUSED,
    ST_MATCHES,
    ST_RULE_MATCHES,
    ST_CALLBACKS,
    ST_PROCS_DONE,
    ST_PROCS_WHOLE,
    ST_PROCS_CUT,
    ST_PROCS_UNREACHED,
    ST_PROCS_ZOMBIE,
    ST_PROCS_KTHREAD,
    ST_EVENTS,
    ST_N = ST_EVENTS + MG_EVENT_KINDS
};

struct mg_sweep {
    const mg_patterns *pats;
    mg_settings set;
    const mg_sink *sink;
    size_t margin; /* overlap each side: width + context + 1 */
    uint64_t width; /* largest match width (unbounded regexes: unbounded_width) */
    bool skip_zero; /* no pattern matches within zero bytes alone */
    /* mg_stop_reason: NONE until the sweep stops (mg_sweep_stop) */
    atomic_int stop_reason;
    double deadline; /* mg_now() when set.timeout runs out; 0: none */
    mg_rate rate;
    mg_cpu_budget *cpu; /* the engine's; NULL: no CPU budget */
    _Atomic uint64_t st[ST_N];

    /* the unit queue (pool.c), under lock */
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    mg_unit *q;
    size_t q_cap, q_head, q_len;
    bool closing;
    /* the targets (planner.c), planned by any worker that finds the queue
     * empty (by the calling thread with one worker): pids[plan_next..plan_n)
     * are not taken yet (under lock; freed with the queue); self_pid is
     * memgrep's own */
    pid_t *plan_pids;
    size_t plan_n, plan_next;
    pid_t self_pid;
    /* The workers plan: in a sweep of the whole host (no pids given) with
     * more than one worker. A lone worker doesn't: had it left a target the
     * calling thread is still planning to plan another, it would stall the
     * first (its process_timeout clock runs from its first unit). Nor do
     * workers plan targets named: the calling thread plans them in order,
     * one at a time, while the workers run its units, so that memory they
     * share after fork is scanned once, by the first (two workers planning
     * two of 100 such processes at once, in the bench, read them in turns:
     * 3.6x one of them, not 1.4x), and a single target with 120,000
     * mappings is planned alongside its scan, not by one of its scanners. */
    bool workers_plan;
    atomic_bool plan_no_ioctl; /* PAGEMAP_SCAN was refused: every planner falls back */

    pthread_mutex_t sink_lock; /* serialises sink callbacks (events.c, unit.c) */
    atomic_bool uring_used;
    mg_dedupe *dd; /* NULL: no dedupe */
    mg_keep *keep; /* the engine's (keep.h); NULL: not incremental */
    /* The zero page's frame number (mg_zero_pfn), 0 if pagemap hides frame
     * numbers or the kernel maps no zero page; whether it shows them: if
     * not, no region is planned direct. */
    uint64_t zero_pfn;
    bool pfns_visible;
    /* The file memgrep runs from (stat of /proc/self/exe; self_exe_ino 0:
     * unknown): in a process running it, mappings named
     * MG_PATTERN_MEMORY_NAME are skipped (match/vault.h). */
    uint64_t self_exe_dev, self_exe_ino;

    /* progress (events.c) */
    double t0, interval;
    _Atomic uint64_t next_progress_us; /* after t0 */
    uint64_t processes_total, bytes_total; /* set by the planner before the first unit */
};

/* Per-worker state: nothing here is shared. Between sweeps of an engine
 * (engine.c) the calling thread rebinds it (mg_worker_bind) while its
 * thread is parked. */
/* A unit of a gather (mg_worker): its window [ba, bb) held from page
 * `page` of the worker's buffer on, its ops, its dedupe key and its keep
 * key (nkey and nkeep 0: its matches not recorded under one). */
typedef struct mg_gslot {
    mg_unit u;
    uint64_t ba, bb;
    size_t page, pvr, n_pvr, mem, n_mem, key, nkey, kkey, nkeep;
} mg_gslot;

typedef struct mg_worker {
    mg_sweep *c;
    struct mg_engine *engine; /* the engine whose thread runs it, NULL if none */
    pthread_t thread;
    mg_matcher m;
    mg_reader reader;
    uint8_t *buf; /* the unit's bytes, from the start of its window */
    uint64_t *pm; /* pagemap entries of the unit */
    mg_read_op *pvr_ops, *mem_ops;
    uint8_t *ok; /* per page of the unit: read in full */
    size_t max_pages;
    size_t span; /* bytes of buf (chunk + 2 x margin); 0: none allocated */
    const mg_unit *u; /* current unit, for the report callback */
    /* dedupe: the unit's key, and its matches as they are found */
    uint64_t *key;
    mg_dedupe_rec rec;
    bool recording;
    /* incremental reads (keep.h): the unit's keep key (length nkeep, 0:
     * none; 0 between units: gather_add takes it, a replay drops it), and
     * the identities of the files this sweep looked at */
    uint64_t *kkey;
    size_t nkeep;
    mg_keep_ids ids;
    /* A gather (unit.c): units of one target whose pages are read together,
     * each window in buf and ok from its slot's page on, its ops in pvr_ops
     * and mem_ops, its key in gkey (gkey_cap words) and its keep key in
     * gkkey (gkkey_cap words); n_pages, n_pvr, n_mem, n_gkey and n_gkkey
     * used so far. */
    mg_gslot *gs; /* MG_GATHER_UNITS of them */
    /* the pagemap entries read ahead for the gather's units (mg_run_units):
     * n_ahead pages of ahead_p from ahead_lo */
    uint64_t *ahead; /* MG_AHEAD_PAGES entries */
    const mg_target *ahead_p;
    uint64_t ahead_lo;
    size_t n_ahead;
    size_t n_gs, n_pages, n_pvr, n_mem, n_gkey, gkey_cap, n_gkkey, gkkey_cap;
    uint64_t *gkey, *gkkey;
} mg_worker;

/* One planner of a sweep: the calling thread (w NULL) or a worker (w) that
 * plans one target while the queue is empty. Its units not yet queued or
 * run (pool.c), and whether the target's units are queued as they come
 * (spilled: more than a worker keeps for itself). */
typedef struct mg_planner {
    mg_sweep *c;
    mg_worker *w;
    bool use_ioctl;
    bool spilled;
    size_t n_pend;
    uint64_t pend_bytes; /* owned by the units held back */
    mg_unit pend[MG_PLAN_PEND];
} mg_planner;

/* ---- events.c: events, statistics and progress to the sink ---- */

void mg_stat_add(mg_sweep *c, enum mg_stat_id id, uint64_t v);
mg_event_kind mg_event_kind_of(int err);
/* Count an event and hand it to the sink. r may be NULL. */
void mg_emit_event(mg_sweep *c, mg_target *p, const mg_region *r, mg_event_kind kind, int err,
                   uint64_t addr, const char *what);
/* A failure that ends the scan of this target: reported once. */
void mg_target_failed(mg_sweep *c, mg_target *p, int err, const char *what);
/* Called between units: at most one worker per interval reports progress. */
void mg_maybe_progress(mg_sweep *c);
void mg_fill_stats(mg_sweep *c, mg_stats *out, double t0, unsigned threads);

/* ---- stop.c: the stop decision, the clock, read pacing ---- */

#define MG_STOP_POLL_NS ((int64_t)MG_STOP_POLL_MS * 1000000)

/* Stop the sweep for `reason` (an mg_stop_reason); the first reason given
 * stays. Returns the reason in force. */
int mg_sweep_stop(mg_sweep *c, int reason);
/* THE place where a sweep decides to stop: checked by the workers before
 * each unit and before each match they deliver, by the planner before each
 * unit it cuts, and every MG_STOP_POLL_MS by whoever waits (queue, rate).
 * p may be NULL (the sweep as a whole). True when the sweep stops (the
 * sink said stop, set.cancel said so, set.timeout ran out: the first one
 * seen is kept in stop_reason) or, for p, when the target is gone or done
 * or its process_timeout ran out (then reported once as MG_EVENT_TIMEOUT).
 * Must not be called with sink_lock held. */
bool mg_sweep_should_stop(mg_sweep *c, mg_target *p);
/* The same decision before delivering a match of bytes already read, but
 * for p only its process_timeout: a target found gone or unreadable
 * meanwhile (p->skip, by another worker or the planner) has no more units
 * read, yet the matches in bytes read while it was there are its, and are
 * all delivered. The sink's own verdict on p (sink_done) is the caller's
 * to check, under sink_lock. */
bool mg_sweep_should_cut(mg_sweep *c, mg_target *p);
/* Nanoseconds after c->t0. */
int64_t mg_sweep_now_ns(const mg_sweep *c);
/* The rate limiter alone (no sleeping, no clock): reserve n bytes at time
 * now (ns); returns when the read may start (ns, may be <= now). */
int64_t mg_rate_reserve(mg_rate *r, uint64_t n, int64_t now);
/* Worker side, before a read of n bytes of p: wait for the rate limiter
 * and the CPU budget (nothing to wait for without set.max_rate and
 * set.cpu_budget). False if the sweep or p
 * stopped meanwhile: then the read must not be made. */
bool mg_sweep_pace(mg_sweep *c, mg_target *p, uint64_t n);

/* ---- target.c: a target's life ---- */

/* Open a target (one reference, the caller's); NULL if it is skipped
 * silently (kernel thread, zombie, not selected by cgroup or container) or
 * failed (reported). Either way it is counted done once. */
mg_target *mg_target_open(mg_sweep *c, pid_t pid);
/* Drop a reference; the last one evaluates its YARA rules and frees it. */
void mg_target_unref(mg_target *p);
/* From n reads done (checked to be the pinned process's, as a unit's
 * are), the parts of p's arguments and environment they hold in full,
 * into p->args_env: the findings need not read them again. */
void mg_target_keep_args(mg_target *p, const mg_read_op *ops, size_t n);
/* The YARA evaluator's stop hook for target p (ctx): mg_sweep_should_cut. */
bool mg_target_stop_fn(void *ctx);
/* The sweep stopped before pid was opened: one MG_EVENT_UNREACHED for it,
 * if it is a process the sweep would have scanned (not a kernel thread,
 * a zombie, gone, or left out by cgroup/container). */
void mg_target_report_unreached(mg_sweep *c, pid_t pid);

/* ---- window.c: unit geometry, scanning a window, its hits ---- */

/* Cut [lo, hi) into units of chunk owned bytes, cut where (address +
 * phase) is a multiple of chunk; fn(ctx, own_start, own_end) for each, in
 * order, until it returns non-zero (returned). Shared by the planner and
 * mg_scan_buffer. */
int mg_cut_units(uint64_t lo, uint64_t hi, uint64_t chunk, uint64_t phase,
                 int (*fn)(void *ctx, uint64_t own_start, uint64_t own_end), void *ctx);
/* Whether r is read as part of a batch unit (small, anonymous, readable):
 * the planner and the worker ask the same question. */
bool mg_region_batchable(const mg_sweep *c, const mg_region *r);
/* The region of a batch unit that holds addr (u->region if none does, or
 * if u is not a batch). */
const mg_region *mg_unit_region_at(const mg_unit *u, uint64_t addr);
/* How much of a direct region (mg_unit.direct) a worker takes at a time:
 * MG_DIRECT_STEP rounded down to a multiple of chunk_size, at least one;
 * steps fall on multiples of it, so on chunk cuts. */
uint64_t mg_direct_step(const mg_sweep *c);
/* A unit owning the whole of region r of p (a direct region, a region of
 * a batch scanned on its own). */
mg_unit mg_region_unit(mg_target *p, const mg_region *r);
/* The window of a unit: its owned bytes plus margin each side, clipped to
 * [u->lo, u->hi). Shared by mg_run_unit and mg_scan_buffer. */
void mg_unit_window(const mg_sweep *c, const mg_unit *u, uint64_t *ba, uint64_t *bb);
/* The matcher's report callback (arg: the mg_worker, whose unit is w->u):
 * records the hit for dedupe if the worker is recording, applies max_count
 * and delivers it under the sink lock. Returns MG_SINK_*. */
int mg_report_hit(void *arg, const mg_hit *h, const mg_piece *pc);
/* Whether p needs the set's extra database scanned (mg_pat.extra: the
 * strings of rules that can be true only where some address is readable):
 * a unit's dedupe record made without it is not replayed there. */
bool mg_target_needs_extra(const mg_sweep *c, const mg_target *p);
/* Scan buf = bytes [s, e) of w->u's window for the matches it owns. A
 * matcher failure is a counted MG_EVENT_OTHER ("scan"), not a verdict.
 * Returns MG_SINK_* or the matcher's negative code. */
int mg_scan_window(mg_worker *w, const uint8_t *buf, uint64_t s, uint64_t e);
/* Scan each maximal run of pages read in full (ok[]) of the window [ba, bb)
 * held in buf (its first byte: ba). A failed piece is reported and the
 * others still scanned. */
void mg_scan_pieces_in(mg_worker *w, const uint8_t *buf, uint64_t ba, uint64_t bb,
                       const uint8_t *ok);
/* The same for the window held in w->buf. */
void mg_scan_pieces(mg_worker *w, uint64_t ba, uint64_t bb, const uint8_t *ok);

/* ---- worker.c, unit.c: a worker; reading and scanning units ---- */

/* A worker for settings s: its reader; no matcher or buffers yet. */
void mg_worker_open(mg_worker *w, const mg_settings *s);
/* Ready w for sweep c: a matcher for c's patterns, buffers for c's unit
 * span (kept from the sweep before when the span is the same). */
int mg_worker_bind(mg_worker *w, mg_sweep *c);
/* mg_worker_open with c's settings, then mg_worker_bind. */
int mg_worker_init(mg_worker *w, mg_sweep *c);
void mg_worker_fini(mg_worker *w);
/* Run a unit popped from the queue: a batch, a piece of a direct region,
 * or a unit inside one run of present pages. */
void mg_run_unit(mg_worker *w, const mg_unit *u);
/* Run units of one target (a small one's, held back by its planner): their
 * pages read with one process_vm_readv and one /proc/PID/mem batch, and one
 * check that the process is still there, for up to MG_GATHER_UNITS units at
 * a time that fit in the worker's buffer; each unit then scanned on its own,
 * as mg_run_unit would. Stops between units as mg_run_unit's caller does. */
void mg_run_units(mg_worker *w, const mg_unit *us, size_t n);
/* The pagemap entries of np pages of p from pa into w->pm (worker.c): from
 * those mg_worker_read_ahead read if they are there. Returns 0 or -errno. */
int mg_worker_pagemap(mg_worker *w, mg_target *p, uint64_t pa, size_t np);
/* Read ahead the pagemap entries of us[k]'s window and of the units after
 * it that follow closely (mg_run_units, before it starts us[k]). */
void mg_worker_read_ahead(mg_worker *w, const mg_unit *us, size_t k, size_t n);

/* ---- pool.c: the queue and the workers' loop ---- */

/* The sweep's unit queue, for `threads` workers (engine.c runs them). */
int mg_pool_open(mg_sweep *c, unsigned threads);
/* Planner side: queue a unit, taking a reference on u->p. Units are held
 * back and queued together (mg_pool_flush): the planner calls
 * mg_pool_flush before it drops its own reference on a target. The calling
 * thread queues them MG_PUSH_BATCH at a time and waits while the queue is
 * full, but no longer than the sweep or u->p should go on: returns false
 * (the units held back not queued) once mg_sweep_should_stop says stop. A
 * worker (pl->w) never waits: a target whose units own at most
 * MG_LOCAL_CHUNKS chunks it runs itself at mg_pool_flush; a larger one's
 * are queued as they come, and those the queue has no room for it runs
 * itself. */
bool mg_pool_push(mg_planner *pl, const mg_unit *u);
/* Queue (or run) the units held back; false as mg_pool_push. */
bool mg_pool_flush(mg_planner *pl);
/* No more units: workers drain the queue, then leave the sweep. */
void mg_pool_close(mg_sweep *c);
/* Once every worker has left the sweep: free the queue. */
void mg_pool_destroy(mg_sweep *c);
/* Offer the targets to plan, pids[0..n) (malloc'd: the pool frees them):
 * from now on a worker that finds the queue empty plans the next one. */
void mg_pool_offer_targets(mg_sweep *c, pid_t *pids, size_t n);
/* Take the next target to plan; false if none is left. */
bool mg_pool_take_target(mg_sweep *c, pid_t *pid);
/* Waits for a unit: 1 with one in *u, 2 with a target to plan in *pid
 * (with two workers or more, and only while the queue is empty: units
 * first), 0 once the queue is closed and empty and no target is left. A
 * direct region at the head is handed out a step (mg_direct_step) at a
 * time: it stays at the head, owning the rest, until its last piece is
 * taken, and each piece but the last takes a reference of its own on the
 * target. So every worker takes the region's steps in order, one lock
 * each, and the planner is woken once per region, not per piece. */
int mg_pool_pop(mg_sweep *c, mg_unit *u, pid_t *pid);

/* ---- planner.c ---- */

/* Plan every target of c->set: list or resolve the pids, then open, walk
 * and queue each one (c->zero_pfn is set by the caller: mg_zero_pfn); with
 * two workers or more they plan them (mg_pool_pop), and this returns once
 * they are offered.
 * Returns 0, or a negative code if the process list can't be had (err
 * filled). */
int mg_plan_targets(mg_sweep *c, mg_error *err);
/* Plan one target taken with mg_pool_take_target, on a worker (w) or the
 * calling thread (w NULL); after a stop it is reported unreached instead. */
void mg_plan_target(mg_sweep *c, mg_worker *w, pid_t pid);
/* A worker's part of a sweep: run units, or plan a target while there is
 * none (mg_pool_pop), until the queue is closed and empty. */
void mg_worker_run(mg_worker *w);

/* ---- scan.c: setup shared by mg_scan, mg_scan_buffer and tests ---- */

/* Fill c for a sweep of pats with settings s (checked by the caller):
 * margin, width, zero-page rule, sink lock, progress clock. */
void mg_sweep_init(mg_sweep *c, const mg_patterns *pats, const mg_settings *s, const mg_sink *sink,
                   double t0);
void mg_sweep_fini(mg_sweep *c);
/* Settings as mg_scan and mg_engine_new take them: 0 or a negative code,
 * err filled. Target selection is checked by mg_check_targets. */
int mg_check_settings(const mg_settings *s, mg_error *err);
/* A scan's targets: pids (NULL only with n_pids 0) exist, not memgrep. */
int mg_check_targets(const mg_targets *t, mg_error *err);
/* -EINVAL (err filled) if a sink's reserved fields are not NULL. */
int mg_check_sink(const mg_sink *sink, mg_error *err);
/* YARA rules at the end of mg_scan_buffer (p: its stand-in target), with
 * integer reads from the buffer; frees p->yproc. Returns 0 or a negative
 * code (-ENOMEM: a rule string's match was lost; -ECANCELED: stopped). */
int mg_yara_buffer_done(mg_sweep *c, mg_target *p, const void *buf, size_t len, uint64_t base);

#endif
