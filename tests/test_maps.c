/* test_maps.c - /proc/PID/maps parsing and region classification. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "helpers.h"
#include "os/maps.h"

/* Parse one line; fail the test if it does not parse. */
static mg_region parse_ok(const char *line, char *path, size_t path_cap)
{
    mg_region r;
    memset(&r, 0x5a, sizeof r);
    const char *p = NULL;
    size_t plen = 12345;
    int rc = mg_maps_parse_line(line, strlen(line), &r, &p, &plen);
    cr_assert_eq(rc, 0, "mg_maps_parse_line(\"%s\") = %d", line, rc);
    cr_assert(p != NULL || plen == 0, "path pointer NULL with length %zu", plen);
    cr_assert_lt(plen, path_cap);
    if (plen) {
        cr_assert(p >= line && p + plen <= line + strlen(line),
                  "path does not point into the line");
        memcpy(path, p, plen);
    }
    path[plen] = '\0';
    return r;
}

static mg_region_kind classify(const char *path, const char *perms)
{
    return mg_region_classify(path, strlen(path), perms);
}

Test(maps_line, heap)
{
    char path[64];
    mg_region r = parse_ok("55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0          [heap]", path,
                           sizeof path);
    cr_assert_eq(r.start, 0x55d0c0a00000ull);
    cr_assert_eq(r.end, 0x55d0c0a21000ull);
    cr_assert_str_eq(r.perms, "rw-p");
    cr_assert_eq(r.offset, 0u);
    cr_assert_eq(r.dev_major, 0u);
    cr_assert_eq(r.dev_minor, 0u);
    cr_assert_eq(r.inode, 0u);
    cr_assert_not(r.deleted);
    cr_assert_str_eq(path, "[heap]");
    cr_assert_eq(classify(path, r.perms), MG_REGION_HEAP);
}

Test(maps_line, file_with_offset_dev_inode)
{
    char path[128];
    mg_region r = parse_ok("7f1c2a000000-7f1c2a001000 r-xp 0001a000 fd:01 1234567      "
                           "         /usr/lib/x86_64-linux-gnu/libc.so.6",
                           path, sizeof path);
    cr_assert_eq(r.start, 0x7f1c2a000000ull);
    cr_assert_eq(r.end, 0x7f1c2a001000ull);
    cr_assert_str_eq(r.perms, "r-xp");
    cr_assert_eq(r.offset, 0x1a000u);
    cr_assert_eq(r.dev_major, 0xfdu);
    cr_assert_eq(r.dev_minor, 0x01u);
    cr_assert_eq(r.inode, 1234567u);
    cr_assert_not(r.deleted);
    cr_assert_str_eq(path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    cr_assert_eq(classify(path, r.perms), MG_REGION_FILE);
}

Test(maps_line, large_values)
{
    /* vsyscall sits at the top of the address space; 64-bit offsets and
     * inodes, 3-digit dev numbers. */
    char path[64];
    mg_region r =
        parse_ok("ffffffffff600000-ffffffffff601000 --xp 123456789a 103:1f 18446744073709551615 "
                 "   [vsyscall]",
                 path, sizeof path);
    cr_assert_eq(r.start, 0xffffffffff600000ull);
    cr_assert_eq(r.end, 0xffffffffff601000ull);
    cr_assert_eq(r.offset, 0x123456789aull);
    cr_assert_eq(r.dev_major, 0x103u);
    cr_assert_eq(r.dev_minor, 0x1fu);
    cr_assert_eq(r.inode, 18446744073709551615ull);
    cr_assert_str_eq(path, "[vsyscall]");
    cr_assert_eq(classify(path, r.perms), MG_REGION_SPECIAL);
}

Test(maps_line, path_with_spaces)
{
    char path[128];
    mg_region r =
        parse_ok("7f1c2a000000-7f1c2a001000 r--p 00002000 fd:01 1234  /opt/my app/lib  x.so", path,
                 sizeof path);
    cr_assert_str_eq(path, "/opt/my app/lib  x.so");
    cr_assert_not(r.deleted);
    cr_assert_eq(r.offset, 0x2000u);
    cr_assert_eq(r.inode, 1234u);
    cr_assert_eq(classify(path, r.perms), MG_REGION_FILE);
}

Test(maps_line, deleted_suffix)
{
    char path[128];
    mg_region r =
        parse_ok("7f1c2a000000-7f1c2a001000 r--p 00002000 fd:01 1234  /opt/my app/lib.so (deleted)",
                 path, sizeof path);
    cr_assert_str_eq(path, "/opt/my app/lib.so");
    cr_assert(r.deleted);
    cr_assert_eq(classify(path, r.perms), MG_REGION_FILE);
}

Test(maps_line, deleted_only_at_end)
{
    /* " (deleted)" inside the path is part of the name. */
    char path[128];
    mg_region r = parse_ok("7f1c2a000000-7f1c2a001000 r--p 00000000 fd:01 99  /tmp/a (deleted)/b",
                           path, sizeof path);
    cr_assert_str_eq(path, "/tmp/a (deleted)/b");
    cr_assert_not(r.deleted);
}

Test(maps_line, no_path_with_and_without_trailing_space)
{
    const char *lines[] = {
        "7f0ba6820000-7f0ba68e4000 rw-p 00000000 00:00 0 ",
        "7f0ba6820000-7f0ba68e4000 rw-p 00000000 00:00 0",
    };
    for (size_t i = 0; i < 2; i++) {
        char path[16];
        mg_region r = parse_ok(lines[i], path, sizeof path);
        cr_assert_eq(r.start, 0x7f0ba6820000ull, "line %zu", i);
        cr_assert_eq(r.end, 0x7f0ba68e4000ull, "line %zu", i);
        cr_assert_str_eq(path, "", "line %zu", i);
        cr_assert_not(r.deleted);
        cr_assert_eq(mg_region_classify("", 0, r.perms), MG_REGION_ANON, "line %zu", i);
    }
}

Test(maps_line, named_anon_stack_vvar)
{
    char path[64];
    mg_region r =
        parse_ok("7f0000000000-7f0000100000 rw-p 00000000 00:00 0   [anon:glibc malloc arena]",
                 path, sizeof path);
    cr_assert_str_eq(path, "[anon:glibc malloc arena]");
    cr_assert_eq(classify(path, r.perms), MG_REGION_ANON);

    r = parse_ok("7ffd1e5f2000-7ffd1e613000 rw-p 00000000 00:00 0                          [stack]",
                 path, sizeof path);
    cr_assert_str_eq(path, "[stack]");
    cr_assert_eq(classify(path, r.perms), MG_REGION_STACK);

    r = parse_ok("7f0ba6b34000-7f0ba6b38000 r--p 00000000 00:00 0                          [vvar]",
                 path, sizeof path);
    cr_assert_str_eq(path, "[vvar]");
    cr_assert_eq(classify(path, r.perms), MG_REGION_SPECIAL);
}

Test(maps_classify, special_regions)
{
    const char *special[] = {"[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]", "[uprobes]"};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        cr_assert_eq(classify(special[i], "r--p"), MG_REGION_SPECIAL, "%s", special[i]);
}

Test(maps_classify, shared_memory)
{
    /* memfd, /dev/shm, shared anonymous (/dev/zero deleted), SysV. */
    cr_assert_eq(classify("/memfd:x", "rw-s"), MG_REGION_SHM);
    cr_assert_eq(classify("/dev/shm/x", "rw-s"), MG_REGION_SHM);
    cr_assert_eq(classify("/dev/zero", "rw-s"), MG_REGION_SHM);
    cr_assert_eq(classify("/SYSV0000002a", "rw-s"), MG_REGION_SHM);
}

Test(maps_classify, shared_memory_from_lines)
{
    struct {
        const char *line, *path;
    } cases[] = {
        {"7f0000000000-7f0000010000 rw-s 00000000 00:01 1047  /memfd:x (deleted)", "/memfd:x"},
        {"7f0000000000-7f0000010000 rw-s 00000000 00:19 77    /dev/shm/x", "/dev/shm/x"},
        {"7f0000000000-7f0000010000 rw-s 00000000 00:01 6     /dev/zero (deleted)", "/dev/zero"},
        {"7f0000000000-7f0000010000 rw-s 00000000 00:01 32768 /SYSV0000002a (deleted)",
         "/SYSV0000002a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[64];
        mg_region r = parse_ok(cases[i].line, path, sizeof path);
        cr_assert_str_eq(path, cases[i].path);
        cr_assert_eq(r.deleted, strstr(cases[i].line, "(deleted)") != NULL, "%s", cases[i].line);
        cr_assert_str_eq(r.perms, "rw-s");
        cr_assert_eq(classify(path, r.perms), MG_REGION_SHM, "%s", cases[i].line);
    }
}

Test(maps_classify, named_shared_anon)
{
    /* MAP_SHARED|MAP_ANONYMOUS named with PR_SET_VMA_ANON_NAME (6.2+). */
    cr_assert_eq(classify("[anon_shmem:ring]", "rw-s"), MG_REGION_SHM);
}

Test(maps_classify, devices)
{
    cr_assert_eq(classify("/dev/dri/card0", "rw-s"), MG_REGION_DEVICE);
    cr_assert_eq(classify("/dev/snd/pcmC0D0p", "rw-s"), MG_REGION_DEVICE);
    cr_assert_eq(classify("/dev/mem", "r--s"), MG_REGION_DEVICE);
    cr_assert_eq(classify("anon_inode:[perf_event]", "r--s"), MG_REGION_DEVICE);
    cr_assert_eq(classify("anon_inode:dmabuf", "rw-s"), MG_REGION_DEVICE);
    cr_assert_eq(classify("anon_inode:i915.gem", "rw-s"), MG_REGION_DEVICE);

    char path[64];
    mg_region r = parse_ok("7f0000000000-7f0000001000 rw-s 100000000 00:0e 12   /dev/dri/card0",
                           path, sizeof path);
    cr_assert_str_eq(path, "/dev/dri/card0");
    cr_assert_eq(r.offset, 0x100000000ull);
    cr_assert_eq(classify(path, r.perms), MG_REGION_DEVICE);
    r = parse_ok("7f0000000000-7f0000009000 r--s 00000000 00:0f 1064   anon_inode:[perf_event]",
                 path, sizeof path);
    cr_assert_str_eq(path, "anon_inode:[perf_event]");
    cr_assert_eq(classify(path, r.perms), MG_REGION_DEVICE);
}

Test(maps_classify, private_files_and_anon)
{
    cr_assert_eq(classify("/usr/bin/cat", "r-xp"), MG_REGION_FILE);
    cr_assert_eq(classify("/home/u/dev notes.txt", "rw-p"), MG_REGION_FILE);
    cr_assert_eq(classify("", "rw-p"), MG_REGION_ANON);
    cr_assert_eq(classify("[anon:mg]", "rw-p"), MG_REGION_ANON);
    cr_assert_eq(classify("[heap]", "rw-p"), MG_REGION_HEAP);
    cr_assert_eq(classify("[stack]", "rw-p"), MG_REGION_STACK);
}

/* A MAP_SHARED mapping of an ordinary file (a database, gconv-modules.cache)
 * is a mapped file: SHM is "memfd, /dev/shm, SysV, shared anon". */
Test(maps_classify, shared_regular_file_is_file)
{
    cr_expect_eq(classify("/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache", "r--s"),
                 MG_REGION_FILE);
    cr_expect_eq(classify("/var/lib/app/data.db", "rw-s"), MG_REGION_FILE);
}

Test(maps_line, long_path)
{
    /* A path longer than PATH_MAX-sized buffers. */
    size_t plen = 5000;
    char *line = malloc(plen + 128);
    int n = sprintf(line, "7f0000000000-7f0000001000 r--p 00000000 fd:01 42      /");
    memset(line + n, 'a', plen - 1);
    line[n + plen - 1] = '\0';
    char *path = malloc(plen + 1);
    mg_region r = parse_ok(line, path, plen + 1);
    cr_assert_eq(strlen(path), plen);
    cr_assert_eq(path[0], '/');
    cr_assert_eq(path[plen - 1], 'a');
    cr_assert_eq(r.inode, 42u);
    free(line);
    free(path);
}

Test(maps_line, malformed_and_truncated)
{
    const char *bad[] = {
        "",
        "55d0c0a00000",
        "55d0c0a00000-",
        "55d0c0a00000-55d0c0a2",
        "55d0c0a00000-55d0c0a21000",
        "55d0c0a00000-55d0c0a21000 rw",
        "55d0c0a00000-55d0c0a21000 rw-p",
        "55d0c0a00000-55d0c0a21000 rw-p 0000",
        "55d0c0a00000-55d0c0a21000 rw-p 00000000",
        "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:",
        "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00",
        "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 ",
        "zzzz-55d0c0a21000 rw-p 00000000 00:00 0",
        "55d0c0a00000 55d0c0a21000 rw-p 00000000 00:00 0",
        "55d0c0a00000-55d0c0a21000 rw-p 0000000g 00:00 0",
        "55d0c0a00000-55d0c0a21000 rw-p 00000000 00-00 0",
        "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 x",
        "55d0c0a00000-55d0c0a21000 rwxpq 00000000 00:00 0",
        "garbage line",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mg_region r;
        const char *p = NULL;
        size_t plen = 0;
        int rc = mg_maps_parse_line(bad[i], strlen(bad[i]), &r, &p, &plen);
        cr_expect_eq(rc, -EINVAL, "\"%s\" parsed (rc %d)", bad[i], rc);
    }
}

Test(maps_line, length_is_respected)
{
    /* The parser must stop at len, not at a NUL: a line cut inside the
     * inode field is truncated even though the buffer continues. */
    const char *full = "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0          [heap]";
    size_t cut = strlen("55d0c0a00000-55d0c0a21000 rw-p 0000");
    mg_region r;
    const char *p;
    size_t plen;
    cr_assert_eq(mg_maps_parse_line(full, cut, &r, &p, &plen), -EINVAL);
    /* Cut right after the inode: a valid line with no path. */
    cut = strlen("55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0");
    cr_assert_eq(mg_maps_parse_line(full, cut, &r, &p, &plen), 0);
    cr_assert_eq(plen, 0u);
    /* Cut inside the path: the path is what is inside len. */
    cut = strlen("55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0          [he");
    cr_assert_eq(mg_maps_parse_line(full, cut, &r, &p, &plen), 0);
    cr_assert_eq(plen, 3u);
    cr_assert_eq(memcmp(p, "[he", 3), 0);
}

static const char *find_path(const mg_maps *m, uint64_t start)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->regions[i].start == start)
            return m->regions[i].path;
    return NULL;
}

Test(maps_parse, whole_text)
{
    char longpath[4200];
    longpath[0] = '/';
    memset(longpath + 1, 'L', sizeof longpath - 2);
    longpath[sizeof longpath - 1] = '\0';
    char *text = NULL;
    int n = asprintf(
        &text,
        "55e326e03000-55e326e05000 r--p 00000000 fe:00 247134                     /usr/bin/cat\n"
        "55e35ffcd000-55e35ffee000 rw-p 00000000 00:00 0                          [heap]\n"
        "7f0ba6820000-7f0ba68e4000 rw-p 00000000 00:00 0 \n"
        "7f0ba6900000-7f0ba6910000 rw-s 00000000 00:01 1047                       /memfd:x "
        "(deleted)\n"
        "7f0ba6910000-7f0ba6911000 r--p 00000000 fe:00 5                          %s\n"
        "7f0ba6920000-7f0ba6921000 r--p 00000000 fe:00 6                          /a b c\n"
        "7ffd1e5f2000-7ffd1e613000 rw-p 00000000 00:00 0                          [stack]\n"
        "7ffd1e700000-7ffd1e7",
        longpath);
    cr_assert_gt(n, 0);
    mg_maps m = {0};
    int skipped = mg_maps_parse(text, (size_t)n, &m);
    cr_assert_eq(skipped, 1, "the truncated last line must be skipped (got %d)", skipped);
    cr_assert_eq(m.n, 7u);
    static const mg_region_kind kinds[] = {MG_REGION_FILE, MG_REGION_HEAP, MG_REGION_ANON,
                                           MG_REGION_SHM,  MG_REGION_FILE, MG_REGION_FILE,
                                           MG_REGION_STACK};
    for (size_t i = 0; i < m.n; i++) {
        cr_assert_eq(m.regions[i].kind, kinds[i], "region %zu kind %d", i, m.regions[i].kind);
        cr_assert(m.regions[i].path != NULL, "region %zu path NULL", i);
        if (i)
            cr_assert_gt(m.regions[i].start, m.regions[i - 1].start, "not in address order");
    }
    cr_assert_str_eq(m.regions[0].path, "/usr/bin/cat");
    cr_assert_str_eq(m.regions[1].path, "[heap]");
    cr_assert_str_eq(m.regions[2].path, "");
    cr_assert_str_eq(m.regions[3].path, "/memfd:x");
    cr_assert(m.regions[3].deleted);
    cr_assert_str_eq(m.regions[4].path, longpath);
    cr_assert_str_eq(m.regions[5].path, "/a b c");
    cr_assert_eq(m.regions[6].end, 0x7ffd1e613000ull);
    /* Paths live in the snapshot, not in the input text. */
    memset(text, 'X', (size_t)n);
    cr_assert_str_eq(find_path(&m, 0x55e326e03000ull), "/usr/bin/cat");
    free(text);
    mg_maps_free(&m);
}

Test(maps_parse, empty_and_garbage)
{
    mg_maps m = {0};
    cr_assert_eq(mg_maps_parse("", 0, &m), 0);
    cr_assert_eq(m.n, 0u);
    mg_maps_free(&m);
    const char *t =
        "garbage\n\n55e35ffcd000-55e35ffee000 rw-p 00000000 00:00 0 [heap]\nmore garbage\n";
    int skipped = mg_maps_parse(t, strlen(t), &m);
    cr_assert_geq(skipped, 2, "skipped %d", skipped);
    cr_assert_eq(m.n, 1u);
    cr_assert_str_eq(m.regions[0].path, "[heap]");
    mg_maps_free(&m);
}

/* The live /proc/self/maps: the stack, our code, and a file mapping whose
 * path has spaces, before and after it is deleted. */
Test(maps_read, self)
{
    char dir[] = "/tmp/mg maps test XXXXXX";
    cr_assert(mkdtemp(dir));
    char file[128];
    snprintf(file, sizeof file, "%s/a file", dir);
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 8192), 0);
    void *map = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
    cr_assert_neq(map, MAP_FAILED);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    close(fd);

    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert_gt(el, 0);
    exe[el] = '\0';

    mg_maps m = {0};
    int rc = mg_maps_read(getpid(), &m);
    cr_assert_geq(rc, 0, "mg_maps_read: %d", rc);
    int local = 0;
    bool saw_stack = false, saw_code = false, saw_file = false;
    for (size_t i = 0; i < m.n; i++) {
        const mg_region *r = &m.regions[i];
        if ((uintptr_t)&local >= r->start && (uintptr_t)&local < r->end) {
            saw_stack = true;
            cr_assert_eq(r->kind, MG_REGION_STACK, "our stack is kind %d (%s)", r->kind, r->path);
        }
        if ((uintptr_t)&find_path >= r->start && (uintptr_t)&find_path < r->end) {
            saw_code = true;
            cr_assert_str_eq(r->path, exe, "our code's region");
            cr_assert_eq(r->perms[2], 'x');
            cr_assert_eq(r->kind, MG_REGION_FILE);
        }
        if (r->start == (uintptr_t)map) {
            saw_file = true;
            cr_assert_str_eq(r->path, file);
            cr_assert_not(r->deleted);
            cr_assert_eq(r->end - r->start, 8192u);
            cr_assert_eq(r->inode, (uint64_t)st.st_ino);
            cr_assert_eq(r->dev_major, major(st.st_dev));
            cr_assert_eq(r->dev_minor, minor(st.st_dev));
            cr_assert_str_eq(r->perms, "r--p");
            cr_assert_eq(r->kind, MG_REGION_FILE);
        }
    }
    cr_assert(saw_code, "no region holds our code");
    cr_assert(saw_stack, "no region holds our stack");
    cr_assert(saw_file, "no region for our file mapping");
    mg_maps_free(&m);

    unlink(file);
    cr_assert_geq(mg_maps_read(getpid(), &m), 0);
    saw_file = false;
    for (size_t i = 0; i < m.n; i++)
        if (m.regions[i].start == (uintptr_t)map) {
            saw_file = true;
            cr_assert_str_eq(m.regions[i].path, file);
            cr_assert(m.regions[i].deleted);
        }
    cr_assert(saw_file);
    mg_maps_free(&m);
    munmap(map, 8192);
    rmdir(dir);
}

Test(maps_read, gone_process)
{
    pid_t pid = dead_pid();
    mg_maps m = {0};
    int rc = mg_maps_read(pid, &m);
    cr_assert_eq(rc, -ENOENT, "maps of a reaped pid: %d", rc);
    mg_maps_free(&m);
}
