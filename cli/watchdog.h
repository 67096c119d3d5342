/* watchdog.h - the --timeout watchdog of `memgrep scan` (watchdog.c).
 *
 * The engine stops at --timeout between reads, but a read blocked in the
 * kernel can't see that: a target's memory-map lock held by a reader stuck
 * in FUSE I/O (/proc/PID/mem holds it across the I/O), with a writer queued
 * behind it, blocks every pagemap, PAGEMAP_SCAN, process_vm_readv and mem
 * read of that target until the file system answers, maybe never. So when
 * the sweep has not ended half a second after --timeout, the output so
 * far is finished and the summary printed from what the sink saw (marked
 * incomplete, stop reason timeout), and memgrep exits 3 with the blocked
 * thread left behind: its waits are killable, so the exit takes it. */
#ifndef MEMGREP_CLI_WATCHDOG_H
#define MEMGREP_CLI_WATCHDOG_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "memgrep/memgrep.h"
#include "output/outfile.h"
#include "output/output.h"
#include "output/sink.h"

typedef struct cli_watchdog {
    /* set by the caller: */
    cli_sink *sink;
    const output_backend *be;
    output_ctx *out;
    bool summary;
    cli_outfile *file;
    unsigned threads;
    /* the watchdog's own: */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done; /* mg_scan returned */
    struct timespec at; /* CLOCK_MONOTONIC */
    double started; /* CLOCK_MONOTONIC seconds */
} cli_watchdog;

/* Starts the watchdog if set has a timeout; false if there is none (or no
 * thread could be made: then the engine's timeout alone). */
bool cli_watchdog_start(cli_watchdog *wd, pthread_t *th, const mg_settings *set);
/* mg_scan returned: stop and join it. */
void cli_watchdog_stop(cli_watchdog *wd, pthread_t th);

#endif
