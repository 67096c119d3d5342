/* signals.c - SIGINT, SIGTERM and SIGHUP during a sweep: see signals.h. */
#include "signals.h"

#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

/* Read by the engine's threads, written by the handler: a lock-free
 * atomic is safe in both places. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal flag must be lock-free");
static atomic_int caught;
/* -o's temporary file where the file system has no O_TMPFILE (outfile.h),
 * removed by a second signal if not yet renamed (unlinkat is
 * async-signal-safe); set once before the sweep, read by the handler. */
static int tmp_dir_fd = -1;
static const char *tmp_name;

static void on_signal(int sig)
{
    if (atomic_exchange(&caught, sig) != 0) {
        /* The second signal: the user means it. No temporary file is
         * left; FILE is as it was, or, once something was found, holds the
         * records written so far (outfile.h). */
        if (tmp_name && tmp_name[0])
            unlinkat(tmp_dir_fd, tmp_name, 0);
        _exit(128 + sig);
    }
}

int cli_signals_install(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return -1;
    return 0;
}

void cli_signals_forget_on_exit(int dir_fd, const char *name)
{
    tmp_dir_fd = dir_fd;
    tmp_name = dir_fd >= 0 ? name : NULL;
}

int cli_signals_cancel(void *ctx)
{
    (void)ctx;
    return atomic_load_explicit(&caught, memory_order_relaxed) != 0;
}

int cli_signals_caught(void)
{
    return atomic_load(&caught);
}
