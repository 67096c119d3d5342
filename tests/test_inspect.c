/* test_inspect.c - the "Inspecting processes" API against a live fixture:
 * identity of processes (checked against /proc read here), regions against
 * /proc/PID/maps and smaps, and mg_read_present against planted markers and
 * pagemap, including the rule that shared anon pages stay shared. Tests that
 * read the fixture's memory need root. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "os/procs.h"

#define PAGE 4096u

static fixture fx;

static void stop(void)
{
    fixture_stop(&fx);
}

TestSuite(inspect, .fini = stop, .timeout = 100);

/* ---- /proc, read here independently of the engine ---- */

/* Whole file, NUL-terminated; *len without the NUL. Fails the test. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static char *proc_text(pid_t pid, const char *file, size_t *len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    return slurp(path, len);
}

/* Field 22 of /proc/PID/stat (after the last ')': field 3 is the first). */
static unsigned long long stat_field(pid_t pid, int field)
{
    char *s = proc_text(pid, "stat", NULL);
    char *p = strrchr(s, ')');
    cr_assert(p);
    p += 2;
    for (int f = 3; f < field; f++) {
        p = strchr(p, ' ');
        cr_assert(p);
        p++;
    }
    unsigned long long v = strtoull(p, NULL, 10);
    free(s);
    return v;
}

/* PF_KTHREAD in the flags (field 9) of /proc/PID/stat; -1 if it is gone. */
static int is_kthread(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long flags = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
        return -1;
    return (flags & 0x00200000ul) != 0;
}

static char stat_state(pid_t pid)
{
    char *s = proc_text(pid, "stat", NULL);
    char c = strrchr(s, ')')[2];
    free(s);
    return c;
}

/* The "0::" line's path of /proc/PID/cgroup ("" if none). */
static char *cgroup_v2(pid_t pid)
{
    char *s = proc_text(pid, "cgroup", NULL), *line, *save = NULL;
    char *out = strdup("");
    for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (!strncmp(line, "0::", 3)) {
            free(out);
            out = strdup(line + 3);
        }
    free(s);
    return out;
}

static uint64_t pagemap_entry(pid_t pid, uint64_t addr)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    uint64_t e = 0;
    cr_assert_eq(pread(fd, &e, 8, (off_t)(addr / PAGE * 8)), 8);
    close(fd);
    return e;
}

#define PM_PRESENT (1ull << 63)
#define PM_EXCLUSIVE (1ull << 56)

/* One line of /proc/PID/maps, parsed here. */
typedef struct map_line {
    uint64_t start, end, offset, inode;
    unsigned maj, min;
    char perms[5];
    char path[PATH_MAX + 16];
} map_line;

static size_t read_maps(pid_t pid, map_line *out, size_t max)
{
    char *s = proc_text(pid, "maps", NULL), *line, *save = NULL;
    size_t n = 0;
    for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cr_assert_lt(n, max);
        map_line *m = &out[n++];
        int used = 0;
        cr_assert_eq(sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 "%n",
                            &m->start, &m->end, m->perms, &m->offset, &m->maj, &m->min, &m->inode,
                            &used),
                     7, "bad maps line %s", line);
        const char *p = line + used;
        while (*p == ' ')
            p++;
        snprintf(m->path, sizeof m->path, "%s", p);
    }
    free(s);
    return n;
}

/* Rss (kB) of each region of /proc/PID/smaps, by start address. */
static size_t read_smaps_rss(pid_t pid, uint64_t *start, long *rss_kb, size_t max)
{
    char *s = proc_text(pid, "smaps", NULL), *line, *save = NULL;
    size_t n = 0;
    for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        uint64_t a, b;
        long kb;
        char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
        if (dash && sp && dash < sp && sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &a, &b) == 2) {
            cr_assert_lt(n, max);
            start[n] = a;
            rss_kb[n++] = -1;
        } else if (n && sscanf(line, "Rss: %ld kB", &kb) == 1) {
            rss_kb[n - 1] = kb;
        }
    }
    free(s);
    return n;
}

/* The fixture's first thread that is not its main thread. */
static pid_t other_thread(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    cr_assert(d);
    struct dirent *de;
    pid_t tid = 0;
    while ((de = readdir(d)))
        if (atoi(de->d_name) > 0 && atoi(de->d_name) != pid)
            tid = atoi(de->d_name);
    closedir(d);
    cr_assert_gt(tid, 0, "fixture %d has no second thread", (int)pid);
    return tid;
}

static const mg_proc_info *find_proc(const mg_proc_info *l, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (l[i].pid == pid)
            return &l[i];
    return NULL;
}

/* The region of the fixture whose path is `path`. */
static map_line find_map(pid_t pid, const char *path)
{
    static map_line m[1024];
    size_t n = read_maps(pid, m, 1024);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].path, path))
            return m[i];
    cr_skip_test("no %s mapping in process %d", path, (int)pid);
}

/* ---- processes ---- */

static void check_fixture_info(const mg_proc_info *p)
{
    char comm[64], exe[PATH_MAX], want_cmd[PATH_MAX + 64];
    char *c = proc_text(fx.pid, "comm", NULL);
    snprintf(comm, sizeof comm, "%.*s", (int)strcspn(c, "\n"), c);
    free(c);
    cr_assert_str_eq(p->comm, comm);
    cr_assert_str_eq(p->comm, "fixture");

    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)fx.pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    cr_assert_gt(n, 0);
    exe[n] = '\0';
    cr_assert_str_eq(p->exe, exe);
    char *real = realpath(getenv("MG_FIXTURE"), NULL);
    cr_assert_str_eq(p->exe, real, "exe %s, fixture is %s", p->exe, real);
    free(real);

    cr_assert_eq(p->starttime, stat_field(fx.pid, 22));
    cr_assert_eq(p->ppid, getpid());
    cr_assert_eq(p->uid, getuid());
    cr_assert_eq(p->euid, geteuid());
    char *cg = cgroup_v2(fx.pid);
    if (*cg) {
        cr_assert_str_eq(p->cgroup, cg);
        char *mine = cgroup_v2(getpid());
        cr_assert_str_eq(p->cgroup, mine, "a child not in its parent's cgroup?");
        free(mine);
    } else {
        cr_assert_neq(p->cgroup[0], '\0', "v1-only host: no cgroup path found");
    }
    free(cg);
    snprintf(want_cmd, sizeof want_cmd, "%s --token %s", getenv("MG_FIXTURE"), fx.token);
    cr_assert_str_eq(p->cmdline, want_cmd);
    /* a live fixture is sleeping or, for a moment now and then, running:
     * the state read by mg_proc_get is one of the states the kernel shows */
    char now = stat_state(fx.pid);
    cr_assert(p->state == now || (strchr("RS", p->state) && strchr("RS", now)),
              "state %c, /proc says %c", p->state, now);
    cr_assert_eq(p->flags, 0u);
    cr_assert_eq(p->rss, (uint64_t)proc_kb(fx.pid, "status", "VmRSS") * 1024u);
}

Test(inspect, proc_list_has_the_fixture)
{
    fixture_start(&fx, NULL);
    mg_proc_info *l = NULL;
    size_t n = 0;
    mg_error err = {{0}};
    int rc = mg_proc_list(&l, &n, &err);
    cr_assert_eq(rc, 0, "mg_proc_list: %d %s", rc, err.message);
    cr_assert_gt(n, 2u);
    for (size_t i = 1; i < n; i++)
        cr_assert_lt(l[i - 1].pid, l[i].pid, "not ascending at %zu", i);
    const mg_proc_info *p = find_proc(l, n, fx.pid);
    cr_assert(p, "fixture %d not listed", (int)fx.pid);
    check_fixture_info(p);

    const mg_proc_info *self = find_proc(l, n, getpid());
    cr_assert(self, "memgrep itself not listed");
    cr_assert_eq(self->flags, (unsigned)MG_PROC_SELF);
    /* threads are not processes */
    cr_assert_null(find_proc(l, n, other_thread(fx.pid)));
    /* kernel threads: flagged, no exe, no command line */
    size_t kthreads = 0;
    for (size_t i = 0; i < n; i++) {
        int kt = is_kthread(l[i].pid);
        if (kt < 0)
            continue; /* gone since */
        cr_assert_eq((l[i].flags & MG_PROC_KTHREAD) != 0, kt, "pid %d", (int)l[i].pid);
        if (kt) {
            kthreads++;
            cr_assert_str_empty(l[i].exe);
            cr_assert_str_empty(l[i].cmdline);
        }
    }
    cr_log_info("%zu processes, %zu kernel threads", n, kthreads);
    mg_proc_info_free(&l);
    cr_assert_null(l);
}

/* mg_pids_list: the same listing without the files (watch polls it). */
Test(inspect, pids_list_has_the_fixture_not_its_thread)
{
    fixture_start(&fx, NULL);
    pid_t *l = NULL;
    size_t n = 0;
    cr_assert_eq(mg_pids_list(&l, &n), 0);
    cr_assert_gt(n, 2u);
    bool has_fx = false, self = false, thread = false;
    pid_t tid = other_thread(fx.pid);
    for (size_t i = 0; i < n; i++) {
        cr_assert(i == 0 || l[i - 1] < l[i], "not ascending at %zu", i);
        has_fx |= l[i] == fx.pid;
        self |= l[i] == getpid();
        thread |= l[i] == tid;
    }
    cr_assert(has_fx, "fixture %d not listed", (int)fx.pid);
    cr_assert(self, "memgrep itself not listed");
    cr_assert_not(thread, "thread %d listed as a process", (int)tid);
    mg_pids_free(&l);
    cr_assert_null(l);
}

Test(inspect, proc_get_by_pid_and_thread_id)
{
    fixture_start(&fx, NULL);
    mg_proc_info *p = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_proc_get(fx.pid, &p, &err), 0, "%s", err.message);
    check_fixture_info(p);
    mg_proc_info_free(&p);

    pid_t tid = other_thread(fx.pid);
    cr_assert_eq(mg_proc_get(tid, &p, &err), 0, "%s", err.message);
    cr_assert_eq(p->pid, fx.pid, "thread %d gave pid %d", (int)tid, (int)p->pid);
    check_fixture_info(p);
    mg_proc_info_free(&p);

    cr_assert_eq(mg_proc_get(getpid(), &p, &err), 0);
    cr_assert_eq(p->flags, (unsigned)MG_PROC_SELF);
    mg_proc_info_free(&p);

    pid_t dead = dead_pid();
    cr_assert_eq(mg_proc_get(dead, &p, &err), MG_EBADPID);
    cr_assert_null(p);
    cr_assert(strstr(err.message, "no such process"), "%s", err.message);
    cr_assert_eq(mg_proc_get(0, &p, &err), MG_EBADPID);
    cr_assert_eq(mg_proc_get(-5, &p, &err), MG_EBADPID);
}

/* Not-present pages of [start, end) in pid's pagemap. */
static size_t absent_pages(pid_t pid, unsigned long long start, unsigned long long end)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    size_t absent = 0;
    for (unsigned long long a = start & ~4095ull; a < end; a += 4096) {
        uint64_t e = 0;
        cr_assert_eq(pread(fd, &e, sizeof e, (off_t)(a / 4096 * sizeof e)), (ssize_t)sizeof e);
        absent += !(e >> 63);
    }
    close(fd);
    return absent;
}

/* The kernel serves /proc/PID/cmdline by faulting the argument pages in:
 * with some of them not present (the fixture discarded the whole pages of
 * three pages of padding), mg_proc_get gives no command line and they stay
 * absent. */
Test(inspect, cmdline_pages_not_faulted_in)
{
    char pad[3 * 4096 + 100];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    fixture_start(&fx, (const char *[]){"--drop-args", pad, NULL});
    unsigned long long a = stat_field(fx.pid, 48), b = stat_field(fx.pid, 49);
    size_t before = absent_pages(fx.pid, a, b);
    cr_assert_geq(before, 2u, "%zu of the argument pages absent", before);
    mg_proc_info *p = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_proc_get(fx.pid, &p, &err), 0, "%s", err.message);
    cr_assert_str_empty(p->cmdline);
    cr_assert_str_eq(p->comm, "fixture");
    mg_proc_info_free(&p);
    cr_assert_eq(absent_pages(fx.pid, a, b), before, "argument pages faulted in");
}

Test(inspect, zombie_is_flagged_and_not_read)
{
    pid_t z = fork();
    cr_assert_geq(z, 0);
    if (z == 0)
        _exit(0);
    for (int i = 0; i < 2000 && stat_state(z) != 'Z'; i++)
        usleep(1000);
    cr_assert_eq(stat_state(z), 'Z');
    mg_proc_info *p = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_proc_get(z, &p, &err), 0, "%s", err.message);
    cr_assert_eq(p->flags, (unsigned)MG_PROC_ZOMBIE);
    cr_assert_eq(p->state, 'Z');
    cr_assert_str_empty(p->cmdline);
    mg_proc_info_free(&p);

    mg_region_info *r = NULL;
    size_t n = 7;
    cr_assert_eq(mg_regions_get(z, 0, &r, &n, &err), -ESRCH, "%s", err.message);
    cr_assert_null(r);
    cr_assert_eq(n, 0u);
    uint8_t buf[PAGE];
    cr_assert_eq(mg_read_present(z, 0x400000, PAGE, buf, NULL, &err), -ESRCH, "%s", err.message);
    waitpid(z, NULL, 0);
}

/* ---- regions ---- */

Test(inspect, regions_equal_maps)
{
    fixture_start(&fx, NULL);
    mg_region_info *r = NULL;
    size_t n = 0;
    mg_error err = {{0}};
    cr_assert_eq(mg_regions_get(fx.pid, MG_REGIONS_NO_RESIDENT, &r, &n, &err), 0, "%s",
                 err.message);
    static map_line m[1024];
    size_t nm = read_maps(fx.pid, m, 1024);
    cr_assert_eq(n, nm, "%zu regions, %zu maps lines", n, nm);
    size_t deleted = 0;
    for (size_t i = 0; i < n; i++) {
        const mg_region *g = &r[i].region;
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s%s", g->path, g->deleted ? " (deleted)" : "");
        deleted += g->deleted;
        cr_assert(g->start == m[i].start && g->end == m[i].end && g->offset == m[i].offset &&
                      g->inode == m[i].inode && g->dev_major == m[i].maj &&
                      g->dev_minor == m[i].min && !strcmp(g->perms, m[i].perms) &&
                      !strcmp(path, m[i].path),
                  "line %zu: %" PRIx64 "-%" PRIx64 " %s %s vs %" PRIx64 "-%" PRIx64 " %s %s", i,
                  g->start, g->end, g->perms, path, m[i].start, m[i].end, m[i].perms, m[i].path);
        cr_assert_eq(r[i].resident, 0u);
        bool special = g->kind == MG_REGION_SPECIAL || g->kind == MG_REGION_DEVICE;
        cr_assert_eq(r[i].scannable, !special && g->perms[0] == 'r', "line %zu %s", i, path);
        if (!strcmp(g->path, "[vvar]"))
            cr_assert_not(r[i].scannable);
    }
    cr_assert_geq(deleted, 1u, "the fixture's unlinked file mapping is not marked deleted");
    mg_regions_free(&r);
    cr_assert_null(r);
    mg_regions_free(&r);
    mg_regions_free(NULL);
}

/* Resident bytes of every region equal smaps Rss (the fixture is idle and
 * maps no zero page or hugetlb). */
static void resident_case(unsigned flags)
{
    fixture_start(&fx, NULL);
    mg_region_info *r = NULL;
    size_t n = 0;
    mg_error err = {{0}};
    cr_assert_eq(mg_regions_get(fx.pid, flags, &r, &n, &err), 0, "%s", err.message);
    static uint64_t start[1024];
    static long rss[1024];
    size_t ns = read_smaps_rss(fx.pid, start, rss, 1024);
    cr_assert_eq(n, ns);
    uint64_t total = 0, big = fixture_info(&fx, "big", NULL);
    bool saw_big = false, saw_vdso = false;
    for (size_t i = 0; i < n; i++) {
        const mg_region *g = &r[i].region;
        cr_assert_eq(g->start, start[i]);
        cr_assert_geq(rss[i], 0, "no Rss line for %" PRIx64, start[i]);
        if (g->kind == MG_REGION_DEVICE) {
            cr_assert_eq(r[i].resident, 0u, "%s", g->path);
            continue;
        }
        /* special regions too: [vdso]'s page as smaps, [vvar] and [vsyscall] 0 */
        saw_vdso |= !strcmp(g->path, "[vdso]") && r[i].resident > 0;
        cr_assert_eq(r[i].resident, (uint64_t)rss[i] * 1024u,
                     "region %" PRIx64 "-%" PRIx64 " %s %s: resident %" PRIu64 " kB, Rss %ld kB",
                     g->start, g->end, g->perms, g->path, r[i].resident / 1024, rss[i]);
        total += r[i].resident;
        if (g->start == big) {
            saw_big = true;
            /* 80 MiB with a few planted pages: mostly not resident */
            cr_assert_gt(r[i].resident, 0u);
            cr_assert_lt(r[i].resident, (g->end - g->start) / 8);
        }
    }
    cr_assert(saw_big, "no region starts at the big plant region");
    cr_assert(saw_vdso, "no [vdso] with a resident page (smaps shows one)");
    cr_assert_gt(total, 4u << 20, "the fixture has the 4 MiB THP region resident");
    mg_regions_free(&r);
}

Test(inspect, resident_equals_smaps_rss_ioctl)
{
    resident_case(0);
}

Test(inspect, resident_equals_smaps_rss_pagemap_entries)
{
    resident_case(MG_REGIONS_PAGEMAP);
}

Test(inspect, regions_refusals)
{
    mg_region_info *r = (mg_region_info *)&r;
    size_t n = 5;
    mg_error err = {{0}};
    cr_assert_eq(mg_regions_get(getpid(), 0, &r, &n, &err), MG_EBADPID);
    cr_assert_null(r);
    cr_assert_eq(n, 0u);
    cr_assert(strstr(err.message, "itself"), "%s", err.message);
    cr_assert_eq(mg_regions_get(dead_pid(), 0, &r, &n, &err), MG_EBADPID);
    /* a kernel thread has no user memory */
    mg_proc_info *l = NULL;
    size_t np = 0;
    cr_assert_eq(mg_proc_list(&l, &np, &err), 0);
    pid_t kt = 0;
    for (size_t i = 0; i < np && !kt; i++)
        if (l[i].flags & MG_PROC_KTHREAD)
            kt = l[i].pid;
    mg_proc_info_free(&l);
    if (kt) {
        cr_assert_eq(mg_regions_get(kt, 0, &r, &n, &err), MG_EBADPID, "%s", err.message);
        cr_assert(strstr(err.message, "kernel thread"), "%s", err.message);
    } else {
        cr_log_info("no kernel thread visible: not checked");
    }
    fixture_start(&fx, NULL);
    cr_assert_eq(mg_regions_get(fx.pid, 1u << 7, &r, &n, &err), -EINVAL);
    cr_assert(strstr(err.message, "flags"), "%s", err.message);
}

/* ---- reading present pages ---- */

/* Read the pages around each plain plant: the marker is at its address. */
Test(inspect, read_present_returns_planted_markers)
{
    need_root();
    fixture_start(&fx, NULL);
    size_t checked = 0;
    for (size_t i = 0; i < fx.n_plants; i++) {
        const plant *pl = &fx.plants[i];
        if (strcmp(pl->kind, "plain"))
            continue;
        uint64_t a = pl->addr & ~(uint64_t)(PAGE - 1);
        uint64_t e = (pl->addr + pl->len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        size_t len = (size_t)(e - a), np = len / PAGE;
        uint8_t *buf = malloc(len), present[4];
        cr_assert_leq(np, 4u);
        mg_error err = {{0}};
        ssize_t got = mg_read_present(fx.pid, a, len, buf, present, &err);
        cr_assert_eq(got, (ssize_t)len, "plant %s at 0x%" PRIx64 ": %zd %s", pl->name, pl->addr,
                     got, err.message);
        for (size_t k = 0; k < np; k++)
            cr_assert_eq(present[k], 1);
        char *marker = fixture_marker(&fx, pl->name);
        cr_assert_eq(memcmp(buf + (pl->addr - a), marker, pl->len), 0, "plant %s at 0x%" PRIx64,
                     pl->name, pl->addr);
        /* the same bytes as /proc/PID/mem (the plant's: the rest of a live
         * page, a stack's say, may change between the two reads) */
        uint8_t *ref = malloc(len);
        size_t off = (size_t)(pl->addr - a);
        cr_assert_eq(read_mem(fx.pid, a, ref, len), (ssize_t)len);
        cr_assert_eq(memcmp(buf + off, ref + off, pl->len), 0);
        /* a thread id reads its process */
        if (checked == 0) {
            memset(buf, 0xee, len);
            cr_assert_eq(mg_read_present(other_thread(fx.pid), a, len, buf, NULL, &err),
                         (ssize_t)len, "%s", err.message);
            cr_assert_eq(memcmp(buf + off, ref + off, pl->len), 0);
        }
        free(ref);
        free(marker);
        free(buf);
        checked++;
    }
    cr_assert_geq(checked, 10u);
}

/* The first 256 KiB of the big region: only the pages with plants are
 * present; the others are neither read nor faulted in. */
Test(inspect, read_present_leaves_absent_pages_zero)
{
    need_root();
    const char *args[] = {"--reserve", NULL};
    fixture_start(&fx, args);
    uint64_t big = fixture_info(&fx, "big", NULL);
    cr_assert_neq(big, 0u);
    enum {
        NP = 64
    };
    size_t len = NP * PAGE;
    uint8_t *buf = malloc(len), *ref = malloc(PAGE), present[NP];
    memset(buf, 0xee, len);
    memset(present, 0xee, sizeof present);
    bool before[NP];
    size_t n_present = 0;
    for (size_t k = 0; k < NP; k++)
        n_present += before[k] = (pagemap_entry(fx.pid, big + k * PAGE) & PM_PRESENT) != 0;
    cr_assert_gt(n_present, 3u);
    cr_assert_lt(n_present, NP / 2, "plants touch only a few pages of the first 256 KiB");

    mg_error err = {{0}};
    ssize_t got = mg_read_present(fx.pid, big, len, buf, present, &err);
    cr_assert_eq(got, (ssize_t)(n_present * PAGE), "%zd %s", got, err.message);
    for (size_t k = 0; k < NP; k++) {
        cr_assert_eq(present[k], before[k], "page %zu", k);
        cr_assert_eq((pagemap_entry(fx.pid, big + k * PAGE) & PM_PRESENT) != 0, before[k],
                     "page %zu: presence changed by the read", k);
        if (before[k]) {
            cr_assert_eq(read_mem(fx.pid, big + k * PAGE, ref, PAGE), (ssize_t)PAGE);
            cr_assert_eq(memcmp(buf + k * PAGE, ref, PAGE), 0, "page %zu", k);
        } else {
            for (size_t b = 0; b < PAGE; b++)
                cr_assert_eq(buf[k * PAGE + b], 0, "page %zu byte %zu not zero", k, b);
        }
    }
    /* the marker at the start and the one across the 4 KiB boundary */
    char *marker = fixture_marker(&fx, "big");
    cr_assert_eq(memcmp(buf, marker, strlen(marker)), 0);
    cr_assert_eq(memcmp(buf + PAGE - 1, marker, strlen(marker)), 0);
    free(marker);

    /* an untouched reservation: nothing present, nothing read, nothing
     * faulted in */
    uint64_t res = fixture_info(&fx, "reserve", NULL);
    long pte0 = proc_kb(fx.pid, "status", "VmPTE");
    got = mg_read_present(fx.pid, res, len, buf, present, &err);
    cr_assert_eq(got, 0, "%zd %s", got, err.message);
    for (size_t k = 0; k < NP; k++) {
        cr_assert_eq(present[k], 0);
        cr_assert_eq(pagemap_entry(fx.pid, res + k * PAGE) & PM_PRESENT, 0u);
    }
    for (size_t b = 0; b < len; b++)
        cr_assert_eq(buf[b], 0);
    cr_assert_eq(proc_kb(fx.pid, "status", "VmPTE"), pte0);
    free(buf);
    free(ref);
}

/* After fork the region's anon pages are shared: mg_read_present must read
 * them through /proc/PID/mem and leave them shared. process_vm_readv of
 * another page shows what pinning would have done (it unshares). */
Test(inspect, read_present_keeps_fork_shared_pages_shared)
{
    need_root();
    const char *args[] = {"--fork", NULL};
    fixture_start(&fx, args);
    cr_assert_gt(fx.child, 0);
    uint64_t region = fixture_info(&fx, "fork-region", NULL);
    cr_assert_neq(region, 0u);
    enum {
        NP = 64
    };
    pid_t both[2] = {fx.pid, fx.child};
    for (size_t k = 0; k < NP; k++)
        for (int w = 0; w < 2; w++) {
            uint64_t e = pagemap_entry(both[w], region + k * PAGE);
            cr_assert(e & PM_PRESENT, "page %zu not present in %d", k, (int)both[w]);
            cr_assert_not(e & PM_EXCLUSIVE, "page %zu exclusive in %d before the read", k,
                          (int)both[w]);
        }
    long pss0 = proc_kb(fx.child, "smaps_rollup", "Pss");

    size_t len = NP * PAGE;
    uint8_t *buf = malloc(len), present[NP];
    mg_error err = {{0}};
    ssize_t got = mg_read_present(fx.child, region, len, buf, present, &err);
    cr_assert_eq(got, (ssize_t)len, "%zd %s", got, err.message);
    char *marker = fixture_marker(&fx, "fork");
    cr_assert_eq(memcmp(buf, marker, strlen(marker)), 0, "the fork marker at the region start");
    free(marker);
    for (size_t k = 0; k < NP; k++) {
        cr_assert_eq(present[k], 1);
        for (int w = 0; w < 2; w++)
            cr_assert_not(pagemap_entry(both[w], region + k * PAGE) & PM_EXCLUSIVE,
                          "page %zu became exclusive in %d: the read unshared it", k, (int)both[w]);
    }
    cr_assert_leq(proc_kb(fx.child, "smaps_rollup", "Pss"), pss0 + 64);

    /* Control: pinning one shared page (process_vm_readv) does unshare it,
     * so the checks above would have seen it. */
    uint64_t other = region + 100 * PAGE;
    cr_assert_not(pagemap_entry(fx.child, other) & PM_EXCLUSIVE);
    struct iovec l = {buf, PAGE}, rv = {(void *)(uintptr_t)other, PAGE};
    cr_assert_eq(process_vm_readv(fx.child, &l, 1, &rv, 1, 0), (ssize_t)PAGE);
    cr_assert(pagemap_entry(fx.child, other) & PM_EXCLUSIVE,
              "process_vm_readv left a shared page shared: this kernel doesn't unshare on "
              "pin, the check above proves nothing");
    free(buf);
}

Test(inspect, read_present_refusals)
{
    need_root();
    fixture_start(&fx, NULL);
    uint8_t buf[2 * PAGE], present[2];
    mg_error err = {{0}};

    map_line vvar = find_map(fx.pid, "[vvar]");
    memset(buf, 0xee, sizeof buf);
    cr_assert_eq(mg_read_present(fx.pid, vvar.start, PAGE, buf, present, &err), -EPERM);
    cr_assert(strstr(err.message, "[vvar]"), "%s", err.message);
    for (size_t b = 0; b < PAGE; b++)
        cr_assert_eq(buf[b], 0);

    /* no read permission (the noread plant's PROT_NONE page) */
    const plant *nr = NULL;
    for (size_t i = 0; i < fx.n_plants; i++)
        if (!strcmp(fx.plants[i].kind, "noread"))
            nr = &fx.plants[i];
    cr_assert(nr);
    cr_assert_eq(mg_read_present(fx.pid, nr->addr & ~(uint64_t)(PAGE - 1), PAGE, buf, NULL, &err),
                 -EPERM);
    cr_assert(strstr(err.message, "read permission"), "%s", err.message);

    /* not inside one mapping: across the end of the big region (its own
     * VMA, PROT_NONE after it), and an address nothing maps */
    uint64_t blen, big = fixture_info(&fx, "big", &blen);
    cr_assert_eq(mg_read_present(fx.pid, big + blen - PAGE, 2 * PAGE, buf, NULL, &err), -EINVAL);
    cr_assert(strstr(err.message, "not inside one mapping"), "%s", err.message);
    cr_assert_eq(mg_read_present(fx.pid, PAGE, PAGE, buf, NULL, &err), -EINVAL);
    /* alignment and length */
    cr_assert_eq(mg_read_present(fx.pid, big + 1, PAGE, buf, NULL, &err), -EINVAL);
    cr_assert_eq(mg_read_present(fx.pid, big, 100, buf, NULL, &err), -EINVAL);
    cr_assert_eq(mg_read_present(fx.pid, big, 0, buf, NULL, &err), -EINVAL);
    cr_assert_eq(mg_read_present(fx.pid, UINT64_MAX - PAGE + 1, 2 * PAGE, buf, NULL, &err),
                 -EINVAL);
    /* never memgrep itself, nor a pid that is gone */
    static uint8_t mine[PAGE] __attribute__((aligned(PAGE)));
    cr_assert_eq(mg_read_present(getpid(), (uint64_t)(uintptr_t)mine, PAGE, buf, NULL, &err),
                 MG_EBADPID);
    cr_assert(strstr(err.message, "itself"), "%s", err.message);
    cr_assert_eq(mg_read_present(dead_pid(), big, PAGE, buf, NULL, &err), MG_EBADPID);
    cr_assert_eq(mg_read_present(0, big, PAGE, buf, NULL, &err), MG_EBADPID);
    /* err may be NULL */
    cr_assert_eq(mg_read_present(fx.pid, vvar.start, PAGE, buf, NULL, NULL), -EPERM);
    cr_assert_eq(mg_read_present(fx.pid, big, PAGE, buf, NULL, NULL), PAGE);
}

Test(inspect, null_arguments)
{
    mg_error err = {{0}};
    mg_proc_info *p = NULL;
    mg_region_info *r = NULL;
    size_t n = 0;
    pid_t other = getppid();
    cr_assert_eq(mg_proc_list(NULL, &n, &err), -EINVAL);
    cr_assert_eq(mg_proc_list(&p, NULL, &err), -EINVAL);
    cr_assert_eq(mg_proc_list(NULL, NULL, NULL), -EINVAL);
    pid_t *pids = NULL;
    cr_assert_eq(mg_pids_list(NULL, &n), -EINVAL);
    cr_assert_eq(mg_pids_list(&pids, NULL), -EINVAL);
    mg_pids_free(NULL);
    mg_pids_free(&pids);
    cr_assert_eq(mg_proc_get(other, NULL, &err), -EINVAL);
    cr_assert_eq(mg_regions_get(other, 0, NULL, &n, &err), -EINVAL);
    cr_assert_eq(mg_regions_get(other, 0, &r, NULL, &err), -EINVAL);
    cr_assert_eq(mg_read_present(other, 0x400000, PAGE, NULL, NULL, &err), -EINVAL);
    cr_assert(strstr(err.message, "buf"), "%s", err.message);
    cr_assert_eq(mg_read_present(other, 0x400000, PAGE, NULL, NULL, NULL), -EINVAL);
    mg_proc_info_free(NULL);
    mg_proc_info_free(&p);
    mg_regions_free(NULL);
    mg_regions_free(&r);
    /* err NULL on success paths */
    cr_assert_eq(mg_proc_list(&p, &n, NULL), 0);
    mg_proc_info_free(&p);
}

/* The cgroup path rules on texts of each kind of host. */
static const char *cgroup_of(const char *text)
{
    static char out[256];
    const char *p = NULL;
    size_t n = 0;
    if (!mg_cgroup_path(text, strlen(text), &p, &n))
        return NULL;
    cr_assert(p >= text && p + n <= text + strlen(text));
    snprintf(out, sizeof out, "%.*s", (int)n, p);
    return out;
}

Test(inspect, cgroup_path_rules)
{
    cr_assert_str_eq(cgroup_of("0::/system.slice/ssh.service\n"), "/system.slice/ssh.service");
    cr_assert_str_eq(cgroup_of("0::/\n"), "/");
    /* hybrid: the v2 line wins wherever it is */
    cr_assert_str_eq(cgroup_of("12:pids:/user.slice/a\n1:name=systemd:/user.slice/b\n0::/c\n"),
                     "/c");
    /* v1 only: name=systemd, else the first line */
    cr_assert_str_eq(cgroup_of("12:pids:/user.slice/a\n1:name=systemd:/user.slice/b\n"),
                     "/user.slice/b");
    cr_assert_str_eq(cgroup_of("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/def\n"), "/docker/abc");
    /* a path may hold ':'; no trailing newline */
    cr_assert_str_eq(cgroup_of("0::/a:b/c"), "/a:b/c");
    /* 10::/x is not the v2 line */
    cr_assert_str_eq(cgroup_of("10::/x\n0::/y\n"), "/y");
    cr_assert_null(cgroup_of(""));
    cr_assert_null(cgroup_of("garbage\n"));
}
