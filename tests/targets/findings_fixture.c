/* findings_fixture.c - targets of test_findings (memgrep check): one sign of
 * fileless or tampered code each, or none. Usage: findings_fixture MODE
 *   plain     nothing (the control; also run from a memfd, from a deleted
 *             file, traced, or under another name by the test)
 *   rwx       an anonymous PROT_READ|PROT_WRITE|PROT_EXEC mapping holding
 *             shellcode bytes
 *   rx        anonymous PROT_READ|PROT_EXEC memory (written, then mprotect)
 *   kworker   comm set to "[kworker/0:1]" (prctl PR_SET_NAME); the test
 *             gives argv[0] too
 *   thread    a second thread, which waits
 *   mapfile F F mapped PROT_READ|PROT_EXEC (the test deletes it later)
 *   memfd     a memfd holding shellcode bytes mapped PROT_READ|PROT_EXEC
 *   code      nothing; prints the address of a function of its own text,
 *             which the test patches through /proc/PID/mem (patched_code)
 * Prints "addr 0xADDRESS" (rwx, rx, mapfile, memfd: the mapping; code: the
 * function) or "tid TID" (thread: the second thread), then "ready", and
 * exits when stdin reaches EOF. */
#include <fcntl.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* x86-64 execve("/bin/sh") shellcode: bytes only, never run. */
static const unsigned char shellcode[] = {0x48, 0x31, 0xf6, 0x56, 0x48, 0xbf, 0x2f, 0x62,
                                          0x69, 0x6e, 0x2f, 0x2f, 0x73, 0x68, 0x57, 0x54,
                                          0x5f, 0x6a, 0x3b, 0x58, 0x99, 0x0f, 0x05};

static void *code_mapping(int final_prot)
{
    size_t len = (size_t)sysconf(_SC_PAGESIZE) * 4;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE | (final_prot & PROT_EXEC),
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memcpy(p, shellcode, sizeof(shellcode));
    if (mprotect(p, len, final_prot) < 0)
        return NULL;
    return p;
}

/* Never called: its text is what the test patches. */
__attribute__((noinline, used)) int patch_site(int x);
__attribute__((noinline, used)) int patch_site(int x)
{
    return x * 3 + 7;
}

static int tid_pipe[2];

static void *waiter(void *arg)
{
    (void)arg;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (write(tid_pipe[1], &tid, sizeof(tid)) != sizeof(tid))
        return NULL;
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "plain";
    void *addr = NULL;
    if (!strcmp(mode, "rwx") || !strcmp(mode, "rx")) {
        addr = code_mapping(!strcmp(mode, "rwx") ? PROT_READ | PROT_WRITE | PROT_EXEC
                                                 : PROT_READ | PROT_EXEC);
        if (!addr) {
            perror("findings_fixture: mmap");
            return 1;
        }
        printf("addr %p\n", addr);
    } else if (!strcmp(mode, "kworker")) {
        if (prctl(PR_SET_NAME, "[kworker/0:1]", 0, 0, 0) < 0) {
            perror("findings_fixture: prctl");
            return 1;
        }
    } else if (!strcmp(mode, "mapfile") || !strcmp(mode, "memfd")) {
        int fd = !strcmp(mode, "memfd") ? memfd_create("mgt-code", MFD_CLOEXEC)
                 : argc > 2             ? open(argv[2], O_RDONLY | O_CLOEXEC)
                                        : -1;
        if (fd >= 0 && !strcmp(mode, "memfd") &&
            write(fd, shellcode, sizeof(shellcode)) != (ssize_t)sizeof(shellcode))
            fd = -1;
        addr = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) : MAP_FAILED;
        if (addr == MAP_FAILED) {
            perror("findings_fixture: map a file");
            return 1;
        }
        close(fd);
        printf("addr %p\n", addr);
    } else if (!strcmp(mode, "thread")) {
        pthread_t t;
        pid_t tid;
        if (pipe(tid_pipe) < 0 || pthread_create(&t, NULL, waiter, NULL) ||
            read(tid_pipe[0], &tid, sizeof(tid)) != sizeof(tid)) {
            perror("findings_fixture: thread");
            return 1;
        }
        printf("tid %d\n", (int)tid);
    } else if (!strcmp(mode, "code")) {
        printf("addr %p\n", (void *)(uintptr_t)&patch_site);
    } else if (strcmp(mode, "plain")) {
        fprintf(stderr, "findings_fixture: unknown mode '%s'\n", mode);
        return 2;
    }
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}
