/*
 * memgrep.h - libmemgrep, search the memory of running Linux processes.
 *
 * Data path: process list -> regions from /proc/PID/maps -> present pages
 * from pagemap -> work units fanned out to a worker pool -> batched reads
 * (process_vm_readv, or io_uring/pread on /proc/PID/mem where pinning would
 * unshare a page in the target) -> one Hyperscan database -> mg_sink.
 *
 * Conventions (liburing/dav1d style):
 *  - return values: every function that can fail returns an int (ssize_t
 *    for byte counts) that is >= 0 on success (0, or the count/id the
 *    function names) and a negative errno or negative MG_E* code on
 *    failure; errno is not the interface. mg_strerror() names any code.
 *    Functions that cannot fail return a value (names, counts) or void;
 *  - arguments: a NULL where the function's comment does not say "may be
 *    NULL", or a flag bit the function does not know, is -EINVAL (never a
 *    crash, never silently ignored). Pointers are borrowed for the call
 *    unless a comment says otherwise;
 *  - handles are opaque; *_free() accepts NULL and sets the pointer to NULL;
 *  - when an mg_error is passed, a failure fills it with one line that names
 *    the offending input and where it came from (file:line);
 *  - structs the caller allocates and the library reads or fills
 *    (mg_settings, mg_sink, mg_targets, mg_stats) end in reserved space so
 *    that fields can be added without changing their size: a reserved
 *    field that is not zero in a struct the library reads is -EINVAL
 *    (initialise with mg_default_settings or `= {0}`); the library zeroes
 *    it in a struct it fills. mg_version_api() tells, at run time, which
 *    library a program was linked against;
 *  - the library never prints and holds no global state.
 */
#ifndef MEMGREP_MEMGREP_H
#define MEMGREP_MEMGREP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MG_BUILDING_LIBRARY)
#define MG_API __attribute__((visibility("default")))
#else
#define MG_API
#endif

/* MG_VERSION ("MAJOR.MINOR.PATCH"), generated from meson.build's project version */
#include "memgrep/version.h"

/* MG_VERSION_MAJOR << 16 | MG_VERSION_MINOR << 8 | MG_VERSION_PATCH: the
 * header's version, to compare with mg_version_api() (the library's). */
#define MG_API_VERSION ((MG_VERSION_MAJOR << 16) | (MG_VERSION_MINOR << 8) | MG_VERSION_PATCH)

/* The library's version at run time, as MG_VERSION ("0.9.0"). Static. */
MG_API const char *mg_version(void);
/* The library's version at run time, as MG_API_VERSION: a program built
 * against a header of the same major version works with it. */
MG_API unsigned mg_version_api(void);

/* ------------------------------------------------------------------ */
/* Limits: the one home of every bound the engine enforces. The CLI     */
/* validates options against these, so a value it accepts the engine    */
/* accepts.                                                             */
/* ------------------------------------------------------------------ */

/* Bytes of context each side of a match (mg_settings.context). */
#define MG_MAX_CONTEXT 4096u
/* Work unit size (mg_settings.chunk_size): a multiple of the page size,
 * at least one page, at most MG_MAX_CHUNK_SIZE. */
#define MG_DEFAULT_CHUNK_SIZE (1u << 20)
#define MG_MAX_CHUNK_SIZE (256u << 20)
/* Worker threads (mg_settings.threads): at most MG_MAX_THREADS; 0 (one per
 * online CPU) is capped at it too. */
#define MG_MAX_THREADS 1024u

/* Stopping (mg_settings.timeout, process_timeout, cancel): the engine
 * looks at its deadlines and the cancel hook between work units (every
 * chunk_size bytes of a target), before each match it delivers, and at
 * least every MG_STOP_POLL_MS while it waits (on the rate limit, or for
 * room in its queue), so a sweep stops within about that long plus one
 * unit's read and scan, whatever the targets' sizes. */
#define MG_STOP_POLL_MS 100u
/* Read pacing (mg_settings.max_rate): bytes read in the first t seconds of
 * a sweep stay below max_rate x (t + MG_RATE_BURST_MS / 1000), and in any
 * window of t seconds below max_rate x t plus one read (one unit). */
#define MG_RATE_BURST_MS 50u
/* CPU budget (mg_settings.cpu_budget): the CPU time of the wall time when
 * nothing was read that may be spent at once afterwards, in milliseconds
 * of wall time (at a budget of 0.05, 1000 ms: 50 ms of CPU). */
#define MG_CPU_BURST_MS 1000u
/* mg_settings.soft_dirty: a process's soft-dirty bits are cleared (and it
 * is read whole) at its first scan and every this many scans after. */
#define MG_SOFT_DIRTY_SCANS 8u
/* Largest mg_settings.cpu_budget, in CPUs. */
#define MG_MAX_CPU_BUDGET 1024.0
/* Longest duration (mg_settings.timeout, process_timeout), in seconds
 * (about 31.7 years): any accepted duration fits in int64 nanoseconds
 * (9.2e18) with room. */
#define MG_MAX_SECONDS 1e9
/* Characters of a container id (mg_container_of): 64 hex digits. */
#define MG_CONTAINER_ID_LEN 64u
/* Target memory mg_strings reads at a time (a run may straddle chunks). */
#define MG_STRINGS_CHUNK (1u << 20)

/* The system's page size in bytes (sysconf(_SC_PAGESIZE)): chunk sizes
 * are multiples of it. mg_scan fails with -ENOTSUP on a system whose page
 * size differs from the one the library was built for (4096). */
MG_API size_t mg_page_size(void);

/* Error codes beyond errno. Negative, below any errno. */
enum {
    MG_EPATTERN = -20001, /* a pattern failed to parse or compile */
    MG_EHYPERSCAN = -20002, /* Hyperscan failed (allocation, database) */
    MG_ENOPATTERNS = -20003, /* compile or scan with an empty pattern set */
    MG_ENOTCOMPILED = -20004, /* scan with a pattern set not compiled */
    MG_EBADPID = -20005, /* an explicit pid does not exist or is memgrep itself */
    MG_ESTATE = -20006, /* call not valid in this state (add after compile) */
};

/* Text for any code this library returns (negative errno or MG_E*). Static. */
MG_API const char *mg_strerror(int err);

/* One line describing a failure: what and where. */
typedef struct mg_error {
    char message[512];
} mg_error;

/* ------------------------------------------------------------------ */
/* Patterns                                                            */
/* ------------------------------------------------------------------ */

typedef enum mg_pattern_kind {
    MG_PATTERN_LITERAL = 0, /* bytes taken as they are */
    MG_PATTERN_HEX = 1, /* hex bytes, "??" is any byte, spaces optional */
    MG_PATTERN_REGEX = 2, /* Hyperscan (PCRE subset) regular expression */
} mg_pattern_kind;

enum {
    MG_PATTERN_CASELESS = 1u << 0, /* ASCII case-insensitive (literal, regex) */
    MG_PATTERN_WIDE = 1u << 1, /* also match the UTF-16LE form (literal, regex) */
    /* Whole words, as grep -w: a match counts only if the character right
     * before it and the one right after it are not ASCII letters, digits or
     * '_' (in a UTF-16LE match: not such a character followed by a zero
     * byte). The start and end of a region, and a page that is not
     * present, count as non-word. Checked on the match as reported (a
     * regex's match is not shortened to find a word). */
    MG_PATTERN_WORD = 1u << 2,
};

/* Largest max-width honoured exactly across chunk boundaries; a regex whose
 * matches can be longer (e.g. "a.*b") is treated as this wide by default:
 * see mg_settings.unbounded_width. */
#define MG_MAX_EXACT_WIDTH (64u * 1024u)

typedef struct mg_patterns mg_patterns;

typedef struct mg_pattern_info {
    mg_pattern_kind kind;
    unsigned flags; /* MG_PATTERN_* */
    const char *text; /* as given (len bytes, NUL-terminated too) */
    size_t len;
    const char *source; /* "file:line", "-e #2", ... never NULL */
    unsigned min_width, max_width; /* bytes; max_width UINT32_MAX if unbounded */
} mg_pattern_info;

MG_API int mg_patterns_new(mg_patterns **out);
MG_API void mg_patterns_free(mg_patterns **p);

/* Add one pattern; returns its id (0, 1, 2... in order of adding) or a
 * negative code with err filled. The pattern is checked at once (a bad regex
 * or hex string fails here, naming source). text is len bytes and may hold
 * NUL for literals. source names where it came from (copied; NULL: "pattern
 * #ID"). */
MG_API int mg_patterns_add(mg_patterns *p, mg_pattern_kind kind, const char *text, size_t len,
                           unsigned flags, const char *source, mg_error *err);

/* Add the patterns of a pattern list, one per line: a literal, or
 * "re:REGEX", or "hex:BYTES"; a line whose first character is '#' is a
 * comment; blank lines and a trailing CR are ignored. name is used in
 * messages as name:line. All or nothing: on failure no pattern is added.
 * Returns the number of patterns added or a negative code. */
MG_API int mg_patterns_add_list(mg_patterns *p, const char *text, size_t len, const char *name,
                                unsigned flags, mg_error *err);

/* Same as mg_patterns_add_list over the contents of a file. */
MG_API int mg_patterns_add_file(mg_patterns *p, const char *path, unsigned flags, mg_error *err);

/* Pattern memory. A pattern set keeps its patterns' text and its compiled
 * database in shared mappings of memfds named MG_PATTERN_MEMORY_NAME
 * ("/memfd:memgrep-patterns (deleted)" in /proc/PID/maps), and mg_scan
 * skips mappings of that name in a process running the same executable file as the caller (same
 * device and inode), so that one memgrep never reports another's patterns.
 * The name alone hides nothing: in any other process such a mapping is
 * scanned. mg_pattern_memory_alloc gives the caller such memory for
 * pattern text of its own (e.g. a decoded pattern list before
 * mg_patterns_add_list): n bytes, zeroed, page-granular; NULL if out of
 * memory. mg_pattern_memory_free wipes and unmaps it (p NULL: no-op; n as
 * allocated). */
#define MG_PATTERN_MEMORY_NAME "memgrep-patterns"
MG_API void *mg_pattern_memory_alloc(size_t n);
MG_API void mg_pattern_memory_free(void *p, size_t n);

/* Build the Hyperscan database. After this, no more patterns can be added. */
MG_API int mg_patterns_compile(mg_patterns *p, mg_error *err);

/* Like mg_patterns_compile, but looks for the compiled database in cache_dir
 * first and stores it there after compiling (the directory is created,
 * mode 0700, if missing). Entries are keyed by every expression and its
 * flags, the Hyperscan version and the CPU features, checked byte for byte
 * on load, and carry a checksum: a truncated or corrupted entry is a miss,
 * recompiled and rewritten. A cache problem never fails the call: it
 * compiles instead. cache_dir NULL or "" means no cache. *from_cache (may
 * be NULL) says whether the database came from the cache.
 * Trust: the directory and the entry are only used when, checked on the
 * opened descriptors, they are owned by the effective uid or root, are not
 * writable by group or others and are not symbolic links. Anything else is
 * refused and the patterns compiled (nothing is stored in a refused
 * directory): the call returns 0 and, when err is not NULL, leaves one
 * warning line in err->message naming the path and why ("ignoring database
 * cache /var/tmp/x: owned by uid 65534, not by root"). On success
 * err->message is "" when there is no warning; on failure it holds the
 * error, as for mg_patterns_compile. */
MG_API int mg_patterns_compile_cached(mg_patterns *p, const char *cache_dir, bool *from_cache,
                                      mg_error *err);

MG_API size_t mg_patterns_count(const mg_patterns *p);
/* Fills info for pattern id; pointers stay valid until mg_patterns_free. */
MG_API int mg_patterns_info(const mg_patterns *p, unsigned id, mg_pattern_info *info);
/* Bytes of overlap the scanner keeps between chunks for this set (the
 * largest bounded max_width, or unbounded_width if a regex is unbounded). */
MG_API unsigned mg_patterns_max_width(const mg_patterns *p, unsigned unbounded_width);

/* ------------------------------------------------------------------ */
/* YARA rules                                                          */
/* ------------------------------------------------------------------ */

/* YARA rules are patterns of the same set: each rule string becomes one
 * pattern (its nocase, wide, xor and base64 forms are expressions of it)
 * in the set's one Hyperscan database, next to -e/-f patterns. Matches of
 * rule strings are not given to mg_sink.match: at the end of each process
 * (after its last unit, its files still open) every rule is evaluated once
 * over the matches from all its regions, and each matching rule that is not
 * private goes to mg_sink.rule. Semantics are YARA 4.2's against a process
 * (`yara RULES PID`): filesize is undefined, integer reads (uint32(a)...)
 * take virtual addresses and are undefined where no present page can be
 * read, each region is its own block; README "YARA rules" lists what is
 * supported. */

enum {
    /* drop rules that use what is not supported (modules, external
     * variables...) instead of failing; see mg_patterns_rules_skipped */
    MG_RULES_SKIP_UNSUPPORTED = 1u << 0,
    /* the set is never scanned with mg_settings.rules_negate: the strings
     * of these rules whose every rule cannot be true in any memory (its
     * condition false or undefined whatever the strings match and whatever
     * is mapped: `filesize < 1MB and ...`, filesize being undefined) are
     * left out of the database. A scan with rules_negate (which shows
     * them) is then refused with -EINVAL. */
    MG_RULES_NO_NEGATE = 1u << 1,
};

/* Per-string match count kept per process (YARA 4.2's limit); past it a
 * string's further matches are dropped and its count says capped. */
#define MG_RULES_MAX_STRING_MATCHES 1000000u

/* Add the rules of a YARA rule file (include directives followed relative
 * to the including file) to p, before compiling. All or nothing: on
 * failure nothing is added and err holds "FILE:LINE: rule NAME: what" (a
 * construct memgrep does not evaluate: "... CONSTRUCT is not supported").
 * flags: MG_RULES_*. Returns the number of rules added or a negative code
 * (MG_EPATTERN for bad rules, -EINVAL for a NULL p or path). */
MG_API int mg_patterns_add_rules(mg_patterns *p, const char *path, unsigned flags, mg_error *err);
/* The same over rule text in memory; name is used in messages (and for
 * includes: relative to its directory). text may be NULL if len is 0. */
MG_API int mg_patterns_add_rules_text(mg_patterns *p, const char *text, size_t len,
                                      const char *name, unsigned flags, mg_error *err);
/* Define the external variable NAME for the rules added after (yara's
 * -d NAME=VALUE): "true" and "false" are booleans, an optional '-' and
 * digits an integer, with one '.' a float, anything else text. A rule
 * naming an external that is not defined is refused, as yara refuses it.
 * Returns 0 or a negative code (MG_EPATTERN: NAME is not an identifier). */
MG_API int mg_patterns_define(mg_patterns *p, const char *name, const char *value, mg_error *err);
/* Put the rules added after into namespace NS (yara's NS:FILE; until
 * then "default"): rule names are unique per namespace, a rule refers to
 * rules of its own namespace, a false global rule makes its namespace's
 * rules false. Returns 0 or a negative code (MG_EPATTERN: NS is empty or
 * holds ':'; MG_ESTATE once compiled). */
MG_API int mg_patterns_rules_namespace(mg_patterns *p, const char *ns, mg_error *err);
/* Rules held (those dropped with MG_RULES_SKIP_UNSUPPORTED not counted). */
MG_API size_t mg_patterns_rules_count(const mg_patterns *p);
/* The i-th rule dropped as unsupported: one line, "FILE:LINE: rule NAME:
 * CONSTRUCT is not supported" (valid until mg_patterns_free), or NULL past
 * the last. */
MG_API const char *mg_patterns_rules_skipped(const mg_patterns *p, size_t i);

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

typedef enum mg_region_kind {
    MG_REGION_ANON = 0, /* private anonymous, incl. [anon:NAME] and thread stacks */
    MG_REGION_HEAP, /* [heap] */
    MG_REGION_STACK, /* [stack] */
    MG_REGION_FILE, /* mapped file */
    MG_REGION_SHM, /* shared memory: memfd, /dev/shm, SysV, shared anon */
    MG_REGION_SPECIAL, /* [vdso], [vvar], [vsyscall], [uprobes]... */
    MG_REGION_DEVICE, /* /dev/ files but shm and zero, anon_inode:, dmabuf: never read */
} mg_region_kind;

MG_API const char *mg_region_kind_name(mg_region_kind kind);

/* One line of /proc/PID/maps. */
typedef struct mg_region {
    uint64_t start, end; /* [start, end) */
    uint64_t offset; /* file offset */
    uint64_t inode;
    uint32_t dev_major, dev_minor;
    char perms[5]; /* "rw-p" */
    bool deleted; /* path ended in " (deleted)" (stripped from path) */
    mg_region_kind kind;
    const char *path; /* "" for anonymous; "[heap]", "/usr/lib/..." */
} mg_region;

typedef struct mg_process {
    pid_t pid;
    const char *comm; /* from /proc/PID/comm, never NULL */
    const char *exe; /* readlink /proc/PID/exe, "" if unknown */
    const char *cgroup; /* its cgroup path (as mg_proc_info.cgroup), "" if unknown */
    const char *container; /* container id (mg_container_of), "" if none */
} mg_process;

typedef struct mg_match {
    const mg_process *process;
    const mg_region *region;
    uint64_t address; /* start of the match in the target */
    uint64_t length; /* bytes */
    unsigned pattern_id;
    bool wide; /* matched the UTF-16LE form */
    /* data[0 .. before) is context before the match, data[before ..
     * before+length) the match, then `after` bytes of context. Valid only
     * during the callback. */
    const uint8_t *data;
    size_t before, after;
} mg_match;

typedef enum mg_event_kind {
    MG_EVENT_GONE = 0, /* process exited (or pid reused) during the scan */
    MG_EVENT_PERMISSION, /* no access to its maps/pagemap/memory */
    MG_EVENT_CHANGED, /* a mapping changed under us: short read, EFAULT, EIO */
    MG_EVENT_OTHER,
    /* mg_settings.process_timeout ran out: the rest of the process is not
     * scanned (err -ETIMEDOUT) */
    MG_EVENT_TIMEOUT,
    /* the sweep stopped (timeout, cancel) before this process was opened:
     * nothing of it was scanned (err -ETIMEDOUT or -ECANCELED). Not a
     * failure: not in processes_failed. */
    MG_EVENT_UNREACHED,
    MG_EVENT_KINDS
} mg_event_kind;

MG_API const char *mg_event_kind_name(mg_event_kind kind);

typedef struct mg_event {
    mg_event_kind kind;
    const mg_process *process; /* comm may be "" if it could not be read */
    const mg_region *region; /* NULL unless the event is about one region */
    uint64_t address; /* where a read failed, 0 if not applicable */
    int err; /* negative errno */
    const char *what; /* short description: "open /proc/PID/mem", ... */
} mg_event;

/* A meta value of a rule. */
typedef struct mg_rule_meta {
    const char *key;
    enum {
        MG_META_STRING = 0,
        MG_META_INTEGER,
        MG_META_BOOLEAN
    } type;
    const char *string; /* MG_META_STRING */
    int64_t integer; /* MG_META_INTEGER; 0 or 1 for MG_META_BOOLEAN */
} mg_rule_meta;

/* One string of a matching rule that matched. */
typedef struct mg_rule_string {
    const char *id; /* "$a"; "$" for an anonymous string */
    uint64_t count; /* matches in the process (at most MG_RULES_MAX_STRING_MATCHES) */
    bool capped; /* more matches were dropped at the limit */
    bool hex; /* a hex string (yara -s prints its matches as hex bytes) */
} mg_rule_string;

/* One match of a string, at its virtual address; ordered by string, then
 * address. Private strings are left out. */
typedef struct mg_rule_hit {
    size_t string; /* index into mg_rule_match.strings */
    uint64_t address, length;
    const mg_region *region;
    const uint8_t *data; /* context before, the match, context after (as mg_match) */
    size_t before, after;
} mg_rule_hit;

/* A rule that matched a process. Everything is valid only during the
 * callback. */
typedef struct mg_rule_match {
    const mg_process *process;
    const char *rule, *ns; /* ns: its namespace ("default" unless mg_patterns_rules_namespace) */
    const char *const *tags;
    size_t n_tags;
    const mg_rule_meta *meta;
    size_t n_meta;
    const mg_rule_string *strings; /* the rule's strings that matched (not private) */
    size_t n_strings;
    const mg_rule_hit *hits;
    size_t n_hits;
    /* false: a rule that did not match, reported with
     * mg_settings.rules_negate (its strings that matched are still given) */
    bool matched;
} mg_rule_match;

/* Return values of mg_sink.match. */
enum {
    MG_SINK_CONTINUE = 0,
    MG_SINK_NEXT_PROCESS = 1, /* stop scanning this process (memgrep -l) */
    MG_SINK_STOP = 2, /* stop the whole scan (memgrep -q) */
};

/* Where a sweep is, for progress displays. */
typedef struct mg_progress {
    uint64_t processes_done, processes_total;
    uint64_t bytes_done; /* scanned plus de-duplicated */
    uint64_t bytes_total; /* estimate: the targets' resident set sizes at start */
    double elapsed_seconds;
} mg_progress;

struct mg_finding; /* see "Findings" */

/* Callbacks are serialised (one at a time, the engine holds a lock around
 * each), so a sink needs no locking of its own. They come from worker
 * threads or from the calling thread (events found while planning, and
 * every callback of mg_scan_buffer); all of them return before mg_scan or
 * mg_scan_buffer does. */
typedef struct mg_sink {
    void *ctx;
    int (*match)(void *ctx, const mg_match *m); /* may be NULL */
    void (*event)(void *ctx, const mg_event *e); /* may be NULL */
    /* about every progress_interval seconds during mg_scan; may be NULL */
    void (*progress)(void *ctx, const mg_progress *p);
    double progress_interval; /* 0: 0.2 s */
    /* a YARA rule matched a process (see "YARA rules"); may be NULL.
     * Returns MG_SINK_* (MG_SINK_STOP ends the sweep). */
    int (*rule)(void *ctx, const mg_rule_match *m);
    /* When set, the sweep also finds each target's findings (as
     * mg_findings_get, see "Findings"), from the maps and pagemap it reads
     * anyway: called once per target it scanned, after the target's
     * matches and rule matches, with its findings in mg_finding_kind order
     * (n may be 0; list and its strings live during the call only). Not
     * called for a target that failed or that the sweep stopped before the
     * end of (a findings failure is an event of the target). Returns
     * MG_SINK_* (MG_SINK_STOP ends the sweep). May be NULL. */
    int (*findings)(void *ctx, const mg_process *p, const struct mg_finding *list, size_t n);
    void *reserved[3]; /* NULL (room for more callbacks) */
} mg_sink;

/* ------------------------------------------------------------------ */
/* Scanning                                                            */
/* ------------------------------------------------------------------ */

typedef enum mg_mem_reader {
    MG_MEM_READER_AUTO = 0, /* the measured best: pread (see docs/design.md) */
    MG_MEM_READER_URING, /* io_uring, falling back to pread where unusable */
    MG_MEM_READER_PREAD,
} mg_mem_reader;

/* How present pages are found (tests force the fallbacks on new kernels). */
typedef enum mg_residency {
    MG_RESIDENCY_AUTO = 0, /* PAGEMAP_SCAN ioctl (Linux 6.7+), else pagemap entries */
    MG_RESIDENCY_PAGEMAP, /* pagemap entries only, as on kernels before 6.7 */
} mg_residency;

typedef struct mg_settings {
    /* targets; NULL/0: every process but memgrep. mg_scan only: an
     * engine takes its targets per scan (mg_targets) */
    const pid_t *pids;
    size_t n_pids;
    unsigned threads; /* workers, <= MG_MAX_THREADS; 0: one per online CPU */
    size_t chunk_size; /* bytes of target memory per work unit (page multiple) */
    size_t context; /* bytes of context each side of a match (<= 4096) */
    uint64_t max_count; /* matches per pattern per process; 0: no limit */
    bool include_noread; /* also scan present pages of anon mappings without r */
    mg_mem_reader mem_reader; /* for pages that process_vm_readv must not pin */
    unsigned unbounded_width; /* overlap for unbounded regexes (bytes) */
    /* Scan memory shared between processes once per sweep (pages after
     * fork, shared file pages): a unit whose physical pages were already
     * scanned replays the recorded matches at this process's addresses.
     * Needs CAP_SYS_ADMIN to see page frame numbers; off otherwise. */
    bool dedupe;
    mg_residency residency; /* MG_RESIDENCY_AUTO unless testing a fallback */

    /* Limits for running beside a busy system (0: none). A sweep cut
     * short says so in mg_stats (complete, stop_reason); see "Limits" for
     * how soon it stops (MG_STOP_POLL_MS). */
    /* Seconds for the whole sweep, from the call of mg_scan; when it runs
     * out, nothing more is read or reported and mg_scan returns 0 with
     * stop_reason MG_STOP_TIMEOUT. Finite, >= 0. */
    double timeout;
    /* Seconds per process, from the start of its first work unit; when it
     * runs out, the rest of that process is dropped and reported as one
     * MG_EVENT_TIMEOUT; the sweep goes on. Finite, >= 0. */
    double process_timeout;
    /* Bytes read from targets per second, all workers together (one
     * budget, taken per read call before it is made: see MG_RATE_BURST_MS).
     * Caps reads, not the CPU time spent matching; units replayed by
     * dedupe read nothing and cost nothing. */
    uint64_t max_rate;
    /* Cancellation: polled like the deadlines (from any of the engine's
     * threads, concurrently: it must be thread-safe and async-signal
     * friendly, e.g. read an atomic flag a signal handler sets). Non-zero
     * stops the sweep as a timeout does, with MG_STOP_CANCELLED. NULL:
     * none; cancel_ctx is passed as is. */
    int (*cancel)(void *ctx);
    void *cancel_ctx;

    /* Target selection (mg_cgroup_selected): only processes whose cgroup
     * path lies under cgroup_prefix and whose container id starts with
     * container_prefix; NULL or "": no condition. Others are left out
     * silently (neither scanned nor failed), the pids given included.
     * mg_scan only: an engine takes them per scan (mg_targets). */
    const char *cgroup_prefix;
    const char *container_prefix;

    /* Report each rule that did not match a process, not-private, instead
     * of those that did (yara -n): mg_rule_match.matched false. */
    bool rules_negate;
    /* CPU budget, in CPUs as systemd's CPUQuota= counts them (0.05: 5% of
     * one CPU; above 1: of more than one; 0: none): the CPU time of this
     * whole process (CLOCK_PROCESS_CPUTIME_ID: the workers, the planner,
     * the caller's own threads too) stays below cpu_budget x the wall
     * time since the engine was made, plus MG_CPU_BURST_MS of credit after
     * idle time, plus one read and its matching per worker. Each read
     * waits for it, as for max_rate: a large process is paced while it is
     * read, not only between processes. An engine keeps one account over
     * all its scans. Finite, 0 to MG_MAX_CPU_BUDGET. */
    double cpu_budget;
    /* Incremental reads, for an engine that scans again and again
     * (memgrep watch): the results of units lying wholly in page-cache
     * pages of a file on a block device are kept across the engine's
     * scans, and a later scan whose pages are the same frames of a file
     * with the same identity (device, inode, size, mtime, ctime) replays
     * them instead of reading (mg_stats.bytes_reused). Anonymous memory,
     * tmpfs and shared memory are read every time. Needs CAP_SYS_ADMIN
     * (frame numbers, /proc/PID/map_files); memory bounded; dropped when
     * the pattern set changes. Needs dedupe. */
    bool incremental;
    /* With incremental: anonymous memory too is read again only where it
     * was written since (the kernel's soft-dirty bits, pagemap bit 55). To
     * know that, the first scan of a process, and every
     * MG_SOFT_DIRTY_SCANS-th after, clears its soft-dirty bits by writing
     * "4" to /proc/PID/clear_refs (page-table state, as the checkpoint tool
     * CRIU does; the process's next write to each page takes a minor
     * fault) and reads it whole; the scans between replay what is still
     * clean. The one write to a target memgrep makes, and only with this
     * set. Don't use it on processes another soft-dirty user (CRIU
     * pre-dumps) tracks: each clears the other's bits. */
    bool soft_dirty;

    uint64_t reserved[5]; /* zero (room for more settings) */
} mg_settings;

/* Fill s (not NULL) with the defaults; -EINVAL if s is NULL. */
MG_API int mg_default_settings(mg_settings *s);

/* Why a sweep ended before its end (mg_stats.stop_reason). */
typedef enum mg_stop_reason {
    MG_STOP_NONE = 0, /* it ran to the end */
    MG_STOP_TIMEOUT, /* mg_settings.timeout ran out */
    MG_STOP_CANCELLED, /* mg_settings.cancel returned non-zero */
    MG_STOP_SINK, /* the sink returned MG_SINK_STOP (memgrep -q) */
} mg_stop_reason;

/* "none", "timeout", "cancelled", "sink"; "unknown" for other values. Static. */
MG_API const char *mg_stop_reason_name(mg_stop_reason reason);

typedef struct mg_stats {
    uint64_t processes_scanned; /* opened and walked */
    uint64_t processes_failed; /* could not be opened at all */
    uint64_t regions_scanned;
    uint64_t regions_skipped; /* special, device, no read permission */
    uint64_t bytes_scanned; /* bytes given to the matcher (owned bytes) */
    uint64_t bytes_read_pvr; /* bytes copied by process_vm_readv */
    uint64_t bytes_read_mem; /* bytes copied from /proc/PID/mem */
    /* mapped but not resident, or only the shared zero page (all zeros;
     * skipped unless a pattern can match zeros alone): never read */
    uint64_t bytes_not_present;

    uint64_t bytes_skipped_noread; /* present or not, in mappings without r */
    uint64_t bytes_skipped_special; /* special and device mappings */
    uint64_t bytes_skipped_changed; /* lost to mappings changing under us */
    uint64_t bytes_deduped; /* shared memory not scanned again (results replayed) */

    uint64_t matches; /* reported to the sink */
    uint64_t rule_matches; /* YARA rules that matched a process (mg_sink.rule) */
    uint64_t events[MG_EVENT_KINDS]; /* per-process failures by kind */
    double elapsed_seconds;
    const char *mem_reader; /* "io_uring" or "pread" (static string) */
    unsigned threads;
    /* Every target was walked to its end (processes cut short by
     * process_timeout or failing are events, not an incomplete sweep);
     * false when the sweep stopped early, and stop_reason says why. */
    bool complete;
    mg_stop_reason stop_reason;

    /* Where each process went. Processes selected (listed, not memgrep,
     * not left out by cgroup/container, neither zombie nor kernel thread)
     * = processes_whole + processes_cut + those failing (at open:
     * processes_failed; later: not whole, not cut) + processes_unreached. */
    uint64_t processes_whole; /* every unit of it was scanned */
    /* units dropped: process_timeout ran out, or the sweep stopped */
    uint64_t processes_cut;
    uint64_t processes_unreached; /* MG_EVENT_UNREACHED: never opened */
    uint64_t processes_zombie; /* exited, not reaped: no memory; skipped */
    uint64_t processes_kthread; /* kernel threads: no user memory; skipped */
    /* Hyperscan callbacks of the main pattern database (literal hits,
     * factor hits of lazy and exact expressions): the matcher's work per
     * byte beside the scan itself */
    uint64_t callbacks;
    /* page-cache bytes unchanged since an earlier scan of the engine, and
     * with soft_dirty anonymous bytes not written since, not read again
     * (results replayed: mg_settings.incremental) */
    uint64_t bytes_reused;
    uint64_t reserved[6]; /* zeroed (room for more statistics) */
} mg_stats;

/* Scan the targets with a compiled pattern set. Returns 0 when the sweep
 * ran (whatever each process did: see stats and the sink's events), or a
 * negative code before anything was scanned (err filled): bad settings,
 * an explicit pid that does not exist, or a resource failure.
 * p: not NULL. s: may be NULL (mg_default_settings); s->pids may be NULL
 * only when s->n_pids is 0. sink, stats, err: may be NULL.
 * A one-shot engine: the same as mg_engine_new, mg_engine_scan with s's
 * target selection, mg_engine_free (a program that sweeps more than once
 * keeps an engine instead). */
MG_API int mg_scan(const mg_patterns *p, const mg_settings *s, const mg_sink *sink, mg_stats *stats,
                   mg_error *err);

/* ------------------------------------------------------------------ */
/* The engine: a reusable scanner                                      */
/* ------------------------------------------------------------------ */

/* An engine owns what every sweep needs and mg_scan would make and free
 * each time: the worker threads (started on the first scan, parked between
 * scans), the shared-page dedupe table (emptied between scans: its records
 * belong to one pattern set and one sweep), with incremental the records
 * kept across scans (bounded; dropped when the pattern set changes), the
 * per-worker buffers and matchers, and the probe of the zero page's frame
 * number (made once).
 * Whether a pattern set matches zeros alone is cached in the mg_patterns.
 *
 * Thread safety: mg_engine_scan may be called from any thread, and from
 * several threads at once on one engine: scans through one engine are
 * serialised (a call waits until the scan before it has returned, then
 * runs). Each scan has its own sink, stats and targets. mg_engine_free
 * must not be called while a scan through the engine is running or
 * waiting. Different engines are independent. A compiled mg_patterns is
 * read-only and may be used by any number of scans at once, through one
 * engine or several. */
typedef struct mg_engine mg_engine;

/* What one scan looks at. */
typedef struct mg_targets {
    const pid_t *pids; /* NULL (with n_pids 0): every process but memgrep */
    size_t n_pids;
    /* only processes under this cgroup path and in a container whose id
     * starts with this (mg_cgroup_selected); NULL or "": no condition */
    const char *cgroup_prefix;
    const char *container_prefix;
    uint64_t reserved[4]; /* zero */
} mg_targets;

/* Make an engine with settings s (may be NULL: mg_default_settings). The
 * settings are checked (as mg_scan does) and copied; their target
 * selection (pids, n_pids, cgroup_prefix, container_prefix) must be empty:
 * it is given per scan. s->cancel is polled by every scan. *out (not
 * NULL) receives the engine. Returns 0 or a negative code (err filled). */
MG_API int mg_engine_new(mg_engine **out, const mg_settings *s, mg_error *err);

/* One sweep, as mg_scan: targets (may be NULL: every process), patterns
 * (not NULL, compiled), sink, stats and err (may be NULL). The settings'
 * timeout counts from this call (from when it starts to run, if it waited
 * for another scan of the engine). Returns 0 when the sweep ran, or a
 * negative code before anything was scanned. */
MG_API int mg_engine_scan(mg_engine *e, const mg_targets *targets, const mg_patterns *p,
                          const mg_sink *sink, mg_stats *stats, mg_error *err);

/* Stop the engine's threads and free it. Accepts NULL and *e NULL; sets
 * *e to NULL. */
MG_API void mg_engine_free(mg_engine **e);

/* Scan a buffer in this process, as if it were one region of a target at
 * address `base`, cut into chunks of chunk_size bytes (any size >= 1; the
 * same chunking, overlap, ownership and folding as mg_scan). Matches name pid 0
 * and a region covering the buffer. Used by tests and for memory dumps.
 * p: not NULL, compiled. buf: may be NULL only when len is 0. base + len
 * must not pass 2^64 (-EINVAL). sink and stats may be NULL. */
MG_API int mg_scan_buffer(const mg_patterns *p, const void *buf, size_t len, uint64_t base,
                          size_t chunk_size, size_t context, const mg_sink *sink, mg_stats *stats);

/* ------------------------------------------------------------------ */
/* Inspecting processes                                                */
/* ------------------------------------------------------------------ */

/* These read the same /proc files as a scan, with the same rules: nothing
 * is written, nothing is attached or stopped, no page that is not present
 * is read, memgrep's own memory is never read. A pid names a process or
 * any of its threads (a thread id means its process). Codes:
 *   MG_EBADPID  pid <= 0, no such pid, a kernel thread (no memory), or
 *               memgrep itself where its memory would be read;
 *   -ESRCH      the process exited (or the pid was reused) during the call;
 *   -EACCES     no permission to read its maps, pagemap or memory;
 *   -EINVAL     a NULL where none is allowed, or a bad range. */

enum {
    MG_PROC_KTHREAD = 1u << 0, /* kernel thread: no user memory */
    MG_PROC_ZOMBIE = 1u << 1, /* exited, not yet reaped (state Z or X) */
    MG_PROC_SELF = 1u << 2, /* memgrep itself: never read */
    /* memgrep may not read its memory: /proc/PID/mem cannot be opened
     * (another user's process without CAP_SYS_PTRACE). Not checked for
     * kernel threads, zombies and memgrep itself. */
    MG_PROC_NOACCESS = 1u << 3,
};

/* One process. The strings are never NULL ("" when unknown or hidden) and
 * live in the block returned with the info (see mg_proc_info_free). */
typedef struct mg_proc_info {
    pid_t pid; /* thread-group id */
    pid_t ppid;
    /* Field 22 of /proc/PID/stat, clock ticks after boot: (pid, starttime)
     * names one process even if the pid is reused later. */
    unsigned long long starttime;
    uid_t uid, euid; /* real and effective, from /proc/PID/status */
    char state; /* R S D T Z ... from /proc/PID/stat */
    unsigned flags; /* MG_PROC_* */
    uint64_t rss; /* resident bytes (/proc/PID/statm) */
    const char *comm; /* /proc/PID/comm without the newline */
    const char *exe; /* readlink of /proc/PID/exe */
    /* The cgroup v2 path (the "0::" line of /proc/PID/cgroup); on a host
     * with v1 only, the name=systemd hierarchy's path, else the first
     * line's. "/" is the root cgroup. */
    const char *cgroup;
    /* The arguments, NUL separators turned into spaces (the kernel reads
     * them from the process's memory, as ps does); "" for kernel threads
     * and zombies. Bytes as they are: may hold any byte but NUL. */
    const char *cmdline;
    uint64_t reserved[4]; /* zeroed (room for more fields) */
} mg_proc_info;

/* Every process (thread groups of /proc, ascending pid), memgrep itself
 * included (flagged MG_PROC_SELF). A process that exits while listing is
 * left out, not an error. *out (not NULL) receives an array of *n (not
 * NULL) infos, freed with mg_proc_info_free. Returns 0 or a negative code
 * (err, may be NULL, filled); on failure *out is NULL and *n 0. */
MG_API int mg_proc_list(mg_proc_info **out, size_t *n, mg_error *err);

/* The pids of every process now (the numeric entries of /proc: thread
 * groups), ascending, memgrep itself included: the listing alone, no
 * process's files read (mg_proc_list reads each one's too). *out (not
 * NULL) receives an array of *n (not NULL) pids, freed with mg_pids_free.
 * Returns 0 or a negative code (-ENOMEM; an errno from opening /proc); on
 * failure *out is NULL and *n 0. */
MG_API int mg_pids_list(pid_t **out, size_t *n);

/* Free what mg_pids_list returned. Accepts NULL and *pids NULL; sets *pids
 * to NULL. */
MG_API void mg_pids_free(pid_t **pids);

/* One process by pid or thread id. *out (not NULL) receives one info,
 * freed with mg_proc_info_free. Returns 0, MG_EBADPID (no such pid),
 * -ESRCH (exited during the call) or another negative code. */
MG_API int mg_proc_get(pid_t pid, mg_proc_info **out, mg_error *err);

/* Free what mg_proc_list or mg_proc_get returned: the array and every
 * string in it. Accepts NULL and *info NULL; sets *info to NULL. */
MG_API void mg_proc_info_free(mg_proc_info **info);

/* One region of a process with what a scan would make of it. */
typedef struct mg_region_info {
    mg_region region; /* region.path lives in the block returned */
    /* Bytes of present pages (pagemap), as a scan finds them: equals the
     * region's Rss in /proc/PID/smaps, except that pages mapping the shared
     * zero page count here (smaps leaves them out) and hugetlb pages count
     * here (smaps shows them apart). Special regions count too ([vdso]'s
     * page, as smaps; they are never read); 0 for [vvar...], [vsyscall]
     * and device regions (smaps says 0 too), and with
     * MG_REGIONS_NO_RESIDENT. */
    uint64_t resident;
    /* A scan reads it: readable, not special or device (mappings without
     * read permission are read only with mg_settings.include_noread). */
    bool scannable;
    uint64_t reserved[4]; /* zeroed (room for more fields) */
} mg_region_info;

/* Flags of mg_regions_get. */
enum {
    MG_REGIONS_NO_RESIDENT = 1u << 0, /* /proc/PID/maps only: resident left 0 */
    MG_REGIONS_PAGEMAP = 1u << 1, /* count with pagemap entries, not the
                                     PAGEMAP_SCAN ioctl (as kernels < 6.7) */
};

/* The regions of a process, in address order (one per line of
 * /proc/PID/maps), with resident bytes. flags: MG_REGIONS_*, unknown bits
 * are -EINVAL. *out (not NULL) receives *n (not NULL) entries in one
 * block, freed with mg_regions_free. Returns 0 or a negative code:
 * MG_EBADPID (also for memgrep itself), -ESRCH for a zombie or a process
 * gone during the call, -EACCES. On failure *out is NULL and *n 0. */
MG_API int mg_regions_get(pid_t pid, unsigned flags, mg_region_info **out, size_t *n,
                          mg_error *err);

/* Free what mg_regions_get returned. Accepts NULL and *list NULL; sets
 * *list to NULL. */
MG_API void mg_regions_free(mg_region_info **list);

/*
 * Copy the present pages of [addr, addr+len) of a process into buf, with
 * the scan's readers and rules: each page's pagemap entry decides;
 * exclusive anon, page-cache and shmem pages are read with
 * process_vm_readv, anon pages shared with another process (after fork,
 * KSM) through /proc/PID/mem, which leaves them shared; pages not present
 * are not read at all (no swap-in, no fault-in).
 *
 * addr and len: page aligned, len > 0, and the range inside one mapping
 * (else -EINVAL); the mapping must be readable and neither special
 * ([vvar], [vdso], [vsyscall]...) nor a device (else -EPERM). buf (not
 * NULL, len bytes) is zeroed first; only pages read in full hold target
 * bytes, and on failure it is all zeros. present (may be NULL; else
 * len / page size bytes) receives one byte per page: 1 if the page was
 * read in full, 0 if it was not present or its read failed (the mapping
 * changed under us; its bytes in buf are zero). pid must not be memgrep
 * itself (MG_EBADPID).
 *
 * Returns the bytes read (a multiple of the page size, 0 if nothing was
 * present) or a negative code (err, may be NULL, filled).
 */
MG_API ssize_t mg_read_present(pid_t pid, uint64_t addr, size_t len, void *buf, uint8_t *present,
                               mg_error *err);

/* ------------------------------------------------------------------ */
/* Findings                                                            */
/* ------------------------------------------------------------------ */

/* Signs of fileless or tampered code that a process shows without a
 * pattern: read from /proc/PID/{maps,status,exe,comm,cmdline} with the
 * inspect API's rules (nothing attached, no memory read). */
typedef enum mg_finding_kind {
    MG_FINDING_MEMFD_EXEC = 0, /* image or executable mapping from a memfd */
    MG_FINDING_DELETED_EXE, /* image or executable mapping of a deleted file (not a memfd) */
    MG_FINDING_ANON_EXEC, /* anonymous executable memory */
    MG_FINDING_RWX, /* a mapping writable and executable at once */
    MG_FINDING_TRACED, /* a thread ptrace-attached (TracerPid) */
    MG_FINDING_MASQUERADE, /* comm or argv[0] "[...]" as a kernel thread's, with user memory */
    /* present private copies of an executable file mapping's pages whose
     * bytes differ from the file's (code patched in memory) */
    MG_FINDING_PATCHED_CODE,
    MG_FINDING_PRELOAD, /* a library of LD_PRELOAD or /etc/ld.so.preload mapped */
} mg_finding_kind;
#define MG_FINDING_KINDS 8

/* "memfd_exec", "deleted_exe", "anon_exec", "rwx", "traced", "masquerade",
 * "patched_code", "preload"; "unknown" for other values. Static. */
MG_API const char *mg_finding_kind_name(mg_finding_kind kind);

typedef enum mg_severity {
    MG_SEVERITY_LOW = 0,
    MG_SEVERITY_MEDIUM,
    MG_SEVERITY_HIGH,
} mg_severity;

/* "low", "medium", "high"; "unknown" for other values. Static. */
MG_API const char *mg_severity_name(mg_severity severity);

/* patched_code: one run of bytes of a private copy that differ from the
 * mapped file: target addresses [start, end), the file offset of start. */
typedef struct mg_patch {
    uint64_t start, end;
    uint64_t offset;
    const char *path; /* the mapped file (maps' path) */
} mg_patch;

/* The most patches a finding lists (patched_code: n_patches); the rest
 * are only counted (patches_total). */
#define MG_MAX_PATCHES 256u

/* preload: a library mapped in the process that a preload list names. */
typedef struct mg_preload {
    const char *path; /* the mapping's path */
    const char *source; /* "LD_PRELOAD" or "/etc/ld.so.preload" */
} mg_preload;

/* One finding: at most one per kind and process. The strings are never
 * NULL ("" when not known or not relevant) and live in the block returned. */
typedef struct mg_finding {
    mg_finding_kind kind;
    mg_severity severity;
    pid_t pid;
    const char *comm; /* /proc/PID/comm */
    const char *exe; /* readlink of /proc/PID/exe, " (deleted)" kept */
    /* memfd_exec, deleted_exe: the image itself (exe) is the memfd or the
     * deleted file. */
    bool image;
    /* memfd_exec, deleted_exe, anon_exec, rwx: the mappings that have it
     * (0 when only the image does), their total size and the first of them
     * (first.path in the block; all zero when regions is 0). */
    size_t regions;
    uint64_t bytes;
    mg_region first;
    /* anon_exec, rwx, memfd_exec of mappings: the JIT runtime that explains
     * it ("java", "node", "python3"...: the exe's basename or a runtime
     * library mapped), then severity low; "" if none. */
    const char *runtime;
    /* traced: the tracer's pid and comm ("" if it is gone), and the thread
     * it is attached to (the first traced one: pid itself, or another
     * thread of the process). */
    pid_t tracer, traced_tid;
    const char *tracer_comm;
    /* masquerade: argv[0] ("" if none); the comm is above. */
    const char *argv0;
    /* patched_code: the mappings (regions, first) with private copies that
     * differ, bytes of those copies (a page each), and the differing runs
     * in address order (n_patches <= MG_MAX_PATCHES of patches_total), in
     * the block. textrel: a file with differing copies asks the loader to
     * relocate its text (DT_TEXTREL), which explains patches (severity
     * low). file_read: how the file was read, "direct" (O_DIRECT: no page
     * cache filled), "cached" (its pages were cached already: preadv2
     * RWF_NOWAIT) or "buffered" (read, then those pages dropped again:
     * POSIX_FADV_DONTNEED); "" for other kinds. Pages not present in the
     * target are never read. */
    const mg_patch *patches;
    size_t n_patches, patches_total;
    bool textrel;
    const char *file_read;
    /* preload: the libraries mapped that a preload list names, in the block. */
    const mg_preload *preloads;
    size_t n_preloads;
} mg_finding;

/* The findings of one process, in mg_finding_kind order. *out (not NULL)
 * receives *n (not NULL, 0 for a clean process) entries in one block,
 * freed with mg_findings_free. Everything read belongs to the one process
 * (its start time is checked after the last read). Returns 0 or a negative
 * code (mg_regions_get's): MG_EBADPID (no such pid, a kernel thread,
 * memgrep itself), -ESRCH (a zombie, or gone during the call), -EACCES.
 * On failure *out is NULL and *n 0. */
MG_API int mg_findings_get(pid_t pid, mg_finding **out, size_t *n, mg_error *err);

/* Free what mg_findings_get returned. Accepts NULL and *list NULL; sets
 * *list to NULL. */
MG_API void mg_findings_free(mg_finding **list);

/* ------------------------------------------------------------------ */
/* Containers                                                          */
/* ------------------------------------------------------------------ */

/* The container a cgroup path belongs to. */
typedef struct mg_container {
    char id[MG_CONTAINER_ID_LEN + 1]; /* lower-case hex, NUL-terminated */
    /* "docker", "containerd", "cri-o", "podman", or "kubepods" (a pod's
     * container whose runtime the path does not name). Static. */
    const char *runtime;
} mg_container;

/*
 * Recognise the container of a cgroup path (mg_proc_info.cgroup), under the
 * systemd and the cgroupfs cgroup drivers of each runtime. The innermost
 * component that names a container decides:
 *   docker-ID.scope                  docker (systemd driver)
 *   /docker/ID                       docker (cgroupfs)
 *   cri-containerd-ID.scope          containerd (Kubernetes, systemd)
 *   nerdctl-ID.scope                 containerd (nerdctl, systemd)
 *   crio-ID.scope, crio-ID           cri-o (systemd, cgroupfs)
 *   libpod-ID.scope, libpod-ID       podman (systemd, cgroupfs)
 *   .../kubepods.../podUID/ID        kubepods (cgroupfs: runtime not named)
 *   /libpod_parent/ID                podman (cgroupfs, older)
 *   /NAMESPACE/ID                    containerd (cgroupfs, e.g. /default/ID)
 * ID is 64 hex digits. Monitors (crio-conmon-ID, libpod-conmon-ID) are not
 * containers. Returns 1 and fills out, 0 if the path names no container
 * (out->id "" and out->runtime NULL), -EINVAL if an argument is NULL.
 */
MG_API int mg_container_of(const char *cgroup, mg_container *out);

/* Whether a process with this cgroup path is selected by a cgroup prefix
 * (the path equals it or lies below it: "/system.slice" selects
 * "/system.slice/x.scope", not "/system.slicex"; a trailing '/' is
 * ignored) and a container id prefix (the container's id starts with it,
 * case-insensitively). A NULL or "" condition holds for every process;
 * a NULL or "" cgroup (unknown) is selected by no prefix, not even "/". */
MG_API bool mg_cgroup_selected(const char *cgroup, const char *cgroup_prefix,
                               const char *container_prefix);

/* ------------------------------------------------------------------ */
/* Strings                                                             */
/* ------------------------------------------------------------------ */

/* Flags of mg_strings. */
enum {
    MG_STRINGS_WIDE = 1u << 0, /* also UTF-16LE runs */
};

/* One run of printable characters. */
typedef struct mg_string {
    uint64_t address; /* where the run starts in the target */
    const char *text; /* the characters (for a wide run, one byte per
                         UTF-16 unit), NUL-terminated; valid during the
                         callback only */
    size_t len; /* characters; the run covers len (or 2 * len, wide) bytes */
    bool wide;
} mg_string;

/*
 * The printable runs of [start, end) of a process, as GNU `strings -a -n
 * MIN` finds them in a dump of the range: maximal runs of at least min
 * bytes from 0x20-0x7e and tab; with MG_STRINGS_WIDE also maximal runs of
 * at least min such characters each followed by a zero byte (UTF-16LE, as
 * `strings -el`, at any alignment). Present pages only, read with
 * mg_read_present's rules MG_STRINGS_CHUNK bytes at a time: a run that
 * straddles chunks is reported once, whole; no run crosses a page that is
 * not present (or whose read failed) or the end of the range. Memory: one
 * chunk plus the longest run.
 *
 * start and end: page aligned, start < end, inside one readable mapping
 * that is not special or a device (else -EINVAL / -EPERM, as
 * mg_read_present). min >= 1. fn (not NULL) is called once per run: 8-bit
 * runs in address order, each wide run when it ends; it returns 0 to go
 * on, or a positive value to stop, which mg_strings returns (a negative
 * value stops too, and mg_strings returns -ECANCELED: negative values are
 * the library's codes). Returns 0, fn's positive value, or a negative code
 * (err, may be NULL, filled). Runs reported before a failure stay
 * reported.
 */
MG_API int mg_strings(pid_t pid, uint64_t start, uint64_t end, size_t min, unsigned flags,
                      int (*fn)(void *ctx, const mg_string *s), void *ctx, mg_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEMGREP_MEMGREP_H */
