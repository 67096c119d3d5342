/* test_sandbox.c - the sweep's sandbox (cli/sandbox.c) and -o FILE
 * (cli/output/outfile.c).
 *
 * The forbidden calls are tried by tests/sandbox_probe ($MG_SANDBOX_PROBE),
 * which enters the same sandbox as `memgrep scan`: process_vm_writev,
 * ptrace and execve are trapped (one line, exit 2), opens for writing or
 * creating, executable memory and sockets fail with EPERM, reading /proc
 * works. This is what makes "never write to a target" hold by
 * construction.
 *
 * memgrep ($MEMGREP) is observed mid-sweep through /proc/PID/status: its
 * stdout is a pipe that is not read until the status was checked, and the
 * sweep has far more output than the pipe holds, so memgrep is blocked in
 * the middle of mg_scan. Likewise -o's temporary file is looked at while
 * memgrep is blocked writing its summary on a full stderr pipe, before the
 * rename. Sweeps of the fixture need root. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "json.h"
#include "sandbox.h" /* CLI_SANDBOX_FOR_LSAN */

/* The capabilities a sweep keeps (cli/sandbox.h). */
#define CAP_BIT(n) (1ull << (n))
#define KEEP_CAPS (CAP_BIT(19) /* SYS_PTRACE */ | CAP_BIT(2) /* DAC_READ_SEARCH */)
#define KEEP_CAPS_DEDUPE (KEEP_CAPS | CAP_BIT(21) /* SYS_ADMIN */)
#define CAP_SETPCAP_BIT CAP_BIT(8)

static fixture fx;

static void stop(void)
{
    fixture_stop(&fx);
}

TestSuite(sandbox, .fini = stop, .timeout = 100);

/* ---- running programs ---- */

typedef struct run_result {
    int status; /* exit code; -1 if killed */
    int signal; /* the signal that killed it, or 0 */
    char *out, *err;
    size_t out_len, err_len;
} run_result;

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* Start exe with args (NULL-terminated, args[0] is the first argument),
 * stdin /dev/null, stdout out_fd, stderr err_fd, umask mask (-1: ours). */
static pid_t spawn(const char *exe, const char *const *args, int out_fd, int err_fd, int mask)
{
    const char *argv[64] = {exe};
    size_t argc = 1;
    for (size_t i = 0; args[i]; i++) {
        cr_assert_lt(argc, 62u);
        argv[argc++] = args[i];
    }
    /* memgrep scan: no database cache (as root it would be /var/cache). */
    const char *mg = getenv("MEMGREP");
    if (mg && !strcmp(exe, mg) && args[0] && !strcmp(args[0], "scan"))
        argv[argc++] = "--no-db-cache";
    argv[argc] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        syscall(SYS_close_range, 3u, ~0u, 0u);
        signal(SIGPIPE, SIG_DFL); /* as a shell starts it */
        if (mask >= 0)
            umask((mode_t)mask);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Read out_fd and err_fd (either may be -1) to EOF, then reap pid. */
static run_result collect(pid_t pid, int out_fd, int err_fd)
{
    run_result r = {0};
    int ws = child_collect(pid, out_fd, err_fd, &r.out, &r.out_len, &r.err, &r.err_len);
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r.signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
    return r;
}

/* Run exe with args, stdout and stderr captured, or stdout to out_fd when
 * out_fd >= 0; umask mask (-1: ours). */
static run_result run_with(const char *exe, const char *const *args, int out_fd, int mask)
{
    int out[2] = {-1, -1}, err[2];
    if (out_fd < 0)
        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
    pid_t pid = spawn(exe, args, out_fd >= 0 ? out_fd : out[1], err[1], mask);
    if (out_fd < 0)
        close(out[1]);
    close(err[1]);
    return collect(pid, out[0], err[0]);
}

static const char *memgrep_exe(void)
{
    const char *exe = getenv("MEMGREP");
    cr_assert(exe && *exe, "MEMGREP is not set: cli/ must define the memgrep_exe target");
    return exe;
}

static run_result memgrep(const char *const *args)
{
    return run_with(memgrep_exe(), args, -1, -1);
}

static run_result probe(const char *const *args)
{
    const char *exe = getenv("MG_SANDBOX_PROBE");
    cr_assert(exe && *exe, "MG_SANDBOX_PROBE is not set");
    run_result r = run_with(exe, args, -1, -1);
    /* 3: the sandbox could not be entered (a kernel without seccomp...) */
    if (r.status == 3 && strstr(r.err, "memgrep: sandbox:"))
        cr_skip_test("no sandbox here: %s", r.err);
    return r;
}

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n;
}

/* Exit 2 and exactly one line on stderr holding `needle`. */
static void expect_one_line_error(const run_result *r, const char *needle)
{
    cr_assert_eq(r->status, 2, "exit %d (signal %d), expected 2; stderr: %s", r->status, r->signal,
                 r->err);
    cr_assert_eq(count_lines(r->err, r->err_len), 1u, "stderr is not one line: \"%s\"", r->err);
    cr_assert(strstr(r->err, needle), "stderr \"%s\" does not name \"%s\"", r->err, needle);
}

static char *fixture_pid(void)
{
    static char buf[16];
    if (!fx.pid)
        fixture_start(&fx, NULL);
    snprintf(buf, sizeof buf, "%d", (int)fx.pid);
    return buf;
}

/* ---- /proc/PID/status ---- */

/* The value of "Key:" in /proc/PID/task/TID/status (TID 0: the process),
 * malloc'd; fails the test if absent. */
static char *status_value(pid_t pid, pid_t tid, const char *key)
{
    char path[96], line[512];
    if (tid)
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
    else
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s: %s", path, strerror(errno));
    size_t kl = strlen(key);
    char *v = NULL;
    while (!v && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            char *s = line + kl + 1;
            s += strspn(s, " \t");
            s[strcspn(s, "\n")] = '\0';
            v = strdup(s);
        }
    fclose(f);
    cr_assert(v, "%s has no %s", path, key);
    return v;
}

static uint64_t status_hex(pid_t pid, pid_t tid, const char *key)
{
    char *v = status_value(pid, tid, key);
    uint64_t x = strtoull(v, NULL, 16);
    free(v);
    return x;
}

static long status_num(pid_t pid, pid_t tid, const char *key)
{
    char *v = status_value(pid, tid, key);
    long x = strtol(v, NULL, 10);
    free(v);
    return x;
}

/* ---- the probe: what the sandbox forbids ---- */

static void expect_trapped(const char *action, const char *call)
{
    run_result r = probe((const char *[]){action, NULL});
    char expected[128];
    snprintf(expected, sizeof expected,
             "memgrep: sandbox: forbidden system call %s (a bug): stopping\n", call);
    cr_assert_eq(r.status, 2, "%s: exit %d (signal %d), expected 2; stdout: %s stderr: %s", call,
                 r.status, r.signal, r.out, r.err);
    cr_assert_str_eq(r.err, expected, "%s: stderr is not the one line", call);
    cr_assert_eq(r.out_len, 0u, "%s returned: %s", call, r.out);
    run_free(&r);
}

Test(sandbox, process_vm_writev_is_trapped)
{
    expect_trapped("writev", "process_vm_writev");
}

#if CLI_SANDBOX_FOR_LSAN
/* Sanitizer test builds only: LeakSanitizer's exit-time check ptraces our
 * own threads, so ptrace is allowed (cli/sandbox.h), as the probe shows by
 * attaching to its own child. */
Test(sandbox, ptrace_is_allowed_for_leaksanitizer)
{
    run_result r = probe((const char *[]){"ptrace", NULL});
    cr_assert_eq(r.status, 0, "exit %d (signal %d); stderr: %s", r.status, r.signal, r.err);
    cr_assert_str_eq(r.out, "ptrace ret=0 errno=0\n");
    run_free(&r);
}
#else
Test(sandbox, ptrace_is_trapped)
{
    expect_trapped("ptrace", "ptrace");
}
#endif

Test(sandbox, execve_is_trapped)
{
    expect_trapped("execve", "execve");
}

/* Every "NAME ret=R errno=E" line of the probe has errno `expected`; returns
 * the number of lines. */
static size_t expect_errno(const run_result *r, const char *expected)
{
    cr_assert_eq(r->status, 0, "probe exit %d (signal %d); stderr: %s", r->status, r->signal,
                 r->err);
    size_t n = 0;
    char tail[64];
    snprintf(tail, sizeof tail, "ret=-1 errno=%s", expected);
    for (char *line = r->out; *line;) {
        char *nl = strchr(line, '\n');
        cr_assert(nl, "unterminated probe line: %s", line);
        *nl = '\0';
        cr_assert(strstr(line, tail), "%s: expected \"%s\"", line, tail);
        n++;
        line = nl + 1;
    }
    return n;
}

Test(sandbox, open_for_writing_is_denied)
{
    char dir[] = "/tmp/mg-sandbox-open-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/created", dir);
    run_result r = probe((const char *[]){"open", path, NULL});
#ifdef SYS_open
    size_t opens = 9; /* and two with open(2) itself */
#else
    size_t opens = 7;
#endif
    cr_assert_eq(expect_errno(&r, "EPERM"), opens, "%zu opens: %s", opens, r.out);
    struct stat st;
    cr_assert_eq(lstat(path, &st), -1, "%s was created", path);
    cr_assert_eq(errno, ENOENT);
    run_free(&r);
    rmdir(dir);
}

/* No executable memory: mmap with PROT_EXEC and mprotect to it fail; the
 * same calls without PROT_EXEC work. */
Test(sandbox, executable_memory_is_denied)
{
    run_result r = probe((const char *[]){"exec", NULL});
    cr_assert_eq(r.status, 0, "probe exit %d (signal %d); stderr: %s", r.status, r.signal, r.err);
    cr_assert_str_eq(r.out, "mmap_exec ret=-1 errno=EPERM\n"
                            "mmap_rw ret=0 errno=0\n"
                            "mprotect_exec ret=-1 errno=EPERM\n"
                            "mprotect_rwx ret=-1 errno=EPERM\n"
                            "mprotect_ro ret=0 errno=0\n");
    run_free(&r);
}

Test(sandbox, sockets_and_signals_to_others_are_denied)
{
    run_result r = probe((const char *[]){"socket", NULL});
    cr_assert_eq(expect_errno(&r, "EPERM"), 2u, "%s", r.out);
    run_free(&r);
    r = probe((const char *[]){"kill", NULL});
    cr_assert_eq(expect_errno(&r, "EPERM"), 1u, "%s", r.out);
    run_free(&r);
}

Test(sandbox, reading_proc_is_allowed)
{
    run_result r = probe((const char *[]){"read", NULL});
    cr_assert_eq(r.status, 0, "exit %d (signal %d); stderr: %s", r.status, r.signal, r.err);
    cr_assert(strstr(r.out, "open_maps ret="), "%s", r.out);
    cr_assert_not(strstr(r.out, "open_maps ret=-1"), "%s", r.out);
    cr_assert_not(strstr(r.out, "read_maps ret=-1"), "%s", r.out);
    cr_assert_not(strstr(r.out, "read_maps ret=0 "), "%s", r.out);
    cr_assert(strstr(r.out, "close_maps ret=0 errno=0"), "%s", r.out);
    run_free(&r);
}

/* ---- memgrep mid-sweep ---- */

/* A sweep of the fixture that prints far more than a pipe holds: every
 * 8-byte run of zeros, up to 20000 (7 MB of text). */
#define ZEROS "00 00 00 00 00 00 00 00"

typedef struct blocked {
    pid_t pid;
    int out, err; /* read ends */
} blocked;

/* Start memgrep on the fixture with the zeros pattern and extra args; it
 * returns once memgrep has printed (so it is inside mg_scan, past the
 * sandbox) and cannot finish until we read. */
static blocked start_blocked(const char *const *extra)
{
    const char *args[32] = {"scan", "-p", fixture_pid(), "-x", ZEROS, "-m", "20000", NULL};
    size_t n = 7;
    for (size_t i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    int out[2], err[2];
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
    blocked b = {.pid = spawn(memgrep_exe(), args, out[1], err[1], -1)};
    close(out[1]);
    close(err[1]);
    b.out = out[0];
    b.err = err[0];
    struct pollfd pfd = {.fd = b.out, .events = POLLIN};
    cr_assert_eq(poll(&pfd, 1, 90000), 1, "memgrep printed nothing for 90 s");
    cr_assert(pfd.revents & POLLIN, "stdout closed before any output");
    return b;
}

/* Drain and reap: the sweep must have found its 20000 runs of zeros. */
static void finish_blocked(blocked *b)
{
    run_result r = collect(b->pid, b->out, b->err);
    cr_assert_eq(r.status, 0, "exit %d (signal %d); stderr: %s", r.status, r.signal, r.err);
    cr_assert_eq(count_lines(r.out, r.out_len), 20000u);
    run_free(&r);
}

/* Every thread of pid: the kept capabilities exactly, no_new_privs and
 * one more seccomp filter than we have. */
static void expect_sandboxed(pid_t pid, uint64_t keep)
{
    uint64_t own = status_hex(getpid(), 0, "CapEff");
    uint64_t expected = own & keep;
    long own_filters = status_num(getpid(), 0, "Seccomp_filters");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    cr_assert(d);
    size_t tasks = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        pid_t tid = (pid_t)atoi(e->d_name);
        tasks++;
        cr_assert_eq(status_hex(pid, tid, "CapEff"), expected,
                     "task %d: CapEff %" PRIx64 ", expected %" PRIx64, (int)tid,
                     status_hex(pid, tid, "CapEff"), expected);
        cr_assert_eq(status_hex(pid, tid, "CapPrm"), expected, "task %d: CapPrm", (int)tid);
        cr_assert_eq(status_hex(pid, tid, "CapInh"), 0u, "task %d: CapInh", (int)tid);
        if (own & CAP_SETPCAP_BIT)
            cr_assert_eq(status_hex(pid, tid, "CapBnd"), expected, "task %d: CapBnd %" PRIx64,
                         (int)tid, status_hex(pid, tid, "CapBnd"));
        cr_assert_eq(status_num(pid, tid, "NoNewPrivs"), 1, "task %d: NoNewPrivs", (int)tid);
        cr_assert_eq(status_num(pid, tid, "Seccomp"), 2, "task %d: Seccomp", (int)tid);
        cr_assert_eq(status_num(pid, tid, "Seccomp_filters"), own_filters + 1,
                     "task %d: Seccomp_filters", (int)tid);
    }
    closedir(d);
    cr_assert_gt(tasks, 1u, "memgrep has no worker threads");
}

Test(sandbox, status_during_a_sweep)
{
    need_root();
    blocked b = start_blocked(NULL);
    expect_sandboxed(b.pid, KEEP_CAPS_DEDUPE);
    finish_blocked(&b);
    /* Without de-duplication, no page frame numbers: no CAP_SYS_ADMIN. */
    b = start_blocked((const char *[]){"--no-dedupe", NULL});
    expect_sandboxed(b.pid, KEEP_CAPS);
    finish_blocked(&b);
}

Test(sandbox, no_sandbox_keeps_everything)
{
    need_root();
    blocked b = start_blocked((const char *[]){"--no-sandbox", NULL});
    cr_assert_eq(status_hex(b.pid, 0, "CapEff"), status_hex(getpid(), 0, "CapEff"));
    cr_assert_eq(status_num(b.pid, 0, "Seccomp_filters"),
                 status_num(getpid(), 0, "Seccomp_filters"));
    cr_assert_eq(status_num(b.pid, 0, "Seccomp"), status_num(getpid(), 0, "Seccomp"));
    cr_assert_eq(status_num(b.pid, 0, "NoNewPrivs"), status_num(getpid(), 0, "NoNewPrivs"));
    finish_blocked(&b);
}

/* ---- strings and maps: sandboxed too ---- */

/* memgrep strings of the fixture: megabytes of runs into a one-page pipe
 * that is read only after /proc/PID/status was checked, so memgrep is
 * blocked inside mg_strings, with the target's bytes in hand. It must hold
 * the sweep's sandbox, without CAP_SYS_ADMIN (no page frame numbers), and
 * print what it prints without the sandbox. */
Test(sandbox, strings_runs_sandboxed)
{
    need_root();
    const char *args[] = {"strings", fixture_pid(), "--require-sandbox", NULL};
    int out[2], err[2];
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
    cr_assert_geq(fcntl(out[1], F_SETPIPE_SZ, 4096), 0);
    pid_t pid = spawn(memgrep_exe(), args, out[1], err[1], -1);
    close(out[1]);
    close(err[1]);
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    cr_assert_eq(poll(&pfd, 1, 90000), 1, "memgrep strings printed nothing for 90 s");
    cr_assert(pfd.revents & POLLIN, "stdout closed before any output");
    uint64_t expected = status_hex(getpid(), 0, "CapEff") & KEEP_CAPS;
    cr_assert_eq(status_hex(pid, 0, "CapEff"), expected, "CapEff %" PRIx64 ", expected %" PRIx64,
                 status_hex(pid, 0, "CapEff"), expected);
    cr_assert_eq(status_hex(pid, 0, "CapPrm"), expected);
    cr_assert_eq(status_num(pid, 0, "NoNewPrivs"), 1);
    cr_assert_eq(status_num(pid, 0, "Seccomp"), 2);
    cr_assert_eq(status_num(pid, 0, "Seccomp_filters"),
                 status_num(getpid(), 0, "Seccomp_filters") + 1);
    run_result in = collect(pid, out[0], err[0]);
    if (in.status == 2 && strstr(in.err, "memgrep: sandbox:"))
        cr_skip_test("no sandbox here: %s", in.err);
    cr_assert_eq(in.status, 0, "exit %d (signal %d); stderr: %s", in.status, in.signal, in.err);
    cr_assert_eq(in.err_len, 0u, "stderr: %s", in.err);
    cr_assert_gt(in.out_len, (size_t)1 << 20, "only %zu bytes: memgrep was not held", in.out_len);
    run_result off = memgrep((const char *[]){"strings", fixture_pid(), "--no-sandbox", NULL});
    cr_assert_eq(off.status, 0);
    cr_assert_eq(in.out_len, off.out_len);
    cr_assert(!memcmp(in.out, off.out, in.out_len), "different runs with and without the sandbox");
    run_free(&in);
    run_free(&off);
}

/* maps enters it before reading the target's maps and pagemap: the same
 * listing (sizes and resident bytes) either way. */
Test(sandbox, maps_under_require_sandbox)
{
    need_root();
    run_result in = memgrep((const char *[]){"maps", fixture_pid(), "--require-sandbox", NULL});
    if (in.status == 2 && strstr(in.err, "memgrep: sandbox:"))
        cr_skip_test("no sandbox here: %s", in.err);
    run_result off = memgrep((const char *[]){"maps", fixture_pid(), "--no-sandbox", NULL});
    cr_assert_eq(in.status, 0, "exit %d; stderr: %s", in.status, in.err);
    cr_assert_eq(off.status, 0);
    cr_assert_gt(count_lines(in.out, in.out_len), 3u);
    cr_assert_str_eq(in.out, off.out);
    run_free(&in);
    run_free(&off);
}

/* ---- the same matches with and without the sandbox ---- */

typedef struct rec {
    int64_t pid, id;
    uint64_t addr;
} rec;

static int rec_cmp(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static int64_t jnum(const jval *o, const char *key)
{
    const jval *v = json_get(o, key);
    cr_assert(v && v->t == J_NUM, "no number \"%s\"", key);
    return strtoll(v->raw, NULL, 10);
}

/* The match records of --json output, sorted. */
static rec *match_records(const run_result *r, size_t *n)
{
    rec *out = calloc(count_lines(r->out, r->out_len) + 1, sizeof *out);
    *n = 0;
    for (const char *p = r->out; *p;) {
        const char *nl = strchr(p, '\n');
        cr_assert(nl);
        jval v;
        size_t off;
        cr_assert_eq(json_parse(p, (size_t)(nl - p), &v, &off), 0, "not JSON: %.*s", (int)(nl - p),
                     p);
        const jval *t = json_get(&v, "type");
        if (t && t->t == J_STR && !strcmp(t->str, "match")) {
            const jval *a = json_get(&v, "address");
            cr_assert(a && a->t == J_STR);
            out[*n] = (rec){jnum(&v, "pid"), jnum(&v, "pattern_id"), strtoull(a->str, NULL, 16)};
            (*n)++;
        }
        json_free(&v);
        p = nl + 1;
    }
    qsort(out, *n, sizeof *out, rec_cmp);
    return out;
}

Test(sandbox, same_matches_as_without)
{
    need_root();
    const char *pid = fixture_pid();
    static const char *const names[] = {"heap",  "big",    "stack", "tstack",
                                        "memfd", "shanon", "ctx",   "case"};
    enum {
        N = sizeof names / sizeof names[0]
    };
    char *markers[N];
    const char *args[48] = {"scan", "--json", "--no-summary", "-p", pid};
    size_t argc = 5;
    for (size_t i = 0; i < N; i++) {
        markers[i] = fixture_marker(&fx, names[i]);
        args[argc++] = "-e";
        args[argc++] = markers[i];
    }
    /* Expected: every plain plant of those names. */
    rec expected[96];
    size_t n_want = 0;
    for (size_t i = 0; i < fx.n_plants; i++)
        for (size_t id = 0; id < N; id++)
            if (!strcmp(fx.plants[i].name, names[id]) && !strcmp(fx.plants[i].kind, "plain"))
                expected[n_want++] = (rec){fx.pid, (int64_t)id, fx.plants[i].addr};
    qsort(expected, n_want, sizeof *expected, rec_cmp);
    cr_assert_gt(n_want, (size_t)N);

    const char *modes[] = {NULL, "--no-sandbox", "--require-sandbox"};
    for (size_t m = 0; m < 3; m++) {
        args[argc] = modes[m];
        args[argc + 1] = NULL;
        run_result r = memgrep(args);
        cr_assert_eq(r.status, 0, "%s: exit %d; stderr: %s", modes[m] ? modes[m] : "default",
                     r.status, r.err);
        cr_assert_eq(r.err_len, 0u, "stderr: %s", r.err);
        size_t n;
        rec *got = match_records(&r, &n);
        cr_assert_eq(n, n_want, "%s: %zu matches, expected %zu", modes[m] ? modes[m] : "default", n,
                     n_want);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(rec_cmp(&got[i], &expected[i]), 0,
                         "%s: match %zu is pattern %" PRId64 " at 0x%" PRIx64
                         ", expected pattern %" PRId64 " at 0x%" PRIx64,
                         modes[m] ? modes[m] : "default", i, got[i].id, got[i].addr, expected[i].id,
                         expected[i].addr);
        free(got);
        run_free(&r);
    }
    for (size_t i = 0; i < N; i++)
        free(markers[i]);
}

/* ---- -o FILE ---- */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s: %s", path, strerror(errno));
    char *s = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&s, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(s);
        s = strdup("");
    }
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* Names in dir other than . and .. that start with prefix. */
static size_t count_entries(const char *dir, const char *prefix, char *first, size_t size)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            !strncmp(e->d_name, prefix, strlen(prefix))) {
            if (!n && first) {
                int len = snprintf(first, size, "%s/%s", dir, e->d_name);
                cr_assert(len > 0 && (size_t)len < size);
            }
            n++;
        }
    closedir(d);
    return n;
}

Test(sandbox, output_file_is_0600_whatever_the_umask)
{
    need_root();
    const char *pid = fixture_pid();
    char *heap = fixture_marker(&fx, "heap");
    char dir[] = "/tmp/mg-sandbox-out-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/hits.txt", dir);
    run_result r =
        run_with(memgrep_exe(), (const char *[]){"scan", "-p", pid, "-o", path, heap, NULL}, -1, 0);
    cr_assert_eq(r.status, 0, "exit %d; stderr: %s", r.status, r.err);
    cr_assert_eq(r.out_len, 0u, "-o, yet stdout has: %s", r.out);
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_mode & 07777, 0600, "mode %o under umask 0", st.st_mode & 07777);
    char *text = read_text(path);
    char addr[32];
    for (size_t i = 0; i < fx.n_plants; i++)
        if (!strcmp(fx.plants[i].name, "heap"))
            snprintf(addr, sizeof addr, "%" PRIx64, fx.plants[i].addr);
    cr_assert(strcasestr(text, addr), "%s does not show the heap plant at %s:\n%s", path, addr,
              text);
    cr_assert_eq(count_entries(dir, "", NULL, 0), 1u, "a temporary file was left behind");
    free(text);
    run_free(&r);

    /* JSON too, replacing the file. */
    r = run_with(memgrep_exe(),
                 (const char *[]){"scan", "--json", "-p", pid, "-o", path, heap, NULL}, -1, 0);
    cr_assert_eq(r.status, 0, "exit %d; stderr: %s", r.status, r.err);
    cr_assert_eq(lstat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600);
    text = read_text(path);
    cr_assert(strstr(text, "\"type\":\"summary\""), "no JSON summary in %s:\n%s", path, text);
    free(text);
    run_free(&r);
    remove_tree(dir);
    free(heap);
}

/* Under the sandbox, -o's file takes FILE's name at its first record
 * (linkat of the unnamed file, then a rename over the old FILE): mid-run,
 * blocked on its summary, FILE already holds the match, mode 0600, and
 * no temporary name is left in the directory, ever. */
Test(sandbox, output_file_named_at_the_first_record)
{
    need_root();
    const char *pid = fixture_pid();
    char *heap = fixture_marker(&fx, "heap");
    char dir[] = "/tmp/mg-sandbox-late-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/hits.txt", dir);
    write_text(path, "old\n");

    /* stderr: a full pipe, so memgrep blocks on its summary, which it
     * writes after the sweep and before the final fsync. */
    int err[2];
    cr_assert_eq(pipe2(err, O_CLOEXEC | O_NONBLOCK), 0);
    cr_assert_gt(fcntl(err[1], F_SETPIPE_SZ, 4096), 0);
    char fill[4096];
    memset(fill, 'x', sizeof fill);
    size_t filled = 0;
    for (ssize_t w; (w = write(err[1], fill, sizeof fill)) > 0;)
        filled += (size_t)w;
    cr_assert_eq(errno, EAGAIN);
    int flags = fcntl(err[1], F_GETFL);
    cr_assert_eq(fcntl(err[1], F_SETFL, flags & ~O_NONBLOCK), 0);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t m = spawn(memgrep_exe(), (const char *[]){"scan", "-p", pid, "-o", path, heap, NULL},
                    null, err[1], -1);
    close(null);
    close(err[1]);

    /* Wait until its main thread sits in write(2, ...). */
    char expected[32], path_sc[64], sc[256];
    snprintf(expected, sizeof expected, "%d 0x2 ", (int)SYS_write);
    snprintf(path_sc, sizeof path_sc, "/proc/%d/syscall", (int)m);
    bool blocked_on_stderr = false;
    for (int i = 0; i < 9000 && !blocked_on_stderr; i++) {
        FILE *f = fopen(path_sc, "r");
        cr_assert(f);
        blocked_on_stderr = fgets(sc, sizeof sc, f) && !strncmp(sc, expected, strlen(expected));
        fclose(f);
        if (!blocked_on_stderr)
            usleep(10000);
    }
    cr_assert(blocked_on_stderr, "memgrep never blocked writing to stderr (%s)", sc);

    /* Mid-run: FILE is the new file, with the match, 0600; nothing else. */
    char *text = read_text(path);
    cr_assert(strstr(text, heap), "%s lacks the match mid-run:\n%s", path, text);
    cr_assert_null(strstr(text, "old\n"), "%s still holds the old text", path);
    free(text);
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
    cr_assert_eq(count_entries(dir, "", NULL, 0), 1u, "more than FILE in the directory");

    /* Let it finish: stderr had our filler, then memgrep's summary. */
    flags = fcntl(err[0], F_GETFL);
    cr_assert_eq(fcntl(err[0], F_SETFL, flags & ~O_NONBLOCK), 0);
    run_result r = collect(m, -1, err[0]);
    cr_assert_eq(r.status, 0, "exit %d; stderr: %s", r.status, r.err + filled);
    cr_assert_geq(r.err_len, filled);
    text = read_text(path);
    cr_assert(strstr(text, heap), "%s lacks the match:\n%s", path, text);
    cr_assert_eq(count_entries(dir, "", NULL, 0), 1u, "a temporary file was left");
    free(text);
    run_free(&r);
    remove_tree(dir);
    free(heap);
}

Test(sandbox, output_symlink_is_refused)
{
    need_root();
    const char *pid = fixture_pid();
    char *heap = fixture_marker(&fx, "heap");
    /* A sticky world-writable directory, as /tmp: nobody plants a link to
     * a file of root's where root will write. */
    char dir[] = "/tmp/mg-sandbox-link-XXXXXX";
    cr_assert(mkdtemp(dir));
    cr_assert_eq(chmod(dir, 01777), 0);
    char victim[64], link[64];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(link, sizeof link, "%s/hits.txt", dir);
    write_text(victim, "precious\n");
    cr_assert_eq(chmod(victim, 0644), 0);
    pid_t c = fork();
    cr_assert_geq(c, 0);
    if (c == 0) {
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
            _exit(3);
        _exit(symlink(victim, link) == 0 ? 0 : 4);
    }
    int ws;
    cr_assert_eq(waitpid(c, &ws, 0), c);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "uid 65534 could not plant the link");
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert_eq(st.st_uid, 65534u);

    run_result r = memgrep((const char *[]){"scan", "-p", pid, "-o", link, heap, NULL});
    expect_one_line_error(&r, link);
    cr_assert(strstr(r.err, "symbolic link"), "%s", r.err);
    char *text = read_text(victim);
    cr_assert_str_eq(text, "precious\n", "the link's target was written");
    free(text);
    cr_assert_eq(lstat(victim, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644, "the link's target changed mode");
    cr_assert_eq(st.st_uid, 0u);
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the link was replaced");
    cr_assert_eq(count_entries(dir, ".memgrep-", NULL, 0), 0u, "temporary file left");
    run_free(&r);
    remove_tree(dir);
    free(heap);
}

Test(sandbox, output_in_a_missing_directory)
{
    const char *pid = fixture_pid();
    char path[96];
    snprintf(path, sizeof path, "/tmp/mg-sandbox-none-%d-%ld/hits.txt", (int)getpid(),
             (long)random());
    run_result r = memgrep((const char *[]){"scan", "-p", pid, "-o", path, "needle", NULL});
    expect_one_line_error(&r, path);
    cr_assert_eq(r.out_len, 0u);
    run_free(&r);
    /* Not a regular file: a directory, a device. */
    r = memgrep((const char *[]){"scan", "-p", pid, "-o", "/tmp", "needle", NULL});
    expect_one_line_error(&r, "/tmp");
    run_free(&r);
    r = memgrep((const char *[]){"scan", "-p", pid, "-o", "/dev/null", "needle", NULL});
    expect_one_line_error(&r, "/dev/null");
    run_free(&r);
    r = memgrep((const char *[]){"scan", "-p", pid, "-o", "", "needle", NULL});
    expect_one_line_error(&r, "--output");
    run_free(&r);
}

Test(sandbox, stdout_full_disk)
{
    need_root();
    const char *pid = fixture_pid();
    char *heap = fixture_marker(&fx, "heap");
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (full < 0)
        cr_skip_test("no /dev/full: %s", strerror(errno));
    run_result r =
        run_with(memgrep_exe(), (const char *[]){"scan", "-p", pid, heap, NULL}, full, -1);
    close(full);
    cr_assert_eq(r.status, 2, "exit %d (signal %d); stderr: %s", r.status, r.signal, r.err);
    cr_assert(strstr(r.err, "memgrep: write error on stdout: No space left on device"),
              "stderr: %s", r.err);
    run_free(&r);
    free(heap);
}

Test(sandbox, output_file_full_disk)
{
    need_root();
    const char *pid = fixture_pid();
    /* A private mount namespace (this test's process only) with a tiny
     * tmpfs, filled up. */
    if (unshare(CLONE_NEWNS) < 0)
        cr_skip_test("cannot make a mount namespace: %s", strerror(errno));
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        cr_skip_test("cannot make mounts private: %s", strerror(errno));
    char dir[] = "/tmp/mg-sandbox-full-XXXXXX";
    cr_assert(mkdtemp(dir));
    if (mount("mg-full", dir, "tmpfs", 0, "size=64k,mode=0755") < 0) {
        rmdir(dir);
        cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
    }
    char filler[96], path[96];
    snprintf(filler, sizeof filler, "%s/filler", dir);
    snprintf(path, sizeof path, "%s/hits.txt", dir);
    int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    char block[4096];
    memset(block, 'f', sizeof block);
    while (write(fd, block, sizeof block) > 0)
        ;
    cr_assert_eq(errno, ENOSPC);
    close(fd);

    /* Plenty of output (the zeros pattern): it cannot fit. */
    run_result r = memgrep((const char *[]){"scan", "-p", pid, "-x", ZEROS, "-m", "5000",
                                            "--no-summary", "-o", path, NULL});
    expect_one_line_error(&r, path);
    cr_assert(strstr(r.err, "No space left on device"), "%s", r.err);
    struct stat st;
    cr_assert_eq(lstat(path, &st), -1, "%s was created", path);
    cr_assert_eq(count_entries(dir, ".memgrep-", NULL, 0), 0u, "temporary file left");
    run_free(&r);
    umount(dir);
    rmdir(dir);
}

Test(sandbox, closed_pipe_ends_quietly)
{
    need_root();
    /* memgrep ... | head -1 */
    blocked b = start_blocked(NULL);
    char buf[4096];
    cr_assert_gt(read(b.out, buf, sizeof buf), 0);
    close(b.out);
    run_result r = collect(b.pid, -1, b.err);
    cr_assert_eq(r.signal, SIGPIPE, "exit %d (signal %d)", r.status, r.signal);
    cr_assert_eq(r.err_len, 0u, "stderr after a closed pipe: %s", r.err);
    run_free(&r);
}
