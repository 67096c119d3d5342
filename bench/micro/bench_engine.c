/* bench_engine.c - what an engine handle saves: N back-to-back sweeps of one
 * small process through one mg_engine, against N mg_scan calls (each makes
 * and frees its threads, dedupe table and zero-page probe).
 *
 *   build/bench/bench_engine [N [THREADS]]      (N 1000, THREADS 0: one per CPU)
 *
 * The target is a child holding 1 MiB with one planted marker; every sweep
 * must find exactly that one match. The two kinds of sweep are timed in
 * alternating blocks of N/10, so a busy host slows both alike. Needs root
 * (or ptrace rights over a child: the default Yama scope allows it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"
#include "memgrep/memgrep.h"

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what, why);
    exit(1);
}

static int on_match(void *ctx, const mg_match *m)
{
    (void)m;
    (*(unsigned *)ctx)++;
    return MG_SINK_CONTINUE;
}

/* A child holding 1 MiB with the marker in it; it exits when `hold` closes. */
static pid_t start_target(const char *marker, int *hold)
{
    int ready[2], in[2];
    if (pipe(ready) || pipe(in))
        die("pipe", "failed");
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(in[1]);
        size_t len = 1u << 20;
        char *mem = malloc(len);
        memset(mem, '.', len);
        memcpy(mem + len / 2, marker, strlen(marker));
        if (write(ready[1], "R", 1) != 1)
            _exit(1);
        char c;
        while (read(in[0], &c, 1) > 0) {
        }
        free(mem);
        _exit(0);
    }
    close(ready[1]);
    close(in[0]);
    char c;
    if (read(ready[0], &c, 1) != 1)
        die("target", "did not start");
    close(ready[0]);
    *hold = in[1];
    return pid;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000;
    unsigned threads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
    if (n < 10)
        n = 10;
    char marker[64];
    snprintf(marker, sizeof marker, "bench-engine-%d-%ld;", (int)getpid(), (long)time(NULL));
    int hold;
    pid_t pid = start_target(marker, &hold);

    mg_patterns *p = NULL;
    mg_error err = {{0}};
    if (mg_patterns_new(&p) < 0 ||
        mg_patterns_add(p, MG_PATTERN_LITERAL, marker, strlen(marker), 0, NULL, &err) < 0 ||
        mg_patterns_compile(p, &err) < 0)
        die("patterns", err.message);
    mg_settings s;
    mg_default_settings(&s);
    s.threads = threads;
    mg_engine *e = NULL;
    if (mg_engine_new(&e, &s, &err) < 0)
        die("mg_engine_new", err.message);
    mg_targets t = {.pids = &pid, .n_pids = 1};
    mg_settings one = s;
    one.pids = &pid;
    one.n_pids = 1;

    double t_engine = 0, t_scan = 0, c_engine = 0, c_scan = 0;
    unsigned block = n / 10, done = 0, used = 0;
    mg_stats st;
    while (done < n) {
        unsigned k = block < n - done ? block : n - done;
        for (int kind = 0; kind < 2; kind++) {
            double t0 = now(), c0 = cpu();
            for (unsigned i = 0; i < k; i++) {
                unsigned hits = 0;
                mg_sink sink = {.ctx = &hits, .match = on_match};
                int rc = kind ? mg_scan(p, &one, &sink, &st, &err)
                              : mg_engine_scan(e, &t, p, &sink, &st, &err);
                if (rc < 0)
                    die(kind ? "mg_scan" : "mg_engine_scan", err.message);
                if (hits != 1)
                    die("sweep", "did not find the one planted marker");
                used = st.threads;
            }
            *(kind ? &t_scan : &t_engine) += now() - t0;
            *(kind ? &c_scan : &c_engine) += cpu() - c0;
        }
        done += k;
    }
    printf("bench_engine: %u sweeps of one 1 MiB process, %u worker threads\n", n, used);
    printf("                              wall                    CPU (all threads)\n");
    printf("  one engine, mg_engine_scan: %7.3f s %8.1f us/sweep  %7.3f s %8.1f us/sweep\n",
           t_engine, t_engine / n * 1e6, c_engine, c_engine / n * 1e6);
    printf("  mg_scan each time:          %7.3f s %8.1f us/sweep  %7.3f s %8.1f us/sweep\n", t_scan,
           t_scan / n * 1e6, c_scan, c_scan / n * 1e6);
    printf("  mg_scan's overhead per sweep: wall %.1f us (%.2fx), CPU %.1f us (%.2fx)\n",
           (t_scan - t_engine) / n * 1e6, t_engine > 0 ? t_scan / t_engine : 0,
           (c_scan - c_engine) / n * 1e6, c_engine > 0 ? c_scan / c_engine : 0);
    mg_engine_free(&e);
    mg_patterns_free(&p);
    close(hold);
    waitpid(pid, NULL, 0);
    return 0;
}
