/* sandbox.h - what memgrep may still do while it reads hostile memory.
 *
 * memgrep runs as root and hands every process's memory to a pattern
 * matcher: a bug there must meet a process that can do nothing but read and
 * report. Right before the sweep (patterns compiled, database cache written,
 * output open), cli_sandbox_enter:
 *
 *   1. keeps only the capabilities a sweep uses, in the effective, permitted
 *      and inheritable sets and (with CAP_SETPCAP) the bounding set:
 *      CAP_SYS_PTRACE (process_vm_readv, /proc/PID/mem), CAP_DAC_READ_SEARCH
 *      (opening other users' /proc/PID/mem and pagemap, mode 0400/0600, for
 *      reading) and, only for de-duplication, CAP_SYS_ADMIN (the kernel shows
 *      page frame numbers in pagemap only to a file opened with it);
 *   2. sets PR_SET_NO_NEW_PRIVS;
 *   3. installs a seccomp allow-list on every thread (cli/sandbox.c lists
 *      it): reads, opens of files for reading only, the PAGEMAP_SCAN ioctl,
 *      writes to the output descriptors alone, the output's final rename,
 *      memory, threads (clone with CLONE_THREAD only), signals to itself,
 *      clocks. Anything else fails with EPERM, which the engine reports as
 *      an event; process_vm_writev, ptrace, execve and execveat can only
 *      mean a bug or an exploit: they stop memgrep (exit 2) with one line
 *      "memgrep: sandbox: forbidden system call NAME (a bug): stopping".
 *
 * A step that fails (no seccomp in the kernel, say) is one warning line and
 * the sweep goes on without it, unless --require-sandbox asked to fail
 * closed. --no-sandbox skips it all.
 *
 * Test builds with AddressSanitizer or LeakSanitizer (CLI_SANDBOX_FOR_LSAN)
 * relax the filter for LeakSanitizer's leak check at exit, which stops the
 * process's threads from a task it clones (CLONE_VM, not CLONE_THREAD) that
 * ptrace-attaches each of them: that clone, ptrace (not trapped), wait4 and
 * prctl PR_SET_PTRACER / PR_SET_PDEATHSIG are allowed there. Never in a
 * build without those sanitizers.
 */
#ifndef MEMGREP_CLI_SANDBOX_H
#define MEMGREP_CLI_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "opts.h"

/* 1 in builds with AddressSanitizer or LeakSanitizer (GCC defines
 * __SANITIZE_ADDRESS__, clang has __has_feature): see above. */
#if defined(__SANITIZE_ADDRESS__)
#define CLI_SANDBOX_FOR_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define CLI_SANDBOX_FOR_LSAN 1
#endif
#endif
#ifndef CLI_SANDBOX_FOR_LSAN
#define CLI_SANDBOX_FOR_LSAN 0
#endif

typedef enum cli_sandbox_mode {
    CLI_SANDBOX_ON = 0, /* default: on; a failing step is a warning */
    CLI_SANDBOX_OFF, /* --no-sandbox */
    CLI_SANDBOX_REQUIRED, /* --require-sandbox: a failing step is an error */
} cli_sandbox_mode;

/* Sandbox: --no-sandbox, --require-sandbox (the last one given wins). */
typedef struct cli_sandbox {
    cli_sandbox_mode mode;
} cli_sandbox;
extern const cli_group cli_sandbox_group;

/* Most descriptors the sweep may write to (stdout, stderr, -o's file). */
#define CLI_SANDBOX_MAX_WRITE_FDS 4

/* What this sweep needs beyond the common set. */
typedef struct cli_sandbox_needs {
    bool pfn; /* de-duplication: page frame numbers, so keep CAP_SYS_ADMIN */
    bool io_uring; /* --mem-reader io_uring: io_uring_setup/enter/register */
    int write_fds[CLI_SANDBOX_MAX_WRITE_FDS]; /* write/writev/fsync only to these */
    size_t n_write_fds;
    int dir_fd; /* -o's directory: renameat/unlinkat within it; -1: none */
} cli_sandbox_needs;

/* Enter the sandbox (mode ON or REQUIRED) for the calling process: call it
 * with no other thread running. Returns 0: sandboxed, or off, or (mode ON)
 * a step failed and one warning line was printed; -1: mode REQUIRED and a
 * step failed, after one line on stderr. */
int cli_sandbox_enter(const cli_sandbox *s, const cli_sandbox_needs *needs);

#endif
