/* findings_dump.h - --dump-findings: each finding's first region of one
 * process into DIR/PID/KIND-START-END.bin beside a manifest.json as dump -o
 * DIR writes (dump_manifest.h). */
#ifndef MEMGREP_CLI_FINDINGS_DUMP_H
#define MEMGREP_CLI_FINDINGS_DUMP_H

#include "dump_manifest.h"
#include "findings.h"

/* One file of a process's dump: its manifest entry and what it owns. */
typedef struct cli_dumped {
    cli_manifest_file mf;
    size_t finding; /* the index of its finding */
    char *path; /* DIR/PID/KIND-START-END.bin */
    cli_range *runs;
} cli_dumped;

/* The dump of one process: DIR/PID, its files and manifest.json. */
typedef struct cli_proc_dump {
    char *dir; /* DIR/PID */
    cli_dumped *files;
    size_t n;
} cli_proc_dump;

/* The first region of each finding of list that is wanted into DIR/PID
 * (dir, p's pid), then DIR/PID/manifest.json of the files written (replacing one
 * of an earlier check). A process that cannot be read leaves its finding
 * without a file. Returns 0, or -1 after one line (a write error; the
 * files written so far are in the manifest all the same). */
int cli_findings_dump_process(const char *dir, const mg_proc_info *p, const mg_finding *list,
                              const bool *wanted, size_t n, cli_proc_dump *pd);
/* The file written for finding i, or NULL. */
const char *cli_findings_dumped_path(const cli_proc_dump *pd, size_t i);
void cli_findings_dump_free(cli_proc_dump *pd);

#endif
