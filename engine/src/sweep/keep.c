/* keep.c - incremental reads: page-cache results kept across scans (the
 * two generations of tables, the file identities, the keep key). */
#include "sweep/keep.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "limits_internal.h"
#include "os/residency.h"

#define KPF_DIRTY 4
#define KPF_WRITEBACK 8

#define MG_PM_SOFT_DIRTY (1ull << 55)

/* A process's soft-dirty epoch (mg_keep_sd_begin); pid 0: empty slot. */
typedef struct sd_proc {
    pid_t pid;
    uint64_t start, epoch;
    unsigned scans; /* since its bits were cleared */
} sd_proc;

struct mg_keep {
    mg_dedupe *cur, *prev; /* prev may be NULL */
    uint64_t pats_id;
    int kpageflags_fd; /* -1: not readable (recent files are not kept) */
    bool sd_ok; /* the kernel keeps soft-dirty bits (probe_soft_dirty) */
    pthread_mutex_t sd_lock; /* the epochs: targets are opened by any worker */
    sd_proc sd[MG_KEEP_SD_PROCS];
    uint64_t sd_next; /* the last epoch given */
};

/* Whether the kernel keeps soft-dirty bits (CONFIG_MEM_SOFT_DIRTY): a page
 * just written in a new mapping is soft-dirty. Without them the bit is
 * never set, and every page would look unwritten. */
static bool probe_soft_dirty(void)
{
    volatile uint8_t *m =
        mmap(NULL, MG_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return false;
    m[0] = 1;
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 &&
              pread(fd, &e, sizeof(e), (off_t)((uintptr_t)m / MG_PAGE_SIZE * sizeof(e))) ==
                  (ssize_t)sizeof(e) &&
              (e & MG_PM_PRESENT) && (e & MG_PM_SOFT_DIRTY);
    if (fd >= 0)
        close(fd);
    munmap((void *)m, MG_PAGE_SIZE);
    return ok;
}

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
    pthread_mutex_init(&k->sd_lock, NULL);
    k->sd_ok = probe_soft_dirty();
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
    pthread_mutex_destroy(&k->sd_lock);
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

/* ---- soft-dirty -------------------------------------------------------- */

/* Clear pid's soft-dirty bits; false if that can't be done. */
static bool clear_soft_dirty(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, "4", 1) == 1;
    close(fd);
    return ok;
}

uint64_t mg_keep_sd_begin(mg_keep *k, pid_t pid, uint64_t start, bool *reuse)
{
    *reuse = false;
    if (!k->sd_ok)
        return 0;
    pthread_mutex_lock(&k->sd_lock);
    size_t h = (size_t)(((uint64_t)pid * 0x9e3779b97f4a7c15ull) >> 40) % MG_KEEP_SD_PROCS;
    sd_proc *e = &k->sd[h]; /* one slot per hash: another process takes it over */
    uint64_t epoch = 0;
    if (e->pid == pid && e->start == start && e->epoch && e->scans < MG_SOFT_DIRTY_SCANS) {
        e->scans++;
        *reuse = true;
        epoch = e->epoch;
    } else if (clear_soft_dirty(pid)) {
        *e = (sd_proc){.pid = pid, .start = start, .epoch = ++k->sd_next, .scans = 1};
        epoch = e->epoch;
    } else
        *e = (sd_proc){0};
    pthread_mutex_unlock(&k->sd_lock);
    return epoch;
}

size_t mg_keep_sd_key(uint64_t *key, pid_t pid, uint64_t start, uint64_t epoch,
                      const mg_dedupe_span *sp, const uint64_t *pm, size_t np)
{
    if (!epoch)
        return 0;
    for (size_t i = 0; i < np; i++) {
        if (pm[i] & MG_PM_SOFT_DIRTY)
            return 0;
        if ((pm[i] & MG_PM_PRESENT) && !(pm[i] & MG_PM_PFN_MASK))
            return 0;
        key[7 + i] = pm[i] & (MG_PM_PRESENT | MG_PM_PFN_MASK);
    }
    /* ~1 can't be a frame key's first word, nor a file key's (~0) */
    key[0] = ~1ull;
    key[1] = (uint64_t)pid;
    key[2] = start;
    key[3] = epoch;
    key[4] = sp->pa;
    key[5] = (sp->ba - sp->pa) | (sp->bb - sp->pa) << 32;
    key[6] = (sp->own_start - sp->pa) | (sp->own_end - sp->pa) << 32;
    return MG_KEEP_SD_KEY_WORDS(np);
}
