/* rules.h - YARA rule files and directories for `memgrep scan -r`. */
#ifndef MEMGREP_CLI_RULES_H
#define MEMGREP_CLI_RULES_H

#include "memgrep/memgrep.h"

/* Add the rules of path (a rule file, or a directory: its *.yar and *.yara
 * files in name order) to p. Returns the rules added or a negative code
 * with err filled (not NULL). */
int cli_add_rules(mg_patterns *p, const char *path, unsigned flags, mg_error *err);

#endif
