/* cmd_strings.c - `memgrep strings PID`: printable runs of a process's
 * present pages with their addresses (mg_strings, region by region). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "investigate.h"
#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/output.h"

/* GNU strings' default -n. */
#define DEFAULT_MIN 4

typedef struct strings_state {
    cli_targets targets;
    cli_listing listing;
    cli_sandbox sandbox;
    pid_t pid;
    const char **specs; /* --region (point into argv) */
    size_t n_specs;
    uint64_t min;
    bool wide;
} strings_state;

enum {
    OPT_REGION,
    OPT_MIN,
    OPT_WIDE
};

static const cli_opt strings_opts[] = {
    {OPT_REGION, 0, "region", "SPEC",
     "only these regions (repeatable): a kind (heap, stack,\n"
     "anon, file, shm), START-END in hex or part of a path;\n"
     "default: every readable region",
     NULL},
    {OPT_MIN, 'n', "min-len", "MIN", "runs of at least MIN characters (default 4)", NULL},
    {OPT_WIDE, 0, "wide", NULL, "also UTF-16LE runs (as strings -el)", NULL},
    {0},
};

static void strings_init(void *state)
{
    ((strings_state *)state)->min = DEFAULT_MIN;
}

static int strings_parse(void *state, int id, const char *arg)
{
    strings_state *s = state;
    switch (id) {
    case OPT_REGION: {
        const char **n = realloc(s->specs, (s->n_specs + 1) * sizeof(*n));
        if (!n) {
            fprintf(stderr, "memgrep: out of memory\n");
            return -1;
        }
        s->specs = n;
        s->specs[s->n_specs++] = arg;
        return 0;
    }
    case OPT_MIN:
        return cli_parse_number("--min-len", arg, 1, MG_STRINGS_CHUNK, &s->min);
    case OPT_WIDE:
        s->wide = true;
        return 0;
    }
    return -1;
}

static void strings_fini(void *state)
{
    strings_state *s = state;
    free(s->specs);
    s->specs = NULL;
}

static const cli_group strings_group = {
    .title = "Strings",
    .opts = strings_opts,
    .init = strings_init,
    .fini = strings_fini,
    .parse = strings_parse,
};

static int strings_positional(void *state, const char *arg)
{
    strings_state *s = state;
    if (s->pid) {
        cli_usage_error("unexpected argument '%s' to strings: one PID" CLI_TRY_HELP, arg);
        return -1;
    }
    return cli_parse_pid_arg(arg, &s->pid);
}

typedef struct print_ctx {
    FILE *f;
    bool json;
    pid_t pid;
    const mg_region *region;
    uint64_t runs;
} print_ctx;

static int print_run(void *arg, const mg_string *s)
{
    print_ctx *c = arg;
    c->runs++;
    if (!c->json) {
        /* only 0x20-0x7e and tab: printed as they are, as strings does */
        fprintf(c->f, "0x%" PRIx64 " ", s->address);
        fwrite(s->text, 1, s->len, c->f);
        fputc('\n', c->f);
        return ferror(c->f) ? -EIO : 0;
    }
    fprintf(c->f, "{\"type\":\"string\",\"pid\":%d", (int)c->pid);
    cli_json_addr(c->f, "address", s->address);
    cli_json_u64(c->f, "length", s->len);
    cli_json_bool(c->f, "wide", s->wide);
    cli_json_str(c->f, "text", s->text);
    cli_json_addr(c->f, "region_start", c->region->start);
    cli_json_str(c->f, "region_path", c->region->path);
    fputs("}\n", c->f);
    return ferror(c->f) ? -EIO : 0;
}

static int strings_run(void *state)
{
    const strings_state *s = state;
    pid_t pid;
    int status = cli_target_pid(&s->targets, s->pid, &pid);
    if (status)
        return status;
    status = EXIT_TROUBLE;
    mg_region_info *list = NULL;
    size_t n = 0, n_pieces = 0;
    cli_piece *pieces = NULL;
    mg_error err = {{0}};
    cli_dest d;
    bool ok = false;
    int rc = mg_regions_get(pid, MG_REGIONS_NO_RESIDENT, &list, &n, &err);
    if (rc < 0) {
        cli_inspect_report(rc, &err, "read the regions");
        return EXIT_TROUBLE;
    }
    if (cli_select_pieces(pid, s->specs, s->n_specs, list, n, &pieces, &n_pieces) < 0 ||
        cli_dest_open(&d, &s->listing) < 0)
        goto out;
    /* The target's bytes are handled from here on: in the sandbox. */
    if (cli_dest_sandbox(&d, &s->sandbox) < 0) {
        cli_dest_close(&d, false);
        goto out;
    }
    print_ctx c = {.f = d.f, .json = s->listing.json, .pid = pid};
    ok = true;
    for (size_t i = 0; ok && i < n_pieces; i++) {
        c.region = &pieces[i].ri->region;
        rc = mg_strings(pid, pieces[i].start, pieces[i].end, (size_t)s->min,
                        s->wide ? MG_STRINGS_WIDE : 0, print_run, &c, &err);
        if (rc == -EIO) /* the output: cli_dest_close names it */
            break;
        if (rc < 0) {
            cli_inspect_report(rc, &err, "read the process");
            ok = false;
        }
    }
    if (cli_dest_close(&d, ok) == 0)
        status = c.runs ? EXIT_MATCH : EXIT_NO_MATCH;
out:
    free(pieces);
    mg_regions_free(&list);
    return status;
}

static const cli_binding strings_groups[] = {
    {&strings_group, 0},
    {&cli_one_target_group, offsetof(strings_state, targets)},
    {&cli_listing_group, offsetof(strings_state, listing)},
    {&cli_sandbox_group, offsetof(strings_state, sandbox)},
};

const cli_command cli_cmd_strings = {
    .name = "strings",
    .summary = "printable runs in a process's memory, with their addresses",
    .synopsis = "[OPTIONS] PID",
    .description =
        "Print the runs of printable characters (0x20-0x7e and tab, as GNU strings -a) of at\n"
        "least MIN characters in the pages of the process that are present in memory, one per\n"
        "line as 0xADDRESS STRING. For the same present bytes the output is that of\n"
        "`strings -a -t x -n MIN` over a dump of the region, addresses shifted by its start.\n"
        "Runs never cross a page that is not present or the end of a region.",
    .epilogue = "Exit status: 0 runs printed, 1 none (or --container/--cgroup do not select PID),\n"
                "2 error.\n",
    .groups = strings_groups,
    .n_groups = sizeof(strings_groups) / sizeof(strings_groups[0]),
    .positional = strings_positional,
    .state_size = sizeof(strings_state),
    .run = strings_run,
};
