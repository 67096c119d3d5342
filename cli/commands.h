/* commands.h - the memgrep command table and what every command shares.
 *
 * A command is one cli_command, defined in its own file (cmd_scan.c) and
 * listed in the table in commands.c: adding a command touches those two.
 * commands.c owns argv[1]: the command name, `help [COMMAND]`, --help and
 * --version; a command sees only its own arguments.
 */
#ifndef MEMGREP_CLI_COMMANDS_H
#define MEMGREP_CLI_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include "memgrep/memgrep.h"
#include "messages.h"
#include "opts.h"

/* Exit status, as grep; then memgrep's own. */
enum {
    EXIT_MATCH = 0,
    EXIT_NO_MATCH = 1,
    EXIT_TROUBLE = 2,
    EXIT_TIMEOUT = 3, /* --timeout ran out: the sweep is incomplete */
    EXIT_SIGNAL_BASE = 128, /* + N: stopped by signal N (SIGINT, SIGTERM, SIGHUP) */
};

typedef struct cli_command {
    const char *name; /* "scan" */
    const char *summary; /* one line, for `memgrep help` */
    /* Help: "usage: memgrep NAME SYNOPSIS", the description, the groups'
     * options, then the epilogue (may be NULL). */
    const char *synopsis;
    const char *description;
    const char *epilogue;
    /* Option parser: groups in parse and help order, bound into a state of
     * state_size bytes (zeroed, then each group's init); positional may be
     * NULL (then the command takes no argument). */
    const cli_binding *groups;
    size_t n_groups;
    int (*positional)(void *state, const char *arg);
    size_t state_size;
    /* Runner: after a successful parse; returns the exit status. */
    int (*run)(void *state);
} cli_command;

/* Run memgrep with main's arguments; returns the exit status. */
int cli_main(int argc, char **argv);

/* The help of one command (`memgrep CMD --help`, `memgrep help CMD`). */
void cli_print_command_help(FILE *f, const cli_command *c);

/* The command line as given to main (set by cli_main): the start record
 * of `scan --json` lists it. */
extern int cli_argc;
extern char **cli_argv;

#endif
