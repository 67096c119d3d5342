/* scan_opts.c - `memgrep scan`'s own option groups (scan_opts.h): the
 * patterns in command-line order, and how matches are shown. */
#include "scan_opts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memgrep/memgrep.h"
#include "messages.h"

enum {
    OPT_PATTERN,
    OPT_REGEX,
    OPT_HEX,
    OPT_FILE,
    OPT_IGNORE_CASE,
    OPT_WIDE,
    OPT_RULES,
    OPT_SKIP_UNSUPPORTED,
    OPT_DEFINE,
    OPT_TAG,
    OPT_IDENT,
    OPT_SHOW_PACK,
    OPT_WORD,
};

static const cli_opt pattern_opts[] = {
    {OPT_PATTERN, 'e', "pattern", "PAT", "literal pattern (repeatable)", NULL},
    {OPT_REGEX, 'E', "regex", "PAT", "regular expression, Hyperscan syntax (repeatable)", NULL},
    {OPT_HEX, 'x', "hex", "PAT", "hex bytes, '?\?' is any byte: '4d 5a ?\? 00' (repeatable)", NULL},
    {OPT_FILE, 'f', "file", "FILE",
     "pattern list: literal, 're:REGEX' or 'hex:BYTES' per\n"
     "line, '#' starts a comment line",
     NULL},
    {OPT_IGNORE_CASE, 'i', "ignore-case", NULL, "ASCII case-insensitive (all patterns)", NULL},
    {OPT_WIDE, 0, "wide", NULL, "also match the UTF-16LE form (all patterns)", NULL},
    {OPT_WORD, 'w', "word-regexp", NULL,
     "whole words, as grep's -w: no ASCII letter, digit\n"
     "or '_' right before or after a match (all patterns)",
     NULL},
    {OPT_RULES, 'r', "rules", "[NS:]FILE",
     "YARA rules (repeatable); a directory: its *.yar and\n"
     "*.yara files; NS: in namespace NS. -i, --wide and\n-w do not apply to them",
     NULL},
    {OPT_DEFINE, 'd', "define", "NAME=VALUE",
     "external variable of the rules, as yara's -d: true,\n"
     "false, an integer, a float, else text (repeatable)",
     NULL},
    {OPT_TAG, 't', "tag", "TAG", "show only rules tagged TAG (repeatable), as yara's -t", NULL},
    {OPT_IDENT, 0, "identifier", "NAME", "show only the rule NAME (repeatable), as yara's -i",
     NULL},
    {OPT_SHOW_PACK, 0, "show-pack", NULL,
     "print the built-in hunt pack (used when no pattern\n"
     "is given): ID, entry, what it finds; then exit",
     NULL},
    {OPT_SKIP_UNSUPPORTED, 0, "skip-unsupported", NULL,
     "drop rules using what memgrep does not evaluate\n(a hash of memory not compared with text) "
     "with a\nwarning",
     NULL},
    {0},
};

static int add_pattern(scan_state *s, scan_pattern_type type, const char *text,
                       const char *source_fmt, unsigned nth)
{
    scan_pattern *n = realloc(s->patterns, (s->n_patterns + 1) * sizeof(*n));
    if (!n) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    s->patterns = n;
    scan_pattern *p = &s->patterns[s->n_patterns++];
    p->type = type;
    p->text = text;
    snprintf(p->source, sizeof(p->source), source_fmt, nth);
    return 0;
}

static int patterns_parse(void *state, int id, const char *arg)
{
    scan_state *s = state;
    switch (id) {
    case OPT_PATTERN:
        return add_pattern(s, PAT_LITERAL, arg, "-e #%u", ++s->n_e);
    case OPT_REGEX:
        return add_pattern(s, PAT_REGEX, arg, "-E #%u", ++s->n_E);
    case OPT_HEX:
        return add_pattern(s, PAT_HEX, arg, "-x #%u", ++s->n_x);
    case OPT_FILE:
        return add_pattern(s, PAT_FILE, arg, "-f #%u", ++s->n_f);
    case OPT_IGNORE_CASE:
        s->pattern_flags |= MG_PATTERN_CASELESS;
        return 0;
    case OPT_WIDE:
        s->pattern_flags |= MG_PATTERN_WIDE;
        return 0;
    case OPT_WORD:
        s->pattern_flags |= MG_PATTERN_WORD;
        return 0;
    case OPT_RULES:
        return add_pattern(s, PAT_RULES, arg, "-r #%u", ++s->n_r);
    case OPT_SKIP_UNSUPPORTED:
        s->skip_unsupported = true;
        return 0;
    case OPT_DEFINE:
        if (!strchr(arg, '=') || arg[0] == '=') {
            cli_usage_error("-d %s: expected NAME=VALUE", arg);
            return -1;
        }
        return add_pattern(s, PAT_DEFINE, arg, "-d #%u", ++s->n_d);
    case OPT_TAG:
        return add_pattern(s, PAT_TAG, arg, "-t #%u", 0);
    case OPT_IDENT:
        return add_pattern(s, PAT_IDENT, arg, "--identifier #%u", 0);
    case OPT_SHOW_PACK:
        s->show_pack = true;
        return 0;
    }
    return -1;
}

/* Positional arguments are literals, in their place among -e/-E/-x/-f. */
int cli_scan_positional(void *state, const char *arg)
{
    scan_state *s = state;
    return add_pattern(s, PAT_LITERAL, arg, "argument #%u", ++s->n_arg);
}

static void patterns_fini(void *state)
{
    scan_state *s = state;
    free(s->patterns);
    s->patterns = NULL;
    s->n_patterns = 0;
}

const cli_group cli_scan_patterns_group = {
    .title = "Patterns (ids follow command-line order)",
    .opts = pattern_opts,
    .fini = patterns_fini,
    .parse = patterns_parse,
};

enum {
    OPT_CONTEXT,
    OPT_MAX_COUNT,
    OPT_COUNT,
    OPT_LIST,
    OPT_LINE_BUFFERED,
};

/* "default 32, max 4096": the engine's default, the one limit. */
static const char *context_range(char *buf, size_t size)
{
    mg_settings set;
    mg_default_settings(&set);
    snprintf(buf, size, "default %zu, max %u", set.context, MG_MAX_CONTEXT);
    return buf;
}

static const cli_opt match_opts[] = {
    {OPT_CONTEXT, 'C', "context", "N",
     "bytes of context each side of a match\n"
     "(%s; 0: the match alone)",
     context_range},
    {OPT_MAX_COUNT, 'm', "max-count", "N", "stop after N matches per pattern per process", NULL},
    {OPT_COUNT, 'c', "count", NULL, "per process: PID COMM COUNT", NULL},
    {OPT_LIST, 'l', "list", NULL, "per matching process: PID COMM", NULL},
    {OPT_LINE_BUFFERED, 0, "line-buffered", NULL,
     "text: write each record out as it is found (JSON\nand -o FILE always are)", NULL},
    {0},
};

static int matches_parse(void *state, int id, const char *arg)
{
    scan_state *s = state;
    uint64_t v;
    switch (id) {
    case OPT_CONTEXT:
        if (cli_parse_number("--context", arg, 0, MG_MAX_CONTEXT, &v) < 0)
            return -1;
        s->engine.settings.context = (size_t)v;
        return 0;
    case OPT_MAX_COUNT:
        /* 0 would mean "no limit" to the engine, not "none" as in grep. */
        return cli_parse_number("--max-count", arg, 1, UINT64_MAX, &s->engine.settings.max_count);
    case OPT_COUNT:
        s->count = true;
        return 0;
    case OPT_LIST:
        s->list = true;
        return 0;
    case OPT_LINE_BUFFERED:
        s->line_buffered = true;
        return 0;
    }
    return -1;
}

const cli_group cli_scan_matches_group = {
    .title = "Matches",
    .opts = match_opts,
    .parse = matches_parse,
};
