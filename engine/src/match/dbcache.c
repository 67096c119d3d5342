/* dbcache.c - compiled Hyperscan databases cached on disk.
 *
 * A cache file holds the exact key it was built for (Hyperscan version,
 * target platform, every expression of the main database with its flags:
 * with lazy regexes, their literal factors and the ids), the serialised
 * database and a checksum over both. The file name is a hash of the key,
 * but a hit is only taken when the stored key matches byte for byte, so a
 * hash collision or a stale file can never yield the wrong database.
 *
 * The database is Hyperscan bytecode, deserialised in a process that runs
 * as root, and it decides what is found: whoever can write the cache can
 * hide anything from memgrep. So, as sshd's StrictModes does for key files,
 * the directory and the file are only trusted when, checked on the opened
 * descriptors, they are owned by our effective uid or by root and are not
 * writable by group or others; symbolic links are never followed. A refused
 * directory or file is reported as a warning (in err, the call succeeding)
 * and the patterns are compiled instead. The file is read into memory once
 * and its checksum verified before deserialising, so a truncated or
 * corrupted file is a miss (it is recompiled and rewritten); the checksum
 * is for corruption, the ownership check is the security boundary.
 * Entries are written under an unpredictable temporary name (O_EXCL,
 * O_NOFOLLOW, mode 0600) and renamed into place. Any other cache trouble
 * (unwritable directory, no space) falls back to compiling, silently. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "match/patterns.h"
#include "util.h"
#include "match/vault.h"

/* File layout: magic, u64 key length, key, u64 database length, database,
 * u64 checksum of everything before it. Host byte order: the key holds the
 * platform, so a file never travels to another kind of machine. */
static const char magic[8] = "MGHSDB2\n";

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
        /* the old block wiped: it may hold a database (vault.h) */
        char *s = malloc(cap);
        if (!s) {
            b->oom = true;
            return;
        }
        if (b->n)
            memcpy(s, b->s, b->n);
        mg_wipe_free(b->s, b->cap);
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->n, p, n);
    b->n += n;
}

/* The key: Hyperscan's version, the platform, and the main database's
 * expressions with their flags (after mg_patterns_plan). With lazy regexes
 * the database also holds their factors under ids past the expressions, so
 * the ids and the number of expressions are part of the key then, as
 * they are whenever an id is not its expression's position. extra: the
 * extra database's (p->xdb); its number of expressions in *n_out (0:
 * there is none). */
static int make_key(const mg_patterns *p, bool extra, blob *key, int *n_out)
{
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof(plat));
    if (hs_populate_platform(&plat) != HS_SUCCESS)
        return -ENOTSUP;
    const char **res = NULL;
    unsigned *fl = NULL, *ids = NULL;
    int n_main = mg_patterns_main_exprs(p, extra, &res, &fl, &ids);
    if (n_main < 0)
        return n_main;
    *n_out = n_main;
    const char *ver = hs_version();
    uint32_t n = (uint32_t)strlen(ver);
    put(key, &n, sizeof(n));
    put(key, ver, n);
    put(key, &plat.tune, sizeof(plat.tune));
    put(key, &plat.cpu_features, sizeof(plat.cpu_features));
    n = (uint32_t)n_main;
    put(key, &n, sizeof(n));
    for (int i = 0; i < n_main; i++) {
        uint32_t f = fl[i], len = (uint32_t)strlen(res[i]);
        put(key, &f, sizeof(f));
        put(key, &len, sizeof(len));
        put(key, res[i], len);
    }
    /* ids other than the expressions' positions (lazy regexes' factors, or
     * expressions left out or in the other database) are part of the key */
    bool ids_in_key = p->n_lazy || extra;
    for (int i = 0; i < n_main; i++)
        ids_in_key |= ids[i] != (unsigned)i;
    if (ids_in_key) {
        static const char lazy[] = "lazy regexes v1", xdb[] = "extra database v1";
        put(key, extra ? xdb : lazy, extra ? sizeof(xdb) : sizeof(lazy));
        n = (uint32_t)p->n_exprs;
        put(key, &n, sizeof(n));
        for (int i = 0; i < n_main; i++) {
            uint32_t id = ids[i];
            put(key, &id, sizeof(id));
        }
    }
    free(res), free(fl), free(ids);
    return key->oom ? -ENOMEM : 0;
}

/* The entry's name, over the key. Eight bytes at a time: the key of
 * 100,000 patterns is megabytes, and a warm start should take
 * milliseconds. The first file format's names, so that its entries are
 * overwritten, not left behind. Not a safety property: load() compares
 * the whole key. */
static uint64_t name_hash(const char *s, size_t n)
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

/* The checksum of an entry (tens of megabytes for 100,000 patterns): four
 * independent lanes of eight bytes, then combined. Every step is a
 * bijection of the state for a given input word, so a change in any one
 * word always changes the result. It finds corruption; it is not what
 * keeps a hostile database out (the ownership check is). */
static uint64_t checksum(const char *s, size_t n)
{
    const uint64_t m = 0xff51afd7ed558ccdull;
    uint64_t h[4] = {0xc2b2ae3d27d4eb4full ^ n, 0x165667b19e3779f9ull, 0x27d4eb2f165667c5ull,
                     0x9e3779b97f4a7c15ull},
             w;
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            memcpy(&w, s + i + 8 * k, 8);
            h[k] = (h[k] ^ w) * m;
            h[k] ^= h[k] >> 32;
        }
    uint64_t r = h[0];
    for (int k = 1; k < 4; k++) {
        r = (r ^ h[k]) * m;
        r ^= r >> 32;
    }
    for (; i < n; i++)
        r = (r ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return r ^ (r >> 29);
}

/* Whether an opened cache directory or file may be believed; if not, why. */
static bool trusted(const struct stat *st, char *why, size_t size)
{
    uid_t me = geteuid();
    if (st->st_uid != me && st->st_uid != 0) {
        if (me == 0)
            snprintf(why, size, "owned by uid %u, not by root", (unsigned)st->st_uid);
        else
            snprintf(why, size, "owned by uid %u, not by uid %u or root", (unsigned)st->st_uid,
                     (unsigned)me);
        return false;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(why, size, "writable by group or others (mode %04o)",
                 (unsigned)(st->st_mode & 07777));
        return false;
    }
    return true;
}

/* The warning for a directory or file we will not use. */
static void refuse(mg_error *warn, const char *what, const char *path, const char *why)
{
    mg_fail(warn, 0, "ignoring %s %s: %s", what, path, why);
}

/* Why opening name (relative to dfd) failed with errno e. */
static const char *open_failure(int dfd, const char *name, int e)
{
    struct stat st;
    /* ELOOP for a file, ENOTDIR for a directory (O_DIRECTORY) */
    if ((e == ELOOP || e == ENOTDIR) && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
        return "it is a symbolic link";
    if (e == ENOTDIR)
        return "not a directory";
    return strerror(e);
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

/* The cache directory, created 0700 if missing, opened without following
 * a final symbolic link and checked; -1 when there is none we may use (a
 * warning in warn when it exists but is refused). Its name, without
 * trailing slashes, in path. */
static int open_dir(const char *dir, char *path, size_t size, mg_error *warn)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    char why[128];
    size_t n = strlen(dir);
    if (n >= size)
        return -1;
    /* "dir/" would follow a symbolic link dir */
    while (n > 1 && dir[n - 1] == '/')
        n--;
    memcpy(path, dir, n);
    path[n] = '\0';
    int fd = open(path, flags);
    if (fd < 0 && errno == ENOENT) {
        if (mkdir_p(path) < 0) /* cannot be created: no cache, silently */
            return -1;
        fd = open(path, flags);
    }
    if (fd < 0) {
        refuse(warn, "database cache", path, open_failure(AT_FDCWD, path, errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        snprintf(why, sizeof(why), "%s", strerror(errno));
    else if (trusted(&st, why, sizeof(why)))
        return fd;
    refuse(warn, "database cache", path, why);
    close(fd);
    return -1;
}

/* Take the database from entry name of the directory dfd if it is trusted
 * and intact and holds exactly this key. */
static bool load(mg_patterns *p, hs_database_t **slot, int dfd, const char *dir, const char *name,
                 const blob *key, mg_error *warn)
{
    char path[4200], why[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    /* O_NONBLOCK: a FIFO planted here must not hang us */
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            refuse(warn, "cached database", path, open_failure(dfd, name, errno));
        return false;
    }
    struct stat st;
    bool ok = false;
    if (fstat(fd, &st) < 0)
        snprintf(why, sizeof(why), "%s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        snprintf(why, sizeof(why), "not a regular file");
    else
        ok = trusted(&st, why, sizeof(why));
    if (!ok) {
        refuse(warn, "cached database", path, why);
        close(fd);
        return false;
    }
    uint64_t klen, dlen, sum;
    const size_t hdr = sizeof(magic) + sizeof(klen);
    const size_t fixed = hdr + sizeof(dlen) + sizeof(sum);
    size_t len = (size_t)st.st_size;
    if (st.st_size < (off_t)fixed || (uint64_t)st.st_size != len) {
        close(fd);
        return false;
    }
    /* One copy in memory: nothing can change it between the checks and
     * the deserialisation, as it could a mapping of the file. In pattern
     * memory of its own (vault.h), unmapped once done. */
    mg_vault *tmp = NULL;
    char *buf = mg_vault_alloc(&tmp, len, 64);
    int rc = buf ? mg_read_full(fd, buf, len) : -1;
    close(fd);
    ok = false;
    if (rc == 0 && !memcmp(buf, magic, sizeof(magic))) {
        memcpy(&klen, buf + sizeof(magic), sizeof(klen));
        memcpy(&sum, buf + len - sizeof(sum), sizeof(sum));
        if (klen == key->n && klen <= len - fixed && sum == checksum(buf, len - sizeof(sum)) &&
            !memcmp(buf + hdr, key->s, key->n)) {
            memcpy(&dlen, buf + hdr + klen, sizeof(dlen));
            const char *db = buf + hdr + klen + sizeof(dlen);
            ok = dlen == len - fixed - klen && mg_patterns_db_from_bytes(p, slot, db, dlen) == 0;
        }
    }
    mg_vault_free(&tmp);
    return ok;
}

/* A new private file under an unpredictable name in dfd (never a file or
 * link that was there); its name in tmp. */
static int create_tmp(int dfd, const char *name, char *tmp, size_t size)
{
    for (int tries = 0; tries < 8; tries++) {
        uint64_t r;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
            return -1;
        snprintf(tmp, size, ".%s.%016llx.tmp", name, (unsigned long long)r);
        int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Best effort: write to a temporary file, then rename over the entry. Not
 * synced: a file cut short by a crash fails its checksum, a miss. */
static void store(const hs_database_t *db, int dfd, const char *name, const blob *key)
{
    char *bytes = NULL;
    size_t len = 0;
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        return;
    blob f = {0};
    uint64_t klen = key->n, dlen = len;
    put(&f, magic, sizeof(magic));
    put(&f, &klen, sizeof(klen));
    put(&f, key->s, key->n);
    put(&f, &dlen, sizeof(dlen));
    put(&f, bytes, len);
    mg_wipe_free(bytes, len);
    if (!f.oom) {
        uint64_t sum = checksum(f.s, f.n);
        put(&f, &sum, sizeof(sum));
    }
    char tmp[128];
    int fd = f.oom ? -1 : create_tmp(dfd, name, tmp, sizeof(tmp));
    if (fd >= 0) {
        int rc = mg_write_full(fd, f.s, f.n);
        if (close(fd) != 0 || rc != 0 || renameat(dfd, tmp, dfd, name) != 0)
            unlinkat(dfd, tmp, 0);
    }
    mg_wipe_free(f.s, f.cap);
}

MG_API int mg_patterns_compile_cached(mg_patterns *p, const char *dir, bool *from_cache,
                                      mg_error *err)
{
    if (from_cache)
        *from_cache = false;
    if (err)
        err->message[0] = '\0';
    if (!p)
        return mg_fail(err, -EINVAL, "invalid argument");
    if (!dir || !*dir || p->db || p->n_exprs == 0)
        return mg_patterns_compile(p, err);
    /* the main database's entry, and the extra one's if there is one */
    blob key[2] = {{0}};
    int n[2] = {0, 0};
    if (mg_patterns_plan(p) < 0 || make_key(p, false, &key[0], &n[0]) < 0 ||
        make_key(p, true, &key[1], &n[1]) < 0) {
        free(key[0].s), free(key[1].s);
        return mg_patterns_compile(p, err);
    }
    char name[2][32], path[4096];
    for (int i = 0; i < 2; i++)
        snprintf(name[i], sizeof(name[i]), "%016llx.hsdb",
                 (unsigned long long)name_hash(key[i].s, key[i].n));
    int rc = 0, dfd = open_dir(dir, path, sizeof(path), err);
    if (dfd >= 0 && (n[1] == 0 || load(p, &p->xdb, dfd, path, name[1], &key[1], err)) &&
        load(p, &p->db, dfd, path, name[0], &key[0], err)) {
        if (from_cache)
            *from_cache = true;
    } else {
        p->xdb = NULL; /* a loaded one is in the vault, freed with it */
        rc = mg_patterns_compile(p, err);
        if (rc == 0 && dfd >= 0) {
            store(p->db, dfd, name[0], &key[0]);
            if (p->xdb)
                store(p->xdb, dfd, name[1], &key[1]);
        }
    }
    if (dfd >= 0)
        close(dfd);
    free(key[0].s), free(key[1].s);
    mg_scrub_stack(); /* also after a load: the parser ran when they were added */
    return rc;
}
