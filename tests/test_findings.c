/* test_findings.c - mg_findings_get and `memgrep check`: for each kind a
 * target that has it (tests/targets/findings_fixture.c run plainly, from a memfd,
 * from a file then deleted, traced by a child of the test, renamed as a
 * kernel thread, with RWX or R-X anonymous code) and clean controls, each
 * with the exact set of kinds found for its pid. The test may ptrace a
 * target of its own; memgrep never does. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "json.h"
#include "memgrep/memgrep.h"

typedef struct target {
    pid_t pid;
    int in_fd; /* closing it ends the target */
    uint64_t addr; /* "addr" line (rwx, rx), else 0 */
    pid_t tid; /* "tid" line (thread), else 0 */
} target;

static const char *fixture_path(void)
{
    const char *p = getenv("MG_FINDINGS_FIXTURE");
    cr_assert(p && *p, "MG_FINDINGS_FIXTURE is not set");
    return p;
}

/* Run path (or, with exec_fd >= 0, that descriptor: fexecve) with argv and
 * LD_PRELOAD=preload (none if NULL, whatever the test's environment says),
 * and wait for its "ready" line. */
static void target_spawn(target *t, const char *path, int exec_fd, char *const argv[],
                         const char *preload)
{
    int in[2], out[2];
    cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
    memset(t, 0, sizeof(*t));
    t->pid = fork();
    cr_assert(t->pid >= 0);
    if (t->pid == 0) {
        /* a failed test leaves no target behind */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        if (preload)
            setenv("LD_PRELOAD", preload, 1);
        else
            unsetenv("LD_PRELOAD");
        if (exec_fd >= 0)
            fexecve(exec_fd, argv, environ);
        else
            execv(path, argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    t->in_fd = in[1];
    FILE *f = fdopen(out[0], "r");
    cr_assert(f);
    char line[128];
    bool ready = false;
    while (!ready && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "addr ", 5))
            t->addr = strtoull(line + 5, NULL, 16);
        if (!strncmp(line, "tid ", 4))
            t->tid = (pid_t)strtol(line + 4, NULL, 10);
        ready = !strcmp(line, "ready\n");
    }
    fclose(f);
    cr_assert(ready, "target %s did not start", argv[0]);
}

static void target_start(target *t, const char *path, int exec_fd, char *const argv[])
{
    target_spawn(t, path, exec_fd, argv, NULL);
}

static void target_stop(target *t)
{
    if (t->pid <= 0)
        return;
    close(t->in_fd);
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    t->pid = 0;
}

static void start_mode(target *t, const char *mode)
{
    char *argv[] = {(char *)"findings_fixture", (char *)mode, NULL};
    target_start(t, fixture_path(), -1, argv);
}

/* A copy of the fixture named name in a fresh directory: its path,
 * malloc'd. */
static char *fixture_copy(const char *name)
{
    char dir[] = "/tmp/mgt-findings-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
    int src = open(fixture_path(), O_RDONLY | O_CLOEXEC);
    int dst = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    cr_assert(src >= 0 && dst >= 0);
    struct stat st;
    cr_assert(fstat(src, &st) == 0);
    cr_assert(sendfile(dst, src, NULL, (size_t)st.st_size) == st.st_size);
    close(src);
    cr_assert(close(dst) == 0);
    return path;
}

static void remove_copy(char *path)
{
    unlink(path);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    rmdir(path);
    free(path);
}

/* The findings of pid, which must be read; *n set. */
static mg_finding *findings_of(pid_t pid, size_t *n)
{
    mg_finding *list = NULL;
    mg_error err = {{0}};
    int rc = mg_findings_get(pid, &list, n, &err);
    cr_assert_eq(rc, 0, "mg_findings_get(%d): %s", (int)pid, err.message);
    return list;
}

/* The kinds found, as "kind,kind" in mg_finding_kind order. */
static void kinds_text(const mg_finding *list, size_t n, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(list[i].pid, list[0].pid);
        if (i)
            strncat(buf, ",", size - strlen(buf) - 1);
        strncat(buf, mg_finding_kind_name(list[i].kind), size - strlen(buf) - 1);
    }
}

static const mg_finding *expect_kinds(pid_t pid, const char *kinds, mg_finding **list, size_t *n)
{
    *list = findings_of(pid, n);
    char got[256];
    kinds_text(*list, *n, got, sizeof(got));
    cr_assert_str_eq(got, kinds, "pid %d: kinds found '%s', expected '%s'", (int)pid, got, kinds);
    return *n ? &(*list)[0] : NULL;
}

/* ---- controls ---------------------------------------------------------- */

Test(findings, plain_fixture_has_none)
{
    need_root();
    target t;
    start_mode(&t, "plain");
    mg_finding *list;
    size_t n;
    expect_kinds(t.pid, "", &list, &n);
    mg_findings_free(&list);
    cr_assert_null(list);
    target_stop(&t);
}

Test(findings, sleep_has_none)
{
    need_root();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl("/bin/sleep", "sleep", "1000", (char *)NULL);
        _exit(127);
    }
    /* wait until it is sleep, not our fork */
    char exe[256] = "";
    for (int i = 0; i < 500; i++) {
        char link[64];
        snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
        ssize_t k = readlink(link, exe, sizeof(exe) - 1);
        exe[k > 0 ? k : 0] = '\0';
        if (strstr(exe, "sleep"))
            break;
        usleep(10000);
    }
    cr_assert(strstr(exe, "sleep"), "sleep did not start: %s", exe);
    mg_finding *list;
    size_t n;
    expect_kinds(pid, "", &list, &n);
    mg_findings_free(&list);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* ---- one kind each ------------------------------------------------------ */

Test(findings, memfd_exec)
{
    need_root();
    char token[17], name[32];
    random_token(token);
    snprintf(name, sizeof(name), "mgt-%s", token);
    int fd = memfd_create(name, MFD_CLOEXEC);
    cr_assert(fd >= 0, "memfd_create: %s", strerror(errno));
    int src = open(fixture_path(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    cr_assert(src >= 0 && fstat(src, &st) == 0);
    cr_assert(sendfile(fd, src, NULL, (size_t)st.st_size) == st.st_size);
    close(src);
    /* fexecve of a close-on-exec memfd needs a script-free ELF: this is */
    char *argv[] = {(char *)"findings_fixture", (char *)"plain", NULL};
    target t;
    target_start(&t, NULL, fd, argv);
    close(fd);
    mg_finding *list;
    size_t n;
    const mg_finding *f = expect_kinds(t.pid, "memfd_exec", &list, &n);
    char want_exe[64];
    snprintf(want_exe, sizeof(want_exe), "/memfd:%s (deleted)", name);
    cr_assert_str_eq(f->exe, want_exe);
    cr_assert(f->image);
    cr_assert_eq(f->severity, MG_SEVERITY_HIGH);
    cr_assert_geq(f->regions, 1);
    cr_assert_eq(f->first.perms[2], 'x');
    char want_path[64];
    snprintf(want_path, sizeof(want_path), "/memfd:%s", name);
    cr_assert_str_eq(f->first.path, want_path);
    cr_assert_str_eq(f->runtime, "");
    mg_findings_free(&list);
    target_stop(&t);
}

Test(findings, deleted_exe)
{
    need_root();
    char *path = fixture_copy("findings_fixture");
    char *argv[] = {path, (char *)"plain", NULL};
    target t;
    target_start(&t, path, -1, argv);
    mg_finding *list;
    size_t n;
    expect_kinds(t.pid, "", &list, &n); /* the same file, not deleted yet */
    mg_findings_free(&list);
    cr_assert(unlink(path) == 0);
    const mg_finding *f = expect_kinds(t.pid, "deleted_exe", &list, &n);
    char want_exe[256];
    snprintf(want_exe, sizeof(want_exe), "%s (deleted)", path);
    cr_assert_str_eq(f->exe, want_exe);
    cr_assert(f->image);
    cr_assert_eq(f->severity, MG_SEVERITY_MEDIUM);
    cr_assert_geq(f->regions, 1);
    cr_assert_str_eq(f->first.path, path);
    cr_assert(f->first.deleted);
    mg_findings_free(&list);
    target_stop(&t);
    remove_copy(path);
}

/* A deleted file mapped executable, the image intact: a library replaced
 * under a running daemon, or a loader's payload removed. */
Test(findings, deleted_mapping)
{
    need_root();
    char *path = fixture_copy("payload.so");
    char *argv[] = {(char *)"findings_fixture", (char *)"mapfile", path, NULL};
    target t;
    target_start(&t, fixture_path(), -1, argv);
    mg_finding *list;
    size_t n;
    expect_kinds(t.pid, "", &list, &n);
    mg_findings_free(&list);
    cr_assert(unlink(path) == 0);
    const mg_finding *f = expect_kinds(t.pid, "deleted_exe", &list, &n);
    cr_assert_not(f->image);
    cr_assert_eq(f->regions, 1);
    cr_assert_eq(f->first.start, t.addr);
    cr_assert_str_eq(f->first.path, path);
    cr_assert(f->first.deleted);
    cr_assert_str_eq(f->first.perms, "r-xp");
    cr_assert_eq(f->severity, MG_SEVERITY_MEDIUM);
    mg_findings_free(&list);
    target_stop(&t);
    remove_copy(path);
}

/* Code mapped from a memfd by a program that is a file: high; the same in
 * a runtime (.NET maps its JIT code from a memfd twice): low. */
static void check_memfd_mapping(const char *exe, const char *runtime, mg_severity severity)
{
    char *path = fixture_copy(exe);
    char *argv[] = {path, (char *)"memfd", NULL};
    target t;
    target_start(&t, path, -1, argv);
    mg_finding *list;
    size_t n;
    const mg_finding *f = expect_kinds(t.pid, "memfd_exec", &list, &n);
    cr_assert_not(f->image);
    cr_assert_eq(f->regions, 1);
    cr_assert_eq(f->first.start, t.addr);
    cr_assert_str_eq(f->first.path, "/memfd:mgt-code");
    cr_assert_str_eq(f->runtime, runtime);
    cr_assert_eq(f->severity, severity);
    mg_findings_free(&list);
    target_stop(&t);
    remove_copy(path);
}

Test(findings, memfd_mapping)
{
    need_root();
    check_memfd_mapping("findings_fixture", "", MG_SEVERITY_HIGH);
}

Test(findings, memfd_mapping_of_a_runtime_is_low)
{
    need_root();
    check_memfd_mapping("dotnet", "dotnet", MG_SEVERITY_LOW);
}

Test(findings, rwx_shellcode)
{
    need_root();
    target t;
    start_mode(&t, "rwx");
    cr_assert(t.addr);
    mg_finding *list;
    size_t n;
    expect_kinds(t.pid, "anon_exec,rwx", &list, &n);
    for (size_t i = 0; i < n; i++) {
        const mg_finding *f = &list[i];
        cr_assert_eq(f->regions, 1, "%s: %zu regions", mg_finding_kind_name(f->kind), f->regions);
        cr_assert_eq(f->first.start, t.addr);
        cr_assert_eq(f->bytes, 4 * mg_page_size());
        cr_assert_str_eq(f->first.perms, "rwxp");
        cr_assert_eq(f->severity, MG_SEVERITY_HIGH);
        cr_assert_str_eq(f->runtime, "");
        cr_assert_not(f->image);
    }
    mg_findings_free(&list);
    target_stop(&t);
}

Test(findings, anon_rx)
{
    need_root();
    target t;
    start_mode(&t, "rx");
    mg_finding *list;
    size_t n;
    const mg_finding *f = expect_kinds(t.pid, "anon_exec", &list, &n);
    cr_assert_eq(f->regions, 1);
    cr_assert_eq(f->first.start, t.addr);
    cr_assert_str_eq(f->first.perms, "r-xp");
    cr_assert_eq(f->severity, MG_SEVERITY_HIGH);
    mg_findings_free(&list);
    target_stop(&t);
}

/* A JIT runtime's code: the same memory, named by the exe, low. */
Test(findings, anon_exec_of_a_runtime_is_low)
{
    need_root();
    char *path = fixture_copy("java");
    char *argv[] = {path, (char *)"rwx", NULL};
    target t;
    target_start(&t, path, -1, argv);
    mg_finding *list;
    size_t n;
    expect_kinds(t.pid, "anon_exec,rwx", &list, &n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(list[i].severity, MG_SEVERITY_LOW);
        cr_assert_str_eq(list[i].runtime, "java");
        cr_assert_eq(list[i].first.start, t.addr);
    }
    mg_findings_free(&list);
    target_stop(&t);
    remove_copy(path);
}

/* The libpcre2-8 this test has mapped (libmemgrep links it): a path. */
static void pcre2_path(char *out, size_t size)
{
    FILE *f = fopen("/proc/self/maps", "re");
    cr_assert(f);
    char line[4096];
    out[0] = '\0';
    while (fgets(line, sizeof(line), f) && !out[0]) {
        char *p = strchr(line, '/');
        if (p && strstr(p, "/libpcre2-8.so")) {
            p[strcspn(p, "\n")] = '\0';
            snprintf(out, size, "%s", p);
        }
    }
    fclose(f);
    cr_assert(out[0], "libpcre2-8 is not mapped in the test");
}

/* PCRE2's JIT (sljit) writes its code into RWX anonymous memory: with
 * libpcre2-8 mapped, RWX code is pcre2-jit's, low; R-X anonymous code is
 * not what it makes: high, no runtime. */
Test(findings, pcre2_jit_is_low_for_rwx_only)
{
    need_root();
    char lib[4096];
    pcre2_path(lib, sizeof(lib));
    char *argv[] = {(char *)"findings_fixture", (char *)"rwx", NULL};
    target t;
    target_spawn(&t, fixture_path(), -1, argv, lib);
    mg_finding *list;
    size_t n;
    expect_kinds(t.pid, "anon_exec,rwx,preload", &list, &n);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_str_eq(list[i].runtime, "pcre2-jit");
        cr_assert_eq(list[i].severity, MG_SEVERITY_LOW);
    }
    mg_findings_free(&list);
    target_stop(&t);
    argv[1] = (char *)"rx";
    target_spawn(&t, fixture_path(), -1, argv, lib);
    const mg_finding *f = expect_kinds(t.pid, "anon_exec,preload", &list, &n);
    cr_assert_str_eq(f->runtime, "");
    cr_assert_eq(f->severity, MG_SEVERITY_HIGH);
    mg_findings_free(&list);
    target_stop(&t);
}

Test(findings, masquerade)
{
    need_root();
    char *argv[] = {(char *)"[kworker/0:1]", (char *)"kworker", NULL};
    target t;
    target_start(&t, fixture_path(), -1, argv);
    mg_finding *list;
    size_t n;
    const mg_finding *f = expect_kinds(t.pid, "masquerade", &list, &n);
    cr_assert_str_eq(f->comm, "[kworker/0:1]");
    cr_assert_str_eq(f->argv0, "[kworker/0:1]");
    cr_assert_eq(f->severity, MG_SEVERITY_HIGH);
    mg_findings_free(&list);
    target_stop(&t);
}

/* argv[0] alone is enough: comm stays the file's name. */
Test(findings, masquerade_by_argv0)
{
    need_root();
    char *argv[] = {(char *)"[kthreadd]", (char *)"plain", NULL};
    target t;
    target_start(&t, fixture_path(), -1, argv);
    mg_finding *list;
    size_t n;
    const mg_finding *f = expect_kinds(t.pid, "masquerade", &list, &n);
    cr_assert_str_eq(f->comm, "findings_fixtur"); /* comm: 15 bytes */
    cr_assert_str_eq(f->argv0, "[kthreadd]");
    mg_findings_free(&list);
    target_stop(&t);
}

/* A child of the test PTRACE_SEIZEs tid (memgrep never ptraces; the test
 * may): its pid, once attached. */
static pid_t start_tracer(pid_t tid)
{
    int ok[2];
    cr_assert(pipe(ok) == 0);
    pid_t tracer = fork();
    cr_assert(tracer >= 0);
    if (tracer == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(ok[0]);
        char r = ptrace(PTRACE_SEIZE, tid, NULL, NULL) == 0 ? 'y' : 'n';
        if (write(ok[1], &r, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(ok[1]);
    char r = 0;
    cr_assert_eq(read(ok[0], &r, 1), 1);
    close(ok[0]);
    cr_assert_eq(r, 'y', "PTRACE_SEIZE of %d failed", (int)tid);
    return tracer;
}

/* The target with tid (its pid, or another thread) traced: the finding
 * names the tracer and the thread; once the tracer is gone, none. */
static void check_traced(const target *t, pid_t tid)
{
    pid_t tracer = start_tracer(tid);
    mg_finding *list;
    size_t n;
    const mg_finding *f = expect_kinds(t->pid, "traced", &list, &n);
    cr_assert_eq(f->tracer, tracer);
    cr_assert_eq(f->traced_tid, tid);
    char comm[64];
    proc_comm(tracer, comm, sizeof(comm));
    cr_assert_str_eq(f->tracer_comm, comm);
    cr_assert_eq(f->severity, MG_SEVERITY_MEDIUM);
    mg_findings_free(&list);
    kill(tracer, SIGKILL);
    waitpid(tracer, NULL, 0);
    expect_kinds(t->pid, "", &list, &n);
    mg_findings_free(&list);
}

Test(findings, traced)
{
    need_root();
    target t;
    start_mode(&t, "plain");
    check_traced(&t, t.pid);
    target_stop(&t);
}

/* A tracer on a thread other than the main one: the main thread's status
 * says TracerPid 0. */
Test(findings, traced_thread)
{
    need_root();
    target t;
    start_mode(&t, "thread");
    cr_assert(t.tid > 0 && t.tid != t.pid);
    mg_finding *list;
    size_t n;
    expect_kinds(t.pid, "", &list, &n); /* two threads, none traced */
    mg_findings_free(&list);
    check_traced(&t, t.tid);
    target_stop(&t);
}

/* ---- patched code ------------------------------------------------------- */

/* The test itself reads and writes the target's memory through
 * /proc/PID/mem (a write to its read-only text makes a private copy of the
 * page, as a debugger's breakpoint does); memgrep never writes. */
static void target_mem(pid_t pid, uint64_t addr, void *buf, size_t len, bool write)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    int fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    ssize_t k = write ? pwrite(fd, buf, len, (off_t)addr) : pread(fd, buf, len, (off_t)addr);
    cr_assert_eq(k, (ssize_t)len, "%s %s at 0x%" PRIx64 ": %s", write ? "write" : "read", path,
                 addr, strerror(errno));
    close(fd);
}

/* 16 bytes of the fixture's function at +5 inverted but the 8th (written
 * with its own value): two runs differ, [+5, +12) and [+13, +21), each
 * with the file's bytes at its offset what the text held before. Then the
 * original bytes back: the copy stays, no byte differs, no finding. */
Test(findings, patched_code)
{
    need_root();
    target t, control;
    start_mode(&t, "code");
    start_mode(&control, "code");
    cr_assert(t.addr);
    mg_finding *list;
    size_t n;
    expect_kinds(t.pid, "", &list, &n);
    mg_findings_free(&list);
    uint64_t a = t.addr + 5;
    uint8_t orig[16], patch[16];
    target_mem(t.pid, a, orig, sizeof(orig), false);
    for (size_t i = 0; i < sizeof(patch); i++)
        patch[i] = (uint8_t)(orig[i] ^ 0xff);
    patch[7] = orig[7];
    target_mem(t.pid, a, patch, sizeof(patch), true);
    const mg_finding *f = expect_kinds(t.pid, "patched_code", &list, &n);
    cr_assert_eq(f->n_patches, 2);
    cr_assert_eq(f->patches_total, 2);
    const uint64_t runs[2][2] = {{a, a + 7}, {a + 8, a + 16}};
    int fd = open(fixture_path(), O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
    for (size_t i = 0; i < 2; i++) {
        const mg_patch *p = &f->patches[i];
        cr_assert_eq(p->start, runs[i][0], "patch %zu: 0x%" PRIx64, i, p->start);
        cr_assert_eq(p->end, runs[i][1], "patch %zu: end 0x%" PRIx64, i, p->end);
        cr_assert_str_eq(p->path, fixture_path());
        uint8_t disk[16];
        size_t len = (size_t)(p->end - p->start);
        cr_assert_eq(pread(fd, disk, len, (off_t)p->offset), (ssize_t)len);
        cr_assert(!memcmp(disk, orig + (p->start - a), len), "patch %zu: file offset 0x%" PRIx64, i,
                  p->offset);
    }
    close(fd);
    cr_assert_eq(f->regions, 1);
    cr_assert_eq(f->bytes, mg_page_size(), "one private copy: %" PRIu64, f->bytes);
    cr_assert_str_eq(f->first.perms, "r-xp");
    cr_assert(f->first.start <= a && a + 16 <= f->first.end);
    cr_assert_str_eq(f->first.path, fixture_path());
    cr_assert_not(f->textrel);
    cr_assert_str_eq(f->file_read, "direct");
    cr_assert_eq(f->severity, MG_SEVERITY_HIGH);
    mg_findings_free(&list);
    /* the control, the same program unpatched */
    expect_kinds(control.pid, "", &list, &n);
    mg_findings_free(&list);
    target_mem(t.pid, a, orig, sizeof(orig), true);
    expect_kinds(t.pid, "", &list, &n);
    mg_findings_free(&list);
    target_stop(&t);
    target_stop(&control);
}

/* ---- preload ------------------------------------------------------------ */

/* The library built for the test that environment variable var names (as
 * given), its real path into real. */
static const char *test_lib(const char *var, char real[4096])
{
    const char *lib = getenv(var);
    cr_assert(lib && *lib, "%s is not set", var);
    cr_assert(realpath(lib, real));
    return lib;
}

Test(findings, preload)
{
    need_root();
    char real[4096];
    const char *lib = test_lib("MG_FINDINGS_PRELOAD", real);
    char *argv[] = {(char *)"findings_fixture", (char *)"plain", NULL};
    target t, control;
    target_spawn(&t, fixture_path(), -1, argv, lib);
    start_mode(&control, "plain");
    mg_finding *list;
    size_t n;
    const mg_finding *f = expect_kinds(t.pid, "preload", &list, &n);
    cr_assert_eq(f->n_preloads, 1);
    cr_assert_str_eq(f->preloads[0].path, real);
    cr_assert_str_eq(f->preloads[0].source, "LD_PRELOAD");
    cr_assert_eq(f->severity, MG_SEVERITY_MEDIUM);
    mg_findings_free(&list);
    expect_kinds(control.pid, "", &list, &n);
    mg_findings_free(&list);
    target_stop(&t);
    target_stop(&control);
}

/* A library whose text the loader relocates (DT_TEXTREL): the page it
 * wrote is a private copy differing from the file in the pointer it holds
 * (mgt_textrel_slot, 8 bytes; its leading zero bytes are the file's too):
 * patched_code, explained, low. */
Test(findings, textrel_is_low)
{
    need_root();
    char real[4096];
    test_lib("MG_FINDINGS_TEXTREL", real);
    /* the slot's file offset: the first segment maps offset 0 at the base */
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h, "dlopen: %s", dlerror());
    Dl_info di;
    void *slot = dlsym(h, "mgt_textrel_slot");
    cr_assert(slot && dladdr(slot, &di));
    uint64_t slot_off = (uint64_t)((char *)slot - (char *)di.dli_fbase);
    dlclose(h);
    char *argv[] = {(char *)"findings_fixture", (char *)"plain", NULL};
    target t;
    target_spawn(&t, fixture_path(), -1, argv, real);
    mg_finding *list;
    size_t n;
    const mg_finding *f = expect_kinds(t.pid, "patched_code,preload", &list, &n);
    cr_assert(f->textrel);
    cr_assert_eq(f->severity, MG_SEVERITY_LOW);
    cr_assert_eq(f->n_patches, 1);
    const mg_patch *p = &f->patches[0];
    cr_assert_str_eq(p->path, real);
    cr_assert_str_eq(f->first.path, real);
    cr_assert(p->offset >= slot_off && p->offset + (p->end - p->start) <= slot_off + 8,
              "patch at 0x%" PRIx64 "+%" PRIu64 ", slot at 0x%" PRIx64, p->offset,
              p->end - p->start, slot_off);
    mg_findings_free(&list);
    target_stop(&t);
}

/* ---- what is not a process with memory ---------------------------------- */

Test(findings, bad_pids)
{
    mg_finding *list = (mg_finding *)1;
    size_t n = 7;
    mg_error err = {{0}};
    cr_assert_eq(mg_findings_get(dead_pid(), &list, &n, &err), MG_EBADPID);
    cr_assert_null(list);
    cr_assert_eq(n, 0);
    cr_assert_eq(mg_findings_get(0, &list, &n, &err), MG_EBADPID);
    cr_assert_eq(mg_findings_get(getpid(), &list, &n, &err), MG_EBADPID);
    cr_assert_eq(mg_findings_get(2, &list, &n, &err), MG_EBADPID, "kthreadd: %s", err.message);
    cr_assert_eq(mg_findings_get(getpid(), NULL, &n, &err), -EINVAL);
    pid_t z = zombie_child();
    cr_assert_eq(mg_findings_get(z, &list, &n, &err), -ESRCH, "zombie: %s", err.message);
    waitpid(z, NULL, 0);
    mg_findings_free(NULL);
    mg_findings_free(&list);
}

Test(findings, names)
{
    cr_assert_str_eq(mg_finding_kind_name(MG_FINDING_MEMFD_EXEC), "memfd_exec");
    cr_assert_str_eq(mg_finding_kind_name(MG_FINDING_MASQUERADE), "masquerade");
    cr_assert_str_eq(mg_finding_kind_name((mg_finding_kind)MG_FINDING_KINDS), "unknown");
    cr_assert_str_eq(mg_severity_name(MG_SEVERITY_LOW), "low");
    cr_assert_str_eq(mg_severity_name(MG_SEVERITY_HIGH), "high");
    cr_assert_str_eq(mg_severity_name((mg_severity)9), "unknown");
}

/* ---- memgrep check ----------------------------------------------------- */

/* memgrep COMMAND ARGS... (up to 13 arguments): its exit status, stdout
 * and stderr (malloc'd). */
static int run_memgrep(const char *command, const char *const *args, char **out, char **err)
{
    const char *argv[16] = {command};
    size_t k = 1;
    for (; args[k - 1] && k < 15; k++)
        argv[k] = args[k - 1];
    argv[k] = NULL;
    prog_result r = memgrep_run(argv);
    *out = r.out;
    *err = r.err;
    return r.status;
}

static int run_check(const char *const *args, char **out, char **err)
{
    return run_memgrep("check", args, out, err);
}

Test(findings, check_json_and_exit_status)
{
    need_root();
    target rwx, plain;
    start_mode(&rwx, "rwx");
    start_mode(&plain, "plain");
    char p1[16], p2[16], *out, *err;
    snprintf(p1, sizeof(p1), "%d", (int)rwx.pid);
    snprintf(p2, sizeof(p2), "%d", (int)plain.pid);
    const char *a1[] = {"-p", p1, "--json", NULL};
    cr_assert_eq(run_check(a1, &out, &err), 0, "%s", err);
    /* every record says when it was written: checked, then left out */
    for (char *t; (t = strstr(out, ",\"time\":\""));) {
        char *q = t + strlen(",\"time\":\"");
        cr_assert(strlen(q) > 25 && q[4] == '-' && q[10] == 'T' && q[23] == 'Z' && q[24] == '"',
                  "a record's time: %.40s", t);
        memmove(t, q + 25, strlen(q + 25) + 1);
    }
    char first[1024];
    snprintf(first, sizeof(first),
             "{\"type\":\"finding\",\"kind\":\"anon_exec\",\"pid\":%d,\"comm\":\"findings_fixtur\","
             "\"exe\":\"%s\",\"severity\":\"high\",\"evidence\":{\"image\":false,\"regions\":1,"
             "\"bytes\":%zu,\"first\":{\"start\":\"0x%" PRIx64 "\",\"end\":\"0x%" PRIx64
             "\",\"perms\":\"rwxp\",\"offset\":\"0x0\",\"path\":\"\",\"kind\":\"anon\",\"deleted\":"
             "false},"
             "\"runtime\":null}}\n",
             (int)rwx.pid, fixture_path(), 4 * mg_page_size(), rwx.addr,
             rwx.addr + 4 * mg_page_size());
    cr_assert(!strncmp(out, first, strlen(first)), "got:\n%s\nwant first line:\n%s", out, first);
    cr_assert(strstr(out + strlen(first), "\"kind\":\"rwx\""), "%s", out);
    cr_assert_eq(strchr(out + strlen(first), '\n')[1], '\0', "two lines only: %s", out);
    free(out);
    free(err);
    /* the control: nothing found, exit 1 */
    const char *a2[] = {"-p", p2, NULL};
    cr_assert_eq(run_check(a2, &out, &err), 1, "%s", err);
    cr_assert_str_eq(out, "");
    cr_assert_str_eq(err, "memgrep: 1 process checked, 0 failed; 0 findings\n");
    free(out);
    free(err);
    /* both: the findings of one, exit 0; text lines */
    const char *a3[] = {"-p", p2, "-p", p1, NULL};
    cr_assert_eq(run_check(a3, &out, &err), 0, "%s", err);
    char line[128];
    snprintf(line, sizeof(line), "%d findings_fixtur high anon_exec: regions=1", (int)rwx.pid);
    cr_assert(!strncmp(out, line, strlen(line)), "%s", out);
    snprintf(line, sizeof(line), "\n%d findings_fixtur high rwx: regions=1", (int)rwx.pid);
    cr_assert(strstr(out, line), "%s", out);
    free(out);
    free(err);
    target_stop(&rwx);
    target_stop(&plain);
    /* bad input: one line, exit 2 */
    char dead[16];
    snprintf(dead, sizeof(dead), "%d", (int)dead_pid());
    const char *a4[] = {"-p", dead, NULL};
    cr_assert_eq(run_check(a4, &out, &err), 2);
    cr_assert_str_eq(out, "");
    cr_assert(strstr(err, "(from -p)") && !strchr(err, '\n')[1], "%s", err);
    free(out);
    free(err);
}

/* The records of JSON lines of a given type, parsed into recs (up to max):
 * how many. */
static size_t records(const char *out, const char *type, jval *recs, size_t max)
{
    size_t n = 0;
    for (const char *l = out; *l && n < max;) {
        const char *nl = strchr(l, '\n');
        cr_assert(nl, "a record without its newline: %s", l);
        size_t off;
        cr_assert_eq(json_parse(l, (size_t)(nl - l), &recs[n], &off), 0, "bad JSON at %zu: %.*s",
                     off, (int)(nl - l), l);
        const jval *t = json_get(&recs[n], "type");
        if (t && t->t == J_STR && !strcmp(t->str, type))
            n++;
        else
            json_free(&recs[n]);
        l = nl + 1;
    }
    return n;
}

static const char *str_of(const jval *obj, const char *key)
{
    const jval *v = json_get(obj, key);
    cr_assert(v && v->t == J_STR, "no string %s", key);
    return v->str;
}

/* --allow KIND:EXE silences that kind in that program, '*' every kind;
 * --allow-file reads the same lines ('#' comments); bad entries are one
 * line naming where, exit 2. */
Test(findings, allow)
{
    need_root();
    target t;
    start_mode(&t, "rwx");
    char pid[16], rwx_exe[4200], any_exe[4200], *out, *err;
    snprintf(pid, sizeof(pid), "%d", (int)t.pid);
    snprintf(rwx_exe, sizeof(rwx_exe), "rwx:%s", fixture_path());
    snprintf(any_exe, sizeof(any_exe), "*:%s", fixture_path());
    const char *a1[] = {"-p", pid, "--allow", rwx_exe, NULL};
    cr_assert_eq(run_check(a1, &out, &err), 0, "%s", err);
    char line[128];
    snprintf(line, sizeof(line), "%d findings_fixtur high anon_exec: regions=1", (int)t.pid);
    cr_assert(!strncmp(out, line, strlen(line)) && !strchr(out, '\n')[1], "%s", out);
    cr_assert_str_eq(err, "memgrep: 1 process checked, 0 failed; 1 finding, 1 allowed\n");
    free(out);
    free(err);
    /* another program's exe: nothing silenced */
    const char *a2[] = {"-p", pid, "--allow", "*:/usr/bin/java", NULL};
    cr_assert_eq(run_check(a2, &out, &err), 0, "%s", err);
    cr_assert_str_eq(err, "memgrep: 1 process checked, 0 failed; 2 findings\n");
    free(out);
    free(err);
    char path[] = "/tmp/mgt-allow-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# known good\n\n  %s\n", any_exe);
    fclose(f);
    const char *a3[] = {"-p", pid, "--allow-file", path, NULL};
    cr_assert_eq(run_check(a3, &out, &err), 1, "%s", err);
    cr_assert_str_eq(out, "");
    cr_assert_str_eq(err, "memgrep: 1 process checked, 0 failed; 0 findings, 2 allowed\n");
    free(out);
    free(err);
    f = fopen(path, "w");
    fprintf(f, "# known good\nrwx:%s\nbogus:/bin/sh\n", fixture_path());
    fclose(f);
    cr_assert_eq(run_check(a3, &out, &err), 2);
    char where[64];
    snprintf(where, sizeof(where), "%s:3: 'bogus:/bin/sh'", path);
    cr_assert(strstr(err, where) && !strchr(err, '\n')[1], "%s", err);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
    unlink(path);
    const char *a4[] = {"-p", pid, "--allow", "rwx:relative/exe", NULL};
    cr_assert_eq(run_check(a4, &out, &err), 2);
    cr_assert(strstr(err, "--allow: 'rwx:relative/exe'") && !strchr(err, '\n')[1], "%s", err);
    free(out);
    free(err);
    target_stop(&t);
}

/* scan --findings: the target's finding records in the same report as its
 * matches (the shellcode in its RWX mapping), and none without it. */
Test(findings, scan_findings)
{
    need_root();
    target t;
    start_mode(&t, "rwx");
    char pid[16], *out, *err;
    snprintf(pid, sizeof(pid), "%d", (int)t.pid);
    const char *a1[] = {"-p", pid, "--json", "--findings", "-x", "48 31 f6 56 48 bf 2f 62 69 6e",
                        NULL};
    cr_assert_eq(run_memgrep("scan", a1, &out, &err), 0, "%s", err);
    jval recs[16];
    size_t n = records(out, "finding", recs, 16);
    cr_assert_eq(n, 2, "%s", out);
    cr_assert_str_eq(str_of(&recs[0], "kind"), "anon_exec");
    cr_assert_str_eq(str_of(&recs[1], "kind"), "rwx");
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(json_get(&recs[i], "pid")->num, t.pid);
        const jval *first = json_get(json_get(&recs[i], "evidence"), "first");
        cr_assert_eq(strtoull(str_of(first, "start"), NULL, 16), t.addr);
        json_free(&recs[i]);
    }
    n = records(out, "match", recs, 16);
    bool at_addr = false;
    for (size_t i = 0; i < n; i++) {
        at_addr |= strtoull(str_of(&recs[i], "address"), NULL, 16) == t.addr;
        json_free(&recs[i]);
    }
    cr_assert(at_addr, "no match at 0x%" PRIx64 ": %s", t.addr, out);
    cr_assert_null(strstr(err, "checked"), "JSON: no findings line on stderr: %s", err);
    free(out);
    free(err);
    /* text: the target's matches, then its finding lines (found at the
     * end of the target); a summary line of them */
    const char *a3[] = {"-p", pid, "--findings", "-x", "48 31 f6 56 48 bf 2f 62 69 6e", NULL};
    cr_assert_eq(run_memgrep("scan", a3, &out, &err), 0, "%s", err);
    char line[128];
    snprintf(line, sizeof(line), "%d findings_fixtur 0x%" PRIx64 " rwxp ", (int)t.pid, t.addr);
    const char *match = strstr(out, line);
    snprintf(line, sizeof(line), "\n%d findings_fixtur high anon_exec: regions=1", (int)t.pid);
    const char *anon = strstr(out, line);
    snprintf(line, sizeof(line), "\n%d findings_fixtur high rwx: regions=1", (int)t.pid);
    const char *rwx = strstr(out, line);
    cr_assert(match && anon && rwx && match < anon && anon < rwx, "%s", out);
    cr_assert(strstr(err, "memgrep: 1 process checked, 0 failed; 2 findings\n"), "%s", err);
    free(out);
    free(err);
    /* the same scan without --findings */
    const char *a2[] = {"-p", pid, "--json", "-x", "48 31 f6 56 48 bf 2f 62 69 6e", NULL};
    cr_assert_eq(run_memgrep("scan", a2, &out, &err), 0, "%s", err);
    cr_assert_eq(records(out, "finding", recs, 16), 0, "%s", out);
    cr_assert_eq(records(out, "match", recs, 1), 1);
    json_free(&recs[0]);
    free(out);
    free(err);
    target_stop(&t);
}

/* The finding records of out without their "time", sorted, one a line
 * (malloc'd): what two reports found, to compare. */
static char *finding_lines(const char *out)
{
    char *lines[64];
    size_t n = 0, total = 1;
    for (const char *l = out; *l && n < 64;) {
        const char *nl = strchr(l, '\n');
        cr_assert(nl, "a record without its newline: %s", l);
        if (!strncmp(l, "{\"type\":\"finding\",", strlen("{\"type\":\"finding\","))) {
            char *x = strndup(l, (size_t)(nl - l)), *t = strstr(x, "\"time\":\"");
            cr_assert(t, "%s", x);
            char *end = strstr(t + strlen("\"time\":\""), "\",");
            cr_assert(end, "%s", x);
            memmove(t, end + 2, strlen(end + 2) + 1);
            total += strlen(x) + 1;
            lines[n++] = x;
        }
        l = nl + 1;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: a few lines */
        for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
            char *x = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = x;
        }
    char *all = calloc(1, total);
    cr_assert(all);
    for (size_t i = 0; i < n; i++) {
        strcat(strcat(all, lines[i]), "\n");
        free(lines[i]);
    }
    return all;
}

/* scan --findings finds in its sweep (from the maps, stat and pagemap
 * walk it makes) exactly what check finds: each kind that reads beyond
 * them, in one report of four targets: code patched by the test (the
 * planner's walk gives the private copies), a thread traced (a process of
 * two threads), a library preloaded whose text the loader relocates
 * (patched_code from its copy, preload from the environment), argv[0] in
 * brackets. */
Test(findings, scan_findings_as_check)
{
    need_root();
    char real[4096];
    test_lib("MG_FINDINGS_TEXTREL", real);
    target code, thread, pre, masq;
    start_mode(&code, "code");
    start_mode(&thread, "thread");
    char *plain[] = {(char *)"findings_fixture", (char *)"plain", NULL};
    target_spawn(&pre, fixture_path(), -1, plain, real);
    char *bracketed[] = {(char *)"[kthreadd]", (char *)"plain", NULL};
    target_start(&masq, fixture_path(), -1, bracketed);
    uint64_t a = code.addr + 5;
    uint8_t orig[16], patch[16];
    target_mem(code.pid, a, orig, sizeof(orig), false);
    for (size_t i = 0; i < sizeof(patch); i++)
        patch[i] = (uint8_t)(orig[i] ^ 0xff);
    target_mem(code.pid, a, patch, sizeof(patch), true);
    pid_t tracer = start_tracer(thread.tid);
    char pids[96], token[64], *out1, *err1, *out2, *err2;
    snprintf(pids, sizeof(pids), "%d,%d,%d,%d", (int)code.pid, (int)thread.pid, (int)pre.pid,
             (int)masq.pid);
    snprintf(token, sizeof(token), "mgt-never-%d-%lx", (int)getpid(), (unsigned long)random());
    const char *a1[] = {"-p", pids, "--json", NULL};
    cr_assert_eq(run_check(a1, &out1, &err1), 0, "%s", err1);
    const char *a2[] = {"-p", pids, "--json", "--findings", "-e", token, NULL};
    cr_assert_eq(run_memgrep("scan", a2, &out2, &err2), 0, "%s", err2);
    char *l1 = finding_lines(out1), *l2 = finding_lines(out2);
    cr_assert_str_eq(l2, l1, "scan --findings:\n%s\ncheck:\n%s", l2, l1);
    /* what each found */
    const char *kinds[][2] = {{"patched_code", "high"},
                              {"traced", "medium"},
                              {"patched_code", "low"},
                              {"preload", "medium"},
                              {"masquerade", "high"}};
    const pid_t of[] = {code.pid, thread.pid, pre.pid, pre.pid, masq.pid};
    for (size_t i = 0; i < 5; i++) {
        char look[128];
        snprintf(look, sizeof(look), "\"kind\":\"%s\",\"pid\":%d,", kinds[i][0], (int)of[i]);
        const char *at = strstr(l1, look);
        cr_assert(at, "no %s of %d: %s", kinds[i][0], (int)of[i], l1);
        snprintf(look, sizeof(look), "\"severity\":\"%s\"", kinds[i][1]);
        const char *nl = strchr(at, '\n'), *sev = strstr(at, look);
        cr_assert(sev && sev < nl, "%s of %d not %s: %s", kinds[i][0], (int)of[i], kinds[i][1], l1);
    }
    size_t lines = 0;
    for (const char *c = l1; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 5, "%s", l1);
    free(l1);
    free(l2);
    free(out1);
    free(err1);
    free(out2);
    free(err2);
    kill(tracer, SIGKILL);
    waitpid(tracer, NULL, 0);
    target_stop(&code);
    target_stop(&thread);
    target_stop(&pre);
    target_stop(&masq);
}

/* The system calls of the sweep, counted here (tests/meson.build links
 * this suite with --wrap for them): process_vm_readv of a pid, and poll
 * (a pidfd's check). */
static pid_t counted_pid;
static unsigned long n_pvr, n_poll;

ssize_t __real_process_vm_readv(pid_t pid, const struct iovec *local, unsigned long n_local,
                                const struct iovec *remote, unsigned long n_remote,
                                unsigned long flags);
ssize_t __wrap_process_vm_readv(pid_t pid, const struct iovec *local, unsigned long n_local,
                                const struct iovec *remote, unsigned long n_remote,
                                unsigned long flags);
ssize_t __wrap_process_vm_readv(pid_t pid, const struct iovec *local, unsigned long n_local,
                                const struct iovec *remote, unsigned long n_remote,
                                unsigned long flags)
{
    if (pid == counted_pid)
        __atomic_add_fetch(&n_pvr, 1, __ATOMIC_RELAXED);
    return __real_process_vm_readv(pid, local, n_local, remote, n_remote, flags);
}

int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    __atomic_add_fetch(&n_poll, 1, __ATOMIC_RELAXED);
    return __real_poll(fds, n, timeout);
}

typedef struct sweep_found {
    char kinds[256];
    const char *preload;
    size_t calls;
} sweep_found;

static int found_cb(void *ctx, const mg_process *p, const mg_finding *list, size_t n)
{
    sweep_found *f = ctx;
    (void)p;
    f->calls++;
    kinds_text(list, n, f->kinds, sizeof(f->kinds));
    for (size_t i = 0; i < n; i++)
        if (list[i].kind == MG_FINDING_PRELOAD && list[i].n_preloads == 1 &&
            !strcmp(list[i].preloads[0].source, "LD_PRELOAD"))
            f->preload = strdup(list[i].preloads[0].path);
    return MG_SINK_CONTINUE;
}

/* One sweep of pid (with findings or not), or with whole_host of every
 * process with two workers and no dedupe (every unit of pid reads): pid's
 * process_vm_readv and the polls counted. */
static void sweep_counted_in(pid_t pid, bool findings, bool whole_host, sweep_found *f,
                             unsigned long *pvr, unsigned long *polls)
{
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    char token[64];
    snprintf(token, sizeof(token), "mgt-never-%d-%lx", (int)getpid(), (unsigned long)random());
    cr_assert_eq(mg_patterns_new(&p), 0);
    cr_assert_geq(mg_patterns_add(p, MG_PATTERN_LITERAL, token, strlen(token), 0, NULL, &err), 0);
    cr_assert_eq(mg_patterns_compile(p, &err), 0, "%s", err.message);
    mg_settings s;
    mg_default_settings(&s);
    s.pids = whole_host ? NULL : &pid;
    s.n_pids = whole_host ? 0 : 1;
    s.threads = whole_host ? 2 : 1;
    s.dedupe = s.dedupe && !whole_host;
    mg_sink sink = {.ctx = f, .findings = findings ? found_cb : NULL};
    mg_stats st;
    counted_pid = pid;
    __atomic_store_n(&n_pvr, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&n_poll, 0, __ATOMIC_RELAXED);
    cr_assert_eq(mg_scan(p, &s, &sink, &st, &err), 0, "%s", err.message);
    *pvr = __atomic_load_n(&n_pvr, __ATOMIC_RELAXED);
    *polls = __atomic_load_n(&n_poll, __ATOMIC_RELAXED);
    if (whole_host)
        cr_assert_geq(st.processes_scanned, 1u);
    else
        cr_assert_eq(st.processes_scanned, 1u);
    mg_patterns_free(&p);
}

static void sweep_counted(pid_t pid, bool findings, sweep_found *f, unsigned long *pvr,
                          unsigned long *polls)
{
    sweep_counted_in(pid, findings, false, f, pvr, polls);
}

/* A sweep's findings read the target no more than its scan does: argv[0]
 * and the environment are taken from the bytes its units read (the
 * stack's top), the tracer and /etc/ld.so.preload were read before the
 * pin's check; so no process_vm_readv of the findings' own and no pidfd
 * check after them. What they found shows the bytes were the target's:
 * masquerade by argv[0], preload by LD_PRELOAD. */
Test(findings, sweep_reads_nothing_more)
{
    need_root();
    char real[4096];
    const char *lib = test_lib("MG_FINDINGS_PRELOAD", real);
    char *argv[] = {(char *)"[kthreadd]", (char *)"plain", NULL};
    target t;
    target_spawn(&t, fixture_path(), -1, argv, lib);
    sweep_found f = {{0}};
    unsigned long pvr0, poll0, pvr1, poll1;
    sweep_counted(t.pid, false, &f, &pvr0, &poll0);
    sweep_counted(t.pid, true, &f, &pvr1, &poll1);
    cr_assert_eq(f.calls, 1u);
    cr_assert_str_eq(f.kinds, "masquerade,preload");
    cr_assert(f.preload && !strcmp(f.preload, real), "preload %s", f.preload);
    cr_assert_gt(pvr0, 0u);
    cr_assert_eq(pvr1, pvr0, "process_vm_readv: %lu with findings, %lu without", pvr1, pvr0);
    cr_assert_eq(poll1, poll0, "poll: %lu with findings, %lu without", poll1, poll0);
    free((char *)f.preload);
    target_stop(&t);
}

/* A small target's units, run by the worker that planned it (a sweep of
 * the whole host with two workers), are read together (sweep/unit.c: a
 * gather): one process_vm_readv for many of its units, where -p with one
 * worker reads each unit alone. Here for the counting wraps. */
Test(findings, small_target_units_read_together)
{
    need_root();
    char *argv[] = {(char *)"mgt-gather", (char *)"plain", NULL};
    target t;
    target_spawn(&t, fixture_path(), -1, argv, NULL);
    sweep_found f = {{0}};
    unsigned long alone, together, polls;
    sweep_counted_in(t.pid, false, false, &f, &alone, &polls);
    sweep_counted_in(t.pid, false, true, &f, &together, &polls);
    cr_assert_geq(alone, 4u, "process_vm_readv alone: %lu", alone);
    cr_assert(together >= 1 && together * 2 <= alone, "process_vm_readv: %lu together, %lu alone",
              together, alone);
    target_stop(&t);
}

/* The manifest's entry of file name. */
static const jval *manifest_entry(const jval *m, const char *name)
{
    const jval *files = json_get(m, "files");
    cr_assert(files && files->t == J_ARR);
    for (size_t i = 0; i < files->n; i++)
        if (!strcmp(str_of(&files->items[i], "file"), name))
            return &files->items[i];
    cr_assert_fail("manifest.json has no %s", name);
    return NULL;
}

/* --dump-findings DIR: each finding's first region into
 * DIR/PID/KIND-START-END.bin, named in the record ("dump"): its present
 * pages at their offsets, the pages never touched holes (and still not
 * present: not faulted in), and DIR/PID/manifest.json naming the process,
 * each file's range (the finding's region), present runs and sha256. */
Test(findings, dump_findings)
{
    need_root();
    target t;
    start_mode(&t, "rwx");
    char dir[] = "/tmp/mgt-dump-XXXXXX", pid[16], pdir[64], *out, *err;
    cr_assert(mkdtemp(dir));
    snprintf(pid, sizeof(pid), "%d", (int)t.pid);
    snprintf(pdir, sizeof(pdir), "%s/%d", dir, (int)t.pid);
    const char *a1[] = {"-p", pid, "--json", "--dump-findings", dir, NULL};
    /* twice: the second check replaces the files and the manifest */
    for (int run = 0; run < 2; run++) {
        if (run) {
            free(out);
            free(err);
        }
        cr_assert_eq(run_check(a1, &out, &err), 0, "%s", err);
        cr_assert(strstr(err, "memgrep: 1 process checked, 0 failed; 2 findings, 2 dumped\n"), "%s",
                  err);
    }
    jval recs[4];
    size_t n = records(out, "finding", recs, 4);
    cr_assert_eq(n, 2, "%s", out);
    size_t pg = mg_page_size(), len = 4 * pg;
    /* the fixture wrote its first page only: the others were never present */
    uint64_t *pm;
    cr_assert_eq(pagemap_entries(t.pid, t.addr, t.addr + len, &pm), 4);
    cr_assert(pm[0] >> 63 && !(pm[1] >> 63) && !(pm[2] >> 63) && !(pm[3] >> 63));
    free(pm);
    jval m = read_manifest(pdir);
    cr_assert_str_eq(str_of(&m, "type"), "manifest");
    cr_assert_eq(json_get(&m, "pid")->num, t.pid);
    cr_assert_str_eq(str_of(&m, "comm"), "findings_fixtur");
    cr_assert_eq(json_get(&m, "files")->n, n);
    for (size_t i = 0; i < n; i++) {
        char name[128], *file;
        snprintf(name, sizeof(name), "%s-%" PRIx64 "-%" PRIx64 ".bin", str_of(&recs[i], "kind"),
                 t.addr, t.addr + len);
        cr_assert_geq(asprintf(&file, "%s/%s", pdir, name), 0);
        cr_assert_str_eq(str_of(&recs[i], "dump"), file);
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        cr_assert(fd >= 0, "%s: %s", file, strerror(errno));
        struct stat st;
        cr_assert(fstat(fd, &st) == 0);
        cr_assert_eq((size_t)st.st_size, len);
        cr_assert_eq(st.st_mode & 0777, 0600);
        unsigned char *data = malloc(len), mem[10];
        cr_assert_eq(read(fd, data, len), (ssize_t)len);
        target_mem(t.pid, t.addr, mem, sizeof(mem), false);
        cr_assert(!memcmp(data, mem, sizeof(mem)));
        for (size_t k = pg; k < len; k++)
            cr_assert_eq(data[k], 0, "%s: byte %zu of a hole", file, k);
        free(data);
        close(fd);
        /* its manifest entry: the finding's region, one present run, the
         * file's sha256 */
        const jval *e = manifest_entry(&m, name);
        const jval *first = json_get(json_get(&recs[i], "evidence"), "first");
        cr_assert_str_eq(str_of(e, "start"), str_of(first, "start"));
        cr_assert_str_eq(str_of(e, "end"), str_of(first, "end"));
        cr_assert_eq(strtoull(str_of(e, "start"), NULL, 16), t.addr);
        cr_assert_eq(strtoull(str_of(e, "end"), NULL, 16), t.addr + len);
        cr_assert_str_eq(str_of(json_get(e, "region"), "start"), str_of(first, "start"));
        cr_assert_eq(json_get(e, "size")->num, (double)len);
        cr_assert_eq(json_get(e, "present_bytes")->num, (double)pg);
        const jval *runs = json_get(e, "present");
        cr_assert(runs && runs->t == J_ARR && runs->n == 1);
        cr_assert_eq(strtoull(str_of(&runs->items[0], "start"), NULL, 16), t.addr);
        cr_assert_eq(strtoull(str_of(&runs->items[0], "end"), NULL, 16), t.addr + pg);
        char *sum = sha256sum(file);
        cr_assert_str_eq(str_of(e, "sha256"), sum, "%s", file);
        free(sum);
        unlink(file);
        free(file);
        json_free(&recs[i]);
    }
    json_free(&m);
    cr_assert_eq(pagemap_entries(t.pid, t.addr, t.addr + len, &pm), 4);
    cr_assert(!(pm[1] >> 63) && !(pm[2] >> 63) && !(pm[3] >> 63), "holes faulted in");
    free(pm);
    char manifest[128];
    snprintf(manifest, sizeof(manifest), "%s/manifest.json", pdir);
    cr_assert(unlink(manifest) == 0);
    cr_assert(rmdir(pdir) == 0, "files left in %s", pdir);
    cr_assert(rmdir(dir) == 0, "files left in %s", dir);
    free(out);
    free(err);
    /* with --require-sandbox it cannot write: refused, one line */
    const char *a2[] = {"-p", pid, "--dump-findings", dir, "--require-sandbox", NULL};
    cr_assert_eq(run_check(a2, &out, &err), 2);
    cr_assert(strstr(err, "--require-sandbox") && !strchr(err, '\n')[1], "%s", err);
    free(out);
    free(err);
    target_stop(&t);
}
