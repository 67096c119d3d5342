/* findings.h - what `memgrep check` and `memgrep scan --findings` share:
 * the findings options (--allow, --allow-file, --dump-findings), a finding
 * as a text line or a JSON record, and the dumps of findings' regions. */
#ifndef MEMGREP_CLI_FINDINGS_H
#define MEMGREP_CLI_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "memgrep/memgrep.h"
#include "opts.h"
#include "sandbox.h"

/* One --allow KIND:EXE_PATH: a finding of that kind ("*": any) in a
 * process whose exe is EXE_PATH is not reported. */
typedef struct cli_allow {
    int kind; /* mg_finding_kind, or -1: any */
    char *exe;
} cli_allow;

/* Findings: --findings, --allow, --allow-file FILE, --dump-findings DIR. */
typedef struct cli_findings {
    bool on; /* --findings (scan) */
    cli_allow *allow;
    size_t n_allow;
    const char *dump_dir; /* --dump-findings DIR (points into argv); NULL: none */
} cli_findings;
extern const cli_group cli_findings_group;

/* Whether an --allow entry silences f. */
bool cli_finding_allowed(const cli_findings *o, const mg_finding *f);

/* What the findings of one process came to: reported, silenced, failed. */
typedef struct cli_findings_count {
    size_t checked, failed, findings, allowed, dumped;
} cli_findings_count;

/* What cli_findings_of and cli_findings_sweep print: the findings, and a
 * record or line for each process that could not be checked (scan leaves
 * those to its sweep, which reports the same process's failure). */
enum {
    CLI_FINDINGS_PRINT = 1u << 0,
    CLI_FINDINGS_FAILURES = 1u << 1,
};

/* The findings of pid (comm for messages): each not allowed printed to f,
 * its first region dumped under --dump-findings (DIR/PID/KIND-START-END.bin
 * and DIR/PID/manifest.json of them, written before the findings are
 * printed); counted in c. A process that could not be checked is counted
 * and, with CLI_FINDINGS_FAILURES, reported (an error record in JSON, a
 * line on stderr in text), not an error. Findings are printed with
 * CLI_FINDINGS_PRINT as a line (PID COMM SEVERITY KIND: KEY=VALUE...) or a
 * "finding" record. Returns 0, or -1 after one line when a dump could not
 * be written (exit status 2; the findings are printed all the same). */
int cli_findings_of(const cli_findings *o, FILE *f, bool json, unsigned show, const mg_proc_info *p,
                    cli_findings_count *c);

/* Prepare --dump-findings' directory (made 0700 if absent; never a link):
 * 0, or -1 after one line. No-op without the option. */
int cli_findings_dump_dir(const cli_findings *o);

/* The findings of every process t selects (-p, --container, --cgroup;
 * none: all of them, not kernel threads, zombies or memgrep): each
 * process through cli_findings_of, printed as show says (always
 * counted). *selected: how many t selected. Returns 0, or -1 after one
 * line. */
int cli_findings_sweep(const cli_findings *o, const cli_targets *t, FILE *f, bool json,
                       unsigned show, cli_findings_count *c, size_t *selected);

/* scan --findings: the findings the sweep finds in each target it scans
 * (mg_sink.findings), reported as cli_findings_of reports them. */
typedef struct cli_findings_scan {
    const cli_findings *o;
    FILE *f;
    bool json;
    unsigned show;
    cli_findings_count c;
    bool failed; /* a dump could not be written (said): exit status 2 */
} cli_findings_scan;

/* mg_sink.findings with a cli_findings_scan (ctx), called under the CLI
 * sink's lock. Returns MG_SINK_STOP once a dump could not be written. */
int cli_findings_scanned(void *ctx, const mg_process *p, const mg_finding *list, size_t n);

/* After the sweep: s's count with the processes that could not be checked
 * (failed at open, or opened and not checked), as cli_findings_summary. */
void cli_findings_scan_summary(FILE *f, cli_findings_scan *s, const mg_stats *stats);

/* Whether to enter the sandbox: 1, or 0 when --dump-findings writes
 * files, which the sandbox forbids (one line says so), or -1 after one
 * line when --require-sandbox asks for it all the same. */
int cli_findings_sandbox(const cli_findings *o, const cli_sandbox *sb);

/* "memgrep: N processes checked, N failed; N findings[, N allowed][, N
 * dumped]" on f. */
void cli_findings_summary(FILE *f, const cli_findings_count *c);

#endif
