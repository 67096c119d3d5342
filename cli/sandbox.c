/* sandbox.c - capabilities (libcap-ng), no_new_privs and a seccomp
 * allow-list (libseccomp) for the sweep. What is allowed and why: below,
 * next to each rule. The set was taken from `strace -f -c` of sweeps with
 * and without --json, -o, --mem-reader io_uring, --no-dedupe, -j 1/2, of
 * one process and of all. */
#include "sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

/* The Linux 6.7 uapi ioctl (struct pm_scan_arg: 12 u64), for headers that
 * predate it, as in engine/src/os/residency.c. */
#define SANDBOX_PAGEMAP_SCAN _IOWR('f', 16, char[96])

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

enum {
    OPT_NO_SANDBOX,
    OPT_REQUIRE_SANDBOX
};

static const cli_opt sandbox_opts[] = {
    {OPT_NO_SANDBOX, 0, "no-sandbox", NULL,
     "keep all capabilities, no system call filter\n"
     "(default: only what a sweep needs, see README)",
     NULL},
    {OPT_REQUIRE_SANDBOX, 0, "require-sandbox", NULL,
     "stop if the sandbox cannot be set up\n"
     "(default: one warning, then the sweep runs without it)",
     NULL},
    {0},
};

static int sandbox_parse(void *state, int id, const char *arg)
{
    (void)arg;
    cli_sandbox *s = state;
    s->mode = id == OPT_NO_SANDBOX ? CLI_SANDBOX_OFF : CLI_SANDBOX_REQUIRED;
    return 0;
}

const cli_group cli_sandbox_group = {
    .title = "Sandbox",
    .opts = sandbox_opts,
    .parse = sandbox_parse,
};

/* ------------------------------------------------------------------ */
/* Capabilities                                                        */
/* ------------------------------------------------------------------ */

/* Keep the needed capabilities we hold, drop every other one. Returns 0 or
 * -1 with *what set. */
static int drop_caps(bool pfn, const char **what)
{
    const unsigned wanted[] = {CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN};
    size_t n_wanted = pfn ? 3 : 2;
    bool have[3] = {false};
    *what = "reading the capabilities";
    if (capng_get_caps_process() < 0)
        return -1;
    bool bounds = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
    for (size_t i = 0; i < n_wanted; i++)
        have[i] = capng_have_capability(CAPNG_PERMITTED, wanted[i]);
    /* Without CAP_SETPCAP the bounding set cannot shrink; NO_NEW_PRIVS and
     * the execve trap keep it from mattering. */
    capng_select_t sets = bounds ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS;
    capng_clear(sets);
    for (size_t i = 0; i < n_wanted; i++)
        if (have[i] &&
            capng_update(CAPNG_ADD,
                         CAPNG_EFFECTIVE | CAPNG_PERMITTED | (bounds ? CAPNG_BOUNDING_SET : 0),
                         wanted[i]) < 0)
            return -1;
    *what = "dropping capabilities";
    return capng_apply(sets) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* The forbidden calls                                                 */
/* ------------------------------------------------------------------ */

/* Calls that only a bug or an exploit would make: SCMP_ACT_TRAP, then this
 * handler says which and stops. Numbers resolved before the filter is on,
 * so the handler only reads this table (async-signal-safe). */
static struct {
    const char *name;
    int nr;
} trapped[] = {
    {"process_vm_writev", -1},
#if !CLI_SANDBOX_FOR_LSAN /* LeakSanitizer's exit-time check ptraces our threads */
    {"ptrace", -1},
#endif
    {"execve", -1},
    {"execveat", -1},
};

#define N_TRAPPED (sizeof(trapped) / sizeof(trapped[0]))

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    static const char head[] = "memgrep: sandbox: forbidden system call ";
    static const char tail[] = " (a bug): stopping\n";
    char line[128], num[16];
    const char *name = NULL;
    for (size_t i = 0; i < N_TRAPPED; i++)
        if (trapped[i].nr == si->si_syscall)
            name = trapped[i].name;
    if (!name) { /* not ours: the number in decimal */
        unsigned v = (unsigned)si->si_syscall;
        size_t k = sizeof(num) - 1;
        num[k] = '\0';
        do
            num[--k] = (char)('0' + v % 10);
        while ((v /= 10) && k);
        name = num + k;
    }
    size_t n = 0, l;
    memcpy(line + n, head, sizeof(head) - 1);
    n += sizeof(head) - 1;
    l = strnlen(name, 40);
    memcpy(line + n, name, l);
    n += l;
    memcpy(line + n, tail, sizeof(tail) - 1);
    n += sizeof(tail) - 1;
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
    _exit(2);
}

/* ------------------------------------------------------------------ */
/* The allow-list                                                      */
/* ------------------------------------------------------------------ */

/* Add a rule for the named call, if this architecture has it. */
static int rule(scmp_filter_ctx f, uint32_t action, const char *name, unsigned n_args,
                const struct scmp_arg_cmp *args)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR || nr < 0)
        return 0;
    return seccomp_rule_add_array(f, action, nr, n_args, args);
}

static int allow(scmp_filter_ctx f, const char *name)
{
    return rule(f, SCMP_ACT_ALLOW, name, 0, NULL);
}

/* Allowed when argument `arg` equals `value`. */
static int allow_eq(scmp_filter_ctx f, const char *name, unsigned arg, uint64_t value)
{
    struct scmp_arg_cmp c = {.arg = arg, .op = SCMP_CMP_EQ, .datum_a = value};
    return rule(f, SCMP_ACT_ALLOW, name, 1, &c);
}

/* Allowed when (argument `arg` & mask) == value. */
static int allow_masked(scmp_filter_ctx f, const char *name, unsigned arg, uint64_t mask,
                        uint64_t value)
{
    struct scmp_arg_cmp c = {
        .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = value};
    return rule(f, SCMP_ACT_ALLOW, name, 1, &c);
}

/* Calls with no argument worth filtering. */
static const char *const plain[] = {
    /* reading: target memory, /proc, the output's stat */
    "read", "pread64", "readv", "preadv", "preadv2", "process_vm_readv", "lseek", "getdents64",
    "readlink", "readlinkat", "fstat", "stat", "lstat", "newfstatat", "statx", "access",
    "faccessat", "faccessat2", "close", "pidfd_open",
    /* memory */
    "brk", "munmap", "madvise", "mremap",
    /* threads */
    "futex", "set_robust_list", "get_robust_list", "rseq", "sched_yield", "sched_getaffinity",
    "sched_getattr", "sched_setattr", "getpriority", "setpriority", "ioprio_get", "ioprio_set",
    "prlimit64", "membarrier", "sysinfo",
    /* signals, clocks, ids */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "clock_gettime",
    "clock_getres", "gettimeofday", "clock_nanosleep", "nanosleep", "poll", "ppoll", "getrandom",
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
    "getresgid", "exit", "exit_group"};

#define N_PLAIN (sizeof(plain) / sizeof(plain[0]))

static int build_filter(scmp_filter_ctx f, const cli_sandbox_needs *n)
{
    int rc = 0;
    for (size_t i = 0; i < N_PLAIN && rc == 0; i++)
        rc = allow(f, plain[i]);
    /* Opens for reading only: no write access, no O_CREAT, no O_TRUNC
     * (O_TMPFILE needs write access). openat2 hides its flags in a
     * struct: denied, glibc does not use it. */
    uint64_t wflags = O_ACCMODE | O_CREAT | O_TRUNC;
    if (!rc)
        rc = allow_masked(f, "openat", 2, wflags, O_RDONLY);
    if (!rc)
        rc = allow_masked(f, "open", 1, wflags, O_RDONLY);
    /* Never executable memory: there is no JIT, and nothing is loaded. */
    if (!rc)
        rc = allow_masked(f, "mmap", 2, PROT_EXEC, 0);
    if (!rc)
        rc = allow_masked(f, "mprotect", 2, PROT_EXEC, 0);
    /* Threads only (glibc tries clone3 first; its flags are in a struct,
     * so clone3 says ENOSYS and glibc falls back to clone). */
    if (!rc)
        rc = allow_masked(f, "clone", 0, CLONE_THREAD, CLONE_THREAD);
    if (!rc)
        rc = rule(f, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
#if CLI_SANDBOX_FOR_LSAN
    /* Sanitizer test builds only (sandbox.h): LeakSanitizer's leak check at
     * exit clones a tracer task (CLONE_VM | CLONE_UNTRACED, no
     * CLONE_THREAD) that lets itself be the ptracer (PR_SET_PTRACER), dies
     * with its parent (PR_SET_PDEATHSIG), ptrace-attaches each of our
     * threads (listed with the old getdents), reads their registers and
     * detaches; the parent waits for it (wait4). */
    uint64_t tracer = CLONE_VM | CLONE_UNTRACED;
    if (!rc)
        rc = allow_masked(f, "clone", 0, CLONE_THREAD | tracer, tracer);
    if (!rc)
        rc = allow(f, "ptrace");
    if (!rc)
        rc = allow(f, "wait4");
    if (!rc)
        rc = allow(f, "getdents");
    if (!rc)
        rc = allow_eq(f, "prctl", 0, PR_SET_PTRACER);
    if (!rc)
        rc = allow_eq(f, "prctl", 0, PR_SET_PDEATHSIG);
#endif
    /* ioctl: PAGEMAP_SCAN, and TCGETS for isatty (not TIOCSTI & co). */
    if (!rc)
        rc = allow_eq(f, "ioctl", 1, SANDBOX_PAGEMAP_SCAN);
    if (!rc)
        rc = allow_eq(f, "ioctl", 1, TCGETS);
    /* fcntl: stdio's and glibc's queries. */
    if (!rc)
        rc = allow_eq(f, "fcntl", 1, F_GETFL);
    if (!rc)
        rc = allow_eq(f, "fcntl", 1, F_GETFD);
    /* Signals to ourselves only (raise, abort). */
    pid_t self = getpid();
    if (!rc)
        rc = allow_eq(f, "tgkill", 0, (uint64_t)self);
    if (!rc)
        rc = allow_eq(f, "kill", 0, (uint64_t)self);
    /* Writes: to the output descriptors alone. */
    for (size_t i = 0; i < n->n_write_fds && !rc; i++) {
        uint64_t fd = (uint64_t)n->write_fds[i];
        rc = allow_eq(f, "write", 0, fd);
        if (!rc)
            rc = allow_eq(f, "writev", 0, fd);
        if (!rc)
            rc = allow_eq(f, "fsync", 0, fd);
        if (!rc)
            rc = allow_eq(f, "fdatasync", 0, fd);
    }
    /* -o: naming the unnamed file (linkat of /proc/self/fd/N into the
     * directory: its first argument is AT_FDCWD), the rename over FILE,
     * the removal of a temporary name and the directory's fsync, within
     * the output's directory only. */
    if (n->dir_fd >= 0 && !rc) {
        uint64_t d = (uint64_t)n->dir_fd;
        struct scmp_arg_cmp both[2] = {{.arg = 0, .op = SCMP_CMP_EQ, .datum_a = d},
                                       {.arg = 2, .op = SCMP_CMP_EQ, .datum_a = d}};
        struct scmp_arg_cmp link[2] = {{.arg = 0,
                                        .op = SCMP_CMP_MASKED_EQ,
                                        .datum_a = 0xffffffffu,
                                        .datum_b = (uint32_t)AT_FDCWD},
                                       {.arg = 2, .op = SCMP_CMP_EQ, .datum_a = d}};
        rc = rule(f, SCMP_ACT_ALLOW, "linkat", 2, link);
        if (!rc)
            rc = rule(f, SCMP_ACT_ALLOW, "renameat", 2, both);
        if (!rc)
            rc = rule(f, SCMP_ACT_ALLOW, "renameat2", 2, both);
        if (!rc)
            rc = allow_eq(f, "unlinkat", 0, d);
        if (!rc)
            rc = allow_eq(f, "fsync", 0, d);
    }
    /* io_uring only when it is the chosen reader: seccomp does not see
     * the operations submitted through a ring. */
    if (n->io_uring)
        for (const char *const *s = (const char *const[]){"io_uring_setup", "io_uring_enter",
                                                          "io_uring_register", NULL};
             *s && !rc; s++)
            rc = allow(f, *s);
    for (size_t i = 0; i < N_TRAPPED && !rc; i++)
        rc = rule(f, SCMP_ACT_TRAP, trapped[i].name, 0, NULL);
    return rc;
}

static int install_filter(const cli_sandbox_needs *n, const char **what)
{
    for (size_t i = 0; i < N_TRAPPED; i++)
        trapped[i].nr = seccomp_syscall_resolve_name(trapped[i].name);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    *what = "installing the SIGSYS handler";
    if (sigaction(SIGSYS, &sa, NULL) < 0)
        return -errno;
    *what = "building the system call filter";
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!f)
        return -ENOMEM;
    int rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1);
    if (!rc)
        rc = build_filter(f, n);
    if (!rc) {
        *what = "installing the system call filter";
        rc = seccomp_load(f);
    }
    seccomp_release(f);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Entering                                                            */
/* ------------------------------------------------------------------ */

int cli_sandbox_enter(const cli_sandbox *s, const cli_sandbox_needs *needs)
{
    if (s->mode == CLI_SANDBOX_OFF)
        return 0;
    const char *what = NULL;
    int err = 0;
    if (drop_caps(needs->pfn, &what) < 0)
        err = errno ? errno : EPERM;
    else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        what = "setting no_new_privs";
        err = errno;
    } else {
        int rc = install_filter(needs, &what);
        err = rc < 0 ? -rc : rc;
    }
    if (!err)
        return 0;
    if (s->mode == CLI_SANDBOX_REQUIRED) {
        fprintf(stderr, "memgrep: sandbox: %s failed: %s (required by --require-sandbox)\n", what,
                strerror(err));
        return -1;
    }
    fprintf(stderr,
            "memgrep: warning: sandbox: %s failed: %s; the sweep runs without it "
            "(--no-sandbox silences this)\n",
            what, strerror(err));
    return 0;
}
