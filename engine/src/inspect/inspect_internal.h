/* inspect_internal.h - what the files of the inspect API share (internal). */
#ifndef MG_INSPECT_INTERNAL_H
#define MG_INSPECT_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"
#include "os/maps.h"
#include "os/procs.h"
#include "os/reader.h"

/* Errors of /proc files in the terms of the API: a vanished /proc/PID is
 * the process gone, and a denied read is a permission problem whichever
 * errno the kernel chose (open says EACCES, process_vm_readv EPERM). */
static inline int mg_api_code(int rc)
{
    if (rc == -ENOENT)
        return -ESRCH;
    if (rc == -EPERM)
        return -EACCES;
    return rc;
}

/* Copy src, NUL included, to *s and move *s past it; returns the copy. */
static inline const char *mg_put_string(char **s, const char *src)
{
    size_t n = strlen(src) + 1;
    char *d = memcpy(*s, src, n);
    *s += n;
    return d;
}

/* A process opened to read present pages of one range, with
 * mg_read_present's rules: pinned once (os/procs.h: pidfd, start time), so
 * reads of several pieces of the range (mg_strings' chunks) are all of the
 * same process, checked after each; one snapshot of its maps; its pagemap
 * and mem opened once. */
typedef struct mg_present_src {
    mg_proc_pin pin;
    mg_maps maps;
    int pm_fd, mem_fd;
    mg_reader rd;
} mg_present_src;

/* Open pid for [addr, end) (page aligned, end > addr), which must lie in
 * one readable mapping that memgrep may read. Returns 0 (then
 * mg_present_close) or a negative code (mg_read_present's), err filled. */
int mg_present_open(mg_present_src *src, pid_t pid, uint64_t addr, uint64_t end, mg_error *err);
/* mg_read_present of [addr, addr + len), a part of the opened range: the
 * bytes read, or a negative code (-ESRCH once the process has exited, or
 * its pid names another). */
ssize_t mg_present_read(mg_present_src *src, uint64_t addr, size_t len, void *buf, uint8_t *present,
                        mg_error *err);
void mg_present_close(mg_present_src *src);

#endif
