/* findings.c - the findings of one process as `memgrep check` and `memgrep
 * scan --findings` report them (mg_findings_get): silenced by --allow,
 * printed as a line or a record (findings_print.c), the first region
 * dumped under --dump-findings (findings_dump.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump_manifest.h"
#include "findings.h"
#include "findings_dump.h"
#include "findings_print.h"
#include "investigate.h"
#include "messages.h"

/* ---- options ---- */

enum {
    OPT_FINDINGS,
    OPT_ALLOW,
    OPT_ALLOW_FILE,
    OPT_DUMP,
};

static const cli_opt findings_opts[] = {
    {OPT_FINDINGS, 0, "findings", NULL,
     "scan: also each target's findings (as memgrep check),\n"
     "records beside the matches (check: always)",
     NULL},
    {OPT_ALLOW, 0, "allow", "KIND:EXE",
     "do not report findings of KIND ('*': any) in processes\n"
     "whose executable is the absolute path EXE (repeatable)",
     NULL},
    {OPT_ALLOW_FILE, 0, "allow-file", "FILE",
     "--allow entries from FILE, one KIND:EXE a line; '#'\nstarts a comment line", NULL},
    {OPT_DUMP, 0, "dump-findings", "DIR",
     "the present pages of each finding's first region into\n"
     "DIR/PID/KIND-START-END.bin, and DIR/PID/manifest.json\n"
     "as dump's (made 0700; without the sandbox)",
     NULL},
    {0},
};

/* KIND:EXE from where (--allow, or FILE:LINE). */
static int add_allow(cli_findings *o, const char *spec, size_t len, const char *where)
{
    const char *colon = memchr(spec, ':', len);
    int kind = -2;
    if (colon && colon - spec == 1 && spec[0] == '*')
        kind = -1;
    for (int k = 0; colon && kind == -2 && k < MG_FINDING_KINDS; k++) {
        const char *name = mg_finding_kind_name((mg_finding_kind)k);
        if (strlen(name) == (size_t)(colon - spec) && !memcmp(spec, name, strlen(name)))
            kind = k;
    }
    if (kind == -2 || colon + 1 == spec + len || colon[1] != '/') {
        cli_usage_error("%s: '%.*s': want KIND:EXE, KIND a finding kind or '*', EXE an absolute "
                        "path",
                        where, (int)len, spec);
        return -1;
    }
    cli_allow *a = realloc(o->allow, (o->n_allow + 1) * sizeof(*a));
    if (!a) {
        cli_usage_error("out of memory");
        return -1;
    }
    o->allow = a;
    a[o->n_allow].kind = kind;
    a[o->n_allow].exe = strndup(colon + 1, (size_t)(spec + len - colon - 1));
    if (!a[o->n_allow].exe) {
        cli_usage_error("out of memory");
        return -1;
    }
    o->n_allow++;
    return 0;
}

static int allow_file(cli_findings *o, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        cli_usage_error("--allow-file: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL, where[4200];
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    for (unsigned no = 1; rc == 0 && (n = getline(&line, &cap, f)) >= 0; no++) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            n--;
        size_t skip = strspn(line, " \t");
        if ((size_t)n <= skip || line[skip] == '#')
            continue;
        snprintf(where, sizeof(where), "%s:%u", path, no);
        rc = add_allow(o, line + skip, (size_t)n - skip, where);
    }
    free(line);
    fclose(f);
    return rc;
}

static int findings_parse(void *state, int id, const char *arg)
{
    cli_findings *o = state;
    switch (id) {
    case OPT_FINDINGS:
        o->on = true;
        return 0;
    case OPT_ALLOW:
        return add_allow(o, arg, strlen(arg), "--allow");
    case OPT_ALLOW_FILE:
        return allow_file(o, arg);
    case OPT_DUMP:
        if (!arg[0]) {
            cli_usage_error("--dump-findings: empty path" CLI_TRY_HELP);
            return -1;
        }
        o->dump_dir = arg;
        return 0;
    }
    return -1;
}

static void findings_fini(void *state)
{
    cli_findings *o = state;
    for (size_t i = 0; i < o->n_allow; i++)
        free(o->allow[i].exe);
    free(o->allow);
    o->allow = NULL;
    o->n_allow = 0;
}

const cli_group cli_findings_group = {
    .title = "Findings",
    .opts = findings_opts,
    .fini = findings_fini,
    .parse = findings_parse,
};

bool cli_finding_allowed(const cli_findings *o, const mg_finding *f)
{
    for (size_t i = 0; i < o->n_allow; i++)
        if ((o->allow[i].kind < 0 || o->allow[i].kind == (int)f->kind) &&
            !strcmp(o->allow[i].exe, f->exe))
            return true;
    return false;
}

/* ---- one process ---- */

/* A finding reported with a readable first region. */
static bool dumpable(const cli_findings *o, const mg_finding *x)
{
    return x->regions && x->first.perms[0] == 'r' && !cli_finding_allowed(o, x);
}

/* The findings of list --dump-findings writes (see cli_findings_dump_process). */
static int dump_process(const cli_findings *o, const mg_proc_info *p, const mg_finding *list,
                        size_t n, cli_proc_dump *pd)
{
    bool *wanted = calloc(n ? n : 1, sizeof(*wanted));
    if (!wanted) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        wanted[i] = dumpable(o, &list[i]);
    int rc = cli_findings_dump_process(o->dump_dir, p, list, wanted, n, pd);
    free(wanted);
    return rc;
}

/* The findings of p had: dumped, counted, printed as show says. Returns 0,
 * or -1 after one line (a dump could not be written). */
static int report(const cli_findings *o, FILE *f, bool json, unsigned show, const mg_proc_info *p,
                  const mg_finding *list, size_t n, cli_findings_count *c)
{
    c->checked++;
    cli_proc_dump pd = {0};
    int rc = o->dump_dir ? dump_process(o, p, list, n, &pd) : 0;
    for (size_t i = 0; i < n; i++) {
        if (cli_finding_allowed(o, &list[i])) {
            c->allowed++;
            continue;
        }
        c->findings++;
        if ((show & CLI_FINDINGS_PRINT) && json)
            cli_finding_print_json(f, &list[i], cli_findings_dumped_path(&pd, i));
        else if (show & CLI_FINDINGS_PRINT)
            cli_finding_print_text(f, &list[i], cli_findings_dumped_path(&pd, i));
    }
    c->dumped += pd.n;
    cli_findings_dump_free(&pd);
    return rc;
}

int cli_findings_of(const cli_findings *o, FILE *f, bool json, unsigned show, const mg_proc_info *p,
                    cli_findings_count *c)
{
    mg_finding *list = NULL;
    size_t n = 0;
    mg_error err = {{0}};
    int rc = mg_findings_get(p->pid, &list, &n, &err);
    if (rc < 0) {
        c->failed++;
        if (show & CLI_FINDINGS_FAILURES)
            cli_findings_print_failure(f, json, p, rc, &err);
        return 0;
    }
    rc = report(o, f, json, show, p, list, n, c);
    mg_findings_free(&list);
    return rc;
}

int cli_findings_sweep(const cli_findings *o, const cli_targets *t, FILE *f, bool json,
                       unsigned show, cli_findings_count *c, size_t *selected)
{
    mg_proc_info **procs = NULL, *all = NULL;
    size_t n = 0;
    int rc = cli_procs_collect(t, &procs, &n, &all);
    *selected = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const mg_proc_info *p = procs[i];
        if (!mg_cgroup_selected(p->cgroup, t->cgroup, t->container))
            continue;
        ++*selected;
        /* no user memory, or memgrep: nothing to check */
        if (p->flags & (MG_PROC_KTHREAD | MG_PROC_ZOMBIE | MG_PROC_SELF))
            continue;
        rc = cli_findings_of(o, f, json, show, p, c);
    }
    cli_procs_release(procs, n, all);
    return rc;
}

/* ---- in a scan's sweep ---- */

int cli_findings_scanned(void *ctx, const mg_process *p, const mg_finding *list, size_t n)
{
    cli_findings_scan *s = ctx;
    const cli_findings *o = s->o;
    /* a dump's manifest names the process as dump's does: its start time
     * and arguments, read only when there is something to dump */
    mg_proc_info info = {.pid = p->pid,
                         .comm = p->comm,
                         .exe = p->exe,
                         .cgroup = p->cgroup,
                         .cmdline = ""},
                 *got = NULL;
    for (size_t i = 0; o->dump_dir && !got && i < n; i++)
        if (dumpable(o, &list[i]) && mg_proc_get(p->pid, &got, NULL) < 0)
            break;
    if (report(o, s->f, s->json, s->show, got ? got : &info, list, n, &s->c) < 0)
        s->failed = true;
    mg_proc_info_free(&got);
    return s->failed ? MG_SINK_STOP : MG_SINK_CONTINUE;
}

void cli_findings_scan_summary(FILE *f, cli_findings_scan *s, const mg_stats *stats)
{
    /* every process opened but not checked failed: its findings could not
     * be had, or the sweep stopped before its end */
    uint64_t opened = stats->processes_scanned;
    s->c.failed =
        (size_t)(stats->processes_failed + (opened > s->c.checked ? opened - s->c.checked : 0));
    cli_findings_summary(f, &s->c);
}

int cli_findings_sandbox(const cli_findings *o, const cli_sandbox *sb)
{
    if (!o->dump_dir || sb->mode == CLI_SANDBOX_OFF)
        return 1;
    if (sb->mode == CLI_SANDBOX_REQUIRED) {
        cli_usage_error("--dump-findings writes files, which the sandbox forbids: not with "
                        "--require-sandbox");
        return -1;
    }
    fprintf(stderr, "memgrep: --dump-findings: no sandbox (it writes files)\n");
    return 0;
}

void cli_findings_summary(FILE *f, const cli_findings_count *c)
{
    fprintf(f, "memgrep: %zu process%s checked, %zu failed; %zu finding%s", c->checked,
            c->checked == 1 ? "" : "es", c->failed, c->findings, c->findings == 1 ? "" : "s");
    if (c->allowed)
        fprintf(f, ", %zu allowed", c->allowed);
    if (c->dumped)
        fprintf(f, ", %zu dumped", c->dumped);
    fputc('\n', f);
}
