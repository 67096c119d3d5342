/* worker.c - a worker's state: its reader, its matcher for a sweep's
 * patterns and its buffers for the sweep's unit span (unit.c reads and
 * scans units with them); the pagemap entries it reads ahead for them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "os/residency.h"
#include "sweep/sweep.h"

#define PAGE_MASK (~(uint64_t)(MG_PAGE_SIZE - 1))

void mg_worker_open(mg_worker *w, const mg_settings *s)
{
    memset(w, 0, sizeof(*w));
    w->rec.max = MG_DEDUPE_MAX_RECORD;
    mg_reader_init(&w->reader, s->mem_reader);
}

static void free_buffers(mg_worker *w)
{
    free(w->buf);
    free(w->pm);
    free(w->pvr_ops);
    free(w->mem_ops);
    free(w->ok);
    free(w->key);
    free(w->gkey);
    free(w->kkey);
    free(w->gkkey);
    free(w->gs);
    free(w->ahead);
    w->buf = NULL, w->pm = NULL, w->pvr_ops = w->mem_ops = NULL, w->ok = NULL, w->key = NULL;
    w->gkey = NULL, w->gs = NULL, w->ahead = NULL, w->kkey = w->gkkey = NULL;
    w->span = 0;
}

int mg_worker_bind(mg_worker *w, mg_sweep *c)
{
    w->c = c;
    /* A new matcher for every sweep: its scratch belongs to one database,
     * and a pattern set freed and another made at the same address would
     * not be told apart by pointer. */
    mg_matcher_fini(&w->m);
    int rc = mg_matcher_init(&w->m, c->pats, c->set.unbounded_width);
    if (rc < 0)
        return rc;
    mg_keep_ids_reset(&w->ids); /* files are looked at again in each sweep */
    size_t span = c->set.chunk_size + 2 * c->margin;
    if (span == w->span)
        return 0; /* the buffers of the sweep before fit */
    free_buffers(w);
    w->max_pages = span / MG_PAGE_SIZE + 2;
    w->buf = malloc(span);
    w->pm = malloc(w->max_pages * sizeof(*w->pm));
    w->pvr_ops = malloc(w->max_pages * sizeof(*w->pvr_ops));
    w->mem_ops = malloc(w->max_pages * sizeof(*w->mem_ops));
    w->ok = malloc(w->max_pages);
    /* any one key; the gather's keys, as many as fit in as much room */
    w->gkey_cap = MG_MAX(MG_DEDUPE_BATCH_KEY_WORDS(w->max_pages, w->max_pages),
                         (size_t)MG_DEDUPE_FILE_KEY_WORDS);
    w->key = malloc(w->gkey_cap * sizeof(*w->key));
    w->gkey = malloc(w->gkey_cap * sizeof(*w->gkey));
    /* any one keep key; the gather's, whose pages fit in max_pages */
    size_t kkey_words = MG_MAX(MG_KEEP_KEY_WORDS(w->max_pages), MG_KEEP_SD_KEY_WORDS(w->max_pages));
    w->gkkey_cap =
        kkey_words + MG_GATHER_UNITS * MG_MAX(MG_KEEP_KEY_WORDS(0), MG_KEEP_SD_KEY_WORDS(0));
    w->kkey = malloc(kkey_words * sizeof(*w->kkey));
    w->gkkey = malloc(w->gkkey_cap * sizeof(*w->gkkey));
    w->gs = malloc(MG_GATHER_UNITS * sizeof(*w->gs));
    w->ahead = malloc(MG_AHEAD_PAGES * sizeof(*w->ahead));
    if (!w->buf || !w->pm || !w->pvr_ops || !w->mem_ops || !w->ok || !w->key || !w->gkey ||
        !w->gs || !w->ahead || !w->kkey || !w->gkkey) {
        free_buffers(w);
        return -ENOMEM;
    }
    w->span = span;
    return 0;
}

int mg_worker_init(mg_worker *w, mg_sweep *c)
{
    mg_worker_open(w, &c->set);
    return mg_worker_bind(w, c);
}

void mg_worker_fini(mg_worker *w)
{
    mg_matcher_fini(&w->m);
    mg_reader_fini(&w->reader);
    free_buffers(w);
    mg_dedupe_rec_free(&w->rec);
}

/* The pagemap entries of np pages from pa into w->pm: from the read ahead
 * of mg_run_units if it holds them, else read now. */
int mg_worker_pagemap(mg_worker *w, mg_target *p, uint64_t pa, size_t np)
{
    if (w->ahead_p == p && pa >= w->ahead_lo &&
        pa + np * MG_PAGE_SIZE <= w->ahead_lo + w->n_ahead * MG_PAGE_SIZE) {
        memcpy(w->pm, w->ahead + (pa - w->ahead_lo) / MG_PAGE_SIZE, np * sizeof(*w->pm));
        return 0;
    }
    return mg_pagemap_read(p->pagemap_fd, pa, np, w->pm);
}

/* The pages [*lo, *hi) of u's window; false for a direct region's step
 * (its pieces read their own). */
static bool unit_pages(const mg_sweep *c, const mg_unit *u, uint64_t *lo, uint64_t *hi)
{
    uint64_t ba = u->lo, bb = u->hi;
    if (u->direct)
        return false;
    if (!u->batch)
        mg_unit_window(c, u, &ba, &bb);
    *lo = ba & PAGE_MASK;
    *hi = (bb + MG_PAGE_SIZE - 1) & PAGE_MASK;
    return true;
}

/* Read ahead, with one pread, the pagemap entries of us[k]'s window and of
 * the windows of the units after it that follow it closely (ascending, at
 * most MG_AHEAD_GAP pages after the pages before), up to MG_AHEAD_PAGES
 * pages in all: their own reads take them from there (mg_worker_pagemap). Not
 * for a unit alone or one already held; on a failure each unit reads its
 * own (and reports it). */
void mg_worker_read_ahead(mg_worker *w, const mg_unit *us, size_t k, size_t n)
{
    mg_target *p = us[k].p;
    uint64_t lo, hi, l, h;
    if (!unit_pages(w->c, &us[k], &lo, &hi) || (hi - lo) / MG_PAGE_SIZE > MG_AHEAD_PAGES ||
        (w->ahead_p == p && lo >= w->ahead_lo && hi <= w->ahead_lo + w->n_ahead * MG_PAGE_SIZE))
        return;
    size_t m = k + 1;
    for (; m < n && us[m].p == p && unit_pages(w->c, &us[m], &l, &h); m++) {
        if (l < lo || l > hi + MG_AHEAD_GAP * MG_PAGE_SIZE ||
            (MG_MAX(h, hi) - lo) / MG_PAGE_SIZE > MG_AHEAD_PAGES)
            break;
        hi = MG_MAX(h, hi);
    }
    if (m == k + 1)
        return;
    w->n_ahead = 0;
    if (mg_pagemap_read(p->pagemap_fd, lo, (size_t)((hi - lo) / MG_PAGE_SIZE), w->ahead) == 0) {
        w->ahead_p = p;
        w->ahead_lo = lo;
        w->n_ahead = (size_t)((hi - lo) / MG_PAGE_SIZE);
    }
}
