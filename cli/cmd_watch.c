/* cmd_watch.c - `memgrep watch`: a standing hunt. New processes from the
 * process events connector (watch_events.c) are pinned by a pidfd and
 * scanned at once and again after --exec-rescan's delays; every process is
 * scanned again every --rescan-every, one at a time between those; a hit
 * is reported once while it stays (watch_alerts.c); a stats record every
 * --stats-every. All scans go through one engine (mg_engine_scan, one pid
 * each) and scan's patterns, sink and printers. This file: the options,
 * and what the watcher (watcher.c, its loop) uses opened and freed. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "commands.h"
#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/outfile.h"
#include "output/output.h"
#include "output/sink.h"
#include "parse.h"
#include "scan_opts.h"
#include "scan_patterns.h"
#include "watch_alerts.h"
#include "watch_events.h"
#include "watcher.h"

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

enum {
    OPT_RESCAN_EVERY,
    OPT_EXEC_RESCAN,
    OPT_STATS_EVERY,
    OPT_EVENTS,
    OPT_BUDGET,
    OPT_SOFT_DIRTY,
};

static const cli_opt watch_opt_table[] = {
    {OPT_RESCAN_EVERY, 0, "rescan-every", "DURATION",
     "scan every process again this often, one at a time\n"
     "between new ones (default 10m; 0: only new processes)",
     NULL},
    {OPT_EXEC_RESCAN, 0, "exec-rescan", "LIST",
     "a new process is scanned at once, then again these\n"
     "delays after its exec (default 10ms,25ms,100ms,1s)",
     NULL},
    {OPT_STATS_EVERY, 0, "stats-every", "DURATION",
     "a stats record this often (default 1m; 0: only the\nfinal one)", NULL},
    {OPT_EVENTS, 0, "events", "=auto|connector|proc",
     "new processes from the process events connector\n"
     "(CAP_NET_ADMIN) or by polling /proc; auto: the\nconnector where it can be opened",
     NULL},
    {OPT_BUDGET, 0, "budget", "PCT",
     "CPU time of watch, percent of one CPU as systemd's\n"
     "CPUQuota= counts (5: 5%; 200: two CPUs), kept\n"
     "while a process is being read too (default: none)",
     NULL},
    {OPT_SOFT_DIRTY, 0, "soft-dirty", NULL,
     "rescan only the anonymous memory written since the\n"
     "last scan: clears the targets' soft-dirty bits\n"
     "(writes 4 to /proc/PID/clear_refs, as CRIU does;\n"
     "the one write to a target, only with this option)",
     NULL},
    {0},
};

static void watch_init(void *state)
{
    watch_opts *o = state;
    o->rescan_every = 600;
    o->stats_every = 60;
    /* 25 ms: a payload decoded a few ms after exec in a process that lives
     * 50 ms (bench/scripts/watch.sh: with 10ms,100ms,1s, 17 of 30 were
     * seen; with these, 40 of 40) */
    o->delays[0] = 0.01;
    o->delays[1] = 0.025;
    o->delays[2] = 0.1;
    o->delays[3] = 1;
    o->n_delays = 4;
}

/* "10ms,100ms,1s": ascending durations. */
static int parse_delays(watch_opts *o, const char *arg)
{
    size_t n = 0;
    for (const char *s = arg;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char one[64];
        double v;
        if (n == WATCH_MAX_DELAYS || len == 0 || len >= sizeof(one)) {
            cli_usage_error("invalid value '%s' for --exec-rescan: expected 1 to %u durations "
                            "separated by ',' (10ms,100ms,1s)",
                            arg, WATCH_MAX_DELAYS);
            return -1;
        }
        memcpy(one, s, len);
        one[len] = '\0';
        if (cli_parse_duration("--exec-rescan", one, &v) < 0)
            return -1;
        if (n && v < o->delays[n - 1]) {
            cli_usage_error("invalid value '%s' for --exec-rescan: the delays must ascend", arg);
            return -1;
        }
        o->delays[n++] = v;
        if (!comma)
            break;
        s = comma + 1;
    }
    o->n_delays = n;
    return 0;
}

static int watch_parse(void *state, int id, const char *arg)
{
    watch_opts *o = state;
    switch (id) {
    case OPT_RESCAN_EVERY:
        return cli_parse_duration("--rescan-every", arg, &o->rescan_every);
    case OPT_STATS_EVERY:
        return cli_parse_duration("--stats-every", arg, &o->stats_every);
    case OPT_EXEC_RESCAN:
        return parse_delays(o, arg);
    case OPT_BUDGET: {
        char *end;
        errno = 0;
        double pct = strtod(arg, &end);
        if (*end == '%')
            end++;
        if (errno || end == arg || *end || !(pct > 0) || pct > MG_MAX_CPU_BUDGET * 100) {
            cli_usage_error("invalid value '%s' for --budget: expected a percentage of one CPU "
                            "above 0, up to %.0f (5: 5%%)",
                            arg, MG_MAX_CPU_BUDGET * 100);
            return -1;
        }
        o->budget = pct / 100;
        return 0;
    }
    case OPT_SOFT_DIRTY:
        o->soft_dirty = true;
        return 0;
    case OPT_EVENTS:
        if (!strcmp(arg, "auto"))
            o->source = WATCH_SOURCE_AUTO;
        else if (!strcmp(arg, "connector"))
            o->source = WATCH_SOURCE_CONNECTOR;
        else if (!strcmp(arg, "proc"))
            o->source = WATCH_SOURCE_PROC;
        else {
            cli_usage_error("invalid value '%s' for --events: expected auto, connector or proc",
                            arg);
            return -1;
        }
        return 0;
    }
    return -1;
}

static const cli_group watch_group = {
    .title = "Watching",
    .opts = watch_opt_table,
    .init = watch_init,
    .parse = watch_parse,
};

/* ------------------------------------------------------------------ */
/* Setting up                                                          */
/* ------------------------------------------------------------------ */

/* mg_settings.cancel: SIGINT or SIGTERM is waiting (they are blocked in
 * every thread and read through the signalfd between scans). */
static int watch_cancel(void *ctx)
{
    (void)ctx;
    sigset_t set;
    if (sigpending(&set) < 0)
        return 0;
    return sigismember(&set, SIGINT) == 1 || sigismember(&set, SIGTERM) == 1;
}
/* SIGINT, SIGTERM and SIGHUP blocked in this thread and in the engine's
 * workers (started later, they inherit the mask), read through a signalfd.
 * Returns it, or -1 after one line. */
static int block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    int fd = -1;
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        fprintf(stderr, "memgrep: cannot catch signals: %s\n", strerror(errno));
    return fd;
}

static int publish_outfile(void *ctx)
{
    return cli_outfile_publish(ctx);
}

/* The output failed: say so once. Returns the exit status. */
static int output_status(const watcher *w, const char *name)
{
    if (w->sink.publish_failed)
        return EXIT_TROUBLE; /* said */
    if (w->sink.out_of_memory) {
        fprintf(stderr, "memgrep: out of memory\n");
        return EXIT_TROUBLE;
    }
    if (w->sink.write_error || ferror(w->out.out)) {
        int err = w->sink.write_errno ? w->sink.write_errno : EIO;
        fprintf(stderr, "memgrep: write error on %s: %s\n", name, strerror(err));
        return EXIT_TROUBLE;
    }
    return EXIT_SUCCESS;
}

static int watch_start(watcher *w, cli_outfile *file)
{
    const scan_state *s = &w->st->scan;
    char why[256];
    int r = watch_events_open(&w->events, w->o->source, why, sizeof(why));
    if (r < 0) {
        fprintf(stderr, "memgrep: cannot open the process events connector: %s%s\n", strerror(-r),
                r == -EPERM ? " (CAP_NET_ADMIN is needed)" : "");
        return -1;
    }
    if (why[0] && !s->output.no_messages)
        fprintf(stderr, "memgrep: note: polling /proc every %d ms (%s)\n", WATCH_POLL_MS, why);
    if (s->output.file && cli_outfile_open(file, s->output.file) < 0)
        return -1;
    return 0;
}

static int watch_run(void *state)
{
    const watch_state *ws = state;
    const scan_state *s = &ws->scan;
    if (s->show_pack)
        return cli_show_hunt_pack(stdout) < 0 ? EXIT_TROUBLE : EXIT_SUCCESS;
    if (s->engine.settings.timeout > 0) { /* each scan is one process: --process-timeout */
        cli_usage_error("--timeout does not apply to watch, which runs until stopped "
                        "(--process-timeout limits each scan)");
        return EXIT_TROUBLE;
    }
    if ((s->output.file && cli_outfile_check(s->output.file) < 0) ||
        cli_check_output_not_input(s->output.file, s->patterns, s->n_patterns) < 0 ||
        cli_engine_apply_priority(&s->engine) < 0)
        return EXIT_TROUBLE;
    int sigfd = block_signals();
    if (sigfd < 0)
        return EXIT_TROUBLE;
    watcher *w = calloc(1, sizeof(*w));
    if (!w) {
        fprintf(stderr, "memgrep: out of memory\n");
        close(sigfd);
        return EXIT_TROUBLE;
    }
    w->st = ws;
    w->o = &ws->watch;
    w->sigfd = sigfd;
    w->be = s->output.json ? &output_json : &output_text;
    int status = EXIT_TROUBLE;
    cli_outfile file = {0};
    bool all_skipped = false;
    mg_patterns *p = cli_scan_patterns(s->patterns, s->n_patterns, s->pattern_flags,
                                       s->skip_unsupported, &s->engine, &all_skipped);
    if (p && !s->n_patterns && !s->output.no_messages)
        fprintf(stderr,
                "memgrep: no pattern given: watching for the built-in Linux hunt pack (%zu "
                "entries; --show-pack lists them, -s hides this note)\n",
                mg_patterns_count(p));
    if (!p || !watcher_set_patterns(w, p)) {
        if (p)
            fprintf(stderr, "memgrep: out of memory\n");
        mg_patterns_free(&p);
        goto done;
    }
    mg_settings set;
    mg_error err = {{0}};
    cli_engine_settings(&s->engine, &set);
    set.cancel = watch_cancel;
    set.cpu_budget = ws->watch.budget;
    set.incremental = true; /* unchanged page-cache pages: not read again */
    set.soft_dirty = ws->watch.soft_dirty;
    set.rules_negate = s->rules_out.negate;
    int r = mg_engine_new(&w->engine, &set, &err);
    if (r < 0) {
        cli_report(r, &err, "starting the engine");
        goto done;
    }
    if (watch_start(w, &file) < 0)
        goto done;
    w->out.out = s->output.file ? cli_outfile_stream(&file) : stdout;
    w->out.err = stderr;
    w->out.color = cli_output_color(&s->output);
    w->out.events = !s->output.quiet && (s->output.json || !s->output.no_messages);
    w->out.rule_form = s->rules_out;
    w->out.flush_each = true; /* a standing hunt: every record out as it is found */
    if (s->output.file) {
        w->out.publish = publish_outfile;
        w->out.publish_ctx = &file;
    }
    cli_sink_init(&w->sink, CLI_MODE_MATCHES, w->be, &w->out);
    w->inner = cli_sink_get(&w->sink);
    if (s->output.quiet) /* -q: no hit printed (stats still are); watch goes on */
        w->inner.match = NULL, w->inner.rule = NULL;
    char host[256] = "", run_id[33];
    output_run run = {.host = host, .run_id = run_id, .argc = cli_argc, .argv = cli_argv};
    output_new_run_id(run_id, sizeof(run_id));
    if (gethostname(host, sizeof(host) - 1) < 0)
        host[0] = '\0';
    /* the start record says: listening from now on */
    if (w->be->start)
        w->be->start(&w->out, &run);
    fflush(w->out.out);
    watcher_loop(w);
    status = output_status(w, s->output.file ? s->output.file : "stdout");
    if (status == EXIT_SUCCESS) {
        watcher_emit_stats(w, true);
        status = output_status(w, s->output.file ? s->output.file : "stdout");
    }
    if (status == EXIT_SUCCESS && s->output.file && cli_outfile_commit(&file) < 0)
        status = EXIT_TROUBLE;
    cli_sink_free(&w->sink);
done:
    cli_outfile_abort(&file); /* no-op after a commit */
    watch_events_free(&w->events);
    mg_engine_free(&w->engine);
    for (size_t i = 0; i < w->n_pend; i++)
        close(w->pend[i].pidfd);
    free(w->pass);
    watch_alerts_free(&w->alerts);
    mg_patterns_free(&w->patterns);
    free(w->infos);
    free(w->pattern_keys);
    close(w->sigfd);
    free(w);
    return status;
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

static const cli_binding watch_groups[] = {
    {&cli_scan_patterns_group, offsetof(watch_state, scan)},
    {&cli_rules_group, offsetof(watch_state, scan.rules_out)},
    {&watch_group, offsetof(watch_state, watch)},
    {&cli_engine_group, offsetof(watch_state, scan.engine)},
    {&cli_output_group, offsetof(watch_state, scan.output)},
};

const cli_command cli_cmd_watch = {
    .name = "watch",
    .summary = "a standing hunt: scan new processes at exec, rescan all",
    .synopsis = "[OPTIONS] [PATTERN...]",
    .description =
        "Run until stopped, searching every new process at its exec (and again after\n"
        "--exec-rescan's delays: payloads are often decoded after start) and every\n"
        "process again every --rescan-every. A hit is reported once per process, pattern\n"
        "or rule and address while it stays. Records as scan's (--json: JSON Lines),\n"
        "and a stats record every --stats-every. SIGHUP reads the pattern files and\n"
        "rules again (a broken one keeps the running set, and one line says why).",
    .epilogue = "Exit status: 0 stopped by SIGINT or SIGTERM (after a final stats record),\n"
                "2 error.\n",
    .groups = watch_groups,
    .n_groups = sizeof(watch_groups) / sizeof(watch_groups[0]),
    .positional = cli_scan_positional,
    .state_size = sizeof(watch_state),
    .run = watch_run,
};
