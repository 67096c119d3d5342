/* yara_report.c - mg_yara_evaluate: every rule of a process evaluated once
 * (yara_eval.c), a false global rule making its namespace's rules false, and
 * the rules that matched (or, negated as yara -n, did not) handed to
 * mg_sink.rule with their strings, hits and meta; one event for the rules
 * memgrep does not evaluate in that process (an image yara would parse,
 * memory yara reads that memgrep does not). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "util.h"
#include "yara/yara.h"
#include "yara/yara_eval.h"

/* Hand one matching rule to the sink. */
static int report_rule(ectx *x, const yara_rule *r, const mg_process *proc, const mg_sink *sink,
                       pthread_mutex_t *lock)
{
    const mg_yara *y = x->y;
    size_t n_hits = 0, n_str = 0;
    for (size_t i = 0; i < r->n_strings; i++) {
        const yara_list *l = yara_list_of(x, (int64_t)(r->first_string + i));
        if (l->n && !y->strings[r->first_string + i].private_) {
            n_str++;
            n_hits += l->n;
        }
    }
    mg_rule_string *strs = calloc(n_str + 1, sizeof(*strs));
    mg_rule_hit *hits = calloc(n_hits + 1, sizeof(*hits));
    mg_rule_meta *meta = calloc(r->n_meta + 1, sizeof(*meta));
    int v = MG_SINK_CONTINUE;
    if (strs && hits && meta) {
        size_t k = 0, h = 0;
        for (size_t i = 0; i < r->n_strings; i++) {
            const yara_list *l = yara_list_of(x, (int64_t)(r->first_string + i));
            const yara_string *ys = &y->strings[r->first_string + i];
            if (!l->n || ys->private_)
                continue;
            strs[k] = (mg_rule_string){.id = ys->id,
                                       .count = l->n,
                                       .capped = l->capped,
                                       .hex = x->p->pats[ys->pattern_id].kind == MG_PATTERN_HEX};
            for (size_t j = 0; j < l->n; j++) {
                const yara_hit *yh = &l->v[j];
                hits[h++] = (mg_rule_hit){.string = k,
                                          .address = yh->addr,
                                          .length = yh->len,
                                          .region = yh->region,
                                          .data = x->yp->arena + yh->data,
                                          .before = yh->before,
                                          .after = yh->after};
            }
            k++;
        }
        for (size_t i = 0; i < r->n_meta; i++)
            meta[i] = (mg_rule_meta){.key = r->meta[i].key,
                                     .type = r->meta[i].type == 0   ? MG_META_STRING
                                             : r->meta[i].type == 1 ? MG_META_INTEGER
                                                                    : MG_META_BOOLEAN,
                                     .string = r->meta[i].s,
                                     .integer = r->meta[i].i};
        mg_rule_match m = {
            .process = proc,
            .rule = r->name,
            .ns = r->ns,
            .matched = x->rule_val[r - y->rules] > 0,
            .tags = (const char *const *)r->tags,
            .n_tags = r->n_tags,
            .meta = meta,
            .n_meta = r->n_meta,
            .strings = strs,
            .n_strings = n_str,
            .hits = hits,
            .n_hits = n_hits,
        };
        if (sink && sink->rule) {
            if (lock)
                pthread_mutex_lock(lock);
            v = sink->rule(sink->ctx, &m);
            if (lock)
                pthread_mutex_unlock(lock);
        }
    } else
        v = -ENOMEM;
    free(strs);
    free(hits);
    free(meta);
    return v;
}

/* One event: the rules not evaluated in this process for reason (their
 * answers could differ from yara's). */
static void skipped_event(const mg_yara *y, const int8_t *rule_val, int8_t reason, const char *why,
                          const mg_process *proc, const mg_sink *sink, pthread_mutex_t *lock)
{
    char what[1024];
    int n = snprintf(what, sizeof(what), "YARA rules not evaluated: %s:", why);
    size_t count = 0;
    for (size_t i = 0; i < y->n_rules; i++) {
        if (rule_val[i] != reason)
            continue;
        if (n > 0 && (size_t)n + strlen(y->rules[i].name) + 24 < sizeof(what))
            n += snprintf(what + n, sizeof(what) - (size_t)n, " %s", y->rules[i].name);
        else if (n > 0 && (size_t)n + 24 < sizeof(what))
            n += snprintf(what + n, sizeof(what) - (size_t)n, " ...");
        count++;
    }
    if (!count || !sink || !sink->event)
        return;
    if (n > 0 && (size_t)n + 24 < sizeof(what))
        snprintf(what + n, sizeof(what) - (size_t)n, " (%zu %s)", count,
                 count == 1 ? "rule" : "rules");
    mg_event e = {.kind = MG_EVENT_OTHER, .process = proc, .err = -EOPNOTSUPP, .what = what};
    if (lock)
        pthread_mutex_lock(lock);
    sink->event(sink->ctx, &e);
    if (lock)
        pthread_mutex_unlock(lock);
}

/* A false global rule makes every rule of its namespace false. */
static void apply_globals(const mg_yara *y, int8_t *rule_val)
{
    for (size_t g = 0; g < y->n_rules; g++) {
        if (!y->rules[g].global || rule_val[g] > 0)
            continue;
        for (size_t i = 0; i < y->n_rules; i++)
            if (rule_val[i] > 0 && !strcmp(y->rules[i].ns, y->rules[g].ns))
                rule_val[i] = 0;
    }
}

int mg_yara_evaluate(const mg_patterns *p, const mg_process *proc, mg_yara_proc *yp,
                     mg_yara_read_fn read, void *read_ctx, const mg_sink *sink, void *lock,
                     mg_yara_stop_fn stop, void *stop_ctx, uint64_t *n_matched,
                     const mg_region *regions, size_t n_regions, bool negate)
{
    const mg_yara *y = p->yara;
    if (!y || !y->n_rules)
        return MG_SINK_CONTINUE;
    ectx x = {.p = p,
              .y = y,
              .yp = yp,
              .read = read,
              .read_ctx = read_ctx,
              .regions = regions,
              .n_regions = n_regions,
              .cur = -1,
              .stop = stop,
              .stop_ctx = stop_ctx};
    x.rule_val = calloc(y->n_rules, 1);
    if (!x.rule_val)
        return -ENOMEM;
    for (size_t i = 0; i < y->n_strings && !x.views; i++)
        if (y->strings[i].fixed && !y->strings[y->strings[i].list].list_fixed &&
            !(x.views = calloc(y->n_strings, sizeof(*x.views)))) {
            free(x.rule_val);
            return -ENOMEM;
        }
    unsigned want = 0, images = 0;
    for (size_t i = 0; i < y->n_rules; i++)
        want |= y->rules[i].modules & (MG_YMOD_PE | MG_YMOD_ELF);
    uint64_t where = 0;
    if (want && read)
        images = mg_yara_images(read, read_ctx, regions, n_regions, want, &where);
    for (size_t i = 0; i < y->n_rules; i++) {
        if (y->rules[i].modules & images) {
            x.rule_val[i] = YARA_NOT_EVALUATED_IMAGE;
            continue;
        }
        x.not_evaluated = 0;
        x.rule_val[i] = (int8_t)yara_truth(yara_eval(&x, y->rules[i].cond));
        if (x.not_evaluated)
            x.rule_val[i] = x.not_evaluated;
    }
    if (x.stopped) {
        free(x.rule_val);
        free(x.views);
        return -ECANCELED; /* values cut short are not results */
    }
    char why[160];
    snprintf(why, sizeof(why), "yara would parse the %s image at 0x%llx",
             images & MG_YMOD_PE ? "PE" : "ELF", (unsigned long long)where);
    skipped_event(y, x.rule_val, YARA_NOT_EVALUATED_IMAGE, why, proc, sink, lock);
    skipped_event(y, x.rule_val, YARA_NOT_EVALUATED_UNREAD,
                  "math or hash over memory yara reads and memgrep does not (pages not "
                  "present, [vvar]; more than 64 MiB for math)",
                  proc, sink, lock);
    skipped_event(y, x.rule_val, YARA_NOT_EVALUATED_COUNT_IN,
                  "#a in (lo..hi) with lo other than 0 (yara 4.2.3 stops with an internal "
                  "error there)",
                  proc, sink, lock);
    apply_globals(y, x.rule_val);
    int verdict = MG_SINK_CONTINUE;
    for (size_t i = 0; i < y->n_rules; i++) {
        const yara_rule *r = &y->rules[i];
        if (r->private_ || x.rule_val[i] < 0 || (x.rule_val[i] > 0) == negate)
            continue;
        (*n_matched)++;
        int v = report_rule(&x, r, proc, sink, lock);
        if (v < 0 || v == MG_SINK_STOP) {
            verdict = v;
            break;
        }
    }
    free(x.rule_val);
    free(x.views);
    return verdict;
}
