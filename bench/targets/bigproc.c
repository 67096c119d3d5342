/*
 * bigproc - a benchmark target: a process holding N GiB of heap-like data
 * with a few known IOC strings planted at known addresses.
 *
 *   bigproc [-g GIB | -m MIB] [-s SEED] [-t SECONDS] [--thp|--no-thp] [--no-stdin]
 *           [--plant-file FILE]
 *   bigproc --patterns N      print N IOC-like patterns (one per line) and exit
 *
 * The data comes from heapgen.h (the generator bench_matcher uses). The
 * planted strings are patterns 0..7 of `bigproc --patterns N` (N >= 8), so
 * any such list contains them. They are placed to straddle boundaries a
 * scanner might cut at: a 4 KiB page, 1 MiB, 4 MiB, 16 MiB and 64 MiB
 * (absolute addresses), 1 GiB from the start of the mapping (YARA's chunk
 * size), and the last bytes of the buffer.
 *
 * --plant-file FILE plants more byte strings: one per line of FILE, as hex
 * digits (blank lines and '#' lines skipped), line k at about (k + 1) / (n + 1)
 * of the buffer, k % 3 choosing how: across a 4 KiB page boundary, at a page
 * offset, across a 1 MiB boundary; never over another plant, across the 1 GiB
 * point YARA splits the mapping at, or past the buffer (bench/scripts/yara.sh uses it
 * to plant the strings of YARA rules). The decoded bytes are wiped from the
 * heap once planted, so only the planted copy is in memory.
 *
 * Output on stdout (unbuffered, see hg_say() in heapgen.h), then it waits:
 *   pid PID
 *   region 0xSTART 0xEND          the mapping that holds the data
 *   planted 0xADDR ID TEXT        one line per planted string
 *   planted 0xADDR fK LEN         one line per --plant-file line K (0-based)
 *   READY
 * It exits when stdin reaches end of file (unless --no-stdin), on SIGTERM or
 * SIGINT, or after -t SECONDS. With stdin at /dev/null it exits at once:
 * keep a pipe open to it (bench/scripts/compare.sh uses a coprocess).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heapgen.h"

#define NPLANTED 8

struct fill_job {
    uint8_t *buf;
    size_t len;
    uint64_t seed;
    size_t first, stride; /* blocks first, first+stride, ... */
};

static void *fill_thread(void *arg)
{
    const struct fill_job *j = arg;
    size_t nblocks = (j->len + HG_BLOCK - 1) / HG_BLOCK;
    for (size_t b = j->first; b < nblocks; b += j->stride) {
        size_t off = b * HG_BLOCK;
        size_t n = j->len - off < HG_BLOCK ? j->len - off : HG_BLOCK;
        hg_fill_block(j->buf + off, n, j->seed, b);
    }
    return NULL;
}

/* Find the mapping holding addr in /proc/self/maps (it may have merged with
 * a neighbour, so it can start before our buffer). */
static int find_region(uintptr_t addr, uintptr_t *start, uintptr_t *end)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -errno;
    char line[512];
    int ret = -ENOENT;
    while (fgets(line, sizeof line, f)) {
        uintptr_t s, e;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &s, &e) == 2 && s <= addr && addr < e) {
            *start = s;
            *end = e;
            ret = 0;
            break;
        }
    }
    fclose(f);
    return ret;
}

/* Address at which a string of n bytes sits across boundary `align` (a power
 * of two) nearest above `near`; 0 if that does not fit in [lo, hi). */
static uintptr_t straddle(uintptr_t near, uintptr_t align, size_t n, uintptr_t lo, uintptr_t hi)
{
    uintptr_t b = (near + align - 1) & ~(align - 1);
    uintptr_t a = b - n / 2;
    if (a < lo || a + n > hi)
        return 0;
    return a;
}

struct span {
    uintptr_t at;
    size_t n;
};

static int overlaps(const struct span *sp, size_t nsp, uintptr_t at, size_t n)
{
    for (size_t i = 0; i < nsp; i++)
        if (at < sp[i].at + sp[i].n + 64 && sp[i].at < at + n + 64)
            return 1;
    return 0;
}

static int unhex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Read all of path into a NUL-terminated heap buffer (*len bytes). */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    for (size_t r; b && (r = fread(b + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            char *nb = malloc(2 * cap + 1);
            if (nb)
                memcpy(nb, b, n);
            explicit_bzero(b, cap);
            free(b);
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        *len = n;
    }
    return b;
}

/* Plant the hex lines of path (see the header) into [lo, hi), clear of the
 * nsp spans already planted and of the point `split`; 0 or -errno. */
static int plant_file(const char *path, uintptr_t lo, uintptr_t hi, uintptr_t split,
                      struct span *sp, size_t nsp)
{
    size_t flen;
    char *text = read_all(path, &flen);
    if (!text)
        return -errno;
    size_t nlines = 0;
    for (char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
        if (*l != '\n' && *l != '#')
            nlines++;
    uint8_t *bytes = malloc(flen / 2 + 1);
    struct span *all = malloc((nsp + nlines + 1) * sizeof *all);
    if (!bytes || !all) {
        free(bytes);
        free(all);
        explicit_bzero(text, flen);
        free(text);
        return -ENOMEM;
    }
    memcpy(all, sp, nsp * sizeof *sp);
    const size_t len = hi - lo;
    const uintptr_t mib = (uintptr_t)1 << 20;
    int ret = 0;
    size_t k = 0;
    for (char *l = text; *l && !ret;) {
        char *end = strchr(l, '\n');
        if (!end)
            end = l + strlen(l);
        if (*l == '\n' || *l == '#') {
            l = *end ? end + 1 : end;
            continue;
        }
        size_t n = 0;
        for (char *c = l; c + 1 < end; c += 2) {
            int a = unhex(c[0]), b = unhex(c[1]);
            if (a < 0 || b < 0) {
                ret = -EINVAL;
                break;
            }
            bytes[n++] = (uint8_t)(a << 4 | b);
        }
        if (!ret && (n == 0 || n > len / (nlines + 1) / 2))
            ret = -EINVAL;
        if (ret)
            break;
        uintptr_t base = (lo + (k + 1) * (len / (nlines + 1))) & ~(uintptr_t)4095, at = 0;
        for (int tries = 0; tries < 64; tries++, base += 64 * 1024) {
            if (k % 3 == 0)
                at = base - n / 2;
            else if (k % 3 == 1)
                at = base + 64 + (k * 131) % 2048;
            else
                at = ((base + mib - 1) & ~(mib - 1)) - n / 2;
            if (at >= lo && at + n <= hi && !(at < split && split < at + n) &&
                !overlaps(all, nsp + k, at, n))
                break;
            at = 0;
        }
        if (!at) {
            ret = -ENOSPC;
            break;
        }
        memcpy((void *)at, bytes, n);
        all[nsp + k] = (struct span){at, n};
        hg_say(STDOUT_FILENO, "planted 0x%" PRIxPTR " f%zu %zu\n", at, k, n);
        explicit_bzero(bytes, n);
        k++;
        l = *end ? end + 1 : end;
    }
    explicit_bzero(text, flen);
    free(text);
    free(bytes);
    free(all);
    return ret;
}

static void usage(FILE *f)
{
    fputs("usage: bigproc [-g GIB | -m MIB] [-s SEED] [-t SECONDS] [--thp|--no-thp] "
          "[--no-stdin]\n"
          "               [--plant-file FILE]\n"
          "       bigproc --patterns N\n",
          f);
}

int main(int argc, char **argv)
{
    size_t mib = 2048;
    uint64_t seed = 1;
    unsigned timeout = 0;
    int thp = -1; /* -1: system default */
    int use_stdin = 1;
    const char *plant_path = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--patterns") && v) {
            long n = strtol(v, NULL, 10);
            char ioc[HG_IOC_MAX];
            for (long k = 0; k < n; k++) {
                hg_ioc((uint64_t)k, ioc);
                puts(ioc);
            }
            return fflush(stdout) ? 1 : 0;
        } else if (!strcmp(a, "-g") && v) {
            mib = (size_t)(strtod(v, NULL) * 1024);
            i++;
        } else if (!strcmp(a, "-m") && v) {
            mib = strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "-s") && v) {
            seed = strtoull(v, NULL, 0);
            i++;
        } else if (!strcmp(a, "-t") && v) {
            timeout = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--thp")) {
            thp = 1;
        } else if (!strcmp(a, "--no-thp")) {
            thp = 0;
        } else if (!strcmp(a, "--plant-file") && v) {
            plant_path = v;
            i++;
        } else if (!strcmp(a, "--no-stdin")) {
            use_stdin = 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (mib < 1) {
        fputs("bigproc: size must be at least 1 MiB\n", stderr);
        return 2;
    }
    size_t len = mib << 20;
    uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        perror("bigproc: mmap");
        return 1;
    }
    if (thp >= 0 && madvise(buf, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0)
        perror("bigproc: madvise (ignored)");

    /* Fill with one thread per CPU (at most 8); the bytes do not depend on it. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (size_t)ncpu;
    pthread_t th[8];
    struct fill_job jobs[8];
    for (size_t t = 0; t < nt; t++) {
        jobs[t] = (struct fill_job){buf, len, seed, t, nt};
        if (pthread_create(&th[t], NULL, fill_thread, &jobs[t]) != 0) {
            fputs("bigproc: pthread_create failed\n", stderr);
            return 1;
        }
    }
    for (size_t t = 0; t < nt; t++)
        pthread_join(th[t], NULL);

    uintptr_t lo = (uintptr_t)buf, hi = lo + len, rstart = lo, rend = hi;
    int err = find_region(lo, &rstart, &rend);
    if (err)
        fprintf(stderr, "bigproc: own mapping not found in /proc/self/maps: %s\n", strerror(-err));

    hg_say(STDOUT_FILENO, "pid %ld\n", (long)getpid());
    hg_say(STDOUT_FILENO, "region 0x%" PRIxPTR " 0x%" PRIxPTR "\n", rstart, rend);

    /* Plant patterns 0..7. Each spot falls back to a plain offset when the
     * buffer is too small for its boundary. */
    const uintptr_t gib = (uintptr_t)1 << 30;
    struct span spans[NPLANTED];
    for (unsigned k = 0; k < NPLANTED; k++) {
        char ioc[HG_IOC_MAX];
        size_t n = hg_ioc(k, ioc);
        uintptr_t at = 0;
        switch (k) {
        case 0:
            at = lo + 4096 + 123;
            break;
        case 1:
            at = straddle(lo + len / 8, 4096, n, lo, hi);
            break;
        case 2:
            at = straddle(lo + len / 4, 1u << 20, n, lo, hi);
            break;
        case 3:
            at = straddle(lo + 3 * (len / 8), 4u << 20, n, lo, hi);
            break;
        case 4: /* YARA reads a region in 1 GiB pieces from its start */
            at = rstart + gib - n / 2;
            if (at < lo || at + n > hi)
                at = straddle(lo + len / 2, 16u << 20, n, lo, hi);
            break;
        case 5:
            at = straddle(lo + 5 * (len / 8), 16u << 20, n, lo, hi);
            break;
        case 6:
            at = straddle(lo + 3 * (len / 4), 64u << 20, n, lo, hi);
            break;
        default:
            at = hi - n;
            break;
        }
        if (!at || at < lo || at + n > hi)
            at = lo + (len / NPLANTED) * k + 777;
        memcpy((void *)at, ioc, n);
        spans[k] = (struct span){at, n};
        hg_say(STDOUT_FILENO, "planted 0x%" PRIxPTR " %u %s\n", at, k, ioc);
        explicit_bzero(ioc, sizeof ioc);
    }
    if (plant_path) {
        err = plant_file(plant_path, lo, hi, rstart + gib, spans, NPLANTED);
        if (err) {
            fprintf(stderr, "bigproc: --plant-file %s: %s\n", plant_path, strerror(-err));
            return 2;
        }
    }
    hg_scrub_stack();
    hg_say(STDOUT_FILENO, "READY\n");

    if (timeout)
        alarm(timeout); /* default action: terminate */
    if (use_stdin) {
        char tmp[256];
        for (;;) {
            ssize_t r = read(STDIN_FILENO, tmp, sizeof tmp);
            if (r > 0 || (r < 0 && errno == EINTR))
                continue;
            break;
        }
    } else {
        for (;;)
            pause();
    }
    munmap(buf, len);
    return 0;
}
