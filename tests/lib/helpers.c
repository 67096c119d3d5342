/* helpers.c - see helpers.h. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kernel-page-flags.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "json.h"
#include "os/maps.h"

void need_root(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root: reads the memory of other processes");
    FILE *y = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
    if (y) {
        int scope = 0;
        if (fscanf(y, "%d", &scope) != 1)
            scope = 0;
        fclose(y);
        if (scope >= 3)
            cr_skip_test("needs ptrace access: kernel.yama.ptrace_scope=3 denies even root");
    }
}

void random_token(char out[17])
{
    uint8_t b[8];
    cr_assert_eq(getrandom(b, sizeof b, 0), (ssize_t)sizeof b, "getrandom failed");
    for (int i = 0; i < 8; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

pid_t dead_pid(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0)
        _exit(0);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    return pid;
}

pid_t zombie_child(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(0);
    siginfo_t si;
    cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    return pid;
}

/* ---- fixtures ---- */

static void parse_line(fixture *f, char *line)
{
    char *save = NULL;
    char *tag = strtok_r(line, " ", &save);
    if (!tag)
        return;
    if (!strcmp(tag, "PLANT")) {
        cr_assert_lt(f->n_plants, sizeof f->plants / sizeof f->plants[0], "too many plants");
        plant *p = &f->plants[f->n_plants];
        const char *name = strtok_r(NULL, " ", &save);
        const char *addr = strtok_r(NULL, " ", &save);
        const char *len = strtok_r(NULL, " ", &save);
        const char *kind = strtok_r(NULL, " ", &save);
        const char *extra = strtok_r(NULL, "", &save);
        cr_assert(name && addr && len && kind, "bad PLANT line from fixture");
        snprintf(p->name, sizeof p->name, "%s", name);
        p->addr = strtoull(addr, NULL, 16);
        p->len = strtoull(len, NULL, 10);
        snprintf(p->kind, sizeof p->kind, "%s", kind);
        snprintf(p->extra, sizeof p->extra, "%s", extra ? extra : "");
        f->n_plants++;
    } else if (!strcmp(tag, "INFO")) {
        if (f->n_infos == sizeof f->infos / sizeof f->infos[0])
            return;
        const char *what = strtok_r(NULL, " ", &save);
        const char *addr = strtok_r(NULL, " ", &save);
        const char *len = strtok_r(NULL, " ", &save);
        if (!what || !addr || !len)
            return;
        snprintf(f->infos[f->n_infos].what, sizeof f->infos[0].what, "%s", what);
        f->infos[f->n_infos].addr = strtoull(addr, NULL, 16);
        f->infos[f->n_infos].len = strtoull(len, NULL, 10);
        f->n_infos++;
    } else if (!strcmp(tag, "THREAD")) {
        const char *tid = strtok_r(NULL, " ", &save);
        cr_assert(tid, "bad THREAD line");
        f->tid = (pid_t)atoi(tid);
    } else if (!strcmp(tag, "CHILD")) {
        const char *pid = strtok_r(NULL, " ", &save);
        cr_assert(pid, "bad CHILD line");
        f->child = (pid_t)atoi(pid);
    }
}

void fixture_start(fixture *f, const char *const *extra_args)
{
    memset(f, 0, sizeof *f);
    const char *path = getenv("MG_FIXTURE");
    cr_assert(path && *path, "MG_FIXTURE is not set (run through meson test)");
    random_token(f->token);

    const char *argv[16] = {path, "--token", f->token};
    size_t argc = 3;
    for (size_t i = 0; extra_args && extra_args[i]; i++) {
        cr_assert_lt(argc, 15u);
        argv[argc++] = extra_args[i];
    }
    argv[argc] = NULL;

    int in[2], out[2];
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        /* Nothing of the test runner's (Criterion's pipes) leaks into it. */
        syscall(SYS_close_range, 3u, ~0u, 0u);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    f->pid = pid;
    f->stdin_fd = in[1];

    /* Read lines until READY (30 s at most). */
    char buf[16384];
    size_t have = 0;
    bool ready = false;
    while (!ready) {
        struct pollfd pfd = {.fd = out[0], .events = POLLIN};
        int r = poll(&pfd, 1, 30000);
        cr_assert_gt(r, 0, "fixture did not print READY within 30 s");
        ssize_t n = read(out[0], buf + have, sizeof buf - 1 - have);
        cr_assert_gt(n, 0, "fixture exited before READY");
        have += (size_t)n;
        buf[have] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n'))) {
            *nl = '\0';
            if (!strcmp(buf, "READY"))
                ready = true;
            else
                parse_line(f, buf);
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have - used + 1);
            have -= used;
        }
        cr_assert_lt(have, sizeof buf - 1, "overlong line from fixture");
    }
    close(out[0]);
    cr_assert_gt(f->n_plants, 0u, "fixture planted nothing");
}

void fixture_stop(fixture *f)
{
    if (f->pid <= 0)
        return;
    close(f->stdin_fd);
    if (f->child > 0)
        kill(f->child, SIGKILL);
    kill(f->pid, SIGKILL);
    waitpid(f->pid, NULL, 0);
    f->pid = 0;
}

char *fixture_marker(const fixture *f, const char *name)
{
    char *m = NULL;
    cr_assert_geq(asprintf(&m, "%s%s-%s;", FIXTURE_MARKER_PREFIX, f->token, name), 0);
    return m;
}

uint64_t fixture_info(const fixture *f, const char *what, uint64_t *len)
{
    for (size_t i = 0; i < f->n_infos; i++)
        if (!strcmp(f->infos[i].what, what)) {
            if (len)
                *len = f->infos[i].len;
            return f->infos[i].addr;
        }
    if (len)
        *len = 0;
    return 0;
}

const plant *fixture_plant_at(const fixture *f, uint64_t addr)
{
    for (size_t i = 0; i < f->n_plants; i++)
        if (f->plants[i].addr == addr)
            return &f->plants[i];
    return NULL;
}

/* ---- patterns ---- */

mg_patterns *patterns_new(void)
{
    mg_patterns *p = NULL;
    cr_assert_eq(mg_patterns_new(&p), 0);
    cr_assert(p != NULL);
    return p;
}

unsigned add_pattern(mg_patterns *p, mg_pattern_kind kind, const char *text, size_t len,
                     unsigned flags)
{
    mg_error err = {{0}};
    int id = mg_patterns_add(p, kind, text, len, flags, NULL, &err);
    cr_assert_geq(id, 0, "mg_patterns_add(%.*s): %d %s: %s", (int)len, text, id, mg_strerror(id),
                  err.message);
    return (unsigned)id;
}

void compile_patterns(mg_patterns *p)
{
    mg_error err = {{0}};
    int rc = mg_patterns_compile(p, &err);
    cr_assert_eq(rc, 0, "mg_patterns_compile: %d %s: %s", rc, mg_strerror(rc), err.message);
}

static bool kind_in(const char *kind, const char *kinds)
{
    size_t k = strlen(kind);
    for (const char *s = kinds; *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == k && !strncmp(s, kind, k))
            return true;
        s += n + (e ? 1 : 0);
    }
    return false;
}

size_t add_plant_literals(mg_patterns *p, const fixture *f, const char *kinds, unsigned flags,
                          char names[][32], size_t max)
{
    size_t n = 0, base = mg_patterns_count(p);
    for (size_t i = 0; i < f->n_plants; i++) {
        const plant *pl = &f->plants[i];
        if (!kind_in(pl->kind, kinds))
            continue;
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= !strcmp(names[j], pl->name);
        if (seen)
            continue;
        cr_assert_lt(n, max);
        char *m = fixture_marker(f, pl->name);
        unsigned id = add_pattern(p, MG_PATTERN_LITERAL, m, strlen(m), flags);
        free(m);
        cr_assert_eq(id, base + n, "pattern ids are not 0, 1, 2... in order of adding");
        snprintf(names[n], 32, "%s", pl->name);
        n++;
    }
    return n;
}

/* ---- collector ---- */

static int collect_match(void *ctx, const mg_match *m)
{
    collector *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->hits = realloc(c->hits, c->cap * sizeof *c->hits);
        if (!c->hits)
            abort();
    }
    hit *h = &c->hits[c->n++];
    h->pid = m->process ? m->process->pid : -1;
    h->addr = m->address;
    h->len = m->length;
    h->pattern_id = m->pattern_id;
    h->wide = m->wide;
    h->before = m->before;
    h->after = m->after;
    h->region_start = m->region ? m->region->start : 0;
    h->region_end = m->region ? m->region->end : 0;
    h->region_kind = m->region ? m->region->kind : (mg_region_kind)-1;
    memcpy(h->perms, m->region ? m->region->perms : "????", 4);
    h->perms[4] = '\0';
    size_t total = m->before + (size_t)m->length + m->after;
    h->data = malloc(total ? total : 1);
    if (!h->data)
        abort();
    if (m->data)
        memcpy(h->data, m->data, total);
    if (c->delay_ms) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)c->delay_ms * 1000000};
        nanosleep(&ts, NULL);
    }
    return c->reply_pid && h->pid != c->reply_pid ? MG_SINK_CONTINUE : c->reply;
}

static void collect_event(void *ctx, const mg_event *e)
{
    collector *c = ctx;
    if ((unsigned)e->kind < MG_EVENT_KINDS)
        c->events[e->kind]++;
    if (c->n_event_pids < sizeof c->event_pids / sizeof c->event_pids[0] && e->process) {
        c->event_kinds[c->n_event_pids] = e->kind;
        c->event_pids[c->n_event_pids++] = e->process->pid;
    }
}

mg_sink collector_sink(collector *c)
{
    return (mg_sink){.ctx = c, .match = collect_match, .event = collect_event};
}

void collector_free(collector *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->hits[i].data);
    free(c->hits);
    memset(c, 0, sizeof *c);
}

size_t want_plants(want *w, size_t n, size_t max, const fixture *f, pid_t pid, const char *kinds,
                   char names[][32], size_t n_names)
{
    for (size_t i = 0; i < f->n_plants; i++) {
        const plant *pl = &f->plants[i];
        if (!kind_in(pl->kind, kinds))
            continue;
        for (size_t id = 0; id < n_names; id++) {
            if (strcmp(names[id], pl->name))
                continue;
            cr_assert_lt(n, max);
            w[n++] = (want){.pid = pid,
                            .addr = pl->addr,
                            .len = pl->len,
                            .pattern_id = (unsigned)id,
                            .wide = !strcmp(pl->kind, "wide")};
        }
    }
    return n;
}

static bool same(const hit *h, const want *w)
{
    return h->pid == w->pid && h->addr == w->addr && h->pattern_id == w->pattern_id;
}

void assert_exact_hits(const collector *c, const want *w, size_t n, const char *what)
{
    char msg[8192];
    size_t off = 0;
    int bad = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (off < sizeof msg)                                                                      \
            off += (size_t)snprintf(msg + off, sizeof msg - off, __VA_ARGS__);                     \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        size_t found = 0;
        for (size_t j = 0; j < c->n; j++)
            if (same(&c->hits[j], &w[i])) {
                found++;
                if (c->hits[j].len != w[i].len || c->hits[j].wide != w[i].wide) {
                    ADD("\n  wrong length/wide: pid %d 0x%" PRIx64 " pattern %u: got len %" PRIu64
                        " wide %d, want len %" PRIu64 " wide %d",
                        w[i].pid, w[i].addr, w[i].pattern_id, c->hits[j].len, c->hits[j].wide,
                        w[i].len, w[i].wide);
                    bad++;
                }
            }
        if (found == 0) {
            ADD("\n  missed: pid %d 0x%" PRIx64 " pattern %u", w[i].pid, w[i].addr,
                w[i].pattern_id);
            bad++;
        } else if (found > 1) {
            ADD("\n  reported %zu times: pid %d 0x%" PRIx64 " pattern %u", found, w[i].pid,
                w[i].addr, w[i].pattern_id);
            bad++;
        }
    }
    for (size_t j = 0; j < c->n; j++) {
        bool expected = false;
        for (size_t i = 0; i < n && !expected; i++)
            expected = same(&c->hits[j], &w[i]);
        if (!expected) {
            ADD("\n  extra: pid %d 0x%" PRIx64 " len %" PRIu64 " pattern %u wide %d",
                c->hits[j].pid, c->hits[j].addr, c->hits[j].len, c->hits[j].pattern_id,
                c->hits[j].wide);
            bad++;
        }
    }
#undef ADD
    cr_assert_eq(bad, 0, "%s: %d problem(s) among %zu reported / %zu expected:%s", what, bad, c->n,
                 n, msg);
}

/* ---- /proc ---- */

bool proc_is_ours(pid_t pid)
{
    pid_t self = getpid();
    /* pid 1 ends every chain; 64 generations is more than any test forks */
    for (int depth = 0; depth < 64 && pid > 1; depth++) {
        if (pid == self)
            return true;
        char path[64], line[128];
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
            return false;
        pid_t parent = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "PPid: %d", &parent) == 1)
                break;
        fclose(f);
        pid = parent;
    }
    return false;
}

void proc_comm(pid_t pid, char *out, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    snprintf(out, size, "?");
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(out, (int)size, f))
            out[0] = '\0';
        fclose(f);
    }
    out[strcspn(out, "\n")] = '\0';
}

void log_foreign_match(pid_t pid, uint64_t addr, const char *what)
{
    char path[64], comm[64], exe[256] = "?";
    proc_comm(pid, comm, sizeof comm);
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    exe[n > 0 ? n : 1] = '\0';
    cr_log_warn("%s: match at 0x%" PRIx64 " in pid %d (%s, %s), not a process of this test: a "
                "copy another program holds, not counted",
                what, addr, (int)pid, comm, exe);
}

long proc_kb(pid_t pid, const char *file, const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char line[256];
    size_t k = strlen(key);
    long v = -1;
    while (fgets(line, sizeof line, fp))
        if (!strncmp(line, key, k) && line[k] == ':') {
            v = strtol(line + k + 1, NULL, 10);
            break;
        }
    fclose(fp);
    return v;
}

ssize_t read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = pread(fd, buf, len, (off_t)addr);
    int e = errno;
    close(fd);
    return n < 0 ? -e : n;
}

static int page_present(int fd, uint64_t page)
{
    uint64_t e;
    if (pread(fd, &e, sizeof e, (off_t)(page / 4096 * 8)) != (ssize_t)sizeof e)
        return -EIO;
    return (int)(e >> 63);
}

int present_run(pid_t pid, uint64_t addr, uint64_t lo, uint64_t hi, uint64_t *run_start,
                uint64_t *run_end)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint64_t s = addr & ~4095ull, e = s;
    int rc = page_present(fd, s);
    if (rc == 1) {
        e += 4096;
        while (s > lo && (rc = page_present(fd, s - 4096)) == 1)
            s -= 4096;
        while (e < hi && (rc = page_present(fd, e)) == 1)
            e += 4096;
    }
    close(fd);
    if (rc < 0)
        return rc;
    *run_start = s > lo ? s : lo;
    *run_end = e < hi ? e : hi;
    if (*run_end < *run_start)
        *run_end = *run_start;
    return 0;
}

ssize_t pagemap_entries(pid_t pid, uint64_t start, uint64_t end, uint64_t **out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    size_t n = (size_t)((end - start) / 4096);
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out)
        return -ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(*out);
        *out = NULL;
        return -e;
    }
    ssize_t got = pread(fd, *out, n * sizeof **out, (off_t)(start / 4096 * 8));
    int e = errno;
    close(fd);
    if (got != (ssize_t)(n * sizeof **out)) {
        free(*out);
        *out = NULL;
        return got < 0 ? -e : -EIO;
    }
    return (ssize_t)n;
}

#define PM_PRESENT (1ull << 63)
#define PM_FILE (1ull << 61)
#define PM_EXCLUSIVE (1ull << 56)
#define PM_PFN ((1ull << 55) - 1)

int classify_pages(pid_t pid, uint64_t start, uint64_t end, uint64_t *mem, uint64_t *pvr)
{
    uint64_t *e;
    ssize_t n = pagemap_entries(pid, start, end, &e);
    if (n < 0)
        return (int)n;
    for (ssize_t i = 0; i < n; i++) {
        if (!(e[i] & PM_PRESENT))
            continue;
        if (e[i] & (PM_FILE | PM_EXCLUSIVE))
            *pvr += 4096;
        else
            *mem += 4096;
    }
    free(e);
    return 0;
}

void each_scanned_region(pid_t pid, region_pages_fn fn, void *ctx)
{
    mg_maps maps;
    cr_assert_eq(mg_maps_read(pid, &maps), 0);
    for (size_t i = 0; i < maps.n; i++) {
        const mg_region *r = &maps.regions[i];
        if (r->perms[0] != 'r' || r->kind == MG_REGION_SPECIAL || r->kind == MG_REGION_DEVICE)
            continue;
        uint64_t *e;
        ssize_t np = pagemap_entries(pid, r->start, r->end, &e);
        cr_assert_geq(np, 0, "pagemap of %d at %#" PRIx64 ": %zd", (int)pid, r->start, np);
        fn(ctx, r, e, (size_t)np);
        free(e);
    }
    mg_maps_free(&maps);
}

zero_case zero_page_case(uint64_t *pfn)
{
    *pfn = 0;
    volatile uint8_t *p =
        mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    madvise((void *)p, 2 * 4096, MADV_NOHUGEPAGE);
    (void)p[0]; /* read, never written */
    (void)p[4096];
    uint64_t *e, a = (uint64_t)(uintptr_t)p;
    cr_assert_eq(pagemap_entries(getpid(), a, a + 2 * 4096, &e), 2);
    uint64_t e0 = e[0], e1 = e[1], f0 = e0 & PM_PFN;
    free(e);
    cr_assert(e0 & e1 & PM_PRESENT,
              "a read fault mapped no page: pagemap %016" PRIx64 " %016" PRIx64, e0, e1);
    zero_case zc = ZERO_HIDDEN;
    if (f0) {
        /* KPF_ZERO_PAGE where kpageflags can be read (root), else: one
         * frame for both pages is the zero page, two fresh pages never are */
        uint64_t flags;
        int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
        bool by_flags = fd >= 0 && pread(fd, &flags, 8, (off_t)(f0 * 8)) == 8;
        if (fd >= 0)
            close(fd);
        bool zero = by_flags ? (flags >> KPF_ZERO_PAGE & 1) : f0 == (e1 & PM_PFN);
        cr_assert(!zero || (f0 == (e1 & PM_PFN) && !((e0 | e1) & PM_EXCLUSIVE)),
                  "kpageflags calls frame %#" PRIx64 " the zero page, yet pagemap shows %016" PRIx64
                  " %016" PRIx64,
                  f0, e0, e1);
        zc = zero ? ZERO_SHARED : ZERO_FRESH;
        *pfn = zero ? f0 : 0;
    }
    munmap((void *)p, 2 * 4096);
    return zc;
}

const char *zero_case_text(zero_case zc)
{
    switch (zc) {
    case ZERO_SHARED:
        return "read faults map the shared zero page";
    case ZERO_FRESH:
        return "read faults map a fresh zeroed page (no shared zero page on this kernel)";
    default:
        return "page frame numbers are hidden";
    }
}

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef NATIVE_AUDIT_ARCH
/* Install filter f[n] on every thread of this process (and so on the
 * children it starts after); fails the test if it can't. */
static void install_filter(struct sock_filter *f, size_t n, const char *refusing)
{
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
    cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0, "PR_SET_NO_NEW_PRIVS: %s",
                 strerror(errno));
    cr_assert_eq(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog), 0,
                 "seccomp filter refusing %s: %s", refusing, strerror(errno));
}
#endif

void refuse_io_uring(void)
{
#ifdef NATIVE_AUDIT_ARCH
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_enter, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_register, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    install_filter(f, sizeof f / sizeof f[0], "io_uring");
#else
    cr_skip_test("refuse_io_uring: no seccomp architecture for this build");
#endif
}

void refuse_o_tmpfile(void)
{
#ifdef NATIVE_AUDIT_ARCH
    /* the kernel's __O_TMPFILE bit (glibc's O_TMPFILE adds O_DIRECTORY) */
    enum {
        KERNEL_O_TMPFILE = 020000000
    };
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* the low half of openat's flags (little-endian: the first word) */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, KERNEL_O_TMPFILE),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KERNEL_O_TMPFILE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP),
    };
    install_filter(f, sizeof f / sizeof f[0], "O_TMPFILE");
    int fd = open("/tmp", O_TMPFILE | O_WRONLY, 0600);
    cr_assert(fd < 0 && errno == EOPNOTSUPP, "O_TMPFILE still opens under the filter");
#else
    cr_skip_test("refuse_o_tmpfile: no seccomp architecture for this build");
#endif
}

/* Copy the file at src (following links) to root/rel, mode 0755, with the
 * directories between (mode 0755, whatever the umask); nothing if it is
 * there. Returns root/rel (malloc'd). */
static char *copy_file_to(const char *root, const char *rel, const char *src)
{
    char *dst = NULL;
    cr_assert_geq(asprintf(&dst, "%s/%s", root, rel), 0);
    for (char *s = strchr(dst + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        cr_assert(mkdir(dst, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", dst, strerror(errno));
        cr_assert_eq(chmod(dst, 0755), 0, "chmod %s: %s", dst, strerror(errno));
        *s = '/';
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    if (out < 0 && errno == EEXIST)
        return dst;
    cr_assert(out >= 0, "%s: %s", dst, strerror(errno));
    int in = open(src, O_RDONLY | O_CLOEXEC);
    cr_assert(in >= 0, "%s: %s", src, strerror(errno));
    ssize_t n;
    while ((n = sendfile(out, in, NULL, 1 << 30)) > 0)
        ;
    cr_assert_eq(n, 0, "copying %s to %s: %s", src, dst, strerror(errno));
    cr_assert_eq(fchmod(out, 0755), 0);
    close(in);
    cr_assert_eq(close(out), 0, "%s: %s", dst, strerror(errno));
    return dst;
}

/* path's name under the build root. */
static const char *under_build_root(const char *path)
{
    const char *root = getenv("MG_BUILD_ROOT");
    cr_assert(root && *root, "MG_BUILD_ROOT is not set (run through meson test)");
    size_t n = strlen(root);
    cr_assert(path && !strncmp(path, root, n) && path[n] == '/',
              "%s is not under the build root %s", path ? path : "(null)", root);
    return path + n + 1;
}

char *build_copy(build_copies *c, const char *path)
{
    if (!c->dir[0]) {
        const char *lib = getenv("MG_LIBMEMGREP");
        cr_assert(lib && *lib, "MG_LIBMEMGREP is not set (run through meson test)");
        snprintf(c->dir, sizeof c->dir, "/tmp/mgt-uid-XXXXXX");
        cr_assert(mkdtemp(c->dir), "mkdtemp: %s", strerror(errno));
        cr_assert_eq(chmod(c->dir, 0755), 0);
        free(copy_file_to(c->dir, under_build_root(lib), lib));
    }
    return copy_file_to(c->dir, under_build_root(path), path);
}

void build_copies_remove(build_copies *c)
{
    if (c->dir[0])
        remove_tree(c->dir);
    c->dir[0] = '\0';
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int remove_tree(const char *path)
{
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) ? -1 : 0;
}

double test_timeout_scale(void)
{
    const char *v = getenv("MG_TEST_TIMEOUT_SCALE");
    char *end;
    double f = v && *v ? strtod(v, &end) : 1.0;
    return v && *v && !*end && f > 1.0 && f <= 100.0 ? f : 1.0;
}

mg_residency residency_mode = MG_RESIDENCY_AUTO;

void settings_for(mg_settings *s, const pid_t *pids, size_t n)
{
    mg_default_settings(s);
    s->pids = pids;
    s->n_pids = n;
    s->residency = residency_mode;
}

mg_stats engine_run(mg_engine *e, const pid_t *pids, size_t n, const mg_patterns *p, collector *c)
{
    mg_targets t = {.pids = pids, .n_pids = n};
    mg_sink sink = collector_sink(c);
    mg_stats st;
    mg_error err = {{0}};
    int rc = mg_engine_scan(e, &t, p, &sink, &st, &err);
    cr_assert_eq(rc, 0, "mg_engine_scan: %d %s: %s", rc, mg_strerror(rc), err.message);
    cr_assert_eq(st.matches, c->n);
    cr_assert_eq(st.processes_failed, 0u);
    return st;
}

int child_collect(pid_t pid, int out_fd, int err_fd, char **out, size_t *out_len, char **err,
                  size_t *err_len)
{
    struct {
        int fd;
        char **d;
        size_t *n;
        size_t cap;
    } s[2] = {{out_fd, out, out_len, 0}, {err_fd, err, err_len, 0}};
    *out = *err = NULL;
    *out_len = *err_len = 0;
    int open_fds = (out_fd >= 0) + (err_fd >= 0);
    while (open_fds) {
        struct pollfd pfd[2] = {{.fd = s[0].fd, .events = POLLIN},
                                {.fd = s[1].fd, .events = POLLIN}};
        cr_assert_gt(poll(pfd, 2, 90000), 0, "child %d produced nothing for 90 s", (int)pid);
        for (int i = 0; i < 2; i++) {
            if (s[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (*s[i].n + 65536 + 1 > s[i].cap) {
                s[i].cap = (*s[i].n + 65536 + 1) * 2;
                *s[i].d = realloc(*s[i].d, s[i].cap);
                cr_assert(*s[i].d);
            }
            ssize_t n = read(s[i].fd, *s[i].d + *s[i].n, 65536);
            if (n <= 0) {
                close(s[i].fd);
                s[i].fd = -1;
                open_fds--;
                continue;
            }
            *s[i].n += (size_t)n;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (!*s[i].d)
            *s[i].d = malloc(1);
        (*s[i].d)[*s[i].n] = '\0';
    }
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    return ws;
}

/* ---- memgrep as a child ---- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void prog_spawn(memgrep_proc *p, const char *const *argv)
{
    int out[2], err[2];
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
    memset(p, 0, sizeof *p);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        syscall(SYS_close_range, 3u, ~0u, 0u);
        /* Criterion's runner may ignore or block signals: the child starts clean */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    p->fd[0] = out[0];
    p->fd[1] = err[0];
}

void memgrep_spawn(memgrep_proc *p, const char *const *args)
{
    const char *exe = getenv("MEMGREP");
    cr_assert(exe && *exe, "MEMGREP is not set");
    const char *argv[64] = {exe};
    size_t argc = 1;
    for (size_t i = 0; args[i]; i++) {
        cr_assert_lt(argc, 60u);
        argv[argc++] = args[i];
        if (i == 0 && !strcmp(args[0], "scan") && getenv("MG_DB_CACHE")) {
            argv[argc++] = "--db-cache";
            argv[argc++] = getenv("MG_DB_CACHE");
        }
    }
    argv[argc] = NULL;
    prog_spawn(p, argv);
}

bool memgrep_pump(memgrep_proc *p, int ms)
{
    struct pollfd pfd[2] = {{.fd = p->fd[0], .events = POLLIN}, {.fd = p->fd[1], .events = POLLIN}};
    if (p->fd[0] < 0 && p->fd[1] < 0)
        return false;
    if (poll(pfd, 2, ms) <= 0)
        return true;
    for (int i = 0; i < 2; i++) {
        if (p->fd[i] < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (p->len[i] + 65537 > p->cap[i]) {
            p->cap[i] = (p->len[i] + 65537) * 2;
            p->buf[i] = realloc(p->buf[i], p->cap[i]);
            cr_assert(p->buf[i]);
        }
        ssize_t n = read(p->fd[i], p->buf[i] + p->len[i], 65536);
        if (n <= 0) {
            close(p->fd[i]);
            p->fd[i] = -1;
        } else {
            p->len[i] += (size_t)n;
        }
        p->buf[i][p->len[i]] = '\0';
    }
    return true;
}

int memgrep_finish(memgrep_proc *p, double max_seconds)
{
    double t0 = mono_s();
    while (memgrep_pump(p, 200))
        cr_assert_lt(mono_s() - t0, max_seconds, "memgrep still running after %.0f s", max_seconds);
    for (int i = 0; i < 2; i++)
        if (!p->buf[i]) {
            p->buf[i] = calloc(1, 1);
            p->len[i] = 0;
        }
    int ws;
    cr_assert_eq(waitpid(p->pid, &ws, 0), p->pid);
    cr_assert(WIFEXITED(ws), "%d died by signal %d; stderr: %s", (int)p->pid, WTERMSIG(ws),
              p->buf[1]);
    return WEXITSTATUS(ws);
}

void memgrep_proc_free(memgrep_proc *p)
{
    free(p->buf[0]);
    free(p->buf[1]);
}

static prog_result finish(memgrep_proc *p)
{
    prog_result r = {.pid = p->pid, .status = memgrep_finish(p, 90 * test_timeout_scale())};
    r.out = p->buf[0];
    r.out_len = p->len[0];
    r.err = p->buf[1];
    r.err_len = p->len[1];
    return r;
}

prog_result prog_run(const char *const *argv)
{
    memgrep_proc p;
    prog_spawn(&p, argv);
    return finish(&p);
}

prog_result memgrep_run(const char *const *args)
{
    memgrep_proc p;
    memgrep_spawn(&p, args);
    return finish(&p);
}

void prog_result_free(prog_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* ---- JSON Lines ---- */

jlines jlines_parse(const char *s, size_t len)
{
    jlines l = {0};
    const char *end = s + len;
    cr_assert(len == 0 || end[-1] == '\n', "output ends in a cut line: %s",
              s + (len > 200 ? len - 200 : 0));
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        l.v = realloc(l.v, (l.n + 1) * sizeof *l.v);
        cr_assert(l.v);
        size_t off = 0;
        cr_assert_eq(json_parse(s, (size_t)(nl - s), &l.v[l.n], &off), 0,
                     "line %zu is not JSON at byte %zu: %.*s", l.n + 1, off,
                     (int)(nl - s > 300 ? 300 : nl - s), s);
        cr_assert_eq(l.v[l.n].t, J_OBJ);
        l.n++;
        s = nl + 1;
    }
    return l;
}

void jlines_free(jlines *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

jval read_manifest(const char *dir)
{
    char *path;
    cr_assert_geq(asprintf(&path, "%s/manifest.json", dir), 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    struct stat st;
    cr_assert(fstat(fd, &st) == 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "%s: mode %o", path, st.st_mode & 0777);
    size_t len = (size_t)st.st_size, off;
    char *s = malloc(len + 1);
    cr_assert(s);
    cr_assert_eq(read(fd, s, len), (ssize_t)len);
    close(fd);
    cr_assert(len && s[len - 1] == '\n' && !memchr(s, '\n', len - 1), "%s: not one line: %.*s",
              path, (int)len, s);
    jval v;
    cr_assert_eq(json_parse(s, len, &v, &off), 0, "%s: not JSON at byte %zu", path, off);
    cr_assert_eq(v.t, J_OBJ);
    free(s);
    free(path);
    return v;
}

char *sha256sum(const char *file)
{
    prog_result r = prog_run((const char *[]){"/usr/bin/sha256sum", file, NULL});
    cr_assert_eq(r.status, 0, "sha256sum %s: %s", file, r.err);
    char *h = strndup(r.out, 64);
    prog_result_free(&r);
    return h;
}
