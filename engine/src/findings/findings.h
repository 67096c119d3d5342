/* findings.h - the findings of a process (mg_finding) made of what its
 * caller read of it: mg_findings_get (inspect/findings.c) and the sweep's
 * targets (sweep/target.c) alike. The kinds that read more have files of
 * their own: patched_code (patched.c), preload (preload.c); make.c grades
 * and packs them. Internal. */
#ifndef MG_FINDINGS_H
#define MG_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"
#include "os/procs.h"

/* How a mapped file was read to compare it (mg_finding.file_read), least
 * intrusive first. */
typedef enum mg_file_read {
    MG_FILE_READ_DIRECT = 0,
    MG_FILE_READ_CACHED,
    MG_FILE_READ_BUFFERED,
} mg_file_read;

/* What patched_code found: patches (malloc'd, MG_MAX_PATCHES entries of
 * room) whose paths point into the region list it was given. */
typedef struct mg_patched {
    size_t regions;
    uint64_t bytes;
    mg_region first;
    mg_patch *patches;
    size_t n_patches, patches_total;
    bool textrel;
    mg_file_read how;
} mg_patched;

/* Runs [start, end) of present pages that are private copies (not page
 * cache) in private code mappings (mg_private_code), in address order,
 * each inside one mapping. */
typedef struct mg_copies {
    uint64_t (*runs)[2];
    size_t n, cap;
} mg_copies;

/* Append a run: 0 or -ENOMEM. */
int mg_copies_add(mg_copies *c, uint64_t start, uint64_t end);
void mg_copies_free(mg_copies *c);

/* A private file mapping readable and executable: what patched_code
 * compares with its file. */
bool mg_private_code(const mg_region *r);

/* Compare the private copies of pid's (a thread group id) executable
 * private file mappings in rs with their files: the copies walked already
 * (walked, by a sweep's planner), or, walked NULL, found here through
 * pagemap_fd (pid's /proc/PID/pagemap). A copy is read if pagemap shows it
 * present still: by process_vm_readv, or through mem_fd (its
 * /proc/PID/mem, -1 if none: such a page is not compared) where a copy is
 * shared after fork. The caller checks afterwards that pid is still the
 * process it read. Returns 0 (then mg_patched_free) or a negative code with
 * err filled. */
int mg_patched_find(pid_t pid, const mg_region *rs, size_t n, int pagemap_fd, int mem_fd,
                    const mg_copies *walked, mg_patched *out, mg_error *err);
void mg_patched_free(mg_patched *p);

/* "direct", "cached", "buffered". */
const char *mg_file_read_name(mg_file_read how);

/* /etc/ld.so.preload under pid's root: its text, malloc'd; NULL if none
 * (or unreadable). */
char *mg_preload_file(pid_t pid);

/* The libraries of a process's preload lists (LD_PRELOAD of its
 * environment env, env_len bytes as /proc/PID/environ shows it,
 * NUL-terminated, NULL: not known; then file, the text of its
 * /etc/ld.so.preload, NULL: none) that are mapped in rs: *out (malloc'd,
 * paths into rs, sources static) and *n. Returns 0 or -ENOMEM. */
int mg_preload_find(const char *env, size_t env_len, const char *file, const mg_region *rs,
                    size_t n, mg_preload **out, size_t *n_out);

/* Pages of arguments and environment read at once by mg_read_args_env. */
#define MG_ARGS_ENV_PAGES 64

/* argv[0] (malloc'd; "" if it cannot be read) and the environment (*env
 * malloc'd and NUL-terminated, *env_len its bytes, as /proc/PID/environ;
 * NULL if it cannot be read) of pid, whose stat st says where they lie and
 * whose pagemap is open (pagemap_fd). Only present pages are read: the
 * two together from its memory (process_vm_readv) when they lie together,
 * every page present, in MG_ARGS_ENV_PAGES pages; else /proc/PID/cmdline
 * and /proc/PID/environ, each if its pages are present. The caller checks
 * afterwards that pid is still the process st describes. Returns 0 or
 * -ENOMEM. */
int mg_read_args_env(pid_t pid, const mg_proc_stat *st, int pagemap_fd, char **argv0, char **env,
                     size_t *env_len);

/* Bytes of [arg_start, env_end) where the arguments and the environment
 * lie together (the environment after them) in MG_ARGS_ENV_PAGES pages:
 * what mg_read_args_env reads at once; else 0. */
size_t mg_args_env_span(const mg_proc_stat *st);

/* argv[0] and the environment as mg_read_args_env gives them, from block:
 * the mg_args_env_span(st) bytes from arg_start, read already (a sweep's
 * units). Returns 0 or -ENOMEM. */
int mg_args_env_split(const mg_proc_stat *st, const char *block, char **argv0, char **env,
                      size_t *env_len);

/* What a sweep reads of a process beside its stat and maps, between its
 * pin and the pin's check (so none of its own): the tracer
 * (mg_read_tracer) and /etc/ld.so.preload under its root. */
typedef struct mg_findings_pre {
    int rc; /* 0, or mg_read_tracer's negative errno */
    pid_t tracer, traced_tid;
    char tracer_comm[64];
    char *ld_so_preload; /* malloc'd text; NULL: none */
} mg_findings_pre;

/* Read pre of pid (a failed status read: pre->rc). */
void mg_findings_pre_read(pid_t pid, mg_findings_pre *pre);
void mg_findings_pre_free(mg_findings_pre *pre);

/* What a finding is made of that its caller has read already (a sweep's
 * target, or mg_findings_get): the process (thread-group id, comm, exe,
 * its stat), its maps, its open pagemap and mem (-1: none), the private
 * copies of its code if a walk found them (NULL: found here), its tracer
 * and /etc/ld.so.preload (NULL: read here), its arguments and environment
 * (the mg_args_env_span bytes from arg_start; NULL: read here). */
typedef struct mg_findings_src {
    pid_t pid;
    const char *comm, *exe;
    const mg_proc_stat *st;
    const mg_region *regions;
    size_t n_regions;
    int pagemap_fd, mem_fd;
    const mg_copies *copies;
    const mg_findings_pre *pre;
    const char *args_env;
} mg_findings_src;

/* The findings of src, reading only what it does not hold: the tracer
 * (/proc/PID/task), argv[0], the preload lists, and the copies of code
 * pages against their files. *by_pid: it read the process by pid number
 * (anything src does not hold, or a copy of code): then the caller checks
 * afterwards that the process is still the one src describes. *out and *n
 * as mg_findings_get's. */
int mg_findings_make(const mg_findings_src *src, mg_finding **out, size_t *n, bool *by_pid,
                     mg_error *err);

#endif
