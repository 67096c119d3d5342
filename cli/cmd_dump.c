/* cmd_dump.c - `memgrep dump PID [REGION...] -o PATH`: the present pages
 * of regions into sparse files (mg_read_present, one chunk at a time).
 *
 * A region's file holds at offset k the byte at start + k; pages that are
 * not present are holes. Every file is written under a temporary name
 * (outfile.h: 0600, O_EXCL|O_NOFOLLOW) and all are put in place only when
 * every region was read, so a failure leaves nothing behind. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "investigate.h"
#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/outfile.h"
#include "output/output.h"

/* Target memory read at a time. */
#define DUMP_CHUNK MG_STRINGS_CHUNK

typedef struct dump_state {
    cli_targets targets;
    const char *path; /* -o PATH */
    bool force, json;
    pid_t pid;
    const char **specs; /* REGION arguments (point into argv) */
    size_t n_specs;
} dump_state;

enum {
    OPT_OUTPUT,
    OPT_FORCE,
    OPT_JSON
};

static const cli_opt dump_opts[] = {
    {OPT_OUTPUT, 'o', "output", "PATH",
     "where the dump goes (required): the file, for one\n"
     "region; a directory of START-END.bin, for several\n"
     "(created 0700 if absent). Files are mode 0600",
     NULL},
    {OPT_FORCE, 0, "force", NULL, "replace files that exist", NULL},
    {OPT_JSON, 0, "json", NULL, "a JSON manifest record per region on stdout", NULL},
    {0},
};

static int dump_parse(void *state, int id, const char *arg)
{
    dump_state *s = state;
    switch (id) {
    case OPT_OUTPUT:
        if (!arg[0]) {
            cli_usage_error("--output: empty path" CLI_TRY_HELP);
            return -1;
        }
        s->path = arg;
        return 0;
    case OPT_FORCE:
        s->force = true;
        return 0;
    case OPT_JSON:
        s->json = true;
        return 0;
    }
    return -1;
}

static void dump_fini(void *state)
{
    dump_state *s = state;
    free(s->specs);
    s->specs = NULL;
}

static const cli_group dump_group = {
    .title = "Dump",
    .opts = dump_opts,
    .fini = dump_fini,
    .parse = dump_parse,
};

static int dump_positional(void *state, const char *arg)
{
    dump_state *s = state;
    if (!s->pid)
        return cli_parse_pid_arg(arg, &s->pid);
    const char **n = realloc(s->specs, (s->n_specs + 1) * sizeof(*n));
    if (!n) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    s->specs = n;
    s->specs[s->n_specs++] = arg;
    return 0;
}

/* ---- one region ---- */

typedef struct range {
    uint64_t start, end;
} range;

typedef struct region_dump {
    const cli_piece *piece;
    char *file; /* the final path */
    cli_outfile out;
    range *present; /* the runs written */
    size_t n_present;
    uint64_t bytes;
} region_dump;

static int add_range(region_dump *rd, uint64_t a, uint64_t b)
{
    if (rd->n_present && rd->present[rd->n_present - 1].end == a) {
        rd->present[rd->n_present - 1].end = b;
        return 0;
    }
    range *n = realloc(rd->present, (rd->n_present + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    rd->present = n;
    rd->present[rd->n_present++] = (range){a, b};
    return 0;
}

/* Copy the present pages of the piece into its (temporary) file. */
static int write_region(pid_t pid, region_dump *rd, uint8_t *buf, uint8_t *present)
{
    const cli_piece *pc = rd->piece;
    int fd = fileno(cli_outfile_stream(&rd->out));
    mg_error err = {{0}};
    for (uint64_t a = pc->start; a < pc->end; a += DUMP_CHUNK) {
        size_t len = (size_t)(pc->end - a < DUMP_CHUNK ? pc->end - a : DUMP_CHUNK);
        ssize_t got = mg_read_present(pid, a, len, buf, present, &err);
        if (got < 0) {
            cli_inspect_report((int)got, &err, "read the process");
            return -1;
        }
        size_t pages = len / mg_page_size();
        for (size_t i = 0, j; i < pages; i = j) {
            for (j = i + 1; j < pages && present[j] == present[i]; j++)
                ;
            if (!present[i])
                continue;
            uint64_t at = a + i * mg_page_size();
            size_t n = (j - i) * mg_page_size();
            for (size_t done = 0; done < n;) {
                ssize_t w = pwrite(fd, buf + i * mg_page_size() + done, n - done,
                                   (off_t)(at - pc->start + done));
                if (w < 0) {
                    fprintf(stderr, "memgrep: write error on %s: %s\n", rd->file, strerror(errno));
                    return -1;
                }
                done += (size_t)w;
            }
            rd->bytes += n;
            if (add_range(rd, at, at + n) < 0) {
                fprintf(stderr, "memgrep: out of memory\n");
                return -1;
            }
        }
    }
    /* the holes up to the end */
    if (ftruncate(fd, (off_t)(pc->end - pc->start)) < 0) {
        fprintf(stderr, "memgrep: write error on %s: %s\n", rd->file, strerror(errno));
        return -1;
    }
    return 0;
}

static void report_region(FILE *f, pid_t pid, const region_dump *rd, bool json)
{
    const cli_piece *pc = rd->piece;
    const mg_region *r = &pc->ri->region;
    if (!json) {
        fprintf(f, "%" PRIx64 "-%" PRIx64 " %s %-5s ", pc->start, pc->end, r->perms,
                mg_region_kind_name(r->kind));
        cli_put_escaped(f, output_region_name(r), strlen(output_region_name(r)));
        fprintf(f, " -> ");
        cli_put_escaped(f, rd->file, strlen(rd->file));
        fprintf(f, " (%" PRIu64 " of %" PRIu64 " bytes present, %zu ranges)\n", rd->bytes,
                pc->end - pc->start, rd->n_present);
        return;
    }
    fprintf(f, "{\"type\":\"region\",\"pid\":%d", (int)pid);
    cli_json_addr(f, "start", pc->start);
    cli_json_addr(f, "end", pc->end);
    cli_json_str(f, "perms", r->perms);
    cli_json_str(f, "kind", mg_region_kind_name(r->kind));
    cli_json_str(f, "path", r->path);
    cli_json_str(f, "file", rd->file);
    cli_json_u64(f, "size", pc->end - pc->start);
    cli_json_u64(f, "present_bytes", rd->bytes);
    fputs(",\"present\":[", f);
    for (size_t i = 0; i < rd->n_present; i++)
        fprintf(f, "%s{\"start\":\"0x%" PRIx64 "\",\"end\":\"0x%" PRIx64 "\"}", i ? "," : "",
                rd->present[i].start, rd->present[i].end);
    fputs("]}\n", f);
}

/* ---- the destination ---- */

/* Several regions: PATH is a directory (made 0700 if absent; never a
 * symbolic link). *made: we created it (removed again on failure). */
static int prepare_dir(const char *path, bool *made)
{
    struct stat st;
    *made = false;
    if (lstat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        fprintf(stderr, "memgrep: %s: not a directory (several regions go into a directory)\n",
                path);
        return -1;
    }
    if (errno != ENOENT || mkdir(path, 0700) < 0) {
        fprintf(stderr, "memgrep: cannot create directory %s: %s\n", path, strerror(errno));
        return -1;
    }
    *made = true;
    return 0;
}

static int dump_run(void *state)
{
    const dump_state *s = state;
    if (!s->path) {
        cli_usage_error("dump: -o PATH is required" CLI_TRY_HELP);
        return EXIT_TROUBLE;
    }
    pid_t pid;
    int status = cli_target_pid(&s->targets, s->pid, &pid);
    if (status)
        return status;
    status = EXIT_TROUBLE;
    mg_region_info *list = NULL;
    size_t n = 0, n_pieces = 0, opened = 0;
    cli_piece *pieces = NULL;
    region_dump *rds = NULL;
    uint8_t *buf = NULL, *present = NULL;
    bool made_dir = false, ok = false;
    mg_error err = {{0}};
    int rc = mg_regions_get(pid, MG_REGIONS_NO_RESIDENT, &list, &n, &err);
    if (rc < 0) {
        cli_inspect_report(rc, &err, "read the regions");
        return EXIT_TROUBLE;
    }
    if (cli_select_pieces(pid, s->specs, s->n_specs, list, n, &pieces, &n_pieces) < 0)
        goto out;
    if (!n_pieces) {
        fprintf(stderr, "memgrep: process %d has no readable region\n", (int)pid);
        goto out;
    }
    rds = calloc(n_pieces, sizeof(*rds));
    buf = malloc(DUMP_CHUNK);
    present = malloc(DUMP_CHUNK / mg_page_size());
    if (!rds || !buf || !present) {
        fprintf(stderr, "memgrep: out of memory\n");
        goto out;
    }
    if (n_pieces > 1 && prepare_dir(s->path, &made_dir) < 0)
        goto out;
    /* every file is created (and every existing one refused) before reading */
    for (; opened < n_pieces; opened++) {
        region_dump *rd = &rds[opened];
        rd->piece = &pieces[opened];
        if (n_pieces == 1)
            rd->file = strdup(s->path);
        else if (asprintf(&rd->file, "%s/%" PRIx64 "-%" PRIx64 ".bin", s->path, rd->piece->start,
                          rd->piece->end) < 0)
            rd->file = NULL;
        if (!rd->file) {
            fprintf(stderr, "memgrep: out of memory\n");
            goto out;
        }
        if (cli_outfile_open_new(&rd->out, rd->file, s->force) < 0)
            goto out;
    }
    for (size_t i = 0; i < n_pieces; i++)
        if (write_region(pid, &rds[i], buf, present) < 0)
            goto out;
    for (size_t i = 0; i < n_pieces; i++)
        if (cli_outfile_commit(&rds[i].out) < 0)
            goto out;
    for (size_t i = 0; i < n_pieces; i++)
        report_region(stdout, pid, &rds[i], s->json);
    ok = true;
    errno = 0;
    if (fflush(stdout) == EOF || ferror(stdout))
        fprintf(stderr, "memgrep: write error on stdout: %s\n", strerror(errno ? errno : EIO));
    else
        status = EXIT_MATCH;
out:
    for (size_t i = 0; rds && i < n_pieces; i++) {
        cli_outfile_abort(&rds[i].out); /* no-op once committed */
        free(rds[i].file);
        free(rds[i].present);
    }
    if (!ok && made_dir)
        rmdir(s->path);
    free(rds);
    free(buf);
    free(present);
    free(pieces);
    mg_regions_free(&list);
    return status;
}

static const cli_binding dump_groups[] = {
    {&cli_targets_group, offsetof(dump_state, targets)},
    {&dump_group, 0},
};

const cli_command cli_cmd_dump = {
    .name = "dump",
    .summary = "copy the present pages of regions into sparse files",
    .synopsis = "[OPTIONS] PID [REGION...] -o PATH",
    .description =
        "Copy the pages of the process's regions that are present in memory into files: byte k\n"
        "of a region's file is the byte at START + k, pages not present are holes (nothing is\n"
        "faulted in; special and device mappings are never read). REGION is a kind (heap,\n"
        "stack, anon, file, shm), START-END in hex (clipped to the mappings it overlaps) or\n"
        "part of a mapped path; default: every readable region. With one region PATH is the\n"
        "file, with several a directory of START-END.bin (hex, no 0x). An existing file is\n"
        "not replaced without --force; nothing is put in place unless every region was read.",
    .epilogue = "Exit status: 0 dumped, 1 --container/--cgroup do not select PID, 2 error.\n",
    .groups = dump_groups,
    .n_groups = sizeof(dump_groups) / sizeof(dump_groups[0]),
    .positional = dump_positional,
    .state_size = sizeof(dump_state),
    .run = dump_run,
};
