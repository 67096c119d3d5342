/*
 * noscan - an LD_PRELOAD shim that makes memgrep see a kernel without the
 * PAGEMAP_SCAN ioctl (Linux < 6.7): that ioctl fails with ENOTTY, as on
 * such a kernel; every other ioctl goes to libc.
 *
 *   LD_PRELOAD=build/bench/libnoscan.so memgrep scan ...
 *
 * (tests/test_residency.c fails the call the same way, from inside.)
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* PAGEMAP_SCAN of the Linux 6.7 uapi: struct pm_scan_arg is 12 u64 */
#define NOSCAN_PAGEMAP_SCAN _IOWR('f', 16, uint64_t[12])

static int (*next)(int, unsigned long, ...);

__attribute__((constructor)) static void noscan_init(void)
{
    next = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
}

__attribute__((visibility("default"))) int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (req == NOSCAN_PAGEMAP_SCAN) {
        errno = ENOTTY;
        return -1;
    }
    return next(fd, req, arg);
}
