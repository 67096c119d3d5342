/* procs.h - the process list and per-process identity (internal). */
#ifndef MG_PROCS_H
#define MG_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Numeric entries of /proc (thread-group ids), ascending. */
int mg_list_pids(pid_t **out, size_t *n);

typedef struct mg_proc_stat {
    char state; /* R S D Z X ... */
    bool kthread; /* PF_KTHREAD */
    unsigned long long starttime; /* clock ticks after boot: pins identity */
} mg_proc_stat;

/* Parse /proc/PID/stat. Returns 0 or a negative errno (-ENOENT: gone). */
int mg_read_proc_stat(pid_t pid, mg_proc_stat *st);

/* comm without the newline ("" on failure), NUL-terminated in buf. */
void mg_read_comm(pid_t pid, char *buf, size_t cap);

/* The thread group (process) a pid or thread id belongs to: the Tgid of
 * /proc/PID/status, or pid itself if that can't be read. */
pid_t mg_read_tgid(pid_t pid);

/* readlink of /proc/PID/exe, malloc'd; "" (malloc'd) if unknown. */
char *mg_read_exe(pid_t pid);

#endif
