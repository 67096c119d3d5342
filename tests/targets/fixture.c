/*
 * fixture.c - a process with marker strings planted at known addresses, for
 * the integration, safety, sweep and CLI tests.
 *
 *   fixture --token HEX [--fork] [--reserve] [--exit-after MS] [--touch MB]
 *           [--map-file PATH [--map-offset BYTES] [--map-page N] [--map-noread]]...
 *           [--odd-comm] [--zero-pages] [--secret]
 *
 * --map-file may be given twice (the --map-* options after it apply to it):
 * INFO mapfile, then mapfile2.
 *
 * Every marker is "mgt-" TOKEN "-" NAME ";" (see fixture.h). The token comes
 * from argv, so markers are unique per run and no full marker exists in this
 * program's image, its argv or its stdio buffers: each plant is written
 * piece by piece straight into its final place, never assembled elsewhere.
 *
 * Output, one line each, then nothing more is written to any plant:
 *   PLANT <name> 0x<addr> <len> <kind> [key=value...]
 *   INFO <what> ...
 *   THREAD <tid>       the second thread's id
 *   CHILD <pid>        (--fork)
 *   READY
 * kind: plain   the marker itself, readable
 *       noread  the marker in a PROT_NONE page
 *       wide    the marker in UTF-16LE
 *       upper   the marker in upper case
 *       hex     00 fe MARKER 7f 80
 *       regex   "mgt-" TOKEN "-re=" DIGITS ";"
 *       parent  (--fork) the marker, in the parent only (not in the child)
 *       child   (--fork) the marker, in the child only
 *       zpage   (--zero-pages) the marker at the start of a page that follows
 *               pages of the shared zero page
 *       secret  (--secret) the marker in a page of memfd_secret memory:
 *               present, but no other process can read it
 * Then it waits for EOF on stdin and exits; with --exit-after MS it exits MS
 * ms after the first byte it reads from stdin.
 */
#include "fixture.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KiB (1024ul)
#define MiB (1024ul * KiB)
#define GiB (1024ul * MiB)

static const char *token;

static void die(const char *what)
{
    fprintf(stderr, "fixture: %s: %s\n", what, strerror(errno));
    exit(3);
}

/* Write the marker for name at dst, transformed byte by byte; returns the
 * marker length. The pieces come from .rodata, argv and the name: the whole
 * marker only ever exists at dst. */
enum form {
    FORM_PLAIN,
    FORM_UPPER,
    FORM_WIDE
};

static size_t put_marker(uint8_t *dst, const char *name, enum form form)
{
    const char *pieces[] = {FIXTURE_MARKER_PREFIX, token, "-", name, ";"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        for (const char *s = pieces[i]; *s; s++) {
            uint8_t c = (uint8_t)*s;
            if (form == FORM_UPPER)
                c = (uint8_t)toupper(c);
            if (form == FORM_WIDE) {
                dst[2 * n] = c;
                dst[2 * n + 1] = 0;
            } else {
                dst[n] = c;
            }
            n++;
        }
    }
    return form == FORM_WIDE ? 2 * n : n;
}

static size_t marker_len(const char *name)
{
    return strlen(FIXTURE_MARKER_PREFIX) + strlen(token) + 1 + strlen(name) + 1;
}

static void report(const char *name, const void *addr, size_t len, const char *kind,
                   const char *extra)
{
    printf("PLANT %s %p %zu %s%s%s\n", name, addr, len, kind, extra ? " " : "", extra ? extra : "");
}

static void plant(void *dst, const char *name, enum form form, const char *kind)
{
    size_t len = put_marker(dst, name, form);
    report(name, dst, len, kind, NULL);
}

static void *xmmap(size_t len, int prot, int flags, int fd)
{
    void *p = mmap(NULL, len, prot, flags, fd, 0);
    if (p == MAP_FAILED)
        die("mmap");
    return p;
}

/* An anonymous RW mapping of len bytes at an address aligned to align, with
 * PROT_NONE reservation around it so that it is its own VMA. 4 KiB pages
 * only, whatever the host's THP mode: with THP "always" a plant would make
 * its whole 2 MiB present, and khugepaged could fill a sparse region in
 * while a test counts its pages (only plant_thp asks for huge pages). */
static uint8_t *aligned_region(size_t len, size_t align)
{
    size_t span = len + align + 2 * 4096;
    uint8_t *r = xmmap(span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    uintptr_t a = ((uintptr_t)r + 4096 + align - 1) & ~(uintptr_t)(align - 1);
    uint8_t *p = mmap((void *)a, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED)
        die("mmap fixed");
    madvise(p, len, MADV_NOHUGEPAGE);
    return p;
}

/* ---- the thread's stack plant ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool thread_ready;
static uint8_t *thread_plant;
static size_t thread_plant_len;
static pid_t thread_tid;

static void *thread_main(void *arg)
{
    (void)arg;
    uint8_t buf[512];
    memset(buf, 0, sizeof buf);
    thread_plant = buf + 128;
    thread_plant_len = put_marker(thread_plant, "tstack", FORM_PLAIN);
    thread_tid = gettid();
    __asm__ volatile("" : : "r"(buf) : "memory");
    pthread_mutex_lock(&lock);
    thread_ready = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    for (;;)
        pause();
    return NULL;
}

/* ---- the big region ---- */

/* Boundaries relative to the region start (which is 64 MiB aligned) and how
 * many marker bytes lie before each: SPLIT_* are resolved against the marker
 * length, so the copies cross at 1, 2, 3, half, len-2 and len-1 bytes. */
enum {
    SPLIT_HALF = -1,
    SPLIT_LEN_1 = -2,
    SPLIT_LEN_2 = -3
};
static const struct {
    size_t boundary;
    long before;
} big_copies[] = {
    {4 * KiB, 1},
    {8 * KiB, SPLIT_LEN_1},
    {12 * KiB, SPLIT_HALF},
    {64 * KiB, 2},
    {128 * KiB, SPLIT_LEN_2},
    {192 * KiB, SPLIT_HALF},
    {1 * MiB, SPLIT_HALF},
    {3 * MiB, 1},
    {2 * MiB, SPLIT_LEN_1},
    {6 * MiB, 3},
    {16 * MiB, SPLIT_HALF},
    {48 * MiB, 1},
    {32 * MiB, SPLIT_LEN_2},
    {64 * MiB, SPLIT_LEN_1},
    {66 * MiB, SPLIT_HALF},
    {72 * MiB, 2},
};

#define BIG_SIZE (80 * MiB)

static void plant_big(void)
{
    uint8_t *big = aligned_region(BIG_SIZE, 64 * MiB);
    printf("INFO big 0x%lx %lu\n", (unsigned long)(uintptr_t)big, (unsigned long)BIG_SIZE);
    size_t mlen = marker_len("big");
    plant(big, "big", FORM_PLAIN, "plain");
    for (size_t i = 0; i < sizeof big_copies / sizeof big_copies[0]; i++) {
        long b = big_copies[i].before;
        size_t before = b == SPLIT_HALF    ? mlen / 2
                        : b == SPLIT_LEN_1 ? mlen - 1
                        : b == SPLIT_LEN_2 ? mlen - 2
                                           : (size_t)b;
        plant(big + big_copies[i].boundary - before, "big", FORM_PLAIN, "plain");
    }
    plant(big + BIG_SIZE - mlen, "big", FORM_PLAIN, "plain");
}

/* ---- a THP region ---- */

static unsigned long anon_huge_kb(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return 0;
    char line[512];
    bool in = false;
    unsigned long kb = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)addr >= s && (uintptr_t)addr < e;
            continue;
        }
        if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

static void plant_thp(void)
{
    size_t len = 4 * MiB;
    uint8_t *r = xmmap(len + 2 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    uint8_t *p = (uint8_t *)(((uintptr_t)r + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1));
    if (p > r)
        munmap(r, (size_t)(p - r));
    if (p + len < r + len + 2 * MiB)
        munmap(p + len, (size_t)(r + len + 2 * MiB - (p + len)));
    madvise(p, len, MADV_HUGEPAGE);
    memset(p, 0x5a, len);
    size_t a = put_marker(p + 4096 + 100, "thp", FORM_PLAIN);
    size_t b = put_marker(p + 2 * MiB - 7, "thp", FORM_PLAIN);
    char extra[64];
    snprintf(extra, sizeof extra, "thp_kb=%lu", anon_huge_kb(p));
    report("thp", p + 4096 + 100, a, "plain", extra);
    report("thp", p + 2 * MiB - 7, b, "plain", extra);
}

/* ---- file, memfd and shared mappings ---- */

static void pwrite_marker(int fd, off_t off, const char *name)
{
    const char *pieces[] = {FIXTURE_MARKER_PREFIX, token, "-", name, ";"};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        size_t n = strlen(pieces[i]);
        if (pwrite(fd, pieces[i], n, off) != (ssize_t)n)
            die("pwrite");
        off += (off_t)n;
    }
}

static void plant_private_file(void)
{
    char path[] = "/tmp/mg-fixture-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        die("mkstemp");
    if (ftruncate(fd, 2 * 4096) != 0)
        die("ftruncate");
    /* Page 0 holds a marker in the file itself; page 1 is zeros in the file
     * and gets its marker only through the mapping (a private COW copy). */
    pwrite_marker(fd, 100, "pfclean");
    uint8_t *m = xmmap(2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
    unlink(path);
    close(fd);
    volatile uint8_t sink = m[100];
    (void)sink;
    report("pfclean", m + 100, marker_len("pfclean"), "plain", NULL);
    plant(m + 4096 + 200, "pfcow", FORM_PLAIN, "plain");
}

static void plant_shared(void)
{
    int fd = memfd_create("mg-fixture", 0);
    if (fd < 0)
        die("memfd_create");
    if (ftruncate(fd, 64 * KiB) != 0)
        die("ftruncate memfd");
    uint8_t *m = xmmap(64 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    close(fd);
    plant(m + 300, "memfd", FORM_PLAIN, "plain");

    uint8_t *s = xmmap(64 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
    plant(s + 500, "shanon", FORM_PLAIN, "plain");
}

static void plant_noread(void)
{
    uint8_t *p = xmmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    plant(p + 64, "noread", FORM_PLAIN, "noread");
    if (mprotect(p, 4096, PROT_NONE) != 0)
        die("mprotect");
}

/* Heap: small plants, the transformed copies, hex bytes, regex text and the
 * context plant. */
static void plant_heap(void)
{
    /* The "heap" plant goes into the brk heap itself, whatever malloc uses
     * (ASan's allocator, for one, never extends [heap]). */
    void *brk_heap = sbrk(4096);
    if (brk_heap == (void *)-1)
        die("sbrk");
    plant(brk_heap, "heap", FORM_PLAIN, "plain");

    plant(malloc(64), "wide", FORM_PLAIN, "plain");
    plant(malloc(128), "wide", FORM_WIDE, "wide");
    plant(malloc(64), "case", FORM_PLAIN, "plain");
    plant(malloc(64), "case", FORM_UPPER, "upper");

    uint8_t *h = malloc(80);
    h[0] = 0x00;
    h[1] = 0xfe;
    size_t n = put_marker(h + 2, "hex", FORM_PLAIN);
    h[2 + n] = 0x7f;
    h[3 + n] = 0x80;
    report("hex", h, n + 4, "hex", NULL);

    /* Two regex texts with 1 and 9 digits. */
    static const char *const digits[] = {"7", "123456789"};
    for (size_t i = 0; i < 2; i++) {
        uint8_t *t = malloc(96);
        const char *pieces[] = {FIXTURE_MARKER_PREFIX, token, "-re=", digits[i], ";"};
        size_t k = 0;
        for (size_t j = 0; j < sizeof pieces / sizeof pieces[0]; j++)
            for (const char *s = pieces[j]; *s; s++)
                t[k++] = (uint8_t)*s;
        report("re", t, k, "regex", NULL);
    }

    /* Context plant: FIXTURE_CTX_SPAN known bytes either side. */
    size_t span = FIXTURE_CTX_SPAN;
    uint8_t *c = malloc(2 * span + 128);
    for (size_t i = 0; i < 2 * span + 128; i++)
        c[i] = fixture_ctx_byte((long)i - (long)span);
    plant(c + span, "ctx", FORM_PLAIN, "plain");
}

static void touch_region(size_t mb)
{
    uint8_t *p = xmmap(mb * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    for (size_t i = 0; i < mb * MiB; i += 4096)
        p[i] = (uint8_t)(i >> 12) | 1;
    printf("INFO touch %p %zu\n", (void *)p, mb * MiB);
}

/* Map a file the test wrote (read-only, private) from offset off (page
 * aligned) to its end and touch every page: the same page-cache pages in
 * every fixture given the same file. page >= 0: at an address `page` pages
 * past a multiple of 64 KiB (else where mmap puts it). noread: then
 * PROT_NONE (the pages stay present). */
typedef struct map_spec {
    const char *path;
    off_t off;
    long page;
    bool noread;
} map_spec;

static void map_file(const map_spec *ms, const char *info)
{
    const char *path = ms->path;
    off_t off = ms->off;
    long page = ms->page;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open --map-file");
    off_t len = lseek(fd, 0, SEEK_END);
    if (len <= off)
        die("--map-file shorter than --map-offset");
    len -= off;
    void *at = NULL;
    int fixed = 0;
    if (page >= 0) {
        size_t span = (size_t)len + 64 * KiB + (size_t)(page + 2) * 4096;
        uint8_t *r = xmmap(span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
        at = (void *)((((uintptr_t)r + 4096 + 64 * KiB - 1) & ~(uintptr_t)(64 * KiB - 1)) +
                      (uintptr_t)page * 4096);
        fixed = MAP_FIXED;
    }
    volatile uint8_t *m = mmap(at, (size_t)len, PROT_READ, MAP_PRIVATE | fixed, fd, off);
    if (m == MAP_FAILED)
        die("mmap --map-file");
    close(fd);
    for (off_t i = 0; i < len; i += 4096)
        (void)m[i];
    if (ms->noread && mprotect((void *)m, (size_t)len, PROT_NONE) != 0)
        die("mprotect --map-noread");
    printf("INFO %s %p %ld\n", info, (void *)m, (long)len);
}

/* Pages read but never written map the shared zero page (4 KiB ones:
 * aligned_region's MADV_NOHUGEPAGE keeps the huge zero page out), or on
 * kernels without one a fresh zeroed page each. Each region is its own
 * VMA (PROT_NONE around it):
 *   zero-run   ZERO_RUN_PAGES zero pages, then a written page that starts
 *              with the "zpage" marker and holds 0x77 after it, then a page
 *              never touched (not present);
 *   zero-only  ZERO_ONLY_PAGES zero pages and nothing else.
 * INFO gives each region's start and the length of its zero pages. */
#define ZERO_RUN_PAGES 6
#define ZERO_ONLY_PAGES 4

static void read_pages(volatile uint8_t *p, size_t pages)
{
    for (size_t i = 0; i < pages; i++)
        (void)p[i * 4096];
}

static void plant_zero_pages(void)
{
    uint8_t *r = aligned_region((ZERO_RUN_PAGES + 2) * 4096, 4096);
    read_pages(r, ZERO_RUN_PAGES);
    uint8_t *data = r + ZERO_RUN_PAGES * 4096;
    size_t n = put_marker(data, "zpage", FORM_PLAIN);
    memset(data + n, 0x77, 4096 - n);
    printf("INFO zero-run %p %lu\n", (void *)r, (unsigned long)ZERO_RUN_PAGES * 4096);
    report("zpage", data, n, "zpage", NULL);

    uint8_t *z = aligned_region(ZERO_ONLY_PAGES * 4096, 4096);
    read_pages(z, ZERO_ONLY_PAGES);
    printf("INFO zero-only %p %lu\n", (void *)z, (unsigned long)ZERO_ONLY_PAGES * 4096);
}

/* An anonymous page with the "stale" marker (kind plain) STALE_AT bytes
 * in, and right after it, its own VMA, a page of memfd_secret memory with
 * the "secret" marker (kind secret) at SECRET_AT: present, and
 * process_vm_readv and /proc/PID/mem both fail on it. PROT_NONE around
 * them. INFO secret gives the secret page; "INFO secret 0 0" (and no
 * plants) if the kernel refuses memfd_secret (off before 6.5 unless booted
 * with secretmem.enable=1). */
#define STALE_AT 1000
#define SECRET_AT 2000

static void plant_secret(void)
{
    int fd = (int)syscall(SYS_memfd_secret, 0u);
    if (fd < 0 || ftruncate(fd, 4096) != 0) {
        printf("INFO secret 0 0\n");
        if (fd >= 0)
            close(fd);
        return;
    }
    uint8_t *r = xmmap(4 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    uint8_t *a = mmap(r + 4096, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    uint8_t *s = mmap(r + 2 * 4096, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    if (a == MAP_FAILED || s == MAP_FAILED)
        die("mmap --secret");
    close(fd);
    memset(a, 0x44, 4096);
    plant(a + STALE_AT, "stale", FORM_PLAIN, "plain");
    memset(s, 0x55, 4096);
    plant(s + SECRET_AT, "secret", FORM_PLAIN, "secret");
    printf("INFO secret %p 4096\n", (void *)s);
}

static void reserve(void)
{
    uint8_t *r = xmmap(64 * GiB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    printf("INFO reserve %p %lu\n", (void *)r, (unsigned long)(64 * GiB));
    int fd = memfd_create("mg-fixture-untouched", 0);
    if (fd < 0)
        die("memfd_create");
    if (ftruncate(fd, 64 * MiB) != 0)
        die("ftruncate");
    uint8_t *m = xmmap(64 * MiB, PROT_READ, MAP_SHARED, fd);
    close(fd);
    printf("INFO memfd-untouched %p %lu\n", (void *)m, (unsigned long)(64 * MiB));
}

/* 256 MiB, every page written (real pages, not the zero page), markers at
 * the start, in the middle and at the end; shared with the child after
 * fork. Two markers straddle a page boundary where the child, after fork,
 * writes only the second page (so the first stays shared):
 *   forkgone  whole in the parent; the child blanks its tail  (kind parent)
 *   forkonly  the parent writes only its head; the child completes it
 *             (kind child)
 * Returns the region; fork_child_writes() does the child's part. */
static uint8_t *fork_region;
#define FORK_GONE_AT (64 * MiB)
#define FORK_ONLY_AT (96 * MiB)
#define FORK_SPLIT 10 /* marker bytes before the page boundary */

static void plant_fork_region(void)
{
    size_t len = 256 * MiB;
    uint8_t *p = xmmap(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    madvise(p, len, MADV_NOHUGEPAGE);
    memset(p, 0x33, len);
    fork_region = p;
    printf("INFO fork-region %p %zu\n", (void *)p, len);
    plant(p, "fork", FORM_PLAIN, "plain");
    plant(p + 128 * MiB - 5, "fork", FORM_PLAIN, "plain");
    plant(p + len - marker_len("fork"), "fork", FORM_PLAIN, "plain");

    size_t n = put_marker(p + FORK_GONE_AT - FORK_SPLIT, "forkgone", FORM_PLAIN);
    report("forkgone", p + FORK_GONE_AT - FORK_SPLIT, n, "parent", NULL);
    n = put_marker(p + FORK_ONLY_AT - FORK_SPLIT, "forkonly", FORM_PLAIN);
    memset(p + FORK_ONLY_AT, 0x33, n - FORK_SPLIT); /* the parent keeps the head only */
    report("forkonly", p + FORK_ONLY_AT - FORK_SPLIT, n, "child", NULL);
}

/* In the child, before READY: touch only the pages after the boundaries. */
static void fork_child_writes(void)
{
    size_t n = marker_len("forkgone");
    memset(fork_region + FORK_GONE_AT, 0x33, n - FORK_SPLIT);
    /* Write the whole marker to the side and copy its tail: the head bytes
     * on the shared page must not be written (that would unshare it). */
    uint8_t *tmp = xmmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    size_t m = put_marker(tmp, "forkonly", FORM_PLAIN);
    memcpy(fork_region + FORK_ONLY_AT, tmp + FORK_SPLIT, m - FORK_SPLIT);
    munmap(tmp, 4096);
}

/* Wait for EOF on stdin. With --exit-after MS, the first byte read starts
 * the clock instead: exit MS ms later (the test writes that byte just
 * before it starts a sweep). */
static void wait_stdin(long exit_after_ms)
{
    char buf[256];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR))
            return;
        if (n > 0 && exit_after_ms >= 0) {
            struct timespec ts = {.tv_sec = exit_after_ms / 1000,
                                  .tv_nsec = exit_after_ms % 1000 * 1000000};
            nanosleep(&ts, NULL);
            return;
        }
    }
}

/* --drop-args: the whole pages of this process's argument strings
 * (/proc/self/stat fields 48-49) discarded, so that they are not present
 * (the strings are read no more; the pointer arrays and environment lie
 * outside those pages). */
static void drop_arg_pages(void)
{
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/stat", "r");
    char buf[2048];
    if (!f || !fgets(buf, sizeof buf, f))
        die("/proc/self/stat");
    fclose(f);
    char *s = strrchr(buf, ')');
    unsigned long long v = 0, arg_start = 0, arg_end = 0;
    for (int field = 3; s && field <= 49; field++) {
        s = strchr(s + 1, ' ');
        if (s && field >= 4)
            v = strtoull(s + 1, NULL, 10);
        if (field == 48)
            arg_start = v;
        if (field == 49)
            arg_end = v;
    }
    uintptr_t a = (arg_start + page - 1) & ~(page - 1), b = arg_end & ~(page - 1);
    if (b <= a || madvise((void *)a, b - a, MADV_DONTNEED) != 0)
        die("--drop-args: no whole page of arguments to drop");
}

int main(int argc, char **argv)
{
    bool do_fork = false, do_reserve = false, odd_comm = false, zero_pages = false, secret = false,
         drop_args = false;
    long exit_after = -1;
    size_t touch_mb = 0;
    map_spec maps[2];
    size_t n_maps = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--token") && i + 1 < argc)
            token = argv[++i];
        else if (!strcmp(argv[i], "--fork"))
            do_fork = true;
        else if (!strcmp(argv[i], "--reserve"))
            do_reserve = true;
        else if (!strcmp(argv[i], "--odd-comm"))
            odd_comm = true;
        else if (!strcmp(argv[i], "--zero-pages"))
            zero_pages = true;
        else if (!strcmp(argv[i], "--secret"))
            secret = true;
        else if (!strcmp(argv[i], "--drop-args") && i + 1 < argc)
            drop_args = argv[++i] != NULL; /* the argument: padding, pages of it */
        else if (!strcmp(argv[i], "--exit-after") && i + 1 < argc)
            exit_after = atol(argv[++i]);
        else if (!strcmp(argv[i], "--touch") && i + 1 < argc)
            touch_mb = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--map-file") && i + 1 < argc && n_maps < 2)
            maps[n_maps++] = (map_spec){.path = argv[++i], .page = -1};
        else if (!strcmp(argv[i], "--map-offset") && i + 1 < argc && n_maps)
            maps[n_maps - 1].off = (off_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--map-page") && i + 1 < argc && n_maps)
            maps[n_maps - 1].page = atol(argv[++i]);
        else if (!strcmp(argv[i], "--map-noread") && n_maps)
            maps[n_maps - 1].noread = true;
        else {
            fprintf(stderr, "fixture: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!token || strlen(token) < 8) {
        fprintf(stderr, "usage: fixture --token HEX [--fork] [--reserve] [--exit-after MS] "
                        "[--touch MB] [--map-file PATH [--map-offset BYTES] [--map-page N] "
                        "[--map-noread]]... "
                        "[--odd-comm] "
                        "[--zero-pages] [--secret] [--drop-args PADDING]\n");
        return 2;
    }
    if (drop_args) {
        token = strdup(token); /* it points into them */
        drop_arg_pages();
    }
    /* Die with the test that started us. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (odd_comm)
        prctl(PR_SET_NAME, (unsigned long)FIXTURE_ODD_COMM, 0, 0, 0);

    /* Main stack: lives in main's frame until exit. */
    uint8_t stack_buf[256];
    memset(stack_buf, 0, sizeof stack_buf);
    plant(stack_buf + 32, "stack", FORM_PLAIN, "plain");
    __asm__ volatile("" : : "r"(stack_buf) : "memory");

    pthread_t th;
    if (pthread_create(&th, NULL, thread_main, NULL) != 0)
        die("pthread_create");
    pthread_mutex_lock(&lock);
    while (!thread_ready)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    report("tstack", thread_plant, thread_plant_len, "plain", NULL);
    printf("THREAD %d\n", (int)thread_tid);

    plant_heap();
    plant_big();
    plant_private_file();
    plant_shared();
    plant_thp();
    plant_noread();
    if (touch_mb)
        touch_region(touch_mb);
    for (size_t i = 0; i < n_maps; i++)
        map_file(&maps[i], i ? "mapfile2" : "mapfile");
    if (do_reserve)
        reserve();
    if (zero_pages)
        plant_zero_pages();
    if (secret)
        plant_secret();
    if (do_fork) {
        plant_fork_region();
        fflush(stdout);
        int done[2];
        if (pipe(done) != 0)
            die("pipe");
        pid_t child = fork();
        if (child < 0)
            die("fork");
        if (child == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            fork_child_writes();
            if (write(done[1], "", 1) != 1)
                _exit(3);
            wait_stdin(exit_after);
            _exit(0);
        }
        char c;
        if (read(done[0], &c, 1) != 1)
            die("child did not finish planting");
        printf("CHILD %d\n", (int)child);
    }
    printf("READY\n");
    fflush(stdout);

    wait_stdin(exit_after);
    __asm__ volatile("" : : "r"(stack_buf) : "memory");
    _exit(0);
}
