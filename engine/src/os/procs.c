/* procs.c - listing processes and pinning their identity. */
#include "os/procs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "os/residency.h"
#include "util.h"

#define PF_KTHREAD_FLAG 0x00200000u

static int pid_cmp(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

int mg_list_pids(pid_t **out, size_t *n)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    size_t cap = 256, k = 0;
    pid_t *v = malloc(cap * sizeof(*v));
    struct dirent *de;
    while (v && (de = readdir(d))) {
        char *end;
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || pid > INT_MAX)
            continue;
        if (k == cap) {
            pid_t *nv = realloc(v, cap * 2 * sizeof(*v));
            if (!nv) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
            cap *= 2;
        }
        v[k++] = (pid_t)pid;
    }
    closedir(d);
    if (!v)
        return -ENOMEM;
    qsort(v, k, sizeof(*v), pid_cmp);
    *out = v;
    *n = k;
    return 0;
}

bool mg_pid_exists(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    return access(path, F_OK) == 0;
}

/* pid (comm) state ppid ... flags(9) ... starttime(22) vsize(23) rss(24);
 * comm may hold ')'. */
int mg_read_proc_stat(pid_t pid, mg_proc_stat *st)
{
    char path[64], *buf = NULL;
    size_t len;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int rc = mg_read_proc_one(path, &buf, &len);
    if (rc < 0)
        return rc;
    char *p = strrchr(buf, ')'), *open = strchr(buf, '(');
    rc = -EINVAL;
    if (p && p[1] == ' ' && open && open < p) {
        size_t n = MG_MIN((size_t)(p - open - 1), sizeof(st->comm) - 1);
        memcpy(st->comm, open + 1, n);
        st->comm[n] = '\0';
        p += 2;
        st->state = *p;
        unsigned long long field[48];
        int i = 0;
        char *s = p + 1;
        /* fields 4..51 follow the state (field 3) */
        for (; i < 48 && *s; i++) {
            char *end;
            field[i] = strtoull(s, &end, 10);
            if (end == s)
                break;
            s = end;
        }
        if (i >= 21) {
            st->kthread = (field[9 - 4] & PF_KTHREAD_FLAG) != 0;
            st->starttime = field[22 - 4];
            st->rss = field[24 - 4] * MG_PAGE_SIZE;
            st->arg_start = st->arg_end = st->env_start = st->env_end = 0;
            if (i == 48) { /* since Linux 3.5 */
                st->arg_start = field[48 - 4];
                st->arg_end = field[49 - 4];
                st->env_start = field[50 - 4];
                st->env_end = field[51 - 4];
            }
            rc = 0;
        }
    }
    free(buf);
    return rc;
}

void mg_read_comm(pid_t pid, char *buf, size_t cap)
{
    char path[64], *s = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    buf[0] = '\0';
    if (mg_read_file(path, &s, &len) < 0)
        return;
    if (len && s[len - 1] == '\n')
        s[--len] = '\0';
    snprintf(buf, cap, "%s", s);
    free(s);
}

pid_t mg_read_tgid(pid_t pid)
{
    char path[64], *buf = NULL, *t;
    size_t len;
    long tgid = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (mg_read_file(path, &buf, &len) < 0)
        return pid;
    if ((t = strstr(buf, "\nTgid:")))
        tgid = strtol(t + 6, NULL, 10);
    free(buf);
    return tgid > 0 ? (pid_t)tgid : pid;
}

char *mg_read_exe(pid_t pid)
{
    char path[64], target[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0)
        n = 0;
    target[n] = '\0';
    return strdup(target);
}

/* "Key:\tvalue..." in a status text: pointer after the colon, or NULL. */
static const char *status_field(const char *buf, const char *key)
{
    size_t k = strlen(key);
    for (const char *line = buf; line;) {
        if (!strncmp(line, key, k) && line[k] == ':')
            return line + k + 1;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return NULL;
}

int mg_read_proc_status(pid_t pid, mg_proc_status *st)
{
    char path[64], *buf = NULL;
    size_t len;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    int rc = mg_read_proc_one(path, &buf, &len);
    if (rc < 0)
        return rc;
    const char *tgid = status_field(buf, "Tgid"), *ppid = status_field(buf, "PPid");
    const char *uid = status_field(buf, "Uid");
    rc = -EINVAL;
    if (tgid && ppid && uid) {
        char *end;
        st->tgid = (pid_t)strtol(tgid, NULL, 10);
        st->ppid = (pid_t)strtol(ppid, NULL, 10);
        unsigned long r = strtoul(uid, &end, 10), e = strtoul(end, &end, 10);
        st->uid = (uid_t)r;
        st->euid = (uid_t)e;
        const char *tracer = status_field(buf, "TracerPid");
        st->tracer = tracer ? (pid_t)strtol(tracer, NULL, 10) : 0;
        rc = 0;
    }
    free(buf);
    return rc;
}

/* TracerPid and Threads of /proc/TID/status in one read (both come within
 * its first KiB): 0 or a negative errno. */
static int read_tracer_of(pid_t tid, pid_t *tracer, long *threads)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = '\0';
    const char *t = status_field(buf, "TracerPid"), *k = status_field(buf, "Threads");
    *tracer = t ? (pid_t)strtol(t, NULL, 10) : 0;
    *threads = k ? strtol(k, NULL, 10) : 2; /* not told: look at each */
    return 0;
}

pid_t mg_read_tracer(pid_t pid, pid_t *tid)
{
    /* the main thread's status first: a process of one thread is done */
    pid_t tracer = 0;
    long threads = 0;
    *tid = 0;
    int rc = read_tracer_of(pid, &tracer, &threads);
    if (rc < 0)
        return rc;
    if (tracer > 0)
        *tid = pid;
    if (tracer > 0 || threads <= 1)
        return tracer;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    struct dirent *e;
    while (!tracer && (e = readdir(d))) {
        pid_t t = (pid_t)strtol(e->d_name, NULL, 10);
        /* a thread that exits meanwhile is no longer traced */
        if (t > 0 && t != pid && read_tracer_of(t, &tracer, &threads) == 0 && tracer > 0)
            *tid = t;
    }
    closedir(d);
    return tracer;
}

/* Lines are "ID:CONTROLLERS:PATH"; the path may hold ':'. */
bool mg_cgroup_path(const char *text, size_t len, const char **path, size_t *path_len)
{
    const char *end = text + len, *first = NULL, *systemd = NULL, *v2 = NULL;
    size_t first_len = 0, systemd_len = 0, v2_len = 0;
    for (const char *line = text; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        const char *c1 = memchr(line, ':', (size_t)(le - line));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
        if (c2) {
            const char *p = c2 + 1;
            size_t n = (size_t)(le - p);
            if (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1 && !v2)
                v2 = p, v2_len = n;
            else if ((size_t)(c2 - c1 - 1) == strlen("name=systemd") &&
                     !memcmp(c1 + 1, "name=systemd", strlen("name=systemd")) && !systemd)
                systemd = p, systemd_len = n;
            if (!first)
                first = p, first_len = n;
        }
        line = le + 1;
    }
    if (v2)
        *path = v2, *path_len = v2_len;
    else if (systemd)
        *path = systemd, *path_len = systemd_len;
    else if (first)
        *path = first, *path_len = first_len;
    else
        return false;
    return true;
}

char *mg_read_cgroup(pid_t pid)
{
    char path[64], *buf = NULL;
    size_t len;
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    if (mg_read_proc_one(path, &buf, &len) < 0)
        return strdup("");
    const char *p;
    size_t n;
    char *s = mg_cgroup_path(buf, len, &p, &n) ? strndup(p, n) : strdup("");
    free(buf);
    return s;
}

bool mg_span_present(pid_t pid, unsigned long long start, unsigned long long end)
{
    if (start >= end)
        return false;
    int fd = mg_open_proc_file(pid, "pagemap");
    if (fd < 0)
        return false;
    bool all = mg_span_present_fd(fd, start, end);
    close(fd);
    return all;
}

bool mg_span_present_fd(int pagemap_fd, unsigned long long start, unsigned long long end)
{
    if (start >= end || pagemap_fd < 0)
        return false;
    bool all = true;
    uint64_t ent[64];
    for (unsigned long long page = start / MG_PAGE_SIZE, last = (end - 1) / MG_PAGE_SIZE;
         all && page <= last;) {
        size_t n =
            (size_t)MG_MIN(last - page + 1, (unsigned long long)(sizeof ent / sizeof ent[0]));
        ssize_t got = pread(pagemap_fd, ent, n * sizeof ent[0], (off_t)(page * sizeof ent[0]));
        all = got == (ssize_t)(n * sizeof ent[0]);
        for (size_t k = 0; all && k < n; k++)
            all = (ent[k] & MG_PM_PRESENT) != 0;
        page += n;
    }
    return all;
}

/* /proc/PID/cmdline itself, once its pages are known present. */
static char *read_cmdline_file(pid_t pid, size_t *len)
{
    char path[64], *buf = NULL;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    if (mg_read_file(path, &buf, len) < 0) {
        *len = 0;
        return strdup("");
    }
    return buf;
}

/* /proc/PID/cmdline, malloc'd and NUL-terminated, *len its bytes; "" if
 * empty or unreadable, and if any page of the arguments is not present:
 * the kernel would fault it in (swap it in) to read it for us, which
 * memgrep never makes a target do. NULL only when out of memory. */
static char *read_cmdline(pid_t pid, size_t *len)
{
    mg_proc_stat st;
    if (mg_read_proc_stat(pid, &st) < 0 || !mg_span_present(pid, st.arg_start, st.arg_end)) {
        *len = 0;
        return strdup("");
    }
    return read_cmdline_file(pid, len);
}

char *mg_read_cmdline(pid_t pid)
{
    size_t len;
    char *buf = read_cmdline(pid, &len);
    if (!buf)
        return NULL;
    while (len && buf[len - 1] == '\0')
        len--;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[len] = '\0';
    return buf;
}

char *mg_read_argv0(pid_t pid)
{
    size_t len;
    return read_cmdline(pid, &len); /* the first string is argv[0] */
}

unsigned long long mg_read_rss(pid_t pid)
{
    char path[64], *buf = NULL;
    size_t len;
    unsigned long long size = 0, rss = 0;
    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    if (mg_read_file(path, &buf, &len) < 0)
        return 0;
    if (sscanf(buf, "%llu %llu", &size, &rss) != 2)
        rss = 0;
    free(buf);
    return rss * MG_PAGE_SIZE;
}

/* ---- opening a process with its identity pinned --------------------------- */

int mg_open_proc_file(pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int mg_open_pidfd(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0u);
    if (fd >= 0)
        return fd;
    return errno == ESRCH ? -ESRCH : -1;
}

bool mg_pidfd_exited(int pidfd)
{
    struct pollfd pf = {.fd = pidfd, .events = POLLIN};
    return pidfd >= 0 && poll(&pf, 1, 0) > 0 && (pf.revents & (POLLIN | POLLHUP));
}

int mg_proc_pin_open(mg_proc_pin *pin, pid_t pid)
{
    memset(pin, 0, sizeof(*pin));
    pin->pid = pid;
    int fd = mg_open_pidfd(pid);
    pin->pidfd = fd >= 0 ? fd : -1;
    return fd == -ESRCH ? -ESRCH : mg_read_proc_stat(pid, &pin->st);
}

int mg_proc_pin_check(const mg_proc_pin *pin)
{
    mg_proc_stat st;
    if (mg_pidfd_exited(pin->pidfd))
        return -ESRCH;
    /* The pidfd's process has not exited, so it still holds the pid number:
     * everything read by number since the pidfd was opened was its. */
    if (pin->pidfd >= 0)
        return 0;
    int rc = mg_read_proc_stat(pin->pid, &st);
    if (rc == 0 && st.starttime != pin->st.starttime)
        rc = -ESRCH;
    return rc;
}

void mg_proc_pin_close(mg_proc_pin *pin)
{
    if (pin->pidfd >= 0)
        close(pin->pidfd);
    pin->pidfd = -1;
}
