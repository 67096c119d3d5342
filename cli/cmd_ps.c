/* cmd_ps.c - `memgrep ps`: the processes, their container, and whether
 * memgrep can scan them (mg_proc_list / mg_proc_get). */
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "investigate.h"
#include "memgrep/memgrep.h"
#include "opts.h"

typedef struct ps_state {
    cli_targets targets;
    cli_listing listing;
    cli_sizes sizes;
} ps_state;

/* NULL: scannable; else why not (the JSON "reason" and the SCAN column). */
static const char *not_scannable(const mg_proc_info *p)
{
    if (p->flags & MG_PROC_SELF)
        return "memgrep itself";
    if (p->flags & MG_PROC_KTHREAD)
        return "kernel thread";
    if (p->flags & MG_PROC_ZOMBIE)
        return "zombie";
    if (p->flags & MG_PROC_NOACCESS)
        return "permission";
    return NULL;
}

static const char *user_name(uid_t uid, char *buf, size_t size)
{
    struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_name)
        snprintf(buf, size, "%s", pw->pw_name);
    else
        snprintf(buf, size, "%u", (unsigned)uid);
    return buf;
}

static void print_text(FILE *f, const mg_proc_info *p, bool human)
{
    char user[64], rss[32];
    mg_container ct;
    const char *why = not_scannable(p);
    bool in_ct = mg_container_of(p->cgroup, &ct) == 1;
    fprintf(f, "%7d %-10.10s %10s %-12.12s %-14s ", (int)p->pid,
            user_name(p->euid, user, sizeof(user)), cli_size_text(p->rss, human, rss, sizeof(rss)),
            in_ct ? ct.id : "-", why ? why : "yes");
    if (p->cmdline[0])
        cli_put_escaped(f, p->cmdline, strlen(p->cmdline));
    else {
        fputc('[', f);
        cli_put_escaped(f, p->comm, strlen(p->comm));
        fputc(']', f);
    }
    fputc('\n', f);
}

static void print_json(FILE *f, const mg_proc_info *p)
{
    char user[64], state[2] = {p->state, 0};
    mg_container ct;
    const char *why = not_scannable(p);
    bool in_ct = mg_container_of(p->cgroup, &ct) == 1;
    fprintf(f, "{\"type\":\"process\",\"pid\":%d", (int)p->pid);
    cli_json_u64(f, "ppid", (uint64_t)p->ppid);
    cli_json_u64(f, "uid", p->uid);
    cli_json_u64(f, "euid", p->euid);
    cli_json_str(f, "user", user_name(p->euid, user, sizeof(user)));
    cli_json_str(f, "comm", p->comm);
    cli_json_str(f, "exe", p->exe);
    cli_json_str(f, "cmdline", p->cmdline);
    cli_json_str(f, "state", state);
    cli_json_u64(f, "rss", p->rss);
    cli_json_str(f, "cgroup", p->cgroup);
    if (in_ct) {
        cli_json_str(f, "container", ct.id);
        cli_json_str(f, "runtime", ct.runtime);
    } else {
        fputs(",\"container\":null,\"runtime\":null", f);
    }
    cli_json_bool(f, "scannable", !why);
    if (why)
        cli_json_str(f, "reason", why);
    else
        fputs(",\"reason\":null", f);
    fputs("}\n", f);
}

static int ps_run(void *state)
{
    const ps_state *s = state;
    mg_proc_info **procs = NULL, *all = NULL;
    size_t n = 0, shown = 0;
    int status = EXIT_TROUBLE;
    cli_dest d;
    bool human = cli_sizes_human(s->sizes, &s->listing);
    if (cli_procs_collect(&s->targets, &procs, &n, &all) < 0 || cli_dest_open(&d, &s->listing) < 0)
        goto out;
    if (!s->listing.json)
        fprintf(d.f, "%7s %-10s %10s %-12s %-14s %s\n", "PID", "USER", "RSS", "CONTAINER", "SCAN",
                "COMMAND");
    for (size_t i = 0; i < n; i++) {
        if (!mg_cgroup_selected(procs[i]->cgroup, s->targets.cgroup, s->targets.container))
            continue;
        shown++;
        if (s->listing.json)
            print_json(d.f, procs[i]);
        else
            print_text(d.f, procs[i], human);
    }
    status = cli_dest_close(&d, true) < 0 ? EXIT_TROUBLE : EXIT_MATCH;
    if (status == EXIT_MATCH && !shown) {
        fprintf(stderr, "memgrep: no process selected\n");
        status = EXIT_NO_MATCH;
    }
out:
    cli_procs_release(procs, n, all);
    return status;
}

static const cli_binding ps_groups[] = {
    {&cli_list_targets_group, offsetof(ps_state, targets)},
    {&cli_listing_group, offsetof(ps_state, listing)},
    {&cli_sizes_group, offsetof(ps_state, sizes)},
};

const cli_command cli_cmd_ps = {
    .name = "ps",
    .summary = "list processes: user, RSS, container, whether memgrep can scan them",
    .synopsis = "[OPTIONS]",
    .description =
        "List processes as memgrep sees them: pid, user, resident size, container id (docker,\n"
        "containerd, cri-o, podman, kubepods; from the cgroup path), whether memgrep can scan\n"
        "it and, if not, why (permission, kernel thread, zombie, memgrep itself), and the\n"
        "command line. --json adds ppid, uids, comm, exe, state, cgroup and runtime.",
    .epilogue = "Exit status: 0 processes listed, 1 --container/--cgroup selected none, 2 error.\n",
    .groups = ps_groups,
    .n_groups = sizeof(ps_groups) / sizeof(ps_groups[0]),
    .state_size = sizeof(ps_state),
    .run = ps_run,
};
