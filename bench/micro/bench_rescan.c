/* bench_rescan.c - incremental reads (mg_settings.incremental): PASSES
 * scans of the same processes through one engine, bytes read, bytes reused
 * and CPU time of each, and each pass after the first against the first.
 * The rescan goal of issue 21: on processes that do not change, a second
 * pass reads at most 10% of the bytes and uses at most 10% of the CPU of
 * the first.
 *
 *   build/bench/bench_rescan [--soft-dirty] [--passes N] [-j THREADS] PID...
 *
 * Public API only, as an embedder links it. One regex that matches nothing
 * the processes hold. CPU time is this whole process's (getrusage: every
 * worker). Needs root (frame numbers, /proc/PID/map_files). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_clock.h"
#include "memgrep/memgrep.h"

static void die(const char *what, const mg_error *err)
{
    fprintf(stderr, "bench_rescan: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

int main(int argc, char **argv)
{
    mg_settings s;
    mg_default_settings(&s);
    s.incremental = true;
    int passes = 2;
    pid_t pids[256];
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--soft-dirty"))
            s.soft_dirty = true;
        else if (!strcmp(argv[i], "--passes") && i + 1 < argc)
            passes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-j") && i + 1 < argc)
            s.threads = (unsigned)atoi(argv[++i]);
        else if (n < sizeof(pids) / sizeof(pids[0]) && atoi(argv[i]) > 0)
            pids[n++] = (pid_t)atoi(argv[i]);
        else {
            fprintf(stderr,
                    "usage: bench_rescan [--soft-dirty] [--passes N] [-j THREADS] PID...\n");
            return 2;
        }
    }
    if (!n || passes < 2) {
        fprintf(stderr, "usage: bench_rescan [--soft-dirty] [--passes N] [-j THREADS] PID...\n");
        return 2;
    }
    mg_error err = {{0}};
    mg_patterns *p = NULL;
    const char *re = "mgb-[0-9a-f]{16}-never;";
    if (mg_patterns_new(&p) < 0 ||
        mg_patterns_add(p, MG_PATTERN_REGEX, re, strlen(re), 0, NULL, &err) < 0 ||
        mg_patterns_compile(p, &err) < 0)
        die("patterns", &err);
    mg_engine *e = NULL;
    if (mg_engine_new(&e, &s, &err) < 0)
        die("engine", &err);
    mg_targets t = {.pids = pids, .n_pids = n};
    double first_read = 0, first_cpu = 0;
    for (int k = 1; k <= passes; k++) {
        mg_stats st;
        double w0 = now(), c0 = cpu();
        if (mg_engine_scan(e, &t, p, NULL, &st, &err) < 0)
            die("scan", &err);
        double wall = now() - w0, c = cpu() - c0;
        double read = (double)(st.bytes_read_pvr + st.bytes_read_mem);
        printf("pass %d: %7.3f s wall, %7.3f s CPU, read %9.1f MiB, reused %9.1f MiB, "
               "deduped %9.1f MiB, %llu processes",
               k, wall, c, read / 1048576, (double)st.bytes_reused / 1048576,
               (double)st.bytes_deduped / 1048576, (unsigned long long)st.processes_scanned);
        if (k == 1) {
            first_read = read, first_cpu = c;
            printf("\n");
        } else
            printf("; / pass 1: bytes read %.1f%%, CPU %.1f%%\n",
                   first_read ? 100 * read / first_read : 0, first_cpu ? 100 * c / first_cpu : 0);
    }
    mg_engine_free(&e);
    mg_patterns_free(&p);
    return 0;
}
