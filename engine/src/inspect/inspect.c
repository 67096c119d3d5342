/* inspect.c - the investigation API (memgrep ps / maps / dump / strings):
 * processes with their identity, regions with resident bytes, and copying
 * the present pages of a range. The same /proc readers, page classification
 * and readers as the scan, so the same rules hold: nothing not present is
 * read, shared anon pages are never pinned, special and device mappings and
 * memgrep itself are never read. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/maps.h"
#include "memgrep/memgrep.h"
#include "inspect/inspect_internal.h"
#include "os/procs.h"
#include "os/reader.h"
#include "os/residency.h"
#include "util.h"

#define READ_BATCH 256 /* pages per pagemap read and per reader batch */

/* Errors of /proc files in the terms of the API: a vanished /proc/PID is
 * the process gone, and a denied read is a permission problem whichever
 * errno the kernel chose (open says EACCES, process_vm_readv EPERM). */
static int api_code(int rc)
{
    if (rc == -ENOENT)
        return -ESRCH;
    if (rc == -EPERM)
        return -EACCES;
    return rc;
}

static int open_proc_file(pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* ------------------------------------------------------------------ */
/* Processes                                                           */
/* ------------------------------------------------------------------ */

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
    int fd = open_proc_file(pid, "mem");
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

static const char *put_string(char **s, const char *src)
{
    size_t n = strlen(src) + 1;
    char *d = memcpy(*s, src, n);
    *s += n;
    return d;
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
            out[i].comm = put_string(&s, raw[i].comm);
            out[i].exe = put_string(&s, raw[i].str[0]);
            out[i].cgroup = put_string(&s, raw[i].str[1]);
            out[i].cmdline = put_string(&s, raw[i].str[2]);
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

/* pid exists now (as a process or a thread id). */
static bool pid_exists(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    return access(path, F_OK) == 0;
}

MG_API int mg_proc_get(pid_t pid, mg_proc_info **out, mg_error *err)
{
    if (!out)
        return mg_fail(err, -EINVAL, "mg_proc_get: out must not be NULL");
    *out = NULL;
    if (pid <= 0)
        return mg_fail(err, MG_EBADPID, "invalid pid %d", (int)pid);
    if (!pid_exists(pid))
        return mg_fail(err, MG_EBADPID, "no such process: %d", (int)pid);
    proc_raw raw;
    int rc = read_proc(mg_read_tgid(pid), &raw);
    if (rc < 0) {
        rc = api_code(rc);
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

/* ------------------------------------------------------------------ */
/* Regions                                                             */
/* ------------------------------------------------------------------ */

/* The process whose memory pid names, checked as a target: its thread
 * group id and stat (start time) in *tgid and *st. Returns 0 or a code
 * with err filled. */
static int resolve_target(pid_t pid, pid_t *tgid, mg_proc_stat *st, mg_error *err)
{
    if (pid <= 0)
        return mg_fail(err, MG_EBADPID, "invalid pid %d", (int)pid);
    if (!pid_exists(pid))
        return mg_fail(err, MG_EBADPID, "no such process: %d", (int)pid);
    *tgid = mg_read_tgid(pid);
    if (*tgid == getpid())
        return mg_fail(err, MG_EBADPID, "refusing to read memgrep itself: %d", (int)pid);
    int rc = api_code(mg_read_proc_stat(*tgid, st));
    if (rc == -ESRCH)
        return mg_fail(err, rc, "process %d exited", (int)pid);
    if (rc < 0)
        return mg_fail(err, rc, "read /proc/%d/stat: %s", (int)*tgid, mg_strerror(rc));
    if (st->kthread)
        return mg_fail(err, MG_EBADPID, "%d is a kernel thread: it has no user memory", (int)pid);
    if (st->state == 'Z' || st->state == 'X')
        return mg_fail(err, -ESRCH, "process %d exited (zombie)", (int)pid);
    return 0;
}

/* Whatever was opened or read since st0 belongs to the same process. */
static int check_identity(pid_t tgid, const mg_proc_stat *st0, mg_error *err)
{
    mg_proc_stat st1;
    int rc = api_code(mg_read_proc_stat(tgid, &st1));
    if (rc == 0 && st1.starttime != st0->starttime)
        rc = -ESRCH;
    if (rc == -ESRCH)
        return mg_fail(err, rc, "process %d exited", (int)tgid);
    if (rc < 0)
        return mg_fail(err, rc, "read /proc/%d/stat: %s", (int)tgid, mg_strerror(rc));
    return 0;
}

static bool never_read(const mg_region *r)
{
    return r->kind == MG_REGION_SPECIAL || r->kind == MG_REGION_DEVICE;
}

static int add_run(void *ctx, uint64_t start, uint64_t end, bool file)
{
    (void)file;
    *(uint64_t *)ctx += end - start;
    return 0;
}

MG_API int mg_regions_get(pid_t pid, unsigned flags, mg_region_info **out, size_t *n, mg_error *err)
{
    if (!out || !n)
        return mg_fail(err, -EINVAL, "mg_regions_get: out and n must not be NULL");
    *out = NULL;
    *n = 0;
    if (flags & ~(unsigned)(MG_REGIONS_NO_RESIDENT | MG_REGIONS_PAGEMAP))
        return mg_fail(err, -EINVAL, "mg_regions_get: unknown flags 0x%x", flags);
    pid_t tgid;
    mg_proc_stat st;
    int rc = resolve_target(pid, &tgid, &st, err);
    if (rc < 0)
        return rc;

    mg_maps maps = {0};
    int fd = -1;
    mg_region_info *list = NULL;
    rc = api_code(mg_maps_read(tgid, &maps));
    if (rc < 0) {
        mg_fail(err, rc, "read /proc/%d/maps: %s", (int)tgid, mg_strerror(rc));
        goto out;
    }
    if (!(flags & MG_REGIONS_NO_RESIDENT) && (fd = open_proc_file(tgid, "pagemap")) < 0) {
        rc = api_code(fd);
        mg_fail(err, rc, "open /proc/%d/pagemap: %s", (int)tgid, mg_strerror(rc));
        goto out;
    }
    if ((rc = check_identity(tgid, &st, err)) < 0)
        goto out;

    size_t bytes = maps.n * sizeof(*list);
    for (size_t i = 0; i < maps.n; i++)
        bytes += strlen(maps.regions[i].path) + 1;
    list = malloc(MG_MAX(bytes, (size_t)1));
    if (!list) {
        rc = mg_fail(err, -ENOMEM, "out of memory");
        goto out;
    }
    char *s = (char *)(list + maps.n);
    bool use_ioctl = !(flags & MG_REGIONS_PAGEMAP);
    for (size_t i = 0; i < maps.n; i++) {
        mg_region_info *ri = &list[i];
        ri->region = maps.regions[i];
        ri->region.path = put_string(&s, maps.regions[i].path);
        ri->resident = 0;
        ri->scannable = !never_read(&ri->region) && ri->region.perms[0] == 'r';
        if (fd < 0 || never_read(&ri->region))
            continue;
        rc = mg_present_ranges(fd, ri->region.start, ri->region.end, &use_ioctl, false, add_run,
                               &ri->resident);
        if (rc < 0) {
            rc = api_code(rc);
            mg_fail(err, rc, "read /proc/%d/pagemap at 0x%" PRIx64 ": %s", (int)tgid,
                    ri->region.start, mg_strerror(rc));
            goto out;
        }
    }
    *out = list;
    *n = maps.n;
    list = NULL;
    rc = 0;
out:
    free(list);
    if (fd >= 0)
        close(fd);
    mg_maps_free(&maps);
    return rc;
}

MG_API void mg_regions_free(mg_region_info **list)
{
    if (!list)
        return;
    free(*list);
    *list = NULL;
}

/* ------------------------------------------------------------------ */
/* Reading present pages                                               */
/* ------------------------------------------------------------------ */

/* The one readable, scannable mapping holding [addr, end), or NULL with
 * err filled and *rc set. */
static const mg_region *range_region(const mg_maps *maps, pid_t pid, uint64_t addr, uint64_t end,
                                     int *rc, mg_error *err)
{
    for (size_t i = 0; i < maps->n; i++) {
        const mg_region *r = &maps->regions[i];
        if (addr < r->start || addr >= r->end)
            continue;
        if (end > r->end)
            break;
        if (never_read(r)) {
            *rc = mg_fail(err, -EPERM,
                          "[0x%" PRIx64 ", 0x%" PRIx64 ") of process %d is in %s, a %s mapping "
                          "memgrep never reads",
                          addr, end, (int)pid, r->path[0] ? r->path : "a mapping",
                          mg_region_kind_name(r->kind));
            return NULL;
        }
        if (r->perms[0] != 'r') {
            *rc = mg_fail(err, -EPERM,
                          "[0x%" PRIx64 ", 0x%" PRIx64 ") of process %d is in a mapping "
                          "without read permission (%s)",
                          addr, end, (int)pid, r->perms);
            return NULL;
        }
        return r;
    }
    *rc = mg_fail(err, -EINVAL,
                  "[0x%" PRIx64 ", 0x%" PRIx64 ") is not inside one mapping of process %d", addr,
                  end, (int)pid);
    return NULL;
}

int mg_check_range(pid_t pid, uint64_t addr, uint64_t end, mg_error *err)
{
    pid_t tgid;
    mg_proc_stat st;
    int rc = resolve_target(pid, &tgid, &st, err);
    if (rc < 0)
        return rc;
    mg_maps maps = {0};
    rc = api_code(mg_maps_read(tgid, &maps));
    if (rc < 0) {
        mg_maps_free(&maps);
        return mg_fail(err, rc, "read /proc/%d/maps: %s", (int)tgid, mg_strerror(rc));
    }
    rc = 0;
    range_region(&maps, tgid, addr, end, &rc, err);
    mg_maps_free(&maps);
    return rc;
}

/* A page's reader in a batch: runs of pages of one class become one op. */
static void add_op(mg_read_op *ops, size_t *n, uint64_t addr, size_t len, uint8_t *dst)
{
    ops[(*n)++] = (mg_read_op){.addr = addr, .len = len, .dst = dst};
}

/* Mark the pages an op read in full; zero what a failed op left half-read.
 * Returns the bytes of whole pages read. */
static size_t settle_op(const mg_read_op *op, uint64_t base, uint8_t *present)
{
    size_t full = op->got / MG_PAGE_SIZE * MG_PAGE_SIZE;
    if (full < op->len)
        memset(op->dst + full, 0, op->len - full);
    if (present)
        memset(present + (op->addr - base) / MG_PAGE_SIZE, 1, full / MG_PAGE_SIZE);
    return full;
}

MG_API ssize_t mg_read_present(pid_t pid, uint64_t addr, size_t len, void *buf, uint8_t *present,
                               mg_error *err)
{
    if (!buf)
        return mg_fail(err, -EINVAL, "mg_read_present: buf must not be NULL");
    uint64_t end = addr + len;
    if (!len || addr % MG_PAGE_SIZE || len % MG_PAGE_SIZE || end < addr)
        return mg_fail(err, -EINVAL,
                       "range 0x%" PRIx64 " + %zu: must be non-empty and page aligned (%u)", addr,
                       len, MG_PAGE_SIZE);
    size_t npages = len / MG_PAGE_SIZE, total = 0;
    memset(buf, 0, len);
    if (present)
        memset(present, 0, npages);
    pid_t tgid;
    mg_proc_stat st;
    int rc = resolve_target(pid, &tgid, &st, err);
    if (rc < 0)
        return rc;

    mg_maps maps = {0};
    int pm_fd = -1, mem_fd = -1;
    bool copied = false; /* target bytes may be in buf */
    rc = api_code(mg_maps_read(tgid, &maps));
    if (rc < 0) {
        mg_fail(err, rc, "read /proc/%d/maps: %s", (int)tgid, mg_strerror(rc));
        goto out;
    }
    rc = 0; /* lines skipped as malformed don't matter here */
    if (!range_region(&maps, tgid, addr, end, &rc, err))
        goto out;
    if ((pm_fd = open_proc_file(tgid, "pagemap")) < 0) {
        rc = api_code(pm_fd);
        mg_fail(err, rc, "open /proc/%d/pagemap: %s", (int)tgid, mg_strerror(rc));
        goto out;
    }
    /* only shared anon pages need it: a failure counts when one is met */
    mem_fd = open_proc_file(tgid, "mem");
    if ((rc = check_identity(tgid, &st, err)) < 0)
        goto out;

    mg_reader rd;
    mg_reader_init(&rd, MG_MEM_READER_PREAD);
    uint64_t ent[READ_BATCH];
    mg_read_op pvr[READ_BATCH], mem[READ_BATCH];
    for (size_t p0 = 0; rc == 0 && p0 < npages; p0 += READ_BATCH) {
        size_t k = MG_MIN((size_t)READ_BATCH, npages - p0), n_pvr = 0, n_mem = 0;
        uint64_t a0 = addr + (uint64_t)p0 * MG_PAGE_SIZE;
        rc = api_code(mg_pagemap_read(pm_fd, a0, k, ent));
        if (rc < 0) {
            mg_fail(err, rc, "read /proc/%d/pagemap at 0x%" PRIx64 ": %s", (int)tgid, a0,
                    mg_strerror(rc));
            break;
        }
        for (size_t i = 0, j; i < k; i = j) {
            mg_page_class cls = mg_page_classify(ent[i], false);
            for (j = i + 1; j < k && mg_page_classify(ent[j], false) == cls; j++)
                ;
            uint8_t *dst = (uint8_t *)buf + (p0 + i) * MG_PAGE_SIZE;
            if (cls == MG_PAGE_PVR)
                add_op(pvr, &n_pvr, a0 + i * MG_PAGE_SIZE, (j - i) * MG_PAGE_SIZE, dst);
            else if (cls == MG_PAGE_MEM)
                add_op(mem, &n_mem, a0 + i * MG_PAGE_SIZE, (j - i) * MG_PAGE_SIZE, dst);
        }
        copied |= n_pvr || n_mem;
        if (n_pvr && (rc = api_code(mg_read_pvr(tgid, pvr, n_pvr))) < 0) {
            mg_fail(err, rc, "process_vm_readv of process %d: %s", (int)tgid, mg_strerror(rc));
            break;
        }
        if (n_mem && mem_fd < 0) {
            rc = api_code(mem_fd);
            mg_fail(err, rc, "open /proc/%d/mem: %s", (int)tgid, mg_strerror(rc));
            break;
        }
        if (n_mem && (rc = api_code(mg_read_mem(&rd, mem_fd, mem, n_mem))) < 0) {
            mg_fail(err, rc, "read /proc/%d/mem: %s", (int)tgid, mg_strerror(rc));
            break;
        }
        for (size_t i = 0; i < n_pvr; i++)
            total += settle_op(&pvr[i], addr, present);
        for (size_t i = 0; i < n_mem; i++)
            total += settle_op(&mem[i], addr, present);
    }
    mg_reader_fini(&rd);
    /* process_vm_readv goes by pid: make sure it was still the same one */
    if (rc == 0)
        rc = check_identity(tgid, &st, err);
out:
    if (rc < 0 && copied) {
        memset(buf, 0, len);
        if (present)
            memset(present, 0, npages);
    }
    if (mem_fd >= 0)
        close(mem_fd);
    if (pm_fd >= 0)
        close(pm_fd);
    mg_maps_free(&maps);
    return rc < 0 ? rc : (ssize_t)total;
}
