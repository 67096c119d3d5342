/* watch_alerts.c - the set of hits `memgrep watch` has reported
 * (watch_alerts.h). */
#include "watch_alerts.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static size_t key_hash(const watch_alert_key *k)
{
    uint64_t h = mix(0, (uint64_t)(unsigned)k->pid);
    h = mix(h, k->start);
    h = mix(h, k->what);
    h = mix(h, k->rule);
    h = mix(h, k->address);
    return (size_t)(h ^ (h >> 29));
}

static bool key_eq(const watch_alert_key *a, const watch_alert_key *b)
{
    return a->pid == b->pid && a->start == b->start && a->what == b->what && a->rule == b->rule &&
           a->address == b->address;
}

/* The slot of key, or the empty one where it would go. */
static size_t find(const watch_alerts *a, const watch_alert_key *k)
{
    size_t i = key_hash(k) & (a->cap - 1);
    while (a->slots[i].used && !key_eq(&a->slots[i].key, k))
        i = (i + 1) & (a->cap - 1);
    return i;
}

static int grow(watch_alerts *a, size_t cap)
{
    watch_alert *old = a->slots;
    size_t old_cap = a->cap;
    a->slots = calloc(cap, sizeof(*a->slots));
    if (!a->slots) {
        a->slots = old;
        return -1;
    }
    a->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].used)
            a->slots[find(a, &old[i].key)] = old[i];
    free(old);
    return 0;
}

int watch_alerts_note(watch_alerts *a, const watch_alert_key *key, uint64_t scan)
{
    if (2 * (a->n + 1) > a->cap && grow(a, a->cap ? 2 * a->cap : 64) < 0)
        return -1;
    watch_alert *s = &a->slots[find(a, key)];
    s->scan = scan;
    if (s->used)
        return 0;
    s->key = *key;
    s->used = true;
    a->n++;
    return 1;
}

/* Remove every entry drop() selects: the others into a new table of the
 * same size (no tombstones). Out of memory: nothing is removed now (the
 * next call tries again). */
static void remove_if(watch_alerts *a, bool (*drop)(const watch_alert *e, void *ctx), void *ctx)
{
    watch_alert *old = a->slots;
    watch_alert *slots = calloc(a->cap, sizeof(*slots));
    if (!slots)
        return;
    a->slots = slots;
    a->n = 0;
    for (size_t i = 0; i < a->cap; i++)
        if (old[i].used && !drop(&old[i], ctx)) {
            a->slots[find(a, &old[i].key)] = old[i];
            a->n++;
        }
    free(old);
}

typedef struct settle_ctx {
    pid_t pid;
    unsigned long long start;
    uint64_t scan;
} settle_ctx;

static bool not_found_again(const watch_alert *e, void *ctx)
{
    const settle_ctx *c = ctx;
    return e->key.pid == c->pid && e->key.start == c->start && e->scan != c->scan;
}

void watch_alerts_settle(watch_alerts *a, pid_t pid, unsigned long long start, uint64_t scan)
{
    settle_ctx c = {pid, start, scan};
    if (a->n)
        remove_if(a, not_found_again, &c);
}

typedef struct prune_ctx {
    bool (*alive)(void *ctx, pid_t pid, unsigned long long start);
    void *ctx;
} prune_ctx;

static bool gone(const watch_alert *e, void *ctx)
{
    const prune_ctx *c = ctx;
    return !c->alive(c->ctx, e->key.pid, e->key.start);
}

void watch_alerts_prune(watch_alerts *a,
                        bool (*alive)(void *ctx, pid_t pid, unsigned long long start), void *ctx)
{
    prune_ctx c = {alive, ctx};
    if (a->n)
        remove_if(a, gone, &c);
}

uint64_t watch_alerts_hash(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

void watch_alerts_free(watch_alerts *a)
{
    free(a->slots);
    memset(a, 0, sizeof(*a));
}
