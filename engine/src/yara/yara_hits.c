/* yara_hits.c - the matches of rule strings kept per process for YARA
 * rules (at most MG_RULES_MAX_STRING_MATCHES per string, with the bytes
 * around each in one arena), until the process's rules are evaluated
 * (yara_eval.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "yara/yara.h"

/* ---- per-process matches ------------------------------------------------- */

int mg_yara_collect(mg_yara_proc **pp, const mg_yara *y, uint32_t string, uint64_t addr, size_t len,
                    const mg_region *region, const uint8_t *data, size_t before, size_t after)
{
    if (!y || string >= y->n_strings)
        return 0; /* the sentinel of a rule set without strings */
    const yara_string *ys = &y->strings[string];
    if (ys->list_fixed && addr != (uint64_t)ys->fixed_at)
        return 0; /* yara records a fixed offset's string there alone */
    mg_yara_proc *yp = *pp;
    if (!yp) {
        yp = *pp = calloc(1, sizeof(*yp));
        if (yp)
            yp->lists = calloc(y->n_strings, sizeof(*yp->lists));
        if (!yp || !yp->lists) {
            free(yp);
            *pp = NULL;
            return -ENOMEM;
        }
    }
    yara_list *l = &yp->lists[string];
    if (l->n >= MG_RULES_MAX_STRING_MATCHES) {
        l->capped = true; /* YARA's limit: dropped, and said so */
        return 0;
    }
    size_t bytes = before + len + after;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        yara_hit *nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    if (yp->an + bytes > yp->acap) {
        size_t cap = MG_MAX(2 * yp->acap, yp->an + bytes + 4096);
        uint8_t *na = realloc(yp->arena, cap);
        if (!na)
            return -ENOMEM;
        yp->arena = na;
        yp->acap = cap;
    }
    memcpy(yp->arena + yp->an, data, bytes);
    l->v[l->n++] = (yara_hit){.addr = addr,
                              .len = (uint32_t)len,
                              .before = (uint32_t)before,
                              .after = (uint32_t)after,
                              .region = region,
                              .data = yp->an};
    l->sorted = false;
    yp->an += bytes;
    return 0;
}

void mg_yara_proc_free(mg_yara_proc **pp)
{
    mg_yara_proc *yp = pp ? *pp : NULL;
    if (!yp)
        return;
    free(yp->arena);
    free(yp->lists); /* the lists' arrays are freed by the caller's count */
    free(yp);
    *pp = NULL;
}

void mg_yara_proc_free_all(mg_yara_proc **pp, size_t n_strings)
{
    if (*pp && (*pp)->lists)
        for (size_t i = 0; i < n_strings; i++)
            free((*pp)->lists[i].v);
    mg_yara_proc_free(pp);
}
