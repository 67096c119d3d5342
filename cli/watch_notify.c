/* watch_notify.c - sd_notify for `memgrep watch` (watch_notify.h). */
#include "watch_notify.h"

#include <inttypes.h>
#include <math.h>
#include <time.h>

#ifdef MG_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

bool watch_notify_built(void)
{
    return true;
}

void watch_notify_init(watch_notify *n)
{
    uint64_t usec = 0;
    n->interval = sd_watchdog_enabled(0, &usec) > 0 && usec ? (double)usec / 2e6 : 0;
    n->next = 0;
}

void watch_notify_ready(const char *source)
{
    sd_notifyf(0, "READY=1\nSTATUS=watching (%s events)", source);
}

void watch_notify_ping(watch_notify *n, double now)
{
    if (n->interval <= 0 || now < n->next)
        return;
    n->next = now + n->interval;
    sd_notify(0, "WATCHDOG=1");
}

void watch_notify_status(const output_watch_stats *s)
{
    sd_notifyf(0,
               "STATUS=watching (%s events): %" PRIu64 " scans, %" PRIu64 " alerts, %" PRIu64
               " events, %" PRIu64 " overruns, %" PRIu64 " reloads",
               s->event_source, s->scans, s->alerts, s->events_seen, s->events_overruns,
               s->reloads);
}

void watch_notify_reloading(void)
{
    /* MONOTONIC_USEC: what Type=notify-reload (systemd 253) wants with
     * RELOADING=1; systemd 252 (Debian 12) takes RELOADING=1 alone */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading the patterns",
               (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

void watch_notify_reloaded(const char *source)
{
    watch_notify_ready(source);
}

void watch_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

#else /* no libsystemd: the unit is Type=simple, nothing to tell */

bool watch_notify_built(void)
{
    return false;
}

void watch_notify_init(watch_notify *n)
{
    n->interval = 0;
    n->next = 0;
}

void watch_notify_ready(const char *source)
{
    (void)source;
}

void watch_notify_ping(watch_notify *n, double now)
{
    (void)n;
    (void)now;
}

void watch_notify_status(const output_watch_stats *s)
{
    (void)s;
}

void watch_notify_reloading(void)
{
}

void watch_notify_reloaded(const char *source)
{
    (void)source;
}

void watch_notify_stopping(void)
{
}
#endif

double watch_notify_due(const watch_notify *n)
{
    return n->interval > 0 ? n->next : INFINITY;
}
