/* investigate.c - shared by ps, maps, dump and strings (investigate.h). */
#include "investigate.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "output/output.h"

/* ------------------------------------------------------------------ */
/* Option groups                                                       */
/* ------------------------------------------------------------------ */

enum {
    OPT_JSON,
    OPT_OUTPUT,
    OPT_HUMAN,
    OPT_BYTES,
};

static const cli_opt listing_opts[] = {
    {OPT_OUTPUT, 'o', "output", "FILE",
     "output to FILE (mode 0600), put in place at the end;\n"
     "a symbolic link there is refused",
     NULL},
    {OPT_JSON, 0, "json", NULL, "JSON Lines on stdout (or -o FILE)", NULL},
    {0},
};

static int listing_parse(void *state, int id, const char *arg)
{
    cli_listing *l = state;
    if (id == OPT_JSON) {
        l->json = true;
        return 0;
    }
    if (!arg[0]) {
        cli_usage_error("--output: empty file name" CLI_TRY_HELP);
        return -1;
    }
    l->file = arg;
    return 0;
}

const cli_group cli_listing_group = {
    .title = "Output",
    .opts = listing_opts,
    .parse = listing_parse,
};

static const cli_opt sizes_opts[] = {
    {OPT_HUMAN, 0, "human", NULL, "sizes as 1.5 MiB (default on a terminal)", NULL},
    {OPT_BYTES, 0, "bytes", NULL, "sizes in bytes (default when not a terminal)", NULL},
    {0},
};

static int sizes_parse(void *state, int id, const char *arg)
{
    (void)arg;
    *(cli_sizes *)state = id == OPT_HUMAN ? CLI_SIZES_HUMAN : CLI_SIZES_BYTES;
    return 0;
}

const cli_group cli_sizes_group = {
    .title = "Sizes",
    .opts = sizes_opts,
    .parse = sizes_parse,
};

bool cli_sizes_human(cli_sizes s, const cli_listing *l)
{
    if (s != CLI_SIZES_AUTO)
        return s == CLI_SIZES_HUMAN;
    return !l->json && !l->file && isatty(STDOUT_FILENO);
}

const char *cli_size_text(uint64_t n, bool human, char *buf, size_t size)
{
    if (human)
        return output_human_bytes(n, buf, size);
    snprintf(buf, size, "%" PRIu64, n);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

int cli_dest_open(cli_dest *d, const cli_listing *l)
{
    memset(d, 0, sizeof(*d));
    d->f = stdout;
    d->name = "stdout";
    if (!l->file)
        return 0;
    if (cli_outfile_open(&d->file, l->file) < 0)
        return -1;
    d->f = cli_outfile_stream(&d->file);
    d->name = l->file;
    return 0;
}

int cli_dest_close(cli_dest *d, bool ok)
{
    if (d->f == stdout) {
        errno = 0;
        if (fflush(stdout) == EOF || ferror(stdout)) {
            fprintf(stderr, "memgrep: write error on stdout: %s\n", strerror(errno ? errno : EIO));
            return -1;
        }
        return ok ? 0 : -1;
    }
    if (!ok) {
        cli_outfile_abort(&d->file);
        return -1;
    }
    return cli_outfile_commit(&d->file);
}

int cli_dest_sandbox(const cli_dest *d, const cli_sandbox *s)
{
    cli_sandbox_needs needs = {
        .write_fds = {STDOUT_FILENO, STDERR_FILENO},
        .n_write_fds = 2,
        .dir_fd = -1,
    };
    if (d->f != stdout) {
        needs.write_fds[needs.n_write_fds++] = fileno(d->f);
        needs.dir_fd = cli_outfile_dir_fd(&d->file);
    }
    return cli_sandbox_enter(s, &needs);
}

/* ------------------------------------------------------------------ */
/* The process                                                         */
/* ------------------------------------------------------------------ */

int cli_procs_collect(const cli_targets *t, mg_proc_info ***out, size_t *n, mg_proc_info **all)
{
    mg_error err = {{0}};
    *all = NULL;
    *n = 0;
    size_t cap = t->n_pids;
    if (!cap) {
        size_t na;
        int rc = mg_proc_list(all, &na, &err);
        if (rc < 0) {
            cli_inspect_report(rc, &err, "list processes");
            return -1;
        }
        cap = na;
    }
    *out = calloc(cap ? cap : 1, sizeof(**out));
    if (!*out) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    if (*all) {
        for (size_t i = 0; i < cap; i++)
            (*out)[(*n)++] = &(*all)[i];
        return 0;
    }
    for (size_t i = 0; i < cap; i++) {
        mg_proc_info *p = NULL;
        int rc = mg_proc_get(t->pids[i], &p, &err);
        if (rc < 0) {
            cli_inspect_report(rc, &err, "read the process");
            return -1;
        }
        bool seen = false; /* a thread id and its process: once */
        for (size_t j = 0; j < *n && !seen; j++)
            seen = (*out)[j]->pid == p->pid;
        if (seen)
            mg_proc_info_free(&p);
        else
            (*out)[(*n)++] = p;
    }
    return 0;
}

void cli_procs_release(mg_proc_info **procs, size_t n, mg_proc_info *all)
{
    if (!all)
        for (size_t i = 0; procs && i < n; i++)
            mg_proc_info_free(&procs[i]);
    mg_proc_info_free(&all);
    free(procs);
}

void cli_inspect_report(int err, const mg_error *e, const char *what)
{
    if (e && e->message[0])
        fprintf(stderr, "memgrep: %s\n", e->message);
    else
        fprintf(stderr, "memgrep: %s: %s\n", what, mg_strerror(err));
}

int cli_parse_pid_arg(const char *arg, pid_t *out)
{
    char *end;
    errno = 0;
    long v = arg[0] >= '0' && arg[0] <= '9' ? strtol(arg, &end, 10) : -1;
    if (v <= 0 || v > INT_MAX || errno || *end) {
        cli_usage_error("invalid pid '%s': expected a process id" CLI_TRY_HELP, arg);
        return -1;
    }
    *out = (pid_t)v;
    return 0;
}

/* "--container ID", "--cgroup PREFIX" or both, for messages. */
static const char *filter_text(const cli_targets *t, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s", t->container ? "--container " : "",
             t->container ? t->container : "", t->container && t->cgroup ? " " : "",
             t->cgroup ? "--cgroup " : "", t->cgroup ? t->cgroup : "");
    return buf;
}

/* A process the filters select, among all (none: 0, several: -1). */
static int filtered_one(const cli_targets *t, pid_t *out)
{
    mg_proc_info *list = NULL;
    size_t n = 0, found = 0;
    mg_error err = {{0}};
    char ft[256];
    int rc = mg_proc_list(&list, &n, &err);
    if (rc < 0) {
        cli_inspect_report(rc, &err, "list processes");
        return EXIT_TROUBLE;
    }
    char pids[128] = "";
    for (size_t i = 0; i < n; i++) {
        if (list[i].flags & (MG_PROC_KTHREAD | MG_PROC_ZOMBIE | MG_PROC_SELF) ||
            !mg_cgroup_selected(list[i].cgroup, t->cgroup, t->container))
            continue;
        if (found++ < 5) {
            size_t len = strlen(pids);
            snprintf(pids + len, sizeof(pids) - len, "%s%d", found > 1 ? ", " : "",
                     (int)list[i].pid);
        }
        *out = list[i].pid;
    }
    mg_proc_info_free(&list);
    filter_text(t, ft, sizeof(ft));
    if (found == 1)
        return 0;
    if (!found) {
        fprintf(stderr, "memgrep: no process selected (%s)\n", ft);
        return EXIT_NO_MATCH;
    }
    fprintf(stderr, "memgrep: %s selects %zu processes (%s%s): give one PID\n", ft, found, pids,
            found > 5 ? ", ..." : "");
    return EXIT_TROUBLE;
}

int cli_target_pid(const cli_targets *t, pid_t pos, pid_t *out)
{
    if (t->n_pids > 1 || (t->n_pids == 1 && pos && t->pids[0] != pos)) {
        cli_usage_error("one process at a time: give one PID (or one -p)");
        return EXIT_TROUBLE;
    }
    pid_t pid = pos ? pos : t->n_pids ? t->pids[0] : 0;
    if (!pid) {
        if (cli_targets_filtered(t))
            return filtered_one(t, out);
        cli_usage_error("missing PID" CLI_TRY_HELP);
        return EXIT_TROUBLE;
    }
    mg_proc_info *info = NULL;
    mg_error err = {{0}};
    int rc = mg_proc_get(pid, &info, &err);
    if (rc < 0) {
        cli_inspect_report(rc, &err, "read the process");
        return EXIT_TROUBLE;
    }
    bool selected = mg_cgroup_selected(info->cgroup, t->cgroup, t->container);
    if (!selected) {
        char ft[256];
        fprintf(stderr, "memgrep: process %d is not selected by %s (its cgroup: %s)\n", (int)pid,
                filter_text(t, ft, sizeof(ft)), info->cgroup);
    }
    *out = info->pid;
    mg_proc_info_free(&info);
    return selected ? 0 : EXIT_NO_MATCH;
}

/* ------------------------------------------------------------------ */
/* Region specs                                                        */
/* ------------------------------------------------------------------ */

static const char *const spec_kinds[] = {"heap", "stack", "anon", "file", "shm"};

static bool spec_kind(const char *spec, mg_region_kind *kind)
{
    static const mg_region_kind kinds[] = {MG_REGION_HEAP, MG_REGION_STACK, MG_REGION_ANON,
                                           MG_REGION_FILE, MG_REGION_SHM};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(spec, spec_kinds[i])) {
            *kind = kinds[i];
            return true;
        }
    return false;
}

static bool parse_hex(const char *s, size_t n, uint64_t *out)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        n -= 2;
    }
    if (!n || n > 16)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
                : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
                : s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
                                             : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

/* "START-END" in hex, start < end. */
static bool spec_range(const char *spec, uint64_t *lo, uint64_t *hi)
{
    const char *dash = strchr(spec, '-');
    if (!dash || !parse_hex(spec, (size_t)(dash - spec), lo) ||
        !parse_hex(dash + 1, strlen(dash + 1), hi) || *lo >= *hi)
        return false;
    uint64_t mask = (uint64_t)mg_page_size() - 1;
    *lo &= ~mask;
    *hi = *hi > UINT64_MAX - mask ? UINT64_MAX & ~mask : (*hi + mask) & ~mask;
    return true;
}

/* Why a scan never reads this region. */
static const char *unread_reason(const mg_region_info *ri)
{
    if (ri->region.kind == MG_REGION_SPECIAL || ri->region.kind == MG_REGION_DEVICE)
        return "memgrep never reads special and device mappings";
    return "it has no read permission";
}

int cli_select_pieces(pid_t pid, const char *const *specs, size_t n_specs,
                      const mg_region_info *list, size_t n, cli_piece **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    /* per region: [lo, hi) selected so far (lo == hi: none) */
    uint64_t *lo = calloc(n ? n : 1, sizeof(*lo)), *hi = calloc(n ? n : 1, sizeof(*hi));
    cli_piece *pieces = calloc(n ? n : 1, sizeof(*pieces));
    if (!lo || !hi || !pieces) {
        fprintf(stderr, "memgrep: out of memory\n");
        goto fail;
    }
    for (size_t i = 0; !n_specs && i < n; i++)
        if (list[i].scannable) {
            lo[i] = list[i].region.start;
            hi[i] = list[i].region.end;
        }
    for (size_t s = 0; s < n_specs; s++) {
        const char *spec = specs[s];
        mg_region_kind kind;
        uint64_t a = 0, b = 0;
        bool is_kind = spec_kind(spec, &kind), is_range = !is_kind && spec_range(spec, &a, &b);
        size_t hits = 0, readable = 0;
        const mg_region_info *unread = NULL;
        for (size_t i = 0; i < n; i++) {
            const mg_region *r = &list[i].region;
            uint64_t l = r->start, h = r->end;
            if (is_kind && r->kind != kind)
                continue;
            if (is_range) {
                if (b <= r->start || a >= r->end)
                    continue;
                l = a > l ? a : l;
                h = b < h ? b : h;
            }
            if (!is_kind && !is_range && (!spec[0] || !strstr(r->path, spec)))
                continue;
            hits++;
            if (!list[i].scannable) {
                unread = unread ? unread : &list[i];
                continue;
            }
            readable++;
            if (lo[i] == hi[i]) {
                lo[i] = l;
                hi[i] = h;
            } else {
                lo[i] = l < lo[i] ? l : lo[i];
                hi[i] = h > hi[i] ? h : hi[i];
            }
        }
        if (!hits && is_kind) {
            fprintf(stderr, "memgrep: region '%s': process %d has no %s region\n", spec, (int)pid,
                    spec);
            goto fail;
        }
        if (!hits && is_range) {
            fprintf(stderr, "memgrep: region '%s': no mapping of process %d overlaps it\n", spec,
                    (int)pid);
            goto fail;
        }
        if (!hits) {
            fprintf(stderr,
                    "memgrep: unknown region '%s' for process %d: not a kind (heap, stack, anon, "
                    "file, shm), START-END in hex, or part of a mapped path\n",
                    spec, (int)pid);
            goto fail;
        }
        if (!readable) {
            fprintf(stderr,
                    "memgrep: region '%s' of process %d: 0x%" PRIx64 "-0x%" PRIx64 " %s %s: %s\n",
                    spec, (int)pid, unread->region.start, unread->region.end, unread->region.perms,
                    output_region_name(&unread->region), unread_reason(unread));
            goto fail;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (lo[i] < hi[i])
            pieces[(*n_out)++] = (cli_piece){.ri = &list[i], .start = lo[i], .end = hi[i]};
    free(lo);
    free(hi);
    *out = pieces;
    return 0;
fail:
    free(lo);
    free(hi);
    free(pieces);
    *n_out = 0;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Text and JSON                                                       */
/* ------------------------------------------------------------------ */

void cli_put_escaped(FILE *f, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            fputs("\\\\", f);
        else if (c >= 0x20 && c < 0x7f)
            putc(c, f);
        else
            fprintf(f, "\\x%c%c", hex[c >> 4], hex[c & 15]);
    }
}
