/* args.h - memgrep command line: parsed into mg_settings + pattern specs. */
#ifndef MEMGREP_CLI_ARGS_H
#define MEMGREP_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"

typedef enum cli_command {
    CLI_SCAN,
    CLI_HELP, /* --help, -h, `help`: usage on stdout, exit 0 */
    CLI_VERSION, /* --version, -V */
} cli_command;

/* What the sink does with a match. Precedence (like grep): quiet > list > count. */
typedef enum cli_mode {
    CLI_MODE_MATCHES = 0,
    CLI_MODE_COUNT, /* -c */
    CLI_MODE_LIST, /* -l */
    CLI_MODE_QUIET, /* -q */
} cli_mode;

typedef enum cli_color {
    CLI_COLOR_AUTO = 0,
    CLI_COLOR_ALWAYS,
    CLI_COLOR_NEVER,
} cli_color;

/* One pattern option as given. Patterns are added to the engine only after
 * parsing, because -i/--wide apply to all patterns wherever they appear. */
typedef enum cli_pattern_type {
    CLI_PAT_LITERAL, /* -e, positional */
    CLI_PAT_REGEX, /* -E */
    CLI_PAT_HEX, /* -x */
    CLI_PAT_FILE, /* -f: a pattern list file */
} cli_pattern_type;

typedef struct cli_pattern {
    cli_pattern_type type;
    const char *text; /* points into argv */
    char source[32]; /* "-e #1", "argument #2"... */
} cli_pattern;

typedef struct cli_options {
    cli_command command;
    mg_settings settings; /* pids point at `pids` below */
    pid_t *pids;
    size_t n_pids;
    cli_pattern *patterns;
    size_t n_patterns;
    unsigned pattern_flags; /* MG_PATTERN_CASELESS | MG_PATTERN_WIDE */
    cli_mode mode;
    cli_color color;
    bool json;
    bool summary;
    bool progress; /* on a terminal: false with --no-progress */
    bool db_cache; /* false with --no-db-cache */
    const char *db_cache_dir; /* --db-cache DIR; NULL: the default (memgrep.c) */
} cli_options;

/* Parse argv into o (which it initialises). On a usage error prints one
 * line `memgrep: ...` on stderr and returns -1; o is freed. */
int cli_parse_args(int argc, char *const *argv, cli_options *o);

void cli_options_free(cli_options *o);

void cli_print_usage(FILE *f);

#endif
