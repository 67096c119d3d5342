/* signals.h - SIGINT, SIGTERM and SIGHUP during a sweep.
 *
 * The handler only records the signal in an atomic flag; the engine polls
 * it through mg_settings.cancel (cli_signals_cancel) and stops within about
 * a second, the record being printed is finished (sink callbacks are
 * serialised and never interrupted), the summary says "incomplete
 * (signal)" and memgrep exits 128 + the signal's number. A second signal
 * while stopping ends memgrep at once (_exit(128 + signal)): whatever
 * stdio still holds is lost, and the last line on stdout may be cut.
 */
#ifndef MEMGREP_CLI_SIGNALS_H
#define MEMGREP_CLI_SIGNALS_H

/* Catch the three signals (from now on, for the rest of the run). Returns
 * 0 or -1 with errno set. */
int cli_signals_install(void);
/* The temporary file (name in directory dir_fd, -1: none) that a second
 * signal removes before exiting; name must stay valid for the run. */
void cli_signals_forget_on_exit(int dir_fd, const char *name);
/* mg_settings.cancel: non-zero once a signal was caught. ctx unused. */
int cli_signals_cancel(void *ctx);
/* The first signal caught, or 0. */
int cli_signals_caught(void);

#endif
