/* cmd_maps.c - `memgrep maps PID`: a process's regions with their resident
 * bytes (mg_regions_get: present pages per pagemap). */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "commands.h"
#include "investigate.h"
#include "memgrep/memgrep.h"
#include "opts.h"
#include "output/output.h"

typedef struct maps_state {
    cli_targets targets;
    cli_listing listing;
    cli_sizes sizes;
    cli_sandbox sandbox;
    pid_t pid; /* the PID argument, 0 if none */
} maps_state;

static int maps_positional(void *state, const char *arg)
{
    maps_state *s = state;
    if (s->pid) {
        cli_usage_error("unexpected argument '%s' to maps: one PID" CLI_TRY_HELP, arg);
        return -1;
    }
    return cli_parse_pid_arg(arg, &s->pid);
}

static void print_text(FILE *f, const mg_region_info *ri, bool human)
{
    const mg_region *r = &ri->region;
    char range[48], size[32], res[32];
    snprintf(range, sizeof(range), "%" PRIx64 "-%" PRIx64, r->start, r->end);
    fprintf(f, "%-25s %10s %10s %s %-7s %8" PRIx64 " ", range,
            cli_size_text(r->end - r->start, human, size, sizeof(size)),
            cli_size_text(ri->resident, human, res, sizeof(res)), r->perms,
            mg_region_kind_name(r->kind), r->offset);
    cli_put_escaped(f, r->path, strlen(r->path));
    if (r->deleted)
        fputs(" (deleted)", f);
    fputc('\n', f);
}

static void print_json(FILE *f, pid_t pid, const mg_region_info *ri)
{
    const mg_region *r = &ri->region;
    char dev[32];
    snprintf(dev, sizeof(dev), "%02x:%02x", r->dev_major, r->dev_minor);
    fprintf(f, "{\"type\":\"region\",\"pid\":%d", (int)pid);
    cli_json_addr(f, "start", r->start);
    cli_json_addr(f, "end", r->end);
    cli_json_u64(f, "size", r->end - r->start);
    cli_json_u64(f, "resident", ri->resident);
    cli_json_str(f, "perms", r->perms);
    cli_json_str(f, "kind", mg_region_kind_name(r->kind));
    cli_json_addr(f, "offset", r->offset);
    cli_json_str(f, "dev", dev);
    cli_json_u64(f, "inode", r->inode);
    cli_json_str(f, "path", r->path);
    cli_json_bool(f, "deleted", r->deleted);
    cli_json_bool(f, "scannable", ri->scannable);
    fputs("}\n", f);
}

static int maps_run(void *state)
{
    const maps_state *s = state;
    pid_t pid;
    int status = cli_target_pid(&s->targets, s->pid, &pid);
    if (status)
        return status;
    mg_region_info *list = NULL;
    size_t n = 0;
    mg_error err = {{0}};
    /* The output first, then the sandbox, then the target's maps and
     * pagemap; a failure drops -o's file. */
    cli_dest d;
    if (cli_dest_open(&d, &s->listing) < 0)
        return EXIT_TROUBLE;
    if (cli_dest_sandbox(&d, &s->sandbox) < 0) {
        cli_dest_close(&d, false);
        return EXIT_TROUBLE;
    }
    int rc = mg_regions_get(pid, 0, &list, &n, &err);
    if (rc < 0) {
        cli_inspect_report(rc, &err, "read the regions");
        cli_dest_close(&d, false);
        return EXIT_TROUBLE;
    }
    bool human = cli_sizes_human(s->sizes, &s->listing);
    uint64_t size = 0, resident = 0, readable = 0;
    if (!s->listing.json)
        fprintf(d.f, "%-25s %10s %10s %s %-7s %8s %s\n", "START-END", "SIZE", "RESIDENT", "PERM",
                "KIND", "OFFSET", "PATH");
    for (size_t i = 0; i < n; i++) {
        size += list[i].region.end - list[i].region.start;
        resident += list[i].resident;
        readable += list[i].scannable ? list[i].resident : 0;
        if (s->listing.json)
            print_json(d.f, pid, &list[i]);
        else
            print_text(d.f, &list[i], human);
    }
    if (s->listing.json) {
        fprintf(d.f, "{\"type\":\"total\",\"pid\":%d", (int)pid);
        cli_json_u64(d.f, "regions", n);
        cli_json_u64(d.f, "size", size);
        cli_json_u64(d.f, "resident", resident);
        cli_json_u64(d.f, "resident_scannable", readable);
        fputs("}\n", d.f);
    } else {
        char a[32], b[32], c[32], label[48];
        snprintf(label, sizeof(label), "total (%zu regions)", n);
        fprintf(d.f, "%-25s %10s %10s (%s of it scannable)\n", label,
                cli_size_text(size, human, a, sizeof(a)),
                cli_size_text(resident, human, b, sizeof(b)),
                cli_size_text(readable, human, c, sizeof(c)));
    }
    mg_regions_free(&list);
    return cli_dest_close(&d, true) < 0 ? EXIT_TROUBLE : EXIT_MATCH;
}

static const cli_binding maps_groups[] = {
    {&cli_one_target_group, offsetof(maps_state, targets)},
    {&cli_listing_group, offsetof(maps_state, listing)},
    {&cli_sizes_group, offsetof(maps_state, sizes)},
    {&cli_sandbox_group, offsetof(maps_state, sandbox)},
};

const cli_command cli_cmd_maps = {
    .name = "maps",
    .summary = "a process's regions with their resident bytes",
    .synopsis = "[OPTIONS] PID",
    .description =
        "One line per region of /proc/PID/maps: START-END, size, resident bytes (pages present\n"
        "per pagemap: the region's Rss in smaps, plus shared zero pages), permissions, kind\n"
        "(heap stack anon file shm special device), file offset and path; totals at the end.\n"
        "Nothing is read from the process's memory.",
    .epilogue = "Exit status: 0 listed, 1 --container/--cgroup do not select PID, 2 error.\n",
    .groups = maps_groups,
    .n_groups = sizeof(maps_groups) / sizeof(maps_groups[0]),
    .positional = maps_positional,
    .state_size = sizeof(maps_state),
    .run = maps_run,
};
