/* findings_print.c - one finding as `memgrep check` and `memgrep scan
 * --findings` print it (a line, or a "finding" record), and a process that
 * could not be checked (a line on stderr, or an "error" record). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "findings_print.h"
#include "investigate.h"
#include "output/json.h"
#include "output/output.h"

static void put_text(FILE *f, const char *key, const char *v)
{
    fprintf(f, " %s=", key);
    cli_put_escaped(f, v, strlen(v));
}

static bool has_mappings(const mg_finding *x)
{
    return x->kind == MG_FINDING_MEMFD_EXEC || x->kind == MG_FINDING_DELETED_EXE ||
           x->kind == MG_FINDING_ANON_EXEC || x->kind == MG_FINDING_RWX ||
           x->kind == MG_FINDING_PATCHED_CODE;
}

static void text_mappings(FILE *f, const mg_finding *x)
{
    if (x->image)
        put_text(f, "image", x->exe);
    fprintf(f, " regions=%zu bytes=%" PRIu64, x->regions, x->bytes);
    if (x->regions) {
        const mg_region *r = &x->first;
        fprintf(f, " first=%" PRIx64 "-%" PRIx64 " %s ", r->start, r->end, r->perms);
        const char *name = output_region_name(r);
        cli_put_escaped(f, name, strlen(name));
        if (r->deleted)
            fputs(" (deleted)", f);
    }
    if (x->runtime[0])
        put_text(f, "runtime", x->runtime);
    if (x->kind != MG_FINDING_PATCHED_CODE)
        return;
    fprintf(f, " patches=%zu", x->patches_total);
    for (size_t i = 0; i < x->n_patches; i++)
        fprintf(f, " %" PRIx64 "-%" PRIx64 "@%" PRIx64, x->patches[i].start, x->patches[i].end,
                x->patches[i].offset);
    fprintf(f, " textrel=%s file_read=%s", x->textrel ? "yes" : "no", x->file_read);
}

void cli_finding_print_text(FILE *f, const mg_finding *x, const char *dump)
{
    fprintf(f, "%d ", (int)x->pid);
    cli_put_escaped(f, x->comm, strlen(x->comm));
    fprintf(f, " %s %s:", mg_severity_name(x->severity), mg_finding_kind_name(x->kind));
    if (has_mappings(x)) {
        text_mappings(f, x);
    } else if (x->kind == MG_FINDING_TRACED) {
        fprintf(f, " tracer=%d", (int)x->tracer);
        put_text(f, "tracer_comm", x->tracer_comm);
        fprintf(f, " tid=%d", (int)x->traced_tid);
    } else if (x->kind == MG_FINDING_PRELOAD) {
        for (size_t i = 0; i < x->n_preloads; i++) {
            put_text(f, "library", x->preloads[i].path);
            put_text(f, "source", x->preloads[i].source);
        }
    } else {
        put_text(f, "comm", x->comm);
        put_text(f, "argv0", x->argv0);
    }
    if (dump)
        put_text(f, "dump", dump);
    fputc('\n', f);
}

static void json_str_or_null(FILE *f, const char *key, const char *v)
{
    if (v[0])
        cli_json_str(f, key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static void json_mappings(FILE *f, const mg_finding *x)
{
    fprintf(f, "\"image\":%s", x->image ? "true" : "false");
    cli_json_u64(f, "regions", x->regions);
    cli_json_u64(f, "bytes", x->bytes);
    cli_json_key(f, "first");
    if (x->regions)
        cli_json_region(f, &x->first);
    else
        fputs("null", f);
    json_str_or_null(f, "runtime", x->runtime);
    if (x->kind != MG_FINDING_PATCHED_CODE)
        return;
    fputs(",\"patches\":[", f);
    for (size_t i = 0; i < x->n_patches; i++) {
        const mg_patch *p = &x->patches[i];
        fprintf(f, "%s{\"start\":\"0x%" PRIx64 "\"", i ? "," : "", p->start);
        cli_json_addr(f, "end", p->end);
        cli_json_addr(f, "offset", p->offset);
        cli_json_str(f, "path", p->path);
        fputc('}', f);
    }
    fputc(']', f);
    cli_json_u64(f, "patches_total", x->patches_total);
    cli_json_bool(f, "textrel", x->textrel);
    cli_json_str(f, "file_read", x->file_read);
}

void cli_finding_print_json(FILE *f, const mg_finding *x, const char *dump)
{
    fprintf(f, "{\"type\":\"finding\"");
    cli_json_time(f);
    cli_json_str(f, "kind", mg_finding_kind_name(x->kind));
    cli_json_u64(f, "pid", (uint64_t)x->pid);
    cli_json_str(f, "comm", x->comm);
    cli_json_str(f, "exe", x->exe);
    cli_json_str(f, "severity", mg_severity_name(x->severity));
    fputs(",\"evidence\":{", f);
    if (has_mappings(x)) {
        json_mappings(f, x);
    } else if (x->kind == MG_FINDING_TRACED) {
        fprintf(f, "\"tracer_pid\":%d", (int)x->tracer);
        cli_json_str(f, "tracer_comm", x->tracer_comm);
        cli_json_u64(f, "tid", (uint64_t)x->traced_tid);
    } else if (x->kind == MG_FINDING_PRELOAD) {
        fputs("\"libraries\":[", f);
        for (size_t i = 0; i < x->n_preloads; i++) {
            fputs(i ? ",{\"path\":" : "{\"path\":", f);
            json_cstr(f, x->preloads[i].path);
            cli_json_str(f, "source", x->preloads[i].source);
            fputc('}', f);
        }
        fputc(']', f);
    } else {
        fputs("\"comm\":", f);
        json_cstr(f, x->comm);
        cli_json_str(f, "argv0", x->argv0);
    }
    fputc('}', f);
    if (dump)
        cli_json_str(f, "dump", dump);
    fputs("}\n", f);
}

void cli_findings_print_failure(FILE *f, bool json, const mg_proc_info *p, int rc,
                                const mg_error *err)
{
    const char *kind = rc == -ESRCH || rc == MG_EBADPID ? "gone"
                       : rc == -EACCES                  ? "permission"
                                                        : "other";
    const char *reason = err->message[0] ? err->message : mg_strerror(rc);
    if (!json) {
        fprintf(stderr, "memgrep: %d ", (int)p->pid);
        cli_put_escaped(stderr, p->comm, strlen(p->comm));
        fprintf(stderr, ": %s: %s\n", kind, reason);
        return;
    }
    mg_container ct;
    fputs("{\"type\":\"error\"", f);
    cli_json_time(f);
    fprintf(f, ",\"pid\":%d", (int)p->pid);
    cli_json_str(f, "comm", p->comm);
    cli_json_str(f, "cgroup", p->cgroup);
    if (mg_container_of(p->cgroup, &ct) == 1)
        cli_json_str(f, "container", ct.id);
    else
        fputs(",\"container\":null", f);
    cli_json_str(f, "kind", kind);
    cli_json_str(f, "reason", reason);
    fputs("}\n", f);
}
