/* output_json.c - JSON Lines back-end: one object per line on stdout.
 *
 * Strings are byte strings: comm, paths, patterns and context are whatever
 * bytes the target or the user gave, not necessarily UTF-8. To keep every
 * line valid JSON (and pure ASCII) json_string() (json.c) escapes '"', '\', every
 * control character and EVERY byte >= 0x7f as \u00XX. A decoded string
 * thus holds one character per byte (U+0000..U+00FF, i.e. Latin-1): byte
 * offsets such as "context_offset" are also character offsets, and a
 * consumer gets the exact bytes back with s.encode("latin-1") (the price:
 * UTF-8 text shows up as mojibake when not re-encoded that way).
 */
#include "output/output.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

static void end(FILE *f)
{
    fputs("}\n", f);
}

/* {"type":"TYPE","time":"...","pid":N,"comm":"..." - the common head of
 * our objects. */
static void begin(FILE *f, const char *type, pid_t pid, const char *comm)
{
    fprintf(f, "{\"type\":\"%s\"", type);
    cli_json_time(f);
    fprintf(f, ",\"pid\":%d", (int)pid);
    cli_json_str(f, "comm", comm);
}

/* {"type":"start","time":..,"version":..,"host":..,"run_id":..,"argv":[..]} */
static void json_start(output_ctx *o, const output_run *r)
{
    FILE *f = o->out;
    fputs("{\"type\":\"start\"", f);
    cli_json_time(f);
    cli_json_str(f, "version", MG_VERSION);
    cli_json_str(f, "host", r->host);
    cli_json_str(f, "run_id", r->run_id);
    cli_json_key(f, "argv");
    fputc('[', f);
    for (int i = 1; i < r->argc; i++) {
        if (i > 1)
            fputc(',', f);
        json_cstr(f, r->argv[i]);
    }
    fputc(']', f);
    end(f);
}

static void pattern_fields(const output_ctx *o, const mg_match *m)
{
    FILE *f = o->out;
    cli_json_u64(f, "pattern_id", m->pattern_id);
    if (m->pattern_id >= o->n_patterns)
        return;
    const mg_pattern_info *pi = &o->patterns[m->pattern_id];
    cli_json_key(f, "pattern");
    json_string(f, pi->text, pi->len);
    cli_json_str(f, "kind", output_pattern_kind_name(pi->kind));
    cli_json_str(f, "source", pi->source);
}

/* ,"cgroup":"...","container":"ID"|null */
static void container_fields(FILE *f, const mg_process *p)
{
    cli_json_str(f, "cgroup", p->cgroup);
    if (p->container && p->container[0])
        cli_json_str(f, "container", p->container);
    else
        fputs(",\"container\":null", f);
}

static void json_match(output_ctx *o, const mg_match *m)
{
    FILE *f = o->out;
    size_t n = m->before + (size_t)m->length + m->after;
    begin(f, "match", m->process->pid, m->process->comm);
    cli_json_str(f, "exe", m->process->exe);
    container_fields(f, m->process);
    cli_json_addr(f, "address", m->address);
    cli_json_u64(f, "length", m->length);
    pattern_fields(o, m);
    cli_json_bool(f, "wide", m->wide);
    cli_json_key(f, "region");
    cli_json_region(f, m->region);
    cli_json_key(f, "context");
    json_string(f, m->data, n);
    cli_json_u64(f, "context_offset", m->before);
    cli_json_key(f, "context_hex");
    json_hex(f, m->data, n);
    end(f);
}

static void json_event(output_ctx *o, const mg_event *e)
{
    FILE *f = o->out;
    char reason[512];
    output_event_reason(e, reason, sizeof(reason));
    begin(f, "error", e->process->pid, e->process->comm);
    container_fields(f, e->process);
    cli_json_str(f, "kind", output_event_kind_name(e->kind));
    cli_json_str(f, "reason", reason);
    if (e->address)
        cli_json_addr(f, "address", e->address);
    if (e->region) {
        cli_json_key(f, "region");
        cli_json_region(f, e->region);
    }
    end(f);
}

static void json_count(output_ctx *o, pid_t pid, const char *comm, uint64_t count)
{
    begin(o->out, "count", pid, comm);
    cli_json_u64(o->out, "count", count);
    end(o->out);
}

static void json_process(output_ctx *o, pid_t pid, const char *comm)
{
    begin(o->out, "process", pid, comm);
    end(o->out);
}

/* {"type":"rule","pid":..,"comm":..,"rule":..,"namespace":..,"matched":..,"tags":[..],
 *  "meta":{..},"strings":[{"id":"$a","address":"0x..","length":..,
 *  "region":{..},"context":..,"context_offset":..}],"capped":["$a"]} */
static void json_rule(output_ctx *o, const mg_rule_match *m)
{
    FILE *f = o->out;
    begin(f, "rule", m->process->pid, m->process->comm);
    cli_json_str(f, "exe", m->process->exe);
    cli_json_str(f, "rule", m->rule);
    cli_json_str(f, "namespace", m->ns);
    cli_json_bool(f, "matched", m->matched);
    cli_json_key(f, "tags");
    fputc('[', f);
    for (size_t i = 0; i < m->n_tags; i++) {
        if (i)
            fputc(',', f);
        json_cstr(f, m->tags[i]);
    }
    fputc(']', f);
    cli_json_key(f, "meta");
    fputc('{', f);
    for (size_t i = 0; i < m->n_meta; i++) {
        const mg_rule_meta *md = &m->meta[i];
        if (i)
            fputc(',', f);
        json_cstr(f, md->key);
        fputc(':', f);
        if (md->type == MG_META_STRING)
            json_cstr(f, md->string);
        else if (md->type == MG_META_INTEGER)
            fprintf(f, "%" PRId64, md->integer);
        else
            fputs(md->integer ? "true" : "false", f);
    }
    fputc('}', f);
    cli_json_key(f, "strings");
    fputc('[', f);
    for (size_t i = 0; i < m->n_hits; i++) {
        const mg_rule_hit *h = &m->hits[i];
        fputs(i ? ",{\"id\":" : "{\"id\":", f);
        json_cstr(f, m->strings[h->string].id);
        cli_json_addr(f, "address", h->address);
        cli_json_u64(f, "length", h->length);
        cli_json_key(f, "region");
        cli_json_region(f, h->region);
        cli_json_key(f, "context");
        json_string(f, h->data, h->before + (size_t)h->length + h->after);
        cli_json_u64(f, "context_offset", h->before);
        fputc('}', f);
    }
    fputc(']', f);
    cli_json_key(f, "capped");
    fputc('[', f);
    for (size_t i = 0, k = 0; i < m->n_strings; i++)
        if (m->strings[i].capped) {
            if (k++)
                fputc(',', f);
            json_cstr(f, m->strings[i].id);
        }
    fputc(']', f);
    end(f);
}

static void json_finish(output_ctx *o)
{
    (void)o; /* every event already has its own line */
}

static void events_object(FILE *f, const mg_stats *s)
{
    cli_json_key(f, "events");
    for (int k = 0; k < MG_EVENT_KINDS; k++)
        fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "{", output_event_kind_name((mg_event_kind)k),
                s->events[k]);
    fputc('}', f);
}

static void json_summary(output_ctx *o, const mg_stats *s)
{
    FILE *f = o->out;
    fputs("{\"type\":\"summary\"", f);
    cli_json_time(f);
    cli_json_u64(f, "processes_selected", output_selected(s));
    cli_json_u64(f, "processes_scanned", s->processes_scanned);
    cli_json_u64(f, "processes_whole", s->processes_whole);
    cli_json_u64(f, "processes_cut", s->processes_cut);
    cli_json_u64(f, "processes_unreached", s->processes_unreached);
    cli_json_u64(f, "processes_gone", s->events[MG_EVENT_GONE]);
    cli_json_u64(f, "processes_denied", s->events[MG_EVENT_PERMISSION]);
    cli_json_u64(f, "processes_failed", s->processes_failed);
    cli_json_u64(f, "processes_zombie", s->processes_zombie);
    cli_json_u64(f, "processes_kthread", s->processes_kthread);
    cli_json_u64(f, "regions_scanned", s->regions_scanned);
    cli_json_u64(f, "regions_skipped", s->regions_skipped);
    cli_json_u64(f, "bytes_scanned", s->bytes_scanned);
    cli_json_u64(f, "bytes_read_pvr", s->bytes_read_pvr);
    cli_json_u64(f, "bytes_read_mem", s->bytes_read_mem);
    cli_json_u64(f, "bytes_not_present", s->bytes_not_present);
    cli_json_u64(f, "bytes_skipped_noread", s->bytes_skipped_noread);
    cli_json_u64(f, "bytes_skipped_special", s->bytes_skipped_special);
    cli_json_u64(f, "bytes_skipped_changed", s->bytes_skipped_changed);
    cli_json_u64(f, "bytes_deduped", s->bytes_deduped);
    cli_json_u64(f, "matches", s->matches);
    cli_json_u64(f, "callbacks", s->callbacks);
    if (o->rules) {
        cli_json_u64(f, "rule_matches", s->rule_matches);
        cli_json_u64(f, "rules_skipped", o->rules_skipped);
    }
    events_object(f, s);
    cli_json_double(f, "elapsed_seconds", s->elapsed_seconds, 6);
    cli_json_double(f, "gbps", output_gbps(s), 3);
    if (s->mem_reader)
        cli_json_str(f, "mem_reader", s->mem_reader);
    else
        fputs(",\"mem_reader\":null", f);
    cli_json_u64(f, "threads", s->threads);
    cli_json_bool(f, "complete", output_complete(s));
    if (!output_complete(s))
        cli_json_str(f, "stop_reason", output_incomplete_reason(s));
    end(f);
}

/* {"type":"stats","time":..,"final":..,"event_source":..,...counts} */
static void json_watch_stats(output_ctx *o, const output_watch_stats *s)
{
    FILE *f = o->out;
    fputs("{\"type\":\"stats\"", f);
    cli_json_time(f);
    cli_json_bool(f, "final", s->final);
    cli_json_str(f, "event_source", s->event_source);
    cli_json_double(f, "uptime_seconds", s->uptime_seconds, 3);
    cli_json_u64(f, "scans", s->scans);
    cli_json_u64(f, "processes_scanned", s->processes_scanned);
    cli_json_u64(f, "processes_gone", s->processes_gone);
    cli_json_u64(f, "bytes_scanned", s->bytes_scanned);
    cli_json_u64(f, "bytes_read", s->bytes_read);
    cli_json_u64(f, "bytes_reused", s->bytes_reused);
    cli_json_u64(f, "regions_changed", s->regions_changed);
    cli_json_u64(f, "passes", s->passes);
    cli_json_u64(f, "events_seen", s->events_seen);
    cli_json_u64(f, "events_overruns", s->events_overruns);
    cli_json_u64(f, "events_dropped", s->events_dropped);
    cli_json_u64(f, "alerts", s->alerts);
    cli_json_u64(f, "alerts_repeated", s->alerts_repeated);
    cli_json_u64(f, "alerts_held", s->alerts_held);
    cli_json_u64(f, "reloads", s->reloads);
    cli_json_u64(f, "reload_failures", s->reload_failures);
    cli_json_u64(f, "exec_unscanned", s->exec_unscanned);
    cli_json_u64(f, "exec_scan_samples", s->exec_scan_samples);
    cli_json_double(f, "exec_scan_p50_ms", s->exec_scan_p50_ms, 3);
    cli_json_double(f, "exec_scan_p99_ms", s->exec_scan_p99_ms, 3);
    cli_json_double(f, "exec_scan_max_ms", s->exec_scan_max_ms, 3);
    end(f);
}

const output_backend output_json = {
    .name = "json",
    .start = json_start,
    .match = json_match,
    .event = json_event,
    .count = json_count,
    .process = json_process,
    .rule = json_rule,
    .finish = json_finish,
    .summary = json_summary,
    .watch_stats = json_watch_stats,
};
