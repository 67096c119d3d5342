/* vault.c - named mappings for pattern storage: see vault.h. */
#include "match/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memgrep/memgrep.h"
#include "util.h"

#define VAULT_CHUNK (64u * 1024u)
#define VAULT_PAGE 4096u

struct mg_vault {
    mg_vault *next;
    size_t size, used; /* bytes of this mapping, this header included */
};

/* A shared mapping of a memfd of that name: /proc/PID/maps shows
 * "/memfd:memgrep-patterns (deleted)" on every kernel since 3.17 (a name
 * given with PR_SET_VMA_ANON_NAME needs CONFIG_ANON_VMA_NAME, often not
 * set). The descriptor is closed at once: the mapping keeps the file. */
static void *map_named(size_t len)
{
    int fd = memfd_create(MG_PATTERN_MEMORY_NAME, MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    void *m = ftruncate(fd, (off_t)len) == 0
                  ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

void *mg_vault_alloc(mg_vault **v, size_t n, size_t align)
{
    if (align < 16)
        align = 16;
    mg_vault *c = *v;
    size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
    if (!c || at + n > c->size) {
        size_t head = (sizeof(mg_vault) + align - 1) & ~(align - 1);
        if (n > SIZE_MAX - head - VAULT_PAGE)
            return NULL;
        size_t len =
            MG_MAX((size_t)VAULT_CHUNK, (head + n + VAULT_PAGE - 1) & ~(size_t)(VAULT_PAGE - 1));
        c = map_named(len);
        if (!c)
            return NULL;
        c->size = len;
        c->next = *v;
        *v = c;
        at = head;
    }
    c->used = at + n;
    return (char *)c + at;
}

void mg_vault_free(mg_vault **v)
{
    for (mg_vault *c = *v, *next; c; c = next) {
        next = c->next;
        munmap(c, c->size);
    }
    *v = NULL;
}

__attribute__((noinline)) void mg_scrub_stack(void)
{
    char buf[MG_SCRUB_STACK];
    explicit_bzero(buf, sizeof(buf));
}

MG_API void *mg_pattern_memory_alloc(size_t n)
{
    if (!n)
        return NULL;
    size_t len = (n + VAULT_PAGE - 1) & ~(size_t)(VAULT_PAGE - 1);
    return map_named(len);
}

MG_API void mg_pattern_memory_free(void *p, size_t n)
{
    if (!p)
        return;
    size_t len = (n + VAULT_PAGE - 1) & ~(size_t)(VAULT_PAGE - 1);
    explicit_bzero(p, n);
    munmap(p, len);
}

/* What the compiling child sends first: then len bytes of database
 * (status 0) or of message (status 1). */
typedef struct compile_reply {
    int32_t status, bad;
    uint64_t len;
} compile_reply;

int mg_write_full(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int mg_read_full(int fd, void *p, size_t n)
{
    char *s = p;
    while (n) {
        ssize_t r = read(fd, s, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EIO;
        s += r;
        n -= (size_t)r;
    }
    return 0;
}

static void compile_child(int fd, const char *const *res, const unsigned *flags,
                          const unsigned *ids, unsigned n)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    compile_reply rep = {0};
    char *bytes = NULL;
    size_t len = 0;
    if (hs_compile_multi(res, flags, ids, n, HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
        const char *m = cerr && cerr->message ? cerr->message : "unknown error";
        rep = (compile_reply){.status = 1, .bad = cerr ? cerr->expression : -1, .len = strlen(m)};
        _exit(mg_write_full(fd, &rep, sizeof(rep)) || mg_write_full(fd, m, rep.len) ? 1 : 0);
    }
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        _exit(1);
    rep.len = len;
    _exit(mg_write_full(fd, &rep, sizeof(rep)) || mg_write_full(fd, bytes, len) ? 1 : 0);
}

int mg_vault_compile(mg_vault **v, const char *const *res, const unsigned *flags,
                     const unsigned *ids, unsigned n, char **bytes, size_t *len, int *bad,
                     char *msg, size_t msg_size)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(fds[0]);
        close(fds[1]);
        return e;
    }
    if (pid == 0) {
        close(fds[0]);
        compile_child(fds[1], res, flags, ids, n);
    }
    close(fds[1]);
    compile_reply rep;
    int rc = mg_read_full(fds[0], &rep, sizeof(rep));
    if (rc == 0 && rep.status == 0) {
        *bytes = rep.len && rep.len < SIZE_MAX ? mg_vault_alloc(v, (size_t)rep.len, 64) : NULL;
        *len = (size_t)rep.len;
        rc = !*bytes ? -ENOMEM : mg_read_full(fds[0], *bytes, *len);
    } else if (rc == 0) {
        size_t m = rep.len < msg_size ? (size_t)rep.len : msg_size - 1;
        rc = mg_read_full(fds[0], msg, m);
        msg[rc == 0 ? m : 0] = '\0';
        *bad = rep.bad;
        rc = rc == 0 ? MG_EPATTERN : rc;
    }
    close(fds[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    return rc;
}
