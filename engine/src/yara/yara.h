/* yara.h - YARA rules: the parsed rule set, its strings as patterns of the
 * set's one Hyperscan database, and the evaluator (internal).
 *
 *   yara_parse.c  rules, meta, includes, the public API; with
 *                 yara_lex.c (lexer), yara_cond.c (conditions) and
 *                 yara_strings.c (strings), sharing yara_internal.h.
 *                 Each string becomes one pattern of the mg_patterns set,
 *                 owned by the rule set (owner = global string index + 1),
 *                 with its expressions (nocase, wide, xor keys, base64
 *                 forms...) and fullword checks
 *   yara_eval.c   YARA's condition semantics (undefined values), integer
 *                 reads at virtual addresses; with yara_memfn.c (math.*,
 *                 hash.* over memory), yara_hash.c (digests) and
 *                 yara_report.c (the results handed to mg_sink.rule),
 *                 sharing yara_eval.h; the match lists in yara_hits.c
 *
 * Undefined, as yara 4.2.3 evaluates it against a live process (measured):
 * arithmetic, comparisons and `not` of an undefined operand are undefined;
 * `and`, `or` and quantifiers (N of, for ... of) take an undefined operand
 * as false and are themselves defined; a rule whose condition is undefined
 * does not match. */
#ifndef MG_YARA_H
#define MG_YARA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <nettle/md5.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>

#include "memgrep/memgrep.h"

/* include depth (a cycle is an error before that) */
#define MG_YARA_MAX_INCLUDE_DEPTH 16

typedef enum yx_op {
    YX_INT,
    YX_BOOL,
    YX_UNDEF, /* filesize, entrypoint-like: always undefined in a process */
    YX_FOUND, /* $a (i: string, -1: the for-of string) */
    YX_COUNT, /* #a */
    YX_OFFSET, /* @a[a] */
    YX_LENGTH, /* !a[a] */
    YX_AT, /* $a at a */
    YX_IN, /* $a in (a..b) */
    YX_RULE, /* i: rule index */
    YX_READ, /* uintN/intN(a): i = bytes | 0x100 signed | 0x200 big-endian */
    YX_VAR, /* i: loop variable slot */
    YX_NOT,
    YX_DEFINED,
    YX_AND,
    YX_OR,
    YX_EQ,
    YX_NE,
    YX_LT,
    YX_LE,
    YX_GT,
    YX_GE,
    YX_ADD,
    YX_SUB,
    YX_MUL,
    YX_DIV,
    YX_MOD,
    YX_BAND,
    YX_BOR,
    YX_BXOR,
    YX_SHL,
    YX_SHR,
    YX_NEG,
    YX_BNOT,
    YX_OF, /* quantifier a (see yx_quant) of set; b: body (for..of) or NULL;
              c: range (a..b as YX_IN-like pair) for `N of (...) in (x..y)` unused */
    YX_FOR_IN, /* for quantifier a, variable i, in range [c->a, c->b] : body b */
    YX_FLOAT, /* f */
    YX_STR, /* s, slen: a text constant (parse time only: string operators fold) */
    YX_MODULE, /* a module value that is undefined in a Linux process; i: MG_YMOD_* */
    YX_CALL, /* a module function over memory or numbers: i MG_YFN_*, args a, b, c */
    YX_COUNT_IN, /* #a in (a..b) */
    YX_STROP, /* a: a digest (YX_CALL hash.md5/sha1/sha256), i: text operator
                 (mg_yara_text_op), s/slen: the text it is compared with */
} yx_op;

/* Modules whose values depend on an image yara parses from process memory
 * (a block that starts with one): yara_rule.modules. */
enum {
    MG_YMOD_PE = 1u << 0, /* pe, dotnet: a block starting with a non-DLL PE */
    MG_YMOD_ELF = 1u << 1, /* elf: a block starting with an ET_EXEC ELF header */
    MG_YMOD_OTHER = 1u << 2, /* macho, dex, magic, cuckoo: undefined */
};

/* Module functions evaluated by memgrep (yara_module.c). */
enum {
    MG_YFN_ENTROPY = 1, /* math.*(offset, size) over process memory */
    MG_YFN_MEAN,
    MG_YFN_DEVIATION, /* (offset, size, mean) */
    MG_YFN_SERIAL,
    MG_YFN_PI,
    MG_YFN_COUNT, /* (byte, offset, size) */
    MG_YFN_PERCENT, /* (byte, offset, size) */
    MG_YFN_MODE,
    MG_YFN_ABS,
    MG_YFN_MIN,
    MG_YFN_MAX,
    MG_YFN_TO_NUMBER,
    MG_YFN_IN_RANGE,
    MG_YFN_NOW, /* time.now() */
    MG_YFN_MD5, /* hash.*(offset, size) over process memory */
    MG_YFN_SHA1,
    MG_YFN_SHA256,
    MG_YFN_CRC32,
    MG_YFN_CHECKSUM32,
};

/* yara_hash.c: the hash module's digests, fed block after block (md5,
 * sha1, sha256: Debian's libnettle). */
#define MG_YHASH_HEX 65 /* sha256: 64 hex digits and a NUL */
typedef struct mg_yhash {
    int fn; /* MG_YFN_MD5 .. MG_YFN_CHECKSUM32 */
    union {
        struct md5_ctx md5;
        struct sha1_ctx sha1;
        struct sha256_ctx sha256;
        uint32_t sum; /* crc32 (inverted while running), checksum32 */
    } u;
} mg_yhash;
void mg_yhash_init(mg_yhash *s, int fn);
void mg_yhash_update(mg_yhash *s, const uint8_t *d, size_t n);
/* md5, sha1, sha256: the digest in lowercase hex (ends s). */
void mg_yhash_hex(mg_yhash *s, char out[MG_YHASH_HEX]);
/* crc32, checksum32 */
uint32_t mg_yhash_value(const mg_yhash *s);

/* yara_extern.c: a text operator (==, !=, <, contains, istartswith... not
 * matches) by name: its index, or -1; applied: 1 or 0. */
int mg_yara_text_op_index(const char *op);
bool mg_yara_text_op(int op, const char *a, size_t na, const char *b, size_t nb);

typedef enum yx_quant {
    YQ_EXPR = 0, /* N (a) */
    YQ_ALL,
    YQ_ANY,
    YQ_NONE,
    YQ_PERCENT, /* a % */
} yx_quant;

typedef struct yx {
    yx_op op;
    int64_t i;
    yx_quant quant;
    struct yx *a, *b, *c;
    uint32_t *set; /* YX_OF: global string indexes */
    size_t n_set;
    double f; /* YX_FLOAT */
    char *s; /* YX_STR */
    size_t slen;
} yx;

/* hash.md5/sha1/sha256 over memory: text, compared only with text (YX_STROP). */
static inline bool mg_yara_is_digest(const yx *e)
{
    return e->op == YX_CALL && e->i >= MG_YFN_MD5 && e->i <= MG_YFN_SHA256;
}

typedef struct yara_meta {
    char *key;
    int type; /* 0 string, 1 integer, 2 boolean */
    char *s;
    int64_t i;
} yara_meta;

/* One string of a rule. A string identical to one before it (the same
 * value and modifiers but private, in any rule) is found by that one's
 * pattern and shares its matches: list is the index of the first of them
 * (its own for the first), whose match list both use. */
typedef struct yara_string {
    char *id; /* "$a", "$" for anonymous */
    unsigned pattern_id;
    bool private_;
    uint32_t list;
    uint8_t *key; /* kind, modifiers and value: what makes two identical */
    size_t key_len;
    /* yara's fixed offset: a literal string (text, or hex or regex of plain
     * bytes) that the condition names only as `$a at N`, N the same
     * constant each time, matches at address N alone (yara 4.2.3 records no
     * other match of it: parser.c, scan.c STRING_FLAGS_FIXED_OFFSET) */
    bool literal, fixed;
    int64_t fixed_at;
    /* of a list's first string: every string using the list is fixed at
     * fixed_at, so matches elsewhere are not kept (yara_parse.c) */
    bool list_fixed;
    /* of a list's first string: its pattern is in the extra database
     * (mg_pat.extra, mg_yara_mark_dormant) */
    bool extra;
} yara_string;

typedef struct yara_rule {
    char *name, *ns;
    bool global, private_;
    bool no_negate; /* added with MG_RULES_NO_NEGATE */
    char **tags;
    size_t n_tags;
    yara_meta *meta;
    size_t n_meta;
    uint32_t first_string; /* global index of its first string */
    size_t n_strings;
    yx *cond;
    unsigned modules; /* MG_YMOD_*: module values it reads */
} yara_rule;

/* An external variable (-d NAME=VALUE), typed as yara's -d types it. */
typedef struct yara_external {
    char *name;
    int type; /* 0 string, 1 integer, 2 boolean, 3 float */
    char *s;
    int64_t i;
    double f;
} yara_external;

/* The rule set held by an mg_patterns (p->yara). */
typedef struct mg_yara {
    yara_rule *rules;
    size_t n_rules, cap_rules;
    yara_string *strings; /* global string index */
    size_t n_strings, cap_strings;
    char **skipped; /* one warning line per rule dropped as unsupported */
    size_t n_skipped;
    size_t n_loop_vars; /* deepest nesting of for-in variables */
    /* Rule names by hash (yara_parse.c yara_find_rule): rule index + 1, 0 empty;
     * index_cap a power of two; the first index_n rules are in it. */
    uint32_t *name_index;
    size_t index_cap, index_n;
    /* The first strings by key (yara_strings.c): string index + 1, 0
     * empty; entries past n_strings or of another key are passed over
     * (left by rules taken back). same_cap a power of two. */
    uint32_t *same_index;
    size_t same_cap, same_used;
    yara_external *externals;
    size_t n_externals;
    char *ns; /* the namespace of the rules added next (NULL: "default") */
    bool no_negate; /* some rules were added with MG_RULES_NO_NEGATE */
} mg_yara;

/* yara_module.c: math.* over n bytes (fn MG_YFN_*; arg: the mean of
 * deviation, the byte of count and percentage). */
double mg_yara_math(int fn, const uint8_t *d, size_t n, double arg);
void mg_yara_externals_free(mg_yara *y);

void mg_yara_free(mg_yara *y);

/* yara_parse.c: parse rule text (name for messages, dir for includes) and
 * add its rules to p (creating p->yara). All or nothing. Returns rules
 * added or a negative code with err filled. */
int mg_yara_add_text(mg_patterns *p, const char *text, size_t len, const char *name, unsigned flags,
                     mg_error *err);

/* ---- yara_eval.c ---- */

/* One string match kept for evaluation and output. */
typedef struct yara_hit {
    uint64_t addr;
    uint32_t len;
    uint32_t before, after;
    const mg_region *region;
    size_t data; /* offset of before + len + after bytes in the arena */
} yara_hit;

typedef struct yara_list {
    yara_hit *v;
    size_t n, cap;
    bool capped, sorted;
} yara_list;

/* A process's matches of rule strings. */
typedef struct mg_yara_proc {
    yara_list *lists; /* per global string */
    uint8_t *arena;
    size_t an, acap;
} mg_yara_proc;

/* Keep a match of a rule string (called under the target's yara_lock).
 * 0, or -ENOMEM when the match could not be kept: the process's rules
 * must then not be evaluated (a missing match can make `not $a` true). */
int mg_yara_collect(mg_yara_proc **pp, const mg_yara *y, uint32_t string, uint64_t addr, size_t len,
                    const mg_region *region, const uint8_t *data, size_t before, size_t after);
void mg_yara_proc_free(mg_yara_proc **pp);
/* mg_yara_proc_free and the match lists of its n_strings strings. */
void mg_yara_proc_free_all(mg_yara_proc **pp, size_t n_strings);

/* yara_need.c: per string, whether its match list (yara_string.list) must
 * be kept in a process whose memory blocks (what the evaluator's reads can
 * reach) are regions[0..n): 0 when every rule using it cannot be true
 * there whatever it matches (and for a string sharing another's list).
 * malloc'd (n_strings + 1 bytes), or NULL when out of memory (keep them
 * all); the last byte says whether a string in the extra database
 * (yara_string.extra) is needed: if not, that database need not be
 * scanned there. Not for yara -n (rules_negate), which shows the matches
 * of rules that do not match. */
uint8_t *mg_yara_needed(const mg_yara *y, const mg_region *regions, size_t n);

/* yara_need.c: mg_pat.dormant of p's patterns (p->yara_plan, run when the
 * set is planned): set for the strings whose every rule was added with
 * MG_RULES_NO_NEGATE and cannot be true in any memory (mg_yara_needed
 * with every address readable: a process's or a buffer's needs are a
 * subset). None if no string would be left. mg_pat.extra (and
 * yara_string.extra) for the others that no rule needs where no address
 * is readable (`uint16(0) == 0x5a4d and ...`: only where page 0 is),
 * unless none would be left in the main database. */
void mg_yara_mark_dormant(mg_patterns *p);

/* Integer reads at virtual addresses: 0 and n bytes in out, or -1
 * (undefined: nothing readable there). */
typedef int (*mg_yara_read_fn)(void *ctx, uint64_t addr, void *out, size_t n);

/* Whether evaluation must stop now (the sweep's deadline, cancel, the
 * process's timeout): polled every MG_YARA_STOP_POLL loop iterations. */
typedef bool (*mg_yara_stop_fn)(void *ctx);
#define MG_YARA_STOP_POLL 4096u

/* Evaluate every rule over the process's matches, hand each matching
 * (not private) rule to sink->rule under lock (may be NULL: no lock); with
 * negate, each rule that did not match instead (yara -n).
 * stop (may be NULL) is polled in loops: when it says stop, evaluation
 * ends, no rule is reported and -ECANCELED is returned. regions: the
 * process's, probed for an image yara would parse (a non-DLL PE, an
 * ET_EXEC ELF at a region's start): the rules reading that module's values
 * are then not evaluated, and one event names them. Returns the strongest
 * MG_SINK_* verdict or a negative code; *n_matched += rules reported. */
int mg_yara_evaluate(const mg_patterns *p, const mg_process *proc, mg_yara_proc *yp,
                     mg_yara_read_fn read, void *read_ctx, const mg_sink *sink, void *lock,
                     mg_yara_stop_fn stop, void *stop_ctx, uint64_t *n_matched,
                     const mg_region *regions, size_t n_regions, bool negate);

/* yara_module.c: which of the images in want (MG_YMOD_PE, MG_YMOD_ELF)
 * yara would parse in these regions; *where: the last one's address. */
unsigned mg_yara_images(mg_yara_read_fn read, void *ctx, const mg_region *regions, size_t n,
                        unsigned want, uint64_t *where);

#endif
