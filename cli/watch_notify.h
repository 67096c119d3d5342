/* watch_notify.h - `memgrep watch` under systemd's Type=notify
 * (watch_notify.c): READY=1 once the first patterns are loaded and the
 * event source is open, STATUS= with the counts, WATCHDOG=1 every half of
 * WatchdogSec= (sd_watchdog_enabled), RELOADING=1 and READY=1 around a
 * SIGHUP reload, STOPPING=1 on the way out. Nothing outside a service
 * ($NOTIFY_SOCKET unset), and nothing at all when memgrep is built without
 * libsystemd (the unit is then Type=simple, deploy/meson.build). */
#ifndef MEMGREP_CLI_WATCH_NOTIFY_H
#define MEMGREP_CLI_WATCH_NOTIFY_H

#include <stdbool.h>

#include "output/output.h"

typedef struct watch_notify {
    double interval; /* seconds between WATCHDOG=1; 0: no watchdog */
    double next; /* monotonic seconds of the next WATCHDOG=1 */
} watch_notify;

/* Whether this memgrep was built with libsystemd (sd_notify). */
bool watch_notify_built(void);

/* Reads the watchdog's interval ($WATCHDOG_USEC for this pid). */
void watch_notify_init(watch_notify *n);

/* READY=1 with a STATUS= line (source: the event source's name). */
void watch_notify_ready(const char *source);

/* WATCHDOG=1 if half the watchdog interval has gone since the last one
 * (now: monotonic seconds); any thread may call it, one at a time. */
void watch_notify_ping(watch_notify *n, double now);

/* When the next WATCHDOG=1 is due (monotonic seconds; INFINITY: never). */
double watch_notify_due(const watch_notify *n);

/* STATUS= with the counts of a stats record. */
void watch_notify_status(const output_watch_stats *s);

/* Around a SIGHUP reload. */
void watch_notify_reloading(void);
void watch_notify_reloaded(const char *source);

/* On the way out (SIGINT, SIGTERM, a failed output). */
void watch_notify_stopping(void);

#endif
