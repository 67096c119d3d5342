/* patched.c - patched_code: the present private copies (pagemap: present,
 * not a file page) of a process's executable private file mappings,
 * compared byte for byte with the file they map. The target's pages are
 * read as mg_read_present reads them (present pages only, never faulted
 * in; by process_vm_readv, through mem where shared after fork); the file
 * is read without filling the page cache
 * (O_DIRECT; else a page already cached, RWF_NOWAIT; else a buffered read
 * whose page is dropped again). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "findings/findings.h"
#include "os/reader.h"
#include "os/residency.h"
#include "util.h"

#define MAX_DYNAMIC (64u << 10) /* bytes of PT_DYNAMIC looked at for DT_TEXTREL */

/* A mapping's file, opened twice: O_DIRECT (-1 where the file system
 * refuses it) and buffered. */
typedef struct mapped_file {
    int direct, fd;
    uint64_t size;
    mg_file_read how; /* the most intrusive read so far */
} mapped_file;

/* /proc/PID/map_files/START-END: the inode mapped, whatever its path says
 * now (also when deleted); else PATH under the process's root if it is
 * the same inode. */
static int open_mapped(pid_t pid, const mg_region *r, int flags)
{
    char path[4200];
    snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, r->start,
             r->end);
    int fd = open(path, flags | O_RDONLY | O_CLOEXEC);
    if (fd >= 0 || r->deleted)
        return fd;
    snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, r->path);
    fd = open(path, flags | O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_ino != r->inode)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int file_open(mapped_file *f, pid_t pid, const mg_region *r)
{
    f->how = MG_FILE_READ_DIRECT;
    f->fd = open_mapped(pid, r, 0);
    f->direct = f->fd >= 0 ? open_mapped(pid, r, O_DIRECT) : -1;
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) < 0) {
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        return -1;
    }
    f->size = (uint64_t)st.st_size;
    return 0;
}

static void file_close(mapped_file *f)
{
    if (f->direct >= 0)
        close(f->direct);
    if (f->fd >= 0)
        close(f->fd);
    f->direct = f->fd = -1;
}

/* The page of the file at off (page aligned) into page (aligned), zeros
 * past the end of the file, as a mapping shows it. Returns 0 or -1. */
static int file_page(mapped_file *f, uint64_t off, uint8_t *page)
{
    memset(page, 0, MG_PAGE_SIZE);
    if (off >= f->size)
        return 0;
    size_t want = (size_t)MG_MIN((uint64_t)MG_PAGE_SIZE, f->size - off);
    ssize_t got = f->direct >= 0 ? pread(f->direct, page, MG_PAGE_SIZE, (off_t)off) : -1;
    if (got >= (ssize_t)want)
        return 0;
    if (f->direct >= 0) { /* refused or short: not again */
        close(f->direct);
        f->direct = -1;
    }
    struct iovec iov = {page, want};
    got = preadv2(f->fd, &iov, 1, (off_t)off, RWF_NOWAIT);
    if (got == (ssize_t)want) {
        f->how = MG_MAX(f->how, MG_FILE_READ_CACHED);
        return 0;
    }
    /* not cached: brought in by us, so dropped again */
    got = pread(f->fd, page, want, (off_t)off);
    posix_fadvise(f->fd, (off_t)off, MG_PAGE_SIZE, POSIX_FADV_DONTNEED);
    f->how = MG_FILE_READ_BUFFERED;
    return got == (ssize_t)want ? 0 : -1;
}

/* len bytes of the file at off, a page at a time. */
static int file_bytes(mapped_file *f, uint64_t off, size_t len, uint8_t *dst, uint8_t *page)
{
    for (size_t done = 0; done < len;) {
        uint64_t at = off + done, base = at / MG_PAGE_SIZE * MG_PAGE_SIZE;
        if (file_page(f, base, page) < 0)
            return -1;
        size_t k = MG_MIN(len - done, (size_t)(base + MG_PAGE_SIZE - at));
        memcpy(dst + done, page + (at - base), k);
        done += k;
    }
    return 0;
}

/* Whether the ELF file asks the loader to write its text (DT_TEXTREL, or
 * DF_TEXTREL in DT_FLAGS): 64-bit little-endian ELF only. */
static bool has_textrel(mapped_file *f, uint8_t *page)
{
    Elf64_Ehdr eh;
    if (file_bytes(f, 0, sizeof(eh), (uint8_t *)&eh, page) < 0 ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr))
        return false;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (file_bytes(f, eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph), (uint8_t *)&ph, page) <
            0)
            return false;
        if (ph.p_type != PT_DYNAMIC)
            continue;
        size_t len = (size_t)MG_MIN(ph.p_filesz, (uint64_t)MAX_DYNAMIC);
        Elf64_Dyn *dyn = malloc(MG_MAX(len, (size_t)1));
        bool textrel = false;
        if (dyn && file_bytes(f, ph.p_offset, len, (uint8_t *)dyn, page) == 0)
            for (size_t j = 0; j < len / sizeof(*dyn) && dyn[j].d_tag != DT_NULL; j++)
                textrel |= dyn[j].d_tag == DT_TEXTREL ||
                           (dyn[j].d_tag == DT_FLAGS && (dyn[j].d_un.d_val & DF_TEXTREL));
        free(dyn);
        return textrel;
    }
    return false;
}

int mg_copies_add(mg_copies *c, uint64_t start, uint64_t end)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        void *p = realloc(c->runs, cap * sizeof(*c->runs));
        if (!p)
            return -ENOMEM;
        c->runs = p;
        c->cap = cap;
    }
    c->runs[c->n][0] = start;
    c->runs[c->n][1] = end;
    c->n++;
    return 0;
}

void mg_copies_free(mg_copies *c)
{
    free(c->runs);
    *c = (mg_copies){0};
}

/* Runs of present pages that are not file pages: private copies. */
static int add_copy(void *ctx, uint64_t start, uint64_t end, bool file)
{
    return file ? 0 : mg_copies_add(ctx, start, end);
}

/* Record the bytes of one page that differ: runs joined across pages. */
static int add_diffs(mg_patched *out, const mg_region *r, uint64_t addr, const uint8_t *mem,
                     const uint8_t *file)
{
    for (size_t i = 0, j; i < MG_PAGE_SIZE; i = j) {
        for (; i < MG_PAGE_SIZE && mem[i] == file[i]; i++)
            ;
        for (j = i; j < MG_PAGE_SIZE && mem[j] != file[j]; j++)
            ;
        if (i == j)
            break;
        mg_patch *last = out->n_patches ? &out->patches[out->n_patches - 1] : NULL;
        if (last && last->end == addr + i && last->path == r->path) {
            last->end = addr + j;
            continue;
        }
        out->patches_total++;
        if (out->n_patches == MG_MAX_PATCHES)
            continue;
        out->patches[out->n_patches++] = (mg_patch){
            .start = addr + i,
            .end = addr + j,
            .offset = r->offset + (addr - r->start) + i,
            .path = r->path,
        };
    }
    return 0;
}

/* How the target's pages are read: its pagemap and mem, a reader for mem. */
typedef struct target_pages {
    pid_t pid;
    int pm, mem;
    mg_reader rd;
} target_pages;

/* The target's page at a into buf if pagemap shows it present still: 1
 * read, 0 not (absent, or shared after fork and no mem to read it
 * through), or a negative code with err filled. */
static int target_page(target_pages *t, uint64_t a, uint8_t *buf, mg_error *err)
{
    uint64_t ent;
    int rc = mg_pagemap_read(t->pm, a, 1, &ent);
    if (rc < 0) {
        rc = mg_api_code(rc);
        return mg_fail(err, rc, "read /proc/%d/pagemap at 0x%" PRIx64 ": %s", (int)t->pid, a,
                       mg_strerror(rc));
    }
    mg_read_op op = {.addr = a, .len = MG_PAGE_SIZE, .dst = buf};
    mg_page_class k = mg_page_classify(ent, false);
    if (k == MG_PAGE_PVR)
        rc = mg_read_pvr(t->pid, &op, 1);
    else if (k == MG_PAGE_MEM && t->mem >= 0)
        rc = mg_read_mem(&t->rd, t->mem, &op, 1);
    else
        return 0;
    if (rc < 0) {
        rc = mg_api_code(rc);
        return mg_fail(err, rc, "read the memory of process %d at 0x%" PRIx64 ": %s", (int)t->pid,
                       a, mg_strerror(rc));
    }
    return op.got == MG_PAGE_SIZE;
}

/* The copies of one mapping against its file: *differ set if a byte does. */
static int compare_region(target_pages *t, const mg_region *r, const uint64_t (*runs)[2],
                          size_t n_runs, mg_patched *out, uint8_t *bufs, bool *differ,
                          mg_error *err)
{
    mapped_file f;
    if (file_open(&f, t->pid, r) < 0)
        return 0; /* its file cannot be opened: nothing to compare with */
    int rc = 0;
    size_t before = out->patches_total;
    for (size_t i = 0; rc == 0 && i < n_runs; i++)
        for (uint64_t a = runs[i][0]; rc == 0 && a < runs[i][1]; a += MG_PAGE_SIZE) {
            int got = target_page(t, a, bufs, err);
            if (got < 0)
                rc = got;
            else if (got && file_page(&f, r->offset + (a - r->start), bufs + MG_PAGE_SIZE) == 0)
                rc = add_diffs(out, r, a, bufs, bufs + MG_PAGE_SIZE);
        }
    *differ = out->patches_total > before;
    if (*differ) {
        out->textrel |= has_textrel(&f, bufs);
        out->how = MG_MAX(out->how, f.how);
        for (size_t i = 0; i < n_runs; i++)
            out->bytes += runs[i][1] - runs[i][0];
    }
    file_close(&f);
    return rc;
}

bool mg_private_code(const mg_region *r)
{
    return r->kind == MG_REGION_FILE && r->perms[0] == 'r' && r->perms[2] == 'x' &&
           r->perms[3] == 'p';
}

/* The copies of region r: from walked (in address order, *next the first
 * run not yet taken), or walked here into *c. */
static int copies_of(pid_t pid, int pm, const mg_region *r, const mg_copies *walked, size_t *next,
                     bool *use_ioctl, mg_copies *c, const uint64_t (**runs)[2], size_t *n_runs,
                     mg_error *err)
{
    if (walked) {
        while (*next < walked->n && walked->runs[*next][1] <= r->start)
            ++*next;
        size_t first = *next;
        while (*next < walked->n && walked->runs[*next][0] < r->end)
            ++*next;
        *n_runs = *next - first;
        *runs = *n_runs ? (const uint64_t(*)[2])walked->runs + first : NULL;
        return 0;
    }
    c->n = 0;
    int rc = mg_present_ranges(pm, r->start, r->end, use_ioctl, false, add_copy, c);
    if (rc < 0) {
        rc = mg_api_code(rc);
        return mg_fail(err, rc, "read /proc/%d/pagemap at 0x%" PRIx64 ": %s", (int)pid, r->start,
                       mg_strerror(rc));
    }
    *runs = (const uint64_t(*)[2])c->runs;
    *n_runs = c->n;
    return 0;
}

int mg_patched_find(pid_t pid, const mg_region *rs, size_t n, int pagemap_fd, int mem_fd,
                    const mg_copies *walked, mg_patched *out, mg_error *err)
{
    *out = (mg_patched){0};
    target_pages t = {.pid = pid, .pm = pagemap_fd, .mem = mem_fd};
    mg_reader_init(&t.rd, MG_MEM_READER_PREAD);
    uint8_t *bufs = NULL;
    int rc = 0;
    bool use_ioctl = true;
    mg_copies c = {0};
    size_t next = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const mg_region *r = &rs[i];
        const uint64_t(*runs)[2] = NULL;
        size_t n_runs = 0;
        if (!mg_private_code(r) ||
            (rc = copies_of(pid, pagemap_fd, r, walked, &next, &use_ioctl, &c, &runs, &n_runs,
                            err)) < 0 ||
            !n_runs)
            continue;
        /* buffers only for a process that has copies */
        if (!out->patches) {
            out->patches = malloc(MG_MAX_PATCHES * sizeof(*out->patches));
            bufs = aligned_alloc(MG_PAGE_SIZE, 2 * MG_PAGE_SIZE);
            if (!out->patches || !bufs) {
                rc = mg_fail(err, -ENOMEM, "out of memory");
                break;
            }
        }
        bool differ = false;
        if ((rc = compare_region(&t, r, runs, n_runs, out, bufs, &differ, err)) == 0 && differ &&
            !out->regions++)
            out->first = *r;
    }
    mg_copies_free(&c);
    mg_reader_fini(&t.rd);
    free(bufs);
    if (rc < 0)
        mg_patched_free(out);
    return rc;
}

void mg_patched_free(mg_patched *p)
{
    free(p->patches);
    *p = (mg_patched){0};
}
