/* opts.c - the getopt_long wrapper, the shared option groups (targets,
 * output, engine) and strict number parsing. */
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "commands.h"
#include "parse.h"

/* Options of all the groups of one command, and -h/-V. */
#define MAX_OPTIONS 128

/* Help layout: options from column 2, their text from column 26. */
#define HELP_COLUMN 26

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

/* strtoull accepts leading blanks, '+' and '-' (wrapping "-1" to a huge
 * number): demand a digit first and the whole string consumed. */
static int parse_u64(const char *s, uint64_t *out, const char **end)
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
    if (parse_u64(s, out, &end) < 0 || *end || *out < min || *out > max) {
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

static const cli_opt targets_opts[] = {
    {OPT_PID, 'p', "pid", "PID[,PID...]", "scan these processes (repeatable); default: all", NULL},
    {OPT_CONTAINER, 0, "container", "ID",
     "only processes of the container whose id starts with\n"
     "ID (%s hex digits; docker, containerd, cri-o,\n"
     "podman, kubepods: see 'memgrep ps')",
     container_prefix_range},
    {OPT_CGROUP, 0, "cgroup", "PREFIX",
     "only processes whose cgroup is PREFIX or below it\n"
     "(/system.slice selects /system.slice/x.scope)",
     NULL},
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
        if (parse_u64(buf, &v, &end) < 0 || *end || v == 0 || v > INT_MAX)
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
};

static const cli_opt output_opts[] = {
    {OPT_OUTPUT, 'o', "output", "FILE",
     "results to FILE (mode 0600), each as it is found;\n"
     "'-': stdout; a symbolic link there is refused",
     NULL},
    {OPT_QUIET, 'q', "quiet", NULL, "print nothing, stop at the first match", NULL},
    {OPT_JSON, 0, "json", NULL, "JSON Lines on stdout (or -o FILE)", NULL},
    {OPT_COLOR, 0, "color", "=auto|always|never", "colour (default auto: on a terminal)", NULL},
    {OPT_COLOR, 0, "colour", "=auto|always|never", NULL, NULL},
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
        if (!strcmp(arg, "auto"))
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

/* ------------------------------------------------------------------ */
/* Engine                                                              */
/* ------------------------------------------------------------------ */

enum {
    OPT_THREADS,
    OPT_INCLUDE_NOREAD,
    OPT_MEM_READER,
    OPT_CHUNK_SIZE,
    OPT_NO_DEDUPE,
    OPT_DB_CACHE,
    OPT_NO_DB_CACHE,
    OPT_MAX_RATE,
    OPT_TIMEOUT,
    OPT_PROCESS_TIMEOUT,
    OPT_IDLE,
    OPT_NICE,
    OPT_GENTLE,
};

#define NICE_MIN (-20)
#define NICE_MAX 19

static const char *threads_max(char *buf, size_t size)
{
    snprintf(buf, size, "%u", MG_MAX_THREADS);
    return buf;
}

/* The --chunk-size bounds, as help and errors state them. */
static const char *chunk_size_range(char *buf, size_t size)
{
    char max[32];
    snprintf(buf, size, "a multiple of the page size (%zu) up to %s", mg_page_size(),
             cli_format_size(MG_MAX_CHUNK_SIZE, max, sizeof(max)));
    return buf;
}

static const char *chunk_size_help(char *buf, size_t size)
{
    char range[128], def[32];
    snprintf(buf, size, "%s,\ndefault %s", chunk_size_range(range, sizeof(range)),
             cli_format_size(MG_DEFAULT_CHUNK_SIZE, def, sizeof(def)));
    return buf;
}

/* --gentle's help, from the preset's one home (opts.h). 64 MiB/s: copying
 * it costs about 2% of one core (process_vm_readv moves 3-4 GiB/s here,
 * docs/design.md), the memory bandwidth taken is noise, and 16 GiB of
 * resident memory is still swept in under 5 minutes. */
static const char *gentle_preset(char *buf, size_t size)
{
    char rate[32];
    snprintf(buf, size, "-j %u, --idle,\n--nice %d, --max-rate %s (about 2%% of a core)",
             CLI_GENTLE_THREADS, CLI_GENTLE_NICE,
             cli_format_size(CLI_GENTLE_MAX_RATE, rate, sizeof(rate)));
    return buf;
}

static const cli_opt engine_opts[] = {
    {OPT_THREADS, 'j', "threads", "N", "worker threads (0: one per CPU; max %s)", threads_max},
    {OPT_INCLUDE_NOREAD, 0, "include-noread", NULL,
     "also scan present pages of mappings without read\npermission", NULL},
    {OPT_MEM_READER, 0, "mem-reader", "=auto|io_uring|pread",
     "reader for pages that must not be pinned", NULL},
    {OPT_CHUNK_SIZE, 0, "chunk-size", "BYTES", "target memory per work unit (K/M/G suffix):\n%s",
     chunk_size_help},
    {OPT_NO_DEDUPE, 0, "no-dedupe", NULL,
     "scan memory shared between processes in each of them\n"
     "(default: once per sweep, results given to each)",
     NULL},
    {OPT_DB_CACHE, 0, "db-cache", "DIR",
     "keep compiled pattern databases in DIR\n"
     "(default: /var/cache/memgrep for root, else\n"
     "$XDG_CACHE_HOME/memgrep or ~/.cache/memgrep); used\n"
     "only if owned by you or root, writable by no one else",
     NULL},
    {OPT_NO_DB_CACHE, 0, "no-db-cache", NULL, "always compile the patterns", NULL},
    {OPT_MAX_RATE, 0, "max-rate", "RATE",
     "read at most RATE bytes a second from the targets,\n"
     "all workers together; K/M/G suffix, binary (1K is\n"
     "1024); 0: no limit (default). Caps reads, not matching",
     NULL},
    {OPT_TIMEOUT, 0, "timeout", "DURATION",
     "stop the sweep after DURATION (500ms, 1.5, 30s, 2m,\n"
     "1h; a bare number is seconds): the summary says\n"
     "incomplete, exit status 3; 0: none",
     NULL},
    {OPT_PROCESS_TIMEOUT, 0, "process-timeout", "DURATION",
     "leave a process DURATION after its first read, with\n"
     "a 'timeout' event for it; 0: none",
     NULL},
    {OPT_IDLE, 0, "idle", NULL,
     "run only when a CPU is otherwise idle (SCHED_IDLE)\n"
     "and in the idle I/O class",
     NULL},
    {OPT_NICE, 0, "nice", "N", "nice value, -20..19 (below 0: root only)", NULL},
    {OPT_GENTLE, 0, "gentle", NULL,
     "preset for busy production hosts: %s;\n"
     "-j, --max-rate and --nice given too win over it",
     gentle_preset},
    {0},
};

static void engine_init(void *state)
{
    cli_engine *e = state;
    mg_default_settings(&e->settings);
    e->db_cache = true;
}

/* A value accepted here is one mg_scan accepts: the bounds are the
 * engine's (memgrep.h "Limits"). */
static int parse_chunk_size(const char *s, size_t *out)
{
    uint64_t v;
    if (cli_parse_size("--chunk-size", s, &v) < 0)
        return -1;
    uint64_t page = mg_page_size();
    if (v < page || v > MG_MAX_CHUNK_SIZE || v % page) {
        char range[128];
        cli_usage_error("invalid value '%s' for --chunk-size: expected %s", s,
                        chunk_size_range(range, sizeof(range)));
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int parse_nice(const char *s, int *out, bool *set)
{
    uint64_t v;
    const char *end;
    bool neg = s[0] == '-';
    if (parse_u64(s + neg, &v, &end) < 0 || *end || v > (neg ? -NICE_MIN : NICE_MAX)) {
        cli_usage_error("invalid value '%s' for --nice: expected a number from %d to %d", s,
                        NICE_MIN, NICE_MAX);
        return -1;
    }
    *out = neg ? -(int)v : (int)v;
    *set = true;
    return 0;
}

static int engine_parse(void *state, int id, const char *arg)
{
    cli_engine *e = state;
    uint64_t v;
    switch (id) {
    case OPT_THREADS:
        if (cli_parse_number("--threads", arg, 0, MG_MAX_THREADS, &v) < 0)
            return -1;
        e->settings.threads = (unsigned)v;
        e->threads_set = true;
        return 0;
    case OPT_MAX_RATE:
        if (cli_parse_size("--max-rate", arg, &e->settings.max_rate) < 0)
            return -1;
        e->rate_set = true;
        return 0;
    case OPT_TIMEOUT:
        return cli_parse_duration("--timeout", arg, &e->settings.timeout);
    case OPT_PROCESS_TIMEOUT:
        return cli_parse_duration("--process-timeout", arg, &e->settings.process_timeout);
    case OPT_IDLE:
        e->idle = true;
        return 0;
    case OPT_NICE:
        return parse_nice(arg, &e->nice, &e->nice_set);
    case OPT_GENTLE:
        e->gentle = true;
        return 0;
    case OPT_INCLUDE_NOREAD:
        e->settings.include_noread = true;
        return 0;
    case OPT_MEM_READER:
        if (!strcmp(arg, "auto"))
            e->settings.mem_reader = MG_MEM_READER_AUTO;
        else if (!strcmp(arg, "io_uring"))
            e->settings.mem_reader = MG_MEM_READER_URING;
        else if (!strcmp(arg, "pread"))
            e->settings.mem_reader = MG_MEM_READER_PREAD;
        else {
            cli_usage_error("invalid value '%s' for --mem-reader: expected auto, io_uring or pread",
                            arg);
            return -1;
        }
        return 0;
    case OPT_CHUNK_SIZE:
        return parse_chunk_size(arg, &e->settings.chunk_size);
    case OPT_NO_DEDUPE:
        e->settings.dedupe = false;
        return 0;
    case OPT_DB_CACHE:
        if (!arg[0]) {
            cli_usage_error("--db-cache: empty directory name" CLI_TRY_HELP);
            return -1;
        }
        e->db_cache_dir = arg;
        e->db_cache = true;
        return 0;
    case OPT_NO_DB_CACHE:
        e->db_cache = false;
        return 0;
    }
    return -1;
}

const cli_group cli_engine_group = {
    .title = "Engine",
    .opts = engine_opts,
    .init = engine_init,
    .parse = engine_parse,
};

void cli_engine_settings(const cli_engine *e, mg_settings *out)
{
    *out = e->settings;
    if (e->gentle && !e->threads_set)
        out->threads = CLI_GENTLE_THREADS;
    if (e->gentle && !e->rate_set)
        out->max_rate = CLI_GENTLE_MAX_RATE;
}

/* <linux/ioprio.h> is not in every libc's headers: the ABI values. */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13

int cli_engine_apply_priority(const cli_engine *e)
{
    /* Each call acts on the calling thread (pid 0): every thread memgrep
     * creates afterwards inherits it. */
    if (e->nice_set || e->gentle) {
        int nice = e->nice_set ? e->nice : CLI_GENTLE_NICE;
        if (setpriority(PRIO_PROCESS, 0, nice) < 0) {
            cli_usage_error("--nice %d: %s", nice, strerror(errno));
            return -1;
        }
    }
    if (e->idle || e->gentle) {
        struct sched_param sp = {.sched_priority = 0};
        const char *what = "SCHED_IDLE";
        int rc = sched_setscheduler(0, SCHED_IDLE, &sp);
        if (rc == 0) {
            what = "the idle I/O class";
            rc = (int)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
                              IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
        }
        if (rc < 0) {
            cli_usage_error("%s: cannot switch to %s: %s", e->idle ? "--idle" : "--gentle", what,
                            strerror(errno));
            return -1;
        }
    }
    return 0;
}

const char *cli_engine_db_cache_dir(const cli_engine *e, char *buf, size_t size)
{
    if (!e->db_cache)
        return NULL;
    if (e->db_cache_dir)
        return e->db_cache_dir;
    if (geteuid() == 0)
        return "/var/cache/memgrep";
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(buf, size, "%s/memgrep", xdg);
    else if (home && home[0] == '/')
        snprintf(buf, size, "%s/.cache/memgrep", home);
    else
        return NULL;
    return buf;
}

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
        t->longs[t->n] =
            (struct option){o->name, o->arg ? required_argument : no_argument, NULL, val};
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
        snprintf(head + n, sizeof(head) - (size_t)n, "%s%s", o->arg[0] == '=' ? "" : " ", o->arg);
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
