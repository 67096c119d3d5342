/* test_residency.c - present-page runs (engine/src/os/residency.c) on this
 * process's own mappings, whose present pages the test chooses: the
 * PAGEMAP_SCAN ioctl and the pagemap-entries fallback must give the same
 * runs; mg_pagemap_read and mg_page_classify on known pages. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "os/maps.h"
#include "os/residency.h"
#include "util.h"

#define PAGE 4096u

/* ioctl, wrapped (--wrap, tests/meson.build): the fail_scan-th
 * PAGEMAP_SCAN call fails with ENOTTY (0: none); others pass through. */
int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
static unsigned fail_scan, scan_calls;
static bool fail_every_scan; /* every PAGEMAP_SCAN fails: a kernel before 6.7 */
/* PAGEMAP_SCAN calls whose walk starts in [count_lo, count_hi), any thread */
static _Atomic unsigned counted_scans;
static _Atomic uint64_t count_lo, count_hi;
/* PAGEMAP_SCAN of the Linux 6.7 uapi: struct pm_scan_arg is 12 u64 */
#define MG_PAGEMAP_SCAN_IOCTL _IOWR('f', 16, uint64_t[12])

int __wrap_ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (req == MG_PAGEMAP_SCAN_IOCTL && ((const uint64_t *)arg)[2] >= count_lo &&
        ((const uint64_t *)arg)[2] < count_hi) /* pm_scan_arg.start */
        counted_scans++;
    if (req == MG_PAGEMAP_SCAN_IOCTL &&
        (fail_every_scan || (fail_scan && ++scan_calls == fail_scan))) {
        errno = ENOTTY;
        return -1;
    }
    return __real_ioctl(fd, req, arg);
}

/* pread64, wrapped (--wrap, tests/meson.build): counts the bytes read
 * from pagemap files, from any thread. */
ssize_t __real_pread64(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off);
static _Atomic uint64_t pagemap_bytes;
/* and of those, the bytes at pagemap offsets [window_lo, window_hi): the
 * entries of one region (set before a sweep) */
static _Atomic uint64_t window_bytes;
static uint64_t window_lo, window_hi;

ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r = __real_pread64(fd, buf, n, off);
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, target, sizeof target - 1);
    if (r > 0 && k > 8 && !memcmp(target + k - 8, "/pagemap", 8)) {
        pagemap_bytes += (uint64_t)r;
        uint64_t lo = MG_MAX((uint64_t)off, window_lo);
        uint64_t hi = MG_MIN((uint64_t)off + (uint64_t)r, window_hi);
        if (hi > lo)
            window_bytes += hi - lo;
    }
    return r;
}

typedef struct run {
    uint64_t start, end;
    bool file;
} run;

typedef struct runs {
    run r[1024];
    size_t n;
    int stop_after; /* return 7 from the callback after this many (0: never) */
} runs;

static int collect(void *ctx, uint64_t start, uint64_t end, bool file)
{
    runs *rs = ctx;
    cr_assert_lt(rs->n, 1024u);
    rs->r[rs->n++] = (run){start, end, file};
    return rs->stop_after && (int)rs->n == rs->stop_after ? 7 : 0;
}

static int self_pagemap(void)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open /proc/self/pagemap: %s", strerror(errno));
    return fd;
}

/* Runs of [start, end) by one path: ioctl (skip the test's ioctl part if
 * the kernel lacks it) or entries. */
static runs *walk(int fd, uint64_t start, uint64_t end, bool ioctl_path, bool skip_zero)
{
    runs *rs = calloc(1, sizeof(*rs));
    bool use_ioctl = ioctl_path;
    int rc = mg_present_ranges(fd, start, end, &use_ioctl, skip_zero, collect, rs);
    cr_assert_eq(rc, 0, "mg_present_ranges: %d", rc);
    if (ioctl_path && !use_ioctl)
        cr_skip_test("this kernel has no PAGEMAP_SCAN ioctl (Linux 6.7+)");
    cr_assert_eq(use_ioctl, ioctl_path, "the fallback switched to the ioctl");
    return rs;
}

static void expect_runs(const runs *rs, const run *expect, size_t n, const char *what)
{
    cr_assert_eq(rs->n, n, "%s: %zu runs, want %zu", what, rs->n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(rs->r[i].start == expect[i].start && rs->r[i].end == expect[i].end &&
                      rs->r[i].file == expect[i].file,
                  "%s: run %zu is [%#llx, %#llx) file %d, want [%#llx, %#llx) file %d", what, i,
                  (unsigned long long)rs->r[i].start, (unsigned long long)rs->r[i].end,
                  rs->r[i].file, (unsigned long long)expect[i].start,
                  (unsigned long long)expect[i].end, expect[i].file);
}

static uint8_t *map_anon(size_t pages)
{
    uint8_t *p =
        mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
    return p;
}

/* Write pages 0-2, 10, 20-29 and 63 of 64: four runs, both paths. */
static void known_runs(bool ioctl_path)
{
    uint8_t *p = map_anon(64);
    const size_t touched[] = {0, 1, 2, 10, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 63};
    for (size_t i = 0; i < sizeof touched / sizeof touched[0]; i++)
        p[touched[i] * PAGE + 5] = 1;
    uint64_t b = (uint64_t)(uintptr_t)p;
    run expect[] = {{b, b + 3 * PAGE, false},
                    {b + 10 * PAGE, b + 11 * PAGE, false},
                    {b + 20 * PAGE, b + 30 * PAGE, false},
                    {b + 63 * PAGE, b + 64 * PAGE, false}};
    int fd = self_pagemap();
    for (int z = 0; z < 2; z++) {
        runs *rs = walk(fd, b, b + 64 * PAGE, ioctl_path, z);
        expect_runs(rs, expect, 4, ioctl_path ? "ioctl" : "entries");
        free(rs);
    }
    /* a sub-range cuts the runs at its ends */
    runs *rs = walk(fd, b + 2 * PAGE, b + 25 * PAGE, ioctl_path, false);
    run cut[] = {{b + 2 * PAGE, b + 3 * PAGE, false},
                 {b + 10 * PAGE, b + 11 * PAGE, false},
                 {b + 20 * PAGE, b + 25 * PAGE, false}};
    expect_runs(rs, cut, 3, "sub-range");
    free(rs);
    close(fd);
    munmap(p, 64 * PAGE);
}

Test(residency, known_runs_ioctl)
{
    known_runs(true);
}

Test(residency, known_runs_pagemap_entries)
{
    known_runs(false);
}

/* More runs than one ioctl returns (256) and a run longer than one entry
 * read (4096 pages): the paths resume and join runs across steps. */
Test(residency, many_runs_and_long_runs_same_on_both_paths)
{
    enum {
        NP = 8192
    };
    uint8_t *p = map_anon(NP);
    uint64_t b = (uint64_t)(uintptr_t)p;
    /* 600 single pages, then one run from page 2000 to 7000 */
    for (size_t i = 0; i < 600; i++)
        p[2 * i * PAGE] = 1;
    memset(p + 2000 * PAGE, 1, 5000 * PAGE);
    int fd = self_pagemap();
    runs *e = walk(fd, b, b + NP * PAGE, false, false);
    cr_assert_eq(e->n, 601u);
    for (size_t i = 0; i < 600; i++)
        cr_assert(e->r[i].start == b + 2 * i * PAGE && e->r[i].end == b + (2 * i + 1) * PAGE);
    cr_assert(e->r[600].start == b + 2000 * PAGE && e->r[600].end == b + 7000 * PAGE,
              "the long run was cut");
    runs *io = walk(fd, b, b + NP * PAGE, true, false);
    expect_runs(io, e->r, e->n, "ioctl vs entries");
    free(e);
    free(io);
    close(fd);
    munmap(p, NP * PAGE);
}

/* PAGEMAP_SCAN refused after it has passed runs on (the second call
 * fails): the entries take over where the ioctl got, and every run is
 * reported once, as by either path alone (review D7). */
Test(residency, ioctl_refused_midway_reports_each_run_once)
{
    enum {
        NP = 2048
    };
    uint8_t *p = map_anon(NP);
    uint64_t b = (uint64_t)(uintptr_t)p;
    /* 600 single pages: the first ioctl returns 256 runs (MG_SCAN_VEC),
     * then one long run */
    for (size_t i = 0; i < 600; i++)
        p[2 * i * PAGE] = 1;
    memset(p + 1500 * PAGE, 1, 500 * PAGE);
    int fd = self_pagemap();
    runs *e = walk(fd, b, b + NP * PAGE, false, false);
    cr_assert_eq(e->n, 601u);
    runs *rs = calloc(1, sizeof(*rs));
    bool use_ioctl = true;
    fail_scan = 2;
    scan_calls = 0;
    int rc = mg_present_ranges(fd, b, b + NP * PAGE, &use_ioctl, false, collect, rs);
    fail_scan = 0;
    cr_assert_eq(rc, 0);
    if (scan_calls < 2)
        cr_skip_test("this kernel has no PAGEMAP_SCAN ioctl (Linux 6.7+)");
    cr_assert_not(use_ioctl, "the refusal did not switch to pagemap entries");
    expect_runs(rs, e->r, e->n, "ioctl refused midway vs entries");
    free(e);
    free(rs);
    close(fd);
    munmap(p, NP * PAGE);
}

/* Pages of a shared memfd are file pages (MG_PM_FILE / PAGE_IS_FILE). */
Test(residency, shmem_runs_are_file)
{
    int mfd = memfd_create("mg-residency", 0);
    cr_assert_geq(mfd, 0);
    cr_assert_eq(ftruncate(mfd, 16 * PAGE), 0);
    uint8_t *p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    cr_assert_neq(p, MAP_FAILED);
    close(mfd);
    p[3 * PAGE] = p[4 * PAGE] = p[9 * PAGE] = 1;
    uint64_t b = (uint64_t)(uintptr_t)p;
    run expect[] = {{b + 3 * PAGE, b + 5 * PAGE, true}, {b + 9 * PAGE, b + 10 * PAGE, true}};
    int fd = self_pagemap();
    runs *e = walk(fd, b, b + 16 * PAGE, false, false);
    expect_runs(e, expect, 2, "entries");
    runs *io = walk(fd, b, b + 16 * PAGE, true, false);
    expect_runs(io, expect, 2, "ioctl");
    free(e);
    free(io);
    close(fd);
    munmap(p, 16 * PAGE);
}

/* Read but never written anonymous pages: where read faults map the
 * shared zero page, the ioctl leaves them out with skip_zero (the entries
 * path can't tell); on kernels without one (zero_page_case) they are fresh
 * pages of zeros that every path reports, skip_zero or not. */
static void zero_pages(bool ioctl_path)
{
    uint64_t zpfn;
    zero_case zc = zero_page_case(&zpfn);
    cr_log_info("%s", zero_case_text(zc));
    fprintf(stderr, "residency: zero_pages: %s\n", zero_case_text(zc));
    uint8_t *p = map_anon(8);
    volatile uint8_t sink = p[2 * PAGE];
    sink = p[3 * PAGE];
    (void)sink;
    p[5 * PAGE] = 1;
    uint64_t b = (uint64_t)(uintptr_t)p;
    run all[] = {{b + 2 * PAGE, b + 4 * PAGE, false}, {b + 5 * PAGE, b + 6 * PAGE, false}};
    run written[] = {{b + 5 * PAGE, b + 6 * PAGE, false}};
    int fd = self_pagemap();
    uint64_t e[2];
    cr_assert_eq(mg_pagemap_read(fd, b + 2 * PAGE, 2, e), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(mg_pm_is_zero(e[i], zpfn), zc == ZERO_SHARED,
                     "page %d: pagemap %016llx, zero frame %#llx (%s)", 2 + i,
                     (unsigned long long)e[i], (unsigned long long)zpfn, zero_case_text(zc));
    runs *rs = walk(fd, b, b + 8 * PAGE, ioctl_path, false);
    expect_runs(rs, all, 2, ioctl_path ? "ioctl" : "entries");
    free(rs);
    rs = walk(fd, b, b + 8 * PAGE, ioctl_path, true);
    if (ioctl_path && zc == ZERO_HIDDEN)
        cr_skip_test("page frame numbers are hidden: can't tell whether reads map the zero page");
    if (ioctl_path && zc == ZERO_SHARED)
        expect_runs(rs, written, 1, "ioctl, skip_zero");
    else
        expect_runs(rs, all, 2,
                    ioctl_path ? "ioctl, skip_zero, no zero page" : "entries, skip_zero");
    free(rs);
    close(fd);
    munmap(p, 8 * PAGE);
}

Test(residency, zero_pages_ioctl)
{
    zero_pages(true);
}

Test(residency, zero_pages_pagemap_entries)
{
    zero_pages(false);
}

/* The engine's zero-page probe: the zero page's frame where read faults
 * map it, 0 (nothing is taken for the zero page) where they map fresh
 * pages; its verdict on pagemap entries, among them those of a kernel
 * booted with pvm_no_zero_page=1 and of a probe raced by a fork. */
Test(residency, zero_pfn_probe)
{
    uint64_t zpfn;
    zero_case zc = zero_page_case(&zpfn);
    fprintf(stderr, "residency: zero_pfn_probe: %s\n", zero_case_text(zc));
    bool visible;
    uint64_t got = mg_zero_pfn(&visible);
    cr_assert_eq(got, zpfn, "mg_zero_pfn %#llx, want %#llx (%s)", (unsigned long long)got,
                 (unsigned long long)zpfn, zero_case_text(zc));
    cr_assert_eq(visible, zc != ZERO_HIDDEN, "mg_zero_pfn: frame numbers %s (%s)",
                 visible ? "visible" : "hidden", zero_case_text(zc));
    const uint64_t P = MG_PM_PRESENT, X = MG_PM_EXCLUSIVE, F = MG_PM_FILE;
    /* the zero page: both on one frame, not exclusive */
    cr_assert_eq(mg_zero_pfn_of(P | 0x1234, P | 0x1234), 0x1234u);
    /* fresh zeroed pages (exclusive, one frame each), as on the host */
    cr_assert_eq(mg_zero_pfn_of(0x810000000018f14full, 0x810000000018f150ull), 0u);
    cr_assert_eq(mg_zero_pfn_of(P | X | 0x77, P | X | 0x77), 0u);
    /* fresh pages shared with a child forked in between: two frames */
    cr_assert_eq(mg_zero_pfn_of(P | 0x1234, P | 0x1235), 0u);
    /* hidden frame numbers, pages not present, file pages */
    cr_assert_eq(mg_zero_pfn_of(P, P), 0u);
    cr_assert_eq(mg_zero_pfn_of(0x1234, 0x1234), 0u);
    cr_assert_eq(mg_zero_pfn_of(P | 0x1234, 0x1234), 0u);
    cr_assert_eq(mg_zero_pfn_of(P | F | 0x1234, P | F | 0x1234), 0u);
    /* 0 never marks a page as the zero page */
    cr_assert_not(mg_pm_is_zero(P, 0));
    cr_assert_not(mg_pm_is_zero(P | 0x1234, 0));
    cr_assert(mg_pm_is_zero(P | 0x1234, 0x1234));
    cr_assert_not(mg_pm_is_zero(0x1234, 0x1234));
}

/* The callback's non-zero result stops the walk and is returned. */
Test(residency, callback_stops_walk)
{
    uint8_t *p = map_anon(16);
    for (int i = 0; i < 16; i += 2)
        p[i * PAGE] = 1;
    uint64_t b = (uint64_t)(uintptr_t)p;
    int fd = self_pagemap();
    for (int io = 0; io < 2; io++) {
        runs rs = {.stop_after = 3};
        bool use_ioctl = io;
        cr_assert_eq(mg_present_ranges(fd, b, b + 16 * PAGE, &use_ioctl, false, collect, &rs), 7);
        cr_assert_eq(rs.n, 3u);
    }
    close(fd);
    munmap(p, 16 * PAGE);
}

Test(residency, pagemap_read_entries)
{
    uint8_t *p = map_anon(4);
    p[0] = 1;
    p[2 * PAGE] = 1;
    int mfd = memfd_create("mg-residency", 0);
    cr_assert_eq(ftruncate(mfd, PAGE), 0);
    uint8_t *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    close(mfd);
    s[0] = 1;
    int fd = self_pagemap();
    uint64_t e[4], f;
    cr_assert_eq(mg_pagemap_read(fd, (uint64_t)(uintptr_t)p, 4, e), 0);
    cr_assert(e[0] & MG_PM_PRESENT);
    cr_assert(e[2] & MG_PM_PRESENT);
    cr_assert_not(e[1] & MG_PM_PRESENT);
    cr_assert_not(e[3] & MG_PM_PRESENT);
    /* written private anon, mapped once: exclusive, not file */
    cr_assert(e[0] & MG_PM_EXCLUSIVE);
    cr_assert_not(e[0] & MG_PM_FILE);
    cr_assert_eq(mg_page_classify(e[0], false), MG_PAGE_PVR);
    cr_assert_eq(mg_page_classify(e[0], true), MG_PAGE_MEM);
    cr_assert_eq(mg_page_classify(e[1], false), MG_PAGE_ABSENT);
    cr_assert_eq(mg_page_classify(e[1], true), MG_PAGE_ABSENT);
    cr_assert_eq(mg_pagemap_read(fd, (uint64_t)(uintptr_t)s, 1, &f), 0);
    cr_assert(f & MG_PM_PRESENT);
    cr_assert(f & MG_PM_FILE);
    cr_assert_eq(mg_page_classify(f, false), MG_PAGE_PVR);

    /* after fork, a written anon page is shared: not exclusive, read
     * through /proc/PID/mem */
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        char c;
        close(go[1]);
        (void)!read(go[0], &c, 1);
        _exit(0);
    }
    close(go[0]);
    cr_assert_eq(mg_pagemap_read(fd, (uint64_t)(uintptr_t)p, 1, e), 0);
    cr_assert(e[0] & MG_PM_PRESENT);
    cr_assert_not(e[0] & MG_PM_EXCLUSIVE, "a page shared with the child is exclusive");
    cr_assert_eq(mg_page_classify(e[0], false), MG_PAGE_MEM);

    /* the child's pagemap after it exited: -ESRCH */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)child);
    int cfd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(cfd, 0);
    close(go[1]);
    cr_assert_eq(waitpid(child, NULL, 0), child);
    cr_assert_eq(mg_pagemap_read(cfd, (uint64_t)(uintptr_t)p, 1, e), -ESRCH);
    bool use_ioctl = false;
    runs rs = {0};
    cr_assert_eq(mg_present_ranges(cfd, (uint64_t)(uintptr_t)p, (uint64_t)(uintptr_t)p + PAGE,
                                   &use_ioctl, false, collect, &rs),
                 -ESRCH);
    close(cfd);
    close(fd);
    munmap(p, 4 * PAGE);
    munmap(s, PAGE);
}

/* ---- a sweep without PAGEMAP_SCAN: smaps tells which big regions to walk */

#define BIG_GIB 4 /* the reservation: 8 MiB of pagemap entries */
#define DATA_MIB 256 /* the data region, at least MG_SMAPS_MIN */

typedef struct big_child {
    pid_t pid;
    int go; /* closing it ends the child */
    uint64_t res, data; /* the reservation, the data region */
    char marker[40];
} big_child;

/* A child with an untouched BIG_GIB reservation (or one page of it
 * written with a marker, touch_res) and a DATA_MIB region with the
 * marker in its middle page, the only page written. */
static void big_child_start(big_child *b, bool touch_res)
{
    char tok[17];
    random_token(tok);
    snprintf(b->marker, sizeof b->marker, "MG-SMAPS-%s", tok);
    explicit_bzero(tok, sizeof tok);
    size_t rlen = (size_t)BIG_GIB << 30, dlen = (size_t)DATA_MIB << 20;
    uint8_t *res = mmap(NULL, rlen, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint8_t *data = mmap(NULL, dlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(res != MAP_FAILED && data != MAP_FAILED);
    /* no THP: the data page stays one page, the region one mapping */
    madvise(data, dlen, MADV_NOHUGEPAGE);
    madvise(res, rlen, MADV_NOHUGEPAGE);
    b->res = (uint64_t)(uintptr_t)res;
    b->data = (uint64_t)(uintptr_t)data;
    int go[2], ready[2];
    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(ready), 0);
    b->pid = fork();
    cr_assert_geq(b->pid, 0);
    if (b->pid == 0) {
        close(go[1]);
        close(ready[0]);
        memcpy(data + dlen / 2 + 100, b->marker, strlen(b->marker));
        if (touch_res)
            memcpy(res + rlen / 2 + 100, b->marker, strlen(b->marker));
        explicit_bzero(b->marker, sizeof b->marker); /* the child's copy of it */
        (void)!write(ready[1], "r", 1);
        char c;
        (void)!read(go[0], &c, 1);
        _exit(0);
    }
    close(go[0]);
    close(ready[1]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    b->go = go[1];
    /* the child's copies are its own: the parent's mappings go */
    munmap(res, rlen);
    munmap(data, dlen);
}

static void big_child_stop(big_child *b)
{
    close(b->go);
    waitpid(b->pid, NULL, 0);
}

/* Sweep b's child for its marker with every PAGEMAP_SCAN failing (ENOTTY):
 * the marker's matches must be exactly at addrs; returns the pagemap bytes
 * read of the reservation's entries (pagemap_bytes: of all; under ASan the
 * child's shadow memory is walked too). */
static uint64_t sweep_without_ioctl(const big_child *b, const uint64_t *addrs, size_t n_want)
{
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, b->marker, strlen(b->marker), 0);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, &b->pid, 1);
    collector c = {0};
    mg_sink sink = collector_sink(&c);
    mg_stats st;
    mg_error err;
    fail_every_scan = true;
    pagemap_bytes = window_bytes = 0;
    window_lo = b->res / PAGE * 8;
    window_hi = (b->res + ((uint64_t)BIG_GIB << 30)) / PAGE * 8;
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), 0, "mg_scan: %s", err.message);
    fail_every_scan = false;
    uint64_t bytes = window_bytes;
    want w[2];
    for (size_t i = 0; i < n_want; i++)
        w[i] = (want){.pid = b->pid, .addr = addrs[i], .len = strlen(b->marker)};
    assert_exact_hits(&c, w, n_want, "the marker");
    collector_free(&c);
    mg_patterns_free(&p);
    return bytes;
}

/* An untouched 4 GiB reservation: smaps shows no Rss, so its 8 MiB of
 * pagemap entries are not read; the data region (Rss one page) is walked
 * and its marker found at its address, once. */
Test(residency, no_ioctl_unresident_region_not_walked)
{
    need_root();
    big_child b;
    big_child_start(&b, false);
    uint64_t at = b.data + ((uint64_t)DATA_MIB << 20) / 2 + 100;
    uint64_t bytes = sweep_without_ioctl(&b, &at, 1);
    big_child_stop(&b);
    uint64_t res_entries = ((uint64_t)BIG_GIB << 30) / PAGE * 8;
    cr_assert_lt(bytes, res_entries / 2,
                 "%llu bytes of its pagemap read: the untouched reservation was walked",
                 (unsigned long long)bytes);
    /* the data region was walked: its entries were read */
    cr_assert_geq(pagemap_bytes, ((uint64_t)DATA_MIB << 20) / PAGE * 8);
}

/* The same reservation with one page written: smaps shows it resident, so
 * it is walked and the marker in it found as well, exactly. */
Test(residency, no_ioctl_resident_region_walked_exact)
{
    need_root();
    big_child b;
    big_child_start(&b, true);
    uint64_t at[2] = {b.res + ((uint64_t)BIG_GIB << 30) / 2 + 100,
                      b.data + ((uint64_t)DATA_MIB << 20) / 2 + 100};
    uint64_t bytes = sweep_without_ioctl(&b, at, 2);
    big_child_stop(&b);
    cr_assert_geq(bytes, ((uint64_t)BIG_GIB << 30) / PAGE * 8,
                  "%llu bytes of its pagemap read: the resident reservation was not walked",
                  (unsigned long long)bytes);
}

/* smaps' resident bytes per mapping, parsed from a known text: Rss and
 * hugetlb pages count, other fields not; a mapping is found only by its
 * exact start and end. */
Test(residency, smaps_parse)
{
    static const char text[] =
        "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0          [heap]\n"
        "Size:                132 kB\n"
        "Rss:                   8 kB\n"
        "AnonHugePages:         0 kB\n"
        "Private_Hugetlb:       0 kB\n"
        "VmFlags: rd wr mr mw me ac\n"
        "7f0000000000-7f1000000000 rw-p 00000000 00:00 0 \n"
        "Size:           67108864 kB\n"
        "Rss:                   0 kB\n"
        "Pss:                   0 kB\n"
        "7f2000000000-7f2040000000 rw-s 00000000 00:0f 77         /anon_hugepage (deleted)\n"
        "Rss:                   0 kB\n"
        "Shared_Hugetlb:  2097152 kB\n"
        "Private_Hugetlb:    2048 kB\n";
    mg_smaps sm;
    cr_assert_eq(mg_smaps_parse(text, sizeof text - 1, &sm), 0);
    cr_assert_eq(sm.n, 3);
    uint64_t r = 1;
    cr_assert_eq(mg_smaps_resident(&sm, 0x55d0c0a00000, 0x55d0c0a21000, &r), 0);
    cr_assert_eq(r, 8192);
    cr_assert_eq(mg_smaps_resident(&sm, 0x7f0000000000, 0x7f1000000000, &r), 0);
    cr_assert_eq(r, 0);
    cr_assert_eq(mg_smaps_resident(&sm, 0x7f2000000000, 0x7f2040000000, &r), 0);
    cr_assert_eq(r, (2097152ull + 2048) * 1024);
    cr_assert_eq(mg_smaps_resident(&sm, 0x7f0000000000, 0x7f0800000000, &r), -ENOENT);
    cr_assert_eq(mg_smaps_resident(&sm, 0x1000, 0x2000, &r), -ENOENT);
    mg_smaps_free(&sm);
}

/* Regions walked ahead (one PAGEMAP_SCAN call for several, its runs kept):
 * each region's runs are those of its own walk, with zero pages left out
 * or not, and without the ioctl those of the entries. */
static void ahead_same_runs(bool no_ioctl)
{
    uint8_t *b = map_anon(64);
    /* holes at pages 8, 20-21 and 40: regions [0,8) [9,20) [22,40) [41,64) */
    cr_assert_eq(munmap(b + 8 * PAGE, PAGE), 0);
    cr_assert_eq(munmap(b + 20 * PAGE, 2 * PAGE), 0);
    cr_assert_eq(munmap(b + 40 * PAGE, PAGE), 0);
    static const int written[] = {1, 2, 3, 10, 11, 25, 26, 27, 28, 50, 63};
    static const int read_only[] = {4, 5, 12, 30, 31, 60}; /* the zero page */
    for (size_t i = 0; i < sizeof written / sizeof *written; i++)
        b[written[i] * PAGE] = 1;
    for (size_t i = 0; i < sizeof read_only / sizeof *read_only; i++)
        (void)*(volatile uint8_t *)(b + read_only[i] * PAGE);
    static const int regions[][2] = {{0, 8}, {9, 20}, {22, 40}, {41, 64}};
    uint64_t base = (uint64_t)(uintptr_t)b, last = base + 64 * PAGE;
    int fd = self_pagemap();
    for (int skip_zero = 0; skip_zero < 2; skip_zero++) {
        mg_walk_ahead *wa = calloc(1, sizeof(*wa));
        bool use_ioctl = true;
        fail_every_scan = no_ioctl;
        for (size_t k = 0; k < 4; k++) {
            uint64_t s = base + (uint64_t)regions[k][0] * PAGE;
            uint64_t e = base + (uint64_t)regions[k][1] * PAGE;
            runs got = {0};
            cr_assert_eq(
                mg_present_ranges_ahead(wa, fd, s, e, last, &use_ioctl, skip_zero, collect, &got),
                0);
            if (!no_ioctl && !use_ioctl)
                cr_skip_test("this kernel has no PAGEMAP_SCAN ioctl (Linux 6.7+)");
            cr_assert_eq(use_ioctl, !no_ioctl);
            fail_every_scan = false;
            runs *want_runs = walk(fd, s, e, !no_ioctl, skip_zero);
            fail_every_scan = no_ioctl;
            expect_runs(&got, want_runs->r, want_runs->n, "region walked ahead");
            free(want_runs);
        }
        if (!no_ioctl) /* the first call walked all four regions */
            cr_assert_eq(wa->hi, last);
        fail_every_scan = false;
        free(wa);
    }
    close(fd);
    munmap(b, 64 * PAGE);
}

Test(residency, walk_ahead_same_runs_ioctl)
{
    ahead_same_runs(false);
}

Test(residency, walk_ahead_same_runs_without_ioctl)
{
    ahead_same_runs(true);
}

/* A process's small anonymous regions between its file mappings (as a
 * small process's data and bss lie between its libraries'): file, anon,
 * file, anon, with holes between. The planner's walk of the first goes on
 * over the rest (walk_ahead), so the four cost one PAGEMAP_SCAN call, not
 * one each; and each marker is found at its address, exactly: the file's
 * (page cache, in both file mappings) and each anonymous region's own. */
Test(residency, small_regions_between_files_one_walk)
{
    need_root();
    bool use_ioctl = true;
    runs probe = {0};
    int self = self_pagemap();
    uint8_t *one = map_anon(1);
    one[0] = 1;
    cr_assert_eq(mg_present_ranges(self, (uint64_t)(uintptr_t)one, (uint64_t)(uintptr_t)one + PAGE,
                                   &use_ioctl, false, collect, &probe),
                 0);
    close(self);
    munmap(one, PAGE);
    if (!use_ioctl)
        cr_skip_test("this kernel has no PAGEMAP_SCAN ioctl (Linux 6.7+)");
    char path[] = "/tmp/mg-ahead-XXXXXX", tok[17], file_marker[40], anon_marker[2][40];
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    random_token(tok);
    uint8_t page[2 * PAGE] = {0};
    snprintf(file_marker, sizeof file_marker, "MG-AHEAD-FILE-%s", tok);
    memcpy(page + 100, file_marker, strlen(file_marker));
    cr_assert_eq(write(fd, page, sizeof page), (ssize_t)sizeof page);
    for (int i = 0; i < 2; i++)
        snprintf(anon_marker[i], sizeof anon_marker[i], "MG-AHEAD-ANON%d-%s", i, tok);
    explicit_bzero(tok, sizeof tok);
    /* pages: file [0,2), hole, anon [3,5), hole, file [6,8), hole, anon [9,11) */
    uint8_t *b = map_anon(11);
    static const int file_at[] = {0, 6}, anon_at[] = {3, 9}, holes[] = {2, 5, 8};
    for (int i = 0; i < 2; i++) {
        cr_assert(mmap(b + file_at[i] * PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd,
                       0) != MAP_FAILED);
        (void)*(volatile uint8_t *)(b + file_at[i] * PAGE + 100); /* present */
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(munmap(b + holes[i] * PAGE, PAGE), 0);
    close(fd);
    unlink(path);
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) { /* the anonymous markers are the child's alone */
        close(go[1]);
        for (int i = 0; i < 2; i++) /* fork copied no page tables of the file's */
            (void)*(volatile uint8_t *)(b + file_at[i] * PAGE + 100);
        for (int i = 0; i < 2; i++) {
            memcpy(b + anon_at[i] * PAGE + 200, anon_marker[i], strlen(anon_marker[i]));
            b[(anon_at[i] + 1) * PAGE] = 1;
        }
        explicit_bzero(anon_marker, sizeof anon_marker);
        explicit_bzero(file_marker, sizeof file_marker);
        explicit_bzero(page, sizeof page);
        char c;
        (void)!read(go[0], &c, 1);
        _exit(0);
    }
    close(go[0]);
    explicit_bzero(page, sizeof page);
    /* the child has written its pages (and read the file's) once its last
     * anonymous pages are present */
    for (int tries = 0;; tries++) {
        uint64_t e[2];
        char pm[40];
        snprintf(pm, sizeof pm, "/proc/%d/pagemap", (int)pid);
        int pfd = open(pm, O_RDONLY);
        cr_assert_geq(pfd, 0);
        bool ok = pread(pfd, e, 8, (off_t)((uintptr_t)b / PAGE + 4) * 8) == 8 &&
                  pread(pfd, e + 1, 8, (off_t)((uintptr_t)b / PAGE + 10) * 8) == 8 &&
                  (e[0] & MG_PM_PRESENT) && (e[1] & MG_PM_PRESENT);
        close(pfd);
        if (ok)
            break;
        cr_assert_lt(tries, 1000, "the child did not write its pages");
        usleep(1000);
    }
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, file_marker, strlen(file_marker), 0);
    for (int i = 0; i < 2; i++)
        add_pattern(p, MG_PATTERN_LITERAL, anon_marker[i], strlen(anon_marker[i]), 0);
    compile_patterns(p);
    mg_settings s;
    settings_for(&s, &pid, 1);
    s.threads = 1;
    collector c = {0};
    mg_sink sink = collector_sink(&c);
    mg_stats st;
    mg_error err;
    uint64_t lo = (uint64_t)(uintptr_t)b;
    count_lo = lo;
    count_hi = lo + 11 * PAGE;
    counted_scans = 0;
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), 0, "mg_scan: %s", err.message);
    unsigned calls = counted_scans;
    count_lo = count_hi = 0;
    close(go[1]);
    waitpid(pid, NULL, 0);
    want w[4] = {
        {.pid = pid, .addr = lo + 100, .len = strlen(file_marker), .pattern_id = 0},
        {.pid = pid, .addr = lo + 6 * PAGE + 100, .len = strlen(file_marker), .pattern_id = 0},
        {.pid = pid, .addr = lo + 3 * PAGE + 200, .len = strlen(anon_marker[0]), .pattern_id = 1},
        {.pid = pid, .addr = lo + 9 * PAGE + 200, .len = strlen(anon_marker[1]), .pattern_id = 2},
    };
    assert_exact_hits(&c, w, 4, "file and anonymous markers");
    collector_free(&c);
    mg_patterns_free(&p);
    for (int i = 0; i < 2; i++)
        munmap(b + file_at[i] * PAGE, 2 * PAGE), munmap(b + anon_at[i] * PAGE, 2 * PAGE);
    cr_assert_leq(calls, 1u, "%u PAGEMAP_SCAN calls started in the four regions", calls);
}
