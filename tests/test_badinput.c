/* test_badinput.c - invariant 7: bad input (a command, an option or its
 * value, a pattern, a pattern file, a pid, an output file) gets one clear
 * line naming what and where, exit status 2, and nothing half-done.
 *
 * One table: each case is an argument vector for $MEMGREP, optionally the
 * text of a pattern file (@F) and of stdin, and the strings the one line on
 * stderr must contain (the option or FILE:LINE, and the bad value). Every
 * case must give: exit status exactly 2; stderr exactly one line, starting
 * "memgrep: "; nothing on stdout (no match, no summary); nothing created in
 * the case's work directory (no -o file, no temporary file left); and
 * nothing compiled into the database cache, which is an empty directory
 * passed with --db-cache right after "scan" (a case's own --db-cache comes
 * later and wins): every check of an option, a pid or an output path comes
 * before the patterns are compiled.
 *
 * Placeholders, in arguments and in expected strings:
 *   @W        the case's work directory; holds dir/ (empty) and link (a
 *             symbolic link to the absent W/target) before the run
 *   @F        W/patterns.txt, holding the case's file text
 *   @LIVE     a child of the test that waits: a harmless target
 *   @DEAD     a pid that does not exist (a child, exited and reaped)
 *   @ZOMBIE   a child that exited and is not reaped yet
 *   @KTHREAD  a kernel thread (case skipped if none is visible)
 * No root needed: nothing is scanned when memgrep behaves. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define MAX_ARGS 16
#define MAX_NEEDLES 4

typedef struct bad_case {
    const char *argv[MAX_ARGS]; /* after "memgrep"; NULL-terminated */
    const char *needles[MAX_NEEDLES]; /* the stderr line contains each */
    const char *file; /* text of @F; NULL: no file */
    const char *input; /* stdin; NULL: /dev/null */
} bad_case;

/* A missing argument: the option is last. */
#define MISSING(opt)                                                                               \
    {                                                                                              \
        {"scan", "-p", "@LIVE", "needle", opt},                                                    \
        {                                                                                          \
            "'" opt "'", "requires an argument"                                                    \
        }                                                                                          \
    }

/* A bad value: "scan -p @LIVE OPT VALUE needle". */
#define BAD(opt, value, ...)                                                                       \
    {                                                                                              \
        {"scan", "-p", "@LIVE", opt, value, "needle"},                                             \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

static const bad_case cases[] = {
    /* ---- commands ---- */
    {{NULL}, {"missing command"}},
    {{"nosuch"}, {"unknown command", "'nosuch'"}},
    {{""}, {"unknown command", "''"}},
    {{"nosuch", "--help"}, {"unknown command", "'nosuch'"}},
    {{"--bogus"}, {"unknown option", "'--bogus'"}},
    /* a typo: the one command within two edits (a swap is one) */
    {{"scna"}, {"unknown command 'scna': did you mean 'scan'?"}},
    {{"help", "mpas"}, {"unknown command 'mpas': did you mean 'maps'?"}},
    {{"dumpp", "1"}, {"unknown command 'dumpp': did you mean 'dump'?"}},
    {{"help", "nosuch"}, {"unknown command", "'nosuch'"}},
    {{"--help", "nosuch"}, {"unknown command", "'nosuch'"}},
    {{"help", "scan", "extra"}, {"unexpected argument", "'extra'"}},
    {{"--version", "extra"}, {"unexpected argument", "'extra'", "--version"}},
    {{"-V", "--bogus"}, {"unexpected argument", "'--bogus'", "-V"}},

    /* ---- options of scan: unknown ---- */
    BAD("--no-such-option", "x", "unknown option", "'--no-such-option'"),
    BAD("-Z", "x", "unknown option", "'-Z'"),
    /* a typo of a long option, and of one with a value */
    BAD("--jsno", "x", "unknown option '--jsno': did you mean '--json'?"),
    BAD("--contxt=3", "x", "unknown option '--contxt=3': did you mean '--context'?"),
    BAD("--jsonx", "x", "unknown option '--jsonx': did you mean '--json'?"),
    {{"scan", "-p", "@LIVE", "-qZ", "needle"}, {"'-Z'"}},
    /* options without a value, given one */
    {{"scan", "-p", "@LIVE", "--json=1", "needle"}, {"'--json=1'", "takes no value"}},
    {{"scan", "-p", "@LIVE", "--quiet=1", "needle"}, {"'--quiet=1'"}},
    {{"scan", "-p", "@LIVE", "--count=yes", "needle"}, {"'--count=yes'"}},
    {{"scan", "-p", "@LIVE", "--list=1", "needle"}, {"'--list=1'"}},
    {{"scan", "-p", "@LIVE", "--ignore-case=1", "needle"}, {"'--ignore-case=1'"}},
    {{"scan", "-p", "@LIVE", "--wide=1", "needle"}, {"'--wide=1'"}},
    {{"scan", "-p", "@LIVE", "--no-summary=1", "needle"}, {"'--no-summary=1'"}},
    {{"scan", "-p", "@LIVE", "--no-progress=1", "needle"}, {"'--no-progress=1'"}},
    {{"scan", "-p", "@LIVE", "--include-noread=1", "needle"}, {"'--include-noread=1'"}},
    {{"scan", "-p", "@LIVE", "--no-dedupe=1", "needle"}, {"'--no-dedupe=1'"}},
    {{"scan", "-p", "@LIVE", "--no-db-cache=1", "needle"}, {"'--no-db-cache=1'"}},
    {{"scan", "-p", "@LIVE", "--no-sandbox=yes", "needle"}, {"'--no-sandbox=yes'"}},
    {{"scan", "-p", "@LIVE", "--require-sandbox=1", "needle"}, {"'--require-sandbox=1'"}},
    {{"scan", "--help=1"}, {"'--help=1'"}},
    {{"scan", "--version=1"}, {"'--version=1'"}},
    {{"scan", "-p", "@LIVE", "--c", "needle"}, {"ambiguous option", "'--c'", "--context"}},
    {{"scan", "-p", "@LIVE", "--no-", "needle"}, {"ambiguous option", "'--no-'", "--no-summary"}},
    {{"scan", "-p", "@LIVE", "--co=x", "needle"}, {"ambiguous option", "'--co=x'", "--count"}},
    {{"scan", "--help", "--bogus"}, {"unknown option", "'--bogus'"}},
    {{"scan", "--version", "--bogus"}, {"unknown option", "'--bogus'"}},

    /* ---- every option that takes a value, without it ---- */
    MISSING("-e"),
    MISSING("--pattern"),
    MISSING("-E"),
    MISSING("--regex"),
    MISSING("-x"),
    MISSING("--hex"),
    MISSING("-f"),
    MISSING("--file"),
    MISSING("-C"),
    MISSING("--context"),
    MISSING("-m"),
    MISSING("--max-count"),
    MISSING("-p"),
    MISSING("--pid"),
    MISSING("-j"),
    MISSING("--threads"),
    MISSING("--chunk-size"),
    MISSING("--mem-reader"),
    MISSING("-o"),
    MISSING("--output"),
    MISSING("--db-cache"),

    /* ---- -C/--context N: 0..MG_MAX_CONTEXT (4096) ---- */
    BAD("-C", "4097", "--context", "'4097'"),
    BAD("-C", "-1", "--context", "'-1'"),
    BAD("--context", "abc", "--context", "'abc'"),
    BAD("-C", "", "--context", "''"),
    BAD("-C", "1e3", "--context", "'1e3'"),

    /* ---- -m/--max-count N: at least 1 (0 would mean "no limit") ---- */
    BAD("-m", "0", "--max-count", "'0'"),
    BAD("-m", "x", "--max-count", "'x'"),
    BAD("--max-count", "-1", "--max-count", "'-1'"),
    BAD("-m", "18446744073709551616", "--max-count", "'18446744073709551616'"),

    /* ---- -j/--threads N: 0 (one per CPU, valid) .. MG_MAX_THREADS (1024) ---- */
    BAD("-j", "1025", "--threads", "'1025'"),
    BAD("-j", "-1", "--threads", "'-1'"),
    BAD("--threads", "abc", "--threads", "'abc'"),
    BAD("-j", "1.5", "--threads", "'1.5'"),
    BAD("-j", " 1", "--threads", "' 1'"),
    BAD("-j", "0x10", "--threads", "'0x10'"),

    /* ---- --chunk-size BYTES: page multiple up to MG_MAX_CHUNK_SIZE ---- */
    BAD("--chunk-size", "0", "--chunk-size", "'0'"),
    BAD("--chunk-size", "3000", "--chunk-size", "'3000'"),
    BAD("--chunk-size", "6K", "--chunk-size", "'6K'"),
    BAD("--chunk-size", "512M", "--chunk-size", "'512M'"),
    BAD("--chunk-size", "1T", "--chunk-size", "'1T'"),
    BAD("--chunk-size", "-4096", "--chunk-size", "'-4096'"),
    BAD("--chunk-size", "4KB", "--chunk-size", "'4KB'"),
    BAD("--chunk-size", "", "--chunk-size", "''"),
    BAD("--chunk-size", "99999999999999999999", "--chunk-size", "'99999999999999999999'"),

    /* ---- --mem-reader, --color ---- */
    BAD("--mem-reader", "bogus", "--mem-reader", "'bogus'"),
    BAD("--mem-reader", "", "--mem-reader", "''"),
    BAD("--mem-reader", "IO_URING", "--mem-reader", "'IO_URING'"),
    /* --color's value is optional (grep's --color alone is auto): only as --color=WHEN */
    {{"scan", "-p", "@LIVE", "--color=sometimes", "needle"}, {"--color", "'sometimes'"}},
    {{"scan", "-p", "@LIVE", "--color=", "needle"}, {"--color", "''"}},
    {{"scan", "-p", "@LIVE", "--colour=yes", "needle"}, {"--color", "'yes'"}},
    {{"scan", "-p", "@LIVE", "--col=bogus", "needle"}, {"--color", "'bogus'"}},

    /* ---- -p/--pid PID[,PID...] ---- */
    BAD("-p", "0", "-p", "'0'"),
    BAD("-p", "-5", "-p", "'-5'"),
    BAD("-p", "abc", "-p", "'abc'"),
    BAD("-p", "12x", "-p", "'12x'"),
    BAD("-p", "1,,2", "-p 1,,2", "''"),
    BAD("-p", ",", "-p ,", "''"),
    BAD("-p", "@LIVE,", "-p @LIVE,", "''"),
    BAD("-p", " 5x", "-p", "'5x'"),
    BAD("-p", "+5", "-p", "'+5'"),
    BAD("-p", "2147483648", "-p", "'2147483648'"),
    BAD("--pid", "", "-p", "''"),
    BAD("-p", "99999999", "no such process", "99999999", "-p"),
    BAD("-p", "@DEAD", "no such process", "@DEAD", "-p"),
    BAD("-p", "@LIVE,@DEAD", "no such process", "@DEAD", "-p"),
    {{"scan", "-p", "@LIVE", "--pid", "@DEAD", "needle"}, {"no such process", "@DEAD", "-p"}},
    {{"scan", "-p", "@DEAD"}, {"no such process", "@DEAD", "-p"}}, /* the hunt pack: not compiled */
    BAD("-p", "@ZOMBIE", "@ZOMBIE", "exited", "-p"),
    BAD("-p", "@KTHREAD", "@KTHREAD", "kernel thread", "-p"),
    {{"scan", "-o", "@W/out", "-p", "@DEAD", "needle"}, {"no such process", "@DEAD"}},

    /* ---- patterns ---- */
    BAD("-e", "", "-e #1", "empty"),
    {{"scan", "-p", "@LIVE", ""}, {"argument #1", "empty"}},
    {{"scan", "-p", "@LIVE", "--", ""}, {"argument #1", "empty"}},
    BAD("-E", "", "-E #1", "empty"),
    BAD("-x", "", "-x #1", "empty"),
    BAD("-E", "abc(", "-E #1", "'abc('"),
    {{"scan", "-p", "@LIVE", "-E", "a", "-E", "(b"}, {"-E #2", "'(b'"}},
    BAD("--regex", "[z-a]", "-E #1", "'[z-a]'"),
    BAD("-E", ".*", "-E #1", "'.*'"),
    {{"scan", "-p", "@LIVE", "--wide", "-E", "a("}, {"-E #1", "'a('"}},
    BAD("-E", "a{100000}", "-E #1", "'a{100000}'"),
    BAD("-E", "(?<=a)b", "-E #1", "'(?<=a)b'"),
    BAD("-E", "a{2,1}", "-E #1", "'a{2,1}'"),
    BAD("-E", "a|", "-E #1", "'a|'"),
    BAD("-x", "4g", "-x #1", "'4g'"),
    BAD("-x", "4", "-x #1", "'4'"),
    BAD("-x", "?\? ?", "-x #1", "'?\? ?'"),
    BAD("-x", "?\? ?\?", "-x #1", "'?\? ?\?'"),
    BAD("--hex", "4d5", "-x #1", "'4d5'"),
    {{"scan", "-p", "@LIVE", "-i", "-x", "zz"}, {"-x #1", "'zz'"}},

    /* ---- pattern files ---- */
    BAD("-f", "/nonexistent/mg-patterns.txt", "'/nonexistent/mg-patterns.txt'"),
    BAD("-f", "@W/dir", "'@W/dir'"),
    BAD("-f", "@W/-", "'@W/-'"), /* "-" alone is stdin */
    {{"scan", "-p", "@LIVE", "-f", "@F"}, {"@F:3", "'a(b'"}, "# comment\nfine literal\nre:a(b\n"},
    {{"scan", "-p", "@LIVE", "--file", "@F"}, {"@F:2", "'zz'"}, "ok\r\nhex:zz\r\n"},
    {{"scan", "-p", "@LIVE", "-f", "@F"}, {"@F:2", "'41 4'"}, "ok\nhex:41 4\n"},
    {{"scan", "-p", "@LIVE", "-f", "@F"}, {"@F:2", "empty"}, "ok\nre:\n"},
    {{"scan", "-p", "@LIVE", "-f", "@F"}, {"@F:4", "empty"}, "a\nb\n# c\nhex:\n"},
    {{"scan", "-p", "@LIVE", "-f", "@F"}, {"@F", "holds none"}, ""},
    {{"scan", "-p", "@LIVE", "-f", "@F"}, {"@F", "holds none"}, "# only\n# comments\n"},
    {{"scan", "-p", "@LIVE", "-e", "ok", "-f", "@F", "-E", "(x"}, {"@F:1", "'(y'"}, "re:(y\n"},
    {{"scan", "-p", "@LIVE", "-f", "/dev/stdin"}, {"/dev/stdin:2", "'a('"}, NULL, "ok\nre:a(\n"},

    /* ---- -o/--output FILE (and other bad input with -o: no file) ---- */
    BAD("-o", "", "--output", "empty"),
    BAD("-o", "@W/nodir/out", "@W/nodir/out", "No such file or directory"),
    BAD("--output", "@W/link", "@W/link", "symbolic link"),
    BAD("-o", "@W/dir", "@W/dir", "not a regular file"),
    BAD("-o", "@W/dir/", "@W/dir/", "directory"),
    BAD("-o", "/dev/null", "/dev/null", "not a regular file"),
    {{"scan", "-p", "@LIVE", "-o", "@F/out", "needle"}, {"@F/out", "Not a directory"}, "x\n"},
    {{"scan", "-o", "@W/nodir/out", "-p", "@LIVE"}, {"@W/nodir/out"}}, /* the hunt pack */
    {{"scan", "-p", "@LIVE", "-o", "@W/out", "-j", "0x1", "needle"}, {"--threads", "'0x1'"}},
    {{"scan", "-p", "@LIVE", "-o", "@W/out", "-E", "a("}, {"-E #1", "'a('"}},
    {{"scan", "-p", "@LIVE", "-o", "@W/out", "-f", "@F"}, {"@F:1", "'q'"}, "hex:q\n"},
    {{"scan", "-p", "@LIVE", "-o", "@W/out", "-e", ""}, {"-e #1"}},
    /* -o naming an input: refused before anything is read or written */
    {{"scan", "-p", "@LIVE", "-f", "@F", "-o", "@F"},
     {"-o @F is also an input", "-f @F", "refusing"},
     "needle\n"},
    {{"scan", "-p", "@LIVE", "-e", "x", "-r", "@F", "--output", "@F"},
     {"is also an input", "-r @F"},
     "rule r { strings: $a = \"needle\" condition: $a }\n"},
    /* -f - and -r -: stdin, named "-" in messages */
    {{"scan", "-p", "@LIVE", "-f", "-"}, {"-:2", "'a('"}, NULL, "ok\nre:a(\n"},
    {{"scan", "-p", "@LIVE", "-r", "-"}, {"-:1", "rule r"}, NULL, "rule r { condition: $a }\n"},
    {{"scan", "-p", "@LIVE", "-f", "-"}, {"no patterns", "-"}, NULL, "# only a comment\n"},
    /* -p as pidof prints it: blanks and commas; an empty element is bad */
    {{"scan", "-p", "@LIVE @DEAD", "needle"}, {"no such process", "@DEAD"}},
    {{"scan", "-p", "@LIVE, @DEAD", "needle"}, {"no such process", "@DEAD"}},
    {{"scan", "-p", "@LIVE,,@DEAD", "needle"}, {"invalid pid", "''"}},
    {{"scan", "-p", "@LIVE x", "needle"}, {"invalid pid", "'x'"}},

    /* ---- --db-cache DIR ---- */
    BAD("--db-cache", "", "--db-cache", "empty"),
    /* Not here: a DIR that is a regular file, or that cannot be created or
     * trusted, is one warning and the patterns are compiled without a cache
     * (mg_patterns_compile_cached: a cache problem never fails a run). No
     * option is an error when given twice: -p, -e, -E, -x, -f add up, the
     * others take the last value (--no-sandbox/--require-sandbox, -o...). */

    /* ---- control bytes as given (a newline, an escape) are shown as \xHH:
     * the message stays one line and cannot drive the terminal ---- */
    BAD("-p", "1\n2", "-p", "'1\\x0a2'"),
    BAD("-j", "1\n", "--threads", "'1\\x0a'"),
    {{"scan", "-p", "@LIVE", "--color=al\nways", "needle"}, {"--color", "'al\\x0aways'"}},
    BAD("--bo\ngus", "x", "'--bo\\x0agus'"),
    BAD("-p", "\033[2J", "-p", "'\\x1b[2J'"),
    BAD("-f", "@W/no\nsuch", "'@W/no\\x0asuch'"),
    BAD("-o", "@W/no\ndir/out", "@W/no\\x0adir/out"),
    BAD("-o", "@W/dir\n/", "@W/dir\\x0a/"),
    {{"scan", "-p", "@LIVE", "-f", "@W/dir/\033]0;x\a", "needle"}, {"@W/dir/\\x1b]0;x\\x07"}},
    BAD("-E", "a(\nb", "-E #1", "'a(\\x0ab'"),

    /* ---- limits: --timeout, --process-timeout, --max-rate, --nice,
     * --idle, --gentle ---- */
    MISSING("--timeout"),
    MISSING("--process-timeout"),
    MISSING("--max-rate"),
    MISSING("--nice"),
    BAD("--timeout", "-1", "--timeout", "'-1'"),
    BAD("--timeout", "5x", "--timeout", "'5x'"),
    BAD("--timeout", "1.", "--timeout", "'1.'"),
    BAD("--timeout", "nan", "--timeout", "'nan'"),
    BAD("--timeout", "1e3", "--timeout", "'1e3'"),
    BAD("--timeout", "99999999999h", "--timeout", "'99999999999h'"),
    BAD("--process-timeout", "", "--process-timeout", "''"),
    BAD("--process-timeout", ".5", "--process-timeout", "'.5'"),
    BAD("--process-timeout", "30 s", "--process-timeout", "'30 s'"),
    BAD("--max-rate", "-1", "--max-rate", "'-1'"),
    BAD("--max-rate", "1MB", "--max-rate", "'1MB'"),
    BAD("--max-rate", "99999999999G", "--max-rate", "'99999999999G'"),
    BAD("--nice", "20", "--nice", "'20'"),
    BAD("--nice", "-21", "--nice", "'-21'"),
    BAD("--nice", "x", "--nice", "'x'"),
    {{"scan", "-p", "@LIVE", "--idle=1", "needle"}, {"'--idle=1'"}},
    {{"scan", "-p", "@LIVE", "--gentle=yes", "needle"}, {"'--gentle=yes'"}},

    /* ---- YARA rules ---- */
    MISSING("-r"),
    BAD("-r", "@W/nosuch.yar", "@W/nosuch.yar"),
    {{"scan", "-p", "@LIVE", "-r", "@F"},
     {"@F:3"},
     "rule a {\n  strings: $a = \"x\"\n  condition: $b\n}\n"},
    {{"scan", "-p", "@LIVE", "-r", "@F"},
     {"@F:2", "not supported (--skip-unsupported drops the rule)"},
     "import \"hash\"\nrule a { condition: hash.md5(0, 64) == hash.sha1(0, 64) }\n"},
    {{"scan", "-p", "@LIVE", "-r", "@F"},
     {"@F:1", "undefined identifier \"filename\""},
     "rule a { condition: filename == \"x\" }\n"},
    {{"scan", "-p", "@LIVE", "-d", "1x=2", "-r", "@F"},
     {"'1x'", "not an identifier"},
     "rule a { condition: true }\n"},
    {{"scan", "-p", "@LIVE", "-d", "novalue", "needle"}, {"-d novalue", "NAME=VALUE"}},
    {{"scan", "-p", "@LIVE", "--skip-unsupported=1", "needle"}, {"'--skip-unsupported=1'"}},
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* ---- the places: work directory, pids ---- */

typedef struct places {
    char base[64]; /* a fresh directory for each case: w/ and cache/ */
    char work[96], cache[96], file[128];
    char live[16], dead[16], zombie[16], kthread[16];
} places;

static pid_t live_pid, zombie_pid;

static void stop_children(void)
{
    if (live_pid > 0) {
        kill(live_pid, SIGKILL);
        waitpid(live_pid, NULL, 0);
        live_pid = 0;
    }
    if (zombie_pid > 0) {
        waitpid(zombie_pid, NULL, 0);
        zombie_pid = 0;
    }
}

TestSuite(badinput, .fini = stop_children, .timeout = 240);

static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

/* A process with PF_KTHREAD in /proc/PID/stat (field 9), or 0. */
static pid_t find_kthread(void)
{
    DIR *d = opendir("/proc");
    cr_assert(d);
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        unsigned long flags;
        /* after ") ": state ppid pgrp session tty_nr tpgid flags */
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) == 1 && (flags & 0x00200000))
            found = (pid_t)pid;
    }
    closedir(d);
    return found;
}

static void start_children(places *pl)
{
    live_pid = fork();
    cr_assert_geq(live_pid, 0);
    if (live_pid == 0) {
        for (;;)
            pause();
    }
    zombie_pid = fork();
    cr_assert_geq(zombie_pid, 0);
    if (zombie_pid == 0)
        _exit(0);
    for (int i = 0; i < 10000 && proc_state(zombie_pid) != 'Z'; i++)
        usleep(1000);
    cr_assert_eq(proc_state(zombie_pid), 'Z', "the zombie child did not become a zombie");
    snprintf(pl->live, sizeof pl->live, "%d", (int)live_pid);
    snprintf(pl->zombie, sizeof pl->zombie, "%d", (int)zombie_pid);
    snprintf(pl->dead, sizeof pl->dead, "%d", (int)dead_pid());
    pid_t k = find_kthread();
    if (k)
        snprintf(pl->kthread, sizeof pl->kthread, "%d", (int)k);
}

/* s with the placeholders replaced (malloc'd). */
static char *expand(const places *pl, const char *s)
{
    const struct {
        const char *name, *value;
    } subst[] = {
        {"@W", pl->work},    {"@F", pl->file},        {"@LIVE", pl->live},
        {"@DEAD", pl->dead}, {"@ZOMBIE", pl->zombie}, {"@KTHREAD", pl->kthread},
    };
    size_t cap = strlen(s) * 8 + 256, n = 0;
    char *out = malloc(cap);
    cr_assert(out);
    while (*s) {
        bool done = false;
        for (size_t i = 0; i < sizeof subst / sizeof subst[0] && !done; i++) {
            size_t k = strlen(subst[i].name);
            if (strncmp(s, subst[i].name, k))
                continue;
            size_t v = strlen(subst[i].value);
            cr_assert_lt(n + v, cap - 1);
            memcpy(out + n, subst[i].value, v);
            n += v;
            s += k;
            done = true;
        }
        if (!done) {
            cr_assert_lt(n, cap - 1);
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    return out;
}

static bool uses(const bad_case *c, const char *name)
{
    for (size_t i = 0; c->argv[i]; i++)
        if (strstr(c->argv[i], name))
            return true;
    return false;
}

/* ---- running memgrep ---- */

typedef struct run_result {
    int status; /* exit code, or -1 */
    int signal;
    char *out, *err;
    size_t out_len, err_len;
} run_result;

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* Run $MEMGREP with argv (argv[0] its path), stdin from `input` (NULL:
 * /dev/null); capture stdout and stderr. */
static run_result run(char **argv, const char *input)
{
    int out[2], err[2], in[2] = {-1, -1};
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
    if (input)
        cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = input ? in[0] : open("/dev/null", O_RDONLY);
        dup2(fd, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        syscall(SYS_close_range, 3u, ~0u, 0u);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    if (input) {
        close(in[0]);
        size_t len = strlen(input);
        cr_assert_eq(write(in[1], input, len), (ssize_t)len); /* small: fits the pipe */
        close(in[1]);
    }
    run_result r = {0};
    int fds[2] = {out[0], err[0]};
    char **bufs[2] = {&r.out, &r.err};
    size_t *lens[2] = {&r.out_len, &r.err_len};
    size_t caps[2] = {0, 0};
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
        cr_assert_gt(poll(p, 2, 60000), 0, "memgrep printed nothing for 60 s");
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !p[i].revents)
                continue;
            if (*lens[i] + 4097 > caps[i]) {
                caps[i] = (*lens[i] + 4097) * 2;
                *bufs[i] = realloc(*bufs[i], caps[i]);
                cr_assert(*bufs[i]);
            }
            ssize_t n = read(fds[i], *bufs[i] + *lens[i], 4096);
            if (n <= 0) {
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            *lens[i] += (size_t)n;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (!*bufs[i])
            *bufs[i] = malloc(1);
        (*bufs[i])[*lens[i]] = '\0';
    }
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r.signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
    return r;
}

/* ---- the work directory ---- */

/* "name1/name2/..." of a directory, sorted, "" if empty (malloc'd). */
static char *listing(const char *dir)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    cr_assert_geq(n, 0, "scandir %s: %s", dir, strerror(errno));
    size_t cap = 1;
    for (int i = 0; i < n; i++)
        cap += strlen(list[i]->d_name) + 1;
    char *s = calloc(1, cap);
    cr_assert(s);
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
            strcat(s, list[i]->d_name);
            strcat(s, "/");
        }
        free(list[i]);
    }
    free(list);
    return s;
}

static void make_places(places *pl, const char *file_text)
{
    snprintf(pl->base, sizeof pl->base, "/tmp/mg-badinput-XXXXXX");
    cr_assert(mkdtemp(pl->base), "mkdtemp: %s", strerror(errno));
    snprintf(pl->work, sizeof pl->work, "%s/w", pl->base);
    snprintf(pl->cache, sizeof pl->cache, "%s/cache", pl->base);
    snprintf(pl->file, sizeof pl->file, "%s/patterns.txt", pl->work);
    cr_assert_eq(mkdir(pl->work, 0700), 0);
    cr_assert_eq(mkdir(pl->cache, 0700), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/dir", pl->work);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/link", pl->work);
    cr_assert_eq(symlink("target", path), 0);
    if (file_text) {
        FILE *f = fopen(pl->file, "w");
        cr_assert(f);
        cr_assert_geq(fputs(file_text, f), 0);
        cr_assert_eq(fclose(f), 0);
    }
}

/* s for the test log: control bytes but newlines as \xHH (malloc'd), so
 * that what a case feeds memgrep cannot drive the terminal of its reader. */
static char *visible(const char *s)
{
    char *v = malloc(4 * strlen(s) + 1), *o = v;
    cr_assert(v);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            o += sprintf(o, "\\x%02x", c);
        else
            *o++ = (char)c;
    }
    *o = '\0';
    return v;
}

/* "'scan' '-p' '5' 'x'" for the log. */
static void describe(char *const *argv, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 1; argv[i] && n < size; i++) {
        char *v = visible(argv[i]);
        n += (size_t)snprintf(buf + n, size - n, "%s'%s'", i > 1 ? " " : "", v);
        free(v);
    }
}

/* Run one case; returns the number of problems (each logged). */
static int check_case(size_t idx, const bad_case *c, places *pl)
{
    if (uses(c, "@KTHREAD") && !pl->kthread[0]) {
        cr_log_warn("case %zu skipped: no kernel thread visible (a PID namespace?)", idx);
        return 0;
    }
    make_places(pl, c->file);
    const char *exe = getenv("MEMGREP");
    char *argv[MAX_ARGS + 4] = {(char *)exe};
    size_t argc = 1;
    for (size_t i = 0; c->argv[i]; i++) {
        argv[argc++] = expand(pl, c->argv[i]);
        if (i == 0 && !strcmp(c->argv[0], "scan")) {
            argv[argc++] = strdup("--db-cache");
            argv[argc++] = strdup(pl->cache);
        }
    }
    argv[argc] = NULL;
    char what[1024];
    describe(argv, what, sizeof what);

    char *before = listing(pl->work);
    run_result r = run(argv, c->input);
    char *after = listing(pl->work);
    char *cached = listing(pl->cache);
    char *err = visible(r.err), *out = visible(r.out);
    char target[160];
    snprintf(target, sizeof target, "%s/link", pl->work);
    struct stat st;
    bool link_ok = lstat(target, &st) == 0 && S_ISLNK(st.st_mode);
    snprintf(target, sizeof target, "%s/dir", pl->work);
    char *dir_list = listing(target);

    int bad = 0;
#define PROBLEM(...)                                                                               \
    do {                                                                                           \
        cr_log_error("case %zu: memgrep %s: " __VA_ARGS__);                                        \
        bad++;                                                                                     \
    } while (0)
    const char *nl = strchr(r.err, '\n');
    if (r.status != 2)
        PROBLEM("exit status %d (signal %d), want 2; stderr: %s", idx, what, r.status, r.signal,
                err);
    if (r.err_len == 0 || !nl || nl != r.err + r.err_len - 1 || strlen(r.err) != r.err_len)
        PROBLEM("stderr is not exactly one line: \"%s\"", idx, what, err);
    if (strncmp(r.err, "memgrep: ", 9))
        PROBLEM("stderr does not start with \"memgrep: \": \"%s\"", idx, what, err);
    for (size_t i = 0; i < MAX_NEEDLES && c->needles[i]; i++) {
        char *needle = expand(pl, c->needles[i]);
        if (!strstr(r.err, needle)) {
            char *v = visible(needle);
            PROBLEM("stderr \"%s\" does not contain \"%s\"", idx, what, err, v);
            free(v);
        }
        free(needle);
    }
    if (r.out_len)
        PROBLEM("stdout is not empty: \"%.300s\"", idx, what, out);
    if (strcmp(before, after)) {
        char *b = visible(before), *a = visible(after);
        PROBLEM("the work directory changed: \"%s\" became \"%s\"", idx, what, b, a);
        free(b);
        free(a);
    }
    if (!link_ok || dir_list[0])
        PROBLEM("a file was written through link or into dir/ (dir/: \"%s\")", idx, what, dir_list);
    if (cached[0])
        PROBLEM("something was compiled into the database cache: \"%s\"", idx, what, cached);
#undef PROBLEM

    free(err);
    free(out);
    free(before);
    free(after);
    free(cached);
    free(dir_list);
    run_free(&r);
    for (size_t i = 1; i < argc; i++)
        free(argv[i]);
    cr_assert_eq(remove_tree(pl->base), 0, "%s", pl->base);
    return bad;
}

Test(badinput, table)
{
    const char *exe = getenv("MEMGREP");
    cr_assert(exe && *exe, "MEMGREP is not set: cli/ must define the memgrep_exe target");
    cr_assert_geq(N_CASES, 40u, "the table must cover at least 40 cases");
    places pl;
    memset(&pl, 0, sizeof pl);
    start_children(&pl);
    int bad = 0, failed_cases = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        int b = check_case(i, &cases[i], &pl);
        bad += b;
        failed_cases += b > 0;
    }
    cr_assert_eq(bad, 0, "%d of %zu cases failed (%d problems): see the log above", failed_cases,
                 N_CASES, bad);
}

/* The checks can fail: a valid command with the same harness compiles into
 * the cache, prints its summary and, with -o, creates the file. */
Test(badinput, harness_control)
{
    const char *exe = getenv("MEMGREP");
    cr_assert(exe && *exe, "MEMGREP is not set");
    places pl;
    memset(&pl, 0, sizeof pl);
    start_children(&pl);
    make_places(&pl, NULL);
    char out[160];
    snprintf(out, sizeof out, "%s/out", pl.work);
    char *argv[] = {(char *)exe, "scan", "--db-cache", pl.cache, "-p",
                    pl.live,     "-o",   out,          "needle", NULL};
    run_result r = run(argv, NULL);
    cr_assert(r.status == 1 || r.status == 2, "exit %d; stderr: %s", r.status, r.err);
    char *cached = listing(pl.cache);
    cr_assert(cached[0], "nothing compiled into the cache: the table's cache check proves nothing");
    free(cached);
    if (r.status == 1) { /* scanned (root): the summary and the file */
        cr_assert_gt(r.err_len, 0u);
        struct stat st;
        cr_assert_eq(stat(out, &st), 0, "-o file not created");
    }
    run_free(&r);
    cr_assert_eq(remove_tree(pl.base), 0, "%s", pl.base);
}
