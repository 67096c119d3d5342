/* watch_alerts.h - `memgrep watch` reports a hit once: per process
 * identity (pid and start time), pattern or rule, and address, for as long
 * as a scan keeps finding it. A set of those keys, each stamped with the
 * scan that last saw it; what a later whole scan of the process no longer
 * finds, and everything of a process that is gone, is dropped, so the set
 * holds only live hits (bounded by them). No printing, no globals. */
#ifndef MEMGREP_CLI_WATCH_ALERTS_H
#define MEMGREP_CLI_WATCH_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct watch_alert_key {
    pid_t pid;
    unsigned long long start; /* /proc/PID/stat field 22 */
    uint64_t what; /* a pattern id, or a hash of a rule's namespace and name */
    bool rule;
    uint64_t address; /* a match's, or a rule's first hit's (0: none) */
} watch_alert_key;

typedef struct watch_alert {
    watch_alert_key key;
    uint64_t scan; /* the scan that last found it */
    bool used; /* slot in use */
} watch_alert;

typedef struct watch_alerts {
    watch_alert *slots; /* linear probing, power-of-two capacity */
    size_t cap, n;
} watch_alerts;

/* Record that scan `scan` found key: 1 if it is new (report it), 0 if it
 * was known (its stamp is now scan), -1 out of memory (report it: a hit is
 * never lost to our bookkeeping). */
int watch_alerts_note(watch_alerts *a, const watch_alert_key *key, uint64_t scan);

/* After a whole scan `scan` of the process (pid, start): drop its keys that
 * scan did not find (the hit went away: if it comes back it is new). */
void watch_alerts_settle(watch_alerts *a, pid_t pid, unsigned long long start, uint64_t scan);

/* Drop every key whose process is gone: alive(ctx, pid, start) false. */
void watch_alerts_prune(watch_alerts *a,
                        bool (*alive)(void *ctx, pid_t pid, unsigned long long start), void *ctx);

/* FNV-1a of n bytes, continuing h (WATCH_ALERTS_HASH_INIT to begin): a
 * pattern's or rule's watch_alert_key.what from what it is, so that the
 * same pattern keeps its alerts across a reload. */
#define WATCH_ALERTS_HASH_INIT 0xcbf29ce484222325ull
uint64_t watch_alerts_hash(uint64_t h, const void *data, size_t n);

void watch_alerts_free(watch_alerts *a);

#endif
