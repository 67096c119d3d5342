/* test_dbcache.c - mg_patterns_compile_cached: a hit gives the database of
 * the same patterns; a different key, a truncated or corrupted entry is a
 * miss (recompiled, rewritten); a directory or entry that is not ours or
 * root's, writable by group or others, a symbolic link or not a regular
 * file is refused with one warning and the patterns compiled. Every case
 * checks that the right matches are still found. The poisoned entry (the
 * right name and key, the database of other patterns, a valid checksum) is
 * first shown to work in a trusted directory, so that its refusal elsewhere
 * is the ownership check at work, not a malformed file. Cases that chown
 * to another user need root and skip without it. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "helpers.h"
#include "memgrep/memgrep.h"

#define NOBODY 65534

static char base[64];
static fixture fx;

static void setup(void)
{
    snprintf(base, sizeof(base), "/tmp/mg-dbcache-XXXXXX");
    cr_assert(mkdtemp(base), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
    fixture_stop(&fx);
    if (base[0])
        remove_tree(base);
}

TestSuite(dbcache, .init = setup, .fini = teardown, .timeout = 100);

/* Skip unless root (base is still empty: Criterion runs no .fini after a
 * skip, so it goes now). */
static void need_root_to(const char *why)
{
    if (geteuid() != 0) {
        rmdir(base);
        cr_skip_test("needs root: %s", why);
    }
}

/* base/name, malloc'd. */
static char *at(const char *name)
{
    char *s = NULL;
    cr_assert(asprintf(&s, "%s/%s", base, name) > 0);
    return s;
}

/* ---- the entry format (dbcache.c): magic, u64 key length, key, u64
 * database length, database, u64 checksum of all before it ---- */

static uint64_t sum64(const char *s, size_t n)
{
    const uint64_t m = 0xff51afd7ed558ccdull;
    uint64_t h[4] = {0xc2b2ae3d27d4eb4full ^ n, 0x165667b19e3779f9ull, 0x27d4eb2f165667c5ull,
                     0x9e3779b97f4a7c15ull},
             w;
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            memcpy(&w, s + i + 8 * k, 8);
            h[k] = (h[k] ^ w) * m;
            h[k] ^= h[k] >> 32;
        }
    uint64_t r = h[0];
    for (int k = 1; k < 4; k++) {
        r = (r ^ h[k]) * m;
        r ^= r >> 32;
    }
    for (; i < n; i++)
        r = (r ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return r ^ (r >> 29);
}

typedef struct entry {
    char *bytes;
    size_t len;
    char name[64]; /* file name in its directory */
    size_t key_off, key_len, db_off, db_len;
} entry;

static void read_file(const char *path, char **bytes, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    *bytes = malloc((size_t)n + 1);
    cr_assert(*bytes);
    cr_assert_eq(fread(*bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
}

static void write_file(const char *path, const void *bytes, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

/* Names in dir (not . and ..), space-separated, sorted not needed: the
 * count and the names. */
static size_t list_dir(const char *dir, char names[][64], size_t max)
{
    DIR *d = opendir(dir);
    cr_assert(d, "%s: %s", dir, strerror(errno));
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            cr_assert_lt(n, max, "too many files in %s", dir);
            snprintf(names[n++], 64, "%.63s", e->d_name);
        }
    closedir(d);
    return n;
}

/* The one entry in dir, parsed. */
static entry the_entry(const char *dir)
{
    char names[8][64];
    cr_assert_eq(list_dir(dir, names, 8), 1u, "%s should hold exactly one entry", dir);
    entry e = {0};
    snprintf(e.name, sizeof(e.name), "%s", names[0]);
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s", dir, e.name) > 0);
    read_file(path, &e.bytes, &e.len);
    free(path);
    cr_assert_geq(e.len, 32u);
    cr_assert_eq(memcmp(e.bytes, "MGHSDB2\n", 8), 0);
    uint64_t klen, dlen, sum;
    memcpy(&klen, e.bytes + 8, 8);
    cr_assert_leq(klen, e.len - 32);
    memcpy(&dlen, e.bytes + 16 + klen, 8);
    cr_assert_eq(16 + klen + 8 + dlen + 8, e.len, "entry length");
    memcpy(&sum, e.bytes + e.len - 8, 8);
    cr_assert_eq(sum, sum64(e.bytes, e.len - 8), "the test's checksum is the engine's");
    e.key_off = 16;
    e.key_len = klen;
    e.db_off = 16 + klen + 8;
    e.db_len = dlen;
    return e;
}

/* An entry with a's name and key and b's database, a valid checksum. */
static entry poisoned(const entry *a, const entry *b)
{
    entry e = *a;
    e.len = 16 + a->key_len + 8 + b->db_len + 8;
    e.bytes = malloc(e.len);
    cr_assert(e.bytes);
    uint64_t dlen = b->db_len;
    memcpy(e.bytes, a->bytes, 16 + a->key_len);
    memcpy(e.bytes + 16 + a->key_len, &dlen, 8);
    memcpy(e.bytes + 16 + a->key_len + 8, b->bytes + b->db_off, b->db_len);
    uint64_t sum = sum64(e.bytes, e.len - 8);
    memcpy(e.bytes + e.len - 8, &sum, 8);
    e.db_off = 16 + a->key_len + 8;
    e.db_len = b->db_len;
    return e;
}

/* ---- pattern sets ---- */

typedef struct set {
    char token[40];
} set;

static set new_set(const char *prefix)
{
    set s;
    char r[17];
    random_token(r);
    snprintf(s.token, sizeof(s.token), "%s-%s", prefix, r);
    return s;
}

typedef struct result {
    int rc;
    bool from_cache;
    mg_error err;
    unsigned hits; /* matches of s.token in a buffer holding it twice */
} result;

static unsigned hits_n;
static int count_hit(void *ctx, const mg_match *m)
{
    (void)ctx, (void)m;
    hits_n++;
    return MG_SINK_CONTINUE;
}

/* Compile {s.token} with the cache in dir and scan a buffer that holds the
 * token twice: a right database finds 2. */
static result compile_in(const set *s, const char *dir)
{
    result r = {0};
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, s->token, strlen(s->token), 0);
    r.rc = mg_patterns_compile_cached(p, dir, &r.from_cache, &r.err);
    if (r.rc == 0) {
        char buf[4096];
        memset(buf, 'x', sizeof(buf));
        memcpy(buf + 100, s->token, strlen(s->token));
        memcpy(buf + 3000, s->token, strlen(s->token));
        mg_sink sink = {.match = count_hit};
        mg_stats st;
        hits_n = 0;
        int sr = mg_scan_buffer(p, buf, sizeof(buf), 0x1000, 1 << 20, 0, &sink, &st);
        cr_assert_eq(sr, 0, "scan: %s (from cache %d)", mg_strerror(sr), r.from_cache);
        r.hits = hits_n;
    }
    mg_patterns_free(&p);
    return r;
}

/* A fresh cache, compiled and checked. */
static void expect_miss(const result *r, const char *what)
{
    cr_assert_eq(r->rc, 0, "%s: %s", what, r->err.message);
    cr_assert_not(r->from_cache, "%s: should not come from the cache", what);
    cr_assert_eq(r->hits, 2u, "%s: the right database finds the token twice", what);
}

static void expect_hit(const result *r, const char *what)
{
    cr_assert_eq(r->rc, 0, "%s: %s", what, r->err.message);
    cr_assert(r->from_cache, "%s: should come from the cache", what);
    cr_assert_str_empty(r->err.message, "%s: no warning", what);
    cr_assert_eq(r->hits, 2u, "%s: the right database finds the token twice", what);
}

static void expect_warning(const result *r, const char *expected, const char *what)
{
    cr_assert_str_eq(r->err.message, expected, "%s: the warning", what);
    cr_assert_null(strchr(r->err.message, '\n'), "one line");
}

/* A trusted cache dir under base holding the entry of s; returns the dir. */
static char *primed(const char *name, const set *s)
{
    char *dir = at(name);
    result r = compile_in(s, dir);
    expect_miss(&r, "priming");
    cr_assert_str_empty(r.err.message, "no warning for a fresh cache: %s", r.err.message);
    return dir;
}

/* A's entry poisoned with B's database, written into dir with mode and,
 * when uid >= 0, owner uid. */
static void plant_poison(const char *dir, const set *a, uid_t uid, mode_t mode)
{
    static int n;
    char na[32], nb[32];
    snprintf(na, sizeof(na), "src-a%d", n);
    snprintf(nb, sizeof(nb), "src-b%d", n++);
    set b = new_set("decoy");
    char *da = primed(na, a), *db = primed(nb, &b);
    entry ea = the_entry(da), eb = the_entry(db), ep = poisoned(&ea, &eb);
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s", dir, ea.name) > 0);
    write_file(path, ep.bytes, ep.len, mode);
    if (uid != (uid_t)-1)
        cr_assert_eq(chown(path, uid, (gid_t)-1), 0, "chown %s: %s", path, strerror(errno));
    free(path), free(ea.bytes), free(eb.bytes), free(ep.bytes), free(da), free(db);
}

/* ---- hits and misses ---- */

Test(dbcache, second_compile_comes_from_the_cache)
{
    set a = new_set("tok");
    char *dir = at("c");
    result r = compile_in(&a, dir);
    expect_miss(&r, "first");
    cr_assert_str_empty(r.err.message);
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0700, "the directory is created 0700");
    entry e = the_entry(dir); /* no temporary file left */
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s", dir, e.name) > 0);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "the entry is 0600");
    r = compile_in(&a, dir);
    expect_hit(&r, "second");
    /* trailing slashes name the same directory */
    char *slash = NULL;
    cr_assert(asprintf(&slash, "%s//", dir) > 0);
    r = compile_in(&a, slash);
    expect_hit(&r, "dir/");
    free(e.bytes), free(path), free(slash), free(dir);
}

Test(dbcache, nested_directories_are_created_private)
{
    set a = new_set("tok");
    char *dir = at("x/y/z");
    result r = compile_in(&a, dir);
    expect_miss(&r, "first");
    const char *parts[] = {"x", "x/y", "x/y/z"};
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        char *p = at(parts[i]);
        cr_assert_eq(stat(p, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0700, "%s", p);
        free(p);
    }
    r = compile_in(&a, dir);
    expect_hit(&r, "second");
    free(dir);
}

Test(dbcache, other_patterns_miss)
{
    set a = new_set("tok"), b = new_set("other");
    char *dir = primed("c", &a);
    result r = compile_in(&b, dir);
    expect_miss(&r, "other patterns");
    char names[8][64];
    cr_assert_eq(list_dir(dir, names, 8), 2u, "one entry per pattern set");
    free(dir);
}

/* B's entry renamed to A's name: the stored key is not A's. */
Test(dbcache, entry_of_other_key_under_the_right_name_is_a_miss)
{
    set a = new_set("tok"), b = new_set("other");
    char *da = primed("a", &a), *db = primed("b", &b);
    entry ea = the_entry(da), eb = the_entry(db);
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s", da, ea.name) > 0);
    write_file(path, eb.bytes, eb.len, 0600);
    result r = compile_in(&a, da);
    expect_miss(&r, "key mismatch");
    cr_assert_str_empty(r.err.message);
    r = compile_in(&a, da);
    expect_hit(&r, "rewritten");
    free(path), free(ea.bytes), free(eb.bytes), free(da), free(db);
}

Test(dbcache, truncated_entry_is_a_miss_and_rewritten)
{
    set a = new_set("tok");
    char *dir = primed("c", &a);
    entry e = the_entry(dir);
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s", dir, e.name) > 0);
    size_t cuts[] = {0, 7, 16, e.db_off, e.db_off + e.db_len / 2, e.len - 8, e.len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        cr_assert_eq(truncate(path, (off_t)cuts[i]), 0);
        result r = compile_in(&a, dir);
        expect_miss(&r, "truncated");
        cr_assert_str_empty(r.err.message);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq((size_t)st.st_size, e.len, "cut at %zu: rewritten whole", cuts[i]);
        r = compile_in(&a, dir);
        expect_hit(&r, "after rewrite");
    }
    free(path), free(e.bytes), free(dir);
}

Test(dbcache, one_corrupted_byte_is_a_miss)
{
    set a = new_set("tok");
    char *dir = primed("c", &a);
    entry e = the_entry(dir);
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s", dir, e.name) > 0);
    struct {
        const char *what;
        size_t off;
    } at_[] = {
        {"key, first byte", e.key_off},
        {"key, last byte", e.key_off + e.key_len - 1},
        {"database, first byte", e.db_off},
        {"database, middle", e.db_off + e.db_len / 2},
        {"database, last byte", e.db_off + e.db_len - 1},
        {"checksum", e.len - 1},
    };
    for (size_t i = 0; i < sizeof(at_) / sizeof(at_[0]); i++) {
        char *bad = malloc(e.len);
        memcpy(bad, e.bytes, e.len);
        bad[at_[i].off] ^= 0x20;
        write_file(path, bad, e.len, 0600);
        result r = compile_in(&a, dir);
        expect_miss(&r, at_[i].what);
        cr_assert_str_empty(r.err.message);
        char *now;
        size_t n;
        read_file(path, &now, &n);
        cr_assert(n == e.len && !memcmp(now, e.bytes, n), "%s: rewritten", at_[i].what);
        free(now), free(bad);
    }
    free(path), free(e.bytes), free(dir);
}

/* ---- the poisoned entry ---- */

/* The control: in a directory we own, the poisoned entry is believed and
 * the token is not found. This is what the ownership checks below stop. */
Test(dbcache, poisoned_entry_in_a_trusted_directory_is_believed)
{
    set a = new_set("tok");
    char *dir = at("c");
    cr_assert_eq(mkdir(dir, 0700), 0);
    plant_poison(dir, &a, (uid_t)-1, 0600);
    result r = compile_in(&a, dir);
    cr_assert_eq(r.rc, 0);
    cr_assert(r.from_cache, "a well-formed entry in a trusted directory is used");
    cr_assert_eq(r.hits, 0u, "the poison hides the token");
    free(dir);
}

Test(dbcache, directory_of_another_user_is_refused)
{
    need_root_to("chown to another user");
    set a = new_set("tok");
    char *dir = at("c");
    cr_assert_eq(mkdir(dir, 0700), 0);
    plant_poison(dir, &a, NOBODY, 0600);
    cr_assert_eq(chown(dir, NOBODY, NOBODY), 0);
    char *expected = NULL;
    cr_assert(asprintf(&expected, "ignoring database cache %s: owned by uid %d, not by root", dir,
                       NOBODY) > 0);
    for (int i = 0; i < 2; i++) {
        result r = compile_in(&a, dir);
        expect_miss(&r, "nobody's directory");
        expect_warning(&r, expected, "nobody's directory");
    }
    char names[8][64];
    cr_assert_eq(list_dir(dir, names, 8), 1u, "nothing stored in a refused directory");
    free(expected), free(dir);
}

Test(dbcache, world_and_group_writable_directories_are_refused)
{
    set a = new_set("tok");
    const mode_t modes[] = {0777, 01777, 0770, 0720, 0702};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%zu", i);
        char *dir = at(name);
        cr_assert_eq(mkdir(dir, 0700), 0);
        plant_poison(dir, &a, (uid_t)-1, 0600);
        cr_assert_eq(chmod(dir, modes[i]), 0);
        char *expected = NULL;
        cr_assert(asprintf(&expected,
                           "ignoring database cache %s: writable by group or others (mode %04o)",
                           dir, (unsigned)modes[i]) > 0);
        result r = compile_in(&a, dir);
        expect_miss(&r, "writable directory");
        expect_warning(&r, expected, "writable directory");
        free(expected), free(dir);
    }
}

Test(dbcache, entry_of_another_user_is_refused_and_replaced)
{
    need_root_to("chown to another user");
    set a = new_set("tok");
    char *dir = at("c");
    cr_assert_eq(mkdir(dir, 0700), 0);
    plant_poison(dir, &a, NOBODY, 0600);
    entry e = the_entry(dir);
    char *expected = NULL;
    cr_assert(asprintf(&expected, "ignoring cached database %s/%s: owned by uid %d, not by root",
                       dir, e.name, NOBODY) > 0);
    result r = compile_in(&a, dir);
    expect_miss(&r, "nobody's entry");
    expect_warning(&r, expected, "nobody's entry");
    r = compile_in(&a, dir);
    expect_hit(&r, "replaced by ours");
    free(expected), free(e.bytes), free(dir);
}

Test(dbcache, group_or_world_writable_entry_is_refused)
{
    set a = new_set("tok");
    const mode_t modes[] = {0620, 0602, 0666};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%zu", i);
        char *dir = at(name);
        cr_assert_eq(mkdir(dir, 0700), 0);
        plant_poison(dir, &a, (uid_t)-1, modes[i]);
        entry e = the_entry(dir);
        char *expected = NULL;
        cr_assert(asprintf(&expected,
                           "ignoring cached database %s/%s: writable by group or others "
                           "(mode %04o)",
                           dir, e.name, (unsigned)modes[i]) > 0);
        result r = compile_in(&a, dir);
        expect_miss(&r, "writable entry");
        expect_warning(&r, expected, "writable entry");
        free(expected), free(e.bytes), free(dir);
    }
}

Test(dbcache, symlinked_entry_is_refused_and_not_followed)
{
    set a = new_set("tok");
    char *dir = at("c"), *elsewhere = at("elsewhere");
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(mkdir(elsewhere, 0700), 0);
    plant_poison(elsewhere, &a, (uid_t)-1, 0600);
    entry e = the_entry(elsewhere);
    char *link = NULL, *target = NULL, *expected = NULL;
    cr_assert(asprintf(&link, "%s/%s", dir, e.name) > 0);
    cr_assert(asprintf(&target, "%s/%s", elsewhere, e.name) > 0);
    cr_assert_eq(symlink(target, link), 0);
    cr_assert(asprintf(&expected, "ignoring cached database %s: it is a symbolic link", link) > 0);
    result r = compile_in(&a, dir);
    expect_miss(&r, "symlinked entry");
    expect_warning(&r, expected, "symlinked entry");
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISREG(st.st_mode), "the link is replaced by our entry");
    char *now;
    size_t n;
    read_file(target, &now, &n);
    cr_assert(n == e.len && !memcmp(now, e.bytes, n), "the link's target is untouched");
    r = compile_in(&a, dir);
    expect_hit(&r, "replaced");
    free(now), free(link), free(target), free(expected), free(e.bytes), free(dir), free(elsewhere);
}

Test(dbcache, symlinked_directory_is_refused)
{
    set a = new_set("tok");
    char *real = at("real"), *link = at("link");
    cr_assert_eq(mkdir(real, 0700), 0);
    plant_poison(real, &a, (uid_t)-1, 0600);
    cr_assert_eq(symlink(real, link), 0);
    char *expected = NULL;
    cr_assert(asprintf(&expected, "ignoring database cache %s: it is a symbolic link", link) > 0);
    char *slash = NULL;
    cr_assert(asprintf(&slash, "%s/", link) > 0);
    const char *paths[] = {link, slash};
    for (size_t i = 0; i < 2; i++) {
        result r = compile_in(&a, paths[i]);
        expect_miss(&r, paths[i]);
        expect_warning(&r, expected, paths[i]);
    }
    char names[8][64];
    cr_assert_eq(list_dir(real, names, 8), 1u, "nothing written through the link");
    free(expected), free(slash), free(real), free(link);
}

Test(dbcache, fifo_entry_is_refused_without_blocking)
{
    set a = new_set("tok");
    char *dir = primed("c", &a);
    entry e = the_entry(dir);
    char *path = NULL, *expected = NULL;
    cr_assert(asprintf(&path, "%s/%s", dir, e.name) > 0);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkfifo(path, 0600), 0);
    cr_assert(asprintf(&expected, "ignoring cached database %s: not a regular file", path) > 0);
    result r = compile_in(&a, dir);
    expect_miss(&r, "fifo");
    expect_warning(&r, expected, "fifo");
    free(path), free(expected), free(e.bytes), free(dir);
}

/* ---- directories we cannot write ---- */

/* In a child (as nobody when we are root, owning the directory mode 0500):
 * 0 when the compile succeeds, not from the cache, with no warning and the
 * right matches. */
static int compile_unwritable(const set *a, const char *dir)
{
    if (geteuid() == 0 && (setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY)))
        return 10;
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    bool cached = true;
    if (mg_patterns_new(&p) < 0 ||
        mg_patterns_add(p, MG_PATTERN_LITERAL, a->token, strlen(a->token), 0, NULL, &err) < 0)
        return 11;
    if (mg_patterns_compile_cached(p, dir, &cached, &err) != 0)
        return 12;
    mg_patterns_free(&p);
    return cached ? 13 : err.message[0] ? 14 : 0;
}

Test(dbcache, unwritable_directory_compiles_and_caches_nothing)
{
    set a = new_set("tok");
    char *dir = at("c");
    cr_assert_eq(mkdir(dir, 0700), 0);
    if (geteuid() == 0) {
        cr_assert_eq(chmod(base, 0711), 0);
        cr_assert_eq(chown(dir, NOBODY, NOBODY), 0);
    }
    cr_assert_eq(chmod(dir, 0500), 0);
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
            _exit(compile_unwritable(&a, dir));
        int ws;
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child: status %d", WEXITSTATUS(ws));
    }
    char names[8][64];
    cr_assert_eq(list_dir(dir, names, 8), 0u, "nothing cached, no temporary file left");
    free(dir);
}

Test(dbcache, directory_that_cannot_be_created_compiles_silently)
{
    set a = new_set("tok");
    result r = compile_in(&a, "/proc/self/no-such-dir/memgrep");
    expect_miss(&r, "no cache");
    cr_assert_str_empty(r.err.message);
}

Test(dbcache, null_err_and_no_dir)
{
    set a = new_set("tok");
    char *dir = primed("c", &a);
    mg_patterns *p = patterns_new();
    add_pattern(p, MG_PATTERN_LITERAL, a.token, strlen(a.token), 0);
    bool cached = false;
    cr_assert_eq(mg_patterns_compile_cached(p, dir, &cached, NULL), 0);
    cr_assert(cached);
    mg_patterns_free(&p);
    cr_assert_eq(mg_patterns_compile_cached(NULL, dir, NULL, NULL), -EINVAL);
    result r = compile_in(&a, "");
    expect_miss(&r, "empty dir: no cache");
    r = compile_in(&a, NULL);
    expect_miss(&r, "NULL dir: no cache");
    free(dir);
}

/* ---- end to end: memgrep on a fixture, its cache poisoned ---- */

/* `memgrep scan -c --no-summary ARGS` (NULL-terminated; prog_run: no
 * --db-cache added); stdout and stderr in out/err (at most size-1 bytes
 * each); returns the exit code. */
static int run_memgrep(const char *const *args, char *out, char *err, size_t size)
{
    const char *exe = getenv("MEMGREP");
    if (!exe || !*exe)
        cr_skip_test("MEMGREP is not set");
    const char *argv[32] = {exe, "scan", "-c", "--no-summary"};
    size_t argc = 4;
    for (size_t i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    prog_result r = prog_run(argv);
    snprintf(out, size, "%s", r.out);
    snprintf(err, size, "%s", r.err);
    int status = r.status;
    prog_result_free(&r);
    return status;
}

Test(dbcache, memgrep_scan_with_a_poisoned_cache_finds_the_token)
{
    need_root_to("read a fixture, chown to another user");
    fixture_start(&fx, NULL);
    set a;
    snprintf(a.token, sizeof(a.token), FIXTURE_MARKER_PREFIX "%s-", fx.token);
    char pid[16], out[4096], err[4096], clean[4096];
    snprintf(pid, sizeof(pid), "%d", (int)fx.pid);

    const char *plain[] = {"-e", a.token, "-p", pid, "--no-db-cache", NULL};
    cr_assert_eq(run_memgrep(plain, clean, err, sizeof(clean)), 0, "stderr: %s", err);
    cr_assert_str_empty(err);

    /* the poison works where it is trusted */
    char *trusted = at("trusted");
    cr_assert_eq(mkdir(trusted, 0700), 0);
    plant_poison(trusted, &a, (uid_t)-1, 0600);
    const char *in_trusted[] = {"-e", a.token, "-p", pid, "--db-cache", trusted, NULL};
    cr_assert_eq(run_memgrep(in_trusted, out, err, sizeof(out)), 1,
                 "a poisoned trusted cache hides the token: %s", out);

    /* a world-writable directory, and one owned by nobody */
    char *ww = at("ww"), *nb = at("nb");
    cr_assert_eq(mkdir(ww, 0700), 0);
    cr_assert_eq(mkdir(nb, 0700), 0);
    plant_poison(ww, &a, (uid_t)-1, 0600);
    plant_poison(nb, &a, NOBODY, 0600);
    cr_assert_eq(chmod(ww, 01777), 0);
    cr_assert_eq(chown(nb, NOBODY, NOBODY), 0);
    const char *dirs[] = {ww, nb};
    const char *why[] = {"writable by group or others (mode 1777)",
                         "owned by uid 65534, not by root"};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"-e", a.token, "-p", pid, "--db-cache", dirs[i], NULL};
        cr_assert_eq(run_memgrep(args, out, err, sizeof(out)), 0, "%s: stderr: %s", dirs[i], err);
        cr_assert_str_eq(out, clean, "%s: the same counts as without a cache", dirs[i]);
        char *expected = NULL;
        cr_assert(asprintf(&expected, "memgrep: warning: ignoring database cache %s: %s\n", dirs[i],
                           why[i]) > 0);
        cr_assert_str_eq(err, expected);
        free(expected);
    }
    free(trusted), free(ww), free(nb);
}
