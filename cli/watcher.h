/* watcher.h - the running `memgrep watch` (watcher.c): new processes
 * pinned and scanned at once and after --exec-rescan's delays, the rolling
 * rescan, the stats records and SIGHUP's reload, until SIGINT or SIGTERM.
 * cmd_watch.c parses the options, opens what the watcher uses (engine,
 * events, signalfd, output) and frees it. */
#ifndef MEMGREP_CLI_WATCHER_H
#define MEMGREP_CLI_WATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"
#include "output/output.h"
#include "output/sink.h"
#include "scan_opts.h"
#include "watch_alerts.h"
#include "watch_events.h"
#include "watch_notify.h"

/* New processes scanned at exec at once, at most (more: counted as
 * events_dropped; the rolling rescan still comes to them). */
#define WATCH_PENDING_MAX 4096u
#define WATCH_MAX_DELAYS 16u
/* Exec-to-first-scan latencies kept for the stats' percentiles (a ring). */
#define WATCH_LATENCY_SAMPLES 4096u
/* While new processes keep coming, the rolling rescan still gets one scan
 * after every WATCH_PASS_SHARE of theirs: a pass ends on a busy host too. */
#define WATCH_PASS_SHARE 8u

typedef struct watch_opts {
    double rescan_every; /* seconds; 0: no rolling rescan */
    double stats_every; /* seconds; 0: only the final record */
    double delays[WATCH_MAX_DELAYS]; /* --exec-rescan, ascending */
    size_t n_delays;
    watch_source source; /* --events */
    double budget; /* --budget: CPUs (mg_settings.cpu_budget); 0: none */
    bool soft_dirty; /* --soft-dirty (mg_settings.soft_dirty) */
} watch_opts;

/* scan's state first: its option groups are bound at offsets into it */
typedef struct watch_state {
    scan_state scan;
    watch_opts watch;
} watch_state;

/* A new process, pinned by its pidfd, with scans still to come. */
typedef struct pending {
    pid_t pid;
    unsigned long long start;
    int pidfd;
    double t0; /* its exec (or fork) event, monotonic seconds */
    bool exec; /* t0 is an exec's: its first scan's latency is measured */
    size_t scans; /* done since t0 */
    double due;
} pending;

/* A process of the rolling rescan. */
typedef struct pass_entry {
    pid_t pid;
    unsigned long long start;
} pass_entry;

typedef struct watcher {
    const watch_state *st;
    const watch_opts *o;
    mg_engine *engine;
    mg_patterns *patterns;
    mg_pattern_info *infos;
    size_t n_infos;
    uint64_t *pattern_keys; /* alert key of each pattern id: kind and text */
    watch_events *events;
    watch_alerts alerts;
    cli_sink sink;
    mg_sink inner; /* the sink's callbacks, which print */
    output_ctx out;
    const output_backend *be;
    pending pend[WATCH_PENDING_MAX];
    size_t n_pend;
    pass_entry *pass; /* the rolling rescan under way */
    size_t n_pass, pass_next;
    size_t pass_waited; /* new processes' scans since the pass's last one */
    double next_pass, next_stats, next_prune, t_start;
    /* the process being scanned */
    unsigned long long cur_start;
    uint64_t scan_no;
    output_watch_stats stats;
    double latency[WATCH_LATENCY_SAMPLES]; /* seconds, a ring */
    size_t n_latency, latency_next;
    int sigfd;
    watch_notify notify; /* systemd's Type=notify and watchdog */
} watcher;

/* The patterns and their descriptions for the printers, replacing the old
 * ones (the watcher owns p then). False (nothing changed) out of memory. */
bool watcher_set_patterns(watcher *w, mg_patterns *p);

/* From now on (t_start) until SIGINT or SIGTERM, or the output fails:
 * READY=1 first (under systemd), STOPPING=1 last. */
void watcher_loop(watcher *w);

/* A stats record: every --stats-every, and the final one. */
void watcher_emit_stats(watcher *w, bool final);

#endif
