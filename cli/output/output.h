/* output.h - printer back-ends (one per file: output_text.c, output_json.c).
 *
 * The sink (sink.c) decides what to report (matches, counts, processes);
 * a back-end only decides how it looks. Every call is made either from the
 * engine's serialised sink callbacks or from the main thread after the scan,
 * never concurrently, so back-ends need no locking.
 */
#ifndef MEMGREP_CLI_OUTPUT_H
#define MEMGREP_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"
#include "output/json.h"
#include "rules.h"

typedef struct output_ctx {
    FILE *out; /* results: stdout */
    FILE *err; /* warnings and the text summary: stderr */
    const mg_pattern_info *patterns; /* by pattern id */
    size_t n_patterns;
    bool color; /* text only */
    bool events; /* report per-process events (off with -q) */
    uint64_t events_shown, events_hidden; /* text back-end rate limit */
    bool rules; /* YARA rules were loaded: the summary counts them */
    size_t rules_skipped; /* rules dropped as unsupported (--skip-unsupported) */
    cli_rules_output rule_form; /* how rules look (yara's -s -m -g -e), -n */
    /* After each record (match, rule, error, -l process): flush it (JSON,
     * -o FILE, --line-buffered), then publish (may be NULL: -o's file is
     * made FILE at its first record; non-zero: failed, one line said). */
    bool flush_each;
    int (*publish)(void *ctx);
    void *publish_ctx;
} output_ctx;

/* What the start record says about the run (JSON): version, host, a run
 * id and the command line. */
typedef struct output_run {
    const char *host;
    const char *run_id; /* 32 hex digits */
    int argc; /* argv[0] is the program */
    char *const *argv;
} output_run;

/* `memgrep watch`'s periodic stats record: counts since it started. */
typedef struct output_watch_stats {
    bool final; /* the last, on SIGINT or SIGTERM */
    const char *event_source; /* "connector" or "proc" */
    double uptime_seconds;
    uint64_t scans; /* mg_engine_scan calls, one process each */
    uint64_t processes_scanned; /* scans that opened their process */
    uint64_t processes_gone; /* exited before or while scanned */
    uint64_t bytes_scanned;
    /* bytes read from targets (process_vm_readv and /proc/PID/mem), and
     * page-cache bytes unchanged since an earlier scan, not read again
     * (mg_stats.bytes_reused: incremental reads) */
    uint64_t bytes_read, bytes_reused;
    /* regions that changed under a scan (an exec while it was read): not
     * reported, the process is scanned again */
    uint64_t regions_changed;
    uint64_t passes; /* rolling rescans of every process finished */
    uint64_t events_seen; /* fork and exec events (or new pids) taken */
    uint64_t events_overruns; /* the connector's buffer overran: events lost */
    uint64_t events_dropped; /* taken, but over the pending limit: not scanned at exec */
    uint64_t alerts; /* hits reported */
    uint64_t alerts_repeated; /* hits found again, not reported again */
    uint64_t alerts_held; /* hits remembered now (live processes only) */
    uint64_t reloads, reload_failures; /* SIGHUP */
    /* From an exec (the kernel's time of the event) to the start of the
     * process's first scan, over the last exec_scan_samples execs seen
     * (at most WATCH_LATENCY_SAMPLES): milliseconds */
    uint64_t exec_scan_samples;
    uint64_t exec_unscanned; /* execs of processes gone before their first scan */
    double exec_scan_p50_ms, exec_scan_p99_ms, exec_scan_max_ms;
} output_watch_stats;

typedef struct output_backend {
    const char *name;
    /* Before the sweep (may be NULL). */
    void (*start)(output_ctx *o, const output_run *r);
    void (*match)(output_ctx *o, const mg_match *m);
    void (*event)(output_ctx *o, const mg_event *e);
    void (*count)(output_ctx *o, pid_t pid, const char *comm, uint64_t count); /* -c */
    void (*process)(output_ctx *o, pid_t pid, const char *comm); /* -l */
    void (*rule)(output_ctx *o, const mg_rule_match *m); /* a YARA rule matched */
    /* After the scan: anything held back (hidden warnings), then stats. */
    void (*finish)(output_ctx *o);
    void (*summary)(output_ctx *o, const mg_stats *s);
    /* `memgrep watch`: its stats record (JSON: on out; text: one line on err). */
    void (*watch_stats)(output_ctx *o, const output_watch_stats *s);
} output_backend;

extern const output_backend output_text;
extern const output_backend output_json;

/* Shared helpers (output_common.c). */

/* "[anon]"-style display name of a region, for text. */
const char *output_region_name(const mg_region *r);
/* "literal", "hex", "regex". */
const char *output_pattern_kind_name(mg_pattern_kind kind);
/* "gone", "permission", "changed", "other", "timeout": the JSON contract. */
const char *output_event_kind_name(mg_event_kind kind);
/* Why a sweep is incomplete, as the summaries say it: "timeout",
 * "signal" (SIGINT, SIGTERM, SIGHUP), "stopped" (-q, or a write error);
 * "none" when complete. The JSON contract too. */
const char *output_stop_reason_name(mg_stop_reason reason);
/* Processes a sweep meant to scan: scanned, failed or not reached
 * (zombies, kernel threads and memgrep itself are not among them). */
uint64_t output_selected(const mg_stats *s);
/* The report's "complete": the sweep ran to its end and every selected
 * process was scanned whole (or exited: nothing of it is left to miss);
 * no process cut by --process-timeout, none denied or failing, none
 * left unreached. */
bool output_complete(const mg_stats *s);
/* Why not: the stop reason, else "cut" (--process-timeout) or "failed"
 * (a process denied or failing). The JSON contract ("stop_reason"). */
const char *output_incomplete_reason(const mg_stats *s);
/* mg_strerror(err) starting lower case ("permission denied"), into buf. */
const char *output_error_text(int err, char *buf, size_t size);
/* "permission denied: open /proc/PID/mem": the error, then what failed. */
const char *output_event_reason(const mg_event *e, char *buf, size_t size);
/* 1536 -> "1.5 KiB"; buf holds at least 16 bytes. */
const char *output_human_bytes(uint64_t n, char *buf, size_t size);
/* 128 random bits in hex (size >= 33): a run among the reports of a fleet. */
void output_new_run_id(char *out, size_t size);
/* Bytes scanned per second in GB/s (1e9), 0 when no time elapsed. */
double output_gbps(const mg_stats *s);

#endif
