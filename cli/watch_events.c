/* watch_events.c - new processes from the process events connector or
 * from /proc (watch_events.h). */
#include "watch_events.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "memgrep/memgrep.h"

/* Events held between the source and the caller: beyond it the connector's
 * are left in the socket (and may overrun it: counted), new pids of /proc
 * wait for the next tick. */
#define QUEUE_MAX 4096u
/* The connector's receive buffer (SO_RCVBUFFORCE, as root): a burst of
 * execs while a large process is being scanned must not overrun it. */
#define CONNECTOR_RCVBUF (8u << 20)

struct watch_events {
    watch_source source; /* CONNECTOR or PROC */
    int fd; /* the connector's socket; -1 with /proc */
    pid_t *known; /* /proc: the pids of the last tick, ascending */
    size_t n_known;
    double last_tick; /* /proc: monotonic seconds */
    watch_event queue[QUEUE_MAX]; /* a ring */
    size_t head, n;
    uint64_t seen, overruns;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool push(watch_events *e, pid_t pid, watch_event_kind kind, uint64_t time_ns)
{
    if (e->n == QUEUE_MAX)
        return false;
    e->queue[(e->head + e->n++) % QUEUE_MAX] =
        (watch_event){.pid = pid, .kind = kind, .time_ns = time_ns};
    e->seen++;
    return true;
}

/* ------------------------------------------------------------------ */
/* The connector                                                       */
/* ------------------------------------------------------------------ */

/* Tell the connector to start (or stop) sending us process events. */
static int connector_listen(int fd, enum proc_cn_mcast_op op)
{
    struct {
        struct nlmsghdr nl;
        struct cn_msg cn;
        enum proc_cn_mcast_op op;
    } __attribute__((packed)) msg;
    memset(&msg, 0, sizeof(msg));
    msg.nl.nlmsg_len = sizeof(msg);
    msg.nl.nlmsg_type = NLMSG_DONE;
    msg.nl.nlmsg_pid = 0; /* the kernel fills in our port */
    msg.cn.id.idx = CN_IDX_PROC;
    msg.cn.id.val = CN_VAL_PROC;
    msg.cn.len = sizeof(enum proc_cn_mcast_op);
    msg.op = op;
    return send(fd, &msg, sizeof(msg), 0) == (ssize_t)sizeof(msg) ? 0 : -errno;
}

static int connector_open(void)
{
    int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
    if (fd < 0)
        return -errno;
    int size = (int)CONNECTOR_RCVBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)); /* capped by rmem_max */
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0};
    int r = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (r = connector_listen(fd, PROC_CN_MCAST_LISTEN)) < 0) {
        r = r ? r : -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* One datagram's events into the queue. */
static void connector_message(watch_events *e, const char *buf, size_t len)
{
    for (const struct nlmsghdr *nl = (const struct nlmsghdr *)buf; NLMSG_OK(nl, len);
         nl = NLMSG_NEXT(nl, len)) {
        if (nl->nlmsg_type == NLMSG_ERROR || nl->nlmsg_type == NLMSG_NOOP)
            continue;
        const struct cn_msg *cn = NLMSG_DATA(nl);
        if (nl->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + sizeof(struct proc_event)) ||
            cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
            continue;
        /* cn->data is 4-byte aligned after the headers; the event holds a
         * 64-bit timestamp: copied out */
        struct proc_event ev;
        memcpy(&ev, cn->data, sizeof(ev));
        if (ev.what == PROC_EVENT_FORK &&
            ev.event_data.fork.child_pid == ev.event_data.fork.child_tgid)
            push(e, ev.event_data.fork.child_tgid, WATCH_EVENT_FORK, ev.timestamp_ns);
        else if (ev.what == PROC_EVENT_EXEC)
            push(e, ev.event_data.exec.process_tgid, WATCH_EVENT_EXEC, ev.timestamp_ns);
    }
}

/* Drain the socket while the queue has room. */
static void connector_read(watch_events *e)
{
    char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    while (e->n + 4 < QUEUE_MAX) {
        ssize_t r = recv(e->fd, buf, sizeof(buf), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == ENOBUFS) {
            e->overruns++; /* the kernel dropped events: said in stats */
            continue;
        }
        if (r <= 0)
            return; /* EAGAIN: nothing more now */
        connector_message(e, buf, (size_t)r);
    }
}

/* ------------------------------------------------------------------ */
/* /proc                                                               */
/* ------------------------------------------------------------------ */

/* A tick: the pids that were not there at the last one are new. */
static void proc_tick(watch_events *e)
{
    pid_t *now;
    size_t n;
    if (mg_pids_list(&now, &n) < 0)
        return; /* tried again at the next tick */
    size_t i = 0, k = 0;
    uint64_t t = (uint64_t)(mono_now() * 1e9);
    for (; i < n; i++) {
        while (k < e->n_known && e->known[k] < now[i])
            k++;
        if ((k == e->n_known || e->known[k] != now[i]) && !push(e, now[i], WATCH_EVENT_FORK, t))
            break;
    }
    if (i < n) { /* the queue is full: the rest are new at the next tick */
        mg_pids_free(&now);
        return;
    }
    mg_pids_free(&e->known);
    e->known = now;
    e->n_known = n;
}

int watch_proc_start(pid_t pid, unsigned long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -e : -ESRCH;
    buf[n] = '\0';
    /* after the comm, which may hold spaces and ')': the last ')' */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -EINVAL;
    p++;
    for (int field = 3; field < 22; field++) { /* p: the space before field 3 */
        p = strchr(p + 1, ' ');
        if (!p)
            return -EINVAL;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 1, &end, 10);
    if (errno || end == p + 1)
        return -EINVAL;
    *start = v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The handle                                                          */
/* ------------------------------------------------------------------ */

int watch_events_open(watch_events **out, watch_source source, char *why, size_t why_size)
{
    watch_events *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->fd = -1;
    if (why && why_size)
        why[0] = '\0';
    if (source != WATCH_SOURCE_PROC) {
        int fd = connector_open();
        if (fd >= 0) {
            e->fd = fd;
            e->source = WATCH_SOURCE_CONNECTOR;
            *out = e;
            return 0;
        }
        if (source == WATCH_SOURCE_CONNECTOR) {
            free(e);
            return fd;
        }
        if (why && why_size)
            snprintf(why, why_size, "process events connector: %s", strerror(-fd));
    }
    e->source = WATCH_SOURCE_PROC;
    int r = mg_pids_list(&e->known, &e->n_known);
    if (r < 0) {
        free(e);
        return r;
    }
    e->last_tick = mono_now();
    *out = e;
    return 0;
}

void watch_events_free(watch_events **pe)
{
    watch_events *e = pe ? *pe : NULL;
    if (!e)
        return;
    if (e->fd >= 0) {
        connector_listen(e->fd, PROC_CN_MCAST_IGNORE);
        close(e->fd);
    }
    mg_pids_free(&e->known);
    free(e);
    *pe = NULL;
}

const char *watch_events_source_name(const watch_events *e)
{
    return e->source == WATCH_SOURCE_CONNECTOR ? "connector" : "proc";
}

int watch_events_fd(const watch_events *e)
{
    return e->fd;
}

size_t watch_events_read(watch_events *e, watch_event *ev, size_t max)
{
    if (e->source == WATCH_SOURCE_CONNECTOR) {
        connector_read(e);
    } else {
        double now = mono_now();
        if (now - e->last_tick >= WATCH_POLL_MS / 1000.0 * 0.9) {
            e->last_tick = now;
            proc_tick(e);
        }
    }
    size_t k = 0;
    for (; k < max && e->n; k++, e->n--) {
        ev[k] = e->queue[e->head];
        e->head = (e->head + 1) % QUEUE_MAX;
    }
    return k;
}

uint64_t watch_events_seen(const watch_events *e)
{
    return e->seen;
}

uint64_t watch_events_overruns(const watch_events *e)
{
    return e->overruns;
}
