/* cmd_dump.c - `memgrep dump PID [REGION...] -o PATH`: the present pages
 * of regions into sparse files (mg_read_present, one chunk at a time).
 *
 * A region's file holds at offset k the byte at start + k; pages that are
 * not present are holes. Every file is written under a temporary name
 * (outfile.h: 0600, O_EXCL|O_NOFOLLOW) and all are put in place only when
 * every region was read, so a failure leaves nothing behind. Copying and
 * reporting one region is dump_region.c's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "core.h"
#include "dump_manifest.h"
#include "dump_region.h"
#include "investigate.h"
#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/outfile.h"

typedef struct dump_state {
    cli_targets targets;
    const char *path; /* -o PATH */
    const char *core; /* --core FILE */
    bool force, json;
    pid_t pid;
    const char **specs; /* REGION arguments (point into argv) */
    size_t n_specs;
} dump_state;

enum {
    OPT_OUTPUT,
    OPT_FORCE,
    OPT_JSON,
    OPT_CORE
};

static const cli_opt dump_opts[] = {
    {OPT_OUTPUT, 'o', "output", "PATH",
     "where the dump goes: a directory of START-END.bin\n"
     "and manifest.json (created 0700 if absent) when\n"
     "PATH is a directory, ends in '/' or several regions\n"
     "are dumped; else the file of the one region.\n"
     "Files are mode 0600",
     NULL},
    {OPT_CORE, 0, "core", "FILE",
     "instead of -o: one ELF core file of the regions\n"
     "(gdb EXE FILE reads it; absent pages are holes)",
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
    case OPT_CORE:
        if (!arg[0]) {
            cli_usage_error("--core: empty path" CLI_TRY_HELP);
            return -1;
        }
        s->core = arg;
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

/* ---- the destination ---- */

/* PATH names a directory: it ends in '/' or is one (not a symbolic link). */
static bool names_dir(const char *path)
{
    struct stat st;
    size_t n = strlen(path);
    return path[n - 1] == '/' || (lstat(path, &st) == 0 && S_ISDIR(st.st_mode));
}

/* A directory dump: PATH is a directory (made 0700 if absent; never a
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

/* One run of dump: what is open and must be committed or dropped. */
typedef struct dump_job {
    pid_t pid;
    mg_proc_info *proc;
    cli_piece *pieces;
    size_t n_pieces, opened;
    region_dump *rds;
    char *dir; /* a directory dump: PATH without its trailing '/'; else NULL */
    bool made_dir;
    cli_manifest manifest;
    cli_sha256 *hashes;
    cli_outfile core; /* --core */
    uint8_t *notes;
    size_t notes_len;
} dump_job;

static int oom(void)
{
    fprintf(stderr, "memgrep: out of memory\n");
    return -1;
}

/* --core FILE: every piece into one file, after the header and notes. */
static int open_core(dump_job *j, const dump_state *s, const mg_region_info *list, size_t n)
{
    if (cli_outfile_open_new(&j->core, s->core, s->force) < 0)
        return -1;
    if (cli_core_notes(j->proc, list, n, &j->notes, &j->notes_len) < 0)
        return -1;
    uint64_t base = cli_core_data_offset(j->notes_len);
    for (; j->opened < j->n_pieces; j->opened++) {
        region_dump *rd = &j->rds[j->opened];
        rd->piece = &j->pieces[j->opened];
        rd->fd = fileno(cli_outfile_stream(&j->core));
        rd->base = base;
        base += rd->piece->end - rd->piece->start;
        if (!(rd->file = strdup(s->core)))
            return oom();
    }
    return 0;
}

/* The files, each created (and an existing one refused) before reading. */
static int open_files(dump_job *j, const dump_state *s)
{
    if (j->dir) {
        if (prepare_dir(j->dir, &j->made_dir) < 0 ||
            cli_manifest_open(&j->manifest, j->dir, s->force) < 0)
            return -1;
        if (!(j->hashes = calloc(j->n_pieces, sizeof(*j->hashes))))
            return oom();
    }
    for (; j->opened < j->n_pieces; j->opened++) {
        region_dump *rd = &j->rds[j->opened];
        rd->piece = &j->pieces[j->opened];
        if (!j->dir)
            rd->file = strdup(s->path);
        else if (asprintf(&rd->file, "%s/%" PRIx64 "-%" PRIx64 ".bin", j->dir, rd->piece->start,
                          rd->piece->end) < 0)
            rd->file = NULL;
        if (!rd->file)
            return oom();
        if (cli_outfile_open_new(&rd->out, rd->file, s->force) < 0)
            return -1;
        rd->fd = fileno(cli_outfile_stream(&rd->out));
        if (j->dir) {
            rd->hash = &j->hashes[j->opened];
            cli_sha256_init(rd->hash);
        }
    }
    return 0;
}

/* The ELF header, notes and program headers (one PT_LOAD per present run)
 * around the data, then the file in place. */
static int finish_core(dump_job *j)
{
    size_t n = 0;
    for (size_t i = 0; i < j->n_pieces; i++)
        n += j->rds[i].n_present;
    cli_core_load *loads = calloc(n ? n : 1, sizeof(*loads));
    if (!loads)
        return oom();
    n = 0;
    uint64_t end = cli_core_data_offset(j->notes_len);
    for (size_t i = 0; i < j->n_pieces; i++) {
        const region_dump *rd = &j->rds[i];
        for (size_t k = 0; k < rd->n_present; k++)
            loads[n++] = (cli_core_load){
                .vaddr = rd->present[k].start,
                .size = rd->present[k].end - rd->present[k].start,
                .offset = rd->base + rd->present[k].start - rd->piece->start,
                .perms = rd->piece->ri->region.perms,
            };
        end = rd->base + rd->piece->end - rd->piece->start;
    }
    int rc = cli_core_finish(fileno(cli_outfile_stream(&j->core)), j->core.path, j->notes,
                             j->notes_len, loads, n, end);
    free(loads);
    if (rc < 0)
        return -1;
    return cli_outfile_commit(&j->core);
}

/* The manifest, then every file in place (the manifest last). */
static int finish_files(dump_job *j)
{
    cli_manifest_file *mf = NULL;
    if (j->dir) {
        if (!(mf = calloc(j->n_pieces, sizeof(*mf))))
            return oom();
        for (size_t i = 0; i < j->n_pieces; i++) {
            region_dump *rd = &j->rds[i];
            cli_sha256_digest(rd->hash, rd->sha256);
            mf[i] = (cli_manifest_file){
                .region = &rd->piece->ri->region,
                .start = rd->piece->start,
                .end = rd->piece->end,
                .file = rd->file + strlen(j->dir) + 1,
                .present_bytes = rd->bytes,
                .present = rd->present,
                .n_present = rd->n_present,
            };
            memcpy(mf[i].sha256, rd->sha256, sizeof rd->sha256);
        }
        int rc = cli_manifest_print(&j->manifest, j->proc, mf, j->n_pieces);
        free(mf);
        if (rc < 0)
            return -1;
    }
    for (size_t i = 0; i < j->n_pieces; i++)
        if (cli_outfile_commit(&j->rds[i].out) < 0)
            return -1;
    return j->dir ? cli_manifest_commit(&j->manifest) : 0;
}

static void job_free(dump_job *j, bool ok)
{
    for (size_t i = 0; j->rds && i < j->n_pieces; i++) {
        cli_outfile_abort(&j->rds[i].out); /* no-op once committed or never opened */
        free(j->rds[i].file);
        free(j->rds[i].present);
    }
    cli_outfile_abort(&j->core);
    cli_manifest_abort(&j->manifest);
    if (!ok && j->made_dir)
        rmdir(j->dir);
    free(j->rds);
    free(j->hashes);
    free(j->notes);
    free(j->dir);
    mg_proc_info_free(&j->proc);
}

static int dump_run(void *state)
{
    const dump_state *s = state;
    if (!s->path == !s->core) {
        cli_usage_error(s->path ? "dump: give -o PATH or --core FILE, not both" CLI_TRY_HELP
                                : "dump: -o PATH (or --core FILE) is required" CLI_TRY_HELP);
        return EXIT_TROUBLE;
    }
    dump_job j = {0};
    int status = cli_target_pid(&s->targets, s->pid, &j.pid);
    if (status)
        return status;
    status = EXIT_TROUBLE;
    mg_region_info *list = NULL;
    size_t n = 0;
    uint8_t *buf = NULL, *present = NULL;
    bool ok = false;
    mg_error err = {{0}};
    int rc = mg_regions_get(j.pid, MG_REGIONS_NO_RESIDENT, &list, &n, &err);
    if (rc < 0 || (rc = mg_proc_get(j.pid, &j.proc, &err)) < 0) {
        cli_inspect_report(rc, &err, "read the process");
        goto out;
    }
    if (cli_select_pieces(j.pid, s->specs, s->n_specs, list, n, &j.pieces, &j.n_pieces) < 0)
        goto out;
    if (!j.n_pieces) {
        fprintf(stderr, "memgrep: process %d has no readable region\n", (int)j.pid);
        goto out;
    }
    if (s->path && (j.n_pieces > 1 || names_dir(s->path))) {
        size_t len = strlen(s->path);
        while (len > 1 && s->path[len - 1] == '/')
            len--;
        if (!(j.dir = strndup(s->path, len)) && oom() < 0)
            goto out;
    }
    j.rds = calloc(j.n_pieces, sizeof(*j.rds));
    buf = malloc(DUMP_CHUNK);
    present = malloc(DUMP_CHUNK / mg_page_size());
    if ((!j.rds || !buf || !present) && oom() < 0)
        goto out;
    if ((s->core ? open_core(&j, s, list, n) : open_files(&j, s)) < 0)
        goto out;
    for (size_t i = 0; i < j.n_pieces; i++)
        if (cli_dump_write_region(j.pid, &j.rds[i], buf, present) < 0)
            goto out;
    if ((s->core ? finish_core(&j) : finish_files(&j)) < 0)
        goto out;
    for (size_t i = 0; i < j.n_pieces; i++)
        cli_dump_report_region(stdout, j.pid, &j.rds[i], s->json);
    ok = true;
    errno = 0;
    if (fflush(stdout) == EOF || ferror(stdout))
        fprintf(stderr, "memgrep: write error on stdout: %s\n", strerror(errno ? errno : EIO));
    else
        status = EXIT_MATCH;
out:
    job_free(&j, ok);
    free(buf);
    free(present);
    free(j.pieces);
    mg_regions_free(&list);
    return status;
}

static const cli_binding dump_groups[] = {
    {&cli_one_target_group, offsetof(dump_state, targets)},
    {&dump_group, 0},
};

const cli_command cli_cmd_dump = {
    .name = "dump",
    .summary = "copy the present pages of regions into sparse files",
    .synopsis = "[OPTIONS] PID [REGION...] (-o PATH | --core FILE)",
    .description =
        "Copy the pages of the process's regions that are present in memory into files: byte k\n"
        "of a region's file is the byte at START + k, pages not present are holes (nothing is\n"
        "faulted in; special and device mappings are never read). REGION is a kind (heap,\n"
        "stack, anon, file, shm), START-END in hex (clipped to the mappings it overlaps) or\n"
        "part of a mapped path; default: every readable region. PATH is a directory of\n"
        "START-END.bin (hex, no 0x) and manifest.json (the process, and each file's range,\n"
        "mapping, present runs and sha256) when it is one, ends in '/' or several regions\n"
        "are dumped; else the one region's file. --core FILE writes an ELF core file instead\n"
        "(a PT_LOAD per present run, notes naming the mapped files): gdb EXE FILE reads it.\n"
        "An existing file is not replaced without --force; nothing is put in place unless\n"
        "every region was read. The process is never stopped or traced.",
    .epilogue = "Exit status: 0 dumped, 1 --container/--cgroup do not select PID, 2 error.\n",
    .groups = dump_groups,
    .n_groups = sizeof(dump_groups) / sizeof(dump_groups[0]),
    .positional = dump_positional,
    .state_size = sizeof(dump_state),
    .run = dump_run,
};
