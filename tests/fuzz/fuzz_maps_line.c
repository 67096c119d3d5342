/* fuzz_maps_line.c - the /proc/PID/maps parsers (engine/src/os/maps.c).
 *
 * mg_maps_parse_line: an accepted line has start < end, valid perms, a path
 * inside the line, numbers equal to what strtoull makes of their fields,
 * and formats back to a line that parses to the same region.
 * mg_maps_parse over the same bytes as a whole text: every region valid,
 * regions + skipped lines never more than the lines. */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "os/maps.h"

/* Field k (0-based, split at single spaces) of line[0, len) into out. */
static void field(const char *line, size_t len, int k, char *out, size_t cap)
{
    size_t i = 0;
    for (; k > 0 && i < len; i++)
        k -= line[i] == ' ';
    size_t n = 0;
    while (i + n < len && line[i + n] != ' ' && n + 1 < cap)
        n++;
    memcpy(out, line + i, n);
    out[n] = '\0';
}

static uint64_t number(const char *s, int base)
{
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, base);
    FUZZ_CHECK(errno == 0 && *end == '\0' && end != s, "strtoull(\"%s\", %d) rejects it", s, base);
    return v;
}

static void check_line(const char *line, size_t len)
{
    mg_region r;
    const char *path = NULL;
    size_t plen = 0;
    if (mg_maps_parse_line(line, len, &r, &path, &plen) != 0)
        return;
    FUZZ_CHECK(r.start < r.end, "start %" PRIx64 " >= end %" PRIx64, r.start, r.end);
    FUZZ_CHECK(path >= line && path + plen <= line + len, "path outside the line");
    for (int i = 0; i < 4; i++)
        FUZZ_CHECK(strchr("rwxps-", r.perms[i]) && r.perms[i], "perms[%d] = 0x%02x", i,
                   (unsigned char)r.perms[i]);
    FUZZ_CHECK(r.perms[4] == '\0', "perms not terminated");
    FUZZ_CHECK(r.kind >= MG_REGION_ANON && r.kind <= MG_REGION_DEVICE, "kind %d", (int)r.kind);
    FUZZ_CHECK(r.kind == mg_region_classify(path, plen, r.perms), "kind differs from classify");
    FUZZ_CHECK(plen == 0 || path[0] != ' ', "path starts with a space");

    /* The numbers are what strtoull makes of the fields. */
    char f[64], *dash, *colon;
    field(line, len, 0, f, sizeof(f));
    dash = strchr(f, '-');
    FUZZ_CHECK(dash, "no '-' in \"%s\"", f);
    *dash = '\0';
    FUZZ_CHECK(number(f, 16) == r.start, "start");
    FUZZ_CHECK(number(dash + 1, 16) == r.end, "end");
    field(line, len, 2, f, sizeof(f));
    FUZZ_CHECK(number(f, 16) == r.offset, "offset");
    field(line, len, 3, f, sizeof(f));
    colon = strchr(f, ':');
    FUZZ_CHECK(colon, "no ':' in \"%s\"", f);
    *colon = '\0';
    FUZZ_CHECK((uint32_t)number(f, 16) == r.dev_major, "major");
    FUZZ_CHECK((uint32_t)number(colon + 1, 16) == r.dev_minor, "minor");
    field(line, len, 4, f, sizeof(f));
    if (f[0] && f[strlen(f) - 1] == '\n')
        f[strlen(f) - 1] = '\0';
    FUZZ_CHECK(number(f, 10) == r.inode, "inode %" PRIu64 " from \"%s\"", r.inode, f);

    /* Formatted back the kernel's way, the line parses to the same region
     * (unless the path holds a newline, which the kernel writes as \012). */
    if (memchr(path, '\n', plen))
        return;
    size_t cap = plen + 128;
    char *again = malloc(cap);
    FUZZ_CHECK(again, "out of memory");
    int n = snprintf(again, cap, "%" PRIx64 "-%" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64 " ",
                     r.start, r.end, r.perms, r.offset, r.dev_major, r.dev_minor, r.inode);
    FUZZ_CHECK(n > 0 && (size_t)n < cap, "snprintf");
    memcpy(again + n, path, plen);
    size_t alen = (size_t)n + plen;
    if (r.deleted) {
        memcpy(again + alen, " (deleted)", 10);
        alen += 10;
    }
    mg_region r2;
    const char *path2;
    size_t plen2;
    int rc = mg_maps_parse_line(again, alen, &r2, &path2, &plen2);
    FUZZ_CHECK(rc == 0, "formatted line does not parse: %d", rc);
    FUZZ_CHECK(r2.start == r.start && r2.end == r.end && r2.offset == r.offset &&
                   r2.dev_major == r.dev_major && r2.dev_minor == r.dev_minor &&
                   r2.inode == r.inode && !memcmp(r2.perms, r.perms, 5) &&
                   r2.deleted == r.deleted && r2.kind == r.kind && plen2 == plen &&
                   !memcmp(path2, path, plen),
               "formatted line parses differently");
    free(again);
}

static void check_text(const char *text, size_t len)
{
    mg_maps m;
    int rc = mg_maps_parse(text, len, &m);
    if (rc < 0) {
        FUZZ_CHECK(rc == -ENOMEM, "mg_maps_parse: %d", rc);
        return;
    }
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    FUZZ_CHECK(m.n + (size_t)rc <= lines, "%zu regions + %d skipped > %zu lines", m.n, rc, lines);
    for (size_t i = 0; i < m.n; i++) {
        FUZZ_CHECK(m.regions[i].start < m.regions[i].end, "region %zu: start >= end", i);
        FUZZ_CHECK(m.regions[i].path, "region %zu: no path", i);
        (void)strlen(m.regions[i].path); /* terminated inside the block (ASan checks) */
    }
    mg_maps_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = fuzz_copy(data, size);
    check_line(line, size);
    check_text(line, size);
    free(line);
    return 0;
}
