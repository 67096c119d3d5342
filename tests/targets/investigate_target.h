/* investigate_target.h - the target of test_investigate's dump and strings
 * cases: one region with planted runs (across a strings chunk boundary,
 * ending at a page that is not present, wide, pseudo-random bytes). It
 * runs as tests/investigate_target, a program built without sanitizers in
 * every configuration (a fork of a sanitizer-built test would carry the
 * sanitizer's shadow, 14 TiB under ASan, into every all-regions dump). */
#ifndef MEMGREP_TESTS_INVESTIGATE_TARGET_H
#define MEMGREP_TESTS_INVESTIGATE_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"

#define T_SIZE (3u << 20)
#define T_RANDOM_PAGES 24u
#define T_PAGE 4096u

typedef struct target {
    pid_t pid;
    uint64_t start, end; /* the region: PROT_NONE guards on both sides */
    uint64_t across, at_hole, wide; /* where the planted runs start */
    size_t across_len, at_hole_len;
} target;

static inline void fill_target(uint8_t *m, target *t)
{
    /* pseudo-random bytes, rich in runs: printable, tab, 0x7f, 0x80+, NUL */
    uint32_t x = 12345;
    for (size_t i = 0; i < T_RANDOM_PAGES * T_PAGE; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t r = x >> 16;
        m[i] = r % 7 == 0 ? (uint8_t)(r >> 3) : r % 11 == 0 ? '\t' : (uint8_t)(0x20 + r % 95);
    }
    /* straddling start + MG_STRINGS_CHUNK: 100 characters */
    t->across = t->start + MG_STRINGS_CHUNK - 37;
    t->across_len = 100;
    uint8_t *a = m + MG_STRINGS_CHUNK - 37;
    a[-1] = 0;
    for (size_t i = 0; i < t->across_len; i++)
        a[i] = (uint8_t)('a' + i % 26);
    a[t->across_len] = 0;
    /* ending at the last byte of a page whose next page is never touched */
    uint64_t page = 2u << 20;
    t->at_hole_len = strlen("ends-at-a-page-not-present-X");
    t->at_hole = t->start + page - t->at_hole_len;
    memcpy(m + page - t->at_hole_len - 1, "\0ends-at-a-page-not-present-X", t->at_hole_len + 1);
    /* UTF-16LE at an odd address */
    t->wide = t->start + (2u << 20) + 3 * T_PAGE + 1;
    const char *w = "wide-run-in-utf16";
    uint8_t *d = m + (2u << 20) + 3 * T_PAGE + 1;
    for (size_t i = 0; w[i]; i++) {
        d[2 * i] = (uint8_t)w[i];
        d[2 * i + 1] = 0;
    }
}

#endif
