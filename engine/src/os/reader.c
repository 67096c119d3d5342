/* reader.c - process_vm_readv and /proc/PID/mem (io_uring or pread). */
#include "os/reader.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"

void mg_reader_init(mg_reader *r, mg_mem_reader choice)
{
    memset(r, 0, sizeof(*r));
    /* AUTO is pread: /proc/PID/mem has no FMODE_NOWAIT, so every io_uring
     * read is handed to an io-wq worker; one unit's reads (queue depth ~1)
     * then ran 10-20% slower than pread, and deeper queues only won by
     * using a second core, which the other workers already use
     * (bench/micro/bench_readers.cpp). io_uring stays available by choice. */
    if (choice != MG_MEM_READER_URING)
        return;
    r->uring = io_uring_queue_init(MG_RING_DEPTH, &r->ring, 0) == 0;
}

void mg_reader_fini(mg_reader *r)
{
    if (r->uring)
        io_uring_queue_exit(&r->ring);
    r->uring = false;
}

static bool whole_process_error(int err)
{
    return err == -ESRCH || err == -EPERM || err == -EACCES;
}

int mg_read_pvr(pid_t pid, mg_read_op *ops, size_t n)
{
    struct iovec local[MG_PVR_MAX_IOV], remote[MG_PVR_MAX_IOV];
    size_t i = 0;
    while (i < n) {
        size_t k = MG_MIN(n - i, (size_t)MG_PVR_MAX_IOV);
        for (size_t j = 0; j < k; j++) {
            local[j] = (struct iovec){ops[i + j].dst, ops[i + j].len};
            remote[j] = (struct iovec){(void *)(uintptr_t)ops[i + j].addr, ops[i + j].len};
            ops[i + j].got = 0;
            ops[i + j].err = 0;
        }
        ssize_t got = process_vm_readv(pid, local, k, remote, k, 0);
        if (got < 0) {
            int e = -errno;
            if (whole_process_error(e))
                return e;
            ops[i].err = e; /* the first op failed at its start */
            i++;
            continue;
        }
        /* Bytes come in iovec order up to the first failing page; the iovecs
         * after it were not tried, so the next call starts after it. */
        size_t left = (size_t)got, j = 0;
        while (j < k && left >= ops[i + j].len) {
            ops[i + j].got = ops[i + j].len;
            left -= ops[i + j].len;
            j++;
        }
        if (j < k) {
            ops[i + j].got = left;
            ops[i + j].err = -EFAULT;
            j++;
        }
        i += j;
    }
    return 0;
}

/* A read of /proc/PID/mem fails at an unreadable page with -EIO; it returns
 * 0 bytes only when the fd's mm is gone (the process exited, or called
 * execve, after the open: fs/proc/base.c mem_rw), which is -ESRCH here. */
static int pread_op(int fd, mg_read_op *op)
{
    while (op->got < op->len) {
        ssize_t r = pread(fd, op->dst + op->got, op->len - op->got, (off_t)(op->addr + op->got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            op->err = r < 0 ? -errno : -ESRCH;
            return op->err;
        }
        op->got += (size_t)r;
    }
    return 0;
}

static int read_mem_uring(mg_reader *r, int fd, mg_read_op *ops, size_t n)
{
    size_t next = 0, inflight = 0, done = 0;
    while (done < n) {
        while (next < n && inflight < MG_RING_DEPTH) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
            if (!sqe)
                break;
            mg_read_op *op = &ops[next];
            io_uring_prep_read(sqe, fd, op->dst + op->got, (unsigned)(op->len - op->got),
                               op->addr + op->got);
            /* /proc/PID/mem has no FMODE_NOWAIT: go straight to a worker */
            sqe->flags |= IOSQE_ASYNC;
            io_uring_sqe_set_data(sqe, op);
            next++;
            inflight++;
        }
        int rc = io_uring_submit_and_wait(&r->ring, 1);
        if (rc < 0 && rc != -EINTR)
            return rc;
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&r->ring, head, cqe)
        {
            mg_read_op *op = io_uring_cqe_get_data(cqe);
            if (cqe->res > 0) {
                op->got += (size_t)cqe->res;
                if (op->got < op->len) {
                    /* short read: finish it with pread (rare) */
                    pread_op(fd, op);
                }
            } else {
                op->err = cqe->res < 0 ? cqe->res : -ESRCH;
            }
            seen++;
        }
        io_uring_cq_advance(&r->ring, seen);
        inflight -= seen;
        done += seen;
    }
    return 0;
}

int mg_read_mem(mg_reader *r, int fd, mg_read_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ops[i].got = 0;
        ops[i].err = 0;
    }
    if (r->uring) {
        int rc = read_mem_uring(r, fd, ops, n);
        if (rc == 0) {
            /* io_uring refused the operation itself: use pread from now on */
            bool unsupported = false;
            for (size_t i = 0; i < n; i++)
                unsupported |= ops[i].err == -EINVAL || ops[i].err == -EOPNOTSUPP;
            if (!unsupported)
                goto out;
        }
        mg_reader_fini(r);
        for (size_t i = 0; i < n; i++)
            ops[i].got = 0, ops[i].err = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (pread_op(fd, &ops[i]) == -ESRCH)
            break; /* the mm is gone: the other ops would read nothing too */
out:
    for (size_t i = 0; i < n; i++)
        if (ops[i].err == -ESRCH || (whole_process_error(ops[i].err) && ops[i].got == 0))
            return ops[i].err;
    return 0;
}
