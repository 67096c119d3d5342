/* args.c - argv[0] and the environment of a process for its findings
 * (mg_read_args_env): its memory between arg_start and env_end, present
 * pages only. Moved from os/procs.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "findings/findings.h"
#include "os/procs.h"
#include "os/residency.h"
#include "util.h"

/* argv[0] and the environment one at a time, through /proc/PID/cmdline
 * and /proc/PID/environ, each if its pages are present. */
static int args_env_files(pid_t pid, const mg_proc_stat *st, int pagemap_fd, char **argv0,
                          char **env, size_t *env_len)
{
    size_t len;
    char path[64];
    *argv0 = NULL;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    if (mg_span_present_fd(pagemap_fd, st->arg_start, st->arg_end) &&
        mg_read_file(path, argv0, &len) == -ENOMEM)
        return -ENOMEM;
    if (!*argv0 && !(*argv0 = strdup("")))
        return -ENOMEM;
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    if (mg_span_present_fd(pagemap_fd, st->env_start, st->env_end) &&
        mg_read_file(path, env, env_len) == -ENOMEM)
        return -ENOMEM;
    return 0;
}

size_t mg_args_env_span(const mg_proc_stat *st)
{
    unsigned long long lo = st->arg_start, hi = st->env_end;
    if (lo < st->arg_end && st->arg_end <= st->env_start && st->env_start < hi &&
        (hi - 1) / MG_PAGE_SIZE - lo / MG_PAGE_SIZE < MG_ARGS_ENV_PAGES)
        return (size_t)(hi - lo);
    return 0;
}

int mg_args_env_split(const mg_proc_stat *st, const char *block, char **argv0, char **env,
                      size_t *env_len)
{
    size_t len = (size_t)(st->env_end - st->arg_start),
           off = (size_t)(st->env_start - st->arg_start);
    /* argv[0] up to its NUL, as cmdline shows it (a title written over the
     * arguments may run on into the environment) */
    *argv0 = strndup(block, len);
    *env_len = len - off;
    *env = malloc(*env_len + 1);
    if (!*argv0 || !*env) {
        free(*argv0);
        free(*env);
        *argv0 = *env = NULL;
        *env_len = 0;
        return -ENOMEM;
    }
    memcpy(*env, block + off, *env_len);
    (*env)[*env_len] = '\0';
    return 0;
}

int mg_read_args_env(pid_t pid, const mg_proc_stat *st, int pagemap_fd, char **argv0, char **env,
                     size_t *env_len)
{
    *argv0 = *env = NULL;
    *env_len = 0;
    size_t len = mg_args_env_span(st);
    uint64_t ent[MG_ARGS_ENV_PAGES];
    bool all = false;
    /* where they lie together (the environment after the arguments, as
     * the kernel puts them), one pagemap read and one process_vm_readv */
    if (len) {
        size_t n = (size_t)((st->env_end - 1) / MG_PAGE_SIZE - st->arg_start / MG_PAGE_SIZE + 1);
        all = pread(pagemap_fd, ent, n * sizeof(ent[0]),
                    (off_t)(st->arg_start / MG_PAGE_SIZE * sizeof(ent[0]))) ==
              (ssize_t)(n * sizeof(ent[0]));
        for (size_t k = 0; all && k < n; k++)
            all = (ent[k] & MG_PM_PRESENT) != 0;
    }
    if (!all) /* apart, or not all present: each as it can be had */
        return args_env_files(pid, st, pagemap_fd, argv0, env, env_len);
    char *buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)st->arg_start, len};
    int rc = process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len
                 ? mg_args_env_split(st, buf, argv0, env, env_len)
                 : args_env_files(pid, st, pagemap_fd, argv0, env, env_len);
    free(buf);
    return rc;
}
