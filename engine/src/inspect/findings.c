/* findings.c - signs of fileless or tampered code in one process
 * (mg_findings_get, memgrep check): its identity (stat, comm, exe), its
 * mappings (mg_regions_get, maps only) and its pagemap, read here, then
 * the findings made of them (findings/make.c) between two start-time
 * checks; the kinds' and severities' names. Nothing is attached; the only
 * memory read is present pages (arguments, environment, copies of code). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "findings/findings.h"
#include "inspect/inspect_internal.h"
#include "memgrep/memgrep.h"
#include "os/procs.h"
#include "util.h"

MG_API const char *mg_finding_kind_name(mg_finding_kind kind)
{
    static const char *const names[MG_FINDING_KINDS] = {
        "memfd_exec", "deleted_exe", "anon_exec",    "rwx",
        "traced",     "masquerade",  "patched_code", "preload",
    };
    return (unsigned)kind < MG_FINDING_KINDS ? names[kind] : "unknown";
}

MG_API const char *mg_severity_name(mg_severity severity)
{
    switch (severity) {
    case MG_SEVERITY_LOW:
        return "low";
    case MG_SEVERITY_MEDIUM:
        return "medium";
    case MG_SEVERITY_HIGH:
        return "high";
    }
    return "unknown";
}

/* The process pid names, with mg_proc_get's codes, but only what a
 * finding needs (no cgroup, cmdline, rss or access probe): its thread
 * group id, stat, comm and exe into src (exe malloc'd). */
static int read_ident(pid_t pid, mg_findings_src *src, mg_proc_stat *st, char *comm, size_t cap,
                      mg_error *err)
{
    if (pid <= 0 || !mg_pid_exists(pid))
        return mg_fail(err, MG_EBADPID, "no such process: %d", (int)pid);
    src->pid = mg_read_tgid(pid);
    if (src->pid == getpid())
        return mg_fail(err, MG_EBADPID, "process %d: memgrep itself", (int)src->pid);
    int rc = mg_read_proc_stat(src->pid, st);
    if (rc < 0) {
        rc = mg_api_code(rc);
        return mg_fail(err, rc, "read /proc/%d/stat: %s", (int)src->pid, mg_strerror(rc));
    }
    if (st->kthread)
        return mg_fail(err, MG_EBADPID, "process %d: a kernel thread", (int)src->pid);
    if (st->state == 'Z' || st->state == 'X')
        return mg_fail(err, -ESRCH, "process %d is a zombie", (int)src->pid);
    src->st = st;
    mg_read_comm(src->pid, comm, cap);
    src->comm = comm;
    src->exe = mg_read_exe(src->pid);
    return src->exe ? 0 : mg_fail(err, -ENOMEM, "out of memory");
}

/* Its regions (mg_regions_get's, maps only) as one array into *rs. */
static int read_regions(mg_findings_src *src, mg_region_info **list, mg_region **rs, mg_error *err)
{
    size_t n = 0;
    int rc = mg_regions_get(src->pid, MG_REGIONS_NO_RESIDENT, list, &n, err);
    if (rc < 0)
        return rc;
    *rs = malloc(MG_MAX(n, (size_t)1) * sizeof(**rs));
    if (!*rs)
        return mg_fail(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        (*rs)[i] = (*list)[i].region;
    src->regions = *rs;
    src->n_regions = n;
    int pm = mg_open_proc_file(src->pid, "pagemap");
    if (pm < 0)
        return mg_fail(err, mg_api_code(pm), "open /proc/%d/pagemap: %s", (int)src->pid,
                       mg_strerror(mg_api_code(pm)));
    src->pagemap_fd = pm;
    /* only copies of code shared after fork are read through it */
    src->mem_fd = mg_open_proc_file(src->pid, "mem");
    return 0;
}

MG_API int mg_findings_get(pid_t pid, mg_finding **out, size_t *n, mg_error *err)
{
    if (!out || !n)
        return mg_fail(err, -EINVAL, "mg_findings_get: out and n must not be NULL");
    *out = NULL;
    *n = 0;
    mg_findings_src src = {.pagemap_fd = -1, .mem_fd = -1};
    mg_proc_stat st0, st1;
    bool by_pid; /* always: everything here is read by pid number */
    char comm[64];
    mg_region_info *list = NULL;
    mg_region *rs = NULL;
    int rc = read_ident(pid, &src, &st0, comm, sizeof(comm), err);
    if (rc == 0)
        rc = read_regions(&src, &list, &rs, err);
    if (rc == 0)
        rc = mg_findings_make(&src, out, n, &by_pid, err);
    /* everything read belongs to the process whose start time we saw */
    if (rc == 0 && (mg_read_proc_stat(src.pid, &st1) < 0 || st1.starttime != st0.starttime)) {
        mg_findings_free(out);
        *n = 0;
        rc = mg_fail(err, -ESRCH, "process %d exited", (int)src.pid);
    }
    if (src.pagemap_fd >= 0)
        close(src.pagemap_fd);
    if (src.mem_fd >= 0)
        close(src.mem_fd);
    free(rs);
    mg_regions_free(&list);
    free((char *)src.exe);
    return rc;
}
