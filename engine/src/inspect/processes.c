/* processes.c - the processes of the investigation API (memgrep ps):
 * mg_proc_list and mg_proc_get, each process with its identity read
 * between two start-time checks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inspect/inspect_internal.h"
#include "memgrep/memgrep.h"
#include "os/procs.h"
#include "util.h"

/* One process before packing: the info with its strings held apart. */
typedef struct proc_raw {
    mg_proc_info info;
    char comm[64];
    char *str[3]; /* exe, cgroup, cmdline (malloc'd) */
} proc_raw;

static void raw_clear(proc_raw *r)
{
    for (int i = 0; i < 3; i++) {
        free(r->str[i]);
        r->str[i] = NULL;
    }
}

/* Whether memgrep may read pid's memory: /proc/PID/mem opens (the
 * kernel's ptrace access check, nothing attached; closed at once). */
static bool may_read_memory(pid_t pid)
{
    int fd = mg_open_proc_file(pid, "mem");
    if (fd >= 0)
        close(fd);
    return fd >= 0 || (fd != -EACCES && fd != -EPERM);
}

/* Read the identity of thread group pid. Returns 0, -ENOENT/-ESRCH when it
 * is gone (or the pid was reused while reading), -ENOMEM, or another
 * negative errno from /proc/PID/stat or status. */
static int read_proc(pid_t pid, proc_raw *r)
{
    mg_proc_stat st0, st1;
    mg_proc_status ps;
    memset(r, 0, sizeof(*r));
    int rc = mg_read_proc_stat(pid, &st0);
    if (rc == 0)
        rc = mg_read_proc_status(pid, &ps);
    if (rc < 0)
        return rc;
    mg_read_comm(pid, r->comm, sizeof(r->comm));
    r->str[0] = mg_read_exe(pid);
    r->str[1] = mg_read_cgroup(pid);
    r->str[2] = mg_read_cmdline(pid);
    r->info.rss = mg_read_rss(pid);
    rc = r->str[0] && r->str[1] && r->str[2] ? 0 : -ENOMEM;
    /* everything read belongs to the process whose start time we saw */
    if (rc == 0)
        rc = mg_read_proc_stat(pid, &st1);
    if (rc == 0 && st1.starttime != st0.starttime)
        rc = -ESRCH;
    if (rc < 0) {
        raw_clear(r);
        return rc;
    }
    mg_proc_info *in = &r->info;
    in->pid = pid;
    in->ppid = ps.ppid;
    in->starttime = st0.starttime;
    in->uid = ps.uid;
    in->euid = ps.euid;
    in->state = st1.state;
    in->flags = (st0.kthread ? MG_PROC_KTHREAD : 0u) |
                (st1.state == 'Z' || st1.state == 'X' ? MG_PROC_ZOMBIE : 0u) |
                (pid == getpid() ? MG_PROC_SELF : 0u);
    if (!in->flags && !may_read_memory(pid))
        in->flags |= MG_PROC_NOACCESS;
    return 0;
}

/* One block: the infos, then their strings. Clears raw. */
static mg_proc_info *pack_procs(proc_raw *raw, size_t n)
{
    size_t bytes = n * sizeof(mg_proc_info);
    for (size_t i = 0; i < n; i++) {
        bytes += strlen(raw[i].comm) + 1;
        for (int j = 0; j < 3; j++)
            bytes += strlen(raw[i].str[j]) + 1;
    }
    mg_proc_info *out = malloc(MG_MAX(bytes, (size_t)1));
    char *s = out ? (char *)(out + n) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (out) {
            out[i] = raw[i].info;
            out[i].comm = mg_put_string(&s, raw[i].comm);
            out[i].exe = mg_put_string(&s, raw[i].str[0]);
            out[i].cgroup = mg_put_string(&s, raw[i].str[1]);
            out[i].cmdline = mg_put_string(&s, raw[i].str[2]);
        }
        raw_clear(&raw[i]);
    }
    return out;
}

MG_API int mg_proc_list(mg_proc_info **out, size_t *n, mg_error *err)
{
    if (!out || !n)
        return mg_fail(err, -EINVAL, "mg_proc_list: out and n must not be NULL");
    *out = NULL;
    *n = 0;
    pid_t *pids = NULL;
    size_t np = 0, k = 0;
    int rc = mg_list_pids(&pids, &np);
    if (rc < 0)
        return mg_fail(err, rc, "list /proc: %s", mg_strerror(rc));
    proc_raw *raw = malloc(MG_MAX(np, (size_t)1) * sizeof(*raw));
    rc = raw ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < np; i++) {
        int r = read_proc(pids[i], &raw[k]);
        if (r == 0)
            k++;
        else if (r == -ENOMEM)
            rc = r;
        /* else gone while listing, or hidden from us: left out */
    }
    if (rc == 0) {
        *out = pack_procs(raw, k);
        rc = *out ? 0 : -ENOMEM;
        if (rc == 0)
            *n = k;
    } else {
        for (size_t i = 0; i < k; i++)
            raw_clear(&raw[i]);
    }
    free(raw);
    free(pids);
    if (rc < 0)
        return mg_fail(err, rc, "list processes: %s", mg_strerror(rc));
    return 0;
}

MG_API int mg_pids_list(pid_t **out, size_t *n)
{
    if (!out || !n)
        return -EINVAL;
    *out = NULL;
    *n = 0;
    return mg_list_pids(out, n);
}

MG_API void mg_pids_free(pid_t **pids)
{
    if (!pids)
        return;
    free(*pids);
    *pids = NULL;
}

MG_API int mg_proc_get(pid_t pid, mg_proc_info **out, mg_error *err)
{
    if (!out)
        return mg_fail(err, -EINVAL, "mg_proc_get: out must not be NULL");
    *out = NULL;
    if (pid <= 0)
        return mg_fail(err, MG_EBADPID, "invalid pid %d", (int)pid);
    if (!mg_pid_exists(pid))
        return mg_fail(err, MG_EBADPID, "no such process: %d", (int)pid);
    proc_raw raw;
    int rc = read_proc(mg_read_tgid(pid), &raw);
    if (rc < 0) {
        rc = mg_api_code(rc);
        if (rc == -ESRCH)
            return mg_fail(err, rc, "process %d exited", (int)pid);
        return mg_fail(err, rc, "read /proc/%d: %s", (int)pid, mg_strerror(rc));
    }
    *out = pack_procs(&raw, 1);
    return *out ? 0 : mg_fail(err, -ENOMEM, "out of memory");
}

MG_API void mg_proc_info_free(mg_proc_info **info)
{
    if (!info)
        return;
    free(*info);
    *info = NULL;
}
