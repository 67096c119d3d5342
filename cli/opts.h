/* opts.h - option groups and the table-driven getopt_long wrapper.
 *
 * An option group is a table of options (long name, short letter, argument,
 * help line) and one function that parses them into the group's own state.
 * A command (commands.h) lists the groups it takes; the wrapper builds the
 * getopt_long tables from them, so an option is declared, parsed and
 * documented in one place, and a group shared by several commands behaves
 * and reads the same in each.
 */
#ifndef MEMGREP_CLI_OPTS_H
#define MEMGREP_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"

/* One option. A table ends with an entry whose name is NULL. */
typedef struct cli_opt {
    int id; /* the group's own code for it, passed to parse */
    int short_name; /* 'p', or 0: long only */
    const char *name; /* long name without "--" */
    const char *arg; /* help form of the argument ("N", "=auto|never"); NULL: none */
    /* Help text, '\n' between lines; NULL: an undocumented alias. With
     * help_value, a printf format with one %s that it fills (a limit taken
     * from its one home, so help and check can't disagree). */
    const char *help;
    const char *(*help_value)(char *buf, size_t size);
} cli_opt;

typedef struct cli_group {
    const char *title; /* help section: "Targets" */
    const cli_opt *opts;
    /* Defaults and clean-up of the group's state (either may be NULL). */
    void (*init)(void *state);
    void (*fini)(void *state);
    /* One option: arg is NULL for options without an argument. On bad
     * input prints one line (cli_usage_error) and returns -1. */
    int (*parse)(void *state, int id, const char *arg);
} cli_group;

/* ---- shared groups ---- */

/* Targets: -p PID[,PID...] (repeatable), --container ID, --cgroup PREFIX.
 * No pid: every process (that the two filters select). */
typedef struct cli_targets {
    pid_t *pids; /* owned; distinct, each > 0 */
    size_t n_pids;
    const char *container; /* --container: id prefix, 4-64 hex digits; NULL: any */
    const char *cgroup; /* --cgroup: path prefix starting with '/'; NULL: any */
} cli_targets;
extern const cli_group cli_targets_group;
/* The same options, with help for ps (lists) and for maps, dump and
 * strings (one process: cli_target_pid). */
extern const cli_group cli_list_targets_group;
extern const cli_group cli_one_target_group;

/* Whether --container or --cgroup was given. */
bool cli_targets_filtered(const cli_targets *t);

/* Every pid names a process with memory, not memgrep: no such process, a
 * zombie, a kernel thread is bad input, said in one line before anything
 * is compiled (the sweep checks again). Returns 0 or -1 after the line. */
int cli_targets_check(const cli_targets *t);

typedef enum cli_color {
    CLI_COLOR_AUTO = 0,
    CLI_COLOR_ALWAYS,
    CLI_COLOR_NEVER,
} cli_color;

/* Output: --json, --color, --no-summary, --no-progress, -q, -s, -o FILE. */
typedef struct cli_output {
    const char *file; /* -o FILE (points into argv); NULL: stdout */
    bool json;
    cli_color color;
    bool summary; /* false with --no-summary */
    bool progress; /* on a terminal: false with --no-progress */
    bool quiet; /* -q */
    bool no_messages; /* -s: no per-process warnings, no hunt-pack note */
} cli_output;
extern const cli_group cli_output_group;

/* Colour in the results: --color, else (no -o) a terminal stdout that is
 * not "dumb" and no $NO_COLOR; never with --json. */
bool cli_output_color(const cli_output *o);

/* Engine: -j, --chunk-size, --mem-reader, --no-dedupe, --include-noread,
 * --db-cache DIR / --no-db-cache; and the limits for production hosts:
 * --max-rate, --timeout, --process-timeout, --idle, --nice, --gentle. */
typedef struct cli_engine {
    /* mg_default_settings, then the options; read it through
     * cli_engine_settings, which applies --gentle */
    mg_settings settings;
    bool db_cache; /* false with --no-db-cache */
    const char *db_cache_dir; /* --db-cache DIR (points into argv); NULL: default */
    bool gentle; /* --gentle: the preset below, for what was not given */
    bool threads_set, rate_set, nice_set; /* given explicitly: win over --gentle */
    bool idle; /* --idle (or --gentle) */
    int nice; /* --nice N, -20..19 */
} cli_engine;
extern const cli_group cli_engine_group;

/* The --gentle preset: one worker, SCHED_IDLE and the idle I/O class,
 * reads capped at 64 MiB/s, nice 19. Explicit -j, --max-rate, --nice win
 * whatever their place on the command line. */
#define CLI_GENTLE_THREADS 1u
#define CLI_GENTLE_MAX_RATE (64ull << 20)
#define CLI_GENTLE_NICE 19

/* The settings to scan with: the options, and --gentle's preset for what
 * they don't give. */
void cli_engine_settings(const cli_engine *e, mg_settings *out);

/* --idle and --nice (and --gentle's): applied to the calling thread, to be
 * called on the main thread before mg_scan starts its workers, which
 * inherit them (scheduling policy, nice value and I/O priority are per
 * thread on Linux, inherited at thread creation). Returns 0, or -1 after
 * one line on stderr (exit status 2: e.g. a negative --nice without
 * CAP_SYS_NICE). */
int cli_engine_apply_priority(const cli_engine *e);

/* Where compiled databases are kept: --db-cache DIR, else for root
 * /var/cache/memgrep (not $XDG_CACHE_HOME or $HOME, which sudo may bring
 * from another user), else $XDG_CACHE_HOME/memgrep, else ~/.cache/memgrep;
 * NULL for no cache. */
const char *cli_engine_db_cache_dir(const cli_engine *e, char *buf, size_t size);

/* ---- parsing ---- */

/* A group bound to its state: at `offset` bytes into the command's state. */
typedef struct cli_binding {
    const cli_group *group;
    size_t offset;
} cli_binding;

typedef struct cli_parse_spec {
    const char *command; /* "scan": for messages */
    const cli_binding *groups;
    size_t n_groups;
    /* A non-option argument (also every argument after "--"); NULL: the
     * command takes none. */
    int (*positional)(void *state, const char *arg);
} cli_parse_spec;

enum {
    CLI_PARSED = 0,
    CLI_PARSED_HELP = 1, /* -h/--help was given (all arguments still checked) */
    CLI_PARSED_VERSION = 2, /* -V/--version was given */
};

/* Parse argv (argv[0] is the command name) into state. Returns CLI_PARSED*
 * or -1 after one line on stderr. The groups' init must have run. */
int cli_parse_options(const cli_parse_spec *spec, int argc, char **argv, void *state);

/* The option sections of a command's help: each group, then -h and -V. */
void cli_print_options(FILE *f, const cli_binding *groups, size_t n_groups);

/* ---- values ---- */

/* A decimal number, digits first (strtoull alone takes blanks, '+' and a
 * wrapping '-'): 0 with *end after its digits, or -1. */
int cli_parse_u64(const char *s, uint64_t *out, const char **end);
/* Strict numbers: digits only, whole string, min..max. */
int cli_parse_number(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Bytes with an optional binary suffix: 65536, 64K, 1M, 1G. */
int cli_parse_size(const char *opt, const char *s, uint64_t *out);
/* A duration: a number (digits, optionally '.' and digits) with an
 * optional unit ms, s, m or h; none means seconds: "30s", "2m", "1.5",
 * "500ms", "1h". At least 0, at most MG_MAX_SECONDS. In seconds
 * (mg_cli_parse_duration). */
int cli_parse_duration(const char *opt, const char *s, double *out);
/* A size as the user would type it: "256M", "4K", "4097". */
const char *cli_format_size(uint64_t v, char *buf, size_t size);

#endif
