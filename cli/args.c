/* args.c - memgrep command line parsing (getopt_long), strict numbers. */
#include "args.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_THREADS 1024u

/* Long-only options. */
enum {
    OPT_WIDE = 256,
    OPT_INCLUDE_NOREAD,
    OPT_JSON,
    OPT_COLOR,
    OPT_NO_SUMMARY,
    OPT_MEM_READER,
    OPT_CHUNK_SIZE,
    OPT_DB_CACHE,
    OPT_NO_DB_CACHE,
    OPT_NO_DEDUPE,
    OPT_NO_PROGRESS,
};

/* Leading '-': non-options come back in order as option 1, so positional
 * patterns keep their place among -e/-E/-x/-f. Then ':': a missing argument
 * is reported as ':' and we print the message ourselves (one line). */
static const char short_options[] = "-:e:E:x:f:ip:j:C:m:clqhV";

static const struct option long_options[] = {
    {"pattern", required_argument, NULL, 'e'},
    {"regex", required_argument, NULL, 'E'},
    {"hex", required_argument, NULL, 'x'},
    {"file", required_argument, NULL, 'f'},
    {"ignore-case", no_argument, NULL, 'i'},
    {"wide", no_argument, NULL, OPT_WIDE},
    {"pid", required_argument, NULL, 'p'},
    {"include-noread", no_argument, NULL, OPT_INCLUDE_NOREAD},
    {"threads", required_argument, NULL, 'j'},
    {"context", required_argument, NULL, 'C'},
    {"max-count", required_argument, NULL, 'm'},
    {"count", no_argument, NULL, 'c'},
    {"list", no_argument, NULL, 'l'},
    {"quiet", no_argument, NULL, 'q'},
    {"json", no_argument, NULL, OPT_JSON},
    {"color", required_argument, NULL, OPT_COLOR},
    {"colour", required_argument, NULL, OPT_COLOR},
    {"no-summary", no_argument, NULL, OPT_NO_SUMMARY},
    {"mem-reader", required_argument, NULL, OPT_MEM_READER},
    {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
    {"db-cache", required_argument, NULL, OPT_DB_CACHE},
    {"no-db-cache", no_argument, NULL, OPT_NO_DB_CACHE},
    {"no-dedupe", no_argument, NULL, OPT_NO_DEDUPE},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void cli_print_usage(FILE *f)
{
    fputs("usage: memgrep scan [OPTIONS] [PATTERN...]\n"
          "       memgrep help | --help | --version\n"
          "\n"
          "Search the memory of running processes. Positional PATTERNs are literals;\n"
          "with no pattern at all the built-in Linux hunt pack is used.\n"
          "\n"
          "Patterns (ids follow command-line order):\n"
          "  -e, --pattern PAT       literal pattern (repeatable)\n"
          "  -E, --regex PAT         regular expression, Hyperscan syntax (repeatable)\n"
          "  -x, --hex PAT           hex bytes, '?\?' is any byte: '4d 5a ?\? 00' (repeatable)\n"
          "  -f, --file FILE         pattern list: literal, 're:REGEX' or 'hex:BYTES' per\n"
          "                          line, '#' starts a comment line\n"
          "  -i, --ignore-case       ASCII case-insensitive (all patterns)\n"
          "      --wide              also match the UTF-16LE form (all patterns)\n"
          "\n"
          "Targets:\n"
          "  -p, --pid PID[,PID...]  scan these processes (repeatable); default: all\n"
          "      --include-noread    also scan present pages of mappings without read\n"
          "                          permission\n"
          "\n"
          "Scanning:\n"
          "  -j, --threads N         worker threads (0: one per CPU)\n"
          "  -C, --context N         bytes of context each side of a match (max 4096)\n"
          "  -m, --max-count N       stop after N matches per pattern per process\n"
          "      --mem-reader=auto|io_uring|pread\n"
          "                          reader for pages that must not be pinned\n"
          "      --chunk-size BYTES  target memory per work unit (K/M/G suffix)\n"
          "      --no-dedupe         scan memory shared between processes in each of them\n"
          "                          (default: once per sweep, results given to each)\n"
          "      --db-cache DIR      keep compiled pattern databases in DIR\n"
          "                          (default: /var/cache/memgrep for root, else\n"
          "                          $XDG_CACHE_HOME/memgrep or ~/.cache/memgrep); used\n"
          "                          only if owned by you or root, writable by no one else\n"
          "      --no-db-cache       always compile the patterns\n"
          "\n"
          "Output:\n"
          "  -c, --count             per process: PID COMM COUNT\n"
          "  -l, --list              per matching process: PID COMM\n"
          "  -q, --quiet             print nothing, stop at the first match\n"
          "      --json              JSON Lines on stdout\n"
          "      --color=auto|always|never\n"
          "      --no-summary        no statistics at the end\n"
          "      --no-progress       no progress line on a terminal (stderr)\n"
          "  -h, --help              this help\n"
          "  -V, --version           version\n"
          "\n"
          "Exit status: 0 a match was found, 1 no match, 2 error.\n",
          f);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Every usage error is one line, so scripts can show it as is. */
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("memgrep: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define TRY_HELP " (try 'memgrep --help')"

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

static int parse_number(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *end;
    if (parse_u64(s, out, &end) < 0 || *end || *out < min || *out > max) {
        if (max == UINT64_MAX)
            usage_error("invalid value '%s' for %s: expected a number of at least %llu", s, opt,
                        (unsigned long long)min);
        else
            usage_error("invalid value '%s' for %s: expected a number from %llu to %llu", s, opt,
                        (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    return 0;
}

/* Bytes with an optional binary suffix: 65536, 64K, 1M, 1G. */
static int parse_size(const char *opt, const char *s, uint64_t *out)
{
    const char *end;
    if (parse_u64(s, out, &end) < 0)
        goto bad;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        goto bad;
    }
    if (*end && end[1])
        goto bad;
    if (*out > (UINT64_MAX >> shift))
        goto bad;
    *out <<= shift;
    return 0;
bad:
    usage_error("invalid size '%s' for %s: expected bytes with an optional K, M or G suffix", s,
                opt);
    return -1;
}

static int parse_chunk_size(const char *s, size_t *out)
{
    uint64_t v;
    if (parse_size("--chunk-size", s, &v) < 0)
        return -1;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    if (v < (uint64_t)page || v > MG_MAX_CHUNK_SIZE || v % (uint64_t)page) {
        usage_error("invalid value '%s' for --chunk-size: expected a multiple of the page "
                    "size (%ld) up to 1G",
                    s, page);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int add_pid(cli_options *o, pid_t pid)
{
    for (size_t i = 0; i < o->n_pids; i++)
        if (o->pids[i] == pid)
            return 0; /* -p 1,1: scan once */
    pid_t *n = realloc(o->pids, (o->n_pids + 1) * sizeof(*n));
    if (!n) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    o->pids = n;
    o->pids[o->n_pids++] = pid;
    return 0;
}

/* "-p 12,34 -p 56": each element a number > 0; that each names a process
 * other than memgrep is checked by mg_scan before it scans anything. */
static int parse_pid_list(cli_options *o, const char *arg)
{
    const char *s = arg;
    for (;;) {
        size_t n = strcspn(s, ",");
        char buf[32];
        uint64_t v;
        const char *end;
        if (n == 0 || n >= sizeof(buf))
            goto bad;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (parse_u64(buf, &v, &end) < 0 || *end || v == 0 || v > INT_MAX)
            goto bad;
        if (add_pid(o, (pid_t)v) < 0)
            return -1;
        if (!s[n])
            return 0;
        s += n + 1;
        continue;
    bad:
        usage_error("invalid pid '%.*s' (from -p %s)", (int)n, s, arg);
        return -1;
    }
}

static int add_pattern(cli_options *o, cli_pattern_type type, const char *text,
                       const char *source_fmt, unsigned nth)
{
    cli_pattern *n = realloc(o->patterns, (o->n_patterns + 1) * sizeof(*n));
    if (!n) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    o->patterns = n;
    cli_pattern *p = &o->patterns[o->n_patterns++];
    p->type = type;
    p->text = text;
    snprintf(p->source, sizeof(p->source), source_fmt, nth);
    return 0;
}

static int parse_color(cli_options *o, const char *s)
{
    if (!strcmp(s, "auto"))
        o->color = CLI_COLOR_AUTO;
    else if (!strcmp(s, "always"))
        o->color = CLI_COLOR_ALWAYS;
    else if (!strcmp(s, "never"))
        o->color = CLI_COLOR_NEVER;
    else {
        usage_error("invalid value '%s' for --color: expected auto, always or never", s);
        return -1;
    }
    return 0;
}

static int parse_mem_reader(cli_options *o, const char *s)
{
    if (!strcmp(s, "auto"))
        o->settings.mem_reader = MG_MEM_READER_AUTO;
    else if (!strcmp(s, "io_uring"))
        o->settings.mem_reader = MG_MEM_READER_URING;
    else if (!strcmp(s, "pread"))
        o->settings.mem_reader = MG_MEM_READER_PREAD;
    else {
        usage_error("invalid value '%s' for --mem-reader: expected auto, io_uring or pread", s);
        return -1;
    }
    return 0;
}

/* Occurrence counters, so that messages can say "-E #2" (the second -E). */
typedef struct scan_counters {
    unsigned e, E, x, f, arg;
    bool count, list, quiet;
} scan_counters;

/* The text the user typed for the option getopt just complained about. */
static const char *option_name(char *const *argv, int idx, char *buf, size_t size)
{
    if (optopt > 0 && optopt < 256 && strncmp(argv[idx], "--", 2))
        snprintf(buf, size, "-%c", optopt);
    else
        snprintf(buf, size, "%s", argv[idx]);
    return buf;
}

static int handle_option(cli_options *o, scan_counters *n, int c, char *const *argv)
{
    uint64_t v;
    char name[64];
    switch (c) {
    case 1:
        return add_pattern(o, CLI_PAT_LITERAL, optarg, "argument #%u", ++n->arg);
    case 'e':
        return add_pattern(o, CLI_PAT_LITERAL, optarg, "-e #%u", ++n->e);
    case 'E':
        return add_pattern(o, CLI_PAT_REGEX, optarg, "-E #%u", ++n->E);
    case 'x':
        return add_pattern(o, CLI_PAT_HEX, optarg, "-x #%u", ++n->x);
    case 'f':
        return add_pattern(o, CLI_PAT_FILE, optarg, "-f #%u", ++n->f);
    case 'i':
        o->pattern_flags |= MG_PATTERN_CASELESS;
        return 0;
    case OPT_WIDE:
        o->pattern_flags |= MG_PATTERN_WIDE;
        return 0;
    case 'p':
        return parse_pid_list(o, optarg);
    case OPT_INCLUDE_NOREAD:
        o->settings.include_noread = true;
        return 0;
    case 'j':
        if (parse_number("--threads", optarg, 0, MAX_THREADS, &v) < 0)
            return -1;
        o->settings.threads = (unsigned)v;
        return 0;
    case 'C':
        if (parse_number("--context", optarg, 0, MG_MAX_CONTEXT, &v) < 0)
            return -1;
        o->settings.context = (size_t)v;
        return 0;
    case 'm':
        /* 0 would mean "no limit" to the engine, not "none" as in grep. */
        return parse_number("--max-count", optarg, 1, UINT64_MAX, &o->settings.max_count);
    case 'c':
        n->count = true;
        return 0;
    case 'l':
        n->list = true;
        return 0;
    case 'q':
        n->quiet = true;
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_COLOR:
        return parse_color(o, optarg);
    case OPT_NO_SUMMARY:
        o->summary = false;
        return 0;
    case OPT_MEM_READER:
        return parse_mem_reader(o, optarg);
    case OPT_CHUNK_SIZE:
        return parse_chunk_size(optarg, &o->settings.chunk_size);
    case OPT_DB_CACHE:
        if (!optarg[0]) {
            usage_error("--db-cache: empty directory name" TRY_HELP);
            return -1;
        }
        o->db_cache_dir = optarg;
        o->db_cache = true;
        return 0;
    case OPT_NO_DB_CACHE:
        o->db_cache = false;
        return 0;
    case OPT_NO_DEDUPE:
        o->settings.dedupe = false;
        return 0;
    case OPT_NO_PROGRESS:
        o->progress = false;
        return 0;
    case 'h':
        o->command = CLI_HELP;
        return 0;
    case 'V':
        o->command = CLI_VERSION;
        return 0;
    case ':':
        usage_error("option '%s' requires an argument" TRY_HELP,
                    option_name(argv, optind - 1, name, sizeof(name)));
        return -1;
    default:
        option_name(argv, optind - 1, name, sizeof(name));
        if (!strncmp(name, "--", 2) && strchr(name, '=')) /* --json=1 */
            usage_error("unknown option, or option that takes no value: '%s'" TRY_HELP, name);
        else
            usage_error("unknown option '%s'" TRY_HELP, name);
        return -1;
    }
}

/* argv[0] is "scan" here. */
static int parse_scan(int argc, char *const *argv, cli_options *o)
{
    scan_counters n = {0};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1)
        if (handle_option(o, &n, c, argv) < 0)
            return -1;
    /* After "--": patterns that may start with '-'. */
    for (; optind < argc; optind++)
        if (add_pattern(o, CLI_PAT_LITERAL, argv[optind], "argument #%u", ++n.arg) < 0)
            return -1;
    o->mode = n.quiet   ? CLI_MODE_QUIET
              : n.list  ? CLI_MODE_LIST
              : n.count ? CLI_MODE_COUNT
                        : CLI_MODE_MATCHES;
    o->settings.pids = o->pids;
    o->settings.n_pids = o->n_pids;
    return 0;
}

static int parse_command(int argc, char *const *argv, cli_options *o)
{
    if (argc < 2) {
        usage_error("missing command" TRY_HELP);
        return -1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "scan"))
        return parse_scan(argc - 1, argv + 1, o);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        /* `memgrep help [scan]`: there is one command, one help. */
        int extra = argc > 2 && !strcmp(argv[2], "scan") ? 3 : 2;
        if (argc > extra) {
            usage_error("unexpected argument '%s' to %s" TRY_HELP, argv[extra], cmd);
            return -1;
        }
        o->command = CLI_HELP;
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        o->command = CLI_VERSION;
        return 0;
    }
    if (cmd[0] == '-')
        usage_error("unknown option '%s': a command such as 'scan' comes first" TRY_HELP, cmd);
    else
        usage_error("unknown command '%s'" TRY_HELP, cmd);
    return -1;
}

int cli_parse_args(int argc, char *const *argv, cli_options *o)
{
    memset(o, 0, sizeof(*o));
    mg_default_settings(&o->settings);
    o->command = CLI_SCAN;
    o->summary = true;
    o->progress = true;
    o->db_cache = true;
    if (parse_command(argc, argv, o) < 0) {
        cli_options_free(o);
        return -1;
    }
    return 0;
}

void cli_options_free(cli_options *o)
{
    free(o->pids);
    free(o->patterns);
    o->pids = NULL;
    o->patterns = NULL;
    o->n_pids = o->n_patterns = 0;
    o->settings.pids = NULL;
    o->settings.n_pids = 0;
}
