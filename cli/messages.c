/* messages.c - what every command says on stderr: usage errors and engine
 * failures, one line each. */
#include "messages.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "memgrep: MSG" and a newline, in one write. Control bytes of MSG (a
 * newline or an escape sequence in a value or a file name as given) are
 * written as \xHH: the message stays one line and shows what was given. */
/* Said before every message (cli_messages_prefix), or NULL. */
static const char *prefix;

static void put_line(const char *msg)
{
    static const char head[] = "memgrep: ";
    size_t len = strlen(msg), plen = prefix ? strlen(prefix) : 0;
    char *line = malloc(sizeof(head) + plen + 4 * len + 1);
    if (!line) {
        fputs("memgrep: out of memory\n", stderr);
        return;
    }
    char *o = line + sizeof(head) - 1;
    memcpy(line, head, sizeof(head) - 1);
    if (plen) {
        memcpy(o, prefix, plen);
        o += plen;
    }
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

/* The command whose options are parsed (cli_messages_command), or NULL. */
static const char *help_command;

void cli_messages_command(const char *name)
{
    help_command = name;
}

void cli_messages_prefix(const char *text)
{
    prefix = text;
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL, *named = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    /* "(try 'memgrep --help')" names the command when there is one */
    size_t tl = strlen(CLI_TRY_HELP);
    if (n >= 0 && help_command && (size_t)n >= tl && !strcmp(msg + n - tl, CLI_TRY_HELP) &&
        asprintf(&named, "%.*s (try 'memgrep %s --help')", n - (int)tl, msg, help_command) < 0)
        named = NULL;
    put_line(n < 0 ? "out of memory" : named ? named : msg);
    free(named);
    free(n < 0 ? NULL : msg);
}

void cli_report(int err, const mg_error *e, const char *what)
{
    if (e && e->message[0])
        cli_usage_error("%s%s", e->message, err == MG_EBADPID ? " (from -p)" : "");
    else
        cli_usage_error("%s: %s", what, mg_strerror(err));
}

/* Edit distance between a[0..na) and b[0..nb): insertions, deletions,
 * substitutions and swaps of two neighbours (scna: scan) cost 1 each.
 * Names are short: above CLI_NAME_MAX it is just "far". */
#define CLI_NAME_MAX 64
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    if (na > CLI_NAME_MAX || nb > CLI_NAME_MAX)
        return SIZE_MAX;
    size_t d[CLI_NAME_MAX + 1][CLI_NAME_MAX + 1];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            size_t v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < v)
                v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[na][nb];
}

const char *cli_did_you_mean(const char *typed, size_t len, const char *const *names, size_t n)
{
    /* at most 2 edits, and fewer than half of what was typed */
    size_t best = len < 4 ? 1 : 2, found = 0;
    const char *name = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(typed, len, names[i], strlen(names[i]));
        if (!d || d > best || d * 2 >= len)
            continue; /* an exact name is no typo (--json=1) */
        if (d < best || !name) {
            best = d;
            name = names[i];
            found = 1;
        } else if (strcmp(name, names[i])) {
            found++;
        }
    }
    return found == 1 ? name : NULL;
}
