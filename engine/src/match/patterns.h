/* patterns.h - the compiled pattern set and the matcher (internal).
 *
 * Each user pattern becomes one or two Hyperscan expressions (the second is
 * its UTF-16LE form with MG_PATTERN_WIDE); Hyperscan's expression id is the
 * index into mg_patterns.exprs. */
#ifndef MG_PATTERNS_H
#define MG_PATTERNS_H

#include <hs/hs.h>
#include <pthread.h>
#include <stdatomic.h>
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
    bool dormant; /* its YARA rules can never be true: not in the database (p->yara_plan) */
    bool extra; /* its YARA rules can be true only where some address is readable (page 0):
                   in the extra database, scanned where a scan needs it (p->yara_plan) */
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
    bool regex; /* a regex (not built from escaped bytes) */
    bool checked; /* Hyperscan has parsed it (else the factor parser vouched for it) */
    uint32_t lazy; /* 0: in the main database; else 1 + its index in mg_patterns.lazy */
    bool exact; /* Hyperscan refuses it: always lazy, confirmed by PCRE2 (patterns_exact.c) */
    char *fre; /* exact: the relaxed form (Hyperscan syntax) its factors come from */
    bool prefilter; /* exact without factors: in the main database with HS_FLAG_PREFILTER,
                       each end it reports confirmed (it still has a lazy entry) */
} mg_expr;

/* A literal factor in the main database (Hyperscan id n_exprs + its index):
 * a hit of it is confirmed by running each of its expressions (lazily
 * compiled alone) over a window around the hit (matcher.c). */
typedef struct mg_factor_ent {
    char *re; /* the literal as \xHH escapes */
    unsigned hs_flags; /* 0 or HS_FLAG_CASELESS */
    unsigned len; /* bytes */
    uint32_t first, count; /* its expressions: factor_exprs[first .. first + count) */
    bool extra; /* of extra patterns (mg_pat.extra): in the extra database */
} mg_factor_ent;

/* A lazily found expression: its own database, compiled on first use. */
typedef struct mg_lazy_ent {
    uint32_t expr;
    void *exact; /* an exact expression's pcre2_code (compiled with the plan) */
    _Atomic(hs_database_t *) db;
    atomic_int failed;
} mg_lazy_ent;

/* A YARA string's variable-width expression: Hyperscan reports each end
 * once, with its leftmost start, and YARA reports every start. Its PCRE2
 * form, compiled on the first hit, tries the positions inside each match
 * for the starts Hyperscan hid (matcher.c). */
typedef struct mg_starts_ent {
    _Atomic(void *) code;
    atomic_int failed;
} mg_starts_ent;

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
    /* In vault memory (db_in_vault: not hs_free_database'd), as is every
     * pattern's text: vault.h. */
    hs_database_t *db;
    bool db_in_vault;
    /* the extra patterns' database (mg_pat.extra), or NULL: none; in the
     * vault as db is */
    hs_database_t *xdb;
    struct mg_vault *vault;
    /* the plan (patterns_lazy.c, mg_patterns_plan): lazy expressions and factors */
    int lazy_mode; /* MG_LAZY_* */
    bool planned;
    mg_lazy_ent *lazy;
    size_t n_lazy;
    mg_factor_ent *factors;
    size_t n_factors;
    uint32_t *factor_exprs;
    mg_starts_ent *starts; /* per expression, or NULL: no expression needs it */
    pthread_mutex_t lazy_lock; /* compiling a lazy expression */
    /* Whether the set matches in zero bytes alone (sweep/engine.c), cached
     * for the last overlap and unbounded width asked about: ((margin << 17
     * | unbounded_width) << 1 | matches) + 1, 0 unknown. Written by
     * concurrent scans of the set: atomic. */
    _Atomic uint64_t zeros_cache;
    /* A random number drawn each time a database is put in place (0: none
     * drawn): an engine keeping results across scans (sweep/keep.h) knows
     * by it that the set is the one its records came from, where the
     * set's address could be a new set's. */
    uint64_t keep_id;
    /* YARA rules whose strings are patterns here, or NULL; and how to free
     * them, set by the YARA parser with them (the set knows nothing of YARA) */
    struct mg_yara *yara;
    void (*yara_free)(struct mg_yara *y);
    void (*yara_plan)(struct mg_patterns *p); /* sets mg_pat.dormant and extra, before planning */
};

/* Put a database (*slot: p->db or p->xdb, from hs_compile) into the vault:
 * serialised, deserialised there, every transient copy wiped. 0 or a
 * negative code (err filled; *slot NULL then). */
int mg_patterns_db_to_vault(mg_patterns *p, hs_database_t **slot, mg_error *err);
/* *slot (p->db or p->xdb) deserialised from bytes into the vault; 0 or a
 * negative code. */
int mg_patterns_db_from_bytes(mg_patterns *p, hs_database_t **slot, const char *bytes, size_t len);
/* "hex", "regex" or "literal", for messages (static). */
const char *mg_pattern_kind_name(mg_pattern_kind k);

/* Decide which expressions are found lazily and build their factors
 * (idempotent; the compile and the database cache call it). Returns 0 or
 * -ENOMEM. */
int mg_patterns_plan(mg_patterns *p);
/* Forget the plan (the set changed). */
void mg_patterns_plan_free(mg_patterns *p);
/* The main database's expressions, flags and ids (extra: the extra
 * database's) (arrays malloc'd; free them); returns their number or
 * -ENOMEM. After mg_patterns_plan. */
int mg_patterns_main_exprs(const mg_patterns *p, bool extra, const char ***res, unsigned **flags,
                           unsigned **ids);
/* The database of lazy expression li (compiled on first call, thread safe);
 * NULL if it cannot be compiled. */
hs_database_t *mg_patterns_lazy_db(const mg_patterns *p, size_t li);
/* Expression ei is a YARA string whose matches Hyperscan reports with a
 * start (several starts may share an end). */
bool mg_patterns_all_starts(const mg_patterns *p, const mg_expr *e);
/* The PCRE2 code that finds expression ei's other starts (compiled on
 * first call, thread safe); NULL if PCRE2 cannot compile it. */
void *mg_patterns_starts_code(const mg_patterns *p, size_t ei);

/* Regexes Hyperscan refuses, confirmed with PCRE2: add one as an
 * expression of pattern id (the last added): re exact, relaxed a superset
 * Hyperscan's syntax takes, for its factors. */
int mg_patterns_add_exact_expr(mg_patterns *p, unsigned id, const char *re, const char *relaxed,
                               unsigned hs_flags, bool wide, uint8_t check, mg_error *err);
/* patterns_exact.c: the expression of that (its strings owned by *out);
 * MG_EPATTERN if PCRE2 refuses re or it has nothing to be found by. */
int mg_exact_expr(const mg_pat *pat, unsigned id, const char *re, const char *relaxed,
                  unsigned hs_flags, bool wide, uint8_t check, mg_expr *out, mg_error *err);
/* Append expression e (its strings owned by the set from now on) to the
 * last pattern added. */
int mg_patterns_push_expr(mg_patterns *p, const mg_expr *e, mg_error *err);
/* re (a YARA string's regex) is one Hyperscan refuses with SOM_LEFTMOST
 * ("Pattern is too large"), or a bounded one with factors whose variable
 * repeats span 60 bytes or more (Hyperscan takes seconds to refuse those,
 * patterns_exact.c): confirm it with PCRE2. */
bool mg_exact_needed(const char *re, unsigned hs_flags);
void *mg_exact_compile(const char *re, unsigned hs_flags, char *msg, size_t cap);
void mg_exact_free(void *code);
void mg_exact_match_data_free(void *md);
/* The end of the match of code anchored at start in buf[0, len), or -1
 * (none), -2 (error). *md: match data, created on first use. */
long mg_exact_match(void *code, void **md, const uint8_t *buf, size_t len, size_t start);

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
    bool no_extra; /* the extra database (mg_pat.extra) is not scanned: nothing it finds is
                      needed here */
} mg_piece;

/* Called once per (pattern, start) in address order (folded); returns
 * MG_SINK_*. */
typedef int (*mg_report_fn)(void *ctx, const mg_hit *hit, const mg_piece *piece);

/* Per-worker matcher state: scratch and the hit buffer. */
typedef struct mg_matcher {
    const mg_patterns *pats;
    hs_scratch_t *scratch;
    /* lazy expressions: a scratch for their databases, whether it fits
     * each one, and per expression the window last scanned in this scan
     * (valid when lz_gen equals gen) */
    hs_scratch_t *lscratch;
    uint8_t *lz_ready;
    uint32_t *lz_gen;
    uint64_t *lz_ws, *lz_we;
    /* per expression with mg_patterns_all_starts: the next position not yet
     * tried for a hidden start in this scan (valid when st_gen equals gen) */
    uint32_t *st_gen;
    uint64_t *st_next;
    uint32_t gen;
    void *pmd; /* PCRE2 match data for exact expressions */
    int error; /* MG_EHYPERSCAN or -ENOMEM from a lazy expression */
    /* the lazy expression being confirmed: its window's start in the piece
     * and the ends accepted from it [cur_lo, cur_hi] */
    const mg_expr *cur_e;
    uint64_t cur_base, cur_lo, cur_hi, cur_latest;
    mg_hit *hits;
    size_t n, cap;
    mg_hit *tmp; /* sort_hits' buffer, tmp_cap hits */
    size_t tmp_cap;
    uint64_t overlap; /* max width used for overlap and final-hit cut-off */
    bool no_flush; /* hits are not reported before the scan's end (a second database follows) */
    /* current scan */
    const mg_piece *piece;
    mg_report_fn report;
    void *report_ctx;
    int verdict; /* strongest MG_SINK_* seen during this scan */
    uint64_t callbacks; /* of the main database in this scan */
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
