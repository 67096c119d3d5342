/* commands.c - the command table; argv[1] (command, help, --version);
 * help texts. */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

/* The commands, in help order. Each is defined in its own cmd_NAME.c. */
extern const cli_command cli_cmd_scan;
extern const cli_command cli_cmd_ps;
extern const cli_command cli_cmd_maps;
extern const cli_command cli_cmd_dump;
extern const cli_command cli_cmd_strings;
extern const cli_command cli_cmd_check;
extern const cli_command cli_cmd_watch;

static const cli_command *const commands[] = {
    &cli_cmd_scan, &cli_cmd_watch,   &cli_cmd_ps,    &cli_cmd_maps,
    &cli_cmd_dump, &cli_cmd_strings, &cli_cmd_check,
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i]->name, name))
            return commands[i];
    return NULL;
}

/* `memgrep help`, `memgrep --help`: the commands. */
static void print_help(FILE *f)
{
    fputs("usage: memgrep COMMAND [OPTIONS] [ARGS...]\n"
          "       memgrep help [COMMAND] | COMMAND --help | --help | --version\n"
          "\n"
          "Search the memory of running processes.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-22s  %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-22s  %s\n", "help [COMMAND]", "this help, or a command's options");
    fputs("\n"
          "'memgrep help COMMAND' or 'memgrep COMMAND --help' lists the command's options.\n",
          f);
}

void cli_print_command_help(FILE *f, const cli_command *c)
{
    fprintf(f, "usage: memgrep %s %s\n\n%s\n\n", c->name, c->synopsis, c->description);
    cli_print_options(f, c->groups, c->n_groups);
    if (c->epilogue)
        fprintf(f, "\n%s", c->epilogue);
}

static int print_version(void)
{
    printf("memgrep %s\n", MG_VERSION);
    return EXIT_SUCCESS;
}

static int run_command(const cli_command *c, int argc, char **argv)
{
    cli_messages_command(c->name);
    void *state = calloc(1, c->state_size);
    if (!state) {
        fprintf(stderr, "memgrep: out of memory\n");
        return EXIT_TROUBLE;
    }
    for (size_t i = 0; i < c->n_groups; i++)
        if (c->groups[i].group->init)
            c->groups[i].group->init((char *)state + c->groups[i].offset);
    cli_parse_spec spec = {
        .command = c->name,
        .groups = c->groups,
        .n_groups = c->n_groups,
        .positional = c->positional,
    };
    int status;
    switch (cli_parse_options(&spec, argc, argv, state)) {
    case CLI_PARSED:
        status = c->run(state);
        break;
    case CLI_PARSED_HELP:
        cli_print_command_help(stdout, c);
        status = EXIT_SUCCESS;
        break;
    case CLI_PARSED_VERSION:
        status = print_version();
        break;
    default:
        status = EXIT_TROUBLE;
        break;
    }
    for (size_t i = 0; i < c->n_groups; i++)
        if (c->groups[i].group->fini)
            c->groups[i].group->fini((char *)state + c->groups[i].offset);
    free(state);
    return status;
}

/* "unknown command 'scna': did you mean 'scan'?" */
static void unknown_command(const char *name)
{
    const char *names[N_COMMANDS + 1];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i]->name;
    names[N_COMMANDS] = "help";
    const char *near = cli_did_you_mean(name, strlen(name), names, N_COMMANDS + 1);
    if (near)
        cli_usage_error("unknown command '%s': did you mean '%s'?" CLI_TRY_HELP, name, near);
    else
        cli_usage_error("unknown command '%s'" CLI_TRY_HELP, name);
}

/* `memgrep help [COMMAND]` (also --help, -h). */
static int help(int argc, char **argv)
{
    if (argc > 3) {
        cli_usage_error("unexpected argument '%s' to %s" CLI_TRY_HELP, argv[3], argv[1]);
        return EXIT_TROUBLE;
    }
    if (argc == 2) {
        print_help(stdout);
        return EXIT_SUCCESS;
    }
    const cli_command *c = find_command(argv[2]);
    if (!c) {
        unknown_command(argv[2]);
        return EXIT_TROUBLE;
    }
    cli_print_command_help(stdout, c);
    return EXIT_SUCCESS;
}

int cli_argc;
char **cli_argv;

int cli_main(int argc, char **argv)
{
    cli_argc = argc;
    cli_argv = argv;
    if (argc < 2) {
        cli_usage_error("missing command" CLI_TRY_HELP);
        return EXIT_TROUBLE;
    }
    const char *name = argv[1];
    const cli_command *c = find_command(name);
    if (c)
        return run_command(c, argc - 1, argv + 1);
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h"))
        return help(argc, argv);
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        if (argc > 2) {
            cli_usage_error("unexpected argument '%s' to %s" CLI_TRY_HELP, argv[2], name);
            return EXIT_TROUBLE;
        }
        return print_version();
    }
    if (name[0] == '-')
        cli_usage_error("unknown option '%s': a command such as '%s' comes first" CLI_TRY_HELP,
                        name, commands[0]->name);
    else
        unknown_command(name);
    return EXIT_TROUBLE;
}
