/* residency.c - present-page ranges from PAGEMAP_SCAN or pagemap entries. */
#include "os/residency.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

/* The Linux 6.7 uapi, for headers that predate it (Debian 12 ships 6.1). */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_PFNZERO (1 << 5)
struct page_region {
    uint64_t start, end, categories;
};
struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/* Joins runs that touch across step boundaries before handing them on. */
typedef struct run_merger {
    uint64_t start, end;
    bool file;
    mg_range_fn fn;
    void *ctx;
} run_merger;

static int merge_push(run_merger *m, uint64_t start, uint64_t end, bool file)
{
    if (m->end == start && m->end != 0 && m->file == file) {
        m->end = end;
        return 0;
    }
    int rc = m->end ? m->fn(m->ctx, m->start, m->end, m->file) : 0;
    m->start = start;
    m->end = end;
    m->file = file;
    return rc;
}

static int merge_finish(run_merger *m)
{
    int rc = m->end ? m->fn(m->ctx, m->start, m->end, m->file) : 0;
    m->start = m->end = 0;
    return rc;
}

/* *pos: where the walk got to (runs before it are in m or passed on), so
 * that a fallback goes on from there. */
static int walk_ioctl(int fd, uint64_t *pos_io, uint64_t end, bool skip_zero, run_merger *m)
{
    struct page_region vec[MG_SCAN_VEC];
    uint64_t pos = *pos_io;
    while (pos < end) {
        struct pm_scan_arg arg = {
            .size = sizeof(arg),
            .start = pos,
            .end = MG_MIN(end, pos + MG_SCAN_STEP),
            .vec = (uint64_t)(uintptr_t)vec,
            .vec_len = MG_SCAN_VEC,
            /* present, and (with skip_zero) not the zero page */
            .category_inverted = skip_zero ? PAGE_IS_PFNZERO : 0,
            .category_mask = PAGE_IS_PRESENT | (skip_zero ? PAGE_IS_PFNZERO : 0),
            .return_mask = PAGE_IS_PRESENT | PAGE_IS_FILE,
        };
        long n = ioctl(fd, PAGEMAP_SCAN, &arg);
        if (n < 0)
            return -errno;
        for (long i = 0; i < n; i++) {
            int rc =
                merge_push(m, vec[i].start, vec[i].end, (vec[i].categories & PAGE_IS_FILE) != 0);
            if (rc)
                return rc;
        }
        if (arg.walk_end <= pos)
            return -EIO; /* no progress: never loop forever */
        pos = *pos_io = arg.walk_end;
    }
    return 0;
}

int mg_pagemap_read(int fd, uint64_t addr, size_t npages, uint64_t *out)
{
    size_t want = npages * sizeof(uint64_t), got = 0;
    off_t off = (off_t)(addr / MG_PAGE_SIZE * sizeof(uint64_t));
    while (got < want) {
        ssize_t r = pread(fd, (char *)out + got, want - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -ESRCH; /* the mm is gone: the process exited */
        got += (size_t)r;
    }
    return 0;
}

uint64_t mg_zero_pfn_of(uint64_t e0, uint64_t e1)
{
    /* The zero page is present, anonymous and mapped by every process:
     * never exclusive. Both pages on one frame: the same page. */
    const uint64_t kind = MG_PM_PRESENT | MG_PM_FILE | MG_PM_EXCLUSIVE;
    if ((e0 & kind) != MG_PM_PRESENT || (e1 & kind) != MG_PM_PRESENT)
        return 0;
    uint64_t pfn = e0 & MG_PM_PFN_MASK;
    return pfn == (e1 & MG_PM_PFN_MASK) ? pfn : 0;
}

uint64_t mg_zero_pfn(bool *pfns_visible)
{
    *pfns_visible = false;
    /* Two private anonymous pages, read but never written: each maps the
     * zero page (4 KiB: MADV_NOHUGEPAGE keeps the huge zero page out) on
     * kernels that have one. Kernels without (pvm_no_zero_page=1, some
     * hypervisor guests) fault in a fresh zeroed page for each: exclusive,
     * and never two on one frame, so a fork by another thread between the
     * read and the pagemap read (the pages then shared) can't fool it. */
    volatile uint8_t *pg =
        mmap(NULL, 2 * MG_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pg == MAP_FAILED)
        return 0;
    madvise((void *)pg, 2 * MG_PAGE_SIZE, MADV_NOHUGEPAGE);
    (void)pg[0];
    (void)pg[MG_PAGE_SIZE];
    uint64_t e[2], pfn = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && mg_pagemap_read(fd, (uint64_t)(uintptr_t)pg, 2, e) == 0) {
        pfn = mg_zero_pfn_of(e[0], e[1]);
        *pfns_visible = (e[0] & MG_PM_PRESENT) && (e[0] & MG_PM_PFN_MASK);
    }
    if (fd >= 0)
        close(fd);
    munmap((void *)pg, 2 * MG_PAGE_SIZE);
    return pfn;
}

static int walk_entries(int fd, uint64_t start, uint64_t end, run_merger *m)
{
    uint64_t ent[MG_ENTRY_STEP];
    for (uint64_t pos = start; pos < end;) {
        size_t n = (size_t)MG_MIN((uint64_t)MG_ENTRY_STEP, (end - pos) / MG_PAGE_SIZE);
        int rc = mg_pagemap_read(fd, pos, n, ent);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (!(ent[i] & MG_PM_PRESENT))
                continue;
            uint64_t a = pos + i * MG_PAGE_SIZE;
            rc = merge_push(m, a, a + MG_PAGE_SIZE, (ent[i] & MG_PM_FILE) != 0);
            if (rc)
                return rc;
        }
        pos += n * MG_PAGE_SIZE;
    }
    return 0;
}

int mg_present_ranges(int fd, uint64_t start, uint64_t end, bool *use_ioctl, bool skip_zero,
                      mg_range_fn fn, void *ctx)
{
    run_merger m = {.fn = fn, .ctx = ctx};
    int rc = -ENOTTY;
    uint64_t pos = start;
    if (*use_ioctl) {
        rc = walk_ioctl(fd, &pos, end, skip_zero, &m);
        /* Refused (an old kernel, or a call it rejects): the entries go on
         * from where the ioctl got, with its runs so far kept (and merged
         * across), so none is reported twice. */
        if (rc == -ENOTTY || rc == -EINVAL || rc == -EOPNOTSUPP)
            *use_ioctl = false;
    }
    if (!*use_ioctl)
        rc = walk_entries(fd, pos, end, &m);
    if (rc)
        return rc;
    return merge_finish(&m);
}

/* One call from pos to at most to: its runs (zero pages told apart) into wa. */
static int ahead_fill(mg_walk_ahead *wa, int fd, uint64_t pos, uint64_t to)
{
    struct page_region vec[MG_SCAN_VEC];
    struct pm_scan_arg arg = {
        .size = sizeof(arg),
        .start = pos,
        .end = to,
        .vec = (uint64_t)(uintptr_t)vec,
        .vec_len = MG_SCAN_VEC,
        .category_mask = PAGE_IS_PRESENT,
        .return_mask = PAGE_IS_PRESENT | PAGE_IS_FILE | PAGE_IS_PFNZERO,
    };
    long n = ioctl(fd, PAGEMAP_SCAN, &arg);
    if (n < 0)
        return -errno;
    if (arg.walk_end <= pos)
        return -EIO; /* no progress: never loop forever */
    for (long i = 0; i < n; i++)
        wa->r[i] =
            (struct mg_ahead_run){vec[i].start, vec[i].end, (vec[i].categories & PAGE_IS_FILE) != 0,
                                  (vec[i].categories & PAGE_IS_PFNZERO) != 0};
    wa->n = (size_t)n;
    wa->lo = pos;
    wa->hi = arg.walk_end;
    return 0;
}

int mg_present_ranges_ahead(mg_walk_ahead *wa, int fd, uint64_t start, uint64_t end, uint64_t ahead,
                            bool *use_ioctl, bool skip_zero, mg_range_fn fn, void *ctx)
{
    run_merger m = {.fn = fn, .ctx = ctx};
    uint64_t pos = start;
    while (*use_ioctl && pos < end) {
        if (pos < wa->lo || pos >= wa->hi) {
            /* past the region: as far as the caller allows; within it:
             * bounded steps, as mg_present_ranges */
            uint64_t to = ahead > end ? ahead : MG_MIN(end, pos + MG_SCAN_STEP);
            int rc = ahead_fill(wa, fd, pos, to);
            if (rc == -ENOTTY || rc == -EINVAL || rc == -EOPNOTSUPP) {
                *use_ioctl = false;
                break;
            }
            if (rc)
                return rc;
        }
        uint64_t lim = MG_MIN(end, wa->hi);
        for (size_t i = 0; i < wa->n; i++) {
            uint64_t a = MG_MAX(wa->r[i].start, pos), b = MG_MIN(wa->r[i].end, lim);
            if (a >= b || (skip_zero && wa->r[i].zero))
                continue;
            int rc = merge_push(&m, a, b, wa->r[i].file);
            if (rc)
                return rc;
        }
        pos = lim;
    }
    if (pos < end) {
        int rc = walk_entries(fd, pos, end, &m); /* no ioctl (any more) */
        if (rc)
            return rc;
    }
    return merge_finish(&m);
}
