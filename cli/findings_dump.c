/* findings_dump.c - --dump-findings (findings_dump.h): the present pages of
 * a finding's first region, holes where pages are absent, and the process's
 * manifest.json. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "findings_dump.h"
#include "messages.h"

int cli_findings_dump_dir(const cli_findings *o)
{
    if (!o->dump_dir)
        return 0;
    struct stat st;
    if (lstat(o->dump_dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        fprintf(stderr, "memgrep: --dump-findings: %s: not a directory\n", o->dump_dir);
        return -1;
    }
    if (errno != ENOENT || mkdir(o->dump_dir, 0700) < 0) {
        fprintf(stderr, "memgrep: --dump-findings: cannot create directory %s: %s\n", o->dump_dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

void cli_findings_dump_free(cli_proc_dump *pd)
{
    for (size_t i = 0; i < pd->n; i++) {
        free(pd->files[i].path);
        free(pd->files[i].runs);
    }
    free(pd->files);
    free(pd->dir);
    *pd = (cli_proc_dump){0};
}

/* The file of finding i, or NULL. */
const char *cli_findings_dumped_path(const cli_proc_dump *pd, size_t i)
{
    for (size_t k = 0; k < pd->n; k++)
        if (pd->files[k].finding == i)
            return pd->files[k].path;
    return NULL;
}

static int add_run(cli_dumped *d, uint64_t a, uint64_t b)
{
    if (d->mf.n_present && d->runs[d->mf.n_present - 1].end == a) {
        d->runs[d->mf.n_present - 1].end = b;
        return 0;
    }
    cli_range *n = realloc(d->runs, (d->mf.n_present + 1) * sizeof(*n));
    if (!n)
        return -1;
    d->runs = n;
    d->runs[d->mf.n_present++] = (cli_range){a, b};
    d->mf.present = d->runs;
    return 0;
}

/* n bytes at offset off of fd: 0, or -1 (errno). */
static int write_at(int fd, const uint8_t *p, size_t n, off_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* The present pages of [r->start, r->end) into fd at their offsets from
 * start (absent pages are holes, never read), their runs and the SHA-256
 * of the file (holes as zeros) into d. Returns 0, 1 (the process could
 * not be read: err filled) or -1 (a write failed or out of memory:
 * errno). */
static int dump_pages(pid_t pid, const mg_region *r, int fd, cli_dumped *d, uint8_t *buf,
                      uint8_t *present, mg_error *err)
{
    size_t pg = mg_page_size();
    cli_sha256 h;
    cli_sha256_init(&h);
    for (uint64_t a = r->start; a < r->end; a += MG_STRINGS_CHUNK) {
        size_t len = (size_t)(r->end - a < MG_STRINGS_CHUNK ? r->end - a : MG_STRINGS_CHUNK);
        if (mg_read_present(pid, a, len, buf, present, err) < 0)
            return 1;
        for (size_t i = 0, j; i < len / pg; i = j) {
            for (j = i + 1; j < len / pg && present[j] == present[i]; j++)
                ;
            size_t n = (j - i) * pg;
            if (!present[i]) {
                cli_sha256_zeros(&h, n);
                continue;
            }
            cli_sha256_update(&h, buf + i * pg, n);
            if (write_at(fd, buf + i * pg, n, (off_t)(a - r->start + i * pg)) < 0 ||
                add_run(d, a + i * pg, a + j * pg) < 0)
                return -1;
            d->mf.present_bytes += n;
        }
    }
    cli_sha256_digest(&h, d->mf.sha256);
    return ftruncate(fd, (off_t)(r->end - r->start)) < 0 ? -1 : 0;
}

/* DIR/PID, made 0700 if absent (never through a link): 0, or -1 after one
 * line. */
static int make_process_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) == 0)
        return 0;
    int e = errno;
    if (e == EEXIST && lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    fprintf(stderr, "memgrep: --dump-findings: cannot create directory %s: %s\n", dir,
            e == EEXIST ? "not a directory" : strerror(e));
    return -1;
}

/* Finding i's first region (x) into pd->dir/KIND-START-END.bin, written
 * under a temporary name and put in place whole (outfile.h), an entry of
 * pd->files. Returns 0, 1 (the process could not be read: said, nothing
 * left) or -1 after one line (a write error). */
static int dump_finding(cli_proc_dump *pd, size_t i, const mg_finding *x, uint8_t *buf,
                        uint8_t *present)
{
    const mg_region *r = &x->first;
    cli_dumped *d = &pd->files[pd->n];
    *d = (cli_dumped){.finding = i};
    if (asprintf(&d->path, "%s/%s-%" PRIx64 "-%" PRIx64 ".bin", pd->dir,
                 mg_finding_kind_name(x->kind), r->start, r->end) < 0) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    d->mf = (cli_manifest_file){.region = r, .start = r->start, .end = r->end};
    d->mf.file = strrchr(d->path, '/') + 1;
    cli_outfile out;
    if (cli_outfile_open(&out, d->path) < 0) {
        free(d->path);
        return -1;
    }
    mg_error err = {{0}};
    int rc = dump_pages(x->pid, r, fileno(cli_outfile_stream(&out)), d, buf, present, &err);
    if (rc > 0)
        fprintf(stderr, "memgrep: --dump-findings: %s\n", err.message);
    else if (rc < 0)
        fprintf(stderr, "memgrep: --dump-findings: write error on %s: %s\n", d->path,
                strerror(errno));
    if (rc == 0 && cli_outfile_commit(&out) < 0)
        rc = -1;
    cli_outfile_abort(&out); /* no-op once committed */
    if (rc == 0) {
        pd->n++;
        return 0;
    }
    free(d->path);
    free(d->runs);
    return rc;
}

int cli_findings_dump_process(const char *dir, const mg_proc_info *p, const mg_finding *list,
                              const bool *wanted, size_t n, cli_proc_dump *pd)
{
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += wanted[i];
    if (!want)
        return 0;
    size_t pages = MG_STRINGS_CHUNK / mg_page_size();
    uint8_t *buf = malloc(MG_STRINGS_CHUNK), *present = malloc(pages);
    pd->files = calloc(want, sizeof(*pd->files));
    if (!buf || !present || !pd->files || asprintf(&pd->dir, "%s/%d", dir, (int)p->pid) < 0) {
        pd->dir = NULL;
        free(buf);
        free(present);
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    int rc = make_process_dir(pd->dir);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (wanted[i])
            rc = dump_finding(pd, i, &list[i], buf, present) < 0 ? -1 : 0;
    free(buf);
    free(present);
    if (!pd->n)
        rmdir(pd->dir); /* if made for nothing: only an empty one goes */
    cli_manifest_file *mf = calloc(pd->n ? pd->n : 1, sizeof(*mf));
    if (!mf) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    for (size_t k = 0; k < pd->n; k++)
        mf[k] = pd->files[k].mf;
    if (pd->n && cli_dump_manifest_write(pd->dir, p, mf, pd->n, true) < 0)
        rc = -1;
    free(mf);
    return rc;
}
