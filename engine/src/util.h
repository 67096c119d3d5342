/* util.h - small helpers shared by the engine modules (internal). */
#ifndef MG_UTIL_H
#define MG_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "limits_internal.h"
#include "memgrep/memgrep.h"

#define MG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MG_MAX(a, b) ((a) > (b) ? (a) : (b))

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

/* Read a whole (proc) file into a malloc'd, NUL-terminated buffer.
 * Returns 0 or a negative errno. */
int mg_read_file(const char *path, char **out, size_t *len);
/* The same for a /proc file the kernel makes whole at its first read
 * (single_open: /proc/PID/stat, status, cgroup; not maps, a record at a
 * time): a read shorter than asked is all of it, with no read more to see
 * the end. */
int mg_read_proc_one(const char *path, char **out, size_t *len);
/* explicit_bzero then free (buffers that held pattern text: match/vault.h). */
void mg_wipe_free(void *p, size_t n);

/* Fill err (if not NULL) with a formatted message; returns code. */
int mg_fail(mg_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

double mg_now(void);

/* The argument checks of public entry points (dav1d's validate_input_or_ret):
 * a NULL or an unknown flag is -EINVAL, err (may be NULL) naming the call
 * and the argument. */
#define MG_CHECK_ARG(cond, err, ...)                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return mg_fail(err, -EINVAL, __VA_ARGS__);                                             \
    } while (0)

/* Whether a public struct's reserved space is all zero bytes. */
bool mg_reserved_zero(const void *reserved, size_t size);

/* Value of a hex digit, or -1. */
static inline int mg_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
