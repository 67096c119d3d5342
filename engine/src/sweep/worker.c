/* worker.c - a worker's state: its reader, its matcher for a sweep's
 * patterns and its buffers for the sweep's unit span (unit.c reads and
 * scans units with them). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/sweep.h"

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
    free(w->gs);
    free(w->ahead);
    w->buf = NULL, w->pm = NULL, w->pvr_ops = w->mem_ops = NULL, w->ok = NULL, w->key = NULL;
    w->gkey = NULL, w->gs = NULL, w->ahead = NULL;
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
    w->gs = malloc(MG_GATHER_UNITS * sizeof(*w->gs));
    w->ahead = malloc(MG_AHEAD_PAGES * sizeof(*w->ahead));
    if (!w->buf || !w->pm || !w->pvr_ops || !w->mem_ops || !w->ok || !w->key || !w->gkey ||
        !w->gs || !w->ahead) {
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
