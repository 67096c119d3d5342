/* optparse.c - the getopt_long wrapper over a command's option groups, and
 * the help that is printed from the same tables. */
#include "opts.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"

/* Options of all the groups of one command, and -h/-V. */
#define MAX_OPTIONS 128

/* Help layout: options from column 2, their text from column 26. */
#define HELP_COLUMN 26

/* ------------------------------------------------------------------ */
/* Every command: -h, -V                                               */
/* ------------------------------------------------------------------ */

enum {
    OPT_HELP,
    OPT_VERSION
};

static const cli_opt common_opts[] = {
    {OPT_HELP, 'h', "help", NULL, "this help", NULL},
    {OPT_VERSION, 'V', "version", NULL, "version", NULL},
    {0},
};

/* Its state is the parse result. */
static int common_parse(void *state, int id, const char *arg)
{
    (void)arg;
    *(int *)state = id == OPT_HELP ? CLI_PARSED_HELP : CLI_PARSED_VERSION;
    return 0;
}

static const cli_group common_group = {
    .opts = common_opts,
    .parse = common_parse,
};

/* ------------------------------------------------------------------ */
/* The wrapper                                                         */
/* ------------------------------------------------------------------ */

/* Where each getopt_long code goes. Long options return 256 + their index
 * here; short ones their letter, mapped through short_index. */
typedef struct opt_table {
    struct option longs[MAX_OPTIONS + 1];
    const cli_opt *opt[MAX_OPTIONS];
    const cli_group *group[MAX_OPTIONS];
    void *state[MAX_OPTIONS];
    int short_index[256];
    /* Leading '-': non-options come back in order as code 1, so positional
     * arguments keep their place among options (patterns: -e/-E/-x/-f).
     * Then ':': a missing argument is reported as ':' and we print the
     * message ourselves (one line). */
    char shorts[2 + 2 * MAX_OPTIONS + 1];
    size_t n;
} opt_table;

/* A clash between two groups is a bug of the table: caught by any run. */
static void table_bug(const char *what, const char *name)
{
    fprintf(stderr, "memgrep: internal error: option table: %s '%s'\n", what, name);
    abort();
}

static void table_add_group(opt_table *t, const cli_group *g, void *state)
{
    for (const cli_opt *o = g->opts; o->name; o++) {
        if (t->n == MAX_OPTIONS)
            table_bug("too many options at", o->name);
        for (size_t i = 0; i < t->n; i++)
            if (!strcmp(t->longs[i].name, o->name))
                table_bug("two options named", o->name);
        /* An alias (same group, same id) shares the code, so that getopt
         * does not call an abbreviation of both (--col) ambiguous. */
        int val = 256 + (int)t->n;
        for (size_t i = 0; i < t->n; i++)
            if (t->group[i] == g && t->opt[i]->id == o->id)
                val = t->longs[i].val;
        /* "[=WHEN]": the value is optional, given only as --name=WHEN */
        int has_arg = !o->arg            ? no_argument
                      : o->arg[0] == '[' ? optional_argument
                                         : required_argument;
        t->longs[t->n] = (struct option){o->name, has_arg, NULL, val};
        t->opt[t->n] = o;
        t->group[t->n] = g;
        t->state[t->n] = state;
        if (o->short_name) {
            if (t->short_index[o->short_name] >= 0)
                table_bug("two options -", (char[]){(char)o->short_name, 0});
            t->short_index[o->short_name] = (int)t->n;
            size_t len = strlen(t->shorts);
            t->shorts[len++] = (char)o->short_name;
            if (o->arg)
                t->shorts[len++] = ':';
            t->shorts[len] = '\0';
        }
        t->n++;
    }
}

/* The text the user typed for the option getopt just complained about. */
static const char *option_name(char *const *argv, int idx, char *buf, size_t size)
{
    if (optopt > 0 && optopt < 256 && strncmp(argv[idx], "--", 2))
        snprintf(buf, size, "-%c", optopt);
    else
        snprintf(buf, size, "%s", argv[idx]);
    return buf;
}

/* Whether "--ab" or "--ab=x" abbreviates more than one option (getopt_long
 * says only '?' for that too); if so, their names in buf: "--abc, --abd"
 * (aliases once). */
static bool ambiguous(const opt_table *t, const char *arg, char *buf, size_t size)
{
    if (strncmp(arg, "--", 2))
        return false;
    const char *s = arg + 2;
    size_t len = strcspn(s, "="), n = 0, off = 0;
    buf[0] = '\0';
    for (size_t i = 0; len && i < t->n; i++) {
        if (strncmp(t->longs[i].name, s, len))
            continue;
        if (!t->longs[i].name[len])
            return false; /* an exact match */
        bool alias = false;
        for (size_t j = 0; j < i; j++)
            alias |= t->longs[j].val == t->longs[i].val;
        if (alias)
            continue;
        n++;
        if (off < size)
            off += (size_t)snprintf(buf + off, size - off, "%s--%s", n > 1 ? ", " : "",
                                    t->longs[i].name);
    }
    return n > 1;
}

/* "--jsno": the long option it is a typo of, as "--json", into buf. */
static bool suggest(const opt_table *t, const char *arg, char *buf, size_t size)
{
    if (strncmp(arg, "--", 2))
        return false;
    const char *names[MAX_OPTIONS];
    for (size_t i = 0; i < t->n; i++)
        names[i] = t->longs[i].name;
    const char *s = arg + 2;
    const char *name = cli_did_you_mean(s, strcspn(s, "="), names, t->n);
    if (name)
        snprintf(buf, size, "--%s", name);
    return name;
}

static int positional(const cli_parse_spec *spec, void *state, const char *arg)
{
    if (spec->positional)
        return spec->positional(state, arg);
    cli_usage_error("unexpected argument '%s' to %s" CLI_TRY_HELP, arg, spec->command);
    return -1;
}

int cli_parse_options(const cli_parse_spec *spec, int argc, char **argv, void *state)
{
    opt_table t;
    int result = CLI_PARSED;
    memset(&t, 0, sizeof(t));
    memset(t.short_index, -1, sizeof(t.short_index));
    strcpy(t.shorts, "-:");
    for (size_t i = 0; i < spec->n_groups; i++)
        table_add_group(&t, spec->groups[i].group, (char *)state + spec->groups[i].offset);
    table_add_group(&t, &common_group, &result);

    char name[64];
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, t.shorts, t.longs, NULL)) != -1) {
        int i = c >= 256 && c < 256 + (int)t.n ? c - 256 : c > 0 && c < 256 ? t.short_index[c] : -1;
        if (c == 1) {
            if (positional(spec, state, optarg) < 0)
                return -1;
        } else if (i >= 0) {
            if (t.group[i]->parse(t.state[i], t.opt[i]->id, t.opt[i]->arg ? optarg : NULL) < 0)
                return -1;
        } else if (c == ':') {
            cli_usage_error("option '%s' requires an argument" CLI_TRY_HELP,
                            option_name(argv, optind - 1, name, sizeof(name)));
            return -1;
        } else {
            char which[512];
            option_name(argv, optind - 1, name, sizeof(name));
            if (ambiguous(&t, name, which, sizeof(which)))
                cli_usage_error("ambiguous option '%s': could be %s" CLI_TRY_HELP, name, which);
            else if (suggest(&t, name, which, sizeof(which)))
                cli_usage_error("unknown option '%s': did you mean '%s'?" CLI_TRY_HELP, name,
                                which);
            else if (!strncmp(name, "--", 2) && strchr(name, '=')) /* --json=1 */
                cli_usage_error("unknown option, or option that takes no value: '%s'" CLI_TRY_HELP,
                                name);
            else
                cli_usage_error("unknown option '%s'" CLI_TRY_HELP, name);
            return -1;
        }
    }
    /* After "--": arguments that may start with '-'. */
    for (; optind < argc; optind++)
        if (positional(spec, state, argv[optind]) < 0)
            return -1;
    return result;
}

/* ------------------------------------------------------------------ */
/* Help                                                                */
/* ------------------------------------------------------------------ */

static void print_opt(FILE *f, const cli_opt *o)
{
    char head[128], value[128], text[512];
    int n = o->short_name ? snprintf(head, sizeof(head), "  -%c, --%s", o->short_name, o->name)
                          : snprintf(head, sizeof(head), "      --%s", o->name);
    if (o->arg)
        snprintf(head + n, sizeof(head) - (size_t)n, "%s%s", strchr("=[", o->arg[0]) ? "" : " ",
                 o->arg);
    const char *help = o->help;
    if (o->help_value) {
        snprintf(text, sizeof(text), o->help, o->help_value(value, sizeof(value)));
        help = text;
    }
    /* The text from HELP_COLUMN, on the next line when the head is too wide. */
    int len = (int)strlen(head);
    if (len > HELP_COLUMN - 2)
        fprintf(f, "%s\n%*s", head, HELP_COLUMN, "");
    else
        fprintf(f, "%s%*s", head, HELP_COLUMN - len, "");
    for (const char *s = help;;) {
        size_t line = strcspn(s, "\n");
        fprintf(f, "%.*s\n", (int)line, s);
        if (!s[line])
            break;
        s += line + 1;
        fprintf(f, "%*s", HELP_COLUMN, "");
    }
}

static void print_group(FILE *f, const cli_group *g)
{
    for (const cli_opt *o = g->opts; o->name; o++)
        if (o->help)
            print_opt(f, o);
}

void cli_print_options(FILE *f, const cli_binding *groups, size_t n_groups)
{
    for (size_t i = 0; i < n_groups; i++) {
        fprintf(f, "%s:\n", groups[i].group->title);
        print_group(f, groups[i].group);
        fputc('\n', f);
    }
    print_group(f, &common_group);
}
