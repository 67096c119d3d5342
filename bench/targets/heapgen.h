/*
 * heapgen.h - deterministic heap-like test data and IOC-like patterns for
 * memgrep's benchmarks (bench_matcher, bigproc, ceiling's pattern lists).
 *
 * Header-only so that C (bigproc) and C++ (bench_matcher) share one
 * generator: the same seed gives the same bytes everywhere.
 *
 * Heap content is made of malloc-like chunks: an 8-byte size header, then a
 * payload of ASCII text (log lines, headers, JSON-ish words, ~40%), pointer-
 * like 8-byte values and small integers (~35%) or zeros (~25%). Each
 * HG_BLOCK of output depends only on (seed, block index), so the fill can be
 * split among threads and still give the same bytes.
 *
 * IOC-like patterns (hg_ioc) are random-looking domains, URLs, hashes,
 * paths, mutex names and user agents built from [a-z0-9] labels; the text
 * vocabulary below never produces them, so the only matches in generated
 * data are the ones planted on purpose (and, rarely, chance hits of short
 * hex/regex patterns in the pointer data).
 */
#ifndef MEMGREP_BENCH_HEAPGEN_H
#define MEMGREP_BENCH_HEAPGEN_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HG_BLOCK ((size_t)1 << 20) /* generation unit: 1 MiB */
#define HG_IOC_MAX 128 /* longest hg_ioc string, with its NUL */

typedef struct hg_rng {
    uint64_t s;
} hg_rng;

/* splitmix64: tiny, fast, good enough for synthetic data. */
static inline uint64_t hg_next(hg_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline hg_rng hg_seed(uint64_t seed, uint64_t stream)
{
    hg_rng r = {seed * 0x2545f4914f6cdd1dull ^ (stream + 0x632be59bd9b4e019ull)};
    hg_next(&r);
    return r;
}

static const char *const hg_words[] = {
    "GET",
    "POST",
    "/api/v1/",
    "users",
    "session",
    "token",
    "HTTP/1.1",
    "200",
    "OK",
    "Content-Type:",
    "text/html",
    "application/json",
    "charset=utf-8",
    "Accept:",
    "gzip",
    "deflate",
    "keep-alive",
    "Connection:",
    "{\"id\":",
    "\"name\":",
    "\"value\":",
    "true",
    "false",
    "null",
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "error",
    "warning",
    "info",
    "debug",
    "request",
    "response",
    "failed",
    "connected",
    "timeout",
    "retry",
    "cache",
    "hit",
    "miss",
    "/usr/lib/x86_64-linux-gnu/",
    "libc.so.6",
    "/etc/",
    "config",
    "LANG=C.UTF-8",
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "HOME=/root",
    "=",
    ":",
    ",",
    "2024-05-17T12:34:56Z",
    "INFO",
    "main",
    "worker",
    "thread",
    "pool",
    "queue",
    "done",
};

#define HG_NWORDS (sizeof hg_words / sizeof hg_words[0])

/* Fill one block (at most HG_BLOCK bytes) of heap-like content. */
static inline void hg_fill_block(uint8_t *out, size_t len, uint64_t seed, uint64_t block)
{
    hg_rng r = hg_seed(seed, block);
    size_t pos = 0;
    /* Fake "heap" and "library" bases for pointer-like values. */
    uint64_t heap_base = 0x0000555555554000ull + ((seed & 0xffff) << 12);
    uint64_t lib_base = 0x00007f0000000000ull + ((seed & 0xffffff) << 16);

    while (pos < len) {
        uint64_t x = hg_next(&r);
        size_t chunk = 16 + (size_t)((x & 0x1f) << 4); /* 16..512, 16-aligned */
        if (chunk > len - pos)
            chunk = len - pos;
        uint8_t *p = out + pos;
        size_t n = chunk;
        if (n >= 8) { /* malloc chunk header: size | PREV_INUSE */
            uint64_t hdr = (uint64_t)chunk | 1;
            memcpy(p, &hdr, 8);
            p += 8;
            n -= 8;
        }
        unsigned kind = (unsigned)((x >> 8) % 100);
        if (kind < 40) { /* text */
            size_t i = 0;
            while (i < n) {
                uint64_t y = hg_next(&r);
                const char *w = hg_words[y % HG_NWORDS];
                size_t wl = strlen(w);
                if (wl > n - i)
                    wl = n - i;
                memcpy(p + i, w, wl);
                i += wl;
                if (i < n)
                    p[i++] = ((y >> 32) & 7) == 0 ? '\n' : ' ';
                if (i < n && ((y >> 40) & 15) == 0) { /* a number now and then */
                    unsigned v = (unsigned)((y >> 44) % 100000);
                    char num[8];
                    int k = 0;
                    do {
                        num[k++] = (char)('0' + v % 10);
                        v /= 10;
                    } while (v && k < 7);
                    while (k && i < n)
                        p[i++] = (uint8_t)num[--k];
                }
            }
            if (n)
                p[n - 1] = 0; /* C strings end in NUL */
        } else if (kind < 75) { /* pointers and small integers */
            size_t i = 0;
            for (; i + 8 <= n; i += 8) {
                uint64_t y = hg_next(&r);
                uint64_t v;
                switch (y & 3) {
                case 0:
                    v = heap_base + ((y >> 8) & 0xffffff0);
                    break;
                case 1:
                    v = lib_base + ((y >> 8) & 0x3fffff8);
                    break;
                case 2:
                    v = (y >> 16) % 1024;
                    break;
                default:
                    v = 0;
                    break;
                }
                memcpy(p + i, &v, 8);
            }
            memset(p + i, 0, n - i);
        } else { /* zeros */
            memset(p, 0, n);
        }
        pos += chunk;
    }
}

/* Fill len bytes; block b of the output is hg_fill_block(..., first_block + b). */
static inline void hg_fill(uint8_t *out, size_t len, uint64_t seed, uint64_t first_block)
{
    for (size_t off = 0, b = first_block; off < len; off += HG_BLOCK, b++)
        hg_fill_block(out + off, len - off < HG_BLOCK ? len - off : HG_BLOCK, seed, b);
}

static inline void hg_label(hg_rng *r, char *out, size_t n)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++)
        out[i] = alnum[hg_next(r) % 36];
    out[n] = 0;
}

static inline void hg_hex(hg_rng *r, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++)
        out[i] = hex[hg_next(r) & 15];
    out[n] = 0;
}

/* Write the i-th IOC-like string (deterministic, distinct for distinct i in
 * practice) to out (HG_IOC_MAX bytes); returns its length. Printable ASCII,
 * never starts with '#', "re:" or "hex:", never holds '"'. May hold '\'. */
static inline size_t hg_ioc(uint64_t i, char *out)
{
    static const char *const tlds[] = {"top", "xyz", "ru", "cc", "biz", "info", "net", "io"};
    static const char *const exts[] = {"exe", "dll", "bin", "dat", "ps1", "scr"};
    hg_rng r = hg_seed(0x10c10c10cull, i);
    char a[40], b[40], c[72];
    int n = 0;
    switch (i % 8) {
    case 0: /* domain */
        hg_label(&r, a, 8 + hg_next(&r) % 6);
        hg_label(&r, b, 5);
        n = snprintf(out, HG_IOC_MAX, "%s.cdn-%s.%s", a, b, tlds[hg_next(&r) % 8]);
        break;
    case 1: /* URL with IP and port */
        hg_label(&r, a, 8);
        hg_label(&r, b, 6);
        n = snprintf(out, HG_IOC_MAX, "http://%u.%u.%u.%u:%u/%s/%s.php",
                     (unsigned)(hg_next(&r) % 223 + 1), (unsigned)(hg_next(&r) % 256),
                     (unsigned)(hg_next(&r) % 256), (unsigned)(hg_next(&r) % 254 + 1),
                     (unsigned)(hg_next(&r) % 60000 + 1024), a, b);
        break;
    case 2: /* SHA-256 */
        hg_hex(&r, c, 64);
        n = snprintf(out, HG_IOC_MAX, "%s", c);
        break;
    case 3: /* MD5 */
        hg_hex(&r, c, 32);
        n = snprintf(out, HG_IOC_MAX, "%s", c);
        break;
    case 4: /* Windows path */
        hg_label(&r, a, 8);
        n = snprintf(out, HG_IOC_MAX, "C:\\Users\\Public\\%s.%s", a, exts[hg_next(&r) % 6]);
        break;
    case 5: /* mutex / named pipe */
        hg_label(&r, a, 7);
        hg_hex(&r, b, 8);
        n = snprintf(out, HG_IOC_MAX, "Global\\%s-%s", a, b);
        break;
    case 6: /* user agent */
        hg_label(&r, a, 6);
        n = snprintf(out, HG_IOC_MAX, "Mozilla/5.0 (compatible; %s/%u.%u)", a,
                     (unsigned)(hg_next(&r) % 10), (unsigned)(hg_next(&r) % 100));
        break;
    default: /* hidden Linux path */
        hg_label(&r, a, 8);
        hg_label(&r, b, 6);
        n = snprintf(out, HG_IOC_MAX, "/tmp/.%s/%s.so", a, b);
        break;
    }
    return n < 0 ? 0 : (size_t)n;
}

/* For the target programs (bigproc, synthhost), which must hold no copies of
 * the IOCs beyond the ones they plant, or a scanner would find extra copies
 * and a missed planted one would go unnoticed. */

/* Print one line (cut at 511 bytes) to fd with write(2), from a stack buffer
 * wiped afterwards, so the text does not linger in stdio buffers. A line to a
 * pipe is shorter than PIPE_BUF, so it goes in one write and lines of
 * different processes never interleave. */
static inline void hg_say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void hg_say(int fd, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (int)w;
    }
    explicit_bzero(line, sizeof line);
}

/* Wipe 64 KiB of stack below the caller, where hg_ioc() and hg_say() left
 * copies of IOCs. */
static __attribute__((noinline, unused)) void hg_scrub_stack(void)
{
    char junk[64 * 1024];
    explicit_bzero(junk, sizeof junk);
    __asm__ volatile("" : : "r"(junk) : "memory");
}

#endif /* MEMGREP_BENCH_HEAPGEN_H */
