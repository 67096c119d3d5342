/* reader.h - copying a target's memory into our buffers (internal).
 *
 * Two readers behind one batch interface:
 *  - process_vm_readv: one copy, the target's mmap_lock dropped during I/O;
 *    but it pins pages, which unshares (copies) anon pages that are shared
 *    after fork or by KSM. Used for exclusively mapped and file pages.
 *  - /proc/PID/mem through pread (or io_uring, on request; pread if io_uring
 *    is not usable here):
 *    reads without pinning, so sharing stays intact. Used for shared anon
 *    pages and for --include-noread (PROT_NONE anon pages). Never pointed at
 *    device or file-only mappings (the planner guarantees it).
 * Every read is of pages that pagemap just showed present. */
#ifndef MG_READER_H
#define MG_READER_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"

/* One contiguous range to read: [addr, addr+len) into dst. On return, got
 * holds the bytes read (a prefix) and err the reason if got < len. */
typedef struct mg_read_op {
    uint64_t addr;
    size_t len;
    uint8_t *dst;
    size_t got;
    int err; /* 0 or negative errno */
} mg_read_op;

typedef struct mg_reader {
    struct io_uring ring;
    bool uring; /* the ring is set up and reads through it work */
} mg_reader;

/* Set up the /proc/PID/mem reader for one worker: pread, or io_uring when
 * choice is URING and io_uring can be used here (not disabled by sysctl or
 * seccomp, kernel has it); otherwise pread. */
void mg_reader_init(mg_reader *r, mg_mem_reader choice);
void mg_reader_fini(mg_reader *r);

/* process_vm_readv over ops, up to MG_PVR_MAX_IOV iovecs per call. Fills
 * got/err of each op. Returns 0, or -ESRCH, -EPERM or -EACCES if the whole
 * process is unreadable (gone, or no permission). */
int mg_read_pvr(pid_t pid, mg_read_op *ops, size_t n);

/* /proc/PID/mem (fd) over ops. Fills got/err of each op. Returns 0, or
 * -ESRCH, -EPERM or -EACCES like mg_read_pvr; -ESRCH also when the fd's
 * process has exited or called execve since the open (its reads return 0
 * bytes), whatever was read before. */
int mg_read_mem(mg_reader *r, int mem_fd, mg_read_op *ops, size_t n);

#endif
