/* test_investigate.c - memgrep ps, maps, dump and strings against the
 * kernel's own view (/proc, smaps, pagemap, /proc/PID/mem, GNU strings over
 * the dump), container ids from cgroup paths (unit) and from real cgroups,
 * and the seed's story: a line typed into an interactive bash, found. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "investigate_target.h"
#include "json.h"

#define PAGE 4096u

static fixture fx;
static pid_t child = 0; /* a target forked by the test */
static char tmpdir[64];

static void stop(void)
{
    fixture_stop(&fx);
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = 0;
    }
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        cr_expect_eq(system(cmd), 0);
        tmpdir[0] = '\0';
    }
}

TestSuite(investigate, .fini = stop, .timeout = 120);

static const char *make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mg-investigate-XXXXXX");
    cr_assert(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
    return tmpdir;
}

/* ------------------------------------------------------------------ */
/* Running memgrep and other programs                                  */
/* ------------------------------------------------------------------ */

/* memgrep ARGS must fail with exit 2 and one line holding each needle. */
static void expect_error(const char *const *args, const char *const *needles)
{
    prog_result r = memgrep_run(args);
    cr_assert_eq(r.status, 2, "%s %s: exit %d, stderr: %s", args[0], args[1] ? args[1] : "",
                 r.status, r.err);
    cr_assert_eq(r.out_len, 0u, "stdout: %s", r.out);
    char *nl = strchr(r.err, '\n');
    cr_assert(nl && nl[1] == '\0', "not one line: %s", r.err);
    for (size_t i = 0; needles[i]; i++)
        cr_assert(strstr(r.err, needles[i]), "'%s' not in: %s", needles[i], r.err);
    prog_result_free(&r);
}

/* ---- JSON Lines ---- */

typedef struct json_lines {
    jval *v;
    size_t n;
} json_lines;

static json_lines parse_lines(const prog_result *r)
{
    json_lines l = {0};
    cr_assert(r->out_len == 0 || r->out[r->out_len - 1] == '\n', "stdout does not end in newline");
    size_t lines = 0;
    for (size_t i = 0; i < r->out_len; i++)
        lines += r->out[i] == '\n';
    l.v = calloc(lines + 1, sizeof *l.v);
    const char *p = r->out;
    for (size_t i = 0; i < lines; i++) {
        const char *nl = strchr(p, '\n');
        size_t off;
        cr_assert_eq(json_parse(p, (size_t)(nl - p), &l.v[i], &off), 0,
                     "line %zu is not JSON (byte %zu): %.*s", i + 1, off, (int)(nl - p), p);
        cr_assert_eq(l.v[i].t, J_OBJ);
        l.n++;
        p = nl + 1;
    }
    return l;
}

static void free_lines(json_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_free(&l->v[i]);
    free(l->v);
}

static const char *jstr(const jval *o, const char *key)
{
    const jval *v = json_get(o, key);
    cr_assert(v && v->t == J_STR, "no string \"%s\"", key);
    return v->str;
}

static bool jnull(const jval *o, const char *key)
{
    const jval *v = json_get(o, key);
    cr_assert(v, "no \"%s\"", key);
    return v->t == J_NULL;
}

static uint64_t jint(const jval *o, const char *key)
{
    const jval *v = json_get(o, key);
    cr_assert(v && v->t == J_NUM, "no number \"%s\"", key);
    return strtoull(v->raw, NULL, 10);
}

static uint64_t jhex(const jval *o, const char *key)
{
    const char *s = jstr(o, key);
    cr_assert(s[0] == '0' && s[1] == 'x', "\"%s\" is not 0x hex: %s", key, s);
    return strtoull(s + 2, NULL, 16);
}

static bool jbool(const jval *o, const char *key)
{
    const jval *v = json_get(o, key);
    cr_assert(v && v->t == J_BOOL, "no bool \"%s\"", key);
    return v->b;
}

static const jval *find_pid(const json_lines *l, pid_t pid)
{
    for (size_t i = 0; i < l->n; i++)
        if ((pid_t)jint(&l->v[i], "pid") == pid)
            return &l->v[i];
    return NULL;
}

/* ---- /proc ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *s = malloc(cap);
    size_t got;
    while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2)
            s = realloc(s, cap *= 2);
    }
    fclose(f);
    s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

static char *proc_file(pid_t pid, const char *name, size_t *len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    char *s = slurp(path, len);
    cr_assert(s, "read %s: %s", path, strerror(errno));
    return s;
}

/* The "0::" line's path. */
static char *cgroup_of(pid_t pid)
{
    char *s = proc_file(pid, "cgroup", NULL), *p = strstr(s, "0::");
    cr_assert(p, "no cgroup v2 line for %d", (int)pid);
    p += 3;
    p[strcspn(p, "\n")] = '\0';
    char *r = strdup(p);
    free(s);
    return r;
}

static uint64_t pagemap_entry(pid_t pid, uint64_t addr)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    uint64_t e = 0;
    cr_assert_eq(pread(fd, &e, 8, (off_t)(addr / PAGE * 8)), 8);
    close(fd);
    return e;
}

/* ------------------------------------------------------------------ */
/* Containers: ids from cgroup paths                                   */
/* ------------------------------------------------------------------ */

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

Test(investigate, container_ids_of_each_runtime_and_driver)
{
    static const struct {
        const char *path, *id, *runtime;
    } cases[] = {
        /* docker: systemd and cgroupfs drivers; docker in docker: innermost */
        {"/system.slice/docker-" ID ".scope", ID, "docker"},
        {"/docker/" ID, ID, "docker"},
        {"/docker/" ID "/docker/" ID2, ID2, "docker"},
        /* containerd under Kubernetes: systemd and cgroupfs */
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7c1a2b3c_4d5e_6f70_8192_"
         "a3b4c5d6e7f8.slice/cri-containerd-" ID ".scope",
         ID, "containerd"},
        {"/kubepods/burstable/pod7c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/" ID, ID, "kubepods"},
        {"/kubepods/pod7c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/" ID, ID, "kubepods"},
        /* containerd alone: nerdctl (systemd), a namespace (cgroupfs) */
        {"/system.slice/nerdctl-" ID ".scope", ID, "containerd"},
        {"/default/" ID, ID, "containerd"},
        /* cri-o: systemd and cgroupfs */
        {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b.slice/crio-" ID
         ".scope",
         ID, "cri-o"},
        {"/kubepods/besteffort/pod0a1b/crio-" ID, ID, "cri-o"},
        /* podman: systemd (root, rootless, systemd in the container), cgroupfs */
        {"/machine.slice/libpod-" ID ".scope", ID, "podman"},
        {"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope", ID,
         "podman"},
        {"/machine.slice/libpod-" ID ".scope/container", ID, "podman"},
        {"/libpod_parent/libpod-" ID, ID, "podman"},
        {"/libpod_parent/" ID, ID, "podman"},
        /* upper-case hex is folded */
        {"/docker/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", ID, "docker"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mg_container c;
        cr_assert_eq(mg_container_of(cases[i].path, &c), 1, "%s", cases[i].path);
        cr_assert_str_eq(c.id, cases[i].id, "%s", cases[i].path);
        cr_assert_str_eq(c.runtime, cases[i].runtime, "%s", cases[i].path);
    }
    static const char *const none[] = {
        "/",
        "",
        "/init.scope",
        "/system.slice/sshd.service",
        "/user.slice/user-0.slice/session-3.scope",
        "/system.slice/crio-conmon-" ID ".scope", /* the monitor, not the container */
        "/machine.slice/libpod-conmon-" ID ".scope",
        "/system.slice/docker-" ID, /* systemd form without .scope */
        "/system.slice/docker-" ID ".scopex",
        "/docker/" ID "0", /* 65 digits */
        "/docker/0123456789abcdef0123456789abcdef", /* 32 digits */
        "/process_api/36ed4783c4cf61c62daa83ee4c9a09bf",
        "/" ID, /* an id alone at the root names nothing */
        "/docker/" ID "g",
        "/kubepods.slice/kubepods-burstable.slice",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        mg_container c = {.runtime = "x"};
        cr_assert_eq(mg_container_of(none[i], &c), 0, "%s", none[i]);
        cr_assert_str_eq(c.id, "");
        cr_assert_null(c.runtime);
    }
    mg_container c;
    cr_assert_eq(mg_container_of(NULL, &c), -EINVAL);
    cr_assert_eq(mg_container_of("/", NULL), -EINVAL);
}

Test(investigate, cgroup_and_container_selection)
{
    const char *p = "/system.slice/docker-" ID ".scope";
    cr_assert(mg_cgroup_selected(p, NULL, NULL));
    cr_assert(mg_cgroup_selected(p, "", ""));
    cr_assert(mg_cgroup_selected(p, "/", NULL));
    cr_assert(mg_cgroup_selected(p, "/system.slice", NULL));
    cr_assert(mg_cgroup_selected(p, "/system.slice/", NULL));
    cr_assert(mg_cgroup_selected(p, p, NULL));
    cr_assert_not(mg_cgroup_selected(p, "/system.sl", NULL));
    cr_assert_not(mg_cgroup_selected(p, "/user.slice", NULL));
    cr_assert(mg_cgroup_selected(p, NULL, "0123"));
    cr_assert(mg_cgroup_selected(p, NULL, "0123456789AB"));
    cr_assert(mg_cgroup_selected(p, NULL, ID));
    cr_assert(mg_cgroup_selected(p, "/system.slice", "01234"));
    cr_assert_not(mg_cgroup_selected(p, "/user.slice", "01234"));
    cr_assert_not(mg_cgroup_selected(p, NULL, "1234"));
    cr_assert_not(mg_cgroup_selected(p, NULL, ID "0"));
    cr_assert_not(mg_cgroup_selected("/init.scope", NULL, "0123"));
    cr_assert_not(mg_cgroup_selected(NULL, "/", NULL)); /* unknown */
    cr_assert(mg_cgroup_selected(NULL, NULL, NULL));
    cr_assert_not(mg_cgroup_selected(NULL, "/x", NULL));
}

/* ------------------------------------------------------------------ */
/* ps                                                                  */
/* ------------------------------------------------------------------ */

Test(investigate, ps_equals_proc)
{
    need_root();
    fixture_start(&fx, NULL);
    /* a zombie: a child of ours that exited, not reaped */
    pid_t z = fork();
    cr_assert_geq(z, 0);
    if (z == 0)
        _exit(0);
    child = z;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)z);
    for (int i = 0; i < 1000; i++) {
        char *st = slurp(path, NULL);
        bool zombie = st && strstr(st, ") Z ");
        free(st);
        if (zombie)
            break;
        usleep(2000);
    }
    prog_result r = memgrep_run((const char *[]){"ps", "--json", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_lines l = parse_lines(&r);

    /* the fixture, field by field against /proc */
    const jval *f = find_pid(&l, fx.pid);
    cr_assert(f, "fixture %d not listed", (int)fx.pid);
    cr_assert_str_eq(jstr(f, "type"), "process");
    char *comm = proc_file(fx.pid, "comm", NULL);
    comm[strcspn(comm, "\n")] = '\0';
    cr_assert_str_eq(jstr(f, "comm"), comm);
    size_t cl;
    char *cmd = proc_file(fx.pid, "cmdline", &cl);
    for (size_t i = 0; i + 1 < cl; i++)
        cmd[i] = cmd[i] ? cmd[i] : ' ';
    cr_assert_str_eq(jstr(f, "cmdline"), cmd);
    char *cg = cgroup_of(fx.pid);
    cr_assert_str_eq(jstr(f, "cgroup"), cg);
    char *statm = proc_file(fx.pid, "statm", NULL);
    unsigned long long sz, rss;
    cr_assert_eq(sscanf(statm, "%llu %llu", &sz, &rss), 2);
    cr_assert_eq(jint(f, "rss"), rss * PAGE, "rss %" PRIu64 " vs statm %llu pages", jint(f, "rss"),
                 rss);
    cr_assert_eq(jint(f, "euid"), geteuid());
    cr_assert_eq(jint(f, "ppid"), (uint64_t)getpid());
    cr_assert(jbool(f, "scannable"));
    cr_assert(jnull(f, "reason"));
    cr_assert(jnull(f, "container"), "the fixture is in %s", cg);

    /* why not: kernel thread, zombie, memgrep itself */
    const jval *k = find_pid(&l, 2); /* kthreadd, unless in a pid namespace */
    if (k && !strcmp(jstr(k, "comm"), "kthreadd")) {
        cr_assert_not(jbool(k, "scannable"));
        cr_assert_str_eq(jstr(k, "reason"), "kernel thread");
        cr_assert_str_eq(jstr(k, "cmdline"), "");
    }
    const jval *zz = find_pid(&l, z);
    cr_assert(zz, "zombie %d not listed", (int)z);
    cr_assert_str_eq(jstr(zz, "reason"), "zombie");
    cr_assert_str_eq(jstr(zz, "state"), "Z");
    const jval *self = find_pid(&l, r.pid);
    cr_assert(self, "memgrep (%d) not listed", (int)r.pid);
    cr_assert_str_eq(jstr(self, "reason"), "memgrep itself");

    /* every pid of /proc before and after the run is listed, ascending */
    pid_t prev = 0;
    for (size_t i = 0; i < l.n; i++) {
        pid_t p = (pid_t)jint(&l.v[i], "pid");
        cr_assert_gt(p, prev);
        prev = p;
    }
    size_t listed_alive = 0;
    for (size_t i = 0; i < l.n; i++) {
        snprintf(path, sizeof path, "/proc/%d", (int)jint(&l.v[i], "pid"));
        listed_alive += access(path, F_OK) == 0;
    }
    cr_assert_gt(listed_alive, 10u);

    /* text: a header and one line per process; -p narrows */
    char fp[16];
    snprintf(fp, sizeof fp, "%d", (int)fx.pid);
    prog_result t = memgrep_run((const char *[]){"ps", "-p", fp, NULL});
    cr_assert_eq(t.status, 0, "%s", t.err);
    cr_assert(strstr(t.out, "PID") && strstr(t.out, "CONTAINER"), "%s", t.out);
    cr_assert(strstr(t.out, fp) && strstr(t.out, cmd), "%s", t.out);
    size_t nl = 0;
    for (const char *c = t.out; *c; c++)
        nl += *c == '\n';
    cr_assert_eq(nl, 2u, "a header and the fixture: %s", t.out);
    free(comm);
    free(cmd);
    free(cg);
    free(statm);
    prog_result_free(&t);
    free_lines(&l);
    prog_result_free(&r);
}

Test(investigate, ps_filters_and_errors)
{
    prog_result r = memgrep_run(
        (const char *[]){"ps", "--container", "abcd", "--cgroup", "/memgrep-no-such-cgroup", NULL});
    cr_assert_eq(r.status, 1, "%s", r.err);
    prog_result_free(&r);
    expect_error((const char *[]){"ps", "--container", "abc", NULL},
                 (const char *[]){"'abc'", "--container", NULL});
    expect_error((const char *[]){"ps", "--container", "xyz1", NULL},
                 (const char *[]){"'xyz1'", NULL});
    expect_error((const char *[]){"ps", "--cgroup", "system.slice", NULL},
                 (const char *[]){"'system.slice'", "--cgroup", NULL});
    char dead[16];
    snprintf(dead, sizeof dead, "%d", (int)dead_pid());
    expect_error((const char *[]){"ps", "-p", dead, NULL}, (const char *[]){dead, NULL});
    expect_error((const char *[]){"maps", dead, NULL}, (const char *[]){dead, NULL});
    expect_error((const char *[]){"maps", "12x", NULL}, (const char *[]){"'12x'", NULL});
    expect_error((const char *[]){"strings", dead, NULL}, (const char *[]){dead, NULL});
    expect_error((const char *[]){"dump", dead, "-o", "/tmp/mg-never", NULL},
                 (const char *[]){dead, NULL});
    expect_error((const char *[]){"dump", "1", NULL}, (const char *[]){"-o", NULL});
    cr_assert_neq(access("/tmp/mg-never", F_OK), 0);
}

/* ------------------------------------------------------------------ */
/* maps                                                                */
/* ------------------------------------------------------------------ */

Test(investigate, maps_equals_proc_maps_and_smaps_rss)
{
    need_root();
    fixture_start(&fx, NULL);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    prog_result r = memgrep_run((const char *[]){"maps", pid, "--json", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_lines l = parse_lines(&r);
    char *maps = proc_file(fx.pid, "maps", NULL), *smaps = proc_file(fx.pid, "smaps", NULL);
    char *save = NULL, *line;
    size_t i = 0, compared_rss = 0;
    long vdso_rss = -1;
    uint64_t size = 0, resident = 0, scannable = 0, unscannable = 0;
    for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        cr_assert_lt(i, l.n);
        const jval *o = &l.v[i];
        cr_assert_str_eq(jstr(o, "type"), "region");
        uint64_t a, b, off;
        char perms[5];
        int used = 0;
        cr_assert_eq(sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %*x:%*x %*u%n", &a, &b,
                            perms, &off, &used),
                     4);
        const char *p = line + used;
        while (*p == ' ')
            p++;
        cr_assert_eq(jhex(o, "start"), a);
        cr_assert_eq(jhex(o, "end"), b);
        cr_assert_eq(jint(o, "size"), b - a);
        cr_assert_str_eq(jstr(o, "perms"), perms);
        cr_assert_eq(jhex(o, "offset"), off);
        char expect[4200];
        snprintf(expect, sizeof expect, "%s%s", jstr(o, "path"),
                 jbool(o, "deleted") ? " (deleted)" : "");
        cr_assert_str_eq(expect, p);
        /* smaps Rss of the same region (the fixture is idle) */
        char head[64];
        snprintf(head, sizeof head, "\n%" PRIx64 "-%" PRIx64 " ", a, b);
        char *at = strstr(smaps, head);
        if (!at && !strncmp(smaps, head + 1, strlen(head + 1)))
            at = smaps - 1;
        cr_assert(at, "no smaps entry for %" PRIx64, a);
        long kb = -1;
        char *rl = strstr(at + 1, "\nRss:");
        cr_assert(rl && sscanf(rl, "\nRss: %ld kB", &kb) == 1);
        /* every region, special ones too: [vdso] as smaps, [vvar] 0 */
        cr_assert_eq(jint(o, "resident"), (uint64_t)kb * 1024,
                     "%" PRIx64 "-%" PRIx64 " %s %s: resident %" PRIu64 ", smaps Rss %ld kB", a, b,
                     perms, p, jint(o, "resident"), kb);
        compared_rss++;
        if (!strcmp(p, "[vdso]"))
            vdso_rss = kb;
        size += b - a;
        resident += jint(o, "resident");
        if (perms[0] != 'r')
            cr_assert_not(jbool(o, "scannable"), "%" PRIx64 " %s is scannable", a, perms);
        if (jbool(o, "scannable"))
            scannable += jint(o, "resident");
        else
            unscannable += jint(o, "resident");
    }
    cr_assert_eq(i + 1, l.n, "one region per maps line, then the total");
    const jval *t = &l.v[i];
    cr_assert_str_eq(jstr(t, "type"), "total");
    cr_assert_eq(jint(t, "regions"), i);
    cr_assert_eq(jint(t, "size"), size);
    cr_assert_eq(jint(t, "resident"), resident);
    /* the scannable regions' resident bytes: not the fixture's PROT_NONE page */
    cr_assert_eq(jint(t, "resident_scannable"), scannable);
    cr_assert_gt(unscannable, 0u, "no resident byte outside the scannable regions");
    cr_assert_gt(compared_rss, 10u);
    cr_assert_gt(vdso_rss, 0, "[vdso]: smaps Rss %ld kB (none, or no page)", vdso_rss);

    /* text: raw bytes when not a terminal, a header, a total line */
    prog_result tx = memgrep_run((const char *[]){"maps", pid, NULL});
    cr_assert_eq(tx.status, 0);
    char total[64];
    snprintf(total, sizeof total, "total (%zu regions)", i);
    cr_assert(strstr(tx.out, total), "%s", tx.out);
    char sz[32];
    snprintf(sz, sizeof sz, " %" PRIu64 " ", size);
    cr_assert(strstr(tx.out, sz), "total size %s not in %s", sz, tx.out);
    prog_result h = memgrep_run((const char *[]){"maps", pid, "--human", NULL});
    cr_assert(strstr(h.out, "KiB"), "%s", h.out);
    fprintf(stderr,
            "maps: %zu regions of the fixture, %zu compared with smaps Rss, %" PRIu64
            " bytes resident\n",
            i, compared_rss, resident);
    prog_result_free(&h);
    prog_result_free(&tx);
    free(maps);
    free(smaps);
    free_lines(&l);
    prog_result_free(&r);
}

/* ------------------------------------------------------------------ */
/* A target with planted runs: across a strings chunk boundary, ending  */
/* at a page that is not present, wide, and pseudo-random bytes        */
/* ------------------------------------------------------------------ */

static void start_target(target *t)
{
    const char *exe = getenv("MG_INVESTIGATE_TARGET");
    cr_assert(exe && *exe, "MG_INVESTIGATE_TARGET is not set (run through meson test)");
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], STDOUT_FILENO);
        execl(exe, exe, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    child = pid;
    cr_assert_eq(read(p[0], t, sizeof *t), (ssize_t)sizeof *t, "%s wrote no target", exe);
    close(p[0]);
    t->pid = pid;
}

static char *range_arg(uint64_t a, uint64_t b)
{
    char *s;
    cr_assert_geq(asprintf(&s, "%" PRIx64 "-%" PRIx64, a, b), 0);
    return s;
}

/* ------------------------------------------------------------------ */
/* dump                                                                */
/* ------------------------------------------------------------------ */

/* The dump of [start, end) of pid in file: data exactly where pagemap says
 * present (SEEK_DATA/SEEK_HOLE), holding what /proc/PID/mem holds there.
 * Returns the present bytes. */
static uint64_t check_dump(pid_t pid, const char *file, uint64_t start, uint64_t end)
{
    int fd = open(file, O_RDONLY);
    cr_assert_geq(fd, 0, "%s: %s", file, strerror(errno));
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq((uint64_t)st.st_size, end - start, "%s: size", file);
    cr_assert_eq(st.st_mode & 0777, 0600, "%s: mode %o", file, st.st_mode & 0777);
    uint64_t present = 0;
    static uint8_t expect[PAGE], got[PAGE];
    for (uint64_t a = start; a < end; a += PAGE) {
        off_t off = (off_t)(a - start);
        off_t data = lseek(fd, off, SEEK_DATA);
        bool in_file = data == off;
        bool in_mem = pagemap_entry(pid, a) >> 63;
        cr_assert_eq(in_file, in_mem, "%s: page 0x%" PRIx64 ": %s in the dump, %s per pagemap",
                     file, a, in_file ? "data" : "a hole", in_mem ? "present" : "not present");
        if (!in_mem)
            continue;
        present += PAGE;
        cr_assert_eq(pread(fd, got, PAGE, off), (ssize_t)PAGE);
        cr_assert_eq(read_mem(pid, a, expect, PAGE), (ssize_t)PAGE);
        cr_assert_eq(memcmp(got, expect, PAGE), 0, "%s: page 0x%" PRIx64 " differs", file, a);
    }
    close(fd);
    return present;
}

Test(investigate, dump_equals_mem_with_holes_where_not_present)
{
    need_root();
    target t;
    start_target(&t);
    const char *dir = make_tmpdir();
    char pid[16], *file, *out;
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    cr_assert_geq(asprintf(&file, "%s/one.bin", dir), 0);
    char *range = range_arg(t.start, t.end);
    prog_result r = memgrep_run((const char *[]){"dump", pid, range, "-o", file, "--json", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_lines l = parse_lines(&r);
    cr_assert_eq(l.n, 1u);
    cr_assert_eq(jhex(&l.v[0], "start"), t.start);
    cr_assert_eq(jhex(&l.v[0], "end"), t.end);
    cr_assert_str_eq(jstr(&l.v[0], "file"), file);
    uint64_t present = check_dump(t.pid, file, t.start, t.end);
    cr_assert_eq(jint(&l.v[0], "present_bytes"), present);
    /* the present ranges of the manifest are the pagemap's runs */
    const jval *pr = json_get(&l.v[0], "present");
    cr_assert(pr && pr->t == J_ARR);
    uint64_t sum = 0;
    for (size_t i = 0; i < pr->n; i++) {
        uint64_t a = jhex(&pr->items[i], "start"), b = jhex(&pr->items[i], "end");
        sum += b - a;
        cr_assert(pagemap_entry(t.pid, a) >> 63);
        cr_assert(pagemap_entry(t.pid, b - PAGE) >> 63);
        if (b < t.end)
            cr_assert_not(pagemap_entry(t.pid, b) >> 63, "range end 0x%" PRIx64 " present", b);
    }
    cr_assert_eq(sum, present);
    /* the fill: random pages, the page across 1 MiB, the page at 2 MiB - 4K, the wide page */
    cr_assert_geq(present, (T_RANDOM_PAGES + 3) * PAGE);
    cr_assert_lt(present, T_SIZE / 2);

    /* an existing file is not replaced without --force */
    struct stat before;
    cr_assert_eq(stat(file, &before), 0);
    expect_error((const char *[]){"dump", pid, range, "-o", file, NULL},
                 (const char *[]){file, "--force", NULL});
    prog_result f = memgrep_run((const char *[]){"dump", pid, range, "-o", file, "--force", NULL});
    cr_assert_eq(f.status, 0, "%s", f.err);
    check_dump(t.pid, file, t.start, t.end);
    expect_error((const char *[]){"dump", pid, "no-such-region", "-o", file, "--force", NULL},
                 (const char *[]){"'no-such-region'", pid, NULL});
    expect_error((const char *[]){"dump", pid, "[vvar]", "-o", file, "--force", NULL},
                 (const char *[]){"[vvar]", "never reads", NULL});

    /* several regions: a directory of START-END.bin */
    cr_assert_geq(asprintf(&out, "%s/all", dir), 0);
    prog_result all = memgrep_run((const char *[]){"dump", pid, "-o", out, "--json", NULL});
    const size_t min_regions = 6;
    cr_assert_eq(all.status, 0, "%s", all.err);
    json_lines la = parse_lines(&all);
    cr_assert_geq(la.n, min_regions);
    bool saw_target = false;
    uint64_t total = 0;
    for (size_t i = 0; i < la.n; i++) {
        uint64_t a = jhex(&la.v[i], "start"), b = jhex(&la.v[i], "end");
        char expect[256];
        snprintf(expect, sizeof expect, "%s/%" PRIx64 "-%" PRIx64 ".bin", out, a, b);
        cr_assert_str_eq(jstr(&la.v[i], "file"), expect);
        total += check_dump(t.pid, expect, a, b);
        saw_target |= a == t.start && b == t.end;
    }
    cr_assert(saw_target);
    struct stat ds;
    cr_assert_eq(stat(out, &ds), 0);
    cr_assert_eq(ds.st_mode & 0777, 0700);
    fprintf(stderr,
            "dump: target region %" PRIu64 " of %u bytes present; all %zu regions: %" PRIu64
            " bytes present, every page checked against pagemap and /proc/PID/mem\n",
            present, T_SIZE, la.n, total);
    free_lines(&la);
    prog_result_free(&all);
    prog_result_free(&f);
    free_lines(&l);
    prog_result_free(&r);
    free(range);
    free(file);
    free(out);
}

/* Several regions into a symbolic link to a directory: refused (the
 * directory is never a symbolic link), nothing written, --force or not. */
Test(investigate, dump_into_a_symlink_to_a_directory_is_refused)
{
    need_root();
    target t;
    start_target(&t);
    const char *dir = make_tmpdir();
    char pid[16], *real, *link;
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    cr_assert_geq(asprintf(&real, "%s/real", dir), 0);
    cr_assert_geq(asprintf(&link, "%s/link", dir), 0);
    cr_assert_eq(mkdir(real, 0700), 0);
    cr_assert_eq(symlink(real, link), 0);
    expect_error((const char *[]){"dump", pid, "-o", link, NULL},
                 (const char *[]){link, "not a directory", NULL});
    expect_error((const char *[]){"dump", pid, "-o", link, "--force", NULL},
                 (const char *[]){link, "not a directory", NULL});
    DIR *d = opendir(real);
    cr_assert(d, "%s: %s", real, strerror(errno));
    for (struct dirent *e; (e = readdir(d));)
        cr_assert(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."), "%s/%s was written", real,
                  e->d_name);
    closedir(d);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "%s is no longer a symbolic link", link);
    free(real);
    free(link);
}

/* The manifest of a directory dump, field by field: the process as /proc
 * has it, each file's range equal to a line of /proc/PID/maps (or the
 * piece of it asked for), present runs as pagemap says, and a sha256 equal
 * to sha256sum's of the file. */

/* Field 22 of /proc/PID/stat. */
static unsigned long long stat_starttime(pid_t pid)
{
    char *s = proc_file(pid, "stat", NULL), *p = strrchr(s, ')');
    cr_assert(p);
    unsigned long long v = 0;
    p += 2; /* field 3 */
    for (int field = 3; field < 22; field++)
        p = strchr(p, ' ') + 1;
    v = strtoull(p, NULL, 10);
    free(s);
    return v;
}

static void check_manifest_process(const jval *m, pid_t pid)
{
    cr_assert_str_eq(jstr(m, "type"), "manifest");
    cr_assert_eq((pid_t)jint(m, "pid"), pid);
    cr_assert_eq(jint(m, "starttime"), stat_starttime(pid));
    cr_assert_eq(jint(m, "page_size"), PAGE);
    char exe[4096], path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    cr_assert_gt(n, 0);
    exe[n] = '\0';
    cr_assert_str_eq(jstr(m, "exe"), exe);
    size_t len;
    char *cmd = proc_file(pid, "cmdline", &len);
    while (len && !cmd[len - 1])
        len--;
    for (size_t i = 0; i < len; i++)
        cmd[i] = cmd[i] ? cmd[i] : ' ';
    cmd[len] = '\0';
    cr_assert_str_eq(jstr(m, "cmdline"), cmd);
    free(cmd);
    char *comm = proc_file(pid, "comm", NULL);
    comm[strcspn(comm, "\n")] = '\0';
    cr_assert_str_eq(jstr(m, "comm"), comm);
    free(comm);
}

/* One file of the manifest: its name, its sha256, its size and present
 * runs (pagemap). Returns its present bytes. */
static uint64_t check_manifest_file(const jval *f, pid_t pid, const char *dir)
{
    uint64_t a = jhex(f, "start"), b = jhex(f, "end");
    char name[64], *file;
    snprintf(name, sizeof name, "%" PRIx64 "-%" PRIx64 ".bin", a, b);
    cr_assert_str_eq(jstr(f, "file"), name);
    cr_assert_geq(asprintf(&file, "%s/%s", dir, name), 0);
    uint64_t present = check_dump(pid, file, a, b);
    cr_assert_eq(jint(f, "size"), b - a);
    cr_assert_eq(jint(f, "present_bytes"), present);
    char *sum = sha256sum(file);
    cr_assert_str_eq(jstr(f, "sha256"), sum, "%s", file);
    const jval *pr = json_get(f, "present");
    cr_assert(pr && pr->t == J_ARR);
    uint64_t total = 0, prev = a;
    for (size_t i = 0; i < pr->n; i++) {
        uint64_t s = jhex(&pr->items[i], "start"), e = jhex(&pr->items[i], "end");
        cr_assert(s >= prev && s < e && e <= b);
        cr_assert(pagemap_entry(pid, s) >> 63);
        total += e - s;
        prev = e;
    }
    cr_assert_eq(total, present);
    free(sum);
    free(file);
    return present;
}

Test(investigate, dump_directory_manifest_names_process_ranges_and_sha256)
{
    need_root();
    target t;
    start_target(&t);
    const char *dir = make_tmpdir();
    char pid[16], *one, *all;
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    char *range = range_arg(t.start, t.end);
    /* one region into PATH/ (absent: made), the piece asked for */
    cr_assert_geq(asprintf(&one, "%s/one/", dir), 0);
    prog_result r = memgrep_run((const char *[]){"dump", pid, range, "-o", one, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    jval m = read_manifest(one);
    check_manifest_process(&m, t.pid);
    const jval *files = json_get(&m, "files");
    cr_assert(files && files->t == J_ARR && files->n == 1);
    cr_assert_eq(jhex(&files->items[0], "start"), t.start);
    cr_assert_eq(jhex(&files->items[0], "end"), t.end);
    const jval *reg = json_get(&files->items[0], "region");
    cr_assert_eq(jhex(reg, "start"), t.start);
    cr_assert_eq(jhex(reg, "end"), t.end);
    cr_assert_str_eq(jstr(reg, "perms"), "rw-p");
    cr_assert_geq(check_manifest_file(&files->items[0], t.pid, one), (T_RANDOM_PAGES + 3) * PAGE);
    json_free(&m);
    /* again into the same directory: the manifest is not replaced without --force */
    expect_error((const char *[]){"dump", pid, range, "-o", one, NULL},
                 (const char *[]){"manifest.json", "--force", NULL});
    prog_result_free(&r);
    /* one region into an existing directory (no '/'): inside it, as cp */
    char *there;
    cr_assert_geq(asprintf(&there, "%s/there", dir), 0);
    cr_assert_eq(mkdir(there, 0700), 0);
    prog_result rt = memgrep_run((const char *[]){"dump", pid, range, "-o", there, NULL});
    cr_assert_eq(rt.status, 0, "%s", rt.err);
    m = read_manifest(there);
    files = json_get(&m, "files");
    cr_assert(files && files->t == J_ARR && files->n == 1);
    check_manifest_file(&files->items[0], t.pid, there);
    json_free(&m);
    prog_result_free(&rt);
    free(there);

    /* every region into an existing directory: one file per line of maps */
    cr_assert_geq(asprintf(&all, "%s/all", dir), 0);
    cr_assert_eq(mkdir(all, 0700), 0);
    prog_result ra = memgrep_run((const char *[]){"dump", pid, "-o", all, NULL});
    cr_assert_eq(ra.status, 0, "%s", ra.err);
    m = read_manifest(all);
    check_manifest_process(&m, t.pid);
    files = json_get(&m, "files");
    cr_assert(files && files->t == J_ARR && files->n >= 6);
    char *maps = proc_file(t.pid, "maps", NULL);
    bool saw_target = false;
    for (size_t i = 0; i < files->n; i++) {
        const jval *f = &files->items[i];
        reg = json_get(f, "region");
        uint64_t a = jhex(f, "start"), b = jhex(f, "end");
        cr_assert_eq(jhex(reg, "start"), a);
        cr_assert_eq(jhex(reg, "end"), b);
        char line[64];
        snprintf(line, sizeof line, "%" PRIx64 "-%" PRIx64 " %s ", a, b, jstr(reg, "perms"));
        cr_assert(strstr(maps, line), "'%s' is not a line of /proc/%s/maps", line, pid);
        check_manifest_file(f, t.pid, all);
        saw_target |= a == t.start && b == t.end;
    }
    cr_assert(saw_target);
    fprintf(stderr, "dump manifest: %zu files, each sha256 equal to sha256sum's\n", files->n);
    free(maps);
    json_free(&m);
    prog_result_free(&ra);
    free(range);
    free(one);
    free(all);
}

/* dump --core: gdb, given the program and the core, prints the planted
 * runs at their addresses, and a page that was not present is not in the
 * core (gdb cannot read it; nothing was faulted in). */
Test(investigate, dump_core_is_read_by_gdb)
{
    need_root();
    if (access("/usr/bin/gdb", X_OK) < 0)
        cr_skip_test("no /usr/bin/gdb (scripts/bootstrap --tests installs it)");
    target t;
    start_target(&t);
    const char *dir = make_tmpdir();
    char pid[16], *core;
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    cr_assert_geq(asprintf(&core, "%s/core", dir), 0);
    prog_result r = memgrep_run((const char *[]){"dump", pid, "--core", core, "--json", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_lines l = parse_lines(&r);
    cr_assert_geq(l.n, 6u);
    struct stat st;
    cr_assert_eq(stat(core, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    uint64_t hole = t.start + (2u << 20);
    cr_assert_not(pagemap_entry(t.pid, hole) >> 63, "the page at 2 MiB is present");
    char x1[64], x2[64], x3[64];
    snprintf(x1, sizeof x1, "x/s 0x%" PRIx64, t.at_hole);
    snprintf(x2, sizeof x2, "x/s 0x%" PRIx64, t.across);
    snprintf(x3, sizeof x3, "x/x 0x%" PRIx64, hole);
    const char *exe = getenv("MG_INVESTIGATE_TARGET");
    prog_result g = prog_run((const char *[]){"/usr/bin/gdb", "-batch", "-nx", "-ex", x1, "-ex", x2,
                                              "-ex", x3, exe, core, NULL});
    char expect[256];
    /* the run ends at the last byte of its page: the next is not in the core */
    snprintf(expect, sizeof expect,
             "0x%" PRIx64 ":\t\"ends-at-a-page-not-present-X\"<error: Cannot access memory at "
             "address 0x%" PRIx64 ">\n",
             t.at_hole, hole);
    cr_assert(strstr(g.out, expect), "gdb printed:\n%s\nstderr:\n%s", g.out, g.err);
    char across[128] = {0};
    for (size_t i = 0; i < t.across_len; i++)
        across[i] = (char)('a' + i % 26);
    snprintf(expect, sizeof expect, "0x%" PRIx64 ":\t\"%s\"\n", t.across, across);
    cr_assert(strstr(g.out, expect), "gdb printed:\n%s\nstderr:\n%s", g.out, g.err);
    snprintf(expect, sizeof expect, "Cannot access memory at address 0x%" PRIx64, hole);
    cr_assert(strstr(g.err, expect), "gdb read the page that is not present:\n%s\n%s", g.out,
              g.err);
    fprintf(stderr, "dump --core: %zu regions, gdb prints the planted runs\n", l.n);
    /* -o and --core together, and neither, are refused */
    expect_error((const char *[]){"dump", pid, "--core", core, "-o", core, NULL},
                 (const char *[]){"--core", "not both", NULL});
    expect_error((const char *[]){"dump", pid, "--core", core, NULL},
                 (const char *[]){core, "--force", NULL});
    prog_result_free(&g);
    free_lines(&l);
    prog_result_free(&r);
    free(core);
}

/* ------------------------------------------------------------------ */
/* strings                                                             */
/* ------------------------------------------------------------------ */

typedef struct str_set {
    uint64_t *addr;
    char **text;
    size_t n;
} str_set;

static void set_add(str_set *s, uint64_t a, const char *t, size_t len)
{
    s->addr = realloc(s->addr, (s->n + 1) * sizeof *s->addr);
    s->text = realloc(s->text, (s->n + 1) * sizeof *s->text);
    s->addr[s->n] = a;
    s->text[s->n++] = strndup(t, len);
}

static void set_free(str_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->text[i]);
    free(s->addr);
    free(s->text);
    memset(s, 0, sizeof *s);
}

static int cmp_entry(const str_set *s, size_t i, size_t j)
{
    if (s->addr[i] != s->addr[j])
        return s->addr[i] < s->addr[j] ? -1 : 1;
    return strcmp(s->text[i], s->text[j]);
}

static void set_sort(str_set *s)
{
    for (size_t i = 1; i < s->n; i++)
        for (size_t j = i; j > 0 && cmp_entry(s, j - 1, j) > 0; j--) {
            uint64_t a = s->addr[j];
            s->addr[j] = s->addr[j - 1];
            s->addr[j - 1] = a;
            char *t = s->text[j];
            s->text[j] = s->text[j - 1];
            s->text[j - 1] = t;
        }
}

/* Lines "ADDR TEXT" (ADDR hex, with or without 0x; GNU pads it with spaces). */
static str_set parse_strings(const char *out, uint64_t shift)
{
    str_set s = {0};
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        cr_assert(nl, "unterminated line");
        while (*p == ' ')
            p++;
        char *end;
        uint64_t a = strtoull(p, &end, 16);
        cr_assert_eq(*end, ' ', "bad line %.*s", (int)(nl - p), p);
        set_add(&s, a + shift, end + 1, (size_t)(nl - end - 1));
        p = nl + 1;
    }
    set_sort(&s);
    return s;
}

static bool set_has(const str_set *s, uint64_t a, const char *t)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->addr[i] == a && !strcmp(s->text[i], t))
            return true;
    return false;
}

static void assert_same_sets(const str_set *a, const str_set *b, const char *what)
{
    for (size_t i = 0; i < a->n && i < b->n; i++)
        cr_assert(a->addr[i] == b->addr[i] && !strcmp(a->text[i], b->text[i]),
                  "%s: entry %zu: memgrep 0x%" PRIx64 " '%s', strings 0x%" PRIx64 " '%s'", what, i,
                  a->addr[i], a->text[i], b->addr[i], b->text[i]);
    cr_assert_eq(a->n, b->n, "%s: memgrep %zu runs, strings %zu", what, a->n, b->n);
}

static const char *gnu_strings(void)
{
    static const char *const where[] = {"/usr/bin/strings", "/bin/strings"};
    for (size_t i = 0; i < 2; i++)
        if (access(where[i], X_OK) == 0)
            return where[i];
    cr_skip_test("GNU strings (binutils) is not installed");
    return NULL;
}

Test(investigate, strings_equal_gnu_strings_of_the_dump)
{
    need_root();
    const char *gs = gnu_strings();
    target t;
    start_target(&t);
    const char *dir = make_tmpdir();
    char pid[16], *file;
    snprintf(pid, sizeof pid, "%d", (int)t.pid);
    cr_assert_geq(asprintf(&file, "%s/t.bin", dir), 0);
    char *range = range_arg(t.start, t.end);
    prog_result d = memgrep_run((const char *[]){"dump", pid, range, "-o", file, NULL});
    cr_assert_eq(d.status, 0, "%s", d.err);
    static const char *const mins[] = {"4", "8", "1", "20"};
    for (size_t m = 0; m < sizeof mins / sizeof mins[0]; m++) {
        prog_result ms =
            memgrep_run((const char *[]){"strings", pid, "--region", range, "-n", mins[m], NULL});
        cr_assert_eq(ms.status, 0, "%s", ms.err);
        prog_result g = prog_run((const char *[]){gs, "-a", "-t", "x", "-n", mins[m], file, NULL});
        cr_assert_eq(g.status, 0, "%s", g.err);
        str_set a = parse_strings(ms.out, 0), b = parse_strings(g.out, t.start);
        char what[64];
        snprintf(what, sizeof what, "-n %s", mins[m]);
        assert_same_sets(&a, &b, what);
        if (!strcmp(mins[m], "4")) {
            char across[128], hole[64];
            for (size_t i = 0; i < t.across_len; i++)
                across[i] = (char)('a' + i % 26);
            across[t.across_len] = '\0';
            cr_assert(set_has(&a, t.across, across), "the run across the chunk boundary");
            memcpy(hole, "ends-at-a-page-not-present-X", t.at_hole_len);
            hole[t.at_hole_len] = '\0';
            cr_assert(set_has(&a, t.at_hole, hole), "the run ending at a page not present");
            fprintf(stderr, "strings -n 4: %zu runs, equal to GNU strings -a -t x over the dump\n",
                    a.n);
        }
        set_free(&a);
        set_free(&b);
        prog_result_free(&ms);
        prog_result_free(&g);
    }
    /* --wide: the 8-bit runs and the UTF-16LE ones of strings -el */
    prog_result mw =
        memgrep_run((const char *[]){"strings", pid, "--region", range, "--wide", NULL});
    cr_assert_eq(mw.status, 0, "%s", mw.err);
    prog_result g8 = prog_run((const char *[]){gs, "-a", "-t", "x", "-n", "4", file, NULL});
    prog_result g16 = prog_run((const char *[]){gs, "-a", "-t", "x", "-el", "-n", "4", file, NULL});
    size_t n8 = strlen(g8.out);
    char *both = malloc(n8 + g16.out_len + 1);
    memcpy(both, g8.out, n8);
    memcpy(both + n8, g16.out, g16.out_len + 1);
    str_set a = parse_strings(mw.out, 0), b = parse_strings(both, t.start);
    assert_same_sets(&a, &b, "--wide");
    cr_assert(set_has(&a, t.wide, "wide-run-in-utf16"));
    fprintf(stderr, "strings --wide: %zu runs, equal to strings -a plus strings -a -el\n", a.n);
    /* JSON */
    prog_result j =
        memgrep_run((const char *[]){"strings", pid, "--region", range, "--json", NULL});
    json_lines l = parse_lines(&j);
    cr_assert_gt(l.n, 10u);
    bool found = false;
    for (size_t i = 0; i < l.n; i++)
        found |= jhex(&l.v[i], "address") == t.across && jint(&l.v[i], "length") == t.across_len &&
                 !jbool(&l.v[i], "wide");
    cr_assert(found);
    free_lines(&l);
    prog_result_free(&j);
    set_free(&a);
    set_free(&b);
    free(both);
    prog_result_free(&mw);
    prog_result_free(&g8);
    prog_result_free(&g16);
    prog_result_free(&d);
    free(range);
    free(file);
}

/* mg_strings itself: arguments and a stop from the callback. */
static int count_run(void *ctx, const mg_string *s)
{
    (void)s;
    return ++*(int *)ctx == 3 ? 7 : 0;
}

static int stop_with_eio(void *ctx, const mg_string *s)
{
    (void)ctx, (void)s;
    return -EIO;
}

Test(investigate, mg_strings_arguments)
{
    need_root();
    target t;
    start_target(&t);
    int n = 0;
    mg_error err = {{0}};
    cr_assert_eq(mg_strings(t.pid, t.start, t.end, 4, 0, count_run, &n, &err), 7);
    cr_assert_eq(n, 3);
    cr_assert_eq(mg_strings(t.pid, t.start, t.end, 4, 0, NULL, &n, &err), -EINVAL);
    cr_assert_eq(mg_strings(t.pid, t.start, t.end, 0, 0, count_run, &n, &err), -EINVAL);
    cr_assert_eq(mg_strings(t.pid, t.start, t.end, 4, 8, count_run, &n, &err), -EINVAL);
    cr_assert_eq(mg_strings(t.pid, t.start + 1, t.end, 4, 0, count_run, &n, &err), -EINVAL);
    cr_assert_eq(mg_strings(t.pid, t.start, t.end + PAGE, 4, 0, count_run, &n, &err), -EINVAL);
    cr_assert_eq(mg_strings(t.pid, t.start - PAGE, t.start, 4, 0, count_run, &n, &err), -EPERM,
                 "%s", err.message);
    cr_assert_eq(mg_strings(getpid(), t.start, t.end, 4, 0, count_run, &n, &err), MG_EBADPID);
    /* a callback's negative value is not taken for a library code (-EIO) */
    cr_assert_eq(mg_strings(t.pid, t.start, t.end, 4, 0, stop_with_eio, NULL, &err), -ECANCELED);
}

/* ------------------------------------------------------------------ */
/* Containers: real cgroups                                            */
/* ------------------------------------------------------------------ */

/* The cgroup v2 mount point, or "" (from /proc/self/mountinfo). */
static void cgroup2_mount(char *out, size_t size)
{
    out[0] = '\0';
    char *mi = slurp("/proc/self/mountinfo", NULL), *save = NULL;
    for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char mnt[512];
        char *sep = strstr(line, " - cgroup2 ");
        if (sep && sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1) {
            snprintf(out, size, "%s", mnt);
            break;
        }
    }
    free(mi);
}

/* A host with cgroup v1 only mounts no v2 hierarchy, but it is there all
 * the same (the "0::" line of /proc/PID/cgroup): mount it over
 * /sys/fs/cgroup in a mount namespace of this test's process alone. */
static void mount_cgroup2(char *out, size_t size)
{
    const char *dir = "/sys/fs/cgroup";
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        cr_skip_test("no cgroup v2 hierarchy mounted, and no mount namespace to mount one: %s",
                     strerror(errno));
    if (mount("cgroup2", dir, "cgroup2", 0, NULL) < 0)
        cr_skip_test("no cgroup v2 hierarchy mounted, and mounting one on %s failed: %s", dir,
                     strerror(errno));
    cr_log_info("cgroup v2 mounted on %s for this test (a cgroup v1 host)", dir);
    fprintf(stderr, "investigate: cgroup v1 only: cgroup v2 mounted on %s for this test\n", dir);
    snprintf(out, size, "%s", dir);
}

static bool write_pid(const char *dir, pid_t pid)
{
    char path[600];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fprintf(f, "%d\n", (int)pid) > 0;
    return fclose(f) == 0 && ok;
}

Test(investigate, containers_in_real_cgroups)
{
    need_root();
    char mnt[512], parent[700], scope[800], id[65];
    cgroup2_mount(mnt, sizeof mnt);
    if (!mnt[0])
        mount_cgroup2(mnt, sizeof mnt);
    char *ours = cgroup_of(getpid());
    random_token(id);
    random_token(id + 16);
    random_token(id + 32);
    random_token(id + 48);
    /* under our own cgroup: writable wherever we are */
    snprintf(parent, sizeof parent, "%s%s/memgrep-test-%d", mnt, strcmp(ours, "/") ? ours : "",
             (int)getpid());
    snprintf(scope, sizeof scope, "%s/docker-%s.scope", parent, id);
    if (mkdir(parent, 0755) < 0)
        cr_skip_test("cgroup v2 at %s is not writable: %s", mnt, strerror(errno));
    if (mkdir(scope, 0755) < 0) {
        rmdir(parent);
        cr_skip_test("cannot create %s: %s", scope, strerror(errno));
    }
    fixture_start(&fx, NULL);
    char home[800];
    snprintf(home, sizeof home, "%s%s", mnt, strcmp(ours, "/") ? ours : "");
    bool moved = write_pid(scope, fx.pid);
    char want_cg[900];
    snprintf(want_cg, sizeof want_cg, "%s/memgrep-test-%d/docker-%s.scope",
             strcmp(ours, "/") ? ours : "", (int)getpid(), id);
    char pid[16], prefix[13], *marker = fixture_marker(&fx, fx.plants[0].name);
    snprintf(pid, sizeof pid, "%d", (int)fx.pid);
    memcpy(prefix, id, 12);
    prefix[12] = '\0';
    prog_result ps = {0}, pc = {0}, sc = {0}, st = {0}, other = {0};
    json_lines l = {0}, ls = {0};
    if (!moved)
        goto cleanup;
    char *cg = cgroup_of(fx.pid);
    cr_expect_str_eq(cg, want_cg);
    free(cg);
    /* ps --container PREFIX: exactly the fixture, with id and runtime */
    ps = memgrep_run((const char *[]){"ps", "--json", "--container", prefix, NULL});
    cr_expect_eq(ps.status, 0, "%s", ps.err);
    l = parse_lines(&ps);
    cr_expect_eq(l.n, 1u, "%s", ps.out);
    if (l.n == 1) {
        cr_expect_eq(jint(&l.v[0], "pid"), (uint64_t)fx.pid);
        cr_expect_str_eq(jstr(&l.v[0], "container"), id);
        cr_expect_str_eq(jstr(&l.v[0], "runtime"), "docker");
        cr_expect_str_eq(jstr(&l.v[0], "cgroup"), want_cg);
    }
    /* --cgroup PREFIX selects it too; text shows the 12-digit id */
    char cgp[800];
    snprintf(cgp, sizeof cgp, "%s/memgrep-test-%d", strcmp(ours, "/") ? ours : "", (int)getpid());
    pc = memgrep_run((const char *[]){"ps", "--cgroup", cgp, NULL});
    cr_expect_eq(pc.status, 0, "%s", pc.err);
    cr_expect(strstr(pc.out, prefix) && strstr(pc.out, pid), "%s", pc.out);
    /* scan --container: the fixture's plants, records with cgroup and container */
    sc = memgrep_run((const char *[]){"scan", "--json", "--container", prefix, "-e", marker, NULL});
    cr_expect_eq(sc.status, 0, "%s", sc.err);
    ls = parse_lines(&sc);
    size_t matches = 0;
    for (size_t i = 0; i < ls.n; i++) {
        if (strcmp(jstr(&ls.v[i], "type"), "match"))
            continue;
        matches++;
        cr_expect_eq(jint(&ls.v[i], "pid"), (uint64_t)fx.pid);
        cr_expect_str_eq(jstr(&ls.v[i], "container"), id);
        cr_expect_str_eq(jstr(&ls.v[i], "cgroup"), want_cg);
    }
    cr_expect_gt(matches, 0u);
    /* strings with the container instead of a PID */
    st = memgrep_run((const char *[]){"strings", "--container", prefix, "--region", "heap", NULL});
    cr_expect_eq(st.status, 0, "%s", st.err);
    /* a PID outside the container: exit 1 */
    char self[16];
    snprintf(self, sizeof self, "%d", (int)getpid());
    other = memgrep_run((const char *[]){"maps", self, "--container", prefix, NULL});
    cr_expect_eq(other.status, 1, "%s", other.err);
    fprintf(stderr, "containers: fixture %d in %s: ps, scan (%zu matches), strings by container\n",
            (int)fx.pid, want_cg, matches);
cleanup:
    write_pid(home, fx.pid);
    fixture_stop(&fx);
    cr_expect_eq(rmdir(scope), 0, "rmdir %s: %s", scope, strerror(errno));
    cr_expect_eq(rmdir(parent), 0, "rmdir %s: %s", parent, strerror(errno));
    cr_assert(moved, "could not move the fixture into %s", scope);
    free_lines(&l);
    free_lines(&ls);
    prog_result_free(&ps);
    prog_result_free(&pc);
    prog_result_free(&sc);
    prog_result_free(&st);
    prog_result_free(&other);
    free(marker);
    free(ours);
}

/* ------------------------------------------------------------------ */
/* The seed's story                                                    */
/* ------------------------------------------------------------------ */

#define TYPED "sudo cp /bin/su /tmp/echo"

/* Read the pty until needle shows up (or 20 s). */
static bool pty_wait(int fd, const char *needle, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int waited = 0; waited < 20000 && !strstr(buf, needle);) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) {
            waited += 100;
            continue;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got <= 0)
            return false;
        n += (size_t)got;
        buf[n] = '\0';
        if (n > cap / 2) { /* keep the tail */
            memmove(buf, buf + n - cap / 4, cap / 4 + 1);
            n = cap / 4;
        }
    }
    return strstr(buf, needle) != NULL;
}

Test(investigate, seed_story_typed_line_in_bash)
{
    need_root();
    if (access("/bin/bash", X_OK) < 0)
        cr_skip_test("no /bin/bash");
    int master, slave;
    cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(master);
        setsid();
        ioctl(slave, TIOCSCTTY, 0);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        if (slave > 2)
            close(slave);
        /* no PATH to find sudo in: the line is typed, never run */
        char *const env[] = {"PATH=/nonexistent-memgrep-test",
                             "HOME=/nonexistent-memgrep-test",
                             "TERM=dumb",
                             "PS1=mgtest$ ",
                             "HISTFILE=/dev/null",
                             NULL};
        execle("/bin/bash", "bash", "--norc", "--noprofile", "-i", (char *)NULL, env);
        _exit(127);
    }
    close(slave);
    child = pid;
    static char buf[65536];
    cr_assert(pty_wait(master, "mgtest$ ", buf, sizeof buf), "no prompt: %s", buf);
    cr_assert_eq(write(master, TYPED "\n", strlen(TYPED) + 1), (ssize_t)strlen(TYPED) + 1);
    cr_assert(pty_wait(master, "not found", buf, sizeof buf), "no answer: %s", buf);
    /* the next prompt: in the same read, or still to come */
    if (!strstr(strstr(buf, "not found"), "mgtest$ "))
        cr_assert(pty_wait(master, "mgtest$ ", buf, sizeof buf), "no second prompt: %s", buf);
    char spid[16];
    snprintf(spid, sizeof spid, "%d", (int)pid);

    /* ps finds the shell */
    prog_result ps = memgrep_run((const char *[]){"ps", "-p", spid, "--json", NULL});
    cr_assert_eq(ps.status, 0, "%s", ps.err);
    json_lines lp = parse_lines(&ps);
    cr_assert_eq(lp.n, 1u);
    cr_assert_str_eq(jstr(&lp.v[0], "comm"), "bash");
    cr_assert(jbool(&lp.v[0], "scannable"));
    /* maps shows its heap */
    prog_result mp = memgrep_run((const char *[]){"maps", spid, "--json", NULL});
    json_lines lm = parse_lines(&mp);
    uint64_t hs = 0, he = 0;
    for (size_t i = 0; i < lm.n; i++)
        if (!strcmp(jstr(&lm.v[i], "type"), "region") && !strcmp(jstr(&lm.v[i], "kind"), "heap")) {
            hs = jhex(&lm.v[i], "start");
            he = jhex(&lm.v[i], "end");
            cr_assert_gt(jint(&lm.v[i], "resident"), 0u);
        }
    cr_assert(hs && he > hs, "no heap in maps: %s", mp.out);
    /* strings --region heap holds the line */
    prog_result sr = memgrep_run((const char *[]){"strings", spid, "--region", "heap", NULL});
    cr_assert_eq(sr.status, 0, "%s", sr.err);
    str_set ss = parse_strings(sr.out, 0);
    uint64_t at = 0;
    size_t lines_with = 0;
    for (size_t i = 0; i < ss.n; i++) {
        cr_assert(ss.addr[i] >= hs && ss.addr[i] < he);
        char *p = strstr(ss.text[i], "cp /bin/su");
        if (p) {
            lines_with++;
            if (!at && !strcmp(ss.text[i], TYPED))
                at = ss.addr[i];
        }
    }
    cr_assert(at, "the typed line is not a heap string of its own:\n%s", sr.out);
    /* scan finds 'cp /bin/su' at the same addresses (5 bytes into each run) */
    prog_result sc =
        memgrep_run((const char *[]){"scan", "-p", spid, "-e", "cp /bin/su", "--json", NULL});
    cr_assert_eq(sc.status, 0, "%s", sc.err);
    json_lines lsc = parse_lines(&sc);
    bool found = false;
    size_t in_heap = 0;
    for (size_t i = 0; i < lsc.n; i++) {
        if (strcmp(jstr(&lsc.v[i], "type"), "match"))
            continue;
        uint64_t a = jhex(&lsc.v[i], "address");
        found |= a == at + 5;
        in_heap += a >= hs && a < he;
    }
    cr_assert(found, "scan did not report 0x%" PRIx64, at + 5);
    cr_assert_geq(in_heap, lines_with, "every heap run holding the text is a scan match");
    /* dump heap: the bytes at that offset are the line */
    const char *dir = make_tmpdir();
    char file[128];
    snprintf(file, sizeof file, "%s/heap.bin", dir);
    prog_result dp = memgrep_run((const char *[]){"dump", spid, "heap", "-o", file, NULL});
    cr_assert_eq(dp.status, 0, "%s", dp.err);
    int fd = open(file, O_RDONLY);
    char got[sizeof TYPED];
    cr_assert_eq(pread(fd, got, sizeof TYPED, (off_t)(at - hs)), (ssize_t)sizeof TYPED);
    close(fd);
    cr_assert_eq(memcmp(got, TYPED, strlen(TYPED)), 0);
    fprintf(stderr,
            "seed story: bash %d, heap %" PRIx64 "-%" PRIx64 ", '%s' at 0x%" PRIx64
            " (%zu heap runs hold 'cp /bin/su'; scan: %zu heap matches), dump offset 0x%" PRIx64
            "\n",
            (int)pid, hs, he, TYPED, at, lines_with, in_heap, at - hs);
    close(master);
    set_free(&ss);
    free_lines(&lp);
    free_lines(&lm);
    free_lines(&lsc);
    prog_result_free(&ps);
    prog_result_free(&mp);
    prog_result_free(&sr);
    prog_result_free(&sc);
    prog_result_free(&dp);
}
