/* messages.h - usage errors and engine failures on stderr (messages.c). */
#ifndef MEMGREP_CLI_MESSAGES_H
#define MEMGREP_CLI_MESSAGES_H

#include "memgrep/memgrep.h"

/* One line `memgrep: ...` on stderr: every usage error is one line, so
 * scripts can show it as is; control bytes of the message (from a value
 * or a file name as given) are written as \xHH. */
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appended to usage errors about options and commands; within a command
 * (cli_messages_command) it names it: (try 'memgrep dump --help'). */
#define CLI_TRY_HELP " (try 'memgrep --help')"
/* The command being run, for CLI_TRY_HELP (NULL: none). */
void cli_messages_command(const char *name);

/* Text said after "memgrep: " in the lines that follow (NULL: none): a
 * context such as watch's "reload failed, keeping the previous patterns: "
 * in front of the message that says why. */
void cli_messages_prefix(const char *text);

/* The one of names[0..n) that typed[0..len) is a typo of (at most two
 * letters inserted, dropped, changed or swapped), or NULL: none, or more
 * than one as close ("did you mean" of unknown commands and options). */
const char *cli_did_you_mean(const char *typed, size_t len, const char *const *names, size_t n);

/* An engine failure: its message already names the input and where it
 * came from; `what` is only for failures that come without one. */
void cli_report(int err, const mg_error *e, const char *what);

#endif
