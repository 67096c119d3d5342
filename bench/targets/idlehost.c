/*
 * idlehost - many idle processes: N `sleep`s, for a whole-host sweep of a
 * host that is mostly small, idle processes.
 *
 *   idlehost [--procs N] [--program PATH]
 *
 * Starts N (default 5000) copies of `PATH 100000` (default sleep, found on
 * PATH) with posix_spawnp, prints
 *   PROC pid            (one line per process)
 *   READY
 * and stays until its stdin reaches end of file; then it kills them (SIGKILL)
 * and reaps them. Run it as the first process of a new pid namespace
 * (`unshare --pid --fork --mount-proc idlehost`): a sweep entered into that
 * namespace (`nsenter -t PID -p -m`) then sees these N processes and
 * idlehost, nothing else; and should idlehost die, the kernel ends them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    size_t n = 5000;
    const char *program = "sleep";
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--procs") && v)
            n = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--program") && v)
            program = argv[++i];
        else {
            fputs("usage: idlehost [--procs N] [--program PATH]\n", stderr);
            return 2;
        }
    }
    pid_t *pids = calloc(n ? n : 1, sizeof(*pids));
    if (!pids)
        return 2;
    char *args[] = {(char *)program, "100000", NULL};
    /* stdin from /dev/null: only idlehost holds the end of file it waits for */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    for (size_t i = 0; i < n; i++) {
        int rc = posix_spawnp(&pids[i], program, &fa, NULL, args, environ);
        if (rc) {
            fprintf(stderr, "idlehost: spawn %s (process %zu): %s\n", program, i, strerror(rc));
            for (size_t j = 0; j < i; j++)
                kill(pids[j], SIGKILL);
            return 2;
        }
        printf("PROC %ld\n", (long)pids[i]);
    }
    posix_spawn_file_actions_destroy(&fa);
    printf("READY\n");
    fflush(stdout);
    char buf[256];
    while (read(0, buf, sizeof(buf)) > 0 || errno == EINTR)
        errno = 0;
    for (size_t i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    while (wait(NULL) > 0 || errno == EINTR)
        errno = 0;
    free(pids);
    return 0;
}
