/* dump_region.c - one region of `memgrep dump` (dump_region.h): the
 * present pages of the piece (mg_read_present, one chunk at a time) into
 * its file, the runs written and the hash; then its report. */
#include "dump_region.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output/json.h"
#include "output/output.h"

static int add_range(region_dump *rd, uint64_t a, uint64_t b)
{
    if (rd->n_present && rd->present[rd->n_present - 1].end == a) {
        rd->present[rd->n_present - 1].end = b;
        return 0;
    }
    cli_range *n = realloc(rd->present, (rd->n_present + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    rd->present = n;
    rd->present[rd->n_present++] = (cli_range){a, b};
    return 0;
}

int cli_dump_write_region(pid_t pid, region_dump *rd, uint8_t *buf, uint8_t *present)
{
    const cli_piece *pc = rd->piece;
    int fd = rd->fd;
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
            uint64_t at = a + i * mg_page_size();
            size_t n = (j - i) * mg_page_size();
            if (!present[i]) {
                if (rd->hash)
                    cli_sha256_zeros(rd->hash, n);
                continue;
            }
            if (rd->hash)
                cli_sha256_update(rd->hash, buf + i * mg_page_size(), n);
            for (size_t done = 0; done < n;) {
                ssize_t w = pwrite(fd, buf + i * mg_page_size() + done, n - done,
                                   (off_t)(rd->base + at - pc->start + done));
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
    if (ftruncate(fd, (off_t)(rd->base + pc->end - pc->start)) < 0) {
        fprintf(stderr, "memgrep: write error on %s: %s\n", rd->file, strerror(errno));
        return -1;
    }
    return 0;
}

void cli_dump_report_region(FILE *f, pid_t pid, const region_dump *rd, bool json)
{
    const cli_piece *pc = rd->piece;
    const mg_region *r = &pc->ri->region;
    if (!json) {
        fprintf(f, "%" PRIx64 "-%" PRIx64 " %s %-5s ", pc->start, pc->end, r->perms,
                mg_region_kind_name(r->kind));
        cli_put_escaped(f, output_region_name(r), strlen(output_region_name(r)));
        fprintf(f, " -> ");
        cli_put_escaped(f, rd->file, strlen(rd->file));
        fprintf(f, " (%" PRIu64 " of %" PRIu64 " bytes present, %zu %s)\n", rd->bytes,
                pc->end - pc->start, rd->n_present, rd->n_present == 1 ? "range" : "ranges");
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
    cli_json_ranges(f, "present", rd->present, rd->n_present);
    fputs("}\n", f);
}
