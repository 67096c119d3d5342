/* dump_manifest.h - manifest.json, written beside the files of every
 * directory dump (dump, and any command that dumps memory into a
 * directory): the process (pid, start time, cmdline, exe) and, per file,
 * the piece of the mapping it holds, its present runs and the sha256 of
 * the file as written (holes hashed as the zeros a reader sees).
 *
 * The file is one JSON object and a newline:
 *   {"type":"manifest","version":..,"time":..,"pid":..,"comm":..,
 *    "starttime":TICKS,"start_time":"RFC 3339","exe":..,"cmdline":..,
 *    "page_size":..,"files":[{"file":NAME,"start":"0x..","end":"0x..",
 *    "size":..,"present_bytes":..,"present":[{"start":..,"end":..}..],
 *    "sha256":HEX,"region":{...the mapping, as scan's "region"...}}..]}
 * "starttime" is field 22 of /proc/PID/stat (clock ticks after boot):
 * (pid, starttime) names the process even after its pid is reused. */
#ifndef MEMGREP_CLI_DUMP_MANIFEST_H
#define MEMGREP_CLI_DUMP_MANIFEST_H

#include <nettle/sha2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memgrep/memgrep.h"
#include "output/outfile.h"

#define CLI_MANIFEST_NAME "manifest.json"

/* [start, end) */
typedef struct cli_range {
    uint64_t start, end;
} cli_range;

/* ,"key":[{"start":"0x..","end":"0x.."}...]: the present runs of a dumped
 * piece (dump's --json records and the manifest). */
void cli_json_ranges(FILE *f, const char *key, const cli_range *r, size_t n);

/* One dumped file: byte k of it is the byte at start + k of the process. */
typedef struct cli_manifest_file {
    const mg_region *region; /* the mapping it comes from */
    uint64_t start, end;
    const char *file; /* its name in the directory (no '/') */
    uint64_t present_bytes;
    const cli_range *present; /* the runs written, ascending */
    size_t n_present;
    uint8_t sha256[SHA256_DIGEST_SIZE];
} cli_manifest_file;

/* SHA-256 of a file written in address order (nettle: Debian's libnettle,
 * already on every system with GnuTLS; no OpenSSL for one hash). */
typedef struct cli_sha256 {
    struct sha256_ctx ctx;
} cli_sha256;
void cli_sha256_init(cli_sha256 *h);
void cli_sha256_update(cli_sha256 *h, const void *data, size_t n);
/* n zero bytes: a hole of the file. */
void cli_sha256_zeros(cli_sha256 *h, uint64_t n);
void cli_sha256_digest(cli_sha256 *h, uint8_t out[SHA256_DIGEST_SIZE]);

/* The manifest being written: DIR/manifest.json under a temporary name
 * (outfile.h), put in place with the dump's files. */
typedef struct cli_manifest {
    cli_outfile out;
    char *path; /* DIR/manifest.json */
} cli_manifest;

/* Create DIR/manifest.json's temporary file; an existing manifest is
 * refused unless replace. Returns 0, or -1 after one line (m then holds
 * nothing to commit; cli_manifest_abort is still fine). */
int cli_manifest_open(cli_manifest *m, const char *dir, bool replace);
/* Write the manifest of proc's files (proc: mg_proc_get's info of the
 * dumped process). Returns 0, or -1 after one line. */
int cli_manifest_print(cli_manifest *m, const mg_proc_info *proc, const cli_manifest_file *files,
                       size_t n);
/* Put it in place (cli_outfile_commit) and free m: 0 or -1 after one line. */
int cli_manifest_commit(cli_manifest *m);
/* Drop it if not committed, free m. Accepts a zeroed m. */
void cli_manifest_abort(cli_manifest *m);

/* All three at once, for a caller whose files are already in place:
 * DIR/manifest.json for proc's files. Returns 0 or -1 after one line. */
int cli_dump_manifest_write(const char *dir, const mg_proc_info *proc,
                            const cli_manifest_file *files, size_t n, bool replace);

#endif
