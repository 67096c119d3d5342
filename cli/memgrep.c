/* memgrep.c - `memgrep scan`: command line -> patterns + settings ->
 * mg_scan -> printer back-end. No scanning logic lives here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "hunt_pack.h"
#include "memgrep/memgrep.h"
#include "output.h"
#include "sink.h"

/* Exit status, as grep. */
enum {
    EXIT_MATCH = 0,
    EXIT_NO_MATCH = 1,
    EXIT_TROUBLE = 2,
};

#define HUNT_PACK_NAME "hunt-pack:linux.txt"

/* The engine's message already names the input and where it came from;
 * `what` is only for failures that come without one (out of memory). */
static void report(int err, const mg_error *e, const char *what)
{
    if (e && e->message[0])
        fprintf(stderr, "memgrep: %s%s\n", e->message, err == MG_EBADPID ? " (from -p)" : "");
    else
        fprintf(stderr, "memgrep: %s: %s\n", what, mg_strerror(err));
}

static int add_pattern(mg_patterns *p, const cli_pattern *cp, unsigned flags, mg_error *err)
{
    static const mg_pattern_kind kinds[] = {
        [CLI_PAT_LITERAL] = MG_PATTERN_LITERAL,
        [CLI_PAT_REGEX] = MG_PATTERN_REGEX,
        [CLI_PAT_HEX] = MG_PATTERN_HEX,
    };
    if (cp->type == CLI_PAT_FILE)
        return mg_patterns_add_file(p, cp->text, flags, err);
    return mg_patterns_add(p, kinds[cp->type], cp->text, strlen(cp->text), flags, cp->source, err);
}

/* Only -f files were given, and all of them were empty. */
static void report_no_patterns(const cli_options *o)
{
    for (size_t i = 0; i < o->n_patterns; i++)
        if (o->patterns[i].type == CLI_PAT_FILE) {
            fprintf(stderr, "memgrep: no patterns to search for: %s holds none\n",
                    o->patterns[i].text);
            return;
        }
    fprintf(stderr, "memgrep: no patterns to search for\n");
}

/* Where compiled databases are kept: --db-cache DIR, else for root
 * /var/cache/memgrep (not $XDG_CACHE_HOME or $HOME, which sudo may bring
 * from another user), else $XDG_CACHE_HOME/memgrep, else ~/.cache/memgrep;
 * NULL for no cache. */
static const char *db_cache_dir(const cli_options *o, char *buf, size_t size)
{
    if (!o->db_cache)
        return NULL;
    if (o->db_cache_dir)
        return o->db_cache_dir;
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

/* Patterns in command-line order (that is their id), or the hunt pack when
 * none was given; compiled, so that a bad one stops us before any scan. */
static mg_patterns *build_patterns(const cli_options *o)
{
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    int r = mg_patterns_new(&p);
    if (r < 0) {
        report(r, NULL, "creating the pattern set");
        return NULL;
    }
    const char *what = HUNT_PACK_NAME;
    if (!o->n_patterns)
        r = mg_patterns_add_list(p, mg_hunt_linux, mg_hunt_linux_len, HUNT_PACK_NAME,
                                 o->pattern_flags, &err);
    for (size_t i = 0; i < o->n_patterns && r >= 0; i++) {
        what = o->patterns[i].type == CLI_PAT_FILE ? o->patterns[i].text : o->patterns[i].source;
        r = add_pattern(p, &o->patterns[i], o->pattern_flags, &err);
    }
    if (r >= 0 && mg_patterns_count(p) == 0) {
        report_no_patterns(o);
        mg_patterns_free(&p);
        return NULL;
    }
    if (r >= 0) {
        char dir[4096];
        what = "compiling the patterns";
        r = mg_patterns_compile_cached(p, db_cache_dir(o, dir, sizeof(dir)), NULL, &err);
        if (r == 0 && err.message[0]) /* a cache refused: compiled instead */
            fprintf(stderr, "memgrep: warning: %s\n", err.message);
    }
    if (r < 0) {
        report(r, &err, what);
        mg_patterns_free(&p);
    }
    return p;
}

/* Pattern descriptions by id, for the printers (valid until free). */
static mg_pattern_info *pattern_infos(const mg_patterns *p, size_t *n)
{
    *n = mg_patterns_count(p);
    mg_pattern_info *info = calloc(*n ? *n : 1, sizeof(*info));
    if (!info)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        if (mg_patterns_info(p, (unsigned)i, &info[i]) < 0) {
            free(info);
            return NULL;
        }
    return info;
}

static bool want_color(const cli_options *o)
{
    if (o->json || o->color == CLI_COLOR_NEVER)
        return false;
    if (o->color == CLI_COLOR_ALWAYS)
        return true;
    const char *term = getenv("TERM");
    const char *no_color = getenv("NO_COLOR"); /* https://no-color.org */
    return isatty(STDOUT_FILENO) && !(term && !strcmp(term, "dumb")) && !(no_color && no_color[0]);
}

/* Whatever the output, the exit status says whether something matched. */
static int exit_status(const cli_sink *s, const mg_stats *stats)
{
    if (s->out_of_memory) {
        fprintf(stderr, "memgrep: out of memory\n");
        return EXIT_TROUBLE;
    }
    if (s->write_error || fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "memgrep: write error: %s\n", strerror(errno ? errno : EIO));
        return EXIT_TROUBLE;
    }
    if (s->matches)
        return EXIT_MATCH;
    if (!stats->processes_scanned) {
        fprintf(stderr,
                "memgrep: nothing readable: no process could be scanned (%llu failed; "
                "root or CAP_SYS_PTRACE is needed for other users' processes)\n",
                (unsigned long long)stats->processes_failed);
        return EXIT_TROUBLE;
    }
    return EXIT_NO_MATCH;
}

static int scan(const cli_options *o, const mg_patterns *p, output_ctx *out)
{
    const output_backend *be = o->json ? &output_json : &output_text;
    cli_sink s;
    mg_stats stats;
    mg_error err = {{0}};
    memset(&stats, 0, sizeof(stats));
    cli_sink_init(&s, o->mode, be, out);
    /* Progress only where a person watches: stderr on a terminal. */
    s.progress = o->progress && !o->json && o->mode != CLI_MODE_QUIET && isatty(STDERR_FILENO);
    mg_sink sink = cli_sink_get(&s);
    int r = mg_scan(p, &o->settings, &sink, &stats, &err);
    if (r < 0) {
        report(r, &err, "scan");
        cli_sink_free(&s);
        return EXIT_TROUBLE;
    }
    cli_sink_progress_clear(&s);
    be->finish(out);
    cli_sink_finish(&s);
    if (o->summary && o->mode != CLI_MODE_QUIET)
        be->summary(out, &stats);
    int status = exit_status(&s, &stats);
    cli_sink_free(&s);
    return status;
}

static int run_scan(const cli_options *o)
{
    mg_patterns *p = build_patterns(o);
    if (!p)
        return EXIT_TROUBLE;
    int status = EXIT_TROUBLE;
    size_t n_info;
    mg_pattern_info *info = NULL;
    info = pattern_infos(p, &n_info);
    if (!info) {
        fprintf(stderr, "memgrep: out of memory\n");
        goto done;
    }
    output_ctx out = {
        .out = stdout,
        .err = stderr,
        .patterns = info,
        .n_patterns = n_info,
        .color = want_color(o),
        .events = o->mode != CLI_MODE_QUIET,
    };
    status = scan(o, p, &out);
done:
    free(info);
    mg_patterns_free(&p);
    return status;
}

int main(int argc, char **argv)
{
    /* Results are written one sink call at a time; a big buffer keeps
     * write(2) out of the engine's serialised callback path. A terminal
     * keeps its line buffering so matches show up as they are found. */
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    cli_options o;
    if (cli_parse_args(argc, argv, &o) < 0)
        return EXIT_TROUBLE;
    int status = EXIT_TROUBLE;
    switch (o.command) {
    case CLI_HELP:
        cli_print_usage(stdout);
        status = EXIT_SUCCESS;
        break;
    case CLI_VERSION:
        printf("memgrep %s\n", MG_VERSION);
        status = EXIT_SUCCESS;
        break;
    case CLI_SCAN:
        status = run_scan(&o);
        break;
    }
    cli_options_free(&o);
    return status;
}
