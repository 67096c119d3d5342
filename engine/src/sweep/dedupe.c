/* dedupe.c - shared-page dedupe: an open-addressing table of immutable
 * entries behind a reader-writer lock (one lookup per work unit: on a host
 * of small processes, units of a few pages, and lookups of the same shared
 * libraries' keys by every worker at once, which a mutex made them queue
 * for), the record format a unit's matches are kept in, and the keys units
 * are known by. */
#include "sweep/dedupe.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "limits_internal.h"
#include "os/residency.h"

typedef struct entry {
    uint64_t hash;
    size_t n, len;
    uint8_t *rec; /* points into the same allocation, after key */
    uint64_t key[];
} entry;

struct mg_dedupe {
    pthread_rwlock_t lock; /* read: find; write: insert (and grow) */
    entry **slots;
    size_t cap, used;
    size_t bytes, max_bytes;
};

static uint64_t hash_key(const uint64_t *key, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= key[i] + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdull;
    }
    return h ^ (h >> 33);
}

int mg_dedupe_new(mg_dedupe **out, size_t max_bytes)
{
    mg_dedupe *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->cap = MG_DEDUPE_INITIAL_SLOTS;
    d->slots = calloc(d->cap, sizeof(*d->slots));
    if (!d->slots) {
        free(d);
        return -ENOMEM;
    }
    d->max_bytes = max_bytes;
    pthread_rwlock_init(&d->lock, NULL);
    *out = d;
    return 0;
}

void mg_dedupe_free(mg_dedupe **pd)
{
    if (!pd || !*pd)
        return;
    mg_dedupe *d = *pd;
    for (size_t i = 0; i < d->cap; i++)
        free(d->slots[i]);
    free(d->slots);
    pthread_rwlock_destroy(&d->lock);
    free(d);
    *pd = NULL;
}

void mg_dedupe_clear(mg_dedupe *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->cap; i++)
        free(d->slots[i]);
    memset(d->slots, 0, d->cap * sizeof(*d->slots));
    d->used = 0;
    /* the slots stay allocated and counted, as grow() counts them */
    d->bytes = d->cap > MG_DEDUPE_INITIAL_SLOTS
                   ? (d->cap - MG_DEDUPE_INITIAL_SLOTS) * sizeof(*d->slots)
                   : 0;
}

size_t mg_dedupe_bytes(mg_dedupe *d)
{
    pthread_rwlock_rdlock(&d->lock);
    size_t bytes = d->bytes;
    pthread_rwlock_unlock(&d->lock);
    return bytes;
}

static entry **slot_of(entry **slots, size_t cap, uint64_t h, const uint64_t *key, size_t n)
{
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        entry *e = slots[i];
        if (!e || (e->hash == h && e->n == n && !memcmp(e->key, key, n * sizeof(*key))))
            return &slots[i];
    }
}

const uint8_t *mg_dedupe_find(mg_dedupe *d, const uint64_t *key, size_t n, size_t *len)
{
    uint64_t h = hash_key(key, n);
    pthread_rwlock_rdlock(&d->lock);
    entry *e = *slot_of(d->slots, d->cap, h, key, n);
    pthread_rwlock_unlock(&d->lock);
    if (!e)
        return NULL;
    *len = e->len;
    return e->rec;
}

static bool grow(mg_dedupe *d)
{
    size_t cap = d->cap * 2;
    entry **slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return false;
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i])
            *slot_of(slots, cap, d->slots[i]->hash, d->slots[i]->key, d->slots[i]->n) = d->slots[i];
    free(d->slots);
    d->slots = slots;
    d->bytes += (cap - d->cap) * sizeof(*slots);
    d->cap = cap;
    return true;
}

bool mg_dedupe_insert(mg_dedupe *d, const uint64_t *key, size_t n, const uint8_t *rec, size_t len)
{
    uint64_t h = hash_key(key, n);
    size_t size = sizeof(entry) + n * sizeof(*key) + len;
    bool ok = false;
    pthread_rwlock_wrlock(&d->lock);
    if (d->bytes + size > d->max_bytes || ((d->used + 1) * 2 > d->cap && !grow(d)))
        goto out;
    entry **s = slot_of(d->slots, d->cap, h, key, n);
    if (*s) {
        ok = true; /* another worker got there first: same bytes, same result */
        goto out;
    }
    entry *e = malloc(size);
    if (!e)
        goto out;
    e->hash = h;
    e->n = n;
    e->len = len;
    memcpy(e->key, key, n * sizeof(*key));
    e->rec = (uint8_t *)(e->key + n);
    if (len)
        memcpy(e->rec, rec, len);
    *s = e;
    d->used++;
    d->bytes += size;
    ok = true;
out:
    pthread_rwlock_unlock(&d->lock);
    return ok;
}

/* ---- records ------------------------------------------------------------ */

/* A recorded match; followed by before + len + after bytes of data. */
typedef struct rec_hdr {
    uint64_t off; /* start - first page of the unit */
    uint32_t len, pattern_id;
    uint16_t before, after;
    uint8_t wide;
} rec_hdr;

void mg_dedupe_rec_start(mg_dedupe_rec *r, uint64_t base)
{
    r->len = 0;
    r->base = base;
    r->complete = true;
}

bool mg_dedupe_rec_add(mg_dedupe_rec *r, const mg_hit *h, const uint8_t *data, size_t before,
                       size_t after)
{
    size_t len = (size_t)(h->end - h->start);
    size_t need = sizeof(rec_hdr) + before + len + after;
    if (r->len + need > r->max) {
        r->complete = false;
        return false;
    }
    if (r->len + need > r->cap) {
        size_t cap = r->cap * 2 > r->len + need + 4096 ? r->cap * 2 : r->len + need + 4096;
        cap = cap < r->max ? cap : r->max;
        uint8_t *nr = realloc(r->data, cap);
        if (!nr) {
            r->complete = false;
            return false;
        }
        r->data = nr;
        r->cap = cap;
    }
    rec_hdr hdr = {
        .off = h->start - r->base,
        .len = (uint32_t)len,
        .pattern_id = h->pattern_id,
        .before = (uint16_t)before,
        .after = (uint16_t)after,
        .wide = h->wide,
    };
    memcpy(r->data + r->len, &hdr, sizeof(hdr));
    memcpy(r->data + r->len + sizeof(hdr), data, before + len + after);
    r->len += need;
    return true;
}

void mg_dedupe_rec_free(mg_dedupe_rec *r)
{
    free(r->data);
    r->data = NULL;
    r->len = r->cap = 0;
}

int mg_dedupe_replay(const uint8_t *rec, size_t len, uint64_t base, mg_report_fn fn, void *ctx)
{
    for (size_t pos = 0; pos + sizeof(rec_hdr) <= len;) {
        rec_hdr hdr;
        memcpy(&hdr, rec + pos, sizeof(hdr));
        const uint8_t *data = rec + pos + sizeof(hdr);
        pos += sizeof(hdr) + hdr.before + hdr.len + hdr.after;
        mg_hit h = {
            .start = base + hdr.off,
            .end = base + hdr.off + hdr.len,
            .pattern_id = hdr.pattern_id,
            .wide = hdr.wide,
        };
        mg_piece pc = {
            .buf = data,
            .addr = h.start - hdr.before,
            .len = (size_t)hdr.before + hdr.len + hdr.after,
        };
        int v = fn(ctx, &h, &pc);
        if (v != MG_SINK_CONTINUE)
            return v;
    }
    return MG_SINK_CONTINUE;
}

/* ---- unit keys ---------------------------------------------------------- */

/* Two words: where the window and the owned bytes lie from the first page. */
static void span_words(uint64_t *key, const mg_dedupe_span *sp)
{
    key[0] = (sp->ba - sp->pa) | (sp->bb - sp->pa) << 32;
    key[1] = (sp->own_start - sp->pa) | (sp->own_end - sp->pa) << 32;
}

size_t mg_dedupe_frame_key(uint64_t *key, const uint64_t *pm, size_t np, const mg_dedupe_span *sp)
{
    bool shared = false;
    for (size_t i = 0; i < np; i++) {
        uint64_t e = pm[i];
        if (!(e & MG_PM_PRESENT)) {
            key[2 + i] = 0;
            continue;
        }
        if (!(e & MG_PM_PFN_MASK))
            return 0;
        shared |= !(e & MG_PM_EXCLUSIVE);
        key[2 + i] = e & MG_PM_PFN_MASK;
    }
    if (!shared)
        return 0;
    span_words(key, sp);
    return MG_DEDUPE_FRAME_KEY_WORDS(np);
}

size_t mg_dedupe_file_key(uint64_t *key, const mg_region *r, const mg_dedupe_span *sp)
{
    if (!r->inode || (r->kind != MG_REGION_FILE && r->kind != MG_REGION_SHM))
        return 0;
    /* ~0 can't be a frame key's first word: offsets in a window are < 2^32 */
    key[0] = ~0ull;
    key[1] = (uint64_t)r->dev_major << 32 | r->dev_minor;
    key[2] = r->inode;
    key[3] = r->offset + (sp->pa - r->start);
    span_words(key + 4, sp);
    return MG_DEDUPE_FILE_KEY_WORDS;
}

bool mg_dedupe_file_pages_shared(const uint64_t *pm, size_t np)
{
    bool shared = false;
    for (size_t i = 0; i < np; i++) {
        uint64_t e = pm[i];
        if ((e & (MG_PM_PRESENT | MG_PM_FILE)) != (MG_PM_PRESENT | MG_PM_FILE))
            return false;
        shared |= !(e & MG_PM_EXCLUSIVE);
    }
    return shared;
}
