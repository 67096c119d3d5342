/* keep.c - incremental reads: page-cache results kept across scans (the
 * two generations of tables, the file identities, the keep key). */
#include "sweep/keep.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "limits_internal.h"
#include "os/residency.h"

#define KPF_DIRTY 4
#define KPF_WRITEBACK 8

struct mg_keep {
    mg_dedupe *cur, *prev; /* prev may be NULL */
    uint64_t pats_id;
    int kpageflags_fd; /* -1: not readable (recent files are not kept) */
};

int mg_keep_new(mg_keep **out)
{
    mg_keep *k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    int rc = mg_dedupe_new(&k->cur, MG_KEEP_MAX_BYTES);
    if (rc < 0) {
        free(k);
        return rc;
    }
    k->kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    *out = k;
    return 0;
}

void mg_keep_free(mg_keep **pk)
{
    if (!pk || !*pk)
        return;
    mg_keep *k = *pk;
    mg_dedupe_free(&k->cur);
    mg_dedupe_free(&k->prev);
    if (k->kpageflags_fd >= 0)
        close(k->kpageflags_fd);
    free(k);
    *pk = NULL;
}

void mg_keep_begin(mg_keep *k, uint64_t pats_id)
{
    if (pats_id && pats_id == k->pats_id)
        return;
    mg_dedupe_clear(k->cur);
    mg_dedupe_free(&k->prev);
    k->pats_id = pats_id;
}

void mg_keep_end(mg_keep *k)
{
    if (mg_dedupe_bytes(k->cur) < MG_KEEP_MAX_BYTES / 2)
        return;
    mg_dedupe *fresh;
    if (mg_dedupe_new(&fresh, MG_KEEP_MAX_BYTES) < 0) {
        mg_dedupe_clear(k->cur); /* no memory for two: start over */
        return;
    }
    mg_dedupe_free(&k->prev);
    k->prev = k->cur;
    k->cur = fresh;
}

const uint8_t *mg_keep_find(mg_keep *k, const uint64_t *key, size_t n, size_t *len)
{
    if (!k->pats_id)
        return NULL;
    const uint8_t *rec = mg_dedupe_find(k->cur, key, n, len);
    if (rec || !k->prev)
        return rec;
    rec = mg_dedupe_find(k->prev, key, n, len);
    if (rec) /* asked for again: into the current generation */
        mg_dedupe_insert(k->cur, key, n, rec, *len);
    return rec;
}

void mg_keep_insert(mg_keep *k, const uint64_t *key, size_t n, const uint8_t *rec, size_t len)
{
    if (k->pats_id)
        mg_dedupe_insert(k->cur, key, n, rec, len);
}

void mg_keep_ids_reset(mg_keep_ids *ids)
{
    for (size_t i = 0; i < MG_KEEP_IDS; i++)
        ids->slot[i].ino = 0;
}

static uint64_t ts_ns(struct timespec t)
{
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The identity of r's file, looked at through the mapping itself
 * (/proc/PID/map_files: the file mapped, wherever its name now points). */
static void look_up(mg_keep_id *id, pid_t pid, const mg_region *r)
{
    char path[96];
    struct stat st;
    id->dev = (uint64_t)r->dev_major << 32 | r->dev_minor;
    id->ino = r->inode;
    id->words[0] = ~0ull;
    snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)pid,
             (unsigned long long)r->start, (unsigned long long)r->end);
    if (stat(path, &st) < 0 || st.st_ino != r->inode || major(st.st_dev) != r->dev_major ||
        minor(st.st_dev) != r->dev_minor || !S_ISREG(st.st_mode))
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t changed =
        ts_ns(st.st_mtim) > ts_ns(st.st_ctim) ? ts_ns(st.st_mtim) : ts_ns(st.st_ctim);
    id->recent = changed + (uint64_t)MG_KEEP_SETTLE_S * 1000000000u > ts_ns(now);
    id->words[0] = (uint64_t)st.st_size;
    id->words[1] = ts_ns(st.st_mtim);
    id->words[2] = ts_ns(st.st_ctim);
}

static const mg_keep_id *identity(mg_keep_ids *ids, pid_t pid, const mg_region *r)
{
    uint64_t dev = (uint64_t)r->dev_major << 32 | r->dev_minor;
    uint64_t h = (r->inode ^ dev) * 0x9e3779b97f4a7c15ull;
    mg_keep_id *id = &ids->slot[(h >> 32) & (MG_KEEP_IDS - 1)];
    if (id->ino != r->inode || id->dev != dev)
        look_up(id, pid, r);
    return id;
}

/* Whether any of the frames key[0..np) is dirty or under write-back (or
 * their flags can't be read). */
static bool any_dirty(int fd, const uint64_t *pfn, size_t np)
{
    if (fd < 0)
        return true;
    uint64_t flags[64];
    for (size_t i = 0; i < np;) {
        size_t j = i + 1;
        while (j < np && j - i < 64 && pfn[j] == pfn[j - 1] + 1)
            j++;
        size_t n = (j - i) * sizeof(*flags);
        if (pread(fd, flags, n, (off_t)(pfn[i] * sizeof(*flags))) != (ssize_t)n)
            return true;
        for (size_t f = 0; f < j - i; f++)
            if (flags[f] & ((1ull << KPF_DIRTY) | (1ull << KPF_WRITEBACK)))
                return true;
        i = j;
    }
    return false;
}

size_t mg_keep_key(mg_keep *k, mg_keep_ids *ids, pid_t pid, const mg_region *r, uint64_t *key,
                   const uint64_t *pm, size_t np)
{
    /* files on block devices only: tmpfs, shared memory, network and FUSE
     * files (device major 0) are never kept */
    if (!k->pats_id || r->kind != MG_REGION_FILE || !r->inode || !r->dev_major ||
        (r->perms[1] == 'w' && r->perms[3] == 's'))
        return 0;
    uint64_t *pfn = key + MG_DEDUPE_FILE_KEY_WORDS + 3;
    for (size_t i = 0; i < np; i++) {
        if ((pm[i] & (MG_PM_PRESENT | MG_PM_FILE)) != (MG_PM_PRESENT | MG_PM_FILE) ||
            !(pm[i] & MG_PM_PFN_MASK))
            return 0;
        pfn[i] = pm[i] & MG_PM_PFN_MASK;
    }
    const mg_keep_id *id = identity(ids, pid, r);
    if (id->words[0] == ~0ull || (id->recent && any_dirty(k->kpageflags_fd, pfn, np)))
        return 0;
    for (size_t i = 0; i < 3; i++)
        key[MG_DEDUPE_FILE_KEY_WORDS + i] = id->words[i];
    return MG_KEEP_KEY_WORDS(np);
}
