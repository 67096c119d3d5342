/* patterns.h - the compiled pattern set and the matcher (internal).
 *
 * Each user pattern becomes one or two Hyperscan expressions (the second is
 * its UTF-16LE form with MG_PATTERN_WIDE); Hyperscan's expression id is the
 * index into mg_patterns.exprs. */
#ifndef MG_PATTERNS_H
#define MG_PATTERNS_H

#include <hs/hs.h>
#include <stdbool.h>

#include "memgrep/memgrep.h"

typedef struct mg_pat {
    mg_pattern_kind kind;
    unsigned flags;
    char *text;
    size_t len;
    char *source;
    unsigned min_width, max_width;
    uint32_t owner; /* 0: a plain pattern; else 1 + the YARA string it is (yara.h) */
} mg_pat;

typedef struct mg_expr {
    char *re; /* Hyperscan expression */
    unsigned hs_flags;
    unsigned pattern_id;
    bool wide;
    bool som; /* variable width: Hyperscan reports the start (SOM_LEFTMOST) */
    unsigned width; /* fixed width (som == false) */
    unsigned max_width; /* UINT32_MAX if unbounded */
    uint8_t check; /* MG_CHECK_*: verified on the bytes around each candidate */
} mg_expr;

/* Checks on the bytes around a candidate match (YARA's fullword: no
 * alphanumeric byte, or wide character, right before or after). */
enum {
    MG_CHECK_NONE = 0,
    MG_CHECK_FULLWORD = 1,
    MG_CHECK_FULLWORD_WIDE = 2,
};

struct mg_patterns {
    mg_pat *pats;
    size_t n, cap;
    mg_expr *exprs;
    size_t n_exprs, cap_exprs;
    hs_database_t *db;
    struct mg_yara *yara; /* YARA rules whose strings are patterns here, or NULL */
};

/* A hit inside one piece, before folding (one record per (pattern, start)).
 * Addresses are absolute. */
typedef struct mg_hit {
    uint64_t start, end;
    uint32_t pattern_id;
    bool wide;
} mg_hit;

/* Contiguous bytes of a target read into memory: buf holds [addr, addr+len).
 * Only matches that start in [own_start, own_end) belong to this piece;
 * the bytes around them are overlap shared with the neighbouring chunks. */
typedef struct mg_piece {
    const uint8_t *buf;
    uint64_t addr;
    size_t len;
    uint64_t own_start, own_end;
} mg_piece;

/* Called once per (pattern, start) in address order (folded); returns
 * MG_SINK_*. */
typedef int (*mg_report_fn)(void *ctx, const mg_hit *hit, const mg_piece *piece);

/* Per-worker matcher state: scratch and the hit buffer. */
typedef struct mg_matcher {
    const mg_patterns *pats;
    hs_scratch_t *scratch;
    mg_hit *hits;
    size_t n, cap;
    uint64_t overlap; /* max width used for overlap and final-hit cut-off */
    /* current scan */
    const mg_piece *piece;
    mg_report_fn report;
    void *report_ctx;
    int verdict; /* strongest MG_SINK_* seen during this scan */
} mg_matcher;

/* Returns 0, or a negative code with m left zeroed (nothing to free; fini
 * is harmless). fini frees and zeroes m. */
int mg_matcher_init(mg_matcher *m, const mg_patterns *p, unsigned unbounded_width);
void mg_matcher_fini(mg_matcher *m);

/* Scan one piece; reports the matches it owns (start in [own_start,
 * own_end)) once each. Returns MG_SINK_* (the strongest verdict of report)
 * or a negative code (MG_EHYPERSCAN, -ENOMEM): then the piece's remaining
 * matches are not reported. */
int mg_matcher_scan(mg_matcher *m, const mg_piece *piece, mg_report_fn report, void *ctx);

#endif
