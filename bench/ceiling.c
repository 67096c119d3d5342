/*
 * ceiling - the "ceiling probe": the practical maximum memgrep is measured
 * against. A bare loop of process_vm_readv into 1 MiB buffers and a
 * Hyperscan block-mode scan of each buffer, over a target's readable
 * regions, on N threads. Nothing else: no residency check, no
 * /proc/PID/mem fallback, no match reporting beyond counting.
 *
 *   ceiling -p PID[,PID...] -f PATTERNFILE [-j N] [-c CHUNK_KIB] [-o MATCHED_FILE] [-q] [-R]
 *
 * -p is repeatable: the regions of every PID given go into one work list
 * (one pattern compilation, N threads over all of them), as for a whole-host
 * sweep.
 *
 * PATTERNFILE has memgrep's pattern-list format: one literal per line, or
 * "re:REGEX", or "hex:BYTES" ("??" any byte); '#' starts a comment line;
 * blank lines and a trailing CR are ignored.
 *
 * Regions: every line of /proc/PID/maps with 'r' permission except
 * [vvar]/[vvar_vclock]/[vsyscall]/[vdso]/[uprobes] and device mappings (/dev/...
 * other than /dev/shm and /dev/zero, anon_inode:*, dmabuf:). Work units are
 * CHUNK-sized pieces of regions (default 1 MiB), taken from a shared counter
 * by the threads. Each read takes CHUNK + (longest pattern width - 1) bytes
 * so a match straddling two chunks is still seen (it may then be counted
 * twice; the distinct-pattern list -o is exact).
 *
 * Not a production tool: it reads every readable page, so it faults in
 * pages that are not resident (file pages, swapped pages) and, through
 * FOLL_PIN, unshares anonymous pages shared after fork. Use it on a
 * benchmark target such as bench/bigproc.
 *
 * -R (resident, for sweeps of many processes, bench/scripts/sweep.sh): the bytes
 * memgrep reads, read the way it must read them, and nothing more. Each
 * region is narrowed to its present pages that are not the shared zero page
 * (PAGEMAP_SCAN, Linux 6.7+), and those runs are the work list (a 64 GiB
 * untouched reservation costs one ioctl per GiB, and is not faulted in).
 * A worker reads the pagemap entries of its chunk; pages that are anonymous
 * and not exclusively mapped (shared after fork) are read with pread on
 * /proc/PID/mem, which does not pin (process_vm_readv would unshare them:
 * the targets would change under the benchmark); all others with
 * process_vm_readv. Still no deduplication, event handling or reporting.
 *
 * Output (stdout): one summary line,
 *   ceiling: pid P threads J regions R bytes B scan_s S GBps G compile_s C
 *            matches M patterns_matched K read_failed_bytes F
 * ("pids N" instead of "pid P" with several PIDs; regions counts the
 * present runs with -R; scan_s includes -R's PAGEMAP_SCAN walk).
 * Exit status: 0 some pattern matched, 1 none, 2 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define UNBOUNDED_WIDTH 4096u
#define PAGE_SZ 4096u

/* The Linux 6.7 PAGEMAP_SCAN uapi, for headers that predate it. */
#define PM_PAGE_IS_PRESENT (1 << 3)
#define PM_PAGE_IS_PFNZERO (1 << 5)
struct pm_page_region {
    uint64_t start, end, categories;
};
struct pm_scan_args {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PM_SCAN_IOCTL _IOWR('f', 16, struct pm_scan_args)
#define PM_ENT_FILE (1ull << 61) /* file page or shared anonymous (shmem) */
#define PM_ENT_EXCLUSIVE (1ull << 56) /* mapped by this process only */

struct pattern {
    char *line; /* as written in the file, without newline */
    char *expr; /* Hyperscan expression */
    unsigned flags;
};

struct region {
    uint64_t start, end;
    unsigned proc; /* index into shared.pids */
};

struct shared {
    const pid_t *pids;
    const int *mem_fds, *pagemap_fds; /* -R only */
    bool resident;
    const hs_database_t *db;
    const hs_scratch_t *proto;
    const struct region *regions;
    size_t nregions;
    const uint64_t *chunk_first; /* chunk index where each region begins; [nregions] = total */
    size_t chunk, overlap;
    unsigned npatterns;
    atomic_size_t next; /* next chunk index to take */
};

struct worker {
    struct shared *sh;
    pthread_t thread;
    int err;
    uint64_t bytes, failed, matches;
    unsigned char *seen; /* npatterns flags */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Escape len bytes as \xHH each: a Hyperscan expression matching them literally. */
static char *escape_literal(const char *s, size_t len)
{
    char *out = malloc(len * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++)
        o += sprintf(o, "\\x%02x", (unsigned char)s[i]);
    *o = 0;
    return out;
}

/* "4d 5a ?? 90" -> "\x4d\x5a.\x90" (with HS_FLAG_DOTALL). NULL if malformed. */
static char *hex_to_expr(const char *s)
{
    char *out = malloc(strlen(s) * 4 + 1), *o = out;
    if (!out)
        return NULL;
    size_t n = 0;
    while (*s) {
        if (*s == ' ' || *s == '\t') {
            s++;
            continue;
        }
        if (s[0] == '?' && s[1] == '?') {
            *o++ = '.';
        } else if (hexval(s[0]) >= 0 && s[1] && hexval(s[1]) >= 0) {
            o += sprintf(o, "\\x%02x", hexval(s[0]) * 16 + hexval(s[1]));
        } else {
            free(out);
            return NULL;
        }
        s += 2;
        n++;
    }
    *o = 0;
    if (!n) {
        free(out);
        return NULL;
    }
    return out;
}

static int load_patterns(const char *path, struct pattern **out, unsigned *count)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "ceiling: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct pattern *v = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        if (len && line[len - 1] == '\n')
            line[--len] = 0;
        if (len && line[len - 1] == '\r')
            line[--len] = 0;
        if (!len || line[0] == '#')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            struct pattern *nv = realloc(v, cap * sizeof *v);
            if (!nv)
                goto oom;
            v = nv;
        }
        struct pattern *p = &v[n];
        p->line = strdup(line);
        if (!strncmp(line, "re:", 3)) {
            p->expr = strdup(line + 3);
            p->flags = HS_FLAG_DOTALL;
        } else if (!strncmp(line, "hex:", 4)) {
            p->expr = hex_to_expr(line + 4);
            p->flags = HS_FLAG_DOTALL;
            if (!p->expr) {
                fprintf(stderr, "ceiling: %s:%zu: bad hex pattern\n", path, lineno);
                free(line);
                fclose(f);
                return -1;
            }
        } else {
            p->expr = escape_literal(line, (size_t)len);
            p->flags = 0;
        }
        if (!p->line || !p->expr)
            goto oom;
        n++;
    }
    free(line);
    fclose(f);
    if (!n) {
        fprintf(stderr, "ceiling: %s: no patterns\n", path);
        return -1;
    }
    *out = v;
    *count = (unsigned)n;
    return 0;
oom:
    fputs("ceiling: out of memory\n", stderr);
    exit(2);
}

static bool skipped_path(const char *path)
{
    static const char *const special[] = {"[vvar]", "[vvar_vclock]", "[vsyscall]", "[vdso]",
                                          "[uprobes]"};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (!strcmp(path, special[i]))
            return true;
    if (!strncmp(path, "/dev/", 5))
        return strncmp(path, "/dev/shm/", 9) != 0 && strncmp(path, "/dev/zero", 9) != 0;
    return !strncmp(path, "anon_inode:", 11) || !strncmp(path, "dmabuf:", 7);
}

/* Append the readable regions of pid (index proc) to *out (count *count). */
static int load_regions(pid_t pid, unsigned proc, struct region **out, size_t *count)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "ceiling: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct region *v = *out;
    size_t n = *count, cap = *count;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) >= 0) {
        /* 7f0c...-7f0c... rw-p 00000000 00:00 0          [heap] */
        uint64_t s, e;
        char perms[8];
        int off = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s%n", &s, &e, perms, &off) < 3)
            continue;
        char *p = line + off;
        while (*p == ' ')
            p++;
        p[strcspn(p, "\n")] = 0;
        if (perms[0] != 'r' || skipped_path(p) || e <= s)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            struct region *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                fputs("ceiling: out of memory\n", stderr);
                exit(2);
            }
            v = nv;
        }
        v[n++] = (struct region){s, e, proc};
    }
    free(line);
    fclose(f);
    *out = v;
    *count = n;
    return 0;
}

/* -R: replace each region by its runs of present pages that are not the
 * zero page (PAGEMAP_SCAN, 1 GiB and 256 runs per call). */
static int narrow_to_present(const int *pagemap_fds, struct region **regs, size_t *count)
{
    struct region *in = *regs, *v = NULL;
    size_t n = 0, cap = 0;
    struct pm_page_region vec[256];
    for (size_t i = 0; i < *count; i++) {
        uint64_t pos = in[i].start;
        while (pos < in[i].end) {
            uint64_t stop = in[i].end - pos > (1ull << 30) ? pos + (1ull << 30) : in[i].end;
            struct pm_scan_args arg = {
                .size = sizeof arg,
                .start = pos,
                .end = stop,
                .vec = (uint64_t)(uintptr_t)vec,
                .vec_len = 256,
                .category_inverted = PM_PAGE_IS_PFNZERO,
                .category_mask = PM_PAGE_IS_PRESENT | PM_PAGE_IS_PFNZERO,
                .return_mask = PM_PAGE_IS_PRESENT,
            };
            long got = ioctl(pagemap_fds[in[i].proc], PM_SCAN_IOCTL, &arg);
            if (got < 0) {
                if (errno == ESRCH || errno == ENOENT)
                    break; /* the process exited: nothing more of it */
                fprintf(stderr, "ceiling: PAGEMAP_SCAN: %s (needs Linux 6.7)\n", strerror(errno));
                return -1;
            }
            for (long k = 0; k < got; k++) {
                if (n && v[n - 1].proc == in[i].proc && v[n - 1].end == vec[k].start) {
                    v[n - 1].end = vec[k].end; /* joined across a 1 GiB step */
                    continue;
                }
                if (n == cap) {
                    cap = cap ? cap * 2 : 1024;
                    struct region *nv = realloc(v, cap * sizeof *v);
                    if (!nv) {
                        fputs("ceiling: out of memory\n", stderr);
                        exit(2);
                    }
                    v = nv;
                }
                v[n++] = (struct region){vec[k].start, vec[k].end, in[i].proc};
            }
            if (arg.walk_end <= pos)
                break;
            pos = arg.walk_end;
        }
    }
    free(in);
    *regs = v;
    *count = n;
    return 0;
}

/* -R: read [start, start+len) of process proc into buf: pages that are
 * anonymous and shared (not exclusive) with pread on /proc/PID/mem, runs of
 * other pages with process_vm_readv. Returns the bytes read before the first
 * failure. */
static uint64_t read_resident(const struct shared *sh, unsigned proc, uint64_t start, size_t len,
                              unsigned char *buf, uint64_t *ents)
{
    size_t npages = len / PAGE_SZ;
    off_t pmoff = (off_t)(start / PAGE_SZ * sizeof(uint64_t));
    if (pread(sh->pagemap_fds[proc], ents, npages * sizeof *ents, pmoff) !=
        (ssize_t)(npages * sizeof *ents))
        return 0;
    size_t done = 0;
    while (done < npages) {
        bool via_mem = !(ents[done] & PM_ENT_FILE) && !(ents[done] & PM_ENT_EXCLUSIVE);
        size_t end = done + 1;
        while (end < npages &&
               via_mem == (!(ents[end] & PM_ENT_FILE) && !(ents[end] & PM_ENT_EXCLUSIVE)))
            end++;
        size_t off = done * PAGE_SZ, n = (end - done) * PAGE_SZ;
        ssize_t got;
        if (via_mem) {
            got = pread(sh->mem_fds[proc], buf + off, n, (off_t)(start + off));
        } else {
            struct iovec local = {buf + off, n};
            struct iovec remote = {(void *)(uintptr_t)(start + off), n};
            got = process_vm_readv(sh->pids[proc], &local, 1, &remote, 1, 0);
        }
        if (got != (ssize_t)n)
            return off + (got > 0 ? (uint64_t)got : 0);
        done = end;
    }
    return len;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    struct worker *w = ctx;
    w->matches++;
    w->seen[id] = 1;
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    hs_scratch_t *scratch = NULL;
    size_t cap = sh->chunk + sh->overlap;
    if (sh->resident) /* runs are whole pages: read whole pages */
        cap = (cap + PAGE_SZ - 1) / PAGE_SZ * PAGE_SZ;
    unsigned char *buf = malloc(cap);
    uint64_t *ents = sh->resident ? malloc((cap / PAGE_SZ + 2) * sizeof *ents) : NULL;
    if (!buf || (sh->resident && !ents) || hs_clone_scratch(sh->proto, &scratch) != HS_SUCCESS) {
        w->err = ENOMEM;
        free(buf);
        free(ents);
        return NULL;
    }
    const uint64_t total = sh->chunk_first[sh->nregions];
    size_t r = 0;
    for (;;) {
        uint64_t c = atomic_fetch_add(&sh->next, 1);
        if (c >= total)
            break;
        while (r + 1 < sh->nregions && sh->chunk_first[r + 1] <= c)
            r++; /* c only grows, in every thread: r never moves back */
        const struct region *rg = &sh->regions[r];
        uint64_t start = rg->start + (c - sh->chunk_first[r]) * sh->chunk;
        uint64_t own = rg->end - start < sh->chunk ? rg->end - start : sh->chunk;
        uint64_t want = rg->end - start < cap ? rg->end - start : cap;
        ssize_t got;
        if (sh->resident) {
            got = (ssize_t)read_resident(sh, rg->proc, start, want, buf, ents);
        } else {
            struct iovec local = {buf, want};
            struct iovec remote = {(void *)(uintptr_t)start, want};
            got = process_vm_readv(sh->pids[rg->proc], &local, 1, &remote, 1, 0);
        }
        if (got <= 0) {
            w->failed += own;
            continue;
        }
        w->bytes += (uint64_t)got < own ? (uint64_t)got : own;
        if ((uint64_t)got < own)
            w->failed += own - (uint64_t)got;
        if (hs_scan(sh->db, (const char *)buf, (unsigned)got, 0, scratch, on_match, w) !=
            HS_SUCCESS) {
            w->err = EIO;
            break;
        }
    }
    hs_free_scratch(scratch);
    free(buf);
    free(ents);
    return NULL;
}

static void usage(void)
{
    fputs("usage: ceiling -p PID[,PID...] -f PATTERNFILE [-j N] [-c CHUNK_KIB] [-o MATCHED_FILE] "
          "[-q] [-R]\n",
          stderr);
}

int main(int argc, char **argv)
{
    pid_t *pids = NULL;
    size_t npids = 0;
    bool resident = false, bad_pid = false;
    const char *pfile = NULL, *matched_out = NULL;
    unsigned threads = 1;
    size_t chunk_kib = 1024;
    int opt;
    while ((opt = getopt(argc, argv, "p:f:j:c:o:qRh")) != -1) {
        switch (opt) {
        case 'p':
            for (char *s = optarg, *end; *s; s = *end ? end + 1 : end) {
                long v = strtol(s, &end, 10);
                if (end == s || (*end && *end != ',') || v <= 0) {
                    bad_pid = true;
                    break;
                }
                pid_t *nv = realloc(pids, (npids + 1) * sizeof *pids);
                if (!nv)
                    return 2;
                pids = nv;
                pids[npids++] = (pid_t)v;
            }
            break;
        case 'R':
            resident = true;
            break;
        case 'f':
            pfile = optarg;
            break;
        case 'j':
            threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'c':
            chunk_kib = strtoul(optarg, NULL, 10);
            break;
        case 'o':
            matched_out = optarg;
            break;
        case 'q':
            break; /* accepted for symmetry; the summary is one line anyway */
        default:
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!npids || bad_pid || !pfile || threads < 1 || threads > 256 || chunk_kib < 4 ||
        chunk_kib > 1024 * 1024) {
        usage();
        return 2;
    }

    /* Patterns -> one Hyperscan block-mode database. */
    double t0 = now();
    struct pattern *pats;
    unsigned np;
    if (load_patterns(pfile, &pats, &np))
        return 2;
    const char **exprs = malloc(np * sizeof *exprs);
    unsigned *flags = malloc(np * sizeof *flags), *ids = malloc(np * sizeof *ids);
    if (!exprs || !flags || !ids)
        return 2;
    unsigned max_width = 1;
    for (unsigned i = 0; i < np; i++) {
        exprs[i] = pats[i].expr;
        flags[i] = pats[i].flags;
        ids[i] = i;
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *cerr = NULL;
        if (hs_expression_info(exprs[i], flags[i], &info, &cerr) != HS_SUCCESS) {
            fprintf(stderr, "ceiling: %s: pattern \"%s\": %s\n", pfile, pats[i].line,
                    cerr->message);
            return 2;
        }
        unsigned w = info->max_width == UINT_MAX ? UNBOUNDED_WIDTH : info->max_width;
        if (w > max_width)
            max_width = w;
        free(info);
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    if (hs_compile_multi(exprs, flags, ids, np, HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
        fprintf(stderr, "ceiling: compile: %s (pattern %d)\n", cerr->message, cerr->expression);
        return 2;
    }
    hs_scratch_t *proto = NULL;
    if (hs_alloc_scratch(db, &proto) != HS_SUCCESS) {
        fputs("ceiling: hs_alloc_scratch failed\n", stderr);
        return 2;
    }
    double compile_s = now() - t0;

    /* Regions -> chunk numbering. */
    struct region *regions = NULL;
    size_t nr = 0;
    int *mem_fds = calloc(npids, sizeof *mem_fds), *pagemap_fds = calloc(npids, sizeof *mem_fds);
    if (!mem_fds || !pagemap_fds)
        return 2;
    for (size_t i = 0; i < npids; i++) {
        if (load_regions(pids[i], (unsigned)i, &regions, &nr))
            return 2;
        if (resident) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%ld/mem", (long)pids[i]);
            mem_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
            snprintf(path, sizeof path, "/proc/%ld/pagemap", (long)pids[i]);
            pagemap_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
            if (mem_fds[i] < 0 || pagemap_fds[i] < 0) {
                fprintf(stderr, "ceiling: pid %ld: %s: %s\n", (long)pids[i], path, strerror(errno));
                return 2;
            }
        }
    }
    double t1 = now(); /* with -R the PAGEMAP_SCAN walk is part of the scan time */
    if (resident && narrow_to_present(pagemap_fds, &regions, &nr))
        return 2;
    size_t chunk = chunk_kib * 1024;
    if (resident)
        chunk = (chunk + PAGE_SZ - 1) / PAGE_SZ * PAGE_SZ;
    uint64_t *first = malloc((nr + 1) * sizeof *first);
    if (!first)
        return 2;
    first[0] = 0;
    for (size_t i = 0; i < nr; i++)
        first[i + 1] = first[i] + (regions[i].end - regions[i].start + chunk - 1) / chunk;

    struct shared sh = {
        .pids = pids,
        .mem_fds = mem_fds,
        .pagemap_fds = pagemap_fds,
        .resident = resident,
        .db = db,
        .proto = proto,
        .regions = regions,
        .nregions = nr,
        .chunk_first = first,
        .chunk = chunk,
        .overlap = max_width - 1,
        .npatterns = np,
    };
    atomic_init(&sh.next, 0);
    struct worker *w = calloc(threads, sizeof *w);
    if (!w)
        return 2;

    for (unsigned t = 0; t < threads; t++) {
        w[t].sh = &sh;
        w[t].seen = calloc(np, 1);
        if (!w[t].seen || pthread_create(&w[t].thread, NULL, worker_main, &w[t]) != 0) {
            fputs("ceiling: cannot start threads\n", stderr);
            return 2;
        }
    }
    uint64_t bytes = 0, failed = 0, matches = 0;
    int err = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(w[t].thread, NULL);
        bytes += w[t].bytes;
        failed += w[t].failed;
        matches += w[t].matches;
        if (w[t].err)
            err = w[t].err;
    }
    double scan_s = now() - t1;
    if (err) {
        fprintf(stderr, "ceiling: worker failed: %s\n", strerror(err));
        return 2;
    }

    unsigned distinct = 0;
    FILE *mo = NULL;
    if (matched_out && !(mo = fopen(matched_out, "we"))) {
        fprintf(stderr, "ceiling: %s: %s\n", matched_out, strerror(errno));
        return 2;
    }
    for (unsigned i = 0; i < np; i++) {
        bool hit = false;
        for (unsigned t = 0; t < threads && !hit; t++)
            hit = w[t].seen[i];
        if (hit) {
            distinct++;
            if (mo)
                fprintf(mo, "%s\n", pats[i].line);
        }
    }
    if (mo && fclose(mo)) {
        fprintf(stderr, "ceiling: %s: write failed\n", matched_out);
        return 2;
    }
    if (bytes == 0 && failed > 0) {
        fprintf(stderr, "ceiling: nothing could be read (permission?)\n");
        return 2;
    }

    if (npids == 1)
        printf("ceiling: pid %ld ", (long)pids[0]);
    else
        printf("ceiling: pids %zu ", npids);
    printf("threads %u regions %zu bytes %" PRIu64 " scan_s %.3f GBps %.2f "
           "compile_s %.3f matches %" PRIu64 " patterns_matched %u read_failed_bytes %" PRIu64 "\n",
           threads, nr, bytes, scan_s, scan_s > 0 ? (double)bytes / scan_s / 1e9 : 0.0, compile_s,
           matches, distinct, failed);
    return distinct ? 0 : 1;
}
