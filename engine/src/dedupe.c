/* dedupe.c - a mutex-guarded open-addressing table of immutable entries.
 * One lookup per work unit (a megabyte of target memory), so one lock is
 * not a point of contention. */
#include "dedupe.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint64_t hash;
    size_t n, len;
    uint8_t *rec; /* points into the same allocation, after key */
    uint64_t key[];
} entry;

struct mg_dedupe {
    pthread_mutex_t lock;
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
    d->cap = 1024;
    d->slots = calloc(d->cap, sizeof(*d->slots));
    if (!d->slots) {
        free(d);
        return -ENOMEM;
    }
    d->max_bytes = max_bytes;
    pthread_mutex_init(&d->lock, NULL);
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
    pthread_mutex_destroy(&d->lock);
    free(d);
    *pd = NULL;
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
    pthread_mutex_lock(&d->lock);
    entry *e = *slot_of(d->slots, d->cap, h, key, n);
    pthread_mutex_unlock(&d->lock);
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
    pthread_mutex_lock(&d->lock);
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
    pthread_mutex_unlock(&d->lock);
    return ok;
}
