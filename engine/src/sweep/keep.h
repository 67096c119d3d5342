/* keep.h - incremental reads: the results of page-cache pages kept across
 * an engine's scans (internal; mg_settings.incremental).
 *
 * A unit that lies wholly in page-cache pages of a file holds the file's
 * bytes. Its matches are kept after the scan under a key naming the bytes:
 * the file's identity (device, inode, size, mtime, ctime, taken before the
 * read), the unit's place in the file and window (dedupe.h's file key),
 * and each page's frame number. A later scan, of any process mapping the
 * same pages, with the same identity and the same frames, replays them
 * instead of reading: a file rewritten (new inode, size or times) or a page
 * evicted and read in again (a new frame) is read again. Pages written
 * without moving the file's times, through a shared mapping while they stay
 * dirty, are ruled out by the page's dirty bit (/proc/kpageflags) for files
 * whose times are recent (MG_KEEP_SETTLE_S): an older dirty page would have
 * been written back, and its next write moves the times. tmpfs and shared
 * memory (no write-back: a write through a mapping never moves the times)
 * and mappings the process itself may write through (shared, writable) are
 * never kept.
 *
 * Two generations of dedupe tables (dedupe.c) bound the memory: entries go
 * into the current one; an entry found in the previous one is copied
 * forward; between scans, once the current one holds half its bound, the
 * previous one is freed and the current one becomes it. What no scan asked
 * for over a generation goes. Everything is dropped when the pattern set
 * changes (mg_patterns.keep_id): records belong to one set. */
#ifndef MG_KEEP_H
#define MG_KEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"
#include "sweep/dedupe.h"

typedef struct mg_keep mg_keep;

int mg_keep_new(mg_keep **out);
void mg_keep_free(mg_keep **k);
/* Before a scan (the calling thread, no worker running): drop everything
 * if the pattern set is not the one of the scans before (pats_id 0: not
 * known, keep nothing). */
void mg_keep_begin(mg_keep *k, uint64_t pats_id);
/* After a scan: rotate the generations if the current one is half full. */
void mg_keep_end(mg_keep *k);

/* The records kept for key[0..n), or NULL (valid until mg_keep_end). */
const uint8_t *mg_keep_find(mg_keep *k, const uint64_t *key, size_t n, size_t *len);
void mg_keep_insert(mg_keep *k, const uint64_t *key, size_t n, const uint8_t *rec, size_t len);

/* A worker's cache of file identities for the scan it is in (reset by
 * mg_keep_ids_reset when it is bound to a scan): each file is looked at
 * once per scan and per worker, before any of its pages is read. */
#define MG_KEEP_IDS 64 /* a power of two */
typedef struct mg_keep_id {
    uint64_t dev, ino; /* as the maps show them; ino 0: empty slot */
    uint64_t words[3]; /* size, mtime, ctime (ns); words[0] ~0: not keepable */
    bool recent; /* times within MG_KEEP_SETTLE_S: check pages' dirty bits */
} mg_keep_id;
typedef struct mg_keep_ids {
    mg_keep_id slot[MG_KEEP_IDS];
} mg_keep_ids;

void mg_keep_ids_reset(mg_keep_ids *ids);

/* Words of a keep key beyond the file key: identity, then a frame per page. */
#define MG_KEEP_KEY_WORDS(npages) (MG_DEDUPE_FILE_KEY_WORDS + 3 + (npages))

/* The keep key of a unit of region r of process pid whose file key is
 * key[0..MG_DEDUPE_FILE_KEY_WORDS) and whose np pagemap entries are pm:
 * written after the file key; returns its length, or 0 when the unit is not
 * keepable (not a file or on tmpfs, writable shared mapping, a page not a
 * present page-cache page, frame numbers hidden, the identity unknown, or a
 * page dirty in a recently changed file). */
size_t mg_keep_key(mg_keep *k, mg_keep_ids *ids, pid_t pid, const mg_region *r, uint64_t *key,
                   const uint64_t *pm, size_t np);

/* ---- soft-dirty (mg_settings.soft_dirty): anonymous memory ---- */

/* Before any page of process pid (start time start) is read in this scan:
 * its epoch, the number its units' records are kept under (0: none, its
 * anonymous memory is read and nothing kept), and in *reuse whether
 * records of the epoch may be replayed. A new epoch (reuse false) is
 * started by clearing the process's soft-dirty bits (/proc/PID/clear_refs)
 * at its first scan and every MG_SOFT_DIRTY_SCANS-th: a record is only
 * good for writes the bits show, those after the clear before its read. */
uint64_t mg_keep_sd_begin(mg_keep *k, pid_t pid, uint64_t start, bool *reuse);

/* The soft-dirty key of a unit of process pid (start, epoch) whose window
 * span is sp and np pagemap entries pm: 0 when a page of it was written
 * since the epoch began (soft-dirty) or its frames can't be told. */
#define MG_KEEP_SD_KEY_WORDS(npages) (7 + (npages))
size_t mg_keep_sd_key(uint64_t *key, pid_t pid, uint64_t start, uint64_t epoch,
                      const mg_dedupe_span *sp, const uint64_t *pm, size_t np);

#endif
