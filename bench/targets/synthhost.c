/*
 * synthhost - a repeatable synthetic host for whole-host sweep benchmarks:
 * N target processes of mixed sizes holding heap-like data, memory shared
 * through a file and through fork, sparse reservations, and IOC strings
 * planted at known addresses.
 *
 *   synthhost [--procs N] [--seed S] [--total-mib T] [--min-mib A] [--max-mib B]
 *             [--file-mib F] [--prefork-mib P] [--prefork-children C]
 *             [--sparse K] [--reserve-gib R] [--protnone-gib Q] [--untouched]
 *             [--plants K] [--npat M] [--dir DIR] [--timeout SECONDS]
 *   synthhost --patterns N      print N IOC-like patterns (as bigproc does) and exit
 *
 * The N target processes (default 100) are:
 *  - a pre-fork group (unless P is 0): a parent that fills P MiB (default 200)
 *    of anonymous memory with heap-like data, then forks C children (default
 *    9) that only read it, so its pages are shared copy-on-write by 1 + C
 *    processes;
 *  - N - (1 + C) ordinary processes, each with its own heap-like data: sizes
 *    drawn log-uniformly from [A, B] MiB (default 4..256) with seed S, then
 *    scaled so that they add up to T MiB (default 3072; 0 gives processes with
 *    no data of their own). The data is in 1 to 3 mappings per process; in
 *    every other process the first one is [heap] (sbrk). The first K (default
 *    2) of them are sparse: they also hold an untouched R GiB (default 64)
 *    MAP_NORESERVE read-write reservation and a Q GiB (default 16) PROT_NONE
 *    one (and, unless --untouched, one IOC planted in the middle of the R GiB
 *    reservation, so two of its pages are present).
 * Every target maps one F MiB file (default 64; 0 for none), written with
 * heap-like data into a temporary directory (in DIR, default $TMPDIR or
 * /tmp), MAP_PRIVATE read-only, and reads all of it: its page-cache pages are
 * mapped in every target.
 *
 * Planted IOCs: strings hg_ioc(i) (bench/heapgen.h, the list `--patterns`
 * prints) with i drawn from [0, M) (default 1000), so the first M patterns
 * include every planted string. Per ordinary process and in the pre-fork
 * region, K plants (default 4): one straddling a 1 MiB address boundary,
 * one straddling a 4 KiB page boundary, one at a random offset, one in the
 * last bytes of a mapping (more: random offsets). In the file, two: one
 * straddling the 1 MiB file-offset boundary at F/2, one a 4 KiB boundary.
 * Each is reported at its address in each process that maps it (the
 * pre-fork region at the same address in all 1 + C processes).
 *
 * Output on stdout, once every target is ready:
 *   INFO key value                 setup facts (sizes, file path, timing)
 *   PROC pid kind data_mib         kind: ordinary, sparse, prefork-parent, prefork-child
 *   PLANT pid 0xaddr ioc           the IOC text runs to the end of the line
 *   READY
 * The targets stay until synthhost's stdin reaches end of file (or it gets
 * SIGTERM/SIGINT/SIGHUP, or --timeout passes); then they all exit and the
 * temporary directory is removed. synthhost is the subreaper of its targets
 * and every target has PR_SET_PDEATHSIG, so none outlives it, even killed.
 * Same options and seed give the same sizes, data, IOCs and offsets (the
 * addresses depend on the kernel's ASLR).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapgen.h"

#define MIB ((size_t)1 << 20)
#define PAGE ((uintptr_t)4096)
#define MAX_REGIONS 3
#define MAX_PLANTS 64

struct opts {
    unsigned procs;
    uint64_t seed;
    size_t total_mib, min_mib, max_mib;
    size_t file_mib, prefork_mib;
    unsigned prefork_children;
    unsigned sparse;
    size_t reserve_gib, protnone_gib;
    bool untouched;
    unsigned plants;
    unsigned npat;
    const char *dir;
    unsigned timeout;
};

static struct opts o = {
    .procs = 100,
    .seed = 1,
    .total_mib = 3072,
    .min_mib = 4,
    .max_mib = 256,
    .file_mib = 64,
    .prefork_mib = 200,
    .prefork_children = 9,
    .sparse = 2,
    .reserve_gib = 64,
    .protnone_gib = 16,
    .untouched = false,
    .plants = 4,
    .npat = 1000,
    .dir = NULL,
    .timeout = 0,
};

/* Shared with every target (set before the first fork). */
static int report_fd = -1; /* write end of the report pipe */
static int life_fd = -1; /* read end of the life pipe: EOF means exit */
static const char *file_path;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static __attribute__((noreturn)) void die_child(const char *what)
{
    hg_say(report_fd, "FAIL %ld %s: %s\n", (long)getpid(), what, strerror(errno));
    _exit(1);
}

/* Block until the life pipe closes (synthhost is done or gone), then exit. */
static __attribute__((noreturn)) void wait_and_exit(void)
{
    char c;
    for (;;) {
        ssize_t r = read(life_fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
    }
    _exit(0);
}

/* Fork a target: it dies with its parent (PR_SET_PDEATHSIG). Returns 0 in
 * the child, like fork(). */
static pid_t fork_target(void)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(1);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
    }
    return pid;
}

/* Read every byte of [p, p+len) (so each page is mapped) and return a sum
 * the compiler cannot drop. */
static uint64_t read_all(const uint8_t *p, size_t len)
{
    uint64_t sum = 0;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        sum += v;
    }
    return sum;
}

static volatile uint64_t sink;

struct region {
    uint8_t *base;
    size_t len;
};

struct plant {
    uintptr_t at;
    size_t len;
};

/* Where the k-th plant of n bytes goes among regions rs (nr of them):
 * kind 0 straddles a 1 MiB address boundary (in the largest region; a page
 * boundary when none fits), 1 a 4 KiB page boundary, 3 the end of a
 * mapping, others a random offset. Never overlaps an earlier plant. 0 when
 * nothing fits. */
static uintptr_t place(hg_rng *r, unsigned k, size_t n, const struct region *rs, unsigned nr,
                       const struct plant *done, unsigned ndone)
{
    for (unsigned attempt = 0; attempt < 64; attempt++) {
        unsigned kind = attempt < 32 && k < 4 ? k : 2;
        unsigned ri = (unsigned)(hg_next(r) % nr);
        if (kind == 0) /* the largest region */
            for (unsigned i = 0; i < nr; i++)
                if (rs[i].len > rs[ri].len)
                    ri = i;
        uintptr_t lo = (uintptr_t)rs[ri].base, hi = lo + rs[ri].len, at = 0;
        if (hi - lo < n)
            continue;
        if (kind == 0) { /* across a 1 MiB boundary b: at < b < at + n */
            uintptr_t first = (lo + n + MIB - 1) & ~(uintptr_t)(MIB - 1);
            uintptr_t last = (hi - n) & ~(uintptr_t)(MIB - 1);
            if (first <= last) {
                uintptr_t b = first + (hg_next(r) % ((last - first) / MIB + 1)) * MIB;
                at = b - 1 - hg_next(r) % (n - 1);
            } else {
                kind = 1;
            }
        }
        if (kind == 1) { /* across a page boundary */
            if (hi - lo >= 2 * PAGE) {
                uintptr_t b = lo + (1 + hg_next(r) % ((hi - lo) / PAGE - 1)) * PAGE;
                at = b - 1 - hg_next(r) % (n - 1);
            } else {
                kind = 2;
            }
        }
        if (kind == 3) /* the last bytes of the mapping */
            at = hi - n;
        else if (kind == 2 || kind >= 4)
            at = lo + hg_next(r) % (hi - lo - n + 1);
        if (at < lo || at + n > hi)
            continue;
        bool clash = false;
        for (unsigned i = 0; i < ndone && !clash; i++)
            clash = at < done[i].at + done[i].len + 1 && done[i].at < at + n + 1;
        if (!clash)
            return at;
    }
    return 0;
}

/* Plant o.plants IOCs among regions rs and report them (for this pid, and,
 * for the pre-fork region, remembered so the children can report them). */
static unsigned plant_iocs(hg_rng *r, const struct region *rs, unsigned nr, struct plant *pl,
                           uint64_t *ids)
{
    unsigned np = 0;
    for (unsigned k = 0; k < o.plants && np < MAX_PLANTS && nr; k++) {
        char ioc[HG_IOC_MAX];
        uint64_t id = hg_next(r) % o.npat;
        size_t n = hg_ioc(id, ioc);
        uintptr_t at = place(r, k, n, rs, nr, pl, np);
        if (at) {
            memcpy((void *)at, ioc, n);
            pl[np] = (struct plant){at, n};
            ids[np++] = id;
        }
        explicit_bzero(ioc, sizeof ioc);
    }
    return np;
}

static void report_plants(const struct plant *pl, const uint64_t *ids, unsigned np)
{
    for (unsigned i = 0; i < np; i++) {
        char ioc[HG_IOC_MAX];
        hg_ioc(ids[i], ioc);
        hg_say(report_fd, "PLANT %ld 0x%" PRIxPTR " %s\n", (long)getpid(), pl[i].at, ioc);
        explicit_bzero(ioc, sizeof ioc);
    }
}

/* The file plants: (file offset, IOC id) pairs, from the seed. */
#define NFILEPLANTS 2
static void file_plants(uint64_t off[NFILEPLANTS], uint64_t id[NFILEPLANTS])
{
    hg_rng r = hg_seed(o.seed, 0xf11e);
    uint64_t len = (uint64_t)o.file_mib * MIB;
    for (unsigned k = 0; k < NFILEPLANTS; k++) {
        char ioc[HG_IOC_MAX];
        id[k] = hg_next(&r) % o.npat;
        size_t n = hg_ioc(id[k], ioc);
        explicit_bzero(ioc, sizeof ioc);
        uint64_t b = k == 0 ? (len / 2) & ~(uint64_t)(MIB - 1)
                            : ((3 * len / 4) & ~(uint64_t)(PAGE - 1)) + PAGE;
        off[k] = b - n / 2;
        if (b < n || off[k] + n > len)
            off[k] = len / 3 + k * 1000; /* tiny files: anywhere */
    }
}

/* Map the shared file, read it all, report its plants; returns its base. */
static uint8_t *map_file(void)
{
    if (!o.file_mib)
        return NULL;
    size_t len = o.file_mib * MIB;
    int fd = open(file_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die_child("open shared file");
    uint8_t *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        die_child("mmap shared file");
    sink += read_all(p, len);
    return p;
}

static void report_file_plants(const uint8_t *fbase)
{
    if (!fbase)
        return;
    uint64_t off[NFILEPLANTS], id[NFILEPLANTS];
    file_plants(off, id);
    for (unsigned k = 0; k < NFILEPLANTS; k++) {
        char ioc[HG_IOC_MAX];
        hg_ioc(id[k], ioc);
        hg_say(report_fd, "PLANT %ld 0x%" PRIxPTR " %s\n", (long)getpid(),
               (uintptr_t)fbase + off[k], ioc);
        explicit_bzero(ioc, sizeof ioc);
    }
}

static void *map_anon(size_t len, int prot, int extra)
{
    void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void fill(uint8_t *p, size_t len, uint64_t seed)
{
    hg_fill(p, len, seed, 0);
}

/* An ordinary (or sparse) target: index idx, data_mib MiB of its own data. */
static __attribute__((noreturn)) void ordinary_main(unsigned idx, size_t data_mib, bool sparse)
{
    hg_rng r = hg_seed(o.seed, 0x1000 + idx);
    struct region rs[MAX_REGIONS + 1];
    unsigned nr = 0;
    if (data_mib) {
        /* Split into 1..3 mappings of whole MiB. */
        unsigned want = 1 + (unsigned)(hg_next(&r) % MAX_REGIONS);
        if (want > data_mib)
            want = (unsigned)data_mib;
        size_t left = data_mib;
        for (unsigned i = 0; i < want; i++) {
            /* at least 1 MiB left for each mapping after this one */
            size_t mib = i + 1 == want ? left : 1 + hg_next(&r) % (left - (want - i - 1));
            left -= mib;
            uint8_t *p;
            if (i == 0 && idx % 2 == 1) { /* [heap] */
                void *cur = sbrk(0);
                uintptr_t pad = (PAGE - (uintptr_t)cur % PAGE) % PAGE;
                p = sbrk((intptr_t)(pad + mib * MIB));
                if (p == (void *)-1)
                    die_child("sbrk");
                p += pad;
            } else if (!(p = map_anon(mib * MIB, PROT_READ | PROT_WRITE, 0))) {
                die_child("mmap data");
            }
            fill(p, mib * MIB, o.seed * 1000003u + idx * 16u + i);
            rs[nr++] = (struct region){p, mib * MIB};
        }
    }
    uint8_t *fbase = map_file();
    struct plant pl[MAX_PLANTS + 1];
    uint64_t ids[MAX_PLANTS + 1];
    unsigned np = plant_iocs(&r, rs, nr, pl, ids);
    if (sparse) {
        size_t rlen = o.reserve_gib << 30;
        if (rlen) {
            uint8_t *res = map_anon(rlen, PROT_READ | PROT_WRITE, MAP_NORESERVE);
            if (!res)
                die_child("mmap reservation");
            if (!o.untouched) { /* one IOC across the page boundary in its middle */
                char ioc[HG_IOC_MAX];
                uint64_t id = hg_next(&r) % o.npat;
                size_t n = hg_ioc(id, ioc);
                uintptr_t at = (uintptr_t)res + rlen / 2 - n / 2;
                memcpy((void *)at, ioc, n);
                explicit_bzero(ioc, sizeof ioc);
                pl[np] = (struct plant){at, n};
                ids[np++] = id;
            }
        }
        if (o.protnone_gib && !map_anon(o.protnone_gib << 30, PROT_NONE, MAP_NORESERVE))
            die_child("mmap PROT_NONE reservation");
    }
    report_plants(pl, ids, np);
    report_file_plants(fbase);
    hg_say(report_fd, "PROC %ld %s %zu\n", (long)getpid(), sparse ? "sparse" : "ordinary",
           data_mib);
    hg_scrub_stack();
    wait_and_exit();
}

/* The pre-fork parent: fill, plant, fork the children, report. */
static __attribute__((noreturn)) void prefork_main(void)
{
    hg_rng r = hg_seed(o.seed, 0x2000);
    size_t len = o.prefork_mib * MIB;
    uint8_t *p = map_anon(len, PROT_READ | PROT_WRITE, 0);
    if (!p)
        die_child("mmap pre-fork data");
    fill(p, len, o.seed * 1000003u + 0xfeed);
    struct region rg = {p, len};
    struct plant pl[MAX_PLANTS];
    uint64_t ids[MAX_PLANTS];
    unsigned np = plant_iocs(&r, &rg, 1, pl, ids);
    uint8_t *fbase = map_file();
    hg_scrub_stack();
    for (unsigned c = 0; c < o.prefork_children; c++) {
        pid_t pid = fork_target();
        if (pid < 0)
            die_child("fork");
        if (pid == 0) {
            sink += read_all(p, len);
            if (fbase)
                sink += read_all(fbase, o.file_mib * MIB);
            report_plants(pl, ids, np);
            report_file_plants(fbase);
            hg_say(report_fd, "PROC %ld prefork-child %zu\n", (long)getpid(), o.prefork_mib);
            hg_scrub_stack();
            wait_and_exit();
        }
    }
    report_plants(pl, ids, np);
    report_file_plants(fbase);
    hg_say(report_fd, "PROC %ld prefork-parent %zu\n", (long)getpid(), o.prefork_mib);
    hg_scrub_stack();
    wait_and_exit();
}

/* Write the shared file: heap-like data with the file plants. */
static __attribute__((noinline)) int write_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    uint8_t *buf = map_anon(HG_BLOCK, PROT_READ | PROT_WRITE, 0);
    if (!buf) {
        close(fd);
        return -1;
    }
    uint64_t off[NFILEPLANTS], id[NFILEPLANTS];
    file_plants(off, id);
    size_t len = o.file_mib * MIB;
    int rc = 0;
    for (size_t pos = 0; pos < len && !rc; pos += HG_BLOCK) {
        hg_fill_block(buf, HG_BLOCK, o.seed * 1000003u + 0xf11e, pos / HG_BLOCK);
        for (unsigned k = 0; k < NFILEPLANTS; k++) {
            char ioc[HG_IOC_MAX];
            size_t n = hg_ioc(id[k], ioc);
            for (size_t i = 0; i < n; i++)
                if (off[k] + i >= pos && off[k] + i < pos + HG_BLOCK)
                    buf[off[k] + i - pos] = (uint8_t)ioc[i];
            explicit_bzero(ioc, sizeof ioc);
        }
        for (size_t w = 0; w < HG_BLOCK;) {
            ssize_t n = write(fd, buf + w, HG_BLOCK - w);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = -1;
                break;
            }
            w += (size_t)n;
        }
    }
    munmap(buf, HG_BLOCK);
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* Ordinary processes' data sizes in MiB: min * (max/min)^(u^p) for u drawn
 * uniformly from [0, 1), with the skew p (bisected) chosen so that they add
 * up to the total; the last few MiB of difference are spread one by one.
 * So the sizes span the whole range, most small, a few large. */
static size_t sizes_for(const double *u, unsigned n, double p, size_t *mib)
{
    size_t sum = 0;
    double ratio = (double)o.max_mib / (double)o.min_mib;
    for (unsigned i = 0; i < n; i++) {
        mib[i] = (size_t)((double)o.min_mib * pow(ratio, pow(u[i], p)) + 0.5);
        if (mib[i] > o.max_mib)
            mib[i] = o.max_mib;
        sum += mib[i];
    }
    return sum;
}

static void draw_sizes(size_t *mib, unsigned n)
{
    if (!n)
        return;
    if (!o.total_mib) {
        memset(mib, 0, n * sizeof *mib);
        return;
    }
    hg_rng r = hg_seed(o.seed, 0x512e);
    double *u = malloc(n * sizeof *u);
    if (!u) {
        perror("synthhost");
        exit(1);
    }
    for (unsigned i = 0; i < n; i++)
        u[i] = (double)(hg_next(&r) >> 11) / 9007199254740992.0;
    double lo = log(1e-3), hi = log(1e3); /* skew p in [1e-3, 1e3], bisected on log p */
    for (int it = 0; it < 60; it++) {
        double mid = (lo + hi) / 2;
        if (sizes_for(u, n, exp(mid), mib) > o.total_mib)
            lo = mid; /* larger p: smaller sizes */
        else
            hi = mid;
    }
    size_t sum = sizes_for(u, n, exp(hi), mib);
    for (unsigned i = 0; sum != o.total_mib && i < 64 * n; i++) {
        size_t *m = &mib[i % n];
        if (sum < o.total_mib && *m < o.max_mib)
            (*m)++, sum++;
        else if (sum > o.total_mib && *m > o.min_mib)
            (*m)--, sum--;
    }
    free(u);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fputs("usage: synthhost [--procs N] [--seed S] [--total-mib T] [--min-mib A] [--max-mib B]\n"
          "                 [--file-mib F] [--prefork-mib P] [--prefork-children C]\n"
          "                 [--sparse K] [--reserve-gib R] [--protnone-gib Q] [--untouched]\n"
          "                 [--plants K] [--npat M] [--dir DIR] [--timeout SECONDS]\n"
          "       synthhost --patterns N\n",
          f);
}

static bool num_arg(const char *a, const char *name, const char *v, uint64_t *out)
{
    if (strcmp(a, name) != 0)
        return false;
    if (!v) {
        fprintf(stderr, "synthhost: %s needs a value\n", name);
        exit(2);
    }
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || *end || end == v) {
        fprintf(stderr, "synthhost: %s: bad number '%s'\n", name, v);
        exit(2);
    }
    *out = x;
    return true;
}

static char outbuf[1 << 16]; /* stdout's buffer, wiped after READY */

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x;
        if (num_arg(a, "--patterns", v, &x)) {
            char ioc[HG_IOC_MAX];
            for (uint64_t k = 0; k < x; k++) {
                hg_ioc(k, ioc);
                puts(ioc);
            }
            return fflush(stdout) ? 1 : 0;
        }
        bool took = true;
        if (num_arg(a, "--procs", v, &x))
            o.procs = (unsigned)x;
        else if (num_arg(a, "--seed", v, &x))
            o.seed = x;
        else if (num_arg(a, "--total-mib", v, &x))
            o.total_mib = x;
        else if (num_arg(a, "--min-mib", v, &x))
            o.min_mib = x;
        else if (num_arg(a, "--max-mib", v, &x))
            o.max_mib = x;
        else if (num_arg(a, "--file-mib", v, &x))
            o.file_mib = x;
        else if (num_arg(a, "--prefork-mib", v, &x))
            o.prefork_mib = x;
        else if (num_arg(a, "--prefork-children", v, &x))
            o.prefork_children = (unsigned)x;
        else if (num_arg(a, "--sparse", v, &x))
            o.sparse = (unsigned)x;
        else if (num_arg(a, "--reserve-gib", v, &x))
            o.reserve_gib = x;
        else if (num_arg(a, "--protnone-gib", v, &x))
            o.protnone_gib = x;
        else if (num_arg(a, "--plants", v, &x))
            o.plants = (unsigned)x;
        else if (num_arg(a, "--npat", v, &x))
            o.npat = (unsigned)x;
        else if (num_arg(a, "--timeout", v, &x))
            o.timeout = (unsigned)x;
        else if (!strcmp(a, "--dir") && v)
            o.dir = v;
        else
            took = false;
        if (took) {
            i++;
            continue;
        }
        if (!strcmp(a, "--untouched")) {
            o.untouched = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    unsigned group = o.prefork_mib ? 1 + o.prefork_children : 0;
    if (o.procs < group || o.sparse > o.procs - group || o.npat < 1 || o.min_mib < 1 ||
        o.max_mib < o.min_mib || o.plants > MAX_PLANTS - 1 || o.procs > 100000) {
        fprintf(stderr,
                "synthhost: need procs >= pre-fork group (%u) + sparse (%u), npat >= 1, "
                "1 <= min-mib <= max-mib, plants < %d\n",
                group, o.sparse, MAX_PLANTS);
        return 2;
    }
    unsigned nord = o.procs - group;
    size_t *mib = calloc(nord + 1, sizeof *mib);
    if (!mib) {
        perror("synthhost");
        return 1;
    }
    draw_sizes(mib, nord);
    size_t total = 0;
    for (unsigned i = 0; i < nord; i++)
        total += mib[i];

    double t0 = now();
    char dirbuf[4096] = "";
    char pathbuf[4200] = "";
    if (o.file_mib) {
        const char *base = o.dir ? o.dir : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(dirbuf, sizeof dirbuf, "%s/synthhost.XXXXXX", base);
        if (!mkdtemp(dirbuf)) {
            fprintf(stderr, "synthhost: mkdtemp %s: %s\n", dirbuf, strerror(errno));
            return 1;
        }
        snprintf(pathbuf, sizeof pathbuf, "%s/shared.bin", dirbuf);
        file_path = pathbuf;
        if (write_file(pathbuf) != 0) {
            fprintf(stderr, "synthhost: writing %s: %s\n", pathbuf, strerror(errno));
            unlink(pathbuf);
            rmdir(dirbuf);
            return 1;
        }
        hg_scrub_stack();
    }

    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    int rep[2], life[2];
    if (pipe2(rep, O_CLOEXEC) || pipe2(life, O_CLOEXEC)) {
        perror("synthhost: pipe");
        return 1;
    }
    report_fd = rep[1];
    life_fd = life[0];
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL); /* --timeout */
    signal(SIGPIPE, SIG_IGN);
    fflush(NULL);

    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    bool fork_failed = false;
    for (unsigned i = 0; i < (group ? 1u : 0u) + nord; i++) {
        pid_t pid = fork_target();
        if (pid < 0) {
            perror("synthhost: fork");
            fork_failed = true;
            break;
        }
        if (pid == 0) {
            close(rep[0]);
            close(life[1]);
            if (devnull >= 0)
                dup2(devnull, STDIN_FILENO);
            if (group && i == 0)
                prefork_main();
            unsigned idx = group ? i - 1 : i;
            ordinary_main(idx, mib[idx], idx < o.sparse);
        }
    }
    close(rep[1]);
    close(life[0]);
    if (devnull >= 0)
        close(devnull);

    /* Collect every target's report, in memory that is mapped, grown with
     * mremap and wiped, never malloc'ed (no stale copies of the IOCs in this
     * process either: a sweep of the whole machine finds only the plants). */
    unsigned want = fork_failed ? 0 : o.procs, got = 0;
    size_t cap = 1 << 20, len = 0;
    char *buf = map_anon(cap, PROT_READ | PROT_WRITE, 0);
    bool failed = fork_failed || !buf;
    while (!failed && got < want && !stop) {
        struct pollfd pfd = {rep[0], POLLIN, 0};
        int pr = poll(&pfd, 1, 1000);
        if (pr < 0 && errno != EINTR)
            failed = true;
        if (pr > 0) {
            if (len + 65536 > cap) {
                char *nb = mremap(buf, cap, cap * 2, MREMAP_MAYMOVE);
                if (nb == MAP_FAILED) {
                    failed = true;
                    break;
                }
                buf = nb;
                cap *= 2;
            }
            ssize_t r = read(rep[0], buf + len, cap - len);
            if (r <= 0) {
                fputs("synthhost: targets stopped reporting\n", stderr);
                failed = true;
                break;
            }
            len += (size_t)r;
            got = 0; /* PROC lines so far; FAIL lines end it */
            for (char *l = buf; l < buf + len;) {
                char *e = memchr(l, '\n', (size_t)(buf + len - l));
                if (!e)
                    break;
                if (!strncmp(l, "PROC ", 5))
                    got++;
                else if (!strncmp(l, "FAIL ", 5)) {
                    fprintf(stderr, "synthhost: target failed: %.*s\n", (int)(e - l), l);
                    failed = true;
                }
                l = e + 1;
            }
        }
        int status;
        pid_t dead = waitpid(-1, &status, WNOHANG);
        if (dead > 0) {
            fprintf(stderr, "synthhost: target %ld exited early (status 0x%x)\n", (long)dead,
                    status);
            failed = true;
        }
    }
    double ready_s = now() - t0;

    if (!failed && !stop) {
        printf("INFO procs %u\n", o.procs);
        printf("INFO seed %" PRIu64 "\n", o.seed);
        printf("INFO ordinary %u data_mib %zu (drawn from %zu..%zu MiB)\n", nord, total, o.min_mib,
               o.max_mib);
        printf("INFO prefork %u mib %zu\n", group, group ? o.prefork_mib : (size_t)0);
        printf("INFO sparse %u reserve_gib %zu protnone_gib %zu untouched %d\n", o.sparse,
               o.reserve_gib, o.protnone_gib, (int)o.untouched);
        printf("INFO file %s mib %zu\n", o.file_mib ? pathbuf : "-", o.file_mib);
        printf("INFO ready_s %.2f\n", ready_s);
        /* PROC lines first, then PLANT lines, each in arrival order. */
        for (int pass = 0; pass < 2; pass++)
            for (char *l = buf; l < buf + len;) {
                char *e = memchr(l, '\n', (size_t)(buf + len - l));
                if (!e)
                    break;
                if (!strncmp(l, pass ? "PLANT " : "PROC ", pass ? 6 : 5))
                    fwrite(l, 1, (size_t)(e - l + 1), stdout);
                l = e + 1;
            }
        puts("READY");
        fflush(stdout);
        explicit_bzero(buf, len);
        explicit_bzero(outbuf, sizeof outbuf);

        if (o.timeout)
            alarm(o.timeout);
        char tmp[256];
        while (!stop) {
            ssize_t r = read(STDIN_FILENO, tmp, sizeof tmp);
            if (r > 0 || (r < 0 && errno == EINTR))
                continue;
            break;
        }
    }

    /* Let every target go: EOF on the life pipe; then reap them all (we are
     * the subreaper, so pre-fork children come back to us). */
    close(life[1]);
    close(rep[0]);
    for (;;) {
        pid_t w = waitpid(-1, NULL, 0);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
    }
    if (o.file_mib) {
        unlink(pathbuf);
        rmdir(dirbuf);
    }
    if (buf)
        munmap(buf, cap);
    free(mib);
    return failed ? 1 : 0;
}
