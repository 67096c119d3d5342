/* helpers.h - shared by the Criterion tests: fixture processes, a collecting
 * sink, exact-set comparison of matches, /proc readers. */
#ifndef MG_TESTS_HELPERS_H
#define MG_TESTS_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"

/* Skip the current test unless we may read other processes' memory. */
void need_root(void);

/* 16 random lowercase hex digits + NUL. */
void random_token(char out[17]);

/* A pid that does not exist now: a child of ours, exited and reaped. */
pid_t dead_pid(void);
/* A child of ours that has exited and is not reaped yet (a zombie): the
 * caller reaps it (waitpid). */
pid_t zombie_child(void);

/* ---- fixture processes (tests/targets/fixture.c) ---- */

typedef struct plant {
    char name[32];
    uint64_t addr;
    uint64_t len;
    char kind[16]; /* plain noread wide upper hex regex */
    char extra[64];
} plant;

typedef struct fixture {
    pid_t pid;
    pid_t tid; /* the fixture's second thread */
    pid_t child; /* --fork: the forked child, else 0 */
    int stdin_fd; /* closing it makes the fixture exit */
    char token[17];
    plant plants[96];
    size_t n_plants;
    struct {
        char what[32];
        uint64_t addr, len;
    } infos[16];
    size_t n_infos;
} fixture;

/* Start tests/fixture (path in $MG_FIXTURE) with a fresh token and the
 * extra arguments (NULL-terminated, may be NULL); wait for READY. Fails the
 * test on any problem. */
void fixture_start(fixture *f, const char *const *extra_args);
/* Kill and reap (no-op if not started). */
void fixture_stop(fixture *f);
/* The marker text for a plant name: malloc'd, NUL-terminated. */
char *fixture_marker(const fixture *f, const char *name);
/* INFO line by name: address (0 if absent), *len set. */
uint64_t fixture_info(const fixture *f, const char *what, uint64_t *len);
const plant *fixture_plant_at(const fixture *f, uint64_t addr);

/* ---- patterns ---- */

/* A new, empty pattern set, or fail the test. */
mg_patterns *patterns_new(void);
/* Add a pattern or fail the test; returns the id. */
unsigned add_pattern(mg_patterns *p, mg_pattern_kind kind, const char *text, size_t len,
                     unsigned flags);
void compile_patterns(mg_patterns *p);

/* One literal pattern per distinct plant name whose kind is in `kinds`
 * (comma-separated, e.g. "plain,noread"), in plant order, with flags.
 * names[i] gets the name of the i-th pattern added (id = count before + i).
 * Returns the number added. */
size_t add_plant_literals(mg_patterns *p, const fixture *f, const char *kinds, unsigned flags,
                          char names[][32], size_t max);

/* ---- collected matches ---- */

typedef struct hit {
    pid_t pid;
    uint64_t addr;
    uint64_t len;
    unsigned pattern_id;
    bool wide;
    uint8_t *data; /* before + len + after bytes */
    size_t before, after;
    uint64_t region_start, region_end; /* 0 if no region */
    mg_region_kind region_kind;
    char perms[5];
} hit;

typedef struct collector {
    hit *hits;
    size_t n, cap;
    int reply; /* what the match callback returns */
    pid_t reply_pid; /* non-zero: reply that to this process's matches only
                        (MG_SINK_CONTINUE to the others) */
    unsigned delay_ms; /* sleep in each match callback: lets other workers'
                          matches queue up behind the sink */
    uint64_t events[MG_EVENT_KINDS];
    /* the process and kind of the first 64 events only (events[] counts
     * them all): a sweep of every process can have more */
    pid_t event_pids[64];
    mg_event_kind event_kinds[64]; /* the kind of each event_pids entry */
    size_t n_event_pids;
} collector;

mg_sink collector_sink(collector *c);
void collector_free(collector *c);

/* An expected match. */
typedef struct want {
    pid_t pid;
    uint64_t addr;
    uint64_t len;
    unsigned pattern_id;
    bool wide;
} want;

/* Append to w (capacity max) one want per plant of f whose kind is in
 * `kinds` and whose name is names[id] for some id < n_names. Wide plants
 * expect wide = true. Returns the new count. */
size_t want_plants(want *w, size_t n, size_t max, const fixture *f, pid_t pid, const char *kinds,
                   char names[][32], size_t n_names);

/* Fail the test unless the collected hits are exactly `w` as a set, with no
 * hit reported twice; the message lists what was missed, extra and
 * duplicated. */
void assert_exact_hits(const collector *c, const want *w, size_t n, const char *what);

/* ---- /proc ---- */

/* Whether pid is this process or a descendant of it (a fixture, a memgrep
 * the test ran, their children), by the PPid chain; false once it is gone.
 * On a shared machine other programs (another developer's sweep, a scanner
 * under test) read our fixtures and hold copies of their markers: a match
 * in a process that is not ours is such a copy, legitimately found. */
bool proc_is_ours(pid_t pid);
/* pid's comm (without its newline) into out; "?" if gone. */
void proc_comm(pid_t pid, char *out, size_t size);
/* Log such a match (pid, comm and exe) as a copy held by another program. */
void log_foreign_match(pid_t pid, uint64_t addr, const char *what);
/* "Key:   123 kB" from /proc/PID/FILE, in kB; -1 if absent. */
long proc_kb(pid_t pid, const char *file, const char *key);
/* pread /proc/PID/mem; returns bytes read or -errno. */
ssize_t read_mem(pid_t pid, uint64_t addr, void *buf, size_t len);
/* The run of present pages around addr (pagemap bit 63), within
 * [lo, hi), returned in run_start and run_end (an empty run at addr's page
 * if that page is not present). Returns 0 or -errno. */
int present_run(pid_t pid, uint64_t addr, uint64_t lo, uint64_t hi, uint64_t *run_start,
                uint64_t *run_end);
/* Bytes of present pages in [start, end) (page aligned) that the engine
 * must read through /proc/PID/mem (anon pages not exclusively this
 * process's: shared after fork) and with process_vm_readv (exclusive anon,
 * page cache, shmem), from pagemap: the rule of docs/design.md, written
 * out here again so that a test does not take it from the engine. Adds to
 * *mem and *pvr; returns 0 or -errno. */
int classify_pages(pid_t pid, uint64_t start, uint64_t end, uint64_t *mem, uint64_t *pvr);
/* The pagemap entries of [start, end) (page aligned) into out (one per
 * page; the caller frees). Returns the page count, or -errno. */
ssize_t pagemap_entries(pid_t pid, uint64_t start, uint64_t end, uint64_t **out);
/* Call fn with the pagemap entries of each region of pid that a scan reads
 * (readable; neither special nor device mappings), in order. */
typedef void (*region_pages_fn)(void *ctx, const mg_region *r, const uint64_t *pm, size_t np);
void each_scanned_region(pid_t pid, region_pages_fn fn, void *ctx);

/* What a read fault on a private anonymous page maps on this kernel, told
 * from two pages of ours that were read, never written, without the
 * engine: by /proc/kpageflags (KPF_ZERO_PAGE) where it can be read, else by
 * both pages sharing one frame. *pfn: the zero page's frame, 0 unless
 * ZERO_SHARED. */
typedef enum zero_case {
    ZERO_HIDDEN, /* pagemap hides frame numbers (no CAP_SYS_ADMIN) */
    ZERO_SHARED, /* the shared zero page */
    ZERO_FRESH, /* a fresh zeroed page each (pvm_no_zero_page=1, some guests) */
} zero_case;
zero_case zero_page_case(uint64_t *pfn);
/* One phrase for a test's log line. */
const char *zero_case_text(zero_case zc);

/* ---- residency modes ---- */

/* The residency mode settings_for() puts in every mg_settings: a test runs
 * once with each (RESIDENCY_TESTS), so the pagemap-entries fallback of
 * kernels before 6.7 is tested on new kernels too. */
extern mg_residency residency_mode;

/* Test(suite, name) running fn() with MG_RESIDENCY_AUTO, and
 * Test(suite, name_pagemap) running it with MG_RESIDENCY_PAGEMAP. */
#define RESIDENCY_TESTS(suite, name, fn)                                                           \
    Test(suite, name)                                                                              \
    {                                                                                              \
        residency_mode = MG_RESIDENCY_AUTO;                                                        \
        fn();                                                                                      \
    }                                                                                              \
    Test(suite, name##_pagemap)                                                                    \
    {                                                                                              \
        residency_mode = MG_RESIDENCY_PAGEMAP;                                                     \
        fn();                                                                                      \
    }

/* From now on, io_uring_setup, io_uring_enter and io_uring_register fail
 * with EPERM in this process, its threads and the children it starts after
 * (a seccomp filter, as kernel.io_uring_disabled=2 would make them fail,
 * for this test only). Fails the test if the filter can't be installed. */
void refuse_io_uring(void);

/* From now on, open(O_TMPFILE) fails with EOPNOTSUPP in this process, its
 * threads and the children it starts after (a seccomp filter: a file
 * system without O_TMPFILE, for this test only). */
void refuse_o_tmpfile(void);

/* ---- build artifacts run as another uid ---- */

/* Copies of build artifacts for a child that drops root (to uid 65534)
 * before it runs them: the build tree of a clone in a directory mode 0700
 * (`git clone ... "$(mktemp -d)/p"`, as CI does) is closed to that uid, and
 * its exec, or memgrep's loading of libmemgrep, fails with 127. The copies
 * are in a new directory of /tmp, mode 0755, each at its path under the
 * build root ($MG_BUILD_ROOT), with libmemgrep ($MG_LIBMEMGREP) where
 * memgrep's RUNPATH, $ORIGIN/../engine, finds it. */
typedef struct build_copies {
    char dir[32]; /* "" until the first copy */
} build_copies;
/* The copy in c of path, a file under the build root, made unless it is
 * there (the directory and libmemgrep's copy with the first): malloc'd.
 * Fails the test on any problem. */
char *build_copy(build_copies *c, const char *path);
/* Remove c's directory with all in it (no-op if there is none); c is empty
 * again. */
void build_copies_remove(build_copies *c);

/* Remove the directory tree at path, not following links. Returns 0, or
 * -1 where it stopped at something it could not remove. */
int remove_tree(const char *path);

/* MG_TEST_TIMEOUT_SCALE (tests/lib/timeout_scale.c) as a number >= 1, for a
 * test's own watchdogs: 1 if unset or not a number above 1. */
double test_timeout_scale(void);

/* settings with the fixture's pid(s) and residency_mode. */
void settings_for(mg_settings *s, const pid_t *pids, size_t n);
/* One scan of pids[0..n) through engine e into c (collector_sink): fails
 * the test unless it ran, the sink got stats.matches and none failed. */
mg_stats engine_run(mg_engine *e, const pid_t *pids, size_t n, const mg_patterns *p, collector *c);

/* Read out_fd and err_fd (either may be -1) to EOF into NUL-terminated
 * malloc'd buffers (never NULL), closing them, then reap pid; fails the test
 * if nothing comes for 90 s. Returns pid's wait status. */
int child_collect(pid_t pid, int out_fd, int err_fd, char **out, size_t *out_len, char **err,
                  size_t *err_len);

/* ---- memgrep as a child, its stdout and stderr read as they come ---- */

typedef struct memgrep_proc {
    pid_t pid;
    int fd[2]; /* stdout, stderr; -1 once closed */
    char *buf[2]; /* NUL-terminated */
    size_t len[2], cap[2];
} memgrep_proc;

/* Start argv (NULL-terminated, argv[0] a path), stdin /dev/null, signals
 * as a shell would leave them. */
void prog_spawn(memgrep_proc *p, const char *const *argv);
/* Start $MEMGREP ARGS... (NULL-terminated; `scan` gets --db-cache
 * $MG_DB_CACHE) as prog_spawn does. */
void memgrep_spawn(memgrep_proc *p, const char *const *args);
/* Read what is there (waiting up to ms); false once both pipes are closed. */
bool memgrep_pump(memgrep_proc *p, int ms);
/* Read to the end and reap (it must exit, not die, within max_seconds);
 * returns the exit status. */
int memgrep_finish(memgrep_proc *p, double max_seconds);
void memgrep_proc_free(memgrep_proc *p);

/* A program run to its end (prog_spawn, then memgrep_finish within 90 s
 * times MG_TEST_TIMEOUT_SCALE): exit status, pid, stdout and stderr. */
typedef struct prog_result {
    int status;
    pid_t pid;
    char *out, *err; /* NUL-terminated */
    size_t out_len, err_len;
} prog_result;
prog_result prog_run(const char *const *argv);
prog_result memgrep_run(const char *const *args); /* memgrep_spawn's ARGS */
void prog_result_free(prog_result *r);

/* JSON Lines: every line of s (len bytes, ending in a newline unless
 * empty) one JSON object, else the test fails naming the line. */
typedef struct jlines {
    struct jval *v;
    size_t n;
} jlines;
jlines jlines_parse(const char *s, size_t len);
void jlines_free(jlines *l);

/* A directory dump's DIR/manifest.json (dump -o DIR, --dump-findings):
 * mode 0600, one JSON object on one line, else the test fails; parsed
 * (json_free it). */
struct jval read_manifest(const char *dir);
/* sha256sum's digest of file: 64 hex digits (malloc'd). */
char *sha256sum(const char *file);

#endif
