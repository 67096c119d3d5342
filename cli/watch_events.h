/* watch_events.h - new processes for `memgrep watch`: the kernel's process
 * events connector (netlink NETLINK_CONNECTOR, CN_IDX_PROC: fork and exec
 * of every process, as they happen; needs CAP_NET_ADMIN), or, where that
 * socket cannot be opened, /proc read again every WATCH_POLL_MS (new pids
 * only: a process that execs in place is not seen, and one that lives less
 * than a tick may be missed). No printing, no globals: one handle each. */
#ifndef MEMGREP_CLI_WATCH_EVENTS_H
#define MEMGREP_CLI_WATCH_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The /proc fallback's tick. */
#define WATCH_POLL_MS 10

typedef enum watch_source {
    WATCH_SOURCE_AUTO = 0, /* the connector, else /proc */
    WATCH_SOURCE_CONNECTOR, /* the connector or fail */
    WATCH_SOURCE_PROC, /* /proc polling (tests force the fallback) */
} watch_source;

typedef enum watch_event_kind {
    WATCH_EVENT_FORK = 0, /* a new process (not a thread); /proc: a new pid */
    WATCH_EVENT_EXEC, /* a process replaced its image */
} watch_event_kind;

typedef struct watch_event {
    pid_t pid;
    watch_event_kind kind;
    /* CLOCK_MONOTONIC nanoseconds: when the kernel sent it (connector), or
     * the tick that found the pid (/proc) */
    uint64_t time_ns;
} watch_event;

typedef struct watch_events watch_events;

/* Open the source. *why (may be NULL) receives, when AUTO fell back to
 * /proc, why the connector could not be used (a static string plus errno
 * text in buf). Returns 0 or a negative errno (CONNECTOR that could not be
 * opened, or no memory). */
int watch_events_open(watch_events **out, watch_source source, char *why, size_t why_size);
void watch_events_free(watch_events **e);

/* "connector" or "proc". */
const char *watch_events_source_name(const watch_events *e);
/* The descriptor to poll for input (the connector's socket), or -1 with
 * /proc polling: then call watch_events_read at least every WATCH_POLL_MS. */
int watch_events_fd(const watch_events *e);

/* What has come in since the last call, at most max events into ev, in
 * order. Returns the count (0: nothing now). Never blocks. Events that did
 * not fit in ev stay for the next call. */
size_t watch_events_read(watch_events *e, watch_event *ev, size_t max);

/* Since open: events delivered, and overruns of the socket's buffer
 * (ENOBUFS: the kernel dropped events; how many is not known). */
uint64_t watch_events_seen(const watch_events *e);
uint64_t watch_events_overruns(const watch_events *e);

/* The start time of pid (field 22 of /proc/PID/stat, clock ticks after
 * boot): with the pid, one process's identity. 0 or a negative errno
 * (-ENOENT: no such process). */
int watch_proc_start(pid_t pid, unsigned long long *start);

#endif
