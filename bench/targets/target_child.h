// target_child.h - a forked target process for the micro benchmarks.
//
// The child maps its regions, writes their two addresses down a pipe and
// waits; the parent opens one /proc/PID file of it. Both bench_readers and
// bench_residency use it (one static instance each, killed at exit).
#ifndef MEMGREP_BENCH_TARGET_CHILD_H
#define MEMGREP_BENCH_TARGET_CHILD_H

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

[[noreturn]] inline void bench_die(const char *prog, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    std::exit(2);
}

struct TargetChild {
    pid_t pid = -1;
    int fd = -1; // /proc/PID/<file>, shared by all benchmarks (pread is positional)
    uint64_t addr[2] = {0, 0};

    // child_main(write_fd, parent) must write both addresses and never return.
    TargetChild(const char *prog, void (*child_main)(int, pid_t), const char *file)
    {
        int fds[2];
        if (pipe(fds) < 0)
            bench_die(prog, "pipe");
        pid_t parent = getpid();
        pid = fork();
        if (pid < 0)
            bench_die(prog, "fork");
        if (pid == 0) {
            close(fds[0]);
            child_main(fds[1], parent);
            _exit(1);
        }
        close(fds[1]);
        ssize_t n = read(fds[0], addr, sizeof addr);
        close(fds[0]);
        if (n != static_cast<ssize_t>(sizeof addr) || !addr[0] || !addr[1]) {
            fprintf(stderr, "%s: the target could not map its regions\n", prog);
            std::exit(2);
        }
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            bench_die(prog, path);
    }

    ~TargetChild()
    {
        if (fd >= 0)
            close(fd);
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }

    TargetChild(const TargetChild &) = delete;
    TargetChild &operator=(const TargetChild &) = delete;
};

#endif
