/* dedupe.h - shared-page dedupe: scanning memory shared between processes
 * once per sweep (internal).
 *
 * A work unit's bytes are fully determined by the page frames behind it and
 * where the unit starts and ends inside them. Two units with the same key
 * (frame numbers and offsets) hold the same bytes, so the second can replay
 * the first one's matches instead of reading and scanning again. Units that
 * lie in page-cache pages are keyed by the mapped object and offset instead.
 * Entries are immutable once inserted and live until the table is freed, so
 * a pointer returned by find stays valid without reference counting.
 *
 * Here: the table, the record format a unit's matches are kept in, and the
 * unit keys. */
#ifndef MG_DEDUPE_H
#define MG_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgrep/memgrep.h"
#include "match/patterns.h"

typedef struct mg_dedupe mg_dedupe;

/* max_bytes bounds the memory held; past it, inserts are refused. */
int mg_dedupe_new(mg_dedupe **out, size_t max_bytes);
void mg_dedupe_free(mg_dedupe **d);
/* Drop every entry, keeping the table's slots (an engine's next sweep:
 * records belong to one sweep's pattern set and context). Not concurrent
 * with find or insert. */
void mg_dedupe_clear(mg_dedupe *d);

/* The bytes the table holds (entries and grown slots). */
size_t mg_dedupe_bytes(mg_dedupe *d);

/* The records stored for key[0..n), or NULL; *len set to their size. */
const uint8_t *mg_dedupe_find(mg_dedupe *d, const uint64_t *key, size_t n, size_t *len);

/* Store records for key (copied). False when full or out of memory. */
bool mg_dedupe_insert(mg_dedupe *d, const uint64_t *key, size_t n, const uint8_t *rec, size_t len);

/* ---- records: a unit's matches, replayable at another unit's addresses ---- */

/* A worker's record buffer for the unit it is scanning. Bounded: past max
 * bytes the unit is not recorded (it is simply scanned again elsewhere);
 * its matches are reported all the same. */
typedef struct mg_dedupe_rec {
    uint8_t *data;
    size_t len, cap;
    size_t max; /* bound on len (MG_DEDUPE_MAX_RECORD) */
    uint64_t base; /* first page of the unit: offsets are from here */
    bool complete; /* every page read, every owned match recorded */
} mg_dedupe_rec;

/* Start recording a unit whose first page is base (keeps the buffer). */
void mg_dedupe_rec_start(mg_dedupe_rec *r, uint64_t base);
/* Append hit h; data holds before + (h->end - h->start) + after bytes, the
 * match with its context. False, with complete cleared, when past max or
 * out of memory: stop recording this unit. */
bool mg_dedupe_rec_add(mg_dedupe_rec *r, const mg_hit *h, const uint8_t *data, size_t before,
                       size_t after);
void mg_dedupe_rec_free(mg_dedupe_rec *r);

/* Report the records rec[0..len) (from mg_dedupe_find) as hits of a unit
 * whose first page is base, in recorded order: fn gets each hit with a
 * piece holding exactly its context. Stops at the first verdict other than
 * MG_SINK_CONTINUE and returns it. */
int mg_dedupe_replay(const uint8_t *rec, size_t len, uint64_t base, mg_report_fn fn, void *ctx);

/* ---- unit keys ---- */

/* Where a unit lies in its pages: pa its first page, [ba, bb) its window
 * (owned bytes and overlap), [own_start, own_end) its owned bytes. */
typedef struct mg_dedupe_span {
    uint64_t pa, ba, bb, own_start, own_end;
} mg_dedupe_span;

#define MG_DEDUPE_FILE_KEY_WORDS 6
#define MG_DEDUPE_FRAME_KEY_WORDS(npages) ((npages) + 2)
/* A batch of small regions (unit.c): its frame key, then one bounds word
 * per region it reads. Never equal to a frame key: the same first word
 * means the same npages, and a batch has one region at least. */
#define MG_DEDUPE_BATCH_KEY_WORDS(npages, nregions) ((npages) + 2 + (nregions))

/* A region [start, end) inside a batch whose first page is pa (spans are
 * below 4 GiB: MG_MAX_CHUNK_SIZE). */
static inline uint64_t mg_dedupe_bounds_word(uint64_t pa, uint64_t start, uint64_t end)
{
    return (start - pa) | (end - pa) << 32;
}

/* Key by frame numbers, from the unit's np pagemap entries: the span, then
 * each page's frame number (0: not present). Returns the key length, or 0
 * if no page is shared with another mapping (nobody will ask again) or the
 * frame numbers are hidden (no CAP_SYS_ADMIN). */
size_t mg_dedupe_frame_key(uint64_t *key, const uint64_t *pm, size_t np, const mg_dedupe_span *sp);

/* Key by mapped object and offset, for a unit that lies wholly in a run of
 * page-cache (or shmem) pages of region r: its bytes are the object's, the
 * same in every process that maps them. Returns the key length, or 0 if r
 * is not a file or shared memory with an inode. Never equal to a frame
 * key (first word). */
size_t mg_dedupe_file_key(uint64_t *key, const mg_region *r, const mg_dedupe_span *sp);

/* Whether all np pages are still present page-cache pages and one at least
 * is mapped elsewhere too: only then is a file key worth recording under. */
bool mg_dedupe_file_pages_shared(const uint64_t *pm, size_t np);

#endif
