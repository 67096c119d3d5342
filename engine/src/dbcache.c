/* dbcache.c - compiled Hyperscan databases cached on disk.
 *
 * A cache file holds the exact key it was built for (Hyperscan version,
 * target platform, every expression with its flags) followed by the
 * serialised database. The file name is a hash of the key, but a hit is
 * only taken when the stored key matches byte for byte, so a hash collision
 * or a stale file can never yield the wrong database. Any cache trouble
 * (unwritable directory, corrupt file) falls back to compiling. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patterns.h"
#include "util.h"

static const char magic[8] = "MGHSDB1\n";

typedef struct blob {
    char *s;
    size_t n, cap;
    bool oom;
} blob;

static void put(blob *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = MG_MAX(b->cap * 2, b->n + n + 4096);
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->n, p, n);
    b->n += n;
}

static int make_key(const mg_patterns *p, blob *key)
{
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof(plat));
    if (hs_populate_platform(&plat) != HS_SUCCESS)
        return -ENOTSUP;
    const char *ver = hs_version();
    uint32_t n = (uint32_t)strlen(ver);
    put(key, &n, sizeof(n));
    put(key, ver, n);
    put(key, &plat.tune, sizeof(plat.tune));
    put(key, &plat.cpu_features, sizeof(plat.cpu_features));
    n = (uint32_t)p->n_exprs;
    put(key, &n, sizeof(n));
    for (size_t i = 0; i < p->n_exprs; i++) {
        uint32_t fl = p->exprs[i].hs_flags, len = (uint32_t)strlen(p->exprs[i].re);
        put(key, &fl, sizeof(fl));
        put(key, &len, sizeof(len));
        put(key, p->exprs[i].re, len);
    }
    return key->oom ? -ENOMEM : 0;
}

/* The entry's file name. Eight bytes at a time: the key of 100,000
 * patterns is megabytes, and a warm start should take milliseconds. Not a
 * safety property: load() compares the whole key. */
static uint64_t key_hash(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static bool load(mg_patterns *p, const char *path, const blob *key)
{
    /* mapped, not read: hs_deserialize_database copies it once anyway */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return false;
    if (fstat(fd, &st) < 0 || st.st_size <= 0) {
        close(fd);
        return false;
    }
    size_t len = (size_t)st.st_size;
    char *buf = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (buf == MAP_FAILED)
        return false;
    bool ok = false;
    uint64_t klen, dlen;
    size_t hdr = sizeof(magic) + sizeof(klen);
    if (len >= hdr && !memcmp(buf, magic, sizeof(magic))) {
        memcpy(&klen, buf + sizeof(magic), sizeof(klen));
        if (klen == key->n && len >= hdr + klen + sizeof(dlen) &&
            !memcmp(buf + hdr, key->s, key->n)) {
            memcpy(&dlen, buf + hdr + klen, sizeof(dlen));
            const char *db = buf + hdr + klen + sizeof(dlen);
            ok = dlen == len - (hdr + klen + sizeof(dlen)) &&
                 hs_deserialize_database(db, dlen, &p->db) == HS_SUCCESS;
        }
    }
    munmap(buf, len);
    return ok;
}

static int write_all(int fd, const void *p, size_t n)
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

/* mkdir -p, private to the user: the cache may describe what is hunted. */
static int mkdir_p(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path))
        return -1;
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Best effort: write to a temporary file, then rename over the entry. */
static void store(const mg_patterns *p, const char *dir, const char *path, const blob *key)
{
    char *bytes = NULL;
    size_t len = 0;
    if (mkdir_p(dir) < 0)
        return;
    if (hs_serialize_database(p->db, &bytes, &len) != HS_SUCCESS)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        uint64_t klen = key->n, dlen = len;
        int rc = write_all(fd, magic, sizeof(magic)) | write_all(fd, &klen, sizeof(klen)) |
                 write_all(fd, key->s, key->n) | write_all(fd, &dlen, sizeof(dlen)) |
                 write_all(fd, bytes, len);
        if (close(fd) == 0 && rc == 0 && rename(tmp, path) == 0)
            tmp[0] = '\0';
        if (tmp[0])
            unlink(tmp);
    }
    free(bytes);
}

MG_API int mg_patterns_compile_cached(mg_patterns *p, const char *dir, bool *from_cache,
                                      mg_error *err)
{
    if (from_cache)
        *from_cache = false;
    if (!p)
        return mg_fail(err, -EINVAL, "invalid argument");
    if (!dir || !*dir || p->db || p->n_exprs == 0)
        return mg_patterns_compile(p, err);
    blob key = {0};
    char path[4096];
    if (make_key(p, &key) < 0) {
        free(key.s);
        return mg_patterns_compile(p, err);
    }
    snprintf(path, sizeof(path), "%s/%016llx.hsdb", dir,
             (unsigned long long)key_hash(key.s, key.n));
    int rc = 0;
    if (load(p, path, &key)) {
        if (from_cache)
            *from_cache = true;
    } else {
        rc = mg_patterns_compile(p, err);
        if (rc == 0)
            store(p, dir, path, &key);
    }
    free(key.s);
    return rc;
}
