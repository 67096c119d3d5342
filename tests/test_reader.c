/* test_reader.c - the two readers of engine/src/os/reader.c on a fixture:
 * process_vm_readv and /proc/PID/mem (pread and io_uring), full reads,
 * short reads at the end of a mapping, unmapped addresses, batches past
 * the iovec limit, and a dead process. Needs root. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "os/reader.h"

#define PAGE 4096u

static fixture fx;

static void stop(void)
{
    fixture_stop(&fx);
}

TestSuite(reader, .fini = stop, .timeout = 60);

static int open_mem(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    return fd;
}

static const plant *plant_named(const char *name)
{
    for (size_t i = 0; i < fx.n_plants; i++)
        if (!strcmp(fx.plants[i].name, name) && !strcmp(fx.plants[i].kind, "plain"))
            return &fx.plants[i];
    cr_assert_fail("no plain plant %s", name);
    return NULL;
}

/* [stack]: its end is followed by nothing mapped, and its top page (the
 * environment strings) is present. */
static void stack_range(uint64_t *start, uint64_t *end)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)fx.pid);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    uint64_t s = 0, e = 0, next = 0;
    bool after = false;
    while (fgets(line, sizeof line, f)) {
        uint64_t a, b;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64, &a, &b) != 2)
            continue;
        if (after && !next)
            next = a;
        if (strstr(line, "[stack]")) {
            s = a, e = b;
            after = true;
        }
    }
    fclose(f);
    cr_assert_neq(e, 0u, "fixture has no [stack]");
    cr_assert(next == 0 || next > e + PAGE, "a mapping right after [stack]");
    uint64_t rs, re;
    cr_assert_eq(present_run(fx.pid, e - PAGE, s, e, &rs, &re), 0);
    cr_assert_eq(re, e, "the top page of [stack] is not present");
    *start = s;
    *end = e;
}

static void start(void)
{
    need_root();
    const char *args[] = {"--touch", "8", NULL};
    fixture_start(&fx, args);
}

/* Every plain plant in one batch: each op read in full, the marker there. */
static void full_reads(bool pvr, mg_mem_reader choice)
{
    start();
    mg_read_op ops[96];
    uint8_t bufs[96][128];
    const plant *pl[96];
    size_t n = 0;
    for (size_t i = 0; i < fx.n_plants; i++)
        if (!strcmp(fx.plants[i].kind, "plain") && fx.plants[i].len <= 128) {
            pl[n] = &fx.plants[i];
            ops[n] = (mg_read_op){
                .addr = pl[n]->addr, .len = pl[n]->len, .dst = bufs[n], .got = 99, .err = 99};
            n++;
        }
    cr_assert_geq(n, 10u);
    mg_reader r;
    int fd = -1, rc;
    if (pvr) {
        rc = mg_read_pvr(fx.pid, ops, n);
    } else {
        mg_reader_init(&r, choice);
        if (choice == MG_MEM_READER_URING && !r.uring)
            cr_log_info("io_uring not usable here: the pread path is tested instead");
        fd = open_mem(fx.pid);
        rc = mg_read_mem(&r, fd, ops, n);
    }
    cr_assert_eq(rc, 0);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(ops[i].err, 0, "plant %s: err %d", pl[i]->name, ops[i].err);
        cr_assert_eq(ops[i].got, ops[i].len);
        char *m = fixture_marker(&fx, pl[i]->name);
        cr_assert_eq(memcmp(bufs[i], m, pl[i]->len), 0, "plant %s at 0x%" PRIx64, pl[i]->name,
                     pl[i]->addr);
        free(m);
    }
    if (!pvr) {
        mg_reader_fini(&r);
        close(fd);
    }
}

Test(reader, pvr_full_reads)
{
    full_reads(true, MG_MEM_READER_AUTO);
}

Test(reader, mem_pread_full_reads)
{
    full_reads(false, MG_MEM_READER_PREAD);
}

Test(reader, mem_uring_full_reads)
{
    full_reads(false, MG_MEM_READER_URING);
}

/* An op running past the end of [stack] into nothing: a prefix is read. */
Test(reader, short_read_at_end_of_mapping)
{
    start();
    uint64_t s, e;
    stack_range(&s, &e);
    uint8_t expect[100], a[200], b[200];
    cr_assert_eq(read_mem(fx.pid, e - 100, expect, 100), 100);

    mg_read_op op = {.addr = e - 100, .len = 200, .dst = a};
    cr_assert_eq(mg_read_pvr(fx.pid, &op, 1), 0);
    cr_assert_eq(op.got, 100u, "pvr got %zu", op.got);
    cr_assert_eq(op.err, -EFAULT);
    cr_assert_eq(memcmp(a, expect, 100), 0);

    mg_reader r;
    mg_reader_init(&r, MG_MEM_READER_PREAD);
    int fd = open_mem(fx.pid);
    op = (mg_read_op){.addr = e - 100, .len = 200, .dst = b};
    cr_assert_eq(mg_read_mem(&r, fd, &op, 1), 0);
    cr_assert_eq(op.got, 100u, "mem got %zu", op.got);
    cr_assert_lt(op.err, 0);
    cr_assert_eq(memcmp(b, expect, 100), 0);
    mg_reader_fini(&r);
    close(fd);
}

/* [plant, unmapped, plant]: the middle op fails at once, the others are
 * read in full (process_vm_readv stops at the failing iovec; the reader
 * goes on after it). */
Test(reader, unmapped_address_fails_alone)
{
    start();
    const plant *p1 = plant_named("heap"), *p2 = plant_named("stack");
    uint8_t a[64], b[64], c[64];
    mg_read_op ops[3] = {
        {.addr = p1->addr, .len = p1->len, .dst = a},
        {.addr = PAGE, .len = 64, .dst = b}, /* below mmap_min_addr: never mapped */
        {.addr = p2->addr, .len = p2->len, .dst = c},
    };
    cr_assert_eq(mg_read_pvr(fx.pid, ops, 3), 0);
    cr_assert_eq(ops[0].got, p1->len);
    cr_assert_eq(ops[0].err, 0);
    cr_assert_eq(ops[1].got, 0u);
    cr_assert_eq(ops[1].err, -EFAULT);
    cr_assert_eq(ops[2].got, p2->len, "the op after the failing one was not read");
    cr_assert_eq(ops[2].err, 0);
    char *m1 = fixture_marker(&fx, "heap"), *m2 = fixture_marker(&fx, "stack");
    cr_assert_eq(memcmp(a, m1, p1->len), 0);
    cr_assert_eq(memcmp(c, m2, p2->len), 0);

    mg_reader r;
    mg_reader_init(&r, MG_MEM_READER_PREAD);
    int fd = open_mem(fx.pid);
    memset(a, 0, sizeof a);
    memset(c, 0, sizeof c);
    cr_assert_eq(mg_read_mem(&r, fd, ops, 3), 0);
    cr_assert_eq(ops[0].got, p1->len);
    cr_assert_eq(ops[1].got, 0u);
    cr_assert_eq(ops[1].err, -EIO, "mem: err %d", ops[1].err);
    cr_assert_eq(ops[2].got, p2->len);
    cr_assert_eq(memcmp(a, m1, p1->len), 0);
    cr_assert_eq(memcmp(c, m2, p2->len), 0);
    mg_reader_fini(&r);
    close(fd);
    free(m1);
    free(m2);
}

/* More ops than one process_vm_readv takes (1024 iovecs): 2000 pieces of
 * the fixture's touched region, each equal to /proc/PID/mem. */
Test(reader, pvr_batches_past_iov_max)
{
    start();
    uint64_t len, t = fixture_info(&fx, "touch", &len);
    cr_assert_neq(t, 0u);
    enum {
        N = 2000,
        PIECE = 48
    };
    cr_assert_geq(len, (uint64_t)N * PAGE);
    static mg_read_op ops[N];
    static uint8_t got[N][PIECE], expect[PIECE];
    for (size_t i = 0; i < N; i++)
        ops[i] = (mg_read_op){.addr = t + i * PAGE + i % 100, .len = PIECE, .dst = got[i]};
    cr_assert_eq(mg_read_pvr(fx.pid, ops, N), 0);
    for (size_t i = 0; i < N; i += 37) {
        cr_assert_eq(ops[i].got, (size_t)PIECE, "op %zu", i);
        cr_assert_eq(read_mem(fx.pid, ops[i].addr, expect, PIECE), PIECE);
        cr_assert_eq(memcmp(got[i], expect, PIECE), 0, "op %zu", i);
        /* the fixture wrote (page index | 1) at the start of each page */
        if (i % 100 == 0)
            cr_assert_eq(got[i][0], (uint8_t)(i | 1));
    }
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(ops[i].got, (size_t)PIECE, "op %zu", i);
}

/* A process that is gone: process_vm_readv by pid says -ESRCH, and so does
 * a mem fd opened before it exited (its reads return 0 bytes), with pread
 * and with io_uring (pread where io_uring can't be used). */
Test(reader, dead_process)
{
    start();
    const plant *p = plant_named("heap");
    uint8_t a[64], b[16];
    mg_read_op op = {.addr = p->addr, .len = p->len, .dst = a};
    cr_assert_eq(mg_read_pvr(dead_pid(), &op, 1), -ESRCH);

    int fd = open_mem(fx.pid);
    fixture_stop(&fx);
    const mg_mem_reader choices[] = {MG_MEM_READER_PREAD, MG_MEM_READER_URING};
    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
        mg_reader r;
        mg_reader_init(&r, choices[i]);
        mg_read_op ops[2] = {
            {.addr = p->addr, .len = p->len, .dst = a},
            {.addr = p->addr & ~(uint64_t)(PAGE - 1), .len = sizeof(b), .dst = b},
        };
        cr_assert_eq(mg_read_mem(&r, fd, ops, 2), -ESRCH, "reader %d", (int)choices[i]);
        cr_assert_eq(ops[0].got, 0u);
        cr_assert_eq(ops[0].err, -ESRCH, "reader %d: op err %d", (int)choices[i], ops[0].err);
        mg_reader_fini(&r);
    }
    close(fd);
}
