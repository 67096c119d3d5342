/* cmd_scan.c - `memgrep scan`: patterns + targets + settings -> mg_scan ->
 * printer back-end. No scanning logic lives here. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "findings.h"
#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/outfile.h"
#include "output/output.h"
#include "sandbox.h"
#include "signals.h"
#include "scan_opts.h"
#include "scan_patterns.h"
#include "watchdog.h"
#include "output/sink.h"

/* ------------------------------------------------------------------ */
/* Runner                                                              */
/* ------------------------------------------------------------------ */

/* Whatever the output, the exit status says whether something matched;
 * a sweep cut short says why, before that (signal, then timeout), unless
 * output was lost. out_name: "stdout" or -o's FILE, for a write error;
 * filtered: --container or --cgroup (selecting nothing is then no match,
 * not an error). */
static int exit_status(const cli_sink *s, const mg_stats *stats, const char *out_name,
                       bool filtered, size_t findings)
{
    int sig = cli_signals_caught();
    if (sig)
        return EXIT_SIGNAL_BASE + sig; /* also if it came after the sweep's end */
    if (s->publish_failed)
        return EXIT_TROUBLE; /* said */
    if (s->out_of_memory) {
        fprintf(stderr, "memgrep: out of memory\n");
        return EXIT_TROUBLE;
    }
    errno = 0;
    if (s->write_error || fflush(s->out->out) == EOF || ferror(s->out->out)) {
        int err = s->write_error && s->write_errno ? s->write_errno : errno ? errno : EIO;
        fprintf(stderr, "memgrep: write error on %s: %s\n", out_name, strerror(err));
        return EXIT_TROUBLE;
    }
    if (stats->stop_reason == MG_STOP_TIMEOUT)
        return EXIT_TIMEOUT;
    if (s->matches || findings)
        return EXIT_MATCH;
    if (filtered && !output_selected(stats)) {
        /* a mistyped id is no clean host: like grep's missing input */
        fprintf(stderr, "memgrep: no process selected (--container, --cgroup)\n");
        return EXIT_TROUBLE;
    }
    if (!stats->processes_scanned && stats->complete) {
        fprintf(stderr,
                "memgrep: nothing readable: no process could be scanned (%llu failed; "
                "root or CAP_SYS_PTRACE is needed for other users' processes)\n",
                (unsigned long long)stats->processes_failed);
        return EXIT_TROUBLE;
    }
    return EXIT_NO_MATCH;
}

/* What the sink does with a match. Precedence (like grep): quiet > list > count. */
static cli_mode scan_mode(const scan_state *s)
{
    return s->output.quiet ? CLI_MODE_QUIET
           : s->list       ? CLI_MODE_LIST
           : s->count      ? CLI_MODE_COUNT
                           : CLI_MODE_MATCHES;
}

/* --findings, or one of its options (which imply it). */
static bool findings_wanted(const scan_state *s)
{
    return s->findings.on || s->findings.n_allow || s->findings.dump_dir;
}

static int scan(const scan_state *st, const mg_settings *set, const mg_patterns *p, output_ctx *out,
                cli_outfile *file, const output_run *run)
{
    const cli_output *o = &st->output;
    const output_backend *be = o->json ? &output_json : &output_text;
    cli_mode mode = scan_mode(st);
    cli_sink s;
    mg_stats stats;
    mg_error err = {{0}};
    memset(&stats, 0, sizeof(stats));
    cli_sink_init(&s, mode, be, out);
    const char *tags[64], *ids[64]; /* -t and --identifier: the rules shown */
    for (size_t i = 0; i < st->n_patterns; i++) {
        if (st->patterns[i].type == PAT_TAG && s.n_sel_tags < 64)
            tags[s.n_sel_tags++] = st->patterns[i].text;
        else if (st->patterns[i].type == PAT_IDENT && s.n_sel_ids < 64)
            ids[s.n_sel_ids++] = st->patterns[i].text;
    }
    s.sel_tags = tags;
    s.sel_ids = ids;
    /* --findings: each target's, found by the sweep, after its matches */
    cli_findings_scan fs = {
        .o = &st->findings,
        .f = out->out,
        .json = o->json,
        .show = mode != CLI_MODE_QUIET ? CLI_FINDINGS_PRINT : 0u,
    };
    if (findings_wanted(st)) {
        s.findings = cli_findings_scanned;
        s.findings_ctx = &fs;
    }
    /* Progress only where a person watches: stderr on a terminal. */
    s.progress = o->progress && !o->json && mode != CLI_MODE_QUIET && isatty(STDERR_FILENO);
    mg_sink sink = cli_sink_get(&s);
    /* From here on SIGINT, SIGTERM, SIGHUP stop the sweep (set->cancel)
     * and we still finish the output, marked incomplete. */
    if (cli_signals_install() < 0) {
        fprintf(stderr, "memgrep: cannot catch signals: %s\n", strerror(errno));
        cli_sink_free(&s);
        return EXIT_TROUBLE;
    }
    cli_watchdog wd = {.sink = &s,
                       .be = be,
                       .out = out,
                       .summary = o->summary && mode != CLI_MODE_QUIET,
                       .file = o->file ? file : NULL};
    pthread_t wd_thread;
    if (be->start && mode != CLI_MODE_QUIET) {
        be->start(out, run);
        if (out->flush_each)
            fflush(out->out);
    }
    bool wd_on = cli_watchdog_start(&wd, &wd_thread, set);
    int r = mg_scan(p, set, &sink, &stats, &err);
    if (wd_on)
        cli_watchdog_stop(&wd, wd_thread);
    if (r < 0) {
        cli_report(r, &err, "scan");
        cli_sink_free(&s);
        return EXIT_TROUBLE;
    }
    cli_sink_progress_clear(&s);
    be->finish(out);
    cli_sink_finish(&s);
    if (o->summary && mode != CLI_MODE_QUIET)
        be->summary(out, &stats);
    /* -o's file is committed by scan_run, also after --timeout or a signal:
     * its records are whole and the summary says it is incomplete. A second
     * signal (signals.c) leaves what was written, without a summary. */
    /* text: a line beside the summary (JSON: the finding records say it) */
    if (findings_wanted(st) && !o->json && o->summary && mode != CLI_MODE_QUIET)
        cli_findings_scan_summary(stderr, &fs, &stats);
    int status = fs.failed ? EXIT_TROUBLE
                           : exit_status(&s, &stats, o->file ? o->file : "stdout",
                                         cli_targets_filtered(&st->targets), fs.c.findings);
    cli_sink_free(&s);
    return status;
}

/* -o's file, then the sandbox: the last steps before the sweep, so that
 * nothing is created for bad patterns and the sandbox has nothing left to
 * allow but the sweep (sandbox.h). Returns 0, or -1 after one line. */
static int prepare_sweep(const scan_state *s, const mg_settings *set, cli_outfile *file)
{
    if (s->output.file && cli_outfile_open(file, s->output.file) < 0)
        return -1;
    cli_sandbox_needs needs = {
        .pfn = set->dedupe,
        .io_uring = set->mem_reader == MG_MEM_READER_URING,
        .write_fds = {STDOUT_FILENO, STDERR_FILENO},
        .n_write_fds = 2,
        .dir_fd = cli_outfile_dir_fd(file),
    };
    if (s->output.file)
        needs.write_fds[needs.n_write_fds++] = fileno(cli_outfile_stream(file));
    int sandbox = findings_wanted(s) ? cli_findings_sandbox(&s->findings, &s->sandbox) : 1;
    if (sandbox < 0 || (findings_wanted(s) && cli_findings_dump_dir(&s->findings) < 0) ||
        (sandbox && cli_sandbox_enter(&s->sandbox, &needs) < 0)) {
        cli_outfile_abort(file);
        return -1;
    }
    return 0;
}

static int publish_outfile(void *ctx)
{
    return cli_outfile_publish(ctx);
}

static int scan_run(void *state)
{
    const scan_state *s = state;
    if (s->show_pack)
        return cli_show_hunt_pack(stdout) < 0 ? EXIT_TROUBLE : EXIT_MATCH;
    mg_settings set;
    cli_engine_settings(&s->engine, &set);
    set.pids = s->targets.pids;
    set.n_pids = s->targets.n_pids;
    set.cancel = cli_signals_cancel;
    set.cgroup_prefix = s->targets.cgroup;
    set.container_prefix = s->targets.container;
    /* bad pids and -o paths before anything is compiled; the priority
     * before compiling (which can take a while) and before the workers
     * start: they inherit it */
    if (cli_targets_check(&s->targets) < 0 ||
        (s->output.file && cli_outfile_check(s->output.file) < 0) ||
        cli_check_output_not_input(s->output.file, s->patterns, s->n_patterns) < 0 ||
        cli_engine_apply_priority(&s->engine) < 0)
        return EXIT_TROUBLE;
    bool all_skipped = false;
    unsigned rule_flags = (s->skip_unsupported ? MG_RULES_SKIP_UNSUPPORTED : 0) |
                          (s->rules_out.negate ? 0 : MG_RULES_NO_NEGATE);
    mg_patterns *p = cli_scan_patterns_rules(s->patterns, s->n_patterns, s->pattern_flags,
                                             rule_flags, &s->engine, &all_skipped);
    if (p && !s->n_patterns && !s->output.no_messages) /* as -o foo: foo was meant as the pattern */
        fprintf(stderr,
                "memgrep: no pattern given: searching for the built-in Linux hunt pack (%zu "
                "entries; --show-pack lists them, -s hides this note)\n",
                mg_patterns_count(p));
    if (!p)
        return all_skipped ? EXIT_NO_MATCH : EXIT_TROUBLE;
    int status = EXIT_TROUBLE;
    cli_outfile file = {0};
    size_t n_info;
    mg_pattern_info *info = cli_pattern_infos(p, &n_info);
    if (!info) {
        fprintf(stderr, "memgrep: out of memory\n");
        goto done;
    }
    /* the start record's facts, before the sandbox (no uname there) */
    char host[256] = "", run_id[33];
    output_run run = {.host = host, .run_id = run_id, .argc = cli_argc, .argv = cli_argv};
    output_new_run_id(run_id, sizeof(run_id));
    if (gethostname(host, sizeof(host) - 1) < 0)
        host[0] = '\0';
    if (prepare_sweep(s, &set, &file) < 0)
        goto done;
    cli_signals_forget_on_exit(cli_outfile_dir_fd(&file), file.tmp);
    output_ctx out = {
        .out = s->output.file ? cli_outfile_stream(&file) : stdout,
        .err = stderr,
        .patterns = info,
        .n_patterns = n_info,
        .color = cli_output_color(&s->output),
        /* -s: no warnings on stderr; JSON's records of them stay */
        .events = scan_mode(s) != CLI_MODE_QUIET && (s->output.json || !s->output.no_messages),
        .rules = mg_patterns_rules_count(p) > 0 || mg_patterns_rules_skipped(p, 0),
        .rule_form = s->rules_out,
    };
    set.rules_negate = s->rules_out.negate;
    /* Records go out as they are found to a program reading JSON, and to
     * -o's file (published at the first: a kill loses at most one). */
    out.flush_each = s->output.json || s->output.file || s->line_buffered;
    if (s->output.file) {
        out.publish = publish_outfile;
        out.publish_ctx = &file;
    }
    while (mg_patterns_rules_skipped(p, out.rules_skipped))
        out.rules_skipped++;
    status = scan(s, &set, p, &out, &file, &run);
    /* The file takes the place of FILE only after a complete sweep. */
    if (status != EXIT_TROUBLE && s->output.file && cli_outfile_commit(&file) < 0)
        status = EXIT_TROUBLE;
done:
    cli_outfile_abort(&file); /* no-op after a commit */
    free(info);
    mg_patterns_free(&p);
    return status;
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

static const cli_binding scan_groups[] = {
    {&cli_scan_patterns_group, 0},
    {&cli_rules_group, offsetof(scan_state, rules_out)},
    {&cli_scan_matches_group, 0},
    {&cli_targets_group, offsetof(scan_state, targets)},
    {&cli_engine_group, offsetof(scan_state, engine)},
    {&cli_output_group, offsetof(scan_state, output)},
    {&cli_findings_group, offsetof(scan_state, findings)},
    {&cli_sandbox_group, offsetof(scan_state, sandbox)},
};

const cli_command cli_cmd_scan = {
    .name = "scan",
    .summary = "search process memory for patterns (default: the hunt pack)",
    .synopsis = "[OPTIONS] [PATTERN...]",
    .description = "Search the memory of running processes. Positional PATTERNs are literals;\n"
                   "with no pattern at all the built-in Linux hunt pack is used (a note on\n"
                   "stderr says so; --show-pack prints it). A match is shown with bytes of\n"
                   "context on each side (-C N, 32 by default).",
    .epilogue = "Exit status: 0 a match (with --findings also a finding) was found, 1 no\n"
                "match, 2 error, 3 --timeout ran out (the output is whole but incomplete),\n"
                "128+N stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP; the output is\n"
                "whole, the summary says incomplete).\n",
    .groups = scan_groups,
    .n_groups = sizeof(scan_groups) / sizeof(scan_groups[0]),
    .positional = cli_scan_positional,
    .state_size = sizeof(scan_state),
    .run = scan_run,
};
