/* dump_region.h - one region of `memgrep dump` (dump_region.c): its
 * present pages copied into the file that holds it, and the line or JSON
 * record that reports it. Which files, and how they are put in place
 * together, is cmd_dump.c's. */
#ifndef MEMGREP_CLI_DUMP_REGION_H
#define MEMGREP_CLI_DUMP_REGION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "dump_manifest.h"
#include "investigate.h"
#include "memgrep/memgrep.h"
#include "output/outfile.h"

/* Target memory read at a time. */
#define DUMP_CHUNK MG_STRINGS_CHUNK

typedef struct region_dump {
    const cli_piece *piece;
    char *file; /* the final path */
    cli_outfile out; /* its own file; unused with --core */
    int fd; /* where it is written: byte k of the piece at base + k */
    uint64_t base;
    cli_sha256 *hash; /* of the file (holes as zeros), or NULL */
    cli_range *present; /* the runs written */
    size_t n_present;
    uint64_t bytes;
    uint8_t sha256[SHA256_DIGEST_SIZE];
} region_dump;

/* Copy the present pages of the piece into its (temporary) file, hashing
 * the file as written if rd->hash. buf (DUMP_CHUNK bytes) and present
 * (DUMP_CHUNK / mg_page_size()) are the caller's scratch. Returns 0, or -1
 * after one line. */
int cli_dump_write_region(pid_t pid, region_dump *rd, uint8_t *buf, uint8_t *present);
/* rd, dumped: a line, or with json a "region" record, on f. */
void cli_dump_report_region(FILE *f, pid_t pid, const region_dump *rd, bool json);

#endif
