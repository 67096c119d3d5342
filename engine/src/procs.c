/* procs.c - listing processes and pinning their identity. */
#include "procs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* pid (comm) state ppid ... flags(9) ... starttime(22); comm may hold ')'. */
int mg_read_proc_stat(pid_t pid, mg_proc_stat *st)
{
    char path[64], *buf = NULL;
    size_t len;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int rc = mg_read_file(path, &buf, &len);
    if (rc < 0)
        return rc;
    char *p = strrchr(buf, ')');
    rc = -EINVAL;
    if (p && p[1] == ' ') {
        p += 2;
        st->state = *p;
        unsigned long long field[20];
        int i = 0;
        char *s = p + 1;
        /* fields 4..22 follow the state (field 3) */
        for (; i < 19 && *s; i++) {
            char *end;
            field[i] = strtoull(s, &end, 10);
            if (end == s)
                break;
            s = end;
        }
        if (i == 19) {
            st->kthread = (field[9 - 4] & PF_KTHREAD_FLAG) != 0;
            st->starttime = field[22 - 4];
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
