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

/* From /proc/PID/status. */
typedef struct mg_proc_status {
    pid_t tgid, ppid;
    uid_t uid, euid; /* real, effective */
} mg_proc_status;

/* Parse the Tgid, PPid and Uid lines of /proc/PID/status. Returns 0 or a
 * negative errno (-ENOENT: gone; -EINVAL: a line is missing). */
int mg_read_proc_status(pid_t pid, mg_proc_status *st);

/* The cgroup path of /proc/PID/cgroup, malloc'd: the v2 "0::PATH" line; on
 * a v1-only host the name=systemd line's path, else the first line's. ""
 * (malloc'd) if unknown; NULL only when out of memory. */
char *mg_read_cgroup(pid_t pid);

/* /proc/PID/cmdline with the NUL separators turned into spaces (trailing
 * ones dropped), malloc'd; "" (malloc'd) if empty or unreadable; NULL only
 * when out of memory. */
char *mg_read_cmdline(pid_t pid);

/* Resident bytes from /proc/PID/statm; 0 if unreadable. */
unsigned long long mg_read_rss(pid_t pid);

/* Pick the cgroup path out of the text of a /proc/PID/cgroup file (rules
 * of mg_read_cgroup). Points *path and *len into text; returns false if no
 * line has a path. */
bool mg_cgroup_path(const char *text, size_t len, const char **path, size_t *path_len);

#endif
