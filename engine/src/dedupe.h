/* dedupe.h - results of scanning shared physical memory, kept for a sweep
 * (internal).
 *
 * A work unit's bytes are fully determined by the page frames behind it and
 * where the unit starts and ends inside them. Two units with the same key
 * (frame numbers and offsets) hold the same bytes, so the second can replay
 * the first one's matches instead of reading and scanning again. Entries are
 * immutable once inserted and live until the table is freed, so a pointer
 * returned by find stays valid without reference counting. */
#ifndef MG_DEDUPE_H
#define MG_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mg_dedupe mg_dedupe;

/* max_bytes bounds the memory held; past it, inserts are refused. */
int mg_dedupe_new(mg_dedupe **out, size_t max_bytes);
void mg_dedupe_free(mg_dedupe **d);

/* The records stored for key[0..n), or NULL; *len set to their size. */
const uint8_t *mg_dedupe_find(mg_dedupe *d, const uint64_t *key, size_t n, size_t *len);

/* Store records for key (copied). False when full or out of memory. */
bool mg_dedupe_insert(mg_dedupe *d, const uint64_t *key, size_t n, const uint8_t *rec, size_t len);

#endif
