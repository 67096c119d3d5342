/* scan_opts.h - `memgrep scan`'s state, which its option groups fill, and
 * the two groups of its own (scan_opts.c): the patterns as given and how
 * matches are shown. The groups it shares with other commands are in
 * opts.h, findings.h, sandbox.h and rules.h; the runner is cmd_scan.c. */
#ifndef MEMGREP_CLI_SCAN_OPTS_H
#define MEMGREP_CLI_SCAN_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "findings.h"
#include "opts.h"
#include "rules.h"
#include "sandbox.h"
#include "scan_patterns.h"

typedef struct scan_state {
    cli_targets targets;
    cli_engine engine; /* engine.settings also takes -C and -m */
    cli_output output;
    cli_sandbox sandbox;
    cli_findings findings; /* --findings and its options */
    cli_rules_output rules_out; /* -s, --print-meta, -g, --print-namespace, -n */
    scan_pattern *patterns;
    size_t n_patterns;
    unsigned pattern_flags; /* MG_PATTERN_CASELESS | MG_PATTERN_WIDE | MG_PATTERN_WORD */
    /* Occurrence counters, so that messages can say "-E #2" (the second -E). */
    unsigned n_e, n_E, n_x, n_f, n_arg, n_r, n_d;
    bool skip_unsupported; /* --skip-unsupported */
    bool count, list; /* -c, -l */
    bool line_buffered; /* --line-buffered */
    bool show_pack; /* --show-pack */
} scan_state;

/* -e, -E, -x, -f, -i, --wide, -w, -r, -d, -t, --identifier, --show-pack,
 * --skip-unsupported (ids follow command-line order). */
extern const cli_group cli_scan_patterns_group;
/* -C, -m, -c, -l, --line-buffered. */
extern const cli_group cli_scan_matches_group;
/* A positional PATTERN: a literal, in its place among -e/-E/-x/-f. */
int cli_scan_positional(void *state, const char *arg);

#endif
