/* lib.c - API glue: error strings, names, defaults, small helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "memgrep/memgrep.h"
#include "util.h"

MG_API const char *mg_strerror(int err)
{
    switch (err) {
    case MG_EPATTERN:
        return "invalid pattern";
    case MG_EHYPERSCAN:
        return "Hyperscan failure";
    case MG_ENOPATTERNS:
        return "no patterns";
    case MG_ENOTCOMPILED:
        return "pattern set not compiled";
    case MG_EBADPID:
        return "no such process";
    case MG_ESTATE:
        return "invalid call in this state";
    default:
        return strerror(err < 0 ? -err : err);
    }
}

MG_API const char *mg_region_kind_name(mg_region_kind kind)
{
    static const char *const names[] = {
        [MG_REGION_ANON] = "anon",     [MG_REGION_HEAP] = "heap", [MG_REGION_STACK] = "stack",
        [MG_REGION_FILE] = "file",     [MG_REGION_SHM] = "shm",   [MG_REGION_SPECIAL] = "special",
        [MG_REGION_DEVICE] = "device",
    };
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}

MG_API const char *mg_event_kind_name(mg_event_kind kind)
{
    static const char *const names[] = {
        [MG_EVENT_GONE] = "gone",       [MG_EVENT_PERMISSION] = "permission",
        [MG_EVENT_CHANGED] = "changed", [MG_EVENT_OTHER] = "other",
        [MG_EVENT_TIMEOUT] = "timeout", [MG_EVENT_UNREACHED] = "unreached",
    };
    return (unsigned)kind < MG_EVENT_KINDS ? names[kind] : "unknown";
}

MG_API const char *mg_stop_reason_name(mg_stop_reason reason)
{
    static const char *const names[] = {
        [MG_STOP_NONE] = "none",
        [MG_STOP_TIMEOUT] = "timeout",
        [MG_STOP_CANCELLED] = "cancelled",
        [MG_STOP_SINK] = "sink",
    };
    return (unsigned)reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "unknown";
}

MG_API const char *mg_version(void)
{
    return MG_VERSION;
}

MG_API unsigned mg_version_api(void)
{
    return MG_API_VERSION;
}

MG_API int mg_default_settings(mg_settings *s)
{
    MG_CHECK_ARG(s, NULL, "mg_default_settings: s must not be NULL");
    memset(s, 0, sizeof(*s));
    s->chunk_size = MG_DEFAULT_CHUNK_SIZE;
    s->context = MG_DEFAULT_CONTEXT;
    s->mem_reader = MG_MEM_READER_AUTO;
    s->unbounded_width = MG_DEFAULT_UNBOUNDED_WIDTH;
    s->dedupe = true;
    return 0;
}

bool mg_reserved_zero(const void *reserved, size_t size)
{
    const uint8_t *b = reserved;
    for (size_t i = 0; i < size; i++)
        if (b[i])
            return false;
    return true;
}

MG_API size_t mg_page_size(void)
{
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (size_t)n : MG_PAGE_SIZE;
}

void mg_wipe_free(void *p, size_t n)
{
    if (p)
        explicit_bzero(p, n);
    free(p);
}

static int read_file(const char *path, char **out, size_t *len, bool one)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* proc files report size 0: start small and grow (no fstat for them:
     * a sweep reads several per process); regular files are read in one go */
    struct stat st;
    size_t cap = 16384, n = 0;
    if (strncmp(path, "/proc/", 6) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 4097;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        if (cap - n < 4096) {
            /* not realloc: the old block is wiped (pattern and rule files
             * pass here; vault.h) */
            char *nb = malloc(cap * 2);
            if (!nb) {
                mg_wipe_free(buf, n);
                close(fd);
                return -ENOMEM;
            }
            memcpy(nb, buf, n);
            mg_wipe_free(buf, n);
            buf = nb;
            cap *= 2;
        }
        size_t want = cap - n - 1;
        ssize_t r = read(fd, buf + n, want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            mg_wipe_free(buf, n);
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (one && (size_t)r < want)
            break; /* shorter than asked: the whole file */
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int mg_read_file(const char *path, char **out, size_t *len)
{
    return read_file(path, out, len, false);
}

int mg_read_proc_one(const char *path, char **out, size_t *len)
{
    return read_file(path, out, len, true);
}

int mg_fail(mg_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

double mg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
