/* findings_print.h - one finding as a text line or a JSON record, and a
 * process that could not be checked (findings_print.c); which findings are
 * printed, and when, is findings.c's. */
#ifndef MEMGREP_CLI_FINDINGS_PRINT_H
#define MEMGREP_CLI_FINDINGS_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include "memgrep/memgrep.h"

/* x on f as a line (PID COMM SEVERITY KIND: KEY=VALUE...), with
 * dump=PATH when dump is not NULL (its --dump-findings file). */
void cli_finding_print_text(FILE *f, const mg_finding *x, const char *dump);
/* x on f as a "finding" record, with "dump" when dump is not NULL. */
void cli_finding_print_json(FILE *f, const mg_finding *x, const char *dump);

/* A process that could not be checked (rc and err of mg_findings_get):
 * scan's error record on f with json, else a line on stderr. */
void cli_findings_print_failure(FILE *f, bool json, const mg_proc_info *p, int rc,
                                const mg_error *err);

#endif
