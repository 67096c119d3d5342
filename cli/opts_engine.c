/* opts_engine.c - the engine option group (threads, readers, chunk size,
 * dedupe, the database cache, budgets and priority) and what the runner
 * takes from it: mg_settings, the process priority, the cache directory. */
#include "opts.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "messages.h"
#include "parse.h"

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
    if (cli_parse_u64(s + neg, &v, &end) < 0 || *end || v > (neg ? -NICE_MIN : NICE_MAX)) {
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
