/*
 * hostile_fixture.c - odd and hostile targets for test_hostile.c.
 *
 *   hostile_fixture MODE --token HEX [ARG]
 *
 * Markers are FIXTURE_MARKER_PREFIX TOKEN "-" NAME ";" written piece by
 * piece into their final place (as in fixture.c), so a full marker exists
 * only where it is reported. Output lines, then READY:
 *   PLANT <name> 0x<addr> <len>
 *   INFO <key> <value>
 *   SKIP <reason>      (the kernel refused the setup; the process exits)
 * Then it serves commands read from stdin, one letter a line, until EOF:
 *   c  print "COUNT <n>" (uffd: faults seen; churn: cycles; forker: children)
 *   f  (uffd) print "FAULTS <n>", then "FAULT <pid> 0x<addr> <comm>" for each
 *      of the first MAX_FAULTS faults: the process whose thread faulted
 *      (UFFD_FEATURE_THREAD_ID; read while that thread waits in the fault)
 *   s  (fusetarget) start a thread that touches an uncached page: it blocks
 *   m  start a thread that maps and unmaps a page in a loop (a writer of
 *      the mmap lock); "c" then counts its cycles
 *
 * Modes:
 *   uffd        64 pages registered with userfaultfd (missing mode), pages
 *               0-3 present, a plant in page 1; faults are counted and never
 *               resolved (a read of an absent page blocks forever)
 *   fusedaemon  ARG = mount point: serves a 1 MiB file "f" over /dev/fuse
 *               (plant "fuse" at FUSE_PLANT_OFF, in the file only); SIGUSR1
 *               makes it stop answering
 *   fusetarget  ARG = that file: maps it, reads pages 0 and 5 (the plant)
 *   churn       a thread that mmaps, writes, mprotects and munmaps in a loop
 *   forker      a thread that forks short-lived children (~2 ms) in a loop
 *   names       comm and a mapped file name full of control, quote and
 *               invalid UTF-8 bytes; plants "odd" (heap) and "oddfile"
 *               (the file); INFO dir <hex of the directory's path>
 *   plain       plant "plain" on the heap (comm set from ARG if given)
 *   twochunks   a 2 MiB anonymous mapping, plant "chunk0" 100 bytes into it
 *               and "chunk1" 100 bytes into its second MiB (two chunks of
 *               mg_strings, MG_STRINGS_CHUNK)
 */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ul
#define FUSE_FILE_SIZE (1024ul * 1024ul)
#define FUSE_PLANT_OFF (5 * PAGE + 200)
#define ODD_COMM "\n\"\x1b[2J\xff\xc3(\\"
#define ODD_FILE "n\nq\"e\x1b[2J\x1b]0;t\x07\xff\xc3(\\.bin"

static const char *token;
static atomic_ulong count;

static void die(const char *what)
{
    printf("FAIL %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(3);
}

static void skip(const char *what)
{
    printf("SKIP %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(0);
}

static size_t put_marker(uint8_t *dst, const char *name)
{
    const char *pieces[] = {FIXTURE_MARKER_PREFIX, token, "-", name, ";"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        for (const char *s = pieces[i]; *s; s++)
            dst[n++] = (uint8_t)*s;
    return n;
}

static void plant(void *dst, const char *name)
{
    size_t n = put_marker(dst, name);
    printf("PLANT %s %p %zu\n", name, dst, n);
}

static void *xmmap(size_t len, int prot, int flags, int fd)
{
    void *p = mmap(NULL, len, prot, flags, fd, 0);
    if (p == MAP_FAILED)
        die("mmap");
    return p;
}

/* ---- uffd ---- */

#define MAX_FAULTS 16

static struct {
    pid_t pid; /* of the faulting thread's process; 0 if gone already */
    uint64_t addr;
    char comm[32];
} faults[MAX_FAULTS];
static pthread_mutex_t faults_lock = PTHREAD_MUTEX_INITIALIZER;

/* Who faulted: thread tid's process id and name, from /proc. */
static void fault_cause(pid_t tid, pid_t *pid, char *comm, size_t size)
{
    char path[64], line[128];
    *pid = 0;
    snprintf(comm, size, "?");
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int tgid;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Tgid: %d", &tgid) == 1)
            *pid = tgid;
        else if (!strncmp(line, "Name:\t", 6))
            snprintf(comm, size, "%.*s", (int)strcspn(line + 6, "\n"), line + 6);
    }
    fclose(f);
}

static void *uffd_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0)
            continue;
        struct uffd_msg msg;
        if (read(fd, &msg, sizeof msg) != (ssize_t)sizeof msg || msg.event != UFFD_EVENT_PAGEFAULT)
            continue;
        /* never resolved: the faulting thread waits until it is killed */
        unsigned long n = atomic_load(&count);
        if (n < MAX_FAULTS) {
            pthread_mutex_lock(&faults_lock);
            faults[n].addr = msg.arg.pagefault.address;
            fault_cause((pid_t)msg.arg.pagefault.feat.ptid, &faults[n].pid, faults[n].comm,
                        sizeof faults[n].comm);
            pthread_mutex_unlock(&faults_lock);
        }
        atomic_fetch_add(&count, 1);
    }
    return NULL;
}

static void print_faults(void)
{
    unsigned long n = atomic_load(&count);
    printf("FAULTS %lu\n", n);
    pthread_mutex_lock(&faults_lock);
    for (unsigned long i = 0; i < n && i < MAX_FAULTS; i++)
        printf("FAULT %d 0x%llx %s\n", (int)faults[i].pid, (unsigned long long)faults[i].addr,
               faults[i].comm);
    pthread_mutex_unlock(&faults_lock);
}

static void mode_uffd(void)
{
    size_t len = 64 * PAGE;
    uint8_t *p = xmmap(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    madvise(p, len, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < 4; i++)
        p[i * PAGE] = 0x42;
    plant(p + PAGE + 100, "uffd");
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        skip("userfaultfd (root, vm.unprivileged_userfaultfd=1 or UFFD_USER_MODE_ONLY needed)");
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_THREAD_ID};
    if (ioctl(fd, UFFDIO_API, &api) != 0)
        skip("UFFDIO_API with UFFD_FEATURE_THREAD_ID");
    struct uffdio_register reg = {.range = {.start = (uintptr_t)p, .len = len},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0)
        skip("UFFDIO_REGISTER");
    printf("INFO region %p %zu\n", (void *)p, len);
    pthread_t th;
    if (pthread_create(&th, NULL, uffd_thread, (void *)(intptr_t)fd) != 0)
        die("pthread_create");
}

/* ---- FUSE: a one-file file system spoken straight over /dev/fuse ---- */

static volatile sig_atomic_t fuse_stopped;

static void on_usr1(int sig)
{
    (void)sig;
    fuse_stopped = 1;
}

static void fuse_reply(int fd, uint64_t unique, int error, const void *data, size_t len)
{
    struct fuse_out_header h = {
        .len = (uint32_t)(sizeof h + len), .error = error, .unique = unique};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)data, len}};
    if (writev(fd, iov, len ? 2 : 1) < 0 && errno != ENOENT)
        perror("fuse writev");
}

static void fuse_attr(struct fuse_attr *a, uint64_t ino)
{
    memset(a, 0, sizeof *a);
    a->ino = ino;
    a->mode = ino == 1 ? S_IFDIR | 0755 : S_IFREG | 0444;
    a->nlink = ino == 1 ? 2 : 1;
    a->size = ino == 1 ? 0 : FUSE_FILE_SIZE;
    a->blocks = a->size / 512;
    a->blksize = PAGE;
}

/* Bytes [off, off+len) of the file: a pattern, and the marker at
 * FUSE_PLANT_OFF; the buffer is wiped after the reply, so the marker never
 * stays in this process. */
static void fuse_content(uint8_t *buf, uint64_t off, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)('a' + (off + i) % 26);
    uint8_t m[128];
    size_t n = put_marker(m, "fuse");
    for (size_t i = 0; i < n; i++)
        if (FUSE_PLANT_OFF + i >= off && FUSE_PLANT_OFF + i < off + len)
            buf[FUSE_PLANT_OFF + i - off] = m[i];
    explicit_bzero(m, sizeof m);
}

static void mode_fusedaemon(const char *mnt)
{
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        skip("open /dev/fuse");
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
    if (mount("mg-hostile", mnt, "fuse.mg-hostile", MS_NOSUID | MS_NODEV, opts) != 0)
        skip("mount fuse");
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &sa, NULL);
    printf("READY\n");
    fflush(stdout);
    static uint8_t in[FUSE_MIN_READ_BUFFER + 2 * 1024 * 1024];
    static uint8_t out[1024 * 1024];
    for (;;) {
        ssize_t n = read(fd, in, sizeof in);
        if (fuse_stopped) /* never answer again (the request stays pending) */
            for (;;)
                pause();
        if (n < 0) {
            if (errno == EINTR || errno == ENOENT)
                continue;
            exit(0); /* ENODEV: unmounted */
        }
        struct fuse_in_header *h = (void *)in;
        void *arg = in + sizeof *h;
        switch (h->opcode) {
        case FUSE_INIT: {
            struct fuse_init_in *ii = arg;
            struct fuse_init_out io = {.major = FUSE_KERNEL_VERSION,
                                       .minor = ii->minor < FUSE_KERNEL_MINOR_VERSION
                                                    ? ii->minor
                                                    : FUSE_KERNEL_MINOR_VERSION,
                                       .max_readahead = 0,
                                       .max_write = 4096,
                                       .max_pages = 1};
            fuse_reply(fd, h->unique, 0, &io, sizeof io);
            break;
        }
        case FUSE_LOOKUP: {
            if (h->nodeid != 1 || strcmp(arg, "f")) {
                fuse_reply(fd, h->unique, -ENOENT, NULL, 0);
                break;
            }
            struct fuse_entry_out e = {.nodeid = 2, .generation = 1};
            fuse_attr(&e.attr, 2);
            e.entry_valid = e.attr_valid = 3600;
            fuse_reply(fd, h->unique, 0, &e, sizeof e);
            break;
        }
        case FUSE_GETATTR: {
            struct fuse_attr_out a = {.attr_valid = 3600};
            fuse_attr(&a.attr, h->nodeid);
            fuse_reply(fd, h->unique, 0, &a, sizeof a);
            break;
        }
        case FUSE_OPEN:
        case FUSE_OPENDIR: {
            struct fuse_open_out o = {.fh = 1, .open_flags = FOPEN_KEEP_CACHE};
            fuse_reply(fd, h->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_READ: {
            struct fuse_read_in *r = arg;
            size_t len = r->size;
            if (r->offset >= FUSE_FILE_SIZE)
                len = 0;
            else if (r->offset + len > FUSE_FILE_SIZE)
                len = FUSE_FILE_SIZE - r->offset;
            if (len > sizeof out)
                len = sizeof out;
            fuse_content(out, r->offset, len);
            fuse_reply(fd, h->unique, 0, out, len);
            explicit_bzero(out, len);
            break;
        }
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
            break; /* no reply */
        case FUSE_RELEASE:
        case FUSE_RELEASEDIR:
        case FUSE_FLUSH:
            fuse_reply(fd, h->unique, 0, NULL, 0);
            break;
        default:
            fuse_reply(fd, h->unique, -ENOSYS, NULL, 0);
            break;
        }
    }
}

static volatile uint8_t *fuse_map;

static void *fuse_stuck(void *arg)
{
    (void)arg;
    (void)fuse_map[100 * PAGE]; /* never cached, never answered */
    return NULL;
}

static void mode_fusetarget(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("open fuse file");
    uint8_t *m = xmmap(FUSE_FILE_SIZE, PROT_READ, MAP_SHARED, fd);
    close(fd);
    madvise(m, FUSE_FILE_SIZE, MADV_RANDOM);
    fuse_map = m;
    (void)fuse_map[0];
    (void)fuse_map[5 * PAGE];
    printf("PLANT fuse %p %zu\n", (void *)(m + FUSE_PLANT_OFF),
           strlen(FIXTURE_MARKER_PREFIX) + strlen(token) + strlen("-fuse;"));
    printf("INFO region %p %lu\n", (void *)m, FUSE_FILE_SIZE);
}

/* ---- churn ---- */

static void *churn_thread(void *arg)
{
    (void)arg;
    unsigned seed = 1;
    for (;;) {
        size_t len = PAGE * (1 + rand_r(&seed) % 256);
        uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            continue;
        for (size_t i = 0; i < len; i += PAGE)
            p[i] = (uint8_t)i | 1;
        mprotect(p, len / 2, PROT_NONE);
        mprotect(p, len / 2, PROT_READ);
        munmap(p + PAGE, PAGE); /* split the VMA */
        munmap(p, len);
        atomic_fetch_add(&count, 1);
    }
    return NULL;
}

static void *map_thread(void *arg)
{
    (void)arg;
    for (;;) {
        void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
            munmap(p, PAGE);
        atomic_fetch_add(&count, 1);
    }
    return NULL;
}

static void *fork_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pid_t pid = fork();
        if (pid == 0) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            _exit(0);
        }
        if (pid > 0)
            atomic_fetch_add(&count, 1);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void start_thread(void *(*fn)(void *))
{
    pthread_t th;
    if (pthread_create(&th, NULL, fn, NULL) != 0)
        die("pthread_create");
}

/* ---- names ---- */

static void mode_names(void)
{
    prctl(PR_SET_NAME, (unsigned long)ODD_COMM, 0, 0, 0);
    plant(malloc(64), "odd");
    char dir[] = "/tmp/mg-hostile-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    printf("INFO dir ");
    for (const char *s = dir; *s; s++)
        printf("%02x", (unsigned char)*s);
    printf("\n");
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, ODD_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        die("open odd file");
    if (ftruncate(fd, 2 * PAGE) != 0)
        die("ftruncate");
    uint8_t *m = xmmap(2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    close(fd);
    plant(m + 300, "oddfile");
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--token")) {
        fprintf(stderr, "usage: hostile_fixture MODE --token HEX [ARG]\n");
        return 2;
    }
    const char *mode = argv[1], *arg = argc > 4 ? argv[4] : NULL;
    token = argv[3];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!strcmp(mode, "uffd"))
        mode_uffd();
    else if (!strcmp(mode, "fusedaemon") && arg)
        mode_fusedaemon(arg); /* does not return */
    else if (!strcmp(mode, "fusetarget") && arg)
        mode_fusetarget(arg);
    else if (!strcmp(mode, "churn"))
        start_thread(churn_thread);
    else if (!strcmp(mode, "forker"))
        start_thread(fork_thread);
    else if (!strcmp(mode, "names"))
        mode_names();
    else if (!strcmp(mode, "twochunks")) {
        uint8_t *p = xmmap(2u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
        plant(p + 100, "chunk0");
        plant(p + (1u << 20) + 100, "chunk1");
    } else if (!strcmp(mode, "plain")) {
        if (arg)
            prctl(PR_SET_NAME, (unsigned long)arg, 0, 0, 0);
        plant(malloc(64), "plain");
    } else {
        fprintf(stderr, "hostile_fixture: unknown mode %s\n", mode);
        return 2;
    }
    printf("READY\n");
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        if (line[0] == 'c')
            printf("COUNT %lu\n", atomic_load(&count));
        else if (line[0] == 'f')
            print_faults();
        else if (line[0] == 's') {
            start_thread(fuse_stuck);
            struct timespec ts = {0, 200000000};
            nanosleep(&ts, NULL);
            printf("STUCK\n");
        } else if (line[0] == 'm') {
            start_thread(map_thread);
            printf("MAPPING\n");
        }
        fflush(stdout);
    }
    _exit(0);
}
