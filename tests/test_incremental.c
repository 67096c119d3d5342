/* test_incremental.c - incremental reads (mg_settings.incremental,
 * engine/src/sweep/keep.h): a second scan through one engine replays what
 * the first found in unchanged page-cache pages instead of reading them,
 * and reads again what changed (a file rewritten in place, a new file at
 * the same path, a page written through a shared mapping while dirty),
 * reporting exactly what a full read would. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"

TestSuite(incremental, .timeout = 120);

static fixture fx, fx2;

static void stop_all(void)
{
    fixture_stop(&fx);
    fixture_stop(&fx2);
}

#define FILE_PAGES 48
#define FILE_LEN (FILE_PAGES * 4096)

/* Where the file marker lies: page starts, ends, and across page boundaries. */
static const size_t offs[] = {100, 4096 - 5, 5 * 4096, 17 * 4096 + 333, FILE_LEN - 64};
#define N_OFFS (sizeof(offs) / sizeof(offs[0]))

/* Incremental reads keep files of block-device filesystems only: a
 * directory on one for the test's files. */
static const char *file_dir(void)
{
    static const char *const dirs[] = {"/var/tmp", ".", "/tmp"};
    struct stat st;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (stat(dirs[i], &st) == 0 && major(st.st_dev) != 0 && access(dirs[i], W_OK) == 0)
            return dirs[i];
    cr_skip_test("no writable directory on a block-device filesystem");
    return NULL;
}

/* A new empty file in file_dir(): its name in path (256 bytes), its fd. */
static int temp_file(char *path)
{
    snprintf(path, 256, "%s/mg-incr-XXXXXX", file_dir());
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp %s", path);
    return fd;
}

/* The file's content: bytes of its own, marker at every offs[]. */
static void fill(uint8_t *content, const char *marker)
{
    for (size_t i = 0; i < FILE_LEN; i++)
        content[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < N_OFFS; i++)
        memcpy(content + offs[i], marker, strlen(marker));
}

/* Write the file (created if need be) in place and make its pages clean. */
static void write_file(const char *path, const char *marker)
{
    uint8_t *content = malloc(FILE_LEN);
    cr_assert(content);
    fill(content, marker);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    cr_assert_geq(fd, 0, "open %s", path);
    cr_assert_eq(pwrite(fd, content, FILE_LEN, 0), (ssize_t)FILE_LEN);
    cr_assert_eq(fsync(fd), 0);
    close(fd);
    free(content);
}

static void new_marker(char *marker, const char *name)
{
    char tok[17];
    random_token(tok);
    snprintf(marker, 64, "mgt-%s-%s;", tok, name);
}

static mg_engine *incremental_engine(void)
{
    mg_settings s;
    mg_default_settings(&s);
    s.incremental = true;
    s.context = 16;
    s.threads = 2;
    s.chunk_size = 64 * 1024; /* several units in the file, the big plant's boundaries */
    mg_engine *e = NULL;
    mg_error err = {{0}};
    cr_assert_eq(mg_engine_new(&e, &s, &err), 0, "%s", err.message);
    return e;
}

/* The wants for marker `id` at offs[] of a mapping at base in pid. */
static size_t want_file(want *w, size_t n, pid_t pid, uint64_t base, unsigned id,
                        const char *marker)
{
    for (size_t i = 0; i < N_OFFS; i++)
        w[n++] =
            (want){.pid = pid, .addr = base + offs[i], .len = strlen(marker), .pattern_id = id};
    return n;
}

/* The fixture's "big" marker (pattern 0, its plants in w, *n of them) and
 * marker (pattern 1). */
static mg_patterns *big_and(const char *marker, want *w, size_t *n)
{
    char *big = fixture_marker(&fx, "big");
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, big, strlen(big), 0);
    add_pattern(p, MG_PATTERN_LITERAL, marker, strlen(marker), 0);
    compile_patterns(p);
    free(big);
    char names[1][32] = {"big"};
    *n = want_plants(w, 0, 64, &fx, fx.pid, "plain", names, 1);
    cr_assert_gt(*n, 2u, "the fixture's big plants");
    return p;
}

static uint64_t bytes_read(const mg_stats *st)
{
    return st->bytes_read_pvr + st->bytes_read_mem;
}

/* A marker in a file mapping and markers in anonymous memory (the "big"
 * plants, across unit boundaries): the second scan reads less, replays the
 * file's pages (and the libraries'), and reports both exactly, once each.
 * A third scan with another pattern set replays nothing of the first two's
 * records: it finds that set's marker. */
Test(incremental, unchanged_file_pages_are_not_read_again, .fini = stop_all)
{
    need_root();
    char path[256], mark[64], other[64];
    int fd = temp_file(path);
    close(fd);
    new_marker(mark, "incrfile");
    new_marker(other, "incrother");
    write_file(path, mark);
    /* the other set's marker, in the page after the first marker's */
    fd = open(path, O_WRONLY);
    cr_assert_eq(pwrite(fd, other, strlen(other), 2 * 4096 + 50), (ssize_t)strlen(other));
    cr_assert_eq(fsync(fd), 0);
    close(fd);
    fixture_start(&fx, (const char *[]){"--map-file", path, NULL});
    unlink(path);
    uint64_t base = fixture_info(&fx, "mapfile", NULL);
    cr_assert(base);

    want w[64];
    size_t n;
    mg_patterns *p = big_and(mark, w, &n);
    n = want_file(w, n, fx.pid, base, 1, mark);

    mg_engine *e = incremental_engine();
    mg_stats st[2];
    for (int pass = 0; pass < 2; pass++) {
        collector c = {0};
        st[pass] = engine_run(e, &fx.pid, 1, p, &c);
        assert_exact_hits(&c, w, n, pass ? "second scan" : "first scan");
        collector_free(&c);
    }
    cr_log_info("read %" PRIu64 " then %" PRIu64 " bytes; reused %" PRIu64, bytes_read(&st[0]),
                bytes_read(&st[1]), st[1].bytes_reused);
    cr_assert_eq(st[0].bytes_reused, 0u, "nothing to reuse in the first scan");
    cr_assert_geq(st[1].bytes_reused, (uint64_t)FILE_LEN, "the file's pages were read again");
    cr_assert_leq(bytes_read(&st[1]) + FILE_LEN, bytes_read(&st[0]),
                  "the second scan read %" PRIu64 " bytes, the first %" PRIu64, bytes_read(&st[1]),
                  bytes_read(&st[0]));

    /* another pattern set: the records of the first are not its */
    mg_patterns *q = patterns_new();
    add_pattern(q, MG_PATTERN_LITERAL, other, strlen(other), 0);
    compile_patterns(q);
    want wo = {.pid = fx.pid, .addr = base + 2 * 4096 + 50, .len = strlen(other)};
    collector c = {0};
    mg_stats sq = engine_run(e, &fx.pid, 1, q, &c);
    assert_exact_hits(&c, &wo, 1, "scan with another pattern set");
    cr_assert_eq(sq.bytes_reused, 0u);
    collector_free(&c);

    mg_engine_free(&e);
    mg_patterns_free(&q);
    mg_patterns_free(&p);
}

/* A sweep of the whole host, two workers (which plan the processes and
 * read a small one's units together): the file's markers (in several 64
 * KiB units) are found at their addresses in both scans, exactly, the
 * second replaying kept records. */
Test(incremental, whole_host_twice_exact, .fini = stop_all)
{
    need_root();
    char path[256], mark[64];
    close(temp_file(path));
    new_marker(mark, "incrhost");
    write_file(path, mark);
    fixture_start(&fx, (const char *[]){"--map-file", path, NULL});
    unlink(path);
    uint64_t base = fixture_info(&fx, "mapfile", NULL);
    cr_assert(base);
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, mark, strlen(mark), 0);
    compile_patterns(p);
    want w[N_OFFS];
    size_t n = want_file(w, 0, fx.pid, base, 0, mark);
    mg_engine *e = incremental_engine();
    uint64_t reused = 0;
    for (int pass = 0; pass < 2; pass++) {
        collector c = {0};
        mg_sink sink = collector_sink(&c);
        mg_stats st;
        mg_error err = {{0}};
        cr_assert_eq(mg_engine_scan(e, NULL, p, &sink, &st, &err), 0, "%s", err.message);
        size_t keep = 0; /* the fixture's: other scanners may hold copies */
        for (size_t j = 0; j < c.n; j++)
            if (c.hits[j].pid == fx.pid)
                c.hits[keep++] = c.hits[j];
        c.n = keep;
        assert_exact_hits(&c, w, n, pass ? "whole host, second scan" : "whole host, first scan");
        collector_free(&c);
        reused = st.bytes_reused;
    }
    cr_assert_geq(reused, (uint64_t)FILE_LEN, "the second scan reused %" PRIu64 " bytes", reused);
    mg_engine_free(&e);
    mg_patterns_free(&p);
}

/* Two processes map the same file: in the second scan the first replays the
 * kept records, and hands them to the sweep's dedupe table for the second
 * (replayed there at its own addresses, no pagemap read): each marker in
 * each process exactly once, nothing of the file read. */
Test(incremental, kept_records_serve_other_processes, .fini = stop_all)
{
    need_root();
    char path[256], mark[64];
    close(temp_file(path));
    new_marker(mark, "incrtwoprocs");
    write_file(path, mark);
    fixture_start(&fx, (const char *[]){"--map-file", path, NULL});
    fixture_start(&fx2, (const char *[]){"--map-file", path, NULL});
    unlink(path);
    uint64_t a1 = fixture_info(&fx, "mapfile", NULL), a2 = fixture_info(&fx2, "mapfile", NULL);
    cr_assert(a1 && a2);
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, mark, strlen(mark), 0);
    compile_patterns(p);
    want w[2 * N_OFFS];
    size_t n = want_file(w, 0, fx.pid, a1, 0, mark);
    n = want_file(w, n, fx2.pid, a2, 0, mark);
    mg_engine *e = incremental_engine();
    pid_t pids[2] = {fx.pid, fx2.pid};
    mg_stats st[2];
    for (int pass = 0; pass < 2; pass++) {
        collector c = {0};
        st[pass] = engine_run(e, pids, 2, p, &c);
        assert_exact_hits(&c, w, n, pass ? "second scan" : "first scan");
        collector_free(&c);
    }
    cr_assert_geq(st[1].bytes_reused, (uint64_t)FILE_LEN);
    cr_assert_geq(st[1].bytes_deduped, (uint64_t)FILE_LEN, "the second process did not replay");
    cr_assert_leq(bytes_read(&st[1]) + FILE_LEN, bytes_read(&st[0]));
    mg_engine_free(&e);
    mg_patterns_free(&p);
}

/* A file changed between scans is read again: rewritten in place (same
 * inode, same page-cache pages, new mtime: the fixture's private mapping
 * sees the new bytes), and replaced by a new file at the same path (a new
 * inode, mapped by a second fixture). */
Test(incremental, changed_file_is_read_again, .fini = stop_all)
{
    need_root();
    char path[256], m1[64], m2[64], m3[64];
    int fd = temp_file(path);
    close(fd);
    new_marker(m1, "incrone");
    new_marker(m2, "incrtwo");
    new_marker(m3, "incrthree");
    write_file(path, m1);
    fixture_start(&fx, (const char *[]){"--map-file", path, NULL});
    uint64_t base = fixture_info(&fx, "mapfile", NULL);
    cr_assert(base);
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, m1, strlen(m1), 0);
    add_pattern(p, MG_PATTERN_LITERAL, m2, strlen(m2), 0);
    add_pattern(p, MG_PATTERN_LITERAL, m3, strlen(m3), 0);
    compile_patterns(p);
    mg_engine *e = incremental_engine();
    want w[3 * N_OFFS];
    size_t n = want_file(w, 0, fx.pid, base, 0, m1);
    collector c = {0};
    engine_run(e, &fx.pid, 1, p, &c);
    assert_exact_hits(&c, w, n, "first scan");
    collector_free(&c);
    collector c1 = {0};
    mg_stats st = engine_run(e, &fx.pid, 1, p, &c1);
    assert_exact_hits(&c1, w, n, "unchanged");
    cr_assert_geq(st.bytes_reused, (uint64_t)FILE_LEN, "the unchanged file was read again");
    uint64_t reused = st.bytes_reused; /* the file and the fixture's libraries */
    collector_free(&c1);

    /* in place: the times move (a tick later), the frames stay */
    usleep(20000);
    write_file(path, m2);
    n = want_file(w, 0, fx.pid, base, 1, m2);
    collector c2 = {0};
    st = engine_run(e, &fx.pid, 1, p, &c2);
    assert_exact_hits(&c2, w, n, "after the file was rewritten in place");
    cr_assert_leq(st.bytes_reused + FILE_LEN, reused, "the rewritten file's pages were reused");
    collector_free(&c2);

    /* a new file at the same path: a new inode, in a second fixture */
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    write_file(tmp, m3);
    cr_assert_eq(rename(tmp, path), 0);
    fixture_start(&fx2, (const char *[]){"--map-file", path, NULL});
    unlink(path);
    uint64_t base2 = fixture_info(&fx2, "mapfile", NULL);
    cr_assert(base2);
    n = want_file(w, 0, fx.pid, base, 1, m2);
    n = want_file(w, n, fx2.pid, base2, 2, m3);
    pid_t pids[2] = {fx.pid, fx2.pid};
    collector c3 = {0};
    engine_run(e, pids, 2, p, &c3);
    assert_exact_hits(&c3, w, n, "a new file at the same path");
    collector_free(&c3);
    mg_engine_free(&e);
    mg_patterns_free(&p);
}

/* A page written through a shared mapping while it stays dirty: the file's
 * times move at the first write only (its fault), so the page's dirty bit
 * keeps it from being reused. The test writes through its own shared
 * mapping; the fixture maps the file privately (the same page-cache pages). */
Test(incremental, dirty_page_written_again_is_read_again, .fini = stop_all)
{
    need_root();
    char path[256], m1[64], m2[64];
    int fd = temp_file(path);
    cr_assert_eq(ftruncate(fd, FILE_LEN), 0);
    new_marker(m1, "dirtyone");
    new_marker(m2, "dirtytwo");
    uint8_t *m = mmap(NULL, FILE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq(m, MAP_FAILED);
    close(fd);
    fill(m, m1);
    fixture_start(&fx, (const char *[]){"--map-file", path, NULL});
    unlink(path);
    uint64_t base = fixture_info(&fx, "mapfile", NULL);
    cr_assert(base);
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, m1, strlen(m1), 0);
    add_pattern(p, MG_PATTERN_LITERAL, m2, strlen(m2), 0);
    compile_patterns(p);
    mg_engine *e = incremental_engine();
    want w[N_OFFS];
    size_t n = want_file(w, 0, fx.pid, base, 0, m1);
    collector c = {0};
    engine_run(e, &fx.pid, 1, p, &c);
    assert_exact_hits(&c, w, n, "first scan");
    collector_free(&c);
    fill(m, m2); /* the pages are dirty already: no fault, no new times */
    n = want_file(w, 0, fx.pid, base, 1, m2);
    collector c2 = {0};
    engine_run(e, &fx.pid, 1, p, &c2);
    assert_exact_hits(&c2, w, n, "after writes to dirty pages");
    collector_free(&c2);
    munmap(m, FILE_LEN);
    mg_engine_free(&e);
    mg_patterns_free(&p);
}

/* ---- soft-dirty: anonymous memory ---- */

#define PM_SOFT_DIRTY (1ull << 55)

/* As the engine probes it: a page just written in a new mapping is
 * soft-dirty where the kernel keeps the bits (CONFIG_MEM_SOFT_DIRTY). */
static bool soft_dirty_works(void)
{
    volatile uint8_t *m =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    m[0] = 1;
    uint64_t *e = NULL;
    cr_assert_eq(pagemap_entries(getpid(), (uintptr_t)m, (uintptr_t)m + 4096, &e), 1);
    bool ok = e[0] & PM_SOFT_DIRTY;
    free(e);
    munmap((void *)m, 4096);
    return ok;
}

/* pid's anonymous memory (smaps_rollup's Anonymous), in bytes */
static uint64_t anon_bytes(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    unsigned long long kb = 0;
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "Anonymous: %llu kB", &kb) == 1;
    fclose(f);
    cr_assert(found, "no Anonymous in %s", path);
    return kb * 1024;
}

static uint64_t page_entry(pid_t pid, uint64_t addr)
{
    uint64_t *e = NULL;
    cr_assert_eq(pagemap_entries(pid, addr & ~4095ull, (addr & ~4095ull) + 4096, &e), 1);
    uint64_t v = e[0];
    free(e);
    return v;
}

/* Write text into pid's memory at addr (the test's write, not memgrep's). */
static void poke(pid_t pid, uint64_t addr, const char *text)
{
    struct iovec l = {.iov_base = (void *)text, .iov_len = strlen(text)};
    struct iovec r = {.iov_base = (void *)(uintptr_t)addr, .iov_len = strlen(text)};
    cr_assert_eq(process_vm_writev(pid, &l, 1, &r, 1, 0), (ssize_t)strlen(text));
}

/* Without soft_dirty, an incremental scan leaves a target's soft-dirty bits
 * alone (a new mapping's pages are soft-dirty: still so after the scan). With
 * it, the second scan replays the anonymous memory not written since the
 * first (it reuses 90% or more of smaps_rollup's Anonymous bytes beyond
 * what an engine without soft_dirty reuses) and reports the same exactly;
 * written since (a present page, a unit boundary's neighbour, a page never
 * present before), it is read again: the new markers are found, each once.
 * Where the kernel keeps no soft-dirty bits, soft_dirty reads what an
 * engine without it reads. */
Test(incremental, soft_dirty_rescans_only_written_anon, .fini = stop_all)
{
    need_root();
    /* Without the bits (CONFIG_MEM_SOFT_DIRTY unset, as on some hosts'
     * kernels) soft_dirty changes nothing: every scan reads the anonymous
     * memory again and finds the writes all the same. The kernel-6.1 VM
     * test runs this suite on Debian's kernel, which keeps them. */
    bool sd = soft_dirty_works();
    /* a line of its own: the kernel-6.1 VM test looks for "kept" */
    fprintf(stderr, "incremental: soft-dirty bits: %s\n",
            sd ? "kept" : "none (anonymous memory read every scan)");
    fixture_start(&fx, NULL);
    uint64_t big = fixture_info(&fx, "big", NULL);
    cr_assert(big);
    char m2[64];
    new_marker(m2, "sdwritten");
    want w[64];
    size_t n;
    mg_patterns *p = big_and(m2, w, &n);

    mg_settings s;
    mg_default_settings(&s);
    s.incremental = true;
    s.context = 16;
    s.threads = 2;
    s.chunk_size = 64 * 1024;
    mg_error err = {{0}};
    mg_engine *e;
    cr_assert_eq(mg_engine_new(&e, &s, &err), 0, "%s", err.message);
    mg_stats plain;
    for (int pass = 0; pass < 2; pass++) {
        collector c0 = {0};
        plain = engine_run(e, &fx.pid, 1, p, &c0);
        assert_exact_hits(&c0, w, n, "incremental without soft_dirty");
        collector_free(&c0);
    }
    cr_assert(!sd || (page_entry(fx.pid, big) & PM_SOFT_DIRTY),
              "a scan without soft_dirty cleared the target's soft-dirty bits");
    mg_engine_free(&e);

    s.soft_dirty = true;
    cr_assert_eq(mg_engine_new(&e, &s, &err), 0, "%s", err.message);
    mg_stats st[3];
    for (int pass = 0; pass < 2; pass++) {
        collector c = {0};
        st[pass] = engine_run(e, &fx.pid, 1, p, &c);
        assert_exact_hits(&c, w, n, pass ? "soft-dirty, second scan" : "soft-dirty, first scan");
        collector_free(&c);
    }
    cr_assert_not(page_entry(fx.pid, big) & PM_SOFT_DIRTY, "soft_dirty did not clear the bits");
    uint64_t anon = anon_bytes(fx.pid), more = st[1].bytes_reused - plain.bytes_reused;
    cr_log_info("soft-dirty: reused %" PRIu64 " bytes more than without it; anonymous %" PRIu64
                "; read %" PRIu64 " / %" PRIu64 " / %" PRIu64,
                more, anon, bytes_read(&plain), bytes_read(&st[0]), bytes_read(&st[1]));
    if (sd) /* the anonymous memory, at least 90% of it: file pages of a
             * tmpfs (the VM's initramfs) are read again either way */
        cr_assert_geq(more * 10, anon * 9,
                      "the second scan reused %" PRIu64 " bytes more than without soft_dirty, "
                      "of %" PRIu64 " anonymous",
                      more, anon);
    else /* as without soft_dirty: the anonymous memory read again */
        cr_assert_eq(bytes_read(&st[1]), bytes_read(&plain),
                     "no soft-dirty bits: the second scan read %" PRIu64
                     " bytes, without soft_dirty %" PRIu64,
                     bytes_read(&st[1]), bytes_read(&plain));

    /* writes: in a present page; just past a unit boundary (64 KiB units:
     * the unit before reads that page as its overlap); in a page never
     * present before */
    const uint64_t at[] = {big + 4096 + 2000, big + 256 * 1024 + 2, big + 40 * 1024 * 1024 + 100};
    for (size_t i = 0; i < 3; i++) {
        poke(fx.pid, at[i], m2);
        w[n++] = (want){.pid = fx.pid, .addr = at[i], .len = strlen(m2), .pattern_id = 1};
    }
    collector c = {0};
    st[2] = engine_run(e, &fx.pid, 1, p, &c);
    assert_exact_hits(&c, w, n, "soft-dirty, after writes");
    cr_assert_gt(bytes_read(&st[2]), bytes_read(&st[1]), "the written pages were not read");
    collector_free(&c);

    /* the scans up to the MG_SOFT_DIRTY_SCANS-th, then a write, then the
     * scan that clears the bits again (so they no longer show the write):
     * it replays nothing of the earlier epoch, the write is found */
    for (unsigned scan = 4; scan <= MG_SOFT_DIRTY_SCANS; scan++) {
        collector cs = {0};
        engine_run(e, &fx.pid, 1, p, &cs);
        assert_exact_hits(&cs, w, n, "soft-dirty, scans before the next clear");
        collector_free(&cs);
    }
    const uint64_t late = big + 8192 + 300;
    poke(fx.pid, late, m2);
    w[n++] = (want){.pid = fx.pid, .addr = late, .len = strlen(m2), .pattern_id = 1};
    collector cl = {0};
    engine_run(e, &fx.pid, 1, p, &cl);
    assert_exact_hits(&cl, w, n, "soft-dirty, the scan that clears the bits again");
    collector_free(&cl);
    mg_engine_free(&e);
    mg_patterns_free(&p);
}
