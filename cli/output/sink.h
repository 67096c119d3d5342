/* sink.h - the mg_sink of memgrep: what to report for -c, -l, -q or plain
 * matches; how it looks is up to the output back-end. */
#ifndef MEMGREP_CLI_SINK_H
#define MEMGREP_CLI_SINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "output/output.h"

/* What the sink does with a match. */
typedef enum cli_mode {
    CLI_MODE_MATCHES = 0,
    CLI_MODE_COUNT, /* -c */
    CLI_MODE_LIST, /* -l */
    CLI_MODE_QUIET, /* -q */
} cli_mode;

/* One matching process (for -c and -l: matches of a process can arrive
 * from several workers, interleaved with other processes). */
typedef struct cli_proc {
    pid_t pid; /* 0: empty slot */
    uint64_t count;
    char *comm;
} cli_proc;

/* Locking: the engine serialises its callbacks, but the --timeout watchdog
 * (cmd_scan.c) finishes the output from its own thread while a stuck sweep
 * may still be inside one. So every callback holds `lock` (uncontended in
 * a sweep), and the watchdog takes it before it touches the output. */
typedef struct cli_sink {
    pthread_mutex_t lock;
    cli_mode mode;
    const output_backend *be;
    output_ctx *out;
    cli_proc *procs; /* open addressing, power-of-two capacity */
    size_t procs_cap, procs_n;
    uint64_t matches; /* seen by the sink, whatever the mode */
    bool out_of_memory;
    bool write_error;
    int write_errno; /* errno when write_error was found (ENOSPC...) */
    bool publish_failed; /* -o's file could not be made FILE (said) */
    bool progress; /* show a progress line on stderr */
    bool progress_shown; /* a progress line is on the screen now */
    /* -t TAG and --identifier NAME (yara's -t, -i): only rules with one of
     * the tags and one of the names are shown (none given: all) */
    const char *const *sel_tags, *const *sel_ids;
    size_t n_sel_tags, n_sel_ids;
    /* scan --findings: each target's findings, handed on under `lock`
     * (NULL: none asked for) */
    int (*findings)(void *ctx, const mg_process *p, const mg_finding *list, size_t n);
    void *findings_ctx;
} cli_sink;

void cli_sink_init(cli_sink *s, cli_mode mode, const output_backend *be, output_ctx *out);
mg_sink cli_sink_get(cli_sink *s);
/* After the scan: -c prints its counts (sorted by pid). */
void cli_sink_finish(cli_sink *s);
void cli_sink_free(cli_sink *s);
/* Erase the progress line, if one is shown. */
void cli_sink_progress_clear(cli_sink *s);
/* For a thread other than the engine's (the watchdog): take the sink's
 * lock, waiting at most `seconds` for a callback in progress to end. True
 * if taken; then no callback runs until cli_sink_unlock. */
bool cli_sink_lock_within(cli_sink *s, double seconds);
void cli_sink_unlock(cli_sink *s);

#endif
