/* sandbox_probe.c - enters the sandbox of cli/sandbox.c the way `memgrep
 * scan` does (--require-sandbox, writes to stdout and stderr only, no
 * de-duplication capability), then makes one call that a sweep must never
 * make, for test_sandbox:
 *
 *   sandbox_probe writev|ptrace|execve     trapped: stderr has the line
 *                                          "memgrep: sandbox: forbidden system
 *                                          call NAME (a bug): stopping", exit 2
 *   sandbox_probe open PATH                opens PATH for writing or creating
 *                                          it, seven ways (nine with open(2))
 *   sandbox_probe exec                     maps executable memory, makes
 *                                          memory executable (and, as the
 *                                          control, the same without exec)
 *   sandbox_probe socket|kill|read         socket(2), kill(2) of a child,
 *                                          read of /proc/self/maps
 *
 * A call that returns prints "NAME ret=R errno=E" (E: the errno name, or 0)
 * on stdout and the probe goes on; exit 0 at the end. Setup failures: exit 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sandbox.h"

static volatile char target_byte = 'a';

static void report(const char *name, long ret)
{
    printf("%s ret=%ld errno=%s\n", name, ret, ret < 0 ? strerrorname_np(errno) : "0");
    fflush(stdout);
}

/* A child that waits to be killed (and dies with us). Returns once the
 * child has asked for that: a child stopped by the ptrace action before
 * its prctl would outlive us, stopped, holding our stdout and stderr. */
static pid_t child(void)
{
    pid_t parent = getpid();
    int ready[2];
    if (pipe(ready) != 0) {
        perror("sandbox_probe: pipe");
        exit(3);
    }
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        close(ready[0]);
        if (write(ready[1], "r", 1) != 1)
            _exit(0);
        close(ready[1]);
        for (;;)
            pause();
    }
    if (pid < 0) {
        perror("sandbox_probe: fork");
        exit(3);
    }
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) {
        fprintf(stderr, "sandbox_probe: the child did not start\n");
        exit(3);
    }
    close(ready[0]);
    return pid;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: sandbox_probe writev|ptrace|execve|open PATH|exec|socket|kill|read\n");
        return 3;
    }
    const char *what = argv[1];
    pid_t kid = child();
    cli_sandbox mode = {.mode = CLI_SANDBOX_REQUIRED};
    cli_sandbox_needs needs = {
        .write_fds = {STDOUT_FILENO, STDERR_FILENO},
        .n_write_fds = 2,
        .dir_fd = -1,
    };
    if (cli_sandbox_enter(&mode, &needs) < 0)
        return 3;

    if (!strcmp(what, "writev")) {
        /* Same layout after fork: target_byte is at the same address. */
        char b = 'X';
        struct iovec local = {&b, 1}, remote = {(void *)&target_byte, 1};
        report("process_vm_writev", (long)process_vm_writev(kid, &local, 1, &remote, 1, 0));
    } else if (!strcmp(what, "ptrace")) {
        report("ptrace", ptrace(PTRACE_ATTACH, kid, NULL, NULL));
    } else if (!strcmp(what, "execve")) {
        char *args[] = {"/bin/true", NULL};
        report("execve", execve(args[0], args, environ));
    } else if (!strcmp(what, "open") && argc > 2) {
        const char *p = argv[2];
        report("open_wronly_creat", open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        report("open_rdwr_creat", open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        report("openat_creat_excl",
               openat(AT_FDCWD, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        report("creat", creat(p, 0600));
        report("open_rdonly_trunc", open(p, O_RDONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        report("open_rdonly_creat", open(p, O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
        report("open_rdonly_creat_excl", open(p, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
#ifdef SYS_open /* glibc's open() is openat(2): the old call has its own rule */
        report("sys_open_wronly_creat", syscall(SYS_open, p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        report("sys_open_rdonly_creat", syscall(SYS_open, p, O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
#endif
    } else if (!strcmp(what, "exec")) {
        int anon = MAP_PRIVATE | MAP_ANONYMOUS;
        void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, anon, -1, 0);
        report("mmap_exec", x == MAP_FAILED ? -1 : 0);
        void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, anon, -1, 0);
        report("mmap_rw", m == MAP_FAILED ? -1 : 0);
        if (m != MAP_FAILED) {
            report("mprotect_exec", mprotect(m, 4096, PROT_READ | PROT_EXEC));
            report("mprotect_rwx", mprotect(m, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
            report("mprotect_ro", mprotect(m, 4096, PROT_READ));
        }
    } else if (!strcmp(what, "socket")) {
        report("socket_inet", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        report("socket_unix", socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    } else if (!strcmp(what, "kill")) {
        report("kill", kill(kid, SIGKILL));
    } else if (!strcmp(what, "read")) {
        int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        report("open_maps", fd);
        char buf[4096];
        report("read_maps", fd < 0 ? -1 : (long)read(fd, buf, sizeof(buf)));
        report("close_maps", fd < 0 ? -1 : close(fd));
    } else {
        fprintf(stderr, "sandbox_probe: unknown action %s\n", what);
        return 3;
    }
    return 0;
}
