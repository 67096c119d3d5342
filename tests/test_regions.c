/* test_regions.c - many small mappings: batch units.
 *
 * A child process maps small anonymous regions: adjacent ones of
 * alternating permissions (the kernel can't merge them), ones between
 * PROT_NONE guard pages, ones between unmapped holes, and a few of two
 * pages. Markers sit at each region's first and last bytes, and across each
 * boundary of two adjacent regions (half in each: no match may span two
 * mappings). Expected: exactly the first/last markers, each once, with the
 * region that holds it; with a forked grandchild sharing the pages, both
 * processes get them at their own addresses (the batch dedupe key). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define PG 4096u
#define N_ADJ 48 /* adjacent one-page regions, alternating rw-p / r--p */
#define N_GUARD 48 /* one-page regions, each followed by a PROT_NONE page */
#define N_HOLE 24 /* one-page regions with an unmapped page between */
#define N_TWO 8 /* two-page regions with an unmapped page between */
#define N_REG (N_ADJ + N_GUARD + N_HOLE + N_TWO)
#define MLEN 24 /* "RG" + token (16) + kind letter + 3 digits + "Z" + '#' */

typedef struct layout {
    uint64_t start[N_REG], end[N_REG];
} layout;

/* Region i's bounds, from the base of the child's one big reservation. */
static void make_layout(uint64_t base, layout *l)
{
    uint64_t a = base;
    for (size_t i = 0; i < N_REG; i++) {
        size_t pages = i >= N_ADJ + N_GUARD + N_HOLE ? 2 : 1;
        l->start[i] = a;
        l->end[i] = a + pages * PG;
        a = l->end[i] + (i < N_ADJ ? 0 : PG); /* a guard or a hole after */
    }
}

/* Marker text of kind k ('F' first, 'L' last, 'S' straddling) for region i,
 * written piece by piece, so the whole marker exists only where it is put. */
static void put_marker(uint8_t *dst, const char *token, char k, size_t i)
{
    memcpy(dst, "RG", 2);
    memcpy(dst + 2, token, 16);
    dst[18] = (uint8_t)k;
    dst[19] = (uint8_t)('0' + i / 100);
    dst[20] = (uint8_t)('0' + i / 10 % 10);
    dst[21] = (uint8_t)('0' + i % 10);
    dst[22] = 'Z';
    dst[23] = '#';
}

static void marker_text(char out[MLEN + 1], const char *token, char k, size_t i)
{
    put_marker((uint8_t *)out, token, k, i);
    out[MLEN] = 0;
}

/* The child: maps the layout, plants the markers, optionally forks a
 * grandchild that shares the pages, reports base (and the grandchild's pid)
 * on fd, and waits for its stdin to close. */
static void child_main(int wfd, int rfd, const char *token, bool share)
{
    size_t span = 0;
    layout l;
    make_layout(0, &l);
    span = l.end[N_REG - 1] + PG;
    uint8_t *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        _exit(3);
    madvise(base, span, MADV_NOHUGEPAGE);
    make_layout((uint64_t)(uintptr_t)base, &l);
    for (size_t i = 0; i < N_REG; i++) {
        uint8_t *s = (uint8_t *)(uintptr_t)l.start[i], *e = (uint8_t *)(uintptr_t)l.end[i];
        memset(s, 'x', (size_t)(e - s));
        put_marker(s, token, 'F', i);
        put_marker(e - MLEN, token, 'L', i);
    }
    /* across each boundary of two adjacent regions: half in each */
    for (size_t i = 0; i + 1 < N_ADJ; i++) {
        uint8_t *b = (uint8_t *)(uintptr_t)l.end[i];
        /* the F and L markers sit at the very edges: move them aside here */
        memset(b - MLEN, 'x', MLEN);
        memset(b, 'x', MLEN);
        put_marker(b - MLEN / 2, token, 'S', i);
    }
    /* the edge markers of the adjacent run were overwritten, except region
     * 0's first and the last one's last: put them one byte further in */
    for (size_t i = 0; i < N_ADJ; i++) {
        if (i > 0)
            put_marker((uint8_t *)(uintptr_t)l.start[i] + MLEN / 2 + 1, token, 'F', i);
        if (i + 1 < N_ADJ)
            put_marker((uint8_t *)(uintptr_t)l.end[i] - MLEN / 2 - 1 - MLEN, token, 'L', i);
    }
    for (size_t i = 0; i < N_REG; i++) {
        uint8_t *after = (uint8_t *)(uintptr_t)l.end[i];
        if (i < N_ADJ) {
            if (i % 2 && mprotect((void *)(uintptr_t)l.start[i], PG, PROT_READ))
                _exit(4);
        } else if (i < N_ADJ + N_GUARD) {
            if (mprotect(after, PG, PROT_NONE))
                _exit(4);
        } else if (munmap(after, PG)) {
            _exit(4);
        }
    }
    uint64_t msg[2] = {(uint64_t)(uintptr_t)base, 0};
    if (share) {
        pid_t g = fork();
        if (g == 0) {
            char c;
            while (read(rfd, &c, 1) > 0)
                ;
            _exit(0);
        }
        msg[1] = (uint64_t)g;
    }
    if (write(wfd, msg, sizeof msg) != (ssize_t)sizeof msg)
        _exit(5);
    char c;
    while (read(rfd, &c, 1) > 0)
        ;
    if (msg[1])
        waitpid((pid_t)msg[1], NULL, 0);
    _exit(0);
}

/* The expected position of region i's marker of kind k. */
static uint64_t marker_addr(const layout *l, char k, size_t i)
{
    if (i < N_ADJ && k == 'F' && i > 0)
        return l->start[i] + MLEN / 2 + 1;
    if (i < N_ADJ && k == 'L' && i + 1 < N_ADJ)
        return l->end[i] - MLEN / 2 - 1 - MLEN;
    return k == 'F' ? l->start[i] : l->end[i] - MLEN;
}

static void regions_case(bool share)
{
    need_root();
    char token[17];
    random_token(token);
    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        close(up[0]);
        close(down[1]);
        child_main(up[1], down[0], token, share);
    }
    close(up[1]);
    close(down[0]);
    uint64_t msg[2];
    cr_assert_eq(read(up[0], msg, sizeof msg), (ssize_t)sizeof msg, "child did not start");
    close(up[0]);
    layout l;
    make_layout(msg[0], &l);
    pid_t pids[2] = {child, (pid_t)msg[1]};
    size_t npids = share ? 2 : 1;

    mg_patterns *p = patterns_new();
    unsigned id_f[N_REG], id_l[N_REG];
    char text[MLEN + 1];
    for (size_t i = 0; i < N_REG; i++) {
        marker_text(text, token, 'F', i);
        id_f[i] = add_pattern(p, MG_PATTERN_LITERAL, text, MLEN, 0);
        marker_text(text, token, 'L', i);
        id_l[i] = add_pattern(p, MG_PATTERN_LITERAL, text, MLEN, 0);
    }
    for (size_t i = 0; i + 1 < N_ADJ; i++) {
        marker_text(text, token, 'S', i);
        add_pattern(p, MG_PATTERN_LITERAL, text, MLEN, 0); /* straddles two mappings: no match */
    }
    compile_patterns(p);

    want w[2 * 2 * N_REG];
    size_t nw = 0;
    for (size_t k = 0; k < npids; k++)
        for (size_t i = 0; i < N_REG; i++) {
            w[nw++] = (want){.pid = pids[k],
                             .addr = marker_addr(&l, 'F', i),
                             .len = MLEN,
                             .pattern_id = id_f[i]};
            w[nw++] = (want){.pid = pids[k],
                             .addr = marker_addr(&l, 'L', i),
                             .len = MLEN,
                             .pattern_id = id_l[i]};
        }

    mg_settings s;
    settings_for(&s, pids, npids);
    s.threads = 2;
    collector c = {0};
    mg_sink sink = collector_sink(&c);
    mg_stats st;
    mg_error err = {{0}};
    int rc = mg_scan(p, &s, &sink, &st, &err);
    close(down[1]);
    waitpid(child, NULL, 0);
    cr_assert_eq(rc, 0, "mg_scan: %d %s", rc, err.message);
    cr_assert_eq(st.processes_failed, 0u);
    assert_exact_hits(&c, w, nw, share ? "small regions, shared after fork" : "small regions");
    /* each hit carries the region that holds it */
    for (size_t j = 0; j < c.n; j++) {
        const hit *h = &c.hits[j];
        size_t i = 0;
        while (i < N_REG && !(l.start[i] <= h->addr && h->addr < l.end[i]))
            i++;
        cr_assert_lt(i, (size_t)N_REG, "hit at 0x%" PRIx64 " outside the layout", h->addr);
        cr_assert(h->region_start == l.start[i] && h->region_end == l.end[i],
                  "hit at 0x%" PRIx64 " (pid %d): region [0x%" PRIx64 ", 0x%" PRIx64
                  "), want [0x%" PRIx64 ", 0x%" PRIx64 ")",
                  h->addr, h->pid, h->region_start, h->region_end, l.start[i], l.end[i]);
        cr_assert_str_eq(h->perms, i < N_ADJ && i % 2 ? "r--p" : "rw-p");
    }
    if (share && s.dedupe && st.bytes_deduped == 0)
        cr_log_warn("no bytes deduped (frame numbers hidden?)");
    collector_free(&c);
    mg_patterns_free(&p);
}

static void small_regions(void)
{
    regions_case(false);
}

static void small_regions_shared(void)
{
    regions_case(true);
}

RESIDENCY_TESTS(regions, exact_hits_and_regions, small_regions)
RESIDENCY_TESTS(regions, shared_after_fork, small_regions_shared)
