/* procs.h - the process list and per-process identity (internal). */
#ifndef MG_PROCS_H
#define MG_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Numeric entries of /proc (thread-group ids), ascending. */
int mg_list_pids(pid_t **out, size_t *n);

/* pid exists now (as a process or a thread id): /proc/PID is there. */
bool mg_pid_exists(pid_t pid);

typedef struct mg_proc_stat {
    char state; /* R S D Z X ... */
    bool kthread; /* PF_KTHREAD */
    unsigned long long starttime; /* clock ticks after boot: pins identity */
    unsigned long long rss; /* resident bytes (rss, field 24; statm's too) */
    char comm[64]; /* the name between the parentheses: /proc/PID/comm's bytes */
    /* where argv and the environment lie in its memory (fields 48-51; 0:
     * unknown, or a kernel thread) */
    unsigned long long arg_start, arg_end, env_start, env_end;
} mg_proc_stat;

/* Parse /proc/PID/stat. Returns 0 or a negative errno (-ENOENT: gone). */
int mg_read_proc_stat(pid_t pid, mg_proc_stat *st);

/* Whether every page of pid's [start, end) is present (pagemap): what
 * /proc/PID/cmdline and /proc/PID/environ may be read for, since the kernel
 * faults in what is not to serve them. False if start >= end or pagemap
 * can't be read. */
bool mg_span_present(pid_t pid, unsigned long long start, unsigned long long end);
/* The same with the process's pagemap open already (pagemap_fd). */
bool mg_span_present_fd(int pagemap_fd, unsigned long long start, unsigned long long end);

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
    pid_t tracer; /* TracerPid: the process ptrace-attached to it, 0 if none */
} mg_proc_status;

/* Parse the Tgid, PPid, Uid and TracerPid lines of /proc/PID/status (no
 * TracerPid line: tracer 0). Returns 0 or a negative errno (-ENOENT: gone;
 * -EINVAL: a line is missing). */
int mg_read_proc_status(pid_t pid, mg_proc_status *st);

/* The first thread of pid (in /proc/PID/task order) attached by ptrace:
 * its tracer (TracerPid), with *tid the thread; 0 if none is (a tracer may
 * attach any one thread, the main one's status does not tell). Returns the
 * tracer, 0, or a negative errno (-ENOENT: gone). */
pid_t mg_read_tracer(pid_t pid, pid_t *tid);

/* The cgroup path of /proc/PID/cgroup, malloc'd: the v2 "0::PATH" line; on
 * a v1-only host the name=systemd line's path, else the first line's. ""
 * (malloc'd) if unknown; NULL only when out of memory. */
char *mg_read_cgroup(pid_t pid);

/* /proc/PID/cmdline with the NUL separators turned into spaces (trailing
 * ones dropped), malloc'd; "" (malloc'd) if empty or unreadable; NULL only
 * when out of memory. */
char *mg_read_cmdline(pid_t pid);

/* argv[0] of /proc/PID/cmdline (up to its first NUL), malloc'd; "" (malloc'd)
 * if empty or unreadable; NULL only when out of memory. */
char *mg_read_argv0(pid_t pid);
/* Resident bytes from /proc/PID/statm; 0 if unreadable. */
unsigned long long mg_read_rss(pid_t pid);

/* Pick the cgroup path out of the text of a /proc/PID/cgroup file (rules
 * of mg_read_cgroup). Points *path and *len into text; returns false if no
 * line has a path. */
bool mg_cgroup_path(const char *text, size_t len, const char **path, size_t *path_len);

/* ---- opening a process with its identity pinned ---- */

/* /proc/PID/NAME, opened read-only: an fd, or a negative errno. */
int mg_open_proc_file(pid_t pid, const char *name);

/* A pidfd for pid: the process itself, not its number. -1 where the kernel
 * has no pidfd_open (before 5.3) or won't give one (out of descriptors):
 * then reads rest on the start-time check alone. -ESRCH if no process has
 * that pid any more. */
int mg_open_pidfd(pid_t pid);

/* Whether the process behind a pidfd has exited: its pid may then name
 * another process already. -1 (no pidfd): not known, so no. */
bool mg_pidfd_exited(int pidfd);

/* A process read by pid number, pinned: what is read from /proc/PID or by
 * process_vm_readv between mg_proc_pin_open and a mg_proc_pin_check that
 * passes is that process's. The pidfd is opened first: a pid is only
 * reused once its process is reaped, so if the pidfd's process still runs
 * after the last read, every read was its. The start times alone don't
 * tell: they count clock ticks (10 ms), and a pid can be reused within one
 * (hostile::pid_reuse); they are the check where there is no pidfd. */
typedef struct mg_proc_pin {
    pid_t pid;
    int pidfd; /* -1: none (the start time alone) */
    mg_proc_stat st; /* /proc/PID/stat when pinned */
} mg_proc_pin;

/* Pin pid: pidfd, then stat (pin->st). Returns 0 or a negative errno
 * (-ESRCH or -ENOENT: gone). pin is set either way; close it. */
int mg_proc_pin_open(mg_proc_pin *pin, pid_t pid);

/* After reads by pid number: 0 if the pinned process is still there (its
 * pidfd has not exited; with no pidfd, its start time is the same), -ESRCH
 * if not, or a negative errno from /proc/PID/stat. A read that needs only the pidfd's
 * word (process_vm_readv in a unit) asks mg_pidfd_exited(pin->pidfd). */
int mg_proc_pin_check(const mg_proc_pin *pin);

void mg_proc_pin_close(mg_proc_pin *pin);

#endif
