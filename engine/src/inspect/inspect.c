/* inspect.c - the investigation API (memgrep maps / dump / strings; the
 * processes of memgrep ps are in processes.c): regions with resident
 * bytes, and copying the present pages of a range. The same /proc readers, page classification
 * and readers as the scan, so the same rules hold: nothing not present is
 * read, shared anon pages are never pinned, special and device mappings and
 * memgrep itself are never read. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "os/maps.h"
#include "memgrep/memgrep.h"
#include "inspect/inspect_internal.h"
#include "os/procs.h"
#include "os/reader.h"
#include "os/residency.h"
#include "util.h"

#define READ_BATCH 256 /* pages per pagemap read and per reader batch */

/* ------------------------------------------------------------------ */
/* Regions                                                             */
/* ------------------------------------------------------------------ */

/* The process whose memory pid names, checked as a target and pinned
 * (os/procs.h: pidfd and start time) in *pin, whose pid is its thread
 * group id. Returns 0 (close the pin) or a code with err filled. */
static int resolve_target(pid_t pid, mg_proc_pin *pin, mg_error *err)
{
    if (pid <= 0)
        return mg_fail(err, MG_EBADPID, "invalid pid %d", (int)pid);
    if (!mg_pid_exists(pid))
        return mg_fail(err, MG_EBADPID, "no such process: %d", (int)pid);
    pid_t tgid = mg_read_tgid(pid);
    if (tgid == getpid())
        return mg_fail(err, MG_EBADPID, "refusing to read memgrep itself: %d", (int)pid);
    int rc = mg_api_code(mg_proc_pin_open(pin, tgid));
    const mg_proc_stat *st = &pin->st;
    if (rc == -ESRCH)
        rc = mg_fail(err, rc, "process %d exited", (int)pid);
    else if (rc < 0)
        rc = mg_fail(err, rc, "read /proc/%d/stat: %s", (int)tgid, mg_strerror(rc));
    else if (st->kthread)
        rc = mg_fail(err, MG_EBADPID, "%d is a kernel thread: it has no user memory", (int)pid);
    else if (st->state == 'Z' || st->state == 'X')
        rc = mg_fail(err, -ESRCH, "process %d exited (zombie)", (int)pid);
    if (rc < 0)
        mg_proc_pin_close(pin);
    return rc;
}

/* Whatever was opened or read since the pin belongs to the same process. */
static int check_identity(const mg_proc_pin *pin, mg_error *err)
{
    int rc = mg_api_code(mg_proc_pin_check(pin));
    if (rc == -ESRCH)
        return mg_fail(err, rc, "process %d exited", (int)pin->pid);
    if (rc < 0)
        return mg_fail(err, rc, "read /proc/%d/stat: %s", (int)pin->pid, mg_strerror(rc));
    return 0;
}

/* resolve_target, then one snapshot of its maps. Returns 0 (then close the
 * pin and free the maps) or a code with err filled (nothing to free). */
static int open_target(pid_t pid, mg_proc_pin *pin, mg_maps *maps, mg_error *err)
{
    *maps = (mg_maps){0};
    int rc = resolve_target(pid, pin, err);
    if (rc < 0)
        return rc;
    rc = mg_api_code(mg_maps_read(pin->pid, maps));
    if (rc < 0) {
        mg_maps_free(maps);
        mg_proc_pin_close(pin);
        return mg_fail(err, rc, "read /proc/%d/maps: %s", (int)pin->pid, mg_strerror(rc));
    }
    return 0; /* lines skipped as malformed don't matter here */
}

static bool never_read(const mg_region *r)
{
    return r->kind == MG_REGION_SPECIAL || r->kind == MG_REGION_DEVICE;
}

/* Whether the region's pagemap entries are counted as resident: every
 * region but device mappings and the kernel's own pages ([vvar...]:
 * VM_PFNMAP, whose present entries smaps' Rss leaves out; [vsyscall]:
 * above the user address space, no pagemap entry). A special region such
 * as [vdso] or [uprobes] is counted (smaps counts its pages), though never
 * read. Reading pagemap reads nothing of the process. */
static bool counts_resident(const mg_region *r)
{
    return r->kind != MG_REGION_DEVICE &&
           !(r->kind == MG_REGION_SPECIAL &&
             (!strncmp(r->path, "[vvar", 5) || !strcmp(r->path, "[vsyscall]")));
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
    mg_proc_pin pin;
    mg_maps maps;
    int rc = open_target(pid, &pin, &maps, err);
    if (rc < 0)
        return rc;
    pid_t tgid = pin.pid;
    int fd = -1;
    mg_region_info *list = NULL;
    if (!(flags & MG_REGIONS_NO_RESIDENT) && (fd = mg_open_proc_file(tgid, "pagemap")) < 0) {
        rc = mg_api_code(fd);
        mg_fail(err, rc, "open /proc/%d/pagemap: %s", (int)tgid, mg_strerror(rc));
        goto out;
    }
    if ((rc = check_identity(&pin, err)) < 0)
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
        ri->region.path = mg_put_string(&s, maps.regions[i].path);
        ri->resident = 0;
        ri->scannable = !never_read(&ri->region) && ri->region.perms[0] == 'r';
        if (fd < 0 || !counts_resident(&ri->region))
            continue;
        rc = mg_present_ranges(fd, ri->region.start, ri->region.end, &use_ioctl, false, add_run,
                               &ri->resident);
        if (rc < 0) {
            rc = mg_api_code(rc);
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
    mg_proc_pin_close(&pin);
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

int mg_range_open(mg_range *r, pid_t pid, uint64_t addr, uint64_t end, mg_error *err)
{
    r->pm_fd = r->mem_fd = -1;
    mg_reader_init(&r->rd, MG_MEM_READER_PREAD);
    int rc = open_target(pid, &r->pin, &r->maps, err);
    if (rc < 0) {
        mg_reader_fini(&r->rd);
        return rc;
    }
    pid_t tgid = r->pin.pid;
    if (!range_region(&r->maps, tgid, addr, end, &rc, err))
        goto fail;
    if ((r->pm_fd = mg_open_proc_file(tgid, "pagemap")) < 0) {
        rc = mg_api_code(r->pm_fd);
        mg_fail(err, rc, "open /proc/%d/pagemap: %s", (int)tgid, mg_strerror(rc));
        goto fail;
    }
    /* only shared anon pages need it: a failure counts when one is met */
    r->mem_fd = mg_open_proc_file(tgid, "mem");
    if ((rc = check_identity(&r->pin, err)) == 0)
        return 0;
fail:
    mg_range_close(r);
    return rc;
}

void mg_range_close(mg_range *r)
{
    mg_reader_fini(&r->rd);
    if (r->mem_fd >= 0)
        close(r->mem_fd);
    if (r->pm_fd >= 0)
        close(r->pm_fd);
    r->pm_fd = r->mem_fd = -1;
    mg_maps_free(&r->maps);
    mg_proc_pin_close(&r->pin);
}

ssize_t mg_range_read(mg_range *r, uint64_t addr, size_t len, void *buf, uint8_t *present,
                      mg_error *err)
{
    pid_t tgid = r->pin.pid;
    size_t npages = len / MG_PAGE_SIZE, total = 0;
    memset(buf, 0, len);
    if (present)
        memset(present, 0, npages);
    bool copied = false; /* target bytes may be in buf */
    int rc = 0;
    uint64_t ent[READ_BATCH];
    mg_read_op pvr[READ_BATCH], mem[READ_BATCH];
    for (size_t p0 = 0; rc == 0 && p0 < npages; p0 += READ_BATCH) {
        size_t k = MG_MIN((size_t)READ_BATCH, npages - p0), n_pvr = 0, n_mem = 0;
        uint64_t a0 = addr + (uint64_t)p0 * MG_PAGE_SIZE;
        rc = mg_api_code(mg_pagemap_read(r->pm_fd, a0, k, ent));
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
        if (n_pvr && (rc = mg_api_code(mg_read_pvr(tgid, pvr, n_pvr))) < 0) {
            mg_fail(err, rc, "process_vm_readv of process %d: %s", (int)tgid, mg_strerror(rc));
            break;
        }
        /* by pid number: bytes read after the process exited may be those
         * of another that reused its pid */
        if (n_pvr && mg_pidfd_exited(r->pin.pidfd)) {
            rc = mg_fail(err, -ESRCH, "process %d exited", (int)tgid);
            break;
        }
        if (n_mem && r->mem_fd < 0) {
            rc = mg_api_code(r->mem_fd);
            mg_fail(err, rc, "open /proc/%d/mem: %s", (int)tgid, mg_strerror(rc));
            break;
        }
        if (n_mem && (rc = mg_api_code(mg_read_mem(&r->rd, r->mem_fd, mem, n_mem))) < 0) {
            mg_fail(err, rc, "read /proc/%d/mem: %s", (int)tgid, mg_strerror(rc));
            break;
        }
        for (size_t i = 0; i < n_pvr; i++)
            total += settle_op(&pvr[i], addr, present);
        for (size_t i = 0; i < n_mem; i++)
            total += settle_op(&mem[i], addr, present);
    }
    /* process_vm_readv goes by pid: make sure it was still the same one */
    if (rc == 0)
        rc = check_identity(&r->pin, err);
    if (rc < 0 && copied) {
        memset(buf, 0, len);
        if (present)
            memset(present, 0, npages);
    }
    return rc < 0 ? rc : (ssize_t)total;
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
    memset(buf, 0, len);
    if (present)
        memset(present, 0, len / MG_PAGE_SIZE);
    mg_range r;
    int rc = mg_range_open(&r, pid, addr, end, err);
    if (rc < 0)
        return rc;
    ssize_t got = mg_range_read(&r, addr, len, buf, present, err);
    mg_range_close(&r);
    return got;
}
