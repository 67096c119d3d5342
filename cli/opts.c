/* opts.c - strict number parsing and the shared option groups targets and
 * output (engine: opts_engine.c; the getopt_long wrapper and the help:
 * optparse.c). */
#include "opts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "messages.h"
#include "parse.h"

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

/* strtoull accepts leading blanks, '+' and '-' (wrapping "-1" to a huge
 * number): demand a digit first and the whole string consumed. */
int cli_parse_u64(const char *s, uint64_t *out, const char **end)
{
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    char *e;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    *end = e;
    return 0;
}

int cli_parse_number(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *end;
    if (cli_parse_u64(s, out, &end) < 0 || *end || *out < min || *out > max) {
        if (max == UINT64_MAX)
            cli_usage_error("invalid value '%s' for %s: expected a number of at least %llu", s, opt,
                            (unsigned long long)min);
        else
            cli_usage_error("invalid value '%s' for %s: expected a number from %llu to %llu", s,
                            opt, (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    return 0;
}

static const char size_suffixes[] = "KMG";

int cli_parse_size(const char *opt, const char *s, uint64_t *out)
{
    if (mg_cli_parse_size(s, out) == 0)
        return 0;
    cli_usage_error("invalid size '%s' for %s: expected bytes with an optional K, M or G suffix", s,
                    opt);
    return -1;
}

int cli_parse_duration(const char *opt, const char *s, double *out)
{
    if (mg_cli_parse_duration(s, out) == 0)
        return 0;
    cli_usage_error("invalid duration '%s' for %s: expected a number of seconds, optionally "
                    "with a unit ms, s, m or h (500ms, 1.5, 30s, 2m, 1h)",
                    s, opt);
    return -1;
}

const char *cli_format_size(uint64_t v, char *buf, size_t size)
{
    int i = 0;
    while (i < (int)sizeof(size_suffixes) - 1 && v && !(v & 1023)) {
        v >>= 10;
        i++;
    }
    if (i)
        snprintf(buf, size, "%llu%c", (unsigned long long)v, size_suffixes[i - 1]);
    else
        snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Targets                                                             */
/* ------------------------------------------------------------------ */

enum {
    OPT_PID,
    OPT_CONTAINER,
    OPT_CGROUP,
};

/* The shortest --container prefix (docker takes any unique prefix; fewer
 * than 4 hex digits select too much by accident). */
#define MIN_CONTAINER_PREFIX 4

static const char *container_prefix_range(char *buf, size_t size)
{
    snprintf(buf, size, "%d-%u", MIN_CONTAINER_PREFIX, MG_CONTAINER_ID_LEN);
    return buf;
}

/* --container and --cgroup, the same for every command. */
#define CONTAINER_HELP                                                                             \
    "only processes of the container whose id starts with\n"                                       \
    "ID (%s hex digits; docker, containerd, cri-o,\n"                                              \
    "podman, kubepods: see 'memgrep ps')"
#define CGROUP_HELP                                                                                \
    "only processes whose cgroup is PREFIX or below it\n"                                          \
    "(/system.slice selects /system.slice/x.scope)"

static const cli_opt targets_opts[] = {
    {OPT_PID, 'p', "pid", "PID[,PID...]", "scan these processes (repeatable); default: all", NULL},
    {OPT_CONTAINER, 0, "container", "ID", CONTAINER_HELP, container_prefix_range},
    {OPT_CGROUP, 0, "cgroup", "PREFIX", CGROUP_HELP, NULL},
    {0},
};

static const cli_opt list_targets_opts[] = {
    {OPT_PID, 'p', "pid", "PID[,PID...]", "list these processes (repeatable); default: all", NULL},
    {OPT_CONTAINER, 0, "container", "ID", CONTAINER_HELP, container_prefix_range},
    {OPT_CGROUP, 0, "cgroup", "PREFIX", CGROUP_HELP, NULL},
    {0},
};

static const cli_opt one_target_opts[] = {
    {OPT_PID, 'p', "pid", "PID",
     "the process (one), as the PID argument; with\n"
     "--container or --cgroup and no PID: the one\n"
     "process they select",
     NULL},
    {OPT_CONTAINER, 0, "container", "ID", CONTAINER_HELP, container_prefix_range},
    {OPT_CGROUP, 0, "cgroup", "PREFIX", CGROUP_HELP, NULL},
    {0},
};

static int parse_container(cli_targets *t, const char *arg)
{
    size_t n = strlen(arg);
    size_t hex = strspn(arg, "0123456789abcdefABCDEF");
    if (n < MIN_CONTAINER_PREFIX || n > MG_CONTAINER_ID_LEN || hex != n) {
        char range[32];
        cli_usage_error("invalid container id '%s' (from --container): expected %s hex digits", arg,
                        container_prefix_range(range, sizeof(range)));
        return -1;
    }
    t->container = arg;
    return 0;
}

static int add_pid(cli_targets *t, pid_t pid)
{
    for (size_t i = 0; i < t->n_pids; i++)
        if (t->pids[i] == pid)
            return 0; /* -p 1,1: scan once */
    pid_t *n = realloc(t->pids, (t->n_pids + 1) * sizeof(*n));
    if (!n) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    t->pids = n;
    t->pids[t->n_pids++] = pid;
    return 0;
}

/* "-p 12,34 -p 56", "-p '12 34'" (pidof's output), "12, 34": numbers >
 * 0 separated by commas and blanks; that each names a process other than
 * memgrep is checked by mg_scan before it scans anything. */
static int parse_pid_list(cli_targets *t, const char *arg)
{
    const char *s = arg + strspn(arg, " \t");
    for (;;) {
        size_t n = strcspn(s, ", \t");
        char buf[32];
        uint64_t v;
        const char *end;
        if (n == 0 || n >= sizeof(buf))
            goto bad;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (cli_parse_u64(buf, &v, &end) < 0 || *end || v == 0 || v > INT_MAX)
            goto bad;
        if (add_pid(t, (pid_t)v) < 0)
            return -1;
        s += n;
        s += strspn(s, " \t");
        if (*s == ',')
            s += 1 + strspn(s + 1, " \t");
        else if (!*s)
            return 0;
        continue;
    bad:
        cli_usage_error("invalid pid '%.*s' (from -p %s)", (int)n, s, arg);
        return -1;
    }
}

static int targets_parse(void *state, int id, const char *arg)
{
    cli_targets *t = state;
    switch (id) {
    case OPT_PID:
        return parse_pid_list(t, arg);
    case OPT_CONTAINER:
        return parse_container(t, arg);
    case OPT_CGROUP:
        if (arg[0] != '/') {
            cli_usage_error("invalid cgroup '%s' (from --cgroup): expected a path starting "
                            "with '/', as in /proc/PID/cgroup",
                            arg);
            return -1;
        }
        t->cgroup = arg;
        return 0;
    }
    return -1;
}

bool cli_targets_filtered(const cli_targets *t)
{
    return t->container || t->cgroup;
}

int cli_targets_check(const cli_targets *t)
{
    for (size_t i = 0; i < t->n_pids; i++) {
        /* Its maps only: the checks of a target (mg_regions_get), and
         * nothing of the process read, unlike mg_proc_get's cmdline. */
        mg_region_info *regions = NULL;
        size_t n;
        mg_error err = {{0}};
        int r = mg_regions_get(t->pids[i], MG_REGIONS_NO_RESIDENT, &regions, &n, &err);
        mg_regions_free(&regions);
        /* Other failures (permission) are the sweep's to count. */
        if (r == MG_EBADPID || r == -ESRCH) {
            cli_usage_error("%s (from -p)", err.message);
            return -1;
        }
    }
    return 0;
}

static void targets_fini(void *state)
{
    cli_targets *t = state;
    free(t->pids);
    t->pids = NULL;
    t->n_pids = 0;
}

const cli_group cli_targets_group = {
    .title = "Targets",
    .opts = targets_opts,
    .fini = targets_fini,
    .parse = targets_parse,
};

const cli_group cli_list_targets_group = {
    .title = "Targets",
    .opts = list_targets_opts,
    .fini = targets_fini,
    .parse = targets_parse,
};

const cli_group cli_one_target_group = {
    .title = "Target",
    .opts = one_target_opts,
    .fini = targets_fini,
    .parse = targets_parse,
};

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

enum {
    OPT_QUIET,
    OPT_JSON,
    OPT_COLOR,
    OPT_NO_SUMMARY,
    OPT_NO_PROGRESS,
    OPT_OUTPUT,
    OPT_NO_MESSAGES,
};

static const cli_opt output_opts[] = {
    {OPT_OUTPUT, 'o', "output", "FILE",
     "results to FILE (mode 0600), each as it is found;\n"
     "'-': stdout; a symbolic link there is refused",
     NULL},
    {OPT_QUIET, 'q', "quiet", NULL, "print nothing, stop at the first match", NULL},
    {OPT_NO_MESSAGES, 's', "no-messages", NULL,
     "no warnings about processes that cannot be read\n"
     "and no note about the hunt pack, as grep's -s\n"
     "(--json still has a record of each)",
     NULL},
    {OPT_JSON, 0, "json", NULL, "JSON Lines on stdout (or -o FILE)", NULL},
    {OPT_COLOR, 0, "color", "[=auto|always|never]",
     "colour (default, and --color alone: auto, on a\n"
     "terminal)",
     NULL},
    {OPT_COLOR, 0, "colour", "[=auto|always|never]", NULL, NULL},
    {OPT_NO_SUMMARY, 0, "no-summary", NULL, "no statistics at the end", NULL},
    {OPT_NO_PROGRESS, 0, "no-progress", NULL, "no progress line on a terminal (stderr)", NULL},
    {0},
};

static void output_init(void *state)
{
    cli_output *o = state;
    o->summary = true;
    o->progress = true;
}

static int output_parse(void *state, int id, const char *arg)
{
    cli_output *o = state;
    switch (id) {
    case OPT_QUIET:
        o->quiet = true;
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_COLOR:
        if (!arg || !strcmp(arg, "auto")) /* --color alone: auto, as grep */
            o->color = CLI_COLOR_AUTO;
        else if (!strcmp(arg, "always"))
            o->color = CLI_COLOR_ALWAYS;
        else if (!strcmp(arg, "never"))
            o->color = CLI_COLOR_NEVER;
        else {
            cli_usage_error("invalid value '%s' for --color: expected auto, always or never", arg);
            return -1;
        }
        return 0;
    case OPT_NO_SUMMARY:
        o->summary = false;
        return 0;
    case OPT_NO_MESSAGES:
        o->no_messages = true;
        return 0;
    case OPT_NO_PROGRESS:
        o->progress = false;
        return 0;
    case OPT_OUTPUT:
        if (!arg[0]) {
            cli_usage_error("--output: empty file name" CLI_TRY_HELP);
            return -1;
        }
        o->file = strcmp(arg, "-") ? arg : NULL; /* "-": stdout */
        return 0;
    }
    return -1;
}

const cli_group cli_output_group = {
    .title = "Output",
    .opts = output_opts,
    .init = output_init,
    .parse = output_parse,
};

bool cli_output_color(const cli_output *o)
{
    if (o->json || o->color == CLI_COLOR_NEVER)
        return false;
    if (o->color == CLI_COLOR_ALWAYS)
        return true;
    const char *term = getenv("TERM");
    const char *no_color = getenv("NO_COLOR"); /* https://no-color.org */
    return !o->file && isatty(STDOUT_FILENO) && !(term && !strcmp(term, "dumb")) &&
           !(no_color && no_color[0]);
}
