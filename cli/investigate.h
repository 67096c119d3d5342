/* investigate.h - what the investigation commands (ps, maps, dump, strings)
 * share: their option groups, the one process they look at, region specs,
 * where their output goes and how sizes and text are shown. */
#ifndef MEMGREP_CLI_INVESTIGATE_H
#define MEMGREP_CLI_INVESTIGATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/json.h"
#include "output/outfile.h"
#include "sandbox.h"

/* Listing output: --json, -o FILE (ps, maps, strings). */
typedef struct cli_listing {
    const char *file; /* -o FILE (points into argv); NULL: stdout */
    bool json;
} cli_listing;
extern const cli_group cli_listing_group;

/* Sizes: human (1.5 MiB) on a terminal, raw bytes otherwise; --bytes and
 * --human choose (ps, maps). */
typedef enum cli_sizes {
    CLI_SIZES_AUTO = 0,
    CLI_SIZES_HUMAN,
    CLI_SIZES_BYTES,
} cli_sizes;
extern const cli_group cli_sizes_group;
bool cli_sizes_human(cli_sizes s, const cli_listing *l);
/* n as the sizes say, into buf. */
const char *cli_size_text(uint64_t n, bool human, char *buf, size_t size);

/* Where a listing goes: stdout or -o FILE (outfile.h). */
typedef struct cli_dest {
    cli_outfile file;
    FILE *f;
    const char *name; /* "stdout" or FILE */
} cli_dest;
/* Returns 0, or -1 after one line. */
int cli_dest_open(cli_dest *d, const cli_listing *l);
/* ok: put -o's file in place; else drop it. A write error is one line
 * naming the output. Returns 0 or -1 (then the exit status is 2). */
int cli_dest_close(cli_dest *d, bool ok);
/* Enter the sandbox (sandbox.h) with d open: writes to stdout, stderr and
 * -o's file, the rename within -o's directory; no page frame numbers, no
 * io_uring. Returns 0, or -1 after one line (--require-sandbox). */
int cli_dest_sandbox(const cli_dest *d, const cli_sandbox *s);

/* An engine failure as one line: its message (which names the pid),
 * else what: mg_strerror(err). */
void cli_inspect_report(int err, const mg_error *e, const char *what);

/* The processes -p names (each must exist: else one line, -1), or with no
 * -p all of them (mg_proc_list, into *all): *out (malloc'd) points at *n
 * infos. Release with cli_procs_release, also after a failure. */
int cli_procs_collect(const cli_targets *t, mg_proc_info ***out, size_t *n, mg_proc_info **all);
void cli_procs_release(mg_proc_info **procs, size_t n, mg_proc_info *all);

/* The PID argument (one number > 0). Returns 0 or -1 after one line. */
int cli_parse_pid_arg(const char *arg, pid_t *out);

/* The one process maps, dump and strings look at: the PID argument (pos,
 * 0 if none) or a single -p; with --container/--cgroup it must be
 * selected by them, and with neither a PID nor -p they must select
 * exactly one process. Returns 0 with *out set, or an exit status after
 * one line: 1 when the filters select nothing, 2 for bad input. */
int cli_target_pid(const cli_targets *t, pid_t pos, pid_t *out);

/* One piece of a region that a command reads: [start, end). */
typedef struct cli_piece {
    const mg_region_info *ri;
    uint64_t start, end;
} cli_piece;

/* The pieces the region specs select, in address order (*out malloc'd).
 * A spec is a kind (heap, stack, anon, file, shm), START-END in hex
 * (clipped to each mapping it overlaps, pages rounded outwards) or a
 * substring of a mapped path; no spec: every readable region. Only
 * regions a scan reads (readable, not special or device) are taken. A spec
 * that selects nothing, or only regions memgrep never reads, is one line
 * naming it: returns -1 (exit 2); else 0. */
int cli_select_pieces(pid_t pid, const char *const *specs, size_t n_specs,
                      const mg_region_info *list, size_t n, cli_piece **out, size_t *n_out);

/* Bytes outside printable ASCII as \xHH, '\' as \\ (one line, no escape
 * sequences reach a terminal). */
void cli_put_escaped(FILE *f, const char *s, size_t n);

#endif
