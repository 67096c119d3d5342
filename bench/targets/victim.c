/*
 * victim - a latency-sensitive co-running workload: what a busy server's
 * own work looks like to a memgrep sweep running beside it.
 *
 *   victim [--seconds S] [--threads N] [--no-pin] [--kib K] [--passes P]
 *
 * One thread per CPU the process may run on (sched_getaffinity; on an
 * unrestricted machine, every online CPU), each pinned to its own CPU
 * unless --no-pin. Each thread owns a private K KiB buffer (default 256, so
 * it lives in the core's L2 when nothing else runs) and performs fixed work
 * items back to back: one item walks the buffer's 64-byte lines P times
 * (default 1) in a fixed pseudo-random order, folds every word of each line
 * into a multiply-xor hash and writes one word of the line back. That is
 * about 50-100 us of CPU and memory work on a 2-3 GHz core. The work is fixed,
 * not timed, so a slower item means lost CPU or evicted cache.
 *
 * Each item's latency is the CLOCK_MONOTONIC time from the end of the
 * previous item to the end of this one (one clock read per item; time the
 * thread spent preempted between items counts), stored as nanoseconds in a
 * per-thread array allocated and touched before the measurement starts:
 * nothing is allocated while measuring. All threads start together after a
 * short unmeasured warm-up and stop at the same deadline, S seconds later
 * (default 10; the item running at the deadline completes and counts).
 *
 * Output: one human line on stderr, then one JSON line on stdout:
 *   {"type":"victim","threads":N,"pinned":true,"seconds":S,"kib":K,
 *    "passes":P,"items":I,"items_per_s":X,"p50_us":..,"p99_us":..,
 *    "p999_us":..,"max_us":..,"mean_us":..,"per_thread_items":[..],
 *    "dropped":0,"checksum":"0x.."}
 * seconds is the measured wall time (deadline overrun included); dropped
 * counts items whose latency did not fit the array (counted in items, not
 * in the percentiles; 0 unless items average under 10 us).
 * Exit status 0, or 2 on bad arguments or a failed setup.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LINE 64
#define WORDS_PER_LINE (LINE / 8)
#define WARMUP_ITEMS 200
/* latency slots per thread per second of run: one per 10 us */
#define SLOTS_PER_SECOND 100000u

struct worker {
    pthread_t thread;
    int cpu; /* -1: not pinned */
    uint64_t *buf;
    uint32_t *order; /* line indices, a fixed permutation */
    size_t nlines;
    unsigned passes;
    uint32_t *lat_ns; /* per-item latency */
    size_t cap; /* slots in lat_ns */
    size_t items; /* items done (all, also those not stored) */
    uint64_t hash;
    int err; /* setup failure, errno */
    struct timespec end;
    struct shared *sh;
};

struct shared {
    pthread_barrier_t ready; /* all workers set up and warmed, main too */
    pthread_barrier_t go; /* main has set start and deadline */
    struct timespec start, deadline;
};

static uint64_t ts_ns(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* One work item: P passes over the buffer's lines in w->order. */
static uint64_t work_item(struct worker *w, uint64_t h)
{
    for (unsigned p = 0; p < w->passes; p++) {
        for (size_t i = 0; i < w->nlines; i++) {
            uint64_t *line = w->buf + (size_t)w->order[i] * WORDS_PER_LINE;
            for (unsigned k = 0; k < WORDS_PER_LINE; k++)
                h = (h ^ line[k]) * 0x100000001b3u;
            line[h & (WORDS_PER_LINE - 1)] ^= h;
        }
    }
    return h;
}

static int setup(struct worker *w, size_t kib, double seconds, uint64_t seed)
{
    size_t bytes = kib * 1024;
    w->nlines = bytes / LINE;
    w->cap = (size_t)(seconds * SLOTS_PER_SECOND) + 1;
    if (posix_memalign((void **)&w->buf, LINE, bytes) ||
        !(w->order = malloc(w->nlines * sizeof *w->order)) ||
        !(w->lat_ns = malloc(w->cap * sizeof *w->lat_ns)))
        return ENOMEM;
    /* Touch everything now, so that no page fault lands in the measurement. */
    memset(w->lat_ns, 0, w->cap * sizeof *w->lat_ns);
    for (size_t i = 0; i < bytes / 8; i++)
        w->buf[i] = splitmix(&seed);
    for (size_t i = 0; i < w->nlines; i++)
        w->order[i] = (uint32_t)i;
    for (size_t i = w->nlines - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = splitmix(&seed) % (i + 1);
        uint32_t t = w->order[i];
        w->order[i] = w->order[j];
        w->order[j] = t;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        if (e)
            w->err = e;
    }
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 0; i < WARMUP_ITEMS; i++)
        h = work_item(w, h);
    pthread_barrier_wait(&sh->ready);
    pthread_barrier_wait(&sh->go);

    uint64_t deadline = ts_ns(&sh->deadline);
    uint64_t prev = ts_ns(&sh->start);
    size_t n = 0;
    struct timespec now;
    for (;;) {
        h = work_item(w, h);
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t t = ts_ns(&now);
        uint64_t d = t - prev;
        if (n < w->cap)
            w->lat_ns[n] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        n++;
        prev = t;
        if (t >= deadline)
            break;
    }
    w->items = n;
    w->hash = h;
    w->end = now;
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0 < q <= 1) of sorted v[0..n), nearest rank, in us. */
static double quantile_us(const uint32_t *v, size_t n, double q)
{
    if (!n)
        return 0;
    size_t r = (size_t)(q * (double)n + 0.999999);
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    return v[r - 1] / 1e3;
}

static void usage(FILE *f)
{
    fputs("usage: victim [--seconds S] [--threads N] [--no-pin] [--kib K] [--passes P]\n", f);
}

int main(int argc, char **argv)
{
    double seconds = 10;
    long threads = 0; /* 0: one per allowed CPU */
    int pin = 1;
    long kib = 256, passes = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--no-pin")) {
            pin = 0;
            continue;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!v) {
            usage(stderr);
            return 2;
        }
        errno = 0;
        if (!strcmp(a, "--seconds")) {
            seconds = strtod(v, &end);
            if (*end || !(seconds > 0 && seconds <= 3600))
                end = NULL;
        } else if (!strcmp(a, "--threads")) {
            threads = strtol(v, &end, 10);
            if (*end || threads < 1 || threads > CPU_SETSIZE)
                end = NULL;
        } else if (!strcmp(a, "--kib")) {
            kib = strtol(v, &end, 10);
            if (*end || kib < 4 || kib > 1024 * 1024)
                end = NULL;
        } else if (!strcmp(a, "--passes")) {
            passes = strtol(v, &end, 10);
            if (*end || passes < 1 || passes > 1000)
                end = NULL;
        } else {
            usage(stderr);
            return 2;
        }
        if (!end || end == v || errno) {
            fprintf(stderr, "victim: invalid value '%s' for %s\n", v, a);
            return 2;
        }
        i++;
    }

    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed)) {
        perror("victim: sched_getaffinity");
        return 2;
    }
    int cpus[CPU_SETSIZE], ncpu = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            cpus[ncpu++] = c;
    if (!threads)
        threads = ncpu;

    struct shared sh;
    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    if (!ws || pthread_barrier_init(&sh.ready, NULL, (unsigned)threads + 1) ||
        pthread_barrier_init(&sh.go, NULL, (unsigned)threads + 1)) {
        fputs("victim: out of memory\n", stderr);
        return 2;
    }
    for (long t = 0; t < threads; t++) {
        struct worker *w = &ws[t];
        w->sh = &sh;
        w->cpu = pin ? cpus[t % ncpu] : -1;
        w->passes = (unsigned)passes;
        int e = setup(w, (size_t)kib, seconds + 1, 0x5eed0000u + (uint64_t)t);
        if (!e)
            e = pthread_create(&w->thread, NULL, worker_main, w);
        if (e) {
            fprintf(stderr, "victim: thread %ld: %s\n", t, strerror(e));
            return 2;
        }
    }
    pthread_barrier_wait(&sh.ready);
    clock_gettime(CLOCK_MONOTONIC, &sh.start);
    uint64_t dl = ts_ns(&sh.start) + (uint64_t)(seconds * 1e9);
    sh.deadline.tv_sec = (time_t)(dl / 1000000000u);
    sh.deadline.tv_nsec = (long)(dl % 1000000000u);
    pthread_barrier_wait(&sh.go);

    size_t total = 0, stored = 0;
    uint64_t last_end = ts_ns(&sh.start), hash = 0;
    for (long t = 0; t < threads; t++) {
        struct worker *w = &ws[t];
        pthread_join(w->thread, NULL);
        if (w->err) {
            fprintf(stderr, "victim: thread %ld: pinning to CPU %d: %s\n", t, w->cpu,
                    strerror(w->err));
            return 2;
        }
        total += w->items;
        stored += w->items < w->cap ? w->items : w->cap;
        if (ts_ns(&w->end) > last_end)
            last_end = ts_ns(&w->end);
        hash ^= w->hash;
    }
    double wall = (double)(last_end - ts_ns(&sh.start)) / 1e9;

    /* The measurement is over: merge and sort. */
    uint32_t *all = malloc((stored ? stored : 1) * sizeof *all);
    if (!all) {
        fputs("victim: out of memory\n", stderr);
        return 2;
    }
    size_t k = 0;
    double sum_ns = 0;
    for (long t = 0; t < threads; t++) {
        size_t n = ws[t].items < ws[t].cap ? ws[t].items : ws[t].cap;
        memcpy(all + k, ws[t].lat_ns, n * sizeof *all);
        k += n;
    }
    for (size_t i = 0; i < stored; i++)
        sum_ns += all[i];
    qsort(all, stored, sizeof *all, cmp_u32);
    double ips = (double)total / wall;
    double p50 = quantile_us(all, stored, 0.50), p99 = quantile_us(all, stored, 0.99),
           p999 = quantile_us(all, stored, 0.999), max = stored ? all[stored - 1] / 1e3 : 0,
           mean = stored ? sum_ns / (double)stored / 1e3 : 0;

    fprintf(stderr,
            "victim: %ld threads (%s), %.2f s, %zu items, %.0f items/s; latency us: "
            "p50 %.1f p99 %.1f p99.9 %.1f max %.1f mean %.1f\n",
            threads, pin ? "pinned" : "not pinned", wall, total, ips, p50, p99, p999, max, mean);
    printf("{\"type\":\"victim\",\"threads\":%ld,\"pinned\":%s,\"seconds\":%.3f,\"kib\":%ld,"
           "\"passes\":%ld,\"items\":%zu,\"items_per_s\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,"
           "\"p999_us\":%.2f,\"max_us\":%.2f,\"mean_us\":%.2f,\"per_thread_items\":[",
           threads, pin ? "true" : "false", wall, kib, passes, total, ips, p50, p99, p999, max,
           mean);
    for (long t = 0; t < threads; t++)
        printf("%s%zu", t ? "," : "", ws[t].items);
    printf("],\"dropped\":%zu,\"checksum\":\"0x%016" PRIx64 "\"}\n", total - stored, hash);
    return fflush(stdout) ? 2 : 0;
}
