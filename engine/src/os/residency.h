/* residency.h - which pages of a target are present (internal).
 *
 * Nothing that is not present is ever read: reading would swap it in, fault
 * in a file page (disk I/O) or allocate shmem in the target. */
#ifndef MG_RESIDENCY_H
#define MG_RESIDENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits_internal.h"

/* /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define MG_PM_PRESENT (1ull << 63)
#define MG_PM_SWAPPED (1ull << 62)
#define MG_PM_FILE (1ull << 61) /* file page or shared anon (shmem) */
#define MG_PM_EXCLUSIVE (1ull << 56) /* mapped by this process only */
#define MG_PM_PFN_MASK ((1ull << 55) - 1) /* frame number; 0 without CAP_SYS_ADMIN */

/* Which reader may copy a page, from its pagemap entry. */
typedef enum mg_page_class {
    MG_PAGE_ABSENT, /* not present: never read */
    MG_PAGE_PVR, /* process_vm_readv: exclusive anon, page cache or shmem */
    MG_PAGE_MEM, /* /proc/PID/mem: anon shared after fork or by KSM (pinning would unshare it),
                    or a page of a mapping without read permission (mem_only) */
} mg_page_class;

/* Pinning an anon page that is not exclusively the target's makes the
 * kernel unshare it (a private copy in the target): those go through
 * /proc/PID/mem, which doesn't pin. File and shmem pages are never
 * unshared; exclusive anon pages have nothing to unshare. mem_only: the
 * mapping has no read permission (--include-noread), which only
 * /proc/PID/mem can read. */
static inline mg_page_class mg_page_classify(uint64_t pm_entry, bool mem_only)
{
    if (!(pm_entry & MG_PM_PRESENT))
        return MG_PAGE_ABSENT;
    if (mem_only)
        return MG_PAGE_MEM;
    if (pm_entry & (MG_PM_FILE | MG_PM_EXCLUSIVE))
        return MG_PAGE_PVR;
    return MG_PAGE_MEM;
}

/* file: every page of the run is a page-cache (or shmem) page, not an
 * anonymous copy: its bytes are the mapped object's at that offset. */
typedef int (*mg_range_fn)(void *ctx, uint64_t start, uint64_t end, bool file);

/*
 * Call fn for each maximal run of present pages in [start, end) (page
 * aligned), in order. With skip_zero, pages that map the shared zero page
 * (read but never written anonymous memory: only zero bytes) are left out
 * where the ioctl can tell them; the fallback reports them as present. Uses the PAGEMAP_SCAN ioctl
 * (Linux 6.7+) while *use_ioctl is true, and clears it (falling back to reading pagemap entries) if
 * the kernel doesn't have it. Walks in bounded steps so the target's mmap_lock is never held for
 * long. Returns 0, fn's non-zero result, or a negative errno (-ESRCH/0-length read: the process is
 * gone).
 */
int mg_present_ranges(int pagemap_fd, uint64_t start, uint64_t end, bool *use_ioctl, bool skip_zero,
                      mg_range_fn fn, void *ctx);

/* Runs of one PAGEMAP_SCAN call that walked on past the region asked for,
 * kept for the next regions (mg_present_ranges_ahead). Zero it to start. */
typedef struct mg_walk_ahead {
    uint64_t lo, hi; /* the runs of [lo, hi) are known */
    size_t n;
    struct mg_ahead_run {
        uint64_t start, end;
        bool file, zero;
    } r[MG_SCAN_VEC];
} mg_walk_ahead;

/* mg_present_ranges of [start, end), but while the ioctl is used one call
 * may walk on to ahead (>= end; its caller bounds the mapped bytes in
 * [start, ahead) to MG_SCAN_STEP), whose runs wa keeps: so a process's
 * small regions, asked for in address order, cost one call, not one each
 * (the holes between them cost the kernel nothing). */
int mg_present_ranges_ahead(mg_walk_ahead *wa, int pagemap_fd, uint64_t start, uint64_t end,
                            uint64_t ahead, bool *use_ioctl, bool skip_zero, mg_range_fn fn,
                            void *ctx);

/* The frame number of the shared zero page, as pagemap shows it to this
 * process (learnt from two pages of its own that were read but never
 * written), or 0 if pagemap hides frame numbers from it (no CAP_SYS_ADMIN),
 * the kernel maps no zero page on a read fault (then no page is taken for
 * one: zero_pfn 0 skips nothing) or the probe fails. *pfns_visible: whether
 * pagemap shows this process frame numbers at all (so on kernels without a
 * zero page, 0 with frame numbers visible). Frame-number visibility is
 * decided when pagemap is opened, by the opener's capabilities: the same
 * for every target. */
uint64_t mg_zero_pfn(bool *pfns_visible);

/* The probe's verdict on the pagemap entries of its two read-faulted
 * pages: their common frame number if both are present, anonymous, not
 * exclusive and on one frame; else 0. */
uint64_t mg_zero_pfn_of(uint64_t e0, uint64_t e1);

/* Whether pagemap entry e maps the zero page (zero_pfn from mg_zero_pfn;
 * 0: not known, never true). Such a page holds only zero bytes. */
static inline bool mg_pm_is_zero(uint64_t e, uint64_t zero_pfn)
{
    return zero_pfn && (e & MG_PM_PRESENT) && (e & MG_PM_PFN_MASK) == zero_pfn;
}

/* Read the pagemap entries of npages pages from page-aligned addr.
 * Returns 0, -ESRCH if the process is gone, or a negative errno. */
int mg_pagemap_read(int pagemap_fd, uint64_t addr, size_t npages, uint64_t *out);

#endif
