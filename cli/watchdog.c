/* watchdog.c - the --timeout watchdog of `memgrep scan` (watchdog.h). */
#include "watchdog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

/* How long after --timeout the sweep may take to end (watchdog.h). */
#define WATCHDOG_GRACE_S 0.5

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *watchdog_main(void *arg)
{
    cli_watchdog *wd = arg;
    pthread_mutex_lock(&wd->lock);
    while (!wd->done)
        if (pthread_cond_timedwait(&wd->cond, &wd->lock, &wd->at) == ETIMEDOUT && !wd->done) {
            /* The lock stays held: mg_scan returning now can't race us. */
            fprintf(stderr, "memgrep: the sweep did not stop at --timeout: a read of a target's "
                            "memory is blocked in the kernel (its memory map lock is held, as by "
                            "a stuck FUSE read); exiting without it\n");
            mg_stats st;
            memset(&st, 0, sizeof(st));
            st.matches = wd->sink->matches;
            st.elapsed_seconds = mono_now() - wd->started;
            st.threads = wd->threads;
            st.stop_reason = MG_STOP_TIMEOUT;
            st.complete = false;
            cli_sink_progress_clear(wd->sink);
            wd->be->finish(wd->out);
            cli_sink_finish(wd->sink);
            if (wd->summary)
                wd->be->summary(wd->out, &st);
            int status = EXIT_TIMEOUT;
            if (fflush(wd->out->out) != 0 || (wd->file && cli_outfile_commit(wd->file) < 0))
                status = EXIT_TROUBLE;
            fflush(stderr);
            _exit(status);
        }
    pthread_mutex_unlock(&wd->lock);
    return NULL;
}

bool cli_watchdog_start(cli_watchdog *wd, pthread_t *th, const mg_settings *set)
{
    if (!(set->timeout > 0))
        return false;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&wd->lock, NULL);
    wd->started = mono_now();
    double at = wd->started + set->timeout + WATCHDOG_GRACE_S;
    wd->at.tv_sec = (time_t)at;
    wd->at.tv_nsec = (long)((at - (double)wd->at.tv_sec) * 1e9);
    if (pthread_create(th, NULL, watchdog_main, wd) != 0) {
        pthread_cond_destroy(&wd->cond);
        pthread_mutex_destroy(&wd->lock);
        return false; /* no watchdog: as before, the engine's timeout alone */
    }
    return true;
}

void cli_watchdog_stop(cli_watchdog *wd, pthread_t th)
{
    pthread_mutex_lock(&wd->lock);
    wd->done = true;
    pthread_cond_signal(&wd->cond);
    pthread_mutex_unlock(&wd->lock);
    pthread_join(th, NULL);
    pthread_cond_destroy(&wd->cond);
    pthread_mutex_destroy(&wd->lock);
}
