/* output_text.c - grep-like text back-end.
 *
 *   PID COMM 0xADDRESS PERMS PATH PATTERN: CONTEXT
 *
 * Everything that comes from the target (comm, path, context) or from the
 * user (pattern) is printed with bytes outside printable ASCII escaped as
 * \xHH and '\' as \\, so a line is always one line and never carries
 * terminal control sequences. Warnings and the summary go to stderr.
 */
#include "output/output.h"

#include <inttypes.h>
#include <string.h>

/* Per-process warnings shown before we only count them: a sweep as a
 * normal user can fail on hundreds of processes. */
#define MAX_WARNINGS 20

#define COLOR_PID "\033[35m" /* magenta, like ripgrep's paths */
#define COLOR_ADDR "\033[32m" /* green, like ripgrep's line numbers */
#define COLOR_MATCH "\033[1;31m" /* bold red */
#define COLOR_RESET "\033[0m"

/* Called once per byte of context: unlocked stdio is safe because the
 * engine serialises sink callbacks. */
static void put_escaped(FILE *f, const void *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\\') {
            putc_unlocked('\\', f);
            putc_unlocked('\\', f);
        } else if (c >= 0x20 && c < 0x7f) {
            putc_unlocked(c, f);
        } else {
            putc_unlocked('\\', f);
            putc_unlocked('x', f);
            putc_unlocked(hex[c >> 4], f);
            putc_unlocked(hex[c & 15], f);
        }
    }
}

/* A regular expression is shown as typed: its backslashes are its own
 * syntax, doubling them would misquote it. Control bytes are still escaped. */
static void put_regex(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            putc_unlocked('\\', f);
        else
            put_escaped(f, s + i, 1);
    }
}

static void put_escaped_str(FILE *f, const char *s)
{
    put_escaped(f, s, strlen(s));
}

static void color_on(const output_ctx *o, const char *seq)
{
    if (o->color)
        fputs(seq, o->out);
}

static void color_off(const output_ctx *o)
{
    if (o->color)
        fputs(COLOR_RESET, o->out);
}

static void put_pid(const output_ctx *o, pid_t pid)
{
    color_on(o, COLOR_PID);
    fprintf(o->out, "%d", (int)pid);
    color_off(o);
}

/* The pattern as it would be written in a pattern list: "re:", "hex:". */
static void put_pattern(const output_ctx *o, const mg_match *m)
{
    if (m->pattern_id >= o->n_patterns) {
        fprintf(o->out, "#%u", m->pattern_id);
        return;
    }
    const mg_pattern_info *pi = &o->patterns[m->pattern_id];
    if (pi->kind == MG_PATTERN_REGEX) {
        fputs("re:", o->out);
        put_regex(o->out, pi->text, pi->len);
    } else {
        if (pi->kind == MG_PATTERN_HEX)
            fputs("hex:", o->out);
        put_escaped(o->out, pi->text, pi->len);
    }
    if (m->wide)
        fputs(" (wide)", o->out);
}

static void put_region(const output_ctx *o, const mg_region *r)
{
    fprintf(o->out, " %s ", r->perms);
    put_escaped_str(o->out, output_region_name(r));
    if (r->deleted)
        fputs(" (deleted)", o->out);
}

static void put_context(const output_ctx *o, const mg_match *m)
{
    put_escaped(o->out, m->data, m->before);
    color_on(o, COLOR_MATCH);
    put_escaped(o->out, m->data + m->before, (size_t)m->length);
    color_off(o);
    put_escaped(o->out, m->data + m->before + m->length, m->after);
}

static void text_match(output_ctx *o, const mg_match *m)
{
    put_pid(o, m->process->pid);
    fputc(' ', o->out);
    put_escaped_str(o->out, m->process->comm);
    fputc(' ', o->out);
    color_on(o, COLOR_ADDR);
    fprintf(o->out, "0x%" PRIx64, m->address);
    color_off(o);
    put_region(o, m->region);
    fputc(' ', o->out);
    put_pattern(o, m);
    fputs(": ", o->out);
    put_context(o, m);
    fputc('\n', o->out);
}

/* " [a,b]": the tags (always: also "[]"; else only if there are some). */
static void put_tags(const output_ctx *o, const mg_rule_match *m, bool always)
{
    if (!m->n_tags && !always)
        return;
    fputs(" [", o->out);
    for (size_t i = 0; i < m->n_tags; i++) {
        if (i)
            fputc(',', o->out);
        put_escaped_str(o->out, m->tags[i]);
    }
    fputc(']', o->out);
}

/* Meta text as yara -m prints it: C's escapes, other bytes as \ooo. */
static void put_meta_text(FILE *f, const char *s)
{
    static const char esc[] = "\a\b\t\n\v\f\r", letters[] = "abtnvfr";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *e = c ? strchr(esc, c) : NULL;
        if (e)
            fprintf(f, "\\%c", letters[e - esc]);
        else if (c == '"' || c == '\'' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            putc_unlocked(c, f);
        else
            fprintf(f, "\\%03o", c);
    }
}

/* " [key=value,...]" as yara -m (an integer as "key =N": yara 4.2.3's). */
static void put_meta(const output_ctx *o, const mg_rule_match *m)
{
    fputs(" [", o->out);
    for (size_t i = 0; i < m->n_meta; i++) {
        const mg_rule_meta *md = &m->meta[i];
        if (i)
            fputc(',', o->out);
        put_escaped_str(o->out, md->key);
        if (md->type == MG_META_STRING) {
            fputs("=\"", o->out);
            put_meta_text(o->out, md->string);
            fputc('"', o->out);
        } else if (md->type == MG_META_INTEGER)
            fprintf(o->out, " =%" PRId64, md->integer);
        else
            fputs(md->integer ? "=true" : "=false", o->out);
    }
    fputc(']', o->out);
}

static void put_rule_name(const output_ctx *o, const mg_rule_match *m)
{
    color_on(o, COLOR_MATCH);
    if (o->rule_form.ns) {
        put_escaped_str(o->out, m->ns);
        fputc(':', o->out);
    }
    put_escaped_str(o->out, m->rule);
    color_off(o);
}

/* As yara -s (with -g, --print-meta, --print-namespace as yara's -g -m -e):
 *   [NS:]RULE [[tags]] [[meta]] PID
 *   0xADDRESS:$id: DATA     (hex strings as "4D 5A", others \xHH-escaped) */
static void text_rule_yara(output_ctx *o, const mg_rule_match *m)
{
    static const char hex[] = "0123456789ABCDEF";
    put_rule_name(o, m);
    if (o->rule_form.tags)
        put_tags(o, m, true);
    if (o->rule_form.meta)
        put_meta(o, m);
    fputc(' ', o->out);
    put_pid(o, m->process->pid);
    fputc('\n', o->out);
    for (size_t i = 0; i < m->n_hits; i++) {
        const mg_rule_hit *h = &m->hits[i];
        const uint8_t *d = h->data + h->before;
        size_t n = h->length < 512 ? (size_t)h->length : 512; /* yara's YR_MAX_MATCH_DATA */
        color_on(o, COLOR_ADDR);
        fprintf(o->out, "0x%" PRIx64, h->address);
        color_off(o);
        fprintf(o->out, ":%s: ", m->strings[h->string].id);
        for (size_t k = 0; k < n; k++) {
            if (m->strings[h->string].hex)
                fprintf(o->out, "%s%c%c", k ? " " : "", hex[d[k] >> 4], hex[d[k] & 15]);
            else if (d[k] >= 0x20 && d[k] < 0x7f)
                putc_unlocked(d[k], o->out);
            else
                fprintf(o->out, "\\x%c%c", hex[d[k] >> 4], hex[d[k] & 15]);
        }
        fputc('\n', o->out);
    }
}

/* PID COMM [NS:]RULE [tag,tag] [[meta]]
 *   0xADDRESS $id PERMS PATH: CONTEXT      (one line per string match) */
static void text_rule(output_ctx *o, const mg_rule_match *m)
{
    if (o->rule_form.strings) {
        text_rule_yara(o, m);
        return;
    }
    put_pid(o, m->process->pid);
    fputc(' ', o->out);
    put_escaped_str(o->out, m->process->comm);
    fputc(' ', o->out);
    put_rule_name(o, m);
    put_tags(o, m, false);
    if (o->rule_form.meta)
        put_meta(o, m);
    for (size_t i = 0; i < m->n_strings; i++)
        if (m->strings[i].capped)
            fprintf(o->out, " (%s: count capped at %" PRIu64 ")", m->strings[i].id,
                    m->strings[i].count);
    fputc('\n', o->out);
    for (size_t i = 0; i < m->n_hits; i++) {
        const mg_rule_hit *h = &m->hits[i];
        fputs("  ", o->out);
        color_on(o, COLOR_ADDR);
        fprintf(o->out, "0x%" PRIx64, h->address);
        color_off(o);
        fprintf(o->out, " %s", m->strings[h->string].id);
        put_region(o, h->region);
        fputs(": ", o->out);
        put_escaped(o->out, h->data, h->before);
        color_on(o, COLOR_MATCH);
        put_escaped(o->out, h->data + h->before, (size_t)h->length);
        color_off(o);
        put_escaped(o->out, h->data + h->before + h->length, h->after);
        fputc('\n', o->out);
    }
}

/* memgrep: warning: pid 123 (comm): permission denied: open /proc/123/mem */
static void text_event(output_ctx *o, const mg_event *e)
{
    if (o->events_shown >= MAX_WARNINGS) {
        o->events_hidden++;
        return;
    }
    o->events_shown++;
    char buf[512];
    fprintf(o->err, "memgrep: warning: pid %d", (int)e->process->pid);
    if (e->process->comm && e->process->comm[0]) {
        fputs(" (", o->err);
        put_escaped_str(o->err, e->process->comm);
        fputc(')', o->err);
    }
    fprintf(o->err, ": %s", output_event_reason(e, buf, sizeof(buf)));
    if (e->address)
        fprintf(o->err, " at 0x%" PRIx64, e->address);
    if (e->region) {
        fputs(" in ", o->err);
        put_escaped_str(o->err, output_region_name(e->region));
    }
    fputc('\n', o->err);
}

static void text_count(output_ctx *o, pid_t pid, const char *comm, uint64_t count)
{
    put_pid(o, pid);
    fputc(' ', o->out);
    put_escaped_str(o->out, comm);
    fprintf(o->out, " %" PRIu64 "\n", count);
}

static void text_process(output_ctx *o, pid_t pid, const char *comm)
{
    put_pid(o, pid);
    fputc(' ', o->out);
    put_escaped_str(o->out, comm);
    fputc('\n', o->out);
}

static void text_finish(output_ctx *o)
{
    if (o->events_hidden)
        fprintf(o->err, "memgrep: warning: %" PRIu64 " more warnings not shown\n",
                o->events_hidden);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static void text_summary(output_ctx *o, const mg_stats *s)
{
    char a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[32];
    FILE *err = o->err;
    fprintf(err,
            "memgrep: %" PRIu64 " %s scanned, %" PRIu64 " failed; %" PRIu64 " %s scanned, %" PRIu64
            " skipped\n",
            s->processes_scanned, plural(s->processes_scanned, "process", "processes"),
            s->processes_failed, s->regions_scanned,
            plural(s->regions_scanned, "region", "regions"), s->regions_skipped);
    fprintf(err,
            "memgrep: processes: %" PRIu64 " selected, %" PRIu64 " whole, %" PRIu64 " cut, %" PRIu64
            " not reached, %" PRIu64 " gone, %" PRIu64 " denied; %" PRIu64 " %s, %" PRIu64
            " kernel %s skipped\n",
            output_selected(s), s->processes_whole, s->processes_cut, s->processes_unreached,
            s->events[MG_EVENT_GONE], s->events[MG_EVENT_PERMISSION], s->processes_zombie,
            plural(s->processes_zombie, "zombie", "zombies"), s->processes_kthread,
            plural(s->processes_kthread, "thread", "threads"));
    fprintf(err,
            "memgrep: %s scanned (process_vm_readv %s, /proc/PID/mem %s, shared and "
            "deduplicated %s); not present %s; skipped: no-read %s, special %s, changed %s\n",
            output_human_bytes(s->bytes_scanned, a, sizeof(a)),
            output_human_bytes(s->bytes_read_pvr, b, sizeof(b)),
            output_human_bytes(s->bytes_read_mem, c, sizeof(c)),
            output_human_bytes(s->bytes_deduped, h, sizeof(h)),
            output_human_bytes(s->bytes_not_present, d, sizeof(d)),
            output_human_bytes(s->bytes_skipped_noread, e, sizeof(e)),
            output_human_bytes(s->bytes_skipped_special, f, sizeof(f)),
            output_human_bytes(s->bytes_skipped_changed, g, sizeof(g)));
    fprintf(err, "memgrep: %" PRIu64 " %s; errors:", s->matches,
            plural(s->matches, "match", "matches"));
    for (int k = 0; k < MG_EVENT_KINDS; k++)
        fprintf(err, "%s %" PRIu64 " %s", k ? "," : "", s->events[k],
                output_event_kind_name((mg_event_kind)k));
    fputc('\n', err);
    if (o->rules)
        fprintf(err, "memgrep: %" PRIu64 " %s %s; %zu %s skipped as unsupported\n", s->rule_matches,
                plural(s->rule_matches, "rule", "rules"),
                o->rule_form.negate ? "did not match" : "matched", o->rules_skipped,
                o->rules_skipped == 1 ? "rule" : "rules");
    fprintf(err, "memgrep: %.3f s, %.2f GB/s, mem reader %s, %u threads, ", s->elapsed_seconds,
            output_gbps(s), s->mem_reader ? s->mem_reader : "none", s->threads);
    if (output_complete(s))
        fputs("complete\n", err);
    else
        fprintf(err, "incomplete (%s)\n", output_incomplete_reason(s));
}

/* "memgrep: watch: 120 scans (118 opened, 2 gone), 1.2 GiB, 3 passes;
 * events 140 seen, 0 overruns, 0 dropped (connector); 2 alerts, 5 repeated,
 * 2 held; 1 reload, 0 failed" */
static void text_watch_stats(output_ctx *o, const output_watch_stats *s)
{
    char b[32];
    fprintf(
        o->err,
        "memgrep: watch%s: %" PRIu64 " scans (%" PRIu64 " opened, %" PRIu64 " gone), %s, %" PRIu64
        " %s; events %" PRIu64 " seen, %" PRIu64 " overruns, %" PRIu64 " dropped (%s); %" PRIu64
        " %s, %" PRIu64 " repeated, %" PRIu64 " held; %" PRIu64 " %s, %" PRIu64 " failed\n",
        s->final ? " (final)" : "", s->scans, s->processes_scanned, s->processes_gone,
        output_human_bytes(s->bytes_scanned, b, sizeof(b)), s->passes,
        plural(s->passes, "pass", "passes"), s->events_seen, s->events_overruns, s->events_dropped,
        s->event_source, s->alerts, plural(s->alerts, "alert", "alerts"), s->alerts_repeated,
        s->alerts_held, s->reloads, plural(s->reloads, "reload", "reloads"), s->reload_failures);
}

const output_backend output_text = {
    .name = "text",
    .match = text_match,
    .event = text_event,
    .count = text_count,
    .process = text_process,
    .rule = text_rule,
    .finish = text_finish,
    .summary = text_summary,
    .watch_stats = text_watch_stats,
};
