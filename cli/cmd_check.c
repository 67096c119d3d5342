/* cmd_check.c - `memgrep check`: signs of fileless or tampered code in every
 * process, or the ones -p names (mg_findings_get): no pattern, no memory
 * read, one line or record per finding. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "findings.h"
#include "investigate.h"
#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/output.h"

typedef struct check_state {
    cli_targets targets;
    cli_listing listing;
    cli_findings findings;
    cli_sandbox sandbox;
} check_state;

static int check_run(void *state)
{
    const check_state *s = state;
    cli_findings_count c = {0};
    cli_dest d;
    if (cli_targets_check(&s->targets) < 0)
        return EXIT_TROUBLE;
    int sandbox = cli_findings_sandbox(&s->findings, &s->sandbox);
    if (sandbox < 0 || cli_findings_dump_dir(&s->findings) < 0 ||
        cli_dest_open(&d, &s->listing) < 0)
        return EXIT_TROUBLE;
    if (sandbox && cli_dest_sandbox(&d, &s->sandbox) < 0) {
        cli_dest_close(&d, false);
        return EXIT_TROUBLE;
    }
    size_t selected;
    bool ok = cli_findings_sweep(&s->findings, &s->targets, d.f, s->listing.json,
                                 CLI_FINDINGS_PRINT | CLI_FINDINGS_FAILURES, &c, &selected) == 0;
    if (cli_dest_close(&d, ok) < 0 || !ok)
        return EXIT_TROUBLE;
    cli_findings_summary(stderr, &c);
    if (!selected && cli_targets_filtered(&s->targets))
        fprintf(stderr, "memgrep: no process selected\n");
    return c.findings ? EXIT_MATCH : EXIT_NO_MATCH;
}

static const cli_binding check_groups[] = {
    {&cli_targets_group, offsetof(check_state, targets)},
    {&cli_listing_group, offsetof(check_state, listing)},
    {&cli_findings_group, offsetof(check_state, findings)},
    {&cli_sandbox_group, offsetof(check_state, sandbox)},
};

const cli_command cli_cmd_check = {
    .name = "check",
    .summary = "fileless and tampered code: memfd, deleted, RWX, ptrace, patched, preload",
    .synopsis = "[OPTIONS]",
    .description =
        "Look at every process (or those -p names) for signs of fileless or tampered\n"
        "code, one line per finding: PID COMM SEVERITY KIND: EVIDENCE. Kinds: memfd_exec\n"
        "(image or executable mapping from a memfd), deleted_exe (image or executable\n"
        "mapping of a deleted file), anon_exec (anonymous executable memory), rwx\n"
        "(writable and executable at once), traced (a thread attached by ptrace: the\n"
        "tracer), masquerade (comm or argv[0] in brackets as a kernel thread's, with user\n"
        "memory), patched_code (present private copies of executable file pages whose\n"
        "bytes differ from the file: the exact ranges), preload (a library of LD_PRELOAD\n"
        "or /etc/ld.so.preload mapped). Code a JIT runtime (java, node, python3...)\n"
        "explains is reported at low severity with the runtime. /proc files are read,\n"
        "and present private copies of code pages with their files (O_DIRECT): no\n"
        "pattern, nothing attached, no page faulted in.",
    .epilogue = "Exit status: 0 findings, 1 none (processes that could not be checked are\n"
                "reported and counted, not an error), 2 error.\n",
    .groups = check_groups,
    .n_groups = sizeof(check_groups) / sizeof(check_groups[0]),
    .state_size = sizeof(check_state),
    .run = check_run,
};
