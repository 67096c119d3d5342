/* dump_manifest.c - manifest.json of a directory dump (dump_manifest.h). */
#include "dump_manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output/json.h"

void cli_sha256_init(cli_sha256 *h)
{
    sha256_init(&h->ctx);
}

void cli_sha256_update(cli_sha256 *h, const void *data, size_t n)
{
    sha256_update(&h->ctx, n, data);
}

void cli_sha256_zeros(cli_sha256 *h, uint64_t n)
{
    static const uint8_t zeros[65536];
    for (; n; n -= n < sizeof zeros ? n : sizeof zeros)
        sha256_update(&h->ctx, n < sizeof zeros ? (size_t)n : sizeof zeros, zeros);
}

void cli_sha256_digest(cli_sha256 *h, uint8_t out[SHA256_DIGEST_SIZE])
{
    sha256_digest(&h->ctx, SHA256_DIGEST_SIZE, out);
}

int cli_manifest_open(cli_manifest *m, const char *dir, bool replace)
{
    memset(m, 0, sizeof *m);
    if (asprintf(&m->path, "%s/" CLI_MANIFEST_NAME, dir) < 0) {
        m->path = NULL;
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    if (cli_outfile_open_new(&m->out, m->path, replace) < 0) {
        free(m->path);
        m->path = NULL;
        return -1;
    }
    return 0;
}

/* The boot time (btime of /proc/stat, seconds since the epoch), or 0. */
static long long boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return 0;
    char line[256];
    long long bt = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lld", &bt) == 1)
            break;
    fclose(f);
    return bt;
}

/* ,"start_time":"2026-12-07T10:51:49.250Z" from the start in clock ticks
 * after boot (the boot time has whole seconds, ticks are 1/100 s), or
 * null if unknown. */
static void start_time(FILE *f, unsigned long long ticks)
{
    long hz = sysconf(_SC_CLK_TCK);
    long long bt = boot_time();
    cli_json_key(f, "start_time");
    struct tm tm;
    time_t t = hz > 0 ? (time_t)(bt + (long long)(ticks / (unsigned long long)hz)) : 0;
    if (hz <= 0 || !bt || !gmtime_r(&t, &tm)) {
        fputs("null", f);
        return;
    }
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned long long ms = ticks % (unsigned long long)hz * 1000 / (unsigned long long)hz;
    fprintf(f, "\"%s.%03lluZ\"", buf, ms);
}

void cli_json_ranges(FILE *f, const char *key, const cli_range *r, size_t n)
{
    cli_json_key(f, key);
    fputc('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s{\"start\":\"0x%" PRIx64 "\",\"end\":\"0x%" PRIx64 "\"}", i ? "," : "",
                r[i].start, r[i].end);
    fputc(']', f);
}

static void print_file(FILE *f, const cli_manifest_file *mf)
{
    fputs("{\"file\":", f);
    json_cstr(f, mf->file);
    cli_json_addr(f, "start", mf->start);
    cli_json_addr(f, "end", mf->end);
    cli_json_u64(f, "size", mf->end - mf->start);
    cli_json_u64(f, "present_bytes", mf->present_bytes);
    cli_json_ranges(f, "present", mf->present, mf->n_present);
    cli_json_key(f, "sha256");
    json_hex(f, mf->sha256, sizeof mf->sha256);
    cli_json_key(f, "region");
    cli_json_region(f, mf->region);
    fputc('}', f);
}

int cli_manifest_print(cli_manifest *m, const mg_proc_info *proc, const cli_manifest_file *files,
                       size_t n)
{
    FILE *f = cli_outfile_stream(&m->out);
    fputs("{\"type\":\"manifest\"", f);
    cli_json_str(f, "version", MG_VERSION);
    cli_json_time(f);
    fprintf(f, ",\"pid\":%d", (int)proc->pid);
    cli_json_str(f, "comm", proc->comm);
    cli_json_u64(f, "starttime", proc->starttime);
    start_time(f, proc->starttime);
    cli_json_str(f, "exe", proc->exe);
    cli_json_str(f, "cmdline", proc->cmdline);
    cli_json_u64(f, "page_size", mg_page_size());
    fputs(",\"files\":[", f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        print_file(f, &files[i]);
    }
    fputs("]}\n", f);
    if (ferror(f)) {
        fprintf(stderr, "memgrep: write error on %s: %s\n", m->path, strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

int cli_manifest_commit(cli_manifest *m)
{
    int rc = cli_outfile_commit(&m->out);
    free(m->path);
    m->path = NULL;
    return rc;
}

void cli_manifest_abort(cli_manifest *m)
{
    cli_outfile_abort(&m->out);
    free(m->path);
    m->path = NULL;
}

int cli_dump_manifest_write(const char *dir, const mg_proc_info *proc,
                            const cli_manifest_file *files, size_t n, bool replace)
{
    cli_manifest m;
    if (cli_manifest_open(&m, dir, replace) < 0)
        return -1;
    if (cli_manifest_print(&m, proc, files, n) < 0) {
        cli_manifest_abort(&m);
        return -1;
    }
    return cli_manifest_commit(&m);
}
