/* cmd_check.c - `memgrep check`: signs of fileless or tampered code in every
 * process, or the ones -p names (mg_findings_get): no pattern, no memory
 * read, one line or record per finding. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "investigate.h"
#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/output.h"

typedef struct check_state {
    cli_targets targets;
    cli_listing listing;
    cli_sandbox sandbox;
} check_state;

/* What a sweep counted, for the summary line on stderr. */
typedef struct check_counts {
    size_t checked, failed, findings;
} check_counts;

static void put_text(FILE *f, const char *key, const char *v)
{
    fprintf(f, " %s=", key);
    cli_put_escaped(f, v, strlen(v));
}

static bool has_mappings(const mg_finding *x)
{
    return x->kind == MG_FINDING_MEMFD_EXEC || x->kind == MG_FINDING_DELETED_EXE ||
           x->kind == MG_FINDING_ANON_EXEC || x->kind == MG_FINDING_RWX;
}

/* PID COMM SEVERITY KIND: KEY=VALUE... */
static void print_text(FILE *f, const mg_finding *x)
{
    fprintf(f, "%d ", (int)x->pid);
    cli_put_escaped(f, x->comm, strlen(x->comm));
    fprintf(f, " %s %s:", mg_severity_name(x->severity), mg_finding_kind_name(x->kind));
    if (has_mappings(x)) {
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
    } else if (x->kind == MG_FINDING_TRACED) {
        fprintf(f, " tracer=%d", (int)x->tracer);
        put_text(f, "tracer_comm", x->tracer_comm);
        fprintf(f, " tid=%d", (int)x->traced_tid);
    } else {
        put_text(f, "comm", x->comm);
        put_text(f, "argv0", x->argv0);
    }
    fputc('\n', f);
}

static void json_str_or_null(FILE *f, const char *key, const char *v)
{
    if (v[0])
        cli_json_str(f, key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static void print_json(FILE *f, const mg_finding *x)
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
        fprintf(f, "\"image\":%s", x->image ? "true" : "false");
        cli_json_u64(f, "regions", x->regions);
        cli_json_u64(f, "bytes", x->bytes);
        cli_json_key(f, "first");
        if (x->regions)
            cli_json_region(f, &x->first);
        else
            fputs("null", f);
        json_str_or_null(f, "runtime", x->runtime);
    } else if (x->kind == MG_FINDING_TRACED) {
        fprintf(f, "\"tracer_pid\":%d", (int)x->tracer);
        cli_json_str(f, "tracer_comm", x->tracer_comm);
        cli_json_u64(f, "tid", (uint64_t)x->traced_tid);
    } else {
        fputs("\"comm\":", f);
        json_cstr(f, x->comm);
        cli_json_str(f, "argv0", x->argv0);
    }
    fputs("}}\n", f);
}

/* A process that could not be checked: scan's error record, or a line on
 * stderr. */
static void print_failure(FILE *f, bool json, const mg_proc_info *p, int rc, const mg_error *err)
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

static void check_one(FILE *f, bool json, const mg_proc_info *p, check_counts *c)
{
    mg_finding *list = NULL;
    size_t n = 0;
    mg_error err = {{0}};
    int rc = mg_findings_get(p->pid, &list, &n, &err);
    if (rc < 0) {
        c->failed++;
        print_failure(f, json, p, rc, &err);
        return;
    }
    c->checked++;
    c->findings += n;
    for (size_t i = 0; i < n; i++) {
        if (json)
            print_json(f, &list[i]);
        else
            print_text(f, &list[i]);
    }
    mg_findings_free(&list);
}

static int check_run(void *state)
{
    const check_state *s = state;
    mg_proc_info **procs = NULL, *all = NULL;
    size_t n = 0;
    check_counts c = {0};
    int status = EXIT_TROUBLE;
    cli_dest d;
    if (cli_targets_check(&s->targets) < 0 || cli_procs_collect(&s->targets, &procs, &n, &all) < 0)
        goto out;
    if (cli_dest_open(&d, &s->listing) < 0)
        goto out;
    if (cli_dest_sandbox(&d, &s->sandbox) < 0) {
        cli_dest_close(&d, false);
        goto out;
    }
    size_t selected = 0;
    for (size_t i = 0; i < n; i++) {
        const mg_proc_info *p = procs[i];
        if (!mg_cgroup_selected(p->cgroup, s->targets.cgroup, s->targets.container))
            continue;
        selected++;
        /* no user memory, or memgrep: nothing to check */
        if (p->flags & (MG_PROC_KTHREAD | MG_PROC_ZOMBIE | MG_PROC_SELF))
            continue;
        check_one(d.f, s->listing.json, p, &c);
    }
    if (cli_dest_close(&d, true) < 0)
        goto out;
    fprintf(stderr, "memgrep: %zu process%s checked, %zu failed; %zu finding%s\n", c.checked,
            c.checked == 1 ? "" : "es", c.failed, c.findings, c.findings == 1 ? "" : "s");
    if (!selected && cli_targets_filtered(&s->targets))
        fprintf(stderr, "memgrep: no process selected\n");
    status = c.findings ? EXIT_MATCH : EXIT_NO_MATCH;
out:
    cli_procs_release(procs, n, all);
    return status;
}

static const cli_binding check_groups[] = {
    {&cli_targets_group, offsetof(check_state, targets)},
    {&cli_listing_group, offsetof(check_state, listing)},
    {&cli_sandbox_group, offsetof(check_state, sandbox)},
};

const cli_command cli_cmd_check = {
    .name = "check",
    .summary = "fileless and tampered code: memfd, deleted, RWX, ptrace, masquerade",
    .synopsis = "[OPTIONS]",
    .description =
        "Look at every process (or those -p names) for signs of fileless or tampered\n"
        "code, one line per finding: PID COMM SEVERITY KIND: EVIDENCE. Kinds: memfd_exec\n"
        "(image or executable mapping from a memfd), deleted_exe (image or executable\n"
        "mapping of a deleted file), anon_exec (anonymous executable memory), rwx\n"
        "(writable and executable at once), traced (a thread attached by ptrace: the\n"
        "tracer), masquerade (comm or argv[0] in brackets as a kernel thread's, with user\n"
        "memory). Code a JIT runtime (java, node, python3...) explains is reported at low\n"
        "severity with the runtime. Only /proc files are read: no pattern, no memory,\n"
        "nothing attached.",
    .epilogue = "Exit status: 0 findings, 1 none (processes that could not be checked are\n"
                "reported and counted, not an error), 2 error.\n",
    .groups = check_groups,
    .n_groups = sizeof(check_groups) / sizeof(check_groups[0]),
    .state_size = sizeof(check_state),
    .run = check_run,
};
