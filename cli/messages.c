/* messages.c - what every command says on stderr: usage errors and engine
 * failures, one line each. */
#include "messages.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "memgrep: MSG" and a newline, in one write. Control bytes of MSG (a
 * newline or an escape sequence in a value or a file name as given) are
 * written as \xHH: the message stays one line and shows what was given. */
static void put_line(const char *msg)
{
    static const char head[] = "memgrep: ";
    size_t len = strlen(msg);
    char *line = malloc(sizeof(head) + 4 * len + 1);
    if (!line) {
        fputs("memgrep: out of memory\n", stderr);
        return;
    }
    char *o = line + sizeof(head) - 1;
    memcpy(line, head, sizeof(head) - 1);
    for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
        if (*s < 0x20 || *s == 0x7f)
            o += sprintf(o, "\\x%02x", *s);
        else
            *o++ = (char)*s;
    }
    *o++ = '\n';
    fwrite(line, 1, (size_t)(o - line), stderr);
    free(line);
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    put_line(n < 0 ? "out of memory" : msg);
    free(n < 0 ? NULL : msg);
}

void cli_report(int err, const mg_error *e, const char *what)
{
    if (e && e->message[0])
        cli_usage_error("%s%s", e->message, err == MG_EBADPID ? " (from -p)" : "");
    else
        cli_usage_error("%s: %s", what, mg_strerror(err));
}
