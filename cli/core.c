/* core.c - an ELF core file of a process's present pages (core.h). The
 * notes follow the kernel's own core dumps (fs/binfmt_elf.c), so gdb
 * reads the file as it reads a core the kernel wrote. */
#include "core.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <unistd.h>

#if defined(__x86_64__)
#define CORE_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define CORE_MACHINE EM_AARCH64
#else
#error "dump --core: no ELF machine for this architecture"
#endif

/* /proc/PID/auxv is far smaller. */
#define AUXV_MAX 4096

/* The notes, as they are built. */
typedef struct note_buf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
} note_buf;

static void put(note_buf *b, const void *data, size_t n)
{
    size_t padded = (n + 3) & ~(size_t)3;
    if (b->failed)
        return;
    if (b->len + padded > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + padded)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    memset(b->p + b->len + n, 0, padded - n);
    b->len += padded;
}

/* One note: header, "CORE" name, descriptor, each padded to 4 bytes. */
static void note(note_buf *b, uint32_t type, const void *desc, size_t n)
{
    Elf64_Nhdr h = {.n_namesz = 5, .n_descsz = (Elf64_Word)n, .n_type = type};
    put(b, &h, sizeof h);
    put(b, "CORE", 5);
    put(b, desc, n);
}

/* NT_FILE: count, page size, {start, end, offset in pages} per file
 * mapping, then their names, each NUL-terminated. */
static void note_file(note_buf *b, const mg_region_info *list, size_t n)
{
    uint64_t count = 0, page = mg_page_size();
    size_t names = 0;
    for (size_t i = 0; i < n; i++)
        if (list[i].region.path[0] == '/') {
            count++;
            names += strlen(list[i].region.path) + 1;
        }
    size_t len = (2 + 3 * count) * sizeof(uint64_t) + names;
    uint8_t *d = malloc(len);
    if (!d) {
        b->failed = true;
        return;
    }
    uint64_t *w = (uint64_t *)d;
    *w++ = count;
    *w++ = page;
    char *s = (char *)(d + (2 + 3 * count) * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) {
        const mg_region *r = &list[i].region;
        if (r->path[0] != '/')
            continue;
        *w++ = r->start;
        *w++ = r->end;
        *w++ = r->offset / page;
        size_t l = strlen(r->path) + 1;
        memcpy(s, r->path, l);
        s += l;
    }
    note(b, NT_FILE, d, len);
    free(d);
}

/* NT_AUXV: the process's auxiliary vector, as the kernel keeps it (not
 * read from the process's memory). gdb finds a PIE's load address in it
 * (AT_ENTRY, AT_PHDR). Left out if it cannot be read. */
static void note_auxv(note_buf *b, pid_t pid)
{
    char path[64];
    uint8_t auxv[AUXV_MAX];
    snprintf(path, sizeof path, "/proc/%d/auxv", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t got = read(fd, auxv, sizeof auxv);
    close(fd);
    if (got > 0)
        note(b, NT_AUXV, auxv, (size_t)got);
}

int cli_core_notes(const mg_proc_info *proc, const mg_region_info *list, size_t n, uint8_t **out,
                   size_t *len)
{
    note_buf b = {0};
    struct elf_prstatus st;
    memset(&st, 0, sizeof st);
    st.pr_pid = proc->pid;
    st.pr_ppid = proc->ppid;
    note(&b, NT_PRSTATUS, &st, sizeof st);
    struct elf_prpsinfo ps;
    memset(&ps, 0, sizeof ps);
    ps.pr_state = 0;
    ps.pr_sname = proc->state;
    ps.pr_zomb = proc->state == 'Z';
    ps.pr_uid = proc->uid;
    ps.pr_pid = proc->pid;
    ps.pr_ppid = proc->ppid;
    snprintf(ps.pr_fname, sizeof ps.pr_fname, "%s", proc->comm);
    snprintf(ps.pr_psargs, sizeof ps.pr_psargs, "%s", proc->cmdline);
    note(&b, NT_PRPSINFO, &ps, sizeof ps);
    note_auxv(&b, proc->pid);
    note_file(&b, list, n);
    if (b.failed) {
        free(b.p);
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

uint64_t cli_core_data_offset(size_t notes_len)
{
    uint64_t page = mg_page_size();
    return (sizeof(Elf64_Ehdr) + notes_len + page - 1) / page * page;
}

static int write_all(int fd, const char *name, const void *data, size_t n, uint64_t off)
{
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fd, (const uint8_t *)data + done, n - done, (off_t)(off + done));
        if (w < 0) {
            fprintf(stderr, "memgrep: write error on %s: %s\n", name, strerror(errno));
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

static Elf64_Word segment_flags(const char *perms)
{
    return (perms[0] == 'r' ? PF_R : 0) | (perms[1] == 'w' ? PF_W : 0) |
           (perms[2] == 'x' ? PF_X : 0);
}

int cli_core_finish(int fd, const char *name, const uint8_t *notes, size_t notes_len,
                    const cli_core_load *loads, size_t n, uint64_t phoff)
{
    size_t phnum = n + 1;
    Elf64_Ehdr eh = {
        .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT,
                    ELFOSABI_NONE},
        .e_type = ET_CORE,
        .e_machine = CORE_MACHINE,
        .e_version = EV_CURRENT,
        .e_phoff = phoff,
        .e_ehsize = sizeof(Elf64_Ehdr),
        .e_phentsize = sizeof(Elf64_Phdr),
        .e_phnum = phnum < PN_XNUM ? (Elf64_Half)phnum : PN_XNUM,
    };
    Elf64_Phdr *ph = calloc(phnum, sizeof(*ph));
    if (!ph) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    ph[0] = (Elf64_Phdr){
        .p_type = PT_NOTE, .p_offset = sizeof(Elf64_Ehdr), .p_filesz = notes_len, .p_align = 4};
    for (size_t i = 0; i < n; i++)
        ph[i + 1] = (Elf64_Phdr){
            .p_type = PT_LOAD,
            .p_flags = segment_flags(loads[i].perms),
            .p_offset = loads[i].offset,
            .p_vaddr = loads[i].vaddr,
            .p_filesz = loads[i].size,
            .p_memsz = loads[i].size,
            .p_align = mg_page_size(),
        };
    int rc = write_all(fd, name, ph, phnum * sizeof(*ph), phoff);
    free(ph);
    /* PN_XNUM program headers and more: the count is sh_info of section 0 */
    if (!rc && phnum >= PN_XNUM) {
        Elf64_Shdr sh = {.sh_type = SHT_NULL, .sh_size = 1, .sh_info = (Elf64_Word)phnum};
        eh.e_shoff = phoff + phnum * sizeof(Elf64_Phdr);
        eh.e_shentsize = sizeof(Elf64_Shdr);
        eh.e_shnum = 1;
        rc = write_all(fd, name, &sh, sizeof sh, eh.e_shoff);
    }
    if (!rc)
        rc = write_all(fd, name, &eh, sizeof eh, 0);
    if (!rc)
        rc = write_all(fd, name, notes, notes_len, sizeof eh);
    return rc;
}
