/* messages.h - usage errors and engine failures on stderr (messages.c). */
#ifndef MEMGREP_CLI_MESSAGES_H
#define MEMGREP_CLI_MESSAGES_H

#include "memgrep/memgrep.h"

/* One line `memgrep: ...` on stderr: every usage error is one line, so
 * scripts can show it as is; control bytes of the message (from a value
 * or a file name as given) are written as \xHH. */
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appended to usage errors about options and commands. */
#define CLI_TRY_HELP " (try 'memgrep --help')"

/* An engine failure: its message already names the input and where it
 * came from; `what` is only for failures that come without one. */
void cli_report(int err, const mg_error *e, const char *what);

#endif
