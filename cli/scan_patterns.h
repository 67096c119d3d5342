/* scan_patterns.h - `memgrep scan`'s patterns, from the options to a
 * compiled set (scan_patterns.c). */
#ifndef MEMGREP_CLI_SCAN_PATTERNS_H
#define MEMGREP_CLI_SCAN_PATTERNS_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

#include "memgrep/memgrep.h"
#include "opts.h"

/* One pattern option as given. Patterns are added to the engine only after
 * parsing, because -i/--wide apply to all patterns wherever they appear. */
typedef enum scan_pattern_type {
    PAT_LITERAL, /* -e, positional */
    PAT_REGEX, /* -E */
    PAT_HEX, /* -x */
    PAT_FILE, /* -f: a pattern list file */
    PAT_RULES, /* -r: a YARA rule file or directory */
    PAT_DEFINE, /* -d NAME=VALUE: an external variable of the rules */
    PAT_TAG, /* -t TAG: show only rules with this tag (yara's -t) */
    PAT_IDENT, /* --identifier NAME: show only this rule (yara's -i) */
} scan_pattern_type;

typedef struct scan_pattern {
    scan_pattern_type type;
    const char *text; /* points into argv */
    char source[32]; /* "-e #1", "argument #2"... */
} scan_pattern;

/* Patterns in command-line order (that is their id), or the hunt pack when
 * none was given (n 0); -d externals first, as yara; compiled, so that a
 * bad one stops us before any scan. NULL after one line on stderr; with
 * *all_skipped set when the rules hold nothing to search for (a warning,
 * as yara: every rule skipped as unsupported, or no rule in the files). */
mg_patterns *cli_scan_patterns(const scan_pattern *pats, size_t n, unsigned flags,
                               bool skip_unsupported, const cli_engine *engine, bool *all_skipped);
/* The same with the rule files' MG_RULES_* flags (scan: MG_RULES_NO_NEGATE
 * unless -n, which shows the strings of every rule). */
mg_patterns *cli_scan_patterns_rules(const scan_pattern *pats, size_t n, unsigned flags,
                                     unsigned rule_flags, const cli_engine *engine,
                                     bool *all_skipped);

/* The patterns' descriptions by id, for the printers (n: how many; the
 * caller frees the array; its pointers are valid until p is freed). NULL
 * out of memory. */
mg_pattern_info *cli_pattern_infos(const mg_patterns *p, size_t *n);

/* -o FILE that is one of the inputs (-f FILE, -r FILE, a rule file in -r
 * DIR): same device and inode. One line and -1 if so; 0 if not (or no
 * FILE, or FILE absent). */
/* --show-pack: the hunt pack, one entry a line: its pattern id (as a scan
 * without patterns numbers them), a tab, the entry as written in the pack
 * (literal, re:REGEX or hex:BYTES), a tab, and the first sentence of the
 * comment above it. Returns 0, or -1 after one line. */
int cli_show_hunt_pack(FILE *f);

int cli_check_output_not_input(const char *file, const scan_pattern *pats, size_t n);

#endif
