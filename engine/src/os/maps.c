/* maps.c - /proc/PID/maps: one allocation-free line parser, a snapshot reader,
 * and the classification that decides which regions may be read at all;
 * resident bytes per mapping from /proc/PID/smaps. */
#include "os/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Parse hex digits at *p up to end; at least one digit, at most 16. */
static int parse_hex(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0, d;
    while (*p < end && (d = mg_hexval(**p)) >= 0) {
        if (++n > 16)
            return -EINVAL;
        v = (v << 4) | (uint64_t)d;
        (*p)++;
    }
    if (n == 0)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_dec(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        unsigned d = (unsigned)(**p - '0');
        if (++n > 20 || v > (UINT64_MAX - d) / 10)
            return -EINVAL; /* more than 64 bits: no kernel wrote this */
        v = v * 10 + d;
        (*p)++;
    }
    if (n == 0)
        return -EINVAL;
    *out = v;
    return 0;
}

static int expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -EINVAL;
    (*p)++;
    return 0;
}

static void skip_spaces(const char **p, const char *end)
{
    while (*p < end && **p == ' ')
        (*p)++;
}

/*
 * start-end perms offset major:minor inode [spaces path]
 * 7f1c2a000000-7f1c2a001000 r--p 00002000 fd:01 1234     /opt/my app/lib.so (deleted)
 * The path runs to the end of the line and may hold any byte but '\n'.
 */
int mg_maps_parse_line(const char *line, size_t len, mg_region *r, const char **path,
                       size_t *path_len)
{
    const char *p = line, *end = line + len;
    uint64_t maj, min;

    if (len && end[-1] == '\n')
        end--;
    memset(r, 0, sizeof(*r));
    if (parse_hex(&p, end, &r->start) || expect(&p, end, '-') || parse_hex(&p, end, &r->end) ||
        expect(&p, end, ' '))
        return -EINVAL;
    if (r->end <= r->start || end - p < 5)
        return -EINVAL;
    for (int i = 0; i < 4; i++) {
        static const char allowed[4][3] = {{'r', '-'}, {'w', '-'}, {'x', '-'}, {'p', 's'}};
        if (p[i] != allowed[i][0] && p[i] != allowed[i][1])
            return -EINVAL;
        r->perms[i] = p[i];
    }
    r->perms[4] = '\0';
    p += 4;
    if (expect(&p, end, ' ') || parse_hex(&p, end, &r->offset) || expect(&p, end, ' ') ||
        parse_hex(&p, end, &maj) || expect(&p, end, ':') || parse_hex(&p, end, &min) ||
        expect(&p, end, ' ') || parse_dec(&p, end, &r->inode))
        return -EINVAL;
    r->dev_major = (uint32_t)maj;
    r->dev_minor = (uint32_t)min;
    if (p < end && *p != ' ')
        return -EINVAL;
    skip_spaces(&p, end);

    static const char deleted[] = " (deleted)";
    size_t n = (size_t)(end - p);
    if (n >= sizeof(deleted) - 1 &&
        !memcmp(end - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1)) {
        n -= sizeof(deleted) - 1;
        r->deleted = true;
    }
    *path = p;
    *path_len = n;
    r->kind = mg_region_classify(p, n, r->perms);
    return 0;
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && !memcmp(s, prefix, k);
}

static bool equals(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && !memcmp(s, lit, n);
}

mg_region_kind mg_region_classify(const char *path, size_t n, const char *perms)
{
    bool shared = perms[3] == 's';

    if (n == 0)
        return shared ? MG_REGION_SHM : MG_REGION_ANON;
    if (path[0] == '[') {
        if (equals(path, n, "[heap]"))
            return MG_REGION_HEAP;
        if (equals(path, n, "[stack]") || starts_with(path, n, "[stack:"))
            return MG_REGION_STACK;
        if (starts_with(path, n, "[anon_shmem:"))
            return MG_REGION_SHM;
        if (starts_with(path, n, "[anon:"))
            return shared ? MG_REGION_SHM : MG_REGION_ANON;
        /* [vdso], [vvar], [vvar_vclock], [vsyscall], [uprobes], unknown */
        return MG_REGION_SPECIAL;
    }
    /* Shared memory first: /dev/shm and /dev/zero are the /dev exceptions. */
    if (starts_with(path, n, "/dev/shm/") || starts_with(path, n, "/memfd:") ||
        starts_with(path, n, "/SYSV") || equals(path, n, "/dev/zero"))
        return shared || !equals(path, n, "/dev/zero") ? MG_REGION_SHM : MG_REGION_ANON;
    /* Device memory: reading it through /proc/PID/mem would do real MMIO
     * (vm_ops->access), so it is never read, whatever its perms say. */
    if (starts_with(path, n, "/dev/") || starts_with(path, n, "anon_inode:") ||
        starts_with(path, n, "/dmabuf:") || starts_with(path, n, "/dri/"))
        return MG_REGION_DEVICE;
    return MG_REGION_FILE; /* a file, even when mapped shared */
}

void mg_maps_free(mg_maps *m)
{
    if (!m)
        return;
    free(m->regions);
    free(m->strings);
    memset(m, 0, sizeof(*m));
}

/* The kernel writes a newline in a mapped file's name as "\012" (the
 * only byte seq_file_path() escapes for maps): copy the path to dst with
 * those turned back into the newline, so the name is the file's bytes.
 * Returns the length written (never more than n). */
static size_t unescape_path(char *dst, const char *src, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\\' && n - i >= 4 && !memcmp(src + i + 1, "012", 3)) {
            dst[k++] = '\n';
            i += 3;
        } else {
            dst[k++] = src[i];
        }
    }
    return k;
}

int mg_maps_parse(const char *text, size_t len, mg_maps *out)
{
    size_t cap = 0, lines = 0, skipped = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    cap = lines + 1;
    out->regions = calloc(cap, sizeof(*out->regions));
    /* Paths are copied NUL-terminated into one block no bigger than text. */
    out->strings = malloc(len + cap);
    if (!out->regions || !out->strings) {
        mg_maps_free(out);
        return -ENOMEM;
    }
    size_t spos = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *path;
        size_t plen;
        mg_region *r = &out->regions[out->n];
        if (le > p) {
            if (mg_maps_parse_line(p, (size_t)(le - p), r, &path, &plen) == 0) {
                plen = unescape_path(out->strings + spos, path, plen);
                out->strings[spos + plen] = '\0';
                r->path = (const char *)(uintptr_t)spos; /* fixed up below */
                spos += plen + 1;
                out->n++;
            } else {
                skipped++;
            }
        }
        p = nl ? nl + 1 : end;
    }
    for (size_t i = 0; i < out->n; i++)
        out->regions[i].path = out->strings + (uintptr_t)out->regions[i].path;
    return (int)skipped;
}

int mg_maps_read(pid_t pid, mg_maps *out)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    char *buf = NULL;
    size_t len = 0;
    int rc = mg_read_file(path, &buf, &len);
    if (rc < 0)
        return rc;
    rc = mg_maps_parse(buf, len, out);
    free(buf);
    return rc;
}

/* ---- /proc/PID/smaps: resident bytes per mapping ------------------------ */

/* A field line "Name:   N kB" whose name is one of those counted: N * 1024
 * into *bytes. Returns false for any other line. */
static bool smaps_field(const char *p, const char *end, uint64_t *bytes)
{
    static const char *const counted[] = {"Rss:", "Private_Hugetlb:", "Shared_Hugetlb:"};
    for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
        size_t k = strlen(counted[i]);
        if ((size_t)(end - p) <= k || memcmp(p, counted[i], k))
            continue;
        p += k;
        skip_spaces(&p, end);
        uint64_t kb;
        if (parse_dec(&p, end, &kb) || kb > UINT64_MAX / 1024)
            return false;
        *bytes = kb * 1024;
        return true;
    }
    return false;
}

int mg_smaps_parse(const char *text, size_t len, mg_smaps *out)
{
    size_t cap = 0;
    memset(out, 0, sizeof(*out));
    struct mg_smaps_entry *cur = NULL;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *q = p;
        uint64_t start, stop, bytes;
        /* a header is a maps line: "start-end perms ..."; a field name
         * never has a '-' after hex digits */
        if (parse_hex(&q, le, &start) == 0 && expect(&q, le, '-') == 0 &&
            parse_hex(&q, le, &stop) == 0 && expect(&q, le, ' ') == 0) {
            if (out->n == cap) {
                size_t ncap = cap ? 2 * cap : 64;
                struct mg_smaps_entry *e = realloc(out->e, ncap * sizeof(*e));
                if (!e) {
                    mg_smaps_free(out);
                    return -ENOMEM;
                }
                out->e = e;
                cap = ncap;
            }
            cur = &out->e[out->n++];
            *cur = (struct mg_smaps_entry){.start = start, .end = stop};
        } else if (cur && smaps_field(p, le, &bytes)) {
            cur->resident += bytes;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int mg_smaps_read(pid_t pid, mg_smaps *out)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
    char *buf = NULL;
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    int rc = mg_read_file(path, &buf, &len);
    if (rc < 0)
        return rc;
    rc = mg_smaps_parse(buf, len, out);
    free(buf);
    return rc;
}

int mg_smaps_resident(const mg_smaps *s, uint64_t start, uint64_t end, uint64_t *resident)
{
    size_t lo = 0, hi = s->n; /* entries are in address order */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->e[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == s->n || s->e[lo].start != start || s->e[lo].end != end)
        return -ENOENT;
    *resident = s->e[lo].resident;
    return 0;
}

void mg_smaps_free(mg_smaps *s)
{
    if (!s)
        return;
    free(s->e);
    memset(s, 0, sizeof(*s));
}
