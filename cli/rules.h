/* rules.h - YARA rule files and directories for `memgrep scan -r`
 * (NS:FILE puts them in namespace NS, as yara's), and the options of
 * yara's habits for rule output (-s, --print-meta, -g, --print-namespace,
 * -n). */
#ifndef MEMGREP_CLI_RULES_H
#define MEMGREP_CLI_RULES_H

#include <stdbool.h>

#include "memgrep/memgrep.h"
#include "opts.h"

/* How rules are shown, as yara's flags (cli_rules_group). */
typedef struct cli_rules_output {
    bool strings; /* -s, --print-strings: yara's form, each hit 0xADDR:$id: DATA */
    bool meta; /* --print-meta (yara -m; memgrep's -m is --max-count) */
    bool tags; /* -g, --print-tags: with -s, [tags] as yara -g */
    bool ns; /* --print-namespace (yara -e; memgrep's -e is --pattern): NS:RULE */
    bool negate; /* -n, --negate: the rules that did not match */
} cli_rules_output;

extern const cli_group cli_rules_group;

/* Add the rules of path (a rule file, or a directory: its *.yar and *.yara
 * files in name order) to p; "NS:PATH" puts them in namespace NS, else in
 * "default": as yara, unless arg names a file itself or its first ':' is
 * followed by '\\'.
 * Returns the rules added or a negative code with err filled (not NULL). */
int cli_add_rules(mg_patterns *p, const char *path, unsigned flags, mg_error *err);

#endif
