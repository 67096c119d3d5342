/* inspect_internal.h - what the files of the inspect API share (internal). */
#ifndef MG_INSPECT_INTERNAL_H
#define MG_INSPECT_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"

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

/* [addr, end) lies in one readable mapping of pid that memgrep may read
 * (mg_read_present's rules and codes): 0, or a negative code with err
 * filled. */
int mg_check_range(pid_t pid, uint64_t addr, uint64_t end, mg_error *err);

#endif
